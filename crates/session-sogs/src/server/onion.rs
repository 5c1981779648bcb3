//! Onion-request entries (community-server spec §5.7): `POST /oxen/v4/lsrpc` (via
//! [`session_rt::lsrpc::handle_lsrpc`]) and the deprecated v3 entries
//! `POST /oxen/v3/lsrpc` and `POST /loki/v3/lsrpc` (via
//! [`session_rt::lsrpc::handle_lsrpc_v3`]). Both decrypt with the server's X25519 key
//! and dispatch the inner request in-process (its own `X-SOGS-*` headers authenticate
//! it); an undecryptable request is answered 400 in plaintext.
//!
//! v3: the plaintext is JSON `{"endpoint", "method", "headers"?, "body"?,
//! "auth_code"?}`; an endpoint without a leading `/` is a legacy one
//! (`/legacy/<endpoint>`, not served here → 404 inside). The reply is the base64 of the
//! encrypted sub-response body for a 2xx answer, else of `{"status_code": N}`.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use session_rt::lsrpc::{V3_TARGETS, V3LegacyEndpoints, handle_lsrpc, handle_lsrpc_v3};

use super::Sogs;

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
    let mut router = Router::new().route("/oxen/v4/lsrpc", axum::routing::post(v4));
    for target in V3_TARGETS {
        router = router.route(target, axum::routing::post(v3));
    }
    router.with_state(state).merge(app)
}

async fn v4(State(state): State<OnionState>, request: Request) -> Response {
    handle_lsrpc(&state.app, &state.sogs.inner.key, request).await
}

async fn v3(State(state): State<OnionState>, request: Request) -> Response {
    handle_lsrpc_v3(
        &state.app,
        &state.sogs.inner.key,
        request,
        V3LegacyEndpoints::LegacyPrefix,
    )
    .await
}
