//! User messages: direct sends (UDP and TCP) with their framing, and
//! broadcasts as Serf user events (`serf.go` `UserEvent`) de-duplicated by
//! Lamport time like Serf's `handleUserEvent`.
//!
//! **Direct sends** travel as a memberlist user message (type 8) whose body is
//!
//! ```text
//! [0xEC] [0x01] [sender_len u8] [sender name] [topic_len u8] [topic] [payload …]
//! ```
//!
//! (`0xEC` is no Serf message type; `0x01` is the framing version). A user
//! message without this prefix (e.g. Go's `SendBestEffort`) is delivered with an
//! empty topic and its raw bytes as payload.
//!
//! **Broadcasts** are Serf user events (`[8][3]{LTime, Name, Payload, CC}`),
//! de-duplicated like Serf does: a Lamport clock, and a ring of recently seen
//! events indexed by `LTime % EVENT_BUFFER`.

use super::*;
use crate::wire::crypto::TAG_LEN;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// First byte of a framed direct message.
pub const DIRECT_MAGIC: u8 = 0xEC;
/// Version of the direct framing.
pub const DIRECT_VERSION: u8 = 1;
/// Recent broadcasts remembered for de-duplication (Serf's `EventBuffer`).
pub const EVENT_BUFFER: u64 = 512;
/// Longest topic, in bytes.
pub const MAX_TOPIC_LEN: usize = 255;

/// Bytes a framed direct message takes besides topic and payload.
pub fn direct_overhead(sender: &str) -> usize {
    // type byte, magic, version, sender length, sender, topic length
    4 + sender.len() + 1
}

/// Writes the framed direct message (type byte 8 included) into `out`;
/// `None` if it does not fit or a length exceeds 255.
pub fn encode_direct(out: &mut [u8], sender: &str, topic: &str, payload: &[u8]) -> Option<usize> {
    if sender.len() > 255 || topic.len() > MAX_TOPIC_LEN {
        return None;
    }
    let len = direct_overhead(sender) + topic.len() + payload.len();
    let out = out.get_mut(..len)?;
    let (head, rest) = out.split_at_mut(4 + sender.len());
    head[0] = crate::wire::msg_type::USER;
    head[1] = DIRECT_MAGIC;
    head[2] = DIRECT_VERSION;
    head[3] = sender.len() as u8;
    head[4..].copy_from_slice(sender.as_bytes());
    rest[0] = topic.len() as u8;
    rest[1..1 + topic.len()].copy_from_slice(topic.as_bytes());
    rest[1 + topic.len()..].copy_from_slice(payload);
    Some(len)
}

/// A direct message decoded from a user-message body (after the type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direct<'a> {
    /// The sender's name as it wrote it (may be empty for foreign messages).
    pub sender: &'a str,
    /// The topic (empty for foreign messages).
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
}

/// Decodes a user-message body: our framing, or raw bytes with an empty topic.
pub fn decode_direct(body: &[u8]) -> Direct<'_> {
    parse_framed(body).unwrap_or(Direct { sender: "", topic: "", payload: body })
}

fn parse_framed(body: &[u8]) -> Option<Direct<'_>> {
    let (&magic, rest) = body.split_first()?;
    let (&version, rest) = rest.split_first()?;
    if magic != DIRECT_MAGIC || version != DIRECT_VERSION {
        return None;
    }
    let (&slen, rest) = rest.split_first()?;
    let (sender, rest) = split(rest, slen as usize)?;
    let (&tlen, rest) = rest.split_first()?;
    let (topic, payload) = split(rest, tlen as usize)?;
    Some(Direct {
        sender: core::str::from_utf8(sender).ok()?,
        topic: core::str::from_utf8(topic).ok()?,
        payload,
    })
}

fn split(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

/// What [`EventDedup::observe`] makes of a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen before: deliver it and gossip it on.
    New,
    /// Seen before.
    Duplicate,
    /// Older than the remembered window (its sender's clock lags far behind).
    TooOld,
    /// Its Lamport time is more than [`MAX_CLOCK_JUMP`] ahead of this node's
    /// clock: refused, so one forged event cannot push the clock to the end
    /// of its range (Serf would wrap; every later event would look old).
    TooNew,
    /// [`MAX_EVENTS_PER_TIME`] events of its time were remembered already.
    Full,
}

