//! Serde helpers for 32-byte keys written as 64 hex characters in onion control JSON.

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// Parses 64 hex characters (either case) into 32 bytes.
pub(crate) fn parse(text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|e| {
        format!(
            "expected 64 hex characters ({e}), got {} characters",
            text.len()
        )
    })?;
    Ok(out)
}

/// `#[serde(with = "hexkey::required")]` for `[u8; 32]`.
pub(crate) mod required {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(key: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(key))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "hexkey::optional")]` for `Option<[u8; 32]>`.
pub(crate) mod optional {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        key: &Option<[u8; 32]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match key {
            Some(k) => s.serialize_str(&hex::encode(k)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse(&text).map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}
