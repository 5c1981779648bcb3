//! SQLite backend (file `storage.db`): WAL, `synchronous=NORMAL`, foreign keys, the
//! reference's owners/messages split (spec §5.3), one writer thread and a pool of
//! readers.
//!
//! **Group commit.** Every write goes to the writer thread, which takes whatever writes
//! are queued (up to 256), runs each inside its own savepoint of one transaction and
//! commits once; only then are the callers answered. An acknowledged write is therefore
//! committed to the WAL and survives a crash of the process. If the transaction as a
//! whole fails (for instance `SQLITE_FULL` rolling it back), every write of the batch is
//! re-run in a transaction of its own so that one failure never fails its neighbours.
//!
//! **Checkpoints** (copying the WAL back into the database, with its fsync) run on a
//! separate thread: passive ones every 500 ms, and a RESTART when the WAL passes 16,384
//! pages so that the file starts over. Commits never wait for a checkpoint.
//!
//! Deliberate differences from v2.8.0: the index on `messages(owner, namespace)` (rowid
//! order within an owner's namespace, which is retrieve order) replaces
//! `(owner, namespace, timestamp)`, the redundant second index on `hash` is not created,
//! and an owner row is kept while it has revoked subaccounts (so revocations do not
//! silently vanish with the account's last message, quirk §10.8).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    ExpireMode, MessageStore, NewMessage, RetrieveLimits, Retrieved, StoreFuture, StoreOutcome,
    StoredMessage, collect_limited, lock, ready,
};
use crate::error::{NodeError, Result};
use crate::limits::MAX_SUBACCOUNT_TOKENS;
use crate::types::{Namespace, NsSelector, SubaccountToken, UserPubkey};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "storage.db";

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;
// The trigger `revoked_autoclean` in SCHEMA keeps this many revocations per owner.
const _: () = assert!(MAX_SUBACCOUNT_TOKENS == 50);

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 16;

/// The schema (version 1).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY,
    type INTEGER NOT NULL,
    pubkey BLOB NOT NULL,
    UNIQUE(pubkey, type)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    owner INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    namespace INTEGER NOT NULL DEFAULT 0,
    timestamp INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages(expiry);
CREATE INDEX IF NOT EXISTS messages_owner ON messages(owner, namespace);
CREATE TABLE IF NOT EXISTS revoked_subaccounts (
    owner INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    token BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY(owner, token)
);
CREATE TRIGGER IF NOT EXISTS owner_autoclean AFTER DELETE ON messages FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE owner = old.owner)
 AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = old.owner)
BEGIN
    DELETE FROM owners WHERE id = old.owner;
END;
CREATE TRIGGER IF NOT EXISTS revoked_autoclean AFTER INSERT ON revoked_subaccounts
BEGIN
    DELETE FROM revoked_subaccounts WHERE owner = NEW.owner AND rowid NOT IN (
        SELECT rowid FROM revoked_subaccounts WHERE owner = NEW.owner
        ORDER BY timestamp DESC, rowid DESC LIMIT 50);
END;
CREATE VIEW IF NOT EXISTS owned_messages AS
    SELECT owners.id AS oid, type, pubkey, messages.id AS mid, hash, namespace, timestamp,
           expiry, data
    FROM messages JOIN owners ON messages.owner = owners.id;
";

/// Opens a connection with the node's pragmas (WAL, `synchronous=NORMAL`, foreign keys,
/// 15 s busy timeout) and, if `size_limit` is given, the page cap that makes writes
/// fail with `SQLITE_FULL` beyond it. Creates the schema when `create` is set.
pub fn open_connection(path: &Path, size_limit: Option<u64>, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(15))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints (and their fsyncs) run on the store's checkpoint thread, never in a
    // commit; durability is unchanged, commits are in the WAL.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    if create {
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", 1)?;
    }
    if let Some(limit) = size_limit {
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = i64::try_from(limit).unwrap_or(i64::MAX) / page_size.max(512);
        // SQLite answers with the effective value; it never drops below the current size.
        let _: i64 = conn.query_row(
            &format!("PRAGMA max_page_count = {}", pages.max(1)),
            [],
            |r| r.get(0),
        )?;
    }
    Ok(conn)
}

