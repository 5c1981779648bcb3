//! Swarm life (storage-node §5.6–5.7, §6.4): every member of a swarm holds every message.
//!
//! * [`Forwarder`]: a client write this node accepted is forwarded to every other member
//!   of the owning swarm (node-signed `storage_cc`, see [`crate::peer`]); a forward that
//!   fails is kept in a persistent [`queue`] and retried with the [`backoff`] schedule
//!   while the peer still serves the account.
//! * [`handover`]: when the registry's swarms change, records are pushed in bulk to the
//!   nodes that should now hold them, and erased here once every new owner has them.

pub mod backoff;
pub mod handover;
pub mod queue;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use session_rt::{Clock, Shutdown};
use tokio::sync::Notify;

use crate::network::{NetworkView, SnodeInfo};
use crate::peer::{Command, PeerClient, PeerError, PeerReply};
use crate::types::UserPubkey;
pub use handover::{HandOver, HandOverStatus};
pub use queue::{ForwardQueue, MemoryForwardQueue, PendingForward, SqliteForwardQueue};

/// How long a forwarded write may take (the reference's 5 s).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Queued forwards delivered per retry round.
const RETRY_BATCH: usize = 256;

/// What became of one forward.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardOutcome {
    /// The peer answered with its result for the swarm reply (which may itself be a
    /// `failed` entry, e.g. a database error there).
    Answered(Value),
    /// The peer refused the request for good (a 4xx other than 421): not retried.
    Refused(Value),
    /// The peer could not take it now (unreachable, timeout, 421 while its view lags,
    /// 503, a 5xx without a result): retried later.
    Retry(Value),
}

/// Judges a peer's reply to a forwarded write.
pub fn classify(peer_hex: &str, reply: Result<PeerReply, PeerError>) -> ForwardOutcome {
    let reply = match reply {
        Ok(r) => r,
        Err(PeerError::Timeout) => {
            return ForwardOutcome::Retry(json!({"failed": true, "timeout": true}));
        }
        Err(e) => {
            return ForwardOutcome::Retry(json!({"failed": true, "reason": e.to_string()}));
        }
    };
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    if reply.status == 200 || reply.status == 500 {
        if let Some(entry) = body
            .as_ref()
            .and_then(|b| b.get("swarm"))
            .and_then(|s| s.get(peer_hex))
        {
            return ForwardOutcome::Answered(entry.clone());
        }
        if reply.status == 200 {
            return ForwardOutcome::Refused(json!({"failed": true, "bad_peer_response": true}));
        }
    }
    let entry = json!({"failed": true, "code": reply.status, "reason": reply.text()});
    if reply.status == 421 || reply.status >= 500 {
        ForwardOutcome::Retry(entry)
    } else {
        ForwardOutcome::Refused(entry)
    }
}

/// The `storage_cc` body: the client request `{"method", "params"}` with the params
/// object's JSON text as received (`method` is one of the fixed method names).
fn storage_cc_body(method: &str, params_json: &str) -> Bytes {
    Bytes::from(format!(r#"{{"method":"{method}","params":{params_json}}}"#))
}

/// Counters of the forwarder (for `get_stats`-style reporting and tests).
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Forwards answered by the peer at the first attempt.
    pub delivered: AtomicU64,
    /// Forwards that went to the retry queue.
    pub queued: AtomicU64,
    /// Queued forwards later delivered.
    pub redelivered: AtomicU64,
    /// Queued forwards dropped (refused, peer left the swarm, or too old).
    pub dropped: AtomicU64,
}

/// Forwards client writes to swarm peers and retries the ones that failed.
#[derive(Debug)]
pub struct Forwarder {
    client: Arc<PeerClient>,
    queue: Arc<dyn ForwardQueue>,
    network: Arc<dyn NetworkView>,
    clock: Arc<dyn Clock>,
    wake: Notify,
    stats: ForwardStats,
    /// One retry round at a time (the background worker and callers of `retry_due`).
    retrying: tokio::sync::Mutex<()>,
}

fn now_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now_ms()).unwrap_or(i64::MAX)
}

