//! # swim-smol
//!
//! SWIM cluster membership on smol / async-io: membership and failure
//! detection, gossip broadcast, direct UDP messages, AES-GCM encryption —
//! wire-compatible with HashiCorp memberlist and Serf. The same API as
//! `swim-tokio` (both are [`swim_core::cluster::Cluster`] over a runtime);
//! tasks run on smol's global executor, or on an executor of your own
//! ([`Smol::on`] with [`Cluster::create_on`](swim_core::cluster::Cluster::create_on)).
//!
//! ```
//! use swim_smol::{Cluster, Config, Event};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     let config = |name: &str| Config {
//!         bind_addr: "127.0.0.1".parse().unwrap(),
//!         bind_port: 0, // let the OS pick
//!         node_name: Some(name.into()),
//!         encryption_enabled: true,
//!         secret_key: b"your-32-byte-secret-key-must-be!".to_vec(),
//!         ..Config::default()
//!     };
//!     let a = Cluster::create(config("node-1")).await?;
//!     let b = Cluster::create(config("node-2")).await?;
//!     a.start();
//!     b.start();
//!     let mut events = a.events();
//!     b.join(&[a.local_addr().to_string()]).await?;
//!     assert!(matches!(events.next().await, Some(Event::Join(n)) if n.id.as_str() == "node-2"));
//!     a.send(&"node-2".into(), "ping", b"pong").await?;
//!     b.leave(Duration::from_secs(5)).await?; // Ok once the leave has spread
//!     b.shutdown().await;
//!     a.shutdown().await;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! ## Features
//!
//! - `metrics` (off by default): every started `Cluster` publishes its
//!   counters, gauges and probe round-trip histogram through the
//!   [`metrics`](https://docs.rs/metrics) facade every second, labelled
//!   `node` = its name; install a recorder (e.g. `metrics-exporter-prometheus`)
//!   to collect them. The names, types and labels are listed in
//!   `swim_core::io::exporter::METRICS` and the repository's `docs/metrics.md`.
//!   [`Cluster::metrics`](swim_core::cluster::Cluster::metrics) works without it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use smol::io::{AsyncReadExt, AsyncWriteExt};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use swim_core::io::batch_udp::{self, BatchUdp};
pub use swim_core::prelude::*;
use swim_core::runtime::{RecvSlot, Segment};

/// A cluster node running on smol: the whole API is
/// [`swim_core::cluster::Cluster`], documented there.
pub type Cluster = swim_core::cluster::Cluster<Smol>;

/// The smol [`Runtime`](swim_core::runtime::Runtime): smol's global
/// executor (the default) or an executor of your own ([`Smol::on`]), and
/// async-io's reactor.
#[derive(Debug, Clone, Default)]
pub struct Smol {
    executor: Option<Arc<smol::Executor<'static>>>,
}

impl Smol {
    /// The runtime that spawns a node's tasks on `executor` instead of
    /// smol's global executor; pass it to
    /// [`Cluster::create_on`](swim_core::cluster::Cluster::create_on).
    ///
    /// Whoever runs `executor` runs the node: a program that runs it on the
    /// thread that also drives async-io (`smol::block_on(ex.run(..))`) keeps
    /// the node, its timers and its sockets on that one thread — no
    /// cross-thread wake-ups, the lowest latency and idle cost smol offers
    /// (docs/performance.md). Run it on more threads for more cores.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use swim_smol::{Cluster, Config, Smol};
    ///
    /// let ex = Arc::new(smol::Executor::new());
    /// smol::block_on(ex.run(async {
    ///     let config = Config {
    ///         bind_addr: "127.0.0.1".parse().unwrap(),
    ///         bind_port: 0,
    ///         node_name: Some("solo".into()),
    ///         ..Config::default()
    ///     };
    ///     let node = Cluster::create_on(Smol::on(ex.clone()), config).await.unwrap();
    ///     node.start();
    ///     assert_eq!(node.members().len(), 1);
    ///     node.shutdown().await;
    /// }));
    /// ```
    pub fn on(executor: Arc<smol::Executor<'static>>) -> Smol {
        Smol { executor: Some(executor) }
    }
}

