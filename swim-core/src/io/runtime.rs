//! What an async runtime must provide to run a [`Cluster`](crate::io::cluster::Cluster)
//! (feature `std`): spawning, a timer, UDP and TCP sockets. `swim-tokio` and
//! `swim-smol` implement it; everything else is written once, in
//! [`crate::io::cluster`].

extern crate std;

use alloc::vec::Vec;
use core::future::Future;
use core::net::SocketAddr;
use core::time::Duration;
use std::io;
use std::time::Instant as StdInstant;

/// An async runtime.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A bound UDP socket.
    type Udp: Udp;
    /// A bound TCP listener.
    type Listener: Listener<Conn = Self::Conn>;
    /// A TCP connection.
    type Conn: Conn;
    /// A spawned task; dropping it cancels the task.
    type Task: Send + 'static;

    /// The runtime the caller runs on (called from inside it; may panic
    /// outside it: the drivers call [`try_current`](Self::try_current)).
    fn current() -> Self;
    /// The runtime the caller runs on, or `None` when called outside one.
    fn try_current() -> Option<Self> {
        Some(Self::current())
    }
    /// Runs `f` on a new thread named `name`, from which the runtime can
    /// still be used (spawning, timers): the node's message-handler thread.
    /// The default starts a plain `std` thread.
    fn spawn_thread(&self, name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
        std::thread::Builder::new().name(name.into()).spawn(f).map(drop)
    }
    /// Runs `fut` in the background.
    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) -> Self::Task;
    /// Cancels `task` and waits until it has stopped (and dropped what it held).
    fn cancel(task: Self::Task) -> impl Future<Output = ()> + Send;
    /// Completes at `deadline`.
    fn sleep_until(&self, deadline: StdInstant) -> impl Future<Output = ()> + Send;
    /// Binds a UDP socket.
    fn bind_udp(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Udp>> + Send;
    /// Binds a TCP listener.
    fn bind_tcp(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    /// Connects over TCP.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Conn>> + Send;
    /// Resolves `host:port`.
    fn resolve(&self, host: &str) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// A bound UDP socket.
pub trait Udp: Send + Sync + 'static {
    /// The bound address.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// Sends one datagram.
    fn send_to(&self, buf: &[u8], addr: SocketAddr) -> impl Future<Output = io::Result<usize>> + Send;
    /// Waits for one datagram.
    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
    /// Takes a datagram if one is already queued (`WouldBlock` otherwise).
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
}

/// A bound TCP listener.
pub trait Listener: Send + Sync + 'static {
    /// The connection type.
    type Conn;
    /// Waits for a connection.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;
}

/// A TCP connection.
pub trait Conn: Send + 'static {
    /// Reads some bytes (0 at end of stream).
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    /// Writes all of `buf` and flushes.
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
}

/// Runs `fut` for at most `d`; `None` if time ran out first.
pub async fn timeout<R: Runtime, T>(rt: &R, d: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let deadline =
        StdInstant::now().checked_add(d).unwrap_or_else(|| StdInstant::now() + Duration::from_secs(1 << 30));
    futures_lite::future::or(async { Some(fut.await) }, async {
        rt.sleep_until(deadline).await;
        None
    })
    .await
}
