//! Every observer's view of every subject, kept from the cores' events
//! ([`Views`]), and the questions asked of it: convergence, all alive, dead or
//! alive everywhere (and one view asked of the real core).

use super::nodes::node_name;
use super::Sim;
use swim_core::State;

const V_NONE: u8 = 0;
pub(super) const V_ALIVE: u8 = 1;
pub(super) const V_SUSPECT: u8 = 2;
pub(super) const V_DEAD: u8 = 3;

/// Every observer's view of every subject, maintained from the cores' events
/// (O(1) per event), so convergence checks need not query n² members.
pub(super) struct Views {
    cap: usize,
    state: Vec<u8>,
    /// Per observer: members seen [alive, suspect, dead-or-left].
    pub(super) counts: Vec<[u32; 3]>,
    /// Per subject: observers that see it live (alive or suspect).
    pub(super) seen_live: Vec<u32>,
}

impl Views {
    pub(super) fn new() -> Self {
        Views { cap: 0, state: Vec::new(), counts: Vec::new(), seen_live: Vec::new() }
    }

    pub(super) fn grow(&mut self, n: usize) {
        if n > self.cap {
            let cap = n.max(self.cap * 2).max(16);
            let mut state = vec![V_NONE; cap * cap];
            for o in 0..self.cap {
                state[o * cap..o * cap + self.cap]
                    .copy_from_slice(&self.state[o * self.cap..(o + 1) * self.cap]);
            }
            self.state = state;
            self.cap = cap;
        }
        self.counts.resize(n, [0; 3]);
        self.seen_live.resize(n, 0);
    }

    pub(super) fn get(&self, o: usize, s: usize) -> u8 {
        self.state[o * self.cap + s]
    }

    pub(super) fn set(&mut self, o: usize, s: usize, v: u8) {
        let slot = &mut self.state[o * self.cap + s];
        let old = *slot;
        if old == v {
            return;
        }
        *slot = v;
        if old != V_NONE {
            self.counts[o][(old - 1) as usize] -= 1;
        }
        if v != V_NONE {
            self.counts[o][(v - 1) as usize] += 1;
        }
        let live = |x: u8| x == V_ALIVE || x == V_SUSPECT;
        match (live(old), live(v)) {
            (false, true) => self.seen_live[s] += 1,
            (true, false) => self.seen_live[s] -= 1,
            _ => {}
        }
    }

    pub(super) fn clear_row(&mut self, o: usize, n: usize) {
        for s in 0..n {
            self.set(o, s, V_NONE);
        }
    }
}

impl Sim {
    /// How `observer` sees `subject`, asked of the real core (`None`: unknown,
    /// or the observer is crashed).
    pub fn view(&self, observer: usize, subject: usize) -> Option<State> {
        self.node(observer)?.member(&node_name(subject)).map(|n| n.state)
    }

    /// Whether every running node sees exactly the running nodes as live
    /// (alive or suspect) and every other known node as dead or left.
    pub fn converged(&self) -> bool {
        let up = self.running;
        let n = self.nodes.len();
        if up == 0 {
            return true;
        }
        for o in 0..n {
            if self.nodes[o].running() {
                let c = self.views.counts[o];
                if (c[0] + c[1]) as usize != up - 1 {
                    return false;
                }
            }
        }
        for s in 0..n {
            if self.nodes[s].running() && (self.views.seen_live[s] as usize) < up - 1 {
                return false;
            }
        }
        (0..n).filter(|&o| self.nodes[o].running()).all(|o| {
            (0..n).all(|s| {
                let v = self.views.get(o, s);
                let live = v == V_ALIVE || v == V_SUSPECT;
                s == o || live == self.nodes[s].running()
            })
        })
    }

    /// Whether every running node sees every running node alive (none suspect).
    pub fn all_alive(&self) -> bool {
        self.converged()
            && (0..self.nodes.len())
                .filter(|&o| self.nodes[o].running())
                .all(|o| self.views.counts[o][1] == 0)
    }

    /// Whether no running node other than `subject` sees it live: each has
    /// declared it dead (or left), or never heard of it (a node that joined
    /// while it was already suspect is not told about it).
    pub fn dead_everywhere(&self, subject: usize) -> bool {
        (0..self.nodes.len()).filter(|&o| o != subject && self.nodes[o].running()).all(|o| {
            let v = self.views.get(o, subject);
            v == V_DEAD || v == V_NONE
        })
    }

    /// Whether every running node other than `subject` sees it alive (not suspect).
    pub fn alive_everywhere(&self, subject: usize) -> bool {
        (0..self.nodes.len())
            .filter(|&o| o != subject && self.nodes[o].running())
            .all(|o| self.views.get(o, subject) == V_ALIVE)
    }
}
