//! Serf's layer and our direct-message framing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use swim_core::wire::serf::{decode_tags, is_serf_message, Join, Leave, PushPullClocks, UserEvent};

fuzz_target!(|data: &[u8]| {
    let _ = is_serf_message(data);
    let _ = UserEvent::decode(data);
    let _ = Join::decode(data);
    let _ = Leave::decode(data);
    let _ = decode_tags(data);
    // A push/pull user state: the clocks, and the event buffer replayed.
    let mut seen = 0usize;
    let r = PushPullClocks::decode_state(data, |_, name, payload| {
        assert!(name.len() + payload.len() <= data.len());
        seen += 1;
    });
    assert!(seen <= data.len());
    if let Ok((_, intents)) = r {
        assert!(intents.status.len() + intents.left.len() <= data.len());
    }
    // The application state riding in it.
    if let Ok(Some(app)) = PushPullClocks::app_state(data) {
        assert!(app.len() <= data.len());
    }
    // Queries, their responses, filters, relays and key messages.
    use swim_core::wire::query::{Filter, KeyRequest, NodeKeyResponse, Query, QueryResponse, Relay};
    if let Ok(q) = Query::decode(data) {
        assert!(q.filters.len() <= data.len());
        for f in q.filters.iter() {
            let _ = Filter::decode(f);
        }
        let _ = q.reply_addr();
    }
    let _ = QueryResponse::decode(data);
    if let Ok(r) = Relay::decode(data) {
        assert!(r.inner.len() <= data.len());
    }
    let _ = Filter::decode(data);
    let _ = KeyRequest::decode(data);
    if let Ok(k) = NodeKeyResponse::decode(data) {
        assert!(k.keys.len() <= data.len());
    }
    // A network coordinate in an ack payload (Serf's format).
    if let Ok(c) = swim_core::Coordinate::decode_payload(data) {
        assert!(c.is_valid());
        let _ = c.distance_to(&c);
    }
    let d = swim_core::protocol::user::decode_direct(data);
    assert!(d.payload.len() <= data.len());
});
