//! Loading the known-answer vectors in `tests/vectors/*.json` (schema: the vectors README
//! of the protocol specs; 64-bit values are decimal strings).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;
use session_swarm::{NodePubkey, SwarmId, SwarmMap};

pub use session_testvectors::Vector;

/// Every vector this crate's tests use, by id: the shared governance and storage vectors,
/// and this crate's own C++-derived reference vectors (`tests/vectors/cxx_reference.json`).
fn all() -> &'static BTreeMap<String, Vector> {
    static ALL: OnceLock<BTreeMap<String, Vector>> = OnceLock::new();
    ALL.get_or_init(|| {
        let own = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/cxx_reference.json");
        let mut out = BTreeMap::new();
        let files = [
            session_testvectors::load("governance"),
            session_testvectors::load("storage"),
            session_testvectors::load_file(&own),
        ];
        for v in files.into_iter().flatten() {
            let id = v.id.clone();
            assert!(
                out.insert(id.clone(), v).is_none(),
                "duplicate vector id {id}"
            );
        }
        out
    })
}

/// The vector with this id; panics if it is missing.
pub fn vector(id: &str) -> &'static Vector {
    all()
        .get(id)
        .unwrap_or_else(|| panic!("vector {id} not found in tests/vectors"))
}

/// Every vector whose id starts with `prefix` (at least one, else panics).
pub fn vectors_with_prefix(prefix: &str) -> Vec<&'static Vector> {
    let found: Vec<&Vector> = all()
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .collect();
    assert!(!found.is_empty(), "no vectors with prefix {prefix}");
    found
}

/// A u64 written as a decimal string.
pub fn dec_u64(v: &Value) -> u64 {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a decimal string, got {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad decimal u64 {v}: {e}"))
}

/// A u64 written as 16 hex digits.
pub fn hex_u64(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("bad hex u64 {s}: {e}"))
}

/// A JSON number.
pub fn num(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// A JSON array of numbers.
pub fn nums(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(num)
        .collect()
}

/// Hex bytes.
pub fn hex_bytes(v: &Value) -> Vec<u8> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

/// The node key the swarm vectors call `n`: the 32-byte big-endian integer `n`.
pub fn key(n: u64) -> NodePubkey {
    let mut k = [0u8; 32];
    k[24..].copy_from_slice(&n.to_be_bytes());
    session_swarm::node::Ed25519PublicKey(k)
}

/// Back from [`key`].
pub fn key_num(k: &NodePubkey) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&k.0[24..]);
    u64::from_be_bytes(w)
}

/// A swarm map written as `{ "<16 hex id>": [n, …] }`.
pub fn swarm_map(v: &Value) -> SwarmMap<NodePubkey> {
    v.as_object()
        .unwrap_or_else(|| panic!("expected a swarm map object, got {v}"))
        .iter()
        .map(|(id, members)| {
            (
                SwarmId(hex_u64(id)),
                nums(members).into_iter().map(key).collect(),
            )
        })
        .collect()
}

/// A swarm map in the vectors' notation, for readable comparisons.
pub fn as_numbers(m: &SwarmMap<NodePubkey>) -> BTreeMap<String, Vec<u64>> {
    m.iter()
        .map(|(id, members)| (format!("{id}"), members.iter().map(key_num).collect()))
        .collect()
}
