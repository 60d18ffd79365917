//! Serf's layer on top of memberlist (`serf/messages.go`): Serf messages ride inside
//! memberlist user messages as `[8][serf type][msgpack …]`, and node tags live in
//! memberlist `Meta` as `0xFF` + msgpack `map[string]string`.
//!
//! The messages are declared with `wire_message!` (`codec.rs`) as memberlist's are,
//! with both type bytes. Tags (a map of any keys) and the push/pull clocks (three
//! fields of a larger message, appended to a `Vec`) are written by hand.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::codec::{body_after, wire_message, FieldValue};
use crate::wire::msgpack::{measure, DecodeError, Reader, Writer};
use crate::wire::{append_with, msg_type};

/// Serf `messageLeave`.
pub const LEAVE: u8 = 0;
/// Serf `messageJoin`.
pub const JOIN: u8 = 1;
/// Serf `messagePushPull` (push/pull user state).
pub const PUSH_PULL: u8 = 2;
/// Serf `messageUserEvent`.
pub const USER_EVENT: u8 = 3;
/// Serf `messageQuery`.
pub const QUERY: u8 = 4;
/// Serf `messageQueryResponse`.
pub const QUERY_RESPONSE: u8 = 5;
/// Serf `messageConflictResponse`.
pub const CONFLICT_RESPONSE: u8 = 6;
/// Serf `messageKeyRequest`.
pub const KEY_REQUEST: u8 = 7;
/// Serf `messageKeyResponse`.
pub const KEY_RESPONSE: u8 = 8;
/// Serf `messageRelay`.
pub const RELAY: u8 = 9;
/// First byte of tag-encoded `Meta`.
pub const TAG_MAGIC: u8 = 0xff;

/// True if `body` (a memberlist user message after its `8` byte) looks like a Serf
/// message: a known Serf type byte followed by a msgpack map.
pub fn is_serf_message(body: &[u8]) -> bool {
    matches!(body.first(), Some(&(LEAVE..=RELAY)))
        && matches!(body.get(1), Some(&(0x80..=0x8f | 0xde | 0xdf)))
}

wire_message! {
    /// Serf `messageUserEvent{LTime, Name, Payload, CC}`, the whole memberlist user
    /// message `[8][3]{CC, LTime, Name, Payload}`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct UserEvent<'a> = msg_type::USER => USER_EVENT {
        /// Event Lamport time.
        ltime: u64 = "LTime" required,
        /// Event name.
        name: &'a str = "Name" required,
        /// Event payload.
        payload: &'a [u8] = "Payload",
        /// Whether the event may be coalesced.
        cc: bool = "CC",
    }
}

wire_message! {
    /// Serf `messageJoin{LTime, Node}` (a join intent), `[8][1]{LTime, Node}`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Join<'a> = msg_type::USER => JOIN {
        /// Lamport time of the intent.
        ltime: u64 = "LTime" required,
        /// Joining node.
        node: &'a str = "Node" required,
    }
}

wire_message! {
    /// Serf `messageLeave{LTime, Node, Prune}` (a leave intent),
    /// `[8][0]{LTime, Node, Prune}`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Leave<'a> = msg_type::USER => LEAVE {
        /// Lamport time of the intent.
        ltime: u64 = "LTime" required,
        /// Leaving node.
        node: &'a str = "Node" required,
        /// Whether to prune the node immediately.
        prune: bool = "Prune",
    }
}

/// Appends Serf-encoded tags (`0xFF` + msgpack map of str → str) to `out`, in the
/// iterator's order.
pub fn encode_tags<'t>(tags: impl Iterator<Item = (&'t str, &'t str)>, out: &mut Vec<u8>) {
    out.push(TAG_MAGIC);
    // Reserve the largest map header, fill in the entries, then shrink the header.
    let hdr = out.len();
    out.extend_from_slice(&[0; 5]);
    let mut n = 0usize;
    for (k, v) in tags {
        let entry = |w: &mut Writer<'_>| {
            w.str(k)?;
            w.str(v)
        };
        let len = measure(entry);
        let ok = append_with(out, len, |b| {
            let mut w = Writer::new(b);
            entry(&mut w)?;
            Ok(w.position())
        });
        n += usize::from(ok.is_ok());
    }
    let mut h = [0u8; 5];
    let mut w = Writer::new(&mut h);
    let hl = match w.map_header(n) {
        Ok(()) => w.position(),
        Err(_) => 0,
    };
    out[hdr..hdr + hl].copy_from_slice(&h[..hl]);
    out.drain(hdr + hl..hdr + 5);
}

