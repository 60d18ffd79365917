//! Lifeguard: the dynamic suspicion timeout and the local health multiplier
//! (Lifeguard §4.1 "Local Health Aware Probe", §4.3 "Local Health Aware
//! Suspicion"; memberlist `suspicion.go` and `awareness.go`), and the expiry
//! of suspicions into deaths.

use super::*;
use crate::node::NodeId;
use crate::time::{scale, scale_f64, Instant};
use alloc::vec::Vec;
use core::time::Duration;

/// A suspicion of one member: a timer that shrinks as independent members
/// confirm it (Lifeguard §IV-B, memberlist `suspicion.go`).
#[derive(Debug, Clone)]
pub struct Suspicion {
    start: Instant,
    min: Duration,
    max: Duration,
    /// Confirmations expected before the timer reaches `min`.
    k: u32,
    /// Members who have suspected it (the first accuser included).
    confirmers: Vec<NodeId>,
    deadline: Instant,
    /// A packet came from the suspect since the suspicion started (or was
    /// last deferred).
    heard: bool,
    /// No deadline before this (set by [`Suspicion::defer`]).
    floor: Instant,
    /// When the suspect was last told of the suspicion because it was
    /// heard from ([`Suspicion::retell`]).
    retold: Option<Instant>,
    /// When the first accuser next reminds the suspect of an unconfirmed
    /// suspicion ([`Suspicion::remind`]).
    next_remind: Instant,
}

impl Suspicion {
    /// Starts a suspicion raised by `from` at `now`.
    pub fn new(now: Instant, from: NodeId, k: u32, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        let mut s = Suspicion {
            start: now,
            min,
            max,
            k,
            confirmers: alloc::vec![from],
            deadline: now,
            heard: false,
            floor: now,
            retold: None,
            next_remind: now + min,
        };
        s.deadline = now + s.timeout();
        s
    }

    fn timeout(&self) -> Duration {
        if self.k == 0 {
            return self.min;
        }
        let c = (self.confirmers.len() - 1) as f64;
        let frac = libm::log(c + 1.0) / libm::log(self.k as f64 + 1.0);
        let span = self.max.saturating_sub(self.min);
        let t = self.max.saturating_sub(scale_f64(span, frac));
        t.max(self.min)
    }

    /// Records a confirmation from `from`; true if it is new (then re-gossip it).
    /// Confirmations past `k` are not counted.
    pub fn confirm(&mut self, from: &str) -> bool {
        if self.confirmers.len() as u32 > self.k || self.confirmers.iter().any(|c| c.as_str() == from) {
            return false;
        }
        // Only a new confirmer costs its name.
        self.confirmers.push(NodeId::from(from));
        self.deadline = (self.start + self.timeout()).max(self.floor);
        true
    }

    /// Records that a packet came from the suspect itself.
    pub fn heard_from(&mut self) {
        self.heard = true;
    }

    /// Whether to tell the suspect of its suspicion again now that a packet
    /// came from it: at most once per `every`, and true the first time.
    pub fn retell(&mut self, now: Instant, every: Duration) -> bool {
        if self.retold.is_some_and(|t| now.saturating_duration_since(t) < every) {
            return false;
        }
        self.retold = Some(now);
        true
    }

    /// Whether the first accuser, `me`, should remind the suspect now: the
    /// suspicion is unconfirmed (nobody else has raised it: the gossip of
    /// it may all have been lost) and `min` has passed since it started or
    /// since the last reminder.
    pub fn remind(&mut self, now: Instant, me: &str) -> bool {
        if now < self.next_remind || self.confirmers.len() > 1 || self.confirmers[0].as_str() != me {
            return false;
        }
        self.next_remind = now + self.min;
        true
    }

    /// At the deadline: when the suspect was heard from since the suspicion
    /// started (or was last deferred), and the unconfirmed timeout `max` has
    /// not run out, moves the deadline on by `min` (never past `start +
    /// max`) and returns true; the member is then not declared dead yet.
    pub fn defer(&mut self, now: Instant) -> bool {
        let end = self.start + self.max;
        if !self.heard || now >= end {
            return false;
        }
        self.heard = false;
        self.floor = (now + self.min).min(end);
        self.deadline = self.floor;
        true
    }

    /// When the member is declared dead unless it refutes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Independent confirmations so far (the first accuser not counted).
    pub fn confirmations(&self) -> usize {
        self.confirmers.len() - 1
    }
}

