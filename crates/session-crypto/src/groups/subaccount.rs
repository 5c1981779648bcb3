//! Subaccounts: how group members authenticate to the group's swarm without the group key
//! (client-protocol §5.5, storage-node §3.3).
//!
//! For member `M` (X25519 key `M_x`) the admin computes the blinding factor
//! `k = reduce(BLAKE2b-64(0x05 || M_x || 0x03 || group_pk, key = mask))` with
//! `mask = BLAKE2b-32(group_seed, key = "SessionGroupSubaccountMask")`, the member's
//! positive XEd25519 key `T = |M|`, and the subaccount key `kT = [k]T`. It gives the member
//! the 100-byte auth data `0x03 || flags || 00 00 || k || sig_group(0x03 || flags || 00 00 || kT)`.
//!
//! The member's token is `0x03 || flags || 00 00 || kT` (36 bytes). The member signs a
//! request with scalar `k·(±s)` (negated if its real Ed25519 key is negative) and nonce
//! `r = reduce(BLAKE2b-64(BLAKE2b-32(seed, key = "SubaccountSeed") || kT || M, key =
//! "SubaccountSig"))`: a standard Ed25519 signature under `kT`, which the service node
//! verifies after checking the admin's signature over the token.

use std::fmt;
use std::ops::BitOr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use curve25519_dalek::scalar::Scalar;
use zeroize::Zeroizing;

use super::{member_x25519, subaccount_mask_key};
use crate::account_id::{AccountId, IdPrefix};
use crate::curve::{is_negative, reduce64, scalarmult_noclamp, sign_with_scalar, xed25519_pubkey};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed, SIGNATURE_LEN};
use crate::error::{CryptoError, Result, to_array};

/// Length of the auth data an admin gives a member.
pub const SUBACCOUNT_AUTH_LEN: usize = 100;
/// Length of a subaccount token.
pub const SUBACCOUNT_TOKEN_LEN: usize = 36;

/// Permission bits of a subaccount token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubaccountFlags(u8);

impl SubaccountFlags {
    /// No permissions.
    pub const NONE: Self = Self(0);
    /// May retrieve messages (and other read-only requests).
    pub const READ: Self = Self(0x01);
    /// May store messages.
    pub const WRITE: Self = Self(0x02);
    /// May delete messages.
    pub const DELETE: Self = Self(0x04);
    /// The token is valid for any account prefix of the same 32-byte key, not just `03`.
    pub const ANY_PREFIX: Self = Self(0x08);

    /// The flags libsession gives a member: read, plus write and/or delete (an invite uses
    /// read|write = 0x03).
    pub fn member(write: bool, delete: bool) -> Self {
        let mut f = Self::READ.0;
        if write {
            f |= Self::WRITE.0;
        }
        if delete {
            f |= Self::DELETE.0;
        }
        Self(f)
    }

    /// From the raw flag byte.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw flag byte.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    fn require(self, need: Self) -> Result<()> {
        if self.contains(need) {
            Ok(())
        } else {
            Err(CryptoError::SubaccountPermission {
                have: self.0,
                need: need.0,
            })
        }
    }
}

impl BitOr for SubaccountFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Debug for SubaccountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubaccountFlags({:#04x})", self.0)
    }
}

/// A 36-byte subaccount token `prefix || flags || 00 00 || kT`, sent as the `subaccount`
/// request parameter.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubaccountToken([u8; SUBACCOUNT_TOKEN_LEN]);

impl fmt::Debug for SubaccountToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubaccountToken({})", hex::encode(self.0))
    }
}

impl SubaccountToken {
    /// From exactly 36 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Ok(Self(to_array("subaccount token", bytes)?))
    }

    /// From standard (padded) base64, as in JSON requests.
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| CryptoError::InvalidBase64 {
                what: "subaccount token",
            })?;
        Self::from_slice(&bytes)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; SUBACCOUNT_TOKEN_LEN] {
        &self.0
    }

    /// The account network prefix byte (0x03 for groups).
    pub fn network_prefix(&self) -> u8 {
        self.0[0]
    }

    /// The permission flags.
    pub fn flags(&self) -> SubaccountFlags {
        SubaccountFlags(self.0[1])
    }

    /// The subaccount's Ed25519 public key `kT`.
    pub fn pubkey(&self) -> Ed25519PublicKey {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&self.0[4..]);
        Ed25519PublicKey(pk)
    }
}

