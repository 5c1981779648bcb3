//! ONS / SNS names (network-governance §4): name rules, the name hash the registry indexes
//! records by, and the encryption of record values under a key only the name gives.
//!
//! * Names are ASCII-lower-cased before everything else.
//! * `name_hash = BLAKE2b-256(name)` (unkeyed); its canonical text form is padded standard
//!   base64 (44 characters).
//! * Current scheme (oxend HF16+): `key = BLAKE2b-256(name, key = name_hash)`, value
//!   encrypted with XChaCha20-Poly1305 under a random 24-byte nonce and no associated data;
//!   stored as `ciphertext ‖ tag ‖ nonce`, returned by `ons_resolve` as `encrypted_value`
//!   (without the nonce) and `nonce`.
//! * Legacy scheme (HF15, Session records only, 49 bytes): `key = Argon2id(name, salt = 16
//!   zero bytes, ops 3, mem 256 MiB)` (libsodium `OPSLIMIT_MODERATE` / `MEMLIMIT_MODERATE`),
//!   XSalsa20-Poly1305 `crypto_secretbox_easy` with an all-zero nonce. Current desktop
//!   clients no longer read these; oxend still does, and so does
//!   [`decrypt_stored_value`]. The Argon2id step needs 256 MiB and a fraction of a second.
//!
//! A Session record's value is the 33-byte Session ID including its `05` prefix.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::account_id::{AccountId, IdPrefix};
use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::error::{CryptoError, Result};
use crate::hash::{blake2b, blake2b_keyed};
use crate::random::random_array;
use crate::sealed_box::{MAC_LEN, secretbox_easy, secretbox_open_easy};

/// Length of a name hash.
pub const NAME_HASH_LEN: usize = 32;
/// Length of a record nonce.
pub const NONCE_LEN: usize = XCHACHA_NONCE_LEN;
/// Bytes the current scheme adds to a value: Poly1305 tag + appended nonce.
pub const ENCRYPTION_OVERHEAD: usize = TAG_LEN + NONCE_LEN;
/// A Session record's plaintext: `05` ‖ X25519 key.
pub const SESSION_VALUE_LEN: usize = 33;
/// A Lokinet record's plaintext: an Ed25519 key.
pub const LOKINET_VALUE_LEN: usize = 32;
/// A wallet record's plaintext: type byte + spend key + view key (65), + 8-byte payment id
/// for integrated addresses (73).
pub const WALLET_VALUE_LENS: [usize; 2] = [65, 73];
/// Stored length of a legacy (HF15, Argon2) Session record: value + secretbox MAC.
pub const LEGACY_SESSION_STORED_LEN: usize = SESSION_VALUE_LEN + MAC_LEN;
/// Longest Session name.
pub const SESSION_NAME_MAX: usize = 64;
/// Longest wallet name.
pub const WALLET_NAME_MAX: usize = 64;
/// Longest Lokinet name containing a hyphen, `.loki` included (a 63-character DNS label).
pub const LOKINET_NAME_MAX: usize = 63 + 5;
/// Longest Lokinet name without a hyphen, `.loki` included (32 characters, so that it can
/// never look like a 52-character `.loki` address).
pub const LOKINET_NAME_MAX_NO_HYPHEN: usize = 32 + 5;

/// Argon2id cost of the legacy scheme: libsodium `crypto_pwhash_OPSLIMIT_MODERATE`.
const LEGACY_OPS: u32 = 3;
/// libsodium `crypto_pwhash_MEMLIMIT_MODERATE` (256 MiB) in KiB.
const LEGACY_MEM_KIB: u32 = 256 * 1024;

/// The record types (oxend `mapping_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnsType {
    /// 0: name → Session ID.
    Session,
    /// 1: name → Oxen wallet address.
    Wallet,
    /// 2: name.loki → Lokinet address (codes 3–5 are the 2/5/10-year registration variants
    /// of the same type and map here).
    Lokinet,
}

impl OnsType {
    /// The type code used in the database and in `ons_resolve`.
    pub fn code(self) -> u16 {
        match self {
            Self::Session => 0,
            Self::Wallet => 1,
            Self::Lokinet => 2,
        }
    }

    /// Parses a type code.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] for codes oxend does not define.
    pub fn from_code(code: u16) -> Result<Self> {
        match code {
            0 => Ok(Self::Session),
            1 => Ok(Self::Wallet),
            2..=5 => Ok(Self::Lokinet),
            other => Err(CryptoError::Malformed {
                what: "ONS record type",
                reason: format!("unknown type code {other}"),
            }),
        }
    }
}

