#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

//! The SQLite client store as a file: it survives restarts, is private (0600), and
//! refuses garbage, other programs' databases and newer schemas with clear errors.

use std::path::Path;

use session_client::store::sqlite::{APPLICATION_ID, DB_FILE, SCHEMA_V1, SCHEMA_VERSION};
use session_client::store::{
    ClientStore, Contact, ConversationKind, Direction, Expiry, ExpiryMode, Inserted, NewMessage,
    ProfilePicture, RejectReason, SqliteStore, StoreError,
};
use session_crypto::{AccountId, IdPrefix};

/// The polled node the last hashes are kept for.
const NODE: [u8; 32] = [9; 32];

fn sid(n: u8) -> AccountId {
    AccountId::new(IdPrefix::Standard, [n; 32])
}

fn incoming(peer: AccountId, sent_ms: u64, hash: &str, body: &str) -> NewMessage {
    NewMessage {
        attachments: Vec::new(),
        conversation: peer,
        direction: Direction::Incoming,
        sender: peer,
        sent_ms,
        received_ms: sent_ms + 1,
        server_hash: Some(hash.to_owned()),
        body: body.to_owned(),
        expiry: None,
    }
}

/// Everything a store holds, for comparing a store before and after a restart.
fn snapshot(s: &dyn ClientStore, peers: &[AccountId]) -> String {
    let mut out = String::new();
    for kind in [ConversationKind::Accepted, ConversationKind::Requests] {
        for c in s.conversations(kind).unwrap() {
            out += &format!(
                "{c:?} last={:?}\n",
                c.last_message.as_ref().map(|m| &m.body)
            );
        }
    }
    for p in peers {
        for m in s.history(p, None, 1_000).unwrap() {
            out += &format!("{m:?} body={:?} peer_read={}\n", m.body, m.peer_read);
        }
        out += &format!("disappearing={:?}\n", s.disappearing(p).unwrap());
        out += &format!("poll={:?}\n", s.last_hash(p, &NODE, 0).unwrap());
    }
    out += &format!("contacts={:?}\n", s.contacts().unwrap());
    out += &format!("rejected={:?}\n", s.rejected_counts().unwrap());
    out
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (a, b, c) = (sid(1), sid(2), sid(3));
    let peers = [a, b, c];
    let before;
    {
        let s = SqliteStore::open(&data).unwrap();
        let mut friend = Contact::new(a);
        friend.approved = true;
        friend.display_name = Some("Alice".into());
        friend.profile_pic = Some(ProfilePicture {
            url: "http://files.example/file/1".into(),
            key: vec![9; 32],
        });
        s.upsert_contact(&friend).unwrap();
        s.insert_message(&incoming(a, 1_000, "h1", "hello"))
            .unwrap();
        let mut timed = incoming(a, 2_000, "h2", "timed");
        timed.expiry = Some(Expiry {
            mode: ExpiryMode::AfterRead,
            seconds: 60,
        });
        s.insert_message(&timed).unwrap();
        s.mark_read(&a, 1_500, 5_000).unwrap();
        let out = NewMessage {
            attachments: Vec::new(),
            conversation: a,
            direction: Direction::Outgoing,
            sender: sid(0),
            sent_ms: 3_000,
            received_ms: 3_000,
            server_hash: None,
            body: "reply".into(),
            expiry: None,
        };
        let Inserted::New(out_id) = s.insert_message(&out).unwrap() else {
            panic!("not new")
        };
        s.set_server_hash(out_id, "h3").unwrap();
        s.apply_read_receipt(&a, &[3_000]).unwrap();
        s.set_disappearing(
            &a,
            Some(Expiry {
                mode: ExpiryMode::AfterSend,
                seconds: 86_400,
            }),
        )
        .unwrap();
        // A request, a deleted message and an unsend.
        s.insert_message(&incoming(b, 4_000, "h4", "hi, stranger"))
            .unwrap();
        let Inserted::New(del) = s.insert_message(&incoming(b, 4_500, "h5", "x")).unwrap() else {
            panic!("not new")
        };
        s.delete_for_me(del).unwrap();
        s.apply_unsend(&c, 7_000, 8_000).unwrap();
        s.set_last_hash(&sid(0), &NODE, 0, "last-0").unwrap();
        s.set_last_hash(&a, &NODE, 0, "last-a").unwrap();
        s.record_rejected(RejectReason::BadSignature).unwrap();
        s.record_rejected(RejectReason::NotForUs).unwrap();
        before = snapshot(&s, &peers);
    }
    let s = SqliteStore::open(&data).unwrap();
    assert_eq!(snapshot(&s, &peers), before);
    assert_eq!(
        s.last_hash(&sid(0), &NODE, 0).unwrap().as_deref(),
        Some("last-0")
    );
    assert_eq!(s.message_by_hash("h3").unwrap().unwrap().body, "reply");
    // De-duplication state survived too: deleted and unsent messages stay away.
    assert_eq!(
        s.insert_message(&incoming(b, 4_500, "h5", "x")).unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(
        s.insert_message(&incoming(c, 7_000, "h7", "y")).unwrap(),
        Inserted::Unsent
    );
    assert_eq!(
        s.insert_message(&incoming(a, 1_000, "h1", "hello"))
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(s.conversation(&a).unwrap().unwrap().unread, 1);
    assert_eq!(
        s.conversations(ConversationKind::Requests).unwrap()[0].peer,
        b
    );
    // An after-read timer started before the restart still fires.
    s.mark_read(&a, u64::MAX, 10_000).unwrap();
    let gone = s.delete_expired(70_000).unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].body, "timed");
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let s = SqliteStore::open(&data).unwrap();
    s.insert_message(&incoming(sid(1), 1, "h", "x")).unwrap();
    let db = data.join(DB_FILE);
    assert_eq!(s.path(), db);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&data), 0o700);
    // The WAL and shared-memory files exist while the store is open.
    for suffix in ["-wal", "-shm"] {
        let p = data.join(format!("{DB_FILE}{suffix}"));
        assert!(p.exists(), "{} missing", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(s);

    // A database left world-readable (copied, restored from a backup) is tightened.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = SqliteStore::open(&data).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(s.history(&sid(1), None, 10).unwrap().len(), 1);
}

#[test]
fn garbage_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&db.display().to_string()), "{msg}");
    assert!(msg.contains("not a Session client database"), "{msg}");
    assert!(msg.contains("move it aside"), "{msg}");
    // The file is left as it was.
    assert_eq!(std::fs::read(&db).unwrap(), garbage);

    // A short text file, too.
    std::fs::write(&db, b"hello, I am not a database\n").unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn damaged_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        for i in 0..200u64 {
            s.insert_message(&incoming(sid(1), i, &format!("h{i}"), &"x".repeat(500)))
                .unwrap();
        }
    }
    // Overwrite everything after the first page (the schema stays readable, the
    // tables and indexes do not).
    let db = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    // Either opening or the first read reports damage; nothing panics.
    match SqliteStore::open(dir.path()) {
        Err(e) => assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}"),
        Ok(s) => {
            let err = s.history(&sid(1), None, 1_000).unwrap_err();
            assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
            assert!(
                err.to_string().contains("restore it from a backup"),
                "{err}"
            );
        }
    }
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE something (x INTEGER); INSERT INTO something VALUES (1);")
            .unwrap();
    }
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("another program"), "{err}");
    // Untouched: still its own journal mode, no client tables.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_message(&incoming(sid(1), 1, "h", "x")).unwrap();
    }
    let db = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let app: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = SqliteStore::open(dir.path()).unwrap_err();
    match &err {
        StoreError::TooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("upgrade session"), "{msg}");
    assert!(
        msg.contains(&format!("version {}", SCHEMA_VERSION + 1)),
        "{msg}"
    );
    // Nothing was changed: the newer version is still there.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION + 1);
}

