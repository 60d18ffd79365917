//! The in-memory harness the multi-node core tests share: every datagram and
//! stream is delivered in memory, with explicit times (no sleeping).
#![allow(dead_code)] // each test file uses its own part of it

use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use swim_core::{Config, DeliveryKind, Event, Instant, State, StreamFrame, Swim};

pub const TICK: Duration = Duration::from_millis(10);

pub struct Harness {
    pub nodes: Vec<Swim<ChaCha8Rng>>,
    pub addrs: Vec<SocketAddr>,
    pub now: Instant,
    /// Nodes whose process is stopped: they neither send nor receive.
    pub down: BTreeSet<usize>,
    /// Links (a, b) over which nothing passes, either way.
    pub cut: BTreeSet<(usize, usize)>,
    /// Datagrams from a to b are dropped (b to a pass); streams between
    /// them fail.
    pub one_way: BTreeSet<(usize, usize)>,
    pub events: Vec<Vec<Event>>,
    /// (receiver, topic, payload, kind)
    pub delivered: Vec<(usize, String, Vec<u8>, DeliveryKind)>,
    buf: Vec<u8>,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + i as u16))
}

impl Harness {
    pub fn new(n: usize, seed: u64, cfg: impl Fn(usize) -> Config) -> Self {
        let now = Instant::ZERO;
        let nodes: Vec<_> = (0..n)
            .map(|i| {
                let c = Config { node_name: Some(format!("n{i}")), ..cfg(i) };
                Swim::new(c, addr(i), ChaCha8Rng::seed_from_u64(seed * 1000 + i as u64), now).unwrap()
            })
            .collect();
        Harness {
            addrs: (0..n).map(addr).collect(),
            nodes,
            now,
            down: BTreeSet::new(),
            cut: BTreeSet::new(),
            one_way: BTreeSet::new(),
            events: vec![Vec::new(); n],
            delivered: Vec::new(),
            buf: vec![0; 65_536],
        }
    }

    pub fn fast(n: usize, seed: u64) -> Self {
        Self::new(n, seed, |_| fast_config())
    }

    pub fn index(&self, a: SocketAddr) -> Option<usize> {
        self.addrs.iter().position(|x| *x == a)
    }

    pub fn passes(&self, a: usize, b: usize) -> bool {
        !self.down.contains(&a)
            && !self.down.contains(&b)
            && !self.cut.contains(&(a, b))
            && !self.cut.contains(&(b, a))
    }

    /// Runs the stream exchange `req` from node `i` synchronously.
    pub fn stream(&mut self, i: usize, mut req: swim_core::StreamRequest) {
        let two_way =
            |h: &Self, j| h.passes(i, j) && !h.one_way.contains(&(i, j)) && !h.one_way.contains(&(j, i));
        let Some(j) = self.index(req.addr).filter(|&j| two_way(self, j)) else {
            self.nodes[i].handle_stream_failed(req.id);
            return;
        };
        let now = self.now;
        let StreamFrame::Complete { start, end } = self.nodes[j].stream_frame(&req.data, true).unwrap()
        else {
            panic!("request is not one whole frame")
        };
        let from = self.addrs[i];
        let reply = self.recording(j, |n, d| n.handle_stream(now, from, &mut req.data[start..end], d));
        match reply {
            Ok(Some(mut r)) if req.expects_reply => {
                let StreamFrame::Complete { start, end } = self.nodes[i].stream_frame(&r, false).unwrap()
                else {
                    panic!("reply is not one whole frame")
                };
                let _ = self.recording(i, |n, d| n.handle_stream_reply(now, req.id, &mut r[start..end], d));
            }
            _ if req.expects_reply => self.nodes[i].handle_stream_failed(req.id),
            _ => {}
        }
    }

    /// Runs `f` on node `i`, recording what it delivers.
    pub fn recording<T>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Swim<ChaCha8Rng>, &mut dyn FnMut(swim_core::Delivery<'_>)) -> T,
    ) -> T {
        let mut got = Vec::new();
        let r = f(&mut self.nodes[i], &mut |d| got.push((d.topic.to_string(), d.payload.to_vec(), d.kind)));
        self.delivered.extend(got.into_iter().map(|(t, p, k)| (i, t, p, k)));
        r
    }

