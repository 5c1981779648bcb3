//! storage.json: message hash, `sn.data` bulk format, request signature strings, QUIC
//! framing and monitor notifications.

// Helpers outside `#[test]` functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::{vector, with_prefix};
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_wire::quic::QuicMessage;
use session_wire::request_sig::{self, ExpireMode, NamespaceScope};
use session_wire::storage::{
    BULK_BATCH_LIMIT, BulkMessage, MonitorAccount, MonitorNotification, MonitorSubscription,
    StoragePubkey, is_valid_message_hash, message_hash, message_hash_digest, parse_bulk,
    serialize_bulk,
};

#[test]
fn message_hashes() {
    let mut ids = Vec::new();
    let mut all = with_prefix("storage", "message_hash.");
    all.extend(with_prefix("storage", "derived.message_hash."));
    for v in all {
        let pubkey = StoragePubkey::from_hex(v.input_str("pubkey")).unwrap();
        let ns = i16::try_from(v.input_i64("namespace")).unwrap();
        let data = match v.input.get("data") {
            Some(_) => v.input_hex("data"),
            None => base64::engine::general_purpose::STANDARD
                .decode(v.input_str("data_b64"))
                .unwrap(),
        };
        if v.input.get("data_b64").is_some() && v.input.get("data").is_some() {
            let b64 = base64::engine::general_purpose::STANDARD
                .decode(v.input_str("data_b64"))
                .unwrap();
            assert_eq!(b64, data, "{}: data and data_b64 disagree", v.id);
        }
        let hash = message_hash(&pubkey, ns, &data);
        assert_eq!(hash, v.expected_str("hash"), "{}", v.id);
        assert_eq!(
            message_hash_digest(&pubkey, ns, &data).to_vec(),
            v.expected_hex("digest"),
            "{}",
            v.id
        );
        assert!(is_valid_message_hash(&hash));
        ids.push(v.id);
    }
    assert!(ids.len() >= 4, "{ids:?}");
}

#[test]
fn message_hash_upstream_equivalence() {
    // The upstream test also asserts hash == b64(BLAKE2b-256(33-byte pubkey || data)) for ns 0.
    let v = vector("storage", "message_hash.upstream_ns0");
    let pubkey = StoragePubkey::from_hex(v.input_str("pubkey")).unwrap();
    let data = v.input_hex("data");
    let digest = session_crypto::hash::blake2b::<32>(&[&pubkey.to_bytes(), &data]);
    assert_eq!(digest.to_vec(), v.expected_hex("digest"));
}

fn bulk_item(v: &common::Vector, data: Vec<u8>, namespace: Option<i16>) -> BulkMessage {
    BulkMessage {
        pubkey: StoragePubkey::from_hex(v.input_str("pubkey")).unwrap(),
        hash: v.input_hex("hash"),
        timestamp_ms: v.input_i64("timestamp_ms"),
        expiry_ms: v.input_i64("expiry_ms"),
        data,
        namespace,
    }
}

#[test]
fn bulk_single_message_v280_format() {
    let v = vector("storage", "serialization.single_message");
    let msg = bulk_item(&v, v.input_hex("data"), None);
    let batches = serialize_bulk(std::slice::from_ref(&msg));
    assert_eq!(batches, vec![v.expected_hex("serialized")]);
    assert_eq!(parse_bulk(&batches[0]).unwrap(), vec![msg]);
}

#[test]
fn bulk_single_message_with_namespace() {
    let v = vector(
        "storage",
        "derived.serialization.single_message_with_namespace",
    );
    let ns = i16::try_from(v.input_i64("namespace")).unwrap();
    let msg = bulk_item(&v, v.input_hex("data"), Some(ns));
    let batches = serialize_bulk(std::slice::from_ref(&msg));
    assert_eq!(batches, vec![v.expected_hex("serialized")]);
    let parsed = parse_bulk(&batches[0]).unwrap();
    assert_eq!(parsed, vec![msg]);
    assert_eq!(parsed[0].namespace_or_default(), ns);
}

