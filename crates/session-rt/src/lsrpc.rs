//! Server side of v4 onion requests (`POST /oxen/v4/lsrpc`, storage-node §7.5,
//! client-protocol §8.3–8.4, community-server §5.7), shared by the community server and
//! the file server, plus the matching client-side helpers.
//!
//! # The flow
//!
//! The client encrypts the innermost onion layer to the *server's* X25519 key with a fresh
//! ephemeral key pair `(e, E)`. The last service node of the path peels its own layer and
//! POSTs the whole plaintext it found to `<protocol>://<host>:<port>/oxen/v4/lsrpc`:
//!
//! ```text
//! u32le(N) ‖ blob (N bytes) ‖ control JSON
//! control = {"host", "target": "/oxen/v4/lsrpc", "method": "POST", "protocol", "port",
//!            "ephemeral_key": "<64 hex of E>",
//!            "enc_type": "aes-gcm" | "xchacha20"}          (absent enc_type = aes-gcm)
//! blob    = aes-gcm:   iv(12)    ‖ ct ‖ tag(16)   key HMAC-SHA256("LOKI", X25519(x, E))
//!           xchacha20: nonce(24) ‖ ct ‖ tag(16)   key BLAKE2b-256(X25519(x, E) ‖ E ‖ X)
//! ```
//!
//! The server decrypts `blob` with its secret `x` and `E` ([`decrypt_request`]); the
//! plaintext is a v4 request, a bencoded list of one or two strings:
//!
//! ```text
//! l <len>:{"method","endpoint","headers"} [<len>:<body>] e
//! ```
//!
//! ([`open_request`] does both steps.) The server runs that request as if it had come
//! over plain HTTP and answers the outer POST with HTTP 200,
//! `content-type: application/octet-stream` and, as the raw body (not base64), the v4
//! response encrypted with the same cipher and key and a fresh nonce ([`ReplyKey::seal`]):
//!
//! ```text
//! Enc( l <len>:{"code": <status>, "headers": {<lower-case name>: <value>, …}} <len>:<body> e )
//! ```
//!
//! The inner status (404, 500, …) travels inside the encrypted reply; the outer status
//! stays 200. Only when the outer request cannot be read at all (bad frame, bad or
//! missing `ephemeral_key`, unsupported `enc_type`, undecryptable blob) does the server
//! answer in plaintext — 400 with a message, or 413 over [`MAX_ONION_SIZE`] — since it
//! has no key to encrypt to. A blob that decrypts but is not a valid v4 request gets an
//! *encrypted* `code 400`, `text/plain`, `Invalid v4 onion request` (what PySOGS does).
//!
//! [`with_lsrpc`] adds all of this to an axum [`Router`]: the inner request is dispatched
//! in-process to the same application (never to the onion endpoint itself), and handlers
//! can tell it came through an onion request by the [`ViaLsrpc`] request extension.
//!
//! [`seal_request`] and [`open_response`] are the client's half, for tests and for
//! talking to a server directly (no path).
//!
//! # The deprecated v3 entries
//!
//! `POST /oxen/v3/lsrpc` and `POST /loki/v3/lsrpc` ([`V3_TARGETS`]) take the same outer
//! frame, but the plaintext is JSON `{"endpoint", "method", "headers"?, "body"?,
//! "auth_code"?}` (the body a string) and the outer 200 reply is the base64 of the
//! sealed sub-response *body* for a 2xx answer, else of `{"status_code": N}`
//! ([`handle_lsrpc_v3`]). An endpoint without a leading `/` is a legacy one; where it
//! goes is the server's choice ([`V3LegacyEndpoints`]). [`with_onion_entries`] mounts
//! v4 and both v3 entries at once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use session_crypto::CryptoError;
use session_crypto::onion::{EncType, HopKey, client_encrypt, node_decrypt};
use session_crypto::x25519::X25519Keypair;
use session_wire::WireError;
use session_wire::onion::{
    EncType as WireEncType, EntryMetadata, MAX_ONION_SIZE, OnionFrame, V4_TARGET, V4Request,
    V4RequestInfo, V4Response, V4ResponseInfo, encode_frame, encode_v4_request, encode_v4_response,
    parse_frame, parse_v4_request, parse_v4_response,
};
use thiserror::Error;
use tower_service::Service;

