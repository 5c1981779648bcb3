//! The validator's side of a testing round: fetch the quorum of the current block, test
//! each worker, keep the histories and probes, and submit votes (see the module docs of
//! [`crate::testing`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};
use session_registry::tx::{NewState, Vote};
use session_rt::http::HttpConnection;
use session_rt::{Clock, Shutdown};
use session_swarm::SwarmId;
use tokio::sync::{Mutex, watch};

use super::history::{PeerHistory, Rules, Verdict, WorkerState, verdict};
use super::{StorageTestRequest, storage_proof};
use crate::error::{NodeError, Result};
use crate::identity::NodeIdentity;
use crate::network::SnodeInfo;
use crate::peer::{Command, PeerClient};
use crate::registry::{FollowerStatus, NetworkSnapshot, RegistryClient, RegistryNetwork};
use crate::server::SNODE_PUBKEY_HEADER;
use crate::swarm::join_all;
use crate::types::{Namespace, UserPubkey, message_hash};

/// Timeout of each test request (the reference's 5 s).
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a probe record lives (its TTL); it is replaced at half-life.
pub const PROBE_TTL_MS: u64 = 3_600_000;

/// A record this validator planted in a swarm to test its members' storage.
#[derive(Debug, Clone)]
struct Probe {
    account: UserPubkey,
    hash: String,
    data: Vec<u8>,
    planted_ms: u64,
    /// Members whose store result acknowledged the record.
    holders: BTreeSet<[u8; 32]>,
}

#[derive(Debug, Default)]
struct TesterState {
    histories: HashMap<[u8; 32], PeerHistory>,
    probes: BTreeMap<SwarmId, Probe>,
    last_height: Option<u64>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// The quorum height.
    pub height: u64,
    /// Whether this node was a validator of it.
    pub validator: bool,
    /// Workers tested.
    pub tested: usize,
    /// Workers that failed this round's test.
    pub failed: usize,
    /// Votes accepted by the registry: worker key and state.
    pub votes: Vec<([u8; 32], NewState)>,
}

/// Tests the workers this node's quorums assign it and votes on them.
#[derive(Debug)]
pub struct Tester {
    identity: Arc<NodeIdentity>,
    peers: Arc<PeerClient>,
    registry: RegistryClient,
    view: Arc<RegistryNetwork>,
    clock: Arc<dyn Clock>,
    state: Mutex<TesterState>,
}

fn u64_field(v: &Value, name: &str) -> u64 {
    v.get(name).and_then(Value::as_u64).unwrap_or(0)
}

