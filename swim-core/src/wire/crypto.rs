//! memberlist's AES-GCM encryption (`security.go`, `keyring.go`).
//!
//! Packet layout: `[vsn][nonce 12][ciphertext][tag 16]`; vsn 1 (sent) has no padding,
//! vsn 0 (accepted) is PKCS7-padded. Stream layout: `[10][len u32 BE]` + packet layout,
//! with AAD = those 5 header bytes ‖ label. The nonce always comes from the caller.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, KeyInit, Nonce, Tag};

use crate::wire::msg_type;
use crate::wire::msgpack::EncodeError;

/// Bytes added by vsn-1 encryption: version (1) + nonce (12) + tag (16).
pub const ENCRYPT_OVERHEAD: usize = 29;
/// Nonce length.
pub const NONCE_LEN: usize = 12;
/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Maximum keys held by a [`Keyring`].
pub const MAX_KEYS: usize = 8;
/// Cap on an encrypted stream's declared length (`maxPushStateBytes`, 20 MiB).
pub const MAX_STREAM_LEN: usize = 20 * 1024 * 1024;
/// Length of the stream encryption header `[10][len u32 BE]`.
pub const STREAM_HEADER_LEN: usize = 5;

type Aes192Gcm = AesGcm<Aes192, U12>;

/// Keyring errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Keys must be 16, 24 or 32 bytes.
    InvalidLength(usize),
    /// The keyring already holds [`MAX_KEYS`] keys.
    Full,
    /// The key is not in the keyring.
    NotFound,
    /// The primary key cannot be removed.
    IsPrimary,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidLength(n) => write!(f, "key size must be 16, 24 or 32 bytes, got {n}"),
            KeyError::Full => f.write_str("keyring full"),
            KeyError::NotFound => f.write_str("key not in keyring"),
            KeyError::IsPrimary => f.write_str("cannot remove the primary key"),
        }
    }
}

impl core::error::Error for KeyError {}

/// Decryption errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// Shorter than the version's minimum encrypted length.
    TooShort,
    /// Version byte other than 0 or 1.
    UnknownVersion(u8),
    /// No key in the keyring authenticated the message.
    NoKeyMatched,
    /// vsn 0 plaintext with invalid PKCS7 padding.
    BadPadding,
    /// A stream's declared length exceeds [`MAX_STREAM_LEN`].
    TooLarge,
    /// A stream frame that does not start with the encrypt type byte (10).
    NotEncrypted,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::TooShort => f.write_str("payload too small to decrypt"),
            DecryptError::UnknownVersion(v) => write!(f, "unsupported encryption version {v}"),
            DecryptError::NoKeyMatched => f.write_str("no installed key could decrypt the message"),
            DecryptError::BadPadding => f.write_str("invalid PKCS7 padding"),
            DecryptError::TooLarge => f.write_str("encrypted stream too large"),
            DecryptError::NotEncrypted => f.write_str("stream is not encrypted"),
        }
    }
}

impl core::error::Error for DecryptError {}

#[derive(Clone)]
enum Cipher {
    A128(Aes128Gcm),
    A192(Aes192Gcm),
    A256(Aes256Gcm),
}

impl Cipher {
    fn new(key: &[u8]) -> Result<Self, KeyError> {
        let bad = |_| KeyError::InvalidLength(key.len());
        Ok(match key.len() {
            16 => Cipher::A128(Aes128Gcm::new_from_slice(key).map_err(bad)?),
            24 => Cipher::A192(Aes192Gcm::new_from_slice(key).map_err(bad)?),
            32 => Cipher::A256(Aes256Gcm::new_from_slice(key).map_err(bad)?),
            n => return Err(KeyError::InvalidLength(n)),
        })
    }

