//! The ledger's state and its transition function. Everything here is pure and
//! deterministic: the state after a block depends only on the state before it and the
//! block's height, timestamp, hash and transactions — which is what makes the chain
//! replayable from genesis.
//!
//! Each transaction is applied by [`State::apply_tx`], which **validates completely before
//! it changes anything**: a rejected transaction leaves the state untouched. After the
//! transactions, [`State::end_block`] expires unlocked nodes, pays the block reward,
//! re-runs the swarm assignment when the active set changed (seeded by the block hash)
//! and records the block's testing quorum.
//!
//! Rules (network-governance §1.2, §1.6, §3.1–§3.3, §4):
//! * registration: Ed25519 + X25519 key pair (the X25519 key must be the Ed25519 key's
//!   X25519 form), 1 to `max_contributors` distinct contributors whose stakes sum to
//!   exactly the staking requirement; the operator (first contributor) stakes ≥ 25%;
//!   contributor *i* ≥ 1 stakes at least ⌈remaining / (max_contributors − i)⌉; fee ≤ 10000
//!   basis points. The node is active at once, with `initial_credit_blocks` of credit and
//!   no swarm until the end of the block.
//! * unlock: `requested_unlock_height = height + unlock_blocks`; at the end of that block
//!   the node leaves and its contributors' stakes are credited back to their balances.
//! * uptime proof: signature, `|block time − t| ≤ tolerance`, at least
//!   `uptime_proof_min_interval_secs` after the node's previous proof; updates the node's
//!   address, ports and versions.
//! * state change: ≥ `votes_needed` distinct validators of the testing quorum at
//!   `quorum_height` (no older than `vote_lifetime_blocks`), all signatures valid, quorum
//!   no older than the node's current state, and the credit rule of §3.3 evaluated at the
//!   quorum height: decommission only an active node with credit ≥ the minimum,
//!   deregister an active node only with less, a decommissioned node only with negative
//!   credit; recommission only a decommissioned node.
//! * rewards: see [`State::end_block`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use serde::Serialize;
use session_crypto::ed25519::verify;
use session_crypto::ons::OnsType;

use crate::config::ChainParams;
use crate::error::{RegistryError, Result};
use crate::proof::SignedProof;
use crate::tx::{
    Contribution, NewState, OnsBuy, OnsRenew, OnsUpdate, Registration, StateChange, Tx,
    UnlockRequest, ons_renew_hash, ons_update_hash, vote_hash,
};
use crate::types::{Address, Key32};

/// The swarm id of a node in no swarm.
pub const UNASSIGNED_SWARM: u64 = u64::MAX;
/// Operator fees are in basis points out of this.
pub const FEE_DENOMINATOR: u32 = 10_000;

/// One registered service node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRecord {
    /// Ed25519 key (primary key).
    pub pubkey_ed25519: Key32,
    /// X25519 key.
    pub pubkey_x25519: Key32,
    /// Public IPv4 address (from the registration, then from proofs).
    pub public_ip: Ipv4Addr,
    /// Storage server HTTPS port.
    pub storage_port: u16,
    /// Storage server OMQ/QUIC port.
    pub storage_lmq_port: u16,
    /// Quorumnet port.
    pub quorumnet_port: u16,
    /// Operator fee, basis points.
    pub operator_fee: u32,
    /// Stakes; `[0]` is the operator.
    pub contributors: Vec<Contribution>,
    /// Height of the registration.
    pub registration_height: u64,
    /// Height at which the node last became active (registration or recommission).
    pub active_since: u64,
    /// Height of the decommission, while decommissioned.
    pub decommissioned_at: Option<u64>,
    /// Height at which the node entered its current state.
    pub state_height: u64,
    /// Credit carried over from the last recommission (or the initial credit).
    pub recommission_credit: i64,
    /// How many times the node was decommissioned.
    pub decommission_count: u32,
    /// Reasons all voters of the last decommission agreed on.
    pub last_decommission_reason_all: u16,
    /// Reasons any voter of the last decommission gave.
    pub last_decommission_reason_any: u16,
    /// Height at which the node leaves (0 = no unlock requested).
    pub requested_unlock_height: u64,
    /// Current swarm ([`UNASSIGNED_SWARM`] when decommissioned).
    pub swarm_id: u64,
    /// Timestamp (unix s) of the last accepted proof, or the recommission time (oxend's
    /// "effective" proof time); 0 = none (or decommissioned since). Published as
    /// `last_uptime_proof`.
    pub last_uptime_proof: u64,
    /// Timestamp (unix s) of the last proof actually received (spacing rule); 0 = none.
    pub last_proof_received: u64,
    /// Node version from the last proof.
    pub service_node_version: Option<[u16; 3]>,
    /// Storage server version from the last proof.
    pub storage_server_version: Option<[u16; 3]>,
    /// Lokinet version from the last proof.
    pub lokinet_version: Option<[u16; 3]>,
    /// Height of the last reward (or activation / IP penalty).
    pub last_reward_block_height: u64,
}

