#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The onion client against a real in-process network (`session-testkit`): bootstrap
//! from the registry, refresh from nodes, store and retrieve through 3 hops plus the
//! destination with both ciphers, v4 requests to a server through the exit, and a
//! stopped node (middle hop, then guard) being detected, dropped and routed around.

use base64::Engine as _;
use serde_json::json;
use session_client::{
    ClientError, EncType, NetworkConfig, OnionClient, Protocol, ServerTarget, Snode, V4RequestInfo,
};
use session_testkit::{TestAccount, TestNetwork};

fn client_for(net: &TestNetwork, enc: EncType) -> OnionClient {
    let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
    cfg.storage_https = false;
    cfg.client.enc_type = enc;
    cfg.client.connect_timeout_ms = 2_000;
    cfg.client.request_timeout_ms = 10_000;
    OnionClient::new(cfg, net.clock().shared())
}

fn index_of(net: &TestNetwork, node: &Snode) -> usize {
    net.nodes()
        .iter()
        .position(|n| n.pubkey() == node.ed25519)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_retrieve_through_three_hops_with_both_ciphers() {
    let net = TestNetwork::start(12).await.unwrap();
    for (i, enc) in [EncType::XChaCha20, EncType::AesGcm]
        .into_iter()
        .enumerate()
    {
        let client = client_for(&net, enc);
        assert_eq!(client.bootstrap().await.unwrap(), 12);
        client.ensure_paths().await.unwrap();
        let paths = client.paths();
        assert_eq!(paths.len(), 2);
        for p in &paths {
            assert_eq!(p.hops().len(), 3);
        }
        let guards: Vec<_> = paths.iter().map(|p| p.hops()[0].ed25519).collect();
        assert_ne!(guards[0], guards[1]);

        let account = TestAccount::new(40 + u8::try_from(i).unwrap());
        let id = account.session_id();
        let data = format!("through the onion with {enc}");
        let ts = client.network_now_ms();
        assert_eq!(ts, net.now_ms(), "no offset on a shared clock");
        let stored = client
            .swarm_request(
                &id,
                "store",
                account.store(0, ts, 3_600_000, data.as_bytes()),
            )
            .await
            .unwrap();
        assert_eq!(stored.status, 200, "{}", stored.body);
        assert!(stored.body["hash"].is_string(), "{}", stored.body);

        let got = client
            .swarm_request(
                &id,
                "retrieve",
                account.retrieve(0, client.network_now_ms()),
            )
            .await
            .unwrap();
        assert_eq!(got.status, 200, "{}", got.body);
        let msgs = got.body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 1, "{}", got.body);
        let b64 = base64::engine::general_purpose::STANDARD.encode(data.as_bytes());
        assert_eq!(msgs[0]["data"], b64.as_str());

        // The swarm the client found is the registry's.
        let members = client.get_swarm(&id).await.unwrap();
        let swarm = net.swarm_of_key(&account.x25519()).unwrap();
        let mut expected = net.nodes_in(swarm);
        let mut got: Vec<usize> = members.iter().map(|m| index_of(&net, m)).collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected);

        // An application-level refusal is an answer, not a path failure.
        let bad = client
            .swarm_request(&id, "retrieve", json!({"pubkey": id, "timestamp": ts}))
            .await
            .unwrap();
        assert!(
            bad.status == 400 || bad.status == 401,
            "{}: {}",
            bad.status,
            bad.body
        );
        assert!(client.paths().iter().all(|p| p.failures() == 0));
    }
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_refreshes_from_nodes_and_follows_their_clock() {
    let net = TestNetwork::start(12).await.unwrap();
    let client = client_for(&net, EncType::XChaCha20);
    client.ensure_paths().await.unwrap();
    assert_eq!(client.nodes().len(), 12);
    assert_eq!(client.refresh_nodes().await.unwrap(), 12);

    // A client whose own clock is 5 minutes slow learns the network's time.
    let slow = session_rt::MockClock::new(net.now_ms() - 300_000);
    let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
    cfg.storage_https = false;
    let client = OnionClient::new(cfg, slow.shared());
    let dest = client_for(&net, EncType::AesGcm);
    dest.bootstrap().await.unwrap();
    let target = dest.nodes()[0].clone();
    let r = client
        .snode_request(&target, "info", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(client.clock_offset_ms(), 300_000);
    assert_eq!(client.network_now_ms(), net.now_ms());
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_bootstrap_and_tested_guards() {
    let mut net = TestNetwork::start(9).await.unwrap();
    let stopped: Vec<[u8; 32]> = [1, 4, 7].iter().map(|&i| net.nodes()[i].pubkey()).collect();
    for i in [1, 4, 7] {
        net.stop_node(i).await.unwrap();
    }
    let client = client_for(&net, EncType::AesGcm);
    let target = client_for(&net, EncType::AesGcm);
    target.bootstrap().await.unwrap();
    let dest = target
        .nodes()
        .into_iter()
        .find(|n| !stopped.contains(&n.ed25519))
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (c, d) = (client.clone(), dest.clone());
        tasks.spawn(async move { c.snode_request(&d, "info", json!({})).await });
    }
    let mut answered = 0;
    while let Some(r) = tasks.join_next().await {
        // A path through a stopped middle hop may fail a request; guards never do.
        if let Ok(reply) = r.unwrap() {
            assert_eq!(reply.status, 200);
            answered += 1;
        }
    }
    assert!(answered > 0);
    for p in client.paths() {
        assert!(!stopped.contains(&p.hops()[0].ed25519), "an untested guard");
    }
    net.shutdown().await.unwrap();
}

/// Sends `info` requests until `gone` is out of the directory and of every path; each
/// request must succeed. Returns how many it took.
async fn requests_until_dropped(client: &OnionClient, dest: &Snode, gone: &Snode) -> usize {
    for n in 1..=30 {
        let r = client.snode_request(dest, "info", json!({})).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let in_paths = client.paths().iter().any(|p| p.contains(&gone.ed25519));
        let in_directory = client.nodes().iter().any(|m| m.ed25519 == gone.ed25519);
        if !in_paths && !in_directory {
            return n;
        }
    }
    panic!("the stopped node was never dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_hop_or_guard_is_dropped_and_routed_around() {
    let mut net = TestNetwork::start(12).await.unwrap();
    let client = client_for(&net, EncType::XChaCha20);
    client.ensure_paths().await.unwrap();
    let paths = client.paths();
    let in_use: Vec<[u8; 32]> = paths
        .iter()
        .flat_map(|p| p.hops().iter().map(|h| h.ed25519))
        .collect();
    let dest = client
        .nodes()
        .into_iter()
        .find(|n| !in_use.contains(&n.ed25519))
        .unwrap();

    // A middle hop: the guard names it ("Next node is unreachable: …").
    let middle = paths[0].hops()[1].clone();
    net.stop_node(index_of(&net, &middle)).await.unwrap();
    requests_until_dropped(&client, &dest, &middle).await;
    let r = client
        .snode_request(&dest, "info", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(client.paths().len(), 2, "the dropped path was rebuilt");

    // A guard: connections to it are refused.
    let paths = client.paths();
    let guard = paths
        .iter()
        .map(|p| p.hops()[0].clone())
        .find(|g| {
            g.ed25519 != dest.ed25519
                && paths.iter().filter(|p| p.contains(&g.ed25519)).count() == 1
        })
        .expect("a guard used by one path only");
    net.stop_node(index_of(&net, &guard)).await.unwrap();
    requests_until_dropped(&client, &dest, &guard).await;
    assert_eq!(client.paths().len(), 2);
    assert!(
        client
            .paths()
            .iter()
            .all(|p| !p.contains(&guard.ed25519) && !p.contains(&middle.ed25519))
    );

    // A destination the network does not know: the exit says so, and that is final.
    let mut ghost = dest.clone();
    ghost.ed25519 = [0x42; 32];
    let e = client
        .snode_request(&ghost, "info", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::UnknownDestination { .. }), "{e}");
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_requests_reach_a_server_through_the_exit() {
    let net = TestNetwork::start(6).await.unwrap();
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::post(|body: String| async move { format!("hi {body}") }),
    );
    let (addr, keypair, _stop) = session_testkit::onion::serve_v4(app).await.unwrap();
    let server = ServerTarget {
        host: "127.0.0.1".into(),
        port: addr.port(),
        protocol: Protocol::Http,
        x25519: *keypair.public(),
    };
    let info = V4RequestInfo {
        method: "POST".into(),
        endpoint: "/hello".into(),
        headers: [("content-type".to_string(), "text/plain".to_string())].into(),
    };
    for enc in [EncType::XChaCha20, EncType::AesGcm] {
        let client = client_for(&net, enc);
        let r = client
            .server_request(&server, &info, Some(b"there"))
            .await
            .unwrap();
        assert_eq!(r.info.code, 200);
        assert_eq!(r.body.as_deref(), Some(&b"hi there"[..]));
    }

    // A server that is down: the exit says so, and the paths are not blamed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = ServerTarget {
        port: closed,
        ..server.clone()
    };
    let client = client_for(&net, EncType::XChaCha20);
    for _ in 0..4 {
        let e = client.server_request(&down, &info, None).await.unwrap_err();
        assert!(
            matches!(e, ClientError::ServerStatus { status: 502, .. }),
            "{e}"
        );
    }
    assert_eq!(client.paths().len(), 2);
    assert!(client.paths().iter().all(|p| p.failures() == 0));
    net.shutdown().await.unwrap();
}
