//! libsodium-compatible public-key boxes built from primitives (client-protocol §3.1 step 5):
//!
//! * `crypto_box_beforenm`: `k = HSalsa20(X25519(sk, pk), 0^16)` (an all-zero DH output,
//!   i.e. a small-order peer key, is rejected);
//! * `crypto_secretbox_easy` / `crypto_box_easy`: XSalsa20-Poly1305, output
//!   `tag(16) || ciphertext`, the Poly1305 key being the first 32 bytes of the key stream;
//! * `crypto_box_seal`: `eph_pk(32) || crypto_box_easy(m, BLAKE2b-24(eph_pk || pk), pk, eph_sk)`
//!   (48 bytes of overhead);
//! * `crypto_box_seed_keypair`: the secret key is `SHA-512(seed)[..32]`.
//!
//! The randomised [`seal`] has a deterministic twin, [`seal_with_ephemeral`]; Session's
//! deterministic sealed box (config wrapping) derives its ephemeral key with
//! [`session_deterministic_ephemeral`].

use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use salsa20::XSalsa20;
use salsa20::cipher::consts::U10;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::ed25519::Ed25519Seed;
use crate::error::{CryptoError, Result};
use crate::hash::{blake2b, blake2b_keyed, sha512};
use crate::x25519::{X25519Keypair, X25519SecretKey};

/// Poly1305 tag length (`crypto_box_MACBYTES`, `crypto_secretbox_MACBYTES`).
pub const MAC_LEN: usize = 16;
/// XSalsa20 nonce length (`crypto_box_NONCEBYTES`).
pub const NONCE_LEN: usize = 24;
/// X25519 public key length (`crypto_box_PUBLICKEYBYTES`).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes a sealed box adds to its plaintext (`crypto_box_SEALBYTES` = 32 + 16).
pub const SEAL_OVERHEAD: usize = PUBLIC_KEY_LEN + MAC_LEN;

/// BLAKE2b key of Session's deterministic sealed-box ephemeral seed (client-protocol §3.1).
pub const DETERMINISTIC_EPHEMERAL_HASH_KEY: &[u8] = b"SessionBoxEphemeralHashKey";

/// `crypto_box_beforenm`: the XSalsa20-Poly1305 key shared by `sk` and `their_pk`.
///
/// # Errors
/// [`CryptoError::WeakSharedSecret`] if `their_pk` is of small order (the X25519 output is
/// all zero), as libsodium rejects it.
pub fn box_beforenm(
    their_pk: &[u8; 32],
    sk: &X25519SecretKey,
    what: &'static str,
) -> Result<Zeroizing<[u8; 32]>> {
    let shared = Zeroizing::new(
        sk.diffie_hellman(their_pk)
            .map_err(|_| CryptoError::WeakSharedSecret { what })?,
    );
    let mut key = salsa20::hsalsa::<U10>((&*shared).into(), (&[0u8; 16]).into());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&key);
    key.as_mut_slice().zeroize();
    Ok(out)
}

/// Applies the XSalsa20 key stream from byte 32 on to `buf` and returns the Poly1305 key
/// (key-stream bytes 0..32), as `crypto_secretbox` does.
fn xsalsa20_xor(key: &[u8; 32], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Zeroizing<[u8; 32]> {
    let mut cipher = XSalsa20::new(key.into(), nonce.into());
    let mut mac_key = Zeroizing::new([0u8; 32]);
    cipher.apply_keystream(&mut mac_key[..]);
    cipher.apply_keystream(buf);
    mac_key
}

fn poly1305_tag(mac_key: &[u8; 32], data: &[u8]) -> [u8; MAC_LEN] {
    Poly1305::new(mac_key.into()).compute_unpadded(data).into()
}

/// `crypto_secretbox_easy`: XSalsa20-Poly1305 encryption, output `tag(16) || ciphertext`.
pub fn secretbox_easy(key: &[u8; 32], nonce: &[u8; NONCE_LEN], message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAC_LEN + message.len()];
    out[MAC_LEN..].copy_from_slice(message);
    let mac_key = xsalsa20_xor(key, nonce, &mut out[MAC_LEN..]);
    let tag = poly1305_tag(&mac_key, &out[MAC_LEN..]);
    out[..MAC_LEN].copy_from_slice(&tag);
    out
}