/// The content type of the outer reply (the raw encrypted v4 response).
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Body of the encrypted 400 answering a blob that decrypts to something other than a
/// valid v4 request (PySOGS' wording).
pub const INVALID_V4_REQUEST: &str = "Invalid v4 onion request";

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Why an onion request could not be opened or a reply not be sealed or opened. Each
/// variant maps to one HTTP status ([`LsrpcError::status`]); the message says what was
/// wrong and never contains key material or bodies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LsrpcError {
    /// The outer request body exceeds [`MAX_ONION_SIZE`] (413).
    #[error("onion request too large: over the limit of {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The outer body is not `u32le(N) ‖ blob ‖ JSON object` (400).
    #[error("invalid onion request: {0}")]
    BadFrame(String),
    /// `ephemeral_key` is missing, not 64 hex characters, or a small-order point (400).
    #[error("invalid onion request: bad ephemeral_key: {0}")]
    BadEphemeralKey(String),
    /// `enc_type` names a cipher this server does not speak: legacy `aes-cbc` or an
    /// unknown name (400).
    #[error("invalid onion request: unsupported enc_type {0:?} (expected aes-gcm or xchacha20)")]
    UnsupportedEncType(String),
    /// The blob fails authentication: wrong server key, wrong cipher or altered bytes (400).
    #[error("cannot decrypt onion request: invalid ciphertext (wrong key or corrupted data)")]
    Undecryptable,
    /// The blob decrypted but is not a valid v4 request (400).
    #[error("{INVALID_V4_REQUEST}: {0}")]
    BadV4Request(String),
    /// The outer request body could not be read (400).
    #[error("cannot read onion request body: {0}")]
    Body(String),
    /// The v4 response would exceed [`MAX_ONION_SIZE`] (500).
    #[error("onion response too large: {size} bytes exceeds the limit of {max}")]
    ResponseTooLarge {
        /// The encoded v4 response size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Encryption failed (no randomness, or a weak key on the client side) (500).
    #[error("onion encryption failed: {0}")]
    Encrypt(String),
    /// Client side: the server's reply does not decrypt or is not a v4 response (502).
    #[error("bad onion response: {0}")]
    BadResponse(String),
}

