//! The protocol layer: [`Swim`], one SWIM node as a pure state machine.
//!
//! This file defines `Swim`, its constructor, accessors and timers, and
//! dispatches each incoming message to the file that owns its idea — the way
//! quinn-proto spreads `Connection` over its `connection/` module:
//!
//! | file | idea | follows |
//! | --- | --- | --- |
//! | `probe.rs` | failure detector: direct, indirect, TCP probes, nacks | SWIM §3.1, §4.3; Lifeguard §4.2; memberlist `state.go` `probeNode` |
//! | `state.rs` | alive / suspect / dead / left precedence, refutation | SWIM §4.2; memberlist `state.go` `aliveNode`, `suspectNode`, `deadNode` |
//! | [`suspicion`] | suspicion timers and local health (awareness) | Lifeguard §4.1, §4.3; memberlist `suspicion.go`, `awareness.go` |
//! | [`dissemination`] | the piggyback gossip queue and gossip rounds | SWIM §4.1; memberlist `broadcast.go`, `queue.go` |
//! | `sync.rs` | join and push-pull anti-entropy, version checks | memberlist `state.go` `pushPull`, `net.go` `mergeRemoteState` |
//! | `leave.rs` | graceful leave in Serf's order | Serf `serf.go` `Leave`; memberlist `Leave` |
//! | [`user`] | direct messages and broadcasts (Serf user events, de-dup) | Serf `serf.go` `UserEvent`, `event.go` |
//! | `query.rs` | Serf's queries: asking, answering, filters, relays | Serf `query.go`, `serf.go` `handleQuery` |
//! | `internal_query.rs` | Serf's internal queries: ping, conflict, the keyring queries | Serf `internal_query.go`, `keymanager.go` |
//! | `coordinate.rs` | Vivaldi network coordinates in ack payloads | Serf `coordinate/`, `ping_delegate.go`; Vivaldi (SIGCOMM 2004) |
//! | `conflict.rs` | name conflicts resolved by asking the cluster | Serf `serf.go` `resolveNodeConflict` |
//! | `latest.rs` | "latest value wins" broadcasts | memberlist `NamedBroadcast`; Serf's coalesced user events |
//! | [`members`] | the member table | memberlist `nodeState`, `nodeMap` |
//! | `transmit.rs` | outgoing datagrams with piggybacked gossip | memberlist `net.go` `sendMsg`, `rawSendMsgPacket` |
//! | `stream.rs` | TCP exchanges and their framing | memberlist `net.go` `handleConn`, `readStream` |
//! | `local.rs` | this node's tags and keyring at run time | memberlist `UpdateNode`, `keyring.go` |
//! | `api.rs` | events, deliveries, transmits handed out | — |
//! | `hooks.rs` | the application's extension hooks | memberlist's delegates (`delegate.go`, `ping_delegate.go`, …) |
//! | `admission.rs` | the peer allow-list, admission of members | memberlist `CIDRsAllowed`, Alive/Merge delegates |

mod admission;
mod api;
mod coalesce;
mod conflict;
mod coordinate;
// Hidden, outside semver: public for the simulator and the benches.
#[doc(hidden)]
pub mod dissemination;
mod hooks;
#[doc(hidden)]
pub mod intents;
mod internal_query;
mod latest;
mod leave;
mod local;
#[doc(hidden)]
pub mod members;
mod probe;
mod query;
mod reconnect;
mod state;
mod stream;
#[doc(hidden)]
pub mod suspicion;
mod sync;
mod transmit;
#[doc(hidden)]
pub mod user;
mod warm_start;

pub use admission::{IpNet, IpNetParseError};
pub use api::{Delivery, DeliveryKind, Event, Transmit};
pub use coalesce::DirectRoute;
pub use coordinate::{Coordinate, DIMENSIONS};
pub use hooks::{Candidate, Hooks, MAX_ACK_PAYLOAD, MAX_APP_STATE};
use intents::Intents;
pub use internal_query::{KeyOp, KeyReport};
use leave::LeaveStage;
pub use local::{KeyringError, TagsError};
use probe::{Probe, ProbeStage, Relay};
pub use probe::{ProbeOutcome, ProbeResult, PROBE_RESULTS_CAPACITY};
pub use query::{QueryError, QueryEvent, QueryId, QueryParams, QueryRequest};
use reconnect::Reconnect;
use stream::PendingStream;
pub use stream::{FrameReader, StreamError, StreamFrame, StreamKind, StreamRequest, MAX_STREAM_BYTES};
use sync::CatchUp;
use transmit::{encode_vec, OutKind, Outgoing};
pub use user::{BroadcastError, SendError};

