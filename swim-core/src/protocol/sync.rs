//! Joining and anti-entropy: the push-pull state exchange over TCP
//! (memberlist `state.go` `pushPull`, `net.go` `sendLocalState` /
//! `mergeRemoteState`), Serf's clocks carried in it, and memberlist's
//! protocol and delegate version check (`verifyProtocol`).

use super::{scale_frac, Delivery, PendingStream, StreamError, StreamRequest, Swim};
use crate::node::State;
use crate::protocol::hooks::{Candidate, MAX_APP_STATE};
use crate::protocol::members::{Member, WireAddr};
use crate::protocol::user::advance_clock;
use crate::time::{scale, Instant};
use crate::wire::{self, PushNodeState, PushPullHeader};
use alloc::string::ToString;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::RngCore;

/// memberlist's `pushPullScale`: above 32 members the interval grows with log2(n).
pub(super) fn push_pull_scale(interval: Duration, n: usize) -> Duration {
    if n <= 32 {
        return interval;
    }
    let mult = libm::ceil(libm::log2(n as f64) - libm::log2(32.0)) as u32 + 1;
    scale(interval, mult)
}

/// Anti-entropy beyond memberlist's periodic exchange, so that a member a
/// node missed is caught up in seconds rather than at the next periodic
/// push-pull (30 s to minutes): see [`Swim::joined_through`] and
/// [`Swim::catch_up_with`].
#[derive(Debug, Clone, Default)]
pub(super) struct CatchUp {
    /// A second exchange after a join, with a member other than the seed
    /// (whose address is kept), at this time.
    after_join: Option<(Instant, SocketAddr)>,
    /// No catch-up exchange before this: at most one per protocol interval.
    next_allowed: Instant,
}

impl CatchUp {
    /// When the post-join exchange is due, if one is planned.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.after_join.map(|(t, _)| t)
    }
}

impl<R: RngCore> Swim<R> {
    /// Starts joining through the node at `addr`: a push-pull state exchange
    /// over TCP. Carry out the returned request; the reply merges the cluster's
    /// state ([`handle_stream_reply`](Self::handle_stream_reply) reports success).
    /// The seed is remembered and tried again in the background whenever
    /// this node finds itself alone (see `Config::reconnect_interval`).
    pub fn join(&mut self, now: Instant, addr: SocketAddr) -> StreamRequest {
        self.note_seed(now, addr);
        self.ignore_old_events = true;
        self.push_pull_request(addr, true)
    }

    /// A full state exchange with the node at `addr` that is not a join:
    /// no second exchange follows it and `addr` is not remembered as a seed.
    /// For a driver that builds an already converged cluster (the
    /// simulator's warm start) or forces anti-entropy.
    pub fn sync_with(&mut self, _now: Instant, addr: SocketAddr) -> StreamRequest {
        self.push_pull_request(addr, false)
    }

    pub(super) fn push_pull_round(&mut self, now: Instant) {
        if self.cfg.push_pull_interval.is_zero() {
            self.next_push_pull = Instant::from_nanos(u64::MAX);
            return;
        }
        let n = self.num_live();
        self.next_push_pull = now + push_pull_scale(self.cfg.push_pull_interval, n);
        if !self.push_pull_armed {
            // The stagger is over; as memberlist, the first exchange comes one
            // (scaled) interval later, when the cluster size is known.
            self.push_pull_armed = true;
            return;
        }
        if self.leave.is_some() {
            return;
        }
        let picked = self.random_members(1, None, |m, _| m.state == State::Alive);
        if let Some(addr) = picked.first().and_then(|id| self.members.get(id)).map(Member::addr) {
            let req = self.push_pull_request(addr, false);
            self.stream_requests.push_back(req);
        }
    }

