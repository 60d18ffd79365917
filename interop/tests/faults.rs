//! Faults between hosts: every node in a network namespace of its own, with
//! its own address on a bridge (veth pairs), so loss, partitions and CPU
//! starvation are per host. Nodes are swim on tokio, swim on smol (the
//! `swim-fault-node` binary) and a Go memberlist peer, in one cluster.
//! Each scenario asserts behaviour (no live node declared dead where it
//! must not be; a crashed node dead everywhere within the bound; one view
//! within a bound after the fault ends) and prints its figures (a line
//! starting `FAULTS` per scenario; docs/reliability.md has them).
//!
//! Needs root, iproute2 and nftables (CI installs them) and the interop
//! peers; run with
//! `cargo nextest run -p swim-interop --features interop --test faults --test-threads 1 --no-capture`.
//! Every namespace, veth, nftables table, cgroup and process a scenario
//! makes is removed when it ends, also when it fails.
#![cfg(feature = "interop")]

#[allow(dead_code)]
mod harness;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The suite's probe interval (the nodes' and the Go peer's).
const INTERVAL: Duration = Duration::from_millis(200);

fn run(prog: &str, args: &[&str], stdin: Option<&str>) {
    let mut cmd = Command::new(prog);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run `{prog}` ({e}): the fault suite needs root, iproute2 and nftables")
    });
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "`{prog} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// One node's process: its JSON lines, each stamped when it arrived.
struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, Value)>>>,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: &str) {
        run("kill", &[sig, &self.pid().to_string()], None);
    }

    /// Events about `node` (kind, state) seen since `since`.
    fn events_about(&self, node: &str, since: Instant) -> Vec<(Instant, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, v)| *t >= since && subject(v) == node)
            .map(|(t, v)| (*t, v["event"].as_str().unwrap_or("").to_string()))
            .collect()
    }

    /// What this node thinks of every other: the last event about each.
    fn view(&self) -> BTreeMap<String, String> {
        let mut view = BTreeMap::new();
        for (_, v) in self.lines.lock().unwrap().iter() {
            let kind = v["event"].as_str().unwrap_or("");
            let state = match kind {
                "join" | "alive" | "update" => "alive",
                "suspect" => "suspect",
                "leave" => "dead",
                _ => continue,
            };
            view.insert(subject(v), state.to_string());
        }
        view.remove(&self.name);
        view
    }

    fn addr_of(&self, node: &str) -> Option<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, v)| subject(v) == node)
            .map(|(_, v)| v["addr"].as_str().or(v["node"]["addr"].as_str()).unwrap_or("").to_string())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process must be continued to die promptly.
        let _ = Command::new("kill").args(["-CONT", &self.pid().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node an event line is about (ours: a name; Go's: an object).
fn subject(v: &Value) -> String {
    v["node"].as_str().or(v["node"]["name"].as_str()).unwrap_or("").to_string()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tokio,
    Smol,
    Go,
}

/// A host: a namespace with one address on the bridge.
struct Host {
    ns: String,
    ip: String,
}

/// The network: a bridge in a namespace of its own, hosts on veth pairs,
/// and the processes and cgroups of the scenario.
struct Net {
    tag: String,
    bridge: String,
    hosts: Vec<Host>,
    procs: Vec<Proc>,
    cgroups: Vec<PathBuf>,
    next: u8,
}

impl Net {
    fn new() -> Net {
        let tag = format!("sf{}", std::process::id() % 100_000);
        let bridge = format!("{tag}br");
        // A leftover of a killed run with the same tag goes first.
        let _ = Command::new("ip").args(["netns", "del", &bridge]).stderr(Stdio::null()).status();
        run("ip", &["netns", "add", &bridge], None);
        let net = Net { tag, bridge, hosts: Vec::new(), procs: Vec::new(), cgroups: Vec::new(), next: 0 };
        net.exec(&net.bridge, "ip", &["link", "add", "br0", "type", "bridge"]);
        net.exec(&net.bridge, "ip", &["link", "set", "br0", "up"]);
        net
    }

    fn exec(&self, ns: &str, prog: &str, args: &[&str]) {
        let mut all = vec!["netns", "exec", ns, prog];
        all.extend_from_slice(args);
        run("ip", &all, None);
    }

    /// A new host: namespace, veth pair to the bridge, address 10.201.0.x.
    fn host(&mut self) -> usize {
        let i = self.next;
        self.next += 1;
        let ns = format!("{}h{i}", self.tag);
        let _ = Command::new("ip").args(["netns", "del", &ns]).stderr(Stdio::null()).status();
        run("ip", &["netns", "add", &ns], None);
        let (a, b) = (format!("{}a{i}", self.tag), format!("{}b{i}", self.tag));
        run("ip", &["link", "add", &a, "type", "veth", "peer", "name", &b], None);
        run("ip", &["link", "set", &a, "netns", &ns], None);
        run("ip", &["link", "set", &b, "netns", &self.bridge], None);
        self.exec(&self.bridge, "ip", &["link", "set", &b, "master", "br0"]);
        self.exec(&self.bridge, "ip", &["link", "set", &b, "up"]);
        let ip = format!("10.201.0.{}", 10 + i);
        self.exec(&ns, "ip", &["addr", "add", &format!("{ip}/24"), "dev", &a]);
        self.exec(&ns, "ip", &["link", "set", &a, "up"]);
        self.exec(&ns, "ip", &["link", "set", "lo", "up"]);
        self.hosts.push(Host { ns, ip });
        self.hosts.len() - 1
    }

    /// Starts `name` on host `h`, joining `seeds` (addresses).
    fn start(&mut self, kind: Kind, name: &str, h: usize, seeds: &[String], lifeguard: bool) -> usize {
        let host = &self.hosts[h];
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.ns]);
        match kind {
            Kind::Go => {
                cmd.arg(harness::go_peer_bin())
                    .args(["-name", name, "-bind", &host.ip, "-port", "7946"])
                    .args(["-probe-interval", "200ms", "-probe-timeout", "100ms", "-suspicion-mult", "4"])
                    .args(["-push-pull-interval", "5s", "-dead-time", "30s", "-dead-reclaim", "1s"]);
                if !seeds.is_empty() {
                    cmd.args(["-join", &seeds.join(",")]);
                }
            }
            Kind::Tokio | Kind::Smol => {
                let driver = if kind == Kind::Tokio { "tokio" } else { "smol" };
                let seeds = if seeds.is_empty() { "-".to_string() } else { seeds.join(",") };
                cmd.arg(env!("CARGO_BIN_EXE_swim-fault-node")).args([driver, name, &host.ip, &seeds]);
                if !lifeguard {
                    cmd.arg("lifeguard-off");
                }
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a node");
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push((Instant::now(), v));
                }
            }
        });
        self.procs.push(Proc { name: name.into(), child, lines });
        self.procs.len() - 1
    }

    /// The standard cluster: tokio, tokio, smol, smol, Go on hosts 0..5,
    /// all joined through host 0; returns when every node sees every other
    /// alive.
    fn cluster(&mut self, lifeguard: bool) {
        let kinds = [Kind::Tokio, Kind::Tokio, Kind::Smol, Kind::Smol, Kind::Go];
        for (i, kind) in kinds.into_iter().enumerate() {
            let h = self.host();
            let seeds = if i == 0 { vec![] } else { vec![format!("{}:7946", self.hosts[0].ip)] };
            self.start(kind, &format!("n{i}"), h, &seeds, lifeguard);
            if i == 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        let all: Vec<usize> = (0..self.procs.len()).collect();
        let t = self.until(Duration::from_secs(20), |n| n.one_view(&all));
        assert!(t.is_some(), "the cluster did not form: {:?}", self.views());
    }

    fn views(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.procs.iter().map(|p| (p.name.clone(), p.view())).collect()
    }

    /// Whether the processes `live` all see each other alive.
    fn one_view(&self, live: &[usize]) -> bool {
        live.iter().all(|&i| {
            let view = self.procs[i].view();
            live.iter()
                .filter(|&&j| j != i)
                .all(|&j| view.get(&self.procs[j].name).is_some_and(|s| s == "alive"))
        })
    }

    /// Polls `cond` every 50 ms for at most `limit`; the time it took.
    fn until(&self, limit: Duration, cond: impl Fn(&Net) -> bool) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond(self) {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Applies nftables `rules` (a chain body per hook) on host `h`.
    fn nft(&self, h: usize, input: &str, output: &str) {
        let rules = format!(
            "table inet swimfault {{\n chain input {{ type filter hook input priority 0; {input} }}\n \
             chain output {{ type filter hook output priority 0; {output} }}\n}}\n"
        );
        let ns = &self.hosts[h].ns;
        run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(&rules));
    }

    fn clear_nft(&self, h: usize) {
        let ns = &self.hosts[h].ns;
        let _ = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "delete", "table", "inet", "swimfault"])
            .stderr(Stdio::null())
            .status();
    }

    /// Counts, over every observer but `except`, events of `kind` about
    /// nodes in `about` since `since`.
    fn count(&self, kind: &str, about: &[usize], except: &[usize], since: Instant) -> usize {
        let mut n = 0;
        for (i, p) in self.procs.iter().enumerate() {
            if except.contains(&i) {
                continue;
            }
            for &a in about {
                if a != i {
                    n += p.events_about(&self.procs[a].name, since).iter().filter(|(_, k)| k == kind).count();
                }
            }
        }
        n
    }

    /// "observer→subject" for every event of `kind` since `since`.
    fn who(&self, kind: &str, since: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.procs {
            for q in &self.procs {
                let n = p.events_about(&q.name, since).iter().filter(|(_, k)| k == kind).count();
                if n > 0 && p.name != q.name {
                    out.push(format!("{}→{}×{n}", p.name, q.name));
                }
            }
        }
        out
    }

    /// A cgroup (v1 `cpu`) holding process `p` to `quota` of CPU time per
    /// second: past it, every thread of the process waits for the next
    /// second (CFS bandwidth control).
    fn starve(&mut self, p: usize, quota: Duration) {
        let dir = PathBuf::from(format!("/sys/fs/cgroup/cpu/{}-starved", self.tag));
        let _ = std::fs::create_dir(&dir);
        std::fs::write(dir.join("cpu.cfs_period_us"), "1000000").expect("cgroup v1 cpu controller");
        std::fs::write(dir.join("cpu.cfs_quota_us"), quota.as_micros().to_string()).unwrap();
        // Every thread of the process.
        for task in std::fs::read_dir(format!("/proc/{}/task", self.procs[p].pid())).unwrap() {
            let tid = task.unwrap().file_name();
            let _ = std::fs::write(dir.join("tasks"), tid.to_string_lossy().as_bytes());
        }
        self.cgroups.push(dir);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.procs.clear();
        for dir in &self.cgroups {
            // Empty once its processes are gone.
            let _ = std::fs::remove_dir(dir);
        }
        for h in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &h.ns]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.bridge]).status();
    }
}

