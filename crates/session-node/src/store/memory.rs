//! In-memory backend for fast tests. Same semantics as SQLite, including the size cap
//! (counted as data + hash + 64 bytes per message).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{
    ExpireMode, MessageStore, NewMessage, RetrieveLimits, Retrieved, StoreFuture, StoreOutcome,
    StoredMessage, collect_limited, lock, ready,
};
use crate::error::{NodeError, Result};
use crate::limits::MAX_SUBACCOUNT_TOKENS;
use crate::types::{Namespace, NsSelector, SubaccountToken, UserPubkey};

#[derive(Debug, Clone)]
struct Msg {
    hash: String,
    namespace: Namespace,
    timestamp: i64,
    expiry: i64,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Owner {
    /// Messages by insertion id.
    messages: BTreeMap<u64, Msg>,
    /// Revoked tokens with their revocation time.
    revoked: HashMap<SubaccountToken, (i64, u64)>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    owners: HashMap<UserPubkey, Owner>,
    /// hash → (owner, id)
    by_hash: HashMap<String, (UserPubkey, u64)>,
    size: u64,
}

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    size_limit: u64,
}

fn msg_size(m: &Msg) -> u64 {
    (m.data.len() + m.hash.len() + 64) as u64
}

fn stored(m: &Msg) -> StoredMessage {
    StoredMessage {
        hash: m.hash.clone(),
        timestamp: m.timestamp,
        expiry: m.expiry,
        data: m.data.clone(),
    }
}

impl MemoryStore {
    /// An empty store with no practical size cap.
    pub fn new() -> Self {
        Self::with_size_limit(u64::MAX)
    }

