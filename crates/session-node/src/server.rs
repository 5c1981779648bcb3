//! The HTTP(S) front (storage-node spec §1.3): `POST /storage_rpc/v1`,
//! `POST /onion_req/v2` and `/onion_req/v2/relay` ([`crate::onion`]),
//! `POST /ping_test/v1`, `GET /get_stats/v1`, the node-to-node `POST /sn/v1/<command>`
//! ([`crate::peer`]), 404 for anything else, and the pre-body checks in the
//! reference's order: readiness (503), IPv4 client (400), rate limit (429), long-poll
//! header (410), body size (413).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use tracing::Instrument as _;

use crate::error::NodeError;
use crate::limits::{MAX_REQUEST_BODY, RateLimiter};
use crate::onion::{OnionRelay, OnionReply, PrevHop};
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
    /// The onion-request hop.
    pub onion: OnionRelay,
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
    let mut resp = respond(state, r.status, ctype, body);
    if let Some((name, value)) = extra
        && let Ok(v) = HeaderValue::from_str(&value)
    {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// An onion hop's answer: its status, content type and body as they are.
fn render_onion(state: &ServerState, r: OnionReply) -> Response {
    respond(state, r.status, &r.content_type, Body::from(r.body))
}

/// A response with the headers every answer of the node carries.
fn respond(state: &ServerState, status: u16, content_type: &str, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if state.cors_any {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
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

/// Every request is handled in a `node` span naming this node (by the first bytes of its
/// key), so the logs of several nodes in one process stay apart.
async fn dispatch(
    State(state): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let key = state.rpc.identity().ed25519_public();
    let span = tracing::debug_span!("node", id = %hex::encode(&key[..4]));
    route(state, peer, req).instrument(span).await
}

async fn route(state: Arc<ServerState>, peer: SocketAddr, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match (method.clone(), path.as_str()) {
        (Method::POST, "/storage_rpc/v1") => match storage_rpc(&state, peer, req).await {
            Ok(r) => render(&state, r, None),
            Err(e) => render(&state, e.to_response(), None),
        },
        (Method::POST, "/onion_req/v2") => match onion_layer(&state, peer, req, false).await {
            Ok(r) => render_onion(&state, r),
            Err(e) => render(&state, e.to_response(), None),
        },
        (Method::POST, crate::onion::RELAY_PATH) => {
            match onion_layer(&state, peer, req, true).await {
                Ok(r) => render_onion(&state, r),
                Err(e) => render(&state, e.to_response(), None),
            }
        }
        (Method::POST, "/ping_test/v1") => {
            let key = crate::rpc::params::encode_base64(&state.rpc.identity().legacy_public());
            render(
                &state,
                RpcResponse::text(200, ""),
                Some((SNODE_PUBKEY_HEADER, key)),
            )
        }
        (Method::POST, p) if p.starts_with(crate::peer::PATH_PREFIX) => {
            let name = p.trim_start_matches(crate::peer::PATH_PREFIX).to_owned();
            match peer_request(&state, &name, req).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(command = %name, "node request refused: {e}");
                    let status = e.status();
                    render(&state, RpcResponse::text(status, e.to_string()), None)
                }
            }
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
    ready(state)?;
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
    let body = read_body(req).await?;
    Ok(state.rpc.handle_body(&body).await)
}

/// `POST /onion_req/v2` (a client's entry request, this node being its guard) or
/// `POST /onion_req/v2/relay` (a layer relayed by the previous hop).
async fn onion_layer(
    state: &Arc<ServerState>,
    peer: SocketAddr,
    req: Request,
    relayed: bool,
) -> Result<OnionReply, NodeError> {
    ready(state)?;
    let body = read_body(req).await?;
    let parsed = if relayed {
        crate::onion::parse_relayed(&body)
    } else {
        crate::onion::parse_entry(&body)
    };
    let layer = match parsed {
        Ok(l) => l,
        Err(refused) => return Ok(refused),
    };
    let prev = if relayed {
        PrevHop::Hop(peer)
    } else {
        PrevHop::Client(peer)
    };
    Ok(state.onion.handle(layer, prev).await)
}

fn ready(state: &ServerState) -> Result<(), NodeError> {
    if state.force_start {
        return Ok(());
    }
    state.rpc.network().readiness().map_err(NodeError::NotReady)
}

async fn read_body(req: Request) -> Result<axum::body::Bytes, NodeError> {
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
    axum::body::to_bytes(req.into_body(), MAX_REQUEST_BODY)
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
        })
}

/// A node-to-node request: authenticated (signature by an active node of this node's
/// registry view, addressed to this node, fresh), then handed to its command.
async fn peer_request(
    state: &Arc<ServerState>,
    name: &str,
    req: Request,
) -> Result<Response, NodeError> {
    use crate::peer::{
        Command, PUBKEY_HEADER, PeerHeaders, RETRY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    };
    let Some(command) = Command::from_name(name) else {
        return Err(NodeError::RouteNotFound {
            method: "POST".into(),
            uri: req.uri().to_string(),
        });
    };
    let (pk, ts, sig, retried) = {
        let header_text = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header_text(PUBKEY_HEADER),
            header_text(TIMESTAMP_HEADER),
            header_text(SIGNATURE_HEADER),
            header_text(RETRY_HEADER).as_deref() == Some("1"),
        )
    };
    let body = read_body(req).await?;
    let rpc = &state.rpc;
    let now = i64::try_from(rpc.clock().now_ms()).unwrap_or(i64::MAX);
    let caller = crate::peer::verify_headers(
        PeerHeaders {
            pubkey: pk.as_deref(),
            timestamp: ts.as_deref(),
            signature: sig.as_deref(),
        },
        command,
        &rpc.identity().ed25519_public(),
        now,
        &body,
    )?;
    if rpc.network().active_node(&caller).is_none() {
        return Err(NodeError::PeerNotActive(hex::encode(caller)));
    }
    let reply = match command {
        Command::Ping => Ok(RpcResponse::text(200, "pong")),
        Command::StorageCc => {
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|_| NodeError::InvalidJson)?;
            let Some(serde_json::Value::String(method)) = v.get("method") else {
                return Err(NodeError::NoMethodField);
            };
            let Some(serde_json::Value::Object(params)) = v.get("params") else {
                return Err(NodeError::NoParamsField);
            };
            Ok(rpc.handle_forwarded(method, params, retried).await)
        }
        Command::Data => {
            let (inserted, skipped) =
                crate::swarm::handover::receive(&**rpc.store(), &body, now).await?;
            tracing::debug!(inserted, skipped, from = %&hex::encode(caller)[..8], "hand-over batch received");
            Ok(RpcResponse::text(200, ""))
        }
        Command::StorageTest => crate::testing::answer_storage_test(rpc, &body, now).await,
    };
    reply.map(|r| render(state, r, None))
}