/// A smol UDP socket, with batched sends and receives
/// ([`swim_core::io::batch_udp`]).
#[derive(Debug)]
pub struct Udp {
    socket: async_io::Async<std::net::UdpSocket>,
    batch: BatchUdp,
    /// The last batch received emptied the socket (see [`BatchUdp::emptied`]).
    emptied: AtomicBool,
}
/// A smol TCP listener.
#[derive(Debug)]
pub struct Listener(smol::net::TcpListener);
/// A smol TCP connection.
#[derive(Debug)]
pub struct Conn(smol::net::TcpStream);

impl swim_core::runtime::Runtime for Smol {
    type Udp = Udp;
    type Listener = Listener;
    type Conn = Conn;
    type Task = smol::Task<()>;

    fn current() -> Self {
        Smol::default()
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) -> smol::Task<()> {
        match &self.executor {
            Some(ex) => ex.spawn(fut),
            None => smol::spawn(fut),
        }
    }

    async fn cancel(task: smol::Task<()>) {
        task.cancel().await;
    }

    async fn sleep_until(&self, deadline: std::time::Instant) {
        async_io::Timer::at(deadline).await;
    }

    async fn bind_udp(&self, addr: SocketAddr) -> io::Result<Udp> {
        let socket = async_io::Async::<std::net::UdpSocket>::bind(addr)?;
        let batch = BatchUdp::new(socket.get_ref())?;
        Ok(Udp { socket, batch, emptied: AtomicBool::new(false) })
    }

    async fn bind_tcp(&self, addr: SocketAddr) -> io::Result<Listener> {
        smol::net::TcpListener::bind(addr).await.map(Listener)
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Conn> {
        smol::net::TcpStream::connect(addr).await.map(Conn)
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<SocketAddr>> {
        smol::net::resolve(host).await
    }
}

impl swim_core::runtime::Udp for Udp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.get_ref().local_addr()
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(buf, addr).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        // The socket is non-blocking: this returns WouldBlock when empty.
        self.socket.get_ref().recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        // Non-blocking too: WouldBlock when the send buffer is full.
        self.socket.get_ref().send_to(buf, addr)
    }

    async fn send_batch(&self, buf: &[u8], segments: &[Segment]) -> usize {
        let (mut next, mut failed) = (0, 0);
        let sent =
            self.socket.write_with(|s| self.batch.try_send(s, buf, segments, &mut next, &mut failed)).await;
        match sent {
            Ok(()) => failed,
            Err(e) => failed + batch_udp::refused(&e, segments.len() - next),
        }
    }

    async fn recv_batch(&self, slots: &mut [RecvSlot]) -> io::Result<usize> {
        // After a batch that emptied the socket, wait for readiness first
        // (async-io re-arms the socket, which reports data already queued)
        // instead of a receive call that would only say `WouldBlock`.
        if self.emptied.swap(false, Ordering::Relaxed) {
            self.socket.readable().await?;
        }
        let asked = slots.len();
        let n = self.socket.read_with(|s| self.batch.try_recv(s, slots)).await?;
        self.emptied.store(self.batch.emptied(n, asked), Ordering::Relaxed);
        Ok(n)
    }

    fn gro_segments(&self) -> usize {
        self.batch.gro_segments()
    }
}

impl swim_core::runtime::Listener for Listener {
    type Conn = Conn;

    async fn accept(&self) -> io::Result<(Conn, SocketAddr)> {
        let (c, a) = self.0.accept().await?;
        Ok((Conn(c), a))
    }
}

impl swim_core::runtime::Conn for Conn {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).await?;
        self.0.flush().await
    }
}