/// The 100-byte auth data an admin gives a member: `prefix || flags || 00 00 || k || admin signature`.
#[derive(Clone, PartialEq, Eq)]
pub struct SubaccountAuth([u8; SUBACCOUNT_AUTH_LEN]);

impl fmt::Debug for SubaccountAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubaccountAuth")
            .field("prefix", &self.network_prefix())
            .field("flags", &self.flags())
            .finish_non_exhaustive()
    }
}

impl SubaccountAuth {
    /// From exactly 100 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Ok(Self(to_array("subaccount auth data", bytes)?))
    }

    /// The raw bytes (what `GroupUpdateInviteMessage.memberAuthData` carries).
    pub fn as_bytes(&self) -> &[u8; SUBACCOUNT_AUTH_LEN] {
        &self.0
    }

    /// The account network prefix byte.
    pub fn network_prefix(&self) -> u8 {
        self.0[0]
    }

    /// The permission flags.
    pub fn flags(&self) -> SubaccountFlags {
        SubaccountFlags(self.0[1])
    }

    /// The blinding factor `k` (32 bytes).
    pub fn blinding_factor(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.0[4..36]);
        k
    }

    /// The admin's signature over the token.
    pub fn admin_signature(&self) -> [u8; SIGNATURE_LEN] {
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(&self.0[36..]);
        sig
    }
}

/// The three values a member sends with a swarm request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubaccountSignature {
    /// `subaccount`: the token.
    pub token: SubaccountToken,
    /// `subaccount_sig`: the admin's signature over the token.
    pub admin_signature: [u8; SIGNATURE_LEN],
    /// `signature`: the member's signature of the request, verifiable under `kT`.
    pub signature: [u8; SIGNATURE_LEN],
}

impl SubaccountSignature {
    /// `(subaccount, subaccount_sig, signature)` as standard padded base64, as JSON requests
    /// carry them.
    pub fn to_base64(&self) -> (String, String, String) {
        (
            self.token.to_base64(),
            B64.encode(self.admin_signature),
            B64.encode(self.signature),
        )
    }
}

/// `k` for a member: `reduce(BLAKE2b-64(0x05 || M_x || 0x03 || group_pk, key = mask))`.
pub fn subaccount_blinding_factor(
    group_seed: &Ed25519Seed,
    group_pk: &Ed25519PublicKey,
    member_x: &[u8; 32],
) -> Scalar {
    let mask = subaccount_mask_key(group_seed);
    let wide = Zeroizing::new(crate::hash::blake2b_keyed::<64>(
        &mask[..],
        &[&[0x05], member_x, &[0x03], group_pk.as_bytes()],
    ));
    reduce64(&wide)
}

/// libsodium `crypto_scalarmult_ed25519_noclamp(k, T)`: the top bit of `k` is ignored and
/// `T` must be a valid point in the prime-order subgroup.
fn blind(k: &[u8; 32], point: &[u8; 32]) -> Result<[u8; 32]> {
    const WHAT: &str = "subaccount base point";
    let mut k = *k;
    k[31] &= 0x7f;
    scalarmult_noclamp(&Scalar::from_bytes_mod_order(k), point, WHAT)
}

fn token_bytes(prefix4: &[u8], kt: &[u8; 32]) -> [u8; SUBACCOUNT_TOKEN_LEN] {
    let mut token = [0u8; SUBACCOUNT_TOKEN_LEN];
    token[..4].copy_from_slice(&prefix4[..4]);
    token[4..].copy_from_slice(kt);
    token
}

/// `(k, kT)` for a member id, admin side.
fn member_blinding(group: &Ed25519Keypair, member: &AccountId) -> Result<([u8; 32], [u8; 32])> {
    let member_x = member_x25519(member)?;
    let k = subaccount_blinding_factor(group.seed(), &group.public(), &member_x).to_bytes();
    let t = xed25519_pubkey(&member_x)?;
    Ok((k, blind(&k, &t)?))
}

