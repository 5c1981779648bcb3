#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Onion requests over real HTTP on every backend (§5.7): v4 with both ciphers
//! (anonymous, signed inner requests, batches inside), bad blobs (400 in plaintext),
//! invalid inner requests (encrypted 400), and the deprecated v3 entries.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Server, User, decode_path, servers};
use serde_json::{Value, json};
use session_crypto::onion::{EncType, HopKey, client_encrypt};
use session_crypto::sogs_auth::{SogsRequest, sign_request};
use session_rt::lsrpc::{open_response, seal_request};
use session_wire::onion::{EntryMetadata, V4RequestInfo, V4Response, encode_frame};

const OCTET: (&str, &str) = ("content-type", "application/octet-stream");

/// Inner headers, signed by `user` if given.
fn inner_headers(
    srv: &Server,
    user: Option<&User>,
    method: &str,
    endpoint: &str,
    body: &[u8],
) -> BTreeMap<String, String> {
    let mut h = BTreeMap::new();
    if let Some(u) = user {
        let signed = sign_request(
            &u.keys,
            u.mode,
            &srv.pk,
            &SogsRequest {
                method,
                path: &decode_path(endpoint),
                body,
            },
            srv.ts(),
        )
        .unwrap();
        for (k, v) in signed.pairs() {
            h.insert(k.to_owned(), v.to_owned());
        }
    }
    if !body.is_empty() {
        h.insert("Content-Type".into(), "application/json".into());
    }
    h
}

async fn v4(
    srv: &Server,
    enc: EncType,
    user: Option<&User>,
    method: &str,
    endpoint: &str,
    body: Option<&[u8]>,
) -> V4Response {
    let info = V4RequestInfo {
        method: method.into(),
        endpoint: endpoint.into(),
        headers: inner_headers(srv, user, method, endpoint, body.unwrap_or(b"")),
    };
    let (frame, key) = seal_request(&srv.pk, enc, &info, body).unwrap();
    let r = srv
        .call_with(None, "POST", "/oxen/v4/lsrpc", &[OCTET], &frame)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    open_response(&key, &r.body).unwrap()
}

