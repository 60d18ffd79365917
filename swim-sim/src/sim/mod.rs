//! The simulator, [`Sim`]: N real [`Swim`](swim_core::Swim) cores, a virtual
//! clock and a virtual network.
//!
//! This module owns the [`Sim`] struct, its construction and the main loop:
//! `run_to` pops the events in time order (interleaved with the timeline
//! samples) and hands each to the part that owns it, and `drain` moves what a
//! core wants to send onto the network. The rest of `impl Sim` is spread over
//! the submodules, one idea each:
//!
//! * `queue`: the events, their order, scheduling, and each node's wake-ups;
//! * `network`: address labels, and datagrams and streams sent and delivered
//!   through the partition, cut links and the loss and latency models of
//!   [`crate::net`];
//! * `nodes`: the node slots (running, crashed, paused, slow, leaving) and
//!   their lives: adding, starting, joining, warm starts;
//! * `faults`: [`Fault`], applied now or scheduled, and the control RNG's
//!   draws for scenario choices;
//! * `views`: every observer's view of every subject, and the convergence
//!   checks read from it;
//! * `trace`: the trace hash (and lines), fed by every membership event;
//! * `metrics`: the counters, crash, join and broadcast records, the timeline
//!   and the [`Report`](crate::Report);
//! * `names`: the name table the simulated nodes share.

mod faults;
mod metrics;
mod names;
mod network;
mod nodes;
mod queue;
mod trace;
mod views;

pub use faults::{Fault, DARK_PERIOD};
pub use network::{node_addr, node_index, PORT};
pub use nodes::node_name;

use crate::net::{Latency, Loss};
use crate::report::{BroadcastRecord, Counters, CrashRecord, JoinRecord, Sample};
use names::Names;
use nodes::NodeSlot;
use queue::{Ev, Scheduled};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;
use swim_core::{Config, ConfigError, Instant};
use trace::Fnv;
use views::Views;

/// SplitMix64: decorrelates the seeds derived from the simulation seed.
fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A deterministic simulation of a swim cluster: N real
/// [`Swim`](swim_core::Swim) cores, a virtual clock and a virtual network.
/// See the [crate docs](crate).
pub struct Sim {
    seed: u64,
    config: Config,
    /// Nodes whose configuration differs from `config` ([`Sim::configure_node`]).
    node_configs: BTreeMap<usize, Config>,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    nodes: Vec<NodeSlot>,
    running: usize,
    loss: Loss,
    latency: Latency,
    partitioned: bool,
    cuts: BTreeSet<(usize, usize)>,
    net_rng: ChaCha8Rng,
    ctl_rng: ChaCha8Rng,
    views: Views,
    counters: Counters,
    crashes: Vec<CrashRecord>,
    /// Per crash record, per observer: 1 once it suspected, 2 once dead (so a
    /// record's lists are not scanned for every event).
    crash_seen: Vec<Vec<u8>>,
    joins: Vec<JoinRecord>,
    broadcasts: Vec<(BroadcastRecord, Vec<bool>)>,
    broadcast_keys: HashMap<Vec<u8>, usize>,
    hash: Fnv,
    /// Member names shared by every simulated node (each name stored once).
    names: std::sync::Arc<Names>,
    line: String,
    trace_lines: Option<Vec<String>>,
    buf: Vec<u8>,
    pool: Vec<Vec<u8>>,
    sample_every: Duration,
    next_sample: Instant,
    timeline: Vec<Sample>,
    measure_start: Instant,
    node_time: u128,
    refutes_base: u64,
    /// Streams cross the network at once, without loss (warm start).
    instant_streams: bool,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Node `i` (created later, or restarted) runs with `config` instead of
    /// the simulation's: e.g. a node that behaves as a Go memberlist peer
    /// (`direct_refutation: false`) in a swim cluster. Timings should stay
    /// those of the cluster.
    pub fn configure_node(&mut self, i: usize, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.node_configs.insert(i, config);
        Ok(())
    }

