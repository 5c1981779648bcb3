//! A table of bad requests: each gets the reference's status and message, and none
//! stores anything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{Value, json};
use session_node::network::{NetworkView, SnodeInfo, Swarm, SwarmLookup};
use session_node::types::UserPubkey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn bad_request_table() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(50);
    let sid = u.session_id();
    let now = node.now();
    let good = u.store(3, now, 60_000, b"payload");
    let with = |k: &str, v: Value| {
        let mut p = good.clone();
        p[k] = v;
        json!({"method": "store", "params": p}).to_string()
    };
    let without = |k: &str| {
        let mut p = good.clone();
        p.as_object_mut().unwrap().remove(k);
        json!({"method": "store", "params": p}).to_string()
    };
    let envelope = |m: &str, p: Value| json!({"method": m, "params": p}).to_string();

    let cases: Vec<(&str, String, u16, String)> = vec![
        (
            "malformed json",
            "{\"method\": \"store\", ".into(),
            400,
            "invalid json".into(),
        ),
        ("not json", "hello".into(), 400, "invalid json".into()),
        ("empty body", String::new(), 400, "invalid json".into()),
        (
            "no method",
            json!({"params": {}}).to_string(),
            400,
            "invalid json: no `method` field".into(),
        ),
        (
            "method not a string",
            json!({"method": 1, "params": {}}).to_string(),
            400,
            "invalid json: no `method` field".into(),
        ),
        (
            "no params",
            json!({"method": "store"}).to_string(),
            400,
            "invalid json: no `params` field".into(),
        ),
        (
            "params not an object",
            json!({"method": "store", "params": [1]}).to_string(),
            400,
            "invalid json: no `params` field".into(),
        ),
        (
            "unknown method",
            envelope("frobnicate", json!({})),
            400,
            "no method frobnicate".into(),
        ),
        (
            "oxend_request without an endpoint",
            envelope("oxend_request", json!({})),
            400,
            "invalid request: oxend_request: no string \"endpoint\" field".into(),
        ),
        (
            "oxend_request to an endpoint that is not allowed",
            envelope("oxend_request", json!({"endpoint": "get_block"})),
            400,
            "invalid request: oxend_request: endpoint \"get_block\" is not allowed (only \
             get_service_nodes and ons_resolve)"
                .into(),
        ),
        (
            "oxend_request on a node without a registry",
            envelope("oxend_request", json!({"endpoint": "get_service_nodes"})),
            502,
            "oxend request failed: this node follows no registry".into(),
        ),
        (
            "missing pubkey",
            without("pubkey"),
            400,
            "invalid request: Required field 'pubkey' missing".into(),
        ),
        (
            "short pubkey",
            with("pubkey", json!(&sid[2..])),
            400,
            "invalid request: Pubkey must be 66 hex digits (33 bytes) long".into(),
        ),
        (
            "non-hex pubkey",
            with("pubkey", json!(format!("05{}", "zz".repeat(32)))),
            400,
            "invalid request: Pubkey must be 66 hex digits (33 bytes) long".into(),
        ),
        (
            "both pubkey and pubKey",
            with("pubKey", json!(sid)),
            400,
            "invalid request: Cannot specify both 'pubkey' and 'pubKey'".into(),
        ),
        (
            "missing timestamp",
            without("timestamp"),
            400,
            "invalid request: Required field 'timestamp' missing".into(),
        ),
        (
            "missing ttl",
            without("ttl"),
            400,
            "invalid request: Required field 'expiry' or 'ttl' missing".into(),
        ),
        (
            "ttl and expiry",
            with("expiry", json!(now + 60_000)),
            400,
            "invalid request: Cannot specify both 'expiry' and 'ttl'".into(),
        ),
        (
            "ttl not a number",
            with("ttl", json!("soon")),
            400,
            "invalid request: Invalid value given for 'ttl': \"soon\"".into(),
        ),
        (
            "negative ttl",
            with("ttl", json!(-5)),
            400,
            "invalid request: Invalid value given for 'ttl': expected positive integer".into(),
        ),
        (
            "expiry in seconds",
            {
                let mut p = good.clone();
                p.as_object_mut().unwrap().remove("ttl");
                p["expiry"] = json!(1_000_000);
                json!({"method":"store","params":p}).to_string()
            },
            400,
            "invalid request: Invalid timestamp for 'expiry': timestamp must be in milliseconds"
                .into(),
        ),
        (
            "missing data",
            without("data"),
            400,
            "invalid request: Required field 'data' missing".into(),
        ),
        (
            "bad base64 data",
            with("data", json!("not*base64!")),
            400,
            "invalid request: Invalid 'data' value: not base64 encoded".into(),
        ),
        (
            "oversize data",
            with("data", json!(b64(&vec![0u8; 76_801]))),
            400,
            "invalid request: Message body exceeds maximum allowed length of 76800 bytes".into(),
        ),
        (
            "namespace out of range",
            with("namespace", json!(40_000)),
            400,
            "invalid request: Invalid value given for 'namespace': value out of range".into(),
        ),
        (
            "namespace not an int",
            with("namespace", json!("3")),
            400,
            "invalid request: Invalid value given for 'namespace': expected 16-bit integer".into(),
        ),
        (
            "bad signature encoding",
            with("signature", json!("abc")),
            400,
            "invalid request: invalid signature: expected base64 encoded Ed25519 signature".into(),
        ),
        (
            "bad pubkey_ed25519",
            with("pubkey_ed25519", json!("abcd")),
            400,
            "invalid request: Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey"
                .into(),
        ),
        (
            "non-hex pubkey_ed25519",
            with("pubkey_ed25519", json!("x".repeat(64))),
            400,
            "invalid request: invalid pubkey_ed25519: value is not hex".into(),
        ),
        (
            "wrong signature",
            with("signature", json!(u.sign(b"store31"))),
            401,
            "store signature verification failed".into(),
        ),
        (
            "signature by the wrong key",
            with(
                "signature",
                json!(User::new(51).sign(format!("store3{now}").as_bytes())),
            ),
            401,
            "store signature verification failed".into(),
        ),
        (
            "wrong pubkey_ed25519",
            with("pubkey_ed25519", json!(User::new(51).ed_hex())),
            401,
            "store signature verification failed".into(),
        ),
        (
            "no signature for ns 3",
            without("signature"),
            401,
            "store: signature required to store to namespace 3".into(),
        ),
        (
            "stale signature timestamp",
            with("sig_timestamp", json!(now - 3_600_000)),
            406,
            "store signature timestamp too far from current time".into(),
        ),
        (
            "future timestamp",
            {
                let t = now + 3_600_000;
                let mut p = u.store(3, t, 60_000, b"x");
                p["sig_timestamp"] = json!(now);
                p["signature"] = json!(u.sign(format!("store3{now}").as_bytes()));
                json!({"method":"store","params":p}).to_string()
            },
            406,
            "Timestamp error: check your clock".into(),
        ),
        (
            "stale message",
            envelope("store", u.store(3, now - 3_600_000, 60_000, b"x")),
            406,
            "Timestamp error: check your clock".into(),
        ),
        (
            "ttl too short",
            with("ttl", json!(9_999)),
            403,
            "Provided expiry/TTL is not valid.".into(),
        ),
        (
            "ttl too long",
            with("ttl", json!(31u64 * 86_400_000)),
            403,
            "Provided expiry/TTL is not valid.".into(),
        ),
        (
            "retrieve without signature",
            envelope("retrieve", json!({"pubkey": sid})),
            401,
            "retrieve: request signature required".into(),
        ),
        (
            "retrieve bad last_hash",
            envelope("retrieve", {
                let mut p = u.retrieve(0, now);
                p["last_hash"] = json!("short");
                p
            }),
            400,
            "invalid request: Invalid last_hash: expected base64 (43 chars)".into(),
        ),
        (
            "retrieve timestamp in seconds",
            envelope("retrieve", {
                let mut p = u.retrieve(0, now);
                p["timestamp"] = json!(1_700_000);
                p
            }),
            400,
            "invalid request: Invalid timestamp for 'timestamp': timestamp must be in milliseconds"
                .into(),
        ),
        (
            "retrieve signature without timestamp",
            envelope("retrieve", {
                let mut p = u.retrieve(0, now);
                p.as_object_mut().unwrap().remove("timestamp");
                p
            }),
            400,
            "invalid request: Required field 'timestamp' missing".into(),
        ),
        (
            "delete with invalid hash",
            envelope(
                "delete",
                json!({"pubkey": sid, "messages": ["nope"], "signature": u.sign(b"deletenope")}),
            ),
            400,
            "invalid request: invalid message hash: nope".into(),
        ),
        (
            "delete with no hashes",
            envelope(
                "delete",
                json!({"pubkey": sid, "messages": [], "signature": u.sign(b"delete")}),
            ),
            400,
            "invalid request: messages does not contain any message hashes".into(),
        ),
        (
            "delete_all bad namespace",
            envelope(
                "delete_all",
                json!({"pubkey": sid, "namespace": "some", "timestamp": now, "signature": u.sign(b"x")}),
            ),
            400,
            "invalid request: Invalid value given for 'namespace': expected integer or \"all\""
                .into(),
        ),
        (
            "expire shorten and extend",
            envelope(
                "expire",
                json!({"pubkey": sid, "messages": ["A".repeat(43)], "expiry": now, "shorten": true, "extend": true, "signature": u.sign(b"x")}),
            ),
            400,
            "invalid request: cannot specify both 'shorten' and 'extend'".into(),
        ),
        (
            "expire length mismatch",
            envelope(
                "expire",
                json!({"pubkey": sid, "messages": ["A".repeat(43)], "expiry": [now, now], "signature": u.sign(b"x")}),
            ),
            400,
            "invalid request: 'expiry' must be a single expiry, or the same length as 'messages'"
                .into(),
        ),
        (
            "get_swarm bad pubkey",
            envelope("get_swarm", json!({"pubkey": "05"})),
            400,
            "invalid request: Pubkey must be 66 hex digits/33 bytes long".into(),
        ),
    ];
    for (name, body, status, text) in cases {
        let r = c.raw(body).await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (status, text.as_str()),
            "{name}"
        );
        assert_eq!(r.content_type, "text/plain", "{name}");
        assert_eq!(node.count(), 0, "{name} stored nothing");
    }
    // And the good request does store.
    assert_eq!(c.rpc("store", good).await.status, 200);
    assert_eq!(node.count(), 1);
    node.stop().await;
}