impl LsrpcError {
    /// The HTTP status the server answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadFrame(_)
            | Self::BadEphemeralKey(_)
            | Self::UnsupportedEncType(_)
            | Self::Undecryptable
            | Self::BadV4Request(_)
            | Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::ResponseTooLarge { .. } | Self::Encrypt(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadResponse(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn from_frame(e: WireError) -> Self {
        match e {
            WireError::TooLarge { max, .. } => Self::TooLarge { max },
            other => Self::BadFrame(other.to_string()),
        }
    }
}

impl IntoResponse for LsrpcError {
    /// A plaintext answer: the status and the message as `text/plain`.
    fn into_response(self) -> Response {
        (
            self.status(),
            [(CONTENT_TYPE, TEXT_PLAIN)],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// The server's half of the key of one v4 onion request: seals the reply with the
/// request's cipher and key and a fresh nonce. Secrets are zeroized on drop and never
/// printed.
#[derive(Clone)]
pub struct ReplyKey {
    key: HopKey,
}

impl fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyKey").field("key", &self.key).finish()
    }
}

impl ReplyKey {
    /// The cipher of the request, which the reply uses too.
    pub fn enc_type(&self) -> EncType {
        self.key.enc_type()
    }

    /// The client's ephemeral X25519 public key of the request.
    pub fn client_pub(&self) -> &[u8; 32] {
        self.key.client_pub()
    }

    /// Encrypts arbitrary reply bytes (`nonce ‖ ct ‖ tag`); [`ReplyKey::seal`] is the v4
    /// response form.
    pub fn seal_raw(&self, plaintext: &[u8]) -> Result<Vec<u8>, LsrpcError> {
        self.key
            .encrypt(plaintext)
            .map_err(|e| LsrpcError::Encrypt(e.to_string()))
    }

    /// Encrypts the v4 response `l<len>:{"code","headers"}[<len>:<body>]e`: the raw bytes
    /// of the outer 200 reply. Fails if the encoded response exceeds [`MAX_ONION_SIZE`].
    pub fn seal(&self, info: &V4ResponseInfo, body: Option<&[u8]>) -> Result<Vec<u8>, LsrpcError> {
        let plaintext = encode_v4_response(info, body);
        if plaintext.len() > MAX_ONION_SIZE {
            return Err(LsrpcError::ResponseTooLarge {
                size: plaintext.len(),
                max: MAX_ONION_SIZE,
            });
        }
        self.seal_raw(&plaintext)
    }

    /// Seals a `text/plain` error reply with the given code.
    pub fn seal_text(&self, code: u16, text: &str) -> Result<Vec<u8>, LsrpcError> {
        let info = V4ResponseInfo {
            code,
            headers: BTreeMap::from([("content-type".to_owned(), TEXT_PLAIN.to_owned())]),
        };
        self.seal(&info, Some(text.as_bytes()))
    }
}

/// Reads `ephemeral_key` and `enc_type` from the control JSON of the outer frame.
fn read_control(frame: &OnionFrame<'_>) -> Result<(EncType, [u8; 32]), LsrpcError> {
    let enc = match frame.control.get("enc_type") {
        None | Some(Value::Null) => EncType::AesGcm,
        Some(Value::String(name)) => {
            let unsupported = || LsrpcError::UnsupportedEncType(name.chars().take(64).collect());
            WireEncType::parse(name)
                .ok()
                .and_then(WireEncType::to_crypto)
                .ok_or_else(unsupported)?
        }
        Some(_) => return Err(LsrpcError::UnsupportedEncType("<not a string>".into())),
    };
    let key = match frame.control.get("ephemeral_key") {
        None => return Err(LsrpcError::BadEphemeralKey("missing".into())),
        Some(Value::String(text)) => {
            let mut key = [0u8; 32];
            hex::decode_to_slice(text, &mut key)
                .map_err(|_| LsrpcError::BadEphemeralKey("not 64 hex characters".into()))?;
            key
        }
        Some(_) => return Err(LsrpcError::BadEphemeralKey("not a string".into())),
    };
    Ok((enc, key))
}

/// Decrypts an outer `/oxen/v4/lsrpc` body (`u32le(N) ‖ blob ‖ control JSON`) with the
/// server's X25519 key pair. Returns the plaintext (normally a v4 request, see
/// [`open_request`]) and the key to seal the reply with.
///
/// Errors: [`LsrpcError::TooLarge`] over [`MAX_ONION_SIZE`]; [`LsrpcError::BadFrame`],
/// [`LsrpcError::BadEphemeralKey`], [`LsrpcError::UnsupportedEncType`] (including legacy
/// `aes-cbc`) and [`LsrpcError::Undecryptable`] otherwise.
pub fn decrypt_request(
    body: &[u8],
    server: &X25519Keypair,
) -> Result<(Vec<u8>, ReplyKey), LsrpcError> {
    let frame = parse_frame(body).map_err(LsrpcError::from_frame)?;
    let (enc, client_pub) = read_control(&frame)?;
    match node_decrypt(enc, server, &client_pub, frame.payload) {
        Ok(layer) => Ok((layer.plaintext, ReplyKey { key: layer.key })),
        Err(CryptoError::WeakSharedSecret { .. }) => {
            Err(LsrpcError::BadEphemeralKey("small-order point".into()))
        }
        Err(_) => Err(LsrpcError::Undecryptable),
    }
}

/// [`decrypt_request`] followed by the v4 request parse: the request and the reply key.
/// A plaintext that is not a v4 request is [`LsrpcError::BadV4Request`] (the key is then
/// lost; servers that want to answer it encrypted use [`decrypt_request`] and
/// `parse_v4_request` themselves, as [`with_lsrpc`] does).
pub fn open_request(
    body: &[u8],
    server: &X25519Keypair,
) -> Result<(V4Request, ReplyKey), LsrpcError> {
    let (plaintext, key) = decrypt_request(body, server)?;
    let request =
        parse_v4_request(&plaintext).map_err(|e| LsrpcError::BadV4Request(e.to_string()))?;
    Ok((request, key))
}

/// Client side: builds the body of a `POST /oxen/v4/lsrpc` straight to a server with
/// X25519 public key `server_pub` — `u32le(N) ‖ Enc(v4 request) ‖ {"ephemeral_key",
/// "enc_type"}` — and returns it with the key that opens the reply ([`open_response`]).
pub fn seal_request(
    server_pub: &[u8; 32],
    enc: EncType,
    info: &V4RequestInfo,
    body: Option<&[u8]>,
) -> Result<(Vec<u8>, HopKey), LsrpcError> {
    let plaintext = encode_v4_request(info, body);
    if plaintext.len() > MAX_ONION_SIZE {
        return Err(LsrpcError::TooLarge {
            max: MAX_ONION_SIZE,
        });
    }
    let layer = client_encrypt(enc, server_pub, &plaintext)
        .map_err(|e| LsrpcError::Encrypt(e.to_string()))?;
    let control = EntryMetadata {
        ephemeral_key: layer.ephemeral_public,
        enc_type: Some(enc.into()),
        hop_no: None,
    };
    let frame = encode_frame(&layer.ciphertext, &control).map_err(LsrpcError::from_frame)?;
    Ok((frame, layer.key))
}

/// Client side: decrypts the raw body of a server's 200 reply with the key from
/// [`seal_request`] (retrying AES-GCM if XChaCha20 fails, as libsession does) and parses
/// the v4 response.
pub fn open_response(key: &HopKey, reply: &[u8]) -> Result<V4Response, LsrpcError> {
    let plaintext = key
        .decrypt_reply(reply)
        .map_err(|e| LsrpcError::BadResponse(e.to_string()))?;
    parse_v4_response(&plaintext).map_err(|e| LsrpcError::BadResponse(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// axum glue
// ---------------------------------------------------------------------------------------

/// Request extension present on every request that arrived inside a v4 onion request
/// (dispatched by [`with_lsrpc`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaLsrpc {
    /// The cipher of the onion request.
    pub enc_type: EncType,
}

#[derive(Clone)]
struct LsrpcState {
    app: Router,
    keypair: Arc<X25519Keypair>,
}

/// Wraps `app` so that `POST /oxen/v4/lsrpc` decrypts a v4 onion request with
/// `keypair`, runs the inner request against `app` in-process, and answers with the
/// sealed v4 response (see the module documentation). Every other request goes to `app`
/// unchanged. A route of `app` on [`V4_TARGET`] is shadowed.
pub fn with_lsrpc(app: Router, keypair: Arc<X25519Keypair>) -> Router {
    let state = LsrpcState {
        app: app.clone(),
        keypair,
    };
    Router::new()
        .route(
            V4_TARGET,
            post(move |request: Request| {
                let state = state.clone();
                async move { handle_lsrpc(&state.app, &state.keypair, request).await }
            }),
        )
        .fallback_service(app)
}

/// Answers one outer `POST /oxen/v4/lsrpc` request: the building block of [`with_lsrpc`]
/// for servers that mount the endpoint themselves. `app` runs the inner request and must
/// not itself route onion endpoints to this function (inner requests to `/oxen/…/lsrpc`
/// or `/loki/…/lsrpc` are refused anyway).
pub async fn handle_lsrpc(app: &Router, keypair: &X25519Keypair, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ONION_SIZE as u64) {
        return LsrpcError::TooLarge {
            max: MAX_ONION_SIZE,
        }
        .into_response();
    }
    let body = match collect_limited(body, MAX_ONION_SIZE).await {
        Ok(b) => b,
        Err(Collect::TooLarge) => {
            return LsrpcError::TooLarge {
                max: MAX_ONION_SIZE,
            }
            .into_response();
        }
        Err(Collect::Failed(e)) => return LsrpcError::Body(e).into_response(),
    };
    let (plaintext, key) = match decrypt_request(&body, keypair) {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!("onion request refused: {e}");
            return e.into_response();
        }
    };
    drop(body);
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied();
    let via = ViaLsrpc {
        enc_type: key.enc_type(),
    };
    let sealed = match build_inner_request(&plaintext, peer, via) {
        Ok(inner) => {
            drop(plaintext);
            run_inner(app, inner, &key).await
        }
        Err(reason) => {
            tracing::debug!("invalid v4 onion request: {reason}");
            key.seal_text(400, INVALID_V4_REQUEST)
        }
    };
    match sealed {
        Ok(bytes) => (StatusCode::OK, [(CONTENT_TYPE, OCTET_STREAM)], bytes).into_response(),
        Err(e) => {
            tracing::warn!("cannot seal onion reply: {e}");
            e.into_response()
        }
    }
}

enum Collect {
    TooLarge,
    Failed(String),
}

async fn collect_limited(body: Body, limit: usize) -> Result<Bytes, Collect> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Collect::TooLarge),
        Err(e) => Err(Collect::Failed(e.to_string())),
    }
}