    pub fn join(&mut self, i: usize, seed: usize) -> Result<(), swim_core::StreamError> {
        let req = self.nodes[i].join(self.now, self.addrs[seed]);
        let id = req.id;
        let mut req = req;
        let now = self.now;
        let StreamFrame::Complete { start, end } = self.nodes[seed].stream_frame(&req.data, true).unwrap()
        else {
            panic!()
        };
        let reply =
            self.nodes[seed].handle_stream(now, self.addrs[i], &mut req.data[start..end], &mut |_| {});
        let mut r = reply?.expect("push-pull is answered");
        let StreamFrame::Complete { start, end } = self.nodes[i].stream_frame(&r, false).unwrap() else {
            panic!()
        };
        self.recording(i, |n, d| n.handle_stream_reply(now, id, &mut r[start..end], d))
    }

    /// Moves every packet and stream until all are quiet at this instant.
    pub fn flush(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                if self.down.contains(&i) {
                    continue;
                }
                while let Some(req) = self.nodes[i].poll_stream_request() {
                    moved = true;
                    self.stream(i, req);
                }
                while let Some(t) = self.nodes[i].poll_transmit(now, &mut self.buf) {
                    moved = true;
                    let Some(j) = self.index(t.dst) else { continue };
                    if !self.passes(i, j) || self.one_way.contains(&(i, j)) {
                        continue;
                    }
                    let mut pkt = self.buf[..t.len].to_vec();
                    let from = self.addrs[i];
                    self.recording(j, |n, d| n.handle_packet(now, from, &mut pkt, d));
                }
                while let Some(e) = self.nodes[i].poll_event() {
                    self.events[i].push(e);
                }
            }
            if !moved {
                break;
            }
        }
    }

    pub fn step(&mut self) {
        self.now += TICK;
        for i in 0..self.nodes.len() {
            if !self.down.contains(&i) && self.nodes[i].poll_timeout() <= self.now {
                self.nodes[i].handle_timeout(self.now);
            }
        }
        self.flush();
    }

    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Runs until `cond` holds; returns the time it took, or None after `limit`.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Self) -> bool) -> Option<Duration> {
        let start = self.now;
        let end = start + limit;
        while self.now < end {
            if cond(self) {
                return Some(self.now.saturating_duration_since(start));
            }
            self.step();
        }
        cond(self).then(|| self.now.saturating_duration_since(start))
    }

    pub fn state_at(&self, observer: usize, of: usize) -> Option<State> {
        self.nodes[observer].member(&format!("n{of}")).map(|n| n.state)
    }

    pub fn all_join(&mut self) {
        for i in 1..self.nodes.len() {
            self.join(i, 0).unwrap();
        }
        self.flush();
    }

    pub fn converged(&self) -> bool {
        let n = self.nodes.len();
        (0..n)
            .filter(|i| !self.down.contains(i))
            .all(|i| self.nodes[i].members().len() == n - self.down.len())
    }
}

/// Hands node `to` one plain datagram holding `msg` (a memberlist message
/// with its type byte), as if from node `from`, and moves what follows.
pub fn inject(h: &mut Harness, from: usize, to: usize, msg: &[u8]) {
    let mut pkt = msg.to_vec();
    let (now, src) = (h.now, h.addrs[from]);
    h.nodes[to].handle_packet(now, src, &mut pkt, &mut |_| {});
    h.flush();
}

/// `m` encoded with its type byte.
pub fn encode(m: &swim_core::wire::Message<'_>) -> Vec<u8> {
    let mut v = vec![0u8; m.encoded_len()];
    let n = m.encode(&mut v).unwrap();
    v.truncate(n);
    v
}

/// A faster protocol so tests cover many periods quickly (virtual time anyway).
pub fn fast_config() -> Config {
    Config {
        protocol_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        gossip_interval: Duration::from_millis(50),
        push_pull_interval: Duration::from_secs(5),
        ..Config::default()
    }
}
