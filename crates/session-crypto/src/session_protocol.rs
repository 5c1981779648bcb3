//! One-to-one message cryptography, "Session protocol" v1 (client-protocol §3.1–§3.2),
//! without the protobuf layers (`Content`, `Envelope`, `WebSocketMessage` live in
//! `session-wire`):
//!
//! ```text
//! P     = pad(content)                          (160-byte blocks, 0x80 then 0x00s)
//! SIG   = Ed25519_sign(sender, P || A || Y)     A = sender Ed25519 key, Y = recipient X25519 key
//! inner = P || A || SIG                         (Y is signed but not sent)
//! out   = crypto_box_seal(inner, Y)             (+48 bytes)
//! ```
//!
//! Two layers are offered: [`encrypt_for_recipient`] / [`decrypt_incoming`] pad and
//! unpad; [`seal_signed`] / [`open_signed`] work on the exact plaintext (what libsession's
//! `encrypt_for_recipient` / `decrypt_incoming` do, and what config wrapping needs, which
//! pads with a lone `0x80`). Each randomised function has a deterministic twin using
//! Session's deterministic ephemeral key (see
//! [`crate::sealed_box::session_deterministic_ephemeral`]).

use std::fmt;

use zeroize::Zeroizing;

use crate::account_id::{AccountId, IdPrefix};
use crate::ed25519::{Ed25519PublicKey, SIGNATURE_LEN};
use crate::error::{CryptoError, Result};
use crate::keys::AccountKeys;
use crate::sealed_box::{self, SEAL_OVERHEAD};
use crate::x25519::X25519Keypair;

/// Messages are padded to multiples of this many bytes.
pub const PADDING_BLOCK: usize = 160;
/// The byte that ends the content and starts the padding.
pub const PADDING_MARKER: u8 = 0x80;
/// Bytes appended to the plaintext inside the box: sender Ed25519 key (32) + signature (64).
pub const SIGNATURE_OVERHEAD: usize = 32 + SIGNATURE_LEN;
/// The shortest valid ciphertext: an empty plaintext plus [`SIGNATURE_OVERHEAD`] and the
/// sealed-box overhead (48 + 96 = 144 bytes).
pub const MIN_CIPHERTEXT_LEN: usize = SEAL_OVERHEAD + SIGNATURE_OVERHEAD;

/// Total padded length under the libsession (2025 and later) rule: `len + 1` rounded up to
/// a multiple of 160, with a whole extra block when `len + 1` already is one.
pub fn padded_len(content_len: usize) -> usize {
    let n = content_len.saturating_add(1);
    n.saturating_add(PADDING_BLOCK - n % PADDING_BLOCK)
}

/// Total padded length under the legacy desktop (Signal heritage) rule:
/// `ceil((len + 2) / 160) · 160 − 1` (159, 319, 479, …).
pub fn legacy_padded_len(content_len: usize) -> usize {
    content_len
        .saturating_add(2)
        .div_ceil(PADDING_BLOCK)
        .saturating_mul(PADDING_BLOCK)
        - 1
}

fn pad_to(content: &[u8], total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(content);
    out.push(PADDING_MARKER);
    out.resize(total.max(out.len()), 0);
    out
}

/// Pads `content` as current clients send it: `content || 0x80 || 0x00…` to
/// [`padded_len`] bytes.
pub fn pad_message(content: &[u8]) -> Vec<u8> {
    pad_to(content, padded_len(content.len()))
}

/// Pads `content` as pre-2025 desktop clients did, to [`legacy_padded_len`] bytes (only
/// needed to reproduce old messages; receivers accept both).
pub fn pad_message_legacy(content: &[u8]) -> Vec<u8> {
    pad_to(content, legacy_padded_len(content.len()))
}

/// Lenient unpadding that accepts both padding rules and unpadded input: trailing `0x00`
/// bytes are skipped and, if the last non-zero byte is `0x80`, everything from it on is
/// removed; otherwise (no `0x80` marker) the input is returned whole, as unpadded.
pub fn unpad_message(padded: &[u8]) -> &[u8] {
    match padded.iter().rposition(|&b| b != 0) {
        Some(i) if padded[i] == PADDING_MARKER => &padded[..i],
        _ => padded,
    }
}

