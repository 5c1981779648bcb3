//! The Session file server (community-server spec §11): opaque, client-encrypted
//! attachment blobs with an expiry, stored on disk with their metadata in SQLite, plus
//! the `/session_version` release lookup.
//!
//! [`config::FilesConfig`] reads `files.toml` (every key in `files.example.toml`);
//! [`run::FilesServer`] opens what it names (key, store) and serves it with the purge
//! job; [`server`] is the HTTP API, [`store`] the storage, [`version`] the release data
//! and `X-FS-*` authentication.

pub mod config;
pub mod run;
pub mod server;
pub mod store;
pub mod version;

pub use config::FilesConfig;
pub use run::{FilesServer, RunError, RunningFiles, load_or_create_key};
pub use server::{FileServer, FileSettings, purge_loop, router, serve};
pub use store::{FileInfo, FileStore, StoreError};
