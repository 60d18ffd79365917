//! Multi-node behaviour of the core, driven with explicit times (no sleeping):
//! every datagram and stream is delivered in memory by a tiny harness.

mod common;

use common::*;
use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use std::time::Duration;
use swim_core::{
    Config, DeliveryKind, Event, ProbeOutcome, State, StreamFrame, Swim, PROBE_RESULTS_CAPACITY,
};

#[test]
fn probe_and_ack_keep_everyone_alive() {
    let mut h = Harness::fast(5, 1);
    h.all_join();
    assert!(h.run_until(Duration::from_secs(5), Harness::converged).is_some(), "cluster converges");
    h.run(Duration::from_secs(10));
    for n in &h.nodes {
        let m = n.metrics();
        assert!(m.probes >= 40, "{} probed {} times", n.name(), m.probes);
        assert_eq!(m.failed_probes, 0, "no probe fails on a perfect network");
        assert_eq!(n.members().len(), 5);
    }
    for ev in &h.events {
        assert!(!ev.iter().any(|e| matches!(e, Event::Suspect(_) | Event::Leave(_))), "{ev:?}");
    }
}

#[test]
fn indirect_probes_save_a_member_behind_a_broken_link() {
    let mut h = Harness::fast(4, 2);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    // n0 and n3 cannot talk to each other at all (UDP or TCP); n1, n2 can reach both.
    h.cut.insert((0, 3));
    h.run(Duration::from_secs(20));
    let m0 = h.nodes[0].metrics();
    assert!(m0.indirect_probes > 0, "n0 had to ask others about n3");
    assert_eq!(m0.failed_probes, 0, "the helpers' acks arrived through the relay");
    for i in 0..4 {
        for j in 0..4 {
            if i != j {
                assert_eq!(h.state_at(i, j), Some(State::Alive), "n{i} sees n{j}");
            }
        }
    }
}

#[test]
fn a_crashed_member_is_suspected_then_declared_dead_everywhere() {
    let mut h = Harness::fast(6, 3);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.events.iter_mut().for_each(Vec::clear);
    h.down.insert(5);
    // Bound: a probe round reaches n5 within (n-1) intervals, plus the maximum
    // suspicion timeout (6 * 4 * max(1, log10 6) * interval).
    let interval = fast_config().protocol_interval;
    let bound = interval * 5 + interval * 4 * 6 + Duration::from_secs(1);
    let took = h
        .run_until(bound, |h| (0..5).all(|i| h.state_at(i, 5) == Some(State::Dead)))
        .expect("every live node declares n5 dead within the bound");
    for i in 0..5 {
        let ev = &h.events[i];
        let suspect = ev.iter().position(|e| matches!(e, Event::Suspect(n) if n.id.as_str() == "n5"));
        let leave = ev
            .iter()
            .position(|e| matches!(e, Event::Leave(n) if n.id.as_str() == "n5" && n.state == State::Dead));
        assert!(suspect.is_some() && leave.is_some() && suspect < leave, "n{i}: {ev:?}");
        assert_eq!(h.nodes[i].members().len(), 5);
    }
    println!("crash detected everywhere after {took:?}");
}

#[test]
fn a_paused_member_refutes_and_stays_alive() {
    let mut h = Harness::fast(5, 4);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.events.iter_mut().for_each(Vec::clear);
    let incarnation = h.nodes[4].local_node().incarnation;
    // Pause n4 until somebody suspects it, then resume it well before the timeout.
    h.down.insert(4);
    h.run_until(Duration::from_secs(5), |h| (0..4).any(|i| h.state_at(i, 4) == Some(State::Suspect)))
        .expect("n4 becomes suspect");
    h.down.remove(&4);
    h.run_until(Duration::from_secs(5), |h| (0..4).all(|i| h.state_at(i, 4) == Some(State::Alive)))
        .expect("n4 refutes and is alive everywhere");
    assert!(h.nodes[4].metrics().refutes >= 1);
    assert!(h.nodes[4].local_node().incarnation > incarnation, "refutation raised the incarnation");
    h.run(Duration::from_secs(10));
    for i in 0..4 {
        assert_eq!(h.state_at(i, 4), Some(State::Alive));
        assert!(
            !h.events[i].iter().any(|e| matches!(e, Event::Leave(_))),
            "no false death: {:?}",
            h.events[i]
        );
    }
    assert!((0..4).any(|i| h.events[i].iter().any(|e| matches!(e, Event::Alive(n) if n.id.as_str() == "n4"))));
}

