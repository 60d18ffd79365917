//! Minimal MessagePack writer/reader matching the output of hashicorp/go-msgpack 0.5.5
//! (the codec memberlist and Serf use).
//!
//! The writer emits the *legacy* raw family for both strings and byte slices (fixstr,
//! str16 `0xda`, str32 `0xdb`; never str8 or bin) and the smallest unsigned integer form.
//! The reader borrows from its input, accepts every standard family, checks every declared
//! length against the remaining input before using it and never allocates.

use core::fmt;

/// Errors produced while encoding into a caller-supplied buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer has no room for the value.
    BufferTooSmall,
    /// A compound message would exceed 255 parts.
    TooManyParts,
    /// A length cannot be represented on the wire (e.g. a part longer than 65535 bytes,
    /// a label longer than 255 bytes, a string longer than `u32::MAX`).
    TooLong,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferTooSmall => "output buffer too small",
            EncodeError::TooManyParts => "too many compound parts (max 255)",
            EncodeError::TooLong => "length not representable on the wire",
        })
    }
}

impl core::error::Error for EncodeError {}

/// Errors produced while decoding wire data. Every variant names the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the value did.
    Truncated,
    /// A msgpack marker byte of the wrong family for the expected value.
    UnexpectedType(u8),
    /// A string field was not valid UTF-8.
    InvalidUtf8,
    /// An unknown (or, in this context, unexpected) message type byte.
    UnknownMessageType(u8),
    /// A required struct field was absent.
    MissingField(&'static str),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A declared count or length exceeds the protocol's limit.
    LengthTooLarge,
    /// A checksum did not match.
    BadChecksum,
    /// An integer does not fit the field's type (or is negative for an unsigned field).
    IntOutOfRange,
    /// A compress message names an algorithm other than LZW (0).
    UnknownCompression(u8),
    /// The LZW stream is corrupt.
    InvalidLzw,
    /// Decompressed output would exceed the allowed maximum.
    OutputTooLarge,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("input truncated"),
            DecodeError::UnexpectedType(b) => write!(f, "unexpected msgpack marker 0x{b:02x}"),
            DecodeError::InvalidUtf8 => f.write_str("invalid UTF-8 in string"),
            DecodeError::UnknownMessageType(t) => write!(f, "unknown message type {t}"),
            DecodeError::MissingField(n) => write!(f, "missing field {n}"),
            DecodeError::TooDeep => f.write_str("msgpack nesting too deep"),
            DecodeError::LengthTooLarge => f.write_str("declared length exceeds limit"),
            DecodeError::BadChecksum => f.write_str("checksum mismatch"),
            DecodeError::IntOutOfRange => f.write_str("integer out of range for field"),
            DecodeError::UnknownCompression(a) => write!(f, "unknown compression algorithm {a}"),
            DecodeError::InvalidLzw => f.write_str("corrupt LZW data"),
            DecodeError::OutputTooLarge => f.write_str("decompressed output too large"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Maximum nesting depth accepted by [`Reader::skip_value`].
pub const MAX_DEPTH: usize = 32;

/// A msgpack encoder writing into a caller-provided slice (or only counting, see
/// [`Writer::counting`]).
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    count_only: bool,
}

impl<'b> Writer<'b> {
    /// A writer that fills `buf` from the start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0, count_only: false }
    }

    /// A writer that stores nothing and only counts the bytes that would be written.
    pub fn counting() -> Writer<'static> {
        Writer { buf: &mut [], pos: 0, count_only: true }
    }

    /// Bytes written (or counted) so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Appends raw bytes verbatim.
    #[inline]
    pub fn raw(&mut self, data: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos.checked_add(data.len()).ok_or(EncodeError::BufferTooSmall)?;
        if !self.count_only {
            self.buf.get_mut(self.pos..end).ok_or(EncodeError::BufferTooSmall)?.copy_from_slice(data);
        }
        self.pos = end;
        Ok(())
    }

    #[inline]
    fn marker_be(&mut self, marker: u8, be: &[u8]) -> Result<(), EncodeError> {
        self.raw(&[marker])?;
        self.raw(be)
    }

    #[inline]
    fn container(&mut self, n: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) -> Result<(), EncodeError> {
        if n <= fix_max {
            self.raw(&[fix | n as u8])
        } else if let Ok(v) = u16::try_from(n) {
            self.marker_be(m16, &v.to_be_bytes())
        } else {
            let v = u32::try_from(n).map_err(|_| EncodeError::TooLong)?;
            self.marker_be(m32, &v.to_be_bytes())
        }
    }

    /// Map header for `n` key/value pairs (fixmap, map16, map32).
    #[inline]
    pub fn map_header(&mut self, n: usize) -> Result<(), EncodeError> {
        self.container(n, 0x80, 15, 0xde, 0xdf)
    }

    /// Array header for `n` elements (fixarray, array16, array32).
    pub fn array_header(&mut self, n: usize) -> Result<(), EncodeError> {
        self.container(n, 0x90, 15, 0xdc, 0xdd)
    }

    /// Legacy raw string (fixstr, str16, str32; never str8).
    #[inline]
    pub fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.bytes(s.as_bytes())
    }

    /// Byte slice as legacy raw (same encoding as [`Writer::str`]; never bin).
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        self.container(b.len(), 0xa0, 31, 0xda, 0xdb)?;
        self.raw(b)
    }

    /// Byte slice that Go would hold as a nil `[]byte` when empty: empty → nil (`0xc0`).
    #[inline]
    pub fn bytes_or_nil(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        if b.is_empty() {
            self.nil()
        } else {
            self.bytes(b)
        }
    }

    /// msgpack nil.
    #[inline]
    pub fn nil(&mut self) -> Result<(), EncodeError> {
        self.raw(&[0xc0])
    }

    /// float64 (`0xcb`), as go-msgpack writes a Go `float64`.
    pub fn f64(&mut self, v: f64) -> Result<(), EncodeError> {
        self.marker_be(0xcb, &v.to_bits().to_be_bytes())
    }

    /// msgpack bool.
    pub fn bool(&mut self, v: bool) -> Result<(), EncodeError> {
        self.raw(&[if v { 0xc3 } else { 0xc2 }])
    }

    /// Unsigned integer in its smallest form (fixint, uint8/16/32/64).
    #[inline]
    pub fn uint(&mut self, v: u64) -> Result<(), EncodeError> {
        if v <= 0x7f {
            self.raw(&[v as u8])
        } else if let Ok(v) = u8::try_from(v) {
            self.marker_be(0xcc, &[v])
        } else if let Ok(v) = u16::try_from(v) {
            self.marker_be(0xcd, &v.to_be_bytes())
        } else if let Ok(v) = u32::try_from(v) {
            self.marker_be(0xce, &v.to_be_bytes())
        } else {
            self.marker_be(0xcf, &v.to_be_bytes())
        }
    }

    /// Signed integer as go-msgpack 0.5.5's `encodeInt`: non-negative values use the
    /// unsigned forms (as observed on the wire: `UserStateLen` 586 → `cd 02 4a`), negative
    /// values the smallest of negative fixint, int8/16/32/64.
    pub fn int(&mut self, v: i64) -> Result<(), EncodeError> {
        if let Ok(u) = u64::try_from(v) {
            self.uint(u)
        } else if v >= -32 {
            self.raw(&[v as u8])
        } else if let Ok(v) = i8::try_from(v) {
            self.marker_be(0xd0, &v.to_be_bytes())
        } else if let Ok(v) = i16::try_from(v) {
            self.marker_be(0xd1, &v.to_be_bytes())
        } else if let Ok(v) = i32::try_from(v) {
            self.marker_be(0xd2, &v.to_be_bytes())
        } else {
            self.marker_be(0xd3, &v.to_be_bytes())
        }
    }
}

