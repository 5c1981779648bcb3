//! User moderation (community-server spec §5.5): `POST /user/{sid}/moderator`,
//! `/ban`, `/unban` (each for a list of rooms or globally), and deleting all of a
//! user's posts in one room (`DELETE /room/{t}/all/{sid}`) or every room
//! (`DELETE /rooms/all/{sid}`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};
use session_crypto::AccountId;

use super::params::{IdKind, object_body, opt_bool, opt_number, path_id, resolve_user};
use super::rooms::{ok, room_access};
use super::{ApiError, Caller, Sogs};
use crate::store::{ModeratorChange, Scope, SogsStore, User};

/// Where a moderation request applies.
enum Target {
    /// Server-wide.
    Global,
    /// These rooms (stored-case tokens), every one checked.
    Rooms(Vec<String>),
}

/// What the caller must be in each named room.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Moderator,
    Admin,
}

/// Reads `rooms` / `global` from the body: exactly one of a non-empty list of tokens
/// (or `["*"]`) and `global: true` → `(tokens, global)`; anything else → 400.
fn rooms_or_global(body: &Map<String, Value>) -> Result<(Option<Vec<String>>, bool), ApiError> {
    let global = opt_bool(body, "global", false)?.unwrap_or(false);
    let rooms = match body.get("rooms") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let tokens = list
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| ApiError::BadRequest("Invalid rooms: expected tokens".into()))?;
            if tokens.is_empty() {
                return Err(ApiError::BadRequest("Invalid rooms: empty list".into()));
            }
            if tokens.len() > 1 && tokens.iter().any(|t| t == "*") {
                return Err(ApiError::BadRequest(
                    "Invalid rooms: \"*\" must be the only element".into(),
                ));
            }
            Some(tokens)
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid rooms: expected a list".into(),
            ));
        }
    };
    match (&rooms, global) {
        (Some(_), true) => Err(ApiError::BadRequest(
            "Give either rooms or global, not both".into(),
        )),
        (None, false) => Err(ApiError::BadRequest("Give rooms or global".into())),
        _ => Ok((rooms, global)),
    }
}

/// Checks the caller's authority over the target (403 otherwise, including unknown
/// room tokens) and returns it with the rooms resolved.
fn authorize(
    store: &dyn SogsStore,
    caller: &User,
    rooms: Option<Vec<String>>,
    need: Need,
) -> Result<Target, ApiError> {
    let has = |p: &crate::store::Permissions| match need {
        Need::Moderator => p.moderator,
        Need::Admin => p.admin,
    };
    let Some(tokens) = rooms else {
        let allowed = match need {
            Need::Moderator => caller.moderator || caller.admin,
            Need::Admin => caller.admin,
        };
        return if allowed {
            Ok(Target::Global)
        } else {
            Err(ApiError::Forbidden)
        };
    };
    let me = Some(&caller.session_id);
    let mut out = Vec::new();
    if tokens.len() == 1 && tokens[0] == "*" {
        for room in store.rooms()? {
            if has(&store.permissions(&room.token, me)?) {
                out.push(room.token);
            }
        }
        if out.is_empty() {
            return Err(ApiError::Forbidden);
        }
        return Ok(Target::Rooms(out));
    }
    for token in tokens {
        let Some(room) = store.room(&token)? else {
            return Err(ApiError::Forbidden);
        };
        if !has(&store.permissions(&room.token, me)?) {
            return Err(ApiError::Forbidden);
        }
        if !out.contains(&room.token) {
            out.push(room.token);
        }
    }
    Ok(Target::Rooms(out))
}

/// The `{sid}` of a `/user/{sid}/…` path (any `05`/`15` id; `05` mapped to a known
/// blinded user).
async fn target_user(state: &Sogs, sid: &str) -> Result<AccountId, ApiError> {
    let id = path_id(state, sid, IdKind::Any)?;
    let pk = *state.public_key();
    let blind = state.settings().auth.require_blinding;
    state
        .blocking(move |store| resolve_user(store, &pk, blind, id))
        .await
}

