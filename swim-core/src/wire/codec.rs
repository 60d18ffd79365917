//! The msgpack codec of memberlist's and Serf's message structs, declared once per
//! struct.
//!
//! memberlist (`net.go`) and Serf (`messages.go`) declare their messages as Go
//! structs (`ping`, `alive`, `pushNodeState`, `messageJoin`, ...) and hand them to
//! hashicorp/go-msgpack 0.5.5, which writes each as a map of its field names sorted
//! alphabetically, leaves out the `omitempty` fields that hold their zero value, and
//! writes a nil `[]byte` as nil.
//! [`wire_message!`] plays both parts: from one declaration it makes the Rust
//! struct (fields in Go's order) and its codec: the encoder (keys sorted at compile
//! time, as go-msgpack sorts them), the exact and the upper-bound encoded length,
//! and a decoder that borrows from its input, takes the fields in any order, skips
//! unknown ones and requires the essential ones. The helpers below are what its
//! expansions call.

use crate::wire::msgpack::{DecodeError, EncodeError, Reader, Writer};

/// How a field is written and read, by its Rust type, as go-msgpack treats the Go
/// type it stands for. Nil reads as the zero value.
pub(crate) trait FieldValue<'a>: Sized {
    /// Writes the value.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
    /// Reads a value.
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError>;
    /// Whether an `omitempty` field is left out.
    fn is_zero(&self) -> bool;
    /// The longest [`write`](Self::write) can be.
    fn max_len(&self) -> usize;
}

/// Go `string`: a raw string (fixstr, str16, str32).
impl<'a> FieldValue<'a> for &'a str {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self)
    }
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(r.read_nil_or(|r| r.read_str())?.unwrap_or(""))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn max_len(&self) -> usize {
        5 + self.len()
    }
}

/// Go `[]byte`: raw bytes, nil when empty (Go's nil slice).
impl<'a> FieldValue<'a> for &'a [u8] {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes_or_nil(self)
    }
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.read_bytes()
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn max_len(&self) -> usize {
        5 + self.len()
    }
}

/// Go `bool`.
impl FieldValue<'_> for bool {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bool(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.read_nil_or(|r| r.read_bool())?.unwrap_or(false))
    }
    fn is_zero(&self) -> bool {
        !*self
    }
    fn max_len(&self) -> usize {
        1
    }
}

/// Go `uintN`, and `int` (go-msgpack writes a non-negative `int` as a `uint`): the
/// smallest form; on reading, a value that does not fit is
/// [`DecodeError::IntOutOfRange`].
macro_rules! uint_field {
    ($($t:ty),+) => {$(
        impl FieldValue<'_> for $t {
            fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.uint(u64::from(*self))
            }
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let v = r.read_nil_or(|r| r.read_uint())?.unwrap_or(0);
                Self::try_from(v).map_err(|_| DecodeError::IntOutOfRange)
            }
            fn is_zero(&self) -> bool {
                *self == 0
            }
            fn max_len(&self) -> usize {
                1 + core::mem::size_of::<Self>()
            }
        }
    )+};
}
uint_field!(u8, u16, u32, u64);

/// Whether `a` sorts before `b` (bytewise, as Go compares strings).
const fn key_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Where `key` stands in `keys` as declared (a key declared twice does not compile).
pub(crate) const fn position(keys: &[&str], key: &str) -> usize {
    let (mut i, mut found) = (0, None);
    while i < keys.len() {
        if !key_less(keys[i], key) && !key_less(key, keys[i]) {
            assert!(found.is_none(), "key declared twice");
            found = Some(i);
        }
        i += 1;
    }
    match found {
        Some(i) => i,
        None => panic!("key not declared"),
    }
}

/// Where `key` stands in `keys` sorted: the place go-msgpack writes it.
pub(crate) const fn rank(keys: &[&str], key: &str) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < keys.len() {
        if key_less(keys[i], key) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Length of a raw string or byte slice of `n` bytes as [`Writer`] writes it
/// (header and bytes).
///
/// [`Writer`]: crate::wire::msgpack::Writer
pub(crate) const fn raw_len(n: usize) -> usize {
    n + if n <= 31 {
        1
    } else if n <= u16::MAX as usize {
        3
    } else {
        5
    }
}

/// Length of a map header for `n` pairs.
pub(crate) const fn map_header_len(n: usize) -> usize {
    if n <= 15 {
        1
    } else if n <= u16::MAX as usize {
        3
    } else {
        5
    }
}

/// A reader of `msg` after its type byte, which must be `ty`: an empty `msg` is
/// [`DecodeError::Truncated`], another type byte [`DecodeError::UnknownMessageType`].
pub(crate) fn body_after(msg: &[u8], ty: u8) -> Result<Reader<'_>, DecodeError> {
    match msg.split_first() {
        None => Err(DecodeError::Truncated),
        Some((&t, body)) if t == ty => Ok(Reader::new(body)),
        Some((&t, _)) => Err(DecodeError::UnknownMessageType(t)),
    }
}

