//! Configuration: the seed's fields and defaults, plus memberlist's LAN defaults
//! for everything the seed does not set.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

/// Largest metadata (encoded tags) memberlist accepts in an alive message.
pub const META_MAX_SIZE: usize = 512;
/// Smallest `udp_buffer_size` that leaves room for a probe with gossip.
pub const MIN_UDP_BUFFER_SIZE: usize = 512;
/// Largest UDP payload over IPv4.
pub const MAX_UDP_BUFFER_SIZE: usize = 65_507;
/// Largest `event_buffer`.
pub const MAX_EVENT_BUFFER: usize = 65_536;

/// Delegate (application) protocol versions advertised in every alive message
/// (the last three bytes of memberlist's `Vsn`). memberlist refuses a push-pull
/// merge when any live node's `current` is outside every other node's `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegateVersions {
    /// Oldest delegate protocol understood.
    pub min: u8,
    /// Newest delegate protocol understood.
    pub max: u8,
    /// Delegate protocol spoken.
    pub current: u8,
}

impl DelegateVersions {
    /// What Serf agents advertise (`2..=5`, speaking 5): joins Serf clusters and
    /// Go nodes configured like Serf. The default.
    pub const SERF: DelegateVersions = DelegateVersions { min: 2, max: 5, current: 5 };
    /// What a plain Go memberlist node advertises (`0..=0`).
    pub const MEMBERLIST: DelegateVersions = DelegateVersions { min: 0, max: 0, current: 0 };
}

