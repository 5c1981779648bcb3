//! The community server's persistence (community-server spec §8), behind the
//! [`SogsStore`] trait: rooms, users, messages (seqno-ordered posts, edits, deletions,
//! whispers, reactions, pins), room files, moderation (bans, moderators and admins,
//! per-user permission overrides and scheduled changes), request nonces and the blinded
//! DM inbox. Backends: SQLite ([`SqliteStore`], one file `sogs.db` in the data
//! directory, mode 0600; the default) and PostgreSQL ([`PostgresStore`], `database_url =
//! "postgres://…"`); nothing in the trait names either. Every backend must pass the
//! conformance suite (`conformance.rs`, run by the unit tests on SQLite, and on
//! PostgreSQL when `SESSION_TEST_POSTGRES_URL` names a server, as `scripts/test` does).
//!
//! # Why a synchronous trait
//!
//! As for the client store: each method is a handful of indexed statements in one
//! transaction. Plain `fn`s over `&self` keep the trait dyn-compatible
//! (`Arc<dyn SogsStore>`); an async server calls them in `spawn_blocking`.
//!
//! # Time
//!
//! Time is always passed in as `now: f64`, **Unix seconds** — the unit PySOGS stores
//! (`REAL` columns) and the JSON carries (`posted`, `edited`, `pinned_at`, …). The store
//! never reads a clock. A non-finite or negative time is refused with
//! [`StoreError::Invalid`].
//!
//! # Semantics (PySOGS's schema triggers, done in transactions here)
//!
//! * **Sequence numbers.** Each room has one counter, `message_sequence`, shared by
//!   posts, edits, deletions and reaction changes. A post takes the next value as its
//!   `seqno_creation`, `seqno_data` and `seqno`; an edit or deletion takes the next value
//!   as `seqno_data`; a reaction change (add, remove, clear) takes the next value as
//!   `seqno_reactions`. A message's `seqno` is the largest of them, so
//!   `message_sequence` is the largest seqno ever handed out in the room. (PySOGS bumps
//!   once per removed reaction row when a deletion or a moderator clear drops several;
//!   this store bumps once per operation. Clients only rely on monotonicity.)
//! * **Edits** keep the replaced data and signature in the message history (pruned by
//!   [`SogsStore::cleanup`] after [`Retention::history`]) and set `edited`.
//! * **Deletions** keep the row as a tombstone: data and signature become `None`,
//!   `edited` is set, reactions are dropped, the message is unpinned, and its files
//!   expire at once (`expiry = 0`). Messages themselves are never pruned.
//! * **`info_updates`** goes up by one for each changed name, description or image, for
//!   each change of a room moderator/admin row, for every room on any global
//!   moderator/admin change, and for each pin, re-pin or unpin. Default-permission
//!   changes do not count.
//! * **Files** live in the store (bytes included). A new upload expires after
//!   [`Retention::unattached_file`]; attaching it to a post (by its uploader, in its
//!   room, before it expired) moves the expiry to [`Retention::attached_file`] from then
//!   (`None`: never); pinning makes a message's files non-expiring, unpinning gives them
//!   `uploaded + attached_file`; the room image never expires and the previous image
//!   expires at once; deleting a room expires its files. A file whose expiry has passed
//!   is not returned even before cleanup removes it.
//! * **Permissions** (§7): see [`resolve_permissions`].
//! * **Nonces** are single use server-wide for [`Retention::nonce`].
//! * **DMs** expire after [`Retention::direct_message`]; expired ones are not returned
//!   even before cleanup removes them.
//! * **Cleanup** ([`SogsStore::cleanup`], every 10 s in PySOGS) applies due scheduled
//!   permission changes and unbans, prunes expired files, DMs and nonces, old edit
//!   history and old room activity, and recomputes every room's `active_users`.
//!
//! Neither `Debug` of a message, a file nor a DM prints its contents.

use std::fmt;

use session_crypto::AccountId;
use thiserror::Error;

pub mod postgres;
pub mod sqlite;
#[doc(hidden)]
pub mod testing;

#[cfg(test)]
mod conformance;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

thread_local! {
    /// Set while [`blocking_section`] runs on this thread.
    static BLOCKING_SECTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, telling the store that this thread may block even though it belongs to a
/// Tokio runtime: it is a `spawn_blocking` thread, not one driving async tasks. Backends
/// that drive a runtime of their own (PostgreSQL's client) then run in place instead of
/// on a helper thread started per call. Calling it from an async task is a bug (that
/// task's thread would block).
pub fn blocking_section<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BLOCKING_SECTION.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BLOCKING_SECTION.with(|b| b.replace(true)));
    f()
}

/// Whether this thread is inside [`blocking_section`].
fn on_blocking_thread() -> bool {
    BLOCKING_SECTION.with(std::cell::Cell::get)
}

