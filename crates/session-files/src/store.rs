//! The file store: metadata in SQLite (`files.db` in the data directory), bytes on disk
//! under `data_dir/files/<prefix>/<id>` (prefix = the id's last three decimal digits),
//! each written atomically (temporary file + rename).
//!
//! Ids are random integers below 2^53 (the spec's `BACKWARDS_COMPAT_IDS`), retried on
//! collision. Times are `f64` Unix seconds passed in by the caller: the store never reads
//! a clock. An expired file is invisible even before [`FileStore::purge`] removes it.

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

/// Ids are below this bound (they must survive a round trip through a JavaScript number).
pub const ID_BOUND: u64 = 1 << 53;

/// How many random ids an upload tries before giving up ([`StoreError::NoFreeId`]).
pub const ID_ATTEMPTS: usize = 25;

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

const MIGRATIONS: &[&str] = &[SCHEMA_V1];

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileInfo {
    /// The file's id (below [`ID_BOUND`]).
    pub id: u64,
    /// Its size in bytes.
    pub size: u64,
    /// When it was uploaded (Unix seconds).
    pub uploaded: f64,
    /// When it expires (Unix seconds); it is gone once `now >= expires`.
    pub expires: f64,
}

/// The file store; share it behind an `Arc` (one connection behind a mutex).
#[derive(Debug)]
pub struct FileStore {
    files_dir: PathBuf,
    conn: Mutex<Connection>,
}

/// The relative location of file `id` under the files directory: `<prefix>/<id>`.
pub fn file_rel_path(id: u64) -> PathBuf {
    PathBuf::from(format!("{:03}", id % 1000)).join(id.to_string())
}

