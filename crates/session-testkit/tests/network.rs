//! The whole network in process: a registry and real nodes over HTTP on loopback.
//! 14 nodes form exactly two swarms; a store to the wrong swarm is answered 421 with the
//! owning swarm (as `session-swarm` maps the account), a store to the right one succeeds;
//! 7 more nodes make a third swarm, and every node's `get_swarm` agrees with the registry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;
use session_swarm::SwarmId;
use session_testkit::{TestAccount, TestNetwork};

/// An account whose swarm differs from `avoid` (the mapping decides which).
fn account_in(net: &TestNetwork, want: impl Fn(SwarmId) -> bool) -> (TestAccount, SwarmId) {
    for n in 1..=255u8 {
        let a = TestAccount::new(n);
        let s = net.swarm_of_key(&a.x25519()).unwrap();
        if want(s) {
            return (a, s);
        }
    }
    panic!("no account maps as wanted");
}

fn member_keys(body: &Value) -> BTreeSet<String> {
    body["snodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pubkey_ed25519"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks every running node's `get_swarm` for `account` against the registry.
async fn get_swarm_agrees(net: &TestNetwork, account: &TestAccount) {
    let expected = net.swarm_of_key(&account.x25519()).unwrap();
    let members: BTreeSet<String> = net.registry_swarms()[&expected]
        .iter()
        .map(hex::encode)
        .collect();
    for node in net.nodes() {
        let (status, body) = node.get_swarm(&account.session_id()).await.unwrap();
        assert_eq!(status, 200, "node {}: {body}", node.index());
        assert_eq!(
            body["swarm"],
            format!("{:x}", expected.0),
            "node {}",
            node.index()
        );
        assert_eq!(member_keys(&body), members, "node {}", node.index());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fourteen_nodes_two_swarms_then_a_third() {
    let started = Instant::now();
    let mut net = TestNetwork::start(14).await.unwrap();

    // Exactly two swarms, of 7, and every node knows its own.
    let swarms = net.registry_swarms();
    assert_eq!(swarms.len(), 2, "{swarms:?}");
    assert!(swarms.values().all(|m| m.len() == 7), "{swarms:?}");
    for node in net.nodes() {
        let s = node.status();
        assert!(s.listed, "node {}", node.index());
        let mine = s.swarm.expect("in a swarm");
        assert!(swarms[&mine].contains(&node.pubkey()));
    }

    // A store to a node outside the owner's swarm: 421 with the owner's swarm.
    let (alice, owner) = account_in(&net, |_| true);
    let outside = *net
        .nodes_in(*swarms.keys().find(|id| **id != owner).unwrap())
        .first()
        .unwrap();
    let now = net.now_ms();
    let params = alice.store(0, now, 3_600_000, b"hello swarm");
    let (status, body) = net
        .node(outside)
        .unwrap()
        .rpc("store", params.clone())
        .await
        .unwrap();
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["swarm"], format!("{:x}", owner.0));
    let expected: BTreeSet<String> = swarms[&owner].iter().map(hex::encode).collect();
    assert_eq!(member_keys(&body), expected);
    for s in body["snodes"].as_array().unwrap() {
        let key = s["pubkey_ed25519"].as_str().unwrap();
        let node = net.nodes().iter().find(|n| n.pubkey_hex() == key).unwrap();
        assert_eq!(s["ip"], "127.0.0.1");
        assert_eq!(s["port_https"], node.addr().port(), "announced port");
    }

    // The same store to a member of the owner's swarm succeeds.
    let inside = net.nodes_in(owner)[0];
    let (status, body) = net
        .node(inside)
        .unwrap()
        .rpc("store", params)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let entry = &body["swarm"][net.node(inside).unwrap().pubkey_hex()];
    assert!(entry["hash"].is_string(), "{body}");
    let (status, body) = net
        .node(inside)
        .unwrap()
        .rpc("retrieve", alice.retrieve(0, net.now_ms()))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    get_swarm_agrees(&net, &alice).await;

    // Uptime proofs from every node reach the chain.
    net.advance_block().await.unwrap();
    let st = net.registry().state();
    assert!(st.nodes.values().all(|n| n.last_uptime_proof > 0));

    // Seven more nodes: a third swarm appears, and everyone agrees with the registry.
    net.add_nodes(7).await.unwrap();
    let swarms = net.registry_swarms();
    assert_eq!(swarms.len(), 3, "{swarms:?}");
    assert_eq!(swarms.values().map(Vec::len).sum::<usize>(), 21);
    for node in net.nodes() {
        let mine = node.status().swarm.expect("in a swarm");
        assert!(
            swarms[&mine].contains(&node.pubkey()),
            "node {}",
            node.index()
        );
    }
    for owner in swarms.keys() {
        let (account, _) = account_in(&net, |s| s == *owner);
        get_swarm_agrees(&net, &account).await;
    }

    // A stopped node comes back with the same key and catches up.
    net.stop_node(3).await.unwrap();
    net.advance_block().await.unwrap();
    net.start_node(3).await.unwrap();
    net.sync().await.unwrap();
    assert!(net.node(3).unwrap().status().swarm.is_some());
    get_swarm_agrees(&net, &alice).await;

    net.shutdown().await.unwrap();
    eprintln!("whole-network test took {:?}", started.elapsed());
}

/// `oxend_request` (storage-node §2.13): a node answers `get_service_nodes` from its
/// registry, as clients refresh their node list; other endpoints and bad params are 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_answer_oxend_requests_from_the_registry() {
    let net = TestNetwork::start(5).await.unwrap();
    let node = net.node(3).unwrap();
    let (status, body) = node
        .rpc(
            "oxend_request",
            serde_json::json!({"endpoint": "get_service_nodes",
                "params": {"active_only": true, "fields": {"pubkey_ed25519": true}}}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body["t"].is_u64() && body["hf"].is_array(), "{body}");
    let listed: BTreeSet<String> = body["result"]["service_node_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pubkey_ed25519"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = net.nodes().iter().map(|n| n.pubkey_hex()).collect();
    assert_eq!(listed, expected);
    // bt-style params as a JSON string work too.
    let (status, _) = node
        .rpc(
            "oxend_request",
            serde_json::json!({"endpoint": "get_service_nodes", "params": "{\"limit\": 2}"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    for (params, what) in [
        (serde_json::json!({"endpoint": "get_block"}), "not allowed"),
        (serde_json::json!({}), "endpoint"),
        (
            serde_json::json!({"endpoint": "get_service_nodes", "params": [1]}),
            "params",
        ),
        (
            serde_json::json!({"endpoint": "get_service_nodes",
                "params": {"service_node_pubkeys": ["zz"]}}),
            "service_node_pubkeys",
        ),
    ] {
        let (status, body) = node.rpc("oxend_request", params.clone()).await.unwrap();
        assert_eq!(status, 400, "{params}: {body}");
        assert!(body.as_str().unwrap().contains(what), "{params}: {body}");
    }
    net.shutdown().await.unwrap();
}
