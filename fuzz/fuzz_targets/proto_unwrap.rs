//! Protobuf layers of a swarm payload: lenient unwrapping never panics, and whatever it
//! accepts survives re-wrapping unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_wire::message::{
    decode_content, decode_envelope, encode_content, encode_envelope, unwrap_1o1, wrap_websocket,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(un) = unwrap_1o1(data) {
        let again = unwrap_1o1(&wrap_websocket(&encode_envelope(&un.envelope)))
            .expect("a re-wrapped envelope must unwrap");
        assert_eq!(again.envelope, un.envelope);
    }
    if let Ok(env) = decode_envelope(data) {
        assert_eq!(decode_envelope(&encode_envelope(&env)).unwrap(), env);
    }
    if let Ok(content) = decode_content(data) {
        assert_eq!(decode_content(&encode_content(&content)).unwrap(), content);
    }
});
