//! The SWIM state machine: [`Swim`].

use crate::config::{Config, ConfigError, META_MAX_SIZE};
use crate::crypto::Keyring;
use crate::gossip::{retransmit_limit, GossipQueue, ItemId, COMPOUND_PART_OVERHEAD};
use crate::members::{Interner, Member, MemberTable, Profile, WireAddr};
use crate::metrics::Metrics;
use crate::node::{Node, NodeId, State};
use crate::packet::{self, FrameStatus, Layers, PacketError};
use crate::suspicion::{suspicion_bounds, Awareness, Suspicion};
use crate::time::{scale, Instant};
use crate::user::{self, EventDedup};
use crate::wire::{self, msg_type, CompoundBuilder, Message, PushNodeState, PushPullHeader};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::{String, ToString};
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
use crate::crypto::TAG_LEN;
/// Largest decompressed UDP payload accepted.
const MAX_UDP_DECOMPRESSED: usize = 65_536;
/// Largest stream message accepted (memberlist's `maxPushStateBytes`).
pub const MAX_STREAM_BYTES: usize = crate::crypto::MAX_STREAM_LEN;
/// Indirect probes relayed for others at once.
const MAX_RELAYS: usize = 1024;
/// Nesting of compound/compress wrappers followed in one packet.
const MAX_DEPTH: u8 = 3;

/// A membership change, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A member joined (or came back after being dead or left).
    Join(Node),
    /// A member left gracefully (`state == Left`) or was declared dead
    /// (`state == Dead`).
    Leave(Node),
    /// A member is suspected of having failed.
    Suspect(Node),
    /// A suspected member proved it is alive.
    Alive(Node),
    /// A member's metadata or address changed.
    Update(Node),
}

impl Event {
    /// The member the event is about.
    pub fn node(&self) -> &Node {
        match self {
            Event::Join(n) | Event::Leave(n) | Event::Suspect(n) | Event::Alive(n) | Event::Update(n) => n,
        }
    }
}

/// How a user message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A direct send (UDP or stream) to this node.
    Direct,
    /// A gossip broadcast (a Serf user event), delivered once per node.
    Broadcast,
}

/// A user message handed to the application, borrowed from the packet buffer.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Who sent it: the named sender for direct sends, or the member that
    /// relayed a broadcast to us. Unknown senders get a node with state
    /// `Alive`, incarnation 0 and no metadata.
    pub sender: &'a Node,
    /// The topic (empty for raw messages from non-swim peers).
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// Direct send or broadcast.
    pub kind: DeliveryKind,
}

/// A datagram ready in the caller's buffer: send `buf[..len]` to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// Length of the datagram at the start of the buffer.
    pub len: usize,
}

/// A TCP exchange the driver should carry out: connect to `addr`, write
/// `data`, and, if `expects_reply`, read one frame (see [`Swim::stream_frame`])
/// and pass it to [`Swim::handle_stream_reply`] — or report failure with
/// [`Swim::handle_stream_failed`]. All within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// Identifies the exchange in the reply.
    pub id: u64,
    /// Where to connect.
    pub addr: SocketAddr,
    /// Bytes to write.
    pub data: Vec<u8>,
    /// Whether a reply frame is expected.
    pub expects_reply: bool,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
}

/// Where a complete frame lies in the bytes read so far from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrame {
    /// Read more bytes.
    NeedMore,
    /// `buf[start..end]` is one whole message (pass it to the core); bytes
    /// before `start` were a label header.
    Complete {
        /// First byte of the message.
        start: usize,
        /// One past its last byte.
        end: usize,
    },
}

/// Why a stream exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// The frame could not be opened (label, decryption, decompression).
    Packet(PacketError),
    /// The message inside was malformed.
    Malformed(wire::DecodeError),
    /// A message kind that has no business on this stream.
    Unexpected(u8),
    /// The peer answered with an error message.
    Remote(String),
    /// Versions are incompatible: memberlist refuses to merge such states.
    IncompatibleVersions {
        /// The node whose version is outside the cluster's range.
        node: String,
        /// "protocol" or "delegate".
        which: &'static str,
        /// Its current version.
        version: u8,
        /// The range every live node accepts.
        range: (u8, u8),
    },
    /// The reply does not match any request (already answered or unknown id).
    UnknownStream,
    /// A ping reply carried another sequence number or node name.
    PingMismatch,
    /// This node is leaving and takes no new exchanges.
    Leaving,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Packet(e) => write!(f, "stream refused: {e}"),
            StreamError::Malformed(e) => write!(f, "malformed stream message: {e}"),
            StreamError::Unexpected(t) => write!(f, "unexpected message type {t} on a stream"),
            StreamError::Remote(e) => write!(f, "peer reported an error: {e}"),
            StreamError::IncompatibleVersions { node, which, version, range } if range.0 > range.1 => write!(
                f,
                "node {node} speaks {which} protocol {version}, and the live nodes have no {which} \
                 protocol version in common (Serf agents speak 2..=5, plain Go memberlist 0..=0); \
                 set Config::delegate_versions to match the cluster"
            ),
            StreamError::IncompatibleVersions { node, which, version, range } => write!(
                f,
                "node {node} speaks {which} protocol {version}, but the live nodes accept only {}..={}; \
                 set Config::delegate_versions to match the cluster (Serf or plain memberlist)",
                range.0, range.1
            ),
            StreamError::UnknownStream => f.write_str("reply for an unknown or finished stream"),
            StreamError::PingMismatch => f.write_str("stream ping answered with another sequence number"),
            StreamError::Leaving => f.write_str("this node is leaving"),
        }
    }
}

impl core::error::Error for StreamError {}

impl From<PacketError> for StreamError {
    fn from(e: PacketError) -> Self {
        StreamError::Packet(e)
    }
}

impl From<wire::DecodeError> for StreamError {
    fn from(e: wire::DecodeError) -> Self {
        StreamError::Malformed(e)
    }
}

/// Why a direct send could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No live member has that name.
    UnknownNode(NodeId),
    /// Topic and payload do not fit in one datagram of `udp_buffer_size`.
    TooLarge {
        /// The largest payload that fits with this topic.
        max_payload: usize,
    },
    /// The topic is longer than 255 bytes.
    TopicTooLong,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::UnknownNode(id) => write!(f, "no live member named {id:?}"),
            SendError::TooLarge { max_payload } => write!(
                f,
                "message does not fit in one datagram: at most {max_payload} payload bytes with this topic \
                 (raise udp_buffer_size, or use a reliable send: send_reliable)"
            ),
            SendError::TopicTooLong => f.write_str("topic is longer than 255 bytes"),
        }
    }
}

impl core::error::Error for SendError {}

/// Why a broadcast was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BroadcastError {
    /// Topic and payload do not fit in one gossip packet.
    TooLarge {
        /// The largest payload that fits with this topic.
        max_payload: usize,
    },
    /// The topic is longer than 255 bytes.
    TopicTooLong,
    /// This node has left the cluster.
    Leaving,
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::TooLarge { max_payload } => write!(
                f,
                "broadcast does not fit in one gossip packet: at most {max_payload} payload bytes with this topic"
            ),
            BroadcastError::TopicTooLong => f.write_str("topic is longer than 255 bytes"),
            BroadcastError::Leaving => f.write_str("this node has left the cluster"),
        }
    }
}

impl core::error::Error for BroadcastError {}

/// Why new tags were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagsError {
    /// The encoded tags are longer than 512 bytes (memberlist's limit).
    TooLarge(usize),
    /// This node is leaving: announcing new tags would undo the leave.
    Leaving,
}

