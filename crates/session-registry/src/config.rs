//! Configuration: the server's settings ([`RegistryConfig`]) and the chain's consensus
//! parameters ([`ChainParams`], the `[chain]` table), which are written into the genesis
//! block. Every duration is configurable so that a devnet runs in minutes: block counts
//! end in `_blocks`, wall-clock durations in `_secs`. Defaults are devnet values; the
//! mainnet value of each is given in its documentation (network-governance §1–§4).
//!
//! Typed TOML, unknown keys are errors (see `registry.example.toml` next to this crate's
//! manifest).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// Which block store backs the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// `registry.db` (SQLite, WAL) in the data directory (default).
    #[default]
    Sqlite,
    /// Memory only: the chain is lost on exit (tests, demos).
    Memory,
}

/// The registry's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Directory holding `registry.db`. Default: `session-registry-data`.
    pub data_dir: PathBuf,
    /// Address of the JSON-RPC listener. Default: `127.0.0.1:22030`.
    pub listen: SocketAddr,
    /// Block store backend. Default: `"sqlite"`.
    pub store: StoreBackend,
    /// Time between blocks in milliseconds. Default: 2000 (mainnet: 120000). Not a
    /// consensus parameter: the `_blocks` durations of `[chain]` count blocks.
    pub block_interval_ms: u64,
    /// Seconds allowed for in-flight requests to finish on shutdown. Default: 10.
    pub drain_timeout_secs: u64,
    /// Log filter (`tracing` directive) unless `RUST_LOG` is set. Default: `"info"`.
    pub log: String,
    /// Consensus parameters (recorded in the genesis block).
    pub chain: ChainParams,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("session-registry-data"),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 22030)),
            store: StoreBackend::Sqlite,
            block_interval_ms: 2000,
            drain_timeout_secs: 10,
            log: "info".to_owned(),
            chain: ChainParams::default(),
        }
    }
}

impl RegistryConfig {
    /// Loads a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: Self = session_rt::config::load_toml(path)?;
        cfg.validate(&path.display().to_string())?;
        Ok(cfg)
    }

    /// Parses TOML text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = session_rt::config::parse_toml(text, origin)?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| RegistryError::Config {
            origin: origin.to_owned(),
            reason,
        };
        if self.block_interval_ms == 0 {
            return Err(bad("block_interval_ms must be at least 1".into()));
        }
        self.chain.validate().map_err(bad)
    }
}

/// The chain's consensus parameters. They are stored in the genesis block; a registry
/// restarted with different values refuses to start rather than silently replaying the
/// chain under other rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainParams {
    /// Network name, part of the genesis block (and so of every block hash).
    /// Default: `"devnet"`.
    pub network: String,
    /// Hard fork reported by the RPC (`hardfork`). Default: 21.
    pub hardfork: u8,
    /// Service-node revision reported by the RPC (`snode_revision`). Default: 0.
    pub snode_revision: u8,
    /// Stake a node needs, in atomic units (9 decimals). Default: 120 SESH
    /// (localdev; mainnet 25,000 SESH).
    pub staking_requirement: u64,
    /// Most contributors per node (operator included). Default: 10.
    pub max_contributors: u32,
    /// Blocks between an unlock request and the node leaving with its stake.
    /// Default: 30 (mainnet 10,800 = 15 days).
    pub unlock_blocks: u64,
    /// How far (seconds) an uptime proof's timestamp may be from the block time.
    /// Default: 300 (mainnet too).
    pub uptime_proof_tolerance_secs: u64,
    /// Minimum seconds between two accepted proofs of one node (half the proof
    /// frequency). Default: 30 (mainnet 1,800).
    pub uptime_proof_min_interval_secs: u64,
    /// How long a proof keeps a node "up" for the testing quorum's uptime check,
    /// published for validators. Default: 125 (mainnet 7,500 = 2 h 5 min).
    pub uptime_proof_validity_secs: u64,
    /// Accept private/loopback IPv4 addresses in registrations and proofs (devnets on
    /// one machine). Default: `true` (mainnet `false`).
    pub allow_private_ips: bool,
    /// Most validators in a testing quorum. Default: 10 (mainnet too).
    pub quorum_size: u32,
    /// Least number of tested nodes per quorum (`max(this, rest/100)`). Default: 50.
    pub quorum_min_workers: u32,
    /// Validator votes needed for a state change. Default: 7 (mainnet too).
    pub votes_needed: u32,
    /// Blocks a quorum's votes stay valid. Default: 60 (mainnet too).
    pub vote_lifetime_blocks: u64,
    /// Downtime credit of a new node, in blocks. Default: 60 (mainnet 60 = 2 h).
    pub initial_credit_blocks: u64,
    /// Cap on downtime credit, in blocks. Default: 1440 (mainnet 1,440 = 48 h).
    pub max_credit_blocks: u64,
    /// Credit a failing active node needs to be decommissioned instead of
    /// deregistered, in blocks. Default: 60 (mainnet 60 = 2 h).
    pub decommission_min_credit_blocks: u64,
    /// Blocks of uptime that earn one block of credit. Default: 30 (mainnet too).
    pub credit_blocks_per_block: u64,
    /// Reward minted per block and shared equally among payable nodes, atomic units.
    /// Default: 1 SESH.
    pub block_reward: u64,
    /// Blocks a node must have been active to be paid. Default: 1 (localdev; mainnet 720).
    pub payable_after_blocks: u64,
    /// Lifetime of Session and wallet names in blocks; 0 = they never expire (oxend).
    /// Default: 0.
    pub ons_session_lifetime_blocks: u64,
    /// Lifetime of Lokinet names in blocks. Default: 1000 (mainnet 264,960 = 368 days).
    pub ons_lokinet_lifetime_blocks: u64,
}

