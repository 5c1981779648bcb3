//! Session names (ONS/SNS, network-governance §4): a name resolves to a Session ID
//! only if [`SNS_NODES`] random service nodes, asked through the onion
//! (`oxend_request` → `ons_resolve`), all return a record that decrypts under the name
//! to the same `05` Session ID — as Session desktop checks it. The record's encryption
//! key derives from the name alone, so a node cannot forge a record for a name it does
//! not know; agreement of several nodes guards against a node hiding a change.

use serde_json::{Value, json};
use session_crypto::AccountId;
use session_crypto::ons::{self, OnsType};
use tokio::task::JoinSet;

use super::Messenger;
use crate::error::{ClientError, Result};

/// How many nodes must agree on a name.
pub const SNS_NODES: usize = 3;

fn name_err(name: &str, reason: impl Into<String>) -> ClientError {
    ClientError::Name {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// Reads one node's `ons_resolve` answer (inside `oxend_request`'s `result`) and
/// decrypts it: `Ok(None)` when the node has no record.
///
/// # Errors
/// A description of what was wrong with the answer.
pub fn decode_answer(name: &str, body: &Value) -> std::result::Result<Option<AccountId>, String> {
    let result = body.get("result").unwrap_or(body);
    let (Some(value), Some(nonce)) = (
        result.get("encrypted_value").and_then(Value::as_str),
        result.get("nonce").and_then(Value::as_str),
    ) else {
        return if result.is_object() {
            Ok(None)
        } else {
            Err(format!("unreadable answer {body}"))
        };
    };
    let value = hex::decode(value).map_err(|e| format!("encrypted_value is not hex: {e}"))?;
    let nonce: [u8; ons::NONCE_LEN] = hex::decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or("nonce is not 24 bytes of hex")?;
    ons::decrypt_session_id(name, &value, &nonce)
        .map(Some)
        .map_err(|e| format!("the record does not decrypt to a Session ID under this name: {e}"))
}

impl Messenger {
    /// Resolves a Session name (with or without a leading `@`) to a Session ID.
    ///
    /// # Errors
    /// [`ClientError::Name`]: an invalid name, a name no node knows, nodes that
    /// disagree or fail, or a record that does not decrypt under the name.
    pub async fn resolve_name(&self, name: &str) -> Result<AccountId> {
        let given = name.trim().trim_start_matches('@');
        let normal = ons::validate_name(OnsType::Session, given)
            .map_err(|e| name_err(given, format!("not a valid Session name: {e}")))?;
        let hash = ons::name_hash_base64(&normal);
        let nodes = self.client().random_nodes(SNS_NODES).await?;
        if nodes.len() < SNS_NODES {
            return Err(name_err(
                given,
                format!(
                    "only {} service nodes are known; {SNS_NODES} must agree on a name",
                    nodes.len()
                ),
            ));
        }
        let mut asks = JoinSet::new();
        for node in nodes {
            let client = self.client().clone();
            let params =
                json!({"endpoint": "ons_resolve", "params": {"type": 0, "name_hash": hash}});
            asks.spawn(async move { client.snode_request(&node, "oxend_request", params).await });
        }
        let mut found: Vec<AccountId> = Vec::new();
        let mut missing = 0;
        while let Some(joined) = asks.join_next().await {
            let reply =
                joined.map_err(|e| name_err(given, format!("lookup task failed: {e}")))??;
            if reply.status != 200 {
                return Err(name_err(
                    given,
                    format!(
                        "a service node answered HTTP {}: {}",
                        reply.status, reply.body
                    ),
                ));
            }
            match decode_answer(&normal, &reply.body).map_err(|r| name_err(given, r))? {
                Some(id) => found.push(id),
                None => missing += 1,
            }
        }
        if found.is_empty() {
            return Err(name_err(given, "no such name is registered"));
        }
        if missing > 0 || found.windows(2).any(|w| w[0] != w[1]) {
            return Err(name_err(
                given,
                "the service nodes asked disagree about this name; try again later",
            ));
        }
        Ok(found[0])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    fn record(name: &str, id: &AccountId) -> Value {
        let stored = ons::encrypt_value(name, &id.to_bytes()).unwrap();
        let (ct, nonce) = stored.split_at(stored.len() - ons::NONCE_LEN);
        json!({"result": {"encrypted_value": hex::encode(ct), "nonce": hex::encode(nonce)}, "t": 1})
    }

    #[test]
    fn answers_decrypt_only_under_their_name() {
        let id = session_crypto::AccountKeys::generate()
            .unwrap()
            .session_id();
        let ans = record("alice", &id);
        assert_eq!(decode_answer("alice", &ans).unwrap(), Some(id));
        assert!(decode_answer("bob", &ans).is_err(), "another name's key");
        assert_eq!(
            decode_answer("alice", &json!({"result": {}})).unwrap(),
            None
        );
        assert!(decode_answer("alice", &json!("boom")).is_err());
        let mut bad = ans.clone();
        bad["result"]["nonce"] = json!("00");
        assert!(decode_answer("alice", &bad).is_err());
        let mut flipped = ans;
        let ct = flipped["result"]["encrypted_value"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut bytes = hex::decode(ct).unwrap();
        bytes[0] ^= 1;
        flipped["result"]["encrypted_value"] = json!(hex::encode(bytes));
        assert!(decode_answer("alice", &flipped).is_err(), "altered record");
    }
}