/// The name as every ONS computation sees it: ASCII letters lower-cased, everything else
/// unchanged.
pub fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn invalid_name(reason: String) -> CryptoError {
    CryptoError::Malformed {
        what: "ONS name",
        reason,
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Checks a name against oxend's registration rules (`validate_ons_name`) and returns its
/// lower-cased form.
///
/// * Session and wallet names: 1–64 characters of `a-z 0-9 _ -`, not starting or ending
///   with `-` (`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$`; punycode `xn--…` is allowed).
/// * Lokinet names: `label.loki` with a label of `a-z 0-9 -` that starts and ends with a
///   letter or digit, at most 32 characters without a hyphen or 63 with one, no `??--…`
///   label other than punycode `xn--…`, and not `localhost.loki`, `loki.loki` or
///   `snode.loki`.
///
/// # Errors
/// [`CryptoError::Malformed`] saying which rule the name breaks.
pub fn validate_name(ty: OnsType, name: &str) -> Result<String> {
    let (min, max) = match ty {
        OnsType::Lokinet if name.contains('-') => ("a.loki".len(), LOKINET_NAME_MAX),
        OnsType::Lokinet => ("a.loki".len(), LOKINET_NAME_MAX_NO_HYPHEN),
        OnsType::Session => (1, SESSION_NAME_MAX),
        OnsType::Wallet => (1, WALLET_NAME_MAX),
    };
    let lower = normalize_name(name);
    let bytes = lower.as_bytes();
    if bytes.len() < min || bytes.len() > max {
        return Err(invalid_name(format!(
            "{} bytes long; names of this type must be {min} to {max} characters",
            bytes.len()
        )));
    }
    match ty {
        OnsType::Lokinet => {
            if ["localhost.loki", "loki.loki", "snode.loki"].contains(&lower.as_str()) {
                return Err(invalid_name(format!("{lower:?} is reserved")));
            }
            let Some(label) = bytes.strip_suffix(b".loki") else {
                return Err(invalid_name("Lokinet names must end with .loki".into()));
            };
            if label.len() >= 4 && &label[2..4] == b"--" && !label.starts_with(b"xn--") {
                return Err(invalid_name(
                    "names with '--' as 3rd and 4th characters are reserved (except punycode \
                     xn--)"
                        .into(),
                ));
            }
            let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
                return Err(invalid_name("the name before .loki is empty".into()));
            };
            if !is_alnum(first) || !is_alnum(last) {
                return Err(invalid_name(
                    "the name before .loki must start and end with a-z or 0-9".into(),
                ));
            }
            if !label.iter().all(|&b| is_alnum(b) || b == b'-') {
                return Err(invalid_name(
                    "Lokinet names may only contain a-z, 0-9 and '-'".into(),
                ));
            }
        }
        OnsType::Session | OnsType::Wallet => {
            if !bytes.iter().all(|&b| is_alnum(b) || b == b'_' || b == b'-') {
                return Err(invalid_name(
                    "only a-z, 0-9, '_' and '-' are permitted".into(),
                ));
            }
            if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
                return Err(invalid_name(
                    "names may not begin or end with a hyphen".into(),
                ));
            }
        }
    }
    Ok(lower)
}

/// Whether [`validate_name`] accepts the name.
pub fn is_valid_name(ty: OnsType, name: &str) -> bool {
    validate_name(ty, name).is_ok()
}

/// `BLAKE2b-256(lower(name))`: the key records are stored and looked up by.
pub fn name_hash(name: &str) -> [u8; NAME_HASH_LEN] {
    blake2b::<NAME_HASH_LEN>(&[normalize_name(name).as_bytes()])
}

/// The canonical text form of a name hash: padded standard base64, 44 characters (what
/// `ons_resolve` takes and the registry stores).
pub fn name_hash_to_base64(hash: &[u8; NAME_HASH_LEN]) -> String {
    STANDARD.encode(hash)
}

/// [`name_hash`] in its canonical base64 form.
pub fn name_hash_base64(name: &str) -> String {
    name_hash_to_base64(&name_hash(name))
}

