//! Coalescing direct messages: several small direct messages to one member
//! packed into one datagram as a memberlist compound message (type 7,
//! `net.go` `makeCompoundMessage`), sealed (CRC, AES-GCM, label) once per
//! datagram instead of once per message.
//!
//! A driver keeps queued messages as *parts* — each the complete user
//! message [`Swim::encode_direct_part`] wrote (type byte 8 first) — and
//! hands every member's run of parts to [`Swim::seal_direct_parts`], which
//! fills a datagram up to `udp_buffer_size` and seals it. A run of one part
//! goes out exactly as a lone direct send does. Memberlist splits such a
//! datagram as it splits its own piggybacked packets (`handleCompound`), so
//! a Go node receives every message (interop test
//! `go_receives_coalesced_direct_messages`). The driver side — the bounded
//! queue, backpressure and the task that drains it — is
//! `crate::io::send_queue`.

use super::*;
use crate::wire::crypto::TAG_LEN;
use crate::wire::CompoundBuilder;
use alloc::vec::Vec;
use core::iter::Peekable;

/// Where a direct message goes and how its datagrams are framed, from
/// [`Swim::direct_route`] or [`Swim::direct_route_to_addr`]. Messages with
/// the same route may share a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectRoute {
    /// The destination address.
    pub dst: SocketAddr,
    /// Whether datagrams carry memberlist's CRC header (the receiver speaks
    /// protocol 5 or later).
    pub crc: bool,
}

impl<R: RngCore> Swim<R> {
    /// The route to the live member `target`; `UnknownNode` otherwise.
    pub fn direct_route(&self, target: &NodeId) -> Result<DirectRoute, SendError> {
        match self.members.get(target.as_str()) {
            Some(m) if m.state.is_live() => Ok(DirectRoute { dst: m.addr(), crc: m.pmax() >= 5 }),
            _ => Err(SendError::UnknownNode(target.clone())),
        }
    }

    /// The route to `addr`, member or not (CRC if a member there speaks
    /// protocol 5 or later).
    pub fn direct_route_to_addr(&self, addr: SocketAddr) -> DirectRoute {
        DirectRoute { dst: addr, crc: self.members.by_addr(addr).is_some_and(|m| m.pmax() >= 5) }
    }

    /// Encodes and seals a lone direct message to `route` into `buf`
    /// (as [`encode_direct`](Self::encode_direct)); returns where to send
    /// `buf[..len]`.
    pub fn encode_direct_routed(
        &mut self,
        route: DirectRoute,
        topic: &str,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<Transmit, SendError> {
        self.encode_direct_inner(route.dst, route.crc, topic, payload, buf)
    }

    /// Appends the direct message `topic` + `payload` from this node to
    /// `out`, as one part for [`seal_direct_parts`](Self::seal_direct_parts);
    /// returns its length. The same limits as a lone direct send:
    /// `TopicTooLong`, `TooLarge` past
    /// [`max_direct_payload`](Self::max_direct_payload). Allocates only if
    /// `out` has to grow.
    pub fn encode_direct_part(
        &self,
        topic: &str,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, SendError> {
        if topic.len() > user::MAX_TOPIC_LEN {
            return Err(SendError::TopicTooLong);
        }
        let max_payload = self.max_direct_payload(topic);
        if payload.len() > max_payload {
            return Err(SendError::TooLarge { max_payload });
        }
        let start = out.len();
        out.resize(start + user::direct_overhead(self.name.as_str()) + topic.len() + payload.len(), 0);
        match user::encode_direct(&mut out[start..], self.name.as_str(), topic, payload) {
            Some(n) => Ok(n),
            None => {
                out.truncate(start);
                Err(SendError::TooLarge { max_payload })
            }
        }
    }

    /// Packs parts from `parts` (see
    /// [`encode_direct_part`](Self::encode_direct_part)) into one datagram to
    /// `route`, as many as fit `udp_buffer_size` (at most 255), and seals it
    /// into `buf[..len]`. Returns `None` when `parts` is empty. A part that
    /// cannot fit even alone is skipped and counted
    /// (`Metrics::dropped_oversize_send`). No allocation.
    pub fn seal_direct_parts<'p, I: Iterator<Item = &'p [u8]>>(
        &mut self,
        route: DirectRoute,
        parts: &mut Peekable<I>,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        let nonce = self.nonce();
        // seal_keyring(), borrowing only these fields (metrics change below).
        let keyring = self.keyring.as_ref().filter(|_| self.cfg.gossip_verify_outgoing);
        let layers = Layers { label: self.cfg.label.as_bytes(), keyring, verify_incoming: true };
        let room = packet::header_room(&layers, route.crc);
        let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
        let end = self.cfg.udp_buffer_size.min(buf.len()).saturating_sub(tag).max(room);
        let body_len = end - room;
        let mut oversize = 0;
        let (len, count) = {
            let body = buf.get_mut(room..end)?;
            let mut bare: Option<&[u8]> = None;
            let mut b = CompoundBuilder::new(&mut *body);
            while let Some(p) = parts.peek() {
                if p.len() <= b.remaining() && b.push(p).is_ok() {
                    parts.next();
                    continue;
                }
                if b.count() == 0 {
                    // The first part alone: it fits bare though not with a
                    // compound header (a maximal lone message), or not at all.
                    let p = parts.next()?;
                    if p.len() <= body_len {
                        bare = Some(p);
                    } else {
                        oversize += 1;
                    }
                }
                break;
            }
            let count = b.count() as u64;
            let len = b.finish();
            match bare {
                Some(p) => {
                    body[..p.len()].copy_from_slice(p);
                    (p.len(), 1)
                }
                None => (len, count),
            }
        };
        self.metrics.outgoing_dropped += oversize;
        if count == 0 {
            return None;
        }
        let n = packet::seal_packet(buf, room, len, &layers, route.crc, nonce).ok()?;
        self.metrics.packets_sent += 1;
        self.metrics.bytes_sent += n as u64;
        self.metrics.messages_sent.user += count;
        if count > 1 {
            self.metrics.direct_coalesced += count;
        }
        Some(Transmit { dst: route.dst, len: n })
    }
}
