//! The storage RPCs an account makes on swarms (storage-node §2–3, client-protocol
//! §8.5): their params — signed with the account's Ed25519 key where the node requires
//! it, over the strings of `session_wire::request_sig` — and the parts of the answers
//! the messenger reads.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::AccountKeys;
use session_wire::request_sig::{self, ExpireMode};

use crate::error::{ClientError, Result};
use crate::message::SealedMessage;
use crate::onion::SnodeReply;

/// Most pages one poll reads from one namespace before yielding (each page is what one
/// node returns, up to its size limit); the next poll continues.
pub const MAX_PAGES_PER_POLL: usize = 20;

fn owner_fields(keys: &AccountKeys) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("pubkey".into(), json!(keys.session_id().to_hex()));
    m.insert(
        "pubkey_ed25519".into(),
        json!(hex::encode(keys.ed25519_public().0)),
    );
    m
}

fn sign(keys: &AccountKeys, msg: &[u8]) -> String {
    STANDARD.encode(keys.ed25519().sign(msg))
}

/// `store` params for a sealed message. Namespace 0 of a `05` account is a public inbox
/// (anyone may deposit), so the request is not signed, as clients send it.
pub fn store_params(sealed: &SealedMessage) -> Value {
    json!({
        "pubkey": sealed.destination.to_hex(),
        "namespace": sealed.namespace,
        "timestamp": sealed.sent_ms,
        "ttl": sealed.ttl_ms,
        "data": sealed.data_base64(),
    })
}

/// Signed `retrieve` params for our own swarm, continuing after `last_hash`.
pub fn retrieve_params(
    keys: &AccountKeys,
    namespace: i16,
    now_ms: u64,
    last_hash: Option<&str>,
) -> Value {
    let mut m = owner_fields(keys);
    m.insert("namespace".into(), json!(namespace));
    m.insert("timestamp".into(), json!(now_ms));
    m.insert(
        "signature".into(),
        json!(sign(keys, &request_sig::retrieve(namespace, now_ms))),
    );
    if let Some(h) = last_hash {
        m.insert("last_hash".into(), json!(h));
    }
    Value::Object(m)
}

/// Signed `delete` params: removes these messages from our own swarm.
pub fn delete_params(keys: &AccountKeys, hashes: &[&str]) -> Value {
    let mut m = owner_fields(keys);
    m.insert("messages".into(), json!(hashes));
    m.insert(
        "signature".into(),
        json!(sign(keys, &request_sig::delete(hashes))),
    );
    Value::Object(m)
}

/// Signed `expire` params that shorten (never extend) these messages of our own swarm
/// to `expiry_ms`.
pub fn expire_shorten_params(keys: &AccountKeys, hashes: &[&str], expiry_ms: u64) -> Value {
    let mut m = owner_fields(keys);
    m.insert("messages".into(), json!(hashes));
    m.insert("expiry".into(), json!(expiry_ms));
    m.insert("shorten".into(), json!(true));
    m.insert(
        "signature".into(),
        json!(sign(
            keys,
            &request_sig::expire(ExpireMode::Shorten, &[expiry_ms], hashes)
        )),
    );
    Value::Object(m)
}

fn truncate(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The reply if the swarm accepted the request (200), else [`ClientError::Rpc`].
///
/// # Errors
/// [`ClientError::Rpc`] with the node's status and (truncated) answer.
pub fn expect_ok(method: &'static str, reply: SnodeReply) -> Result<Value> {
    if reply.status == 200 {
        return Ok(reply.body);
    }
    let body = match &reply.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Err(ClientError::Rpc {
        method,
        status: reply.status,
        body: truncate(&body),
    })
}

/// The message hashes a `store` answer reports: the top-level `hash` and every swarm
/// member's `hash`.
pub fn stored_hashes(body: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = body
        .get("hash")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    if let Some(swarm) = body.get("swarm").and_then(Value::as_object) {
        out.extend(
            swarm
                .values()
                .filter_map(|m| m.get("hash").and_then(Value::as_str)),
        );
    }
    out
}

/// Checks that a `store` answer acknowledged `sealed` under the hash we computed.
///
/// # Errors
/// [`ClientError::BadReply`] if no member reports it, or one reports another hash
/// (the node and this client disagree on the message hash: a wire incompatibility).
pub fn check_stored(body: &Value, sealed: &SealedMessage) -> Result<()> {
    let hashes = stored_hashes(body);
    if hashes.is_empty() {
        return Err(ClientError::BadReply {
            what: "store answer",
            reason: format!("no member reports a hash: {}", truncate(&body.to_string())),
        });
    }
    if let Some(other) = hashes.iter().find(|h| **h != sealed.hash) {
        return Err(ClientError::BadReply {
            what: "store answer",
            reason: format!(
                "a member stored the message under hash {other}, but it hashes to {}",
                sealed.hash
            ),
        });
    }
    Ok(())
}

/// One message of a `retrieve` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrieved {
    /// The swarm's hash of it.
    pub hash: String,
    /// `data`, base64 as the node sent it.
    pub data: String,
}

