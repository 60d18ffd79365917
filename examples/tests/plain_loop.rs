//! Two plain-loop nodes (std sockets, a thread each) and one tokio node form
//! one cluster: they converge, exchange direct messages both ways, and
//! detect a plain node that crashes. Timings: the drivers' test suite's
//! configuration (200 ms protocol period, encryption on).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use swim_core::io::testsuite::config;
use swim_core::{Event, NodeId, State};
use swim_examples::plain_loop::PlainNode;

type Call = Box<dyn FnOnce(&mut PlainNode) + Send>;
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A [`PlainNode`] running its loop on a thread; stopped (without leaving,
/// like a crash) when dropped, so a failing test stops it too.
struct PlainThread {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    calls: mpsc::Sender<Call>,
    events: Arc<Mutex<Vec<Event>>>,
    received: Received,
    thread: Option<JoinHandle<()>>,
}

impl PlainThread {
    fn start(name: &str) -> Self {
        let mut node = PlainNode::bind(config(name)).unwrap();
        let addr = node.local_addr();
        let received = Received::default();
        let got = received.clone();
        node.on_message(move |from, topic, payload| {
            got.lock().unwrap().push((from.id.to_string(), topic.to_string(), payload.to_vec()));
        });
        let (stop, events) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (calls, inbox) = mpsc::channel::<Call>();
        let (stop2, events2) = (stop.clone(), events.clone());
        let thread = std::thread::spawn(move || {
            node.run_until(&stop2, |node| {
                while let Some(e) = node.poll_event() {
                    events2.lock().unwrap().push(e);
                }
                while let Ok(call) = inbox.try_recv() {
                    call(node);
                }
            })
        });
        PlainThread { addr, stop, calls, events, received, thread: Some(thread) }
    }

    /// Runs `f` on the node, between two steps of its loop.
    fn call<T: Send + 'static>(&self, f: impl FnOnce(&mut PlainNode) -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        self.calls.send(Box::new(move |node| drop(tx.send(f(node))))).expect("node thread running");
        rx.recv_timeout(Duration::from_secs(10)).expect("node thread answers")
    }

    fn member_names(&self) -> Vec<String> {
        self.call(|n| n.members().iter().map(|m| m.id.to_string()).collect())
    }

    /// Stops the loop and drops the node: its sockets close, nobody is told.
    fn crash(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join().expect("node thread did not panic");
        }
    }
}

impl Drop for PlainThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; the time taken.
async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond().then(|| start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_loop_nodes_and_a_tokio_node_form_one_cluster() {
    let a = PlainThread::start("plain-a");
    let mut b = PlainThread::start("plain-b");
    let t = swim_tokio::Cluster::create(config("tokio")).await.unwrap();
    t.start();
    let got_by_tokio = Received::default();
    let got = got_by_tokio.clone();
    t.on_message(move |from, topic, payload| {
        got.lock().unwrap().push((from.id.to_string(), topic.to_string(), payload.to_vec()));
    });

    // plain-b joins through plain-a with the plain loop's TCP exchange;
    // tokio joins through plain-b, whose loop serves the exchange.
    let t0 = Instant::now();
    let seed = a.addr;
    b.call(move |n| n.join(seed));
    t.join(&[b.addr.to_string()]).await.expect("tokio joins through plain-b");
    let all = |names: Vec<String>| names.len() == 3;
    let converged = wait_for(Duration::from_secs(10), || {
        all(a.member_names()) && all(b.member_names()) && t.members().len() == 3
    })
    .await
    .expect("all three see three live members");
    println!("converged in {converged:?} ({:?} since the first join)", t0.elapsed());

    // Direct messages both ways between the plain loop and tokio.
    a.call(|n| n.send(&NodeId::from("tokio"), "greeting", b"from plain-a")).unwrap();
    t.send(&NodeId::from("plain-b"), "greeting", b"from tokio").await.unwrap();
    let delivered = |r: &Received, from: &str, payload: &[u8]| {
        r.lock().unwrap().iter().any(|(f, topic, p)| f == from && topic == "greeting" && p == payload)
    };
    wait_for(Duration::from_secs(5), || {
        delivered(&got_by_tokio, "plain-a", b"from plain-a") && delivered(&b.received, "tokio", b"from tokio")
    })
    .await
    .expect("both direct messages arrive");

    // Crash plain-b. Bound from the config: a probe round (2 periods), the
    // longest suspicion timeout (suspicion_max_timeout_mult 6 * suspicion_mult
    // 4 periods), a few periods for gossip; doubled for a noisy machine.
    let mut tokio_events = t.events();
    b.crash();
    let interval = config("any").protocol_interval;
    let bound = interval * (2 + 24 + 5) * 2;
    let gone = |names: &[String]| !names.iter().any(|n| n == "plain-b");
    let detected = wait_for(bound, || {
        gone(&a.member_names()) && gone(&t.members().iter().map(|m| m.id.to_string()).collect::<Vec<_>>())
    })
    .await
    .expect("plain-a and tokio drop the crashed plain-b within the bound");
    println!(
        "crash detected in {detected:?} ({:.1} protocol periods)",
        detected.as_secs_f64() / interval.as_secs_f64()
    );
    // Nobody may declare it dead before its suspicion could time out:
    // suspicion_mult 4 * max(1, log10 3) periods.
    assert!(detected >= interval * 4, "dead after {detected:?}, before the suspicion timeout");

    let dead =
        |e: &Event| matches!(e, Event::Leave(n) if n.id.as_str() == "plain-b" && n.state == State::Dead);
    assert!(a.events.lock().unwrap().iter().any(dead), "plain-a reports plain-b dead");
    let mut tokio_saw = false;
    while let Some(e) = tokio_events.try_next() {
        tokio_saw |= dead(&e);
    }
    assert!(tokio_saw, "tokio reports plain-b dead");

    drop(a);
    t.shutdown().await;
}
