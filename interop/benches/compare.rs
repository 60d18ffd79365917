//! Comparison benchmark: swim against the real HashiCorp memberlist 0.5.0 (Go),
//! the same scenarios on the same machine in the same run.
//!
//! ```sh
//! cargo bench -p swim-interop --features interop --bench compare -- [SCENARIOS] [--reps N] [--smoke]
//! ```
//!
//! Scenarios (default: all): `join50 join100 crash10 crash50 broadcast50
//! loss10 loss30`. Each runs N nodes of one implementation **in one process**:
//! swim's `swim_tokio::Cluster`s in this process (a tokio runtime with one
//! worker per core), memberlist's `memberlist.Create`s in the Go program
//! `interop/go-bench/main.go` (one process per rep, `GOMAXPROCS` = cores),
//! built at bench time against memberlist's source exactly like the interop
//! tests' Go peer. Nodes are named `n0..`, bind 127.0.0.1 port 0, and use the
//! defaults (swim's `Config::default()`, Go's `DefaultLANConfig`: 1 s probe
//! interval, 500 ms probe timeout, 200 ms gossip interval, 3 gossip nodes,
//! suspicion and retransmit multipliers 4, push-pull every 30 s) unless a
//! scenario says otherwise.
//!
//! - `join50`, `join100`: nodes 1..n-1 join through n0 one after another
//!   (each join returns before the next starts); measured: the time from the
//!   last join's return until every node lists all n members alive (20 reps,
//!   limit 90 s). Also shown: how long the n-1 joins took.
//! - `crash10`, `crash50`: converge as above, then crash n1 (swim:
//!   `shutdown()` without `leave`; Go: `Shutdown()` without `Leave`);
//!   measured: the time from the crash until no other node lists n1 alive or
//!   suspect, i.e. all report it dead (5 reps, limit 120 s).
//! - `broadcast50`: converge, wait 2 s for the join gossip to drain, then n1
//!   broadcasts one message (swim: `Cluster::broadcast`, delivery seen in
//!   `on_message`; Go: a Serf-like user event in a `TransmitLimitedQueue` per
//!   node, re-queued once by each node that sees it first, as Serf does);
//!   measured: the time until the last of the n-1 others delivered it,
//!   from timestamps taken in the delivery callbacks (20 reps, limit 10 s).
//! - `loss10`, `loss30`: 50 nodes with a 200 ms probe interval and 100 ms
//!   probe timeout inside a network namespace this bench creates
//!   (`swimcmp-<pid>`); each side runs as its own process there (swim: this
//!   bench re-executed with `--child loss`, Go: the Go program). After they
//!   converge without loss, an nftables table in the namespace drops the given
//!   percentage of all packets on `lo`, UDP and TCP (`numgen random mod 100 <
//!   P drop`), for 60 s with no real failure. Reported: false deaths
//!   ((observer, subject) pairs where a running node declares another running
//!   node dead: swim `Event::Leave` with state `Dead`, Go `NotifyLeave`), false
//!   suspicions (swim `Event::Suspect`; Go the `memberlist.msg.suspect`
//!   counter, which memberlist bumps exactly on an alive-to-suspect
//!   transition), the (observer, subject) pairs not listed live when the 60 s
//!   end, and, once the table is removed, the time until every node lists all
//!   50 alive again (limit 90 s, over it the rep is a failure: memberlist
//!   may need a push-pull, every 60 s at 50 nodes, to revive a node it
//!   declared dead) (3 reps). The
//!   drop happens in an *input* hook: dropping in the output hook makes the
//!   sender's `sendto` fail with EPERM, which a lossy network never does and
//!   which memberlist treats as a failed probe at once.
//!
//! Views are polled every 10 ms on both sides, the same way: swim's
//! `members()` states, Go's node states read through the read-only function
//! the interop build overlays into memberlist's package (`Members()` does not
//! tell alive from suspect); a poll stops at the first node that does not yet
//! satisfy the condition. swim and Go reps alternate (swim first on even reps,
//! Go first on odd ones), so a slow period of the shared machine hits both.
//!
//! The table: per scenario and metric, the median, p90 (nearest rank) and max
//! over the reps of each side, the ratio of the medians (swim ÷ Go; below 1:
//! swim is faster or has fewer), and the reps that failed (did not complete
//! within the limit; their time counts as infinite, shown as `>limit`).
//!
//! `--smoke`: every scenario with n = 5, 1 rep, 10 s of loss (and 10 s to
//! recover from it), a 200 ms probe interval for the crashes, and the two sides of a loss rep run at the same
//! time — it proves the bench works in well under a minute; its numbers mean
//! nothing.
//!
//! Everything started is removed also on failure: child processes are killed
//! by PID and the namespace (and with it the nftables table) deleted by Drop
//! guards, and on SIGINT/SIGTERM/SIGHUP by a signal handler. Every wait is
//! bounded.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use swim_tokio::{Cluster, Config, Event, State};

