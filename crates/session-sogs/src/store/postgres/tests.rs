//! PostgreSQL-specific tests: migrations, secrets, the pool, calls from async contexts,
//! concurrency. Those needing a server run when `SESSION_TEST_POSTGRES_URL` is set
//! (`scripts/test`); without it they say so and pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::sync::Arc;

use session_crypto::{AccountId, IdPrefix};

use super::*;
use crate::store::{NewPost, NewRoom, RoomDefaults, SogsStore, testing};

fn url() -> Option<String> {
    let url = testing::postgres_url();
    if url.is_none() {
        eprintln!(
            "{} is not set: PostgreSQL test not run (scripts/test runs it)",
            testing::POSTGRES_URL_ENV
        );
    }
    url
}

fn fresh(url: &str) -> PostgresStore {
    testing::postgres_store(url, Retention::default())
}

fn user(n: u8) -> AccountId {
    AccountId::new(IdPrefix::Blinded15, [n; 32])
}

fn new_room(token: &str) -> NewRoom {
    NewRoom {
        token: token.into(),
        name: token.into(),
        description: None,
        defaults: RoomDefaults::default(),
    }
}

fn post(s: &dyn SogsStore, token: &str, author: &AccountId, body: &[u8]) -> i64 {
    s.post_message(
        token,
        &NewPost {
            author: *author,
            data: body.to_vec(),
            signature: [1; 64],
            whisper_to: None,
            whisper_mods: false,
            files: Vec::new(),
            filtered: false,
        },
        1000.0,
    )
    .unwrap()
    .id
}

/// A second store on `s`'s schema (as a restarted server would open it).
fn reopen(s: &PostgresStore) -> Result<PostgresStore> {
    let config = s.config.clone();
    off_runtime(|| PostgresStore::open(config, Retention::default(), None))
}

/// Runs SQL on `s`'s schema directly.
fn sql(s: &PostgresStore, sql: &str) {
    off_runtime(|| {
        let mut conn = s.get_conn().unwrap();
        conn.client.batch_execute(sql).unwrap();
        s.put_conn(conn, true);
    });
}

#[test]
fn redacts_passwords() {
    for (url, secret) in [
        ("postgres://sogs:hunter2@db.example:5432/sogs", "hunter2"),
        ("postgresql://sogs:p%40ss@db/sogs?sslmode=disable", "p%40ss"),
        (
            "postgres://db/sogs?user=x&password=topsecret&x=1",
            "topsecret",
        ),
        ("host=db user=sogs password=s3cret dbname=sogs", "s3cret"),
    ] {
        let r = redact(url);
        assert!(!r.contains(secret), "{r}");
        assert!(r.contains("***"), "{r}");
    }
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    let c: postgres::Config = "postgres://sogs:hunter2@db.example:5433/chat"
        .parse()
        .unwrap();
    assert_eq!(describe(&c), "postgres://sogs@db.example:5433/chat");
}

#[test]
fn errors_never_show_the_password() {
    // Nothing listens on port 1: a connection error, which must not echo the URL's
    // password; nor may a URL that does not parse.
    let e = PostgresStore::connect(
        "postgres://sogs:hunter2@127.0.0.1:1/sogs?connect_timeout=2",
        Retention::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(matches!(e, StoreError::Database { .. }), "{e:?}");
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    let e = PostgresStore::connect("postgres://sogs:hunter2@h:notaport/x", Retention::default())
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
}

#[test]
fn migrates_versions_and_refuses_newer_and_foreign_schemas() {
    let Some(url) = url() else { return };
    let s = fresh(&url);
    s.create_room(&new_room("keep"), 1.0).unwrap();
    let version: i64 = off_runtime(|| {
        let mut conn = s.get_conn().unwrap();
        let v = conn
            .client
            .query_one("SELECT version FROM sogs_schema_version", &[])
            .unwrap()
            .get(0);
        s.put_conn(conn, true);
        v
    });
    assert_eq!(version, SCHEMA_VERSION);
    assert!(format!("{s:?}").contains("PostgresStore"));

    // Opening it again keeps the data and migrates nothing.
    let again = reopen(&s).unwrap();
    assert!(again.room("KEEP").unwrap().is_some());
    drop(again);

    sql(&s, "UPDATE sogs_schema_version SET version = version + 1");
    let e = reopen(&s).unwrap_err();
    assert!(
        matches!(e, StoreError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade session"), "{e}");

    // Community-server tables without a version: another program's database.
    sql(&s, "DROP TABLE sogs_schema_version");
    let e = reopen(&s).unwrap_err();
    assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
}

#[test]
fn schema_enforces_tokens_and_case_insensitive_uniqueness() {
    let Some(url) = url() else { return };
    let s = fresh(&url);
    off_runtime(|| {
        let mut conn = s.get_conn().unwrap();
        let mut insert = |t: &str| {
            conn.client.execute(
                "INSERT INTO rooms (token, name, created, read, accessible, write, upload)
                 VALUES ($1, 'n', 0, TRUE, TRUE, TRUE, TRUE)",
                &[&t],
            )
        };
        insert("ok_Token-1").unwrap();
        assert!(insert("bad token").is_err());
        assert!(insert("").is_err());
        assert!(insert(&"x".repeat(65)).is_err());
        let e = insert("OK_TOKEN-1").unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::UNIQUE_VIOLATION));
        s.put_conn(conn, true);
    });
}

#[test]
fn works_from_async_contexts_and_spawn_blocking() {
    let Some(url) = url() else { return };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Created, used and dropped on the runtime's own thread...
        let s: Arc<dyn SogsStore> = Arc::new(fresh(&url));
        s.create_room(&new_room("r"), 1.0).unwrap();
        s.ensure_user(&user(1), 1.0).unwrap();
        // ...and from spawn_blocking, as the HTTP handlers call it.
        let s2 = s.clone();
        let id = tokio::task::spawn_blocking(move || post(s2.as_ref(), "r", &user(1), b"hi"))
            .await
            .unwrap();
        let m = s.message("r", id, &Default::default()).unwrap().unwrap();
        assert_eq!(m.data.as_deref(), Some(&b"hi"[..]));
        drop(s);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = Arc::new(fresh(&url));
        s.create_room(&new_room("m"), 1.0).unwrap();
        let mut tasks = Vec::new();
        for t in 1..=4u8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                // Marked as the HTTP server marks its store calls: run in place.
                tokio::task::spawn_blocking(move || {
                    crate::store::blocking_section(|| {
                        s.ensure_user(&user(t), 1.0).unwrap();
                        post(s.as_ref(), "m", &user(t), &[t]);
                    })
                })
                .await
                .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.room("m").unwrap().unwrap().message_sequence, 4);
    });
}