/// Node configuration. Start from [`Config::default()`] and override fields:
///
/// ```
/// use swim_core::Config;
/// let config = Config { bind_port: 7946, node_name: Some("node-1".into()), ..Config::default() };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Interface to bind the UDP and TCP listeners to (default `0.0.0.0`).
    pub bind_addr: IpAddr,
    /// Port for UDP and TCP (default 7946; 0 lets the OS choose).
    pub bind_port: u16,
    /// This node's unique name, at most 255 bytes. Default: the host name in
    /// the drivers (as memberlist), so two nodes on one host need names
    /// set; the sans-IO core alone uses the node's address.
    pub node_name: Option<String>,
    /// Time between probe rounds (default 1 s). Lower detects failures faster
    /// and costs more bandwidth.
    pub protocol_interval: Duration,
    /// How long to wait for an ack before asking others (default 500 ms).
    pub probe_timeout: Duration,
    /// How many members to ask for an indirect probe (default 3).
    pub indirect_checks: usize,
    /// Largest UDP datagram sent or received, in bytes (default 1400,
    /// memberlist's). Keep it under the network's path MTU: the drivers'
    /// sockets set don't-fragment (`quinn-udp`'s path MTU probing), so a
    /// larger datagram is refused by the kernel (counted in
    /// `Metrics::udp_send_errors`) rather than fragmented.
    pub udp_buffer_size: usize,
    /// AES-GCM key: 16, 24 or 32 bytes (default 32 zero bytes). Used when
    /// `encryption_enabled`, which refuses an all-zero key
    /// ([`ConfigError::ZeroKey`]). A key set while encryption is off is
    /// unused: the drivers log a warning at `create` (not an error, so a
    /// key can be configured ahead of turning encryption on). Never printed
    /// by `Debug`.
    pub secret_key: Vec<u8>,
    /// Encrypt every packet and stream, and refuse plaintext (default false).
    pub encryption_enabled: bool,
    /// With encryption on, refuse plaintext packets and streams (default
    /// true). memberlist's `GossipVerifyIncoming`: turn it off, with
    /// `gossip_verify_outgoing`, to roll encryption out in a running cluster
    /// — 1. every node gets the key with both off (sends plaintext, accepts
    /// both); 2. turn outgoing on everywhere (sends encrypted); 3. turn
    /// incoming on everywhere.
    pub gossip_verify_incoming: bool,
    /// With encryption on, encrypt what this node sends (default true).
    /// memberlist's `GossipVerifyOutgoing`; see `gossip_verify_incoming`.
    pub gossip_verify_outgoing: bool,
    /// Most broadcasts queued for gossip; past it the oldest is dropped and
    /// counted (default 5000).
    pub max_gossip_queue_depth: usize,
    /// Send buffers in the driver's pool (default 16).
    pub send_buffer_count: usize,
    /// Datagrams the driver receives per batch, each into a buffer of its
    /// own (default 16).
    pub recv_buffer_count: usize,

    /// Address other nodes should use to reach this one (default: the bound
    /// address; when bound to `0.0.0.0` or `::`, the first private address
    /// of a running interface, else a public one (with a warning), else
    /// loopback when that is all the host has; the `std` drivers' rules are
    /// in `swim_core::io::advertise`). Set it behind NAT, or to pick one of
    /// several interfaces.
    pub advertise_addr: Option<core::net::SocketAddr>,
    /// Time between gossip rounds (default 200 ms).
    pub gossip_interval: Duration,
    /// Members gossiped to per round (default 3).
    pub gossip_nodes: usize,
    /// How long dead members still receive gossip, and are kept before being
    /// forgotten (default 30 s).
    pub gossip_to_the_dead_time: Duration,
    /// How long a dead member's name stays bound to its address: after it,
    /// a node of that name at another address is accepted (default zero:
    /// never, as memberlist; left members may always come back elsewhere).
    pub dead_node_reclaim_time: Duration,
    /// Gossip retransmit multiplier: each item is sent `mult * ceil(log10(n+1))`
    /// times (default 4).
    pub retransmit_mult: u32,
    /// Suspicion timeout multiplier (default 4): the minimum timeout is
    /// `mult * max(1, log10(n)) * protocol_interval`.
    pub suspicion_mult: u32,
    /// Maximum suspicion timeout as a multiple of the minimum (default 6).
    pub suspicion_max_timeout_mult: u32,
    /// Lifeguard local-health cap: probe interval and timeout are scaled by at
    /// most this factor when this node itself is slow (default 8).
    pub awareness_max_multiplier: u32,
    /// Time between full state exchanges with a random member (default 30 s,
    /// scaled up above 32 members as memberlist does; zero disables). The
    /// first comes after a random stagger within one interval plus one
    /// scaled interval, so nodes started together do not exchange together.
    pub push_pull_interval: Duration,
    /// How often a node tries to reach a random failed (dead, not left)
    /// member again, as Serf's reconnect does: with probability failed /
    /// live members, one state exchange per interval (default 30 s; zero
    /// disables). This is what heals a partition that lasted longer than
    /// `gossip_to_the_dead_time`. A node with no live member left tries its
    /// failed members and its `join` seeds sooner: after one protocol
    /// interval, doubling up to this interval.
    pub reconnect_interval: Duration,
    /// How long a failed member is remembered for reconnecting (default 24 h,
    /// Serf's `ReconnectTimeout`). Also how long the seeds given to `join`
    /// are retried while the node is alone.
    pub reconnect_timeout: Duration,
    /// How long the drivers' `join` keeps retrying its seeds (with backoff)
    /// before it gives up (default 30 s). The core goes on retrying them in
    /// the background whenever the node is alone (see `reconnect_interval`).
    pub join_timeout: Duration,
    /// Deadline for one TCP exchange (default 10 s).
    pub tcp_timeout: Duration,
    /// Fall back to a TCP ping when UDP probes fail (default true).
    pub tcp_fallback_probe: bool,
    /// Lifeguard's local health (default true): a node that misses acks and
    /// nacks it should get raises its health score and stretches its own
    /// probe interval and timeouts by it (up to `awareness_max_multiplier`),
    /// so a slow observer does not accuse healthy members. For experiments:
    /// false behaves as memberlist with `AwarenessMaxMultiplier = 1`.
    pub lifeguard_local_health: bool,
    /// Lifeguard's dynamic suspicion (default true): a suspicion starts at
    /// `suspicion_max_timeout_mult` times the minimum timeout and shrinks as
    /// other members confirm it. For experiments: false fixes every
    /// suspicion timeout at the minimum, as SWIM without Lifeguard.
    pub lifeguard_dynamic_suspicion: bool,
    /// Lifeguard's buddy system (default true): a suspect is told of its
    /// suspicion directly (with the probe that finds it suspect, and by the
    /// accuser at once), so it refutes within one round trip. For
    /// experiments: false leaves it to hear by gossip.
    pub lifeguard_buddy_system: bool,
    /// swim's refutation shortcuts beyond memberlist (default true): an
    /// accused node sends its alive message straight to the accuser; a
    /// suspicion timer is moved on while the suspect is heard from; a
    /// suspect heard from is told of its suspicion again
    /// (docs/performance.md, "False deaths under packet loss"). For
    /// experiments: false behaves as memberlist does (the simulator models
    /// Go peers with it).
    pub direct_refutation: bool,
    /// Cluster label: packets and streams of other labels are refused (default
    /// empty: no label). At most 255 bytes.
    pub label: String,
    /// LZW-compress outgoing packets when it makes them smaller, and streams
    /// always, as memberlist does (default false: saves CPU).
    pub compression: bool,
    /// Tags of this node, sent as memberlist metadata in Serf's encoding
    /// (at most 512 bytes encoded).
    pub tags: BTreeMap<String, String>,
    /// Delegate protocol versions advertised (default: Serf's).
    pub delegate_versions: DelegateVersions,
    /// Most membership events buffered for the application; past it events are
    /// dropped and counted (default 65536).
    pub max_event_queue: usize,
    /// Most received messages waiting for the `on_message` handlers (default
    /// 1024, memberlist's `HandoffQueueDepth`). Handlers run on a thread of
    /// their own, off the receive path, so a slow handler cannot delay acks;
    /// past this depth new messages are dropped and counted
    /// (`Metrics::handoff_dropped`).
    pub handoff_queue_depth: usize,
    /// Most direct messages (`Cluster::send`) waiting for the node's send
    /// task (default 4096). Messages that wait together for the same member
    /// share datagrams (compound messages up to `udp_buffer_size`); past
    /// this depth `send` waits for room and `try_send` returns
    /// `SendError::QueueFull`, so nothing is dropped. Memory: about this
    /// many messages' bytes, reused.
    pub send_queue_depth: usize,
    /// Bytes all inbound TCP streams (push-pulls, reliable messages) may
    /// hold at once while they arrive (default 64 MiB). A stream that would
    /// take more is closed and counted (`Metrics::streams_refused`), so a
    /// storm of maximal push-pulls (up to 20 MiB each, 128 at a time, as
    /// memberlist allows) cannot take gigabytes. At least one maximal
    /// stream (20 MiB) should fit.
    pub max_inbound_stream_bytes: usize,
    /// Most UDP packets queued for sending before new ones are dropped and
    /// counted (default 4096).
    pub max_outgoing_queue: usize,
    /// Lamport times of broadcasts remembered (default 512, Serf's
    /// `EventBuffer`; at most 65536): a broadcast is delivered once within
    /// this window, and recent ones (up to 64 KiB) ride along in every state
    /// exchange, so a member that missed one — loss, a partition — gets it
    /// at its next push-pull, as Serf's agents do.
    pub event_buffer: usize,
    /// Networks peers may talk from (memberlist's `CIDRsAllowed`; default
    /// `None`: any). With a list, packets and TCP connections from other
    /// addresses are dropped and counted (`Metrics::dropped_not_allowed`),
    /// and members advertising an address outside it are refused
    /// (`Metrics::members_refused`). `Some(vec![])` refuses everyone. List
    /// IPv4 and IPv6 networks separately:
    /// `Some(vec!["10.0.0.0/8".parse()?, "fd00::/8".parse()?])`.
    pub cidrs_allowed: Option<Vec<crate::IpNet>>,
    /// Serf's `QueryTimeoutMult` (default 16): a query's default timeout
    /// is `gossip_interval × this × ⌈log10(n + 1)⌉`.
    pub query_timeout_mult: u32,
    /// Largest encoded query asked (default 1024 bytes, Serf's
    /// `QuerySizeLimit`).
    pub query_size_limit: usize,
    /// Largest encoded query response sent or relayed (default 1024
    /// bytes, Serf's `QueryResponseSizeLimit`).
    pub query_response_size_limit: usize,
    /// Vivaldi network coordinates, as Serf's (default true): every ack
    /// carries this node's coordinate in Serf's format, every direct probe
    /// updates it, and RTTs between members can be estimated
    /// (`Cluster::estimate_rtt`; `serf rtt` works on swim nodes). Off, acks
    /// carry `Hooks::ack_payload` instead (Serf's `DisableCoordinates`).
    pub coordinates: bool,
    /// Resolve a clash over this node's name as Serf does (default true,
    /// Serf's `EnableNameConflictResolution`): ask the cluster which
    /// address it knows for the name, and yield (stop; `Event::Yielded`)
    /// when the majority names the other one. Off, a clash is only
    /// counted and reported to `Hooks::name_conflict`.
    pub name_conflict_resolution: bool,
}