/// Opens the store a configuration names: `database_url` `postgres://…` or
/// `postgresql://…` → [`PostgresStore`]; `sqlite:///path` → that SQLite file; absent →
/// `sogs.db` in `data_dir` ([`SqliteStore`]).
pub fn open_database(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
    retention: Retention,
) -> Result<std::sync::Arc<dyn SogsStore>> {
    match database_url {
        None => Ok(std::sync::Arc::new(SqliteStore::open(data_dir, retention)?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(std::sync::Arc::new(PostgresStore::connect(url, retention)?))
        }
        Some(url) => match url.strip_prefix("sqlite://") {
            Some(path) => Ok(std::sync::Arc::new(SqliteStore::open_file(
                std::path::Path::new(path),
                retention,
            )?)),
            None => Err(StoreError::Invalid {
                what: "database_url",
                reason: format!(
                    "{url:?} is neither sqlite:///path/to/sogs.db nor postgres://user@host/db"
                ),
            }),
        },
    }
}

/// The result type of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The longest room token.
pub const MAX_TOKEN_LEN: usize = 64;

/// The most Unicode code points in a reaction.
pub const MAX_REACTION_CHARS: usize = 12;

/// A day, in seconds.
pub const DAY: f64 = 86_400.0;

/// Everything that can go wrong in the community server's store.
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
    /// The file is not a community-server database (garbage, damaged, or another
    /// program's database).
    #[error(
        "{path} is not a Session community server database or is damaged ({detail}); move \
         it aside (rename it) to start with an empty server, or restore it from a backup"
    )]
    NotADatabase {
        /// The database file.
        path: String,
        /// What the store found.
        detail: String,
    },
    /// The database was written by a newer version of this program.
    #[error(
        "{path} has schema version {found}, but this build of session understands only up \
         to version {supported}; upgrade session to open it"
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
    #[error("database {path}: {detail}")]
    Database {
        /// The database file (or URL without credentials).
        path: String,
        /// The backend's error.
        detail: String,
    },
    /// No room has this token.
    #[error("no room with token {token:?}")]
    RoomNotFound {
        /// The token asked for.
        token: String,
    },
    /// A room with this token (compared case-insensitively) exists already.
    #[error("a room with token {token:?} exists already (tokens are case-insensitive)")]
    RoomExists {
        /// The token asked for.
        token: String,
    },
    /// No such message in the room (or it is deleted, or not a regular message where
    /// one is needed).
    #[error("no such message {id} in room {room:?}")]
    MessageNotFound {
        /// The room token.
        room: String,
        /// The message id.
        id: i64,
    },
    /// No such (unexpired) file in the room.
    #[error("no such file {id} in room {room:?}")]
    FileNotFound {
        /// The room token.
        room: String,
        /// The file id.
        id: i64,
    },
    /// The server has no user with this id.
    #[error("no user {session_id} on this server")]
    UserNotFound {
        /// The Session ID asked for.
        session_id: String,
    },
    /// Only the author may edit a message.
    #[error("message {id} was posted by someone else; only its author may edit it")]
    NotAuthor {
        /// The message id.
        id: i64,
    },
    /// An argument the store refuses (bad token, bad time, empty change, …).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// How long things live, in seconds (PySOGS's configuration defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    /// An upload not attached to a post (1 hour).
    pub unattached_file: f64,
    /// An attached upload, from attachment (15 days, `[files] expiry`); `None`: never.
    pub attached_file: Option<f64>,
    /// A blinded DM (15 days, `[direct_messages] expiry`).
    pub direct_message: f64,
    /// Edit/deletion history (30 days, `[messages] history_prune_threshold`).
    pub history: f64,
    /// A used request nonce (1 day; the timestamp window is ±1 day).
    pub nonce: f64,
    /// The `active_users` window (7 days, `[rooms] active_threshold`).
    pub active_window: f64,
    /// How long room activity rows are kept (60 days, `[rooms] active_prune_threshold`).
    pub activity_kept: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            unattached_file: 3600.0,
            attached_file: Some(15.0 * DAY),
            direct_message: 15.0 * DAY,
            history: 30.0 * DAY,
            nonce: DAY,
            active_window: 7.0 * DAY,
            activity_kept: 60.0 * DAY,
        }
    }
}

/// A room's default permissions (all true for new rooms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomDefaults {
    /// Anyone may read messages.
    pub read: bool,
    /// Anyone may see the room's info even without `read`.
    pub accessible: bool,
    /// Anyone may post.
    pub write: bool,
    /// Anyone may upload files.
    pub upload: bool,
}

impl Default for RoomDefaults {
    fn default() -> Self {
        Self {
            read: true,
            accessible: true,
            write: true,
            upload: true,
        }
    }
}

/// A room (the stored part of §6.1's room info; moderators and pins have their own
/// methods, per-caller permissions come from [`SogsStore::permissions`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    /// Internal id.
    pub id: i64,
    /// The token, in its stored case.
    pub token: String,
    /// Display name.
    pub name: String,
    /// Description (`None`: omitted from the JSON).
    pub description: Option<String>,
    /// The room image: a file of this room.
    pub image_id: Option<i64>,
    /// Creation time.
    pub created: f64,
    /// The highest seqno handed out in the room.
    pub message_sequence: i64,
    /// Bumped on every info change clients must refetch.
    pub info_updates: i64,
    /// Users active within [`Retention::active_window`], as of the last cleanup.
    pub active_users: i64,
    /// The default permissions.
    pub defaults: RoomDefaults,
}