impl Default for ChainParams {
    fn default() -> Self {
        Self {
            network: "devnet".to_owned(),
            hardfork: 21,
            snode_revision: 0,
            staking_requirement: 120_000_000_000,
            max_contributors: 10,
            unlock_blocks: 30,
            uptime_proof_tolerance_secs: 300,
            uptime_proof_min_interval_secs: 30,
            uptime_proof_validity_secs: 125,
            allow_private_ips: true,
            quorum_size: 10,
            quorum_min_workers: 50,
            votes_needed: 7,
            vote_lifetime_blocks: 60,
            initial_credit_blocks: 60,
            max_credit_blocks: 1440,
            decommission_min_credit_blocks: 60,
            credit_blocks_per_block: 30,
            block_reward: 1_000_000_000,
            payable_after_blocks: 1,
            ons_session_lifetime_blocks: 0,
            ons_lokinet_lifetime_blocks: 1000,
        }
    }
}

impl ChainParams {
    /// How often nodes send uptime proofs: twice the minimum spacing (oxend's
    /// `UPTIME_PROOF_FREQUENCY`, of which the spacing rule is half). Seconds.
    pub fn uptime_proof_frequency_secs(&self) -> u64 {
        self.uptime_proof_min_interval_secs.saturating_mul(2)
    }

    /// How long a node must fail reachability tests continuously before validators vote
    /// against it: `VALIDITY − FREQUENCY` (network-governance §3.3; 65 min on mainnet).
    /// Seconds.
    pub fn reachability_failure_threshold_secs(&self) -> u64 {
        self.uptime_proof_validity_secs
            .saturating_sub(self.uptime_proof_frequency_secs())
            .max(1)
    }

    /// Checks the parameters; the error names the offending key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.network.is_empty() {
            return Err("chain.network must not be empty".into());
        }
        if self.staking_requirement == 0 || self.staking_requirement > i64::MAX as u64 {
            return Err("chain.staking_requirement must be between 1 and 2^63-1".into());
        }
        if !(1..=64).contains(&self.max_contributors) {
            return Err("chain.max_contributors must be between 1 and 64".into());
        }
        if self.quorum_size == 0 {
            return Err("chain.quorum_size must be at least 1".into());
        }
        if self.votes_needed == 0 || self.votes_needed > self.quorum_size {
            return Err("chain.votes_needed must be between 1 and chain.quorum_size".into());
        }
        if self.credit_blocks_per_block == 0 {
            return Err("chain.credit_blocks_per_block must be at least 1".into());
        }
        if self.vote_lifetime_blocks == 0 {
            return Err("chain.vote_lifetime_blocks must be at least 1".into());
        }
        for (name, v) in [
            ("initial_credit_blocks", self.initial_credit_blocks),
            ("max_credit_blocks", self.max_credit_blocks),
            (
                "decommission_min_credit_blocks",
                self.decommission_min_credit_blocks,
            ),
        ] {
            if v > i64::MAX as u64 / 4 {
                return Err(format!("chain.{name} is too large"));
            }
        }
        Ok(())
    }

    /// The first parameter whose value differs from `other`'s, as `(key, ours, theirs)`.
    pub fn first_difference(&self, other: &Self) -> Option<(String, String, String)> {
        let a = serde_json::to_value(self).ok()?;
        let b = serde_json::to_value(other).ok()?;
        let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (a, b) else {
            return None;
        };
        a.iter().find_map(|(k, va)| {
            let vb = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
            (va != &vb).then(|| (format!("chain.{k}"), va.to_string(), vb.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(
            RegistryConfig::parse("", "t").unwrap(),
            RegistryConfig::default()
        );
    }

    #[test]
    fn unknown_and_bad_values_are_errors() {
        let e = RegistryConfig::parse("[chain]\nunlock_blcoks = 3", "r.toml").unwrap_err();
        assert!(e.to_string().contains("unlock_blcoks"), "{e}");
        let e = RegistryConfig::parse("[chain]\nvotes_needed = 11", "r.toml").unwrap_err();
        assert!(e.to_string().contains("votes_needed"), "{e}");
        assert!(RegistryConfig::parse("block_interval_ms = 0", "t").is_err());
        assert!(RegistryConfig::parse("store = \"postgres\"", "t").is_err());
    }

    #[test]
    fn differences_are_named() {
        let a = ChainParams::default();
        let b = ChainParams {
            unlock_blocks: 5,
            ..ChainParams::default()
        };
        assert_eq!(a.first_difference(&a), None);
        let (k, ours, theirs) = a.first_difference(&b).unwrap();
        assert_eq!(
            (k.as_str(), ours.as_str(), theirs.as_str()),
            ("chain.unlock_blocks", "30", "5")
        );
    }
}