/// The key is never printed: `Debug` shows its length only.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured without `..`: a new field must be added here too.
        let Config {
            bind_addr,
            bind_port,
            node_name,
            protocol_interval,
            probe_timeout,
            indirect_checks,
            udp_buffer_size,
            secret_key,
            encryption_enabled,
            gossip_verify_incoming,
            gossip_verify_outgoing,
            max_gossip_queue_depth,
            send_buffer_count,
            recv_buffer_count,
            advertise_addr,
            gossip_interval,
            gossip_nodes,
            gossip_to_the_dead_time,
            dead_node_reclaim_time,
            retransmit_mult,
            suspicion_mult,
            suspicion_max_timeout_mult,
            awareness_max_multiplier,
            push_pull_interval,
            reconnect_interval,
            reconnect_timeout,
            join_timeout,
            tcp_timeout,
            tcp_fallback_probe,
            lifeguard_local_health,
            lifeguard_dynamic_suspicion,
            lifeguard_buddy_system,
            direct_refutation,
            label,
            compression,
            tags,
            delegate_versions,
            max_event_queue,
            handoff_queue_depth,
            send_queue_depth,
            max_inbound_stream_bytes,
            max_outgoing_queue,
            event_buffer,
            cidrs_allowed,
            query_timeout_mult,
            query_size_limit,
            query_response_size_limit,
            coordinates,
            name_conflict_resolution,
        } = self;
        f.debug_struct("Config")
            .field("bind_addr", bind_addr)
            .field("bind_port", bind_port)
            .field("node_name", node_name)
            .field("protocol_interval", protocol_interval)
            .field("probe_timeout", probe_timeout)
            .field("indirect_checks", indirect_checks)
            .field("udp_buffer_size", udp_buffer_size)
            .field("secret_key", &Redacted(secret_key.len()))
            .field("encryption_enabled", encryption_enabled)
            .field("gossip_verify_incoming", gossip_verify_incoming)
            .field("gossip_verify_outgoing", gossip_verify_outgoing)
            .field("max_gossip_queue_depth", max_gossip_queue_depth)
            .field("send_buffer_count", send_buffer_count)
            .field("recv_buffer_count", recv_buffer_count)
            .field("advertise_addr", advertise_addr)
            .field("gossip_interval", gossip_interval)
            .field("gossip_nodes", gossip_nodes)
            .field("gossip_to_the_dead_time", gossip_to_the_dead_time)
            .field("dead_node_reclaim_time", dead_node_reclaim_time)
            .field("retransmit_mult", retransmit_mult)
            .field("suspicion_mult", suspicion_mult)
            .field("suspicion_max_timeout_mult", suspicion_max_timeout_mult)
            .field("awareness_max_multiplier", awareness_max_multiplier)
            .field("push_pull_interval", push_pull_interval)
            .field("reconnect_interval", reconnect_interval)
            .field("reconnect_timeout", reconnect_timeout)
            .field("join_timeout", join_timeout)
            .field("tcp_timeout", tcp_timeout)
            .field("tcp_fallback_probe", tcp_fallback_probe)
            .field("lifeguard_local_health", lifeguard_local_health)
            .field("lifeguard_dynamic_suspicion", lifeguard_dynamic_suspicion)
            .field("lifeguard_buddy_system", lifeguard_buddy_system)
            .field("direct_refutation", direct_refutation)
            .field("label", label)
            .field("compression", compression)
            .field("tags", tags)
            .field("delegate_versions", delegate_versions)
            .field("max_event_queue", max_event_queue)
            .field("handoff_queue_depth", handoff_queue_depth)
            .field("send_queue_depth", send_queue_depth)
            .field("max_inbound_stream_bytes", max_inbound_stream_bytes)
            .field("max_outgoing_queue", max_outgoing_queue)
            .field("event_buffer", event_buffer)
            .field("cidrs_allowed", cidrs_allowed)
            .field("query_timeout_mult", query_timeout_mult)
            .field("query_size_limit", query_size_limit)
            .field("query_response_size_limit", query_response_size_limit)
            .field("coordinates", coordinates)
            .field("name_conflict_resolution", name_conflict_resolution)
            .finish()
    }
}

