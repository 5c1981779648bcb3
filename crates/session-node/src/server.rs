//! The HTTP(S) front (storage-node spec §1.3): `POST /storage_rpc/v1`,
//! `POST /ping_test/v1`, `GET /get_stats/v1`, 404 for anything else, and the
//! pre-body checks in the reference's order: readiness (503), IPv4 client (400), rate
//! limit (429), long-poll header (410), body size (413).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::error::NodeError;
use crate::limits::{MAX_REQUEST_BODY, RateLimiter};
use crate::rpc::{Rpc, RpcBody, RpcResponse};

/// The `Server` header value.
pub const SERVER_HEADER: &str = concat!(
    "session-node/",
    env!("CARGO_PKG_VERSION"),
    " (storage 2.8.0)"
);
/// The header carrying the node's legacy key on `/ping_test/v1`.
pub const SNODE_PUBKEY_HEADER: &str = "X-Oxen-Snode-Pubkey";

/// Everything the HTTP handlers need.
#[derive(Debug)]
pub struct ServerState {
    /// The RPC engine.
    pub rpc: Rpc,
    /// Per-IP limiter.
    pub limiter: RateLimiter,
    /// Bypass readiness.
    pub force_start: bool,
    /// Emit `Access-Control-Allow-Origin: *`.
    pub cors_any: bool,
}

/// The node's router.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

fn render(state: &ServerState, r: RpcResponse, extra: Option<(&'static str, String)>) -> Response {
    let (ctype, body) = match r.body {
        RpcBody::Json(v) => ("application/json", Body::from(v.to_string())),
        RpcBody::Text(t) => ("text/plain", Body::from(t)),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if state.cors_any {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    if let Some((name, value)) = extra
        && let Ok(v) = HeaderValue::from_str(&value)
    {
        h.insert(name, v);
    }
    resp
}

fn is_ipv4(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    }
}

fn client_ipv4(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

async fn dispatch(
    State(state): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match (method.clone(), path.as_str()) {
        (Method::POST, "/storage_rpc/v1") => match storage_rpc(&state, peer, req).await {
            Ok(r) => render(&state, r, None),
            Err(e) => render(&state, e.to_response(), None),
        },
        (Method::POST, "/ping_test/v1") => {
            let key = crate::rpc::params::encode_base64(&state.rpc.identity().legacy_public());
            render(
                &state,
                RpcResponse::text(200, ""),
                Some((SNODE_PUBKEY_HEADER, key)),
            )
        }
        (Method::GET, "/get_stats/v1") => render(
            &state,
            RpcResponse::json(200, serde_json::json!({"version": "2.8.0"})),
            None,
        ),
        _ => {
            tracing::debug!(%method, "no such route");
            let e = NodeError::RouteNotFound {
                method: method.to_string(),
                uri: req.uri().to_string(),
            };
            render(&state, e.to_response(), None)
        }
    }
}

async fn storage_rpc(
    state: &Arc<ServerState>,
    peer: SocketAddr,
    req: Request,
) -> Result<RpcResponse, NodeError> {
    if !state.force_start
        && let Err(reason) = state.rpc.network().readiness()
    {
        return Err(NodeError::NotReady(reason));
    }
    if !is_ipv4(peer.ip()) {
        return Err(NodeError::NotIpv4);
    }
    if let Some(ip) = client_ipv4(peer.ip())
        && state.limiter.should_limit(ip)
    {
        tracing::debug!(client = %session_rt::redact::RedactedIp(peer.ip()), "rate limited");
        return Err(NodeError::RateLimited);
    }
    if req
        .headers()
        .get("x-loki-long-poll")
        .is_some_and(|v| !v.is_empty())
    {
        return Err(NodeError::LongPollGone);
    }
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(NodeError::InvalidContentLength)?;
        if len > MAX_REQUEST_BODY as u64 {
            return Err(NodeError::BodyTooLarge);
        }
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_REQUEST_BODY)
        .await
        .map_err(|e| {
            if e.into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                NodeError::BodyTooLarge
            } else {
                NodeError::BodyRead
            }
        })?;
    Ok(state.rpc.handle_body(&body).await)
}