/// How long the suite's configuration may take to declare a crashed member
/// dead everywhere: a probe round over `n`, the longest suspicion timeout
/// (multiplier × log10(n) × interval × 6 with Lifeguard), and slack; doubled
/// for a loaded 2-core machine.
fn detection_bound(n: usize) -> Duration {
    let log = (n as f64).log10().max(1.0);
    (INTERVAL * n as u32 + INTERVAL + INTERVAL.mul_f64(4.0 * log * 6.0) + Duration::from_millis(500)) * 2
}

/// `base` times `SWIM_FAULTS_SCALE` (default 1): the long set is
/// `SWIM_FAULTS_SCALE=6` (a 2-minute loss, a 1-minute partition).
fn scaled(base: Duration) -> Duration {
    base * std::env::var("SWIM_FAULTS_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1u32)
}

fn report(scenario: &str, figures: &str) {
    println!("FAULTS {scenario}: {figures}");
}

/// kill -9 of a swim node: every other node, the Go peer included, declares
/// it dead within the bound; no live node is declared dead.
#[test]
fn a_crashed_node_is_dead_everywhere_within_the_bound() {
    let mut net = Net::new();
    net.cluster(true);
    let victim = 2; // smol
    let t0 = Instant::now();
    net.procs[victim].signal("-KILL");
    let bound = detection_bound(5);
    let others: Vec<usize> = (0..5).filter(|&i| i != victim).collect();
    let dead_everywhere = net.until(bound, |n| {
        others.iter().all(|&i| n.procs[i].view().get(&n.procs[victim].name).is_some_and(|s| s == "dead"))
    });
    let mut times = Vec::new();
    for &i in &others {
        let t = net.procs[i]
            .events_about(&net.procs[victim].name, t0)
            .iter()
            .find(|(_, k)| k == "leave")
            .map(|(t, _)| t.duration_since(t0));
        times.push(format!(
            "{}: {}",
            net.procs[i].name,
            t.map_or("-".into(), |t| format!("{:.2}s", t.as_secs_f64()))
        ));
    }
    let false_deaths = net.count("leave", &others, &[victim], t0);
    let false_suspicions = net.count("suspect", &others, &[victim], t0);
    report(
        "crash",
        &format!(
            "dead everywhere in {:?} (bound {:.1}s); per observer {}; false suspicions {false_suspicions}, false deaths {false_deaths}",
            dead_everywhere.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0),
            bound.as_secs_f64(),
            times.join(", ")
        ),
    );
    assert!(dead_everywhere.is_some(), "not dead everywhere within {bound:?}: {:?}", net.views());
    assert_eq!(false_deaths, 0, "a live node was declared dead: {:?}", net.views());
}