use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::node::{Node, NodeId, State};
use crate::protocol::dissemination::{Eager, GossipQueue, COMPOUND_PART_OVERHEAD};
use crate::protocol::members::{Interner, Member, MemberTable, Profile, WireAddr};
use crate::protocol::suspicion::{Awareness, Suspicion};
use crate::protocol::user::EventDedup;
use crate::time::Instant;
use crate::wire::crypto::Keyring;
use crate::wire::packet::{self, Layers, PacketError};
use crate::wire::{self, msg_type, Message};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::RngCore;

/// memberlist protocol versions we speak: min 1, max 5, current 2 (as Serf forces).
const PROTOCOL_MIN: u8 = 1;
const PROTOCOL_MAX: u8 = 5;
const PROTOCOL_CUR: u8 = 2;
/// Largest decompressed UDP payload accepted.
const MAX_UDP_DECOMPRESSED: usize = 65_536;
/// Nesting of compound/compress wrappers followed in one packet.
const MAX_DEPTH: u8 = 3;

/// One SWIM node as a pure state machine (sans-IO).
///
/// Feed it datagrams ([`handle_packet`](Self::handle_packet)), stream frames
/// ([`handle_stream`](Self::handle_stream), [`handle_stream_reply`](Self::handle_stream_reply))
/// and the time ([`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout)); drain what it wants sent
/// ([`poll_transmit`](Self::poll_transmit), [`poll_stream_request`](Self::poll_stream_request))
/// and what it has to say ([`poll_event`](Self::poll_event)). It never reads
/// a clock, never blocks and draws all randomness from the injected `R`, so the
/// same inputs and seed give the same outputs.
///
/// The RNG also makes the AES-GCM nonces: drivers must seed it from the OS
/// (e.g. a ChaCha RNG seeded by `getrandom`).
///
/// # The contract with a driver
///
/// - **Time** is the driver's: every `now` must come from one monotonic
///   clock (never earlier than the last one given; equal is fine), e.g.
///   `Instant::from_duration(start.elapsed())`. A clock that jumps back
///   makes timers fire late, never early.
/// - **Timers**: [`poll_timeout`](Self::poll_timeout) can move *earlier*
///   only after a `handle_*` call ([`handle_packet`](Self::handle_packet),
///   [`handle_timeout`](Self::handle_timeout), the stream calls), or a call
///   that starts something ([`join`](Self::join), [`leave`](Self::leave),
///   [`broadcast`](Self::broadcast), [`broadcast_latest`](Self::broadcast_latest),
///   [`set_tags`](Self::set_tags), [`query`](Self::query),
///   [`respond_query`](Self::respond_query), the keyring calls,
///   [`send_reliable`](Self::send_reliable), [`copy_view_from`](Self::copy_view_from)):
///   read it again after those. The `poll_*` calls, the encoders of direct
///   sends and the accessors never move it. Calling `handle_timeout` before
///   the deadline is harmless (nothing is due); calling it late only delays.
/// - **Datagrams**: after each of those calls, drain
///   [`poll_transmit`](Self::poll_transmit) until `None`, with a buffer of
///   `udp_buffer_size` bytes. A shorter buffer makes shorter datagrams (less
///   gossip piggybacked); one too short for a datagram's first message
///   drops that datagram and counts it (`Metrics::outgoing_dropped`).
/// - **Streams**: drain [`poll_stream_request`](Self::poll_stream_request),
///   carry each exchange out over TCP within its `timeout`, and settle it
///   with [`handle_stream_reply`](Self::handle_stream_reply) or
///   [`handle_stream_failed`](Self::handle_stream_failed) — also when the
///   exchange is abandoned — or the core keeps waiting for it.
/// - **Deliveries** (user messages) are handed to the `deliver` callback of
///   the `handle_*` call that received them, borrowed from the caller's
///   buffer: copy what must outlive the call.
///
/// - **Hooks** ([`set_hooks`](Self::set_hooks)) are called from inside the
///   `handle_*` calls and the calls that start an exchange, synchronously.
///
/// Which queue drops what, when full (each counted in [`Metrics`]):
///
/// | queue | bound | when full |
/// | --- | --- | --- |
/// | events for [`poll_event`](Self::poll_event) | `max_event_queue` | the new event is dropped (`events_dropped`) |
/// | datagrams for `poll_transmit` | `max_outgoing_queue` | the new datagram is dropped (`outgoing_dropped`) |
/// | gossip to piggyback | `max_gossip_queue_depth` | the oldest item is dropped (`gossip_queue_dropped`) |
/// | indirect probes relayed for others | 1024 in flight | the request is refused (`relays_dropped`) |
///
/// (The drivers' event streams keep the newest events instead and tell a
/// lagging reader; their handler queue is `handoff_queue_depth`.)
pub struct Swim<R> {
    cfg: Config,
    name: NodeId,
    addr: SocketAddr,
    wire_addr: WireAddr,
    incarnation: u32,
    meta: Arc<[u8]>,
    vsn: [u8; 6],
    keyring: Option<Keyring>,
    members: MemberTable,
    /// Probe order: slots of `members`, shuffled each round.
    probe_order: Vec<u32>,
    interner: Option<Arc<dyn Interner>>,
    empty_meta: Arc<[u8]>,
    /// The profile (metadata and versions) of the member added last, shared
    /// with the next identical one.
    last_profile: Option<Arc<Profile>>,
    probe_index: usize,
    probe: Option<Probe>,
    /// Recent probe outcomes for `poll_probe_result` (bounded).
    probe_results: VecDeque<ProbeResult>,
    relays: BTreeMap<u32, Relay>,
    seq: u32,
    gossip: GossipQueue,
    outgoing: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    stream_requests: VecDeque<StreamRequest>,
    pending_streams: BTreeMap<u64, PendingStream>,
    next_stream_id: u64,
    suspicions: BTreeMap<NodeId, Suspicion>,
    /// Accusers sent a refutation directly, and when (see `answer_accuser`).
    answered: Vec<(NodeId, Instant)>,
    awareness: Awareness,
    next_probe: Instant,
    next_gossip: Instant,
    next_push_pull: Instant,
    /// Whether the first anti-entropy interval has started (after the stagger).
    push_pull_armed: bool,
    leave: Option<LeaveStage>,
    catch_up: CatchUp,
    reconnect: Reconnect,
    eager: Eager,
    /// Serf's member-intent Lamport clock (join/leave intents), as witnessed.
    member_clock: u64,
    /// Each member's last intent time (Serf's `statusLTime`).
    intents: Intents,
    dedup: EventDedup,
    /// A running name-conflict resolution (see `conflict.rs`).
    conflict: Option<conflict::Resolution>,
    /// Lost a name conflict: takes no part any more.
    yielded: bool,
    /// Vivaldi network coordinates (Serf's).
    coordinates: coordinate::Coordinates,
    /// Serf queries: the query clock, de-duplication, running asks.
    queries: query::Queries,
    /// "Latest value" topics' newest versions (see `latest.rs`).
    latest: latest::Latest,
    /// A `join` is under way: the events before it are not replayed.
    ignore_old_events: bool,
    metrics: Metrics,
    scratch: Vec<u8>,
    /// The application's extension hooks, if any.
    hooks: Option<alloc::boxed::Box<dyn Hooks>>,
    rng: R,
}