/// A room to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRoom {
    /// `[A-Za-z0-9_-]{1,64}`, unique case-insensitively.
    pub token: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Default permissions.
    pub defaults: RoomDefaults,
}

/// A change of room info (`PUT /room/{t}`, CLI). `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)`: remove it).
    pub description: Option<Option<String>>,
    /// New image: a file id of this room (`Some(None)`: remove the image).
    pub image: Option<Option<i64>>,
    /// New default `read`.
    pub default_read: Option<bool>,
    /// New default `accessible`.
    pub default_accessible: Option<bool>,
    /// New default `write`.
    pub default_write: Option<bool>,
    /// New default `upload`.
    pub default_upload: Option<bool>,
}

impl RoomUpdate {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.image.is_none()
            && self.default_read.is_none()
            && self.default_accessible.is_none()
            && self.default_write.is_none()
            && self.default_upload.is_none()
    }
}

/// A user known to the server.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Internal id.
    pub id: i64,
    /// The Session ID (`05…`) or blinded ID (`15…`) exactly as presented.
    pub session_id: AccountId,
    /// First seen.
    pub created: f64,
    /// Last authenticated request.
    pub last_active: f64,
    /// Globally banned.
    pub banned: bool,
    /// Global moderator.
    pub moderator: bool,
    /// Global admin (implies moderator).
    pub admin: bool,
    /// Whether a global moderator is listed publicly.
    pub visible_mod: bool,
}

/// A user's override row in one room (§8 `user_permission_overrides`): `None` = use
/// the room default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Banned from the room.
    pub banned: bool,
    /// Read override.
    pub read: Option<bool>,
    /// Accessible override.
    pub accessible: Option<bool>,
    /// Write override.
    pub write: Option<bool>,
    /// Upload override.
    pub upload: Option<bool>,
    /// Room moderator.
    pub moderator: bool,
    /// Room admin (implies moderator).
    pub admin: bool,
    /// Whether a room moderator is listed publicly.
    pub visible_mod: bool,
}

impl Overrides {
    /// The row of a user who has none yet (a moderator made later is listed publicly by
    /// default).
    pub(crate) fn fresh() -> Self {
        Self {
            visible_mod: true,
            ..Self::default()
        }
    }

    /// `change` applied to the read/accessible/write/upload overrides.
    pub(crate) fn with_permissions(mut self, change: &PermissionChange) -> Self {
        self.read = change.read.apply(self.read);
        self.accessible = change.accessible.apply(self.accessible);
        self.write = change.write.apply(self.write);
        self.upload = change.upload.apply(self.upload);
        self
    }

    /// A due scheduled change applied: a value equal to the room default clears the
    /// override instead of setting it.
    pub(crate) fn with_scheduled(
        mut self,
        read: Option<bool>,
        write: Option<bool>,
        upload: Option<bool>,
        defaults: &RoomDefaults,
    ) -> Self {
        let pick = |v: Option<bool>, cur: Option<bool>, def: bool| match v {
            Some(v) if v == def => None,
            Some(v) => Some(v),
            None => cur,
        };
        self.read = pick(read, self.read, defaults.read);
        self.write = pick(write, self.write, defaults.write);
        self.upload = pick(upload, self.upload, defaults.upload);
        self
    }

    /// A room moderator change applied (making someone a moderator lifts their ban and
    /// sets their visibility); also whether the room's moderator list changed (then its
    /// `info_updates` goes up).
    pub(crate) fn with_moderator_change(self, change: &ModeratorChange) -> Result<(Self, bool)> {
        let (moderator, admin) = apply_moderator_change(change, self.moderator, self.admin)?;
        let mut o = self;
        o.moderator = moderator;
        o.admin = admin;
        if moderator {
            o.banned = false;
            o.visible_mod = change.visible.unwrap_or(true);
        }
        let listed = |x: &Self| (x.moderator, x.admin, x.visible_mod);
        Ok((o, listed(&o) != listed(&self)))
    }

    /// Whether the row says nothing (such rows are deleted).
    pub fn is_empty(&self) -> bool {
        !self.banned
            && self.read.is_none()
            && self.accessible.is_none()
            && self.write.is_none()
            && self.upload.is_none()
            && !self.moderator
            && !self.admin
    }
}

/// A caller's effective permissions in a room (§7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Banned (room or global); a banned user has no permission.
    pub banned: bool,
    /// May read messages.
    pub read: bool,
    /// May see the room (read implies accessible).
    pub accessible: bool,
    /// May post.
    pub write: bool,
    /// May upload (requires write).
    pub upload: bool,
    /// Moderator (room or global).
    pub moderator: bool,
    /// Admin (room or global).
    pub admin: bool,
    /// Global moderator (or admin).
    pub global_moderator: bool,
    /// Global admin.
    pub global_admin: bool,
}

