//! What a run measured: crash detection, false positives, convergence,
//! message load, and the timeline of views.

use std::fmt;
use std::time::Duration;

/// Median, 99th percentile and maximum of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dist {
    /// How many values.
    pub count: usize,
    /// The median (nearest rank).
    pub median: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest value.
    pub max: Duration,
    /// The arithmetic mean.
    pub mean: Duration,
}

impl Dist {
    /// The distribution of `values` (empty gives all zeros).
    pub fn of(values: &[Duration]) -> Dist {
        if values.is_empty() {
            return Dist::default();
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        let total: Duration = v.iter().sum();
        Dist {
            count: v.len(),
            median: rank(0.5),
            p99: rank(0.99),
            max: v[v.len() - 1],
            mean: total / v.len() as u32,
        }
    }
}

/// Sim-side counters of everything the virtual network did since the last
/// [`crate::Sim::reset_measurements`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams the cores produced.
    pub datagrams_sent: u64,
    /// Bytes of those datagrams.
    pub datagram_bytes: u64,
    /// Datagrams dropped by the loss model.
    pub datagrams_lost: u64,
    /// Datagrams dropped by a partition or a cut link.
    pub datagrams_blocked: u64,
    /// Datagrams that reached a crashed or paused node (dropped).
    pub datagrams_to_down: u64,
    /// Stream exchanges started (joins, push-pull, TCP pings, reliable sends).
    pub streams_sent: u64,
    /// Bytes written on streams, both directions.
    pub stream_bytes: u64,
    /// Stream exchanges that failed (blocked, timed out, target down, refused).
    pub streams_failed: u64,
    /// `Suspect` events about a node whose process was running normally.
    pub false_suspicions: u64,
    /// `Leave` (dead) events about a node whose process was running normally.
    pub false_deaths: u64,
    /// `Suspect` events about a healthy node: running normally and not
    /// slowed (`--slow`) nor dark (`--dark`): the Lifeguard paper's false positives.
    pub false_suspicions_healthy: u64,
    /// `Leave` (dead) events about a healthy node (running, not slowed or dark).
    pub false_deaths_healthy: u64,
    /// All `Suspect` events.
    pub suspicions: u64,
    /// All dead `Leave` events.
    pub deaths: u64,
    /// Membership events of all kinds.
    pub events: u64,
    /// Simulation events processed (packets, timers, streams, faults).
    pub sim_events: u64,
}

/// The detection of one crash, by every observer that was live at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashRecord {
    /// The crashed node.
    pub node: usize,
    /// When it crashed (since the simulation start).
    pub at: Duration,
    /// Whether it was a pause rather than a crash.
    pub paused: bool,
    /// Per observer, time from the crash to its first suspicion (or death, if
    /// it learned of the death first).
    pub suspected: Vec<(usize, Duration)>,
    /// Per observer, time from the crash to declaring it dead.
    pub dead: Vec<(usize, Duration)>,
    /// When the record closed (restart or resume), if it did.
    pub closed: Option<Duration>,
}

impl CrashRecord {
    /// Time until the first observer suspected it.
    pub fn first_detection(&self) -> Option<Duration> {
        self.suspected.iter().map(|(_, d)| *d).min()
    }
}

/// How long a join (a new node, or a restarted one) took to reach every live node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRecord {
    /// The node.
    pub node: usize,
    /// When it started joining.
    pub at: Duration,
    /// Time until every live node saw it alive, if that happened.
    pub converged: Option<Duration>,
    /// For a restart: the incarnation the crashed instance had.
    pub incarnation_before: Option<u32>,
    /// The incarnation of the (new) instance when every live node saw it.
    pub incarnation_after: Option<u32>,
}

/// How long one broadcast took to reach every live node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastRecord {
    /// Who broadcast it.
    pub origin: usize,
    /// When.
    pub at: Duration,
    /// Nodes it was delivered to (the origin excluded).
    pub delivered: usize,
    /// Time until every live node had it, if that happened.
    pub converged: Option<Duration>,
}

/// One point of the timeline: member states averaged over the live observers' views.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Virtual time since the start.
    pub t: Duration,
    /// Nodes whose process runs normally (not crashed, paused or leaving).
    pub running: u32,
    /// Average number of members seen alive by a running node (itself included).
    pub alive: f64,
    /// Average number seen suspect.
    pub suspect: f64,
    /// Average number seen dead or left (until forgotten).
    pub dead: f64,
}

/// Everything a run measured, ready to print.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Nodes created (restarts not counted).
    pub nodes: usize,
    /// The protocol period.
    pub interval: Duration,
    /// Virtual time covered by the measurements.
    pub measured: Duration,
    /// The counters.
    pub counters: Counters,
    /// Every crash and pause.
    pub crashes: Vec<CrashRecord>,
    /// Every join and restart.
    pub joins: Vec<JoinRecord>,
    /// Every tracked broadcast.
    pub broadcasts: Vec<BroadcastRecord>,
    /// Datagrams sent per running node per protocol period.
    pub msgs_per_node_period: f64,
    /// Bytes (datagrams and streams) sent per running node per protocol period.
    pub bytes_per_node_period: f64,
    /// Refutations by the cores (incarnation bumps), over the nodes now running.
    pub refutes: u64,
    /// Heap bytes of a running node's member table, on average (entries and
    /// indexes as the core counts them; shared names and profiles aside).
    pub member_table_bytes_per_node: f64,
    /// The trace hash (a 64-bit hash of every membership event and fault).
    pub trace_hash: u64,
}

