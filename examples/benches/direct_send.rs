//! Direct-send throughput between two processes on loopback, for both
//! drivers, against raw UDP loops on the same runtimes measured in the same
//! run, plus heap allocations per message on both sides.
//!
//! Run: `cargo bench -p swim-examples --bench direct_send`
//! (`SWIM_BENCH_MESSAGES=N` changes the count per mode; default 200000).
//!
//! The bench re-runs itself as the receiving process. Each mode sends the same
//! number of 64-byte messages as fast as the sender can; the receiver counts
//! what arrives until it has been idle for 500 ms. Reported: send rate,
//! delivered rate, loss, allocations per message, and the ratio to raw tokio UDP.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swim_core::cluster::Cluster;
use swim_core::runtime::Runtime;
use swim_core::Config;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PAYLOAD: [u8; 64] = [0xAB; 64];
const IDLE: Duration = Duration::from_millis(500);
const LIMIT: Duration = Duration::from_secs(60);
const MODES: [&str; 6] =
    ["raw-tokio", "swim-tokio", "swim-tokio-aes", "raw-smol", "swim-smol", "swim-smol-aes"];

fn config(name: &str, encrypted: bool) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        encryption_enabled: encrypted,
        secret_key: vec![3; 32],
        ..Config::default()
    }
}

/// Messages counted by the receiver, and when the last one came.
#[derive(Default)]
struct Counter {
    count: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl Counter {
    fn hit(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap() = Some(Instant::now());
    }

    fn done(&self, started: Instant) -> bool {
        let idle = self.last.lock().unwrap().is_some_and(|t| t.elapsed() > IDLE);
        idle || started.elapsed() > LIMIT
    }
}

fn announce(addr: SocketAddr) {
    println!("{addr}");
    std::io::stdout().flush().unwrap();
}

/// Receiver: counts until idle, then prints "count allocations".
async fn receive<R: Runtime>(raw: bool, encrypted: bool) {
    let rt = R::current();
    let counter = Arc::new(Counter::default());
    let _keep;
    if raw {
        let sock = rt.bind_udp("127.0.0.1:0".parse().unwrap()).await.unwrap();
        announce(swim_core::runtime::Udp::local_addr(&sock).unwrap());
        let c = counter.clone();
        _keep = (
            None,
            Some(rt.spawn(async move {
                let mut buf = vec![0u8; 1500];
                while let Ok((n, _)) = swim_core::runtime::Udp::recv_from(&sock, &mut buf).await {
                    if n == PAYLOAD.len() {
                        c.hit();
                    }
                }
            })),
        );
    } else {
        let node = Cluster::<R>::create(config("receiver", encrypted)).await.unwrap();
        node.start();
        let c = counter.clone();
        node.on_message(move |_, topic, payload| {
            if topic == "bench" && payload.len() == PAYLOAD.len() {
                c.hit();
            }
        });
        announce(node.local_addr());
        _keep = (Some(node), None);
    }
    let allocs_before = GLOBAL.stats().allocations;
    let started = Instant::now();
    while !counter.done(started) {
        rt.sleep_until(Instant::now() + Duration::from_millis(50)).await;
    }
    println!("{} {}", counter.count.load(Ordering::Relaxed), GLOBAL.stats().allocations - allocs_before);
}

/// Sender: returns (seconds, allocations) for the send loop.
async fn send<R: Runtime>(raw: bool, encrypted: bool, addr: SocketAddr, messages: u64) -> (f64, usize) {
    let rt = R::current();
    if raw {
        let sock = rt.bind_udp("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        for _ in 0..messages {
            swim_core::runtime::Udp::send_to(&sock, &PAYLOAD, addr).await.unwrap();
        }
        (start.elapsed().as_secs_f64(), region.change().allocations)
    } else {
        let node = Cluster::<R>::create(config("sender", encrypted)).await.unwrap();
        node.start();
        node.join(&[addr.to_string()]).await.expect("join the receiver");
        let target = "receiver".into();
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        for _ in 0..messages {
            node.send(&target, "bench", &PAYLOAD).await.unwrap();
        }
        let r = (start.elapsed().as_secs_f64(), region.change().allocations);
        node.shutdown().await;
        r
    }
}

/// Runs `fut` on the runtime the mode names.
fn on_runtime<T>(mode: &str, tokio: impl Future<Output = T>, smol: impl Future<Output = T>) -> T {
    if mode.ends_with("tokio") || mode.contains("tokio-") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(tokio)
    } else {
        smol::block_on(smol)
    }
}

