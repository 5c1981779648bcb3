//! Typed access to a JSON `params` object with the reference's acceptance rules and
//! error messages (`Invalid value given for '<name>': expected <type>` …), plus the
//! lenient base64 the reference accepts (standard or URL-safe alphabet, padding
//! optional).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::error::{NodeError, Result};
use crate::types::{Namespace, NsSelector};

/// Timestamps below this (1,000,000 s in ms) look like seconds and are rejected.
const MIN_MS_TIMESTAMP: u64 = 1_000_000_000;

fn type_error(name: &str, desc: &str) -> NodeError {
    NodeError::invalid(format!("Invalid value given for '{name}': expected {desc}"))
}

fn u64_to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A borrowed `params` object.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a>(pub &'a Map<String, Value>);

impl<'a> Params<'a> {
    /// The value of `name`, treating `null` as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A boolean.
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(type_error(name, "boolean")),
        }
    }

    /// A non-negative integer.
    pub fn u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| type_error(name, "positive integer")),
        }
    }

    /// A 32-bit signed integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|i| i32::try_from(*i).is_ok())
                .map(Some)
                .ok_or_else(|| type_error(name, "integer")),
        }
    }

    /// A string.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(type_error(name, "string")),
        }
    }

    /// A list of strings, or a single string.
    pub fn str_array(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| type_error(name, "string array")),
            Some(_) => Err(type_error(name, "string array")),
        }
    }

    /// A list of 32-bit integers, or a single one.
    pub fn int_array(&self, name: &str) -> Result<Option<Vec<i64>>> {
        let one = |v: &Value| v.as_i64().filter(|i| i32::try_from(*i).is_ok());
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(one)
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| type_error(name, "integer array")),
            Some(v) => one(v)
                .map(|i| Some(vec![i]))
                .ok_or_else(|| type_error(name, "integer array")),
        }
    }

    /// A millisecond timestamp: a non-negative integer, rejected if it looks like
    /// seconds.
    pub fn timestamp(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => {
                let ms = v
                    .as_u64()
                    .ok_or_else(|| type_error(name, "integer timestamp (in milliseconds)"))?;
                if ms < MIN_MS_TIMESTAMP {
                    return Err(NodeError::invalid(format!(
                        "Invalid timestamp for '{name}': timestamp must be in milliseconds"
                    )));
                }
                Ok(Some(u64_to_i64(ms)))
            }
        }
    }

    /// A list of millisecond timestamps, or a single one (no seconds check, as in the
    /// reference).
    pub fn timestamp_array(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_u64().map(u64_to_i64))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| type_error(name, "timestamp array")),
            Some(v) => v
                .as_u64()
                .map(|t| Some(vec![u64_to_i64(t)]))
                .ok_or_else(|| type_error(name, "timestamp array")),
        }
    }

    fn ns_from_int(name: &str, v: &Value) -> Result<Namespace> {
        let id = v.as_i64().ok_or_else(|| {
            // Huge unsigned values are integers too, just out of range.
            if v.is_u64() {
                NodeError::invalid(format!(
                    "Invalid value given for '{name}': value out of range"
                ))
            } else {
                type_error(name, "16-bit integer")
            }
        })?;
        i16::try_from(id).map(Namespace).map_err(|_| {
            NodeError::invalid(format!(
                "Invalid value given for '{name}': value out of range"
            ))
        })
    }

    /// A namespace (−32768…32767).
    pub fn namespace(&self, name: &str) -> Result<Option<Namespace>> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Self::ns_from_int(name, v).map(Some)
            }
            Some(_) => Err(type_error(name, "16-bit integer")),
        }
    }

    /// A namespace or the string `"all"`.
    pub fn namespace_or_all(&self, name: &str) -> Result<Option<NsSelector>> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Self::ns_from_int(name, v).map(|ns| Some(NsSelector::One(ns)))
            }
            Some(Value::String(s)) if s == "all" => Ok(Some(NsSelector::All)),
            Some(_) => Err(type_error(name, "integer or \"all\"")),
        }
    }

    /// An integer that may also be given as a decimal string (legacy `store` fields).
    pub fn stringified_i64(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| {
                NodeError::invalid(format!(
                    "Invalid value given for '{name}': {}",
                    Value::String(s.clone())
                ))
            }),
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_error(name, "integer")),
        }
    }

    /// A non-negative integer that may also be given as a decimal string.
    pub fn stringified_u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            Some(Value::String(s)) => s.parse::<u64>().map(Some).map_err(|_| {
                NodeError::invalid(format!(
                    "Invalid value given for '{name}': {}",
                    Value::String(s.clone())
                ))
            }),
            _ => self.u64(name),
        }
    }
}