/// Admin side: the 100-byte auth data for `member` (a `05` id) with `flags`.
pub fn make_subaccount_auth(
    group: &Ed25519Keypair,
    member: &AccountId,
    flags: SubaccountFlags,
) -> Result<SubaccountAuth> {
    let (k, kt) = member_blinding(group, member)?;
    let prefix = [IdPrefix::Group.byte(), flags.0, 0, 0];
    let sig = group.sign(&token_bytes(&prefix, &kt));
    let mut out = [0u8; SUBACCOUNT_AUTH_LEN];
    out[..4].copy_from_slice(&prefix);
    out[4..36].copy_from_slice(&k);
    out[36..].copy_from_slice(&sig);
    Ok(SubaccountAuth(out))
}

/// Admin side: just the token for `member` with `flags` (what revocations list).
pub fn make_subaccount_token(
    group: &Ed25519Keypair,
    member: &AccountId,
    flags: SubaccountFlags,
) -> Result<SubaccountToken> {
    let (_, kt) = member_blinding(group, member)?;
    Ok(SubaccountToken(token_bytes(
        &[IdPrefix::Group.byte(), flags.0, 0, 0],
        &kt,
    )))
}

/// The member's positive key `T = |S|` and whether `S` was negative.
fn positive_key(member: &Ed25519Keypair) -> ([u8; 32], bool) {
    let mut t = member.public().0;
    let negative = is_negative(&t);
    t[31] &= 0x7f;
    (t, negative)
}

/// Member side: checks auth data received in an invite — the prefix is `03` (or the
/// any-prefix flag is set), the flags include `required` (and read), and the admin
/// signature over the reconstructed token verifies under `group_pk`.
pub fn verify_subaccount_auth(
    group_pk: &Ed25519PublicKey,
    member: &Ed25519Keypair,
    auth: &SubaccountAuth,
    required: SubaccountFlags,
) -> Result<()> {
    let flags = auth.flags();
    if auth.network_prefix() != IdPrefix::Group.byte()
        && !flags.contains(SubaccountFlags::ANY_PREFIX)
    {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", auth.network_prefix()),
            expected: "03 (or the any-prefix flag)",
        });
    }
    flags.require(required | SubaccountFlags::READ)?;
    let (t, _) = positive_key(member);
    let kt = blind(&auth.blinding_factor(), &t)?;
    group_pk
        .verify(&token_bytes(&auth.0, &kt), &auth.admin_signature())
        .map_err(|_| CryptoError::BadSignature {
            what: "subaccount auth data admin signature",
        })
}

/// Member side: signs a swarm request `message` (e.g. `"retrieve" || ns || timestamp`)
/// with the subaccount key, returning the token, admin signature and request signature.
pub fn subaccount_sign(
    member: &Ed25519Keypair,
    auth: &SubaccountAuth,
    message: &[u8],
) -> Result<SubaccountSignature> {
    let (t_point, negative) = positive_key(member);
    let k_bytes = Zeroizing::new(auth.blinding_factor());
    let kt_point = blind(&k_bytes, &t_point)?;
    let token = SubaccountToken(token_bytes(&auth.0, &kt_point));

    let s = member.scalar();
    let t = if negative { -s } else { s };
    let kt = Scalar::from_bytes_mod_order(*k_bytes) * t;

    let seed_hash = Zeroizing::new(crate::hash::blake2b_keyed::<32>(
        b"SubaccountSeed",
        &[member.seed().as_bytes()],
    ));
    let r_wide = Zeroizing::new(crate::hash::blake2b_keyed::<64>(
        b"SubaccountSig",
        &[&seed_hash[..], &kt_point, message],
    ));
    let r = reduce64(&r_wide);
    let signature = sign_with_scalar(&kt, &kt_point, &r, message);
    Ok(SubaccountSignature {
        token,
        admin_signature: auth.admin_signature(),
        signature,
    })
}

/// The subaccount part of a swarm request, as a service node receives it (raw bytes,
/// after base64 decoding for JSON requests).
#[derive(Clone, Copy, Debug)]
pub struct SubaccountRequest<'a> {
    /// `subaccount`: the 36-byte token.
    pub token: &'a [u8],
    /// `subaccount_sig`: the owner's signature over the token.
    pub admin_signature: &'a [u8],
    /// `signature`: the request signature, by the token's key.
    pub signature: &'a [u8],
    /// The signed request string.
    pub message: &'a [u8],
}