trait WriteJob: Send {
    /// Runs the write; an error means this write failed (its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()>;
    /// Records a failure.
    fn fail(&mut self, e: NodeError);
    /// Answers the caller.
    fn finish(self: Box<Self>);
}

struct Job<F, R> {
    f: F,
    result: Option<Result<R>>,
    reply: tokio::sync::oneshot::Sender<Result<R>>,
}

impl<F, R> WriteJob for Job<F, R>
where
    F: FnMut(&Connection) -> rusqlite::Result<R> + Send,
    R: Send,
{
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let r = (self.f)(conn)?;
        self.result = Some(Ok(r));
        Ok(())
    }

    fn fail(&mut self, e: NodeError) {
        self.result = Some(Err(e));
    }

    fn finish(self: Box<Self>) {
        let r = self
            .result
            .unwrap_or_else(|| Err(NodeError::Internal("write was never run".into())));
        let _ = self.reply.send(r);
    }
}

/// A stop request for a background thread: the flag and the condition it waits on.
type StopFlag = (Mutex<bool>, Condvar);

/// The SQLite message store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Option<mpsc::Sender<Box<dyn WriteJob>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    checkpointer: Option<(Arc<StopFlag>, std::thread::JoinHandle<()>)>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for dyn WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteJob")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/storage.db` with a size cap of `size_limit` bytes.
    pub fn open(dir: &Path, size_limit: u64) -> Result<Self> {
        Self::open_file(&dir.join(DB_FILE), size_limit)
    }

    /// Opens (creating if needed) the database file at `path`.
    pub fn open_file(path: &Path, size_limit: u64) -> Result<Self> {
        let conn = open_connection(path, Some(size_limit), true)?;
        let ckpt_conn = open_connection(path, None, false)?;
        let stop: Arc<StopFlag> = Arc::new((Mutex::new(false), Condvar::new()));
        let ckpt_stop = stop.clone();
        let ckpt = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&ckpt_conn, &ckpt_stop))
            .map_err(|e| NodeError::Io {
                what: "spawn the database checkpoint thread".into(),
                source: e,
            })?;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx))
            .map_err(|e| NodeError::Io {
                what: "spawn the database writer thread".into(),
                source: e,
            })?;
        Ok(Self {
            path: path.to_owned(),
            writer: Some(tx),
            thread: Some(thread),
            checkpointer: Some((stop, ckpt)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Queues `f` for the writer thread, which runs it inside a transaction; the future
    /// resolves once that transaction is committed.
    fn write<R, F>(&self, f: F) -> StoreFuture<R>
    where
        F: FnMut(&Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Box::new(Job {
            f,
            result: None,
            reply,
        });
        let sent = match &self.writer {
            Some(w) => w.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return ready(Err(NodeError::Internal("database writer stopped".into())));
        }
        Box::pin(async move {
            rx.await
                .map_err(|_| NodeError::Internal("database writer stopped".into()))?
        })
    }

    /// Runs `f` on a pooled reader connection.
    fn read<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path, None, false)?,
        };
        let r = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        Ok(r?)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish every queued write, then exit.
        self.writer.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((stop, t)) = self.checkpointer.take() {
            *lock(&stop.0) = true;
            stop.1.notify_all();
            let _ = t.join();
        }
    }
}