impl NodeRecord {
    /// Whether the node is active (funded and not decommissioned).
    pub fn is_active(&self) -> bool {
        self.decommissioned_at.is_none()
    }

    /// Downtime credit in blocks at height `tip` (network-governance §3.3): for an active
    /// node, `recommission_credit + (tip − active_since) / credit_blocks_per_block`,
    /// capped at `max_credit_blocks`; for a decommissioned node the uptime counts up to
    /// the decommission and the blocks spent decommissioned are subtracted after the cap.
    pub fn credit(&self, tip: u64, p: &ChainParams) -> i64 {
        let blocks_up = match self.decommissioned_at {
            Some(at) => at.saturating_sub(self.active_since),
            None => tip.saturating_sub(self.active_since),
        };
        let earned = i64::try_from(blocks_up / p.credit_blocks_per_block).unwrap_or(i64::MAX);
        let max = i64::try_from(p.max_credit_blocks).unwrap_or(i64::MAX);
        let mut credit = self.recommission_credit.saturating_add(earned).min(max);
        if let Some(at) = self.decommissioned_at {
            credit =
                credit.saturating_sub(i64::try_from(tip.saturating_sub(at)).unwrap_or(i64::MAX));
        }
        credit
    }

    /// Sum of the stakes.
    pub fn total_contributed(&self) -> u64 {
        self.contributors
            .iter()
            .map(|c| c.amount)
            .fold(0u64, u64::saturating_add)
    }
}

/// Why a node left the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Its unlock height was reached; the stake was returned.
    Unlocked,
    /// A testing quorum deregistered it; the stake stays locked (slashed).
    Deregistered,
}

/// A node that has left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedNode {
    /// Height of the removal.
    pub height: u64,
    /// Why.
    pub reason: RemovalReason,
    /// Height of the registration that ended.
    pub registration_height: u64,
}

/// An ONS/SNS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnsRecord {
    /// Record type code (0 Session, 1 wallet, 2 Lokinet).
    pub ons_type: u16,
    /// `BLAKE2b-256(lower(name))`.
    pub name_hash: Key32,
    /// `ciphertext ‖ tag ‖ nonce`.
    pub encrypted_value: Vec<u8>,
    /// Owner key.
    pub owner: Key32,
    /// Backup owner key.
    pub backup_owner: Option<Key32>,
    /// Height of the registration.
    pub register_height: u64,
    /// Height of the last change.
    pub update_height: u64,
    /// Height from which the record no longer resolves (`None`: never expires).
    pub expiration_height: Option<u64>,
    /// Transaction that last changed the record.
    pub txid: Key32,
    /// The one before (all zero for a registration).
    pub prev_txid: Key32,
}

impl OnsRecord {
    /// Whether the record has expired at `height`.
    pub fn is_expired(&self, height: u64) -> bool {
        self.expiration_height.is_some_and(|e| height >= e)
    }
}

/// The testing quorum of one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quorum {
    /// Block height it belongs to.
    pub height: u64,
    /// Voting nodes, in quorum order (`voter_index`).
    pub validators: Vec<Key32>,
    /// Tested nodes, in quorum order (`worker_index`).
    pub workers: Vec<Key32>,
}

/// Where and when a transaction is applied.
#[derive(Debug, Clone, Copy)]
pub struct TxCtx {
    /// Height of the block containing it.
    pub height: u64,
    /// That block's timestamp (ms).
    pub timestamp_ms: u64,
    /// The transaction's id.
    pub txid: [u8; 32],
}

/// What a transaction did, beyond changing the state.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxEffect {
    /// It changed the set of active nodes (so swarms must be recomputed).
    pub active_changed: bool,
}

