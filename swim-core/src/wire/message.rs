//! memberlist message types (protocol version 5) and their msgpack bodies.
//!
//! Decoding borrows from the input (zero-copy), accepts fields in any order, skips
//! unknown fields and requires the essential ones. Encoding writes into a caller slice,
//! emits keys in alphabetical order like go-msgpack, leaves out `omitempty` fields and
//! writes empty byte slices as nil (`0xc0`) as Go does for nil `[]byte`.

use alloc::vec::Vec;

use crate::wire::msgpack::{measure, Reader, Writer};
pub use crate::wire::msgpack::{DecodeError, EncodeError};

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

/// A compound message body: `[n u8][n × u16 BE lengths][parts…]` (after type byte 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    lens: &'a [u8],
    data: &'a [u8],
}

/// Iterator over the complete parts of a [`Compound`].
#[derive(Debug, Clone)]
pub struct CompoundParts<'a> {
    lens: core::slice::ChunksExact<'a, u8>,
    data: &'a [u8],
}

impl<'a> Iterator for CompoundParts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let l = self.lens.next()?;
        let len = usize::from(u16::from_be_bytes([*l.first()?, *l.get(1)?]));
        if len > self.data.len() {
            // Go drops this part and every later one (counted as truncated).
            self.data = &[];
            self.lens = [].chunks_exact(2);
            return None;
        }
        let (part, rest) = self.data.split_at(len);
        self.data = rest;
        Some(part)
    }
}

impl<'a> Compound<'a> {
    /// Parses the body after the type byte; errors if the length table is incomplete.
    pub fn decode_body(body: &'a [u8]) -> Result<Self, DecodeError> {
        let (&n, rest) = body.split_first().ok_or(DecodeError::Truncated)?;
        let table = usize::from(n) * 2;
        if rest.len() < table {
            return Err(DecodeError::Truncated);
        }
        let (lens, data) = rest.split_at(table);
        Ok(Compound { lens, data })
    }

    /// Number of parts the header declares.
    pub fn declared(&self) -> usize {
        self.lens.len() / 2
    }

    /// The complete parts, in order (each a full message, type byte first).
    pub fn parts(&self) -> CompoundParts<'a> {
        CompoundParts { lens: self.lens.chunks_exact(2), data: self.data }
    }

    /// Number of declared parts whose length runs past the end (not yielded by `parts`).
    pub fn truncated(&self) -> usize {
        self.declared() - self.parts().count()
    }

    /// Writes `[7]` + body into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        w.raw(&[msg_type::COMPOUND, (self.lens.len() / 2) as u8])?;
        w.raw(self.lens)?;
        w.raw(self.data)?;
        Ok(w.position())
    }

    /// Length of [`Self::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        2 + self.lens.len() + self.data.len()
    }
}

/// Builds a compound message in place, without heap allocation.
///
/// Parts are written right after a 2-byte minimum header; `finish` shifts them to make
/// room for the length table. With one part the result is that part alone.
#[derive(Debug)]
pub struct CompoundBuilder<'b> {
    out: &'b mut [u8],
    lens: [u16; 255],
    count: usize,
    data_len: usize,
}

impl<'b> CompoundBuilder<'b> {
    /// A builder writing into `out`.
    pub fn new(out: &'b mut [u8]) -> Self {
        CompoundBuilder { out, lens: [0; 255], count: 0, data_len: 0 }
    }

    /// Number of parts pushed so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Largest part that can still be pushed (accounts for its 2-byte length entry);
    /// 0 once 255 parts are present.
    pub fn remaining(&self) -> usize {
        if self.count >= 255 {
            return 0;
        }
        let used = 2 + 2 * (self.count + 1) + self.data_len;
        self.out.len().saturating_sub(used).min(usize::from(u16::MAX))
    }

    /// Appends a copy of `part`.
    pub fn push(&mut self, part: &[u8]) -> Result<(), EncodeError> {
        self.push_with(part.len(), |buf| {
            buf.get_mut(..part.len()).ok_or(EncodeError::BufferTooSmall)?.copy_from_slice(part);
            Ok(part.len())
        })
    }

