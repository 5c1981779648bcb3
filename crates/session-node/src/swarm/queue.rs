//! The persistent queue of failed node-to-node forwards (storage-node spec §5.6, newer
//! versions): when a swarm member misses a client write forwarded to it, the write is
//! queued here per (request, node) and retried with the backoff of [`super::backoff`]
//! until it is delivered, the member leaves the swarm, or 30 days have passed.
//!
//! A trait, [`ForwardQueue`], with two backends passing one shared test suite:
//! [`SqliteForwardQueue`] (file [`QUEUE_DB_FILE`] in the node's data directory, separate
//! from `storage.db`, WAL mode) and [`MemoryForwardQueue`] (for tests). Methods are
//! synchronous: the queue is only written when a forward fails, so a short blocking
//! write is acceptable. Ids are never reused, so a stale id can never touch a newer
//! entry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::backoff::{expired, retry_delay_ms};
use crate::error::{NodeError, Result};
use crate::types::UserPubkey;

/// The queue's database file name inside the data directory.
pub const QUEUE_DB_FILE: &str = "forward_queue.db";

/// A queued forward that failed at least once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingForward {
    /// Assigned by the queue.
    pub id: i64,
    /// Ed25519 key of the swarm member that missed the write.
    pub peer: [u8; 32],
    /// The account the write is for (to check the peer still serves it).
    pub account: UserPubkey,
    /// Storage RPC method, e.g. `"store"`, `"delete"`, `"expire"`.
    pub method: String,
    /// The client's original JSON params object, verbatim text.
    pub params: String,
    /// When the first failure happened, ms.
    pub first_failure_ms: i64,
    /// Failures so far.
    pub attempts: u32,
    /// When the next attempt is due, ms.
    pub next_attempt_ms: i64,
}

/// Persistence of failed forwards awaiting a retry.
pub trait ForwardQueue: Send + Sync + std::fmt::Debug + 'static {
    /// Records a first failure at `now`: attempts = 1, next attempt = now +
    /// `retry_delay_ms(1)`. Returns the id.
    fn push(
        &self,
        peer: [u8; 32],
        account: &UserPubkey,
        method: &str,
        params: &str,
        now_ms: i64,
    ) -> Result<i64>;

    /// Up to `limit` entries with `next_attempt_ms <= now`, oldest next attempt first
    /// (ties in queueing order).
    fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<PendingForward>>;

    /// Another failure of entry `id` at `now`: attempts += 1 and reschedule with the
    /// backoff; if 30 days ([`super::backoff::GIVE_UP_AFTER_MS`]) or more have passed
    /// since its first failure it is removed instead. Returns whether it is still
    /// queued (`false` too for an unknown id).
    fn failed_again(&self, id: i64, now_ms: i64) -> Result<bool>;

    /// Removes entry `id` (delivered, or dropped); an unknown id is not an error.
    fn remove(&self, id: i64) -> Result<()>;

    /// Removes every entry for `peer` (it left the swarm). Returns how many.
    fn remove_peer(&self, peer: &[u8; 32]) -> Result<usize>;

    /// Number of queued entries.
    fn len(&self) -> Result<usize>;

    /// Whether the queue is empty.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The earliest `next_attempt_ms`, if any (the retry worker sleeps until then).
    fn next_due_ms(&self) -> Result<Option<i64>>;
}

/// `now + retry_delay_ms(attempts)`, saturating.
fn next_attempt(now_ms: i64, attempts: u32) -> i64 {
    now_ms.saturating_add(i64::try_from(retry_delay_ms(attempts)).unwrap_or(i64::MAX))
}

// ── SQLite ──────────────────────────────────────────────────────────────────────────

/// The schema (version 1). `AUTOINCREMENT` keeps ids from ever being reused.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS forwards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    peer BLOB NOT NULL,
    account_type INTEGER NOT NULL,
    account BLOB NOT NULL,
    method TEXT NOT NULL,
    params TEXT NOT NULL,
    first_failure INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS forwards_next ON forwards(next_attempt, id);
CREATE INDEX IF NOT EXISTS forwards_peer ON forwards(peer);
";

