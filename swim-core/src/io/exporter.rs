//! Publishes a node's metrics through the [`metrics`] facade (feature
//! `metrics`): this module owns the metric names, their labels and how each
//! is read from the core.
//!
//! Each started `Cluster` publishes from its protocol loop (feature
//! `metrics`), no task of its own to wake: on the loop's first wake-up once
//! [`EXPORT_INTERVAL`] has passed (an idle node wakes for its probes every
//! protocol interval; the loop wakes for the export at the latest after
//! two intervals) it takes a [`Snapshot`] of the core under its lock
//! (the [`Metrics`] counters, members by state, gossip queue depth, health
//! score, and the probe results drained with
//! [`Swim::poll_probe_result`]) and hands it to whatever recorder the
//! application installed (e.g. `metrics-exporter-prometheus`), outside the
//! lock. Counters are set to the core's totals with
//! [`Counter::absolute`](metrics::Counter::absolute), so
//! [`Cluster::metrics`](crate::cluster::Cluster::metrics) and the exported
//! values agree. Every metric carries the label `node` (this node's name),
//! so several nodes can share one process and one recorder.
//!
//! [`METRICS`] lists every name with its type, labels and meaning (also in
//! `docs/metrics.md`). A driver of its own (a simulator, an embedded
//! loop) can publish the same names with [`Snapshot::take`] and
//! [`Exporter::publish`].

extern crate std;

use crate::io::driver::Shared;
use crate::{Metrics, State, Swim};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use metrics::{Label, SharedString};
use rand_core::RngCore;

/// How often a running `Cluster` publishes its metrics.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Histogram buckets (seconds) that suit `swim_probe_rtt_seconds`, from
/// 100 µs on a LAN to memberlist's 500 ms probe timeout and beyond. Recorders
/// choose their own representation: `metrics-exporter-prometheus` renders
/// histograms as summaries unless given buckets such as these
/// (`PrometheusBuilder::set_buckets_for_metric`).
pub const PROBE_RTT_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (set to the core's running total).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of samples.
    Histogram,
}

/// One published metric: its name, type, labels besides `node`, meaning and
/// the memberlist (go-metrics) name it is modelled on.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// The metric name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Labels besides `node`, with their values (`"key: v1, v2"`), or `""`.
    pub labels: &'static str,
    /// What it measures.
    pub help: &'static str,
    /// The closest memberlist metric, or `""`.
    pub memberlist: &'static str,
    /// How a counter without labels of its own is read from [`Metrics`].
    value: Option<fn(&Metrics) -> u64>,
}

const fn info(
    name: &'static str,
    kind: MetricKind,
    labels: &'static str,
    help: &'static str,
    memberlist: &'static str,
) -> MetricInfo {
    MetricInfo { name, kind, labels, help, memberlist, value: None }
}

/// A counter with no label but `node`, read from one [`Metrics`] field.
const fn total(
    name: &'static str,
    help: &'static str,
    memberlist: &'static str,
    value: fn(&Metrics) -> u64,
) -> MetricInfo {
    MetricInfo { name, kind: MetricKind::Counter, labels: "", help, memberlist, value: Some(value) }
}

use MetricKind::{Counter as C, Gauge as G, Histogram as H};

/// The `kind` label's values (memberlist message types).
const KINDS: &str = "kind: ping, indirect_ping, ack, nack, alive, suspect, dead, user";