/// A truncated body (Content-Length larger than what is sent, then EOF) is refused and
/// stores nothing; so is a body cut in the middle of the JSON.
#[tokio::test]
async fn truncated_bodies() {
    let node = TestNode::start_with(Opts {
        tls: false,
        ..Opts::default()
    })
    .await;
    let u = User::new(52);
    let now = node.now();
    let body =
        json!({"method": "store", "params": plain_store(&u.session_id(), 0, now, 60_000, b"cut")})
            .to_string();

    let mut s = tokio::net::TcpStream::connect(node.addr).await.unwrap();
    let head = format!(
        "POST /storage_rpc/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(node.count(), 0);

    // A Content-Length over 10 MiB is refused before the body is read.
    let mut s = tokio::net::TcpStream::connect(node.addr).await.unwrap();
    let head = format!(
        "POST /storage_rpc/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024 + 1
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut out))
        .await
        .unwrap()
        .unwrap();
    let out = String::from_utf8_lossy(&out[..n]);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.ends_with("Request body too large"), "{out}");

    let mut c = node.client().await;
    let r = c.raw(body[..body.len() - 3].to_owned()).await;
    assert_eq!((r.status, r.text.as_str()), (400, "invalid json"));
    assert_eq!(node.count(), 0);
    node.stop().await;
}

