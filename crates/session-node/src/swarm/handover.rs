//! Hand-over of stored records when the registry's swarms change (storage-node §6.4),
//! in the bulk `sn.data` format (§5.7: `0x01` + bt list, ≤ 9 MB per batch, namespace
//! included).
//!
//! After each new node list, this node looks at every account it holds and where the
//! account now belongs:
//!
//! * **its own swarm**: members that were not in this node's swarm before (a node that
//!   joined, or this node's new swarm-mates after its old swarm dissolved) get every
//!   record, since they may lack them. A node that has itself just entered a swarm
//!   pushes nothing: its new mates push to it.
//! * **another swarm** (a new swarm took over part of the key space, this node's swarm
//!   dissolved, or this node moved or was decommissioned): the records go to every
//!   member of the owning swarm and — unlike the reference, which keeps dead data until
//!   it expires — are **erased here once every one of them has acknowledged** the
//!   batch. A record whose new owners cannot all be reached stays, and the hand-over is
//!   retried; nothing is erased on a partial acknowledgement.
//!
//! Receivers insert with "insert or ignore" (no expiry extension), skip expired items
//! and items whose hash does not match their content.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use session_rt::{Clock, Shutdown};
use session_swarm::SwarmId;
use session_wire::storage::{
    BULK_BATCH_LIMIT, BulkMessage, StoragePubkey, parse_bulk, serialize_bulk,
};
use tokio::sync::{Notify, watch};

use crate::error::{NodeError, Result};
use crate::network::SnodeInfo;
use crate::peer::{Command, PeerClient};
use crate::registry::NetworkSnapshot;
use crate::store::{MessageStore, NewMessage};
use crate::types::{Namespace, UserPubkey, message_hash};

/// How long one batch push may take.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// Clock time between two attempts of an incomplete hand-over.
pub const RETRY_INTERVAL_MS: u64 = 10_000;
/// Bytes assumed per record on top of its data when filling a batch.
const ITEM_OVERHEAD: usize = 160;

/// Progress of the hand-over, published on a watch channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandOverStatus {
    /// Block hash of the last node list whose hand-over finished (completely or not).
    pub handled: Option<String>,
    /// Whether work is queued or running.
    pub busy: bool,
    /// Whether the last run left records that could not be delivered (retried).
    pub incomplete: bool,
    /// Records pushed so far (counted once per recipient).
    pub pushed: u64,
    /// Records erased here after their new owners acknowledged them.
    pub erased: u64,
}

#[derive(Debug, Default)]
struct Pending {
    /// The node list the last *complete* hand-over ran on.
    old: Option<Arc<NetworkSnapshot>>,
    /// The newest node list.
    new: Option<Arc<NetworkSnapshot>>,
}

/// Runs hand-overs in the background, one at a time, always against the newest list.
#[derive(Debug)]
pub struct HandOver {
    me: [u8; 32],
    store: Arc<dyn MessageStore>,
    client: Arc<PeerClient>,
    clock: Arc<dyn Clock>,
    pending: Mutex<Pending>,
    wake: Notify,
    status: watch::Sender<HandOverStatus>,
}

/// What one reconcile run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Records pushed (per recipient).
    pub pushed: u64,
    /// Records erased after acknowledgement.
    pub erased: u64,
    /// Whether every push was acknowledged.
    pub complete: bool,
}

impl Summary {
    /// A summary with nothing done yet (and nothing left undone).
    fn complete() -> Self {
        Self {
            complete: true,
            ..Self::default()
        }
    }

    /// Adds the work of another run.
    fn add(&mut self, other: Summary) {
        self.pushed += other.pushed;
        self.erased += other.erased;
        self.complete &= other.complete;
    }
}

