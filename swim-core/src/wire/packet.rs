//! Whole-datagram pipeline (label → encryption → CRC) and TCP stream framing, in
//! memberlist's order (`net.go ingestPacket`, `rawSendMsgPacket`, `readStream`,
//! `rawSendMsgStream`; `transport.go` label wrappers).

use alloc::vec::Vec;
use core::fmt;

use crate::wire::crypto::{self, DecryptError, Keyring, ENCRYPT_OVERHEAD, NONCE_LEN, TAG_LEN};
use crate::wire::lzw;
use crate::wire::msgpack::{DecodeError, EncodeError, Reader};
use crate::wire::{msg_type, PushPullHeader, UserMsgHeader};

/// Longest label memberlist accepts (its header stores the length in one byte).
pub const LABEL_MAX: usize = 255;
/// Length of the CRC header `[12][crc32 BE]`.
pub const CRC_HEADER_LEN: usize = 5;
/// Cap on a decompressed stream message (40 MiB, memberlist's limit).
pub const MAX_STREAM_DECOMPRESSED: usize = 40 * 1024 * 1024;

/// Which wire layers are in force for a packet or stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<'k> {
    /// Cluster label ("" = none).
    pub label: &'k [u8],
    /// Encryption keys, if encryption is enabled.
    pub keyring: Option<&'k Keyring>,
    /// Reject plaintext when a keyring is set (`GossipVerifyIncoming`).
    pub verify_incoming: bool,
}

/// Why an incoming packet or stream was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// Label header missing, unexpected, empty or different from ours.
    LabelMismatch,
    /// Too short for its headers, or empty.
    Truncated,
    /// Decryption failed (with `verify_incoming`, or for streams).
    Decrypt(DecryptError),
    /// CRC32 mismatch.
    BadCrc,
    /// Plaintext stream received while encryption is required.
    PlaintextRejected,
    /// Encrypted stream received while no keyring is configured.
    UnexpectedEncryption,
    /// A stream frame exceeds the allowed size.
    TooLarge,
    /// Structurally invalid stream data (or corrupt compression).
    Decode(DecodeError),
}

impl PacketError {
    /// Short stable name for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            PacketError::LabelMismatch => "label_mismatch",
            PacketError::Truncated => "truncated",
            PacketError::Decrypt(_) => "decrypt",
            PacketError::BadCrc => "bad_crc",
            PacketError::PlaintextRejected => "plaintext_rejected",
            PacketError::UnexpectedEncryption => "unexpected_encryption",
            PacketError::TooLarge => "too_large",
            PacketError::Decode(_) => "malformed",
        }
    }
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Decrypt(e) => write!(f, "decrypt: {e}"),
            PacketError::Decode(e) => write!(f, "malformed: {e}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl core::error::Error for PacketError {}

impl From<DecryptError> for PacketError {
    fn from(e: DecryptError) -> Self {
        match e {
            DecryptError::TooLarge => PacketError::TooLarge,
            e => PacketError::Decrypt(e),
        }
    }
}

impl From<DecodeError> for PacketError {
    fn from(e: DecodeError) -> Self {
        PacketError::Decode(e)
    }
}

/// Splits a label header off the front: `Ok(Some((label, header_len)))`, `Ok(None)` when
/// more bytes are needed, `Ok(Some(("", 0)))` when there is no header.
fn label_header(buf: &[u8]) -> Result<Option<(&[u8], usize)>, PacketError> {
    match buf.first() {
        None => Ok(None),
        Some(&msg_type::HAS_LABEL) => {
            let Some(&len) = buf.get(1) else { return Ok(None) };
            if len == 0 {
                return Err(PacketError::LabelMismatch);
            }
            let end = 2 + usize::from(len);
            Ok(buf.get(2..end).map(|l| (l, end)))
        }
        Some(_) => Ok(Some((&[], 0))),
    }
}

/// Opens a received datagram in place: strips and checks the label, decrypts (AAD = our
/// label; on failure falls back to plaintext unless `verify_incoming`), verifies and
/// strips a CRC header. Returns the message bytes (type byte first; possibly a compound
/// or compress message for the caller to dispatch) and whether a CRC was checked.
pub fn open_packet<'b>(buf: &'b mut [u8], layers: &Layers<'_>) -> Result<(&'b [u8], bool), PacketError> {
    let (label, off) = label_header(buf)?.ok_or(PacketError::Truncated)?;
    if label != layers.label {
        return Err(PacketError::LabelMismatch);
    }
    let body = buf.get_mut(off..).ok_or(PacketError::Truncated)?;
    let range = match layers.keyring {
        Some(kr) => match kr.decrypt_range(body, layers.label) {
            Ok(r) => r,
            // After a failed padding check the buffer holds decrypted bytes: never plaintext.
            Err(e) if layers.verify_incoming || e == DecryptError::BadPadding => return Err(e.into()),
            Err(_) => 0..body.len(),
        },
        None => 0..body.len(),
    };
    let body: &'b [u8] = body;
    let mut plain = body.get(range).ok_or(PacketError::Truncated)?;
    let had_crc = plain.first() == Some(&msg_type::HAS_CRC);
    if had_crc {
        let (h, rest) = plain.split_at_checked(CRC_HEADER_LEN).ok_or(PacketError::Truncated)?;
        if crc32fast::hash(rest).to_be_bytes() != h[1..] {
            return Err(PacketError::BadCrc);
        }
        plain = rest;
    }
    if plain.is_empty() {
        return Err(PacketError::Truncated);
    }
    Ok((plain, had_crc))
}

