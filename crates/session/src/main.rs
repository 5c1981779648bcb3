//! `session`: one command for everything — accounts and chat, the service node, the
//! registry, the community and file servers, and a whole devnet.

use clap::{Parser, Subcommand};

mod cmd;

/// Session: private messaging without phone numbers, e-mail addresses or central servers.
#[derive(Debug, Parser)]
#[command(name = "session", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, restore and show your account (Session ID and recovery words).
    #[command(subcommand)]
    Account(cmd::account::AccountCommand),
    /// Run a service node (message storage for a swarm, onion relay).
    #[command(subcommand)]
    Node(cmd::node::NodeCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Account(c) => cmd::account::run(c),
        Command::Node(c) => cmd::node::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
