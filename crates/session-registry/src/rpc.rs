//! JSON-RPC 2.0 methods (`POST /json_rpc`), answering like oxend and the seed nodes.
//!
//! Requests: `{"jsonrpc": "2.0", "id": …, "method": "…", "params": {…}}` (a batch array
//! is accepted too). Successful answers carry `result`; failures an `error` object
//! `{code, message, data: {kind}}` (see [`crate::error`]).
//!
//! Read methods (oxend names and field names):
//! * `get_service_nodes` (aliases `get_n_service_nodes`, `get_all_service_nodes`):
//!   params `fields` (list of names, `"all"`, `"-name"` to remove; or the deprecated
//!   `{"name": true}` dict), `service_node_pubkeys`, `active_only`, `limit` (> 0: that
//!   many random nodes; < 0: all, shuffled), `poll_block_hash` (→ `{"unchanged": true}`
//!   without nodes when it equals the top hash). Result: `status`, `height` (top block
//!   height), `target_height`, `block_hash`, `hardfork`, `snode_revision` (selectable by
//!   `fields` like node fields), `unchanged` when polling, and `service_node_states`.
//! * `ons_resolve` `{type, name_hash}` (hex or base64) → `{encrypted_value, nonce}` (hex;
//!   both omitted when there is no record).
//! * `get_info` (`height` = number of blocks, as oxend), `get_height`,
//!   `get_staking_requirement`, `get_quorum_state` (`start_height`, `end_height`,
//!   `quorum_type`; obligations quorums of the last `vote_lifetime_blocks` blocks),
//!   `get_accrued_batched_earnings` (`addresses`), `get_block` (`height`; registry
//!   extension).
//!
//! Write methods (registry extensions; each answers `{status: "OK", txid, height}` where
//! `height` is the block the transaction is expected in, or a rejection error):
//! * `register_service_node`: a [`crate::tx::Registration`].
//! * `request_stake_unlock`: a [`crate::tx::UnlockRequest`].
//! * `submit_uptime_proof`: `{proof: hex of the bencoded proof, ed_sig: hex}`.
//! * `submit_vote`: a [`crate::tx::Vote`] → `{status, votes, votes_needed, queued}`.
//! * `ons_buy_mapping` `{type, name, encrypted_value, owner, backup_owner?, signature}`:
//!   the name is checked with `session_crypto::ons::validate_name` and the value must
//!   decrypt under it (to a Session ID for type 0); only the name's hash enters the chain.
//! * `ons_update_mapping` `{type, name, encrypted_value?, owner?, backup_owner?, signature}`.
//! * `ons_renew_mapping` `{type, name | name_hash, signature}`.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use session_crypto::CryptoError;
use session_crypto::ons::{self, OnsType};

use crate::error::{RegistryError, Result};
use crate::service::Registry;
use crate::state::{NodeRecord, State, check_ons_value_len};
use crate::tx::{OnsBuy, OnsRenew, OnsUpdate, Tx, Vote};
use crate::types::{Address, HexBytes, Key32, Sig64};

/// Largest range `get_quorum_state` answers.
const MAX_QUORUMS: u64 = 256;

/// Handles an HTTP body: one request or a batch. Returns the HTTP status and the JSON.
pub fn handle_body(reg: &Registry, body: &[u8]) -> (u16, Value) {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error_response(Value::Null, &RegistryError::ParseError(e.to_string())),
    };
    match parsed {
        Value::Array(items) if items.is_empty() => error_response(
            Value::Null,
            &RegistryError::InvalidRequest("empty batch".into()),
        ),
        Value::Array(items) => (
            200,
            Value::Array(items.into_iter().map(|i| handle_one(reg, i).1).collect()),
        ),
        other => handle_one(reg, other),
    }
}

/// A JSON-RPC error response for `err` (status from [`RegistryError::http_status`]).
pub fn error_response(id: Value, err: &RegistryError) -> (u16, Value) {
    (
        err.http_status(),
        json!({"jsonrpc": "2.0", "id": id, "error": err.to_rpc_error()}),
    )
}

