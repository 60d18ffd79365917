//! Network coordinates: Vivaldi with height, adjustment and gravity, as
//! Serf computes them (`serf/coordinate/` `coordinate.go`, `client.go`,
//! `config.go` defaults; Dabek et al., "Vivaldi", SIGCOMM 2004, and
//! Ledlie et al., "Network Coordinates in the Wild", NSDI 2007), carried in
//! ack payloads in Serf's format (`ping_delegate.go`: version byte 1 +
//! msgpack `Coordinate{Vec, Error, Adjustment, Height}`).
//!
//! Each direct probe's round-trip time, with the coordinate the probed node
//! put in its ack, moves this node's coordinate; the distance between two
//! coordinates estimates the round-trip time between their nodes (Serf's
//! `serf rtt`).

use super::Swim;
use crate::node::NodeId;
use crate::wire::msgpack::{DecodeError, EncodeError, Reader, Writer};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::time::Duration;
use rand_core::RngCore;

/// Dimensions of a coordinate (Serf's `Dimensionality`).
pub const DIMENSIONS: usize = 8;
/// Serf's `PingVersion`: the first byte of a coordinate ack payload.
pub const PING_VERSION: u8 = 1;
/// Bytes Serf's ack payload takes at most: the version byte, a map of four
/// keys, eight float64s and three more (each msgpack float64 is 9 bytes).
pub const PAYLOAD_MAX: usize =
    1 + 1 + (1 + 3) + 1 + 9 * DIMENSIONS + (1 + 5) + 9 + (1 + 10) + 9 + (1 + 6) + 9;
const ERROR_MAX: f64 = 1.5;
const CE: f64 = 0.25;
const CC: f64 = 0.25;
const ADJUSTMENT_WINDOW: usize = 20;
const HEIGHT_MIN: f64 = 10.0e-6;
const LATENCY_FILTER: usize = 3;
const GRAVITY_RHO: f64 = 150.0;
const ZERO: f64 = 1.0e-6;
/// Round trips longer than this are not used (Serf's `maxRTT`).
const MAX_RTT: Duration = Duration::from_secs(10);
/// Members whose coordinates and latency samples are kept, at most.
const MAX_PEERS: usize = 100_000;

/// A network coordinate (Serf's `coordinate.Coordinate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinate {
    /// The Euclidean part, in seconds.
    pub vec: [f64; DIMENSIONS],
    /// How unsure the node is of it (starts at 1.5).
    pub error: f64,
    /// A per-node offset learnt from the residual errors, in seconds.
    pub adjustment: f64,
    /// The node's distance to the "core" of the network, in seconds.
    pub height: f64,
}

impl Default for Coordinate {
    fn default() -> Self {
        Coordinate { vec: [0.0; DIMENSIONS], error: ERROR_MAX, adjustment: 0.0, height: HEIGHT_MIN }
    }
}

fn valid(f: f64) -> bool {
    f.is_finite()
}

fn magnitude(v: &[f64; DIMENSIONS]) -> f64 {
    libm::sqrt(v.iter().map(|x| x * x).sum())
}

fn diff(a: &[f64; DIMENSIONS], b: &[f64; DIMENSIONS]) -> [f64; DIMENSIONS] {
    core::array::from_fn(|i| a[i] - b[i])
}

impl Coordinate {
    /// Whether every component is a finite number.
    pub fn is_valid(&self) -> bool {
        self.vec.iter().all(|x| valid(*x))
            && valid(self.error)
            && valid(self.adjustment)
            && valid(self.height)
    }

    fn raw_distance(&self, other: &Coordinate) -> f64 {
        magnitude(&diff(&self.vec, &other.vec)) + self.height + other.height
    }

    /// The round-trip time these coordinates predict between their nodes.
    pub fn distance_to(&self, other: &Coordinate) -> Duration {
        let dist = self.raw_distance(other);
        let adjusted = dist + self.adjustment + other.adjustment;
        let secs = if adjusted > 0.0 { adjusted } else { dist };
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    /// Moves this coordinate by `force` away from `other` (towards, when
    /// negative); `rand` picks a direction when the two coincide.
    fn apply_force(&mut self, force: f64, other: &Coordinate, rand: &mut dyn FnMut() -> f64) {
        let mut unit = diff(&self.vec, &other.vec);
        let mut mag = magnitude(&unit);
        if mag > ZERO {
            unit.iter_mut().for_each(|x| *x /= mag);
        } else {
            unit.iter_mut().for_each(|x| *x = rand() - 0.5);
            let m = magnitude(&unit);
            if m > ZERO {
                unit.iter_mut().for_each(|x| *x /= m);
            } else {
                unit = [0.0; DIMENSIONS];
                unit[0] = 1.0;
            }
            mag = 0.0;
        }
        for (v, u) in self.vec.iter_mut().zip(unit) {
            *v += u * force;
        }
        if mag > ZERO {
            self.height = ((self.height + other.height) * force / mag + self.height).max(HEIGHT_MIN);
        }
    }

    /// Appends Serf's ack payload: its ping version byte (1) + the msgpack map.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; PAYLOAD_MAX];
        out.extend_from_slice(self.encode_payload_into(&mut buf));
    }

