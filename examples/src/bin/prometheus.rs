//! Serves a small cluster's metrics in Prometheus text format over HTTP.
//! Run: `cargo run -p swim-examples --bin prometheus -- [PORT] [NODES]`
//! (defaults 9100 and 3; port 0 lets the OS pick), then
//! `curl localhost:9100/metrics`.
//!
//! Installs `metrics-exporter-prometheus` as the process's `metrics`
//! recorder, starts NODES nodes on loopback (swim-tokio with its `metrics`
//! feature) joined into one cluster, and answers `GET /metrics` with the
//! rendered text from a plain std listener: every node's metrics, told apart
//! by their `node` label (names in docs/metrics.md). Runs until killed.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use swim_core::io::exporter::PROBE_RTT_BUCKETS;
use swim_tokio::{Cluster, Config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    swim_examples::init_logging();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(9100), |a| a.parse())?;
    let nodes: usize = args.next().map_or(Ok(3), |a| a.parse())?;

    // The recorder first: nodes describe their metrics to it when they start.
    // With buckets the probe round-trip times render as a histogram (a
    // summary otherwise).
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("swim_probe_rtt_seconds".into()), PROBE_RTT_BUCKETS)?
        .install_recorder()?;

    let listener = TcpListener::bind(("127.0.0.1", port))?;
    // The test reads this line to find the port.
    println!("metrics: http://{}/metrics", listener.local_addr()?);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let _cluster = rt.block_on(start_cluster(nodes))?;
    let upkeep = handle.clone();
    rt.spawn(async move {
        // Keeps the recorder's histogram storage bounded between scrapes.
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                if let Err(e) = serve(conn, &handle) {
                    eprintln!("scrape failed: {e}");
                }
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}

/// Starts `n` nodes on loopback, `node-2`… joined through `node-1`.
async fn start_cluster(n: usize) -> Result<Vec<Cluster>, Box<dyn std::error::Error>> {
    let mut cluster: Vec<Cluster> = Vec::new();
    for i in 1..=n {
        let config = Config {
            bind_addr: "127.0.0.1".parse()?,
            bind_port: 0,
            node_name: Some(format!("node-{i}")),
            ..Config::local()
        };
        let node = Cluster::create(config).await?;
        node.start();
        if let Some(seed) = cluster.first() {
            node.join(&[seed.local_addr().to_string()]).await?;
        }
        cluster.push(node);
    }
    Ok(cluster)
}

/// Answers one HTTP/1.x request: the metrics for `GET /metrics`, 404 for
/// anything else; then closes the connection.
fn serve(conn: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut conn = reader.into_inner();
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) = if request_line.starts_with("GET ") && path == "/metrics" {
        ("200 OK", "text/plain; version=0.0.4", handle.render())
    } else {
        ("404 Not Found", "text/plain", "try GET /metrics\n".to_string())
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}
