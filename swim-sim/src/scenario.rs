//! Scenarios for the `swim-sim` program: named ones, ones described by flags,
//! the SWIM-paper claims, and the benchmark.

use crate::net::{Latency, Loss};
use crate::report::{Dist, Report};
use crate::settings;
use crate::sim::{Fault, Sim};
use std::fmt::Write as _;
use std::time::{Duration, Instant as WallInstant};
use swim_core::Config;

/// The gossip queue depth the scenarios use unless told otherwise (the core's
/// default is 5000). After a mass join every node holds one alive message per
/// member in its queue, and thousands of nodes holding 5000 items each cost
/// memory and time to simulate; in a steady cluster the queue holds a handful
/// of items and the depth is moot.
pub const DEFAULT_QUEUE_DEPTH: usize = 256;

/// Adds `n` nodes with one converged view
/// ([`Sim::add_nodes_converged`]: real joins and state exchanges, completed
/// one at a time, no virtual time passing), then runs until every node's view
/// is confirmed converged. Returns the virtual time that took, or `None` if
/// not converged within `limit`.
pub fn bootstrap(sim: &mut Sim, n: usize, limit: Duration) -> Option<Duration> {
    let start = sim.now();
    let check = sim.config().protocol_interval / 4;
    sim.add_nodes_converged(n);
    sim.run_until_every(Sim::converged, limit, check)?;
    Some(sim.now() - start)
}

/// A scenario: a cluster, a network, faults scheduled over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Its name, for the report.
    pub name: String,
    /// Cluster size.
    pub nodes: usize,
    /// The seed.
    pub seed: u64,
    /// The nodes' configuration ([`Spec::base_config`] unless changed; the
    /// simulator sets `node_name` per node).
    pub config: Config,
    /// Loss during the measured run.
    pub loss: Loss,
    /// Latency during the measured run.
    pub latency: Latency,
    /// Nodes crashed (each at a random time in the first periods of the run).
    pub crash: usize,
    /// Nodes crashed early and restarted halfway through the run.
    pub restart: usize,
    /// Nodes paused for `pause_for`, starting two periods into the run.
    pub pause: usize,
    /// How long a pause lasts.
    pub pause_for: Duration,
    /// Nodes slowed down by `slow_by` for the whole run.
    pub slow: usize,
    /// The processing delay of a slow node.
    pub slow_by: Duration,
    /// Dark hosts: all their traffic dropped for `dark_for` of every second
    /// for the whole run ([`Fault::Dark`]).
    pub dark: usize,
    /// How long a dark host is dark in every second.
    pub dark_for: Duration,
    /// Nodes that behave as Go memberlist peers: the last `go_like` nodes
    /// run with `direct_refutation: false` (no direct answer to accusers,
    /// no retelling of suspicions), for mixed Rust/Go clusters.
    pub go_like: usize,
    /// A partition in two halves: (start, length) from the start of the run.
    pub partition: Option<(Duration, Duration)>,
    /// Tracked broadcasts, spread over the first half of the run.
    pub broadcasts: usize,
    /// The measured run's length.
    pub duration: Duration,
    /// Longest time allowed for the initial cluster to converge.
    pub bootstrap_limit: Duration,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            name: "custom".into(),
            nodes: 100,
            seed: 1,
            config: Spec::base_config(),
            loss: Loss::None,
            latency: Latency::default(),
            crash: 0,
            restart: 0,
            pause: 0,
            pause_for: Duration::from_secs(5),
            slow: 0,
            slow_by: Duration::from_millis(300),
            dark: 0,
            dark_for: Duration::from_millis(400),
            go_like: 0,
            partition: None,
            broadcasts: 3,
            duration: Duration::from_secs(60),
            bootstrap_limit: Duration::from_secs(300),
        }
    }
}