    /// Lets `f` encode a part directly into the buffer (at most `max_len` bytes, and at most
    /// [`Self::remaining`]); `f` returns the length it wrote.
    pub fn push_with(
        &mut self,
        max_len: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<(), EncodeError> {
        if self.count >= 255 {
            return Err(EncodeError::TooManyParts);
        }
        if 2 + 2 * (self.count + 1) + self.data_len > self.out.len() {
            return Err(EncodeError::BufferTooSmall);
        }
        let room = self.remaining().min(max_len);
        let start = 2 + self.data_len;
        let slot = self.out.get_mut(start..start + room).ok_or(EncodeError::BufferTooSmall)?;
        let n = f(slot)?;
        if n > room {
            return Err(EncodeError::BufferTooSmall);
        }
        let len = u16::try_from(n).map_err(|_| EncodeError::TooLong)?;
        if let Some(l) = self.lens.get_mut(self.count) {
            *l = len;
        }
        self.count += 1;
        self.data_len += n;
        Ok(())
    }

    /// Finalises the message at the start of `out` and returns its length (0 for no parts,
    /// the bare part for one part, `[7][n][lens][parts]` otherwise).
    pub fn finish(self) -> usize {
        let data = 2..2 + self.data_len;
        match self.count {
            0 => 0,
            1 => {
                self.out.copy_within(data, 0);
                self.data_len
            }
            n => {
                let table = 2 * n;
                self.out.copy_within(data, 2 + table);
                self.out[0] = msg_type::COMPOUND;
                self.out[1] = n as u8;
                for (i, l) in self.lens.iter().take(n).enumerate() {
                    self.out[2 + 2 * i..4 + 2 * i].copy_from_slice(&l.to_be_bytes());
                }
                2 + table + self.data_len
            }
        }
    }
}

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

/// Appends `len` bytes produced by `f` to `out` (truncating to what `f` wrote).
pub(crate) fn append_with(
    out: &mut Vec<u8>,
    len: usize,
    f: impl FnOnce(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.resize(start + len, 0);
    match out.get_mut(start..).map(f) {
        Some(Ok(n)) => {
            out.truncate(start + n);
            Ok(())
        }
        Some(Err(e)) => {
            out.truncate(start);
            Err(e)
        }
        None => Err(EncodeError::BufferTooSmall),
    }
}

/// Appends a push/pull stream message: `[6]` + header + one map per node + user state.
/// The caller keeps `header.nodes` / `header.user_state_len` consistent with the data.
pub fn encode_push_pull<'n>(
    out: &mut Vec<u8>,
    header: &PushPullHeader,
    nodes: impl Iterator<Item = PushNodeState<'n>>,
    user_state: &[u8],
) {
    // Encoding into exactly measured room cannot fail (lengths are bounded by memory).
    let _ = append_with(out, header.encoded_len(), |b| header.encode(b));
    for n in nodes {
        // An upper bound rather than a measuring pass: this loop encodes
        // whole member tables.
        let _ = append_with(out, n.max_encoded_len(), |b| n.encode(b));
    }
    out.extend_from_slice(user_state);
}

/// Appends a stream user message: `[8]` + `{UserMsgLen}` + raw payload.
pub fn encode_user_stream(out: &mut Vec<u8>, payload: &[u8]) {
    let h = UserMsgHeader { user_msg_len: u32::try_from(payload.len()).unwrap_or(u32::MAX) };
    let _ = append_with(out, h.encoded_len(), |b| h.encode(b));
    out.extend_from_slice(payload);
}

/// Incremental reader of a push/pull stream message (starting at its `[6]` type byte):
/// header, then nodes one at a time, then the user state. Never pre-allocates.
#[derive(Debug, Clone)]
pub struct PushPullReader<'a> {
    r: Reader<'a>,
    header: PushPullHeader,
    left: u32,
}

impl<'a> PushPullReader<'a> {
    /// Reads the type byte and header (limits enforced).
    pub fn new(msg: &'a [u8]) -> Result<Self, DecodeError> {
        match msg.first() {
            Some(&msg_type::PUSH_PULL) => {}
            Some(&t) => return Err(DecodeError::UnknownMessageType(t)),
            None => return Err(DecodeError::Truncated),
        }
        let mut r = Reader::new(msg);
        r.take(1)?;
        let header = PushPullHeader::decode_body(&mut r)?;
        Ok(PushPullReader { r, header, left: header.nodes })
    }

    /// The decoded header.
    pub fn header(&self) -> PushPullHeader {
        self.header
    }

    /// The next node state, or `None` after the last one.
    pub fn next_node(&mut self) -> Result<Option<PushNodeState<'a>>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = PushNodeState::decode_body(&mut self.r)?;
        self.left -= 1;
        Ok(Some(n))
    }

    /// The user state bytes (any nodes not yet read are decoded and discarded first).
    pub fn user_state(&mut self) -> Result<&'a [u8], DecodeError> {
        while self.next_node()?.is_some() {}
        self.r.take(self.header.user_state_len as usize)
    }
}

