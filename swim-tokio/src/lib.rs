//! # swim-tokio
//!
//! SWIM cluster membership on tokio: membership and failure detection, gossip
//! broadcast, direct UDP messages, AES-GCM encryption — wire-compatible with
//! HashiCorp memberlist and Serf. The protocol lives in [`swim_core`]; this
//! crate moves bytes and time between it and tokio's sockets and timers.
//!
//! ```
//! use swim_tokio::{Cluster, Config, Event, QueryParams};
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
//! // Serf queries: node-2 answers, node-1 asks and collects until the timeout.
//! b.on_query(|q| (q.name == "uptime").then(|| b"3 days".to_vec()));
//! let params = QueryParams::default().node("node-2").timeout(Duration::from_millis(500));
//! let answers = a.query("uptime", b"", params)?.collect().await;
//! assert_eq!(answers.responses, vec![("node-2".into(), b"3 days".to_vec())]);
//!
//! b.leave(Duration::from_secs(5)).await?; // Ok once the leave has spread
//! b.shutdown().await;
//! a.shutdown().await;
//! # Ok(()) }
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

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use swim_core::io::batch_udp::{self, BatchUdp};
pub use swim_core::prelude::*;
use swim_core::runtime::{RecvSlot, Segment};
use tokio::io::Interest;

/// A cluster node running on tokio: the whole API is
/// [`swim_core::cluster::Cluster`], documented there.
pub type Cluster = swim_core::cluster::Cluster<Tokio>;

/// The tokio [`Runtime`](swim_core::runtime::Runtime): the handle of the
/// runtime `Cluster::create` was called on.
#[derive(Debug, Clone)]
pub struct Tokio(tokio::runtime::Handle);

/// A tokio task that is aborted when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A tokio UDP socket, with batched sends and receives
/// ([`swim_core::io::batch_udp`]).
#[derive(Debug)]
pub struct Udp {
    socket: tokio::net::UdpSocket,
    batch: BatchUdp,
}
/// A tokio TCP listener.
#[derive(Debug)]
pub struct Listener(tokio::net::TcpListener);
/// A tokio TCP connection.
#[derive(Debug)]
pub struct Conn(tokio::net::TcpStream);

impl swim_core::runtime::Runtime for Tokio {
    type Udp = Udp;
    type Listener = Listener;
    type Conn = Conn;
    type Task = AbortOnDrop;

    fn current() -> Self {
        Tokio(tokio::runtime::Handle::current())
    }

    fn try_current() -> Option<Self> {
        tokio::runtime::Handle::try_current().ok().map(Tokio)
    }

    fn spawn_thread(&self, name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
        // Inside the runtime's context, so a handler may `tokio::spawn`.
        let handle = self.0.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _guard = handle.enter();
                f()
            })
            .map(drop)
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) -> AbortOnDrop {
        AbortOnDrop(self.0.spawn(fut))
    }

    async fn cancel(mut task: AbortOnDrop) {
        task.0.abort();
        let _ = (&mut task.0).await;
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline.into())
    }

    async fn bind_udp(&self, addr: SocketAddr) -> io::Result<Udp> {
        let socket = tokio::net::UdpSocket::bind(addr).await?;
        let batch = BatchUdp::new(&socket)?;
        Ok(Udp { socket, batch })
    }

    async fn bind_tcp(&self, addr: SocketAddr) -> io::Result<Listener> {
        tokio::net::TcpListener::bind(addr).await.map(Listener)
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Conn> {
        tokio::net::TcpStream::connect(addr).await.map(Conn)
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host(host).await?.collect())
    }
}

impl swim_core::runtime::Udp for Udp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(buf, addr).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.try_recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.socket.try_send_to(buf, addr)
    }

    async fn send_batch(&self, buf: &[u8], segments: &[Segment]) -> usize {
        let (mut next, mut failed) = (0, 0);
        let sent = self
            .socket
            .async_io(Interest::WRITABLE, || {
                self.batch.try_send(&self.socket, buf, segments, &mut next, &mut failed)
            })
            .await;
        match sent {
            Ok(()) => failed,
            Err(e) => failed + batch_udp::refused(&e, segments.len() - next),
        }
    }

    async fn recv_batch(&self, slots: &mut [RecvSlot]) -> io::Result<usize> {
        let asked = slots.len();
        loop {
            self.socket.readable().await?;
            // A batch that emptied the socket clears its readiness as a
            // `WouldBlock` does (tokio keeps it if an event came meanwhile),
            // sparing the receive call that would only say so.
            let mut emptied = 0;
            let got = self.socket.try_io(Interest::READABLE, || {
                let n = self.batch.try_recv(&self.socket, slots)?;
                if n > 0 && self.batch.emptied(n, asked) {
                    emptied = n;
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            match got {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && emptied == 0 => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(emptied),
                other => return other,
            }
        }
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
        tokio::io::AsyncReadExt::read(&mut self.0, buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(&mut self.0, buf).await?;
        tokio::io::AsyncWriteExt::flush(&mut self.0).await
    }
}
