//! The whole receive path of a live node: arbitrary datagrams and stream
//! frames never panic, and the node keeps its invariants (it still lists itself,
//! its queues stay bounded). After the hostile input the node still
//! broadcasts and leaves (its Lamport clocks cannot have been poisoned into
//! overflowing) and its clocks stay within the bound a forged time may push.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use swim_core::{Config, Instant, Swim};

fuzz_target!(|data: &[u8]| {
    let cfg = Config { node_name: Some("fuzz".into()), max_gossip_queue_depth: 64, ..Config::default() };
    let me = "127.0.0.1:7946".parse().unwrap();
    let peer = "127.0.0.1:7947".parse().unwrap();
    let mut node = Swim::new(cfg, me, ChaCha8Rng::seed_from_u64(0), Instant::ZERO).unwrap();
    let mut now = Instant::ZERO;
    // Split the input into datagrams at 0xFE bytes.
    for chunk in data.split(|&b| b == 0xFE) {
        let mut pkt = chunk.to_vec();
        node.handle_packet(now, peer, &mut pkt, &mut |_| {});
        let mut frame = chunk.to_vec();
        let _ = node.handle_stream(now, peer, &mut frame, &mut |_| {});
        now += core::time::Duration::from_millis(300);
        node.handle_timeout(now);
        let mut buf = vec![0u8; 1400];
        while node.poll_transmit(now, &mut buf).is_some() {}
        while node.poll_stream_request().is_some() {}
        while node.poll_event().is_some() {}
    }
    assert!(node.gossip_queue_len() <= 64);
    assert_eq!(node.members()[0].id.as_str(), "fuzz");
    // Each input chunk may move a clock by at most 2^32 (MAX_CLOCK_JUMP).
    let chunks = data.split(|&b| b == 0xFE).count() as u64;
    let bound = (chunks * 2 + 2) << 32;
    let (member, event) = node.lamport_clocks();
    assert!(member <= bound && event <= bound, "clocks {member}, {event} after {chunks} chunks");
    assert!(node.broadcast("after", b"hostile input").is_ok());
    node.leave(now);
    for _ in 0..50 {
        now += core::time::Duration::from_millis(300);
        node.handle_timeout(now);
        let mut buf = vec![0u8; 1400];
        while node.poll_transmit(now, &mut buf).is_some() {}
    }
});
