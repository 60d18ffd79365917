//! Dissemination (SWIM §4.1): the piggyback queue — memberlist's
//! transmit-limited broadcast queue (`broadcast.go`, `queue.go`) — and the
//! gossip rounds that send it to random members (`state.go` `gossip`).
//!
//! Each item is an encoded message (type byte + body) sent on outgoing packets
//! until it has gone out `limit` times. Items with fewer transmits go first,
//! newest first among equals. A membership item about node X replaces any older
//! item about X. The queue is bounded: past `max_depth` the oldest item is
//! dropped and counted.

use super::*;
use crate::node::NodeId;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::hash::BuildHasher;
use hashbrown::HashTable;

/// Items in a row that may fail to fit before a packet is taken as full.
pub const MAX_MISSES: usize = 8;

/// Bytes a part costs in a compound message besides its own (its u16 length).
pub const COMPOUND_PART_OVERHEAD: usize = 2;

/// Names a queued item (returned by [`GossipQueue::push`]); stays valid, and
/// never names another item, after the item is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemId {
    seq: u64,
    slot: u32,
}

#[derive(Debug)]
struct Item {
    seq: u64,
    transmits: u32,
    /// Transmits beyond the queue's limit this item gets (news of a member
    /// joining: see [`GossipQueue::push_news`]).
    extra: u32,
    /// Membership items are keyed by the node they are about; named
    /// broadcasts by their topic (`named`).
    about: Option<NodeId>,
    named: bool,
    msg: Vec<u8>,
}

/// A bounded, transmit-limited queue of gossip.
///
/// Items live in a slab; the send order is one ordered set of
/// `(transmits, newest first, slot)`, items about a node are found through a
/// hash table of slots, and the bound evicts from an arrival-order list
/// (entries of items already gone are skipped and compacted away).
#[derive(Debug)]
pub struct GossipQueue {
    slots: Vec<Option<Item>>,
    free: Vec<u32>,
    order: BTreeSet<(u32, Reverse<u64>, u32)>,
    by_node: HashTable<u32>,
    arrivals: VecDeque<(u64, u32)>,
    hasher: foldhash::fast::FixedState,
    len: usize,
    /// Bytes the queued items take in a compound message.
    bytes: usize,
    next_seq: u64,
    max_depth: usize,
    dropped: u64,
    /// An item the bound never evicts (a node's own leave message).
    pinned: Option<ItemId>,
    /// Buffers of items gone, for the next ones (see [`Self::spare_buffer`]).
    spare: Vec<Vec<u8>>,
}

/// Buffers kept for reuse (a burst of news replaces items as fast as it adds them).
const SPARE_BUFFERS: usize = 16;

impl GossipQueue {
    /// An empty queue holding at most `max_depth` items.
    pub fn new(max_depth: usize) -> Self {
        Self::with_seed(max_depth, 0)
    }

    /// An empty queue whose index of node names is keyed with `seed` (pass a
    /// random one where names come from the network).
    pub fn with_seed(max_depth: usize, seed: u64) -> Self {
        GossipQueue {
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeSet::new(),
            by_node: HashTable::new(),
            arrivals: VecDeque::new(),
            hasher: foldhash::fast::FixedState::with_seed(seed),
            len: 0,
            bytes: 0,
            next_seq: 0,
            max_depth: max_depth.max(1),
            dropped: 0,
            pinned: None,
            spare: Vec::new(),
        }
    }

    fn item(&self, id: ItemId) -> Option<&Item> {
        self.slots.get(id.slot as usize)?.as_ref().filter(|i| i.seq == id.seq)
    }

    fn key_slot(&self, named: bool, key: &str) -> Option<u32> {
        let slots = &self.slots;
        self.by_node
            .find(self.hasher.hash_one(key), |&j| {
                slots[j as usize]
                    .as_ref()
                    .filter(|i| i.named == named)
                    .and_then(|i| i.about.as_ref())
                    .is_some_and(|a| a.as_str() == key)
            })
            .copied()
    }

    /// Queues `msg`; when `about` is set, replaces the queued item about that node.
    /// Returns the item's id.
    pub fn push(&mut self, about: Option<NodeId>, msg: Vec<u8>) -> ItemId {
        self.push_news(about, msg, 0)
    }