const POLL: Duration = Duration::from_millis(10);
const ALL: [&str; 7] = ["join50", "join100", "crash10", "crash50", "broadcast50", "loss10", "loss30"];
const TOPIC: &str = "cmp";
const PAYLOAD: &[u8] = b"compare-bench-payload";
/// Slack added to a phase's own limit before the parent gives up on a child.
const SLACK: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Scenarios

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Join,
    Crash,
    Broadcast,
    Loss,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Swim,
    Go,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Swim => "swim",
            Side::Go => "Go",
        }
    }
}

#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    kind: Kind,
    n: usize,
    reps: usize,
    /// Limit of the measured phase.
    limit: Duration,
    /// Limit of the initial convergence (crash, broadcast, loss).
    converge_limit: Duration,
    /// Probe interval and timeout, if not the defaults.
    probe: Option<(Duration, Duration)>,
    /// Broadcast: wait after convergence before sending.
    settle: Duration,
    /// Loss: percentage of packets dropped, and for how long.
    loss_pct: u32,
    duration: Duration,
    /// Loss: run both sides at the same time (smoke only).
    concurrent: bool,
}

fn spec(name: &'static str, smoke: bool, reps: Option<usize>) -> Spec {
    let secs = Duration::from_secs;
    let fast = Some((Duration::from_millis(200), Duration::from_millis(100)));
    let mut s = Spec {
        name,
        kind: Kind::Join,
        n: 50,
        reps: 20,
        limit: secs(90),
        converge_limit: secs(90),
        probe: None,
        settle: Duration::ZERO,
        loss_pct: 0,
        duration: Duration::ZERO,
        concurrent: false,
    };
    match name {
        "join50" => {}
        "join100" => s.n = 100,
        "crash10" | "crash50" => {
            s.kind = Kind::Crash;
            s.n = if name == "crash10" { 10 } else { 50 };
            s.reps = 5;
            s.limit = secs(120);
        }
        "broadcast50" => {
            s.kind = Kind::Broadcast;
            s.limit = secs(10);
            s.settle = secs(2);
        }
        "loss10" | "loss30" => {
            s.kind = Kind::Loss;
            s.reps = 3;
            s.limit = secs(90);
            s.probe = fast;
            s.loss_pct = if name == "loss10" { 10 } else { 30 };
            s.duration = secs(60);
        }
        _ => unreachable!("checked by parse_args"),
    }
    if smoke {
        s.n = 5;
        s.reps = 1;
        s.duration = secs(10);
        if s.kind == Kind::Loss {
            s.limit = secs(10);
        }
        s.settle = s.settle.min(Duration::from_millis(500));
        s.concurrent = true;
        if s.kind == Kind::Crash {
            s.probe = fast;
        }
    }
    if let Some(r) = reps {
        s.reps = r;
    }
    s
}

// ---------------------------------------------------------------------------
// Cleanup of what this process started, also on signals

struct Registry {
    pids: Vec<u32>,
    netns: Vec<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { pids: Vec::new(), netns: Vec::new() });

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every registered child by PID, deletes every registered namespace
/// (a namespace lives on while a process is inside it) and exits, holding the
/// registry so that the main thread, blocked on it, reports nothing more.
fn cleanup_and_exit() -> ! {
    let r = registry();
    for pid in &r.pids {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
    }
    std::thread::sleep(Duration::from_millis(200));
    for ns in &r.netns {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
    std::process::exit(130);
}

fn install_signal_cleanup() {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut int = signal(SignalKind::interrupt()).unwrap();
            let mut term = signal(SignalKind::terminate()).unwrap();
            let mut hup = signal(SignalKind::hangup()).unwrap();
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        eprintln!("\ninterrupted: killing children, removing the namespace");
        cleanup_and_exit();
    });
}

