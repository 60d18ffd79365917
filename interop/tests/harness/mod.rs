//! Test harness: the Go memberlist peer, Serf agents and our own nodes, all on
//! 127.0.0.1. Every child process is owned by a guard whose `Drop` kills it by
//! PID (also when a test panics); every wait is bounded in time.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use swim_interop::{build_go_program, require_tool};
use swim_tokio::{Cluster, Config, DelegateVersions, Event, Node, State};

/// A name for this process's `n`-th log file (tests run in parallel threads).
fn unique(prefix: &str, name: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{name}-{}-{n}", std::process::id())
}

fn work_dir() -> PathBuf {
    static CLEANED: OnceLock<()> = OnceLock::new();
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swim-interop");
    std::fs::create_dir_all(&d).unwrap();
    CLEANED.get_or_init(|| {
        // Logs of earlier runs (this run's names carry this process's id).
        let mine = format!("-{}-", std::process::id());
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if (name.starts_with("go-") || name.starts_with("serf-")) && !name.contains(&mine) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    });
    d
}

/// Logs of our nodes go to stderr (shown for failing tests) with
/// `RUST_LOG=swim_core=debug` etc.
pub fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// Builds the Go test peer once per test run (GOPATH mode, offline), with
/// `overlay/memberlist_swim_interop.go` added to memberlist's package.
pub fn go_peer_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go-peer");
        build_go_program(&src, &work_dir(), "swim-interop-peer")
    })
}

/// A free port for both UDP and TCP on 127.0.0.1 (for processes that need one
/// on the command line).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; returns the
/// time it took, or panics with `what`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    match try_wait_until(timeout, cond).await {
        Some(took) => took,
        None => panic!("timed out after {timeout:?} waiting for: {what}"),
    }
}

