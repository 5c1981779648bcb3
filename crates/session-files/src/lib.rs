//! The Session file server (community-server spec §11): opaque, client-encrypted
//! attachment blobs with an expiry, stored on disk with their metadata in SQLite.

pub mod server;
pub mod store;

pub use server::{FileServer, FileSettings, purge_loop, router, serve};
pub use store::{FileInfo, FileStore, StoreError};
