//! Node-to-node requests (the `sn.*` commands of storage-node §1.4): swarm forwarding
//! (`storage_cc`, §5.6), bulk hand-over (`data`, §5.7), `ping` and the proof-of-storage
//! test (`storage_test`, §8.4).
//!
//! **Transport.** The reference carries these over OxenMQ, where CurveZMQ authenticates
//! the caller's X25519 key. This implementation has no OxenMQ transport, so they travel
//! as `POST /sn/v1/<command>` on the node's HTTPS port, authenticated by an Ed25519
//! signature of the calling node in three headers:
//!
//! | header | value |
//! |---|---|
//! | `X-Snode-Pubkey` | the caller's Ed25519 key, 64 hex |
//! | `X-Snode-Timestamp` | milliseconds since the Unix epoch |
//! | `X-Snode-Signature` | base64 Ed25519 signature over [`signing_message`] |
//!
//! The signed message binds the command, the *recipient's* key (a request cannot be
//! redirected to another node), the timestamp (accepted within ±[`PEER_TOLERANCE_MS`])
//! and a BLAKE2b-256 hash of the body. The recipient accepts only callers that its own
//! view of the registry lists as *active* service nodes. Replaying a captured request
//! within the window is harmless: every command is idempotent (a forwarded write
//! re-applies the client's own signed request; bulk data is insert-or-ignore).
//!
//! Bodies: `storage_cc` is the client's JSON `{"method", "params"}` (the original
//! params object, so the client signature still verifies), answered like
//! `/storage_rpc/v1`; `data` is the `sn.data` bulk format (`session_wire::storage`);
//! `ping` answers `pong`; `storage_test` is described in [`crate::testing`].
//!
//! Onion layers travel between hops over the same pooled connections but unsigned, to
//! `POST /onion_req/v2/relay` ([`PeerClient::relay_onion`], [`crate::onion`]): a relayed
//! layer carries nothing a client could not send to `/onion_req/v2` itself, and its
//! AEAD already authenticates it, so a signature would only double each hop's
//! public-key work (the reference authenticates OxenMQ connections once, not requests).

pub mod client;

use std::fmt;

use session_crypto::hash::blake2b;

use crate::error::{NodeError, Result};

pub use client::{PeerClient, PeerError, PeerReply};

/// Path prefix of the node-to-node endpoints.
pub const PATH_PREFIX: &str = "/sn/v1/";
/// Header with the caller's Ed25519 key (hex).
pub const PUBKEY_HEADER: &str = "X-Snode-Pubkey";
/// Header with the request time (ms).
pub const TIMESTAMP_HEADER: &str = "X-Snode-Timestamp";
/// Header with the caller's signature (base64).
pub const SIGNATURE_HEADER: &str = "X-Snode-Signature";
/// Header marking a forward delivered from the retry queue (`1`): the recipient
/// applies the client's request even though its signature timestamp is old.
pub const RETRY_HEADER: &str = "X-Snode-Retry";
/// How far a request's timestamp may be from the recipient's clock.
pub const PEER_TOLERANCE_MS: i64 = 60_000;

/// The node-to-node commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// A client write forwarded to a swarm peer.
    StorageCc,
    /// A batch of messages pushed on a swarm change.
    Data,
    /// Liveness.
    Ping,
    /// Proof that a record is held.
    StorageTest,
}

impl Command {
    /// The command's path segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::StorageCc => "storage_cc",
            Self::Data => "data",
            Self::Ping => "ping",
            Self::StorageTest => "storage_test",
        }
    }

    /// The command for a path segment.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "storage_cc" => Self::StorageCc,
            "data" => Self::Data,
            "ping" => Self::Ping,
            "storage_test" => Self::StorageTest,
            _ => return None,
        })
    }

    /// The request path.
    pub fn path(self) -> String {
        format!("{PATH_PREFIX}{}", self.name())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The bytes a calling node signs: `"session-node:sn:" ‖ command ‖ 0x00 ‖ recipient
/// Ed25519 key (32 bytes) ‖ timestamp (decimal ms) ‖ 0x00 ‖ BLAKE2b-256(body)`.
pub fn signing_message(
    command: Command,
    recipient: &[u8; 32],
    timestamp_ms: i64,
    body: &[u8],
) -> Vec<u8> {
    let digest: [u8; 32] = blake2b(&[body]);
    let mut m = Vec::with_capacity(16 + 20 + 1 + 32 + 20 + 1 + 32);
    m.extend_from_slice(b"session-node:sn:");
    m.extend_from_slice(command.name().as_bytes());
    m.push(0);
    m.extend_from_slice(recipient);
    m.extend_from_slice(timestamp_ms.to_string().as_bytes());
    m.push(0);
    m.extend_from_slice(&digest);
    m
}

/// The authentication headers of a request, as received.
#[derive(Debug, Clone, Copy)]
pub struct PeerHeaders<'a> {
    /// `X-Snode-Pubkey`.
    pub pubkey: Option<&'a str>,
    /// `X-Snode-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Snode-Signature`.
    pub signature: Option<&'a str>,
}

