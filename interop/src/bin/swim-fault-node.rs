//! One swim node as a process of its own, for the network-namespace fault
//! suite (`interop/tests/faults.rs`): started with `ip netns exec`, it binds
//! the namespace's address, joins the seeds, and prints one JSON line per
//! membership event (`{"event":"suspect","node":"n2","state":"suspect",
//! "addr":"10.201.0.12:7946"}`), after `{"event":"ready","addr":...}`.
//!
//! Arguments: `tokio|smol NAME BIND_IP [SEED,SEED...] [lifeguard-off]`.
//! Timings are the suite's: 200 ms probes, 100 ms probe timeout, 100 ms
//! gossip, suspicion multiplier 4, dead members' names reclaimable after 1 s.

use std::io::Write;
use std::time::Duration;
use swim_core::{Config, Event};

fn config(name: &str, ip: &str, lifeguard: bool) -> Config {
    Config {
        bind_addr: ip.parse().expect("bind address"),
        bind_port: 7946,
        node_name: Some(name.into()),
        protocol_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        gossip_interval: Duration::from_millis(100),
        suspicion_mult: 4,
        push_pull_interval: Duration::from_secs(5),
        tcp_timeout: Duration::from_secs(2),
        // A node restarted at another address is accepted once its old
        // self has been dead this long (memberlist's DeadNodeReclaimTime).
        dead_node_reclaim_time: Duration::from_secs(1),
        lifeguard_local_health: lifeguard,
        lifeguard_dynamic_suspicion: lifeguard,
        lifeguard_buddy_system: lifeguard,
        ..Config::default()
    }
}

fn emit(kind: &str, node: &swim_core::Node) {
    let state = format!("{:?}", node.state).to_lowercase();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        r#"{{"event":"{kind}","node":"{}","state":"{state}","addr":"{}"}}"#,
        node.id.as_str(),
        node.addr
    );
    let _ = out.flush();
}

macro_rules! run_node {
    ($cluster:ty, $name:expr, $cfg:expr, $seeds:expr) => {{
        let node = <$cluster>::create($cfg).await.expect("create");
        node.start();
        println!(r#"{{"event":"ready","addr":"{}"}}"#, node.local_addr());
        let _ = std::io::stdout().flush();
        let mut events = node.events();
        if !$seeds.is_empty() {
            if let Err(e) = node.join(&$seeds).await {
                println!(r#"{{"event":"join_error","error":"{}"}}"#, e.to_string().replace('"', "'"));
            }
        }
        while let Some(e) = events.next().await {
            match &e {
                Event::Join(n) => emit("join", n),
                Event::Leave(n) => emit("leave", n),
                Event::Suspect(n) => emit("suspect", n),
                Event::Alive(n) => emit("alive", n),
                Event::Update(n) => emit("update", n),
                Event::Yielded(n) => emit("yielded", n),
                _ => {}
            }
        }
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (driver, name, ip) = (args[0].clone(), args[1].clone(), args[2].clone());
    let seeds: Vec<String> = args
        .get(3)
        .filter(|s| !s.is_empty() && *s != "-")
        .map_or(Vec::new(), |s| s.split(',').map(str::to_string).collect());
    let lifeguard = args.get(4).is_none_or(|a| a != "lifeguard-off");
    let cfg = config(&name, &ip, lifeguard);
    if driver == "smol" {
        smol::block_on(async { run_node!(swim_smol::Cluster, name, cfg, seeds) });
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { run_node!(swim_tokio::Cluster, name, cfg, seeds) });
    }
}
