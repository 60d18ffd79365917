//! # swim-tokio
//!
//! SWIM cluster membership on tokio: membership and failure detection, gossip
//! broadcast, direct UDP messages, AES-GCM encryption — wire-compatible with
//! HashiCorp memberlist and Serf. The protocol lives in [`swim_core`]; this
//! crate moves bytes and time between it and tokio's sockets and timers.
//!
//! ```
//! use swim_tokio::{Cluster, Config, Event};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = |name: &str| Config {
//!     bind_addr: "127.0.0.1".parse().unwrap(),
//!     bind_port: 0, // let the OS pick
//!     node_name: Some(name.into()),
//!     encryption_enabled: true,
//!     secret_key: b"your-32-byte-secret-key-must-be!".to_vec(),
//!     ..Config::default()
//! };
//! let a = Cluster::create(config("node-1")).await?;
//! let b = Cluster::create(config("node-2")).await?;
//! a.start();
//! b.start();
//!
//! let mut events = a.events();
//! b.on_message(|sender, topic, payload| {
//!     println!("{topic} from {}: {}", sender.id, String::from_utf8_lossy(payload));
//! });
//! b.join(&[a.local_addr().to_string()]).await?;
//! assert!(matches!(events.next().await, Some(Event::Join(n)) if n.id.as_str() == "node-2"));
//!
//! a.send(&"node-2".into(), "ping", b"pong").await?;
//! a.broadcast("config-update", br#"{"version": 2}"#)?;
//! assert_eq!(a.members().len(), 2);
//!
//! b.leave(Duration::from_secs(1)).await;
//! b.shutdown().await;
//! a.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_core::driver::{RecvSlot, Shared, Staging};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

pub use swim_core::driver::{BroadcastError, CreateError, Events, JoinError, SendError};
pub use swim_core::{
    Config, ConfigError, DelegateVersions, Event, KeyringError, Metrics, Node, NodeId, State, StreamError,
    StreamFrame,
};

