//! What an idle cluster costs: 50 nodes in this process with the default
//! configuration, joined and settled, then the process's CPU time
//! (`getrusage`, user + system) over a quiet window, per node per second,
//! for each driver. Nothing is sent but the protocol's own traffic.
//!
//! Run: `cargo bench -p swim-examples --bench idle`
//! (`SWIM_IDLE_NODES`, default 50; `SWIM_IDLE_SECS`, the window, default 30;
//! `SWIM_IDLE_DRIVER=tokio` or `smol` for one driver only; `SWIM_IDLE_FLAVOR=current_thread`
//! for one thread: tokio's single-threaded runtime instead of two workers, and
//! on smol an executor of the bench's own run by the main thread (`Smol::on`)
//! instead of smol's global executor).

use std::future::Future;
use std::time::{Duration, Instant};
use swim_core::cluster::Cluster;
use swim_core::runtime::Runtime;
use swim_core::Config;

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage, RUSAGE_SELF.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Starts `n` nodes, joins them, waits until every node sees all, lets the
/// join traffic die down, and returns the CPU per node per second over `window`.
async fn idle_cost<R: Runtime>(rt: R, n: usize, window: Duration) -> (f64, Duration) {
    let mut nodes: Vec<Cluster<R>> = Vec::new();
    for i in 0..n {
        let c = Config {
            bind_addr: "127.0.0.1".parse().unwrap(),
            bind_port: 0,
            node_name: Some(format!("idle-{i}")),
            ..Config::default()
        };
        let node = Cluster::<R>::create_on(rt.clone(), c).await.expect("create");
        node.start();
        nodes.push(node);
    }
    let seed = nodes[0].local_addr().to_string();
    for node in &nodes[1..] {
        node.join(&[&seed]).await.expect("join");
    }
    let started = Instant::now();
    while !nodes.iter().all(|c| c.members().len() == n) {
        assert!(started.elapsed() < Duration::from_secs(120), "the cluster did not converge");
        R::current().sleep_until(Instant::now() + Duration::from_millis(100)).await;
    }
    let converged = started.elapsed();
    // The joins' gossip and the first push-pulls die down.
    R::current().sleep_until(Instant::now() + Duration::from_secs(5)).await;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    R::current().sleep_until(Instant::now() + window).await;
    let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
    assert!(nodes.iter().all(|c| c.members().len() == n), "a node was lost while idle");
    for node in &nodes {
        node.shutdown().await;
    }
    (cpu.as_secs_f64() * 1e6 / n as f64 / wall.as_secs_f64(), converged)
}

/// The floor in the same run: `n` raw UDP sockets on the same runtime
/// exchanging what an idle SWIM node must — every second each pings a
/// random other, which acks — with a receiving task and a timer task per
/// socket, as the drivers have.
async fn raw_cost<R: Runtime>(rt: R, n: usize, window: Duration) -> (f64, Duration) {
    use swim_core::runtime::Udp;
    let mut socks = Vec::new();
    for _ in 0..n {
        socks.push(std::sync::Arc::new(rt.bind_udp("127.0.0.1:0".parse().unwrap()).await.unwrap()));
    }
    let addrs: Vec<_> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, s) in socks.iter().enumerate() {
        let (s2, stop2) = (s.clone(), stop.clone());
        tasks.push(rt.spawn(async move {
            let mut buf = [0u8; 1400];
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((len, from)) = s2.recv_from(&mut buf).await {
                    if len > 0 && buf[0] == 0 {
                        let _ = s2.send_to(&[1; 40], from).await;
                    }
                    while s2.try_recv_from(&mut buf).is_ok() {}
                }
            }
        }));
        let (s3, stop3, addrs) = (s.clone(), stop.clone(), addrs.clone());
        let rt2 = rt.clone();
        tasks.push(rt.spawn(async move {
            let mut k = i as u64;
            let mut next = Instant::now() + Duration::from_millis(1000 * i as u64 / n as u64);
            while !stop3.load(std::sync::atomic::Ordering::Relaxed) {
                rt2.sleep_until(next).await;
                next += Duration::from_secs(1);
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = (k >> 33) as usize % n;
                let to = addrs[if j == i { (j + 1) % n } else { j }];
                let _ = s3.send_to(&[0; 60], to).await;
            }
        }));
    }
    R::current().sleep_until(Instant::now() + Duration::from_secs(2)).await;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    R::current().sleep_until(Instant::now() + window).await;
    let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        R::cancel(t).await;
    }
    (cpu.as_secs_f64() * 1e6 / n as f64 / wall.as_secs_f64(), Duration::ZERO)
}

fn report(driver: &str, n: usize, (us, converged): (f64, Duration)) {
    if converged.is_zero() {
        println!("{driver:<11} {n} sockets: {us:7.1} µs CPU per socket per second (ping + ack each second)");
    } else {
        println!(
            "{driver:<11} {n} nodes: {us:7.1} µs CPU per node per second (converged in {converged:.1?})"
        );
    }
}

fn one_thread() -> bool {
    std::env::var("SWIM_IDLE_FLAVOR").is_ok_and(|f| f == "current_thread")
}

fn block_on_tokio<F: Future>(f: impl FnOnce(swim_tokio::Tokio) -> F) -> F::Output {
    use swim_core::runtime::Runtime;
    let rt = if one_thread() {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    };
    rt.block_on(async { f(swim_tokio::Tokio::current()).await })
}

fn block_on_smol<F: Future>(f: impl FnOnce(swim_smol::Smol) -> F) -> F::Output {
    if one_thread() {
        let ex = std::sync::Arc::new(smol::Executor::new());
        return smol::block_on(ex.run(f(swim_smol::Smol::on(ex.clone()))));
    }
    smol::block_on(f(swim_smol::Smol::default()))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // nothing for `cargo bench -- --list`
    }
    let n = env("SWIM_IDLE_NODES", 50) as usize;
    let window = Duration::from_secs(env("SWIM_IDLE_SECS", 30));
    println!("idle cost, default config, window {window:?}, process CPU (user + system) / nodes / seconds");
    let only = std::env::var("SWIM_IDLE_DRIVER").unwrap_or_default();
    if only.is_empty() || only == "tokio" {
        let raw = block_on_tokio(|rt| raw_cost(rt, n, window));
        report("raw-tokio", n, raw);
        let swim = block_on_tokio(|rt| idle_cost(rt, n, window));
        report("swim-tokio", n, swim);
        println!("  swim-tokio / raw-tokio: {:.2}", swim.0 / raw.0);
    }
    if only.is_empty() || only == "smol" {
        let raw = block_on_smol(|rt| raw_cost(rt, n, window));
        report("raw-smol", n, raw);
        let swim = block_on_smol(|rt| idle_cost(rt, n, window));
        report("swim-smol", n, swim);
        println!("  swim-smol / raw-smol: {:.2}", swim.0 / raw.0);
    }
}
