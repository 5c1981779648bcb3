//! Multi-recipient encryption (client-protocol §5.7), used by group keys messages and the
//! "kicked from group" message.
//!
//! One sender encrypts one message (or one message per recipient) separately for every
//! recipient, all with the same 24-byte nonce:
//!
//! * per-recipient key `BLAKE2b-32(X25519(a, B) || A || B, key = domain)`, where `a/A` is the
//!   sender's X25519 key pair and `B` the recipient's X25519 public key (the recipient
//!   computes the same value as `X25519(b, A) || A || B`);
//! * `XChaCha20-Poly1305(key, nonce, message)` without associated data, so every entry is
//!   16 bytes longer than its message.
//!
//! Entries carry no recipient marker: a recipient tries every entry with its own key.
//! The "simple" encoding is the bt-dict `{"#": nonce, "e": [entry…]}`, optionally padded
//! with random junk entries to a multiple of `pad` entries.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use session_bt::RawDict;
use zeroize::Zeroizing;

use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey};
use crate::error::{CryptoError, Result, to_array};
use crate::x25519::X25519Keypair;

/// Bytes every encrypted entry adds to its message (the Poly1305 tag).
pub const MULTI_ENCRYPT_OVERHEAD: usize = TAG_LEN;

/// Longest accepted domain: it is used as a BLAKE2b key.
pub const MAX_DOMAIN_LEN: usize = 64;

/// The 12-byte ChaCha20 nonce libsodium's `randombytes_buf_deterministic` uses.
const DETERMINISTIC_RNG_NONCE: &[u8; 12] = b"LibsodiumDRG";

/// What to do with a recipient whose public key gives an all-zero shared secret (a
/// small-order point): fail the whole encryption, or silently leave that recipient out
/// (what group keys messages do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidRecipients {
    /// Return [`CryptoError::WeakSharedSecret`].
    Reject,
    /// Produce no entry for that recipient.
    Skip,
}

/// libsodium's `randombytes_buf_deterministic`: fills `out` with the ChaCha20 (IETF, 96-bit
/// nonce) keystream under key `seed`, nonce `"LibsodiumDRG"`, block counter 0.
///
/// Used wherever Session needs junk bytes that every honest producer derives identically
/// (group keys message padding).
pub fn deterministic_random_bytes(seed: &[u8; 32], out: &mut [u8]) -> Result<()> {
    out.fill(0);
    let mut cipher = ChaCha20::new(seed.into(), DETERMINISTIC_RNG_NONCE.into());
    cipher
        .try_apply_keystream(out)
        .map_err(|_| CryptoError::InvalidLength {
            what: "deterministic random output",
            expected: "at most 256 GiB",
            got: out.len(),
        })
}

fn check_domain(domain: &[u8]) -> Result<()> {
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(CryptoError::InvalidLength {
            what: "multi-encrypt domain",
            expected: "at most 64",
            got: domain.len(),
        });
    }
    Ok(())
}

/// The key the sender uses for one recipient: `BLAKE2b-32(X25519(a, B) || A || B, key = domain)`.
///
/// Fails with [`CryptoError::WeakSharedSecret`] if `recipient` is a small-order point.
pub fn sender_key(
    sender: &X25519Keypair,
    recipient: &[u8; 32],
    domain: &[u8],
) -> Result<Zeroizing<[u8; 32]>> {
    check_domain(domain)?;
    let shared = Zeroizing::new(sender.diffie_hellman(recipient)?);
    Ok(Zeroizing::new(crate::hash::blake2b_keyed::<32>(
        domain,
        &[&shared[..], sender.public(), recipient],
    )))
}

/// The key a recipient uses for a message from `sender`:
/// `BLAKE2b-32(X25519(b, A) || A || B, key = domain)` — equal to [`sender_key`] from the
/// other side.
pub fn recipient_key(
    recipient: &X25519Keypair,
    sender: &[u8; 32],
    domain: &[u8],
) -> Result<Zeroizing<[u8; 32]>> {
    check_domain(domain)?;
    let shared = Zeroizing::new(recipient.diffie_hellman(sender)?);
    Ok(Zeroizing::new(crate::hash::blake2b_keyed::<32>(
        domain,
        &[&shared[..], sender, recipient.public()],
    )))
}

