//! The PostgreSQL backend of [`SogsStore`](super::SogsStore) (`database_url =
//! "postgres://…"`): the same tables and the same rules as the SQLite backend
//! ([`super::sqlite`]), statement by statement where the dialects allow.
//!
//! # Design
//!
//! * **Schema** ([`SCHEMA_V1`], `schema_v1.sql`): PySOGS's tables (community-server spec
//!   §8) with BIGINT identity ids, BYTEA bytes, DOUBLE PRECISION Unix-second times and
//!   BOOLEAN flags; tokens are unique case-insensitively through a unique index on
//!   `lower(token)` (no extension needed); session ids and tokens sort in the `"C"`
//!   collation, byte order like SQLite. No triggers: the store's methods apply the
//!   counter, history and expiry rules in their transaction, exactly as the SQLite
//!   backend does, so both share the semantics of [`super`].
//! * **Versioned.** The table `sogs_schema_version` holds [`SCHEMA_VERSION`];
//!   [`MIGRATIONS`] are applied one step per transaction at [`PostgresStore::connect`],
//!   under an advisory lock so that two servers starting at once do not both migrate. A
//!   newer schema is refused ([`StoreError::TooNew`]); a schema with community-server
//!   tables but no version table (PySOGS's own PostgreSQL database, say) is refused as
//!   [`StoreError::NotADatabase`] rather than written into.
//! * **Transactions.** Every trait method is one transaction, retried as a whole on a
//!   serialization failure or deadlock (SQLSTATE 40001/40P01). Reading methods run in
//!   `REPEATABLE READ READ ONLY` snapshots: consistent across their statements, never
//!   blocking, never failing to serialize. Writing methods run in `READ COMMITTED` and
//!   serialise where SQLite's single writer did, with row locks taken up front, always
//!   in the same order (rooms by id, then users) so that they cannot deadlock each
//!   other: a room-scoped change first locks its room row (`FOR NO KEY UPDATE`), which
//!   makes the read-check-write sequences of one room (sequence numbers, edits against
//!   deletions, override rows, pins) run one after the other, and hands out seqnos in
//!   commit order; a change of a user's global flags locks that user's row; the global
//!   moderator change and the cleanup lock every room. Hot paths that only upsert
//!   (`record_activity`, `touch_user`, `use_nonce`, `ensure_user`) take no room lock.
//! * **Connections.** A small pool ([`POOL_SIZE`] connections, opened lazily, a broken
//!   one discarded and a transaction that failed on it run again on another when it had
//!   not reached its commit: after a server restart every idle connection is dead), so
//!   that handlers running in parallel do not queue on one connection. Each connection
//!   caches its prepared statements, so a statement costs one round trip.
//! * **Async callers.** The `postgres` crate's client drives its own small Tokio
//!   runtime, which must not be entered from inside another runtime's thread. Called
//!   from plain threads, a method runs right there; called from any thread that belongs
//!   to a Tokio runtime (an async task, or `spawn_blocking` as the HTTP server does), it
//!   runs on a scoped helper thread, which costs a thread start (tens of microseconds)
//!   and makes it safe everywhere. Connections are closed the same way. Threads that
//!   are known to be `spawn_blocking` threads (the HTTP server's store calls, marked
//!   with [`super::blocking_section`]) may block, so calls there run in place.
//! * **Secrets.** Neither errors nor `Debug` show the password: the store names its
//!   database as `postgres://user@host:port/dbname`.

mod queries;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls, Statement};

use super::{Result, Retention, StoreError, lock};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Schema version 1 (see `schema_v1.sql`).
pub const SCHEMA_V1: &str = include_str!("schema_v1.sql");

/// The migrations: entry `n` takes the schema from version `n` to `n + 1`.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1];
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// The most connections one store opens.
pub const POOL_SIZE: usize = 8;

/// How often a transaction is retried after a serialization failure or deadlock.
const MAX_RETRIES: u32 = 12;

/// The table holding the schema version.
const VERSION_TABLE: &str = "sogs_schema_version";

