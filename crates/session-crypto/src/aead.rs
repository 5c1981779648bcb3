//! The two AEADs Session uses: XChaCha20-Poly1305-IETF (libsodium
//! `crypto_aead_xchacha20poly1305_ietf`) and AES-256-GCM. Both return
//! `ciphertext || tag(16)`; nonce placement is the caller's protocol decision.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};

use crate::error::{CryptoError, Result};

/// Poly1305 / GCM tag length.
pub const TAG_LEN: usize = 16;
/// XChaCha20-Poly1305 nonce length.
pub const XCHACHA_NONCE_LEN: usize = 24;
/// AES-GCM nonce (IV) length.
pub const GCM_NONCE_LEN: usize = 12;

/// XChaCha20-Poly1305 encryption with associated data `ad` (may be empty).
pub fn xchacha20poly1305_encrypt(
    key: &[u8; 32],
    nonce: &[u8; XCHACHA_NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    // Only fails for messages longer than 2^38 bytes, which nothing here can hold.
    if cipher.encrypt_in_place(nonce.into(), ad, &mut buf).is_err() {
        buf.clear();
    }
    buf
}

/// XChaCha20-Poly1305 decryption; `ciphertext` includes the trailing 16-byte tag.
pub fn xchacha20poly1305_decrypt(
    key: &[u8; 32],
    nonce: &[u8; XCHACHA_NONCE_LEN],
    ad: &[u8],
    ciphertext: &[u8],
    what: &'static str,
) -> Result<Vec<u8>> {
    if ciphertext.len() < TAG_LEN {
        return Err(CryptoError::DecryptionFailed { what });
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut buf = ciphertext.to_vec();
    cipher
        .decrypt_in_place(nonce.into(), ad, &mut buf)
        .map_err(|_| CryptoError::DecryptionFailed { what })?;
    Ok(buf)
}

/// AES-256-GCM encryption (12-byte nonce), output `ciphertext || tag`.
pub fn aes256gcm_encrypt(key: &[u8; 32], nonce: &[u8; GCM_NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    if cipher
        .encrypt_in_place(nonce.into(), &[], &mut buf)
        .is_err()
    {
        buf.clear();
    }
    buf
}

/// AES-256-GCM decryption of `ciphertext || tag`.
pub fn aes256gcm_decrypt(
    key: &[u8; 32],
    nonce: &[u8; GCM_NONCE_LEN],
    ciphertext: &[u8],
    what: &'static str,
) -> Result<Vec<u8>> {
    if ciphertext.len() < TAG_LEN {
        return Err(CryptoError::DecryptionFailed { what });
    }
    let cipher = Aes256Gcm::new(key.into());
    let mut buf = ciphertext.to_vec();
    cipher
        .decrypt_in_place(nonce.into(), &[], &mut buf)
        .map_err(|_| CryptoError::DecryptionFailed { what })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xchacha_round_trip_and_tamper() {
        let key = [7u8; 32];
        let nonce = [9u8; 24];
        let ct = xchacha20poly1305_encrypt(&key, &nonce, b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(
            xchacha20poly1305_decrypt(&key, &nonce, b"ad", &ct, "t").unwrap(),
            b"hello"
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(xchacha20poly1305_decrypt(&key, &nonce, b"ad", &bad, "t").is_err());
        assert!(xchacha20poly1305_decrypt(&key, &nonce, b"other", &ct, "t").is_err());
        assert!(xchacha20poly1305_decrypt(&key, &nonce, b"", &ct[..10], "t").is_err());
    }

    #[test]
    fn gcm_round_trip_and_tamper() {
        let key = [1u8; 32];
        let nonce = [2u8; 12];
        let ct = aes256gcm_encrypt(&key, &nonce, b"payload");
        assert_eq!(
            aes256gcm_decrypt(&key, &nonce, &ct, "t").unwrap(),
            b"payload"
        );
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert!(aes256gcm_decrypt(&key, &nonce, &bad, "t").is_err());
    }
}
