//! LZW: decompression is bounded, and compress -> decompress is the identity.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = swim_core::wire::lzw::decompress(data, &mut out, 1 << 16);
    assert!(out.len() <= 1 << 16);
    let mut z = Vec::new();
    swim_core::wire::lzw::compress(data, &mut z);
    let mut back = Vec::new();
    swim_core::wire::lzw::decompress(&z, &mut back, data.len()).unwrap();
    assert_eq!(back, data);
});
