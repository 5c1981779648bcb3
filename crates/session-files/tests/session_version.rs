#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! `/session_version` over real HTTP, served by a [`FilesServer`] opened from a real
//! `files.toml` (key file, SQLite store) with a mock clock: the answer per platform and
//! channel, 404/502, and the `X-FS-*` authentication — the libsession known-answer
//! vector, base64 and hex forms, wrong signature, stale timestamp, partial headers,
//! signed query and body — with verified checks counted in the store; also through a
//! v4 onion request.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::Ed25519Seed;
use session_crypto::blinding::{version_blinded_id, version_sign_request};
use session_crypto::onion::EncType;
use session_files::{FilesConfig, FilesServer, RunningFiles};
use session_rt::MockClock;
use session_rt::http::{HttpConnection, HttpReply};
use session_rt::lsrpc::{open_response, seal_request};
use session_wire::onion::V4RequestInfo;

const VECTORS: &str = include_str!("vectors/version_blinding.json");

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
data_dir = "data"

[session_version.desktop]
version = "1.16.2"
name = "Session 1.16.2"
notes = "Fixes."
assets = [{ name = "session.AppImage", url = "https://example.org/session.AppImage" }]

[session_version.desktop.prerelease]
version = "1.17.0"

[session_version.desktop.alpha]
version = "1.18.0"
notes = "Alpha."

[session_version.ios]
version = "2.13.1"
"#;

struct Srv {
    server: RunningFiles,
    clock: MockClock,
    state: session_files::FileServer,
    _dir: tempfile::TempDir,
}

async fn start(now_ms: u64) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let config = FilesConfig::load(&path).unwrap();
    let clock = MockClock::new(now_ms);
    let files = FilesServer::open_with_clock(&config, clock.shared()).unwrap();
    assert!(files.key_created());
    assert!(dir.path().join("data/key_x25519").exists());
    assert!(dir.path().join("data/files.db").exists());
    let state = files.state().clone();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let server = files.spawn(listener).unwrap();
    Srv {
        server,
        clock,
        state,
        _dir: dir,
    }
}

impl Srv {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpReply {
        self.call("GET", path, headers, b"").await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpReply {
        let mut c = HttpConnection::connect(self.server.addr, false)
            .await
            .unwrap();
        c.request(method, path, headers, body.to_vec())
            .await
            .unwrap()
    }

