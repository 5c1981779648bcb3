//! Community-scoped blinded identities (client-protocol §4.1–§4.3 and §4.6,
//! community-server §4).
//!
//! A community server never learns a user's Session ID: every request to it is signed
//! with a key pair *blinded* by a factor that depends on the server's public key.
//!
//! * **blind15** (what PySOGS and all current clients use):
//!   `k15 = reduce(BLAKE2b-512(server_pk))`, blinded scalar `ka = k15·a`, blinded
//!   pubkey `kA = [ka]B`, id `15 || kA`. From a Session ID alone only `±kA` can be
//!   computed (XEd25519 loses the sign), so both candidates must be tried.
//! * **blind25** (libsession): `k25 = reduce(BLAKE2b-512(0x05 || X || server_pk))`,
//!   pubkey `kA = [k25]·|A|` (unambiguous from a Session ID), scalar `ka = ±k25·a`
//!   with the sign of the real `A`.
//! * **Blinded signatures** are ordinary Ed25519 signatures under `kA` with a
//!   deterministic nonce that differs per implementation (see [`NonceStyle`]).
//! * **Version blinding** (`07`, file server only): an ordinary Ed25519 key pair from
//!   `BLAKE2b-256(seed, key = "VersionCheckKey_sig")`.

use std::fmt;

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use zeroize::{Zeroize, Zeroizing};

use crate::account_id::{AccountId, IdPrefix};
use crate::curve::{
    is_negative, reduce64, scalarmult_base_noclamp, scalarmult_noclamp, sign_with_scalar,
    xed25519_pubkey,
};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed};
use crate::error::{CryptoError, Result};
use crate::hash::{blake2b, blake2b_keyed, sha512};

/// BLAKE2b key hashing the seed into the blind25 nonce key (libsession).
pub const BLIND25_SEED_HASH_KEY: &[u8] = b"SessCommBlind25_seed";
/// BLAKE2b key of the blind25 signature nonce hash (libsession).
pub const BLIND25_NONCE_HASH_KEY: &[u8] = b"SessCommBlind25_sig";
/// BLAKE2b key deriving the version-blinded (`07`) seed from the account seed.
pub const VERSION_BLINDING_HASH_KEY: &[u8] = b"VersionCheckKey_sig";

/// Which community blinding scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Blinding {
    /// blind15: factor from the server key only; ids are sign-ambiguous from a Session ID.
    Blind15,
    /// blind25: factor from the user's and server's keys; unambiguous from a Session ID.
    Blind25,
}

impl Blinding {
    /// The account-id prefix of ids blinded this way (`15` or `25`).
    pub fn prefix(self) -> IdPrefix {
        match self {
            Self::Blind15 => IdPrefix::Blinded15,
            Self::Blind25 => IdPrefix::Blinded25,
        }
    }

    /// The scheme of a blinded id's prefix; any prefix but `15`/`25` is an error.
    pub fn from_prefix(prefix: IdPrefix) -> Result<Self> {
        match prefix {
            IdPrefix::Blinded15 => Ok(Self::Blind15),
            IdPrefix::Blinded25 => Ok(Self::Blind25),
            other => Err(CryptoError::WrongIdPrefix {
                found: format!("{:02x}", other.byte()),
                expected: "15 or 25 (a blinded id)",
            }),
        }
    }
}

/// How the nonce of a blinded signature is derived. Every style gives a valid
/// signature under the same blinded key; they only differ in the bytes produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NonceStyle {
    /// libsession: blind25 `r = reduce(BLAKE2b-512(BLAKE2b-256(seed, key =
    /// "SessCommBlind25_seed") || kA || M, key = "SessCommBlind25_sig"))`; blind15
    /// `r = reduce(SHA-512(SHA-512(seed || A)[32..64] || kA || M))` (hashing the 64-byte
    /// secret key).
    #[default]
    Libsession,
    /// Session desktop and the PySOGS reference: blind15
    /// `r = reduce(SHA-512(SHA-512(seed)[32..64] || kA || M))` (hashing the 32-byte
    /// seed). blind25 has only libsession's derivation, which this style then uses.
    Desktop,
}

/// `k15 = reduce(BLAKE2b-512(server_pk))`: the blind15 factor of a community server.
pub fn blind15_factor(server_pk: &[u8; 32]) -> Scalar {
    reduce64(&blake2b::<64>(&[server_pk]))
}

