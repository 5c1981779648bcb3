//! Small value types with their JSON forms: 32-byte keys and 64-byte signatures as hex,
//! byte strings as hex, Ethereum-style contributor addresses.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte key (Ed25519 or X25519 public key, hash), hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Key32(pub [u8; 32]);

impl Key32 {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("expected 32 bytes (64 hex characters), got {}", b.len())
        })?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Key32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Key32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(D::Error::custom)
    }
}

/// A 64-byte Ed25519 signature, hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig64(pub [u8; 64]);

impl Sig64 {
    /// Parses 128 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("expected 64 bytes (128 hex characters), got {}", b.len())
        })?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for Sig64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig64({}…)", hex::encode(&self.0[..4]))
    }
}

impl Serialize for Sig64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sig64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(D::Error::custom)
    }
}

/// A byte string, hex in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({} bytes)", self.0.len())
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.trim())
            .map(Self)
            .map_err(|e| D::Error::custom(format!("not hex: {e}")))
    }
}

/// A contributor's (Ethereum-style) address: `0x` + 40 hex digits; shown lower-case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let body = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(|| format!("address {s:?} must start with 0x"))?;
        let bytes = hex::decode(body).map_err(|e| format!("address {s:?} is not hex: {e}"))?;
        let arr: [u8; 20] = bytes
            .try_into()
            .map_err(|_| format!("address {s:?} must have 40 hex digits"))?;
        Ok(Self(arr))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let k = Key32([0xab; 32]);
        let j = serde_json::to_string(&k).unwrap();
        assert_eq!(serde_json::from_str::<Key32>(&j).unwrap(), k);
        assert!(serde_json::from_str::<Key32>("\"abcd\"").is_err());
        let a: Address = "0xAbCdEf0123456789abcdef0123456789ABCDEF01"
            .parse()
            .unwrap();
        assert_eq!(a.to_string(), "0xabcdef0123456789abcdef0123456789abcdef01");
        assert!(
            "abcdef0123456789abcdef0123456789abcdef01"
                .parse::<Address>()
                .is_err()
        );
        assert!("0x1234".parse::<Address>().is_err());
    }
}
