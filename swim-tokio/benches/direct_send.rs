//! Direct-send throughput between two processes on loopback, against a raw
//! tokio UDP send/recv loop measured in the same run, plus heap allocations
//! per message on both sides.
//!
//! Run: `cargo bench -p swim-tokio --bench direct_send`
//! (`SWIM_BENCH_MESSAGES=N` changes the count per mode; default 200000).
//!
//! The bench re-runs itself as the receiving process. Each mode sends the same
//! number of 64-byte messages as fast as the sender can; the receiver counts
//! what arrives until it has been idle for 500 ms. Reported: send rate,
//! delivered rate, loss, and allocations per message, with the ratio to raw UDP.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swim_tokio::{Cluster, Config};
use tokio::net::UdpSocket;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PAYLOAD: [u8; 64] = [0xAB; 64];
const IDLE: Duration = Duration::from_millis(500);
const LIMIT: Duration = Duration::from_secs(60);

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

/// Receiver process: prints its address, counts messages until idle, prints
/// "count allocations".
async fn receive(mode: &str) {
    let count = Arc::new(AtomicU64::new(0));
    let last = Arc::new(std::sync::Mutex::new(Instant::now()));
    let stdout = std::io::stdout();
    let allocs_before;
    let mut _keep = None;
    match mode {
        "raw" => {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            println!("{}", sock.local_addr().unwrap());
            stdout.lock().flush().unwrap();
            let (count, last) = (count.clone(), last.clone());
            allocs_before = GLOBAL.stats().allocations;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1500];
                while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                    if n == PAYLOAD.len() {
                        count.fetch_add(1, Ordering::Relaxed);
                        *last.lock().unwrap() = Instant::now();
                    }
                }
            });
        }
        _ => {
            let node = Cluster::create(config("receiver", mode == "swim-aes")).await.unwrap();
            node.start();
            let (c, l) = (count.clone(), last.clone());
            node.on_message(move |_, topic, payload| {
                if topic == "bench" && payload.len() == PAYLOAD.len() {
                    c.fetch_add(1, Ordering::Relaxed);
                    *l.lock().unwrap() = Instant::now();
                }
            });
            println!("{}", node.local_addr());
            stdout.lock().flush().unwrap();
            allocs_before = GLOBAL.stats().allocations;
            _keep = Some(node);
        }
    }
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let idle = last.lock().unwrap().elapsed();
        let n = count.load(Ordering::Relaxed);
        if (n > 0 && idle > IDLE) || started.elapsed() > LIMIT {
            break;
        }
    }
    let allocs = GLOBAL.stats().allocations - allocs_before;
    println!("{} {}", count.load(Ordering::Relaxed), allocs);
}

struct Outcome {
    sent: u64,
    send_secs: f64,
    received: u64,
    recv_secs: f64,
    send_allocs: f64,
    recv_allocs: f64,
}

async fn run_mode(mode: &str, messages: u64) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env("SWIM_BENCH_ROLE", mode)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the receiver process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines.next().unwrap().unwrap().trim().parse().unwrap();

    let start;
    let region;
    match mode {
        "raw" => {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            region = Region::new(GLOBAL);
            start = Instant::now();
            for _ in 0..messages {
                sock.send_to(&PAYLOAD, addr).await.unwrap();
            }
        }
        _ => {
            let node = Cluster::create(config("sender", mode == "swim-aes")).await.unwrap();
            node.start();
            node.join(&[addr.to_string()]).await.expect("join the receiver");
            let target = "receiver".into();
            region = Region::new(GLOBAL);
            start = Instant::now();
            for _ in 0..messages {
                node.send(&target, "bench", &PAYLOAD).await.unwrap();
            }
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let send_allocs = region.change().allocations as f64 / messages as f64;
    let report = lines.next().unwrap().unwrap();
    let mut it = report.split_whitespace().map(|x| x.parse::<u64>().unwrap());
    let (received, recv_allocs) = (it.next().unwrap(), it.next().unwrap());
    let _ = child.kill();
    let _ = child.wait();
    // The receiver stops counting IDLE after the last message.
    let recv_secs = (start.elapsed().as_secs_f64() - IDLE.as_secs_f64()).max(send_secs);
    Outcome {
        sent: messages,
        send_secs,
        received,
        recv_secs,
        send_allocs,
        recv_allocs: recv_allocs as f64 / received.max(1) as f64,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(role) = std::env::var("SWIM_BENCH_ROLE") {
        rt.block_on(receive(&role));
        return;
    }
    let messages: u64 =
        std::env::var("SWIM_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    println!("direct send, {messages} x 64-byte messages per mode, two processes on 127.0.0.1");
    println!(
        "{:<9} {:>12} {:>14} {:>8} {:>10} {:>12} {:>12}",
        "mode", "sent/s", "delivered/s", "loss", "vs raw", "allocs/send", "allocs/recv"
    );
    let mut raw_rate = None;
    for mode in ["raw", "swim", "swim-aes"] {
        let o = rt.block_on(run_mode(mode, messages));
        let delivered = o.received as f64 / o.recv_secs;
        let raw = *raw_rate.get_or_insert(delivered);
        println!(
            "{:<9} {:>12.0} {:>14.0} {:>7.1}% {:>9.2}x {:>12.3} {:>12.3}",
            mode,
            o.sent as f64 / o.send_secs,
            delivered,
            100.0 * (1.0 - o.received as f64 / o.sent as f64),
            delivered / raw,
            o.send_allocs,
            o.recv_allocs,
        );
    }
}
