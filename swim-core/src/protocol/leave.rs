//! A graceful leave, in Serf's order (`serf.go` `Leave`, memberlist
//! `Leave`): Serf's leave intent spreads first, so Serf agents show this node
//! `left`, then memberlist's dead message about this node.

use super::{encode_vec, Swim};
use crate::protocol::dissemination::ItemId;
use crate::time::Instant;
use crate::wire::{self, Message};
use alloc::vec;
use rand_core::RngCore;

/// A graceful leave, in Serf's order: first Serf's leave intent spreads (so
/// Serf agents show this node `left`, not `failed`), then memberlist's dead
/// message about ourselves.
#[derive(Debug, Clone, Copy)]
pub(super) enum LeaveStage {
    Intent(ItemId),
    Dead(ItemId),
}

impl<R: RngCore> Swim<R> {
    /// Leaves gracefully and stops probing: gossips Serf's leave intent, then
    /// (once that has spread) memberlist's dead message about this node, the
    /// order Serf uses so that Serf agents show it `left`. Keep driving the
    /// node until [`leave_complete`](Self::leave_complete) (or a timeout),
    /// then stop it.
    pub fn leave(&mut self, now: Instant) {
        if self.leave.is_some() {
            return;
        }
        if let Some(p) = self.probe.take() {
            p.abandon(now);
        }
        self.member_clock = self.member_clock.saturating_add(1);
        let intent =
            crate::wire::serf::Leave { ltime: self.member_clock, node: self.name.as_str(), prune: false };
        let mut msg = vec![0u8; 32 + self.name.as_str().len()];
        let n = intent.encode(&mut msg).unwrap_or(0);
        msg.truncate(n);
        let id = self.gossip.push(None, msg);
        self.gossip.pin(id);
        self.leave = Some(LeaveStage::Intent(id));
        self.note_own_leave(self.member_clock);
    }

    /// Moves a leave on once its intent has been sent its full retransmit limit.
    pub(super) fn advance_leave(&mut self) {
        let Some(LeaveStage::Intent(intent)) = self.leave else { return };
        if self.gossip.contains(intent) && self.num_live() > 1 {
            return;
        }
        let name = self.name.clone();
        let msg = encode_vec(&Message::Dead(wire::Dead {
            incarnation: self.incarnation,
            node: name.as_str(),
            from: name.as_str(),
        }));
        let id = self.gossip.push(Some(name), msg);
        self.gossip.pin(id);
        self.leave = Some(LeaveStage::Dead(id));
    }

    /// Whether the leave messages have been gossiped their full retransmit
    /// limit (as memberlist and Serf wait for), or there is nobody to tell.
    pub fn leave_complete(&self) -> bool {
        match self.leave {
            None => false,
            Some(_) if self.num_live() == 1 => true,
            Some(LeaveStage::Intent(_)) => false,
            Some(LeaveStage::Dead(id)) => !self.gossip.contains(id),
        }
    }
}