/// A running cluster node. Cheap to clone: clones share the node. Dropping
/// the last clone stops its tasks (without leaving: call
/// [`leave`](Self::leave) first for a graceful exit).
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    listener: Mutex<Option<TcpListener>>,
    local_addr: SocketAddr,
    runtime: tokio::runtime::Handle,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
        for t in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("local_addr", &self.inner.local_addr).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Validates `config` and binds the UDP and TCP listeners on
    /// `bind_addr:bind_port` (port 0: the OS picks one, the same for both).
    /// Nothing runs until [`start`](Self::start).
    pub async fn create(config: Config) -> Result<Cluster, CreateError> {
        config.validate()?;
        let bind = SocketAddr::new(config.bind_addr, config.bind_port);
        let (socket, listener) = bind_both(bind).await?;
        let bound = socket.local_addr().map_err(|source| CreateError::Bind { addr: bind, source })?;
        let advertise = config.advertise_addr.unwrap_or_else(|| advertise_for(bound));
        let shared = Shared::new(config, advertise)?;
        tracing::info!(name = %shared.read(|c| c.name().clone()), %bound, %advertise, "swim node created");
        Ok(Cluster {
            inner: Arc::new(Inner {
                shared,
                socket: Arc::new(socket),
                listener: Mutex::new(Some(listener)),
                local_addr: advertise,
                runtime: tokio::runtime::Handle::current(),
                tasks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Starts the background tasks (protocol loop, UDP receiver, TCP
    /// listener) on the runtime `create` ran on. Calling it twice does nothing.
    pub fn start(&self) {
        let Some(listener) = self.inner.listener.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let (shared, socket, rt) = (&self.inner.shared, &self.inner.socket, &self.inner.runtime);
        let tasks = vec![
            rt.spawn(protocol_loop(shared.clone(), socket.clone())),
            rt.spawn(recv_loop(shared.clone(), socket.clone())),
            rt.spawn(accept_loop(shared.clone(), socket.clone(), listener)),
        ];
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()).extend(tasks);
    }

    /// Joins the cluster through the given seeds (`"host:port"` names or
    /// addresses), exchanging full state with each over TCP. Returns how many
    /// seeds were contacted.
    pub async fn join<S: AsRef<str>>(&self, seed_nodes: &[S]) -> Result<usize, JoinError> {
        if seed_nodes.is_empty() {
            return Err(JoinError::NoSeeds);
        }
        let mut contacted = 0;
        let mut rejected = None;
        for seed in seed_nodes {
            let seed = seed.as_ref();
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(seed).await {
                Ok(a) => a.collect(),
                Err(e) => {
                    tracing::warn!(seed, error = %e, "cannot resolve seed");
                    continue;
                }
            };
            let Some(&addr) = addrs.first() else { continue };
            let req = self.inner.shared.with_core(|core, now| core.join(now, addr));
            match exchange(&self.inner.shared, &self.inner.socket, req).await {
                Ok(()) => contacted += 1,
                Err(ExchangeError::Protocol(reason @ StreamError::IncompatibleVersions { .. })) => {
                    tracing::warn!(seed, error = %reason, "seed refused the join");
                    rejected = Some(JoinError::Rejected { seed: seed.to_string(), reason });
                }
                Err(e) => tracing::warn!(seed, error = %e, "cannot join through seed"),
            }
        }
        flush(&self.inner.shared, &self.inner.socket).await;
        match (contacted, rejected) {
            (0, Some(r)) => Err(r),
            (0, None) => Err(JoinError::NoSeedsReachable),
            (n, _) => Ok(n),
        }
    }

    /// Gossips `payload` under `topic` to every member (eventually
    /// consistent; each node delivers it once; this node does not).
    pub fn broadcast(&self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        self.inner.shared.with_core(|core, _| core.broadcast(topic, payload))
    }

    /// Sends one UDP datagram to the live member `target`.
    pub async fn send(&self, target: &NodeId, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        let shared = &self.inner.shared;
        let mut buf = shared.send_pool.take();
        let r = shared.with_core(|core, _| core.encode_direct(target, topic, payload, &mut buf));
        let r = match r {
            Ok(t) => self.inner.socket.send_to(&buf[..t.len], t.dst).await.map(drop).map_err(SendError::Io),
            Err(e) => Err(e.into()),
        };
        shared.send_pool.put(buf);
        r
    }

    /// Sends one UDP datagram to `addr`, member or not.
    pub async fn send_to_addr(&self, addr: SocketAddr, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        let shared = &self.inner.shared;
        let mut buf = shared.send_pool.take();
        let r = shared.with_core(|core, _| core.encode_direct_to_addr(addr, topic, payload, &mut buf));
        let r = match r {
            Ok(t) => self.inner.socket.send_to(&buf[..t.len], t.dst).await.map(drop).map_err(SendError::Io),
            Err(e) => Err(e.into()),
        };
        shared.send_pool.put(buf);
        r
    }

    /// Sends a message of any size (up to 20 MiB) over TCP to `addr`.
    pub async fn send_reliable(
        &self,
        addr: SocketAddr,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let req = self.inner.shared.with_core(|core, _| core.send_reliable(addr, topic, payload))?;
        exchange(&self.inner.shared, &self.inner.socket, req).await.map_err(|e| match e {
            ExchangeError::Io(e) => SendError::Io(e),
            other => SendError::Io(std::io::Error::other(other.to_string())),
        })
    }

    /// Registers a handler for incoming messages (direct and broadcast). It
    /// runs on the receiving task: keep it short, hand heavy work elsewhere.
    pub fn on_message(&self, f: impl Fn(&Node, &str, &[u8]) + Send + Sync + 'static) {
        self.inner.shared.on_message(f);
    }

    /// A stream of membership events from now on.
    pub fn events(&self) -> Events {
        self.inner.shared.events()
    }

    /// The live members (alive or suspect), this node first.
    pub fn members(&self) -> Vec<Node> {
        self.inner.shared.read(|c| c.members())
    }

    /// This node.
    pub fn local_node(&self) -> Node {
        self.inner.shared.read(|c| c.local_node())
    }

    /// The address other nodes reach this one at.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Counters of everything sent, received, dropped and refused.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.inner.shared.read(|c| c.metrics());
        m.events_dropped += self.inner.shared.events_dropped();
        m
    }

    /// Replaces this node's tags; other members see an `Update` event.
    pub fn set_tags(&self, tags: std::collections::BTreeMap<String, String>) -> Result<(), ConfigError> {
        self.inner.shared.with_core(|core, _| core.set_tags(tags))
    }

    /// Adds a key incoming packets may use (step 1 of a key rotation: do it on
    /// every node, then [`use_key`](Self::use_key) everywhere, then
    /// [`remove_key`](Self::remove_key) the old one).
    pub fn install_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.inner.shared.with_core(|core, _| core.install_key(key))
    }

    /// Encrypts outgoing packets with an installed key from now on.
    pub fn use_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.inner.shared.with_core(|core, _| core.use_key(key))
    }

    /// Removes a key that is no longer primary.
    pub fn remove_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.inner.shared.with_core(|core, _| core.remove_key(key))
    }

    /// Leaves gracefully: tells the cluster this node is leaving and waits
    /// until the news has spread to a few members, or `timeout`. The node keeps
    /// answering probes until [`shutdown`](Self::shutdown).
    pub async fn leave(&self, timeout: Duration) {
        let shared = &self.inner.shared;
        shared.with_core(|core, now| core.leave(now));
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline && !shared.read(|c| c.leave_complete()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops every task and closes the sockets (without leaving: peers will
    /// detect this node as failed unless [`leave`](Self::leave) ran first).
    /// Event streams end.
    pub async fn shutdown(&self) {
        self.inner.shared.close();
        let tasks: Vec<_> = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn bind_both(bind: SocketAddr) -> Result<(UdpSocket, TcpListener), CreateError> {
    let err = |addr, source| CreateError::Bind { addr, source };
    if bind.port() != 0 {
        let udp = UdpSocket::bind(bind).await.map_err(|e| err(bind, e))?;
        let tcp = TcpListener::bind(bind).await.map_err(|e| err(bind, e))?;
        return Ok((udp, tcp));
    }
    // Port 0: take the OS's UDP port and the same for TCP; retry if taken.
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(bind).await.map_err(|e| err(bind, e))?;
        let addr = udp.local_addr().map_err(|e| err(bind, e))?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(err(addr, e)),
        }
    }
    Err(last.unwrap_or_else(|| err(bind, std::io::Error::other("no free port"))))
}

/// The address to advertise when none is configured: the bound one, or
/// loopback when bound to the unspecified address.
fn advertise_for(bound: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        tracing::warn!(
            %bound,
            "bound to an unspecified address with no advertise_addr: advertising 127.0.0.1; \
             set Config::advertise_addr for multi-host clusters"
        );
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
    } else {
        bound
    }
}

/// Sends every datagram the core has ready.
async fn flush(shared: &Shared, socket: &UdpSocket) {
    let mut buf = shared.send_pool.take();
    while let Some(t) = shared.next_transmit(&mut buf) {
        if let Err(e) = socket.send_to(&buf[..t.len], t.dst).await {
            tracing::debug!(dst = %t.dst, error = %e, "udp send failed");
        }
    }
    shared.send_pool.put(buf);
}

async fn protocol_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    while !shared.is_closed() {
        shared.handle_timeout();
        flush(&shared, &socket).await;
        for req in shared.take_stream_requests() {
            let (shared, socket) = (shared.clone(), socket.clone());
            tokio::spawn(async move {
                if let Err(e) = exchange(&shared, &socket, req).await {
                    tracing::debug!(error = %e, "stream exchange failed");
                }
            });
        }
        let deadline = tokio::time::Instant::from_std(shared.next_deadline());
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shared.changed() => {}
        }
    }
}

