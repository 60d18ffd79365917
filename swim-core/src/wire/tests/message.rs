//! The message codec (`message.rs`, `compound.rs`, `push_pull.rs`): Go's bytes
//! decode and re-encode exactly, required fields and limits, compound building,
//! push/pull streams, and round trips of arbitrary messages.

use super::hex;
use crate::wire::*;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn reencode(m: &Message<'_>) -> Vec<u8> {
    let mut out = vec![0u8; m.encoded_len()];
    assert_eq!(m.encode(&mut out).unwrap(), out.len());
    out
}

const PING: &str = "0085a44e6f6465a46e303033a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a46e303030aa536f75726365506f7274cda663";
const IPING: &str = "0188a44e61636bc3a44e6f6465a46e303030a4506f7274cda663a55365714e6f08aa536f7572636541646472a47f000001aa536f757263654e6f6465a46e303033aa536f75726365506f7274cdb325a6546172676574a47f000001";

#[test]
fn go_bytes_round_trip() {
    let p = hex(PING);
    let m = Message::decode(&p).unwrap();
    assert_eq!(
        m,
        Message::Ping(Ping {
            seq_no: 1,
            node: "n003",
            source_addr: &[127, 0, 0, 1],
            source_port: 42595,
            source_node: "n000"
        })
    );
    assert_eq!(reencode(&m), p);
    let p = hex(IPING);
    let m = Message::decode(&p).unwrap();
    match m {
        Message::IndirectPing(ip) => {
            assert!(ip.nack);
            assert_eq!((ip.seq_no, ip.port, ip.node, ip.source_port), (8, 42595, "n000", 45861));
        }
        _ => panic!("{m:?}"),
    }
    assert_eq!(reencode(&m), p);
    let p = hex("0b81a55365714e6f1d");
    assert_eq!(Message::decode(&p).unwrap(), Message::Nack(Nack { seq_no: 29 }));
}

#[test]
fn missing_and_overflow() {
    // {"Node": "x"} ping without SeqNo
    assert_eq!(Message::decode(&hex("0081a44e6f6465a178")), Err(DecodeError::MissingField("SeqNo")));
    // SeqNo = 2^32
    assert_eq!(Message::decode(&hex("0081a55365714e6fcf0000000100000000")), Err(DecodeError::IntOutOfRange));
    assert_eq!(Message::decode(&[200]), Err(DecodeError::UnknownMessageType(200)));
    assert_eq!(Message::decode(&[]), Err(DecodeError::Truncated));
    // unknown keys skipped, any order; int16 seqno accepted
    let raw = hex("0283a158c0a55365714e6fd10100a75061796c6f6164a178");
    let m = Message::decode(&raw).unwrap();
    assert_eq!(m, Message::Ack(Ack { seq_no: 256, payload: b"x" }));
}

#[test]
fn compound_builder_and_truncation() {
    let mut buf = [0u8; 64];
    let mut b = CompoundBuilder::new(&mut buf);
    assert_eq!(b.remaining(), 60);
    b.push(b"\x08abc").unwrap();
    b.push_with(100, |s| Nack { seq_no: 5 }.encode(s)).unwrap();
    assert_eq!(b.count(), 2);
    let n = b.finish();
    let m = Message::decode(&buf[..n]).unwrap();
    let Message::Compound(c) = m else { panic!() };
    let parts: Vec<&[u8]> = c.parts().collect();
    assert_eq!(parts, [&b"\x08abc"[..], &hex("0b81a55365714e6f05")[..]]);
    assert_eq!(c.truncated(), 0);
    // single part → bare
    let mut buf = [0u8; 16];
    let mut b = CompoundBuilder::new(&mut buf);
    b.push(b"\x08hi").unwrap();
    assert_eq!(b.finish(), 3);
    assert_eq!(&buf[..3], b"\x08hi");
    assert_eq!(CompoundBuilder::new(&mut [0u8; 8]).finish(), 0);
    // truncated tail
    let raw = [7, 3, 0, 1, 0, 5, 0, 1, 8, 8, 8];
    let Message::Compound(c) = Message::decode(&raw).unwrap() else { panic!() };
    assert_eq!(c.parts().count(), 1);
    assert_eq!(c.truncated(), 2);
    assert_eq!(Message::decode(&[7, 3, 0, 1]), Err(DecodeError::Truncated));
    // full buffer
    let mut buf = [0u8; 10];
    let mut b = CompoundBuilder::new(&mut buf);
    assert_eq!(b.push(&[1u8; 7]), Err(EncodeError::BufferTooSmall));
    b.push(&[1u8; 6]).unwrap();
    assert_eq!(b.remaining(), 0);
}

