//! v4 onion request and response bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_wire::onion::{
    MAX_ONION_SIZE, encode_v4_request, encode_v4_response, parse_v4_request, parse_v4_response,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_v4_request(data) {
        let bytes = encode_v4_request(&req.info, req.body.as_deref());
        if bytes.len() <= MAX_ONION_SIZE {
            assert_eq!(parse_v4_request(&bytes).unwrap(), req);
        }
    }
    if let Ok(resp) = parse_v4_response(data) {
        let bytes = encode_v4_response(&resp.info, resp.body.as_deref());
        if bytes.len() <= MAX_ONION_SIZE {
            assert_eq!(parse_v4_response(&bytes).unwrap(), resp);
        }
    }
});
