//! [`SogsStore`] for [`PostgresStore`]: the SQLite backend's statements in PostgreSQL's
//! dialect, plus the row locks that stand in for SQLite's single writer (see the parent
//! module). Each method mirrors its SQLite counterpart; where they differ, a comment
//! says why.

use postgres::Row;
use postgres::error::SqlState;
use postgres::types::FromSql;
use session_crypto::AccountId;

use super::{Db, Fail, Mode, PostgresStore, R};
use crate::store::{
    CleanupCounts, DirectMessage, FuturePermission, HistoryEntry, Message, MessageEdit,
    ModeratorChange, NewPost, NewRoom, Overrides, PermissionChange, Permissions, Pin, Reaction,
    ReadOptions, Result, Retention, Room, RoomDefaults, RoomModerator, RoomUpdate, ScheduledChange,
    Scope, Setting, SogsStore, StoreError, StoredFile, User, apply_moderator_change,
    check_duration, check_reaction, check_time, check_token, resolve_permissions, sql_limit,
};

macro_rules! room_cols {
    () => {
        "id, token, name, description, image, created, message_sequence, info_updates, \
         active_users, read, accessible, write, upload"
    };
}
macro_rules! user_cols {
    () => {
        "id, session_id, created, last_active, banned, moderator, admin, visible_mod"
    };
}
macro_rules! msg_select {
    () => {
        r#"SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, m.seqno_data,
               m.seqno_reactions, m.seqno_creation, m.data, m.signature, m.filtered,
               w.session_id, m.whisper_mods, m."user"
           FROM messages m JOIN users u ON u.id = m."user" LEFT JOIN users w ON w.id = m.whisper"#
    };
}
/// Whisper visibility and filtering; `$2` is the viewer's user id (-1 if none), `$3`
/// whether the viewer moderates the room.
macro_rules! visible {
    () => {
        r#"NOT m.filtered AND ((m.whisper IS NULL AND NOT m.whisper_mods)
             OR m.whisper = $2 OR m."user" = $2 OR ($3 AND m.whisper_mods))"#
    };
}

// ---- row conversions ----

fn get<'a, T: FromSql<'a>>(r: &'a Row, idx: usize) -> R<T> {
    Ok(r.try_get(idx)?)
}

fn account(r: &Row, idx: usize) -> R<AccountId> {
    let s: String = get(r, idx)?;
    s.parse()
        .map_err(|e| Fail::Data(format!("bad session id {s:?} in the database: {e}")))
}

fn opt_account(r: &Row, idx: usize) -> R<Option<AccountId>> {
    match get::<Option<String>>(r, idx)? {
        None => Ok(None),
        Some(_) => account(r, idx).map(Some),
    }
}

fn signature(r: &Row, idx: usize) -> R<Option<[u8; 64]>> {
    let v: Option<Vec<u8>> = get(r, idx)?;
    v.map(|v| {
        <[u8; 64]>::try_from(v.as_slice())
            .map_err(|_| Fail::Data(format!("signature of {} bytes in the database", v.len())))
    })
    .transpose()
}

fn room_row(r: &Row) -> R<Room> {
    Ok(Room {
        id: get(r, 0)?,
        token: get(r, 1)?,
        name: get(r, 2)?,
        description: get(r, 3)?,
        image_id: get(r, 4)?,
        created: get(r, 5)?,
        message_sequence: get(r, 6)?,
        info_updates: get(r, 7)?,
        active_users: get(r, 8)?,
        defaults: RoomDefaults {
            read: get(r, 9)?,
            accessible: get(r, 10)?,
            write: get(r, 11)?,
            upload: get(r, 12)?,
        },
    })
}

fn user_row(r: &Row) -> R<User> {
    Ok(User {
        id: get(r, 0)?,
        session_id: account(r, 1)?,
        created: get(r, 2)?,
        last_active: get(r, 3)?,
        banned: get(r, 4)?,
        moderator: get(r, 5)?,
        admin: get(r, 6)?,
        visible_mod: get(r, 7)?,
    })
}

fn ov_row(r: &Row, o: usize) -> R<Overrides> {
    Ok(Overrides {
        banned: get(r, o)?,
        read: get(r, o + 1)?,
        accessible: get(r, o + 2)?,
        write: get(r, o + 3)?,
        upload: get(r, o + 4)?,
        moderator: get(r, o + 5)?,
        admin: get(r, o + 6)?,
        visible_mod: get(r, o + 7)?,
    })
}

/// A message row and its author's user id.
fn msg_row(r: &Row) -> R<(Message, i64)> {
    Ok((
        Message {
            id: get(r, 0)?,
            session_id: account(r, 1)?,
            posted: get(r, 2)?,
            edited: get(r, 3)?,
            seqno: get(r, 4)?,
            seqno_data: get(r, 5)?,
            seqno_reactions: get(r, 6)?,
            seqno_creation: get(r, 7)?,
            data: get(r, 8)?,
            signature: signature(r, 9)?,
            filtered: get(r, 10)?,
            whisper_to: opt_account(r, 11)?,
            whisper_mods: get(r, 12)?,
            reactions: Vec::new(),
        },
        get(r, 13)?,
    ))
}

