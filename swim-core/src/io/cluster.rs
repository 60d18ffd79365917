//! The user API, written once for every runtime (feature `std`): `swim-tokio`
//! and `swim-smol` export it as `Cluster` with their [`Runtime`].
//!
//! Three background tasks move bytes and time between the sockets and the
//! core: the protocol loop (timers, outgoing datagrams, stream exchanges), the
//! UDP receiver (batched), and the TCP acceptor.
//!
//! `tracing`: a `join{seeds}` span at `info` (the only `info` lines a healthy
//! node writes are its creation and its join), a `stream{kind, peer, id}`
//! span per outgoing TCP exchange and a `stream_in{peer}` span per accepted
//! one at `debug`; each records bytes, outcome and `duration_ms`. The core
//! adds a `probe{peer, seq}` span per probe round.

extern crate std;

use crate::io::advertise;
use crate::io::driver::{
    BroadcastError, CreateError, Events, JoinError, LeaveError, RecvSlot, SeedError, SeedFailure, SendError,
    Shared, Staging,
};
use crate::io::handoff::{Message, MessageHandler};
use crate::io::runtime::{timeout, Conn, Listener, Runtime, Udp};
use crate::io::send_queue::{Batch, Outbox};
use crate::{
    Config, KeyringError, Metrics, Node, NodeId, StreamError, StreamFrame, StreamRequest, TagsError,
};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::Poll;
use core::time::Duration;
use std::sync::Mutex;
use std::time::Instant as StdInstant;
use tracing::Instrument;

/// A running cluster node. Cheap to clone: clones share the node. Dropping
/// the last clone stops its tasks (without leaving: call
/// [`leave`](Self::leave) first for a graceful exit).
///
/// After [`shutdown`](Self::shutdown) every operation fails with a
/// `Shutdown` error ([`members`](Self::members) is then empty).
///
/// Methods that read the node ([`members`](Self::members),
/// [`metrics`](Self::metrics), ...) take the core's lock briefly and copy
/// what they return; they never wait on the network.
pub struct Cluster<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Cluster<R> {
    fn clone(&self) -> Self {
        Cluster { inner: self.inner.clone() }
    }
}

struct Inner<R: Runtime> {
    rt: R,
    shared: Arc<Shared>,
    /// `None` once shut down: the port is then free again.
    socket: Mutex<Option<Arc<R::Udp>>>,
    listener: Mutex<Option<R::Listener>>,
    local_addr: SocketAddr,
    tasks: Mutex<Vec<R::Task>>,
}

