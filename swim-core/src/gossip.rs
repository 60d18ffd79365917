//! The piggyback queue: memberlist's transmit-limited broadcast queue.
//!
//! Each item is an encoded message (type byte + body) sent on outgoing packets
//! until it has gone out `limit` times. Items with fewer transmits go first,
//! newest first among equals. A membership item about node X replaces any older
//! item about X. The queue is bounded: past `max_depth` the oldest item is
//! dropped and counted.

use crate::node::NodeId;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::cmp::Reverse;

/// Items in a row that may fail to fit before a packet is taken as full.
pub const MAX_MISSES: usize = 8;

/// Bytes a part costs in a compound message besides its own (its u16 length).
pub const COMPOUND_PART_OVERHEAD: usize = 2;

#[derive(Debug)]
struct Item {
    transmits: u32,
    /// Membership items are keyed by the node they are about.
    about: Option<NodeId>,
    msg: Vec<u8>,
}

/// A bounded, transmit-limited queue of gossip.
#[derive(Debug)]
pub struct GossipQueue {
    items: BTreeMap<u64, Item>,
    order: BTreeSet<(u32, Reverse<u64>)>,
    by_node: BTreeMap<NodeId, u64>,
    next_id: u64,
    max_depth: usize,
    dropped: u64,
    /// An item the bound never evicts (a node's own leave message).
    pinned: Option<u64>,
}

impl GossipQueue {
    /// An empty queue holding at most `max_depth` items.
    pub fn new(max_depth: usize) -> Self {
        GossipQueue {
            items: BTreeMap::new(),
            order: BTreeSet::new(),
            by_node: BTreeMap::new(),
            next_id: 0,
            max_depth: max_depth.max(1),
            dropped: 0,
            pinned: None,
        }
    }