/// The queue in its own SQLite file, `forward_queue.db`.
#[derive(Debug)]
pub struct SqliteForwardQueue {
    conn: Mutex<Connection>,
}

impl SqliteForwardQueue {
    /// Opens (creating if needed) `dir/forward_queue.db`.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_file(&dir.join(QUEUE_DB_FILE))
    }

    /// Opens (creating if needed) the queue database at `path`: WAL,
    /// `synchronous=NORMAL`, 15 s busy timeout. Unlike the message store's
    /// connections, SQLite's automatic checkpoints stay on (no checkpoint thread here).
    pub fn open_file(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(15))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", 1)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const COLUMNS: &str =
    "id, peer, account_type, account, method, params, first_failure, attempts, next_attempt";

fn row_forward(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingForward> {
    Ok(PendingForward {
        id: r.get(0)?,
        peer: r.get(1)?,
        account: UserPubkey::new(r.get(2)?, r.get(3)?),
        method: r.get(4)?,
        params: r.get(5)?,
        first_failure_ms: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_ms: r.get(8)?,
    })
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl ForwardQueue for SqliteForwardQueue {
    fn push(
        &self,
        peer: [u8; 32],
        account: &UserPubkey,
        method: &str,
        params: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO forwards (peer, account_type, account, method, params, first_failure,
                                   attempts, next_attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
        )?
        .execute(params![
            &peer[..],
            account.prefix(),
            &account.key()[..],
            method,
            params,
            now_ms,
            next_attempt(now_ms, 1)
        ])?;
        Ok(conn.last_insert_rowid())
    }

    fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<PendingForward>> {
        let conn = self.conn();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM forwards WHERE next_attempt <= ?1
             ORDER BY next_attempt, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now_ms, limit], row_forward)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn failed_again(&self, id: i64, now_ms: i64) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let found: Option<(i64, u32)> = tx
            .prepare_cached("SELECT first_failure, attempts FROM forwards WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((first, attempts)) = found else {
            return Ok(false);
        };
        let queued = if expired(first, now_ms) {
            tx.prepare_cached("DELETE FROM forwards WHERE id = ?1")?
                .execute(params![id])?;
            false
        } else {
            let attempts = attempts.saturating_add(1);
            tx.prepare_cached(
                "UPDATE forwards SET attempts = ?2, next_attempt = ?3 WHERE id = ?1",
            )?
            .execute(params![id, attempts, next_attempt(now_ms, attempts)])?;
            true
        };
        tx.commit()?;
        Ok(queued)
    }

    fn remove(&self, id: i64) -> Result<()> {
        self.conn()
            .prepare_cached("DELETE FROM forwards WHERE id = ?1")?
            .execute(params![id])?;
        Ok(())
    }

    fn remove_peer(&self, peer: &[u8; 32]) -> Result<usize> {
        Ok(self
            .conn()
            .prepare_cached("DELETE FROM forwards WHERE peer = ?1")?
            .execute(params![&peer[..]])?)
    }

    fn len(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM forwards", [], |r| r.get(0))?;
        Ok(to_usize(n))
    }

    fn next_due_ms(&self) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT MIN(next_attempt) FROM forwards", [], |r| r.get(0))?)
    }
}

// ── memory ──────────────────────────────────────────────────────────────────────────

#[derive(Debug, Default)]
struct MemInner {
    last_id: i64,
    entries: BTreeMap<i64, PendingForward>,
}

/// The queue in memory (tests, and nodes without a data directory).
#[derive(Debug, Default)]
pub struct MemoryForwardQueue {
    inner: Mutex<MemInner>,
}

impl MemoryForwardQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ForwardQueue for MemoryForwardQueue {
    fn push(
        &self,
        peer: [u8; 32],
        account: &UserPubkey,
        method: &str,
        params: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let mut g = self.inner();
        let id = g
            .last_id
            .checked_add(1)
            .ok_or_else(|| NodeError::Internal("forward queue ids exhausted".into()))?;
        g.last_id = id;
        g.entries.insert(
            id,
            PendingForward {
                id,
                peer,
                account: *account,
                method: method.to_owned(),
                params: params.to_owned(),
                first_failure_ms: now_ms,
                attempts: 1,
                next_attempt_ms: next_attempt(now_ms, 1),
            },
        );
        Ok(id)
    }

    fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<PendingForward>> {
        let g = self.inner();
        let mut due: Vec<&PendingForward> = g
            .entries
            .values()
            .filter(|e| e.next_attempt_ms <= now_ms)
            .collect();
        // Entries are in id order, and the sort is stable: ties stay in id order.
        due.sort_by_key(|e| e.next_attempt_ms);
        Ok(due.into_iter().take(limit).cloned().collect())
    }

    fn failed_again(&self, id: i64, now_ms: i64) -> Result<bool> {
        let mut g = self.inner();
        let Some(e) = g.entries.get_mut(&id) else {
            return Ok(false);
        };
        if expired(e.first_failure_ms, now_ms) {
            g.entries.remove(&id);
            return Ok(false);
        }
        e.attempts = e.attempts.saturating_add(1);
        e.next_attempt_ms = next_attempt(now_ms, e.attempts);
        Ok(true)
    }

    fn remove(&self, id: i64) -> Result<()> {
        self.inner().entries.remove(&id);
        Ok(())
    }

    fn remove_peer(&self, peer: &[u8; 32]) -> Result<usize> {
        let mut g = self.inner();
        let before = g.entries.len();
        g.entries.retain(|_, e| &e.peer != peer);
        Ok(before - g.entries.len())
    }

    fn len(&self) -> Result<usize> {
        Ok(self.inner().entries.len())
    }

    fn next_due_ms(&self) -> Result<Option<i64>> {
        Ok(self
            .inner()
            .entries
            .values()
            .map(|e| e.next_attempt_ms)
            .min())
    }
}

// ── shared test suite ───────────────────────────────────────────────────────────────

#[cfg(test)]
mod tests {
    use super::super::backoff;
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const DAY: i64 = 24 * 3600 * 1000;

    fn acct(n: u8) -> UserPubkey {
        UserPubkey::new(5, [n; 32])
    }

    fn ids(v: &[PendingForward]) -> Vec<i64> {
        v.iter().map(|e| e.id).collect()
    }

    pub fn push_and_due_order(q: &dyn ForwardQueue) {
        assert_eq!(q.len().unwrap(), 0);
        assert!(q.is_empty().unwrap());
        assert_eq!(q.next_due_ms().unwrap(), None);
        assert!(q.due(i64::MAX, 100).unwrap().is_empty());
        // Pushed out of time order: due order is next attempt, then queueing order.
        let late = q
            .push([1; 32], &acct(1), "store", "{\"a\":1}", T0 + 500)
            .unwrap();
        let early = q.push([2; 32], &acct(2), "delete", "{}", T0).unwrap();
        let tie = q.push([3; 32], &acct(1), "expire", "{}", T0).unwrap();
        assert!(early > late && tie > early, "ids increase");
        assert_eq!(q.len().unwrap(), 3);
        assert_eq!(q.next_due_ms().unwrap(), Some(T0 + 1_000));
        let e = &q.due(T0 + 1_000, 10).unwrap()[0];
        assert_eq!(
            *e,
            PendingForward {
                id: early,
                peer: [2; 32],
                account: acct(2),
                method: "delete".into(),
                params: "{}".into(),
                first_failure_ms: T0,
                attempts: 1,
                next_attempt_ms: T0 + 1_000,
            }
        );
        assert!(q.due(T0 + 999, 10).unwrap().is_empty());
        assert_eq!(ids(&q.due(T0 + 1_000, 10).unwrap()), [early, tie]);
        assert_eq!(ids(&q.due(T0 + 1_500, 10).unwrap()), [early, tie, late]);
        assert_eq!(ids(&q.due(T0 + 1_500, 2).unwrap()), [early, tie]);
        assert!(q.due(T0 + 1_500, 0).unwrap().is_empty());
        // `due` does not remove anything.
        assert_eq!(q.len().unwrap(), 3);
        // A rescheduled entry moves behind the others.
        assert!(q.failed_again(early, T0 + 1_000).unwrap());
        assert_eq!(ids(&q.due(T0 + 2_750, 10).unwrap()), [tie, late, early]);
        assert_eq!(q.next_due_ms().unwrap(), Some(T0 + 1_000));
    }

