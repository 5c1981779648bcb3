//! `session`: one command for everything — accounts and chat, the service node, the
//! registry, the community and file servers, and a whole devnet.

use clap::{Parser, Subcommand};

mod account_file;
mod cmd;
mod private_file;
mod profile_file;
mod ui;

/// Session: private messaging without phone numbers, e-mail addresses or central servers.
#[derive(Debug, Parser)]
#[command(name = "session", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Where the account and local data live [default: the platform data directory,
    /// e.g. ~/.local/share/session].
    #[arg(long, global = true, env = "SESSION_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Print JSON instead of text, for scripts (one object; `watch`: one object per line).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, restore and show your account (Session ID and recovery words).
    #[command(subcommand)]
    Account(cmd::account::AccountCommand),
    #[command(flatten)]
    Chat(cmd::chat::ChatCommand),
    /// Session names: register one for your account (@name), or look one up.
    #[command(subcommand)]
    Name(cmd::name::NameCommand),
    /// Run a service node (message storage for a swarm, onion relay).
    #[command(subcommand)]
    Node(cmd::node::NodeCommand),
    /// Run the network registry: staking ledger, swarm assignment, quorums, names.
    #[command(subcommand)]
    Registry(cmd::registry::RegistryCommand),
    /// Run a whole network on this machine: the registry, a community server, a file
    /// server and N service nodes.
    Devnet(cmd::devnet::DevnetArgs),
    /// Reach a network through onion paths: nodes known, paths, round trips.
    #[command(subcommand)]
    Network(cmd::network::NetworkCommand),
    /// Communities (public groups on community servers): join, read, post, react, DM.
    #[command(subcommand)]
    Community(cmd::community::CommunityCommand),
    /// Run and administer a community server (SOGS): rooms, moderators, bans.
    #[command(subcommand)]
    Sogs(cmd::sogs::SogsCommand),
    /// Run a file server: encrypted attachments, stored until they expire.
    #[command(subcommand)]
    Files(cmd::files::FilesCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(account_file::default_data_dir);
    let result = match cli.command {
        Command::Account(c) => cmd::account::run(c, &data_dir, cli.json),
        Command::Chat(c) => cmd::chat::run(c, &data_dir, cli.json),
        Command::Name(c) => cmd::name::run(c, &data_dir, cli.json),
        Command::Node(c) => cmd::node::run(c),
        Command::Registry(c) => cmd::registry::run(c),
        Command::Devnet(c) => cmd::devnet::run(c, cli.json),
        Command::Network(c) => cmd::network::run(c, cli.json),
        Command::Community(c) => cmd::community::run(c, &data_dir, cli.json),
        Command::Sogs(c) => cmd::sogs::run(c, cli.json),
        Command::Files(c) => cmd::files::run(c, cli.json),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks over every subcommand (duplicate names, conflicting
    /// global and local arguments, bad defaults).
    #[test]
    fn command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
