//! SQLite block store (file `registry.db`): WAL, `synchronous=FULL` (a block is durable
//! once appended; blocks are seconds apart so the cost is negligible), one connection
//! behind a mutex. Only the block producer writes; reads happen at start-up (replay) and
//! for `get_block`, so a reader pool would buy nothing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, params};

use super::{BlockStore, out_of_order};
use crate::block::{Block, StoredTx};
use crate::error::{RegistryError, Result};

/// The database file inside the data directory.
pub const DB_FILE: &str = "registry.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    prev_hash BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
    height INTEGER NOT NULL REFERENCES blocks(height),
    idx INTEGER NOT NULL,
    txid BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (height, idx)
) WITHOUT ROWID;
";

/// Blocks in SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| RegistryError::Internal(format!("{what} {v} does not fit in SQLite")))
}

fn hash32(v: Vec<u8>, height: u64) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| RegistryError::CorruptChain {
        height,
        reason: "stored hash is not 32 bytes".into(),
    })
}

impl SqliteStore {
    /// Opens (creating if needed) `registry.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_file(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the database file `path`.
    pub fn open_file(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(15))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", 1)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockStore for SqliteStore {
    fn len(&self) -> Result<u64> {
        let conn = self.lock();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM blocks", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn append(&self, block: &Block) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let next: i64 = tx.query_row("SELECT COUNT(*) FROM blocks", [], |r| r.get(0))?;
        let next = u64::try_from(next).unwrap_or(0);
        if block.height != next {
            return Err(out_of_order(next, block.height));
        }
        let height = to_i64(block.height, "height")?;
        tx.execute(
            "INSERT INTO blocks (height, hash, prev_hash, timestamp_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                height,
                block.hash.as_slice(),
                block.prev_hash.as_slice(),
                to_i64(block.timestamp_ms, "timestamp")?
            ],
        )?;
        {
            let mut stmt =
                tx.prepare("INSERT INTO txs (height, idx, txid, body) VALUES (?1, ?2, ?3, ?4)")?;
            for (i, t) in block.txs.iter().enumerate() {
                stmt.execute(params![
                    height,
                    i as i64,
                    t.txid.as_slice(),
                    t.body.as_slice()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn blocks(&self, from: u64, limit: usize) -> Result<Vec<Block>> {
        let conn = self.lock();
        let from_i = to_i64(from, "height")?;
        let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(
            "SELECT height, hash, prev_hash, timestamp_ms FROM blocks
             WHERE height >= ?1 ORDER BY height LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![from_i, limit_i], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut blocks = Vec::new();
        for row in rows {
            let (h, hash, prev, ts) = row?;
            let height = u64::try_from(h).unwrap_or(0);
            blocks.push(Block {
                height,
                hash: hash32(hash, height)?,
                prev_hash: hash32(prev, height)?,
                timestamp_ms: u64::try_from(ts).unwrap_or(0),
                txs: Vec::new(),
            });
        }
        if let (Some(first), Some(last)) = (blocks.first(), blocks.last()) {
            let mut stmt = conn.prepare_cached(
                "SELECT height, txid, body FROM txs WHERE height BETWEEN ?1 AND ?2
                 ORDER BY height, idx",
            )?;
            let rows = stmt.query_map(
                params![
                    to_i64(first.height, "height")?,
                    to_i64(last.height, "height")?
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )?;
            let base = first.height;
            for row in rows {
                let (h, txid, body) = row?;
                let height = u64::try_from(h).unwrap_or(0);
                let slot = usize::try_from(height - base).unwrap_or(usize::MAX);
                let block = blocks
                    .get_mut(slot)
                    .ok_or_else(|| RegistryError::CorruptChain {
                        height,
                        reason: "transaction without its block".into(),
                    })?;
                block.txs.push(StoredTx {
                    txid: hash32(txid, height)?,
                    body,
                });
            }
        }
        Ok(blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        super::super::conformance::run(&SqliteStore::open(dir.path()).unwrap());
    }

    #[test]
    fn reopen_keeps_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let b0 = Block::new([0; 32], 0, 5, vec![]);
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.append(&b0).unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.blocks(0, 10).unwrap(), vec![b0]);
    }
}
