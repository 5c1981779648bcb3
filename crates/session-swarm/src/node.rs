//! Node records: what the registry publishes about each service node and what nodes and
//! clients know of each other (network-governance §1.8, §2; storage-node §6.4).

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use session_crypto::Ed25519PublicKey;

use crate::error::{Result, SwarmError};
use crate::id::SwarmId;

/// A node's identity: its Ed25519 public key (`pubkey_ed25519`; since HF21 also the
/// primary `service_node_pubkey`, network-governance §1.1). Ordered by key bytes, the
/// order in which oxend iterates the node list.
pub type NodePubkey = Ed25519PublicKey;

/// A node's X25519 public key (`pubkey_x25519`: onion requests, OxenMQ).
/// Serialised as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct X25519PublicKey(pub [u8; 32]);

impl X25519PublicKey {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Display for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for X25519PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for X25519PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        hex32::deserialize(d).map(X25519PublicKey)
    }
}

/// Serde for an [`Ed25519PublicKey`] field as 64 hex characters
/// (`#[serde(with = "session_swarm::node::ed25519_hex")]`).
pub mod ed25519_hex {
    use super::*;

    /// Serialises as 64 lowercase hex characters.
    pub fn serialize<S: Serializer>(
        key: &Ed25519PublicKey,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(key.0))
    }

    /// Parses 64 hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Ed25519PublicKey, D::Error> {
        super::hex32::deserialize(d).map(Ed25519PublicKey)
    }
}

mod hex32 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(|e| {
            serde::de::Error::custom(format!(
                "expected a 32-byte key as 64 hex characters, got {:?}: {e}",
                text
            ))
        })?;
        Ok(out)
    }
}

/// A node's state in the registry (network-governance §1.6, §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Registered but not fully staked (`funded = false`): not in any swarm.
    AwaitingContributions,
    /// Funded and not decommissioned (`active = true`): an input of the swarm assignment.
    Active,
    /// Temporarily removed by the testing quorum: no swarm (`swarm_id = UNASSIGNED`),
    /// still tested; recommissioning re-enters it as unassigned (§8.6).
    Decommissioned,
}

/// What the network knows of one service node (the per-node fields of oxend's
/// `get_service_nodes` that nodes and clients use, network-governance §1.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// The identity key (`pubkey_ed25519` / `service_node_pubkey`).
    #[serde(with = "ed25519_hex")]
    pub pubkey_ed25519: NodePubkey,
    /// `pubkey_x25519`.
    pub pubkey_x25519: X25519PublicKey,
    /// `public_ip`.
    pub public_ip: Ipv4Addr,
    /// The storage server's HTTPS port (`storage_port`).
    pub https_port: u16,
    /// The storage server's OxenMQ / QUIC port (`storage_lmq_port`).
    pub omq_port: u16,
    /// `swarm_id`; [`SwarmId::UNASSIGNED`] when in no swarm.
    pub swarm_id: SwarmId,
    /// Registry state.
    pub state: NodeState,
}

impl NodeRecord {
    /// The node's swarm: `Some` only for an active node with an assigned swarm id.
    pub fn swarm(&self) -> Option<SwarmId> {
        match self.state {
            NodeState::Active => self.swarm_id.assigned(),
            _ => None,
        }
    }

    /// Checks the record's swarm id is consistent with its state: only an active node may
    /// have a swarm id other than [`SwarmId::UNASSIGNED`] (§8.6: decommission clears it).
    pub fn validate(&self) -> Result<()> {
        if self.state != NodeState::Active && !self.swarm_id.is_unassigned() {
            return Err(SwarmError::UnassignedSentinel {
                context: "to be missing on a node that is not active (its swarm id must be UNASSIGNED)",
            });
        }
        Ok(())
    }
}

/// The input of the swarm assignment from the node list (network-governance §2):
/// every active node → its swarm id (`UNASSIGNED` for nodes awaiting assignment), for
/// [`crate::assign_swarms`]. Errors: the same key twice, or an inconsistent record
/// ([`NodeRecord::validate`]).
pub fn assignment_input(records: &[NodeRecord]) -> Result<BTreeMap<NodePubkey, SwarmId>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    for r in records {
        r.validate()?;
        if !seen.insert(r.pubkey_ed25519) {
            return Err(SwarmError::DuplicateNode {
                node: format!("{:?}", r.pubkey_ed25519),
                context: "in the node list",
            });
        }
        if r.state == NodeState::Active {
            out.insert(r.pubkey_ed25519, r.swarm_id);
        }
    }
    Ok(out)
}

/// The swarms as nodes and clients see them (storage-node §6.4): active nodes with a
/// swarm id, grouped by swarm (ascending id), members in ascending key order. Nodes in no
/// swarm are left out.
pub fn group_by_swarm(records: &[NodeRecord]) -> BTreeMap<SwarmId, Vec<&NodeRecord>> {
    let mut sorted: Vec<&NodeRecord> = records.iter().collect();
    sorted.sort_by_key(|a| a.pubkey_ed25519);
    let mut out: BTreeMap<SwarmId, Vec<&NodeRecord>> = BTreeMap::new();
    for r in sorted {
        if let Some(id) = r.swarm() {
            out.entry(id).or_default().push(r);
        }
    }
    out
}
