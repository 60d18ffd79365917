//! Membership state rules: alive / suspect / dead / left precedence by
//! incarnation, refutation, and what each change tells the application —
//! memberlist's `state.go` (`aliveNode`, `suspectNode`, `deadNode`,
//! `refute`) and SWIM §4.2 (suspicion with incarnation numbers).

use super::{encode_vec, Event, OutKind, Swim, PROTOCOL_CUR, PROTOCOL_MIN};
use crate::config::META_MAX_SIZE;
use crate::node::{NodeId, State};
use crate::protocol::dissemination::retransmit_limit;
use crate::protocol::hooks::Candidate;
use crate::protocol::members::{Member, Profile, WireAddr};
use crate::protocol::suspicion::{suspicion_bounds, Suspicion};
use crate::time::Instant;
use crate::wire::{self, Message};
use alloc::sync::Arc;
use rand_core::RngCore;

/// Accusers answered in the last protocol interval, at most (see
/// `answer_accuser`).
pub(super) const MAX_ANSWERED: usize = 16;

/// The furthest an alive, suspect or dead message may move a known node's
/// incarnation ahead (2^24): an honest incarnation grows by one per
/// refutation. Beyond it the message is taken as forged or corrupt and
/// dropped — one suspect at `u32::MAX` would otherwise leave its subject
/// unable ever to refute (memberlist has no such bound; there, only
/// encryption keeps forged messages out, and it remains the real defence).
pub(super) const MAX_INCARNATION_JUMP: u32 = 1 << 24;

