//! A small JSON-RPC 2.0 client for the registry (`POST <path>` on one keep-alive
//! HTTP(S) connection, reconnecting once when the connection has gone stale).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use session_rt::http::HttpConnection;
use tokio::sync::Mutex;

use crate::config::RegistryUrl;
use crate::error::{NodeError, Result};

/// How long one registry call may take (connect + request + reply) before it fails.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON-RPC client of one registry.
#[derive(Debug)]
pub struct RegistryClient {
    url: RegistryUrl,
    conn: Mutex<Option<HttpConnection>>,
}

fn failure(method: &str, reason: impl Into<String>) -> NodeError {
    NodeError::Registry {
        method: method.to_owned(),
        kind: None,
        reason: reason.into(),
    }
}

impl RegistryClient {
    /// A client of the registry at `url` (nothing is connected until the first call).
    pub fn new(url: RegistryUrl) -> Self {
        Self {
            url,
            conn: Mutex::new(None),
        }
    }

    /// The registry's URL.
    pub fn url(&self) -> &RegistryUrl {
        &self.url
    }

    async fn connect(&self, method: &str) -> Result<HttpConnection> {
        let addr: SocketAddr = tokio::net::lookup_host((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|e| failure(method, format!("resolve {}: {e}", self.url.host)))?
            .next()
            .ok_or_else(|| failure(method, format!("{} has no address", self.url.host)))?;
        HttpConnection::connect(addr, self.url.tls)
            .await
            .map_err(|e| failure(method, e.to_string()))
    }

    /// Calls `method` with `params`; returns the JSON-RPC `result`. A JSON-RPC error
    /// becomes [`NodeError::Registry`] with the registry's `data.kind`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        match tokio::time::timeout(CALL_TIMEOUT, self.call_inner(method, params)).await {
            Ok(r) => r,
            Err(_) => {
                // The connection may be wedged mid-reply: drop it.
                *self.conn.lock().await = None;
                Err(failure(method, "timed out"))
            }
        }
    }

    async fn call_inner(&self, method: &str, params: Value) -> Result<Value> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut guard = self.conn.lock().await;
        let mut last_err = None;
        for _attempt in 0..2 {
            let conn = match guard.as_mut() {
                Some(c) => c,
                None => guard.insert(self.connect(method).await?),
            };
            match conn.post(&self.url.path, body.clone()).await {
                Ok(reply) => return parse_reply(method, reply.status, &reply.body),
                Err(e) => {
                    // A keep-alive connection the server closed: retry once on a new one.
                    *guard = None;
                    last_err = Some(e.to_string());
                }
            }
        }
        Err(failure(method, last_err.unwrap_or_default()))
    }
}

/// Splits a JSON-RPC reply into its `result` or a [`NodeError::Registry`].
pub fn parse_reply(method: &str, status: u16, body: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| failure(method, format!("HTTP {status}, reply is not JSON: {e}")))?;
    if let Some(err) = v.get("error") {
        return Err(NodeError::Registry {
            method: method.to_owned(),
            kind: err["data"]["kind"].as_str().map(str::to_owned),
            reason: err["message"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
        });
    }
    match v.get("result") {
        Some(r) if status == 200 => Ok(r.clone()),
        _ => Err(failure(method, format!("HTTP {status} without a result"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_split() {
        assert_eq!(
            parse_reply("m", 200, br#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#).unwrap(),
            json!({"a": 1})
        );
        let e = parse_reply(
            "m",
            400,
            br#"{"error":{"code":-1,"message":"no","data":{"kind":"duplicate_key"}}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&e, NodeError::Registry { kind: Some(k), .. } if k == "duplicate_key"),
            "{e:?}"
        );
        assert!(parse_reply("m", 200, b"nope").is_err());
        assert!(parse_reply("m", 500, b"{}").is_err());
    }
}