/// Prints `<redacted N bytes>` in place of a secret.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            bind_port: 7946,
            node_name: None,
            protocol_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            udp_buffer_size: 1400,
            secret_key: vec![0; 32],
            encryption_enabled: false,
            gossip_verify_incoming: true,
            gossip_verify_outgoing: true,
            max_gossip_queue_depth: 5000,
            send_buffer_count: 16,
            recv_buffer_count: 16,
            advertise_addr: None,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            dead_node_reclaim_time: Duration::ZERO,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            awareness_max_multiplier: 8,
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(24 * 3600),
            join_timeout: Duration::from_secs(30),
            tcp_timeout: Duration::from_secs(10),
            tcp_fallback_probe: true,
            lifeguard_local_health: true,
            lifeguard_dynamic_suspicion: true,
            lifeguard_buddy_system: true,
            direct_refutation: true,
            label: String::new(),
            compression: false,
            tags: BTreeMap::new(),
            delegate_versions: DelegateVersions::SERF,
            max_event_queue: 65_536,
            handoff_queue_depth: 1024,
            send_queue_depth: 4096,
            max_inbound_stream_bytes: 64 << 20,
            max_outgoing_queue: 4096,
            event_buffer: 512,
            cidrs_allowed: None,
            query_timeout_mult: 16,
            query_size_limit: 1024,
            query_response_size_limit: 1024,
            coordinates: true,
            name_conflict_resolution: true,
        }
    }
}

