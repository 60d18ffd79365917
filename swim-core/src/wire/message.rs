//! memberlist message types (protocol version 5) and their msgpack bodies.
//!
//! Decoding borrows from the input (zero-copy), accepts fields in any order, skips
//! unknown fields and requires the essential ones. Encoding writes into a caller slice,
//! emits keys in alphabetical order like go-msgpack, leaves out `omitempty` fields and
//! writes empty byte slices as nil (`0xc0`) as Go does for nil `[]byte`. The messages
//! of another shape live beside this file: compound in `compound.rs`, push/pull and
//! user streams in `push_pull.rs`.

use crate::wire::msgpack::{measure, Reader, Writer};
pub use crate::wire::msgpack::{DecodeError, EncodeError};
use crate::wire::Compound;

/// memberlist message type bytes (`net.go`).
pub mod msg_type {
    /// `ping`.
    pub const PING: u8 = 0;
    /// `indirectPingReq`.
    pub const INDIRECT_PING: u8 = 1;
    /// `ackResp`.
    pub const ACK: u8 = 2;
    /// `suspect`.
    pub const SUSPECT: u8 = 3;
    /// `alive`.
    pub const ALIVE: u8 = 4;
    /// `dead`.
    pub const DEAD: u8 = 5;
    /// Push/pull state exchange (TCP only).
    pub const PUSH_PULL: u8 = 6;
    /// Compound of several messages (UDP).
    pub const COMPOUND: u8 = 7;
    /// User message.
    pub const USER: u8 = 8;
    /// Compressed wrapper.
    pub const COMPRESS: u8 = 9;
    /// Encrypted stream wrapper (TCP only).
    pub const ENCRYPT: u8 = 10;
    /// `nackResp`.
    pub const NACK: u8 = 11;
    /// CRC32 header (UDP).
    pub const HAS_CRC: u8 = 12;
    /// `errResp` (TCP).
    pub const ERR: u8 = 13;
    /// Label header prefix.
    pub const HAS_LABEL: u8 = 244;
}

/// Maximum `Nodes` in a push/pull header (`maxPushPullRequests`-era limit in `net.go`).
pub const MAX_PUSH_NODES: u32 = 1 << 20;
/// Maximum push/pull user state and stream user message length (20 MiB).
pub const MAX_USER_STATE: u32 = 20 * 1024 * 1024;

/// `ping` (type 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping<'a> {
    /// Sequence number echoed in the ack.
    pub seq_no: u32,
    /// Name of the node the ping is meant for ("" = anyone).
    pub node: &'a str,
    /// Address to send the ack to (omitted when empty).
    pub source_addr: &'a [u8],
    /// Port to send the ack to (omitted when 0).
    pub source_port: u16,
    /// Name of the pinging node (omitted when empty).
    pub source_node: &'a str,
}

/// `indirectPingReq` (type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndirectPing<'a> {
    /// Sequence number to answer with.
    pub seq_no: u32,
    /// Target IP address bytes.
    pub target: &'a [u8],
    /// Target port.
    pub port: u16,
    /// Target node name.
    pub node: &'a str,
    /// Whether the requester wants a nack if the target does not answer.
    pub nack: bool,
    /// Requester address (omitted when empty).
    pub source_addr: &'a [u8],
    /// Requester port (omitted when 0).
    pub source_port: u16,
    /// Requester name (omitted when empty).
    pub source_node: &'a str,
}

/// `ackResp` (type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ack<'a> {
    /// Sequence number of the ping being answered.
    pub seq_no: u32,
    /// Ack payload (encoded as nil when empty).
    pub payload: &'a [u8],
}

/// `nackResp` (type 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nack {
    /// Sequence number of the indirect ping being answered.
    pub seq_no: u32,
}

/// `suspect` (type 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Suspect<'a> {
    /// Incarnation being suspected.
    pub incarnation: u32,
    /// Suspected node.
    pub node: &'a str,
    /// Accusing node.
    pub from: &'a str,
}

/// `alive` (type 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Alive<'a> {
    /// Incarnation number.
    pub incarnation: u32,
    /// Node name.
    pub node: &'a str,
    /// IP address bytes (4 or 16).
    pub addr: &'a [u8],
    /// Port.
    pub port: u16,
    /// Node metadata (nil when empty).
    pub meta: &'a [u8],
    /// `[PMin, PMax, PCur, DMin, DMax, DCur]`.
    pub vsn: &'a [u8],
}

/// `dead` (type 5); `node == from` means the node left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dead<'a> {
    /// Incarnation declared dead.
    pub incarnation: u32,
    /// Dead node.
    pub node: &'a str,
    /// Declaring node.
    pub from: &'a str,
}

