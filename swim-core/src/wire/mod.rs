//! The wire layer: memberlist's protocol (version 5) and Serf's layer on it,
//! as bytes. Nothing here knows about membership; the protocol layer
//! ([`crate::protocol`]) decides what to send and this layer encodes it.
//!
//! Not public API: hidden from the docs and outside semver, public only so
//! that the simulator, the fuzz targets and the interop tests can reach it.
//!
//! - [`msgpack`] — the MessagePack subset go-msgpack writes;
//! - the messages (re-exported here: [`Message`], [`Ping`], [`Alive`], ...),
//!   following memberlist's `net.go`: each struct and its msgpack codec declared
//!   once (`message.rs`, with the `wire_message!` macro of `codec.rs`), the
//!   compound message (`compound.rs`), and the push/pull and user streams
//!   (`push_pull.rs`);
//! - [`packet`] — the datagram pipeline (label, encryption, CRC) and, re-exported
//!   from `stream.rs`, TCP stream framing, opening and sealing; memberlist's
//!   `net.go` and `transport.go`;
//! - [`crypto`] — AES-GCM and the keyring (`security.go`, `keyring.go`);
//! - [`lzw`] — Go's `compress/lzw`, as memberlist compresses;
//! - [`serf`] — Serf's messages inside memberlist user messages, tags, clocks;
//! - [`query`] — Serf's queries, their responses, filters and relays.

mod codec;
mod compound;
pub mod crypto;
pub mod lzw;
mod message;
pub mod msgpack;
pub mod packet;
mod push_pull;
pub mod query;
pub mod serf;
mod stream;

pub use compound::*;
pub use message::*;
pub use push_pull::*;

#[cfg(test)]
pub(crate) mod tests;
