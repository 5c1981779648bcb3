//! The client's local store: conversations, messages (with their server hashes and
//! timestamps), contacts, poll state and a few counters, behind the [`ClientStore`] trait
//! with two backends: SQLite ([`SqliteStore`], one file `client.db` in the data directory,
//! mode 0600, survives restarts) and in-memory ([`MemoryStore`], for fast tests). Both
//! pass the same conformance suite (`conformance.rs`, run by the unit tests).
//!
//! # Why a synchronous trait
//!
//! A client is one user with one small database: every operation is a handful of
//! indexed statements on a local file and finishes in well under a millisecond. The
//! methods are therefore plain `fn`s over `&self` (the SQLite backend serialises them on
//! one `Mutex<Connection>`), which keeps the trait dyn-compatible (`Arc<dyn ClientStore>`)
//! without boxed futures and lets tests run without a runtime. An async caller that
//! wants to keep a runtime thread free of even that can wrap a call in
//! `tokio::task::spawn_blocking` with an `Arc<dyn ClientStore>`.
//!
//! # Semantics (the same for every backend)
//!
//! * **Messages** are identified locally by a [`MessageId`]; a message is a duplicate if
//!   its server hash, or its `(conversation, sender, sent_ms)`, is already known — also
//!   for messages that were deleted since (deletions keep a body-less *tombstone*, so a
//!   re-polled copy of a deleted message does not come back). [`ClientStore::forget_deleted`]
//!   drops old tombstones once no swarm can still hold the message (30 days is safe).
//! * **Read state**: outgoing messages are read when stored; incoming ones are unread
//!   until [`ClientStore::mark_read`] / [`ClientStore::mark_message_read`]. Whether the
//!   peer read an outgoing message (read receipts) is [`StoredMessage::peer_read`].
//! * **Disappearing messages** (client-protocol §9): a message's own [`Expiry`] (from
//!   `Content.expirationType/Timer`) decides its `expires_at_ms`: after-send messages
//!   expire `duration` after `sent_ms`; after-read ones `duration` after they are read —
//!   at once for outgoing messages (the sender has read them), when marked read for
//!   incoming ones. [`ClientStore::delete_expired`] removes what is due. The setting of a
//!   conversation ([`Conversation::disappearing`]) is what outgoing messages should use.
//! * **Message requests**: a conversation created by an incoming message is a request
//!   (`accepted == false`) unless the sender is a contact we approved; one created by an
//!   outgoing message, or by [`ClientStore::open_conversation`], is accepted.
//!   [`ClientStore::accept_request`] accepts it and marks the contact approved.
//! * **Unsend** (delete for everyone) is keyed by `(author, sent_ms)`, as the
//!   `UnsendRequest` is: it removes every matching message and remembers the key, so a
//!   message that arrives after its unsend is not stored either.
//! * **Time** is always passed in (`now_ms`); the store never reads a clock.
//! * Timestamps are milliseconds since the Unix epoch and must fit in an `i64`
//!   ([`MAX_MS`]); larger values in a [`NewMessage`] are refused with
//!   [`StoreError::Invalid`], computed expiries are capped at [`MAX_MS`].
//!
//! Neither `Debug` of a message nor of a contact prints bodies or profile keys.

use std::fmt;

use session_crypto::AccountId;
use thiserror::Error;

use crate::attachments::Attachment;

pub mod community;
pub mod memory;
pub mod sqlite;

#[cfg(test)]
mod conformance;

pub use community::{
    Community, CommunityDmRecord, CommunityMessage, CommunityReaction, CommunityUpdate,
    DmDirection, MessageStatus, NewCommunity,
};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// The result type of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The largest timestamp (ms) the store keeps: `i64::MAX`, SQLite's integer range.
pub const MAX_MS: u64 = i64::MAX as u64;

/// Everything that can go wrong in the local store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file-system operation on the data directory or the database file failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a Session client database (garbage, damaged, or another
    /// program's SQLite database).
    #[error(
        "{path} is not a Session client database or is damaged ({detail}); move it aside \
         (rename it) to start with an empty store, or restore it from a backup"
    )]
    NotADatabase {
        /// The database file.
        path: String,
        /// What SQLite or the store found.
        detail: String,
    },
    /// The database was written by a newer version of this program.
    #[error(
        "{path} has schema version {found}, but this build of session understands only up \
         to version {supported}; upgrade session to open it (or move the file aside to \
         start with an empty store)"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// The schema version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Any other database failure.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// An argument the store cannot keep (a timestamp beyond [`MAX_MS`], an empty hash).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// The local id of a stored message (unique in one store, never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Who wrote a message, seen from this account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    Incoming,
    /// Sent by this account (from this device or, via sync, another one).
    Outgoing,
}

