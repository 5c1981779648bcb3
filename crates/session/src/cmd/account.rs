//! `session account …`

use clap::Subcommand;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a new account.
    New,
}

/// Runs an account command.
pub fn run(_cmd: AccountCommand) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
