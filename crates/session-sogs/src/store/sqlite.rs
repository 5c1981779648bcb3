//! SQLite backend: one file, `sogs.db` in the server's data directory.
//!
//! * **Private.** The directory is created with mode 0700 and the file with mode 0600
//!   before SQLite opens it (looser modes of an existing file and of left-over
//!   `-wal`/`-shm` files are tightened).
//! * **WAL**, `synchronous=NORMAL`, `foreign_keys=ON`, one connection behind a mutex;
//!   every method is one `BEGIN IMMEDIATE` transaction (PySOGS serialises writers the
//!   same way). A second process on the file waits up to 5 s for a lock.
//! * **Schema versioned** with `PRAGMA user_version` ([`SCHEMA_VERSION`]) and marked
//!   with `PRAGMA application_id` ([`APPLICATION_ID`]); [`migrate`] applies
//!   [`MIGRATIONS`] one step per transaction and refuses a newer file
//!   ([`StoreError::TooNew`]); garbage or another program's database give
//!   [`StoreError::NotADatabase`].
//! * **Triggers in Rust.** PySOGS keeps its counters (`message_sequence`, `seqno*`,
//!   `info_updates`), history, file expiries and empty-override cleanup in SQL triggers.
//!   Here the same rules are applied by the store's methods inside their transaction
//!   (see [`super`]), so that a PostgreSQL or memory backend can share them without
//!   porting trigger code; the schema has no triggers. The tables follow PySOGS's
//!   (§8) with file bytes kept in `files.data` instead of an upload directory.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use session_crypto::AccountId;
use session_rt::sqlite::{self, OpenError, VersionedDb};

use super::{
    CleanupCounts, DirectMessage, FuturePermission, HistoryEntry, Message, MessageEdit,
    ModeratorChange, NewPost, NewRoom, Overrides, PermissionChange, Permissions, Pin, Reaction,
    ReadOptions, Result, Retention, Room, RoomDefaults, RoomModerator, RoomUpdate, ScheduledChange,
    Scope, Setting, SogsStore, StoreError, StoredFile, User, apply_moderator_change,
    check_duration, check_reaction, check_time, check_token, lock, resolve_permissions, sql_limit,
};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "sogs.db";

/// `PRAGMA application_id` of a community-server database: ASCII `SsnS`.
pub const APPLICATION_ID: i64 = 0x5373_6e53;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Schema version 1: PySOGS's tables (§8) without its triggers and views. Booleans are
/// INTEGER 0/1, times REAL Unix seconds, session ids 66-hex TEXT. `messages.data` NULL
/// is a deletion tombstone. `files.expiry` NULL never expires. In
/// `user_permission_overrides` NULL permissions mean "room default"; rows saying nothing
/// are deleted by the store. `user_ban_futures.room` NULL is a global ban.
pub const SCHEMA_V1: &str = "
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_active REAL NOT NULL,
    banned INTEGER NOT NULL DEFAULT 0,
    moderator INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    visible_mod INTEGER NOT NULL DEFAULT 0,
    CHECK (NOT (banned AND (moderator OR admin))),
    CHECK (moderator OR NOT admin)
) STRICT;
CREATE INDEX users_last_active ON users (last_active);
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE COLLATE NOCASE
        CHECK (length(token) BETWEEN 1 AND 64 AND token NOT GLOB '*[^A-Za-z0-9_-]*'),
    name TEXT NOT NULL,
    description TEXT,
    image INTEGER REFERENCES files (id) ON DELETE SET NULL,
    created REAL NOT NULL,
    message_sequence INTEGER NOT NULL DEFAULT 0,
    info_updates INTEGER NOT NULL DEFAULT 0,
    active_users INTEGER NOT NULL DEFAULT 0,
    read INTEGER NOT NULL,
    accessible INTEGER NOT NULL,
    write INTEGER NOT NULL,
    upload INTEGER NOT NULL
) STRICT;
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id),
    posted REAL NOT NULL,
    edited REAL,
    seqno INTEGER NOT NULL,
    seqno_data INTEGER NOT NULL,
    seqno_reactions INTEGER NOT NULL DEFAULT 0,
    seqno_creation INTEGER NOT NULL,
    data BLOB,
    signature BLOB,
    filtered INTEGER NOT NULL DEFAULT 0,
    whisper INTEGER REFERENCES users (id),
    whisper_mods INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX messages_room_seqno ON messages (room, seqno);
