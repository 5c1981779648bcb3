//! Blinded direct messages (community-server spec §5.6): `POST /inbox/{15-id}` sends,
//! `GET /inbox`, `/outbox`, `/inbox/since/{id}`, `/outbox/since/{id}` read (blinded
//! callers only; `since` answers 304 with an empty body when nothing is new) and
//! `DELETE /inbox` empties the caller's inbox.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::messages::B64_INPUT;
use super::params::{IdKind, object_body, path_id};
use super::rooms::{ok, parse_uint, reply};
use super::{ApiError, Caller, Sogs};
use crate::store::{DirectMessage, StoreError};

fn dm_json(m: &DirectMessage, with_body: bool) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("posted_at".into(), json!(m.posted_at));
    o.insert("expires_at".into(), json!(m.expires_at));
    o.insert("sender".into(), json!(m.sender.to_hex()));
    o.insert("recipient".into(), json!(m.recipient.to_hex()));
    if with_body {
        o.insert("message".into(), json!(STANDARD.encode(&m.message)));
    }
    Value::Object(o)
}

/// `POST /inbox/{id}` with `{"message": b64}` → 201 with the DM's metadata.
pub(crate) async fn send(
    State(state): State<Sogs>,
    Path(sid): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let recipient = path_id(&state, &sid, IdKind::Blind)?;
    let sender = caller.require_user()?.session_id;
    let body = object_body(&caller)?;
    let message = match body.get("message") {
        Some(Value::String(text)) => B64_INPUT
            .decode(text)
            .map_err(|_| ApiError::BadRequest("Invalid message: not base64".into()))?,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid message: expected base64".into(),
            ));
        }
        None => return Err(ApiError::BadRequest("Missing message".into())),
    };
    let now = state.now();
    let dm = state
        .blocking(
            move |store| match store.send_dm(&sender, &recipient, &message, now) {
                Ok(dm) => Ok(dm),
                Err(StoreError::UserNotFound { .. }) => {
                    Err(ApiError::NotFound("No such user".into()))
                }
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    Ok(reply(StatusCode::CREATED, &dm_json(&dm, false)))
}

async fn list(
    state: &Sogs,
    caller: &Caller,
    outbox: bool,
    since: Option<&str>,
) -> Result<Response, ApiError> {
    let since = since.map(parse_uint).transpose()?;
    let me = caller.require_blinded()?.session_id;
    let limit = caller.int_query("limit", 100, 1, 256)?;
    let limit = usize::try_from(limit).unwrap_or(100);
    let now = state.now();
    let after = since.filter(|s| *s > 0);
    let msgs = state
        .blocking(move |store| {
            Ok(if outbox {
                store.outbox(&me, after, limit, now)?
            } else {
                store.inbox(&me, after, limit, now)?
            })
        })
        .await?;
    if after.is_some() && msgs.is_empty() {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(ok(&Value::Array(
        msgs.iter().map(|m| dm_json(m, true)).collect(),
    )))
}

/// `GET /inbox`.
pub(crate) async fn inbox(State(state): State<Sogs>, caller: Caller) -> Result<Response, ApiError> {
    list(&state, &caller, false, None).await
}

/// `GET /outbox`.
pub(crate) async fn outbox(
    State(state): State<Sogs>,
    caller: Caller,
) -> Result<Response, ApiError> {
    list(&state, &caller, true, None).await
}

/// `GET /inbox/since/{id}`.
pub(crate) async fn inbox_since(
    State(state): State<Sogs>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    list(&state, &caller, false, Some(&id)).await
}

/// `GET /outbox/since/{id}`.
pub(crate) async fn outbox_since(
    State(state): State<Sogs>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    list(&state, &caller, true, Some(&id)).await
}

/// `DELETE /inbox` → `{"deleted": N}`.
pub(crate) async fn clear(State(state): State<Sogs>, caller: Caller) -> Result<Response, ApiError> {
    let me = caller.require_blinded()?.session_id;
    let deleted = state
        .blocking(move |store| Ok(store.delete_inbox(&me)?))
        .await?;
    Ok(ok(&json!({"deleted": deleted})))
}
