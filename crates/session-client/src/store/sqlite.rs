//! SQLite backend: one file, `client.db` in the client's data directory.
//!
//! * **Private.** The directory is created with mode 0700 and the file with mode 0600
//!   before SQLite opens it (an existing file with looser permissions is tightened, and
//!   so are left-over `-wal`/`-shm` files); SQLite gives the WAL and shared-memory files
//!   it creates the database file's mode.
//! * **WAL**, `synchronous=NORMAL`: a commit survives a crash of the process; a power
//!   failure may lose the last commits, but never half of one — and since poll state
//!   lives in the same file, lost messages are simply polled again.
//! * **One connection** behind a mutex: a client has one user, and every operation is a
//!   few indexed statements (see the module documentation of [`super`]). A second
//!   process on the same file waits up to 5 s for a lock.
//! * **Schema versioned** with `PRAGMA user_version` ([`SCHEMA_VERSION`]) and marked with
//!   `PRAGMA application_id` ([`APPLICATION_ID`]); [`migrate`] brings an older file up
//!   to date one step per transaction and refuses a newer one ([`StoreError::TooNew`]).
//!   Garbage, a damaged file or another program's database give
//!   [`StoreError::NotADatabase`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use session_crypto::AccountId;
use session_rt::sqlite::{self, OpenError, VersionedDb};

use crate::attachments::Attachment;

use super::{
    ClientStore, Community, CommunityDmRecord, CommunityMessage, CommunityReaction,
    CommunityUpdate, Contact, Conversation, ConversationKind, Cursor, Direction, DmDirection,
    Expiry, ExpiryMode, Inserted, MessageId, MessageStatus, NewCommunity, NewMessage,
    ProfilePicture, RejectReason, RejectedCounts, Result, StoreError, StoredMessage,
    check_community_message, check_hash, check_i64, check_ms, check_new, check_opt_i64,
    expiry_when_read, initial_expiry, lock, sort_conversations,
};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "client.db";

/// `PRAGMA application_id` of a client database: ASCII `SsnC`.
pub const APPLICATION_ID: i64 = 0x5373_6e43;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 4;

/// Schema version 1.
///
/// * `conversations`: one row per peer; `accepted = 0` is a message request;
///   `disappearing_mode` NULL = off, 1 after-read, 2 after-send.
/// * `messages`: `direction` 0 incoming, 1 outgoing; `deleted = 1` rows are tombstones
///   (empty body) kept for de-duplication. Unique server hash (NULLs allowed) and unique
///   `(conversation, sender, sent_ms)`. No foreign key to `conversations`: tombstones
///   outlive a deleted conversation.
/// * `contacts`, `poll_state` (last hash per swarm account and namespace), `unsent`
///   (unsend requests by author and sent time, with arrival time), `rejected` (counts by
///   reason).
pub const SCHEMA_V1: &str = "
CREATE TABLE conversations (
    peer TEXT PRIMARY KEY NOT NULL,
    accepted INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    disappearing_mode INTEGER,
    disappearing_secs INTEGER
) STRICT;
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    direction INTEGER NOT NULL,
    sender TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    server_hash TEXT UNIQUE,
    body TEXT NOT NULL,
    read INTEGER NOT NULL,
    peer_read INTEGER NOT NULL DEFAULT 0,
    expiry_mode INTEGER,
    expiry_secs INTEGER,
    expires_at_ms INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation, sender, sent_ms)
) STRICT;
CREATE INDEX messages_history ON messages (conversation, sent_ms, id);
CREATE INDEX messages_unread ON messages (conversation) WHERE read = 0 AND deleted = 0;
CREATE INDEX messages_expiry ON messages (expires_at_ms)
    WHERE expires_at_ms IS NOT NULL AND deleted = 0;
