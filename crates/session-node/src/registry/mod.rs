//! Following the registry (storage-node §6.4, network-governance §1.8, §3.1): a
//! background task on the injected clock polls `get_service_nodes` with
//! `poll_block_hash` (an unchanged chain answers `{"unchanged": true}`), installs each
//! new node list in the [`RegistryNetwork`] view, and — with `register = true` —
//! registers the node when the registry does not list it and sends uptime proofs every
//! `uptime_proof_interval_secs`.
//!
//! The transactions are `session-registry`'s own types and signing helpers
//! ([`Registration`], [`UptimeProof`]), so node and registry cannot disagree on bytes.
//!
//! Each new node list is handed to the [`HandOver`] (when the node has one), which
//! pushes records to the nodes that should now hold them.

pub mod client;
pub mod view;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_registry::proof::UptimeProof;
use session_registry::tx::{Contribution, Registration};
use session_registry::types::Address;
use session_rt::{Clock, Shutdown};
use session_swarm::{SwarmChanges, SwarmId};
use tokio::sync::{Mutex, watch};

use crate::config::RegistrySettings;
use crate::error::{NodeError, Result};
use crate::identity::NodeIdentity;
use crate::rpc::STORAGE_VERSION;
use crate::swarm::HandOver;
pub use client::RegistryClient;
pub use view::{NetworkSnapshot, RegistryNetwork};

/// The oxend version this node claims in uptime proofs (the HF21r2 minimum).
pub const SERVICE_NODE_VERSION: [u16; 3] = [11, 0, 6];

/// The fields the node asks `get_service_nodes` for (§1.8, plus `active` and
/// `last_uptime_proof`).
const POLL_FIELDS: [&str; 15] = [
    "service_node_pubkey",
    "pubkey_ed25519",
    "pubkey_x25519",
    "public_ip",
    "storage_port",
    "storage_lmq_port",
    "swarm_id",
    "active",
    "funded",
    "last_uptime_proof",
    "height",
    "block_hash",
    "hardfork",
    "snode_revision",
    "target_height",
];

/// What this node announces in its registration and uptime proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// Public IPv4 address.
    pub public_ip: Ipv4Addr,
    /// The storage HTTPS port (the bound listen port).
    pub https_port: u16,
    /// The OxenMQ/QUIC port (also announced as the quorumnet port: this node has one
    /// OMQ endpoint).
    pub omq_port: u16,
}

/// The follower's progress, published on a watch channel (tests and tools wait on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerStatus {
    /// Top block hash of the last successful poll.
    pub block_hash: Option<String>,
    /// Top block height of the last successful poll.
    pub height: u64,
    /// Whether the registry lists this node.
    pub listed: bool,
    /// This node's swarm.
    pub swarm: Option<SwarmId>,
    /// A registration was accepted into the registry's mempool (or was already there).
    pub registration_submitted: bool,
    /// Uptime proofs accepted by the registry's mempool.
    pub proofs_sent: u64,
    /// The last error, cleared by the next successful poll.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct StepState {
    /// Block hash at which a registration was last submitted.
    registered_at: Option<String>,
    /// Clock time (ms) of the last proof attempt.
    last_proof_attempt_ms: u64,
    /// Whether the last poll failed (to log a recovery once).
    failing: bool,
}

/// The registry follower of one node.
#[derive(Debug)]
pub struct RegistryFollower {
    client: RegistryClient,
    view: Arc<RegistryNetwork>,
    identity: Arc<NodeIdentity>,
    clock: Arc<dyn Clock>,
    settings: RegistrySettings,
    announce: Announce,
    proof_interval_ms: u64,
    step: Mutex<StepState>,
    status: watch::Sender<FollowerStatus>,
    handover: std::sync::OnceLock<Arc<HandOver>>,
}