impl fmt::Display for TagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagsError::TooLarge(n) => {
                write!(f, "tags encode to {n} bytes; memberlist allows at most {META_MAX_SIZE}")
            }
            TagsError::Leaving => f.write_str("this node is leaving; its tags can no longer change"),
        }
    }
}

impl core::error::Error for TagsError {}

/// Why a keyring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// Encryption is not enabled on this node: there is no keyring.
    Disabled,
    /// The keyring refused the operation.
    Key(crate::crypto::KeyError),
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Disabled => {
                f.write_str("encryption is not enabled on this node, so it has no keyring")
            }
            KeyringError::Key(e) => write!(f, "keyring: {e}"),
        }
    }
}

impl core::error::Error for KeyringError {}

fn socket_addr(ip: &[u8], port: u16) -> Option<SocketAddr> {
    WireAddr::from_wire(ip, port).map(|w| w.socket_addr())
}

#[derive(Debug, Clone)]
enum OutKind {
    Ping { seq: u32, target: NodeId, suspect: Option<u32> },
    IndirectPing { seq: u32, target: NodeId, target_ip: WireAddr, nack: bool },
    Ack { seq: u32 },
    Nack { seq: u32 },
    Suspect { incarnation: u32, node: NodeId },
    Gossip,
}

#[derive(Debug, Clone)]
struct Outgoing {
    to: SocketAddr,
    crc: bool,
    kind: OutKind,
}

#[derive(Debug, Clone)]
enum ProbeStage {
    Direct { deadline: Instant },
    Indirect { deadline: Instant, expected_nacks: u32, nacks: u32 },
}

#[derive(Debug, Clone)]
struct Probe {
    target: NodeId,
    seq: u32,
    start: Instant,
    stage: ProbeStage,
}

#[derive(Debug, Clone)]
struct Relay {
    orig_seq: u32,
    reply_to: SocketAddr,
    nack: bool,
    deadline: Instant,
}

/// A graceful leave, in Serf's order: first Serf's leave intent spreads (so
/// Serf agents show this node `left`, not `failed`), then memberlist's dead
/// message about ourselves.
#[derive(Debug, Clone, Copy)]
enum LeaveStage {
    Intent(ItemId),
    Dead(ItemId),
}

