//! Group messages (namespace 11, client-protocol §5.4).
//!
//! The plaintext (a serialized `Envelope`) is wrapped in the bt-dict
//! `{"": 1, "a": sender Ed25519 pk, "d": data | "z": zstd(data), "s": signature}` where the
//! signature is the sender's Ed25519 signature over `data as stored || group Ed25519 pk`
//! (so a message cannot be replayed into another group). The dict is zero-padded so that
//! `24 + 16 + len` is a multiple of 256, and encrypted with the group key:
//! `nonce(24) || XChaCha20-Poly1305(key, nonce, padded dict)`.

use std::fmt;

use session_bt::RawDict;

use crate::account_id::{AccountId, IdPrefix};
use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, SIGNATURE_LEN};
use crate::error::{CryptoError, Result, to_array};

/// Largest plaintext a group message may carry (before compression, and after
/// decompression).
pub const GROUP_MESSAGE_MAX_PLAINTEXT: usize = 1_000_000;

/// Encrypted group messages are a multiple of this many bytes long.
pub const GROUP_MESSAGE_PADDING: usize = 256;

/// Nonce and tag.
const OVERHEAD: usize = XCHACHA_NONCE_LEN + TAG_LEN;

const WHAT: &str = "group message";

fn malformed(reason: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

/// Encrypts `plaintext` (1 to [`GROUP_MESSAGE_MAX_PLAINTEXT`] bytes) for the group with a
/// random nonce. With `compress`, the data is zstd-compressed and stored under `z` if that
/// is smaller.
pub fn encrypt_group_message(
    sender: &Ed25519Keypair,
    group_pk: &Ed25519PublicKey,
    key: &[u8; 32],
    plaintext: &[u8],
    compress: bool,
) -> Result<Vec<u8>> {
    let nonce = crate::random::random_array::<XCHACHA_NONCE_LEN>()?;
    encrypt_group_message_with_nonce(sender, group_pk, key, plaintext, compress, &nonce)
}

/// Deterministic twin of [`encrypt_group_message`] with a given nonce.
pub fn encrypt_group_message_with_nonce(
    sender: &Ed25519Keypair,
    group_pk: &Ed25519PublicKey,
    key: &[u8; 32],
    plaintext: &[u8],
    compress: bool,
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<Vec<u8>> {
    if plaintext.is_empty() || plaintext.len() > GROUP_MESSAGE_MAX_PLAINTEXT {
        return Err(CryptoError::InvalidLength {
            what: "group message plaintext",
            expected: "1 to 1000000",
            got: plaintext.len(),
        });
    }
    let compressed = compress
        .then(|| crate::config::zstd::compress(plaintext))
        .filter(|z| z.len() < plaintext.len());
    let (data_key, data): (&[u8], &[u8]) = match &compressed {
        Some(z) => (b"z", z),
        None => (b"d", plaintext),
    };
    let mut to_sign = Vec::with_capacity(data.len() + 32);
    to_sign.extend_from_slice(data);
    to_sign.extend_from_slice(group_pk.as_bytes());
    let sig = sender.sign(&to_sign);

    let mut dict = Vec::with_capacity(data.len() + 160);
    dict.push(b'd');
    session_bt::encode_bytes(b"", &mut dict);
    session_bt::encode_int(1, &mut dict);
    session_bt::encode_bytes(b"a", &mut dict);
    session_bt::encode_bytes(sender.public().as_bytes(), &mut dict);
    if data_key == b"d" {
        session_bt::encode_bytes(b"d", &mut dict);
        session_bt::encode_bytes(data, &mut dict);
    }
    session_bt::encode_bytes(b"s", &mut dict);
    session_bt::encode_bytes(&sig, &mut dict);
    if data_key == b"z" {
        session_bt::encode_bytes(b"z", &mut dict);
        session_bt::encode_bytes(data, &mut dict);
    }
    dict.push(b'e');
    let total = OVERHEAD + dict.len();
    dict.resize(
        dict.len()
            + (GROUP_MESSAGE_PADDING - total % GROUP_MESSAGE_PADDING) % GROUP_MESSAGE_PADDING,
        0,
    );

    let mut out = Vec::with_capacity(OVERHEAD + dict.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&xchacha20poly1305_encrypt(key, nonce, &[], &dict));
    Ok(out)
}

/// A decrypted, verified group message.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptedGroupMessage {
    /// The sender's Session ID (`05` + X25519 form of `sender_ed25519`).
    pub sender: AccountId,
    /// The sender's Ed25519 key, which signed the message.
    pub sender_ed25519: Ed25519PublicKey,
    /// The plaintext (decompressed if it was sent compressed).
    pub plaintext: Vec<u8>,
    /// The index (in the keys given) of the key that decrypted it.
    pub key_index: usize,
}

impl fmt::Debug for DecryptedGroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedGroupMessage")
            .field("sender", &self.sender)
            .field("len", &self.plaintext.len())
            .field("key_index", &self.key_index)
            .finish()
    }
}

