//! # swim-smol
//!
//! SWIM cluster membership on smol / async-io: membership and failure
//! detection, gossip broadcast, direct UDP messages, AES-GCM encryption —
//! wire-compatible with HashiCorp memberlist and Serf. The same API as
//! `swim-tokio` (both are [`swim_core::cluster::Cluster`] over a runtime);
//! tasks run on smol's global executor.
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

pub use swim_core::prelude::*;

/// A cluster node running on smol: the whole API is
/// [`swim_core::cluster::Cluster`], documented there.
pub type Cluster = swim_core::cluster::Cluster<Smol>;

/// The smol [`Runtime`](swim_core::runtime::Runtime): smol's global executor
/// and async-io's reactor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// A smol UDP socket.
#[derive(Debug)]
pub struct Udp(async_io::Async<std::net::UdpSocket>);
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
        Smol
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) -> smol::Task<()> {
        smol::spawn(fut)
    }

    async fn cancel(task: smol::Task<()>) {
        task.cancel().await;
    }

    async fn sleep_until(&self, deadline: std::time::Instant) {
        async_io::Timer::at(deadline).await;
    }

    async fn bind_udp(&self, addr: SocketAddr) -> io::Result<Udp> {
        async_io::Async::<std::net::UdpSocket>::bind(addr).map(Udp)
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
        self.0.get_ref().local_addr()
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.0.send_to(buf, addr).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        // The socket is non-blocking: this returns WouldBlock when empty.
        self.0.get_ref().recv_from(buf)
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