impl<R> fmt::Debug for Swim<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Swim")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("incarnation", &self.incarnation)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl<R: RngCore> Swim<R> {
    /// A node named `config.node_name` (or its address when unset), reachable
    /// at `addr`, starting at `now`. Fails on any configuration mistake.
    pub fn new(config: Config, addr: SocketAddr, mut rng: R, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let keyring = if config.encryption_enabled {
            Some(
                Keyring::new(&config.secret_key)
                    .map_err(|_| ConfigError::InvalidKey { len: config.secret_key.len() })?,
            )
        } else {
            None
        };
        let name = NodeId::from(config.node_name.clone().unwrap_or_else(|| addr.to_string()));
        let d = config.delegate_versions;
        let meta: Arc<[u8]> = Arc::from(config.encoded_meta());
        let hash_key = rng.next_u64();
        // Spread the first probe over one interval so nodes started together do
        // not probe in lock-step.
        let first_probe = now + scale_frac(config.protocol_interval, rng.next_u32());
        // Likewise gossip and anti-entropy (memberlist staggers every ticker):
        // a cluster started at once must not push-pull its whole state at once.
        let first_gossip = now + scale_frac(config.gossip_interval, rng.next_u32());
        let push_pull_stagger = now + scale_frac(config.push_pull_interval, rng.next_u32());
        let first_reconnect = now + scale_frac(config.reconnect_interval, rng.next_u32());
        let mut swim = Swim {
            name,
            addr,
            wire_addr: WireAddr::of(addr),
            // memberlist starts at 1: a Go node adds an unknown node as dead
            // at incarnation 0 and ignores alive messages that do not exceed it.
            incarnation: 1,
            meta,
            vsn: [PROTOCOL_MIN, PROTOCOL_MAX, PROTOCOL_CUR, d.min, d.max, d.current],
            keyring,
            members: MemberTable::new(hash_key ^ 0x9e37_79b9_7f4a_7c15),
            probe_order: Vec::new(),
            interner: None,
            empty_meta: Arc::from(&[][..]),
            last_profile: None,
            probe_index: 0,
            probe: None,
            probe_results: VecDeque::new(),
            relays: BTreeMap::new(),
            seq: rng.next_u32(),
            gossip: GossipQueue::with_seed(config.max_gossip_queue_depth, hash_key ^ 0x51_7cc1_b727_220a),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            stream_requests: VecDeque::new(),
            pending_streams: BTreeMap::new(),
            next_stream_id: 1,
            suspicions: BTreeMap::new(),
            answered: Vec::new(),
            // Local health off: a cap of one leaves the score at 0.
            awareness: Awareness::new(if config.lifeguard_local_health {
                config.awareness_max_multiplier
            } else {
                1
            }),
            next_probe: first_probe,
            next_gossip: first_gossip,
            next_push_pull: push_pull_stagger,
            push_pull_armed: false,
            leave: None,
            catch_up: CatchUp::default(),
            eager: Eager::default(),
            reconnect: Reconnect::new(first_reconnect, hash_key ^ 0x2545_f491_4f6c_dd1d),
            member_clock: 0,
            intents: Intents::default(),
            dedup: EventDedup::with_size(hash_key, config.event_buffer),
            latest: latest::Latest::default(),
            queries: query::Queries::default(),
            coordinates: coordinate::Coordinates::default(),
            conflict: None,
            yielded: false,
            ignore_old_events: false,
            metrics: Metrics::default(),
            scratch: Vec::new(),
            hooks: None,
            rng,
            cfg: config,
        };
        swim.queue_alive_self();
        Ok(swim)
    }

    /// This node's name.
    pub fn name(&self) -> &NodeId {
        &self.name
    }

    /// This node's incarnation number (it rises each time the node refutes).
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// This node as others see it.
    pub fn local_node(&self) -> Node {
        Node {
            id: self.name.clone(),
            addr: self.addr,
            state: if self.leave.is_some() { State::Left } else { State::Alive },
            incarnation: self.incarnation,
            meta: self.meta.clone(),
        }
    }

    /// The live (alive or suspect) members, this node first.
    pub fn members(&self) -> Vec<Node> {
        let mut v = Vec::with_capacity(self.members.len() + 1);
        v.push(self.local_node());
        v.extend(self.members.iter().filter(|m| m.state.is_live()).map(Member::node));
        v
    }

    /// Every member known, dead and left ones included (until forgotten after
    /// `gossip_to_the_dead_time`), this node excluded.
    pub fn all_members(&self) -> impl Iterator<Item = Node> + '_ {
        self.members.iter().map(Member::node)
    }

    /// The state of every member known, this node's first (what
    /// [`local_node`](Self::local_node) and [`all_members`](Self::all_members)
    /// report, without building their views).
    pub fn member_states(&self) -> impl Iterator<Item = State> + '_ {
        let me = if self.leave.is_some() { State::Left } else { State::Alive };
        core::iter::once(me).chain(self.members.iter().map(|m| m.state))
    }

    /// A known member by name (not this node).
    pub fn member(&self, id: &str) -> Option<Node> {
        self.members.get(id).map(Member::node)
    }

    /// How many live members there are, this node included.
    pub fn num_live(&self) -> usize {
        1 + self.members.iter().filter(|m| m.state.is_live()).count()
    }

    /// Counters of everything sent, received, dropped and refused.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics.clone();
        m.gossip_queue_dropped = self.gossip.dropped();
        m
    }

    /// Lifeguard's local health score (0 = healthy).
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// Gossip items waiting to be sent.
    pub fn gossip_queue_len(&self) -> usize {
        self.gossip.len()
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn is_leaving(&self) -> bool {
        self.leave.is_some()
    }

    /// The next membership event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop_front();
        if e.is_none() {
            shrink_idle(&mut self.events);
        }
        e
    }

    /// Whether TCP exchanges are waiting for [`poll_stream_request`](Self::poll_stream_request).
    pub fn has_stream_requests(&self) -> bool {
        !self.stream_requests.is_empty()
    }

    /// The next TCP exchange to carry out, if any.
    pub fn poll_stream_request(&mut self) -> Option<StreamRequest> {
        self.stream_requests.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Instant {
        if self.yielded {
            return Instant::from_nanos(u64::MAX);
        }
        // An empty gossip queue needs no round: an idle node wakes only to
        // probe (memberlist's ticker fires regardless, five times a second).
        // A leave whose intent has gone out moves on at the next round.
        let idle = self.gossip.is_empty() && !matches!(self.leave, Some(LeaveStage::Intent(_)));
        let mut t = if idle { self.next_push_pull } else { self.next_gossip.min(self.next_push_pull) };
        if self.leave.is_none() {
            t = t.min(self.next_probe);
        }
        if let Some(p) = &self.probe {
            t = t.min(match p.stage {
                ProbeStage::Direct { deadline } | ProbeStage::Indirect { deadline, .. } => deadline,
            });
        }
        for r in self.relays.values() {
            t = t.min(r.deadline);
        }
        for s in self.suspicions.values() {
            t = t.min(s.deadline());
        }
        if let Some(c) = self.catch_up.deadline() {
            t = t.min(c);
        }
        t = t.min(self.reconnect.deadline());
        if let Some(e) = self.eager_gossip_deadline() {
            t = t.min(e);
        }
        if let Some(q) = self.queries.deadline() {
            t = t.min(q);
        }
        t
    }

    fn emit(&mut self, e: Event) {
        if self.events.len() >= self.cfg.max_event_queue {
            self.metrics.events_dropped += 1;
        } else {
            self.events.push_back(e);
        }
    }

    /// Runs every timer due at `now`: probe deadlines, indirect-probe relays,
    /// suspicion timeouts, the next probe, gossip and push-pull rounds.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.yielded {
            return;
        }
        self.advance_leave();
        self.expire_relays(now);
        self.advance_probe(now);
        self.expire_suspicions(now);
        if self.leave.is_none() && now >= self.next_probe {
            self.remind_suspects(now);
            self.start_probe(now);
        }
        self.eager_gossip(now);
        if now >= self.next_gossip {
            let interval = self.cfg.gossip_interval;
            let behind = now.saturating_duration_since(self.next_gossip);
            if behind < interval {
                // (Not twice in one instant: the eager round just went.)
                if self.eager.last != now {
                    self.gossip_round(now);
                }
                self.next_gossip = (self.next_gossip + interval).max(now);
                if self.next_gossip == now {
                    self.next_gossip = now + interval;
                }
            } else {
                // Rounds skipped while the queue was empty (no wake-up for
                // them): back onto the grid, the next round at its next
                // point, as if this node had woken for each (the news that
                // ended the quiet went out eagerly).
                let skipped = behind.as_nanos() / interval.as_nanos().max(1) + 1;
                self.next_gossip += crate::time::scale(interval, u32::try_from(skipped).unwrap_or(u32::MAX));
            }
        }
        if now >= self.next_push_pull {
            self.push_pull_round(now);
        }
        self.post_join_sync(now);
        self.reconnect_round(now);
        self.expire_queries(now);
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn random_below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (self.rng.next_u64() % n as u64) as usize
        }
    }

    /// Up to `k` distinct random members accepted by `pick`, excluding `skip`.
    fn random_members(
        &mut self,
        k: usize,
        skip: Option<&str>,
        pick: impl Fn(&Member, Option<Instant>) -> bool,
    ) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = Vec::new();
        let n = self.members.len();
        if k == 0 || n == 0 {
            return out;
        }
        // memberlist's kRandomNodes: random picks, up to 3n tries. Usually
        // about k tries; only a mostly-dead table makes it scan longer.
        for _ in 0..3 * n {
            if out.len() >= k {
                break;
            }
            let i = self.random_below(n) as u32;
            let Some(m) = self.members.at(i) else { continue };
            if Some(m.id.as_str()) == skip || out.contains(&m.id) || !pick(m, self.members.down_since(i)) {
                continue;
            }
            out.push(m.id.clone());
        }
        out
    }

    /// Handles one datagram from `from`, decrypting in place. User messages are
    /// handed to `deliver`, borrowed from `buf` (no copy). Bad input is dropped
    /// and counted in [`metrics`](Self::metrics).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) {
        self.metrics.packets_received += 1;
        self.metrics.bytes_received += buf.len() as u64;
        if self.yielded || !self.admit_peer(from) {
            return;
        }
        let layers = self.layers();
        let plain = match packet::open_packet(buf, &layers) {
            Ok((p, had_crc)) => {
                self.metrics.crc_checked += u64::from(had_crc);
                p
            }
            Err(e) => {
                self.count_packet_error(&e);
                return;
            }
        };
        self.note_heard(now, from);
        self.dispatch(now, from, plain, 0, deliver);
    }

    fn count_packet_error(&mut self, e: &PacketError) {
        let m = &mut self.metrics;
        match e {
            PacketError::LabelMismatch => m.dropped_label += 1,
            PacketError::Decrypt(_) => m.dropped_decrypt += 1,
            PacketError::BadCrc => m.dropped_crc += 1,
            _ => m.dropped_malformed += 1,
        }
    }

    fn dispatch(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        depth: u8,
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) {
        let m = match Message::decode(msg) {
            Ok(m) => m,
            Err(_) => {
                self.metrics.dropped_malformed += 1;
                return;
            }
        };
        // Wrappers (compound, compress) are not counted: their parts are.
        self.metrics.messages_received.count(msg[0]);
        match m {
            Message::Compound(c) => {
                if depth >= MAX_DEPTH {
                    self.metrics.dropped_malformed += 1;
                    return;
                }
                self.metrics.dropped_truncated_parts += c.truncated() as u64;
                for part in c.parts() {
                    self.dispatch(now, from, part, depth + 1, deliver);
                }
            }
            Message::Compress(c) => {
                if depth >= MAX_DEPTH || c.algo != 0 {
                    self.metrics.dropped_decompress += 1;
                    return;
                }
                let mut z = core::mem::take(&mut self.scratch);
                z.clear();
                match crate::wire::lzw::decompress(c.buf, &mut z, MAX_UDP_DECOMPRESSED) {
                    Ok(()) => {
                        self.metrics.decompressed += 1;
                        self.dispatch(now, from, &z, depth + 1, deliver)
                    }
                    Err(_) => self.metrics.dropped_decompress += 1,
                }
                if self.scratch.capacity() < z.capacity() {
                    self.scratch = z;
                }
            }
            Message::Ping(p) => self.handle_ping(now, from, &p),
            Message::IndirectPing(ip) => self.handle_indirect_ping(now, from, &ip),
            Message::Ack(a) => self.handle_ack(now, a.seq_no, probe::AckPath::Udp, a.payload),
            Message::Nack(n) => self.handle_nack(n.seq_no),
            Message::Alive(a) => self.alive_node(now, &a, true),
            Message::Suspect(s) => self.suspect_node(now, s.incarnation, s.node, s.from),
            Message::Dead(d) => self.dead_node(now, d.incarnation, d.node, d.from),
            Message::User(body) => self.handle_user(now, from, body, deliver),
            _ => self.metrics.dropped_unexpected += 1,
        }
    }

    /// Lets several nodes in one process share their member names.
    pub fn set_interner(&mut self, interner: Arc<dyn Interner>) {
        self.interner = Some(interner);
    }

    /// Bytes of heap this node's member table uses (entries and indexes;
    /// names and metadata shared between members are not counted).
    pub fn member_table_bytes(&self) -> usize {
        self.members.heap_bytes() + self.probe_order.capacity() * core::mem::size_of::<u32>()
    }

    /// Serf's Lamport clocks as this node holds them: the highest member
    /// intent time seen (join/leave intents), and the next free user-event time.
    pub fn lamport_clocks(&self) -> (u64, u64) {
        (self.member_clock, self.dedup.time())
    }
}

/// Gives back the memory of a queue that a burst (a big join) grew, once it
/// has been drained: every node would otherwise keep it for good.
fn shrink_idle<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 256 {
        q.shrink_to(16);
    }
}

/// `d * (x / 2^32)`: a random fraction of `d`.
fn scale_frac(d: Duration, x: u32) -> Duration {
    Duration::from_nanos(((d.as_nanos() * x as u128) >> 32) as u64)
}