/// The whole ledger state after a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Consensus parameters (from genesis).
    pub params: ChainParams,
    /// Height of the top block.
    pub height: u64,
    /// Hash of the top block.
    pub top_hash: Key32,
    /// Timestamp of the top block (ms).
    pub timestamp_ms: u64,
    /// Registered nodes by Ed25519 key.
    pub nodes: BTreeMap<Key32, NodeRecord>,
    /// Nodes that left, by key (the latest removal).
    pub removed: BTreeMap<Key32, RemovedNode>,
    /// Name records by (type, name hash).
    pub ons: BTreeMap<(u16, Key32), OnsRecord>,
    /// Accrued rewards and returned stakes by address (atomic units).
    pub balances: BTreeMap<Address, u64>,
    /// Total reward minted so far.
    pub total_rewards: u64,
    /// Testing quorums of the last `vote_lifetime_blocks + 1` blocks, oldest first.
    pub quorums: VecDeque<Quorum>,
}

fn check_ip(ip: Ipv4Addr, allow_private: bool) -> Result<()> {
    let bad = |reason| {
        Err(RegistryError::InvalidIp {
            ip: ip.to_string(),
            reason,
        })
    };
    if ip.is_unspecified() {
        return bad("the unspecified address 0.0.0.0 cannot be announced");
    }
    if ip.is_broadcast() || ip.is_multicast() {
        return bad("not a unicast address");
    }
    if !allow_private && (ip.is_private() || ip.is_loopback() || ip.is_link_local()) {
        return bad("not a public address (chain.allow_private_ips is off)");
    }
    Ok(())
}

fn check_port(what: &'static str, port: u16) -> Result<()> {
    if port == 0 {
        return Err(RegistryError::InvalidPort { what, value: 0 });
    }
    Ok(())
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a.div_ceil(b.max(1))
}

/// Checks the stakes of a registration (network-governance §1.2, §8.13).
pub fn check_stakes(p: &ChainParams, contributors: &[Contribution], fee: u32) -> Result<()> {
    if contributors.is_empty() {
        return Err(RegistryError::NoContributors);
    }
    if contributors.len() > p.max_contributors as usize {
        return Err(RegistryError::TooManyContributors {
            count: contributors.len(),
            max: p.max_contributors,
        });
    }
    let mut seen = BTreeSet::new();
    for c in contributors {
        if !seen.insert(c.address) {
            return Err(RegistryError::DuplicateContributor {
                address: c.address.to_string(),
            });
        }
    }
    if fee > FEE_DENOMINATOR {
        return Err(RegistryError::FeeTooHigh { fee });
    }
    let required = p.staking_requirement;
    let total: u128 = contributors.iter().map(|c| u128::from(c.amount)).sum();
    if total < u128::from(required) {
        return Err(RegistryError::UnderStaked { total, required });
    }
    if total > u128::from(required) {
        return Err(RegistryError::OverStaked { total, required });
    }
    let operator = contributors[0].amount;
    if u128::from(operator) * 4 < u128::from(required) {
        return Err(RegistryError::OperatorStakeTooSmall {
            amount: operator,
            minimum: u64::try_from(ceil_div(u128::from(required), 4)).unwrap_or(u64::MAX),
        });
    }
    let mut reserved = u128::from(operator);
    for (i, c) in contributors.iter().enumerate().skip(1) {
        let remaining = u128::from(required).saturating_sub(reserved);
        let slots = u128::from(p.max_contributors).saturating_sub(i as u128);
        let minimum = ceil_div(remaining, slots).max(1);
        if u128::from(c.amount) < minimum {
            return Err(RegistryError::ContributionTooSmall {
                index: i,
                amount: c.amount,
                minimum: u64::try_from(minimum).unwrap_or(u64::MAX),
            });
        }
        reserved += u128::from(c.amount);
    }
    Ok(())
}

fn ons_type_of(code: u16) -> Result<OnsType> {
    OnsType::from_code(code).map_err(|_| RegistryError::UnsupportedOnsType(code.to_string()))
}

/// Checks the stored length of an encrypted value for a record type.
pub fn check_ons_value_len(ty: OnsType, value: &[u8]) -> Result<()> {
    use session_crypto::ons::{
        ENCRYPTION_OVERHEAD, LOKINET_VALUE_LEN, SESSION_VALUE_LEN, WALLET_VALUE_LENS,
    };
    let ok = match ty {
        OnsType::Session => value.len() == SESSION_VALUE_LEN + ENCRYPTION_OVERHEAD,
        OnsType::Lokinet => value.len() == LOKINET_VALUE_LEN + ENCRYPTION_OVERHEAD,
        OnsType::Wallet => WALLET_VALUE_LENS
            .iter()
            .any(|n| value.len() == n + ENCRYPTION_OVERHEAD),
    };
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidOnsValue(format!(
            "{} bytes is not the length of an encrypted {ty:?} value (ciphertext, tag and nonce)",
            value.len()
        )))
    }
}

