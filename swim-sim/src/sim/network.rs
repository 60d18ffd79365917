//! The virtual network as the simulator runs it: the nodes' address labels,
//! which links pass (partition groups, cut links), and datagrams and stream
//! exchanges sent and delivered, with loss and latency drawn from the models
//! in [`crate::net`] on the network RNG. A lost stream message is not lost but
//! delayed, like a TCP retransmission; a blocked or late one fails at its
//! deadline.

use super::nodes::Status;
use super::queue::Ev;
use super::Sim;
use std::net::SocketAddr;
use std::time::Duration;
use swim_core::{DeliveryKind, Instant, StreamFrame, StreamRequest};

/// The port every simulated node "listens" on; addresses are only labels.
pub const PORT: u16 = 7946;

/// The address label of node `i`: `127.a.b.c:7946` with `a.b.c` = `i + 1`.
pub fn node_addr(i: usize) -> SocketAddr {
    let k = i + 1;
    SocketAddr::from(([127, (k >> 16) as u8, (k >> 8) as u8, k as u8], PORT))
}

/// The node index behind an address label, if it is one.
pub fn node_index(addr: SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) if a.port() == PORT && a.ip().octets()[0] == 127 => {
            let o = a.ip().octets();
            let k = (o[1] as usize) << 16 | (o[2] as usize) << 8 | o[3] as usize;
            k.checked_sub(1)
        }
        _ => None,
    }
}

/// Stream retransmission: each loss draw on a stream message adds this
/// (doubling, like TCP's RTO), up to this many times.
const STREAM_RTO: Duration = Duration::from_millis(200);
const STREAM_MAX_RETRIES: u32 = 6;

impl Sim {
    fn passes(&self, a: usize, b: usize) -> bool {
        (!self.partitioned || self.nodes[a].group == self.nodes[b].group)
            && !self.cuts.contains(&(a.min(b), a.max(b)))
    }

    /// Whether either host is dark at `t` ([`Fault::Dark`](super::Fault::Dark)).
    fn dark(&self, a: usize, b: usize, t: Instant) -> bool {
        self.nodes[a].dark_at(t) || self.nodes[b].dark_at(t)
    }

    pub(super) fn send_datagram(&mut self, from: usize, dst: SocketAddr, len: usize) {
        self.counters.datagrams_sent += 1;
        self.counters.datagram_bytes += len as u64;
        let Some(to) = node_index(dst).filter(|&j| j < self.nodes.len()) else {
            self.counters.datagrams_blocked += 1;
            return;
        };
        if !self.passes(from, to) {
            self.counters.datagrams_blocked += 1;
            return;
        }
        let mut bad = self.nodes[to].loss_bad;
        let lost = self.loss.lose(&mut self.net_rng, &mut bad);
        self.nodes[to].loss_bad = bad;
        if lost {
            self.counters.datagrams_lost += 1;
            return;
        }
        let lat = self.latency.sample_between(&mut self.net_rng, from, to);
        // Dropped on the way out of a dark sender or into a dark receiver.
        if self.nodes[from].dark_at(self.now) || self.nodes[to].dark_at(self.now + lat) {
            self.counters.datagrams_lost += 1;
            return;
        }
        let mut data = self.pool.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(&self.buf[..len]);
        let at = self.now + lat + self.nodes[to].slow;
        self.push(at, Ev::Datagram { from, to, data });
    }

    fn recycle(&mut self, data: Vec<u8>) {
        if self.pool.len() < 4096 {
            self.pool.push(data);
        }
    }

    /// When a stream message from `a` sent at `t` reaches `b`, or `None` if it
    /// cannot (blocked, or later than `deadline`). Loss becomes retransmission delay.
    fn stream_delay(&mut self, a: usize, b: usize, t: Instant, deadline: Instant) -> Option<Instant> {
        if !self.passes(a, b) {
            return None;
        }
        if self.instant_streams {
            return Some(t);
        }
        let lat = self.latency.sample_between(&mut self.net_rng, a, b);
        let mut sent = t;
        let mut rto = STREAM_RTO;
        let mut bad = self.nodes[b].loss_bad;
        for _ in 0..STREAM_MAX_RETRIES {
            // Lost to the loss model or to a dark host: sent again an RTO later.
            if !self.loss.lose(&mut self.net_rng, &mut bad) && !self.dark(a, b, sent) {
                break;
            }
            sent += rto;
            rto *= 2;
        }
        let at = sent + lat;
        self.nodes[b].loss_bad = bad;
        let at = at + self.nodes[b].slow;
        (at <= deadline).then_some(at)
    }

    pub(super) fn send_stream(&mut self, from: usize, req: StreamRequest) {
        self.counters.streams_sent += 1;
        self.counters.stream_bytes += req.data.len() as u64;
        let gen = self.nodes[from].gen;
        let deadline = self.now + req.timeout;
        let to = node_index(req.addr).filter(|&j| j < self.nodes.len());
        let arrive = match to {
            Some(to) => self.stream_delay(from, to, self.now, deadline),
            None => None,
        };
        match (to, arrive) {
            (Some(to), Some(at)) => {
                self.push(at, Ev::StreamArrive { from, from_gen: gen, to, req, deadline });
            }
            _ => {
                self.counters.streams_failed += 1;
                if req.expects_reply {
                    self.push(deadline, Ev::StreamFail { node: from, gen, id: req.id });
                }
            }
        }
    }