/// Reader of a stream user message: `[8]` + `{UserMsgLen}` + raw bytes.
#[derive(Debug, Clone)]
pub struct UserStreamReader<'a> {
    r: Reader<'a>,
    header: UserMsgHeader,
}

impl<'a> UserStreamReader<'a> {
    /// Reads the type byte and header (length limit enforced).
    pub fn new(msg: &'a [u8]) -> Result<Self, DecodeError> {
        match msg.first() {
            Some(&msg_type::USER) => {}
            Some(&t) => return Err(DecodeError::UnknownMessageType(t)),
            None => return Err(DecodeError::Truncated),
        }
        let mut r = Reader::new(msg);
        r.take(1)?;
        let header = UserMsgHeader::decode_body(&mut r)?;
        Ok(UserStreamReader { r, header })
    }

    /// The decoded header.
    pub fn header(&self) -> UserMsgHeader {
        self.header
    }

    /// The `UserMsgLen` raw bytes after the header.
    pub fn body(&mut self) -> Result<&'a [u8], DecodeError> {
        self.r.take(self.header.user_msg_len as usize)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use proptest::prelude::*;

    /// Reads a file under `testdata/wire/` (vectors captured from Go memberlist / Serf).
    pub(crate) fn read_shared(rel: &str) -> String {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os("SWIM_WIRE_DIR") {
            dirs.push(std::path::PathBuf::from(d));
        }
        dirs.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/wire"));
        for d in &dirs {
            if let Ok(s) = std::fs::read_to_string(d.join(rel)) {
                return s;
            }
        }
        panic!("wire vector {rel} not found in {dirs:?} (set SWIM_WIRE_DIR)");
    }

    /// Reads `wire/vectors/<name>`.
    pub(crate) fn read_vector(name: &str) -> String {
        read_shared(&alloc::format!("vectors/{name}"))
    }

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s = s.trim();
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    fn reencode(m: &Message<'_>) -> Vec<u8> {
        let mut out = vec![0u8; m.encoded_len()];
        assert_eq!(m.encode(&mut out).unwrap(), out.len());
        out
    }

    const PING: &str = "0085a44e6f6465a46e303033a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a46e303030aa536f75726365506f7274cda663";
    const IPING: &str = "0188a44e61636bc3a44e6f6465a46e303030a4506f7274cda663a55365714e6f08aa536f7572636541646472a47f000001aa536f757263654e6f6465a46e303033aa536f75726365506f7274cdb325a6546172676574a47f000001";

    #[test]
    fn go_bytes_round_trip() {
        let p = hex(PING);
        let m = Message::decode(&p).unwrap();
        assert_eq!(
            m,
            Message::Ping(Ping {
                seq_no: 1,
                node: "n003",
                source_addr: &[127, 0, 0, 1],
                source_port: 42595,
                source_node: "n000"
            })
        );
        assert_eq!(reencode(&m), p);
        let p = hex(IPING);
        let m = Message::decode(&p).unwrap();
        match m {
            Message::IndirectPing(ip) => {
                assert!(ip.nack);
                assert_eq!((ip.seq_no, ip.port, ip.node, ip.source_port), (8, 42595, "n000", 45861));
            }
            _ => panic!("{m:?}"),
        }
        assert_eq!(reencode(&m), p);
        let p = hex("0b81a55365714e6f1d");
        assert_eq!(Message::decode(&p).unwrap(), Message::Nack(Nack { seq_no: 29 }));
    }

    #[test]
    fn missing_and_overflow() {
        // {"Node": "x"} ping without SeqNo
        assert_eq!(Message::decode(&hex("0081a44e6f6465a178")), Err(DecodeError::MissingField("SeqNo")));
        // SeqNo = 2^32
        assert_eq!(
            Message::decode(&hex("0081a55365714e6fcf0000000100000000")),
            Err(DecodeError::IntOutOfRange)
        );
        assert_eq!(Message::decode(&[200]), Err(DecodeError::UnknownMessageType(200)));
        assert_eq!(Message::decode(&[]), Err(DecodeError::Truncated));
        // unknown keys skipped, any order; int16 seqno accepted
        let raw = hex("0283a158c0a55365714e6fd10100a75061796c6f6164a178");
        let m = Message::decode(&raw).unwrap();
        assert_eq!(m, Message::Ack(Ack { seq_no: 256, payload: b"x" }));
    }