fn hex(k: &[u8; 32]) -> String {
    ::hex::encode(k)
}

impl State {
    /// The state right after the genesis block.
    pub fn genesis(params: ChainParams, timestamp_ms: u64, hash: [u8; 32]) -> Self {
        let mut s = Self {
            params,
            height: 0,
            top_hash: Key32(hash),
            timestamp_ms,
            nodes: BTreeMap::new(),
            removed: BTreeMap::new(),
            ons: BTreeMap::new(),
            balances: BTreeMap::new(),
            total_rewards: 0,
            quorums: VecDeque::new(),
        };
        s.record_quorum(0, &hash);
        s
    }

    /// Active nodes.
    pub fn active_nodes(&self) -> impl Iterator<Item = &NodeRecord> {
        self.nodes.values().filter(|n| n.is_active())
    }

    /// The testing quorum of height `height`, if still within the vote lifetime of `tip`.
    pub fn quorum_at(&self, height: u64, tip: u64) -> Result<&Quorum> {
        let unknown = || RegistryError::UnknownQuorum {
            height,
            tip: self.height,
            lifetime: self.params.vote_lifetime_blocks,
        };
        if height > self.height || tip.saturating_sub(height) > self.params.vote_lifetime_blocks {
            return Err(unknown());
        }
        self.quorums
            .iter()
            .find(|q| q.height == height)
            .ok_or_else(unknown)
    }

    /// The record for a name, unless it has expired.
    pub fn resolve(&self, ons_type: u16, name_hash: &[u8; 32]) -> Option<&OnsRecord> {
        let code = OnsType::from_code(ons_type).ok()?.code();
        self.ons
            .get(&(code, Key32(*name_hash)))
            .filter(|r| !r.is_expired(self.height))
    }

    /// Validates and applies one transaction of the block described by `ctx`. On error
    /// nothing has changed.
    pub fn apply_tx(&mut self, ctx: &TxCtx, tx: &Tx) -> Result<TxEffect> {
        match tx {
            Tx::Genesis(_) => Err(RegistryError::MisplacedGenesis { height: ctx.height }),
            Tx::Register(r) => self.register(ctx, r),
            Tx::Unlock(u) => self.unlock(ctx, u),
            Tx::UptimeProof(p) => self.uptime_proof(ctx, p),
            Tx::StateChange(s) => self.state_change(ctx, s),
            Tx::OnsBuy(b) => self.ons_buy(ctx, b),
            Tx::OnsUpdate(u) => self.ons_update(ctx, u),
            Tx::OnsRenew(r) => self.ons_renew(ctx, r),
        }
    }

    fn register(&mut self, ctx: &TxCtx, r: &Registration) -> Result<TxEffect> {
        let pk = r.pubkey_ed25519;
        let x = session_crypto::Ed25519PublicKey(pk.0)
            .to_x25519()
            .map_err(|_| RegistryError::InvalidKey {
                what: "pubkey_ed25519",
                reason: "not a valid Ed25519 public key".into(),
            })?;
        if x != r.pubkey_x25519.0 {
            return Err(RegistryError::KeyMismatch {
                ed25519: pk.to_hex(),
                x25519: r.pubkey_x25519.to_hex(),
            });
        }
        if self.nodes.contains_key(&pk) {
            return Err(RegistryError::DuplicateKey {
                pubkey: pk.to_hex(),
            });
        }
        check_stakes(&self.params, &r.contributors, r.operator_fee)?;
        check_ip(r.public_ip, self.params.allow_private_ips)?;
        check_port("storage_port", r.storage_port)?;
        check_port("storage_lmq_port", r.storage_lmq_port)?;
        check_port("quorumnet_port", r.quorumnet_port)?;
        let sig = r.signature.ok_or(RegistryError::MissingSignature {
            what: "registration",
        })?;
        verify(&pk.0, &r.signing_message(), &sig.0).map_err(|_| RegistryError::BadSignature {
            what: "registration",
        })?;

        let h = ctx.height;
        self.nodes.insert(
            pk,
            NodeRecord {
                pubkey_ed25519: pk,
                pubkey_x25519: r.pubkey_x25519,
                public_ip: r.public_ip,
                storage_port: r.storage_port,
                storage_lmq_port: r.storage_lmq_port,
                quorumnet_port: r.quorumnet_port,
                operator_fee: r.operator_fee,
                contributors: r.contributors.clone(),
                registration_height: h,
                active_since: h,
                decommissioned_at: None,
                state_height: h,
                recommission_credit: i64::try_from(self.params.initial_credit_blocks)
                    .unwrap_or(i64::MAX),
                decommission_count: 0,
                last_decommission_reason_all: 0,
                last_decommission_reason_any: 0,
                requested_unlock_height: 0,
                swarm_id: UNASSIGNED_SWARM,
                last_uptime_proof: 0,
                last_proof_received: 0,
                service_node_version: None,
                storage_server_version: None,
                lokinet_version: None,
                last_reward_block_height: h,
            },
        );
        Ok(TxEffect {
            active_changed: true,
        })
    }