#[test]
fn graceful_leave_is_seen_as_left_not_dead() {
    let mut h = Harness::fast(5, 5);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    let now = h.now;
    h.nodes[2].leave(now);
    h.run_until(Duration::from_secs(2), |h| h.nodes[2].leave_complete()).expect("leave spreads");
    h.down.insert(2);
    h.run_until(Duration::from_secs(5), |h| {
        [0, 1, 3, 4].iter().all(|&i| h.state_at(i, 2) == Some(State::Left))
    })
    .expect("everyone sees n2 as left");
    for i in [0, 1, 3, 4] {
        assert!(h.events[i]
            .iter()
            .any(|e| matches!(e, Event::Leave(n) if n.id.as_str() == "n2" && n.state == State::Left)));
        assert!(!h.events[i].iter().any(|e| matches!(e, Event::Suspect(n) if n.id.as_str() == "n2")));
    }
}

#[test]
fn broadcasts_reach_everyone_exactly_once() {
    let mut h = Harness::fast(8, 6);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    for k in 0..5 {
        h.nodes[k % 3].broadcast("config-update", format!("{{\"version\": {k}}}").as_bytes()).unwrap();
    }
    h.run(Duration::from_secs(10));
    for k in 0..5 {
        let payload = format!("{{\"version\": {k}}}").into_bytes();
        for r in 0..8 {
            let n = h.delivered.iter().filter(|(to, t, p, kind)| {
                *to == r && t == "config-update" && *p == payload && *kind == DeliveryKind::Broadcast
            });
            let expected = usize::from(r != k % 3);
            assert_eq!(n.count(), expected, "n{r} got broadcast {k}");
        }
    }
    assert!(h.nodes.iter().map(|n| n.metrics().broadcasts_duplicate).sum::<u64>() > 0, "gossip did repeat");
}

#[test]
fn direct_send_delivers_with_sender_and_topic() {
    let mut h = Harness::fast(3, 7);
    h.all_join();
    h.flush();
    let mut buf = vec![0u8; 1400];
    let t = h.nodes[0].encode_direct(&"n2".into(), "ping", b"pong", &mut buf).unwrap();
    assert_eq!(t.dst, addr(2));
    let mut got = Vec::new();
    h.nodes[2].handle_packet(h.now, addr(0), &mut buf[..t.len], &mut |d| {
        got.push((d.sender.id.to_string(), d.topic.to_string(), d.payload.to_vec(), d.kind))
    });
    assert_eq!(got, vec![("n0".into(), "ping".into(), b"pong".to_vec(), DeliveryKind::Direct)]);
    let err = h.nodes[0].encode_direct(&"nobody".into(), "t", b"", &mut buf).unwrap_err();
    assert!(matches!(err, swim_core::SendError::UnknownNode(_)));
    let big = vec![0u8; 2000];
    assert!(matches!(
        h.nodes[0].encode_direct(&"n2".into(), "t", &big, &mut buf),
        Err(swim_core::SendError::TooLarge { .. })
    ));
}

#[test]
fn the_gossip_queue_is_bounded_and_drops_are_counted() {
    let mut h = Harness::new(2, 8, |_| Config { max_gossip_queue_depth: 5, ..fast_config() });
    for k in 0..20 {
        h.nodes[0].broadcast("t", &[k]).unwrap();
    }
    assert_eq!(h.nodes[0].gossip_queue_len(), 5);
    // 20 broadcasts + the node's own alive message, 5 kept.
    assert_eq!(h.nodes[0].metrics().gossip_queue_dropped, 16);
}

