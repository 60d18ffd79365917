//! TCP streams: the exchanges the core asks a driver to carry out
//! ([`StreamRequest`]), finding a frame in the bytes read ([`FrameReader`]),
//! and handling what arrives on one (push-pull, TCP ping, reliable user
//! messages). Follows memberlist's `net.go` (`handleConn`, `sendAndReceiveState`,
//! `readStream`, `rawSendMsgStream`).

use super::{encode_vec, Delivery, DeliveryKind, Swim};
use crate::protocol::user::{self};
use crate::time::Instant;
use crate::wire::packet::{self, FrameStatus, PacketError};
use crate::wire::{self, msg_type, Message};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::RngCore;

/// Largest stream message accepted (memberlist's `maxPushStateBytes`).
pub const MAX_STREAM_BYTES: usize = crate::wire::crypto::MAX_STREAM_LEN;

/// A TCP exchange the driver should carry out: connect to `addr`, write
/// `data`, and, if `expects_reply`, read one frame (see [`Swim::stream_frame`])
/// and pass it to [`Swim::handle_stream_reply`] — or report failure with
/// [`Swim::handle_stream_failed`]. All within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// Identifies the exchange in the reply.
    pub id: u64,
    /// Where to connect.
    pub addr: SocketAddr,
    /// Bytes to write.
    pub data: Vec<u8>,
    /// Whether a reply frame is expected.
    pub expects_reply: bool,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
    /// What the exchange is for (logs, spans and metrics name it).
    pub kind: StreamKind,
}

/// What a [`StreamRequest`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamKind {
    /// This node's join: a push-pull with a seed.
    Join,
    /// A periodic, catch-up or reconnect state exchange (push-pull).
    PushPull,
    /// The TCP fallback ping of a probe round.
    Ping,
    /// A user message sent with `send_reliable` (no reply).
    Reliable,
}

impl StreamKind {
    /// A short name: `join`, `push_pull`, `ping` or `reliable`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Join => "join",
            StreamKind::PushPull => "push_pull",
            StreamKind::Ping => "ping",
            StreamKind::Reliable => "reliable",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a complete frame lies in the bytes read so far from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrame {
    /// Read more bytes.
    NeedMore,
    /// `buf[start..end]` is one whole message (pass it to the core); bytes
    /// before `start` were a label header.
    Complete {
        /// First byte of the message.
        start: usize,
        /// One past its last byte.
        end: usize,
    },
}

/// Why a stream exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// The frame could not be opened (label, decryption, decompression).
    Packet(PacketError),
    /// The message inside was malformed.
    Malformed(wire::DecodeError),
    /// A message kind that has no business on this stream.
    Unexpected(u8),
    /// The peer answered with an error message.
    Remote(String),
    /// Versions are incompatible: memberlist refuses to merge such states.
    IncompatibleVersions {
        /// The node whose version is outside the cluster's range.
        node: String,
        /// "protocol" or "delegate".
        which: &'static str,
        /// Its current version.
        version: u8,
        /// The range every live node accepts.
        range: (u8, u8),
    },
    /// The reply does not match any request (already answered or unknown id).
    UnknownStream,
    /// A ping reply carried another sequence number or node name.
    PingMismatch,
    /// This node is leaving and takes no new exchanges.
    Leaving,
    /// The peer's address is outside `Config::cidrs_allowed`.
    NotAllowed,
    /// The peer itself was refused admission (outside
    /// `Config::cidrs_allowed`, or by `Hooks::admit`): its state is not
    /// merged.
    Refused {
        /// The peer's node name.
        node: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Packet(e) => write!(f, "stream refused: {e}"),
            StreamError::Malformed(e) => write!(f, "malformed stream message: {e}"),
            StreamError::Unexpected(t) => write!(f, "unexpected message type {t} on a stream"),
            StreamError::Remote(e) => write!(f, "peer reported an error: {e}"),
            StreamError::IncompatibleVersions { node, which, version, range } if range.0 > range.1 => write!(
                f,
                "node {node} speaks {which} protocol {version}, and the live nodes have no {which} \
                 protocol version in common (Serf agents speak 2..=5, plain Go memberlist 0..=0); \
                 set Config::delegate_versions to match the cluster"
            ),
            StreamError::IncompatibleVersions { node, which, version, range } => write!(
                f,
                "node {node} speaks {which} protocol {version}, but the live nodes accept only {}..={}; \
                 set Config::delegate_versions to match the cluster (Serf or plain memberlist)",
                range.0, range.1
            ),
            StreamError::UnknownStream => f.write_str("reply for an unknown or finished stream"),
            StreamError::PingMismatch => f.write_str("stream ping answered with another sequence number"),
            StreamError::Leaving => f.write_str("this node is leaving"),
            StreamError::NotAllowed => f.write_str("the peer's address is outside cidrs_allowed"),
            StreamError::Refused { node, reason } => {
                write!(f, "node {node} was refused admission ({reason}); its state is not merged")
            }
        }
    }
}