#[tokio::test]
async fn http_layer_rules() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    // Unknown routes: 404 "<METHOD> <url> Not Found".
    let r = c.conn.request("GET", "/nope?x=1", &[], "").await.unwrap();
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "GET /nope?x=1 Not Found")
    );
    let r = c
        .conn
        .request("GET", "/storage_rpc/v1", &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert!(r.header("server").is_some());
    // Deprecated stats.
    let r = c
        .conn
        .request("GET", "/get_stats/v1", &[], "")
        .await
        .unwrap();
    assert_eq!(r.text(), r#"{"version":"2.8.0"}"#);
    // Ping test: the node's key header.
    let r = c
        .conn
        .request("POST", "/ping_test/v1", &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        unb64(r.header("x-oxen-snode-pubkey").unwrap()),
        node.node_pubkey
    );
    // Long polling header → 410.
    let r = c
        .conn
        .request(
            "POST",
            "/storage_rpc/v1",
            &[("X-Loki-Long-Poll", "true")],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            410,
            "long polling is no longer supported, client upgrade required"
        )
    );
    // Exactly 10 MiB is read (and is not JSON).
    let mut c3 = node.client().await;
    let r = c3
        .conn
        .post("/storage_rpc/v1", vec![b' '; 10 * 1024 * 1024])
        .await
        .unwrap();
    assert_eq!((r.status, r.text().as_str()), (400, "invalid json"));
    assert_eq!(node.count(), 0);
    node.stop().await;
}