/// How often the checkpoint thread copies the WAL back into the database.
const CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);
/// WAL frames (pages) beyond which a blocking RESTART checkpoint resets the WAL; under
/// continuous writes passive checkpoints alone never let it start over.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Passive checkpoints (they never block the writer) every half second, and a RESTART
/// when the WAL has grown large, so the WAL file starts over.
fn checkpoint_loop(conn: &Connection, stop: &StopFlag) {
    loop {
        {
            let guard = lock(&stop.0);
            let (guard, _) = match stop.1.wait_timeout(guard, CHECKPOINT_PERIOD) {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            if *guard {
                return;
            }
        }
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        match frames {
            Ok(n) if n > WAL_RESTART_FRAMES => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                    tracing::warn!("WAL restart checkpoint failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("WAL checkpoint failed: {e}"),
        }
    }
}

fn writer_loop(conn: &Connection, rx: &mpsc::Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        run_batch(conn, &mut batch);
        for job in batch {
            job.finish();
        }
    }
    // Checkpoint so that a cleanly stopped node leaves a compact database.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

fn run_single(conn: &Connection, job: &mut Box<dyn WriteJob>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        job.fail(e.into());
        return;
    }
    match job.run(conn) {
        Ok(()) => {
            if let Err(e) = conn.execute_batch("COMMIT") {
                rollback(conn);
                job.fail(e.into());
            }
        }
        Err(e) => {
            rollback(conn);
            job.fail(e.into());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) {
    if batch.len() == 1 {
        run_single(conn, &mut batch[0]);
        return;
    }
    let mut intact = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
    if intact {
        for job in batch.iter_mut() {
            if conn.execute_batch("SAVEPOINT w").is_err() {
                intact = false;
                break;
            }
            match job.run(conn) {
                Ok(()) => {
                    if conn.execute_batch("RELEASE w").is_err() {
                        intact = false;
                        break;
                    }
                }
                Err(e) => {
                    // SQLite may have rolled back the whole transaction (e.g. SQLITE_FULL).
                    if conn.is_autocommit()
                        || conn.execute_batch("ROLLBACK TO w; RELEASE w").is_err()
                    {
                        intact = false;
                        break;
                    }
                    job.fail(e.into());
                }
            }
        }
    }
    if intact && conn.execute_batch("COMMIT").is_ok() {
        return;
    }
    rollback(conn);
    for job in batch.iter_mut() {
        run_single(conn, job);
    }
}

fn owner_id(conn: &Connection, pk: &UserPubkey) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM owners WHERE pubkey = ?1 AND type = ?2")?
        .query_row(params![&pk.key()[..], pk.prefix()], |r| r.get(0))
        .optional()
}

fn owner_id_or_insert(conn: &Connection, pk: &UserPubkey) -> rusqlite::Result<i64> {
    if let Some(id) = owner_id(conn, pk)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO owners (pubkey, type) VALUES (?1, ?2)")?
        .execute(params![&pk.key()[..], pk.prefix()])?;
    Ok(conn.last_insert_rowid())
}

fn ns_list(
    conn: &Connection,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<(Namespace, String)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| Ok((Namespace(r.get(0)?), r.get::<_, String>(1)?)))?;
    rows.collect()
}

fn store_tx(conn: &Connection, msg: &NewMessage, replace: bool) -> rusqlite::Result<StoreOutcome> {
    let pk = &msg.pubkey;
    if replace {
        conn.prepare_cached(
            "DELETE FROM messages WHERE owner = (SELECT id FROM owners WHERE pubkey = ?1 AND type = ?2)
             AND namespace = ?3 AND hash != ?4",
        )?
        .execute(params![&pk.key()[..], pk.prefix(), msg.namespace.0, msg.hash])?;
    }
    let owner = owner_id_or_insert(conn, pk)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hash) DO NOTHING",
        )?
        .execute(params![
            msg.hash,
            owner,
            msg.namespace.0,
            msg.timestamp,
            msg.expiry,
            msg.data
        ])?;
    if inserted == 1 {
        return Ok(StoreOutcome::New);
    }
    let extended = conn
        .prepare_cached("UPDATE messages SET expiry = ?1 WHERE hash = ?2 AND expiry < ?1")?
        .execute(params![msg.expiry, msg.hash])?;
    if extended == 1 {
        return Ok(StoreOutcome::Extended);
    }
    let expiry: i64 = conn
        .prepare_cached("SELECT expiry FROM messages WHERE hash = ?1")?
        .query_row(params![msg.hash], |r| r.get(0))?;
    Ok(StoreOutcome::Exists { expiry })
}