#[test]
fn a_node_with_the_wrong_key_never_gets_in() {
    let key = |i: usize| if i == 3 { vec![9u8; 32] } else { vec![1u8; 32] };
    let mut h =
        Harness::new(4, 9, |i| Config { encryption_enabled: true, secret_key: key(i), ..fast_config() });
    for i in 1..3 {
        h.join(i, 0).unwrap();
    }
    assert!(h.join(3, 0).is_err(), "the seed refuses the stream");
    h.run(Duration::from_secs(5));
    for i in 0..3 {
        assert_eq!(h.nodes[i].members().len(), 3);
        assert!(h.nodes[i].member("n3").is_none());
    }
    assert_eq!(h.nodes[3].members().len(), 1);
    assert!(h.nodes[0].metrics().stream_errors >= 1);
    // Its packets are dropped and counted.
    let mut buf = vec![0u8; 1400];
    let t = h.nodes[3].encode_direct_to_addr(addr(0), "x", b"y", &mut buf).unwrap();
    let before = h.nodes[0].metrics().dropped_decrypt;
    h.nodes[0].handle_packet(h.now, addr(3), &mut buf[..t.len], &mut |_| panic!("delivered"));
    assert_eq!(h.nodes[0].metrics().dropped_decrypt, before + 1);
}

#[test]
fn plaintext_nodes_cannot_join_an_encrypted_cluster() {
    let mut h = Harness::new(3, 10, |i| Config {
        encryption_enabled: i != 2,
        secret_key: vec![5; 16],
        ..fast_config()
    });
    h.join(1, 0).unwrap();
    assert!(h.join(2, 0).is_err());
    h.run(Duration::from_secs(3));
    assert!(h.nodes[0].member("n2").is_none());
}

#[test]
fn hostile_packets_are_dropped_and_counted_and_the_node_runs_on() {
    let mut h = Harness::fast(2, 11);
    h.all_join();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    use rand_chacha::rand_core::RngCore;
    let before = h.nodes[0].metrics();
    for len in 0..2000usize {
        let mut pkt = vec![0u8; len % 300];
        rng.fill_bytes(&mut pkt);
        if let Some(b) = pkt.first_mut() {
            *b %= 14; // mostly valid type bytes, to get past the first check
        }
        h.nodes[0].handle_packet(h.now, addr(7), &mut pkt, &mut |_| {});
    }
    let m = h.nodes[0].metrics();
    assert_eq!(m.packets_received - before.packets_received, 2000);
    let dropped = m.dropped_malformed
        + m.dropped_crc
        + m.dropped_decompress
        + m.dropped_unexpected
        + m.dropped_invalid_member
        + m.dropped_wrong_node
        + m.dropped_truncated_parts;
    assert!(dropped > 1000, "most random packets are refused and counted: {m:?}");
    h.run(Duration::from_secs(3));
    assert_eq!(h.nodes[0].members().len(), 2, "still a healthy member");
    assert_eq!(h.nodes[0].metrics().failed_probes, 0);
}

#[test]
fn same_seed_same_trace() {
    fn trace(seed: u64) -> String {
        let mut h = Harness::fast(6, seed);
        h.all_join();
        h.run(Duration::from_secs(3));
        h.down.insert(3);
        h.run(Duration::from_secs(10));
        format!("{:?}", h.events)
    }
    let a = trace(42);
    assert_eq!(a, trace(42));
    assert_ne!(a, trace(43), "the seed matters");
}

#[test]
fn incompatible_delegate_versions_fail_the_join_clearly() {
    let mut h = Harness::new(2, 12, |i| Config {
        delegate_versions: if i == 0 {
            swim_core::DelegateVersions::SERF
        } else {
            swim_core::DelegateVersions::MEMBERLIST
        },
        ..fast_config()
    });
    let err = h.join(1, 0).unwrap_err();
    assert!(matches!(err, swim_core::StreamError::IncompatibleVersions { .. }), "{err}");
    assert!(err.to_string().contains("delegate"));
}