fn rows<T>(list: Vec<Row>, f: impl Fn(&Row) -> R<T>) -> R<Vec<T>> {
    list.iter().map(f).collect()
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

// ---- helpers inside a transaction ----

fn room_not_found(token: &str) -> Fail {
    Fail::Store(StoreError::RoomNotFound {
        token: token.to_owned(),
    })
}

/// The room, without a lock (readers, and writers that only insert under it).
fn room_by_token(c: &mut Db<'_, '_>, token: &str) -> R<Room> {
    let row = c.opt(
        concat!(
            "SELECT ",
            room_cols!(),
            " FROM rooms WHERE lower(token) = lower($1)"
        ),
        &[&token],
    )?;
    row.as_ref()
        .map(room_row)
        .transpose()?
        .ok_or_else(|| room_not_found(token))
}

/// The room, locked for this transaction: room-scoped writers run one at a time.
fn lock_room(c: &mut Db<'_, '_>, token: &str) -> R<Room> {
    let row = c.opt(
        concat!(
            "SELECT ",
            room_cols!(),
            " FROM rooms WHERE lower(token) = lower($1) FOR NO KEY UPDATE"
        ),
        &[&token],
    )?;
    row.as_ref()
        .map(room_row)
        .transpose()?
        .ok_or_else(|| room_not_found(token))
}

/// Locks every room, in id order (the global writers).
fn lock_all_rooms(c: &mut Db<'_, '_>) -> R<()> {
    c.query("SELECT id FROM rooms ORDER BY id FOR NO KEY UPDATE", &[])?;
    Ok(())
}

fn room_by_id(c: &mut Db<'_, '_>, id: i64) -> R<Room> {
    let row = c.one(
        concat!("SELECT ", room_cols!(), " FROM rooms WHERE id = $1"),
        &[&id],
    )?;
    room_row(&row)
}

fn find_user(c: &mut Db<'_, '_>, id: &AccountId) -> R<Option<User>> {
    let row = c.opt(
        concat!("SELECT ", user_cols!(), " FROM users WHERE session_id = $1"),
        &[&id.to_hex()],
    )?;
    row.as_ref().map(user_row).transpose()
}

fn user_not_found(id: &AccountId) -> Fail {
    Fail::Store(StoreError::UserNotFound {
        session_id: id.to_hex(),
    })
}

fn existing_user(c: &mut Db<'_, '_>, id: &AccountId) -> R<User> {
    find_user(c, id)?.ok_or_else(|| user_not_found(id))
}

fn ensure_user(c: &mut Db<'_, '_>, id: &AccountId, now: f64) -> R<User> {
    c.exec(
        "INSERT INTO users (session_id, created, last_active) VALUES ($1, $2, $2)
         ON CONFLICT (session_id) DO NOTHING",
        &[&id.to_hex(), &now],
    )?;
    existing_user(c, id)
}

/// The user (created if new), locked: for changes of their global flags.
fn ensure_locked_user(c: &mut Db<'_, '_>, id: &AccountId, now: f64) -> R<User> {
    let u = ensure_user(c, id, now)?;
    let row = c.one(
        concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE id = $1 FOR NO KEY UPDATE"
        ),
        &[&u.id],
    )?;
    user_row(&row)
}

fn find_overrides(c: &mut Db<'_, '_>, room: i64, user: i64) -> R<Option<Overrides>> {
    let row = c.opt(
        r#"SELECT banned, read, accessible, write, upload, moderator, admin, visible_mod
           FROM user_permission_overrides WHERE room = $1 AND "user" = $2"#,
        &[&room, &user],
    )?;
    row.as_ref().map(|r| ov_row(r, 0)).transpose()
}

/// Writes an override row, deleting it when it says nothing.
fn write_overrides(c: &mut Db<'_, '_>, room: i64, user: i64, o: &Overrides) -> R<()> {
    if o.is_empty() {
        c.exec(
            r#"DELETE FROM user_permission_overrides WHERE room = $1 AND "user" = $2"#,
            &[&room, &user],
        )?;
    } else {
        c.exec(
            r#"INSERT INTO user_permission_overrides
                   (room, "user", banned, read, accessible, write, upload, moderator, admin,
                    visible_mod)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (room, "user") DO UPDATE SET banned = excluded.banned,
                   read = excluded.read, accessible = excluded.accessible,
                   write = excluded.write, upload = excluded.upload,
                   moderator = excluded.moderator, admin = excluded.admin,
                   visible_mod = excluded.visible_mod"#,
            &[
                &room,
                &user,
                &o.banned,
                &o.read,
                &o.accessible,
                &o.write,
                &o.upload,
                &o.moderator,
                &o.admin,
                &o.visible_mod,
            ],
        )?;
    }
    Ok(())
}

fn permissions_of(c: &mut Db<'_, '_>, room: &Room, user: Option<&User>) -> R<Permissions> {
    let ov = match user {
        Some(u) => find_overrides(c, room.id, u.id)?,
        None => None,
    };
    Ok(resolve_permissions(room.defaults, user, ov.as_ref()))
}

fn bump_sequence(c: &mut Db<'_, '_>, room: i64) -> R<i64> {
    let row = c.one(
        "UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = $1
         RETURNING message_sequence",
        &[&room],
    )?;
    get(&row, 0)
}

fn bump_info(c: &mut Db<'_, '_>, room: i64, by: i64) -> R<i64> {
    let row = c.one(
        "UPDATE rooms SET info_updates = info_updates + $2 WHERE id = $1 RETURNING info_updates",
        &[&room, &by],
    )?;
    get(&row, 0)
}

fn info_updates(c: &mut Db<'_, '_>, room: i64) -> R<i64> {
    let row = c.one("SELECT info_updates FROM rooms WHERE id = $1", &[&room])?;
    get(&row, 0)
}

fn message_not_found(room: &Room, id: i64) -> Fail {
    Fail::Store(StoreError::MessageNotFound {
        room: room.token.clone(),
        id,
    })
}

/// A message of the room (any state) with its author's user id.
fn load_message(c: &mut Db<'_, '_>, room: &Room, id: i64) -> R<(Message, i64)> {
    let row = c.opt(
        concat!(msg_select!(), " WHERE m.room = $1 AND m.id = $2"),
        &[&room.id, &id],
    )?;
    row.as_ref()
        .map(msg_row)
        .transpose()?
        .ok_or_else(|| message_not_found(room, id))
}

/// A regular (not deleted, whisper or filtered) message of the room.
fn load_regular(c: &mut Db<'_, '_>, room: &Room, id: i64) -> R<(Message, i64)> {
    let (m, author) = load_message(c, room, id)?;
    if m.is_deleted() || m.is_whisper() || m.filtered {
        return Err(message_not_found(room, id));
    }
    Ok((m, author))
}

fn message_seqno(c: &mut Db<'_, '_>, id: i64) -> R<i64> {
    let row = c.one("SELECT seqno FROM messages WHERE id = $1", &[&id])?;
    get(&row, 0)
}