fn flags(mode: &str) -> (bool, bool) {
    (mode.starts_with("raw"), mode.ends_with("-aes"))
}

struct Outcome {
    send_rate: f64,
    delivered_rate: f64,
    loss: f64,
    send_allocs: f64,
    recv_allocs: f64,
}

fn run_mode(mode: &str, messages: u64) -> Outcome {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SWIM_BENCH_ROLE", mode)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the receiver process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let (raw, aes) = flags(mode);
    let start = Instant::now();
    let (send_secs, send_allocs) = on_runtime(
        mode,
        send::<swim_tokio::Tokio>(raw, aes, addr, messages),
        send::<swim_smol::Smol>(raw, aes, addr, messages),
    );
    let report = lines.next().unwrap().unwrap();
    let mut it = report.split_whitespace().map(|x| x.parse::<u64>().unwrap());
    let (received, recv_allocs) = (it.next().unwrap(), it.next().unwrap());
    let _ = child.kill();
    let _ = child.wait();
    // The receiver stops counting IDLE after the last message.
    let recv_secs = (start.elapsed().as_secs_f64() - IDLE.as_secs_f64()).max(send_secs);
    Outcome {
        send_rate: messages as f64 / send_secs,
        delivered_rate: received as f64 / recv_secs,
        loss: 1.0 - received as f64 / messages as f64,
        send_allocs: send_allocs as f64 / messages as f64,
        recv_allocs: recv_allocs as f64 / received.max(1) as f64,
    }
}

fn main() {
    if let Ok(mode) = std::env::var("SWIM_BENCH_ROLE") {
        let (raw, aes) = flags(&mode);
        on_runtime(&mode, receive::<swim_tokio::Tokio>(raw, aes), receive::<swim_smol::Smol>(raw, aes));
        return;
    }
    StdUdp::bind("127.0.0.1:0").expect("UDP on 127.0.0.1 is needed for this bench");
    let messages: u64 =
        std::env::var("SWIM_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    println!("direct send, {messages} x 64-byte messages per mode, two processes on 127.0.0.1");
    println!(
        "{:<15} {:>10} {:>12} {:>7} {:>8} {:>8} {:>12} {:>12}",
        "mode", "sent/s", "delivered/s", "loss", "vs raw", "vs tokio", "allocs/send", "allocs/recv"
    );
    let mut raw_rate = None;
    let mut tokio_rates = std::collections::HashMap::new();
    for mode in MODES {
        let o = run_mode(mode, messages);
        let raw = *raw_rate.get_or_insert(o.delivered_rate);
        let peer = mode.replace("smol", "tokio");
        let vs_tokio = tokio_rates.get(&peer).map(|t| o.delivered_rate / t);
        tokio_rates.insert(mode.to_string(), o.delivered_rate);
        println!(
            "{:<15} {:>10.0} {:>12.0} {:>6.1}% {:>7.2}x {:>8} {:>12.3} {:>12.3}",
            mode,
            o.send_rate,
            o.delivered_rate,
            100.0 * o.loss,
            o.delivered_rate / raw,
            vs_tokio.map_or("-".to_string(), |r| format!("{r:.2}x")),
            o.send_allocs,
            o.recv_allocs,
        );
    }
}