#[test]
fn metadata_travels_and_updates() {
    let mut h = Harness::new(3, 13, |i| {
        let mut c = fast_config();
        c.tags.insert("role".into(), format!("r{i}"));
        c
    });
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    let n1 = h.nodes[2].member("n1").unwrap();
    assert_eq!(n1.tags(), vec![("role".to_string(), "r1".to_string())]);
}

#[test]
fn changed_tags_reach_everyone_as_an_update() {
    let mut h = Harness::fast(4, 14);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.events.iter_mut().for_each(Vec::clear);
    let mut tags = std::collections::BTreeMap::new();
    tags.insert("version".to_string(), "42".to_string());
    h.nodes[3].set_tags(tags).unwrap();
    let want = vec![("version".to_string(), "42".to_string())];
    h.run_until(Duration::from_secs(3), |h| (0..3).all(|i| h.nodes[i].member("n3").unwrap().tags() == want))
        .expect("the new tags spread");
    for i in 0..3 {
        assert!(h.events[i].iter().any(|e| matches!(e, Event::Update(n) if n.id.as_str() == "n3")));
    }
    let mut huge = std::collections::BTreeMap::new();
    huge.insert("k".to_string(), "v".repeat(600));
    assert!(h.nodes[3].set_tags(huge).is_err());
}

#[test]
fn a_key_rotation_keeps_everyone_in() {
    let old = vec![1u8; 32];
    let new = vec![2u8; 16];
    let mut h = Harness::new(4, 15, |_| Config {
        encryption_enabled: true,
        secret_key: vec![1; 32],
        ..fast_config()
    });
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    // Install everywhere, then switch every node one by one, then drop the old key.
    for n in &mut h.nodes {
        n.install_key(&new).unwrap();
    }
    h.run(Duration::from_secs(1));
    for i in 0..4 {
        h.nodes[i].use_key(&new).unwrap();
        h.run(Duration::from_secs(1));
    }
    for n in &mut h.nodes {
        n.remove_key(&old).unwrap();
        assert_eq!(n.keyring().unwrap().primary(), &new[..]);
    }
    h.run(Duration::from_secs(5));
    for (i, ev) in h.events.iter().enumerate() {
        assert!(!ev.iter().any(|e| matches!(e, Event::Suspect(_) | Event::Leave(_))), "n{i}: {ev:?}");
        assert_eq!(h.nodes[i].members().len(), 4);
    }
    // A node still on the old key alone is now out.
    let mut buf = vec![0u8; 1400];
    let mut stale = Swim::new(
        Config {
            node_name: Some("stale".into()),
            encryption_enabled: true,
            secret_key: old,
            ..fast_config()
        },
        addr(9),
        ChaCha8Rng::seed_from_u64(5),
        h.now,
    )
    .unwrap();
    let t = stale.encode_direct_to_addr(addr(0), "t", b"x", &mut buf).unwrap();
    let before = h.nodes[0].metrics().dropped_decrypt;
    h.nodes[0].handle_packet(h.now, addr(9), &mut buf[..t.len], &mut |_| panic!("delivered"));
    assert_eq!(h.nodes[0].metrics().dropped_decrypt, before + 1);
    let mut plain = Swim::new(
        Config { node_name: Some("p".into()), ..fast_config() },
        addr(8),
        ChaCha8Rng::seed_from_u64(6),
        h.now,
    )
    .unwrap();
    assert!(matches!(plain.install_key(&new), Err(swim_core::KeyringError::Disabled)));
}

#[test]
fn nodes_start_at_incarnation_one_like_memberlist() {
    // Go memberlist adds an unknown node as dead at incarnation 0 and ignores
    // alive messages that do not exceed it: we must start above 0.
    let mut h = Harness::fast(2, 16);
    assert_eq!(h.nodes[0].local_node().incarnation, 1);
    h.all_join();
    assert_eq!(h.nodes[0].member("n1").unwrap().incarnation, 1);
}