pub use crate::message::fields::{Expiry, ExpiryMode, ProfilePicture};

/// A message to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The conversation: the peer's Session ID (for Note to Self, the own one).
    pub conversation: AccountId,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// The author (the peer for incoming messages, this account for outgoing ones).
    pub sender: AccountId,
    /// The sender's timestamp (`Envelope.timestamp`), ms.
    pub sent_ms: u64,
    /// When this device stored it, ms.
    pub received_ms: u64,
    /// The swarm's hash of the message, if known (polled messages; sent ones once the
    /// swarm answered).
    pub server_hash: Option<String>,
    /// The text.
    pub body: String,
    /// Its attachments (pointers; the files stay on the file server).
    pub attachments: Vec<Attachment>,
    /// The message's own disappearing timer, if any.
    pub expiry: Option<Expiry>,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("conversation", &self.conversation)
            .field("direction", &self.direction)
            .field("sent_ms", &self.sent_ms)
            .field("server_hash", &self.server_hash)
            .field("body_len", &self.body.len())
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// A stored message.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The local id.
    pub id: MessageId,
    /// The conversation (peer's Session ID).
    pub conversation: AccountId,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// The author.
    pub sender: AccountId,
    /// The sender's timestamp, ms.
    pub sent_ms: u64,
    /// When this device stored it, ms.
    pub received_ms: u64,
    /// The swarm's hash, if known.
    pub server_hash: Option<String>,
    /// The text.
    pub body: String,
    /// Whether this account has read it (always true for outgoing messages).
    pub read: bool,
    /// For outgoing messages: whether the peer sent a read receipt for it.
    pub peer_read: bool,
    /// The message's own disappearing timer, if any.
    pub expiry: Option<Expiry>,
    /// When it disappears, ms (`None`: never, or an after-read timer not started yet).
    pub expires_at_ms: Option<u64>,
    /// Its attachments (pointers; `Messenger::fetch_attachment` downloads one).
    pub attachments: Vec<Attachment>,
}

impl StoredMessage {
    /// The position of this message in its conversation's history, for paging.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            sent_ms: self.sent_ms,
            id: self.id,
        }
    }
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("id", &self.id)
            .field("conversation", &self.conversation)
            .field("direction", &self.direction)
            .field("sent_ms", &self.sent_ms)
            .field("server_hash", &self.server_hash)
            .field("body_len", &self.body.len())
            .field("read", &self.read)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// A position in a conversation's history: history is ordered by `(sent_ms, id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cursor {
    /// The sender's timestamp, ms.
    pub sent_ms: u64,
    /// The local id (breaks ties between equal timestamps).
    pub id: MessageId,
}

/// What [`ClientStore::insert_message`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new message, stored under this id.
    New(MessageId),
    /// Already known (same server hash, or same conversation, sender and sent time),
    /// possibly deleted since; nothing was stored.
    Duplicate,
    /// Its author unsent it already (an `UnsendRequest` arrived first); not stored.
    Unsent,
}

impl Inserted {
    /// Whether the message was new (and is now stored).
    pub fn is_new(self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// One conversation as the inbox shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// The peer's Session ID.
    pub peer: AccountId,
    /// The peer's display name, from its contact entry.
    pub display_name: Option<String>,
    /// `false` while it is a message request.
    pub accepted: bool,
    /// Unread incoming messages.
    pub unread: u64,
    /// The newest message (by sent time), if any.
    pub last_message: Option<StoredMessage>,
    /// The disappearing-messages setting (`None`: off).
    pub disappearing: Option<Expiry>,
    /// When the conversation was created locally, ms.
    pub created_ms: u64,
}

impl Conversation {
    /// The time the inbox sorts by: the newest message's sent time, else creation time.
    pub fn last_activity_ms(&self) -> u64 {
        self.last_message
            .as_ref()
            .map_or(self.created_ms, |m| m.sent_ms)
    }
}

/// Which conversations to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationKind {
    /// Accepted conversations (the inbox).
    Accepted,
    /// Message requests waiting to be accepted.
    Requests,
}

/// A contact (client-protocol §6.8 contacts config, reduced to what the client uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The contact's Session ID.
    pub session_id: AccountId,
    /// The name the contact chose.
    pub display_name: Option<String>,
    /// The contact's profile picture.
    pub profile_pic: Option<ProfilePicture>,
    /// We approved them (accepted their request or wrote to them first).
    pub approved: bool,
    /// They approved us.
    pub approved_me: bool,
    /// We blocked them.
    pub blocked: bool,
}

