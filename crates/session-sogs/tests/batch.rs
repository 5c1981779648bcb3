#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! `/batch` and `/sequence` over real HTTP on every backend (§5.1): result shapes,
//! outer authentication carried into sub-requests (and not forgeable from inside),
//! validation before anything runs, and sequence stopping at the first failure.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{User, servers};
use serde_json::{Value, json};
use session_sogs::store::Scope;

fn post(text: &str) -> Value {
    json!({
        "method": "POST",
        "path": "/room/lobby/message",
        "json": {"data": STANDARD.encode(text), "signature": STANDARD.encode([5u8; 64])},
    })
}

#[tokio::test]
async fn batch_shapes() {
    for srv in servers().await {
        let reqs = json!([
            {"method": "GET", "path": "/capabilities"},
            {"method": "GET", "path": "/room/lobby"},
            {"method": "GET", "path": "/nothing"},
            {"method": "GET", "path": "/capabilities?required=nope"},
        ]);
        let (code, out) = srv.send(None, "POST", "/batch", &reqs).await;
        assert_eq!(code, 200, "{}", srv.backend);
        let out = out.as_array().unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0]["code"], 200);
        assert_eq!(
            out[0]["body"],
            json!({"capabilities": ["blind", "reactions", "sogs"]})
        );
        assert_eq!(
            out[0]["headers"],
            json!({"content-type": "application/json"})
        );
        assert_eq!(out[1]["body"]["token"], "lobby");
        // Non-JSON bodies are base64.
        assert_eq!(out[2]["code"], 404);
        assert_eq!(out[2]["body"], STANDARD.encode("Not found"));
        assert_eq!(
            out[2]["headers"]["content-type"],
            "text/plain; charset=utf-8"
        );
        assert!(out[2]["headers"].get("content-length").is_none());
        assert_eq!(out[3]["code"], 412);
        assert_eq!(out[3]["body"]["missing"], json!(["nope"]));
        let (code, out) = srv.send(None, "POST", "/batch", &json!([])).await;
        assert_eq!((code, out), (200, json!([])));
    }
}

#[tokio::test]
async fn sub_requests_run_as_the_outer_user() {
    for srv in servers().await {
        let alice = User::new();
        let bob = User::new();
        let reqs = json!([post("one"), post("two"), {"method": "GET", "path": "/room/lobby/messages/recent"}]);
        let (code, out) = srv.send(Some(&alice), "POST", "/batch", &reqs).await;
        assert_eq!(code, 200, "{}", srv.backend);
        assert_eq!(out[0]["code"], 201);
        assert_eq!(out[0]["body"]["session_id"], alice.hex(&srv));
        assert_eq!(out[1]["code"], 201);
        assert_eq!(out[2]["body"].as_array().unwrap().len(), 2);

        // Anonymous outer request: sub-requests are anonymous, whatever their headers say.
        let inner = srv.headers(&bob, "POST", "/room/lobby/message", b"{}");
        let headers: serde_json::Map<String, Value> = inner
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut forged = post("forged");
        forged["headers"] = Value::Object(headers);
        let (code, out) = srv.send(None, "POST", "/batch", &json!([forged])).await;
        assert_eq!(code, 200);
        assert_eq!(out[0]["code"], 401);

        // A bad outer signature fails the whole batch; a banned user gets 403.
        let body = json!([{"method": "GET", "path": "/capabilities"}]).to_string();
        let h = srv.headers(&alice, "POST", "/batch", b"[]");
        assert_eq!(
            srv.raw("POST", "/batch", &h, body.as_bytes()).await.status,
            401
        );
        srv.store
            .ban(Scope::Global, &bob.id(&srv), None, srv.now())
            .unwrap();
        let r = srv
            .call(Some(&bob), "POST", "/batch", body.as_bytes())
            .await;
        assert_eq!((r.status, r.text().as_str()), (403, "Banned"));

        // Binary bodies (b64) reach the handler; a file upload and download in batches.
        let up = json!([{
            "method": "POST",
            "path": "/room/lobby/file",
            "b64": STANDARD.encode(b"\x00\xffbytes"),
            "headers": {"Content-Disposition": "attachment; filename=\"f.bin\""},
        }]);
        let (_, out) = srv.send(Some(&alice), "POST", "/sequence", &up).await;
        assert_eq!(out[0]["code"], 201);
        let id = out[0]["body"]["id"].as_i64().unwrap();
        let down = json!([{"method": "GET", "path": format!("/room/lobby/file/{id}")}]);
        let (_, out) = srv.send(None, "POST", "/batch", &down).await;
        assert_eq!(out[0]["code"], 200);
        assert_eq!(out[0]["body"], STANDARD.encode(b"\x00\xffbytes"));
        assert_eq!(
            out[0]["headers"]["content-disposition"],
            "attachment; filename*=UTF-8''f.bin"
        );
        assert_eq!(
            out[0]["headers"]["content-type"],
            "application/octet-stream"
        );

        // Raw UTF-8 and %-escapes in sub-request paths both reach the reaction route.
        let mid = srv.post_msg(&alice, b"react").await.1["id"]
            .as_i64()
            .unwrap();
        let reqs = json!([
            {"method": "PUT", "path": format!("/room/lobby/reaction/{mid}/🍆"), "json": {}},
            {"method": "PUT", "path": format!("/room/lobby/reaction/{mid}/%F0%9F%8D%86"), "json": {}},
            {"method": "PUT", "path": format!("/room/lobby/reaction/{mid}/x"), "bytes": "{}"},
        ]);
        let (_, out) = srv.send(Some(&alice), "POST", "/batch", &reqs).await;
        assert_eq!(out[0]["body"]["added"], true);
        assert_eq!(out[1]["body"]["added"], false);
        assert_eq!(out[2]["body"]["added"], true);
    }
}