impl Report {
    /// Per-observer times to first suspicion, over the crash (not pause) records.
    pub fn suspicion_times(&self) -> Vec<Duration> {
        self.crashes.iter().filter(|c| !c.paused).flat_map(|c| c.suspected.iter().map(|x| x.1)).collect()
    }

    /// Per-observer times to dead, over the crash (not pause) records.
    pub fn dead_times(&self) -> Vec<Duration> {
        self.crashes.iter().filter(|c| !c.paused).flat_map(|c| c.dead.iter().map(|x| x.1)).collect()
    }

    /// Times to the first suspicion by anyone, over the crash records.
    pub fn first_detection_times(&self) -> Vec<Duration> {
        self.crashes.iter().filter(|c| !c.paused).filter_map(|c| c.first_detection()).collect()
    }

    /// Times until a join was seen alive by every live node (converged ones).
    pub fn join_times(&self) -> Vec<Duration> {
        self.joins.iter().filter_map(|j| j.converged).collect()
    }

    /// Times until a broadcast reached every live node (converged ones).
    pub fn broadcast_times(&self) -> Vec<Duration> {
        self.broadcasts.iter().filter_map(|b| b.converged).collect()
    }

    /// Per-observer time to first suspicion, over the crash (not pause) records.
    pub fn suspicion_dist(&self) -> Dist {
        Dist::of(&self.suspicion_times())
    }

    /// Per-observer time to dead, over the crash (not pause) records.
    pub fn dead_dist(&self) -> Dist {
        Dist::of(&self.dead_times())
    }

    /// Time to the first suspicion by anyone, over the crash records.
    pub fn first_detection_dist(&self) -> Dist {
        Dist::of(&self.first_detection_times())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        let periods = |d: Duration| d.as_secs_f64() / self.interval.as_secs_f64();
        writeln!(
            f,
            "measured {:.1} s of virtual time ({:.0} protocol periods of {:?}), seed {}",
            self.measured.as_secs_f64(),
            periods(self.measured),
            self.interval,
            self.seed
        )?;
        writeln!(f)?;
        writeln!(f, "| metric | count | median | p99 | max | mean (periods) |")?;
        writeln!(f, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, d: Dist| {
            if d.count == 0 {
                writeln!(f, "| {name} | 0 | - | - | - | - |")
            } else {
                writeln!(
                    f,
                    "| {name} | {} | {} | {} | {} | {:.2} |",
                    d.count,
                    ms(d.median),
                    ms(d.p99),
                    ms(d.max),
                    periods(d.mean)
                )
            }
        };
        row(f, "crash → first suspicion by anyone", self.first_detection_dist())?;
        row(f, "crash → suspected, per observer", self.suspicion_dist())?;
        row(f, "crash → dead, per observer", self.dead_dist())?;
        row(f, "join → seen alive by all", Dist::of(&self.join_times()))?;
        row(f, "broadcast → delivered to all", Dist::of(&self.broadcast_times()))?;
        writeln!(f)?;
        let crashes: Vec<&CrashRecord> = self.crashes.iter().filter(|c| !c.paused).collect();
        if !crashes.is_empty() {
            let full = crashes.iter().filter(|c| !c.dead.is_empty()).count();
            writeln!(f, "crashes: {} ({} declared dead by at least one node)", crashes.len(), full)?;
        }
        let open = self.joins.iter().filter(|j| j.converged.is_none()).count();
        if open > 0 {
            writeln!(f, "joins not yet seen by every live node: {open}")?;
        }
        for j in self.joins.iter().filter(|j| j.incarnation_before.is_some()) {
            writeln!(
                f,
                "restart of n{}: incarnation {} before the crash, {} after rejoining{}",
                j.node,
                j.incarnation_before.unwrap_or(0),
                j.incarnation_after.map_or("-".to_string(), |i| i.to_string()),
                match (j.incarnation_before, j.incarnation_after) {
                    (Some(b), Some(a)) if a > b => " (higher: ok)",
                    (_, None) => " (not converged)",
                    _ => " (NOT higher)",
                }
            )?;
        }
        writeln!(
            f,
            "false suspicions of running nodes: {}   false deaths: {}   refutations: {}",
            c.false_suspicions, c.false_deaths, self.refutes
        )?;
        writeln!(
            f,
            "of healthy (not slowed or dark) nodes: false suspicions {}   false deaths {}",
            c.false_suspicions_healthy, c.false_deaths_healthy
        )?;
        writeln!(f, "suspicions (all): {}   deaths (all): {}", c.suspicions, c.deaths)?;
        writeln!(
            f,
            "load per node per period: {:.2} datagrams, {:.0} bytes (datagrams + streams)",
            self.msgs_per_node_period, self.bytes_per_node_period
        )?;
        writeln!(
            f,
            "memory per node: {:.1} KiB of member table (mean over running nodes)",
            self.member_table_bytes_per_node / 1024.0
        )?;
        writeln!(
            f,
            "network: {} datagrams ({} lost, {} blocked, {} to down nodes), {} streams ({} failed)",
            c.datagrams_sent,
            c.datagrams_lost,
            c.datagrams_blocked,
            c.datagrams_to_down,
            c.streams_sent,
            c.streams_failed
        )?;
        write!(f, "trace hash: {:016x}", self.trace_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let d = Dist::of(&v);
        assert_eq!(d.median, Duration::from_millis(50));
        assert_eq!(d.p99, Duration::from_millis(99));
        assert_eq!(d.max, Duration::from_millis(100));
        assert_eq!(Dist::of(&[]).count, 0);
    }
}
