//! Opening a private, versioned SQLite database file (the client's and the community
//! server's stores).
//!
//! * **Private.** The directory is created with mode 0700 and the file with mode 0600
//!   before SQLite opens it (an existing file with looser permissions is tightened, and
//!   so are left-over `-wal`/`-shm` files); SQLite gives the WAL and shared-memory files
//!   it creates the database file's mode. SQLite never creates the file itself.
//! * **Identified.** A file whose `PRAGMA application_id` is not the program's is only
//!   accepted if it is empty (no application id, version 0, no schema objects); garbage,
//!   a damaged file or another program's database give [`OpenError::NotADatabase`]
//!   before anything in the file is changed.
//! * **WAL**, `synchronous=NORMAL`, optionally `foreign_keys=ON`, a 5 s busy timeout and
//!   a statement cache of 64.
//! * **Versioned** with `PRAGMA user_version`: [`migrate`] applies
//!   [`VersionedDb::migrations`] one step per `BEGIN IMMEDIATE` transaction (reading the
//!   version inside it, so concurrent openers do not migrate twice) and refuses a newer
//!   file ([`OpenError::TooNew`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use thiserror::Error;

use crate::RtError;

/// How long a connection waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The prepared-statement cache size of a connection.
const STATEMENT_CACHE: usize = 64;

/// A program's database: how its files are marked and how their schema evolves.
#[derive(Debug, Clone, Copy)]
pub struct VersionedDb {
    /// `PRAGMA application_id` of the program's files.
    pub application_id: i64,
    /// The migrations: entry `n` takes the schema from version `n` to `n + 1`; the
    /// current version is their number.
    pub migrations: &'static [&'static str],
    /// Whether to set `PRAGMA foreign_keys = ON`; `false` leaves SQLite's compiled-in
    /// default (the bundled build of `rusqlite` enforces them too).
    pub foreign_keys: bool,
}

impl VersionedDb {
    /// The schema version this build writes (`PRAGMA user_version`).
    pub const fn version(&self) -> i64 {
        self.migrations.len() as i64
    }
}

/// Why a database could not be opened (or, via [`OpenError::sqlite`], used).
#[derive(Debug, Error)]
pub enum OpenError {
    /// A file-system operation on the directory or the database file failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a database of this program (garbage, damaged, or another
    /// program's database).
    #[error(
        "{path} is not a database of this program ({detail}); move it aside (rename it) to \
         start afresh, or restore it from a backup"
    )]
    NotADatabase {
        /// The database file.
        path: String,
        /// What SQLite or the opener found.
        detail: String,
    },
    /// The database was written by a newer version of the program.
    #[error(
        "{path} has schema version {found}, but this build understands only up to version \
         {supported}; upgrade the program to open it"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// The schema version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Any other SQLite failure.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
}

impl OpenError {
    /// Classifies a SQLite error on the database at `path`: damage and non-databases
    /// (`SQLITE_NOTADB`, `SQLITE_CORRUPT`) are [`OpenError::NotADatabase`], anything else
    /// [`OpenError::Sqlite`].
    pub fn sqlite(path: &Path, e: rusqlite::Error) -> Self {
        let path = path.display().to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Self::NotADatabase {
                path,
                detail: e.to_string(),
            },
            _ => Self::Sqlite { path, source: e },
        }
    }

    fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.display().to_string();
        move |source| Self::Io { op, path, source }
    }
}

