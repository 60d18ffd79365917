//! The simulator: virtual clock, event queue, virtual network, nodes, faults.

use crate::net::{Latency, Loss};
use crate::report::{BroadcastRecord, Counters, CrashRecord, JoinRecord, Report, Sample};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use swim_core::{Config, ConfigError, DeliveryKind, Event, Instant, State, StreamFrame, StreamRequest, Swim};

/// The port every simulated node "listens" on; addresses are only labels.
pub const PORT: u16 = 7946;

/// The address label of node `i`: `127.a.b.c:7946` with `a.b.c` = `i + 1`.
pub fn node_addr(i: usize) -> SocketAddr {
    let k = i + 1;
    SocketAddr::from(([127, (k >> 16) as u8, (k >> 8) as u8, k as u8], PORT))
}

/// The node index behind an address label, if it is one.
pub fn node_index(addr: SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) if a.port() == PORT && a.ip().octets()[0] == 127 => {
            let o = a.ip().octets();
            let k = (o[1] as usize) << 16 | (o[2] as usize) << 8 | o[3] as usize;
            k.checked_sub(1)
        }
        _ => None,
    }
}

/// The name of node `i`.
pub fn node_name(i: usize) -> String {
    format!("n{i}")
}

/// A fault or action, applied now ([`Sim::apply`]) or scheduled ([`Sim::at`]).
/// Faults compose: loss, latency, partitions, cut links and node faults all
/// apply at once, to datagrams and streams alike.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Sets the loss model for every packet from now on.
    Loss(Loss),
    /// Sets the latency distribution from now on.
    Latency(Latency),
    /// Splits the cluster: each listed group is cut off from every other and
    /// from the unlisted nodes (which form one more group). Replaces any
    /// earlier partition.
    Partition(Vec<Vec<usize>>),
    /// Ends the partition (cut links stay cut).
    Heal,
    /// Cuts the link between two nodes, both ways.
    Cut(usize, usize),
    /// Restores a cut link.
    Mend(usize, usize),
    /// The node's process dies: its state is gone, nothing reaches it.
    Crash(usize),
    /// A crashed node starts again: same name and address, a new core that
    /// joins through a random live node (it must refute its old death with a
    /// higher incarnation). A running node is crashed first.
    Restart(usize),
    /// The node's process stops (SIGSTOP): it neither sends, receives nor runs
    /// timers; packets to it are dropped.
    Pause(usize),
    /// A paused node continues: every overdue timer runs at once.
    Resume(usize),
    /// Every packet and stream the node handles, and its timers, are processed
    /// this much late (a CPU-starved node). `Duration::ZERO` makes it normal.
    Slow(usize, Duration),
    /// The node leaves gracefully (it keeps running until crashed).
    Leave(usize),
    /// The node broadcasts a tracked message (see [`Sim::broadcast`]).
    Broadcast(usize),
    /// Adds this many nodes, each joining through a random live node.
    AddNodes(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Up,
    Paused,
    Crashed,
}

struct NodeSlot {
    addr: SocketAddr,
    swim: Option<Swim<ChaCha8Rng>>,
    status: Status,
    leaving: bool,
    gen: u32,
    wake_at: Option<Instant>,
    slow: Duration,
    group: u32,
    joined: bool,
    join_pending: Option<u64>,
    deferred: Vec<Ev>,
    /// Open crash record (index into `crashes`).
    crash_record: Option<usize>,
    /// Open join record (index into `joins`).
    join_record: Option<usize>,
    /// Incarnation at the last crash.
    crash_incarnation: Option<u32>,
    /// Gilbert–Elliott chain state of the node's inbound path.
    loss_bad: bool,
}

impl NodeSlot {
    fn running(&self) -> bool {
        self.status == Status::Up && !self.leaving && self.swim.is_some()
    }
}

enum Ev {
    Wake { node: usize, gen: u32 },
    Datagram { from: usize, to: usize, data: Vec<u8> },
    StreamArrive { from: usize, from_gen: u32, to: usize, req: StreamRequest, deadline: Instant },
    StreamReply { to: usize, gen: u32, id: u64, data: Vec<u8>, deadline: Instant },
    StreamFail { node: usize, gen: u32, id: u64 },
    JoinRetry { node: usize, gen: u32 },
    Fault(Fault),
}

