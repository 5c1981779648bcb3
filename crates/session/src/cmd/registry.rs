//! `session registry …`: run the network registry (staking ledger, swarms, names).
//!
//! `session registry run --config registry.toml` reads the TOML file (see
//! `crates/session-registry/registry.example.toml`; every key optional, unknown keys are
//! errors), then applies flags, which clap also reads from `SESSION_REGISTRY_*`
//! environment variables: flag > environment > file > built-in default. The chain's
//! consensus parameters (`[chain]`) come from the file only: they are recorded in the
//! genesis block and a registry refuses to start on a chain made with other values.
//! Ctrl-C or SIGTERM stops accepting requests, lets in-flight ones (and a block being
//! written) finish, and exits.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use session_registry::{Registry, RegistryConfig, StoreBackend};

/// Registry commands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Run the registry: produce blocks and serve JSON-RPC on POST /json_rpc.
    Run(RunArgs),
}

/// Block stores selectable on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StoreArg {
    /// SQLite database `registry.db` in the data directory.
    Sqlite,
    /// In memory only (the chain is lost on exit).
    Memory,
}

/// Options of `session registry run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML). Without it, built-in (devnet) defaults apply.
    #[arg(long, short = 'c', env = "SESSION_REGISTRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the chain database (registry.db).
    #[arg(long, env = "SESSION_REGISTRY_DATA_DIR", value_name = "DIR")]
    pub chain_dir: Option<PathBuf>,
    /// Listen address and port, e.g. 127.0.0.1:22030 (port 0 picks a free port).
    #[arg(long, env = "SESSION_REGISTRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Milliseconds between blocks.
    #[arg(long, env = "SESSION_REGISTRY_BLOCK_INTERVAL_MS")]
    pub block_interval_ms: Option<u64>,
    /// Block store backend.
    #[arg(long, value_enum, env = "SESSION_REGISTRY_STORE")]
    pub store: Option<StoreArg>,
    /// Log filter, e.g. "info" or "session_registry=debug" (RUST_LOG wins).
    #[arg(long, env = "SESSION_REGISTRY_LOG")]
    pub log: Option<String>,
}

impl RunArgs {
    /// The configuration: file (or defaults) with flags/environment applied.
    pub fn config(&self) -> anyhow::Result<RegistryConfig> {
        let mut cfg = match &self.config {
            Some(path) => RegistryConfig::load(path)?,
            None => RegistryConfig::default(),
        };
        if let Some(d) = &self.chain_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(ms) = self.block_interval_ms {
            cfg.block_interval_ms = ms;
        }
        if let Some(s) = self.store {
            cfg.store = match s {
                StoreArg::Sqlite => StoreBackend::Sqlite,
                StoreArg::Memory => StoreBackend::Memory,
            };
        }
        if let Some(l) = &self.log {
            cfg.log = l.clone();
        }
        cfg.validate("(command-line flags)")?;
        Ok(cfg)
    }
}

/// Runs a registry command.
pub fn run(cmd: RegistryCommand) -> anyhow::Result<()> {
    match cmd {
        RegistryCommand::Run(args) => run_registry(&args),
    }
}

fn run_registry(args: &RunArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    session_rt::logging::init(&cfg.log);
    let listen = cfg.listen;
    super::serve::run_until_signal(
        "session-registry",
        listen,
        |listener, shutdown| async move {
            let local = listener
                .local_addr()
                .context("cannot read the listener address")?;
            let registry = Registry::open(&cfg, session_rt::SystemClock::shared())?;
            let state = registry.state();
            super::serve::announce(&format!(
                "session registry listening on http://{local}/json_rpc (network {}, height {}, {} nodes)",
                state.params.network,
                state.height,
                state.nodes.len()
            ));
            registry.run(listener, shutdown).await?;
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: RegistryCommand,
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nblock_interval_ms = 500\n[chain]\nunlock_blocks = 7\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "registry",
            "run",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--store",
            "memory",
        ])
        .unwrap();
        let RegistryCommand::Run(args) = cli.cmd;
        let cfg = args.config().unwrap();
        assert_eq!(cfg.listen.port(), 0);
        assert_eq!(cfg.store, StoreBackend::Memory);
        assert_eq!(cfg.block_interval_ms, 500, "file value kept when no flag");
        assert_eq!(cfg.chain.unlock_blocks, 7);
    }

    #[test]
    fn bad_config_fails_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.toml");
        std::fs::write(&path, "[chain]\nunlock_blokcs = 3\n").unwrap();
        let cli = Cli::try_parse_from(["registry", "run", "-c", path.to_str().unwrap()]).unwrap();
        let RegistryCommand::Run(args) = cli.cmd;
        let err = args.config().unwrap_err().to_string();
        assert!(err.contains("unlock_blokcs"), "{err}");
        let cli = Cli::try_parse_from(["registry", "run", "--block-interval-ms", "0"]).unwrap();
        let RegistryCommand::Run(args) = cli.cmd;
        assert!(args.config().is_err());
    }
}
