//! Outgoing datagrams: the queue of pings, acks, nacks and suspect notices
//! waiting for [`Swim::poll_transmit`], each encoded with queued gossip
//! piggybacked (SWIM §4.1) into a compound message, then sealed (label,
//! encryption, CRC, compression) — memberlist's `sendMsg` / `rawSendMsgPacket`.

use super::{shrink_idle, Swim, Transmit};
use crate::metrics::MessageCounts;
use crate::node::NodeId;
use crate::protocol::dissemination::retransmit_limit;
use crate::protocol::members::WireAddr;
use crate::time::Instant;
use crate::wire::crypto::{Keyring, TAG_LEN};
use crate::wire::packet::{self, Layers};
use crate::wire::{self, msg_type, CompoundBuilder, Message};
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use rand_core::RngCore;

#[derive(Debug, Clone)]
pub(super) enum OutKind {
    Ping {
        seq: u32,
        target: NodeId,
        suspect: Option<u32>,
    },
    IndirectPing {
        seq: u32,
        target: NodeId,
        target_ip: WireAddr,
        nack: bool,
    },
    Ack {
        seq: u32,
        payload: AckPayload,
    },
    Nack {
        seq: u32,
    },
    Suspect {
        incarnation: u32,
        node: NodeId,
    },
    /// This node's own alive message (a refutation sent to an accuser).
    AliveSelf,
    /// A whole encoded message (a Serf query response or relay).
    User(Vec<u8>),
    Gossip,
}

/// What an ack carries.
#[derive(Debug, Clone)]
pub(super) enum AckPayload {
    /// This node's network coordinate (Serf's format), written as the ack
    /// is encoded.
    Coordinate,
    /// From `Hooks::ack_payload` (empty: none).
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    pub(super) to: SocketAddr,
    pub(super) crc: bool,
    pub(super) kind: OutKind,
}

pub(super) fn push_msg(b: &mut CompoundBuilder<'_>, m: &Message<'_>) -> bool {
    // The builder bounds the room itself: no measuring pass per message.
    b.push_with(usize::MAX, |out| m.encode(out)).is_ok()
}

pub(super) fn encode_vec(m: &Message<'_>) -> Vec<u8> {
    let mut v = vec![0u8; m.encoded_len()];
    let n = m.encode(&mut v).unwrap_or(0);
    v.truncate(n);
    v
}

