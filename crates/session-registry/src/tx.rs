//! Transactions: what blocks contain, their JSON form (which is also the bytes stored and
//! hashed), the exact messages each one is signed over, and signing helpers for clients
//! (nodes, the testkit, tools).
//!
//! | transaction | signed by | message |
//! |---|---|---|
//! | [`Registration`] | the node's Ed25519 key | [`Registration::signing_message`] |
//! | [`UnlockRequest`] | the node's Ed25519 key | `"session-registry:unlock:" ‖ pubkey ‖ registration_height (u64 LE)` |
//! | uptime proof ([`SignedProof`]) | the node's Ed25519 key | `keccak256(proof bytes)` (oxend) |
//! | [`StateChange`] | ≥ `votes_needed` validators of the testing quorum | [`vote_hash`] (oxend's layout, Ed25519 instead of CryptoNote signatures) |
//! | [`OnsBuy`] / [`OnsUpdate`] | the (current) owner or backup owner | [`ons_update_hash`] (oxend's layout) |
//! | [`OnsRenew`] | the owner or backup owner | [`ons_renew_hash`] |

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use session_bt::Value;
use session_crypto::Ed25519Keypair;
use session_crypto::hash::blake2b;

use crate::config::ChainParams;
use crate::proof::SignedProof;
use crate::types::{Address, HexBytes, Key32, Sig64};
use session_crypto::hash::keccak256;

/// A transaction. JSON: `{"type": "<name>", "body": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum Tx {
    /// The chain's parameters; only in the genesis block.
    Genesis(Genesis),
    /// A new service node.
    Register(Registration),
    /// A node asks to leave (its stake unlocks after `unlock_blocks`).
    Unlock(UnlockRequest),
    /// An uptime proof.
    UptimeProof(SignedProof),
    /// A testing-quorum decision (decommission, recommission, deregister, IP penalty).
    StateChange(StateChange),
    /// Registers a name.
    OnsBuy(OnsBuy),
    /// Changes a name's value or owners.
    OnsUpdate(OnsUpdate),
    /// Extends a name's expiry.
    OnsRenew(OnsRenew),
}

impl Tx {
    /// A short name for logs and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Tx::Genesis(_) => "genesis",
            Tx::Register(_) => "register",
            Tx::Unlock(_) => "unlock",
            Tx::UptimeProof(_) => "uptime_proof",
            Tx::StateChange(_) => "state_change",
            Tx::OnsBuy(_) => "ons_buy",
            Tx::OnsUpdate(_) => "ons_update",
            Tx::OnsRenew(_) => "ons_renew",
        }
    }

    /// The canonical bytes (compact JSON) that are stored and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these plain structs cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The transaction id: BLAKE2b-256 of [`Tx::to_bytes`].
    pub fn txid(&self) -> [u8; 32] {
        txid_of(&self.to_bytes())
    }
}

/// BLAKE2b-256 of a transaction's stored bytes.
pub fn txid_of(bytes: &[u8]) -> [u8; 32] {
    blake2b::<32>(&[bytes])
}

/// The genesis transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The consensus parameters.
    pub params: ChainParams,
}

/// One contributor's stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    /// The contributor's address (rewards and returned stake are credited to it).
    pub address: Address,
    /// Stake in atomic units.
    pub amount: u64,
}