    fn encrypt(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag, aes_gcm::Error> {
        let n = Nonce::<U12>::from_slice(nonce);
        match self {
            Cipher::A128(c) => c.encrypt_in_place_detached(n, aad, buf),
            Cipher::A192(c) => c.encrypt_in_place_detached(n, aad, buf),
            Cipher::A256(c) => c.encrypt_in_place_detached(n, aad, buf),
        }
    }

    fn decrypt(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), aes_gcm::Error> {
        let n = Nonce::<U12>::from_slice(nonce);
        let t = Tag::from_slice(tag);
        match self {
            Cipher::A128(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            Cipher::A192(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            Cipher::A256(c) => c.decrypt_in_place_detached(n, aad, buf, t),
        }
    }
}

#[derive(Clone)]
struct Key {
    bytes: [u8; 32],
    len: usize,
    cipher: Cipher,
}

impl Key {
    fn new(key: &[u8]) -> Result<Self, KeyError> {
        let cipher = Cipher::new(key)?;
        let mut bytes = [0u8; 32];
        bytes[..key.len()].copy_from_slice(key);
        Ok(Key { bytes, len: key.len(), cipher })
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // Best-effort wipe of the raw key bytes (the cipher's schedule is not wiped).
        self.bytes.fill(0);
        core::hint::black_box(&self.bytes);
    }
}

/// The installed encryption keys, primary first, with ciphers initialised up front so
/// per-packet work does no key schedule and no allocation.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring holding only `primary` (16, 24 or 32 bytes).
    pub fn new(primary: &[u8]) -> Result<Keyring, KeyError> {
        let mut keys = Vec::with_capacity(MAX_KEYS);
        keys.push(Key::new(primary)?);
        Ok(Keyring { keys })
    }

    fn find(&self, key: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| k.as_bytes() == key)
    }

    /// Installs a secondary key (no-op if already present).
    pub fn add_key(&mut self, key: &[u8]) -> Result<(), KeyError> {
        let k = Key::new(key)?;
        if self.find(key).is_some() {
            return Ok(());
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyError::Full);
        }
        self.keys.push(k);
        Ok(())
    }

    /// Makes an installed key the primary (encrypting) key.
    pub fn use_key(&mut self, key: &[u8]) -> Result<(), KeyError> {
        let i = self.find(key).ok_or(KeyError::NotFound)?;
        self.keys[..=i].rotate_right(1);
        Ok(())
    }