/// `crypto_secretbox_open_easy`: verifies the tag of `tag(16) || ciphertext` (in constant
/// time) and decrypts.
///
/// # Errors
/// [`CryptoError::InvalidLength`] if `boxed` is shorter than the 16-byte tag;
/// [`CryptoError::DecryptionFailed`] (naming `what`) if the tag does not verify.
pub fn secretbox_open_easy(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    boxed: &[u8],
    what: &'static str,
) -> Result<Vec<u8>> {
    if boxed.len() < MAC_LEN {
        return Err(CryptoError::InvalidLength {
            what,
            expected: "at least 16",
            got: boxed.len(),
        });
    }
    let (tag, ciphertext) = boxed.split_at(MAC_LEN);
    let mut cipher = XSalsa20::new(key.into(), nonce.into());
    let mut mac_key = Zeroizing::new([0u8; 32]);
    cipher.apply_keystream(&mut mac_key[..]);
    let expected = poly1305_tag(&mac_key, ciphertext);
    if !bool::from(expected.ct_eq(tag)) {
        return Err(CryptoError::DecryptionFailed { what });
    }
    let mut plaintext = ciphertext.to_vec();
    cipher.apply_keystream(&mut plaintext);
    Ok(plaintext)
}

/// `crypto_box_easy`: encrypts `message` from `sk` to `their_pk` with `nonce`; output
/// `tag(16) || ciphertext`.
///
/// # Errors
/// [`CryptoError::WeakSharedSecret`] if `their_pk` is of small order.
pub fn box_easy(
    message: &[u8],
    nonce: &[u8; NONCE_LEN],
    their_pk: &[u8; 32],
    sk: &X25519SecretKey,
) -> Result<Vec<u8>> {
    let key = box_beforenm(their_pk, sk, "recipient X25519 public key")?;
    Ok(secretbox_easy(&key, nonce, message))
}

/// `crypto_box_open_easy`: the inverse of [`box_easy`].
///
/// # Errors
/// [`CryptoError::WeakSharedSecret`] for a small-order `their_pk`,
/// [`CryptoError::InvalidLength`] for input shorter than the tag, and
/// [`CryptoError::DecryptionFailed`] when the tag does not verify.
pub fn box_open_easy(
    boxed: &[u8],
    nonce: &[u8; NONCE_LEN],
    their_pk: &[u8; 32],
    sk: &X25519SecretKey,
) -> Result<Vec<u8>> {
    let key = box_beforenm(their_pk, sk, "sender X25519 public key")?;
    secretbox_open_easy(&key, nonce, boxed, "crypto box")
}

/// `crypto_box_seed_keypair`: the secret key is `SHA-512(seed)[..32]` (clamped only inside
/// the scalar multiplication), the public key its X25519 base-point multiple.
pub fn box_seed_keypair(seed: &[u8]) -> X25519Keypair {
    let hash = Zeroizing::new(sha512(&[seed]));
    let mut sk = Zeroizing::new([0u8; 32]);
    sk.copy_from_slice(&hash[..32]);
    X25519Keypair::from_secret(X25519SecretKey::from_array(*sk))
}

/// The sealed-box nonce `BLAKE2b-24(eph_pk || recipient_pk)`.
pub fn seal_nonce(eph_pk: &[u8; 32], recipient_pk: &[u8; 32]) -> [u8; NONCE_LEN] {
    blake2b::<NONCE_LEN>(&[eph_pk, recipient_pk])
}

/// `crypto_box_seal`: encrypts `message` to `recipient_pk` with a fresh random ephemeral
/// key; output `eph_pk(32) || tag(16) || ciphertext` ([`SEAL_OVERHEAD`] bytes longer).
///
/// # Errors
/// [`CryptoError::WeakSharedSecret`] if `recipient_pk` is of small order;
/// [`CryptoError::Rng`] if the system generator fails.
pub fn seal(recipient_pk: &[u8; 32], message: &[u8]) -> Result<Vec<u8>> {
    let eph = X25519Keypair::generate()?;
    seal_with_ephemeral(&eph, recipient_pk, message)
}

/// The deterministic twin of [`seal`]: a sealed box made with the given ephemeral key pair
/// (byte-identical to libsodium's for the same ephemeral key).
///
/// # Errors
/// [`CryptoError::WeakSharedSecret`] if `recipient_pk` is of small order.
pub fn seal_with_ephemeral(
    ephemeral: &X25519Keypair,
    recipient_pk: &[u8; 32],
    message: &[u8],
) -> Result<Vec<u8>> {
    let key = box_beforenm(
        recipient_pk,
        ephemeral.secret(),
        "sealed box recipient X25519 public key",
    )?;
    let nonce = seal_nonce(ephemeral.public(), recipient_pk);
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + message.len());
    out.extend_from_slice(ephemeral.public());
    out.extend_from_slice(&secretbox_easy(&key, &nonce, message));
    Ok(out)
}