    /// An empty store holding at most `size_limit` bytes.
    pub fn with_size_limit(size_limit: u64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            size_limit,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Inner {
    fn remove_ids(&mut self, owner: &UserPubkey, ids: &[u64]) -> Vec<Msg> {
        let mut removed = Vec::new();
        if let Some(o) = self.owners.get_mut(owner) {
            for id in ids {
                if let Some(m) = o.messages.remove(id) {
                    removed.push(m);
                }
            }
        }
        for m in &removed {
            self.by_hash.remove(&m.hash);
            self.size = self.size.saturating_sub(msg_size(m));
        }
        self.clean_owner(owner);
        removed
    }

    fn clean_owner(&mut self, owner: &UserPubkey) {
        if let Some(o) = self.owners.get(owner)
            && o.messages.is_empty()
            && o.revoked.is_empty()
        {
            self.owners.remove(owner);
        }
    }

    fn select_ids(&self, owner: &UserPubkey, pred: impl Fn(&Msg) -> bool) -> Vec<u64> {
        self.owners
            .get(owner)
            .map(|o| {
                o.messages
                    .iter()
                    .filter(|(_, m)| pred(m))
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn ns_matches(sel: NsSelector, ns: Namespace) -> bool {
    match sel {
        NsSelector::All => true,
        NsSelector::One(n) => n == ns,
    }
}

impl MemoryStore {
    fn store_now(&self, msg: NewMessage, replace_namespace: bool) -> Result<StoreOutcome> {
        let mut g = lock(&self.inner);
        if replace_namespace {
            let ids = g.select_ids(&msg.pubkey, |m| {
                m.namespace == msg.namespace && m.hash != msg.hash
            });
            g.remove_ids(&msg.pubkey, &ids);
        }
        if let Some((owner, id)) = g.by_hash.get(&msg.hash).cloned() {
            let existing = g
                .owners
                .get_mut(&owner)
                .and_then(|o| o.messages.get_mut(&id))
                .ok_or_else(|| NodeError::Internal("hash index out of sync".into()))?;
            if msg.expiry > existing.expiry {
                existing.expiry = msg.expiry;
                return Ok(StoreOutcome::Extended);
            }
            return Ok(StoreOutcome::Exists {
                expiry: existing.expiry,
            });
        }
        let m = Msg {
            hash: msg.hash.clone(),
            namespace: msg.namespace,
            timestamp: msg.timestamp,
            expiry: msg.expiry,
            data: msg.data,
        };
        let size = msg_size(&m);
        if g.size.saturating_add(size) > self.size_limit {
            return Err(NodeError::DatabaseFull);
        }
        g.next_id += 1;
        let id = g.next_id;
        g.size += size;
        g.by_hash.insert(msg.hash, (msg.pubkey, id));
        g.owners
            .entry(msg.pubkey)
            .or_default()
            .messages
            .insert(id, m);
        Ok(StoreOutcome::New)
    }

    fn retrieve_now(
        &self,
        owner: &UserPubkey,
        ns: Namespace,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: i64,
    ) -> Result<Retrieved> {
        let g = lock(&self.inner);
        let Some(o) = g.owners.get(owner) else {
            return Ok(Retrieved::default());
        };
        let start = last_hash
            .and_then(|h| g.by_hash.get(h))
            .filter(|(pk, id)| pk == owner && o.messages.get(id).is_some_and(|m| m.namespace == ns))
            .map(|(_, id)| *id)
            .unwrap_or(0);
        let iter = o
            .messages
            .range(start.saturating_add(1)..)
            .filter(|(_, m)| m.namespace == ns && m.expiry > now)
            .map(|(_, m)| Ok(stored(m)));
        collect_limited(iter, limits)
    }

    fn delete_by_hash_now(&self, owner: &UserPubkey, hashes: &[String]) -> Result<Vec<String>> {
        let mut g = lock(&self.inner);
        let ids: Vec<u64> = hashes
            .iter()
            .filter_map(|h| g.by_hash.get(h))
            .filter(|(pk, _)| pk == owner)
            .map(|(_, id)| *id)
            .collect();
        Ok(g.remove_ids(owner, &ids)
            .into_iter()
            .map(|m| m.hash)
            .collect())
    }

    fn delete_all_now(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
    ) -> Result<Vec<(Namespace, String)>> {
        let mut g = lock(&self.inner);
        let ids = g.select_ids(owner, |m| ns_matches(ns, m.namespace));
        Ok(g.remove_ids(owner, &ids)
            .into_iter()
            .map(|m| (m.namespace, m.hash))
            .collect())
    }

    fn delete_before_now(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        before: i64,
    ) -> Result<Vec<(Namespace, String)>> {
        let mut g = lock(&self.inner);
        let ids = g.select_ids(owner, |m| {
            ns_matches(ns, m.namespace) && m.timestamp <= before
        });
        Ok(g.remove_ids(owner, &ids)
            .into_iter()
            .map(|m| (m.namespace, m.hash))
            .collect())
    }

    fn shorten_all_now(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        expiry: i64,
    ) -> Result<Vec<(Namespace, String)>> {
        let mut g = lock(&self.inner);
        let mut out = Vec::new();
        if let Some(o) = g.owners.get_mut(owner) {
            for m in o.messages.values_mut() {
                if ns_matches(ns, m.namespace) && m.expiry > expiry {
                    m.expiry = expiry;
                    out.push((m.namespace, m.hash.clone()));
                }
            }
        }
        Ok(out)
    }

    fn update_expiries_now(
        &self,
        owner: &UserPubkey,
        updates: &[(String, i64)],
        mode: ExpireMode,
    ) -> Result<Vec<(String, i64)>> {
        let mut g = lock(&self.inner);
        let mut out = Vec::new();
        for (hash, expiry) in updates {
            let Some((pk, id)) = g.by_hash.get(hash).cloned() else {
                continue;
            };
            if &pk != owner {
                continue;
            }
            if let Some(m) = g
                .owners
                .get_mut(owner)
                .and_then(|o| o.messages.get_mut(&id))
            {
                let ok = match mode {
                    ExpireMode::Any => true,
                    ExpireMode::ExtendOnly => m.expiry < *expiry,
                    ExpireMode::ShortenOnly => m.expiry > *expiry,
                };
                if ok {
                    m.expiry = *expiry;
                    out.push((hash.clone(), *expiry));
                }
            }
        }
        Ok(out)
    }

    fn get_expiries_now(
        &self,
        owner: &UserPubkey,
        hashes: &[String],
    ) -> Result<BTreeMap<String, i64>> {
        let g = lock(&self.inner);
        let mut out = BTreeMap::new();
        for h in hashes {
            if let Some((pk, id)) = g.by_hash.get(h)
                && pk == owner
                && let Some(m) = g.owners.get(owner).and_then(|o| o.messages.get(id))
            {
                out.insert(h.clone(), m.expiry);
            }
        }
        Ok(out)
    }

    fn revoke_subaccounts_now(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
        now: i64,
    ) -> Result<()> {
        let mut g = lock(&self.inner);
        let g = &mut *g;
        let o = g.owners.entry(*owner).or_default();
        for t in tokens {
            g.next_id += 1;
            o.revoked.insert(*t, (now, g.next_id));
        }
        if o.revoked.len() > MAX_SUBACCOUNT_TOKENS {
            let mut all: Vec<(SubaccountToken, (i64, u64))> =
                o.revoked.iter().map(|(k, v)| (*k, *v)).collect();
            // Newest first (time, then insertion order).
            all.sort_by_key(|e| std::cmp::Reverse(e.1));
            for (k, _) in all.into_iter().skip(MAX_SUBACCOUNT_TOKENS) {
                o.revoked.remove(&k);
            }
        }
        Ok(())
    }

    fn unrevoke_subaccounts_now(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
    ) -> Result<usize> {
        let mut g = lock(&self.inner);
        let mut n = 0;
        if let Some(o) = g.owners.get_mut(owner) {
            for t in tokens {
                if o.revoked.remove(t).is_some() {
                    n += 1;
                }
            }
        }
        g.clean_owner(owner);
        Ok(n)
    }

    fn is_revoked_now(&self, owner: &UserPubkey, token: &SubaccountToken) -> Result<bool> {
        let g = lock(&self.inner);
        Ok(g.owners
            .get(owner)
            .is_some_and(|o| o.revoked.contains_key(token)))
    }

    fn delete_expired_now(&self, now: i64) -> Result<usize> {
        let mut g = lock(&self.inner);
        let owners: Vec<UserPubkey> = g.owners.keys().copied().collect();
        let mut n = 0;
        for owner in owners {
            let ids = g.select_ids(&owner, |m| m.expiry <= now);
            if !ids.is_empty() {
                n += g.remove_ids(&owner, &ids).len();
            }
        }
        Ok(n)
    }

    fn message_count_now(&self) -> Result<usize> {
        Ok(lock(&self.inner).by_hash.len())
    }

    fn owner_count_now(&self) -> Result<usize> {
        Ok(lock(&self.inner).owners.len())
    }

    fn owners_now(&self) -> Result<Vec<UserPubkey>> {
        Ok(lock(&self.inner)
            .owners
            .iter()
            .filter(|(_, o)| !o.messages.is_empty())
            .map(|(pk, _)| *pk)
            .collect())
    }

    fn dump_owner_now(
        &self,
        owner: &UserPubkey,
        now: i64,
    ) -> Result<Vec<(Namespace, StoredMessage)>> {
        let g = lock(&self.inner);
        Ok(g.owners
            .get(owner)
            .map(|o| {
                o.messages
                    .values()
                    .filter(|m| m.expiry > now)
                    .map(|m| (m.namespace, stored(m)))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn insert_bulk_now(&self, messages: Vec<NewMessage>, now: i64) -> Result<usize> {
        let mut g = lock(&self.inner);
        // Select first, so that a batch over the cap inserts nothing (one transaction).
        let mut seen = std::collections::HashSet::new();
        let mut new = Vec::new();
        let mut added: u64 = 0;
        for msg in messages {
            if msg.expiry <= now
                || g.by_hash.contains_key(&msg.hash)
                || !seen.insert(msg.hash.clone())
            {
                continue;
            }
            let m = Msg {
                hash: msg.hash,
                namespace: msg.namespace,
                timestamp: msg.timestamp,
                expiry: msg.expiry,
                data: msg.data,
            };
            added = added.saturating_add(msg_size(&m));
            new.push((msg.pubkey, m));
        }
        if g.size.saturating_add(added) > self.size_limit {
            return Err(NodeError::DatabaseFull);
        }
        g.size = g.size.saturating_add(added);
        let n = new.len();
        for (pk, m) in new {
            g.next_id += 1;
            let id = g.next_id;
            g.by_hash.insert(m.hash.clone(), (pk, id));
            g.owners.entry(pk).or_default().messages.insert(id, m);
        }
        Ok(n)
    }

    fn get_message_now(
        &self,
        owner: &UserPubkey,
        hash: &str,
        now: i64,
    ) -> Result<Option<(Namespace, StoredMessage)>> {
        let g = lock(&self.inner);
        Ok(g.by_hash
            .get(hash)
            .filter(|(pk, _)| pk == owner)
            .and_then(|(_, id)| g.owners.get(owner).and_then(|o| o.messages.get(id)))
            .filter(|m| m.expiry > now)
            .map(|m| (m.namespace, stored(m))))
    }
}

impl MessageStore for MemoryStore {
    fn store(&self, msg: NewMessage, replace_namespace: bool) -> StoreFuture<StoreOutcome> {
        ready(self.store_now(msg, replace_namespace))
    }

    fn retrieve(
        &self,
        owner: &UserPubkey,
        ns: Namespace,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: i64,
    ) -> StoreFuture<Retrieved> {
        ready(self.retrieve_now(owner, ns, last_hash, limits, now))
    }

    fn delete_by_hash(&self, owner: &UserPubkey, hashes: &[String]) -> StoreFuture<Vec<String>> {
        ready(self.delete_by_hash_now(owner, hashes))
    }

    fn delete_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        ready(self.delete_all_now(owner, ns))
    }

    fn delete_before(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        before: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        ready(self.delete_before_now(owner, ns, before))
    }

    fn shorten_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        expiry: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        ready(self.shorten_all_now(owner, ns, expiry))
    }

    fn update_expiries(
        &self,
        owner: &UserPubkey,
        updates: &[(String, i64)],
        mode: ExpireMode,
    ) -> StoreFuture<Vec<(String, i64)>> {
        ready(self.update_expiries_now(owner, updates, mode))
    }

    fn get_expiries(
        &self,
        owner: &UserPubkey,
        hashes: &[String],
    ) -> StoreFuture<BTreeMap<String, i64>> {
        ready(self.get_expiries_now(owner, hashes))
    }

    fn revoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
        now: i64,
    ) -> StoreFuture<()> {
        ready(self.revoke_subaccounts_now(owner, tokens, now))
    }

    fn unrevoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
    ) -> StoreFuture<usize> {
        ready(self.unrevoke_subaccounts_now(owner, tokens))
    }

    fn is_revoked(&self, owner: &UserPubkey, token: &SubaccountToken) -> StoreFuture<bool> {
        ready(self.is_revoked_now(owner, token))
    }

    fn delete_expired(&self, now: i64) -> StoreFuture<usize> {
        ready(self.delete_expired_now(now))
    }

    fn message_count(&self) -> StoreFuture<usize> {
        ready(self.message_count_now())
    }

    fn owner_count(&self) -> StoreFuture<usize> {
        ready(self.owner_count_now())
    }

    fn owners(&self) -> StoreFuture<Vec<UserPubkey>> {
        ready(self.owners_now())
    }

    fn dump_owner(
        &self,
        owner: &UserPubkey,
        now: i64,
    ) -> StoreFuture<Vec<(Namespace, StoredMessage)>> {
        ready(self.dump_owner_now(owner, now))
    }

    fn insert_bulk(&self, messages: Vec<NewMessage>, now: i64) -> StoreFuture<usize> {
        ready(self.insert_bulk_now(messages, now))
    }

    fn get_message(
        &self,
        owner: &UserPubkey,
        hash: &str,
        now: i64,
    ) -> StoreFuture<Option<(Namespace, StoredMessage)>> {
        ready(self.get_message_now(owner, hash, now))
    }
}
