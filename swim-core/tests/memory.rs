//! Memory per member entry, counted exactly with a counting allocator (one
//! #[test] in this binary so nothing else allocates concurrently).

use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use swim_core::protocol::members::Interner;
use swim_core::wire::{encode_push_pull, PushNodeState, PushPullHeader};
use swim_core::{Config, Instant, NodeId, StreamFrame, Swim};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MEMBERS: usize = 16_000;

/// One interner for a whole process, as the simulator uses.
#[derive(Default)]
struct Names(Mutex<HashSet<NodeId>>);

impl Interner for Names {
    fn intern(&self, name: &str) -> NodeId {
        let mut set = self.0.lock().unwrap();
        if let Some(id) = set.get(name) {
            return id.clone();
        }
        let id = NodeId::from(name);
        set.insert(id.clone());
        id
    }
}

/// A push-pull listing `MEMBERS` Serf-like members.
fn big_state() -> Vec<u8> {
    let names: Vec<String> = (0..MEMBERS).map(|i| format!("node-{i:05}")).collect();
    let ips: Vec<[u8; 4]> = (0..MEMBERS).map(|i| [10, 1, (i / 256) as u8, (i % 256) as u8]).collect();
    let nodes = names.iter().zip(&ips).map(|(n, ip)| PushNodeState {
        name: n,
        addr: ip,
        port: 7946,
        meta: &[0xff, 0x80],
        incarnation: 1,
        state: 0,
        vsn: &[1, 5, 2, 2, 5, 5],
    });
    let mut msg = Vec::new();
    encode_push_pull(
        &mut msg,
        &PushPullHeader { nodes: MEMBERS as u32, user_state_len: 0, join: true },
        nodes,
        &[],
    );
    msg
}

/// Heap bytes a node keeps after learning `MEMBERS` members, per member.
fn bytes_per_member(interner: Option<Arc<dyn Interner>>) -> f64 {
    let state = big_state();
    let addr = "127.0.0.1:7946".parse().unwrap();
    // Nobody answers probes here: a one-hour interval keeps failure detection
    // out of the way while gossip rounds drain the queue.
    let cfg = Config {
        node_name: Some("me".into()),
        protocol_interval: std::time::Duration::from_secs(3600),
        ..Config::default()
    };
    let mut swim = Swim::new(cfg, addr, ChaCha8Rng::seed_from_u64(1), Instant::ZERO).unwrap();
    if let Some(i) = interner {
        swim.set_interner(i);
    }
    let StreamFrame::Complete { start, end } = swim.stream_frame(&state, true).unwrap() else { panic!() };
    let mut frame = state[start..end].to_vec();
    let region = Region::new(GLOBAL);
    let reply = swim.handle_stream(Instant::ZERO, addr, &mut frame, &mut |_| {}).unwrap();
    drop(reply);
    // Events and gossip about the joiners are transient: drain them, running
    // gossip rounds until every item has been sent its retransmit limit.
    while swim.poll_event().is_some() {}
    let mut buf = vec![0u8; 1400];
    let mut now = Instant::ZERO;
    for _ in 0..20_000 {
        if swim.gossip_queue_len() == 0 {
            break;
        }
        now += std::time::Duration::from_millis(200);
        swim.handle_timeout(now);
        while swim.poll_transmit(now, &mut buf).is_some() {}
        while swim.poll_stream_request().is_some() {}
        while swim.poll_event().is_some() {}
    }
    assert_eq!(swim.gossip_queue_len(), 0);
    let stats = region.change();
    assert_eq!(swim.members().len(), MEMBERS + 1);
    let kept = stats.bytes_allocated as f64 - stats.bytes_deallocated as f64;
    let table = swim.member_table_bytes() as f64 / MEMBERS as f64;
    println!("member table alone: {table:.1} bytes/member");
    kept / MEMBERS as f64
}

#[test]
fn a_16k_member_table_costs_under_two_megabytes() {
    // The interner itself is shared by every node of a process: fill it first.
    let names: Arc<dyn Interner> = Arc::new(Names::default());
    for i in 0..MEMBERS {
        names.intern(&format!("node-{i:05}"));
    }
    let plain = bytes_per_member(None);
    let interned = bytes_per_member(Some(names));
    println!("16k members: {plain:.1} bytes/member ({:.2} MB per node); with shared names {interned:.1} bytes/member ({:.2} MB)",
        plain * MEMBERS as f64 / 1e6, interned * MEMBERS as f64 / 1e6);
    assert!(plain < 112.0, "{plain} bytes per member");
    assert!(interned < 80.0, "{interned} bytes per member");
}