impl<R: RngCore> Swim<R> {
    /// This node's alive message at its current incarnation.
    pub(super) fn alive_self(&self) -> wire::Alive<'_> {
        wire::Alive {
            incarnation: self.incarnation,
            node: self.name.as_str(),
            addr: self.wire_addr.ip_bytes(),
            port: self.addr.port(),
            meta: &self.meta,
            vsn: &self.vsn,
        }
    }

    pub(super) fn queue_alive_self(&mut self) {
        let msg = encode_vec(&Message::Alive(self.alive_self()));
        let name = self.name.clone();
        self.gossip.push(Some(name), msg);
    }

    /// Whether `got` jumps too far past the `known` incarnation (then
    /// counted, and the message is to be dropped).
    fn incarnation_jump(&mut self, known: u32, got: u32) -> bool {
        let jump = got > known.saturating_add(MAX_INCARNATION_JUMP);
        self.metrics.incarnation_jumps_refused += u64::from(jump);
        jump
    }

    /// Whether a suspect or dead message about `node` at `incarnation`
    /// jumps too far past the incarnation known for it (this node's own, or
    /// a member's; unknown members are ignored later anyway).
    fn forged_incarnation(&mut self, node: &str, incarnation: u32) -> bool {
        let known = if node == self.name.as_str() {
            self.incarnation
        } else {
            self.members.get(node).map_or(u32::MAX, |m| m.incarnation)
        };
        self.incarnation_jump(known, incarnation)
    }

    pub(super) fn refute(&mut self, accused: u32) {
        self.incarnation = self.incarnation.max(accused).saturating_add(1);
        self.metrics.refutes += 1;
        self.awareness.apply(1);
        self.queue_alive_self();
    }

    /// `accuser` suspects this node, or declared it dead: besides gossiping
    /// the refutation, sends this node's current alive message straight to
    /// it — also when the accusation is older than this node's incarnation
    /// (the accuser has not heard the refutation yet, and its timer runs).
    /// At most once per accuser per protocol interval.
    ///
    /// memberlist only gossips a refutation; the accuser, whose timer started
    /// first, then often declares the node dead before the gossip reaches it.
    fn answer_accuser(&mut self, now: Instant, accuser: &str) {
        if accuser == self.name.as_str() || self.leave.is_some() || !self.cfg.direct_refutation {
            return;
        }
        let Some(addr) = self.members.get(accuser).filter(|m| m.state.is_live()).map(|m| m.addr()) else {
            return;
        };
        let interval = self.cfg.protocol_interval;
        self.answered.retain(|(_, t)| now.saturating_duration_since(*t) < interval);
        if self.answered.iter().any(|(a, _)| a.as_str() == accuser) || self.answered.len() >= MAX_ANSWERED {
            return;
        }
        self.answered.push((NodeId::from(accuser), now));
        self.metrics.refutations_sent_to_accusers += 1;
        self.enqueue(addr, OutKind::AliveSelf);
    }

    /// `gossiped`: it came as gossip, not in a push-pull state (see below).
    pub(super) fn alive_node(&mut self, now: Instant, a: &wire::Alive<'_>, gossiped: bool) {
        let Some(waddr) = WireAddr::from_wire(a.addr, a.port) else {
            self.metrics.dropped_invalid_member += 1;
            return;
        };
        let addr = waddr.socket_addr();
        let bad_vsn = a.vsn.len() >= 2 && (a.vsn[0] == 0 || a.vsn[1] == 0 || a.vsn[0] > a.vsn[1]);
        if bad_vsn || a.meta.len() > META_MAX_SIZE || a.node.is_empty() {
            self.metrics.dropped_invalid_member += 1;
            return;
        }
        let candidate = Candidate { name: a.node, addr, meta: a.meta, incarnation: a.incarnation };
        if a.node == self.name.as_str() {
            if addr != self.addr {
                // Another node uses our name (memberlist: a conflict, logged
                // and reported, never refuted — two nodes refuting each other
                // would raise their incarnations for ever).
                self.metrics.name_conflicts += 1;
                let me = self.local_node();
                self.notify_conflict(&me, &candidate);
                self.resolve_conflict(now);
                return;
            }
            if self.leave.is_some() || a.incarnation < self.incarnation {
                return;
            }
            if self.incarnation_jump(self.incarnation, a.incarnation) {
                return;
            }
            let same_vsn = a.vsn.is_empty() || *a.vsn == self.vsn;
            if a.incarnation == self.incarnation && *a.meta == *self.meta && same_vsn {
                return;
            }
            self.refute(a.incarnation);
            return;
        }
        let mut vsn = [PROTOCOL_MIN, PROTOCOL_CUR, PROTOCOL_CUR, 0, 0, 0];
        for (d, s) in vsn.iter_mut().zip(a.vsn.iter()) {
            *d = *s;
        }
        let event = match self.members.index(a.node) {
            // memberlist adds an unknown node as dead at incarnation 0 first,
            // so an alive at incarnation 0 never exceeds it: ignored.
            None if a.incarnation == 0 => return,
            None => {
                if self.admit(&candidate).is_err() {
                    return;
                }
                let id = match &self.interner {
                    Some(i) => i.intern(a.node),
                    None => NodeId::from(a.node),
                };
                let profile = self.share_profile(a.meta, vsn);
                let m = Member::new(id, waddr, profile, a.incarnation);
                let node = m.node();
                let slot = self.members.insert(m);
                // Insert at a random place in the rest of this probe round.
                self.probe_order.push(slot);
                let last = self.probe_order.len() - 1;
                let lo = self.probe_index.min(last);
                let j = lo + self.random_below(last - lo + 1);
                self.probe_order.swap(last, j);
                Event::Join(node)
            }
            Some(i) => {
                let since = self.members.down_since(i);
                let Some(m) = self.members.at_mut(i) else { return };
                // memberlist's rule: a name moves to another address only if
                // its member left, or died longer than the reclaim time ago.
                let reclaim = self.cfg.dead_node_reclaim_time;
                let can_reclaim =
                    !reclaim.is_zero() && since.is_some_and(|t| now.saturating_duration_since(t) > reclaim);
                let moves = m.wire_addr() != waddr;
                let updates_node =
                    moves && (m.state == State::Left || (m.state == State::Dead && can_reclaim));
                if moves && !updates_node {
                    // Another node claims this member's name: refuse it.
                    self.metrics.dropped_invalid_member += 1;
                    let known = m.node();
                    self.notify_conflict(&known, &candidate);
                    return;
                }
                if a.incarnation <= m.incarnation && !updates_node {
                    return;
                }
                if a.incarnation > m.incarnation.saturating_add(MAX_INCARNATION_JUMP) {
                    self.metrics.incarnation_jumps_refused += 1;
                    return;
                }
                let old_state = m.state;
                let meta_changed = m.meta() != a.meta;
                // Joining again, moving or changing tags: the application's
                // admission check (a refresh of an admitted member is not).
                if (moves || meta_changed || !old_state.is_live()) && self.admit(&candidate).is_err() {
                    return;
                }
                let Some(m) = self.members.at_mut(i) else { return };
                if a.vsn.is_empty() {
                    // No versions sent: keep the known ones (memberlist does).
                    vsn = *m.vsn();
                }
                let profile_changed = meta_changed || *m.vsn() != vsn;
                m.incarnation = a.incarnation;
                m.state = State::Alive;
                if !old_state.is_live() {
                    self.members.note_state(a.node, now);
                }
                if profile_changed {
                    let profile = self.share_profile(a.meta, vsn);
                    if let Some(m) = self.members.get_mut(a.node) {
                        m.set_profile(profile);
                    }
                }
                if moves {
                    self.members.set_addr(a.node, waddr);
                }
                let Some(node) = self.members.get(a.node).map(Member::node) else { return };
                self.suspicions.remove(a.node);
                match old_state {
                    State::Dead | State::Left => Event::Join(node),
                    State::Suspect if moves || meta_changed => {
                        // Back to alive, and changed: say both (memberlist
                        // notifies the update).
                        self.emit(Event::Alive(node.clone()));
                        Event::Update(node)
                    }
                    State::Suspect => Event::Alive(node),
                    State::Alive if moves || meta_changed => Event::Update(node),
                    State::Alive => {
                        self.regossip_alive(a, node.id, 0);
                        return;
                    }
                }
            }
        };
        let mut extra = 0;
        if let Event::Join(n) = &event {
            self.note_rejoined(n.id.as_str());
            // A member every node must learn of: its rumour may not die out
            // before it has reached them all (a node that misses it would
            // wait for the periodic push-pull). Not what a push-pull state
            // brought: that is mostly old news to everyone else (a joiner
            // learns the whole cluster at once).
            if gossiped {
                extra = retransmit_limit(self.cfg.retransmit_mult, self.members.len() + 1);
            }
        }
        self.regossip_alive(a, event.node().id.clone(), extra);
        self.emit(event);
    }

    /// A profile shared with the last member that had the same metadata and
    /// versions: in a typical cluster every member's are the same few bytes.
    pub(super) fn share_profile(&mut self, meta: &[u8], vsn: [u8; 6]) -> Arc<Profile> {
        if let Some(p) = &self.last_profile {
            if *p.meta == *meta && p.vsn == vsn {
                return p.clone();
            }
        }
        let meta = if *self.meta == *meta { self.meta.clone() } else { Arc::from(meta) };
        let p = Arc::new(Profile { meta, vsn });
        self.last_profile = Some(p.clone());
        p
    }

    /// Queues `a` (news about member `about`, already in the table) for gossip.
    pub(super) fn regossip_alive(&mut self, a: &wire::Alive<'_>, about: NodeId, extra: u32) {
        let mut msg = self.gossip.spare_buffer();
        msg.resize(a.max_encoded_len(), 0);
        let n = Message::Alive(*a).encode(&mut msg).unwrap_or(0);
        msg.truncate(n);
        self.gossip.push_news(Some(about), msg, extra);
    }

    pub(super) fn suspect_node(&mut self, now: Instant, incarnation: u32, node: &str, from: &str) {
        if self.forged_incarnation(node, incarnation) {
            return;
        }
        if node == self.name.as_str() {
            if self.leave.is_none() && incarnation >= self.incarnation {
                self.refute(incarnation);
            }
            self.answer_accuser(now, from);
            return;
        }
        let n = self.members.len() + 1;
        let Some(m) = self.members.get_mut(node) else { return };
        if incarnation < m.incarnation {
            return;
        }
        let id = m.id.clone();
        let msg = || encode_vec(&Message::Suspect(wire::Suspect { incarnation, node, from }));
        if let Some(s) = self.suspicions.get_mut(node) {
            if s.confirm(from) {
                self.gossip.push(Some(id), msg());
            }
            return;
        }
        if m.state != State::Alive {
            return;
        }
        m.incarnation = incarnation;
        m.state = State::Suspect;
        self.metrics.suspicions += 1;
        let node_copy = m.node();
        let addr = m.addr();
        let mult = self.cfg.suspicion_mult;
        let k =
            if n.saturating_sub(2) < mult.saturating_sub(2) as usize { 0 } else { mult.saturating_sub(2) };
        let (min, mut max) =
            suspicion_bounds(mult, self.cfg.suspicion_max_timeout_mult, n, self.cfg.protocol_interval);
        if !self.cfg.lifeguard_dynamic_suspicion {
            max = min; // a fixed timeout, whatever the confirmations
        }
        self.suspicions.insert(id.clone(), Suspicion::new(now, NodeId::from(from), k, min, max));
        self.gossip.push(Some(id.clone()), msg());
        if from == self.name.as_str() && self.cfg.lifeguard_buddy_system {
            // Tell the suspect first, so it can refute at once (buddy system).
            self.enqueue(addr, OutKind::Suspect { incarnation, node: id });
        }
        self.emit(Event::Suspect(node_copy));
    }

    pub(super) fn dead_node(&mut self, now: Instant, incarnation: u32, node: &str, from: &str) {
        if self.forged_incarnation(node, incarnation) {
            return;
        }
        if node == self.name.as_str() {
            if self.leave.is_none() && incarnation >= self.incarnation {
                self.refute(incarnation);
            }
            self.answer_accuser(now, from);
            return;
        }
        let Some(m) = self.members.get_mut(node) else { return };
        if incarnation < m.incarnation || !m.state.is_live() {
            return;
        }
        m.incarnation = incarnation;
        m.state = if node == from { State::Left } else { State::Dead };
        let copy = m.node();
        self.members.note_state(node, now);
        self.suspicions.remove(node);
        if let Some(p) = self.probe.take_if(|p| p.target.as_str() == node) {
            p.abandon(now);
        }
        let msg = encode_vec(&Message::Dead(wire::Dead { incarnation, node, from }));
        self.gossip.push(Some(copy.id.clone()), msg);
        if copy.state == State::Dead {
            self.note_failed(now, &copy.id, copy.addr);
        }
        self.emit(Event::Leave(copy));
    }
}
