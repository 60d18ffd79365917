//! Name conflicts resolved as Serf resolves them: a node started with a
//! name already in use, at another address, asks the cluster, finds itself
//! in the minority and yields; the original keeps its name.

mod common;

use common::*;
use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use std::time::Duration;
use swim_core::{Config, Event, State, Swim};

/// n0..n2 form a cluster; then node 3, also named "n1", joins through n2.
fn clash(resolution: bool) -> Harness {
    let cfg = |_| Config { name_conflict_resolution: resolution, ..fast_config() };
    let mut h = Harness::new(4, 11, cfg);
    h.nodes[3] = Swim::new(
        Config { node_name: Some("n1".into()), ..cfg(3) },
        h.addrs[3],
        ChaCha8Rng::seed_from_u64(99),
        h.now,
    )
    .unwrap();
    h.join(1, 0).unwrap();
    h.join(2, 0).unwrap();
    h.run(Duration::from_secs(1));
    h.join(3, 2).unwrap();
    h.run(Duration::from_secs(5));
    h
}

#[test]
fn the_newcomer_with_a_taken_name_yields_and_the_original_stays() {
    let h = clash(true);
    assert!(h.nodes[3].has_yielded(), "the impostor yields: {:?}", h.nodes[3].metrics());
    assert!(h.events[3]
        .iter()
        .any(|e| matches!(e, Event::Yielded(n) if n.id.as_str() == "n1" && n.addr == h.addrs[3])));
    // The original never heard of the impostor: the others refuse its
    // alive (the name is taken) and do not pass it on.
    assert!(!h.nodes[1].has_yielded(), "the original keeps its name");
    assert_eq!(h.nodes[3].metrics().name_conflicts_lost, 1);
    for i in [0, 2] {
        let n1 = h.nodes[i].member("n1").unwrap();
        assert_eq!((n1.addr, n1.state), (h.addrs[1], State::Alive), "n{i} knows n1 at its first address");
    }
    // Once yielded, the node sends nothing.
    let mut h = h;
    let sent = h.nodes[3].metrics().packets_sent;
    h.run(Duration::from_secs(3));
    assert_eq!(h.nodes[3].metrics().packets_sent, sent);
}

#[test]
fn without_resolution_the_clash_is_only_counted() {
    let h = clash(false);
    assert!(!h.nodes[3].has_yielded() && !h.nodes[1].has_yielded());
    assert!(h.nodes[1].metrics().name_conflicts + h.nodes[3].metrics().name_conflicts > 0);
    assert_eq!(h.nodes[1].metrics().conflict_resolutions + h.nodes[3].metrics().conflict_resolutions, 0);
}
