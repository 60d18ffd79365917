//! The direct-send queue (feature `std`): where `Cluster::send` puts a
//! message, and what the node's send task drains.
//!
//! A message sent while the socket has been idle (nothing queued or sent
//! for [`IDLE_GAP`]) is sealed and sent by its caller at once, with a
//! non-blocking system call: no hop to another task, no added latency.
//! Otherwise a send encodes its message as a part (the core's
//! [`Swim::encode_direct_part`](crate::Swim::encode_direct_part)) into the
//! queue's arena and wakes the send task; it returns once queued. The task
//! takes everything queued at once, groups it by destination (order kept per
//! destination), packs each group into compound datagrams
//! ([`Swim::seal_direct_parts`](crate::Swim::seal_direct_parts): sealed and
//! encrypted once per datagram) and hands them to the socket in batches
//! ([`Udp::send_batch`](crate::runtime::Udp::send_batch): GSO or several
//! datagrams per system call). A lone message on an idle node goes out at
//! once, in a datagram of its own; messages that pile up while the task is
//! sending share datagrams. This is how memberlist's compound messages are
//! used for gossip (`net.go` `makeCompoundMessage`), applied to user
//! messages, and how quinn's endpoint driver batches its transmits.
//!
//! The queue holds at most `Config::send_queue_depth` messages: past that,
//! `send` waits for room (backpressure) and `try_send` returns
//! `SendError::QueueFull`; nothing is dropped. The arena and index are
//! reused, so a steady stream of sends allocates nothing once warm.

extern crate std;

use crate::io::driver::DriverRng;
use crate::io::runtime::Segment;
use crate::{DirectRoute, SendError as CoreSendError, Swim};
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Messages waiting to be sent: their parts back to back in `arena`.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    arena: Vec<u8>,
    items: Vec<(DirectRoute, Range<usize>)>,
    /// `items` grouped by destination, each destination's order kept.
    order: Vec<usize>,
    /// The next entry of `order` to send.
    cursor: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
        self.order.clear();
        self.cursor = 0;
    }

    /// Groups what was taken by destination, for [`Outbox::fill`].
    pub(crate) fn prepare(&mut self) {
        let items = &self.items;
        self.order.clear();
        self.order.extend(0..items.len());
        self.order.sort_unstable_by_key(|&i| (items[i].0, i));
        self.cursor = 0;
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[derive(Debug, Default)]
struct State {
    batch: Batch,
    /// Senders waiting for room.
    waiting: Vec<Waker>,
    /// The send task, waiting for messages.
    task: Option<Waker>,
    /// The send task, or a sender sending inline, has not finished sending.
    sending: bool,
    /// When a message was last queued or sent.
    last: Option<std::time::Instant>,
    /// The send task runs (the node was started).
    started: bool,
    /// Callers of `flush`, waiting until everything queued is sent.
    flushing: Vec<Waker>,
    closed: bool,
}

/// How long the socket must have been idle for a message to be sent
/// inline by its caller rather than queued (see [`SendQueue::push`]).
pub(crate) const IDLE_GAP: core::time::Duration = core::time::Duration::from_micros(25);

/// Where a message went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Into the queue.
    Queued,
    /// Nowhere yet: the socket is idle, the caller sends it itself.
    Inline,
}

/// Why a message could not be queued.
#[derive(Debug)]
pub(crate) enum PushError {
    /// `send_queue_depth` messages are waiting.
    Full,
    /// The core refused it (unknown node, too large, topic too long).
    Core(CoreSendError),
    /// The node was shut down.
    Closed,
}

/// The bounded queue between senders and the node's send task.
#[derive(Debug)]
pub(crate) struct SendQueue {
    state: Mutex<State>,
    depth: usize,
    full: AtomicU64,
}

impl SendQueue {
    /// A queue of at most `depth` messages.
    pub(crate) fn new(depth: usize) -> Self {
        SendQueue { state: Mutex::default(), depth: depth.max(1), full: AtomicU64::new(0) }
    }