/// A one-way partition: n1's packets reach n3, n3's do not reach n1, for
/// 10 s, then heal. Nobody is declared dead (indirect probes go around);
/// one view within the bound after it heals.
#[test]
fn a_one_way_partition_kills_nobody_and_heals() {
    let mut net = Net::new();
    net.cluster(true);
    let (a, b) = (1, 3);
    let t0 = Instant::now();
    net.nft(a, &format!("ip saddr {} drop;", net.hosts[b].ip), "");
    std::thread::sleep(scaled(Duration::from_secs(10)));
    net.clear_nft(a);
    let healed = Instant::now();
    let all: Vec<usize> = (0..5).collect();
    let one_view = net.until(detection_bound(5), |n| n.one_view(&all));
    let deaths = net.count("leave", &all, &[], t0);
    let suspicions = net.count("suspect", &all, &[], t0);
    report(
        "one-way partition 10 s",
        &format!(
            "false suspicions {suspicions}, false deaths {deaths}, one view {:?} after the heal",
            one_view.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0)
        ),
    );
    let _ = healed;
    assert_eq!(deaths, 0, "a live node was declared dead: {:?}", net.views());
    assert!(one_view.is_some(), "no single view after the heal: {:?}", net.views());
}

/// A two-way partition {n0, n1, n4} | {n2, n3} long enough for each side to
/// declare the other dead, then heal: one view again within the bound
/// (reconnect and alone-retry; the Go peer too).
#[test]
fn a_partition_between_groups_heals_into_one_view() {
    let mut net = Net::new();
    net.cluster(true);
    let (left, right) = (vec![0usize, 1, 4], vec![2usize, 3]);
    for &l in &left {
        let drops: String = right.iter().map(|&r| format!("ip saddr {} drop; ", net.hosts[r].ip)).collect();
        net.nft(l, &drops, "");
    }
    for &r in &right {
        let drops: String = left.iter().map(|&l| format!("ip saddr {} drop; ", net.hosts[l].ip)).collect();
        net.nft(r, &drops, "");
    }
    let split = net.until(detection_bound(5) * 2, |n| {
        left.iter().all(|&l| {
            right.iter().all(|&r| n.procs[l].view().get(&n.procs[r].name).is_some_and(|s| s == "dead"))
        })
    });
    assert!(split.is_some(), "the sides did not see each other dead: {:?}", net.views());
    for h in 0..5 {
        net.clear_nft(h);
    }
    let all: Vec<usize> = (0..5).collect();
    // Swim retries failed members every reconnect_interval (30 s) and its
    // seeds when alone; push-pulls (5 s) merge the views.
    let healed = net.until(Duration::from_secs(60), |n| n.one_view(&all));
    report(
        "partition {n0,n1,go} | {n2,n3}",
        &format!(
            "split seen in {:.1}s; one view {:?} after the heal",
            split.unwrap().as_secs_f64(),
            healed.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0)
        ),
    );
    assert!(healed.is_some(), "no single view within 60 s of the heal: {:?}", net.views());
}

