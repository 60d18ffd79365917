//! Several runs of one scenario and configuration, summed up, and the tables
//! that set summaries side by side: `swim-sim compare` (two configurations,
//! the same seeds) and `--sweep` (one field's values).

use crate::report::{Dist, Sample};
use crate::scenario::{self, Outcome, Spec};
use crate::svg;
use std::fmt::Write as _;
use std::time::Duration;
use swim_core::ConfigError;

/// The measurements of several runs, pooled: every crash's detection times
/// at every observer, every join and broadcast, counts and load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Runs summed up.
    pub runs: usize,
    first_detection: Vec<Duration>,
    suspected: Vec<Duration>,
    dead: Vec<Duration>,
    joins: Vec<Duration>,
    joins_open: usize,
    broadcasts: Vec<Duration>,
    broadcasts_open: usize,
    false_suspicions: u64,
    false_deaths: u64,
    false_suspicions_healthy: u64,
    false_deaths_healthy: u64,
    refutes: u64,
    datagrams_per_node_period: f64,
    bytes_per_node_period: f64,
    reconverged: Vec<Duration>,
    not_reconverged: usize,
}

/// One line of a summary: a name, the value (`None`: nothing to measure).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// What it is, with its unit.
    pub name: &'static str,
    /// Its column heading in a sweep table (`None`: not shown there).
    pub column: Option<&'static str>,
    /// The value.
    pub value: Option<f64>,
    /// Decimals to print.
    pub decimals: usize,
}

impl Metric {
    fn text(&self) -> String {
        self.value.map_or("-".into(), |v| format!("{v:.*}", self.decimals))
    }
}

const FIRST_MEDIAN: &str = "crash → first suspicion by anyone: median (ms)";
const DEAD_MEDIAN: &str = "crash → dead, per observer: median (ms)";
const FALSE_SUSPICIONS: &str = "false suspicions of running nodes, per run";
const FALSE_DEATHS: &str = "false deaths of running nodes, per run";

impl Summary {
    /// Adds one run.
    pub fn add(&mut self, out: &Outcome) {
        let r = &out.report;
        self.runs += 1;
        self.first_detection.extend(r.first_detection_times());
        self.suspected.extend(r.suspicion_times());
        self.dead.extend(r.dead_times());
        self.joins.extend(r.join_times());
        self.joins_open += r.joins.iter().filter(|j| j.converged.is_none()).count();
        self.broadcasts.extend(r.broadcast_times());
        self.broadcasts_open += r.broadcasts.iter().filter(|b| b.converged.is_none()).count();
        self.false_suspicions += r.counters.false_suspicions;
        self.false_deaths += r.counters.false_deaths;
        self.false_suspicions_healthy += r.counters.false_suspicions_healthy;
        self.false_deaths_healthy += r.counters.false_deaths_healthy;
        self.refutes += r.refutes;
        self.datagrams_per_node_period += r.msgs_per_node_period;
        self.bytes_per_node_period += r.bytes_per_node_period;
        match out.reconverged {
            Some(d) => self.reconverged.push(d),
            None => self.not_reconverged += 1,
        }
    }

    /// Every measurement, in the order the tables print them. Times are
    /// pooled over the runs (medians and p99s of every observer of every
    /// crash); counts are per run; load is the mean of the runs'.
    pub fn metrics(&self) -> Vec<Metric> {
        let runs = self.runs.max(1) as f64;
        let ms = |v: &[Duration], pick: fn(Dist) -> Duration| {
            let d = Dist::of(v);
            (d.count > 0).then(|| pick(d).as_secs_f64() * 1000.0)
        };
        let s = |v: &[Duration], pick: fn(Dist) -> Duration| ms(v, pick).map(|x| x / 1000.0);
        let m = |name, column, value, decimals| Metric { name, column, value, decimals };
        let median = |d: Dist| d.median;
        let (p99, max) = (|d: Dist| d.p99, |d: Dist| d.max);
        vec![
            m(FIRST_MEDIAN, Some("first suspicion, median (ms)"), ms(&self.first_detection, median), 0),
            m("crash → first suspicion by anyone: max (ms)", None, ms(&self.first_detection, max), 0),
            m("crash → suspected, per observer: median (ms)", None, ms(&self.suspected, median), 0),
            m("crash → suspected, per observer: p99 (ms)", None, ms(&self.suspected, p99), 0),
            m(DEAD_MEDIAN, Some("dead, median (ms)"), ms(&self.dead, median), 0),
            m("crash → dead, per observer: p99 (ms)", Some("dead, p99 (ms)"), ms(&self.dead, p99), 0),
            m("crash → dead, per observer: max (ms)", None, ms(&self.dead, max), 0),
            m(FALSE_SUSPICIONS, Some("false suspicions/run"), Some(self.false_suspicions as f64 / runs), 1),
            m(FALSE_DEATHS, Some("false deaths/run"), Some(self.false_deaths as f64 / runs), 1),
            m(
                "false suspicions of healthy (not slowed or dark) nodes, per run",
                None,
                Some(self.false_suspicions_healthy as f64 / runs),
                1,
            ),
            m(
                "false deaths of healthy (not slowed or dark) nodes, per run",
                None,
                Some(self.false_deaths_healthy as f64 / runs),
                1,
            ),
            m("refutations, per run", None, Some(self.refutes as f64 / runs), 1),
            m("join → seen alive by all: median (ms)", None, ms(&self.joins, median), 0),
            m("join → seen alive by all: max (ms)", None, ms(&self.joins, max), 0),
            m("joins not seen alive by all, in all runs", None, Some(self.joins_open as f64), 0),
            m(
                "broadcast → delivered to all: median (ms)",
                Some("broadcast, median (ms)"),
                ms(&self.broadcasts, median),
                0,
            ),
            m("broadcast → delivered to all: max (ms)", None, ms(&self.broadcasts, max), 0),
            m("broadcasts not delivered to all, in all runs", None, Some(self.broadcasts_open as f64), 0),
            m(
                "views converged after the last fault: median (s)",
                Some("reconverged, median (s)"),
                s(&self.reconverged, median),
                1,
            ),
            m("views converged after the last fault: max (s)", None, s(&self.reconverged, max), 1),
            m(
                "runs whose views did not converge",
                Some("runs not reconverged"),
                Some(self.not_reconverged as f64),
                0,
            ),
            m(
                "datagrams per node per period",
                Some("datagrams/node/period"),
                Some(self.datagrams_per_node_period / runs),
                2,
            ),
            m(
                "bytes per node per period",
                Some("bytes/node/period"),
                Some(self.bytes_per_node_period / runs),
                0,
            ),
        ]
    }

