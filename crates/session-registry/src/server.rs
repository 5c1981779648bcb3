//! The HTTP front: `POST /json_rpc` (JSON-RPC 2.0), a JSON-RPC error with 404 for any
//! other path, 405 for other methods on `/json_rpc`, 413 above [`MAX_BODY`]. Requests
//! run on the blocking pool (signature checks, the chain lock).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::error::RegistryError;
use crate::rpc::error_response;
use crate::service::Registry;

/// Largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1 << 20;
/// The `Server` header.
pub const SERVER_HEADER: &str = concat!("session-registry/", env!("CARGO_PKG_VERSION"));

/// The registry's router.
pub fn router(reg: Registry) -> Router {
    Router::new().fallback(dispatch).with_state(reg)
}

fn render(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    resp
}

fn render_error(e: &RegistryError) -> Response {
    let (status, body) = error_response(Value::Null, e);
    render(status, &body)
}

async fn dispatch(State(reg): State<Registry>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path != "/json_rpc" {
        return render_error(&RegistryError::RouteNotFound {
            method: req.method().to_string(),
            path,
        });
    }
    if req.method() != Method::POST {
        return render_error(&RegistryError::MethodNotAllowed(req.method().to_string()));
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let too_large = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let err = if too_large {
                RegistryError::BodyTooLarge { limit: MAX_BODY }
            } else {
                RegistryError::ParseError("cannot read the request body".into())
            };
            return render_error(&err);
        }
    };
    match tokio::task::spawn_blocking(move || reg.handle_rpc(&body)).await {
        Ok((status, json)) => render(status, &json),
        Err(e) => render_error(&RegistryError::Internal(format!(
            "request task failed: {e}"
        ))),
    }
}
