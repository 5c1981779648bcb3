//! HTTP(S) to nodes and registries, with time limits and a small keep-alive pool.
//!
//! Time limits use the runtime's real timers, never the injected [`session_rt::Clock`]:
//! that clock is the client's idea of *network* time (a test may freeze it), while a
//! dead connection must still time out.
//!
//! Node connections come from a [`ConnectionPool`]: a pooled connection the server has
//! closed meanwhile fails at once and the request is sent again once on a fresh
//! connection (onion requests and the storage RPCs are safe to repeat: a repeated store
//! yields the same message hash).

use std::net::SocketAddr;
use std::time::Duration;

use session_rt::http::{ConnectionPool, HttpConnection, HttpReply, TlsMode};

use crate::config::HttpUrl;
use crate::error::{ClientError, Result};

/// Idle connections kept per node.
const IDLE_PER_NODE: usize = 4;

/// An HTTP client for service nodes (plain or TLS, certificates not validated, as
/// Session clients do) and registry URLs.
#[derive(Debug)]
pub struct Transport {
    nodes: ConnectionPool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Transport {
    /// A transport speaking TLS to nodes when `tls` is set.
    pub fn new(tls: bool, connect_timeout: Duration) -> Self {
        Self {
            nodes: ConnectionPool::new(tls, IDLE_PER_NODE).with_connect_timeout(connect_timeout),
        }
    }

    /// Forgets the idle connections to a node (e.g. after it failed).
    pub fn forget(&self, addr: SocketAddr) {
        self.nodes.forget(addr);
    }

    /// `POST path` to a node, waiting at most `limit` for the answer.
    pub async fn post(
        &self,
        addr: SocketAddr,
        path: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<HttpReply> {
        let headers = [("content-type", "application/json")];
        let exchange = self
            .nodes
            .request(addr, "POST", path, &headers, body.into());
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(ClientError::Http {
                target: addr.to_string(),
                reason: e.to_string(),
            }),
            Err(_) => {
                // The connection may be wedged mid-reply.
                self.nodes.forget(addr);
                Err(ClientError::Timeout {
                    target: addr.to_string(),
                    ms: ms(limit),
                })
            }
        }
    }

    /// `POST` to a registry URL (host names are resolved; not pooled). Like the seed
    /// nodes of mainnet, registries may use self-signed certificates: `https` URLs
    /// are encrypted but their certificate is not validated.
    pub async fn post_url(
        &self,
        url: &HttpUrl,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<HttpReply> {
        let target = url.to_string();
        let mode = if url.tls {
            TlsMode::AnyCertificate
        } else {
            TlsMode::Plain
        };
        let exchange = async {
            let mut conn = HttpConnection::connect_to(&url.host, url.port, mode).await?;
            conn.post(&url.path, body).await
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(ClientError::Http {
                target,
                reason: e.to_string(),
            }),
            Err(_) => Err(ClientError::Timeout {
                target,
                ms: ms(limit),
            }),
        }
    }
}
