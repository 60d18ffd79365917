//! What the wire modules' tests share: readers of the vectors in `testdata/wire/`
//! (captured from Go memberlist and Serf, see its README) with helpers to open
//! them, and the tests of the message codec (`message.rs`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::wire::crypto::Keyring;
use crate::wire::{lzw, msg_type, Message};

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

/// Bytes of a hex string.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

/// The label the labelled vectors were captured with.
pub(crate) const LABEL: &[u8] = b"ocaml-vectors";

/// The key the encrypted vectors were captured with.
pub(crate) fn key() -> Keyring {
    Keyring::new(&(0u8..32).collect::<Vec<_>>()).unwrap()
}

/// The `plaintext_hex` values of one vector in index.json, in order (c2s before s2c).
pub(crate) fn plaintexts(name: &str) -> Vec<Vec<u8>> {
    let idx = read_vector("index.json");
    let pat = alloc::format!("\"name\": \"{name}\",");
    let start = idx.find(&pat).unwrap();
    let rest = &idx[start + pat.len()..];
    let sect = &rest[..rest.find("\"name\": \"").unwrap_or(rest.len())];
    json_strings(sect, "plaintext_hex").into_iter().map(|s| hex(&s)).collect()
}

/// Every string value of `key` in `text` (index.json, decoded.json), in order.
pub(crate) fn json_strings(text: &str, key: &str) -> Vec<String> {
    let pat = alloc::format!("\"{key}\": \"");
    let mut v = Vec::new();
    let mut t = text;
    while let Some(i) = t.find(&pat) {
        t = &t[i + pat.len()..];
        let e = t.find('"').unwrap();
        v.push(String::from(&t[..e]));
        t = &t[e..];
    }
    v
}

/// Decompresses if `[9]`, else returns the bytes.
pub(crate) fn inflate(p: &[u8]) -> Vec<u8> {
    if p[0] == msg_type::COMPRESS {
        let mut o = Vec::new();
        lzw::decompress_message(p, &mut o, 1 << 20).unwrap();
        o
    } else {
        p.to_vec()
    }
}

/// The messages in a plaintext: the parts of a compound, or the one message.
pub(crate) fn messages(plain: &[u8]) -> Vec<Message<'_>> {
    match Message::decode(plain).unwrap() {
        Message::Compound(c) => {
            assert_eq!(c.truncated(), 0);
            c.parts().map(|p| Message::decode(p).unwrap()).collect()
        }
        m => vec![m],
    }
}

/// The label and keyring a vector was captured with, from its name.
pub(crate) fn layers_for(name: &str) -> (Vec<u8>, Option<Keyring>) {
    let enc = name.contains("encrypted");
    let label = if name.contains("label") { LABEL.to_vec() } else { Vec::new() };
    (label, enc.then(key))
}
