//! A 5-node encrypted cluster on 127.0.0.1 in one process. It prints the
//! membership table as it changes, sends a broadcast and direct messages,
//! crashes one node and shows it go suspect -> dead everywhere, then exits.
//!
//! Run: `cargo run --release --bin demo` (on smol: add `-- --runtime smol`)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swim_core::cluster::Cluster;
use swim_core::runtime::Runtime;
use swim_examples::sleep;
use swim_tokio::{Config, Event, State};

const N: usize = 5;

/// Each node's view of the others; `None` once the node has crashed.
type Views = Arc<Mutex<BTreeMap<String, Option<BTreeMap<String, State>>>>>;

fn print_table(views: &Views, started: Instant) {
    let views = views.lock().unwrap();
    let names: Vec<String> = (1..=N).map(|i| format!("node-{i}")).collect();
    println!("\n[{:>5.1}s] membership as each node sees it", started.elapsed().as_secs_f64());
    print!("{:>10} |", "observer");
    for n in &names {
        print!(" {n:>8}");
    }
    println!();
    for (observer, view) in views.iter() {
        print!("{observer:>10} |");
        let Some(view) = view else {
            println!(" (crashed: its tasks are stopped)");
            continue;
        };
        for n in &names {
            let cell = if n == observer {
                "self".to_string()
            } else {
                view.get(n).map(|s| s.to_string()).unwrap_or_else(|| "-".into())
            };
            print!(" {cell:>8}");
        }
        println!();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    swim_examples::init_logging();
    swim_examples::run_selected(demo::<swim_tokio::Tokio>(), demo::<swim_smol::Smol>())
}

async fn demo<R: Runtime>() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let key = b"demo-key-demo-key-demo-key-32-by".to_vec();
    let views: Views = Arc::default();
    let mut nodes = Vec::new();
    let mut printers = Vec::new();
    for i in 1..=N {
        let config = Config {
            bind_addr: "127.0.0.1".parse()?,
            bind_port: 0,
            node_name: Some(format!("node-{i}")),
            protocol_interval: Duration::from_millis(500),
            probe_timeout: Duration::from_millis(250),
            encryption_enabled: true,
            secret_key: key.clone(),
            ..Config::default()
        };
        let node = Cluster::<R>::create(config).await?;
        node.start();
        let me = format!("node-{i}");
        views.lock().unwrap().insert(me.clone(), Some(BTreeMap::new()));
        let mut events = node.events();
        let (v, observer) = (views.clone(), me.clone());
        printers.push(R::current().spawn(async move {
            while let Some(e) = events.next().await {
                let (what, n) = match &e {
                    Event::Join(n) => ("joined", n),
                    Event::Leave(n) => (if n.state == State::Dead { "is DEAD" } else { "left" }, n),
                    Event::Suspect(n) => ("is SUSPECT", n),
                    Event::Alive(n) => ("is alive again", n),
                    Event::Update(n) => ("updated", n),
                    _ => continue,
                };
                if let Some(Some(view)) = v.lock().unwrap().get_mut(&observer) {
                    view.insert(n.id.to_string(), n.state);
                }
                println!("  {observer}: {} {what}", n.id);
                print_table(&v, started);
            }
        }));
        node.on_message(move |sender, topic, payload| {
            println!("  {me} got '{topic}' from {}: {}", sender.id, String::from_utf8_lossy(payload));
        });
        nodes.push(node);
    }
    println!("5 nodes created on 127.0.0.1 with AES-256-GCM; joining through node-1 ...");
    let seed = nodes[0].local_addr().to_string();
    for n in &nodes[1..] {
        n.join(&[&seed]).await?;
    }
    while !nodes.iter().all(|n| n.members().len() == N) {
        sleep::<R>(Duration::from_millis(50)).await;
    }
    println!("\n== converged after {:.1}s: every node sees {N} members", started.elapsed().as_secs_f64());

    println!("\n== node-1 broadcasts 'config-update' (gossip) and sends direct messages");
    nodes[0].broadcast("config-update", br#"{"version": 2}"#)?;
    nodes[0].send(&"node-2".into(), "ping", b"pong").await?;
    nodes[1].send_to_addr(nodes[2].local_addr(), "alert", b"alert-data").await?;
    sleep::<R>(Duration::from_secs(2)).await;

    println!("\n== crashing node-5 (its tasks stop; no leave message)");
    let crashed_at = Instant::now();
    nodes[N - 1].shutdown().await;
    views.lock().unwrap().insert("node-5".into(), None);
    let deadline = started + Duration::from_secs(28);
    let all_dead = |views: &Views| {
        let v = views.lock().unwrap();
        (1..N).all(|i| v[&format!("node-{i}")].as_ref().and_then(|m| m.get("node-5")) == Some(&State::Dead))
    };
    while !all_dead(&views) && Instant::now() < deadline {
        sleep::<R>(Duration::from_millis(50)).await;
    }
    if all_dead(&views) {
        println!(
            "\n== node-5 is dead everywhere, {:.1}s after the crash ({:.1}s in all)",
            crashed_at.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("\n== node-5 not yet dead everywhere after {:.1}s", crashed_at.elapsed().as_secs_f64());
    }
    for n in &nodes[..N - 1] {
        let m = n.metrics();
        println!(
            "  {}: {} packets sent, {} received, {} probes, {} failed",
            n.local_node().id,
            m.packets_sent,
            m.packets_received,
            m.probes,
            m.failed_probes
        );
        n.shutdown().await;
    }
    if !all_dead(&views) {
        std::process::exit(1);
    }
    Ok(())
}