/// Encrypts for several recipients with one shared nonce and returns the entries in
/// recipient order (minus any skipped recipients).
///
/// `messages` holds either one message, encrypted for every recipient, or exactly one
/// message per recipient.
pub fn encrypt_for_multiple(
    messages: &[&[u8]],
    recipients: &[[u8; 32]],
    nonce: &[u8; XCHACHA_NONCE_LEN],
    sender: &X25519Keypair,
    domain: &[u8],
    invalid: InvalidRecipients,
) -> Result<Vec<Vec<u8>>> {
    check_domain(domain)?;
    if messages.len() != 1 && messages.len() != recipients.len() {
        return Err(CryptoError::InvalidLength {
            what: "multi-encrypt messages",
            expected: "1 or one per recipient",
            got: messages.len(),
        });
    }
    let mut out = Vec::with_capacity(recipients.len());
    for (i, recipient) in recipients.iter().enumerate() {
        let message = if messages.len() == 1 {
            messages[0]
        } else {
            messages[i]
        };
        let key = match sender_key(sender, recipient, domain) {
            Ok(key) => key,
            Err(CryptoError::WeakSharedSecret { .. }) if invalid == InvalidRecipients::Skip => {
                continue;
            }
            Err(e) => return Err(e),
        };
        out.push(xchacha20poly1305_encrypt(&key, nonce, &[], message));
    }
    Ok(out)
}

/// Tries each entry with the recipient's key and returns the first plaintext that
/// authenticates; [`CryptoError::DecryptionFailed`] if none does (the recipient was not
/// among those the message was encrypted for, or the sender/domain/nonce is wrong).
pub fn decrypt_for_multiple<'a, I>(
    ciphertexts: I,
    nonce: &[u8; XCHACHA_NONCE_LEN],
    recipient: &X25519Keypair,
    sender: &[u8; 32],
    domain: &[u8],
) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    const WHAT: &str = "multi-recipient message (no entry for this recipient)";
    let key = match recipient_key(recipient, sender, domain) {
        Ok(key) => key,
        Err(CryptoError::WeakSharedSecret { .. }) => {
            return Err(CryptoError::DecryptionFailed { what: WHAT });
        }
        Err(e) => return Err(e),
    };
    ciphertexts
        .into_iter()
        .find_map(|ct| xchacha20poly1305_decrypt(&key, nonce, &[], ct, WHAT).ok())
        .ok_or(CryptoError::DecryptionFailed { what: WHAT })
}

/// The "simple" self-contained encoding `{"#": nonce, "e": [entry…]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiEncrypted {
    /// The shared 24-byte nonce.
    pub nonce: [u8; XCHACHA_NONCE_LEN],
    /// The encrypted entries (and junk), in order.
    pub entries: Vec<Vec<u8>>,
}

impl MultiEncrypted {
    /// The canonical bt encoding.
    pub fn encode(&self) -> Vec<u8> {
        let body: usize = self.entries.iter().map(|e| e.len() + 8).sum();
        let mut out = Vec::with_capacity(40 + body);
        out.push(b'd');
        session_bt::encode_bytes(b"#", &mut out);
        session_bt::encode_bytes(&self.nonce, &mut out);
        session_bt::encode_bytes(b"e", &mut out);
        out.push(b'l');
        for entry in &self.entries {
            session_bt::encode_bytes(entry, &mut out);
        }
        out.extend_from_slice(b"ee");
        out
    }