fn random_id() -> Result<u64, StoreError> {
    let bytes = session_crypto::random::random_array::<8>().map_err(|_| StoreError::Rng)?;
    Ok(u64::from_le_bytes(bytes) % ID_BOUND)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn row_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileInfo> {
    let id: i64 = row.get(0)?;
    let size: i64 = row.get(1)?;
    Ok(FileInfo {
        id: u64::try_from(id).unwrap_or(0),
        size: u64::try_from(size).unwrap_or(0),
        uploaded: row.get(2)?,
        expires: row.get(3)?,
    })
}

impl FileStore {
    /// Opens (creating if needed) the store in `data_dir`.
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
    pub fn file_path(&self, id: u64) -> PathBuf {
        self.files_dir.join(file_rel_path(id))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Stores `bytes` uploaded at `now`, expiring `ttl` seconds later, under a fresh
    /// random id.
    pub fn put(&self, bytes: &[u8], now: f64, ttl: f64) -> Result<FileInfo, StoreError> {
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let expires = now + ttl;
        let mut id = None;
        {
            let conn = self.lock()?;
            for _ in 0..ID_ATTEMPTS {
                let candidate = random_id()?;
                let n = conn.execute(
                    "INSERT OR IGNORE INTO files (id, size, uploaded, expiry) VALUES (?, ?, ?, ?)",
                    params![to_i64(candidate), to_i64(size), now, expires],
                )?;
                if n == 1 {
                    id = Some(candidate);
                    break;
                }
            }
        }
        let id = id.ok_or(StoreError::NoFreeId)?;
        if let Err(e) = self.write_bytes(id, bytes) {
            // Do not leave a row without its bytes behind.
            if let Ok(conn) = self.lock() {
                let _ = conn.execute("DELETE FROM files WHERE id = ?", [to_i64(id)]);
            }
            return Err(e);
        }
        Ok(FileInfo {
            id,
            size,
            uploaded: now,
            expires,
        })
    }

    fn write_bytes(&self, id: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.file_path(id);
        if let Some(parent) = path.parent() {
            session_rt::fs::ensure_dir(parent)?;
        }
        session_rt::fs::write_private(&path, bytes)?;
        Ok(())
    }

    /// The metadata of file `id` if it exists and has not expired at `now`.
    pub fn info(&self, id: u64, now: f64) -> Result<Option<FileInfo>, StoreError> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT id, size, uploaded, expiry FROM files WHERE id = ? AND expiry > ?",
                params![to_i64(id), now],
                row_info,
            )
            .optional()?)
    }

    /// File `id` and its bytes if it exists and has not expired at `now`.
    pub fn get(&self, id: u64, now: f64) -> Result<Option<(FileInfo, Vec<u8>)>, StoreError> {
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
    pub fn extend(&self, id: u64, now: f64, ttl: f64) -> Result<Option<FileInfo>, StoreError> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "UPDATE files SET expiry = MAX(expiry, ?) WHERE id = ? AND expiry > ? \
                 RETURNING id, size, uploaded, expiry",
                params![now + ttl, to_i64(id), now],
                row_info,
            )
            .optional()?)
    }

    /// Deletes every file expired at `now` (rows and bytes); returns how many.
    pub fn purge(&self, now: f64) -> Result<usize, StoreError> {
        let ids: Vec<i64> = {
            let conn = self.lock()?;
            let mut stmt =
                conn.prepare_cached("DELETE FROM files WHERE expiry <= ? RETURNING id")?;
            let rows = stmt.query_map([now], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in &ids {
            let path = self.file_path(u64::try_from(*id).unwrap_or(0));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
        Ok(ids.len())
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
        assert!(info.id < ID_BOUND);
        assert_eq!(info.size, 5);
        assert_eq!(info.uploaded, NOW);
        assert_eq!(info.expires, NOW + 100.0);
        let (got, bytes) = s.get(info.id, NOW + 1.0).unwrap().unwrap();
        assert_eq!(got, info);
        assert_eq!(bytes, b"hello");
        assert_eq!(s.info(info.id, NOW).unwrap(), Some(info));
        let on_disk = dir
            .path()
            .join(FILES_DIR)
            .join(format!("{:03}", info.id % 1000))
            .join(info.id.to_string());
        assert_eq!(std::fs::read(on_disk).unwrap(), b"hello");
        assert!(s.get(info.id + 1, NOW).unwrap().is_none());
    }

    #[test]
    fn expiry_extend_and_purge() {
        let (_dir, s) = store();
        let a = s.put(b"a", NOW, 10.0).unwrap();
        let b = s.put(b"b", NOW, 100.0).unwrap();
        assert!(s.get(a.id, NOW + 10.0).unwrap().is_none());
        assert!(s.info(a.id, NOW + 10.0).unwrap().is_none());
        assert!(s.extend(a.id, NOW + 10.0, 50.0).unwrap().is_none());
        // Extending never shortens.
        let e = s.extend(b.id, NOW, 10.0).unwrap().unwrap();
        assert_eq!(e.expires, NOW + 100.0);
        let e = s.extend(b.id, NOW + 50.0, 200.0).unwrap().unwrap();
        assert_eq!(e.expires, NOW + 250.0);
        assert_eq!(s.purge(NOW + 10.0).unwrap(), 1);
        assert!(!s.file_path(a.id).exists());
        assert!(s.file_path(b.id).exists());
        assert_eq!(s.purge(NOW + 10.0).unwrap(), 0);
        assert_eq!(s.purge(NOW + 250.0).unwrap(), 1);
        assert!(!s.file_path(b.id).exists());
    }

    #[test]
    fn reopen_keeps_files() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let s = FileStore::open(dir.path()).unwrap();
            s.put(b"persist", NOW, 100.0).unwrap().id
        };
        let s = FileStore::open(dir.path()).unwrap();
        assert_eq!(s.get(id, NOW).unwrap().unwrap().1, b"persist");
    }

    #[test]
    fn prefix_is_last_three_digits() {
        assert_eq!(file_rel_path(12_345), PathBuf::from("345/12345"));
        assert_eq!(file_rel_path(7), PathBuf::from("007/7"));
    }
}