/// §7's resolution: global moderators and admins are moderators/admins everywhere; a
/// moderator may do everything; a banned (room or global) user nothing; otherwise each
/// permission is the user's non-`None` override, else the room default; `read` implies
/// `accessible`; `upload` needs `write`. Anonymous callers (`user: None`) get the
/// defaults.
pub fn resolve_permissions(
    defaults: RoomDefaults,
    user: Option<&User>,
    ov: Option<&Overrides>,
) -> Permissions {
    let global_moderator = user.is_some_and(|u| u.moderator || u.admin);
    let global_admin = user.is_some_and(|u| u.admin);
    let admin = global_admin || ov.is_some_and(|o| o.admin);
    let moderator = admin || global_moderator || ov.is_some_and(|o| o.moderator);
    if moderator {
        return Permissions {
            banned: false,
            read: true,
            accessible: true,
            write: true,
            upload: true,
            moderator,
            admin,
            global_moderator,
            global_admin,
        };
    }
    let banned = user.is_some_and(|u| u.banned) || ov.is_some_and(|o| o.banned);
    if banned {
        return Permissions {
            banned,
            ..Permissions::default()
        };
    }
    let pick = |o: Option<bool>, d: bool| o.unwrap_or(d);
    let read = pick(ov.and_then(|o| o.read), defaults.read);
    let accessible = read || pick(ov.and_then(|o| o.accessible), defaults.accessible);
    let write = pick(ov.and_then(|o| o.write), defaults.write);
    let upload = write && pick(ov.and_then(|o| o.upload), defaults.upload);
    Permissions {
        banned,
        read,
        accessible,
        write,
        upload,
        ..Permissions::default()
    }
}

/// A change of one permission override.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Setting {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Override with this value.
    Set(bool),
    /// Remove the override (use the room default).
    Clear,
}

impl Setting {
    /// The override after this change.
    pub(crate) fn apply(self, current: Option<bool>) -> Option<bool> {
        match self {
            Self::Keep => current,
            Self::Set(v) => Some(v),
            Self::Clear => None,
        }
    }
}

/// A change of a user's permission overrides in a room
/// (`POST /room/{t}/permissions/{sid}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermissionChange {
    /// `read`.
    pub read: Setting,
    /// `accessible`.
    pub accessible: Setting,
    /// `write`.
    pub write: Setting,
    /// `upload`.
    pub upload: Setting,
    /// Also drop scheduled changes of each of read/write/upload being set (PySOGS's
    /// `unschedule`, default true).
    pub unschedule: bool,
}

impl PermissionChange {
    /// Refuses a change that changes nothing.
    pub(crate) fn check(&self) -> Result<()> {
        let settings = [self.read, self.accessible, self.write, self.upload];
        if settings.iter().all(|s| *s == Setting::Keep) {
            return Err(StoreError::Invalid {
                what: "permission change",
                reason: "none of read, accessible, write, upload is changed".into(),
            });
        }
        Ok(())
    }
}

/// Permission changes to schedule (`POST /room/{t}/futurePermissions/{sid}`); at least
/// one must be given. When applied, a value equal to the room default clears the
/// override instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduledChange {
    /// New `read`.
    pub read: Option<bool>,
    /// New `write`.
    pub write: Option<bool>,
    /// New `upload`.
    pub upload: Option<bool>,
}

impl ScheduledChange {
    /// Refuses a change that gives no permission.
    pub(crate) fn check(&self) -> Result<()> {
        if self.read.is_none() && self.write.is_none() && self.upload.is_none() {
            return Err(StoreError::Invalid {
                what: "scheduled permission change",
                reason: "none of read, write, upload is given".into(),
            });
        }
        Ok(())
    }
}

/// A scheduled permission change or unban (`futurePermissions`).
#[derive(Clone, Debug, PartialEq)]
pub struct FuturePermission {
    /// Whom it concerns.
    pub session_id: AccountId,
    /// When it applies.
    pub at: f64,
    /// New `read`.
    pub read: Option<bool>,
    /// New `write`.
    pub write: Option<bool>,
    /// New `upload`.
    pub upload: Option<bool>,
    /// New ban state (scheduled unbans of timed bans).
    pub banned: Option<bool>,
}

/// Where a moderation action applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Server-wide.
    Global,
    /// One room, by token.
    Room(&'a str),
}

/// A change of moderator/admin status (§5.5's combinations).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModeratorChange {
    /// `true`: make moderator (keeps admin); `false`: remove moderator and admin.
    pub moderator: Option<bool>,
    /// `true`: make admin (and moderator); `false`: remove admin only.
    pub admin: Option<bool>,
    /// Listed publicly (default: true in a room, false globally).
    pub visible: Option<bool>,
}

/// A moderator or admin of a room, as room info lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomModerator {
    /// Who.
    pub session_id: AccountId,
    /// Admin (else a plain moderator).
    pub admin: bool,
    /// Listed publicly: the room row's visibility if there is one, else the global one.
    pub visible: bool,
    /// A global moderator/admin without a room moderator row.
    pub global: bool,
}