    fn checks_by(&self, id: &str) -> u64 {
        self.state.store().version_checks_by(id).unwrap()
    }
}

fn json_of(r: &HttpReply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

fn vector() -> Value {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    v["vectors"][0].clone()
}

fn seed_of(v: &Value) -> Ed25519Seed {
    let sk = hex::decode(v["input"]["ed25519_sk_64"].as_str().unwrap()).unwrap();
    Ed25519Seed::from_bytes(&sk[..32]).unwrap()
}

const NOW: u64 = 1_700_000_000;

#[tokio::test]
async fn answers_per_platform_and_channel() {
    let srv = start(NOW * 1000).await;
    let updated = NOW as f64;
    let r = srv.get("/session_version?platform=desktop", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        json_of(&r),
        json!({
            "status_code": 200, "updated": updated, "result": "1.16.2",
            "name": "Session 1.16.2", "notes": "Fixes.",
            "assets": [{"name": "session.AppImage", "url": "https://example.org/session.AppImage"}],
            "prerelease": {"result": "1.17.0", "updated": updated},
        })
    );
    let r = srv
        .get(
            "/session_version?platform=desktop&release_channel=alpha",
            &[],
        )
        .await;
    let v = json_of(&r);
    assert_eq!(
        (v["result"].as_str(), v["notes"].as_str()),
        (Some("1.18.0"), Some("Alpha."))
    );
    let r = srv
        .get("/session_version?release_channel=stable&platform=ios", &[])
        .await;
    assert_eq!(
        json_of(&r),
        json!({"status_code": 200, "updated": updated, "result": "2.13.1"})
    );
    // Not configured: 502; unknown or missing platform: 404.
    let r = srv.get("/session_version?platform=android", &[]).await;
    assert_eq!(r.status, 502);
    assert_eq!(json_of(&r), json!({"status_code": 502}));
    for path in [
        "/session_version?platform=windows",
        "/session_version?platform=",
        "/session_version",
    ] {
        let r = srv.get(path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(json_of(&r), json!({"status_code": 404}));
    }
    srv.server.stop().await.unwrap();
}

#[tokio::test]
async fn libsession_vector_authenticates() {
    let v = vector();
    let ts = v["input"]["timestamp"].as_u64().unwrap();
    // The server's clock an hour after the vector's timestamp (within ±24 h).
    let srv = start((ts + 3600) * 1000).await;
    let pubkey = v["expected"]["header_pubkey"].as_str().unwrap();
    assert_eq!(version_blinded_id(&seed_of(&v)).to_hex(), pubkey);
    let sig = hex::decode(v["expected"]["signature"].as_str().unwrap()).unwrap();
    let ts_text = ts.to_string();
    assert_eq!(
        format!("{ts_text}GET/session_version?platform=desktop"),
        v["expected"]["signed_message_ascii"].as_str().unwrap()
    );
    // Hex and base64 signatures (and base64 pubkey) are both accepted.
    let pk_b64 = STANDARD.encode(hex::decode(pubkey).unwrap());
    let sig_b64 = STANDARD.encode(&sig);
    let sig_hex = hex::encode(&sig);
    for (pk, s) in [
        (pubkey, sig_b64.as_str()),
        (pk_b64.as_str(), sig_hex.as_str()),
    ] {
        let r = srv
            .get(
                "/session_version?platform=desktop",
                &[
                    ("X-FS-Pubkey", pk),
                    ("X-FS-Timestamp", &ts_text),
                    ("X-FS-Signature", s),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(json_of(&r)["result"], "1.16.2");
    }
    assert_eq!(srv.checks_by(pubkey), 2);
    let stats = srv.state.store().stats(0.0).unwrap();
    assert_eq!((stats.version_checks, stats.version_check_accounts), (2, 1));

    // The same signature on another path or platform does not verify: 401.
    let r = srv
        .get(
            "/session_version?platform=ios",
            &[
                ("X-FS-Pubkey", pubkey),
                ("X-FS-Timestamp", &ts_text),
                ("X-FS-Signature", &sig_b64),
            ],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("X-FS-Signature verification failed"));

    // More than 24 h away: 425.
    srv.clock.set_ms((ts + 24 * 3600 + 3601) * 1000);
    let r = srv
        .get(
            "/session_version?platform=desktop",
            &[
                ("X-FS-Pubkey", pubkey),
                ("X-FS-Timestamp", &ts_text),
                ("X-FS-Signature", &sig_b64),
            ],
        )
        .await;
    assert_eq!(r.status, 425, "{}", r.text());
    assert_eq!(srv.checks_by(pubkey), 2);
}

#[tokio::test]
async fn bad_and_partial_headers() {
    let srv = start(NOW * 1000).await;
    let seed = Ed25519Seed::from_array([9; 32]);
    let id = version_blinded_id(&seed).to_hex();
    let ts = NOW.to_string();
    let path = "/session_version?platform=desktop&release_channel=alpha";
    let sig = STANDARD.encode(version_sign_request(&seed, NOW, "GET", path, b""));
    let good = [
        ("X-FS-Pubkey", id.as_str()),
        ("X-FS-Timestamp", ts.as_str()),
        ("X-FS-Signature", sig.as_str()),
    ];
    let r = srv.get(path, &good).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["result"], "1.18.0");
    assert_eq!(srv.checks_by(&id), 1);

    // One or two headers missing (or empty): 400.
    for drop in 0..3 {
        let partial: Vec<(&str, &str)> = good
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, h)| *h)
            .collect();
        let r = srv.get(path, &partial).await;
        assert_eq!(r.status, 400, "without {}", good[drop].0);
        assert!(r.text().contains("missing"), "{}", r.text());
        let r = srv.get(path, &partial[..1]).await;
        assert_eq!(r.status, 400);
    }
    let mut empty = good;
    empty[2].1 = "";
    assert_eq!(srv.get(path, &empty).await.status, 400);

    // Malformed values: 400; a wrong signature: 401; a stale timestamp: 425.
    let not_07 = format!("05{}", &id[2..]);
    let old = (NOW - 25 * 3600).to_string();
    let old_sig = STANDARD.encode(version_sign_request(
        &seed,
        NOW - 25 * 3600,
        "GET",
        path,
        b"",
    ));
    let other_sig = STANDARD.encode(version_sign_request(
        &Ed25519Seed::from_array([8; 32]),
        NOW,
        "GET",
        path,
        b"",
    ));
    for (headers, status) in [
        ([good[0], good[1], ("X-FS-Signature", "AAAA")], 400),
        ([("X-FS-Pubkey", "07abc"), good[1], good[2]], 400),
        ([("X-FS-Pubkey", not_07.as_str()), good[1], good[2]], 400),
        ([good[0], ("X-FS-Timestamp", "soon"), good[2]], 400),
        (
            [good[0], good[1], ("X-FS-Signature", other_sig.as_str())],
            401,
        ),
        (
            [
                good[0],
                ("X-FS-Timestamp", old.as_str()),
                ("X-FS-Signature", old_sig.as_str()),
            ],
            425,
        ),
    ] {
        let r = srv.get(path, &headers).await;
        assert_eq!(r.status, status, "{headers:?}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // The bad platform check comes first: 404 even with bad auth.
    let r = srv
        .get("/session_version?platform=nope", &[("X-FS-Pubkey", "x")])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(srv.checks_by(&id), 1);

    // A request with a body is signed over BLAKE2b-512 of it.
    let body = b"{\"note\": 1}";
    let plain = "/session_version?platform=ios";
    let sig = STANDARD.encode(version_sign_request(&seed, NOW, "GET", plain, body));
    let headers = [good[0], good[1], ("X-FS-Signature", sig.as_str())];
    let r = srv.call("GET", plain, &headers, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv.call("GET", plain, &headers, b"{\"note\": 2}").await;
    assert_eq!(r.status, 401);
    assert_eq!(srv.checks_by(&id), 2);
}

#[tokio::test]
async fn through_an_onion_request() {
    let srv = start(NOW * 1000).await;
    let seed = Ed25519Seed::from_array([3; 32]);
    let id = version_blinded_id(&seed).to_hex();
    let endpoint = "/session_version?platform=desktop";
    let sig = STANDARD.encode(version_sign_request(&seed, NOW, "GET", endpoint, b""));
    let info = V4RequestInfo {
        method: "GET".into(),
        endpoint: endpoint.into(),
        headers: BTreeMap::from([
            ("X-FS-Pubkey".to_owned(), id.clone()),
            ("X-FS-Timestamp".to_owned(), NOW.to_string()),
            ("X-FS-Signature".to_owned(), sig),
        ]),
    };
    let (frame, key) =
        seal_request(&srv.server.public_key, EncType::XChaCha20, &info, None).unwrap();
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
    assert_eq!(v["result"], "1.16.2");
    assert_eq!(srv.checks_by(&id), 1);
}

#[tokio::test]
async fn a_configured_server_restarts_with_its_key_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\nbackwards_compat_ids = false",
    )
    .unwrap();
    let config = FilesConfig::load(&path).unwrap();
    let run = |config: FilesConfig| async move {
        let files = FilesServer::open(&config).unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        files.spawn(listener).unwrap()
    };
    let first = run(config.clone()).await;
    let mut c = HttpConnection::connect(first.addr, false).await.unwrap();
    let r = c
        .request("POST", "/file", &[], b"kept".to_vec())
        .await
        .unwrap();
    let id = json_of(&r)["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 44);
    let key = first.public_key;
    first.stop().await.unwrap();
    assert!(Path::new(&dir.path().join("files-data/files.db")).exists());

    let second = run(config).await;
    assert_eq!(second.public_key, key);
    let mut c = HttpConnection::connect(second.addr, false).await.unwrap();
    let r = c
        .request("GET", &format!("/file/{id}"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(&r.body[..], b"kept");
    second.stop().await.unwrap();
}