/// Like [`wait_until`] but returns `None` instead of panicking.
pub async fn try_wait_until<F, Fut>(timeout: Duration, mut cond: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A partition on loopback: every TCP and UDP packet to the given ports is
/// dropped (nftables, a table of its own), so the nodes bound there cannot
/// reach each other. Healed (the table deleted) on drop, also when a test
/// fails. Needs root and `nft` (`.ci/run` installs nftables).
pub struct LoopbackCut {
    table: String,
}

impl LoopbackCut {
    pub fn new(ports: &[u16]) -> LoopbackCut {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let table = format!(
            "swim_interop_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let set = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let rules = format!(
            "table inet {table} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    \
             iifname \"lo\" meta l4proto {{ tcp, udp }} th dport {{ {set} }} drop\n  }}\n}}\n"
        );
        nft(&["-f", "-"], Some(&rules));
        LoopbackCut { table }
    }
}

impl Drop for LoopbackCut {
    fn drop(&mut self) {
        nft(&["delete", "table", "inet", &self.table], None);
    }
}

fn nft(args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = match Command::new("nft")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot run nft ({e}): install nftables (apt-get install nftables) and run as root"),
    };
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nft {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("run kill");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------
// The Go memberlist peer

/// Options of one Go peer (its command-line flags).
#[derive(Clone, Debug)]
pub struct GoOpts {
    pub name: String,
    /// The address to bind (`-bind`; default 127.0.0.1, `::1` for IPv6).
    pub bind: String,
    pub join: Vec<String>,
    pub key: Option<Vec<u8>>,
    pub label: String,
    pub compress: bool,
    /// "serf" (2..5, cur 5) or "plain" (0..0).
    pub delegate_versions: &'static str,
    pub tags: BTreeMap<String, String>,
    pub probe_interval: Duration,
    pub probe_timeout: Duration,
    pub suspicion_mult: u32,
    pub push_pull_interval: Duration,
    /// memberlist's `GossipToTheDeadTime` (how long dead members are kept).
    pub dead_time: Duration,
}

impl GoOpts {
    pub fn new(name: &str) -> GoOpts {
        GoOpts {
            name: name.into(),
            bind: "127.0.0.1".into(),
            join: vec![],
            key: None,
            label: String::new(),
            compress: false,
            delegate_versions: "serf",
            tags: BTreeMap::new(),
            probe_interval: PROBE_INTERVAL,
            probe_timeout: PROBE_TIMEOUT,
            suspicion_mult: SUSPICION_MULT,
            push_pull_interval: PUSH_PULL_INTERVAL,
            dead_time: Duration::from_secs(30),
        }
    }
}

/// A running Go memberlist node. Killed (SIGKILL, by PID) on drop.
pub struct GoPeer {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    lines: Arc<Mutex<Vec<Value>>>,
    cursor: Mutex<usize>,
    stderr_path: PathBuf,
    stopped: bool,
}

/// Lower-case hex, as the Go peer and Serf take keys.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl GoPeer {
    pub async fn spawn(opts: GoOpts) -> GoPeer {
        let bin = go_peer_bin();
        let stderr_path = work_dir().join(unique("go", &opts.name) + ".log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(["-name", &opts.name, "-bind", &opts.bind, "-port", "0"])
            .args(["-delegate-versions", opts.delegate_versions])
            .args(["-probe-interval", &ms(opts.probe_interval)])
            .args(["-probe-timeout", &ms(opts.probe_timeout)])
            .args(["-suspicion-mult", &opts.suspicion_mult.to_string()])
            .args(["-push-pull-interval", &ms(opts.push_pull_interval)])
            .args(["-dead-time", &ms(opts.dead_time)]);
        if !opts.join.is_empty() {
            cmd.args(["-join", &opts.join.join(",")]);
        }
        if let Some(k) = &opts.key {
            cmd.args(["-key", &hex(k)]);
        }
        if !opts.label.is_empty() {
            cmd.args(["-label", &opts.label]);
        }
        if opts.compress {
            cmd.arg("-compress");
        }
        if !opts.tags.is_empty() {
            let tags: Vec<String> = opts.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            cmd.args(["-tags", &tags.join(",")]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the Go peer");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => sink.lock().unwrap().push(v),
                    Err(_) => {
                        sink.lock().unwrap().push(serde_json::json!({"event": "bad_line", "line": line}))
                    }
                }
            }
        });
        let mut peer = GoPeer {
            name: opts.name.clone(),
            addr: "127.0.0.1:0".parse().unwrap(),
            stdin: Mutex::new(child.stdin.take()),
            child,
            lines,
            cursor: Mutex::new(0),
            stderr_path,
            stopped: false,
        };
        let ready = peer.next_event(|v| v["event"] == "ready" || v["event"] == "create_error", TEN_S).await;
        assert_eq!(ready["event"], "ready", "Go peer {} did not start: {ready}", opts.name);
        peer.addr = ready["addr"].as_str().unwrap().parse().unwrap();
        if !opts.join.is_empty() {
            peer.next_event(|v| v["event"] == "joined" || v["event"] == "join_error", TEN_S).await;
        }
        peer
    }

    /// Makes [`next_event`](Self::next_event) look at every line again.
    pub fn cursor_reset(&self) {
        *self.cursor.lock().unwrap() = 0;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for the next line (after those already consumed by this method)
    /// matching `pred`.
    pub async fn next_event(&self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            {
                let lines = self.lines.lock().unwrap();
                let mut cursor = self.cursor.lock().unwrap();
                while *cursor < lines.len() {
                    let v = &lines[*cursor];
                    *cursor += 1;
                    if pred(v) {
                        return v.clone();
                    }
                }
            }
            if start.elapsed() > timeout {
                panic!(
                    "Go peer {}: no matching line within {timeout:?}; its log ends with:\n{}",
                    self.name,
                    tail(&self.stderr_path, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a command line and returns its reply (or the `members` answer).
    pub async fn cmd(&self, line: &str) -> Value {
        let word = line.split(' ').next().unwrap().to_string();
        {
            let mut stdin = self.stdin.lock().unwrap();
            let stdin = stdin.as_mut().expect("Go peer stdin closed");
            writeln!(stdin, "{line}").expect("write to the Go peer");
            stdin.flush().unwrap();
        }
        if word == "members" {
            self.next_event(|v| v["event"] == "members", TEN_S).await
        } else {
            self.next_event(move |v| v["event"] == "reply" && v["cmd"] == word.as_str(), TEN_S).await
        }
    }

    /// Sends a command and asserts it succeeded.
    pub async fn cmd_ok(&self, line: &str) {
        let r = self.cmd(line).await;
        assert_eq!(r["ok"], true, "Go peer {}: `{line}` failed: {r}", self.name);
    }

    /// Every node this peer knows: name -> (state, node JSON).
    pub async fn view(&self) -> HashMap<String, Value> {
        let m = self.cmd("members").await;
        let mut out = HashMap::new();
        for n in m["members"].as_array().cloned().unwrap_or_default() {
            out.insert(n["name"].as_str().unwrap().to_string(), n);
        }
        out
    }

    /// Names of the nodes this peer sees alive.
    pub async fn alive(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.view().await.into_iter().filter(|(_, n)| n["state"] == "alive").map(|(k, _)| k).collect();
        v.sort();
        v
    }

    pub async fn state_of(&self, name: &str) -> Option<String> {
        self.view().await.get(name).map(|n| n["state"].as_str().unwrap().to_string())
    }

    pub fn kill9(&mut self) {
        if !self.stopped {
            // SIGKILL also ends a SIGSTOPped process.
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.stopped = true;
        }
    }

    pub fn sigstop(&self) {
        signal(self.pid(), "STOP");
    }

    pub fn sigcont(&self) {
        signal(self.pid(), "CONT");
    }

    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.stderr_path, n)
    }
}

impl Drop for GoPeer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- Go peer {} log (last 40 lines) ---\n{}", self.name, self.log_tail(40));
        }
        self.kill9();
    }
}