impl SubaccountRequest<'_> {
    /// Service-node verification for an account with prefix byte `account_prefix` whose
    /// owner key is `owner` (the group key for `03` accounts), in the storage server's order:
    ///
    /// 1. the token is not in `revoked` → else [`CryptoError::SubaccountRevoked`]
    ///    (pass an empty list for the unrevocable namespaces);
    /// 2. the token's prefix matches, or it has the any-prefix flag → else
    ///    [`CryptoError::WrongIdPrefix`];
    /// 3. its flags include `required` → else [`CryptoError::SubaccountPermission`];
    /// 4. the owner's signature over the token verifies, then the request signature verifies
    ///    under the token's key → else [`CryptoError::BadSignature`].
    ///
    /// Returns the token's flags.
    pub fn verify(
        &self,
        account_prefix: u8,
        owner: &Ed25519PublicKey,
        required: SubaccountFlags,
        revoked: &[SubaccountToken],
    ) -> Result<SubaccountFlags> {
        let token = SubaccountToken::from_slice(self.token)?;
        let admin_sig = to_array::<SIGNATURE_LEN>("subaccount_sig", self.admin_signature)?;
        let sig = to_array::<SIGNATURE_LEN>("subaccount request signature", self.signature)?;
        if revoked.contains(&token) {
            return Err(CryptoError::SubaccountRevoked);
        }
        let flags = token.flags();
        if token.network_prefix() != account_prefix && !flags.contains(SubaccountFlags::ANY_PREFIX)
        {
            return Err(CryptoError::WrongIdPrefix {
                found: format!("{:02x}", token.network_prefix()),
                expected: "the account's own prefix (or the any-prefix flag)",
            });
        }
        flags.require(required)?;
        owner
            .verify(token.as_bytes(), &admin_sig)
            .map_err(|_| CryptoError::BadSignature {
                what: "subaccount token owner signature",
            })?;
        token
            .pubkey()
            .verify(self.message, &sig)
            .map_err(|_| CryptoError::BadSignature {
                what: "subaccount request signature",
            })?;
        Ok(flags)
    }
}

/// [`SubaccountRequest::verify`] for a `03` group account with no revocation list:
/// `token`, `admin_signature` and `signature` as raw bytes, the signed `message`, the group
/// Ed25519 key. Returns the token's flags.
pub fn verify_group_subaccount(
    group_pk: &Ed25519PublicKey,
    token: &[u8],
    admin_signature: &[u8],
    signature: &[u8],
    message: &[u8],
    required: SubaccountFlags,
) -> Result<SubaccountFlags> {
    SubaccountRequest {
        token,
        admin_signature,
        signature,
        message,
    }
    .verify(IdPrefix::Group.byte(), group_pk, required, &[])
}

/// The two owner-only requests that manage subaccount tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeAction {
    /// `revoke_subaccount`.
    Revoke,
    /// `unrevoke_subaccount`.
    Unrevoke,
}

impl RevokeAction {
    /// The RPC method name, which also starts the signed string.
    pub fn method(self) -> &'static str {
        match self {
            Self::Revoke => "revoke_subaccount",
            Self::Unrevoke => "unrevoke_subaccount",
        }
    }

    /// The signed bytes: `ascii(method || timestamp) || token bytes…`.
    pub fn signed_bytes(self, timestamp_ms: u64, tokens: &[SubaccountToken]) -> Vec<u8> {
        let mut out = format!("{}{timestamp_ms}", self.method()).into_bytes();
        for t in tokens {
            out.extend_from_slice(t.as_bytes());
        }
        out
    }
}

/// The owner's signature of a revoke/unrevoke request.
pub fn sign_revoke(
    owner: &Ed25519Keypair,
    action: RevokeAction,
    timestamp_ms: u64,
    tokens: &[SubaccountToken],
) -> [u8; SIGNATURE_LEN] {
    owner.sign(&action.signed_bytes(timestamp_ms, tokens))
}

/// Verifies a revoke/unrevoke request signature by the account owner.
pub fn verify_revoke(
    owner: &Ed25519PublicKey,
    action: RevokeAction,
    timestamp_ms: u64,
    tokens: &[SubaccountToken],
    signature: &[u8],
) -> Result<()> {
    owner
        .verify(&action.signed_bytes(timestamp_ms, tokens), signature)
        .map_err(|e| match e {
            CryptoError::InvalidLength { .. } => e,
            _ => CryptoError::BadSignature {
                what: "subaccount revocation signature",
            },
        })
}