    /// Like [`push`](Self::push), for news that must reach every node: the
    /// item is sent `extra` times more than the limit passed to
    /// [`drain_into`](Self::drain_into). With `limit` transmits per node,
    /// a node misses a rumour with probability about `e^-limit`; doubling it
    /// squares that.
    pub fn push_news(&mut self, about: Option<NodeId>, msg: Vec<u8>, extra: u32) -> ItemId {
        self.push_keyed(about, false, msg, extra)
    }

    /// Queues a named broadcast (memberlist's `NamedBroadcast`): replaces
    /// the queued one of the same `topic`, if any. Topics and member names
    /// are keys of their own: a topic never replaces news about a member.
    pub fn push_named(&mut self, topic: NodeId, msg: Vec<u8>) -> ItemId {
        self.push_keyed(Some(topic), true, msg, 0)
    }

    fn push_keyed(&mut self, about: Option<NodeId>, named: bool, msg: Vec<u8>, extra: u32) -> ItemId {
        if let Some(key) = &about {
            if let Some(old) = self.key_slot(named, key.as_str()) {
                self.remove_slot(old);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        if let Some(node) = &about {
            let h = self.hasher.hash_one(node.as_str());
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.by_node.insert_unique(h, slot, |&j| {
                hasher.hash_one(
                    slots[j as usize].as_ref().and_then(|i| i.about.as_ref()).map_or("", |a| a.as_str()),
                )
            });
        }
        self.bytes += msg.len() + COMPOUND_PART_OVERHEAD;
        self.slots[slot as usize] = Some(Item { seq, transmits: 0, extra, about, named, msg });
        self.order.insert((0, Reverse(seq), slot));
        self.arrivals.push_back((seq, slot));
        self.len += 1;
        while self.len > self.max_depth {
            if !self.evict_oldest() {
                break;
            }
        }
        if self.arrivals.len() > 2 * self.len + 64 {
            let slots = &self.slots;
            self.arrivals.retain(|&(q, s)| slots[s as usize].as_ref().is_some_and(|i| i.seq == q));
        }
        ItemId { seq, slot }
    }

    /// Drops the oldest item that is not pinned; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        let mut kept = None;
        let mut done = false;
        while let Some((seq, slot)) = self.arrivals.pop_front() {
            let id = ItemId { seq, slot };
            if self.item(id).is_none() {
                continue;
            }
            if Some(id) == self.pinned {
                kept = Some((seq, slot));
                continue;
            }
            self.remove_slot(slot);
            self.dropped += 1;
            done = true;
            break;
        }
        if let Some(k) = kept {
            self.arrivals.push_front(k);
        }
        done
    }

    /// Keeps item `id` out of reach of the queue bound until it is sent out.
    pub fn pin(&mut self, id: ItemId) {
        self.pinned = Some(id);
    }

    /// An empty buffer to encode the next item into (one of a gone item's
    /// when there is one: no allocation).
    pub fn spare_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    /// Frees `slot`, unlinking its item from the order and the name index.
    fn remove_slot(&mut self, slot: u32) {
        let Some(item) = self.slots.get_mut(slot as usize).and_then(Option::take) else { return };
        self.order.remove(&(item.transmits, Reverse(item.seq), slot));
        if let Some(node) = &item.about {
            let h = self.hasher.hash_one(node.as_str());
            if let Ok(e) = self.by_node.find_entry(h, |&j| j == slot) {
                e.remove();
            }
        }
        self.free.push(slot);
        self.len -= 1;
        self.bytes -= item.msg.len() + COMPOUND_PART_OVERHEAD;
        if self.spare.len() < SPARE_BUFFERS && item.msg.capacity() <= 1024 {
            let mut msg = item.msg;
            msg.clear();
            self.spare.push(msg);
        }
        if self.len == 0 && self.slots.len() > 64 {
            // Drained after a burst (a mass join): give the memory back, as
            // every node would otherwise keep its peak for good.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.arrivals = VecDeque::new();
            self.by_node = HashTable::new();
        }
    }

    /// Whether the item `id` is still queued.
    pub fn contains(&self, id: ItemId) -> bool {
        self.item(id).is_some()
    }

    /// How many times item `id` has been sent, if still queued.
    pub fn transmits(&self, id: ItemId) -> Option<u32> {
        self.item(id).map(|i| i.transmits)
    }

    /// How many items were ever pushed (a counter: it tells whether there
    /// is news since some earlier moment).
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the queued items take in a compound message (their lengths
    /// plus the per-part overhead).
    pub fn queued_bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        let mut sent: heapless::Vec<(u32, Reverse<u64>, u32), 256> = heapless::Vec::new();
        let mut misses = 0;
        for &key in self.order.iter() {
            if sent.len() >= max_items.min(256) || misses >= MAX_MISSES {
                break;
            }
            let Some(Some(item)) = self.slots.get(key.2 as usize) else { continue };
            if !take(&item.msg) {
                misses += 1;
                continue;
            }
            misses = 0;
            if sent.push(key).is_err() {
                break;
            }
        }
        for key in sent {
            let (t, seq, slot) = key;
            let Some(Some(item)) = self.slots.get_mut(slot as usize) else { continue };
            if t + 1 >= limit.saturating_add(item.extra) {
                self.remove_slot(slot);
                continue;
            }
            item.transmits = t + 1;
            self.order.remove(&key);
            self.order.insert((t + 1, seq, slot));
        }
    }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    // ceil(log10(n + 1)) is the number of decimal digits of n (0 for n = 0).
    mult.saturating_mul(n.checked_ilog10().map_or(0, |d| d + 1))
}

/// Fresh news is gossiped at once rather than at the next gossip tick, but
/// not more often than every `gossip_interval / EAGER_DIVISOR`.
pub(super) const EAGER_DIVISOR: u32 = 2;

/// A gossip round sends to up to this many times `gossip_nodes` members
/// while the queue holds more than one packet's worth (see
/// [`Swim::gossip_fanout`]).
pub(super) const MAX_BACKLOG_FANOUT: usize = 4;

/// When news was last gossiped early.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Eager {
    /// [`GossipQueue::pushed`] when the last round ran.
    seen: u64,
    pub(super) last: Instant,
}

