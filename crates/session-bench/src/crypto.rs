//! The `crypto` scenario.

/// Options of the `crypto` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the scenario.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the crypto benchmark is not written yet")
}