/// The furthest a Lamport clock moves ahead in one step (2^32 events):
/// beyond it a received time is taken as forged or corrupt and refused.
pub const MAX_CLOCK_JUMP: u64 = 1 << 32;

/// Moves a "highest seen" Lamport clock to `seen`, unless that jumps more
/// than [`MAX_CLOCK_JUMP`] ahead (then returns false and leaves it).
pub fn advance_clock(clock: &mut u64, seen: u64) -> bool {
    if seen > clock.saturating_add(MAX_CLOCK_JUMP) {
        return false;
    }
    *clock = (*clock).max(seen);
    true
}

/// Events of one Lamport time remembered, at most (more are refused as
/// [`Seen::Full`]: a bound on what one forged time can cost).
pub const MAX_EVENTS_PER_TIME: usize = 64;

/// Bytes of event names and payloads kept for replay in push-pull states, at
/// most (the oldest times' events are let go first; they stay remembered
/// for de-duplication).
pub const MAX_REPLAY_BYTES: usize = 64 * 1024;

/// One Lamport time's slot of the ring.
#[derive(Debug, Default)]
struct Slot {
    ltime: u64,
    digests: Vec<u64>,
    /// `(name, payload)` of the events kept for replay.
    kept: Vec<(Box<str>, Box<[u8]>)>,
}

/// Serf's Lamport clock and recent-event buffer (`serf.go` `eventBuffer`):
/// says whether a broadcast is new, and keeps recent events so a push-pull
/// can hand them to a member that missed them (Serf's `LocalState` /
/// `MergeRemoteState`).
#[derive(Debug)]
pub struct EventDedup {
    clock: u64,
    ring: Vec<Slot>,
    size: u64,
    key: u64,
    /// Events before this time are ignored: set when this node joins, like
    /// Serf's `eventMinTime` (a joiner does not replay the cluster's past).
    min_time: u64,
    kept_bytes: usize,
}

impl EventDedup {
    /// A fresh clock remembering [`EVENT_BUFFER`] Lamport times; `key` salts
    /// the digests of remembered events.
    pub fn new(key: u64) -> Self {
        Self::with_size(key, EVENT_BUFFER as usize)
    }

    /// A fresh clock remembering `size` Lamport times (at least 1).
    pub fn with_size(key: u64, size: usize) -> Self {
        EventDedup { clock: 0, ring: Vec::new(), size: size.max(1) as u64, key, min_time: 0, kept_bytes: 0 }
    }

    /// The Lamport time for a new local event (and remembers it as seen).
    pub fn next_local(&mut self, name: &str, payload: &[u8]) -> u64 {
        let t = self.clock;
        self.clock = self.clock.saturating_add(1);
        self.remember(t, name, payload);
        t
    }

    /// The clock's current value.
    pub fn time(&self) -> u64 {
        self.clock
    }

    /// Ignores events before `t` from now on (Serf's join without replay).
    pub fn ignore_before(&mut self, t: u64) {
        self.min_time = self.min_time.max(t);
    }

    /// Witnesses a received event: is it new (deliver and re-gossip), seen
    /// before, or older than the events remembered?
    pub fn observe(&mut self, ltime: u64, name: &str, payload: &[u8]) -> Seen {
        if !self.witness(ltime) {
            return Seen::TooNew;
        }
        if ltime < self.min_time || (self.clock > self.size && ltime < self.clock - self.size) {
            return Seen::TooOld;
        }
        self.remember(ltime, name, payload)
    }

    /// Lamport witness: the clock moves past `t`, unless `t` is more than
    /// [`MAX_CLOCK_JUMP`] ahead (then false, and the clock stays).
    pub fn witness(&mut self, t: u64) -> bool {
        if t >= self.clock {
            if t - self.clock > MAX_CLOCK_JUMP {
                return false;
            }
            self.clock = t + 1;
        }
        true
    }

