//! The datagram pipeline, in memberlist's order (`net.go` `ingestPacket` and
//! `rawSendMsgPacket`, `label.go` `AddLabelHeaderToPacket` and
//! `RemoveLabelHeaderFromPacket`): a label header, then encryption, then a CRC
//! header around the message, opened and sealed in place. Also [`Layers`] and
//! [`PacketError`], which streams share, and, re-exported from `stream.rs`, the
//! TCP stream framing, opening and sealing.

use core::fmt;

use crate::wire::crypto::{DecryptError, Keyring, NONCE_LEN, TAG_LEN};
use crate::wire::msg_type;
use crate::wire::msgpack::{DecodeError, EncodeError};
pub use crate::wire::stream::{
    open_stream, seal_stream_message, stream_frame, strip_stream_label, FrameStatus, StreamFramer,
    MAX_STREAM_DECOMPRESSED, STREAM_ENCRYPT_OVERHEAD,
};

/// Longest label memberlist accepts (its header stores the length in one byte).
pub const LABEL_MAX: usize = 255;
/// Length of the CRC header `[12][crc32 BE]`.
pub const CRC_HEADER_LEN: usize = 5;

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
pub(crate) fn label_header(buf: &[u8]) -> Result<Option<(&[u8], usize)>, PacketError> {
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
    if start.checked_add(len).and_then(|e| e.checked_add(tag)).is_none_or(|e| e > buf.len()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::lzw;
    use crate::wire::tests::{
        hex, inflate, json_strings, key, layers_for, messages, plaintexts, read_shared, read_vector, LABEL,
    };
    use crate::wire::{Compound, CompoundBuilder, Message, PushPullReader};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

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
        fn hostile_packets_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let kr = key();
            for layers in [
                Layers::default(),
                Layers { label: LABEL, keyring: None, verify_incoming: false },
                Layers { label: b"", keyring: Some(&kr), verify_incoming: false },
                Layers { label: LABEL, keyring: Some(&kr), verify_incoming: true },
            ] {
                let _ = open_packet(&mut b.clone(), &layers);
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