    fn unlock(&mut self, ctx: &TxCtx, u: &UnlockRequest) -> Result<TxEffect> {
        let pk = u.pubkey_ed25519;
        let unlock_blocks = self.params.unlock_blocks;
        let node = self
            .nodes
            .get_mut(&pk)
            .ok_or_else(|| RegistryError::UnknownNode {
                pubkey: pk.to_hex(),
            })?;
        let sig = u.signature.ok_or(RegistryError::MissingSignature {
            what: "unlock request",
        })?;
        let msg = UnlockRequest::signing_message(&pk.0, node.registration_height);
        verify(&pk.0, &msg, &sig.0).map_err(|_| RegistryError::BadSignature {
            what: "unlock request",
        })?;
        if node.requested_unlock_height != 0 {
            return Err(RegistryError::AlreadyUnlocking {
                pubkey: pk.to_hex(),
                unlock_height: node.requested_unlock_height,
            });
        }
        node.requested_unlock_height = ctx.height.saturating_add(unlock_blocks).max(1);
        Ok(TxEffect::default())
    }

    fn uptime_proof(&mut self, ctx: &TxCtx, p: &SignedProof) -> Result<TxEffect> {
        let proof = p.verify()?;
        let pk = Key32(proof.pubkey_ed25519);
        let params = &self.params;
        let node = self
            .nodes
            .get_mut(&pk)
            .ok_or_else(|| RegistryError::UnknownNode {
                pubkey: pk.to_hex(),
            })?;
        let now = ctx.timestamp_ms / 1000;
        let tolerance = params.uptime_proof_tolerance_secs;
        if proof.timestamp.saturating_add(tolerance) < now {
            return Err(RegistryError::ProofExpired {
                timestamp: proof.timestamp,
                now,
                tolerance,
            });
        }
        if proof.timestamp > now.saturating_add(tolerance) {
            return Err(RegistryError::ProofFromFuture {
                timestamp: proof.timestamp,
                now,
                tolerance,
            });
        }
        if node.last_proof_received != 0 {
            let next_allowed = node
                .last_proof_received
                .saturating_add(params.uptime_proof_min_interval_secs);
            if proof.timestamp < next_allowed {
                return Err(RegistryError::ProofTooSoon {
                    last: node.last_proof_received,
                    next_allowed,
                });
            }
        }
        check_ip(proof.public_ip, params.allow_private_ips)?;
        check_port("storage https port (shp)", proof.storage_https_port)?;
        check_port("storage omq port (sop)", proof.storage_omq_port)?;

        node.last_uptime_proof = proof.timestamp;
        node.last_proof_received = proof.timestamp;
        node.public_ip = proof.public_ip;
        node.storage_port = proof.storage_https_port;
        node.storage_lmq_port = proof.storage_omq_port;
        node.quorumnet_port = proof.quorumnet_port;
        node.service_node_version = Some(proof.version);
        node.storage_server_version = Some(proof.storage_server_version);
        node.lokinet_version = proof.lokinet_version;
        Ok(TxEffect::default())
    }

    /// Checks that `state` may be applied to `node` on the strength of the quorum at
    /// `quorum_height` (see the module docs for the credit rule).
    pub fn check_transition(
        &self,
        quorum_height: u64,
        node: &NodeRecord,
        state: NewState,
    ) -> Result<()> {
        let invalid = |reason: String| {
            Err(RegistryError::InvalidStateChange {
                change: state.verb(),
                pubkey: node.pubkey_ed25519.to_hex(),
                reason,
            })
        };
        if quorum_height < node.state_height {
            return invalid(format!(
                "the quorum at height {quorum_height} predates the node's current state (height {})",
                node.state_height
            ));
        }
        let p = &self.params;
        let credit = node.credit(quorum_height, p);
        let minimum = i64::try_from(p.decommission_min_credit_blocks).unwrap_or(i64::MAX);
        match (state, node.is_active()) {
            (NewState::Decommission, false) => invalid("it is already decommissioned".into()),
            (NewState::Decommission, true) if credit < minimum => invalid(format!(
                "its credit of {credit} blocks is below the {minimum}-block minimum: vote deregister"
            )),
            (NewState::Recommission, true) => invalid("it is not decommissioned".into()),
            (NewState::Deregister, true) if credit >= minimum => invalid(format!(
                "it has {credit} blocks of credit: vote decommission"
            )),
            (NewState::Deregister, false) if credit >= 0 => invalid(format!(
                "it still has {credit} blocks of credit while decommissioned"
            )),
            (NewState::IpChangePenalty, false) => invalid("it is decommissioned".into()),
            _ => Ok(()),
        }
    }