    fn metric(&self, name: &str) -> Option<f64> {
        self.metrics().into_iter().find(|m| m.name == name).and_then(|m| m.value)
    }
}

/// Several runs of one scenario: their summary, and the first run's timeline
/// and faults with times since its measured run started (for a chart).
#[derive(Debug, Clone)]
pub struct Runs {
    /// The summary.
    pub summary: Summary,
    /// The first run's timeline from the start of its measured run.
    pub timeline: Vec<Sample>,
    /// The first run's faults, at times since the start of its measured run.
    pub marks: Vec<(Duration, String)>,
}

/// Runs `spec` with the seeds `spec.seed`, `spec.seed + 1`, … (`seeds` of
/// them), one after another.
pub fn run_seeds(spec: &Spec, seeds: u64) -> Result<Runs, ConfigError> {
    let mut runs = Runs { summary: Summary::default(), timeline: Vec::new(), marks: Vec::new() };
    for k in 0..seeds.max(1) {
        let out = scenario::run(&Spec { seed: spec.seed.wrapping_add(k), ..spec.clone() })?;
        runs.summary.add(&out);
        if k == 0 {
            let since = |t: Duration| t.checked_sub(out.start);
            // From just after the start: a sample at the start itself can
            // predate the views of a bootstrap that took no virtual time.
            let after = out.sim.timeline().iter().filter(|s| s.t > out.start);
            runs.timeline = after.map(|s| Sample { t: s.t - out.start, ..*s }).collect();
            runs.marks = out.marks.iter().filter_map(|(t, l)| since(*t).map(|t| (t, l.clone()))).collect();
        }
    }
    Ok(runs)
}

/// The two summaries side by side, in Markdown: a row per metric, columns
/// A, B and B/A (`-` where A is zero or a side has nothing to measure).
pub fn compare_table(a_name: &str, b_name: &str, a: &Summary, b: &Summary) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| metric | A: {a_name} | B: {b_name} | B/A |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    for (ma, mb) in a.metrics().iter().zip(b.metrics()) {
        let ratio = match (ma.value, mb.value) {
            (Some(x), Some(y)) if x != 0.0 => format!("{:.2}", y / x),
            _ => "-".into(),
        };
        let _ = writeln!(s, "| {} | {} | {} | {ratio} |", ma.name, ma.text(), mb.text());
    }
    s
}

/// One row per swept value, in Markdown: the value of `field`, then the
/// summary's metrics that have a sweep column.
pub fn sweep_table(field: &str, rows: &[(String, Summary)]) -> String {
    let mut s = String::new();
    let columns: Vec<&str> = Summary::default().metrics().iter().filter_map(|m| m.column).collect();
    let _ = writeln!(s, "| {field} | {} |", columns.join(" | "));
    let _ = writeln!(s, "| ---: |{}", " ---: |".repeat(columns.len()));
    for (value, summary) in rows {
        let cells: Vec<String> =
            summary.metrics().iter().filter(|m| m.column.is_some()).map(Metric::text).collect();
        let _ = writeln!(s, "| {value} | {} |", cells.join(" | "));
    }
    s
}

/// The sweep as a chart: the value of `field` on x; above, crash detection
/// times (first suspicion and dead, medians, in seconds); below, false
/// suspicions and false deaths per run, each on its own scale.
pub fn sweep_chart(title: &str, field: &str, rows: &[(String, Summary)]) -> String {
    let values: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let col = |name: &str, scale: f64| -> Vec<Option<f64>> {
        rows.iter().map(|(_, s)| s.metric(name).map(|v| v * scale)).collect()
    };
    let panels = [
        (
            "median (s)",
            vec![("first suspicion", col(FIRST_MEDIAN, 1e-3)), ("declared dead", col(DEAD_MEDIAN, 1e-3))],
        ),
        ("per run", vec![("false suspicions", col(FALSE_SUSPICIONS, 1.0))]),
        ("per run", vec![("false deaths", col(FALSE_DEATHS, 1.0))]),
    ];
    svg::sweep_chart(title, field, &values, &panels)
}
