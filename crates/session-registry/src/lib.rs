//! The network registry (`specs/network-governance.md` §1, §3, §4, §7 option C): the
//! source of truth for which service nodes exist, which are active and which swarm each
//! belongs to.
//!
//! An append-only chain of blocks ([`block`]), persisted in SQLite ([`store`]) and
//! replayable from genesis to the same state ([`chain::replay`]). Blocks apply validated
//! transactions ([`tx`], [`state`]): registrations with stakes, unlock requests, uptime
//! proofs in oxend's wire form ([`proof`]), testing-quorum state changes with oxend's
//! credit rules ([`quorum`]), per-block rewards, and SNS/ONS names. Each block re-runs
//! the swarm assignment when the active set changed, seeded by its hash ([`swarm`]).
//! The [`rpc`] answers like oxend and the seed nodes (`get_service_nodes`,
//! `ons_resolve`, …) on `POST /json_rpc` ([`server`]); [`service::Registry`] ties it
//! together and produces blocks on the injected clock.
//!
//! Layout: [`config`], [`error`], [`types`], [`proof`], [`tx`], [`state`],
//! [`quorum`], [`swarm`], [`block`], [`store`], [`chain`], [`rpc`], [`server`],
//! [`service`].

pub mod block;
pub mod chain;
pub mod config;
pub mod error;
pub mod proof;
pub mod quorum;
pub mod rpc;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod swarm;
pub mod tx;
pub mod types;

pub use config::{ChainParams, RegistryConfig, StoreBackend};
pub use error::{RegistryError, Result};
pub use service::Registry;
pub use state::State;
