//! Message handlers, off the receive path (feature `std`): memberlist's
//! handoff queue (`net.go` `handleCommand` → `handoffCh`, drained by
//! `state.go` `packetHandler`; depth `Config.HandoffQueueDepth`).
//!
//! The UDP receiver and the stream tasks only copy each delivered message
//! into a bounded queue; one thread of the node's own runs the registered
//! handlers on it. A handler that blocks or sleeps therefore delays other
//! messages, never an ack: its node is not suspected for being slow to
//! read. Past [`Config::handoff_queue_depth`](crate::Config::handoff_queue_depth)
//! new messages are dropped and counted, as memberlist drops them when its
//! channel is full.
//!
//! Copies come from a pool of buffers, so a steady stream of messages
//! allocates nothing once the pool is warm.

extern crate std;

use crate::{DeliveryKind, Node};
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// A received user message, as an `on_message_with` handler sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Message<'a> {
    /// The member that sent it (direct send) or relayed it to this node
    /// (broadcast). A sender that is not a member shows as a node with state
    /// `Alive`, incarnation 0 and no metadata.
    pub sender: &'a Node,
    /// The address the datagram or stream came from.
    pub from: SocketAddr,
    /// Whether it was a direct send (UDP or reliable) or a broadcast.
    pub kind: DeliveryKind,
    /// The topic (empty for raw messages from non-swim peers).
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
}

type Handler = dyn Fn(&Message<'_>) + Send + Sync;
type HandlerList = Arc<Vec<(u64, Arc<Handler>)>>;

/// The registered handlers: replaced whole on a change, so the handler
/// thread runs a snapshot without holding a lock.
#[derive(Default)]
pub(crate) struct Handlers {
    list: Mutex<HandlerList>,
    next_id: AtomicU64,
}

impl Handlers {
    fn add(&self, f: Arc<Handler>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut list = lock(&self.list);
        let mut v = (**list).clone();
        v.push((id, f));
        *list = Arc::new(v);
        id
    }

    fn remove(&self, id: u64) -> bool {
        let mut list = lock(&self.list);
        let before = list.len();
        let v: Vec<_> = list.iter().filter(|(i, _)| *i != id).cloned().collect();
        let removed = v.len() != before;
        *list = Arc::new(v);
        removed
    }

    fn snapshot(&self) -> HandlerList {
        lock(&self.list).clone()
    }
}

/// A registered message handler. Dropping it keeps the handler registered;
/// [`unregister`](Self::unregister) removes it.
pub struct MessageHandler {
    id: u64,
    handlers: Weak<Handlers>,
}

impl fmt::Debug for MessageHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageHandler").field("id", &self.id).finish()
    }
}

impl MessageHandler {
    /// Removes the handler: it sees no message handed off after this returns
    /// (one it is running finishes). Returns whether it was still registered
    /// (false once the node is gone).
    pub fn unregister(self) -> bool {
        self.handlers.upgrade().is_some_and(|h| h.remove(self.id))
    }
}

/// One message waiting for the handlers: topic and payload back to back.
struct Queued {
    sender: Node,
    from: SocketAddr,
    kind: DeliveryKind,
    topic_len: usize,
    data: Vec<u8>,
}

#[derive(Default)]
struct State {
    items: VecDeque<Queued>,
    closed: bool,
}

/// The bounded queue between the receive path and the handler thread.
pub(crate) struct Handoff {
    state: Mutex<State>,
    ready: Condvar,
    depth: usize,
    handlers: Arc<Handlers>,
    /// Handlers run on the receive path itself (`on_message_inline`).
    inline: Arc<Handlers>,
    /// Spare message buffers (at most `depth`, none larger than `keep`).
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
    dropped: AtomicU64,
    panics: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A message to hand off: where its topic and payload are right now.
pub(crate) struct Outgoing<'a> {
    pub sender: &'a Node,
    pub from: SocketAddr,
    pub kind: DeliveryKind,
    pub topic: &'a [u8],
    pub payload: &'a [u8],
}

impl Handoff {
    /// A queue of `depth` messages; buffers up to `keep` bytes are reused.
    pub(crate) fn new(depth: usize, keep: usize) -> Self {
        Handoff {
            state: Mutex::default(),
            ready: Condvar::new(),
            depth,
            handlers: Arc::default(),
            inline: Arc::default(),
            free: Mutex::new(Vec::with_capacity(depth.min(1024))),
            keep,
            dropped: AtomicU64::new(0),
            panics: AtomicU64::new(0),
        }
    }

    pub(crate) fn register(&self, f: Arc<Handler>) -> MessageHandler {
        MessageHandler { id: self.handlers.add(f), handlers: Arc::downgrade(&self.handlers) }
    }

    /// Registers a handler that runs on the receive path (see
    /// `Cluster::on_message_inline`).
    pub(crate) fn register_inline(&self, f: Arc<Handler>) -> MessageHandler {
        MessageHandler { id: self.inline.add(f), handlers: Arc::downgrade(&self.inline) }
    }

    /// Whether any handler is registered (nothing is copied otherwise).
    pub(crate) fn has_handlers(&self) -> bool {
        !lock(&self.handlers.list).is_empty()
    }

