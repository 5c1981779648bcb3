//! The file server's HTTP API (community-server spec §11.1) and its purge job.
//!
//! [`FileServer`] is the shared state (store, clock, settings); [`router`] builds the
//! axum app (with the onion entries `/oxen/v4/lsrpc`, `/oxen/v3/lsrpc` and
//! `/loki/v3/lsrpc`) and [`serve`] runs it on a bound listener until shutdown.
//! [`purge_loop`] deletes expired files every [`PURGE_INTERVAL`] of the injected clock.
//!
//! Endpoints: `POST /file` (raw body; `X-FS-TTL` honoured when
//! [`FileSettings::max_ttl`] is set; a random numeric id, or the content id when
//! [`FileSettings::backwards_compat_ids`] is off), `GET /file/{id}`,
//! `GET /file/{id}/info`, `POST /file/{id}/extend` (content ids only: numeric ids are
//! 404, as in the reference), the deprecated `POST /files` (always a numeric id, which
//! it returns as an integer) / `GET /files/{id}`, and `GET /session_version`
//! ([`crate::version`]). Errors are `{"status_code": N}` with HTTP status `N`, except
//! `X-FS-*` authentication failures, which are `text/plain` reasons as in the reference.
//!
//! A v3 onion request's endpoint without a leading `/` just gets one prepended
//! ([`V3LegacyEndpoints::PrependSlash`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::X25519Keypair;
use session_rt::http::ServeOptions;
use session_rt::lsrpc::V3LegacyEndpoints;
use session_rt::time::UtcTime;
use session_rt::{Clock, Shutdown};
use tokio::net::TcpListener;

use crate::store::{FileInfo, FileStore, IdKind, StoreError, id_kind};
use crate::version::{Channel, FsAuthHeaders, PLATFORMS, SessionVersions, verify_fs_auth};

/// How often [`purge_loop`] deletes expired files (the spec's 15 s job).
pub const PURGE_INTERVAL: Duration = Duration::from_secs(15);

/// Three weeks in seconds: the default file lifetime.
pub const THREE_WEEKS: f64 = 21.0 * 86_400.0;

/// The deprecated `POST /files` accepts at most this many base64 characters.
pub const MAX_BASE64_CHARS: usize = 8_000_000;

/// The header carrying a requested lifetime in seconds.
pub const TTL_HEADER: &str = "x-fs-ttl";

/// Largest body a `/session_version` request may carry (it is only hashed).
const MAX_VERSION_BODY: usize = 64 * 1024;

/// The file server's tunables.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSettings {
    /// Largest accepted upload in bytes (clients assume 10,000,000).
    pub max_file_size: usize,
    /// Lifetime of an upload without `X-FS-TTL`, in seconds.
    pub default_ttl: f64,
    /// Largest lifetime `X-FS-TTL` may ask for, in seconds; `None` ignores the header
    /// (the spec's `MAX_FILE_TTL = None`).
    pub max_ttl: Option<f64>,
    /// `true` (the spec's default): random numeric ids. `false`: content ids, identical
    /// uploads stored once, `extend` available.
    pub backwards_compat_ids: bool,
    /// What `/session_version` answers.
    pub versions: SessionVersions,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            max_file_size: 10_000_000,
            default_ttl: THREE_WEEKS,
            max_ttl: None,
            backwards_compat_ids: true,
            versions: SessionVersions::default(),
        }
    }
}

struct Inner {
    store: Arc<FileStore>,
    clock: Arc<dyn Clock>,
    key: Arc<X25519Keypair>,
    settings: FileSettings,
    /// When the version data was loaded (the `updated` of `/session_version`).
    updated: f64,
}

/// The file server's shared state; cheap to clone.
#[derive(Clone)]
pub struct FileServer {
    inner: Arc<Inner>,
}