/// 10 % loss on all traffic of every host (both directions: about 19 %
/// per round trip), 20 s: no false death; figures printed.
#[test]
fn loss_on_every_host_kills_nobody() {
    let mut net = Net::new();
    net.cluster(true);
    let t0 = Instant::now();
    for h in 0..5 {
        net.nft(h, "numgen random mod 100 < 10 drop;", "numgen random mod 100 < 10 drop;");
    }
    std::thread::sleep(scaled(Duration::from_secs(20)));
    for h in 0..5 {
        net.clear_nft(h);
    }
    let all: Vec<usize> = (0..5).collect();
    let deaths = net.count("leave", &all, &[], t0);
    let suspicions = net.count("suspect", &all, &[4], t0);
    let one_view = net.until(detection_bound(5), |n| n.one_view(&all));
    report(
        "10% loss on every host, 20 s",
        &format!(
            "false suspicions {suspicions} (swim observers), false deaths {deaths}, one view after: {}",
            one_view.is_some()
        ),
    );
    assert_eq!(deaths, 0, "a live node was declared dead: {:?}", net.views());
    assert!(one_view.is_some());
}

/// Bursty loss on one host: everything it sends or receives is dropped for
/// 400 ms of every second, for 20 s — first a tokio node's host, then the Go
/// peer's. The bursty host answers 60 % of the time: no swim node declares
/// it dead, and one view returns when the bursts stop; the bursty swim node,
/// as an observer, declares no healthy member dead (it tells its suspects
/// again when it hears from them, and reminds them of suspicions nobody
/// confirmed). Counted, not asserted: the Go peer as a bursty observer
/// declares healthy members dead in most runs (its suspicion outlives the
/// refutations its blackouts swallow; memberlist's behaviour,
/// docs/reliability.md). `SWIM_BURSTY_HOST=1` or `4` runs one host only.
#[test]
fn bursty_loss_on_one_host_never_gets_it_declared_dead() {
    let mut figures = Vec::new();
    let hosts = [(1usize, "a tokio node's host"), (4, "the Go peer's host")];
    let only = std::env::var("SWIM_BURSTY_HOST").ok().and_then(|h| h.parse::<usize>().ok());
    for (h, which) in hosts.into_iter().filter(|(h, _)| only.is_none_or(|o| o == *h)) {
        let mut net = Net::new();
        net.cluster(true);
        let t0 = Instant::now();
        let end = t0 + scaled(Duration::from_secs(20));
        while Instant::now() < end {
            net.nft(h, "drop;", "drop;");
            std::thread::sleep(Duration::from_millis(400));
            net.clear_nft(h);
            std::thread::sleep(Duration::from_millis(600));
        }
        let all: Vec<usize> = (0..5).collect();
        let others: Vec<usize> = all.iter().copied().filter(|&i| i != h).collect();
        let bursty_declared_dead = net.count("leave", &[h], &[4], t0);
        let declared_by_bursty = {
            let p = &net.procs[h];
            others
                .iter()
                .map(|&o| p.events_about(&net.procs[o].name, t0).iter().filter(|(_, k)| k == "leave").count())
                .sum::<usize>()
        };
        let suspicions = net.count("suspect", &all, &[4], t0);
        let one_view = net.until(detection_bound(5), |n| n.one_view(&all));
        figures.push(format!(
            "{which}: suspicions recorded by swim nodes {suspicions}; the bursty host declared dead by swim nodes {bursty_declared_dead}; healthy members declared dead by the bursty host {declared_by_bursty} (deaths seen: {:?}); one view after: {}",
            net.who("leave", t0),
            one_view.is_some()
        ));
        assert_eq!(
            bursty_declared_dead,
            0,
            "a swim node declared the bursty host dead: {:?}",
            net.who("leave", t0)
        );
        if h != 4 {
            // A swim observer tells its suspects again until they refute.
            assert_eq!(
                declared_by_bursty,
                0,
                "the bursty swim node declared a healthy member dead: {:?}",
                net.who("leave", t0)
            );
        }
        assert!(one_view.is_some(), "{:?}", net.views());
    }
    report("bursty loss (400 ms of every second, 20 s)", &figures.join("; "));
}

