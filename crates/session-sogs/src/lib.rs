//! The Session community server (SOGS, community-server spec): rooms with their
//! messages (seqno-ordered edits and deletions, whispers, reactions, pins), room files,
//! moderation (bans, moderators and admins, per-user permission overrides), and the
//! blinded DM inbox — compatible with PySOGS so that real Session clients use it
//! unchanged.
//!
//! * [`store`]: the persistence behind a trait, with its SQLite and PostgreSQL backends
//!   and the conformance suite every backend passes.
//! * [`server`]: the HTTP API (PySOGS's endpoints and status codes) with `X-SOGS-*`
//!   authentication, `/batch`, `/sequence` and the onion entry.
//! * [`config`]: `sogs.toml`; [`web`]: the front page with join links and QR codes;
//!   [`jobs`]: the periodic cleanup; [`run`]: a configured server (store, key, API +
//!   web pages, cleanup) serving until shutdown.

pub mod config;
pub mod jobs;
pub mod run;
pub mod server;
pub mod store;
pub mod web;
