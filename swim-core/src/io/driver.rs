//! What every async driver needs, written once (feature `std`): the locked
//! core and its clock, event streams (each starting with a snapshot of the
//! members, telling a slow reader what it missed), buffer pools, handing
//! delivered messages to the handlers' queue ([`crate::io::handoff`]), and
//! the driver-level error types.
//!
//! The generic [`Cluster`](crate::io::cluster::Cluster) drives it: it calls
//! [`Shared::handle_packets`] with received datagrams, sends what
//! [`Shared::next_transmit`] produces, runs [`Shared::handle_timeout`] when
//! it said it is due, and carries out [`StreamRequest`]s over TCP.
//! A driver crate (`swim-tokio`, `swim-smol`) only implements
//! [`Runtime`](crate::io::runtime::Runtime).

extern crate std;

use crate::io::handoff::{Handoff, Message, MessageHandler, Outgoing};
pub use crate::io::runtime::RecvSlot;
use crate::io::send_queue::{Batch, Outbox, PushError, Pushed, SendQueue};
use crate::protocol::{BroadcastError as CoreBroadcastError, SendError as CoreSendError};
use crate::{
    Config, ConfigError, Delivery, DeliveryKind, DirectRoute, Event, FrameReader, Instant, Metrics, Node,
    NodeId, StreamError, StreamRequest, Swim, Transmit,
};
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::ops::Range;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use rand_chacha::rand_core::SeedableRng;
use std::sync::{Mutex, MutexGuard};

#[doc(hidden)] // driver internals, not public API
/// The RNG the drivers give the core: ChaCha12 seeded from the OS, a CSPRNG
/// (it also draws the AES-GCM nonces).
pub type DriverRng = rand_chacha::ChaCha12Rng;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `Cluster::create` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// `secret_key` is not 16, 24 or 32 bytes while encryption is enabled.
    InvalidKey,
    /// Another configuration mistake.
    InvalidConfig(ConfigError),
    /// The UDP or TCP listener could not be bound.
    Bind {
        /// What was being bound.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Bound to an unspecified address (`0.0.0.0` or `::`) with no
    /// `Config::advertise_addr`, and no interface has an address of that
    /// family to advertise (see [`crate::io::advertise`]), or the
    /// interfaces could not be listed.
    NoAdvertiseAddress {
        /// The bound address.
        bound: SocketAddr,
        /// Why the interfaces could not be listed, if that failed.
        source: Option<std::io::Error>,
    },
    /// `create` was called outside the driver's async runtime (for
    /// `swim-tokio`: not within a Tokio runtime).
    NoRuntime,
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::InvalidKey => f.write_str(
                "invalid secret key: AES-GCM needs 16, 24 or 32 bytes (32 for AES-256) when encryption is enabled",
            ),
            CreateError::InvalidConfig(e) => write!(f, "invalid configuration: {e}"),
            CreateError::NoRuntime => f.write_str(
                "Cluster::create must be called from within the async runtime the driver runs on \
                 (for swim-tokio, inside a Tokio runtime)",
            ),
            CreateError::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
            CreateError::NoAdvertiseAddress { bound, source } => {
                write!(f, "bound to {bound} with no advertise_addr, and ")?;
                match source {
                    Some(e) => write!(f, "the network interfaces cannot be listed ({e})")?,
                    None if bound.is_ipv4() => f.write_str("no interface has an IPv4 address other than link-local")?,
                    None => f.write_str(
                        "no interface has an IPv6 address other than link-local \
                         (bound to [::], the node advertises IPv6 only: bind 0.0.0.0 for IPv4)",
                    )?,
                }
                f.write_str(": set Config::advertise_addr to the address other nodes reach this one at")
            }
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CreateError::InvalidConfig(e) => Some(e),
            CreateError::Bind { source, .. } => Some(source),
            CreateError::NoAdvertiseAddress { source, .. } => source.as_ref().map(|e| e as _),
            CreateError::InvalidKey | CreateError::NoRuntime => None,
        }
    }
}

impl From<ConfigError> for CreateError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::InvalidKey { .. } => CreateError::InvalidKey,
            e => CreateError::InvalidConfig(e),
        }
    }
}