fn reactions_of(c: &mut Db<'_, '_>, msg: i64, viewer: i64, reactors: usize) -> R<Vec<Reaction>> {
    let list = c.query(
        r#"SELECT r.id, r.reaction, COUNT(*), bool_or(ur."user" = $2)
           FROM reactions r JOIN user_reactions ur ON ur.reaction = r.id
           WHERE r.message = $1 GROUP BY r.id ORDER BY r.id"#,
        &[&msg, &viewer],
    )?;
    let list = rows(list, |r| {
        Ok((
            get::<i64>(r, 0)?,
            get::<String>(r, 1)?,
            get::<i64>(r, 2)?,
            get::<bool>(r, 3)?,
        ))
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (index, (rid, reaction, n, you)) in list.into_iter().enumerate() {
        let who = if reactors == 0 {
            Vec::new()
        } else {
            let found = c.query(
                r#"SELECT u.session_id FROM user_reactions ur JOIN users u ON u.id = ur."user"
                   WHERE ur.reaction = $1 ORDER BY ur.at, ur.id LIMIT $2"#,
                &[&rid, &sql_limit(reactors)],
            )?;
            rows(found, |r| account(r, 0))?
        };
        out.push(Reaction {
            reaction,
            index,
            count: usize::try_from(n).unwrap_or(0),
            reactors: who,
            you,
        });
    }
    Ok(out)
}

/// The viewer's user id (-1 if anonymous or unknown) and whether they moderate `room`.
fn viewer(c: &mut Db<'_, '_>, room: &Room, opts: &ReadOptions) -> R<(i64, bool)> {
    let user = match &opts.viewer {
        Some(v) => find_user(c, v)?,
        None => None,
    };
    let perms = permissions_of(c, room, user.as_ref())?;
    Ok((user.map_or(-1, |u| u.id), perms.moderator))
}

fn query_messages(
    c: &mut Db<'_, '_>,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    viewer: i64,
    reactors: usize,
) -> R<Vec<Message>> {
    let list = c.query(sql, params)?;
    let list = rows(list, msg_row)?;
    let mut out = Vec::with_capacity(list.len());
    for (mut m, _) in list {
        if !m.is_deleted() {
            m.reactions = reactions_of(c, m.id, viewer, reactors)?;
        }
        out.push(m);
    }
    Ok(out)
}

/// Attaches `files` (the author's unexpired, unattached uploads to the room) to `msg`.
fn attach_files(
    c: &mut Db<'_, '_>,
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
            "UPDATE files SET message = $1, expiry = $2
             WHERE id = $3 AND room = $4 AND uploader = $5 AND message IS NULL
               AND expiry IS NOT NULL AND expiry > $6",
            &[&msg, &expiry, f, &room, &author, &now],
        )?;
    }
    Ok(())
}

/// Turns a message into a tombstone (see the module documentation of the store).
fn delete_in_tx(c: &mut Db<'_, '_>, room: &Room, m: &Message, now: f64) -> R<()> {
    c.exec(
        "INSERT INTO message_history (message, replaced, data, signature)
         SELECT id, $2, data, signature FROM messages WHERE id = $1",
        &[&m.id, &now],
    )?;
    let seq = bump_sequence(c, room.id)?;
    c.exec(
        "UPDATE messages SET data = NULL, signature = NULL, seqno_data = $2, seqno = $2,
             edited = $3 WHERE id = $1",
        &[&m.id, &seq, &now],
    )?;
    c.exec("DELETE FROM reactions WHERE message = $1", &[&m.id])?;
    let unpinned = c.exec(
        "DELETE FROM pinned_messages WHERE room = $1 AND message = $2",
        &[&room.id, &m.id],
    )?;
    if unpinned > 0 {
        bump_info(c, room.id, 1)?;
    }
    c.exec(
        "UPDATE files SET expiry = 0 WHERE message = $1
           AND id IS DISTINCT FROM (SELECT image FROM rooms WHERE id = $2)",
        &[&m.id, &room.id],
    )?;
    Ok(())
}

/// Applies a reaction change to the message's seqnos; returns the new seqno.
fn reaction_changed(c: &mut Db<'_, '_>, room: i64, msg: i64) -> R<i64> {
    let seq = bump_sequence(c, room)?;
    c.exec(
        "UPDATE messages SET seqno_reactions = $2, seqno = $2 WHERE id = $1",
        &[&msg, &seq],
    )?;
    Ok(seq)
}

/// Unpinned files get `uploaded + attached lifetime` (NULL: never), except the room
/// image (which never expires, even when it is also a file of the message).
fn unpin_files(c: &mut Db<'_, '_>, retention: &Retention, room: i64, msg: i64) -> R<()> {
    c.exec(
        "UPDATE files SET expiry = uploaded + $2::DOUBLE PRECISION
         WHERE message = $1 AND id IS DISTINCT FROM (SELECT image FROM rooms WHERE id = $3)",
        &[&msg, &retention.attached_file, &room],
    )?;
    Ok(())
}

fn dm_query(
    c: &mut Db<'_, '_>,
    by_sender: bool,
    user: i64,
    since: Option<i64>,
    limit: usize,
    now: f64,
) -> R<Vec<DirectMessage>> {
    let sql = if by_sender {
        "SELECT i.id, s.session_id, r.session_id, i.body, i.posted_at, i.expiry
         FROM inbox i JOIN users s ON s.id = i.sender JOIN users r ON r.id = i.recipient
         WHERE i.sender = $1 AND i.id > $2 AND i.expiry > $3 ORDER BY i.id LIMIT $4"
    } else {
        "SELECT i.id, s.session_id, r.session_id, i.body, i.posted_at, i.expiry
         FROM inbox i JOIN users s ON s.id = i.sender JOIN users r ON r.id = i.recipient
         WHERE i.recipient = $1 AND i.id > $2 AND i.expiry > $3 ORDER BY i.id LIMIT $4"
    };
    let list = c.query(sql, &[&user, &since.unwrap_or(0), &now, &sql_limit(limit)])?;
    rows(list, |r| {
        Ok(DirectMessage {
            id: get(r, 0)?,
            sender: account(r, 1)?,
            recipient: account(r, 2)?,
            message: get(r, 3)?,
            posted_at: get(r, 4)?,
            expires_at: get(r, 5)?,
        })
    })
}

