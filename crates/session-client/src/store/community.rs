//! What the local store keeps about communities (rooms on community servers): the
//! joined rooms with their poll state, the room messages, and the blinded DMs relayed
//! by a server's inbox. See [`super::ClientStore`]'s `community` methods.
//!
//! * A **server** is named by its canonical base URL (`http://127.0.0.1:8080`, lower
//!   case, no trailing slash) and keeps its X25519 key, how it is reached (directly or
//!   through an onion path), whether it wants blinded ids, and the last inbox and
//!   outbox DM ids seen. It exists while at least one of its rooms is joined.
//! * A **room** ([`Community`]) is a server and a lower-case token, with its name, the
//!   `info_updates` counter of the last room info seen and the last message `seqno`
//!   polled (0: nothing polled yet).
//! * **Messages** are keyed by `(server, room, server message id)` and replaced as a
//!   whole when the server sends a newer version (edit, deletion, reactions).
//! * **DMs** are keyed by `(server, direction, server DM id)`.
//!
//! Neither `Debug` of a message nor of a DM prints its text.

use std::fmt;

use session_crypto::AccountId;

use crate::attachments::Attachment;

/// A room to remember as joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCommunity {
    /// The server's canonical base URL.
    pub base_url: String,
    /// The server's X25519 public key.
    pub pubkey: [u8; 32],
    /// Reach the server directly over HTTP(S) rather than through an onion path.
    pub direct: bool,
    /// Whether the server requires blinded ids (its `blind` capability), if known.
    pub blinded: Option<bool>,
    /// The room token (lower case).
    pub token: String,
    /// The room's display name.
    pub name: String,
    /// The room's `info_updates` counter when joined.
    pub info_updates: u64,
}

/// A joined room and the state of its server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Community {
    /// The server's canonical base URL.
    pub base_url: String,
    /// The server's X25519 public key.
    pub pubkey: [u8; 32],
    /// Reached directly (true) or through an onion path (false).
    pub direct: bool,
    /// Whether the server requires blinded ids, if known.
    pub blinded: Option<bool>,
    /// The room token (lower case).
    pub token: String,
    /// The room's display name.
    pub name: String,
    /// The room's `info_updates` counter last seen.
    pub info_updates: u64,
    /// The last message `seqno` polled (0: none yet).
    pub seqno: u64,
    /// The last inbox DM id seen on this server (0: none).
    pub inbox_since: u64,
    /// The last outbox DM id seen on this server (0: none).
    pub outbox_since: u64,
    /// When the room was joined, ms.
    pub joined_ms: u64,
}

/// A change of a joined room's state; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommunityUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New `info_updates` counter.
    pub info_updates: Option<u64>,
    /// New last polled `seqno`.
    pub seqno: Option<u64>,
}

/// What the checks of a received community message (or DM) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Decoded, and the signature verifies under the sender's key (for DMs: decrypted
    /// and the sender key inside matches the sender id).
    Valid,
    /// The signature does not verify: someone altered it, or the poster is not who the
    /// id says. Its text must not be trusted.
    BadSignature,
    /// The data could not be decoded (not base64, not a `Content`, not decryptable).
    Malformed,
}

impl MessageStatus {
    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            Self::Valid => 0,
            Self::BadSignature => 1,
            Self::Malformed => 2,
        }
    }

    /// The status of a stored code (unknown codes read as malformed).
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Valid,
            1 => Self::BadSignature,
            _ => Self::Malformed,
        }
    }

    /// A short name (`"valid"`, `"bad_signature"`, `"malformed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::BadSignature => "bad_signature",
            Self::Malformed => "malformed",
        }
    }
}

/// One reaction on a community message (community-server §6.3).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommunityReaction {
    /// The emoji (or other reaction text).
    pub emoji: String,
    /// How many users reacted with it.
    pub count: u64,
    /// Whether this account is one of them.
    pub you: bool,
    /// The first reactors' ids (as many as the server lists).
    pub reactors: Vec<String>,
}

/// A message of a room.
#[derive(Clone, PartialEq, Eq)]
pub struct CommunityMessage {
    /// The server's canonical base URL.
    pub base_url: String,
    /// The room token.
    pub room: String,
    /// The server's message id.
    pub id: u64,
    /// The room sequence number of the message's last change.
    pub seqno: u64,
    /// The poster's id on the server (`15…` blinded, or `05…` for old unblinded posts).
    pub sender: AccountId,
    /// When the server accepted it, ms.
    pub posted_ms: u64,
    /// When it was last edited (or deleted), ms.
    pub edited_ms: Option<u64>,
    /// The sender's own timestamp (`Content.sigTimestamp` / `DataMessage.timestamp`),
    /// ms, if it had one.
    pub sent_ms: Option<u64>,
    /// The text (empty when deleted, malformed or not a text message).
    pub body: String,
    /// The display name the sender attached.
    pub display_name: Option<String>,
    /// What the checks found.
    pub status: MessageStatus,
    /// Deleted by its author or a moderator (the text is gone).
    pub deleted: bool,
    /// Reactions, in the server's order.
    pub reactions: Vec<CommunityReaction>,
    /// Room files attached to the post (plaintext on the server; no key).
    pub attachments: Vec<Attachment>,
}

impl fmt::Debug for CommunityMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunityMessage")
            .field("base_url", &self.base_url)
            .field("room", &self.room)
            .field("id", &self.id)
            .field("seqno", &self.seqno)
            .field("sender", &self.sender)
            .field("posted_ms", &self.posted_ms)
            .field("status", &self.status)
            .field("deleted", &self.deleted)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Which way a community DM went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DmDirection {
    /// Received (`/inbox`).
    Inbox,
    /// Sent by this account (`/outbox`).
    Outbox,
}

/// A direct message between blinded ids, relayed by a community server.
#[derive(Clone, PartialEq, Eq)]
pub struct CommunityDmRecord {
    /// The server's canonical base URL.
    pub base_url: String,
    /// The server's DM id (unique per server and direction).
    pub id: u64,
    /// Received or sent.
    pub direction: DmDirection,
    /// The other party's blinded id (the sender of a received DM, the recipient of a
    /// sent one).
    pub peer: AccountId,
    /// The sender's Session ID (`05…`) recovered from the DM (for a sent DM: ours);
    /// `None` when the DM could not be read.
    pub sender_session_id: Option<AccountId>,
    /// When the server accepted it, ms.
    pub posted_ms: u64,
    /// The text.
    pub body: String,
    /// The display name the sender attached.
    pub display_name: Option<String>,
    /// What the checks found.
    pub status: MessageStatus,
}

impl fmt::Debug for CommunityDmRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunityDmRecord")
            .field("base_url", &self.base_url)
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("peer", &self.peer)
            .field("posted_ms", &self.posted_ms)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
