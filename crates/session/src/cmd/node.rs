//! `session node …`: run a service node.
//!
//! `session node run --config node.toml` reads the TOML file (see
//! `crates/session-node/node.example.toml`; every key optional, unknown keys are
//! errors), then applies flags, which clap also reads from `SESSION_NODE_*` environment
//! variables: flag > environment > file > built-in default. Ctrl-C or SIGTERM stops
//! accepting, lets in-flight requests (and their database writes) finish, and exits.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use session_node::config::{RegistrySettings, RegistryUrl, StoreBackend};
use session_node::{NodeBuilder, NodeConfig};

/// Service-node commands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Run a service node (storage RPC over HTTPS).
    Run(RunArgs),
}

/// Message store backends selectable on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StoreArg {
    /// SQLite database `storage.db` in the data directory.
    Sqlite,
    /// In memory only (lost on exit).
    Memory,
}

/// Options of `session node run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML). Without it, built-in defaults apply.
    #[arg(long, short = 'c', env = "SESSION_NODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (node key, TLS certificate, storage.db).
    #[arg(long, env = "SESSION_NODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listen address and port, e.g. 0.0.0.0:22021 (port 0 picks a free port).
    #[arg(long, env = "SESSION_NODE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public IPv4 address announced to clients.
    #[arg(long, env = "SESSION_NODE_PUBLIC_IP")]
    pub public_ip: Option<Ipv4Addr>,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long, env = "SESSION_NODE_NO_TLS")]
    pub no_tls: bool,
    /// Message store backend.
    #[arg(long, value_enum, env = "SESSION_NODE_STORE")]
    pub store: Option<StoreArg>,
    /// Database size cap in bytes.
    #[arg(long, env = "SESSION_NODE_MAX_DB_SIZE")]
    pub max_db_size: Option<u64>,
    /// Per-IP requests per second (0 disables rate limiting); the burst is twice this.
    #[arg(long, env = "SESSION_NODE_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Serve clients even when the node is not ready.
    #[arg(long, env = "SESSION_NODE_FORCE_START")]
    pub force_start: bool,
    /// Follow the registry at this JSON-RPC URL (e.g. http://127.0.0.1:22030/json_rpc)
    /// instead of running as a one-node swarm; sets `[registry] url`.
    #[arg(long, env = "SESSION_NODE_REGISTRY_URL", value_parser = parse_registry_url)]
    pub registry_url: Option<RegistryUrl>,
    /// Register this node with the registry if it is not listed, then send uptime proofs
    /// (`[registry] register = true`; needs a registry URL from the flag or the file).
    #[arg(long, env = "SESSION_NODE_REGISTER")]
    pub register: bool,
    /// Log filter, e.g. "info" or "session_node=debug" (RUST_LOG wins).
    #[arg(long, env = "SESSION_NODE_LOG")]
    pub log: Option<String>,
}

impl RunArgs {
    /// The configuration: file (or defaults) with flags/environment applied.
    pub fn config(&self) -> anyhow::Result<NodeConfig> {
        let mut cfg = match &self.config {
            Some(path) => NodeConfig::load(path)?,
            None => NodeConfig::default(),
        };
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(ip) = self.public_ip {
            cfg.public_ip = ip;
        }
        if self.no_tls {
            cfg.tls = false;
        }
        if let Some(s) = self.store {
            cfg.store = match s {
                StoreArg::Sqlite => StoreBackend::Sqlite,
                StoreArg::Memory => StoreBackend::Memory,
            };
        }
        if let Some(m) = self.max_db_size {
            cfg.max_db_size = m;
        }
        if let Some(r) = self.rate_limit {
            cfg.rate_limit_per_second = r;
            cfg.rate_limit_burst = r.saturating_mul(2);
        }
        if self.force_start {
            cfg.force_start = true;
        }
        if let Some(l) = &self.log {
            cfg.log = l.clone();
        }
        if let Some(url) = &self.registry_url {
            cfg.registry
                .get_or_insert_with(RegistrySettings::default)
                .url = url.clone();
        }
        if self.register {
            match cfg.registry.as_mut() {
                Some(r) => r.register = true,
                None => anyhow::bail!(
                    "--register needs a registry: give --registry-url or a [registry] table"
                ),
            }
        }
        Ok(cfg)
    }
}

fn parse_registry_url(text: &str) -> Result<RegistryUrl, String> {
    text.parse()
}

/// Runs a node command.
pub fn run(cmd: NodeCommand) -> anyhow::Result<()> {
    match cmd {
        NodeCommand::Run(args) => run_node(&args),
    }
}

fn run_node(args: &RunArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    session_rt::logging::init(&cfg.log);
    let listen = cfg.listen;
    super::serve::run_until_signal("session-node", listen, |listener, shutdown| async move {
        let registry = cfg.registry.as_ref().map(|r| r.url.to_string());
        let node = NodeBuilder::new(cfg).build(&listener)?;
        let scheme = if node.is_tls() { "https" } else { "http" };
        super::serve::announce(&format!(
            "session node listening on {scheme}://{} (pubkey {})",
            node.local_addr(),
            node.identity().ed25519_hex()
        ));
        if let Some(url) = registry {
            super::serve::announce(&format!("following the registry at {url}"));
        }
        node.run(listener, shutdown).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: NodeCommand,
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ntls = true\nrate_limit_per_second = 7\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "node",
            "run",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--no-tls",
            "--store",
            "memory",
        ])
        .unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        let cfg = args.config().unwrap();
        assert_eq!(cfg.listen.port(), 0);
        assert!(!cfg.tls);
        assert_eq!(cfg.store, StoreBackend::Memory);
        assert_eq!(cfg.rate_limit_per_second, 7, "file value kept when no flag");
    }

    #[test]
    fn registry_flags() {
        let cli = Cli::try_parse_from([
            "node",
            "run",
            "--registry-url",
            "http://127.0.0.1:5555/json_rpc",
            "--register",
        ])
        .unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        let r = args.config().unwrap().registry.unwrap();
        assert_eq!(r.url.port, 5555);
        assert!(r.register);
        assert_eq!(r.poll_interval_ms, 1000);

        // The file's table is kept; the flag only replaces the URL.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "[registry]\nurl = \"http://10.1.1.1:1/json_rpc\"\npoll_interval_ms = 50\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "node",
            "run",
            "-c",
            path.to_str().unwrap(),
            "--registry-url",
            "http://127.0.0.1:7/x",
        ])
        .unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        let r = args.config().unwrap().registry.unwrap();
        assert_eq!((r.url.port, r.url.path.as_str()), (7, "/x"));
        assert_eq!(r.poll_interval_ms, 50);
        assert!(!r.register);

        // --register without any registry is an error; a bad URL is refused by clap.
        let cli = Cli::try_parse_from(["node", "run", "--register"]).unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        assert!(args.config().is_err());
        assert!(Cli::try_parse_from(["node", "run", "--registry-url", "ftp://x"]).is_err());
        // No flag, no table: a one-node swarm.
        let cli = Cli::try_parse_from(["node", "run"]).unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        assert!(args.config().unwrap().registry.is_none());
    }

    #[test]
    fn unknown_config_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let cli = Cli::try_parse_from(["node", "run", "-c", path.to_str().unwrap()]).unwrap();
        let NodeCommand::Run(args) = cli.cmd;
        let err = args.config().unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }
}
