//! `POST /batch` and `POST /sequence` (community-server spec §5.1): a JSON array of
//! sub-requests, all validated first (any malformed element → 400 for the whole
//! request), then dispatched in-process through the API router. Every sub-request runs
//! as the outer request's user ([`SubRequestAuth`]); its own `X-SOGS-*` headers are
//! ignored. `/batch` runs all of them; `/sequence` stops after the first non-2xx
//! answer, which is the last element.
//!
//! Each answer is `{"code", "headers": {lower-case name: value} (no content-length),
//! "body"}` where `body` is the JSON value when the sub-response's content type is
//! exactly `application/json`, else the base64 of its bytes.

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::auth::SubRequestAuth;
use super::messages::B64_INPUT;
use super::rooms::ok;
use super::{ApiError, Caller, Sogs};

/// The largest sub-response body read back (answers are built by this server).
const MAX_SUB_RESPONSE: usize = 64 * 1024 * 1024;

/// State of the batch handlers: the server and the router sub-requests go through.
#[derive(Clone)]
pub(crate) struct BatchState {
    /// The server.
    pub(crate) sogs: Sogs,
    /// Every API endpoint (without `/batch`, `/sequence` and the onion entries).
    pub(crate) api: Router,
}

/// One validated sub-request.
#[derive(Debug)]
pub(crate) struct SubRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

/// A sub-request path as a URI (see [`session_rt::lsrpc::endpoint_uri`]).
pub(crate) fn request_uri(path: &str) -> Result<Uri, String> {
    session_rt::lsrpc::endpoint_uri(path)
}

/// Builds a header map from string pairs, skipping `Content-Length`.
pub(crate) fn header_map<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("bad header name {name:?}"))?;
        if name == CONTENT_LENGTH {
            continue;
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("bad value for header {name}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Validates one element of a batch.
fn parse_sub(v: &Value) -> Result<SubRequest, String> {
    let obj = v.as_object().ok_or("not an object")?;
    let method = match obj.get("method").and_then(Value::as_str) {
        Some("GET") => Method::GET,
        Some("DELETE") => Method::DELETE,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        _ => return Err("method must be GET, DELETE, POST or PUT".into()),
    };
    let path = obj
        .get("path")
        .and_then(Value::as_str)
        .ok_or("path is required")?;
    let uri = request_uri(path)?;
    let mut headers = match obj.get("headers") {
        None => HeaderMap::new(),
        Some(Value::Object(h)) => {
            let pairs = h
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                .collect::<Option<Vec<_>>>()
                .ok_or("header values must be strings")?;
            header_map(pairs)?
        }
        Some(_) => return Err("headers must be an object".into()),
    };
    let given: Vec<&str> = ["json", "b64", "bytes"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let has_body = method == Method::POST || method == Method::PUT;
    let body = match (has_body, given.as_slice()) {
        (false, []) => None,
        (false, _) => return Err(format!("{method} cannot have a body")),
        (true, ["json"]) => {
            let json = obj.get("json").unwrap_or(&Value::Null);
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Some(json.to_string().into_bytes())
        }
        (true, ["b64"]) => {
            let text = obj
                .get("b64")
                .and_then(Value::as_str)
                .ok_or("b64 must be a string")?;
            let bytes = B64_INPUT.decode(text).map_err(|_| "b64 is not base64")?;
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            Some(bytes)
        }
        (true, ["bytes"]) => {
            let text = obj
                .get("bytes")
                .and_then(Value::as_str)
                .ok_or("bytes must be a string")?;
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            Some(text.as_bytes().to_vec())
        }
        (true, _) => return Err(format!("{method} needs exactly one of json, b64, bytes")),
    };
    Ok(SubRequest {
        method,
        uri,
        headers,
        body,
    })
}

/// Runs one request through `app` and returns the response.
pub(crate) async fn dispatch(app: &Router, request: Request) -> Response {
    match app.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A response as a batch element.
async fn element(response: Response) -> Value {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SUB_RESPONSE).await else {
        return json!({"code": 500, "headers": {"content-type": "text/plain"}, "body": ""});
    };
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let is_json = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    let body = is_json
        .then(|| serde_json::from_slice::<Value>(&bytes).ok())
        .flatten()
        .unwrap_or_else(|| Value::String(STANDARD.encode(&bytes)));
    json!({"code": parts.status.as_u16(), "headers": headers, "body": body})
}

async fn run(state: BatchState, request: Request, sequence: bool) -> Result<Response, ApiError> {
    let caller = Caller::from_request(request, &state.sogs).await?;
    let list = match caller.json::<Value>()? {
        Value::Array(list) => list,
        _ => {
            return Err(ApiError::BadRequest(
                "Invalid batch: expected a JSON array of requests".into(),
            ));
        }
    };
    let subs = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            parse_sub(v).map_err(|e| ApiError::BadRequest(format!("Invalid request {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let auth = SubRequestAuth(caller.user().cloned());
    let mut out = Vec::with_capacity(subs.len());
    for sub in subs {
        let mut request = Request::new(sub.body.map_or_else(Body::empty, Body::from));
        *request.method_mut() = sub.method;
        *request.uri_mut() = sub.uri;
        *request.headers_mut() = sub.headers;
        request.extensions_mut().insert(auth.clone());
        let response = dispatch(&state.api, request).await;
        let success = response.status().is_success();
        out.push(element(response).await);
        if sequence && !success {
            break;
        }
    }
    Ok(ok(&Value::Array(out)))
}

/// `POST /batch`.
pub(crate) async fn batch(
    State(state): State<BatchState>,
    request: Request,
) -> Result<Response, ApiError> {
    run(state, request, false).await
}

/// `POST /sequence`.
pub(crate) async fn sequence(
    State(state): State<BatchState>,
    request: Request,
) -> Result<Response, ApiError> {
    run(state, request, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_request_validation() {
        let good = [
            json!({"method": "GET", "path": "/capabilities"}),
            json!({"method": "POST", "path": "/room/x/message", "json": {"a": 1}}),
            json!({"method": "PUT", "path": "/x", "b64": "aGk"}),
            json!({"method": "POST", "path": "/x", "bytes": "hi", "headers": {"X-A": "b"}}),
            json!({"method": "GET", "path": "/room/x/reaction/1/🍆?t=r"}),
        ];
        for v in &good {
            assert!(parse_sub(v).is_ok(), "{v}");
        }
        let r = parse_sub(&good[1]).ok();
        assert_eq!(
            r.as_ref()
                .and_then(|r| r.headers.get(CONTENT_TYPE))
                .map(HeaderValue::as_bytes),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            parse_sub(&good[4]).ok().map(|r| r.uri.to_string()),
            Some("/room/x/reaction/1/%F0%9F%8D%86?t=r".to_owned())
        );
        let bad = [
            json!("GET /"),
            json!({"method": "PATCH", "path": "/"}),
            json!({"method": "GET"}),
            json!({"method": "GET", "path": "capabilities"}),
            json!({"method": "GET", "path": "/x", "json": {}}),
            json!({"method": "POST", "path": "/x"}),
            json!({"method": "POST", "path": "/x", "json": {}, "bytes": ""}),
            json!({"method": "POST", "path": "/x", "b64": "!!"}),
            json!({"method": "GET", "path": "/x", "headers": {"a": 1}}),
            json!({"method": "GET", "path": "/x", "headers": []}),
        ];
        for v in &bad {
            assert!(parse_sub(v).is_err(), "{v}");
        }
    }
}
