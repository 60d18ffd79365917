//! Coalesced direct messages: parts from `encode_direct_part`, packed by
//! `seal_direct_parts` into compound datagrams, are delivered by the
//! receiving core — every one, in order, once — with and without
//! encryption, label and CRC; a datagram never exceeds `udp_buffer_size`.

mod common;

use common::*;
use proptest::prelude::*;
use swim_core::{Config, DeliveryKind};

fn cfg(encrypted: bool, label: &str) -> Config {
    Config { encryption_enabled: encrypted, secret_key: vec![9; 32], label: label.into(), ..fast_config() }
}

/// Node 0 seals `payloads` to node 1 (a member); returns the datagrams' lengths.
fn send(h: &mut Harness, payloads: &[Vec<u8>]) -> Vec<usize> {
    let route = h.nodes[0].direct_route(&"n1".into()).unwrap();
    let mut arena = Vec::new();
    let mut ranges = Vec::new();
    for p in payloads {
        let start = arena.len();
        h.nodes[0].encode_direct_part("t", p, &mut arena).unwrap();
        ranges.push(start..arena.len());
    }
    let mut parts = ranges.iter().map(|r| &arena[r.clone()]).peekable();
    let mut lens = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while parts.peek().is_some() {
        let Some(t) = h.nodes[0].seal_direct_parts(route, &mut parts, &mut buf) else { continue };
        assert_eq!(t.dst, h.addrs[1]);
        lens.push(t.len);
        let mut pkt = buf[..t.len].to_vec();
        let (now, from) = (h.now, h.addrs[0]);
        h.recording(1, |n, d| n.handle_packet(now, from, &mut pkt, d));
    }
    lens
}

fn received(h: &Harness) -> Vec<Vec<u8>> {
    h.delivered
        .iter()
        .filter(|(to, topic, _, kind)| *to == 1 && topic == "t" && *kind == DeliveryKind::Direct)
        .map(|(_, _, p, _)| p.clone())
        .collect()
}

#[test]
fn a_burst_is_packed_into_few_datagrams_and_delivered_in_order() {
    for (encrypted, label) in [(false, ""), (true, ""), (true, "blue")] {
        let mut h = Harness::new(2, 1, |_| cfg(encrypted, label));
        h.all_join();
        let payloads: Vec<Vec<u8>> = (0..500u16).map(|i| i.to_be_bytes().repeat(50)).collect();
        let before = h.nodes[0].metrics();
        let lens = send(&mut h, &payloads);
        assert_eq!(received(&h), payloads, "encrypted {encrypted}, label {label:?}");
        assert!(lens.iter().all(|&l| l <= 1400), "{lens:?}");
        assert!(lens.len() <= 500 / 10, "{} datagrams for 500 messages of 100 bytes", lens.len());
        let m = h.nodes[0].metrics();
        assert_eq!(m.messages_sent.user - before.messages_sent.user, 500);
        assert_eq!(m.packets_sent - before.packets_sent, lens.len() as u64);
        assert_eq!(m.direct_coalesced - before.direct_coalesced, 500);
    }
}

#[test]
fn a_lone_maximal_message_goes_bare_and_an_oversize_part_is_dropped_and_counted() {
    let mut h = Harness::new(2, 2, |_| cfg(true, "x"));
    h.all_join();
    let max = h.nodes[0].max_direct_payload("t");
    let lens = send(&mut h, &[vec![7; max]]);
    assert_eq!((lens.len(), received(&h)), (1, vec![vec![7; max]]));
    assert!(h.nodes[0].encode_direct_part("t", &vec![0; max + 1], &mut Vec::new()).is_err());
    // A part that cannot fit (forged past the limit) is skipped and counted.
    let route = h.nodes[0].direct_route(&"n1".into()).unwrap();
    let big = vec![8u8; 2000];
    let small = [8u8; 3];
    let mut parts = [&big[..], &small[..]].into_iter().peekable();
    let mut buf = vec![0u8; 65_536];
    let dropped = h.nodes[0].metrics().outgoing_dropped;
    assert!(h.nodes[0].seal_direct_parts(route, &mut parts, &mut buf).is_none());
    assert_eq!(h.nodes[0].metrics().outgoing_dropped, dropped + 1);
    assert!(h.nodes[0].seal_direct_parts(route, &mut parts, &mut buf).is_some(), "the next part still goes");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_mix_of_sizes_arrives_whole_in_order(sizes in prop::collection::vec(0usize..1300, 1..120), encrypted: bool) {
        let mut h = Harness::new(2, 3, |_| cfg(encrypted, ""));
        h.all_join();
        let max = h.nodes[0].max_direct_payload("t");
        let payloads: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &s)| vec![i as u8; s.min(max)]).collect();
        let lens = send(&mut h, &payloads);
        prop_assert_eq!(received(&h), payloads);
        prop_assert!(lens.iter().all(|&l| l <= 1400));
    }
}