fn label_room(label: &[u8]) -> usize {
    if label.is_empty() {
        0
    } else {
        2 + label.len()
    }
}

/// Bytes [`seal_packet`] needs in front of the message.
pub fn header_room(layers: &Layers<'_>, crc: bool) -> usize {
    label_room(layers.label)
        + if layers.keyring.is_some() { 1 + NONCE_LEN } else { 0 }
        + if crc { CRC_HEADER_LEN } else { 0 }
}

/// Total bytes the layers add to a message (header room + GCM tag).
pub fn packet_overhead(layers: &Layers<'_>, crc: bool) -> usize {
    header_room(layers, crc) + if layers.keyring.is_some() { TAG_LEN } else { 0 }
}

/// Seals the message at `buf[start..start + len]` (with `start >= header_room(..)` and,
/// when encrypting, 16 spare bytes after it): CRC header if `crc`, vsn-1 encryption with
/// the primary key (AAD = label) if a keyring is set, label header if a label is set.
/// The datagram is moved to `buf[0..n]`; returns n. No allocation.
pub fn seal_packet(
    buf: &mut [u8],
    start: usize,
    len: usize,
    layers: &Layers<'_>,
    crc: bool,
    nonce: [u8; NONCE_LEN],
) -> Result<usize, EncodeError> {
    let label = layers.label;
    if label.len() > LABEL_MAX {
        return Err(EncodeError::TooLong);
    }
    if start < header_room(layers, crc) {
        return Err(EncodeError::BufferTooSmall);
    }
    let tag = if layers.keyring.is_some() { TAG_LEN } else { 0 };
    if start.checked_add(len).and_then(|e| e.checked_add(tag)).map_or(true, |e| e > buf.len()) {
        return Err(EncodeError::BufferTooSmall);
    }
    let (mut s, mut n) = (start, len);
    if crc {
        let c = crc32fast::hash(&buf[s..s + n]);
        s -= CRC_HEADER_LEN;
        buf[s] = msg_type::HAS_CRC;
        buf[s + 1..s + CRC_HEADER_LEN].copy_from_slice(&c.to_be_bytes());
        n += CRC_HEADER_LEN;
    }
    if let Some(kr) = layers.keyring {
        s -= 1 + NONCE_LEN;
        n = kr.encrypt_in_place(&mut buf[s..], n, label, nonce)?;
    }
    if !label.is_empty() {
        s -= 2 + label.len();
        buf[s] = msg_type::HAS_LABEL;
        buf[s + 1] = label.len() as u8;
        buf[s + 2..s + 2 + label.len()].copy_from_slice(label);
        n += 2 + label.len();
    }
    buf.copy_within(s..s + n, 0);
    Ok(n)
}

/// Whether one whole logical stream message is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// Not yet; read more bytes.
    NeedMore,
    /// The first `n` bytes are one complete message.
    Complete(usize),
}

/// Consumes a stream's label header. `Ok(Some(n))`: skip `n` bytes (0 if there is no
/// header); `Ok(None)`: need more bytes; a missing, unexpected or different label is
/// [`PacketError::LabelMismatch`].
pub fn strip_stream_label(buf: &[u8], expected_label: &[u8]) -> Result<Option<usize>, PacketError> {
    match label_header(buf)? {
        None => Ok(None),
        Some((label, n)) if label == expected_label => Ok(Some(n)),
        Some(_) => Err(PacketError::LabelMismatch),
    }
}

/// Resumable framer for one stream message: remembers how far a plain push/pull has been
/// parsed so that calling [`StreamFramer::poll`] again as bytes arrive does not re-scan
/// node states. The buffer passed to each call must extend the previous one.
#[derive(Debug, Clone, Default)]
pub struct StreamFramer {
    /// Offset just after the last fully parsed push/pull item (0 = header not parsed).
    pos: usize,
    nodes_left: u32,
    user_len: usize,
}

fn is_map(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.peek()? {
        0x80..=0x8f | 0xde | 0xdf => Ok(()),
        m => Err(DecodeError::UnexpectedType(m)),
    }
}