/// A `retrieve` answer: the messages (oldest first) and whether more are waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetrievePage {
    /// The messages; entries without a string `hash` are skipped.
    pub messages: Vec<Retrieved>,
    /// Entries that had no usable hash or data.
    pub unusable: usize,
    /// The node has more after the last one.
    pub more: bool,
}

/// Reads a `retrieve` answer.
///
/// # Errors
/// [`ClientError::BadReply`] if `messages` is missing or not a list.
pub fn parse_retrieve(body: &Value) -> Result<RetrievePage> {
    let list = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ClientError::BadReply {
            what: "retrieve answer",
            reason: format!("no messages list: {}", truncate(&body.to_string())),
        })?;
    let mut page = RetrievePage {
        more: body.get("more").and_then(Value::as_bool).unwrap_or(false),
        ..RetrievePage::default()
    };
    for m in list {
        match (
            m.get("hash").and_then(Value::as_str),
            m.get("data").and_then(Value::as_str),
        ) {
            (Some(h), Some(d)) if !h.is_empty() => page.messages.push(Retrieved {
                hash: h.to_owned(),
                data: d.to_owned(),
            }),
            _ => page.unusable += 1,
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;
    use session_crypto::ed25519::verify;

    fn keys() -> AccountKeys {
        AccountKeys::from_seed(session_crypto::Ed25519Seed::from_array([7; 32]))
    }

    fn sig_of(v: &Value) -> [u8; 64] {
        STANDARD
            .decode(v["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    #[test]
    fn signatures_cover_the_spec_strings() {
        let k = keys();
        let pk = k.ed25519_public().0;
        let r = retrieve_params(&k, 0, 1_700_000_000_123, Some("h1"));
        assert_eq!(r["last_hash"], "h1");
        verify(&pk, b"retrieve1700000000123", &sig_of(&r)).unwrap();
        let r = retrieve_params(&k, -10, 5, None);
        assert!(r.get("last_hash").is_none());
        verify(&pk, b"retrieve-105", &sig_of(&r)).unwrap();
        let d = delete_params(&k, &["a", "b"]);
        verify(&pk, b"deleteab", &sig_of(&d)).unwrap();
        let e = expire_shorten_params(&k, &["a", "b"], 99);
        assert_eq!(e["shorten"], true);
        verify(&pk, b"expireshorten99ab", &sig_of(&e)).unwrap();
        assert_eq!(r["pubkey"], k.session_id().to_hex());
    }

    #[test]
    fn answers_are_read_defensively() {
        let page = parse_retrieve(&json!({
            "messages": [
                {"hash": "h1", "data": "AA=="},
                {"hash": 5, "data": "AA=="},
                {"data": "AA=="},
                {"hash": "", "data": "AA=="},
                {"hash": "h2"},
                {"hash": "h3", "data": "AQ=="}
            ],
            "more": true
        }))
        .unwrap();
        assert_eq!(page.messages.len(), 2);
        assert_eq!(page.unusable, 4);
        assert!(page.more);
        assert!(parse_retrieve(&json!({"nope": 1})).is_err());
        assert!(parse_retrieve(&json!("text")).is_err());

        let e = expect_ok(
            "store",
            SnodeReply {
                status: 406,
                body: json!("timestamp too far"),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("406"), "{e}");
        assert!(e.to_string().contains("timestamp too far"), "{e}");
    }
}
