//! Rolling encryption out in a running cluster, as memberlist's
//! `GossipVerifyIncoming` / `GossipVerifyOutgoing` allow: every stage of
//! the roll-out forms one cluster (UDP and the join's TCP exchange), and a
//! strict node refuses plaintext.

mod common;

use common::*;
use std::time::Duration;
use swim_core::Config;

fn node(encrypted: bool, incoming: bool, outgoing: bool) -> Config {
    Config {
        encryption_enabled: encrypted,
        secret_key: vec![5; 32],
        gossip_verify_incoming: incoming,
        gossip_verify_outgoing: outgoing,
        ..fast_config()
    }
}

fn forms_one_cluster(cfgs: &[Config]) -> bool {
    let mut h = Harness::new(cfgs.len(), 3, |i| cfgs[i].clone());
    // Each joins through n0; a refused join shows as no single cluster.
    for i in 1..cfgs.len() {
        let _ = h.join(i, 0);
    }
    h.run_until(Duration::from_secs(10), |h| h.converged()).is_some()
}

#[test]
fn every_stage_of_an_encryption_roll_out_forms_one_cluster() {
    // Stage 0 → 1: nodes given the key with both checks off sit with
    // nodes that have no key yet.
    assert!(forms_one_cluster(&[
        node(false, true, true),
        node(true, false, false),
        node(true, false, false)
    ]));
    // Stage 2: some already encrypt, others still send plaintext; all accept both.
    assert!(forms_one_cluster(&[node(true, false, false), node(true, false, true), node(true, false, true)]));
    // Stage 3: strict nodes with nodes that encrypt but still accept plaintext.
    assert!(forms_one_cluster(&[node(true, true, true), node(true, false, true), node(true, true, true)]));
}

#[test]
fn a_strict_node_refuses_a_plaintext_sender() {
    let cfgs = [node(true, true, true), node(true, false, false)];
    let mut h = Harness::new(2, 3, |i| cfgs[i].clone());
    // n1 sends its join in plaintext: the strict n0 refuses it.
    assert!(h.join(1, 0).is_err(), "a strict node accepted a plaintext join");
    h.run(Duration::from_secs(2));
    assert_eq!(h.nodes[0].members().len(), 1);
    assert!(h.nodes[0].metrics().stream_errors + h.nodes[0].metrics().dropped_decrypt > 0);
    // Without the roll-out switches, a node with no key and a strict one
    // never form a cluster (what the stages above avoid).
    assert!(!forms_one_cluster(&[node(false, true, true), node(true, true, true)]));
}
