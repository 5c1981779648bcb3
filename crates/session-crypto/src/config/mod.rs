//! Config messages: the encrypted, mergeable documents that sync an account's devices and
//! hold group state (client-protocol §6).
//!
//! This module has the byte-level pieces:
//!
//! * deterministic config encryption ([`encrypt`], [`decrypt`], §6.5) and the encryption
//!   [`ConfigDomain`]s (§6.1);
//! * prefix zero padding to [`padded_size`] and the push pipeline's transforms
//!   ([`encode_for_push`], [`decode_pushed`], §6.4);
//! * the message format itself, with canonical data rules, strict parsing, the Ed25519
//!   signature rule and the message hash ([`message`], §6.2).
//!
//! The merge algorithm (§6.3) is built on these types by the client.

pub mod message;
pub(crate) mod zstd;

pub use message::{
    ConfigDict, ConfigDiff, ConfigMessage, ConfigScalar, ConfigValue, DEFAULT_LAG, DiffOp,
    ParsedConfigMessage, SeqnoHash, config_diff, message_hash, sign_config_message,
    verify_config_signature,
};

use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::error::{CryptoError, Result, to_array};

/// Bytes [`encrypt`] adds: the 16-byte tag and the appended 24-byte nonce.
pub const ENCRYPT_OVERHEAD: usize = TAG_LEN + XCHACHA_NONCE_LEN;

/// Largest config message that may be stored on a swarm (after encryption).
pub const MAX_CONFIG_MESSAGE_SIZE: usize = 76_800;

/// Largest plaintext a `'z'`-compressed config may expand to; larger ones are rejected
/// rather than decompressed.
pub const MAX_DECOMPRESSED_CONFIG_SIZE: usize = 8 * 1024 * 1024;

/// Domain lengths [`encrypt`] accepts.
pub const MAX_DOMAIN_LEN: usize = 24;

/// Prefix of the BLAKE2b key that derives the nonce (followed by the domain).
const NONCE_KEY_PREFIX: &[u8] = b"libsessionutil-config-encrypted-";

/// The config types that are pushed encrypted, each with its encryption domain string and
/// swarm namespace (client-protocol §6.1). Group keys (namespace 12) are not a config
/// message: see [`crate::groups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigDomain {
    /// The user's own profile (namespace 2).
    UserProfile,
    /// Contacts (namespace 3).
    Contacts,
    /// Read/unread state of conversations (namespace 4).
    ConvoInfoVolatile,
    /// Groups and communities the user is in (namespace 5).
    UserGroups,
    /// A group's info, signed by the group key (namespace 13).
    GroupInfo,
    /// A group's member list, signed by the group key (namespace 14).
    GroupMembers,
}

impl ConfigDomain {
    /// Every domain.
    pub const ALL: [Self; 6] = [
        Self::UserProfile,
        Self::Contacts,
        Self::ConvoInfoVolatile,
        Self::UserGroups,
        Self::GroupInfo,
        Self::GroupMembers,
    ];

    /// The exact domain string used in the key and nonce derivation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserProfile => "UserProfile",
            Self::Contacts => "Contacts",
            Self::ConvoInfoVolatile => "ConvoInfoVolatile",
            Self::UserGroups => "UserGroups",
            Self::GroupInfo => "groups::Info",
            Self::GroupMembers => "groups::Members",
        }
    }

    /// The swarm namespace the config is stored in.
    pub fn namespace(self) -> i16 {
        match self {
            Self::UserProfile => 2,
            Self::Contacts => 3,
            Self::ConvoInfoVolatile => 4,
            Self::UserGroups => 5,
            Self::GroupInfo => 13,
            Self::GroupMembers => 14,
        }
    }

    /// The domain stored in `namespace`, if any.
    pub fn from_namespace(namespace: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.namespace() == namespace)
    }

    /// Whether messages of this config carry (and require) a group-key signature.
    pub fn is_signed(self) -> bool {
        matches!(self, Self::GroupInfo | Self::GroupMembers)
    }
}

impl std::fmt::Display for ConfigDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The size a plaintext of `size` bytes is padded to so that, with `overhead` more bytes,
/// the total is a multiple of 256 (below 5120 bytes in total), 1024 (below 20480), 2048
/// (below 40960) or else 5120. Never less than `size`.
pub fn padded_size(size: usize, overhead: usize) -> usize {
    let total = size.saturating_add(overhead);
    let chunk = match total {
        t if t < 5120 => 256,
        t if t < 20480 => 1024,
        t if t < 40960 => 2048,
        _ => 5120,
    };
    total
        .div_ceil(chunk)
        .saturating_mul(chunk)
        .saturating_sub(overhead)
        .max(size)
}

