//! Strict bencode: anything `decode` accepts is canonical, so it re-encodes to the exact
//! input; `decode_prefix`, `value_len` and `RawDict::parse` agree with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_bt::{RawDict, decode, decode_prefix, encode_bytes, value_len};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = decode(data) {
        assert_eq!(v.encode(), data, "decode accepted a non-canonical encoding");
    }
    if let Ok((v, used)) = decode_prefix(data) {
        assert_eq!(v.encode(), &data[..used]);
        assert_eq!(value_len(data), Ok(used));
    }
    if let Ok(dict) = RawDict::parse(data) {
        assert_eq!(dict.as_bytes(), data);
        let mut rebuilt = vec![b'd'];
        for e in dict.entries() {
            assert_eq!(dict.get(e.key), Some(e));
            assert_eq!(&data[..e.key_offset], dict.prefix_before(e.key).unwrap());
            let value = e.decode().expect("RawDict entry value must decode");
            assert_eq!(value.encode(), e.value);
            encode_bytes(e.key, &mut rebuilt);
            rebuilt.extend_from_slice(e.value);
        }
        rebuilt.push(b'e');
        assert_eq!(rebuilt, data);
        assert_eq!(decode(data).map(|v| v.encode()), Ok(data.to_vec()));
    }
});