/// `POST /user/{sid}/moderator` → `{"info_updates": {token: N, …}}`.
pub(crate) async fn moderator(
    State(state): State<Sogs>,
    Path(sid): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let who = target_user(&state, &sid).await?;
    let me = caller.require_user()?.clone();
    let body = object_body(&caller)?;
    let (rooms, global) = rooms_or_global(&body)?;
    let moderator = opt_bool(&body, "moderator", false)?;
    let admin = opt_bool(&body, "admin", false)?;
    let visible = opt_bool(&body, "visible", false)?;
    if moderator.is_none() && admin.is_none() {
        return Err(ApiError::BadRequest("Give moderator and/or admin".into()));
    }
    if admin == Some(true) && moderator == Some(false) {
        return Err(ApiError::BadRequest(
            "admin=true with moderator=false is contradictory".into(),
        ));
    }
    let now = state.now();
    let updates = state
        .blocking(move |store| {
            let target = authorize(store, &me, rooms, Need::Admin)?;
            let mut out = BTreeMap::new();
            let scopes: Vec<(Scope<'_>, bool)> = match &target {
                Target::Global => vec![(Scope::Global, global)],
                Target::Rooms(tokens) => tokens.iter().map(|t| (Scope::Room(t), false)).collect(),
            };
            for (scope, is_global) in scopes {
                let change = ModeratorChange {
                    moderator,
                    admin,
                    visible: Some(visible.unwrap_or(!is_global)),
                };
                for (token, n) in store.set_moderator(scope, &who, &change, now)? {
                    out.insert(token, n);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(ok(&json!({"info_updates": updates})))
}

/// `POST /user/{sid}/ban` with optional `timeout` (seconds) → `{}`.
pub(crate) async fn ban(
    State(state): State<Sogs>,
    Path(sid): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let who = target_user(&state, &sid).await?;
    let me = caller.require_user()?.clone();
    let body = object_body(&caller)?;
    let (rooms, _) = rooms_or_global(&body)?;
    let timeout = opt_number(&body, "timeout")?;
    if timeout.is_some_and(|t| !(t > 0.0 && t < 1e9)) {
        return Err(ApiError::BadRequest(
            "Invalid timeout: seconds in (0, 1e9) required".into(),
        ));
    }
    let now = state.now();
    state
        .blocking(move |store| {
            let target = authorize(store, &me, rooms, Need::Moderator)?;
            if who == me.session_id {
                return Err(ApiError::Forbidden);
            }
            if store.user(&who)?.is_some_and(|u| u.moderator || u.admin) {
                return Err(ApiError::Forbidden);
            }
            match target {
                Target::Global => store.ban(Scope::Global, &who, timeout, now)?,
                Target::Rooms(tokens) => {
                    // Check every room before banning in any.
                    for token in &tokens {
                        let theirs = store.permissions(token, Some(&who))?;
                        let mine = store.permissions(token, Some(&me.session_id))?;
                        if theirs.moderator && !mine.admin {
                            return Err(ApiError::Forbidden);
                        }
                    }
                    for token in &tokens {
                        store.ban(Scope::Room(token), &who, timeout, now)?;
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(ok(&json!({})))
}

/// `POST /user/{sid}/unban` → `{}`.
pub(crate) async fn unban(
    State(state): State<Sogs>,
    Path(sid): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let who = target_user(&state, &sid).await?;
    let me = caller.require_user()?.clone();
    let body = object_body(&caller)?;
    let (rooms, _) = rooms_or_global(&body)?;
    state
        .blocking(move |store| {
            match authorize(store, &me, rooms, Need::Moderator)? {
                Target::Global => store.unban(Scope::Global, &who)?,
                Target::Rooms(tokens) => {
                    for token in &tokens {
                        store.unban(Scope::Room(token), &who)?;
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(ok(&json!({})))
}

/// Whether `me` may wipe `who`'s posts in a room: oneself, or a moderator, and only an
/// admin may wipe an admin's.
fn may_wipe(
    store: &dyn SogsStore,
    token: &str,
    me: &AccountId,
    who: &AccountId,
) -> Result<bool, ApiError> {
    if me == who {
        return Ok(true);
    }
    let mine = store.permissions(token, Some(me))?;
    if !mine.moderator {
        return Ok(false);
    }
    let theirs = store.permissions(token, Some(who))?;
    Ok(!theirs.admin || mine.admin)
}

/// `DELETE /room/{t}/all/{sid}` → `{}`; 404 for an unknown user or nothing deleted.
pub(crate) async fn delete_all_in_room(
    State(state): State<Sogs>,
    Path((token, sid)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, _) = room_access(&state, &token, &caller).await?;
    let me = caller.require_user()?.session_id;
    let who = target_user(&state, &sid).await?;
    let now = state.now();
    state
        .blocking(move |store| {
            if store.user(&who)?.is_none() {
                return Err(ApiError::NotFound("No such user".into()));
            }
            if !may_wipe(store, &room.token, &me, &who)? {
                return Err(ApiError::Forbidden);
            }
            if store.delete_user_messages(&room.token, &who, now)? == 0 {
                return Err(ApiError::NotFound("No posts to delete".into()));
            }
            Ok(())
        })
        .await?;
    Ok(ok(&json!({})))
}

/// `DELETE /rooms/all/{sid}` → `{"total": N, "rooms": {token: count}}` over every room
/// the caller can access and may wipe in.
pub(crate) async fn delete_all_everywhere(
    State(state): State<Sogs>,
    Path(sid): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let me = caller.require_user()?.session_id;
    let who = target_user(&state, &sid).await?;
    let now = state.now();
    let (total, rooms) = state
        .blocking(move |store| {
            if store.user(&who)?.is_none() {
                return Err(ApiError::NotFound("No such user".into()));
            }
            let mut total = 0;
            let mut rooms = BTreeMap::new();
            for room in store.rooms()? {
                if !store.permissions(&room.token, Some(&me))?.accessible
                    || !may_wipe(store, &room.token, &me, &who)?
                {
                    continue;
                }
                let n = store.delete_user_messages(&room.token, &who, now)?;
                total += n;
                rooms.insert(room.token, n);
            }
            Ok((total, rooms))
        })
        .await?;
    Ok(ok(&json!({"total": total, "rooms": rooms})))
}
