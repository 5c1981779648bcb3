//! Readiness of a node following a registry (storage-node §1.7): 503 until it has a view
//! and is an active swarm member; a registry that is down keeps it unready.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::net::Ipv4Addr;

use serde_json::json;
use session_node::config::{RegistrySettings, StoreBackend};
use session_node::{NodeBuilder, NodeConfig};
use session_rt::http::HttpConnection;
use session_testkit::{TestAccount, TestNetwork};

async fn start_node(
    net: &TestNetwork,
    dir: &std::path::Path,
    registry_url: &str,
    register: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<session_node::registry::RegistryFollower>,
    session_rt::ShutdownTrigger,
    tokio::task::JoinHandle<Result<(), session_node::NodeError>>,
) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let cfg = NodeConfig {
        data_dir: dir.to_owned(),
        listen: listener.local_addr().unwrap(),
        tls: false,
        store: StoreBackend::Memory,
        rate_limit_per_second: 0,
        registry: Some(RegistrySettings {
            url: registry_url.parse().unwrap(),
            poll_interval_ms: 1000,
            register,
        }),
        ..NodeConfig::default()
    };
    let node = NodeBuilder::new(cfg)
        .clock(net.clock().shared())
        .build(&listener)
        .unwrap();
    let addr = node.local_addr();
    let follower = node.follower().unwrap().clone();
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let task = tokio::spawn(node.run(listener, shutdown));
    (addr, follower, trigger, task)
}

async fn store_status(addr: std::net::SocketAddr, now: u64) -> (u16, String) {
    let mut c = HttpConnection::connect(addr, false).await.unwrap();
    let body =
        json!({"method": "store", "params": TestAccount::new(1).store(0, now, 60_000, b"x")});
    let r = c.post("/storage_rpc/v1", body.to_string()).await.unwrap();
    (r.status, r.text())
}

#[tokio::test]
async fn unlisted_or_cut_off_nodes_answer_503() {
    let net = TestNetwork::start(5).await.unwrap();
    assert_eq!(net.registry_swarms().len(), 1);
    let tmp = tempfile::tempdir().unwrap();

    // Follows the registry but does not register: synced, yet in no swarm.
    let (addr, follower, trigger, task) =
        start_node(&net, tmp.path(), &net.registry_url(), false).await;
    follower.refresh().await.unwrap();
    let s = follower.status();
    assert!(!s.listed && !s.registration_submitted && s.block_hash.is_some());
    let (status, text) = store_status(addr, net.now_ms()).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("not an active member of any swarm"), "{text}");
    trigger.trigger();
    task.await.unwrap().unwrap();

    // A registry nobody listens on: never synced.
    let dead = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap()
    };
    let tmp2 = tempfile::tempdir().unwrap();
    let (addr, follower, trigger, task) =
        start_node(&net, tmp2.path(), &format!("http://{dead}/json_rpc"), true).await;
    assert!(follower.refresh().await.is_err());
    assert!(follower.status().last_error.is_some());
    let (status, text) = store_status(addr, net.now_ms()).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("not yet synced"), "{text}");
    trigger.trigger();
    task.await.unwrap().unwrap();

    net.shutdown().await.unwrap();
}
