//! # swim-core
//!
//! The SWIM membership protocol (with memberlist's Lifeguard extensions) as a
//! pure, deterministic state machine that speaks HashiCorp memberlist's wire
//! protocol (version 5), so it interoperates with Go memberlist and Serf.
//!
//! It does no I/O: a driver (`swim-tokio`, `swim-smol`, or the `swim-sim`
//! simulator) feeds it datagrams, stream frames and the time, and sends what
//! it produces. `#![no_std]` + `alloc`, no `unsafe`, randomness injected.
//!
//! ```
//! use swim_core::{Config, Event, Instant, StreamFrame, Swim};
//! use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
//! use std::time::Duration;
//!
//! let cfg = |name: &str| Config { node_name: Some(name.into()), ..Config::default() };
//! let (a_addr, b_addr) = ("127.0.0.1:7946".parse().unwrap(), "127.0.0.1:7947".parse().unwrap());
//! let mut now = Instant::ZERO;
//! let mut a = Swim::new(cfg("a"), a_addr, ChaCha8Rng::seed_from_u64(1), now).unwrap();
//! let mut b = Swim::new(cfg("b"), b_addr, ChaCha8Rng::seed_from_u64(2), now).unwrap();
//!
//! // b joins through a: a push-pull exchange the driver would carry over TCP.
//! let mut req = b.join(now, a_addr);
//! let StreamFrame::Complete { start, end } = a.stream_frame(&req.data, true).unwrap() else { panic!() };
//! let mut reply = a.handle_stream(now, b_addr, &mut req.data[start..end], &mut |_| {}).unwrap().unwrap();
//! let StreamFrame::Complete { start, end } = b.stream_frame(&reply, false).unwrap() else { panic!() };
//! b.handle_stream_reply(now, req.id, &mut reply[start..end], &mut |_| {}).unwrap();
//! assert!(matches!(b.poll_event(), Some(Event::Join(n)) if n.id.as_str() == "a"));
//! assert!(matches!(a.poll_event(), Some(Event::Join(n)) if n.id.as_str() == "b"));
//!
//! // Run both for a few protocol periods, delivering every datagram at once.
//! fn pump(now: Instant, from: &mut Swim<ChaCha8Rng>, to: &mut Swim<ChaCha8Rng>, buf: &mut [u8]) {
//!     if from.poll_timeout() <= now {
//!         from.handle_timeout(now);
//!     }
//!     while let Some(t) = from.poll_transmit(now, buf) {
//!         assert_eq!(t.dst, to.local_node().addr);
//!         to.handle_packet(now, from.local_node().addr, &mut buf[..t.len], &mut |_| {});
//!     }
//! }
//! let mut buf = vec![0u8; 1400];
//! for _ in 0..500 {
//!     now += Duration::from_millis(10);
//!     pump(now, &mut a, &mut b, &mut buf);
//!     pump(now, &mut b, &mut a, &mut buf);
//! }
//! assert_eq!(a.members().len(), 2);
//! assert_eq!(a.metrics().failed_probes, 0);
//! ```
//!
//! ## Features
//!
//! None is on by default: the crate is then `no_std` + `alloc`, the state
//! machine and the codec only.
//!
//! - `std`: the runtime-agnostic glue the async drivers share (the generic
//!   `Cluster`, its `Runtime` trait, event streams, buffer pools, choosing
//!   the address to advertise) and `tracing` spans: a `probe{peer, seq}` span
//!   per probe round, `join`, `stream` and `stream_in` spans in the driver
//!   (`debug`, `join` at `info`; a healthy cluster is quiet at `info`).
//! - `metrics` (implies `std`): a started `Cluster` publishes its counters,
//!   gauges and probe round-trip histogram through the `metrics` facade every
//!   second (names in `io::exporter::METRICS` and `docs/metrics.md`).
//! - `test-suite` (implies `std`): the multi-node test suite every driver
//!   runs (`cluster_test_suite!`), for driver authors.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod config;
#[cfg(feature = "std")]
pub mod io;
pub mod metrics;
pub mod node;
pub mod protocol;
pub mod time;
mod trace;
#[doc(hidden)] // unstable: public for the simulator, fuzz targets and interop tests
pub mod wire;

#[cfg(feature = "std")]
pub use io::{cluster, runtime};

pub use config::{Config, ConfigError, DelegateVersions};
pub use metrics::{MessageCounts, Metrics};
pub use node::{Node, NodeId, State};
pub use protocol::{
    BroadcastError, Candidate, Delivery, DeliveryKind, DirectRoute, Event, FrameReader, KeyringError,
    ProbeOutcome, ProbeResult, SendError, StreamError, StreamFrame, StreamKind, StreamRequest, Swim,
    TagsError, Transmit, MAX_STREAM_BYTES, PROBE_RESULTS_CAPACITY,
};
pub use protocol::{
    Coordinate, KeyOp, KeyReport, QueryError, QueryEvent, QueryId, QueryParams, QueryRequest,
};
pub use protocol::{Hooks, IpNet, IpNetParseError, MAX_ACK_PAYLOAD, MAX_APP_STATE};
pub use time::Instant;
pub use wire::crypto::Keyring;

/// Everything a driver crate re-exports, so `swim-tokio` and `swim-smol`
/// offer the same names from one list.
#[cfg(feature = "std")]
pub mod prelude {
    pub use crate::io::driver::{
        BroadcastError, CreateError, Events, JoinError, LeaveError, RecvError, SeedError, SeedFailure,
        SendError,
    };
    pub use crate::io::handoff::{Message, MessageHandler};
    pub use crate::io::queries::{QueryResponses, QueryResults};
    pub use crate::{
        Candidate, Config, ConfigError, DelegateVersions, DeliveryKind, Event, Hooks, IpNet, KeyringError,
        Metrics, Node, NodeId, ProbeOutcome, ProbeResult, State, StreamError, TagsError,
    };
    pub use crate::{
        Coordinate, KeyOp, KeyReport, QueryError, QueryEvent, QueryId, QueryParams, QueryRequest,
    };
}
