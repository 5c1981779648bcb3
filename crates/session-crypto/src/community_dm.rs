//! Direct messages between blinded community ids, relayed by a community server's inbox
//! (client-protocol §4.5, community-server §5.6).
//!
//! Sender `a` (blinded `kA`) and recipient `b` (blinded `jB`) share
//! `key = BLAKE2b-256(shared || kA || jB)` — sender's id first, recipient's second, in
//! both directions — where
//! * blind25: `shared = [k'a]·jB = [j'b]·kA` (double blinding);
//! * blind15: `shared = [a]·jB = [b]·kA` (`j = k`, so the unblinded scalar is used).
//!
//! The blob is `0x00 || XChaCha20-Poly1305(key, nonce, msg || A_sender) || nonce(24)` —
//! the nonce at the **end** — where `A_sender` is the sender's real Ed25519 key. The
//! receiver checks that this key blinds to the outer sender id (both signs for blind15)
//! and learns the sender's Session ID. The sender can read its own outbox with the same
//! key.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::account_id::{AccountId, IdPrefix};
use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::blinding::{BlindedKeypair, Blinding, blinded_id_from_ed25519};
use crate::curve::{ed25519_pk_to_x25519, scalarmult_noclamp};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey};
use crate::error::{CryptoError, Result, to_array};
use crate::hash::blake2b;

/// The version byte that starts every blob.
pub const VERSION: u8 = 0x00;
/// Bytes added to the message: version, sender key, tag and nonce (1 + 32 + 16 + 24).
pub const OVERHEAD: usize = 1 + 32 + TAG_LEN + XCHACHA_NONCE_LEN;

const WHAT: &str = "community DM";

/// Which side of a DM this account is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DmRole {
    /// We received it (`/inbox`).
    Inbox,
    /// We sent it (`/outbox`).
    Outbox,
}

/// A decrypted community DM.
#[derive(Clone, PartialEq, Eq)]
pub struct CommunityDm {
    /// The message (the padded `Content` as the sender encrypted it).
    pub message: Vec<u8>,
    /// The sender's Session ID (`05` + X25519 key of the key inside).
    pub sender_session_id: AccountId,
    /// The sender's real Ed25519 key, carried inside the ciphertext.
    pub sender_ed25519: Ed25519PublicKey,
    /// The outer blinded sender id, as given (it matched the key inside).
    pub sender_blinded_id: AccountId,
    /// Whether we were the recipient or the sender.
    pub role: DmRole,
}

