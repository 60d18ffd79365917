//! Memory under abuse: a swim node (tokio, default configuration) in a
//! process of its own is flooded, stormed and starved on loopback while a
//! healthy member watches it; the bench prints the node's resident memory
//! (peak during each attack, and after), what it refused and counted, and
//! whether it kept probing and kept its healthy member alive.
//!
//! Run: `cargo bench -p swim-examples --bench abuse`
//! (`SWIM_ABUSE_SCALE=0.1` for a short run: fewer broadcasts, joins and
//! streams; `SWIM_ABUSE_BUDGET_MIB=N` sets the node's
//! `max_inbound_stream_bytes`, default 64; `SWIM_ABUSE_ASSERT=1` fails
//! unless the node stays under 256 MiB, keeps probing and keeps its healthy
//! member alive through every attack — CI runs it at scale 0.1).
//!
//! Attacks, one after another:
//! - `flood`: 1,000,000 broadcasts (Serf user events, 64-byte payloads, new
//!   Lamport times) sent as fast as four UDP sockets can, from four threads;
//! - `join-storm`: 400 push-pull joins from 400 new nodes, all at once;
//! - `max-push-pull`: 128 simultaneous push-pulls of ~20 MiB each (the
//!   stream limit: 30,000 member states with 512-byte metadata);
//! - `idle-streams`: 1,000 TCP connections that never send, held 12 s
//!   (longer than `tcp_timeout`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swim_core::wire::{self, PushNodeState, PushPullHeader};
use swim_tokio::{Cluster, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the node reports about itself, ten times a second.
#[derive(Debug, Clone, Default)]
struct Status {
    rss_kb: u64,
    probes: u64,
    members: u64,
    refused: u64,
    broadcasts: u64,
    gossip_dropped: u64,
    clock_jumps: u64,
    stream_errors: u64,
}

fn status_line(node: &Cluster) -> String {
    let proc_status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = proc_status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("0");
    let m = node.metrics();
    format!(
        "{rss} {} {} {} {} {} {} {}",
        m.probes,
        node.members().len(),
        m.streams_refused,
        m.broadcasts_received,
        m.gossip_queue_dropped,
        m.clock_jumps_refused,
        m.stream_errors
    )
}

fn parse(line: &str) -> Status {
    let v: Vec<u64> = line.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    Status {
        rss_kb: v[0],
        probes: v[1],
        members: v[2],
        refused: v[3],
        broadcasts: v[4],
        gossip_dropped: v[5],
        clock_jumps: v[6],
        stream_errors: v[7],
    }
}

/// The attacked node: prints its address, then a status line every 100 ms.
async fn victim() {
    let cfg = Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some("victim".into()),
        max_inbound_stream_bytes: std::env::var("SWIM_ABUSE_BUDGET_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(Config::default().max_inbound_stream_bytes, |m| m << 20),
        ..Config::default()
    };
    let node = Cluster::create(cfg).await.unwrap();
    node.start();
    println!("{}", node.local_addr());
    loop {
        println!("{}", status_line(&node));
        std::io::stdout().flush().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The latest status, and the highest RSS since the last reset.
#[derive(Default)]
struct Watch {
    last: Status,
    peak_kb: u64,
}

fn main() {
    if std::env::var("SWIM_ABUSE_ROLE").is_ok() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(victim());
        return;
    }
    let scale: f64 = std::env::var("SWIM_ABUSE_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let mut child = Victim(
        Command::new(std::env::current_exe().unwrap())
            .env("SWIM_ABUSE_ROLE", "victim")
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start the victim"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let victim: SocketAddr = lines.next().unwrap().unwrap().parse().unwrap();
    let watch = Arc::new(Mutex::new(Watch::default()));
    let w = watch.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let s = parse(&line);
            let mut w = w.lock().unwrap();
            w.peak_kb = w.peak_kb.max(s.rss_kb);
            w.last = s;
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(attacks(victim, watch, scale));
}

/// The victim's process, killed when this is dropped (also on a panic).
struct Victim(std::process::Child);

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

async fn attacks(victim: SocketAddr, watch: Arc<Mutex<Watch>>, scale: f64) {
    let healthy = Cluster::create(Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some("healthy".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    healthy.join(&[victim.to_string()]).await.expect("join the victim");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let base = watch.lock().unwrap().last.clone();
    println!("memory under abuse: one swim-tokio node, default configuration, 127.0.0.1 (scale {scale})");
    println!("at rest: {:.1} MiB resident, {} members", mib(base.rss_kb), base.members);
    println!(
        "{:<14} {:>10} {:>10} {:>9} {:>9} {:>14} {:>8} {:>8}  counted",
        "attack", "peak MiB", "after MiB", "secs", "probes", "healthy seen", "members", "refused"
    );
    let n = |x: f64| ((x * scale) as usize).max(1);
    let flood = n(1_000_000.0);
    run("flood", &watch, &healthy, || async move { flood_broadcasts(victim, flood).await }).await;
    let joins = n(400.0);
    run("join-storm", &watch, &healthy, || async move { join_storm(victim, joins).await }).await;
    let big = n(128.0);
    run("max-push-pull", &watch, &healthy, || async move { max_push_pulls(victim, big).await }).await;
    let idle = n(1000.0);
    run("idle-streams", &watch, &healthy, || async move { idle_streams(victim, idle).await }).await;
    healthy.shutdown().await;
}

/// Runs one attack, then lets the node settle 3 s, and prints its row.
async fn run<F, Fut>(name: &str, watch: &Mutex<Watch>, healthy: &Cluster, attack: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let before = {
        let mut w = watch.lock().unwrap();
        w.peak_kb = w.last.rss_kb;
        w.last.clone()
    };
    let start = Instant::now();
    let detail = attack().await;
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (after, peak) = {
        let w = watch.lock().unwrap();
        (w.last.clone(), w.peak_kb)
    };
    let seen = healthy.member("victim").map(|m| format!("{:?}", m.state)).unwrap_or("gone".into());
    println!(
        "{:<14} {:>10.1} {:>10.1} {:>9.1} {:>9} {:>14} {:>8} {:>8}  {}; broadcasts delivered {}, gossip queue dropped {}, clock jumps refused {}, stream errors {}",
        name,
        mib(peak),
        mib(after.rss_kb),
        secs,
        after.probes - before.probes,
        seen,
        after.members,
        after.refused - before.refused,
        detail,
        after.broadcasts - before.broadcasts,
        after.gossip_dropped - before.gossip_dropped,
        after.clock_jumps - before.clock_jumps,
        after.stream_errors - before.stream_errors,
    );
    if std::env::var("SWIM_ABUSE_ASSERT").is_ok() {
        assert_eq!(seen, "Alive", "{name}: the healthy member lost the node");
        assert!(mib(peak) < PEAK_BOUND_MIB, "{name}: {:.1} MiB resident at peak", mib(peak));
        assert!(after.probes > before.probes, "{name}: the node stopped probing");
    }
}

/// The documented bound on the node's resident memory under every attack
/// (docs/reliability.md), asserted with `SWIM_ABUSE_ASSERT=1`.
const PEAK_BOUND_MIB: f64 = 256.0;

/// `count` Serf user events from four sockets, as fast as they go.
async fn flood_broadcasts(victim: SocketAddr, count: usize) -> String {
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                let payload = [0x5A; 64];
                let mut buf = vec![0u8; 256];
                let mut sent = 0usize;
                for i in (t..count).step_by(threads) {
                    let ev = wire::serf::UserEvent {
                        ltime: i as u64 + 1,
                        name: "flood",
                        payload: &payload,
                        cc: false,
                    };
                    let len = ev.encode(&mut buf).unwrap();
                    if sock.send_to(&buf[..len], victim).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let sent: usize =
        tokio::task::spawn_blocking(move || handles.into_iter().map(|h| h.join().unwrap()).sum())
            .await
            .unwrap();
    format!("{sent} sent")
}

/// Writes `msg` on a new TCP connection to the node and reads its answer;
/// whether one came (each step bounded in time).
async fn exchange(victim: SocketAddr, msg: &[u8]) -> bool {
    let Ok(mut c) = tokio::net::TcpStream::connect(victim).await else { return false };
    let wrote = tokio::time::timeout(Duration::from_secs(30), c.write_all(msg)).await;
    if !matches!(wrote, Ok(Ok(()))) {
        return false;
    }
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), c.read_to_end(&mut reply)).await;
    matches!(read, Ok(Ok(_))) && !reply.is_empty()
}

/// How many of the exchanges got an answer.
async fn answered(tasks: Vec<tokio::task::JoinHandle<bool>>) -> usize {
    let mut n = 0;
    for t in tasks {
        n += usize::from(t.await.unwrap_or(false));
    }
    n
}

/// `count` joins from new nodes at once, each a real push-pull.
async fn join_storm(victim: SocketAddr, count: usize) -> String {
    let mut tasks = Vec::new();
    for i in 0..count {
        let cfg = Config { node_name: Some(format!("storm-{i}")), ..Config::default() };
        let addr = SocketAddr::from(([127, 0, 1, (i % 250) as u8 + 1], 20_000 + i as u16));
        let rng: rand_chacha::ChaCha8Rng = rand_chacha::rand_core::SeedableRng::seed_from_u64(i as u64);
        let mut core = swim_core::Swim::new(cfg, addr, rng, swim_core::Instant::ZERO).unwrap();
        let req: swim_core::StreamRequest = core.join(swim_core::Instant::ZERO, victim);
        tasks.push(tokio::spawn(async move { exchange(victim, &req.data).await }));
    }
    format!("{} of {count} answered", answered(tasks).await)
}

/// `count` push-pulls of ~20 MiB at once (30,000 dead members with 512-byte
/// metadata: the victim ignores news of unknown dead members, so only the
/// buffering is tested).
async fn max_push_pulls(victim: SocketAddr, count: usize) -> String {
    let meta = vec![0x4D; 512];
    let names: Vec<String> = (0..30_000).map(|i| format!("ghost-{i:05}-{}", "x".repeat(40))).collect();
    let addrs: Vec<[u8; 4]> = (0..names.len()).map(|i| [127, 0, 2, (i % 250) as u8 + 1]).collect();
    let states = names.iter().zip(&addrs).map(|(name, addr)| PushNodeState {
        name,
        addr,
        port: 7946,
        meta: &meta,
        incarnation: 1,
        state: 2,
        vsn: &[1, 5, 2, 2, 5, 5],
    });
    let header = PushPullHeader { nodes: names.len() as u32, user_state_len: 0, join: false };
    let mut msg = Vec::new();
    wire::encode_push_pull(&mut msg, &header, states, &[]);
    let msg = Arc::new(msg);
    let size = msg.len();
    let mut tasks = Vec::new();
    for _ in 0..count {
        let msg = msg.clone();
        tasks.push(tokio::spawn(async move { exchange(victim, &msg).await }));
    }
    format!("{} of {count} answered ({:.1} MiB each)", answered(tasks).await, size as f64 / (1 << 20) as f64)
}

/// `count` connections that never send, held 12 s.
async fn idle_streams(victim: SocketAddr, count: usize) -> String {
    let mut conns = Vec::new();
    for _ in 0..count {
        if let Ok(c) = tokio::net::TcpStream::connect(victim).await {
            conns.push(c);
        }
    }
    let opened = conns.len();
    tokio::time::sleep(Duration::from_secs(12)).await;
    drop(conns);
    format!("{opened} opened")
}