CREATE INDEX messages_room_id ON messages (room, id);
CREATE INDEX messages_room_user ON messages (room, user, posted);
CREATE TABLE message_history (
    id INTEGER PRIMARY KEY,
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    replaced REAL NOT NULL,
    data BLOB,
    signature BLOB
) STRICT;
CREATE INDEX message_history_message ON message_history (message);
CREATE INDEX message_history_replaced ON message_history (replaced);
CREATE TABLE pinned_messages (
    room INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by INTEGER NOT NULL REFERENCES users (id),
    pinned_at REAL NOT NULL,
    PRIMARY KEY (room, message)
) STRICT;
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    room INTEGER REFERENCES rooms (id) ON DELETE SET NULL,
    uploader INTEGER NOT NULL REFERENCES users (id),
    message INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    size INTEGER NOT NULL,
    uploaded REAL NOT NULL,
    expiry REAL,
    filename TEXT,
    data BLOB NOT NULL
) STRICT;
CREATE INDEX files_room ON files (room);
CREATE INDEX files_expiry ON files (expiry);
CREATE INDEX files_message ON files (message);
CREATE TABLE reactions (
    id INTEGER PRIMARY KEY,
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    reaction TEXT NOT NULL,
    UNIQUE (message, reaction)
) STRICT;
CREATE TABLE user_reactions (
    reaction INTEGER NOT NULL REFERENCES reactions (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    PRIMARY KEY (reaction, user)
) STRICT;
CREATE INDEX user_reactions_at ON user_reactions (reaction, at);
CREATE TABLE room_users (
    room INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_active REAL NOT NULL,
    PRIMARY KEY (room, user)
) STRICT, WITHOUT ROWID;
CREATE INDEX room_users_active ON room_users (last_active);
CREATE TABLE user_permission_overrides (
    room INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned INTEGER NOT NULL DEFAULT 0,
    read INTEGER,
    accessible INTEGER,
    write INTEGER,
    upload INTEGER,
    moderator INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    visible_mod INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (room, user),
    CHECK (NOT (banned AND (moderator OR admin))),
    CHECK (moderator OR NOT admin)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_permission_overrides_mods ON user_permission_overrides (room) WHERE moderator;
CREATE TABLE user_permission_futures (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    read INTEGER,
    write INTEGER,
    upload INTEGER
) STRICT;
CREATE INDEX user_permission_futures_at ON user_permission_futures (at);
CREATE INDEX user_permission_futures_room ON user_permission_futures (room, user);
CREATE TABLE user_ban_futures (
    id INTEGER PRIMARY KEY,
    room INTEGER REFERENCES rooms (id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    banned INTEGER NOT NULL
) STRICT;
CREATE INDEX user_ban_futures_at ON user_ban_futures (at);
CREATE INDEX user_ban_futures_room ON user_ban_futures (room, user);
CREATE TABLE user_request_nonces (
    user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce BLOB NOT NULL UNIQUE,
    expiry REAL NOT NULL
) STRICT;
CREATE INDEX user_request_nonces_expiry ON user_request_nonces (expiry);
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    recipient INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sender INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body BLOB NOT NULL,
    posted_at REAL NOT NULL,
    expiry REAL NOT NULL
) STRICT;
CREATE INDEX inbox_recipient ON inbox (recipient, id);
CREATE INDEX inbox_sender ON inbox (sender, id);
CREATE INDEX inbox_expiry ON inbox (expiry);
";

/// The migrations: entry `n` takes the schema from version `n` to `n + 1`.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1];
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// How community-server database files are marked, migrated and opened.
const DB: VersionedDb = VersionedDb {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
    foreign_keys: true,
};

const ROOM_COLS: &str = "id, token, name, description, image, created, message_sequence, \
                         info_updates, active_users, read, accessible, write, upload";
const USER_COLS: &str = "id, session_id, created, last_active, banned, moderator, admin, \
                         visible_mod";
const OV_COLS: &str = "banned, read, accessible, write, upload, moderator, admin, visible_mod";
const MSG_SELECT: &str = "SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, m.seqno_data, \
     m.seqno_reactions, m.seqno_creation, m.data, m.signature, m.filtered, w.session_id, \
     m.whisper_mods, m.user \
     FROM messages m JOIN users u ON u.id = m.user LEFT JOIN users w ON w.id = m.whisper";
/// Whisper visibility and filtering; `?2` is the viewer's user id (-1 if none), `?3`
/// whether the viewer moderates the room.
const VISIBLE: &str = "NOT m.filtered AND ((m.whisper IS NULL AND NOT m.whisper_mods) \
     OR m.whisper = ?2 OR m.user = ?2 OR (?3 AND m.whisper_mods))";

/// Failures inside a transaction: SQLite's or the store's own.
#[derive(Debug)]
enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

type R<T> = std::result::Result<T, Fail>;

/// `execute` and `query_row` through the connection's prepared-statement cache: every
/// authenticated request runs the same handful of statements, and parsing them again
/// each time was a visible share of a poll's cost (`session-bench sogs`).
trait Cached {
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize>;
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The SQLite community-server store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    retention: Retention,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/sogs.db`, creating `dir` (mode 0700) if needed.
    pub fn open(dir: &Path, retention: Retention) -> Result<Self> {
        let conn = sqlite::open_in(dir, DB_FILE, &DB)?;
        Ok(Self {
            path: dir.join(DB_FILE),
            retention,
            conn: Mutex::new(conn),
        })
    }

    /// Opens (creating if needed, mode 0600) the database file at `path`.
    pub fn open_file(path: &Path, retention: Retention) -> Result<Self> {
        let conn = sqlite::open(path, &DB)?;
        Ok(Self {
            path: path.to_owned(),
            retention,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside one immediate transaction, committed if `f` succeeds.
    fn tx<T>(&self, f: impl FnOnce(&Connection) -> R<T>) -> Result<T> {
        let mut conn = lock(&self.conn);
        let run = |conn: &mut Connection| -> R<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let r = f(&tx)?;
            tx.commit()?;
            Ok(r)
        };
        run(&mut conn).map_err(|e| match e {
            Fail::Sql(e) => db_error(&self.path, e),
            Fail::Store(e) => e,
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
            OpenError::Sqlite { path, source } => Self::Database {
                path,
                detail: source.to_string(),
            },
        }
    }
}

/// Maps a SQLite error: damage and non-databases become [`StoreError::NotADatabase`].
fn db_error(path: &Path, e: rusqlite::Error) -> StoreError {
    OpenError::sqlite(path, e).into()
}

/// Brings the schema up to [`SCHEMA_VERSION`], one version per transaction; refuses a
/// newer one.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    Ok(sqlite::migrate(conn, path, &DB)?)
}

// ---- row conversions ----

fn conversion(idx: usize, ty: Type, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, what.into())
}

fn account(r: &Row<'_>, idx: usize) -> rusqlite::Result<AccountId> {
    let s: String = r.get(idx)?;
    s.parse()
        .map_err(|e| conversion(idx, Type::Text, format!("bad session id {s:?}: {e}")))
}

fn opt_account(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<AccountId>> {
    let s: Option<String> = r.get(idx)?;
    match s {
        None => Ok(None),
        Some(_) => account(r, idx).map(Some),
    }
}

fn signature(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<[u8; 64]>> {
    let v: Option<Vec<u8>> = r.get(idx)?;
    v.map(|v| {
        <[u8; 64]>::try_from(v.as_slice())
            .map_err(|_| conversion(idx, Type::Blob, format!("signature of {} bytes", v.len())))
    })
    .transpose()
}

fn room_row(r: &Row<'_>) -> rusqlite::Result<Room> {
    Ok(Room {
        id: r.get(0)?,
        token: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        image_id: r.get(4)?,
        created: r.get(5)?,
        message_sequence: r.get(6)?,
        info_updates: r.get(7)?,
        active_users: r.get(8)?,
        defaults: RoomDefaults {
            read: r.get(9)?,
            accessible: r.get(10)?,
            write: r.get(11)?,
            upload: r.get(12)?,
        },
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        session_id: account(r, 1)?,
        created: r.get(2)?,
        last_active: r.get(3)?,
        banned: r.get(4)?,
        moderator: r.get(5)?,
        admin: r.get(6)?,
        visible_mod: r.get(7)?,
    })
}

fn ov_row(r: &Row<'_>, o: usize) -> rusqlite::Result<Overrides> {
    Ok(Overrides {
        banned: r.get(o)?,
        read: r.get(o + 1)?,
        accessible: r.get(o + 2)?,
        write: r.get(o + 3)?,
        upload: r.get(o + 4)?,
        moderator: r.get(o + 5)?,
        admin: r.get(o + 6)?,
        visible_mod: r.get(o + 7)?,
    })
}

/// A message row and its author's user id.
fn msg_row(r: &Row<'_>) -> rusqlite::Result<(Message, i64)> {
    Ok((
        Message {
            id: r.get(0)?,
            session_id: account(r, 1)?,
            posted: r.get(2)?,
            edited: r.get(3)?,
            seqno: r.get(4)?,
            seqno_data: r.get(5)?,
            seqno_reactions: r.get(6)?,
            seqno_creation: r.get(7)?,
            data: r.get(8)?,
            signature: signature(r, 9)?,
            filtered: r.get(10)?,
            whisper_to: opt_account(r, 11)?,
            whisper_mods: r.get(12)?,
            reactions: Vec::new(),
        },
        r.get(13)?,
    ))
}

// ---- helpers on a connection (inside a transaction) ----

fn room_by_token(c: &Connection, token: &str) -> R<Room> {
    c.row(
        &format!("SELECT {ROOM_COLS} FROM rooms WHERE token = ?1"),
        [token],
        room_row,
    )
    .optional()?
    .ok_or_else(|| {
        Fail::Store(StoreError::RoomNotFound {
            token: token.to_owned(),
        })
    })
}

fn room_by_id(c: &Connection, id: i64) -> R<Room> {
    Ok(c.row(
        &format!("SELECT {ROOM_COLS} FROM rooms WHERE id = ?1"),
        [id],
        room_row,
    )?)
}

fn find_user(c: &Connection, id: &AccountId) -> R<Option<User>> {
    Ok(c.row(
        &format!("SELECT {USER_COLS} FROM users WHERE session_id = ?1"),
        [id.to_hex()],
        user_row,
    )
    .optional()?)
}

fn existing_user(c: &Connection, id: &AccountId) -> R<User> {
    find_user(c, id)?.ok_or_else(|| {
        Fail::Store(StoreError::UserNotFound {
            session_id: id.to_hex(),
        })
    })
}

fn ensure_user(c: &Connection, id: &AccountId, now: f64) -> R<User> {
    c.exec(
        "INSERT INTO users (session_id, created, last_active) VALUES (?1, ?2, ?2)
         ON CONFLICT (session_id) DO NOTHING",
        params![id.to_hex(), now],
    )?;
    existing_user(c, id)
}

fn find_overrides(c: &Connection, room: i64, user: i64) -> R<Option<Overrides>> {
    Ok(c.row(
        &format!("SELECT {OV_COLS} FROM user_permission_overrides WHERE room = ?1 AND user = ?2"),
        [room, user],
        |r| ov_row(r, 0),
    )
    .optional()?)
}

/// Writes an override row, deleting it when it says nothing.
fn write_overrides(c: &Connection, room: i64, user: i64, o: &Overrides) -> R<()> {
    if o.is_empty() {
        c.exec(
            "DELETE FROM user_permission_overrides WHERE room = ?1 AND user = ?2",
            [room, user],
        )?;
    } else {
        c.exec(
            "INSERT INTO user_permission_overrides
                 (room, user, banned, read, accessible, write, upload, moderator, admin, visible_mod)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (room, user) DO UPDATE SET banned = excluded.banned,
                 read = excluded.read, accessible = excluded.accessible, write = excluded.write,
                 upload = excluded.upload, moderator = excluded.moderator,
                 admin = excluded.admin, visible_mod = excluded.visible_mod",
            params![
                room,
                user,
                o.banned,
                o.read,
                o.accessible,
                o.write,
                o.upload,
                o.moderator,
                o.admin,
                o.visible_mod
            ],
        )?;
    }
    Ok(())
}

fn permissions_of(c: &Connection, room: &Room, user: Option<&User>) -> R<Permissions> {
    let ov = match user {
        Some(u) => find_overrides(c, room.id, u.id)?,
        None => None,
    };
    Ok(resolve_permissions(room.defaults, user, ov.as_ref()))
}

fn bump_sequence(c: &Connection, room: i64) -> R<i64> {
    Ok(c.row(
        "UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ?1
         RETURNING message_sequence",
        [room],
        |r| r.get(0),
    )?)
}

fn bump_info(c: &Connection, room: i64, by: i64) -> R<i64> {
    Ok(c.row(
        "UPDATE rooms SET info_updates = info_updates + ?2 WHERE id = ?1 RETURNING info_updates",
        [room, by],
        |r| r.get(0),
    )?)
}

fn info_updates(c: &Connection, room: i64) -> R<i64> {
    Ok(c.row(
        "SELECT info_updates FROM rooms WHERE id = ?1",
        [room],
        |r| r.get(0),
    )?)
}

/// A message of the room (any state) with its author's user id.
fn load_message(c: &Connection, room: &Room, id: i64) -> R<(Message, i64)> {
    c.row(
        &format!("{MSG_SELECT} WHERE m.room = ?1 AND m.id = ?2"),
        [room.id, id],
        msg_row,
    )
    .optional()?
    .ok_or_else(|| {
        Fail::Store(StoreError::MessageNotFound {
            room: room.token.clone(),
            id,
        })
    })
}

/// A regular (not deleted, whisper or filtered) message of the room.
fn load_regular(c: &Connection, room: &Room, id: i64) -> R<(Message, i64)> {
    let (m, author) = load_message(c, room, id)?;
    if m.is_deleted() || m.is_whisper() || m.filtered {
        return Err(Fail::Store(StoreError::MessageNotFound {
            room: room.token.clone(),
            id,
        }));
    }
    Ok((m, author))
}

fn message_seqno(c: &Connection, id: i64) -> R<i64> {
    Ok(
        c.row("SELECT seqno FROM messages WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

fn reactions_of(c: &Connection, msg: i64, viewer: i64, reactors: usize) -> R<Vec<Reaction>> {
    let mut stmt = c.prepare_cached(
        "SELECT r.id, r.reaction, COUNT(*), MAX(ur.user = ?2)
         FROM reactions r JOIN user_reactions ur ON ur.reaction = r.id
         WHERE r.message = ?1 GROUP BY r.id ORDER BY r.id",
    )?;
    let rows = stmt
        .query_map([msg, viewer], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (index, (rid, reaction, n, you)) in rows.into_iter().enumerate() {
        let list = if reactors == 0 {
            Vec::new()
        } else {
            let mut s = c.prepare_cached(
                "SELECT u.session_id FROM user_reactions ur JOIN users u ON u.id = ur.user
                 WHERE ur.reaction = ?1 ORDER BY ur.at, ur.rowid LIMIT ?2",
            )?;
            s.query_map(params![rid, sql_limit(reactors)], |r| account(r, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        out.push(Reaction {
            reaction,
            index,
            count: usize::try_from(n).unwrap_or(0),
            reactors: list,
            you,
        });
    }
    Ok(out)
}

/// The viewer's user id (-1 if anonymous or unknown) and whether they moderate `room`.
fn viewer(c: &Connection, room: &Room, opts: &ReadOptions) -> R<(i64, bool)> {
    let user = match &opts.viewer {
        Some(v) => find_user(c, v)?,
        None => None,
    };
    let perms = permissions_of(c, room, user.as_ref())?;
    Ok((user.map_or(-1, |u| u.id), perms.moderator))
}

fn query_messages(
    c: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    viewer: i64,
    reactors: usize,
) -> R<Vec<Message>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, msg_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut m, _) in rows {
        if !m.is_deleted() {
            m.reactions = reactions_of(c, m.id, viewer, reactors)?;
        }
        out.push(m);
    }
    Ok(out)
}

/// Attaches `files` (the author's unexpired, unattached uploads to the room) to `msg`.
fn attach_files(
    c: &Connection,
    retention: &Retention,
    room: i64,
    author: i64,
    msg: i64,
    files: &[i64],
    now: f64,
) -> R<()> {
    let expiry = retention.attached_file.map(|d| now + d);
    for f in files {
        c.exec(
            "UPDATE files SET message = ?1, expiry = ?2
             WHERE id = ?3 AND room = ?4 AND uploader = ?5 AND message IS NULL
               AND expiry IS NOT NULL AND expiry > ?6",
            params![msg, expiry, f, room, author, now],
        )?;
    }
    Ok(())
}

/// Turns a message into a tombstone (see the module documentation of [`super`]).
fn delete_in_tx(c: &Connection, room: &Room, m: &Message, now: f64) -> R<()> {
    c.exec(
        "INSERT INTO message_history (message, replaced, data, signature)
         SELECT id, ?2, data, signature FROM messages WHERE id = ?1",
        params![m.id, now],
    )?;
    let seq = bump_sequence(c, room.id)?;
    c.exec(
        "UPDATE messages SET data = NULL, signature = NULL, seqno_data = ?2, seqno = ?2,
             edited = ?3 WHERE id = ?1",
        params![m.id, seq, now],
    )?;
    c.exec("DELETE FROM reactions WHERE message = ?1", [m.id])?;
    let unpinned = c.exec(
        "DELETE FROM pinned_messages WHERE room = ?1 AND message = ?2",
        [room.id, m.id],
    )?;
    if unpinned > 0 {
        bump_info(c, room.id, 1)?;
    }
    c.exec(
        "UPDATE files SET expiry = 0 WHERE message = ?1
           AND id IS NOT (SELECT image FROM rooms WHERE id = ?2)",
        [m.id, room.id],
    )?;
    Ok(())
}

/// Applies a reaction change to the message's seqnos; returns the new seqno.
fn reaction_changed(c: &Connection, room: i64, msg: i64) -> R<i64> {
    let seq = bump_sequence(c, room)?;
    c.exec(
        "UPDATE messages SET seqno_reactions = ?2, seqno = ?2 WHERE id = ?1",
        [msg, seq],
    )?;
    Ok(seq)
}

/// Unpinned files get `uploaded + attached lifetime`, except the room image (which never
/// expires, even when it is also a file of the message).
fn unpin_files(c: &Connection, retention: &Retention, room: i64, msg: i64) -> R<()> {
    c.exec(
        "UPDATE files SET expiry = CASE WHEN ?2 IS NULL THEN NULL ELSE uploaded + ?2 END
         WHERE message = ?1 AND id IS NOT (SELECT image FROM rooms WHERE id = ?3)",
        params![msg, retention.attached_file, room],
    )?;
    Ok(())
}

fn dm_query(
    c: &Connection,
    column: &str,
    user: i64,
    since: Option<i64>,
    limit: usize,
    now: f64,
) -> R<Vec<DirectMessage>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT i.id, s.session_id, r.session_id, i.body, i.posted_at, i.expiry
         FROM inbox i JOIN users s ON s.id = i.sender JOIN users r ON r.id = i.recipient
         WHERE i.{column} = ?1 AND i.id > ?2 AND i.expiry > ?3 ORDER BY i.id LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(
            params![user, since.unwrap_or(0), now, sql_limit(limit)],
            |r| {
                Ok(DirectMessage {
                    id: r.get(0)?,
                    sender: account(r, 1)?,
                    recipient: account(r, 2)?,
                    message: r.get(3)?,
                    posted_at: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

impl SogsStore for SqliteStore {
    fn create_room(&self, room: &NewRoom, now: f64) -> Result<Room> {
        check_token(&room.token)?;
        check_time("now", now)?;
        self.tx(|c| {
            let taken: bool = c.row(
                "SELECT EXISTS (SELECT 1 FROM rooms WHERE token = ?1)",
                [&room.token],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::RoomExists {
                    token: room.token.clone(),
                }
                .into());
            }
            c.exec(
                "INSERT INTO rooms (token, name, description, created, read, accessible, write,
                     upload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    room.token,
                    room.name,
                    room.description,
                    now,
                    room.defaults.read,
                    room.defaults.accessible,
                    room.defaults.write,
                    room.defaults.upload
                ],
            )?;
            room_by_id(c, c.last_insert_rowid())
        })
    }

    fn room(&self, token: &str) -> Result<Option<Room>> {
        self.tx(|c| match room_by_token(c, token) {
            Ok(r) => Ok(Some(r)),
            Err(Fail::Store(StoreError::RoomNotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn rooms(&self) -> Result<Vec<Room>> {
        self.tx(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {ROOM_COLS} FROM rooms ORDER BY token"))?;
            let rows = stmt
                .query_map([], room_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn update_room(&self, token: &str, update: &RoomUpdate, now: f64) -> Result<Room> {
        check_time("now", now)?;
        if update.is_empty() {
            return Err(StoreError::Invalid {
                what: "room update",
                reason: "it changes nothing".into(),
            });
        }
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let mut bumps = 0;
            if let Some(name) = &update.name
                && *name != room.name
            {
                c.exec(
                    "UPDATE rooms SET name = ?2 WHERE id = ?1",
                    params![room.id, name],
                )?;
                bumps += 1;
            }
            if let Some(d) = &update.description
                && *d != room.description
            {
                c.exec(
                    "UPDATE rooms SET description = ?2 WHERE id = ?1",
                    params![room.id, d],
                )?;
                bumps += 1;
            }
            if let Some(image) = update.image
                && image != room.image_id
            {
                if let Some(f) = image {
                    let ok: bool = c.row(
                        "SELECT EXISTS (SELECT 1 FROM files WHERE id = ?1 AND room = ?2
                             AND (expiry IS NULL OR expiry > ?3))",
                        params![f, room.id, now],
                        |r| r.get(0),
                    )?;
                    if !ok {
                        return Err(StoreError::FileNotFound {
                            room: room.token.clone(),
                            id: f,
                        }
                        .into());
                    }
                    c.exec("UPDATE files SET expiry = NULL WHERE id = ?1", [f])?;
                }
                if let Some(old) = room.image_id {
                    c.exec("UPDATE files SET expiry = 0 WHERE id = ?1", [old])?;
                }
                c.exec(
                    "UPDATE rooms SET image = ?2 WHERE id = ?1",
                    params![room.id, image],
                )?;
                bumps += 1;
            }
            c.exec(
                "UPDATE rooms SET read = coalesce(?2, read), accessible = coalesce(?3, accessible),
                     write = coalesce(?4, write), upload = coalesce(?5, upload) WHERE id = ?1",
                params![
                    room.id,
                    update.default_read,
                    update.default_accessible,
                    update.default_write,
                    update.default_upload
                ],
            )?;
            if bumps > 0 {
                bump_info(c, room.id, bumps)?;
            }
            room_by_id(c, room.id)
        })
    }

    fn delete_room(&self, token: &str) -> Result<()> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            c.exec("UPDATE rooms SET image = NULL WHERE id = ?1", [room.id])?;
            c.exec(
                "UPDATE files SET room = NULL, expiry = 0 WHERE room = ?1",
                [room.id],
            )?;
            c.exec("DELETE FROM rooms WHERE id = ?1", [room.id])?;
            Ok(())
        })
    }

    fn room_moderators(&self, token: &str) -> Result<Vec<RoomModerator>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let mut stmt = c.prepare_cached(
                "SELECT u.session_id, o.admin OR u.admin, o.visible_mod, 0
                 FROM user_permission_overrides o JOIN users u ON u.id = o.user
                 WHERE o.room = ?1 AND o.moderator
                 UNION ALL
                 SELECT u.session_id, u.admin, u.visible_mod, 1 FROM users u
                 WHERE (u.moderator OR u.admin) AND u.id NOT IN
                     (SELECT user FROM user_permission_overrides WHERE room = ?1 AND moderator)
                 ORDER BY 1",
            )?;
            let rows = stmt
                .query_map([room.id], |r| {
                    Ok(RoomModerator {
                        session_id: account(r, 0)?,
                        admin: r.get(1)?,
                        visible: r.get(2)?,
                        global: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn record_activity(&self, token: &str, user: &AccountId, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = ensure_user(c, user, now)?;
            c.exec(
                "INSERT INTO room_users (room, user, last_active) VALUES (?1, ?2, ?3)
                 ON CONFLICT (room, user) DO UPDATE SET last_active = excluded.last_active",
                params![room.id, u.id, now],
            )?;
            Ok(())
        })
    }

    fn ensure_user(&self, id: &AccountId, now: f64) -> Result<User> {
        check_time("now", now)?;
        self.tx(|c| ensure_user(c, id, now))
    }

    fn user(&self, id: &AccountId) -> Result<Option<User>> {
        self.tx(|c| find_user(c, id))
    }

    fn touch_user(&self, id: &AccountId, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(|c| {
            let n = c.exec(
                "UPDATE users SET last_active = ?2 WHERE session_id = ?1",
                params![id.to_hex(), now],
            )?;
            if n == 0 {
                return Err(StoreError::UserNotFound {
                    session_id: id.to_hex(),
                }
                .into());
            }
            Ok(())
        })
    }

    fn global_moderators(&self) -> Result<Vec<User>> {
        self.tx(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLS} FROM users WHERE moderator OR admin ORDER BY session_id"
            ))?;
            let rows = stmt
                .query_map([], user_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn permissions(&self, token: &str, user: Option<&AccountId>) -> Result<Permissions> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = match user {
                Some(id) => find_user(c, id)?,
                None => None,
            };
            permissions_of(c, &room, u.as_ref())
        })
    }

    fn overrides(&self, token: &str, user: &AccountId) -> Result<Option<Overrides>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            match find_user(c, user)? {
                Some(u) => find_overrides(c, room.id, u.id),
                None => Ok(None),
            }
        })
    }

    fn room_overrides(&self, token: &str) -> Result<Vec<(AccountId, Overrides)>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let mut stmt = c.prepare_cached(
                "SELECT u.session_id, o.banned, o.read, o.accessible, o.write, o.upload,
                     o.moderator, o.admin, o.visible_mod
                 FROM user_permission_overrides o JOIN users u ON u.id = o.user
                 WHERE o.room = ?1 ORDER BY u.session_id",
            )?;
            let rows = stmt
                .query_map([room.id], |r| Ok((account(r, 0)?, ov_row(r, 1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn set_permissions(
        &self,
        token: &str,
        user: &AccountId,
        change: &PermissionChange,
        now: f64,
    ) -> Result<Option<Overrides>> {
        check_time("now", now)?;
        change.check()?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = ensure_user(c, user, now)?;
            let o = find_overrides(c, room.id, u.id)?
                .unwrap_or_else(Overrides::fresh)
                .with_permissions(change);
            write_overrides(c, room.id, u.id, &o)?;
            if change.unschedule {
                for (col, s) in [
                    ("read", change.read),
                    ("write", change.write),
                    ("upload", change.upload),
                ] {
                    if s != Setting::Keep {
                        c.exec(
                            &format!(
                                "UPDATE user_permission_futures SET {col} = NULL
                                 WHERE room = ?1 AND user = ?2"
                            ),
                            [room.id, u.id],
                        )?;
                    }
                }
                c.exec(
                    "DELETE FROM user_permission_futures WHERE room = ?1 AND user = ?2
                       AND read IS NULL AND write IS NULL AND upload IS NULL",
                    [room.id, u.id],
                )?;
            }
            find_overrides(c, room.id, u.id)
        })
    }

    fn schedule_permissions(
        &self,
        token: &str,
        user: &AccountId,
        at: f64,
        change: &ScheduledChange,
    ) -> Result<()> {
        check_time("scheduled time", at)?;
        change.check()?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = ensure_user(c, user, at)?;
            c.exec(
                "INSERT INTO user_permission_futures (room, user, at, read, write, upload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![room.id, u.id, at, change.read, change.write, change.upload],
            )?;
            Ok(())
        })
    }

    fn future_permissions(
        &self,
        token: &str,
        user: Option<&AccountId>,
    ) -> Result<Vec<FuturePermission>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let uid = match user {
                Some(id) => match find_user(c, id)? {
                    Some(u) => u.id,
                    None => return Ok(Vec::new()),
                },
                None => -1,
            };
            let mut stmt = c.prepare_cached(
                "SELECT u.session_id, f.at, f.read, f.write, f.upload, NULL, f.id, 0
                 FROM user_permission_futures f JOIN users u ON u.id = f.user
                 WHERE f.room = ?1 AND (?2 = -1 OR f.user = ?2)
                 UNION ALL
                 SELECT u.session_id, b.at, NULL, NULL, NULL, b.banned, b.id, 1
                 FROM user_ban_futures b JOIN users u ON u.id = b.user
                 WHERE b.room = ?1 AND (?2 = -1 OR b.user = ?2)
                 ORDER BY 2, 8, 7",
            )?;
            let rows = stmt
                .query_map([room.id, uid], |r| {
                    Ok(FuturePermission {
                        session_id: account(r, 0)?,
                        at: r.get(1)?,
                        read: r.get(2)?,
                        write: r.get(3)?,
                        upload: r.get(4)?,
                        banned: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn set_moderator(
        &self,
        scope: Scope<'_>,
        user: &AccountId,
        change: &ModeratorChange,
        now: f64,
    ) -> Result<Vec<(String, i64)>> {
        check_time("now", now)?;
        apply_moderator_change(change, false, false)?;
        self.tx(|c| {
            let u = ensure_user(c, user, now)?;
            match scope {
                Scope::Global => {
                    let (m, a) = apply_moderator_change(change, u.moderator, u.admin)?;
                    let visible = if m {
                        change.visible.unwrap_or(false)
                    } else {
                        u.visible_mod
                    };
                    let banned = u.banned && !m;
                    let changed = (m, a, visible) != (u.moderator, u.admin, u.visible_mod);
                    c.exec(
                        "UPDATE users SET moderator = ?2, admin = ?3, visible_mod = ?4,
                             banned = ?5 WHERE id = ?1",
                        params![u.id, m, a, visible, banned],
                    )?;
                    if changed {
                        c.exec("UPDATE rooms SET info_updates = info_updates + 1", [])?;
                    }
                    let mut stmt =
                        c.prepare_cached("SELECT token, info_updates FROM rooms ORDER BY token")?;
                    let rows = stmt
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok(rows)
                }
                Scope::Room(token) => {
                    let room = room_by_token(c, token)?;
                    let old = find_overrides(c, room.id, u.id)?.unwrap_or_else(Overrides::fresh);
                    let (o, listed) = old.with_moderator_change(change)?;
                    write_overrides(c, room.id, u.id, &o)?;
                    let info = if listed {
                        bump_info(c, room.id, 1)?
                    } else {
                        room.info_updates
                    };
                    Ok(vec![(room.token, info)])
                }
            }
        })
    }

    fn ban(
        &self,
        scope: Scope<'_>,
        user: &AccountId,
        timeout: Option<f64>,
        now: f64,
    ) -> Result<()> {
        check_time("now", now)?;
        if let Some(t) = timeout {
            check_duration("ban timeout", t)?;
        }
        self.tx(|c| {
            let u = ensure_user(c, user, now)?;
            if u.moderator || u.admin {
                return Err(StoreError::Invalid {
                    what: "ban",
                    reason: format!("{} is a global moderator and cannot be banned", user),
                }
                .into());
            }
            let room = match scope {
                Scope::Global => {
                    c.exec("UPDATE users SET banned = 1 WHERE id = ?1", [u.id])?;
                    c.exec(
                        "DELETE FROM user_ban_futures WHERE room IS NULL AND user = ?1",
                        [u.id],
                    )?;
                    None
                }
                Scope::Room(token) => {
                    let room = room_by_token(c, token)?;
                    let old = find_overrides(c, room.id, u.id)?.unwrap_or_else(Overrides::fresh);
                    let mut o = old;
                    o.banned = true;
                    o.moderator = false;
                    o.admin = false;
                    write_overrides(c, room.id, u.id, &o)?;
                    if old.moderator {
                        bump_info(c, room.id, 1)?;
                    }
                    c.exec(
                        "DELETE FROM room_users WHERE room = ?1 AND user = ?2",
                        [room.id, u.id],
                    )?;
                    c.exec(
                        "DELETE FROM user_ban_futures WHERE room = ?1 AND user = ?2",
                        [room.id, u.id],
                    )?;
                    Some(room.id)
                }
            };
            if let Some(t) = timeout {
                c.exec(
                    "INSERT INTO user_ban_futures (room, user, at, banned) VALUES (?1, ?2, ?3, 0)",
                    params![room, u.id, now + t],
                )?;
            }
            Ok(())
        })
    }

    fn unban(&self, scope: Scope<'_>, user: &AccountId) -> Result<()> {
        self.tx(|c| {
            let room = match scope {
                Scope::Room(token) => Some(room_by_token(c, token)?),
                Scope::Global => None,
            };
            let Some(u) = find_user(c, user)? else {
                return Ok(());
            };
            match room {
                None => {
                    c.exec("UPDATE users SET banned = 0 WHERE id = ?1", [u.id])?;
                    c.exec(
                        "DELETE FROM user_ban_futures WHERE room IS NULL AND user = ?1",
                        [u.id],
                    )?;
                }
                Some(room) => {
                    if let Some(mut o) = find_overrides(c, room.id, u.id)? {
                        o.banned = false;
                        write_overrides(c, room.id, u.id, &o)?;
                    }
                    c.exec(
                        "DELETE FROM user_ban_futures WHERE room = ?1 AND user = ?2",
                        [room.id, u.id],
                    )?;
                }
            }
            Ok(())
        })
    }

    fn post_message(&self, token: &str, post: &NewPost, now: f64) -> Result<Message> {
        check_time("now", now)?;
        if post.data.is_empty() {
            return Err(StoreError::Invalid {
                what: "message data",
                reason: "it is empty".into(),
            });
        }
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let author = existing_user(c, &post.author)?;
            let whisper = match &post.whisper_to {
                Some(w) => Some(ensure_user(c, w, now)?.id),
                None => None,
            };
            let seq = bump_sequence(c, room.id)?;
            c.exec(
                "INSERT INTO messages (room, user, posted, seqno, seqno_data, seqno_creation,
                     data, signature, filtered, whisper, whisper_mods)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    room.id,
                    author.id,
                    now,
                    seq,
                    post.data,
                    post.signature.as_slice(),
                    post.filtered,
                    whisper,
                    post.whisper_mods
                ],
            )?;
            let id = c.last_insert_rowid();
            attach_files(c, &self.retention, room.id, author.id, id, &post.files, now)?;
            Ok(load_message(c, &room, id)?.0)
        })
    }

    fn posts_since(&self, token: &str, user: &AccountId, since: f64) -> Result<usize> {
        check_time("since", since)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let Some(u) = find_user(c, user)? else {
                return Ok(0);
            };
            let n: i64 = c.row(
                "SELECT COUNT(*) FROM messages WHERE room = ?1 AND user = ?2 AND posted >= ?3",
                params![room.id, u.id, since],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn edit_message(&self, token: &str, id: i64, edit: &MessageEdit, now: f64) -> Result<Message> {
        let (editor, data, signature, files) = (
            &edit.editor,
            edit.data.as_slice(),
            &edit.signature,
            edit.files.as_slice(),
        );
        check_time("now", now)?;
        if data.is_empty() {
            return Err(StoreError::Invalid {
                what: "message data",
                reason: "it is empty".into(),
            });
        }
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let (m, author) = load_message(c, &room, id)?;
            if m.is_deleted() {
                return Err(StoreError::MessageNotFound {
                    room: room.token.clone(),
                    id,
                }
                .into());
            }
            if m.session_id != *editor {
                return Err(StoreError::NotAuthor { id }.into());
            }
            c.exec(
                "INSERT INTO message_history (message, replaced, data, signature)
                 SELECT id, ?2, data, signature FROM messages WHERE id = ?1",
                params![id, now],
            )?;
            let seq = bump_sequence(c, room.id)?;
            c.exec(
                "UPDATE messages SET data = ?2, signature = ?3, seqno_data = ?4, seqno = ?4,
                     edited = ?5 WHERE id = ?1",
                params![id, data, signature.as_slice(), seq, now],
            )?;
            attach_files(c, &self.retention, room.id, author, id, files, now)?;
            let (mut m, _) = load_message(c, &room, id)?;
            m.reactions = reactions_of(c, id, author, 0)?;
            Ok(m)
        })
    }

    fn delete_message(&self, token: &str, id: i64, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let (m, _) = load_message(c, &room, id)?;
            if m.is_deleted() {
                return Err(StoreError::MessageNotFound {
                    room: room.token.clone(),
                    id,
                }
                .into());
            }
            delete_in_tx(c, &room, &m, now)
        })
    }

    fn delete_user_messages(&self, token: &str, user: &AccountId, now: f64) -> Result<usize> {
        check_time("now", now)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = existing_user(c, user)?;
            let mut stmt = c.prepare_cached(&format!(
                "{MSG_SELECT} WHERE m.room = ?1 AND m.user = ?2 AND m.data IS NOT NULL
                 ORDER BY m.id"
            ))?;
            let list = stmt
                .query_map([room.id, u.id], msg_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            for (m, _) in &list {
                delete_in_tx(c, &room, m, now)?;
            }
            c.exec(
                "UPDATE files SET expiry = 0 WHERE room = ?1 AND uploader = ?2
                   AND id IS NOT (SELECT image FROM rooms WHERE id = ?1)",
                [room.id, u.id],
            )?;
            Ok(list.len())
        })
    }

    fn message(&self, token: &str, id: i64, opts: &ReadOptions) -> Result<Option<Message>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            let sql = format!(
                "{MSG_SELECT} WHERE m.room = ?1 AND m.id = ?4 AND m.data IS NOT NULL AND {VISIBLE}"
            );
            let list = query_messages(
                c,
                &sql,
                params![room.id, uid, is_mod, id],
                uid,
                opts.reactors,
            )?;
            Ok(list.into_iter().next())
        })
    }

    fn messages_since(
        &self,
        token: &str,
        since: i64,
        limit: usize,
        with_reactions: bool,
        opts: &ReadOptions,
    ) -> Result<Vec<Message>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            let sql = format!(
                "{MSG_SELECT} WHERE m.room = ?1 AND m.seqno > ?4 AND {VISIBLE}
                   AND (m.data IS NOT NULL OR m.seqno_creation <= ?4)
                   AND (?5 OR m.seqno_data > ?4)
                 ORDER BY m.seqno LIMIT ?6"
            );
            query_messages(
                c,
                &sql,
                params![
                    room.id,
                    uid,
                    is_mod,
                    since,
                    with_reactions,
                    sql_limit(limit)
                ],
                uid,
                opts.reactors,
            )
        })
    }

    fn messages_recent(
        &self,
        token: &str,
        before: Option<i64>,
        limit: usize,
        opts: &ReadOptions,
    ) -> Result<Vec<Message>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            let sql = format!(
                "{MSG_SELECT} WHERE m.room = ?1 AND m.data IS NOT NULL AND {VISIBLE}
                   AND m.id < ?4 ORDER BY m.id DESC LIMIT ?5"
            );
            query_messages(
                c,
                &sql,
                params![
                    room.id,
                    uid,
                    is_mod,
                    before.unwrap_or(i64::MAX),
                    sql_limit(limit)
                ],
                uid,
                opts.reactors,
            )
        })
    }

    fn message_history(&self, token: &str, id: i64) -> Result<Vec<HistoryEntry>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_message(c, &room, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT replaced, data, signature FROM message_history WHERE message = ?1
                 ORDER BY replaced, id",
            )?;
            let rows = stmt
                .query_map([id], |r| {
                    Ok(HistoryEntry {
                        replaced: r.get(0)?,
                        data: r.get(1)?,
                        signature: signature(r, 2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn add_reaction(
        &self,
        token: &str,
        id: i64,
        user: &AccountId,
        reaction: &str,
        now: f64,
    ) -> Result<(bool, i64)> {
        check_time("now", now)?;
        check_reaction(reaction)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_regular(c, &room, id)?;
            let u = ensure_user(c, user, now)?;
            c.exec(
                "INSERT INTO reactions (message, reaction) VALUES (?1, ?2)
                 ON CONFLICT (message, reaction) DO NOTHING",
                params![id, reaction],
            )?;
            let rid: i64 = c.row(
                "SELECT id FROM reactions WHERE message = ?1 AND reaction = ?2",
                params![id, reaction],
                |r| r.get(0),
            )?;
            let added = c.exec(
                "INSERT INTO user_reactions (reaction, user, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (reaction, user) DO NOTHING",
                params![rid, u.id, now],
            )? > 0;
            let seqno = if added {
                reaction_changed(c, room.id, id)?
            } else {
                message_seqno(c, id)?
            };
            Ok((added, seqno))
        })
    }

    fn remove_reaction(
        &self,
        token: &str,
        id: i64,
        user: &AccountId,
        reaction: &str,
    ) -> Result<(bool, i64)> {
        check_reaction(reaction)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_regular(c, &room, id)?;
            let removed = match find_user(c, user)? {
                Some(u) => {
                    c.exec(
                        "DELETE FROM user_reactions WHERE user = ?3 AND reaction =
                             (SELECT id FROM reactions WHERE message = ?1 AND reaction = ?2)",
                        params![id, reaction, u.id],
                    )? > 0
                }
                None => false,
            };
            let seqno = if removed {
                c.exec(
                    "DELETE FROM reactions WHERE message = ?1 AND reaction = ?2
                       AND NOT EXISTS (SELECT 1 FROM user_reactions WHERE reaction = reactions.id)",
                    params![id, reaction],
                )?;
                reaction_changed(c, room.id, id)?
            } else {
                message_seqno(c, id)?
            };
            Ok((removed, seqno))
        })
    }

    fn clear_reactions(
        &self,
        token: &str,
        id: i64,
        reaction: Option<&str>,
    ) -> Result<(usize, i64)> {
        if let Some(r) = reaction {
            check_reaction(r)?;
        }
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_message(c, &room, id)?;
            let removed = c.exec(
                "DELETE FROM user_reactions WHERE reaction IN
                     (SELECT id FROM reactions WHERE message = ?1 AND (?2 IS NULL OR reaction = ?2))",
                params![id, reaction],
            )?;
            c.exec(
                "DELETE FROM reactions WHERE message = ?1 AND (?2 IS NULL OR reaction = ?2)",
                params![id, reaction],
            )?;
            let seqno = if removed > 0 {
                reaction_changed(c, room.id, id)?
            } else {
                message_seqno(c, id)?
            };
            Ok((removed, seqno))
        })
    }

    fn reactors(
        &self,
        token: &str,
        id: i64,
        reaction: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(AccountId, f64)>> {
        check_reaction(reaction)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_regular(c, &room, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT u.session_id, ur.at FROM user_reactions ur
                 JOIN reactions r ON r.id = ur.reaction JOIN users u ON u.id = ur.user
                 WHERE r.message = ?1 AND r.reaction = ?2 ORDER BY ur.at, ur.rowid LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![id, reaction, limit.map_or(-1, sql_limit)], |r| {
                    Ok((account(r, 0)?, r.get(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn pin(&self, token: &str, id: i64, by: &AccountId, now: f64) -> Result<i64> {
        check_time("now", now)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            load_regular(c, &room, id)?;
            let u = ensure_user(c, by, now)?;
            c.exec(
                "INSERT INTO pinned_messages (room, message, pinned_by, pinned_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (room, message) DO UPDATE SET pinned_by = excluded.pinned_by,
                     pinned_at = excluded.pinned_at",
                params![room.id, id, u.id, now],
            )?;
            c.exec("UPDATE files SET expiry = NULL WHERE message = ?1", [id])?;
            bump_info(c, room.id, 1)
        })
    }

    fn unpin(&self, token: &str, id: i64) -> Result<(bool, i64)> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let removed = c.exec(
                "DELETE FROM pinned_messages WHERE room = ?1 AND message = ?2",
                [room.id, id],
            )? > 0;
            if removed {
                unpin_files(c, &self.retention, room.id, id)?;
                Ok((true, bump_info(c, room.id, 1)?))
            } else {
                Ok((false, room.info_updates))
            }
        })
    }

    fn unpin_all(&self, token: &str) -> Result<(usize, i64)> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let mut stmt =
                c.prepare_cached("SELECT message FROM pinned_messages WHERE room = ?1")?;
            let ids = stmt
                .query_map([room.id], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            for id in &ids {
                unpin_files(c, &self.retention, room.id, *id)?;
            }
            c.exec("DELETE FROM pinned_messages WHERE room = ?1", [room.id])?;
            let info = if ids.is_empty() {
                info_updates(c, room.id)?
            } else {
                bump_info(c, room.id, i64::try_from(ids.len()).unwrap_or(i64::MAX))?
            };
            Ok((ids.len(), info))
        })
    }

    fn pins(&self, token: &str) -> Result<Vec<Pin>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let mut stmt = c.prepare_cached(
                "SELECT p.message, p.pinned_at, u.session_id FROM pinned_messages p
                 JOIN users u ON u.id = p.pinned_by WHERE p.room = ?1
                 ORDER BY p.pinned_at, p.message",
            )?;
            let rows = stmt
                .query_map([room.id], |r| {
                    Ok(Pin {
                        id: r.get(0)?,
                        pinned_at: r.get(1)?,
                        pinned_by: account(r, 2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn add_file(
        &self,
        token: &str,
        uploader: &AccountId,
        data: &[u8],
        filename: Option<&str>,
        now: f64,
    ) -> Result<i64> {
        check_time("now", now)?;
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            let u = existing_user(c, uploader)?;
            c.exec(
                "INSERT INTO files (room, uploader, size, uploaded, expiry, filename, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    room.id,
                    u.id,
                    i64::try_from(data.len()).unwrap_or(i64::MAX),
                    now,
                    now + self.retention.unattached_file,
                    filename,
                    data
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn file(&self, token: &str, id: i64, now: f64) -> Result<Option<StoredFile>> {
        self.tx(|c| {
            let room = room_by_token(c, token)?;
            Ok(c.row(
                "SELECT f.id, u.session_id, f.message, f.size, f.uploaded, f.expiry, f.filename,
                     f.data
                 FROM files f JOIN users u ON u.id = f.uploader
                 WHERE f.id = ?1 AND f.room = ?2 AND (f.expiry IS NULL OR f.expiry > ?3)",
                params![id, room.id, now],
                |r| {
                    Ok(StoredFile {
                        id: r.get(0)?,
                        room: room.token.clone(),
                        uploader: account(r, 1)?,
                        message: r.get(2)?,
                        size: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        uploaded: r.get(4)?,
                        expiry: r.get(5)?,
                        filename: r.get(6)?,
                        data: r.get(7)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn use_nonce(&self, user: &AccountId, nonce: &[u8; 16], now: f64) -> Result<bool> {
        check_time("now", now)?;
        self.tx(|c| {
            let u = ensure_user(c, user, now)?;
            let n = c.exec(
                "INSERT INTO user_request_nonces (user, nonce, expiry) VALUES (?1, ?2, ?3)
                 ON CONFLICT (nonce) DO NOTHING",
                params![u.id, nonce.as_slice(), now + self.retention.nonce],
            )?;
            Ok(n > 0)
        })
    }

    fn send_dm(
        &self,
        sender: &AccountId,
        recipient: &AccountId,
        message: &[u8],
        now: f64,
    ) -> Result<DirectMessage> {
        check_time("now", now)?;
        if message.is_empty() {
            return Err(StoreError::Invalid {
                what: "direct message",
                reason: "it is empty".into(),
            });
        }
        self.tx(|c| {
            let s = existing_user(c, sender)?;
            let r = existing_user(c, recipient)?;
            if r.banned {
                return Err(StoreError::UserNotFound {
                    session_id: recipient.to_hex(),
                }
                .into());
            }
            let expires_at = now + self.retention.direct_message;
            c.exec(
                "INSERT INTO inbox (recipient, sender, body, posted_at, expiry)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.id, s.id, message, now, expires_at],
            )?;
            Ok(DirectMessage {
                id: c.last_insert_rowid(),
                sender: *sender,
                recipient: *recipient,
                message: message.to_vec(),
                posted_at: now,
                expires_at,
            })
        })
    }

    fn inbox(
        &self,
        recipient: &AccountId,
        since: Option<i64>,
        limit: usize,
        now: f64,
    ) -> Result<Vec<DirectMessage>> {
        self.tx(|c| match find_user(c, recipient)? {
            Some(u) => dm_query(c, "recipient", u.id, since, limit, now),
            None => Ok(Vec::new()),
        })
    }

    fn outbox(
        &self,
        sender: &AccountId,
        since: Option<i64>,
        limit: usize,
        now: f64,
    ) -> Result<Vec<DirectMessage>> {
        self.tx(|c| match find_user(c, sender)? {
            Some(u) => dm_query(c, "sender", u.id, since, limit, now),
            None => Ok(Vec::new()),
        })
    }

    fn delete_inbox(&self, recipient: &AccountId) -> Result<usize> {
        self.tx(|c| match find_user(c, recipient)? {
            Some(u) => Ok(c.exec("DELETE FROM inbox WHERE recipient = ?1", [u.id])?),
            None => Ok(0),
        })
    }

    fn cleanup(&self, now: f64) -> Result<CleanupCounts> {
        check_time("now", now)?;
        let ret = self.retention;
        self.tx(|c| {
            let mut counts = CleanupCounts::default();
            // Scheduled permission changes.
            let mut stmt = c.prepare_cached(
                "SELECT id, room, user, read, write, upload FROM user_permission_futures
                 WHERE at <= ?1 ORDER BY at, id",
            )?;
            let due = stmt
                .query_map([now], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<bool>>(3)?,
                        r.get::<_, Option<bool>>(4)?,
                        r.get::<_, Option<bool>>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            for (id, room, user, read, write, upload) in due {
                let d = room_by_id(c, room)?.defaults;
                let o = find_overrides(c, room, user)?
                    .unwrap_or_else(Overrides::fresh)
                    .with_scheduled(read, write, upload, &d);
                write_overrides(c, room, user, &o)?;
                c.exec("DELETE FROM user_permission_futures WHERE id = ?1", [id])?;
                counts.permission_changes += 1;
            }
            // Scheduled (un)bans.
            let mut stmt = c.prepare_cached(
                "SELECT id, room, user, banned FROM user_ban_futures WHERE at <= ?1
                 ORDER BY at, id",
            )?;
            let due = stmt
                .query_map([now], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            for (id, room, user, banned) in due {
                match room {
                    None => {
                        c.exec(
                            "UPDATE users SET banned = ?2 WHERE id = ?1
                               AND NOT (?2 AND (moderator OR admin))",
                            params![user, banned],
                        )?;
                    }
                    Some(room) => {
                        let mut o = find_overrides(c, room, user)?.unwrap_or_else(Overrides::fresh);
                        if !(banned && o.moderator) {
                            o.banned = banned;
                            write_overrides(c, room, user, &o)?;
                        }
                    }
                }
                c.exec("DELETE FROM user_ban_futures WHERE id = ?1", [id])?;
                counts.ban_changes += 1;
            }
            counts.files = c.exec(
                "DELETE FROM files WHERE expiry IS NOT NULL AND expiry <= ?1",
                [now],
            )?;
            counts.history = c.exec(
                "DELETE FROM message_history WHERE replaced < ?1",
                [now - ret.history],
            )?;
            counts.direct_messages = c.exec("DELETE FROM inbox WHERE expiry <= ?1", [now])?;
            counts.nonces = c.exec("DELETE FROM user_request_nonces WHERE expiry <= ?1", [now])?;
            counts.room_activity = c.exec(
                "DELETE FROM room_users WHERE last_active < ?1",
                [now - ret.activity_kept],
            )?;
            c.exec(
                "UPDATE rooms SET active_users = (SELECT COUNT(*) FROM room_users
                     WHERE room = rooms.id AND last_active >= ?1)",
                [now - ret.active_window],
            )?;
            Ok(counts)
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

    fn open() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (
            SqliteStore::open(dir.path(), Retention::default()).unwrap(),
            dir,
        )
    }

    #[test]
    fn migration_sets_version_application_id_and_wal() {
        let (store, _dir) = open();
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
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(
            (v, app, mode.as_str(), fk),
            (SCHEMA_VERSION, APPLICATION_ID, "wal", 1)
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private_and_reopens() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let s = SqliteStore::open(dir.path(), Retention::default()).unwrap();
            s.create_room(
                &NewRoom {
                    token: "keep".into(),
                    name: "Keep".into(),
                    description: None,
                    defaults: RoomDefaults::default(),
                },
                1.0,
            )
            .unwrap();
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let s = SqliteStore::open(dir.path(), Retention::default()).unwrap();
        assert!(s.room("KEEP").unwrap().is_some());
    }

    #[test]
    fn refuses_foreign_and_newer_files() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        {
            let c = Connection::open(&other).unwrap();
            c.execute_batch("CREATE TABLE t (x); PRAGMA application_id = 42;")
                .unwrap();
        }
        let e = SqliteStore::open_file(&other, Retention::default()).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
        assert!(e.to_string().contains("move it aside"), "{e}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x55u8; 8192]).unwrap();
        let e = SqliteStore::open_file(&garbage, Retention::default()).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");

        let newer = dir.path().join("newer.db");
        drop(SqliteStore::open_file(&newer, Retention::default()).unwrap());
        {
            let c = Connection::open(&newer).unwrap();
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let e = SqliteStore::open_file(&newer, Retention::default()).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains("upgrade session"), "{e}");
    }

    #[test]
    fn schema_check_refuses_bad_tokens_even_without_the_store() {
        let (store, _dir) = open();
        let conn = lock(&store.conn);
        let insert = |t: &str| {
            conn.execute(
                "INSERT INTO rooms (token, name, created, read, accessible, write, upload)
                 VALUES (?1, 'n', 0, 1, 1, 1, 1)",
                [t],
            )
        };
        insert("ok_Token-1").unwrap();
        assert!(insert("bad token").is_err());
        assert!(insert("").is_err());
        assert!(insert(&"x".repeat(65)).is_err());
        assert!(insert("OK_TOKEN-1").is_err(), "tokens are case-insensitive");
    }

    #[test]
    fn queries_use_indexes() {
        let (store, _dir) = open();
        let conn = lock(&store.conn);
        let since = plan(
            &conn,
            &format!(
                "{MSG_SELECT} WHERE m.room = 1 AND m.seqno > 5 AND {VISIBLE}
                 ORDER BY m.seqno LIMIT 10"
            )
            .replace("?2", "1")
            .replace("?3", "0"),
        );
        assert!(since.contains("messages_room_seqno"), "{since}");
        assert!(!since.contains("TEMP B-TREE"), "{since}");
        let recent = plan(
            &conn,
            "SELECT id FROM messages WHERE room = 1 AND id < 9 ORDER BY id DESC LIMIT 5",
        );
        assert!(!recent.contains("TEMP B-TREE"), "{recent}");
        let expired = plan(&conn, "SELECT id FROM files WHERE expiry <= 5");
        assert!(expired.contains("files_expiry"), "{expired}");
        let inbox = plan(
            &conn,
            "SELECT id FROM inbox WHERE recipient = 1 AND id > 0 ORDER BY id LIMIT 5",
        );
        assert!(inbox.contains("inbox_recipient"), "{inbox}");
    }
}