async fn recv_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let batch = shared.read(|c| c.config().recv_buffer_count).max(1);
    let from0 = SocketAddr::from(([0, 0, 0, 0], 0));
    let mut slots: Vec<RecvSlot> =
        (0..batch).map(|_| RecvSlot { buf: shared.recv_pool.take(), len: 0, from: from0 }).collect();
    let mut staging = Staging::default();
    while !shared.is_closed() {
        // Wait for one datagram, then take whatever else is already queued.
        let first = &mut slots[0];
        match socket.recv_from(&mut first.buf).await {
            Ok((n, from)) => (first.len, first.from) = (n, from),
            Err(e) => {
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        }
        let mut filled = 1;
        while filled < slots.len() {
            let slot = &mut slots[filled];
            match socket.try_recv_from(&mut slot.buf) {
                Ok((n, from)) => {
                    (slot.len, slot.from) = (n, from);
                    filled += 1;
                }
                Err(_) => break,
            }
        }
        shared.handle_packets(&mut slots[..filled], &mut staging);
        flush(&shared, &socket).await;
    }
}

async fn accept_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>, listener: TcpListener) {
    while !shared.is_closed() {
        let (conn, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (shared, socket) = (shared.clone(), socket.clone());
        tokio::spawn(async move {
            let timeout = shared.read(|c| c.config().tcp_timeout);
            match tokio::time::timeout(timeout, serve(&shared, conn, from)).await {
                Ok(Ok(())) => flush(&shared, &socket).await,
                Ok(Err(e)) => tracing::debug!(%from, error = %e, "inbound stream failed"),
                Err(_) => tracing::debug!(%from, "inbound stream timed out"),
            }
        });
    }
}

async fn serve(shared: &Shared, mut conn: TcpStream, from: SocketAddr) -> Result<(), ExchangeError> {
    let mut buf = Vec::new();
    let (start, end) = read_frame(shared, &mut conn, &mut buf, true).await?;
    let reply = shared.handle_inbound_stream(from, &mut buf[start..end]).map_err(ExchangeError::Protocol)?;
    if let Some(reply) = reply {
        conn.write_all(&reply).await?;
        conn.flush().await?;
    }
    Ok(())
}

/// Reads until one whole message is in `buf`; returns its range.
async fn read_frame(
    shared: &Shared,
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    inbound: bool,
) -> Result<(usize, usize), ExchangeError> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if !buf.is_empty() {
            if let StreamFrame::Complete { start, end } =
                shared.stream_frame(buf, inbound).map_err(ExchangeError::Protocol)?
            {
                return Ok((start, end));
            }
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(ExchangeError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[derive(Debug)]
enum ExchangeError {
    Io(std::io::Error),
    Protocol(StreamError),
    Timeout,
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeError::Io(e) => write!(f, "{e}"),
            ExchangeError::Protocol(e) => write!(f, "{e}"),
            ExchangeError::Timeout => f.write_str("timed out"),
        }
    }
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        ExchangeError::Io(e)
    }
}

/// Carries out one stream request of the core, reporting the outcome to it.
async fn exchange(
    shared: &Shared,
    socket: &UdpSocket,
    req: swim_core::StreamRequest,
) -> Result<(), ExchangeError> {
    let id = req.id;
    let run = async {
        let mut conn = TcpStream::connect(req.addr).await?;
        conn.write_all(&req.data).await?;
        conn.flush().await?;
        if !req.expects_reply {
            return Ok(());
        }
        let mut buf = Vec::new();
        let (start, end) = read_frame(shared, &mut conn, &mut buf, false).await?;
        shared.handle_stream_reply(id, &mut buf[start..end]).map_err(ExchangeError::Protocol)
    };
    let r = match tokio::time::timeout(req.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(ExchangeError::Timeout),
    };
    if let Err(e) = &r {
        if !matches!(e, ExchangeError::Protocol(_)) {
            shared.stream_failed(id);
        }
    }
    flush(shared, socket).await;
    r
}
