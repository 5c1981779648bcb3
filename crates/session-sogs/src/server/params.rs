//! Shared request-parameter helpers: Session IDs in paths (PySOGS's `SessionID`,
//! `AnySessionID` and `BlindSessionID` route converters, §2), typed fields of JSON
//! object bodies, and the mapping of `05` ids to known blinded users (§4.4).

use serde_json::{Map, Value};
use session_crypto::blinding::blind15_ids;
use session_crypto::{AccountId, IdPrefix};

use super::{ApiError, Caller, Sogs};
use crate::store::SogsStore;

/// Which ids a path segment accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// `AnySessionID`: `05`, `15` (or `25`) + 64 hex.
    Any,
    /// `SessionID`: blinded only when the server requires blinding, else any.
    Room,
    /// `BlindSessionID`: `15` (or `25`) only.
    Blind,
}

/// Parses a Session ID path segment; anything else does not match the route (404).
pub(crate) fn path_id(state: &Sogs, text: &str, kind: IdKind) -> Result<AccountId, ApiError> {
    let not_found = || ApiError::NotFound("Not found".into());
    if text.len() != 66 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let id = AccountId::parse_with(
        text,
        &[IdPrefix::Standard, IdPrefix::Blinded15, IdPrefix::Blinded25],
        "05, 15 or 25",
    )
    .map_err(|_| not_found())?;
    let blinded = matches!(id.prefix(), IdPrefix::Blinded15 | IdPrefix::Blinded25);
    let ok = match kind {
        IdKind::Any => true,
        IdKind::Room => blinded || !state.settings().auth.require_blinding,
        IdKind::Blind => blinded,
    };
    if ok { Ok(id) } else { Err(not_found()) }
}

/// The user a moderator means by `id`: for a `05` id on a server that requires
/// blinding, the existing `15` user with either sign of its blinded key if there is
/// one; otherwise `id` itself. (PySOGS also queues the `05` id in `needs_blinding` so a
/// later first login of the blinded user inherits what was set; the store has no such
/// table, so this server only maps ids of users it knows.)
pub(crate) fn resolve_user(
    store: &dyn SogsStore,
    server_pk: &[u8; 32],
    require_blinding: bool,
    id: AccountId,
) -> Result<AccountId, ApiError> {
    if id.prefix() != IdPrefix::Standard || !require_blinding {
        return Ok(id);
    }
    let Ok(candidates) = blind15_ids(&id, server_pk) else {
        return Ok(id);
    };
    for c in candidates {
        if store.user(&c)?.is_some() {
            return Ok(c);
        }
    }
    Ok(id)
}

/// The JSON object body of a request (400 if it is not an object).
pub(crate) fn object_body(caller: &Caller) -> Result<Map<String, Value>, ApiError> {
    match caller.json::<Value>()? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "Invalid JSON body: expected an object".into(),
        )),
    }
}

/// An optional boolean field (`null` = absent); integers count as booleans when
/// `ints` is set (PySOGS's `bool/int` fields); other types → 400.
pub(crate) fn opt_bool(
    map: &Map<String, Value>,
    key: &str,
    ints: bool,
) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if ints && n.is_i64() => Ok(Some(n.as_i64() != Some(0))),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Invalid {key}: expected a boolean"
        ))),
    }
}

/// An optional number field (`null` = absent); other types → 400.
pub(crate) fn opt_number(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid {key}: not a number"))),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Invalid {key}: expected a number"
        ))),
    }
}
