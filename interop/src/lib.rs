//! Interoperability tests of swim against real HashiCorp memberlist nodes (a
//! small Go peer in `interop/go-peer`, built at test time against Debian's
//! memberlist source) and real `serf agent`s, and a benchmark comparing swim
//! with Go memberlist (`benches/compare.rs`, Go side in `interop/go-bench`).
//!
//! The tests live in `tests/` and run only with the `interop` feature:
//!
//! ```sh
//! scripts/install-interop-peers.sh          # Go, serf, memberlist's source (as root)
//! cargo test -p swim-interop --features interop
//! cargo bench -p swim-interop --features interop --bench compare -- --smoke
//! ```
//!
//! Without the feature this crate is empty. With it, it holds what the tests
//! and the benchmark share: building a Go program against memberlist's source.

#[cfg(feature = "interop")]
mod go;

#[cfg(feature = "interop")]
pub use go::{build_go_program, interop_dir, require_tool};
