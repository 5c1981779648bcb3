//! The `node` scenario.

/// Options of the `node` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the scenario.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the node benchmark is not written yet")
}
