//! Ed25519 group and scalar maths done by hand (libsodium's `crypto_core_ed25519_*` and
//! `crypto_scalarmult_ed25519*`), needed for blinding, subaccounts and XEd25519.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;

use crate::error::{CryptoError, Result};

/// `crypto_core_ed25519_scalar_reduce`: a 64-byte little-endian integer mod L.
pub fn reduce64(wide: &[u8; 64]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(wide)
}

/// A 32-byte little-endian integer mod L.
pub fn reduce32(bytes: [u8; 32]) -> Scalar {
    Scalar::from_bytes_mod_order(bytes)
}

/// X25519/Ed25519 clamping of 32 bytes.
pub fn clamp(mut bytes: [u8; 32]) -> [u8; 32] {
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    bytes
}

/// Decompresses an Ed25519 point, rejecting invalid encodings.
pub fn decompress(bytes: &[u8; 32], what: &'static str) -> Result<EdwardsPoint> {
    CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(CryptoError::InvalidPublicKey { what })
}

/// `crypto_scalarmult_ed25519_noclamp(scalar, point)`: rejects invalid and non-canonical
/// encodings, small-order points, points outside the prime-order subgroup and an identity
/// result, as libsodium does.
pub fn scalarmult_noclamp(
    scalar: &Scalar,
    point: &[u8; 32],
    what: &'static str,
) -> Result<[u8; 32]> {
    let p = decompress(point, what)?;
    if p.is_small_order() || !p.is_torsion_free() || p.compress().0 != *point {
        return Err(CryptoError::InvalidPublicKey { what });
    }
    let q = p * scalar;
    if q.is_small_order() {
        return Err(CryptoError::InvalidPublicKey { what });
    }
    Ok(q.compress().to_bytes())
}

/// `crypto_scalarmult_ed25519_base_noclamp`: `[scalar]B`.
pub fn scalarmult_base_noclamp(scalar: &Scalar) -> [u8; 32] {
    EdwardsPoint::mul_base(scalar).compress().to_bytes()
}

/// Converts an Ed25519 public key to its X25519 (Montgomery u) form, like libsodium's
/// `crypto_sign_ed25519_pk_to_curve25519`: invalid and small-order points are rejected.
pub fn ed25519_pk_to_x25519(ed_pk: &[u8; 32]) -> Result<[u8; 32]> {
    const WHAT: &str = "Ed25519 public key";
    let p = decompress(ed_pk, WHAT)?;
    if p.is_small_order() || !p.is_torsion_free() {
        return Err(CryptoError::InvalidPublicKey { what: WHAT });
    }
    Ok(p.to_montgomery().to_bytes())
}

/// XEd25519 public key from an X25519 public key: the Edwards point with `y = (u-1)/(u+1)`
/// and the sign bit cleared ("positive" |A|).
pub fn xed25519_pubkey(x_pk: &[u8; 32]) -> Result<[u8; 32]> {
    MontgomeryPoint(*x_pk)
        .to_edwards(0)
        .map(|p| p.compress().to_bytes())
        .ok_or(CryptoError::InvalidPublicKey {
            what: "X25519 public key",
        })
}

/// Whether the compressed Edwards point has its sign bit (bit 255) set.
pub fn is_negative(ed_pk: &[u8; 32]) -> bool {
    ed_pk[31] & 0x80 != 0
}

/// Standard Ed25519 signature computed from an explicit scalar `a`, public key `A`,
/// and nonce scalar `r`: `(R = [r]B, S = r + H(R || A || M)·a)`. This is what every
/// blinded/subaccount signature in Session is.
pub fn sign_with_scalar(a: &Scalar, pubkey: &[u8; 32], r: &Scalar, message: &[u8]) -> [u8; 64] {
    let big_r = scalarmult_base_noclamp(r);
    let h = reduce64(&crate::hash::sha512(&[&big_r, pubkey, message]));
    let s = r + h * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_small_order_and_garbage_points() {
        let identity = [1u8; 1]
            .iter()
            .copied()
            .chain([0u8; 31])
            .collect::<Vec<_>>();
        let identity: [u8; 32] = identity.try_into().unwrap();
        assert!(ed25519_pk_to_x25519(&identity).is_err());
        assert!(scalarmult_noclamp(&Scalar::ONE, &identity, "p").is_err());
        // y = 2 is not on the curve.
        let mut bad = [0u8; 32];
        bad[0] = 2;
        assert!(decompress(&bad, "p").is_err());
    }

    #[test]
    fn clamp_sets_expected_bits() {
        let c = clamp([0xff; 32]);
        assert_eq!(c[0] & 7, 0);
        assert_eq!(c[31] & 0x80, 0);
        assert_eq!(c[31] & 0x40, 0x40);
    }
}