/// A network namespace of this process, deleted on drop.
struct Netns(String);

impl Netns {
    fn create() -> Result<Netns, String> {
        let name = format!("swimcmp-{}", std::process::id());
        run("ip", &["netns", "add", &name], None)?;
        registry().netns.push(name.clone());
        let ns = Netns(name);
        run("ip", &["-n", &ns.0, "link", "set", "lo", "up"], None)?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let mut r = registry();
        if let Err(e) = run("ip", &["netns", "del", &self.0], None) {
            eprintln!("warning: {e}");
        }
        r.netns.retain(|n| n != &self.0);
    }
}

/// The nftables table dropping `pct`% of the packets on `lo` in a namespace;
/// deleted on drop (and with the namespace).
struct LossTable<'a>(&'a Netns);

const LOSS_TABLE: &str = "swimcmp_loss";

impl<'a> LossTable<'a> {
    fn add(ns: &'a Netns, pct: u32) -> Result<LossTable<'a>, String> {
        let rules = format!(
            "table inet {LOSS_TABLE} {{\n  chain in {{\n    type filter hook input priority 0; policy accept;\n    \
             iifname \"lo\" numgen random mod 100 < {pct} drop\n  }}\n}}\n"
        );
        run("ip", &["netns", "exec", &ns.0, "nft", "-f", "-"], Some(&rules))?;
        Ok(LossTable(ns))
    }
}

impl Drop for LossTable<'_> {
    fn drop(&mut self) {
        if let Err(e) =
            run("ip", &["netns", "exec", &self.0 .0, "nft", "delete", "table", "inet", LOSS_TABLE], None)
        {
            eprintln!("warning: {e}");
        }
    }
}

/// Runs a short command to completion (bounded: `ip` and `nft` return at once).
fn run(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {prog} ({e}): install iproute2 and nftables and run as root"))?;
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).map_err(|e| format!("{prog}: {e}"))?;
    }
    drop(pipe);
    let out = child.wait_with_output().map_err(|e| format!("{prog}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{prog} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A child process printing JSON lines; killed by PID on drop.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    what: String,
}

impl Proc {
    fn spawn(mut cmd: Command, what: String) -> Result<Proc, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        registry().pids.push(child.id());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let tag = what.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("{tag}: {line}"),
                }
            }
        });
        Ok(Proc { stdin: child.stdin.take(), child, lines: rx, what })
    }

    fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "{line}").and_then(|_| stdin.flush());
        }
    }

    /// The next line that is a rep's result or satisfies `want`, or a failure
    /// result if none comes before `deadline` or the process exits.
    fn wait_for(&self, deadline: Instant, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if want(&v) || v.get("rep").is_some() => return v,
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    return failure(format!("{}: nothing within the time allowed", self.what))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return failure(format!("{}: exited without a result", self.what))
                }
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // It should have exited after its last line; wait a little, then kill.
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let pid = self.child.id();
        registry().pids.retain(|p| *p != pid);
    }
}

fn failure(error: String) -> Value {
    json!({"ok": false, "error": error})
}

fn is_final(v: &Value) -> bool {
    v.get("rep").is_some() || v.get("ok").is_some()
}

// ---------------------------------------------------------------------------
// The swim side

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn config(name: String, probe: Option<(Duration, Duration)>) -> Config {
    let mut c = Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name),
        ..Config::default()
    };
    if let Some((interval, timeout)) = probe {
        c.protocol_interval = interval;
        c.probe_timeout = timeout;
    }
    c
}

