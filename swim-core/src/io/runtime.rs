//! What an async runtime must provide to run a [`Cluster`](crate::io::cluster::Cluster)
//! (feature `std`): spawning, a timer, UDP and TCP sockets. `swim-tokio` and
//! `swim-smol` implement it; everything else is written once, in
//! [`crate::io::cluster`].
//!
//! UDP has batch operations ([`Udp::send_batch`], [`Udp::recv_batch`]):
//! their defaults loop over one datagram per system call; the drivers
//! override them with `quinn-udp` (GSO / `sendmsg` with several datagrams
//! per call, GRO / `recvmmsg`), as quinn does on both runtimes.

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

/// One datagram of a batch for [`Udp::send_batch`]: `len` bytes to `dst`,
/// laid out right after the previous datagram in the batch's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Where it goes.
    pub dst: SocketAddr,
    /// Its length.
    pub len: usize,
}

/// A receive buffer for [`Udp::recv_batch`]: `buf[..len]` came from `from`,
/// as datagrams of `stride` bytes back to back (the last may be shorter):
/// one datagram unless the socket coalesces (GRO).
#[derive(Debug)]
pub struct RecvSlot {
    /// The buffer (`udp_buffer_size` bytes, or 64 KiB where the socket
    /// coalesces: [`Udp::gro_segments`]).
    pub buf: Vec<u8>,
    /// Bytes received.
    pub len: usize,
    /// Sender.
    pub from: SocketAddr,
    /// Size of each datagram in `buf[..len]` (`len` for a single one).
    pub stride: usize,
}

impl RecvSlot {
    /// An empty slot of `size` bytes.
    pub fn new(size: usize) -> RecvSlot {
        RecvSlot { buf: alloc::vec![0; size], len: 0, from: SocketAddr::from(([0, 0, 0, 0], 0)), stride: 0 }
    }

    /// The datagrams received into this slot (mutable: the core opens
    /// them in place). An empty datagram is one too: the core counts it.
    pub fn datagrams_mut(&mut self) -> impl Iterator<Item = &mut [u8]> {
        let len = self.len.min(self.buf.len());
        let stride = if self.stride == 0 { len } else { self.stride }.max(1);
        let empty: Option<&mut [u8]> = (len == 0).then_some(&mut []);
        self.buf[..len].chunks_mut(stride).chain(empty)
    }
}

/// A bound UDP socket.
pub trait Udp: Send + Sync + 'static {
    /// The bound address.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// Sends one datagram.
    fn send_to(&self, buf: &[u8], addr: SocketAddr) -> impl Future<Output = io::Result<usize>> + Send;
    /// Waits for one datagram. Where [`gro_segments`](Self::gro_segments)
    /// is above 1 it may be a run of datagrams coalesced by the kernel:
    /// use [`recv_batch`](Self::recv_batch), which reports the stride.
    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
    /// Sends one datagram if the socket can take it now (`WouldBlock`
    /// otherwise). The default always says `WouldBlock`, so every direct
    /// message goes through the node's send task.
    fn try_send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        let _ = (buf, addr);
        Err(io::ErrorKind::WouldBlock.into())
    }
    /// Takes a datagram if one is already queued (`WouldBlock` otherwise).
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// Sends the datagrams laid out back to back in `buf` (`segments[i].len`
    /// bytes to `segments[i].dst`, in order), as few system calls as the
    /// socket allows. Every datagram is attempted; returns how many the
    /// socket refused (each logged at debug). The default sends one per call.
    fn send_batch(&self, buf: &[u8], segments: &[Segment]) -> impl Future<Output = usize> + Send {
        async move {
            let (mut start, mut failed) = (0, 0);
            for s in segments {
                let end = start + s.len;
                let sent = match buf.get(start..end) {
                    Some(d) => self.send_to(d, s.dst).await.map(drop),
                    None => Err(io::Error::new(io::ErrorKind::InvalidInput, "segment past the buffer")),
                };
                if let Err(e) = sent {
                    tracing::debug!(dst = %s.dst, error = %e, "udp send failed");
                    failed += 1;
                }
                start = end;
            }
            failed
        }
    }

    /// Waits for at least one datagram, then fills as many of `slots` as
    /// datagrams are already queued; returns how many slots it filled. The
    /// default: [`recv_from`](Self::recv_from) once, then
    /// [`try_recv_from`](Self::try_recv_from) until nothing is queued.
    fn recv_batch(&self, slots: &mut [RecvSlot]) -> impl Future<Output = io::Result<usize>> + Send {
        async move {
            let Some(first) = slots.first_mut() else { return Ok(0) };
            let (n, from) = self.recv_from(&mut first.buf).await?;
            (first.len, first.from, first.stride) = (n, from, n);
            let mut filled = 1;
            for slot in slots.iter_mut().skip(1) {
                match self.try_recv_from(&mut slot.buf) {
                    Ok((n, from)) => (slot.len, slot.from, slot.stride) = (n, from, n),
                    Err(_) => break,
                }
                filled += 1;
            }
            Ok(filled)
        }
    }

    /// How many datagrams the socket may hand over in one receive slot
    /// (GRO): 1 unless [`recv_batch`](Self::recv_batch) coalesces, in which
    /// case the driver gives it 64 KiB slots.
    fn gro_segments(&self) -> usize {
        1
    }
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