#[test]
fn a_late_joiner_is_heard_after_many_broadcasts() {
    let mut h = Harness::fast(4, 17);
    for i in 1..3 {
        h.join(i, 0).unwrap();
    }
    h.run_until(Duration::from_secs(5), |h| h.nodes[0].members().len() == 3).unwrap();
    for k in 0..600u32 {
        h.nodes[0].broadcast("old", &k.to_be_bytes()).unwrap();
        if k % 20 == 0 {
            h.run(Duration::from_millis(100));
        }
    }
    h.run(Duration::from_secs(3));
    // n3 joins late, its event clock at 0, and broadcasts once.
    h.join(3, 1).unwrap();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.nodes[3].broadcast("fresh", b"from the late joiner").unwrap();
    h.run(Duration::from_secs(3));
    for r in 0..3 {
        let got = h.delivered.iter().filter(|(to, t, _, _)| *to == r && t == "fresh").count();
        assert_eq!(got, 1, "n{r} heard the late joiner");
    }
    assert_eq!(h.nodes.iter().map(|n| n.metrics().broadcasts_too_old).sum::<u64>(), 0);
}

#[test]
fn tags_cannot_change_while_leaving_and_the_leave_survives_a_full_queue() {
    let mut h = Harness::new(4, 18, |_| Config { max_gossip_queue_depth: 8, ..fast_config() });
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    let now = h.now;
    h.nodes[3].leave(now);
    assert!(matches!(
        h.nodes[3].set_tags(std::collections::BTreeMap::new()),
        Err(swim_core::TagsError::Leaving)
    ));
    // Others flood the leaver's queue with broadcasts it re-gossips.
    for k in 0..50u8 {
        h.nodes[k as usize % 3].broadcast("flood", &[k]).unwrap();
    }
    h.run_until(Duration::from_secs(5), |h| h.nodes[3].leave_complete()).expect("the leave is fully sent");
    assert!(h.nodes[3].metrics().gossip_queue_dropped > 0, "the queue did overflow");
    h.down.insert(3);
    h.run_until(Duration::from_secs(5), |h| (0..3).all(|i| h.state_at(i, 3) == Some(State::Left)))
        .expect("everyone saw the leave");
}

#[test]
fn a_name_moves_to_a_new_address_only_after_leaving() {
    let mut h = Harness::fast(4, 19);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    // n3 crashes; an impostor (or a restart elsewhere) claims "n3" at another address.
    h.down.insert(3);
    h.run_until(Duration::from_secs(10), |h| (0..3).all(|i| h.state_at(i, 3) == Some(State::Dead))).unwrap();
    let elsewhere = addr(20);
    let impostor = Config { node_name: Some("n3".into()), ..fast_config() };
    let mut n3b = Swim::new(impostor, elsewhere, ChaCha8Rng::seed_from_u64(77), h.now).unwrap();
    let mut req = n3b.join(h.now, addr(0));
    let StreamFrame::Complete { start, end } = h.nodes[0].stream_frame(&req.data, true).unwrap() else {
        panic!()
    };
    let _ = h.nodes[0].handle_stream(h.now, elsewhere, &mut req.data[start..end], &mut |_| {});
    assert_eq!(h.nodes[0].member("n3").unwrap().addr, addr(3), "a dead member's name stays put");
    assert!(h.nodes[0].metrics().dropped_invalid_member > 0);
    // Once it left gracefully, its name may come back anywhere.
    let mut g = Harness::fast(3, 20);
    g.all_join();
    let now = g.now;
    g.nodes[2].leave(now);
    g.run_until(Duration::from_secs(5), |g| g.nodes[2].leave_complete()).unwrap();
    g.down.insert(2);
    g.run_until(Duration::from_secs(5), |g| g.state_at(0, 2) == Some(State::Left)).unwrap();
    let back = Config { node_name: Some("n2".into()), ..fast_config() };
    let mut n2b = Swim::new(back, elsewhere, ChaCha8Rng::seed_from_u64(78), g.now).unwrap();
    let mut req = n2b.join(g.now, addr(0));
    let StreamFrame::Complete { start, end } = g.nodes[0].stream_frame(&req.data, true).unwrap() else {
        panic!()
    };
    let _ = g.nodes[0].handle_stream(g.now, elsewhere, &mut req.data[start..end], &mut |_| {});
    let n2 = g.nodes[0].member("n2").unwrap();
    assert_eq!((n2.addr, n2.state), (elsewhere, State::Alive));
}