/// Checks a request's authentication: well-formed headers, timestamp within
/// [`PEER_TOLERANCE_MS`] of `now_ms`, and a valid signature by the claimed key over
/// [`signing_message`] with `me` as recipient. Returns the caller's key; whether that
/// key is an active node is for the caller to decide (it needs the network view).
pub fn verify_headers(
    h: PeerHeaders<'_>,
    command: Command,
    me: &[u8; 32],
    now_ms: i64,
    body: &[u8],
) -> Result<[u8; 32]> {
    let (Some(pk), Some(ts), Some(sig)) = (h.pubkey, h.timestamp, h.signature) else {
        return Err(NodeError::PeerAuth(
            "missing X-Snode-Pubkey, X-Snode-Timestamp or X-Snode-Signature".into(),
        ));
    };
    let mut key = [0u8; 32];
    hex::decode_to_slice(pk, &mut key)
        .map_err(|_| NodeError::PeerAuth("X-Snode-Pubkey is not 64 hex characters".into()))?;
    let ts: i64 = ts
        .parse()
        .map_err(|_| NodeError::PeerAuth("X-Snode-Timestamp is not an integer".into()))?;
    if (ts - now_ms).abs() > PEER_TOLERANCE_MS {
        return Err(NodeError::PeerStale);
    }
    let sig = crate::rpc::params::decode_base64(sig)
        .filter(|s| s.len() == 64)
        .ok_or_else(|| NodeError::PeerAuth("X-Snode-Signature is not a base64 signature".into()))?;
    session_crypto::ed25519::verify(&key, &signing_message(command, me, ts, body), &sig)
        .map_err(|_| NodeError::PeerAuth("node signature verification failed".into()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_crypto::{Ed25519Keypair, Ed25519Seed};

    fn signed(
        kp: &Ed25519Keypair,
        c: Command,
        to: &[u8; 32],
        ts: i64,
        body: &[u8],
    ) -> (String, String, String) {
        let sig = kp.sign(&signing_message(c, to, ts, body));
        (
            hex::encode(kp.public().0),
            ts.to_string(),
            crate::rpc::params::encode_base64(&sig),
        )
    }

    #[test]
    fn good_signature_passes_and_every_tampering_fails() {
        let kp = Ed25519Keypair::from_seed(Ed25519Seed::from_array([7; 32]));
        let me = [9u8; 32];
        let now = 1_700_000_000_000;
        let (pk, ts, sig) = signed(&kp, Command::StorageCc, &me, now, b"body");
        let h = PeerHeaders {
            pubkey: Some(&pk),
            timestamp: Some(&ts),
            signature: Some(&sig),
        };
        assert_eq!(
            verify_headers(h, Command::StorageCc, &me, now, b"body").unwrap(),
            kp.public().0
        );
        // Another body, command or recipient: the signature no longer matches.
        for (c, to, body) in [
            (Command::StorageCc, me, &b"other"[..]),
            (Command::Data, me, &b"body"[..]),
            (Command::StorageCc, [8u8; 32], &b"body"[..]),
        ] {
            let e = verify_headers(h, c, &to, now, body).unwrap_err();
            assert!(matches!(e, NodeError::PeerAuth(_)), "{e:?}");
        }
        // Too old / too new.
        for skew in [-PEER_TOLERANCE_MS - 1, PEER_TOLERANCE_MS + 1] {
            let e = verify_headers(h, Command::StorageCc, &me, now + skew, b"body").unwrap_err();
            assert!(matches!(e, NodeError::PeerStale), "{e:?}");
        }
        // Malformed headers.
        let bad = [
            PeerHeaders { pubkey: None, ..h },
            PeerHeaders {
                pubkey: Some("zz"),
                ..h
            },
            PeerHeaders {
                timestamp: Some("soon"),
                ..h
            },
            PeerHeaders {
                signature: Some("AAAA"),
                ..h
            },
        ];
        for b in bad {
            let e = verify_headers(b, Command::StorageCc, &me, now, b"body").unwrap_err();
            assert!(matches!(e, NodeError::PeerAuth(_)), "{e:?}");
            assert_eq!(e.status(), 401);
        }
    }

    #[test]
    fn command_names_round_trip() {
        for c in [
            Command::StorageCc,
            Command::Data,
            Command::Ping,
            Command::StorageTest,
        ] {
            assert_eq!(Command::from_name(c.name()), Some(c));
            assert_eq!(c.path(), format!("/sn/v1/{c}"));
        }
        assert_eq!(Command::from_name("onion_request"), None);
    }
}