    fn remember(&mut self, ltime: u64, name: &str, payload: &[u8]) -> Seen {
        if self.ring.is_empty() {
            self.ring = (0..self.size).map(|_| Slot { ltime: u64::MAX, ..Slot::default() }).collect();
        }
        let digest = self.digest(name, payload);
        let i = (ltime % self.size) as usize;
        let slot = &mut self.ring[i];
        if slot.ltime != ltime {
            if slot.ltime != u64::MAX && slot.ltime > ltime {
                // The slot holds a newer time: this one is past the window.
                return Seen::TooOld;
            }
            // Keeps the slot's storage for the next events.
            slot.ltime = ltime;
            slot.digests.clear();
            let freed: usize = slot.kept.drain(..).map(|(n, p)| n.len() + p.len()).sum();
            self.kept_bytes -= freed;
        }
        let slot = &mut self.ring[i];
        if slot.digests.contains(&digest) {
            return Seen::Duplicate;
        }
        if slot.digests.len() >= MAX_EVENTS_PER_TIME {
            return Seen::Full;
        }
        slot.digests.push(digest);
        let cost = name.len() + payload.len();
        if cost <= MAX_REPLAY_BYTES {
            slot.kept.push((name.into(), payload.into()));
            self.kept_bytes += cost;
            self.trim_kept();
        }
        Seen::New
    }

    /// Lets the oldest kept events go until the bound holds.
    fn trim_kept(&mut self) {
        while self.kept_bytes > MAX_REPLAY_BYTES {
            let Some(oldest) = self.ring.iter_mut().filter(|s| !s.kept.is_empty()).min_by_key(|s| s.ltime)
            else {
                break;
            };
            let freed: usize = oldest.kept.drain(..).map(|(n, p)| n.len() + p.len()).sum();
            self.kept_bytes -= freed;
        }
    }

    /// The events kept for replay, oldest time first, for a push-pull state
    /// (Serf's `Events`).
    pub fn buffered(&self) -> Vec<crate::wire::serf::EventGroup<'_>> {
        let mut groups: Vec<_> = self
            .ring
            .iter()
            .filter(|s| !s.kept.is_empty())
            .map(|s| crate::wire::serf::EventGroup {
                ltime: s.ltime,
                events: s.kept.iter().map(|(n, p)| (&**n, &**p)).collect(),
            })
            .collect();
        groups.sort_by_key(|g| g.ltime);
        groups
    }

    /// FNV-1a over a salt, the name, a separator and the payload.
    fn digest(&self, name: &str, payload: &[u8]) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.key;
        let sep = (name.len() as u64).to_le_bytes();
        for &b in name.as_bytes().iter().chain(sep.iter()).chain(payload) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
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
    /// The node was shut down (returned by the drivers' `Cluster`).
    Shutdown,
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::Shutdown => f.write_str("the cluster was shut down"),
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

impl<R: RngCore> Swim<R> {
    /// Queues a broadcast of `payload` under `topic` to every member (gossip,
    /// eventually consistent, delivered once per node; not to this node).
    pub fn broadcast(&mut self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        let (msg, _) = self.encode_broadcast(topic, payload, false)?;
        self.gossip.push(None, msg);
        Ok(())
    }

    /// A new broadcast's user event (coalesce flag `cc`) and Lamport time,
    /// after the checks every broadcast passes.
    pub(super) fn encode_broadcast(
        &mut self,
        topic: &str,
        payload: &[u8],
        cc: bool,
    ) -> Result<(Vec<u8>, u64), BroadcastError> {
        if self.leave.is_some() {
            return Err(BroadcastError::Leaving);
        }
        if topic.len() > user::MAX_TOPIC_LEN {
            return Err(BroadcastError::TopicTooLong);
        }
        let max_payload = self.max_broadcast_payload(topic);
        if payload.len() > max_payload {
            return Err(BroadcastError::TooLarge { max_payload });
        }
        let ltime = self.dedup.next_local(topic, payload);
        let ev = crate::wire::serf::UserEvent { ltime, name: topic, payload, cc };
        let mut msg = vec![0u8; ev.encoded_len()];
        match ev.encode(&mut msg) {
            Ok(n) => msg.truncate(n),
            Err(_) => return Err(BroadcastError::TooLarge { max_payload }),
        }
        Ok((msg, ltime))
    }