    /// A simulation driven entirely by `seed`, whose nodes use `config`
    /// (`node_name` is set per node: `n0`, `n1`, …). No nodes yet; the
    /// network starts perfect but for LAN latency ([`Latency::default`]).
    pub fn new(seed: u64, config: Config) -> Result<Sim, ConfigError> {
        config.validate()?;
        let sample_every = config.protocol_interval;
        Ok(Sim {
            seed,
            config,
            node_configs: BTreeMap::new(),
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes: Vec::new(),
            running: 0,
            loss: Loss::None,
            latency: Latency::default(),
            partitioned: false,
            cuts: BTreeSet::new(),
            net_rng: ChaCha8Rng::seed_from_u64(mix(seed, u64::MAX, 1)),
            ctl_rng: ChaCha8Rng::seed_from_u64(mix(seed, u64::MAX, 2)),
            views: Views::new(),
            counters: Counters::default(),
            crashes: Vec::new(),
            crash_seen: Vec::new(),
            joins: Vec::new(),
            broadcasts: Vec::new(),
            broadcast_keys: HashMap::new(),
            hash: Fnv::new(),
            names: std::sync::Arc::default(),
            line: String::new(),
            trace_lines: None,
            buf: vec![0; 65_536],
            pool: Vec::new(),
            sample_every,
            next_sample: Instant::ZERO,
            timeline: Vec::new(),
            measure_start: Instant::ZERO,
            node_time: 0,
            refutes_base: 0,
            instant_streams: false,
        })
    }

    // ----- reading ----------------------------------------------------------

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The node configuration template.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Virtual time since the start.
    pub fn now(&self) -> Duration {
        self.now.since_epoch()
    }

    // ----- running -------------------------------------------------------------

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_to(end);
    }

    /// Runs until `cond` holds (checked every `check_every` of virtual time,
    /// 10 ms by default via [`run_until`](Self::run_until)) or `limit` passes.
    /// Returns how long it took, or `None` on timeout.
    pub fn run_until_every(
        &mut self,
        mut cond: impl FnMut(&Sim) -> bool,
        limit: Duration,
        check_every: Duration,
    ) -> Option<Duration> {
        let start = self.now;
        let end = start + limit;
        let step = check_every.max(Duration::from_micros(1));
        loop {
            if cond(self) {
                return Some(self.now.saturating_duration_since(start));
            }
            if self.now >= end {
                return None;
            }
            let next = (self.now + step).min(end);
            self.run_to(next);
        }
    }

    /// Runs until `cond` holds (checked every 10 ms of virtual time) or `limit`
    /// passes. Returns how long it took, or `None` on timeout.
    pub fn run_until(&mut self, cond: impl FnMut(&Sim) -> bool, limit: Duration) -> Option<Duration> {
        self.run_until_every(cond, limit, Duration::from_millis(10))
    }

    /// Processes every event up to `end`, then sets the clock to `end`.
    fn run_to(&mut self, end: Instant) {
        loop {
            let next_ev = self.queue.peek().map(|e| e.at).filter(|&t| t <= end);
            let next_sample = Some(self.next_sample).filter(|&t| t <= end);
            match (next_ev, next_sample) {
                (Some(te), Some(ts)) if ts < te => self.sample_at(ts),
                (None, Some(ts)) => self.sample_at(ts),
                (Some(_), _) => {
                    let e = self.queue.pop().expect("peeked");
                    self.advance(e.at);
                    self.counters.sim_events += 1;
                    self.handle(e.ev);
                }
                (None, None) => break,
            }
        }
        self.advance(end);
    }

    fn advance(&mut self, t: Instant) {
        if t > self.now {
            let dt = t.saturating_duration_since(self.now).as_nanos();
            self.node_time += dt * self.running as u128;
            self.now = t;
        }
    }

    /// Hands an event to the part of the simulator that owns it.
    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { node, gen } => self.on_wake(node, gen),
            Ev::Datagram { from, to, data } => self.on_datagram(from, to, data),
            Ev::StreamArrive { from, from_gen, to, req, deadline } => {
                self.on_stream_arrive(from, from_gen, to, req, deadline)
            }
            Ev::StreamReply { to, gen, id, data, deadline } => {
                self.on_stream_reply(to, gen, id, data, deadline)
            }
            Ev::StreamFail { node, gen, id } => self.on_stream_fail(node, gen, id),
            Ev::JoinRetry { node, gen } => self.on_join_retry(node, gen),
            Ev::Fault(f) => self.do_fault(f),
        }
    }

    /// Moves everything node `i` wants to send onto the network, records its
    /// events and schedules its next wake-up.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        loop {
            let t = match self.nodes[i].swim.as_mut() {
                Some(s) => s.poll_transmit(now, &mut self.buf),
                None => return,
            };
            let Some(t) = t else { break };
            self.send_datagram(i, t.dst, t.len);
        }
        while let Some(req) = self.nodes[i].swim.as_mut().and_then(|s| s.poll_stream_request()) {
            self.send_stream(i, req);
        }
        while let Some(e) = self.nodes[i].swim.as_mut().and_then(|s| s.poll_event()) {
            self.record_event(i, e);
        }
        self.reschedule(i);
    }
}
