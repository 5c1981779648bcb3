//! The Session file server (community-server spec §11): opaque, client-encrypted
//! attachment blobs with an expiry, stored on disk with their metadata in SQLite.
