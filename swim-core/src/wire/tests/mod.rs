//! Tests of the wire layer that span its files, and the readers of the vectors in
//! `testdata/wire/` (captured from Go memberlist and Serf) that every wire module's
//! tests use.

use alloc::string::String;
use alloc::vec::Vec;

mod message;

/// Reads a file under `testdata/wire/` (vectors captured from Go memberlist / Serf).
pub(crate) fn read_shared(rel: &str) -> String {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("SWIM_WIRE_DIR") {
        dirs.push(std::path::PathBuf::from(d));
    }
    dirs.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/wire"));
    for d in &dirs {
        if let Ok(s) = std::fs::read_to_string(d.join(rel)) {
            return s;
        }
    }
    panic!("wire vector {rel} not found in {dirs:?} (set SWIM_WIRE_DIR)");
}

/// Reads `wire/vectors/<name>`.
pub(crate) fn read_vector(name: &str) -> String {
    read_shared(&alloc::format!("vectors/{name}"))
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}