/// Whether `s` is base64 as the reference accepts it: standard or URL-safe alphabet,
/// with or without `=` padding.
pub fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    let mut n = b.len();
    if n.is_multiple_of(4) && n >= 2 && b[n - 1] == b'=' {
        n -= 1;
        if b[n - 1] == b'=' {
            n -= 1;
        }
    }
    if n % 4 == 1 {
        return false;
    }
    b[..n]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 accepted by [`is_base64`].
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    if !is_base64(s) {
        return None;
    }
    let trimmed = s.trim_end_matches('=');
    if trimmed.contains(['-', '_']) {
        let std: String = trimmed
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        LENIENT.decode(std).ok()
    } else {
        LENIENT.decode(trimmed).ok()
    }
}

/// Standard padded base64 (what the reference emits for data and signatures).
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn base64_rules() {
        assert!(is_base64("aGVsbG8"));
        assert!(is_base64("aGVsbG8="));
        assert!(is_base64("a-_b"));
        assert!(!is_base64("aGVsbG8=="));
        assert!(!is_base64("a"));
        assert!(!is_base64("ab!c"));
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(
            decode_base64("-_-_").unwrap(),
            decode_base64("+/+/").unwrap()
        );
        assert!(decode_base64("").unwrap().is_empty());
    }

    #[test]
    fn typed_fields() {
        let m = p(
            json!({"b": true, "n": 5, "neg": -3, "s": "x", "ts": 1_700_000_000_000u64,
            "secs": 999_999_999u64, "ns": -10, "big": 40000, "all": "all", "f": 1.5,
            "arr": ["a", "b"], "null": null}),
        );
        let p = Params(&m);
        assert_eq!(p.bool("b").unwrap(), Some(true));
        assert!(p.bool("n").is_err());
        assert_eq!(p.u64("n").unwrap(), Some(5));
        assert!(p.u64("neg").is_err());
        assert!(p.u64("f").is_err());
        assert_eq!(p.int("neg").unwrap(), Some(-3));
        assert_eq!(p.str("s").unwrap(), Some("x"));
        assert_eq!(p.str("null").unwrap(), None);
        assert_eq!(p.timestamp("ts").unwrap(), Some(1_700_000_000_000));
        let e = p.timestamp("secs").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid request: Invalid timestamp for 'secs': timestamp must be in milliseconds"
        );
        assert_eq!(p.namespace("ns").unwrap(), Some(Namespace(-10)));
        let e = p.namespace("big").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid request: Invalid value given for 'big': value out of range"
        );
        assert_eq!(p.namespace_or_all("all").unwrap(), Some(NsSelector::All));
        let e = p.namespace_or_all("s").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid request: Invalid value given for 's': expected integer or \"all\""
        );
        assert!(p.namespace("s").is_err());
        assert_eq!(p.str_array("s").unwrap(), Some(vec!["x".to_owned()]));
        assert_eq!(p.str_array("arr").unwrap().unwrap().len(), 2);
        assert!(p.str_array("n").is_err());
        assert_eq!(p.timestamp_array("n").unwrap(), Some(vec![5]));
    }

    #[test]
    fn stringified() {
        let m = p(json!({"a": "123", "b": "x1", "c": 7}));
        let p = Params(&m);
        assert_eq!(p.stringified_i64("a").unwrap(), Some(123));
        assert_eq!(p.stringified_u64("c").unwrap(), Some(7));
        let e = p.stringified_u64("b").unwrap_err().to_string();
        assert_eq!(e, "invalid request: Invalid value given for 'b': \"x1\"");
    }
}
