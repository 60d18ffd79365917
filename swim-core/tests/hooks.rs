//! The extension hooks and what sits beside them: admission of members,
//! name-conflict notices, ack payloads and probe results, application state
//! in push-pull, "latest value wins" broadcasts and the peer allow-list —
//! on the sans-IO core, through the in-memory harness.

mod common;

use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swim_core::wire::{Alive, Message};
use swim_core::{Candidate, Config, Hooks, Node, ProbeOutcome, ProbeResult, StreamError};

/// What a node's hooks saw.
#[derive(Default)]
struct Seen {
    refused: Vec<String>,
    conflicts: Vec<(String, SocketAddr)>,
    probes: Vec<(String, ProbeOutcome, Vec<u8>)>,
    states: Vec<(Vec<u8>, bool)>,
}

/// Hooks that refuse names in `refuse` and tag `role=bad`, answer acks with
/// `ack`, send `state`, and record everything in `seen`.
#[derive(Clone, Default)]
struct Recorder {
    refuse: Vec<String>,
    ack: Vec<u8>,
    state: Vec<u8>,
    seen: Arc<Mutex<Seen>>,
}

impl Hooks for Recorder {
    fn admit(&mut self, m: &Candidate<'_>) -> Result<(), String> {
        if self.refuse.iter().any(|r| r == m.name) || m.tag("role").as_deref() == Some("bad") {
            self.seen.lock().unwrap().refused.push(m.name.to_string());
            return Err(format!("{} is not welcome", m.name));
        }
        Ok(())
    }
    fn name_conflict(&mut self, known: &Node, claimant: &Candidate<'_>) {
        assert_eq!(known.id.as_str(), claimant.name);
        self.seen.lock().unwrap().conflicts.push((claimant.name.to_string(), claimant.addr));
    }
    fn ack_payload(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ack);
    }
    fn probe_result(&mut self, r: &ProbeResult, payload: &[u8]) {
        self.seen.lock().unwrap().probes.push((r.node.to_string(), r.outcome, payload.to_vec()));
    }
    fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.state);
    }
    fn merge_remote_state(&mut self, _from: SocketAddr, state: &[u8], join: bool) {
        self.seen.lock().unwrap().states.push((state.to_vec(), join));
    }
}

fn tagged(role: &str) -> Config {
    Config { tags: [("role".to_string(), role.to_string())].into(), ..fast_config() }
}

#[test]
fn admission_keeps_refused_members_out_and_counts_them() {
    let roles = ["any", "good", "bad"];
    let mut h = Harness::new(3, 1, |i| tagged(roles[i]));
    let hooks = Recorder::default();
    h.nodes[0].set_hooks(Box::new(hooks.clone()));
    h.join(1, 0).unwrap();
    // n2 joins through n1, which admits anyone; n0 hears of it by gossip
    // and in push-pulls, and refuses it every time.
    h.join(2, 1).unwrap();
    h.run(Duration::from_secs(12));
    let names: Vec<_> = h.nodes[0].members().iter().map(|m| m.id.to_string()).collect();
    assert!(names.contains(&"n1".to_string()), "{names:?}");
    assert!(!names.contains(&"n2".to_string()), "a refused member was admitted: {names:?}");
    assert!(hooks.seen.lock().unwrap().refused.iter().all(|n| n == "n2"));
    assert!(h.nodes[0].metrics().members_refused > 0);
    // The others know n2: admission is each node's own policy.
    assert!(h.nodes[1].member("n2").is_some());
}

#[test]
fn a_join_through_a_refused_seed_fails_with_the_reason() {
    let mut h = Harness::fast(2, 2);
    h.nodes[1].set_hooks(Box::new(Recorder { refuse: vec!["n0".into()], ..Recorder::default() }));
    match h.join(1, 0) {
        Err(StreamError::Refused { node, reason }) => {
            assert_eq!(node, "n0");
            assert!(reason.contains("not welcome"), "{reason}");
        }
        other => panic!("join through a refused seed gave {other:?}"),
    }
    assert!(h.nodes[1].member("n0").is_none());
}

#[test]
fn name_conflicts_reach_the_hook() {
    let mut h = Harness::fast(2, 3);
    h.all_join();
    let hooks = Recorder::default();
    h.nodes[0].set_hooks(Box::new(hooks.clone()));
    let impostor: SocketAddr = "127.0.0.1:10099".parse().unwrap();
    for name in ["n1", "n0"] {
        let alive = Message::Alive(Alive {
            incarnation: 50,
            node: name,
            addr: &[127, 0, 0, 1],
            port: impostor.port(),
            meta: &[],
            vsn: &[1, 5, 2, 2, 5, 5],
        });
        inject(&mut h, 1, 0, &encode(&alive));
    }
    let seen = hooks.seen.lock().unwrap();
    assert_eq!(seen.conflicts, vec![("n1".to_string(), impostor), ("n0".to_string(), impostor)]);
    assert_eq!(h.nodes[0].member("n1").unwrap().addr, h.addrs[1], "the known member keeps its address");
    assert_eq!(h.nodes[0].metrics().name_conflicts, 1);
}