#[test]
fn a_dead_name_is_reclaimed_after_the_reclaim_time_and_forgotten_after_gossip_to_the_dead() {
    let cfg = |_| Config {
        dead_node_reclaim_time: Duration::from_secs(1),
        gossip_to_the_dead_time: Duration::from_secs(4),
        ..fast_config()
    };
    // n0..n5, and slot 6 for a new process that will call itself n5.
    let mut h = Harness::new(7, 11, cfg);
    h.down.insert(6);
    for i in 1..6 {
        h.join(i, 0).unwrap();
    }
    h.flush();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.down.insert(5);
    h.run_until(Duration::from_secs(10), |h| (0..5).all(|i| h.state_at(i, 5) == Some(State::Dead)))
        .expect("n5 declared dead");
    let new_n5 = |h: &Harness| {
        let c = Config { node_name: Some("n5".into()), ..cfg(6) };
        Swim::new(c, h.addrs[6], ChaCha8Rng::seed_from_u64(66), h.now).unwrap()
    };
    // At once, a new n5 at another address is refused: the name is not free yet.
    h.nodes[6] = new_n5(&h);
    h.down.remove(&6);
    let refused = h.nodes[0].metrics().dropped_invalid_member;
    h.join(6, 0).unwrap();
    assert_eq!(h.nodes[0].metrics().dropped_invalid_member, refused + 1);
    assert_eq!(h.nodes[0].member("n5").map(|n| (n.state, n.addr)), Some((State::Dead, h.addrs[5])));
    // Past the reclaim time, the name moves to its new address.
    h.down.insert(6);
    h.run(Duration::from_millis(1500));
    h.nodes[6] = new_n5(&h);
    h.down.remove(&6);
    h.join(6, 0).unwrap();
    assert_eq!(h.nodes[0].member("n5").map(|n| (n.state, n.addr)), Some((State::Alive, h.addrs[6])));
    // A member dead for longer than gossip_to_the_dead_time is forgotten.
    h.down.insert(4);
    h.run_until(Duration::from_secs(10), |h| h.state_at(0, 4) == Some(State::Dead)).expect("n4 dead");
    h.run(Duration::from_secs(2));
    assert_eq!(h.state_at(0, 4), Some(State::Dead), "still kept, to gossip it");
    h.run_until(Duration::from_secs(6), |h| h.state_at(0, 4).is_none()).expect("n4 forgotten");
}

/// Datagrams node `i` sends at its next timer, to distinct members.
fn next_round_targets(h: &mut Harness, i: usize) -> std::collections::BTreeSet<std::net::SocketAddr> {
    let mut buf = vec![0u8; 65_536];
    let t = h.nodes[i].poll_timeout().max(h.now);
    h.nodes[i].handle_timeout(t);
    let mut to = std::collections::BTreeSet::new();
    while let Some(tx) = h.nodes[i].poll_transmit(t, &mut buf) {
        to.insert(tx.dst);
    }
    to
}

#[test]
fn a_backlog_of_gossip_goes_to_more_members_per_round() {
    let mut h = Harness::fast(20, 23);
    h.all_join();
    h.run_until(Duration::from_secs(10), Harness::converged).unwrap();
    h.run(Duration::from_secs(5)); // the join news is all sent
    let fanout = Config::default().gossip_nodes;
    // One small item: a round goes to gossip_nodes members, as memberlist's.
    h.nodes[1].broadcast("small", b"x").unwrap();
    let one = next_round_targets(&mut h, 1);
    assert!((1..=fanout + 1).contains(&one.len()), "one item went to {} members", one.len());
    h.run(Duration::from_secs(5));
    // Five packets' worth: four times as many members in one round.
    for k in 0..30u32 {
        h.nodes[1].broadcast("bulk", &[k as u8; 200]).unwrap();
    }
    let burst = next_round_targets(&mut h, 1);
    assert!(burst.len() >= 4 * fanout, "a backlog went to only {} members", burst.len());
    h.flush();
    h.run(Duration::from_secs(5));
    for r in (0..20).filter(|&r| r != 1) {
        let got = h.delivered.iter().filter(|(to, t, _, _)| *to == r && t == "bulk").count();
        assert_eq!(got, 30, "n{r} got every broadcast once");
    }
}