impl Tester {
    /// A tester for the node `identity`, asking the registry at `registry` and reaching
    /// peers through `peers`.
    pub fn new(
        identity: Arc<NodeIdentity>,
        peers: Arc<PeerClient>,
        registry: RegistryClient,
        view: Arc<RegistryNetwork>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            identity,
            peers,
            registry,
            view,
            clock,
            state: Mutex::new(TesterState::default()),
        }
    }

    /// This validator's history of `worker`.
    pub async fn history(&self, worker: &[u8; 32]) -> Option<PeerHistory> {
        self.state.lock().await.histories.get(worker).copied()
    }

    async fn rules(&self) -> Result<Rules> {
        let info = self.registry.call("get_info", json!({})).await?;
        let bad = || NodeError::Registry {
            method: "get_info".into(),
            kind: None,
            reason: "no uptime_proof_validity / reachability_failure_threshold".into(),
        };
        Ok(Rules {
            proof_validity_secs: info
                .get("uptime_proof_validity")
                .and_then(Value::as_u64)
                .ok_or_else(bad)?,
            failure_threshold_secs: info
                .get("reachability_failure_threshold")
                .and_then(Value::as_u64)
                .ok_or_else(bad)?,
            decommission_min_credit: info
                .get("decommission_min_credit_blocks")
                .and_then(Value::as_i64)
                .ok_or_else(bad)?,
        })
    }

    /// Runs the round of the current block (once per height): if this node validates
    /// the block's testing quorum, tests every worker, records the results and submits
    /// its votes.
    pub async fn run_round(&self) -> Result<RoundReport> {
        let Some(snap) = self.view.snapshot() else {
            return Ok(RoundReport::default());
        };
        let mut st = self.state.lock().await;
        let height = snap.height;
        let mut report = RoundReport {
            height,
            ..RoundReport::default()
        };
        if st.last_height == Some(height) {
            return Ok(report);
        }
        let q = self
            .registry
            .call("get_quorum_state", json!({"start_height": height}))
            .await?;
        st.last_height = Some(height);
        let Some(quorum) = q
            .get("quorums")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .map(|q| q["quorum"].clone())
        else {
            return Ok(report);
        };
        let list = |name: &str| -> Vec<String> {
            quorum[name]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let me = self.identity.ed25519_hex();
        if !list("validators").contains(&me) {
            return Ok(report);
        }
        report.validator = true;
        let workers: Vec<[u8; 32]> = list("workers")
            .iter()
            .filter_map(|h| {
                let mut k = [0u8; 32];
                hex::decode_to_slice(h, &mut k).ok().map(|()| k)
            })
            .collect();
        if workers.is_empty() {
            return Ok(report);
        }
        let rules = self.rules().await?;
        let states = self.worker_states(&workers).await?;

        // Probes first (sequentially, one per swarm), then every worker at once.
        let now = self.clock.now_ms();
        let swarms: BTreeSet<SwarmId> = workers
            .iter()
            .filter_map(|w| worker_swarm(&snap, w))
            .collect();
        for s in swarms {
            let fresh = st
                .probes
                .get(&s)
                .is_some_and(|p| now.saturating_sub(p.planted_ms) < PROBE_TTL_MS / 2);
            if !fresh {
                match self.plant_probe(&snap, s).await {
                    Ok(p) => {
                        st.probes.insert(s, p);
                    }
                    Err(e) => tracing::debug!(swarm = s.0, "could not plant a probe: {e}"),
                }
            }
        }
        let tests = workers.iter().map(|w| {
            let probe = worker_swarm(&snap, w)
                .and_then(|s| st.probes.get(&s))
                .filter(|p| p.holders.contains(w))
                .cloned();
            let info = snap.node_info(w);
            async move {
                let passed = match info {
                    Some(info) => self.test(&info, probe.as_ref()).await,
                    None => false,
                };
                (*w, passed)
            }
        });
        let results = join_all(tests).await;
        let now = self.clock.now_ms();
        let key = self.identity.ed25519_keypair();
        for (index, (worker, passed)) in results.into_iter().enumerate() {
            report.tested += 1;
            if !passed {
                report.failed += 1;
                tracing::debug!(worker = %&hex::encode(worker)[..8], height, "worker failed its test");
            }
            let h = st.histories.entry(worker).or_default();
            h.record(passed, now);
            let Some(w) = states.get(&worker) else {
                continue;
            };
            let Verdict::Vote(state, reason) = verdict(h, w, &rules, now) else {
                continue;
            };
            let Ok(index) = u32::try_from(index) else {
                continue;
            };
            let vote = Vote::signed(key, height, worker, index, state, reason);
            let params =
                serde_json::to_value(&vote).map_err(|e| NodeError::Internal(e.to_string()))?;
            match self.registry.call("submit_vote", params).await {
                Ok(_) => {
                    tracing::info!(worker = %&hex::encode(worker)[..8], height, change = ?state, "vote submitted");
                    report.votes.push((worker, state));
                }
                Err(e) => tracing::debug!("vote not accepted: {e}"),
            }
        }
        Ok(report)
    }

    async fn worker_states(&self, workers: &[[u8; 32]]) -> Result<HashMap<[u8; 32], WorkerState>> {
        let keys: Vec<String> = workers.iter().map(hex::encode).collect();
        let r = self
            .registry
            .call(
                "get_service_nodes",
                json!({
                    "service_node_pubkeys": keys,
                    "fields": ["pubkey_ed25519", "active", "last_uptime_proof", "earned_downtime_blocks"],
                }),
            )
            .await?;
        let mut out = HashMap::new();
        for e in r
            .get("service_node_states")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut k = [0u8; 32];
            let Some(text) = e.get("pubkey_ed25519").and_then(Value::as_str) else {
                continue;
            };
            if hex::decode_to_slice(text, &mut k).is_err() {
                continue;
            }
            out.insert(
                k,
                WorkerState {
                    active: e.get("active").and_then(Value::as_bool).unwrap_or(false),
                    last_uptime_proof: u64_field(e, "last_uptime_proof"),
                    credit: e
                        .get("earned_downtime_blocks")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                },
            );
        }
        Ok(out)
    }

    /// One test: ping test, signed `ping`, and the storage test when a probe is held.
    async fn test(&self, peer: &SnodeInfo, probe: Option<&Probe>) -> bool {
        if !self.ping_test(peer).await {
            return false;
        }
        match self
            .peers
            .send(peer, Command::Ping, Bytes::new(), false, TEST_TIMEOUT)
            .await
        {
            Ok(r) if r.status == 200 && &r.body[..] == b"pong" => {}
            _ => return false,
        }
        match probe {
            Some(p) => self.storage_test(peer, p).await,
            None => true,
        }
    }

    async fn ping_test(&self, peer: &SnodeInfo) -> bool {
        let Ok(addr) = PeerClient::addr_of(peer) else {
            return false;
        };
        let attempt = async {
            let mut conn = HttpConnection::connect(addr, self.peers.tls()).await.ok()?;
            let r = conn
                .request("POST", "/ping_test/v1", &[], Bytes::new())
                .await
                .ok()?;
            let key = r.header(SNODE_PUBKEY_HEADER)?;
            let key = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
            Some(r.status == 200 && key == peer.pubkey_legacy)
        };
        tokio::time::timeout(TEST_TIMEOUT, attempt)
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    async fn storage_test(&self, peer: &SnodeInfo, probe: &Probe) -> bool {
        let Ok(nonce) = session_crypto::random::random_array::<32>() else {
            return true;
        };
        let req = StorageTestRequest {
            pubkey: probe.account.to_hex(),
            hash: probe.hash.clone(),
            nonce: hex::encode(nonce),
        };
        let Ok(body) = serde_json::to_vec(&req) else {
            return true;
        };
        let expected = hex::encode(storage_proof(
            &nonce,
            &probe.account,
            &probe.hash,
            &probe.data,
        ));
        match self
            .peers
            .send(
                peer,
                Command::StorageTest,
                Bytes::from(body),
                false,
                TEST_TIMEOUT,
            )
            .await
        {
            Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("proof").and_then(Value::as_str).map(str::to_owned))
                .is_some_and(|p| p == expected),
            _ => false,
        }
    }

    /// Stores a fresh probe record in swarm `s` through one of its members (a normal
    /// client `store` to a public-inbox namespace, replicated by the swarm), and notes
    /// which members acknowledged it.
    async fn plant_probe(&self, snap: &NetworkSnapshot, s: SwarmId) -> Result<Probe> {
        let members = snap.swarms.get(&s).cloned().unwrap_or_default();
        let account = probe_account(snap, s)?;
        let mut data = b"session-node storage probe ".to_vec();
        data.extend_from_slice(
            &session_crypto::random::random_array::<16>()
                .map_err(|e| NodeError::Internal(e.to_string()))?,
        );
        let hash = message_hash(&account, Namespace(0), &data);
        let now = self.clock.now_ms();
        let params = json!({
            "pubkey": account.to_hex(),
            "namespace": 0,
            "timestamp": now,
            "ttl": PROBE_TTL_MS,
            "data": base64::engine::general_purpose::STANDARD.encode(&data),
        });
        let body = json!({"method": "store", "params": params}).to_string();
        let mut last = String::from("no reachable member");
        for m in &members {
            let Ok(addr) = PeerClient::addr_of(m) else {
                continue;
            };
            match self.client_post(addr, body.clone()).await {
                Ok(v) => {
                    let holders = v["swarm"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(_, e)| e["hash"] == hash.as_str())
                                .filter_map(|(k, _)| {
                                    let mut key = [0u8; 32];
                                    hex::decode_to_slice(k, &mut key).ok().map(|()| key)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    return Ok(Probe {
                        account,
                        hash,
                        data,
                        planted_ms: now,
                        holders,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(NodeError::Internal(format!("probe store failed: {last}")))
    }

    async fn client_post(
        &self,
        addr: SocketAddr,
        body: String,
    ) -> std::result::Result<Value, String> {
        let attempt = async {
            let mut conn = HttpConnection::connect(addr, self.peers.tls())
                .await
                .map_err(|e| e.to_string())?;
            let r = conn
                .post("/storage_rpc/v1", body)
                .await
                .map_err(|e| e.to_string())?;
            if r.status != 200 {
                return Err(format!("HTTP {}: {}", r.status, r.text()));
            }
            serde_json::from_slice(&r.body).map_err(|e| e.to_string())
        };
        tokio::time::timeout(crate::swarm::FORWARD_TIMEOUT * 2, attempt)
            .await
            .unwrap_or_else(|_| Err("timed out".into()))
    }

    /// Runs a round whenever the follower reports a new height, until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        mut status: watch::Receiver<FollowerStatus>,
        shutdown: Shutdown,
    ) {
        let mut last = None;
        loop {
            let height = status.borrow_and_update().height;
            if last != Some(height) && height > 0 {
                last = Some(height);
                tokio::select! {
                    () = shutdown.wait() => return,
                    r = self.run_round() => if let Err(e) = r {
                        tracing::debug!("testing round failed: {e}");
                    }
                }
            }
            tokio::select! {
                () = shutdown.wait() => return,
                r = status.changed() => if r.is_err() { return },
            }
        }
    }
}

/// The swarm of `worker` in `snap`, if it is an active member of one.
fn worker_swarm(snap: &NetworkSnapshot, worker: &[u8; 32]) -> Option<SwarmId> {
    snap.nodes
        .iter()
        .find(|n| &n.pubkey_ed25519.0 == worker)
        .and_then(session_swarm::NodeRecord::swarm)
}

/// A random `05` account whose key maps to swarm `s` (about as many draws as there are
/// swarms).
fn probe_account(snap: &NetworkSnapshot, s: SwarmId) -> Result<UserPubkey> {
    for _ in 0..10_000 {
        let key = session_crypto::random::random_array::<32>()
            .map_err(|e| NodeError::Internal(e.to_string()))?;
        if snap.swarm_of_key(&key) == Some(s) {
            return Ok(UserPubkey::new(0x05, key));
        }
    }
    Err(NodeError::Internal(format!(
        "no probe key maps to swarm {:x}",
        s.0
    )))
}
