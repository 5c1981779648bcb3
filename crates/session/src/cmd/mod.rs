//! One module per command group.

pub mod account;
pub mod chat;
pub mod community;
pub mod devnet;
pub mod files;
pub mod name;
pub mod network;
pub mod node;
pub mod registry;
pub mod serve;
pub mod sogs;