impl<R: RngCore> Swim<R> {
    /// When an early gossip round is due: news was queued since the last
    /// round. memberlist waits for its next gossip tick at every hop (half an
    /// interval on average); forwarding news at once cuts a rumour's time to
    /// reach everyone without sending any item more often (the retransmit
    /// limit still bounds each), and a quiet cluster sends nothing more.
    pub(super) fn eager_gossip_deadline(&self) -> Option<Instant> {
        (self.gossip.pushed() != self.eager.seen && !self.gossip.is_empty())
            .then(|| self.eager.last + self.cfg.gossip_interval / EAGER_DIVISOR)
    }

    /// Runs the early gossip round once due.
    pub(super) fn eager_gossip(&mut self, now: Instant) {
        if self.eager_gossip_deadline().is_some_and(|t| t <= now) {
            self.eager.last = now;
            self.gossip_round(now);
        }
    }

    /// Members to gossip to this round: `gossip_nodes`, times the packets the
    /// queue needs to send each item once (at most [`MAX_BACKLOG_FANOUT`]).
    ///
    /// memberlist sends one packet to each of `gossip_nodes` members per
    /// round whatever is queued. During a burst of news (many joins at once)
    /// more arrives per round than one packet per target holds: every item
    /// then waits its turn behind fresher ones, each gets a few sends and
    /// stalls, and now and then a node misses a rumour for a second or more
    /// (the simulator's 100 sequential joins: 16 runs in 1,000 over three
    /// times the median). Sending to more members while there is a backlog
    /// keeps each item's pace as in a quiet cluster; no item is sent more
    /// than its retransmit limit, so the bytes are the same, only sooner.
    pub(super) fn gossip_fanout(&self) -> usize {
        let room = self.body_room(false).max(1);
        let packets = self.gossip.queued_bytes().div_ceil(room);
        self.cfg.gossip_nodes.saturating_mul(packets.clamp(1, MAX_BACKLOG_FANOUT))
    }