impl Spec {
    /// The named scenarios: `crash`, `partition`, `churn`, `flaky`.
    pub const NAMES: [&'static str; 4] = ["crash", "partition", "churn", "flaky"];

    /// A named scenario.
    pub fn named(name: &str) -> Option<Spec> {
        let base = Spec { name: name.into(), ..Spec::default() };
        Some(match name {
            "crash" => Spec { nodes: 500, crash: 3, duration: Duration::from_secs(60), ..base },
            "partition" => Spec {
                nodes: 200,
                partition: Some((Duration::from_secs(5), Duration::from_secs(15))),
                duration: Duration::from_secs(90),
                ..base
            },
            "churn" => Spec { nodes: 200, crash: 5, restart: 5, duration: Duration::from_secs(90), ..base },
            "flaky" => Spec {
                nodes: 500,
                loss: Loss::bursty(0.10, 8.0),
                latency: Latency::LogNormal {
                    median: Duration::from_millis(5),
                    sigma: 1.0,
                    cap: Duration::from_millis(400),
                },
                slow: 5,
                pause: 2,
                pause_for: Duration::from_secs(8),
                crash: 1,
                duration: Duration::from_secs(60),
                ..base
            },
            _ => return None,
        })
    }

    /// What the scenarios run with: the core's defaults but for the gossip
    /// queue depth ([`DEFAULT_QUEUE_DEPTH`]).
    pub fn base_config() -> Config {
        Config { max_gossip_queue_depth: DEFAULT_QUEUE_DEPTH, ..Config::default() }
    }

    /// One line describing the scenario, ending with the configuration's
    /// fields that differ from [`Config::default()`].
    pub fn describe(&self) -> String {
        let mut s = self.describe_scenario();
        let _ = write!(s, "; config: {}", settings::describe(&self.config));
        s
    }

    /// One line describing the scenario, without the configuration (whose
    /// protocol interval and other timings [`Spec::describe`] adds).
    pub fn describe_scenario(&self) -> String {
        let mut s = format!(
            "{}: {} nodes, loss {}, latency {}, seed {}",
            self.name, self.nodes, self.loss, self.latency, self.seed
        );
        for (k, what) in
            [(self.crash, "crash"), (self.restart, "restart"), (self.pause, "pause"), (self.slow, "slow")]
        {
            if k > 0 {
                let _ = write!(s, ", {what} {k}");
            }
        }
        if self.dark > 0 {
            let _ = write!(s, ", dark {} ({:?} of every second)", self.dark, self.dark_for);
        }
        if self.go_like > 0 {
            let _ = write!(s, ", go-like {} (the last nodes)", self.go_like.min(self.nodes));
        }
        if let Some((a, l)) = self.partition {
            let _ = write!(s, ", partition in halves at {a:?} for {l:?}");
        }
        s
    }
}

/// What [`run`] produced.
#[derive(Debug)]
pub struct Outcome {
    /// The simulation, as it ended.
    pub sim: Sim,
    /// The measurements of the run (the bootstrap excluded).
    pub report: Report,
    /// Virtual time the initial cluster took to converge (`None`: it did not).
    pub bootstrap: Option<Duration>,
    /// Wall time of the bootstrap.
    pub bootstrap_wall: Duration,
    /// Wall time of the measured run.
    pub run_wall: Duration,
    /// When the measured run started (virtual time since the simulation's start).
    pub start: Duration,
    /// Time from the last fault's end until the views converged again.
    pub reconverged: Option<Duration>,
    /// When the last fault ended, from the start of the run.
    pub faults_end: Duration,
    /// Faults applied, with their times (for the chart).
    pub marks: Vec<(Duration, String)>,
}

fn pick_distinct(sim: &mut Sim, k: usize, taken: &mut Vec<usize>) -> Vec<usize> {
    let n = sim.len();
    let mut out = Vec::new();
    while out.len() < k && taken.len() < n {
        let i = (sim.random_u64() % n as u64) as usize;
        if !taken.contains(&i) {
            taken.push(i);
            out.push(i);
        }
    }
    out
}

/// Bootstraps the cluster, then runs the scenario and measures it.
pub fn run(spec: &Spec) -> Result<Outcome, swim_core::ConfigError> {
    let mut sim = Sim::new(spec.seed, spec.config.clone())?;
    for i in spec.nodes.saturating_sub(spec.go_like)..spec.nodes {
        sim.configure_node(i, Config { direct_refutation: false, ..spec.config.clone() })?;
    }
    let wall = WallInstant::now();
    let bootstrap = bootstrap(&mut sim, spec.nodes, spec.bootstrap_limit);
    let bootstrap_wall = wall.elapsed();
    let wall = WallInstant::now();
    sim.reset_measurements();
    let t0 = sim.now();
    sim.apply(Fault::Loss(spec.loss));
    sim.apply(Fault::Latency(spec.latency));
    let mut marks = Vec::new();
    let mut taken = Vec::new();
    let p = spec.config.protocol_interval;
    let mut faults_end = Duration::ZERO;
    let frac = |sim: &mut Sim| (sim.random_u64() % 1000) as f64 / 1000.0;
    for i in pick_distinct(&mut sim, spec.crash, &mut taken) {
        let at = p.mul_f64(1.0 + 2.0 * frac(&mut sim));
        sim.at(t0 + at, Fault::Crash(i));
        marks.push((t0 + at, format!("crash n{i}")));
        faults_end = faults_end.max(at);
    }
    for i in pick_distinct(&mut sim, spec.restart, &mut taken) {
        let at = p.mul_f64(1.0 + 2.0 * frac(&mut sim));
        let back = spec.duration / 2 + p.mul_f64(frac(&mut sim));
        sim.at(t0 + at, Fault::Crash(i));
        sim.at(t0 + back, Fault::Restart(i));
        marks.push((t0 + at, format!("crash n{i}")));
        marks.push((t0 + back, format!("restart n{i}")));
        faults_end = faults_end.max(back);
    }
    for i in pick_distinct(&mut sim, spec.pause, &mut taken) {
        let at = p * 2;
        sim.at(t0 + at, Fault::Pause(i));
        sim.at(t0 + at + spec.pause_for, Fault::Resume(i));
        marks.push((t0 + at, format!("pause n{i}")));
        marks.push((t0 + at + spec.pause_for, format!("resume n{i}")));
        faults_end = faults_end.max(at + spec.pause_for);
    }
    for i in pick_distinct(&mut sim, spec.slow, &mut taken) {
        sim.apply(Fault::Slow(i, spec.slow_by));
    }
    for i in pick_distinct(&mut sim, spec.dark, &mut taken) {
        sim.apply(Fault::Dark(i, spec.dark_for));
    }
    if let Some((start, len)) = spec.partition {
        let half: Vec<usize> = (0..spec.nodes / 2).collect();
        sim.at(t0 + start, Fault::Partition(vec![half]));
        sim.at(t0 + start + len, Fault::Heal);
        marks.push((t0 + start, "partition".into()));
        marks.push((t0 + start + len, "heal".into()));
        faults_end = faults_end.max(start + len);
    }
    for k in 0..spec.broadcasts {
        let at = spec.duration / 2 * k as u32 / spec.broadcasts.max(1) as u32 + p / 3;
        let origin = (sim.random_u64() % spec.nodes.max(1) as u64) as usize;
        sim.at(t0 + at, Fault::Broadcast(origin));
    }
    // Run to the end of the last fault, measure reconvergence, run the rest.
    let end = t0 + spec.duration;
    let faults_end = faults_end.min(spec.duration);
    sim.run_for(faults_end + Duration::from_millis(1));
    let left = end.saturating_sub(sim.now());
    let reconverged = sim.run_until_every(Sim::converged, left, p / 4);
    let left = end.saturating_sub(sim.now());
    sim.run_for(left);
    let report = sim.report();
    Ok(Outcome {
        sim,
        report,
        bootstrap,
        bootstrap_wall,
        run_wall: wall.elapsed(),
        start: t0,
        reconverged,
        faults_end,
        marks,
    })
}

/// One row of the SWIM-claims table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRow {
    /// Cluster size.
    pub nodes: usize,
    /// Datagrams sent per node per protocol period, steady state, no faults.
    pub msgs_per_node_period: f64,
    /// Bytes sent per node per period (datagrams and streams).
    pub bytes_per_node_period: f64,
    /// Time for a broadcast to reach every node, in protocol periods (mean).
    pub broadcast_periods: f64,
    /// Time from a crash to its first suspicion by anyone, in periods (mean).
    pub first_detection_periods: f64,
    /// Crashes measured.
    pub crashes: usize,
    /// Broadcasts (of 5) that reached every node: the mean is over these.
    pub broadcasts: usize,
}