CREATE INDEX messages_author ON messages (sender, sent_ms);
CREATE TABLE contacts (
    session_id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT,
    profile_pic_url TEXT,
    profile_pic_key BLOB,
    approved INTEGER NOT NULL,
    approved_me INTEGER NOT NULL,
    blocked INTEGER NOT NULL
) STRICT;
CREATE TABLE poll_state (
    account TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (account, namespace)
) STRICT, WITHOUT ROWID;
CREATE TABLE unsent (
    sender TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (sender, sent_ms)
) STRICT, WITHOUT ROWID;
CREATE TABLE rejected (
    reason TEXT PRIMARY KEY NOT NULL,
    count INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
";

/// Schema version 2: `poll_state` is kept per polled node (`node`: its Ed25519 key, hex).
/// The version-1 last hashes (one per account and namespace) are dropped: the next poll
/// starts over at each node, and what it finds again is recognised as duplicates.
pub const SCHEMA_V2: &str = "
DROP TABLE poll_state;
CREATE TABLE poll_state (
    account TEXT NOT NULL,
    node TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (account, node, namespace)
) STRICT, WITHOUT ROWID;
";

/// Schema version 3: communities (see [`super::community`]).
///
/// * `community_servers`: one row per server with a joined room (`pubkey` hex, `direct`
///   route, `blinded` NULL = unknown, last inbox/outbox DM ids).
/// * `communities`: joined rooms with their name, `info_updates` and last polled
///   `seqno`.
/// * `community_messages`: room messages by server id; `status` 0 valid, 1 bad
///   signature, 2 malformed; `reactions` a JSON array.
/// * `community_dms`: DMs by server, direction (`outgoing`) and server id.
pub const SCHEMA_V3: &str = "
CREATE TABLE community_servers (
    base_url TEXT PRIMARY KEY NOT NULL,
    pubkey TEXT NOT NULL,
    direct INTEGER NOT NULL,
    blinded INTEGER,
    inbox_since INTEGER NOT NULL DEFAULT 0,
    outbox_since INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE communities (
    base_url TEXT NOT NULL,
    token TEXT NOT NULL,
    name TEXT NOT NULL,
    info_updates INTEGER NOT NULL DEFAULT 0,
    seqno INTEGER NOT NULL DEFAULT 0,
    joined_ms INTEGER NOT NULL,
    PRIMARY KEY (base_url, token)
) STRICT, WITHOUT ROWID;
CREATE TABLE community_messages (
    base_url TEXT NOT NULL,
    token TEXT NOT NULL,
    id INTEGER NOT NULL,
    seqno INTEGER NOT NULL,
    sender TEXT NOT NULL,
    posted_ms INTEGER NOT NULL,
    edited_ms INTEGER,
    sent_ms INTEGER,
    body TEXT NOT NULL,
    display_name TEXT,
    status INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    reactions TEXT NOT NULL,
    PRIMARY KEY (base_url, token, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE community_dms (
    base_url TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    id INTEGER NOT NULL,
    peer TEXT NOT NULL,
    sender_session_id TEXT,
    posted_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    display_name TEXT,
    status INTEGER NOT NULL,
    PRIMARY KEY (base_url, outgoing, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX community_dms_time ON community_dms (base_url, posted_ms);
";

/// Version 4: the attachment pointers of one-to-one and community messages (a JSON
/// array of [`Attachment`](crate::attachments::Attachment): URL, key, digest, size,
/// type, name).
pub const SCHEMA_V4: &str = "
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE community_messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
";

/// The migrations: entry `n` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4];
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// How client database files are marked, migrated and opened.
const DB: VersionedDb = VersionedDb {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
    foreign_keys: false,
};

/// The columns [`message_row`] reads, in order.
const MSG_COLS: &str = "id, conversation, direction, sender, sent_ms, received_ms, server_hash, \
                        body, read, peer_read, expiry_mode, expiry_secs, expires_at_ms, \
                        attachments";

/// The SQLite client store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/client.db`, creating `dir` (mode 0700) if needed.
    pub fn open(dir: &Path) -> Result<Self> {
        let conn = sqlite::open_in(dir, DB_FILE, &DB)?;
        Ok(Self {
            path: dir.join(DB_FILE),
            conn: Mutex::new(conn),
        })
    }

    /// Opens (creating if needed, mode 0600) the database file at `path`.
    pub fn open_file(path: &Path) -> Result<Self> {
        let conn = sqlite::open(path, &DB)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, mapping SQLite errors.
    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R> {
        let mut conn = lock(&self.conn);
        f(&mut conn).map_err(|e| db_error(&self.path, e))
    }

    /// Runs `f` inside one (immediate) transaction, committed if `f` succeeds.
    fn tx<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let r = f(&tx)?;
            tx.commit()?;
            Ok(r)
        })
    }
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Io { op, path, source } => Self::Io { op, path, source },
            OpenError::NotADatabase { path, detail } => Self::NotADatabase { path, detail },
            OpenError::TooNew {
                path,
                found,
                supported,
            } => Self::TooNew {
                path,
                found,
                supported,
            },
            OpenError::Sqlite { path, source } => Self::Sqlite { path, source },
        }
    }
}

/// Maps a SQLite error: damage and non-databases become [`StoreError::NotADatabase`].
fn db_error(path: &Path, e: rusqlite::Error) -> StoreError {
    OpenError::sqlite(path, e).into()
}

/// Brings the schema of a client database (or an empty file) up to [`SCHEMA_VERSION`],
/// one version per transaction; refuses a newer one.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    Ok(sqlite::migrate(conn, path, &DB)?)
}

// ---- conversions ----

/// A timestamp as SQLite keeps it (values beyond `i64::MAX` are capped).
fn sql_ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn conversion(idx: usize, ty: Type, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, what.into())
}

fn ms(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| conversion(idx, Type::Integer, format!("negative time {v}")))
}

fn opt_ms(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = r.get(idx)?;
    v.map(|v| {
        u64::try_from(v).map_err(|_| conversion(idx, Type::Integer, format!("negative time {v}")))
    })
    .transpose()
}

fn account(r: &Row<'_>, idx: usize) -> rusqlite::Result<AccountId> {
    let s: String = r.get(idx)?;
    s.parse()
        .map_err(|e| conversion(idx, Type::Text, format!("bad account id {s:?}: {e}")))
}

fn direction_sql(d: Direction) -> i64 {
    match d {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

fn direction(r: &Row<'_>, idx: usize) -> rusqlite::Result<Direction> {
    match r.get::<_, i64>(idx)? {
        0 => Ok(Direction::Incoming),
        1 => Ok(Direction::Outgoing),
        v => Err(conversion(idx, Type::Integer, format!("bad direction {v}"))),
    }
}

fn expiry_sql(e: Option<Expiry>) -> (Option<i64>, Option<i64>) {
    match e {
        Some(e) => (Some(i64::from(e.mode.wire())), Some(i64::from(e.seconds))),
        None => (None, None),
    }
}

fn expiry(r: &Row<'_>, mode_idx: usize, secs_idx: usize) -> rusqlite::Result<Option<Expiry>> {
    let mode: Option<i64> = r.get(mode_idx)?;
    let Some(mode) = mode else { return Ok(None) };
    let mode = u64::try_from(mode)
        .ok()
        .and_then(ExpiryMode::from_wire)
        .ok_or_else(|| conversion(mode_idx, Type::Integer, format!("bad expiry mode {mode}")))?;
    let seconds: u32 = r.get(secs_idx)?;
    Ok(Some(Expiry { mode, seconds }))
}

fn message_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: MessageId(r.get(0)?),
        conversation: account(r, 1)?,
        direction: direction(r, 2)?,
        sender: account(r, 3)?,
        sent_ms: ms(r, 4)?,
        received_ms: ms(r, 5)?,
        server_hash: r.get(6)?,
        body: r.get(7)?,
        read: r.get(8)?,
        peer_read: r.get(9)?,
        expiry: expiry(r, 10, 11)?,
        expires_at_ms: opt_ms(r, 12)?,
        attachments: attachments(r, 13)?,
    })
}

