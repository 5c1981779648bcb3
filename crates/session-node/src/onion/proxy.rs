//! The last hop of an onion request to a server (storage-node §7.5): POST the whole
//! decrypted layer to `<protocol>://<host>[:<port>]<target>` and hand back the server's
//! status and body verbatim. The payload is encrypted for the server's own key, so this
//! node learns the server's address but not the request.
//!
//! HTTPS certificates are validated against the system's CA bundle (the reference does
//! the same); redirects are not followed; the whole exchange must finish within
//! [`PROXY_TIMEOUT`]. An unreachable server is answered with 502, a slow one with 504,
//! both in plain text.

use std::time::Duration;

use bytes::Bytes;
use session_rt::http::{HttpConnection, TlsMode};
use session_wire::onion::{MAX_ONION_SIZE, Protocol, ProxyControl};

use super::OnionReply;

/// How long a server may take to answer.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(25);

/// The `User-Agent` of proxied requests.
pub const USER_AGENT: &str = concat!("session-node/", env!("CARGO_PKG_VERSION"));

/// Forwards onion payloads to servers.
#[derive(Debug, Clone)]
pub struct ServerProxy {
    timeout: Duration,
}

impl Default for ServerProxy {
    fn default() -> Self {
        Self {
            timeout: PROXY_TIMEOUT,
        }
    }
}

impl ServerProxy {
    /// A proxy giving servers `timeout` to answer.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// POSTs `payload` as `control` says and returns the server's answer (or a plain
    /// 502/504 naming the failure).
    pub async fn forward(&self, control: &ProxyControl, payload: Vec<u8>) -> OnionReply {
        let host = control.host.trim();
        let mode = match control.protocol {
            Protocol::Http => TlsMode::Plain,
            Protocol::Https => TlsMode::Verified,
        };
        let exchange = async {
            let mut conn = HttpConnection::connect_to(host, control.port, mode).await?;
            conn.request(
                "POST",
                &control.target,
                &[
                    ("content-type", "application/octet-stream"),
                    ("user-agent", USER_AGENT),
                ],
                Bytes::from(payload),
            )
            .await
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => OnionReply::text(504, format!("Request to server {host} timed out")),
            Ok(Err(e)) => {
                tracing::debug!(host, "proxy request failed: {e}");
                OnionReply::text(502, format!("Unable to reach server {host}"))
            }
            Ok(Ok(reply)) if reply.body.len() > MAX_ONION_SIZE => {
                OnionReply::text(502, format!("Server {host} answered more than 10 MiB"))
            }
            Ok(Ok(reply)) => OnionReply {
                status: reply.status,
                content_type: reply
                    .header("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                body: reply.body,
            },
        }
    }
}