    pub(super) fn gossip_round(&mut self, now: Instant) {
        self.eager.seen = self.gossip.pushed();
        if self.gossip.is_empty() {
            return;
        }
        let dead_window = self.cfg.gossip_to_the_dead_time;
        let targets = self.random_members(self.gossip_fanout(), None, |m, since| {
            m.state.is_live()
                || (m.state == State::Dead
                    && since.is_some_and(|t| now.saturating_duration_since(t) < dead_window))
        });
        for id in targets {
            if let Some(m) = self.members.get(&id) {
                let to = m.addr();
                self.enqueue(to, OutKind::Gossip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::strategy::Strategy as _;

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
    fn queued_bytes_follow_pushes_replacements_and_sends() {
        let mut q = GossipQueue::new(10);
        let a = NodeId::from("a");
        q.push(Some(a.clone()), vec![0; 10]);
        q.push(None, vec![0; 5]);
        assert_eq!(q.queued_bytes(), 15 + 2 * COMPOUND_PART_OVERHEAD);
        q.push(Some(a), vec![0; 3]);
        assert_eq!(q.queued_bytes(), 8 + 2 * COMPOUND_PART_OVERHEAD);
        drain_all(&mut q, 1);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn a_named_broadcast_replaces_its_topic_only() {
        let mut q = GossipQueue::new(10);
        let a = NodeId::from("a");
        q.push(Some(a.clone()), vec![1]); // news about member "a"
        q.push_named(a.clone(), vec![2]); // topic "a": a key of its own
        q.push_named(NodeId::from("b"), vec![3]);
        q.push_named(a, vec![4]);
        assert_eq!(q.len(), 3);
        let mut got = drain_all(&mut q, 5);
        got.sort();
        assert_eq!(got, vec![vec![1], vec![3], vec![4]]);
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
        let big = q.push(None, vec![0; 100]);
        let small = q.push(None, vec![1; 10]);
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
        assert_eq!(q.transmits(big), Some(0));
        assert_eq!(q.transmits(small), Some(1));
    }
    /// The queue against a plain model: same items out, in the same order.
    #[derive(Debug, Clone)]
    enum Op {
        Push(Option<u8>, u8),
        Drain(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (proptest::option::of(0u8..6), 1u8..40).prop_map(|(a, l)| Op::Push(a, l)),
            1 => (0usize..120).prop_map(Op::Drain),
        ]
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_the_model(ops in proptest::collection::vec(op(), 0..200), depth in 1usize..12) {
            const LIMIT: u32 = 3;
            let mut q = GossipQueue::with_seed(depth, 9);
            // (seq, transmits, about, msg)
            let mut model: Vec<(u64, u32, Option<u8>, Vec<u8>)> = Vec::new();
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Push(about, len) => {
                        let msg: Vec<u8> = (0..len).map(|i| (seq as u8).wrapping_add(i)).collect();
                        q.push(about.map(|a| NodeId::from(alloc::format!("n{a}").as_str())), msg.clone());
                        if about.is_some() {
                            model.retain(|m| m.2 != about);
                        }
                        model.push((seq, 0, about, msg));
                        seq += 1;
                        while model.len() > depth {
                            let oldest = model.iter().enumerate().min_by_key(|(_, m)| m.0).map(|(i, _)| i).unwrap();
                            model.remove(oldest);
                        }
                    }
                    Op::Drain(room) => {
                        let mut got = Vec::new();
                        let mut left = room;
                        q.drain_into(LIMIT, 255, |m| {
                            if m.len() <= left {
                                left -= m.len();
                                got.push(m.to_vec());
                                true
                            } else {
                                false
                            }
                        });
                        model.sort_by_key(|m| (m.1, core::cmp::Reverse(m.0)));
                        let mut want = Vec::new();
                        let (mut left, mut misses) = (room, 0);
                        for m in model.iter_mut() {
                            if misses >= MAX_MISSES {
                                break;
                            }
                            if m.3.len() <= left {
                                left -= m.3.len();
                                want.push(m.3.clone());
                                m.1 += 1;
                                misses = 0;
                            } else {
                                misses += 1;
                            }
                        }
                        model.retain(|m| m.1 < LIMIT);
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                proptest::prop_assert_eq!(q.len(), model.len());
                let bytes: usize = model.iter().map(|m| m.3.len() + COMPOUND_PART_OVERHEAD).sum();
                proptest::prop_assert_eq!(q.queued_bytes(), bytes);
            }
        }
    }
    /// The queue's internal structures agree with each other.
    fn check_invariants(q: &GossipQueue) {
        let live: Vec<u32> = (0..q.slots.len() as u32).filter(|&s| q.slots[s as usize].is_some()).collect();
        assert_eq!((live.len(), q.order.len()), (q.len, q.len));
        for &s in &live {
            let it = q.slots[s as usize].as_ref().unwrap();
            assert!(q.order.contains(&(it.transmits, Reverse(it.seq), s)));
            assert!(q.arrivals.iter().any(|&(a, b)| a == it.seq && b == s), "arrival missing");
        }
        let mut free = q.free.clone();
        free.sort_unstable();
        free.dedup();
        assert_eq!(free.len(), q.free.len(), "a slot is free twice");
        assert!(free.iter().all(|&f| q.slots[f as usize].is_none()));
        assert_eq!(free.len() + live.len(), q.slots.len());
        let mut indexed: Vec<u32> = q.by_node.iter().copied().collect();
        indexed.sort_unstable();
        let about: Vec<u32> =
            live.iter().copied().filter(|&s| q.slots[s as usize].as_ref().unwrap().about.is_some()).collect();
        assert_eq!(indexed, about);
        assert!(q.arrivals.iter().zip(q.arrivals.iter().skip(1)).all(|(a, b)| a.0 < b.0));
    }

    #[test]
    fn a_drained_queue_gives_its_memory_back_and_ids_stay_unique() {
        let mut q = GossipQueue::new(1000);
        let old: Vec<ItemId> = (0..100u8)
            .map(|i| q.push(Some(NodeId::from(alloc::format!("n{i}").as_str())), vec![i]))
            .collect();
        assert_eq!(drain_all(&mut q, 1).len(), 100);
        assert!(q.is_empty() && q.slots.capacity() == 0 && q.by_node.capacity() == 0);
        let new = q.push(Some(NodeId::from("n0")), vec![7]);
        assert!(old.iter().all(|&id| !q.contains(id)) && q.contains(new));
        check_invariants(&q);
    }

    proptest::proptest! {
        /// Deep queues (past the reset threshold), pins, replacements,
        /// partial drains: the structures agree, the model agrees, and every
        /// id ever returned names its own item or nothing.
        #[test]
        fn invariants_hold_and_ids_never_alias(
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => (proptest::option::of(0u8..100), proptest::bool::weighted(0.05))
                        .prop_map(|(a, p)| (Some((a, p)), 0usize)),
                    1 => (0usize..300).prop_map(|n| (None, n)),
                ],
                0..300,
            ),
            depth in 1usize..150,
            limit in 1u32..4,
        ) {
            let mut q = GossipQueue::with_seed(depth, 7);
            // (seq, transmits, about)
            let mut model: Vec<(u64, u32, Option<u8>)> = Vec::new();
            let mut ids: Vec<(ItemId, u64)> = Vec::new();
            let mut pinned: Option<u64> = None;
            for (seq, op) in (0u64..).zip(ops) {
                match op {
                    (Some((about, pin)), _) => {
                        let id = q.push(about.map(|a| NodeId::from(alloc::format!("n{a}").as_str())), vec![seq as u8; 3]);
                        if about.is_some() {
                            model.retain(|m| m.2 != about);
                        }
                        model.push((seq, 0, about));
                        ids.push((id, seq));
                        while model.len() > depth {
                            let oldest = model.iter().enumerate().filter(|(_, m)| Some(m.0) != pinned)
                                .min_by_key(|(_, m)| m.0).map(|(i, _)| i);
                            let Some(i) = oldest else { break };
                            model.remove(i);
                        }
                        if pin {
                            q.pin(id);
                            pinned = Some(seq);
                        }
                    }
                    (None, n) => {
                        let mut got = Vec::new();
                        q.drain_into(limit, n, |m| {
                            got.push(m[0]);
                            true
                        });
                        model.sort_by_key(|m| (m.1, Reverse(m.0)));
                        let k = n.min(256).min(model.len());
                        let want: Vec<u8> = model[..k].iter().map(|m| m.0 as u8).collect();
                        model[..k].iter_mut().for_each(|m| m.1 += 1);
                        model.retain(|m| m.1 < limit);
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                check_invariants(&q);
                proptest::prop_assert_eq!(q.len(), model.len());
                for (id, s) in &ids {
                    let m = model.iter().find(|m| m.0 == *s);
                    proptest::prop_assert_eq!(q.transmits(*id), m.map(|m| m.1));
                }
            }
        }
    }
}
