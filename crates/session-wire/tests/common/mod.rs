//! Loading the known-answer vectors copied from the shared protocol vectors
//! (`tests/vectors/*.json`; schema in the shared vectors README).
#![allow(dead_code)]

use serde_json::Value;

/// One vector: its id and the `input` / `expected` objects.
pub struct Vector {
    pub id: String,
    pub input: Value,
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

/// All vectors of a domain file, e.g. `load("storage")`.
pub fn load(domain: &str) -> Vec<Vector> {
    let path = format!("{}/tests/vectors/{domain}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    doc["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no vectors array"))
        .iter()
        .map(|v| Vector {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            input: v["input"].clone(),
            expected: v["expected"].clone(),
        })
        .collect()
}

/// The vector with this id; panics (failing the test) if it is missing, so a renamed or
/// deleted vector cannot silently stop being checked.
pub fn vector(domain: &str, id: &str) -> Vector {
    load(domain)
        .into_iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("vector {id} not found in {domain}.json"))
}

/// All vectors whose id starts with `prefix`; panics if there are none.
pub fn vectors_with_prefix(domain: &str, prefix: &str) -> Vec<Vector> {
    let found: Vec<Vector> = load(domain)
        .into_iter()
        .filter(|v| v.id.starts_with(prefix))
        .collect();
    assert!(
        !found.is_empty(),
        "no vectors with prefix {prefix} in {domain}.json"
    );
    found
}
