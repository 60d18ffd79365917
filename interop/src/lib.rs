//! Interoperability tests of swim against real HashiCorp memberlist nodes (a
//! small Go peer in `interop/go-peer`, built at test time against Debian's
//! memberlist source) and real `serf agent`s.
//!
//! The tests live in `tests/` and run only with the `interop` feature:
//!
//! ```sh
//! scripts/install-interop-peers.sh          # Go, serf, memberlist's source (as root)
//! cargo test -p swim-interop --features interop
//! ```
//!
//! Without the feature this crate is empty.
