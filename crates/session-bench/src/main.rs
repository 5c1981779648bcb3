//! `session-bench SCENARIO`: runs a benchmark scenario and prints one JSON line per
//! measurement. Figures are for humans and notes; no test asserts on them.

use clap::{Parser, Subcommand};

mod crypto;
mod e2e;
mod files;
mod measure;
mod node;
mod onion;
mod sodium;
mod sogs;

/// Benchmarks of the Session implementation. Each prints one JSON object per line.
#[derive(Debug, Parser)]
#[command(name = "session-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Cryptographic operations, ours next to libsodium's, in ops/s.
    Crypto(crypto::Args),
    /// Service node: store and signed retrieve over loopback HTTP, next to raw SQLite.
    Node(node::Args),
    /// Onion requests through 0–3 relaying nodes on loopback, next to the per-hop crypto.
    Onion(onion::Args),
    /// One-to-one messaging between two clients on loopback: send→receive latency and
    /// throughput through the whole client library.
    E2e(e2e::Args),
    /// Community server: signed polls, batch polls and posts from many clients over
    /// loopback HTTP, in requests/s with p50/p99 latency.
    Sogs(sogs::Args),
    /// File server: attachment upload and download MB/s through a 3-hop onion path,
    /// next to direct HTTP, with the client's encryption for scale.
    Files(files::Args),
    /// The load process of `onion`'s throughput measurement (started by it).
    #[command(hide = true)]
    OnionLoad(onion::LoadArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Crypto(args) => crypto::run(args),
        Scenario::Node(args) => node::run(args),
        Scenario::Onion(args) => onion::run(args),
        Scenario::OnionLoad(args) => onion::load(args),
        Scenario::E2e(args) => e2e::run(args),
        Scenario::Sogs(args) => sogs::run(args),
        Scenario::Files(args) => files::run(args),
    }
}