/// A pinned message.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    /// The message id.
    pub id: i64,
    /// When it was (last) pinned.
    pub pinned_at: f64,
    /// Who pinned it.
    pub pinned_by: AccountId,
}

/// One reaction on a message (§6.3).
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    /// The reaction text (1..=12 code points).
    pub reaction: String,
    /// Position in first-added order among the message's current reactions.
    pub index: usize,
    /// How many users reacted so.
    pub count: usize,
    /// The first reactors by reaction time (at most [`ReadOptions::reactors`]).
    pub reactors: Vec<AccountId>,
    /// Whether the viewer reacted so.
    pub you: bool,
}

/// A message (§6.2) as the store keeps it.
#[derive(Clone, PartialEq)]
pub struct Message {
    /// Id (room-independent, increasing).
    pub id: i64,
    /// The author.
    pub session_id: AccountId,
    /// Posting time.
    pub posted: f64,
    /// Last edit or deletion time.
    pub edited: Option<f64>,
    /// The last seqno at which anything about the message changed.
    pub seqno: i64,
    /// The seqno of the last data change (post, edit, deletion).
    pub seqno_data: i64,
    /// The seqno of the last reaction change (0: none).
    pub seqno_reactions: i64,
    /// The seqno of the post.
    pub seqno_creation: i64,
    /// The body exactly as posted; `None`: deleted.
    pub data: Option<Vec<u8>>,
    /// The author's signature; `None`: deleted.
    pub signature: Option<[u8; 64]>,
    /// Silently filtered (only ever returned to the poster by `post_message`).
    pub filtered: bool,
    /// A whisper to one user.
    pub whisper_to: Option<AccountId>,
    /// A whisper to the room's moderators.
    pub whisper_mods: bool,
    /// Reactions in index order.
    pub reactions: Vec<Reaction>,
}

/// How a message appears in a `/messages/since/{since}` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// The full message.
    Full,
    /// A deletion tombstone.
    Deleted,
    /// Only its reactions changed since `since`: `{id, seqno, reactions}`.
    ReactionsOnly,
}

impl Message {
    /// Whether it was deleted.
    pub fn is_deleted(&self) -> bool {
        self.data.is_none()
    }

    /// Whether it is a whisper.
    pub fn is_whisper(&self) -> bool {
        self.whisper_to.is_some() || self.whisper_mods
    }

    /// Its form in an answer to `/since/{since}`.
    pub fn update_kind(&self, since: i64) -> UpdateKind {
        if self.is_deleted() {
            UpdateKind::Deleted
        } else if self.seqno_data <= since {
            UpdateKind::ReactionsOnly
        } else {
            UpdateKind::Full
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("session_id", &self.session_id)
            .field("posted", &self.posted)
            .field("edited", &self.edited)
            .field("seqno", &self.seqno)
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .field("filtered", &self.filtered)
            .field("whisper_to", &self.whisper_to)
            .field("whisper_mods", &self.whisper_mods)
            .field("reactions", &self.reactions.len())
            .finish_non_exhaustive()
    }
}

/// A message to post.
#[derive(Clone, PartialEq)]
pub struct NewPost {
    /// The author (must be a known user).
    pub author: AccountId,
    /// The body (not empty).
    pub data: Vec<u8>,
    /// The signature (never verified by the server).
    pub signature: [u8; 64],
    /// Whisper to this user (created if unknown).
    pub whisper_to: Option<AccountId>,
    /// Whisper to the moderators.
    pub whisper_mods: bool,
    /// Files uploaded by the author to this room to attach.
    pub files: Vec<i64>,
    /// Silently filtered: stored, never distributed.
    pub filtered: bool,
}

impl fmt::Debug for NewPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPost")
            .field("author", &self.author)
            .field("data_len", &self.data.len())
            .field("whisper_to", &self.whisper_to)
            .field("whisper_mods", &self.whisper_mods)
            .field("files", &self.files)
            .field("filtered", &self.filtered)
            .finish_non_exhaustive()
    }
}

/// A new version of a message (`PUT /room/{t}/message/{id}`).
#[derive(Clone, PartialEq)]
pub struct MessageEdit {
    /// Who edits (must be the author).
    pub editor: AccountId,
    /// The new body (not empty).
    pub data: Vec<u8>,
    /// The new signature.
    pub signature: [u8; 64],
    /// Files uploaded by the author to this room to attach.
    pub files: Vec<i64>,
}

impl fmt::Debug for MessageEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageEdit")
            .field("editor", &self.editor)
            .field("data_len", &self.data.len())
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// A replaced version of a message (edit history).
#[derive(Clone, PartialEq)]
pub struct HistoryEntry {
    /// When it was replaced.
    pub replaced: f64,
    /// The old body (`None` if it was already deleted).
    pub data: Option<Vec<u8>>,
    /// The old signature.
    pub signature: Option<[u8; 64]>,
}