    /// Queues one message: `encode` routes it and appends its part (under
    /// the core's lock, which the caller takes inside). On `Full` with a
    /// context, the caller's waker is kept and woken when there is room.
    /// With `inline` allowed and the socket idle (nothing queued or being
    /// sent, nothing for [`IDLE_GAP`], the send task running), it encodes
    /// nothing and returns [`Pushed::Inline`]: the caller sends the message
    /// itself at once, then calls [`sent`](Self::sent).
    pub(crate) fn push(
        &self,
        cx: Option<&mut Context<'_>>,
        inline: bool,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<DirectRoute, CoreSendError>,
    ) -> Result<Pushed, PushError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(PushError::Closed);
        }
        let now = std::time::Instant::now();
        if inline
            && st.started
            && !st.sending
            && st.batch.is_empty()
            && st.last.is_none_or(|t| now.saturating_duration_since(t) >= IDLE_GAP)
        {
            st.sending = true;
            st.last = Some(now);
            return Ok(Pushed::Inline);
        }
        if st.batch.items.len() >= self.depth {
            self.full.fetch_add(1, Ordering::Relaxed);
            if let Some(cx) = cx {
                if !st.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    st.waiting.push(cx.waker().clone());
                }
            }
            return Err(PushError::Full);
        }
        st.last = Some(now);
        let start = st.batch.arena.len();
        match encode(&mut st.batch.arena) {
            Ok(route) => {
                let end = st.batch.arena.len();
                st.batch.items.push((route, start..end));
            }
            Err(e) => {
                st.batch.arena.truncate(start);
                return Err(PushError::Core(e));
            }
        }
        let task = if st.batch.items.len() == 1 { st.task.take() } else { None };
        drop(st);
        if let Some(w) = task {
            w.wake();
        }
        Ok(Pushed::Queued)
    }

    /// The send task: waits until something is queued (or the queue is
    /// closed: `Ready(false)`), then swaps the queue's batch with `into`
    /// (which must be empty) and wakes the senders waiting for room.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut Batch) -> Poll<bool> {
        let mut st = lock(&self.state);
        if st.closed {
            return Poll::Ready(false);
        }
        if st.batch.is_empty() || st.sending {
            // Nothing to send, or a sender is sending inline: `sent` wakes us.
            st.task = Some(cx.waker().clone());
            return Poll::Pending;
        }
        into.clear();
        core::mem::swap(&mut st.batch, into);
        st.sending = true;
        let waiting = core::mem::take(&mut st.waiting);
        drop(st);
        for w in waiting {
            w.wake();
        }
        Poll::Ready(true)
    }

    /// The send task runs: inline sends may start.
    pub(crate) fn start(&self) {
        lock(&self.state).started = true;
    }

    /// The send task has handed its batch to the socket, or an inline send
    /// is done: wakes the task if messages were queued meanwhile.
    pub(crate) fn sent(&self) {
        let mut st = lock(&self.state);
        st.sending = false;
        st.last = Some(std::time::Instant::now());
        let (flushed, task) = if st.batch.is_empty() {
            (core::mem::take(&mut st.flushing), None)
        } else {
            (Vec::new(), st.task.take())
        };
        drop(st);
        flushed.into_iter().chain(task).for_each(Waker::wake);
    }

    /// Ready once every message queued before has been handed to the socket
    /// (or the queue is closed).
    pub(crate) fn poll_flushed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.state);
        if st.closed || (st.batch.is_empty() && !st.sending) {
            return Poll::Ready(());
        }
        if !st.flushing.iter().any(|w| w.will_wake(cx.waker())) {
            st.flushing.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Stops the queue: queued messages are dropped, waiting senders woken
    /// (they see `Closed`).
    pub(crate) fn close(&self) {
        let mut st = lock(&self.state);
        st.closed = true;
        st.batch.clear();
        let waiting = core::mem::take(&mut st.waiting);
        let flushing = core::mem::take(&mut st.flushing);
        let task = st.task.take();
        drop(st);
        waiting.into_iter().chain(flushing).chain(task).for_each(Waker::wake);
    }

    /// Times a send found the queue full.
    pub(crate) fn full_count(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }
}

/// Datagrams sealed from a [`Batch`], back to back, ready for
/// [`Udp::send_batch`](crate::runtime::Udp::send_batch).
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) buf: Vec<u8>,
    pub(crate) segments: Vec<Segment>,
    used: usize,
    datagram: usize,
}

/// Datagrams per batch handed to the socket (UDP GSO's limit on Linux).
pub(crate) const MAX_BATCH: usize = 64;

impl Outbox {
    /// Room for [`MAX_BATCH`] datagrams of `datagram` bytes.
    pub(crate) fn new(datagram: usize) -> Outbox {
        Outbox {
            buf: alloc::vec![0; datagram * MAX_BATCH],
            segments: Vec::with_capacity(MAX_BATCH),
            used: 0,
            datagram,
        }
    }

