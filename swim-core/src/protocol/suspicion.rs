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
}

impl Suspicion {
    /// Starts a suspicion raised by `from` at `now`.
    pub fn new(now: Instant, from: NodeId, k: u32, min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        let mut s = Suspicion { start: now, min, max, k, confirmers: alloc::vec![from], deadline: now };
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
        self.deadline = self.start + self.timeout();
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
    pub(super) fn expire_suspicions(&mut self, now: Instant) {
        let due: Vec<NodeId> =
            self.suspicions.iter().filter(|(_, s)| s.deadline() <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            self.suspicions.remove(&id);
            let Some(m) = self.members.get(&id) else { continue };
            if m.state != State::Suspect {
                continue;
            }
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