/// Headers that describe the outer connection or framing, never copied across.
fn is_framing_header(name: &HeaderName) -> bool {
    name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION
}

/// Whether `path` names an onion endpoint (`/oxen/…/lsrpc`, `/loki/…/lsrpc`).
fn is_onion_endpoint(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    (path.starts_with("/oxen/") || path.starts_with("/loki/")) && path.ends_with("/lsrpc")
}

/// A request path (with an optional `?query`) as a request URI, for requests that arrive
/// inside other requests (onion requests here, `/batch` sub-requests in the community
/// server): it must start with a single `/`; raw UTF-8, spaces and other bytes not
/// allowed in a request target are percent-encoded (existing `%` escapes are kept).
pub fn endpoint_uri(endpoint: &str) -> Result<Uri, String> {
    if !endpoint.starts_with('/') || endpoint.starts_with("//") {
        return Err("the path must start with a single '/'".into());
    }
    let mut out = String::with_capacity(endpoint.len());
    for &b in endpoint.as_bytes() {
        let keep = matches!(b, b'!'..=b'~')
            && !matches!(
                b,
                b'"' | b'#' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::try_from(out).map_err(|e| format!("bad endpoint: {e}"))
}

/// Turns the decrypted plaintext into the in-process request, or says why it is not a
/// valid v4 request.
fn build_inner_request(
    plaintext: &[u8],
    peer: Option<ConnectInfo<SocketAddr>>,
    via: ViaLsrpc,
) -> Result<Request, String> {
    let V4Request { info, body } = parse_v4_request(plaintext).map_err(|e| e.to_string())?;
    let method = Method::from_bytes(info.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| "bad method".to_owned())?;
    let uri = endpoint_uri(&info.endpoint)?;
    if is_onion_endpoint(uri.path()) {
        return Err("onion endpoints cannot be requested through an onion request".into());
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &info.headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| "bad header name".to_owned())?;
        if is_framing_header(&name) {
            continue;
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("bad value for header {name}"))?;
        headers.append(name, value);
    }
    if let Some(b) = &body {
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(b.len()));
    }
    let mut request = Request::new(body.map_or_else(Body::empty, Body::from));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }
    request.extensions_mut().insert(via);
    Ok(request)
}

