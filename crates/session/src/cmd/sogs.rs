//! `session sogs …`: run and administer a community server (SOGS).

use clap::{Args, Subcommand};

/// `session sogs …`.
#[derive(Debug, Subcommand)]
pub enum SogsCommand {
    /// Run the community server.
    Run(RunArgs),
}

/// Options of `session sogs run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
}

/// Runs a `session sogs` command.
pub fn run(command: SogsCommand, _json: bool) -> anyhow::Result<()> {
    match command {
        SogsCommand::Run(args) => anyhow::bail!("not built yet: {}", args.config.display()),
    }
}