/// Opens (creating if needed) `dir/file_name`, creating `dir` (mode 0700) if needed;
/// see [`open`].
pub fn open_in(dir: &Path, file_name: &str, db: &VersionedDb) -> Result<Connection, OpenError> {
    crate::fs::ensure_dir(dir).map_err(|e| match e {
        RtError::Io { op, path, source } => OpenError::Io { op, path, source },
        other => OpenError::Io {
            op: "create directory",
            path: dir.display().to_string(),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    open(&dir.join(file_name), db)
}

/// Opens (creating if needed, mode 0600) the database file at `path`: checks that it
/// is `db`'s (or empty), sets the pragmas and migrates it to [`VersionedDb::version`].
pub fn open(path: &Path, db: &VersionedDb) -> Result<Connection, OpenError> {
    prepare_private_file(path)?;
    open_connection(path, db)
}

/// Makes sure the database file exists with mode 0600 before SQLite opens it, and
/// tightens left-over files of an earlier run.
fn prepare_private_file(path: &Path) -> Result<(), OpenError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    drop(opts.open(path).map_err(OpenError::io("create", path))?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut files = vec![path.to_owned()];
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            files.push(PathBuf::from(p));
        }
        for f in files {
            let meta = match std::fs::metadata(&f) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(OpenError::io("inspect", &f)(e)),
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))
                    .map_err(OpenError::io("chmod", &f))?;
            }
        }
    }
    Ok(())
}

/// Opens the existing file at `path`, checks and migrates its schema, and sets the
/// pragmas.
fn open_connection(path: &Path, db: &VersionedDb) -> Result<Connection, OpenError> {
    let err = |e| OpenError::sqlite(path, e);
    // No CREATE flag: the file was created (0600) by us, SQLite never creates it.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // Identify the file before changing anything in it (WAL mode is persistent).
    check_identity(&conn, path, db)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    if db.foreign_keys {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&mut conn, path, db)?;
    Ok(conn)
}