    /// Parses the encoding strictly: a canonical bt-dict with a 24-byte `"#"` and a list
    /// `"e"` of byte strings (other keys are ignored).
    pub fn decode(encoded: &[u8]) -> Result<Self> {
        const WHAT: &str = "multi-recipient message";
        let malformed = |reason: String| CryptoError::Malformed { what: WHAT, reason };
        let dict = RawDict::parse(encoded).map_err(|e| malformed(e.to_string()))?;
        let nonce = dict
            .get(b"#")
            .ok_or_else(|| malformed("missing nonce \"#\"".into()))?
            .as_bytes()
            .map_err(|e| malformed(format!("nonce \"#\": {e}")))?;
        let nonce = to_array::<XCHACHA_NONCE_LEN>("multi-recipient message nonce", nonce)?;
        let list = dict
            .get(b"e")
            .ok_or_else(|| malformed("missing entry list \"e\"".into()))?
            .decode()
            .map_err(|e| malformed(format!("entry list \"e\": {e}")))?;
        let items = list
            .as_list()
            .ok_or_else(|| malformed("\"e\" is not a list".into()))?;
        let entries = items
            .iter()
            .map(|item| {
                item.as_bytes()
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| malformed("an entry of \"e\" is not a byte string".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { nonce, entries })
    }
}

/// Encrypts with a random nonce and random junk padding, and returns the simple encoding.
///
/// If `pad > 1` junk entries (each as long as the first message's entry) are appended
/// until the number of entries is a multiple of `pad`.
pub fn encrypt_for_multiple_simple(
    messages: &[&[u8]],
    recipients: &[[u8; 32]],
    sender: &X25519Keypair,
    domain: &[u8],
    pad: usize,
) -> Result<Vec<u8>> {
    let nonce = crate::random::random_array::<XCHACHA_NONCE_LEN>()?;
    let junk_seed = Zeroizing::new(crate::random::random_array::<32>()?);
    encrypt_for_multiple_simple_deterministic(
        messages, recipients, sender, domain, &nonce, pad, &junk_seed,
    )
}

/// Deterministic twin of [`encrypt_for_multiple_simple`]: the nonce is given, and junk
/// entries come from [`deterministic_random_bytes`] seeded with `junk_seed`.
pub fn encrypt_for_multiple_simple_deterministic(
    messages: &[&[u8]],
    recipients: &[[u8; 32]],
    sender: &X25519Keypair,
    domain: &[u8],
    nonce: &[u8; XCHACHA_NONCE_LEN],
    pad: usize,
    junk_seed: &[u8; 32],
) -> Result<Vec<u8>> {
    let mut entries = encrypt_for_multiple(
        messages,
        recipients,
        nonce,
        sender,
        domain,
        InvalidRecipients::Reject,
    )?;
    if pad > 1 && !messages.is_empty() && entries.len() % pad != 0 {
        let junk_count = pad - entries.len() % pad;
        let entry_len = messages[0].len() + MULTI_ENCRYPT_OVERHEAD;
        let mut junk = vec![0u8; junk_count * entry_len];
        deterministic_random_bytes(junk_seed, &mut junk)?;
        entries.extend(junk.chunks(entry_len).map(<[u8]>::to_vec));
    }
    Ok(MultiEncrypted {
        nonce: *nonce,
        entries,
    }
    .encode())
}

/// Decodes the simple encoding and decrypts the entry meant for `recipient`.
pub fn decrypt_for_multiple_simple(
    encoded: &[u8],
    recipient: &X25519Keypair,
    sender: &[u8; 32],
    domain: &[u8],
) -> Result<Vec<u8>> {
    let msg = MultiEncrypted::decode(encoded)?;
    decrypt_for_multiple(
        msg.entries.iter().map(Vec::as_slice),
        &msg.nonce,
        recipient,
        sender,
        domain,
    )
}

/// [`encrypt_for_multiple_simple`] from an Ed25519 key pair (converted to X25519), as
/// groups use it with the group key.
pub fn encrypt_for_multiple_simple_ed25519(
    messages: &[&[u8]],
    recipients: &[[u8; 32]],
    sender: &Ed25519Keypair,
    domain: &[u8],
    pad: usize,
) -> Result<Vec<u8>> {
    encrypt_for_multiple_simple(messages, recipients, &sender.to_x25519(), domain, pad)
}

/// [`decrypt_for_multiple_simple`] with Ed25519 keys on both sides (each converted to
/// X25519); an invalid sender key is [`CryptoError::InvalidPublicKey`].
pub fn decrypt_for_multiple_simple_ed25519(
    encoded: &[u8],
    recipient: &Ed25519Keypair,
    sender: &Ed25519PublicKey,
    domain: &[u8],
) -> Result<Vec<u8>> {
    let sender_x = sender.to_x25519()?;
    decrypt_for_multiple_simple(encoded, &recipient.to_x25519(), &sender_x, domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_agree_from_both_sides() {
        let a = X25519Keypair::generate().unwrap();
        let b = X25519Keypair::generate().unwrap();
        assert_eq!(
            *sender_key(&a, b.public(), b"d").unwrap(),
            *recipient_key(&b, a.public(), b"d").unwrap()
        );
        assert_ne!(
            *sender_key(&a, b.public(), b"d").unwrap(),
            *sender_key(&a, b.public(), b"e").unwrap()
        );
        assert!(matches!(
            sender_key(&a, b.public(), &[0u8; 65]),
            Err(CryptoError::InvalidLength { got: 65, .. })
        ));
    }

    #[test]
    fn small_order_recipient_is_rejected_or_skipped() {
        let a = X25519Keypair::generate().unwrap();
        let b = X25519Keypair::generate().unwrap();
        let bad = [0u8; 32];
        let recips = [*b.public(), bad];
        assert!(matches!(
            encrypt_for_multiple(
                &[b"x"],
                &recips,
                &[0; 24],
                &a,
                b"d",
                InvalidRecipients::Reject
            ),
            Err(CryptoError::WeakSharedSecret { .. })
        ));
        let out = encrypt_for_multiple(
            &[b"x"],
            &recips,
            &[0; 24],
            &a,
            b"d",
            InvalidRecipients::Skip,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn decode_rejects_bad_shapes() {
        for bad in [
            &b"de"[..],
            b"d1:#3:abce",
            b"d1:#24:000000000000000000000000e",
            b"d1:#24:0000000000000000000000001:ei1ee",
            b"d1:#24:0000000000000000000000001:eli1eee",
            b"li1ee",
        ] {
            assert!(MultiEncrypted::decode(bad).is_err(), "{bad:?}");
        }
        let ok = MultiEncrypted::decode(b"d1:#24:0000000000000000000000001:el1:aee").unwrap();
        assert_eq!(ok.entries, vec![b"a".to_vec()]);
    }
}