/// Every metric the exporter publishes, each with the label `node`.
pub const METRICS: &[MetricInfo] = &[
    info(
        "swim_members",
        G,
        "state: alive, suspect, dead, left",
        "Members known in each state, this node included (dead and left ones until forgotten).",
        "memberlist.node.instances",
    ),
    info(
        "swim_gossip_queue_depth",
        G,
        "",
        "Gossip items waiting to be piggybacked.",
        "memberlist.queue.broadcasts",
    ),
    info(
        "swim_health_score",
        G,
        "",
        "Lifeguard local health score (0 = healthy).",
        "memberlist.health.score",
    ),
    info(
        "swim_probe_rtt_seconds",
        H,
        "",
        "Round-trip time of acked probes, from the direct ping to the ack (direct or indirect).",
        "memberlist.probeNode",
    ),
    total("swim_probes_total", "Probes started.", "memberlist.probeNode (count)", |m| m.probes),
    total("swim_probes_indirect_total", "Probes that needed indirect help.", "", |m| m.indirect_probes),
    total(
        "swim_probes_failed_total",
        "Probes that failed (the target became suspect).",
        "memberlist.degraded.probe",
        |m| m.failed_probes,
    ),
    total(
        "swim_suspicions_total",
        "Members this node marked suspect (suspicion timers started).",
        "memberlist.msg.suspect",
        |m| m.suspicions,
    ),
    total(
        "swim_suspicions_deferred_total",
        "Suspicion timeouts deferred: the suspect was heard from directly since.",
        "",
        |m| m.suspicions_deferred,
    ),
    total(
        "swim_suspicions_retold_total",
        "Suspects told of their suspicion again (heard from, or reminded of an unconfirmed one).",
        "",
        |m| m.suspicions_retold,
    ),
    total(
        "swim_declared_dead_total",
        "Members declared dead by this node's suspicion timers.",
        "memberlist.msg.dead",
        |m| m.declared_dead,
    ),
    total(
        "swim_refutations_total",
        "Suspicions or deaths of this node it refuted.",
        "memberlist.msg.alive (refute)",
        |m| m.refutes,
    ),
    total(
        "swim_refutations_sent_to_accusers_total",
        "Refutations also sent straight to the accuser.",
        "",
        |m| m.refutations_sent_to_accusers,
    ),
    total(
        "swim_push_pulls_total",
        "Push-pull state exchanges completed (either side).",
        "memberlist.pushPullNode (count)",
        |m| m.push_pulls,
    ),
    total(
        "swim_push_pulls_answered_total",
        "Of those, the ones another node started.",
        "memberlist.tcp.accept",
        |m| m.push_pulls_answered,
    ),
    total(
        "swim_push_pull_bytes_sent_total",
        "Bytes of push-pull state sent.",
        "memberlist.size.local",
        |m| m.push_pull_bytes_sent,
    ),
    total(
        "swim_push_pull_bytes_received_total",
        "Bytes of push-pull state received.",
        "memberlist.size.remote",
        |m| m.push_pull_bytes_received,
    ),
    total(
        "swim_catch_up_exchanges_total",
        "Extra state exchanges to catch up (after a join, or a view found lacking).",
        "",
        |m| m.catch_up_exchanges,
    ),
    total(
        "swim_reconnects_total",
        "State exchanges with a failed member or, while alone, a seed.",
        "",
        |m| m.reconnects,
    ),
    total(
        "swim_stream_errors_total",
        "TCP exchanges that failed (I/O, decode, version mismatch).",
        "",
        |m| m.stream_errors,
    ),
    total("swim_udp_packets_sent_total", "UDP packets sent.", "", |m| m.packets_sent),
    total("swim_udp_bytes_sent_total", "UDP bytes sent.", "memberlist.udp.sent", |m| m.bytes_sent),
    total("swim_udp_packets_received_total", "UDP packets received.", "", |m| m.packets_received),
    total("swim_udp_bytes_received_total", "UDP bytes received.", "memberlist.udp.received", |m| {
        m.bytes_received
    }),
    info(
        "swim_messages_sent_total",
        C,
        KINDS,
        "UDP messages sent by kind (parts of compound packets, piggybacked gossip included).",
        "",
    ),
    info("swim_messages_received_total", C, KINDS, "UDP messages received by kind.", ""),
    info("swim_dropped_total", C, "reason: one of DROP_REASONS", "Inputs dropped or refused, by reason.", ""),
    total("swim_user_messages_received_total", "Direct user messages received (UDP and TCP).", "", |m| {
        m.user_messages_received
    }),
    info(
        "swim_broadcasts_received_total",
        C,
        "outcome: delivered, duplicate, replayed",
        "Broadcasts received: delivered, already seen, or replayed from a state exchange.",
        "",
    ),
    total(
        "swim_intents_relayed_total",
        "Serf join and leave intents new to this node, gossiped on.",
        "",
        |m| m.intents_relayed,
    ),
    total("swim_leave_intents_refuted_total", "Leave intents naming this running node, refuted.", "", |m| {
        m.leave_intents_refuted
    }),
    total("swim_crc_checked_total", "Datagrams whose CRC was checked (and matched).", "", |m| m.crc_checked),
    total("swim_decompressed_total", "Compressed messages received and decompressed.", "", |m| {
        m.decompressed
    }),
    total("swim_handler_panics_total", "on_message handlers that panicked (caught).", "", |m| {
        m.handler_panics
    }),
    total(
        "swim_send_buffer_pool_misses_total",
        "Sends that found the buffer pool empty and allocated.",
        "",
        |m| m.buffer_pool_misses,
    ),
    total(
        "swim_direct_coalesced_total",
        "Direct messages sent sharing a datagram with others to the same member.",
        "",
        |m| m.direct_coalesced,
    ),
    total(
        "swim_send_queue_full_total",
        "Direct sends that found the send queue full (send waited, try_send refused).",
        "",
        |m| m.send_queue_full,
    ),
    total("swim_udp_send_errors_total", "Datagrams the socket refused to send.", "", |m| m.udp_send_errors),
    total(
        "swim_streams_refused_total",
        "Inbound TCP streams closed unread: too many at once, or over the byte budget.",
        "",
        |m| m.streams_refused,
    ),
];