/// Polls `cond` every 10 ms until it holds (the time since `t0`) or `limit`
/// has passed since `t0` (`None`).
async fn wait_until(t0: Instant, limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    loop {
        if cond() {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// n swim nodes in this process; a crashed node's slot is `None`.
struct Swarm {
    nodes: Vec<Option<Cluster>>,
}

impl Swarm {
    /// Starts n nodes (`on_create` sees each before it starts) and joins
    /// nodes 1..n-1 through n0 one after another; the time the joins took.
    async fn start_and_join(
        &mut self,
        n: usize,
        probe: Option<(Duration, Duration)>,
        mut on_create: impl FnMut(usize, &Cluster),
    ) -> Result<Duration, String> {
        for i in 0..n {
            let c = Cluster::create(config(format!("n{i}"), probe))
                .await
                .map_err(|e| format!("create n{i}: {e}"))?;
            on_create(i, &c);
            c.start();
            self.nodes.push(Some(c));
        }
        let seed = self.node(0).local_addr().to_string();
        let t0 = Instant::now();
        for (i, c) in self.nodes.iter().enumerate().skip(1) {
            c.as_ref().unwrap().join(&[&seed]).await.map_err(|e| format!("n{i} join: {e}"))?;
        }
        Ok(t0.elapsed())
    }

    fn node(&self, i: usize) -> &Cluster {
        self.nodes[i].as_ref().unwrap()
    }

    fn running(&self) -> impl Iterator<Item = &Cluster> {
        self.nodes.iter().flatten()
    }

    /// Every running node lists `want` members alive.
    fn all_alive(&self, want: usize) -> bool {
        self.running().all(|c| c.members().iter().filter(|m| m.state == State::Alive).count() == want)
    }

    /// Starts, joins and waits until every node lists all alive.
    async fn converge(&mut self, spec: &Spec, on_create: impl FnMut(usize, &Cluster)) -> Result<(), String> {
        self.start_and_join(spec.n, spec.probe, on_create).await?;
        match wait_until(Instant::now(), spec.converge_limit, || self.all_alive(spec.n)).await {
            Some(_) => Ok(()),
            None => {
                Err(format!("setup: not all {} alive everywhere within {:?}", spec.n, spec.converge_limit))
            }
        }
    }

    async fn shutdown(&mut self) {
        for c in self.nodes.drain(..).flatten() {
            c.shutdown().await;
        }
    }
}

/// One rep of a join, crash or broadcast scenario with swim nodes in this
/// process: its result as the Go program prints it.
async fn swim_rep(spec: Spec) -> Value {
    let mut swarm = Swarm { nodes: Vec::new() };
    let hard = spec.converge_limit + spec.settle + spec.limit + SLACK;
    let result = match tokio::time::timeout(hard, swim_rep_in(&spec, &mut swarm)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => failure(e),
        Err(_) => failure(format!("no result within {hard:?}")),
    };
    swarm.shutdown().await;
    result
}

async fn swim_rep_in(spec: &Spec, swarm: &mut Swarm) -> Result<Value, String> {
    let n = spec.n;
    match spec.kind {
        Kind::Join => {
            let joins = swarm.start_and_join(n, spec.probe, |_, _| {}).await?;
            match wait_until(Instant::now(), spec.limit, || swarm.all_alive(n)).await {
                Some(t) => {
                    Ok(json!({"ok": true, "secs": t.as_secs_f64(), "joins_secs": joins.as_secs_f64()}))
                }
                None => Err(format!("not all {n} alive everywhere within {:?}", spec.limit)),
            }
        }
        Kind::Crash => {
            swarm.converge(spec, |_, _| {}).await?;
            let victim = swarm.nodes[1].take().unwrap();
            victim.shutdown().await; // no leave: a crash
            let t0 = Instant::now();
            let listed = |c: &Cluster| c.members().iter().any(|m| m.id.as_str() == "n1");
            match wait_until(t0, spec.limit, || !swarm.running().any(listed)).await {
                Some(t) => Ok(json!({"ok": true, "secs": t.as_secs_f64()})),
                None => Err(format!("n1 still live somewhere after {:?}", spec.limit)),
            }
        }
        Kind::Broadcast => {
            let seen: Vec<Arc<OnceLock<Instant>>> = (0..n).map(|_| Arc::new(OnceLock::new())).collect();
            swarm
                .converge(spec, |i, c| {
                    let slot = seen[i].clone();
                    c.on_message(move |_, topic, payload| {
                        if topic == TOPIC && payload == PAYLOAD {
                            slot.get_or_init(Instant::now);
                        }
                    });
                })
                .await?;
            tokio::time::sleep(spec.settle).await;
            let sender = 1;
            let others = || seen.iter().enumerate().filter(move |(i, _)| *i != sender);
            let t0 = Instant::now();
            swarm.node(sender).broadcast(TOPIC, PAYLOAD).map_err(|e| format!("broadcast: {e}"))?;
            match wait_until(t0, spec.limit, || others().all(|(_, s)| s.get().is_some())).await {
                Some(_) => {
                    let last = others().filter_map(|(_, s)| s.get().copied()).max().unwrap();
                    Ok(json!({"ok": true, "secs": (last - t0).as_secs_f64()}))
                }
                None => {
                    let got = others().filter(|(_, s)| s.get().is_some()).count();
                    Err(format!("{got} of {} delivered within {:?}", n - 1, spec.limit))
                }
            }
        }
        Kind::Loss => Err("loss runs in a child process".into()),
    }
}

/// `--child loss ...`: the swim side of a loss rep, run in the namespace by
/// the parent; talks the same protocol as the Go program's `loss` scenario.
fn child_main(args: &[String]) {
    let get = |key: &str| -> u64 {
        let i = args.iter().position(|a| a == key).unwrap_or_else(|| panic!("--child needs {key}"));
        args[i + 1].parse().unwrap_or_else(|_| panic!("bad {key}"))
    };
    let spec = Spec {
        name: "loss",
        kind: Kind::Loss,
        n: get("--n") as usize,
        reps: 1,
        limit: Duration::from_millis(get("--limit-ms")),
        converge_limit: Duration::from_millis(get("--converge-limit-ms")),
        probe: Some((
            Duration::from_millis(get("--probe-interval-ms")),
            Duration::from_millis(get("--probe-timeout-ms")),
        )),
        settle: Duration::ZERO,
        loss_pct: 0,
        duration: Duration::from_millis(get("--duration-ms")),
        concurrent: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let result = rt.block_on(async move { tokio::spawn(loss_child(spec, rx)).await.unwrap() });
    emit(&result);
}

fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}").and_then(|_| out.flush());
}

async fn wait_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>, word: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match tokio::time::timeout_at(deadline, lines.recv()).await {
            Ok(Some(l)) if l.trim() == word => return true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return false,
        }
    }
}

