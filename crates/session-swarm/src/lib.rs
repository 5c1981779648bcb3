//! The network view of Session, pure and deterministic (foundations layer): node
//! records, pubkey → swarm mapping, the chain's swarm assignment algorithm and
//! testing-quorum selection.
//!
//! Everything here is a plain function of its inputs — no I/O, no clock, no ambient
//! randomness — and reproduces the reference implementation bit for bit:
//!
//! * [`swarm_space`] / [`SwarmIds::nearest`]: which swarm stores an account
//!   (storage-node §6.2, network-governance §8.5), and [`SwarmIds::range_of`] (§6.3).
//! * [`calc_swarm_changes`]: oxend's `service_node_swarm.cpp` (network-governance §2,
//!   §8.1–§8.4), with its `std::mt19937_64` ([`rng::Mt19937_64`]), portable uniform draw
//!   ([`rng::uniform_portable`]), libstdc++ `std::sort` ([`cxx_sort::sort_by`]) and
//!   midpoint swarm ids ([`new_swarm_id`]); [`SwarmChanges`] says what changed.
//! * [`obligations_quorum`]: the testing quorum of a block (network-governance §3.2).
//! * [`NodeRecord`]: what the registry publishes about a node.
//!
//! Errors are [`SwarmError`]; no function panics on any input.

pub mod assign;
pub mod cxx_sort;
pub mod diff;
pub mod error;
pub mod id;
pub mod node;
pub mod quorum;
pub mod rng;
pub mod space;

pub use assign::{
    SwarmMap, SwarmParams, assign_swarms, assignment_from_swarm_map, calc_swarm_changes,
    calc_swarm_changes_with, check_swarm_map, new_swarm_id, swarm_map_from_assignment,
};
pub use diff::{NodeMove, SwarmChanges};
pub use error::{Result, SwarmError};
pub use id::SwarmId;
pub use node::{NodePubkey, NodeRecord, NodeState, X25519PublicKey};
pub use quorum::{ObligationsQuorum, QuorumType, obligations_quorum, shuffled_index_list};
pub use rng::swarm_seed;
pub use space::{SwarmIds, account_swarm_space, nearest_swarm, swarm_space, swarm_space_of_bytes};
