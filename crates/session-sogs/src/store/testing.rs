//! Test support: the backends every store and HTTP conformance test runs on.
//!
//! SQLite always; PostgreSQL as well when `SESSION_TEST_POSTGRES_URL` is set (as
//! `scripts/test` does after starting a server), each store in a fresh schema.

#![allow(clippy::expect_used, clippy::panic)] // test support: a panic is a failed test

use std::sync::Arc;

use super::{Retention, SogsStore, SqliteStore};

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

/// A fresh store on every backend this run tests.
pub fn stores(retention: Retention) -> Vec<TestStore> {
    vec![sqlite(retention)]
}