struct Scheduled {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

const V_NONE: u8 = 0;
const V_ALIVE: u8 = 1;
const V_SUSPECT: u8 = 2;
const V_DEAD: u8 = 3;

/// Every observer's view of every subject, maintained from the cores' events
/// (O(1) per event), so convergence checks need not query n² members.
struct Views {
    cap: usize,
    state: Vec<u8>,
    /// Per observer: members seen [alive, suspect, dead-or-left].
    counts: Vec<[u32; 3]>,
    /// Per subject: observers that see it live (alive or suspect).
    seen_live: Vec<u32>,
}

impl Views {
    fn new() -> Self {
        Views { cap: 0, state: Vec::new(), counts: Vec::new(), seen_live: Vec::new() }
    }

    fn grow(&mut self, n: usize) {
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

    fn get(&self, o: usize, s: usize) -> u8 {
        self.state[o * self.cap + s]
    }

    fn set(&mut self, o: usize, s: usize, v: u8) {
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

    fn clear_row(&mut self, o: usize, n: usize) {
        for s in 0..n {
            self.set(o, s, V_NONE);
        }
    }
}

/// A 64-bit FNV-1a hash (bytes), with a word-wide step for binary records.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
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

/// SplitMix64: decorrelates the seeds derived from the simulation seed.
fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The process-wide name table the simulated nodes share: with 10,000 nodes
/// each knowing every other, names would otherwise be stored 10^8 times.
/// The simulator's own names (`n0`, `n1`, …) are found by their number.
#[derive(Debug, Default)]
struct Names(std::sync::Mutex<NamesInner>);

#[derive(Debug, Default)]
struct NamesInner {
    by_index: Vec<Option<swim_core::NodeId>>,
    others: std::collections::HashSet<swim_core::NodeId>,
}

/// `i` if `name` is exactly `node_name(i)` (and `i` is not absurdly large).
fn sim_index(name: &str) -> Option<usize> {
    let d = name.strip_prefix('n')?;
    let canonical = !d.is_empty() && d.len() <= 7 && (d.len() == 1 || !d.starts_with('0'));
    if !canonical || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

impl swim_core::protocol::members::Interner for Names {
    fn intern(&self, name: &str) -> swim_core::NodeId {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // By number while the table stays dense (a stray `n9999999` must
        // not grow it to millions of entries).
        if let Some(i) = sim_index(name).filter(|&i| i < g.by_index.len() + 4096) {
            if let Some(Some(id)) = g.by_index.get(i) {
                return id.clone();
            }
            if g.by_index.len() <= i {
                g.by_index.resize(i + 1, None);
            }
            let id = swim_core::NodeId::from(name);
            g.by_index[i] = Some(id.clone());
            return id;
        }
        if let Some(id) = g.others.get(name) {
            return id.clone();
        }
        let id = swim_core::NodeId::from(name);
        g.others.insert(id.clone());
        id
    }
}

/// A deterministic simulation of a swim cluster: N real [`Swim`] cores, a
/// virtual clock and a virtual network. See the [crate docs](crate).
pub struct Sim {
    seed: u64,
    config: Config,
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

/// Stream retransmission: each loss draw on a stream message adds this
/// (doubling, like TCP's RTO), up to this many times.
const STREAM_RTO: Duration = Duration::from_millis(200);
const STREAM_MAX_RETRIES: u32 = 6;

impl Sim {
    /// A simulation driven entirely by `seed`, whose nodes use `config`
    /// (`node_name` is set per node: `n0`, `n1`, …). No nodes yet; the
    /// network starts perfect but for LAN latency ([`Latency::default`]).
    pub fn new(seed: u64, config: Config) -> Result<Sim, ConfigError> {
        config.validate()?;
        let sample_every = config.protocol_interval;
        Ok(Sim {
            seed,
            config,
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

    // ----- scheduling ---------------------------------------------------------

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled { at: at.max(self.now), seq: self.seq, ev });
    }

    /// Schedules `fault` at virtual time `t` since the start (now if `t` is past).
    pub fn at(&mut self, t: Duration, fault: Fault) {
        self.push(Instant::from_duration(t), Ev::Fault(fault));
    }

    /// Schedules `fault` after `d` from now.
    pub fn after(&mut self, d: Duration, fault: Fault) {
        self.push(self.now + d, Ev::Fault(fault));
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.do_fault(fault);
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
        // the normal way later.
        self.send_join(a, b);
        self.drain(a);
        // The request and its reply are due now: handle both.
        self.run_to(now);
        if self.nodes[a].join_pending.is_none() && self.nodes[a].joined {
            // The answering node is in the cluster too (a seed need not join).
            self.nodes[b].joined = true;
        }
    }

    /// Adds `n` nodes and gives every running node the full view, the cheap
    /// way to build a large cluster: the real join and push-pull path, in the
    /// order that costs least. The running nodes exchange state pairwise in a
    /// hypercube (round k pairs i with i xor 2^k; the nodes beyond the largest
    /// power of two fold onto the first ones before and after), so each
    /// exchange brings only news: about n² entries merged in all (a hub that
    /// everyone joins and syncs with costs twice that), one exchange in flight
    /// at a time. Streams cross at once and without loss meanwhile; no virtual
    /// time passes.
    pub fn add_nodes_converged(&mut self, n: usize) -> std::ops::Range<usize> {
        let first = self.nodes.len();
        self.views.grow(first + n);
        for _ in 0..n {
            self.push_slot();
            let i = self.nodes.len() - 1;
            self.start_core(i);
            self.drain(i);
        }
        let was = std::mem::replace(&mut self.instant_streams, true);
        let nodes = self.running_nodes();
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
        first..first + n
    }

    /// Starts a new core for slot `i` (first start or restart) and joins it.
    fn start_node(&mut self, i: usize) {
        self.start_core(i);
        self.start_join(i);
        self.drain(i);
    }

    /// Starts a new core for slot `i`, not joined to anyone yet.
    fn start_core(&mut self, i: usize) {
        let slot = &mut self.nodes[i];
        slot.gen += 1;
        let cfg = Config { node_name: Some(node_name(i)), ..self.config.clone() };
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

    fn sample_at(&mut self, t: Instant) {
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

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { node, gen } => {
                let n = &mut self.nodes[node];
                if n.gen != gen || n.wake_at != Some(self.now) || n.status != Status::Up {
                    return;
                }
                n.wake_at = None;
                let now = self.now;
                if let Some(s) = n.swim.as_mut() {
                    if s.poll_timeout() <= now {
                        s.handle_timeout(now);
                    }
                }
                self.drain(node);
            }
            Ev::Datagram { from, to, mut data } => {
                let now = self.now;
                let from_addr = self.nodes[from].addr;
                let n = &mut self.nodes[to];
                match (n.status, n.swim.as_mut()) {
                    (Status::Up, Some(s)) => {
                        let mut got: Vec<Vec<u8>> = Vec::new();
                        s.handle_packet(now, from_addr, &mut data, &mut |d| {
                            if d.kind == DeliveryKind::Broadcast {
                                got.push(d.payload.to_vec());
                            }
                        });
                        self.recycle(data);
                        for p in got {
                            self.delivered(to, &p);
                        }
                        self.drain(to);
                    }
                    _ => {
                        self.counters.datagrams_to_down += 1;
                        self.recycle(data);
                    }
                }
            }
            Ev::StreamArrive { from, from_gen, to, mut req, deadline } => {
                let now = self.now;
                let from_addr = self.nodes[from].addr;
                let n = &mut self.nodes[to];
                let (Status::Up, Some(s)) = (n.status, n.swim.as_mut()) else {
                    // Nobody accepts (crashed) or nobody reads (paused): the requester times out.
                    self.counters.streams_failed += 1;
                    if req.expects_reply {
                        self.push(deadline, Ev::StreamFail { node: from, gen: from_gen, id: req.id });
                    }
                    return;
                };
                let mut got: Vec<Vec<u8>> = Vec::new();
                let reply = match s.stream_frame(&req.data, true) {
                    Ok(StreamFrame::Complete { start, end }) => s
                        .handle_stream(now, from_addr, &mut req.data[start..end], &mut |d| {
                            if d.kind == DeliveryKind::Broadcast {
                                got.push(d.payload.to_vec());
                            }
                        })
                        .ok()
                        .flatten(),
                    _ => None,
                };
                for p in got {
                    self.delivered(to, &p);
                }
                if req.expects_reply {
                    match reply {
                        Some(data) => {
                            self.counters.stream_bytes += data.len() as u64;
                            match self.stream_delay(to, from, now, deadline) {
                                Some(at) => self.push(
                                    at,
                                    Ev::StreamReply { to: from, gen: from_gen, id: req.id, data, deadline },
                                ),
                                None => {
                                    self.counters.streams_failed += 1;
                                    self.push(
                                        deadline,
                                        Ev::StreamFail { node: from, gen: from_gen, id: req.id },
                                    );
                                }
                            }
                        }
                        None => {
                            // The connection closes without a reply: the requester sees it at once.
                            self.counters.streams_failed += 1;
                            let lat = self.latency.sample(&mut self.net_rng);
                            self.push(now + lat, Ev::StreamFail { node: from, gen: from_gen, id: req.id });
                        }
                    }
                }
                self.drain(to);
            }
            Ev::StreamReply { to, gen, id, mut data, deadline } => {
                let n = &mut self.nodes[to];
                if n.gen != gen || n.swim.is_none() {
                    return;
                }
                if n.status == Status::Paused {
                    n.deferred.push(Ev::StreamReply { to, gen, id, data, deadline });
                    return;
                }
                let now = self.now;
                let s = n.swim.as_mut().expect("checked");
                let ok = match s.stream_frame(&data, false) {
                    Ok(StreamFrame::Complete { start, end }) => {
                        s.handle_stream_reply(now, id, &mut data[start..end]).is_ok()
                    }
                    _ => {
                        s.handle_stream_failed(id);
                        false
                    }
                };
                if n.join_pending == Some(id) {
                    n.join_pending = None;
                    if ok {
                        n.joined = true;
                    } else {
                        let retry = now + self.config.protocol_interval;
                        self.push(retry, Ev::JoinRetry { node: to, gen });
                    }
                }
                self.drain(to);
            }
            Ev::StreamFail { node, gen, id } => {
                let n = &mut self.nodes[node];
                if n.gen != gen || n.swim.is_none() {
                    return;
                }
                if n.status == Status::Paused {
                    n.deferred.push(Ev::StreamFail { node, gen, id });
                    return;
                }
                n.swim.as_mut().expect("checked").handle_stream_failed(id);
                if n.join_pending == Some(id) {
                    n.join_pending = None;
                    let retry = self.now + self.config.protocol_interval;
                    self.push(retry, Ev::JoinRetry { node, gen });
                }
                self.drain(node);
            }
            Ev::JoinRetry { node, gen } => {
                let n = &self.nodes[node];
                if n.gen == gen && n.status == Status::Up && !n.joined && n.join_pending.is_none() {
                    self.start_join(node);
                    self.drain(node);
                }
            }
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

    fn reschedule(&mut self, i: usize) {
        let n = &self.nodes[i];
        if n.status != Status::Up {
            return;
        }
        let Some(s) = n.swim.as_ref() else { return };
        let mut t = s.poll_timeout();
        if t <= self.now {
            // The core wants to run again at once (e.g. right after a resume):
            // never spin in place.
            t = self.now + Duration::from_micros(1);
        }
        let t = t + n.slow;
        if n.wake_at.is_some_and(|w| w <= t && w > self.now) {
            return;
        }
        let gen = n.gen;
        self.nodes[i].wake_at = Some(t);
        self.push(t, Ev::Wake { node: i, gen });
    }

    fn passes(&self, a: usize, b: usize) -> bool {
        (!self.partitioned || self.nodes[a].group == self.nodes[b].group)
            && !self.cuts.contains(&(a.min(b), a.max(b)))
    }

    fn send_datagram(&mut self, from: usize, dst: SocketAddr, len: usize) {
        self.counters.datagrams_sent += 1;
        self.counters.datagram_bytes += len as u64;
        let Some(to) = node_index(dst).filter(|&j| j < self.nodes.len()) else {
            self.counters.datagrams_blocked += 1;
            return;
        };
        if !self.passes(from, to) {
            self.counters.datagrams_blocked += 1;
            return;
        }
        let mut bad = self.nodes[to].loss_bad;
        let lost = self.loss.lose(&mut self.net_rng, &mut bad);
        self.nodes[to].loss_bad = bad;
        if lost {
            self.counters.datagrams_lost += 1;
            return;
        }
        let lat = self.latency.sample(&mut self.net_rng);
        let mut data = self.pool.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(&self.buf[..len]);
        let at = self.now + lat + self.nodes[to].slow;
        self.push(at, Ev::Datagram { from, to, data });
    }

    fn recycle(&mut self, data: Vec<u8>) {
        if self.pool.len() < 4096 {
            self.pool.push(data);
        }
    }

    /// When a stream message from `a` sent at `t` reaches `b`, or `None` if it
    /// cannot (blocked, or later than `deadline`). Loss becomes retransmission delay.
    fn stream_delay(&mut self, a: usize, b: usize, t: Instant, deadline: Instant) -> Option<Instant> {
        if !self.passes(a, b) {
            return None;
        }
        if self.instant_streams {
            return Some(t);
        }
        let mut at = t + self.latency.sample(&mut self.net_rng);
        let mut rto = STREAM_RTO;
        let mut bad = self.nodes[b].loss_bad;
        for _ in 0..STREAM_MAX_RETRIES {
            if !self.loss.lose(&mut self.net_rng, &mut bad) {
                break;
            }
            at += rto;
            rto *= 2;
        }
        self.nodes[b].loss_bad = bad;
        let at = at + self.nodes[b].slow;
        (at <= deadline).then_some(at)
    }

    fn send_stream(&mut self, from: usize, req: StreamRequest) {
        self.counters.streams_sent += 1;
        self.counters.stream_bytes += req.data.len() as u64;
        let gen = self.nodes[from].gen;
        let deadline = self.now + req.timeout;
        let to = node_index(req.addr).filter(|&j| j < self.nodes.len());
        let arrive = match to {
            Some(to) => self.stream_delay(from, to, self.now, deadline),
            None => None,
        };
        match (to, arrive) {
            (Some(to), Some(at)) => {
                self.push(at, Ev::StreamArrive { from, from_gen: gen, to, req, deadline });
            }
            _ => {
                self.counters.streams_failed += 1;
                if req.expects_reply {
                    self.push(deadline, Ev::StreamFail { node: from, gen, id: req.id });
                }
            }
        }
    }

    // ----- events and records ----------------------------------------------------

    fn trace(&mut self, args: std::fmt::Arguments<'_>) {
        self.line.clear();
        let _ = write!(self.line, "{} ", self.now.as_nanos());
        let _ = self.line.write_fmt(args);
        self.line.push('\n');
        self.hash.write(self.line.as_bytes());
        if let Some(lines) = &mut self.trace_lines {
            lines.push(self.line.trim_end().to_string());
        }
    }

    fn record_event(&mut self, o: usize, e: Event) {
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
                    if let Some(c) = self.nodes[s].crash_record {
                        self.crash_observed(c, o, now, true);
                    }
                }
            }
            _ => {}
        }
    }

    /// Closes `s`'s join record if every running node now sees it live.
    fn check_join(&mut self, s: usize) {
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

    fn delivered(&mut self, to: usize, payload: &[u8]) {
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

    // ----- faults -------------------------------------------------------------------

    fn set_down(&mut self, i: usize, status: Status) {
        let was = self.nodes[i].running();
        self.nodes[i].status = status;
        if was && !self.nodes[i].running() {
            self.running -= 1;
        }
    }

    /// Records observer `o` suspecting (and, if `dead`, declaring dead) the
    /// subject of crash record `c`, once each.
    fn crash_observed(&mut self, c: usize, o: usize, now: Duration, dead: bool) {
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

    fn open_crash_record(&mut self, i: usize, paused: bool) {
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

    fn do_fault(&mut self, f: Fault) {
        self.trace(format_args!("fault {f:?}"));
        let n = self.nodes.len();
        let valid = |i: usize| i < n;
        match f {
            Fault::Loss(l) => self.loss = l,
            Fault::Latency(l) => self.latency = l,
            Fault::Partition(groups) => {
                for node in &mut self.nodes {
                    node.group = 0;
                }
                for (g, members) in groups.iter().enumerate() {
                    for &i in members.iter().filter(|&&i| valid(i)) {
                        self.nodes[i].group = g as u32 + 1;
                    }
                }
                self.partitioned = true;
            }
            Fault::Heal => self.partitioned = false,
            Fault::Cut(a, b) => {
                self.cuts.insert((a.min(b), a.max(b)));
            }
            Fault::Mend(a, b) => {
                self.cuts.remove(&(a.min(b), a.max(b)));
            }
            Fault::Crash(i) if valid(i) && self.nodes[i].status != Status::Crashed => {
                let inc = self.nodes[i].swim.as_ref().map(|s| s.incarnation());
                self.set_down(i, Status::Crashed);
                let slot = &mut self.nodes[i];
                slot.swim = None;
                slot.gen += 1;
                slot.wake_at = None;
                slot.deferred.clear();
                slot.crash_incarnation = inc;
                if let Some(c) = slot.crash_record.take() {
                    // A paused node that crashes: the pause record becomes a crash.
                    self.crashes[c].paused = false;
                    self.nodes[i].crash_record = Some(c);
                } else {
                    self.open_crash_record(i, false);
                }
                self.views.clear_row(i, n);
            }
            Fault::Restart(i) if valid(i) => {
                if self.nodes[i].status != Status::Crashed {
                    self.do_fault(Fault::Crash(i));
                }
                self.start_node(i);
            }
            Fault::Pause(i) if valid(i) && self.nodes[i].status == Status::Up => {
                self.set_down(i, Status::Paused);
                self.nodes[i].wake_at = None;
                self.open_crash_record(i, true);
            }
            Fault::Resume(i) if valid(i) && self.nodes[i].status == Status::Paused => {
                self.nodes[i].status = Status::Up;
                if self.nodes[i].running() {
                    self.running += 1;
                }
                if let Some(c) = self.nodes[i].crash_record.take() {
                    self.crashes[c].closed = Some(self.now());
                }
                let now = self.now;
                if let Some(s) = self.nodes[i].swim.as_mut() {
                    s.handle_timeout(now);
                }
                let deferred = std::mem::take(&mut self.nodes[i].deferred);
                for ev in deferred {
                    self.handle(ev);
                }
                self.drain(i);
            }
            Fault::Slow(i, d) if valid(i) => self.nodes[i].slow = d,
            Fault::Leave(i) if valid(i) && self.nodes[i].running() => {
                let now = self.now;
                if let Some(s) = self.nodes[i].swim.as_mut() {
                    s.leave(now);
                }
                self.nodes[i].leaving = true;
                self.running -= 1;
                self.drain(i);
            }
            Fault::Broadcast(i) => {
                self.broadcast(i);
            }
            Fault::AddNodes(k) => {
                self.add_nodes(k);
            }
            _ => {}
        }
    }

    /// A random running node (from the control RNG), if any.
    pub fn random_running(&mut self) -> Option<usize> {
        let r = self.running_nodes();
        if r.is_empty() {
            None
        } else {
            Some(r[(self.ctl_rng.next_u64() % r.len() as u64) as usize])
        }
    }

    /// A draw from the simulation's control RNG (for scenario choices that
    /// must follow the seed).
    pub fn random_u64(&mut self) -> u64 {
        self.ctl_rng.next_u64()
    }
}