/// `Cluster::join` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// No seed answered the state exchange before `join_timeout`: each
    /// seed's last reason (unreachable, refused, wrong key or label, timed
    /// out, name not resolved), one entry per seed given.
    NoSeedsReachable {
        /// Why each seed failed, in the order given.
        failures: Vec<SeedFailure>,
    },
    /// A seed answered but its cluster cannot be joined with this
    /// configuration (e.g. incompatible delegate versions).
    Rejected {
        /// The seed as given.
        seed: String,
        /// Why.
        reason: StreamError,
    },
    /// No seeds were given.
    NoSeeds,
    /// The cluster was shut down.
    Shutdown,
}

/// Why one seed of a join could not be used (see [`JoinError::NoSeedsReachable`]).
#[derive(Debug)]
pub struct SeedFailure {
    /// The seed as given.
    pub seed: String,
    /// The address last tried, if the name resolved.
    pub addr: Option<SocketAddr>,
    /// What went wrong with it.
    pub reason: SeedError,
}

/// What went wrong with one seed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SeedError {
    /// The name could not be resolved.
    Resolve(std::io::Error),
    /// The name resolved to no address.
    NoAddress,
    /// Connecting, writing or reading failed (e.g. connection refused).
    Io(std::io::Error),
    /// The exchange did not finish within `tcp_timeout`.
    Timeout,
    /// The reply could not be used (wrong key or label, malformed, ...).
    Protocol(StreamError),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Resolve(e) => write!(f, "cannot resolve: {e}"),
            SeedError::NoAddress => f.write_str("resolves to no address"),
            SeedError::Io(e) => write!(f, "{e}"),
            SeedError::Timeout => f.write_str("timed out (tcp_timeout)"),
            SeedError::Protocol(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SeedError::Resolve(e) | SeedError::Io(e) => Some(e),
            SeedError::Protocol(e) => Some(e),
            SeedError::NoAddress | SeedError::Timeout => None,
        }
    }
}

impl fmt::Display for SeedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(a) if a.to_string() != self.seed => write!(f, "{} ({a}): {}", self.seed, self.reason),
            _ => write!(f, "{}: {}", self.seed, self.reason),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::NoSeedsReachable { failures } => {
                f.write_str("no seed node could be reached (check addresses, ports, secret_key and label)")?;
                for (i, s) in failures.iter().enumerate() {
                    write!(f, "{} {s}", if i == 0 { ":" } else { ";" })?;
                }
                Ok(())
            }
            JoinError::Rejected { seed, reason } => write!(f, "seed {seed} refused the join: {reason}"),
            JoinError::NoSeeds => f.write_str("no seed nodes given"),
            JoinError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::Rejected { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// `Cluster::leave` did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaveError {
    /// The leave was announced but had not spread to the cluster (been
    /// gossiped its full retransmit limit) within the timeout: some members
    /// may see this node fail rather than leave once it stops.
    Timeout,
    /// The cluster was shut down.
    Shutdown,
}

impl fmt::Display for LeaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveError::Timeout => f.write_str(
                "the leave had not spread to the cluster within the timeout; \
                 some members may report this node failed",
            ),
            LeaveError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl std::error::Error for LeaveError {}

/// `Cluster::send` / `send_to_addr` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// No live member has that name.
    UnknownNode(NodeId),
    /// Topic and payload do not fit one datagram.
    TooLarge {
        /// The largest payload that fits with this topic.
        max_payload: usize,
    },
    /// The topic is longer than 255 bytes.
    TopicTooLong,
    /// The socket refused the datagram, or connecting, writing or reading
    /// the stream failed.
    Io(std::io::Error),
    /// A reliable send did not finish within `tcp_timeout`.
    Timeout,
    /// The stream of a reliable send could not be used (e.g. its frame
    /// could not be sealed or opened).
    Stream(StreamError),
    /// `try_send`: `Config::send_queue_depth` messages are already waiting
    /// to be sent. Try again shortly, or use `send`, which waits for room.
    QueueFull,
    /// The cluster was shut down.
    Shutdown,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The core's errors say it in one place.
            SendError::UnknownNode(id) => CoreSendError::UnknownNode(id.clone()).fmt(f),
            SendError::TooLarge { max_payload } => {
                CoreSendError::TooLarge { max_payload: *max_payload }.fmt(f)
            }
            SendError::TopicTooLong => CoreSendError::TopicTooLong.fmt(f),
            SendError::Io(e) => write!(f, "send failed: {e}"),
            SendError::Timeout => f.write_str("reliable send timed out (tcp_timeout)"),
            SendError::Stream(e) => write!(f, "reliable send failed: {e}"),
            SendError::QueueFull => f.write_str(
                "the send queue is full (send_queue_depth messages waiting): retry, or use send, which waits for room",
            ),
            SendError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Io(e) => Some(e),
            SendError::Stream(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CoreSendError> for SendError {
    fn from(e: CoreSendError) -> Self {
        match e {
            CoreSendError::UnknownNode(id) => SendError::UnknownNode(id),
            CoreSendError::TooLarge { max_payload } => SendError::TooLarge { max_payload },
            CoreSendError::TopicTooLong => SendError::TopicTooLong,
        }
    }
}

impl From<PushError> for SendError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Full => SendError::QueueFull,
            PushError::Core(e) => e.into(),
            PushError::Closed => SendError::Shutdown,
        }
    }
}

