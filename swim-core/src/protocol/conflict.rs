//! Name conflicts resolved as Serf resolves them (`serf.go`
//! `handleNodeConflict`, `resolveNodeConflict`): when another address
//! claims this node's name, this node asks the cluster `_serf_conflict`
//! ("which address do you know for my name?"); if fewer than a majority of
//! the answers give its own address, it yields — stops taking part at once,
//! without a leave message (which would be about the winner's name too) —
//! and reports [`Event::Yielded`](super::Event::Yielded). Serf's
//! `EnableNameConflictResolution`: [`Config::name_conflict_resolution`](crate::Config::name_conflict_resolution).

use super::query::{QueryId, QueryParams};
use super::{Event, Swim};
use crate::time::Instant;
use crate::wire::msgpack::Reader;
use rand_core::RngCore;

/// A running resolution: the query, and the tally so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resolution {
    pub(super) query: QueryId,
    responses: usize,
    matching: usize,
}

/// The address a `_serf_conflict` answer gives (`[6]` + Serf's `Member`),
/// as `(ip bytes, port)`: `Some(None)` for a nil member (the node does not
/// know the name: Serf counts it as an answer that does not match), `None`
/// for garbage.
#[allow(clippy::option_option)]
fn answered_addr(payload: &[u8]) -> Option<Option<(&[u8], u16)>> {
    let (&ty, body) = payload.split_first()?;
    if ty != crate::wire::serf::CONFLICT_RESPONSE {
        return None;
    }
    let mut r = Reader::new(body);
    if r.is_nil().ok()? {
        return Some(None);
    }
    let (mut ip, mut port) = (None, None);
    for _ in 0..r.read_map_len().ok()? {
        match r.read_bytes().ok()? {
            b"Addr" => ip = Some(r.read_bytes().ok()?),
            b"Port" => port = u16::try_from(r.read_uint().ok()?).ok(),
            _ => r.skip_value().ok()?,
        }
    }
    Some(Some((ip?, port?)))
}

impl<R: RngCore> Swim<R> {
    /// Another address claims this node's name: ask the cluster, unless a
    /// resolution is running or this node is leaving.
    pub(super) fn resolve_conflict(&mut self, now: Instant) {
        if !self.cfg.name_conflict_resolution
            || self.conflict.is_some()
            || self.leave.is_some()
            || self.yielded
        {
            return;
        }
        let name = self.name.clone();
        if let Ok(query) =
            self.query(now, "_serf_conflict", name.as_str().as_bytes(), &QueryParams::default())
        {
            self.conflict = Some(Resolution { query, responses: 0, matching: 0 });
            self.metrics.conflict_resolutions += 1;
        }
    }

    /// Takes an answer to the running resolution (true: it was one).
    pub(super) fn conflict_answer_in(&mut self, query: QueryId, payload: &[u8]) -> bool {
        let Some(res) = self.conflict.as_mut().filter(|r| r.query == query) else { return false };
        if let Some(addr) = answered_addr(payload) {
            res.responses += 1;
            res.matching += usize::from(
                addr.is_some_and(|(ip, port)| ip == self.wire_addr.ip_bytes() && port == self.addr.port()),
            );
        }
        true
    }

    /// The resolution's query ended: stay if a majority knows this node's
    /// name at its address (or nobody answered), else yield.
    pub(super) fn conflict_decided(&mut self, query: QueryId) -> bool {
        let Some(res) = self.conflict.filter(|r| r.query == query) else { return false };
        self.conflict = None;
        if res.responses > 0 && res.matching < res.responses / 2 + 1 {
            self.yielded = true;
            self.metrics.name_conflicts_lost += 1;
            self.outgoing.clear();
            self.stream_requests.clear();
            let me = self.local_node();
            self.events.push_back(Event::Yielded(me));
        }
        true
    }

    /// Whether this node lost a name conflict and stopped (see
    /// [`Event::Yielded`]): it sends and takes nothing any more.
    pub fn has_yielded(&self) -> bool {
        self.yielded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::query::ConflictMember;

    #[test]
    fn reads_the_address_of_a_conflict_answer() {
        let m = ConflictMember {
            name: "n1",
            addr: "127.0.0.1:7946".parse().unwrap(),
            status: 1,
            vsn: [1, 5, 2, 2, 5, 5],
        };
        let mut out = alloc::vec::Vec::new();
        ConflictMember::encode(Some(&m), &[("role".into(), "web".into())], &mut out);
        assert_eq!(answered_addr(&out), Some(Some((&[127, 0, 0, 1][..], 7946))));
        let mut nil = alloc::vec::Vec::new();
        ConflictMember::encode(None, &[], &mut nil);
        assert_eq!(answered_addr(&nil), Some(None));
        assert_eq!(answered_addr(&[1, 2]), None);
    }
}