impl StreamFramer {
    /// A framer at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Like [`stream_frame`], resuming from the previous call's progress.
    pub fn poll(&mut self, buf: &[u8], max: usize) -> Result<FrameStatus, PacketError> {
        let Some(&t) = buf.first() else { return Ok(FrameStatus::NeedMore) };
        // `base` is where the reader's slice starts within `buf`.
        let (base, res): (usize, Result<usize, (DecodeError, usize)>) = match t {
            msg_type::ENCRYPT => match crypto::stream_frame_len(buf)? {
                None => return Ok(FrameStatus::NeedMore),
                Some(n) => (0, Ok(n)),
            },
            msg_type::COMPRESS | msg_type::PING | msg_type::ACK | msg_type::ERR => {
                let mut r = Reader::new(buf.get(1..).unwrap_or(&[]));
                let res = is_map(&mut r).and_then(|()| r.skip_value());
                (1, res.map(|()| 1 + r.position()).map_err(|e| (e, r.needed())))
            }
            msg_type::USER => {
                let mut r = Reader::new(buf.get(1..).unwrap_or(&[]));
                let res = UserMsgHeader::decode_body(&mut r);
                (1, res.map(|h| 1 + r.position() + h.user_msg_len as usize).map_err(|e| (e, r.needed())))
            }
            msg_type::PUSH_PULL => self.push_pull(buf, max)?,
            msg_type::HAS_LABEL => return Err(PacketError::LabelMismatch),
            other => return Err(DecodeError::UnknownMessageType(other).into()),
        };
        match res {
            Ok(total) if total > max => Err(PacketError::TooLarge),
            Ok(total) if total > buf.len() => Ok(FrameStatus::NeedMore),
            Ok(total) => Ok(FrameStatus::Complete(total)),
            Err((DecodeError::Truncated, need)) if base.saturating_add(need) > max => {
                Err(PacketError::TooLarge)
            }
            Err((DecodeError::Truncated, _)) => Ok(FrameStatus::NeedMore),
            Err((e, _)) => Err(e.into()),
        }
    }

    #[allow(clippy::type_complexity)]
    fn push_pull(
        &mut self,
        buf: &[u8],
        max: usize,
    ) -> Result<(usize, Result<usize, (DecodeError, usize)>), PacketError> {
        if self.pos == 0 {
            let mut r = Reader::new(buf.get(1..).unwrap_or(&[]));
            match PushPullHeader::decode_body(&mut r) {
                Ok(h) => {
                    self.pos = 1 + r.position();
                    self.nodes_left = h.nodes;
                    self.user_len = h.user_state_len as usize;
                }
                Err(e) => return Ok((1, Err((e, r.needed())))),
            }
        }
        while self.nodes_left > 0 {
            if self.pos > max {
                return Err(PacketError::TooLarge);
            }
            let mut r = Reader::new(buf.get(self.pos..).unwrap_or(&[]));
            if let Err(e) = is_map(&mut r).and_then(|()| r.skip_value()) {
                return Ok((self.pos, Err((e, r.needed()))));
            }
            self.pos += r.position();
            self.nodes_left -= 1;
        }
        Ok((0, Ok(self.pos + self.user_len)))
    }
}

/// Given the bytes read so far on a stream (after any label header, see
/// [`strip_stream_label`]), tells whether one whole logical message is present and its
/// length. Truncated data is `NeedMore`; structurally invalid data or a message longer
/// than `max` is an error. Stateless: for large plain push/pulls arriving in many pieces
/// prefer a [`StreamFramer`].
pub fn stream_frame(buf: &[u8], max: usize) -> Result<FrameStatus, PacketError> {
    StreamFramer::new().poll(buf, max)
}

/// Opens one framed stream message: decrypts it if it is `[10]…` (rejecting plaintext
/// when a keyring is set and `verify_incoming`), then decompresses it into `scratch` if
/// it is `[9]…` (at most [`MAX_STREAM_DECOMPRESSED`] bytes). Returns the inner message
/// bytes, type byte first.
pub fn open_stream<'b>(
    frame: &'b mut [u8],
    label: &[u8],
    keyring: Option<&Keyring>,
    verify_incoming: bool,
    scratch: &'b mut Vec<u8>,
) -> Result<&'b [u8], PacketError> {
    let msg: &'b [u8] = match frame.first() {
        None => return Err(PacketError::Truncated),
        Some(&msg_type::ENCRYPT) => {
            let kr = keyring.ok_or(PacketError::UnexpectedEncryption)?;
            crypto::open_stream(kr, frame, label)?
        }
        Some(_) if keyring.is_some() && verify_incoming => return Err(PacketError::PlaintextRejected),
        Some(_) => frame,
    };
    match msg.first() {
        None => Err(PacketError::Truncated),
        Some(&msg_type::COMPRESS) => {
            scratch.clear();
            lzw::decompress_message(msg, scratch, MAX_STREAM_DECOMPRESSED)?;
            if scratch.is_empty() {
                return Err(PacketError::Truncated);
            }
            Ok(scratch)
        }
        Some(_) => Ok(msg),
    }
}

