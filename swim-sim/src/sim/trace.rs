//! The trace: a hash of one binary record per membership event (time,
//! observer, kind, subject, incarnation) and one line per fault, optionally
//! kept as text lines; and the recording of every event a core emits, which
//! also feeds the views and the measurements.

use super::network::node_index;
use super::views::{V_ALIVE, V_DEAD, V_SUSPECT};
use super::Sim;
use std::fmt::Write as _;
use swim_core::{Event, State};

/// A 64-bit FNV-1a hash (bytes), with a word-wide step for binary records.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fnv(pub(super) u64);

impl Fnv {
    pub(super) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    /// Mixes in a whole word (FNV-1a's step, a word wide).
    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Sim {
    /// The hash of the trace so far: one record per membership event (time,
    /// observer, kind, subject, incarnation) and one line per fault.
    pub fn trace_hash(&self) -> u64 {
        self.hash.0
    }

    /// Keeps the trace lines in memory from now on (for debugging and diffs).
    pub fn record_trace(&mut self) {
        self.trace_lines.get_or_insert_with(Vec::new);
    }

    /// The trace lines kept since [`record_trace`](Self::record_trace).
    pub fn trace_lines(&self) -> &[String] {
        self.trace_lines.as_deref().unwrap_or(&[])
    }

    pub(super) fn trace(&mut self, args: std::fmt::Arguments<'_>) {
        self.line.clear();
        let _ = write!(self.line, "{} ", self.now.as_nanos());
        let _ = self.line.write_fmt(args);
        self.line.push('\n');
        self.hash.write(self.line.as_bytes());
        if let Some(lines) = &mut self.trace_lines {
            lines.push(self.line.trim_end().to_string());
        }
    }

    pub(super) fn record_event(&mut self, o: usize, e: Event) {
        self.counters.events += 1;
        const KINDS: [&str; 7] = ["join", "dead", "left", "suspect", "alive", "update", "other"];
        let (code, node) = match &e {
            Event::Join(n) => (0, n),
            Event::Leave(n) if n.state == State::Dead => (1, n),
            Event::Leave(n) => (2, n),
            Event::Suspect(n) => (3, n),
            Event::Alive(n) => (4, n),
            Event::Update(n) => (5, n),
            _ => (6, e.node()),
        };
        let kind = KINDS[code];
        // Hashed in binary, a word at a time (formatting 10^8 join lines
        // would dominate a large bootstrap); formatted only when recorded.
        self.hash.word(self.now.as_nanos());
        self.hash.word((o as u64) << 32 | u64::from(node.incarnation));
        self.hash.word(code as u64);
        self.hash.write(node.id.as_str().as_bytes());
        if let Some(lines) = &mut self.trace_lines {
            lines.push(format!("{} n{o} {kind} {} {}", self.now.as_nanos(), node.id, node.incarnation));
        }
        let Some(s) = node_index(node.addr).filter(|&s| s < self.nodes.len()) else { return };
        let inc = node.incarnation;
        let now = self.now();
        let subject_running = matches!(kind, "suspect" | "dead")
            && self.nodes[s].running()
            && self.nodes[s].swim.as_ref().is_some_and(|sw| inc >= sw.incarnation());
        let subject_healthy = subject_running && self.nodes[s].healthy();
        match kind {
            "join" | "alive" | "update" => {
                self.views.set(o, s, V_ALIVE);
                self.check_join(s);
            }
            "suspect" => {
                self.views.set(o, s, V_SUSPECT);
                self.counters.suspicions += 1;
                if subject_running {
                    self.counters.false_suspicions += 1;
                }
                if subject_healthy {
                    self.counters.false_suspicions_healthy += 1;
                }
                if let Some(c) = self.nodes[s].crash_record {
                    self.crash_observed(c, o, now, false);
                }
            }
            "dead" | "left" => {
                self.views.set(o, s, V_DEAD);
                if kind == "dead" {
                    self.counters.deaths += 1;
                    if subject_running {
                        self.counters.false_deaths += 1;
                    }
                    if subject_healthy {
                        self.counters.false_deaths_healthy += 1;
                    }
                    if let Some(c) = self.nodes[s].crash_record {
                        self.crash_observed(c, o, now, true);
                    }
                }
            }
            _ => {}
        }
    }
}
