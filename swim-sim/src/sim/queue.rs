//! The event queue: what can happen ([`Ev`]), in which order (a binary heap
//! of [`Scheduled`] events by virtual time, ties in scheduling order),
//! scheduling an event, and each node's timer: when it wakes up next and
//! what a wake-up does.

use super::faults::Fault;
use super::nodes::Status;
use super::Sim;
use std::cmp::Ordering;
use std::time::Duration;
use swim_core::{Instant, StreamRequest};

pub(super) enum Ev {
    Wake { node: usize, gen: u32 },
    Datagram { from: usize, to: usize, data: Vec<u8> },
    StreamArrive { from: usize, from_gen: u32, to: usize, req: StreamRequest, deadline: Instant },
    StreamReply { to: usize, gen: u32, id: u64, data: Vec<u8>, deadline: Instant },
    StreamFail { node: usize, gen: u32, id: u64 },
    JoinRetry { node: usize, gen: u32 },
    Fault(Fault),
}

pub(super) struct Scheduled {
    pub(super) at: Instant,
    seq: u64,
    pub(super) ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

impl Sim {
    pub(super) fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled { at: at.max(self.now), seq: self.seq, ev });
    }

    /// Node `node`'s timer fires, unless the wake-up is stale (an older core,
    /// a rescheduled wake-up) or the node is not up.
    pub(super) fn on_wake(&mut self, node: usize, gen: u32) {
        let n = &mut self.nodes[node];
        if n.gen != gen || n.wake_at != Some(self.now) || n.status != Status::Up {
            return;
        }
        n.wake_at = None;
        let now = self.now;
        if let Some(s) = n.swim.as_mut() {
            if s.poll_timeout() <= now {
                s.handle_timeout(now);
            }
        }
        self.drain(node);
    }

    pub(super) fn reschedule(&mut self, i: usize) {
        let n = &self.nodes[i];
        if n.status != Status::Up {
            return;
        }
        let Some(s) = n.swim.as_ref() else { return };
        let mut t = s.poll_timeout();
        if t <= self.now {
            // The core wants to run again at once (e.g. right after a resume):
            // never spin in place.
            t = self.now + Duration::from_micros(1);
        }
        let t = t + n.slow;
        if n.wake_at.is_some_and(|w| w <= t && w > self.now) {
            return;
        }
        let gen = n.gen;
        self.nodes[i].wake_at = Some(t);
        self.push(t, Ev::Wake { node: i, gen });
    }
}
