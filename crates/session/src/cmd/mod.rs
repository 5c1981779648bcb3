//! One module per command group.

pub mod account;
pub mod devnet;
pub mod node;
pub mod registry;
pub mod serve;
