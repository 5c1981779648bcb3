//! In-memory block store (tests, demos): everything is lost on exit.

use std::sync::Mutex;

use super::{BlockStore, out_of_order};
use crate::block::Block;
use crate::error::Result;

/// Blocks in a vector.
#[derive(Debug, Default)]
pub struct MemoryStore {
    blocks: Mutex<Vec<Block>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Block>> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockStore for MemoryStore {
    fn len(&self) -> Result<u64> {
        Ok(self.lock().len() as u64)
    }

    fn append(&self, block: &Block) -> Result<()> {
        let mut blocks = self.lock();
        let next = blocks.len() as u64;
        if block.height != next {
            return Err(out_of_order(next, block.height));
        }
        blocks.push(block.clone());
        Ok(())
    }

    fn blocks(&self, from: u64, limit: usize) -> Result<Vec<Block>> {
        let blocks = self.lock();
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(blocks.len());
        Ok(blocks[start..].iter().take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        super::super::conformance::run(&super::MemoryStore::new());
    }
}