    /// Whether another datagram fits.
    pub(crate) fn has_room(&self) -> bool {
        self.segments.len() < MAX_BATCH && self.buf.len() - self.used >= self.datagram
    }

    /// The datagrams sealed so far.
    pub(crate) fn filled(&self) -> &[u8] {
        &self.buf[..self.used]
    }

    /// Empties it after a send.
    pub(crate) fn clear(&mut self) {
        self.used = 0;
        self.segments.clear();
    }

    /// Seals messages from `batch` (after [`Batch::prepare`]) into the
    /// outbox, one destination after another, until the outbox is full or
    /// the batch drained; returns whether the batch has more. Called with the
    /// core locked: one lock per batch of datagrams.
    pub(crate) fn fill(&mut self, batch: &mut Batch, core: &mut Swim<DriverRng>) -> bool {
        let Batch { arena, items, order, cursor } = batch;
        while *cursor < order.len() && self.has_room() {
            let route = items[order[*cursor]].0;
            let run = &order[*cursor..];
            let run = &run[..run.iter().position(|&i| items[i].0 != route).unwrap_or(run.len())];
            let pulled = core::cell::Cell::new(0usize);
            let mut parts = run
                .iter()
                .map(|&i| {
                    pulled.set(pulled.get() + 1);
                    &arena[items[i].1.clone()]
                })
                .peekable();
            while parts.peek().is_some() && self.has_room() {
                let out = &mut self.buf[self.used..self.used + self.datagram];
                if let Some(t) = core.seal_direct_parts(route, &mut parts, out) {
                    self.used += t.len;
                    self.segments.push(Segment { dst: t.dst, len: t.len });
                }
            }
            let pending = usize::from(parts.peek().is_some());
            *cursor += pulled.get() - pending;
        }
        *cursor < order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Waker;

    fn route(port: u16) -> DirectRoute {
        DirectRoute { dst: ([127, 0, 0, 1], port).into(), crc: false }
    }

    fn push(q: &SendQueue, port: u16, byte: u8) -> Result<Pushed, PushError> {
        q.push(None, true, |arena| {
            arena.push(byte);
            Ok(route(port))
        })
    }

    #[test]
    fn past_the_depth_a_send_is_refused_and_counted_never_dropped() {
        let q = SendQueue::new(2);
        push(&q, 1, 1).unwrap();
        push(&q, 1, 2).unwrap();
        assert!(matches!(push(&q, 1, 3), Err(PushError::Full)));
        assert_eq!(q.full_count(), 1);
        let mut b = Batch::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Ready(true));
        assert_eq!(b.arena, [1, 2]);
        push(&q, 1, 3).unwrap();
        q.close();
        assert!(matches!(push(&q, 1, 4), Err(PushError::Closed)));
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Ready(false));
    }

    #[test]
    fn a_lone_message_on_an_idle_started_queue_goes_inline() {
        let q = SendQueue::new(4);
        assert_eq!(push(&q, 1, 1).unwrap(), Pushed::Queued, "not started: queued");
        let mut b = Batch::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Ready(true));
        q.sent();
        q.start();
        std::thread::sleep(IDLE_GAP * 2);
        assert_eq!(push(&q, 1, 2).unwrap(), Pushed::Inline, "idle: the caller sends it");
        assert_eq!(push(&q, 1, 3).unwrap(), Pushed::Queued, "while it sends, the next one queues");
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Pending, "the task waits for the inline send");
        q.sent();
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Ready(true));
        assert_eq!(b.arena, [3]);
        q.sent();
        assert_eq!(push(&q, 1, 4).unwrap(), Pushed::Queued, "just busy: queued, to coalesce");
    }

    #[test]
    fn a_refused_message_leaves_nothing_behind() {
        let q = SendQueue::new(4);
        push(&q, 1, 1).unwrap();
        let r = q.push(None, true, |arena| {
            arena.extend_from_slice(&[9, 9, 9]);
            Err(CoreSendError::TopicTooLong)
        });
        assert!(matches!(r, Err(PushError::Core(CoreSendError::TopicTooLong))));
        let mut b = Batch::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(q.poll_take(&mut cx, &mut b), Poll::Ready(true));
        assert_eq!((b.arena.as_slice(), b.items.len()), (&[1u8][..], 1));
    }
}