/// `k25 = reduce(BLAKE2b-512(0x05 || session_x25519 || server_pk))`: the blind25 factor
/// of one account (given by its X25519 key, the Session ID without `05`) on one server.
pub fn blind25_factor(session_x25519: &[u8; 32], server_pk: &[u8; 32]) -> Scalar {
    reduce64(&blake2b::<64>(&[&[0x05], session_x25519, server_pk]))
}

/// libsodium's `crypto_core_ed25519_is_valid_point`: a canonical encoding of a point
/// that is not of small order and lies in the prime-order subgroup.
pub fn is_valid_ed25519_point(bytes: &[u8; 32]) -> bool {
    match CompressedEdwardsY(*bytes).decompress() {
        Some(p) => p.compress().to_bytes() == *bytes && !p.is_small_order() && p.is_torsion_free(),
        None => false,
    }
}

/// The same key with bit 255 (the Edwards sign bit) flipped: the other blind15 candidate.
fn flip_sign(mut key: [u8; 32]) -> [u8; 32] {
    key[31] ^= 0x80;
    key
}

/// Checks that `session_id` is a `05` Session ID.
fn require_session_id(session_id: &AccountId) -> Result<()> {
    if session_id.prefix() == IdPrefix::Standard {
        Ok(())
    } else {
        Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", session_id.prefix().byte()),
            expected: "05 (a Session ID)",
        })
    }
}

/// The two blind15 ids a Session ID may have on a server: `[k15]·|A|` (the id of an
/// account whose Ed25519 pubkey is positive, as libsession names it) and the same with
/// bit 255 flipped (the id of an account whose pubkey is negative). The account's real
/// id is one of the two.
pub fn blind15_ids(session_id: &AccountId, server_pk: &[u8; 32]) -> Result<[AccountId; 2]> {
    require_session_id(session_id)?;
    let abs_a = xed25519_pubkey(session_id.key())?;
    let ka = scalarmult_noclamp(&blind15_factor(server_pk), &abs_a, "Session ID key")?;
    Ok([
        AccountId::new(IdPrefix::Blinded15, ka),
        AccountId::new(IdPrefix::Blinded15, flip_sign(ka)),
    ])
}

/// PySOGS's `blinded_abs`: a blind15 id with bit 255 cleared, the one canonical form of
/// the two sign candidates (used to match ids from either candidate).
pub fn blind15_abs(id: &AccountId) -> AccountId {
    let mut key = *id.key();
    key[31] &= 0x7f;
    AccountId::new(id.prefix(), key)
}

/// The blind25 id of a Session ID on a server: `25 || [k25]·|A|` (unambiguous).
pub fn blind25_id(session_id: &AccountId, server_pk: &[u8; 32]) -> Result<AccountId> {
    require_session_id(session_id)?;
    let abs_a = xed25519_pubkey(session_id.key())?;
    let k = blind25_factor(session_id.key(), server_pk);
    let ka = scalarmult_noclamp(&k, &abs_a, "Session ID key")?;
    Ok(AccountId::new(IdPrefix::Blinded25, ka))
}

/// The exact blinded id of the owner of an Ed25519 public key (blind15 keeps the real
/// sign of `A`, so this is the one id the owner authenticates with).
pub fn blinded_id_from_ed25519(
    blinding: Blinding,
    ed_pk: &Ed25519PublicKey,
    server_pk: &[u8; 32],
) -> Result<AccountId> {
    const WHAT: &str = "Ed25519 public key";
    let key = match blinding {
        Blinding::Blind15 => {
            scalarmult_noclamp(&blind15_factor(server_pk), ed_pk.as_bytes(), WHAT)?
        }
        Blinding::Blind25 => {
            let x = ed_pk.to_x25519()?;
            let mut abs_a = *ed_pk.as_bytes();
            abs_a[31] &= 0x7f;
            scalarmult_noclamp(&blind25_factor(&x, server_pk), &abs_a, WHAT)?
        }
    };
    Ok(AccountId::new(blinding.prefix(), key))
}

/// Whether `blinded_id` (`15…` or `25…`) belongs to `session_id` (`05…`) on the server
/// with key `server_pk`. For blind15 both sign candidates match.
pub fn session_id_matches_blinded_id(
    session_id: &AccountId,
    blinded_id: &AccountId,
    server_pk: &[u8; 32],
) -> Result<bool> {
    match Blinding::from_prefix(blinded_id.prefix())? {
        Blinding::Blind15 => Ok(blind15_ids(session_id, server_pk)?.contains(blinded_id)),
        Blinding::Blind25 => Ok(blind25_id(session_id, server_pk)? == *blinded_id),
    }
}

