//! General and room endpoints (community-server spec §5.1, §5.2): `/capabilities`,
//! `/rooms`, `/room/{token}`, `/room/{token}/pollInfo/{info_updates}`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, Caller, Sogs, json as shapes};
use crate::store::{MAX_TOKEN_LEN, Permissions, Room};

/// The `active_users_cutoff` room-info field: the active-user window, in seconds.
const ACTIVE_USERS_CUTOFF: i64 = 7 * 86_400;

/// A JSON reply.
pub(crate) fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `200` with a JSON body.
pub(crate) fn ok(body: &Value) -> Response {
    reply(StatusCode::OK, body)
}

/// A path segment that is a room token (`[\w-]{1,64}` in PySOGS's route; the store
/// allows ASCII only, so anything else cannot name a room).
fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The room and the caller's permissions in it; 404 if there is no such room or the
/// caller may not see it (neither `read` nor `accessible`, or banned).
pub(crate) async fn room_access(
    state: &Sogs,
    token: &str,
    caller: &Caller,
) -> Result<(Room, Permissions), ApiError> {
    if !valid_token(token) {
        return Err(ApiError::NotFound("No such room".into()));
    }
    let token = token.to_owned();
    let who = caller.id();
    state
        .blocking(move |store| {
            let room = store
                .room(&token)?
                .ok_or_else(|| ApiError::NotFound("No such room".into()))?;
            let perms = store.permissions(&room.token, who.as_ref())?;
            if !perms.accessible {
                return Err(ApiError::NotFound("No such room".into()));
            }
            Ok((room, perms))
        })
        .await
}

/// Like [`room_access`], and 403 without `read`.
pub(crate) async fn readable_room(
    state: &Sogs,
    token: &str,
    caller: &Caller,
) -> Result<(Room, Permissions), ApiError> {
    let (room, perms) = room_access(state, token, caller).await?;
    if !perms.read {
        return Err(ApiError::Forbidden);
    }
    Ok((room, perms))
}

/// A full room-info object for the caller.
async fn info(state: &Sogs, room: Room, perms: Permissions) -> Result<Value, ApiError> {
    state
        .blocking(move |store| {
            let mods = store.room_moderators(&room.token)?;
            let pins = store.pins(&room.token)?;
            Ok(shapes::room_info(
                &room,
                &perms,
                &mods,
                &pins,
                ACTIVE_USERS_CUTOFF,
            ))
        })
        .await
}

/// `GET /capabilities[?required=a,b]`.
pub(crate) async fn capabilities(State(state): State<Sogs>, caller: Caller) -> Response {
    let mut caps = vec!["reactions", "sogs"];
    if state.settings().auth.require_blinding {
        caps.insert(0, "blind");
    }
    let mut body = json!({ "capabilities": caps });
    if let Some(required) = caller.query("required") {
        let missing: Vec<&str> = required
            .split(',')
            .filter(|c| !c.is_empty() && !caps.contains(c))
            .collect();
        if !missing.is_empty() {
            body["missing"] = json!(missing);
            return reply(StatusCode::PRECONDITION_FAILED, &body);
        }
    }
    ok(&body)
}

/// `GET /rooms`: every room the caller can see, by token.
pub(crate) async fn rooms(State(state): State<Sogs>, caller: Caller) -> Result<Response, ApiError> {
    let who = caller.id();
    let list = state
        .blocking(move |store| {
            let mut out = Vec::new();
            for room in store.rooms()? {
                let perms = store.permissions(&room.token, who.as_ref())?;
                if !perms.accessible {
                    continue;
                }
                let mods = store.room_moderators(&room.token)?;
                let pins = store.pins(&room.token)?;
                out.push(shapes::room_info(
                    &room,
                    &perms,
                    &mods,
                    &pins,
                    ACTIVE_USERS_CUTOFF,
                ));
            }
            Ok(out)
        })
        .await?;
    Ok(ok(&Value::Array(list)))
}