#[tokio::test]
async fn rate_limit_429() {
    let clock = session_rt::MockClock::new(T0);
    let node = TestNode::start_with(Opts {
        rate_limit: 5,
        clock: clock.clone(),
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    for _ in 0..10 {
        assert_eq!(c.rpc("info", json!({})).await.status, 200);
    }
    let r = c.rpc("info", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (429, "Too Many Requests\n"));
    // Virtual time refills the bucket.
    clock.advance(std::time::Duration::from_secs(1));
    for _ in 0..5 {
        assert_eq!(c.rpc("info", json!({})).await.status, 200);
    }
    assert_eq!(c.rpc("info", json!({})).await.status, 429);
    // Ping tests are not rate limited.
    let r = c
        .conn
        .request("POST", "/ping_test/v1", &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    node.stop().await;
}

/// A network view where this node is not ready, or owns only some accounts.
#[derive(Debug)]
struct TestNetwork {
    ready: bool,
    other: Swarm,
}

impl NetworkView for TestNetwork {
    fn lookup(&self, pk: &UserPubkey) -> SwarmLookup {
        if pk.key()[0] < 0x80 {
            SwarmLookup::Ours { peers: vec![] }
        } else {
            SwarmLookup::Elsewhere(self.other.clone())
        }
    }
    fn swarm_for(&self, _pk: &UserPubkey) -> Option<Swarm> {
        Some(self.other.clone())
    }
    fn hardfork(&self) -> (u8, u8) {
        (19, 4)
    }
    fn height(&self) -> u64 {
        1234
    }
    fn readiness(&self) -> Result<(), String> {
        if self.ready {
            Ok(())
        } else {
            Err("not in a swarm".into())
        }
    }
}

fn other_swarm() -> Swarm {
    Swarm {
        id: 0x3fff_ffff_ffff_ffff,
        members: vec![SnodeInfo {
            pubkey_ed25519: [0xde; 32],
            pubkey_x25519: [0xff; 32],
            pubkey_legacy: [0xde; 32],
            ip: "88.99.102.229".parse().unwrap(),
            https_port: 35505,
            omq_port: 35405,
        }],
    }
}

#[tokio::test]
async fn not_ready_503_and_wrong_swarm_421() {
    let node = TestNode::start_with(Opts {
        network: Some(Arc::new(TestNetwork {
            ready: false,
            other: other_swarm(),
        })),
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let r = c.rpc("info", json!({})).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (503, "Service node is not ready: not in a swarm\n")
    );
    node.stop().await;

    let node = TestNode::start_with(Opts {
        network: Some(Arc::new(TestNetwork {
            ready: true,
            other: other_swarm(),
        })),
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let now = node.now();
    // Find users on both sides of the split.
    let (mut ours, mut theirs) = (None, None);
    for n in 60..120u8 {
        let u = User::new(n);
        let first = hex::decode(&u.session_id()[2..4]).unwrap()[0];
        if first < 0x80 {
            ours.get_or_insert(u);
        } else {
            theirs.get_or_insert(u);
        }
    }
    let (ours, theirs) = (ours.unwrap(), theirs.unwrap());
    let r = c
        .rpc(
            "store",
            plain_store(&theirs.session_id(), 0, now, 60_000, b"x"),
        )
        .await;
    assert_eq!(r.status, 421);
    assert_eq!(r.json["swarm"], "3fffffffffffffff");
    assert_eq!(r.json["snodes"][0]["ip"], "88.99.102.229");
    assert_eq!(r.json["snodes"][0]["port"], "35505");
    assert_eq!(r.json["t"], now);
    let r = c.rpc("retrieve", theirs.retrieve(0, now)).await;
    assert_eq!(r.status, 421);
    assert_eq!(node.count(), 0);
    let r = c
        .rpc(
            "store",
            plain_store(&ours.session_id(), 0, now, 60_000, b"x"),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .rpc(
            "ifelse",
            json!({"if": {"height_at_least": 1000}, "then": {"method": "info", "params": {}}}),
        )
        .await;
    assert_eq!(r.json["height"], 1234);
    assert_eq!(r.json["condition"], true);
    node.stop().await;
}
