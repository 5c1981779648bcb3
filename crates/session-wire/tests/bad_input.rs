//! Malformed input: every parser must return the specific `WireError` variant, never panic.

// Helpers outside `#[test]` functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use session_wire::WireError;
use session_wire::message::{decode_envelope, unwrap_1o1, unwrap_websocket};
use session_wire::onion::{
    Control, MAX_ONION_SIZE, RelayRequest, decode_response_text, encode_frame_raw, parse_frame,
    parse_snode_response, parse_v4_request, parse_v4_response,
};
use session_wire::proto::session::Envelope;
use session_wire::proto::websocket::{WebSocketMessage, WebSocketRequestMessage};
use session_wire::quic::QuicMessage;
use session_wire::storage::{
    MonitorAccount, MonitorNotification, MonitorSubscription, StoragePubkey, parse_bulk,
};

fn frame(len: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(rest);
    v
}

// --- onion frame -------------------------------------------------------------------------

#[test]
fn frame_truncated_prefix() {
    for n in 0..4 {
        let input = vec![0u8; n];
        assert!(
            matches!(
                parse_frame(&input),
                Err(WireError::Truncated { needed: 4, available, .. }) if available == n
            ),
            "{n}"
        );
    }
}

#[test]
fn frame_length_past_end() {
    let input = frame(13, b"0123456789{}");
    assert!(matches!(
        parse_frame(&input),
        Err(WireError::LengthOutOfBounds {
            declared: 13,
            available: 12,
            ..
        })
    ));
    let input = frame(u32::MAX, b"{}");
    assert!(matches!(
        parse_frame(&input),
        Err(WireError::LengthOutOfBounds { declared, .. }) if declared == u64::from(u32::MAX)
    ));
}

#[test]
fn frame_trailer_not_json() {
    for trailer in [
        &b""[..],
        b"not json",
        b"{\"a\":",
        b"{} x",
        b"{\"a\":1}}",
        b"\xff\xfe",
    ] {
        let input = frame(3, &[b"abc", trailer].concat());
        assert!(
            matches!(parse_frame(&input), Err(WireError::InvalidJson { .. })),
            "{trailer:?}"
        );
    }
}

#[test]
fn frame_trailer_not_object() {
    for trailer in [&b"[1,2]"[..], b"\"headers\"", b"42", b"null", b"true"] {
        let input = frame(3, &[b"abc", trailer].concat());
        assert!(
            matches!(parse_frame(&input), Err(WireError::NotJsonObject { .. })),
            "{trailer:?}"
        );
    }
}

#[test]
fn frame_deeply_nested_json_is_an_error_not_a_crash() {
    let mut trailer = b"{\"a\":".to_vec();
    trailer.extend(std::iter::repeat_n(b'[', 100_000));
    let input = frame(0, &trailer);
    assert!(matches!(
        parse_frame(&input),
        Err(WireError::InvalidJson { .. })
    ));
}

#[test]
fn frame_oversize() {
    let big = vec![0u8; MAX_ONION_SIZE + 1];
    assert!(matches!(
        parse_frame(&big),
        Err(WireError::TooLarge { size, max: MAX_ONION_SIZE, .. }) if size == MAX_ONION_SIZE + 1
    ));
    let payload = vec![0u8; MAX_ONION_SIZE];
    assert!(matches!(
        encode_frame_raw(&payload, b"{}"),
        Err(WireError::TooLarge { .. })
    ));
}

// --- control JSON ------------------------------------------------------------------------

fn control(json: &str) -> Result<Control, WireError> {
    let serde_json::Value::Object(map) = serde_json::from_str(json).unwrap() else {
        panic!("not an object")
    };
    Control::from_object(&map)
}

