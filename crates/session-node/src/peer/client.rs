//! The calling side of node-to-node requests: signs each request with the node's key
//! and keeps a small pool of keep-alive connections per peer address, so a stream of
//! forwarded writes costs one TLS handshake per peer, not one per write.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use session_rt::Clock;
use session_rt::http::{ConnectionPool, HttpReply};

use super::{Command, PUBKEY_HEADER, RETRY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::identity::NodeIdentity;
use crate::network::SnodeInfo;
use crate::onion::RELAY_PATH;

/// Idle connections kept per peer address.
const POOL_PER_PEER: usize = 16;

/// A peer's answer.
pub type PeerReply = HttpReply;

/// Why a node-to-node request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// Connecting, TLS or HTTP failed.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The peer has no usable address (no proof yet: `0.0.0.0`, or port 0).
    #[error("no address known")]
    NoAddress,
}

/// Signs and sends node-to-node requests.
#[derive(Debug)]
pub struct PeerClient {
    identity: Arc<NodeIdentity>,
    clock: Arc<dyn Clock>,
    pool: ConnectionPool,
}

impl PeerClient {
    /// A client signing with `identity`'s key; `tls` is the scheme every node of the
    /// network serves (the node's own `tls` setting).
    pub fn new(identity: Arc<NodeIdentity>, clock: Arc<dyn Clock>, tls: bool) -> Self {
        Self {
            identity,
            clock,
            pool: ConnectionPool::new(tls, POOL_PER_PEER),
        }
    }

    /// Whether peers are reached over TLS.
    pub fn tls(&self) -> bool {
        self.pool.tls()
    }

    /// The address of `peer`'s HTTPS port.
    pub fn addr_of(peer: &SnodeInfo) -> Result<SocketAddr, PeerError> {
        if peer.ip.is_unspecified() || peer.https_port == 0 {
            return Err(PeerError::NoAddress);
        }
        Ok(SocketAddr::from((peer.ip, peer.https_port)))
    }

    /// Sends `command` with `body` to `peer`, signed, within `timeout`. `retry` marks a
    /// forward delivered from the retry queue. Any HTTP answer is a reply (the caller
    /// judges its status).
    pub async fn send(
        &self,
        peer: &SnodeInfo,
        command: Command,
        body: Bytes,
        retry: bool,
        timeout: Duration,
    ) -> Result<PeerReply, PeerError> {
        let addr = Self::addr_of(peer)?;
        match tokio::time::timeout(timeout, self.send_inner(addr, peer, command, body, retry)).await
        {
            Ok(r) => r,
            Err(_) => {
                self.pool.forget(addr);
                Err(PeerError::Timeout)
            }
        }
    }

    async fn send_inner(
        &self,
        addr: SocketAddr,
        peer: &SnodeInfo,
        command: Command,
        body: Bytes,
        retry: bool,
    ) -> Result<PeerReply, PeerError> {
        let ts = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        let sig = self.identity.sign(&super::signing_message(
            command,
            &peer.pubkey_ed25519,
            ts,
            &body,
        ));
        let pk = self.identity.ed25519_hex();
        let ts = ts.to_string();
        let sig = crate::rpc::params::encode_base64(&sig);
        let mut headers = vec![
            (PUBKEY_HEADER, pk.as_str()),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, sig.as_str()),
            ("content-type", "application/octet-stream"),
        ];
        if retry {
            headers.push((RETRY_HEADER, "1"));
        }
        self.exchange(addr, &command.path(), &headers, body).await
    }

    /// Hands an onion layer (the `sn.onion_request` bt dict) to the next hop's
    /// `POST /onion_req/v2/relay`, unsigned (see the module docs of [`crate::peer`]),
    /// within `timeout`.
    pub async fn relay_onion(
        &self,
        peer: &SnodeInfo,
        body: Bytes,
        timeout: Duration,
    ) -> Result<PeerReply, PeerError> {
        let addr = Self::addr_of(peer)?;
        let headers = [("content-type", "application/octet-stream")];
        let exchange = self.exchange(addr, RELAY_PATH, &headers, body);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => {
                self.pool.forget(addr);
                Err(PeerError::Timeout)
            }
        }
    }

    /// One request on a pooled connection to `addr` (or a new one).
    async fn exchange(
        &self,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<PeerReply, PeerError> {
        self.pool
            .request(addr, "POST", path, headers, body)
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))
    }
}