/// What the claims and the benchmark run with: a 500 ms interval (probe
/// timeout half of it), the core's defaults otherwise.
fn measured_config(queue_depth: Option<usize>) -> Config {
    Config {
        protocol_interval: Duration::from_millis(500),
        probe_timeout: Duration::from_millis(250),
        max_gossip_queue_depth: queue_depth.unwrap_or(Config::default().max_gossip_queue_depth),
        ..Config::default()
    }
}

/// Measures the SWIM paper's claims on clusters of each size in `sizes`:
/// message load per node, broadcast dissemination time, and time to first
/// detection of a crash (`crashes` crashes per size, one at a time).
pub fn claims(sizes: &[usize], seed: u64, crashes: usize) -> Vec<ClaimRow> {
    let mut rows = Vec::new();
    for &n in sizes {
        let config = measured_config(Some(DEFAULT_QUEUE_DEPTH));
        let p = config.protocol_interval;
        let mut sim = Sim::new(seed, config).expect("valid config");
        bootstrap(&mut sim, n, Duration::from_secs(600));
        // Let the join gossip die down, then measure a quiet period.
        sim.run_for(p * 40);
        sim.reset_measurements();
        sim.run_for(p * 20);
        let quiet = sim.report();
        // Broadcasts, one at a time.
        let mut bc = Vec::new();
        for _ in 0..5 {
            let origin = sim.random_running().expect("nodes run");
            let k = sim.broadcast(origin).expect("running");
            let converged = |s: &Sim| s.broadcast_record(k).and_then(|b| b.converged);
            sim.run_until_every(|s| converged(s).is_some(), p * 60, p / 20);
            if let Some(d) = converged(&sim) {
                bc.push(d);
            }
        }
        // Crashes, one at a time, each at a random point of a period.
        let mut first = Vec::new();
        for _ in 0..crashes {
            let victim = sim.random_running().expect("nodes run");
            let jitter = p.mul_f64((sim.random_u64() % 1000) as f64 / 1000.0);
            sim.run_for(jitter);
            sim.apply(Fault::Crash(victim));
            sim.run_until_every(
                |s| s.crashes().last().is_some_and(|c| !c.suspected.is_empty()),
                p * 60,
                Duration::from_millis(5),
            );
            if let Some(d) = sim.crashes().last().and_then(|c| c.first_detection()) {
                first.push(d);
            }
            sim.run_until_every(|s| s.dead_everywhere(victim), p * 200, p);
        }
        let per = |d: Dist| d.mean.as_secs_f64() / p.as_secs_f64();
        rows.push(ClaimRow {
            nodes: n,
            msgs_per_node_period: quiet.msgs_per_node_period,
            bytes_per_node_period: quiet.bytes_per_node_period,
            broadcast_periods: per(Dist::of(&bc)),
            first_detection_periods: per(Dist::of(&first)),
            crashes: first.len(),
            broadcasts: bc.len(),
        });
    }
    rows
}

