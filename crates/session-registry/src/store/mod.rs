//! Block persistence behind a trait: SQLite ([`sqlite::SqliteStore`], WAL) for real
//! registries and memory ([`memory::MemoryStore`]) for fast tests. The store only keeps
//! blocks; the state is rebuilt by replaying them from genesis at start-up. The same
//! conformance tests run against both backends.

use std::fmt;

use crate::block::Block;
use crate::error::Result;

pub mod memory;
pub mod sqlite;

/// An append-only sequence of blocks.
pub trait BlockStore: Send + Sync + fmt::Debug + 'static {
    /// Number of stored blocks (the next height to append).
    fn len(&self) -> Result<u64>;

    /// Whether no block is stored.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Appends `block`, atomically; its height must be [`BlockStore::len`].
    fn append(&self, block: &Block) -> Result<()>;

    /// Up to `limit` blocks from height `from`, in height order.
    fn blocks(&self, from: u64, limit: usize) -> Result<Vec<Block>>;

    /// The block at `height`.
    fn block(&self, height: u64) -> Result<Option<Block>> {
        Ok(self.blocks(height, 1)?.into_iter().next())
    }
}

fn out_of_order(expected: u64, got: u64) -> crate::error::RegistryError {
    crate::error::RegistryError::Internal(format!(
        "block store append out of order: expected height {expected}, got {got}"
    ))
}

#[cfg(test)]
pub(crate) mod conformance {
    //! Tests every backend must pass.
    use super::*;
    use crate::block::StoredTx;
    use crate::tx::{Tx, UnlockRequest};
    use crate::types::Key32;

    fn block(prev: [u8; 32], height: u64, ntx: usize) -> Block {
        let txs = (0..ntx)
            .map(|i| {
                StoredTx::new(&Tx::Unlock(UnlockRequest {
                    pubkey_ed25519: Key32([i as u8; 32]),
                    signature: None,
                }))
            })
            .collect();
        Block::new(prev, height, 1_000 + height, txs)
    }

    pub fn run(store: &dyn BlockStore) {
        assert_eq!(store.len().unwrap(), 0);
        assert!(store.is_empty().unwrap());
        assert_eq!(store.block(0).unwrap(), None);
        let b0 = block([0; 32], 0, 1);
        store.append(&b0).unwrap();
        let b1 = block(b0.hash, 1, 0);
        store.append(&b1).unwrap();
        let b2 = block(b1.hash, 2, 3);
        store.append(&b2).unwrap();
        // Out of order and duplicate heights are refused and change nothing.
        assert!(store.append(&block(b2.hash, 4, 0)).is_err());
        assert!(store.append(&b1).is_err());
        assert_eq!(store.len().unwrap(), 3);
        assert_eq!(store.block(2).unwrap().unwrap(), b2);
        assert_eq!(
            store.blocks(0, 10).unwrap(),
            vec![b0.clone(), b1.clone(), b2.clone()]
        );
        assert_eq!(store.blocks(1, 1).unwrap(), vec![b1]);
        assert_eq!(store.blocks(3, 5).unwrap(), vec![]);
        for b in store.blocks(0, 10).unwrap() {
            b.check_hash().unwrap();
        }
    }
}
