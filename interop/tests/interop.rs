//! Interoperability with real HashiCorp memberlist nodes (the Go peer in
//! interop/go-peer, built against Debian's memberlist 0.5.0 source) and real
//! `serf agent`s, on 127.0.0.1 (and ::1 for the IPv6 test).
//!
//! Run with `cargo test -p swim-interop --features interop` after
//! scripts/install-interop-peers.sh; without the feature this file is empty.
//! A missing peer fails every test loudly.
#![cfg(feature = "interop")]

mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harness::*;
use swim_tokio::{DelegateVersions, JoinError, State};

const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
const OTHER_KEY: [u8; 32] = *b"fedcba9876543210fedcba9876543210";

fn tags(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// How a mixed cluster is configured: what the Go peers and our nodes share.
#[derive(Clone, Default)]
struct Variant {
    plain_memberlist: bool,
    key: Option<[u8; 32]>,
    label: &'static str,
    compress: bool,
    suspicion_mult: Option<u32>,
}

impl Variant {
    fn go(&self, name: &str, join: Option<String>) -> GoOpts {
        let mut o = GoOpts::new(name);
        if self.plain_memberlist {
            o.delegate_versions = "plain";
        }
        o.key = self.key.map(|k| k.to_vec());
        o.label = self.label.into();
        o.compress = self.compress;
        if let Some(m) = self.suspicion_mult {
            o.suspicion_mult = m;
        }
        o.join = join.into_iter().collect();
        o
    }

    fn ours(&self, name: &str) -> swim_tokio::Config {
        let mut c = config(name);
        if self.plain_memberlist {
            c.delegate_versions = DelegateVersions::MEMBERLIST;
        }
        if let Some(k) = self.key {
            c.encryption_enabled = true;
            c.secret_key = k.to_vec();
        }
        c.label = self.label.into();
        c.compression = self.compress;
        if let Some(m) = self.suspicion_mult {
            c.suspicion_mult = m;
        }
        c
    }
}

const ALL5: [&str; 5] = ["g1", "g2", "r1", "r2", "r3"];

/// 3 of ours + 2 Go nodes, interleaved, each joining through the previous
/// node of the *other* kind (or `ours_first`: the chain starts with ours).
async fn mixed_cluster(v: &Variant, ours_first: bool) -> (Vec<RustNode>, Vec<GoPeer>, Duration) {
    let start = Instant::now();
    let mut ours = Vec::new();
    let mut gos = Vec::new();
    if ours_first {
        // r1 <- g1 <- r2 <- g2 <- r3 (then r3 seeds through g1: any seed)
        ours.push(RustNode::start(v.ours("r1")).await);
        gos.push(GoPeer::spawn(v.go("g1", Some(ours[0].addr_string()))).await);
        ours.push(RustNode::start(v.ours("r2")).await);
        ours[1].join(&gos[0].addr.to_string()).await;
        gos.push(GoPeer::spawn(v.go("g2", Some(ours[1].addr_string()))).await);
        ours.push(RustNode::start(v.ours("r3")).await);
        ours[2].join(&gos[1].addr.to_string()).await;
    } else {
        // g1 <- r1 <- g2 <- r2 <- r3 (r3 through g2)
        gos.push(GoPeer::spawn(v.go("g1", None)).await);
        ours.push(RustNode::start(v.ours("r1")).await);
        ours[0].join(&gos[0].addr.to_string()).await;
        gos.push(GoPeer::spawn(v.go("g2", Some(ours[0].addr_string()))).await);
        ours.push(RustNode::start(v.ours("r2")).await);
        ours[1].join(&gos[1].addr.to_string()).await;
        ours.push(RustNode::start(v.ours("r3")).await);
        ours[2].join(&gos[1].addr.to_string()).await;
    }
    for g in &gos {
        let joined = g.lines().iter().any(|l| l["event"] == "joined");
        assert!(joined || g.name == "g1" && !ours_first, "Go {} did not join: {:?}", g.name, g.lines());
    }
    let our_refs: Vec<&RustNode> = ours.iter().collect();
    let converge = wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &ALL5, TEN_S).await;
    eprintln!(
        "5-node mixed cluster formed in {:?} (all listing 5 alive {converge:?} after the last join)",
        start.elapsed()
    );
    (ours, gos, converge)
}

async fn check_mixed(v: Variant, ours_first: bool) {
    let (ours, gos, _) = mixed_cluster(&v, ours_first).await;
    // Stays converged: no node drops out over a few protocol periods.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let our_refs: Vec<&RustNode> = ours.iter().collect();
    wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &ALL5, Duration::from_secs(1)).await;
    if v.compress {
        // A quiet cluster's pings and acks do not shrink under LZW, so
        // whether one arrived compressed was luck: gossip something that does.
        for r in &ours {
            r.cluster.broadcast("compressible", &[b'a'; 400]).unwrap();
        }
        let all_decompressed = || async { ours.iter().all(|r| r.cluster.metrics().decompressed > 0) };
        try_wait_until(Duration::from_secs(5), all_decompressed).await;
    }
    for r in &ours {
        let m = r.cluster.metrics();
        assert_eq!(m.dropped_crc + m.dropped_malformed + m.dropped_decompress, 0, "{}: {m:?}", r.name);
        // The layers were really in use, not merely harmless.
        assert!(m.crc_checked > 0, "{}: no packet carried a CRC: {m:?}", r.name);
        if v.compress {
            assert!(m.decompressed > 0, "{}: nothing arrived compressed: {m:?}", r.name);
        }
        if v.key.is_some() {
            assert_eq!(m.dropped_decrypt, 0, "{}: {m:?}", r.name);
        }
    }
    for g in &gos {
        let log = g.log_tail(200);
        assert!(!log.contains("[ERR]"), "Go {} logged errors:\n{log}", g.name);
    }
}