impl core::error::Error for StreamError {}

impl From<PacketError> for StreamError {
    fn from(e: PacketError) -> Self {
        StreamError::Packet(e)
    }
}

impl From<wire::DecodeError> for StreamError {
    fn from(e: wire::DecodeError) -> Self {
        StreamError::Malformed(e)
    }
}

#[derive(Debug, Clone)]
pub(super) enum PendingStream {
    /// A state exchange with `addr`; `join` when it is this node's join.
    PushPull {
        addr: SocketAddr,
        join: bool,
    },
    Ping {
        seq: u32,
    },
    User,
}

/// Finds the one message on a TCP stream as its bytes arrive, resuming where
/// it stopped (a large push-pull is scanned once, not once per read) and
/// without touching the core.
#[derive(Debug)]
pub struct FrameReader {
    pub(super) label: Vec<u8>,
    pub(super) inbound: bool,
    pub(super) start: Option<usize>,
    pub(super) framer: packet::StreamFramer,
}

impl FrameReader {
    /// Looks at everything read so far (`buf` only grows between calls).
    pub fn poll(&mut self, buf: &[u8]) -> Result<StreamFrame, StreamError> {
        let start = match self.start {
            Some(s) => s,
            None if !self.inbound => 0,
            None => match packet::strip_stream_label(buf, &self.label)? {
                None => return Ok(StreamFrame::NeedMore),
                Some(n) => n,
            },
        };
        self.start = Some(start);
        match self.framer.poll(&buf[start..], MAX_STREAM_BYTES)? {
            FrameStatus::NeedMore => Ok(StreamFrame::NeedMore),
            FrameStatus::Complete(len) => Ok(StreamFrame::Complete { start, end: start + len }),
        }
    }
}

impl<R: RngCore> Swim<R> {
    pub(super) fn stream_request(
        &mut self,
        addr: SocketAddr,
        msg: &[u8],
        kind: PendingStream,
        expects_reply: bool,
    ) -> StreamRequest {
        let nonce = self.nonce();
        let mut data = Vec::new();
        let label = self.cfg.label.as_bytes();
        packet::seal_stream_message(
            msg,
            true,
            label,
            self.seal_keyring(),
            self.cfg.compression,
            nonce,
            &mut data,
        );
        let id = self.next_stream_id;
        self.next_stream_id += 1;
        let what = match kind {
            PendingStream::PushPull { join: true, .. } => StreamKind::Join,
            PendingStream::PushPull { join: false, .. } => StreamKind::PushPull,
            PendingStream::Ping { .. } => StreamKind::Ping,
            PendingStream::User => StreamKind::Reliable,
        };
        if let PendingStream::PushPull { .. } = kind {
            self.metrics.push_pull_bytes_sent += data.len() as u64;
        }
        if expects_reply {
            self.pending_streams.insert(id, kind);
        }
        StreamRequest { id, addr, data, expects_reply, timeout: self.cfg.tcp_timeout, kind: what }
    }

    /// Finds one whole message in the bytes read so far from a stream.
    /// `inbound` is true on accepted connections, where a label header precedes
    /// the message when the cluster has a label. (To read a stream as its
    /// bytes arrive without rescanning them, use [`frame_reader`](Self::frame_reader).)
    pub fn stream_frame(&self, buf: &[u8], inbound: bool) -> Result<StreamFrame, StreamError> {
        self.frame_reader(inbound).poll(buf)
    }

    /// A resumable framer for one stream (see [`FrameReader`]).
    pub fn frame_reader(&self, inbound: bool) -> FrameReader {
        let label = if inbound { self.cfg.label.as_bytes().to_vec() } else { Vec::new() };
        FrameReader { label, inbound, start: None, framer: packet::StreamFramer::new() }
    }

