//! Blocks: height, hash, previous hash, timestamp and the transactions applied, each
//! stored as its exact JSON bytes with its id.
//!
//! `hash = BLAKE2b-256("session-registry:block:v1" ‖ prev_hash ‖ height (u64 LE) ‖
//! timestamp_ms (u64 LE) ‖ tx_count (u64 LE) ‖ txid₁ ‖ … ‖ txidₙ)` with
//! `txid = BLAKE2b-256(tx JSON bytes)`. The hash covers the block's content and, through
//! `prev_hash`, the whole chain before it. Genesis has height 0 and an all-zero
//! `prev_hash`.

use serde::Serialize;
use session_crypto::hash::blake2b;

use crate::error::{RegistryError, Result};
use crate::tx::{Tx, txid_of};
use crate::types::Key32;

/// A transaction as stored: its id and exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTx {
    /// BLAKE2b-256 of `body`.
    pub txid: [u8; 32],
    /// The transaction's JSON.
    pub body: Vec<u8>,
}

impl StoredTx {
    /// Stores `tx`.
    pub fn new(tx: &Tx) -> Self {
        let body = tx.to_bytes();
        Self {
            txid: txid_of(&body),
            body,
        }
    }

    /// Parses the transaction, checking its id.
    pub fn parse(&self, height: u64) -> Result<Tx> {
        if txid_of(&self.body) != self.txid {
            return Err(RegistryError::CorruptChain {
                height,
                reason: format!(
                    "transaction {} does not hash to its id",
                    hex::encode(self.txid)
                ),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| RegistryError::CorruptChain {
            height,
            reason: format!("transaction {} does not parse: {e}", hex::encode(self.txid)),
        })
    }
}

/// One block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Height (genesis = 0).
    pub height: u64,
    /// This block's hash.
    pub hash: [u8; 32],
    /// The previous block's hash (zero for genesis).
    pub prev_hash: [u8; 32],
    /// Block time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The transactions applied, in order.
    pub txs: Vec<StoredTx>,
}

/// The hash of a block with this content (see the module docs).
pub fn block_hash(
    prev_hash: &[u8; 32],
    height: u64,
    timestamp_ms: u64,
    txids: &[[u8; 32]],
) -> [u8; 32] {
    let h = height.to_le_bytes();
    let t = timestamp_ms.to_le_bytes();
    let n = (txids.len() as u64).to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![b"session-registry:block:v1", prev_hash, &h, &t, &n];
    parts.extend(txids.iter().map(|id| id.as_slice()));
    blake2b::<32>(&parts)
}

impl Block {
    /// A block with its hash computed.
    pub fn new(prev_hash: [u8; 32], height: u64, timestamp_ms: u64, txs: Vec<StoredTx>) -> Self {
        let ids: Vec<[u8; 32]> = txs.iter().map(|t| t.txid).collect();
        Self {
            height,
            hash: block_hash(&prev_hash, height, timestamp_ms, &ids),
            prev_hash,
            timestamp_ms,
            txs,
        }
    }

    /// Recomputes the hash (from the stored bytes) and compares it with the stored one.
    pub fn check_hash(&self) -> Result<()> {
        let ids: Vec<[u8; 32]> = self.txs.iter().map(|t| txid_of(&t.body)).collect();
        if block_hash(&self.prev_hash, self.height, self.timestamp_ms, &ids) != self.hash {
            return Err(RegistryError::CorruptChain {
                height: self.height,
                reason: "the block does not hash to its stored hash".into(),
            });
        }
        Ok(())
    }

    /// The block's JSON form for `get_block`.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct TxJson {
            txid: Key32,
            tx: serde_json::Value,
        }
        let txs: Vec<TxJson> = self
            .txs
            .iter()
            .map(|t| TxJson {
                txid: Key32(t.txid),
                tx: serde_json::from_slice(&t.body).unwrap_or(serde_json::Value::Null),
            })
            .collect();
        serde_json::json!({
            "height": self.height,
            "hash": hex::encode(self.hash),
            "prev_hash": hex::encode(self.prev_hash),
            "timestamp": self.timestamp_ms / 1000,
            "timestamp_ms": self.timestamp_ms,
            "txs": txs,
        })
    }
}