/// `crypto_box_seal_open`: opens a sealed box with the recipient's key pair.
///
/// # Errors
/// * [`CryptoError::InvalidLength`] if `sealed` is shorter than [`SEAL_OVERHEAD`] (48) bytes;
/// * [`CryptoError::WeakSharedSecret`] if the embedded ephemeral key is of small order;
/// * [`CryptoError::DecryptionFailed`] if the box was sealed to another key or altered.
pub fn open(recipient: &X25519Keypair, sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::InvalidLength {
            what: "sealed box",
            expected: "at least 48",
            got: sealed.len(),
        });
    }
    let (eph_pk, boxed) = sealed.split_at(PUBLIC_KEY_LEN);
    let mut eph = [0u8; 32];
    eph.copy_from_slice(eph_pk);
    let key = box_beforenm(
        &eph,
        recipient.secret(),
        "sealed box ephemeral X25519 public key",
    )?;
    let nonce = seal_nonce(&eph, recipient.public());
    secretbox_open_easy(&key, &nonce, boxed, "sealed box")
}

/// Session's deterministic ephemeral key pair (client-protocol §3.1 step 5, libsession
/// `encrypt_for_recipient_deterministic`): `crypto_box_seed_keypair` of
/// `BLAKE2b-32(sender_seed32 || recipient_pk || message, key = "SessionBoxEphemeralHashKey")`,
/// where `message` is the plaintext handed to the deterministic encryption (before the
/// sender key and signature are appended).
pub fn session_deterministic_ephemeral(
    sender_seed: &Ed25519Seed,
    recipient_pk: &[u8; 32],
    message: &[u8],
) -> X25519Keypair {
    let seed = Zeroizing::new(blake2b_keyed::<32>(
        DETERMINISTIC_EPHEMERAL_HASH_KEY,
        &[sender_seed.as_bytes(), recipient_pk, message],
    ));
    box_seed_keypair(&seed[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_rejections() {
        let bob = X25519Keypair::generate().unwrap();
        let sealed = seal(bob.public(), b"hi bob").unwrap();
        assert_eq!(sealed.len(), 6 + SEAL_OVERHEAD);
        assert_eq!(open(&bob, &sealed).unwrap(), b"hi bob");

        let eve = X25519Keypair::generate().unwrap();
        assert!(matches!(
            open(&eve, &sealed),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        assert!(matches!(
            open(&bob, &sealed[..47]),
            Err(CryptoError::InvalidLength { got: 47, .. })
        ));
        let mut zero_eph = sealed.clone();
        zero_eph[..32].fill(0);
        assert!(matches!(
            open(&bob, &zero_eph),
            Err(CryptoError::WeakSharedSecret { .. })
        ));
        assert!(matches!(
            seal(&[0u8; 32], b"x"),
            Err(CryptoError::WeakSharedSecret { .. })
        ));
    }

    #[test]
    fn empty_message_is_48_bytes() {
        let bob = X25519Keypair::generate().unwrap();
        let sealed = seal(bob.public(), b"").unwrap();
        assert_eq!(sealed.len(), SEAL_OVERHEAD);
        assert_eq!(open(&bob, &sealed).unwrap(), b"");
    }

    #[test]
    fn secretbox_known_answer() {
        // NaCl's classic crypto_secretbox test (tests/secretbox.c in libsodium): the first
        // bytes of the 131-byte message and its tag.
        let key: [u8; 32] =
            hex_literal("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389");
        let nonce: [u8; 24] = hex_literal("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37");
        let message = hex::decode(concat!(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc",
            "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31",
            "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde",
            "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864",
            "5e0705"
        ))
        .unwrap();
        let boxed = secretbox_easy(&key, &nonce, &message);
        assert_eq!(
            hex::encode(&boxed[..32]),
            "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce"
        );
        assert_eq!(
            secretbox_open_easy(&key, &nonce, &boxed, "t").unwrap(),
            message
        );
    }

    fn hex_literal<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text).unwrap().try_into().unwrap()
    }
}