    /// Handles one message from an accepted stream (after its label header).
    /// Returns the bytes to write back, if any. User messages go to `deliver`.
    pub fn handle_stream(
        &mut self,
        now: Instant,
        from: SocketAddr,
        frame: &mut [u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Result<Option<Vec<u8>>, StreamError> {
        if !self.admit_peer(from) {
            return Err(StreamError::NotAllowed);
        }
        let mut scratch = Vec::new();
        let frame_len = frame.len() as u64;
        let msg = self.open_stream(frame, &mut scratch).inspect_err(|_| self.metrics.stream_errors += 1)?;
        let reply = match msg.first().copied() {
            Some(msg_type::PUSH_PULL) => {
                self.metrics.push_pull_bytes_received += frame_len;
                // Answer in kind: memberlist echoes the requester's join flag.
                let join = wire::PushPullReader::new(msg).map(|r| r.header().join).unwrap_or(false);
                let local = self.local_state(join);
                // memberlist sends its state first and then merges: when the
                // merge fails (incompatible versions), the requester still
                // gets the state and finds out precisely why from its own
                // check, instead of a closed connection.
                let merged = self.merge_remote(now, msg, from, false, deliver);
                let reply = self.seal_reply(&local);
                self.metrics.push_pull_bytes_sent += reply.len() as u64;
                match merged {
                    Ok(_) => self.metrics.push_pulls_answered += 1,
                    Err(_) => self.metrics.stream_errors += 1,
                }
                Some(reply)
            }
            Some(msg_type::PING) => match Message::decode(msg)? {
                Message::Ping(p) if p.node.is_empty() || p.node == self.name.as_str() => {
                    let ack = encode_vec(&Message::Ack(wire::Ack { seq_no: p.seq_no, payload: &[] }));
                    Some(self.seal_reply(&ack))
                }
                _ => {
                    self.metrics.dropped_wrong_node += 1;
                    None
                }
            },
            Some(msg_type::USER) => {
                let body = wire::UserStreamReader::new(msg)?.body()?;
                let d = user::decode_direct(body);
                self.metrics.user_messages_received += 1;
                self.deliver_from(d.sender, from, d.topic, d.payload, DeliveryKind::Direct, deliver);
                None
            }
            Some(t) => {
                self.metrics.stream_errors += 1;
                return Err(StreamError::Unexpected(t));
            }
            None => return Err(StreamError::Malformed(wire::DecodeError::Truncated)),
        };
        Ok(reply)
    }

    /// Decrypts and decompresses a stream frame; plaintext is refused when
    /// this node encrypts, unless `gossip_verify_incoming` is off.
    pub(super) fn open_stream<'a>(
        &self,
        frame: &'a mut [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], PacketError> {
        let verify = self.keyring.is_some() && self.cfg.gossip_verify_incoming;
        packet::open_stream(frame, self.cfg.label.as_bytes(), self.keyring.as_ref(), verify, scratch)
    }

    pub(super) fn seal_reply(&mut self, msg: &[u8]) -> Vec<u8> {
        let nonce = self.nonce();
        let mut out = Vec::new();
        packet::seal_stream_message(
            msg,
            false,
            self.cfg.label.as_bytes(),
            self.seal_keyring(),
            self.cfg.compression,
            nonce,
            &mut out,
        );
        out
    }

    /// Handles the reply to a [`StreamRequest`] (the frame found by
    /// [`stream_frame`](Self::stream_frame) with `inbound = false`).
    /// Broadcasts this node missed and the peer's state carries are handed
    /// to `deliver` (Serf's event replay).
    pub fn handle_stream_reply(
        &mut self,
        now: Instant,
        id: u64,
        frame: &mut [u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Result<(), StreamError> {
        let kind = self.pending_streams.remove(&id).ok_or(StreamError::UnknownStream)?;
        let r = self.stream_reply_inner(now, kind, frame, deliver);
        if r.is_err() {
            self.metrics.stream_errors += 1;
        }
        r
    }

    pub(super) fn stream_reply_inner(
        &mut self,
        now: Instant,
        kind: PendingStream,
        frame: &mut [u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Result<(), StreamError> {
        if let PendingStream::PushPull { .. } = kind {
            self.metrics.push_pull_bytes_received += frame.len() as u64;
        }
        let mut scratch = Vec::new();
        let msg = self.open_stream(frame, &mut scratch)?;
        if msg.first() == Some(&msg_type::ERR) {
            if let Message::Err(e) = Message::decode(msg)? {
                return Err(StreamError::Remote(e.error.to_string()));
            }
        }
        match kind {
            PendingStream::PushPull { addr, join } => {
                let fresh = join && core::mem::take(&mut self.ignore_old_events);
                self.merge_remote(now, msg, addr, fresh, deliver)?;
                if join {
                    self.joined_through(now, addr);
                }
                if fresh {
                    // Serf announces a join with a join intent.
                    self.announce_join();
                }
                Ok(())
            }
            PendingStream::Ping { seq } => match Message::decode(msg)? {
                Message::Ack(a) if a.seq_no == seq => {
                    self.handle_ack(now, seq, super::probe::AckPath::Tcp, &[]);
                    Ok(())
                }
                _ => Err(StreamError::PingMismatch),
            },
            PendingStream::User => Err(StreamError::Unexpected(msg.first().copied().unwrap_or(0))),
        }
    }

    /// Stream exchanges the core is waiting on (requested, not yet settled).
    #[cfg(feature = "test-suite")]
    pub(crate) fn pending_stream_count(&self) -> usize {
        self.pending_streams.len()
    }

    /// Reports that the exchange `id` failed (connect, write, read or timeout).
    pub fn handle_stream_failed(&mut self, id: u64) {
        if self.pending_streams.remove(&id).is_some() {
            self.metrics.stream_errors += 1;
        }
    }
}
