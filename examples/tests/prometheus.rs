//! Runs the `prometheus` example (3 nodes, metrics on an OS-chosen port) and
//! scrapes it over HTTP until the cluster has converged and probed: every
//! node's metrics must be there, labelled with its name, with plausible values.
//!
//! The example runs as its own process: the `metrics` facade has one global
//! recorder per process, and this way the test exercises the example as
//! users run it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NODES: usize = 3;

/// Kills the example when the test ends, pass or fail.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GETs `path` from `addr`; the status line and the body.
fn get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

/// The value of the sample `name{labels}` (labels in the exporter's order).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = format!("{name}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&key)).and_then(|v| v.trim().parse().ok())
}

fn converged(text: &str) -> bool {
    (1..=NODES).all(|i| {
        let node = format!("node=\"node-{i}\"");
        sample(text, "swim_members", &format!("{node},state=\"alive\"")) == Some(NODES as f64)
            && sample(text, "swim_probe_rtt_seconds_count", &node).is_some_and(|n| n > 0.0)
    })
}

#[test]
fn the_prometheus_example_serves_every_nodes_metrics() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prometheus"))
        .args(["0", &NODES.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().unwrap();
    let _example = Example(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("the example prints its address");
    let addr = line.trim().strip_prefix("metrics: http://").and_then(|l| l.strip_suffix("/metrics"));
    let addr = addr.unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();

    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (status, body) = get(&addr, "/metrics").expect("scrape");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if converged(&body) {
            break body;
        }
        assert!(Instant::now() < deadline, "no convergence within 30 s; last scrape:\n{body}");
        std::thread::sleep(Duration::from_millis(250));
    };

    for i in 1..=NODES {
        let node = format!("node=\"node-{i}\"");
        let value = |name: &str, extra: &str| {
            let labels = if extra.is_empty() { node.clone() } else { format!("{node},{extra}") };
            sample(&text, name, &labels).unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
        };
        assert!(value("swim_probes_total", "") > 0.0);
        assert_eq!(value("swim_probes_failed_total", ""), 0.0, "loopback loses nothing");
        assert_eq!(value("swim_members", "state=\"dead\""), 0.0);
        assert!(value("swim_udp_bytes_sent_total", "") > 0.0);
        assert!(value("swim_messages_sent_total", "kind=\"ping\"") > 0.0);
        assert!(value("swim_messages_received_total", "kind=\"ack\"") > 0.0);
        assert!(value("swim_push_pulls_total", "") >= 1.0, "every node took part in a join");
        assert!(value("swim_push_pull_bytes_received_total", "") > 0.0);
        assert_eq!(value("swim_dropped_total", "reason=\"decrypt\""), 0.0);
        assert_eq!(value("swim_health_score", ""), 0.0);
        assert!(value("swim_gossip_queue_depth", "") >= 0.0);
        // A histogram (the example gives it buckets), with loopback round trips.
        let count = value("swim_probe_rtt_seconds_count", "");
        let sum = value("swim_probe_rtt_seconds_sum", "");
        assert!(count > 0.0 && sum / count < 0.2, "mean probe RTT {} s", sum / count);
        assert_eq!(value("swim_probe_rtt_seconds_bucket", "le=\"+Inf\""), count);
    }
    // Every documented metric is there, with its help text.
    for name in swim_core::io::exporter::METRICS.iter().map(|m| m.name) {
        assert!(text.contains(&format!("# HELP {name} ")), "no {name} in\n{text}");
    }
    let (status, _) = get(&addr, "/other").unwrap();
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}
