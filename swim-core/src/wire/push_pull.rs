//! memberlist's stream messages that carry more than one map: push/pull (type 6,
//! a `pushPullHeader`, that many `pushNodeState` maps, then raw user state) and the
//! stream user message (type 8, a `userMsgHeader`, then raw bytes), as `net.go`
//! (`sendLocalState`, `readRemoteState`, `readUserMsg`) writes and reads them. Their
//! maps come from [`wire_message!`](crate::wire::codec); the sequence around them is
//! written here by hand.

use alloc::vec::Vec;

use crate::wire::msg_type;
use crate::wire::msgpack::{DecodeError, EncodeError, Reader};
use crate::wire::{PushNodeState, PushPullHeader, UserMsgHeader};

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

/// Checks that `msg` starts with type byte `ty` and decodes the header map after it;
/// returns the reader positioned after the header.
fn open_header<'a, H>(
    msg: &'a [u8],
    ty: u8,
    decode: impl FnOnce(&mut Reader<'a>) -> Result<H, DecodeError>,
) -> Result<(Reader<'a>, H), DecodeError> {
    match msg.first() {
        Some(&t) if t == ty => {}
        Some(&t) => return Err(DecodeError::UnknownMessageType(t)),
        None => return Err(DecodeError::Truncated),
    }
    let mut r = Reader::new(msg);
    r.take(1)?;
    let header = decode(&mut r)?;
    Ok((r, header))
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
        let (r, header) = open_header(msg, msg_type::PUSH_PULL, PushPullHeader::decode_body)?;
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
        let (r, header) = open_header(msg, msg_type::USER, UserMsgHeader::decode_body)?;
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
