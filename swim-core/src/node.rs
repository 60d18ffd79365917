//! Node identity and the public view of a member.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::net::SocketAddr;
use core::str::FromStr;

/// The name of a node, unique in its cluster (memberlist's `Node` name).
///
/// Cheap to clone (a shared string). Build one with `NodeId::from("node-2")`
/// or `"node-2".parse::<NodeId>()`; read it with `as_str()` or `Display`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        NodeId(Arc::from(s))
    }
}

impl From<String> for NodeId {
    fn from(s: String) -> Self {
        NodeId(Arc::from(s))
    }
}

impl FromStr for NodeId {
    type Err = core::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(NodeId::from(s))
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The state of a member, as memberlist numbers them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Answering probes.
    Alive,
    /// Missed a probe; declared dead unless it refutes in time.
    Suspect,
    /// Declared failed by the cluster.
    Dead,
    /// Left gracefully.
    Left,
}

impl State {
    /// memberlist's `NodeStateType` number.
    pub fn to_wire(self) -> u8 {
        match self {
            State::Alive => 0,
            State::Suspect => 1,
            State::Dead => 2,
            State::Left => 3,
        }
    }

    /// From memberlist's `NodeStateType` number.
    pub fn from_wire(v: u8) -> Option<State> {
        Some(match v {
            0 => State::Alive,
            1 => State::Suspect,
            2 => State::Dead,
            3 => State::Left,
            _ => return None,
        })
    }

    /// Alive or suspect: still a member as far as the application is concerned.
    pub fn is_live(self) -> bool {
        matches!(self, State::Alive | State::Suspect)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Alive => "alive",
            State::Suspect => "suspect",
            State::Dead => "dead",
            State::Left => "left",
        })
    }
}

/// A member of the cluster as the local node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its unique name.
    pub id: NodeId,
    /// Where it receives UDP and TCP.
    pub addr: SocketAddr,
    /// Its state as the local node last learned it.
    pub state: State,
    /// Its incarnation number: only it raises it, to refute suspicion.
    pub incarnation: u32,
    /// Its metadata (Serf tags use `0xFF` + a MessagePack map, see [`crate::wire::serf`]).
    pub meta: Arc<[u8]>,
}

impl Node {
    /// The member's tags, decoded the way Serf does (see [`crate::wire::serf::decode_tags`]).
    /// Metadata that is not Serf-encoded shows as one tag `role`.
    pub fn tags(&self) -> alloc::vec::Vec<(String, String)> {
        crate::wire::serf::decode_tags(&self.meta).unwrap_or_default()
    }
}