    /// Writes Serf's ack payload into `buf` (no allocation); returns it.
    pub fn encode_payload_into<'b>(&self, buf: &'b mut [u8; PAYLOAD_MAX]) -> &'b [u8] {
        let (version, body) = buf.split_at_mut(1);
        version[0] = PING_VERSION;
        let mut w = Writer::new(body);
        let written = (|| -> Result<(), EncodeError> {
            w.map_header(4)?;
            w.str("Vec")?;
            w.array_header(DIMENSIONS)?;
            self.vec.iter().try_for_each(|x| w.f64(*x))?;
            w.str("Error")?;
            w.f64(self.error)?;
            w.str("Adjustment")?;
            w.f64(self.adjustment)?;
            w.str("Height")?;
            w.f64(self.height)
        })();
        // Every coordinate takes exactly PAYLOAD_MAX (a test checks it).
        let len = if written.is_ok() { 1 + w.position() } else { 0 };
        &buf[..len]
    }

    /// Decodes Serf's ack payload; another version byte, another
    /// dimensionality or a non-finite component is an error.
    pub fn decode_payload(payload: &[u8]) -> Result<Coordinate, DecodeError> {
        let (&version, body) = payload.split_first().ok_or(DecodeError::Truncated)?;
        if version != PING_VERSION {
            return Err(DecodeError::UnknownMessageType(version));
        }
        let mut r = Reader::new(body);
        let mut c = Coordinate::default();
        let mut dims = 0;
        for _ in 0..r.read_map_len()? {
            match r.read_bytes()? {
                b"Vec" => {
                    dims = r.read_array_len()?;
                    if dims != DIMENSIONS {
                        return Err(DecodeError::IntOutOfRange);
                    }
                    for x in c.vec.iter_mut() {
                        *x = r.read_f64()?;
                    }
                }
                b"Error" => c.error = r.read_f64()?,
                b"Adjustment" => c.adjustment = r.read_f64()?,
                b"Height" => c.height = r.read_f64()?,
                _ => r.skip_value()?,
            }
        }
        // Finite, a height that is not negative, and within an hour of
        // the origin: anything else is no coordinate an honest node has.
        let sane = |x: f64| x.abs() < 3600.0;
        if dims != DIMENSIONS
            || !c.is_valid()
            || c.height < 0.0
            || !c.vec.iter().chain([c.error, c.adjustment, c.height].iter()).all(|x| sane(*x))
        {
            return Err(DecodeError::IntOutOfRange);
        }
        Ok(c)
    }
}

/// This node's coordinate and what it learnt from its peers (Serf's
/// `coordinate.Client` and `coordCache`).
#[derive(Debug, Clone)]
pub(super) struct Coordinates {
    pub(super) coord: Coordinate,
    origin: Coordinate,
    adjustments: [f64; ADJUSTMENT_WINDOW],
    adjustment_index: usize,
    /// Each peer's last coordinate and last few round trips (the latency
    /// filter's samples), in one entry.
    peers: BTreeMap<NodeId, Peer>,
    pub(super) resets: u64,
}

impl Default for Coordinates {
    fn default() -> Self {
        let origin =
            Coordinate { vec: [0.0; DIMENSIONS], error: ERROR_MAX, adjustment: 0.0, height: HEIGHT_MIN };
        Coordinates {
            coord: origin,
            origin,
            adjustments: [0.0; ADJUSTMENT_WINDOW],
            adjustment_index: 0,
            peers: BTreeMap::new(),
            resets: 0,
        }
    }
}

/// What is known of one peer.
#[derive(Debug, Clone, Copy)]
struct Peer {
    coord: Coordinate,
    samples: [f64; LATENCY_FILTER],
    count: usize,
}

impl Peer {
    /// The median of the last few round trips, with `rtt` added (Serf's
    /// latency filter).
    fn filter(&mut self, rtt: f64) -> f64 {
        if self.count < LATENCY_FILTER {
            self.samples[self.count] = rtt;
            self.count += 1;
        } else {
            self.samples.rotate_left(1);
            self.samples[LATENCY_FILTER - 1] = rtt;
        }
        let mut sorted = [0.0; LATENCY_FILTER];
        sorted[..self.count].copy_from_slice(&self.samples[..self.count]);
        sorted[..self.count].sort_by(f64::total_cmp);
        sorted[self.count / 2]
    }
}

