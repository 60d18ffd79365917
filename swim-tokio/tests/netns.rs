//! The usage guide's configuration across two hosts: two network namespaces
//! joined by a veth pair stand in for the hosts. Each runs a node bound to
//! `0.0.0.0:7946` with no `advertise_addr` (the defaults); the second joins
//! the first at its 10.x address. Both must see two alive members, each at
//! its 10.x address: a node bound to `0.0.0.0` advertises its private
//! address, not loopback.
//!
//! Needs root and `ip` (iproute2), like CI; without them the test fails
//! rather than skips. Each node runs in a child process, this test binary
//! re-executed under `ip netns exec` with `SWIM_NETNS_NODE` set (the
//! `netns_child` "test" is that child's entry point; without the variable it
//! does nothing).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use swim_tokio::{Cluster, Config};

const NODE_ENV: &str = "SWIM_NETNS_NODE";
const JOIN_ENV: &str = "SWIM_NETNS_JOIN";
/// Starts each line a child reports, amid the test harness's output.
const MARK: &str = "@@ ";
/// How long a child runs at most, should the parent die without killing it.
const CHILD_LIFETIME: Duration = Duration::from_secs(30);

/// Runs `ip ARGS`, failing the test with its stderr if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `ip` ({e}): this test needs iproute2 and root (CI installs iproute2 and runs as root)")
    });
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (this test needs root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces joined by a veth pair, and the node processes in them;
/// dropping it (also when the test fails) kills the nodes and deletes the
/// namespaces, which removes the veth pair with them.
struct Hosts {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Hosts {
    /// Namespaces `swim-<pid>-a` and `-b`, with `10.213.<pid % 250>.1/24` and
    /// `.2/24` on the two ends of a veth pair, all interfaces up.
    fn create() -> (Hosts, [String; 2]) {
        let pid = std::process::id();
        let mut hosts = Hosts { namespaces: Vec::new(), children: Vec::new() };
        let net = format!("10.213.{}", pid % 250);
        let ips = [format!("{net}.1"), format!("{net}.2")];
        for side in ["a", "b"] {
            let ns = format!("swim-{pid}-{side}");
            ip(&["netns", "add", &ns]);
            hosts.namespaces.push(ns);
        }
        let (a, b) = (hosts.namespaces[0].clone(), hosts.namespaces[1].clone());
        let (va, vb) = (format!("sw{pid}a"), format!("sw{pid}b"));
        ip(&["link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b]);
        for (ns, dev, addr) in [(&a, &va, &ips[0]), (&b, &vb, &ips[1])] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        (hosts, ips)
    }

    /// Starts a node in namespace `i`, joining `join` if given; its report
    /// lines arrive on `lines` as `(i, line)`.
    fn spawn(&mut self, i: usize, join: Option<&str>, lines: &mpsc::Sender<(usize, String)>) {
        let exe = std::env::current_exe().expect("test binary path");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespaces[i]])
            .arg(exe)
            .args(["--exact", "netns_child", "--nocapture", "--test-threads", "1"])
            .env(NODE_ENV, format!("node-{i}"))
            .stdout(Stdio::piped());
        if let Some(seed) = join {
            cmd.env(JOIN_ENV, seed);
        }
        let mut child = cmd.spawn().expect("start a node under ip netns exec");
        let out = child.stdout.take().unwrap();
        self.children.push(child);
        let tx = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // The harness's own output may share the line.
                let Some(at) = line.find(MARK) else { continue };
                if tx.send((i, line[at + MARK.len()..].to_string())).is_err() {
                    break;
                }
            }
        });
    }
}

/// Waits for a line from node `i` satisfying `want`, returning it.
fn wait_line(
    lines: &mpsc::Receiver<(usize, String)>,
    deadline: Instant,
    what: &str,
    mut want: impl FnMut(usize, &str) -> bool,
) -> String {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((i, line)) if want(i, &line) => return line,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[test]
fn two_hosts_following_the_guide_form_a_cluster_at_their_private_addresses() {
    let (mut hosts, ips) = Hosts::create();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (tx, lines) = mpsc::channel();
    let want = [format!("{}:7946", ips[0]), format!("{}:7946", ips[1])];

    hosts.spawn(0, None, &tx);
    let line = wait_line(&lines, deadline, "node-0 to start", |i, l| i == 0 && l.starts_with("advertise "));
    assert_eq!(line, format!("advertise {}", want[0]), "node-0 advertises its veth address");
    hosts.spawn(1, Some(&want[0]), &tx);

    // Both list both nodes alive, each at its own 10.x address.
    let expected = format!("members node-0@{}/alive node-1@{}/alive", want[0], want[1]);
    let mut seen = [false, false];
    let mut last = [String::new(), String::new()];
    while seen != [true, true] {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((i, line)) = lines.recv_timeout(left) else {
            panic!("timed out: the nodes' last member lists were {last:?}, want {expected:?} on both");
        };
        if line.starts_with("advertise ") {
            assert_eq!(line, format!("advertise {}", want[i]), "node-{i} advertises its veth address");
        } else if line.starts_with("members ") {
            seen[i] |= line == expected;
            last[i] = line;
        }
    }
}

/// Not a test: the body of a node process (see the module docs). Prints
/// `@@ advertise ADDR` once, then `@@ members NAME@ADDR/STATE ...` (sorted
/// by name) every 100 ms.
#[test]
fn netns_child() {
    let Ok(name) = std::env::var(NODE_ENV) else { return };
    let join = std::env::var(JOIN_ENV).ok();
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
        // The guide's configuration: default bind_addr 0.0.0.0 and port 7946.
        let config = Config {
            node_name: Some(name),
            secret_key: b"your-32-byte-secret-key-32-bytes".to_vec(),
            encryption_enabled: true,
            ..Config::default()
        };
        assert_eq!((config.bind_addr.to_string(), config.bind_port), ("0.0.0.0".into(), 7946));
        let cluster = Cluster::create(config).await.expect("create");
        cluster.start();
        println!("{MARK}advertise {}", cluster.local_addr());
        if let Some(seed) = join {
            cluster.join(&[seed]).await.expect("join the other host");
        }
        let start = Instant::now();
        while start.elapsed() < CHILD_LIFETIME {
            let mut members: Vec<String> =
                cluster.members().iter().map(|m| format!("{}@{}/{}", m.id, m.addr, m.state)).collect();
            members.sort();
            println!("{MARK}members {}", members.join(" "));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
