//! TCP stream decoders: framing (label, encryption, compression, push-pull,
//! user, ping), opening, and the push-pull and user-message readers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use swim_core::wire::packet::{open_stream, stream_frame, strip_stream_label, FrameStatus};
use swim_core::wire::{PushPullReader, UserStreamReader};
use swim_core::Keyring;

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::new(&[7u8; 16]).unwrap();
    let start = match strip_stream_label(data, b"") {
        Ok(Some(n)) => n,
        _ => 0,
    };
    let Ok(FrameStatus::Complete(len)) = stream_frame(&data[start..], 1 << 20) else { return };
    for keyring in [None, Some(&keyring)] {
        let mut frame = data[start..start + len].to_vec();
        let mut scratch = Vec::new();
        let Ok(msg) = open_stream(&mut frame, b"", keyring, keyring.is_some(), &mut scratch) else { continue };
        if let Ok(mut r) = PushPullReader::new(msg) {
            while let Ok(Some(_)) = r.next_node() {}
            let _ = r.user_state();
        }
        if let Ok(mut r) = UserStreamReader::new(msg) {
            let _ = r.body();
        }
    }
});