impl Coordinates {
    /// Serf's `Client.Update`: one observation of `node` at `other`, `rtt` away.
    pub(super) fn update(
        &mut self,
        node: &NodeId,
        other: &Coordinate,
        rtt: Duration,
        rand: &mut dyn FnMut() -> f64,
    ) {
        if rtt > MAX_RTT {
            return;
        }
        if !self.peers.contains_key(node) && self.peers.len() >= MAX_PEERS {
            self.peers.pop_first();
        }
        let peer = self.peers.entry(node.clone()).or_insert(Peer {
            coord: *other,
            samples: [0.0; LATENCY_FILTER],
            count: 0,
        });
        peer.coord = *other;
        let rtt = peer.filter(rtt.as_secs_f64());
        // Vivaldi.
        let dist = self.coord.distance_to(other).as_secs_f64();
        let rtt = rtt.max(ZERO);
        let wrongness = (dist - rtt).abs() / rtt;
        let total = (self.coord.error + other.error).max(ZERO);
        let weight = self.coord.error / total;
        self.coord.error = (CE * weight * wrongness + self.coord.error * (1.0 - CE * weight)).min(ERROR_MAX);
        self.coord.apply_force(CC * weight * (rtt - dist), other, rand);
        // Adjustment.
        let raw = self.coord.raw_distance(other);
        self.adjustments[self.adjustment_index] = rtt - raw;
        self.adjustment_index = (self.adjustment_index + 1) % ADJUSTMENT_WINDOW;
        self.coord.adjustment = self.adjustments.iter().sum::<f64>() / (2.0 * ADJUSTMENT_WINDOW as f64);
        // Gravity towards the origin.
        let d = self.origin.distance_to(&self.coord).as_secs_f64();
        let force = -libm::pow(d / GRAVITY_RHO, 2.0);
        let origin = self.origin;
        self.coord.apply_force(force, &origin, rand);
        if !self.coord.is_valid() {
            self.resets += 1;
            self.coord = Coordinate::default();
        }
    }

    /// Forgets what was learnt of `node` (it left the member table).
    pub(super) fn forget(&mut self, node: &str) {
        self.peers.remove(node);
    }
}

impl<R: RngCore> Swim<R> {
    /// This node's network coordinate (`Config::coordinates` on).
    pub fn coordinate(&self) -> Coordinate {
        self.coordinates.coord
    }

    /// The last coordinate member `name` sent in an ack (this node's own
    /// for its own name).
    pub fn member_coordinate(&self, name: &str) -> Option<Coordinate> {
        if name == self.name.as_str() {
            return Some(self.coordinates.coord);
        }
        self.coordinates.peers.get(name).map(|p| p.coord)
    }

    /// The round-trip time between nodes `a` and `b` their coordinates
    /// predict (`serf rtt a b`); `None` while either has none.
    pub fn estimate_rtt(&self, a: &str, b: &str) -> Option<Duration> {
        Some(self.member_coordinate(a)?.distance_to(&self.member_coordinate(b)?))
    }

    /// A direct probe of `node` came back after `rtt` with `payload`.
    pub(super) fn observe_coordinate(&mut self, node: &NodeId, rtt: Duration, payload: &[u8]) {
        match Coordinate::decode_payload(payload) {
            Ok(c) => {
                let rng = &mut self.rng;
                let mut rand = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                self.coordinates.update(node, &c, rtt, &mut rand);
                self.metrics.coordinate_updates += 1;
            }
            Err(_) => self.metrics.coordinates_rejected += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_refuses_garbage() {
        let mut c = Coordinate::default();
        c.vec[3] = 0.0123;
        c.adjustment = -0.001;
        let mut p = Vec::new();
        c.encode_payload(&mut p);
        assert_eq!(p[0], PING_VERSION);
        assert_eq!(p.len(), PAYLOAD_MAX, "every coordinate takes the same room: all float64s");
        assert_eq!(Coordinate::decode_payload(&p), Ok(c));
        assert!(Coordinate::decode_payload(&[2, 0x80]).is_err(), "another version");
        assert!(Coordinate::decode_payload(&[]).is_err());
        let mut nan = c;
        nan.height = f64::NAN;
        let mut p = Vec::new();
        nan.encode_payload(&mut p);
        assert!(Coordinate::decode_payload(&p).is_err(), "non-finite");
    }

    /// Two nodes 50 ms apart converge to an estimate near 50 ms, as Serf's
    /// client tests do.
    #[test]
    fn two_nodes_converge_on_their_distance() {
        let (mut a, mut b) = (Coordinates::default(), Coordinates::default());
        let (na, nb) = (NodeId::from("a"), NodeId::from("b"));
        let rtt = Duration::from_millis(50);
        let mut seed = 1u64;
        let mut rand = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200 {
            let cb = b.coord;
            a.update(&nb, &cb, rtt, &mut rand);
            let ca = a.coord;
            b.update(&na, &ca, rtt, &mut rand);
        }
        let est = a.coord.distance_to(&b.coord).as_secs_f64();
        assert!((est - 0.05).abs() < 0.005, "estimate {est}");
        assert!(a.coord.error < 0.2, "error {}", a.coord.error);
    }
}
