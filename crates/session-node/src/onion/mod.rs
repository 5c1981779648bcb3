//! Onion requests (storage-node §7): every node is a hop of the three-node paths that
//! hide a client's address from the node that finally serves its request.
//!
//! **Entry.** A client's guard receives `POST /onion_req/v2` with the body
//! `u32le(N) ‖ ciphertext (N bytes) ‖ {"ephemeral_key": hex, "enc_type"?, "hop_no"?}`
//! ([`parse_entry`]).
//!
//! **Between hops.** A hop relays to the next one with `POST /onion_req/v2/relay`
//! ([`RELAY_PATH`], over the pooled node-to-node connections of [`crate::peer`] but
//! unsigned: see there why), whose body is the bt dict of the reference's
//! `sn.onion_request` `{data, enc_type, ephemeral_key (32 raw bytes), hop_no}`.
//!
//! **At each hop** [`hop::peel`] decrypts the layer with the node's X25519 key and the
//! layer's ephemeral key (AES-GCM or XChaCha20-Poly1305, as `enc_type` says; AES-GCM when
//! absent). The plaintext is again `u32le(N) ‖ blob ‖ JSON control`, and the control
//! says what to do ([`Step`]):
//! * `"headers"` present: this node is the **destination**; `blob` is a storage RPC
//!   request, executed like one on `/storage_rpc/v1`. Its answer
//!   `{"status": code, "body": …}` is encrypted with this layer's key and returned
//!   (base64 unless `"base64": false`) with HTTP 200 — the only encryption on the way
//!   back (§7.4); the hops before pass the reply through untouched.
//! * `"host"` present: **proxy** the whole plaintext to a server's `/oxen/v4/lsrpc` (or
//!   another `/loki/…/lsrpc` or `/oxen/…/lsrpc` target; anything else is an encrypted 400
//!   "Invalid url") and return the server's status and body verbatim ([`proxy`]).
//! * otherwise **relay** `blob` to the node named by `destination` (its Ed25519 key,
//!   looked up among all funded nodes, decommissioned ones included) with the next
//!   layer's `ephemeral_key` and `enc_type`, and the hop counter plus one.
//!
//! **Errors** a hop cannot encrypt (it could not decrypt, or it is not the
//! destination) are plain text with the reference's words: 400 "Invalid ciphertext",
//! 400 "onion request max path length exceeded" (more than [`session_wire::onion::MAX_HOPS`] hops),
//! 502 "Next node not found: <key>", and this implementation's 502 "Next node is
//! unreachable: <key>" / 504 "Next node timed out: <key>", which name the failed hop so
//! the client can drop it. A layer that decrypts but does not parse is answered with an
//! encrypted 400 "Invalid json".
//!
//! **What a hop logs** (at debug level, never a body or a key of a layer): where the
//! layer came from (a client's or the previous hop's redacted address), the hop
//! counter, and the next hop's key, the server's host or the reply's status.

pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use session_wire::onion::hop::{self, Layer, Refusal, Sealed, Step};
use session_wire::onion::{RelayRequest, encode_snode_response, encode_snode_response_value};

use crate::network::NetworkView;
use crate::peer::{PeerClient, PeerError};
use crate::rpc::{Rpc, RpcBody};

pub use proxy::ServerProxy;

/// Where relayed layers are POSTed.
pub const RELAY_PATH: &str = "/onion_req/v2/relay";

/// How long the guard waits for the rest of the path; each later hop waits
/// [`RELAY_TIMEOUT_STEP`] less, so the hop nearest a failure reports it first.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(30);
/// See [`RELAY_TIMEOUT`].
pub const RELAY_TIMEOUT_STEP: Duration = Duration::from_secs(2);
/// The shortest wait of any hop.
pub const MIN_RELAY_TIMEOUT: Duration = Duration::from_secs(5);

/// A hop's answer: status, body and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionReply {
    /// HTTP status.
    pub status: u16,
    /// The body (text, base64 text, or a server's raw bytes).
    pub body: Bytes,
    /// `Content-Type`.
    pub content_type: String,
}

impl OnionReply {
    /// A plain-text reply.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: Bytes::from(body.into()),
            content_type: "text/plain".into(),
        }
    }
}

fn refusal_reply(r: Refusal) -> OnionReply {
    match r {
        Refusal::Plain { status, message } => OnionReply::text(status, message),
        Refusal::Sealed {
            reply,
            status,
            message,
        } => sealed_reply(reply.seal_status(status, message)),
    }
}

fn sealed_reply(s: Result<Sealed, session_crypto::CryptoError>) -> OnionReply {
    match s {
        Ok(Sealed { body, base64: true }) => OnionReply {
            status: 200,
            body: Bytes::from(body),
            content_type: "text/plain".into(),
        },
        Ok(Sealed {
            body,
            base64: false,
        }) => OnionReply {
            status: 200,
            body: Bytes::from(body),
            content_type: "application/octet-stream".into(),
        },
        // Only the OS random generator can fail here.
        Err(_) => OnionReply::text(500, "request failed"),
    }
}