/// Bulk insert (spec §5.7): "insert or ignore" by hash, skipping expired messages; the
/// owner row is only created for a message that is actually inserted.
fn insert_bulk_tx(conn: &Connection, messages: &[NewMessage], now: i64) -> rusqlite::Result<usize> {
    let mut exists = conn.prepare_cached("SELECT 1 FROM messages WHERE hash = ?1")?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hash) DO NOTHING",
    )?;
    let mut n = 0;
    for msg in messages {
        if msg.expiry <= now || exists.exists(params![msg.hash])? {
            continue;
        }
        let owner = owner_id_or_insert(conn, &msg.pubkey)?;
        n += insert.execute(params![
            msg.hash,
            owner,
            msg.namespace.0,
            msg.timestamp,
            msg.expiry,
            msg.data
        ])?;
    }
    Ok(n)
}

/// A `(namespace, message)` row of `SELECT namespace, hash, timestamp, expiry, data`.
fn ns_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Namespace, StoredMessage)> {
    Ok((
        Namespace(r.get(0)?),
        StoredMessage {
            hash: r.get(1)?,
            timestamp: r.get(2)?,
            expiry: r.get(3)?,
            data: r.get(4)?,
        },
    ))
}

impl MessageStore for SqliteStore {
    fn store(&self, msg: NewMessage, replace_namespace: bool) -> StoreFuture<StoreOutcome> {
        self.write(move |conn| store_tx(conn, &msg, replace_namespace))
    }

    fn retrieve(
        &self,
        owner: &UserPubkey,
        ns: Namespace,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: i64,
    ) -> StoreFuture<Retrieved> {
        let mut out = None;
        let read = self.read(|conn| {
            let Some(oid) = owner_id(conn, owner)? else {
                return Ok(());
            };
            let start: i64 = match last_hash {
                Some(h) => conn
                    .prepare_cached(
                        "SELECT id FROM messages WHERE hash = ?1 AND owner = ?2 AND namespace = ?3",
                    )?
                    .query_row(params![h, oid, ns.0], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0),
                None => 0,
            };
            let limit: i64 = limits
                .max_count
                .and_then(|c| i64::try_from(c).ok())
                .map_or(-1, |c| c.saturating_add(1));
            let mut stmt = conn.prepare_cached(
                "SELECT hash, timestamp, expiry, data FROM messages
                 WHERE owner = ?1 AND namespace = ?2 AND id > ?3 AND expiry > ?4
                 ORDER BY id LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![oid, ns.0, start, now, limit], |r| {
                Ok(StoredMessage {
                    hash: r.get(0)?,
                    timestamp: r.get(1)?,
                    expiry: r.get(2)?,
                    data: r.get(3)?,
                })
            })?;
            out = Some(collect_limited(
                rows.map(|r| r.map_err(NodeError::from)),
                limits,
            ));
            Ok(())
        });
        ready(read.and_then(|()| out.unwrap_or_else(|| Ok(Retrieved::default()))))
    }