    /// Removes a secondary key (no-op if absent, like Go); the primary cannot be removed.
    pub fn remove_key(&mut self, key: &[u8]) -> Result<(), KeyError> {
        match self.find(key) {
            Some(0) => Err(KeyError::IsPrimary),
            Some(i) => {
                self.keys.remove(i);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// All keys, primary first.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.keys.iter().map(Key::as_bytes)
    }

    /// The primary key.
    pub fn primary(&self) -> &[u8] {
        self.keys.first().map(Key::as_bytes).unwrap_or(&[])
    }

    /// Encrypts (vsn 1, primary key) in place. The plaintext sits at
    /// `buf[13 .. 13 + plain_len]`; writes `[1][nonce]` before it and the tag after it.
    /// Returns the total length, `plain_len + ENCRYPT_OVERHEAD`.
    pub fn encrypt_in_place(
        &self,
        buf: &mut [u8],
        plain_len: usize,
        aad: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<usize, EncodeError> {
        let total = plain_len.checked_add(ENCRYPT_OVERHEAD).ok_or(EncodeError::TooLong)?;
        let buf = buf.get_mut(..total).ok_or(EncodeError::BufferTooSmall)?;
        let (head, rest) = buf.split_at_mut(1 + NONCE_LEN);
        let (plain, tag_out) = rest.split_at_mut(plain_len);
        head[0] = 1;
        head[1..].copy_from_slice(&nonce);
        let key = self.keys.first().ok_or(EncodeError::BufferTooSmall)?;
        let tag = key.cipher.encrypt(&nonce, aad, plain).map_err(|_| EncodeError::TooLong)?;
        tag_out.copy_from_slice(&tag);
        Ok(total)
    }

    /// Decrypts in place (vsn 0 or 1, trying every key); returns where the plaintext lies
    /// within `buf`. A failed attempt leaves `buf` untouched (the tag is checked first).
    pub fn decrypt_range(&self, buf: &mut [u8], aad: &[u8]) -> Result<Range<usize>, DecryptError> {
        let vsn = *buf.first().ok_or(DecryptError::TooShort)?;
        let min = match vsn {
            0 => ENCRYPT_OVERHEAD + 16,
            1 => ENCRYPT_OVERHEAD,
            v => return Err(DecryptError::UnknownVersion(v)),
        };
        if buf.len() < min {
            return Err(DecryptError::TooShort);
        }
        let (head, rest) = buf.split_at_mut(1 + NONCE_LEN);
        let (ct, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let nonce = &head[1..];
        if !self.keys.iter().any(|k| k.cipher.decrypt(nonce, aad, ct, tag).is_ok()) {
            return Err(DecryptError::NoKeyMatched);
        }
        let start = 1 + NONCE_LEN;
        let mut end = start + ct.len();
        if vsn == 0 {
            let pad = usize::from(*ct.last().ok_or(DecryptError::BadPadding)?);
            if pad == 0
                || pad > 16
                || pad > ct.len()
                || ct[ct.len() - pad..].iter().any(|&b| usize::from(b) != pad)
            {
                return Err(DecryptError::BadPadding);
            }
            end -= pad;
        }
        Ok(start..end)
    }

    /// Decrypts `[vsn][nonce][ct][tag]` in place and returns the plaintext.
    pub fn decrypt_in_place<'b>(&self, buf: &'b mut [u8], aad: &[u8]) -> Result<&'b mut [u8], DecryptError> {
        let r = self.decrypt_range(buf, aad)?;
        buf.get_mut(r).ok_or(DecryptError::TooShort)
    }
}

fn stream_aad(header: &[u8], label: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + label.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(label);
    aad
}

/// Encrypts the stream frame that starts at `out[frame_start]`: 18 reserved bytes
/// (`[10][len][1][nonce]`) followed by the plaintext up to the end of `out`.
pub(crate) fn seal_stream_tail(
    keyring: &Keyring,
    out: &mut Vec<u8>,
    frame_start: usize,
    label: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<(), EncodeError> {
    let body = frame_start + STREAM_HEADER_LEN;
    let plain_len = out.len().checked_sub(body + 1 + NONCE_LEN).ok_or(EncodeError::BufferTooSmall)?;
    let len = u32::try_from(plain_len + ENCRYPT_OVERHEAD).map_err(|_| EncodeError::TooLong)?;
    out[frame_start] = msg_type::ENCRYPT;
    out[frame_start + 1..body].copy_from_slice(&len.to_be_bytes());
    out.resize(out.len() + TAG_LEN, 0);
    let aad = stream_aad(&out[frame_start..body], label);
    keyring.encrypt_in_place(&mut out[body..], plain_len, &aad, nonce)?;
    Ok(())
}

/// Appends an encrypted stream frame `[10][len u32 BE][1][nonce][ct][tag]`
/// (AAD = the 5 header bytes ‖ `label`).
pub fn seal_stream(
    keyring: &Keyring,
    plaintext: &[u8],
    label: &[u8],
    nonce: [u8; NONCE_LEN],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.resize(start + STREAM_HEADER_LEN + 1 + NONCE_LEN, 0);
    out.extend_from_slice(plaintext);
    if seal_stream_tail(keyring, out, start, label, nonce).is_err() {
        // Only reachable for plaintexts over 4 GiB: leave nothing half-written.
        out.truncate(start);
    }
}

/// Length of the complete encrypted stream frame at the start of `frame` (header
/// included), once at least 5 bytes are present; errors above [`MAX_STREAM_LEN`].
pub fn stream_frame_len(frame: &[u8]) -> Result<Option<usize>, DecryptError> {
    match frame.first() {
        None => return Ok(None),
        Some(&msg_type::ENCRYPT) => {}
        Some(_) => return Err(DecryptError::NotEncrypted),
    }
    let Some(h) = frame.get(1..STREAM_HEADER_LEN) else { return Ok(None) };
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if len > MAX_STREAM_LEN {
        return Err(DecryptError::TooLarge);
    }
    Ok(Some(STREAM_HEADER_LEN + len))
}

/// Decrypts an encrypted stream frame (starting at its `10` byte) in place and returns
/// the plaintext. Bytes after the frame's declared length are ignored.
pub fn open_stream<'b>(
    keyring: &Keyring,
    frame: &'b mut [u8],
    label: &[u8],
) -> Result<&'b mut [u8], DecryptError> {
    let total = stream_frame_len(frame)?.ok_or(DecryptError::TooShort)?;
    let frame = frame.get_mut(..total).ok_or(DecryptError::TooShort)?;
    let (header, body) = frame.split_at_mut(STREAM_HEADER_LEN);
    let aad = stream_aad(header, label);
    keyring.decrypt_in_place(body, &aad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::{hex, read_shared, read_vector};
    use alloc::vec;
    use proptest::prelude::*;

    fn key32() -> Vec<u8> {
        (0u8..32).collect()
    }

    fn vec_hex(name: &str) -> Vec<u8> {
        hex(&read_vector(name))
    }

    const PING_N2: &str = "0085a44e6f6465a46e303032a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a46e303031aa536f75726365506f7274cd822f";

    #[test]
    fn decrypt_go_udp_ping_and_wrong_key_leaves_buffer() {
        let orig = vec_hex("udp_encrypted_ping.hex");
        let mut buf = orig.clone();
        let wrong = Keyring::new(&[9u8; 32]).unwrap();
        assert_eq!(wrong.decrypt_in_place(&mut buf, &[]).err(), Some(DecryptError::NoKeyMatched));
        assert_eq!(buf, orig, "failed attempt must not touch the buffer");
        let mut kr = Keyring::new(&[9u8; 16]).unwrap();
        kr.add_key(&key32()).unwrap();
        assert_eq!(kr.decrypt_in_place(&mut buf, &[]).unwrap(), &hex(PING_N2)[..]);
        // wrong AAD fails
        let mut buf = orig.clone();
        assert!(kr.decrypt_in_place(&mut buf, b"x").is_err());
    }

    #[test]
    fn decrypt_go_label_and_compound() {
        let kr = Keyring::new(&key32()).unwrap();
        let v = vec_hex("udp_label_encrypted_ping.hex");
        let mut body = v[15..].to_vec();
        assert_eq!(&v[..15], b"\xf4\x0docaml-vectors");
        let p = kr.decrypt_in_place(&mut body, b"ocaml-vectors").unwrap();
        assert_eq!(p[0], 0);
        assert_eq!(p.len(), v.len() - 15 - ENCRYPT_OVERHEAD);
        let mut c = vec_hex("udp_encrypted_compound.hex");
        let p = kr.decrypt_in_place(&mut c, &[]).unwrap();
        assert_eq!(&p[..1], &[12]);
    }

    #[test]
    fn decrypt_go_streams() {
        let kr = Keyring::new(&key32()).unwrap();
        for (name, label) in [
            ("tcp_pushpull_encrypted.c2s.hex", &b""[..]),
            ("tcp_pushpull_encrypted.s2c.hex", b""),
            ("tcp_pushpull_label_encrypted.c2s.hex", b"ocaml-vectors"),
            ("tcp_pushpull_label_encrypted.s2c.hex", b"ocaml-vectors"),
        ] {
            let mut v = vec_hex(name);
            let skip = if v[0] == 244 { 15 } else { 0 };
            let frame = &mut v[skip..];
            assert_eq!(stream_frame_len(frame), Ok(Some(frame.len())), "{name}");
            let p = open_stream(&kr, frame, label).unwrap();
            assert_eq!(p[0], 9, "{name}: compressed inside");
        }
        let mut v = vec_hex("tcp_pushpull_label_encrypted.c2s.hex");
        assert!(open_stream(&kr, &mut v[15..], b"").is_err());
    }

    #[test]
    fn decrypt_serf_encrypted_udp() {
        let kr = Keyring::new(&key32()).unwrap();
        let mut n = 0;
        for i in 0..200 {
            let Ok(s) = std::panic::catch_unwind(|| {
                read_shared(&alloc::format!("serf/vectors_encrypted/udp_{i:03}.hex"))
            }) else {
                break;
            };
            let mut b = hex(&s);
            let p = kr.decrypt_in_place(&mut b, &[]).unwrap();
            assert!(matches!(p[0], 0..=13), "udp_{i:03}");
            n += 1;
        }
        assert_eq!(n, 95);
    }

    #[test]
    fn keyring_ops() {
        assert_eq!(Keyring::new(&[0; 17]).err(), Some(KeyError::InvalidLength(17)));
        let mut kr = Keyring::new(&[1; 16]).unwrap();
        kr.add_key(&[2; 24]).unwrap();
        kr.add_key(&[3; 32]).unwrap();
        kr.add_key(&[3; 32]).unwrap();
        assert_eq!(kr.keys().count(), 3);
        assert_eq!(kr.use_key(&[4; 16]), Err(KeyError::NotFound));
        kr.use_key(&[3; 32]).unwrap();
        assert_eq!(kr.primary(), &[3; 32]);
        assert_eq!(kr.keys().nth(1), Some(&[1u8; 16][..]));
        assert_eq!(kr.remove_key(&[3; 32]), Err(KeyError::IsPrimary));
        kr.remove_key(&[1; 16]).unwrap();
        assert_eq!(kr.keys().count(), 2);
        for i in 0..6 {
            kr.add_key(&[10 + i; 16]).unwrap();
        }
        assert_eq!(kr.add_key(&[99; 16]), Err(KeyError::Full));
        assert!(!alloc::format!("{kr:?}").contains("99"));
    }

    #[test]
    fn vsn0_padding() {
        // Build a vsn-0 message by hand: PKCS7-pad, encrypt with the vsn-1 routine, patch vsn.
        let kr = Keyring::new(&key32()).unwrap();
        let plain = b"hello";
        let mut buf = vec![0u8; 13 + 16 + 16];
        buf[13..18].copy_from_slice(plain);
        buf[18..29].fill(11);
        kr.encrypt_in_place(&mut buf, 16, &[], [7; 12]).unwrap();
        buf[0] = 0;
        assert_eq!(kr.decrypt_in_place(&mut buf, &[]).unwrap(), plain);
        let mut bad = vec![0u8; 45];
        bad[13..29].fill(0);
        kr.encrypt_in_place(&mut bad, 16, &[], [7; 12]).unwrap();
        bad[0] = 0;
        assert_eq!(kr.decrypt_in_place(&mut bad, &[]).err(), Some(DecryptError::BadPadding));
        assert_eq!(kr.decrypt_in_place(&mut [0u8; 44], &[]).err(), Some(DecryptError::TooShort));
        assert_eq!(kr.decrypt_in_place(&mut [2u8; 64], &[]).err(), Some(DecryptError::UnknownVersion(2)));
        assert_eq!(kr.decrypt_in_place(&mut [], &[]).err(), Some(DecryptError::TooShort));
    }

    proptest! {
        #[test]
        fn round_trips(plain in proptest::collection::vec(any::<u8>(), 0..300), aad in proptest::collection::vec(any::<u8>(), 0..20), nonce in any::<[u8; 12]>(), ks in 0usize..3) {
            let key: Vec<u8> = (0..[16, 24, 32][ks]).map(|i| i as u8 ^ 0x5a).collect();
            let kr = Keyring::new(&key).unwrap();
            let mut buf = vec![0u8; plain.len() + ENCRYPT_OVERHEAD];
            buf[13..13 + plain.len()].copy_from_slice(&plain);
            prop_assert_eq!(kr.encrypt_in_place(&mut buf, plain.len(), &aad, nonce), Ok(buf.len()));
            prop_assert_eq!(&buf[1..13], &nonce[..]);
            let mut copy = buf.clone();
            prop_assert_eq!(kr.decrypt_in_place(&mut copy, &aad).unwrap(), &plain[..]);
            let mut short = vec![0u8; buf.len() - 1];
            prop_assert_eq!(kr.encrypt_in_place(&mut short, plain.len(), &aad, nonce), Err(EncodeError::BufferTooSmall));
            let mut out = vec![0xee];
            seal_stream(&kr, &plain, &aad, nonce, &mut out);
            prop_assert_eq!(out.len(), 1 + 5 + plain.len() + ENCRYPT_OVERHEAD);
            prop_assert_eq!(open_stream(&kr, &mut out[1..], &aad).unwrap(), &plain[..]);
        }

        #[test]
        fn arbitrary_never_panics(mut b in proptest::collection::vec(any::<u8>(), 0..120)) {
            let kr = Keyring::new(&key32()).unwrap();
            let _ = kr.decrypt_in_place(&mut b.clone(), &[]);
            let _ = open_stream(&kr, &mut b, &[]);
        }
    }
}
