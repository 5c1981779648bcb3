//! The one error type of `session-node`, and the one place where errors become HTTP
//! statuses and reply bodies ([`NodeError::to_response`]). The message texts are the
//! reference server's (storage-node spec §2, §2.16); clients match some of them.

use serde_json::Value;
use thiserror::Error;

use crate::rpc::RpcResponse;

/// Everything that can go wrong in the node, from a bad request to a broken database.
#[derive(Debug, Error)]
pub enum NodeError {
    // ── request envelope (400) ──────────────────────────────────────────────────────
    /// The body is not JSON.
    #[error("invalid json")]
    InvalidJson,
    /// No string `method` field.
    #[error("invalid json: no `method` field")]
    NoMethodField,
    /// No object `params` field.
    #[error("invalid json: no `params` field")]
    NoParamsField,
    /// Unknown RPC method.
    #[error("no method {0}")]
    UnknownMethod(String),
    /// A parameter is missing or malformed (the reference's `parse_error`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Any other rejected request with its exact reference message (400).
    #[error("{0}")]
    BadRequest(&'static str),

    // ── authentication and time windows ────────────────────────────────────────────
    /// A signature is required but absent (401).
    #[error("{0}")]
    SignatureRequired(String),
    /// The signature (or the subaccount behind it) did not verify (401).
    #[error("{0}")]
    SignatureFailed(&'static str),
    /// A timestamp that the reference rejects with 401 (`delete_before` in the future,
    /// `expire` in the past).
    #[error("{0}")]
    TimestampUnauthorized(&'static str),
    /// A timestamp outside the allowed clock window (406).
    #[error("{0}")]
    TimestampOutOfWindow(&'static str),
    /// TTL/expiry outside the allowed range (403).
    #[error("Provided expiry/TTL is not valid.")]
    InvalidTtl,
    /// A feature not enabled at the current network hard fork (403).
    #[error("{0}")]
    Forbidden(&'static str),

    // ── routing and service state ──────────────────────────────────────────────────
    /// The account belongs to another swarm (421); the body is that swarm's JSON.
    #[error("wrong swarm")]
    WrongSwarm(Value),
    /// No swarm is known at all (500).
    #[error("No swarms known!")]
    NoSwarms,
    /// The node is not ready to serve clients (503).
    #[error("Service node is not ready: {0}\n")]
    NotReady(String),
    /// The client exceeded its request rate (429).
    #[error("Too Many Requests\n")]
    RateLimited,
    /// The obsolete long-polling header was sent (410).
    #[error("long polling is no longer supported, client upgrade required")]
    LongPollGone,
    /// The request body is larger than 10 MiB (413).
    #[error("Request body too large")]
    BodyTooLarge,
    /// A `Content-Length` header that is not a number (400).
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// The client is not an IPv4 peer (400), as the reference requires.
    #[error("Bad Request\n")]
    NotIpv4,
    /// The request body could not be read (400).
    #[error("Bad Request\n")]
    BodyRead,
    /// No such HTTP route (404).
    #[error("{method} {uri} Not Found")]
    RouteNotFound {
        /// The request method.
        method: String,
        /// The request URI.
        uri: String,
    },

    // ── storage ────────────────────────────────────────────────────────────────────
    /// The database reached its size cap.
    #[error("database is full")]
    DatabaseFull,
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(String),
    /// A retrieve could not read the database (500, with the reference's text).
    #[error("Internal Server Error. Could not retrieve messages for {0}")]
    RetrieveFailed(String),
    /// An unexpected internal failure (500 "request failed").
    #[error("internal error: {0}")]
    Internal(String),

    // ── node-to-node ───────────────────────────────────────────────────────────────
    /// A node-to-node request is not authenticated (missing or malformed headers, bad
    /// signature): 401.
    #[error("node authentication failed: {0}")]
    PeerAuth(String),
    /// A node-to-node request's timestamp is too far from this node's clock: 406.
    #[error("node request timestamp too far from current time")]
    PeerStale,
    /// A node-to-node request from a key this node's registry view does not list as an
    /// active service node: 403.
    #[error("{0} is not an active service node")]
    PeerNotActive(String),
    /// A bulk `sn.data` payload does not parse: 400.
    #[error("invalid data batch: {0}")]
    BadBatch(String),

    // ── registry ───────────────────────────────────────────────────────────────────
    /// Talking to the registry failed (connection, HTTP, JSON-RPC error or a reply
    /// that does not parse). `kind` is the registry's error kind when it sent one.
    #[error("registry {method}: {reason}")]
    Registry {
        /// The JSON-RPC method.
        method: String,
        /// The registry's error kind (`data.kind`), if any.
        kind: Option<String>,
        /// What went wrong.
        reason: String,
    },

    /// `oxend_request` could not reach the registry: 502.
    #[error("oxend request failed: {0}")]
    OxendUnavailable(String),

    // ── startup ────────────────────────────────────────────────────────────────────
    /// Configuration, file-system or TLS setup failed.
    #[error(transparent)]
    Runtime(#[from] session_rt::RtError),
    /// A key file is malformed.
    #[error("invalid key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Binding or serving a socket failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for NodeError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Self::DatabaseFull,
            _ => Self::Database(e.to_string()),
        }
    }
}

impl NodeError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson
            | Self::NoMethodField
            | Self::NoParamsField
            | Self::UnknownMethod(_)
            | Self::InvalidRequest(_)
            | Self::BadRequest(_)
            | Self::InvalidContentLength
            | Self::NotIpv4
            | Self::BodyRead
            | Self::BadBatch(_) => 400,
            Self::SignatureRequired(_)
            | Self::SignatureFailed(_)
            | Self::TimestampUnauthorized(_)
            | Self::PeerAuth(_) => 401,
            Self::InvalidTtl | Self::Forbidden(_) | Self::PeerNotActive(_) => 403,
            Self::RouteNotFound { .. } => 404,
            Self::TimestampOutOfWindow(_) | Self::PeerStale => 406,
            Self::LongPollGone => 410,
            Self::BodyTooLarge => 413,
            Self::WrongSwarm(_) => 421,
            Self::RateLimited => 429,
            Self::NoSwarms
            | Self::DatabaseFull
            | Self::Database(_)
            | Self::RetrieveFailed(_)
            | Self::Internal(_)
            | Self::Runtime(_)
            | Self::KeyFile { .. }
            | Self::Registry { .. }
            | Self::Io { .. } => 500,
            Self::NotReady(_) => 503,
            Self::OxendUnavailable(_) => 502,
        }
    }

    /// The reply a client sees for this error: its status and either the JSON body
    /// (421) or the reference's plain-text message. Internal details (database errors,
    /// paths) are never sent; those become "request failed".
    pub fn to_response(&self) -> RpcResponse {
        let status = self.status();
        match self {
            Self::WrongSwarm(body) => RpcResponse::json(status, body.clone()),
            Self::DatabaseFull
            | Self::Database(_)
            | Self::Internal(_)
            | Self::Runtime(_)
            | Self::KeyFile { .. }
            | Self::Registry { .. }
            | Self::Io { .. } => RpcResponse::text(status, "request failed"),
            other => RpcResponse::text(status, other.to_string()),
        }
    }

    /// Shorthand for [`NodeError::InvalidRequest`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidRequest(reason.into())
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