impl fmt::Debug for FileServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileServer")
            .field("store", &self.inner.store)
            .field("server_pubkey", &hex::encode(self.inner.key.public()))
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl FileServer {
    /// A server over `store`, reading time from `clock`, answering onion requests with
    /// the X25519 key pair `key`.
    pub fn new(
        store: Arc<FileStore>,
        clock: Arc<dyn Clock>,
        key: Arc<X25519Keypair>,
        settings: FileSettings,
    ) -> Self {
        let updated = clock.now_secs();
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                key,
                settings,
                updated,
            }),
        }
    }

    /// The server's X25519 public key (onion requests are encrypted to it).
    pub fn public_key(&self) -> &[u8; 32] {
        self.inner.key.public()
    }

    /// The settings.
    pub fn settings(&self) -> &FileSettings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<FileStore> {
        &self.inner.store
    }

    /// The current time in Unix seconds.
    pub fn now(&self) -> f64 {
        self.inner.clock.now_secs()
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&FileStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

/// An error answer: `{"status_code": N}` with status `N`.
#[derive(Debug)]
enum ApiError {
    Status(StatusCode),
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoFreeId => Self::Status(StatusCode::INSUFFICIENT_STORAGE),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A JSON response (axum is built without its `json` feature).
fn json_response(code: StatusCode, v: &Value) -> Response {
    (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        v.to_string(),
    )
        .into_response()
}

fn ok_json(v: &Value) -> Response {
    json_response(StatusCode::OK, v)
}

fn status_json(code: StatusCode) -> Response {
    json_response(code, &json!({"status_code": code.as_u16()}))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Status(code) => status_json(code),
            Self::Internal(detail) => {
                tracing::error!("internal error: {detail}");
                status_json(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

type ApiResult = Result<Response, ApiError>;

const NOT_FOUND: ApiError = ApiError::Status(StatusCode::NOT_FOUND);
const TOO_LARGE: ApiError = ApiError::Status(StatusCode::PAYLOAD_TOO_LARGE);
const BAD_REQUEST: ApiError = ApiError::Status(StatusCode::BAD_REQUEST);

/// Reads a body of at most `limit` bytes; longer bodies give 413.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(TOO_LARGE),
    }
}

/// The lifetime an upload or extension asks for: `X-FS-TTL` when allowed, else the
/// default. A malformed, non-positive or too long TTL is a 400.
fn requested_ttl(settings: &FileSettings, headers: &HeaderMap) -> Result<f64, ApiError> {
    let Some(max) = settings.max_ttl else {
        return Ok(settings.default_ttl);
    };
    let Some(value) = headers.get(TTL_HEADER) else {
        return Ok(settings.default_ttl);
    };
    let ttl: f64 = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(BAD_REQUEST)?;
    if !ttl.is_finite() || ttl <= 0.0 || ttl > max {
        return Err(BAD_REQUEST);
    }
    Ok(ttl)
}

/// A well-formed id (numeric or content id); anything else is a 404.
fn parse_id(id: String) -> Result<String, ApiError> {
    id_kind(&id).map(|_| id).ok_or(NOT_FOUND)
}

fn info_json(info: &FileInfo) -> Value {
    json!({"size": info.size, "uploaded": info.uploaded, "expires": info.expires})
}

/// Stores an upload: under its content id when `content_id`, else a random numeric id.
async fn store_upload(
    state: &FileServer,
    bytes: Vec<u8>,
    ttl: f64,
    content_id: bool,
) -> Result<FileInfo, ApiError> {
    if bytes.is_empty() || bytes.len() > state.settings().max_file_size {
        return Err(TOO_LARGE);
    }
    let now = state.now();
    let info = if content_id {
        state
            .blocking(move |s| s.put_deduplicated(&bytes, now, ttl))
            .await?
    } else {
        state.blocking(move |s| s.put(&bytes, now, ttl)).await?
    };
    tracing::debug!(id = %info.id, size = info.size, "file stored");
    Ok(info)
}

async fn upload(State(state): State<FileServer>, headers: HeaderMap, body: Body) -> ApiResult {
    let ttl = requested_ttl(state.settings(), &headers)?;
    let bytes = read_body(body, state.settings().max_file_size).await?;
    let content_id = !state.settings().backwards_compat_ids;
    let info = store_upload(&state, bytes, ttl, content_id).await?;
    Ok(ok_json(&json!({"id": info.id, "expires": info.expires})))
}

async fn download(State(state): State<FileServer>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(id)?;
    let now = state.now();
    let (info, bytes) = state
        .blocking(move |s| s.get(&id, now))
        .await?
        .ok_or(NOT_FOUND)?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&UtcTime::from_unix_f64(info.expires).http_date()) {
        h.insert(header::EXPIRES, v);
    }
    Ok(resp)
}

async fn info(State(state): State<FileServer>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(id)?;
    let now = state.now();
    let info = state
        .blocking(move |s| s.info(&id, now))
        .await?
        .ok_or(NOT_FOUND)?;
    Ok(ok_json(&info_json(&info)))
}

async fn extend(
    State(state): State<FileServer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    // Only content ids can be extended (the spec: numeric ids → 404).
    if id_kind(&id) != Some(IdKind::Content) {
        return Err(NOT_FOUND);
    }
    let ttl = requested_ttl(state.settings(), &headers)?;
    let now = state.now();
    let info = state
        .blocking(move |s| s.extend(&id, now, ttl))
        .await?
        .ok_or(NOT_FOUND)?;
    Ok(ok_json(&info_json(&info)))
}

/// Deprecated `POST /files`: `{"file": base64}` → `{"result": id, "status_code": 200}`.
async fn legacy_upload(State(state): State<FileServer>, body: Body) -> ApiResult {
    // Room for the JSON around the base64 text.
    let bytes = read_body(body, MAX_BASE64_CHARS + 1024).await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| BAD_REQUEST)?;
    let b64 = v.get("file").and_then(Value::as_str).ok_or(BAD_REQUEST)?;
    if b64.len() > MAX_BASE64_CHARS {
        return Err(TOO_LARGE);
    }
    let data = STANDARD.decode(b64).map_err(|_| BAD_REQUEST)?;
    // Old clients expect an integer id, whatever the id setting.
    let info = store_upload(&state, data, state.settings().default_ttl, false).await?;
    let id: u64 = info
        .id
        .parse()
        .map_err(|_| ApiError::Internal(format!("non-numeric id {}", info.id)))?;
    Ok(ok_json(&json!({"result": id, "status_code": 200})))
}

/// Deprecated `GET /files/{id}`: `{"status_code": 200, "result": base64}`.
async fn legacy_download(State(state): State<FileServer>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(id)?;
    let now = state.now();
    let (_, bytes) = state
        .blocking(move |s| s.get(&id, now))
        .await?
        .ok_or(NOT_FOUND)?;
    Ok(ok_json(
        &json!({"status_code": 200, "result": STANDARD.encode(bytes)}),
    ))
}

/// The value of query parameter `name` (undecoded; the values used here are plain
/// words).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A header's value, `None` when absent, empty or not text.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `GET /session_version?platform=P[&release_channel=C]` (see [`crate::version`]).
async fn session_version(State(state): State<FileServer>, request: Request) -> ApiResult {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("");
    let platform = query_param(query, "platform").unwrap_or("");
    if !PLATFORMS.contains(&platform) {
        tracing::debug!("unknown session_version platform {platform:?}");
        return Err(NOT_FOUND);
    }
    let platform = platform.to_owned();
    let channel = Channel::parse(query_param(query, "release_channel"));
    let body = read_body(body, MAX_VERSION_BODY).await?;
    let mut signed_path = parts.uri.path().to_owned();
    if !query.is_empty() {
        signed_path.push('?');
        signed_path.push_str(query);
    }
    let auth = FsAuthHeaders {
        pubkey: header_str(&parts.headers, "x-fs-pubkey"),
        timestamp: header_str(&parts.headers, "x-fs-timestamp"),
        signature: header_str(&parts.headers, "x-fs-signature"),
    };
    let now = state.now();
    match verify_fs_auth(auth, parts.method.as_str(), &signed_path, &body, now) {
        Err(e) => {
            tracing::debug!(status = e.status, "{}", e.reason);
            let code = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            return Ok((
                code,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                e.reason,
            )
                .into_response());
        }
        Ok(Some(id)) => {
            let p = platform.clone();
            let recorded = state
                .blocking(move |s| s.record_version_check(&id, &p, channel.as_str(), now))
                .await;
            if let Err(e) = recorded {
                // Counting is best effort: the answer does not depend on it.
                tracing::warn!("cannot record a version check: {e:?}");
            }
        }
        Ok(None) => {}
    }
    let Some(release) = state.settings().versions.platform(&platform) else {
        return Err(ApiError::Status(StatusCode::BAD_GATEWAY));
    };
    Ok(ok_json(&crate::version::response_json(
        release,
        channel,
        state.inner.updated,
    )))
}

async fn not_found() -> Response {
    status_json(StatusCode::NOT_FOUND)
}

/// The API routes without the onion entry.
pub fn api_routes(state: FileServer) -> Router {
    Router::new()
        .route("/file", post(upload))
        .route("/file/{id}", get(download))
        .route("/file/{id}/info", get(info))
        .route("/file/{id}/extend", post(extend))
        .route("/files", post(legacy_upload))
        .route("/files/{id}", get(legacy_download))
        .route("/session_version", get(session_version))
        .fallback(not_found)
        .with_state(state)
}

/// The HTTP API as an axum router, with the onion entries `/oxen/v4/lsrpc`,
/// `/oxen/v3/lsrpc` and `/loki/v3/lsrpc`.
pub fn router(state: FileServer) -> Router {
    let key = Arc::clone(&state.inner.key);
    session_rt::lsrpc::with_onion_entries(api_routes(state), key, V3LegacyEndpoints::PrependSlash)
}

/// Serves the API on `listener` until `shutdown` fires, then drains in-flight requests.
pub async fn serve(
    state: FileServer,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), session_rt::RtError> {
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "file server listening");
    session_rt::http::serve(
        listener,
        router(state),
        None,
        shutdown,
        ServeOptions::default(),
    )
    .await
}

/// Purges expired files now and then every `interval` of `clock` until `shutdown`
/// fires; returns how many files it deleted. Failures are logged and retried at the
/// next tick.
pub async fn purge_loop(
    store: Arc<FileStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    shutdown: Shutdown,
) -> u64 {
    let mut total = 0u64;
    loop {
        if shutdown.is_triggered() {
            break;
        }
        let now = clock.now_secs();
        let s = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || s.purge(now)).await {
            Ok(Ok(n)) => {
                total += u64::try_from(n).unwrap_or(u64::MAX);
                if n > 0 {
                    tracing::info!(files = n, "purged expired files");
                }
            }
            Ok(Err(e)) => tracing::warn!("purge failed (retrying in {interval:?}): {e}"),
            Err(e) => tracing::warn!("purge task failed: {e}"),
        }
        tokio::select! {
            () = shutdown.wait() => break,
            () = clock.sleep(interval) => {}
        }
    }
    tracing::debug!(total, "purge loop stopped");
    total
}