/// A decrypted, signature-checked one-to-one message.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The sender's Ed25519 public key (`A`, transmitted inside the box).
    pub sender_ed25519: Ed25519PublicKey,
    /// The sender's Session ID: `05 || X25519(A)`.
    pub sender_id: AccountId,
    /// The message bytes: unpadded content from [`decrypt_incoming`], the exact signed
    /// plaintext from [`open_signed`].
    pub content: Vec<u8>,
}

impl fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("sender_id", &self.sender_id)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

/// The recipient's X25519 key `Y`: the key of a `05` Session ID.
fn recipient_key(recipient: &AccountId) -> Result<[u8; 32]> {
    if recipient.prefix() != IdPrefix::Standard {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", recipient.prefix().byte()),
            expected: "05 (a Session ID) as the recipient of a one-to-one message",
        });
    }
    Ok(*recipient.key())
}

/// `plaintext || A || Ed25519_sign(plaintext || A || Y)`.
fn signed_inner(sender: &AccountKeys, y: &[u8; 32], plaintext: &[u8]) -> Zeroizing<Vec<u8>> {
    let a = sender.ed25519_public();
    let mut inner = Zeroizing::new(Vec::with_capacity(plaintext.len() + SIGNATURE_OVERHEAD));
    inner.extend_from_slice(plaintext);
    inner.extend_from_slice(a.as_bytes());
    inner.extend_from_slice(y);
    let sig = sender.ed25519().sign(&inner);
    inner.truncate(plaintext.len() + 32);
    inner.extend_from_slice(&sig);
    inner
}

/// Signs and seals the exact `plaintext` (no padding) to a Session ID, with a random
/// ephemeral key — libsession's `encrypt_for_recipient`.
///
/// # Errors
/// [`CryptoError::WrongIdPrefix`] unless `recipient` is a `05` id;
/// [`CryptoError::WeakSharedSecret`] if its key is of small order; [`CryptoError::Rng`].
pub fn seal_signed(
    sender: &AccountKeys,
    recipient: &AccountId,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let y = recipient_key(recipient)?;
    let inner = signed_inner(sender, &y, plaintext);
    sealed_box::seal(&y, &inner)
}

/// The deterministic twin of [`seal_signed`] (libsession
/// `encrypt_for_recipient_deterministic`, used for config wrapping): the ephemeral key is
/// derived from the sender's seed, the recipient key and `plaintext`, so equal inputs give
/// equal ciphertexts.
///
/// # Errors
/// As [`seal_signed`] (without the random generator).
pub fn seal_signed_deterministic(
    sender: &AccountKeys,
    recipient: &AccountId,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let y = recipient_key(recipient)?;
    let inner = signed_inner(sender, &y, plaintext);
    let eph = sealed_box::session_deterministic_ephemeral(sender.seed(), &y, plaintext);
    sealed_box::seal_with_ephemeral(&eph, &y, &inner)
}

/// Encrypts one-to-one message content (a serialized `Content`) for a Session ID: pads it
/// with [`pad_message`], signs `P || A || Y` and seals the result to `Y`.
///
/// # Errors
/// As [`seal_signed`].
pub fn encrypt_for_recipient(
    sender: &AccountKeys,
    recipient: &AccountId,
    content: &[u8],
) -> Result<Vec<u8>> {
    let padded = Zeroizing::new(pad_message(content));
    seal_signed(sender, recipient, &padded)
}

/// The deterministic twin of [`encrypt_for_recipient`]: pads, then
/// [`seal_signed_deterministic`].
///
/// # Errors
/// As [`seal_signed_deterministic`].
pub fn encrypt_for_recipient_deterministic(
    sender: &AccountKeys,
    recipient: &AccountId,
    content: &[u8],
) -> Result<Vec<u8>> {
    let padded = Zeroizing::new(pad_message(content));
    seal_signed_deterministic(sender, recipient, &padded)
}

/// Opens a one-to-one message sealed to `own` and checks the sender's signature; the
/// returned `content` is the exact signed plaintext (still padded) — libsession's
/// `decrypt_incoming`.
///
/// # Errors
/// * [`CryptoError::InvalidLength`] for ciphertexts shorter than [`MIN_CIPHERTEXT_LEN`];
/// * [`CryptoError::WeakSharedSecret`] if the ephemeral key is of small order;
/// * [`CryptoError::DecryptionFailed`] if the box is for someone else or was altered;
/// * [`CryptoError::InvalidPublicKey`] if the embedded sender key is not a valid point;
/// * [`CryptoError::BadSignature`] if the signature does not verify over
///   `plaintext || A || own X25519 key` (forged, or signed for another recipient).
pub fn open_signed(own: &AccountKeys, ciphertext: &[u8]) -> Result<IncomingMessage> {
    open_signed_with(own.x25519(), ciphertext)
}

