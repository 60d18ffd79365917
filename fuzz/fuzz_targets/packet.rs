//! Every UDP decoder: label, decryption (with and without a keyring), CRC,
//! compression, compound messages and each message type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use swim_core::wire::packet::{open_packet, Layers};
use swim_core::wire::Message;
use swim_core::Keyring;

fn walk(msg: &[u8], depth: u8) {
    match Message::decode(msg) {
        Ok(Message::Compound(c)) if depth < 4 => c.parts().for_each(|p| walk(p, depth + 1)),
        Ok(Message::Compress(c)) if depth < 4 => {
            let mut out = Vec::new();
            if swim_core::wire::lzw::decode_compress(&c, &mut out, 65_536).is_ok() {
                assert!(out.len() <= 65_536);
                walk(&out, depth + 1);
            }
        }
        Ok(m) => {
            // Whatever decodes re-encodes without panicking.
            let mut buf = vec![0u8; m.encoded_len()];
            let _ = m.encode(&mut buf);
        }
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::new(&[7u8; 32]).unwrap();
    for (label, keyring) in [(&b""[..], None), (&b""[..], Some(&keyring)), (&b"lbl"[..], Some(&keyring))] {
        let mut buf = data.to_vec();
        let layers = Layers { label, keyring, verify_incoming: keyring.is_some() };
        if let Ok((plain, _)) = open_packet(&mut buf, &layers) {
            walk(plain, 0);
        }
    }
});
