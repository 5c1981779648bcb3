#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The file server over real HTTP on 127.0.0.1 with a mock clock: uploads, downloads,
//! info, TTLs, expiry and purge, content ids and extend, the deprecated endpoints,
//! `/session_version` with `X-FS-*` authentication, v4 and v3 onion requests, and a
//! server started from a `files.toml`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::X25519Keypair;
use session_crypto::onion::EncType;
use session_files::server::{PURGE_INTERVAL, THREE_WEEKS};
use session_files::{FileServer, FileSettings, FileStore, purge_loop, serve};
use session_rt::http::{HttpConnection, HttpReply};
use session_rt::lsrpc::{open_response, seal_request};
use session_rt::{MockClock, ShutdownTrigger};
use session_wire::onion::V4RequestInfo;

const START_MS: u64 = 1_700_000_000_000;
const START: f64 = 1_700_000_000.0;

struct Srv {
    addr: SocketAddr,
    clock: MockClock,
    state: FileServer,
    _trigger: ShutdownTrigger,
    _dir: tempfile::TempDir,
}

async fn start(settings: FileSettings) -> Srv {
    start_at(settings, START_MS).await
}

async fn start_at(settings: FileSettings, start_ms: u64) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path()).unwrap());
    let clock = MockClock::new(start_ms);
    let key = Arc::new(X25519Keypair::generate().unwrap());
    let state = FileServer::new(Arc::clone(&store), clock.shared(), key, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = session_rt::shutdown::channel();
    tokio::spawn(serve(state.clone(), listener, shutdown.clone()));
    tokio::spawn(purge_loop(store, clock.shared(), PURGE_INTERVAL, shutdown));
    Srv {
        addr,
        clock,
        state,
        _trigger: trigger,
        _dir: dir,
    }
}

fn ttl_settings() -> FileSettings {
    FileSettings {
        max_ttl: Some(30.0 * 86_400.0),
        ..FileSettings::default()
    }
}

impl Srv {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpReply {
        let mut c = HttpConnection::connect(self.addr, false).await.unwrap();
        c.request(method, path, headers, body.to_vec())
            .await
            .unwrap()
    }

    async fn upload(&self, body: &[u8], headers: &[(&str, &str)]) -> HttpReply {
        self.call("POST", "/file", headers, body).await
    }
}

fn json_of(r: &HttpReply) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn id_of(r: &HttpReply) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_of(r);
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.parse::<u64>().unwrap() < 1 << 53);
    id
}

