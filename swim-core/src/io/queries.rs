//! Serf queries in the drivers (feature `std`): the query handler, run on a
//! thread of its own off the receive path (like the message handlers), and
//! the asker's side, a stream of acks and responses per query — Serf's
//! `Query` event and `QueryResponse` (`serf/query.go`, `event.go`).

extern crate std;

use crate::io::driver::Shared;
use crate::{NodeId, QueryEvent, QueryId, QueryRequest};
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Poll, Waker};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Queries waiting for the query handler, at most; more are dropped and
/// counted (`Metrics::queries_dropped`).
pub const QUERY_HANDLER_DEPTH: usize = 64;

type Handler = dyn Fn(&QueryRequest) -> Option<Vec<u8>> + Send + Sync;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one asked query has collected so far.
#[derive(Default)]
struct Ask {
    events: VecDeque<QueryEvent>,
    finished: bool,
    waker: Option<Waker>,
}

/// A node's query desk: the handler and its queue, and the running asks.
#[derive(Default)]
pub(crate) struct Desk {
    handler: Mutex<Option<Arc<Handler>>>,
    jobs: Mutex<VecDeque<QueryRequest>>,
    ready: Condvar,
    thread_started: AtomicBool,
    asks: Mutex<HashMap<QueryId, Arc<Mutex<Ask>>>>,
    dropped: AtomicU64,
    closed: AtomicBool,
}

impl Desk {
    /// Installs `f` (replacing the one before); true the first time, when
    /// the caller must start the handler thread.
    pub(crate) fn set_handler(&self, f: Arc<Handler>) -> bool {
        *lock(&self.handler) = Some(f);
        !self.thread_started.swap(true, Ordering::AcqRel)
    }

    /// Removes the handler: queries are still acked, never answered.
    pub(crate) fn clear_handler(&self) {
        *lock(&self.handler) = None;
    }

    /// Hands a query the core gave out to the handler thread (dropped and
    /// counted when the queue is full; ignored without a handler).
    pub(crate) fn push_job(&self, q: QueryRequest) {
        if lock(&self.handler).is_none() {
            return;
        }
        let mut jobs = lock(&self.jobs);
        if jobs.len() >= QUERY_HANDLER_DEPTH {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        jobs.push_back(q);
        self.ready.notify_one();
    }

    /// Routes an event of an asked query to its stream.
    pub(crate) fn route(&self, e: QueryEvent) {
        let query = match &e {
            QueryEvent::Ack { query, .. }
            | QueryEvent::Response { query, .. }
            | QueryEvent::Finished { query } => *query,
        };
        let mut asks = lock(&self.asks);
        let Some(ask) = asks.get(&query).cloned() else { return };
        let mut a = lock(&ask);
        if let QueryEvent::Finished { .. } = e {
            a.finished = true;
            asks.remove(&query);
        } else {
            a.events.push_back(e);
        }
        if let Some(w) = a.waker.take() {
            w.wake();
        }
    }

    /// Registers a stream for `query` (call under the core lock, before its
    /// events are routed).
    fn register(&self, query: QueryId) -> Arc<Mutex<Ask>> {
        let ask = Arc::new(Mutex::new(Ask::default()));
        let mut asks = lock(&self.asks);
        if self.closed.load(Ordering::Acquire) {
            // Shut down meanwhile: nothing will end it, so it ends now.
            lock(&ask).finished = true;
        } else {
            asks.insert(query, ask.clone());
        }
        ask
    }

    /// Queries the handler queue dropped.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Ends every stream and stops the handler thread.
    pub(crate) fn close(&self) {
        {
            // Under the queue's lock: the handler thread is either before
            // its check of `closed` or waiting, never in between.
            let _jobs = lock(&self.jobs);
            self.closed.store(true, Ordering::Release);
            self.ready.notify_all();
        }
        let mut asks = lock(&self.asks);
        for ask in asks.drain().map(|(_, a)| a) {
            let mut a = lock(&ask);
            a.finished = true;
            if let Some(w) = a.waker.take() {
                w.wake();
            }
        }
    }

    /// The handler thread's body: answers queries until the node closes.
    pub(crate) fn run(shared: &Shared) {
        let desk = shared.desk();
        loop {
            let job = {
                let mut jobs = lock(&desk.jobs);
                loop {
                    if desk.closed.load(Ordering::Acquire) {
                        return;
                    }
                    if let Some(j) = jobs.pop_front() {
                        break j;
                    }
                    jobs = desk.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
                }
            };
            let Some(handler) = lock(&desk.handler).clone() else { continue };
            let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&job)));
            match answer {
                Ok(Some(payload)) => {
                    match shared.with_core(|core, now| core.respond_query(now, &job, &payload)) {
                        // The answer is queued: the protocol loop sends it now,
                        // not at its next timer.
                        Ok(()) => shared.poke(),
                        Err(e) => tracing::debug!(query = %job.name, error = %e, "query response not sent"),
                    }
                }
                Ok(None) => {}
                Err(_) => tracing::error!(query = %job.name, "the query handler panicked"),
            }
        }
    }
}

/// The acks and responses to one query asked with `Cluster::query`, as they
/// arrive, until its timeout. Dropping it stops collecting (the query
/// itself runs on in the cluster).
pub struct QueryResponses {
    id: QueryId,
    ask: Arc<Mutex<Ask>>,
    desk: Weak<Shared>,
}

impl core::fmt::Debug for QueryResponses {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueryResponses").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Everything one query collected ([`QueryResponses::collect`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryResults {
    /// The nodes that acked (only with `request_ack`), in arrival order.
    pub acks: Vec<NodeId>,
    /// `(node, payload)` of each response, in arrival order.
    pub responses: Vec<(NodeId, Vec<u8>)>,
}

impl QueryResponses {
    pub(crate) fn new(shared: &Arc<Shared>, id: QueryId) -> QueryResponses {
        QueryResponses { id, ask: shared.desk().register(id), desk: Arc::downgrade(shared) }
    }

    /// The query's id.
    pub fn id(&self) -> QueryId {
        self.id
    }

    /// The next ack or response (a [`QueryEvent::Ack`] or
    /// [`QueryEvent::Response`]); `None` once the timeout passed (or the
    /// cluster shut down). Cancellation safe.
    pub async fn next(&mut self) -> Option<QueryEvent> {
        poll_fn(|cx| {
            let mut a = lock(&self.ask);
            if let Some(e) = a.events.pop_front() {
                return Poll::Ready(Some(e));
            }
            if a.finished {
                return Poll::Ready(None);
            }
            a.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits for the timeout and returns everything collected.
    pub async fn collect(mut self) -> QueryResults {
        let mut r = QueryResults::default();
        while let Some(e) = self.next().await {
            match e {
                QueryEvent::Ack { from, .. } => r.acks.push(from),
                QueryEvent::Response { from, payload, .. } => r.responses.push((from, payload)),
                _ => {}
            }
        }
        r
    }
}

impl Drop for QueryResponses {
    fn drop(&mut self) {
        if let Some(shared) = self.desk.upgrade() {
            lock(&shared.desk().asks).remove(&self.id);
        }
    }
}