    /// A datagram reaches node `to`: handled if it is up, else dropped.
    pub(super) fn on_datagram(&mut self, from: usize, to: usize, mut data: Vec<u8>) {
        let now = self.now;
        let from_addr = self.nodes[from].addr;
        let n = &mut self.nodes[to];
        match (n.status, n.swim.as_mut()) {
            (Status::Up, Some(s)) => {
                let mut got: Vec<Vec<u8>> = Vec::new();
                s.handle_packet(now, from_addr, &mut data, &mut |d| {
                    if d.kind == DeliveryKind::Broadcast {
                        got.push(d.payload.to_vec());
                    }
                });
                self.recycle(data);
                for p in got {
                    self.delivered(to, &p);
                }
                self.drain(to);
            }
            _ => {
                self.counters.datagrams_to_down += 1;
                self.recycle(data);
            }
        }
    }

    /// A stream request reaches node `to`: handled if it is up, and its reply
    /// (if one is expected) sent back, or the requester's stream failed.
    pub(super) fn on_stream_arrive(
        &mut self,
        from: usize,
        from_gen: u32,
        to: usize,
        mut req: StreamRequest,
        deadline: Instant,
    ) {
        let now = self.now;
        let from_addr = self.nodes[from].addr;
        let n = &mut self.nodes[to];
        let (Status::Up, Some(s)) = (n.status, n.swim.as_mut()) else {
            // Nobody accepts (crashed) or nobody reads (paused): the requester times out.
            self.counters.streams_failed += 1;
            if req.expects_reply {
                self.push(deadline, Ev::StreamFail { node: from, gen: from_gen, id: req.id });
            }
            return;
        };
        let mut got: Vec<Vec<u8>> = Vec::new();
        let reply = match s.stream_frame(&req.data, true) {
            Ok(StreamFrame::Complete { start, end }) => s
                .handle_stream(now, from_addr, &mut req.data[start..end], &mut |d| {
                    if d.kind == DeliveryKind::Broadcast {
                        got.push(d.payload.to_vec());
                    }
                })
                .ok()
                .flatten(),
            _ => None,
        };
        for p in got {
            self.delivered(to, &p);
        }
        if req.expects_reply {
            match reply {
                Some(data) => {
                    self.counters.stream_bytes += data.len() as u64;
                    match self.stream_delay(to, from, now, deadline) {
                        Some(at) => self.push(
                            at,
                            Ev::StreamReply { to: from, gen: from_gen, id: req.id, data, deadline },
                        ),
                        None => {
                            self.counters.streams_failed += 1;
                            self.push(deadline, Ev::StreamFail { node: from, gen: from_gen, id: req.id });
                        }
                    }
                }
                None => {
                    // The connection closes without a reply: the requester sees it at once.
                    self.counters.streams_failed += 1;
                    let lat = self.latency.sample(&mut self.net_rng);
                    self.push(now + lat, Ev::StreamFail { node: from, gen: from_gen, id: req.id });
                }
            }
        }
        self.drain(to);
    }

    /// A stream reply reaches its requester `to` (deferred while it is paused);
    /// a join's reply completes the join or schedules its retry.
    pub(super) fn on_stream_reply(
        &mut self,
        to: usize,
        gen: u32,
        id: u64,
        mut data: Vec<u8>,
        deadline: Instant,
    ) {
        let n = &mut self.nodes[to];
        if n.gen != gen || n.swim.is_none() {
            return;
        }
        if n.status == Status::Paused {
            n.deferred.push(Ev::StreamReply { to, gen, id, data, deadline });
            return;
        }
        let now = self.now;
        let s = n.swim.as_mut().expect("checked");
        let mut got: Vec<Vec<u8>> = Vec::new();
        let ok = match s.stream_frame(&data, false) {
            Ok(StreamFrame::Complete { start, end }) => s
                .handle_stream_reply(now, id, &mut data[start..end], &mut |d| {
                    if d.kind == DeliveryKind::Broadcast {
                        got.push(d.payload.to_vec());
                    }
                })
                .is_ok(),
            _ => {
                s.handle_stream_failed(id);
                false
            }
        };
        for p in got {
            self.delivered(to, &p);
        }
        let n = &mut self.nodes[to];
        if n.join_pending == Some(id) {
            n.join_pending = None;
            if ok {
                n.joined = true;
            } else {
                let retry = now + self.config.protocol_interval;
                self.push(retry, Ev::JoinRetry { node: to, gen });
            }
        }
        self.drain(to);
    }

    /// Node `node`'s stream `id` failed (deferred while it is paused); a failed
    /// join is retried a protocol period later.
    pub(super) fn on_stream_fail(&mut self, node: usize, gen: u32, id: u64) {
        let n = &mut self.nodes[node];
        if n.gen != gen || n.swim.is_none() {
            return;
        }
        if n.status == Status::Paused {
            n.deferred.push(Ev::StreamFail { node, gen, id });
            return;
        }
        n.swim.as_mut().expect("checked").handle_stream_failed(id);
        if n.join_pending == Some(id) {
            n.join_pending = None;
            let retry = self.now + self.config.protocol_interval;
            self.push(retry, Ev::JoinRetry { node, gen });
        }
        self.drain(node);
    }
}