fn attachments(r: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<Attachment>> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| conversion(idx, Type::Text, format!("bad attachments: {e}")))
}

fn attachments_sql(list: &[Attachment]) -> rusqlite::Result<String> {
    serde_json::to_string(list).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn contact_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let url: Option<String> = r.get(2)?;
    let key: Option<Vec<u8>> = r.get(3)?;
    Ok(Contact {
        session_id: account(r, 0)?,
        display_name: r.get(1)?,
        profile_pic: url.map(|url| ProfilePicture {
            url,
            key: key.unwrap_or_default(),
        }),
        approved: r.get(4)?,
        approved_me: r.get(5)?,
        blocked: r.get(6)?,
    })
}

// ---- community rows ----

/// The columns [`community_row`] reads, in order (`s` = server, `c` = room).
const COMMUNITY_COLS: &str = "c.base_url, s.pubkey, s.direct, s.blinded, c.token, c.name, \
                              c.info_updates, c.seqno, s.inbox_since, s.outbox_since, c.joined_ms";
const COMMUNITY_FROM: &str =
    "FROM communities c JOIN community_servers s ON s.base_url = c.base_url";

fn count(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| conversion(idx, Type::Integer, format!("negative number {v}")))
}

fn key32(r: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let s: String = r.get(idx)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(&s, &mut out)
        .map_err(|e| conversion(idx, Type::Text, format!("bad key {s:?}: {e}")))?;
    Ok(out)
}

fn community_row(r: &Row<'_>) -> rusqlite::Result<Community> {
    Ok(Community {
        base_url: r.get(0)?,
        pubkey: key32(r, 1)?,
        direct: r.get(2)?,
        blinded: r.get(3)?,
        token: r.get(4)?,
        name: r.get(5)?,
        info_updates: count(r, 6)?,
        seqno: count(r, 7)?,
        inbox_since: count(r, 8)?,
        outbox_since: count(r, 9)?,
        joined_ms: ms(r, 10)?,
    })
}

/// The columns [`community_message_row`] reads, in order.
const CMSG_COLS: &str = "base_url, token, id, seqno, sender, posted_ms, edited_ms, sent_ms, \
                         body, display_name, status, deleted, reactions, attachments";

fn community_message_row(r: &Row<'_>) -> rusqlite::Result<CommunityMessage> {
    let reactions: String = r.get(12)?;
    let reactions: Vec<CommunityReaction> = serde_json::from_str(&reactions)
        .map_err(|e| conversion(12, Type::Text, format!("bad reactions: {e}")))?;
    Ok(CommunityMessage {
        base_url: r.get(0)?,
        room: r.get(1)?,
        id: count(r, 2)?,
        seqno: count(r, 3)?,
        sender: account(r, 4)?,
        posted_ms: ms(r, 5)?,
        edited_ms: opt_ms(r, 6)?,
        sent_ms: opt_ms(r, 7)?,
        body: r.get(8)?,
        display_name: r.get(9)?,
        status: MessageStatus::from_code(r.get(10)?),
        deleted: r.get(11)?,
        reactions,
        attachments: attachments(r, 13)?,
    })
}

fn reactions_json(reactions: &[CommunityReaction]) -> rusqlite::Result<String> {
    serde_json::to_string(reactions).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// The columns [`community_dm_row`] reads, in order.
const DM_COLS: &str =
    "base_url, id, outgoing, peer, sender_session_id, posted_ms, body, display_name, status";

fn community_dm_row(r: &Row<'_>) -> rusqlite::Result<CommunityDmRecord> {
    let sender: Option<String> = r.get(4)?;
    let sender_session_id = sender
        .map(|s| {
            s.parse()
                .map_err(|e| conversion(4, Type::Text, format!("bad account id {s:?}: {e}")))
        })
        .transpose()?;
    Ok(CommunityDmRecord {
        base_url: r.get(0)?,
        id: count(r, 1)?,
        direction: if r.get(2)? {
            DmDirection::Outbox
        } else {
            DmDirection::Inbox
        },
        peer: account(r, 3)?,
        sender_session_id,
        posted_ms: ms(r, 5)?,
        body: r.get(6)?,
        display_name: r.get(7)?,
        status: MessageStatus::from_code(r.get(8)?),
    })
}

fn sql_count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

// ---- queries shared by several operations ----

fn live_message(conn: &Connection, id: MessageId) -> rusqlite::Result<Option<StoredMessage>> {
    conn.prepare_cached(&format!(
        "SELECT {MSG_COLS} FROM messages WHERE id = ?1 AND deleted = 0"
    ))?
    .query_row(params![id.0], message_row)
    .optional()
}

/// Turns the live messages `ids` into tombstones; returns them as they were.
fn tombstone(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(m) = live_message(conn, MessageId(*id))? {
            conn.prepare_cached(
                "UPDATE messages SET deleted = 1, body = '', attachments = '[]', expires_at_ms = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id])?;
            out.push(m);
        }
    }
    Ok(out)
}

fn ids(conn: &Connection, sql: &str, p: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| r.get(0))?;
    rows.collect()
}

