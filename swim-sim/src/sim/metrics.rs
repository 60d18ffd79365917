//! The measurements: counters, crash and pause records (suspected and dead
//! per observer), join and broadcast records, the timeline of the views, and
//! the [`Report`] built from them.

use super::views::{V_ALIVE, V_SUSPECT};
use super::Sim;
use crate::report::{BroadcastRecord, Counters, CrashRecord, JoinRecord, Report, Sample};
use std::time::Duration;
use swim_core::Instant;

impl Sim {
    /// The timeline, one sample per `sample_every` (default: a protocol period).
    pub fn timeline(&self) -> &[Sample] {
        &self.timeline
    }

    /// Samples the timeline every `every` from now on.
    pub fn set_sample_interval(&mut self, every: Duration) {
        self.sample_every = every.max(Duration::from_millis(1));
        self.next_sample = self.now;
    }

    /// The counters since the last [`reset_measurements`](Self::reset_measurements).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The crash and pause records.
    pub fn crashes(&self) -> &[CrashRecord] {
        &self.crashes
    }

    /// The join and restart records.
    pub fn joins(&self) -> &[JoinRecord] {
        &self.joins
    }

    /// The tracked broadcasts.
    pub fn broadcasts(&self) -> Vec<BroadcastRecord> {
        self.broadcasts.iter().map(|(b, _)| b.clone()).collect()
    }

    /// Broadcast `k`'s record (see [`broadcast`](Self::broadcast)), without
    /// copying them all.
    pub fn broadcast_record(&self, k: usize) -> Option<&BroadcastRecord> {
        self.broadcasts.get(k).map(|(b, _)| b)
    }

    /// Forgets the counters and records so far; load is measured from now.
    pub fn reset_measurements(&mut self) {
        self.counters = Counters::default();
        self.crashes.clear();
        self.crash_seen.clear();
        self.joins.clear();
        self.broadcasts.clear();
        self.broadcast_keys.clear();
        for n in &mut self.nodes {
            n.crash_record = None;
            n.join_record = None;
        }
        self.measure_start = self.now;
        self.node_time = 0;
        self.refutes_base = self.total_refutes();
    }

    fn total_refutes(&self) -> u64 {
        self.nodes.iter().filter_map(|n| n.swim.as_ref()).map(|s| s.metrics().refutes).sum()
    }

    /// Everything measured since the last reset.
    pub fn report(&self) -> Report {
        let measured = self.now.saturating_duration_since(self.measure_start);
        let node_periods = self.node_time as f64 / self.config.protocol_interval.as_nanos() as f64;
        let c = &self.counters;
        let per = |x: u64| if node_periods > 0.0 { x as f64 / node_periods } else { 0.0 };
        Report {
            seed: self.seed,
            nodes: self.nodes.len(),
            interval: self.config.protocol_interval,
            measured,
            counters: c.clone(),
            crashes: self.crashes.clone(),
            joins: self.joins.clone(),
            broadcasts: self.broadcasts(),
            msgs_per_node_period: per(c.datagrams_sent),
            bytes_per_node_period: per(c.datagram_bytes + c.stream_bytes),
            refutes: self.total_refutes().saturating_sub(self.refutes_base),
            member_table_bytes_per_node: {
                let up: Vec<usize> = self
                    .nodes
                    .iter()
                    .filter(|n| n.running())
                    .filter_map(|n| n.swim.as_ref())
                    .map(|s| s.member_table_bytes())
                    .collect();
                up.iter().sum::<usize>() as f64 / up.len().max(1) as f64
            },
            trace_hash: self.hash.0,
        }
    }

    pub(super) fn sample_at(&mut self, t: Instant) {
        self.advance(t);
        let mut sum = [0u64; 3];
        let mut k = 0u64;
        for (o, n) in self.nodes.iter().enumerate() {
            if n.running() {
                k += 1;
                for (s, c) in sum.iter_mut().zip(self.views.counts[o]) {
                    *s += c as u64;
                }
            }
        }
        let avg = |x: u64| if k == 0 { 0.0 } else { x as f64 / k as f64 };
        self.timeline.push(Sample {
            t: t.since_epoch(),
            running: self.running as u32,
            alive: if k == 0 { 0.0 } else { avg(sum[0]) + 1.0 },
            suspect: avg(sum[1]),
            dead: avg(sum[2]),
        });
        self.next_sample = t + self.sample_every;
    }

