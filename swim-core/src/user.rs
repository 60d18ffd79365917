//! User messages: the framing of direct sends, and de-duplication of broadcasts.
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
}

/// Serf's Lamport clock and recent-event ring: says whether a broadcast is new.
#[derive(Debug)]
pub struct EventDedup {
    clock: u64,
    ring: Vec<(u64, Vec<u64>)>,
    key: u64,
}

impl EventDedup {
    /// A fresh clock; `key` salts the digests of remembered events.
    pub fn new(key: u64) -> Self {
        EventDedup { clock: 0, ring: Vec::new(), key }
    }

    /// The Lamport time for a new local event (and remembers it as seen).
    pub fn next_local(&mut self, name: &str, payload: &[u8]) -> u64 {
        let t = self.clock;
        self.clock += 1;
        self.remember(t, name, payload);
        t
    }

    /// The clock's current value.
    pub fn time(&self) -> u64 {
        self.clock
    }

    /// Witnesses a received event: is it new (deliver and re-gossip), seen
    /// before, or older than the events remembered?
    pub fn observe(&mut self, ltime: u64, name: &str, payload: &[u8]) -> Seen {
        self.witness(ltime);
        if self.clock > EVENT_BUFFER && ltime < self.clock - EVENT_BUFFER {
            return Seen::TooOld;
        }
        if self.remember(ltime, name, payload) {
            Seen::New
        } else {
            Seen::Duplicate
        }
    }

    /// Lamport witness: the clock moves past `t`.
    pub fn witness(&mut self, t: u64) {
        if t >= self.clock {
            self.clock = t.saturating_add(1);
        }
    }

    fn remember(&mut self, ltime: u64, name: &str, payload: &[u8]) -> bool {
        if self.ring.is_empty() {
            self.ring = (0..EVENT_BUFFER).map(|_| (u64::MAX, Vec::new())).collect();
        }
        let digest = self.digest(name, payload);
        let slot = &mut self.ring[(ltime % EVENT_BUFFER) as usize];
        if slot.0 != ltime {
            // Keeps the slot's storage for the next events.
            slot.0 = ltime;
            slot.1.clear();
        }
        if slot.1.contains(&digest) {
            return false;
        }
        slot.1.push(digest);
        true
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
