//! onion.json: the layer frame parser, control-JSON dispatch, the proxy URL filter and the
//! node-to-node relay dict.

// Helpers outside `#[test]` functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{vector, with_prefix};
use session_crypto::onion::node_decrypt;
use session_crypto::{X25519Keypair, X25519SecretKey};
use session_wire::onion::{
    Control, EncType, EntryMetadata, Protocol, RelayRequest, is_allowed_proxy_target, parse_frame,
};

#[test]
fn parser_request_blob_aes_gcm_framing() {
    let v = vector("onion", "parser_request_blob.aes_gcm");
    let blob = v.input_hex("blob");
    let frame = parse_frame(&blob).unwrap();
    assert_eq!(frame.payload.len() as i64, v.expected_i64("length_prefix"));
    assert_eq!(frame.payload, v.expected_hex("ciphertext"));
    assert_eq!(
        frame.control_json,
        v.expected_str("metadata_json").as_bytes()
    );
    let meta: EntryMetadata = frame.control_as().unwrap();
    assert_eq!(meta.ephemeral_key.to_vec(), v.expected_hex("remote_pubkey"));
    assert_eq!(meta.enc_type, Some(EncType::AesGcm));
    assert_eq!(meta.hop_no, None);
    // The frame rebuilds byte for byte from its parts.
    assert_eq!(
        session_wire::onion::encode_frame_raw(frame.payload, frame.control_json).unwrap(),
        blob
    );
    // Decrypt with the node's key (session-crypto does the AEAD; this crate the framing).
    let node = X25519Keypair::from_secret(
        X25519SecretKey::from_hex(v.input_str("node_x25519_sec")).unwrap(),
    );
    assert_eq!(node.public().to_vec(), v.input_hex("node_x25519_pub"));
    let enc = meta.enc_type.unwrap_or_default().to_crypto().unwrap();
    let layer = node_decrypt(enc, &node, &meta.ephemeral_key, frame.payload).unwrap();
    assert_eq!(layer.plaintext, v.expected_hex("payload_hex"));
    assert_eq!(layer.plaintext, v.expected_str("payload_ascii").as_bytes());
    // The reply goes back under the same key with a fresh IV: 13 + 12 + 16 = 41 bytes.
    let reply = layer.key.encrypt(b"Goodbye world").unwrap();
    assert_eq!(
        reply.len() as i64,
        v.expected_i64("reply_len_for_13_byte_body")
    );
}

#[test]
fn control_dispatch() {
    let vs = with_prefix("onion", "control.");
    assert_eq!(vs.len(), 3);
    for v in vs {
        let plaintext = v.input_hex("plaintext");
        let frame = parse_frame(&plaintext).unwrap();
        assert_eq!(
            frame.control_json,
            v.input_str("control_json").as_bytes(),
            "{}",
            v.id
        );
        let control = frame.classify().unwrap();
        match v.expected_str("kind") {
            "final_destination" => {
                assert!(matches!(control, Control::FinalDestination(_)), "{}", v.id);
                assert_eq!(frame.payload, v.expected_hex("body_hex"));
                assert_eq!(frame.payload, v.expected_str("body_ascii").as_bytes());
            }
            "proxy" => {
                let Control::Proxy(p) = control else {
                    panic!("{}: not a proxy: {control:?}", v.id)
                };
                assert_eq!(p.host, v.expected_str("host"));
                assert_eq!(p.target, v.expected_str("target"));
                assert_eq!(i64::from(p.port), v.expected_i64("port"));
                assert_eq!(p.protocol, Protocol::Https);
                assert_eq!(v.expected_str("protocol"), "https");
                // The proxied payload is the whole decrypted plaintext.
                assert_eq!(plaintext, v.expected_hex("payload"));
            }
            "relay" => {
                let Control::Relay(r) = control else {
                    panic!("{}: not a relay: {control:?}", v.id)
                };
                assert_eq!(
                    r.destination.to_vec(),
                    v.expected_hex("destination_ed25519")
                );
                assert_eq!(r.ephemeral_key.to_vec(), v.expected_hex("ephemeral_key"));
                assert_eq!(r.enc_type.as_str(), v.expected_str("enc_type"));
                assert_eq!(frame.payload, v.expected_hex("inner_ciphertext_hex"));
                assert_eq!(
                    frame.payload,
                    v.expected_str("inner_ciphertext_ascii").as_bytes()
                );
            }
            other => panic!("{}: unknown kind {other}", v.id),
        }
    }
}

#[test]
fn url_filter_allowed() {
    let v = vector("onion", "url_filter.allowed");
    let targets = v.input["targets"].as_array().unwrap();
    let allowed = v.expected["allowed"].as_array().unwrap();
    assert_eq!(targets.len(), allowed.len());
    for (t, a) in targets.iter().zip(allowed) {
        assert_eq!(
            is_allowed_proxy_target(t.as_str().unwrap()),
            a.as_bool().unwrap(),
            "{t}"
        );
    }
}

#[test]
fn url_filter_rejects() {
    for t in [
        "/loki/v3/lsrpc?x=1",
        "/oxen/v4/lsrpc/",
        "/session/v4/lsrpc",
        "loki/v3/lsrpc",
        "/loki/v3/lsrpc2",
        "",
        "/lsrpc",
    ] {
        assert!(!is_allowed_proxy_target(t), "{t}");
    }
}

#[test]
fn relay_dict() {
    let v = vector("onion", "derived.relay_dict.sn_onion_request");
    let req = RelayRequest {
        data: v.input_str("data_ascii").as_bytes().to_vec(),
        enc_type: EncType::parse(v.input_str("enc_type")).unwrap(),
        ephemeral_key: v.input_hex("ephemeral_key").try_into().unwrap(),
        hop_no: v.input_i64("hop_no"),
    };
    let encoded = req.encode();
    assert_eq!(encoded, v.expected_hex("bt_dict"));
    assert_eq!(RelayRequest::parse(&encoded).unwrap(), req);
}