/// The `reason` label's values of `swim_dropped_total`, each with what it
/// counts (a [`Metrics`] field).
pub const DROP_REASONS: &[(&str, &str)] = &[
    ("label", "packet label missing, unexpected or different"),
    ("decrypt", "no key decrypted it, or plaintext refused"),
    ("crc", "CRC mismatch"),
    ("malformed", "truncated, bad MessagePack, bad field"),
    ("truncated_part", "compound part running past the packet end"),
    ("decompress", "compressed payload invalid or too large"),
    ("wrong_node", "ping addressed to another node name"),
    ("unexpected", "message kind not valid on UDP"),
    ("invalid_member", "membership message with an invalid address or version vector"),
    ("stale_ack", "ack or nack matching no outstanding probe"),
    ("gossip_queue_full", "gossip item dropped, queue full"),
    ("outgoing_queue_full", "outgoing packet dropped, send queue full"),
    ("event_queue_full", "event dropped, the application did not read it"),
    ("handoff_queue_full", "message dropped, the on_message handlers were too far behind"),
    ("relay_limit", "indirect-probe request refused, too many in flight"),
    ("broadcast_too_old", "broadcast older than the de-duplication window"),
    ("broadcast_refused", "broadcast refused, too many of the same Lamport time"),
    ("serf_ignored", "Serf message other than a user event"),
    ("name_conflict", "alive message naming this node at another address"),
    ("broadcast_superseded", "latest-value broadcast older than one delivered"),
    ("not_allowed", "packet or stream from outside cidrs_allowed"),
    ("member_refused", "member refused: address outside cidrs_allowed, or by Hooks::admit"),
    ("hook_output", "ack payload or application state from the hooks over its size bound"),
    ("app_state_refused", "peer's application state over its size bound"),
    ("clock_jump", "Lamport time jumping too far ahead"),
    ("incarnation_jump", "incarnation moved more than 2^24 ahead"),
    ("reconnect_forgotten", "failed member forgotten early, too many remembered"),
];

/// The value of each `swim_dropped_total` reason, in [`DROP_REASONS`] order.
fn drops(m: &Metrics) -> [u64; 27] {
    [
        m.dropped_label,
        m.dropped_decrypt,
        m.dropped_crc,
        m.dropped_malformed,
        m.dropped_truncated_parts,
        m.dropped_decompress,
        m.dropped_wrong_node,
        m.dropped_unexpected,
        m.dropped_invalid_member,
        m.stale_acks,
        m.gossip_queue_dropped,
        m.outgoing_dropped,
        m.events_dropped,
        m.handoff_dropped,
        m.relays_dropped,
        m.broadcasts_too_old,
        m.broadcasts_refused,
        m.serf_messages_ignored,
        m.name_conflicts,
        m.broadcasts_superseded,
        m.dropped_not_allowed,
        m.members_refused,
        m.hook_output_dropped,
        m.app_state_refused,
        m.clock_jumps_refused,
        m.incarnation_jumps_refused,
        m.reconnect_forgotten,
    ]
}

