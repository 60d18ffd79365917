//! Nodes on an executor of the caller's (`Smol::on` + `Cluster::create_on`):
//! every task runs where the caller runs that executor — here one thread.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use swim_smol::{Cluster, Config, Smol};

fn config(name: &str) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        protocol_interval: Duration::from_millis(100),
        probe_timeout: Duration::from_millis(50),
        gossip_interval: Duration::from_millis(50),
        ..Config::default()
    }
}

#[test]
fn a_cluster_runs_on_one_thread_of_the_callers_executor() {
    let ex = Arc::new(smol::Executor::new());
    let main = std::thread::current().id();
    smol::block_on(ex.run(async {
        let a = Cluster::create_on(Smol::on(ex.clone()), config("a")).await.unwrap();
        let b = Cluster::create_on(Smol::on(ex.clone()), config("b")).await.unwrap();
        a.start();
        b.start();
        // The inline handler runs on b's receive task: on this thread.
        let seen: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
        let seen2 = seen.clone();
        let _h = b.on_message_inline(move |_| seen2.lock().unwrap().push(std::thread::current().id()));
        b.join(&[a.local_addr().to_string()]).await.unwrap();
        let start = Instant::now();
        while a.members().len() < 2 {
            assert!(start.elapsed() < Duration::from_secs(10), "a never saw b");
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        for _ in 0..10 {
            a.send(&"b".into(), "t", b"hello").await.unwrap();
        }
        let start = Instant::now();
        while seen.lock().unwrap().len() < 10 {
            assert!(start.elapsed() < Duration::from_secs(10), "b got {} of 10", seen.lock().unwrap().len());
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        assert!(
            seen.lock().unwrap().iter().all(|&t| t == main),
            "a receive task ran on another thread than the one running the executor"
        );
        b.shutdown().await;
        a.shutdown().await;
    }));
}