/// A service-node registration. The first contributor is the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The node's Ed25519 key (its primary key).
    pub pubkey_ed25519: Key32,
    /// The node's X25519 key (must be the X25519 form of the Ed25519 key).
    pub pubkey_x25519: Key32,
    /// Public IPv4 address.
    pub public_ip: Ipv4Addr,
    /// Storage server HTTPS port.
    pub storage_port: u16,
    /// Storage server OMQ/QUIC port.
    pub storage_lmq_port: u16,
    /// Quorumnet port.
    pub quorumnet_port: u16,
    /// Operator fee in basis points (0–10000).
    pub operator_fee: u32,
    /// Stakes; `[0]` is the operator.
    pub contributors: Vec<Contribution>,
    /// Ed25519 signature by `pubkey_ed25519` over [`Registration::signing_message`].
    #[serde(default)]
    pub signature: Option<Sig64>,
}

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Registration {
    /// `"session-registry:register:"` followed by the canonical bencoded dict
    /// `{c: [[address (20 bytes), amount], …], f: fee, ip: "a.b.c.d", pke: 32 bytes,
    /// pkx: 32 bytes, q, shp, sop}` of everything but the signature.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut d = BTreeMap::new();
        let c = self
            .contributors
            .iter()
            .map(|c| Value::List(vec![Value::bytes(c.address.0.to_vec()), int(c.amount)]))
            .collect();
        d.insert(b"c".to_vec(), Value::List(c));
        d.insert(b"f".to_vec(), int(u64::from(self.operator_fee)));
        d.insert(b"ip".to_vec(), Value::bytes(self.public_ip.to_string()));
        d.insert(
            b"pke".to_vec(),
            Value::bytes(self.pubkey_ed25519.0.to_vec()),
        );
        d.insert(b"pkx".to_vec(), Value::bytes(self.pubkey_x25519.0.to_vec()));
        d.insert(b"q".to_vec(), int(u64::from(self.quorumnet_port)));
        d.insert(b"shp".to_vec(), int(u64::from(self.storage_port)));
        d.insert(b"sop".to_vec(), int(u64::from(self.storage_lmq_port)));
        let mut out = b"session-registry:register:".to_vec();
        Value::Dict(d).encode_into(&mut out);
        out
    }

    /// An unsigned registration for `key` (X25519 key derived from it).
    pub fn new(
        key: &Ed25519Keypair,
        public_ip: Ipv4Addr,
        ports: (u16, u16, u16),
        operator_fee: u32,
        contributors: Vec<Contribution>,
    ) -> Self {
        Self {
            pubkey_ed25519: Key32(key.public().0),
            pubkey_x25519: Key32(*key.to_x25519().public()),
            public_ip,
            storage_port: ports.0,
            storage_lmq_port: ports.1,
            quorumnet_port: ports.2,
            operator_fee,
            contributors,
            signature: None,
        }
    }

    /// Signs the registration with the node's key.
    pub fn signed(mut self, key: &Ed25519Keypair) -> Self {
        self.signature = Some(Sig64(key.sign(&self.signing_message())));
        self
    }
}

/// A request to leave: the node's stake unlocks `unlock_blocks` after it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The node.
    pub pubkey_ed25519: Key32,
    /// Ed25519 signature by the node over [`UnlockRequest::signing_message`].
    #[serde(default)]
    pub signature: Option<Sig64>,
}

impl UnlockRequest {
    /// `"session-registry:unlock:" ‖ pubkey ‖ registration_height (u64 LE)`; binding the
    /// registration height makes the request useless for a later registration of the key.
    pub fn signing_message(pubkey: &[u8; 32], registration_height: u64) -> Vec<u8> {
        let mut m = b"session-registry:unlock:".to_vec();
        m.extend_from_slice(pubkey);
        m.extend_from_slice(&registration_height.to_le_bytes());
        m
    }

    /// A signed request for the node registered at `registration_height`.
    pub fn signed(key: &Ed25519Keypair, registration_height: u64) -> Self {
        let pk = key.public().0;
        Self {
            pubkey_ed25519: Key32(pk),
            signature: Some(Sig64(
                key.sign(&Self::signing_message(&pk, registration_height)),
            )),
        }
    }
}

/// The state a testing quorum moves a node to (oxend `new_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewState {
    /// Remove the node (0).
    Deregister,
    /// Suspend the node: out of swarms and rewards (1).
    Decommission,
    /// Reinstate a decommissioned node (2).
    Recommission,
    /// Move the node to the back of the reward queue (3).
    IpChangePenalty,
}

