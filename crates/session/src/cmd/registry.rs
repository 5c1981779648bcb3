//! `session registry …`: run the network registry (staking ledger, swarms, names).

use clap::Subcommand;

/// Registry commands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Run the registry.
    Run,
}

/// Runs a registry command.
pub fn run(_cmd: RegistryCommand) -> anyhow::Result<()> {
    anyhow::bail!("the registry is not built yet")
}
