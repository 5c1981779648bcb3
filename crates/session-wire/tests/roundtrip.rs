//! Property tests: every codec round-trips, and no parser panics on arbitrary input.

// Helpers outside `#[test]` functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use session_wire::message::{
    decode_content, decode_envelope, encode_content, group_envelope, unwrap_1o1, wrap_1o1,
    wrap_legacy_config,
};
use session_wire::onion::{
    Control, EncType, EntryMetadata, FinalHopControl, Protocol, ProxyControl, RelayControl,
    RelayRequest, V4RequestInfo, V4ResponseInfo, decode_response_text, encode_frame,
    encode_frame_raw, encode_response_text, encode_snode_response, encode_v4_request,
    encode_v4_response, parse_frame, parse_snode_response, parse_v4_request, parse_v4_response,
};
use session_wire::proto::session::{Content, DataMessage, LokiProfile, SharedConfigMessage};
use session_wire::quic::QuicMessage;
use session_wire::storage::{
    BulkMessage, MonitorAccount, MonitorNotification, MonitorSubaccount, MonitorSubscription,
    StoragePubkey, parse_bulk, serialize_bulk_with_limit,
};

fn pubkey() -> impl Strategy<Value = StoragePubkey> {
    (any::<u8>(), any::<[u8; 32]>()).prop_map(|(prefix, key)| StoragePubkey { prefix, key })
}

fn headers() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(".{0,12}", ".{0,24}", 0..4)
}

fn enc_type() -> impl Strategy<Value = EncType> {
    prop_oneof![
        Just(EncType::AesGcm),
        Just(EncType::XChaCha20),
        Just(EncType::AesCbc)
    ]
}