    fn delete_by_hash(&self, owner: &UserPubkey, hashes: &[String]) -> StoreFuture<Vec<String>> {
        let owner = *owner;
        let hashes = hashes.to_vec();
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(Vec::new());
            };
            let mut stmt = conn.prepare_cached(
                "DELETE FROM messages WHERE owner = ?1 AND hash = ?2 RETURNING hash",
            )?;
            let mut out = Vec::new();
            for h in &hashes {
                if let Some(d) = stmt.query_row(params![oid, h], |r| r.get(0)).optional()? {
                    out.push(d);
                }
            }
            Ok(out)
        })
    }

    fn delete_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        let owner = *owner;
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(Vec::new());
            };
            match ns {
                NsSelector::All => ns_list(
                    conn,
                    "DELETE FROM messages WHERE owner = ?1 RETURNING namespace, hash",
                    &[&oid],
                ),
                NsSelector::One(n) => ns_list(
                    conn,
                    "DELETE FROM messages WHERE owner = ?1 AND namespace = ?2 RETURNING namespace, hash",
                    &[&oid, &n.0],
                ),
            }
        })
    }

    fn delete_before(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        before: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        let owner = *owner;
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(Vec::new());
            };
            match ns {
                NsSelector::All => ns_list(
                    conn,
                    "DELETE FROM messages WHERE owner = ?1 AND timestamp <= ?2 RETURNING namespace, hash",
                    &[&oid, &before],
                ),
                NsSelector::One(n) => ns_list(
                    conn,
                    "DELETE FROM messages WHERE owner = ?1 AND namespace = ?3 AND timestamp <= ?2
                     RETURNING namespace, hash",
                    &[&oid, &before, &n.0],
                ),
            }
        })
    }

    fn shorten_all(
        &self,
        owner: &UserPubkey,
        ns: NsSelector,
        expiry: i64,
    ) -> StoreFuture<Vec<(Namespace, String)>> {
        let owner = *owner;
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(Vec::new());
            };
            match ns {
                NsSelector::All => ns_list(
                    conn,
                    "UPDATE messages SET expiry = ?2 WHERE owner = ?1 AND expiry > ?2
                     RETURNING namespace, hash",
                    &[&oid, &expiry],
                ),
                NsSelector::One(n) => ns_list(
                    conn,
                    "UPDATE messages SET expiry = ?2 WHERE owner = ?1 AND namespace = ?3 AND expiry > ?2
                     RETURNING namespace, hash",
                    &[&oid, &expiry, &n.0],
                ),
            }
        })
    }

    fn update_expiries(
        &self,
        owner: &UserPubkey,
        updates: &[(String, i64)],
        mode: ExpireMode,
    ) -> StoreFuture<Vec<(String, i64)>> {
        let owner = *owner;
        let updates = updates.to_vec();
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(Vec::new());
            };
            let sql = match mode {
                ExpireMode::Any => {
                    "UPDATE messages SET expiry = ?3 WHERE owner = ?1 AND hash = ?2 RETURNING hash"
                }
                ExpireMode::ExtendOnly => {
                    "UPDATE messages SET expiry = ?3 WHERE owner = ?1 AND hash = ?2 AND expiry < ?3
                     RETURNING hash"
                }
                ExpireMode::ShortenOnly => {
                    "UPDATE messages SET expiry = ?3 WHERE owner = ?1 AND hash = ?2 AND expiry > ?3
                     RETURNING hash"
                }
            };
            let mut stmt = conn.prepare_cached(sql)?;
            let mut out = Vec::new();
            for (h, e) in &updates {
                if let Some(hash) = stmt
                    .query_row(params![oid, h, e], |r| r.get::<_, String>(0))
                    .optional()?
                {
                    out.push((hash, *e));
                }
            }
            Ok(out)
        })
    }

    fn get_expiries(
        &self,
        owner: &UserPubkey,
        hashes: &[String],
    ) -> StoreFuture<BTreeMap<String, i64>> {
        ready(self.read(|conn| {
            let mut out = BTreeMap::new();
            let Some(oid) = owner_id(conn, owner)? else {
                return Ok(out);
            };
            let mut stmt =
                conn.prepare_cached("SELECT expiry FROM messages WHERE owner = ?1 AND hash = ?2")?;
            for h in hashes {
                if let Some(e) = stmt.query_row(params![oid, h], |r| r.get(0)).optional()? {
                    out.insert(h.clone(), e);
                }
            }
            Ok(out)
        }))
    }

    fn revoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
        now: i64,
    ) -> StoreFuture<()> {
        let owner = *owner;
        let tokens = tokens.to_vec();
        self.write(move |conn| {
            let oid = owner_id_or_insert(conn, &owner)?;
            let mut stmt = conn.prepare_cached(
                "INSERT INTO revoked_subaccounts (owner, token, timestamp) VALUES (?1, ?2, ?3)
                 ON CONFLICT(owner, token) DO UPDATE SET timestamp = excluded.timestamp",
            )?;
            for t in &tokens {
                stmt.execute(params![oid, &t.0[..], now])?;
            }
            Ok(())
        })
    }

    fn unrevoke_subaccounts(
        &self,
        owner: &UserPubkey,
        tokens: &[SubaccountToken],
    ) -> StoreFuture<usize> {
        let owner = *owner;
        let tokens = tokens.to_vec();
        self.write(move |conn| {
            let Some(oid) = owner_id(conn, &owner)? else {
                return Ok(0);
            };
            let mut n = 0;
            {
                let mut stmt = conn.prepare_cached(
                    "DELETE FROM revoked_subaccounts WHERE owner = ?1 AND token = ?2",
                )?;
                for t in &tokens {
                    n += stmt.execute(params![oid, &t.0[..]])?;
                }
            }
            conn.prepare_cached(
                "DELETE FROM owners WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE owner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = ?1)",
            )?
            .execute(params![oid])?;
            Ok(n)
        })
    }

    fn is_revoked(&self, owner: &UserPubkey, token: &SubaccountToken) -> StoreFuture<bool> {
        ready(self.read(|conn| {
            conn.prepare_cached(
                "SELECT 1 FROM revoked_subaccounts JOIN owners ON owners.id = revoked_subaccounts.owner
                 WHERE owners.pubkey = ?1 AND owners.type = ?2 AND token = ?3",
            )?
            .query_row(params![&owner.key()[..], owner.prefix(), &token.0[..]], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
        }))
    }

    fn delete_expired(&self, now: i64) -> StoreFuture<usize> {
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM messages WHERE expiry <= ?1")?
                .execute(params![now])
        })
    }

    fn message_count(&self) -> StoreFuture<usize> {
        ready(self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))
                .map(|n| usize::try_from(n).unwrap_or(0))
        }))
    }

    fn owner_count(&self) -> StoreFuture<usize> {
        ready(self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM owners", [], |r| r.get::<_, i64>(0))
                .map(|n| usize::try_from(n).unwrap_or(0))
        }))
    }

    fn owners(&self) -> StoreFuture<Vec<UserPubkey>> {
        ready(self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT type, pubkey FROM owners
                 WHERE EXISTS (SELECT 1 FROM messages WHERE owner = owners.id)",
            )?;
            let rows = stmt.query_map([], |r| Ok(UserPubkey::new(r.get(0)?, r.get(1)?)))?;
            rows.collect()
        }))
    }

    fn dump_owner(
        &self,
        owner: &UserPubkey,
        now: i64,
    ) -> StoreFuture<Vec<(Namespace, StoredMessage)>> {
        ready(self.read(|conn| {
            let Some(oid) = owner_id(conn, owner)? else {
                return Ok(Vec::new());
            };
            let mut stmt = conn.prepare_cached(
                "SELECT namespace, hash, timestamp, expiry, data FROM messages
                 WHERE owner = ?1 AND expiry > ?2 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![oid, now], ns_message)?;
            rows.collect()
        }))
    }

    fn insert_bulk(&self, messages: Vec<NewMessage>, now: i64) -> StoreFuture<usize> {
        if messages.is_empty() {
            return ready(Ok(0));
        }
        self.write(move |conn| insert_bulk_tx(conn, &messages, now))
    }

    fn get_message(
        &self,
        owner: &UserPubkey,
        hash: &str,
        now: i64,
    ) -> StoreFuture<Option<(Namespace, StoredMessage)>> {
        ready(self.read(|conn| {
            let Some(oid) = owner_id(conn, owner)? else {
                return Ok(None);
            };
            conn.prepare_cached(
                "SELECT namespace, hash, timestamp, expiry, data FROM messages
                 WHERE hash = ?1 AND owner = ?2 AND expiry > ?3",
            )?
            .query_row(params![hash, oid, now], ns_message)
            .optional()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreFutureExt;

    #[test]
    fn retrieve_uses_the_owner_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join(DB_FILE), None, true).unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT hash, timestamp, expiry, data FROM messages
                 WHERE owner = 1 AND namespace = 0 AND id > 0 AND expiry > 0 ORDER BY id LIMIT 5",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(plan.contains("messages_owner"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn swarm_reads_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join(DB_FILE), None, true).unwrap();
        let plan = |sql: &str| -> String {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join(" | ")
        };
        let dump = plan(
            "SELECT namespace, hash, timestamp, expiry, data FROM messages
             WHERE owner = 1 AND expiry > 0 ORDER BY id",
        );
        assert!(dump.contains("messages_owner"), "{dump}");
        let get = plan(
            "SELECT namespace, hash, timestamp, expiry, data FROM messages
             WHERE hash = 'h' AND owner = 1 AND expiry > 0",
        );
        assert!(get.contains("(hash=?)"), "{get}");
        let owners = plan(
            "SELECT type, pubkey FROM owners
             WHERE EXISTS (SELECT 1 FROM messages WHERE owner = owners.id)",
        );
        assert!(owners.contains("COVERING INDEX messages_owner"), "{owners}");
    }

    #[test]
    fn reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let pk = UserPubkey::new(5, [7; 32]);
        {
            let s = SqliteStore::open(dir.path(), u64::MAX).unwrap();
            s.store(
                NewMessage {
                    pubkey: pk,
                    hash: "h".repeat(43),
                    namespace: Namespace(0),
                    timestamp: 1,
                    expiry: 100,
                    data: b"x".to_vec(),
                },
                false,
            )
            .wait()
            .unwrap();
        }
        let s = SqliteStore::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(s.message_count().wait().unwrap(), 1);
    }

    fn bulk(n: usize, size: usize) -> Vec<NewMessage> {
        (0..n)
            .map(|i| {
                let pubkey = UserPubkey::new(5, [u8::try_from(i % 7).unwrap(); 32]);
                let namespace = Namespace(i16::try_from(i % 3).unwrap());
                let data = format!("{i:0>size$}").into_bytes();
                NewMessage {
                    pubkey,
                    hash: crate::types::message_hash(&pubkey, namespace, &data),
                    namespace,
                    timestamp: i64::try_from(i).unwrap(),
                    expiry: 10_000,
                    data,
                }
            })
            .collect()
    }

    #[test]
    fn insert_bulk_is_one_transaction_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        // One transaction: 2,000 messages of 1 kB cannot fit under a 1 MB cap, and the
        // failure leaves none of them behind (separate commits would have kept the first
        // few hundred).
        {
            let s = SqliteStore::open(dir.path(), 1_000_000).unwrap();
            assert!(matches!(
                s.insert_bulk(bulk(2_000, 1_000), 0).wait(),
                Err(NodeError::DatabaseFull)
            ));
            assert_eq!(s.message_count().wait().unwrap(), 0);
            assert_eq!(s.owner_count().wait().unwrap(), 0);
        }
        let batch = bulk(2_000, 100);
        {
            let s = SqliteStore::open(dir.path(), u64::MAX).unwrap();
            assert_eq!(s.insert_bulk(batch.clone(), 0).wait().unwrap(), 2_000);
        }
        let s = SqliteStore::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(s.message_count().wait().unwrap(), 2_000);
        assert_eq!(s.owners().wait().unwrap().len(), 7);
        let owner = batch[3].pubkey;
        let want: Vec<(Namespace, String)> = batch
            .iter()
            .filter(|m| m.pubkey == owner)
            .map(|m| (m.namespace, m.hash.clone()))
            .collect();
        let got: Vec<(Namespace, String)> = s
            .dump_owner(&owner, 0)
            .wait()
            .unwrap()
            .into_iter()
            .map(|(ns, m)| (ns, m.hash))
            .collect();
        assert_eq!(got, want);
        assert_eq!(s.insert_bulk(batch, 0).wait().unwrap(), 0);
    }
}
