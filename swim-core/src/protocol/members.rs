//! The member table: compact, because every node holds an entry for every
//! other node (a 10,000-node cluster is 10^8 entries across the cluster).
//!
//! Members live in one dense `Vec`; lookups by name and by address go
//! through hash tables of 4-byte slot numbers, keyed with a per-node random
//! seed so crafted names cannot degrade them. Names can be interned across
//! nodes (see [`Interner`]) and metadata is shared between members that
//! carry the same bytes.

use crate::node::{Node, NodeId, State};
use crate::time::Instant;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::BuildHasher;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use hashbrown::HashTable;

/// Turns names into shared [`NodeId`]s. A process that runs many nodes (the
/// simulator) gives them one interner so each name is stored once.
pub trait Interner: Send + Sync {
    /// The shared id for `name`.
    fn intern(&self, name: &str) -> NodeId;
}

/// The meaningful bytes of a stored IP: the first 4 of an IPv4 address.
fn ip_bytes(ip: &[u8; 16], v4: bool) -> &[u8] {
    if v4 {
        &ip[..4]
    } else {
        ip
    }
}

/// An address as memberlist sends it: raw IP bytes (4 or 16) and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WireAddr {
    ip: [u8; 16],
    port: u16,
    v4: bool,
}

impl WireAddr {
    /// From a socket address.
    pub fn of(addr: SocketAddr) -> Self {
        let mut ip = [0u8; 16];
        let v4 = match addr.ip() {
            IpAddr::V4(a) => {
                ip[..4].copy_from_slice(&a.octets());
                true
            }
            IpAddr::V6(a) => {
                ip = a.octets();
                false
            }
        };
        WireAddr { ip, port: addr.port(), v4 }
    }

    /// From memberlist's raw bytes; `None` unless they are 4 or 16 long.
    pub fn from_wire(ip: &[u8], port: u16) -> Option<Self> {
        let mut buf = [0u8; 16];
        let v4 = match ip.len() {
            4 => true,
            16 => false,
            _ => return None,
        };
        buf[..ip.len()].copy_from_slice(ip);
        Some(WireAddr { ip: buf, port, v4 })
    }

    /// The raw IP bytes (4 or 16).
    pub fn ip_bytes(&self) -> &[u8] {
        ip_bytes(&self.ip, self.v4)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// As a socket address. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// the 16-byte form Go may send for IPv4) is the IPv4 address, which an
    /// IPv4 socket can reach; its bytes are kept as received.
    pub fn socket_addr(&self) -> SocketAddr {
        let ip = if self.v4 {
            IpAddr::V4(Ipv4Addr::new(self.ip[0], self.ip[1], self.ip[2], self.ip[3]))
        } else {
            let v6 = Ipv6Addr::from(self.ip);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        };
        SocketAddr::new(ip, self.port)
    }
}

/// A member's metadata and protocol versions, shared by every member that
/// has the same ones (in a typical cluster, all of them).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Profile {
    pub meta: Arc<[u8]>,
    pub vsn: [u8; 6],
}

/// One member as the table keeps it (48 bytes plus shared name and profile;
/// when a member went down is kept aside, for the few that are).
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: NodeId,
    profile: Arc<Profile>,
    // The address, flattened so the fields pack with the rest.
    ip: [u8; 16],
    pub incarnation: u32,
    port: u16,
    v4: bool,
    pub state: State,
}

impl Member {
    pub fn new(id: NodeId, addr: WireAddr, profile: Arc<Profile>, incarnation: u32) -> Self {
        Member { id, profile, ip: addr.ip, incarnation, port: addr.port, v4: addr.v4, state: State::Alive }
    }

