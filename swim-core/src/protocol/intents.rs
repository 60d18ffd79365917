//! Serf's member intents (`serf.go` `handleNodeJoinIntent`,
//! `handleNodeLeaveIntent`, `broadcastJoin`; `delegate.go` `StatusLTimes` and
//! `LeftMembers` in the push/pull state): Lamport-timed join and leave
//! intents, which tell Serf agents whether a member *left* or *failed*.
//!
//! Like a Serf agent, a swim node keeps each member's last intent time,
//! gossips every new intent on (so a leave reaches agents however few they
//! are), refutes a leave intent naming it while it runs (`serf force-leave`
//! of a live node) with a join intent, announces its own join, and hands the
//! intent times and the members that left to every state exchange, whose
//! receiver applies them as Serf's `MergeRemoteState` does.

use super::*;
use crate::protocol::user::advance_clock;
use crate::wire::serf::{self, MemberIntents};

/// Members whose intent time is remembered, at most; past it the oldest is
/// let go (a bound on what forged names can cost).
pub const MAX_INTENTS: usize = 8192;

/// Each member's last join or leave intent time.
#[derive(Debug, Default)]
pub(super) struct Intents {
    status: BTreeMap<NodeId, u64>,
    /// The latest leave intent naming this node that it refuted.
    refuted: u64,
}

impl Intents {
    /// Records intent time `t` for `node`; true if it is newer than the one
    /// known (Serf acts on, and gossips on, only those). When the bound is
    /// reached, names `keep` rejects are let go first; if it is still
    /// reached, a new name is not recorded.
    fn record(&mut self, node: &str, t: u64, keep: impl Fn(&str) -> bool) -> bool {
        if let Some(cur) = self.status.get_mut(node) {
            if t <= *cur {
                return false;
            }
            *cur = t;
            return true;
        }
        if self.status.len() >= MAX_INTENTS {
            self.status.retain(|name, _| keep(name.as_str()));
            if self.status.len() >= MAX_INTENTS {
                return false;
            }
        }
        self.status.insert(NodeId::from(node), t);
        true
    }
}

impl<R: RngCore> Swim<R> {
    /// A Serf join or leave intent received as gossip (`body` is the user
    /// message after its type byte, starting with Serf's type).
    pub(super) fn handle_intent(&mut self, body: &[u8]) {
        let intent = match body.first() {
            Some(&serf::JOIN) => serf::Join::decode(body).map(|j| (false, j.ltime, j.node)),
            Some(&serf::LEAVE) => serf::Leave::decode(body).map(|l| (true, l.ltime, l.node)),
            _ => return,
        };
        let Ok((leave, ltime, node)) = intent else {
            self.metrics.dropped_malformed += 1;
            return;
        };
        if self.apply_intent(leave, ltime, node) {
            // Gossiped on exactly as received, as Serf does.
            let mut msg = Vec::with_capacity(body.len() + 1);
            msg.push(msg_type::USER);
            msg.extend_from_slice(body);
            self.gossip.push(None, msg);
            self.metrics.intents_relayed += 1;
        }
    }

    /// Serf's intent rules; true when the intent is new (then gossip it on).
    fn apply_intent(&mut self, leave: bool, ltime: u64, node: &str) -> bool {
        if !advance_clock(&mut self.member_clock, ltime) {
            self.metrics.clock_jumps_refused += 1;
            return false;
        }
        if leave && node == self.name.as_str() && self.leave.is_none() {
            // A leave intent naming this running node (`serf force-leave`,
            // or a replay of an old leave): refuted with a newer join
            // intent, once per intent. Serf refutes only an intent newer
            // than its own last one; but an agent that never got that join
            // intent (it was still spreading) takes an older leave intent
            // for news and would show this node `leaving` for ever.
            if ltime > self.intents.refuted {
                self.intents.refuted = ltime;
                self.metrics.leave_intents_refuted += 1;
                self.announce_join();
            }
            return false;
        }
        self.record_intent(node, ltime)
    }

    fn record_intent(&mut self, node: &str, ltime: u64) -> bool {
        let (me, members) = (self.name.as_str(), &self.members);
        self.intents.record(node, ltime, |n| n == me || members.get(n).is_some())
    }

    /// Gossips a join intent for this node at the next member-clock time
    /// (after its own join, and to refute a leave intent).
    pub(super) fn announce_join(&mut self) {
        self.member_clock = self.member_clock.saturating_add(1);
        let ltime = self.member_clock;
        let name = self.name.clone();
        self.record_intent(name.as_str(), ltime);
        let join = serf::Join { ltime, node: name.as_str() };
        let mut msg = alloc::vec![0u8; join.encoded_len()];
        let n = join.encode(&mut msg).unwrap_or(0);
        msg.truncate(n);
        self.gossip.push(None, msg);
    }

    /// Records this node's own leave intent time.
    pub(super) fn note_own_leave(&mut self, ltime: u64) {
        let name = self.name.clone();
        self.record_intent(name.as_str(), ltime);
    }

    /// The intent times of this node and the members it knows, and the
    /// members that left, for a push/pull state.
    pub(super) fn local_intents(&self) -> MemberIntents<'_> {
        let me = self.name.as_str();
        let status = self
            .intents
            .status
            .iter()
            .filter(|(name, _)| name.as_str() == me || self.members.get(name.as_str()).is_some())
            .map(|(name, t)| (name.as_str(), *t))
            .collect();
        let left = self.members.iter().filter(|m| m.state == State::Left).map(|m| m.id.as_str()).collect();
        MemberIntents { status, left }
    }

    /// Applies a peer's intent times as Serf's `MergeRemoteState` does: the
    /// members that left first (a leave intent one past their time), then a
    /// join intent for every other one. Nothing is gossiped on.
    pub(super) fn merge_intents(&mut self, remote: &MemberIntents<'_>) {
        let times: BTreeMap<&str, u64> = remote.status.iter().copied().collect();
        let left: alloc::collections::BTreeSet<&str> = remote.left.iter().copied().collect();
        for name in &left {
            let t = times.get(name).copied().unwrap_or(0);
            self.apply_intent(true, t.saturating_add(1), name);
        }
        for (name, t) in &times {
            if !left.contains(name) {
                self.apply_intent(false, *t, name);
            }
        }
    }
}