/// [`open_signed`] with only the recipient's X25519 key pair (e.g. a legacy closed group's
/// shared key pair).
///
/// # Errors
/// As [`open_signed`].
pub fn open_signed_with(own: &X25519Keypair, ciphertext: &[u8]) -> Result<IncomingMessage> {
    if ciphertext.len() < MIN_CIPHERTEXT_LEN {
        return Err(CryptoError::InvalidLength {
            what: "one-to-one message ciphertext",
            expected: "at least 144",
            got: ciphertext.len(),
        });
    }
    let mut inner = Zeroizing::new(sealed_box::open(own, ciphertext)?);
    // The box is at least 144 bytes, so `inner` has at least 96.
    let body_len = inner.len() - SIGNATURE_OVERHEAD;
    let mut a = [0u8; 32];
    a.copy_from_slice(&inner[body_len..body_len + 32]);
    let mut sig = [0u8; SIGNATURE_LEN];
    sig.copy_from_slice(&inner[body_len + 32..]);

    // Reuse the buffer for `P || A || Y_own`.
    inner.truncate(body_len + 32);
    inner.extend_from_slice(own.public());
    // Convert first: this rejects invalid, small-order and mixed-order sender keys with a
    // precise error before the signature is looked at.
    let sender = Ed25519PublicKey(a);
    let x = sender
        .to_x25519()
        .map_err(|_| CryptoError::InvalidPublicKey {
            what: "sender Ed25519 key of a one-to-one message",
        })?;
    sender.verify(&inner, &sig).map_err(|e| match e {
        CryptoError::InvalidPublicKey { .. } => CryptoError::InvalidPublicKey {
            what: "sender Ed25519 key of a one-to-one message",
        },
        _ => CryptoError::BadSignature {
            what: "sender signature of a one-to-one message",
        },
    })?;
    inner.truncate(body_len);
    Ok(IncomingMessage {
        sender_ed25519: sender,
        sender_id: AccountId::new(IdPrefix::Standard, x),
        content: inner.to_vec(),
    })
}

/// Decrypts an incoming one-to-one message: [`open_signed`], then [`unpad_message`]
/// (accepting both padding rules and unpadded content).
///
/// # Errors
/// As [`open_signed`]. A message that fails any check is an error, never content.
pub fn decrypt_incoming(own: &AccountKeys, ciphertext: &[u8]) -> Result<IncomingMessage> {
    let mut msg = open_signed(own, ciphertext)?;
    let len = unpad_message(&msg.content).len();
    msg.content.truncate(len);
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rules() {
        for (len, new, legacy) in [
            (0, 160, 159),
            (158, 160, 159),
            (159, 320, 319),
            (522, 640, 639),
        ] {
            assert_eq!(padded_len(len), new, "len {len}");
            assert_eq!(legacy_padded_len(len), legacy, "len {len}");
            let content = vec![0x42u8; len];
            assert_eq!(unpad_message(&pad_message(&content)), &content[..]);
            assert_eq!(unpad_message(&pad_message_legacy(&content)), &content[..]);
        }
        assert_eq!(unpad_message(b"abc"), b"abc");
        assert_eq!(unpad_message(b"abc\x00\x00"), b"abc\x00\x00");
        assert_eq!(unpad_message(b""), b"");
        assert_eq!(unpad_message(b"\x80"), b"");
    }

    #[test]
    fn round_trip_and_debug_hides_content() {
        let alice = AccountKeys::generate().unwrap();
        let bob = AccountKeys::generate().unwrap();
        let ct = encrypt_for_recipient(&alice, &bob.session_id(), b"secret body").unwrap();
        let msg = decrypt_incoming(&bob, &ct).unwrap();
        assert_eq!(msg.content, b"secret body");
        assert_eq!(msg.sender_id, alice.session_id());
        assert_eq!(msg.sender_ed25519, alice.ed25519_public());
        assert!(!format!("{msg:?}").contains(&hex::encode(b"secret body")));
    }
}