impl From<std::io::Error> for SendError {
    fn from(e: std::io::Error) -> Self {
        SendError::Io(e)
    }
}

/// `Cluster::broadcast` failed (the core's reasons).
pub type BroadcastError = CoreBroadcastError;

#[doc(hidden)] // driver internals, not public API
/// A fixed set of reusable buffers. Taking from an empty pool allocates (and
/// counts a miss); returning to a full pool frees.
#[derive(Debug)]
pub struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
    count: usize,
    misses: AtomicU64,
}

impl Pool {
    /// `count` buffers of `size` bytes.
    pub fn new(count: usize, size: usize) -> Self {
        let free = (0..count).map(|_| alloc::vec![0u8; size]).collect();
        Pool { free: Mutex::new(free), size, count, misses: AtomicU64::new(0) }
    }

    /// A buffer of the pool's size.
    pub fn take(&self) -> Vec<u8> {
        if let Some(b) = lock(&self.free).pop() {
            return b;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        alloc::vec![0u8; self.size]
    }

    /// Gives a buffer back.
    pub fn put(&self, mut b: Vec<u8>) {
        b.resize(self.size, 0);
        let mut free = lock(&self.free);
        if free.len() < self.count {
            free.push(b);
        }
    }

    /// Times the pool was empty.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// A one-waiter wake-up flag (the protocol loop waits on it).
#[derive(Debug, Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn notify(&self) {
        let mut s = lock(&self.state);
        s.0 = true;
        if let Some(w) = s.1.take() {
            w.wake();
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = lock(&self.state);
        if core::mem::take(&mut s.0) {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[derive(Debug, Default)]
struct SubState {
    queue: VecDeque<Event>,
    waker: Option<Waker>,
    closed: bool,
    /// Events dropped since the reader last heard of it (`recv` reports them).
    unreported: u64,
    /// Events dropped over the stream's life.
    missed: u64,
}

/// Why [`Events::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// The reader fell `max_event_queue` events behind: this many of the
    /// oldest unread events were dropped (like tokio's `Lagged`). The events
    /// after them follow; [`Cluster::members`](crate::io::cluster::Cluster::members)
    /// gives the current state to resynchronise from.
    Lagged(u64),
    /// The cluster was shut down: no event will follow.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(
                f,
                "the event stream fell behind and lost {n} events (read faster or raise max_event_queue)"
            ),
            RecvError::Closed => f.write_str("the cluster was shut down"),
        }
    }
}

impl std::error::Error for RecvError {}

/// A stream of membership events.
///
/// It starts with a snapshot: one [`Event::Join`] for every member alive or
/// suspect (other than this node) when the stream was made, taken
/// atomically with the events that follow, so that a subscriber made after
/// `join` sees the same sequence as one made before it. Then every change.
///
/// Read it with [`recv`](Self::recv) (which also reports lost events),
/// [`next`](Self::next), or as a `futures_core::Stream<Item = Event>`. It
/// ends when the cluster shuts down. A reader that falls `max_event_queue`
/// events behind loses the oldest: `recv` says how many
/// ([`RecvError::Lagged`]); `next` and the `Stream` skip the notice (the loss
/// is logged at `warn`, counted in [`missed`](Self::missed) and in
/// `Metrics::events_dropped`).
///
/// Cancellation safe: dropping a pending `recv` or `next` loses no event.
#[derive(Debug)]
pub struct Events {
    sub: Arc<Mutex<SubState>>,
    shared: Arc<Shared>,
}