/// Declares a memberlist or Serf message struct and generates its msgpack codec.
///
/// ```text
/// wire_message! {
///     /// `indirectPingReq` (type 1).
///     #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
///     pub struct IndirectPing<'a> = msg_type::INDIRECT_PING {  // type byte, if any
///         /// Sequence number to answer with.
///         seq_no: u32 = "SeqNo" required,                     // field: type = key flag
///         /// Requester address (omitted when empty).
///         source_addr: &'a [u8] = "SourceAddr" omitempty,
///         ...
///     }
/// }
/// ```
///
/// Fields are declared in Go's order, which is the struct's order; the encoder
/// writes them sorted by key, as go-msgpack does. The field's type says how its
/// value is written and read ([`FieldValue`]). Flags: `omitempty` leaves the field
/// out when zero or empty; `required` makes decoding fail with
/// [`DecodeError::MissingField`] when the key is absent (checked in declaration
/// order). Decoding reads a repeated key's last value and gives an absent field its
/// `Default`.
///
/// A Serf message rides inside a memberlist user message: `= msg_type::USER =>
/// serf::JOIN` gives it both type bytes, the outer and the inner one, and a `decode`
/// of the message from its inner type byte on, as memberlist hands a user message's
/// body on (an empty message is [`DecodeError::Truncated`], another inner type
/// [`DecodeError::UnknownMessageType`]).
///
/// After the type bytes, `, check PATH` names a function run on every decoded value
/// (limits). Several `pub struct ...;` headers before one `{ fields }` declare
/// structs with the same fields; a field list ending in `..group` gets the fields
/// that the macro `group!` (taking `[header] { fields }`) appends.
///
/// Generated: `write_body` (the map alone), `encode` and `encoded_len` (type bytes
/// and map), `max_encoded_len` (a bound on `encoded_len` computed without
/// encoding), `decode_body` (after the type bytes) and, with an inner type byte,
/// `decode`.
macro_rules! wire_message {
    // Several structs with the same fields (memberlist's `suspect` and `dead`).
    (
        $(#[$attr:meta])* pub struct $name:ident $(<$lt:lifetime>)? $(= $ty:path $(=> $sub:path)?)?;
        $(
            $(#[$mattr:meta])* pub struct $more:ident $(<$mlt:lifetime>)?
            $(= $mty:path $(=> $msub:path)?)?;
        )+
        $fields:tt
    ) => {
        $crate::wire::codec::wire_message! {
            $(#[$attr])* pub struct $name $(<$lt>)? $(= $ty $(=> $sub)?)? $fields
        }
        $crate::wire::codec::wire_message! {
            $($(#[$mattr])* pub struct $more $(<$mlt>)? $(= $mty $(=> $msub)?)?;)+ $fields
        }
    };
    (
        $(#[$attr:meta])* pub struct $name:ident $(<$lt:lifetime>)? $(= $ty:path $(=> $sub:path)?)?;
        $fields:tt
    ) => {
        $crate::wire::codec::wire_message! {
            $(#[$attr])* pub struct $name $(<$lt>)? $(= $ty $(=> $sub)?)? $fields
        }
    };
    // Fields ending with `..group`: the macro `group!` appends its fields.
    (
        $(#[$attr:meta])* pub struct $name:ident $(<$lt:lifetime>)?
        $(= $ty:path $(=> $sub:path)?)? $(, check $check:path)? {
            $($(#[$fattr:meta])* $field:ident: $ft:ty = $key:literal $($flag:ident)?,)+
            ..$group:ident
        }
    ) => {
        $group! {
            [$(#[$attr])* pub struct $name $(<$lt>)? $(= $ty $(=> $sub)?)? $(, check $check)?]
            { $($(#[$fattr])* $field: $ft = $key $($flag)?,)+ }
        }
    };
    (
        $(#[$attr:meta])* pub struct $name:ident $(<$lt:lifetime>)?
        $(= $ty:path $(=> $sub:path)?)? $(, check $check:path)? {
            $($(#[$fattr:meta])* $field:ident: $ft:ty = $key:literal $($flag:ident)?),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $name $(<$lt>)? {
            $($(#[$fattr])* pub $field: $ft,)+
        }

        $crate::wire::codec::wire_message!(@impl $name $(<$lt>)? [$($ty $(=> $sub)?)?] [$($check)?] {
            $($field: $ft = $key $($flag)?,)+
        });
    };

    (@impl $name:ident <$lt:lifetime> $prefix:tt $check:tt $fields:tt) => {
        $crate::wire::codec::wire_message!(@codec $name [$lt] $lt $prefix $check $fields $fields);
    };
    (@impl $name:ident $prefix:tt $check:tt $fields:tt) => {
        $crate::wire::codec::wire_message!(@codec $name [] '_ $prefix $check $fields $fields);
    };
    (
        @codec $name:ident [$($lt:lifetime)?] $rl:lifetime $prefix:tt [$($check:path)?]
        { $($field:ident: $ft:ty = $key:literal $($flag:ident)?,)+ } $all:tt
    ) => {
        impl $(<$lt>)? $name $(<$lt>)? {
            /// Writes the msgpack body (no type byte).
            pub fn write_body(
                &self,
                w: &mut $crate::wire::msgpack::Writer<'_>,
            ) -> Result<(), $crate::wire::msgpack::EncodeError> {
                use $crate::wire::codec::FieldValue;
                const KEYS: &[&str] = &[$($key),+];
                w.map_header(0 $(+ $crate::wire::codec::wire_message!(@count $($flag)?, self.$field))+)?;
                // The field declared in n-th place writes the key that sorts n-th.
                $($crate::wire::codec::wire_message!(
                    @nth self, w, KEYS, $crate::wire::codec::position(KEYS, $key), $all
                );)+
                Ok(())
            }

            /// Writes the message (its type bytes, if any, then the msgpack map) into
            /// `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, $crate::wire::msgpack::EncodeError> {
                let mut w = $crate::wire::msgpack::Writer::new(out);
                w.raw($crate::wire::codec::wire_message!(@type_bytes $prefix))?;
                self.write_body(&mut w)?;
                Ok(w.position())
            }

            /// Length of [`Self::encode`]'s output.
            pub fn encoded_len(&self) -> usize {
                $crate::wire::codec::wire_message!(@type_bytes $prefix).len()
                    + $crate::wire::msgpack::measure(|w| self.write_body(w))
            }

            /// At least [`encoded_len`](Self::encoded_len), computed without encoding.
            pub fn max_encoded_len(&self) -> usize {
                use $crate::wire::codec::FieldValue;
                $crate::wire::codec::wire_message!(@type_bytes $prefix).len()
                    + $crate::wire::codec::map_header_len(0 $(+ { let _ = $key; 1 })+)
                    $(+ $crate::wire::codec::raw_len($key.len()) + self.$field.max_len())+
            }

            /// Decodes the msgpack body (after the type byte).
            pub fn decode_body(
                r: &mut $crate::wire::msgpack::Reader<$rl>,
            ) -> Result<Self, $crate::wire::msgpack::DecodeError> {
                use $crate::wire::codec::FieldValue;
                $(let mut $field = None;)+
                for _ in 0..r.read_map_len()? {
                    let k = r.read_bytes()?;
                    $(if k == $key.as_bytes() {
                        $field = Some(<$ft>::read(r)?);
                        continue;
                    })+
                    r.skip_value()?;
                }
                $($crate::wire::codec::wire_message!(@require $field, $key $($flag)?);)+
                let m = $name { $($field: $field.unwrap_or_default()),+ };
                $(let m = $check(m)?;)?
                Ok(m)
            }

            $crate::wire::codec::wire_message!(@decode $rl $prefix);
        }
    };

    (@nth $s:ident, $w:ident, $keys:ident, $n:expr, { $($field:ident: $ft:ty = $key:literal $($flag:ident)?,)+ }) => {
        $(if const { $crate::wire::codec::rank($keys, $key) == $n } {
            $crate::wire::codec::wire_message!(@write $w, $key $($flag)?, $s.$field);
        })+
    };

    // The type bytes a message starts with: none, one, or an outer and an inner one.
    (@type_bytes [$($ty:path $(=> $sub:path)?)?]) => {{
        let bytes: &[u8] = &[$($ty $(, $sub)?)?];
        bytes
    }};

    // A message with an inner type byte is handed on without its outer one (Serf's,
    // as memberlist hands on a user message's body): `decode` takes it from there.
    (@decode $rl:lifetime [$ty:path => $sub:path]) => {
        /// Decodes the message from its inner type byte on (after the outer one).
        pub fn decode(msg: &$rl [u8]) -> Result<Self, $crate::wire::msgpack::DecodeError> {
            Self::decode_body(&mut $crate::wire::codec::body_after(msg, $sub)?)
        }
    };
    (@decode $rl:lifetime $prefix:tt) => {};

    (@require $field:ident, $key:literal required) => {
        if $field.is_none() {
            return Err($crate::wire::msgpack::DecodeError::MissingField($key));
        }
    };
    (@require $field:ident, $key:literal $($flag:ident)?) => {};

    // How many map entries a field adds.
    (@count omitempty, $v:expr) => { usize::from(!$v.is_zero()) };
    (@count $($flag:ident)?, $v:expr) => { 1 };

    (@write $w:ident, $key:literal omitempty, $v:expr) => {
        if !$v.is_zero() {
            $w.str($key)?;
            $v.write($w)?;
        }
    };
    (@write $w:ident, $key:literal $($flag:ident)?, $v:expr) => {{
        $w.str($key)?;
        $v.write($w)?;
    }};
}
pub(crate) use wire_message;