/// Runs the inner request against `app` and seals what it answers.
async fn run_inner(app: &Router, request: Request, key: &ReplyKey) -> Result<Vec<u8>, LsrpcError> {
    let mut app = app.clone();
    let ready = std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut app, cx)).await;
    let response = match ready {
        Ok(()) => app.call(request).await,
        Err(never) => match never {},
    };
    let response = match response {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = match collect_limited(body, MAX_ONION_SIZE).await {
        Ok(b) => b,
        Err(Collect::TooLarge) => {
            tracing::warn!("onion reply body over {MAX_ONION_SIZE} bytes");
            return key.seal_text(500, "Response too large for an onion request");
        }
        Err(Collect::Failed(e)) => {
            tracing::warn!("reading the inner response failed: {e}");
            return key.seal_text(500, "Internal server error");
        }
    };
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        if is_framing_header(name) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let info = V4ResponseInfo {
        code: parts.status.as_u16(),
        headers,
    };
    match key.seal(&info, Some(&body)) {
        Err(LsrpcError::ResponseTooLarge { size, .. }) => {
            tracing::warn!("onion reply of {size} bytes over the limit");
            key.seal_text(500, "Response too large for an onion request")
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// the deprecated v3 entries
// ---------------------------------------------------------------------------------------

/// The deprecated v3 onion entries (both spellings).
pub const V3_TARGETS: [&str; 2] = ["/oxen/v3/lsrpc", "/loki/v3/lsrpc"];

/// Where a v3 request's endpoint without a leading `/` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V3LegacyEndpoints {
    /// To `/legacy/<endpoint>` (PySOGS: its pre-0.3 API, which a server may not serve).
    LegacyPrefix,
    /// To `/<endpoint>` (session-file-server: the `/` is just prepended).
    PrependSlash,
}

/// Wraps `app` with every onion entry: `POST /oxen/v4/lsrpc` (as [`with_lsrpc`]) and
/// the deprecated `POST /oxen/v3/lsrpc` and `POST /loki/v3/lsrpc` ([`handle_lsrpc_v3`]
/// with `legacy`). Inner requests run against `app` in-process.
pub fn with_onion_entries(
    app: Router,
    keypair: Arc<X25519Keypair>,
    legacy: V3LegacyEndpoints,
) -> Router {
    let state = LsrpcState {
        app: app.clone(),
        keypair,
    };
    let v3 = {
        let state = state.clone();
        post(move |request: Request| {
            let state = state.clone();
            async move { handle_lsrpc_v3(&state.app, &state.keypair, request, legacy).await }
        })
    };
    let mut router = Router::new().route(
        V4_TARGET,
        post(move |request: Request| {
            let state = state.clone();
            async move { handle_lsrpc(&state.app, &state.keypair, request).await }
        }),
    );
    for target in V3_TARGETS {
        router = router.route(target, v3.clone());
    }
    router.fallback_service(app)
}

/// The inner request of a v3 onion request's plaintext, or why it is not one.
pub fn v3_inner_request(plaintext: &[u8], legacy: V3LegacyEndpoints) -> Result<Request, String> {
    let v: Value = serde_json::from_slice(plaintext).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not an object")?;
    let endpoint = obj
        .get("endpoint")
        .and_then(Value::as_str)
        .ok_or("endpoint is required")?;
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .ok_or("method is required")?;
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| "bad method".to_owned())?;
    let path = if endpoint.starts_with('/') {
        endpoint.to_owned()
    } else {
        match legacy {
            V3LegacyEndpoints::LegacyPrefix => format!("/legacy/{endpoint}"),
            V3LegacyEndpoints::PrependSlash => format!("/{endpoint}"),
        }
    };
    let uri = endpoint_uri(&path)?;
    if is_onion_endpoint(uri.path()) {
        return Err("onion endpoints cannot be requested through an onion request".into());
    }
    let mut headers = HeaderMap::new();
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (name, value) in h {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("bad header name {name:?}"))?;
                if is_framing_header(&name) {
                    continue;
                }
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let value = HeaderValue::from_str(&value)
                    .map_err(|_| format!("bad value for header {name}"))?;
                headers.append(name, value);
            }
        }
        Some(_) => return Err("headers must be an object".into()),
    }
    if let Some(code) = obj.get("auth_code").and_then(Value::as_str) {
        let value = HeaderValue::from_str(code).map_err(|_| "bad auth_code".to_owned())?;
        headers.insert(axum::http::header::AUTHORIZATION, value);
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => None,
        // Android sends "null" bodies with GETs.
        Some(Value::String(s)) if method == Method::GET && s == "null" => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(_) => return Err("body must be a string".into()),
    };
    if let Some(b) = &body {
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(b.len()));
    }
    let mut request = Request::new(body.map_or_else(Body::empty, Body::from));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Answers one outer v3 request (`POST /oxen/v3/lsrpc` or `/loki/v3/lsrpc`): decrypts it
