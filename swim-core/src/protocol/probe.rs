//! The failure detector (SWIM §3.1, §4.3; memberlist `state.go` `probe`,
//! `probeNode`): one member per protocol period in randomised round-robin
//! order, a direct ping, then `indirect_checks` indirect pings with nacks
//! (Lifeguard §4.2), then a TCP ping; relaying indirect pings for others.
//! A failed probe makes the target suspect ([`state`](super::state)).
//!
//! Every probe's outcome and round-trip time is kept, a bounded number of
//! them, for [`Swim::poll_probe_result`]: the drivers' `metrics` exporter
//! turns them into the probe round-trip histogram.

use super::{encode_vec, OutKind, PendingStream, Swim};
use crate::node::{NodeId, State};
use crate::protocol::hooks::MAX_ACK_PAYLOAD;
use crate::protocol::members::WireAddr;
use crate::protocol::transmit::AckPayload;
use crate::time::Instant;
use crate::trace::ProbeSpan;
use crate::wire::{self, Message};
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::RngCore;

/// Probe results kept for [`Swim::poll_probe_result`]; beyond that the
/// oldest is dropped (a reader polling every second never misses one at
/// memberlist's probe intervals).
pub const PROBE_RESULTS_CAPACITY: usize = 64;

/// How one probe of a member ended (see [`Swim::poll_probe_result`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeResult {
    /// The member probed.
    pub node: NodeId,
    /// From the probe's start (its direct ping queued; drivers send it at
    /// once) to its ack, or to giving up when it failed.
    pub rtt: Duration,
    /// Whether and how it was acked.
    pub outcome: ProbeOutcome,
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeOutcome {
    /// Acked within `probe_timeout`, before any indirect help.
    Direct,
    /// Acked over UDP after the indirect stage began: through a helper, or
    /// a late direct ack (they share the sequence number).
    Indirect,
    /// Acked over the TCP fallback ping (UDP to it is lost or blocked).
    Tcp,
    /// No ack in time: the member became suspect.
    Failed,
}

impl ProbeOutcome {
    /// A short name: `direct`, `indirect`, `tcp` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Direct => "direct",
            ProbeOutcome::Indirect => "indirect",
            ProbeOutcome::Tcp => "tcp",
            ProbeOutcome::Failed => "failed",
        }
    }

    /// Whether the member answered.
    pub fn is_acked(self) -> bool {
        self != ProbeOutcome::Failed
    }
}

/// Indirect probes relayed for others at once.
pub(super) const MAX_RELAYS: usize = 1024;

pub(super) fn socket_addr(ip: &[u8], port: u16) -> Option<SocketAddr> {
    WireAddr::from_wire(ip, port).map(|w| w.socket_addr())
}

#[derive(Debug, Clone)]
pub(super) enum ProbeStage {
    Direct { deadline: Instant },
    Indirect { deadline: Instant, expected_nacks: u32, nacks: u32 },
}

#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) target: NodeId,
    pub(super) seq: u32,
    pub(super) start: Instant,
    /// The target's incarnation when the probe started: a failed probe
    /// suspects that one (memberlist's `probeNode`), so a refutation that
    /// arrived meanwhile is not suspected again at once.
    pub(super) incarnation: u32,
    pub(super) stage: ProbeStage,
    /// The round's `tracing` span (a no-op without feature `std`).
    pub(super) span: ProbeSpan,
}

impl Probe {
    /// Ends a round that has no result (its target left the table, or this
    /// node is leaving): closes its span.
    pub(super) fn abandon(&self, now: Instant) {
        self.span.finish("abandoned", now.saturating_duration_since(self.start));
    }
}

/// How an ack reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckPath {
    /// A UDP ack: from the target, or relayed by a member that pinged it.
    Udp,
    /// The reply to a TCP fallback ping.
    Tcp,
}

#[derive(Debug, Clone)]
pub(super) struct Relay {
    pub(super) orig_seq: u32,
    pub(super) reply_to: SocketAddr,
    pub(super) nack: bool,
    pub(super) deadline: Instant,
}

pub(super) fn reply_addr(from: SocketAddr, ip: &[u8], port: u16) -> SocketAddr {
    if port != 0 {
        if let Some(a) = socket_addr(ip, port) {
            return a;
        }
    }
    from
}

impl<R: RngCore> Swim<R> {
    pub(super) fn expire_relays(&mut self, now: Instant) {
        // One pass (it restarted from the first relay for each expired one).
        let mut nacks = Vec::new();
        self.relays.retain(|_, r| {
            let live = r.deadline > now;
            if !live && r.nack {
                nacks.push((r.reply_to, r.orig_seq));
            }
            live
        });
        for (to, seq) in nacks {
            self.enqueue(to, OutKind::Nack { seq });
        }
    }