/// The contributor address of a solo operator: the Ethereum-style address of the node
/// key (last 20 bytes of Keccak-256 of the Ed25519 public key).
pub fn operator_address(pubkey: &[u8; 32]) -> Address {
    let h = session_crypto::hash::keccak256(&[pubkey]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    Address(a)
}

impl RegistryFollower {
    /// A follower feeding `view`.
    pub fn new(
        settings: RegistrySettings,
        view: Arc<RegistryNetwork>,
        identity: Arc<NodeIdentity>,
        clock: Arc<dyn Clock>,
        announce: Announce,
        uptime_proof_interval_secs: u64,
    ) -> Self {
        let (status, _) = watch::channel(FollowerStatus::default());
        Self {
            client: RegistryClient::new(settings.url.clone()),
            view,
            identity,
            clock,
            settings,
            announce,
            proof_interval_ms: uptime_proof_interval_secs.saturating_mul(1000).max(1000),
            step: Mutex::new(StepState::default()),
            status,
            handover: std::sync::OnceLock::new(),
        }
    }

    /// Hands every new node list to `handover` (set once, before the follower runs).
    pub fn set_handover(&self, handover: Arc<HandOver>) {
        let _ = self.handover.set(handover);
    }

    /// The view this follower feeds.
    pub fn view(&self) -> &Arc<RegistryNetwork> {
        &self.view
    }

    /// A receiver of every status change.
    pub fn subscribe(&self) -> watch::Receiver<FollowerStatus> {
        self.status.subscribe()
    }

    /// The current status.
    pub fn status(&self) -> FollowerStatus {
        self.status.borrow().clone()
    }

    /// Polls now (once), then registers / sends a proof if due. The background task
    /// calls this every `poll_interval_ms`; tests may call it to catch up at once.
    pub async fn refresh(&self) -> Result<()> {
        let mut st = self.step.lock().await;
        match self.step_locked(&mut st).await {
            Ok(()) => {
                if st.failing {
                    tracing::info!(url = %self.client.url(), "registry reachable again");
                }
                st.failing = false;
                Ok(())
            }
            Err(e) => {
                if !st.failing {
                    tracing::warn!(url = %self.client.url(), "registry poll failed: {e}");
                } else {
                    tracing::debug!("registry poll failed: {e}");
                }
                st.failing = true;
                let msg = e.to_string();
                self.status
                    .send_if_modified(|s| s.last_error.replace(msg.clone()) != Some(msg));
                Err(e)
            }
        }
    }

    async fn step_locked(&self, st: &mut StepState) -> Result<()> {
        let snap = self.poll().await?;
        self.status.send_if_modified(|s| {
            let new = FollowerStatus {
                block_hash: Some(snap.block_hash.clone()),
                height: snap.height,
                listed: snap.listed,
                swarm: snap.my_swarm,
                last_error: None,
                ..s.clone()
            };
            let changed = *s != new;
            *s = new;
            changed
        });
        if !self.settings.register {
            return Ok(());
        }
        if !snap.listed {
            if st.registered_at.as_deref() != Some(snap.block_hash.as_str()) {
                self.register().await?;
                st.registered_at = Some(snap.block_hash.clone());
                self.status
                    .send_if_modified(|s| !std::mem::replace(&mut s.registration_submitted, true));
            }
            return Ok(());
        }
        let now = self.clock.now_ms();
        let last = snap
            .my_last_proof
            .saturating_mul(1000)
            .max(st.last_proof_attempt_ms);
        if last == 0 || now >= last.saturating_add(self.proof_interval_ms) {
            st.last_proof_attempt_ms = now;
            match self.send_proof(now).await {
                Ok(()) => {
                    self.status.send_modify(|s| s.proofs_sent += 1);
                }
                Err(NodeError::Registry {
                    kind: Some(kind), ..
                }) if kind == "proof_too_soon" => {
                    tracing::debug!("uptime proof too soon; retrying next interval");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One `get_service_nodes` poll; installs and returns the current snapshot.
    async fn poll(&self) -> Result<Arc<NetworkSnapshot>> {
        let old = self.view.snapshot();
        let mut params = json!({"fields": POLL_FIELDS, "active_only": false});
        if let Some(o) = &old {
            params["poll_block_hash"] = json!(o.block_hash);
        }
        let result = self.client.call("get_service_nodes", params).await?;
        if let Some(o) = old.as_ref()
            && result.get("unchanged").and_then(serde_json::Value::as_bool) == Some(true)
        {
            return Ok(o.clone());
        }
        let snap = Arc::new(NetworkSnapshot::from_reply(&result, self.view.me())?);
        self.log_changes(old.as_deref(), &snap);
        self.view.set(snap.clone());
        if let Some(h) = self.handover.get() {
            h.network_changed(snap.clone());
        }
        Ok(snap)
    }

    fn log_changes(&self, old: Option<&NetworkSnapshot>, new: &NetworkSnapshot) {
        let before = old.map(NetworkSnapshot::assignment).unwrap_or_default();
        let changes = SwarmChanges::between_assignments(&before, &new.assignment());
        if changes.is_empty() && old.is_some_and(|o| o.my_swarm == new.my_swarm) {
            tracing::trace!(height = new.height, "new block, swarms unchanged");
            return;
        }
        let me = self.view.me();
        let old_swarm = old.and_then(|o| o.my_swarm);
        if old_swarm != new.my_swarm {
            tracing::info!(
                height = new.height,
                from = ?old_swarm,
                to = ?new.my_swarm,
                swarms = new.swarms.len(),
                "this node's swarm changed"
            );
        }
        if let Some(mine) = new.my_swarm
            && let Some(joined) = changes.joined.get(&mine)
        {
            let others = joined.iter().filter(|k| *k != me).count();
            if others > 0 && old_swarm == Some(mine) {
                tracing::info!(count = others, "new members joined this node's swarm");
            }
        }
        if !changes.created.is_empty() || !changes.dissolved.is_empty() {
            tracing::info!(
                height = new.height,
                created = changes.created.len(),
                dissolved = changes.dissolved.len(),
                swarms = new.swarms.len(),
                "swarms changed"
            );
        }
    }

    async fn register(&self) -> Result<()> {
        let req = self
            .client
            .call("get_staking_requirement", json!({}))
            .await?;
        let stake = req
            .get("staking_requirement")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| NodeError::Registry {
                method: "get_staking_requirement".into(),
                kind: None,
                reason: "no staking_requirement in the reply".into(),
            })?;
        let key = self.identity.ed25519_keypair();
        let a = self.announce;
        let reg = Registration::new(
            key,
            a.public_ip,
            (a.https_port, a.omq_port, a.omq_port),
            0,
            vec![Contribution {
                address: operator_address(&self.identity.ed25519_public()),
                amount: stake,
            }],
        )
        .signed(key);
        let params = serde_json::to_value(&reg).map_err(|e| NodeError::Internal(e.to_string()))?;
        match self.client.call("register_service_node", params).await {
            Ok(_) => {
                tracing::info!(
                    pubkey = %self.identity.ed25519_hex(),
                    port = a.https_port,
                    "registration submitted"
                );
                Ok(())
            }
            Err(NodeError::Registry {
                kind: Some(kind), ..
            }) if kind == "duplicate_key" || kind == "already_pending" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn send_proof(&self, now_ms: u64) -> Result<()> {
        let a = self.announce;
        let proof = UptimeProof {
            pubkey_ed25519: self.identity.ed25519_public(),
            public_ip: a.public_ip,
            l2_height: None,
            lokinet_version: None,
            quorumnet_port: a.omq_port,
            storage_https_port: a.https_port,
            storage_omq_port: a.omq_port,
            storage_server_version: STORAGE_VERSION,
            timestamp: now_ms / 1000,
            version: SERVICE_NODE_VERSION,
        };
        let signed = proof.sign(self.identity.ed25519_keypair());
        let params =
            serde_json::to_value(&signed).map_err(|e| NodeError::Internal(e.to_string()))?;
        self.client.call("submit_uptime_proof", params).await?;
        tracing::debug!("uptime proof submitted");
        Ok(())
    }

    /// Polls at start-up and then every `poll_interval_ms` of clock time until
    /// `shutdown` fires. Failures are logged and retried on the next tick.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let interval = Duration::from_millis(self.settings.poll_interval_ms.max(1));
        loop {
            tokio::select! {
                () = shutdown.wait() => return,
                _ = self.refresh() => {}
            }
            tokio::select! {
                () = shutdown.wait() => return,
                () = self.clock.sleep(interval) => {}
            }
        }
    }
}
