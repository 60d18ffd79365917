//! Tokio nodes and smol nodes in one cluster: they speak the same protocol.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swim_core::io::testsuite::config;

#[test]
fn tokio_and_smol_nodes_form_one_cluster() {
    let tokio_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let t: Vec<swim_tokio::Cluster> = (0..2)
        .map(|i| {
            let c = tokio_rt.block_on(swim_tokio::Cluster::create(config(&format!("tokio-{i}")))).unwrap();
            c.start();
            c
        })
        .collect();
    smol::block_on(async {
        let s: Vec<swim_smol::Cluster> = {
            let mut v = Vec::new();
            for i in 0..2 {
                let c = swim_smol::Cluster::create(config(&format!("smol-{i}"))).await.unwrap();
                c.start();
                v.push(c);
            }
            v
        };
        // A smol node joins through a tokio seed, a tokio node through a smol seed.
        s[0].join(&[t[0].local_addr().to_string()]).await.unwrap();
        tokio_rt.block_on(t[1].join(&[s[0].local_addr().to_string()])).unwrap();
        s[1].join(&[t[1].local_addr().to_string()]).await.unwrap();

        let all =
            |n: usize| t.iter().all(|c| c.members().len() == n) && s.iter().all(|c| c.members().len() == n);
        let start = Instant::now();
        while !all(4) && start.elapsed() < Duration::from_secs(10) {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        assert!(all(4), "every node of both kinds sees 4 members");

        // Messages cross runtimes both ways.
        let got = Arc::new(AtomicUsize::new(0));
        for c in &t {
            let g = got.clone();
            c.on_message(move |_, topic, p| {
                if topic == "from-smol" && p == b"hi" {
                    g.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let g = got.clone();
        s[1].on_message(move |sender, topic, p| {
            if topic == "from-tokio" && p == b"yo" && sender.id.as_str() == "tokio-0" {
                g.fetch_add(100, Ordering::Relaxed);
            }
        });
        s[0].broadcast("from-smol", b"hi").unwrap();
        tokio_rt.block_on(t[0].send(&"smol-1".into(), "from-tokio", b"yo")).unwrap();
        let start = Instant::now();
        while got.load(Ordering::Relaxed) != 102 && start.elapsed() < Duration::from_secs(5) {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        assert_eq!(
            got.load(Ordering::Relaxed),
            102,
            "broadcast reached both tokio nodes, send reached smol-1"
        );

        // A crashed tokio node is detected by the smol nodes.
        tokio_rt.block_on(t[1].shutdown());
        let start = Instant::now();
        while s.iter().any(|c| c.members().iter().any(|m| m.id.as_str() == "tokio-1"))
            && start.elapsed() < Duration::from_secs(15)
        {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        assert!(s.iter().all(|c| c.members().len() == 3), "smol nodes dropped the crashed tokio node");
        for c in &s {
            c.shutdown().await;
        }
    });
    tokio_rt.block_on(t[0].shutdown());
}
