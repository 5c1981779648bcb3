#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! v4 onion requests end to end: a small axum app served by `http::serve` behind
//! `lsrpc::with_lsrpc`, spoken to over real HTTP on loopback with sealed requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, RawQuery, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use session_crypto::onion::{EncType, HopKey, client_encrypt};
use session_crypto::x25519::X25519Keypair;
use session_rt::http::{HttpConnection, HttpReply, ServeOptions, serve};
use session_rt::lsrpc::{
    INVALID_V4_REQUEST, LsrpcError, ViaLsrpc, open_request, open_response, seal_request, with_lsrpc,
};
use session_rt::shutdown::{self, ShutdownTrigger};
use session_wire::onion::{
    EntryMetadata, MAX_ONION_SIZE, V4_TARGET, V4RequestInfo, V4Response, encode_frame,
    encode_frame_raw, parse_frame,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const BOTH: [EncType; 2] = [EncType::AesGcm, EncType::XChaCha20];

fn app() -> Router {
    async fn echo(
        headers: HeaderMap,
        via: Option<Extension<ViaLsrpc>>,
        body: Bytes,
    ) -> impl IntoResponse {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let x_foo = headers
            .get("x-foo")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let via = via.map_or("direct".to_owned(), |v| v.enc_type.to_string());
        (
            [
                ("x-echo", "yes".to_owned()),
                ("x-seen-content-type", content_type),
                ("x-seen-foo", x_foo),
                ("x-via", via),
                ("content-type", "application/octet-stream".to_owned()),
            ],
            body,
        )
    }
    Router::new()
        .route("/hello", get(|| async { "hi" }))
        .route("/echo", post(echo))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "nope") }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/query",
            get(|RawQuery(q): RawQuery| async move { q.unwrap_or_default() }),
        )
        .route(
            "/path/{name}",
            get(|Path(name): Path<String>| async move { name }),
        )
        .route(
            "/peer",
            get(
                |peer: Option<Extension<ConnectInfo<SocketAddr>>>| async move {
                    peer.map_or("none".to_owned(), |p| p.0.0.ip().to_string())
                },
            ),
        )
        .route("/big", get(|| async { vec![7u8; MAX_ONION_SIZE] }))
        .route(
            "/multi",
            get(|| async {
                let mut h = HeaderMap::new();
                h.append("x-multi", "a".parse().unwrap());
                h.append("x-multi", "b".parse().unwrap());
                (h, "m")
            }),
        )
        // Never reachable from inside an onion request.
        .route("/oxen/v3/lsrpc", post(|_: Request| async { "inner v3" }))
}

struct Server {
    addr: SocketAddr,
    keypair: Arc<X25519Keypair>,
    trigger: ShutdownTrigger,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        let keypair = Arc::new(X25519Keypair::generate().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, shutdown) = shutdown::channel();
        let router = with_lsrpc(app(), keypair.clone());
        let task = tokio::spawn(async move {
            serve(listener, router, None, shutdown, ServeOptions::default())
                .await
                .unwrap();
        });
        Self {
            addr,
            keypair,
            trigger,
            task,
        }
    }

    async fn stop(self) {
        self.trigger.trigger();
        self.task.await.unwrap();
    }

    async fn conn(&self) -> HttpConnection {
        HttpConnection::connect(self.addr, false).await.unwrap()
    }

    async fn post_raw(&self, body: Vec<u8>) -> HttpReply {
        self.conn()
            .await
            .request(
                "POST",
                V4_TARGET,
                &[("content-type", "application/octet-stream")],
                body,
            )
            .await
            .unwrap()
    }

    /// Sends a sealed v4 request and opens the (200) reply.
    async fn onion(&self, enc: EncType, info: &V4RequestInfo, body: Option<&[u8]>) -> V4Response {
        let (frame, key) = seal_request(self.keypair.public(), enc, info, body).unwrap();
        let reply = self.post_raw(frame).await;
        open_reply(&key, &reply)
    }
}