#[test]
fn pool_is_bounded_and_replaces_broken_connections() {
    let Some(url) = url() else { return };
    let s = fresh(&url);
    s.create_room(&new_room("p"), 1.0).unwrap();
    std::thread::scope(|scope| {
        for t in 0..(2 * POOL_SIZE as u8) {
            let s = &s;
            scope.spawn(move || {
                for _ in 0..5 {
                    s.record_activity("p", &user(t), 1.0).unwrap();
                    s.room("p").unwrap().unwrap();
                }
            });
        }
    });
    let open = lock(&s.pool.state).open;
    assert!((1..=POOL_SIZE).contains(&open), "{open} connections");

    // The server drops every idle connection of the store (a restart, say): the next
    // calls reconnect rather than fail.
    let mut killer = s.config.connect(NoTls).unwrap();
    killer
        .execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::INTEGER[]) AS pid",
            &[&backend_pids(&s)],
        )
        .unwrap();
    drop(killer);
    std::thread::sleep(std::time::Duration::from_millis(100));
    for _ in 0..(POOL_SIZE + 2) {
        assert!(s.room("p").unwrap().is_some());
    }
}

/// The server process ids of the store's idle connections.
fn backend_pids(s: &PostgresStore) -> Vec<i32> {
    let mut st = lock(&s.pool.state);
    st.idle
        .iter_mut()
        .map(|c| {
            c.client
                .query_one("SELECT pg_backend_pid()", &[])
                .unwrap()
                .get(0)
        })
        .collect()
}

#[test]
fn concurrent_writers_keep_counters_and_uniqueness() {
    let Some(url) = url() else { return };
    let s = fresh(&url);
    s.create_room(&new_room("c"), 1.0).unwrap();
    let authors: Vec<AccountId> = (1..=6).map(user).collect();
    for a in &authors {
        s.ensure_user(a, 1.0).unwrap();
    }
    let first = post(&s, "c", &authors[0], b"target");
    let created = std::sync::atomic::AtomicUsize::new(0);
    let fresh_nonces = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for a in &authors {
            let (s, created, fresh_nonces) = (&s, &created, &fresh_nonces);
            scope.spawn(move || {
                for i in 0..5u8 {
                    post(s, "c", a, &[i]);
                    s.add_reaction("c", first, a, &format!("r{i}"), 2.0)
                        .unwrap();
                    s.record_activity("c", a, 2.0).unwrap();
                }
                // Same token, same nonce from every thread: exactly one wins each.
                match s.create_room(&new_room("Race"), 1.0) {
                    Ok(_) => {
                        created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(StoreError::RoomExists { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
                if s.use_nonce(a, &[9; 16], 2.0).unwrap() {
                    fresh_nonces.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                s.ensure_user(&user(200), 2.0).unwrap();
            });
        }
    });
    assert_eq!(created.into_inner(), 1);
    assert_eq!(fresh_nonces.into_inner(), 1);
    // 1 + 6×5 posts and 6×5 reaction changes: one seqno each, no gaps, no repeats.
    let room = s.room("c").unwrap().unwrap();
    assert_eq!(room.message_sequence, 1 + 30 + 30);
    let all = s
        .messages_since("c", 0, 1000, true, &Default::default())
        .unwrap();
    assert_eq!(all.len(), 31);
    let target = all.iter().find(|m| m.id == first).unwrap();
    assert_eq!(target.reactions.iter().map(|r| r.count).sum::<usize>(), 30);
    assert_eq!(target.seqno, target.seqno_reactions);
    let mut seqnos: Vec<i64> = all.iter().map(|m| m.seqno).collect();
    seqnos.dedup();
    assert_eq!(seqnos.len(), 31);
}

#[test]
fn database_url_opens_postgres() {
    let Some(url) = url() else { return };
    // open_database uses the default schema of the database; give it one of its own so
    // the test stays isolated.
    let s = fresh(&url);
    let schema = s.owned_schema.clone().unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::store::open_database(Some(&scoped), dir.path(), Retention::default()).unwrap();
    store.create_room(&new_room("viaurl"), 1.0).unwrap();
    assert!(format!("{store:?}").contains("PostgresStore"));
    assert!(s.room("viaurl").unwrap().is_some());
    drop(store);
}
