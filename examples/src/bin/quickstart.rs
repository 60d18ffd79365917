//! The usage guide, step by step, in Rust. Run: `cargo run --bin quickstart`
//! (on smol: `cargo run --bin quickstart -- --runtime smol`).
//!
//! Starts `node-1` on 127.0.0.1:7946 and `node-2` on 127.0.0.1:7947 in one
//! process, joins them, sends a broadcast and direct messages, and exits.

use std::time::Duration;
use swim_core::cluster::Cluster;
use swim_core::runtime::Runtime;
use swim_examples::sleep;
use swim_tokio::{Config, CreateError, Event, JoinError, NodeId};

fn node_config(name: &str, port: u16) -> Config {
    // 1. Define configuration: start from the defaults and customise.
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: port,
        node_name: Some(name.into()),
        secret_key: b"your-32-byte-secret-key-32-bytes".to_vec(), // 32 bytes for AES-256
        encryption_enabled: true,
        ..Config::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    swim_examples::init_logging();
    swim_examples::run_selected(quickstart::<swim_tokio::Tokio>(), quickstart::<swim_smol::Smol>())
}

/// The guide's steps; `swim_tokio::Cluster` is `Cluster<Tokio>`, `swim_smol::Cluster` is `Cluster<Smol>`.
async fn quickstart<R: Runtime>() -> Result<(), Box<dyn std::error::Error>> {
    // A wrong key is refused at create, before anything runs.
    let bad = Config { secret_key: b"too-short".to_vec(), ..node_config("bad", 0) };
    match Cluster::<R>::create(bad).await {
        Err(CreateError::InvalidKey) => println!("a 9-byte key is refused: invalid secret key"),
        other => panic!("expected InvalidKey, got {other:?}"),
    }

    // 2. Create and start a cluster node (protocol loop, UDP receiver, TCP listener).
    let cluster = match Cluster::<R>::create(node_config("node-1", 7946)).await {
        Err(CreateError::InvalidKey) => panic!("Invalid secret key"),
        Err(e) => return Err(e.into()),
        Ok(cluster) => cluster,
    };
    cluster.start();
    println!("Node started!");

    // Membership events.
    let mut events = cluster.events();
    let _printer = R::current().spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Join(node) => println!("Node joined: {}", node.id),
                Event::Leave(node) => println!("Node left: {} ({})", node.id, node.state),
                Event::Suspect(node) => println!("Node suspected: {}", node.id),
                Event::Alive(node) => println!("Node alive again: {}", node.id),
                _ => {}
            }
        }
    });

    // A second node to talk to, handling messages (both broadcast and direct).
    let node2 = Cluster::<R>::create(node_config("node-2", 7947)).await?;
    node2.start();
    node2.on_message(|sender, topic, payload| {
        println!("Received '{topic}' from {}: {}", sender.id, String::from_utf8_lossy(payload));
    });

    // 3. Joining a cluster through at least one seed.
    let seed_nodes = ["127.0.0.1:7946"];
    match node2.join(&seed_nodes).await {
        Ok(_) => println!("Joined cluster successfully"),
        Err(JoinError::NoSeedsReachable { .. }) => println!("Failed to join cluster"),
        Err(e) => println!("Failed to join cluster: {e}"),
    }
    sleep::<R>(Duration::from_millis(300)).await;

    // Broadcast (gossip): eventually consistent, to every node.
    cluster.broadcast("config-update", br#"{"version": 2}"#)?;

    // Direct send by node id, and by address.
    let target_node_id = NodeId::from("node-2");
    cluster.send(&target_node_id, "ping", b"pong").await?;
    cluster.send_to_addr("127.0.0.1:7947".parse()?, "alert", b"alert-data").await?;

    sleep::<R>(Duration::from_secs(1)).await;
    println!(
        "members seen by node-1: {:?}",
        cluster.members().iter().map(|n| n.id.as_str()).collect::<Vec<_>>()
    );

    if let Err(e) = node2.leave(Duration::from_secs(1)).await {
        println!("Leave not confirmed: {e}");
    }
    node2.shutdown().await;
    sleep::<R>(Duration::from_millis(500)).await;
    cluster.shutdown().await;
    Ok(())
}