#[test]
fn control_missing_fields() {
    let key = "00".repeat(32);
    assert!(matches!(
        control(&format!(r#"{{"ephemeral_key":"{key}"}}"#)),
        Err(WireError::MissingField {
            field: "destination",
            ..
        })
    ));
    assert!(matches!(
        control(&format!(r#"{{"destination":"{key}"}}"#)),
        Err(WireError::MissingField {
            field: "ephemeral_key",
            ..
        })
    ));
    assert!(matches!(
        control(r#"{"host":"example.org"}"#),
        Err(WireError::MissingField {
            field: "target",
            ..
        })
    ));
}

#[test]
fn control_bad_values() {
    let key = "00".repeat(32);
    for json in [
        format!(r#"{{"destination":"zz","ephemeral_key":"{key}"}}"#),
        format!(r#"{{"destination":"{key}00","ephemeral_key":"{key}"}}"#),
        format!(r#"{{"destination":"{key}","ephemeral_key":"{key}","enc_type":"rot13"}}"#),
        format!(r#"{{"destination":"{key}","ephemeral_key":5}}"#),
        r#"{"host":"h","target":"/oxen/v4/lsrpc","protocol":"ftp"}"#.to_owned(),
        r#"{"host":"h","target":"/oxen/v4/lsrpc","port":70000}"#.to_owned(),
        r#"{"host":"h","target":"/oxen/v4/lsrpc","port":"443"}"#.to_owned(),
        r#"{"headers":"","json":"yes"}"#.to_owned(),
    ] {
        assert!(
            matches!(control(&json), Err(WireError::InvalidJson { .. })),
            "{json}"
        );
    }
}

// --- v4 ----------------------------------------------------------------------------------

fn bt_list(items: &[&[u8]]) -> Vec<u8> {
    let mut out = b"l".to_vec();
    for i in items {
        session_bt::encode_bytes(i, &mut out);
    }
    out.push(b'e');
    out
}

const REQ_JSON: &[u8] = br#"{"method":"GET","endpoint":"/room/x","headers":{}}"#;

#[test]
fn v4_request_truncated_or_trailing() {
    let good = bt_list(&[REQ_JSON, b"body"]);
    assert!(parse_v4_request(&good).is_ok());
    for cut in 0..good.len() {
        assert!(
            matches!(
                parse_v4_request(&good[..cut]),
                Err(WireError::Bencode { .. })
            ),
            "cut {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(b'x');
    assert!(matches!(
        parse_v4_request(&trailing),
        Err(WireError::Bencode {
            source: session_bt::BtError::TrailingBytes { extra: 1 },
            ..
        })
    ));
}

#[test]
fn v4_request_wrong_shape() {
    for input in [
        bt_list(&[]),
        bt_list(&[REQ_JSON, b"a", b"b"]),
        b"d1:ai1ee".to_vec(),
        b"i5e".to_vec(),
        b"li5ee".to_vec(),
        [b"l".as_slice(), &bt_list(&[REQ_JSON]), b"e"].concat(),
    ] {
        assert!(
            matches!(parse_v4_request(&input), Err(WireError::WrongShape { .. })),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
    // A non-string body.
    let mut input = b"l".to_vec();
    session_bt::encode_bytes(REQ_JSON, &mut input);
    input.extend_from_slice(b"i1ee");
    assert!(matches!(
        parse_v4_request(&input),
        Err(WireError::WrongShape { .. })
    ));
}

#[test]
fn v4_request_wrong_json() {
    assert!(matches!(
        parse_v4_request(&bt_list(&[b"{not json"])),
        Err(WireError::InvalidJson { .. })
    ));
    assert!(matches!(
        parse_v4_request(&bt_list(&[b"[1]"])),
        Err(WireError::NotJsonObject { .. })
    ));
    assert!(matches!(
        parse_v4_request(&bt_list(&[br#"{"method":"GET"}"#])),
        Err(WireError::MissingField {
            field: "endpoint",
            ..
        })
    ));
    assert!(matches!(
        parse_v4_request(&bt_list(&[br#"{"endpoint":"/x"}"#])),
        Err(WireError::MissingField {
            field: "method",
            ..
        })
    ));
    assert!(matches!(
        parse_v4_request(&bt_list(&[br#"{"method":1,"endpoint":"/x"}"#])),
        Err(WireError::InvalidJson { .. })
    ));
    assert!(matches!(
        parse_v4_request(&bt_list(&[
            br#"{"method":"GET","endpoint":"/x","headers":{"a":1}}"#
        ])),
        Err(WireError::InvalidJson { .. })
    ));
}

#[test]
fn v4_response_wrong_json() {
    assert!(matches!(
        parse_v4_response(&bt_list(&[br#"{"headers":{}}"#, b""])),
        Err(WireError::MissingField { field: "code", .. })
    ));
    assert!(matches!(
        parse_v4_response(&bt_list(&[br#"{"code":70000}"#])),
        Err(WireError::InvalidJson { .. })
    ));
    assert!(matches!(
        parse_v4_response(&bt_list(&[br#"{"code":-1}"#])),
        Err(WireError::InvalidJson { .. })
    ));
}

#[test]
fn v4_oversize() {
    let mut big = b"l10485760:".to_vec();
    big.extend(std::iter::repeat_n(b' ', 10_485_760));
    big.push(b'e');
    assert!(matches!(
        parse_v4_request(&big),
        Err(WireError::TooLarge { .. })
    ));
    assert!(matches!(
        parse_v4_response(&big),
        Err(WireError::TooLarge { .. })
    ));
}

// --- storage-node responses --------------------------------------------------------------

#[test]
fn snode_response_errors() {
    assert!(matches!(
        parse_snode_response(b"nope"),
        Err(WireError::InvalidJson { .. })
    ));
    assert!(matches!(
        parse_snode_response(b"[200]"),
        Err(WireError::NotJsonObject { .. })
    ));
    assert!(matches!(
        parse_snode_response(br#"{"body":"x"}"#),
        Err(WireError::MissingField {
            field: "status",
            ..
        })
    ));
    assert!(matches!(
        parse_snode_response(br#"{"status":"200","body":"x"}"#),
        Err(WireError::BadField {
            field: "status",
            ..
        })
    ));
    assert!(matches!(
        parse_snode_response(br#"{"status_code":99999,"body":"x"}"#),
        Err(WireError::BadField {
            field: "status_code",
            ..
        })
    ));
    assert!(matches!(
        parse_snode_response(br#"{"status":200,"headers":[1]}"#),
        Err(WireError::BadField {
            field: "headers",
            ..
        })
    ));
}

#[test]
fn response_text_errors() {
    assert!(matches!(
        decode_response_text(b"not*base64!"),
        Err(WireError::BadBase64 { .. })
    ));
    assert!(matches!(
        decode_response_text(br#"{"result":"@@@@"}"#),
        Err(WireError::BadBase64 { .. })
    ));
    assert!(matches!(
        decode_response_text(br#"{"result":5}"#),
        Err(WireError::BadField {
            field: "result",
            ..
        })
    ));
    assert!(matches!(
        decode_response_text(br#"{"other":"AAAA"}"#),
        Err(WireError::MissingField {
            field: "result",
            ..
        })
    ));
    assert!(matches!(
        decode_response_text(br#"{"result":"#),
        Err(WireError::InvalidJson { .. })
    ));
    let big = vec![b'A'; MAX_ONION_SIZE + 4];
    assert!(matches!(
        decode_response_text(&big),
        Err(WireError::TooLarge { .. })
    ));
}

// --- relay dict --------------------------------------------------------------------------

#[test]
fn relay_dict_errors() {
    let key = [1u8; 32];
    let good = RelayRequest {
        data: b"abc".to_vec(),
        enc_type: session_wire::onion::EncType::XChaCha20,
        ephemeral_key: key,
        hop_no: 2,
    }
    .encode();
    assert!(RelayRequest::parse(&good).is_ok());
    assert!(matches!(
        RelayRequest::parse(&good[..good.len() - 1]),
        Err(WireError::Bencode { .. })
    ));
    assert!(matches!(
        RelayRequest::parse(&[good.as_slice(), b"x"].concat()),
        Err(WireError::Bencode { .. })
    ));
    assert!(matches!(
        RelayRequest::parse(b"d13:ephemeral_key32:0123456789012345678901234567890123e"),
        Err(WireError::Bencode { .. }) | Err(WireError::MissingField { .. })
    ));
    assert!(matches!(
        RelayRequest::parse(b"d13:ephemeral_key32:01234567890123456789012345678901e"),
        Err(WireError::MissingField { field: "data", .. })
    ));
    assert!(matches!(
        RelayRequest::parse(b"d4:data1:x13:ephemeral_key31:0123456789012345678901234567890e"),
        Err(WireError::BadField {
            field: "ephemeral_key",
            ..
        })
    ));
    assert!(matches!(
        RelayRequest::parse(
            b"d4:data1:x8:enc_type5:rot1313:ephemeral_key32:01234567890123456789012345678901e"
        ),
        Err(WireError::UnknownEncType(_))
    ));
    // Unsorted keys are not canonical.
    assert!(matches!(
        RelayRequest::parse(b"d13:ephemeral_key32:012345678901234567890123456789014:data1:xe"),
        Err(WireError::Bencode {
            source: session_bt::BtError::UnsortedKeys { .. },
            ..
        })
    ));
    assert!(matches!(
        RelayRequest::parse(b"d4:datai5e13:ephemeral_key32:01234567890123456789012345678901e"),
        Err(WireError::Bencode {
            source: session_bt::BtError::WrongType { .. },
            ..
        })
    ));
}

// --- bulk format -------------------------------------------------------------------------

fn item(fields: &[&[u8]]) -> Vec<u8> {
    [b"l".as_slice(), &fields.concat(), b"e"].concat()
}

fn good_item() -> Vec<u8> {
    let pk = [b"33:".as_slice(), &[5u8; 33]].concat();
    item(&[&pk, b"4:hash", b"i1e", b"i2e", b"4:data"])
}

#[test]
fn bulk_errors() {
    let good = [&[1u8][..], b"l", &good_item(), b"e"].concat();
    assert_eq!(parse_bulk(&good).unwrap().len(), 1);

    assert!(matches!(
        parse_bulk(b""),
        Err(WireError::Truncated {
            needed: 1,
            available: 0,
            ..
        })
    ));
    assert!(matches!(
        parse_bulk(&[&[2u8][..], &good[1..]].concat()),
        Err(WireError::UnsupportedVersion { version: 2, .. })
    ));
    for cut in 1..good.len() {
        assert!(
            matches!(parse_bulk(&good[..cut]), Err(WireError::Bencode { .. })),
            "cut {cut}"
        );
    }
    assert!(matches!(
        parse_bulk(&[good.as_slice(), b"le"].concat()),
        Err(WireError::Bencode {
            source: session_bt::BtError::TrailingBytes { extra: 2 },
            ..
        })
    ));
    assert!(matches!(
        parse_bulk(b"\x01d1:ai1ee"),
        Err(WireError::WrongShape { .. })
    ));
    assert!(matches!(
        parse_bulk(b"\x01li1ee"),
        Err(WireError::WrongShape { .. })
    ));
    let pk = [b"33:".as_slice(), &[5u8; 33]].concat();
    for bad in [
        item(&[&pk, b"4:hash", b"i1e", b"i2e"]),
        item(&[&pk, b"4:hash", b"i1e", b"i2e", b"4:data", b"i0e", b"i0e"]),
        item(&[&pk, b"4:hash", b"1:1", b"i2e", b"4:data"]),
        item(&[&pk, b"4:hash", b"i1e", b"i2e", b"4:data", b"1:0"]),
    ] {
        let input = [&[1u8][..], b"l", &bad, b"e"].concat();
        assert!(
            matches!(parse_bulk(&input), Err(WireError::WrongShape { .. })),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
    let short_pk = [b"32:".as_slice(), &[5u8; 32]].concat();
    let input = [
        &[1u8][..],
        b"l",
        &item(&[&short_pk, b"4:hash", b"i1e", b"i2e", b"4:data"]),
        b"e",
    ]
    .concat();
    assert!(matches!(
        parse_bulk(&input),
        Err(WireError::BadField {
            field: "pubkey",
            ..
        })
    ));
    let input = [
        &[1u8][..],
        b"l",
        &item(&[&pk, b"4:hash", b"i1e", b"i2e", b"4:data", b"i40000e"]),
        b"e",
    ]
    .concat();
    assert!(matches!(
        parse_bulk(&input),
        Err(WireError::BadField {
            field: "namespace",
            ..
        })
    ));
    let big = vec![1u8; 10 * 1024 * 1024 + 1];
    assert!(matches!(parse_bulk(&big), Err(WireError::TooLarge { .. })));
}

// --- protobuf ----------------------------------------------------------------------------

#[test]
fn protobuf_garbage() {
    for input in [&b"\xff\xff\xff"[..], b"\x0a\x05ab", b"\x12\x80"] {
        assert!(
            matches!(
                unwrap_1o1(input),
                Err(WireError::Protobuf {
                    what: "WebSocketMessage",
                    ..
                })
            ),
            "{input:?}"
        );
    }
    let truncated = &session_wire::message::wrap_1o1(b"ciphertext", 5, None)[..10];
    assert!(matches!(
        unwrap_1o1(truncated),
        Err(WireError::Protobuf { .. })
    ));
}

#[test]
fn protobuf_missing_layers() {
    let no_request = WebSocketMessage {
        r#type: Some(1),
        request: None,
        response: None,
    }
    .encode_to_vec();
    assert!(matches!(
        unwrap_1o1(&no_request),
        Err(WireError::MissingField {
            field: "request",
            ..
        })
    ));
    let no_body = WebSocketMessage {
        r#type: Some(1),
        request: Some(WebSocketRequestMessage::default()),
        response: None,
    }
    .encode_to_vec();
    assert!(matches!(
        unwrap_websocket(&no_body),
        Err(WireError::MissingField { field: "body", .. })
    ));
    let response = WebSocketMessage {
        r#type: Some(2),
        request: Some(WebSocketRequestMessage {
            body: Some(vec![]),
            ..Default::default()
        }),
        response: None,
    }
    .encode_to_vec();
    assert!(matches!(
        unwrap_1o1(&response),
        Err(WireError::BadField { field: "type", .. })
    ));
    let env = Envelope {
        r#type: 6,
        timestamp: 5,
        ..Default::default()
    }
    .encode_to_vec();
    assert!(matches!(
        decode_envelope(&env),
        Err(WireError::MissingField {
            field: "content",
            ..
        })
    ));
    let wrapped = session_wire::message::wrap_websocket(b"\xff\xff");
    assert!(matches!(
        unwrap_1o1(&wrapped),
        Err(WireError::Protobuf {
            what: "Envelope",
            ..
        })
    ));
}

// --- QUIC framing ------------------------------------------------------------------------

#[test]
fn quic_errors() {
    assert!(matches!(
        QuicMessage::decode(b"abc"),
        Err(WireError::WrongShape { .. })
    ));
    assert!(matches!(
        QuicMessage::decode(b"012:l1:Ri0e0:e"),
        Err(WireError::WrongShape { .. })
    ));
    assert!(matches!(
        QuicMessage::decode(b"123456789:"),
        Err(WireError::WrongShape { .. })
    ));
    assert!(matches!(
        QuicMessage::decode(b"10000001:"),
        Err(WireError::TooLarge { .. })
    ));
    assert!(matches!(
        QuicMessage::decode(b"10:l1:Ri0e0:"),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        QuicMessage::decode(b"10:l1:Ri0e0:ex"),
        Err(WireError::TrailingBytes { extra: 1, .. })
    ));
    for content in [
        &b"l1:Xi0e0:e"[..],
        b"l1:Ri0ee",
        b"l1:Ci0e0:e",
        b"d1:Ci0ee",
        b"l1:R0:0:e",
    ] {
        let mut frame = Vec::new();
        session_bt::encode_bytes(content, &mut frame);
        assert!(
            matches!(
                QuicMessage::decode(&frame),
                Err(WireError::WrongShape { .. })
            ),
            "{}",
            String::from_utf8_lossy(content)
        );
    }
    assert!(matches!(
        QuicMessage::decode(b"4:l1:R"),
        Err(WireError::Bencode { .. })
    ));
}

// --- monitor notifications ---------------------------------------------------------------

#[test]
fn monitor_notification_errors() {
    let n = MonitorNotification {
        account: StoragePubkey {
            prefix: 5,
            key: [7; 32],
        },
        hash: "h".repeat(43),
        namespace: -10,
        timestamp_ms: 1,
        expiry_ms: 2,
        data: None,
    };
    let good = n.encode();
    assert_eq!(MonitorNotification::parse(&good).unwrap(), n);
    let without_hash = String::from_utf8_lossy(&good).replace(&format!("1:h43:{}", n.hash), "");
    assert!(matches!(
        MonitorNotification::parse(without_hash.as_bytes()),
        Err(WireError::MissingField { field: "h", .. })
    ));
    let bad_ns = String::from_utf8_lossy(&good).replace("1:ni-10e", "1:ni99999e");
    assert!(matches!(
        MonitorNotification::parse(bad_ns.as_bytes()),
        Err(WireError::BadField { field: "n", .. })
    ));
    assert!(matches!(
        MonitorNotification::parse(&good[1..]),
        Err(WireError::Bencode { .. })
    ));
}

#[test]
fn monitor_subscription_errors() {
    let good = MonitorSubscription {
        account: MonitorAccount::SessionEd25519([9; 32]),
        subaccount: None,
        with_data: false,
        namespaces: vec![0, 2],
        signature: [1; 64],
        timestamp_s: 1_700_000_000,
    };
    let enc = String::from_utf8(good.encode()).unwrap();
    assert_eq!(MonitorSubscription::parse(enc.as_bytes()).unwrap(), good);
    let sig = "\u{1}".repeat(64);
    let ed = "\t".repeat(32);
    let cases: [(String, &str); 10] = [
        (enc.replace(&format!("1:P32:{ed}"), ""), "P"),
        (enc.replace("1:nli0ei2ee", ""), "n"),
        (enc.replace("1:nli0ei2ee", "1:nle"), "n"),
        (enc.replace("1:nli0ei2ee", "1:nli2ei0ee"), "n"),
        (enc.replace("1:nli0ei2ee", "1:nli0ei0ee"), "n"),
        (enc.replace("1:nli0ei2ee", "1:nli0ei99999ee"), "n"),
        (enc.replace(&format!("1:s64:{sig}"), ""), "s"),
        (enc.replace(&format!("1:s64:{sig}"), "1:s3:abc"), "s"),
        (enc.replace("1:ti1700000000e", "1:ti-1e"), "t"),
        (enc.replace("1:nli0ei2ee", "1:di2e1:nli0ei2ee"), "d"),
    ];
    for (input, field) in cases {
        let err = MonitorSubscription::parse(input.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, WireError::MissingField { field: f, .. } | WireError::BadField { field: f, .. } if *f == field),
            "{input:?}: {err}"
        );
    }
    // P and p together; S without T.
    let both = enc.replace("1:nli0ei2ee", &format!("1:nli0ei2ee1:p33:\u{5}{ed}"));
    assert!(matches!(
        MonitorSubscription::parse(both.as_bytes()),
        Err(WireError::BadField { field: "P", .. })
    ));
    let s_only = enc.replace("1:nli0ei2ee", &format!("1:S64:{sig}1:nli0ei2ee"));
    assert!(matches!(
        MonitorSubscription::parse(s_only.as_bytes()),
        Err(WireError::MissingField { field: "T", .. })
    ));
    assert!(matches!(
        MonitorSubscription::parse_request(b"i1e"),
        Err(WireError::WrongShape { .. })
    ));
    assert!(matches!(
        MonitorSubscription::parse(b"le"),
        Err(WireError::WrongShape { .. })
    ));
}
