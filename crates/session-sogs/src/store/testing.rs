//! Test support: the backends every store and HTTP conformance test runs on.
//!
//! SQLite always; PostgreSQL as well when `SESSION_TEST_POSTGRES_URL` is set (as
//! `scripts/test` does after starting a server), each store in a fresh schema of its own
//! that is dropped with the store. If the variable is set but the server cannot be
//! reached, the test fails: it never skips silently.
//!
//! Both constructors and the stores work from plain threads and from inside a Tokio
//! runtime (a `#[tokio::test]` body, `spawn_blocking`).

#![allow(clippy::expect_used, clippy::panic)] // test support: a panic is a failed test

use std::sync::Arc;

use super::{PostgresStore, Retention, SogsStore, SqliteStore};

/// The environment variable naming the PostgreSQL server tests use.
pub const POSTGRES_URL_ENV: &str = "SESSION_TEST_POSTGRES_URL";

/// One backend's fresh, empty store.
pub struct TestStore {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// The store.
    pub store: Arc<dyn SogsStore>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A fresh SQLite store in a temporary directory.
pub fn sqlite(retention: Retention) -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path(), retention).expect("open sqlite store");
    TestStore {
        backend: "sqlite",
        store: Arc::new(store),
        _guard: Box::new(dir),
    }
}

/// The PostgreSQL server tests use, if `SESSION_TEST_POSTGRES_URL` is set (and not empty).
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A fresh PostgreSQL store in a schema of its own (dropped with the store), if
/// `SESSION_TEST_POSTGRES_URL` is set; panics if it is set but unusable.
pub fn postgres(retention: Retention) -> Option<TestStore> {
    let url = postgres_url()?;
    Some(TestStore {
        backend: "postgres",
        store: Arc::new(postgres_store(&url, retention)),
        _guard: Box::new(()),
    })
}

/// A fresh PostgreSQL store at `url` in a schema of its own; panics if it cannot connect.
pub fn postgres_store(url: &str, retention: Retention) -> PostgresStore {
    PostgresStore::connect_fresh_schema(url, retention).unwrap_or_else(|e| {
        panic!(
            "{POSTGRES_URL_ENV} is set but the PostgreSQL server is unusable: {e} \
             (start one with `eval \"$(scripts/postgres start)\"`, or unset {POSTGRES_URL_ENV} \
             to test SQLite only)"
        )
    })
}

/// A fresh store on every backend this run tests.
pub fn stores(retention: Retention) -> Vec<TestStore> {
    let mut all = vec![sqlite(retention)];
    all.extend(postgres(retention));
    all
}