fn bulk_message() -> impl Strategy<Value = BulkMessage> {
    (
        pubkey(),
        vec(any::<u8>(), 0..50),
        any::<i64>(),
        any::<i64>(),
        vec(any::<u8>(), 0..300),
        proptest::option::of(any::<i16>()),
    )
        .prop_map(
            |(pubkey, hash, timestamp_ms, expiry_ms, data, namespace)| BulkMessage {
                pubkey,
                hash,
                timestamp_ms,
                expiry_ms,
                data,
                namespace,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_roundtrip(payload in vec(any::<u8>(), 0..2048), control in btree_map(".{0,10}", ".{0,20}", 0..5)) {
        let bytes = encode_frame(&payload, &control).unwrap();
        let frame = parse_frame(&bytes).unwrap();
        prop_assert_eq!(frame.payload, &payload[..]);
        let back: BTreeMap<String, String> = frame.control_as().unwrap();
        prop_assert_eq!(back, control);
        prop_assert_eq!(encode_frame_raw(frame.payload, frame.control_json).unwrap(), bytes);
    }

    #[test]
    fn typed_controls_roundtrip(
        key in any::<[u8; 32]>(),
        dest in any::<[u8; 32]>(),
        enc in enc_type(),
        host in "[a-z0-9.]{1,20}",
        port in any::<u16>(),
        https in any::<bool>(),
        json in any::<bool>(),
        base64 in any::<bool>(),
        hop_no in proptest::option::of(0i64..20),
    ) {
        let relay = Control::Relay(RelayControl { destination: dest, ephemeral_key: key, enc_type: enc });
        let proxy = Control::Proxy(ProxyControl {
            host,
            target: "/oxen/v4/lsrpc".into(),
            port,
            protocol: if https { Protocol::Https } else { Protocol::Http },
            method: Some("POST".into()),
            ephemeral_key: Some(key),
            enc_type: Some(enc),
        });
        let fin = Control::FinalDestination(FinalHopControl { json, base64, ..Default::default() });
        for c in [relay, proxy, fin] {
            let bytes = encode_frame(b"payload", &c.to_json()).unwrap();
            prop_assert_eq!(parse_frame(&bytes).unwrap().classify().unwrap(), c);
        }
        let meta = EntryMetadata { ephemeral_key: key, enc_type: Some(enc), hop_no };
        let bytes = encode_frame(b"x", &meta).unwrap();
        prop_assert_eq!(parse_frame(&bytes).unwrap().control_as::<EntryMetadata>().unwrap(), meta);
    }

    #[test]
    fn v4_request_roundtrip(
        method in "[A-Z]{1,7}",
        endpoint in ".{0,40}",
        headers in headers(),
        body in proptest::option::of(vec(any::<u8>(), 0..512)),
    ) {
        let info = V4RequestInfo { method, endpoint, headers };
        let bytes = encode_v4_request(&info, body.as_deref());
        let parsed = parse_v4_request(&bytes).unwrap();
        prop_assert_eq!(parsed.info, info);
        prop_assert_eq!(parsed.body, body);
    }

    #[test]
    fn v4_response_roundtrip(
        code in any::<u16>(),
        headers in headers(),
        body in proptest::option::of(vec(any::<u8>(), 0..512)),
    ) {
        let info = V4ResponseInfo { code, headers };
        let bytes = encode_v4_response(&info, body.as_deref());
        let parsed = parse_v4_response(&bytes).unwrap();
        prop_assert_eq!(parsed.info, info);
        prop_assert_eq!(parsed.body, body);
    }

    #[test]
    fn snode_response_roundtrip(status in any::<u16>(), body in ".{0,100}") {
        let parsed = parse_snode_response(&encode_snode_response(status, &body)).unwrap();
        prop_assert_eq!(parsed.status, status);
        prop_assert_eq!(parsed.body, body);
        prop_assert_eq!(parsed.headers, None);
    }

    #[test]
    fn response_text_roundtrip(ct in vec(any::<u8>(), 0..300), wrapped in any::<bool>()) {
        let text = encode_response_text(&ct);
        let text = if wrapped { format!(r#" {{"result": "{text}"}}"#) } else { format!("{text}\n") };
        prop_assert_eq!(decode_response_text(text.as_bytes()).unwrap(), ct.clone());
        let unpadded = encode_response_text(&ct).trim_end_matches('=').to_owned();
        prop_assert_eq!(decode_response_text(unpadded.as_bytes()).unwrap(), ct);
    }

    #[test]
    fn relay_request_roundtrip(data in vec(any::<u8>(), 0..300), key in any::<[u8; 32]>(), enc in enc_type(), hop_no in any::<i64>()) {
        let req = RelayRequest { data, enc_type: enc, ephemeral_key: key, hop_no };
        let parsed = RelayRequest::parse(&req.encode()).unwrap();
        prop_assert_eq!(parsed.effective_hop_no(), hop_no.max(1));
        prop_assert_eq!(parsed, req);
    }

    #[test]
    fn bulk_roundtrip(msgs in vec(bulk_message(), 0..20), limit in 50usize..3000) {
        let batches = serialize_bulk_with_limit(&msgs, limit);
        prop_assert!(!batches.is_empty());
        let mut back = Vec::new();
        for b in &batches {
            let items = parse_bulk(b).unwrap();
            // A batch only exceeds the limit when a single item does.
            prop_assert!(b.len() <= limit || items.len() == 1, "batch of {} items, {} bytes", items.len(), b.len());
            back.extend(items);
        }
        prop_assert_eq!(back, msgs);
    }

    #[test]
    fn bulk_batches_are_maximal(msgs in vec(bulk_message(), 1..20), limit in 50usize..3000) {
        // Each batch boundary is forced: the next batch's first item would not have fitted.
        let batches = serialize_bulk_with_limit(&msgs, limit);
        for pair in batches.windows(2) {
            let next_first = parse_bulk(&pair[1]).unwrap().remove(0);
            let alone = serialize_bulk_with_limit(&[next_first], usize::MAX).remove(0);
            prop_assert!(pair[0].len() + alone.len() - 3 > limit);
        }
    }

    #[test]
    fn monitor_notification_roundtrip(
        account in pubkey(),
        hash in "[A-Za-z0-9+/]{43}",
        namespace in any::<i16>(),
        timestamp_ms in any::<i64>(),
        expiry_ms in any::<i64>(),
        data in proptest::option::of(vec(any::<u8>(), 0..100)),
    ) {
        let n = MonitorNotification { account, hash, namespace, timestamp_ms, expiry_ms, data };
        prop_assert_eq!(MonitorNotification::parse(&n.encode()).unwrap(), n);
    }

    #[test]
    fn monitor_subscription_roundtrip(
        session in any::<bool>(),
        ed in any::<[u8; 32]>(),
        other in pubkey(),
        sub in proptest::option::of((any::<[u8; 32]>(), any::<[u8; 32]>())),
        with_data in any::<bool>(),
        namespaces in proptest::collection::btree_set(any::<i16>(), 1..6),
        sig in any::<[u8; 32]>(),
        timestamp_s in 0u64..=i64::MAX as u64,
    ) {
        let s = MonitorSubscription {
            account: if session { MonitorAccount::SessionEd25519(ed) } else { MonitorAccount::Prefixed(other) },
            subaccount: sub.map(|(a, b)| {
                let mut token = [0u8; 36];
                token[4..].copy_from_slice(&a);
                MonitorSubaccount { token, signature: [a, b].concat().try_into().unwrap() }
            }),
            with_data,
            namespaces: namespaces.into_iter().collect(),
            signature: [sig, sig].concat().try_into().unwrap(),
            timestamp_s,
        };
        let encoded = s.encode();
        prop_assert_eq!(session_bt::decode(&encoded).unwrap().encode(), encoded.clone());
        prop_assert_eq!(MonitorSubscription::parse(&encoded).unwrap(), s);
    }

    #[test]
    fn quic_roundtrip(kind in 0u8..3, id in any::<i64>(), endpoint in vec(any::<u8>(), 0..20), body in vec(any::<u8>(), 0..300)) {
        let msg = match kind {
            0 => QuicMessage::Command { id, endpoint, body },
            1 => QuicMessage::Reply { id, body },
            _ => QuicMessage::Error { id, body },
        };
        let frame = msg.encode();
        prop_assert_eq!(QuicMessage::decode(&frame).unwrap(), msg.clone());
        let (m, used) = QuicMessage::decode_stream(&frame).unwrap().unwrap();
        prop_assert_eq!((m, used), (msg.clone(), frame.len()));
        prop_assert_eq!(msg.id(), id);
    }

    #[test]
    fn protobuf_wrap_roundtrip(ct in vec(any::<u8>(), 0..600), ts in any::<u64>(), pro in proptest::option::of(any::<[u8; 32]>())) {
        let pro_sig = pro.map(|h| { let mut s = [0u8; 64]; s[..32].copy_from_slice(&h); s[32..].copy_from_slice(&h); s });
        let payload = wrap_1o1(&ct, ts, pro_sig.as_ref());
        prop_assert_eq!(payload[0], 0x08);
        let un = unwrap_1o1(&payload).unwrap();
        prop_assert_eq!(un.content(), &ct[..]);
        prop_assert_eq!(un.envelope.timestamp, ts);
        prop_assert_eq!(un.envelope.r#type, 6);
        prop_assert_eq!(un.envelope.source_device, Some(1));
        prop_assert_eq!(un.envelope.source.clone(), None);
        prop_assert_eq!(un.envelope.pro_sig.clone(), pro_sig.map(|s| s.to_vec()));
        prop_assert_eq!((un.verb.as_deref(), un.path.as_deref(), un.request_id), (Some(""), Some(""), Some(0)));

        let legacy = unwrap_1o1(&wrap_legacy_config(&ct)).unwrap();
        prop_assert_eq!(legacy.envelope.timestamp, 1);
        prop_assert_eq!(legacy.envelope.source_device, None);
        prop_assert_eq!(legacy.content(), &ct[..]);

        let group = group_envelope(&ct, ts, pro_sig.as_ref());
        let back = decode_envelope(&session_wire::message::encode_envelope(&group)).unwrap();
        prop_assert_eq!(back.r#type, 7);
        prop_assert_eq!(back, group);
    }

    #[test]
    fn content_roundtrip(body in proptest::option::of(".{0,50}"), name in proptest::option::of(".{0,20}"), seqno in any::<i64>(), data in vec(any::<u8>(), 0..100), ts in proptest::option::of(any::<u64>())) {
        let content = Content {
            data_message: Some(DataMessage {
                body,
                profile: Some(LokiProfile { display_name: name, ..Default::default() }),
                ..Default::default()
            }),
            shared_config_message: Some(SharedConfigMessage { kind: 2, seqno, data }),
            sig_timestamp: ts,
            ..Default::default()
        };
        prop_assert_eq!(decode_content(&encode_content(&content)).unwrap(), content);
    }

    #[test]
    fn parsers_never_panic(input in vec(any::<u8>(), 0..400)) {
        let _ = parse_frame(&input);
        let _ = parse_v4_request(&input);
        let _ = parse_v4_response(&input);
        let _ = parse_snode_response(&input);
        let _ = decode_response_text(&input);
        let _ = RelayRequest::parse(&input);
        let _ = parse_bulk(&input);
        let _ = MonitorNotification::parse(&input);
        let _ = MonitorSubscription::parse_request(&input);
        let _ = QuicMessage::decode(&input);
        let _ = QuicMessage::decode_stream(&input);
        let _ = unwrap_1o1(&input);
        let _ = decode_envelope(&input);
        let _ = decode_content(&input);
    }

    #[test]
    fn frame_parser_never_panics_on_framed_input(len in any::<u32>(), body in vec(any::<u8>(), 0..200)) {
        let mut input = len.to_le_bytes().to_vec();
        input.extend_from_slice(&body);
        let _ = parse_frame(&input);
        let _ = parse_bulk(&[&[1u8][..], &body].concat());
    }
}
