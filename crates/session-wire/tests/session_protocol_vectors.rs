//! session_protocol.json: the 1:1 layering — Content → padding → signed sealed box
//! (session-crypto) → Envelope → WebSocketMessage — checked byte for byte.

// Helpers outside `#[test]` functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::vector;
use session_crypto::AccountKeys;
use session_crypto::ed25519::Ed25519Seed;
use session_crypto::session_protocol::{
    legacy_padded_len, open_signed, seal_signed_deterministic, unpad_message,
};
use session_wire::message::{decode_content, encode_content, unwrap_1o1, wrap_legacy_config};
use session_wire::proto::session::{Content, SharedConfigMessage, envelope, shared_config_message};

fn keys(seed_hex: &str) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_hex(seed_hex).unwrap())
}

#[test]
fn legacy_wrap_user_profile_empty_push() {
    let v = vector("session_protocol", "legacy_wrap.user_profile_empty_push");
    let me = keys(v.input_str("ed25519_seed"));
    let config_ct = v.expected_hex("inner_config_ciphertext");

    // Content{sharedConfigMessage{kind USER_PROFILE, seqno, data}} + a lone 0x80 …
    let content = Content {
        shared_config_message: Some(SharedConfigMessage {
            kind: shared_config_message::Kind::UserProfile as i32,
            seqno: v.input_i64("seqno"),
            data: config_ct.clone(),
        }),
        ..Default::default()
    };
    let mut plaintext = encode_content(&content);
    plaintext.push(0x80);
    // … sealed deterministically to ourselves, inside Envelope{type 6, timestamp 1} inside
    // WebSocketMessage{verb "", path "", requestId 0}.
    let sealed = seal_signed_deterministic(&me, &me.session_id(), &plaintext).unwrap();
    let pushed = wrap_legacy_config(&sealed);
    assert_eq!(hex::encode(&pushed), v.expected_str("pushed_bytes"));
    assert_eq!(pushed.len() as i64, v.expected_i64("pushed_len"));

    // And back: unwrap, open, unpad, decode.
    let un = unwrap_1o1(&pushed).unwrap();
    assert_eq!(un.envelope.r#type(), envelope::Type::SessionMessage);
    assert_eq!(un.envelope.timestamp, 1);
    assert_eq!(
        (un.verb.as_deref(), un.path.as_deref()),
        (Some(""), Some(""))
    );
    let opened = open_signed(&me, un.content()).unwrap();
    assert_eq!(opened.sender_id, me.session_id());
    assert_eq!(opened.content, plaintext);
    let decoded = decode_content(unpad_message(&opened.content)).unwrap();
    assert_eq!(decoded, content);
}

#[test]
fn legacy_old_client_config_blob() {
    let v = vector("session_protocol", "legacy_old_client_config_blob");
    let me = keys(v.input_str("ed25519_seed"));
    assert_eq!(me.session_id().to_hex(), v.expected_str("owner_session_id"));
    let blob = v.input_hex("blob");

    let un = unwrap_1o1(&blob).unwrap();
    assert!(v.expected["must_unwrap"].as_bool().unwrap());
    assert_eq!(v.expected_i64("websocket_type"), 1);
    assert_eq!(un.verb.as_deref(), Some(v.expected_str("request_verb")));
    assert_eq!(un.path.as_deref(), Some(v.expected_str("request_path")));
    assert_ne!(
        un.request_id,
        Some(0),
        "old clients used a random request id"
    );
    let env = &un.envelope;
    assert_eq!(i64::from(env.r#type), v.expected_i64("envelope_type"));
    assert_eq!(
        env.source.as_deref(),
        Some(v.expected_str("envelope_source"))
    );
    assert_eq!(
        env.source_device.map(i64::from),
        Some(v.expected_i64("envelope_sourceDevice"))
    );
    assert_eq!(env.timestamp as i64, v.expected_i64("envelope_timestamp"));
    assert_eq!(env.pro_sig, None);

    let opened = open_signed(&me, un.content()).unwrap();
    assert_eq!(
        opened.sender_id.to_hex(),
        v.expected_str("owner_session_id")
    );
    assert_eq!(opened.content.len() as i64, v.expected_i64("padded_len"));
    let unpadded = unpad_message(&opened.content);
    assert_eq!(
        unpadded.len() as i64,
        v.expected_i64("content_len_unpadded")
    );
    assert_eq!(legacy_padded_len(unpadded.len()), opened.content.len());

    let content = decode_content(unpadded).unwrap();
    let shared = content.shared_config_message.unwrap();
    assert_eq!(i64::from(shared.kind), v.expected_i64("sharedConfig_kind"));
    assert_eq!(shared.seqno, v.expected_i64("sharedConfig_seqno"));
    assert_eq!(
        shared.data.len() as i64,
        v.expected_i64("sharedConfig_data_len")
    );
    // Re-encoding the decoded Content gives back the exact bytes the old client sent.
    assert_eq!(encode_content(&decode_content(unpadded).unwrap()), unpadded);
}