    pub(super) fn reset_probe_order(&mut self, now: Instant) {
        // Forget members dead or left for longer than gossip_to_the_dead_time.
        let keep = self.cfg.gossip_to_the_dead_time;
        let (suspicions, coordinates) = (&mut self.suspicions, &mut self.coordinates);
        self.members.retain(|m, since| {
            let forget = !m.state.is_live() && since.is_none_or(|t| now.saturating_duration_since(t) > keep);
            if forget {
                suspicions.remove(m.id.as_str());
                coordinates.forget(m.id.as_str());
            }
            !forget
        });
        self.probe_order.clear();
        self.probe_order.extend(0..self.members.len() as u32);
        for i in (1..self.probe_order.len()).rev() {
            let j = self.random_below(i + 1);
            self.probe_order.swap(i, j);
        }
        self.probe_index = 0;
    }

    pub(super) fn start_probe(&mut self, now: Instant) {
        // memberlist probes on a fixed ticker: local health lengthens a probe
        // that fails (its deadline), not the wait before the next one.
        self.next_probe = now + self.cfg.protocol_interval;
        if self.probe.is_some() {
            return;
        }
        let mut target = None;
        let mut visited = 0usize;
        while visited <= self.probe_order.len() {
            if self.probe_index >= self.probe_order.len() {
                self.reset_probe_order(now);
                if self.probe_order.is_empty() {
                    return;
                }
            }
            let slot = self.probe_order[self.probe_index];
            self.probe_index += 1;
            visited += 1;
            if let Some(m) = self.members.at(slot) {
                if m.state.is_live() {
                    target = Some((m.id.clone(), m.addr(), m.state, m.incarnation));
                    break;
                }
            }
        }
        let Some((id, addr, state, incarnation)) = target else { return };
        let seq = self.next_seq();
        self.metrics.probes += 1;
        // Buddy system: a suspect hears about its suspicion with the probe.
        let suspect = (state == State::Suspect && self.cfg.lifeguard_buddy_system).then_some(incarnation);
        self.enqueue(addr, OutKind::Ping { seq, target: id.clone(), suspect });
        let deadline = now + self.cfg.probe_timeout;
        let span = ProbeSpan::start(id.as_str(), seq);
        let stage = ProbeStage::Direct { deadline };
        self.probe = Some(Probe { target: id, seq, start: now, incarnation, stage, span });
    }

    pub(super) fn advance_probe(&mut self, now: Instant) {
        let Some(probe) = self.probe.clone() else { return };
        match probe.stage {
            ProbeStage::Direct { deadline } if now >= deadline => {
                let Some(m) = self.members.get(&probe.target) else {
                    probe.abandon(now);
                    self.probe = None;
                    return;
                };
                let (t_ip, t_pmax) = (m.wire_addr(), m.pmax());
                let t_addr = m.addr();
                self.metrics.indirect_probes += 1;
                let helpers =
                    self.random_members(self.cfg.indirect_checks, Some(probe.target.as_str()), |m, _| {
                        m.state == State::Alive
                    });
                let mut expected_nacks = 0;
                let tcp = self.cfg.tcp_fallback_probe && t_pmax >= 3;
                probe.span.indirect(helpers.len(), tcp);
                for h in helpers {
                    let Some(hm) = self.members.get(&h) else { continue };
                    let nack = hm.pmax() >= 4;
                    expected_nacks += nack as u32;
                    let to = hm.addr();
                    self.enqueue(
                        to,
                        OutKind::IndirectPing {
                            seq: probe.seq,
                            target: probe.target.clone(),
                            target_ip: t_ip,
                            nack,
                        },
                    );
                }
                if tcp {
                    let ping = encode_vec(&Message::Ping(wire::Ping {
                        seq_no: probe.seq,
                        node: probe.target.as_str(),
                        source_addr: self.wire_addr.ip_bytes(),
                        source_port: self.addr.port(),
                        source_node: self.name.as_str(),
                    }));
                    let req =
                        self.stream_request(t_addr, &ping, PendingStream::Ping { seq: probe.seq }, true);
                    self.stream_requests.push_back(req);
                }
                let deadline = probe.start + self.awareness.scale(self.cfg.protocol_interval);
                if let Some(p) = &mut self.probe {
                    p.stage = ProbeStage::Indirect { deadline, expected_nacks, nacks: 0 };
                }
            }
            ProbeStage::Indirect { deadline, expected_nacks, nacks } if now >= deadline => {
                self.probe = None;
                self.metrics.failed_probes += 1;
                self.end_probe(&probe, now, ProbeOutcome::Failed, &[]);
                let delta = if expected_nacks > 0 { expected_nacks.saturating_sub(nacks) as i32 } else { 1 };
                self.awareness.apply(delta);
                if let Some(m) = self.members.get(&probe.target) {
                    if m.state.is_live() {
                        let me = self.name.clone();
                        self.suspect_node(now, probe.incarnation, probe.target.as_str(), me.as_str());
                    }
                }
            }
            _ => {}
        }
    }

