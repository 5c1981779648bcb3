//! Testing other nodes and voting on them (storage-node §8, network-governance §3).
//!
//! On each new block the registry publishes a testing ("obligations") quorum: up to 10
//! validators, drawn from the active nodes, and the workers they must test. A node that
//! is a validator tests each worker ([`tester::Tester::run_round`]):
//!
//! 1. **reachability**: `POST /ping_test/v1` must answer 200 with the worker's key in
//!    `X-Oxen-Snode-Pubkey`, and a node-signed `sn` `ping` must answer `pong` (the
//!    node-to-node path the swarm depends on);
//! 2. **storage** (★ switched off in the reference): the validator keeps one *probe*
//!    record per swarm — a random message stored through the swarm's normal client path,
//!    so every member that acknowledged it should hold it — and asks the worker for a
//!    proof that it holds it: BLAKE2b-256 keyed by a fresh random nonce over the record
//!    ([`storage_proof`]). A node that answers pings but dropped the data cannot
//!    produce it.
//!
//! Each result goes into the validator's own history of the worker ([`history`]). A
//! worker *fails* when its uptime proof is older than the registry's validity, or when
//! it has failed the tests continuously for the registry's threshold (validity −
//! frequency: 65 min on mainnet); a failing active worker gets a decommission vote (or
//! deregister when its credit is below the minimum), a decommissioned worker that passes
//! again gets a recommission vote. Votes go to the registry, which applies a state change
//! once 7 of the 10 validators agree.

pub mod history;
pub mod tester;

use serde::{Deserialize, Serialize};
use serde_json::json;
use session_crypto::hash::blake2b_keyed;

use crate::error::{NodeError, Result};
use crate::rpc::{Rpc, RpcResponse};
use crate::types::{UserPubkey, is_valid_message_hash};

pub use history::{PeerHistory, Verdict};
pub use tester::{RoundReport, Tester};

/// A storage-test challenge (`POST /sn/v1/storage_test`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageTestRequest {
    /// The account, 66 hex.
    pub pubkey: String,
    /// The message hash (43 base64 characters).
    pub hash: String,
    /// A fresh random nonce, 64 hex.
    pub nonce: String,
}

/// The proof that a record is held: BLAKE2b-256 keyed by `nonce` over
/// `prefixed pubkey (33 bytes) ‖ hash ‖ data`.
pub fn storage_proof(nonce: &[u8; 32], pubkey: &UserPubkey, hash: &str, data: &[u8]) -> [u8; 32] {
    let mut pk = [0u8; 33];
    pk[0] = pubkey.prefix();
    pk[1..].copy_from_slice(pubkey.key());
    blake2b_keyed::<32>(nonce, &[&pk, hash.as_bytes(), data])
}

/// Answers a storage test: 200 `{"proof": hex}` when the record is held, 404
/// `{"missing": true}` when not, 400 for a malformed challenge.
pub async fn answer_storage_test(rpc: &Rpc, body: &[u8], now: i64) -> Result<RpcResponse> {
    let req: StorageTestRequest = serde_json::from_slice(body)
        .map_err(|e| NodeError::invalid(format!("storage test: {e}")))?;
    let pubkey = UserPubkey::from_hex(&req.pubkey)
        .ok_or_else(|| NodeError::invalid("storage test: pubkey is not 66 hex characters"))?;
    if !is_valid_message_hash(&req.hash) {
        return Err(NodeError::invalid("storage test: invalid message hash"));
    }
    let mut nonce = [0u8; 32];
    hex::decode_to_slice(&req.nonce, &mut nonce)
        .map_err(|_| NodeError::invalid("storage test: nonce is not 64 hex characters"))?;
    match rpc.store().get_message(&pubkey, &req.hash, now).await? {
        Some((_, m)) => Ok(RpcResponse::json(
            200,
            json!({"proof": hex::encode(storage_proof(&nonce, &pubkey, &m.hash, &m.data))}),
        )),
        None => Ok(RpcResponse::json(404, json!({"missing": true}))),
    }
}