    pub(super) fn local_state(&mut self, join: bool) -> Vec<u8> {
        let mut app = Vec::new();
        if let Some(h) = self.hooks.as_mut() {
            h.local_state(join, &mut app);
            if app.len() > MAX_APP_STATE {
                self.metrics.hook_output_dropped += 1;
                app = Vec::new();
            }
        }
        // Serf's push/pull user state, so joiners (Serf agents included)
        // learn the event clock and vice versa.
        let mut user_state = Vec::new();
        crate::wire::serf::PushPullClocks {
            // Serf's member clock is the next free time; ours is the highest
            // seen, so one more (else a peer could reuse our highest).
            ltime: self.member_clock.saturating_add(1),
            event_ltime: self.dedup.time(),
            query_ltime: self.queries.next_time(),
        }
        .encode_state_with_app(&self.local_intents(), &self.dedup.buffered(), &app, &mut user_state);
        let header = PushPullHeader {
            nodes: (self.members.len() + 1) as u32,
            user_state_len: user_state.len() as u32,
            join,
        };
        let me = PushNodeState {
            name: self.name.as_str(),
            addr: self.wire_addr.ip_bytes(),
            port: self.addr.port(),
            meta: &self.meta,
            incarnation: self.incarnation,
            state: if self.leave.is_some() { State::Left } else { State::Alive }.to_wire(),
            vsn: &self.vsn,
        };
        let others = self.members.iter().map(|m| PushNodeState {
            name: m.id.as_str(),
            addr: m.ip_bytes(),
            port: m.port(),
            meta: m.meta(),
            incarnation: m.incarnation,
            state: m.state.to_wire(),
            vsn: m.vsn(),
        });
        let mut out = Vec::with_capacity((self.members.len() + 1) * 96 + 64);
        wire::encode_push_pull(&mut out, &header, core::iter::once(me).chain(others), &user_state);
        out
    }

    pub(super) fn push_pull_request(&mut self, addr: SocketAddr, join: bool) -> StreamRequest {
        let msg = self.local_state(join);
        self.stream_request(addr, &msg, PendingStream::PushPull { addr, join }, true)
    }

