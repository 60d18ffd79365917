//! The usage guide (shared/seed/usage-guide.txt), translated line by line to
//! the pinned Rust API, compiled against swim-tokio and checked to behave as
//! the guide says: a bad key is InvalidKey; join; broadcast; send by id and by
//! address; messages and events arrive; a crashed member becomes Leave with
//! its state dead.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use swim_tokio::{Cluster, Config, CreateError, Event, JoinError, NodeId};

type Log = Arc<Mutex<Vec<String>>>;

fn guide_config(name: &str) -> Config {
    // 1. Define Configuration: start with the defaults and customise.
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        secret_key: b"your-32-byte-secret-key-32-bytes".to_vec(), // 32 bytes for AES-256
        encryption_enabled: true,
        protocol_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_guide_works_as_written() {
    // The guide's own example key is 40 bytes: Cluster.create answers Invalid_key.
    let guide_key =
        Config { secret_key: b"your-32-byte-secret-key-must-be-32-bytes".to_vec(), ..guide_config("x") };
    match Cluster::create(guide_key).await {
        Err(CreateError::InvalidKey) => {}
        other => panic!("expected InvalidKey, got {other:?}"),
    }

    // 2. Create and Start a Cluster Node.
    let cluster = match Cluster::create(guide_config("node-1")).await {
        Err(CreateError::InvalidKey) => panic!("Invalid secret key"),
        Err(e) => panic!("{e}"),
        Ok(cluster) => cluster,
    };
    cluster.start();

    // Membership Events.
    let log: Log = Arc::default();
    let mut stream = cluster.events();
    let l = log.clone();
    tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            let line = match event {
                Event::Join(node) => format!("Node joined: {}", node.id),
                Event::Leave(node) => format!("Node left: {} {:?}", node.id, node.state),
                Event::Suspect(node) => format!("Node suspected: {}", node.id),
                Event::Alive(node) => format!("Node alive again: {}", node.id),
                Event::Update(_) => continue,
                _ => continue,
            };
            l.lock().unwrap().push(line);
        }
    });

    // 3. Joining a Cluster: node-2 joins through node-1 as its seed.
    let node2 = Cluster::create(guide_config("node-2")).await.unwrap();
    node2.start();
    let seed_nodes = [cluster.local_addr().to_string()];
    match node2.join(&seed_nodes).await {
        Ok(_) => {}
        Err(JoinError::NoSeedsReachable { .. }) => panic!("Failed to join cluster"),
        Err(e) => panic!("{e}"),
    }
    // An unreachable seed is retried until join_timeout (30 s by default).
    let lonely =
        Cluster::create(Config { join_timeout: Duration::from_millis(500), ..guide_config("node-3") })
            .await
            .unwrap();
    lonely.start();
    assert!(matches!(lonely.join(&["127.0.0.1:1"]).await, Err(JoinError::NoSeedsReachable { .. })));
    lonely.shutdown().await;

    // Handling Messages (both broadcast and direct).
    let got: Log = Arc::default();
    let g = got.clone();
    node2.on_message(move |sender, topic, payload| {
        g.lock().unwrap().push(format!(
            "Received '{topic}' from {}: {}",
            sender.id,
            String::from_utf8_lossy(payload)
        ));
    });

    // Broadcast (Gossip).
    cluster.broadcast("config-update", br#"{"version": 2}"#).unwrap();
    // Direct Send by Node ID, and by Address.
    let target_node_id = NodeId::from("node-2");
    cluster.send(&target_node_id, "ping", b"pong").await.unwrap();
    let addr = node2.local_addr();
    cluster.send_to_addr(addr, "alert", b"alert-data").await.unwrap();

    let want = [
        r#"Received 'config-update' from node-1: {"version": 2}"#,
        "Received 'ping' from node-1: pong",
        "Received 'alert' from node-1: alert-data",
    ];
    for _ in 0..100 {
        if want.iter().all(|w| got.lock().unwrap().iter().any(|g| g == w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = got.lock().unwrap().clone();
    for w in want {
        assert!(received.iter().any(|g| g == w), "missing {w:?} in {received:?}");
    }

    // A member that crashes (its tasks stop, no leave) is reported as Leave, state Dead.
    node2.shutdown().await;
    for _ in 0..200 {
        if log.lock().unwrap().iter().any(|l| l == "Node left: node-2 Dead") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = log.lock().unwrap().clone();
    assert!(events.iter().any(|l| l == "Node joined: node-2"), "{events:?}");
    assert!(events.iter().any(|l| l == "Node suspected: node-2"), "{events:?}");
    assert!(events.iter().any(|l| l == "Node left: node-2 Dead"), "{events:?}");
    assert!(cluster.members().iter().all(|m| m.id.as_str() != "node-2"));
    assert_eq!(cluster.members().len(), 1, "only node-1 is left");
    cluster.shutdown().await;
}