/// Parses a name hash given as 64 hex characters or as 43/44 base64 characters (with or
/// without padding), as oxend's RPC accepts it.
///
/// # Errors
/// [`CryptoError::InvalidLength`] for other lengths; [`CryptoError::InvalidHex`] or
/// [`CryptoError::InvalidBase64`] if the text does not decode to 32 bytes.
pub fn parse_name_hash(text: &str) -> Result<[u8; NAME_HASH_LEN]> {
    const WHAT: &str = "ONS name hash";
    let text = text.trim();
    match text.len() {
        64 => crate::error::hex_array::<NAME_HASH_LEN>(WHAT, text),
        43 | 44 => {
            let engine = GeneralPurpose::new(
                &alphabet::STANDARD,
                GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(DecodePaddingMode::Indifferent),
            );
            let bytes = engine
                .decode(text)
                .map_err(|_| CryptoError::InvalidBase64 { what: WHAT })?;
            bytes
                .try_into()
                .map_err(|_| CryptoError::InvalidBase64 { what: WHAT })
        }
        got => Err(CryptoError::InvalidLength {
            what: WHAT,
            expected: "64 hex or 43/44 base64 characters",
            got,
        }),
    }
}

/// The current scheme's value key: `BLAKE2b-256(lower(name), key = name_hash)`.
pub fn value_key(name: &str) -> Zeroizing<[u8; 32]> {
    let lower = normalize_name(name);
    let hash = blake2b::<NAME_HASH_LEN>(&[lower.as_bytes()]);
    Zeroizing::new(blake2b_keyed::<32>(&hash, &[lower.as_bytes()]))
}

/// Encrypts a record value for `name` with a random nonce; returns the stored form
/// `ciphertext ‖ tag ‖ nonce` (value length + 40 bytes).
///
/// # Errors
/// [`CryptoError::Rng`] if the random number generator fails.
pub fn encrypt_value(name: &str, value: &[u8]) -> Result<Vec<u8>> {
    let nonce = random_array::<NONCE_LEN>()?;
    Ok(encrypt_value_with_nonce(name, value, &nonce))
}

/// The deterministic twin of [`encrypt_value`].
pub fn encrypt_value_with_nonce(name: &str, value: &[u8], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let key = value_key(name);
    let mut out = xchacha20poly1305_encrypt(&key, nonce, &[], value);
    out.extend_from_slice(nonce);
    out
}

/// Decrypts a value as `ons_resolve` returns it: `encrypted_value` (ciphertext ‖ tag) and
/// `nonce`.
///
/// # Errors
/// [`CryptoError::DecryptionFailed`] if the value does not decrypt under `name` (another
/// name, or altered data).
pub fn decrypt_value(name: &str, ciphertext: &[u8], nonce: &[u8; NONCE_LEN]) -> Result<Vec<u8>> {
    let key = value_key(name);
    xchacha20poly1305_decrypt(&key, nonce, &[], ciphertext, "ONS value")
}

/// Decrypts an `ons_resolve` answer for a Session name and checks that it is a Session ID
/// (33 bytes, `05` prefix).
///
/// # Errors
/// As [`decrypt_value`]; [`CryptoError::InvalidLength`] or [`CryptoError::WrongIdPrefix`] if
/// the plaintext is not a Session ID.
pub fn decrypt_session_id(
    name: &str,
    ciphertext: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<AccountId> {
    session_id_from_value(&decrypt_value(name, ciphertext, nonce)?)
}

fn session_id_from_value(value: &[u8]) -> Result<AccountId> {
    let id = AccountId::from_bytes(value)?;
    if id.prefix() != IdPrefix::Standard {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", id.prefix().byte()),
            expected: "05 (a Session ID)",
        });
    }
    Ok(id)
}

/// Decrypts a record value in the registry's stored form, as oxend's
/// `mapping_value::decrypt` does: a 49-byte Session value is a legacy (Argon2) record;
/// otherwise the value must be `plaintext length + 40` bytes for its type (Session 33,
/// Lokinet 32, wallet 65 or 73) with the nonce in the last 24 bytes.
///
/// # Errors
/// [`CryptoError::InvalidLength`] for a length the type cannot have;
/// [`CryptoError::DecryptionFailed`] if it does not decrypt under `name`.
pub fn decrypt_stored_value(ty: OnsType, name: &str, stored: &[u8]) -> Result<Vec<u8>> {
    if ty == OnsType::Session && stored.len() == LEGACY_SESSION_STORED_LEN {
        return legacy_decrypt_value(name, stored);
    }
    let plain_len = stored.len().checked_sub(ENCRYPTION_OVERHEAD);
    let ok = match (ty, plain_len) {
        (OnsType::Session, Some(n)) => n == SESSION_VALUE_LEN,
        (OnsType::Lokinet, Some(n)) => n == LOKINET_VALUE_LEN,
        (OnsType::Wallet, Some(n)) => WALLET_VALUE_LENS.contains(&n),
        (_, None) => false,
    };
    if !ok {
        return Err(CryptoError::InvalidLength {
            what: "stored ONS value",
            expected: match ty {
                OnsType::Session => "73 (or 49 for a legacy record)",
                OnsType::Lokinet => "72",
                OnsType::Wallet => "105 or 113",
            },
            got: stored.len(),
        });
    }
    let (ciphertext, nonce) = stored.split_at(stored.len() - NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::InvalidLength {
        what: "ONS nonce",
        expected: "24",
        got: nonce.len(),
    })?;
    decrypt_value(name, ciphertext, nonce)
}