/// SIGSTOP of a swim node for 6 s (past the suspicion timeout): it is
/// declared dead, then SIGCONT: it refutes and every node sees it alive
/// again within the bound.
#[test]
fn a_paused_process_comes_back_alive() {
    let mut net = Net::new();
    net.cluster(true);
    let p = 1;
    net.procs[p].signal("-STOP");
    let all: Vec<usize> = (0..5).collect();
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != p).collect();
    let dead = net.until(detection_bound(5), |n| {
        others.iter().all(|&i| n.procs[i].view().get(&n.procs[p].name).is_some_and(|s| s == "dead"))
    });
    net.procs[p].signal("-CONT");
    let back = net.until(detection_bound(5) * 2, |n| n.one_view(&all));
    report(
        "SIGSTOP then SIGCONT",
        &format!(
            "dead everywhere after {:?}; one view {:?} after SIGCONT",
            dead.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0),
            back.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0)
        ),
    );
    assert!(dead.is_some(), "the paused node was not declared dead: {:?}", net.views());
    assert!(back.is_some(), "the resumed node is not alive everywhere: {:?}", net.views());
}

/// kill -9, then a restart under the same name: at the same address (before
/// it is declared dead), and then at another address (a new host, once the
/// old one is dead and its name reclaimable). Every node sees it alive
/// again, at its new address, within the bound.
#[test]
fn a_restarted_node_is_alive_again_at_either_address() {
    let mut net = Net::new();
    net.cluster(true);
    let p = 3; // smol
    let seed = format!("{}:7946", net.hosts[0].ip);
    let all_but = |x: usize| (0..5).filter(move |&i| i != x);
    // Same name, same address, before it is declared dead.
    net.procs[p].signal("-KILL");
    std::thread::sleep(Duration::from_millis(500));
    let host = 3;
    let q = net.start(Kind::Smol, "n3", host, std::slice::from_ref(&seed), true);
    let live: Vec<usize> = all_but(p).filter(|&i| i != q).chain([q]).collect();
    let same = net.until(detection_bound(5), |n| n.one_view(&live));
    // Same name, another address: once the old one is dead everywhere and
    // its name reclaimable (dead_node_reclaim_time, 1 s here; with
    // memberlist's default 0 a dead name is never given to a new address).
    net.procs[q].signal("-KILL");
    let others: Vec<usize> = all_but(p).filter(|&i| i != q).collect();
    let dead = net.until(detection_bound(5), |n| {
        others.iter().all(|&i| n.procs[i].view().get("n3").is_some_and(|s| s == "dead"))
    });
    assert!(dead.is_some(), "the killed n3 was not declared dead: {:?}", net.views());
    std::thread::sleep(Duration::from_millis(1500));
    let new_host = net.host();
    let r = net.start(Kind::Smol, "n3", new_host, &[seed], true);
    let live: Vec<usize> = all_but(p).filter(|&i| i != q && i != r).chain([r]).collect();
    let new_ip = net.hosts[new_host].ip.clone();
    let moved = net.until(detection_bound(5) * 2, |n| {
        n.one_view(&live)
            && live
                .iter()
                .filter(|&&i| i != r)
                .all(|&i| n.procs[i].addr_of("n3").is_some_and(|a| a.starts_with(&new_ip)))
    });
    report(
        "restart under the same name",
        &format!(
            "same address: one view {:?}; new address: one view at the new address {:?}",
            same.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0),
            moved.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0)
        ),
    );
    assert!(same.is_some(), "restart at the same address: {:?}", net.views());
    assert!(moved.is_some(), "restart at another address: {:?}", net.views());
}

