//! The message store: a trait with two backends, SQLite ([`sqlite::SqliteStore`], the
//! real one) and in-memory ([`memory::MemoryStore`], for fast tests). Both pass the same
//! conformance suite (`conformance` tests below).
//!
//! Semantics (storage-node spec §5): retrieve order is insertion order; a hash is unique
//! across the store, and storing an existing hash extends its expiry to the later value;
//! expired messages are swept by [`MessageStore::delete_expired`] (and never returned
//! by `retrieve`); an owner disappears with its last message unless it still has
//! revoked subaccounts; a size cap makes stores fail with [`NodeError::DatabaseFull`].
//! For swarm hand-over (§5.7) a store also lists its accounts ([`MessageStore::owners`]),
//! dumps one account ([`MessageStore::dump_owner`]) and takes a batch with "insert or
//! ignore" semantics in one transaction ([`MessageStore::insert_bulk`]: never extends
//! an expiry, never replaces a namespace).
//!
//! Methods return [`StoreFuture`]s: reads and the memory backend complete before they
//! return; SQLite writes complete when the writer thread has committed them, so an
//! async caller never blocks a runtime thread on a commit.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::{NodeError, Result};
use crate::types::{Namespace, NsSelector, SubaccountToken, UserPubkey};

pub mod memory;
pub mod sqlite;

#[cfg(test)]
mod conformance;

/// A message to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The owner account.
    pub pubkey: UserPubkey,
    /// The message hash (§5.1).
    pub hash: String,
    /// The namespace.
    pub namespace: Namespace,
    /// Client timestamp, ms.
    pub timestamp: i64,
    /// Expiry, ms.
    pub expiry: i64,
    /// The raw data.
    pub data: Vec<u8>,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("pubkey", &self.pubkey)
            .field("hash", &self.hash)
            .field("namespace", &self.namespace)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A stored message as `retrieve` returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The hash.
    pub hash: String,
    /// Client timestamp, ms.
    pub timestamp: i64,
    /// Expiry, ms.
    pub expiry: i64,
    /// The raw data.
    pub data: Vec<u8>,
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("hash", &self.hash)
            .field("expiry", &self.expiry)
            .field("len", &self.data.len())
            .finish()
    }
}

/// What `store` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A new message.
    New,
    /// The hash existed; its expiry was extended to the new, later value.
    Extended,
    /// The hash existed with an expiry at least as late; nothing changed.
    Exists {
        /// The existing (kept) expiry.
        expiry: i64,
    },
}

impl StoreOutcome {
    /// The message's expiry after the store, given the requested expiry.
    pub fn resulting_expiry(self, requested: i64) -> i64 {
        match self {
            Self::New | Self::Extended => requested,
            Self::Exists { expiry } => expiry,
        }
    }
}

/// Limits of one `retrieve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrieveLimits {
    /// At most this many messages (`None` = no count limit).
    pub max_count: Option<usize>,
    /// Byte budget: per message 100 + hash length + ⌊data × 4 / 3⌋.
    pub max_size: i64,
}

/// Result of `retrieve`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Retrieved {
    /// The messages in insertion order.
    pub messages: Vec<StoredMessage>,
    /// Whether more messages were left out by the limits.
    pub more: bool,
}

/// Which rows an `expire` may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireMode {
    /// Set the new expiry unconditionally.
    Any,
    /// Only rows whose expiry is earlier than the new one.
    ExtendOnly,
    /// Only rows whose expiry is later than the new one.
    ShortenOnly,
}

/// A store operation in progress. Backends either finish the work before returning a
/// ready future (memory, SQLite reads) or hand it to a worker and resolve when it is
/// done (SQLite writes resolve once committed).
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// A future that is already complete.
pub fn ready<T: Send + 'static>(r: Result<T>) -> StoreFuture<T> {
    Box::pin(std::future::ready(r))
}

/// Blocking wait for a [`StoreFuture`], for synchronous callers (tools, tests). Inside
/// an async runtime, `.await` the future instead.
pub trait StoreFutureExt<T> {
    /// Blocks the current thread until the operation completes.
    fn wait(self) -> Result<T>;
}

