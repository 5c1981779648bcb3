//! The file store: metadata in SQLite (`files.db` in the data directory), bytes on disk
//! under `data_dir/files/<prefix>/<id>`, each written atomically (temporary file +
//! rename).
//!
//! File ids are text, of two kinds (community-server spec §11.1):
//! * **numeric** ([`FileStore::put`]): the decimal form of a random integer below 2^53
//!   (the reference's `BACKWARDS_COMPAT_IDS`), retried on collision; prefix = the last
//!   three digits;
//! * **content ids** ([`FileStore::put_deduplicated`]): 44 URL-safe base64 characters of
//!   a salted 33-byte BLAKE2b of the content
//!   ([`session_crypto::attachments::file_server_content_id`]); an identical upload
//!   reuses the stored file and refreshes its expiry; prefix = the first two characters.
//!
//! Times are `f64` Unix seconds passed in by the caller: the store never reads a clock.
//! An expired file is invisible even before [`FileStore::purge`] removes it. A row is
//! inserted before its bytes are written, and [`FileStore::purge`] deletes rows and bytes
//! under the same lock, so a purge never removes the bytes of a live row.
//!
//! The store also counts authenticated `/session_version` checks
//! ([`FileStore::record_version_check`]), one row per version-blinded key, platform and
//! release channel.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use session_rt::sqlite::{self, OpenError, VersionedDb};
use thiserror::Error;

/// The database file name inside the data directory.
pub const DB_FILE: &str = "files.db";

/// The directory (inside the data directory) holding the file bytes.
pub const FILES_DIR: &str = "files";

/// `PRAGMA application_id` of a file-server database: ASCII `SsnF`.
pub const APPLICATION_ID: i64 = 0x5373_6e46;

/// Numeric ids are below this bound (they must survive a round trip through a
/// JavaScript number).
pub const ID_BOUND: u64 = 1 << 53;

/// How many random ids an upload tries before giving up ([`StoreError::NoFreeId`]).
pub const ID_ATTEMPTS: usize = 25;

/// The length of a content id.
pub const CONTENT_ID_LEN: usize = 44;

/// Schema version 1: one row per stored file; times are REAL Unix seconds.
pub const SCHEMA_V1: &str = "
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    uploaded REAL NOT NULL,
    expiry REAL NOT NULL
);
CREATE INDEX files_expiry ON files(expiry);
";

/// Schema version 2: text ids (numeric ones in decimal, or 44-character content ids)
/// and the counts of authenticated version checks.
pub const SCHEMA_V2: &str = "
CREATE TABLE files_v2 (
    id TEXT PRIMARY KEY NOT NULL
        CHECK (length(id) BETWEEN 1 AND 44 AND id NOT GLOB '*[^A-Za-z0-9_-]*'),
    size INTEGER NOT NULL,
    uploaded REAL NOT NULL,
    expiry REAL NOT NULL
);
INSERT INTO files_v2 (id, size, uploaded, expiry)
    SELECT CAST(id AS TEXT), size, uploaded, expiry FROM files;
DROP TABLE files;
ALTER TABLE files_v2 RENAME TO files;
CREATE INDEX files_expiry ON files(expiry);
CREATE TABLE account_version_checks (
    blinded_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    release_channel TEXT NOT NULL,
    checks INTEGER NOT NULL,
    first_check REAL NOT NULL,
    last_check REAL NOT NULL,
    PRIMARY KEY (blinded_id, platform, release_channel)
);
";

const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

const DB: VersionedDb = VersionedDb {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
    foreign_keys: true,
};

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A SQLite statement failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file-system operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OS random generator failed.
    #[error("random generator failed")]
    Rng,
    /// [`ID_ATTEMPTS`] random ids were all taken (the spec's 507).
    #[error("no free file id found")]
    NoFreeId,
    /// The mutex around the connection was poisoned by a panic.
    #[error("store lock poisoned")]
    Poisoned,
}

impl StoreError {
    fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.display().to_string();
        move |source| Self::Io { op, path, source }
    }
}

