//! Room files (community-server spec §5.4): `POST /room/{t}/file` stores the raw body
//! (file name from `Content-Disposition`), `GET /room/{t}/file/{id}[/{name}]` serves it
//! with `Content-Type`, `Content-Length`, `Content-Disposition`, `Date` and `Expires`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::percent_decode;
use super::rooms::{parse_uint, readable_room, reply, room_access};
use super::{ApiError, Caller, Sogs};

/// `POST /room/{t}/file` (user + write + upload) → 201 `{"id": N}`; bodies over
/// `max_upload` → 413.
pub(crate) async fn upload(
    State(state): State<Sogs>,
    Path(token): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (room, perms) = room_access(&state, &token, &caller).await?;
    let user = caller.require_user()?.session_id;
    if !(perms.write && perms.upload) {
        return Err(ApiError::Forbidden);
    }
    if caller.body().len() > state.settings().max_upload {
        return Err(ApiError::TooLarge);
    }
    let filename = caller.content_disposition().and_then(disposition_filename);
    let data = caller.body().clone();
    let now = state.now();
    let id = state
        .blocking(move |store| {
            Ok(store.add_file(&room.token, &user, &data, filename.as_deref(), now)?)
        })
        .await?;
    Ok(reply(StatusCode::CREATED, &json!({"id": id})))
}

/// `GET /room/{t}/file/{id}` (read) → the bytes.
pub(crate) async fn download(
    State(state): State<Sogs>,
    Path((token, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    serve_file(&state, &token, &id, &caller).await
}

/// `GET /room/{t}/file/{id}/{anything}`: the same (the suffix is a cosmetic name).
pub(crate) async fn download_named(
    State(state): State<Sogs>,
    Path((token, id, _name)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    serve_file(&state, &token, &id, &caller).await
}

async fn serve_file(
    state: &Sogs,
    token: &str,
    id: &str,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let id = parse_uint(id)?;
    let (room, _) = readable_room(state, token, caller).await?;
    let now = state.now();
    let file = state
        .blocking(move |store| Ok(store.file(&room.token, id, now)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No such file: {id}")))?;
    let disposition = match &file.filename {
        Some(name) if !name.is_empty() => {
            format!("attachment; filename*=UTF-8''{}", percent_encode(name))
        }
        _ => "attachment".to_owned(),
    };
    let mut response = file.data.into_response();
    let headers = response.headers_mut();
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|_| ApiError::Internal("unencodable header".into()))
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition)?);
    headers.insert(header::DATE, value(&http_date(file.uploaded))?);
    if let Some(expiry) = file.expiry {
        headers.insert(header::EXPIRES, value(&http_date(expiry))?);
    }
    Ok(response)
}

/// The file name of a `Content-Disposition` header: `filename*=UTF-8''<pct-encoded>`
/// (RFC 5987; preferred) or `filename="…"` / `filename=token`. `None` when absent or
/// undecodable.
pub(crate) fn disposition_filename(header: &str) -> Option<String> {
    let params = disposition_params(header);
    let extended = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename*"))
        .and_then(|(_, v)| {
            let mut parts = v.splitn(3, '\'');
            let charset = parts.next()?;
            let _language = parts.next()?;
            let encoded = parts.next()?;
            if !charset.eq_ignore_ascii_case("utf-8") {
                return None;
            }
            String::from_utf8(percent_decode(encoded, false)).ok()
        });
    extended
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("filename"))
                .map(|(_, v)| v.clone())
        })
        .filter(|name| !name.is_empty())
}

/// The `name=value` parameters after the disposition type; quoted values are unquoted
/// (with `\` escapes) and may contain `;`.
fn disposition_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = header.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if chars.peek().is_none() && name.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| *c == ' ') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        c => value.push(c),
                    }
                }
                // Anything up to the next ';' is junk.
                while chars.peek().is_some_and(|c| *c != ';') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim_end().to_owned();
            }
        }
        out.push((name.trim().to_owned(), value));
        if chars.peek().is_none() {
            return out;
        }
    }
}

/// Percent-encodes a file name for `filename*=UTF-8''…` (everything but ASCII letters,
/// digits and `-._~/`, as Python's `urllib.parse.quote`).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTTP date (RFC 7231 IMF-fixdate, always GMT) of a Unix time in seconds; times
/// before 1970 or beyond year 9999 are clamped.
pub(crate) fn http_date(unix: f64) -> String {
    session_rt::time::UtcTime::from_unix_f64(unix.clamp(0.0, 253_402_300_799.0)).http_date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0.0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777.9), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(1_700_000_000.0), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(951_782_400.0), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(-5.0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn filenames() {
        let f = disposition_filename;
        assert_eq!(
            f("attachment; filename=\"cat.gif\"").as_deref(),
            Some("cat.gif")
        );
        assert_eq!(
            f("attachment; filename=cat.gif").as_deref(),
            Some("cat.gif")
        );
        assert_eq!(
            f("attachment; filename*=UTF-8''%F0%9F%8E%82 cake.txt").as_deref(),
            Some("🎂 cake.txt")
        );
        assert_eq!(
            f("attachment; filename=\"fallback\"; filename*=utf-8'en'%C3%A9t%C3%A9.png").as_deref(),
            Some("été.png")
        );
        assert_eq!(
            f(r#"attachment; filename="a \"quoted\"; name.txt""#).as_deref(),
            Some(r#"a "quoted"; name.txt"#)
        );
        assert_eq!(f("attachment"), None);
        assert_eq!(f("attachment; filename=\"\""), None);
        assert_eq!(f("attachment; filename*=latin1''x"), None);
        assert_eq!(f("attachment; filename*=UTF-8''%FF"), None);
        assert_eq!(percent_encode("🎂 a/b.txt"), "%F0%9F%8E%82%20a/b.txt");
    }
}
