//! memberlist's compound message (type 7): several messages in one datagram,
//! `[7][n u8][n × u16 BE lengths][parts…]`, as `net.go` (`makeCompoundMessage`,
//! `decodeCompoundMessage`) builds and splits it. A byte layout, not a msgpack map,
//! so it is written by hand.

use crate::wire::msg_type;
use crate::wire::msgpack::{DecodeError, EncodeError, Writer};

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
