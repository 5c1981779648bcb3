//! Groups v2 (`03` groups) cryptography (client-protocol §5).
//!
//! A group is an Ed25519 key pair; its id is `03 || group_pk`. Admins hold the group seed;
//! members hold a subaccount auth_data blob. The pieces:
//!
//! * [`keys`] — keys messages (namespace 12): rekeys with deterministic derivation and junk
//!   padding, supplemental messages, parsing and decryption by admins and members (§5.2);
//! * [`message`] — group message encryption (namespace 11, §5.4);
//! * [`subaccount`] — member swarm authentication: auth_data, tokens, member signatures, the
//!   service node's verifier, revocation signatures (§5.5);
//! * [`control`] — admin signatures of control messages (§5.6) and the kicked-member message.
//!
//! Every BLAKE2b "personalisation" string here (`SessionGroupKeySeed`, …) is a BLAKE2b
//! **key**, not a personalisation parameter.

pub mod control;
pub mod keys;
pub mod message;
pub mod subaccount;

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::account_id::{AccountId, IdPrefix};
use crate::ed25519::{Ed25519PublicKey, Ed25519Seed};
use crate::error::{CryptoError, Result};

pub use control::{
    AdminAction, InfoChangeType, KICKED_DOMAIN, MemberChangeType, kicked_message,
    kicked_message_with_nonce, open_kicked_message, sign_admin_action, verify_admin_action,
};
pub use keys::{
    FullKeysMessage, KEY_ENTRY_LEN, KEYS_ENTRY_MULTIPLE, KeysMessage, Rekey,
    SupplementalKeysMessage, parse_keys_message, rekey, rekey_key_and_nonce,
    supplemental_keys_message,
};
pub use message::{
    DecryptedGroupMessage, GROUP_MESSAGE_MAX_PLAINTEXT, GROUP_MESSAGE_PADDING,
    decrypt_group_message, encrypt_group_message, encrypt_group_message_with_nonce,
};
pub use subaccount::{
    RevokeAction, SubaccountAuth, SubaccountFlags, SubaccountRequest, SubaccountSignature,
    SubaccountToken, make_subaccount_auth, make_subaccount_token, sign_revoke,
    subaccount_blinding_factor, subaccount_sign, verify_group_subaccount, verify_revoke,
    verify_subaccount_auth,
};

/// The group's id: `03 || group Ed25519 public key`.
pub fn group_id(group_pk: &Ed25519PublicKey) -> AccountId {
    AccountId::new(IdPrefix::Group, group_pk.0)
}

/// The group Ed25519 key inside a `03` group id.
pub fn group_pubkey(id: &AccountId) -> Result<Ed25519PublicKey> {
    if id.prefix() != IdPrefix::Group {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", id.prefix().byte()),
            expected: "03 (a group id)",
        });
    }
    Ok(Ed25519PublicKey(*id.key()))
}

/// A 32-byte group encryption key (one generation). Zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct GroupEncKey([u8; 32]);

impl fmt::Debug for GroupEncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupEncKey(<secret>)")
    }
}

impl GroupEncKey {
    /// From 32 bytes.
    pub fn from_array(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// From a 32-byte slice.
    pub fn from_slice(key: &[u8]) -> Result<Self> {
        Ok(Self(crate::error::to_array("group encryption key", key)?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A group key with its generation and the time (ms) the keys message carrying it was
/// stored (supplemental messages carry it explicitly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupKey {
    /// The key generation (0 for the group's first key).
    pub generation: i64,
    /// The encryption key.
    pub key: GroupEncKey,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// `BLAKE2b-32(group_seed, key = hash_key)`.
fn seed_hash(group_seed: &Ed25519Seed, hash_key: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(crate::hash::blake2b_keyed::<32>(
        hash_key,
        &[group_seed.as_bytes()],
    ))
}

/// `H2 = BLAKE2b-32(group_seed, key = "SessionGroupKeySeed")`, the secret mixed into every
/// deterministic keys-message derivation.
pub fn key_seed_hash(group_seed: &Ed25519Seed) -> Zeroizing<[u8; 32]> {
    seed_hash(group_seed, b"SessionGroupKeySeed")
}

/// The key every admin decrypts the `K` entry with:
/// `BLAKE2b-32(group_seed, key = "SessionGroupKeyAdminKey")`.
pub fn admin_key(group_seed: &Ed25519Seed) -> Zeroizing<[u8; 32]> {
    seed_hash(group_seed, b"SessionGroupKeyAdminKey")
}

/// The BLAKE2b key of subaccount blinding factors:
/// `BLAKE2b-32(group_seed, key = "SessionGroupSubaccountMask")`.
pub fn subaccount_mask_key(group_seed: &Ed25519Seed) -> Zeroizing<[u8; 32]> {
    seed_hash(group_seed, b"SessionGroupSubaccountMask")
}

/// The X25519 key of a member's Session ID (which must be `05`-prefixed).
pub(crate) fn member_x25519(member: &AccountId) -> Result<[u8; 32]> {
    if member.prefix() != IdPrefix::Standard {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", member.prefix().byte()),
            expected: "05 (a group member's Session ID)",
        });
    }
    Ok(*member.key())
}

/// Members sorted by id (equivalently by lowercase hex) without duplicates, all `05`.
pub(crate) fn sorted_members(members: &[AccountId]) -> Result<Vec<AccountId>> {
    for m in members {
        member_x25519(m)?;
    }
    let mut sorted = members.to_vec();
    sorted.sort();
    sorted.dedup();
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_key_debug() {
        let pk = Ed25519PublicKey([7; 32]);
        let id = group_id(&pk);
        assert_eq!(id.prefix(), IdPrefix::Group);
        assert_eq!(group_pubkey(&id).unwrap(), pk);
        let sid = AccountId::new(IdPrefix::Standard, [7; 32]);
        assert!(matches!(
            group_pubkey(&sid),
            Err(CryptoError::WrongIdPrefix { .. })
        ));
        assert!(member_x25519(&id).is_err());
        let key = GroupEncKey::from_array([0xab; 32]);
        assert!(!format!("{key:?}").contains("ab"));
    }
}