    #[test]
    fn compound_builder_and_truncation() {
        let mut buf = [0u8; 64];
        let mut b = CompoundBuilder::new(&mut buf);
        assert_eq!(b.remaining(), 60);
        b.push(b"\x08abc").unwrap();
        b.push_with(100, |s| Nack { seq_no: 5 }.encode(s)).unwrap();
        assert_eq!(b.count(), 2);
        let n = b.finish();
        let m = Message::decode(&buf[..n]).unwrap();
        let Message::Compound(c) = m else { panic!() };
        let parts: Vec<&[u8]> = c.parts().collect();
        assert_eq!(parts, [&b"\x08abc"[..], &hex("0b81a55365714e6f05")[..]]);
        assert_eq!(c.truncated(), 0);
        // single part → bare
        let mut buf = [0u8; 16];
        let mut b = CompoundBuilder::new(&mut buf);
        b.push(b"\x08hi").unwrap();
        assert_eq!(b.finish(), 3);
        assert_eq!(&buf[..3], b"\x08hi");
        assert_eq!(CompoundBuilder::new(&mut [0u8; 8]).finish(), 0);
        // truncated tail
        let raw = [7, 3, 0, 1, 0, 5, 0, 1, 8, 8, 8];
        let Message::Compound(c) = Message::decode(&raw).unwrap() else { panic!() };
        assert_eq!(c.parts().count(), 1);
        assert_eq!(c.truncated(), 2);
        assert_eq!(Message::decode(&[7, 3, 0, 1]), Err(DecodeError::Truncated));
        // full buffer
        let mut buf = [0u8; 10];
        let mut b = CompoundBuilder::new(&mut buf);
        assert_eq!(b.push(&[1u8; 7]), Err(EncodeError::BufferTooSmall));
        b.push(&[1u8; 6]).unwrap();
        assert_eq!(b.remaining(), 0);
    }

    #[test]
    fn compound_255_parts() {
        let mut buf = vec![0u8; 2000];
        let mut b = CompoundBuilder::new(&mut buf);
        for _ in 0..255 {
            b.push(&[8]).unwrap();
        }
        assert_eq!(b.push(&[8]), Err(EncodeError::TooManyParts));
        let n = b.finish();
        let Message::Compound(c) = Message::decode(&buf[..n]).unwrap() else { panic!() };
        assert_eq!(c.parts().count(), 255);
    }