    /// The public view (reference-count bumps, no allocation).
    pub fn node(&self) -> Node {
        Node {
            id: self.id.clone(),
            addr: self.addr(),
            state: self.state,
            incarnation: self.incarnation,
            meta: self.profile.meta.clone(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.wire_addr().socket_addr()
    }

    /// The raw IP bytes (4 or 16), as memberlist sends them.
    pub fn ip_bytes(&self) -> &[u8] {
        ip_bytes(&self.ip, self.v4)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn wire_addr(&self) -> WireAddr {
        WireAddr { ip: self.ip, port: self.port, v4: self.v4 }
    }

    fn set_wire_addr(&mut self, a: WireAddr) {
        (self.ip, self.port, self.v4) = (a.ip, a.port, a.v4);
    }

    pub fn set_profile(&mut self, p: Arc<Profile>) {
        self.profile = p;
    }

    pub fn meta(&self) -> &[u8] {
        &self.profile.meta
    }

    pub fn vsn(&self) -> &[u8; 6] {
        &self.profile.vsn
    }

    pub fn pmax(&self) -> u8 {
        self.profile.vsn[1]
    }
}

/// All members but the local node.
#[derive(Clone)]
pub(crate) struct MemberTable {
    slots: Vec<Member>,
    /// Since when each dead or left member (by slot) has been so.
    down: BTreeMap<u32, Instant>,
    by_name: HashTable<u32>,
    by_addr: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl MemberTable {
    pub fn new(seed: u64) -> Self {
        MemberTable {
            slots: Vec::new(),
            down: BTreeMap::new(),
            by_name: HashTable::new(),
            by_addr: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    fn name_hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn addr_hash(&self, addr: &WireAddr) -> u64 {
        self.hasher.hash_one(addr)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn index<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> Option<u32> {
        let name = name.as_ref();
        let slots = &self.slots;
        self.by_name.find(self.name_hash(name), |&i| slots[i as usize].id.as_str() == name).copied()
    }

    pub fn get<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> Option<&Member> {
        self.index(name).map(|i| &self.slots[i as usize])
    }

    pub fn get_mut<Q: AsRef<str> + ?Sized>(&mut self, name: &Q) -> Option<&mut Member> {
        self.index(name).map(|i| &mut self.slots[i as usize])
    }

    pub fn at(&self, i: u32) -> Option<&Member> {
        self.slots.get(i as usize)
    }

    pub fn at_mut(&mut self, i: u32) -> Option<&mut Member> {
        self.slots.get_mut(i as usize)
    }

    /// When member `i` went dead or left (`None` while it is live).
    pub fn down_since(&self, i: u32) -> Option<Instant> {
        self.down.get(&i).copied()
    }

    /// Records member `name`'s state change at `now` (call after changing
    /// its state): remembered while it is dead or left.
    pub fn note_state(&mut self, name: &str, now: Instant) {
        let Some(i) = self.index(name) else { return };
        if self.slots[i as usize].state.is_live() {
            self.down.remove(&i);
        } else {
            self.down.insert(i, now);
        }
    }

    /// The member at `addr` (the latest to claim it).
    pub fn by_addr(&self, addr: SocketAddr) -> Option<&Member> {
        let w = WireAddr::of(addr);
        let slots = &self.slots;
        self.by_addr
            .find(self.addr_hash(&w), |&i| slots[i as usize].wire_addr() == w)
            .map(|&i| &slots[i as usize])
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Member> {
        self.slots.iter()
    }

    /// Makes room for `total` members in all (no doubling slack): a
    /// push-pull says how many members the peer knows.
    pub fn reserve_total(&mut self, total: usize) {
        let more = total.saturating_sub(self.slots.len());
        if more == 0 {
            return;
        }
        self.slots.reserve_exact(more);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_name.reserve(more, |&j| hasher.hash_one(slots[j as usize].id.as_str()));
        self.by_addr.reserve(more, |&j| hasher.hash_one(slots[j as usize].wire_addr()));
    }

    /// Gives back the slack that growth left (a table that doubled to take
    /// in a peer's view can be half empty): called after a state exchange,
    /// which costs O(n) anyway.
    pub fn trim(&mut self) {
        // Some room is left: the next member learned by gossip should not
        // cost a copy of the whole table.
        let n = self.slots.len();
        if self.slots.capacity() > n + n / 8 + 16 {
            self.slots.shrink_to(n + n / 16 + 8);
        }
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_name.shrink_to(n, |&j| hasher.hash_one(slots[j as usize].id.as_str()));
        self.by_addr.shrink_to(n, |&j| hasher.hash_one(slots[j as usize].wire_addr()));
    }

    /// Adds a member whose name is not in the table; returns its slot.
    pub fn insert(&mut self, m: Member) -> u32 {
        let i = self.slots.len() as u32;
        let (h, a) = (self.name_hash(m.id.as_str()), self.addr_hash(&m.wire_addr()));
        self.slots.push(m);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_name.insert_unique(h, i, |&j| hasher.hash_one(slots[j as usize].id.as_str()));
        self.claim_addr(i, a);
        i
    }

    /// Points `addr`'s entry at slot `i`, replacing any older claimant.
    fn claim_addr(&mut self, i: u32, hash: u64) {
        let (slots, hasher) = (&self.slots, &self.hasher);
        let w = slots[i as usize].wire_addr();
        match self.by_addr.find_mut(hash, |&j| slots[j as usize].wire_addr() == w) {
            Some(j) => *j = i,
            None => {
                self.by_addr.insert_unique(hash, i, |&j| hasher.hash_one(slots[j as usize].wire_addr()));
            }
        }
    }

    /// Moves member `name` to `addr`.
    pub fn set_addr(&mut self, name: &str, addr: WireAddr) {
        let Some(i) = self.index(name) else { return };
        let old = self.slots[i as usize].wire_addr();
        if old == addr {
            return;
        }
        let old_hash = self.addr_hash(&old);
        let slots = &self.slots;
        if let Ok(e) = self.by_addr.find_entry(old_hash, |&j| slots[j as usize].wire_addr() == old && j == i)
        {
            e.remove();
        }
        self.slots[i as usize].set_wire_addr(addr);
        let h = self.addr_hash(&addr);
        self.claim_addr(i, h);
    }

    /// Removes member `name` (the last slot moves into its place).
    pub fn remove(&mut self, name: &str) -> Option<Member> {
        let i = self.index(name)?;
        let last = (self.slots.len() - 1) as u32;
        let (h, a) = (self.name_hash(name), self.addr_hash(&self.slots[i as usize].wire_addr()));
        if let Ok(e) = self.by_name.find_entry(h, |&j| j == i) {
            e.remove();
        }
        if let Ok(e) = self.by_addr.find_entry(a, |&j| j == i) {
            e.remove();
        }
        self.down.remove(&i);
        if i != last {
            let moved = &self.slots[last as usize];
            let (h, a) = (self.name_hash(moved.id.as_str()), self.addr_hash(&moved.wire_addr()));
            if let Some(j) = self.by_name.find_mut(h, |&j| j == last) {
                *j = i;
            }
            if let Some(j) = self.by_addr.find_mut(a, |&j| j == last) {
                *j = i;
            }
            if let Some(t) = self.down.remove(&last) {
                self.down.insert(i, t);
            }
        }
        Some(self.slots.swap_remove(i as usize))
    }

    /// Keeps only the members `keep` accepts, given each member and when it
    /// went down (slots are renumbered).
    pub fn retain(&mut self, mut keep: impl FnMut(&Member, Option<Instant>) -> bool) {
        let before = self.slots.len();
        let down = core::mem::take(&mut self.down);
        let (mut old, mut new) = (0u32, 0u32);
        let kept = &mut self.down;
        self.slots.retain(|m| {
            let since = down.get(&old).copied();
            debug_assert!(since.is_some() || m.state.is_live(), "{} went down untimed", m.id);
            old += 1;
            let k = keep(m, since);
            if k {
                if let Some(t) = since {
                    kept.insert(new, t);
                }
                new += 1;
            }
            k
        });
        if self.slots.len() == before {
            return;
        }
        self.by_name.clear();
        self.by_addr.clear();
        for i in 0..self.slots.len() as u32 {
            let m = &self.slots[i as usize];
            let (h, a) = (self.name_hash(m.id.as_str()), self.addr_hash(&m.wire_addr()));
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.by_name.insert_unique(h, i, |&j| hasher.hash_one(slots[j as usize].id.as_str()));
            // Live members win an address over dead ones.
            let w = slots[i as usize].wire_addr();
            match self.by_addr.find_mut(a, |&j| slots[j as usize].wire_addr() == w) {
                Some(j) if !slots[*j as usize].state.is_live() => *j = i,
                Some(_) => {}
                None => {
                    self.by_addr.insert_unique(a, i, |&j| hasher.hash_one(slots[j as usize].wire_addr()));
                }
            }
        }
    }

    /// Heap bytes the table itself uses (slots and indexes; shared names and
    /// metadata not included).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Member>()
            + (self.by_name.capacity() + self.by_addr.capacity()) * (core::mem::size_of::<u32>() + 1)
            // A B-tree entry (key, value, node share), roughly.
            + self.down.len() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, port: u16) -> Member {
        let addr = WireAddr::of(SocketAddr::from(([127, 0, 0, 1], port)));
        let profile = Arc::new(Profile { meta: Arc::from(&[][..]), vsn: [1, 5, 2, 2, 5, 5] });
        Member::new(NodeId::from(name), addr, profile, 1)
    }

    #[test]
    fn addresses_round_trip_through_memberlist_encoding_as_4_or_16_bytes() {
        use crate::wire::{Alive, Message};
        for (addr, len) in [("127.0.0.1:7946", 4), ("[::1]:7946", 16), ("[fd00::1:2]:65535", 16)] {
            let addr: SocketAddr = addr.parse().unwrap();
            let w = WireAddr::of(addr);
            assert_eq!(w.ip_bytes().len(), len, "{addr}");
            // Through an alive message, as a Go node reads and writes it.
            let alive =
                Alive { incarnation: 1, node: "n", addr: w.ip_bytes(), port: w.port(), meta: &[], vsn: &[] };
            let mut buf = [0u8; 128];
            let n = Message::Alive(alive).encode(&mut buf).unwrap();
            let Ok(Message::Alive(back)) = Message::decode(&buf[..n]) else { panic!("decodes as alive") };
            let back = WireAddr::from_wire(back.addr, back.port).unwrap();
            assert_eq!((back, back.socket_addr()), (w, addr));
        }
        // Go may send an IPv4 address in its 16-byte form: reached over IPv4.
        let mapped = Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped().octets();
        let w = WireAddr::from_wire(&mapped, 7946).unwrap();
        assert_eq!(w.socket_addr(), SocketAddr::from(([10, 0, 0, 7], 7946)));
        assert_eq!(w.ip_bytes(), &mapped[..], "relayed as received");
        assert!(WireAddr::from_wire(&[1, 2, 3], 1).is_none());
    }

    #[test]
    fn lookups_follow_inserts_moves_and_removals() {
        let mut t = MemberTable::new(7);
        for i in 0..1000u16 {
            t.insert(m(&alloc::format!("n{i}"), 1000 + i));
        }
        assert_eq!(t.get("n500").unwrap().addr().port(), 1500);
        assert_eq!(t.by_addr(SocketAddr::from(([127, 0, 0, 1], 1500))).unwrap().id.as_str(), "n500");
        t.set_addr("n500", WireAddr::of(SocketAddr::from(([127, 0, 0, 1], 9999))));
        assert!(t.by_addr(SocketAddr::from(([127, 0, 0, 1], 1500))).is_none());
        assert_eq!(t.by_addr(SocketAddr::from(([127, 0, 0, 1], 9999))).unwrap().id.as_str(), "n500");
        t.get_mut("n3").unwrap().state = State::Dead;
        t.note_state("n3", Instant::from_nanos(5));
        t.get_mut("n7").unwrap().state = State::Left;
        t.note_state("n7", Instant::from_nanos(9));
        assert_eq!(t.down_since(t.index("n3").unwrap()), Some(Instant::from_nanos(5)));
        t.retain(|m, since| {
            assert_eq!(since.is_some(), !m.state.is_live());
            m.state != State::Dead
        });
        // Renumbered with the members.
        assert_eq!(t.down_since(t.index("n7").unwrap()), Some(Instant::from_nanos(9)));
        t.get_mut("n7").unwrap().state = State::Alive;
        t.note_state("n7", Instant::from_nanos(11));
        assert_eq!(t.down_since(t.index("n7").unwrap()), None);
        assert_eq!(t.len(), 999);
        assert!(t.get("n7").is_some());
        assert!(t.get("n3").is_none());
        assert_eq!(t.get("n999").unwrap().addr().port(), 1999);
        assert_eq!(t.by_addr(SocketAddr::from(([127, 0, 0, 1], 1999))).unwrap().id.as_str(), "n999");
    }

    #[test]
    fn remove_moves_the_last_member_and_keeps_lookups_right() {
        let mut t = MemberTable::new(5);
        for i in 0..100u16 {
            t.insert(m(&alloc::format!("n{i}"), 1000 + i));
        }
        t.get_mut("n99").unwrap().state = State::Dead;
        t.note_state("n99", Instant::from_nanos(3));
        let mut copy = t.clone();
        assert_eq!(copy.remove("n10").unwrap().id.as_str(), "n10");
        assert!(copy.remove("n10").is_none());
        assert_eq!(copy.len(), 99);
        assert!(copy.get("n10").is_none());
        assert!(copy.by_addr(SocketAddr::from(([127, 0, 0, 1], 1010))).is_none());
        // n99 moved into n10's slot, with its lookups and its time of death.
        let i = copy.index("n99").unwrap();
        assert_eq!(i, 10);
        assert_eq!(copy.down_since(i), Some(Instant::from_nanos(3)));
        assert_eq!(copy.by_addr(SocketAddr::from(([127, 0, 0, 1], 1099))).unwrap().id.as_str(), "n99");
        for k in (0..100u16).filter(|&k| k != 10) {
            assert_eq!(copy.get(&alloc::format!("n{k}")).unwrap().port(), 1000 + k);
        }
        assert_eq!(copy.remove("n99").unwrap().id.as_str(), "n99");
        assert_eq!(t.len(), 100, "the original is untouched");
    }

    #[test]
    fn trim_gives_back_the_slack_of_growth() {
        let mut t = MemberTable::new(3);
        t.reserve_total(600);
        for i in 0..1030u16 {
            t.insert(m(&alloc::format!("n{i}"), 1000 + i));
        }
        let grown = t.heap_bytes();
        t.trim();
        assert!(t.slots.capacity() <= 1030 + 1030 / 8 + 16, "{}", t.slots.capacity());
        assert!(t.heap_bytes() < grown, "{} < {grown}", t.heap_bytes());
        assert_eq!(t.get("n1029").unwrap().addr().port(), 2029);
        assert_eq!(t.by_addr(SocketAddr::from(([127, 0, 0, 1], 1500))).unwrap().id.as_str(), "n500");
    }

    #[test]
    fn an_entry_is_small() {
        assert!(core::mem::size_of::<Member>() <= 48, "{}", core::mem::size_of::<Member>());
        let v6: SocketAddr = "[::1]:7946".parse().unwrap();
        assert_eq!(WireAddr::of(v6).socket_addr(), v6);
        assert_eq!(WireAddr::from_wire(&[1, 2, 3], 1), None);
    }
}