    pub fn backoff_schedule(q: &dyn ForwardQueue) {
        let id = q.push([1; 32], &acct(1), "store", "{}", T0).unwrap();
        let mut now = T0;
        let mut want_next = T0 + 1_000;
        for attempts in 1..=12u32 {
            let e = q.due(i64::MAX, 1).unwrap().remove(0);
            assert_eq!(e.attempts, attempts);
            assert_eq!(e.next_attempt_ms, want_next, "after {attempts} failures");
            assert_eq!(e.first_failure_ms, T0, "the first failure is kept");
            assert_eq!(q.next_due_ms().unwrap(), Some(want_next));
            // The retry fails (late, 7 ms after it was due).
            now = e.next_attempt_ms + 7;
            assert!(q.failed_again(id, now).unwrap());
            let delay = backoff::retry_delay_ms(attempts + 1);
            want_next = now + i64::try_from(delay).unwrap();
        }
        // The delays used were exactly 1750, 3062, …, then the 60 s cap.
        assert_eq!(backoff::retry_delay_ms(2), 1_750);
        assert_eq!(backoff::retry_delay_ms(3), 3_062);
        assert_eq!(want_next - now, 60_000);
        assert_eq!(q.len().unwrap(), 1);
        // Unknown ids are not queued.
        assert!(!q.failed_again(id + 1_000, now).unwrap());
        assert_eq!(q.len().unwrap(), 1);
    }

    pub fn give_up_after_thirty_days(q: &dyn ForwardQueue) {
        let old = q.push([1; 32], &acct(1), "store", "{}", T0).unwrap();
        let young = q.push([1; 32], &acct(1), "store", "{}", T0 + DAY).unwrap();
        assert!(q.failed_again(old, T0 + 30 * DAY - 1).unwrap());
        assert!(!q.failed_again(old, T0 + 30 * DAY).unwrap(), "dropped");
        assert!(q.failed_again(young, T0 + 30 * DAY).unwrap());
        assert_eq!(ids(&q.due(i64::MAX, 10).unwrap()), [young]);
        assert!(!q.failed_again(old, T0 + 30 * DAY).unwrap());
        assert!(!q.failed_again(young, T0 + 31 * DAY).unwrap());
        assert_eq!(q.len().unwrap(), 0);
        assert_eq!(q.next_due_ms().unwrap(), None);
    }

    pub fn removals(q: &dyn ForwardQueue) {
        let a = q.push([1; 32], &acct(1), "store", "{}", T0 + 30).unwrap();
        let b = q.push([2; 32], &acct(1), "store", "{}", T0 + 20).unwrap();
        let c = q.push([1; 32], &acct(2), "delete", "{}", T0 + 10).unwrap();
        let d = q.push([3; 32], &acct(3), "expire", "{}", T0 + 40).unwrap();
        assert_eq!(q.len().unwrap(), 4);
        assert_eq!(q.next_due_ms().unwrap(), Some(T0 + 1_010));
        q.remove(b).unwrap();
        q.remove(b).unwrap(); // unknown id: no error
        q.remove(12_345).unwrap();
        assert_eq!(q.len().unwrap(), 3);
        assert_eq!(q.remove_peer(&[1; 32]).unwrap(), 2);
        assert_eq!(q.remove_peer(&[1; 32]).unwrap(), 0);
        assert_eq!(q.remove_peer(&[9; 32]).unwrap(), 0);
        assert_eq!(q.len().unwrap(), 1);
        assert_eq!(ids(&q.due(i64::MAX, 10).unwrap()), [d]);
        assert_eq!(q.next_due_ms().unwrap(), Some(T0 + 1_040));
        assert!(!q.failed_again(a, T0 + 5_000).unwrap());
        assert!(!q.failed_again(c, T0 + 5_000).unwrap());
        q.remove(d).unwrap();
        assert_eq!(q.len().unwrap(), 0);
        assert!(q.is_empty().unwrap());
        assert_eq!(q.next_due_ms().unwrap(), None);
        // Ids are never reused, even once the queue is empty.
        let e = q.push([1; 32], &acct(1), "store", "{}", T0).unwrap();
        assert!(e > d);
    }