impl fmt::Debug for CommunityDm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunityDm")
            .field("message_len", &self.message.len())
            .field("sender_session_id", &self.sender_session_id)
            .field("sender_blinded_id", &self.sender_blinded_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The common blinding of the two ids; both must be `15` or both `25`.
fn common_blinding(a: &AccountId, b: &AccountId) -> Result<Blinding> {
    let blinding = Blinding::from_prefix(a.prefix())?;
    if b.prefix() != a.prefix() {
        return Err(CryptoError::WrongIdPrefix {
            found: format!("{:02x}", b.prefix().byte()),
            expected: "the same blinded prefix (15 or 25) for sender and recipient",
        });
    }
    Ok(blinding)
}

/// The DM key from our side. `ours`/`theirs` are the blinded keys of the two parties as
/// they appear on the message; `role` says which of them is the sender.
fn dm_key(
    me: &BlindedKeypair,
    keys: &Ed25519Keypair,
    ours: &[u8; 32],
    theirs: &[u8; 32],
    role: DmRole,
) -> Result<Zeroizing<[u8; 32]>> {
    let mut scalar = match me.blinding() {
        Blinding::Blind15 => keys.scalar(),
        Blinding::Blind25 => *me.secret_scalar(),
    };
    let shared = scalarmult_noclamp(&scalar, theirs, "blinded id of the other party");
    scalar.zeroize();
    let shared = Zeroizing::new(shared?);
    let (sender, recipient) = match role {
        DmRole::Outbox => (ours, theirs),
        DmRole::Inbox => (theirs, ours),
    };
    Ok(Zeroizing::new(blake2b::<32>(&[
        &shared[..],
        sender,
        recipient,
    ])))
}

/// Encrypts `message` from `sender` to the blinded id `recipient` (`15…` or `25…`; our
/// own blinded id of the same kind is the sender id) with a random nonce.
pub fn encrypt_for_blinded_recipient(
    sender: &Ed25519Keypair,
    server_pk: &[u8; 32],
    recipient: &AccountId,
    message: &[u8],
) -> Result<Vec<u8>> {
    let nonce = crate::random::random_array::<XCHACHA_NONCE_LEN>()?;
    encrypt_for_blinded_recipient_with_nonce(sender, server_pk, recipient, message, &nonce)
}

/// Deterministic twin of [`encrypt_for_blinded_recipient`] with the given nonce.
pub fn encrypt_for_blinded_recipient_with_nonce(
    sender: &Ed25519Keypair,
    server_pk: &[u8; 32],
    recipient: &AccountId,
    message: &[u8],
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<Vec<u8>> {
    let blinding = Blinding::from_prefix(recipient.prefix())?;
    let me = BlindedKeypair::new(blinding, sender, server_pk);
    let key = dm_key(
        &me,
        sender,
        me.public_key().as_bytes(),
        recipient.key(),
        DmRole::Outbox,
    )?;
    let mut inner = Zeroizing::new(Vec::with_capacity(message.len() + 32));
    inner.extend_from_slice(message);
    inner.extend_from_slice(sender.public().as_bytes());
    let ct = xchacha20poly1305_encrypt(&key, nonce, &[], &inner);
    let mut out = Vec::with_capacity(1 + ct.len() + XCHACHA_NONCE_LEN);
    out.push(VERSION);
    out.extend_from_slice(&ct);
    out.extend_from_slice(nonce);
    Ok(out)
}

/// Decrypts a DM given both ids as the server lists them (`sender`, `recipient`), like
/// libsession's `decrypt_from_blinded_recipient`: if `sender` is our own blinded id we
/// read it as the sender (outbox), otherwise as the recipient (inbox).
pub fn decrypt_community_dm(
    me: &Ed25519Keypair,
    server_pk: &[u8; 32],
    sender: &AccountId,
    recipient: &AccountId,
    blob: &[u8],
) -> Result<CommunityDm> {
    let blinding = common_blinding(sender, recipient)?;
    let mine = BlindedKeypair::new(blinding, me, server_pk);
    let role = if *sender == mine.account_id() {
        DmRole::Outbox
    } else {
        DmRole::Inbox
    };
    decrypt_as(me, &mine, server_pk, sender, recipient, role, blob)
}

/// Decrypts a DM we received from the blinded id `sender` (the recipient id is our own
/// blinded id of the same kind).
pub fn decrypt_inbox(
    me: &Ed25519Keypair,
    server_pk: &[u8; 32],
    sender: &AccountId,
    blob: &[u8],
) -> Result<CommunityDm> {
    let blinding = Blinding::from_prefix(sender.prefix())?;
    let mine = BlindedKeypair::new(blinding, me, server_pk);
    let recipient = mine.account_id();
    decrypt_as(
        me,
        &mine,
        server_pk,
        sender,
        &recipient,
        DmRole::Inbox,
        blob,
    )
}

/// Decrypts a DM we sent to the blinded id `recipient` (our outbox).
pub fn decrypt_outbox(
    me: &Ed25519Keypair,
    server_pk: &[u8; 32],
    recipient: &AccountId,
    blob: &[u8],
) -> Result<CommunityDm> {
    let blinding = Blinding::from_prefix(recipient.prefix())?;
    let mine = BlindedKeypair::new(blinding, me, server_pk);
    let sender = mine.account_id();
    decrypt_as(
        me,
        &mine,
        server_pk,
        &sender,
        recipient,
        DmRole::Outbox,
        blob,
    )
}

fn decrypt_as(
    keys: &Ed25519Keypair,
    mine: &BlindedKeypair,
    server_pk: &[u8; 32],
    sender: &AccountId,
    recipient: &AccountId,
    role: DmRole,
    blob: &[u8],
) -> Result<CommunityDm> {
    let blinding = common_blinding(sender, recipient)?;
    let too_short = |got| CryptoError::InvalidLength {
        what: WHAT,
        expected: "at least 73",
        got,
    };
    let Some((&version, rest)) = blob.split_first() else {
        return Err(too_short(0));
    };
    if version != VERSION {
        return Err(CryptoError::Malformed {
            what: WHAT,
            reason: format!("unsupported version byte 0x{version:02x} (expected 0x00)"),
        });
    }
    if blob.len() < OVERHEAD {
        return Err(too_short(blob.len()));
    }
    let (ct, nonce) = rest.split_at(rest.len() - XCHACHA_NONCE_LEN);
    let nonce: [u8; XCHACHA_NONCE_LEN] = to_array("community DM nonce", nonce)?;

    let (ours, theirs) = match role {
        DmRole::Outbox => (sender.key(), recipient.key()),
        DmRole::Inbox => (recipient.key(), sender.key()),
    };
    let key = dm_key(mine, keys, ours, theirs, role)?;
    let mut inner = xchacha20poly1305_decrypt(&key, &nonce, &[], ct, WHAT)?;

    // The last 32 bytes are the sender's real Ed25519 key (length checked above).
    let split = inner.len() - 32;
    let sender_ed = Ed25519PublicKey(to_array("community DM sender key", &inner[split..])?);
    inner.truncate(split);
    let sender_x =
        ed25519_pk_to_x25519(sender_ed.as_bytes()).map_err(|_| CryptoError::InvalidPublicKey {
            what: "community DM sender Ed25519 key",
        })?;
    let extracted = blinded_id_from_ed25519(blinding, &sender_ed, server_pk)?;
    let matches = extracted == *sender
        || (blinding == Blinding::Blind15 && {
            let mut flipped = *extracted.key();
            flipped[31] ^= 0x80;
            AccountId::new(IdPrefix::Blinded15, flipped) == *sender
        });
    if !matches {
        return Err(CryptoError::Malformed {
            what: "community DM sender",
            reason: format!(
                "the Ed25519 key inside does not blind to the sender id {sender} on this server"
            ),
        });
    }
    Ok(CommunityDm {
        message: inner,
        sender_session_id: AccountId::new(IdPrefix::Standard, sender_x),
        sender_ed25519: sender_ed,
        sender_blinded_id: *sender,
        role,
    })
}