    /// Closes `s`'s join record if every running node now sees it live.
    pub(super) fn check_join(&mut self, s: usize) {
        // The dense count first: at 10,000 nodes, reading the node's slot
        // for each of the 10^8 join events of a warm start is a cache miss.
        if (self.views.seen_live[s] as usize) + 1 < self.running {
            return;
        }
        let Some(j) = self.nodes[s].join_record else { return };
        if !self.nodes[s].running() {
            return;
        }
        let all = (0..self.nodes.len()).filter(|&o| o != s && self.nodes[o].running()).all(|o| {
            let v = self.views.get(o, s);
            v == V_ALIVE || v == V_SUSPECT
        });
        if all {
            let now = self.now();
            let rec = &mut self.joins[j];
            rec.converged = Some(now.saturating_sub(rec.at));
            rec.incarnation_after = self.nodes[s].swim.as_ref().map(|sw| sw.incarnation());
            self.nodes[s].join_record = None;
        }
    }

    /// Starts tracking a broadcast from node `i` now; returns its index in
    /// [`broadcasts`](Self::broadcasts), or `None` if the node is not running.
    pub fn broadcast(&mut self, i: usize) -> Option<usize> {
        if !self.is_running(i) {
            return None;
        }
        let k = self.broadcasts.len();
        let payload = format!("sim-broadcast-{}-{k}", self.seed).into_bytes();
        self.nodes[i].swim.as_mut()?.broadcast("sim", &payload).ok()?;
        let rec = BroadcastRecord { origin: i, at: self.now(), delivered: 0, converged: None };
        let mut got = vec![false; self.nodes.len()];
        got[i] = true;
        self.broadcasts.push((rec, got));
        self.broadcast_keys.insert(payload, k);
        self.trace(format_args!("n{i} broadcast {k}"));
        self.drain(i);
        Some(k)
    }

    pub(super) fn delivered(&mut self, to: usize, payload: &[u8]) {
        let Some(&k) = self.broadcast_keys.get(payload) else { return };
        let now = self.now();
        let running = self.running;
        let (rec, got) = &mut self.broadcasts[k];
        if got.len() < self.nodes.len() {
            got.resize(self.nodes.len(), false);
        }
        if got[to] {
            return;
        }
        got[to] = true;
        rec.delivered += 1;
        if rec.converged.is_none() && rec.delivered + 1 >= running {
            let all = self.nodes.iter().enumerate().all(|(i, n)| !n.running() || got[i]);
            if all {
                rec.converged = Some(now.saturating_sub(rec.at));
            }
        }
    }

    /// Records observer `o` suspecting (and, if `dead`, declaring dead) the
    /// subject of crash record `c`, once each.
    pub(super) fn crash_observed(&mut self, c: usize, o: usize, now: Duration, dead: bool) {
        let seen = &mut self.crash_seen[c];
        if seen.len() <= o {
            seen.resize(o + 1, 0);
        }
        let rec = &mut self.crashes[c];
        let d = now.saturating_sub(rec.at);
        if seen[o] & 1 == 0 {
            seen[o] |= 1;
            rec.suspected.push((o, d));
        }
        if dead && seen[o] & 2 == 0 {
            seen[o] |= 2;
            rec.dead.push((o, d));
        }
    }

    pub(super) fn open_crash_record(&mut self, i: usize, paused: bool) {
        let rec = CrashRecord {
            node: i,
            at: self.now(),
            paused,
            suspected: Vec::new(),
            dead: Vec::new(),
            closed: None,
        };
        self.crashes.push(rec);
        self.crash_seen.push(vec![0; self.nodes.len()]);
        self.nodes[i].crash_record = Some(self.crashes.len() - 1);
        self.nodes[i].join_record = None;
    }
}