fn handle_one(reg: &Registry, request: Value) -> (u16, Value) {
    let Value::Object(mut obj) = request else {
        return error_response(
            Value::Null,
            &RegistryError::InvalidRequest("expected a JSON-RPC request object".into()),
        );
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    if let Some(v) = obj.get("jsonrpc")
        && v != "2.0"
    {
        return error_response(
            id,
            &RegistryError::InvalidRequest("jsonrpc must be \"2.0\"".into()),
        );
    }
    let Some(method) = obj.get("method").and_then(Value::as_str).map(str::to_owned) else {
        return error_response(
            id,
            &RegistryError::InvalidRequest("missing string `method`".into()),
        );
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return error_response(
                id,
                &RegistryError::InvalidParams("params must be an object".into()),
            );
        }
    };
    match call(reg, &method, params) {
        Ok(result) => (200, json!({"jsonrpc": "2.0", "id": id, "result": result})),
        Err(e) => {
            tracing::debug!(%method, kind = e.kind(), "request failed: {e}");
            error_response(id, &e)
        }
    }
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T> {
    serde_json::from_value(params).map_err(|e| RegistryError::InvalidParams(e.to_string()))
}

/// Runs one method.
pub fn call(reg: &Registry, method: &str, params: Value) -> Result<Value> {
    match method {
        "get_info" => Ok(get_info(reg)),
        "get_height" => {
            let st = reg.state();
            Ok(json!({"status": "OK", "height": st.height + 1, "hash": st.top_hash.to_hex()}))
        }
        "get_service_nodes" | "get_n_service_nodes" | "get_all_service_nodes" => {
            get_service_nodes(&reg.state(), parse(params)?)
        }
        "get_staking_requirement" => {
            let st = reg.state();
            Ok(json!({
                "status": "OK",
                "staking_requirement": st.params.staking_requirement,
                "height": st.height,
            }))
        }
        "get_quorum_state" => get_quorum_state(&reg.state(), parse(params)?),
        "ons_resolve" => ons_resolve(&reg.state(), parse(params)?),
        "get_accrued_batched_earnings" => earnings(&reg.state(), parse(params)?),
        "get_block" => {
            let p: BlockParams = parse(params)?;
            let height = p.height.unwrap_or_else(|| reg.state().height);
            let block = reg.block(height)?.ok_or_else(|| {
                RegistryError::InvalidParams(format!("no block at height {height}"))
            })?;
            Ok(json!({"status": "OK", "block": block.to_json()}))
        }
        "register_service_node" => submit(reg, Tx::Register(parse(params)?)),
        "request_stake_unlock" => submit(reg, Tx::Unlock(parse(params)?)),
        "submit_uptime_proof" => submit(reg, Tx::UptimeProof(parse(params)?)),
        "submit_vote" => {
            let vote: Vote = parse(params)?;
            let r = reg.submit_vote(vote)?;
            Ok(json!({
                "status": "OK",
                "votes": r.votes,
                "votes_needed": r.votes_needed,
                "queued": r.queued,
            }))
        }
        "ons_buy_mapping" => {
            let tx = ons_buy_tx(parse(params)?)?;
            submit(reg, tx)
        }
        "ons_update_mapping" => {
            let tx = ons_update_tx(parse(params)?)?;
            submit(reg, tx)
        }
        "ons_renew_mapping" => {
            let tx = ons_renew_tx(parse(params)?)?;
            submit(reg, tx)
        }
        other => Err(RegistryError::MethodNotFound(other.to_owned())),
    }
}

fn submit(reg: &Registry, tx: Tx) -> Result<Value> {
    let r = reg.submit(tx)?;
    Ok(json!({"status": "OK", "txid": hex::encode(r.txid), "height": r.height}))
}

fn get_info(reg: &Registry) -> Value {
    let st = reg.state();
    let active = st.active_nodes().count();
    let swarms: BTreeSet<u64> = st.active_nodes().map(|n| n.swarm_id).collect();
    json!({
        "status": "OK",
        "height": st.height + 1,
        "target_height": st.height + 1,
        "top_block_hash": st.top_hash.to_hex(),
        "block_timestamp": st.timestamp_ms / 1000,
        "hard_fork": st.params.hardfork,
        "nettype": st.params.network,
        "service_node_count": st.nodes.len(),
        "active_service_node_count": active,
        "decommissioned_service_node_count": st.nodes.len() - active,
        "swarm_count": swarms.len(),
        "staking_requirement": st.params.staking_requirement,
        "uptime_proof_frequency": st.params.uptime_proof_frequency_secs(),
        "uptime_proof_validity": st.params.uptime_proof_validity_secs,
        "reachability_failure_threshold": st.params.reachability_failure_threshold_secs(),
        "decommission_min_credit_blocks": st.params.decommission_min_credit_blocks,
        "votes_needed": st.params.votes_needed,
        "mempool_size": reg.mempool_len(),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct BlockParams {
    height: Option<u64>,
}

/// Which fields a `get_service_nodes` caller wants.
#[derive(Debug, Default)]
struct Fields {
    all: bool,
    include: BTreeSet<String>,
    exclude: BTreeSet<String>,
}

impl Fields {
    fn parse(v: Option<&Value>) -> Result<Self> {
        let mut f = Fields::default();
        match v {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let name = item.as_str().ok_or_else(|| {
                        RegistryError::InvalidParams("fields must be a list of strings".into())
                    })?;
                    if name == "all" {
                        f.all = true;
                    } else if let Some(rest) = name.strip_prefix('-') {
                        f.exclude.insert(rest.to_owned());
                    } else {
                        f.include.insert(name.to_owned());
                    }
                }
            }
            Some(Value::Object(map)) => {
                for (name, on) in map {
                    let on = on.as_bool().ok_or_else(|| {
                        RegistryError::InvalidParams(format!("fields.{name} must be true or false"))
                    })?;
                    if on {
                        if name == "all" {
                            f.all = true;
                        } else {
                            f.include.insert(name.clone());
                        }
                    }
                }
            }
            Some(_) => {
                return Err(RegistryError::InvalidParams(
                    "fields must be a list of names or a {name: true} dict".into(),
                ));
            }
        }
        if f.include.is_empty() {
            f.all = true;
        }
        Ok(f)
    }

    fn wants(&self, name: &str) -> bool {
        (self.all || self.include.contains(name)) && !self.exclude.contains(name)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct GsnParams {
    fields: Option<Value>,
    service_node_pubkeys: Vec<String>,
    active_only: bool,
    limit: i64,
    poll_block_hash: Option<String>,
}

/// `portions_for_operator`: the fee as a fraction of 2^64 − 4.
fn portions(fee_bps: u32) -> u64 {
    let p = (u128::from(u64::MAX - 3) * u128::from(fee_bps)) / 10_000;
    u64::try_from(p).unwrap_or(u64::MAX)
}

/// Every field of one node, with oxend's names.
pub fn node_json(n: &NodeRecord, st: &State) -> Map<String, Value> {
    let p = &st.params;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("service_node_pubkey", json!(n.pubkey_ed25519.to_hex()));
    put("registration_height", json!(n.registration_height));
    put("registration_hf_version", json!(p.hardfork));
    put("requested_unlock_height", json!(n.requested_unlock_height));
    put(
        "last_reward_block_height",
        json!(n.last_reward_block_height),
    );
    put("last_reward_transaction_index", json!(0));
    put("active", json!(n.is_active()));
    put("funded", json!(true));
    put("state_height", json!(n.state_height));
    put("decommission_count", json!(n.decommission_count));
    put(
        "last_decommission_reason_consensus_all",
        json!(n.last_decommission_reason_all),
    );
    put(
        "last_decommission_reason_consensus_any",
        json!(n.last_decommission_reason_any),
    );
    put("earned_downtime_blocks", json!(n.credit(st.height, p)));
    if let Some(v) = n.service_node_version {
        put("service_node_version", json!(v));
    }
    if let Some(v) = n.lokinet_version {
        put("lokinet_version", json!(v));
    }
    if let Some(v) = n.storage_server_version {
        put("storage_server_version", json!(v));
    }
    put(
        "contributors",
        Value::Array(
            n.contributors
                .iter()
                .map(|c| json!({"amount": c.amount, "address": c.address.to_string()}))
                .collect(),
        ),
    );
    put("total_contributed", json!(n.total_contributed()));
    put("staking_requirement", json!(p.staking_requirement));
    put("portions_for_operator", json!(portions(n.operator_fee)));
    put("operator_fee", json!(u64::from(n.operator_fee) * 100));
    if let Some(op) = n.contributors.first() {
        put("operator_address", json!(op.address.to_string()));
    }
    put("swarm_id", json!(n.swarm_id));
    put("swarm", json!(format!("{:x}", n.swarm_id)));
    put("public_ip", json!(n.public_ip.to_string()));
    put("storage_port", json!(n.storage_port));
    put("storage_lmq_port", json!(n.storage_lmq_port));
    put("quorumnet_port", json!(n.quorumnet_port));
    put("pubkey_ed25519", json!(n.pubkey_ed25519.to_hex()));
    put("pubkey_x25519", json!(n.pubkey_x25519.to_hex()));
    put("last_uptime_proof", json!(n.last_uptime_proof));
    m
}

/// A shuffle for `limit`: Fisher–Yates driven by SplitMix64 from an OS-random seed.
fn shuffle<T>(items: &mut [T]) {
    let seed = session_crypto::random::random_array::<8>()
        .map(u64::from_le_bytes)
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut x = seed;
    let mut next = move || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn get_service_nodes(st: &State, p: GsnParams) -> Result<Value> {
    let fields = Fields::parse(p.fields.as_ref())?;
    let mut out = Map::new();
    out.insert("status".into(), json!("OK"));
    let top: [(&str, Value); 5] = [
        ("height", json!(st.height)),
        ("target_height", json!(st.height)),
        ("block_hash", json!(st.top_hash.to_hex())),
        ("hardfork", json!(st.params.hardfork)),
        ("snode_revision", json!(st.params.snode_revision)),
    ];
    for (k, v) in top {
        if fields.wants(k) {
            out.insert(k.into(), v);
        }
    }
    if let Some(poll) = &p.poll_block_hash {
        let unchanged = poll.trim().eq_ignore_ascii_case(&st.top_hash.to_hex());
        out.insert("unchanged".into(), json!(unchanged));
        if unchanged {
            return Ok(Value::Object(out));
        }
        out.insert("block_hash".into(), json!(st.top_hash.to_hex()));
    }
    let wanted_keys: Option<BTreeSet<Key32>> = if p.service_node_pubkeys.is_empty() {
        None
    } else {
        Some(
            p.service_node_pubkeys
                .iter()
                .map(|s| {
                    Key32::from_hex(s).map_err(|e| {
                        RegistryError::InvalidParams(format!("service_node_pubkeys: {s:?}: {e}"))
                    })
                })
                .collect::<Result<_>>()?,
        )
    };
    let mut nodes: Vec<&NodeRecord> = st
        .nodes
        .values()
        .filter(|n| !p.active_only || n.is_active())
        .filter(|n| {
            wanted_keys
                .as_ref()
                .is_none_or(|w| w.contains(&n.pubkey_ed25519))
        })
        .collect();
    if p.limit != 0 {
        shuffle(&mut nodes);
        if p.limit > 0 {
            nodes.truncate(usize::try_from(p.limit).unwrap_or(usize::MAX));
        }
    }
    let states: Vec<Value> = nodes
        .into_iter()
        .map(|n| {
            let mut m = node_json(n, st);
            m.retain(|k, _| fields.wants(k));
            Value::Object(m)
        })
        .collect();
    out.insert("service_node_states".into(), Value::Array(states));
    Ok(Value::Object(out))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct QuorumParams {
    start_height: Option<u64>,
    end_height: Option<u64>,
    quorum_type: Option<u8>,
}

fn get_quorum_state(st: &State, p: QuorumParams) -> Result<Value> {
    let (start, end) = match (p.start_height, p.end_height) {
        (None, None) => (st.height, st.height),
        (Some(s), None) => (s, s),
        (None, Some(e)) => (e, e),
        (Some(s), Some(e)) => (s.min(e), s.max(e)),
    };
    if end - start >= MAX_QUORUMS {
        return Err(RegistryError::InvalidParams(format!(
            "at most {MAX_QUORUMS} heights per request"
        )));
    }
    let obligations = matches!(p.quorum_type, None | Some(0) | Some(255));
    let quorums: Vec<Value> = if obligations {
        st.quorums
            .iter()
            .filter(|q| (start..=end).contains(&q.height))
            .map(|q| {
                json!({
                    "height": q.height,
                    "quorum_type": 0,
                    "quorum": {
                        "validators": q.validators.iter().map(Key32::to_hex).collect::<Vec<_>>(),
                        "workers": q.workers.iter().map(Key32::to_hex).collect::<Vec<_>>(),
                    },
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({"status": "OK", "quorums": quorums}))
}

/// A record type given as a number or as `"session"`, `"wallet"`, `"lokinet"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TypeParam {
    Code(u16),
    Name(String),
}

fn ons_type(t: Option<&TypeParam>) -> Result<OnsType> {
    let code = match t {
        None => 0,
        Some(TypeParam::Code(c)) => *c,
        Some(TypeParam::Name(n)) => match n.as_str() {
            "session" => 0,
            "wallet" => 1,
            "lokinet" => 2,
            other => return Err(RegistryError::UnsupportedOnsType(format!("{other:?}"))),
        },
    };
    OnsType::from_code(code).map_err(|_| RegistryError::UnsupportedOnsType(code.to_string()))
}

#[derive(Debug, Deserialize)]
struct ResolveParams {
    #[serde(rename = "type", default)]
    ons_type: Option<TypeParam>,
    name_hash: String,
}

fn ons_resolve(st: &State, p: ResolveParams) -> Result<Value> {
    let ty = ons_type(p.ons_type.as_ref())?;
    let hash = ons::parse_name_hash(&p.name_hash)
        .map_err(|e| RegistryError::InvalidParams(format!("name_hash: {e}")))?;
    let Some(rec) = st.resolve(ty.code(), &hash) else {
        return Ok(json!({}));
    };
    let split = rec.encrypted_value.len().saturating_sub(ons::NONCE_LEN);
    let (ct, nonce) = rec.encrypted_value.split_at(split);
    Ok(json!({"encrypted_value": hex::encode(ct), "nonce": hex::encode(nonce)}))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct EarningsParams {
    addresses: Vec<String>,
}

fn earnings(st: &State, p: EarningsParams) -> Result<Value> {
    let mut balances = Map::new();
    if p.addresses.is_empty() {
        for (a, v) in &st.balances {
            balances.insert(a.to_string(), json!(v));
        }
    } else {
        for a in &p.addresses {
            let addr: Address = a.parse().map_err(RegistryError::InvalidParams)?;
            balances.insert(
                addr.to_string(),
                json!(st.balances.get(&addr).copied().unwrap_or(0)),
            );
        }
    }
    Ok(json!({"status": "OK", "balances": balances}))
}

fn name_error(e: CryptoError) -> RegistryError {
    match e {
        CryptoError::Malformed { reason, .. } => RegistryError::InvalidName(reason),
        other => RegistryError::InvalidName(other.to_string()),
    }
}

/// Checks that `value` (stored form) decrypts under `name` to a valid value of `ty`.
fn check_value_for_name(ty: OnsType, name: &str, value: &[u8]) -> Result<()> {
    check_ons_value_len(ty, value)?;
    let r = match ty {
        OnsType::Session => ons::decrypt_stored_session_id(name, value).map(|_| ()),
        _ => ons::decrypt_stored_value(ty, name, value).map(|_| ()),
    };
    r.map_err(|e| {
        RegistryError::InvalidOnsValue(format!(
            "does not decrypt to a valid value under this name: {e}"
        ))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuyParams {
    #[serde(rename = "type", default)]
    ons_type: Option<TypeParam>,
    name: String,
    encrypted_value: HexBytes,
    owner: Key32,
    #[serde(default)]
    backup_owner: Option<Key32>,
    #[serde(default)]
    signature: Option<Sig64>,
}

fn ons_buy_tx(p: BuyParams) -> Result<Tx> {
    let ty = ons_type(p.ons_type.as_ref())?;
    let name = ons::validate_name(ty, &p.name).map_err(name_error)?;
    check_value_for_name(ty, &name, &p.encrypted_value.0)?;
    Ok(Tx::OnsBuy(OnsBuy {
        ons_type: ty.code(),
        name_hash: Key32(ons::name_hash(&name)),
        encrypted_value: p.encrypted_value,
        owner: p.owner,
        backup_owner: p.backup_owner,
        signature: p.signature,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateParams {
    #[serde(rename = "type", default)]
    ons_type: Option<TypeParam>,
    name: String,
    #[serde(default)]
    encrypted_value: Option<HexBytes>,
    #[serde(default)]
    owner: Option<Key32>,
    #[serde(default)]
    backup_owner: Option<Key32>,
    #[serde(default)]
    signature: Option<Sig64>,
}

fn ons_update_tx(p: UpdateParams) -> Result<Tx> {
    let ty = ons_type(p.ons_type.as_ref())?;
    let name = ons::validate_name(ty, &p.name).map_err(name_error)?;
    if let Some(v) = &p.encrypted_value {
        check_value_for_name(ty, &name, &v.0)?;
    }
    Ok(Tx::OnsUpdate(OnsUpdate {
        ons_type: ty.code(),
        name_hash: Key32(ons::name_hash(&name)),
        encrypted_value: p.encrypted_value,
        owner: p.owner,
        backup_owner: p.backup_owner,
        signature: p.signature,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewParams {
    #[serde(rename = "type", default)]
    ons_type: Option<TypeParam>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    name_hash: Option<String>,
    #[serde(default)]
    signature: Option<Sig64>,
}

fn ons_renew_tx(p: RenewParams) -> Result<Tx> {
    let ty = ons_type(p.ons_type.as_ref())?;
    let hash = match (&p.name, &p.name_hash) {
        (Some(name), None) => ons::name_hash(&ons::validate_name(ty, name).map_err(name_error)?),
        (None, Some(h)) => ons::parse_name_hash(h)
            .map_err(|e| RegistryError::InvalidParams(format!("name_hash: {e}")))?,
        _ => {
            return Err(RegistryError::InvalidParams(
                "give exactly one of `name` and `name_hash`".into(),
            ));
        }
    };
    Ok(Tx::OnsRenew(OnsRenew {
        ons_type: ty.code(),
        name_hash: Key32(hash),
        signature: p.signature,
    }))
}
