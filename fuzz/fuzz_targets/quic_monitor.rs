//! QUIC `BTRequestStream` frames, monitor notifications and monitor subscriptions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_wire::quic::QuicMessage;
use session_wire::storage::{MonitorNotification, MonitorSubscription};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((msg, used))) = QuicMessage::decode_stream(data) {
        assert_eq!(msg.encode(), &data[..used]);
        assert_eq!(QuicMessage::decode(&data[..used]).unwrap(), msg);
    }
    if let Ok(n) = MonitorNotification::parse(data) {
        assert_eq!(MonitorNotification::parse(&n.encode()).unwrap(), n);
    }
    if let Ok(subs) = MonitorSubscription::parse_request(data) {
        for sub in subs.into_iter().flatten() {
            assert_eq!(MonitorSubscription::parse(&sub.encode()).unwrap(), sub);
            let _ = sub.signed_message();
        }
    }
});
