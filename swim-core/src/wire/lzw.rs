//! LZW compatible with Go's `compress/lzw` (LSB bit order, literal width 8), as used by
//! memberlist's `compressMsg`.
//!
//! Codes: 0..=255 literals, 256 clear, 257 end of data, new codes from 258; widths grow
//! from 9 to 12 bits. Like Go's writer, [`compress`] emits a clear code first and, when
//! the next code would be 4095, a clear code and a fresh table; it ends with the end
//! code. Its output is byte-identical to Go's (the algorithm is the same greedy LZW).
//! [`decompress`] follows Go's reader, including its handling of a full table.
//!
//! Both work with fixed tables on the stack (about 20 KiB) and no heap allocation other
//! than the caller's output `Vec`.

use alloc::vec::Vec;

use crate::wire::msgpack::{DecodeError, Reader};
use crate::wire::{msg_type, Compress};

const CLEAR: u16 = 256;
const EOF: u16 = 257;
const FIRST_HI: u16 = 257;
const MAX_WIDTH: u32 = 12;
const TABLE: usize = 1 << MAX_WIDTH;
/// Go's writer resets once `hi` reaches this value.
const MAX_CODE: u16 = (TABLE - 1) as u16;

struct BitWriter<'o> {
    out: &'o mut Vec<u8>,
    bits: u32,
    n: u32,
}

impl BitWriter<'_> {
    fn write(&mut self, code: u16, width: u32) {
        self.bits |= u32::from(code) << self.n;
        self.n += width;
        while self.n >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.n -= 8;
        }
    }

    fn flush(&mut self) {
        if self.n > 0 {
            self.out.push(self.bits as u8);
        }
    }
}

/// Encoder code-space state, mirroring Go's `Writer` (`hi`, `width`, `overflow`).
struct Codes {
    hi: u16,
    width: u32,
    overflow: u16,
}

impl Codes {
    fn new() -> Self {
        Codes { hi: FIRST_HI, width: 9, overflow: 512 }
    }

    /// Go's `incHi`: advances `hi`; returns false (after emitting a clear code and
    /// resetting) when the table is full.
    fn inc_hi(&mut self, w: &mut BitWriter<'_>) -> bool {
        self.hi += 1;
        if self.hi == self.overflow {
            self.width += 1;
            self.overflow = self.overflow.saturating_mul(2);
        }
        if self.hi == MAX_CODE {
            w.write(CLEAR, self.width);
            *self = Codes::new();
            return false;
        }
        true
    }
}

/// Appends the LZW compression of `input` to `out`, exactly as Go's
/// `lzw.NewWriter(w, lzw.LSB, 8)` followed by `Write(input)` and `Close()`.
pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    // Trie of the string table: first child, next sibling and last byte of each code.
    let mut first = [0u16; TABLE];
    let mut next = [0u16; TABLE];
    let mut byte = [0u8; TABLE];
    let mut w = BitWriter { out, bits: 0, n: 0 };
    let mut c = Codes::new();
    w.write(CLEAR, c.width);
    let Some((&b0, rest)) = input.split_first() else {
        w.write(EOF, c.width);
        w.flush();
        return;
    };
    let mut code = u16::from(b0);
    for &b in rest {
        let mut child = first[usize::from(code)];
        while child != 0 && byte[usize::from(child)] != b {
            child = next[usize::from(child)];
        }
        if child != 0 {
            code = child;
            continue;
        }
        w.write(code, c.width);
        let prefix = code;
        code = u16::from(b);
        if !c.inc_hi(&mut w) {
            first[..256].fill(0);
            continue;
        }
        let hi = usize::from(c.hi);
        byte[hi] = b;
        first[hi] = 0;
        next[hi] = first[usize::from(prefix)];
        first[usize::from(prefix)] = c.hi;
    }
    w.write(code, c.width);
    c.inc_hi(&mut w);
    w.write(EOF, c.width);
    w.flush();
}