    /// Queues `msg`; when `about` is set, replaces the queued item about that node.
    /// Returns the item's id.
    pub fn push(&mut self, about: Option<NodeId>, msg: Vec<u8>) -> u64 {
        if let Some(node) = &about {
            if let Some(old) = self.by_node.get(node).copied() {
                self.remove(old);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Some(node) = &about {
            self.by_node.insert(node.clone(), id);
        }
        self.order.insert((0, Reverse(id)));
        self.items.insert(id, Item { transmits: 0, about, msg });
        while self.items.len() > self.max_depth {
            let pinned = self.pinned;
            let Some(&oldest) = self.items.keys().find(|&&k| Some(k) != pinned) else { break };
            self.remove(oldest);
            self.dropped += 1;
        }
        id
    }

    /// Keeps item `id` out of reach of the queue bound until it is sent out.
    pub fn pin(&mut self, id: u64) {
        self.pinned = Some(id);
    }

    fn remove(&mut self, id: u64) -> Option<Item> {
        let item = self.items.remove(&id)?;
        self.order.remove(&(item.transmits, Reverse(id)));
        if let Some(node) = &item.about {
            if self.by_node.get(node) == Some(&id) {
                self.by_node.remove(node);
            }
        }
        Some(item)
    }

    /// Whether the item `id` is still queued.
    pub fn contains(&self, id: u64) -> bool {
        self.items.contains_key(&id)
    }

    /// How many times item `id` has been sent, if still queued.
    pub fn transmits(&self, id: u64) -> Option<u32> {
        self.items.get(&id).map(|i| i.transmits)
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hands items to `take` while they fit: `take(msg)` returns false when
    /// `msg` did not fit (the item stays queued, untouched) and true when it was
    /// sent. Sent items count one transmit; those reaching `limit` are removed.
    /// Takes at most `max_items` items, and stops looking after
    /// [`MAX_MISSES`] items in a row did not fit: a full packet must not cost
    /// a scan of the whole queue (after a mass join it holds thousands).
    pub fn drain_into(&mut self, limit: u32, max_items: usize, mut take: impl FnMut(&[u8]) -> bool) {
        let mut sent: heapless::Vec<u64, 256> = heapless::Vec::new();
        let mut misses = 0;
        for &(_, Reverse(id)) in self.order.iter() {
            if sent.len() >= max_items.min(256) || misses >= MAX_MISSES {
                break;
            }
            let Some(item) = self.items.get(&id) else { continue };
            if !take(&item.msg) {
                misses += 1;
                continue;
            }
            misses = 0;
            if sent.push(id).is_err() {
                break;
            }
        }
        for id in sent {
            let Some(mut item) = self.remove(id) else { continue };
            item.transmits += 1;
            if item.transmits < limit {
                self.order.insert((item.transmits, Reverse(id)));
                if let Some(node) = &item.about {
                    self.by_node.insert(node.clone(), id);
                }
                self.items.insert(id, item);
            }
        }
    }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    let mut digits = 0u32;
    let mut v = n.saturating_add(1);
    // ceil(log10(v)): the number of decimal digits of v - 1, for v >= 2.
    let mut p = 1usize;
    while p < v {
        digits += 1;
        match p.checked_mul(10) {
            Some(next) => p = next,
            None => break,
        }
    }
    v = digits as usize;
    mult.saturating_mul(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn drain_all(q: &mut GossipQueue, limit: u32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        q.drain_into(limit, 255, |m| {
            out.push(m.to_vec());
            true
        });
        out
    }

    #[test]
    fn limit_grows_with_log_n() {
        assert_eq!(retransmit_limit(4, 0), 0);
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 100), 12);
        assert_eq!(retransmit_limit(4, 10_000), 20);
    }

    #[test]
    fn items_go_out_limit_times_fewest_transmits_first() {
        let mut q = GossipQueue::new(10);
        q.push(None, vec![1]);
        assert_eq!(drain_all(&mut q, 2), vec![vec![1]]);
        q.push(None, vec![2]);
        // The new item (0 transmits) goes before the old one (1 transmit).
        assert_eq!(drain_all(&mut q, 2), vec![vec![2], vec![1]]);
        assert_eq!(drain_all(&mut q, 2), vec![vec![2]]);
        assert!(q.is_empty());
    }

    #[test]
    fn newer_news_about_a_node_replaces_older() {
        let mut q = GossipQueue::new(10);
        let a = NodeId::from("a");
        q.push(Some(a.clone()), vec![1]);
        q.push(Some(NodeId::from("b")), vec![2]);
        q.push(Some(a), vec![3]);
        assert_eq!(q.len(), 2);
        assert_eq!(drain_all(&mut q, 5), vec![vec![3], vec![2]]);
    }

    #[test]
    fn full_queue_drops_the_oldest_and_counts() {
        let mut q = GossipQueue::new(3);
        for i in 0..5u8 {
            q.push(None, vec![i]);
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.dropped(), 2);
        assert_eq!(drain_all(&mut q, 5), vec![vec![4], vec![3], vec![2]]);
    }

    #[test]
    fn a_full_packet_does_not_scan_the_whole_queue() {
        let mut q = GossipQueue::new(10_000);
        for i in 0..10_000u32 {
            q.push(None, i.to_be_bytes().to_vec());
        }
        let mut looked = 0;
        let mut room = 12usize;
        q.drain_into(5, 255, |m| {
            looked += 1;
            if m.len() <= room {
                room -= m.len();
                true
            } else {
                false
            }
        });
        assert_eq!(room, 0);
        assert_eq!(looked, 3 + MAX_MISSES, "three fit, then it gave up");
    }

    #[test]
    fn a_pinned_item_is_never_evicted() {
        let mut q = GossipQueue::new(2);
        let leave = q.push(None, vec![9]);
        q.pin(leave);
        for i in 0..5u8 {
            q.push(None, vec![i]);
        }
        assert!(q.contains(leave));
        assert_eq!(q.len(), 2);
        assert_eq!(q.dropped(), 4);
    }

    #[test]
    fn items_that_do_not_fit_stay() {
        let mut q = GossipQueue::new(10);
        q.push(None, vec![0; 100]);
        q.push(None, vec![1; 10]);
        let mut room = 50usize;
        let mut got = Vec::new();
        q.drain_into(3, 255, |m| {
            if m.len() <= room {
                room -= m.len();
                got.push(m[0]);
                true
            } else {
                false
            }
        });
        assert_eq!(got, vec![1]);
        assert_eq!(q.len(), 2);
        assert_eq!(q.transmits(0), Some(0));
        assert_eq!(q.transmits(1), Some(1));
    }
}