impl Events {
    /// The next event, or `None` once the cluster has shut down (events lost
    /// to lag are skipped: see [`recv`](Self::recv)).
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.recv().await {
                Ok(e) => return Some(e),
                Err(RecvError::Closed) => return None,
                Err(RecvError::Lagged(_)) => continue,
            }
        }
    }

    /// The next event; [`RecvError::Lagged`] first if events were lost since
    /// the last call, [`RecvError::Closed`] once the cluster has shut down
    /// and every event before it was read.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// An event if one is ready, without waiting (lost events are skipped,
    /// as with [`next`](Self::next)).
    pub fn try_next(&mut self) -> Option<Event> {
        let mut s = lock(&self.sub);
        s.unreported = 0;
        s.queue.pop_front()
    }

    /// Events this stream lost because its reader fell behind, in all.
    pub fn missed(&self) -> u64 {
        lock(&self.sub).missed
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Event, RecvError>> {
        let mut s = lock(&self.sub);
        if s.unreported > 0 {
            return Poll::Ready(Err(RecvError::Lagged(core::mem::take(&mut s.unreported))));
        }
        if let Some(e) = s.queue.pop_front() {
            return Poll::Ready(Ok(e));
        }
        if s.closed {
            return Poll::Ready(Err(RecvError::Closed));
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl futures_core::Stream for Events {
    type Item = Event;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            return match self.poll_recv(cx) {
                Poll::Ready(Ok(e)) => Poll::Ready(Some(e)),
                Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(None),
                Poll::Ready(Err(RecvError::Lagged(_))) => continue,
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let me = Arc::as_ptr(&self.sub);
        lock(&self.shared.subscribers).retain(|s| Arc::as_ptr(s) != me);
    }
}

/// Where a delivered topic or payload lives after the core returned.
#[derive(Debug, Clone)]
enum Span {
    /// Inside receive slot `slot` (the usual, zero-copy case).
    InBuf { slot: usize, range: Range<usize> },
    /// Copied into the staging area (it was decompressed into core scratch).
    Copied(Range<usize>),
}

#[doc(hidden)] // driver internals, not public API
/// Reusable scratch for deliveries: handlers run after the core's lock is
/// released (so they may call `send`), and most payloads are never copied —
/// only their position in the packet buffer is remembered.
#[derive(Debug, Default)]
pub struct Staging {
    items: Vec<Staged>,
    bytes: Vec<u8>,
}

/// One delivered message, remembered until the core's lock is released.
#[derive(Debug)]
struct Staged {
    sender: Node,
    from: SocketAddr,
    kind: DeliveryKind,
    topic: Span,
    payload: Span,
}

impl Staging {
    fn span(&mut self, slot: usize, base: usize, len: usize, part: &[u8]) -> Span {
        let p = part.as_ptr() as usize;
        if p >= base && p + part.len() <= base + len {
            Span::InBuf { slot, range: p - base..p - base + part.len() }
        } else {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(part);
            Span::Copied(start..self.bytes.len())
        }
    }

    fn record(&mut self, slot: usize, base: usize, len: usize, from: SocketAddr, d: &Delivery<'_>) {
        let topic = self.span(slot, base, len, d.topic.as_bytes());
        let payload = self.span(slot, base, len, d.payload);
        self.items.push(Staged { sender: d.sender.clone(), from, kind: d.kind, topic, payload });
    }

    fn resolve<'a>(&'a self, buf: impl Fn(usize) -> &'a [u8], s: &Span) -> &'a [u8] {
        match s {
            Span::InBuf { slot, range } => buf(*slot).get(range.clone()).unwrap_or(&[]),
            Span::Copied(r) => self.bytes.get(r.clone()).unwrap_or(&[]),
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
    }
}

/// Logs a membership change the way Serf agents do (`EventMemberJoin` and
/// the like at `info`; a member declared dead at `warn`; metadata updates at
/// `debug`): a healthy, stable cluster writes nothing at `info`.
fn log_event(local: &str, e: &Event) {
    let n = e.node();
    let (member, addr) = (n.id.as_str(), n.addr);
    match e {
        Event::Join(_) => tracing::info!(node = local, member, %addr, "member joined"),
        Event::Leave(n) if n.state == crate::State::Dead => {
            tracing::warn!(node = local, member, %addr, "member failed")
        }
        Event::Leave(_) => tracing::info!(node = local, member, %addr, "member left"),
        Event::Suspect(_) => tracing::info!(node = local, member, %addr, "member suspected"),
        Event::Alive(_) => tracing::info!(node = local, member, %addr, "suspected member is alive"),
        Event::Yielded(_) => tracing::error!(
            node = local,
            %addr,
            "another node uses this node's name and the cluster knows the name at its address: \
             this node yields and shuts down (names must be unique)"
        ),
        _ => tracing::debug!(node = local, member, %addr, "member updated"),
    }
}

#[doc(hidden)] // driver internals, not public API
/// The state both drivers share: the core behind a lock, its clock and the
/// application's handlers and subscribers.
pub struct Shared {
    core: Mutex<Swim<DriverRng>>,
    epoch: std::time::Instant,
    handoff: Arc<Handoff>,
    subscribers: Mutex<Vec<Arc<Mutex<SubState>>>>,
    max_events: usize,
    events_dropped: AtomicU64,
    /// Buffers for outgoing datagrams.
    pub send_pool: Pool,
    wake: Signal,
    /// The core deadline the protocol loop sleeps until (nanoseconds of the
    /// core's clock): a change wakes it only if it moves that earlier.
    planned: AtomicU64,
    closed: AtomicBool,
    desk: crate::io::queries::Desk,
    /// Direct messages waiting for the send task.
    pub(crate) sends: SendQueue,
    udp_send_errors: AtomicU64,
    /// Bytes inbound streams hold now, and the most they may.
    inbound_bytes: AtomicUsize,
    inbound_budget: usize,
    streams_refused: AtomicU64,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("core", &*lock(&self.core)).finish_non_exhaustive()
    }
}

impl Shared {
    /// Validates `config` and builds the core for a node reachable at `addr`.
    pub fn new(config: Config, addr: SocketAddr) -> Result<Arc<Shared>, CreateError> {
        let epoch = std::time::Instant::now();
        let (sends, size, max_events, depth, send_depth, inbound_budget) = (
            config.send_buffer_count,
            config.udp_buffer_size,
            config.max_event_queue,
            config.handoff_queue_depth,
            config.send_queue_depth,
            config.max_inbound_stream_bytes,
        );
        // Swim::new validates the config.
        let core = Swim::new(config, addr, DriverRng::from_os_rng(), Instant::ZERO)?;
        Ok(Arc::new(Shared {
            core: Mutex::new(core),
            epoch,
            handoff: Arc::new(Handoff::new(depth, size)),
            subscribers: Mutex::new(Vec::new()),
            max_events,
            events_dropped: AtomicU64::new(0),
            planned: AtomicU64::new(0),
            send_pool: Pool::new(sends, size),
            wake: Signal::default(),
            closed: AtomicBool::new(false),
            desk: Default::default(),
            sends: SendQueue::new(send_depth),
            udp_send_errors: AtomicU64::new(0),
            inbound_bytes: AtomicUsize::new(0),
            inbound_budget,
            streams_refused: AtomicU64::new(0),
        }))
    }

    /// The core's clock now.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// The wall-clock instant of a core instant.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.epoch
            .checked_add(t.since_epoch())
            .unwrap_or_else(|| self.epoch + core::time::Duration::from_secs(1 << 30))
    }

    /// Runs `f` on the core under its lock, then publishes the events it
    /// produced and wakes the protocol loop.
    pub fn with_core<T>(&self, f: impl FnOnce(&mut Swim<DriverRng>, Instant) -> T) -> T {
        let now = self.now();
        let mut core = lock(&self.core);
        let out = f(&mut core, now);
        self.settle(&mut core);
        out
    }

    /// After the core changed: publish its events, and wake the protocol loop
    /// if its plan changed: it has something to do sooner, or the deadline
    /// it sleeps until is gone (an ack ended the probe whose timeout it was).
    /// The second saves a wake-up: re-planning now runs right after the task
    /// that received the ack, while sleeping on would wake the idle thread
    /// at the stale deadline for nothing (half an idle node's wake-ups).
    fn settle(&self, core: &mut Swim<DriverRng>) {
        self.publish(core);
        if core.poll_timeout().as_nanos() != self.planned.load(Ordering::Relaxed)
            || core.has_stream_requests()
        {
            self.wake.notify();
        }
    }

    /// Runs `f` on the core under its lock, for calls that change neither its
    /// timers nor its events (encoding a direct send): no wake-up bookkeeping
    /// on that hot path.
    pub fn with_core_quiet<T>(&self, f: impl FnOnce(&mut Swim<DriverRng>) -> T) -> T {
        f(&mut lock(&self.core))
    }

    /// Adds the counters the driver keeps (outside the core) to `m`.
    pub fn add_driver_counters(&self, m: &mut Metrics) {
        m.events_dropped += self.events_dropped();
        m.handoff_dropped += self.handoff.dropped();
        m.handler_panics += self.handoff.panics();
        m.buffer_pool_misses += self.send_pool.misses();
        m.queries_dropped += self.desk.dropped();
        m.send_queue_full += self.sends.full_count();
        m.udp_send_errors += self.udp_send_errors.load(Ordering::Relaxed);
        m.streams_refused += self.streams_refused.load(Ordering::Relaxed);
    }

    /// Counts an inbound stream closed unread.
    pub(crate) fn stream_refused(&self) {
        self.streams_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes `n` bytes of the inbound streams' budget; `false` (nothing
    /// taken) if that would pass `Config::max_inbound_stream_bytes`.
    pub(crate) fn reserve_inbound(&self, n: usize) -> bool {
        let before = self.inbound_bytes.fetch_add(n, Ordering::AcqRel);
        if before + n > self.inbound_budget {
            self.inbound_bytes.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Gives back `n` bytes taken by [`reserve_inbound`](Self::reserve_inbound).
    pub(crate) fn release_inbound(&self, n: usize) {
        self.inbound_bytes.fetch_sub(n, Ordering::AcqRel);
    }

    /// Counts datagrams the socket refused.
    pub(crate) fn count_send_errors(&self, n: usize) {
        if n > 0 {
            self.udp_send_errors.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Queues a direct message to where `route` says (see
    /// [`crate::io::send_queue`]), or sends it at once with `send_now` (the
    /// socket's non-blocking send) when the socket has been idle.
    pub(crate) fn queue_direct(
        &self,
        mut cx: Option<&mut Context<'_>>,
        route: impl Fn(&Swim<DriverRng>) -> Result<DirectRoute, CoreSendError>,
        topic: &str,
        payload: &[u8],
        send_now: impl FnOnce(&[u8], SocketAddr) -> std::io::Result<usize>,
    ) -> Result<(), PushError> {
        let encode = |arena: &mut Vec<u8>| {
            let core = lock(&self.core);
            let r = route(&core)?;
            core.encode_direct_part(topic, payload, arena)?;
            Ok(r)
        };
        if self.sends.push(cx.as_deref_mut(), true, encode)? == Pushed::Queued {
            return Ok(());
        }
        let mut buf = self.send_pool.take();
        let sealed = {
            let mut core = lock(&self.core);
            route(&core).and_then(|r| core.encode_direct_routed(r, topic, payload, &mut buf))
        };
        let outcome = match sealed {
            Err(e) => Some(Err(PushError::Core(e))),
            Ok(t) => match send_now(&buf[..t.len], t.dst) {
                Ok(_) => Some(Ok(())),
                // The socket is busy after all: queue it (below).
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                Err(e) => {
                    tracing::debug!(dst = %t.dst, error = %e, "udp send failed");
                    self.count_send_errors(1);
                    Some(Ok(()))
                }
            },
        };
        self.send_pool.put(buf);
        self.sends.sent();
        match outcome {
            Some(outcome) => outcome,
            None => self.sends.push(cx, false, encode).map(drop),
        }
    }

    /// Seals queued direct messages into `outbox` under one lock; returns
    /// whether `batch` has more.
    pub(crate) fn fill_outbox(&self, batch: &mut Batch, outbox: &mut Outbox) -> bool {
        outbox.fill(batch, &mut lock(&self.core))
    }

    /// Reads the core under its lock.
    pub fn read<T>(&self, f: impl FnOnce(&Swim<DriverRng>) -> T) -> T {
        f(&lock(&self.core))
    }

    fn publish(&self, core: &mut Swim<DriverRng>) {
        while let Some(q) = core.poll_query() {
            self.desk.push_job(q);
        }
        while let Some(e) = core.poll_query_event() {
            self.desk.route(e);
        }
        let subs = lock(&self.subscribers);
        while let Some(e) = core.poll_event() {
            log_event(core.name().as_str(), &e);
            for s in subs.iter() {
                let mut s = lock(s);
                if s.queue.len() >= self.max_events {
                    s.queue.pop_front();
                    if s.unreported == 0 {
                        tracing::warn!(
                            max_event_queue = self.max_events,
                            "an event stream fell behind; its oldest events are being dropped"
                        );
                    }
                    s.unreported += 1;
                    s.missed += 1;
                    self.events_dropped.fetch_add(1, Ordering::Relaxed);
                }
                s.queue.push_back(e.clone());
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            }
        }
        drop(subs);
        if core.has_yielded() && !self.is_closed() {
            // Lost a name conflict: the node stops, as Serf's does.
            self.close();
        }
    }

    /// Registers a message handler (called for direct and broadcast
    /// messages, on the handler thread).
    pub fn on_message(&self, f: impl Fn(&Message<'_>) + Send + Sync + 'static) -> MessageHandler {
        self.handoff.register(Arc::new(f))
    }

    /// Registers a handler run on the receive path (`Cluster::on_message_inline`).
    pub fn on_message_inline(&self, f: impl Fn(&Message<'_>) + Send + Sync + 'static) -> MessageHandler {
        self.handoff.register_inline(Arc::new(f))
    }

    /// Wakes the protocol loop (to send what a call outside the receive
    /// path queued, e.g. a query answer).
    pub(crate) fn poke(&self) {
        self.wake.notify();
    }

    /// The node's query handler and running queries.
    pub(crate) fn desk(&self) -> &crate::io::queries::Desk {
        &self.desk
    }

    /// Runs the message handlers until the node is closed: the body of the
    /// node's handler thread.
    pub fn run_handlers(&self) {
        self.handoff.run();
    }

    /// A new event stream: a `Join` for every live member but this node,
    /// then every event from now on (see [`Events`]).
    pub fn events(self: &Arc<Self>) -> Events {
        // Under the core's lock, which every publication holds: no event can
        // fall between the snapshot and the stream. Events the core made but
        // no one published yet go to the older streams first.
        let mut core = lock(&self.core);
        self.publish(&mut core);
        let local = core.name().clone();
        let queue: VecDeque<Event> =
            core.members().into_iter().filter(|n| n.id != local).map(Event::Join).collect();
        // The flag is read under the list's lock: close() sets it before
        // closing the listed streams, so a new stream is closed either way.
        let mut subs = lock(&self.subscribers);
        let sub = Arc::new(Mutex::new(SubState { queue, closed: self.is_closed(), ..SubState::default() }));
        subs.push(sub.clone());
        drop(subs);
        drop(core);
        Events { sub, shared: self.clone() }
    }

    /// Events dropped because a subscriber did not keep up.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    /// Handles the received datagrams under one lock, then runs the message
    /// handlers outside it (they may call back into the cluster).
    pub fn handle_packets(&self, slots: &mut [RecvSlot], staging: &mut Staging) {
        staging.clear();
        {
            let now = self.now();
            let mut core = lock(&self.core);
            for (i, slot) in slots.iter_mut().enumerate() {
                let len = slot.len.min(slot.buf.len());
                let base = slot.buf.as_ptr() as usize;
                let from = slot.from;
                for datagram in slot.datagrams_mut() {
                    core.handle_packet(now, from, datagram, &mut |d| staging.record(i, base, len, from, &d));
                }
            }
            self.settle(&mut core);
        }
        let buf = |i: usize| slots.get(i).map_or(&[][..], |s| &s.buf[..s.len.min(s.buf.len())]);
        self.hand_off(buf, staging);
    }

    /// Copies what the core delivered into the handlers' queue (nothing to
    /// copy when no handler is registered).
    fn hand_off<'a>(&self, buf: impl Fn(usize) -> &'a [u8] + Copy, staging: &'a Staging) {
        if staging.items.is_empty() {
            return;
        }
        let msgs = || {
            staging.items.iter().map(move |s| Outgoing {
                sender: &s.sender,
                from: s.from,
                kind: s.kind,
                topic: staging.resolve(buf, &s.topic),
                payload: staging.resolve(buf, &s.payload),
            })
        };
        self.handoff.run_inline(msgs());
        if self.handoff.has_handlers() {
            self.handoff.push(msgs());
        }
    }

    /// Runs the core's timers if due, and returns when they are due next:
    /// the deadline the protocol loop sleeps until (a change wakes it only
    /// if it moves that earlier). One lock, one scan of the timers.
    pub fn handle_timeout(&self) -> std::time::Instant {
        let now = self.now();
        let mut core = lock(&self.core);
        if core.poll_timeout() <= now {
            core.handle_timeout(now);
        }
        self.publish(&mut core);
        let next = core.poll_timeout();
        self.planned.store(next.as_nanos(), Ordering::Relaxed);
        self.to_std(next)
    }

    /// Waits until something changed that the protocol loop should look at.
    pub fn changed(&self) -> impl Future<Output = ()> + '_ {
        core::future::poll_fn(move |cx| self.wake.poll(cx))
    }

    /// The next datagram to send, encoded into `buf`.
    pub fn next_transmit(&self, buf: &mut [u8]) -> Option<Transmit> {
        let now = self.now();
        lock(&self.core).poll_transmit(now, buf)
    }

    /// The TCP exchanges the core wants carried out.
    pub fn take_stream_requests(&self) -> Vec<StreamRequest> {
        let mut core = lock(&self.core);
        core::iter::from_fn(|| core.poll_stream_request()).collect()
    }

    /// A reader that finds the one message on a stream as its bytes arrive
    /// (`inbound`: an accepted connection, where a label header may come first).
    pub fn frame_reader(&self, inbound: bool) -> FrameReader {
        lock(&self.core).frame_reader(inbound)
    }

    /// Handles a message from an accepted stream; returns the reply to write.
    pub fn handle_inbound_stream(
        &self,
        from: SocketAddr,
        frame: &mut [u8],
    ) -> Result<Option<Vec<u8>>, StreamError> {
        self.with_stream_frame(from, frame, |core, now, frame, deliver| {
            core.handle_stream(now, from, frame, deliver)
        })
    }

    /// Runs `f` on the core with a stream frame, then hands what it
    /// delivered to the handlers (after the core's lock is released).
    fn with_stream_frame<T>(
        &self,
        from: SocketAddr,
        frame: &mut [u8],
        f: impl FnOnce(&mut Swim<DriverRng>, Instant, &mut [u8], &mut dyn FnMut(Delivery<'_>)) -> T,
    ) -> T {
        let mut staging = Staging::default();
        let (base, len) = (frame.as_ptr() as usize, frame.len());
        let r =
            self.with_core(|core, now| f(core, now, frame, &mut |d| staging.record(0, base, len, from, &d)));
        let frame: &[u8] = frame;
        self.hand_off(|_| frame, &staging);
        r
    }

    /// Handles the reply frame of exchange `id` with `from` (broadcasts
    /// replayed from a peer's state go to the handlers).
    pub fn handle_stream_reply(
        &self,
        id: u64,
        from: SocketAddr,
        frame: &mut [u8],
    ) -> Result<(), StreamError> {
        self.with_stream_frame(from, frame, |core, now, frame, deliver| {
            core.handle_stream_reply(now, id, frame, deliver)
        })
    }

    /// Reports that exchange `id` failed.
    pub fn stream_failed(&self, id: u64) {
        self.with_core(|core, _| core.handle_stream_failed(id));
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the node shut down: event streams end, loops should stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.handoff.close();
        self.desk.close();
        self.sends.close();
        for s in lock(&self.subscribers).iter() {
            let mut s = lock(s);
            s.closed = true;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
        self.wake.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamFrame;

    #[test]
    fn a_large_push_pull_is_framed_as_it_arrives() {
        // A push-pull with 20,000 members (~700 KB), fed in 16 KiB reads.
        let cfg = Config { node_name: Some("big".into()), ..Config::default() };
        let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        let mut swim = Swim::new(cfg, addr, DriverRng::seed_from_u64(1), Instant::ZERO).unwrap();
        let mut msg = Vec::new();
        let header = crate::wire::PushPullHeader { nodes: 20_000, user_state_len: 3, join: true };
        let names: Vec<alloc::string::String> = (0..20_000).map(|i| alloc::format!("member-{i}")).collect();
        let nodes = names.iter().map(|n| crate::wire::PushNodeState {
            name: n,
            addr: &[127, 0, 0, 1],
            port: 7946,
            meta: &[],
            incarnation: 1,
            state: 0,
            vsn: &[1, 5, 2, 2, 5, 5],
        });
        crate::wire::encode_push_pull(&mut msg, &header, nodes, b"abc");
        let mut reader = swim.frame_reader(true);
        let mut buf = Vec::new();
        let mut found = None;
        for chunk in msg.chunks(16 * 1024) {
            assert!(found.is_none(), "complete before the last byte");
            buf.extend_from_slice(chunk);
            if let StreamFrame::Complete { start, end } = reader.poll(&buf).unwrap() {
                found = Some((start, end));
            }
        }
        assert_eq!(found, Some((0, msg.len())));
        let (start, end) = found.unwrap();
        let reply = swim.handle_stream(Instant::ZERO, addr, &mut buf[start..end], &mut |_| {}).unwrap();
        assert!(reply.is_some());
        assert_eq!(swim.members().len(), 20_001);
    }
}