fn read_one(conn: &Connection, id: i64, now_ms: u64) -> rusqlite::Result<Option<StoredMessage>> {
    let Some(m) = live_message(conn, MessageId(id))? else {
        return Ok(None);
    };
    if m.read || m.direction != Direction::Incoming {
        return Ok(None);
    }
    let expires = expiry_when_read(m.expiry, m.expires_at_ms, now_ms);
    conn.prepare_cached("UPDATE messages SET read = 1, expires_at_ms = ?2 WHERE id = ?1")?
        .execute(params![id, expires.map(sql_ms)])?;
    Ok(Some(StoredMessage {
        read: true,
        expires_at_ms: expires,
        ..m
    }))
}

/// Builds a conversation from its row (`peer, accepted, created_ms, disappearing_mode,
/// disappearing_secs, display_name`).
fn conversation_of(conn: &Connection, r: &Row<'_>) -> rusqlite::Result<Conversation> {
    let peer = account(r, 0)?;
    let key = peer.to_string();
    let unread: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conversation = ?1 AND read = 0 AND deleted = 0",
        )?
        .query_row(params![key], |r| r.get(0))?;
    let last_message = conn
        .prepare_cached(&format!(
            "SELECT {MSG_COLS} FROM messages WHERE conversation = ?1 AND deleted = 0
             ORDER BY sent_ms DESC, id DESC LIMIT 1"
        ))?
        .query_row(params![key], message_row)
        .optional()?;
    Ok(Conversation {
        peer,
        display_name: r.get(5)?,
        accepted: r.get(1)?,
        unread: u64::try_from(unread).unwrap_or(0),
        last_message,
        disappearing: expiry(r, 3, 4)?,
        created_ms: ms(r, 2)?,
    })
}

const CONV_SELECT: &str = "SELECT c.peer, c.accepted, c.created_ms, c.disappearing_mode, \
                           c.disappearing_secs, ct.display_name FROM conversations c \
                           LEFT JOIN contacts ct ON ct.session_id = c.peer";

impl ClientStore for SqliteStore {
    fn insert_message(&self, msg: &NewMessage) -> Result<Inserted> {
        check_new(msg)?;
        let conversation = msg.conversation.to_string();
        let sender = msg.sender.to_string();
        self.tx(|conn| {
            let unsent = conn
                .prepare_cached("SELECT 1 FROM unsent WHERE sender = ?1 AND sent_ms = ?2")?
                .query_row(params![sender, sql_ms(msg.sent_ms)], |_| Ok(()))
                .optional()?;
            if unsent.is_some() {
                return Ok(Inserted::Unsent);
            }
            if let Some(h) = &msg.server_hash {
                let known = conn
                    .prepare_cached("SELECT 1 FROM messages WHERE server_hash = ?1")?
                    .query_row(params![h], |_| Ok(()))
                    .optional()?;
                if known.is_some() {
                    return Ok(Inserted::Duplicate);
                }
            }
            let same: Option<(i64, Option<String>)> = conn
                .prepare_cached(
                    "SELECT id, server_hash FROM messages
                     WHERE conversation = ?1 AND sender = ?2 AND sent_ms = ?3",
                )?
                .query_row(params![conversation, sender, sql_ms(msg.sent_ms)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((id, hash)) = same {
                if hash.is_none() && msg.server_hash.is_some() {
                    conn.prepare_cached("UPDATE messages SET server_hash = ?2 WHERE id = ?1")?
                        .execute(params![id, msg.server_hash])?;
                }
                return Ok(Inserted::Duplicate);
            }
            let approved = conn
                .prepare_cached("SELECT approved FROM contacts WHERE session_id = ?1")?
                .query_row(params![conversation], |r| r.get::<_, bool>(0))
                .optional()?
                .unwrap_or(false);
            conn.prepare_cached(
                "INSERT INTO conversations (peer, accepted, created_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (peer) DO NOTHING",
            )?
            .execute(params![
                conversation,
                msg.direction == Direction::Outgoing || approved,
                sql_ms(msg.received_ms)
            ])?;
            let (mode, secs) = expiry_sql(msg.expiry);
            conn.prepare_cached(
                "INSERT INTO messages (conversation, direction, sender, sent_ms, received_ms,
                     server_hash, body, read, expiry_mode, expiry_secs, expires_at_ms,
                     attachments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                conversation,
                direction_sql(msg.direction),
                sender,
                sql_ms(msg.sent_ms),
                sql_ms(msg.received_ms),
                msg.server_hash,
                msg.body,
                msg.direction == Direction::Outgoing,
                mode,
                secs,
                initial_expiry(msg).map(sql_ms),
                attachments_sql(&msg.attachments)?,
            ])?;
            Ok(Inserted::New(MessageId(conn.last_insert_rowid())))
        })
    }

    fn set_server_hash(&self, id: MessageId, hash: &str) -> Result<bool> {
        check_hash(hash)?;
        let r = self.tx(|conn| {
            let other = conn
                .prepare_cached("SELECT 1 FROM messages WHERE server_hash = ?1 AND id != ?2")?
                .query_row(params![hash, id.0], |_| Ok(()))
                .optional()?;
            if other.is_some() {
                return Ok(None);
            }
            let n = conn
                .prepare_cached(
                    "UPDATE messages SET server_hash = ?2 WHERE id = ?1 AND deleted = 0",
                )?
                .execute(params![id.0, hash])?;
            Ok(Some(n > 0))
        })?;
        r.ok_or_else(|| StoreError::Invalid {
            what: "server hash",
            reason: format!("{hash} belongs to another message"),
        })
    }

    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.with(|conn| live_message(conn, id))
    }