#[test]
fn compound_255_parts() {
    let mut buf = vec![0u8; 2000];
    let mut b = CompoundBuilder::new(&mut buf);
    for _ in 0..255 {
        b.push(&[8]).unwrap();
    }
    assert_eq!(b.push(&[8]), Err(EncodeError::TooManyParts));
    let n = b.finish();
    let Message::Compound(c) = Message::decode(&buf[..n]).unwrap() else { panic!() };
    assert_eq!(c.parts().count(), 255);
}

#[test]
fn push_pull_stream() {
    let s = "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656e0087a441646472a47f000001ab496e6361726e6174696f6e01a44d657461c0a44e616d65a46e303031a4506f7274cd8a07a5537461746500a356736ea6010502000000";
    let b = hex(s);
    let mut r = PushPullReader::new(&b).unwrap();
    let h = r.header();
    assert_eq!(h, PushPullHeader { nodes: 1, user_state_len: 0, join: true });
    let n = r.next_node().unwrap().unwrap();
    assert_eq!((n.name, n.port, n.incarnation, n.state), ("n001", 35335, 1, 0));
    assert_eq!(n.vsn, &[1, 5, 2, 0, 0, 0]);
    assert_eq!(r.next_node(), Ok(None));
    assert_eq!(r.user_state(), Ok(&[][..]));
    let mut out = Vec::new();
    encode_push_pull(&mut out, &h, [n].into_iter(), &[]);
    assert_eq!(out, b);
    let mut u = Vec::new();
    encode_user_stream(&mut u, b"hello-tcp");
    assert_eq!(u, hex("0881aa557365724d73674c656e0968656c6c6f2d746370"));
    let mut ur = UserStreamReader::new(&u).unwrap();
    assert_eq!(ur.header().user_msg_len, 9);
    assert_eq!(ur.body(), Ok(&b"hello-tcp"[..]));
    assert_eq!(UserStreamReader::new(&u[..u.len() - 1]).unwrap().body(), Err(DecodeError::Truncated));
    // hostile counts: a header that declares what does not follow
    let header_only = |nodes, user_state_len| {
        let mut v = Vec::new();
        let h = PushPullHeader { nodes, user_state_len, join: false };
        encode_push_pull(&mut v, &h, core::iter::empty(), &[]);
        v
    };
    let big = header_only(2_000_000, 0);
    assert_eq!(PushPullReader::new(&big).err(), Some(DecodeError::LengthTooLarge));
    let lie = header_only(1000, 5);
    let mut r = PushPullReader::new(&lie).unwrap();
    assert_eq!(r.next_node(), Err(DecodeError::Truncated));
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

proptest! {
    #[test]
    fn messages_round_trip(
        seq in any::<u32>(), port in any::<u16>(), inc in any::<u32>(), flag in any::<bool>(),
        s1 in ".{0,40}", s2 in ".{0,40}", b1 in arb_bytes(), b2 in arb_bytes(), b3 in arb_bytes(),
        state in any::<u8>(),
    ) {
        let msgs = [
            Message::Ping(Ping { seq_no: seq, node: &s1, source_addr: &b1, source_port: port, source_node: &s2 }),
            Message::IndirectPing(IndirectPing { seq_no: seq, target: &b1, port, node: &s1, nack: flag, source_addr: &b2, source_port: port, source_node: &s2 }),
            Message::Ack(Ack { seq_no: seq, payload: &b1 }),
            Message::Nack(Nack { seq_no: seq }),
            Message::Suspect(Suspect { incarnation: inc, node: &s1, from: &s2 }),
            Message::Alive(Alive { incarnation: inc, node: &s1, addr: &b1, port, meta: &b2, vsn: &b3 }),
            Message::Dead(Dead { incarnation: inc, node: &s1, from: &s2 }),
            Message::User(&b1),
            Message::Compress(Compress { algo: state, buf: &b2 }),
            Message::Err(ErrResp { error: &s1 }),
        ];
        for m in msgs {
            let e = reencode(&m);
            prop_assert_eq!(Message::decode(&e), Ok(m));
            let mut small = vec![0u8; e.len() - 1];
            prop_assert_eq!(m.encode(&mut small), Err(EncodeError::BufferTooSmall));
        }
        let node = PushNodeState { name: &s1, addr: &b1, port, meta: &b2, incarnation: inc, state, vsn: &b3 };
        prop_assert!(node.max_encoded_len() >= node.encoded_len());
        let alive = Alive { incarnation: inc, node: &s1, addr: &b1, port, meta: &b2, vsn: &b3 };
        prop_assert!(alive.max_encoded_len() >= Message::Alive(alive).encoded_len());
        let long = "x".repeat(70_000);
        let big = PushNodeState { name: &long, meta: long.as_bytes(), ..node };
        prop_assert!(big.max_encoded_len() >= big.encoded_len());
        let big = Alive { node: &long, meta: long.as_bytes(), ..alive };
        prop_assert!(big.max_encoded_len() >= Message::Alive(big).encoded_len());
        let h = PushPullHeader { nodes: 2, user_state_len: b3.len() as u32, join: flag };
        let mut out = Vec::new();
        encode_push_pull(&mut out, &h, [node, node].into_iter(), &b3);
        let mut r = PushPullReader::new(&out).unwrap();
        prop_assert_eq!(r.header(), h);
        prop_assert_eq!(r.next_node(), Ok(Some(node)));
        prop_assert_eq!(r.user_state(), Ok(&b3[..]));
    }

    #[test]
    fn compound_round_trip(parts in proptest::collection::vec(arb_bytes(), 0..40)) {
        let mut buf = vec![0u8; 1400];
        let mut b = CompoundBuilder::new(&mut buf);
        let mut pushed = Vec::new();
        for p in &parts {
            let room = b.remaining();
            match b.push(p) {
                Ok(()) => {
                    prop_assert!(p.len() <= room);
                    pushed.push(p.clone());
                }
                // room == 0 may also mean that not even a length entry fits.
                Err(_) => prop_assert!(p.len() > room || room == 0),
            }
        }
        let n = b.finish();
        match pushed.len() {
            0 => prop_assert_eq!(n, 0),
            1 => prop_assert_eq!(&buf[..n], &pushed[0][..]),
            _ => {
                let Ok(Message::Compound(c)) = Message::decode(&buf[..n]) else { panic!() };
                let got: Vec<Vec<u8>> = c.parts().map(|p| p.to_vec()).collect();
                prop_assert_eq!(got, pushed);
            }
        }
    }

    #[test]
    fn decode_arbitrary_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Message::Compound(c)) = Message::decode(&b) {
            for p in c.parts() { let _ = Message::decode(p); }
            let _ = c.truncated();
        }
        for t in 0..14u8 {
            let mut v = vec![t];
            v.extend_from_slice(&b);
            let _ = Message::decode(&v);
        }
        let mut v = vec![6u8];
        v.extend_from_slice(&b);
        if let Ok(mut r) = PushPullReader::new(&v) {
            while let Ok(Some(_)) = r.next_node() {}
            let _ = r.user_state();
        }
        let _ = String::from_utf8_lossy(&b);
    }
}
