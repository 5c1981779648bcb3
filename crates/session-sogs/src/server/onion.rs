//! Onion-request entries (community-server spec §5.7): `POST /oxen/v4/lsrpc` (via
//! [`session_rt::lsrpc::handle_lsrpc`]) and the deprecated v3 entries
//! `POST /oxen/v3/lsrpc` and `POST /loki/v3/lsrpc`. Both decrypt with the server's
//! X25519 key and dispatch the inner request in-process (its own `X-SOGS-*` headers
//! authenticate it); an undecryptable request is answered 400 in plaintext.
//!
//! v3: the plaintext is JSON `{"endpoint", "method", "headers"?, "body"?,
//! "auth_code"?}`; an endpoint without a leading `/` is a legacy one
//! (`/legacy/<endpoint>`, not served here → 404 inside). The reply is the base64 of the
//! encrypted sub-response body for a 2xx answer, else of `{"status_code": N}`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_rt::lsrpc::{LsrpcError, decrypt_request, handle_lsrpc};
use session_wire::onion::MAX_ONION_SIZE;

use super::Sogs;
use super::batch::{dispatch, header_map, request_uri};

#[derive(Clone)]
struct OnionState {
    sogs: Sogs,
    app: Router,
}

/// Adds the onion entries to `app`; inner requests go to `app` itself.
pub(crate) fn with_onion(app: Router, sogs: Sogs) -> Router {
    let state = OnionState {
        sogs,
        app: app.clone(),
    };
    Router::new()
        .route("/oxen/v4/lsrpc", axum::routing::post(v4))
        .route("/oxen/v3/lsrpc", axum::routing::post(v3))
        .route("/loki/v3/lsrpc", axum::routing::post(v3))
        .with_state(state)
        .merge(app)
}

async fn v4(State(state): State<OnionState>, request: Request) -> Response {
    handle_lsrpc(&state.app, &state.sogs.inner.key, request).await
}

/// The inner request of a v3 onion request, or why it is not one.
fn v3_request(plaintext: &[u8]) -> Result<Request, String> {
    let v: Value = serde_json::from_slice(plaintext).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not an object")?;
    let endpoint = obj
        .get("endpoint")
        .and_then(Value::as_str)
        .ok_or("endpoint is required")?;
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .ok_or("method is required")?;
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| "bad method".to_owned())?;
    let path = if endpoint.starts_with('/') {
        endpoint.to_owned()
    } else {
        format!("/legacy/{endpoint}")
    };
    let uri = request_uri(&path)?;
    let mut headers = match obj.get("headers") {
        None | Some(Value::Null) => axum::http::HeaderMap::new(),
        Some(Value::Object(h)) => {
            let pairs: Vec<(String, String)> = h
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect();
            header_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
        }
        Some(_) => return Err("headers must be an object".into()),
    };
    if let Some(code) = obj.get("auth_code").and_then(Value::as_str) {
        let value = HeaderValue::from_str(code).map_err(|_| "bad auth_code".to_owned())?;
        headers.insert(AUTHORIZATION, value);
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => None,
        // Android sends "null" bodies with GETs.
        Some(Value::String(s)) if method == Method::GET && s == "null" => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(_) => return Err("body must be a string".into()),
    };
    if body.is_some() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let mut request = Request::new(body.map_or_else(Body::empty, Body::from));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

async fn v3(State(state): State<OnionState>, request: Request) -> Response {
    let body = match axum::body::to_bytes(request.into_body(), MAX_ONION_SIZE).await {
        Ok(b) => b,
        Err(_) => {
            return LsrpcError::TooLarge {
                max: MAX_ONION_SIZE,
            }
            .into_response();
        }
    };
    let (plaintext, key) = match decrypt_request(&body, &state.sogs.inner.key) {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!("v3 onion request refused: {e}");
            return e.into_response();
        }
    };
    let reply = match v3_request(&plaintext) {
        Ok(inner) => {
            let response = dispatch(&state.app, inner).await;
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), MAX_ONION_SIZE).await;
            match bytes {
                Ok(b) if status.is_success() => b.to_vec(),
                Ok(_) => json!({"status_code": status.as_u16()})
                    .to_string()
                    .into_bytes(),
                Err(_) => json!({"status_code": 500}).to_string().into_bytes(),
            }
        }
        Err(reason) => {
            tracing::debug!("invalid v3 onion request: {reason}");
            json!({"status_code": 400}).to_string().into_bytes()
        }
    };
    match key.seal_raw(&reply) {
        Ok(sealed) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            STANDARD.encode(sealed),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