#[test]
fn bulk_batch_split_100k() {
    let v = vector("storage", "derived.serialization.batch_split_100k");
    assert_eq!(v.input_i64("batch_limit"), BULK_BATCH_LIMIT as i64);
    let data_len = usize::try_from(v.input_i64("data_len")).unwrap();
    let msg = bulk_item(&v, vec![b'x'; data_len], None);

    let single = serialize_bulk(std::slice::from_ref(&msg));
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].len() as i64, v.expected_i64("single_batch_len"));

    let max = usize::try_from(v.expected_i64("max_copies_in_one_batch")).unwrap();
    let mut msgs = vec![msg.clone(); max];
    let batches = serialize_bulk(&msgs);
    assert_eq!(
        batches.len() as i64,
        v.expected_i64("batches_for_max_copies")
    );
    assert!(batches.iter().all(|b| b.len() <= BULK_BATCH_LIMIT));

    msgs.push(msg);
    let batches = serialize_bulk(&msgs);
    assert_eq!(
        batches.len() as i64,
        v.expected_i64("batches_for_max_copies_plus_one")
    );
    assert!(batches.iter().all(|b| b.len() <= BULK_BATCH_LIMIT));
    let parsed: Vec<BulkMessage> = batches
        .iter()
        .flat_map(|b| parse_bulk(b).unwrap())
        .collect();
    assert_eq!(parsed, msgs);
}

/// Builds the signed string of a `derived.request_signature.*` vector from its id.
fn signed_string(id: &str) -> Vec<u8> {
    const HASH: &str = "o4tEb+7llSKks3uTOrmHMCL+d909f/0+5N4lREpYbys";
    const TS: u64 = 1_700_000_000_000;
    let session_id = StoragePubkey::from_hex(
        "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    )
    .unwrap();
    match id.strip_prefix("derived.request_signature.").unwrap() {
        "retrieve_ns0" => request_sig::retrieve(0, TS),
        "store_ns3" => request_sig::store(3, TS),
        "delete_all_all" => request_sig::delete_all(NamespaceScope::All, TS),
        "delete_one_hash" => request_sig::delete(&[HASH]),
        "expire_extend" => request_sig::expire(ExpireMode::Extend, &[TS + 600_000], &[HASH]),
        "get_expiries" => request_sig::get_expiries(TS, &[HASH]),
        "delete_before_ns0" => request_sig::delete_before(NamespaceScope::One(0), TS),
        "expire_all_ns5" => request_sig::expire_all(NamespaceScope::One(5), TS + 600_000),
        "monitor" => request_sig::monitor(&session_id, 1_700_000_000, true, &[-10, 0, 5]),
        other => panic!("request signature vector {other} has no builder in this test"),
    }
}

#[test]
fn request_signature_strings() {
    let vs = with_prefix("storage", "derived.request_signature.");
    assert_eq!(vs.len(), 9);
    for v in vs {
        let signed = signed_string(&v.id);
        assert_eq!(signed, v.input_hex("signed_hex"), "{}", v.id);
        assert_eq!(signed, v.input_str("signed_ascii").as_bytes(), "{}", v.id);
        // Sign the string with the vector's key: Ed25519 is deterministic, so this pins the
        // whole request signature.
        let kp =
            Ed25519Keypair::from_seed(Ed25519Seed::from_hex(v.input_str("ed25519_seed")).unwrap());
        assert_eq!(
            kp.public().as_bytes().to_vec(),
            v.input_hex("ed25519_pubkey")
        );
        let sig = kp.sign(&signed);
        assert_eq!(sig.to_vec(), v.expected_hex("signature"), "{}", v.id);
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(sig),
            v.expected_str("signature_b64"),
            "{}",
            v.id
        );
    }
}

#[test]
fn quic_command_frame() {
    let v = vector("storage", "derived.quic_frame.command");
    let msg = QuicMessage::Command {
        id: v.input_i64("request_id"),
        endpoint: v.input_str("endpoint").as_bytes().to_vec(),
        body: v.input_str("body_ascii").as_bytes().to_vec(),
    };
    let frame = msg.encode();
    assert_eq!(frame, v.expected_hex("frame"));
    assert_eq!(frame, v.expected_str("frame_ascii").as_bytes());
    assert_eq!(QuicMessage::decode(&frame).unwrap(), msg);
}

