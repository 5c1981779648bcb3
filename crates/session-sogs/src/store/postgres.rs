//! The PostgreSQL backend of [`SogsStore`](super::SogsStore) (`database_url =
//! "postgres://…"`). Not built yet.

use super::{Result, Retention, StoreError};

/// A community-server store in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    _retention: Retention,
}

impl PostgresStore {
    /// Connects to `url` and brings the schema up to date.
    pub fn connect(url: &str, retention: Retention) -> Result<Self> {
        let _ = retention;
        Err(StoreError::Database {
            path: url.to_owned(),
            detail: "the PostgreSQL backend is not built yet".into(),
        })
    }
}