/// Everything one publication needs, read from the core in one go.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The core's counters (a driver adds its own before publishing).
    pub metrics: Metrics,
    /// Members by state: alive, suspect, dead, left (this node included).
    pub members: [u64; 4],
    /// Gossip items queued.
    pub gossip_queue_depth: usize,
    /// Lifeguard's local health score.
    pub health_score: u32,
    /// Round-trip times of the probes acked since the last snapshot.
    pub probe_rtts: Vec<Duration>,
}

impl Snapshot {
    /// Reads `core`, draining its probe results (see
    /// [`Swim::poll_probe_result`]).
    pub fn take<R: RngCore>(core: &mut Swim<R>) -> Snapshot {
        let mut s = Snapshot::default();
        s.refresh(core);
        s
    }

    /// Reads `core` into this snapshot, as [`take`](Self::take) does,
    /// reusing its buffer: no allocation once it has held a second's probes.
    pub fn refresh<R: RngCore>(&mut self, core: &mut Swim<R>) {
        self.members = [0; 4];
        for state in core.member_states() {
            self.members[state_index(state)] += 1;
        }
        self.probe_rtts.clear();
        let acked = core::iter::from_fn(|| core.poll_probe_result()).filter(|r| r.outcome.is_acked());
        self.probe_rtts.extend(acked.map(|r| r.rtt));
        self.metrics = core.metrics();
        self.gossip_queue_depth = core.gossip_queue_len();
        self.health_score = core.health_score();
    }
}

fn state_index(s: State) -> usize {
    match s {
        State::Alive => 0,
        State::Suspect => 1,
        State::Dead => 2,
        State::Left => 3,
    }
}

const STATES: [&str; 4] = ["alive", "suspect", "dead", "left"];

/// Publishes snapshots of one node into the installed `metrics` recorder.
///
/// The handles (one per name and label set) are registered once and
/// reused: a publication sets atomics, it builds no keys and allocates
/// nothing. They are registered again when a different recorder is in
/// place (e.g. one installed after the node started), at the next
/// publication.
#[derive(Clone)]
pub struct Exporter {
    node: SharedString,
    handles: Option<Handles>,
}

/// The handles of one recorder, in the order [`each_counter`] and
/// [`each_gauge`] visit them.
#[derive(Clone)]
struct Handles {
    /// The recorder's address: another one means registering again.
    recorder: usize,
    counters: Vec<metrics::Counter>,
    gauges: Vec<metrics::Gauge>,
    rtt: metrics::Histogram,
}

impl core::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Exporter")
            .field("node", &self.node)
            .field("registered", &self.handles.is_some())
            .finish()
    }
}

/// The address of the recorder `metrics` hands out now (the no-op one
/// when none is installed).
fn recorder_id() -> usize {
    metrics::with_recorder(|r| r as *const dyn metrics::Recorder as *const () as usize)
}

