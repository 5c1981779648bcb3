//! The network view fed by the registry: the last node list, grouped into swarms
//! (storage-node §6.4, network-governance §1.8), answering the storage service's
//! questions with `session-swarm`'s pubkey → swarm mapping.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use session_crypto::Ed25519PublicKey;
use session_swarm::node::group_by_swarm;
use session_swarm::{NodeRecord, NodeState, SwarmId, SwarmIds, X25519PublicKey};

use crate::error::{NodeError, Result};
use crate::network::{NetworkView, SnodeInfo, Swarm, SwarmLookup};
use crate::types::UserPubkey;

/// One `get_service_nodes` answer, digested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSnapshot {
    /// Top block height.
    pub height: u64,
    /// Top block hash (hex), the next poll's `poll_block_hash`.
    pub block_hash: String,
    /// `(hardfork, snode_revision)`.
    pub hardfork: (u8, u8),
    /// Every listed node (funded, with keys), in the registry's order.
    pub nodes: Vec<NodeRecord>,
    /// Active swarms and their members (ascending key).
    pub swarms: BTreeMap<SwarmId, Vec<SnodeInfo>>,
    /// The swarm ids, for the mapping (`None` when no swarm exists).
    pub ids: Option<SwarmIds>,
    /// This node's swarm, if it is an active member of one.
    pub my_swarm: Option<SwarmId>,
    /// Whether the registry lists this node at all.
    pub listed: bool,
    /// This node's `last_uptime_proof` (unix seconds; 0 = none yet).
    pub my_last_proof: u64,
}

fn snode_info(r: &NodeRecord) -> SnodeInfo {
    SnodeInfo {
        pubkey_ed25519: r.pubkey_ed25519.0,
        pubkey_x25519: r.pubkey_x25519.0,
        pubkey_legacy: r.pubkey_ed25519.0,
        ip: r.public_ip,
        https_port: r.https_port,
        omq_port: r.omq_port,
    }
}

fn key_field(entry: &Value, names: &[&str]) -> Option<[u8; 32]> {
    names.iter().find_map(|n| {
        let text = entry.get(*n)?.as_str()?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(out)
    })
}

fn port_field(entry: &Value, name: &str) -> u16 {
    entry
        .get(name)
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0)
}

/// Parses one node entry the way the storage server does (§1.8): unfunded nodes and
/// entries without Ed25519/X25519 keys are skipped (`None`); a missing or unparsable IP
/// reads as `0.0.0.0`, a missing swarm id as unassigned.
fn parse_entry(entry: &Value) -> Option<NodeRecord> {
    if entry.get("funded").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let ed = key_field(entry, &["pubkey_ed25519", "service_node_pubkey"])?;
    let x = key_field(entry, &["pubkey_x25519"])?;
    let ip = entry
        .get("public_ip")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let swarm_id = SwarmId(
        entry
            .get("swarm_id")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
    );
    let active = entry.get("active").and_then(Value::as_bool).unwrap_or(true);
    let state = if active {
        NodeState::Active
    } else {
        NodeState::Decommissioned
    };
    Some(NodeRecord {
        pubkey_ed25519: Ed25519PublicKey(ed),
        pubkey_x25519: X25519PublicKey(x),
        public_ip: ip,
        https_port: port_field(entry, "storage_port"),
        omq_port: port_field(entry, "storage_lmq_port"),
        // Only an active node can be in a swarm (the registry never says otherwise;
        // a reply that did is read safely).
        swarm_id: if active {
            swarm_id
        } else {
            SwarmId::UNASSIGNED
        },
        state,
    })
}