/// Decrypts a group message by trying each key in turn (newest first is cheapest), strips
/// the zero padding, checks the version (1), verifies the sender's signature over
/// `data || group_pk` and decompresses `z` data (at most
/// [`GROUP_MESSAGE_MAX_PLAINTEXT`] bytes).
///
/// Errors: [`CryptoError::DecryptionFailed`] if no key fits; [`CryptoError::BadSignature`]
/// for a bad signature; [`CryptoError::Malformed`] for a bad inner structure.
pub fn decrypt_group_message<'a, I>(
    keys: I,
    group_pk: &Ed25519PublicKey,
    ciphertext: &[u8],
) -> Result<DecryptedGroupMessage>
where
    I: IntoIterator<Item = &'a [u8; 32]>,
{
    if ciphertext.len() < OVERHEAD {
        return Err(CryptoError::InvalidLength {
            what: "encrypted group message",
            expected: "at least 40",
            got: ciphertext.len(),
        });
    }
    let (nonce, body) = ciphertext.split_at(XCHACHA_NONCE_LEN);
    let nonce = to_array::<XCHACHA_NONCE_LEN>("group message nonce", nonce)?;
    let (key_index, mut plain) = keys
        .into_iter()
        .enumerate()
        .find_map(|(i, key)| {
            xchacha20poly1305_decrypt(key, &nonce, &[], body, WHAT)
                .ok()
                .map(|p| (i, p))
        })
        .ok_or(CryptoError::DecryptionFailed {
            what: "group message (no group key decrypts it)",
        })?;

    let unpadded = plain.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    plain.truncate(unpadded);
    let dict = RawDict::parse(&plain)
        .map_err(|e| malformed(format!("not a bt-dict after unpadding: {e}")))?;

    let version = dict
        .get(b"")
        .ok_or_else(|| malformed("missing version"))?
        .as_int()
        .map_err(|e| malformed(format!("version: {e}")))?;
    if version != 1 {
        return Err(malformed(format!(
            "version {version} is not supported (only 1)"
        )));
    }
    let sender_ed = dict
        .get(b"a")
        .ok_or_else(|| malformed("missing sender \"a\""))?
        .as_bytes()
        .map_err(|e| malformed(format!("sender: {e}")))?;
    let sender_ed25519 = Ed25519PublicKey(to_array("group message sender key", sender_ed)?);
    let sender_x = sender_ed25519.to_x25519()?;

    let get_data = |key: &[u8]| -> Result<Option<&[u8]>> {
        match dict.get(key) {
            None => Ok(None),
            Some(e) => {
                let b = e
                    .as_bytes()
                    .map_err(|err| malformed(format!("data: {err}")))?;
                if b.is_empty() {
                    return Err(malformed("message data cannot be empty"));
                }
                Ok(Some(b))
            }
        }
    };
    let (data, compressed) = match (get_data(b"d")?, get_data(b"z")?) {
        (Some(d), None) => (d, false),
        (None, Some(z)) => (z, true),
        (Some(_), Some(_)) => return Err(malformed("both \"d\" and \"z\" data")),
        (None, None) => return Err(malformed("no \"d\" or \"z\" data")),
    };
    let sig = dict
        .get(b"s")
        .ok_or_else(|| malformed("missing signature \"s\""))?
        .as_bytes()
        .map_err(|e| malformed(format!("signature: {e}")))?;
    let sig = to_array::<SIGNATURE_LEN>("group message signature", sig)?;
    let mut signed = Vec::with_capacity(data.len() + 32);
    signed.extend_from_slice(data);
    signed.extend_from_slice(group_pk.as_bytes());
    sender_ed25519
        .verify(&signed, &sig)
        .map_err(|_| CryptoError::BadSignature {
            what: "group message sender signature",
        })?;

    let plaintext = if compressed {
        crate::config::zstd::decompress(data, GROUP_MESSAGE_MAX_PLAINTEXT, WHAT)?
    } else {
        data.to_vec()
    };
    Ok(DecryptedGroupMessage {
        sender: AccountId::new(IdPrefix::Standard, sender_x),
        sender_ed25519,
        plaintext,
        key_index,
    })
}