impl Contact {
    /// A contact with nothing known but its id.
    pub fn new(session_id: AccountId) -> Self {
        Self {
            session_id,
            display_name: None,
            profile_pic: None,
            approved: false,
            approved_me: false,
            blocked: false,
        }
    }
}

/// Why a polled message was thrown away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Its signature did not verify.
    BadSignature,
    /// It could not be decrypted with our keys.
    NotForUs,
    /// Garbage: not a parseable envelope or content.
    Malformed,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::BadSignature, Self::NotForUs, Self::Malformed];

    /// The name the store keeps it under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::NotForUs => "not_for_us",
            Self::Malformed => "malformed",
        }
    }
}

/// How many polled messages were rejected, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectedCounts {
    /// Bad signatures.
    pub bad_signature: u64,
    /// Not decryptable with our keys.
    pub not_for_us: u64,
    /// Garbage.
    pub malformed: u64,
}

impl RejectedCounts {
    /// The count for one reason.
    pub fn get(&self, reason: RejectReason) -> u64 {
        match reason {
            RejectReason::BadSignature => self.bad_signature,
            RejectReason::NotForUs => self.not_for_us,
            RejectReason::Malformed => self.malformed,
        }
    }

    /// Mutable access to the count for one reason.
    pub fn get_mut(&mut self, reason: RejectReason) -> &mut u64 {
        match reason {
            RejectReason::BadSignature => &mut self.bad_signature,
            RejectReason::NotForUs => &mut self.not_for_us,
            RejectReason::Malformed => &mut self.malformed,
        }
    }

    /// All reasons together.
    pub fn total(&self) -> u64 {
        self.bad_signature
            .saturating_add(self.not_for_us)
            .saturating_add(self.malformed)
    }
}

/// The client's persistence. Every method is one transaction: it happens entirely or
/// not at all. See the module documentation for the semantics.
pub trait ClientStore: Send + Sync + fmt::Debug {
    // ---- messages ----

    /// Stores `msg` unless it is a duplicate or was unsent (see [`Inserted`]), creating
    /// its conversation if needed (a request if incoming from someone we have not
    /// approved). A duplicate of a message stored without a server hash gives that
    /// message the new one's hash.
    fn insert_message(&self, msg: &NewMessage) -> Result<Inserted>;

    /// Sets the server hash of a stored message (a sent message once the swarm
    /// answered). False if there is no such message.
    fn set_server_hash(&self, id: MessageId, hash: &str) -> Result<bool>;

    /// One message by local id (deleted messages are gone).
    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;

    /// One message by server hash.
    fn message_by_hash(&self, hash: &str) -> Result<Option<StoredMessage>>;

    /// Up to `limit` messages whose server hash starts with `prefix` (what a user
    /// typed of a hash), in no particular order.
    fn messages_by_hash_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<StoredMessage>>;