/// Appends to `out` the decompression of Go-`compress/lzw` data (LSB, literal width 8).
///
/// At most `max_out` bytes are appended: once the output would grow beyond that, the
/// function stops with [`DecodeError::OutputTooLarge`] (the `Vec` never grows past it).
/// Corrupt input gives [`DecodeError::InvalidLzw`], input without an end code
/// [`DecodeError::Truncated`]. On error, `out` may hold a partial result.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, max_out: usize) -> Result<(), DecodeError> {
    let limit = out.len().saturating_add(max_out);
    let mut prefix = [0u16; TABLE];
    let mut suffix = [0u8; TABLE];
    let mut stack = [0u8; TABLE];
    let (mut width, mut hi, mut overflow) = (9u32, EOF, 512u16);
    let mut last: Option<u16> = None;
    let (mut acc, mut nbits, mut pos) = (0u32, 0u32, 0usize);
    loop {
        while nbits < width {
            let &b = input.get(pos).ok_or(DecodeError::Truncated)?;
            pos += 1;
            acc |= u32::from(b) << nbits;
            nbits += 8;
        }
        let code = (acc & ((1 << width) - 1)) as u16;
        acc >>= width;
        nbits -= width;

        let first_byte;
        if code < CLEAR {
            emit(out, &[code as u8], limit)?;
            first_byte = code as u8;
        } else if code == CLEAR {
            (width, hi, overflow, last) = (9, EOF, 512, None);
            continue;
        } else if code == EOF {
            return Ok(());
        } else if code <= hi {
            let mut i = TABLE;
            let mut c = code;
            if code == hi {
                if let Some(l) = last {
                    // KwKwK: the last expansion followed by its own first byte.
                    let mut f = l;
                    while f >= CLEAR {
                        f = prefix[usize::from(f)];
                    }
                    i -= 1;
                    stack[i] = f as u8;
                    c = l;
                }
            }
            // prefix[c] < c for every table entry, so this walk terminates.
            while c >= CLEAR {
                i = i.checked_sub(1).ok_or(DecodeError::InvalidLzw)?;
                stack[i] = suffix[usize::from(c)];
                c = prefix[usize::from(c)];
            }
            i = i.checked_sub(1).ok_or(DecodeError::InvalidLzw)?;
            stack[i] = c as u8;
            first_byte = c as u8;
            emit(out, &stack[i..], limit)?;
        } else {
            return Err(DecodeError::InvalidLzw);
        }
        if let Some(l) = last {
            suffix[usize::from(hi)] = first_byte;
            prefix[usize::from(hi)] = l;
        }
        last = Some(code);
        hi += 1;
        if hi >= overflow {
            if width == MAX_WIDTH {
                // Table full: keep decoding without adding entries (Go's reader).
                last = None;
                hi -= 1;
            } else {
                width += 1;
                overflow = overflow.saturating_mul(2);
            }
        }
    }
}

/// Appends `data`, growing `out` at most up to `limit` bytes in total.
fn emit(out: &mut Vec<u8>, data: &[u8], limit: usize) -> Result<(), DecodeError> {
    let len = out.len();
    if data.len() > limit.saturating_sub(len) {
        return Err(DecodeError::OutputTooLarge);
    }
    if out.capacity() - len < data.len() {
        // Doubling growth, capped at the limit.
        let want = len.max(1024).min(limit - len).max(data.len());
        out.reserve_exact(want);
    }
    out.extend_from_slice(data);
    Ok(())
}

/// Appends a memberlist compress message: `[9]` + msgpack `{Algo: 0, Buf: lzw(inner)}`.
pub fn encode_compress(inner: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        msg_type::COMPRESS,
        0x82,
        0xa4,
        b'A',
        b'l',
        b'g',
        b'o',
        0x00,
        0xa3,
        b'B',
        b'u',
        b'f',
    ]);
    // Reserve the largest raw header (str32), compress, then close the gap.
    let hdr = out.len();
    out.extend_from_slice(&[0; 5]);
    let data = out.len();
    compress(inner, out);
    let n = out.len() - data;
    let mut h = [0u8; 5];
    let hl = if n < 32 {
        h[0] = 0xa0 | n as u8;
        1
    } else if let Ok(v) = u16::try_from(n) {
        h[0] = 0xda;
        h[1..3].copy_from_slice(&v.to_be_bytes());
        3
    } else {
        h[0] = 0xdb;
        h[1..5].copy_from_slice(&(n as u32).to_be_bytes());
        5
    };
    out[hdr..hdr + hl].copy_from_slice(&h[..hl]);
    if hl < 5 {
        out.copy_within(data.., hdr + hl);
        out.truncate(out.len() - (5 - hl));
    }
}

/// Decompresses a decoded compress message into `out` (at most `max_out` bytes); only
/// algorithm 0 (LZW) exists.
pub fn decode_compress(c: &Compress<'_>, out: &mut Vec<u8>, max_out: usize) -> Result<(), DecodeError> {
    if c.algo != 0 {
        return Err(DecodeError::UnknownCompression(c.algo));
    }
    decompress(c.buf, out, max_out)
}