/// Decodes Serf tags from memberlist `Meta`: `0xFF` + map → its entries; other non-empty
/// bytes → `[("role", bytes as lossy UTF-8)]`; empty → empty. Never pre-allocates from
/// the declared count.
pub fn decode_tags(meta: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    match meta.split_first() {
        None => Ok(Vec::new()),
        Some((&TAG_MAGIC, body)) => {
            let mut r = Reader::new(body);
            let n = r.read_map_len()?;
            let mut tags = Vec::new();
            for _ in 0..n {
                let k = <&str>::read(&mut r)?;
                let v = <&str>::read(&mut r)?;
                tags.push((k.to_owned(), v.to_owned()));
            }
            Ok(tags)
        }
        Some(_) => Ok(alloc::vec![("role".to_owned(), String::from_utf8_lossy(meta).into_owned())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::msgpack::EncodeError;
    use crate::wire::tests::{hex, read_shared};
    use crate::wire::Message;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn join_and_leave_from_captures() {
        let mut joins = 0;
        let mut leaves = 0;
        for dir in ["vectors_plain", "vectors_encrypted"] {
            let decoded = read_shared(&alloc::format!("serf/{dir}/decoded.json"));
            for chunk in decoded.split("\"trailing_raw_hex\": \"").skip(1) {
                let body = hex(&chunk[..chunk.find('"').unwrap()]);
                assert!(is_serf_message(&body));
                match body[0] {
                    JOIN => {
                        let j = Join::decode(&body).unwrap();
                        assert!(j.node.starts_with('s') && j.ltime > 0);
                        let mut out = vec![0u8; 64];
                        let n = j.encode(&mut out).unwrap();
                        assert_eq!(&out[2..n], &body[1..], "re-encodes exactly");
                        joins += 1;
                    }
                    LEAVE => {
                        let l = Leave::decode(&body).unwrap();
                        assert!(!l.prune);
                        let mut out = vec![0u8; 64];
                        let n = l.encode(&mut out).unwrap();
                        assert_eq!(&out[2..n], &body[1..]);
                        leaves += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(joins >= 48 && leaves >= 32, "{joins} {leaves}");
    }

    #[test]
    fn user_event_round_trip_and_key_order() {
        let ev = UserEvent { ltime: 7, name: "deploy", payload: b"v1", cc: true };
        let mut out = vec![0u8; ev.encoded_len()];
        assert_eq!(ev.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..2], &[8, 3]);
        assert_eq!(
            &out[2..],
            &hex("84a24343c3a54c54696d6507a44e616d65a66465706c6f79a75061796c6f6164a27631")[..]
        );
        assert_eq!(Message::decode(&out), Ok(Message::User(&out[1..])));
        assert_eq!(UserEvent::decode(&out[1..]), Ok(ev));
        assert_eq!(UserEvent::decode(&[1, 0x80]), Err(DecodeError::UnknownMessageType(1)));
        assert_eq!(UserEvent::decode(&[3, 0x80]), Err(DecodeError::MissingField("LTime")));
    }

    #[test]
    fn tags() {
        let mut out = Vec::new();
        encode_tags([("role", "web"), ("dc", "x")].into_iter(), &mut out);
        assert_eq!(out, hex("ff82a4726f6c65a3776562a26463a178"));
        assert_eq!(
            decode_tags(&out).unwrap(),
            vec![("role".into(), "web".into()), ("dc".into(), "x".into())]
        );
        let mut empty = Vec::new();
        encode_tags(core::iter::empty(), &mut empty);
        assert_eq!(empty, [0xff, 0x80], "matches Serf's Meta in the captures");
        assert_eq!(decode_tags(&[]).unwrap(), vec![]);
        assert_eq!(decode_tags(b"db").unwrap(), vec![("role".into(), "db".into())]);
        assert_eq!(decode_tags(&[0xff, 0xdf, 0xff, 0xff, 0xff, 0xff]), Err(DecodeError::Truncated));
        let many: Vec<(String, String)> = (0..20).map(|i| (alloc::format!("k{i}"), String::new())).collect();
        let mut out = Vec::new();
        encode_tags(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut out);
        assert_eq!(&out[..3], &[0xff, 0xde, 0]);
        assert_eq!(decode_tags(&out).unwrap(), many);
    }

    #[test]
    fn join_and_leave_bytes_and_errors() {
        // `[8][LEAVE]{LTime, Node, Prune}` and `[8][JOIN]{LTime, Node}`, as the
        // hand-written encoders before the macro wrote them.
        let leave = Leave { ltime: 300, node: "s1", prune: true };
        let mut out = vec![0u8; 64];
        let n = leave.encode(&mut out).unwrap();
        assert_eq!(&out[..n], &hex("080083a54c54696d65cd012ca44e6f6465a27331a55072756e65c3")[..]);
        assert_eq!(leave.encoded_len(), n);
        assert_eq!(Leave::decode(&out[1..n]), Ok(leave));
        let join = Join { ltime: 1, node: "" };
        let n = join.encode(&mut out).unwrap();
        assert_eq!(&out[..n], &hex("080182a54c54696d6501a44e6f6465a0")[..]);
        assert_eq!(Join::decode(&out[1..n]), Ok(join));
        assert_eq!(join.encode(&mut out[..n - 1]), Err(EncodeError::BufferTooSmall));

        assert_eq!(Join::decode(&[]), Err(DecodeError::Truncated));
        assert_eq!(Leave::decode(&[JOIN, 0x80]), Err(DecodeError::UnknownMessageType(JOIN)));
        assert_eq!(Join::decode(&[LEAVE, 0x80]), Err(DecodeError::UnknownMessageType(LEAVE)));
        // {"LTime": 2}: the node is required; {"Node": "x"}: the time is.
        assert_eq!(Join::decode(&hex("0181a54c54696d6502")), Err(DecodeError::MissingField("Node")));
        assert_eq!(Leave::decode(&hex("0081a44e6f6465a178")), Err(DecodeError::MissingField("LTime")));
        // Unknown fields are skipped, nil reads as zero, Prune may be absent.
        assert_eq!(
            Leave::decode(&hex("0083a158c0a54c54696d65c0a44e6f6465a178")),
            Ok(Leave { ltime: 0, node: "x", prune: false })
        );
    }

    proptest! {
        #[test]
        fn round_trips(ltime in any::<u64>(), name in ".{0,40}", payload in proptest::collection::vec(any::<u8>(), 0..100), cc in any::<bool>(),
                       tags in proptest::collection::vec((".{0,10}", ".{0,10}"), 0..20)) {
            let ev = UserEvent { ltime, name: &name, payload: &payload, cc };
            let mut out = vec![0u8; ev.encoded_len()];
            ev.encode(&mut out).unwrap();
            prop_assert!(ev.max_encoded_len() >= out.len());
            prop_assert_eq!(UserEvent::decode(&out[1..]), Ok(ev));
            let mut t = Vec::new();
            encode_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut t);
            prop_assert_eq!(decode_tags(&t).unwrap(), tags);
        }

        #[test]
        fn join_and_leave_round_trip(ltime in any::<u64>(), node in ".{0,40}", prune in any::<bool>()) {
            let mut out = vec![0u8; 64 + node.len()];
            let leave = Leave { ltime, node: &node, prune };
            let n = leave.encode(&mut out).unwrap();
            prop_assert_eq!((n, &out[..2]), (leave.encoded_len(), &[msg_type::USER, LEAVE][..]));
            prop_assert!(leave.max_encoded_len() >= n);
            prop_assert_eq!(Leave::decode(&out[1..n]), Ok(leave));
            let join = Join { ltime, node: &node };
            let n = join.encode(&mut out).unwrap();
            prop_assert_eq!((n, &out[..2]), (join.encoded_len(), &[msg_type::USER, JOIN][..]));
            prop_assert!(join.max_encoded_len() >= n);
            prop_assert_eq!(Join::decode(&out[1..n]), Ok(join));
        }

        #[test]
        fn arbitrary_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = UserEvent::decode(&b);
            let _ = Join::decode(&b);
            let _ = Leave::decode(&b);
            let _ = decode_tags(&b);
            let _ = is_serf_message(&b);
            let mut v = vec![TAG_MAGIC];
            v.extend_from_slice(&b);
            let _ = decode_tags(&v);
            let mut v = vec![USER_EVENT];
            v.extend_from_slice(&b);
            let _ = UserEvent::decode(&v);
        }
    }
}

/// The Lamport clocks in Serf's push/pull user state (`messagePushPull`),
/// the part of it swim uses: a node that joins late learns the cluster's
/// event time, so its broadcasts are not taken for old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushPullClocks {
    /// Serf's member-intent clock (`LTime`).
    pub ltime: u64,
    /// The user-event clock (`EventLTime`).
    pub event_ltime: u64,
    /// The query clock (`QueryLTime`).
    pub query_ltime: u64,
}

/// The user events of one Lamport time in Serf's push/pull state
/// (`userEvents{LTime, Events []userEvent{Name, Payload}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup<'a> {
    /// The events' Lamport time.
    pub ltime: u64,
    /// `(name, payload)` of each event of that time.
    pub events: Vec<(&'a str, &'a [u8])>,
}

impl PushPullClocks {
    /// Appends `[2]` + `messagePushPull{…}` with these clocks, no status
    /// times, no left members and no buffered events (Serf accepts it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_state(&MemberIntents::default(), &[], out)
    }

    /// Appends `[2]` + `messagePushPull{…}` with these clocks, the members'
    /// intent times and left members (`StatusLTimes`, `LeftMembers`), and
    /// `events` (Serf's recent-event buffer, which the receiver replays).
    pub fn encode_state(&self, intents: &MemberIntents<'_>, events: &[EventGroup<'_>], out: &mut Vec<u8>) {
        self.encode_state_with_app(intents, events, &[], out)
    }

    /// [`encode_state`](Self::encode_state) with the application's state
    /// `app` in an extra `AppState` field (left out when empty). Serf agents
    /// ignore it: their decoder skips fields it does not know.
    pub fn encode_state_with_app(
        &self,
        intents: &MemberIntents<'_>,
        events: &[EventGroup<'_>],
        app: &[u8],
        out: &mut Vec<u8>,
    ) {
        let body = |w: &mut Writer<'_>| {
            w.map_header(6 + usize::from(!app.is_empty()))?;
            if !app.is_empty() {
                w.str("AppState")?;
                w.bytes(app)?;
            }
            w.str("EventLTime")?;
            w.uint(self.event_ltime)?;
            w.str("Events")?;
            w.array_header(events.len())?;
            for g in events {
                w.map_header(2)?;
                w.str("LTime")?;
                w.uint(g.ltime)?;
                w.str("Events")?;
                w.array_header(g.events.len())?;
                for (name, payload) in &g.events {
                    w.map_header(2)?;
                    w.str("Name")?;
                    w.str(name)?;
                    w.str("Payload")?;
                    w.bytes(payload)?;
                }
            }
            w.str("LTime")?;
            w.uint(self.ltime)?;
            w.str("LeftMembers")?;
            w.array_header(intents.left.len())?;
            for name in &intents.left {
                w.str(name)?;
            }
            w.str("QueryLTime")?;
            w.uint(self.query_ltime)?;
            w.str("StatusLTimes")?;
            w.map_header(intents.status.len())?;
            for (name, t) in &intents.status {
                w.str(name)?;
                w.uint(*t)?;
            }
            Ok(())
        };
        out.push(PUSH_PULL);
        let len = measure(body);
        // The body always fits the room measured for it.
        let _ = append_with(out, len, |b| {
            let mut w = Writer::new(b);
            body(&mut w)?;
            Ok(w.position())
        });
    }

    /// Reads the clocks from a push/pull user state (starting at its `[2]`),
    /// skipping everything else.
    pub fn decode(state: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_state(state, |_, _, _| {}).map(|(c, _)| c)
    }

    /// The application state (`AppState`) of a push/pull user state, if it
    /// carries one (see [`encode_state_with_app`](Self::encode_state_with_app)).
    pub fn app_state(state: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
        let mut r = body_after(state, PUSH_PULL)?;
        for _ in 0..r.read_map_len()? {
            match r.read_bytes()? {
                b"AppState" => return Ok(Some(r.read_bytes()?)),
                _ => r.skip_value()?,
            }
        }
        Ok(None)
    }

    /// Reads the clocks, and hands each buffered event to `event(ltime, name,
    /// payload)` (Serf sends its whole ring: empty slots are `nil`). Nothing
    /// is allocated; every length is checked against the input.
    ///
    /// Also returns the member intents (`StatusLTimes`, `LeftMembers`); their
    /// lists are never longer than the input allows.
    pub fn decode_state<'a>(
        state: &'a [u8],
        mut event: impl FnMut(u64, &str, &[u8]),
    ) -> Result<(Self, MemberIntents<'a>), DecodeError> {
        let mut r = body_after(state, PUSH_PULL)?;
        let mut c = PushPullClocks::default();
        let mut intents = MemberIntents::default();
        for _ in 0..r.read_map_len()? {
            match r.read_bytes()? {
                b"LTime" => c.ltime = r.read_uint()?,
                b"StatusLTimes" if !r.is_nil()? => {
                    let n = r.read_map_len()?;
                    intents.status.reserve(n.min(r.remaining().len() / 2));
                    for _ in 0..n {
                        let name = r.read_str()?;
                        intents.status.push((name, r.read_uint()?));
                    }
                }
                b"LeftMembers" if !r.is_nil()? => {
                    let n = r.read_array_len()?;
                    intents.left.reserve(n.min(r.remaining().len()));
                    for _ in 0..n {
                        intents.left.push(r.read_str()?);
                    }
                }
                b"EventLTime" => c.event_ltime = r.read_uint()?,
                b"QueryLTime" => c.query_ltime = r.read_uint()?,
                b"Events" if !r.is_nil()? => {
                    for _ in 0..r.read_array_len()? {
                        if r.is_nil()? {
                            r.skip_value()?;
                            continue;
                        }
                        read_event_group(&mut r, &mut event)?;
                    }
                }
                _ => r.skip_value()?,
            }
        }
        Ok((c, intents))
    }
}