impl HandOver {
    /// A hand-over runner for node `me`.
    pub fn new(
        me: [u8; 32],
        store: Arc<dyn MessageStore>,
        client: Arc<PeerClient>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            me,
            store,
            client,
            clock,
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            status: watch::channel(HandOverStatus::default()).0,
        }
    }

    /// A receiver of every status change.
    pub fn subscribe(&self) -> watch::Receiver<HandOverStatus> {
        self.status.subscribe()
    }

    /// The current status.
    pub fn status(&self) -> HandOverStatus {
        self.status.borrow().clone()
    }

    /// Schedules a hand-over for the node list `new`.
    pub fn network_changed(&self, new: Arc<NetworkSnapshot>) {
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.new = Some(new);
        }
        self.status
            .send_if_modified(|s| !std::mem::replace(&mut s.busy, true));
        self.wake.notify_one();
    }

    /// Runs scheduled hand-overs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        loop {
            let job = {
                let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.new.clone().map(|n| (p.old.clone(), n))
            };
            let mut retry_at = None;
            if let Some((old, new)) = job {
                let done_hash = new.block_hash.clone();
                let summary = tokio::select! {
                    () = shutdown.wait() => return,
                    s = self.reconcile(old.as_deref(), &new) => s,
                };
                let summary = summary.unwrap_or_else(|e| {
                    tracing::warn!("hand-over failed: {e}");
                    Summary::default()
                });
                let newer = {
                    let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                    let newer = p.new.as_ref().is_some_and(|n| !Arc::ptr_eq(n, &new));
                    if summary.complete {
                        p.old = Some(new.clone());
                        if !newer {
                            p.new = None;
                        }
                    }
                    newer
                };
                if !summary.complete && !newer {
                    retry_at = Some(self.clock.now_ms().saturating_add(RETRY_INTERVAL_MS));
                }
                self.status.send_modify(|s| {
                    s.handled = Some(done_hash);
                    s.busy = newer;
                    s.incomplete = !summary.complete;
                    s.pushed += summary.pushed;
                    s.erased += summary.erased;
                });
                if newer {
                    continue;
                }
            }
            match retry_at {
                Some(at) => tokio::select! {
                    () = shutdown.wait() => return,
                    () = self.wake.notified() => {}
                    () = self.clock.sleep_until_ms(at) => {}
                },
                None => tokio::select! {
                    () = shutdown.wait() => return,
                    () = self.wake.notified() => {}
                },
            }
        }
    }

    /// One pass over the stored accounts for the change `old` → `new` (see the module
    /// docs). `old = None` means this node has no earlier list (it just started).
    pub async fn reconcile(
        &self,
        old: Option<&NetworkSnapshot>,
        new: &NetworkSnapshot,
    ) -> Result<Summary> {
        let mut summary = Summary::complete();
        if !new.listed {
            return Ok(summary);
        }
        // A new block with the same swarms changes nothing here.
        if let Some(o) = old
            && o.my_swarm == new.my_swarm
            && o.swarms == new.swarms
        {
            return Ok(summary);
        }
        let my = new.my_swarm;
        let old_my = old.and_then(|o| o.my_swarm);
        let old_mates: BTreeSet<[u8; 32]> = old
            .zip(old_my)
            .and_then(|(o, id)| o.swarms.get(&id))
            .map(|m| m.iter().map(|s| s.pubkey_ed25519).collect())
            .unwrap_or_default();
        // Only a node that was already in a swarm pushes its swarm's records to mates.
        let fresh_mates: Vec<SnodeInfo> = match (my, old_my) {
            (Some(id), Some(_)) => new
                .swarms
                .get(&id)
                .map(|m| {
                    m.iter()
                        .filter(|s| s.pubkey_ed25519 != self.me)
                        .filter(|s| !old_mates.contains(&s.pubkey_ed25519))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };

        let owners = self.store.owners().await?;
        let mut by_target: BTreeMap<SwarmId, Vec<UserPubkey>> = BTreeMap::new();
        for o in owners {
            if let Some(t) = new.swarm_of_key(o.key()) {
                by_target.entry(t).or_default().push(o);
            }
        }
        for (target, owners) in by_target {
            let (recipients, erase) = if Some(target) == my {
                (fresh_mates.clone(), false)
            } else {
                let members: Vec<SnodeInfo> = new
                    .swarms
                    .get(&target)
                    .map(|m| {
                        m.iter()
                            .filter(|s| s.pubkey_ed25519 != self.me)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                (members, true)
            };
            if recipients.is_empty() {
                continue;
            }
            summary.add(self.push_owners(&owners, &recipients, erase).await?);
        }
        if summary.pushed > 0 || summary.erased > 0 {
            tracing::info!(
                height = new.height,
                pushed = summary.pushed,
                erased = summary.erased,
                complete = summary.complete,
                "swarm hand-over"
            );
        }
        Ok(summary)
    }

    /// Pushes every record of `owners` to each of `recipients`, in batches; with
    /// `erase`, the records of each batch every recipient acknowledged are erased.
    async fn push_owners(
        &self,
        owners: &[UserPubkey],
        recipients: &[SnodeInfo],
        erase: bool,
    ) -> Result<Summary> {
        let mut summary = Summary::complete();
        let mut batch: Vec<BulkMessage> = Vec::new();
        let mut hashes: Vec<(UserPubkey, String)> = Vec::new();
        let mut size = 0usize;
        for owner in owners {
            let now = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
            let msgs = self.store.dump_owner(owner, now).await?;
            let pk = StoragePubkey {
                prefix: owner.prefix(),
                key: *owner.key(),
            };
            for (ns, m) in msgs {
                size += m.data.len() + ITEM_OVERHEAD;
                hashes.push((*owner, m.hash.clone()));
                batch.push(BulkMessage {
                    pubkey: pk,
                    hash: m.hash.into_bytes(),
                    timestamp_ms: m.timestamp,
                    expiry_ms: m.expiry,
                    data: m.data,
                    namespace: Some(ns.0),
                });
                if size >= BULK_BATCH_LIMIT {
                    summary.add(
                        self.flush(&mut batch, &mut hashes, recipients, erase)
                            .await?,
                    );
                    size = 0;
                }
            }
        }
        if !batch.is_empty() {
            summary.add(
                self.flush(&mut batch, &mut hashes, recipients, erase)
                    .await?,
            );
        }
        Ok(summary)
    }

    async fn flush(
        &self,
        batch: &mut Vec<BulkMessage>,
        hashes: &mut Vec<(UserPubkey, String)>,
        recipients: &[SnodeInfo],
        erase: bool,
    ) -> Result<Summary> {
        let items = std::mem::take(batch);
        let sent = std::mem::take(hashes);
        let payloads: Vec<Bytes> = serialize_bulk(&items)
            .into_iter()
            .map(Bytes::from)
            .collect();
        let count = items.len() as u64;
        let pushes = recipients.iter().map(|peer| {
            let payloads = payloads.clone();
            async move {
                for p in payloads {
                    match self
                        .client
                        .send(peer, Command::Data, p, false, PUSH_TIMEOUT)
                        .await
                    {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => {
                            tracing::debug!(
                                status = r.status,
                                "hand-over batch refused: {}",
                                r.text()
                            );
                            return false;
                        }
                        Err(e) => {
                            tracing::debug!("hand-over batch not delivered: {e}");
                            return false;
                        }
                    }
                }
                true
            }
        });
        let acks = super::join_all(pushes).await;
        let acked = acks.iter().filter(|a| **a).count() as u64;
        let all = acks.iter().all(|a| *a);
        let mut summary = Summary {
            pushed: count * acked,
            erased: 0,
            complete: all,
        };
        if erase && all {
            let mut per_owner: BTreeMap<UserPubkey, Vec<String>> = BTreeMap::new();
            for (o, h) in sent {
                per_owner.entry(o).or_default().push(h);
            }
            for (o, hs) in per_owner {
                let gone = self.store.delete_by_hash(&o, &hs).await?;
                summary.erased += gone.len() as u64;
            }
        }
        Ok(summary)
    }
}

/// Applies one received `sn.data` payload: items whose hash matches their content and
/// that have not expired are inserted unless already stored. Returns
/// `(inserted, skipped)`.
pub async fn receive(store: &dyn MessageStore, payload: &[u8], now: i64) -> Result<(usize, usize)> {
    let items = parse_bulk(payload).map_err(|e| NodeError::BadBatch(e.to_string()))?;
    let total = items.len();
    let mut msgs = Vec::with_capacity(total);
    for it in items {
        let pubkey = UserPubkey::new(it.pubkey.prefix, it.pubkey.key);
        let ns = Namespace(it.namespace_or_default());
        let Ok(hash) = String::from_utf8(it.hash) else {
            continue;
        };
        if message_hash(&pubkey, ns, &it.data) != hash {
            continue;
        }
        msgs.push(NewMessage {
            pubkey,
            hash,
            namespace: ns,
            timestamp: it.timestamp_ms,
            expiry: it.expiry_ms,
            data: it.data,
        });
    }
    let valid = msgs.len();
    let inserted = store.insert_bulk(msgs, now).await?;
    if valid < total {
        tracing::debug!(
            skipped = total - valid,
            "hand-over items with a wrong hash skipped"
        );
    }
    Ok((inserted, total - inserted))
}