    fn state_change(&mut self, ctx: &TxCtx, sc: &StateChange) -> Result<TxEffect> {
        let quorum = self.quorum_at(sc.quorum_height, ctx.height)?;
        let worker = *quorum
            .workers
            .get(sc.worker_index as usize)
            .ok_or_else(|| RegistryError::NotTested {
                worker: format!("worker #{}", sc.worker_index),
                height: sc.quorum_height,
            })?;
        let hash = vote_hash(sc.quorum_height, sc.worker_index, sc.state);
        let mut voters = BTreeSet::new();
        let (mut reason_all, mut reason_any) = (u16::MAX, 0u16);
        for v in &sc.votes {
            let voter = quorum
                .validators
                .get(v.voter_index as usize)
                .ok_or_else(|| RegistryError::NotQuorumMember {
                    voter: format!("validator #{}", v.voter_index),
                    height: sc.quorum_height,
                })?;
            verify(&voter.0, &hash, &v.signature.0).map_err(|_| RegistryError::BadSignature {
                what: "quorum vote",
            })?;
            if voters.insert(v.voter_index) {
                reason_all &= v.reason;
                reason_any |= v.reason;
            }
        }
        if voters.len() < self.params.votes_needed as usize {
            return Err(RegistryError::NotEnoughVotes {
                got: voters.len(),
                needed: self.params.votes_needed,
            });
        }
        let node = self
            .nodes
            .get(&worker)
            .ok_or_else(|| RegistryError::UnknownNode {
                pubkey: worker.to_hex(),
            })?;
        self.check_transition(sc.quorum_height, node, sc.state)?;

        let h = ctx.height;
        let p = self.params.clone();
        let mut effect = TxEffect::default();
        match sc.state {
            NewState::Deregister => {
                if let Some(node) = self.nodes.remove(&worker) {
                    effect.active_changed = node.is_active();
                    self.removed.insert(
                        worker,
                        RemovedNode {
                            height: h,
                            reason: RemovalReason::Deregistered,
                            registration_height: node.registration_height,
                        },
                    );
                }
            }
            NewState::Decommission => {
                if let Some(node) = self.nodes.get_mut(&worker) {
                    node.decommissioned_at = Some(h);
                    node.state_height = h;
                    node.swarm_id = UNASSIGNED_SWARM;
                    node.last_uptime_proof = 0;
                    node.last_proof_received = 0;
                    node.decommission_count = node.decommission_count.saturating_add(1);
                    node.last_decommission_reason_all = reason_all;
                    node.last_decommission_reason_any = reason_any;
                    effect.active_changed = true;
                }
            }
            NewState::Recommission => {
                if let Some(node) = self.nodes.get_mut(&worker)
                    && let Some(at) = node.decommissioned_at
                {
                    let credit_at_decomm = node.credit(at, &p);
                    let blocks_decommissioned =
                        i64::try_from(h.saturating_sub(at)).unwrap_or(i64::MAX);
                    node.recommission_credit = credit_at_decomm
                        .saturating_sub(blocks_decommissioned.saturating_mul(2))
                        .max(0);
                    node.active_since = h;
                    node.decommissioned_at = None;
                    node.state_height = h;
                    node.last_reward_block_height = h;
                    node.last_uptime_proof = ctx.timestamp_ms / 1000;
                    node.swarm_id = UNASSIGNED_SWARM;
                    effect.active_changed = true;
                }
            }
            NewState::IpChangePenalty => {
                if let Some(node) = self.nodes.get_mut(&worker) {
                    node.last_reward_block_height = h;
                }
            }
        }
        Ok(effect)
    }

