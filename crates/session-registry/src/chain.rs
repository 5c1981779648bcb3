//! The chain: committed state, the mempool and the vote pool, block production and
//! replay from genesis.
//!
//! * **Submission** ([`Chain::submit`]) validates a transaction against the *pending*
//!   state (the committed state plus the mempool, at the next height and the current
//!   time) and queues it; a rejected transaction changes nothing.
//! * **Production** ([`Chain::produce_block`]) re-applies the mempool to a copy of the
//!   committed state at the block's height and time (dropping, with a log line, anything
//!   that no longer validates — e.g. a proof that expired meanwhile), hashes the block,
//!   finishes it ([`State::end_block`]), stores it, and only then makes it the committed
//!   state.
//! * **Votes** ([`Chain::submit_vote`]) are pooled per (quorum height, worker, state);
//!   once `votes_needed` distinct validators agree a [`StateChange`] carrying their
//!   signatures enters the mempool. The pool is not persisted (like oxend's).
//! * **Replay** ([`replay`]) rebuilds the state from stored blocks, checking every hash.

use std::collections::BTreeMap;
use std::sync::Arc;

use session_rt::Clock;

use crate::block::{Block, StoredTx};
use crate::config::ChainParams;
use crate::error::{RegistryError, Result};
use crate::state::{State, TxCtx};
use crate::store::BlockStore;
use crate::tx::{Genesis, NewState, StateChange, Tx, Vote, VoteSignature, vote_hash};
use crate::types::Key32;

/// Blocks read per batch during replay.
const REPLAY_BATCH: usize = 512;

/// What a successful submission returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction id.
    pub txid: [u8; 32],
    /// The height of the block it is expected in.
    pub height: u64,
}

/// What a successful vote returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteReceipt {
    /// Distinct validators that voted for this change so far.
    pub votes: usize,
    /// Votes needed.
    pub votes_needed: u32,
    /// Whether the state change has been queued for the next block.
    pub queued: bool,
}

#[derive(Debug, Default)]
struct PoolEntry {
    votes: BTreeMap<u32, VoteSignature>,
    queued: bool,
}

/// Replays stored blocks (in order, from genesis) into a state, checking links, hashes
/// and every transaction.
pub fn replay<I>(blocks: I) -> Result<State>
where
    I: IntoIterator<Item = Result<Block>>,
{
    let mut state: Option<State> = None;
    for block in blocks {
        let block = block?;
        block.check_hash()?;
        let corrupt = |reason: String| RegistryError::CorruptChain {
            height: block.height,
            reason,
        };
        state = Some(match state {
            None => {
                if block.height != 0 || block.prev_hash != [0; 32] {
                    return Err(corrupt("the first block is not a genesis block".into()));
                }
                let [tx] = block.txs.as_slice() else {
                    return Err(corrupt("genesis must hold exactly one transaction".into()));
                };
                let Tx::Genesis(g) = tx.parse(0)? else {
                    return Err(corrupt("genesis must hold the genesis transaction".into()));
                };
                State::genesis(g.params, block.timestamp_ms, block.hash)
            }
            Some(mut s) => {
                if block.height != s.height + 1 {
                    return Err(corrupt(format!("expected height {}", s.height + 1)));
                }
                if block.prev_hash != s.top_hash.0 {
                    return Err(corrupt("previous hash does not match".into()));
                }
                if block.timestamp_ms < s.timestamp_ms {
                    return Err(corrupt("timestamp before the previous block's".into()));
                }
                let mut active_changed = false;
                for stored in &block.txs {
                    let tx = stored.parse(block.height)?;
                    let ctx = TxCtx {
                        height: block.height,
                        timestamp_ms: block.timestamp_ms,
                        txid: stored.txid,
                    };
                    let effect = s.apply_tx(&ctx, &tx).map_err(|e| {
                        corrupt(format!(
                            "transaction {} does not apply: {e}",
                            hex::encode(stored.txid)
                        ))
                    })?;
                    active_changed |= effect.active_changed;
                }
                s.end_block(block.height, block.timestamp_ms, block.hash, active_changed)?;
                s
            }
        });
    }
    state.ok_or_else(|| RegistryError::CorruptChain {
        height: 0,
        reason: "no genesis block".into(),
    })
}