// ---------------------------------------------------------------------------
// 1. Mixed membership

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_serf_versions_go_first() {
    check_mixed(Variant::default(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_serf_versions_ours_first() {
    check_mixed(Variant::default(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_plain_memberlist_versions() {
    check_mixed(Variant { plain_memberlist: true, ..Variant::default() }, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_encrypted() {
    check_mixed(Variant { key: Some(KEY), ..Variant::default() }, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_labelled() {
    check_mixed(Variant { label: "prod-eu", ..Variant::default() }, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_compressed() {
    check_mixed(Variant { compress: true, ..Variant::default() }, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_encrypted_labelled_compressed() {
    check_mixed(Variant { key: Some(KEY), label: "prod-eu", compress: true, ..Variant::default() }, false)
        .await;
}

/// A node with the wrong key (or label) is kept out on both sides: ours
/// cannot join through a Go node, a Go node cannot join through ours, and
/// nobody lists the intruders.
async fn check_outsiders(good: Variant, bad: Variant) {
    let g1 = GoPeer::spawn(good.go("g1", None)).await;
    let r1 = RustNode::start(good.ours("r1")).await;
    r1.join(&g1.addr.to_string()).await;
    wait_all_alive(&[&r1], &[&g1], &["g1", "r1"], TEN_S).await;

    // A refused join is retried until join_timeout (30 s by default): keep
    // it short here; rx goes on retrying its seeds in the background, and
    // must stay out all the same.
    let rx =
        RustNode::start(swim_tokio::Config { join_timeout: Duration::from_secs(1), ..bad.ours("rx") }).await;
    let err = rx.cluster.join(&[g1.addr.to_string()]).await;
    assert!(matches!(err, Err(JoinError::NoSeedsReachable { .. })), "rx joined through g1: {err:?}");
    let err = rx.cluster.join(&[r1.addr_string()]).await;
    assert!(matches!(err, Err(JoinError::NoSeedsReachable { .. })), "rx joined through r1: {err:?}");
    let gx = GoPeer::spawn(bad.go("gx", Some(r1.addr_string()))).await;
    assert!(gx.lines().iter().any(|l| l["event"] == "join_error"), "gx joined through r1: {:?}", gx.lines());
    let r = gx.cmd(&format!("join {}", g1.addr)).await;
    assert_eq!(r["ok"], false, "gx joined through g1: {r}");

    // Outsiders also send UDP (gx probes nobody, but rx and gx would gossip if
    // they knew anyone); give it a few periods, then nobody lists them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r1.alive(), sorted(&["g1", "r1"]));
    assert_eq!(g1.alive().await, sorted(&["g1", "r1"]));
    assert_eq!(rx.alive(), sorted(&["rx"]));
    assert_eq!(gx.alive().await, sorted(&["gx"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_keeps_nodes_out_both_ways() {
    check_outsiders(
        Variant { key: Some(KEY), ..Variant::default() },
        Variant { key: Some(OTHER_KEY), ..Variant::default() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_keeps_nodes_out_of_an_encrypted_cluster() {
    check_outsiders(Variant { key: Some(KEY), ..Variant::default() }, Variant::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_label_keeps_nodes_out_both_ways() {
    check_outsiders(
        Variant { label: "prod-eu", ..Variant::default() },
        Variant { label: "prod-us", ..Variant::default() },
    )
    .await;
}

/// Serf's delegate versions (ours by default) and a plain memberlist node
/// cannot share a cluster: our join is refused with a clear error, and the
/// Go node's join through us fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegate_version_mismatch_is_a_join_error() {
    let g = GoPeer::spawn(GoOpts { delegate_versions: "plain", ..GoOpts::new("g1") }).await;
    let r = RustNode::start(config("r1")).await; // DelegateVersions::SERF
    let err = r.cluster.join(&[g.addr.to_string()]).await;
    match &err {
        Err(e @ JoinError::Rejected { .. }) => eprintln!("join error as expected: {e}"),
        other => panic!("expected JoinError::Rejected, got {other:?}"),
    }
    let g2 = GoPeer::spawn(GoOpts {
        delegate_versions: "plain",
        join: vec![r.addr_string()],
        ..GoOpts::new("g2")
    })
    .await;
    let je = g2.lines().into_iter().find(|l| l["event"] == "join_error" || l["event"] == "joined").unwrap();
    assert_eq!(je["event"], "join_error", "plain Go node joined a Serf-versioned node: {je}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.alive(), sorted(&["r1"]));
    assert_eq!(g.alive().await, sorted(&["g1"]));
}

/// A fresh node of ours is listed by a Go node (memberlist ignores an alive
/// message about an unknown node at incarnation 0: we must start at 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_lists_a_fresh_node_of_ours() {
    let g = GoPeer::spawn(GoOpts::new("g1")).await;
    let r = RustNode::start(config("r1")).await;
    assert_eq!(r.cluster.local_node().incarnation, 1);
    r.join(&g.addr.to_string()).await;
    wait_all_alive(&[&r], &[&g], &["g1", "r1"], TEN_S).await;
}

// ---------------------------------------------------------------------------
// 2. Failure detection

/// The longest a member can take to be declared dead with our test timings, by
/// the config: it is probed within one round over the other members, fails
/// direct + indirect probes within an interval, stays suspect for at most
/// `suspicion_mult * max(1, log10 n) * suspicion_max_timeout_mult` intervals,
/// then the news takes a few gossip rounds; doubled for a loaded 2-core box.
fn detection_bound(n: usize, suspicion_mult: u32) -> Duration {
    let interval = PROBE_INTERVAL;
    let round = interval * n as u32;
    let log = (n as f64).log10().max(1.0);
    let max_suspicion = interval.mul_f64(suspicion_mult as f64 * log * 6.0);
    (round + interval + max_suspicion + Duration::from_millis(500)) * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_node_killed_is_seen_dead_by_ours() {
    let (ours, mut gos, _) = mixed_cluster(&Variant::default(), false).await;
    let bound = detection_bound(5, SUSPICION_MULT);
    let killed = Instant::now();
    gos[1].kill9();
    wait_until(&format!("our nodes see g2 dead within {bound:?}"), bound, || {
        let ok = ours.iter().all(|r| r.state_of("g2") == Some(State::Dead));
        async move { ok }
    })
    .await;
    eprintln!(
        "kill -9 of a Go node: all our nodes saw it dead after {:?} (bound {bound:?})",
        killed.elapsed()
    );
    let g1 = &gos[0];
    wait_until(
        "g1 sees g2 dead",
        bound,
        || async move { g1.state_of("g2").await.as_deref() == Some("dead") },
    )
    .await;
    for r in &ours {
        assert_eq!(r.alive(), sorted(&["g1", "r1", "r2", "r3"]), "{}", r.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_node_crash_is_seen_dead_by_go() {
    let (ours, gos, _) = mixed_cluster(&Variant::default(), true).await;
    let bound = detection_bound(5, SUSPICION_MULT);
    let killed = Instant::now();
    ours[2].shutdown().await; // a crash: no leave
    let (g1, g2) = (&gos[0], &gos[1]);
    wait_until(&format!("Go nodes see r3 dead within {bound:?}"), bound, || async move {
        g1.state_of("r3").await.as_deref() == Some("dead")
            && g2.state_of("r3").await.as_deref() == Some("dead")
    })
    .await;
    eprintln!("crash of our node: both Go nodes saw it dead after {:?} (bound {bound:?})", killed.elapsed());
    wait_until("r1, r2 see r3 dead", bound, || {
        let ok = ours[..2].iter().all(|r| r.state_of("r3") == Some(State::Dead));
        async move { ok }
    })
    .await;
}

/// A Go node paused (SIGSTOP) for less than the suspicion timeout is
/// suspected, refutes when resumed, and stays alive everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_go_node_resumed_in_time_stays_alive() {
    // suspicion_mult 12 with 5 nodes: memberlist expects no confirmations
    // (n - 2 < mult - 2), so the timeout is the minimum, 12 * 200 ms = 2.4 s.
    let v = Variant { suspicion_mult: Some(12), ..Variant::default() };
    let (ours, gos, _) = mixed_cluster(&v, false).await;
    let paused_at = Instant::now();
    gos[1].sigstop();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    gos[1].sigcont();
    let resumed = paused_at.elapsed();
    let our_refs: Vec<&RustNode> = ours.iter().collect();
    wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &ALL5, Duration::from_secs(5)).await;
    // Watch a few more seconds: a late death would show up now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &ALL5, Duration::from_secs(1)).await;
    let suspected = ours.iter().any(|r| r.events_about("g2").iter().any(|e| e.kind == "suspect"));
    assert!(suspected, "no node of ours suspected g2 during a {resumed:?} pause: the test proved nothing");
    for r in &ours {
        let gone = r.events_about("g2").iter().any(|e| e.kind == "leave");
        assert!(!gone, "{} saw g2 leave/die: {:?}", r.name, r.events_about("g2"));
    }
    let g1_saw_death = gos[0].lines().iter().any(|l| l["event"] == "leave" && l["node"]["name"] == "g2");
    assert!(!g1_saw_death, "g1 saw g2 die");
    let inc = ours[0].member("g2").unwrap().incarnation;
    eprintln!("paused g2 for {resumed:?}: suspected, refuted (incarnation now {inc}), alive everywhere");
}

// ---------------------------------------------------------------------------
// 3. Graceful leave

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_leave_is_seen_as_left_by_ours() {
    let (ours, gos, _) = mixed_cluster(&Variant::default(), false).await;
    let t = Instant::now();
    gos[1].cmd_ok("leave 2000").await;
    wait_until("our nodes see g2 left", TEN_S, || {
        let ok = ours.iter().all(|r| r.state_of("g2") == Some(State::Left));
        async move { ok }
    })
    .await;
    eprintln!("Go leave seen as left by all ours after {:?}", t.elapsed());
    gos[1].cmd_ok("shutdown").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in &ours {
        assert_eq!(r.state_of("g2"), Some(State::Left), "{}", r.name);
        assert!(!r.events_about("g2").iter().any(|e| e.node.state == State::Dead), "{} saw g2 dead", r.name);
    }
    assert_eq!(gos[0].state_of("g2").await.as_deref(), Some("left"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_leave_is_seen_as_left_by_go() {
    let (ours, gos, _) = mixed_cluster(&Variant::default(), true).await;
    let t = Instant::now();
    if let Err(e) = ours[2].cluster.leave(Duration::from_secs(2)).await {
        eprintln!("leave: {e}");
    }
    ours[2].shutdown().await;
    let (g1, g2) = (&gos[0], &gos[1]);
    wait_until("Go nodes see r3 left", TEN_S, || async move {
        g1.state_of("r3").await.as_deref() == Some("left")
            && g2.state_of("r3").await.as_deref() == Some("left")
    })
    .await;
    eprintln!("our leave seen as left by both Go nodes after {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(g1.state_of("r3").await.as_deref(), Some("left"));
    assert_eq!(g2.state_of("r3").await.as_deref(), Some("left"));
    for r in &ours[..2] {
        assert_eq!(r.state_of("r3"), Some(State::Left), "{}", r.name);
    }
}

// ---------------------------------------------------------------------------
// 4. Push-pull state sync

/// Join exchanges full state, metadata included, in both directions: each
/// side knows the other's tags as soon as the join returns (no gossip yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_push_pull_carries_metadata_both_ways() {
    let g = GoPeer::spawn(GoOpts { tags: tags(&[("role", "db"), ("zone", "a")]), ..GoOpts::new("g1") }).await;
    let r = RustNode::start(swim_tokio::Config {
        tags: tags(&[("role", "web"), ("version", "1.2.3")]),
        ..config("r1")
    })
    .await;
    r.join(&g.addr.to_string()).await;
    let seen = r.member("g1").expect("r1 lists g1 right after the join");
    let seen_tags: BTreeMap<String, String> = seen.tags().into_iter().collect();
    assert_eq!(seen_tags, tags(&[("role", "db"), ("zone", "a")]));
    // memberlist answers a push-pull before merging it: allow it a moment.
    wait_until("g1 lists r1 after the join", Duration::from_millis(500), || async {
        g.view().await.contains_key("r1")
    })
    .await;
    let view = g.view().await;
    let r1 = &view["r1"];
    assert_eq!(r1["tags"], serde_json::json!({"role": "web", "version": "1.2.3"}));
    assert_eq!(r1["vsn"], serde_json::json!([1, 5, 2, 2, 5, 5]));

    // Metadata updates travel too, both ways.
    r.cluster.set_tags(tags(&[("role", "web"), ("version", "1.2.4")])).unwrap();
    g.cmd_ok("tags role=db,zone=b").await;
    wait_until("tag updates cross both ways", TEN_S, || {
        let ours_ok =
            r.member("g1").map(|n| n.tags()).unwrap_or_default().contains(&("zone".into(), "b".into()));
        let g = &g;
        async move { ours_ok && g.view().await["r1"]["tags"]["version"] == "1.2.4" }
    })
    .await;
}

/// A node joining through a peer of the other kind gets the whole (large)
/// view in the join's state exchange, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_of_a_large_view_both_ways() {
    const N: usize = 24;
    let mut ours: Vec<RustNode> = Vec::new();
    for i in 0..N {
        let r = RustNode::start(swim_tokio::Config {
            tags: tags(&[("index", &i.to_string()), ("pad", &"x".repeat(40))]),
            ..config(&format!("r{i:02}"))
        })
        .await;
        if i > 0 {
            r.join(&ours[0].addr_string()).await;
        }
        ours.push(r);
    }
    // Membership, not health: under CPU contention a node may be briefly
    // suspect (and refute) while the 24 converge.
    let converged = |ours: &[RustNode]| ours.iter().all(|r| r.cluster.members().len() == N);
    let deadline = std::time::Instant::now() + TEN_S;
    while !converged(&ours) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !converged(&ours) {
        let all: Vec<String> = (0..N).map(|i| format!("r{i:02}")).collect();
        let report: Vec<String> = ours
            .iter()
            .filter(|r| r.cluster.members().len() != N)
            .map(|r| {
                let names: Vec<String> = r.cluster.members().iter().map(|m| m.id.to_string()).collect();
                let missing: Vec<&String> = all.iter().filter(|n| !names.contains(n)).collect();
                let extra: Vec<&String> = names.iter().filter(|n| !all.contains(n)).collect();
                format!(
                    "{} knows {} (missing {missing:?}, extra {extra:?}; {:?})",
                    r.name,
                    names.len(),
                    r.cluster.metrics()
                )
            })
            .collect();
        panic!("our 24 nodes did not converge in {TEN_S:?}: {report:#?}");
    }
    // A Go node joins through ours: the push-pull (well over one UDP packet)
    // hands it every member before Join returns.
    let g = GoPeer::spawn(GoOpts { join: vec![ours[N - 1].addr_string()], ..GoOpts::new("g1") }).await;
    let alive = g.alive().await;
    assert!(alive.len() > N, "g1 right after joining lists {} alive: {alive:?}", alive.len());
    let v = g.view().await;
    assert_eq!(v["r07"]["tags"]["index"], "7");
    // A fresh node of ours joins through the Go node and gets the same view.
    let fresh = RustNode::start(config("fresh")).await;
    fresh.join(&g.addr.to_string()).await;
    let n = fresh.alive().len();
    assert!(n >= N + 2, "fresh right after joining lists {n} alive: {:?}", fresh.alive());
    assert!(fresh.member("r13").unwrap().tags().contains(&("index".into(), "13".into())));
}

/// Periodic anti-entropy runs in both directions without errors: Go's
/// push-pulls to us and ours to Go, every second here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_push_pull_both_ways() {
    let g = GoPeer::spawn(GoOpts { push_pull_interval: Duration::from_secs(1), ..GoOpts::new("g1") }).await;
    let r =
        RustNode::start(swim_tokio::Config { push_pull_interval: Duration::from_secs(1), ..config("r1") })
            .await;
    r.join(&g.addr.to_string()).await;
    let (before, answered) = (r.cluster.metrics().push_pulls, r.cluster.metrics().push_pulls_answered);
    let go_conns = |g: &GoPeer| g.log_tail(10_000).matches("Stream connection").count();
    let go_before = go_conns(&g);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let m = r.cluster.metrics();
    let go_after = go_conns(&g);
    eprintln!(
        "in 4 s: our push-pulls {} -> {}; streams accepted by Go {go_before} -> {go_after}",
        before, m.push_pulls
    );
    assert!(m.push_pulls >= before + 4, "too few push-pulls: {m:?}");
    // Each way on its own: Go started some (we answered), we started some (Go accepted).
    assert!(m.push_pulls_answered >= answered + 2, "Go started too few push-pulls: {m:?}");
    assert!(go_after >= go_before + 2, "Go accepted too few of our push-pulls");
    assert_eq!(m.stream_errors, 0, "{m:?}");
    let log = g.log_tail(10_000);
    assert!(!log.contains("[ERR]"), "Go logged errors:\n{log}");
    wait_all_alive(&[&r], &[&g], &["g1", "r1"], Duration::from_secs(1)).await;
}

/// A Go node and ours, partitioned (nftables drops everything to their
/// ports) for longer than both keep dead members, forget each other; once
/// the link is back our node's reconnect brings them together again. Plain
/// memberlist never would: neither side contacts a forgotten member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_longer_than_the_dead_time_heals() {
    let dead_time = Duration::from_secs(2);
    let g = GoPeer::spawn(GoOpts { dead_time, ..GoOpts::new("g1") }).await;
    let r = RustNode::start(swim_tokio::Config {
        gossip_to_the_dead_time: dead_time,
        reconnect_interval: Duration::from_secs(2),
        ..config("r1")
    })
    .await;
    r.join(&g.addr.to_string()).await;
    wait_all_alive(&[&r], &[&g], &["g1", "r1"], TEN_S).await;
    let cut = LoopbackCut::new(&[g.addr.port(), r.addr().port()]);
    let g = &g;
    // Go lists dead members until it forgets them; ours keeps them (for
    // gossip_to_the_dead_time) where `members()` does not show them.
    let forgot = wait_until("both see the other gone, and Go forgets ours", Duration::from_secs(30), || {
        let ours = r.member("g1").is_none();
        async move { ours && g.state_of("r1").await.is_none() }
    })
    .await;
    // Ours forgets g1 within the dead time after declaring it dead.
    tokio::time::sleep(dead_time + Duration::from_secs(1)).await;
    eprintln!("partitioned: both sides forgot the other after {forgot:?}");
    drop(cut);
    let healed = Instant::now();
    wait_all_alive(&[&r], &[g], &["g1", "r1"], Duration::from_secs(30)).await;
    eprintln!("one cluster again {:?} after the link came back", healed.elapsed());
    assert!(r.cluster.metrics().reconnects >= 1);
}

// ---------------------------------------------------------------------------
// 5. Messages

/// Go node g1 and our r1 (joined through g1), both listing both alive.
async fn go_and_ours(v: &Variant) -> (GoPeer, RustNode) {
    let g = GoPeer::spawn(v.go("g1", None)).await;
    let r = RustNode::start(v.ours("r1")).await;
    r.join(&g.addr.to_string()).await;
    wait_all_alive(&[&r], &[&g], &["g1", "r1"], TEN_S).await;
    (g, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_messages_reach_the_go_peer() {
    for v in
        [Variant::default(), Variant { key: Some(KEY), label: "l", compress: true, ..Variant::default() }]
    {
        let (g, r) = go_and_ours(&v).await;

        r.cluster.send(&"g1".into(), "greet", b"hello-go").await.unwrap();
        r.cluster.send_to_addr(g.addr, "alert", b"alert-data").await.unwrap();
        r.cluster.send_reliable(g.addr, "bulk", &vec![b'z'; 100_000]).await.unwrap();
        r.cluster.broadcast("deploy", b"v7").unwrap();
        let want = |topic: &str, payload: &str| {
            let (topic, payload) = (topic.to_string(), payload.to_string());
            move |l: &serde_json::Value| {
                l["event"] == "msg"
                    && l["framed"] == true
                    && l["sender"] == "r1"
                    && l["topic"] == topic.as_str()
                    && l["payload"] == payload.as_str()
            }
        };
        g.next_event(want("greet", "hello-go"), TEN_S).await;
        g.cursor_reset();
        g.next_event(want("alert", "alert-data"), TEN_S).await;
        g.cursor_reset();
        g.next_event(want("bulk", &"z".repeat(100_000)), TEN_S).await;
        g.cursor_reset();
        g.next_event(|l| l["event"] == "user_event" && l["name"] == "deploy" && l["payload"] == "v7", TEN_S)
            .await;
    }
}

/// A burst of direct messages queued together leaves swim coalesced —
/// memberlist compound messages of many user messages per datagram, sent in
/// GSO batches, encrypted once per datagram — and the Go node reads every
/// one exactly once (plain, and encrypted + labelled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_receives_coalesced_direct_messages() {
    for v in [Variant::default(), Variant { key: Some(KEY), label: "l", ..Variant::default() }] {
        let (g, r) = go_and_ours(&v).await;
        let before = r.cluster.metrics();
        const N: usize = 400;
        for i in 0..N {
            r.cluster.send(&"g1".into(), "burst", format!("m{i}").as_bytes()).await.unwrap();
        }
        r.cluster.flush().await;
        let after = r.cluster.metrics();
        let coalesced = after.direct_coalesced - before.direct_coalesced;
        assert!(coalesced >= N as u64 / 2, "most of the burst shared datagrams: {coalesced} of {N}");
        // Memberlist hands queued user messages to its delegate newest
        // first (`getNextMessage` takes the back of its handoff list), so
        // the Go node's order is not ours: count each payload instead.
        let burst = || -> Vec<String> {
            g.lines()
                .iter()
                .filter(|l| l["event"] == "msg" && l["sender"] == "r1" && l["topic"] == "burst")
                .map(|l| l["payload"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        wait_until("the Go node reads the whole burst", TEN_S, || {
            let n = burst().len();
            async move { n >= N }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut got = burst();
        got.sort();
        let mut want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
        want.sort();
        assert_eq!(got, want, "every message, once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_messages_reach_on_message() {
    for v in
        [Variant::default(), Variant { key: Some(KEY), label: "l", compress: true, ..Variant::default() }]
    {
        let (g, r) = go_and_ours(&v).await;

        g.cmd_ok("send r1 best-effort hello").await;
        g.cmd_ok("send-reliable r1 reliable hello").await;
        g.cmd_ok("user-event rollout v9").await;
        let has = |topic: &str, payload: &[u8]| {
            r.messages().iter().filter(|m| m.topic == topic && m.payload == payload).count()
        };
        wait_until("Go's messages reach on_message", TEN_S, || {
            let ok = has("", b"best-effort hello") == 1
                && has("", b"reliable hello") == 1
                && has("rollout", b"v9") == 1;
            async move { ok }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(has("rollout", b"v9"), 1, "a gossiped event is delivered once: {:?}", r.messages());
    }
}

/// IPv6: a Go memberlist node and ours, all bound to `::1`, join each other
/// both ways (g1 through our r1, our r2 through g1), list each other alive at
/// the v6 addresses each advertises (16 bytes on the wire), and direct
/// messages cross both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_go_and_ours_join_both_ways_and_message() {
    let v6 = |name: &str| swim_tokio::Config { bind_addr: "::1".parse().unwrap(), ..config(name) };
    let r1 = RustNode::start(v6("r1")).await;
    let g1 =
        GoPeer::spawn(GoOpts { bind: "::1".into(), join: vec![r1.addr_string()], ..GoOpts::new("g1") }).await;
    let r2 = RustNode::start(v6("r2")).await;
    r2.join(&g1.addr.to_string()).await;
    wait_all_alive(&[&r1, &r2], &[&g1], &["g1", "r1", "r2"], TEN_S).await;

    // Everyone lists everyone at the v6 address it advertises.
    let addrs: BTreeMap<&str, std::net::SocketAddr> =
        [("g1", g1.addr), ("r1", r1.addr()), ("r2", r2.addr())].into();
    assert!(addrs.values().all(|a| a.is_ipv6() && a.ip().is_loopback()), "{addrs:?}");
    for r in [&r1, &r2] {
        for (name, addr) in &addrs {
            assert_eq!(r.member(name).map(|n| n.addr), Some(*addr), "{} lists {name}", r.name);
        }
    }
    let view = g1.view().await;
    for (name, addr) in &addrs {
        assert_eq!(view[*name]["addr"], addr.to_string(), "g1 lists {name}");
    }

    // Direct messages, both ways.
    r1.cluster.send(&"g1".into(), "greet", b"hello-go-v6").await.unwrap();
    g1.next_event(
        |l| {
            l["event"] == "msg"
                && l["sender"] == "r1"
                && l["topic"] == "greet"
                && l["payload"] == "hello-go-v6"
        },
        TEN_S,
    )
    .await;
    g1.cmd_ok("send r2 hello-ours-v6").await;
    wait_until("g1's message reaches r2 over v6", TEN_S, || {
        let ok = r2.messages().iter().any(|m| m.payload == b"hello-ours-v6");
        async move { ok }
    })
    .await;
}

// ---------------------------------------------------------------------------
// 6. Serf

async fn serf_cluster(key: Option<&[u8]>) -> Vec<SerfAgent> {
    let s1 = SerfAgent::spawn("s1", key).await;
    let s2 = SerfAgent::spawn("s2", key).await;
    let s3 = SerfAgent::spawn("s3", key).await;
    s2.join(&s1.addr.to_string());
    s3.join(&s1.addr.to_string());
    vec![s1, s2, s3]
}

/// `serf_cluster` and our node r1 (config `c`), joined through s1 and
/// listed alive by every agent.
async fn serf_cluster_and_ours(c: swim_tokio::Config) -> (Vec<SerfAgent>, RustNode) {
    let agents = serf_cluster(None).await;
    let r = RustNode::start(c).await;
    r.join(&agents[0].addr.to_string()).await;
    wait_until("every agent lists r1 alive", TEN_S, || {
        let ok = agents.iter().all(|a| a.status_of("r1").as_deref() == Some("alive"));
        async move { ok }
    })
    .await;
    (agents, r)
}

/// Waits until every status `statuses` gives is `left` or `failed` (20 s at
/// most), and returns them.
async fn wait_gone(statuses: impl Fn() -> Vec<Option<String>>) -> Vec<Option<String>> {
    let done = try_wait_until(Duration::from_secs(20), || {
        let ok = statuses().iter().all(|s| matches!(s.as_deref(), Some("left" | "failed")));
        async move { ok }
    })
    .await;
    assert!(done.is_some(), "not every agent noticed: {:?}", statuses());
    statuses()
}

async fn check_serf(key: Option<&[u8]>) {
    let agents = serf_cluster(key).await;
    let mut c = swim_tokio::Config { tags: tags(&[("role", "api"), ("version", "1.2")]), ..config("r1") };
    if let Some(k) = key {
        c.encryption_enabled = true;
        c.secret_key = k.to_vec();
    }
    let r = RustNode::start(c).await;
    let t = Instant::now();
    r.join(&agents[0].addr.to_string()).await;
    wait_until("every agent lists r1 alive with its tags", TEN_S, || {
        let ok = agents.iter().all(|a| {
            let m = a.members();
            m.len() == 4
                && m.values().all(|n| n["status"] == "alive")
                && m["r1"]["tags"] == serde_json::json!({"role": "api", "version": "1.2"})
        });
        async move { ok }
    })
    .await;
    assert_eq!(r.alive(), sorted(&["r1", "s1", "s2", "s3"]));
    eprintln!("serf members on all 3 agents list r1 alive with its tags after {:?}", t.elapsed());

    // A Serf user event reaches on_message exactly once.
    agents[1].event("deploy", "v42");
    let count = || r.messages().iter().filter(|m| m.topic == "deploy" && m.payload == b"v42").count();
    wait_until("`serf event deploy v42` reaches on_message", TEN_S, || {
        let ok = count() >= 1;
        async move { ok }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(), 1, "delivered more than once: {:?}", r.messages());

    // Our broadcast is a user event for every agent.
    r.cluster.broadcast("hello-serf", b"from-rust").unwrap();
    wait_until("our broadcast runs every agent's user-event handler", TEN_S, || {
        let ok = agents.iter().all(|a| a.user_events().contains(&"hello-serf from-rust".to_string()));
        async move { ok }
    })
    .await;
    for a in &agents {
        assert_eq!(a.user_events().iter().filter(|l| l.starts_with("hello-serf")).count(), 1);
    }

    // Killing our node shows it failed.
    let t = Instant::now();
    r.shutdown().await;
    wait_until("serf members show r1 failed", Duration::from_secs(20), || {
        let ok = agents.iter().all(|a| a.status_of("r1").as_deref() == Some("failed"));
        async move { ok }
    })
    .await;
    eprintln!("serf agents show our crashed node failed after {:?}", t.elapsed());
    for a in &agents {
        let log = a.log();
        assert!(!log.contains("[ERR]"), "serf agent {} logged errors:\n{log}", a.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_cluster_with_our_node() {
    check_serf(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_encrypted_cluster_with_our_node() {
    check_serf(Some(&KEY)).await;
}

/// Hooks that put application state in every push/pull.
struct AppState(Vec<u8>);

impl swim_tokio::Hooks for AppState {
    fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// Serf agents read push/pull states that carry our application state
/// (they skip the field), and take a latest-value broadcast (a coalescing
/// user event) as a user event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_reads_our_app_state_and_latest_value_broadcasts() {
    let push_pull = Duration::from_secs(2);
    let agents = serf_cluster(None).await;
    let r = RustNode::start(swim_tokio::Config { push_pull_interval: push_pull, ..config("r1") }).await;
    r.cluster.set_hooks(AppState(vec![0xa5; 4096]));
    r.join(&agents[0].addr.to_string()).await;
    wait_until("every agent lists r1 alive", TEN_S, || {
        let ok = agents.iter().all(|a| a.status_of("r1").as_deref() == Some("alive"));
        async move { ok }
    })
    .await;
    r.cluster.broadcast_latest("load", b"0.7").unwrap();
    wait_until("the latest-value broadcast runs every agent's handler", TEN_S, || {
        let ok = agents.iter().all(|a| a.user_events().contains(&"load 0.7".to_string()));
        async move { ok }
    })
    .await;
    // Several push/pulls each way with the application state in them.
    tokio::time::sleep(push_pull * 4).await;
    assert!(r.cluster.metrics().push_pulls >= 2, "{:?}", r.cluster.metrics());
    assert_eq!(r.alive(), sorted(&["r1", "s1", "s2", "s3"]));
    for a in &agents {
        let log = a.log();
        assert!(!log.contains("[ERR]"), "serf agent {} logged errors:\n{log}", a.name);
        assert!(a.members().values().all(|n| n["status"] == "alive"));
    }
}

/// Queries both ways: `serf query` on an agent is acked and answered by our
/// nodes' `on_query` handlers (and `-node` / `-tag` select them), and our
/// node's query is acked and answered by the agents' query handlers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_queries_both_ways() {
    let agents = serf_cluster(None).await;
    let mut ours = Vec::new();
    for (name, role) in [("r1", "web"), ("r2", "db")] {
        let r = RustNode::start(swim_tokio::Config { tags: tags(&[("role", role)]), ..config(name) }).await;
        let me = name.to_string();
        r.cluster
            .on_query(move |q| Some(format!("{me}:{}", String::from_utf8_lossy(&q.payload)).into_bytes()));
        r.join(&agents[0].addr.to_string()).await;
        ours.push(r);
    }
    wait_until("every agent lists r1 and r2 alive", TEN_S, || {
        let ok =
            agents.iter().all(|a| ["r1", "r2"].iter().all(|n| a.status_of(n).as_deref() == Some("alive")));
        async move { ok }
    })
    .await;
    // serf query → our handlers (and the agents' own).
    let t = Instant::now();
    let out = agents[1].query(&["-timeout=3s", "uptime", "hi"]);
    eprintln!("serf query took {:?}: {out}", t.elapsed());
    let acks: Vec<&str> = out["Acks"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for n in ["r1", "r2", "s1", "s2", "s3"] {
        assert!(acks.contains(&n), "no ack from {n}: {out}");
    }
    assert_eq!(out["Responses"]["r1"], "r1:hi", "{out}");
    assert_eq!(out["Responses"]["r2"], "r2:hi", "{out}");
    assert_eq!(out["Responses"]["s1"], "serf-s1:hi", "{out}");
    let only_r2 = agents[0].query(&["-timeout=2s", "-node=r2", "uptime", "x"]);
    assert_eq!(only_r2["Responses"].as_object().unwrap().keys().collect::<Vec<_>>(), ["r2"], "{only_r2}");
    let web = agents[0].query(&["-timeout=2s", "-tag", "role=^we", "uptime", "y"]);
    assert_eq!(web["Responses"].as_object().unwrap().keys().collect::<Vec<_>>(), ["r1"], "{web}");
    // The time to all five responses, Serf's asker against ours, same
    // cluster, same run (both answered by the same handlers).
    let serf_all_in = agents[1].query_time_to(5, &["-timeout=3s", "uptime", "t"]);
    eprintln!("serf query: all 5 responses after {serf_all_in:?}");
    // `serf reachability`: every node, ours included, acks `_serf_ping`.
    let (ok, out) = agents[2].reachability();
    assert!(ok && out.contains("Successfully contacted all live nodes"), "serf reachability:\n{out}");
    // Our query → the agents' handlers (and ours).
    let t = Instant::now();
    let params =
        swim_tokio::QueryParams::default().with_acks().relay_factor(1).timeout(Duration::from_secs(3));
    let mut stream = ours[0].cluster.query("uptime", b"from-rust", params).unwrap();
    let (mut acks, mut answers) = (Vec::new(), std::collections::BTreeMap::new());
    let mut all_in = None;
    while let Some(e) = stream.next().await {
        match e {
            swim_tokio::QueryEvent::Ack { from, .. } => acks.push(from.to_string()),
            swim_tokio::QueryEvent::Response { from, payload, .. } => {
                answers.insert(from.to_string(), String::from_utf8_lossy(&payload).into_owned());
                if answers.len() == 5 && all_in.is_none() {
                    all_in = Some(t.elapsed());
                }
            }
            _ => {}
        }
    }
    eprintln!("our query: all 5 responses after {all_in:?}");
    acks.sort();
    let m = ours[0].cluster.metrics();
    assert_eq!(acks, ["r1", "r2", "s1", "s2", "s3"], "answers {answers:?}; r1's metrics {m:?}");
    assert_eq!(answers["s2"], "serf-s2:from-rust");
    assert_eq!(answers["r2"], "r2:from-rust");
    assert_eq!(answers.len(), 5, "{answers:?}");
    for a in &agents {
        let log = a.log();
        assert!(!log.contains("[ERR]"), "serf agent {} logged errors:\n{log}", a.name);
    }
}

/// `serf keys` on a cluster of Serf agents and swim nodes: install, use,
/// remove and list reach every node (the swim nodes answer Serf's internal
/// key queries); then a swim node drives a rotation the same way and the
/// agents follow. No node is suspected on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_keys_rotation_with_our_nodes() {
    use swim_tokio::KeyOp;
    let agents = serf_cluster(Some(&KEY)).await;
    let mut ours = Vec::new();
    for name in ["r1", "r2"] {
        let c = swim_tokio::Config { encryption_enabled: true, secret_key: KEY.to_vec(), ..config(name) };
        let r = RustNode::start(c).await;
        r.join(&agents[0].addr.to_string()).await;
        ours.push(r);
    }
    wait_until("every agent lists r1 and r2 alive", TEN_S, || {
        let ok =
            agents.iter().all(|a| ["r1", "r2"].iter().all(|n| a.status_of(n).as_deref() == Some("alive")));
        async move { ok }
    })
    .await;
    let (old, new, third) = (base64(&KEY), base64(&OTHER_KEY), [9u8; 32]);
    for arg in [format!("-install={new}"), format!("-use={new}"), format!("-remove={old}")] {
        let (ok, out) = agents[1].keys(&arg);
        assert!(ok, "serf keys {arg} failed:\n{out}");
    }
    let (ok, out) = agents[2].keys("-list");
    let listed = |out: &str, key: &str| out.lines().any(|l| l.contains(key) && l.contains("[5/5]"));
    assert!(ok && listed(&out, &new), "serf keys -list:\n{out}");
    for r in &ours {
        assert_eq!(r.cluster.keys().unwrap(), vec![OTHER_KEY.to_vec()], "{}", r.name);
    }
    // Refusing to remove the primary key, as Serf.
    let (ok, out) = agents[0].keys(&format!("-remove={new}"));
    assert!(!ok && out.contains("r1"), "removing the primary key:\n{out}");
    // A rotation driven by a swim node.
    for (op, key) in [(KeyOp::Install, &third), (KeyOp::Use, &third), (KeyOp::Remove, &OTHER_KEY)] {
        let report = ours[0].cluster.cluster_keys(op, key).await.unwrap();
        assert!(report.is_complete(), "{op:?}: {report:?}");
        assert_eq!(report.num_resp, 5);
    }
    let report = ours[1].cluster.cluster_keys(KeyOp::List, &[]).await.unwrap();
    assert_eq!(report.keys.get(third.as_slice()), Some(&5), "{report:?}");
    let (ok, out) = agents[0].keys("-list");
    assert!(ok && listed(&out, &base64(&third)), "serf keys -list:\n{out}");
    for r in &ours {
        let trouble: Vec<_> = r.events.lock().unwrap().iter().filter(|e| e.kind != "join").cloned().collect();
        assert!(trouble.is_empty(), "{} saw membership trouble during the rotation: {trouble:?}", r.name);
    }
    for a in &agents {
        assert!(a.members().values().all(|n| n["status"] == "alive"), "{}", a.name);
    }
}

/// Network coordinates both ways: `serf rtt` on an agent estimates its RTT
/// to our node (it learnt our coordinate from our acks, in Serf's format),
/// and our node estimates its RTT to an agent from theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_rtt_to_and_from_our_node() {
    let (agents, r) = serf_cluster_and_ours(config("r1")).await;
    let estimated = try_wait_until(Duration::from_secs(20), || {
        let ok = agents[0].rtt(&["r1"]).0 && r.cluster.estimate_rtt("r1", "s1").is_some();
        async move { ok }
    })
    .await;
    let (ok, out) = agents[0].rtt(&["r1"]);
    assert!(estimated.is_some() && ok && out.contains("r1"), "serf rtt r1:\n{out}");
    eprintln!("serf: {}", out.trim());
    let ours = r.cluster.estimate_rtt("r1", "s1").unwrap();
    eprintln!("ours: r1 <-> s1 {ours:?}; updates {}", r.cluster.metrics().coordinate_updates);
    assert!(ours < Duration::from_millis(100), "loopback RTT estimated at {ours:?}");
    assert_eq!(r.cluster.metrics().coordinates_rejected, 0, "{:?}", r.cluster.metrics());
    for a in &agents {
        let log = a.log();
        assert!(!log.contains("[ERR]"), "serf agent {} logged errors:\n{log}", a.name);
    }
}

/// Two nodes claiming one name, resolved the way Serf resolves it: a swim
/// node started under an agent's name yields (the majority knows the name
/// at the agent's address), and an agent started under a swim node's name
/// yields to the swim node (which answers Serf's `_serf_conflict` query).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_conflicts_resolve_as_serf_resolves_them() {
    let (agents, r1) = serf_cluster_and_ours(config("r1")).await;
    // Ours, named like agent s3.
    let clone = RustNode::start(config("s3")).await;
    clone.join(&agents[0].addr.to_string()).await;
    wait_until("our s3 yields", Duration::from_secs(20), || {
        let ok = clone.cluster.is_shutdown();
        async move { ok }
    })
    .await;
    assert_eq!(clone.cluster.metrics().name_conflicts_lost, 1);
    // An agent named like our r1.
    let impostor = SerfAgent::spawn("r1", None).await;
    impostor.join(&agents[1].addr.to_string());
    wait_until("the agent named r1 yields", Duration::from_secs(20), || {
        let ok = impostor.log().contains("minority in name conflict resolution");
        async move { ok }
    })
    .await;
    assert!(!r1.cluster.is_shutdown());
    tokio::time::sleep(Duration::from_secs(2)).await;
    for a in &agents {
        let m = a.members();
        assert_eq!(m["r1"]["status"], "alive", "{}: {m:?}", a.name);
        assert_eq!(m["s3"]["addr"], agents[2].addr.to_string(), "{}: {m:?}", a.name);
    }
    assert_eq!(r1.cluster.member("s3").map(|m| m.addr), Some(agents[2].addr));
    assert_eq!(r1.cluster.member("r1").map(|m| m.addr), Some(r1.addr()));
}

/// Our graceful leave, as Serf agents see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_sees_our_graceful_leave_as_left() {
    let (agents, r) = serf_cluster_and_ours(config("r1")).await;
    if let Err(e) = r.cluster.leave(Duration::from_secs(2)).await {
        eprintln!("leave: {e}");
    }
    r.shutdown().await;
    let statuses = wait_gone(|| agents.iter().map(|a| a.status_of("r1")).collect()).await;
    assert!(
        statuses.iter().all(|s| s.as_deref() == Some("left")),
        "serf agents show our graceful leave as {statuses:?}"
    );
}

/// A Serf user event our node missed — every datagram to it dropped while
/// the agents gossiped it — reaches it once, in a push/pull with an agent
/// (Serf's event buffer, replayed on merge); and the agents read our
/// push/pull states, which carry our own recent events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_event_missed_by_our_node_arrives_by_push_pull() {
    let push_pull = Duration::from_secs(2);
    let (agents, r) =
        serf_cluster_and_ours(swim_tokio::Config { push_pull_interval: push_pull, ..config("r1") }).await;
    r.cluster.broadcast("from-rust", b"buffered").unwrap();
    let count = || r.messages().iter().filter(|m| m.topic == "deploy" && m.payload == b"v1").count();
    {
        // Datagrams (and connections) to our port are dropped; our own
        // push/pulls still reach the agents.
        let _cut = LoopbackCut::new(&[r.addr().port()]);
        agents[1].event("deploy", "v1");
        wait_until("every agent ran its handler for deploy v1", TEN_S, || {
            let ok = agents.iter().all(|a| a.user_events().contains(&"deploy v1".to_string()));
            async move { ok }
        })
        .await;
        wait_until("deploy v1 reaches r1 in a push/pull", push_pull * 5, || {
            let ok = count() >= 1;
            async move { ok }
        })
        .await;
    }
    assert!(r.cluster.metrics().broadcasts_replayed >= 1, "{:?}", r.cluster.metrics());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(), 1, "delivered more than once: {:?}", r.messages());
    for a in &agents {
        let log = a.log();
        assert!(!log.contains("remote state"), "serf agent {} could not read a push/pull:\n{log}", a.name);
        assert_eq!(a.user_events().iter().filter(|l| l.starts_with("from-rust")).count(), 1);
    }
}

/// In a cluster of many swim nodes and one Serf agent, swim nodes that
/// leave gracefully show `left` in `serf members`: every swim node gossips
/// a new leave intent on, as Serf agents do, so it reaches the agent
/// (before, the leaving node's own few sends often missed it: 3 of 10 left,
/// 7 failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_sees_leaves_as_left_in_a_mostly_swim_cluster() {
    let agent = SerfAgent::spawn("s1", None).await;
    let (n, leaving) = (20, 10);
    let mut ours = Vec::new();
    for i in 0..n {
        let r = RustNode::start(config(&format!("r{i}"))).await;
        let seed = if i == 0 { agent.addr.to_string() } else { ours_addr(&ours, i) };
        r.join(&seed).await;
        ours.push(r);
    }
    wait_until("the agent lists every node alive", Duration::from_secs(30), || {
        let m = agent.members();
        let ok = m.len() == n + 1 && m.values().all(|v| v["status"] == "alive");
        async move { ok }
    })
    .await;
    for r in ours.drain(..leaving) {
        if let Err(e) = r.cluster.leave(Duration::from_secs(2)).await {
            eprintln!("leave: {e}");
        }
        r.shutdown().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let statuses = wait_gone(|| (0..leaving).map(|i| agent.status_of(&format!("r{i}"))).collect()).await;
    assert!(statuses.iter().all(|s| s.as_deref() == Some("left")), "serf members: {statuses:?}");
    for r in &ours {
        assert!(r.cluster.metrics().intents_relayed > 0);
    }
}

fn ours_addr(ours: &[RustNode], i: usize) -> String {
    ours[i % ours.len()].addr().to_string()
}

/// `serf force-leave` of a live swim node: the node refutes with a newer
/// join intent and every agent lists it alive again (before, it stayed
/// `leaving` for ever); when it later crashes, the agents show it `failed`,
/// not `left`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serf_force_leave_of_our_live_node_is_refuted() {
    let (agents, r) = serf_cluster_and_ours(config("r1")).await;
    agents[1].force_leave("r1");
    wait_until("r1 refutes, and every agent lists it alive again", TEN_S, || {
        let ok = agents.iter().all(|a| a.status_of("r1").as_deref() == Some("alive"));
        async move { ok }
    })
    .await;
    assert!(r.cluster.metrics().leave_intents_refuted >= 1);
    r.shutdown().await;
    let statuses = wait_gone(|| agents.iter().map(|a| a.status_of("r1")).collect()).await;
    assert!(statuses.iter().all(|s| s.as_deref() == Some("failed")), "after a crash: {statuses:?}");
}

// ---------------------------------------------------------------------------
// 7. Key rotation

/// A running mixed, encrypted cluster moves to a new key the keyring way
/// (install everywhere, use everywhere, remove the old one everywhere) with no
/// node ever suspected; afterwards the new key joins and the old one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_in_a_mixed_cluster() {
    let v = Variant { key: Some(KEY), ..Variant::default() };
    let (ours, gos, _) = mixed_cluster(&v, false).await;
    let old = hex(&KEY);
    let new = hex(&OTHER_KEY);
    let pause = || tokio::time::sleep(Duration::from_millis(600));
    for g in &gos {
        g.cmd_ok(&format!("key-install {new}")).await;
    }
    for r in &ours {
        r.cluster.install_key(&OTHER_KEY).unwrap();
    }
    pause().await;
    // Switch the primary key one node at a time, alternating kinds.
    gos[0].cmd_ok(&format!("key-use {new}")).await;
    ours[0].cluster.use_key(&OTHER_KEY).unwrap();
    pause().await;
    gos[1].cmd_ok(&format!("key-use {new}")).await;
    ours[1].cluster.use_key(&OTHER_KEY).unwrap();
    ours[2].cluster.use_key(&OTHER_KEY).unwrap();
    pause().await;
    for g in &gos {
        g.cmd_ok(&format!("key-remove {old}")).await;
    }
    for r in &ours {
        r.cluster.remove_key(&KEY).unwrap();
    }
    // Run on the new key alone for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let our_refs: Vec<&RustNode> = ours.iter().collect();
    wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &ALL5, Duration::from_secs(1)).await;
    for r in &ours {
        let bad: Vec<_> = r.events.lock().unwrap().iter().filter(|e| e.kind != "join").cloned().collect();
        assert!(bad.is_empty(), "{} saw membership trouble during the rotation: {bad:?}", r.name);
    }
    for g in &gos {
        assert!(!g.lines().iter().any(|l| l["event"] == "leave"), "Go {} saw a node go", g.name);
    }
    // Only the new key gets in now.
    let with_new = RustNode::start(Variant { key: Some(OTHER_KEY), ..Variant::default() }.ours("r4")).await;
    with_new.join(&gos[1].addr.to_string()).await;
    let with_old =
        RustNode::start(swim_tokio::Config { join_timeout: Duration::from_secs(1), ..v.ours("r5") }).await;
    let err = with_old.cluster.join(&[gos[0].addr.to_string(), ours[0].addr_string()]).await;
    assert!(
        matches!(err, Err(JoinError::NoSeedsReachable { .. })),
        "a node with the old key joined: {err:?}"
    );
    let mut all6 = ALL5.to_vec();
    all6.push("r4");
    wait_all_alive(&our_refs, &[&gos[0], &gos[1]], &all6, TEN_S).await;
}

// ---------------------------------------------------------------------------
// Vector capture (run by hand)

/// Captures real Serf query traffic into `swim-core/testdata/wire/serf/queries/`:
/// a query as `serf query` gossips it (logged by a Go memberlist peer in the
/// cluster), and the acks, responses and relays Serf agents send to an
/// asker (a plain UDP socket named in a query sent to an agent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "captures vectors: cargo test -p swim-interop --features interop --test interop capture_serf_query_vectors -- --ignored"]
async fn capture_serf_query_vectors() {
    use swim_core::wire::query::{encode_bin_list, BinList, Filter, Query, FLAG_ACK};
    let agents = serf_cluster(None).await;
    let mut opts = GoOpts::new("g1");
    opts.join = vec![agents[0].addr.to_string()];
    let g = GoPeer::spawn(opts).await;
    wait_until("the agents list g1", TEN_S, || {
        let ok = agents.iter().all(|a| a.status_of("g1").as_deref() == Some("alive"));
        async move { ok }
    })
    .await;
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../swim-core/testdata/wire/serf/queries");
    std::fs::create_dir_all(&dir).unwrap();
    // 1. A query gossiped by Serf, with a node and a tag filter, as g1 receives it.
    let _ = agents[1].query(&[
        "-timeout=1s",
        "-node=s1",
        "-node=g1",
        "-tag",
        "role=.*",
        "-relay-factor=2",
        "uptime",
        "from-serf",
    ]);
    let query = g.lines().into_iter().filter(|l| l["event"] == "msg").find_map(|l| {
        let h = l["hex"].as_str()?.to_string();
        h.starts_with("04").then_some(h)
    });
    std::fs::write(dir.join("query_from_serf.hex"), query.expect("g1 got the query") + "\n").unwrap();
    // 2. Acks, responses and relays sent to an asker.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut raw = Vec::new();
    Filter::Nodes(vec!["s1", "s2"]).encode(&mut raw);
    let mut list = Vec::new();
    encode_bin_list([raw.as_slice()].into_iter(), &mut list);
    let q = Query {
        ltime: 1000,
        id: 4242,
        addr: &[127, 0, 0, 1],
        port: sock.local_addr().unwrap().port(),
        source_node: "capture",
        filters: BinList::from_encoded(&list).unwrap(),
        flags: FLAG_ACK,
        relay_factor: 2,
        timeout: 2_000_000_000,
        name: "uptime",
        payload: b"from-capture",
    };
    let mut msg = vec![0u8; q.encoded_len()];
    let n = q.encode(&mut msg).unwrap();
    sock.send_to(&msg[..n], agents[0].addr).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok((len, from)) = sock.recv_from(&mut buf) {
            got.push((from, buf[..len].to_vec()));
        }
    }
    assert!(got.len() >= 4, "acks and responses from s1 and s2, some relayed: {}", got.len());
    let mut index = String::from("# file  sender  bytes\n");
    for (i, (from, data)) in got.iter().enumerate() {
        let name = format!("udp_to_asker_{i:03}.hex");
        let port = from.port();
        let sender = agents.iter().find(|a| a.addr.port() == port).map_or("?", |a| a.name.as_str());
        std::fs::write(dir.join(&name), hex(data) + "\n").unwrap();
        index.push_str(&format!("{name}  {sender}  {}\n", data.len()));
    }
    // 3. Relay messages as g1 received them (if an agent picked it to relay).
    for (i, h) in g
        .lines()
        .into_iter()
        .filter(|l| l["event"] == "msg")
        .filter_map(|l| l["hex"].as_str().map(String::from))
        .filter(|h| h.starts_with("09"))
        .enumerate()
    {
        std::fs::write(dir.join(format!("relay_{i:03}.hex")), h + "\n").unwrap();
        index.push_str(&format!("relay_{i:03}.hex  (to g1)\n"));
    }
    std::fs::write(dir.join("index.txt"), index).unwrap();
}