// ---------------------------------------------------------------------------
// Serf agents

/// A running `serf agent`. Killed (SIGKILL, by PID) on drop.
pub struct SerfAgent {
    pub name: String,
    pub addr: SocketAddr,
    pub rpc: SocketAddr,
    child: Child,
    log_path: PathBuf,
    /// File the agent's user-event handler appends `name payload` lines to.
    pub events_path: PathBuf,
    stopped: bool,
}

impl SerfAgent {
    pub async fn spawn(name: &str, key: Option<&[u8]>) -> SerfAgent {
        let serf = require_tool("serf");
        let dir = work_dir();
        let tag = unique("serf", name);
        let log_path = dir.join(format!("{tag}.log"));
        let events_path = dir.join(format!("{tag}.events"));
        let _ = std::fs::remove_file(&events_path);
        let handler = dir.join(format!("{tag}.handler.sh"));
        // Answers every query with `serf-<name>:<payload>`.
        let query_handler = dir.join(format!("{tag}.query.sh"));
        std::fs::write(&query_handler, format!("#!/bin/sh\nprintf 'serf-{name}:%s' \"$(cat)\"\n")).unwrap();
        std::fs::write(
            &handler,
            format!(
                "#!/bin/sh\nprintf '%s %s\\n' \"$SERF_USER_EVENT\" \"$(cat)\" >> '{}'\n",
                events_path.display()
            ),
        )
        .unwrap();
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let rpc_port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let rpc: SocketAddr = format!("127.0.0.1:{rpc_port}").parse().unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new(&serf);
            cmd.arg("agent")
                .arg(format!("-node={name}"))
                .arg(format!("-bind={addr}"))
                .arg(format!("-rpc-addr={rpc}"))
                .arg("-log-level=debug")
                .arg(format!("-event-handler=user=sh {}", handler.display()))
                .arg(format!("-event-handler=query=sh {}", query_handler.display()));
            if let Some(k) = key {
                cmd.arg(format!("-encrypt={}", base64(k)));
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn serf agent");
            let mut agent = SerfAgent {
                name: name.into(),
                addr,
                rpc,
                child,
                log_path: log_path.clone(),
                events_path: events_path.clone(),
                stopped: false,
            };
            let up = try_wait_until(TEN_S, || {
                let ok = agent.try_members().is_some();
                async move { ok }
            })
            .await;
            if up.is_some() {
                return agent;
            }
            last_err = tail(&log_path, 20);
            agent.kill9();
        }
        panic!("serf agent {name} did not start:\n{last_err}");
    }

    fn serf(&self, args: &[&str]) -> std::process::Output {
        // Flags must come before positional arguments (Go's flag package stops
        // at the first one): `serf <cmd> -rpc-addr=... <args>`.
        Command::new("serf")
            .arg(args[0])
            .arg(format!("-rpc-addr={}", self.rpc))
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .expect("run serf")
    }

    fn try_members(&self) -> Option<Vec<Value>> {
        let out = self.serf(&["members", "-format=json"]);
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["members"].as_array().cloned()
    }

    /// `serf members -format=json`: name -> member JSON (`status`, `tags`, ...).
    pub fn members(&self) -> HashMap<String, Value> {
        let list = self.try_members().unwrap_or_else(|| panic!("`serf members` failed on {}", self.name));
        list.into_iter().map(|m| (m["name"].as_str().unwrap().to_string(), m)).collect()
    }