/// Bytes that `f` writes, computed with a counting [`Writer`].
pub fn measure(f: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>) -> usize {
    let mut w = Writer::counting();
    // A counting writer never runs out of room; on TooLong the length is meaningless anyway.
    let _ = f(&mut w);
    w.position()
}

/// A borrowing msgpack decoder over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    need: usize,
}

fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0, need: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread input.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// After a [`DecodeError::Truncated`], a lower bound on the total input length (from
    /// the start of the reader's slice) that would be needed to go further.
    pub fn needed(&self) -> usize {
        self.need
    }

    fn truncated(&mut self, extra: usize) -> DecodeError {
        self.need = self.pos.saturating_add(extra);
        DecodeError::Truncated
    }

    /// Consumes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.remaining();
        match rest.get(..n) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(n)),
        }
    }

    /// The next byte without consuming it.
    pub fn peek(&mut self) -> Result<u8, DecodeError> {
        match self.remaining().first() {
            Some(&b) => Ok(b),
            None => Err(self.truncated(1)),
        }
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(be_u64(self.take(n)?))
    }

    /// Checks that `n` items of at least `min_each` bytes can still fit in the input.
    fn check_count(&mut self, n: u64, min_each: u64) -> Result<usize, DecodeError> {
        let need = n.saturating_mul(min_each);
        let have = self.remaining().len() as u64;
        if need > have {
            return Err(self.truncated(usize::try_from(need).unwrap_or(usize::MAX)));
        }
        usize::try_from(n).map_err(|_| DecodeError::LengthTooLarge)
    }

    /// Reads a map header; returns the number of key/value pairs.
    pub fn read_map_len(&mut self) -> Result<usize, DecodeError> {
        let m = self.peek()?;
        let n = match m {
            0x80..=0x8f => {
                self.pos += 1;
                u64::from(m & 0x0f)
            }
            0xde => {
                self.pos += 1;
                self.be(2)?
            }
            0xdf => {
                self.pos += 1;
                self.be(4)?
            }
            _ => return Err(DecodeError::UnexpectedType(m)),
        };
        self.check_count(n, 2)
    }

    /// Reads an array header; returns the number of elements.
    pub fn read_array_len(&mut self) -> Result<usize, DecodeError> {
        let m = self.peek()?;
        let n = match m {
            0x90..=0x9f => {
                self.pos += 1;
                u64::from(m & 0x0f)
            }
            0xdc => {
                self.pos += 1;
                self.be(2)?
            }
            0xdd => {
                self.pos += 1;
                self.be(4)?
            }
            _ => return Err(DecodeError::UnexpectedType(m)),
        };
        self.check_count(n, 1)
    }

    /// Reads a raw/str/bin value, or nil as an empty slice when `allow_nil`.
    fn read_raw(&mut self, allow_nil: bool) -> Result<&'a [u8], DecodeError> {
        let m = self.peek()?;
        let len = match m {
            0xa0..=0xbf => {
                self.pos += 1;
                u64::from(m & 0x1f)
            }
            0xd9 | 0xc4 => {
                self.pos += 1;
                self.be(1)?
            }
            0xda | 0xc5 => {
                self.pos += 1;
                self.be(2)?
            }
            0xdb | 0xc6 => {
                self.pos += 1;
                self.be(4)?
            }
            0xc0 if allow_nil => {
                self.pos += 1;
                return Ok(&[]);
            }
            _ => return Err(DecodeError::UnexpectedType(m)),
        };
        self.take(usize::try_from(len).map_err(|_| DecodeError::LengthTooLarge)?)
    }

    /// Reads a string (fixstr/str8/16/32 or bin8/16/32); invalid UTF-8 is an error.
    pub fn read_str(&mut self) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.read_raw(false)?).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads a byte slice (str or bin family); nil reads as empty.
    pub fn read_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        self.read_raw(true)
    }

    /// Reads a float (float64, float32) or any integer as an `f64`.
    pub fn read_f64(&mut self) -> Result<f64, DecodeError> {
        match self.peek()? {
            0xcb => {
                self.pos += 1;
                Ok(f64::from_bits(self.be(8)?))
            }
            0xca => {
                self.pos += 1;
                Ok(f64::from(f32::from_bits(self.be(4)? as u32)))
            }
            _ => Ok(self.read_any_int()? as f64),
        }
    }

    /// Reads any integer family as an `i128` (covers both u64 and i64 ranges).
    fn read_any_int(&mut self) -> Result<i128, DecodeError> {
        let m = self.peek()?;
        self.pos += 1;
        let v: i128 = match m {
            0x00..=0x7f => i128::from(m),
            0xe0..=0xff => i128::from(m as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => {
                self.pos -= 1;
                return Err(DecodeError::UnexpectedType(m));
            }
        };
        Ok(v)
    }

    /// Reads any integer family as an unsigned value; negative values are an error.
    pub fn read_uint(&mut self) -> Result<u64, DecodeError> {
        u64::try_from(self.read_any_int()?).map_err(|_| DecodeError::IntOutOfRange)
    }

    /// Reads any integer family as a signed value; values above `i64::MAX` are an error.
    pub fn read_int(&mut self) -> Result<i64, DecodeError> {
        i64::try_from(self.read_any_int()?).map_err(|_| DecodeError::IntOutOfRange)
    }

    /// Reads a bool.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        match self.peek()? {
            0xc2 => {
                self.pos += 1;
                Ok(false)
            }
            0xc3 => {
                self.pos += 1;
                Ok(true)
            }
            m => Err(DecodeError::UnexpectedType(m)),
        }
    }

    /// True if the next value is nil (not consumed).
    pub fn is_nil(&mut self) -> Result<bool, DecodeError> {
        Ok(self.peek()? == 0xc0)
    }

    /// Consumes a nil and returns `None`, or reads a value with `f`.
    pub fn read_nil_or<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.is_nil()? {
            self.pos += 1;
            Ok(None)
        } else {
            f(self).map(Some)
        }
    }

    /// Skips one complete value of any type (nested up to [`MAX_DEPTH`] levels).
    pub fn skip_value(&mut self) -> Result<(), DecodeError> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let m = self.peek()?;
        // The common cases first (framing skips whole member tables): fixstr
        // and positive fixint.
        if m & 0xe0 == 0xa0 {
            self.pos += 1;
            return self.take(usize::from(m & 0x1f)).map(|_| ());
        }
        if m <= 0x7f {
            self.pos += 1;
            return Ok(());
        }
        // Fixed-size payloads following the marker; containers and raw handled below.
        let fixed: Option<usize> = match m {
            0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Some(0),
            0xcc | 0xd0 => Some(1),
            0xcd | 0xd1 => Some(2),
            0xce | 0xd2 | 0xca => Some(4),
            0xcf | 0xd3 | 0xcb => Some(8),
            0xd4 => Some(2),
            0xd5 => Some(3),
            0xd6 => Some(5),
            0xd7 => Some(9),
            0xd8 => Some(17),
            _ => None,
        };
        if let Some(n) = fixed {
            self.pos += 1;
            self.take(n)?;
            return Ok(());
        }
        match m {
            0xd9..=0xdb | 0xc4..=0xc6 => self.read_raw(false).map(|_| ()),
            0xc7..=0xc9 => {
                self.pos += 1;
                let len = self.be(1 << (m - 0xc7))?;
                let len = usize::try_from(len).map_err(|_| DecodeError::LengthTooLarge)?;
                self.take(len.saturating_add(1)).map(|_| ())
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = self.read_map_len()?;
                for _ in 0..n {
                    self.skip_depth(depth + 1)?;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = self.read_array_len()?;
                for _ in 0..n {
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            _ => Err(DecodeError::UnexpectedType(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn enc(f: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut buf = vec![0u8; 1 << 17];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        let n = w.position();
        buf.truncate(n);
        buf
    }

    #[test]
    fn go_forms() {
        assert_eq!(enc(|w| w.uint(1)), [0x01]);
        assert_eq!(enc(|w| w.uint(42595)), [0xcd, 0xa6, 0x63]);
        assert_eq!(enc(|w| w.uint(200)), [0xcc, 200]);
        assert_eq!(enc(|w| w.uint(1 << 20)), [0xce, 0, 0x10, 0, 0]);
        assert_eq!(enc(|w| w.int(586)), [0xcd, 0x02, 0x4a]);
        assert_eq!(enc(|w| w.int(-1)), [0xff]);
        assert_eq!(enc(|w| w.int(-33)), [0xd0, 0xdf]);
        assert_eq!(enc(|w| w.int(-200)), [0xd1, 0xff, 0x38]);
        assert_eq!(enc(|w| w.str("Node")), b"\xa4Node");
        let s = [b'x'; 40];
        assert_eq!(&enc(|w| w.bytes(&s))[..3], [0xda, 0, 40]);
        let s = vec![b'x'; 70000];
        assert_eq!(&enc(|w| w.bytes(&s))[..5], [0xdb, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(|w| w.bytes_or_nil(&[])), [0xc0]);
        assert_eq!(enc(|w| w.map_header(20)), [0xde, 0, 20]);
        assert_eq!(enc(|w| w.array_header(3)), [0x93]);
        assert_eq!(measure(|w| w.str("Node")), 5);
    }

    #[test]
    fn buffer_too_small() {
        let mut buf = [0u8; 2];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.str("abc"), Err(EncodeError::BufferTooSmall));
        assert_eq!(w.uint(70000), Err(EncodeError::BufferTooSmall));
    }

    #[test]
    fn reader_families() {
        let mut r =
            Reader::new(&[0xd9, 2, b'h', b'i', 0xc4, 1, 7, 0xc0, 0xd0, 0x80, 0xd3, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(r.read_str(), Ok("hi"));
        assert_eq!(r.read_bytes(), Ok(&[7u8][..]));
        assert_eq!(r.read_bytes(), Ok(&[][..]));
        assert_eq!(r.read_int(), Ok(-128));
        assert_eq!(r.read_uint(), Ok(256));
        assert_eq!(r.remaining().len(), 0);
        assert_eq!(Reader::new(&[0xff]).read_uint(), Err(DecodeError::IntOutOfRange));
        assert_eq!(
            Reader::new(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).read_int(),
            Err(DecodeError::IntOutOfRange)
        );
        assert_eq!(Reader::new(&[0xa2, 0xff, 0xfe]).read_str(), Err(DecodeError::InvalidUtf8));
        assert_eq!(Reader::new(&[0xdb, 0xff, 0xff, 0xff, 0xff]).read_str(), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[0xdf, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.read_map_len(), Err(DecodeError::Truncated));
        assert!(r.needed() > 1_000_000);
        assert_eq!(Reader::new(&[0xc0, 1]).read_nil_or(|r| r.read_uint()), Ok(None));
        assert_eq!(Reader::new(&[0x05]).read_nil_or(|r| r.read_uint()), Ok(Some(5)));
    }

    #[test]
    fn skip_nesting_limit() {
        let deep = vec![0x91u8; 100_000];
        assert_eq!(Reader::new(&deep).skip_value(), Err(DecodeError::TooDeep));
        let mut ok = vec![0x91u8; 31];
        ok.push(0xc0);
        assert_eq!(Reader::new(&ok).skip_value(), Ok(()));
        // float64, ext, fixext, map with nested values
        let v = [0x82, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xd4, 1, 2, 0xa1, b'k', 0xc7, 2, 5, 1, 2];
        let mut r = Reader::new(&v);
        assert_eq!(r.skip_value(), Ok(()));
        assert_eq!(r.position(), v.len());
    }

    proptest! {
        #[test]
        fn ints_round_trip(u in any::<u64>(), i in any::<i64>()) {
            let b = enc(|w| { w.uint(u)?; w.int(i) });
            let mut r = Reader::new(&b);
            prop_assert_eq!(r.read_uint(), Ok(u));
            prop_assert_eq!(r.read_int(), Ok(i));
        }

        #[test]
        fn raw_round_trip(s in ".{0,80}", b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let e = enc(|w| { w.str(&s)?; w.bytes(&b) });
            let mut r = Reader::new(&e);
            prop_assert_eq!(r.read_str(), Ok(s.as_str()));
            prop_assert_eq!(r.read_bytes(), Ok(&b[..]));
            let mut r = Reader::new(&e);
            r.skip_value().unwrap();
            r.skip_value().unwrap();
            prop_assert_eq!(r.remaining().len(), 0);
        }

        #[test]
        fn hostile_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&b);
            while r.skip_value().is_ok() && !r.remaining().is_empty() {}
            let mut r = Reader::new(&b);
            let _ = r.read_map_len();
            let _ = r.read_str();
            let _ = r.read_uint();
            let _ = r.read_int();
            let _ = r.read_bytes();
            let _ = r.read_array_len();
            let _ = r.read_bool();
        }
    }
}