/// `GET /room/{token}`.
pub(crate) async fn room(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, perms) = room_access(&state, &token, &caller).await?;
    Ok(ok(&info(&state, room, perms).await?))
}

/// `GET /room/{token}/pollInfo/{info_updates}`.
pub(crate) async fn poll_info(
    State(state): State<Sogs>,
    Path((token, info_updates)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let since = parse_uint(&info_updates)?;
    let (room, perms) = readable_room(&state, &token, &caller).await?;
    record_activity(&state, &room, &caller).await?;
    let mut o = Map::new();
    o.insert("token".into(), json!(room.token));
    o.insert("active_users".into(), json!(room.active_users));
    o.insert("read".into(), json!(perms.read));
    o.insert("write".into(), json!(perms.write));
    o.insert("upload".into(), json!(perms.upload));
    shapes::add_moderation_flags(&mut o, &room, &perms);
    if room.info_updates != since {
        o.insert("details".into(), info(&state, room, perms).await?);
    }
    Ok(ok(&Value::Object(o)))
}

/// Records that an authenticated caller polled the room.
pub(crate) async fn record_activity(
    state: &Sogs,
    room: &Room,
    caller: &Caller,
) -> Result<(), ApiError> {
    let Some(id) = caller.id() else {
        return Ok(());
    };
    let token = room.token.clone();
    let now = state.now();
    state
        .blocking(move |store| Ok(store.record_activity(&token, &id, now)?))
        .await
}

/// A path integer as PySOGS's `<int:…>` converter takes it: non-negative decimal digits
/// only; anything else does not match the route (404).
pub(crate) fn parse_uint(text: &str) -> Result<i64, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::NotFound("Not found".into()));
    }
    text.parse()
        .map_err(|_| ApiError::NotFound("Not found".into()))
}

/// `name` with control characters (< 0x20) removed.
fn clean_name(name: &str) -> String {
    name.chars().filter(|c| *c >= ' ').collect()
}

/// `description` with control characters except tab and newline removed; empty → none.
fn clean_description(text: &str) -> Option<String> {
    let s: String = text
        .chars()
        .filter(|c| *c >= ' ' || *c == '\t' || *c == '\n')
        .collect();
    (!s.is_empty()).then_some(s)
}

/// `PUT /room/{token}` (admin): changes name, description, image and default
/// permissions → `{"info_updates": N}`.
pub(crate) async fn update_room(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    use super::params::{object_body, opt_bool};
    use crate::store::{RoomUpdate, StoreError};

    let (room, perms) = room_access(&state, &token, &caller).await?;
    caller.require_user()?;
    if !perms.admin {
        return Err(ApiError::Forbidden);
    }
    let body = object_body(&caller)?;
    let mut update = RoomUpdate::default();
    match body.get("name") {
        None => {}
        Some(Value::String(n)) => update.name = Some(clean_name(n)),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid name: expected a string".into(),
            ));
        }
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => update.description = Some(None),
        Some(Value::String(d)) => update.description = Some(clean_description(d)),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid description: expected a string or null".into(),
            ));
        }
    }
    match body.get("image") {
        None => {}
        Some(Value::Number(n)) if n.is_i64() => update.image = Some(n.as_i64()),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid image: expected a file id".into(),
            ));
        }
    }
    update.default_read = opt_bool(&body, "default_read", true)?;
    update.default_accessible = opt_bool(&body, "default_accessible", true)?;
    update.default_write = opt_bool(&body, "default_write", true)?;
    update.default_upload = opt_bool(&body, "default_upload", true)?;
    if update.is_empty() {
        return Err(ApiError::BadRequest(
            "Nothing to update: give name, description, image or default_*".into(),
        ));
    }
    let now = state.now();
    let room = state
        .blocking(
            move |store| match store.update_room(&room.token, &update, now) {
                Ok(room) => Ok(room),
                Err(StoreError::FileNotFound { id, .. }) => Err(ApiError::NotAcceptable(format!(
                    "Invalid image: file {id} is not a file of this room"
                ))),
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    Ok(ok(&json!({"info_updates": room.info_updates})))
}