/// with `keypair`, runs the inner request against `app`, and answers 200 with
/// `base64(seal(body))` for a 2xx answer, else `base64(seal({"status_code": N}))`; an
/// invalid inner request is `{"status_code": 400}` inside. An unreadable outer request
/// is answered in plaintext, as for v4.
pub async fn handle_lsrpc_v3(
    app: &Router,
    keypair: &X25519Keypair,
    request: Request,
    legacy: V3LegacyEndpoints,
) -> Response {
    let body = match collect_limited(request.into_body(), MAX_ONION_SIZE).await {
        Ok(b) => b,
        Err(Collect::TooLarge) => {
            return LsrpcError::TooLarge {
                max: MAX_ONION_SIZE,
            }
            .into_response();
        }
        Err(Collect::Failed(e)) => return LsrpcError::Body(e).into_response(),
    };
    let (plaintext, key) = match decrypt_request(&body, keypair) {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!("v3 onion request refused: {e}");
            return e.into_response();
        }
    };
    drop(body);
    let status_json = |code: u16| format!("{{\"status_code\":{code}}}").into_bytes();
    let reply = match v3_inner_request(&plaintext, legacy) {
        Ok(inner) => {
            drop(plaintext);
            let mut app = app.clone();
            let ready =
                std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut app, cx)).await;
            let response = match ready {
                Ok(()) => app.call(inner).await,
                Err(never) => match never {},
            };
            let response = match response {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = response.status();
            match collect_limited(response.into_body(), MAX_ONION_SIZE).await {
                Ok(b) if status.is_success() => b.to_vec(),
                Ok(_) => status_json(status.as_u16()),
                Err(_) => status_json(500),
            }
        }
        Err(reason) => {
            tracing::debug!("invalid v3 onion request: {reason}");
            status_json(400)
        }
    };
    match key.seal_raw(&reply) {
        Ok(sealed) => (
            StatusCode::OK,
            [(CONTENT_TYPE, TEXT_PLAIN)],
            base64::engine::general_purpose::STANDARD.encode(&sealed),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;
    use session_crypto::x25519::X25519SecretKey;

    fn server() -> X25519Keypair {
        X25519Keypair::generate().unwrap()
    }

    #[test]
    fn v3_endpoints_without_a_slash() {
        let plain = br#"{"endpoint": "file/12", "method": "get"}"#;
        let r = v3_inner_request(plain, V3LegacyEndpoints::PrependSlash).unwrap();
        assert_eq!(r.uri().path(), "/file/12");
        assert_eq!(r.method(), Method::GET);
        let r = v3_inner_request(plain, V3LegacyEndpoints::LegacyPrefix).unwrap();
        assert_eq!(r.uri().path(), "/legacy/file/12");
        let onion = br#"{"endpoint": "oxen/v4/lsrpc", "method": "POST"}"#;
        assert!(v3_inner_request(onion, V3LegacyEndpoints::PrependSlash).is_err());
        let bad = br#"{"endpoint": "/x", "method": "GET", "body": 5}"#;
        assert!(v3_inner_request(bad, V3LegacyEndpoints::PrependSlash).is_err());
    }

    fn get(endpoint: &str) -> V4RequestInfo {
        V4RequestInfo {
            method: "GET".into(),
            endpoint: endpoint.into(),
            headers: BTreeMap::new(),
        }
    }

    /// onion.json `parser_request_blob.aes_gcm` (libsession test_onionreq.cpp): the
    /// outer body decrypts to "Hello world"; a 13-byte reply is 41 bytes.
    #[test]
    fn libsession_parser_vector() {
        let sec = X25519SecretKey::from_hex(
            "2f4d1c0d28e137777ec0a316e9f4f763e3e66662a6c51994c6315c9ef34b6deb",
        )
        .unwrap();
        let server = X25519Keypair::from_secret(sec);
        assert_eq!(
            hex::encode(server.public()),
            "8388de69bc0d4b6196133233ad9a46ba0473474bc67718aad96a3a33c257f726"
        );
        let body = hex::decode(
            "270000009525d587d188c92a966eef0e7162bef99a6171a124575b998072a8ee7eb265e0b6f0930ed96504\
             7b22656e635f74797065223a20226165732d67636d222c2022657068656d6572616c5f6b6579223a20\
             2238313637653937363732303035633636396134383835386336393839356633393563613233353231\
             396163336637613432313030323262316639313065363532227d",
        )
        .unwrap();
        let (plaintext, key) = decrypt_request(&body, &server).unwrap();
        assert_eq!(plaintext, b"Hello world");
        assert_eq!(key.enc_type(), EncType::AesGcm);
        assert_eq!(
            hex::encode(key.client_pub()),
            "8167e97672005c669a48858c69895f395ca235219ac3f7a4210022b1f910e652"
        );
        assert_eq!(key.seal_raw(b"Goodbye world").unwrap().len(), 41);
        // Not a v4 list: open_request says so.
        assert!(matches!(
            open_request(&body, &server),
            Err(LsrpcError::BadV4Request(_))
        ));
    }

    #[test]
    fn round_trip_both_ciphers() {
        let server = server();
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let mut info = get("/room/x?since=5");
            info.headers.insert("x-a".into(), "b".into());
            let body = [0u8, 255, 1, 254];
            let (frame, client_key) =
                seal_request(server.public(), enc, &info, Some(&body)).unwrap();
            let (request, reply_key) = open_request(&frame, &server).unwrap();
            assert_eq!(request.info, info);
            assert_eq!(request.body.as_deref(), Some(&body[..]));
            assert_eq!(reply_key.enc_type(), enc);
            let resp = V4ResponseInfo {
                code: 201,
                headers: BTreeMap::from([("content-type".into(), OCTET_STREAM.into())]),
            };
            let sealed = reply_key.seal(&resp, Some(b"\x00ok")).unwrap();
            let opened = open_response(&client_key, &sealed).unwrap();
            assert_eq!(opened.info, resp);
            assert_eq!(opened.body.as_deref(), Some(&b"\x00ok"[..]));
        }
    }

    #[test]
    fn replies_use_fresh_nonces() {
        let server = server();
        let (frame, _) =
            seal_request(server.public(), EncType::XChaCha20, &get("/"), None).unwrap();
        let (_, key) = open_request(&frame, &server).unwrap();
        let info = V4ResponseInfo {
            code: 200,
            headers: BTreeMap::new(),
        };
        assert_ne!(
            key.seal(&info, None).unwrap(),
            key.seal(&info, None).unwrap()
        );
    }

    /// Replaces the control JSON of a sealed frame.
    fn with_control(frame: &[u8], control: &str) -> Vec<u8> {
        let parsed = parse_frame(frame).unwrap();
        session_wire::onion::encode_frame_raw(parsed.payload, control.as_bytes()).unwrap()
    }

    #[test]
    fn bad_inputs() {
        let server = server();
        let (frame, _) = seal_request(server.public(), EncType::AesGcm, &get("/"), None).unwrap();
        let eph = parse_frame(&frame).unwrap().control["ephemeral_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = |body: &[u8]| open_request(body, &server).unwrap_err().status().as_u16();

        // Truncated and malformed frames.
        assert_eq!(status(&frame[..3]), 400);
        assert_eq!(status(&frame[..frame.len() - 1]), 400);
        assert!(matches!(
            open_request(&frame[..10], &server),
            Err(LsrpcError::BadFrame(_))
        ));
        // A flipped bit in the blob.
        let mut flipped = frame.clone();
        flipped[10] ^= 1;
        assert_eq!(
            open_request(&flipped, &server).unwrap_err(),
            LsrpcError::Undecryptable
        );
        // The wrong server key.
        assert_eq!(
            open_request(&frame, &self::server()).unwrap_err(),
            LsrpcError::Undecryptable
        );
        // The wrong cipher.
        let xchacha = with_control(
            &frame,
            &format!(r#"{{"ephemeral_key":"{eph}","enc_type":"xchacha20"}}"#),
        );
        assert_eq!(
            open_request(&xchacha, &server).unwrap_err(),
            LsrpcError::Undecryptable
        );
        // enc_type: legacy, unknown, not a string.
        for enc in [r#""aes-cbc""#, r#""rot13""#, "7"] {
            let f = with_control(
                &frame,
                &format!(r#"{{"ephemeral_key":"{eph}","enc_type":{enc}}}"#),
            );
            assert!(matches!(
                open_request(&f, &server),
                Err(LsrpcError::UnsupportedEncType(_))
            ));
        }
        // ephemeral_key: missing, not hex, short, not a string, small order.
        for key in [
            None,
            Some(format!("\"{}\"", "zz".repeat(32))),
            Some(format!("\"{}\"", &eph[..62])),
            Some("12".into()),
            Some(format!("\"{}\"", "00".repeat(32))),
        ] {
            let control = match key {
                None => r#"{"enc_type":"aes-gcm"}"#.to_owned(),
                Some(k) => format!(r#"{{"ephemeral_key":{k}}}"#),
            };
            let f = with_control(&frame, &control);
            let err = open_request(&f, &server).unwrap_err();
            assert!(
                matches!(err, LsrpcError::BadEphemeralKey(_)),
                "{control}: {err}"
            );
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        }
        // The extra routing fields an SN leaves in the control are ignored.
        let routed = with_control(
            &frame,
            &format!(
                r#"{{"host":"h","target":"/oxen/v4/lsrpc","method":"POST","protocol":"http","port":80,"ephemeral_key":"{eph}","enc_type":"aes-gcm"}}"#
            ),
        );
        open_request(&routed, &server).unwrap();
        // Too large.
        let big = vec![0u8; MAX_ONION_SIZE + 1];
        assert_eq!(
            open_request(&big, &server).unwrap_err(),
            LsrpcError::TooLarge {
                max: MAX_ONION_SIZE
            }
        );
        assert_eq!(status(&big), 413);
    }

    #[test]
    fn seal_refuses_oversize_responses() {
        let server = server();
        let (frame, _) = seal_request(server.public(), EncType::AesGcm, &get("/"), None).unwrap();
        let (_, key) = open_request(&frame, &server).unwrap();
        let info = V4ResponseInfo {
            code: 200,
            headers: BTreeMap::new(),
        };
        let err = key
            .seal(&info, Some(&vec![0u8; MAX_ONION_SIZE]))
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_uri("/a/b?c=d").unwrap(), "/a/b?c=d");
        assert_eq!(
            endpoint_uri("/room/caf\u{e9} x").unwrap().path(),
            "/room/caf%C3%A9%20x"
        );
        assert_eq!(endpoint_uri("/a%20b").unwrap().path(), "/a%20b");
        assert!(endpoint_uri("a/b").is_err());
        assert!(endpoint_uri("").is_err());
        assert!(endpoint_uri("//evil.example/x").is_err());
        for p in [
            "/oxen/v4/lsrpc",
            "/oxen/v4/lsrpc/",
            "/loki/v3/lsrpc",
            "/oxen/v3/lsrpc",
        ] {
            assert!(is_onion_endpoint(p), "{p}");
        }
        assert!(!is_onion_endpoint("/room/lsrpc"));
    }

    #[test]
    fn debug_hides_the_key() {
        let server = server();
        let (frame, _) = seal_request(server.public(), EncType::AesGcm, &get("/"), None).unwrap();
        let (_, key) = open_request(&frame, &server).unwrap();
        let printed = format!("{key:?}");
        assert!(printed.contains("ReplyKey"));
        assert!(!printed.contains(&hex::encode(server.secret().as_bytes())));
    }
}
