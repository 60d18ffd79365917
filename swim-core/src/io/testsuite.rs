//! The multi-node test suite every driver runs (feature `test-suite`):
//! real sockets on loopback, real tasks, real time. A driver's tests call
//! [`cluster_test_suite!`](crate::cluster_test_suite) with its runtime.

extern crate std;

use crate::io::cluster::Cluster;
use crate::io::driver::{CreateError, JoinError, SeedError, SendError};
use crate::io::runtime::{timeout, Runtime};
use crate::{Config, Event, NodeId, State};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;
use std::collections::HashMap;
use std::println;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Generates one `#[test]` per shared test for runtime `$rt`, each run with
/// `$block_on` (a `fn<F: Future>(F) -> F::Output`).
#[macro_export]
macro_rules! cluster_test_suite {
    ($rt:ty, $block_on:path) => {
        $crate::cluster_test_suite!(@each $rt, $block_on,
            ten_nodes_converge_and_detect_a_crash,
            a_broadcast_reaches_all_nine_others_exactly_once,
            send_and_send_to_addr_deliver,
            a_burst_of_direct_messages_is_coalesced_and_all_delivered_in_order,
            a_full_send_queue_makes_send_wait_and_try_send_refuse,
            inline_handlers_answer_from_the_receive_path,
            an_inbound_stream_past_the_byte_budget_is_refused_and_counted,
            a_node_with_the_wrong_key_never_appears,
            graceful_leave_is_reported_as_left,
            a_panicking_handler_does_not_stop_the_node,
            shutdown_frees_the_port_for_a_restart,
            join_retries_until_a_late_seed_answers,
            a_node_left_alone_rejoins_through_its_seed,
            bad_config_is_a_clear_create_error,
            ipv6_nodes_on_loopback_form_a_cluster_and_exchange_messages,
            events_start_with_the_members_and_report_what_a_slow_reader_lost,
            a_slow_handler_does_not_get_its_node_suspected,
            handlers_learn_kind_and_source_and_can_be_unregistered,
            after_shutdown_every_operation_says_so,
            join_starts_the_node_and_a_cancelled_join_leaks_nothing,
            the_cluster_reports_what_the_core_knows,
            hooks_latest_broadcasts_and_the_allow_list_work_through_the_cluster,
            queries_are_answered_by_every_handler_and_end_at_their_timeout,
            a_node_with_a_taken_name_yields_and_shuts_down,
            a_socket_emptied_by_a_batch_still_wakes_for_every_later_datagram);
    };
    (@each $rt:ty, $block_on:path, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $block_on($crate::io::testsuite::$name::<$rt>())
            }
        )*
    };
}

async fn sleep<R: Runtime>(d: Duration) {
    R::current().sleep_until(Instant::now() + d).await;
}

const INTERVAL: Duration = Duration::from_millis(200);

/// The configuration the suite uses: fast protocol, encryption on.
pub fn config(name: &str) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        protocol_interval: INTERVAL,
        probe_timeout: Duration::from_millis(100),
        gossip_interval: Duration::from_millis(50),
        encryption_enabled: true,
        secret_key: vec![7; 32],
        ..Config::default()
    }
}

async fn start<R: Runtime>(n: usize, cfg: impl Fn(&str) -> Config) -> Vec<Cluster<R>> {
    let mut nodes = Vec::new();
    for i in 0..n {
        let c = Cluster::<R>::create(cfg(&format!("node-{i}"))).await.unwrap();
        c.start();
        nodes.push(c);
    }
    nodes
}

