//! The std-only layer (feature `std`): everything an async driver needs,
//! written once over a small [`Runtime`](runtime::Runtime) trait, the way
//! quinn supports several runtimes.
//!
//! - [`runtime`] — what a runtime must provide (spawn, timer, UDP, TCP);
//! - [`batch_udp`] — batched UDP (GSO, GRO, `recvmmsg`) on `quinn-udp`,
//!   for the drivers' [`Udp`](runtime::Udp) batch operations;
//! - `send_queue` — the direct-send queue: coalescing and backpressure;
//! - [`advertise`] — which address a node advertises when none is configured;
//! - [`driver`] — the locked core, event streams, buffer pools, errors;
//! - [`handoff`] — message handlers on a thread of their own, off the
//!   receive path (memberlist's handoff queue);
//! - [`queries`] — Serf queries: the query handler's thread, the asker's
//!   stream of answers;
//! - [`cluster`] — the async user API, `Cluster<R: Runtime>`;
//! - `exporter` (feature `metrics`) — publishes each node's metrics through
//!   the `metrics` facade;
//! - `testsuite` (feature `test-suite`) — the multi-node suite every driver runs.

pub mod advertise;
pub mod batch_udp;
pub mod cluster;
pub mod driver;
#[cfg(feature = "metrics")]
pub mod exporter;
pub mod handoff;
pub mod queries;
pub mod runtime;
pub(crate) mod send_queue;
#[cfg(feature = "test-suite")]
pub mod testsuite;
