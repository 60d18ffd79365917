//! TCP stream messages, in memberlist's order (`net.go` `readStream` and
//! `rawSendMsgStream`, `label.go` `AddLabelHeaderToStream` and
//! `RemoveLabelHeaderFromStream`): strip the label, find where one message ends,
//! open it (decrypt, then decompress) and seal an outgoing one (label, compress,
//! encrypt). Re-exported from [`packet`](crate::wire::packet), which owns the
//! datagram side.

use alloc::vec::Vec;

use crate::wire::crypto::{self, Keyring, ENCRYPT_OVERHEAD, NONCE_LEN};
use crate::wire::lzw;
use crate::wire::msgpack::{DecodeError, Reader};
use crate::wire::packet::{label_header, PacketError, LABEL_MAX};
use crate::wire::{msg_type, PushPullHeader, UserMsgHeader};

/// Cap on a decompressed stream message (40 MiB, memberlist's limit).
pub const MAX_STREAM_DECOMPRESSED: usize = 40 * 1024 * 1024;

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
    use crate::wire::crypto::DecryptError;
    use crate::wire::tests::{hex, key, layers_for, plaintexts, read_vector, LABEL};
    use crate::wire::{Message, PushPullReader, UserStreamReader};
    use alloc::vec;
    use proptest::prelude::*;

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

    proptest! {
        #[test]
        fn hostile_streams_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), t in 0u8..16) {
            let kr = key();
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
    }
}
