//! Reconnecting: failed members and `join` seeds are tried again, so that a
//! partition of any length heals and a node cut off from everyone finds its
//! way back — Serf's `reconnect` and `handleReap` (`serf/serf.go`), which
//! memberlist alone lacks, and Consul's `retry_join`.
//!
//! memberlist forgets a dead member after `gossip_to_the_dead_time`; after
//! that, nothing ever contacts it again, so two halves of a partition that
//! lasted longer stay apart for good. Here a member declared dead (not one
//! that left) is remembered for `reconnect_timeout`, and every
//! `reconnect_interval` a node exchanges state with a random one of them,
//! with probability `failed / live` as Serf does: at most one extra exchange
//! per interval per node, none in a healthy cluster. A node with no live
//! member left tries its failed members and its seeds sooner (one protocol
//! interval, doubling up to `reconnect_interval`).

use super::Swim;
use crate::node::NodeId;
use crate::time::Instant;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use hashbrown::HashMap;
use rand_core::RngCore;

/// Most failed members remembered; past it the one that failed first is
/// forgotten (counted in `Metrics::reconnect_forgotten`).
pub(super) const MAX_FAILED: usize = 8192;
/// Most `join` seeds remembered.
const MAX_SEEDS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Failed {
    addr: SocketAddr,
    since: Instant,
}

/// What the reconnect timer needs: failed members, seeds, and when to try next.
#[derive(Debug)]
pub(super) struct Reconnect {
    failed: HashMap<NodeId, Failed, foldhash::fast::FixedState>,
    /// Seeds given to `join`, and when.
    seeds: Vec<(SocketAddr, Instant)>,
    next: Instant,
    /// While alone: the wait before the next attempt (doubles).
    alone_backoff: Option<Duration>,
}

impl Reconnect {
    pub(super) fn new(first: Instant, seed: u64) -> Self {
        Reconnect {
            failed: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(seed)),
            seeds: Vec::new(),
            next: first,
            alone_backoff: None,
        }
    }

    /// When the reconnect timer fires next.
    pub(super) fn deadline(&self) -> Instant {
        self.next
    }

    /// How many failed members are remembered.
    pub(super) fn failed_len(&self) -> usize {
        self.failed.len()
    }
}

impl<R: RngCore> Swim<R> {
    /// Remembers a seed given to [`join`](Self::join).
    pub(super) fn note_seed(&mut self, now: Instant, addr: SocketAddr) {
        let seeds = &mut self.reconnect.seeds;
        if let Some(s) = seeds.iter_mut().find(|(a, _)| *a == addr) {
            s.1 = now;
        } else if seeds.len() < MAX_SEEDS {
            seeds.push((addr, now));
        }
    }

    /// A member was declared dead: remember it for reconnecting. If it was
    /// the last live one, the node is alone: try again soon.
    pub(super) fn note_failed(&mut self, now: Instant, id: &NodeId, addr: SocketAddr) {
        if self.cfg.reconnect_interval.is_zero() {
            return;
        }
        let failed = &mut self.reconnect.failed;
        if failed.len() >= MAX_FAILED && !failed.contains_key(id) {
            let oldest = failed.iter().min_by_key(|(_, f)| f.since).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                failed.remove(&k);
                self.metrics.reconnect_forgotten += 1;
            }
        }
        failed.insert(id.clone(), Failed { addr, since: now });
        if !self.members.iter().any(|m| m.state.is_live()) {
            let soon = now + self.cfg.protocol_interval;
            self.reconnect.next = self.reconnect.next.min(soon);
        }
    }

    /// A member is alive again (or joined): no longer failed.
    pub(super) fn note_rejoined(&mut self, id: &str) {
        if !self.reconnect.failed.is_empty() {
            self.reconnect.failed.remove(id);
        }
    }

    /// Failed members remembered for reconnecting.
    pub fn failed_members(&self) -> usize {
        self.reconnect.failed_len()
    }

    /// The reconnect timer: at most one state exchange with a failed member
    /// (or, while alone, a seed).
    pub(super) fn reconnect_round(&mut self, now: Instant) {
        let interval = self.cfg.reconnect_interval;
        if interval.is_zero() {
            self.reconnect.next = Instant::from_nanos(u64::MAX);
            return;
        }
        if now < self.reconnect.next {
            return;
        }
        let timeout = self.cfg.reconnect_timeout;
        let r = &mut self.reconnect;
        r.failed.retain(|_, f| now.saturating_duration_since(f.since) < timeout);
        r.seeds.retain(|(_, t)| now.saturating_duration_since(*t) < timeout);
        if self.leave.is_some() {
            self.reconnect.next = now + interval;
            return;
        }
        let alone = !self.members.iter().any(|m| m.state.is_live());
        let target = if alone {
            let wait = match self.reconnect.alone_backoff {
                None => self.cfg.protocol_interval,
                Some(b) => (b * 2).min(interval),
            };
            self.reconnect.alone_backoff = Some(wait);
            self.reconnect.next = now + wait;
            let (nf, ns) = (self.reconnect.failed.len(), self.reconnect.seeds.len());
            match self.random_below(nf + ns) {
                _ if nf + ns == 0 => None,
                i if i < nf => self.reconnect.failed.values().nth(i).map(|f| f.addr),
                i => Some(self.reconnect.seeds[i - nf].0),
            }
        } else {
            self.reconnect.alone_backoff = None;
            self.reconnect.next = now + interval;
            let nf = self.reconnect.failed.len();
            // Serf: try with probability failed / live, so a large cluster
            // with a few long-gone members does not keep dialling them.
            let live = self.num_live();
            let p = (nf as u64).saturating_mul(u64::from(u32::MAX)) / live.max(1) as u64;
            if nf == 0 || u64::from(self.rng.next_u32()) >= p {
                None
            } else {
                let i = self.random_below(nf);
                self.reconnect.failed.values().nth(i).map(|f| f.addr)
            }
        };
        if let Some(addr) = target {
            self.metrics.reconnects += 1;
            // Alone, it is a join again (a second exchange follows success).
            let req = self.push_pull_request(addr, alone);
            self.stream_requests.push_back(req);
        }
    }
}
