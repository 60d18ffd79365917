//! Direct send between two processes on loopback, for both drivers, against
//! raw UDP loops measured in the same run: throughput (100- and 1,000-byte
//! messages, plain and AES-256-GCM), heap allocations per message on both
//! sides, and the round trip of a request answered from a message handler.
//!
//! Run: `cargo bench -p swim-examples --bench direct_send`
//! (`SWIM_BENCH_MESSAGES=N` messages per throughput row, default 400000;
//! `SWIM_BENCH_RATE=R` the paced rows' offered rate, default 1000000/s;
//! `SWIM_BENCH_ROUNDS=N` round trips per latency row, default 20000;
//! `SWIM_BENCH_MODES=a,b` only those rows).
//!
//! The bench re-runs itself as the receiving (or echoing) process. A
//! throughput row sends its messages as fast as the sender can ("max"), or
//! paced at the offered rate in 1 ms bursts ("paced"); the receiver counts
//! what arrives until it has been idle for 500 ms. Baselines: `raw-tokio` /
//! `raw-smol` send one datagram per system call on the same runtimes;
//! `raw-gso32` sends 32 datagrams per call with UDP GSO (a blocking std
//! socket through swim's `batch_udp`). Ratios are to `raw-tokio` of the same
//! size. The round trip: `raw` is a tokio UDP ping-pong; `swim` sends with
//! `Cluster::send`, the receiver's `on_message_inline` handler answers with
//! `try_send_to_addr`, and the sender's inline handler wakes the waiting task.
//! `swim-smol-aes` runs the nodes' tasks on smol's global executor (its own
//! thread) and the asking task in `smol::block_on` on the main thread;
//! `swim-smol-aes-1t` runs both processes' nodes on an executor of the
//! caller's, run by the main thread (`Smol::on`): one thread, as the raw loop.

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
use swim_core::runtime::{Runtime, Segment};
use swim_core::Config;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const IDLE: Duration = Duration::from_millis(500);
const LIMIT: Duration = Duration::from_secs(60);

fn config(name: &str, encrypted: bool) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        encryption_enabled: encrypted,
        secret_key: vec![3; 32],
        // Deep enough for a burst of GRO-coalesced datagrams (see docs/performance.md).
        handoff_queue_depth: 1 << 16,
        ..Config::default()
    }
}

/// One throughput row: what, how big, how fast.
#[derive(Clone)]
struct Row {
    mode: &'static str,
    size: usize,
    rate: Option<f64>,
}

impl Row {
    fn raw(&self) -> bool {
        self.mode.starts_with("raw")
    }
    fn aes(&self) -> bool {
        self.mode.ends_with("-aes")
    }
    fn tokio(&self) -> bool {
        self.mode.contains("tokio") || self.mode == "raw-gso32"
    }
}

/// A plain UDP socket of the runtime (no GRO: each read is one datagram),
/// for the raw baselines.
enum Raw {
    Tokio(tokio::net::UdpSocket),
    Smol(async_io::Async<StdUdp>),
}

impl Raw {
    async fn bind(tokio: bool) -> Raw {
        let a: SocketAddr = "127.0.0.1:0".parse().unwrap();
        if tokio {
            Raw::Tokio(tokio::net::UdpSocket::bind(a).await.unwrap())
        } else {
            Raw::Smol(async_io::Async::<StdUdp>::bind(a).unwrap())
        }
    }
    fn local_addr(&self) -> SocketAddr {
        match self {
            Raw::Tokio(s) => s.local_addr().unwrap(),
            Raw::Smol(s) => s.get_ref().local_addr().unwrap(),
        }
    }
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        match self {
            Raw::Tokio(s) => s.send_to(buf, to).await,
            Raw::Smol(s) => s.send_to(buf, to).await,
        }
    }
    async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        match self {
            Raw::Tokio(s) => s.recv_from(buf).await,
            Raw::Smol(s) => s.recv_from(buf).await,
        }
    }
}

