//! Typed account ids: one prefix byte followed by a 32-byte key, written as 66 lowercase
//! hex characters on the wire.

use std::fmt;
use std::str::FromStr;

use crate::error::{CryptoError, Result};

/// The prefixes seen on the wire (client-protocol §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdPrefix {
    /// `00`: a raw Ed25519 key ("unblinded" community auth).
    Unblinded = 0x00,
    /// `03`: a groups-v2 group, followed by the group's Ed25519 key.
    Group = 0x03,
    /// `05`: a Session account, followed by its X25519 key.
    Standard = 0x05,
    /// `07`: a version-blinded Ed25519 key (file-server version checks).
    VersionBlinded = 0x07,
    /// `15`: a blind15 community-scoped key.
    Blinded15 = 0x15,
    /// `25`: a blind25 community-scoped key.
    Blinded25 = 0x25,
}

impl IdPrefix {
    /// Parses a prefix byte.
    pub fn from_byte(b: u8) -> Result<Self> {
        Ok(match b {
            0x00 => Self::Unblinded,
            0x03 => Self::Group,
            0x05 => Self::Standard,
            0x07 => Self::VersionBlinded,
            0x15 => Self::Blinded15,
            0x25 => Self::Blinded25,
            other => {
                return Err(CryptoError::WrongIdPrefix {
                    found: format!("{other:02x}"),
                    expected: "one of 00, 03, 05, 07, 15, 25",
                });
            }
        })
    }

    /// The prefix byte.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// Whether the key after this prefix is an Ed25519 key (every prefix but `05`).
    pub fn is_ed25519(self) -> bool {
        self != Self::Standard
    }
}

/// A prefixed account id such as a Session ID (`05…`), a group id (`03…`) or a blinded id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId {
    prefix: IdPrefix,
    key: [u8; 32],
}

impl AccountId {
    /// Builds an id from a prefix and key.
    pub fn new(prefix: IdPrefix, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }

    /// From the 33 raw bytes (prefix byte + key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 33 {
            return Err(CryptoError::InvalidLength {
                what: "account id",
                expected: "33",
                got: bytes.len(),
            });
        }
        let prefix = IdPrefix::from_byte(bytes[0])?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..]);
        Ok(Self { prefix, key })
    }

    /// Parses 66 hex characters and requires one of `allowed` prefixes.
    pub fn parse_with(text: &str, allowed: &[IdPrefix], expected: &'static str) -> Result<Self> {
        let id: Self = text.parse()?;
        if allowed.contains(&id.prefix) {
            Ok(id)
        } else {
            Err(CryptoError::WrongIdPrefix {
                found: format!("{:02x}", id.prefix.byte()),
                expected,
            })
        }
    }

    /// Parses a Session ID: must be `05` + 64 hex characters.
    pub fn parse_session_id(text: &str) -> Result<Self> {
        Self::parse_with(text, &[IdPrefix::Standard], "05 (a Session ID)")
    }

    /// The prefix.
    pub fn prefix(&self) -> IdPrefix {
        self.prefix
    }

    /// The 32-byte key after the prefix.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The 33 raw bytes.
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = self.prefix.byte();
        out[1..].copy_from_slice(&self.key);
        out
    }

    /// The 66-character lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

impl FromStr for AccountId {
    type Err = CryptoError;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != 66 {
            return Err(CryptoError::InvalidLength {
                what: "account id (hex characters)",
                expected: "66",
                got: text.len(),
            });
        }
        let bytes = hex::decode(text).map_err(|e| CryptoError::InvalidHex {
            what: "account id",
            reason: e.to_string(),
        })?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn round_trip_every_prefix() {
        for p in ["00", "03", "05", "07", "15", "25"] {
            let text = format!("{p}{}", &SID[2..]);
            let id: AccountId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(AccountId::from_bytes(&id.to_bytes()).unwrap(), id);
        }
    }

    #[test]
    fn clear_errors() {
        assert!(matches!(
            format!("06{}", &SID[2..]).parse::<AccountId>(),
            Err(CryptoError::WrongIdPrefix { .. })
        ));
        assert!(matches!(
            SID[..64].parse::<AccountId>(),
            Err(CryptoError::InvalidLength { got: 64, .. })
        ));
        assert!(matches!(
            format!("05{}", "zz".repeat(32)).parse::<AccountId>(),
            Err(CryptoError::InvalidHex { .. })
        ));
        let group = format!("03{}", &SID[2..]);
        let err = AccountId::parse_session_id(&group).unwrap_err();
        assert!(err.to_string().contains("05"), "{err}");
        assert!(AccountId::parse_session_id(SID).is_ok());
    }
}
