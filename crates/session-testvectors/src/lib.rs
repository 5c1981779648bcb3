//! Test support: the project's known-answer vectors (`vectors/*.json`, the one copy in
//! the repository) and a loader that fails loudly.
//!
//! Every accessor panics with the vector id and field name when something is missing or
//! malformed, and [`vector`] / [`with_prefix`] panic when nothing matches: a renamed or
//! deleted vector must fail a test, never silently stop being checked. This crate is only
//! ever a dev-dependency.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Stable identifier, unique across all files.
    pub id: String,
    /// Where the expected values come from (upstream test, or "derived").
    pub source: String,
    /// The `input` object.
    pub input: Value,
    /// The `expected` object.
    pub expected: Value,
}

impl Vector {
    /// A hex field of `input`, decoded.
    pub fn input_hex(&self, key: &str) -> Vec<u8> {
        hex_field(&self.input, key, &self.id)
    }

    /// A hex field of `expected`, decoded.
    pub fn expected_hex(&self, key: &str) -> Vec<u8> {
        hex_field(&self.expected, key, &self.id)
    }

    /// A string field of `input`.
    pub fn input_str(&self, key: &str) -> &str {
        str_field(&self.input, key, &self.id)
    }

    /// A string field of `expected`.
    pub fn expected_str(&self, key: &str) -> &str {
        str_field(&self.expected, key, &self.id)
    }

    /// An integer field of `input`.
    pub fn input_i64(&self, key: &str) -> i64 {
        int_field(&self.input, key, &self.id)
    }

    /// An integer field of `expected`.
    pub fn expected_i64(&self, key: &str) -> i64 {
        int_field(&self.expected, key, &self.id)
    }
}

fn str_field<'a>(obj: &'a Value, key: &str, id: &str) -> &'a str {
    obj.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {id}: missing string field {key}"))
}

fn int_field(obj: &Value, key: &str, id: &str) -> i64 {
    obj.get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("vector {id}: missing integer field {key}"))
}

fn hex_field(obj: &Value, key: &str, id: &str) -> Vec<u8> {
    hex::decode(str_field(obj, key, id))
        .unwrap_or_else(|e| panic!("vector {id}: field {key} is not hex: {e}"))
}

/// The folder holding the vector files.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// A file in the vector folder (e.g. the mnemonic word list).
pub fn path(file_name: &str) -> PathBuf {
    dir().join(file_name)
}

/// All vectors of a domain, e.g. `load("storage")` reads `storage.json`.
pub fn load(domain: &str) -> Vec<Vector> {
    load_file(&path(&format!("{}.json", domain.trim_end_matches(".json"))))
}

/// All vectors of a vector file elsewhere (e.g. a crate's own derived vectors), in the
/// same schema.
pub fn load_file(file: &Path) -> Vec<Vector> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    doc["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no vectors array", file.display()))
        .iter()
        .map(|v| Vector {
            id: v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: a vector without id", file.display()))
                .to_string(),
            source: v["source"].as_str().unwrap_or_default().to_string(),
            input: v["input"].clone(),
            expected: v["expected"].clone(),
        })
        .collect()
}

/// The vector with this id; panics (failing the test) if it is missing.
pub fn vector(domain: &str, id: &str) -> Vector {
    load(domain)
        .into_iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("vector {id} not found in {domain}"))
}

/// Every vector whose id starts with `prefix`; panics if there is none.
pub fn with_prefix(domain: &str, prefix: &str) -> Vec<Vector> {
    let found: Vec<Vector> = load(domain)
        .into_iter()
        .filter(|v| v.id.starts_with(prefix))
        .collect();
    assert!(
        !found.is_empty(),
        "no vectors with prefix {prefix} in {domain}"
    );
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_loads_and_ids_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Some(domain) = name.strip_suffix(".json") {
                let vs = load(domain);
                assert!(!vs.is_empty(), "{name} has no vectors");
                for v in vs {
                    assert!(seen.insert(v.id.clone()), "duplicate vector id {}", v.id);
                }
            }
        }
        assert!(seen.len() > 100);
    }

    #[test]
    #[should_panic(expected = "not found")]
    fn a_missing_id_fails() {
        vector("identity", "no.such.vector");
    }
}
