//! Ed25519 seeds, key pairs, signing and libsodium-strict verification.

use std::fmt;

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CryptoError, Result, hex_array, to_array};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A 32-byte Ed25519 seed: the account secret. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Ed25519Seed([u8; 32]);

impl fmt::Debug for Ed25519Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Seed(<secret>)")
    }
}

impl Ed25519Seed {
    /// From exactly 32 bytes.
    pub fn from_array(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Accepts every form Session uses for an account secret:
    /// * 16 bytes: a legacy seed, right-padded with 16 zero bytes (what 13 recovery
    ///   words encode);
    /// * 32 bytes: the seed itself;
    /// * 64 bytes: libsodium's `seed || pubkey` secret key (the pubkey half is checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.len() {
            16 => {
                let mut seed = [0u8; 32];
                seed[..16].copy_from_slice(bytes);
                Ok(Self(seed))
            }
            32 => Ok(Self(to_array("Ed25519 seed", bytes)?)),
            64 => {
                let seed = Self(to_array("Ed25519 seed", &bytes[..32])?);
                let kp = Ed25519Keypair::from_seed(seed.clone());
                if kp.public().as_bytes() != &bytes[32..] {
                    return Err(CryptoError::Malformed {
                        what: "Ed25519 secret key",
                        reason: "public half does not match the seed".into(),
                    });
                }
                Ok(seed)
            }
            got => Err(CryptoError::InvalidLength {
                what: "Ed25519 seed",
                expected: "16, 32 or 64",
                got,
            }),
        }
    }

    /// From hex text of 16, 32 or 64 bytes.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes =
            Zeroizing::new(
                hex::decode(text.trim()).map_err(|e| CryptoError::InvalidHex {
                    what: "Ed25519 seed",
                    reason: e.to_string(),
                })?,
            );
        Self::from_bytes(&bytes)
    }

    /// A fresh random seed as new Session accounts make it: 16 random bytes then 16 zeros,
    /// so that it can be written as 13 recovery words.
    pub fn generate_legacy16() -> Result<Self> {
        let mut seed = [0u8; 32];
        crate::random::fill_random(&mut seed[..16])?;
        Ok(Self(seed))
    }

    /// A fresh random full 32-byte seed.
    pub fn generate() -> Result<Self> {
        Ok(Self(crate::random::random_array()?))
    }

    /// The raw seed bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 16 bytes if the last 16 are zero (a legacy seed), which is what the
    /// 13-word recovery password encodes.
    pub fn legacy16(&self) -> Option<[u8; 16]> {
        if self.0[16..].iter().all(|b| *b == 0) {
            let mut out = [0u8; 16];
            out.copy_from_slice(&self.0[..16]);
            Some(out)
        } else {
            None
        }
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ed25519PublicKey(pub [u8; 32]);

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Display for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Ed25519PublicKey {
    /// From 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Ok(Self(to_array("Ed25519 public key", bytes)?))
    }

    /// From 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self> {
        Ok(Self(hex_array("Ed25519 public key", text)?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Verifies `sig` over `message` (see [`verify`]).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<()> {
        verify(&self.0, message, sig)
    }

    /// The X25519 form of this key (rejects invalid points).
    pub fn to_x25519(&self) -> Result<[u8; 32]> {
        crate::curve::ed25519_pk_to_x25519(&self.0)
    }
}

/// An Ed25519 key pair derived from a seed as libsodium's `crypto_sign_seed_keypair` does.
#[derive(Clone)]
pub struct Ed25519Keypair {
    seed: Ed25519Seed,
    signing: SigningKey,
    public: Ed25519PublicKey,
}

impl fmt::Debug for Ed25519Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Keypair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Ed25519Keypair {
    /// Derives the key pair from a seed.
    pub fn from_seed(seed: Ed25519Seed) -> Self {
        let signing = SigningKey::from_bytes(seed.as_bytes());
        let public = Ed25519PublicKey(signing.verifying_key().to_bytes());
        Self {
            seed,
            signing,
            public,
        }
    }

    /// A new random key pair (full 32-byte seed).
    pub fn generate() -> Result<Self> {
        Ok(Self::from_seed(Ed25519Seed::generate()?))
    }

    /// The seed.
    pub fn seed(&self) -> &Ed25519Seed {
        &self.seed
    }

    /// The public key.
    pub fn public(&self) -> Ed25519PublicKey {
        self.public
    }

    /// libsodium's 64-byte secret key `seed || pubkey`.
    pub fn secret_key_64(&self) -> Zeroizing<[u8; 64]> {
        let mut sk = Zeroizing::new([0u8; 64]);
        sk[..32].copy_from_slice(self.seed.as_bytes());
        sk[32..].copy_from_slice(&self.public.0);
        sk
    }

    /// Deterministic RFC 8032 signature.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The clamped private scalar `a = clamp(SHA-512(seed)[..32])`, reduced mod L.
    pub fn scalar(&self) -> Scalar {
        self.signing.to_scalar()
    }

    /// The clamped, unreduced scalar bytes — identical to the X25519 secret key
    /// (`crypto_sign_ed25519_sk_to_curve25519`).
    pub fn scalar_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(crate::curve::clamp(self.signing.to_scalar_bytes()))
    }

    /// The X25519 key pair belonging to this Ed25519 key pair.
    pub fn to_x25519(&self) -> crate::x25519::X25519Keypair {
        crate::x25519::X25519Keypair::from_secret(crate::x25519::X25519SecretKey::from_array(
            *self.scalar_bytes(),
        ))
    }
}

/// Verifies an Ed25519 signature the way libsodium's `crypto_sign_verify_detached` does:
/// non-canonical `S`, small-order `A` or `R` are rejected.
pub fn verify(pubkey: &[u8; 32], message: &[u8], sig: &[u8]) -> Result<()> {
    const WHAT: &str = "Ed25519 signature";
    let sig: [u8; 64] = to_array("Ed25519 signature", sig)?;
    let vk = VerifyingKey::from_bytes(pubkey).map_err(|_| CryptoError::InvalidPublicKey {
        what: "Ed25519 public key",
    })?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    vk.verify_strict(message, &sig)
        .map_err(|_| CryptoError::BadSignature { what: WHAT })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_forms() {
        let s16 = Ed25519Seed::from_bytes(&[1u8; 16]).unwrap();
        assert_eq!(&s16.as_bytes()[..16], &[1u8; 16]);
        assert_eq!(&s16.as_bytes()[16..], &[0u8; 16]);
        assert_eq!(s16.legacy16(), Some([1u8; 16]));
        let kp = Ed25519Keypair::from_seed(s16.clone());
        let sk = kp.secret_key_64();
        assert_eq!(Ed25519Seed::from_bytes(&sk[..]).unwrap(), s16);
        let mut bad = *sk;
        bad[40] ^= 1;
        assert!(Ed25519Seed::from_bytes(&bad).is_err());
        assert!(matches!(
            Ed25519Seed::from_bytes(&[0u8; 20]),
            Err(CryptoError::InvalidLength { got: 20, .. })
        ));
        assert!(Ed25519Seed::from_hex("zz").is_err());
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let s = Ed25519Seed::from_array([0xab; 32]);
        assert!(!format!("{s:?}").contains("abab"));
        let kp = Ed25519Keypair::from_seed(s);
        assert!(!format!("{kp:?}").contains("abab"));
    }

    #[test]
    fn sign_and_verify() {
        let kp = Ed25519Keypair::generate().unwrap();
        let sig = kp.sign(b"msg");
        kp.public().verify(b"msg", &sig).unwrap();
        assert!(kp.public().verify(b"msh", &sig).is_err());
        assert!(kp.public().verify(b"msg", &sig[..63]).is_err());
        let mut bad = sig;
        bad[10] ^= 4;
        assert!(kp.public().verify(b"msg", &bad).is_err());
    }
}