/// The claims table as Markdown.
pub fn claims_table(rows: &[ClaimRow]) -> String {
    let mut s = String::new();
    let e = std::f64::consts::E;
    let _ = writeln!(
        s,
        "| nodes | datagrams/node/period | bytes/node/period | broadcast → all (periods) | ÷ ln(n) | crash → first suspicion (periods) | crashes |"
    );
    let _ = writeln!(s, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.0} | {:.2} | {:.3} | {:.2} | {} |",
            r.nodes,
            r.msgs_per_node_period,
            r.bytes_per_node_period,
            r.broadcast_periods,
            r.broadcast_periods / (r.nodes as f64).ln(),
            r.first_detection_periods,
            r.crashes
        );
    }
    let _ = writeln!(
        s,
        "\nSWIM's claims: load per node flat in n; dissemination time ∝ log n (the ÷ ln(n) column \
         roughly constant); first detection on average e/(e-1) = {:.3} periods after the crash \
         (the paper counts until the target is first probed; a probe fails one period after it starts).",
        e / (e - 1.0)
    );
    s
}

/// One benchmark measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// Cluster size.
    pub nodes: usize,
    /// Protocol periods simulated after the bootstrap.
    pub periods: u32,
    /// Wall time of the bootstrap (all nodes join, views converge).
    pub bootstrap_wall: Duration,
    /// Whether the bootstrap converged.
    pub converged: bool,
    /// Wall time of the measured periods.
    pub run_wall: Duration,
    /// Node-periods simulated per wall second (measured periods only).
    pub node_periods_per_sec: f64,
    /// Resident memory after the bootstrap minus before creating the nodes.
    pub rss_delta: u64,
    /// Peak resident memory of the process.
    pub peak_rss: u64,
    /// Heap bytes of all the nodes' member tables after the bootstrap
    /// (entries and indexes, without the shared names and profiles).
    pub table_bytes: u64,
}

fn proc_status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Current resident set size of this process, in bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

/// Measures one cluster size: bootstrap, then `periods` protocol periods of
/// a 500 ms interval with no faults, with this gossip queue depth (`None`:
/// the core's default). Run each size in a fresh process for meaningful
/// memory numbers.
pub fn bench_one(nodes: usize, periods: u32, seed: u64, queue_depth: Option<usize>) -> BenchRow {
    let config = measured_config(queue_depth);
    let p = config.protocol_interval;
    let before = rss_bytes();
    let mut sim = Sim::new(seed, config).expect("valid config");
    let wall = WallInstant::now();
    let converged = bootstrap(&mut sim, nodes, Duration::from_secs(600)).is_some();
    let bootstrap_wall = wall.elapsed();
    let rss_delta = rss_bytes().saturating_sub(before);
    let table_bytes = (0..sim.len()).filter_map(|i| sim.node(i)).map(|s| s.member_table_bytes() as u64).sum();
    let wall = WallInstant::now();
    sim.run_for(p * periods);
    let run_wall = wall.elapsed();
    BenchRow {
        nodes,
        periods,
        bootstrap_wall,
        converged,
        run_wall,
        node_periods_per_sec: nodes as f64 * periods as f64 / run_wall.as_secs_f64().max(1e-9),
        rss_delta,
        peak_rss: proc_status_kib("VmHWM:") * 1024,
        table_bytes,
    }
}
