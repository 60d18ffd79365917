//! What a driver and an application exchange with [`Swim`](super::Swim):
//! membership events, delivered user messages and datagrams to send.

use crate::node::Node;
use core::net::SocketAddr;

/// A membership change, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A member joined (or came back after being dead or left).
    Join(Node),
    /// A member left gracefully (`state == Left`) or was declared dead
    /// (`state == Dead`).
    Leave(Node),
    /// A member is suspected of having failed.
    Suspect(Node),
    /// A suspected member proved it is alive.
    Alive(Node),
    /// A member's metadata or address changed.
    Update(Node),
    /// This node (the one given) lost a name conflict: another node uses
    /// its name, and the majority of the cluster knows the name at that
    /// other address (Serf's conflict resolution). It stopped taking part
    /// at once — the drivers shut it down; restart it under another name.
    Yielded(Node),
}

impl Event {
    /// The member the event is about.
    pub fn node(&self) -> &Node {
        match self {
            Event::Join(n)
            | Event::Leave(n)
            | Event::Suspect(n)
            | Event::Alive(n)
            | Event::Update(n)
            | Event::Yielded(n) => n,
        }
    }
}

/// How a user message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A direct send (UDP or stream) to this node.
    Direct,
    /// A gossip broadcast (a Serf user event), delivered once per node.
    Broadcast,
}

/// A user message handed to the application, borrowed from the packet buffer.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Who sent it: the named sender for direct sends, or the member that
    /// relayed a broadcast to us. Unknown senders get a node with state
    /// `Alive`, incarnation 0 and no metadata.
    pub sender: &'a Node,
    /// The topic (empty for raw messages from non-swim peers).
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// Direct send or broadcast.
    pub kind: DeliveryKind,
}

/// A datagram ready in the caller's buffer: send `buf[..len]` to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// Length of the datagram at the start of the buffer.
    pub len: usize,
}