#[tokio::test]
async fn sequence_stops_at_the_first_failure() {
    for srv in servers().await {
        let alice = User::new();
        let reqs = json!([
            post("first"),
            {"method": "DELETE", "path": "/room/lobby/message/99999"},
            post("never"),
        ]);
        let (code, out) = srv.send(Some(&alice), "POST", "/sequence", &reqs).await;
        assert_eq!(code, 200, "{}", srv.backend);
        let out = out.as_array().unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["code"], 201);
        assert_eq!(out[1]["code"], 404);
        let (_, msgs) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(msgs.as_array().unwrap().len(), 1);
        // The same as a batch runs everything.
        let (_, out) = srv.send(Some(&alice), "POST", "/batch", &reqs).await;
        assert_eq!(out.as_array().unwrap().len(), 3);
        assert_eq!(out[2]["code"], 201);
    }
}

#[tokio::test]
async fn malformed_batches_run_nothing() {
    for srv in servers().await {
        let alice = User::new();
        for bad in [
            json!({"method": "GET", "path": "/capabilities"}),
            json!([post("a"), {"method": "PATCH", "path": "/x"}]),
            json!([post("a"), {"method": "GET", "path": "no-slash"}]),
            json!([post("a"), {"method": "GET", "path": "/x", "json": {}}]),
            json!([post("a"), {"method": "POST", "path": "/x"}]),
            json!([post("a"), {"method": "POST", "path": "/x", "json": 1, "b64": ""}]),
            json!([post("a"), {"method": "POST", "path": "/x", "b64": "*"}]),
            json!([post("a"), {"method": "GET", "path": "/x", "headers": {"a": 1}}]),
            json!([post("a"), "GET /"]),
        ] {
            for endpoint in ["/batch", "/sequence"] {
                let (code, _) = srv.send(Some(&alice), "POST", endpoint, &bad).await;
                assert_eq!(code, 400, "{endpoint} {bad}");
            }
        }
        let r = srv.call(Some(&alice), "POST", "/batch", b"[{").await;
        assert_eq!(r.status, 400);
        let (_, msgs) = srv.get(None, "/room/lobby/messages/recent").await;
        assert_eq!(msgs, json!([]), "{}", srv.backend);
        assert_eq!(srv.call(None, "GET", "/batch", b"").await.status, 405);
    }
}
