//! Message endpoints (community-server spec §5.3): polling, posting, editing and
//! deleting messages, reactions and pins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use session_crypto::{AccountId, IdPrefix};

use super::filter::Verdict;
use super::rooms::{ok, parse_uint, readable_room, reply, room_access};
use super::{ApiError, Caller, Sogs, json as shapes};
use crate::store::{MessageEdit, NewPost, ReadOptions};

/// Standard base64, padding optional, strict alphabet (§2 "Base64 input").
pub(crate) const B64_INPUT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `limit` of message lists: default 100, clamped to 1..=256.
fn limit(caller: &Caller) -> Result<usize, ApiError> {
    let n = caller.int_query("limit", 100, 1, 256)?;
    Ok(usize::try_from(n).unwrap_or(100))
}

/// The `reactors` count: default 4, clamped to 0..=20.
fn reactors(caller: &Caller) -> Result<usize, ApiError> {
    let n = caller.int_query("reactors", 4, 0, 20)?;
    Ok(usize::try_from(n).unwrap_or(4))
}

fn list(messages: Vec<Value>) -> Response {
    ok(&Value::Array(messages))
}

/// `GET /room/{t}/messages/since/{seqno}?limit=&t=r&reactors=`.
pub(crate) async fn since(
    State(state): State<Sogs>,
    Path((token, seqno)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let since = parse_uint(&seqno)?;
    let (room, _) = readable_room(&state, &token, &caller).await?;
    let limit = limit(&caller)?;
    let reactors = reactors(&caller)?;
    let with_reactions = caller.query("t").is_some_and(|t| t.contains('r'));
    let opts = ReadOptions {
        viewer: caller.id(),
        reactors,
    };
    let now = state.now();
    // The main poll: activity and the read in one trip to the store's thread pool.
    let msgs = state
        .blocking(move |store| {
            if let Some(id) = opts.viewer {
                store.record_activity(&room.token, &id, now)?;
            }
            Ok(store.messages_since(&room.token, since, limit, with_reactions, &opts)?)
        })
        .await?;
    Ok(list(
        msgs.iter()
            .map(|m| shapes::update(m, since, reactors > 0))
            .collect(),
    ))
}

async fn recent_before(
    state: &Sogs,
    token: &str,
    before: Option<i64>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let (room, _) = readable_room(state, token, caller).await?;
    let limit = limit(caller)?;
    let reactors = reactors(caller)?;
    let opts = ReadOptions {
        viewer: caller.id(),
        reactors,
    };
    let msgs = state
        .blocking(move |store| Ok(store.messages_recent(&room.token, before, limit, &opts)?))
        .await?;
    Ok(list(
        msgs.iter()
            .map(|m| shapes::message(m, reactors > 0))
            .collect(),
    ))
}

/// `GET /room/{t}/messages/recent`.
pub(crate) async fn recent(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    recent_before(&state, &token, None, &caller).await
}

/// `GET /room/{t}/messages/before/{id}`.
pub(crate) async fn before(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    recent_before(&state, &token, Some(id), &caller).await
}

/// `GET /room/{t}/message/{id}`.
pub(crate) async fn get_message(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let (room, _) = readable_room(&state, &token, &caller).await?;
    let reactors = reactors(&caller)?;
    let opts = ReadOptions {
        viewer: caller.id(),
        reactors,
    };
    let msg = state
        .blocking(move |store| Ok(store.message(&room.token, id, &opts)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No such post: {id}")))?;
    Ok(ok(&shapes::message(&msg, reactors > 0)))
}

/// The body of `POST /room/{t}/message` and `PUT /room/{t}/message/{id}`.
#[derive(Deserialize)]
struct PostBody {
    data: Option<String>,
    signature: Option<String>,
    whisper_to: Option<String>,
    whisper_mods: Option<bool>,
    files: Option<Vec<i64>>,
}

/// The decoded data and signature.
fn content(body: &PostBody) -> Result<(Vec<u8>, [u8; 64]), ApiError> {
    let decode = |field: &Option<String>, name: &str| {
        let text = field
            .as_deref()
            .ok_or_else(|| ApiError::BadRequest(format!("Missing {name}")))?;
        B64_INPUT
            .decode(text)
            .map_err(|_| ApiError::BadRequest(format!("Invalid {name}: not base64")))
    };
    let data = decode(&body.data, "data")?;
    if data.is_empty() {
        return Err(ApiError::BadRequest("Invalid data: empty".into()));
    }
    let signature: [u8; 64] = decode(&body.signature, "signature")?
        .try_into()
        .map_err(|_| ApiError::BadRequest("Invalid signature: must be 64 bytes".into()))?;
    Ok((data, signature))
}

/// The server's content filter's verdict (allow when there is none).
fn check_filter(
    state: &Sogs,
    room: &str,
    author: &AccountId,
    moderator: bool,
    data: &[u8],
) -> Verdict {
    match &state.settings().filter {
        Some(f) => f.check(room, author, moderator, data),
        None => Verdict::Allow,
    }
}

/// `POST /room/{t}/message` → 201 with the message.
pub(crate) async fn post_message(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?.session_id;
    let (room, perms) = room_access(&state, &token, &caller).await?;
    let body: PostBody = caller.json()?;
    let (data, signature) = content(&body)?;
    let whisper_to = body
        .whisper_to
        .as_deref()
        .map(|t| {
            AccountId::parse_with(
                t,
                &[IdPrefix::Standard, IdPrefix::Blinded15, IdPrefix::Blinded25],
                "05, 15 or 25",
            )
            .map_err(|_| ApiError::BadRequest("Invalid whisper_to".into()))
        })
        .transpose()?;
    let whisper_mods = body.whisper_mods.unwrap_or(false);
    if !perms.write {
        return Err(ApiError::Forbidden);
    }
    if (whisper_to.is_some() || whisper_mods) && !perms.moderator {
        return Err(ApiError::Forbidden);
    }
    let filtered = match check_filter(&state, &room.token, &user, perms.moderator, &data) {
        Verdict::Allow => false,
        Verdict::Silent => true,
        Verdict::Reject(reason) => return Err(ApiError::Rejected(reason)),
    };
    let post = NewPost {
        author: user,
        data,
        signature,
        whisper_to,
        whisper_mods,
        files: body.files.unwrap_or_default(),
        filtered,
    };
    let now = state.now();
    let rate = state.settings().rate_limit;
    let admin = perms.admin;
    let msg = state
        .blocking(move |store| {
            if !admin && store.posts_since(&room.token, &user, now - rate.interval)? >= rate.posts {
                return Err(ApiError::RateLimited);
            }
            Ok(store.post_message(&room.token, &post, now)?)
        })
        .await?;
    let mut out = shapes::message(&msg, true);
    if msg.filtered {
        out["filtered"] = json!(true);
    }
    Ok(reply(StatusCode::CREATED, &out))
}

/// `PUT /room/{t}/message/{id}` (author only) → `{}`.
pub(crate) async fn edit_message(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let user = caller.require_user()?.session_id;
    let (room, perms) = room_access(&state, &token, &caller).await?;
    let body: PostBody = caller.json()?;
    let (data, signature) = content(&body)?;
    if !perms.write {
        return Err(ApiError::Forbidden);
    }
    match check_filter(&state, &room.token, &user, perms.moderator, &data) {
        Verdict::Allow => {}
        Verdict::Silent => return Err(ApiError::Rejected("Post rejected".into())),
        Verdict::Reject(reason) => return Err(ApiError::Rejected(reason)),
    }
    let edit = MessageEdit {
        editor: user,
        data,
        signature,
        files: body.files.unwrap_or_default(),
    };
    let now = state.now();
    state
        .blocking(move |store| Ok(store.edit_message(&room.token, id, &edit, now)?))
        .await?;
    Ok(ok(&json!({})))
}

/// `DELETE /room/{t}/message/{id}` (author with write, or a moderator) → `{}`.
pub(crate) async fn delete_message(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let user = caller.require_user()?.session_id;
    let (room, perms) = room_access(&state, &token, &caller).await?;
    let now = state.now();
    state
        .blocking(move |store| {
            let opts = ReadOptions {
                viewer: Some(user),
                reactors: 0,
            };
            let msg = store
                .message(&room.token, id, &opts)?
                .ok_or_else(|| ApiError::NotFound(format!("No such post: {id}")))?;
            let own = msg.session_id == user && perms.write;
            if !(perms.moderator || own) {
                return Err(ApiError::Forbidden);
            }
            Ok(store.delete_message(&room.token, id, now)?)
        })
        .await?;
    Ok(ok(&json!({})))
}

/// The reaction path segment: 1..=12 code points (else 400).
fn check_reaction(reaction: &str) -> Result<(), ApiError> {
    let n = reaction.chars().count();
    if n == 0 || n > crate::store::MAX_REACTION_CHARS {
        return Err(ApiError::BadRequest("Invalid reaction".into()));
    }
    Ok(())
}

/// `PUT /room/{t}/reaction/{id}/{reaction}` → `{"added", "seqno"}`.
pub(crate) async fn add_reaction(
    State(state): State<Sogs>,
    Path((token, id, reaction)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let user = caller.require_user()?.session_id;
    let (room, _) = readable_room(&state, &token, &caller).await?;
    check_reaction(&reaction)?;
    let now = state.now();
    let (added, seqno) = state
        .blocking(move |store| Ok(store.add_reaction(&room.token, id, &user, &reaction, now)?))
        .await?;
    Ok(ok(&json!({"added": added, "seqno": seqno})))
}

/// `DELETE /room/{t}/reaction/{id}/{reaction}` → `{"removed", "seqno"}`.
pub(crate) async fn remove_reaction(
    State(state): State<Sogs>,
    Path((token, id, reaction)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let user = caller.require_user()?.session_id;
    let (room, _) = readable_room(&state, &token, &caller).await?;
    check_reaction(&reaction)?;
    let (removed, seqno) = state
        .blocking(move |store| Ok(store.remove_reaction(&room.token, id, &user, &reaction)?))
        .await?;
    Ok(ok(&json!({"removed": removed, "seqno": seqno})))
}

async fn clear(
    state: &Sogs,
    token: &str,
    id: &str,
    reaction: Option<String>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(id)?;
    caller.require_user()?;
    let (room, perms) = room_access(state, token, caller).await?;
    if !perms.moderator {
        return Err(ApiError::Forbidden);
    }
    if let Some(r) = &reaction {
        check_reaction(r)?;
    }
    let (removed, seqno) = state
        .blocking(move |store| Ok(store.clear_reactions(&room.token, id, reaction.as_deref())?))
        .await?;
    Ok(ok(&json!({"removed": removed, "seqno": seqno})))
}

/// `DELETE /room/{t}/reactions/{id}` (moderator) → `{"removed", "seqno"}`.
pub(crate) async fn clear_reactions(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    clear(&state, &token, &id, None, &caller).await
}

/// `DELETE /room/{t}/reactions/{id}/{reaction}` (moderator).
pub(crate) async fn clear_reaction(
    State(state): State<Sogs>,
    Path((token, id, reaction)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    clear(&state, &token, &id, Some(reaction), &caller).await
}

/// `GET /room/{t}/reactors/{id}/{reaction}[?limit=N]` → `[[session_id, time], …]`.
pub(crate) async fn reactors_list(
    State(state): State<Sogs>,
    Path((token, id, reaction)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let (room, _) = readable_room(&state, &token, &caller).await?;
    check_reaction(&reaction)?;
    let limit = caller.int_query("limit", 0, i64::MIN, i64::MAX)?;
    let limit = usize::try_from(limit).ok().filter(|n| *n > 0);
    let who = state
        .blocking(move |store| Ok(store.reactors(&room.token, id, &reaction, limit)?))
        .await?;
    Ok(ok(&Value::Array(
        who.iter()
            .map(|(id, at)| json!([id.to_hex(), at]))
            .collect(),
    )))
}

/// The room (404) and the caller's id, requiring admin (403, also for anonymous
/// callers: pin endpoints have no auth decorator in PySOGS).
async fn admin_room(
    state: &Sogs,
    token: &str,
    caller: &Caller,
) -> Result<(String, AccountId), ApiError> {
    let (room, perms) = room_access(state, token, caller).await?;
    match caller.id() {
        Some(id) if perms.admin => Ok((room.token, id)),
        _ => Err(ApiError::Forbidden),
    }
}

/// `POST /room/{t}/pin/{id}` (admin) → `{"info_updates"}`.
pub(crate) async fn pin(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let (token, by) = admin_room(&state, &token, &caller).await?;
    let now = state.now();
    let info_updates = state
        .blocking(move |store| Ok(store.pin(&token, id, &by, now)?))
        .await?;
    Ok(ok(&json!({"info_updates": info_updates})))
}

/// `POST /room/{t}/unpin/{id}` (admin) → `{"unpinned": bool, "info_updates"}`.
pub(crate) async fn unpin(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(&id)?;
    let (token, _) = admin_room(&state, &token, &caller).await?;
    let (unpinned, info_updates) = state
        .blocking(move |store| Ok(store.unpin(&token, id)?))
        .await?;
    Ok(ok(
        &json!({"unpinned": unpinned, "info_updates": info_updates}),
    ))
}

/// `POST /room/{t}/unpin/all` (admin) → `{"unpinned": count, "info_updates"}`.
pub(crate) async fn unpin_all(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (token, _) = admin_room(&state, &token, &caller).await?;
    let (unpinned, info_updates) = state
        .blocking(move |store| Ok(store.unpin_all(&token)?))
        .await?;
    Ok(ok(
        &json!({"unpinned": unpinned, "info_updates": info_updates}),
    ))
}