/// A pooled connection with its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Failures inside a transaction: PostgreSQL's, the store's own, or a stored value that
/// does not decode.
#[derive(Debug)]
enum Fail {
    Pg(postgres::Error),
    Store(StoreError),
    Data(String),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

type R<T> = std::result::Result<T, Fail>;

/// Which kind of transaction a method needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `REPEATABLE READ READ ONLY`.
    Read,
    /// `READ COMMITTED`, with explicit row locks.
    Write,
}

/// A transaction with the connection's statement cache.
struct Db<'t, 'c> {
    tx: postgres::Transaction<'c>,
    statements: &'t mut HashMap<String, Statement>,
}

type Params<'a> = &'a [&'a (dyn postgres::types::ToSql + Sync)];

impl Db<'_, '_> {
    fn statement(&mut self, sql: &str) -> R<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> R<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    fn one(&mut self, sql: &str, params: Params<'_>) -> R<postgres::Row> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }

    fn opt(&mut self, sql: &str, params: Params<'_>) -> R<Option<postgres::Row>> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }

    fn exec(&mut self, sql: &str, params: Params<'_>) -> R<u64> {
        let s = self.statement(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }
}

/// The connections of one store: idle ones, and how many are open in all.
struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

/// The PostgreSQL community-server store.
pub struct PostgresStore {
    config: postgres::Config,
    /// `postgres://user@host:port/dbname`, without the password.
    target: String,
    retention: Retention,
    pool: Pool,
    /// A schema made for this store alone (tests), dropped with it.
    owned_schema: Option<String>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("schema", &self.owned_schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/dbname`, or any libpq-style
    /// string the `postgres` crate accepts) and brings the schema up to date, creating
    /// it in an empty database. The tables go to the connection's default schema (the
    /// first of its `search_path`, normally `public`).
    pub fn connect(url: &str, retention: Retention) -> Result<Self> {
        let config = parse_url(url)?;
        off_runtime(|| Self::open(config, retention, None))
    }

    /// Connects to `url` and creates a fresh schema with a unique name that only this
    /// store uses (its connections' `search_path`), dropped when the store is dropped.
    /// For tests: each gets an empty database without needing one of its own.
    pub fn connect_fresh_schema(url: &str, retention: Retention) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = parse_url(url)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "sogs_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        off_runtime(|| {
            let target = describe(&base);
            let mut client = base.connect(NoTls).map_err(|e| pg_error(&target, &e))?;
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .map_err(|e| pg_error(&target, &e))?;
            drop(client);
            let mut config = base.clone();
            let options = match base.get_options() {
                Some(o) if !o.trim().is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(&options);
            Self::open(config, retention, Some(schema.clone()))
        })
    }

    /// The database, as `postgres://user@host:port/dbname` (never with the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    fn open(
        mut config: postgres::Config,
        retention: Retention,
        owned_schema: Option<String>,
    ) -> Result<Self> {
        if config.get_application_name().is_none() {
            config.application_name("session-sogs");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let store = Self {
            target: describe(&config),
            config,
            retention,
            pool: Pool {
                state: Mutex::new(PoolState {
                    idle: Vec::new(),
                    open: 0,
                }),
                freed: Condvar::new(),
            },
            owned_schema,
        };
        let mut conn = store.get_conn()?;
        let migrated = migrate(&mut conn.client, &store.target);
        store.put_conn(conn, migrated.is_ok());
        migrated?;
        Ok(store)
    }

    fn new_conn(&self) -> Result<Conn> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| pg_error(&self.target, &e))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// An idle connection, a new one while fewer than [`POOL_SIZE`] are open, or the
    /// next one given back.
    fn get_conn(&self) -> Result<Conn> {
        let mut st = lock(&self.pool.state);
        loop {
            if let Some(c) = st.idle.pop() {
                return Ok(c);
            }
            if st.open < POOL_SIZE {
                st.open += 1;
                drop(st);
                return self.new_conn().inspect_err(|_| {
                    lock(&self.pool.state).open -= 1;
                    self.pool.freed.notify_one();
                });
            }
            st = match self.pool.freed.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    /// Gives a connection back, or closes it (`keep` false, or it is closed).
    fn put_conn(&self, conn: Conn, keep: bool) {
        let mut st = lock(&self.pool.state);
        if keep && !conn.client.is_closed() {
            st.idle.push(conn);
        } else {
            st.open = st.open.saturating_sub(1);
            drop(st);
            drop(conn);
        }
        self.pool.freed.notify_one();
    }

    /// Runs `f` as one transaction (see the module documentation), retried on
    /// serialization failures and deadlocks.
    fn tx<T: Send>(&self, mode: Mode, f: impl FnMut(&mut Db<'_, '_>) -> R<T> + Send) -> Result<T> {
        off_runtime(|| self.tx_here(mode, f))
    }

    fn tx_here<T>(&self, mode: Mode, mut f: impl FnMut(&mut Db<'_, '_>) -> R<T>) -> Result<T> {
        let mut retries = 0;
        let mut reconnects = 0;
        loop {
            let mut conn = self.get_conn()?;
            let (result, committing) = run_once(&mut conn, mode, &mut f);
            let broken = conn.client.is_closed();
            self.put_conn(conn, !broken);
            let e = match result {
                Ok(v) => return Ok(v),
                Err(Fail::Store(e)) => return Err(e),
                Err(Fail::Data(d)) => {
                    return Err(StoreError::Database {
                        path: self.target.clone(),
                        detail: d,
                    });
                }
                Err(Fail::Pg(e)) => e,
            };
            let transient = matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
            );
            if transient && retries < MAX_RETRIES {
                retries += 1;
                std::thread::sleep(backoff(retries));
                continue;
            }
            // A connection the server closed while idle (restart, idle timeout): the
            // transaction did not commit, so run it again on another connection (every
            // idle one may be dead: up to the pool's size, then a fresh one).
            if broken && !committing && reconnects <= POOL_SIZE {
                reconnects += 1;
                continue;
            }
            return Err(pg_error(&self.target, &e));
        }
    }
}

/// One attempt: the transaction's result and whether it failed at its commit.
fn run_once<T>(
    conn: &mut Conn,
    mode: Mode,
    f: &mut impl FnMut(&mut Db<'_, '_>) -> R<T>,
) -> (R<T>, bool) {
    let Conn { client, statements } = conn;
    let builder = match mode {
        Mode::Read => client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true),
        Mode::Write => client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted),
    };
    let tx = match builder.start() {
        Ok(tx) => tx,
        Err(e) => return (Err(e.into()), false),
    };
    let mut db = Db { tx, statements };
    let value = match f(&mut db) {
        Ok(v) => v,
        // Dropping the transaction rolls it back.
        Err(e) => return (Err(e), false),
    };
    match db.tx.commit() {
        Ok(()) => (Ok(value), false),
        Err(e) => (Err(e.into()), true),
    }
}

/// A growing, jittered pause before retry `n` (1 ms, 2 ms, 4 ms, … up to ~64 ms).
fn backoff(n: u32) -> Duration {
    let base = 1u64 << n.min(6);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % 1000;
    Duration::from_micros(base * 1000 + jitter * base)
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.pool.state).idle);
        let schema = self.owned_schema.take();
        let (config, target) = (&self.config, &self.target);
        off_runtime(move || {
            let mut idle = idle;
            if let Some(schema) = schema {
                // Best effort: a test schema left behind only costs space on a
                // throwaway server.
                let client = match idle.pop() {
                    Some(c) => Ok(c.client),
                    None => config.connect(NoTls),
                };
                match client {
                    Ok(mut c) => {
                        if let Err(e) = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")) {
                            tracing::debug!(%target, %schema, "cannot drop test schema: {e}");
                        }
                    }
                    Err(e) => tracing::debug!(%target, %schema, "cannot drop test schema: {e}"),
                }
            }
            drop(idle);
        });
    }
}