    fn message_by_hash(&self, hash: &str) -> Result<Option<StoredMessage>> {
        self.with(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {MSG_COLS} FROM messages WHERE server_hash = ?1 AND deleted = 0"
            ))?
            .query_row(params![hash], message_row)
            .optional()
        })
    }

    fn messages_by_hash_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<StoredMessage>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            // substr rather than LIKE/GLOB: no character of the prefix is special.
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MSG_COLS} FROM messages
                 WHERE deleted = 0 AND substr(server_hash, 1, length(?1)) = ?1 LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![prefix, limit], message_row)?;
            rows.collect()
        })
    }

    fn history(
        &self,
        peer: &AccountId,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>> {
        let peer = peer.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (sent, id) = match before {
            Some(c) => (sql_ms(c.sent_ms), c.id.0),
            None => (i64::MAX, i64::MAX),
        };
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MSG_COLS} FROM messages
                 WHERE conversation = ?1 AND deleted = 0 AND (sent_ms, id) < (?2, ?3)
                 ORDER BY sent_ms DESC, id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![peer, sent, id, limit], message_row)?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            out.reverse();
            Ok(out)
        })
    }

    fn mark_read(
        &self,
        peer: &AccountId,
        up_to_sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>> {
        let peer = peer.to_string();
        self.tx(|conn| {
            let ids = ids(
                conn,
                "SELECT id FROM messages
                 WHERE conversation = ?1 AND read = 0 AND deleted = 0 AND direction = 0
                   AND sent_ms <= ?2
                 ORDER BY sent_ms, id",
                &[&peer, &sql_ms(up_to_sent_ms)],
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(m) = read_one(conn, id, now_ms)? {
                    out.push(m);
                }
            }
            Ok(out)
        })
    }

    fn mark_message_read(&self, id: MessageId, now_ms: u64) -> Result<Option<StoredMessage>> {
        self.tx(|conn| read_one(conn, id.0, now_ms))
    }

    fn apply_read_receipt(&self, peer: &AccountId, sent_ms: &[u64]) -> Result<usize> {
        let peer = peer.to_string();
        self.tx(|conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE messages SET peer_read = 1
                 WHERE conversation = ?1 AND sent_ms = ?2 AND direction = 1 AND deleted = 0
                   AND peer_read = 0",
            )?;
            let mut n = 0;
            for t in sent_ms {
                n += stmt.execute(params![peer, sql_ms(*t)])?;
            }
            Ok(n)
        })
    }

    fn set_expiry(&self, id: MessageId, expires_at_ms: Option<u64>) -> Result<bool> {
        if let Some(t) = expires_at_ms {
            check_ms("expiry time", t)?;
        }
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE messages SET expires_at_ms = ?2 WHERE id = ?1 AND deleted = 0",
            )?
            .execute(params![id.0, expires_at_ms.map(sql_ms)])
            .map(|n| n > 0)
        })
    }

    fn delete_for_me(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        self.tx(|conn| Ok(tombstone(conn, &[id.0])?.pop()))
    }

    fn apply_unsend(
        &self,
        author: &AccountId,
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>> {
        check_ms("sent time", sent_ms)?;
        check_ms("current time", now_ms)?;
        let author = author.to_string();
        self.tx(|conn| {
            conn.prepare_cached(
                "INSERT INTO unsent (sender, sent_ms, at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sender, sent_ms) DO UPDATE SET at_ms = excluded.at_ms",
            )?
            .execute(params![author, sql_ms(sent_ms), sql_ms(now_ms)])?;
            let ids = ids(
                conn,
                "SELECT id FROM messages WHERE sender = ?1 AND sent_ms = ?2 AND deleted = 0
                 ORDER BY id",
                &[&author, &sql_ms(sent_ms)],
            )?;
            tombstone(conn, &ids)
        })
    }

    fn delete_expired(&self, now_ms: u64) -> Result<Vec<StoredMessage>> {
        self.tx(|conn| {
            let ids = ids(
                conn,
                "SELECT id FROM messages
                 WHERE expires_at_ms IS NOT NULL AND deleted = 0 AND expires_at_ms <= ?1
                 ORDER BY id",
                &[&sql_ms(now_ms)],
            )?;
            tombstone(conn, &ids)
        })
    }

    fn forget_deleted(&self, before_ms: u64) -> Result<usize> {
        let before = sql_ms(before_ms);
        self.tx(|conn| {
            let a = conn
                .prepare_cached("DELETE FROM messages WHERE deleted = 1 AND received_ms < ?1")?
                .execute(params![before])?;
            let b = conn
                .prepare_cached("DELETE FROM unsent WHERE at_ms < ?1")?
                .execute(params![before])?;
            Ok(a + b)
        })
    }

    fn conversations(&self, kind: ConversationKind) -> Result<Vec<Conversation>> {
        let accepted = kind == ConversationKind::Accepted;
        let mut list = self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!("{CONV_SELECT} WHERE c.accepted = ?1"))?;
            let mut rows = stmt.query(params![accepted])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(conversation_of(conn, r)?);
            }
            Ok(out)
        })?;
        sort_conversations(&mut list);
        Ok(list)
    }

    fn conversation(&self, peer: &AccountId) -> Result<Option<Conversation>> {
        let peer = peer.to_string();
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!("{CONV_SELECT} WHERE c.peer = ?1"))?;
            let mut rows = stmt.query(params![peer])?;
            match rows.next()? {
                Some(r) => conversation_of(conn, r).map(Some),
                None => Ok(None),
            }
        })
    }

    fn open_conversation(&self, peer: &AccountId, now_ms: u64) -> Result<bool> {
        check_ms("current time", now_ms)?;
        let peer = peer.to_string();
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO conversations (peer, accepted, created_ms) VALUES (?1, 1, ?2)
                 ON CONFLICT (peer) DO NOTHING",
            )?
            .execute(params![peer, sql_ms(now_ms)])
            .map(|n| n > 0)
        })
    }

    fn accept_request(&self, peer: &AccountId) -> Result<bool> {
        let peer = peer.to_string();
        self.tx(|conn| {
            let n = conn
                .prepare_cached("UPDATE conversations SET accepted = 1 WHERE peer = ?1")?
                .execute(params![peer])?;
            if n == 0 {
                return Ok(false);
            }
            conn.prepare_cached(
                "INSERT INTO contacts (session_id, approved, approved_me, blocked)
                 VALUES (?1, 1, 0, 0)
                 ON CONFLICT (session_id) DO UPDATE SET approved = 1",
            )?
            .execute(params![peer])?;
            Ok(true)
        })
    }

    fn delete_conversation(&self, peer: &AccountId) -> Result<usize> {
        let peer = peer.to_string();
        self.tx(|conn| {
            conn.prepare_cached("DELETE FROM conversations WHERE peer = ?1")?
                .execute(params![peer])?;
            conn.prepare_cached(
                "UPDATE messages SET deleted = 1, body = '', attachments = '[]',
                     expires_at_ms = NULL
                 WHERE conversation = ?1 AND deleted = 0",
            )?
            .execute(params![peer])
        })
    }

    fn set_disappearing(&self, peer: &AccountId, setting: Option<Expiry>) -> Result<bool> {
        let peer = peer.to_string();
        let (mode, secs) = expiry_sql(setting);
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE conversations SET disappearing_mode = ?2, disappearing_secs = ?3
                 WHERE peer = ?1",
            )?
            .execute(params![peer, mode, secs])
            .map(|n| n > 0)
        })
    }

    fn disappearing(&self, peer: &AccountId) -> Result<Option<Expiry>> {
        let peer = peer.to_string();
        self.with(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT disappearing_mode, disappearing_secs FROM conversations
                     WHERE peer = ?1",
                )?
                .query_row(params![peer], |r| expiry(r, 0, 1))
                .optional()?
                .flatten())
        })
    }

    fn upsert_contact(&self, contact: &Contact) -> Result<()> {
        let id = contact.session_id.to_string();
        let (url, key) = match &contact.profile_pic {
            Some(p) => (Some(p.url.as_str()), Some(p.key.as_slice())),
            None => (None, None),
        };
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO contacts (session_id, display_name, profile_pic_url,
                     profile_pic_key, approved, approved_me, blocked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (session_id) DO UPDATE SET display_name = excluded.display_name,
                     profile_pic_url = excluded.profile_pic_url,
                     profile_pic_key = excluded.profile_pic_key,
                     approved = excluded.approved, approved_me = excluded.approved_me,
                     blocked = excluded.blocked",
            )?
            .execute(params![
                id,
                contact.display_name,
                url,
                key,
                contact.approved,
                contact.approved_me,
                contact.blocked
            ])
            .map(|_| ())
        })
    }

    fn contact(&self, id: &AccountId) -> Result<Option<Contact>> {
        let id = id.to_string();
        self.with(|conn| {
            conn.prepare_cached(
                "SELECT session_id, display_name, profile_pic_url, profile_pic_key, approved,
                     approved_me, blocked
                 FROM contacts WHERE session_id = ?1",
            )?
            .query_row(params![id], contact_row)
            .optional()
        })
    }

    fn contacts(&self) -> Result<Vec<Contact>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT session_id, display_name, profile_pic_url, profile_pic_key, approved,
                     approved_me, blocked
                 FROM contacts ORDER BY session_id",
            )?;
            let rows = stmt.query_map([], contact_row)?;
            rows.collect()
        })
    }

    fn last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
    ) -> Result<Option<String>> {
        let (account, node) = (account.to_string(), hex::encode(node));
        self.with(|conn| {
            conn.prepare_cached(
                "SELECT last_hash FROM poll_state
                 WHERE account = ?1 AND node = ?2 AND namespace = ?3",
            )?
            .query_row(params![account, node, namespace], |r| r.get(0))
            .optional()
        })
    }

    fn set_last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
        hash: &str,
    ) -> Result<()> {
        check_hash(hash)?;
        let (account, node) = (account.to_string(), hex::encode(node));
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO poll_state (account, node, namespace, last_hash)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, node, namespace)
                 DO UPDATE SET last_hash = excluded.last_hash",
            )?
            .execute(params![account, node, namespace, hash])
            .map(|_| ())
        })
    }

    fn record_rejected(&self, reason: RejectReason) -> Result<u64> {
        self.with(|conn| {
            let n: i64 = conn
                .prepare_cached(
                    "INSERT INTO rejected (reason, count) VALUES (?1, 1)
                     ON CONFLICT (reason) DO UPDATE SET count = MIN(count, 9223372036854775806) + 1
                     RETURNING count",
                )?
                .query_row(params![reason.as_str()], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn rejected_counts(&self) -> Result<RejectedCounts> {
        self.with(|conn| {
            let mut out = RejectedCounts::default();
            let mut stmt = conn.prepare_cached("SELECT reason, count FROM rejected")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let reason: String = r.get(0)?;
                let n: i64 = r.get(1)?;
                // Reasons written by a newer version are not counted by this one.
                if let Some(k) = RejectReason::ALL.iter().find(|k| k.as_str() == reason) {
                    *out.get_mut(*k) = u64::try_from(n).unwrap_or(0);
                }
            }
            Ok(out)
        })
    }

    fn join_community(&self, room: &NewCommunity, now_ms: u64) -> Result<bool> {
        check_ms("join time", now_ms)?;
        check_i64("info_updates", room.info_updates)?;
        let pubkey = hex::encode(room.pubkey);
        self.tx(|conn| {
            let old: Option<String> = conn
                .prepare_cached("SELECT pubkey FROM community_servers WHERE base_url = ?1")?
                .query_row(params![room.base_url], |r| r.get(0))
                .optional()?;
            match old {
                None => {
                    conn.prepare_cached(
                        "INSERT INTO community_servers (base_url, pubkey, direct, blinded)
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        room.base_url,
                        pubkey,
                        room.direct,
                        room.blinded
                    ])?;
                }
                Some(old) => {
                    if old != pubkey {
                        conn.prepare_cached(
                            "UPDATE community_servers SET pubkey = ?2, inbox_since = 0,
                                 outbox_since = 0, blinded = NULL WHERE base_url = ?1",
                        )?
                        .execute(params![room.base_url, pubkey])?;
                    }
                    conn.prepare_cached(
                        "UPDATE community_servers SET direct = ?2, blinded = COALESCE(?3, blinded)
                         WHERE base_url = ?1",
                    )?
                    .execute(params![
                        room.base_url,
                        room.direct,
                        room.blinded
                    ])?;
                }
            }
            let n = conn
                .prepare_cached(
                    "UPDATE communities SET name = ?3 WHERE base_url = ?1 AND token = ?2",
                )?
                .execute(params![room.base_url, room.token, room.name])?;
            if n > 0 {
                return Ok(false);
            }
            conn.prepare_cached(
                "INSERT INTO communities (base_url, token, name, info_updates, seqno, joined_ms)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            )?
            .execute(params![
                room.base_url,
                room.token,
                room.name,
                sql_count(room.info_updates),
                sql_ms(now_ms)
            ])?;
            Ok(true)
        })
    }

    fn communities(&self) -> Result<Vec<Community>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COMMUNITY_COLS} {COMMUNITY_FROM} ORDER BY c.base_url, c.token"
            ))?;
            let rows = stmt.query_map([], community_row)?;
            rows.collect()
        })
    }

    fn community(&self, base_url: &str, token: &str) -> Result<Option<Community>> {
        self.with(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COMMUNITY_COLS} {COMMUNITY_FROM} WHERE c.base_url = ?1 AND c.token = ?2"
            ))?
            .query_row(params![base_url, token], community_row)
            .optional()
        })
    }

    fn leave_community(&self, base_url: &str, token: &str) -> Result<bool> {
        self.tx(|conn| {
            let n = conn
                .prepare_cached("DELETE FROM communities WHERE base_url = ?1 AND token = ?2")?
                .execute(params![base_url, token])?;
            if n == 0 {
                return Ok(false);
            }
            conn.prepare_cached(
                "DELETE FROM community_messages WHERE base_url = ?1 AND token = ?2",
            )?
            .execute(params![base_url, token])?;
            let left: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM communities WHERE base_url = ?1")?
                .query_row(params![base_url], |r| r.get(0))?;
            if left == 0 {
                conn.prepare_cached("DELETE FROM community_servers WHERE base_url = ?1")?
                    .execute(params![base_url])?;
                conn.prepare_cached("DELETE FROM community_dms WHERE base_url = ?1")?
                    .execute(params![base_url])?;
            }
            Ok(true)
        })
    }

    fn update_community(
        &self,
        base_url: &str,
        token: &str,
        update: &CommunityUpdate,
    ) -> Result<bool> {
        check_opt_i64(&[
            ("info_updates", update.info_updates),
            ("seqno", update.seqno),
        ])?;
        self.with(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE communities SET name = COALESCE(?3, name),
                         info_updates = COALESCE(?4, info_updates), seqno = COALESCE(?5, seqno)
                     WHERE base_url = ?1 AND token = ?2",
                )?
                .execute(params![
                    base_url,
                    token,
                    update.name,
                    update.info_updates.map(sql_count),
                    update.seqno.map(sql_count)
                ])?;
            Ok(n > 0)
        })
    }

    fn set_community_blinded(&self, base_url: &str, blinded: bool) -> Result<bool> {
        self.with(|conn| {
            let n = conn
                .prepare_cached("UPDATE community_servers SET blinded = ?2 WHERE base_url = ?1")?
                .execute(params![base_url, blinded])?;
            Ok(n > 0)
        })
    }

    fn set_community_dm_cursors(
        &self,
        base_url: &str,
        inbox_since: Option<u64>,
        outbox_since: Option<u64>,
    ) -> Result<bool> {
        check_opt_i64(&[("inbox id", inbox_since), ("outbox id", outbox_since)])?;
        self.with(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE community_servers SET inbox_since = COALESCE(?2, inbox_since),
                         outbox_since = COALESCE(?3, outbox_since)
                     WHERE base_url = ?1",
                )?
                .execute(params![
                    base_url,
                    inbox_since.map(sql_count),
                    outbox_since.map(sql_count)
                ])?;
            Ok(n > 0)
        })
    }

    fn save_community_message(&self, msg: &CommunityMessage) -> Result<()> {
        check_community_message(msg)?;
        self.tx(|conn| {
            let joined = conn
                .prepare_cached("SELECT 1 FROM communities WHERE base_url = ?1 AND token = ?2")?
                .query_row(params![msg.base_url, msg.room], |_| Ok(()))
                .optional()?;
            if joined.is_none() {
                return Ok(());
            }
            conn.prepare_cached(&format!(
                "INSERT OR REPLACE INTO community_messages ({CMSG_COLS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))?
            .execute(params![
                msg.base_url,
                msg.room,
                sql_count(msg.id),
                sql_count(msg.seqno),
                msg.sender.to_string(),
                sql_ms(msg.posted_ms),
                msg.edited_ms.map(sql_ms),
                msg.sent_ms.map(sql_ms),
                msg.body,
                msg.display_name,
                msg.status.code(),
                msg.deleted,
                reactions_json(&msg.reactions)?,
                attachments_sql(&msg.attachments)?,
            ])?;
            Ok(())
        })
    }

    fn set_community_reactions(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
        seqno: u64,
        reactions: &[CommunityReaction],
    ) -> Result<bool> {
        check_i64("seqno", seqno)?;
        self.with(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE community_messages SET seqno = ?4, reactions = ?5
                     WHERE base_url = ?1 AND token = ?2 AND id = ?3",
                )?
                .execute(params![
                    base_url,
                    token,
                    sql_count(id),
                    sql_count(seqno),
                    reactions_json(reactions)?
                ])?;
            Ok(n > 0)
        })
    }

    fn community_message(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
    ) -> Result<Option<CommunityMessage>> {
        self.with(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CMSG_COLS} FROM community_messages
                 WHERE base_url = ?1 AND token = ?2 AND id = ?3"
            ))?
            .query_row(
                params![base_url, token, sql_count(id)],
                community_message_row,
            )
            .optional()
        })
    }

    fn community_messages(
        &self,
        base_url: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<CommunityMessage>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CMSG_COLS} FROM community_messages
                 WHERE base_url = ?1 AND token = ?2 AND deleted = 0
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![base_url, token, limit], community_message_row)?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            out.reverse();
            Ok(out)
        })
    }

    fn save_community_dm(&self, dm: &CommunityDmRecord) -> Result<bool> {
        check_ms("posted time", dm.posted_ms)?;
        check_i64("DM id", dm.id)?;
        self.tx(|conn| {
            let known = conn
                .prepare_cached("SELECT 1 FROM community_servers WHERE base_url = ?1")?
                .query_row(params![dm.base_url], |_| Ok(()))
                .optional()?;
            if known.is_none() {
                return Ok(false);
            }
            let n = conn
                .prepare_cached(&format!(
                    "INSERT INTO community_dms ({DM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (base_url, outgoing, id) DO NOTHING"
                ))?
                .execute(params![
                    dm.base_url,
                    sql_count(dm.id),
                    dm.direction == DmDirection::Outbox,
                    dm.peer.to_string(),
                    dm.sender_session_id.map(|s| s.to_string()),
                    sql_ms(dm.posted_ms),
                    dm.body,
                    dm.display_name,
                    dm.status.code(),
                ])?;
            Ok(n > 0)
        })
    }

    fn community_dms(&self, base_url: &str, limit: usize) -> Result<Vec<CommunityDmRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DM_COLS} FROM community_dms WHERE base_url = ?1
                 ORDER BY posted_ms DESC, outgoing DESC, id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![base_url, limit], community_dm_row)?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            out.reverse();
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        session_rt::sqlite::query_plan(conn, sql).unwrap()
    }

    #[test]
    fn queries_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = lock(&store.conn);
        let history = plan(
            &conn,
            &format!(
                "SELECT {MSG_COLS} FROM messages
                 WHERE conversation = 'x' AND deleted = 0 AND (sent_ms, id) < (1, 1)
                 ORDER BY sent_ms DESC, id DESC LIMIT 5"
            ),
        );
        assert!(history.contains("messages_history"), "{history}");
        assert!(!history.contains("TEMP B-TREE"), "{history}");
        let unread = plan(
            &conn,
            "SELECT COUNT(*) FROM messages WHERE conversation = 'x' AND read = 0 AND deleted = 0",
        );
        assert!(unread.contains("messages_unread"), "{unread}");
        let expired = plan(
            &conn,
            "SELECT id FROM messages
             WHERE expires_at_ms IS NOT NULL AND deleted = 0 AND expires_at_ms <= 5 ORDER BY id",
        );
        assert!(expired.contains("messages_expiry"), "{expired}");
        let unsend = plan(
            &conn,
            "SELECT id FROM messages WHERE sender = 'x' AND sent_ms = 1 AND deleted = 0",
        );
        assert!(unsend.contains("messages_author"), "{unsend}");
        let by_hash = plan(&conn, "SELECT id FROM messages WHERE server_hash = 'h'");
        assert!(by_hash.contains("(server_hash=?)"), "{by_hash}");
        let dedup = plan(
            &conn,
            "SELECT id FROM messages WHERE conversation = 'x' AND sender = 'y' AND sent_ms = 1",
        );
        assert!(dedup.contains("INDEX"), "{dedup}");
        let read = plan(
            &conn,
            "SELECT id FROM messages WHERE conversation = 'x' AND read = 0 AND deleted = 0
             AND direction = 0 AND sent_ms <= 5 ORDER BY sent_ms, id",
        );
        assert!(read.contains("INDEX"), "{read}");
    }

    #[test]
    fn migration_sets_version_and_application_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = lock(&store.conn);
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        let app: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(
            (v, app, mode.as_str()),
            (SCHEMA_VERSION, APPLICATION_ID, "wal")
        );
    }
}