impl Forwarder {
    /// A forwarder sending through `client`, queueing failures in `queue`.
    pub fn new(
        client: Arc<PeerClient>,
        queue: Arc<dyn ForwardQueue>,
        network: Arc<dyn NetworkView>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            queue,
            network,
            clock,
            wake: Notify::new(),
            stats: ForwardStats::default(),
            retrying: tokio::sync::Mutex::new(()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ForwardStats {
        &self.stats
    }

    /// Forwards still waiting in the retry queue.
    pub fn pending(&self) -> usize {
        self.queue.len().unwrap_or(0)
    }

    /// Sends `method(params)` for `account` to every peer at once (each within
    /// [`FORWARD_TIMEOUT`]) and returns each peer's entry for the swarm reply, keyed by
    /// its Ed25519 hex. Failures that may pass are queued for retry.
    pub async fn forward(
        &self,
        method: &str,
        account: &UserPubkey,
        params: &Map<String, Value>,
        peers: &[SnodeInfo],
    ) -> Vec<(String, Value)> {
        let params_text = Value::Object(params.clone()).to_string();
        let body = storage_cc_body(method, &params_text);
        let sends = peers.iter().map(|peer| {
            let body = body.clone();
            async move {
                let reply = self
                    .client
                    .send(peer, Command::StorageCc, body, false, FORWARD_TIMEOUT)
                    .await;
                (peer, reply)
            }
        });
        let replies = join_all(sends).await;
        let now = now_ms(&*self.clock);
        let mut out = Vec::with_capacity(replies.len());
        for (peer, reply) in replies {
            let hex = hex::encode(peer.pubkey_ed25519);
            let entry = match classify(&hex, reply) {
                ForwardOutcome::Answered(e) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    e
                }
                ForwardOutcome::Refused(e) => {
                    tracing::debug!(peer = %&hex[..8], method, "forward refused: {e}");
                    e
                }
                ForwardOutcome::Retry(e) => {
                    match self
                        .queue
                        .push(peer.pubkey_ed25519, account, method, &params_text, now)
                    {
                        Ok(_) => {
                            self.stats.queued.fetch_add(1, Ordering::Relaxed);
                            self.wake.notify_one();
                            tracing::debug!(peer = %&hex[..8], method, "forward failed; queued for retry");
                        }
                        Err(err) => tracing::warn!("could not queue a failed forward: {err}"),
                    }
                    e
                }
            };
            out.push((hex, entry));
        }
        out
    }

    /// Whether `peer` still serves `account` (a member of the swarm owning it).
    fn still_member(&self, peer: &[u8; 32], account: &UserPubkey) -> Option<SnodeInfo> {
        self.network
            .swarm_for(account)?
            .members
            .into_iter()
            .find(|m| &m.pubkey_ed25519 == peer)
    }

    /// Delivers the queued forwards that are due now, oldest request first per peer (a
    /// peer that fails again is skipped for the rest of the round so its writes stay in
    /// order). Returns how many were delivered.
    pub async fn retry_due(&self) -> usize {
        let _round = self.retrying.lock().await;
        let now = now_ms(&*self.clock);
        let mut due = match self.queue.due(now, RETRY_BATCH) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("retry queue unreadable: {e}");
                return 0;
            }
        };
        due.sort_by_key(|f| f.id);
        let mut blocked: Vec<[u8; 32]> = Vec::new();
        let mut delivered = 0;
        for f in due {
            if blocked.contains(&f.peer) {
                continue;
            }
            let Some(peer) = self.still_member(&f.peer, &f.account) else {
                tracing::debug!(method = %f.method, "dropping a queued forward: the peer left the swarm");
                self.drop_entry(f.id);
                continue;
            };
            let body = storage_cc_body(&f.method, &f.params);
            let reply = self
                .client
                .send(&peer, Command::StorageCc, body, true, FORWARD_TIMEOUT)
                .await;
            let hex = hex::encode(f.peer);
            match classify(&hex, reply) {
                ForwardOutcome::Answered(_) => {
                    delivered += 1;
                    self.stats.redelivered.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = self.queue.remove(f.id) {
                        tracing::warn!("retry queue: {e}");
                    }
                }
                ForwardOutcome::Refused(e) => {
                    tracing::info!(peer = %&hex[..8], method = %f.method, "queued forward refused, dropped: {e}");
                    self.drop_entry(f.id);
                }
                ForwardOutcome::Retry(_) => {
                    blocked.push(f.peer);
                    match self.queue.failed_again(f.id, now) {
                        Ok(true) => {}
                        Ok(false) => {
                            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(peer = %&hex[..8], "queued forward given up after 30 days");
                        }
                        Err(e) => tracing::warn!("retry queue: {e}"),
                    }
                }
            }
        }
        delivered
    }

    fn drop_entry(&self, id: i64) {
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.queue.remove(id) {
            tracing::warn!("retry queue: {e}");
        }
    }

    /// Retries queued forwards as they fall due, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        loop {
            self.retry_due().await;
            let now = self.clock.now_ms();
            let next = match self.queue.next_due_ms() {
                Ok(Some(t)) => u64::try_from(t).unwrap_or(0).max(now),
                // Nothing queued: sleep until a failure wakes us (or a minute passes).
                _ => now.saturating_add(backoff::MAX_RETRY_MS),
            };
            tokio::select! {
                () = shutdown.wait() => return,
                () = self.wake.notified() => {}
                () = self.clock.sleep_until_ms(next.max(now.saturating_add(1))) => {}
            }
        }
    }
}

/// Runs futures concurrently on the current task and collects their outputs in order.
pub async fn join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