    /// Up to `limit` messages of `peer`'s conversation that come before `before` (all if
    /// `None`) — the newest such ones — in history order (oldest first).
    fn history(
        &self,
        peer: &AccountId,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>>;

    /// Marks the incoming messages of `peer` sent at or before `up_to_sent_ms` read at
    /// `now_ms`, starting the timers of after-read ones. Returns the messages that were
    /// unread (now read, with their new expiry), in history order: their sent times go
    /// in read receipts, their hashes and expiries into `expire` requests.
    fn mark_read(
        &self,
        peer: &AccountId,
        up_to_sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>>;

    /// Marks one message read at `now_ms` as [`ClientStore::mark_read`] does; returns it
    /// if it was an unread incoming message.
    fn mark_message_read(&self, id: MessageId, now_ms: u64) -> Result<Option<StoredMessage>>;

    /// Applies a read receipt from `peer`: its outgoing messages with these sent times
    /// are marked read by the peer. Returns how many changed.
    fn apply_read_receipt(&self, peer: &AccountId, sent_ms: &[u64]) -> Result<usize>;

    /// Sets (or clears) when a message disappears. False if there is no such message.
    fn set_expiry(&self, id: MessageId, expires_at_ms: Option<u64>) -> Result<bool>;

    /// Deletes one message on this device only; returns it as it was.
    fn delete_for_me(&self, id: MessageId) -> Result<Option<StoredMessage>>;

    /// Applies an unsend of `author`'s message sent at `sent_ms`, received at `now_ms`:
    /// deletes every such message (returned as they were, with their hashes) and
    /// remembers the key so that a late copy is not stored.
    fn apply_unsend(
        &self,
        author: &AccountId,
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>>;

    /// Deletes every message with `expires_at_ms <= now_ms`; returns them as they were.
    fn delete_expired(&self, now_ms: u64) -> Result<Vec<StoredMessage>>;

    /// Forgets deleted messages received before `before_ms`, and unsends recorded
    /// before it: after that, a re-polled copy would be stored again. Returns how many
    /// records were dropped.
    fn forget_deleted(&self, before_ms: u64) -> Result<usize>;

    // ---- conversations ----

    /// The conversations of one kind, newest activity first.
    fn conversations(&self, kind: ConversationKind) -> Result<Vec<Conversation>>;

    /// One conversation.
    fn conversation(&self, peer: &AccountId) -> Result<Option<Conversation>>;

    /// Creates an accepted conversation with `peer` if there is none (true if created);
    /// an existing request stays a request.
    fn open_conversation(&self, peer: &AccountId, now_ms: u64) -> Result<bool>;

    /// Accepts a message request: the conversation becomes accepted and the contact
    /// approved. False if there is no conversation with `peer`.
    fn accept_request(&self, peer: &AccountId) -> Result<bool>;

    /// Deletes a conversation (declining a request, or "delete conversation") and its
    /// messages; returns how many messages were deleted.
    fn delete_conversation(&self, peer: &AccountId) -> Result<usize>;

    /// Sets the disappearing-messages setting (`None`: off). False if there is no
    /// conversation with `peer`.
    fn set_disappearing(&self, peer: &AccountId, setting: Option<Expiry>) -> Result<bool>;

    /// The disappearing-messages setting (`None`: off, or no such conversation).
    fn disappearing(&self, peer: &AccountId) -> Result<Option<Expiry>>;

    // ---- contacts ----

    /// Inserts or replaces a contact.
    fn upsert_contact(&self, contact: &Contact) -> Result<()>;

    /// One contact.
    fn contact(&self, id: &AccountId) -> Result<Option<Contact>>;

    /// Every contact, by Session ID.
    fn contacts(&self) -> Result<Vec<Contact>>;

    // ---- polling ----

    /// The last hash seen when polling `account`'s swarm in `namespace` at the node
    /// with Ed25519 key `node`. Kept per node, as Session clients do: members of a swarm
    /// store concurrent messages in different orders, so a hash learnt from one member
    /// would make another skip messages it stored before that hash.
    fn last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
    ) -> Result<Option<String>>;

    /// Records the last hash seen when polling `account`'s swarm in `namespace` at
    /// `node`.
    fn set_last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
        hash: &str,
    ) -> Result<()>;

    /// Counts one rejected message; returns the new count for `reason`.
    fn record_rejected(&self, reason: RejectReason) -> Result<u64>;

    /// The rejected-message counts.
    fn rejected_counts(&self) -> Result<RejectedCounts>;

    // ---- communities (see [`community`]) ----

    /// Remembers a joined room, creating its server's entry or updating its key and
    /// route (a new key resets the server's DM cursors). Joining a room again keeps
    /// its poll state and updates its name. True if the room was not joined before.
    fn join_community(&self, room: &NewCommunity, now_ms: u64) -> Result<bool>;

    /// Every joined room, by server then token.
    fn communities(&self) -> Result<Vec<Community>>;

    /// One joined room.
    fn community(&self, base_url: &str, token: &str) -> Result<Option<Community>>;

    /// Forgets a joined room and its messages; the server's entry and DMs go with its
    /// last room. False if the room was not joined.
    fn leave_community(&self, base_url: &str, token: &str) -> Result<bool>;

    /// Changes a joined room's name, `info_updates` or poll `seqno`. False if the room
    /// is not joined.
    fn update_community(
        &self,
        base_url: &str,
        token: &str,
        update: &CommunityUpdate,
    ) -> Result<bool>;

    /// Records whether a server requires blinded ids. False if it is unknown.
    fn set_community_blinded(&self, base_url: &str, blinded: bool) -> Result<bool>;

    /// Records the last inbox / outbox DM ids seen on a server (`None`: unchanged).
    /// False if the server is unknown.
    fn set_community_dm_cursors(
        &self,
        base_url: &str,
        inbox_since: Option<u64>,
        outbox_since: Option<u64>,
    ) -> Result<bool>;

    /// Stores a room message, replacing an older version of it (same server, room and
    /// id). Ignored if the room is not joined (it was left meanwhile).
    fn save_community_message(&self, msg: &CommunityMessage) -> Result<()>;

    /// Replaces the reactions (and seqno) of a stored message. False if unknown.
    fn set_community_reactions(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
        seqno: u64,
        reactions: &[CommunityReaction],
    ) -> Result<bool>;

    /// One stored message (deleted ones included).
    fn community_message(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
    ) -> Result<Option<CommunityMessage>>;

    /// The newest `limit` messages of a room that are not deleted, oldest first (by
    /// server id).
    fn community_messages(
        &self,
        base_url: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<CommunityMessage>>;

    /// Stores a DM unless it is known (same server, direction and id); true if new.
    /// Ignored (false) if the server is unknown.
    fn save_community_dm(&self, dm: &CommunityDmRecord) -> Result<bool>;

    /// The newest `limit` DMs (both directions) of a server, oldest first (by time).
    fn community_dms(&self, base_url: &str, limit: usize) -> Result<Vec<CommunityDmRecord>>;
}

/// Checks that a timestamp fits the store.
pub(crate) fn check_ms(what: &'static str, v: u64) -> Result<()> {
    if v > MAX_MS {
        return Err(StoreError::Invalid {
            what,
            reason: format!("{v} ms is beyond the largest storable time {MAX_MS}"),
        });
    }
    Ok(())
}

/// Checks the numbers of a community message before storing it.
pub(crate) fn check_community_message(msg: &CommunityMessage) -> Result<()> {
    check_ms("posted time", msg.posted_ms)?;
    if let Some(t) = msg.edited_ms {
        check_ms("edited time", t)?;
    }
    if let Some(t) = msg.sent_ms {
        check_ms("sent time", t)?;
    }
    check_i64("message id", msg.id)?;
    check_i64("seqno", msg.seqno)
}

/// Checks that a server counter (id, seqno) fits the store.
pub(crate) fn check_i64(what: &'static str, v: u64) -> Result<()> {
    if i64::try_from(v).is_err() {
        return Err(StoreError::Invalid {
            what,
            reason: format!("{v} is beyond the largest storable number {}", i64::MAX),
        });
    }
    Ok(())
}

/// [`check_i64`] of each given value.
pub(crate) fn check_opt_i64(values: &[(&'static str, Option<u64>)]) -> Result<()> {
    for (what, v) in values {
        if let Some(v) = v {
            check_i64(what, *v)?;
        }
    }
    Ok(())
}

/// Checks that a server hash is usable.
pub(crate) fn check_hash(hash: &str) -> Result<()> {
    if hash.is_empty() {
        return Err(StoreError::Invalid {
            what: "server hash",
            reason: "it is empty".into(),
        });
    }
    Ok(())
}

/// Checks a message before storing it.
pub(crate) fn check_new(msg: &NewMessage) -> Result<()> {
    check_ms("sent time", msg.sent_ms)?;
    check_ms("received time", msg.received_ms)?;
    if let Some(h) = &msg.server_hash {
        check_hash(h)?;
    }
    Ok(())
}

/// The expiry a message gets when stored: after-send timers start at `sent_ms`, and so
/// do after-read timers of outgoing messages (read by their sender).
pub(crate) fn initial_expiry(msg: &NewMessage) -> Option<u64> {
    let e = msg.expiry?;
    match (e.mode, msg.direction) {
        (ExpiryMode::AfterSend, _) | (ExpiryMode::AfterRead, Direction::Outgoing) => {
            Some(e.expires_at(msg.sent_ms))
        }
        (ExpiryMode::AfterRead, Direction::Incoming) => None,
    }
}

/// The expiry of a message read at `now_ms`: an after-read timer without an expiry
/// starts now; anything else keeps `current`.
pub(crate) fn expiry_when_read(
    expiry: Option<Expiry>,
    current: Option<u64>,
    now_ms: u64,
) -> Option<u64> {
    match (expiry, current) {
        (Some(e), None) if e.mode == ExpiryMode::AfterRead => Some(e.expires_at(now_ms)),
        _ => current,
    }
}

/// Inbox order: newest activity first, then by peer.
pub(crate) fn sort_conversations(list: &mut [Conversation]) {
    list.sort_by(|a, b| {
        b.last_activity_ms()
            .cmp(&a.last_activity_ms())
            .then_with(|| a.peer.cmp(&b.peer))
    });
}

/// Locks a mutex, recovering from poisoning (every critical section of the store either
/// completes or leaves the data as it was: SQLite transactions roll back on drop, and
/// the memory backend mutates only after all checks).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