    fn verify_owner(
        rec: &OnsRecord,
        msg: &[u8; 32],
        sig: Option<crate::types::Sig64>,
    ) -> Result<()> {
        let sig = sig.ok_or(RegistryError::MissingSignature {
            what: "name record",
        })?;
        let by_owner = verify(&rec.owner.0, msg, &sig.0).is_ok();
        let by_backup = rec
            .backup_owner
            .is_some_and(|b| verify(&b.0, msg, &sig.0).is_ok());
        if by_owner || by_backup {
            Ok(())
        } else {
            Err(RegistryError::BadSignature {
                what: "name record (must be signed by its owner or backup owner)",
            })
        }
    }

    fn ons_lifetime(&self, ty: OnsType) -> Option<u64> {
        let blocks = match ty {
            OnsType::Session | OnsType::Wallet => self.params.ons_session_lifetime_blocks,
            OnsType::Lokinet => self.params.ons_lokinet_lifetime_blocks,
        };
        (blocks > 0).then_some(blocks)
    }

    fn ons_buy(&mut self, ctx: &TxCtx, b: &OnsBuy) -> Result<TxEffect> {
        let ty = ons_type_of(b.ons_type)?;
        check_ons_value_len(ty, &b.encrypted_value.0)?;
        let sig = b.signature.ok_or(RegistryError::MissingSignature {
            what: "name registration",
        })?;
        let msg = ons_update_hash(
            Some(&b.encrypted_value.0),
            Some(&b.owner.0),
            b.backup_owner.as_ref().map(|k| &k.0),
            &[0; 32],
        );
        verify(&b.owner.0, &msg, &sig.0).map_err(|_| RegistryError::BadSignature {
            what: "name registration (must be signed by the owner)",
        })?;
        let key = (ty.code(), b.name_hash);
        if self
            .ons
            .get(&key)
            .is_some_and(|r| !r.is_expired(ctx.height))
        {
            return Err(RegistryError::NameTaken {
                ons_type: ty.code(),
            });
        }
        let h = ctx.height;
        let expiration_height = self.ons_lifetime(ty).map(|l| h.saturating_add(l));
        self.ons.insert(
            key,
            OnsRecord {
                ons_type: ty.code(),
                name_hash: b.name_hash,
                encrypted_value: b.encrypted_value.0.clone(),
                owner: b.owner,
                backup_owner: b.backup_owner,
                register_height: h,
                update_height: h,
                expiration_height,
                txid: Key32(ctx.txid),
                prev_txid: Key32([0; 32]),
            },
        );
        Ok(TxEffect::default())
    }

    fn ons_update(&mut self, ctx: &TxCtx, u: &OnsUpdate) -> Result<TxEffect> {
        let ty = ons_type_of(u.ons_type)?;
        let key = (ty.code(), u.name_hash);
        let rec = self
            .ons
            .get(&key)
            .filter(|r| !r.is_expired(ctx.height))
            .ok_or(RegistryError::NameNotFound {
                ons_type: ty.code(),
            })?;
        if u.encrypted_value.is_none() && u.owner.is_none() && u.backup_owner.is_none() {
            return Err(RegistryError::EmptyUpdate);
        }
        if let Some(v) = &u.encrypted_value {
            check_ons_value_len(ty, &v.0)?;
        }
        let msg = ons_update_hash(
            u.encrypted_value.as_ref().map(|v| v.0.as_slice()),
            u.owner.as_ref().map(|k| &k.0),
            u.backup_owner.as_ref().map(|k| &k.0),
            &rec.txid.0,
        );
        Self::verify_owner(rec, &msg, u.signature)?;
        if let Some(rec) = self.ons.get_mut(&key) {
            if let Some(v) = &u.encrypted_value {
                rec.encrypted_value = v.0.clone();
            }
            if let Some(o) = u.owner {
                rec.owner = o;
            }
            if let Some(b) = u.backup_owner {
                rec.backup_owner = Some(b);
            }
            rec.prev_txid = rec.txid;
            rec.txid = Key32(ctx.txid);
            rec.update_height = ctx.height;
        }
        Ok(TxEffect::default())
    }

    fn ons_renew(&mut self, ctx: &TxCtx, r: &OnsRenew) -> Result<TxEffect> {
        let ty = ons_type_of(r.ons_type)?;
        let key = (ty.code(), r.name_hash);
        let rec = self.ons.get(&key).ok_or(RegistryError::NameNotFound {
            ons_type: ty.code(),
        })?;
        let Some(lifetime) = self.ons_lifetime(ty) else {
            return Err(RegistryError::NameNeverExpires {
                ons_type: ty.code(),
            });
        };
        let msg = ons_renew_hash(ty.code(), &r.name_hash.0, &rec.txid.0);
        Self::verify_owner(rec, &msg, r.signature)?;
        if let Some(rec) = self.ons.get_mut(&key) {
            let base = rec.expiration_height.unwrap_or(ctx.height).max(ctx.height);
            rec.expiration_height = Some(base.saturating_add(lifetime));
            rec.prev_txid = rec.txid;
            rec.txid = Key32(ctx.txid);
            rec.update_height = ctx.height;
        }
        Ok(TxEffect::default())
    }

