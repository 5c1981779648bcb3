//! Admin signatures on group control messages (client-protocol §5.6) and the message that
//! tells removed members they were kicked (§5.5).
//!
//! Control messages (`DataMessage.groupUpdateMessage`) carry an `adminSignature` by the
//! group key over an ASCII string:
//!
//! | message | signed string |
//! |---|---|
//! | invite | `"INVITE" || invitee Session ID hex || timestamp` |
//! | info change | `"INFO_CHANGE" || type || timestamp` |
//! | member change | `"MEMBER_CHANGE" || type || timestamp` |
//! | delete member content | `"DELETE_CONTENT" || timestamp || session ids… || message hashes…` |
//!
//! with numbers in decimal and the timestamp the message's sent time in milliseconds.

use crate::account_id::{AccountId, IdPrefix};
use crate::aead::XCHACHA_NONCE_LEN;
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, SIGNATURE_LEN};
use crate::error::{CryptoError, Result};
use crate::multi_encrypt::{
    decrypt_for_multiple_simple_ed25519, encrypt_for_multiple_simple_deterministic,
};

use super::sorted_members;

/// The multi-encrypt domain of kicked-member messages.
pub const KICKED_DOMAIN: &str = "SessionGroupKickedMessage";

/// `GroupUpdateInfoChangeMessage.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InfoChangeType {
    /// The name changed (1).
    Name = 1,
    /// The avatar changed (2).
    Avatar = 2,
    /// The disappearing-messages timer changed (3).
    DisappearingMessages = 3,
}

/// `GroupUpdateMemberChangeMessage.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberChangeType {
    /// Members were added (1).
    Added = 1,
    /// Members were removed (2).
    Removed = 2,
    /// Members were promoted to admin (3).
    Promoted = 3,
}

/// A control message's signed content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminAction<'a> {
    /// `GroupUpdateInviteMessage` for this invitee.
    Invite {
        /// The invited member's Session ID.
        invitee: &'a AccountId,
    },
    /// `GroupUpdateInfoChangeMessage`.
    InfoChange(InfoChangeType),
    /// `GroupUpdateMemberChangeMessage`.
    MemberChange(MemberChangeType),
    /// `GroupUpdateDeleteMemberContentMessage`: the Session IDs and message hashes exactly as
    /// they appear in the message.
    DeleteContent {
        /// `memberSessionIds`.
        member_ids: &'a [String],
        /// `messageHashes`.
        message_hashes: &'a [String],
    },
}

impl AdminAction<'_> {
    /// The exact bytes the admin signs for a message sent at `timestamp_ms`.
    pub fn signed_bytes(&self, timestamp_ms: u64) -> Vec<u8> {
        match self {
            Self::Invite { invitee } => format!("INVITE{}{timestamp_ms}", invitee.to_hex()),
            Self::InfoChange(t) => format!("INFO_CHANGE{}{timestamp_ms}", *t as u32),
            Self::MemberChange(t) => format!("MEMBER_CHANGE{}{timestamp_ms}", *t as u32),
            Self::DeleteContent {
                member_ids,
                message_hashes,
            } => format!(
                "DELETE_CONTENT{timestamp_ms}{}{}",
                member_ids.concat(),
                message_hashes.concat()
            ),
        }
        .into_bytes()
    }
}

/// The group key's `adminSignature` for `action` at `timestamp_ms`.
pub fn sign_admin_action(
    group: &Ed25519Keypair,
    action: &AdminAction<'_>,
    timestamp_ms: u64,
) -> [u8; SIGNATURE_LEN] {
    group.sign(&action.signed_bytes(timestamp_ms))
}

/// Verifies an `adminSignature`; [`CryptoError::BadSignature`] if it was not made by the
/// group key over exactly this action and timestamp.
pub fn verify_admin_action(
    group_pk: &Ed25519PublicKey,
    action: &AdminAction<'_>,
    timestamp_ms: u64,
    signature: &[u8],
) -> Result<()> {
    group_pk
        .verify(&action.signed_bytes(timestamp_ms), signature)
        .map_err(|e| match e {
            CryptoError::InvalidLength { .. } => e,
            _ => CryptoError::BadSignature {
                what: "group control message admin signature",
            },
        })
}

/// The kicked-member message stored in namespace −11 (random nonce): for each removed
/// member, `M_x || ascii(current_generation)` multi-encrypted from the group key with
/// domain [`KICKED_DOMAIN`].
pub fn kicked_message(
    group: &Ed25519Keypair,
    removed: &[AccountId],
    current_generation: i64,
) -> Result<Vec<u8>> {
    let nonce = crate::random::random_array::<XCHACHA_NONCE_LEN>()?;
    kicked_message_with_nonce(group, removed, current_generation, &nonce)
}

/// Deterministic twin of [`kicked_message`].
pub fn kicked_message_with_nonce(
    group: &Ed25519Keypair,
    removed: &[AccountId],
    current_generation: i64,
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<Vec<u8>> {
    let removed = sorted_members(removed)?;
    let xs: Vec<[u8; 32]> = removed.iter().map(|m| *m.key()).collect();
    let gen_text = current_generation.to_string();
    let messages: Vec<Vec<u8>> = xs
        .iter()
        .map(|x| [&x[..], gen_text.as_bytes()].concat())
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    encrypt_for_multiple_simple_deterministic(
        &refs,
        &xs,
        &group.to_x25519(),
        KICKED_DOMAIN.as_bytes(),
        nonce,
        0,
        &[0; 32],
    )
}

/// Opens a kicked-member message as `member`: returns the group key generation it names
/// if it contains an entry for this member ([`CryptoError::DecryptionFailed`] if not,
/// [`CryptoError::Malformed`] if the entry is not `own X25519 key || decimal generation`).
pub fn open_kicked_message(
    member: &Ed25519Keypair,
    group_pk: &Ed25519PublicKey,
    encoded: &[u8],
) -> Result<i64> {
    let malformed = |reason: &str| CryptoError::Malformed {
        what: "kicked-member message",
        reason: reason.into(),
    };
    let plain =
        decrypt_for_multiple_simple_ed25519(encoded, member, group_pk, KICKED_DOMAIN.as_bytes())?;
    let own = AccountId::new(IdPrefix::Standard, *member.to_x25519().public());
    if plain.len() <= 32 || plain[..32] != own.key()[..] {
        return Err(malformed("entry does not start with our own key"));
    }
    let text = &plain[32..];
    if !text.iter().all(u8::is_ascii_digit) || (text.len() > 1 && text[0] == b'0') {
        return Err(malformed("generation is not a decimal number"));
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| malformed("generation is out of range"))
}