    pub fn status_of(&self, name: &str) -> Option<String> {
        self.members().get(name).map(|m| m["status"].as_str().unwrap().to_string())
    }

    pub fn join(&self, addr: &str) {
        let out = self.serf(&["join", addr]);
        assert!(
            out.status.success(),
            "serf join {addr} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `serf force-leave <name>`.
    pub fn force_leave(&self, name: &str) {
        let out = self.serf(&["force-leave", name]);
        assert!(out.status.success(), "serf force-leave failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn event(&self, name: &str, payload: &str) {
        let out = self.serf(&["event", name, payload]);
        assert!(out.status.success(), "serf event failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `serf query -format=json` with `args` (flags, then name and payload):
    /// the parsed output (`Acks`, `Responses`).
    pub fn query(&self, args: &[&str]) -> Value {
        let mut all = vec!["query", "-format=json"];
        all.extend_from_slice(args);
        let out = self.serf(&all);
        assert!(
            out.status.success(),
            "serf query failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("serf query output: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Runs `serf query <args>` (text output, printed as answers arrive)
    /// and returns how long after its start the `n`-th response came
    /// (`None`: fewer arrived). Blocking.
    pub fn query_time_to(&self, n: usize, args: &[&str]) -> Option<Duration> {
        let start = std::time::Instant::now();
        let mut child = Command::new("serf")
            .arg("query")
            .arg(format!("-rpc-addr={}", self.rpc))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run serf query");
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut seen = 0;
        let mut at = None;
        for line in out.lines().map_while(Result::ok) {
            if line.contains("Response from") {
                seen += 1;
                if seen == n && at.is_none() {
                    at = Some(start.elapsed());
                }
            }
        }
        let _ = child.wait();
        at
    }

    /// `serf rtt <args>`: whether it exited 0, and what it printed.
    pub fn rtt(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["rtt"];
        all.extend_from_slice(args);
        let out = self.serf(&all);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// `serf reachability` (Serf's `_serf_ping` query with acks): whether
    /// it exited 0, and what it printed.
    pub fn reachability(&self) -> (bool, String) {
        let out = self.serf(&["reachability"]);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// `serf keys <arg>` (e.g. `-install=KEY`): whether it exited 0 (every
    /// node answered, none failed), and what it printed.
    pub fn keys(&self, arg: &str) -> (bool, String) {
        let out = self.serf(&["keys", arg]);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Lines `name payload` written by the user-event handler.
    pub fn user_events(&self) -> Vec<String> {
        std::fs::read_to_string(&self.events_path).unwrap_or_default().lines().map(String::from).collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.stopped = true;
        }
    }
}

impl Drop for SerfAgent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- serf agent {} log (last 40 lines) ---\n{}", self.name, tail(&self.log_path, 40));
        }
        self.kill9();
    }
}

pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Our nodes

pub const PROBE_INTERVAL: Duration = Duration::from_millis(200);
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(150);
pub const SUSPICION_MULT: u32 = 4;
/// Anti-entropy well inside the tests' 10 s windows. Gossip sends each item
/// only retransmit_mult * ceil(log10(n+1)) times (4 here), so in a few-node
/// cluster the epidemic now and then dies out before reaching one node (seen
/// about once per 100 setups: a node with no event at all about a member 10 s
/// after its join, nothing dropped); memberlist relies on push-pull to repair
/// that, every 30 s by default.
pub const PUSH_PULL_INTERVAL: Duration = Duration::from_secs(3);
pub const TEN_S: Duration = Duration::from_secs(10);

/// A configuration for our node with the same fast timings as the Go peer.
pub fn config(name: &str) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        protocol_interval: PROBE_INTERVAL,
        probe_timeout: PROBE_TIMEOUT,
        gossip_interval: Duration::from_millis(100),
        suspicion_mult: SUSPICION_MULT,
        tcp_timeout: Duration::from_secs(2),
        push_pull_interval: PUSH_PULL_INTERVAL,
        delegate_versions: DelegateVersions::SERF,
        ..Config::default()
    }
}

/// One membership event seen by one of our nodes.
#[derive(Clone, Debug)]
pub struct Seen {
    pub kind: &'static str,
    pub node: Node,
}

/// A message delivered to `on_message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub sender: String,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// One of our nodes, recording its events and messages.
pub struct RustNode {
    pub name: String,
    pub cluster: Cluster,
    pub events: Arc<Mutex<Vec<Seen>>>,
    pub msgs: Arc<Mutex<Vec<Msg>>>,
    recorder: tokio::task::JoinHandle<()>,
}

impl RustNode {
    pub async fn start(config: Config) -> RustNode {
        init_tracing();
        let name = config.node_name.clone().unwrap();
        let cluster = Cluster::create(config).await.expect("create our node");
        let events = Arc::new(Mutex::new(Vec::new()));
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let mut stream = cluster.events();
        let sink = events.clone();
        let recorder = tokio::spawn(async move {
            while let Some(ev) = stream.next().await {
                let kind = match &ev {
                    Event::Join(_) => "join",
                    Event::Leave(_) => "leave",
                    Event::Suspect(_) => "suspect",
                    Event::Alive(_) => "alive",
                    _ => "update",
                };
                sink.lock().unwrap().push(Seen { kind, node: ev.node().clone() });
            }
        });
        let sink = msgs.clone();
        cluster.on_message(move |sender, topic, payload| {
            sink.lock().unwrap().push(Msg {
                sender: sender.id.to_string(),
                topic: topic.to_string(),
                payload: payload.to_vec(),
            });
        });
        cluster.start();
        RustNode { name, cluster, events, msgs, recorder }
    }

    pub fn addr(&self) -> SocketAddr {
        self.cluster.local_addr()
    }

    pub fn addr_string(&self) -> String {
        self.addr().to_string()
    }

    pub async fn join(&self, seed: &str) {
        self.cluster.join(&[seed]).await.unwrap_or_else(|e| panic!("{} joining {seed}: {e}", self.name));
    }

    /// Names of the live members this node lists as alive (itself included).
    pub fn alive(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .cluster
            .members()
            .into_iter()
            .filter(|n| n.state == State::Alive)
            .map(|n| n.id.to_string())
            .collect();
        v.sort();
        v
    }

    /// The last state this node reported for `name` through its events
    /// (members() for live nodes, the last Leave event for gone ones).
    pub fn state_of(&self, name: &str) -> Option<State> {
        if let Some(n) = self.cluster.members().into_iter().find(|n| n.id.as_str() == name) {
            return Some(n.state);
        }
        self.events.lock().unwrap().iter().rev().find(|s| s.node.id.as_str() == name).map(|s| s.node.state)
    }

    pub fn events_about(&self, name: &str) -> Vec<Seen> {
        self.events.lock().unwrap().iter().filter(|s| s.node.id.as_str() == name).cloned().collect()
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.msgs.lock().unwrap().clone()
    }

    pub fn member(&self, name: &str) -> Option<Node> {
        self.cluster.members().into_iter().find(|n| n.id.as_str() == name)
    }

    pub async fn shutdown(&self) {
        self.cluster.shutdown().await;
    }
}

impl Drop for RustNode {
    fn drop(&mut self) {
        self.recorder.abort();
    }
}

pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Waits until every node, ours and Go's, lists exactly `expected` alive.
pub async fn wait_all_alive(
    ours: &[&RustNode],
    gos: &[&GoPeer],
    expected: &[&str],
    timeout: Duration,
) -> Duration {
    let want = sorted(expected);
    let start = Instant::now();
    loop {
        let mut bad = Vec::new();
        for r in ours {
            let a = r.alive();
            if a != want {
                let all: Vec<String> = r
                    .cluster
                    .members()
                    .iter()
                    .map(|n| format!("{}:{:?}@{}", n.id, n.state, n.incarnation))
                    .collect();
                let m = r.cluster.metrics();
                let history: Vec<String> = want
                    .iter()
                    .filter(|n| !a.contains(n))
                    .map(|n| format!("{n}: {:?}", r.events_about(n)))
                    .collect();
                bad.push(format!(
                    "ours {} sees {a:?} (members {all:?}; events about the missing {history:?}; {m:?})",
                    r.name
                ));
            }
        }
        for g in gos {
            let a = g.alive().await;
            if a != want {
                bad.push(format!("Go {} sees {a:?}", g.name));
            }
        }
        if bad.is_empty() {
            return start.elapsed();
        }
        if start.elapsed() > timeout {
            panic!("after {timeout:?}, not every node lists {want:?} alive: {}", bad.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