/// A CPU-starved host: one swim node's process held to 2 ms of CPU per
/// second (CFS bandwidth control, cgroup v1) for 20 s, with Lifeguard on
/// and then off; then a real crash of another node, timed. Counted: suspicions of healthy
/// members (by anyone), and false deaths. Lifeguard on: no healthy member
/// declared dead.
#[test]
fn a_starved_observer_with_and_without_lifeguard() {
    let mut figures = Vec::new();
    for lifeguard in [true, false] {
        let mut net = Net::new();
        net.cluster(lifeguard);
        let slow = 1;
        let t0 = Instant::now();
        net.starve(slow, Duration::from_millis(2));
        std::thread::sleep(scaled(Duration::from_secs(20)));
        let healthy: Vec<usize> = (0..5).filter(|&i| i != slow).collect();
        let suspicions = net.count("suspect", &healthy, &[], t0);
        let deaths = net.count("leave", &healthy, &[], t0);
        let of_slow = net.count("suspect", &[slow], &[slow], t0);
        // Then a real crash, the starved node still starved: how long until
        // the healthy observers (swim and Go) see it dead.
        let crashed = 3;
        net.procs[crashed].signal("-KILL");
        let observers: Vec<usize> = healthy.iter().copied().filter(|&i| i != crashed).collect();
        let detected = net.until(detection_bound(5), |n| {
            observers.iter().all(|&i| n.procs[i].view().get("n3").is_some_and(|s| s == "dead"))
        });
        figures.push(format!(
            "Lifeguard {}: suspicions of healthy members {suspicions}, their false deaths {deaths} (the starved node suspected {of_slow} times); a crash then dead at every healthy observer in {:?}",
            if lifeguard { "on" } else { "off" },
            detected.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0)
        ));
        if lifeguard {
            assert_eq!(deaths, 0, "Lifeguard on: a healthy member was declared dead: {:?}", net.views());
        }
        assert!(detected.is_some(), "the crash was not detected within the bound: {:?}", net.views());
    }
    report("starved host (2 ms CPU per second, 20 s)", &figures.join("; "));
}