#[test]
fn ack_payloads_reach_the_prober_with_each_probe_result() {
    // Ack payloads are the application's with coordinates off.
    let mut h = Harness::new(2, 4, |_| Config { coordinates: false, ..fast_config() });
    h.all_join();
    let prober = Recorder::default();
    h.nodes[0].set_hooks(Box::new(prober.clone()));
    h.nodes[1].set_hooks(Box::new(Recorder { ack: b"coordinate of n1".to_vec(), ..Recorder::default() }));
    h.run(Duration::from_secs(2));
    let probes = std::mem::take(&mut prober.seen.lock().unwrap().probes);
    assert!(probes.len() >= 5, "{probes:?}");
    for (node, outcome, payload) in &probes {
        assert_eq!(
            (node.as_str(), *outcome, payload.as_slice()),
            ("n1", ProbeOutcome::Direct, &b"coordinate of n1"[..])
        );
    }
    // An ack payload over the bound is not sent, and is counted.
    h.nodes[1].set_hooks(Box::new(Recorder {
        ack: vec![7; swim_core::MAX_ACK_PAYLOAD + 1],
        ..Recorder::default()
    }));
    h.run(Duration::from_secs(2));
    let probes = std::mem::take(&mut prober.seen.lock().unwrap().probes);
    assert!(!probes.is_empty() && probes.iter().all(|(_, o, p)| *o == ProbeOutcome::Direct && p.is_empty()));
    assert!(h.nodes[1].metrics().hook_output_dropped > 0);
}

#[test]
fn application_state_rides_in_push_pull_both_ways() {
    let mut h = Harness::fast(2, 5);
    let (a, b) = (
        Recorder { state: b"state of n0".to_vec(), ..Recorder::default() },
        Recorder { state: b"state of n1".to_vec(), ..Recorder::default() },
    );
    h.nodes[0].set_hooks(Box::new(a.clone()));
    h.nodes[1].set_hooks(Box::new(b.clone()));
    h.join(1, 0).unwrap();
    assert_eq!(a.seen.lock().unwrap().states, vec![(b"state of n1".to_vec(), true)]);
    assert_eq!(b.seen.lock().unwrap().states, vec![(b"state of n0".to_vec(), true)]);
    // The periodic exchange carries it too (not as a join).
    h.run(Duration::from_secs(12));
    assert!(a
        .seen
        .lock()
        .unwrap()
        .states
        .iter()
        .chain(b.seen.lock().unwrap().states.iter())
        .any(|(_, join)| !join));
    // Over the bound: not sent, counted; the exchange itself still works.
    h.nodes[0].set_hooks(Box::new(Recorder {
        state: vec![1; swim_core::MAX_APP_STATE + 1],
        ..Recorder::default()
    }));
    let before = b.seen.lock().unwrap().states.len();
    let req = h.nodes[1].sync_with(h.now, h.addrs[0]);
    h.stream(1, req);
    assert_eq!(b.seen.lock().unwrap().states.len(), before, "an oversized state was delivered");
    assert_eq!(h.nodes[0].metrics().hook_output_dropped, 1);
    assert!(h.converged());
}

#[test]
fn latest_value_broadcasts_replace_queued_ones_and_never_go_back() {
    let mut h = Harness::fast(3, 6);
    h.all_join();
    h.run(Duration::from_secs(1));
    for v in ["1", "2", "3"] {
        h.nodes[0].broadcast_latest("load", v.as_bytes()).unwrap();
        h.nodes[0].broadcast("log", v.as_bytes()).unwrap();
    }
    h.run(Duration::from_secs(3));
    for i in 1..3 {
        let got = |topic: &str| -> Vec<Vec<u8>> {
            h.delivered.iter().filter(|d| d.0 == i && d.1 == topic).map(|d| d.2.clone()).collect()
        };
        assert_eq!(got("load"), vec![b"3".to_vec()], "n{i}: only the latest value travels");
        assert_eq!(got("log").len(), 3, "n{i}: ordinary broadcasts all arrive");
    }
    // An older value arriving late is not delivered.
    let stale = swim_core::wire::serf::UserEvent { ltime: 1, name: "load", payload: b"0", cc: true };
    let mut msg = vec![0u8; stale.encoded_len()];
    let n = stale.encode(&mut msg).unwrap();
    msg.truncate(n);
    let before = h.delivered.len();
    inject(&mut h, 0, 1, &msg);
    assert_eq!(h.delivered.len(), before);
    let m = h.nodes[1].metrics();
    assert_eq!(m.broadcasts_superseded, 1, "{m:?}");
}

#[test]
fn the_allow_list_drops_outsiders_and_refuses_members_outside_it() {
    // n0 takes only 10.0.0.0/8; every harness node is on 127.0.0.1.
    let mut h = Harness::new(2, 7, |i| Config {
        cidrs_allowed: (i == 0).then(|| vec!["10.0.0.0/8".parse().unwrap()]),
        ..fast_config()
    });
    assert_eq!(h.join(1, 0), Err(StreamError::NotAllowed));
    h.run(Duration::from_secs(2));
    assert!(h.nodes[0].metrics().dropped_not_allowed > 0);
    assert_eq!(h.nodes[0].members().len(), 1);
    // Loopback allowed: the cluster forms, but a member advertising an
    // address outside the list is refused.
    let mut h = Harness::new(2, 8, |_| Config {
        cidrs_allowed: Some(vec!["127.0.0.0/8".parse().unwrap()]),
        ..fast_config()
    });
    h.all_join();
    assert!(h.converged());
    let alive = Message::Alive(Alive {
        incarnation: 1,
        node: "far",
        addr: &[192, 168, 1, 5],
        port: 7946,
        meta: &[],
        vsn: &[1, 5, 2, 2, 5, 5],
    });
    inject(&mut h, 1, 0, &encode(&alive));
    assert!(h.nodes[0].member("far").is_none());
    assert_eq!(h.nodes[0].metrics().members_refused, 1);
}