impl<T> StoreFutureExt<T> for StoreFuture<T> {
    fn wait(self) -> Result<T> {
        struct ThreadWaker(std::thread::Thread);
        impl std::task::Wake for ThreadWaker {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker =
            std::task::Waker::from(std::sync::Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut fut = self;
        loop {
            if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }
}

/// Persistence of the storage service.
pub trait MessageStore: Send + Sync + fmt::Debug + 'static {
    /// Stores `msg` (or extends an existing hash's expiry). With `replace_namespace`
    /// (public outboxes) every other message of the owner in that namespace is deleted
    /// first.
    fn store(&self, msg: NewMessage, replace_namespace: bool) -> StoreFuture<StoreOutcome>;

    /// Messages of `owner` in `ns` after the one whose hash is `last_hash` (from the
    /// start if absent or unknown), skipping messages with `expiry <= now`. At least one
    /// message is returned if any is available.
    fn retrieve(
        &self,
        owner: &UserPubkey,
        ns: Namespace,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: i64,
    ) -> StoreFuture<Retrieved>;

    /// Deletes the given hashes of `owner` (any namespace); returns the deleted hashes.
    fn delete_by_hash(&self, owner: &UserPubkey, hashes: &[String]) -> StoreFuture<Vec<String>>;

    /// Deletes every message of `owner` in `ns`; returns `(namespace, hash)` pairs.
    fn delete_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
    ) -> StoreFuture<Vec<(Namespace, String)>>;

    /// Deletes messages of `owner` in `ns` with `timestamp <= before`.
    fn delete_before(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        before: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>>;

    /// Sets `expiry` on messages of `owner` in `ns` whose expiry is later (shortens only).
    fn shorten_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        expiry: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>>;

    /// Sets each `(hash, expiry)` on `owner`'s message with that hash, subject to `mode`;
    /// returns the updated `(hash, new expiry)` pairs.
    fn update_expiries(
        &self,
        owner: &UserPubkey,
        updates: &[(String, i64)],
        mode: ExpireMode,
    ) -> StoreFuture<Vec<(String, i64)>>;

    /// Current expiries of the given hashes of `owner` (only those that exist).
    fn get_expiries(
        &self,
        owner: &UserPubkey,
        hashes: &[String],
    ) -> StoreFuture<BTreeMap<String, i64>>;

    /// Revokes `tokens` for `owner` at time `now` (re-revoking refreshes the time); only
    /// the newest 50 revocations of an owner are kept.
    fn revoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
        now: i64,
    ) -> StoreFuture<()>;

    /// Removes revocations; returns how many existed.
    fn unrevoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
    ) -> StoreFuture<usize>;

    /// Whether `token` is revoked for `owner`.
    fn is_revoked(&self, owner: &UserPubkey, token: &SubaccountToken) -> StoreFuture<bool>;

    /// Deletes every message with `expiry <= now`; returns how many.
    fn delete_expired(&self, now: i64) -> StoreFuture<usize>;

    /// Number of stored messages (expired ones not yet swept included).
    fn message_count(&self) -> StoreFuture<usize>;

    /// Number of owner rows (accounts with messages or revocations).
    fn owner_count(&self) -> StoreFuture<usize>;

    /// Every account that has at least one stored message (any order, no duplicates).
    /// Expired messages not yet swept count; accounts that only hold revocations do not.
    fn owners(&self) -> StoreFuture<Vec<UserPubkey>>;

    /// Every message of `owner` with `expiry > now`, all namespaces, in insertion order,
    /// each with its namespace (the input of a swarm hand-over, spec §5.7).
    fn dump_owner(
        &self,
        owner: &UserPubkey,
        now: i64,
    ) -> StoreFuture<Vec<(Namespace, StoredMessage)>>;

    /// Bulk insert for swarm hand-over (storage-node spec §5.7): each message is inserted
    /// unless a message with the same hash already exists (earlier in the store or
    /// earlier in `messages`) — no expiry extension, no "replace namespace" semantics;
    /// messages already expired at `now` (`expiry <= now`) are skipped. All in one
    /// transaction: on failure nothing is inserted. Returns how many were inserted. The
    /// database size cap applies ([`NodeError::DatabaseFull`], as for `store`).
    fn insert_bulk(&self, messages: Vec<NewMessage>, now: i64) -> StoreFuture<usize>;

    /// One message of `owner` by hash (any namespace) with its namespace, if it is stored
    /// and `expiry > now`.
    fn get_message(
        &self,
        owner: &UserPubkey,
        hash: &str,
        now: i64,
    ) -> StoreFuture<Option<(Namespace, StoredMessage)>>;
}

/// The retrieve size of one message (always counting base64 expansion, spec §10.10).
pub fn retrieve_cost(hash: &str, data_len: usize) -> i64 {
    let data = i64::try_from(data_len).unwrap_or(i64::MAX / 2);
    let h = i64::try_from(hash.len()).unwrap_or(0);
    super::limits::RETRIEVE_MSG_OVERHEAD + h + data * 4 / 3
}

/// Applies `limits` to a lazily produced, insertion-ordered message stream.
pub(crate) fn collect_limited<I>(iter: I, limits: RetrieveLimits) -> Result<Retrieved>
where
    I: Iterator<Item = Result<StoredMessage>>,
{
    let mut out = Retrieved::default();
    let mut used: i64 = 0;
    for msg in iter {
        let msg = msg?;
        if let Some(max) = limits.max_count
            && out.messages.len() >= max
        {
            out.more = true;
            break;
        }
        let cost = retrieve_cost(&msg.hash, msg.data.len());
        if !out.messages.is_empty() && used.saturating_add(cost) > limits.max_size {
            out.more = true;
            break;
        }
        used = used.saturating_add(cost);
        out.messages.push(msg);
    }
    Ok(out)
}

/// Locks a mutex, recovering from poisoning (a panicked holder cannot leave the
/// protected data half-updated in this crate: every critical section is infallible).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Converts a store failure on a read path into the reply the reference gives.
pub(crate) fn read_failure(owner: &UserPubkey) -> impl FnOnce(NodeError) -> NodeError + '_ {
    move |e| {
        tracing::error!(owner = %owner.redacted(), "retrieve failed: {e}");
        NodeError::RetrieveFailed(owner.redacted())
    }
}