/// A blinded key pair for one community server: the blinded public key `kA` and the
/// blinded secret scalar `ka` (zeroized on drop, never printed), plus the nonce keys
/// needed to sign deterministically.
#[derive(Clone)]
pub struct BlindedKeypair {
    blinding: Blinding,
    public: [u8; 32],
    secret: Scalar,
    /// blind25: BLAKE2b-256(seed, key = "SessCommBlind25_seed"); blind15:
    /// SHA-512(seed || A)[32..64].
    nonce_key: Zeroizing<[u8; 32]>,
    /// blind15: SHA-512(seed)[32..64] (desktop/PySOGS); blind25: unused copy.
    nonce_key_desktop: Zeroizing<[u8; 32]>,
}

impl Drop for BlindedKeypair {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for BlindedKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindedKeypair")
            .field("id", &self.account_id())
            .finish_non_exhaustive()
    }
}

impl BlindedKeypair {
    /// Blinds an account key pair for the server with X25519 key `server_pk`.
    pub fn new(blinding: Blinding, keys: &Ed25519Keypair, server_pk: &[u8; 32]) -> Self {
        let mut a = keys.scalar();
        let seed = keys.seed().as_bytes();
        let (mut secret, nonce_key, nonce_key_desktop) = match blinding {
            Blinding::Blind15 => {
                let k = blind15_factor(server_pk);
                let sk64 = keys.secret_key_64();
                let lib = Zeroizing::new(sha512(&[&sk64[..]]));
                let desk = Zeroizing::new(sha512(&[seed]));
                (k * a, upper_half(&lib), upper_half(&desk))
            }
            Blinding::Blind25 => {
                let x = keys.to_x25519();
                let mut k = blind25_factor(x.public(), server_pk);
                if is_negative(keys.public().as_bytes()) {
                    k = -k;
                }
                let seed_hash = Zeroizing::new(blake2b_keyed::<32>(BLIND25_SEED_HASH_KEY, &[seed]));
                let ka = k * a;
                k.zeroize();
                (ka, seed_hash.clone(), seed_hash)
            }
        };
        a.zeroize();
        let public = scalarmult_base_noclamp(&secret);
        let out = Self {
            blinding,
            public,
            secret,
            nonce_key,
            nonce_key_desktop,
        };
        secret.zeroize();
        out
    }

    /// The blind15 key pair of `keys` on a server.
    pub fn blind15(keys: &Ed25519Keypair, server_pk: &[u8; 32]) -> Self {
        Self::new(Blinding::Blind15, keys, server_pk)
    }

    /// The blind25 key pair of `keys` on a server.
    pub fn blind25(keys: &Ed25519Keypair, server_pk: &[u8; 32]) -> Self {
        Self::new(Blinding::Blind25, keys, server_pk)
    }

    /// The blinded key pair of the account with this seed — convenience for
    /// [`BlindedKeypair::new`].
    pub fn from_seed(blinding: Blinding, seed: &Ed25519Seed, server_pk: &[u8; 32]) -> Self {
        Self::new(
            blinding,
            &Ed25519Keypair::from_seed(seed.clone()),
            server_pk,
        )
    }

    /// Which blinding scheme.
    pub fn blinding(&self) -> Blinding {
        self.blinding
    }

    /// The blinded public key `kA` (verifies the blinded signatures as plain Ed25519).
    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.public)
    }

    /// The blinded id: `15 || kA` or `25 || kA`.
    pub fn account_id(&self) -> AccountId {
        AccountId::new(self.blinding.prefix(), self.public)
    }

    /// The blinded secret scalar `ka` (crate-internal: needed for blind25 DM keys).
    pub(crate) fn secret_scalar(&self) -> &Scalar {
        &self.secret
    }

    /// Signs `message` with libsession's nonce derivation ([`NonceStyle::Libsession`]).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.sign_with_style(NonceStyle::Libsession, message)
    }

    /// Signs `message` with the chosen nonce derivation. The result verifies as a
    /// standard Ed25519 signature under [`BlindedKeypair::public_key`].
    pub fn sign_with_style(&self, style: NonceStyle, message: &[u8]) -> [u8; 64] {
        let mut r = match (self.blinding, style) {
            (Blinding::Blind25, _) => reduce64(&blake2b_keyed::<64>(
                BLIND25_NONCE_HASH_KEY,
                &[&self.nonce_key[..], &self.public, message],
            )),
            (Blinding::Blind15, NonceStyle::Libsession) => {
                reduce64(&sha512(&[&self.nonce_key[..], &self.public, message]))
            }
            (Blinding::Blind15, NonceStyle::Desktop) => reduce64(&sha512(&[
                &self.nonce_key_desktop[..],
                &self.public,
                message,
            ])),
        };
        let sig = sign_with_scalar(&self.secret, &self.public, &r, message);
        r.zeroize();
        sig
    }
}