impl NewState {
    /// oxend's numeric code.
    pub fn code(self) -> u16 {
        match self {
            NewState::Deregister => 0,
            NewState::Decommission => 1,
            NewState::Recommission => 2,
            NewState::IpChangePenalty => 3,
        }
    }

    /// The verb, for messages.
    pub fn verb(self) -> &'static str {
        match self {
            NewState::Deregister => "deregister",
            NewState::Decommission => "decommission",
            NewState::Recommission => "recommission",
            NewState::IpChangePenalty => "penalise",
        }
    }
}

/// The hash a validator signs for a vote: `keccak256(height u64 LE ‖ worker_index u32 LE
/// ‖ new_state u16 LE)`, the state omitted for deregistration (network-governance §3.3).
pub fn vote_hash(quorum_height: u64, worker_index: u32, state: NewState) -> [u8; 32] {
    let h = quorum_height.to_le_bytes();
    let w = worker_index.to_le_bytes();
    let s = state.code().to_le_bytes();
    if state == NewState::Deregister {
        keccak256(&[&h, &w])
    } else {
        keccak256(&[&h, &w, &s])
    }
}

/// One validator's vote, as submitted to `submit_vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// Height of the testing quorum.
    pub quorum_height: u64,
    /// The tested node.
    pub worker: Key32,
    /// The proposed state.
    pub state: NewState,
    /// The voting validator.
    pub voter: Key32,
    /// Failure reasons (oxend bit values: 0x01 uptime, 0x08 storage, …); not signed.
    #[serde(default)]
    pub reason: u16,
    /// Ed25519 signature by `voter` over [`vote_hash`].
    #[serde(default)]
    pub signature: Option<Sig64>,
}

impl Vote {
    /// A signed vote; `worker_index` is the worker's position in the quorum's `workers`.
    pub fn signed(
        voter: &Ed25519Keypair,
        quorum_height: u64,
        worker: [u8; 32],
        worker_index: u32,
        state: NewState,
        reason: u16,
    ) -> Self {
        Self {
            quorum_height,
            worker: Key32(worker),
            state,
            voter: Key32(voter.public().0),
            reason,
            signature: Some(Sig64(voter.sign(&vote_hash(
                quorum_height,
                worker_index,
                state,
            )))),
        }
    }
}

/// A validator's signature inside a [`StateChange`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteSignature {
    /// Position of the validator in the quorum.
    pub voter_index: u32,
    /// Its failure-reason bits.
    pub reason: u16,
    /// Its signature over [`vote_hash`].
    pub signature: Sig64,
}

/// A state change backed by enough quorum votes (oxend `tx_extra_service_node_state_change`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// Height of the testing quorum.
    pub quorum_height: u64,
    /// Position of the tested node in the quorum's workers.
    pub worker_index: u32,
    /// The new state.
    pub state: NewState,
    /// The votes, by ascending `voter_index`.
    pub votes: Vec<VoteSignature>,
}

/// The hash an ONS owner signs for a registration or update (oxend's layout):
/// `BLAKE2b-256(value ‖ [0x01 ‖ owner] ‖ [0x01 ‖ backup_owner] ‖ prev_txid)`, each part
/// present only when set (`0x01` is the Ed25519 owner type). A registration has all-zero
/// `prev_txid`.
pub fn ons_update_hash(
    value: Option<&[u8]>,
    owner: Option<&[u8; 32]>,
    backup_owner: Option<&[u8; 32]>,
    prev_txid: &[u8; 32],
) -> [u8; 32] {
    let mut buf = Vec::with_capacity(160);
    if let Some(v) = value {
        buf.extend_from_slice(v);
    }
    for k in [owner, backup_owner].into_iter().flatten() {
        buf.push(1);
        buf.extend_from_slice(k);
    }
    buf.extend_from_slice(prev_txid);
    blake2b::<32>(&[&buf])
}