/// [`decrypt_stored_value`] for a Session record, checked to be a Session ID.
///
/// # Errors
/// As [`decrypt_stored_value`] and [`decrypt_session_id`].
pub fn decrypt_stored_session_id(name: &str, stored: &[u8]) -> Result<AccountId> {
    session_id_from_value(&decrypt_stored_value(OnsType::Session, name, stored)?)
}

/// The legacy scheme's key: `Argon2id(lower(name), salt = 0¹⁶, t = 3, m = 256 MiB, p = 1)`,
/// i.e. libsodium `crypto_pwhash` with `OPSLIMIT_MODERATE`, `MEMLIMIT_MODERATE`,
/// `ALG_ARGON2ID13`. Needs 256 MiB of memory.
///
/// # Errors
/// [`CryptoError::Malformed`] if Argon2 cannot run (the memory cannot be allocated).
pub fn legacy_value_key(name: &str) -> Result<Zeroizing<[u8; 32]>> {
    let failed = |e: argon2::Error| CryptoError::Malformed {
        what: "legacy ONS key derivation",
        reason: e.to_string(),
    };
    let params = Params::new(LEGACY_MEM_KIB, LEGACY_OPS, 1, Some(32)).map_err(failed)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(normalize_name(name).as_bytes(), &[0u8; 16], &mut key[..])
        .map_err(failed)?;
    Ok(key)
}

/// Decrypts a legacy (HF15) value: `crypto_secretbox_open_easy` (tag ‖ ciphertext) with the
/// Argon2id key and an all-zero nonce.
///
/// # Errors
/// [`CryptoError::InvalidLength`] if shorter than the MAC; [`CryptoError::DecryptionFailed`]
/// if it does not decrypt under `name`.
pub fn legacy_decrypt_value(name: &str, boxed: &[u8]) -> Result<Vec<u8>> {
    if boxed.len() < MAC_LEN {
        return Err(CryptoError::InvalidLength {
            what: "legacy ONS value",
            expected: "at least 16",
            got: boxed.len(),
        });
    }
    let key = legacy_value_key(name)?;
    secretbox_open_easy(&key, &[0u8; 24], boxed, "legacy ONS value")
}

/// Encrypts a value in the legacy (HF15) format, as oxend's `deprecated_heavy` option does:
/// only for tests and for reproducing old records — new records use [`encrypt_value`].
///
/// # Errors
/// As [`legacy_value_key`].
pub fn legacy_encrypt_value(name: &str, value: &[u8]) -> Result<Vec<u8>> {
    let key = legacy_value_key(name)?;
    Ok(secretbox_easy(&key, &[0u8; 24], value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes() {
        for t in [OnsType::Session, OnsType::Wallet, OnsType::Lokinet] {
            assert_eq!(OnsType::from_code(t.code()).unwrap(), t);
        }
        assert_eq!(OnsType::from_code(5).unwrap(), OnsType::Lokinet);
        assert!(OnsType::from_code(6).is_err());
    }

    #[test]
    fn stored_length_checks() {
        let stored = encrypt_value_with_nonce("name", &[5u8; 33], &[1u8; 24]);
        assert_eq!(stored.len(), 73);
        assert!(decrypt_stored_value(OnsType::Session, "name", &stored).is_ok());
        assert!(matches!(
            decrypt_stored_value(OnsType::Lokinet, "name", &stored),
            Err(CryptoError::InvalidLength { got: 73, .. })
        ));
        assert!(matches!(
            decrypt_stored_value(OnsType::Wallet, "name", &stored[..10]),
            Err(CryptoError::InvalidLength { got: 10, .. })
        ));
    }
}