    /// Non-ASCII, JSON escapes, control characters, a NUL and odd whitespace.
    pub const TRICKY_PARAMS: &str = "{ \"data\" : \"h\u{e9}llo \u{1F600} \\u00e9\\n\\\"q\\\"\\\\\",\t\"x\":[1,2.50e3,null],\n\"z\":\"\u{0}\u{7f}\r\"}  ";

    pub fn params_verbatim(q: &dyn ForwardQueue) {
        let account = UserPubkey::new(3, [0xab; 32]);
        let id = q
            .push([0xff; 32], &account, "st\u{f6}re", TRICKY_PARAMS, T0)
            .unwrap();
        let e = q.due(i64::MAX, 1).unwrap().remove(0);
        assert_eq!(e.id, id);
        assert_eq!(e.params.as_bytes(), TRICKY_PARAMS.as_bytes());
        assert_eq!(e.method, "st\u{f6}re");
        assert_eq!(e.account, account);
        assert_eq!(e.account.prefix(), 3);
        assert_eq!(e.peer, [0xff; 32]);
        let big = format!("{{\"data\":\"{}\"}}", "\u{e9}".repeat(60_000));
        q.push([1; 32], &account, "store", &big, T0 + 1).unwrap();
        let e = q.due(i64::MAX, 2).unwrap().remove(1);
        assert_eq!(e.params, big);
    }

    macro_rules! queue_suite {
        ($backend:ident, $make:expr) => {
            mod $backend {
                #[allow(unused_imports)]
                use super::*;
                #[test]
                fn push_and_due_order() {
                    let (q, _g) = $make;
                    super::push_and_due_order(&q);
                }
                #[test]
                fn backoff_schedule() {
                    let (q, _g) = $make;
                    super::backoff_schedule(&q);
                }
                #[test]
                fn give_up_after_thirty_days() {
                    let (q, _g) = $make;
                    super::give_up_after_thirty_days(&q);
                }
                #[test]
                fn removals() {
                    let (q, _g) = $make;
                    super::removals(&q);
                }
                #[test]
                fn params_verbatim() {
                    let (q, _g) = $make;
                    super::params_verbatim(&q);
                }
            }
        };
    }

    fn memory() -> (MemoryForwardQueue, ()) {
        (MemoryForwardQueue::new(), ())
    }

    fn sqlite() -> (SqliteForwardQueue, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (SqliteForwardQueue::open(dir.path()).unwrap(), dir)
    }

    queue_suite!(memory_backend, memory());
    queue_suite!(sqlite_backend, sqlite());

    #[test]
    fn sqlite_persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b);
        {
            let q = SqliteForwardQueue::open(dir.path()).unwrap();
            a = q
                .push([1; 32], &acct(1), "store", TRICKY_PARAMS, T0)
                .unwrap();
            b = q.push([2; 32], &acct(2), "expire", "{}", T0 + 5).unwrap();
            let c = q.push([3; 32], &acct(3), "delete", "{}", T0 + 6).unwrap();
            assert!(q.failed_again(b, T0 + 2_000).unwrap());
            q.remove(c).unwrap();
        }
        assert!(dir.path().join(QUEUE_DB_FILE).exists());
        let q = SqliteForwardQueue::open(dir.path()).unwrap();
        assert_eq!(q.len().unwrap(), 2);
        let due = q.due(i64::MAX, 10).unwrap();
        assert_eq!(ids(&due), [a, b]);
        assert_eq!(due[0].params, TRICKY_PARAMS);
        assert_eq!(due[0].attempts, 1);
        assert_eq!(due[1].attempts, 2);
        assert_eq!(due[1].first_failure_ms, T0 + 5);
        assert_eq!(due[1].next_attempt_ms, T0 + 2_000 + 1_750);
        assert_eq!(q.next_due_ms().unwrap(), Some(T0 + 1_000));
        // Ids keep increasing after a reopen, past the removed one too.
        let d = q.push([4; 32], &acct(4), "store", "{}", T0).unwrap();
        assert!(d > b + 1);
        // WAL mode.
        let mode: String = q
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