/// Serf's member intents in a push/pull state: each member's last intent
/// time (`StatusLTimes`) and the members that left (`LeftMembers`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberIntents<'a> {
    /// `(name, Lamport time of its last join or leave intent)`.
    pub status: Vec<(&'a str, u64)>,
    /// Members that left gracefully.
    pub left: Vec<&'a str>,
}

/// One `userEvents` map: its `LTime` is found first (the fields may come in
/// any order), then its events are handed on.
fn read_event_group(r: &mut Reader<'_>, event: &mut impl FnMut(u64, &str, &[u8])) -> Result<(), DecodeError> {
    let fields = r.read_map_len()?;
    let start = r.remaining();
    let mut ltime = None;
    for _ in 0..fields {
        match r.read_bytes()? {
            b"LTime" => ltime = Some(r.read_uint()?),
            _ => r.skip_value()?,
        }
    }
    let Some(ltime) = ltime else { return Ok(()) };
    let mut again = Reader::new(start);
    for _ in 0..fields {
        match again.read_bytes()? {
            b"Events" if !again.is_nil()? => {
                for _ in 0..again.read_array_len()? {
                    let (mut name, mut payload) = ("", &[][..]);
                    for _ in 0..again.read_map_len()? {
                        match again.read_bytes()? {
                            b"Name" => name = again.read_str()?,
                            b"Payload" if !again.is_nil()? => payload = again.read_bytes()?,
                            _ => again.skip_value()?,
                        }
                    }
                    event(ltime, name, payload);
                }
            }
            _ => again.skip_value()?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod push_pull_clock_tests {
    use super::*;
    use crate::wire::tests::{hex, read_shared};

    #[test]
    fn clocks_round_trip() {
        let c = PushPullClocks { ltime: 3, event_ltime: 700, query_ltime: 1 };
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out[0], PUSH_PULL);
        assert_eq!(PushPullClocks::decode(&out), Ok(c));
    }

    #[test]
    fn member_intents_round_trip() {
        let c = PushPullClocks { ltime: 7, event_ltime: 1, query_ltime: 1 };
        let intents = MemberIntents { status: alloc::vec![("a", 3), ("b", 6)], left: alloc::vec!["b"] };
        let mut out = Vec::new();
        c.encode_state(&intents, &[], &mut out);
        assert_eq!(PushPullClocks::decode_state(&out, |_, _, _| {}), Ok((c, intents)));
    }

    #[test]
    fn app_state_rides_beside_the_clocks() {
        let c = PushPullClocks { ltime: 7, event_ltime: 1, query_ltime: 1 };
        let intents = MemberIntents { status: alloc::vec![("a", 3)], left: alloc::vec![] };
        let mut out = Vec::new();
        c.encode_state_with_app(&intents, &[], b"app bytes", &mut out);
        assert_eq!(PushPullClocks::app_state(&out), Ok(Some(&b"app bytes"[..])));
        assert_eq!(PushPullClocks::decode_state(&out, |_, _, _| {}), Ok((c, intents.clone())));
        // None sent: no field at all (the state Serf agents have always read).
        let mut plain = Vec::new();
        c.encode_state_with_app(&intents, &[], b"", &mut plain);
        assert_eq!(PushPullClocks::app_state(&plain), Ok(None));
        let mut old = Vec::new();
        c.encode_state(&intents, &[], &mut old);
        assert_eq!(plain, old);
    }

    #[test]
    fn events_round_trip_and_nil_slots_are_skipped() {
        let c = PushPullClocks { ltime: 3, event_ltime: 12, query_ltime: 1 };
        let groups = [
            EventGroup { ltime: 9, events: alloc::vec![("deploy", &b"v1"[..]), ("deploy", &b"v2"[..])] },
            EventGroup { ltime: 11, events: alloc::vec![("restart", &b""[..])] },
        ];
        let mut out = Vec::new();
        c.encode_state(&MemberIntents::default(), &groups, &mut out);
        let mut got = Vec::new();
        let back = PushPullClocks::decode_state(&out, |t, n, p| got.push((t, n.to_owned(), p.to_vec())));
        assert_eq!(back.map(|(c, _)| c), Ok(c));
        assert_eq!(
            got,
            alloc::vec![
                (9, "deploy".to_owned(), b"v1".to_vec()),
                (9, "deploy".to_owned(), b"v2".to_vec()),
                (11, "restart".to_owned(), Vec::new())
            ]
        );
        // Serf's ring: nil entries between groups, LTime after Events.
        let mut w = alloc::vec![0u8; 256];
        let n = {
            let mut w = Writer::new(&mut w);
            w.map_header(2).unwrap();
            w.str("Events").unwrap();
            w.array_header(3).unwrap();
            w.nil().unwrap();
            w.map_header(2).unwrap();
            w.str("Events").unwrap();
            w.array_header(1).unwrap();
            w.map_header(2).unwrap();
            w.str("Name").unwrap();
            w.str("x").unwrap();
            w.str("Payload").unwrap();
            w.bytes(b"y").unwrap();
            w.str("LTime").unwrap();
            w.uint(5).unwrap();
            w.nil().unwrap();
            w.str("EventLTime").unwrap();
            w.uint(6).unwrap();
            w.position()
        };
        let mut state = alloc::vec![PUSH_PULL];
        state.extend_from_slice(&w[..n]);
        let mut got = Vec::new();
        let c = PushPullClocks::decode_state(&state, |t, n, p| got.push((t, n.to_owned(), p.to_vec())));
        assert_eq!(c.map(|(c, _)| c.event_ltime), Ok(6));
        assert_eq!(got, alloc::vec![(5, "x".to_owned(), b"y".to_vec())]);
    }

    proptest::proptest! {
        #[test]
        fn hostile_states_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut v = alloc::vec![PUSH_PULL];
            v.extend_from_slice(&body);
            let _ = PushPullClocks::decode_state(&v, |_, _, _| {});
        }
    }

    #[test]
    fn reads_a_real_serf_push_pull_state() {
        // tcp_000 in the plain Serf capture is a join push/pull whose user
        // state has EventLTime 1 (see decoded.json).
        let mut raw = hex(&read_shared("serf/vectors_plain/tcp_000.c2s.hex"));
        let mut scratch = Vec::new();
        let msg = crate::wire::packet::open_stream(&mut raw, b"", None, false, &mut scratch).expect("opens");
        let state = crate::wire::PushPullReader::new(msg)
            .and_then(|mut r| r.user_state().map(<[u8]>::to_vec))
            .expect("a push/pull with user state");
        let c = PushPullClocks::decode(&state).unwrap();
        assert_eq!(c.event_ltime, 1);
        // Its event ring (512 slots, nil where empty) reads too.
        let mut events = 0;
        assert_eq!(PushPullClocks::decode_state(&state, |_, _, _| events += 1).map(|(c, _)| c), Ok(c));
        assert!(c.ltime >= 1);
    }
}