/// Parses the body of `POST /onion_req/v2` (plain 400 on failure).
pub fn parse_entry(body: &[u8]) -> Result<Layer, OnionReply> {
    hop::parse_entry(body).map_err(refusal_reply)
}

/// Parses the body of a relayed layer, `sn.onion_request` (plain 400 on failure).
pub fn parse_relayed(body: &[u8]) -> Result<Layer, OnionReply> {
    hop::parse_relayed(body).map_err(refusal_reply)
}

/// Where a layer came from, for the debug log: a client (the entry request) or the
/// previous hop, shown by redacted address (formatted only when the line is logged).
#[derive(Debug, Clone, Copy)]
pub enum PrevHop {
    /// A client's entry request.
    Client(SocketAddr),
    /// A relaying hop.
    Hop(SocketAddr),
}

impl std::fmt::Display for PrevHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (who, addr) = match self {
            Self::Client(a) => ("client", a),
            Self::Hop(a) => ("hop", a),
        };
        write!(
            f,
            "{who} {}:{}",
            session_rt::redact::redact_ip(addr.ip()),
            addr.port()
        )
    }
}

/// The first bytes of a node key, enough to follow a path through the logs.
fn short(key: &[u8; 32]) -> String {
    hex::encode(&key[..4])
}

/// Executes onion layers: decrypts, then runs, proxies or relays them.
#[derive(Debug, Clone)]
pub struct OnionRelay {
    rpc: Rpc,
    peers: Arc<PeerClient>,
    proxy: Arc<ServerProxy>,
}

impl OnionRelay {
    /// A relay answering destination requests with `rpc`, relaying with `peers` and
    /// proxying with `proxy`.
    pub fn new(rpc: Rpc, peers: Arc<PeerClient>, proxy: Arc<ServerProxy>) -> Self {
        Self { rpc, peers, proxy }
    }

    fn network(&self) -> &Arc<dyn NetworkView> {
        self.rpc.network()
    }

    /// Handles one layer end to end and returns what to answer the previous hop (or the
    /// client).
    pub async fn handle(&self, layer: Layer, from: PrevHop) -> OnionReply {
        let hop_no = layer.hop_no;
        let step = match hop::peel(self.rpc.identity().x25519_keypair(), &layer) {
            Ok(s) => s,
            Err(refusal) => {
                tracing::debug!(%from, hop_no, "onion layer refused");
                return refusal_reply(refusal);
            }
        };
        match step {
            Step::Final {
                reply,
                request,
                control,
            } => {
                let r = self.rpc.handle_body(&request).await;
                tracing::debug!(%from, hop_no, status = r.status, "onion request executed");
                let plaintext = match (r.body, control.json) {
                    (RpcBody::Json(v), true) => encode_snode_response_value(r.status, v),
                    (RpcBody::Json(v), false) => encode_snode_response(r.status, &v.to_string()),
                    (RpcBody::Text(t), _) => encode_snode_response(r.status, &t),
                };
                sealed_reply(reply.seal(&plaintext))
            }
            Step::Proxy { plaintext, control } => {
                let out = self.proxy.forward(&control, plaintext).await;
                tracing::debug!(%from, hop_no, host = %control.host, status = out.status, "onion request proxied");
                out
            }
            Step::Relay { next, forward } => {
                tracing::debug!(%from, hop_no, next = %short(&next), "onion request relayed");
                self.relay(next, forward).await
            }
        }
    }

    async fn relay(&self, next: [u8; 32], forward: RelayRequest) -> OnionReply {
        let hex_next = hex::encode(next);
        let Some(info) = self.network().funded_node(&next) else {
            return OnionReply::text(502, format!("Next node not found: {hex_next}"));
        };
        let steps = u32::try_from(forward.hop_no.saturating_sub(1)).unwrap_or(u32::MAX);
        let timeout = RELAY_TIMEOUT
            .saturating_sub(RELAY_TIMEOUT_STEP.saturating_mul(steps))
            .max(MIN_RELAY_TIMEOUT);
        let body = Bytes::from(forward.encode());
        match self.peers.relay_onion(&info, body, timeout).await {
            Ok(reply) => OnionReply {
                status: reply.status,
                content_type: reply
                    .header("content-type")
                    .unwrap_or("text/plain")
                    .to_owned(),
                body: reply.body,
            },
            Err(PeerError::NoAddress) => {
                OnionReply::text(502, format!("Next node not found: {hex_next}"))
            }
            Err(PeerError::Unreachable(_)) => {
                OnionReply::text(502, format!("Next node is unreachable: {hex_next}"))
            }
            Err(PeerError::Timeout) => {
                OnionReply::text(504, format!("Next node timed out: {hex_next}"))
            }
        }
    }
}