impl fmt::Debug for HistoryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryEntry")
            .field("replaced", &self.replaced)
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// Who reads, and how much reaction detail to return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The caller (`None`: anonymous). Decides whisper visibility (moderators see
    /// whispers to moderators) and [`Reaction::you`].
    pub viewer: Option<AccountId>,
    /// How many reactors to list per reaction (0: none).
    pub reactors: usize,
}

/// A room file.
#[derive(Clone, PartialEq)]
pub struct StoredFile {
    /// Id (room-scoped in the API, unique in the store).
    pub id: i64,
    /// The room it was uploaded to.
    pub room: String,
    /// Who uploaded it.
    pub uploader: AccountId,
    /// The post it is attached to.
    pub message: Option<i64>,
    /// Size in bytes.
    pub size: usize,
    /// Upload time.
    pub uploaded: f64,
    /// Expiry (`None`: never).
    pub expiry: Option<f64>,
    /// The uploader's file name.
    pub filename: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for StoredFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredFile")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("uploader", &self.uploader)
            .field("message", &self.message)
            .field("size", &self.size)
            .field("uploaded", &self.uploaded)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// A blinded direct message (§5.6).
#[derive(Clone, PartialEq)]
pub struct DirectMessage {
    /// Id (increasing).
    pub id: i64,
    /// Sender.
    pub sender: AccountId,
    /// Recipient.
    pub recipient: AccountId,
    /// The opaque payload.
    pub message: Vec<u8>,
    /// Sending time.
    pub posted_at: f64,
    /// Expiry.
    pub expires_at: f64,
}

impl fmt::Debug for DirectMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectMessage")
            .field("id", &self.id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("message_len", &self.message.len())
            .field("posted_at", &self.posted_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What [`SogsStore::cleanup`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupCounts {
    /// Expired files deleted.
    pub files: usize,
    /// Old history entries deleted.
    pub history: usize,
    /// Expired DMs deleted.
    pub direct_messages: usize,
    /// Expired nonces deleted.
    pub nonces: usize,
    /// Old room activity rows deleted.
    pub room_activity: usize,
    /// Due scheduled permission changes applied.
    pub permission_changes: usize,
    /// Due scheduled unbans/bans applied.
    pub ban_changes: usize,
}

/// The community server's persistence. Every method is one transaction. See the module
/// documentation for the semantics; errors name the missing room, message, file or
/// user.
pub trait SogsStore: Send + Sync + fmt::Debug {
    // ---- rooms ----

    /// Creates a room; [`StoreError::RoomExists`] if the token is taken (ignoring case),
    /// [`StoreError::Invalid`] if it is not `[A-Za-z0-9_-]{1,64}`.
    fn create_room(&self, room: &NewRoom, now: f64) -> Result<Room>;

    /// One room by token (case-insensitive).
    fn room(&self, token: &str) -> Result<Option<Room>>;

    /// Every room, ordered by token.
    fn rooms(&self) -> Result<Vec<Room>>;

    /// Changes room info; returns the room after it. An image must be an unexpired file
    /// of this room ([`StoreError::FileNotFound`]); an empty update is refused.
    fn update_room(&self, token: &str, update: &RoomUpdate, now: f64) -> Result<Room>;

    /// Deletes a room with its messages; its files expire at once.
    fn delete_room(&self, token: &str) -> Result<()>;

    /// The room's moderators and admins (room rows and global ones), by Session ID.
    fn room_moderators(&self, token: &str) -> Result<Vec<RoomModerator>>;

    /// Records that `user` polled the room at `now` (for `active_users`).
    fn record_activity(&self, token: &str, user: &AccountId, now: f64) -> Result<()>;

    // ---- users ----

    /// The user with this id, created (first seen `now`) if new.
    fn ensure_user(&self, id: &AccountId, now: f64) -> Result<User>;

    /// One user.
    fn user(&self, id: &AccountId) -> Result<Option<User>>;

    /// Sets a user's `last_active` (after a successful authenticated request).
    fn touch_user(&self, id: &AccountId, now: f64) -> Result<()>;

    /// Global moderators and admins, by Session ID.
    fn global_moderators(&self) -> Result<Vec<User>>;

    // ---- permissions and moderation ----

    /// The effective permissions of `user` (`None`: anonymous) in a room (§7).
    fn permissions(&self, token: &str, user: Option<&AccountId>) -> Result<Permissions>;

    /// A user's override row in a room (`None`: no row).
    fn overrides(&self, token: &str, user: &AccountId) -> Result<Option<Overrides>>;

    /// Every override row of a room, by Session ID.
    fn room_overrides(&self, token: &str) -> Result<Vec<(AccountId, Overrides)>>;

    /// Changes a user's overrides (creating the user if new); returns the row after it
    /// (`None` when nothing is left). A change that keeps everything is refused.
    fn set_permissions(
        &self,
        token: &str,
        user: &AccountId,
        change: &PermissionChange,
        now: f64,
    ) -> Result<Option<Overrides>>;

    /// Schedules `read`/`write`/`upload` changes at `at` (at least one must be given).
    fn schedule_permissions(
        &self,
        token: &str,
        user: &AccountId,
        at: f64,
        change: &ScheduledChange,
    ) -> Result<()>;

    /// Scheduled changes and unbans in a room (of one user if given), ordered by time.
    fn future_permissions(
        &self,
        token: &str,
        user: Option<&AccountId>,
    ) -> Result<Vec<FuturePermission>>;

    /// Makes or unmakes a moderator/admin (creating the user if new); returns the new
    /// `info_updates` of every room that changed (every room for a global change).
    fn set_moderator(
        &self,
        scope: Scope<'_>,
        user: &AccountId,
        change: &ModeratorChange,
        now: f64,
    ) -> Result<Vec<(String, i64)>>;

    /// Bans a user (creating the user if new) in a room or globally, until `now +
    /// timeout` if given (replacing an earlier scheduled unban). A room ban clears the
    /// user's room moderator/admin flags and activity; global moderators cannot be
    /// banned ([`StoreError::Invalid`]).
    fn ban(&self, scope: Scope<'_>, user: &AccountId, timeout: Option<f64>, now: f64)
    -> Result<()>;

    /// Lifts a room or global ban (and its scheduled unban). Unknown users are not an
    /// error (nothing to lift).
    fn unban(&self, scope: Scope<'_>, user: &AccountId) -> Result<()>;

    // ---- messages ----

    /// Posts a message. The author must exist; a whisper target is created if new; the
    /// listed files (the author's unattached uploads to this room) are attached.
    fn post_message(&self, token: &str, post: &NewPost, now: f64) -> Result<Message>;

    /// How many messages `user` posted in the room at or after `since` (rate limit).
    fn posts_since(&self, token: &str, user: &AccountId, since: f64) -> Result<usize>;

    /// Replaces a message's data and signature (author only; not deleted), keeping the
    /// old version in the history and attaching `files`.
    fn edit_message(&self, token: &str, id: i64, edit: &MessageEdit, now: f64) -> Result<Message>;

    /// Deletes a message (tombstone); [`StoreError::MessageNotFound`] if it is missing
    /// or deleted already. Authorisation is the caller's.
    fn delete_message(&self, token: &str, id: i64, now: f64) -> Result<()>;

    /// Deletes all of `user`'s messages in the room and expires their files (except the
    /// room image); returns how many were deleted.
    fn delete_user_messages(&self, token: &str, user: &AccountId, now: f64) -> Result<usize>;

    /// One visible, regular (not deleted, not filtered) message.
    fn message(&self, token: &str, id: i64, opts: &ReadOptions) -> Result<Option<Message>>;

    /// The main poll: visible updates with `seqno > since`, ascending seqno, at most
    /// `limit`. A message appears if its data changed after `since` (or, with
    /// `with_reactions`, its reactions did); a deleted one only if it was created at or
    /// before `since`. See [`Message::update_kind`].
    fn messages_since(
        &self,
        token: &str,
        since: i64,
        limit: usize,
        with_reactions: bool,
        opts: &ReadOptions,
    ) -> Result<Vec<Message>>;

    /// The newest visible regular messages (with `id < before` if given), descending id.
    fn messages_recent(
        &self,
        token: &str,
        before: Option<i64>,
        limit: usize,
        opts: &ReadOptions,
    ) -> Result<Vec<Message>>;

    /// The replaced versions of a message, oldest first.
    fn message_history(&self, token: &str, id: i64) -> Result<Vec<HistoryEntry>>;

    // ---- reactions ----

    /// Adds `user`'s reaction to a regular message; returns whether it was new and the
    /// message's seqno after it.
    fn add_reaction(
        &self,
        token: &str,
        id: i64,
        user: &AccountId,
        reaction: &str,
        now: f64,
    ) -> Result<(bool, i64)>;

    /// Removes `user`'s reaction; returns whether there was one and the seqno after it.
    fn remove_reaction(
        &self,
        token: &str,
        id: i64,
        user: &AccountId,
        reaction: &str,
    ) -> Result<(bool, i64)>;

    /// Removes every reaction (or every one of `reaction`) from a message; returns how
    /// many user reactions went and the seqno after it.
    fn clear_reactions(&self, token: &str, id: i64, reaction: Option<&str>)
    -> Result<(usize, i64)>;

    /// Who reacted so, in reaction order, with when (at most `limit` if given).
    fn reactors(
        &self,
        token: &str,
        id: i64,
        reaction: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(AccountId, f64)>>;

    // ---- pins ----

    /// Pins (or re-pins) a regular message; returns the room's new `info_updates`.
    fn pin(&self, token: &str, id: i64, by: &AccountId, now: f64) -> Result<i64>;

    /// Unpins a message; returns whether it was pinned and the room's `info_updates`.
    fn unpin(&self, token: &str, id: i64) -> Result<(bool, i64)>;

    /// Unpins everything; returns how many and the room's `info_updates`.
    fn unpin_all(&self, token: &str) -> Result<(usize, i64)>;

    /// The room's pins, ordered by `pinned_at`.
    fn pins(&self, token: &str) -> Result<Vec<Pin>>;

    // ---- files ----

    /// Stores an upload (the uploader must exist); it expires after
    /// [`Retention::unattached_file`] unless attached to a post. Returns its id.
    fn add_file(
        &self,
        token: &str,
        uploader: &AccountId,
        data: &[u8],
        filename: Option<&str>,
        now: f64,
    ) -> Result<i64>;

    /// One unexpired file of the room.
    fn file(&self, token: &str, id: i64, now: f64) -> Result<Option<StoredFile>>;

    // ---- request nonces ----

    /// Records a request nonce of `user` (created if new); false if it was used before
    /// (by anyone) within [`Retention::nonce`].
    fn use_nonce(&self, user: &AccountId, nonce: &[u8; 16], now: f64) -> Result<bool>;

    // ---- blinded DMs ----

    /// Sends a DM; the sender must exist, the recipient must exist and not be globally
    /// banned (else [`StoreError::UserNotFound`]).
    fn send_dm(
        &self,
        sender: &AccountId,
        recipient: &AccountId,
        message: &[u8],
        now: f64,
    ) -> Result<DirectMessage>;

    /// Unexpired DMs to `recipient` with `id > since` (all if `None` or 0), ascending
    /// id, at most `limit`.
    fn inbox(
        &self,
        recipient: &AccountId,
        since: Option<i64>,
        limit: usize,
        now: f64,
    ) -> Result<Vec<DirectMessage>>;

    /// The same for DMs sent by `sender`.
    fn outbox(
        &self,
        sender: &AccountId,
        since: Option<i64>,
        limit: usize,
        now: f64,
    ) -> Result<Vec<DirectMessage>>;

    /// Deletes every DM to `recipient`; returns how many.
    fn delete_inbox(&self, recipient: &AccountId) -> Result<usize>;

    // ---- maintenance ----

    /// The periodic cleanup (see the module documentation).
    fn cleanup(&self, now: f64) -> Result<CleanupCounts>;
}

// ---- checks shared by backends ----

/// Checks a time argument.
pub(crate) fn check_time(what: &'static str, t: f64) -> Result<()> {
    if !t.is_finite() || t < 0.0 {
        return Err(StoreError::Invalid {
            what,
            reason: format!("{t} is not a time (finite, non-negative Unix seconds)"),
        });
    }
    Ok(())
}

/// Checks a duration argument (a timeout, a lifetime).
pub(crate) fn check_duration(what: &'static str, d: f64) -> Result<()> {
    if !d.is_finite() || d <= 0.0 || d >= 1e9 {
        return Err(StoreError::Invalid {
            what,
            reason: format!("{d} s is not a duration in (0, 1e9) seconds"),
        });
    }
    Ok(())
}

/// Checks a room token: `[A-Za-z0-9_-]{1,64}`.
pub(crate) fn check_token(token: &str) -> Result<()> {
    let reason = if token.is_empty() {
        "it is empty".to_owned()
    } else if token.len() > MAX_TOKEN_LEN {
        format!(
            "it has {} characters, at most {MAX_TOKEN_LEN} are allowed",
            token.len()
        )
    } else if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        format!("{c:?} is not allowed (only A-Z, a-z, 0-9, _ and -)")
    } else {
        return Ok(());
    };
    Err(StoreError::Invalid {
        what: "room token",
        reason: format!("{token:?}: {reason}"),
    })
}

/// Checks a reaction: 1..=12 Unicode code points.
pub(crate) fn check_reaction(reaction: &str) -> Result<()> {
    let n = reaction.chars().count();
    if n == 0 || n > MAX_REACTION_CHARS {
        return Err(StoreError::Invalid {
            what: "reaction",
            reason: format!("{n} code points; 1 to {MAX_REACTION_CHARS} are allowed"),
        });
    }
    Ok(())
}

/// Checks a moderator change; returns the `(moderator, admin)` flags it sets given the
/// current ones.
pub(crate) fn apply_moderator_change(
    change: &ModeratorChange,
    moderator: bool,
    admin: bool,
) -> Result<(bool, bool)> {
    match (change.moderator, change.admin) {
        (None, None) => Err(StoreError::Invalid {
            what: "moderator change",
            reason: "neither moderator nor admin is given".into(),
        }),
        (Some(false), Some(true)) => Err(StoreError::Invalid {
            what: "moderator change",
            reason: "admin=true with moderator=false (admins are moderators)".into(),
        }),
        (_, Some(true)) => Ok((true, true)),
        (Some(true), None) => Ok((true, admin)),
        (Some(false), _) => Ok((false, false)),
        (None, Some(false)) => Ok((moderator, false)),
        (Some(true), Some(false)) => Ok((true, false)),
    }
}

/// A row count or limit as SQL's signed integer (saturating).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Locks a mutex, recovering from poisoning (transactions roll back on drop, so a
/// panicked critical section leaves the data as it was).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