#[derive(Debug, Clone)]
enum PendingStream {
    PushPull,
    Ping { seq: u32 },
    User,
}

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
    relays: BTreeMap<u32, Relay>,
    seq: u32,
    gossip: GossipQueue,
    outgoing: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    stream_requests: VecDeque<StreamRequest>,
    pending_streams: BTreeMap<u64, PendingStream>,
    next_stream_id: u64,
    suspicions: BTreeMap<NodeId, Suspicion>,
    awareness: Awareness,
    next_probe: Instant,
    next_gossip: Instant,
    next_push_pull: Instant,
    /// Whether the first anti-entropy interval has started (after the stagger).
    push_pull_armed: bool,
    leave: Option<LeaveStage>,
    /// Serf's member-intent Lamport clock (join/leave intents), as witnessed.
    member_clock: u64,
    dedup: EventDedup,
    metrics: Metrics,
    scratch: Vec<u8>,
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
            relays: BTreeMap::new(),
            seq: rng.next_u32(),
            gossip: GossipQueue::with_seed(config.max_gossip_queue_depth, hash_key ^ 0x51_7cc1_b727_220a),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            stream_requests: VecDeque::new(),
            pending_streams: BTreeMap::new(),
            next_stream_id: 1,
            suspicions: BTreeMap::new(),
            awareness: Awareness::new(config.awareness_max_multiplier),
            next_probe: first_probe,
            next_gossip: first_gossip,
            next_push_pull: push_pull_stagger,
            push_pull_armed: false,
            leave: None,
            member_clock: 0,
            dedup: EventDedup::new(hash_key),
            metrics: Metrics::default(),
            scratch: Vec::new(),
            rng,
            cfg: config,
        };
        swim.queue_alive_self();
        Ok(swim)
    }

    // ----- accessors -------------------------------------------------------

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

    // ----- driver interface: output -----------------------------------------

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
        let mut t = self.next_gossip.min(self.next_push_pull);
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
        t
    }

    /// Encodes the next datagram into `buf` (which should hold
    /// `udp_buffer_size` bytes) and says where to send it; `None` when there
    /// is nothing to send. Queued gossip is piggybacked. Allocates nothing
    /// unless compression is on.
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(out) = self.outgoing.pop_front() {
            if let Some(t) = self.encode_outgoing(out, buf) {
                self.metrics.packets_sent += 1;
                self.metrics.bytes_sent += t.len as u64;
                return Some(t);
            }
        }
        shrink_idle(&mut self.outgoing);
        None
    }

    fn layers(&self) -> Layers<'_> {
        Layers { label: self.cfg.label.as_bytes(), keyring: self.keyring.as_ref(), verify_incoming: true }
    }

    fn nonce(&mut self) -> [u8; 12] {
        let mut n = [0u8; 12];
        self.rng.fill_bytes(&mut n);
        n
    }

    /// Bytes available for the message itself in a datagram.
    fn body_room(&self, crc: bool) -> usize {
        let layers = self.layers();
        let tag = if self.keyring.is_some() { TAG_LEN } else { 0 };
        self.cfg.udp_buffer_size.saturating_sub(packet::header_room(&layers, crc) + tag)
    }

    fn encode_outgoing(&mut self, out: Outgoing, buf: &mut [u8]) -> Option<Transmit> {
        let limit = retransmit_limit(self.cfg.retransmit_mult, self.members.len() + 1);
        let nonce = self.nonce();
        let layers = Layers {
            label: self.cfg.label.as_bytes(),
            keyring: self.keyring.as_ref(),
            verify_incoming: true,
        };
        let room = packet::header_room(&layers, out.crc);
        let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
        let end = self.cfg.udp_buffer_size.min(buf.len()).checked_sub(tag)?;
        if end <= room {
            return None;
        }
        let name = self.name.as_str();
        let (src_ip, src_port) = (self.wire_addr.ip_bytes(), self.addr.port());
        let mut b = CompoundBuilder::new(&mut buf[room..end]);
        let first = match &out.kind {
            OutKind::Ping { seq, target, suspect } => {
                let ping = Message::Ping(wire::Ping {
                    seq_no: *seq,
                    node: target.as_str(),
                    source_addr: src_ip,
                    source_port: src_port,
                    source_node: name,
                });
                let r = push_msg(&mut b, &ping);
                if let Some(incarnation) = suspect {
                    let s = Message::Suspect(wire::Suspect {
                        incarnation: *incarnation,
                        node: target.as_str(),
                        from: name,
                    });
                    let _ = push_msg(&mut b, &s);
                }
                r
            }
            OutKind::IndirectPing { seq, target, target_ip, nack } => push_msg(
                &mut b,
                &Message::IndirectPing(wire::IndirectPing {
                    seq_no: *seq,
                    target: target_ip.ip_bytes(),
                    port: target_ip.port(),
                    node: target.as_str(),
                    nack: *nack,
                    source_addr: src_ip,
                    source_port: src_port,
                    source_node: name,
                }),
            ),
            OutKind::Ack { seq } => push_msg(&mut b, &Message::Ack(wire::Ack { seq_no: *seq, payload: &[] })),
            OutKind::Nack { seq } => push_msg(&mut b, &Message::Nack(wire::Nack { seq_no: *seq })),
            OutKind::Suspect { incarnation, node } => push_msg(
                &mut b,
                &Message::Suspect(wire::Suspect {
                    incarnation: *incarnation,
                    node: node.as_str(),
                    from: name,
                }),
            ),
            OutKind::Gossip => true,
        };
        if !first {
            self.metrics.outgoing_dropped += 1;
            return None;
        }
        let max_parts = 255usize.saturating_sub(b.count());
        self.gossip.drain_into(limit, max_parts, |m| b.push(m).is_ok());
        if b.count() == 0 {
            return None;
        }
        let mut len = b.finish();
        if self.cfg.compression {
            let mut z = core::mem::take(&mut self.scratch);
            z.clear();
            crate::lzw::encode_compress(&buf[room..room + len], &mut z);
            if z.len() < len {
                buf[room..room + z.len()].copy_from_slice(&z);
                len = z.len();
            }
            self.scratch = z;
        }
        let n = packet::seal_packet(buf, room, len, &layers, out.crc, nonce).ok()?;
        Some(Transmit { dst: out.to, len: n })
    }

    fn enqueue(&mut self, to: SocketAddr, kind: OutKind) {
        if self.outgoing.len() >= self.cfg.max_outgoing_queue {
            self.metrics.outgoing_dropped += 1;
            return;
        }
        let crc = self.members.by_addr(to).is_some_and(|m| m.pmax() >= 5);
        self.outgoing.push_back(Outgoing { to, crc, kind });
    }

    fn emit(&mut self, e: Event) {
        if self.events.len() >= self.cfg.max_event_queue {
            self.metrics.events_dropped += 1;
        } else {
            self.events.push_back(e);
        }
    }

    // ----- commands ----------------------------------------------------------

    /// Starts joining through the node at `addr`: a push-pull state exchange
    /// over TCP. Carry out the returned request; the reply merges the cluster's
    /// state ([`handle_stream_reply`](Self::handle_stream_reply) reports success).
    pub fn join(&mut self, _now: Instant, addr: SocketAddr) -> StreamRequest {
        self.push_pull_request(addr, true)
    }

    /// Queues a broadcast of `payload` under `topic` to every member (gossip,
    /// eventually consistent, delivered once per node; not to this node).
    pub fn broadcast(&mut self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        if self.leave.is_some() {
            return Err(BroadcastError::Leaving);
        }
        if topic.len() > user::MAX_TOPIC_LEN {
            return Err(BroadcastError::TopicTooLong);
        }
        let max_msg = self.max_gossip_len();
        let probe = crate::serf::UserEvent { ltime: u64::MAX, name: topic, payload: &[], cc: false };
        let overhead = probe.encoded_len() + 5; // payload length prefix grows by up to 5 bytes
        if overhead + payload.len() > max_msg {
            return Err(BroadcastError::TooLarge { max_payload: max_msg.saturating_sub(overhead) });
        }
        let ltime = self.dedup.next_local(topic, payload);
        let ev = crate::serf::UserEvent { ltime, name: topic, payload, cc: false };
        let mut msg = vec![0u8; ev.encoded_len()];
        match ev.encode(&mut msg) {
            Ok(n) => msg.truncate(n),
            Err(_) => return Err(BroadcastError::TooLarge { max_payload: max_msg.saturating_sub(overhead) }),
        }
        self.gossip.push(None, msg);
        Ok(())
    }

    /// Largest gossip message that fits alone in a packet.
    fn max_gossip_len(&self) -> usize {
        self.body_room(true).saturating_sub(4 + COMPOUND_PART_OVERHEAD)
    }

    /// Encodes a direct message to the live member `target` into `buf`;
    /// returns where to send `buf[..len]`. No allocation.
    pub fn encode_direct(
        &mut self,
        target: &NodeId,
        topic: &str,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<Transmit, SendError> {
        let (addr, crc) = match self.members.get(target.as_str()) {
            Some(m) if m.state.is_live() => (m.addr(), m.pmax() >= 5),
            _ => return Err(SendError::UnknownNode(target.clone())),
        };
        self.encode_direct_inner(addr, crc, topic, payload, buf)
    }

    /// Encodes a direct message to `addr` (which need not be a member) into `buf`.
    pub fn encode_direct_to_addr(
        &mut self,
        addr: SocketAddr,
        topic: &str,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<Transmit, SendError> {
        let crc = self.members.by_addr(addr).is_some_and(|m| m.pmax() >= 5);
        self.encode_direct_inner(addr, crc, topic, payload, buf)
    }

    /// The largest direct-send payload that fits one datagram with `topic`.
    pub fn max_direct_payload(&self, topic: &str) -> usize {
        self.body_room(true).saturating_sub(user::direct_overhead(self.name.as_str()) + topic.len())
    }

    fn encode_direct_inner(
        &mut self,
        to: SocketAddr,
        crc: bool,
        topic: &str,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<Transmit, SendError> {
        if topic.len() > user::MAX_TOPIC_LEN {
            return Err(SendError::TopicTooLong);
        }
        let too_large = SendError::TooLarge { max_payload: self.max_direct_payload(topic) };
        let nonce = self.nonce();
        let layers = Layers {
            label: self.cfg.label.as_bytes(),
            keyring: self.keyring.as_ref(),
            verify_incoming: true,
        };
        let room = packet::header_room(&layers, crc);
        let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
        let end = self.cfg.udp_buffer_size.min(buf.len()).saturating_sub(tag);
        let body = buf.get_mut(room..end).ok_or(too_large.clone())?;
        let len = user::encode_direct(body, self.name.as_str(), topic, payload).ok_or(too_large.clone())?;
        let n = packet::seal_packet(buf, room, len, &layers, crc, nonce).map_err(|_| too_large)?;
        self.metrics.packets_sent += 1;
        self.metrics.bytes_sent += n as u64;
        Ok(Transmit { dst: to, len: n })
    }

    /// A reliable (TCP) direct message to `addr`: no size limit but
    /// `MAX_STREAM_BYTES`; no reply is expected.
    pub fn send_reliable(
        &mut self,
        addr: SocketAddr,
        topic: &str,
        payload: &[u8],
    ) -> Result<StreamRequest, SendError> {
        if topic.len() > user::MAX_TOPIC_LEN {
            return Err(SendError::TopicTooLong);
        }
        let len = user::direct_overhead(self.name.as_str()) + topic.len() + payload.len();
        if len > MAX_STREAM_BYTES {
            return Err(SendError::TooLarge { max_payload: MAX_STREAM_BYTES - (len - payload.len()) });
        }
        let mut framed = vec![0u8; len];
        let n = user::encode_direct(&mut framed, self.name.as_str(), topic, payload)
            .ok_or(SendError::TopicTooLong)?;
        let mut msg = Vec::with_capacity(n + 8);
        wire::encode_user_stream(&mut msg, &framed[1..n]);
        Ok(self.stream_request(addr, &msg, PendingStream::User, false))
    }

    /// Leaves gracefully and stops probing: gossips Serf's leave intent, then
    /// (once that has spread) memberlist's dead message about this node, the
    /// order Serf uses so that Serf agents show it `left`. Keep driving the
    /// node until [`leave_complete`](Self::leave_complete) (or a timeout),
    /// then stop it.
    pub fn leave(&mut self, _now: Instant) {
        if self.leave.is_some() {
            return;
        }
        self.probe = None;
        self.member_clock += 1;
        let intent = crate::serf::Leave { ltime: self.member_clock, node: self.name.as_str(), prune: false };
        let mut msg = vec![0u8; 32 + self.name.as_str().len()];
        let n = intent.encode(&mut msg).unwrap_or(0);
        msg.truncate(n);
        let id = self.gossip.push(None, msg);
        self.gossip.pin(id);
        self.leave = Some(LeaveStage::Intent(id));
    }

    /// Moves a leave on once its intent has been sent its full retransmit limit.
    fn advance_leave(&mut self) {
        let Some(LeaveStage::Intent(intent)) = self.leave else { return };
        if self.gossip.contains(intent) && self.num_live() > 1 {
            return;
        }
        let name = self.name.clone();
        let msg = encode_vec(&Message::Dead(wire::Dead {
            incarnation: self.incarnation,
            node: name.as_str(),
            from: name.as_str(),
        }));
        let id = self.gossip.push(Some(name), msg);
        self.gossip.pin(id);
        self.leave = Some(LeaveStage::Dead(id));
    }

    /// Whether the leave messages have been gossiped their full retransmit
    /// limit (as memberlist and Serf wait for), or there is nobody to tell.
    pub fn leave_complete(&self) -> bool {
        match self.leave {
            None => false,
            Some(_) if self.num_live() == 1 => true,
            Some(LeaveStage::Intent(_)) => false,
            Some(LeaveStage::Dead(id)) => !self.gossip.contains(id),
        }
    }

    /// Replaces this node's tags (Serf-encoded metadata, at most 512 bytes):
    /// raises the incarnation and gossips the change; members see `Update`.
    pub fn set_tags(&mut self, tags: BTreeMap<String, String>) -> Result<(), TagsError> {
        if self.leave.is_some() {
            return Err(TagsError::Leaving);
        }
        let mut meta = Vec::new();
        crate::serf::encode_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut meta);
        if meta.len() > META_MAX_SIZE {
            return Err(TagsError::TooLarge(meta.len()));
        }
        self.cfg.tags = tags;
        self.meta = Arc::from(meta);
        self.incarnation = self.incarnation.saturating_add(1);
        self.queue_alive_self();
        Ok(())
    }

    /// The keys in use, primary first (`None` without encryption).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Adds a key that incoming packets may be encrypted with. Rotate a
    /// cluster's key by installing the new key on every node, then making it
    /// primary everywhere ([`use_key`](Self::use_key)), then removing the old one.
    pub fn install_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.add_key(key).map_err(KeyringError::Key)
    }

    /// Makes an installed key the one outgoing packets are encrypted with.
    pub fn use_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.use_key(key).map_err(KeyringError::Key)
    }

    /// Removes a key that is no longer primary.
    pub fn remove_key(&mut self, key: &[u8]) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.remove_key(key).map_err(KeyringError::Key)
    }

    // ----- timers --------------------------------------------------------------

    /// Runs every timer due at `now`: probe deadlines, indirect-probe relays,
    /// suspicion timeouts, the next probe, gossip and push-pull rounds.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_leave();
        self.expire_relays(now);
        self.advance_probe(now);
        self.expire_suspicions(now);
        if self.leave.is_none() && now >= self.next_probe {
            self.start_probe(now);
        }
        if now >= self.next_gossip {
            self.gossip_round(now);
            self.next_gossip = (self.next_gossip + self.cfg.gossip_interval).max(now);
            if self.next_gossip == now {
                self.next_gossip = now + self.cfg.gossip_interval;
            }
        }
        if now >= self.next_push_pull {
            self.push_pull_round(now);
        }
    }

    fn expire_relays(&mut self, now: Instant) {
        // One pass (it restarted from the first relay for each expired one).
        let mut nacks = Vec::new();
        self.relays.retain(|_, r| {
            let live = r.deadline > now;
            if !live && r.nack {
                nacks.push((r.reply_to, r.orig_seq));
            }
            live
        });
        for (to, seq) in nacks {
            self.enqueue(to, OutKind::Nack { seq });
        }
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

    fn reset_probe_order(&mut self, now: Instant) {
        // Forget members dead or left for longer than gossip_to_the_dead_time.
        let keep = self.cfg.gossip_to_the_dead_time;
        let suspicions = &mut self.suspicions;
        self.members.retain(|m, since| {
            let forget =
                !m.state.is_live() && since.map_or(true, |t| now.saturating_duration_since(t) > keep);
            if forget {
                suspicions.remove(m.id.as_str());
            }
            !forget
        });
        self.probe_order = (0..self.members.len() as u32).collect();
        for i in (1..self.probe_order.len()).rev() {
            let j = self.random_below(i + 1);
            self.probe_order.swap(i, j);
        }
        self.probe_index = 0;
    }

    fn start_probe(&mut self, now: Instant) {
        self.next_probe = now + self.awareness.scale(self.cfg.protocol_interval);
        if self.probe.is_some() {
            return;
        }
        let mut target = None;
        let mut visited = 0usize;
        while visited <= self.probe_order.len() {
            if self.probe_index >= self.probe_order.len() {
                self.reset_probe_order(now);
                if self.probe_order.is_empty() {
                    return;
                }
            }
            let slot = self.probe_order[self.probe_index];
            self.probe_index += 1;
            visited += 1;
            if let Some(m) = self.members.at(slot) {
                if m.state.is_live() {
                    target = Some((m.id.clone(), m.addr(), m.state, m.incarnation));
                    break;
                }
            }
        }
        let Some((id, addr, state, incarnation)) = target else { return };
        let seq = self.next_seq();
        self.metrics.probes += 1;
        // Buddy system: a suspect hears about its suspicion with the probe.
        let suspect = (state == State::Suspect).then_some(incarnation);
        self.enqueue(addr, OutKind::Ping { seq, target: id.clone(), suspect });
        let deadline = now + self.cfg.probe_timeout;
        self.probe = Some(Probe { target: id, seq, start: now, stage: ProbeStage::Direct { deadline } });
    }

    fn advance_probe(&mut self, now: Instant) {
        let Some(probe) = self.probe.clone() else { return };
        match probe.stage {
            ProbeStage::Direct { deadline } if now >= deadline => {
                let Some(m) = self.members.get(&probe.target) else {
                    self.probe = None;
                    return;
                };
                let (t_ip, t_pmax) = (m.wire_addr(), m.pmax());
                let t_addr = m.addr();
                self.metrics.indirect_probes += 1;
                let helpers =
                    self.random_members(self.cfg.indirect_checks, Some(probe.target.as_str()), |m, _| {
                        m.state == State::Alive
                    });
                let mut expected_nacks = 0;
                for h in helpers {
                    let Some(hm) = self.members.get(&h) else { continue };
                    let nack = hm.pmax() >= 4;
                    expected_nacks += nack as u32;
                    let to = hm.addr();
                    self.enqueue(
                        to,
                        OutKind::IndirectPing {
                            seq: probe.seq,
                            target: probe.target.clone(),
                            target_ip: t_ip,
                            nack,
                        },
                    );
                }
                if self.cfg.tcp_fallback_probe && t_pmax >= 3 {
                    let ping = encode_vec(&Message::Ping(wire::Ping {
                        seq_no: probe.seq,
                        node: probe.target.as_str(),
                        source_addr: self.wire_addr.ip_bytes(),
                        source_port: self.addr.port(),
                        source_node: self.name.as_str(),
                    }));
                    let req =
                        self.stream_request(t_addr, &ping, PendingStream::Ping { seq: probe.seq }, true);
                    self.stream_requests.push_back(req);
                }
                let deadline = probe.start + self.awareness.scale(self.cfg.protocol_interval);
                if let Some(p) = &mut self.probe {
                    p.stage = ProbeStage::Indirect { deadline, expected_nacks, nacks: 0 };
                }
            }
            ProbeStage::Indirect { deadline, expected_nacks, nacks } if now >= deadline => {
                self.probe = None;
                self.metrics.failed_probes += 1;
                let delta = if expected_nacks > 0 { expected_nacks.saturating_sub(nacks) as i32 } else { 1 };
                self.awareness.apply(delta);
                if let Some(m) = self.members.get(&probe.target) {
                    if m.state.is_live() {
                        let inc = m.incarnation;
                        let me = self.name.clone();
                        self.suspect_node(now, inc, probe.target.as_str(), me.as_str());
                    }
                }
            }
            _ => {}
        }
    }

    fn expire_suspicions(&mut self, now: Instant) {
        let due: Vec<NodeId> =
            self.suspicions.iter().filter(|(_, s)| s.deadline() <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            self.suspicions.remove(&id);
            let Some(m) = self.members.get(&id) else { continue };
            if m.state != State::Suspect {
                continue;
            }
            let inc = m.incarnation;
            self.metrics.declared_dead += 1;
            let me = self.name.clone();
            self.dead_node(now, inc, id.as_str(), me.as_str());
        }
    }

    fn gossip_round(&mut self, now: Instant) {
        if self.gossip.is_empty() {
            return;
        }
        let dead_window = self.cfg.gossip_to_the_dead_time;
        let targets = self.random_members(self.cfg.gossip_nodes, None, |m, since| {
            m.state.is_live()
                || (m.state == State::Dead
                    && since.is_some_and(|t| now.saturating_duration_since(t) < dead_window))
        });
        for id in targets {
            if let Some(m) = self.members.get(&id) {
                let to = m.addr();
                self.enqueue(to, OutKind::Gossip);
            }
        }
    }

    fn push_pull_round(&mut self, now: Instant) {
        if self.cfg.push_pull_interval.is_zero() {
            self.next_push_pull = Instant::from_nanos(u64::MAX);
            return;
        }
        let n = self.num_live();
        self.next_push_pull = now + push_pull_scale(self.cfg.push_pull_interval, n);
        if !self.push_pull_armed {
            // The stagger is over; as memberlist, the first exchange comes one
            // (scaled) interval later, when the cluster size is known.
            self.push_pull_armed = true;
            return;
        }
        if self.leave.is_some() {
            return;
        }
        let picked = self.random_members(1, None, |m, _| m.state == State::Alive);
        if let Some(addr) = picked.first().and_then(|id| self.members.get(id)).map(Member::addr) {
            let req = self.push_pull_request(addr, false);
            self.stream_requests.push_back(req);
        }
    }

    // ----- packets in ----------------------------------------------------------

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
                match crate::lzw::decompress(c.buf, &mut z, MAX_UDP_DECOMPRESSED) {
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
            Message::Ping(p) => {
                if !p.node.is_empty() && p.node != self.name.as_str() {
                    self.metrics.dropped_wrong_node += 1;
                    return;
                }
                let to = reply_addr(from, p.source_addr, p.source_port);
                self.enqueue(to, OutKind::Ack { seq: p.seq_no });
            }
            Message::IndirectPing(ip) => self.handle_indirect_ping(now, from, &ip),
            Message::Ack(a) => self.handle_ack(now, a.seq_no),
            Message::Nack(n) => self.handle_nack(n.seq_no),
            Message::Alive(a) => self.alive_node(now, &a),
            Message::Suspect(s) => self.suspect_node(now, s.incarnation, s.node, s.from),
            Message::Dead(d) => self.dead_node(now, d.incarnation, d.node, d.from),
            Message::User(body) => self.handle_user(from, body, deliver),
            _ => self.metrics.dropped_unexpected += 1,
        }
    }

    fn handle_indirect_ping(&mut self, now: Instant, from: SocketAddr, ip: &wire::IndirectPing<'_>) {
        let Some(target) = socket_addr(ip.target, ip.port) else {
            self.metrics.dropped_invalid_member += 1;
            return;
        };
        if self.relays.len() >= MAX_RELAYS {
            self.metrics.relays_dropped += 1;
            return;
        }
        let seq = self.next_seq();
        let reply_to = reply_addr(from, ip.source_addr, ip.source_port);
        let deadline = now + self.cfg.probe_timeout;
        self.relays.insert(seq, Relay { orig_seq: ip.seq_no, reply_to, nack: ip.nack, deadline });
        self.enqueue(target, OutKind::Ping { seq, target: NodeId::from(ip.node), suspect: None });
    }

    fn handle_ack(&mut self, _now: Instant, seq: u32) {
        if let Some(r) = self.relays.remove(&seq) {
            self.enqueue(r.reply_to, OutKind::Ack { seq: r.orig_seq });
            return;
        }
        if self.probe.as_ref().is_some_and(|p| p.seq == seq) {
            self.probe = None;
            self.awareness.apply(-1);
            return;
        }
        self.metrics.stale_acks += 1;
    }

    fn handle_nack(&mut self, seq: u32) {
        if let Some(Probe { seq: s, stage: ProbeStage::Indirect { nacks, .. }, .. }) = &mut self.probe {
            if *s == seq {
                *nacks += 1;
                return;
            }
        }
        self.metrics.stale_acks += 1;
    }

    fn handle_user(&mut self, from: SocketAddr, body: &[u8], deliver: &mut dyn FnMut(Delivery<'_>)) {
        match body.first() {
            Some(&crate::serf::USER_EVENT) => {
                let ev = match crate::serf::UserEvent::decode(body) {
                    Ok(ev) => ev,
                    Err(_) => {
                        self.metrics.dropped_malformed += 1;
                        return;
                    }
                };
                match self.dedup.observe(ev.ltime, ev.name, ev.payload) {
                    user::Seen::New => {}
                    user::Seen::Duplicate => {
                        self.metrics.broadcasts_duplicate += 1;
                        return;
                    }
                    user::Seen::TooOld => {
                        self.metrics.broadcasts_too_old += 1;
                        return;
                    }
                }
                self.metrics.broadcasts_received += 1;
                // Re-gossip exactly what we received.
                let mut msg = Vec::with_capacity(body.len() + 1);
                msg.push(msg_type::USER);
                msg.extend_from_slice(body);
                self.gossip.push(None, msg);
                let relay = self.members.by_addr(from).map(|m| m.id.clone());
                self.deliver_from(
                    relay.as_ref().map(|n| n.as_str()).unwrap_or(""),
                    from,
                    ev.name,
                    ev.payload,
                    DeliveryKind::Broadcast,
                    deliver,
                );
            }
            Some(&t) if crate::serf::is_serf_message(body) => {
                // Serf's own traffic is not for the application, but its member
                // intents carry the Lamport clock our leave intent must exceed.
                let ltime = match t {
                    crate::serf::JOIN => crate::serf::Join::decode(body).map(|j| j.ltime).ok(),
                    crate::serf::LEAVE => crate::serf::Leave::decode(body).map(|l| l.ltime).ok(),
                    _ => None,
                };
                if let Some(lt) = ltime {
                    self.member_clock = self.member_clock.max(lt);
                }
                self.metrics.serf_messages_ignored += 1;
            }
            _ => {
                let d = user::decode_direct(body);
                self.metrics.user_messages_received += 1;
                self.deliver_from(d.sender, from, d.topic, d.payload, DeliveryKind::Direct, deliver);
            }
        }
    }

    fn deliver_from(
        &self,
        sender: &str,
        from: SocketAddr,
        topic: &str,
        payload: &[u8],
        kind: DeliveryKind,
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) {
        if let Some(m) = self.members.get(sender) {
            let node = m.node();
            deliver(Delivery { sender: &node, topic, payload, kind });
            return;
        }
        if !sender.is_empty() && sender == self.name.as_str() {
            let me = self.local_node();
            deliver(Delivery { sender: &me, topic, payload, kind });
            return;
        }
        let id = if sender.is_empty() { NodeId::from(from.to_string()) } else { NodeId::from(sender) };
        let tmp = Node { id, addr: from, state: State::Alive, incarnation: 0, meta: self.empty_meta.clone() };
        deliver(Delivery { sender: &tmp, topic, payload, kind });
    }

    // ----- membership ------------------------------------------------------------

    fn queue_alive_self(&mut self) {
        let msg = encode_vec(&Message::Alive(wire::Alive {
            incarnation: self.incarnation,
            node: self.name.as_str(),
            addr: self.wire_addr.ip_bytes(),
            port: self.addr.port(),
            meta: &self.meta,
            vsn: &self.vsn,
        }));
        let name = self.name.clone();
        self.gossip.push(Some(name), msg);
    }

    fn refute(&mut self, accused: u32) {
        self.incarnation = self.incarnation.max(accused).saturating_add(1);
        self.metrics.refutes += 1;
        self.awareness.apply(1);
        self.queue_alive_self();
    }

    fn alive_node(&mut self, now: Instant, a: &wire::Alive<'_>) {
        let Some(waddr) = WireAddr::from_wire(a.addr, a.port) else {
            self.metrics.dropped_invalid_member += 1;
            return;
        };
        let addr = waddr.socket_addr();
        let bad_vsn = a.vsn.len() >= 2 && (a.vsn[0] == 0 || a.vsn[1] == 0 || a.vsn[0] > a.vsn[1]);
        if bad_vsn || a.meta.len() > META_MAX_SIZE || a.node.is_empty() {
            self.metrics.dropped_invalid_member += 1;
            return;
        }
        if a.node == self.name.as_str() {
            if self.leave.is_some() || a.incarnation < self.incarnation {
                return;
            }
            if a.incarnation == self.incarnation && addr == self.addr && *a.meta == *self.meta {
                return;
            }
            self.refute(a.incarnation);
            return;
        }
        let mut vsn = [PROTOCOL_MIN, PROTOCOL_CUR, PROTOCOL_CUR, 0, 0, 0];
        for (d, s) in vsn.iter_mut().zip(a.vsn.iter()) {
            *d = *s;
        }
        let event = match self.members.index(a.node) {
            None => {
                let id = match &self.interner {
                    Some(i) => i.intern(a.node),
                    None => NodeId::from(a.node),
                };
                let profile = self.share_profile(a.meta, vsn);
                let m = Member::new(id, waddr, profile, a.incarnation);
                let node = m.node();
                let slot = self.members.insert(m);
                // Insert at a random place in the rest of this probe round.
                self.probe_order.push(slot);
                let last = self.probe_order.len() - 1;
                let lo = self.probe_index.min(last);
                let j = lo + self.random_below(last - lo + 1);
                self.probe_order.swap(last, j);
                Event::Join(node)
            }
            Some(i) => {
                let since = self.members.down_since(i);
                let Some(m) = self.members.at_mut(i) else { return };
                // memberlist's rule: a name moves to another address only if
                // its member left, or died longer than the reclaim time ago.
                let reclaim = self.cfg.dead_node_reclaim_time;
                let can_reclaim =
                    !reclaim.is_zero() && since.is_some_and(|t| now.saturating_duration_since(t) > reclaim);
                let moves = m.wire_addr() != waddr;
                let updates_node =
                    moves && (m.state == State::Left || (m.state == State::Dead && can_reclaim));
                if moves && !updates_node {
                    // Another node claims this member's name: refuse it.
                    self.metrics.dropped_invalid_member += 1;
                    return;
                }
                if a.incarnation <= m.incarnation && !updates_node {
                    return;
                }
                let old_state = m.state;
                let meta_changed = m.meta() != a.meta;
                let profile_changed = meta_changed || *m.vsn() != vsn;
                m.incarnation = a.incarnation;
                m.state = State::Alive;
                if !old_state.is_live() {
                    self.members.note_state(a.node, now);
                }
                if profile_changed {
                    let profile = self.share_profile(a.meta, vsn);
                    if let Some(m) = self.members.get_mut(a.node) {
                        m.set_profile(profile);
                    }
                }
                if moves {
                    self.members.set_addr(a.node, waddr);
                }
                let Some(node) = self.members.get(a.node).map(Member::node) else { return };
                self.suspicions.remove(a.node);
                match old_state {
                    State::Dead | State::Left => Event::Join(node),
                    State::Suspect => Event::Alive(node),
                    State::Alive if moves || meta_changed => Event::Update(node),
                    State::Alive => {
                        self.regossip_alive(a, node.id);
                        return;
                    }
                }
            }
        };
        self.regossip_alive(a, event.node().id.clone());
        self.emit(event);
    }

    /// A profile shared with the last member that had the same metadata and
    /// versions: in a typical cluster every member's are the same few bytes.
    fn share_profile(&mut self, meta: &[u8], vsn: [u8; 6]) -> Arc<Profile> {
        if let Some(p) = &self.last_profile {
            if *p.meta == *meta && p.vsn == vsn {
                return p.clone();
            }
        }
        let meta = if *self.meta == *meta { self.meta.clone() } else { Arc::from(meta) };
        let p = Arc::new(Profile { meta, vsn });
        self.last_profile = Some(p.clone());
        p
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

    /// Queues `a` (news about member `about`, already in the table) for gossip.
    fn regossip_alive(&mut self, a: &wire::Alive<'_>, about: NodeId) {
        let mut msg = self.gossip.spare_buffer();
        msg.resize(a.max_encoded_len(), 0);
        let n = Message::Alive(*a).encode(&mut msg).unwrap_or(0);
        msg.truncate(n);
        self.gossip.push(Some(about), msg);
    }

    fn suspect_node(&mut self, now: Instant, incarnation: u32, node: &str, from: &str) {
        if node == self.name.as_str() {
            if self.leave.is_none() && incarnation >= self.incarnation {
                self.refute(incarnation);
            }
            return;
        }
        let n = self.members.len() + 1;
        let Some(m) = self.members.get_mut(node) else { return };
        if incarnation < m.incarnation {
            return;
        }
        let id = m.id.clone();
        let msg = || encode_vec(&Message::Suspect(wire::Suspect { incarnation, node, from }));
        if let Some(s) = self.suspicions.get_mut(node) {
            if s.confirm(from) {
                self.gossip.push(Some(id), msg());
            }
            return;
        }
        if m.state != State::Alive {
            return;
        }
        m.incarnation = incarnation;
        m.state = State::Suspect;
        let node_copy = m.node();
        let addr = m.addr();
        let mult = self.cfg.suspicion_mult;
        let k =
            if n.saturating_sub(2) < mult.saturating_sub(2) as usize { 0 } else { mult.saturating_sub(2) };
        let (min, max) =
            suspicion_bounds(mult, self.cfg.suspicion_max_timeout_mult, n, self.cfg.protocol_interval);
        self.suspicions.insert(id.clone(), Suspicion::new(now, NodeId::from(from), k, min, max));
        self.gossip.push(Some(id.clone()), msg());
        if from == self.name.as_str() {
            // Tell the suspect first, so it can refute at once.
            self.enqueue(addr, OutKind::Suspect { incarnation, node: id });
        }
        self.emit(Event::Suspect(node_copy));
    }

    fn dead_node(&mut self, now: Instant, incarnation: u32, node: &str, from: &str) {
        if node == self.name.as_str() {
            if self.leave.is_none() && incarnation >= self.incarnation {
                self.refute(incarnation);
            }
            return;
        }
        let Some(m) = self.members.get_mut(node) else { return };
        if incarnation < m.incarnation || !m.state.is_live() {
            return;
        }
        m.incarnation = incarnation;
        m.state = if node == from { State::Left } else { State::Dead };
        let copy = m.node();
        self.members.note_state(node, now);
        self.suspicions.remove(node);
        if self.probe.as_ref().is_some_and(|p| p.target.as_str() == node) {
            self.probe = None;
        }
        let msg = encode_vec(&Message::Dead(wire::Dead { incarnation, node, from }));
        self.gossip.push(Some(copy.id.clone()), msg);
        self.emit(Event::Leave(copy));
    }

    // ----- streams -----------------------------------------------------------------

    fn stream_request(
        &mut self,
        addr: SocketAddr,
        msg: &[u8],
        kind: PendingStream,
        expects_reply: bool,
    ) -> StreamRequest {
        let nonce = self.nonce();
        let mut data = Vec::new();
        let label = self.cfg.label.as_bytes();
        packet::seal_stream_message(
            msg,
            true,
            label,
            self.keyring.as_ref(),
            self.cfg.compression,
            nonce,
            &mut data,
        );
        let id = self.next_stream_id;
        self.next_stream_id += 1;
        if expects_reply {
            self.pending_streams.insert(id, kind);
        }
        StreamRequest { id, addr, data, expects_reply, timeout: self.cfg.tcp_timeout }
    }

    fn local_state(&self, join: bool) -> Vec<u8> {
        // Serf's push/pull user state, so joiners (Serf agents included)
        // learn the event clock and vice versa.
        let mut user_state = Vec::new();
        crate::serf::PushPullClocks {
            ltime: self.member_clock,
            event_ltime: self.dedup.time(),
            query_ltime: 1,
        }
        .encode(&mut user_state);
        let header = PushPullHeader {
            nodes: (self.members.len() + 1) as u32,
            user_state_len: user_state.len() as u32,
            join,
        };
        let me = PushNodeState {
            name: self.name.as_str(),
            addr: self.wire_addr.ip_bytes(),
            port: self.addr.port(),
            meta: &self.meta,
            incarnation: self.incarnation,
            state: if self.leave.is_some() { State::Left } else { State::Alive }.to_wire(),
            vsn: &self.vsn,
        };
        let others = self.members.iter().map(|m| PushNodeState {
            name: m.id.as_str(),
            addr: m.ip_bytes(),
            port: m.port(),
            meta: m.meta(),
            incarnation: m.incarnation,
            state: m.state.to_wire(),
            vsn: m.vsn(),
        });
        let mut out = Vec::with_capacity((self.members.len() + 1) * 96 + 64);
        wire::encode_push_pull(&mut out, &header, core::iter::once(me).chain(others), &user_state);
        out
    }

    fn push_pull_request(&mut self, addr: SocketAddr, join: bool) -> StreamRequest {
        let msg = self.local_state(join);
        self.stream_request(addr, &msg, PendingStream::PushPull, true)
    }

    /// Finds one whole message in the bytes read so far from a stream.
    /// `inbound` is true on accepted connections, where a label header precedes
    /// the message when the cluster has a label. (To read a stream as its
    /// bytes arrive without rescanning them, use [`frame_reader`](Self::frame_reader).)
    pub fn stream_frame(&self, buf: &[u8], inbound: bool) -> Result<StreamFrame, StreamError> {
        self.frame_reader(inbound).poll(buf)
    }

    /// A resumable framer for one stream (see [`FrameReader`]).
    pub fn frame_reader(&self, inbound: bool) -> FrameReader {
        let label = if inbound { self.cfg.label.as_bytes().to_vec() } else { Vec::new() };
        FrameReader { label, inbound, start: None, framer: packet::StreamFramer::new() }
    }

    /// Handles one message from an accepted stream (after its label header).
    /// Returns the bytes to write back, if any. User messages go to `deliver`.
    pub fn handle_stream(
        &mut self,
        now: Instant,
        from: SocketAddr,
        frame: &mut [u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Result<Option<Vec<u8>>, StreamError> {
        let mut scratch = Vec::new();
        let msg = self.open_stream(frame, &mut scratch).inspect_err(|_| self.metrics.stream_errors += 1)?;
        let reply = match msg.first().copied() {
            Some(msg_type::PUSH_PULL) => {
                // Answer in kind: memberlist echoes the requester's join flag.
                let join = wire::PushPullReader::new(msg).map(|r| r.header().join).unwrap_or(false);
                let local = self.local_state(join);
                let r = self.merge_remote(now, msg);
                let reply = self.seal_reply(&local);
                r?;
                self.metrics.push_pulls_answered += 1;
                Some(reply)
            }
            Some(msg_type::PING) => match Message::decode(msg)? {
                Message::Ping(p) if p.node.is_empty() || p.node == self.name.as_str() => {
                    let ack = encode_vec(&Message::Ack(wire::Ack { seq_no: p.seq_no, payload: &[] }));
                    Some(self.seal_reply(&ack))
                }
                _ => {
                    self.metrics.dropped_wrong_node += 1;
                    None
                }
            },
            Some(msg_type::USER) => {
                let body = wire::UserStreamReader::new(msg)?.body()?;
                let d = user::decode_direct(body);
                self.metrics.user_messages_received += 1;
                self.deliver_from(d.sender, from, d.topic, d.payload, DeliveryKind::Direct, deliver);
                None
            }
            Some(t) => {
                self.metrics.stream_errors += 1;
                return Err(StreamError::Unexpected(t));
            }
            None => return Err(StreamError::Malformed(wire::DecodeError::Truncated)),
        };
        Ok(reply)
    }

    /// Decrypts and decompresses a stream frame; plaintext is refused when
    /// this node encrypts.
    fn open_stream<'a>(
        &self,
        frame: &'a mut [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], PacketError> {
        let verify = self.keyring.is_some();
        packet::open_stream(frame, self.cfg.label.as_bytes(), self.keyring.as_ref(), verify, scratch)
    }

    fn seal_reply(&mut self, msg: &[u8]) -> Vec<u8> {
        let nonce = self.nonce();
        let mut out = Vec::new();
        packet::seal_stream_message(
            msg,
            false,
            self.cfg.label.as_bytes(),
            self.keyring.as_ref(),
            self.cfg.compression,
            nonce,
            &mut out,
        );
        out
    }

    /// Handles the reply to a [`StreamRequest`] (the frame found by
    /// [`stream_frame`](Self::stream_frame) with `inbound = false`).
    pub fn handle_stream_reply(
        &mut self,
        now: Instant,
        id: u64,
        frame: &mut [u8],
    ) -> Result<(), StreamError> {
        let kind = self.pending_streams.remove(&id).ok_or(StreamError::UnknownStream)?;
        let r = self.stream_reply_inner(now, kind, frame);
        if r.is_err() {
            self.metrics.stream_errors += 1;
        }
        r
    }

    fn stream_reply_inner(
        &mut self,
        now: Instant,
        kind: PendingStream,
        frame: &mut [u8],
    ) -> Result<(), StreamError> {
        let mut scratch = Vec::new();
        let msg = self.open_stream(frame, &mut scratch)?;
        if msg.first() == Some(&msg_type::ERR) {
            if let Message::Err(e) = Message::decode(msg)? {
                return Err(StreamError::Remote(e.error.to_string()));
            }
        }
        match kind {
            PendingStream::PushPull => {
                self.merge_remote(now, msg)?;
                Ok(())
            }
            PendingStream::Ping { seq } => match Message::decode(msg)? {
                Message::Ack(a) if a.seq_no == seq => {
                    self.handle_ack(now, seq);
                    Ok(())
                }
                _ => Err(StreamError::PingMismatch),
            },
            PendingStream::User => Err(StreamError::Unexpected(msg.first().copied().unwrap_or(0))),
        }
    }

    /// Reports that the exchange `id` failed (connect, write, read or timeout).
    pub fn handle_stream_failed(&mut self, id: u64) {
        if self.pending_streams.remove(&id).is_some() {
            self.metrics.stream_errors += 1;
        }
    }

    fn merge_remote(&mut self, now: Instant, msg: &[u8]) -> Result<usize, StreamError> {
        let mut r = wire::PushPullReader::new(msg)?;
        // Decoded once (the versions are checked before anything merges);
        // never more room than the message could really hold (a node entry
        // is over 32 bytes).
        let listed = (r.header().nodes as usize).min(msg.len() / 32);
        let mut nodes = Vec::with_capacity(listed);
        while let Some(n) = r.next_node()? {
            nodes.push(n);
        }
        self.verify_versions(&nodes)?;
        // Room for the peer's view at once, without doubling slack.
        let total = listed.max(self.members.len());
        self.members.reserve_total(total);
        self.probe_order.reserve_exact(total.saturating_sub(self.probe_order.len()));
        for n in &nodes {
            match State::from_wire(n.state) {
                Some(State::Alive) => self.alive_node(
                    now,
                    &wire::Alive {
                        incarnation: n.incarnation,
                        node: n.name,
                        addr: n.addr,
                        port: n.port,
                        meta: n.meta,
                        vsn: n.vsn,
                    },
                ),
                Some(State::Left) => self.dead_node(now, n.incarnation, n.name, n.name),
                // memberlist prefers to suspect what others think dead.
                Some(State::Dead) | Some(State::Suspect) => {
                    let me = self.name.clone();
                    self.suspect_node(now, n.incarnation, n.name, me.as_str());
                }
                None => self.metrics.dropped_invalid_member += 1,
            }
        }
        if let Ok(state) = r.user_state() {
            if let Ok(clocks) = crate::serf::PushPullClocks::decode(state) {
                // Serf witnesses EventLTime - 1: no event of that time was sent yet.
                if clocks.event_ltime > 0 {
                    self.dedup.witness(clocks.event_ltime - 1);
                }
                self.member_clock = self.member_clock.max(clocks.ltime.saturating_sub(1));
            }
        }
        self.members.trim();
        let n = self.probe_order.len();
        if self.probe_order.capacity() > n + n / 8 + 16 {
            self.probe_order.shrink_to(n + n / 16 + 8);
        }
        self.metrics.push_pulls += 1;
        Ok(nodes.len())
    }

    /// memberlist's `verifyProtocol`: every live node's current protocol and
    /// delegate versions must lie in the range all live nodes accept.
    fn verify_versions(&self, remote: &[wire::PushNodeState<'_>]) -> Result<(), StreamError> {
        // Accepted range [lo, hi] and the current versions seen [cur_lo, cur_hi]
        // of (protocol, delegate), over this node and every live member.
        let mut lo = [0u8; 2];
        let mut hi = [u8::MAX; 2];
        let mut cur_lo = [u8::MAX; 2];
        let mut cur_hi = [0u8; 2];
        let mut widen = |v: &[u8]| {
            if v.len() >= 6 {
                lo[0] = lo[0].max(v[0]);
                hi[0] = hi[0].min(v[1]);
                lo[1] = lo[1].max(v[3]);
                hi[1] = hi[1].min(v[4]);
                for (i, c) in [v[2], v[5]].into_iter().enumerate() {
                    cur_lo[i] = cur_lo[i].min(c);
                    cur_hi[i] = cur_hi[i].max(c);
                }
            }
        };
        widen(&self.vsn);
        for m in self.members.iter().filter(|m| m.state == State::Alive) {
            widen(m.vsn());
        }
        let alive = || remote.iter().filter(|n| n.state == State::Alive.to_wire());
        for n in alive() {
            widen(n.vsn);
        }
        if (0..2).all(|i| cur_lo[i] >= lo[i] && cur_hi[i] <= hi[i]) {
            return Ok(());
        }
        // Someone is out of range: name the first.
        let check = |name: &str, v: &[u8]| -> Result<(), StreamError> {
            if v.len() < 6 {
                return Ok(());
            }
            for (i, (which, cur)) in [("protocol", v[2]), ("delegate", v[5])].into_iter().enumerate() {
                if cur < lo[i] || cur > hi[i] {
                    return Err(StreamError::IncompatibleVersions {
                        node: name.to_string(),
                        which,
                        version: cur,
                        range: (lo[i], hi[i]),
                    });
                }
            }
            Ok(())
        };
        check(self.name.as_str(), &self.vsn)?;
        for m in self.members.iter().filter(|m| m.state == State::Alive) {
            check(m.id.as_str(), m.vsn())?;
        }
        for n in alive() {
            check(n.name, n.vsn)?;
        }
        Ok(())
    }
}

/// Gives back the memory of a queue that a burst (a big join) grew, once it
/// has been drained: every node would otherwise keep it for good.
fn shrink_idle<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 256 {
        q.shrink_to(16);
    }
}

fn push_msg(b: &mut CompoundBuilder<'_>, m: &Message<'_>) -> bool {
    // The builder bounds the room itself: no measuring pass per message.
    b.push_with(usize::MAX, |out| m.encode(out)).is_ok()
}

fn encode_vec(m: &Message<'_>) -> Vec<u8> {
    let mut v = vec![0u8; m.encoded_len()];
    let n = m.encode(&mut v).unwrap_or(0);
    v.truncate(n);
    v
}

fn reply_addr(from: SocketAddr, ip: &[u8], port: u16) -> SocketAddr {
    if port != 0 {
        if let Some(a) = socket_addr(ip, port) {
            return a;
        }
    }
    from
}

/// `d * (x / 2^32)`: a random fraction of `d`.
fn scale_frac(d: Duration, x: u32) -> Duration {
    Duration::from_nanos(((d.as_nanos() * x as u128) >> 32) as u64)
}

/// memberlist's `pushPullScale`: above 32 members the interval grows with log2(n).
fn push_pull_scale(interval: Duration, n: usize) -> Duration {
    if n <= 32 {
        return interval;
    }
    let mult = libm::ceil(libm::log2(n as f64) - libm::log2(32.0)) as u32 + 1;
    scale(interval, mult)
}

/// Finds the one message on a TCP stream as its bytes arrive, resuming where
/// it stopped (a large push-pull is scanned once, not once per read) and
/// without touching the core.
#[derive(Debug)]
pub struct FrameReader {
    label: Vec<u8>,
    inbound: bool,
    start: Option<usize>,
    framer: packet::StreamFramer,
}

impl FrameReader {
    /// Looks at everything read so far (`buf` only grows between calls).
    pub fn poll(&mut self, buf: &[u8]) -> Result<StreamFrame, StreamError> {
        let start = match self.start {
            Some(s) => s,
            None if !self.inbound => 0,
            None => match packet::strip_stream_label(buf, &self.label)? {
                None => return Ok(StreamFrame::NeedMore),
                Some(n) => n,
            },
        };
        self.start = Some(start);
        match self.framer.poll(&buf[start..], MAX_STREAM_BYTES)? {
            FrameStatus::NeedMore => Ok(StreamFrame::NeedMore),
            FrameStatus::Complete(len) => Ok(StreamFrame::Complete { start, end: start + len }),
        }
    }
}