impl From<session_rt::RtError> for StoreError {
    fn from(e: session_rt::RtError) -> Self {
        match e {
            session_rt::RtError::Io { op, path, source } => Self::Io { op, path, source },
            other => Self::Io {
                op: "access",
                path: String::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// The metadata of a stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// The file's id (see the module documentation).
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was uploaded (Unix seconds).
    pub uploaded: f64,
    /// When it expires (Unix seconds); it is gone once `now >= expires`.
    pub expires: f64,
}

/// What kind of id a string is, if it is one at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A random integer below [`ID_BOUND`] in canonical decimal (no leading zeros).
    Numeric,
    /// A 44-character URL-safe base64 content id.
    Content,
}

/// Classifies `id`: `None` for anything that cannot be a file id (so it is a 404
/// without a database look-up).
pub fn id_kind(id: &str) -> Option<IdKind> {
    let b = id.as_bytes();
    if !b.is_empty() && b.len() <= 16 && b.iter().all(u8::is_ascii_digit) {
        let canonical = b.len() == 1 || b[0] != b'0';
        let n: u64 = id.parse().ok()?;
        return (canonical && n < ID_BOUND).then_some(IdKind::Numeric);
    }
    let base64url = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
    (b.len() == CONTENT_ID_LEN && b.iter().all(base64url)).then_some(IdKind::Content)
}

/// Counts of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Files not expired.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Expired files waiting for the purge.
    pub expired: u64,
    /// Authenticated `/session_version` checks recorded.
    pub version_checks: u64,
    /// Distinct version-blinded keys among them.
    pub version_check_accounts: u64,
}

/// The file store; share it behind an `Arc` (one connection behind a mutex).
#[derive(Debug)]
pub struct FileStore {
    files_dir: PathBuf,
    conn: Mutex<Connection>,
}

/// The relative location of file `id` under the files directory: `<prefix>/<id>`, the
/// prefix being the last three digits of a numeric id (zero-padded) or the first two
/// characters of a content id.
pub fn file_rel_path(id: &str) -> PathBuf {
    let prefix = match id_kind(id) {
        Some(IdKind::Numeric) => {
            let n: u64 = id.parse().unwrap_or(0);
            format!("{:03}", n % 1000)
        }
        _ => id.chars().take(2).collect(),
    };
    PathBuf::from(prefix).join(id)
}

fn random_id() -> Result<u64, StoreError> {
    let bytes = session_crypto::random::random_array::<8>().map_err(|_| StoreError::Rng)?;
    Ok(u64::from_le_bytes(bytes) % ID_BOUND)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn row_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileInfo> {
    let size: i64 = row.get(1)?;
    Ok(FileInfo {
        id: row.get(0)?,
        size: to_u64(size),
        uploaded: row.get(2)?,
        expires: row.get(3)?,
    })
}

impl FileStore {
    /// Opens (creating if needed) the store in `data_dir`, upgrading an older schema.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = sqlite::open_in(data_dir, DB_FILE, &DB)?;
        let files_dir = data_dir.join(FILES_DIR);
        session_rt::fs::ensure_dir(&files_dir)?;
        Ok(Self {
            files_dir,
            conn: Mutex::new(conn),
        })
    }

    /// Where file `id`'s bytes live.
    pub fn file_path(&self, id: &str) -> PathBuf {
        self.files_dir.join(file_rel_path(id))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Stores `bytes` uploaded at `now`, expiring `ttl` seconds later, under a fresh
    /// random numeric id.
    pub fn put(&self, bytes: &[u8], now: f64, ttl: f64) -> Result<FileInfo, StoreError> {
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let expires = now + ttl;
        let mut id = None;
        {
            let conn = self.lock()?;
            for _ in 0..ID_ATTEMPTS {
                let candidate = random_id()?.to_string();
                let n = conn.execute(
                    "INSERT OR IGNORE INTO files (id, size, uploaded, expiry) VALUES (?, ?, ?, ?)",
                    params![candidate, to_i64(size), now, expires],
                )?;
                if n == 1 {
                    id = Some(candidate);
                    break;
                }
            }
        }
        let id = id.ok_or(StoreError::NoFreeId)?;
        self.write_or_forget(&id, bytes)?;
        Ok(FileInfo {
            id,
            size,
            uploaded: now,
            expires,
        })
    }

    /// Stores `bytes` under their content id: a new file expiring at `now + ttl`, or, if
    /// the same content is already stored, that file with `uploaded = now` and its
    /// expiry raised to `now + ttl` if that is later (the bytes are not written again).
    pub fn put_deduplicated(
        &self,
        bytes: &[u8],
        now: f64,
        ttl: f64,
    ) -> Result<FileInfo, StoreError> {
        let id = session_crypto::attachments::file_server_content_id(bytes);
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let (info, is_new) = {
            let conn = self.lock()?;
            let existing = conn
                .query_row("SELECT 1 FROM files WHERE id = ?", [&id], |_| Ok(()))
                .optional()?
                .is_some();
            let info = conn.query_row(
                "INSERT INTO files (id, size, uploaded, expiry) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET uploaded = excluded.uploaded, \
                 expiry = MAX(expiry, excluded.expiry) \
                 RETURNING id, size, uploaded, expiry",
                params![id, to_i64(size), now, now + ttl],
                row_info,
            )?;
            (info, !existing)
        };
        if is_new {
            self.write_or_forget(&info.id, bytes)?;
        }
        Ok(info)
    }

    /// Writes the bytes of the new row `id`; removes the row if that fails.
    fn write_or_forget(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if let Err(e) = self.write_bytes(id, bytes) {
            // Do not leave a row without its bytes behind.
            if let Ok(conn) = self.lock() {
                let _ = conn.execute("DELETE FROM files WHERE id = ?", [id]);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Writes `bytes` through a uniquely named temporary file (mode 0600) and a rename,
    /// so concurrent writers of the same content never clash and readers never see
    /// half a file.
    fn write_bytes(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        use std::io::Write as _;
        let path = self.file_path(id);
        let dir = path.parent().unwrap_or(&self.files_dir).to_path_buf();
        session_rt::fs::ensure_dir(&dir)?;
        let nonce = session_crypto::random::random_array::<8>().map_err(|_| StoreError::Rng)?;
        let tmp = dir.join(format!(".{id}.{}.tmp", hex::encode(nonce)));
        let result = (|| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(StoreError::io("create", &tmp))?;
            f.write_all(bytes).map_err(StoreError::io("write", &tmp))?;
            f.sync_all().map_err(StoreError::io("sync", &tmp))?;
            drop(f);
            std::fs::rename(&tmp, &path).map_err(StoreError::io("rename", &path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// The metadata of file `id` if it exists and has not expired at `now`.
    pub fn info(&self, id: &str, now: f64) -> Result<Option<FileInfo>, StoreError> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT id, size, uploaded, expiry FROM files WHERE id = ? AND expiry > ?",
                params![id, now],
                row_info,
            )
            .optional()?)
    }

    /// File `id` and its bytes if it exists and has not expired at `now`.
    pub fn get(&self, id: &str, now: f64) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError> {
        let Some(info) = self.info(id, now)? else {
            return Ok(None);
        };
        let path = self.file_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some((info, bytes))),
            // Being written by `put` or already purged.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("read", &path)(e)),
        }
    }

    /// Extends file `id`'s expiry to `max(current, now + ttl)`; `None` if it does not
    /// exist or has expired.
    pub fn extend(&self, id: &str, now: f64, ttl: f64) -> Result<Option<FileInfo>, StoreError> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "UPDATE files SET expiry = MAX(expiry, ?) WHERE id = ? AND expiry > ? \
                 RETURNING id, size, uploaded, expiry",
                params![now + ttl, id, now],
                row_info,
            )
            .optional()?)
    }

    /// Deletes every file expired at `now` (rows and bytes, under the lock: a concurrent
    /// re-upload of the same content waits for it); returns how many.
    pub fn purge(&self, now: f64) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        let ids: Vec<String> = {
            let mut stmt =
                conn.prepare_cached("DELETE FROM files WHERE expiry <= ? RETURNING id")?;
            let rows = stmt.query_map([now], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in &ids {
            let path = self.file_path(id);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
        Ok(ids.len())
    }

    /// Counts one authenticated `/session_version` check by the version-blinded id
    /// `blinded_id` (`07…`) for `platform` on `release_channel` at `now`.
    pub fn record_version_check(
        &self,
        blinded_id: &str,
        platform: &str,
        release_channel: &str,
        now: f64,
    ) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO account_version_checks \
             (blinded_id, platform, release_channel, checks, first_check, last_check) \
             VALUES (?1, ?2, ?3, 1, ?4, ?4) \
             ON CONFLICT (blinded_id, platform, release_channel) \
             DO UPDATE SET checks = checks + 1, last_check = excluded.last_check",
            params![blinded_id, platform, release_channel, now],
        )?;
        Ok(())
    }

    /// How many checks `blinded_id` made (all platforms and channels).
    pub fn version_checks_by(&self, blinded_id: &str) -> Result<u64, StoreError> {
        let conn = self.lock()?;
        let n: i64 = conn.query_row(
            "SELECT COALESCE(SUM(checks), 0) FROM account_version_checks WHERE blinded_id = ?",
            [blinded_id],
            |r| r.get(0),
        )?;
        Ok(to_u64(n))
    }

    /// What the store holds at `now`.
    pub fn stats(&self, now: f64) -> Result<StoreStats, StoreError> {
        let conn = self.lock()?;
        let (files, bytes, expired) = conn.query_row(
            "SELECT COALESCE(SUM(expiry > ?1), 0), COALESCE(SUM(CASE WHEN expiry > ?1 \
             THEN size ELSE 0 END), 0), COALESCE(SUM(expiry <= ?1), 0) FROM files",
            [now],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?;
        let (checks, accounts) = conn.query_row(
            "SELECT COALESCE(SUM(checks), 0), COUNT(DISTINCT blinded_id) \
             FROM account_version_checks",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?;
        Ok(StoreStats {
            files: to_u64(files),
            bytes: to_u64(bytes),
            expired: to_u64(expired),
            version_checks: to_u64(checks),
            version_check_accounts: to_u64(accounts),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;

    const NOW: f64 = 1_700_000_000.0;

    fn store() -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn put_get_info_round_trip() {
        let (dir, s) = store();
        let info = s.put(b"hello", NOW, 100.0).unwrap();
        assert_eq!(id_kind(&info.id), Some(IdKind::Numeric));
        let n: u64 = info.id.parse().unwrap();
        assert!(n < ID_BOUND);
        assert_eq!(info.size, 5);
        assert_eq!(info.uploaded, NOW);
        assert_eq!(info.expires, NOW + 100.0);
        let (got, bytes) = s.get(&info.id, NOW + 1.0).unwrap().unwrap();
        assert_eq!(got, info);
        assert_eq!(bytes, b"hello");
        assert_eq!(s.info(&info.id, NOW).unwrap(), Some(info.clone()));
        let on_disk = dir
            .path()
            .join(FILES_DIR)
            .join(format!("{:03}", n % 1000))
            .join(&info.id);
        assert_eq!(std::fs::read(on_disk).unwrap(), b"hello");
        assert!(s.get(&(n + 1).to_string(), NOW).unwrap().is_none());
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(s.file_path(&info.id).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(&info.id)]);
    }

    #[test]
    fn expiry_extend_and_purge() {
        let (_dir, s) = store();
        let a = s.put(b"a", NOW, 10.0).unwrap();
        let b = s.put(b"b", NOW, 100.0).unwrap();
        assert!(s.get(&a.id, NOW + 10.0).unwrap().is_none());
        assert!(s.info(&a.id, NOW + 10.0).unwrap().is_none());
        assert!(s.extend(&a.id, NOW + 10.0, 50.0).unwrap().is_none());
        // Extending never shortens.
        let e = s.extend(&b.id, NOW, 10.0).unwrap().unwrap();
        assert_eq!(e.expires, NOW + 100.0);
        let e = s.extend(&b.id, NOW + 50.0, 200.0).unwrap().unwrap();
        assert_eq!(e.expires, NOW + 250.0);
        assert_eq!(s.purge(NOW + 10.0).unwrap(), 1);
        assert!(!s.file_path(&a.id).exists());
        assert!(s.file_path(&b.id).exists());
        assert_eq!(s.purge(NOW + 10.0).unwrap(), 0);
        assert_eq!(s.purge(NOW + 250.0).unwrap(), 1);
        assert!(!s.file_path(&b.id).exists());
    }

    #[test]
    fn content_ids_deduplicate() {
        let (_dir, s) = store();
        let a = s.put_deduplicated(b"same bytes", NOW, 100.0).unwrap();
        assert_eq!(
            a.id,
            session_crypto::attachments::file_server_content_id(b"same bytes")
        );
        assert_eq!(id_kind(&a.id), Some(IdKind::Content));
        assert_eq!(s.file_path(&a.id), s.files_dir.join(&a.id[..2]).join(&a.id));
        // Again later with a shorter lifetime: same file, expiry kept.
        let b = s.put_deduplicated(b"same bytes", NOW + 10.0, 20.0).unwrap();
        assert_eq!(b.id, a.id);
        assert_eq!(b.uploaded, NOW + 10.0);
        assert_eq!(b.expires, NOW + 100.0);
        // With a longer one: raised.
        let c = s
            .put_deduplicated(b"same bytes", NOW + 50.0, 100.0)
            .unwrap();
        assert_eq!(c.expires, NOW + 150.0);
        assert_eq!(s.stats(NOW).unwrap().files, 1);
        // Expired but not yet purged: comes back to life with fresh bytes.
        let d = s
            .put_deduplicated(b"same bytes", NOW + 200.0, 10.0)
            .unwrap();
        assert_eq!(d.expires, NOW + 210.0);
        assert_eq!(s.get(&a.id, NOW + 205.0).unwrap().unwrap().1, b"same bytes");
        // Purged, then uploaded again: written again.
        assert_eq!(s.purge(NOW + 210.0).unwrap(), 1);
        assert!(!s.file_path(&a.id).exists());
        s.put_deduplicated(b"same bytes", NOW + 300.0, 10.0)
            .unwrap();
        assert_eq!(s.get(&a.id, NOW + 300.0).unwrap().unwrap().1, b"same bytes");
        let other = s.put_deduplicated(b"other bytes", NOW, 10.0).unwrap();
        assert_ne!(other.id, a.id);
    }

    #[test]
    fn id_kinds() {
        assert_eq!(id_kind("0"), Some(IdKind::Numeric));
        assert_eq!(id_kind("9007199254740991"), Some(IdKind::Numeric));
        assert_eq!(id_kind("9007199254740992"), None);
        assert_eq!(id_kind("0123"), None);
        assert_eq!(id_kind(""), None);
        assert_eq!(id_kind("12a"), None);
        assert_eq!(id_kind(&"A-_z".repeat(11)), Some(IdKind::Content));
        assert_eq!(id_kind(&"A".repeat(43)), None);
        assert_eq!(id_kind(&"A+/=".repeat(11)), None);
        assert_eq!(id_kind("../etc/passwd"), None);
    }

    #[test]
    fn reopen_keeps_files() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let s = FileStore::open(dir.path()).unwrap();
            s.put(b"persist", NOW, 100.0).unwrap().id
        };
        let s = FileStore::open(dir.path()).unwrap();
        assert_eq!(s.get(&id, NOW).unwrap().unwrap().1, b"persist");
    }

    #[test]
    fn version_one_databases_are_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        {
            let v1 = VersionedDb {
                migrations: &[SCHEMA_V1],
                ..DB
            };
            let conn = sqlite::open_in(dir.path(), DB_FILE, &v1).unwrap();
            conn.execute(
                "INSERT INTO files (id, size, uploaded, expiry) VALUES (4242, 3, ?, ?)",
                params![NOW, NOW + 100.0],
            )
            .unwrap();
        }
        let s = FileStore::open(dir.path()).unwrap();
        let info = s.info("4242", NOW).unwrap().unwrap();
        assert_eq!(info.size, 3);
        assert_eq!(info.expires, NOW + 100.0);
        assert_eq!(s.file_path("4242"), s.files_dir.join("242").join("4242"));
    }

    #[test]
    fn version_checks_are_counted() {
        let (_dir, s) = store();
        let k = format!("07{}", "ab".repeat(32));
        s.record_version_check(&k, "desktop", "stable", NOW)
            .unwrap();
        s.record_version_check(&k, "desktop", "stable", NOW + 1.0)
            .unwrap();
        s.record_version_check(&k, "ios", "stable", NOW).unwrap();
        assert_eq!(s.version_checks_by(&k).unwrap(), 3);
        assert_eq!(s.version_checks_by("07ff").unwrap(), 0);
        let st = s.stats(NOW).unwrap();
        assert_eq!((st.version_checks, st.version_check_accounts), (3, 1));
    }

    #[test]
    fn stats() {
        let (_dir, s) = store();
        s.put(b"abc", NOW, 10.0).unwrap();
        s.put(b"defgh", NOW, 100.0).unwrap();
        let st = s.stats(NOW + 20.0).unwrap();
        assert_eq!((st.files, st.bytes, st.expired), (1, 5, 1));
    }

    #[test]
    fn prefixes() {
        assert_eq!(file_rel_path("12345"), PathBuf::from("345/12345"));
        assert_eq!(file_rel_path("7"), PathBuf::from("007/7"));
        let c = "Ab".repeat(22);
        assert_eq!(file_rel_path(&c), PathBuf::from("Ab").join(&c));
    }
}
