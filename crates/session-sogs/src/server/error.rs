//! [`ApiError`]: every way a request fails, and — in this one place — its status code
//! and body (community-server spec §2 and §3: PySOGS's texts for authentication
//! failures, its model-exception texts otherwise).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use session_crypto::sogs_auth::SogsAuthError;
use thiserror::Error;

use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The `X-SOGS-*` headers were refused (400, or 401 for a bad signature).
    #[error("{0}")]
    Auth(#[from] SogsAuthError),
    /// `X-SOGS-Timestamp` is more than a day away from the server's time (425).
    #[error("Invalid authentication: X-SOGS-Timestamp is too far from current time")]
    StaleTimestamp,
    /// `X-SOGS-Nonce` was used before (425).
    #[error("Invalid authentication: X-SOGS-Nonce cannot be reused")]
    NonceReused,
    /// The caller is globally banned (403, checked before the signature).
    #[error("Banned")]
    Banned,
    /// The endpoint needs an authenticated user (401).
    #[error("X-SOGS-* request authentication required")]
    AuthRequired,
    /// A DM endpoint that needs a blinded (`15`) caller got a `05` one (401).
    #[error("This endpoint requires blinded pubkeys be used")]
    BlindRequired,
    /// The caller lacks a permission (403).
    #[error("Permission denied")]
    Forbidden,
    /// Unknown (or inaccessible) room, message, route… (404).
    #[error("{0}")]
    NotFound(String),
    /// Malformed input (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request body is too big (413).
    #[error("Request body too large")]
    TooLarge,
    /// Too many posts (429).
    #[error("Rate limited")]
    RateLimited,
    /// The content filter refused a post or edit (429, PySOGS's `PostRejected`).
    #[error("{0}")]
    Rejected(String),
    /// A value the request names is not acceptable, e.g. a room image that is not a
    /// file of the room (406).
    #[error("{0}")]
    NotAcceptable(String),
    /// A server-side failure (500); the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Auth(SogsAuthError::SignatureFailed)
            | Self::AuthRequired
            | Self::BlindRequired => StatusCode::UNAUTHORIZED,
            Self::Auth(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::StaleTimestamp | Self::NonceReused => StatusCode::TOO_EARLY,
            Self::Banned | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited | Self::Rejected(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RoomNotFound { .. } => Self::NotFound("No such room".into()),
            StoreError::MessageNotFound { id, .. } => Self::NotFound(format!("No such post: {id}")),
            StoreError::FileNotFound { id, .. } => Self::NotFound(format!("No such file: {id}")),
            StoreError::UserNotFound { .. } => Self::NotFound("No such user".into()),
            StoreError::NotAuthor { .. } => Self::Forbidden,
            StoreError::Invalid { what, reason } => {
                Self::BadRequest(format!("Invalid {what}: {reason}"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Internal(detail) => {
                // Store errors name files and rooms, never keys or message bodies.
                tracing::error!("request failed: {detail}");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// The fallback for unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("Not found".into())
}
