//! Node configuration: typed TOML (unknown keys are errors), every field with a
//! documented default; the `session node run` command lets flags and environment
//! variables override the file. See `node.example.toml` next to this crate's manifest.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;
use crate::limits::{DEFAULT_DB_SIZE_LIMIT, RateLimit};

/// Which message store backs the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// `storage.db` in the data directory (default).
    #[default]
    Sqlite,
    /// Memory only: everything is lost on exit (tests, demos).
    Memory,
}

/// The node's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory for `key_ed25519`, `cert.pem`, `key.pem` and `storage.db`.
    /// Default: `session-node-data` (relative to the working directory).
    pub data_dir: PathBuf,
    /// Address and port of the HTTPS listener. Default: `0.0.0.0:22021`.
    pub listen: SocketAddr,
    /// Serve HTTPS with the self-signed certificate (default `true`); `false` serves
    /// plain HTTP (for a TLS-terminating proxy or local tests).
    pub tls: bool,
    /// The public IPv4 address announced in `get_swarm`. Default: `127.0.0.1`.
    pub public_ip: Ipv4Addr,
    /// OxenMQ/QUIC port announced in `get_swarm` (not served yet). Default: 22020.
    pub omq_port: u16,
    /// Network hard fork reported while the node runs as a one-node swarm.
    /// Default: `[19, 4]`.
    pub hardfork: [u8; 2],
    /// Message store backend. Default: `"sqlite"`.
    pub store: StoreBackend,
    /// Database size cap in bytes; stores fail with `query_failure` beyond it.
    /// Default: 3758096384 (3.5 GiB, as v2.8.0).
    pub max_db_size: u64,
    /// Per-IP request rate (tokens per second); 0 disables rate limiting. Default: 300.
    pub rate_limit_per_second: u32,
    /// Per-IP burst (bucket size). Default: 600.
    pub rate_limit_burst: u32,
    /// Answer clients even when the network view says the node is not ready
    /// (`--force-start` of the reference). Default: `false`.
    pub force_start: bool,
    /// Add `Access-Control-Allow-Origin: *` to responses. Default: `false`.
    pub cors_any: bool,
    /// Seconds allowed for in-flight requests to finish on shutdown. Default: 30.
    pub drain_timeout_secs: u64,
    /// Log filter (`tracing` directive) unless `RUST_LOG` is set. Default: `"info"`.
    pub log: String,
    /// Seconds between two uptime proofs sent to the registry (only with
    /// `[registry] register = true`). The registry does not publish its proof timings,
    /// so the operator sets this to match them: above the registry's
    /// `uptime_proof_min_interval_secs` and well below `uptime_proof_validity_secs`.
    /// Default: 60 (the registry's devnet defaults are 30 and 125; mainnet oxend 3600).
    pub uptime_proof_interval_secs: u64,
    /// With a `[registry]`: on each block whose testing quorum lists this node as a
    /// validator, test the quorum's workers (ping test, signed ping, storage proof) and
    /// submit votes to the registry. Default: `true`.
    pub peer_testing: bool,
    /// Follow a registry (the `[registry]` table). Absent: the node is a one-node swarm
    /// owning every account.
    pub registry: Option<RegistrySettings>,
}

/// The `[registry]` table: where the network's node list comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySettings {
    /// The registry's JSON-RPC URL (`http://` or `https://`, host, port, path).
    /// Default: `http://127.0.0.1:22030/json_rpc`.
    pub url: RegistryUrl,
    /// Milliseconds between two `get_service_nodes` polls (with `poll_block_hash`, so an
    /// unchanged chain costs one tiny reply). Default: 1000.
    pub poll_interval_ms: u64,
    /// Register this node if the registry does not list it (solo operator stake equal
    /// to the staking requirement, signed by the node key), then send uptime proofs
    /// every `uptime_proof_interval_secs`. Default: `false`.
    pub register: bool,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            url: RegistryUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 22030,
                path: "/json_rpc".into(),
            },
            poll_interval_ms: 1000,
            register: false,
        }
    }
}

/// A registry's JSON-RPC URL (`http(s)://host[:port][/path]`, path `/json_rpc` when
/// absent).
pub use session_rt::url::HttpUrl as RegistryUrl;

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("session-node-data"),
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 22021)),
            tls: true,
            public_ip: Ipv4Addr::LOCALHOST,
            omq_port: 22020,
            hardfork: [19, 4],
            store: StoreBackend::Sqlite,
            max_db_size: DEFAULT_DB_SIZE_LIMIT,
            rate_limit_per_second: 300,
            rate_limit_burst: 600,
            force_start: false,
            cors_any: false,
            drain_timeout_secs: 30,
            peer_testing: true,
            log: "info".to_owned(),
            uptime_proof_interval_secs: 60,
            registry: None,
        }
    }
}

impl NodeConfig {
    /// Loads a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(session_rt::config::load_toml(path)?)
    }

    /// Parses TOML text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        Ok(session_rt::config::parse_toml(text, origin)?)
    }

    /// The rate-limit parameters.
    pub fn rate_limit(&self) -> RateLimit {
        RateLimit {
            per_second: self.rate_limit_per_second,
            burst: self.rate_limit_burst,
            ..RateLimit::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(NodeConfig::parse("", "t").unwrap(), NodeConfig::default());
    }

    #[test]
    fn unknown_and_mistyped_keys_are_errors() {
        let e = NodeConfig::parse("listne = \"1.2.3.4:5\"", "node.toml").unwrap_err();
        assert!(e.to_string().contains("listne"), "{e}");
        assert!(NodeConfig::parse("tls = \"yes\"", "t").is_err());
        assert!(NodeConfig::parse("store = \"postgres\"", "t").is_err());
    }

    #[test]
    fn values_are_read() {
        let c = NodeConfig::parse(
            "data_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:0\"\ntls = false\nstore = \"memory\"\nhardfork = [19, 3]",
            "t",
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.listen.port(), 0);
        assert!(!c.tls);
        assert_eq!(c.store, StoreBackend::Memory);
        assert_eq!(c.hardfork, [19, 3]);
    }

    #[test]
    fn registry_table() {
        let c = NodeConfig::parse(
            "[registry]\nurl = \"http://10.0.0.1:9/json_rpc\"\npoll_interval_ms = 250\nregister = true",
            "t",
        )
        .unwrap();
        let r = c.registry.unwrap();
        assert_eq!(r.url.host, "10.0.0.1");
        assert_eq!(r.url.port, 9);
        assert_eq!(r.url.path, "/json_rpc");
        assert!(!r.url.tls);
        assert_eq!(r.poll_interval_ms, 250);
        assert!(r.register);
        let d = NodeConfig::parse("[registry]", "t")
            .unwrap()
            .registry
            .unwrap();
        assert_eq!(d, RegistrySettings::default());
        assert_eq!(d.url.to_string(), "http://127.0.0.1:22030/json_rpc");
        assert!(NodeConfig::parse("[registry]\nurll = \"x\"", "t").is_err());
        assert!(NodeConfig::parse("[registry]\nurl = \"ftp://x\"", "t").is_err());
    }
}