/// Visits every counter: its name, its label besides `node`, its value in `m`.
fn each_counter(m: &Metrics, mut f: impl FnMut(&'static str, Option<(&'static str, &'static str)>, u64)) {
    for info in METRICS {
        if let Some(value) = info.value {
            f(info.name, None, value(m));
        }
    }
    for (outcome, v) in [
        ("delivered", m.broadcasts_received),
        ("duplicate", m.broadcasts_duplicate),
        ("replayed", m.broadcasts_replayed),
    ] {
        f("swim_broadcasts_received_total", Some(("outcome", outcome)), v);
    }
    for (kind, v) in m.messages_sent.by_kind() {
        f("swim_messages_sent_total", Some(("kind", kind)), v);
    }
    for (kind, v) in m.messages_received.by_kind() {
        f("swim_messages_received_total", Some(("kind", kind)), v);
    }
    for ((reason, _), v) in DROP_REASONS.iter().zip(drops(m)) {
        f("swim_dropped_total", Some(("reason", reason)), v);
    }
}

/// Visits every gauge: its name, its label besides `node`, its value in `s`.
fn each_gauge(s: &Snapshot, mut f: impl FnMut(&'static str, Option<(&'static str, &'static str)>, f64)) {
    for (state, n) in STATES.iter().zip(s.members) {
        f("swim_members", Some(("state", state)), n as f64);
    }
    f("swim_gossip_queue_depth", None, s.gossip_queue_depth as f64);
    f("swim_health_score", None, f64::from(s.health_score));
}

impl Exporter {
    /// An exporter labelling everything `node = node_name`. Describes every
    /// metric (help text) to the recorder installed now, and again to any
    /// other one it later publishes to.
    pub fn new(node_name: &str) -> Self {
        let mut e = Exporter { node: SharedString::from(Arc::<str>::from(node_name)), handles: None };
        e.register();
        e
    }

    /// Describes every metric to the current recorder and registers the
    /// handles publications set.
    fn register(&mut self) {
        for m in METRICS {
            let help = SharedString::const_str(m.help);
            match m.kind {
                MetricKind::Counter => metrics::describe_counter!(m.name, help),
                MetricKind::Gauge => metrics::describe_gauge!(m.name, help),
                MetricKind::Histogram => metrics::describe_histogram!(m.name, help),
            }
        }
        let mut counters = Vec::new();
        each_counter(&Metrics::default(), |name, extra, _| {
            counters.push(metrics::counter!(name, self.labels(extra)));
        });
        let mut gauges = Vec::new();
        each_gauge(&Snapshot::default(), |name, extra, _| {
            gauges.push(metrics::gauge!(name, self.labels(extra)));
        });
        let rtt = metrics::histogram!("swim_probe_rtt_seconds", self.labels(None));
        self.handles = Some(Handles { recorder: recorder_id(), counters, gauges, rtt });
    }

    fn labels(&self, extra: Option<(&'static str, &'static str)>) -> Vec<Label> {
        let mut v = Vec::with_capacity(2);
        v.push(Label::new("node", self.node.clone()));
        if let Some((k, val)) = extra {
            v.push(Label::new(k, val));
        }
        v
    }

    /// Sets every counter and gauge from `s` and records its probe
    /// round-trip times (seconds) into `swim_probe_rtt_seconds`.
    pub fn publish(&mut self, s: &Snapshot) {
        if self.handles.as_ref().is_none_or(|h| h.recorder != recorder_id()) {
            self.register();
        }
        let Some(h) = &self.handles else { return };
        let mut counters = h.counters.iter();
        each_counter(&s.metrics, |_, _, v| {
            if let Some(c) = counters.next() {
                c.absolute(v);
            }
        });
        let mut gauges = h.gauges.iter();
        each_gauge(s, |_, _, v| {
            if let Some(g) = gauges.next() {
                g.set(v);
            }
        });
        for d in &s.probe_rtts {
            h.rtt.record(d.as_secs_f64());
        }
    }
}

/// The publishing a started `Cluster`'s protocol loop does: at once, then
/// on its first wake-up once [`EXPORT_INTERVAL`] passed.
pub(crate) struct Ticker {
    exporter: Exporter,
    snapshot: Snapshot,
    last: Option<std::time::Instant>,
}

impl Ticker {
    pub(crate) fn new(shared: &Shared) -> Ticker {
        let name = shared.read(|c| c.name().clone());
        Ticker { exporter: Exporter::new(name.as_str()), snapshot: Snapshot::default(), last: None }
    }

    /// Publishes if an interval passed since the last time; returns when
    /// the loop must wake at the latest for the next one.
    pub(crate) fn tick(&mut self, shared: &Shared) -> std::time::Instant {
        let now = std::time::Instant::now();
        if self.last.is_none_or(|t| now.duration_since(t) >= EXPORT_INTERVAL * 9 / 10) {
            shared.with_core_quiet(|core| self.snapshot.refresh(core));
            shared.add_driver_counters(&mut self.snapshot.metrics);
            self.exporter.publish(&self.snapshot);
            self.last = Some(now);
        }
        self.last.unwrap_or(now) + 2 * EXPORT_INTERVAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// A recorder that keeps its counters and counts registrations.
    #[derive(Default)]
    struct Counting {
        counters: std::sync::Mutex<Vec<(String, Arc<core::sync::atomic::AtomicU64>)>>,
        registered: core::sync::atomic::AtomicUsize,
    }

    impl metrics::Recorder for Counting {
        fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
            self.registered.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            let cell = Arc::new(core::sync::atomic::AtomicU64::new(0));
            let labels: Vec<String> =
                key.labels().map(|l| alloc::format!("{}={}", l.key(), l.value())).collect();
            let name = alloc::format!("{}{{{}}}", key.name(), labels.join(","));
            self.counters.lock().unwrap().push((name, cell.clone()));
            metrics::Counter::from_arc(cell)
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            self.registered.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            metrics::Gauge::noop()
        }
        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
            self.registered.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            metrics::Histogram::noop()
        }
    }

    impl Counting {
        fn value(&self, name: &str) -> Option<u64> {
            let counters = self.counters.lock().unwrap();
            counters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.load(core::sync::atomic::Ordering::Relaxed))
        }
    }

    #[test]
    fn handles_are_registered_once_per_recorder_and_a_later_recorder_gets_them_too() {
        // Made before any recorder is in place, as a node started early is.
        let mut exporter = Exporter::new("n1");
        let mut s = Snapshot::default();
        s.metrics.probes = 5;
        s.metrics.messages_sent.ack = 2;
        exporter.publish(&s);
        let rec = Counting::default();
        metrics::with_local_recorder(&rec, || exporter.publish(&s));
        let per_recorder = rec.registered.load(core::sync::atomic::Ordering::Relaxed);
        assert!(per_recorder > 60, "every metric registered: {per_recorder}");
        assert_eq!(rec.value("swim_probes_total{node=n1}"), Some(5));
        assert_eq!(rec.value("swim_messages_sent_total{node=n1,kind=ack}"), Some(2));
        assert_eq!(rec.value("swim_messages_sent_total{node=n1,kind=ping}"), Some(0));
        s.metrics.probes = 9;
        for _ in 0..10 {
            metrics::with_local_recorder(&rec, || exporter.publish(&s));
        }
        assert_eq!(rec.value("swim_probes_total{node=n1}"), Some(9));
        assert_eq!(
            rec.registered.load(core::sync::atomic::Ordering::Relaxed),
            per_recorder,
            "handles reused"
        );
    }

    #[test]
    fn the_names_publish_writes_out_by_hand_are_the_listed_ones_without_a_field() {
        let mut by_hand: Vec<&str> = METRICS.iter().filter(|i| i.value.is_none()).map(|i| i.name).collect();
        by_hand.sort_unstable();
        let mut expected = [
            "swim_broadcasts_received_total",
            "swim_messages_sent_total",
            "swim_messages_received_total",
            "swim_dropped_total",
            "swim_members",
            "swim_gossip_queue_depth",
            "swim_health_score",
            "swim_probe_rtt_seconds",
        ];
        expected.sort_unstable();
        assert_eq!(by_hand, expected);
        assert_eq!(DROP_REASONS.len(), drops(&Metrics::default()).len());
        let mut names: Vec<&str> = METRICS.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len(), "a name listed twice");
    }

    /// The full list in docs/metrics.md is this table: regenerate it with
    /// `cargo test -p swim-core --features metrics -- --nocapture docs_list`.
    #[test]
    fn docs_list_every_metric_and_drop_reason() {
        let docs = include_str!("../../../docs/metrics.md");
        let mut table = String::from("| name | type | labels besides `node` | meaning | memberlist |\n");
        table.push_str("| --- | --- | --- | --- | --- |\n");
        for m in METRICS {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let labels =
                if m.labels.is_empty() { String::from("—") } else { alloc::format!("`{}`", m.labels) };
            let ml = if m.memberlist.is_empty() {
                String::from("—")
            } else {
                alloc::format!("`{}`", m.memberlist)
            };
            table.push_str(&alloc::format!("| `{}` | {kind} | {labels} | {} | {ml} |\n", m.name, m.help));
        }
        let mut reasons = String::from("| reason | dropped or refused |\n| --- | --- |\n");
        for (r, meaning) in DROP_REASONS {
            reasons.push_str(&alloc::format!("| `{r}` | {meaning} |\n"));
        }
        std::println!("{table}\n{reasons}");
        assert!(docs.contains(&table), "docs/metrics.md lacks the current metrics table");
        assert!(docs.contains(&reasons), "docs/metrics.md lacks the current drop reasons");
    }
}
