//! The shipped example configuration parses, matches the documented defaults where it
//! says so, and runs a node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use session_node::config::StoreBackend;
use session_node::{NodeBuilder, NodeConfig};

fn example() -> NodeConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/node.example.toml");
    NodeConfig::load(std::path::Path::new(path)).unwrap()
}

#[test]
fn example_config_parses() {
    let c = example();
    let d = NodeConfig::default();
    assert_eq!(
        c.data_dir,
        std::path::PathBuf::from("/var/lib/session-node")
    );
    assert_eq!(
        c.public_ip,
        "203.0.113.7".parse::<std::net::Ipv4Addr>().unwrap()
    );
    // Everything else is the default, as the comments say.
    assert_eq!(c.listen, d.listen);
    assert_eq!(c.tls, d.tls);
    assert_eq!(c.omq_port, d.omq_port);
    assert_eq!(c.hardfork, d.hardfork);
    assert_eq!(c.store, StoreBackend::Sqlite);
    assert_eq!(c.max_db_size, d.max_db_size);
    assert_eq!(c.rate_limit_per_second, d.rate_limit_per_second);
    assert_eq!(c.rate_limit_burst, d.rate_limit_burst);
    assert_eq!(c.force_start, d.force_start);
    assert_eq!(c.cors_any, d.cors_any);
    assert_eq!(c.drain_timeout_secs, d.drain_timeout_secs);
    assert_eq!(c.log, d.log);
    assert_eq!(c.uptime_proof_interval_secs, d.uptime_proof_interval_secs);
    assert_eq!(c.registry, None);
}

#[test]
fn example_registry_table_parses_to_its_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/node.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let enabled = text
        .replace("# [registry]", "[registry]")
        .replace("# url = ", "url = ")
        .replace("# poll_interval_ms = ", "poll_interval_ms = ")
        .replace("# register = ", "register = ");
    let c = NodeConfig::parse(&enabled, "node.example.toml (registry enabled)").unwrap();
    assert_eq!(
        c.registry,
        Some(session_node::config::RegistrySettings::default())
    );
}

#[tokio::test]
async fn example_config_runs_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = NodeConfig {
        data_dir: dir.path().to_owned(),
        listen: listener.local_addr().unwrap(),
        ..example()
    };
    let node = NodeBuilder::new(cfg).build(&listener).unwrap();
    let addr = node.local_addr();
    assert!(node.is_tls());
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let task = tokio::spawn(node.run(listener, shutdown));
    let mut c = session_rt::http::HttpConnection::connect(addr, true)
        .await
        .unwrap();
    let r = c
        .post("/storage_rpc/v1", r#"{"method":"info","params":{}}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"version\":[2,8,0]"));
    assert!(dir.path().join("key_ed25519").exists());
    assert!(dir.path().join("cert.pem").exists());
    assert!(dir.path().join("storage.db").exists());
    trigger.trigger();
    task.await.unwrap().unwrap();
}