/// memberlist's suspicion bounds for a cluster of `n` members:
/// `min = mult * max(1, log10(n)) * interval`, `max = max_mult * min`.
pub fn suspicion_bounds(mult: u32, max_mult: u32, n: usize, interval: Duration) -> (Duration, Duration) {
    let node_scale = libm::log10((n.max(1)) as f64).max(1.0);
    let min = scale_f64(scale(interval, mult), node_scale);
    (min, scale(min, max_mult))
}

/// Lifeguard's local health score (memberlist `awareness.go`): 0 is healthy;
/// each missed nack or refutation raises it, each good probe lowers it; probe
/// intervals and timeouts are scaled by `score + 1`.
#[derive(Debug, Clone)]
pub struct Awareness {
    max: u32,
    score: u32,
}

impl Awareness {
    /// A healthy score with cap `max - 1`.
    pub fn new(max: u32) -> Self {
        Awareness { max: max.max(1), score: 0 }
    }

    /// Adds `delta`, clamped to `[0, max - 1]`.
    pub fn apply(&mut self, delta: i32) {
        let s = self.score as i64 + delta as i64;
        self.score = s.clamp(0, self.max as i64 - 1) as u32;
    }

    /// The current score.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// `d * (score + 1)`.
    pub fn scale(&self, d: Duration) -> Duration {
        scale(d, self.score + 1)
    }
}

impl<R: RngCore> Swim<R> {
    /// A packet came from `from`: if it is a suspected member, that is
    /// evidence it runs (see [`Suspicion::defer`]), and — buddy system — the
    /// suspect is told of its suspicion again, at most once per protocol
    /// interval, so that it refutes (and answers this node directly). Told
    /// before the packet is handled: should the packet carry the refutation,
    /// the stale suspicion costs a datagram (the suspect ignores it, or
    /// answers with its alive message).
    ///
    /// The suspicion's first telling (with the failed probe, and its
    /// gossip) goes out while this node cannot reach the suspect, by
    /// definition; a host whose connectivity comes and goes loses them all
    /// in one dark spell. A packet that arrives shows a moment when the two
    /// can talk: the answer goes out then. memberlist tells the suspect only
    /// with its next probes of it.
    pub(super) fn note_heard(&mut self, now: Instant, from: SocketAddr) {
        if self.suspicions.is_empty() {
            return;
        }
        let Some(m) = self.members.by_addr(from) else { return };
        let Some(s) = self.suspicions.get_mut(m.id.as_str()) else { return };
        s.heard_from();
        if !self.cfg.lifeguard_buddy_system || !self.cfg.direct_refutation || m.state != State::Suspect {
            return;
        }
        if !s.retell(now, self.cfg.protocol_interval) {
            return;
        }
        let (incarnation, addr, node) = (m.incarnation, m.addr(), m.id.clone());
        self.metrics.suspicions_retold += 1;
        self.enqueue(addr, OutKind::Suspect { incarnation, node });
    }

    /// On the probe ticker: for each suspicion this node raised and nobody
    /// has confirmed, once per minimum timeout, the suspect is told again
    /// directly (buddy system; with `direct_refutation`) so that it refutes.
    ///
    /// A suspicion starts when this node could not reach the suspect, and
    /// its first telling and all its gossip go out within a few gossip
    /// rounds: a host whose connectivity comes and goes can lose every one
    /// of them in one dark spell, and in a large cluster it may not hear
    /// from the suspect (nor probe it) again before the unconfirmed timeout
    /// (8 s at 50 nodes and 200 ms probes) runs out. Reminders spread over
    /// that timeout cost a datagram each; a suspect that refutes answers the
    /// accuser directly. memberlist sends none.
    pub(super) fn remind_suspects(&mut self, now: Instant) {
        if self.suspicions.is_empty() || !self.cfg.lifeguard_buddy_system || !self.cfg.direct_refutation {
            return;
        }
        let me = self.name.clone();
        let due: Vec<NodeId> = self
            .suspicions
            .iter_mut()
            .filter_map(|(id, s)| s.remind(now, me.as_str()).then(|| id.clone()))
            .collect();
        for id in due {
            let Some(m) = self.members.get(&id).filter(|m| m.state == State::Suspect) else { continue };
            let (incarnation, addr) = (m.incarnation, m.addr());
            self.metrics.suspicions_retold += 1;
            self.enqueue(addr, OutKind::Suspect { incarnation, node: id });
        }
    }