impl NetworkSnapshot {
    /// Digests a full (not `unchanged`) `get_service_nodes` result for node `me`.
    pub fn from_reply(result: &Value, me: &[u8; 32]) -> Result<Self> {
        let bad = |reason: &str| NodeError::Registry {
            method: "get_service_nodes".into(),
            kind: None,
            reason: reason.to_owned(),
        };
        let height = result
            .get("height")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no height"))?;
        let block_hash = result
            .get("block_hash")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no block_hash"))?
            .to_owned();
        let small = |name: &str| {
            result
                .get(name)
                .and_then(Value::as_u64)
                .and_then(|v| u8::try_from(v).ok())
                .unwrap_or(0)
        };
        let hardfork = (small("hardfork"), small("snode_revision"));
        let entries = result
            .get("service_node_states")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no service_node_states"))?;
        let mut nodes: Vec<NodeRecord> = Vec::with_capacity(entries.len());
        let mut my_last_proof = 0;
        let mut seen = std::collections::BTreeSet::new();
        for e in entries {
            match parse_entry(e) {
                Some(r) => {
                    if &r.pubkey_ed25519.0 == me {
                        my_last_proof = e
                            .get("last_uptime_proof")
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                    }
                    if seen.insert(r.pubkey_ed25519) {
                        nodes.push(r);
                    }
                }
                None => tracing::debug!("skipping an unusable node entry"),
            }
        }
        let grouped = group_by_swarm(&nodes);
        let swarms: BTreeMap<SwarmId, Vec<SnodeInfo>> = grouped
            .iter()
            .map(|(id, members)| (*id, members.iter().map(|r| snode_info(r)).collect()))
            .collect();
        let ids = SwarmIds::new(swarms.keys().copied()).ok();
        let mine = nodes.iter().find(|n| &n.pubkey_ed25519.0 == me);
        Ok(Self {
            height,
            block_hash,
            hardfork,
            my_swarm: mine.and_then(NodeRecord::swarm),
            listed: mine.is_some(),
            my_last_proof,
            nodes,
            swarms,
            ids,
        })
    }

    /// The swarm `key` maps to (§6.2), `None` when there are no swarms.
    pub fn swarm_of_key(&self, key: &[u8; 32]) -> Option<SwarmId> {
        self.ids.as_ref().map(|ids| ids.for_key(key))
    }

    /// The contact of any listed node (active or not).
    pub fn node_info(&self, key: &[u8; 32]) -> Option<SnodeInfo> {
        self.nodes
            .iter()
            .find(|n| &n.pubkey_ed25519.0 == key)
            .map(snode_info)
    }

    /// Node → swarm id of the active nodes (input of `SwarmChanges`).
    pub fn assignment(&self) -> BTreeMap<[u8; 32], SwarmId> {
        self.nodes
            .iter()
            .filter_map(|n| n.swarm().map(|s| (n.pubkey_ed25519.0, s)))
            .collect()
    }
}

/// The [`NetworkView`] of a node following a registry: empty (not ready) until the
/// first successful poll, then the latest [`NetworkSnapshot`].
#[derive(Debug)]
pub struct RegistryNetwork {
    me: [u8; 32],
    snapshot: RwLock<Option<Arc<NetworkSnapshot>>>,
}

impl RegistryNetwork {
    /// An empty view for the node with Ed25519 key `me`.
    pub fn new(me: [u8; 32]) -> Self {
        Self {
            me,
            snapshot: RwLock::new(None),
        }
    }

    /// This node's key.
    pub fn me(&self) -> &[u8; 32] {
        &self.me
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Option<Arc<NetworkSnapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Installs a new snapshot.
    pub fn set(&self, snap: Arc<NetworkSnapshot>) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snap);
    }
}

impl NetworkView for RegistryNetwork {
    fn lookup(&self, pubkey: &UserPubkey) -> SwarmLookup {
        let Some(snap) = self.snapshot() else {
            return SwarmLookup::Unknown;
        };
        let Some(target) = snap.swarm_of_key(pubkey.key()) else {
            return SwarmLookup::Unknown;
        };
        let members = snap.swarms.get(&target).cloned().unwrap_or_default();
        if snap.my_swarm == Some(target) {
            SwarmLookup::Ours {
                peers: members
                    .into_iter()
                    .filter(|m| m.pubkey_ed25519 != self.me)
                    .collect(),
            }
        } else {
            SwarmLookup::Elsewhere(Swarm {
                id: target.0,
                members,
            })
        }
    }

    fn swarm_for(&self, pubkey: &UserPubkey) -> Option<Swarm> {
        let snap = self.snapshot()?;
        let target = snap.swarm_of_key(pubkey.key())?;
        Some(Swarm {
            id: target.0,
            members: snap.swarms.get(&target).cloned().unwrap_or_default(),
        })
    }

