//! The node slots: each node's core, status (running, paused, crashed,
//! leaving), slowness, partition group and join state, kept across restarts;
//! reading them, and the lives of nodes: adding (one by one, or converged at
//! once), starting a core, joining through a live node and retrying.

use super::faults::DARK_PERIOD;
use super::network::node_addr;
use super::queue::Ev;
use super::{mix, Sim};
use crate::report::JoinRecord;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::net::SocketAddr;
use std::time::Duration;
use swim_core::{Config, Instant, Swim};

/// The name of node `i`.
pub fn node_name(i: usize) -> String {
    format!("n{i}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Up,
    Paused,
    Crashed,
}

pub(super) struct NodeSlot {
    pub(super) addr: SocketAddr,
    pub(super) swim: Option<Swim<ChaCha8Rng>>,
    pub(super) status: Status,
    pub(super) leaving: bool,
    pub(super) gen: u32,
    pub(super) wake_at: Option<Instant>,
    pub(super) slow: Duration,
    /// Dark (all traffic dropped) for this long at the start of every second
    /// (offset by `dark_phase`): a host with bursty connectivity.
    pub(super) dark_for: Duration,
    pub(super) dark_phase: Duration,
    pub(super) group: u32,
    pub(super) joined: bool,
    pub(super) join_pending: Option<u64>,
    pub(super) deferred: Vec<Ev>,
    /// Open crash record (index into `crashes`).
    pub(super) crash_record: Option<usize>,
    /// Open join record (index into `joins`).
    pub(super) join_record: Option<usize>,
    /// Incarnation at the last crash.
    pub(super) crash_incarnation: Option<u32>,
    /// Gilbert–Elliott chain state of the node's inbound path.
    pub(super) loss_bad: bool,
}

impl NodeSlot {
    pub(super) fn running(&self) -> bool {
        self.status == Status::Up && !self.leaving && self.swim.is_some()
    }

    /// Whether the host drops all its traffic at `now` (see [`Fault::Dark`](super::Fault::Dark)).
    pub(super) fn dark_at(&self, now: Instant) -> bool {
        if self.dark_for.is_zero() {
            return false;
        }
        let period = DARK_PERIOD.as_nanos() as u64;
        let t = (now.as_nanos() + self.dark_phase.as_nanos() as u64) % period;
        t < self.dark_for.as_nanos() as u64
    }

    /// Neither slowed nor dark: the Lifeguard paper's healthy member.
    pub(super) fn healthy(&self) -> bool {
        self.slow.is_zero() && self.dark_for.is_zero()
    }
}

impl Sim {
    /// Nodes ever created (crashed ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node was created yet.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether node `i`'s process runs normally (not crashed, paused or leaving).
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(NodeSlot::running)
    }

    /// Whether node `i` is crashed.
    pub fn is_crashed(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.status == Status::Crashed)
    }

    /// Whether node `i` is paused.
    pub fn is_paused(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.status == Status::Paused)
    }

    /// How many nodes run normally.
    pub fn running_count(&self) -> usize {
        self.running
    }

    /// The indices of the nodes that run normally.
    pub fn running_nodes(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.is_running(i)).collect()
    }

    /// Node `i`'s core, unless it is crashed.
    pub fn node(&self, i: usize) -> Option<&Swim<ChaCha8Rng>> {
        self.nodes.get(i).and_then(|n| n.swim.as_ref())
    }

    /// Node `i`'s core, mutably (to call commands directly; the sim drains
    /// its output at the next event, so prefer [`Sim::apply`]).
    pub fn node_mut(&mut self, i: usize) -> Option<&mut Swim<ChaCha8Rng>> {
        self.nodes.get_mut(i).and_then(|n| n.swim.as_mut())
    }

    /// Adds `n` nodes now, each joining through a random node already in the
    /// cluster (the very first node starts alone). Returns their indices.
    pub fn add_nodes(&mut self, n: usize) -> std::ops::Range<usize> {
        let first = self.nodes.len();
        self.views.grow(first + n);
        for _ in 0..n {
            self.push_slot();
            self.start_node(self.nodes.len() - 1);
        }
        first..first + n
    }

    fn push_slot(&mut self) {
        let i = self.nodes.len();
        // Registered in order, so the name table stays dense.
        swim_core::protocol::members::Interner::intern(&*self.names, &node_name(i));
        self.nodes.push(NodeSlot {
            addr: node_addr(i),
            swim: None,
            status: Status::Crashed,
            leaving: false,
            gen: 0,
            wake_at: None,
            slow: Duration::ZERO,
            dark_for: Duration::ZERO,
            dark_phase: Duration::ZERO,
            group: 0,
            joined: false,
            join_pending: None,
            deferred: Vec::new(),
            crash_record: None,
            join_record: None,
            crash_incarnation: None,
            loss_bad: false,
        });
    }

    /// Whether every running node's join exchange has completed.
    pub fn all_joined(&self) -> bool {
        self.nodes.iter().all(|n| !n.running() || n.joined)
    }

    /// A state exchange of every running node with node `through` (a
    /// push-pull, as a join does), each completed before the next starts.
    /// Once `through` knows everyone this gives everyone its full view.
    /// Streams cross at once and without loss while it runs.
    pub fn sync_all_with(&mut self, through: usize) {
        if !self.is_running(through) {
            return;
        }
        let was = std::mem::replace(&mut self.instant_streams, true);
        for i in 0..self.nodes.len() {
            if i != through && self.nodes[i].running() {
                self.exchange_now(i, through);
            }
        }
        self.instant_streams = was;
    }

    /// One push-pull from `a` to `b`, handled to the end now (the caller makes
    /// streams instant). It is `a`'s join if `a` has not joined yet.
    fn exchange_now(&mut self, a: usize, b: usize) {
        let now = self.now;
        // Tracked as a join: a failed one (a cut link, a partition) is retried
        // the normal way later. A plain state exchange, not the core's join:
        // a converged cluster is being built, so no post-join exchange.
        let (now_i, addr) = (self.now, self.nodes[b].addr);
        let Some(swim) = self.nodes[a].swim.as_mut() else { return };
        let req = swim.sync_with(now_i, addr);
        self.nodes[a].join_pending = Some(req.id);
        self.send_stream(a, req);
        self.drain(a);
        // The request and its reply are due now: handle both.
        self.run_to(now);
        if self.nodes[a].join_pending.is_none() && self.nodes[a].joined {
            // The answering node is in the cluster too (a seed need not join).
            self.nodes[b].joined = true;
        }
    }

    /// Adds `n` nodes and gives every running node the full view, the cheap
    /// way to build a large cluster; no virtual time passes.
    ///
    /// While every link passes (no partition, no cut link) the views are
    /// copied without the wire ([`Swim::copy_view_from`]): the first running
    /// node learns each other one, then each copies its table (n entries
    /// copied, not decoded: 10,000 nodes in seconds rather than minutes).
    /// Otherwise the real join and push-pull path runs, in the order that
    /// costs least: the running nodes exchange state pairwise in a
    /// hypercube (round k pairs i with i xor 2^k; the nodes beyond the
    /// largest power of two fold onto the first ones before and after), so
    /// each exchange brings only news — about n² entries merged in all — and
    /// exchanges across the partition fail as they would. Streams cross at
    /// once and without loss meanwhile. Either way every node reports a
    /// `Join` event for each member it learned; a copy queues no gossip (a
    /// cluster at rest), exchanges queue what push-pulls do (the news of a
    /// mass join, drained over the first periods).
    pub fn add_nodes_converged(&mut self, n: usize) -> std::ops::Range<usize> {
        let first = self.nodes.len();
        self.views.grow(first + n);
        for _ in 0..n {
            self.push_slot();
            let i = self.nodes.len() - 1;
            self.start_core(i);
            self.drain(i);
        }
        let nodes = self.running_nodes();
        if !self.partitioned && self.cuts.is_empty() {
            self.copy_views(&nodes);
        } else {
            self.exchange_hypercube(&nodes);
        }
        first..first + n
    }

    /// Every node in `nodes` learns the others by copying views through the
    /// first one.
    fn copy_views(&mut self, nodes: &[usize]) {
        let Some((&hub, rest)) = nodes.split_first() else { return };
        let now = self.now;
        for &j in rest {
            if let (Some(h), Some(o)) = self.two_cores(hub, j) {
                h.copy_view_from(now, o);
            }
        }
        self.drain(hub);
        for &j in rest {
            if let (Some(o), Some(h)) = self.two_cores(j, hub) {
                o.copy_view_from(now, h);
            }
            self.drain(j);
        }
        for &i in nodes {
            self.nodes[i].joined = true;
        }
    }

    /// Node `a`'s core mutably and node `b`'s (`a != b`), if both exist.
    fn two_cores(
        &mut self,
        a: usize,
        b: usize,
    ) -> (Option<&mut Swim<ChaCha8Rng>>, Option<&Swim<ChaCha8Rng>>) {
        debug_assert_ne!(a, b);
        if a < b {
            let (lo, hi) = self.nodes.split_at_mut(b);
            (lo[a].swim.as_mut(), hi[0].swim.as_ref())
        } else {
            let (lo, hi) = self.nodes.split_at_mut(a);
            (hi[0].swim.as_mut(), lo[b].swim.as_ref())
        }
    }

    /// The running nodes exchange state pairwise in a hypercube (see
    /// [`add_nodes_converged`](Self::add_nodes_converged)).
    fn exchange_hypercube(&mut self, nodes: &[usize]) {
        let was = std::mem::replace(&mut self.instant_streams, true);
        let p = if nodes.is_empty() { 0 } else { 1usize << nodes.len().ilog2() };
        let fold = |sim: &mut Sim| {
            for j in p..nodes.len() {
                sim.exchange_now(nodes[j], nodes[j - p]);
            }
        };
        fold(self);
        let mut bit = 1;
        while bit < p {
            for i in 0..p {
                if i & bit == 0 {
                    self.exchange_now(nodes[i], nodes[i | bit]);
                }
            }
            bit <<= 1;
        }
        fold(self);
        if let [only] = nodes[..] {
            self.nodes[only].joined = true;
        }
        self.instant_streams = was;
    }

    /// Starts a new core for slot `i` (first start or restart) and joins it.
    pub(super) fn start_node(&mut self, i: usize) {
        self.start_core(i);
        self.start_join(i);
        self.drain(i);
    }

    /// Starts a new core for slot `i`, not joined to anyone yet.
    fn start_core(&mut self, i: usize) {
        let slot = &mut self.nodes[i];
        slot.gen += 1;
        let base = self.node_configs.get(&i).unwrap_or(&self.config);
        let cfg = Config { node_name: Some(node_name(i)), ..base.clone() };
        let rng = ChaCha8Rng::seed_from_u64(mix(self.seed, i as u64, slot.gen as u64));
        let mut swim = Swim::new(cfg, slot.addr, rng, self.now).expect("the config was validated");
        swim.set_interner(self.names.clone());
        slot.swim = Some(swim);
        slot.status = Status::Up;
        slot.leaving = false;
        slot.wake_at = None;
        slot.joined = false;
        slot.join_pending = None;
        slot.deferred.clear();
        slot.loss_bad = false;
        self.running += 1;
        let rec = JoinRecord {
            node: i,
            at: self.now(),
            converged: None,
            incarnation_before: self.nodes[i].crash_incarnation,
            incarnation_after: None,
        };
        self.joins.push(rec);
        self.nodes[i].join_record = Some(self.joins.len() - 1);
        if let Some(c) = self.nodes[i].crash_record.take() {
            self.crashes[c].closed = Some(self.now());
        }
    }

    fn start_join(&mut self, i: usize) {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != i && self.nodes[j].running() && self.nodes[j].joined)
            .collect();
        let target = if candidates.is_empty() {
            // The first node: nobody to join. Any other running node will do.
            match (0..self.nodes.len()).find(|&j| j != i && self.nodes[j].running()) {
                Some(j) => j,
                None => {
                    self.nodes[i].joined = true;
                    return;
                }
            }
        } else {
            candidates[(self.ctl_rng.next_u64() % candidates.len() as u64) as usize]
        };
        self.send_join(i, target);
    }

    /// Sends `a`'s join (a push-pull) to `b`, tracked in `join_pending`.
    fn send_join(&mut self, a: usize, b: usize) {
        let (now, addr) = (self.now, self.nodes[b].addr);
        let Some(swim) = self.nodes[a].swim.as_mut() else { return };
        let req = swim.join(now, addr);
        self.nodes[a].join_pending = Some(req.id);
        self.send_stream(a, req);
    }

    /// Node `node` retries its join, if it is still the same core, up and unjoined.
    pub(super) fn on_join_retry(&mut self, node: usize, gen: u32) {
        let n = &self.nodes[node];
        if n.gen == gen && n.status == Status::Up && !n.joined && n.join_pending.is_none() {
            self.start_join(node);
            self.drain(node);
        }
    }

    pub(super) fn set_down(&mut self, i: usize, status: Status) {
        let was = self.nodes[i].running();
        self.nodes[i].status = status;
        if was && !self.nodes[i].running() {
            self.running -= 1;
        }
    }
}