    /// Declares dead the suspects whose timer ran out — unless a packet came
    /// from the suspect itself since its suspicion started: then the timer
    /// is moved on (up to the unconfirmed timeout) and the suspect is told
    /// again, so it can refute.
    ///
    /// memberlist declares a member dead when the timer runs out, whatever
    /// it heard meanwhile. Under heavy loss a running member's refutation
    /// often arrives late, and every node holding the suspicion then
    /// declares it dead on its own; a node that just got a datagram from the
    /// suspect knows better. A crashed member sends nothing, so its death is
    /// not delayed.
    pub(super) fn expire_suspicions(&mut self, now: Instant) {
        let due: Vec<NodeId> =
            self.suspicions.iter().filter(|(_, s)| s.deadline() <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            let Some(m) = self.members.get(&id) else {
                self.suspicions.remove(&id);
                continue;
            };
            if m.state != State::Suspect {
                self.suspicions.remove(&id);
                continue;
            }
            if self.cfg.direct_refutation && self.suspicions.get_mut(&id).is_some_and(|s| s.defer(now)) {
                let (incarnation, addr) = (m.incarnation, m.addr());
                self.metrics.suspicions_deferred += 1;
                self.enqueue(addr, OutKind::Suspect { incarnation, node: id });
                continue;
            }
            self.suspicions.remove(&id);
            let inc = m.incarnation;
            self.metrics.declared_dead += 1;
            let me = self.name.clone();
            self.dead_node(now, inc, id.as_str(), me.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_follow_memberlist() {
        let s = Duration::from_secs(1);
        assert_eq!(suspicion_bounds(4, 6, 3, s), (Duration::from_secs(4), Duration::from_secs(24)));
        let (min, max) = suspicion_bounds(4, 6, 100, s);
        assert_eq!(min, Duration::from_secs(8));
        assert_eq!(max, Duration::from_secs(48));
    }

    #[test]
    fn confirmations_shrink_the_timeout_to_min() {
        let t0 = Instant::ZERO;
        let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
        let mut s = Suspicion::new(t0, NodeId::from("a"), 2, min, max);
        assert_eq!(s.deadline(), t0 + max);
        assert!(!s.confirm("a"), "the accuser does not confirm itself");
        assert!(s.confirm("b"));
        let mid = s.deadline();
        assert!(mid < t0 + max && mid > t0 + min);
        assert!(!s.confirm("b"), "duplicates are not independent");
        assert!(s.confirm("c"));
        assert_eq!(s.deadline(), t0 + min);
        assert!(!s.confirm("d"), "past k nothing changes");
        assert_eq!(s.confirmations(), 2);
    }

    #[test]
    fn a_suspect_is_retold_at_most_once_per_interval() {
        let t0 = Instant::ZERO;
        let sec = Duration::from_secs(1);
        let mut s = Suspicion::new(t0, NodeId::from("a"), 2, sec, sec * 6);
        assert!(s.retell(t0, sec), "the first packet from the suspect");
        assert!(!s.retell(t0 + sec / 2, sec));
        assert!(s.retell(t0 + sec, sec));
    }

    #[test]
    fn only_the_accuser_reminds_and_only_while_unconfirmed() {
        let t0 = Instant::ZERO;
        let sec = Duration::from_secs(1);
        let mut s = Suspicion::new(t0, NodeId::from("me"), 2, sec, sec * 6);
        assert!(!s.remind(t0, "me"), "not before the minimum timeout");
        assert!(!s.remind(t0 + sec, "other"), "not a node that only heard of it");
        assert!(s.remind(t0 + sec, "me"));
        assert!(!s.remind(t0 + sec + sec / 2, "me"), "once per minimum timeout");
        assert!(s.remind(t0 + sec * 2, "me"));
        assert!(s.confirm("b"));
        assert!(!s.remind(t0 + sec * 3, "me"), "a confirmed suspicion spreads by itself");
    }

    #[test]
    fn no_expected_confirmations_means_min() {
        let s = Suspicion::new(
            Instant::ZERO,
            NodeId::from("a"),
            0,
            Duration::from_secs(4),
            Duration::from_secs(24),
        );
        assert_eq!(s.deadline(), Instant::ZERO + Duration::from_secs(4));
    }

    #[test]
    fn awareness_is_clamped_and_scales() {
        let mut a = Awareness::new(8);
        a.apply(-1);
        assert_eq!(a.score(), 0);
        a.apply(3);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(4));
        a.apply(100);
        assert_eq!(a.score(), 7);
    }
}