/// Reads all blocks of `store` in batches.
fn stored_blocks(store: &dyn BlockStore) -> impl Iterator<Item = Result<Block>> + '_ {
    let mut next = 0u64;
    let mut buf: std::vec::IntoIter<Block> = Vec::new().into_iter();
    let mut done = false;
    std::iter::from_fn(move || {
        loop {
            if let Some(b) = buf.next() {
                return Some(Ok(b));
            }
            if done {
                return None;
            }
            match store.blocks(next, REPLAY_BATCH) {
                Ok(batch) => {
                    if batch.len() < REPLAY_BATCH {
                        done = true;
                    }
                    next += batch.len() as u64;
                    buf = batch.into_iter();
                }
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
            }
        }
    })
}

/// The ledger with its mempool and vote pool.
#[derive(Debug)]
pub struct Chain {
    store: Arc<dyn BlockStore>,
    clock: Arc<dyn Clock>,
    committed: Arc<State>,
    pending: State,
    mempool: Vec<(Tx, StoredTx)>,
    votes: BTreeMap<(u64, u32, NewState), PoolEntry>,
}

impl Chain {
    /// Opens the chain in `store`: replays it if it exists (refusing if its genesis
    /// parameters differ from `params`), otherwise writes a genesis block for `params`.
    pub fn open(
        store: Arc<dyn BlockStore>,
        params: &ChainParams,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        params.validate().map_err(|reason| RegistryError::Config {
            origin: "chain parameters".into(),
            reason,
        })?;
        let state = if store.is_empty()? {
            let genesis = Tx::Genesis(Genesis {
                params: params.clone(),
            });
            let block = Block::new([0; 32], 0, clock.now_ms(), vec![StoredTx::new(&genesis)]);
            store.append(&block)?;
            tracing::info!(hash = %hex::encode(block.hash), network = %params.network, "genesis block created");
            State::genesis(params.clone(), block.timestamp_ms, block.hash)
        } else {
            let state = replay(stored_blocks(store.as_ref()))?;
            if let Some((key, chain, config)) = state.params.first_difference(params) {
                return Err(RegistryError::ChainMismatch { key, config, chain });
            }
            tracing::info!(
                height = state.height,
                nodes = state.nodes.len(),
                "chain replayed"
            );
            state
        };
        Ok(Self {
            store,
            clock,
            pending: state.clone(),
            committed: Arc::new(state),
            mempool: Vec::new(),
            votes: BTreeMap::new(),
        })
    }

    /// The committed state (after the top block).
    pub fn state(&self) -> Arc<State> {
        self.committed.clone()
    }

    /// The state including the mempool.
    pub fn pending_state(&self) -> &State {
        &self.pending
    }

    /// Transactions waiting for the next block.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// The block store.
    pub fn store(&self) -> &Arc<dyn BlockStore> {
        &self.store
    }

    fn next_timestamp(&self) -> u64 {
        self.clock.now_ms().max(self.committed.timestamp_ms)
    }

    /// Validates `tx` against the pending state and queues it for the next block.
    pub fn submit(&mut self, tx: Tx) -> Result<Receipt> {
        let stored = StoredTx::new(&tx);
        let height = self.committed.height + 1;
        if self.mempool.iter().any(|(_, s)| s.txid == stored.txid) {
            return Err(RegistryError::AlreadyPending {
                txid: hex::encode(stored.txid),
            });
        }
        let ctx = TxCtx {
            height,
            timestamp_ms: self.next_timestamp(),
            txid: stored.txid,
        };
        self.pending.apply_tx(&ctx, &tx)?;
        tracing::debug!(kind = tx.kind(), txid = %hex::encode(stored.txid), "transaction accepted");
        let txid = stored.txid;
        self.mempool.push((tx, stored));
        Ok(Receipt { txid, height })
    }

