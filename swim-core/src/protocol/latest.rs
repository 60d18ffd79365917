//! "Latest value wins" broadcasts: a broadcast that replaces an older one of
//! the same topic still queued (memberlist's `NamedBroadcast`, `queue.go`
//! `Invalidates`), and that no node delivers after a newer one of its topic.
//!
//! On the wire it is a Serf user event with the coalesce flag set (`CC`,
//! Serf's `UserEvent(name, payload, coalesce=true)`, whose agents keep only
//! the latest event of a name): Serf agents and older swim nodes take it
//! as an ordinary user event. Every swim node that relays one keys it by
//! topic in its own gossip queue, so an update overtakes the value before it
//! all the way across the cluster. "Latest" is by the event's Lamport time,
//! ties broken by a hash of the payload, so every node settles on the same
//! value.

use super::{BroadcastError, Swim};
use crate::node::NodeId;
use alloc::collections::BTreeMap;
use rand_core::RngCore;

/// Topics whose latest version is remembered; past it the oldest is
/// forgotten (an older event of a forgotten topic is delivered again only
/// if it is also new to the de-duplication window).
pub const LATEST_TOPICS: usize = 4096;

/// The newest version delivered or sent of each "latest value" topic.
#[derive(Debug, Default)]
pub(super) struct Latest {
    versions: BTreeMap<NodeId, (u64, u64)>,
}

/// Orders two events of one topic and Lamport time the same on every node.
fn payload_hash(payload: &[u8]) -> u64 {
    // FNV-1a: fixed, so every node breaks ties alike.
    payload.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Latest {
    /// Records version `(ltime, payload)` of `topic` if it is newer than the
    /// one known; false when it is older (superseded).
    pub(super) fn advance(&mut self, topic: &str, ltime: u64, payload: &[u8]) -> bool {
        let version = (ltime, payload_hash(payload));
        if let Some(v) = self.versions.get_mut(topic) {
            if *v > version {
                return false;
            }
            *v = version;
            return true;
        }
        if self.versions.len() >= LATEST_TOPICS {
            let oldest = self.versions.iter().min_by_key(|(_, v)| **v).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.versions.remove(&k);
            }
        }
        self.versions.insert(NodeId::from(topic), version);
        true
    }

    /// For an event without the coalesce flag (a push-pull state's replay
    /// carries none): whether it is an outdated version of a topic known as
    /// "latest value"; records it when it is the newest.
    pub(super) fn replay_superseded(&mut self, topic: &str, ltime: u64, payload: &[u8]) -> bool {
        self.versions.contains_key(topic) && !self.advance(topic, ltime, payload)
    }
}

impl<R: RngCore> Swim<R> {
    /// Broadcasts `payload` as the latest value of `topic`: like
    /// [`broadcast`](Self::broadcast), but a newer `broadcast_latest` of the
    /// same topic replaces this one in every swim node's gossip queue while
    /// it is still there, and no swim node delivers it after a newer one of
    /// its topic — for state where only the last value matters, the queue
    /// never fills with outdated values. Topics are cluster-wide: two nodes
    /// that `broadcast_latest` one topic replace each other's values (for
    /// per-node state put the node's name in the topic, `load/node-1`).
    pub fn broadcast_latest(&mut self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        let (msg, ltime) = self.encode_broadcast(topic, payload, true)?;
        self.latest.advance(topic, ltime, payload);
        self.gossip.push_named(NodeId::from(topic), msg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_win_and_ties_break_alike() {
        let mut l = Latest::default();
        assert!(l.advance("load", 5, b"0.5"));
        assert!(!l.advance("load", 4, b"0.9"), "older");
        assert!(l.replay_superseded("load", 4, b"0.9"));
        assert!(l.advance("load", 6, b"0.7"));
        // Two values of one Lamport time: the same one wins in either order.
        let (mut a, mut b) = (Latest::default(), Latest::default());
        a.advance("x", 9, b"left");
        a.advance("x", 9, b"right");
        b.advance("x", 9, b"right");
        b.advance("x", 9, b"left");
        assert_eq!(a.versions.get("x"), b.versions.get("x"));
        assert!(!l.replay_superseded("other", 0, b""), "not a latest-value topic");
    }

    #[test]
    fn topics_are_bounded() {
        let mut l = Latest::default();
        for i in 0..(LATEST_TOPICS as u64 + 10) {
            l.advance(&alloc::format!("t{i}"), i + 1, b"");
        }
        assert_eq!(l.versions.len(), LATEST_TOPICS);
        assert!(!l.versions.contains_key("t0"), "the oldest went first");
    }
}