fn body_json(r: &V4Response) -> Value {
    serde_json::from_slice(r.body.as_deref().unwrap_or(b"")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn v4_requests_both_ciphers() {
    for srv in servers().await {
        let alice = User::new();
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let r = v4(&srv, enc, None, "GET", "/room/lobby", None).await;
            assert_eq!(r.info.code, 200, "{} {enc:?}", srv.backend);
            assert_eq!(r.info.headers["content-type"], "application/json");
            assert!(!r.info.headers.contains_key("content-length"));
            assert_eq!(body_json(&r)["token"], "lobby");

            // Inner errors travel inside the encrypted reply.
            let r = v4(&srv, enc, None, "GET", "/room/nope", None).await;
            assert_eq!(r.info.code, 404);

            // A signed inner request runs as its signer.
            let post = json!({"data": STANDARD.encode(b"via onion"), "signature": STANDARD.encode([1u8; 64])})
                .to_string();
            let r = v4(
                &srv,
                enc,
                Some(&alice),
                "POST",
                "/room/lobby/message",
                Some(post.as_bytes()),
            )
            .await;
            assert_eq!(r.info.code, 201);
            assert_eq!(body_json(&r)["session_id"], alice.hex(&srv));
            // Without the headers: 401.
            let r = v4(
                &srv,
                enc,
                None,
                "POST",
                "/room/lobby/message",
                Some(post.as_bytes()),
            )
            .await;
            assert_eq!(r.info.code, 401);

            // A raw UTF-8 endpoint, and a batch inside an onion request.
            let mid = srv.post_msg(&alice, b"x").await.1["id"].as_i64().unwrap();
            let r = v4(
                &srv,
                enc,
                Some(&alice),
                "PUT",
                &format!("/room/lobby/reaction/{mid}/🍆"),
                Some(b"{}"),
            )
            .await;
            assert_eq!(r.info.code, 200);
            assert_eq!(body_json(&r)["added"], true);
            let batch = json!([
                {"method": "GET", "path": "/capabilities"},
                {"method": "GET", "path": "/inbox"},
            ])
            .to_string();
            let r = v4(
                &srv,
                enc,
                Some(&alice),
                "POST",
                "/batch",
                Some(batch.as_bytes()),
            )
            .await;
            assert_eq!(r.info.code, 200);
            let out = body_json(&r);
            assert_eq!(out[0]["code"], 200);
            assert_eq!(out[1]["code"], 200);
            assert_eq!(out[1]["body"], json!([]));
        }
    }
}

#[tokio::test]
async fn bad_onion_requests() {
    for srv in servers().await {
        let info = V4RequestInfo {
            method: "GET".into(),
            endpoint: "/room/lobby".into(),
            headers: BTreeMap::new(),
        };
        let (frame, _) = seal_request(&srv.pk, EncType::AesGcm, &info, None).unwrap();
        // A flipped bit, garbage, a truncated frame: 400 in plaintext.
        let mut flipped = frame.clone();
        flipped[8] ^= 0x40;
        for body in [
            flipped,
            b"garbage".to_vec(),
            frame[..frame.len() - 3].to_vec(),
        ] {
            for path in ["/oxen/v4/lsrpc", "/oxen/v3/lsrpc", "/loki/v3/lsrpc"] {
                let r = srv.call_with(None, "POST", path, &[OCTET], &body).await;
                assert_eq!(r.status, 400, "{path} {}", srv.backend);
            }
        }
        // Encrypted to another server's key: 400.
        let other = session_crypto::X25519Keypair::generate().unwrap();
        let (frame, _) = seal_request(other.public(), EncType::XChaCha20, &info, None).unwrap();
        let r = srv
            .call_with(None, "POST", "/oxen/v4/lsrpc", &[OCTET], &frame)
            .await;
        assert_eq!(r.status, 400);

        // Decrypts, but is not a v4 request: an encrypted 400.
        let (frame, key) = raw_frame(&srv, EncType::AesGcm, b"not bencoded");
        let r = srv
            .call_with(None, "POST", "/oxen/v4/lsrpc", &[OCTET], &frame)
            .await;
        assert_eq!(r.status, 200);
        let reply = open_response(&key, &r.body).unwrap();
        assert_eq!(reply.info.code, 400);
        assert_eq!(
            reply.body.as_deref(),
            Some(&b"Invalid v4 onion request"[..])
        );
    }
}

/// `u32le(N) ‖ Enc(plaintext) ‖ {"ephemeral_key","enc_type"}` for any plaintext.
fn raw_frame(srv: &Server, enc: EncType, plaintext: &[u8]) -> (Vec<u8>, HopKey) {
    let layer = client_encrypt(enc, &srv.pk, plaintext).unwrap();
    let control = EntryMetadata {
        ephemeral_key: layer.ephemeral_public,
        enc_type: Some(enc.into()),
        hop_no: None,
    };
    (
        encode_frame(&layer.ciphertext, &control).unwrap(),
        layer.key,
    )
}

async fn v3(srv: &Server, path: &str, enc: EncType, request: &Value) -> Vec<u8> {
    let (frame, key) = raw_frame(srv, enc, request.to_string().as_bytes());
    let r = srv.call_with(None, "POST", path, &[OCTET], &frame).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sealed = STANDARD.decode(r.text().trim()).unwrap();
    key.decrypt_reply(&sealed).unwrap()
}

#[tokio::test]
async fn v3_requests() {
    for srv in servers().await {
        let alice = User::new();
        for (path, enc) in [
            ("/oxen/v3/lsrpc", EncType::XChaCha20),
            ("/loki/v3/lsrpc", EncType::AesGcm),
        ] {
            // 2xx: the body itself.
            let out = v3(
                &srv,
                path,
                enc,
                &json!({"endpoint": "/room/lobby", "method": "GET"}),
            )
            .await;
            let info: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(info["token"], "lobby", "{}", srv.backend);
            // Android's "null" GET body is tolerated.
            let out = v3(
                &srv,
                path,
                enc,
                &json!({"endpoint": "/capabilities", "method": "GET", "body": "null"}),
            )
            .await;
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap()["capabilities"][2],
                "sogs"
            );
            // Non-2xx: {"status_code": N}; legacy endpoints are not served.
            let out = v3(
                &srv,
                path,
                enc,
                &json!({"endpoint": "/room/nope", "method": "GET"}),
            )
            .await;
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap(),
                json!({"status_code": 404})
            );
            let out = v3(
                &srv,
                path,
                enc,
                &json!({"endpoint": "rooms", "method": "GET"}),
            )
            .await;
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap(),
                json!({"status_code": 404})
            );
            // Not a v3 request: 400 inside.
            let out = v3(&srv, path, enc, &json!({"method": "GET"})).await;
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap(),
                json!({"status_code": 400})
            );
            // A signed POST with a string body.
            let body = json!({"data": "aGk=", "signature": STANDARD.encode([2u8; 64])}).to_string();
            let headers = inner_headers(
                &srv,
                Some(&alice),
                "POST",
                "/room/lobby/message",
                body.as_bytes(),
            );
            let out = v3(
                &srv,
                path,
                enc,
                &json!({"endpoint": "/room/lobby/message", "method": "POST", "headers": headers, "body": body}),
            )
            .await;
            let msg: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(msg["session_id"], alice.hex(&srv));
        }
    }
}
