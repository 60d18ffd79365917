//! What an operator sees in `tracing`: spans for a join, probe rounds (and
//! how each ended), push-pulls and the streams that carry them, each with
//! its peer, outcome and duration; and a healthy cluster that is quiet at
//! `info`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swim_tokio::{Cluster, Config};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = HashMap<String, String>;

#[derive(Default)]
struct Seen {
    open: HashMap<u64, (&'static str, Fields)>,
    closed: Vec<(&'static str, Fields)>,
    events: Vec<(Level, Fields)>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}").trim_matches('"').to_string());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut f = Fields::new();
        attrs.record(&mut Collect(&mut f));
        self.0.lock().unwrap().open.insert(id.into_u64(), (attrs.metadata().name(), f));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some((_, f)) = self.0.lock().unwrap().open.get_mut(&id.into_u64()) {
            values.record(&mut Collect(f));
        }
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut f = Fields::new();
        event.record(&mut Collect(&mut f));
        self.0.lock().unwrap().events.push((*event.metadata().level(), f));
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(span) = seen.open.remove(&id.into_u64()) {
            seen.closed.push(span);
        }
    }
}

impl Capture {
    fn closed(&self, name: &str, field: &str, value: &str) -> Vec<Fields> {
        let seen = self.0.lock().unwrap();
        seen.closed
            .iter()
            .filter(|(n, f)| *n == name && f.get(field).is_some_and(|v| v == value))
            .map(|(_, f)| f.clone())
            .collect()
    }
}

fn config(name: &str) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        protocol_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        gossip_interval: Duration::from_millis(50),
        push_pull_interval: Duration::from_millis(500),
        suspicion_mult: 2,
        ..Config::default()
    }
}

async fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

fn has_duration(f: &Fields) -> bool {
    f.get("duration_ms").and_then(|d| d.parse::<f64>().ok()).is_some_and(|d| d >= 0.0)
}

#[test]
fn joins_probes_and_push_pulls_are_spans_and_a_healthy_cluster_is_quiet_at_info() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    // One thread: every task the nodes spawn reports to this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            let n = Cluster::create(config(name)).await.unwrap();
            n.start();
            nodes.push(n);
        }
        let seed = nodes[0].local_addr().to_string();
        for n in &nodes[1..] {
            assert_eq!(n.join(&[&seed]).await.unwrap(), 1);
        }
        assert!(wait_until(Duration::from_secs(10), || nodes.iter().all(|n| n.members().len() == 3)).await);

        // A join: an info span with the seeds, how many answered, and its duration.
        let joins = capture.closed("join", "contacted", "1");
        assert_eq!(joins.len(), 2, "one join span per joining node");
        assert!(joins.iter().all(|j| j["seeds"].contains(&seed) && has_duration(j)));
        // Its stream: kind, peer, outcome, bytes, duration.
        let streams = capture.closed("stream", "kind", "join");
        assert!(streams.iter().any(|s| s["peer"] == seed && s["outcome"] == "ok" && has_duration(s)));
        assert!(streams.iter().all(|s| s.contains_key("bytes_in") && s.contains_key("bytes_out")));
        let served = capture.closed("stream_in", "outcome", "ok");
        assert!(served.len() >= 2 && served.iter().all(has_duration));

        // Healthy and stable: periodic push-pulls and probes, nothing at info.
        let before = capture.0.lock().unwrap().events.len();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let loud: Vec<Fields> = capture.0.lock().unwrap().events[before..]
            .iter()
            .filter(|(level, _)| *level <= Level::INFO)
            .map(|(_, f)| f.clone())
            .collect();
        assert!(loud.is_empty(), "a healthy cluster logged at info or above: {loud:?}");
        let acked = capture.closed("probe", "outcome", "direct");
        assert!(acked.len() >= 10, "probe rounds of 3 nodes over 3 s: {}", acked.len());
        assert!(acked.iter().all(|p| p.contains_key("peer") && p.contains_key("seq") && has_duration(p)));
        let push_pulls = capture.closed("stream", "kind", "push_pull");
        assert!(push_pulls.iter().any(|s| s["outcome"] == "ok"), "periodic push-pulls are spans");

        // A crash: the probe rounds that find it end "failed", and its death
        // is a warning.
        let crashed = nodes.pop().unwrap();
        let crashed_name = crashed.local_node().id.to_string();
        crashed.shutdown().await;
        let dead = || {
            capture.0.lock().unwrap().events.iter().any(|(level, f)| {
                *level == Level::WARN
                    && f.get("message").is_some_and(|m| m == "member failed")
                    && f.get("member") == Some(&crashed_name)
            })
        };
        assert!(wait_until(Duration::from_secs(10), dead).await, "no warning that the member failed");
        let failed = capture.closed("probe", "outcome", "failed");
        assert!(failed.iter().any(|p| p["peer"] == crashed_name && has_duration(p)));
        for n in &nodes {
            n.shutdown().await;
        }
    });
}