async fn loss_child(spec: Spec, mut lines: tokio::sync::mpsc::UnboundedReceiver<String>) -> Value {
    let mut swarm = Swarm { nodes: Vec::new() };
    let result = loss_child_in(&spec, &mut swarm, &mut lines).await;
    swarm.shutdown().await;
    let mut v = result.unwrap_or_else(failure);
    v["rep"] = json!(0);
    v
}

async fn loss_child_in(
    spec: &Spec,
    swarm: &mut Swarm,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
) -> Result<Value, String> {
    swarm.converge(spec, |_, _| {}).await?;
    let deaths = Arc::new(AtomicU64::new(0));
    let suspicions = Arc::new(AtomicU64::new(0));
    for c in swarm.running() {
        let mut events = c.events();
        let (deaths, suspicions) = (deaths.clone(), suspicions.clone());
        // Ends when the node shuts down (the stream ends).
        tokio::spawn(async move {
            while let Some(ev) = events.next().await {
                match ev {
                    Event::Leave(n) if n.state == State::Dead => deaths.fetch_add(1, Ordering::Relaxed),
                    Event::Suspect(_) => suspicions.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
        });
    }
    emit(&json!({"event": "converged"}));
    if !wait_line(lines, "start").await {
        return Err("no `start` on stdin".into());
    }
    deaths.store(0, Ordering::Relaxed);
    suspicions.store(0, Ordering::Relaxed);
    tokio::time::sleep(spec.duration).await;
    let false_deaths = deaths.load(Ordering::Relaxed);
    let false_suspicions = suspicions.load(Ordering::Relaxed);
    let mut missing = 0;
    for c in swarm.running() {
        let members = c.members();
        missing += (0..spec.n).filter(|j| !members.iter().any(|m| m.id.as_str() == format!("n{j}"))).count();
    }
    emit(&json!({"event": "loss_end"}));
    if !wait_line(lines, "lifted").await {
        return Err("no `lifted` on stdin".into());
    }
    let mut res = json!({
        "false_deaths": false_deaths, "false_suspicions": false_suspicions, "missing_at_end": missing,
    });
    match wait_until(Instant::now(), spec.limit, || swarm.all_alive(spec.n)).await {
        Some(t) => {
            res["ok"] = json!(true);
            res["reconverge_secs"] = json!(t.as_secs_f64());
        }
        None => {
            res["ok"] = json!(false);
            res["error"] = json!(format!(
                "not all {} alive everywhere {:?} after the loss was lifted",
                spec.n, spec.limit
            ));
        }
    }
    Ok(res)
}

// ---------------------------------------------------------------------------
// Running reps

struct Ctx {
    rt: tokio::runtime::Runtime,
    go_bin: PathBuf,
    exe: PathBuf,
    netns: Option<Netns>,
}

fn go_command(ctx: &Ctx, spec: &Spec, scenario: &str) -> Command {
    let mut cmd = Command::new(&ctx.go_bin);
    cmd.args(["-scenario", scenario, "-n", &spec.n.to_string(), "-reps", "1"])
        .args(["-limit", &ms(spec.limit), "-converge-limit", &ms(spec.converge_limit)])
        .args(["-settle", &ms(spec.settle), "-duration", &ms(spec.duration), "-poll", &ms(POLL)]);
    if let Some((interval, timeout)) = spec.probe {
        cmd.args(["-probe-interval", &ms(interval), "-probe-timeout", &ms(timeout)]);
    }
    cmd
}

fn go_rep(ctx: &Ctx, spec: &Spec) -> Value {
    let scenario = match spec.kind {
        Kind::Join => "join",
        Kind::Crash => "crash",
        Kind::Broadcast => "broadcast",
        Kind::Loss => unreachable!(),
    };
    let proc = match Proc::spawn(go_command(ctx, spec, scenario), "Go program".into()) {
        Ok(p) => p,
        Err(e) => return failure(e),
    };
    let deadline = Instant::now() + spec.converge_limit + spec.settle + spec.limit + SLACK;
    proc.wait_for(deadline, is_final)
}

/// One loss rep of each of `sides` (at the same time if more than one), in
/// the namespace: results in the order of `sides`.
fn loss_rep(ctx: &mut Ctx, spec: &Spec, sides: &[Side]) -> Vec<Value> {
    if ctx.netns.is_none() {
        match Netns::create() {
            Ok(ns) => ctx.netns = Some(ns),
            Err(e) => return sides.iter().map(|_| failure(e.clone())).collect(),
        }
    }
    let ns = ctx.netns.as_ref().unwrap();
    let mut results: Vec<Option<Value>> = vec![None; sides.len()];
    let mut procs: Vec<Option<Proc>> = Vec::new();
    for (i, side) in sides.iter().enumerate() {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.0]);
        let (interval, timeout) = spec.probe.unwrap();
        match side {
            Side::Swim => {
                cmd.arg(&ctx.exe).args(["--child", "loss"]).args([
                    "--n",
                    &spec.n.to_string(),
                    "--probe-interval-ms",
                    &interval.as_millis().to_string(),
                    "--probe-timeout-ms",
                    &timeout.as_millis().to_string(),
                    "--duration-ms",
                    &spec.duration.as_millis().to_string(),
                    "--limit-ms",
                    &spec.limit.as_millis().to_string(),
                    "--converge-limit-ms",
                    &spec.converge_limit.as_millis().to_string(),
                ]);
            }
            Side::Go => {
                let go = go_command(ctx, spec, "loss");
                cmd.arg(go.get_program()).args(go.get_args());
            }
        }
        match Proc::spawn(cmd, format!("{} loss child", side.name())) {
            Ok(p) => procs.push(Some(p)),
            Err(e) => {
                results[i] = Some(failure(e));
                procs.push(None);
            }
        }
    }
    phase(&mut procs, &mut results, "converged", spec.converge_limit + SLACK);
    if procs.iter().any(Option::is_some) {
        match LossTable::add(ns, spec.loss_pct) {
            Ok(table) => {
                procs.iter_mut().flatten().for_each(|p| p.send("start"));
                phase(&mut procs, &mut results, "loss_end", spec.duration + SLACK);
                drop(table);
                procs.iter_mut().flatten().for_each(|p| p.send("lifted"));
                let deadline = Instant::now() + spec.limit + SLACK;
                for (i, slot) in procs.iter_mut().enumerate() {
                    if let Some(p) = slot.take() {
                        results[i] = Some(p.wait_for(deadline, is_final));
                    }
                }
            }
            Err(e) => {
                for (i, slot) in procs.iter_mut().enumerate() {
                    if slot.take().is_some() {
                        results[i] = Some(failure(e.clone()));
                    }
                }
            }
        }
    }
    drop(procs);
    results.into_iter().map(|r| r.unwrap_or_else(|| failure("no result".into()))).collect()
}