/// Refuses files that are not (empty or) `db`'s.
fn check_identity(conn: &Connection, path: &Path, db: &VersionedDb) -> Result<(), OpenError> {
    let err = |e| OpenError::sqlite(path, e);
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(err)?;
    if app == db.application_id {
        return Ok(());
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let objects: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(err)?;
    if app != 0 || version != 0 || objects != 0 {
        return Err(OpenError::NotADatabase {
            path: path.display().to_string(),
            detail: format!(
                "it is a SQLite database of another program (application id {app:#x}, \
                 {objects} schema objects)"
            ),
        });
    }
    Ok(())
}

/// Brings the schema of `db`'s database (or an empty file) at `path` up to
/// [`VersionedDb::version`], one version per immediate transaction that also sets the
/// application id; refuses a newer one ([`OpenError::TooNew`]) and a negative one
/// ([`OpenError::NotADatabase`]).
pub fn migrate(conn: &mut Connection, path: &Path, db: &VersionedDb) -> Result<(), OpenError> {
    let err = |e| OpenError::sqlite(path, e);
    let supported = db.version();
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Read inside the transaction: another process may have migrated meanwhile.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > supported {
            return Err(OpenError::TooNew {
                path: path.display().to_string(),
                found: version,
                supported,
            });
        }
        if version < 0 {
            return Err(OpenError::NotADatabase {
                path: path.display().to_string(),
                detail: format!("negative schema version {version}"),
            });
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| db.migrations.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(err)?;
        tx.pragma_update(None, "application_id", db.application_id)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
}

/// SQLite's `EXPLAIN QUERY PLAN` of `sql`, its detail column joined with ` | `: what
/// stores' tests check to make sure their hot queries use an index.
///
/// # Errors
/// The SQLite error if `sql` does not prepare.
pub fn query_plan(conn: &Connection, sql: &str) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join(" | "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    const V1: &str = "CREATE TABLE t (x INTEGER NOT NULL) STRICT;";
    const V2: &str = "ALTER TABLE t ADD COLUMN y TEXT; UPDATE t SET y = 'migrated';";

    const DB1: VersionedDb = VersionedDb {
        application_id: 0x5465_7374,
        migrations: &[V1],
        foreign_keys: false,
    };
    const DB2: VersionedDb = VersionedDb {
        migrations: &[V1, V2],
        ..DB1
    };

    fn pragma(conn: &Connection, name: &str) -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_fresh_file_is_private_versioned_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        let conn = open_in(&sub, "test.db", &DB1).unwrap();
        assert_eq!(pragma(&conn, "user_version"), 1);
        assert_eq!(pragma(&conn, "application_id"), DB1.application_id);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute("INSERT INTO t (x) VALUES (7)", []).unwrap();
        drop(conn);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = std::fs::metadata(sub.join("test.db")).unwrap();
            assert_eq!(file.permissions().mode() & 0o777, 0o600);
            let dir = std::fs::metadata(&sub).unwrap();
            assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        }
        // Reopening keeps the data and the version.
        let conn = open(&sub.join("test.db"), &DB1).unwrap();
        assert_eq!(pragma(&conn, "user_version"), 1);
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    #[cfg(unix)]
    #[test]
    fn loose_modes_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        drop(open(&path, &DB1).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&path, &DB1).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn foreign_keys_are_enforced_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let db = VersionedDb {
            foreign_keys: true,
            ..DB1
        };
        let conn = open(&dir.path().join("fk.db"), &db).unwrap();
        assert_eq!(pragma(&conn, "foreign_keys"), 1);
    }

    #[test]
    fn garbage_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![0x55u8; 8192]).unwrap();
        let e = open(&path, &DB1).unwrap_err();
        assert!(matches!(e, OpenError::NotADatabase { .. }), "{e:?}");
        assert!(e.to_string().contains("move it aside"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x55u8; 8192]);
    }

    #[test]
    fn another_programs_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE other (z); PRAGMA application_id = 42;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let e = open(&path, &DB1).unwrap_err();
        match &e {
            OpenError::NotADatabase { detail, .. } => {
                assert!(detail.contains("another program"), "{detail}");
                assert!(detail.contains("0x2a"), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // An unmarked database with tables is someone else's too.
        let unmarked = dir.path().join("unmarked.db");
        Connection::open(&unmarked)
            .unwrap()
            .execute_batch("CREATE TABLE other (z);")
            .unwrap();
        let e = open(&unmarked, &DB1).unwrap_err();
        assert!(matches!(e, OpenError::NotADatabase { .. }), "{e:?}");
    }

    #[test]
    fn a_newer_version_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        {
            let c = open(&path, &DB2).unwrap();
            c.execute("INSERT INTO t (x, y) VALUES (1, 'new')", [])
                .unwrap();
        }
        let e = open(&path, &DB1).unwrap_err();
        match &e {
            OpenError::TooNew {
                found, supported, ..
            } => assert_eq!((*found, *supported), (2, 1)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("upgrade"), "{e}");
        let c = Connection::open(&path).unwrap();
        assert_eq!(pragma(&c, "user_version"), 2);
        let y: String = c.query_row("SELECT y FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(y, "new");
    }

    #[test]
    fn a_negative_version_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        drop(open(&path, &DB1).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", -3)
            .unwrap();
        let e = open(&path, &DB1).unwrap_err();
        match e {
            OpenError::NotADatabase { detail, .. } => {
                assert!(detail.contains("negative schema version -3"), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn migrations_run_one_step_at_a_time_keeping_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        {
            let c = open(&path, &DB1).unwrap();
            c.execute("INSERT INTO t (x) VALUES (5)", []).unwrap();
        }
        let c = open(&path, &DB2).unwrap();
        assert_eq!(pragma(&c, "user_version"), 2);
        assert_eq!(pragma(&c, "application_id"), DB2.application_id);
        let (x, y): (i64, String) = c
            .query_row("SELECT x, y FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((x, y.as_str()), (5, "migrated"));
        drop(c);
        // Both steps from an empty file.
        let fresh = open(&dir.path().join("fresh.db"), &DB2).unwrap();
        assert_eq!(pragma(&fresh, "user_version"), 2);
    }

    #[test]
    fn a_failing_migration_step_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        drop(open(&path, &DB1).unwrap());
        let broken = VersionedDb {
            migrations: &[V1, "CREATE TABLE t2 (a); THIS IS NOT SQL;"],
            ..DB1
        };
        let e = open(&path, &broken).unwrap_err();
        assert!(matches!(e, OpenError::Sqlite { .. }), "{e:?}");
        let c = Connection::open(&path).unwrap();
        assert_eq!(pragma(&c, "user_version"), 1);
        let t2: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 't2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(t2, 0);
    }
}