    #[test]
    fn push_pull_stream() {
        let s = "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656e0087a441646472a47f000001ab496e6361726e6174696f6e01a44d657461c0a44e616d65a46e303031a4506f7274cd8a07a5537461746500a356736ea6010502000000";
        let b = hex(s);
        let mut r = PushPullReader::new(&b).unwrap();
        let h = r.header();
        assert_eq!(h, PushPullHeader { nodes: 1, user_state_len: 0, join: true });
        let n = r.next_node().unwrap().unwrap();
        assert_eq!((n.name, n.port, n.incarnation, n.state), ("n001", 35335, 1, 0));
        assert_eq!(n.vsn, &[1, 5, 2, 0, 0, 0]);
        assert_eq!(r.next_node(), Ok(None));
        assert_eq!(r.user_state(), Ok(&[][..]));
        let mut out = Vec::new();
        encode_push_pull(&mut out, &h, [n].into_iter(), &[]);
        assert_eq!(out, b);
        let mut u = Vec::new();
        encode_user_stream(&mut u, b"hello-tcp");
        assert_eq!(u, hex("0881aa557365724d73674c656e0968656c6c6f2d746370"));
        let mut ur = UserStreamReader::new(&u).unwrap();
        assert_eq!(ur.header().user_msg_len, 9);
        assert_eq!(ur.body(), Ok(&b"hello-tcp"[..]));
        assert_eq!(UserStreamReader::new(&u[..u.len() - 1]).unwrap().body(), Err(DecodeError::Truncated));
        // hostile counts
        let mut big = Vec::new();
        encode_push_pull(
            &mut big,
            &PushPullHeader { nodes: 2_000_000, user_state_len: 0, join: false },
            core::iter::empty(),
            &[],
        );
        assert_eq!(PushPullReader::new(&big).err(), Some(DecodeError::LengthTooLarge));
        let mut lie = Vec::new();
        encode_push_pull(
            &mut lie,
            &PushPullHeader { nodes: 1000, user_state_len: 5, join: false },
            core::iter::empty(),
            &[],
        );
        let mut r = PushPullReader::new(&lie).unwrap();
        assert_eq!(r.next_node(), Err(DecodeError::Truncated));
    }

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..80)
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            seq in any::<u32>(), port in any::<u16>(), inc in any::<u32>(), flag in any::<bool>(),
            s1 in ".{0,40}", s2 in ".{0,40}", b1 in arb_bytes(), b2 in arb_bytes(), b3 in arb_bytes(),
            state in any::<u8>(),
        ) {
            let msgs = [
                Message::Ping(Ping { seq_no: seq, node: &s1, source_addr: &b1, source_port: port, source_node: &s2 }),
                Message::IndirectPing(IndirectPing { seq_no: seq, target: &b1, port, node: &s1, nack: flag, source_addr: &b2, source_port: port, source_node: &s2 }),
                Message::Ack(Ack { seq_no: seq, payload: &b1 }),
                Message::Nack(Nack { seq_no: seq }),
                Message::Suspect(Suspect { incarnation: inc, node: &s1, from: &s2 }),
                Message::Alive(Alive { incarnation: inc, node: &s1, addr: &b1, port, meta: &b2, vsn: &b3 }),
                Message::Dead(Dead { incarnation: inc, node: &s1, from: &s2 }),
                Message::User(&b1),
                Message::Compress(Compress { algo: state, buf: &b2 }),
                Message::Err(ErrResp { error: &s1 }),
            ];
            for m in msgs {
                let e = reencode(&m);
                prop_assert_eq!(Message::decode(&e), Ok(m));
                let mut small = vec![0u8; e.len() - 1];
                prop_assert_eq!(m.encode(&mut small), Err(EncodeError::BufferTooSmall));
            }
            let node = PushNodeState { name: &s1, addr: &b1, port, meta: &b2, incarnation: inc, state, vsn: &b3 };
            prop_assert!(node.max_encoded_len() >= node.encoded_len());
            let alive = Alive { incarnation: inc, node: &s1, addr: &b1, port, meta: &b2, vsn: &b3 };
            prop_assert!(alive.max_encoded_len() >= Message::Alive(alive).encoded_len());
            let long = "x".repeat(70_000);
            let big = PushNodeState { name: &long, meta: long.as_bytes(), ..node };
            prop_assert!(big.max_encoded_len() >= big.encoded_len());
            let big = Alive { node: &long, meta: long.as_bytes(), ..alive };
            prop_assert!(big.max_encoded_len() >= Message::Alive(big).encoded_len());
            let h = PushPullHeader { nodes: 2, user_state_len: b3.len() as u32, join: flag };
            let mut out = Vec::new();
            encode_push_pull(&mut out, &h, [node, node].into_iter(), &b3);
            let mut r = PushPullReader::new(&out).unwrap();
            prop_assert_eq!(r.header(), h);
            prop_assert_eq!(r.next_node(), Ok(Some(node)));
            prop_assert_eq!(r.user_state(), Ok(&b3[..]));
        }

        #[test]
        fn compound_round_trip(parts in proptest::collection::vec(arb_bytes(), 0..40)) {
            let mut buf = vec![0u8; 1400];
            let mut b = CompoundBuilder::new(&mut buf);
            let mut pushed = Vec::new();
            for p in &parts {
                let room = b.remaining();
                match b.push(p) {
                    Ok(()) => {
                        prop_assert!(p.len() <= room);
                        pushed.push(p.clone());
                    }
                    // room == 0 may also mean that not even a length entry fits.
                    Err(_) => prop_assert!(p.len() > room || room == 0),
                }
            }
            let n = b.finish();
            match pushed.len() {
                0 => prop_assert_eq!(n, 0),
                1 => prop_assert_eq!(&buf[..n], &pushed[0][..]),
                _ => {
                    let Ok(Message::Compound(c)) = Message::decode(&buf[..n]) else { panic!() };
                    let got: Vec<Vec<u8>> = c.parts().map(|p| p.to_vec()).collect();
                    prop_assert_eq!(got, pushed);
                }
            }
        }

        #[test]
        fn decode_arbitrary_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Message::Compound(c)) = Message::decode(&b) {
                for p in c.parts() { let _ = Message::decode(p); }
                let _ = c.truncated();
            }
            for t in 0..14u8 {
                let mut v = vec![t];
                v.extend_from_slice(&b);
                let _ = Message::decode(&v);
            }
            let mut v = vec![6u8];
            v.extend_from_slice(&b);
            if let Ok(mut r) = PushPullReader::new(&v) {
                while let Ok(Some(_)) = r.next_node() {}
                let _ = r.user_state();
            }
            let _ = String::from_utf8_lossy(&b);
        }
    }
}
