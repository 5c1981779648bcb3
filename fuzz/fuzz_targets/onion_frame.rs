//! Onion layer frames, control JSON, storage-node responses and the relay dict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_wire::onion::{
    EntryMetadata, MAX_ONION_SIZE, RelayRequest, decode_response_text, encode_frame,
    encode_frame_raw, encode_snode_response, parse_frame, parse_snode_response,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = parse_frame(data) {
        assert_eq!(
            encode_frame_raw(frame.payload, frame.control_json).unwrap(),
            data
        );
        if let Ok(control) = frame.classify() {
            if let Ok(bytes) = encode_frame(frame.payload, &control.to_json()) {
                let back = parse_frame(&bytes).expect("re-encoded frame must parse");
                assert_eq!(
                    back.classify().expect("re-encoded control must classify"),
                    control
                );
            }
        }
        let _ = frame.control_as::<EntryMetadata>();
    }
    let _ = decode_response_text(data);
    if let Ok(r) = parse_snode_response(data) {
        let bytes = encode_snode_response(r.status, &r.body);
        if bytes.len() <= MAX_ONION_SIZE {
            let back = parse_snode_response(&bytes).unwrap();
            assert_eq!((back.status, back.body), (r.status, r.body));
        }
    }
    if let Ok(r) = RelayRequest::parse(data) {
        assert_eq!(RelayRequest::parse(&r.encode()).unwrap(), r);
    }
});
