//! The Lifeguard switches (`Config::lifeguard_*`): each extension on
//! changes what it should, and off behaves as SWIM without it. The measured
//! effect (false positives with slow nodes, all on against all off) is in
//! docs/performance.md ("Lifeguard on and off").

mod common;

use common::*;
use std::time::Duration;
use swim_core::wire::packet::{open_packet, Layers};
use swim_core::wire::{Message, Suspect};
use swim_core::{Config, State};

/// Local health: a node cut off from everyone raises its score (and
/// stretches its probes) with it on, and stays at 0 with it off.
#[test]
fn local_health_off_keeps_the_score_at_zero() {
    for on in [true, false] {
        let cfg = Config { suspicion_mult: 100, lifeguard_local_health: on, ..fast_config() };
        let mut h = Harness::new(3, 4, |_| cfg.clone());
        h.all_join();
        h.run(Duration::from_secs(1));
        h.cut.insert((0, 1));
        h.cut.insert((0, 2));
        let mut highest = 0;
        for _ in 0..100 {
            h.run(Duration::from_millis(100));
            highest = highest.max(h.nodes[0].health_score());
        }
        if on {
            assert!(highest >= 6, "with local health the score rises: {highest}");
        } else {
            assert_eq!(highest, 0, "with local health off the score stays 0");
        }
    }
}

/// How long n0 takes from hearing (from n1) that the crashed n5 is suspect
/// to declaring it dead, cut off from everyone so no confirmation reaches it.
fn unconfirmed_suspicion(dynamic: bool) -> Duration {
    let cfg = Config { lifeguard_dynamic_suspicion: dynamic, ..fast_config() };
    let mut h = Harness::new(6, 11, |_| cfg.clone());
    h.all_join();
    h.run(Duration::from_secs(2));
    assert!(h.converged());
    h.down.insert(5);
    for i in 1..5 {
        h.cut.insert((0, i));
    }
    let incarnation = h.nodes[0].member("n5").unwrap().incarnation;
    let start = h.now;
    inject(&mut h, 1, 0, &encode(&Message::Suspect(Suspect { incarnation, node: "n5", from: "n1" })));
    assert_eq!(h.state_at(0, 5), Some(State::Suspect));
    h.run_until(Duration::from_secs(30), |h| h.state_at(0, 5) == Some(State::Dead))
        .expect("n5 declared dead");
    h.now.saturating_duration_since(start)
}

/// Dynamic suspicion: on, a suspicion nobody confirms runs longer than the
/// minimum (up to `suspicion_max_timeout_mult` times it); off, every
/// suspicion runs out at the minimum, as in SWIM.
#[test]
fn dynamic_suspicion_off_fixes_the_timeout_at_the_minimum() {
    let cfg = fast_config();
    // 6 nodes: log10(6) < 1, so the minimum is suspicion_mult intervals.
    let min = cfg.protocol_interval * cfg.suspicion_mult;
    let slack = TICK * 2;
    let off = unconfirmed_suspicion(false);
    assert!(off <= min + slack, "off: {off:?} from suspect to dead (min {min:?})");
    let on = unconfirmed_suspicion(true);
    assert!(on > min * 2, "on: an unconfirmed suspicion waits longer: {on:?} (min {min:?})");
    assert!(on <= min * cfg.suspicion_max_timeout_mult + slack, "{on:?}");
}

/// Buddy system: a ping to a suspect carries the suspicion (so the suspect
/// can refute at once) with it on, and not with it off.
#[test]
fn buddy_system_off_sends_plain_pings_to_suspects() {
    for buddy in [true, false] {
        // A long suspicion, so n0 probes its suspect several times.
        let cfg = Config { suspicion_mult: 20, lifeguard_buddy_system: buddy, ..fast_config() };
        let mut h = Harness::new(3, 5, |_| cfg.clone());
        h.all_join();
        h.run(Duration::from_secs(1));
        h.down.insert(1);
        h.run_until(Duration::from_secs(10), |h| h.state_at(0, 1) == Some(State::Suspect))
            .expect("n0 suspects n1");
        let (mut pings, mut with_suspicion) = (0, 0);
        let mut buf = vec![0u8; 65_536];
        for _ in 0..300 {
            h.now += TICK;
            for i in [0, 2] {
                if h.nodes[i].poll_timeout() <= h.now {
                    h.nodes[i].handle_timeout(h.now);
                }
            }
            let now = h.now;
            while let Some(t) = h.nodes[0].poll_transmit(now, &mut buf) {
                let pkt = &mut buf[..t.len];
                if t.dst == addr(1) {
                    let (ping, suspect) = inspect(pkt);
                    pings += ping as usize;
                    with_suspicion += (ping && suspect) as usize;
                } else {
                    let mut pkt = pkt.to_vec();
                    h.recording(2, |n, d| n.handle_packet(now, addr(0), &mut pkt, d));
                }
            }
            h.flush();
        }
        assert!(pings >= 2, "n0 pinged its suspect {pings} times: the test proves nothing");
        if buddy {
            assert_eq!(with_suspicion, pings, "every ping to a suspect carries the suspicion");
        } else {
            assert_eq!(with_suspicion, 0, "no ping carries the suspicion");
        }
    }
}

/// Whether a datagram to n1 holds a ping for n1, and a suspicion of n1.
fn inspect(pkt: &mut [u8]) -> (bool, bool) {
    let layers = Layers { label: b"", keyring: None, verify_incoming: false };
    let Ok((plain, _)) = open_packet(pkt, &layers) else { return (false, false) };
    let mut found = (false, false);
    let mut look = |m: &[u8]| match Message::decode(m) {
        Ok(Message::Ping(p)) if p.node == "n1" => found.0 = true,
        Ok(Message::Suspect(s)) if s.node == "n1" => found.1 = true,
        _ => {}
    };
    match Message::decode(plain) {
        Ok(Message::Compound(c)) => c.parts().for_each(&mut look),
        _ => look(plain),
    }
    found
}
