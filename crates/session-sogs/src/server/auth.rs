//! Request authentication (community-server spec §3): the [`Caller`] extractor reads
//! the body (its hash is signed) and the four `X-SOGS-*` headers, and checks them in
//! PySOGS's order:
//!
//! 1. all four absent → anonymous; some absent or undecodable, wrong prefix, invalid
//!    point, `00` key while blinding is required → 400;
//! 2. timestamp more than 24 h from the server's clock → 425;
//! 3. the user row is looked up (created if new); globally banned → 403 `Banned`
//!    (the signature is not even checked);
//! 4. the nonce is recorded; reused → 425;
//! 5. the signature over `server_pk || nonce || timestamp || METHOD || path[?query]
//!    [|| BLAKE2b-512(body)]` is verified → 401 on failure;
//! 6. the user's `last_active` is updated.
//!
//! Sub-requests of `/batch` and `/sequence` carry a [`SubRequestAuth`] request
//! extension with the outer request's user instead: their own `X-SOGS-*` headers are
//! ignored (§3). Extensions cannot come from the network, so the marker cannot be forged.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use session_crypto::sogs_auth::{
    HEADER_NONCE, HEADER_PUBKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, SogsAuthError,
    SogsAuthHeaderValues, SogsRequest, parse_auth_headers,
};
use session_crypto::{AccountId, IdPrefix};

use super::{ApiError, Sogs};
use crate::store::{DAY, User};

/// The largest request body accepted (bigger → 413).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The authentication of an outer `/batch` or `/sequence` request, attached as a request
/// extension to each of its sub-requests: they run as this user (`None`: anonymous)
/// without looking at their own `X-SOGS-*` headers.
#[derive(Clone, Debug)]
pub(crate) struct SubRequestAuth(pub(crate) Option<User>);

/// An incoming request after authentication: who is calling, the body and the query.
#[derive(Debug)]
pub struct Caller {
    user: Option<User>,
    body: Bytes,
    query: Vec<(String, String)>,
    content_disposition: Option<String>,
}

impl Caller {
    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// The authenticated user's id, if any.
    pub fn id(&self) -> Option<AccountId> {
        self.user.as_ref().map(|u| u.session_id)
    }

    /// The authenticated user, or 401 for an anonymous request.
    pub fn require_user(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or(ApiError::AuthRequired)
    }

    /// A query parameter (the first of that name), URL-decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer query parameter: `default` when absent, 400 when not an integer,
    /// clamped to `min..=max` otherwise (PySOGS's `get_int_param(truncate=True)`).
    pub fn int_query(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        match self.query(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(|n| n.clamp(min, max))
                .map_err(|_| ApiError::BadRequest(format!("Invalid {name} parameter"))),
        }
    }

    /// The raw request body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The `Content-Disposition` request header, if present and visible ASCII.
    pub fn content_disposition(&self) -> Option<&str> {
        self.content_disposition.as_deref()
    }

    /// The authenticated user if the id is blinded (`15`/`25`); 401 for an anonymous
    /// caller, 401 `This endpoint requires blinded pubkeys be used` for a `05` one.
    pub fn require_blinded(&self) -> Result<&User, ApiError> {
        let user = self.require_user()?;
        match user.session_id.prefix() {
            IdPrefix::Blinded15 | IdPrefix::Blinded25 => Ok(user),
            _ => Err(ApiError::BlindRequired),
        }
    }

    /// The body as JSON; 400 when it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::BadRequest(format!("Invalid JSON body: {e}")))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    // A value that is not visible ASCII is present but undecodable.
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

impl FromRequest<Sogs> for Caller {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Sogs) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let limit = MAX_BODY.max(state.settings().max_upload.saturating_add(1));
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| ApiError::TooLarge)?;
        let query = parse_query(parts.uri.query().unwrap_or(""));
        let headers = &parts.headers;
        let content_disposition = headers
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(SubRequestAuth(user)) = parts.extensions.get::<SubRequestAuth>() {
            return Ok(Self {
                user: user.clone(),
                body,
                query,
                content_disposition,
            });
        }
        let values = SogsAuthHeaderValues {
            pubkey: header(headers, HEADER_PUBKEY),
            timestamp: header(headers, HEADER_TIMESTAMP),
            nonce: header(headers, HEADER_NONCE),
            signature: header(headers, HEADER_SIGNATURE),
        };
        let Some(parsed) = parse_auth_headers(&values, &state.settings().auth)? else {
            return Ok(Self {
                user: None,
                body,
                query,
                content_disposition,
            });
        };

        let now = state.now();
        // Saturated (absurd) timestamps convert to huge floats and fail the window.
        #[allow(clippy::cast_precision_loss)]
        let ts = parsed.timestamp() as f64;
        if (now - ts).abs() > DAY {
            return Err(ApiError::StaleTimestamp);
        }

        let mut path =
            String::from_utf8_lossy(&percent_decode(parts.uri.path(), false)).into_owned();
        if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
            path.push('?');
            path.push_str(q);
        }
        let method = parts.method.as_str().to_owned();
        let server_pk = *state.public_key();
        let body_for_sig = body.clone();
        let user = state
            .blocking(move |store| {
                let id = parsed.session_id();
                let user = store.ensure_user(&id, now)?;
                if user.banned {
                    return Err(ApiError::Banned);
                }
                if !store.use_nonce(&id, parsed.nonce(), now)? {
                    return Err(ApiError::NonceReused);
                }
                let request = SogsRequest {
                    method: &method,
                    path: &path,
                    body: &body_for_sig,
                };
                parsed
                    .verify(&server_pk, &request)
                    .map_err(|_| ApiError::Auth(SogsAuthError::SignatureFailed))?;
                store.touch_user(&id, now)?;
                Ok(User {
                    last_active: now,
                    ..user
                })
            })
            .await?;
        Ok(Self {
            user: Some(user),
            body,
            query,
            content_disposition,
        })
    }
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| String::from_utf8_lossy(&percent_decode(s, true)).into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// Percent-decodes `text` (and `+` as a space when `plus` is set); malformed escapes
/// stay as they are.
pub(crate) fn percent_decode(text: &str, plus: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/a%F0%9F%8D%86", false), "/a🍆".as_bytes());
        assert_eq!(percent_decode("a+b%2", true), b"a b%2");
        assert_eq!(
            parse_query("limit=5&t=r&x"),
            vec![
                ("limit".into(), "5".into()),
                ("t".into(), "r".into()),
                ("x".into(), String::new())
            ]
        );
    }
}