/// Three nodes on `fast_config`; `fault` is applied to n1 once converged.
/// Returns how long after n0 suspected n1 it declared it dead, and how many
/// suspicion timers n0 and n2 moved on.
fn suspicion_to_death(seed: u64, fault: impl FnOnce(&mut Harness)) -> (Duration, u64) {
    let mut h = Harness::new(3, seed, |_| fast_config());
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.run(Duration::from_secs(2));
    fault(&mut h);
    h.run_until(Duration::from_secs(5), |h| h.state_at(0, 1) == Some(State::Suspect))
        .expect("n0 suspects n1");
    let t = h
        .run_until(Duration::from_secs(20), |h| h.state_at(0, 1) == Some(State::Dead))
        .expect("declared dead");
    (t, h.nodes[0].metrics().suspicions_deferred + h.nodes[2].metrics().suspicions_deferred)
}

/// Lifeguard's timer runs out while the suspect is still heard from: the
/// node waits up to the unconfirmed timeout before declaring it dead (it
/// then does, so a member that sends but cannot receive is not kept alive).
#[test]
fn a_suspect_still_heard_from_gets_until_the_unconfirmed_timeout() {
    // n1 receives nothing, but keeps sending.
    let (t, deferred) = suspicion_to_death(29, |h| {
        h.one_way.insert((0, 1));
        h.one_way.insert((2, 1));
    });
    // 3 nodes: no confirmations expected, so the timer is the minimum,
    // suspicion_mult × interval; the unconfirmed timeout is 6× that.
    let cfg = fast_config();
    let min = cfg.protocol_interval * cfg.suspicion_mult;
    let max = min * cfg.suspicion_max_timeout_mult;
    assert!(t >= max / 2 && t <= max + min, "n1 dead {t:?} after the suspicion (min {min:?}, max {max:?})");
    assert!(deferred > 0);
}

/// A crashed member sends nothing: its death is not delayed by the above.
#[test]
fn a_silent_suspect_is_declared_dead_at_the_minimum_timeout() {
    let (t, deferred) = suspicion_to_death(31, |h| {
        h.down.insert(1);
    });
    let cfg = fast_config();
    let min = cfg.protocol_interval * cfg.suspicion_mult;
    assert!(t <= min + cfg.protocol_interval, "n1 dead {t:?} after the suspicion (min {min:?})");
    assert_eq!(deferred, 0);
}

/// An accused node sends its refutation straight to the accuser (once per
/// protocol interval), also for an accusation older than its incarnation.
#[test]
fn an_accused_node_answers_its_accuser_directly() {
    use swim_core::wire::{Message, Suspect};
    let mut h = Harness::fast(3, 37);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.run(Duration::from_secs(2));
    let inc = h.nodes[1].incarnation();
    let accuse = |inc| encode(&Message::Suspect(Suspect { incarnation: inc, node: "n1", from: "n2" }));
    let mut buf = vec![0u8; 65_536];
    let sent_to_n2 = |h: &mut Harness, buf: &mut [u8]| {
        let mut to = Vec::new();
        while let Some(t) = h.nodes[1].poll_transmit(h.now, buf) {
            to.push(t.dst);
        }
        to.contains(&h.addrs[2])
    };
    let mut pkt = accuse(inc);
    let (now, from) = (h.now, h.addrs[2]);
    h.nodes[1].handle_packet(now, from, &mut pkt, &mut |_| {});
    assert_eq!(h.nodes[1].incarnation(), inc + 1, "refuted");
    assert!(sent_to_n2(&mut h, &mut buf), "the refutation went straight to the accuser");
    // Again within the interval: not answered again.
    let mut pkt = accuse(inc);
    h.nodes[1].handle_packet(now, from, &mut pkt, &mut |_| {});
    assert!(!sent_to_n2(&mut h, &mut buf));
    // Later, an accusation older than n1's incarnation: answered, no new refutation.
    h.now += h.nodes[1].config().protocol_interval;
    let mut pkt = accuse(inc);
    let now = h.now;
    h.nodes[1].handle_packet(now, from, &mut pkt, &mut |_| {});
    assert_eq!(h.nodes[1].incarnation(), inc + 1);
    assert!(sent_to_n2(&mut h, &mut buf), "a stale accuser is answered too");
    assert_eq!(h.nodes[1].metrics().refutations_sent_to_accusers, 2);
}

