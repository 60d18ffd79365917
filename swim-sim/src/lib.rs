//! # swim-sim
//!
//! A deterministic simulator for `swim-core`: it runs the **real** protocol
//! state machine ([`swim_core::Swim`]) for many nodes over a virtual network
//! with a virtual clock. One seed drives everything — node RNGs, latency and
//! loss draws, scenario choices — so the same seed and scenario give the same
//! trace, byte for byte ([`Sim::trace_hash`]).
//!
//! * **Clock and queue**: a binary heap of events ordered by virtual time,
//!   ties broken by scheduling order. Each node is woken at its
//!   `poll_timeout()`; the datagrams and stream exchanges it produces are
//!   delivered after a sampled latency.
//! * **Faults** ([`Fault`]), applied now or scheduled with [`Sim::at`]: loss
//!   (uniform or bursty Gilbert–Elliott, [`Loss`]), latency distributions
//!   ([`Latency`]), partitions and cut links, crash, crash-and-restart, pause and
//!   resume, slow nodes, dark hosts (connectivity that comes and goes),
//!   graceful leave. They apply to datagrams and to streams (a blocked stream
//!   fails after its timeout; loss delays a stream like a TCP retransmission).
//! * **Measurements** ([`Report`]): time to first suspicion and to dead of each
//!   crash at every observer, false suspicions and deaths of running nodes,
//!   join and broadcast convergence, datagrams and bytes per node per period,
//!   and a timeline of the views ([`Sample`], drawn by [`svg::chart`]).
//!
//! ```
//! use std::time::Duration;
//! use swim_core::Config;
//! use swim_sim::{Fault, Loss, Sim};
//!
//! let config = Config {
//!     protocol_interval: Duration::from_millis(200),
//!     probe_timeout: Duration::from_millis(100),
//!     ..Config::default()
//! };
//! let mut sim = Sim::new(7, config).unwrap();
//! sim.add_nodes(20);
//! sim.run_until(Sim::converged, Duration::from_secs(30)).expect("20 nodes converge");
//! sim.reset_measurements();
//!
//! sim.apply(Fault::Loss(Loss::Uniform(0.05)));
//! sim.after(Duration::from_secs(1), Fault::Crash(3));
//! sim.run_for(Duration::from_secs(1));
//! sim.run_until(|s| s.dead_everywhere(3), Duration::from_secs(60)).expect("the crash is detected");
//!
//! let report = sim.report();
//! assert_eq!(report.crashes.len(), 1);
//! assert_eq!(report.crashes[0].dead.len(), 19, "every live node declared n3 dead");
//! println!("{report}");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod net;
pub mod report;
pub mod scenario;
pub mod settings;
mod sim;
pub mod summary;
pub mod svg;

pub use net::{Latency, Loss};
pub use report::{BroadcastRecord, Counters, CrashRecord, Dist, JoinRecord, Report, Sample};
pub use sim::{node_addr, node_index, node_name, Fault, Sim, DARK_PERIOD, PORT};

/// A fast protocol (200 ms probes, 50 ms gossip, 5 s push-pull) so a test or
/// a quick experiment covers many periods in little wall time.
pub fn fast_config() -> swim_core::Config {
    swim_core::Config {
        protocol_interval: core::time::Duration::from_millis(200),
        probe_timeout: core::time::Duration::from_millis(100),
        gossip_interval: core::time::Duration::from_millis(50),
        push_pull_interval: core::time::Duration::from_secs(5),
        ..swim_core::Config::default()
    }
}