fn open_reply(key: &HopKey, reply: &HttpReply) -> V4Response {
    assert_eq!(reply.status, 200, "outer status: {}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    open_response(key, &reply.body).unwrap()
}

fn req(method: &str, endpoint: &str, headers: &[(&str, &str)]) -> V4RequestInfo {
    V4RequestInfo {
        method: method.into(),
        endpoint: endpoint.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn header<'a>(resp: &'a V4Response, name: &str) -> Option<&'a str> {
    resp.info.headers.get(name).map(String::as_str)
}

#[tokio::test]
async fn get_and_echo_with_both_ciphers() {
    let server = Server::start().await;
    for enc in BOTH {
        let resp = server.onion(enc, &req("GET", "/hello", &[]), None).await;
        assert_eq!(resp.info.code, 200);
        assert_eq!(resp.body.as_deref(), Some(&b"hi"[..]));
        assert!(
            header(&resp, "content-type")
                .unwrap()
                .starts_with("text/plain")
        );
        assert!(!resp.info.headers.contains_key("content-length"));

        // A binary body (every byte value), with a request header, comes back verbatim.
        let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let resp = server
            .onion(
                enc,
                &req(
                    "POST",
                    "/echo",
                    &[("X-Foo", "bar"), ("content-length", "1")],
                ),
                Some(&body),
            )
            .await;
        assert_eq!(resp.info.code, 200);
        assert_eq!(resp.body.as_deref(), Some(&body[..]));
        assert_eq!(header(&resp, "x-echo"), Some("yes"));
        assert_eq!(header(&resp, "x-seen-foo"), Some("bar"));
        // No content-type sent with a body: application/octet-stream.
        assert_eq!(
            header(&resp, "x-seen-content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(header(&resp, "x-via"), Some(enc.as_str()));

        // An explicit content type is passed through.
        let resp = server
            .onion(
                enc,
                &req("POST", "/echo", &[("content-type", "application/json")]),
                Some(b"{}"),
            )
            .await;
        assert_eq!(
            header(&resp, "x-seen-content-type"),
            Some("application/json")
        );
    }
    // The app still answers plain HTTP.
    let direct = server
        .conn()
        .await
        .request("GET", "/hello", &[], "")
        .await
        .unwrap();
    assert_eq!((direct.status, direct.text().as_str()), (200, "hi"));
    let direct = server.conn().await.post("/echo", "x").await.unwrap();
    assert_eq!(direct.header("x-via"), Some("direct"));
    server.stop().await;
}

#[tokio::test]
async fn inner_statuses_travel_inside_a_200() {
    let server = Server::start().await;
    for enc in BOTH {
        let resp = server.onion(enc, &req("GET", "/missing", &[]), None).await;
        assert_eq!(
            (resp.info.code, resp.body.as_deref()),
            (404, Some(&b"nope"[..]))
        );
        let resp = server
            .onion(enc, &req("GET", "/no/such/route", &[]), None)
            .await;
        assert_eq!(resp.info.code, 404);
        let resp = server.onion(enc, &req("GET", "/boom", &[]), None).await;
        assert_eq!(resp.info.code, 500);
        let resp = server.onion(enc, &req("DELETE", "/hello", &[]), None).await;
        assert_eq!(resp.info.code, 405);
    }
    server.stop().await;
}

#[tokio::test]
async fn endpoints_queries_and_headers() {
    let server = Server::start().await;
    let enc = EncType::XChaCha20;
    let resp = server
        .onion(enc, &req("GET", "/query?since=5&t=r", &[]), None)
        .await;
    assert_eq!(resp.body.as_deref(), Some(&b"since=5&t=r"[..]));
    // Raw UTF-8 and %-escapes in the endpoint both reach the handler decoded.
    for endpoint in ["/path/caf\u{e9} x", "/path/caf%C3%A9%20x"] {
        let resp = server.onion(enc, &req("GET", endpoint, &[]), None).await;
        assert_eq!(resp.info.code, 200, "{endpoint}");
        assert_eq!(resp.body.as_deref(), Some("caf\u{e9} x".as_bytes()));
    }
    // Lower-case methods are accepted.
    let resp = server.onion(enc, &req("get", "/hello", &[]), None).await;
    assert_eq!(resp.info.code, 200);
    // The peer address of the outer connection is visible to handlers.
    let resp = server.onion(enc, &req("GET", "/peer", &[]), None).await;
    assert_eq!(resp.body.as_deref(), Some(&b"127.0.0.1"[..]));
    // Repeated response headers are joined.
    let resp = server.onion(enc, &req("GET", "/multi", &[]), None).await;
    assert_eq!(header(&resp, "x-multi"), Some("a, b"));
    // Several requests on one keep-alive connection.
    let mut conn = server.conn().await;
    for _ in 0..3 {
        let (frame, key) = seal_request(
            server.keypair.public(),
            enc,
            &req("GET", "/hello", &[]),
            None,
        )
        .unwrap();
        let reply = conn.request("POST", V4_TARGET, &[], frame).await.unwrap();
        assert_eq!(open_reply(&key, &reply).body.as_deref(), Some(&b"hi"[..]));
    }
    server.stop().await;
}

#[tokio::test]
async fn invalid_inner_requests_get_an_encrypted_400() {
    let server = Server::start().await;
    let enc = EncType::AesGcm;
    let invalid = |resp: &V4Response| {
        assert_eq!(resp.info.code, 400);
        assert_eq!(resp.body.as_deref(), Some(INVALID_V4_REQUEST.as_bytes()));
        assert!(
            header(resp, "content-type")
                .unwrap()
                .starts_with("text/plain")
        );
    };
    // Recursion into the onion endpoints is refused.
    for endpoint in [
        V4_TARGET,
        "/oxen/v4/lsrpc/",
        "/oxen/v3/lsrpc",
        "/loki/v3/lsrpc",
    ] {
        invalid(
            &server
                .onion(enc, &req("POST", endpoint, &[]), Some(b"x"))
                .await,
        );
    }
    // Endpoints without a leading '/', bad methods and bad header values.
    invalid(&server.onion(enc, &req("GET", "hello", &[]), None).await);
    invalid(&server.onion(enc, &req("G T", "/hello", &[]), None).await);
    invalid(
        &server
            .onion(enc, &req("GET", "/hello", &[("x-a", "1\r\nx-b: 2")]), None)
            .await,
    );
    invalid(
        &server
            .onion(enc, &req("GET", "/hello", &[("bad name", "1")]), None)
            .await,
    );

    // A blob that decrypts but is not a v4 list.
    for plaintext in [&b"Hello world"[..], b"l5:hello", b"li5ee", b"l2:{}e"] {
        let layer = client_encrypt(enc, server.keypair.public(), plaintext).unwrap();
        let meta = EntryMetadata {
            ephemeral_key: layer.ephemeral_public,
            enc_type: Some(enc.into()),
            hop_no: None,
        };
        let frame = encode_frame(&layer.ciphertext, &meta).unwrap();
        let reply = server.post_raw(frame).await;
        invalid(&open_reply(&layer.key, &reply));
    }
    server.stop().await;
}

#[tokio::test]
async fn oversize_inner_response_is_a_sealed_500() {
    let server = Server::start().await;
    let resp = server
        .onion(EncType::XChaCha20, &req("GET", "/big", &[]), None)
        .await;
    assert_eq!(resp.info.code, 500);
    assert!(resp.body.unwrap().len() < 100);
    server.stop().await;
}

/// Asserts a plaintext error answer.
fn plain_error(reply: &HttpReply, status: u16, needle: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        reply.text().contains(needle),
        "{:?} does not contain {needle:?}",
        reply.text()
    );
}

/// Replaces the control JSON of a sealed frame.
fn with_control(frame: &[u8], control: &str) -> Vec<u8> {
    encode_frame_raw(parse_frame(frame).unwrap().payload, control.as_bytes()).unwrap()
}

#[tokio::test]
async fn unreadable_outer_requests_get_plaintext_errors() {
    let server = Server::start().await;
    let info = req("GET", "/hello", &[]);
    let (frame, _) = seal_request(server.keypair.public(), EncType::AesGcm, &info, None).unwrap();
    let eph = parse_frame(&frame).unwrap().control["ephemeral_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Truncated frames.
    plain_error(
        &server.post_raw(frame[..2].to_vec()).await,
        400,
        "truncated",
    );
    plain_error(
        &server.post_raw(frame[..20].to_vec()).await,
        400,
        "invalid onion request",
    );
    plain_error(
        &server.post_raw(Vec::new()).await,
        400,
        "invalid onion request",
    );
    // A flipped bit in the blob.
    let mut flipped = frame.clone();
    flipped[8] ^= 0x10;
    plain_error(&server.post_raw(flipped).await, 400, "cannot decrypt");
    // Sealed for another server.
    let other = X25519Keypair::generate().unwrap();
    let (wrong, _) = seal_request(other.public(), EncType::XChaCha20, &info, None).unwrap();
    plain_error(&server.post_raw(wrong).await, 400, "cannot decrypt");
    // enc_type unknown, legacy aes-cbc.
    for enc in ["rot13", "aes-cbc"] {
        let f = with_control(
            &frame,
            &format!(r#"{{"ephemeral_key":"{eph}","enc_type":"{enc}"}}"#),
        );
        plain_error(&server.post_raw(f).await, 400, "unsupported enc_type");
    }
    // ephemeral_key not hex, missing.
    let f = with_control(
        &frame,
        &format!(r#"{{"ephemeral_key":"{}"}}"#, "xy".repeat(32)),
    );
    plain_error(&server.post_raw(f).await, 400, "ephemeral_key");
    let f = with_control(&frame, "{}");
    plain_error(&server.post_raw(f).await, 400, "ephemeral_key");
    // Only POST.
    let reply = server
        .conn()
        .await
        .request("GET", V4_TARGET, &[], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 405);
    server.stop().await;
}

#[tokio::test]
async fn oversize_outer_request_is_413() {
    let server = Server::start().await;
    let reply = server.post_raw(vec![0u8; MAX_ONION_SIZE + 1]).await;
    plain_error(&reply, 413, "too large");
    // Exactly at the limit is read (and then fails to parse as a frame).
    let mut at_limit = vec![0u8; MAX_ONION_SIZE];
    at_limit[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    plain_error(
        &server.post_raw(at_limit).await,
        400,
        "invalid onion request",
    );
    server.stop().await;
}

#[test]
fn pure_round_trip_matches_the_server_side() {
    let server = X25519Keypair::generate().unwrap();
    let info = req("POST", "/file", &[("x-fs-ttl", "60")]);
    let (frame, client_key) =
        seal_request(server.public(), EncType::XChaCha20, &info, Some(b"data")).unwrap();
    let (request, reply_key) = open_request(&frame, &server).unwrap();
    assert_eq!(request.info, info);
    let sealed = reply_key
        .seal(
            &session_wire::onion::V4ResponseInfo {
                code: 201,
                headers: BTreeMap::new(),
            },
            Some(b"{\"id\":\"1\"}"),
        )
        .unwrap();
    let resp = open_response(&client_key, &sealed).unwrap();
    assert_eq!(resp.info.code, 201);
    // Someone else's reply does not open.
    let (_, other_key) = seal_request(server.public(), EncType::XChaCha20, &info, None).unwrap();
    assert!(matches!(
        open_response(&other_key, &sealed),
        Err(LsrpcError::BadResponse(_))
    ));
}

#[tokio::test]
async fn oversize_streamed_body_without_length_is_413() {
    use session_rt::lsrpc::handle_lsrpc;
    let keypair = X25519Keypair::generate().unwrap();
    // No content-length header: the limit is enforced while reading.
    let request = Request::builder()
        .method("POST")
        .uri(V4_TARGET)
        .body(axum::body::Body::from(vec![0u8; MAX_ONION_SIZE + 1]))
        .unwrap();
    assert!(request.headers().get("content-length").is_none());
    let response = handle_lsrpc(&app(), &keypair, request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A sealed request handled in-process, without a peer address.
    let (frame, key) = seal_request(
        keypair.public(),
        EncType::AesGcm,
        &req("GET", "/peer", &[]),
        None,
    )
    .unwrap();
    let request = Request::builder()
        .method("POST")
        .uri(V4_TARGET)
        .body(axum::body::Body::from(frame))
        .unwrap();
    let response = handle_lsrpc(&app(), &keypair, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let resp = open_response(&key, &body).unwrap();
    assert_eq!(resp.body.as_deref(), Some(&b"none"[..]));
}