/// Decodes a whole `[9]{Algo, Buf}` message (type byte first) and decompresses it.
pub fn decompress_message(msg: &[u8], out: &mut Vec<u8>, max_out: usize) -> Result<(), DecodeError> {
    let (&t, body) = msg.split_first().ok_or(DecodeError::Truncated)?;
    if t != msg_type::COMPRESS {
        return Err(DecodeError::UnknownMessageType(t));
    }
    let c = Compress::decode_body(&mut Reader::new(body))?;
    decode_compress(&c, out, max_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::hex;
    use alloc::vec;
    use proptest::prelude::*;

    fn vector(name: &str) -> Vec<u8> {
        hex(&crate::wire::tests::read_vector(name))
    }

    const PP_C2S: &str = "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656e0087a441646472a47f000001ab496e6361726e6174696f6e01a44d657461c0a44e616d65a46e303031a4506f7274cda9c5a5537461746500a356736ea6010502000000";

    #[test]
    fn go_stream_vector_both_ways() {
        let go = vector("tcp_pushpull_compressed.c2s.hex");
        let mut plain = Vec::new();
        decompress_message(&go, &mut plain, 1 << 20).unwrap();
        assert_eq!(plain, hex(PP_C2S));
        let mut ours = Vec::new();
        encode_compress(&plain, &mut ours);
        assert_eq!(ours, go, "byte-identical to Go's compress/lzw");
    }

    #[test]
    fn go_udp_vector_both_ways() {
        let v = vector("udp_compressed.hex");
        // [12][crc] then [9]{Algo,Buf}
        let inner = &v[5..];
        let mut plain = Vec::new();
        decompress_message(inner, &mut plain, 1 << 20).unwrap();
        assert_eq!(plain.len(), 250);
        assert_eq!(&plain[..10], &hex("0704003c003c003c003c")[..]);
        let mut ours = Vec::new();
        encode_compress(&plain, &mut ours);
        assert_eq!(ours, inner);
    }

    #[test]
    fn empty_and_tiny() {
        for input in [&b""[..], b"a", b"aa", b"aaa", b"abababab"] {
            let mut c = Vec::new();
            compress(input, &mut c);
            let mut d = Vec::new();
            decompress(&c, &mut d, 100).unwrap();
            assert_eq!(d, input);
            let w = weezl::decode::Decoder::new(weezl::BitOrder::Lsb, 8).decode(&c).unwrap();
            assert_eq!(w, input);
        }
    }

    fn pseudo_random(n: usize, alphabet: u32) -> Vec<u8> {
        let mut x = 0x1234_5678u32;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % alphabet) as u8
            })
            .collect()
    }

    #[test]
    fn table_resets_large_inputs() {
        for input in [pseudo_random(100_000, 256), pseudo_random(200_000, 4), vec![7u8; 300_000]] {
            let mut c = Vec::new();
            compress(&input, &mut c);
            let mut d = Vec::new();
            decompress(&c, &mut d, input.len()).unwrap();
            assert!(d == input);
            // independent decoder
            let w = weezl::decode::Decoder::new(weezl::BitOrder::Lsb, 8).decode(&c).unwrap();
            assert!(w == input);
            // and we decode an independent encoder's output
            let e = weezl::encode::Encoder::new(weezl::BitOrder::Lsb, 8).encode(&input).unwrap();
            let mut d2 = Vec::new();
            decompress(&e, &mut d2, input.len()).unwrap();
            assert!(d2 == input);
        }
    }

    #[test]
    fn bomb_is_bounded() {
        let mut c = Vec::new();
        compress(&vec![0u8; 4_000_000], &mut c);
        assert!(c.len() < 20_000);
        let mut d = Vec::new();
        assert_eq!(decompress(&c, &mut d, 100_000), Err(DecodeError::OutputTooLarge));
        assert!(d.len() <= 100_000 && d.capacity() <= 100_000);
        let mut d = Vec::new();
        assert_eq!(decompress(&c[..c.len() / 2], &mut d, 10_000_000), Err(DecodeError::Truncated));
        assert_eq!(decompress(&[0xff, 0xff], &mut d, 10), Err(DecodeError::InvalidLzw));
    }

    proptest! {
        #[test]
        fn round_trip(input in proptest::collection::vec(any::<u8>(), 0..3000), small in proptest::collection::vec(0u8..3, 0..6000)) {
            for data in [&input, &small] {
                let mut c = Vec::new();
                compress(data, &mut c);
                let mut d = Vec::new();
                decompress(&c, &mut d, data.len()).unwrap();
                prop_assert_eq!(&d, data);
                if !data.is_empty() {
                    let mut d = Vec::new();
                    prop_assert_eq!(decompress(&c, &mut d, data.len() - 1), Err(DecodeError::OutputTooLarge));
                }
            }
        }

        #[test]
        fn arbitrary_input_never_panics(b in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut d = Vec::new();
            let _ = decompress(&b, &mut d, 1 << 16);
            prop_assert!(d.len() <= 1 << 16);
            let _ = decompress_message(&b, &mut d, 1 << 16);
        }
    }
}