/// Prefixes `data` with zero bytes up to [`padded_size`]`(len, overhead)` (configs are
/// padded at the front; the receiver strips leading zeros, which a serialized config never
/// starts with).
pub fn pad_prefix(data: &[u8], overhead: usize) -> Vec<u8> {
    let target = padded_size(data.len(), overhead);
    let mut out = vec![0u8; target - data.len()];
    out.extend_from_slice(data);
    out
}

fn check_domain(domain: &str) -> Result<()> {
    if domain.is_empty() || domain.len() > MAX_DOMAIN_LEN {
        return Err(CryptoError::InvalidLength {
            what: "config encryption domain",
            expected: "1 to 24",
            got: domain.len(),
        });
    }
    Ok(())
}

/// `BLAKE2b-32(key_base || u64_be(len) || domain)`.
fn encryption_key(key_base: &[u8; 32], len: usize, domain: &str) -> zeroize::Zeroizing<[u8; 32]> {
    let len = (len as u64).to_be_bytes();
    zeroize::Zeroizing::new(crate::hash::blake2b::<32>(&[
        key_base,
        &len,
        domain.as_bytes(),
    ]))
}

/// The deterministic nonce `BLAKE2b-24(plaintext, key = "libsessionutil-config-encrypted-" || domain)`.
/// It depends only on the plaintext and domain, so identical configs encrypt identically and
/// the swarm de-duplicates them.
pub fn config_nonce(plaintext: &[u8], domain: &str) -> Result<[u8; XCHACHA_NONCE_LEN]> {
    check_domain(domain)?;
    let mut key = Vec::with_capacity(NONCE_KEY_PREFIX.len() + domain.len());
    key.extend_from_slice(NONCE_KEY_PREFIX);
    key.extend_from_slice(domain.as_bytes());
    Ok(crate::hash::blake2b_keyed::<XCHACHA_NONCE_LEN>(
        &key,
        &[plaintext],
    ))
}

/// Deterministic config encryption (§6.5): `XChaCha20-Poly1305(key, nonce, plaintext) || nonce`
/// with `key = BLAKE2b-32(key_base || u64_be(len) || domain)` and the nonce from
/// [`config_nonce`]. `domain` must be 1–24 bytes (use [`ConfigDomain::as_str`]).
pub fn encrypt(plaintext: &[u8], key_base: &[u8; 32], domain: &str) -> Result<Vec<u8>> {
    let nonce = config_nonce(plaintext, domain)?;
    let key = encryption_key(key_base, plaintext.len(), domain);
    let mut out = xchacha20poly1305_encrypt(&key, &nonce, &[], plaintext);
    out.extend_from_slice(&nonce);
    Ok(out)
}

/// Reverses [`encrypt`]; [`CryptoError::DecryptionFailed`] for a wrong key base or domain or
/// altered bytes.
pub fn decrypt(ciphertext: &[u8], key_base: &[u8; 32], domain: &str) -> Result<Vec<u8>> {
    const WHAT: &str = "config message";
    check_domain(domain)?;
    let Some(len) = ciphertext.len().checked_sub(ENCRYPT_OVERHEAD) else {
        return Err(CryptoError::InvalidLength {
            what: "encrypted config message",
            expected: "at least 40",
            got: ciphertext.len(),
        });
    };
    let (body, nonce) = ciphertext.split_at(ciphertext.len() - XCHACHA_NONCE_LEN);
    let nonce = to_array::<XCHACHA_NONCE_LEN>("config nonce", nonce)?;
    let key = encryption_key(key_base, len, domain);
    xchacha20poly1305_decrypt(&key, &nonce, &[], body, WHAT)
}