/// `pushPullHeader` (after type byte 6 on a stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushPullHeader {
    /// Number of `pushNodeState` maps that follow.
    pub nodes: u32,
    /// Raw user state bytes after the nodes.
    pub user_state_len: u32,
    /// Whether this exchange is a join.
    pub join: bool,
}

/// `pushNodeState`: one node in a push/pull exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushNodeState<'a> {
    /// Node name.
    pub name: &'a str,
    /// IP address bytes.
    pub addr: &'a [u8],
    /// Port.
    pub port: u16,
    /// Metadata.
    pub meta: &'a [u8],
    /// Incarnation.
    pub incarnation: u32,
    /// Alive=0, Suspect=1, Dead=2, Left=3 (other values are passed through).
    pub state: u8,
    /// Version array.
    pub vsn: &'a [u8],
}

/// `userMsgHeader` (after type byte 8 on a stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserMsgHeader {
    /// Raw user bytes that follow.
    pub user_msg_len: u32,
}

/// `errResp` (type 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrResp<'a> {
    /// Error text.
    pub error: &'a str,
}

/// `compress` (type 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compress<'a> {
    /// Algorithm; 0 = LZW.
    pub algo: u8,
    /// Compressed bytes.
    pub buf: &'a [u8],
}

/// Calls `f` for each key of a msgpack map (key bytes, reader positioned at the value).
fn fields<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(&'a [u8], &mut Reader<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let n = r.read_map_len()?;
    for _ in 0..n {
        let k = r.read_bytes()?;
        f(k, r)?;
    }
    Ok(())
}

fn get_uint<T: TryFrom<u64>>(r: &mut Reader<'_>) -> Result<T, DecodeError> {
    let v = r.read_nil_or(|r| r.read_uint())?.unwrap_or(0);
    T::try_from(v).map_err(|_| DecodeError::IntOutOfRange)
}

fn get_str<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    Ok(r.read_nil_or(|r| r.read_str())?.unwrap_or(""))
}

fn get_bool(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    Ok(r.read_nil_or(|r| r.read_bool())?.unwrap_or(false))
}

fn req<T>(v: Option<T>, name: &'static str) -> Result<T, DecodeError> {
    v.ok_or(DecodeError::MissingField(name))
}

macro_rules! impl_encode {
    ($t:ty, $tb:expr) => {
        impl $t {
            /// Writes type byte + msgpack body into `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
                let mut w = Writer::new(out);
                w.raw(&[$tb])?;
                self.write_body(&mut w)?;
                Ok(w.position())
            }

            /// Length of [`Self::encode`]'s output.
            pub fn encoded_len(&self) -> usize {
                measure(|w| {
                    w.raw(&[$tb])?;
                    self.write_body(w)
                })
            }
        }
    };
}