#[test]
fn probe_results_report_each_probe_with_its_round_trip_and_stay_bounded() {
    let mut h = Harness::fast(4, 40);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    while h.nodes[0].poll_probe_result().is_some() {}
    let before = h.nodes[0].metrics().probes;
    h.run(Duration::from_secs(3));
    let mut results = Vec::new();
    while let Some(r) = h.nodes[0].poll_probe_result() {
        results.push(r);
    }
    let probes = h.nodes[0].metrics().probes - before;
    // Each probe started reports once it ends (the last may still be running).
    assert!(results.len() as u64 + 1 >= probes && results.len() as u64 <= probes, "{results:?}");
    let timeout = fast_config().probe_timeout;
    for r in &results {
        assert_eq!(r.outcome, ProbeOutcome::Direct, "{r:?}");
        assert!(r.outcome.is_acked() && r.rtt <= timeout, "{r:?}");
        assert!(["n1", "n2", "n3"].contains(&r.node.as_str()), "{r:?}");
    }
    // Nobody reads n1's: it keeps the newest PROBE_RESULTS_CAPACITY.
    h.run(Duration::from_secs(30));
    let kept = std::iter::from_fn(|| h.nodes[1].poll_probe_result()).count();
    assert_eq!(kept, PROBE_RESULTS_CAPACITY);
}

#[test]
fn a_probe_of_a_crashed_member_is_reported_failed() {
    let mut h = Harness::fast(4, 41);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.down.insert(3);
    h.run_until(Duration::from_secs(10), |h| h.state_at(0, 3) != Some(State::Alive)).unwrap();
    let failed: Vec<_> = std::iter::from_fn(|| h.nodes[0].poll_probe_result())
        .filter(|r| r.outcome == ProbeOutcome::Failed)
        .collect();
    assert!(!failed.is_empty() && failed.iter().all(|r| r.node.as_str() == "n3"), "{failed:?}");
    assert!(h.nodes[0].metrics().suspicions >= 1, "n0 suspected n3 itself or heard it accused");
}

#[test]
fn messages_are_counted_by_kind_and_push_pull_bytes_both_ways() {
    let mut h = Harness::fast(4, 42);
    h.all_join();
    h.run_until(Duration::from_secs(5), Harness::converged).unwrap();
    h.run(Duration::from_secs(5));
    let total = |f: &dyn Fn(&swim_core::Metrics) -> u64| h.nodes.iter().map(|n| f(&n.metrics())).sum::<u64>();
    // A perfect network: every message sent is received.
    for kind in 0..8 {
        let sent = total(&|m| m.messages_sent.by_kind()[kind].1);
        let received = total(&|m| m.messages_received.by_kind()[kind].1);
        assert_eq!(sent, received, "{}", swim_core::MessageCounts::default().by_kind()[kind].0);
    }
    let m = h.nodes[0].metrics();
    assert!(m.messages_sent.ping > 0 && m.messages_received.ack > 0 && m.messages_sent.alive > 0, "{m:?}");
    assert_eq!(m.messages_sent.ping, m.probes, "no indirect probes were needed");
    assert!(m.push_pulls > 0 && m.push_pull_bytes_sent > 0 && m.push_pull_bytes_received > 0, "{m:?}");
    assert_eq!(total(&|m| m.push_pull_bytes_sent), total(&|m| m.push_pull_bytes_received));
}
