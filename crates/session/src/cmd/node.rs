//! `session node …`: run a service node.

use clap::Subcommand;

/// Service-node commands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Run a service node.
    Run,
}

/// Runs a node command.
pub fn run(_cmd: NodeCommand) -> anyhow::Result<()> {
    anyhow::bail!("the service node is not built yet")
}