/// The hash an ONS owner signs to renew: `BLAKE2b-256("renew" ‖ type u16 LE ‖ name_hash
/// ‖ prev_txid)`.
pub fn ons_renew_hash(ons_type: u16, name_hash: &[u8; 32], prev_txid: &[u8; 32]) -> [u8; 32] {
    blake2b::<32>(&[b"renew", &ons_type.to_le_bytes(), name_hash, prev_txid])
}

/// Registers a name (the name itself is not stored: only its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnsBuy {
    /// Record type (0 Session, 1 wallet, 2 Lokinet).
    pub ons_type: u16,
    /// `BLAKE2b-256(lower(name))`.
    pub name_hash: Key32,
    /// `ciphertext ‖ tag ‖ nonce`, exactly as `session_crypto::ons::encrypt_value` makes it.
    pub encrypted_value: HexBytes,
    /// Ed25519 key allowed to update and renew.
    pub owner: Key32,
    /// Optional second key allowed to update and renew.
    #[serde(default)]
    pub backup_owner: Option<Key32>,
    /// Owner's signature over [`ons_update_hash`] with a zero `prev_txid`.
    #[serde(default)]
    pub signature: Option<Sig64>,
}

impl OnsBuy {
    /// A signed registration of `name_hash` → `encrypted_value`, owned by `owner`.
    pub fn signed(
        owner: &Ed25519Keypair,
        ons_type: u16,
        name_hash: [u8; 32],
        encrypted_value: Vec<u8>,
        backup_owner: Option<[u8; 32]>,
    ) -> Self {
        let o = owner.public().0;
        let h = ons_update_hash(
            Some(&encrypted_value),
            Some(&o),
            backup_owner.as_ref(),
            &[0; 32],
        );
        Self {
            ons_type,
            name_hash: Key32(name_hash),
            encrypted_value: HexBytes(encrypted_value),
            owner: Key32(o),
            backup_owner: backup_owner.map(Key32),
            signature: Some(Sig64(owner.sign(&h))),
        }
    }
}

/// Changes a record: any of value, owner, backup owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnsUpdate {
    /// Record type.
    pub ons_type: u16,
    /// The name's hash.
    pub name_hash: Key32,
    /// New value (stored form), if changing.
    #[serde(default)]
    pub encrypted_value: Option<HexBytes>,
    /// New owner, if changing.
    #[serde(default)]
    pub owner: Option<Key32>,
    /// New backup owner, if changing.
    #[serde(default)]
    pub backup_owner: Option<Key32>,
    /// Signature by the current owner or backup owner over [`ons_update_hash`] with the
    /// record's current txid as `prev_txid`.
    #[serde(default)]
    pub signature: Option<Sig64>,
}

/// Extends a record's expiry by one lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnsRenew {
    /// Record type.
    pub ons_type: u16,
    /// The name's hash.
    pub name_hash: Key32,
    /// Signature by the owner or backup owner over [`ons_renew_hash`].
    #[serde(default)]
    pub signature: Option<Sig64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_is_stable_and_round_trips() {
        let tx = Tx::Unlock(UnlockRequest {
            pubkey_ed25519: Key32([1; 32]),
            signature: None,
        });
        let bytes = tx.to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            format!(
                "{{\"type\":\"unlock\",\"body\":{{\"pubkey_ed25519\":\"{}\",\"signature\":null}}}}",
                "01".repeat(32)
            )
        );
        let back: Tx = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, tx);
        assert_eq!(back.txid(), tx.txid());
    }

    #[test]
    fn vote_hash_layout() {
        let d = vote_hash(5, 2, NewState::Deregister);
        let mut m = 5u64.to_le_bytes().to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(d, keccak256(&[&m]));
        m.extend_from_slice(&1u16.to_le_bytes());
        assert_eq!(vote_hash(5, 2, NewState::Decommission), keccak256(&[&m]));
    }
}