/// Runs `f` here, or on a scoped helper thread when this thread belongs to a Tokio
/// runtime (see the module documentation). A panic in `f` is passed on.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() || super::on_blocking_thread() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Parses a database URL; the error never repeats the URL (it may hold a password).
fn parse_url(url: &str) -> Result<postgres::Config> {
    url.parse::<postgres::Config>()
        .map_err(|e| StoreError::Invalid {
            what: "database_url",
            reason: format!("{}: {}", redact(url), chain(&e)),
        })
}

/// `postgres://user@host:port/dbname` for messages: never the password.
fn describe(config: &postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// A database URL with its password (in the user info or a `password=` parameter)
/// replaced by `***`.
fn redact(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{tail}")
        }
        None => url.to_owned(),
    };
    // `password=…` in a query string or a key=value connection string.
    let mut from = 0;
    while let Some(i) = out[from..].find("password=") {
        let start = from + i + "password=".len();
        let value_end = out[start..]
            .find(['&', ' ', '\t', '\n'])
            .map_or(out.len(), |j| start + j);
        out.replace_range(start..value_end, "***");
        from = start + 3;
    }
    out
}

/// A PostgreSQL error as a [`StoreError`], with the server's message and detail.
fn pg_error(target: &str, e: &postgres::Error) -> StoreError {
    let detail = match e.as_db_error() {
        Some(db) => {
            let mut s = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(d) = db.detail() {
                s.push_str("; ");
                s.push_str(d);
            }
            s
        }
        None => chain(e),
    };
    StoreError::Database {
        path: target.to_owned(),
        detail,
    }
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Brings the schema up to [`SCHEMA_VERSION`], one version per transaction; refuses a
/// newer one and a foreign one.
fn migrate(client: &mut Client, target: &str) -> Result<()> {
    let err = |e: postgres::Error| pg_error(target, &e);
    loop {
        let mut tx = client.transaction().map_err(err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('session-sogs schema ' || \
             coalesce(current_schema(), '')))",
            &[],
        )
        .map_err(err)?;
        let has_version: bool = tx
            .query_one(
                &format!("SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL"),
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(err)?;
        let version: i64 = if has_version {
            tx.query_opt(&format!("SELECT version FROM {VERSION_TABLE}"), &[])
                .and_then(|r| r.map(|r| r.try_get(0)).transpose())
                .map_err(err)?
                .unwrap_or(0)
        } else {
            let foreign: bool = tx
                .query_one(
                    "SELECT to_regclass('rooms') IS NOT NULL OR to_regclass('messages') IS NOT NULL",
                    &[],
                )
                .and_then(|r| r.try_get(0))
                .map_err(err)?;
            if foreign {
                return Err(StoreError::NotADatabase {
                    path: target.to_owned(),
                    detail: "its schema has community-server tables but no session schema \
                             version (another program's database, e.g. PySOGS's)"
                        .into(),
                });
            }
            0
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: target.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == SCHEMA_VERSION {
            tx.commit().map_err(err)?;
            return Ok(());
        }
        let step = usize::try_from(version).unwrap_or(0);
        let sql = MIGRATIONS
            .get(step)
            .ok_or_else(|| StoreError::NotADatabase {
                path: target.to_owned(),
                detail: format!("schema version {version} is not one this build knows"),
            })?;
        tx.batch_execute(sql).map_err(err)?;
        if has_version {
            tx.execute(
                &format!("UPDATE {VERSION_TABLE} SET version = $1"),
                &[&(version + 1)],
            )
            .map_err(err)?;
        } else {
            tx.batch_execute(&format!(
                "CREATE TABLE {VERSION_TABLE} (
                     only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                     version BIGINT NOT NULL
                 );
                 INSERT INTO {VERSION_TABLE} (version) VALUES ({});",
                version + 1
            ))
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        tracing::info!(%target, "community-server schema migrated to version {}", version + 1);
    }
}

#[cfg(test)]
mod tests;
