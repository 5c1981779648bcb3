#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The shipped example configuration loads, matches the documented defaults, and opens a
//! registry.

use std::path::Path;

use session_registry::{Registry, RegistryConfig, StoreBackend};
use session_rt::MockClock;

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("registry.example.toml")
}

#[test]
fn example_config_loads_and_shows_the_defaults() {
    let cfg = RegistryConfig::load(&example()).unwrap();
    assert_eq!(
        cfg,
        RegistryConfig::default(),
        "the example documents the defaults"
    );
    assert_eq!(cfg.store, StoreBackend::Sqlite);
    assert_eq!(cfg.chain.staking_requirement, 120_000_000_000);
}

#[test]
fn example_config_opens_a_registry() {
    let mut cfg = RegistryConfig::load(&example()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    cfg.data_dir = tmp.path().join("chain");
    let reg = Registry::open(&cfg, MockClock::new(1_700_000_000_000).shared()).unwrap();
    assert_eq!(reg.state().height, 0);
    assert!(cfg.data_dir.join("registry.db").exists());
    reg.produce_block().unwrap();
    drop(reg);
    let reg = Registry::open(&cfg, MockClock::new(1_700_000_100_000).shared()).unwrap();
    assert_eq!(reg.state().height, 1, "the chain survives a restart");
}