fn is_tokio<R: Runtime>() -> bool {
    std::any::type_name::<R>().contains("Tokio")
}

/// Messages counted by the receiver, and when the first and last came.
#[derive(Default)]
struct Counter {
    count: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

impl Counter {
    fn hit(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        self.first.lock().unwrap().get_or_insert(now);
        *self.last.lock().unwrap() = Some(now);
    }

    /// Seconds from the first message to the last.
    fn span(&self) -> f64 {
        match (*self.first.lock().unwrap(), *self.last.lock().unwrap()) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        }
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

/// Receiver: counts `size`-byte messages until idle, then prints "count allocations".
async fn receive<R: Runtime>(raw: bool, encrypted: bool, size: usize) {
    let rt = R::current();
    let counter = Arc::new(Counter::default());
    let _keep;
    if raw {
        let sock = Raw::bind(is_tokio::<R>()).await;
        announce(sock.local_addr());
        let c = counter.clone();
        _keep = (
            None,
            Some(rt.spawn(async move {
                let mut buf = vec![0u8; 1500];
                while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                    if n == size {
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
            if topic == "bench" && payload.len() == size {
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
    if let Some(node) = &_keep.0 {
        let m = node.metrics();
        if m.handoff_dropped > 0 {
            eprintln!("receiver: {} messages dropped by the handler queue", m.handoff_dropped);
        }
    }
    let count = counter.count.load(Ordering::Relaxed);
    println!("{count} {} {}", GLOBAL.stats().allocations - allocs_before, counter.span());
}

/// Waits until `sent` messages are due at `rate` (no wait unpaced).
async fn pace<R: Runtime>(rt: &R, start: Instant, sent: u64, rate: Option<f64>) {
    if let Some(rate) = rate {
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        if due > Instant::now() {
            rt.sleep_until(due).await;
        }
    }
}

/// Messages per paced burst: one millisecond's worth.
fn burst(rate: Option<f64>) -> u64 {
    rate.map_or(u64::MAX, |r| (r / 1000.0).max(1.0) as u64)
}

/// Sender: returns (seconds, allocations) for the send loop.
async fn send<R: Runtime>(row: Row, addr: SocketAddr, messages: u64) -> (f64, usize) {
    let rt = R::current();
    let payload = vec![0xAB; row.size];
    let burst = burst(row.rate);
    if row.raw() {
        let sock = Raw::bind(is_tokio::<R>()).await;
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        let mut sent = 0;
        while sent < messages {
            pace(&rt, start, sent, row.rate).await;
            for _ in 0..burst.min(messages - sent) {
                sock.send_to(&payload, addr).await.unwrap();
                sent += 1;
            }
        }
        (start.elapsed().as_secs_f64(), region.change().allocations)
    } else {
        let node = Cluster::<R>::create(config("sender", row.aes())).await.unwrap();
        node.start();
        node.join(&[addr.to_string()]).await.expect("join the receiver");
        let target = "receiver".into();
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        let mut sent = 0;
        while sent < messages {
            pace(&rt, start, sent, row.rate).await;
            for _ in 0..burst.min(messages - sent) {
                node.send(&target, "bench", &payload).await.unwrap();
                sent += 1;
            }
        }
        // Until the last datagram is out.
        node.flush().await;
        let r = (start.elapsed().as_secs_f64(), region.change().allocations);
        node.shutdown().await;
        r
    }
}

/// `raw-gso32`: 32 datagrams per system call with UDP GSO, blocking std socket.
fn send_gso(size: usize, addr: SocketAddr, messages: u64) -> (f64, usize) {
    let sock = StdUdp::bind("127.0.0.1:0").unwrap();
    let batch = swim_core::io::batch_udp::BatchUdp::new(&sock).unwrap();
    let buf = vec![0xAB; size * 32];
    let segments = vec![Segment { dst: addr, len: size }; 32];
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    let mut sent = 0;
    while sent < messages {
        let n = (messages - sent).min(32) as usize;
        let (mut next, mut failed) = (0, 0);
        while next < n {
            if let Err(e) = batch.try_send(&sock, &buf[..n * size], &segments[..n], &mut next, &mut failed) {
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
                std::thread::yield_now();
            }
        }
        assert_eq!(failed, 0, "GSO send refused");
        sent += n as u64;
    }
    (start.elapsed().as_secs_f64(), region.change().allocations)
}

/// Runs `f` on one thread: a smol executor of its own driven by
/// `smol::block_on` on the caller's thread, given to the nodes (`Smol::on`).
fn on_one_thread<T>(
    f: impl FnOnce(Option<swim_smol::Smol>) -> std::pin::Pin<Box<dyn Future<Output = T>>>,
) -> T {
    let ex = Arc::new(smol::Executor::new());
    smol::block_on(ex.run(f(Some(swim_smol::Smol::on(ex.clone())))))
}

/// Runs `fut` on tokio (two workers) or smol.
fn on_runtime<T>(tokio: bool, t: impl Future<Output = T>, s: impl Future<Output = T>) -> T {
    if tokio {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(t)
    } else {
        smol::block_on(s)
    }
}

struct Outcome {
    send_rate: f64,
    delivered_rate: f64,
    loss: f64,
    send_allocs: f64,
    recv_allocs: f64,
}

fn child(
    role: String,
) -> (std::process::Child, std::io::Lines<BufReader<std::process::ChildStdout>>, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SWIM_BENCH_ROLE", role)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the receiver process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines.next().unwrap().unwrap().trim().parse().unwrap();
    (child, lines, addr)
}

fn run_row(row: &Row, messages: u64) -> Outcome {
    let (mut child, mut lines, addr) = child(format!("recv:{}:{}", row.mode, row.size));
    let (send_secs, send_allocs) = if row.mode == "raw-gso32" {
        send_gso(row.size, addr, messages)
    } else {
        on_runtime(
            row.tokio(),
            send::<swim_tokio::Tokio>(row.clone(), addr, messages),
            send::<swim_smol::Smol>(row.clone(), addr, messages),
        )
    };
    let report = lines.next().unwrap().unwrap();
    let mut it = report.split_whitespace();
    let received: u64 = it.next().unwrap().parse().unwrap();
    let recv_allocs: u64 = it.next().unwrap().parse().unwrap();
    // From the first message received to the last.
    let recv_secs: f64 = it.next().unwrap().parse().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    Outcome {
        send_rate: messages as f64 / send_secs,
        delivered_rate: received as f64 / recv_secs.max(1e-6),
        loss: 1.0 - received as f64 / messages as f64,
        send_allocs: send_allocs as f64 / messages as f64,
        recv_allocs: recv_allocs as f64 / received.max(1) as f64,
    }
}

/// Echo process for the round trip: answers every message to its sender.
/// `rt`: the runtime to create the node on (the caller's when `None`).
async fn echo<R: Runtime>(raw: bool, rt: Option<R>) {
    if raw {
        let sock = Raw::bind(is_tokio::<R>()).await;
        announce(sock.local_addr());
        let mut buf = vec![0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let _ = sock.send_to(&buf[..n], from).await;
        }
    } else {
        let node = create(rt, config("echo", true)).await;
        node.start();
        let replier = node.clone();
        node.on_message_inline(move |m| {
            let _ = replier.try_send_to_addr(m.from, "pong", m.payload);
        });
        announce(node.local_addr());
        std::future::pending::<()>().await;
    }
}

async fn create<R: Runtime>(rt: Option<R>, config: Config) -> Cluster<R> {
    match rt {
        Some(rt) => Cluster::create_on(rt, config).await,
        None => Cluster::create(config).await,
    }
    .unwrap()
}

/// Round trips: returns the sorted latencies.
async fn ping<R: Runtime>(raw: bool, addr: SocketAddr, rounds: usize, on: Option<R>) -> Vec<Duration> {
    let rt = R::current();
    let payload = [7u8; 100];
    let mut rtts = Vec::with_capacity(rounds);
    if raw {
        let sock = Raw::bind(is_tokio::<R>()).await;
        let mut buf = vec![0u8; 1500];
        for _ in 0..rounds {
            let t = Instant::now();
            sock.send_to(&payload, addr).await.unwrap();
            let got =
                swim_core::runtime::timeout(&rt, Duration::from_secs(1), sock.recv_from(&mut buf)).await;
            if got.is_some() {
                rtts.push(t.elapsed());
            }
        }
    } else {
        let node = create(on, config("pinger", true)).await;
        node.start();
        node.join(&[addr.to_string()]).await.expect("join the echo node");
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let pending = Arc::new(Mutex::new(None::<std::task::Waker>));
        let (p2, tx2) = (pending.clone(), tx.clone());
        node.on_message_inline(move |m| {
            if m.topic == "pong" {
                let _ = tx2.try_send(());
                if let Some(w) = p2.lock().unwrap().take() {
                    w.wake();
                }
            }
        });
        drop(tx);
        let target = "echo".into();
        for _ in 0..rounds {
            let t = Instant::now();
            node.send(&target, "ping", &payload).await.unwrap();
            let answered = std::future::poll_fn(|cx| {
                if rx.try_recv().is_ok() {
                    return std::task::Poll::Ready(true);
                }
                *pending.lock().unwrap() = Some(cx.waker().clone());
                if rx.try_recv().is_ok() {
                    return std::task::Poll::Ready(true);
                }
                if t.elapsed() > Duration::from_secs(1) {
                    return std::task::Poll::Ready(false);
                }
                std::task::Poll::Pending
            });
            let answered = swim_core::runtime::timeout(&rt, Duration::from_secs(1), answered).await;
            if answered == Some(true) {
                rtts.push(t.elapsed());
            }
        }
        node.shutdown().await;
    }
    rtts.sort();
    rtts
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn main() {
    if let Ok(role) = std::env::var("SWIM_BENCH_ROLE") {
        let parts: Vec<&str> = role.split(':').collect();
        let mode = parts[1];
        let raw = mode.starts_with("raw");
        let tokio = mode.contains("tokio") || mode == "raw-gso32";
        if parts[0] == "echo" {
            if mode.ends_with("-1t") {
                on_one_thread(|rt| Box::pin(echo(false, rt)));
            } else {
                on_runtime(tokio, echo::<swim_tokio::Tokio>(raw, None), echo::<swim_smol::Smol>(raw, None));
            }
        } else {
            let size: usize = parts[2].parse().unwrap();
            let aes = mode.ends_with("-aes");
            on_runtime(
                tokio,
                receive::<swim_tokio::Tokio>(raw, aes, size),
                receive::<swim_smol::Smol>(raw, aes, size),
            );
        }
        return;
    }
    StdUdp::bind("127.0.0.1:0").expect("UDP on 127.0.0.1 is needed for this bench");
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let messages = env("SWIM_BENCH_MESSAGES", 400_000);
    let rate = env("SWIM_BENCH_RATE", 1_000_000) as f64;
    let rounds = env("SWIM_BENCH_ROUNDS", 20_000) as usize;
    let only = std::env::var("SWIM_BENCH_MODES").ok();
    let wanted = |m: &str| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == m));

    let swim = ["swim-tokio", "swim-tokio-aes", "swim-smol", "swim-smol-aes"];
    let mut rows = Vec::new();
    for size in [100, 1000] {
        for mode in ["raw-tokio", "raw-smol", "raw-gso32"] {
            rows.push(Row { mode, size, rate: None });
        }
        for mode in swim {
            rows.push(Row { mode, size, rate: None });
            if size == 100 {
                rows.push(Row { mode, size, rate: Some(rate) });
            }
        }
    }
    println!(
        "direct send, {messages} messages per row, two processes on 127.0.0.1 (paced rows offer {rate:.0}/s)"
    );
    println!(
        "{:<15} {:>5} {:>7} {:>10} {:>12} {:>8} {:>7} {:>8} {:>8} {:>11} {:>11}",
        "mode",
        "bytes",
        "pace",
        "sent/s",
        "delivered/s",
        "MB/s",
        "loss",
        "vs raw",
        "vs tokio",
        "allocs/send",
        "allocs/recv"
    );
    let mut raw_rate = std::collections::HashMap::new();
    let mut tokio_rates = std::collections::HashMap::new();
    for row in rows.iter().filter(|r| wanted(r.mode)) {
        let o = run_row(row, messages);
        if row.mode == "raw-tokio" {
            raw_rate.insert(row.size, o.delivered_rate);
        }
        let pace = row.rate.map_or("max".to_string(), |_| "paced".into());
        let key = |m: &str| format!("{m}/{}/{pace}", row.size);
        let vs_tokio = if row.mode.contains("smol") {
            tokio_rates.get(&key(&row.mode.replace("smol", "tokio"))).map(|t| o.delivered_rate / t)
        } else {
            None
        };
        tokio_rates.insert(key(row.mode), o.delivered_rate);
        let vs_raw = raw_rate.get(&row.size).map(|r| o.delivered_rate / r);
        println!(
            "{:<15} {:>5} {:>7} {:>10.0} {:>12.0} {:>8.1} {:>6.2}% {:>8} {:>8} {:>11.3} {:>11.3}",
            row.mode,
            row.size,
            pace,
            o.send_rate,
            o.delivered_rate,
            o.delivered_rate * row.size as f64 / 1e6,
            100.0 * o.loss,
            vs_raw.map_or("-".to_string(), |r| format!("{r:.2}x")),
            vs_tokio.map_or("-".to_string(), |r| format!("{r:.2}x")),
            o.send_allocs,
            o.recv_allocs,
        );
    }

    println!();
    println!("round trip, {rounds} x 100-byte request + answer from the handler, two processes on 127.0.0.1");
    println!("{:<15} {:>10} {:>10} {:>10} {:>10}", "mode", "p50 µs", "p99 µs", "p50 ratio", "p99 ratio");
    let mut raw = None;
    let modes = ["raw-tokio", "swim-tokio-aes", "raw-smol", "swim-smol-aes", "swim-smol-aes-1t"];
    for mode in modes.into_iter().filter(|m| wanted(m)) {
        let (mut child, _lines, addr) = child(format!("echo:{mode}"));
        let is_raw = mode.starts_with("raw");
        let rtts = if mode.ends_with("-1t") {
            on_one_thread(|rt| Box::pin(ping(false, addr, rounds, rt)))
        } else {
            on_runtime(
                mode.contains("tokio"),
                ping::<swim_tokio::Tokio>(is_raw, addr, rounds, None),
                ping::<swim_smol::Smol>(is_raw, addr, rounds, None),
            )
        };
        let _ = child.kill();
        let _ = child.wait();
        let (p50, p99) = (percentile(&rtts, 0.5), percentile(&rtts, 0.99));
        if is_raw {
            raw = Some((p50, p99));
        }
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        let (r50, r99) = raw.map_or(("-".into(), "-".into()), |(b50, b99)| {
            (format!("{:.2}x", ratio(p50, b50)), format!("{:.2}x", ratio(p99, b99)))
        });
        println!(
            "{:<15} {:>10.1} {:>10.1} {:>10} {:>10}{}",
            mode,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            r50,
            r99,
            if rtts.len() < rounds {
                format!("  ({} of {rounds} answered)", rtts.len())
            } else {
                String::new()
            }
        );
    }
}