    /// Checks a validator's vote and pools it; queues the state change once enough
    /// validators agree.
    pub fn submit_vote(&mut self, vote: Vote) -> Result<VoteReceipt> {
        let committed = self.committed.clone();
        let needed = committed.params.votes_needed;
        let quorum = committed.quorum_at(vote.quorum_height, committed.height)?;
        let Some(node) = self.pending.nodes.get(&vote.worker) else {
            return Err(RegistryError::UnknownNode {
                pubkey: vote.worker.to_hex(),
            });
        };
        let voter_index = position(&quorum.validators, &vote.voter).ok_or_else(|| {
            RegistryError::NotQuorumMember {
                voter: vote.voter.to_hex(),
                height: vote.quorum_height,
            }
        })?;
        let worker_index =
            position(&quorum.workers, &vote.worker).ok_or_else(|| RegistryError::NotTested {
                worker: vote.worker.to_hex(),
                height: vote.quorum_height,
            })?;
        let sig = vote
            .signature
            .ok_or(RegistryError::MissingSignature { what: "vote" })?;
        session_crypto::ed25519::verify(
            &vote.voter.0,
            &vote_hash(vote.quorum_height, worker_index, vote.state),
            &sig.0,
        )
        .map_err(|_| RegistryError::BadSignature { what: "vote" })?;
        let key = (vote.quorum_height, worker_index, vote.state);
        let already_queued = self.votes.get(&key).is_some_and(|e| e.queued);
        if !already_queued {
            self.pending
                .check_transition(vote.quorum_height, node, vote.state)?;
        }

        let entry = self.votes.entry(key).or_default();
        entry.votes.entry(voter_index).or_insert(VoteSignature {
            voter_index,
            reason: vote.reason,
            signature: sig,
        });
        let count = entry.votes.len();
        if !entry.queued && count >= needed as usize {
            let change = StateChange {
                quorum_height: vote.quorum_height,
                worker_index,
                state: vote.state,
                votes: entry.votes.values().cloned().collect(),
            };
            match self.submit(Tx::StateChange(change)) {
                Ok(_) => {
                    if let Some(e) = self.votes.get_mut(&key) {
                        e.queued = true;
                    }
                    tracing::info!(
                        worker = %crate::state::short(&vote.worker),
                        change = vote.state.verb(),
                        votes = count,
                        "state change queued"
                    );
                }
                Err(e) => tracing::warn!("state change with {count} votes not queued: {e}"),
            }
        }
        let queued = self.votes.get(&key).is_some_and(|e| e.queued);
        Ok(VoteReceipt {
            votes: count,
            votes_needed: needed,
            queued,
        })
    }

    /// Produces the next block from the mempool; returns it.
    pub fn produce_block(&mut self) -> Result<Block> {
        let parent = self.committed.clone();
        let height = parent.height + 1;
        let timestamp_ms = self.next_timestamp();
        let mut next = (*parent).clone();
        let mut kept = Vec::with_capacity(self.mempool.len());
        let mut active_changed = false;
        for (tx, stored) in &self.mempool {
            let ctx = TxCtx {
                height,
                timestamp_ms,
                txid: stored.txid,
            };
            match next.apply_tx(&ctx, tx) {
                Ok(effect) => {
                    active_changed |= effect.active_changed;
                    kept.push(stored.clone());
                }
                Err(e) => tracing::warn!(
                    kind = tx.kind(),
                    txid = %hex::encode(stored.txid),
                    "transaction dropped from block {height}: {e}"
                ),
            }
        }
        let block = Block::new(parent.top_hash.0, height, timestamp_ms, kept);
        next.end_block(height, timestamp_ms, block.hash, active_changed)?;
        self.store.append(&block)?;

        self.committed = Arc::new(next);
        self.pending = (*self.committed).clone();
        self.mempool.clear();
        let lifetime = self.committed.params.vote_lifetime_blocks;
        self.votes
            .retain(|(h, _, _), _| h.saturating_add(lifetime) >= height);
        tracing::debug!(height, txs = block.txs.len(), hash = %hex::encode(block.hash), "block produced");
        Ok(block)
    }
}

fn position(list: &[Key32], key: &Key32) -> Option<u32> {
    list.iter()
        .position(|k| k == key)
        .and_then(|i| u32::try_from(i).ok())
}