#[tokio::test]
async fn upload_download_info() {
    let srv = start(FileSettings::default()).await;
    let r = srv.upload(b"encrypted blob", &[]).await;
    let id = id_of(&r);
    assert_eq!(
        json_of(&r)["expires"].as_f64().unwrap(),
        START + THREE_WEEKS
    );

    let r = srv.call("GET", &format!("/file/{id}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"encrypted blob");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let expires = session_rt::time::UtcTime::from_unix_f64(START + THREE_WEEKS).http_date();
    assert_eq!(r.header("expires"), Some(expires.as_str()));

    let r = srv.call("GET", &format!("/file/{id}/info"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        json_of(&r),
        json!({"size": 14, "uploaded": START, "expires": START + THREE_WEEKS})
    );
}

#[tokio::test]
async fn too_large_and_empty_are_413() {
    let srv = start(FileSettings {
        max_file_size: 1000,
        ..FileSettings::default()
    })
    .await;
    for body in [vec![], vec![7u8; 1001]] {
        let r = srv.upload(&body, &[]).await;
        assert_eq!(r.status, 413);
        assert_eq!(json_of(&r), json!({"status_code": 413}));
    }
    id_of(&srv.upload(&[7u8; 1000], &[]).await);
}

#[tokio::test]
async fn default_limit_accepts_ten_megabytes() {
    let srv = start(FileSettings::default()).await;
    let big = vec![1u8; 10_000_000];
    let id = id_of(&srv.upload(&big, &[]).await);
    let r = srv.call("GET", &format!("/file/{id}"), &[], b"").await;
    assert_eq!(r.body.len(), 10_000_000);
    assert_eq!(srv.upload(&[1u8; 10_000_001], &[]).await.status, 413);
}

#[tokio::test]
async fn ttl_header() {
    let srv = start(ttl_settings()).await;
    let r = srv.upload(b"x", &[("X-FS-TTL", "3600")]).await;
    id_of(&r);
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 3600.0);
    for bad in ["abc", "-5", "0", "2592001", "inf"] {
        let r = srv.upload(b"x", &[("X-FS-TTL", bad)]).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(json_of(&r), json!({"status_code": 400}));
    }
    // Without a configured maximum the header is ignored.
    let srv = start(FileSettings::default()).await;
    let r = srv.upload(b"x", &[("X-FS-TTL", "abc")]).await;
    id_of(&r);
    assert_eq!(
        json_of(&r)["expires"].as_f64().unwrap(),
        START + THREE_WEEKS
    );
}

#[tokio::test]
async fn expiry_and_purge() {
    let srv = start(ttl_settings()).await;
    let id = id_of(&srv.upload(b"short-lived", &[("X-FS-TTL", "60")]).await);
    let keep = id_of(&srv.upload(b"long-lived", &[]).await);
    let path = srv.state.store().file_path(&id);
    assert!(path.exists());

    srv.clock.advance(Duration::from_secs(60));
    assert_eq!(
        srv.call("GET", &format!("/file/{id}"), &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        srv.call("GET", &format!("/file/{id}/info"), &[], b"")
            .await
            .status,
        404
    );

    // The purge loop (on the mock clock) removes the bytes.
    srv.clock.advance(PURGE_INTERVAL);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(tokio::time::Instant::now() < deadline, "file not purged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        srv.call("GET", &format!("/file/{keep}"), &[], b"")
            .await
            .status,
        200
    );
}

fn content_settings() -> FileSettings {
    FileSettings {
        backwards_compat_ids: false,
        ..ttl_settings()
    }
}

#[tokio::test]
async fn content_ids_deduplicate() {
    let srv = start(content_settings()).await;
    let r = srv
        .upload(b"deterministic blob", &[("X-FS-TTL", "60")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = json_of(&r)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        session_crypto::attachments::file_server_content_id(b"deterministic blob")
    );
    assert_eq!(id.len(), 44);
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 60.0);
    // The same bytes again: the same id, the longer expiry kept, stored once.
    srv.clock.advance(Duration::from_secs(10));
    let r = srv
        .upload(b"deterministic blob", &[("X-FS-TTL", "30")])
        .await;
    assert_eq!(json_of(&r)["id"], id.as_str());
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 60.0);
    let r = srv
        .upload(b"deterministic blob", &[("X-FS-TTL", "600")])
        .await;
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 610.0);
    let stats = srv.state.store().stats(START + 10.0).unwrap();
    assert_eq!((stats.files, stats.bytes), (1, 18));
    let r = srv.call("GET", &format!("/file/{id}"), &[], b"").await;
    assert_eq!(&r.body[..], b"deterministic blob");
    let r = srv.call("GET", &format!("/file/{id}/info"), &[], b"").await;
    assert_eq!(
        json_of(&r),
        json!({"size": 18, "uploaded": START + 10.0, "expires": START + 610.0})
    );
    // Other bytes, another id; the deprecated endpoint still gives integers.
    let other = json_of(&srv.upload(b"other", &[]).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(other, id);
    let body = json!({"file": STANDARD.encode(b"old")}).to_string();
    let r = srv.call("POST", "/files", &[], body.as_bytes()).await;
    assert!(json_of(&r)["result"].as_u64().is_some(), "{}", r.text());
}

#[tokio::test]
async fn extend() {
    let srv = start(content_settings()).await;
    let id = json_of(&srv.upload(b"x", &[("X-FS-TTL", "60")]).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    srv.clock.advance(Duration::from_secs(30));
    let r = srv
        .call(
            "POST",
            &format!("/file/{id}/extend"),
            &[("X-FS-TTL", "600")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_of(&r),
        json!({"size": 1, "uploaded": START, "expires": START + 630.0})
    );
    // Never shortened.
    let r = srv
        .call(
            "POST",
            &format!("/file/{id}/extend"),
            &[("X-FS-TTL", "10")],
            b"",
        )
        .await;
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 630.0);
    let r = srv
        .call(
            "POST",
            &format!("/file/{id}/extend"),
            &[("X-FS-TTL", "x")],
            b"",
        )
        .await;
    assert_eq!(r.status, 400);
    srv.clock.advance(Duration::from_secs(600));
    assert_eq!(
        srv.call("GET", &format!("/file/{id}"), &[], b"")
            .await
            .status,
        404
    );
    let r = srv
        .call("POST", &format!("/file/{id}/extend"), &[], b"")
        .await;
    assert_eq!(r.status, 404);

    // Numeric ids cannot be extended (the spec: 404), even while they live.
    let srv = start(ttl_settings()).await;
    let numeric = id_of(&srv.upload(b"x", &[("X-FS-TTL", "60")]).await);
    let r = srv
        .call("POST", &format!("/file/{numeric}/extend"), &[], b"")
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(json_of(&r), json!({"status_code": 404}));
    let r = srv
        .call("GET", &format!("/file/{numeric}/info"), &[], b"")
        .await;
    assert_eq!(json_of(&r)["expires"].as_f64().unwrap(), START + 60.0);
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let srv = start(FileSettings::default()).await;
    for path in [
        "/file/12345",
        "/file/abc",
        "/file/12345/info",
        "/files/12345",
        "/file/0012345",
        "/file/9007199254740992",
        "/file/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/file/%2E%2E%2Ffiles.db",
        "/nope",
    ] {
        let r = srv.call("GET", path, &[], b"").await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(json_of(&r), json!({"status_code": 404}));
    }
}

#[tokio::test]
async fn deprecated_endpoints() {
    let srv = start(FileSettings::default()).await;
    let body = json!({"file": STANDARD.encode(b"old client")}).to_string();
    let r = srv
        .call(
            "POST",
            "/files",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(v["status_code"], 200);
    let id = v["result"].as_u64().unwrap();

    let r = srv.call("GET", &format!("/files/{id}"), &[], b"").await;
    assert_eq!(
        json_of(&r),
        json!({"status_code": 200, "result": STANDARD.encode(b"old client")})
    );
    // Also reachable through the new endpoint.
    let r = srv.call("GET", &format!("/file/{id}"), &[], b"").await;
    assert_eq!(&r.body[..], b"old client");

    let r = srv.call("POST", "/files", &[], b"not json").await;
    assert_eq!(r.status, 400);
    let r = srv
        .call(
            "POST",
            "/files",
            &[],
            json!({"file": ""}).to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn v4_onion_round_trip() {
    let srv = start(FileSettings::default()).await;
    let pk = *srv.state.public_key();
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let info = V4RequestInfo {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: BTreeMap::from([(
                "Content-Type".to_owned(),
                "application/octet-stream".to_owned(),
            )]),
        };
        let (frame, key) = seal_request(&pk, enc, &info, Some(b"via onion")).unwrap();
        let r = srv
            .call(
                "POST",
                "/oxen/v4/lsrpc",
                &[("content-type", "application/octet-stream")],
                &frame,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let resp = open_response(&key, &r.body).unwrap();
        assert_eq!(resp.info.code, 200);
        let v: Value = serde_json::from_slice(resp.body.as_deref().unwrap()).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();

        let info = V4RequestInfo {
            method: "GET".into(),
            endpoint: format!("/file/{id}"),
            headers: BTreeMap::new(),
        };
        let (frame, key) = seal_request(&pk, enc, &info, None).unwrap();
        let r = srv
            .call(
                "POST",
                "/oxen/v4/lsrpc",
                &[("content-type", "application/octet-stream")],
                &frame,
            )
            .await;
        assert_eq!(r.status, 200);
        let resp = open_response(&key, &r.body).unwrap();
        assert_eq!(resp.info.code, 200);
        assert_eq!(resp.body.as_deref(), Some(&b"via onion"[..]));
    }
}

#[tokio::test]
async fn purge_loop_counts_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path()).unwrap());
    let paths: Vec<_> = [b"a", b"b"]
        .iter()
        .map(|b| store.file_path(&store.put(*b, START, 10.0).unwrap().id))
        .collect();
    let clock = MockClock::new(START_MS);
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let task = tokio::spawn(purge_loop(
        Arc::clone(&store),
        clock.shared(),
        PURGE_INTERVAL,
        shutdown,
    ));
    // Nothing has expired at the first run; the next tick (15 s later) purges both.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(paths.iter().all(|p| p.exists()));
    clock.advance(PURGE_INTERVAL);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while paths.iter().any(|p| p.exists()) {
        assert!(tokio::time::Instant::now() < deadline, "files not purged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    trigger.trigger();
    let total = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total, 2);
}

/// A v3 onion request: `u32le(N) ‖ Enc(JSON) ‖ control`, answered with the base64 of the
/// sealed sub-response body (2xx) or of `{"status_code": N}`.
async fn v3(srv: &Srv, path: &str, enc: EncType, request: &Value) -> Vec<u8> {
    let layer = session_crypto::onion::client_encrypt(
        enc,
        srv.state.public_key(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let control = session_wire::onion::EntryMetadata {
        ephemeral_key: layer.ephemeral_public,
        enc_type: Some(enc.into()),
        hop_no: None,
    };
    let frame = session_wire::onion::encode_frame(&layer.ciphertext, &control).unwrap();
    let r = srv
        .call(
            "POST",
            path,
            &[("content-type", "application/octet-stream")],
            &frame,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sealed = STANDARD.decode(r.text().trim()).unwrap();
    layer.key.decrypt_reply(&sealed).unwrap()
}

#[tokio::test]
async fn v3_onion_requests() {
    let srv = start(FileSettings::default()).await;
    for (path, enc) in [
        ("/oxen/v3/lsrpc", EncType::XChaCha20),
        ("/loki/v3/lsrpc", EncType::AesGcm),
    ] {
        // The deprecated JSON upload and download, the endpoint without its leading `/`.
        let body = json!({"file": STANDARD.encode(b"v3 bytes")}).to_string();
        let out = v3(
            &srv,
            path,
            enc,
            &json!({"endpoint": "files", "method": "POST", "body": body}),
        )
        .await;
        let v: Value = serde_json::from_slice(&out).unwrap();
        let id = v["result"].as_u64().unwrap();
        let out = v3(
            &srv,
            path,
            enc,
            &json!({"endpoint": format!("/files/{id}"), "method": "GET", "body": "null"}),
        )
        .await;
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["result"], STANDARD.encode(b"v3 bytes"));
        // The raw download works too (2xx: the body itself).
        let out = v3(
            &srv,
            path,
            enc,
            &json!({"endpoint": format!("file/{id}"), "method": "GET"}),
        )
        .await;
        assert_eq!(out, b"v3 bytes");
        // Not found, and not a v3 request at all.
        let out = v3(
            &srv,
            path,
            enc,
            &json!({"endpoint": "file/1", "method": "GET"}),
        )
        .await;
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({"status_code": 404})
        );
        let out = v3(&srv, path, enc, &json!({"method": "GET"})).await;
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({"status_code": 400})
        );
        // Garbage: 400 in plaintext.
        let r = srv.call("POST", path, &[], b"garbage").await;
        assert_eq!(r.status, 400);
    }
}