    /// Merges the state `msg` that `peer` sent. `fresh_join`: this node's
    /// own `join` completes, and the events before it are not replayed
    /// (Serf's join without `-replay`).
    pub(super) fn merge_remote(
        &mut self,
        now: Instant,
        msg: &[u8],
        peer: SocketAddr,
        fresh_join: bool,
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Result<usize, StreamError> {
        let mut r = wire::PushPullReader::new(msg)?;
        // Decoded once (the versions are checked before anything merges);
        // never more room than the message could really hold (a node entry
        // is over 32 bytes).
        let listed = (r.header().nodes as usize).min(msg.len() / 32);
        let mut nodes = Vec::with_capacity(listed);
        while let Some(n) = r.next_node()? {
            nodes.push(n);
        }
        self.verify_versions(&nodes)?;
        self.admit_partner(&nodes, peer)?;
        let join = r.header().join;
        // Room for the peer's view at once, without doubling slack.
        let total = listed.max(self.members.len());
        self.members.reserve_total(total);
        self.probe_order.reserve_exact(total.saturating_sub(self.probe_order.len()));
        for n in &nodes {
            match State::from_wire(n.state) {
                Some(State::Alive) => self.alive_node(
                    now,
                    &wire::Alive {
                        incarnation: n.incarnation,
                        node: n.name,
                        addr: n.addr,
                        port: n.port,
                        meta: n.meta,
                        vsn: n.vsn,
                    },
                    false,
                ),
                Some(State::Left) => self.dead_node(now, n.incarnation, n.name, n.name),
                // memberlist prefers to suspect what others think dead.
                Some(State::Dead) | Some(State::Suspect) => {
                    let me = self.name.clone();
                    self.suspect_node(now, n.incarnation, n.name, me.as_str());
                }
                None => self.metrics.dropped_invalid_member += 1,
            }
        }
        if let Ok(state) = r.user_state() {
            if let Ok(clocks) = crate::wire::serf::PushPullClocks::decode(state) {
                // Serf sends its clocks' next free times and witnesses each
                // minus one: no event or intent of that time was sent yet.
                let event_ok = clocks.event_ltime == 0 || self.dedup.witness(clocks.event_ltime - 1);
                let member_ok = advance_clock(&mut self.member_clock, clocks.ltime.saturating_sub(1));
                let query_ok = self.queries.witness_state(clocks.query_ltime, fresh_join);
                self.metrics.clock_jumps_refused +=
                    u64::from(!event_ok) + u64::from(!member_ok) + u64::from(!query_ok);
                if fresh_join && event_ok {
                    self.dedup.ignore_before(clocks.event_ltime);
                }
                self.merge_serf_state(state, peer, deliver);
            }
            self.merge_app_state(state, peer, join);
        }
        self.members.trim();
        let n = self.probe_order.len();
        if self.probe_order.capacity() > n + n / 8 + 16 {
            self.probe_order.shrink_to(n + n / 16 + 8);
        }
        self.metrics.push_pulls += 1;
        Ok(nodes.len())
    }

    /// The rest of Serf's push/pull state: buffered events replayed, then
    /// member intents applied (Serf's `MergeRemoteState`).
    fn merge_serf_state(&mut self, state: &[u8], peer: SocketAddr, deliver: &mut dyn FnMut(Delivery<'_>)) {
        let relay = self.members.by_addr(peer).map(|m| m.id.clone());
        let relay = relay.as_ref().map_or("", |n| n.as_str());
        let decoded = crate::wire::serf::PushPullClocks::decode_state(state, |ltime, name, payload| {
            self.replay_event((relay, peer), (ltime, name, payload), deliver)
        });
        if let Ok((_, intents)) = decoded {
            self.merge_intents(&intents);
        }
    }

    /// The exchange partner's own entry (the one advertising the address
    /// the exchange was with) must pass admission, or nothing of its state
    /// is merged — like memberlist's `NotifyMerge`, which refuses a whole
    /// state: a node joining a cluster it refuses learns why.
    fn admit_partner(
        &mut self,
        nodes: &[wire::PushNodeState<'_>],
        peer: SocketAddr,
    ) -> Result<(), StreamError> {
        let partner = nodes.iter().find(|n| {
            n.state == State::Alive.to_wire()
                && WireAddr::from_wire(n.addr, n.port).is_some_and(|a| a.socket_addr() == peer)
        });
        let Some(n) = partner else { return Ok(()) };
        if n.name == self.name.as_str() {
            return Ok(());
        }
        let known = self.members.get(n.name).filter(|m| m.state.is_live() && m.meta() == n.meta);
        if known.is_some_and(|m| m.addr() == peer) {
            return Ok(()); // admitted already, unchanged
        }
        let candidate = Candidate { name: n.name, addr: peer, meta: n.meta, incarnation: n.incarnation };
        self.admit(&candidate).map_err(|reason| StreamError::Refused { node: n.name.to_string(), reason })
    }

    /// Hands the application state in a peer's push-pull state to the hooks.
    fn merge_app_state(&mut self, state: &[u8], peer: SocketAddr, join: bool) {
        let Some(hooks) = self.hooks.as_mut() else { return };
        match crate::wire::serf::PushPullClocks::app_state(state) {
            Ok(Some(app)) if app.len() > MAX_APP_STATE => self.metrics.app_state_refused += 1,
            Ok(Some(app)) if !app.is_empty() => hooks.merge_remote_state(peer, app, join),
            _ => {}
        }
    }

    /// memberlist's `verifyProtocol`: every node's current protocol and
    /// delegate versions — this node's, and every member's here and in
    /// `remote` whatever its state — must lie in the range all *live* nodes
    /// accept. (Nodes that send no versions are skipped; memberlist always
    /// sends them.)
    pub(super) fn verify_versions(&self, remote: &[wire::PushNodeState<'_>]) -> Result<(), StreamError> {
        // Accepted range [lo, hi] of (protocol, delegate) over this node and
        // every live member; current versions seen [cur_lo, cur_hi] over all.
        let mut lo = [0u8; 2];
        let mut hi = [u8::MAX; 2];
        let mut cur_lo = [u8::MAX; 2];
        let mut cur_hi = [0u8; 2];
        let mut widen = |v: &[u8], alive: bool| {
            if v.len() >= 6 {
                if alive {
                    lo[0] = lo[0].max(v[0]);
                    hi[0] = hi[0].min(v[1]);
                    lo[1] = lo[1].max(v[3]);
                    hi[1] = hi[1].min(v[4]);
                }
                for (i, c) in [v[2], v[5]].into_iter().enumerate() {
                    cur_lo[i] = cur_lo[i].min(c);
                    cur_hi[i] = cur_hi[i].max(c);
                }
            }
        };
        widen(&self.vsn, true);
        for m in self.members.iter() {
            widen(m.vsn(), m.state == State::Alive);
        }
        for n in remote {
            widen(n.vsn, n.state == State::Alive.to_wire());
        }
        if (0..2).all(|i| cur_lo[i] >= lo[i] && cur_hi[i] <= hi[i]) {
            return Ok(());
        }
        // Someone is out of range: name the first.
        let check = |name: &str, v: &[u8]| -> Result<(), StreamError> {
            if v.len() < 6 {
                return Ok(());
            }
            for (i, (which, cur)) in [("protocol", v[2]), ("delegate", v[5])].into_iter().enumerate() {
                if cur < lo[i] || cur > hi[i] {
                    return Err(StreamError::IncompatibleVersions {
                        node: name.to_string(),
                        which,
                        version: cur,
                        range: (lo[i], hi[i]),
                    });
                }
            }
            Ok(())
        };
        for n in remote {
            check(n.name, n.vsn)?;
        }
        check(self.name.as_str(), &self.vsn)?;
        for m in self.members.iter() {
            check(m.id.as_str(), m.vsn())?;
        }
        Ok(())
    }

    /// A join through `seed` succeeded: plan a second exchange with another
    /// member shortly after. The joiner's view is the seed's, and a member
    /// the seed had not heard of yet (or missed) would otherwise stay unknown
    /// to the joiner until the periodic push-pull, which the rumour of its
    /// join has long stopped travelling by.
    pub(super) fn joined_through(&mut self, now: Instant, seed: SocketAddr) {
        let delay = self.cfg.gossip_interval + scale_frac(self.cfg.gossip_interval, self.rng.next_u32());
        self.catch_up.after_join = Some((now + delay, seed));
    }

    /// Runs the post-join exchange once it is due.
    pub(super) fn post_join_sync(&mut self, now: Instant) {
        let Some((at, seed)) = self.catch_up.after_join else { return };
        if now < at {
            return;
        }
        self.catch_up.after_join = None;
        if self.leave.is_some() {
            return;
        }
        let picked = self.random_members(1, None, |m, _| m.state == State::Alive && m.addr() != seed);
        if let Some(addr) = picked.first().and_then(|id| self.members.get(id)).map(Member::addr) {
            self.metrics.catch_up_exchanges += 1;
            let req = self.push_pull_request(addr, false);
            self.stream_requests.push_back(req);
        }
    }

    /// Evidence that this node's view lacks something `addr` knows (a ping
    /// from a member it does not know, or considers dead): exchange state
    /// with it, at most once per protocol interval.
    pub(super) fn catch_up_with(&mut self, now: Instant, addr: SocketAddr) {
        if self.leave.is_some() || now < self.catch_up.next_allowed || addr == self.addr {
            return;
        }
        self.catch_up.next_allowed = now + self.cfg.protocol_interval;
        self.metrics.catch_up_exchanges += 1;
        let req = self.push_pull_request(addr, false);
        self.stream_requests.push_back(req);
    }
}
