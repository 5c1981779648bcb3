//! The storage half of a Session service node, wire-compatible with
//! session-storage-server v2.8.0 (`specs/storage-node.md`): the client storage RPC over
//! HTTPS, the message store (SQLite or memory) with TTL expiry, authentication of
//! Session IDs, groups and subaccounts, per-IP limits, and the node's identity.
//!
//! Layout: [`types`] (accounts, namespaces, tokens, message hash), [`auth`],
//! [`store`] (trait + backends), [`rpc`] (request parsing and processing),
//! [`network`] (the swarm view, an input), [`registry`] (the view fed by the
//! registry, registration and uptime proofs), [`peer`] (signed node-to-node requests),
//! [`onion`] (the onion-request hop: decrypt a layer, then run, relay or proxy it),
//! [`swarm`] (replication of client writes, retry queue, hand-over on swarm changes),
//! [`testing`] (testing-quorum rounds: peer tests, storage proofs, votes), [`server`]
//! (HTTP rules), [`node`] (assembly), [`config`], [`identity`], [`limits`], [`error`].

pub mod auth;
pub mod config;
pub mod error;
pub mod identity;
pub mod limits;
pub mod network;
pub mod node;
pub mod onion;
pub mod peer;
pub mod registry;
pub mod rpc;
pub mod server;
pub mod store;
pub mod swarm;
pub mod testing;
pub mod types;

pub use config::NodeConfig;
pub use error::NodeError;
pub use node::{Node, NodeBuilder};