fn file_size(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

impl SogsStore for PostgresStore {
    fn create_room(&self, room: &NewRoom, now: f64) -> Result<Room> {
        check_token(&room.token)?;
        check_time("now", now)?;
        let exists = || StoreError::RoomExists {
            token: room.token.clone(),
        };
        self.tx(Mode::Write, |c| {
            let taken: bool = get(
                &c.one(
                    "SELECT EXISTS (SELECT 1 FROM rooms WHERE lower(token) = lower($1))",
                    &[&room.token],
                )?,
                0,
            )?;
            if taken {
                return Err(exists().into());
            }
            // A concurrent creation of the same token ends in a unique violation.
            let row = c
                .one(
                    "INSERT INTO rooms (token, name, description, created, read, accessible,
                         write, upload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &room.token,
                        &room.name,
                        &room.description,
                        &now,
                        &room.defaults.read,
                        &room.defaults.accessible,
                        &room.defaults.write,
                        &room.defaults.upload,
                    ],
                )
                .map_err(|e| match e {
                    Fail::Pg(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        Fail::Store(exists())
                    }
                    e => e,
                })?;
            let id: i64 = get(&row, 0)?;
            room_by_id(c, id)
        })
    }

    fn room(&self, token: &str) -> Result<Option<Room>> {
        self.tx(Mode::Read, |c| match room_by_token(c, token) {
            Ok(r) => Ok(Some(r)),
            Err(Fail::Store(StoreError::RoomNotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn rooms(&self) -> Result<Vec<Room>> {
        self.tx(Mode::Read, |c| {
            // SQLite's NOCASE order: by lower-cased token (in the "C" collation).
            let list = c.query(
                concat!(
                    "SELECT ",
                    room_cols!(),
                    " FROM rooms ORDER BY lower(token), token"
                ),
                &[],
            )?;
            rows(list, room_row)
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let mut bumps = 0i64;
            if let Some(name) = &update.name
                && *name != room.name
            {
                c.exec(
                    "UPDATE rooms SET name = $2 WHERE id = $1",
                    &[&room.id, name],
                )?;
                bumps += 1;
            }
            if let Some(d) = &update.description
                && *d != room.description
            {
                c.exec(
                    "UPDATE rooms SET description = $2 WHERE id = $1",
                    &[&room.id, d],
                )?;
                bumps += 1;
            }
            if let Some(image) = update.image
                && image != room.image_id
            {
                if let Some(f) = image {
                    let ok: bool = get(
                        &c.one(
                            "SELECT EXISTS (SELECT 1 FROM files WHERE id = $1 AND room = $2
                                 AND (expiry IS NULL OR expiry > $3))",
                            &[&f, &room.id, &now],
                        )?,
                        0,
                    )?;
                    if !ok {
                        return Err(StoreError::FileNotFound {
                            room: room.token.clone(),
                            id: f,
                        }
                        .into());
                    }
                    c.exec("UPDATE files SET expiry = NULL WHERE id = $1", &[&f])?;
                }
                if let Some(old) = room.image_id {
                    c.exec("UPDATE files SET expiry = 0 WHERE id = $1", &[&old])?;
                }
                c.exec(
                    "UPDATE rooms SET image = $2 WHERE id = $1",
                    &[&room.id, &image],
                )?;
                bumps += 1;
            }
            c.exec(
                "UPDATE rooms SET read = coalesce($2, read), accessible = coalesce($3, accessible),
                     write = coalesce($4, write), upload = coalesce($5, upload) WHERE id = $1",
                &[
                    &room.id,
                    &update.default_read,
                    &update.default_accessible,
                    &update.default_write,
                    &update.default_upload,
                ],
            )?;
            if bumps > 0 {
                bump_info(c, room.id, bumps)?;
            }
            room_by_id(c, room.id)
        })
    }

    fn delete_room(&self, token: &str) -> Result<()> {
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            c.exec("UPDATE rooms SET image = NULL WHERE id = $1", &[&room.id])?;
            c.exec(
                "UPDATE files SET room = NULL, expiry = 0 WHERE room = $1",
                &[&room.id],
            )?;
            c.exec("DELETE FROM rooms WHERE id = $1", &[&room.id])?;
            Ok(())
        })
    }

    fn room_moderators(&self, token: &str) -> Result<Vec<RoomModerator>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let list = c.query(
                r#"SELECT u.session_id, o.admin OR u.admin, o.visible_mod, FALSE
                   FROM user_permission_overrides o JOIN users u ON u.id = o."user"
                   WHERE o.room = $1 AND o.moderator
                   UNION ALL
                   SELECT u.session_id, u.admin, u.visible_mod, TRUE FROM users u
                   WHERE (u.moderator OR u.admin) AND u.id NOT IN
                       (SELECT "user" FROM user_permission_overrides
                        WHERE room = $1 AND moderator)
                   ORDER BY 1"#,
                &[&room.id],
            )?;
            rows(list, |r| {
                Ok(RoomModerator {
                    session_id: account(r, 0)?,
                    admin: get(r, 1)?,
                    visible: get(r, 2)?,
                    global: get(r, 3)?,
                })
            })
        })
    }

    fn record_activity(&self, token: &str, user: &AccountId, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let room = room_by_token(c, token)?;
            let u = ensure_user(c, user, now)?;
            c.exec(
                r#"INSERT INTO room_users (room, "user", last_active) VALUES ($1, $2, $3)
                   ON CONFLICT (room, "user") DO UPDATE SET last_active = excluded.last_active"#,
                &[&room.id, &u.id, &now],
            )?;
            Ok(())
        })
    }

    fn ensure_user(&self, id: &AccountId, now: f64) -> Result<User> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| ensure_user(c, id, now))
    }

    fn user(&self, id: &AccountId) -> Result<Option<User>> {
        self.tx(Mode::Read, |c| find_user(c, id))
    }

    fn touch_user(&self, id: &AccountId, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let n = c.exec(
                "UPDATE users SET last_active = $2 WHERE session_id = $1",
                &[&id.to_hex(), &now],
            )?;
            if n == 0 {
                return Err(user_not_found(id));
            }
            Ok(())
        })
    }

    fn global_moderators(&self) -> Result<Vec<User>> {
        self.tx(Mode::Read, |c| {
            let list = c.query(
                concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE moderator OR admin ORDER BY session_id"
                ),
                &[],
            )?;
            rows(list, user_row)
        })
    }

    fn permissions(&self, token: &str, user: Option<&AccountId>) -> Result<Permissions> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let u = match user {
                Some(id) => find_user(c, id)?,
                None => None,
            };
            permissions_of(c, &room, u.as_ref())
        })
    }

    fn overrides(&self, token: &str, user: &AccountId) -> Result<Option<Overrides>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            match find_user(c, user)? {
                Some(u) => find_overrides(c, room.id, u.id),
                None => Ok(None),
            }
        })
    }

    fn room_overrides(&self, token: &str) -> Result<Vec<(AccountId, Overrides)>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let list = c.query(
                r#"SELECT u.session_id, o.banned, o.read, o.accessible, o.write, o.upload,
                       o.moderator, o.admin, o.visible_mod
                   FROM user_permission_overrides o JOIN users u ON u.id = o."user"
                   WHERE o.room = $1 ORDER BY u.session_id"#,
                &[&room.id],
            )?;
            rows(list, |r| Ok((account(r, 0)?, ov_row(r, 1)?)))
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let u = ensure_user(c, user, now)?;
            let o = find_overrides(c, room.id, u.id)?
                .unwrap_or_else(Overrides::fresh)
                .with_permissions(change);
            write_overrides(c, room.id, u.id, &o)?;
            if change.unschedule {
                for (sql, s) in [
                    (
                        r#"UPDATE user_permission_futures SET read = NULL
                           WHERE room = $1 AND "user" = $2"#,
                        change.read,
                    ),
                    (
                        r#"UPDATE user_permission_futures SET write = NULL
                           WHERE room = $1 AND "user" = $2"#,
                        change.write,
                    ),
                    (
                        r#"UPDATE user_permission_futures SET upload = NULL
                           WHERE room = $1 AND "user" = $2"#,
                        change.upload,
                    ),
                ] {
                    if s != Setting::Keep {
                        c.exec(sql, &[&room.id, &u.id])?;
                    }
                }
                c.exec(
                    r#"DELETE FROM user_permission_futures WHERE room = $1 AND "user" = $2
                         AND read IS NULL AND write IS NULL AND upload IS NULL"#,
                    &[&room.id, &u.id],
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let u = ensure_user(c, user, at)?;
            c.exec(
                r#"INSERT INTO user_permission_futures (room, "user", at, read, write, upload)
                   VALUES ($1, $2, $3, $4, $5, $6)"#,
                &[
                    &room.id,
                    &u.id,
                    &at,
                    &change.read,
                    &change.write,
                    &change.upload,
                ],
            )?;
            Ok(())
        })
    }

    fn future_permissions(
        &self,
        token: &str,
        user: Option<&AccountId>,
    ) -> Result<Vec<FuturePermission>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let uid: i64 = match user {
                Some(id) => match find_user(c, id)? {
                    Some(u) => u.id,
                    None => return Ok(Vec::new()),
                },
                None => -1,
            };
            let list = c.query(
                r#"SELECT u.session_id, f.at, f.read, f.write, f.upload, NULL::BOOLEAN, f.id, 0
                   FROM user_permission_futures f JOIN users u ON u.id = f."user"
                   WHERE f.room = $1 AND ($2::BIGINT = -1 OR f."user" = $2)
                   UNION ALL
                   SELECT u.session_id, b.at, NULL, NULL, NULL, b.banned, b.id, 1
                   FROM user_ban_futures b JOIN users u ON u.id = b."user"
                   WHERE b.room = $1 AND ($2::BIGINT = -1 OR b."user" = $2)
                   ORDER BY 2, 8, 7"#,
                &[&room.id, &uid],
            )?;
            rows(list, |r| {
                Ok(FuturePermission {
                    session_id: account(r, 0)?,
                    at: get(r, 1)?,
                    read: get(r, 2)?,
                    write: get(r, 3)?,
                    upload: get(r, 4)?,
                    banned: get(r, 5)?,
                })
            })
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
        self.tx(Mode::Write, |c| match scope {
            Scope::Global => {
                lock_all_rooms(c)?;
                let u = ensure_locked_user(c, user, now)?;
                let (m, a) = apply_moderator_change(change, u.moderator, u.admin)?;
                let visible = if m {
                    change.visible.unwrap_or(false)
                } else {
                    u.visible_mod
                };
                let banned = u.banned && !m;
                let changed = (m, a, visible) != (u.moderator, u.admin, u.visible_mod);
                c.exec(
                    "UPDATE users SET moderator = $2, admin = $3, visible_mod = $4, banned = $5
                     WHERE id = $1",
                    &[&u.id, &m, &a, &visible, &banned],
                )?;
                if changed {
                    c.exec("UPDATE rooms SET info_updates = info_updates + 1", &[])?;
                }
                let list = c.query(
                    "SELECT token, info_updates FROM rooms ORDER BY lower(token), token",
                    &[],
                )?;
                rows(list, |r| Ok((get(r, 0)?, get(r, 1)?)))
            }
            Scope::Room(token) => {
                let room = lock_room(c, token)?;
                let u = ensure_user(c, user, now)?;
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
        self.tx(Mode::Write, |c| {
            // The room is locked before the user (the lock order); a missing room is
            // reported after the global-moderator check, as the SQLite backend does.
            let room = match scope {
                Scope::Global => Ok(None),
                Scope::Room(token) => match lock_room(c, token) {
                    Ok(r) => Ok(Some(r)),
                    Err(Fail::Store(e)) => Err(e),
                    Err(e) => return Err(e),
                },
            };
            // Locked: a concurrent promotion to global moderator waits for the ban.
            let u = ensure_locked_user(c, user, now)?;
            if u.moderator || u.admin {
                return Err(StoreError::Invalid {
                    what: "ban",
                    reason: format!("{user} is a global moderator and cannot be banned"),
                }
                .into());
            }
            let room = room?;
            let room_id = match room {
                None => {
                    c.exec("UPDATE users SET banned = TRUE WHERE id = $1", &[&u.id])?;
                    c.exec(
                        r#"DELETE FROM user_ban_futures WHERE room IS NULL AND "user" = $1"#,
                        &[&u.id],
                    )?;
                    None
                }
                Some(room) => {
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
                        r#"DELETE FROM room_users WHERE room = $1 AND "user" = $2"#,
                        &[&room.id, &u.id],
                    )?;
                    c.exec(
                        r#"DELETE FROM user_ban_futures WHERE room = $1 AND "user" = $2"#,
                        &[&room.id, &u.id],
                    )?;
                    Some(room.id)
                }
            };
            if let Some(t) = timeout {
                c.exec(
                    r#"INSERT INTO user_ban_futures (room, "user", at, banned)
                       VALUES ($1, $2, $3, FALSE)"#,
                    &[&room_id, &u.id, &(now + t)],
                )?;
            }
            Ok(())
        })
    }

    fn unban(&self, scope: Scope<'_>, user: &AccountId) -> Result<()> {
        self.tx(Mode::Write, |c| {
            let room = match scope {
                Scope::Room(token) => Some(lock_room(c, token)?),
                Scope::Global => None,
            };
            let Some(u) = find_user(c, user)? else {
                return Ok(());
            };
            match room {
                None => {
                    c.exec("UPDATE users SET banned = FALSE WHERE id = $1", &[&u.id])?;
                    c.exec(
                        r#"DELETE FROM user_ban_futures WHERE room IS NULL AND "user" = $1"#,
                        &[&u.id],
                    )?;
                }
                Some(room) => {
                    if let Some(mut o) = find_overrides(c, room.id, u.id)? {
                        o.banned = false;
                        write_overrides(c, room.id, u.id, &o)?;
                    }
                    c.exec(
                        r#"DELETE FROM user_ban_futures WHERE room = $1 AND "user" = $2"#,
                        &[&room.id, &u.id],
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let author = existing_user(c, &post.author)?;
            let whisper = match &post.whisper_to {
                Some(w) => Some(ensure_user(c, w, now)?.id),
                None => None,
            };
            let seq = bump_sequence(c, room.id)?;
            let row = c.one(
                r#"INSERT INTO messages (room, "user", posted, seqno, seqno_data, seqno_creation,
                       data, signature, filtered, whisper, whisper_mods)
                   VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7, $8, $9) RETURNING id"#,
                &[
                    &room.id,
                    &author.id,
                    &now,
                    &seq,
                    &post.data,
                    &post.signature.as_slice(),
                    &post.filtered,
                    &whisper,
                    &post.whisper_mods,
                ],
            )?;
            let id: i64 = get(&row, 0)?;
            attach_files(c, &self.retention, room.id, author.id, id, &post.files, now)?;
            Ok(load_message(c, &room, id)?.0)
        })
    }

    fn posts_since(&self, token: &str, user: &AccountId, since: f64) -> Result<usize> {
        check_time("since", since)?;
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let Some(u) = find_user(c, user)? else {
                return Ok(0);
            };
            let n: i64 = get(
                &c.one(
                    r#"SELECT COUNT(*) FROM messages
                       WHERE room = $1 AND "user" = $2 AND posted >= $3"#,
                    &[&room.id, &u.id, &since],
                )?,
                0,
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn edit_message(&self, token: &str, id: i64, edit: &MessageEdit, now: f64) -> Result<Message> {
        check_time("now", now)?;
        if edit.data.is_empty() {
            return Err(StoreError::Invalid {
                what: "message data",
                reason: "it is empty".into(),
            });
        }
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let (m, author) = load_message(c, &room, id)?;
            if m.is_deleted() {
                return Err(message_not_found(&room, id));
            }
            if m.session_id != edit.editor {
                return Err(StoreError::NotAuthor { id }.into());
            }
            c.exec(
                "INSERT INTO message_history (message, replaced, data, signature)
                 SELECT id, $2, data, signature FROM messages WHERE id = $1",
                &[&id, &now],
            )?;
            let seq = bump_sequence(c, room.id)?;
            c.exec(
                "UPDATE messages SET data = $2, signature = $3, seqno_data = $4, seqno = $4,
                     edited = $5 WHERE id = $1",
                &[&id, &edit.data, &edit.signature.as_slice(), &seq, &now],
            )?;
            attach_files(c, &self.retention, room.id, author, id, &edit.files, now)?;
            let (mut m, _) = load_message(c, &room, id)?;
            m.reactions = reactions_of(c, id, author, 0)?;
            Ok(m)
        })
    }

    fn delete_message(&self, token: &str, id: i64, now: f64) -> Result<()> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let (m, _) = load_message(c, &room, id)?;
            if m.is_deleted() {
                return Err(message_not_found(&room, id));
            }
            delete_in_tx(c, &room, &m, now)
        })
    }

    fn delete_user_messages(&self, token: &str, user: &AccountId, now: f64) -> Result<usize> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let u = existing_user(c, user)?;
            let list = c.query(
                concat!(
                    msg_select!(),
                    r#" WHERE m.room = $1 AND m."user" = $2 AND m.data IS NOT NULL ORDER BY m.id"#
                ),
                &[&room.id, &u.id],
            )?;
            let list = rows(list, msg_row)?;
            for (m, _) in &list {
                delete_in_tx(c, &room, m, now)?;
            }
            c.exec(
                "UPDATE files SET expiry = 0 WHERE room = $1 AND uploader = $2
                   AND id IS DISTINCT FROM (SELECT image FROM rooms WHERE id = $1)",
                &[&room.id, &u.id],
            )?;
            Ok(list.len())
        })
    }

    fn message(&self, token: &str, id: i64, opts: &ReadOptions) -> Result<Option<Message>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            let list = query_messages(
                c,
                concat!(
                    msg_select!(),
                    " WHERE m.room = $1 AND m.id = $4 AND m.data IS NOT NULL AND ",
                    visible!()
                ),
                &[&room.id, &uid, &is_mod, &id],
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
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            query_messages(
                c,
                concat!(
                    msg_select!(),
                    " WHERE m.room = $1 AND m.seqno > $4 AND ",
                    visible!(),
                    " AND (m.data IS NOT NULL OR m.seqno_creation <= $4)
                      AND ($5 OR m.seqno_data > $4)
                    ORDER BY m.seqno LIMIT $6"
                ),
                &[
                    &room.id,
                    &uid,
                    &is_mod,
                    &since,
                    &with_reactions,
                    &sql_limit(limit),
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
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let (uid, is_mod) = viewer(c, &room, opts)?;
            query_messages(
                c,
                concat!(
                    msg_select!(),
                    " WHERE m.room = $1 AND m.data IS NOT NULL AND ",
                    visible!(),
                    " AND m.id < $4 ORDER BY m.id DESC LIMIT $5"
                ),
                &[
                    &room.id,
                    &uid,
                    &is_mod,
                    &before.unwrap_or(i64::MAX),
                    &sql_limit(limit),
                ],
                uid,
                opts.reactors,
            )
        })
    }

    fn message_history(&self, token: &str, id: i64) -> Result<Vec<HistoryEntry>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            load_message(c, &room, id)?;
            let list = c.query(
                "SELECT replaced, data, signature FROM message_history WHERE message = $1
                 ORDER BY replaced, id",
                &[&id],
            )?;
            rows(list, |r| {
                Ok(HistoryEntry {
                    replaced: get(r, 0)?,
                    data: get(r, 1)?,
                    signature: signature(r, 2)?,
                })
            })
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            load_regular(c, &room, id)?;
            let u = ensure_user(c, user, now)?;
            c.exec(
                "INSERT INTO reactions (message, reaction) VALUES ($1, $2)
                 ON CONFLICT (message, reaction) DO NOTHING",
                &[&id, &reaction],
            )?;
            let rid: i64 = get(
                &c.one(
                    "SELECT id FROM reactions WHERE message = $1 AND reaction = $2",
                    &[&id, &reaction],
                )?,
                0,
            )?;
            let added = c.exec(
                r#"INSERT INTO user_reactions (reaction, "user", at) VALUES ($1, $2, $3)
                   ON CONFLICT (reaction, "user") DO NOTHING"#,
                &[&rid, &u.id, &now],
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            load_regular(c, &room, id)?;
            let removed = match find_user(c, user)? {
                Some(u) => {
                    c.exec(
                        r#"DELETE FROM user_reactions WHERE "user" = $3 AND reaction =
                               (SELECT id FROM reactions WHERE message = $1 AND reaction = $2)"#,
                        &[&id, &reaction, &u.id],
                    )? > 0
                }
                None => false,
            };
            let seqno = if removed {
                c.exec(
                    "DELETE FROM reactions WHERE message = $1 AND reaction = $2
                       AND NOT EXISTS (SELECT 1 FROM user_reactions WHERE reaction = reactions.id)",
                    &[&id, &reaction],
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            load_message(c, &room, id)?;
            let removed = c.exec(
                "DELETE FROM user_reactions WHERE reaction IN
                     (SELECT id FROM reactions WHERE message = $1
                        AND ($2::TEXT IS NULL OR reaction = $2::TEXT))",
                &[&id, &reaction],
            )?;
            c.exec(
                "DELETE FROM reactions WHERE message = $1
                   AND ($2::TEXT IS NULL OR reaction = $2::TEXT)",
                &[&id, &reaction],
            )?;
            let seqno = if removed > 0 {
                reaction_changed(c, room.id, id)?
            } else {
                message_seqno(c, id)?
            };
            Ok((count(removed), seqno))
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
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            load_regular(c, &room, id)?;
            // LIMIT NULL: no limit.
            let list = c.query(
                r#"SELECT u.session_id, ur.at FROM user_reactions ur
                   JOIN reactions r ON r.id = ur.reaction JOIN users u ON u.id = ur."user"
                   WHERE r.message = $1 AND r.reaction = $2 ORDER BY ur.at, ur.id LIMIT $3"#,
                &[&id, &reaction, &limit.map(sql_limit)],
            )?;
            rows(list, |r| Ok((account(r, 0)?, get(r, 1)?)))
        })
    }

    fn pin(&self, token: &str, id: i64, by: &AccountId, now: f64) -> Result<i64> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            load_regular(c, &room, id)?;
            let u = ensure_user(c, by, now)?;
            c.exec(
                "INSERT INTO pinned_messages (room, message, pinned_by, pinned_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (room, message) DO UPDATE SET pinned_by = excluded.pinned_by,
                     pinned_at = excluded.pinned_at",
                &[&room.id, &id, &u.id, &now],
            )?;
            c.exec("UPDATE files SET expiry = NULL WHERE message = $1", &[&id])?;
            bump_info(c, room.id, 1)
        })
    }

    fn unpin(&self, token: &str, id: i64) -> Result<(bool, i64)> {
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let removed = c.exec(
                "DELETE FROM pinned_messages WHERE room = $1 AND message = $2",
                &[&room.id, &id],
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
        self.tx(Mode::Write, |c| {
            let room = lock_room(c, token)?;
            let list = c.query(
                "SELECT message FROM pinned_messages WHERE room = $1",
                &[&room.id],
            )?;
            let ids = rows(list, |r| get::<i64>(r, 0))?;
            for id in &ids {
                unpin_files(c, &self.retention, room.id, *id)?;
            }
            c.exec("DELETE FROM pinned_messages WHERE room = $1", &[&room.id])?;
            let info = if ids.is_empty() {
                info_updates(c, room.id)?
            } else {
                bump_info(c, room.id, i64::try_from(ids.len()).unwrap_or(i64::MAX))?
            };
            Ok((ids.len(), info))
        })
    }

    fn pins(&self, token: &str) -> Result<Vec<Pin>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let list = c.query(
                "SELECT p.message, p.pinned_at, u.session_id FROM pinned_messages p
                 JOIN users u ON u.id = p.pinned_by WHERE p.room = $1
                 ORDER BY p.pinned_at, p.message",
                &[&room.id],
            )?;
            rows(list, |r| {
                Ok(Pin {
                    id: get(r, 0)?,
                    pinned_at: get(r, 1)?,
                    pinned_by: account(r, 2)?,
                })
            })
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
        self.tx(Mode::Write, |c| {
            let room = room_by_token(c, token)?;
            let u = existing_user(c, uploader)?;
            let row = c.one(
                "INSERT INTO files (room, uploader, size, uploaded, expiry, filename, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &room.id,
                    &u.id,
                    &file_size(data.len()),
                    &now,
                    &(now + self.retention.unattached_file),
                    &filename,
                    &data,
                ],
            )?;
            get(&row, 0)
        })
    }

    fn file(&self, token: &str, id: i64, now: f64) -> Result<Option<StoredFile>> {
        self.tx(Mode::Read, |c| {
            let room = room_by_token(c, token)?;
            let row = c.opt(
                "SELECT f.id, u.session_id, f.message, f.size, f.uploaded, f.expiry, f.filename,
                     f.data
                 FROM files f JOIN users u ON u.id = f.uploader
                 WHERE f.id = $1 AND f.room = $2 AND (f.expiry IS NULL OR f.expiry > $3)",
                &[&id, &room.id, &now],
            )?;
            row.map(|r| {
                Ok(StoredFile {
                    id: get(&r, 0)?,
                    room: room.token.clone(),
                    uploader: account(&r, 1)?,
                    message: get(&r, 2)?,
                    size: usize::try_from(get::<i64>(&r, 3)?).unwrap_or(0),
                    uploaded: get(&r, 4)?,
                    expiry: get(&r, 5)?,
                    filename: get(&r, 6)?,
                    data: get(&r, 7)?,
                })
            })
            .transpose()
        })
    }

    fn use_nonce(&self, user: &AccountId, nonce: &[u8; 16], now: f64) -> Result<bool> {
        check_time("now", now)?;
        self.tx(Mode::Write, |c| {
            let u = ensure_user(c, user, now)?;
            let n = c.exec(
                r#"INSERT INTO user_request_nonces ("user", nonce, expiry) VALUES ($1, $2, $3)
                   ON CONFLICT (nonce) DO NOTHING"#,
                &[&u.id, &nonce.as_slice(), &(now + self.retention.nonce)],
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
        self.tx(Mode::Write, |c| {
            let s = existing_user(c, sender)?;
            let r = existing_user(c, recipient)?;
            if r.banned {
                return Err(user_not_found(recipient));
            }
            let expires_at = now + self.retention.direct_message;
            let row = c.one(
                "INSERT INTO inbox (recipient, sender, body, posted_at, expiry)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&r.id, &s.id, &message, &now, &expires_at],
            )?;
            Ok(DirectMessage {
                id: get(&row, 0)?,
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
        self.tx(Mode::Read, |c| match find_user(c, recipient)? {
            Some(u) => dm_query(c, false, u.id, since, limit, now),
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
        self.tx(Mode::Read, |c| match find_user(c, sender)? {
            Some(u) => dm_query(c, true, u.id, since, limit, now),
            None => Ok(Vec::new()),
        })
    }

    fn delete_inbox(&self, recipient: &AccountId) -> Result<usize> {
        self.tx(Mode::Write, |c| match find_user(c, recipient)? {
            Some(u) => Ok(count(
                c.exec("DELETE FROM inbox WHERE recipient = $1", &[&u.id])?,
            )),
            None => Ok(0),
        })
    }

    fn cleanup(&self, now: f64) -> Result<CleanupCounts> {
        check_time("now", now)?;
        let ret = self.retention;
        self.tx(Mode::Write, |c| {
            lock_all_rooms(c)?;
            let mut counts = CleanupCounts::default();
            // Scheduled permission changes.
            let due = c.query(
                r#"SELECT id, room, "user", read, write, upload FROM user_permission_futures
                   WHERE at <= $1 ORDER BY at, id"#,
                &[&now],
            )?;
            let due = rows(due, |r| {
                Ok((
                    get::<i64>(r, 0)?,
                    get::<i64>(r, 1)?,
                    get::<i64>(r, 2)?,
                    get::<Option<bool>>(r, 3)?,
                    get::<Option<bool>>(r, 4)?,
                    get::<Option<bool>>(r, 5)?,
                ))
            })?;
            for (id, room, user, read, write, upload) in due {
                let d = room_by_id(c, room)?.defaults;
                let o = find_overrides(c, room, user)?
                    .unwrap_or_else(Overrides::fresh)
                    .with_scheduled(read, write, upload, &d);
                write_overrides(c, room, user, &o)?;
                c.exec("DELETE FROM user_permission_futures WHERE id = $1", &[&id])?;
                counts.permission_changes += 1;
            }
            // Scheduled (un)bans.
            let due = c.query(
                r#"SELECT id, room, "user", banned FROM user_ban_futures WHERE at <= $1
                   ORDER BY at, id"#,
                &[&now],
            )?;
            let due = rows(due, |r| {
                Ok((
                    get::<i64>(r, 0)?,
                    get::<Option<i64>>(r, 1)?,
                    get::<i64>(r, 2)?,
                    get::<bool>(r, 3)?,
                ))
            })?;
            for (id, room, user, banned) in due {
                match room {
                    None => {
                        c.exec(
                            "UPDATE users SET banned = $2 WHERE id = $1
                               AND NOT ($2 AND (moderator OR admin))",
                            &[&user, &banned],
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
                c.exec("DELETE FROM user_ban_futures WHERE id = $1", &[&id])?;
                counts.ban_changes += 1;
            }
            counts.files = count(c.exec(
                "DELETE FROM files WHERE expiry IS NOT NULL AND expiry <= $1",
                &[&now],
            )?);
            counts.history = count(c.exec(
                "DELETE FROM message_history WHERE replaced < $1",
                &[&(now - ret.history)],
            )?);
            counts.direct_messages =
                count(c.exec("DELETE FROM inbox WHERE expiry <= $1", &[&now])?);
            counts.nonces = count(c.exec(
                "DELETE FROM user_request_nonces WHERE expiry <= $1",
                &[&now],
            )?);
            counts.room_activity = count(c.exec(
                "DELETE FROM room_users WHERE last_active < $1",
                &[&(now - ret.activity_kept)],
            )?);
            c.exec(
                "UPDATE rooms SET active_users = (SELECT COUNT(*) FROM room_users
                     WHERE room = rooms.id AND last_active >= $1)",
                &[&(now - ret.active_window)],
            )?;
            Ok(counts)
        })
    }
}
