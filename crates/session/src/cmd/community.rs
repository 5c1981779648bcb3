//! `session community …`: join communities (SOGS rooms), read and post.

use std::path::Path;

use clap::{Args, Subcommand};

/// `session community …`.
#[derive(Debug, Subcommand)]
pub enum CommunityCommand {
    /// Join a community by its URL.
    Join(JoinArgs),
}

/// Options of `session community join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The join URL: `https://host/token?public_key=<64 hex>`.
    url: String,
}

/// Runs a `session community` command.
pub fn run(command: CommunityCommand, _data_dir: &Path, _json: bool) -> anyhow::Result<()> {
    match command {
        CommunityCommand::Join(args) => anyhow::bail!("not built yet: {}", args.url),
    }
}