/// Bytes 32..64 of a 64-byte hash.
fn upper_half(h: &[u8; 64]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&h[32..]);
    out
}

/// The version-blinded key pair of an account (§4.6): an ordinary Ed25519 key pair from
/// the seed `BLAKE2b-256(seed, key = "VersionCheckKey_sig")`.
pub fn version_blinded_keypair(seed: &Ed25519Seed) -> Ed25519Keypair {
    let blinded = blake2b_keyed::<32>(VERSION_BLINDING_HASH_KEY, &[seed.as_bytes()]);
    Ed25519Keypair::from_seed(Ed25519Seed::from_array(blinded))
}

/// The `07` id of an account's version-blinded key (the `X-FS-Pubkey` header value).
pub fn version_blinded_id(seed: &Ed25519Seed) -> AccountId {
    AccountId::new(
        IdPrefix::VersionBlinded,
        version_blinded_keypair(seed).public().0,
    )
}

/// The message the file server verifies for `X-FS-Signature`:
/// `ascii(timestamp) || METHOD || path[?query] [|| BLAKE2b-512(body)]` (the body hash
/// only for a non-empty body, as session-file-server verifies it; libsession's
/// `blind_version_sign_request` appends the raw body instead, which only differs for
/// requests with a body).
pub fn version_signed_message(timestamp: u64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut msg = Vec::with_capacity(ts.len() + method.len() + path.len() + 64);
    msg.extend_from_slice(ts.as_bytes());
    msg.extend_from_slice(method.as_bytes());
    msg.extend_from_slice(path.as_bytes());
    if !body.is_empty() {
        msg.extend_from_slice(&blake2b::<64>(&[body]));
    }
    msg
}

/// Signs a file-server request with the version-blinded key of the account `seed`
/// (the `X-FS-Signature` bytes; see [`version_signed_message`]).
pub fn version_sign_request(
    seed: &Ed25519Seed,
    timestamp: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> [u8; 64] {
    version_blinded_keypair(seed).sign(&version_signed_message(timestamp, method, path, body))
}

/// libsession's `blind_version_sign`: the signature of
/// `GET /session_version?platform=<platform>` at `timestamp`.
pub fn version_sign(seed: &Ed25519Seed, platform: &str, timestamp: u64) -> [u8; 64] {
    let path = format!("/session_version?platform={platform}");
    version_sign_request(seed, timestamp, "GET", &path, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_keys_blind_to_the_other_candidate() {
        // Find a seed with a negative Ed25519 pubkey and one with a positive one.
        let server = [0x42u8; 32];
        let mut seen = [false; 2];
        for i in 0u8..32 {
            let kp = Ed25519Keypair::from_seed(Ed25519Seed::from_array([i; 32]));
            let sid = AccountId::new(IdPrefix::Standard, *kp.to_x25519().public());
            let b15 = BlindedKeypair::blind15(&kp, &server);
            let ids = blind15_ids(&sid, &server).unwrap();
            assert!(ids.contains(&b15.account_id()));
            let neg = is_negative(kp.public().as_bytes());
            seen[usize::from(neg)] = true;
            let b25 = BlindedKeypair::blind25(&kp, &server);
            assert_eq!(blind25_id(&sid, &server).unwrap(), b25.account_id());
            assert_eq!(
                blinded_id_from_ed25519(Blinding::Blind25, &kp.public(), &server).unwrap(),
                b25.account_id()
            );
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn debug_hides_secrets() {
        let kp = Ed25519Keypair::from_seed(Ed25519Seed::from_array([7; 32]));
        let b = BlindedKeypair::blind25(&kp, &[1; 32]);
        let text = format!("{b:?}");
        assert!(text.contains(&b.account_id().to_hex()));
        assert!(!text.contains(&hex::encode(b.secret_scalar().as_bytes())));
    }

    #[test]
    fn invalid_points_are_rejected() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!is_valid_ed25519_point(&identity));
        // All 0xff encodes y ≥ p: not canonical.
        assert!(!is_valid_ed25519_point(&[0xff; 32]));
        let kp = Ed25519Keypair::from_seed(Ed25519Seed::from_array([3; 32]));
        assert!(is_valid_ed25519_point(kp.public().as_bytes()));
    }
}