impl<R: Runtime> Drop for Inner<R> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl<R: Runtime> fmt::Debug for Cluster<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").field("local_addr", &self.inner.local_addr).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Runtime> Cluster<R> {
    /// Validates `config` and binds the UDP and TCP listeners on
    /// `bind_addr:bind_port` (port 0: the OS picks one, the same for both).
    /// Nothing runs until [`start`](Self::start).
    ///
    /// Errors: [`CreateError`] names the configuration field at fault, the
    /// address that could not be bound, or that no address can be
    /// advertised; [`CreateError::NoRuntime`] outside the driver's runtime.
    /// Cancellation safe: dropping the future closes what it bound.
    pub async fn create(config: Config) -> Result<Self, CreateError> {
        let rt = R::try_current().ok_or(CreateError::NoRuntime)?;
        Self::create_on(rt, config).await
    }

    /// [`create`](Self::create) on a runtime given explicitly instead of
    /// the caller's: the node's tasks run on `rt` — e.g. a smol `Executor`
    /// of your own (`swim_smol::Smol::on`), so that a single-threaded
    /// program keeps every task on its one thread.
    pub async fn create_on(rt: R, config: Config) -> Result<Self, CreateError> {
        config.validate()?;
        if !config.encryption_enabled && config.secret_key.iter().any(|&b| b != 0) {
            tracing::warn!("secret_key is set but encryption_enabled is false: traffic is NOT encrypted");
        }
        let bind = SocketAddr::new(config.bind_addr, config.bind_port);
        let (socket, listener) = bind_both(&rt, bind).await?;
        let bound = socket.local_addr().map_err(|source| CreateError::Bind { addr: bind, source })?;
        let advertise = advertise::advertise_addr(config.advertise_addr, bound)?;
        let mut config = config;
        if config.node_name.is_none() {
            config.node_name = advertise::host_name();
            match &config.node_name {
                Some(name) => tracing::info!(%name, "node_name not set: using the host name"),
                None => {
                    tracing::warn!(%advertise, "node_name not set and the host name is unusable: using the address")
                }
            }
        }
        let shared = Shared::new(config, advertise)?;
        tracing::info!(name = %shared.read(|c| c.name().clone()), %bound, %advertise, "swim node created");
        Ok(Cluster {
            inner: Arc::new(Inner {
                rt,
                shared,
                socket: Mutex::new(Some(Arc::new(socket))),
                listener: Mutex::new(Some(listener)),
                local_addr: advertise,
                tasks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Starts the background tasks (protocol loop, UDP receiver, TCP
    /// listener) and the thread that runs the message handlers. Calling it
    /// twice, or after [`shutdown`](Self::shutdown), does nothing.
    pub fn start(&self) {
        let Some(socket) = self.socket() else { return };
        let Some(listener) = lock(&self.inner.listener).take() else { return };
        let (rt, shared, socket) = (&self.inner.rt, &self.inner.shared, &socket);
        let handlers = shared.clone();
        if let Err(e) = rt.spawn_thread("swim-handlers", move || handlers.run_handlers()) {
            tracing::error!(error = %e, "cannot start the message handler thread; messages will not be delivered");
        }
        let tasks = [
            rt.spawn(protocol_loop(rt.clone(), shared.clone(), socket.clone())),
            rt.spawn(recv_loop(rt.clone(), shared.clone(), socket.clone())),
            rt.spawn(send_loop(shared.clone(), socket.clone())),
            rt.spawn(accept_loop(rt.clone(), shared.clone(), socket.clone(), listener)),
        ];
        lock(&self.inner.tasks).extend(tasks);
    }

    /// Joins the cluster through the given seeds (`"host:port"` names or
    /// addresses), exchanging full state with each over TCP. Returns how many
    /// addresses answered: a name is resolved and every address it resolves
    /// to is contacted (as Go memberlist does); seeds are contacted one after
    /// another, each exchange bounded by `Config::tcp_timeout`.
    ///
    /// Starts the node first if [`start`](Self::start) was not called.
    ///
    /// Seeds that cannot be resolved or reached are tried again with
    /// exponential backoff (250 ms doubling to 4 s, jittered) until one
    /// answers or `Config::join_timeout` has passed, so a join survives
    /// packet loss and a seed that starts a little later. A seed whose
    /// cluster refuses this node (`JoinError::Rejected`) is not retried.
    /// Whatever the outcome, the seeds are remembered and tried again in the
    /// background whenever this node finds itself alone
    /// (`Config::reconnect_interval`), like Consul's `retry_join`.
    ///
    /// Errors: [`JoinError::NoSeedsReachable`] with each seed's last reason,
    /// [`JoinError::Rejected`], [`JoinError::NoSeeds`],
    /// [`JoinError::Shutdown`].
    ///
    /// Cancellation safe: dropping the future abandons the exchange in
    /// flight (its connection is closed and the core forgets it); state
    /// already merged from a seed stays merged.
    pub async fn join<S: AsRef<str>>(&self, seed_nodes: &[S]) -> Result<usize, JoinError> {
        if self.inner.shared.is_closed() {
            return Err(JoinError::Shutdown);
        }
        if seed_nodes.is_empty() {
            return Err(JoinError::NoSeeds);
        }
        self.start();
        let seeds: Vec<&str> = seed_nodes.iter().map(|s| s.as_ref()).collect();
        let span = tracing::info_span!(
            "join",
            seeds = ?seeds,
            contacted = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = StdInstant::now();
        let r = self.join_seeds(seeds).instrument(span.clone()).await;
        span.record("contacted", r.as_ref().copied().unwrap_or(0));
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
        span.in_scope(|| match &r {
            Ok(n) => tracing::info!(contacted = n, "joined"),
            Err(e) => tracing::warn!(error = %e, "join failed"),
        });
        r
    }

    async fn join_seeds(&self, mut pending: Vec<&str>) -> Result<usize, JoinError> {
        let inner = &self.inner;
        let socket = self.socket().ok_or(JoinError::Shutdown)?;
        let deadline = StdInstant::now() + inner.shared.with_core(|core, _| core.config().join_timeout);
        let mut contacted = 0;
        let mut rejected = None;
        let mut wait = JOIN_BACKOFF_START;
        // Each seed's last failure, in the order given.
        let mut failures: Vec<SeedFailure> = Vec::new();
        let mut fail = |seed: &str, addr, reason| {
            let f = SeedFailure { seed: seed.to_string(), addr, reason };
            match failures.iter_mut().find(|f| f.seed == seed) {
                Some(old) => *old = f,
                None => failures.push(f),
            }
        };
        for attempt in 1u32.. {
            let mut retry = Vec::new();
            for seed in pending {
                let addrs = match inner.rt.resolve(seed).await {
                    Ok(addrs) if !addrs.is_empty() => addrs,
                    Ok(_) => {
                        tracing::warn!(seed, attempt, "seed resolves to no address");
                        fail(seed, None, SeedError::NoAddress);
                        retry.push(seed);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(seed, attempt, error = %e, "cannot resolve seed");
                        fail(seed, None, SeedError::Resolve(e));
                        retry.push(seed);
                        continue;
                    }
                };
                let mut answered = false;
                for addr in dedup(addrs) {
                    if self.inner.shared.is_closed() {
                        return Err(JoinError::Shutdown);
                    }
                    let req = inner.shared.with_core(|core, now| core.join(now, addr));
                    match exchange(&inner.rt, &inner.shared, &*socket, req).await {
                        Ok(()) => {
                            contacted += 1;
                            answered = true;
                        }
                        Err(ExchangeError::Protocol(reason @ StreamError::IncompatibleVersions { .. })) => {
                            tracing::warn!(seed, %addr, error = %reason, "seed refused the join");
                            rejected = Some(JoinError::Rejected { seed: seed.to_string(), reason });
                            answered = true;
                        }
                        Err(e) => {
                            tracing::info!(seed, %addr, attempt, error = %e, "cannot join through seed yet");
                            fail(seed, Some(addr), e.into_seed_error());
                        }
                    }
                }
                if !answered {
                    retry.push(seed);
                }
            }
            pending = retry;
            let now = StdInstant::now();
            if contacted > 0 || pending.is_empty() || now >= deadline {
                break;
            }
            let sleep = jittered(wait).min(deadline - now);
            inner.rt.sleep_until(now + sleep).await;
            wait = (wait * 2).min(JOIN_BACKOFF_MAX);
        }
        if contacted == 0 && rejected.is_none() {
            tracing::warn!(seeds = ?pending, "no seed answered before join_timeout; retrying in the background while alone");
        }
        if self.inner.shared.is_closed() {
            return Err(JoinError::Shutdown);
        }
        match (contacted, rejected) {
            (0, Some(r)) => Err(r),
            (0, None) => Err(JoinError::NoSeedsReachable { failures }),
            (n, _) => Ok(n),
        }
    }

    /// Gossips `payload` under `topic` to every member (eventually
    /// consistent; each node delivers it once; this node does not). Queues
    /// it and returns at once; it rides on the next gossip rounds.
    ///
    /// Errors: `TooLarge` past [`max_broadcast_payload`](Self::max_broadcast_payload),
    /// `TopicTooLong`, `Leaving` after [`leave`](Self::leave), `Shutdown`.
    /// A full gossip queue (`max_gossip_queue_depth`) drops the oldest item
    /// and counts it (`Metrics::gossip_queue_dropped`).
    pub fn broadcast(&self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        self.live().ok_or(BroadcastError::Shutdown)?.with_core(|core, _| core.broadcast(topic, payload))
    }

    /// Gossips `payload` as the latest value of `topic` ("latest value
    /// wins", memberlist's `NamedBroadcast`): a newer `broadcast_latest` of
    /// the topic replaces this one in every swim node's gossip queue while
    /// it is queued, and no swim node delivers it after a newer one — for
    /// state where only the last value matters (topics are cluster-wide:
    /// put the node's name in the topic for per-node state). Serf agents take it as a
    /// user event with the coalesce flag. Same errors and costs as
    /// [`broadcast`](Self::broadcast).
    pub fn broadcast_latest(&self, topic: &str, payload: &[u8]) -> Result<(), BroadcastError> {
        self.live()
            .ok_or(BroadcastError::Shutdown)?
            .with_core(|core, _| core.broadcast_latest(topic, payload))
    }

    /// Asks the cluster the query `name` with `payload` (Serf's `Query`):
    /// gossiped to every member; each node that passes `params`' filters
    /// acks it (if asked) and answers through its [`on_query`](Self::on_query)
    /// handler, straight back to this node over UDP. Returns at once; read
    /// the answers from the returned [`QueryResponses`](crate::io::queries::QueryResponses)
    /// until the timeout (Serf's default unless `params` sets one). This
    /// node answers its own query too if it has a handler.
    ///
    /// Errors: `TooLarge` past `Config::query_size_limit`, `BadFilter` (an
    /// invalid tag expression), `TooManyRunning`, `Leaving`, `Shutdown`.
    /// Serf agents answer swim's queries, and `serf query` reaches swim nodes.
    pub fn query(
        &self,
        name: &str,
        payload: &[u8],
        params: crate::QueryParams,
    ) -> Result<crate::io::queries::QueryResponses, crate::QueryError> {
        let shared = self.live().ok_or(crate::QueryError::Shutdown)?;
        let arc = &self.inner.shared;
        shared.with_core(|core, now| {
            let id = core.query(now, name, payload, &params)?;
            // Registered before the lock is released, so that no answer
            // (this node's own come at once) is routed before it.
            Ok(crate::io::queries::QueryResponses::new(arc, id))
        })
    }

    /// Installs the query handler (replacing the one before): it sees each
    /// query this node passes the filters of, once, and returns the
    /// response payload (`None`: no response; the ack, if asked, is sent
    /// anyway). It runs on a thread of its own, one query at a time, so a
    /// slow handler delays other queries, never the protocol; up to 64
    /// wait, more are dropped and counted (`Metrics::queries_dropped`). A
    /// response over `Config::query_response_size_limit`, or after the
    /// query's deadline, is not sent (logged at `debug`). Serf's internal
    /// queries (`_serf_*`) are answered by the node itself.
    pub fn on_query(&self, f: impl Fn(&crate::QueryRequest) -> Option<Vec<u8>> + Send + Sync + 'static) {
        let shared = &self.inner.shared;
        if shared.desk().set_handler(Arc::new(f)) {
            let s = shared.clone();
            if let Err(e) =
                self.inner.rt.spawn_thread("swim-queries", move || crate::io::queries::Desk::run(&s))
            {
                tracing::error!(error = %e, "cannot start the query handler thread; queries will not be answered");
            }
        }
    }

    /// A key operation on every member's keyring (what `serf keys`
    /// does): [`KeyOp::Install`](crate::KeyOp), `Use`, `Remove` (never the
    /// primary: a node refuses and reports it) or `List` (`key` unused),
    /// through Serf's internal queries, so Serf agents take part. Waits
    /// until every live member answered or the default query timeout
    /// passed, and reports per node (a [`KeyReport`](crate::KeyReport):
    /// check `is_complete()`; failing nodes' messages in `messages`).
    /// This node's own keyring is changed too.
    ///
    /// Errors: those of [`query`](Self::query). Cancellation safe (the
    /// operation goes on in the cluster).
    pub async fn cluster_keys(
        &self,
        op: crate::KeyOp,
        key: &[u8],
    ) -> Result<crate::KeyReport, crate::QueryError> {
        let n = self.members().len();
        let mut report = crate::KeyReport::new(n);
        let mut answers = self.query(op.query_name(), &op.payload(key), crate::QueryParams::default())?;
        while let Some(e) = answers.next().await {
            if let crate::QueryEvent::Response { from, payload, .. } = e {
                report.add(&from, &payload);
                if report.num_resp >= n {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// This node's network coordinate (Serf's Vivaldi; see
    /// `Config::coordinates`).
    pub fn coordinate(&self) -> crate::Coordinate {
        self.inner.shared.read(|c| c.coordinate())
    }

    /// The last coordinate member `name` sent this node (its own for its
    /// own name); `None` before a direct probe of it succeeded.
    pub fn member_coordinate(&self, name: &str) -> Option<crate::Coordinate> {
        self.inner.shared.read(|c| c.member_coordinate(name))
    }

    /// The round-trip time between members `a` and `b` (either may be this
    /// node) that their coordinates predict, as `serf rtt a b` computes it.
    pub fn estimate_rtt(&self, a: &str, b: &str) -> Option<Duration> {
        self.inner.shared.read(|c| c.estimate_rtt(a, b))
    }

    /// Removes the query handler: queries are still acked, not answered.
    pub fn clear_query_handler(&self) {
        self.inner.shared.desk().clear_handler();
    }

    /// Installs the application's [`Hooks`](crate::Hooks) — admission of
    /// members, name-conflict notices, ack payloads and probe results,
    /// application state in push-pull — replacing any installed before.
    /// They run on the node's tasks with its state locked: keep them quick
    /// and never call this `Cluster` from inside one (it would deadlock).
    /// After shutdown this does nothing.
    pub fn set_hooks(&self, hooks: impl crate::Hooks + 'static) {
        if let Some(s) = self.live() {
            s.with_core(|core, _| core.set_hooks(std::boxed::Box::new(hooks)));
        }
    }

    /// Sends a direct message to the live member `target` over UDP; returns
    /// once it is queued for the node's send task. A message sent while
    /// nothing else waits goes out at once in a datagram of its own;
    /// messages that pile up while the task is sending share datagrams
    /// (memberlist compound messages up to `udp_buffer_size`, encrypted once
    /// each; Go memberlist reads them). No allocation once warm. Delivery is
    /// not acknowledged (UDP).
    ///
    /// Past `Config::send_queue_depth` waiting messages it waits for room
    /// (backpressure: nothing is dropped; [`try_send`](Self::try_send) does
    /// not wait).
    ///
    /// Errors: `UnknownNode` (not a live member), `TooLarge` past
    /// [`max_direct_payload`](Self::max_direct_payload), `TopicTooLong`,
    /// `Shutdown`. The socket's own refusals are counted
    /// (`Metrics::udp_send_errors`), not returned. Cancellation safe: a
    /// message is either queued or not.
    pub async fn send(&self, target: &NodeId, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        self.queue(|core| core.direct_route(target), topic, payload).await
    }

    /// Sends a direct message to `addr`, member or not (as [`send`](Self::send)).
    pub async fn send_to_addr(&self, addr: SocketAddr, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        self.queue(|core| Ok(core.direct_route_to_addr(addr)), topic, payload).await
    }

    /// [`send`](Self::send) without waiting: `SendError::QueueFull` when
    /// `Config::send_queue_depth` messages are already waiting (counted in
    /// `Metrics::send_queue_full`). Callable from any thread, e.g. from an
    /// `on_message` handler replying to a message.
    pub fn try_send(&self, target: &NodeId, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        let shared = self.live().ok_or(SendError::Shutdown)?;
        Ok(shared.queue_direct(None, |core| core.direct_route(target), topic, payload, self.send_now())?)
    }

    /// [`send_to_addr`](Self::send_to_addr) without waiting (as [`try_send`](Self::try_send)).
    pub fn try_send_to_addr(&self, addr: SocketAddr, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        let shared = self.live().ok_or(SendError::Shutdown)?;
        let route = |core: &crate::Swim<_>| Ok(core.direct_route_to_addr(addr));
        Ok(shared.queue_direct(None, route, topic, payload, self.send_now())?)
    }

    /// Waits until every direct message queued before the call has been
    /// handed to the socket (returns at once when nothing is queued, or
    /// after shutdown; before [`start`](Self::start), messages wait for the
    /// node's send task, and so does this). [`shutdown`](Self::shutdown)
    /// does not wait: flush first to send what is queued. Cancellation safe.
    pub async fn flush(&self) {
        let shared = &self.inner.shared;
        core::future::poll_fn(|cx| shared.sends.poll_flushed(cx)).await
    }

    /// The socket's non-blocking send, for a message sent inline.
    fn send_now(&self) -> impl FnOnce(&[u8], SocketAddr) -> std::io::Result<usize> + '_ {
        move |buf, addr| match self.socket() {
            Some(s) => s.try_send_to(buf, addr),
            None => Err(std::io::ErrorKind::WouldBlock.into()),
        }
    }

    async fn queue(
        &self,
        route: impl Fn(&crate::Swim<crate::io::driver::DriverRng>) -> Result<crate::DirectRoute, crate::SendError>,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let shared = self.live().ok_or(SendError::Shutdown)?;
        core::future::poll_fn(|cx| {
            match shared.queue_direct(Some(cx), &route, topic, payload, self.send_now()) {
                Err(crate::io::send_queue::PushError::Full) => Poll::Pending,
                r => Poll::Ready(r.map_err(SendError::from)),
            }
        })
        .await
    }

    /// Sends a message of any size (up to 20 MiB) over TCP to `addr`: one
    /// connection per message, closed once written; returns when the bytes
    /// are written (the peer does not acknowledge them).
    ///
    /// Errors: `TooLarge`, `TopicTooLong`, `Io` (connection refused, reset),
    /// `Timeout` (`Config::tcp_timeout`), `Stream`, `Shutdown`.
    /// Cancellation safe: dropping the future closes the connection.
    pub async fn send_reliable(
        &self,
        addr: SocketAddr,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let inner = &self.inner;
        let socket = self.socket().ok_or(SendError::Shutdown)?;
        let req = inner.shared.with_core(|core, _| core.send_reliable(addr, topic, payload))?;
        exchange(&inner.rt, &inner.shared, &*socket, req).await.map_err(|e| match e {
            ExchangeError::Io(e) => SendError::Io(e),
            ExchangeError::Timeout => SendError::Timeout,
            ExchangeError::Protocol(e) => SendError::Stream(e),
            // Only inbound streams are budgeted.
            e @ ExchangeError::Refused => SendError::Io(std::io::Error::other(e.to_string())),
        })
    }

    /// [`send_reliable`](Self::send_reliable) to the live member `target`
    /// (`UnknownNode` if it is not one).
    pub async fn send_reliable_to(
        &self,
        target: &NodeId,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let addr = self
            .member(target.as_str())
            .filter(|n| n.state.is_live())
            .ok_or_else(|| SendError::UnknownNode(target.clone()))?
            .addr;
        self.send_reliable(addr, topic, payload).await
    }

    /// Registers a handler for incoming messages (direct and broadcast),
    /// called with the sender, the topic and the payload. See
    /// [`on_message_with`](Self::on_message_with) for how handlers run and
    /// for the message's kind and source address.
    pub fn on_message(&self, f: impl Fn(&Node, &str, &[u8]) + Send + Sync + 'static) -> MessageHandler {
        self.inner.shared.on_message(move |m| f(m.sender, m.topic, m.payload))
    }

    /// Registers a handler for incoming messages that also learns whether
    /// each was a direct send or a broadcast and the address it came from.
    ///
    /// Handlers run one message at a time on the node's handler thread
    /// (inside the runtime's context: a handler may spawn tasks), off the
    /// receive path: a slow handler delays the messages behind it, never the
    /// protocol's acks. Messages wait in a queue of
    /// `Config::handoff_queue_depth`; past it new ones are dropped and
    /// counted (`Metrics::handoff_dropped`). A handler that panics is caught
    /// and counted (`Metrics::handler_panics`). Returns a handle whose
    /// [`unregister`](MessageHandler::unregister) removes the handler;
    /// dropping the handle keeps it registered.
    pub fn on_message_with(&self, f: impl Fn(&Message<'_>) + Send + Sync + 'static) -> MessageHandler {
        self.inner.shared.on_message(f)
    }

    /// Registers a handler that runs on the node's receive task itself, as
    /// each datagram is processed: no copy, no queue, no thread hop — the
    /// lowest latency, for request/response over direct messages (reply
    /// with [`try_send`](Self::try_send)). It must return quickly and never
    /// block: while it runs the node reads no datagram, acks included, so a
    /// slow inline handler gets its node suspected. Use
    /// [`on_message_with`](Self::on_message_with) for anything slower. The
    /// message is borrowed from the receive buffer; a panic is caught and
    /// counted (`Metrics::handler_panics`). Inline handlers run before the
    /// queued ones, and only for messages received over UDP and streams
    /// after registration.
    pub fn on_message_inline(&self, f: impl Fn(&Message<'_>) + Send + Sync + 'static) -> MessageHandler {
        self.inner.shared.on_message_inline(f)
    }

    /// A stream of membership events: first a `Join` for every member alive
    /// or suspect now (so subscribing after [`join`](Self::join) misses
    /// nothing), then every change. See [`Events`] for lag and shutdown.
    pub fn events(&self) -> Events {
        self.inner.shared.events()
    }

    /// The live members (alive or suspect), this node first: a copy of the
    /// table (O(members)). Empty after [`shutdown`](Self::shutdown).
    pub fn members(&self) -> Vec<Node> {
        match self.live() {
            Some(shared) => shared.read(|c| c.members()),
            None => Vec::new(),
        }
    }

    /// Every member this node knows of, whatever its state (dead and left
    /// ones until they are forgotten), this node first: a copy of the
    /// table. Empty after [`shutdown`](Self::shutdown).
    pub fn all_members(&self) -> Vec<Node> {
        match self.live() {
            Some(shared) => {
                shared.read(|c| core::iter::once(c.local_node()).chain(c.all_members()).collect())
            }
            None => Vec::new(),
        }
    }

    /// The member named `name` (this node included), in whatever state this
    /// node knows it (`None` if unknown or forgotten, or after shutdown).
    pub fn member(&self, name: &str) -> Option<Node> {
        self.live()?.read(|c| if c.name().as_str() == name { Some(c.local_node()) } else { c.member(name) })
    }

    /// Lifeguard's local health score: 0 when healthy, higher while this
    /// node misses acks it should get (its probe interval and timeouts are
    /// stretched by that factor). 0 after shutdown.
    pub fn health_score(&self) -> u32 {
        self.live().map_or(0, |s| s.read(|c| c.health_score()))
    }

    /// The largest payload [`broadcast`](Self::broadcast) takes with `topic`.
    pub fn max_broadcast_payload(&self, topic: &str) -> usize {
        self.inner.shared.read(|c| c.max_broadcast_payload(topic))
    }

    /// The largest payload [`send`](Self::send) takes with `topic` (one
    /// datagram of `udp_buffer_size`, after encryption overhead).
    pub fn max_direct_payload(&self, topic: &str) -> usize {
        self.inner.shared.read(|c| c.max_direct_payload(topic))
    }

    /// The keyring's keys, the primary (encrypting) one first.
    /// `KeyringError::Disabled` when encryption is off.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, KeyringError> {
        self.live().ok_or(KeyringError::Shutdown)?.read(|c| {
            let ring = c.keyring().ok_or(KeyringError::Disabled)?;
            Ok(ring.keys().map(<[u8]>::to_vec).collect())
        })
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.shared.is_closed()
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
        let shared = &self.inner.shared;
        let mut m = shared.read(|c| c.metrics());
        shared.add_driver_counters(&mut m);
        m
    }

    /// Replaces this node's tags; other members see an `Update` event.
    /// Errors: `TooLarge` (over 512 bytes encoded), `Leaving`, `Shutdown`.
    pub fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<(), TagsError> {
        self.live().ok_or(TagsError::Shutdown)?.with_core(|core, _| core.set_tags(tags))
    }

    /// Adds a key incoming packets may use (step 1 of a key rotation: do it on
    /// every node, then [`use_key`](Self::use_key) everywhere, then
    /// [`remove_key`](Self::remove_key) the old one).
    pub fn install_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.live().ok_or(KeyringError::Shutdown)?.with_core(|core, _| core.install_key(key))
    }

    /// Encrypts outgoing packets with an installed key from now on.
    pub fn use_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.live().ok_or(KeyringError::Shutdown)?.with_core(|core, _| core.use_key(key))
    }

    /// Removes a key that is no longer primary.
    pub fn remove_key(&self, key: &[u8]) -> Result<(), KeyringError> {
        self.live().ok_or(KeyringError::Shutdown)?.with_core(|core, _| core.remove_key(key))
    }

    /// Leaves gracefully: tells the cluster this node is leaving and waits
    /// until the news has spread (been gossiped its full retransmit limit, as
    /// memberlist and Serf wait for), or `timeout`. The node keeps answering
    /// probes until [`shutdown`](Self::shutdown); broadcasts and tag changes
    /// are refused from now on.
    ///
    /// `Ok` once the leave has spread (at once when this node is alone);
    /// [`LeaveError::Timeout`] if it had not by `timeout`;
    /// [`LeaveError::Shutdown`] after shutdown. Cancellation safe: the leave
    /// goes on in the background; calling `leave` again waits for it.
    pub async fn leave(&self, timeout: Duration) -> Result<(), LeaveError> {
        let rt = &self.inner.rt;
        let shared = self.live().ok_or(LeaveError::Shutdown)?;
        shared.with_core(|core, now| core.leave(now));
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if shared.is_closed() {
                return Err(LeaveError::Shutdown);
            }
            if shared.read(|c| c.leave_complete()) {
                return Ok(());
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(LeaveError::Timeout);
            }
            rt.sleep_until((now + Duration::from_millis(10)).min(deadline)).await;
        }
    }

    /// Stops every task and closes the sockets, so the port is free again
    /// when this returns (without leaving: peers will detect this node as
    /// failed unless [`leave`](Self::leave) ran first). Event streams end;
    /// queued messages are dropped (a handler running finishes on its
    /// thread); every later operation fails with a `Shutdown` error.
    /// Calling it again does nothing.
    pub async fn shutdown(&self) {
        self.inner.shared.close();
        let tasks: Vec<R::Task> = lock(&self.inner.tasks).drain(..).collect();
        for t in tasks {
            R::cancel(t).await;
        }
        lock(&self.inner.socket).take();
        lock(&self.inner.listener).take();
    }

    /// The driver state, for the shared test suite.
    #[cfg(feature = "test-suite")]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The shared state, unless shut down.
    fn live(&self) -> Option<&Arc<Shared>> {
        (!self.inner.shared.is_closed()).then_some(&self.inner.shared)
    }

    /// The UDP socket, unless shut down.
    fn socket(&self) -> Option<Arc<R::Udp>> {
        if self.inner.shared.is_closed() {
            return None;
        }
        lock(&self.inner.socket).clone()
    }
}

async fn bind_both<R: Runtime>(rt: &R, bind: SocketAddr) -> Result<(R::Udp, R::Listener), CreateError> {
    let err = |addr, source| CreateError::Bind { addr, source };
    if bind.port() != 0 {
        let udp = rt.bind_udp(bind).await.map_err(|e| err(bind, e))?;
        let tcp = rt.bind_tcp(bind).await.map_err(|e| err(bind, e))?;
        return Ok((udp, tcp));
    }
    // Port 0: take the OS's UDP port and the same for TCP; retry if taken.
    let mut last = None;
    for _ in 0..16 {
        let udp = rt.bind_udp(bind).await.map_err(|e| err(bind, e))?;
        let addr = udp.local_addr().map_err(|e| err(bind, e))?;
        match rt.bind_tcp(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(err(addr, e)),
        }
    }
    Err(last.unwrap_or_else(|| err(bind, std::io::Error::other("no free port"))))
}

/// Sends every datagram the core has ready.
async fn flush(shared: &Shared, socket: &impl Udp) {
    let mut buf = shared.send_pool.take();
    while let Some(t) = shared.next_transmit(&mut buf) {
        if let Err(e) = socket.send_to(&buf[..t.len], t.dst).await {
            tracing::debug!(dst = %t.dst, error = %e, "udp send failed");
        }
    }
    shared.send_pool.put(buf);
}

async fn protocol_loop<R: Runtime>(rt: R, shared: Arc<Shared>, socket: Arc<R::Udp>) {
    // Stream exchanges run as tasks of their own that end with this loop.
    let mut exchanges = TaskSet::<R>::default();
    #[cfg(feature = "metrics")]
    let mut exporter = crate::io::exporter::Ticker::new(&shared);
    while !shared.is_closed() {
        // Sending and taking stream requests change no timer: the deadline
        // stands until the sleep.
        let deadline = shared.handle_timeout();
        #[cfg(feature = "metrics")]
        let deadline = deadline.min(exporter.tick(&shared));
        flush(&shared, &*socket).await;
        for req in shared.take_stream_requests() {
            let (rt2, shared, socket) = (rt.clone(), shared.clone(), socket.clone());
            exchanges.spawn(&rt, async move {
                if let Err(e) = exchange(&rt2, &shared, &*socket, req).await {
                    tracing::debug!(error = %e, "stream exchange failed");
                }
            });
        }
        futures_lite::future::or(rt.sleep_until(deadline), shared.changed()).await;
    }
}

async fn recv_loop<R: Runtime>(rt: R, shared: Arc<Shared>, socket: Arc<R::Udp>) {
    let (count, size) = shared.read(|c| (c.config().recv_buffer_count.max(1), c.config().udp_buffer_size));
    // Where the socket coalesces datagrams (GRO), a slot holds up to 64 KiB
    // of them: fewer, larger slots.
    let (count, size) = if socket.gro_segments() > 1 { (count.min(8), 1 << 16) } else { (count, size) };
    // Allocated once, for the task's life: received datagrams never leave them.
    let mut slots: Vec<RecvSlot> = (0..count).map(|_| RecvSlot::new(size)).collect();
    let mut staging = Staging::default();
    while !shared.is_closed() {
        // Wait for one datagram, then take whatever else is already queued.
        let filled = match socket.recv_batch(&mut slots).await {
            Ok(n) => n,
            Err(e) => {
                // E.g. ICMP port unreachable surfacing on Linux; back off briefly
                // so a socket in a persistent error state cannot spin.
                tracing::debug!(error = %e, "udp receive failed");
                rt.sleep_until(std::time::Instant::now() + Duration::from_millis(1)).await;
                continue;
            }
        };
        shared.handle_packets(&mut slots[..filled], &mut staging);
        flush(&shared, &*socket).await;
    }
}

/// The send task: drains the direct-send queue into batches of sealed
/// datagrams (see [`crate::io::send_queue`]).
async fn send_loop<U: Udp>(shared: Arc<Shared>, socket: Arc<U>) {
    shared.sends.start();
    let size = shared.read(|c| c.config().udp_buffer_size);
    let mut batch = Batch::default();
    let mut outbox = Outbox::new(size);
    while core::future::poll_fn(|cx| shared.sends.poll_take(cx, &mut batch)).await {
        batch.prepare();
        loop {
            let more = shared.fill_outbox(&mut batch, &mut outbox);
            if !outbox.segments.is_empty() {
                let failed = socket.send_batch(outbox.filled(), &outbox.segments).await;
                shared.count_send_errors(failed);
                outbox.clear();
            }
            if !more {
                break;
            }
        }
        shared.sends.sent();
    }
}

/// Tasks owned by a loop: cancelled when it ends, forgotten once finished.
struct TaskSet<R: Runtime> {
    tasks: Vec<(Arc<AtomicBool>, R::Task)>,
}

impl<R: Runtime> Default for TaskSet<R> {
    fn default() -> Self {
        TaskSet { tasks: Vec::new() }
    }
}

impl<R: Runtime> TaskSet<R> {
    fn spawn(&mut self, rt: &R, fut: impl core::future::Future<Output = ()> + Send + 'static) {
        self.tasks.retain(|(done, _)| !done.load(Ordering::Acquire));
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let task = rt.spawn(async move {
            fut.await;
            flag.store(true, Ordering::Release);
        });
        self.tasks.push((done, task));
    }

    fn running(&mut self) -> usize {
        self.tasks.retain(|(done, _)| !done.load(Ordering::Acquire));
        self.tasks.len()
    }
}

/// Inbound streams served at once; more wait in the listen backlog
/// (memberlist allows 128 concurrent push-pulls).
const MAX_INBOUND_STREAMS: usize = 128;

async fn accept_loop<R: Runtime>(rt: R, shared: Arc<Shared>, socket: Arc<R::Udp>, listener: R::Listener) {
    let mut served = TaskSet::<R>::default();
    while !shared.is_closed() {
        let (conn, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                rt.sleep_until(std::time::Instant::now() + Duration::from_millis(10)).await;
                continue;
            }
        };
        if !shared.with_core_quiet(|c| c.admit_peer(from)) {
            tracing::debug!(%from, "peer outside cidrs_allowed; closing");
            drop(conn);
            continue;
        }
        if served.running() >= MAX_INBOUND_STREAMS {
            tracing::debug!(%from, "too many inbound streams; closing");
            shared.stream_refused();
            drop(conn);
            continue;
        }
        let (rt2, shared, socket) = (rt.clone(), shared.clone(), socket.clone());
        served.spawn(&rt, async move {
            let limit = shared.read(|c| c.config().tcp_timeout);
            match timeout(&rt2, limit, serve(&shared, conn, from)).await {
                Some(Ok(())) => flush(&shared, &*socket).await,
                Some(Err(e)) => tracing::debug!(%from, error = %e, "inbound stream failed"),
                None => tracing::debug!(%from, "inbound stream timed out"),
            }
        });
    }
}

/// Serves one accepted stream, in a `debug` span `stream_in{peer}` that
/// records the bytes each way, the outcome and the duration.
async fn serve<C: Conn>(shared: &Shared, mut conn: C, from: SocketAddr) -> Result<(), ExchangeError> {
    let span = tracing::debug_span!(
        "stream_in",
        peer = %from,
        bytes_in = tracing::field::Empty,
        bytes_out = tracing::field::Empty,
        outcome = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = StdInstant::now();
    let run = async {
        let mut buf = Vec::new();
        let mut held = Budget { shared, bytes: 0 };
        let (start, end) = read_frame(shared, &mut conn, &mut buf, Some(&mut held)).await?;
        tracing::Span::current().record("bytes_in", end - start);
        let reply =
            shared.handle_inbound_stream(from, &mut buf[start..end]).map_err(ExchangeError::Protocol)?;
        if let Some(reply) = reply {
            tracing::Span::current().record("bytes_out", reply.len());
            conn.write_all(&reply).await?;
        }
        Ok(())
    };
    let r = run.instrument(span.clone()).await;
    close_span(&span, started, &r);
    r
}

/// Records a stream span's outcome and duration, and logs it at `debug`.
fn close_span<T>(span: &tracing::Span, started: StdInstant, r: &Result<T, ExchangeError>) {
    span.record("outcome", if r.is_ok() { "ok" } else { "failed" });
    span.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
    span.in_scope(|| match r {
        Ok(_) => tracing::debug!("stream done"),
        Err(e) => tracing::debug!(error = %e, "stream failed"),
    });
}

/// Reads until one whole message is in `buf`; returns its range.
/// What an inbound stream holds of `Config::max_inbound_stream_bytes`,
/// given back when it ends.
struct Budget<'a> {
    shared: &'a Shared,
    bytes: usize,
}

impl Drop for Budget<'_> {
    fn drop(&mut self) {
        self.shared.release_inbound(self.bytes);
    }
}

/// Reads one frame into `buf`; `budget` (inbound streams) is charged for
/// every byte the buffer grows by.
async fn read_frame<C: Conn>(
    shared: &Shared,
    conn: &mut C,
    buf: &mut Vec<u8>,
    mut budget: Option<&mut Budget<'_>>,
) -> Result<(usize, usize), ExchangeError> {
    const CHUNK: usize = 16 * 1024;
    let mut reader = shared.frame_reader(budget.is_some());
    loop {
        if !buf.is_empty() {
            if let StreamFrame::Complete { start, end } = reader.poll(buf).map_err(ExchangeError::Protocol)? {
                return Ok((start, end));
            }
        }
        if let Some(b) = budget.as_deref_mut() {
            if !shared.reserve_inbound(CHUNK) {
                shared.stream_refused();
                return Err(ExchangeError::Refused);
            }
            b.bytes += CHUNK;
        }
        // Read straight into the message buffer's tail: no bounce buffer.
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        let n = conn.read(&mut buf[len..]).await;
        buf.truncate(len + *n.as_ref().unwrap_or(&0));
        if n? == 0 {
            return Err(ExchangeError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
}

#[derive(Debug)]
enum ExchangeError {
    Io(std::io::Error),
    Protocol(StreamError),
    Timeout,
    /// Over `Config::max_inbound_stream_bytes`.
    Refused,
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Io(e) => write!(f, "{e}"),
            ExchangeError::Protocol(e) => write!(f, "{e}"),
            ExchangeError::Timeout => f.write_str("timed out"),
            ExchangeError::Refused => {
                f.write_str("inbound streams hold max_inbound_stream_bytes already; stream closed")
            }
        }
    }
}

impl ExchangeError {
    fn into_seed_error(self) -> SeedError {
        match self {
            ExchangeError::Io(e) => SeedError::Io(e),
            ExchangeError::Protocol(e) => SeedError::Protocol(e),
            ExchangeError::Timeout => SeedError::Timeout,
            ExchangeError::Refused => {
                SeedError::Io(std::io::Error::other(ExchangeError::Refused.to_string()))
            }
        }
    }
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        ExchangeError::Io(e)
    }
}

/// Carries out one stream request of the core, reporting the outcome to it.
async fn exchange<R: Runtime>(
    rt: &R,
    shared: &Shared,
    socket: &R::Udp,
    req: StreamRequest,
) -> Result<(), ExchangeError> {
    let (id, peer) = (req.id, req.addr);
    let span = tracing::debug_span!(
        "stream",
        kind = %req.kind,
        peer = %req.addr,
        id,
        bytes_out = req.data.len(),
        bytes_in = tracing::field::Empty,
        outcome = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = StdInstant::now();
    let run = async {
        let mut conn = rt.connect(req.addr).await?;
        conn.write_all(&req.data).await?;
        if !req.expects_reply {
            return Ok(());
        }
        let mut buf = Vec::new();
        let (start, end) = read_frame(shared, &mut conn, &mut buf, None).await?;
        tracing::Span::current().record("bytes_in", end - start);
        shared.handle_stream_reply(id, peer, &mut buf[start..end]).map_err(ExchangeError::Protocol)
    };
    // Should this future be dropped half-way (a cancelled join), the core
    // still learns that the exchange is over.
    let mut guard = Settle { shared, id, armed: true };
    let r =
        timeout(rt, req.timeout, run.instrument(span.clone())).await.unwrap_or(Err(ExchangeError::Timeout));
    close_span(&span, started, &r);
    guard.armed = r.is_err();
    drop(guard);
    flush(shared, socket).await;
    r
}

/// Tells the core an exchange failed unless disarmed: refused, timed out,
/// cut off, unframeable, or abandoned by a dropped future (a no-op if the
/// core already settled it with the reply).
struct Settle<'a> {
    shared: &'a Shared,
    id: u64,
    armed: bool,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.stream_failed(self.id);
        }
    }
}

/// `addrs` without repeats, in order (a name may resolve to one address
/// several times).
fn dedup(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// First wait between join attempts; doubles up to [`JOIN_BACKOFF_MAX`].
const JOIN_BACKOFF_START: Duration = Duration::from_millis(250);
/// Longest wait between join attempts.
const JOIN_BACKOFF_MAX: Duration = Duration::from_secs(4);

/// `d` scaled by a random factor in [0.5, 1.5), so nodes restarted together
/// do not retry in lock-step (randomness from std's per-process hash keys).
fn jittered(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.5 + frac)
}