impl<'a> Ping<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let opt = usize::from(!self.source_addr.is_empty())
            + usize::from(!self.source_node.is_empty())
            + usize::from(self.source_port != 0);
        w.map_header(2 + opt)?;
        w.str("Node")?;
        w.str(self.node)?;
        w.str("SeqNo")?;
        w.uint(self.seq_no.into())?;
        write_source(w, self.source_addr, self.source_node, self.source_port)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (mut m, mut seq) = (Ping::default(), None);
        fields(r, |k, r| {
            match k {
                b"SeqNo" => seq = Some(get_uint(r)?),
                b"Node" => m.node = get_str(r)?,
                b"SourceAddr" => m.source_addr = r.read_bytes()?,
                b"SourcePort" => m.source_port = get_uint(r)?,
                b"SourceNode" => m.source_node = get_str(r)?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        m.seq_no = req(seq, "SeqNo")?;
        Ok(m)
    }
}
impl_encode!(Ping<'_>, msg_type::PING);

fn write_source(w: &mut Writer<'_>, addr: &[u8], node: &str, port: u16) -> Result<(), EncodeError> {
    if !addr.is_empty() {
        w.str("SourceAddr")?;
        w.bytes(addr)?;
    }
    if !node.is_empty() {
        w.str("SourceNode")?;
        w.str(node)?;
    }
    if port != 0 {
        w.str("SourcePort")?;
        w.uint(port.into())?;
    }
    Ok(())
}

impl<'a> IndirectPing<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let opt = usize::from(!self.source_addr.is_empty())
            + usize::from(!self.source_node.is_empty())
            + usize::from(self.source_port != 0);
        w.map_header(5 + opt)?;
        w.str("Nack")?;
        w.bool(self.nack)?;
        w.str("Node")?;
        w.str(self.node)?;
        w.str("Port")?;
        w.uint(self.port.into())?;
        w.str("SeqNo")?;
        w.uint(self.seq_no.into())?;
        write_source(w, self.source_addr, self.source_node, self.source_port)?;
        w.str("Target")?;
        w.bytes_or_nil(self.target)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (mut m, mut seq, mut target, mut port) = (IndirectPing::default(), None, None, None);
        fields(r, |k, r| {
            match k {
                b"SeqNo" => seq = Some(get_uint(r)?),
                b"Target" => target = Some(r.read_bytes()?),
                b"Port" => port = Some(get_uint(r)?),
                b"Node" => m.node = get_str(r)?,
                b"Nack" => m.nack = get_bool(r)?,
                b"SourceAddr" => m.source_addr = r.read_bytes()?,
                b"SourcePort" => m.source_port = get_uint(r)?,
                b"SourceNode" => m.source_node = get_str(r)?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        m.seq_no = req(seq, "SeqNo")?;
        m.target = req(target, "Target")?;
        m.port = req(port, "Port")?;
        Ok(m)
    }
}
impl_encode!(IndirectPing<'_>, msg_type::INDIRECT_PING);

impl<'a> Ack<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(2)?;
        w.str("Payload")?;
        w.bytes_or_nil(self.payload)?;
        w.str("SeqNo")?;
        w.uint(self.seq_no.into())
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (mut payload, mut seq) = (&[][..], None);
        fields(r, |k, r| {
            match k {
                b"SeqNo" => seq = Some(get_uint(r)?),
                b"Payload" => payload = r.read_bytes()?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Ack { seq_no: req(seq, "SeqNo")?, payload })
    }
}
impl_encode!(Ack<'_>, msg_type::ACK);

impl Nack {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(1)?;
        w.str("SeqNo")?;
        w.uint(self.seq_no.into())
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut seq = None;
        fields(r, |k, r| {
            match k {
                b"SeqNo" => seq = Some(get_uint(r)?),
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Nack { seq_no: req(seq, "SeqNo")? })
    }
}
impl_encode!(Nack, msg_type::NACK);

/// Shared body of suspect and dead: `{From, Incarnation, Node}`.
fn write_accusation(w: &mut Writer<'_>, from: &str, inc: u32, node: &str) -> Result<(), EncodeError> {
    w.map_header(3)?;
    w.str("From")?;
    w.str(from)?;
    w.str("Incarnation")?;
    w.uint(inc.into())?;
    w.str("Node")?;
    w.str(node)
}

fn read_accusation<'a>(r: &mut Reader<'a>) -> Result<(u32, &'a str, &'a str), DecodeError> {
    let (mut inc, mut node, mut from) = (None, None, "");
    fields(r, |k, r| {
        match k {
            b"Incarnation" => inc = Some(get_uint(r)?),
            b"Node" => node = Some(get_str(r)?),
            b"From" => from = get_str(r)?,
            _ => r.skip_value()?,
        }
        Ok(())
    })?;
    Ok((req(inc, "Incarnation")?, req(node, "Node")?, from))
}

impl<'a> Suspect<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        write_accusation(w, self.from, self.incarnation, self.node)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (incarnation, node, from) = read_accusation(r)?;
        Ok(Suspect { incarnation, node, from })
    }
}
impl_encode!(Suspect<'_>, msg_type::SUSPECT);

impl<'a> Dead<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        write_accusation(w, self.from, self.incarnation, self.node)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (incarnation, node, from) = read_accusation(r)?;
        Ok(Dead { incarnation, node, from })
    }
}
impl_encode!(Dead<'_>, msg_type::DEAD);

impl<'a> Alive<'a> {
    /// At least the length of `Message::Alive(self)` encoded (type byte
    /// included), computed without encoding.
    pub fn max_encoded_len(&self) -> usize {
        // Type byte, map header, six keys (36 bytes), four raw/str headers
        // (5 each), incarnation (5), port (3), and the variable parts.
        1 + 1 + 36 + 4 * 5 + 5 + 3 + self.node.len() + self.addr.len() + self.meta.len() + self.vsn.len()
    }

    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(6)?;
        w.str("Addr")?;
        w.bytes_or_nil(self.addr)?;
        w.str("Incarnation")?;
        w.uint(self.incarnation.into())?;
        w.str("Meta")?;
        w.bytes_or_nil(self.meta)?;
        w.str("Node")?;
        w.str(self.node)?;
        w.str("Port")?;
        w.uint(self.port.into())?;
        w.str("Vsn")?;
        w.bytes_or_nil(self.vsn)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let mut m = Alive::default();
        let (mut inc, mut node, mut addr, mut port) = (None, None, None, None);
        fields(r, |k, r| {
            match k {
                b"Incarnation" => inc = Some(get_uint(r)?),
                b"Node" => node = Some(get_str(r)?),
                b"Addr" => addr = Some(r.read_bytes()?),
                b"Port" => port = Some(get_uint(r)?),
                b"Meta" => m.meta = r.read_bytes()?,
                b"Vsn" => m.vsn = r.read_bytes()?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        m.incarnation = req(inc, "Incarnation")?;
        m.node = req(node, "Node")?;
        m.addr = req(addr, "Addr")?;
        m.port = req(port, "Port")?;
        Ok(m)
    }
}
impl_encode!(Alive<'_>, msg_type::ALIVE);

impl PushPullHeader {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(3)?;
        w.str("Join")?;
        w.bool(self.join)?;
        w.str("Nodes")?;
        w.int(self.nodes.into())?;
        w.str("UserStateLen")?;
        w.int(self.user_state_len.into())
    }

    /// Decodes the msgpack body (after the type byte); enforces [`MAX_PUSH_NODES`] and
    /// [`MAX_USER_STATE`].
    pub fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (mut nodes, mut m) = (None, PushPullHeader::default());
        fields(r, |k, r| {
            match k {
                b"Nodes" => nodes = Some(get_uint(r)?),
                b"UserStateLen" => m.user_state_len = get_uint(r)?,
                b"Join" => m.join = get_bool(r)?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        m.nodes = req(nodes, "Nodes")?;
        if m.nodes > MAX_PUSH_NODES || m.user_state_len > MAX_USER_STATE {
            return Err(DecodeError::LengthTooLarge);
        }
        Ok(m)
    }
}
impl_encode!(PushPullHeader, msg_type::PUSH_PULL);

impl<'a> PushNodeState<'a> {
    /// Writes the msgpack map (node states have no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(7)?;
        w.str("Addr")?;
        w.bytes_or_nil(self.addr)?;
        w.str("Incarnation")?;
        w.uint(self.incarnation.into())?;
        w.str("Meta")?;
        w.bytes_or_nil(self.meta)?;
        w.str("Name")?;
        w.str(self.name)?;
        w.str("Port")?;
        w.uint(self.port.into())?;
        w.str("State")?;
        w.int(self.state.into())?;
        w.str("Vsn")?;
        w.bytes_or_nil(self.vsn)
    }

    /// Writes the msgpack map into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        self.write_body(&mut w)?;
        Ok(w.position())
    }

    /// Length of [`Self::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        measure(|w| self.write_body(w))
    }

    /// At least [`encoded_len`](Self::encoded_len), computed without encoding.
    pub fn max_encoded_len(&self) -> usize {
        // Map header, seven keys (42 bytes), four raw/str headers (5 each),
        // incarnation (5), port (3), state (2), and the variable parts.
        1 + 42 + 4 * 5 + 5 + 3 + 2 + self.name.len() + self.addr.len() + self.meta.len() + self.vsn.len()
    }

    /// Decodes one node map.
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let mut m = PushNodeState::default();
        let (mut name, mut addr, mut port, mut inc, mut state) = (None, None, None, None, None);
        fields(r, |k, r| {
            match k {
                b"Name" => name = Some(get_str(r)?),
                b"Addr" => addr = Some(r.read_bytes()?),
                b"Port" => port = Some(get_uint(r)?),
                b"Incarnation" => inc = Some(get_uint(r)?),
                b"State" => state = Some(get_uint(r)?),
                b"Meta" => m.meta = r.read_bytes()?,
                b"Vsn" => m.vsn = r.read_bytes()?,
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        m.name = req(name, "Name")?;
        m.addr = req(addr, "Addr")?;
        m.port = req(port, "Port")?;
        m.incarnation = req(inc, "Incarnation")?;
        m.state = req(state, "State")?;
        Ok(m)
    }
}

impl UserMsgHeader {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(1)?;
        w.str("UserMsgLen")?;
        w.int(self.user_msg_len.into())
    }

    /// Decodes the msgpack body (after the type byte); enforces [`MAX_USER_STATE`].
    pub fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut len = None;
        fields(r, |k, r| {
            match k {
                b"UserMsgLen" => len = Some(get_uint(r)?),
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        let user_msg_len = req(len, "UserMsgLen")?;
        if user_msg_len > MAX_USER_STATE {
            return Err(DecodeError::LengthTooLarge);
        }
        Ok(UserMsgHeader { user_msg_len })
    }
}
impl_encode!(UserMsgHeader, msg_type::USER);

impl<'a> ErrResp<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(1)?;
        w.str("Error")?;
        w.str(self.error)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let mut error = None;
        fields(r, |k, r| {
            match k {
                b"Error" => error = Some(get_str(r)?),
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        Ok(ErrResp { error: req(error, "Error")? })
    }
}
impl_encode!(ErrResp<'_>, msg_type::ERR);

impl<'a> Compress<'a> {
    /// Writes the msgpack body (no type byte).
    pub fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.map_header(2)?;
        w.str("Algo")?;
        w.uint(self.algo.into())?;
        w.str("Buf")?;
        w.bytes_or_nil(self.buf)
    }

    /// Decodes the msgpack body (after the type byte).
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (mut algo, mut buf) = (None, None);
        fields(r, |k, r| {
            match k {
                b"Algo" => algo = Some(get_uint(r)?),
                b"Buf" => buf = Some(r.read_bytes()?),
                _ => r.skip_value()?,
            }
            Ok(())
        })?;
        Ok(Compress { algo: req(algo, "Algo")?, buf: req(buf, "Buf")? })
    }
}
impl_encode!(Compress<'_>, msg_type::COMPRESS);

/// One whole UDP-level message (type byte + body), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Type 0.
    Ping(Ping<'a>),
    /// Type 1.
    IndirectPing(IndirectPing<'a>),
    /// Type 2.
    Ack(Ack<'a>),
    /// Type 11.
    Nack(Nack),
    /// Type 3.
    Suspect(Suspect<'a>),
    /// Type 4.
    Alive(Alive<'a>),
    /// Type 5.
    Dead(Dead<'a>),
    /// Type 8 on UDP: the raw bytes after the type byte.
    User(&'a [u8]),
    /// Type 7.
    Compound(Compound<'a>),
    /// Type 9.
    Compress(Compress<'a>),
    /// Type 13.
    Err(ErrResp<'a>),
}

impl<'a> Message<'a> {
    /// Decodes a message starting at its type byte. Trailing bytes after the body are
    /// ignored (as Go's stream decoder does).
    pub fn decode(buf: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        let (&t, body) = buf.split_first().ok_or(DecodeError::Truncated)?;
        let mut r = Reader::new(body);
        let r = &mut r;
        Ok(match t {
            msg_type::PING => Message::Ping(Ping::decode_body(r)?),
            msg_type::INDIRECT_PING => Message::IndirectPing(IndirectPing::decode_body(r)?),
            msg_type::ACK => Message::Ack(Ack::decode_body(r)?),
            msg_type::NACK => Message::Nack(Nack::decode_body(r)?),
            msg_type::SUSPECT => Message::Suspect(Suspect::decode_body(r)?),
            msg_type::ALIVE => Message::Alive(Alive::decode_body(r)?),
            msg_type::DEAD => Message::Dead(Dead::decode_body(r)?),
            msg_type::USER => Message::User(body),
            msg_type::COMPOUND => Message::Compound(Compound::decode_body(body)?),
            msg_type::COMPRESS => Message::Compress(Compress::decode_body(r)?),
            msg_type::ERR => Message::Err(ErrResp::decode_body(r)?),
            other => return Err(DecodeError::UnknownMessageType(other)),
        })
    }

    /// Encodes the message (type byte first) into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Message::Ping(m) => m.encode(out),
            Message::IndirectPing(m) => m.encode(out),
            Message::Ack(m) => m.encode(out),
            Message::Nack(m) => m.encode(out),
            Message::Suspect(m) => m.encode(out),
            Message::Alive(m) => m.encode(out),
            Message::Dead(m) => m.encode(out),
            Message::User(b) => {
                let mut w = Writer::new(out);
                w.raw(&[msg_type::USER])?;
                w.raw(b)?;
                Ok(w.position())
            }
            Message::Compound(m) => m.encode(out),
            Message::Compress(m) => m.encode(out),
            Message::Err(m) => m.encode(out),
        }
    }

    /// Length of [`Self::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        match self {
            Message::Ping(m) => m.encoded_len(),
            Message::IndirectPing(m) => m.encoded_len(),
            Message::Ack(m) => m.encoded_len(),
            Message::Nack(m) => m.encoded_len(),
            Message::Suspect(m) => m.encoded_len(),
            Message::Alive(m) => m.encoded_len(),
            Message::Dead(m) => m.encoded_len(),
            Message::User(b) => 1 + b.len(),
            Message::Compound(m) => m.encoded_len(),
            Message::Compress(m) => m.encoded_len(),
            Message::Err(m) => m.encoded_len(),
        }
    }
}