impl<R: RngCore> Swim<R> {
    /// Encodes the next datagram into `buf` (which should hold
    /// `udp_buffer_size` bytes) and says where to send it; `None` when there
    /// is nothing to send. Queued gossip is piggybacked. Allocates nothing
    /// unless compression is on.
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.yielded {
            self.outgoing.clear();
            return None;
        }
        while let Some(out) = self.outgoing.pop_front() {
            if let Some(t) = self.encode_outgoing(out, buf) {
                self.metrics.packets_sent += 1;
                self.metrics.bytes_sent += t.len as u64;
                return Some(t);
            }
        }
        shrink_idle(&mut self.outgoing);
        None
    }

    pub(super) fn layers(&self) -> Layers<'_> {
        Layers {
            label: self.cfg.label.as_bytes(),
            keyring: self.keyring.as_ref(),
            verify_incoming: self.cfg.gossip_verify_incoming,
        }
    }

    /// The keyring outgoing packets and streams are encrypted with: none
    /// while `gossip_verify_outgoing` is off (a roll-out of encryption).
    pub(super) fn seal_keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref().filter(|_| self.cfg.gossip_verify_outgoing)
    }

    pub(super) fn nonce(&mut self) -> [u8; 12] {
        let mut n = [0u8; 12];
        self.rng.fill_bytes(&mut n);
        n
    }

    /// Bytes available for the message itself in a datagram.
    pub(super) fn body_room(&self, crc: bool) -> usize {
        let layers = self.layers();
        let tag = if self.keyring.is_some() { TAG_LEN } else { 0 };
        self.cfg.udp_buffer_size.saturating_sub(packet::header_room(&layers, crc) + tag)
    }

    pub(super) fn encode_outgoing(&mut self, out: Outgoing, buf: &mut [u8]) -> Option<Transmit> {
        let limit = retransmit_limit(self.cfg.retransmit_mult, self.members.len() + 1);
        let nonce = self.nonce();
        let layers = Layers {
            label: self.cfg.label.as_bytes(),
            // seal_keyring(), borrowing only these fields (the gossip queue is drained below).
            keyring: self.keyring.as_ref().filter(|_| self.cfg.gossip_verify_outgoing),
            verify_incoming: true,
        };
        let room = packet::header_room(&layers, out.crc);
        let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
        let end = self.cfg.udp_buffer_size.min(buf.len()).checked_sub(tag)?;
        if end <= room {
            return None;
        }
        let name = self.name.as_str();
        let (src_ip, src_port) = (self.wire_addr.ip_bytes(), self.addr.port());
        let mut b = CompoundBuilder::new(&mut buf[room..end]);
        let first = match &out.kind {
            OutKind::Ping { seq, target, suspect } => {
                let ping = Message::Ping(wire::Ping {
                    seq_no: *seq,
                    node: target.as_str(),
                    source_addr: src_ip,
                    source_port: src_port,
                    source_node: name,
                });
                let r = push_msg(&mut b, &ping);
                if let Some(incarnation) = suspect {
                    let s = Message::Suspect(wire::Suspect {
                        incarnation: *incarnation,
                        node: target.as_str(),
                        from: name,
                    });
                    let _ = push_msg(&mut b, &s);
                }
                r
            }
            OutKind::IndirectPing { seq, target, target_ip, nack } => push_msg(
                &mut b,
                &Message::IndirectPing(wire::IndirectPing {
                    seq_no: *seq,
                    target: target_ip.ip_bytes(),
                    port: target_ip.port(),
                    node: target.as_str(),
                    nack: *nack,
                    source_addr: src_ip,
                    source_port: src_port,
                    source_node: name,
                }),
            ),
            OutKind::Ack { seq, payload } => {
                let mut coordinate = [0u8; super::coordinate::PAYLOAD_MAX];
                let payload = match payload {
                    AckPayload::Coordinate => self.coordinates.coord.encode_payload_into(&mut coordinate),
                    AckPayload::Bytes(b) => b,
                };
                push_msg(&mut b, &Message::Ack(wire::Ack { seq_no: *seq, payload }))
            }
            OutKind::Nack { seq } => push_msg(&mut b, &Message::Nack(wire::Nack { seq_no: *seq })),
            OutKind::Suspect { incarnation, node } => push_msg(
                &mut b,
                &Message::Suspect(wire::Suspect {
                    incarnation: *incarnation,
                    node: node.as_str(),
                    from: name,
                }),
            ),
            OutKind::AliveSelf => push_msg(&mut b, &Message::Alive(self.alive_self())),
            OutKind::User(msg) => b
                .push_with(msg.len(), |out| {
                    let dst =
                        out.get_mut(..msg.len()).ok_or(crate::wire::msgpack::EncodeError::BufferTooSmall)?;
                    dst.copy_from_slice(msg);
                    Ok(msg.len())
                })
                .is_ok(),
            OutKind::Gossip => true,
        };
        if !first {
            self.metrics.outgoing_dropped += 1;
            return None;
        }
        // Query answers and relays go to one fixed node (the asker), as
        // memberlist's SendToAddress sends them: without gossip, which would
        // spend its items' few transmits on a node that is no random pick —
        // a query's own item mostly on the asker, who has it (one query in
        // ten then missed a node of five).
        let max_parts = match out.kind {
            OutKind::User(_) => 0,
            _ => 255usize.saturating_sub(b.count()),
        };
        let mut sent = core::mem::take(&mut self.metrics.messages_sent);
        count_first(&mut sent, &out.kind);
        self.gossip.drain_into(limit, max_parts, |m| {
            let pushed = b.push(m).is_ok();
            if pushed {
                sent.count(m[0]);
            }
            pushed
        });
        self.metrics.messages_sent = sent;
        if b.count() == 0 {
            return None;
        }
        let mut len = b.finish();
        if self.cfg.compression {
            let mut z = core::mem::take(&mut self.scratch);
            z.clear();
            crate::wire::lzw::encode_compress(&buf[room..room + len], &mut z);
            if z.len() < len {
                buf[room..room + z.len()].copy_from_slice(&z);
                len = z.len();
            }
            self.scratch = z;
        }
        let n = packet::seal_packet(buf, room, len, &layers, out.crc, nonce).ok()?;
        Some(Transmit { dst: out.to, len: n })
    }

    pub(super) fn enqueue(&mut self, to: SocketAddr, kind: OutKind) {
        if self.outgoing.len() >= self.cfg.max_outgoing_queue {
            self.metrics.outgoing_dropped += 1;
            return;
        }
        let crc = self.members.by_addr(to).is_some_and(|m| m.pmax() >= 5);
        self.outgoing.push_back(Outgoing { to, crc, kind });
    }
}

/// Counts the message an outgoing datagram starts with (a ping to a suspect
/// carries the suspicion too).
fn count_first(sent: &mut MessageCounts, kind: &OutKind) {
    let t = match kind {
        OutKind::Ping { suspect, .. } => {
            if suspect.is_some() {
                sent.suspect += 1;
            }
            msg_type::PING
        }
        OutKind::IndirectPing { .. } => msg_type::INDIRECT_PING,
        OutKind::Ack { .. } => msg_type::ACK,
        OutKind::Nack { .. } => msg_type::NACK,
        OutKind::Suspect { .. } => msg_type::SUSPECT,
        OutKind::AliveSelf => msg_type::ALIVE,
        OutKind::User(_) => msg_type::USER,
        OutKind::Gossip => return,
    };
    sent.count(t);
}