/// Waits for every live child's `word` line; a child that fails instead drops
/// out with its result.
fn phase(procs: &mut [Option<Proc>], results: &mut [Option<Value>], word: &str, within: Duration) {
    let deadline = Instant::now() + within;
    for (i, slot) in procs.iter_mut().enumerate() {
        let Some(p) = slot else { continue };
        let v = p.wait_for(deadline, |v| v["event"] == word);
        if v["event"] != word {
            results[i] = Some(v);
            *slot = None;
        }
    }
}

fn run_scenario(ctx: &mut Ctx, spec: &Spec) -> (Vec<Value>, Vec<Value>) {
    let (mut swim, mut go) = (Vec::new(), Vec::new());
    for rep in 0..spec.reps {
        let order = if rep % 2 == 0 { [Side::Swim, Side::Go] } else { [Side::Go, Side::Swim] };
        let results: Vec<(Side, Value)> = if spec.kind == Kind::Loss && spec.concurrent {
            order.iter().copied().zip(loss_rep(ctx, spec, &order)).collect()
        } else {
            order
                .iter()
                .map(|&side| {
                    let v = match (side, spec.kind) {
                        (side, Kind::Loss) => loss_rep(ctx, spec, &[side]).remove(0),
                        (Side::Swim, _) => {
                            let s = spec.clone();
                            ctx.rt.block_on(async move {
                                tokio::spawn(swim_rep(s)).await.unwrap_or_else(|e| failure(e.to_string()))
                            })
                        }
                        (Side::Go, _) => go_rep(ctx, spec),
                    };
                    (side, v)
                })
                .collect()
        };
        for (side, v) in results {
            eprintln!("  {} rep {}/{} {:>4}: {v}", spec.name, rep + 1, spec.reps, side.name());
            match side {
                Side::Swim => swim.push(v),
                Side::Go => go.push(v),
            }
        }
    }
    (swim, go)
}

