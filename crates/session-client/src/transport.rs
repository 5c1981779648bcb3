//! HTTP(S) to nodes and registries, with time limits and a small keep-alive pool.
//!
//! Time limits use the runtime's real timers, never the injected [`session_rt::Clock`]:
//! that clock is the client's idea of *network* time (a test may freeze it), while a
//! dead connection must still time out.
//!
//! A pooled connection the server has closed meanwhile fails at once; the request is
//! then sent again once on a fresh connection (onion requests and the storage RPCs are
//! safe to repeat: a repeated store yields the same message hash).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use session_rt::http::{HttpConnection, HttpReply, TlsMode};

use crate::config::HttpUrl;
use crate::error::{ClientError, Result};

/// Idle connections kept per node.
const IDLE_PER_NODE: usize = 4;

/// An HTTP client for service nodes (plain or TLS, certificates not validated, as
/// Session clients do) and registry URLs.
#[derive(Debug)]
pub struct Transport {
    tls: bool,
    connect_timeout: Duration,
    idle: Mutex<HashMap<SocketAddr, Vec<HttpConnection>>>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Transport {
    /// A transport speaking TLS to nodes when `tls` is set.
    pub fn new(tls: bool, connect_timeout: Duration) -> Self {
        Self {
            tls,
            connect_timeout,
            idle: Mutex::new(HashMap::new()),
        }
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<HttpConnection> {
        self.idle.lock().ok()?.get_mut(&addr)?.pop()
    }

    fn put_idle(&self, addr: SocketAddr, conn: HttpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(addr).or_default();
            if list.len() < IDLE_PER_NODE {
                list.push(conn);
            }
        }
    }

    /// Forgets the idle connections to a node (e.g. after it failed).
    pub fn forget(&self, addr: SocketAddr) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.remove(&addr);
        }
    }

    async fn connect(&self, addr: SocketAddr, tls: bool) -> Result<HttpConnection> {
        match tokio::time::timeout(self.connect_timeout, HttpConnection::connect(addr, tls)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(ClientError::Http {
                target: addr.to_string(),
                reason: e.to_string(),
            }),
            Err(_) => Err(ClientError::Timeout {
                target: addr.to_string(),
                ms: ms(self.connect_timeout),
            }),
        }
    }

    async fn exchange(
        conn: &mut HttpConnection,
        addr: SocketAddr,
        path: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<HttpReply> {
        match tokio::time::timeout(limit, conn.post(path, body)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(ClientError::Http {
                target: addr.to_string(),
                reason: e.to_string(),
            }),
            Err(_) => Err(ClientError::Timeout {
                target: addr.to_string(),
                ms: ms(limit),
            }),
        }
    }

    /// `POST path` to a node, waiting at most `limit` for the answer.
    pub async fn post(
        &self,
        addr: SocketAddr,
        path: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<HttpReply> {
        if let Some(mut conn) = self.take_idle(addr) {
            match Self::exchange(&mut conn, addr, path, body.clone(), limit).await {
                Ok(r) => {
                    self.put_idle(addr, conn);
                    return Ok(r);
                }
                // A timeout is not a stale connection: do not send it twice.
                Err(e @ ClientError::Timeout { .. }) => return Err(e),
                Err(_) => self.forget(addr),
            }
        }
        let mut conn = self.connect(addr, self.tls).await?;
        let r = Self::exchange(&mut conn, addr, path, body, limit).await?;
        self.put_idle(addr, conn);
        Ok(r)
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