    fn hardfork(&self) -> (u8, u8) {
        self.snapshot().map_or((0, 0), |s| s.hardfork)
    }

    fn height(&self) -> u64 {
        self.snapshot().map_or(0, |s| s.height)
    }

    fn active_node(&self, pubkey: &[u8; 32]) -> Option<SnodeInfo> {
        let snap = self.snapshot()?;
        snap.nodes
            .iter()
            .find(|n| &n.pubkey_ed25519.0 == pubkey && n.state == NodeState::Active)
            .map(snode_info)
    }

    fn funded_node(&self, pubkey: &[u8; 32]) -> Option<SnodeInfo> {
        self.snapshot()?.node_info(pubkey)
    }

    fn readiness(&self) -> std::result::Result<(), String> {
        match self.snapshot() {
            None => Err("not yet synced with the registry".into()),
            Some(s) if s.my_swarm.is_none() => Err("not an active member of any swarm".into()),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(i: u8, swarm: u64, active: bool) -> Value {
        let ed = [i; 32];
        json!({
            "service_node_pubkey": hex::encode(ed),
            "pubkey_ed25519": hex::encode(ed),
            "pubkey_x25519": hex::encode([i ^ 0xff; 32]),
            "public_ip": format!("10.0.0.{i}"),
            "storage_port": 1000 + u16::from(i),
            "storage_lmq_port": 2000 + u16::from(i),
            "swarm_id": swarm,
            "active": active,
            "funded": true,
            "last_uptime_proof": 77,
        })
    }

    fn reply(entries: Vec<Value>) -> Value {
        json!({"height": 5, "block_hash": "ab", "hardfork": 21, "snode_revision": 0,
               "service_node_states": entries})
    }

    #[test]
    fn snapshot_groups_and_maps() {
        let mut es: Vec<Value> = (1..=3).map(|i| entry(i, 0, true)).collect();
        es.extend((4..=6).map(|i| entry(i, u64::MAX / 2, true)));
        es.push(entry(7, u64::MAX, false));
        es.push(json!({"service_node_pubkey": "zz", "funded": true}));
        let me = [4u8; 32];
        let s = NetworkSnapshot::from_reply(&reply(es), &me).unwrap();
        assert_eq!(s.nodes.len(), 7);
        assert_eq!(s.swarms.len(), 2);
        assert_eq!(s.my_swarm, Some(SwarmId(u64::MAX / 2)));
        assert_eq!(s.my_last_proof, 77);
        assert_eq!(s.hardfork, (21, 0));

        let view = RegistryNetwork::new(me);
        assert!(view.readiness().is_err());
        view.set(Arc::new(s));
        assert!(view.readiness().is_ok());
        // Key whose space is 0 maps to swarm 0 (not ours): 421 with its members.
        let pk = UserPubkey::new(5, [0; 32]);
        match view.lookup(&pk) {
            SwarmLookup::Elsewhere(sw) => {
                assert_eq!(sw.id, 0);
                assert_eq!(sw.members.len(), 3);
                assert_eq!(sw.members[0].https_port, 1001);
            }
            other => panic!("{other:?}"),
        }
        let mut k = [0u8; 32];
        k[0..8].copy_from_slice(&(u64::MAX / 2).to_be_bytes());
        match view.lookup(&UserPubkey::new(5, k)) {
            SwarmLookup::Ours { peers } => assert_eq!(peers.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(view.swarm_for(&pk).unwrap().id, 0);
    }

    #[test]
    fn unlisted_node_is_not_ready_and_no_swarms_is_unknown() {
        let me = [9u8; 32];
        let s = NetworkSnapshot::from_reply(&reply(vec![entry(1, u64::MAX, true)]), &me).unwrap();
        assert!(!s.listed);
        let view = RegistryNetwork::new(me);
        view.set(Arc::new(s));
        assert!(view.readiness().is_err());
        assert_eq!(
            view.lookup(&UserPubkey::new(5, [1; 32])),
            SwarmLookup::Unknown
        );
        assert!(NetworkSnapshot::from_reply(&json!({}), &me).is_err());
    }
}
