//! The registry service: the chain behind a mutex, a watch channel publishing each new
//! committed state, block production on the injected clock, and the JSON-RPC server on
//! a bound listener until a shutdown signal.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use session_rt::http::{ServeOptions, serve};
use session_rt::{Clock, Shutdown};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::block::Block;
use crate::chain::{Chain, Receipt, VoteReceipt};
use crate::config::{ChainParams, RegistryConfig, StoreBackend};
use crate::error::{RegistryError, Result};
use crate::state::State;
use crate::store::BlockStore;
use crate::store::memory::MemoryStore;
use crate::store::sqlite::SqliteStore;
use crate::tx::{Tx, Vote};

#[derive(Debug)]
struct Inner {
    chain: Mutex<Chain>,
    tip: watch::Sender<Arc<State>>,
    store: Arc<dyn BlockStore>,
    clock: Arc<dyn Clock>,
    block_interval_ms: u64,
    drain_timeout: Duration,
}

/// A running registry (cheap to clone; clones share everything).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Registry {
    /// Opens the registry described by `config` (data directory, store, chain).
    pub fn open(config: &RegistryConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let store: Arc<dyn BlockStore> = match config.store {
            StoreBackend::Sqlite => {
                session_rt::fs::ensure_dir(&config.data_dir)?;
                Arc::new(SqliteStore::open(&config.data_dir)?)
            }
            StoreBackend::Memory => Arc::new(MemoryStore::new()),
        };
        Self::with_store(
            store,
            &config.chain,
            clock,
            config.block_interval_ms,
            Duration::from_secs(config.drain_timeout_secs),
        )
    }

    /// A registry over an existing store (tests inject a memory store).
    pub fn with_store(
        store: Arc<dyn BlockStore>,
        params: &ChainParams,
        clock: Arc<dyn Clock>,
        block_interval_ms: u64,
        drain_timeout: Duration,
    ) -> Result<Self> {
        let chain = Chain::open(store.clone(), params, clock.clone())?;
        let (tip, _) = watch::channel(chain.state());
        Ok(Self {
            inner: Arc::new(Inner {
                chain: Mutex::new(chain),
                tip,
                store,
                clock,
                block_interval_ms: block_interval_ms.max(1),
                drain_timeout,
            }),
        })
    }

    fn chain(&self) -> MutexGuard<'_, Chain> {
        // Nothing panics while holding the lock; if something ever did, the chain is
        // still consistent between operations, so keep using it.
        self.inner.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The committed state (after the top block).
    pub fn state(&self) -> Arc<State> {
        self.inner.tip.borrow().clone()
    }

    /// A receiver that sees every new committed state.
    pub fn subscribe(&self) -> watch::Receiver<Arc<State>> {
        self.inner.tip.subscribe()
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Validates and queues a transaction for the next block.
    pub fn submit(&self, tx: Tx) -> Result<Receipt> {
        self.chain().submit(tx)
    }

    /// Validates and pools a validator's vote.
    pub fn submit_vote(&self, vote: Vote) -> Result<VoteReceipt> {
        self.chain().submit_vote(vote)
    }

    /// Transactions waiting for the next block.
    pub fn mempool_len(&self) -> usize {
        self.chain().mempool_len()
    }

    /// Produces the next block now (the block timer calls this; tests may too).
    pub fn produce_block(&self) -> Result<Block> {
        let mut chain = self.chain();
        let block = chain.produce_block()?;
        self.inner.tip.send_replace(chain.state());
        Ok(block)
    }

    /// The stored block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        self.inner.store.block(height)
    }

    /// Handles one HTTP body of JSON-RPC (in-process callers and the server).
    pub fn handle_rpc(&self, body: &[u8]) -> (u16, serde_json::Value) {
        crate::rpc::handle_body(self, body)
    }

    /// Serves JSON-RPC on `listener` until `shutdown` fires (no block production).
    pub async fn serve(&self, listener: TcpListener, shutdown: Shutdown) -> Result<()> {
        let opts = ServeOptions {
            drain_timeout: self.inner.drain_timeout,
            ..ServeOptions::default()
        };
        serve(
            listener,
            crate::server::router(self.clone()),
            None,
            shutdown,
            opts,
        )
        .await
        .map_err(RegistryError::from)
    }

    /// Serves JSON-RPC and produces a block every `block_interval_ms` of clock time
    /// until `shutdown` fires; in-flight requests and a block being written finish first.
    pub async fn run(self, listener: TcpListener, shutdown: Shutdown) -> Result<()> {
        let addr = listener.local_addr().ok();
        let state = self.state();
        tracing::info!(
            ?addr,
            height = state.height,
            network = %state.params.network,
            interval_ms = self.inner.block_interval_ms,
            "registry listening"
        );
        let producer = tokio::spawn(produce_blocks(self.clone(), shutdown.clone()));
        let result = self.serve(listener, shutdown).await;
        if let Err(e) = producer.await {
            tracing::warn!("block producer task failed: {e}");
        }
        tracing::info!(height = self.state().height, "registry stopped");
        result
    }
}

async fn produce_blocks(reg: Registry, shutdown: Shutdown) {
    let interval = reg.inner.block_interval_ms;
    loop {
        let deadline = reg.state().timestamp_ms.saturating_add(interval);
        tokio::select! {
            () = shutdown.wait() => return,
            () = reg.inner.clock.sleep_until_ms(deadline) => {}
        }
        let r = reg.clone();
        match tokio::task::spawn_blocking(move || r.produce_block()).await {
            Ok(Ok(block)) => tracing::trace!(height = block.height, "block"),
            Ok(Err(e)) => {
                tracing::error!("block production failed: {e}");
                // Do not spin on a persistent failure (e.g. a full disk).
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = reg.inner.clock.sleep(Duration::from_millis(interval)) => {}
                }
            }
            Err(e) => tracing::error!("block production task failed: {e}"),
        }
    }
}