#[test]
fn empty_file_becomes_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    std::fs::write(&db, b"").unwrap();
    let s = SqliteStore::open_file(&db).unwrap();
    assert!(
        s.insert_message(&incoming(sid(1), 1, "h", "x"))
            .unwrap()
            .is_new()
    );
}

#[test]
fn unusable_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(&file.join("data")).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[test]
fn two_handles_on_one_file_see_each_other() {
    // Two `session` commands at once open the same file.
    let dir = tempfile::tempdir().unwrap();
    let one = SqliteStore::open(dir.path()).unwrap();
    let two = SqliteStore::open(dir.path()).unwrap();
    one.insert_message(&incoming(sid(1), 1, "h1", "from one"))
        .unwrap();
    assert_eq!(
        two.insert_message(&incoming(sid(1), 1, "h1", "from one"))
            .unwrap(),
        Inserted::Duplicate
    );
    two.set_last_hash(&sid(0), &NODE, 0, "last").unwrap();
    assert_eq!(
        one.last_hash(&sid(0), &NODE, 0).unwrap().as_deref(),
        Some("last")
    );
    assert_eq!(one.history(&sid(1), None, 10).unwrap().len(), 1);
}

#[test]
fn a_version_1_database_is_migrated_keeping_messages_and_dropping_last_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO poll_state (account, namespace, last_hash) VALUES (?1, 0, 'old')",
            [sid(0).to_string()],
        )
        .unwrap();
    }
    {
        // Messages written by a version-1 build are kept.
        let s = SqliteStore::open(dir.path()).unwrap();
        assert!(
            s.last_hash(&sid(0), &NODE, 0).unwrap().is_none(),
            "v1 hashes are dropped"
        );
        s.insert_message(&incoming(sid(1), 1, "h", "kept")).unwrap();
        s.set_last_hash(&sid(0), &NODE, 0, "new").unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.history(&sid(1), None, 10).unwrap()[0].body, "kept");
    assert_eq!(
        s.last_hash(&sid(0), &NODE, 0).unwrap().as_deref(),
        Some("new")
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}
