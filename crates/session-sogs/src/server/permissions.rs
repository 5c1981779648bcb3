//! Per-user room permissions (community-server spec §5.2, shapes §6.4): the override
//! rows (`/room/{t}/permissions[/{sid}]`) and scheduled changes
//! (`/room/{t}/futurePermissions[/{sid}]`). Moderators only: 401 anonymous, 403 others.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};
use session_crypto::AccountId;

use super::params::{IdKind, object_body, opt_bool, opt_number, path_id, resolve_user};
use super::rooms::{ok, room_access};
use super::{ApiError, Caller, Sogs};
use crate::store::{FuturePermission, Overrides, PermissionChange, Room, ScheduledChange, Setting};

/// The room for a moderator: 404 unknown room, 401 anonymous, 403 not a moderator.
pub(crate) async fn mod_room(
    state: &Sogs,
    token: &str,
    caller: &Caller,
) -> Result<(Room, AccountId), ApiError> {
    let (room, perms) = room_access(state, token, caller).await?;
    let user = caller.require_user()?.session_id;
    if !perms.moderator {
        return Err(ApiError::Forbidden);
    }
    Ok((room, user))
}

/// §6.4: an override row as the permission endpoints show it.
pub(crate) fn overrides_json(o: Option<&Overrides>) -> Value {
    let mut m = Map::new();
    let Some(o) = o else {
        return Value::Object(m);
    };
    if o.banned {
        m.insert("banned".into(), json!(true));
    }
    for (key, v) in [
        ("read", o.read),
        ("accessible", o.accessible),
        ("write", o.write),
        ("upload", o.upload),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    if o.admin {
        m.insert("admin".into(), json!(true));
    } else if o.moderator {
        m.insert("moderator".into(), json!(true));
    }
    if (o.admin || o.moderator) && !o.visible_mod {
        m.insert("hidden".into(), json!(true));
    }
    Value::Object(m)
}

fn future_json(f: &FuturePermission, with_id: bool) -> Value {
    let mut m = Map::new();
    if with_id {
        m.insert("session_id".into(), json!(f.session_id.to_hex()));
    }
    m.insert("at".into(), json!(f.at));
    for (key, v) in [
        ("read", f.read),
        ("write", f.write),
        ("upload", f.upload),
        ("banned", f.banned),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    Value::Object(m)
}

/// The user a `{sid}` path segment names (404 if it is not a `SessionID`), with `05`
/// ids mapped to known blinded users.
async fn target(state: &Sogs, sid: &str) -> Result<AccountId, ApiError> {
    let id = path_id(state, sid, IdKind::Room)?;
    let pk = *state.public_key();
    let blind = state.settings().auth.require_blinding;
    state
        .blocking(move |store| resolve_user(store, &pk, blind, id))
        .await
}

/// `GET /room/{t}/permissions` → `{session_id: perms}`.
pub(crate) async fn list(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let rows = state
        .blocking(move |store| Ok(store.room_overrides(&room.token)?))
        .await?;
    let mut out = Map::new();
    for (id, o) in &rows {
        out.insert(id.to_hex(), overrides_json(Some(o)));
    }
    Ok(ok(&Value::Object(out)))
}

/// `GET /room/{t}/permissions/{sid}` → that user's overrides (`{}` if none).
pub(crate) async fn get_one(
    State(state): State<Sogs>,
    Path((token, sid)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let who = target(&state, &sid).await?;
    let row = state
        .blocking(move |store| Ok(store.overrides(&room.token, &who)?))
        .await?;
    Ok(ok(&overrides_json(row.as_ref())))
}

/// `POST /room/{t}/permissions/{sid}`: sets or clears overrides → the resulting row.
pub(crate) async fn set(
    State(state): State<Sogs>,
    Path((token, sid)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let who = target(&state, &sid).await?;
    let body = object_body(&caller)?;
    let setting = |key: &str| -> Result<Setting, ApiError> {
        let value = opt_bool(&body, key, false)?;
        let clear = opt_bool(&body, &format!("default_{key}"), false)? == Some(true);
        match (value, clear) {
            (Some(_), true) => Err(ApiError::BadRequest(format!(
                "Cannot both set {key} and default_{key}"
            ))),
            (Some(v), false) => Ok(Setting::Set(v)),
            (None, true) => Ok(Setting::Clear),
            (None, false) => Ok(Setting::Keep),
        }
    };
    let change = PermissionChange {
        read: setting("read")?,
        accessible: setting("accessible")?,
        write: setting("write")?,
        upload: setting("upload")?,
        unschedule: opt_bool(&body, "unschedule", false)?.unwrap_or(true),
    };
    let keep = [change.read, change.accessible, change.write, change.upload]
        .iter()
        .all(|s| *s == Setting::Keep);
    let now = state.now();
    let row = state
        .blocking(move |store| {
            if keep {
                return Ok(store.overrides(&room.token, &who)?);
            }
            Ok(store.set_permissions(&room.token, &who, &change, now)?)
        })
        .await?;
    Ok(ok(&overrides_json(row.as_ref())))
}

/// `GET /room/{t}/futurePermissions` → `[{session_id, at, …}]` by `at`.
pub(crate) async fn future_list(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let list = state
        .blocking(move |store| Ok(store.future_permissions(&room.token, None)?))
        .await?;
    Ok(ok(&Value::Array(
        list.iter().map(|f| future_json(f, true)).collect(),
    )))
}

/// `GET /room/{t}/futurePermissions/{sid}` → `[{at, …}]`.
pub(crate) async fn future_one(
    State(state): State<Sogs>,
    Path((token, sid)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let who = target(&state, &sid).await?;
    let list = state
        .blocking(move |store| Ok(store.future_permissions(&room.token, Some(&who))?))
        .await?;
    Ok(ok(&Value::Array(
        list.iter().map(|f| future_json(f, false)).collect(),
    )))
}

/// `POST /room/{t}/futurePermissions/{sid}` with `read`/`write`/`upload` and `in`
/// (seconds, 0 < in < 1e9) → the user's scheduled changes.
pub(crate) async fn schedule(
    State(state): State<Sogs>,
    Path((token, sid)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = mod_room(&state, &token, &caller).await?;
    let who = target(&state, &sid).await?;
    let body = object_body(&caller)?;
    let change = ScheduledChange {
        read: opt_bool(&body, "read", false)?,
        write: opt_bool(&body, "write", false)?,
        upload: opt_bool(&body, "upload", false)?,
    };
    if change.read.is_none() && change.write.is_none() && change.upload.is_none() {
        return Err(ApiError::BadRequest(
            "At least one of read, write, upload is required".into(),
        ));
    }
    let delay = opt_number(&body, "in")?
        .filter(|d| *d > 0.0 && *d < 1e9)
        .ok_or_else(|| ApiError::BadRequest("Invalid in: seconds in (0, 1e9) required".into()))?;
    let at = state.now() + delay;
    let list = state
        .blocking(move |store| {
            store.schedule_permissions(&room.token, &who, at, &change)?;
            Ok(store.future_permissions(&room.token, Some(&who))?)
        })
        .await?;
    Ok(ok(&Value::Array(
        list.iter().map(|f| future_json(f, false)).collect(),
    )))
}