    /// Finishes block `height` (after its transactions): expires nodes whose unlock height
    /// has come (returning their stakes), pays the block reward, re-runs the swarm
    /// assignment if the active set changed (seeded by `hash`), and records the block's
    /// testing quorum.
    ///
    /// Rewards (simple, documented): `block_reward` is split equally (integer division;
    /// the remainder is not minted) among the *payable* nodes — active for at least
    /// `payable_after_blocks`. Each node's share pays the operator fee first
    /// (`share · fee / 10000`), the rest goes to the contributors in proportion to their
    /// stakes (rounded down), and whatever rounding leaves goes to the operator. Nothing is
    /// minted when no node is payable.
    pub fn end_block(
        &mut self,
        height: u64,
        timestamp_ms: u64,
        hash: [u8; 32],
        mut active_changed: bool,
    ) -> Result<()> {
        self.height = height;
        self.top_hash = Key32(hash);
        self.timestamp_ms = timestamp_ms;

        let expiring: Vec<Key32> = self
            .nodes
            .values()
            .filter(|n| n.requested_unlock_height != 0 && n.requested_unlock_height <= height)
            .map(|n| n.pubkey_ed25519)
            .collect();
        for pk in expiring {
            if let Some(node) = self.nodes.remove(&pk) {
                active_changed |= node.is_active();
                for c in &node.contributors {
                    let bal = self.balances.entry(c.address).or_insert(0);
                    *bal = bal.saturating_add(c.amount);
                }
                self.removed.insert(
                    pk,
                    RemovedNode {
                        height,
                        reason: RemovalReason::Unlocked,
                        registration_height: node.registration_height,
                    },
                );
            }
        }

        self.pay_rewards(height);

        if active_changed {
            crate::swarm::reassign(&mut self.nodes, &hash)?;
        }
        self.record_quorum(height, &hash);
        Ok(())
    }

    fn pay_rewards(&mut self, height: u64) {
        let reward = self.params.block_reward;
        let after = self.params.payable_after_blocks;
        let payable: Vec<Key32> = self
            .active_nodes()
            .filter(|n| height.saturating_sub(n.active_since) >= after)
            .map(|n| n.pubkey_ed25519)
            .collect();
        if payable.is_empty() || reward == 0 {
            return;
        }
        let share = u128::from(reward / payable.len() as u64);
        let mut minted = 0u64;
        for pk in payable {
            let Some(node) = self.nodes.get_mut(&pk) else {
                continue;
            };
            node.last_reward_block_height = height;
            let fee_part = share * u128::from(node.operator_fee) / u128::from(FEE_DENOMINATOR);
            let rest = share - fee_part;
            let total: u128 = node.contributors.iter().map(|c| u128::from(c.amount)).sum();
            let mut paid = 0u128;
            let mut payouts: Vec<(Address, u128)> = Vec::with_capacity(node.contributors.len());
            for c in &node.contributors {
                let part = (rest * u128::from(c.amount))
                    .checked_div(total)
                    .unwrap_or(0);
                paid += part;
                payouts.push((c.address, part));
            }
            if let Some(first) = payouts.first_mut() {
                first.1 += fee_part + (rest - paid);
            }
            for (addr, amount) in payouts {
                let amount = u64::try_from(amount).unwrap_or(u64::MAX);
                let bal = self.balances.entry(addr).or_insert(0);
                *bal = bal.saturating_add(amount);
            }
            minted = minted.saturating_add(u64::try_from(share).unwrap_or(u64::MAX));
        }
        self.total_rewards = self.total_rewards.saturating_add(minted);
    }

    fn record_quorum(&mut self, height: u64, hash: &[u8; 32]) {
        let q = crate::quorum::obligations(&self.params, height, hash, &self.nodes);
        self.quorums.push_back(q);
        let keep = usize::try_from(self.params.vote_lifetime_blocks.saturating_add(1))
            .unwrap_or(usize::MAX);
        while self.quorums.len() > keep {
            self.quorums.pop_front();
        }
    }
}

/// Short hex for messages.
pub(crate) fn short(k: &Key32) -> String {
    let h = hex(&k.0);
    format!("{}…", &h[..8])
}
