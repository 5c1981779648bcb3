//! X25519 keys and Diffie-Hellman (libsodium `crypto_scalarmult`, which clamps).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result, hex_array, to_array};

/// An X25519 secret key. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct X25519SecretKey([u8; 32]);

impl fmt::Debug for X25519SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519SecretKey(<secret>)")
    }
}

impl X25519SecretKey {
    /// From 32 bytes (used as is; clamping happens inside the scalar multiplication).
    pub fn from_array(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From a 32-byte slice.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Ok(Self(to_array("X25519 secret key", bytes)?))
    }

    /// From 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self> {
        Ok(Self(hex_array("X25519 secret key", text)?))
    }

    /// A fresh random secret key.
    pub fn generate() -> Result<Self> {
        Ok(Self(crate::random::random_array()?))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The public key `X25519(sk, 9)`, computed with the precomputed Edwards base-point
    /// table (as libsodium's `crypto_scalarmult_base` does) rather than a Montgomery ladder.
    pub fn public(&self) -> [u8; 32] {
        curve25519_dalek::MontgomeryPoint::mul_base_clamped(self.0).to_bytes()
    }

    /// Diffie-Hellman with a peer public key; an all-zero result (small-order peer key)
    /// is rejected as libsodium does.
    pub fn diffie_hellman(&self, their_public: &[u8; 32]) -> Result<[u8; 32]> {
        let shared = x25519_dalek::x25519(self.0, *their_public);
        if shared.iter().all(|b| *b == 0) {
            return Err(CryptoError::WeakSharedSecret {
                what: "X25519 public key",
            });
        }
        Ok(shared)
    }
}

/// An X25519 key pair.
#[derive(Clone, Debug)]
pub struct X25519Keypair {
    secret: X25519SecretKey,
    public: [u8; 32],
}

impl X25519Keypair {
    /// Derives the public key from the secret.
    pub fn from_secret(secret: X25519SecretKey) -> Self {
        let public = secret.public();
        Self { secret, public }
    }

    /// A fresh random key pair (e.g. an onion-request ephemeral key).
    pub fn generate() -> Result<Self> {
        Ok(Self::from_secret(X25519SecretKey::generate()?))
    }

    /// The secret key.
    pub fn secret(&self) -> &X25519SecretKey {
        &self.secret
    }

    /// The public key.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// Diffie-Hellman with a peer public key.
    pub fn diffie_hellman(&self, their_public: &[u8; 32]) -> Result<[u8; 32]> {
        self.secret.diffie_hellman(their_public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_base_public_key_equals_the_ladder() {
        for _ in 0..32 {
            let sk = X25519SecretKey::generate().unwrap();
            let ladder = x25519_dalek::x25519(*sk.as_bytes(), x25519_dalek::X25519_BASEPOINT_BYTES);
            assert_eq!(sk.public(), ladder);
        }
    }

    #[test]
    fn dh_agrees_and_rejects_zero_point() {
        let a = X25519Keypair::generate().unwrap();
        let b = X25519Keypair::generate().unwrap();
        assert_eq!(
            a.diffie_hellman(b.public()).unwrap(),
            b.diffie_hellman(a.public()).unwrap()
        );
        assert!(a.diffie_hellman(&[0u8; 32]).is_err());
        assert!(!format!("{a:?}").contains(&hex::encode(a.secret().as_bytes())));
    }
}