/// Appends one outgoing stream message as memberlist writes it: the label header (only
/// on the dialing side, `label_header`, and only if `label` is non-empty), then
/// `encrypt(compress(msg))` — compression (if `compress`) is applied unconditionally,
/// encryption (if a keyring is given) uses the primary key with AAD = header ‖ label.
/// Labels longer than [`LABEL_MAX`] must be rejected by configuration; here only their
/// first 255 bytes would go into the header.
pub fn seal_stream_message(
    msg: &[u8],
    label_header: bool,
    label: &[u8],
    keyring: Option<&Keyring>,
    compress: bool,
    nonce: [u8; NONCE_LEN],
    out: &mut Vec<u8>,
) {
    if label_header && !label.is_empty() {
        let l = &label[..label.len().min(LABEL_MAX)];
        out.push(msg_type::HAS_LABEL);
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    let frame = out.len();
    if keyring.is_some() {
        out.resize(frame + crypto::STREAM_HEADER_LEN + 1 + NONCE_LEN, 0);
    }
    if compress {
        lzw::encode_compress(msg, out);
    } else {
        out.extend_from_slice(msg);
    }
    if let Some(kr) = keyring {
        if crypto::seal_stream_tail(kr, out, frame, label, nonce).is_err() {
            out.truncate(frame);
        }
    }
}

/// Bytes encryption adds to a stream message (`[10][len]` + vsn-1 overhead).
pub const STREAM_ENCRYPT_OVERHEAD: usize = crypto::STREAM_HEADER_LEN + ENCRYPT_OVERHEAD;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::{hex, read_shared, read_vector};
    use crate::wire::{Compound, CompoundBuilder, Message, PushPullReader, UserStreamReader};
    use alloc::string::String;
    use alloc::vec;
    use proptest::prelude::*;

    const LABEL: &[u8] = b"ocaml-vectors";

    fn key() -> Keyring {
        Keyring::new(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    /// The `plaintext_hex` values of one vector in index.json, in order (c2s before s2c).
    fn plaintexts(name: &str) -> Vec<Vec<u8>> {
        let idx = read_vector("index.json");
        let pat = alloc::format!("\"name\": \"{name}\",");
        let start = idx.find(&pat).unwrap();
        let rest = &idx[start + pat.len()..];
        let sect = &rest[..rest.find("\"name\": \"").unwrap_or(rest.len())];
        json_strings(sect, "plaintext_hex").into_iter().map(|s| hex(&s)).collect()
    }

    fn json_strings(text: &str, key: &str) -> Vec<String> {
        let pat = alloc::format!("\"{key}\": \"");
        let mut v = Vec::new();
        let mut t = text;
        while let Some(i) = t.find(&pat) {
            t = &t[i + pat.len()..];
            let e = t.find('"').unwrap();
            v.push(String::from(&t[..e]));
            t = &t[e..];
        }
        v
    }

    /// Decompresses if `[9]`, else returns the bytes.
    fn inflate(p: &[u8]) -> Vec<u8> {
        if p[0] == msg_type::COMPRESS {
            let mut o = Vec::new();
            lzw::decompress_message(p, &mut o, 1 << 20).unwrap();
            o
        } else {
            p.to_vec()
        }
    }

    fn messages(plain: &[u8]) -> Vec<Message<'_>> {
        match Message::decode(plain).unwrap() {
            Message::Compound(c) => {
                assert_eq!(c.truncated(), 0);
                c.parts().map(|p| Message::decode(p).unwrap()).collect()
            }
            m => vec![m],
        }
    }

    fn layers_for(name: &str) -> (Vec<u8>, Option<Keyring>) {
        let enc = name.contains("encrypted");
        let label = if name.contains("label") { LABEL.to_vec() } else { Vec::new() };
        (label, enc.then(key))
    }

    const UDP: [&str; 15] = [
        "udp_ping",
        "udp_ack",
        "udp_ack_compound",
        "udp_indirect_ping",
        "udp_nack",
        "udp_compound_alive",
        "udp_compound_suspect",
        "udp_compound_dead",
        "udp_user",
        "udp_compressed",
        "udp_encrypted_ping",
        "udp_encrypted_compound",
        "udp_label_ping",
        "udp_label_encrypted_ping",
        "udp_ack_compound",
    ];

    #[test]
    fn every_udp_vector_opens_and_decodes() {
        for name in UDP {
            let mut raw = hex(&read_vector(&alloc::format!("{name}.hex")));
            let (label, kr) = layers_for(name);
            let layers = Layers { label: &label, keyring: kr.as_ref(), verify_incoming: true };
            let plain = inflate(open_packet(&mut raw, &layers).unwrap().0);
            assert_eq!(plain, plaintexts(name)[0], "{name}");
            let msgs = messages(&plain);
            match name {
                "udp_ping" => assert!(
                    matches!(msgs[0], Message::Ping(p) if p.seq_no == 1 && p.node == "n003" && p.source_node == "n000" && p.source_port == 42595)
                ),
                "udp_ack" => assert_eq!(msgs, [Message::Ack(crate::wire::Ack { seq_no: 1, payload: &[] })]),
                "udp_nack" => {
                    assert!(matches!(msgs[0], Message::Nack(n) if n.seq_no == 29));
                    assert!(
                        matches!(msgs[1], Message::Suspect(s) if s.node == "n003" && s.from == "n002" && s.incarnation == 1)
                    );
                }
                "udp_compound_dead" => {
                    assert!(matches!(msgs[1], Message::Dead(d) if d.node == "n003" && d.from == "n002"))
                }
                "udp_user" => assert_eq!(msgs, [Message::User(b"hello-udp")]),
                "udp_compound_alive" | "udp_compressed" => {
                    assert_eq!(msgs.len(), 4);
                    for (m, n) in msgs.iter().zip(["n003", "n002", "n001", "n000"]) {
                        let Message::Alive(a) = m else { panic!() };
                        assert_eq!(
                            (a.node, a.incarnation, a.addr, a.vsn, a.meta),
                            (n, 1, &[127, 0, 0, 1][..], &[1, 5, 2, 0, 0, 0][..], &[][..])
                        );
                    }
                }
                "udp_encrypted_compound" => assert_eq!(msgs.len(), 3),
                "udp_label_encrypted_ping" => {
                    assert!(matches!(msgs[0], Message::Ping(p) if p.node == "n001" && p.source_port == 35223))
                }
                _ => assert!(!msgs.is_empty()),
            }
            // Wrong label / missing keyring are rejected.
            let mut raw = hex(&read_vector(&alloc::format!("{name}.hex")));
            let other = Layers { label: b"other", keyring: kr.as_ref(), verify_incoming: true };
            assert_eq!(open_packet(&mut raw, &other), Err(PacketError::LabelMismatch));
        }
    }

    #[test]
    fn plain_udp_vectors_reencode_exactly() {
        let none = Layers::default();
        for (name, crc) in [
            ("udp_ping", false),
            ("udp_ack", false),
            ("udp_indirect_ping", false),
            ("udp_ack_compound", false),
            ("udp_nack", false),
            ("udp_compound_suspect", false),
            ("udp_compound_dead", false),
            ("udp_compound_alive", true),
            ("udp_user", true),
            ("udp_label_ping", false),
        ] {
            let raw = hex(&read_vector(&alloc::format!("{name}.hex")));
            let (label, _) = layers_for(name);
            let layers = Layers { label: &label, ..none };
            let mut copy = raw.clone();
            let plain = open_packet(&mut copy, &layers).unwrap().0.to_vec();
            let msgs = messages(&plain);
            let mut buf = vec![0u8; 1400];
            let room = header_room(&layers, crc);
            let mut b = CompoundBuilder::new(&mut buf[room..]);
            for m in &msgs {
                b.push_with(m.encoded_len(), |o| m.encode(o)).unwrap();
            }
            let len = b.finish();
            let n = seal_packet(&mut buf, room, len, &layers, crc, [0; 12]).unwrap();
            assert_eq!(&buf[..n], &raw[..], "{name}");
        }
    }

    #[test]
    fn udp_compressed_reencodes_exactly() {
        let raw = hex(&read_vector("udp_compressed.hex"));
        let plain = plaintexts("udp_compressed").remove(0);
        let mut z = vec![0u8; 5];
        lzw::encode_compress(&plain, &mut z);
        let n = z.len() - 5;
        let got = seal_packet(&mut z, 5, n, &Layers::default(), true, [0; 12]).unwrap();
        assert_eq!(&z[..got], &raw[..]);
    }

    const TCP: [&str; 13] = [
        "tcp_ping.c2s",
        "tcp_ping.s2c",
        "tcp_pushpull_compressed.c2s",
        "tcp_pushpull_compressed.s2c",
        "tcp_pushpull_encrypted.c2s",
        "tcp_pushpull_encrypted.s2c",
        "tcp_pushpull_join.c2s",
        "tcp_pushpull_join.s2c",
        "tcp_pushpull_label.c2s",
        "tcp_pushpull_label.s2c",
        "tcp_pushpull_label_encrypted.c2s",
        "tcp_pushpull_label_encrypted.s2c",
        "tcp_user.c2s",
    ];

    #[test]
    fn every_tcp_vector_frames_opens_and_decodes() {
        for file in TCP {
            let (name, dir) = file.split_once('.').unwrap();
            let raw = hex(&read_vector(&alloc::format!("{file}.hex")));
            let (label, kr) = layers_for(name);
            // The label header is only on the dialing side.
            let expect_label: &[u8] = if dir == "c2s" { &label } else { b"" };
            let skip = strip_stream_label(&raw, expect_label).unwrap().unwrap();
            assert_eq!(skip, if expect_label.is_empty() { 0 } else { 15 });
            for cut in 0..raw.len() - skip {
                assert_eq!(
                    stream_frame(&raw[skip..skip + cut], 1 << 20),
                    Ok(FrameStatus::NeedMore),
                    "{file} {cut}"
                );
            }
            assert_eq!(
                stream_frame(&raw[skip..], 1 << 20),
                Ok(FrameStatus::Complete(raw.len() - skip)),
                "{file}"
            );
            let mut f = StreamFramer::new();
            for cut in 0..raw.len() - skip {
                assert_eq!(f.poll(&raw[skip..skip + cut], 1 << 20), Ok(FrameStatus::NeedMore));
            }
            assert_eq!(f.poll(&raw[skip..], 1 << 20), Ok(FrameStatus::Complete(raw.len() - skip)));
            assert_eq!(stream_frame(&raw[skip..], 10), Err(PacketError::TooLarge));
            let mut frame = raw[skip..].to_vec();
            let mut scratch = Vec::new();
            let msg = open_stream(&mut frame, &label, kr.as_ref(), true, &mut scratch).unwrap();
            let want = &plaintexts(name)[usize::from(dir == "s2c")];
            assert_eq!(msg, &want[..], "{file}");
            match msg[0] {
                msg_type::PUSH_PULL => {
                    let mut r = PushPullReader::new(msg).unwrap();
                    assert!(r.header().join && r.header().nodes == 1);
                    let n = r.next_node().unwrap().unwrap();
                    assert_eq!(n.name, if dir == "c2s" { "n001" } else { "n000" });
                    assert_eq!((n.state, n.vsn), (0, &[1, 5, 2, 0, 0, 0][..]));
                    assert_eq!(r.user_state(), Ok(&[][..]));
                }
                msg_type::USER => {
                    assert_eq!(UserStreamReader::new(msg).unwrap().body(), Ok(&b"hello-tcp"[..]))
                }
                _ => {
                    let m = Message::decode(msg).unwrap();
                    assert!(
                        matches!(m, Message::Ping(p) if p.seq_no == 8)
                            || matches!(m, Message::Ack(a) if a.seq_no == 8)
                    );
                }
            }
        }
    }

    #[test]
    fn plain_tcp_vectors_reencode_exactly() {
        for (file, compress, label_hdr) in [
            ("tcp_pushpull_join.c2s", false, false),
            ("tcp_pushpull_join.s2c", false, false),
            ("tcp_ping.c2s", false, false),
            ("tcp_ping.s2c", false, false),
            ("tcp_user.c2s", false, false),
            ("tcp_pushpull_compressed.c2s", true, false),
            ("tcp_pushpull_label.c2s", true, true),
            ("tcp_pushpull_label.s2c", true, false),
        ] {
            let raw = hex(&read_vector(&alloc::format!("{file}.hex")));
            let label: &[u8] = if file.contains("label") { LABEL } else { b"" };
            let skip = strip_stream_label(&raw, if label_hdr { label } else { b"" }).unwrap().unwrap();
            let mut frame = raw[skip..].to_vec();
            let mut scratch = Vec::new();
            let msg = open_stream(&mut frame, label, None, false, &mut scratch).unwrap();
            let rebuilt = match msg[0] {
                msg_type::PUSH_PULL => {
                    let mut r = PushPullReader::new(msg).unwrap();
                    let h = r.header();
                    let n = r.next_node().unwrap().unwrap();
                    let mut v = Vec::new();
                    crate::wire::encode_push_pull(&mut v, &h, [n].into_iter(), r.user_state().unwrap());
                    v
                }
                msg_type::USER => {
                    let mut v = Vec::new();
                    crate::wire::encode_user_stream(
                        &mut v,
                        UserStreamReader::new(msg).unwrap().body().unwrap(),
                    );
                    v
                }
                _ => {
                    let m = Message::decode(msg).unwrap();
                    let mut v = vec![0u8; m.encoded_len()];
                    m.encode(&mut v).unwrap();
                    v
                }
            };
            let mut out = Vec::new();
            seal_stream_message(&rebuilt, label_hdr, label, None, compress, [0; 12], &mut out);
            assert_eq!(out, raw, "{file}");
        }
    }

    #[test]
    fn stream_seal_open_all_layers() {
        let msg = hex(&read_vector("tcp_pushpull_join.c2s.hex"));
        let kr = key();
        for (label, keyring, compress) in
            [(&b""[..], None, false), (LABEL, None, true), (b"", Some(&kr), false), (LABEL, Some(&kr), true)]
        {
            let mut out = Vec::new();
            seal_stream_message(&msg, true, label, keyring, compress, [3; 12], &mut out);
            let skip = strip_stream_label(&out, label).unwrap().unwrap();
            assert_eq!(stream_frame(&out[skip..], 1 << 20), Ok(FrameStatus::Complete(out.len() - skip)));
            let mut scratch = Vec::new();
            assert_eq!(open_stream(&mut out[skip..], label, keyring, true, &mut scratch).unwrap(), &msg[..]);
        }
        // Plaintext refused when verifying; encrypted refused without keyring.
        let mut plain = msg.clone();
        assert_eq!(
            open_stream(&mut plain, b"", Some(&kr), true, &mut Vec::new()),
            Err(PacketError::PlaintextRejected)
        );
        assert!(open_stream(&mut plain, b"", Some(&kr), false, &mut Vec::new()).is_ok());
        let mut enc = Vec::new();
        seal_stream_message(&msg, false, b"", Some(&kr), false, [3; 12], &mut enc);
        assert_eq!(
            open_stream(&mut enc.clone(), b"", None, false, &mut Vec::new()),
            Err(PacketError::UnexpectedEncryption)
        );
        assert_eq!(
            open_stream(&mut enc, b"x", Some(&kr), true, &mut Vec::new()),
            Err(PacketError::Decrypt(DecryptError::NoKeyMatched))
        );
        assert_eq!(strip_stream_label(b"\x06", b"x"), Err(PacketError::LabelMismatch));
        assert_eq!(strip_stream_label(b"\xf4\x01y", b""), Err(PacketError::LabelMismatch));
        assert_eq!(strip_stream_label(b"\xf4\x02x", b"xy"), Ok(None));
        assert_eq!(stream_frame(&[10, 0x7f, 0, 0, 0], usize::MAX), Err(PacketError::TooLarge));
        assert_eq!(
            stream_frame(&[0x63], 100),
            Err(PacketError::Decode(DecodeError::UnknownMessageType(0x63)))
        );
        assert_eq!(
            stream_frame(&[0, 0xc0], 100),
            Err(PacketError::Decode(DecodeError::UnexpectedType(0xc0)))
        );
        // a huge declared user message is refused early, not waited for
        let mut u = Vec::new();
        crate::wire::encode_user_stream(&mut u, &[0u8; 50]);
        assert_eq!(stream_frame(&u[..u.len() - 50], 40), Err(PacketError::TooLarge));
    }

    #[test]
    fn packet_layers_round_trip_and_failures() {
        let kr = key();
        let msg = hex(&read_vector("udp_ping.hex"));
        for (label, keyring, crc) in
            [(&b""[..], None, false), (LABEL, None, true), (b"", Some(&kr), true), (LABEL, Some(&kr), false)]
        {
            let layers = Layers { label, keyring, verify_incoming: true };
            let room = header_room(&layers, crc);
            let mut buf = vec![0u8; room + msg.len() + 16];
            buf[room..room + msg.len()].copy_from_slice(&msg);
            let n = seal_packet(&mut buf, room, msg.len(), &layers, crc, [5; 12]).unwrap();
            assert_eq!(n, msg.len() + packet_overhead(&layers, crc));
            let sealed = buf[..n].to_vec();
            assert_eq!(open_packet(&mut buf[..n], &layers).unwrap(), (&msg[..], crc), "the CRC is reported");
            if crc && keyring.is_none() {
                let mut bad = sealed.clone();
                *bad.last_mut().unwrap() ^= 1;
                assert_eq!(open_packet(&mut bad, &layers), Err(PacketError::BadCrc));
            }
            assert_eq!(
                seal_packet(&mut buf, room.saturating_sub(1), msg.len(), &layers, crc, [5; 12]).is_err(),
                room > 0
            );
        }
        // keyring set, plaintext arrives
        let strict = Layers { label: b"", keyring: Some(&kr), verify_incoming: true };
        let lax = Layers { verify_incoming: false, ..strict };
        assert!(matches!(open_packet(&mut msg.clone(), &strict), Err(PacketError::Decrypt(_))));
        assert_eq!(open_packet(&mut msg.clone(), &lax).unwrap(), (&msg[..], false));
        // label present but we have none, absent but we want one
        let mut labelled = hex(&read_vector("udp_label_ping.hex"));
        assert_eq!(open_packet(&mut labelled, &Layers::default()), Err(PacketError::LabelMismatch));
        assert_eq!(
            open_packet(&mut msg.clone(), &Layers { label: LABEL, ..Layers::default() }),
            Err(PacketError::LabelMismatch)
        );
        assert_eq!(open_packet(&mut [244, 0], &Layers::default()), Err(PacketError::LabelMismatch));
        assert_eq!(open_packet(&mut [], &Layers::default()), Err(PacketError::Truncated));
        assert_eq!(open_packet(&mut [12, 0, 0], &Layers::default()), Err(PacketError::Truncated));
        assert_eq!(PacketError::BadCrc.reason(), "bad_crc");
    }

    /// Every Serf capture (plain and encrypted): UDP datagrams and TCP streams open and
    /// decompress to the recorded plaintext.
    #[test]
    fn serf_captures() {
        let kr = key();
        for (dir, keyring) in [("vectors_plain", None), ("vectors_encrypted", Some(&kr))] {
            let decoded = read_shared(&alloc::format!("serf/{dir}/decoded.json"));
            let files = json_strings(&decoded, "file");
            let plains = json_strings(&decoded, "plaintext_hex");
            assert_eq!(files.len(), plains.len());
            assert!(files.len() > 90);
            for (file, want) in files.iter().zip(&plains) {
                let mut raw = hex(&read_shared(&alloc::format!("serf/{file}")));
                let want = hex(want);
                let got = if file.contains("/udp_") {
                    let layers = Layers { label: b"", keyring, verify_incoming: true };
                    inflate(open_packet(&mut raw, &layers).unwrap().0)
                } else {
                    assert_eq!(stream_frame(&raw, 1 << 24), Ok(FrameStatus::Complete(raw.len())), "{file}");
                    let mut scratch = Vec::new();
                    let m = open_stream(&mut raw, b"", keyring, true, &mut scratch).unwrap().to_vec();
                    let mut r = PushPullReader::new(&m).unwrap();
                    let us = r.user_state().unwrap();
                    assert_eq!(us.len(), r.header().user_state_len as usize);
                    assert_eq!(us[0], crate::wire::serf::PUSH_PULL);
                    m
                };
                assert_eq!(got, want, "{file}");
                if got[0] == msg_type::PUSH_PULL {
                    continue;
                }
                for m in messages(&got) {
                    if let Message::Alive(a) = m {
                        assert_eq!(a.vsn, &[1, 5, 2, 2, 5, 5]);
                        assert_eq!(a.meta, &[0xff, 0x80]);
                    }
                }
            }
        }
    }

    #[test]
    fn compound_helper_is_used() {
        // Compound::decode_body on the nack vector's body.
        let v = hex(&read_vector("udp_nack.hex"));
        let c = Compound::decode_body(&v[1..]).unwrap();
        assert_eq!(c.declared(), 2);
    }

    proptest! {
        #[test]
        fn hostile_inputs_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), t in 0u8..16) {
            let kr = key();
            for layers in [
                Layers::default(),
                Layers { label: LABEL, keyring: None, verify_incoming: false },
                Layers { label: b"", keyring: Some(&kr), verify_incoming: false },
                Layers { label: LABEL, keyring: Some(&kr), verify_incoming: true },
            ] {
                let _ = open_packet(&mut b.clone(), &layers);
            }
            let mut v = vec![t];
            v.extend_from_slice(&b);
            for buf in [&b, &v] {
                let _ = stream_frame(buf, 1 << 20);
                let _ = strip_stream_label(buf, LABEL);
                let mut f = StreamFramer::new();
                for cut in [buf.len() / 3, buf.len() / 2, buf.len()] {
                    let _ = f.poll(&buf[..cut], 1 << 20);
                }
                let mut scratch = Vec::new();
                let _ = open_stream(&mut buf.clone(), b"", Some(&kr), false, &mut scratch);
                let _ = open_stream(&mut buf.clone(), b"", None, false, &mut scratch);
            }
        }

        #[test]
        fn udp_seal_open_round_trip(msg in proptest::collection::vec(any::<u8>(), 1..300), crc in any::<bool>(), enc in any::<bool>(), nonce in any::<[u8; 12]>()) {
            let kr = key();
            let layers = Layers { label: LABEL, keyring: enc.then_some(&kr), verify_incoming: true };
            let room = header_room(&layers, crc);
            let mut buf = vec![0u8; room + msg.len() + 16];
            buf[room..room + msg.len()].copy_from_slice(&msg);
            let n = seal_packet(&mut buf, room, msg.len(), &layers, crc, nonce).unwrap();
            // A message that itself starts with 12 would be taken as a CRC header.
            if crc || msg[0] != msg_type::HAS_CRC {
                prop_assert_eq!(open_packet(&mut buf[..n], &layers).unwrap(), (&msg[..], crc));
            }
        }
    }
}
