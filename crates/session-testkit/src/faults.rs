//! Faulty parts for tests of misbehaving nodes (the one place the testkit mocks: a
//! fault a real node cannot be made to show on demand).

use std::collections::BTreeMap;

use session_node::store::memory::MemoryStore;
use session_node::store::{
    ExpireMode, MessageStore, NewMessage, RetrieveLimits, Retrieved, StoreFuture, StoreOutcome,
    StoredMessage, ready,
};
use session_node::types::{Namespace, NsSelector, SubaccountToken, UserPubkey};

/// A store that acknowledges every write and keeps none of them: a node that answers
/// pings and stores but drops the data. Everything else is a real in-memory store.
#[derive(Debug, Default)]
pub struct DroppingStore {
    inner: MemoryStore,
}

impl DroppingStore {
    /// An empty dropping store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl MessageStore for DroppingStore {
    fn store(&self, _msg: NewMessage, _replace_namespace: bool) -> StoreFuture<StoreOutcome> {
        ready(Ok(StoreOutcome::New))
    }

    fn insert_bulk(&self, messages: Vec<NewMessage>, _now: i64) -> StoreFuture<usize> {
        ready(Ok(messages.len()))
    }

    fn retrieve(
        &self,
        owner: &UserPubkey,
        ns: Namespace,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: i64,
    ) -> StoreFuture<Retrieved> {
        self.inner.retrieve(owner, ns, last_hash, limits, now)
    }

    fn delete_by_hash(&self, owner: &UserPubkey, hashes: &[String]) -> StoreFuture<Vec<String>> {
        self.inner.delete_by_hash(owner, hashes)
    }

    fn delete_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        self.inner.delete_all(owner, ns)
    }

    fn delete_before(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        before: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        self.inner.delete_before(owner, ns, before)
    }

    fn shorten_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        expiry: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        self.inner.shorten_all(owner, ns, expiry)
    }

    fn update_expiries(
        &self,
        owner: &UserPubkey,
        updates: &[(String, i64)],
        mode: ExpireMode,
    ) -> StoreFuture<Vec<(String, i64)>> {
        self.inner.update_expiries(owner, updates, mode)
    }

    fn get_expiries(
        &self,
        owner: &UserPubkey,
        hashes: &[String],
    ) -> StoreFuture<BTreeMap<String, i64>> {
        self.inner.get_expiries(owner, hashes)
    }

    fn revoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
        now: i64,
    ) -> StoreFuture<()> {
        self.inner.revoke_subaccounts(owner, tokens, now)
    }

    fn unrevoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
    ) -> StoreFuture<usize> {
        self.inner.unrevoke_subaccounts(owner, tokens)
    }

    fn is_revoked(&self, owner: &UserPubkey, token: &SubaccountToken) -> StoreFuture<bool> {
        self.inner.is_revoked(owner, token)
    }

    fn delete_expired(&self, now: i64) -> StoreFuture<usize> {
        self.inner.delete_expired(now)
    }

    fn message_count(&self) -> StoreFuture<usize> {
        self.inner.message_count()
    }

    fn owner_count(&self) -> StoreFuture<usize> {
        self.inner.owner_count()
    }

    fn owners(&self) -> StoreFuture<Vec<UserPubkey>> {
        self.inner.owners()
    }

    fn dump_owner(
        &self,
        owner: &UserPubkey,
        now: i64,
    ) -> StoreFuture<Vec<(Namespace, StoredMessage)>> {
        self.inner.dump_owner(owner, now)
    }

    fn get_message(
        &self,
        owner: &UserPubkey,
        hash: &str,
        now: i64,
    ) -> StoreFuture<Option<(Namespace, StoredMessage)>> {
        self.inner.get_message(owner, hash, now)
    }
}