/// A configuration mistake, reported by [`Config::validate`] (and so by the
/// drivers' `Cluster::create`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `secret_key` is not 16, 24 or 32 bytes while encryption is enabled.
    InvalidKey {
        /// The length given.
        len: usize,
    },
    /// Encryption is enabled with an all-zero `secret_key` (the default
    /// key): anyone could read and forge the cluster's traffic.
    ZeroKey,
    /// A duration that must be positive is zero.
    ZeroDuration(&'static str),
    /// `probe_timeout` is not shorter than `protocol_interval`.
    ProbeTimeoutTooLong,
    /// `udp_buffer_size` is outside `512..=65507`.
    UdpBufferSize(usize),
    /// A count that must be at least one is zero.
    ZeroCount(&'static str),
    /// A multiplier is out of its range.
    Multiplier(&'static str),
    /// `label` is longer than 255 bytes.
    LabelTooLong(usize),
    /// `node_name` is empty or longer than 255 bytes.
    InvalidNodeName,
    /// The encoded `tags` are longer than 512 bytes.
    TagsTooLarge(usize),
    /// `delegate_versions` has `min > max` or `current` outside `[min, max]`.
    DelegateVersions,
    /// `event_buffer` is 0 or over 65536.
    EventBuffer(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroKey => f.write_str(
                "encryption_enabled with an all-zero secret_key (the default): set secret_key to 32 random bytes \
                 shared by every node",
            ),
            ConfigError::InvalidKey { len } => {
                write!(f, "secret_key is {len} bytes; AES-GCM needs 16, 24 or 32 bytes (32 for AES-256)")
            }
            ConfigError::ZeroDuration(field) => write!(f, "{field} must be greater than zero"),
            ConfigError::ProbeTimeoutTooLong => {
                f.write_str("probe_timeout must be shorter than protocol_interval")
            }
            ConfigError::UdpBufferSize(n) => write!(
                f,
                "udp_buffer_size is {n}; it must be between {MIN_UDP_BUFFER_SIZE} and {MAX_UDP_BUFFER_SIZE}"
            ),
            ConfigError::ZeroCount(field) => write!(f, "{field} must be at least 1"),
            ConfigError::EventBuffer(n) => {
                write!(f, "event_buffer is {n}; it must be between 1 and {MAX_EVENT_BUFFER} Lamport times")
            }
            ConfigError::Multiplier(field) => write!(f, "{field} must be between 1 and 1000"),
            ConfigError::LabelTooLong(n) => write!(f, "label is {n} bytes; at most 255 are allowed"),
            ConfigError::InvalidNodeName => f.write_str("node_name must be between 1 and 255 bytes"),
            ConfigError::TagsTooLarge(n) => {
                write!(f, "tags encode to {n} bytes; memberlist allows at most {META_MAX_SIZE}")
            }
            ConfigError::DelegateVersions => f.write_str("delegate_versions needs min <= current <= max"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Presets with memberlist's timings and multipliers (`config.go`
/// `DefaultLANConfig`, `DefaultWANConfig`, `DefaultLocalConfig`, memberlist
/// 0.5.0). Everything else is swim's default: no compression, Serf's
/// delegate versions, Serf's reconnect of failed members.
///
/// ```
/// use swim_core::Config;
/// use std::time::Duration;
///
/// let wan = Config { node_name: Some("edge-1".into()), ..Config::wan() };
/// assert_eq!(wan.protocol_interval, Duration::from_secs(5));
/// assert!(wan.validate().is_ok());
/// ```
impl Config {
    /// memberlist's `DefaultLANConfig` timings: the same as
    /// [`Config::default`] (1 s probes, 500 ms probe timeout, gossip to 3
    /// members every 200 ms, push-pull every 30 s, multipliers 4 / 4 / 6).
    pub fn lan() -> Self {
        Config::default()
    }

    /// memberlist's `DefaultWANConfig`: for members far apart — 5 s probes
    /// with a 3 s timeout, gossip to 4 members every 500 ms, suspicion
    /// multiplier 6, push-pull every 60 s, dead members gossiped to for 60 s,
    /// 30 s stream deadline.
    pub fn wan() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(30),
            suspicion_mult: 6,
            push_pull_interval: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(3),
            protocol_interval: Duration::from_secs(5),
            gossip_nodes: 4,
            gossip_interval: Duration::from_millis(500),
            gossip_to_the_dead_time: Duration::from_secs(60),
            ..Config::lan()
        }
    }

    /// memberlist's `DefaultLocalConfig`: for members on one host or a fast
    /// local network — 200 ms probe timeout, one indirect check, gossip every
    /// 100 ms, retransmit multiplier 2, suspicion multiplier 3, push-pull
    /// every 15 s, dead members gossiped to for 15 s, 1 s stream deadline.
    pub fn local() -> Self {
        Config {
            tcp_timeout: Duration::from_secs(1),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Duration::from_secs(15),
            probe_timeout: Duration::from_millis(200),
            protocol_interval: Duration::from_secs(1),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            ..Config::lan()
        }
    }
}

impl Config {
    /// Checks every field, returning the first mistake found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.encryption_enabled && !matches!(self.secret_key.len(), 16 | 24 | 32) {
            return Err(ConfigError::InvalidKey { len: self.secret_key.len() });
        }
        if self.encryption_enabled && self.secret_key.iter().all(|&b| b == 0) {
            return Err(ConfigError::ZeroKey);
        }
        for (name, d) in [
            ("protocol_interval", self.protocol_interval),
            ("probe_timeout", self.probe_timeout),
            ("gossip_interval", self.gossip_interval),
            ("tcp_timeout", self.tcp_timeout),
            ("join_timeout", self.join_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        if self.probe_timeout >= self.protocol_interval {
            return Err(ConfigError::ProbeTimeoutTooLong);
        }
        if !(MIN_UDP_BUFFER_SIZE..=MAX_UDP_BUFFER_SIZE).contains(&self.udp_buffer_size) {
            return Err(ConfigError::UdpBufferSize(self.udp_buffer_size));
        }
        for (name, n) in [
            ("max_gossip_queue_depth", self.max_gossip_queue_depth),
            ("send_buffer_count", self.send_buffer_count),
            ("recv_buffer_count", self.recv_buffer_count),
            ("max_event_queue", self.max_event_queue),
            ("handoff_queue_depth", self.handoff_queue_depth),
            ("send_queue_depth", self.send_queue_depth),
            ("max_inbound_stream_bytes", self.max_inbound_stream_bytes),
            ("max_outgoing_queue", self.max_outgoing_queue),
            ("query_size_limit", self.query_size_limit),
            ("query_response_size_limit", self.query_response_size_limit),
        ] {
            if n == 0 {
                return Err(ConfigError::ZeroCount(name));
            }
        }
        for (name, m) in [
            ("retransmit_mult", self.retransmit_mult),
            ("suspicion_mult", self.suspicion_mult),
            ("suspicion_max_timeout_mult", self.suspicion_max_timeout_mult),
            ("awareness_max_multiplier", self.awareness_max_multiplier),
            ("query_timeout_mult", self.query_timeout_mult),
        ] {
            if !(1..=1000).contains(&m) {
                return Err(ConfigError::Multiplier(name));
            }
        }
        if !(1..=MAX_EVENT_BUFFER).contains(&self.event_buffer) {
            return Err(ConfigError::EventBuffer(self.event_buffer));
        }
        if self.label.len() > 255 {
            return Err(ConfigError::LabelTooLong(self.label.len()));
        }
        if let Some(name) = &self.node_name {
            if name.is_empty() || name.len() > 255 {
                return Err(ConfigError::InvalidNodeName);
            }
        }
        let meta = self.encoded_meta();
        if meta.len() > META_MAX_SIZE {
            return Err(ConfigError::TagsTooLarge(meta.len()));
        }
        let d = self.delegate_versions;
        if d.min > d.max || d.current < d.min || d.current > d.max {
            return Err(ConfigError::DelegateVersions);
        }
        Ok(())
    }

    /// The metadata sent for this node: `tags` in Serf's encoding.
    pub fn encoded_meta(&self) -> Vec<u8> {
        let mut out = Vec::new();
        crate::wire::serf::encode_tags(self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presets against memberlist 0.5.0's config.go, field by field.
    #[test]
    fn presets_have_memberlists_timings() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        // (probe interval, probe timeout, indirect, retransmit, suspicion,
        //  max suspicion, push-pull, gossip nodes, gossip interval, to-the-dead, tcp timeout, awareness)
        let row = |c: &Config| {
            (
                c.protocol_interval,
                c.probe_timeout,
                c.indirect_checks,
                c.retransmit_mult,
                c.suspicion_mult,
                c.suspicion_max_timeout_mult,
                c.push_pull_interval,
                c.gossip_nodes,
                c.gossip_interval,
                c.gossip_to_the_dead_time,
                c.tcp_timeout,
                c.awareness_max_multiplier,
            )
        };
        assert_eq!(row(&Config::lan()), (s(1), ms(500), 3, 4, 4, 6, s(30), 3, ms(200), s(30), s(10), 8));
        assert_eq!(row(&Config::wan()), (s(5), s(3), 3, 4, 6, 6, s(60), 4, ms(500), s(60), s(30), 8));
        assert_eq!(row(&Config::local()), (s(1), ms(200), 1, 2, 3, 6, s(15), 3, ms(100), s(15), s(1), 8));
        for c in [Config::lan(), Config::wan(), Config::local()] {
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn a_preset_made_invalid_names_the_field() {
        let c = Config { probe_timeout: Duration::from_secs(6), ..Config::wan() };
        assert_eq!(c.validate(), Err(ConfigError::ProbeTimeoutTooLong));
    }

    #[test]
    fn defaults_match_the_seed() {
        let c = Config::default();
        assert_eq!(c.bind_addr, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.bind_port, 7946);
        assert_eq!(c.protocol_interval, Duration::from_secs(1));
        assert_eq!(c.probe_timeout, Duration::from_millis(500));
        assert_eq!(c.indirect_checks, 3);
        assert_eq!(c.udp_buffer_size, 1400);
        assert_eq!(c.secret_key, vec![0u8; 32]);
        assert_eq!(c.max_gossip_queue_depth, 5000);
        assert_eq!((c.send_buffer_count, c.recv_buffer_count), (16, 16));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let bad_key = Config { encryption_enabled: true, secret_key: vec![1; 31], ..Config::default() };
        let zero = Config { encryption_enabled: true, ..Config::default() };
        assert_eq!(zero.validate(), Err(ConfigError::ZeroKey), "the default key is refused with encryption");
        assert!(alloc::format!("{}", ConfigError::ZeroKey).contains("secret_key"));
        let secret = Config { secret_key: vec![0xA7; 32], ..Config::default() };
        let shown = alloc::format!("{secret:?}");
        assert!(shown.contains("<redacted 32 bytes>") && !shown.contains("167"), "{shown}");
        assert!(shown.contains("lifeguard_buddy_system"), "every other field is shown: {shown}");
        assert_eq!(bad_key.validate(), Err(ConfigError::InvalidKey { len: 31 }));
        for len in [16, 24, 32] {
            let ok = Config { encryption_enabled: true, secret_key: vec![1; len], ..Config::default() };
            assert!(ok.validate().is_ok());
        }
        let zero = Config { protocol_interval: Duration::ZERO, ..Config::default() };
        assert_eq!(zero.validate(), Err(ConfigError::ZeroDuration("protocol_interval")));
        let slow = Config { probe_timeout: Duration::from_secs(2), ..Config::default() };
        assert_eq!(slow.validate(), Err(ConfigError::ProbeTimeoutTooLong));
        let tiny = Config { udp_buffer_size: 100, ..Config::default() };
        assert_eq!(tiny.validate(), Err(ConfigError::UdpBufferSize(100)));
        let q = Config { max_gossip_queue_depth: 0, ..Config::default() };
        assert_eq!(q.validate(), Err(ConfigError::ZeroCount("max_gossip_queue_depth")));
        let name = Config { node_name: Some(String::new()), ..Config::default() };
        assert_eq!(name.validate(), Err(ConfigError::InvalidNodeName));
        let mut tags = BTreeMap::new();
        tags.insert(String::from("k"), "v".repeat(600));
        let big = Config { tags, ..Config::default() };
        assert!(matches!(big.validate(), Err(ConfigError::TagsTooLarge(_))));
        // Every error explains itself.
        assert!(alloc::format!("{}", ConfigError::InvalidKey { len: 3 }).contains("16, 24 or 32"));
    }
}
