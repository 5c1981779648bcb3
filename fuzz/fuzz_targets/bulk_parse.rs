//! The `sn.data` bulk format: accepted payloads re-serialize to the exact input, and
//! splitting into small batches loses nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_wire::storage::{parse_bulk, serialize_bulk_with_limit};

fuzz_target!(|data: &[u8]| {
    if let Ok(msgs) = parse_bulk(data) {
        let whole = serialize_bulk_with_limit(&msgs, usize::MAX);
        assert_eq!(whole, vec![data.to_vec()]);
        let small = serialize_bulk_with_limit(&msgs, 64);
        let back: Vec<_> = small
            .iter()
            .flat_map(|b| parse_bulk(b).expect("a serialized batch must parse"))
            .collect();
        assert_eq!(back, msgs);
    }
});
