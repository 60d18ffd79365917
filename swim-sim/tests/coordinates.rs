//! Network coordinates converge in the simulator (issue "A full Serf
//! member", item 3): nodes on a plane (`Latency::Geo`, every pair its own
//! latency), default configuration; after 100 protocol periods the RTTs
//! the coordinates predict are compared with the simulated ones.

use std::time::Duration;
use swim_core::Config;
use swim_sim::{Fault, Latency, Sim};

/// The median and 90th percentile relative error of every node's estimate
/// of its RTT to every other node, after `periods` protocol periods.
fn coordinate_error(seed: u64, n: usize, periods: u32) -> (f64, f64, usize) {
    let latency = Latency::Geo { spread: Duration::from_millis(40), jitter: Duration::from_millis(1) };
    let mut sim = Sim::new(seed, Config::default()).unwrap();
    sim.apply(Fault::Latency(latency));
    sim.add_nodes(n);
    sim.run_until(|s| s.converged(), Duration::from_secs(60)).expect("the cluster forms");
    sim.run_for(Config::default().protocol_interval * periods);
    let mut errors = Vec::new();
    for i in 0..n {
        let a = sim.node(i).unwrap();
        for j in (0..n).filter(|&j| j != i) {
            let b = sim.node(j).unwrap().name().clone();
            if let Some(est) = a.estimate_rtt(a.name().as_str(), b.as_str()) {
                let truth = latency.expected_rtt(i, j).unwrap().as_secs_f64();
                errors.push((est.as_secs_f64() - truth).abs() / truth);
            }
        }
    }
    errors.sort_by(f64::total_cmp);
    let q = |p: f64| errors[((errors.len() as f64 * p) as usize).min(errors.len() - 1)];
    (q(0.5), q(0.9), errors.len())
}

#[test]
fn coordinates_predict_simulated_rtts_after_100_periods() {
    let n = 50;
    for seed in 1..=3 {
        let (median, p90, pairs) = coordinate_error(seed, n, 100);
        println!(
            "seed {seed}: {n} nodes, geo latency (40 ms spread), 100 periods: median relative RTT error {:.1}%, p90 {:.1}% over {pairs} pairs",
            median * 100.0,
            p90 * 100.0
        );
        assert!(pairs >= n * (n - 1) * 9 / 10, "most pairs have an estimate: {pairs}");
        assert!(median < 0.25, "median relative error {median}");
    }
}
