//! `session files …`: run a file server (stub; filled in by issue 9).

use clap::Subcommand;

/// `session files …`.
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Serve files (not yet).
    Run,
}

/// Runs a `session files` command.
pub fn run(command: FilesCommand, _json: bool) -> anyhow::Result<()> {
    match command {
        FilesCommand::Run => anyhow::bail!("not yet"),
    }
}