/// The push pipeline's byte transforms (§6.4) for one serialized config message: prefix
/// zero padding to [`padded_size`]`(len, 40)`, then [`encrypt`] with `key_base` (the account
/// seed for user configs, the newest group key for group configs).
///
/// The optional `'z'` zstd stage is not applied: it is only ever used "if smaller", and
/// receivers accept both forms. Fails with [`CryptoError::InvalidLength`] if the result
/// exceeds [`MAX_CONFIG_MESSAGE_SIZE`]. (The transitional protobuf wrap of user configs,
/// §6.6, happens after this, elsewhere.)
pub fn encode_for_push(
    serialized: &[u8],
    key_base: &[u8; 32],
    domain: ConfigDomain,
) -> Result<Vec<u8>> {
    let padded = zeroize::Zeroizing::new(pad_prefix(serialized, ENCRYPT_OVERHEAD));
    let out = encrypt(&padded, key_base, domain.as_str())?;
    if out.len() > MAX_CONFIG_MESSAGE_SIZE {
        return Err(CryptoError::InvalidLength {
            what: "encrypted config message",
            expected: "at most 76800",
            got: out.len(),
        });
    }
    Ok(out)
}

/// A config message recovered by [`decode_pushed`].
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedConfig {
    /// The serialized config message (unpadded, decompressed), starting with `d`.
    pub serialized: Vec<u8>,
    /// Which of the candidate key bases decrypted it.
    pub key_index: usize,
}

impl std::fmt::Debug for DecodedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedConfig")
            .field("len", &self.serialized.len())
            .field("key_index", &self.key_index)
            .finish()
    }
}

/// The receive side of the push pipeline: try each key base in order, strip the leading
/// zero padding, decompress a `'z'` payload (bounded by [`MAX_DECOMPRESSED_CONFIG_SIZE`]),
/// and require the result to be a bt-dict (`d…`). Multipart messages (`'m'`, reserved) are
/// rejected as [`CryptoError::Malformed`].
pub fn decode_pushed<'a, I>(
    ciphertext: &[u8],
    key_bases: I,
    domain: ConfigDomain,
) -> Result<DecodedConfig>
where
    I: IntoIterator<Item = &'a [u8; 32]>,
{
    const WHAT: &str = "config message";
    let mut found = None;
    for (i, key) in key_bases.into_iter().enumerate() {
        match decrypt(ciphertext, key, domain.as_str()) {
            Ok(plain) => {
                found = Some((i, zeroize::Zeroizing::new(plain)));
                break;
            }
            Err(CryptoError::DecryptionFailed { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    let Some((key_index, plain)) = found else {
        return Err(CryptoError::DecryptionFailed { what: WHAT });
    };
    let start = plain.iter().position(|b| *b != 0).unwrap_or(plain.len());
    let body = &plain[start..];
    let malformed = |reason: &str| CryptoError::Malformed {
        what: WHAT,
        reason: reason.into(),
    };
    let serialized = match body.first() {
        None => return Err(malformed("contains no data")),
        Some(b'z') => zstd::decompress(&body[1..], MAX_DECOMPRESSED_CONFIG_SIZE, WHAT)?,
        Some(b'm') => return Err(malformed("multipart config messages are not supported")),
        Some(_) => body.to_vec(),
    };
    match serialized.first() {
        Some(b'd') => Ok(DecodedConfig {
            serialized,
            key_index,
        }),
        Some(other) => Err(CryptoError::Malformed {
            what: WHAT,
            reason: format!("unsupported config type byte 0x{other:02x} (expected 'd')"),
        }),
        None => Err(malformed("decompressed to nothing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_size_never_shrinks_or_panics() {
        assert_eq!(padded_size(0, 0), 0);
        assert_eq!(padded_size(usize::MAX, 40), usize::MAX);
        for s in [0, 1, 215, 216, 217, 5000, 20000, 50000] {
            let p = padded_size(s, 40);
            assert!(p >= s);
        }
    }

    #[test]
    fn domains_round_trip_namespaces() {
        for d in ConfigDomain::ALL {
            assert_eq!(ConfigDomain::from_namespace(d.namespace()), Some(d));
            assert!((1..=24).contains(&d.as_str().len()));
        }
        assert_eq!(ConfigDomain::from_namespace(12), None);
    }

    #[test]
    fn short_ciphertext_and_bad_domain() {
        assert!(matches!(
            decrypt(&[0u8; 39], &[0; 32], "x"),
            Err(CryptoError::InvalidLength { got: 39, .. })
        ));
        assert!(matches!(
            encrypt(b"x", &[0; 32], ""),
            Err(CryptoError::InvalidLength { got: 0, .. })
        ));
        assert!(encrypt(b"x", &[0; 32], &"y".repeat(25)).is_err());
    }
}
