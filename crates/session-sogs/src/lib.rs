//! The Session community server (SOGS, community-server spec): rooms with their
//! messages (seqno-ordered edits and deletions, whispers, reactions, pins), room files,
//! moderation (bans, moderators and admins, per-user permission overrides), and the
//! blinded DM inbox — compatible with PySOGS so that real Session clients use it
//! unchanged.
//!
//! * [`store`]: the persistence behind a trait, with its SQLite backend and the
//!   conformance suite every backend passes.
//! * [`server`]: the HTTP API (PySOGS's endpoints and status codes) with `X-SOGS-*`
//!   authentication.

pub mod server;
pub mod store;