#[test]
fn quic_reply_frame() {
    let v = vector("storage", "derived.quic_frame.reply");
    let msg = QuicMessage::Reply {
        id: v.input_i64("request_id"),
        body: v.input_str("body_ascii").as_bytes().to_vec(),
    };
    let frame = msg.encode();
    assert_eq!(frame, v.expected_hex("frame"));
    assert_eq!(frame, v.expected_str("frame_ascii").as_bytes());
    assert_eq!(QuicMessage::decode(&frame).unwrap(), msg);

    // Streamed: two frames back to back, fed in pieces.
    let mut stream = frame.clone();
    stream.extend_from_slice(&frame);
    for cut in 0..frame.len() {
        assert_eq!(
            QuicMessage::decode_stream(&stream[..cut]).unwrap(),
            None,
            "cut {cut}"
        );
    }
    let (first, used) = QuicMessage::decode_stream(&stream).unwrap().unwrap();
    assert_eq!((first, used), (msg.clone(), frame.len()));
    let (second, _) = QuicMessage::decode_stream(&stream[used..])
        .unwrap()
        .unwrap();
    assert_eq!(second, msg);
}

#[test]
fn monitor_notification() {
    let v = vector("storage", "derived.monitor_notification");
    let n = MonitorNotification {
        account: StoragePubkey::from_hex(v.input_str("account")).unwrap(),
        hash: v.input_str("hash").to_owned(),
        namespace: i16::try_from(v.input_i64("namespace")).unwrap(),
        timestamp_ms: v.input_i64("timestamp_ms"),
        expiry_ms: v.input_i64("expiry_ms"),
        data: Some(v.input_str("data_ascii").as_bytes().to_vec()),
    };
    let encoded = n.encode();
    assert_eq!(encoded, v.expected_hex("bt_dict"));
    assert_eq!(encoded.len() as i64, v.expected_i64("len"));
    assert_eq!(MonitorNotification::parse(&encoded).unwrap(), n);
    // The hash in the notification is the message hash of the data.
    assert_eq!(message_hash(&n.account, n.namespace, b"hello"), n.hash);
}

#[test]
fn monitor_subscription_signature() {
    // The monitor request of derived.request_signature.monitor as a subscription dict: the
    // request carries P (the Ed25519 key), the signed account is the 05 Session ID.
    let v = vector("storage", "derived.request_signature.monitor");
    let sub = MonitorSubscription {
        account: MonitorAccount::SessionEd25519(v.input_hex("ed25519_pubkey").try_into().unwrap()),
        subaccount: None,
        with_data: true,
        namespaces: vec![-10, 0, 5],
        signature: v.expected_hex("signature").try_into().unwrap(),
        timestamp_s: 1_700_000_000,
    };
    assert_eq!(
        sub.signed_account().unwrap().to_hex(),
        v.input_str("session_id")
    );
    let signed = sub.signed_message().unwrap();
    assert_eq!(signed, v.input_hex("signed_hex"));
    let pk: [u8; 32] = v.input_hex("ed25519_pubkey").try_into().unwrap();
    session_crypto::ed25519::verify(&pk, &signed, &sub.signature).unwrap();

    let encoded = sub.encode();
    let text = String::from_utf8_lossy(&encoded);
    assert!(text.starts_with("d1:P32:"), "{text}");
    assert!(text.contains("1:di1e1:nli-10ei0ei5ee1:s64:"), "{text}");
    assert!(text.ends_with("1:ti1700000000ee"), "{text}");
    assert_eq!(MonitorSubscription::parse(&encoded).unwrap(), sub);
    // A list of subscriptions parses each on its own.
    let list = [b"l".as_slice(), &encoded, b"i5e", &encoded, b"e"].concat();
    let parsed = MonitorSubscription::parse_request(&list).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].as_ref().unwrap(), &sub);
    assert!(parsed[1].is_err());
    assert_eq!(parsed[2].as_ref().unwrap(), &sub);
}