    /// The largest broadcast payload that fits one gossip packet with
    /// `topic` (a Serf user event, whatever its Lamport time).
    pub fn max_broadcast_payload(&self, topic: &str) -> usize {
        let probe = crate::wire::serf::UserEvent { ltime: u64::MAX, name: topic, payload: &[], cc: false };
        let overhead = probe.encoded_len() + 5; // payload length prefix grows by up to 5 bytes
        self.max_gossip_len().saturating_sub(overhead)
    }

    /// Largest gossip message that fits alone in a packet.
    pub(super) fn max_gossip_len(&self) -> usize {
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

    pub(super) fn encode_direct_inner(
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
        let layers =
            Layers { label: self.cfg.label.as_bytes(), keyring: self.seal_keyring(), verify_incoming: true };
        let room = packet::header_room(&layers, crc);
        let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
        let end = self.cfg.udp_buffer_size.min(buf.len()).saturating_sub(tag);
        let body = buf.get_mut(room..end).ok_or(too_large.clone())?;
        let len = user::encode_direct(body, self.name.as_str(), topic, payload).ok_or(too_large.clone())?;
        let n = packet::seal_packet(buf, room, len, &layers, crc, nonce).map_err(|_| too_large)?;
        self.metrics.packets_sent += 1;
        self.metrics.bytes_sent += n as u64;
        self.metrics.messages_sent.user += 1;
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

    pub(super) fn handle_user(
        &mut self,
        now: Instant,
        from: SocketAddr,
        body: &[u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) {
        match body.first() {
            Some(&crate::wire::serf::USER_EVENT) => {
                let ev = match crate::wire::serf::UserEvent::decode(body) {
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
                    user::Seen::TooNew => {
                        self.metrics.clock_jumps_refused += 1;
                        return;
                    }
                    user::Seen::Full => {
                        self.metrics.broadcasts_refused += 1;
                        return;
                    }
                }
                if ev.cc && !self.latest.advance(ev.name, ev.ltime, ev.payload) {
                    // A newer value of this topic was delivered already.
                    self.metrics.broadcasts_superseded += 1;
                    return;
                }
                self.metrics.broadcasts_received += 1;
                // Re-gossip exactly what we received.
                let mut msg = Vec::with_capacity(body.len() + 1);
                msg.push(msg_type::USER);
                msg.extend_from_slice(body);
                if ev.cc {
                    self.gossip.push_named(NodeId::from(ev.name), msg);
                } else {
                    self.gossip.push(None, msg);
                }
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
            Some(&(crate::wire::serf::JOIN | crate::wire::serf::LEAVE)) => self.handle_intent(body),
            Some(&crate::wire::serf::QUERY) if crate::wire::serf::is_serf_message(body) => {
                self.handle_query(now, body, true)
            }
            Some(&crate::wire::serf::QUERY_RESPONSE) if crate::wire::serf::is_serf_message(body) => {
                self.handle_query_response(body)
            }
            Some(&crate::wire::serf::RELAY) if crate::wire::serf::is_serf_message(body) => {
                self.handle_relay(body)
            }
            Some(_) if crate::wire::serf::is_serf_message(body) => {
                // Serf's other traffic (queries, key requests) is not for the
                // application.
                self.metrics.serf_messages_ignored += 1;
            }
            _ => {
                let d = user::decode_direct(body);
                self.metrics.user_messages_received += 1;
                self.deliver_from(d.sender, from, d.topic, d.payload, DeliveryKind::Direct, deliver);
            }
        }
    }

    /// Serf's event replay (`MergeRemoteState`): delivers an event of a
    /// push-pull state from `peer` (a member named `relay`) if this node has
    /// not seen it, and remembers it; not gossiped again (the cluster has it).
    pub(super) fn replay_event(
        &mut self,
        (relay, peer): (&str, SocketAddr),
        (ltime, name, payload): (u64, &str, &[u8]),
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) {
        if self.dedup.observe(ltime, name, payload) == user::Seen::New {
            if self.latest.replay_superseded(name, ltime, payload) {
                self.metrics.broadcasts_superseded += 1;
                return;
            }
            self.metrics.broadcasts_replayed += 1;
            self.deliver_from(relay, peer, name, payload, DeliveryKind::Broadcast, deliver);
        }
    }

    pub(super) fn deliver_from(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn framed_round_trip_and_foreign_bytes() {
        let mut buf = [0u8; 64];
        let n = encode_direct(&mut buf, "node-1", "ping", b"pong").unwrap();
        assert_eq!(buf[0], 8);
        let d = decode_direct(&buf[1..n]);
        assert_eq!(d, Direct { sender: "node-1", topic: "ping", payload: b"pong" });
        let raw = decode_direct(b"hello-udp");
        assert_eq!(raw, Direct { sender: "", topic: "", payload: b"hello-udp" });
        assert!(encode_direct(&mut buf, "n", "t", &[0; 64]).is_none());
    }

    #[test]
    fn dedup_delivers_each_event_once() {
        let mut d = EventDedup::new(7);
        assert_eq!(d.observe(5, "deploy", b"v1"), Seen::New);
        assert_eq!(d.observe(5, "deploy", b"v1"), Seen::Duplicate);
        assert_eq!(d.observe(5, "deploy", b"v2"), Seen::New, "same time, other payload");
        assert_eq!(d.observe(6, "deploy", b"v1"), Seen::New, "other time");
        let t = d.next_local("x", b"y");
        assert!(t >= 7);
        assert_eq!(d.observe(t, "x", b"y"), Seen::Duplicate, "our own event echoed back");
        // Far older than the buffer: refused as too old.
        d.observe(10_000, "late", b"");
        assert_eq!(d.observe(1, "old", b""), Seen::TooOld);
        d.witness(20_000);
        assert!(d.next_local("z", b"") > 20_000);
    }

    #[test]
    fn events_of_one_time_are_bounded() {
        let mut d = EventDedup::new(7);
        for i in 0..MAX_EVENTS_PER_TIME as u32 {
            assert_eq!(d.observe(3, "e", &i.to_be_bytes()), Seen::New);
        }
        assert_eq!(d.observe(3, "e", b"one more"), Seen::Full);
        assert_eq!(d.observe(4, "e", b"one more"), Seen::New, "other times are not affected");
    }

    #[test]
    fn recent_events_are_kept_for_replay_within_a_byte_bound() {
        let mut d = EventDedup::new(7);
        d.observe(9, "b", b"2");
        d.observe(2, "a", b"1");
        let t = d.next_local("c", b"3");
        let got: Vec<_> =
            d.buffered().into_iter().flat_map(|g| g.events.into_iter().map(move |e| (g.ltime, e))).collect();
        assert_eq!(got, vec![(2, ("a", &b"1"[..])), (9, ("b", &b"2"[..])), (t, ("c", &b"3"[..]))]);
        // Large events push the oldest out of the replay set (not out of
        // the de-duplication ring).
        let big = vec![0u8; MAX_REPLAY_BYTES / 3];
        for k in 0..4u8 {
            d.observe(20 + u64::from(k), "big", &big);
        }
        let kept: usize =
            d.buffered().iter().flat_map(|g| g.events.iter()).map(|(n, p)| n.len() + p.len()).sum();
        assert!(kept <= MAX_REPLAY_BYTES);
        let times: Vec<u64> = d.buffered().iter().map(|g| g.ltime).collect();
        assert_eq!(times, vec![22, 23], "the newest that fit");
        assert_eq!(d.observe(2, "a", b"1"), Seen::Duplicate, "still remembered");
    }

    #[test]
    fn events_before_a_join_are_ignored() {
        let mut d = EventDedup::new(7);
        d.ignore_before(100);
        assert_eq!(d.observe(99, "old", b""), Seen::TooOld);
        assert_eq!(d.observe(100, "new", b""), Seen::New);
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let d = decode_direct(&body);
            prop_assert!(d.payload.len() <= body.len());
        }

        #[test]
        fn framing_round_trips(sender in ".{0,40}", topic in ".{0,40}", payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut buf = [0u8; 1024];
            if let Some(n) = encode_direct(&mut buf, &sender, &topic, &payload) {
                let d = decode_direct(&buf[1..n]);
                prop_assert_eq!(d, Direct { sender: &sender, topic: &topic, payload: &payload });
            } else {
                prop_assert!(sender.len() > 255 || topic.len() > 255);
            }
        }
    }
}
