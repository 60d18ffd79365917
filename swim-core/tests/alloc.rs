//! Allocation bounds on the receive, direct-send and idle probing paths, measured with a
//! counting allocator (one #[test] in this binary, so nothing else allocates
//! concurrently).

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use swim_core::wire::packet::{open_packet, Layers};
use swim_core::wire::{serf, Message};
use swim_core::{Config, Instant, Keyring, Swim};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn walk(msg: &[u8], depth: u8) -> usize {
    match Message::decode(msg) {
        Ok(Message::Compound(c)) if depth < 3 => c.parts().map(|p| walk(p, depth + 1)).sum::<usize>() + 1,
        Ok(Message::User(body)) => 1 + serf_decodes(body),
        Ok(_) => 1,
        Err(_) => 0,
    }
}

/// Decodes a user message's body as each Serf message; how many it was.
fn serf_decodes(body: &[u8]) -> usize {
    usize::from(serf::UserEvent::decode(body).is_ok())
        + usize::from(serf::Join::decode(body).is_ok())
        + usize::from(serf::Leave::decode(body).is_ok())
}

#[test]
fn decoding_and_sending_do_not_allocate() {
    let keyring = Keyring::new(&[7u8; 32]).unwrap();
    let mut runner = TestRunner::new(PtConfig { cases: 2000, ..PtConfig::default() });
    let strategy = (proptest::collection::vec(any::<u8>(), 0..1500), any::<bool>(), 0u8..16);
    runner
        .run(&strategy, |(mut bytes, encrypted, first)| {
            if let Some(b) = bytes.first_mut() {
                *b = if first < 14 { first } else { *b };
            }
            let layers = Layers { label: b"", keyring: encrypted.then_some(&keyring), verify_incoming: true };
            let region = Region::new(GLOBAL);
            if let Ok((plain, _)) = open_packet(&mut bytes, &layers) {
                let _ = walk(plain, 0);
            }
            let stats = region.change();
            prop_assert_eq!(stats.allocations, 0, "decode allocated");
            Ok(())
        })
        .unwrap();

    // Serf's messages, well formed: decoding borrows, allocates nothing.
    let ev = serf::UserEvent { ltime: 9, name: "deploy", payload: b"v2", cc: true };
    let leave = serf::Leave { ltime: 10, node: "gone", prune: true };
    let join = serf::Join { ltime: 11, node: "new" };
    let mut msgs = vec![vec![0u8; 64]; 3];
    ev.encode(&mut msgs[0]).unwrap();
    leave.encode(&mut msgs[1]).unwrap();
    join.encode(&mut msgs[2]).unwrap();
    let region = Region::new(GLOBAL);
    let decoded: usize = msgs.iter().map(|m| walk(m, 0)).sum();
    assert_eq!(region.change().allocations, 0, "Serf decode allocated");
    assert_eq!(decoded, 6, "each a user message and one Serf message");

    // Real messages, encrypted and with gossip piggybacked: opening them and
    // walking every part allocates nothing either.
    let cfg = Config {
        node_name: Some("a".into()),
        encryption_enabled: true,
        secret_key: vec![7; 32],
        ..Config::default()
    };
    let addr = "127.0.0.1:7000".parse().unwrap();
    let mut a = Swim::new(cfg, addr, ChaCha8Rng::seed_from_u64(1), Instant::ZERO).unwrap();
    let mut buf = vec![0u8; 1400];
    let target = "127.0.0.1:7001".parse().unwrap();
    // Warm up once, then measure the steady state of the direct-send path.
    a.encode_direct_to_addr(target, "bench", &[1; 64], &mut buf).unwrap();
    let region = Region::new(GLOBAL);
    for _ in 0..1000 {
        let t = a.encode_direct_to_addr(target, "bench", &[1; 64], &mut buf).unwrap();
        assert!(t.len > 64);
    }
    assert_eq!(region.change().allocations, 0, "direct send encodes without allocating");

    let cfg_b = Config {
        node_name: Some("b".into()),
        encryption_enabled: true,
        secret_key: vec![7; 32],
        ..Config::default()
    };
    let mut b = Swim::new(cfg_b, target, ChaCha8Rng::seed_from_u64(2), Instant::ZERO).unwrap();

    // From a sender b does not know yet: one temporary Node per message.
    let t = a.encode_direct_to_addr(target, "bench", &[1; 64], &mut buf).unwrap();
    let packet = buf[..t.len].to_vec();
    let mut rx = packet.clone();
    b.handle_packet(Instant::ZERO, addr, &mut rx, &mut |_| {}); // warm up
    let region = Region::new(GLOBAL);
    let mut delivered = 0usize;
    for _ in 0..1000 {
        rx.copy_from_slice(&packet);
        b.handle_packet(Instant::ZERO, addr, &mut rx, &mut |d| delivered += d.payload.len());
    }
    let stats = region.change();
    assert_eq!(delivered, 64_000);
    assert!(stats.allocations <= 3 * 1000, "bounded for unknown senders: {stats:?}");

    // From a member (the steady state): no allocation at all.
    let mut req = b.join(Instant::ZERO, addr);
    let swim_core::StreamFrame::Complete { start, end } = a.stream_frame(&req.data, true).unwrap() else {
        panic!("one frame")
    };
    let mut reply =
        a.handle_stream(Instant::ZERO, target, &mut req.data[start..end], &mut |_| {}).unwrap().unwrap();
    let swim_core::StreamFrame::Complete { start, end } = b.stream_frame(&reply, false).unwrap() else {
        panic!("one frame")
    };
    b.handle_stream_reply(Instant::ZERO, req.id, &mut reply[start..end], &mut |_| {}).unwrap();
    let t = a.encode_direct(&"b".into(), "bench", &[1; 64], &mut buf).unwrap();
    let packet = buf[..t.len].to_vec();
    let mut rx = packet.clone();
    b.handle_packet(Instant::ZERO, addr, &mut rx, &mut |_| {}); // warm up
    let region = Region::new(GLOBAL);
    let mut from_member = 0usize;
    for _ in 0..1000 {
        rx.copy_from_slice(&packet);
        b.handle_packet(Instant::ZERO, addr, &mut rx, &mut |d| {
            assert_eq!(d.sender.id.as_str(), "a");
            from_member += 1;
        });
    }
    assert_eq!(from_member, 1000);
    assert_eq!(region.change().allocations, 0, "receiving from a member allocates nothing");

    // Coalesced: parts into a warm arena, sealed 20 to a datagram, and the
    // compound opened by a member — no allocation on either side.
    let route = a.direct_route(&"b".into()).unwrap();
    let mut arena = Vec::with_capacity(64 * 1024);
    let mut ends = Vec::with_capacity(1024);
    let region = Region::new(GLOBAL);
    let mut coalesced = 0usize;
    for _ in 0..50 {
        arena.clear();
        ends.clear();
        for _ in 0..20 {
            a.encode_direct_part("bench", &[2; 40], &mut arena).unwrap();
            ends.push(arena.len());
        }
        let mut start = 0;
        let mut parts = ends
            .iter()
            .map(|&e| {
                let p = &arena[start..e];
                start = e;
                p
            })
            .peekable();
        let t = a.seal_direct_parts(route, &mut parts, &mut buf).unwrap();
        assert!(parts.peek().is_none(), "20 small messages share one datagram");
        b.handle_packet(Instant::ZERO, addr, &mut buf[..t.len], &mut |_| coalesced += 1);
    }
    assert_eq!(coalesced, 1000);
    assert_eq!(region.change().allocations, 0, "coalesced sending and receiving allocate nothing");

    // An idle pair probing each other: timers, pings, acks (with Serf
    // coordinates), nothing else to say.
    let mut now = Instant::ZERO;
    let mut rounds = |nodes: &mut [(&mut Swim<ChaCha8Rng>, std::net::SocketAddr); 2], periods: u32| {
        let end = now + std::time::Duration::from_secs(periods.into());
        while now < end {
            now = nodes[0].0.poll_timeout().min(nodes[1].0.poll_timeout()).max(now);
            for (n, _) in nodes.iter_mut() {
                if n.poll_timeout() <= now {
                    n.handle_timeout(now);
                }
            }
            for i in 0..2 {
                while let Some(t) = nodes[i].0.poll_transmit(now, &mut buf) {
                    let from = nodes[i].1;
                    let j = if t.dst == nodes[0].1 { 0 } else { 1 };
                    nodes[j].0.handle_packet(now, from, &mut buf[..t.len], &mut |_| {});
                }
                while nodes[i].0.poll_event().is_some() {}
                while nodes[i].0.poll_probe_result().is_some() {}
            }
        }
    };
    let mut pair = [(&mut a, addr), (&mut b, target)];
    rounds(&mut pair, 60); // the join's gossip dies down
    let region = Region::new(GLOBAL);
    rounds(&mut pair, 100);
    let stats = region.change();
    // What remains is the push-pull rounds' (every 30 s: streams, their
    // state); probe ticks, pings and acks allocate nothing (before: an ack
    // buffer per ping, a probe order per round: 674 allocations).
    assert!(stats.allocations + stats.reallocations <= 100, "an idle pair, 100 periods: {stats:?}");
}