    /// Runs the inline handlers on `msgs`, where they are (no copy, no
    /// queue); a panic is caught and counted.
    pub(crate) fn run_inline<'a>(&self, msgs: impl IntoIterator<Item = Outgoing<'a>>) {
        let handlers = self.inline.snapshot();
        if handlers.is_empty() {
            return;
        }
        for m in msgs {
            let msg = Message {
                sender: m.sender,
                from: m.from,
                kind: m.kind,
                topic: core::str::from_utf8(m.topic).unwrap_or(""),
                payload: m.payload,
            };
            self.call(&handlers, &msg);
        }
    }

    fn call(&self, handlers: &HandlerList, msg: &Message<'_>) {
        for (_, h) in handlers.iter() {
            // A panicking handler must not take the node down.
            let run = std::panic::AssertUnwindSafe(|| h(msg));
            if std::panic::catch_unwind(run).is_err() {
                self.panics.fetch_add(1, Ordering::Relaxed);
                tracing::error!(topic = msg.topic, sender = %msg.sender.id, "an on_message handler panicked; the node carries on");
            }
        }
    }

    /// Copies `msgs` into the queue (one lock, one wake-up); those past the
    /// depth are dropped and counted.
    pub(crate) fn push<'a>(&self, msgs: impl IntoIterator<Item = Outgoing<'a>>) {
        // Lock order: free, then state (`run` never holds both).
        let mut free = lock(&self.free);
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        let mut pushed = false;
        for m in msgs {
            if state.items.len() >= self.depth {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut data = free.pop().unwrap_or_default();
            data.clear();
            data.extend_from_slice(m.topic);
            data.extend_from_slice(m.payload);
            state.items.push_back(Queued {
                sender: m.sender.clone(),
                from: m.from,
                kind: m.kind,
                topic_len: m.topic.len(),
                data,
            });
            pushed = true;
        }
        drop(state);
        drop(free);
        if pushed {
            self.ready.notify_one();
        }
    }

    /// Runs the handlers on every message handed off, until [`close`](Self::close).
    /// The node's handler thread runs this.
    pub(crate) fn run(&self) {
        let mut batch = VecDeque::new();
        loop {
            {
                let mut state = lock(&self.state);
                while state.items.is_empty() && !state.closed {
                    state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                if state.closed {
                    return;
                }
                core::mem::swap(&mut batch, &mut state.items);
            }
            let handlers = self.handlers.snapshot();
            for q in batch.drain(..) {
                if self.is_closed() {
                    return;
                }
                let (topic, payload) = q.data.split_at(q.topic_len.min(q.data.len()));
                let msg = Message {
                    sender: &q.sender,
                    from: q.from,
                    kind: q.kind,
                    topic: core::str::from_utf8(topic).unwrap_or(""),
                    payload,
                };
                self.call(&handlers, &msg);
                self.recycle(q.data);
            }
        }
    }

    fn recycle(&self, buf: Vec<u8>) {
        if buf.capacity() <= self.keep {
            let mut free = lock(&self.free);
            if free.len() < self.depth {
                free.push(buf);
            }
        }
    }

    fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Stops the handler thread (after the handler it is running returns)
    /// and drops what is still queued.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.items.clear();
        drop(state);
        self.ready.notify_all();
    }

    /// Messages dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Handlers that panicked (caught).
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeId, State as MemberState};
    use std::sync::atomic::AtomicUsize;

    fn node() -> Node {
        Node {
            id: NodeId::from("a"),
            addr: "127.0.0.1:7946".parse().unwrap(),
            state: MemberState::Alive,
            incarnation: 0,
            meta: Arc::from(&[][..]),
        }
    }

    fn msg<'a>(n: &'a Node, payload: &'a [u8]) -> Outgoing<'a> {
        Outgoing { sender: n, from: n.addr, kind: DeliveryKind::Direct, topic: b"t", payload }
    }

    #[test]
    fn past_the_depth_messages_are_dropped_and_counted() {
        let h = Handoff::new(2, 1400);
        let n = node();
        h.push([msg(&n, b"1"), msg(&n, b"2"), msg(&n, b"3")]);
        assert_eq!(h.dropped(), 1);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        h.register(Arc::new(move |m: &Message<'_>| {
            lock(&s).push((alloc::string::String::from(m.topic), m.payload.to_vec(), m.kind));
        }));
        let h = Arc::new(h);
        let worker = {
            let h = h.clone();
            std::thread::spawn(move || h.run())
        };
        while lock(&seen).len() < 2 {
            std::thread::yield_now();
        }
        h.close();
        worker.join().unwrap();
        let seen = lock(&seen).clone();
        assert_eq!(seen[0], ("t".into(), alloc::vec![b'1'], DeliveryKind::Direct));
        assert_eq!(seen[1].1, b"2".to_vec());
    }

    #[test]
    fn an_unregistered_handler_sees_nothing_more() {
        let h = Arc::new(Handoff::new(16, 1400));
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let handle = h.register(Arc::new(move |_: &Message<'_>| {
            c.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(h.has_handlers());
        assert!(handle.unregister());
        assert!(!h.has_handlers());
        let n = node();
        h.push([msg(&n, b"x")]);
        let worker = {
            let h = h.clone();
            std::thread::spawn(move || h.run())
        };
        std::thread::sleep(core::time::Duration::from_millis(50));
        h.close();
        worker.join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn buffers_are_reused() {
        let h = Handoff::new(4, 1400);
        let n = node();
        h.push([msg(&n, &[1; 100])]);
        let q = lock(&h.state).items.pop_front().unwrap();
        let ptr = q.data.as_ptr();
        h.recycle(q.data);
        h.push([msg(&n, &[2; 100])]);
        assert_eq!(lock(&h.state).items[0].data.as_ptr(), ptr);
    }
}