// ---------------------------------------------------------------------------
// The table

struct Metric {
    key: &'static str,
    label: String,
    /// Seconds (shown with 3 decimals, `>limit` when infinite) or a count.
    time: bool,
    /// A failed rep counts as infinite in this metric.
    primary: bool,
}

fn metrics(spec: &Spec) -> Vec<Metric> {
    let m = |key, label: String, time, primary| Metric { key, label, time, primary };
    let n = spec.n;
    match spec.kind {
        Kind::Join => vec![
            m("secs", "all alive after the last join (s)".into(), true, true),
            m("joins_secs", format!("the {} joins took (s)", n - 1), true, false),
        ],
        Kind::Crash => vec![m("secs", "all others report the crashed node dead (s)".into(), true, true)],
        Kind::Broadcast => vec![m("secs", format!("all {} others delivered (s)", n - 1), true, true)],
        Kind::Loss => vec![
            m("false_deaths", "false deaths (observer, subject)".into(), false, false),
            m("false_suspicions", "false suspicions (observer, subject)".into(), false, false),
            m("missing_at_end", "pairs not listed live at the end of the loss".into(), false, false),
            m("reconverge_secs", "all alive again after the loss ends (s)".into(), true, true),
        ],
    }
}

fn values(results: &[Value], metric: &Metric) -> Vec<f64> {
    let mut out = Vec::new();
    for r in results {
        match r[metric.key].as_f64() {
            Some(x) if r["ok"] == true || !metric.primary => out.push(x),
            _ if metric.primary => out.push(f64::INFINITY),
            _ => {}
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Median (mean of the middle two for an even count), p90 (nearest rank), max.
fn stats(sorted: &[f64]) -> Option<[f64; 3]> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let p90 = sorted[((0.9 * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some([median, p90, sorted[n - 1]])
}

fn fmt_value(x: f64, metric: &Metric, spec: &Spec) -> String {
    if x.is_infinite() {
        format!(">{}", spec.limit.as_secs())
    } else if metric.time {
        format!("{x:.3}")
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn table(rows: &[(Spec, Vec<Value>, Vec<Value>)]) -> String {
    let mut t = String::from(
        "| scenario | metric | swim median | swim p90 | swim max | Go median | Go p90 | Go max | swim÷Go | swim failures | Go failures |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (spec, swim, go) in rows {
        let fails = |r: &[Value]| format!("{}/{}", r.iter().filter(|v| v["ok"] != true).count(), r.len());
        for metric in metrics(spec) {
            let (s, g) = (stats(&values(swim, &metric)), stats(&values(go, &metric)));
            let cells = |st: Option<[f64; 3]>| match st {
                Some(v) => v.iter().map(|x| fmt_value(*x, &metric, spec)).collect::<Vec<_>>().join(" | "),
                None => "- | - | -".into(),
            };
            let ratio = match (s, g) {
                (Some([a, ..]), Some([b, ..])) if a.is_finite() && b.is_finite() && b > 0.0 => {
                    format!("{:.2}", a / b)
                }
                (Some([a, ..]), Some([b, ..])) if a == 0.0 && b == 0.0 => "-".into(),
                _ => "n/a".into(),
            };
            let name = if spec.n == default_n(spec.name) {
                spec.name.to_string()
            } else {
                format!("{} (n={})", spec.name, spec.n)
            };
            t += &format!(
                "| {name} | {} | {} | {} | {ratio} | {} | {} |\n",
                metric.label,
                cells(s),
                cells(g),
                fails(swim),
                fails(go)
            );
        }
    }
    t
}

fn default_n(name: &str) -> usize {
    spec(ALL.iter().find(|s| **s == name).unwrap(), false, None).n
}

// ---------------------------------------------------------------------------

struct Args {
    scenarios: Vec<&'static str>,
    reps: Option<usize>,
    smoke: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args { scenarios: Vec::new(), reps: None, smoke: false };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {} // cargo bench passes it
            "--smoke" => a.smoke = true,
            "--reps" => {
                let n = it.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0);
                a.reps = Some(n.ok_or("--reps needs a positive number")?);
            }
            s => match ALL.iter().find(|x| **x == s) {
                Some(x) => a.scenarios.push(x),
                None => return Err(format!("unknown argument {s:?}; scenarios: {}", ALL.join(" "))),
            },
        }
    }
    if a.scenarios.is_empty() {
        a.scenarios = ALL.to_vec();
    }
    Ok(a)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child_main(&args[1..]);
    }
    let args = parse_args(&args).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    install_signal_cleanup();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swim-interop");
    let go_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go-bench");
    let started = Instant::now();
    let mut ctx = Ctx {
        rt: tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap(),
        go_bin: swim_interop::build_go_program(&go_src, &work, "swim-compare-bench"),
        exe: std::env::current_exe().expect("the path of this executable"),
        netns: None,
    };
    let mut rows = Vec::new();
    for name in &args.scenarios {
        let spec = spec(name, args.smoke, args.reps);
        let t = Instant::now();
        eprintln!("== {} (n={}, {} reps)", spec.name, spec.n, spec.reps);
        let (swim, go) = run_scenario(&mut ctx, &spec);
        eprintln!("== {} took {:.0?}", spec.name, t.elapsed());
        rows.push((spec, swim, go));
    }
    drop(ctx);
    println!("\n{}", table(&rows));
    eprintln!("total {:.0?}", started.elapsed());
}
