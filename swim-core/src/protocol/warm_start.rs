//! Warm start: taking another node's view of the cluster without the wire,
//! for a simulator that builds a large converged cluster.
//!
//! A push-pull state exchange costs one decode and one merge per member it
//! carries, so giving each of n nodes the full view costs n² of them
//! (10⁸ at 10,000 nodes: most of a minute). A node that knows no members
//! yet can instead copy another's member table whole. No protocol message
//! is involved, so nothing here is in memberlist: it is the state a
//! push-pull with `other` would have left, reached the cheap way.

use super::Swim;
use crate::node::NodeId;
use crate::protocol::members::Member;
use crate::time::Instant;
use crate::Event;
use rand_core::RngCore;

impl<R: RngCore> Swim<R> {
    /// Learns every member `other` knows that this node does not, and
    /// `other` itself, with their states and incarnations as `other` has
    /// them, and emits a [`Event::Join`] for each live one — what a
    /// push-pull with `other` would leave behind, minus the gossip and the
    /// Serf state (clocks, intents, buffered events) such an exchange
    /// carries. For simulators building a converged cluster: a node that
    /// knows no members yet copies `other`'s table whole (a memory copy, not
    /// one decode per member). Returns how many members were learned.
    pub fn copy_view_from<R2>(&mut self, now: Instant, other: &Swim<R2>) -> usize {
        let before = self.members.len();
        if before == 0 {
            self.members = other.members.clone();
            self.members.remove(self.name.as_str());
        } else {
            for m in other.members.iter() {
                if m.id != self.name && self.members.index(m.id.as_str()).is_none() {
                    let id = m.id.clone();
                    self.members.insert(m.clone());
                    self.members.note_state(id.as_str(), now);
                }
            }
        }
        if other.name != self.name && self.members.index(other.name.as_str()).is_none() {
            let profile = self.share_profile(&other.meta, other.vsn);
            let id = match &self.interner {
                Some(i) => i.intern(other.name.as_str()),
                None => NodeId::clone(&other.name),
            };
            self.members.insert(Member::new(id, other.wire_addr, profile, other.incarnation));
        }
        // Reshuffled with every member in it at the next probe.
        self.probe_order.clear();
        self.probe_index = 0;
        let learned = self.members.len() - before;
        if learned > 0 {
            for k in before..self.members.len() {
                if let Some(m) = self.members.at(k as u32).filter(|m| m.state.is_live()) {
                    let node = m.node();
                    self.emit(Event::Join(node));
                }
            }
        }
        learned
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Instant, State, Swim};
    use alloc::string::ToString;
    use core::net::SocketAddr;
    use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};

    fn node(i: u16) -> Swim<ChaCha8Rng> {
        let cfg = Config { node_name: Some(alloc::format!("n{i}")), ..Config::default() };
        let addr = SocketAddr::from(([10, 0, 0, 1], 7000 + i));
        Swim::new(cfg, addr, ChaCha8Rng::seed_from_u64(u64::from(i)), Instant::ZERO).unwrap()
    }

    #[test]
    fn copied_views_are_full_and_announce_each_member_once() {
        let now = Instant::ZERO;
        let mut nodes: alloc::vec::Vec<_> = (0..20).map(node).collect();
        let (hub, rest) = nodes.split_first_mut().unwrap();
        for n in rest.iter() {
            assert_eq!(hub.copy_view_from(now, n), 1);
        }
        for n in rest.iter_mut() {
            assert_eq!(n.copy_view_from(now, hub), 19, "the hub's 18 others and the hub");
            assert_eq!(n.copy_view_from(now, hub), 0, "nothing new the second time");
        }
        for n in &mut nodes {
            let mut names: alloc::vec::Vec<_> =
                n.members().iter().map(|m| (m.id.as_str().to_string(), m.state)).collect();
            names.sort();
            assert_eq!(names.len(), 20);
            assert!(names.iter().all(|(_, s)| *s == State::Alive));
            assert_eq!(n.members()[0].id.as_str(), n.local_node().id.as_str());
            let joins = core::iter::from_fn(|| n.poll_event()).count();
            assert_eq!(joins, 19, "one Join per other member");
        }
        // The copies probe everyone: run a period, each sends one ping.
        let mut buf = alloc::vec![0u8; 1400];
        let later = now + core::time::Duration::from_secs(2);
        let n = &mut nodes[5];
        n.handle_timeout(later);
        assert!(n.poll_transmit(later, &mut buf).is_some());
    }
}