async fn join_all<R: Runtime>(nodes: &[Cluster<R>]) {
    let seed = nodes[0].local_addr().to_string();
    for n in &nodes[1..] {
        assert_eq!(n.join(&[&seed]).await.unwrap(), 1);
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns the time taken.
async fn wait_for<R: Runtime>(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        sleep::<R>(Duration::from_millis(20)).await;
    }
    cond().then(|| start.elapsed())
}

fn periods(d: Duration) -> f64 {
    d.as_secs_f64() / INTERVAL.as_secs_f64()
}

/// Shared driver test.
pub async fn ten_nodes_converge_and_detect_a_crash<R: Runtime>() {
    let nodes = start::<R>(10, config).await;
    let t0 = Instant::now();
    join_all(&nodes).await;
    let converged = wait_for::<R>(Duration::from_secs(10), || nodes.iter().all(|n| n.members().len() == 10))
        .await
        .expect("10 nodes converge");
    println!(
        "converged {:?} after the first join ({:.1} protocol periods)",
        t0.elapsed(),
        periods(converged)
    );

    let mut streams: Vec<_> = nodes[..9].iter().map(|n| n.events()).collect();
    // Crash node-9: its tasks stop, no leave message.
    nodes[9].shutdown().await;
    // Bound from the config: a full probe round (n-1 periods), plus the largest
    // suspicion timeout (suspicion_max_timeout_mult 6 * suspicion_mult 4 *
    // max(1, log10 10) periods), plus a few periods for gossip and scheduling.
    let bound = INTERVAL * 9 + INTERVAL * 24 + INTERVAL * 5;
    let gone = NodeId::from("node-9");
    let detected =
        wait_for::<R>(bound, || nodes[..9].iter().all(|n| n.members().iter().all(|m| m.id != gone)))
            .await
            .expect("every live node drops the crashed one within the bound");
    println!(
        "crash detected by all 9 after {detected:?} ({:.1} periods, bound {:.0})",
        periods(detected),
        periods(bound)
    );
    // Nobody may declare it dead before the suspicion timeout could run out:
    // suspicion_mult 4 * max(1, log10 10) = 4 periods.
    assert!(detected >= INTERVAL * 4, "dead after {detected:?}, before the suspicion timeout");
    for (i, s) in streams.iter_mut().enumerate() {
        let mut saw_leave = false;
        while let Some(e) = s.try_next() {
            if let Event::Leave(n) = e {
                if n.id == gone {
                    assert_eq!(n.state, State::Dead, "a crash is reported as Leave with state Dead");
                    saw_leave = true;
                }
            }
        }
        assert!(saw_leave, "node-{i} reported node-9's Leave");
    }
    for n in &nodes[..9] {
        n.shutdown().await;
    }
}

/// Shared driver test.
pub async fn a_broadcast_reaches_all_nine_others_exactly_once<R: Runtime>() {
    let nodes = start::<R>(10, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(10), || nodes.iter().all(|n| n.members().len() == 10)).await.unwrap();
    let got: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    for n in &nodes {
        let (got, me) = (got.clone(), n.local_node().id.to_string());
        n.on_message(move |_sender, topic, payload| {
            if topic == "config-update" && payload == br#"{"version": 2}"# {
                *got.lock().unwrap().entry(me.clone()).or_default() += 1;
            }
        });
    }
    nodes[0].broadcast("config-update", br#"{"version": 2}"#).unwrap();
    wait_for::<R>(Duration::from_secs(5), || got.lock().unwrap().len() == 9)
        .await
        .expect("all 9 others get it");
    // Let gossip run its full course: no node may get it twice.
    sleep::<R>(INTERVAL * 10).await;
    let counts = got.lock().unwrap().clone();
    assert!(!counts.contains_key("node-0"), "the sender does not deliver to itself");
    for i in 1..10 {
        assert_eq!(counts.get(&format!("node-{i}")), Some(&1), "node-{i}");
    }
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test.
pub async fn send_and_send_to_addr_deliver<R: Runtime>() {
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes[0].members().len() == 2).await.unwrap();
    type Received = Vec<(String, String, Vec<u8>)>;
    let got: Arc<Mutex<Received>> = Arc::default();
    let g = got.clone();
    nodes[1].on_message(move |sender, topic, payload| {
        g.lock().unwrap().push((sender.id.to_string(), topic.to_string(), payload.to_vec()));
    });
    nodes[0].send(&"node-1".into(), "ping", b"pong").await.unwrap();
    nodes[0].send_to_addr(nodes[1].local_addr(), "alert", b"alert-data").await.unwrap();
    nodes[0].send_reliable(nodes[1].local_addr(), "bulk", &vec![42u8; 100_000]).await.unwrap();
    wait_for::<R>(Duration::from_secs(5), || got.lock().unwrap().len() == 3)
        .await
        .expect("three messages arrive");
    let received = got.lock().unwrap().clone();
    assert!(received.contains(&("node-0".into(), "ping".into(), b"pong".to_vec())));
    assert!(received.contains(&("node-0".into(), "alert".into(), b"alert-data".to_vec())));
    assert!(received.contains(&("node-0".into(), "bulk".into(), vec![42u8; 100_000])));
    assert_eq!(nodes[0].metrics().buffer_pool_misses, 0, "sends used pooled buffers only");
    let err = nodes[0].send(&"nobody".into(), "t", b"").await.unwrap_err();
    assert!(matches!(err, SendError::UnknownNode(_)), "{err}");
    let err = nodes[0].send(&"node-1".into(), "t", &vec![0u8; 5000]).await.unwrap_err();
    assert!(matches!(err, SendError::TooLarge { .. }), "{err}");
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: 3,000 direct messages sent as fast as `send`
/// returns reach the other node, all of them and in order, with many sharing
/// datagrams (compound messages) — and no allocation on the sender once
/// warm is checked by the direct-send bench.
pub async fn a_burst_of_direct_messages_is_coalesced_and_all_delivered_in_order<R: Runtime>() {
    let cfg = |name: &str| Config { handoff_queue_depth: 1 << 14, ..config(name) };
    let nodes = start::<R>(2, cfg).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes[0].members().len() == 2).await.unwrap();
    let got: Arc<Mutex<Vec<u32>>> = Arc::default();
    let g = got.clone();
    nodes[1].on_message(move |_, topic, payload| {
        if topic == "burst" {
            g.lock().unwrap().push(u32::from_be_bytes(payload[..4].try_into().unwrap()));
        }
    });
    let before = nodes[0].metrics();
    const N: u32 = 3000;
    for i in 0..N {
        let mut payload = [0u8; 100];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        nodes[0].send(&"node-1".into(), "burst", &payload).await.unwrap();
    }
    nodes[0].flush().await;
    wait_for::<R>(Duration::from_secs(10), || got.lock().unwrap().len() == N as usize).await;
    let received = got.lock().unwrap().clone();
    assert_eq!(received, (0..N).collect::<Vec<_>>(), "every message, in order");
    let after = nodes[0].metrics();
    let coalesced = after.direct_coalesced - before.direct_coalesced;
    let datagrams = after.packets_sent - before.packets_sent;
    assert!(coalesced >= u64::from(N) / 2, "most messages shared a datagram: {coalesced} of {N}");
    assert!(datagrams < u64::from(N) / 4, "{datagrams} datagrams for {N} messages");
    assert_eq!((after.send_queue_full, after.udp_send_errors), (0, 0));
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: `recv_batch` after a batch that emptied the socket
/// waits for readiness without asking the socket again
/// ([`crate::io::batch_udp::BatchUdp::emptied`]); no datagram sent around
/// that moment may be left waiting. Another thread sends 4,000 datagrams in
/// bursts of 1 to 20 with pauses of 0 to 300 µs; every one must arrive, each
/// receive within 2 s.
pub async fn a_socket_emptied_by_a_batch_still_wakes_for_every_later_datagram<R: Runtime>() {
    use crate::io::runtime::{RecvSlot, Udp};
    let rt = R::current();
    let rx = rt.bind_udp("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let to = rx.local_addr().unwrap();
    const N: usize = 4000;
    let sender = std::thread::spawn(move || {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut k: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut sent = 0;
        while sent < N {
            k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let burst = ((k >> 33) % 20 + 1) as usize;
            for _ in 0..burst.min(N - sent) {
                tx.send_to(&(sent as u32).to_be_bytes(), to).unwrap();
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros((k >> 45) % 300));
        }
    });
    let mut slots: Vec<RecvSlot> = (0..8).map(|_| RecvSlot::new(64)).collect();
    let mut got = 0usize;
    while got < N {
        let n = timeout(&rt, Duration::from_secs(2), rx.recv_batch(&mut slots))
            .await
            .unwrap_or_else(|| panic!("no datagram for 2 s with {got} of {N} received"))
            .unwrap();
        for slot in &mut slots[..n] {
            for d in slot.datagrams_mut() {
                assert_eq!(u32::from_be_bytes(d.try_into().unwrap()) as usize, got, "in order");
                got += 1;
            }
        }
    }
    sender.join().unwrap();
}

/// Shared driver test: a push-pull larger than
/// `max_inbound_stream_bytes` is closed unread and counted; the node still
/// answers a normal join.
pub async fn an_inbound_stream_past_the_byte_budget_is_refused_and_counted<R: Runtime>() {
    use crate::io::runtime::Conn;
    use crate::wire::{encode_push_pull, PushNodeState, PushPullHeader};
    let cfg = |name: &str| Config { max_inbound_stream_bytes: 64 << 10, ..config(name) };
    let victim = start::<R>(1, cfg).await.remove(0);
    let meta = vec![0x4D; 512];
    let names: Vec<String> = (0..1000).map(|i| format!("ghost-{i}")).collect();
    let states = names.iter().map(|name| PushNodeState {
        name,
        addr: &[127, 0, 2, 1],
        port: 7946,
        meta: &meta,
        incarnation: 1,
        state: 2,
        vsn: &[1, 5, 2, 2, 5, 5],
    });
    let header = PushPullHeader { nodes: 1000, user_state_len: 0, join: false };
    let mut msg = Vec::new();
    encode_push_pull(&mut msg, &header, states, &[]);
    assert!(msg.len() > 256 << 10);
    // Unencrypted on purpose: the suite's nodes would drop plaintext anyway,
    // but only after reading it whole; the budget stops it before.
    let mut conn = R::current().connect(victim.local_addr()).await.unwrap();
    let _ = conn.write_all(&msg).await; // the node may close it mid-write
    wait_for::<R>(Duration::from_secs(5), || victim.metrics().streams_refused == 1)
        .await
        .expect("refused and counted");
    let other = start::<R>(1, |_| config("other")).await.remove(0);
    other.join(&[victim.local_addr().to_string()]).await.expect("a normal join still works");
    for n in [&victim, &other] {
        n.shutdown().await;
    }
}

/// Shared driver test: an inline handler answers each request with
/// `try_send_to_addr`; the asker's inline handler sees every answer; a
/// panicking inline handler is caught and counted, and unregistering works.
pub async fn inline_handlers_answer_from_the_receive_path<R: Runtime>() {
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes[0].members().len() == 2).await.unwrap();
    let replier = nodes[1].clone();
    nodes[1].on_message_inline(move |m| {
        if m.topic == "req" {
            replier.try_send_to_addr(m.from, "resp", m.payload).unwrap();
        }
    });
    let answers: Arc<Mutex<Vec<u8>>> = Arc::default();
    let a = answers.clone();
    let h = nodes[0].on_message_inline(move |m| {
        if m.topic == "resp" {
            a.lock().unwrap().push(m.payload[0]);
        }
    });
    for i in 0..50u8 {
        nodes[0].send(&"node-1".into(), "req", &[i]).await.unwrap();
        wait_for::<R>(Duration::from_secs(5), || answers.lock().unwrap().len() == usize::from(i) + 1)
            .await
            .expect("each request answered");
    }
    assert_eq!(*answers.lock().unwrap(), (0..50).collect::<Vec<u8>>());
    assert!(h.unregister());
    let boom = nodes[1].on_message_inline(|m| {
        if m.topic == "boom" {
            panic!("inline handler panic (expected by the test)");
        }
    });
    nodes[0].send(&"node-1".into(), "boom", b"").await.unwrap();
    wait_for::<R>(Duration::from_secs(5), || nodes[1].metrics().handler_panics == 1).await.expect("counted");
    boom.unregister();
    nodes[0].send(&"node-1".into(), "req", &[99]).await.unwrap();
    sleep::<R>(Duration::from_millis(300)).await;
    assert_eq!(answers.lock().unwrap().len(), 50, "an unregistered inline handler sees nothing");
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: with the send task not yet running (the node not
/// started), `send_queue_depth` messages fill the queue; `try_send` then
/// refuses with `QueueFull` and `send` waits; once the node starts, the
/// waiting send completes and every message is delivered.
pub async fn a_full_send_queue_makes_send_wait_and_try_send_refuse<R: Runtime>() {
    let receiver = start::<R>(1, config).await.remove(0);
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    receiver.on_message(move |_, topic, _| {
        if topic == "q" {
            g.fetch_add(1, Ordering::Relaxed);
        }
    });
    let sender = Cluster::<R>::create(Config { send_queue_depth: 4, ..config("sender") }).await.unwrap();
    let to = receiver.local_addr();
    for _ in 0..4 {
        sender.try_send_to_addr(to, "q", b"x").unwrap();
    }
    let err = sender.try_send_to_addr(to, "q", b"x").unwrap_err();
    assert!(matches!(err, SendError::QueueFull), "{err}");
    assert!(err.to_string().contains("send_queue_depth"), "{err}");
    let rt = R::current();
    let waiting = timeout(&rt, Duration::from_millis(300), sender.send_to_addr(to, "q", b"x")).await;
    assert!(waiting.is_none(), "send waits while the queue is full");
    sender.start();
    let sent = timeout(&rt, Duration::from_secs(5), sender.send_to_addr(to, "q", b"x")).await;
    sent.expect("send completes once the queue drains").unwrap();
    wait_for::<R>(Duration::from_secs(5), || got.load(Ordering::Relaxed) == 5)
        .await
        .expect("all five arrive");
    assert!(sender.metrics().send_queue_full >= 2, "{:?}", sender.metrics().send_queue_full);
    sender.shutdown().await;
    let err = sender.try_send_to_addr(to, "q", b"x").unwrap_err();
    assert!(matches!(err, SendError::Shutdown), "{err}");
    receiver.shutdown().await;
}

/// Shared driver test.
pub async fn a_node_with_the_wrong_key_never_appears<R: Runtime>() {
    let nodes = start::<R>(3, config).await;
    join_all(&nodes).await;
    let intruder = Cluster::<R>::create(Config {
        secret_key: vec![8; 32],
        join_timeout: INTERVAL * 5,
        ..config("intruder")
    })
    .await
    .unwrap();
    intruder.start();
    let err = intruder.join(&[nodes[0].local_addr().to_string()]).await.unwrap_err();
    let JoinError::NoSeedsReachable { failures } = &err else { panic!("{err}") };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].addr, Some(nodes[0].local_addr()), "{err}");
    // Even if it learns addresses and probes, its packets are dropped.
    intruder.send_to_addr(nodes[1].local_addr(), "x", b"y").await.unwrap();
    sleep::<R>(INTERVAL * 10).await;
    for n in &nodes {
        assert!(n.members().iter().all(|m| m.id.as_str() != "intruder"));
        assert_eq!(n.members().len(), 3);
    }
    assert!(nodes[1].metrics().dropped_decrypt >= 1);
    assert!(nodes[0].metrics().stream_errors >= 1);
    intruder.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test.
pub async fn graceful_leave_is_reported_as_left<R: Runtime>() {
    let nodes = start::<R>(3, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    let mut events = nodes[0].events();
    nodes[2].leave(Duration::from_secs(2)).await.expect("the leave spreads within 2 s");
    nodes[2].shutdown().await;
    let left = timeout(&R::current(), Duration::from_secs(5), async {
        loop {
            match events.next().await {
                Some(Event::Leave(n)) if n.id.as_str() == "node-2" => return n,
                Some(_) => {}
                None => panic!("stream ended"),
            }
        }
    })
    .await
    .expect("node-0 sees node-2 leave");
    assert_eq!(left.state, State::Left);
    for n in &nodes[..2] {
        n.shutdown().await;
    }
}

/// Shared driver test.
pub async fn bad_config_is_a_clear_create_error<R: Runtime>() {
    let bad_key = Cluster::<R>::create(Config { secret_key: vec![1; 31], ..config("a") }).await.unwrap_err();
    assert!(matches!(bad_key, CreateError::InvalidKey));
    assert!(bad_key.to_string().contains("16, 24 or 32"));
    // Encryption with the default, all-zero key is refused.
    let zero_key = Cluster::<R>::create(Config { secret_key: vec![0; 32], ..config("a") }).await.unwrap_err();
    assert!(matches!(zero_key, CreateError::InvalidConfig(crate::ConfigError::ZeroKey)), "{zero_key}");
    assert!(zero_key.to_string().contains("32 random bytes"), "{zero_key}");
    let zero =
        Cluster::<R>::create(Config { protocol_interval: Duration::ZERO, ..config("a") }).await.unwrap_err();
    assert!(matches!(zero, CreateError::InvalidConfig(_)));
    assert!(zero.to_string().contains("protocol_interval"), "{zero}");
    // A preset with one field changed past what the others allow.
    let on_loopback = |c: Config| Config { bind_addr: "127.0.0.1".parse().unwrap(), bind_port: 0, ..c };
    let slow_probe = on_loopback(Config { probe_timeout: Duration::from_secs(6), ..Config::wan() });
    let slow_probe = Cluster::<R>::create(slow_probe).await.unwrap_err();
    assert!(slow_probe.to_string().contains("probe_timeout"), "{slow_probe}");
    let no_mult = on_loopback(Config { suspicion_mult: 0, ..Config::local() });
    let no_mult = Cluster::<R>::create(no_mult).await.unwrap_err();
    assert!(no_mult.to_string().contains("suspicion_mult"), "{no_mult}");
    // join_timeout short: an unreachable seed is retried until it runs out.
    let taken = Cluster::<R>::create(Config { join_timeout: INTERVAL * 5, ..config("a") }).await.unwrap();
    let port = taken.local_addr().port();
    let clash = Cluster::<R>::create(Config { bind_port: port, ..config("b") }).await.unwrap_err();
    assert!(matches!(clash, CreateError::Bind { .. }), "{clash}");
    let no_seed = taken.join(&["127.0.0.1:1"]).await.unwrap_err();
    let JoinError::NoSeedsReachable { failures } = &no_seed else { panic!("{no_seed}") };
    assert!(
        matches!(&failures[0].reason, SeedError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{no_seed}"
    );
    assert!(no_seed.to_string().contains("127.0.0.1:1"), "each seed's reason is in the message: {no_seed}");
}

/// Shared driver test.
pub async fn a_panicking_handler_does_not_stop_the_node<R: Runtime>() {
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    let got = Arc::new(Mutex::new(0usize));
    let g = got.clone();
    nodes[1].on_message(move |_, topic, _| {
        if topic == "boom" {
            panic!("handler bug");
        }
        *g.lock().unwrap() += 1;
    });
    nodes[0].send(&"node-1".into(), "boom", b"").await.unwrap();
    nodes[0].send(&"node-1".into(), "fine", b"").await.unwrap();
    wait_for::<R>(Duration::from_secs(5), || *got.lock().unwrap() == 1)
        .await
        .expect("later messages still arrive");
    assert_eq!(nodes[1].metrics().handler_panics, 1);
    let failed_before = nodes[0].metrics().failed_probes;
    sleep::<R>(INTERVAL * 5).await;
    // Five periods of probes between two nodes: every one answered.
    assert_eq!(nodes[0].metrics().failed_probes, failed_before, "the node still answers probes");
    let n1 = nodes[0].members().into_iter().find(|m| m.id.as_str() == "node-1");
    assert_eq!(n1.map(|m| m.state), Some(State::Alive));
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test.
pub async fn shutdown_frees_the_port_for_a_restart<R: Runtime>() {
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    let port = nodes[1].local_addr().port();
    nodes[1].shutdown().await;
    assert!(matches!(nodes[1].send(&"node-0".into(), "t", b"").await, Err(SendError::Shutdown)));
    // The same name restarts on the same port at once, and rejoins.
    let again =
        Cluster::<R>::create(Config { bind_port: port, ..config("node-1") }).await.expect("port is free");
    again.start();
    again.join(&[nodes[0].local_addr().to_string()]).await.unwrap();
    wait_for::<R>(Duration::from_secs(10), || {
        nodes[0].members().iter().any(|m| m.id.as_str() == "node-1" && m.state == State::Alive)
            && again.members().len() == 2
    })
    .await
    .expect("the restarted node is back");
    again.shutdown().await;
    nodes[0].shutdown().await;
}

/// A free loopback port (both UDP and TCP), found by binding and releasing it.
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// Shared driver test: `join` keeps retrying a seed that is not up yet
/// (connection refused) and succeeds once it starts, within `join_timeout`.
pub async fn join_retries_until_a_late_seed_answers<R: Runtime>() {
    let port = free_port();
    let joiner = start::<R>(1, |_| config("joiner")).await.remove(0);
    let seed_addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let result = Arc::new(Mutex::new(None));
    let _task = {
        let (joiner, result) = (joiner.clone(), result.clone());
        R::current().spawn(async move {
            let r = joiner.join(&[seed_addr]).await;
            *result.lock().unwrap() = Some(r);
        })
    };
    sleep::<R>(Duration::from_millis(1200)).await;
    let seed = Cluster::<R>::create(Config { bind_port: port, ..config("late-seed") }).await.unwrap();
    seed.start();
    let joined =
        wait_for::<R>(Duration::from_secs(10), || joiner.members().len() == 2 && seed.members().len() == 2)
            .await;
    wait_for::<R>(Duration::from_secs(10), || result.lock().unwrap().is_some()).await;
    let r = result.lock().unwrap().take();
    assert!(matches!(r, Some(Ok(1))), "join through a late seed: {r:?}");
    assert!(joined.is_some(), "both see each other after the retried join");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the join cannot succeed before the seed starts"
    );
    joiner.shutdown().await;
    seed.shutdown().await;
}

/// Shared driver test: a node whose only peer dies is alone; when a node
/// comes back at the seed's address (a fresh one that joins nobody), the
/// lonely node finds it by retrying its seed in the background.
pub async fn a_node_left_alone_rejoins_through_its_seed<R: Runtime>() {
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    let port = nodes[0].local_addr().port();
    nodes[0].shutdown().await;
    wait_for::<R>(Duration::from_secs(15), || nodes[1].members().len() == 1)
        .await
        .expect("node-1 declares its only peer dead");
    let back = Cluster::<R>::create(Config { bind_port: port, ..config("node-0b") }).await.unwrap();
    back.start();
    // Alone, node-1 retries after one protocol interval, doubling up to
    // reconnect_interval (30 s); the seed is back within a few intervals.
    let took =
        wait_for::<R>(Duration::from_secs(15), || nodes[1].members().len() == 2 && back.members().len() == 2)
            .await
            .expect("the lonely node rejoins through its seed");
    println!("alone node rejoined {took:?} after the seed came back");
    assert!(nodes[1].metrics().reconnects >= 1);
    back.shutdown().await;
    nodes[1].shutdown().await;
}

/// Shared driver test: three nodes bound to `[::1]:0` join through a
/// `"[::1]:port"` seed, converge, advertise and list each other at their v6
/// addresses (16 bytes on the wire), and exchange a direct message and a
/// broadcast.
pub async fn ipv6_nodes_on_loopback_form_a_cluster_and_exchange_messages<R: Runtime>() {
    let nodes = start::<R>(3, |name| Config { bind_addr: "::1".parse().unwrap(), ..config(name) }).await;
    let seed = format!("[::1]:{}", nodes[0].local_addr().port());
    assert_eq!(seed, nodes[0].local_addr().to_string(), "the seed is written as host:port");
    for n in &nodes[1..] {
        assert_eq!(n.join(&[&seed]).await.unwrap(), 1);
    }
    wait_for::<R>(Duration::from_secs(10), || nodes.iter().all(|n| n.members().len() == 3))
        .await
        .expect("3 v6 nodes converge");
    for n in &nodes {
        assert!(n.local_addr().is_ipv6() && n.local_addr().ip().is_loopback(), "{}", n.local_addr());
        for m in n.members() {
            let owner = nodes.iter().find(|o| o.local_node().id == m.id).expect("a known member");
            assert_eq!(
                m.addr,
                owner.local_addr(),
                "{} lists {} at its advertised v6 address",
                n.local_node().id,
                m.id
            );
            assert_eq!(m.state, State::Alive);
        }
    }
    type Received = Vec<(String, String, String)>;
    let got: Arc<Mutex<Received>> = Arc::default();
    for n in &nodes[1..] {
        let (got, me) = (got.clone(), n.local_node().id.to_string());
        n.on_message(move |sender, topic, _| {
            got.lock().unwrap().push((me.clone(), sender.id.to_string(), topic.to_string()));
        });
    }
    nodes[0].send(&"node-2".into(), "direct", b"over v6").await.unwrap();
    nodes[0].broadcast("gossip", b"over v6").unwrap();
    wait_for::<R>(Duration::from_secs(5), || got.lock().unwrap().len() == 3)
        .await
        .expect("3 messages arrive");
    let mut received = got.lock().unwrap().clone();
    received.sort();
    // A broadcast's sender is the member that relayed it: node-0, or node-1
    // for node-2 (and the other way round).
    let relayed_by = |me: &str, i: usize| received[i].1 == "node-0" || received[i].1 != me;
    let got: Vec<(&str, &str)> =
        received.iter().map(|(me, _, topic)| (me.as_str(), topic.as_str())).collect();
    assert_eq!(got, vec![("node-1", "gossip"), ("node-2", "direct"), ("node-2", "gossip")]);
    assert_eq!(received[1].1, "node-0", "a direct message names its sender");
    assert!(relayed_by("node-1", 0) && relayed_by("node-2", 2), "{received:?}");
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: `events()` made after the join starts with a `Join`
/// per member, atomically with what follows; a reader that falls behind is
/// told how many events it lost.
pub async fn events_start_with_the_members_and_report_what_a_slow_reader_lost<R: Runtime>() {
    let nodes = start::<R>(3, |n| Config { max_event_queue: 2, ..config(n) }).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    let mut events = nodes[0].events();
    let mut joined: Vec<String> = Vec::new();
    for _ in 0..2 {
        match events.try_next() {
            Some(Event::Join(n)) => joined.push(n.id.to_string()),
            other => panic!("the snapshot starts the stream: {other:?}"),
        }
    }
    joined.sort();
    assert_eq!(joined, ["node-1", "node-2"]);
    assert!(events.try_next().is_none(), "nothing else happened");
    // A stream that is not read while three members change state.
    let mut slow = nodes[0].events();
    nodes[1].set_tags([("role".to_string(), "a".to_string())].into()).unwrap();
    nodes[2].set_tags([("role".to_string(), "b".to_string())].into()).unwrap();
    nodes[2].leave(Duration::from_secs(2)).await.unwrap();
    wait_for::<R>(Duration::from_secs(5), || nodes[0].members().len() == 2).await.unwrap();
    let lost = match slow.recv().await {
        Err(crate::io::driver::RecvError::Lagged(n)) => n,
        other => panic!("a lagging reader is told first: {other:?}"),
    };
    assert!(lost >= 3, "2 joins + 2 updates + 1 leave through a queue of 2: lost {lost}");
    assert_eq!(slow.missed(), lost);
    let rest: Vec<Event> = core::iter::from_fn(|| slow.try_next()).collect();
    assert_eq!(rest.len(), 2, "the newest events are kept: {rest:?}");
    assert!(matches!(rest.last(), Some(Event::Leave(n)) if n.id.as_str() == "node-2"), "{rest:?}");
    assert!(nodes[0].metrics().events_dropped >= lost);
    for n in &nodes {
        n.shutdown().await;
    }
    while events.next().await.is_some() {}
    assert_eq!(events.recv().await.unwrap_err(), crate::io::driver::RecvError::Closed);
}

/// Shared driver test (issue 17's measure): with the TCP fallback off, a
/// handler that sleeps 200 ms per message while 60 messages arrive does not
/// get its node suspected by anyone: handlers run off the receive path.
pub async fn a_slow_handler_does_not_get_its_node_suspected<R: Runtime>() {
    let nodes = start::<R>(3, |n| Config { tcp_fallback_probe: false, ..config(n) }).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    let mut watchers = [nodes[0].events(), nodes[2].events()];
    let handled = Arc::new(Mutex::new(0usize));
    let h = handled.clone();
    nodes[1].on_message(move |_, _, _| {
        std::thread::sleep(Duration::from_millis(200));
        *h.lock().unwrap() += 1;
    });
    for i in 0..60u32 {
        nodes[0].send(&"node-1".into(), "slow", &i.to_be_bytes()).await.unwrap();
    }
    let done = wait_for::<R>(Duration::from_secs(20), || *handled.lock().unwrap() == 60).await;
    assert!(done.is_some(), "all 60 handled: {}", *handled.lock().unwrap());
    let mut suspected = 0;
    for w in &mut watchers {
        while let Some(e) = w.try_next() {
            if matches!(&e, Event::Suspect(n) | Event::Leave(n) if n.id.as_str() == "node-1") {
                suspected += 1;
            }
        }
    }
    assert_eq!(suspected, 0, "node-1 was suspected while its handler slept");
    assert_eq!(nodes[1].metrics().handoff_dropped, 0);
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: `on_message_with` sees each message's kind and source
/// address; an unregistered handler sees nothing more; the queue drops and
/// counts what a stuck handler cannot take.
pub async fn handlers_learn_kind_and_source_and_can_be_unregistered<R: Runtime>() {
    use crate::DeliveryKind;
    let nodes = start::<R>(2, |n| Config { handoff_queue_depth: 4, ..config(n) }).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes[1].members().len() == 2).await.unwrap();
    type Seen = Vec<(String, DeliveryKind, core::net::SocketAddr)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    let handle = nodes[1].on_message_with(move |m| {
        s.lock().unwrap().push((m.topic.to_string(), m.kind, m.from));
    });
    nodes[0].send(&"node-1".into(), "direct", b"x").await.unwrap();
    nodes[0].broadcast("news", b"y").unwrap();
    nodes[0].send_reliable_to(&"node-1".into(), "reliable", b"z").await.unwrap();
    wait_for::<R>(Duration::from_secs(5), || seen.lock().unwrap().len() == 3).await.expect("three arrive");
    let seen_now = seen.lock().unwrap().clone();
    let from = nodes[0].local_addr();
    let find = |t: &str| seen_now.iter().find(|(topic, ..)| topic == t).cloned().unwrap();
    assert_eq!(find("direct").1, DeliveryKind::Direct);
    assert_eq!(find("direct").2, from);
    assert_eq!(find("reliable").1, DeliveryKind::Direct);
    assert_eq!(find("reliable").2.ip(), from.ip());
    assert_eq!(find("news").1, DeliveryKind::Broadcast);
    assert!(handle.unregister());
    nodes[0].send(&"node-1".into(), "after", b"x").await.unwrap();
    sleep::<R>(INTERVAL * 2).await;
    assert_eq!(seen.lock().unwrap().len(), 3, "an unregistered handler sees nothing more");
    // A handler stuck on its first message: the queue of 4 fills, the rest
    // are dropped and counted.
    let release = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let r = release.clone();
    let stuck = nodes[1].on_message(move |_, _, _| {
        while !r.load(core::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    for i in 0..20u8 {
        nodes[0].send(&"node-1".into(), "flood", &[i]).await.unwrap();
        sleep::<R>(Duration::from_millis(5)).await;
    }
    let dropped = wait_for::<R>(Duration::from_secs(5), || nodes[1].metrics().handoff_dropped >= 15).await;
    release.store(true, core::sync::atomic::Ordering::Release);
    assert!(dropped.is_some(), "past the queue's depth messages are dropped and counted");
    stuck.unregister();
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: after `shutdown` every operation returns a
/// `Shutdown` error at once; a lone node's leave is acknowledged at once.
pub async fn after_shutdown_every_operation_says_so<R: Runtime>() {
    use crate::io::driver::{BroadcastError, LeaveError};
    use crate::{KeyringError, TagsError};
    let nodes = start::<R>(2, config).await;
    join_all(&nodes).await;
    let lone = Cluster::<R>::create(config("lone")).await.unwrap();
    lone.start();
    let t = Instant::now();
    assert_eq!(lone.leave(Duration::from_secs(5)).await, Ok(()));
    assert!(t.elapsed() < Duration::from_secs(1), "nobody to tell: done at once");
    lone.shutdown().await;
    let n = &nodes[1];
    n.shutdown().await;
    assert!(n.is_shutdown());
    let t = Instant::now();
    assert_eq!(n.leave(Duration::from_secs(5)).await, Err(LeaveError::Shutdown));
    assert!(t.elapsed() < Duration::from_secs(1), "no waiting out the timeout");
    assert!(matches!(n.broadcast("t", b"x"), Err(BroadcastError::Shutdown)));
    assert!(matches!(n.set_tags(Default::default()), Err(TagsError::Shutdown)));
    assert!(matches!(n.install_key(&[1; 32]), Err(KeyringError::Shutdown)));
    assert!(matches!(n.keys(), Err(KeyringError::Shutdown)));
    assert!(matches!(n.join(&[nodes[0].local_addr().to_string()]).await, Err(JoinError::Shutdown)));
    assert!(matches!(n.send(&"node-0".into(), "t", b"x").await, Err(SendError::Shutdown)));
    assert!(matches!(n.send_to_addr(nodes[0].local_addr(), "t", b"x").await, Err(SendError::Shutdown)));
    assert!(matches!(n.send_reliable(nodes[0].local_addr(), "t", b"x").await, Err(SendError::Shutdown)));
    assert!(n.members().is_empty() && n.all_members().is_empty() && n.member("node-0").is_none());
    n.shutdown().await; // twice: nothing happens
    nodes[0].shutdown().await;
}

/// Shared driver test: `join` before `start` starts the node; a `join`
/// future dropped mid-exchange leaves no pending exchange in the core.
pub async fn join_starts_the_node_and_a_cancelled_join_leaks_nothing<R: Runtime>() {
    let seed = Cluster::<R>::create(config("seed")).await.unwrap();
    seed.start();
    let late = Cluster::<R>::create(config("late")).await.unwrap();
    assert_eq!(late.join(&[seed.local_addr().to_string()]).await.unwrap(), 1);
    wait_for::<R>(Duration::from_secs(5), || seed.members().len() == 2 && late.members().len() == 2)
        .await
        .expect("a node joined before start runs");
    // A seed that accepts the connection and never answers.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_addr = mute.local_addr().unwrap().to_string();
    let stuck = Cluster::<R>::create(config("stuck")).await.unwrap();
    stuck.start();
    let cancelled = timeout(&R::current(), INTERVAL, stuck.join(&[mute_addr])).await;
    assert!(cancelled.is_none(), "the join was still waiting for the mute seed");
    assert_eq!(stuck.shared().read(|c| c.pending_stream_count()), 0, "the abandoned exchange is settled");
    // The node still works: it joins a real seed.
    assert_eq!(stuck.join(&[seed.local_addr().to_string()]).await.unwrap(), 1);
    for n in [&seed, &late, &stuck] {
        n.shutdown().await;
    }
    drop(mute);
}

/// Shared driver test: health, one member, all members with their states,
/// payload limits, the keyring, a seed name resolving to several addresses.
pub async fn the_cluster_reports_what_the_core_knows<R: Runtime>() {
    use crate::io::driver::BroadcastError;
    let nodes = start::<R>(3, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    let n = &nodes[0];
    assert_eq!(n.health_score(), 0);
    assert_eq!(n.member("node-1").map(|m| m.state), Some(State::Alive));
    assert!(n.member("nobody").is_none());
    // Limits: the largest payloads fit, one byte more does not.
    let max_b = n.max_broadcast_payload("topic");
    assert!(max_b > 1000, "{max_b}");
    n.broadcast("topic", &vec![1; max_b]).unwrap();
    let err = n.broadcast("topic", &vec![1; max_b + 1]).unwrap_err();
    assert!(matches!(err, BroadcastError::TooLarge { max_payload } if max_payload == max_b), "{err}");
    let max_d = n.max_direct_payload("topic");
    n.send(&"node-1".into(), "topic", &vec![1; max_d]).await.unwrap();
    let err = n.send(&"node-1".into(), "topic", &vec![1; max_d + 1]).await.unwrap_err();
    assert!(matches!(err, SendError::TooLarge { max_payload } if max_payload == max_d), "{err}");
    // The keyring, primary first.
    assert_eq!(n.keys().unwrap(), vec![vec![7u8; 32]]);
    n.install_key(&[9; 32]).unwrap();
    assert_eq!(n.keys().unwrap(), vec![vec![7u8; 32], vec![9u8; 32]]);
    // A crashed member stays in all_members as dead.
    nodes[2].shutdown().await;
    wait_for::<R>(Duration::from_secs(10), || n.member("node-2").is_some_and(|m| m.state == State::Dead))
        .await
        .expect("node-2 declared dead");
    let all = n.all_members();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|m| m.id.as_str() == "node-2" && m.state == State::Dead));
    assert_eq!(n.members().len(), 2);
    let err = n.send_reliable_to(&"node-2".into(), "t", b"x").await.unwrap_err();
    assert!(matches!(err, SendError::UnknownNode(_)), "a dead member is not a target: {err}");
    // "localhost" resolves to 127.0.0.1 (and often ::1, where nothing
    // listens): every address is tried, so the join succeeds whatever the
    // resolver's order.
    // With no node_name, the node is named after the host (as memberlist).
    let by_name = Cluster::<R>::create(Config { node_name: None, ..config("") }).await.unwrap();
    let host = crate::io::advertise::host_name().expect("this host has a usable name");
    assert_eq!(by_name.local_node().id.as_str(), host);
    let seed = format!("localhost:{}", nodes[1].local_addr().port());
    assert!(by_name.join(&[seed]).await.unwrap() >= 1);
    let seen = wait_for::<R>(Duration::from_secs(5), || nodes[1].member(&host).is_some()).await;
    assert!(seen.is_some(), "the seed knows the node by its host name");
    by_name.shutdown().await;
    for n in &nodes[..2] {
        n.shutdown().await;
    }
}

/// Shared driver test: the extension hooks through `Cluster::set_hooks`,
/// `broadcast_latest`, and the allow-list closing connections at accept.
pub async fn hooks_latest_broadcasts_and_the_allow_list_work_through_the_cluster<R: Runtime>() {
    use crate::{Candidate, Hooks, ProbeResult};
    #[derive(Default)]
    struct Seen {
        refused: Vec<String>,
        payloads: Vec<Vec<u8>>,
        states: Vec<Vec<u8>>,
    }
    struct Host {
        strict: bool,
        ack: &'static [u8],
        state: &'static [u8],
        seen: Arc<Mutex<Seen>>,
    }
    impl Hooks for Host {
        fn admit(&mut self, m: &Candidate<'_>) -> Result<(), String> {
            if self.strict && m.tag("role").as_deref() == Some("bad") {
                self.seen.lock().unwrap().refused.push(m.name.into());
                return Err("role=bad".into());
            }
            Ok(())
        }
        fn ack_payload(&mut self, out: &mut Vec<u8>) {
            out.extend_from_slice(self.ack);
        }
        fn probe_result(&mut self, _: &ProbeResult, payload: &[u8]) {
            self.seen.lock().unwrap().payloads.push(payload.to_vec());
        }
        fn local_state(&mut self, _join: bool, out: &mut Vec<u8>) {
            out.extend_from_slice(self.state);
        }
        fn merge_remote_state(&mut self, _: core::net::SocketAddr, state: &[u8], _join: bool) {
            self.seen.lock().unwrap().states.push(state.to_vec());
        }
    }
    let role = |name: &str| {
        let role = if name == "node-2" { "bad" } else { "good" };
        Config { tags: [("role".to_string(), role.to_string())].into(), coordinates: false, ..config(name) }
    };
    let nodes = start::<R>(3, role).await;
    let (seen0, seen1) = (Arc::<Mutex<Seen>>::default(), Arc::<Mutex<Seen>>::default());
    nodes[0].set_hooks(Host { strict: true, ack: b"", state: b"state-0", seen: seen0.clone() });
    nodes[1].set_hooks(Host { strict: false, ack: b"payload-1", state: b"state-1", seen: seen1.clone() });
    join_all(&nodes).await;
    // node-0 refuses node-2 (role=bad); node-1 has no such rule.
    wait_for::<R>(Duration::from_secs(5), || nodes[1].members().len() == 3).await.expect("node-1 sees all");
    wait_for::<R>(Duration::from_secs(5), || {
        seen0.lock().unwrap().payloads.iter().any(|p| p == b"payload-1")
    })
    .await
    .expect("node-0's probes of node-1 carry node-1's ack payload");
    sleep::<R>(INTERVAL * 5).await;
    assert!(nodes[0].member("node-2").is_none(), "node-0 admitted a refused member");
    assert!(seen0.lock().unwrap().refused.iter().all(|n| n == "node-2"));
    assert!(nodes[0].metrics().members_refused > 0);
    assert_eq!(seen0.lock().unwrap().states.first().map(Vec::as_slice), Some(&b"state-1"[..]));
    assert!(seen1.lock().unwrap().states.iter().any(|s| s == b"state-0"));
    // Latest-value broadcasts: values arrive in order and end with the
    // last (the first may leave at once, eagerly; queued ones are replaced).
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let g = got.clone();
    let _h = nodes[1].on_message(move |_, topic, payload| {
        if topic == "load" {
            g.lock().unwrap().push(payload.to_vec());
        }
    });
    for v in [b"0.1", b"0.2", b"0.3"] {
        nodes[0].broadcast_latest("load", v).unwrap();
    }
    wait_for::<R>(Duration::from_secs(5), || !got.lock().unwrap().is_empty()).await.expect("delivered");
    sleep::<R>(INTERVAL * 5).await;
    let got = got.lock().unwrap().clone();
    assert!(got.windows(2).all(|w| w[0] < w[1]) && got.last().map(Vec::as_slice) == Some(b"0.3"), "{got:?}");
    // A node that allows only 10.0.0.0/8 closes loopback connections at once.
    let closed = Cluster::<R>::create(Config {
        cidrs_allowed: Some(vec!["10.0.0.0/8".parse().unwrap()]),
        ..config("x")
    })
    .await
    .unwrap();
    closed.start();
    let joiner =
        Cluster::<R>::create(Config { join_timeout: Duration::from_secs(1), ..config("y") }).await.unwrap();
    let err = joiner.join(&[closed.local_addr().to_string()]).await.unwrap_err();
    assert!(matches!(err, JoinError::NoSeedsReachable { .. }), "{err}");
    assert!(closed.metrics().dropped_not_allowed > 0);
    assert_eq!(closed.members().len(), 1);
    joiner.shutdown().await;
    closed.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}

/// Shared driver test: a query asked through `Cluster::query` is acked and
/// answered by every node's `on_query` handler (this node's included),
/// filters select the answering nodes, and the stream ends at the timeout.
pub async fn queries_are_answered_by_every_handler_and_end_at_their_timeout<R: Runtime>() {
    use crate::{QueryEvent, QueryParams};
    let role = |name: &str| {
        let role = if name == "node-2" { "db" } else { "web" };
        Config { tags: [("role".to_string(), role.to_string())].into(), ..config(name) }
    };
    let nodes = start::<R>(3, role).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    for n in &nodes {
        let me = n.local_node().id.to_string();
        n.on_query(move |q| {
            (q.name == "uptime").then(|| format!("{me}:{}", String::from_utf8_lossy(&q.payload)).into_bytes())
        });
    }
    let started = Instant::now();
    let params = QueryParams::default().with_acks().timeout(Duration::from_millis(1500));
    let results = nodes[0].query("uptime", b"?", params).unwrap().collect().await;
    let waited = started.elapsed();
    let mut acks: Vec<String> = results.acks.iter().map(|n| n.to_string()).collect();
    acks.sort();
    assert_eq!(acks, ["node-0", "node-1", "node-2"]);
    let mut answers: Vec<String> =
        results.responses.iter().map(|(_, p)| String::from_utf8_lossy(p).into_owned()).collect();
    answers.sort();
    assert_eq!(answers, ["node-0:?", "node-1:?", "node-2:?"]);
    assert!(waited >= Duration::from_millis(1400), "the stream ends at the timeout, not before: {waited:?}");
    // A tag filter: only role=web answers; a name it has no answer for
    // gets acks only.
    let mut stream = nodes[1].query("uptime", b"!", QueryParams::default().tag("role", "^web$")).unwrap();
    let mut from = Vec::new();
    while let Some(e) = stream.next().await {
        if let QueryEvent::Response { from: f, .. } = e {
            from.push(f.to_string());
        }
    }
    from.sort();
    assert_eq!(from, ["node-0", "node-1"]);
    let quiet =
        nodes[0].query("other", b"", QueryParams::default().with_acks().timeout(Duration::from_millis(500)));
    let quiet = quiet.unwrap().collect().await;
    assert_eq!((quiet.acks.len(), quiet.responses.len()), (3, 0));
    // A cluster-wide key operation through Serf's internal queries.
    let report = nodes[2].cluster_keys(crate::KeyOp::Install, &[8; 32]).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    let report = nodes[0].cluster_keys(crate::KeyOp::List, &[]).await.unwrap();
    assert_eq!(
        (report.keys.get(&[8u8; 32][..]), report.primary_keys.get(&[7u8; 32][..])),
        (Some(&3), Some(&3))
    );
    for n in &nodes {
        n.shutdown().await;
    }
    assert!(matches!(nodes[0].query("x", b"", QueryParams::default()), Err(crate::QueryError::Shutdown)));
}

/// Shared driver test: a node started under a name already in use at
/// another address asks the cluster (Serf's conflict resolution), loses,
/// reports `Event::Yielded` and is shut down; the original keeps its name.
pub async fn a_node_with_a_taken_name_yields_and_shuts_down<R: Runtime>() {
    let nodes = start::<R>(3, config).await;
    join_all(&nodes).await;
    wait_for::<R>(Duration::from_secs(5), || nodes.iter().all(|n| n.members().len() == 3)).await.unwrap();
    let clone = Cluster::<R>::create(config("node-1")).await.unwrap();
    let mut events = clone.events();
    clone.join(&[nodes[0].local_addr().to_string()]).await.unwrap();
    wait_for::<R>(Duration::from_secs(10), || clone.is_shutdown()).await.expect("the clone yields");
    let mut yielded = false;
    while let Some(e) = events.try_next() {
        yielded |= matches!(e, Event::Yielded(n) if n.addr == clone.local_addr());
    }
    assert!(yielded, "Event::Yielded reported");
    assert!(matches!(clone.broadcast("t", b""), Err(crate::io::driver::BroadcastError::Shutdown)));
    let original = nodes[0].member("node-1").unwrap();
    assert_eq!((original.addr, original.state), (nodes[1].local_addr(), State::Alive));
    assert!(!nodes[1].is_shutdown());
    clone.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}
