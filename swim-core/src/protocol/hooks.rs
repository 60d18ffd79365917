//! Extension hooks: what an application plugs into the protocol, as one
//! trait with a default for every method — memberlist's delegates
//! (`delegate.go` `LocalState` / `MergeRemoteState`, `alive_delegate.go`,
//! `merge_delegate.go`, `conflict_delegate.go`, `ping_delegate.go`).
//!
//! The allow-list of peer networks (memberlist's `CIDRsAllowed`) is a
//! [`Config`](crate::Config) field and lives in `admission.rs`, with the
//! glue that asks [`Hooks::admit`].

use crate::node::Node;
use crate::protocol::ProbeResult;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// Largest ack payload [`Hooks::ack_payload`] may write; a longer one is
/// not sent and is counted (`Metrics::hook_output_dropped`). Serf's
/// network coordinate takes about 120 bytes.
pub const MAX_ACK_PAYLOAD: usize = 512;

/// Largest application state [`Hooks::local_state`] may write, or a peer
/// may send; a longer one is not sent, or not handed to
/// [`Hooks::merge_remote_state`], and is counted
/// (`Metrics::hook_output_dropped`, `Metrics::app_state_refused`).
pub const MAX_APP_STATE: usize = 64 * 1024;

/// A member as an alive message or a push-pull state describes it, before
/// it is admitted to the member table (see [`Hooks::admit`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Candidate<'a> {
    /// Its node name.
    pub name: &'a str,
    /// The address it advertises.
    pub addr: SocketAddr,
    /// Its metadata (Serf-encoded tags; see [`Candidate::tags`]).
    pub meta: &'a [u8],
    /// Its incarnation number.
    pub incarnation: u32,
}

impl Candidate<'_> {
    /// Its tags, decoded (empty when its metadata is not Serf's encoding).
    pub fn tags(&self) -> Vec<(String, String)> {
        crate::wire::serf::decode_tags(self.meta).unwrap_or_default()
    }

    /// The value of tag `key`, if it has it.
    pub fn tag(&self, key: &str) -> Option<String> {
        self.tags().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Extension points of the protocol, like memberlist's delegates: implement
/// the methods you need (every one has a default that does nothing or
/// accepts) and install them with [`Swim::set_hooks`](crate::Swim::set_hooks)
/// or the drivers' `Cluster::set_hooks`.
///
/// | method | memberlist | called when |
/// | --- | --- | --- |
/// | [`admit`](Self::admit) | `AliveDelegate.NotifyAlive`, `MergeDelegate.NotifyMerge` | a member would join, rejoin, move or change its tags |
/// | [`name_conflict`](Self::name_conflict) | `ConflictDelegate.NotifyConflict` | another address claims a known member's name (or this node's) |
/// | [`ack_payload`](Self::ack_payload) | `PingDelegate.AckPayload` | this node acks a direct ping |
/// | [`probe_result`](Self::probe_result) | `PingDelegate.NotifyPingComplete` | a probe of a member ends |
/// | [`local_state`](Self::local_state) | `Delegate.LocalState` | this node sends its state in a push-pull or join |
/// | [`merge_remote_state`](Self::merge_remote_state) | `Delegate.MergeRemoteState` | a peer's state arrives with application state in it |
///
/// For "latest value wins" broadcasts (memberlist's `NamedBroadcast`) see
/// [`Swim::broadcast_latest`](crate::Swim::broadcast_latest); for a peer
/// allow-list, [`Config::cidrs_allowed`](crate::Config::cidrs_allowed).
///
/// ```
/// use swim_core::{Candidate, Hooks, ProbeResult};
///
/// struct MyHooks;
///
/// impl Hooks for MyHooks {
///     // Refuse members from another datacenter.
///     fn admit(&mut self, m: &Candidate<'_>) -> Result<(), String> {
///         match m.tag("dc").as_deref() {
///             Some("eu-1") => Ok(()),
///             other => Err(format!("dc {other:?} is not ours")),
///         }
///     }
///     // Round-trip times, and what the probed node put in its ack.
///     fn probe_result(&mut self, r: &ProbeResult, ack_payload: &[u8]) {
///         println!("{} answered in {:?} ({} payload bytes)", r.node, r.rtt, ack_payload.len());
///     }
/// }
///
/// let hooks: Box<dyn Hooks> = Box::new(MyHooks); // Swim::set_hooks, Cluster::set_hooks
/// # drop(hooks);
/// ```
///
/// # Where they run
///
/// Hooks run inside the call that received the news (`handle_packet`,
/// `handle_stream`, …). In the drivers that is the node's receive or timer
/// task **with the node's state locked**: a hook must be quick, must not
/// block, and must not call back into the `Cluster` (that would deadlock);
/// hand work to a channel instead. A hook may be called more than once for
/// the same news (the same alive message arrives by several paths), as
/// memberlist's are.
pub trait Hooks: Send {
    /// Whether to admit `member`, which an alive message or a peer's state
    /// presents as joining, rejoining, moving to another address or
    /// changing its tags. `Err(reason)` refuses it: the message is ignored
    /// (the member stays unknown, or as it was) and counted
    /// (`Metrics::members_refused`). Refreshes of a member already admitted
    /// (a new incarnation with the same address and tags) are not asked.
    ///
    /// When the refused member is the peer this node is exchanging state
    /// with (a join's seed, a push-pull partner), the whole exchange is
    /// refused (`StreamError::Refused`), like memberlist's `NotifyMerge`:
    /// joining a cluster you refuse fails with the reason.
    fn admit(&mut self, member: &Candidate<'_>) -> Result<(), String> {
        let _ = member;
        Ok(())
    }

    /// `claimant` claims the name of `known` (a member, or this node) from
    /// another address. Either it is refused (counted in
    /// `Metrics::name_conflicts` or `Metrics::dropped_invalid_member`), or
    /// the name moves to it if `known` left or died longer than
    /// `dead_node_reclaim_time` ago (then this is not called).
    fn name_conflict(&mut self, known: &Node, claimant: &Candidate<'_>) {
        let _ = (known, claimant);
    }

    /// Bytes to put in the ack this node sends for a direct ping (at most
    /// [`MAX_ACK_PAYLOAD`]); the prober gets them in its
    /// [`probe_result`](Self::probe_result). Called only with
    /// `Config::coordinates` off: on, the ack carries this node's network
    /// coordinate in Serf's format (which Serf agents expect), and
    /// `probe_result` sees the peers' coordinates.
    fn ack_payload(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// A probe of a member ended: its round-trip time and outcome, and the
    /// ack's payload (empty when the ack carried none, came through a
    /// helper or over TCP, or the probe failed).
    fn probe_result(&mut self, result: &ProbeResult, ack_payload: &[u8]) {
        let _ = (result, ack_payload);
    }

    /// Application state to send in this node's push-pull state (at most
    /// [`MAX_APP_STATE`] bytes); `join` when the exchange is a join. It
    /// rides next to Serf's state (an `AppState` field Serf agents ignore).
    fn local_state(&mut self, join: bool, out: &mut Vec<u8>) {
        let _ = (join, out);
    }

    /// A peer's application state, from its push-pull state (`from`: the
    /// address the exchange was with; `join`: the exchange was a join).
    /// Called only when the state carried some.
    fn merge_remote_state(&mut self, from: SocketAddr, state: &[u8], join: bool) {
        let _ = (from, state, join);
    }
}