    /// Answers a ping meant for this node with an ack (to the address the
    /// ping gives, else to its sender).
    /// A ping from a member this node does not know, or thinks dead, means
    /// the two views differ: the pinger is caught up with (see
    /// [`catch_up_with`](Self::catch_up_with)).
    pub(super) fn handle_ping(&mut self, now: Instant, from: SocketAddr, p: &wire::Ping<'_>) {
        if !p.node.is_empty() && p.node != self.name.as_str() {
            self.metrics.dropped_wrong_node += 1;
            return;
        }
        let to = reply_addr(from, p.source_addr, p.source_port);
        let payload = self.ack_payload();
        self.enqueue(to, OutKind::Ack { seq: p.seq_no, payload });
        let source = p.source_node;
        if !source.is_empty()
            && source != self.name.as_str()
            && !self.members.get(source).is_some_and(|m| m.state.is_live())
        {
            self.catch_up_with(now, to);
        }
    }

    pub(super) fn handle_indirect_ping(
        &mut self,
        now: Instant,
        from: SocketAddr,
        ip: &wire::IndirectPing<'_>,
    ) {
        let Some(target) = socket_addr(ip.target, ip.port) else {
            self.metrics.dropped_invalid_member += 1;
            return;
        };
        if self.relays.len() >= MAX_RELAYS {
            self.metrics.relays_dropped += 1;
            return;
        }
        let seq = self.next_seq();
        let reply_to = reply_addr(from, ip.source_addr, ip.source_port);
        let deadline = now + self.cfg.probe_timeout;
        self.relays.insert(seq, Relay { orig_seq: ip.seq_no, reply_to, nack: ip.nack, deadline });
        self.enqueue(target, OutKind::Ping { seq, target: NodeId::from(ip.node), suspect: None });
    }

    pub(super) fn handle_ack(&mut self, now: Instant, seq: u32, path: AckPath, payload: &[u8]) {
        if let Some(r) = self.relays.remove(&seq) {
            // memberlist relays no payload either.
            self.enqueue(
                r.reply_to,
                OutKind::Ack { seq: r.orig_seq, payload: AckPayload::Bytes(Vec::new()) },
            );
            return;
        }
        if let Some(probe) = self.probe.take_if(|p| p.seq == seq) {
            self.awareness.apply(-1);
            let outcome = match (path, &probe.stage) {
                (AckPath::Tcp, _) => ProbeOutcome::Tcp,
                (AckPath::Udp, ProbeStage::Direct { .. }) => ProbeOutcome::Direct,
                (AckPath::Udp, ProbeStage::Indirect { .. }) => ProbeOutcome::Indirect,
            };
            self.end_probe(&probe, now, outcome, payload);
            return;
        }
        self.metrics.stale_acks += 1;
    }

    pub(super) fn handle_nack(&mut self, seq: u32) {
        if let Some(Probe { seq: s, stage: ProbeStage::Indirect { nacks, .. }, .. }) = &mut self.probe {
            if *s == seq {
                *nacks += 1;
                return;
            }
        }
        self.metrics.stale_acks += 1;
    }
}

impl<R: RngCore> Swim<R> {
    /// The next probe result, oldest first: which member was probed, how it
    /// ended and its round-trip time. Up to [`PROBE_RESULTS_CAPACITY`] are
    /// kept (the oldest dropped beyond), so a reader that polls now and then
    /// sees recent ones. With the drivers' `metrics` feature their exporter
    /// drains them (into `swim_probe_rtt_seconds`).
    pub fn poll_probe_result(&mut self) -> Option<ProbeResult> {
        self.probe_results.pop_front()
    }

    /// Ends a round with its outcome: closes its span and keeps the result.
    fn end_probe(&mut self, probe: &Probe, now: Instant, outcome: ProbeOutcome, payload: &[u8]) {
        let rtt = now.saturating_duration_since(probe.start);
        probe.span.finish(outcome.as_str(), rtt);
        if self.probe_results.len() >= PROBE_RESULTS_CAPACITY {
            self.probe_results.pop_front();
        }
        let result = ProbeResult { node: probe.target.clone(), rtt, outcome };
        // Serf updates coordinates from direct acks only.
        if self.cfg.coordinates && outcome == ProbeOutcome::Direct && !payload.is_empty() {
            self.observe_coordinate(&probe.target, rtt, payload);
        }
        if let Some(h) = self.hooks.as_mut() {
            h.probe_result(&result, payload);
        }
        self.probe_results.push_back(result);
    }

    /// The payload of an ack this node sends: its network coordinate with
    /// `Config::coordinates` (Serf's format), else the application's (empty
    /// without hooks, or when it is over [`MAX_ACK_PAYLOAD`]: then counted).
    /// The coordinate is written when the ack is encoded: no buffer per ack.
    fn ack_payload(&mut self) -> AckPayload {
        if self.cfg.coordinates {
            return AckPayload::Coordinate;
        }
        let mut out = Vec::new();
        if let Some(h) = self.hooks.as_mut() {
            h.ack_payload(&mut out);
            if out.len() > MAX_ACK_PAYLOAD {
                self.metrics.hook_output_dropped += 1;
                out = Vec::new();
            }
        }
        AckPayload::Bytes(out)
    }
}
