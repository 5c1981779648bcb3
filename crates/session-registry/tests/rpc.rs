#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The JSON-RPC surface against the real HTTP server: the node list as oxend answers it,
//! field selection, `active_only`, `limit`, `poll_block_hash`, uptime proofs, and the
//! error envelope.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn registered_nodes_are_listed_like_oxend() {
    let t = TestRegistry::start().await;
    let genesis = t.nodes(json!({})).await;
    assert_eq!(genesis["height"], 0);
    assert_eq!(genesis["service_node_states"], json!([]));

    t.register(&[1, 2, 3]).await;
    // Pending transactions are not in the list until a block applies them.
    assert_eq!(t.nodes(json!({})).await["service_node_states"], json!([]));
    let info = t.ok("get_info", json!({})).await;
    assert_eq!(info["mempool_size"], 3);

    let block = t.produce();
    assert_eq!(block.height, 1);
    assert_eq!(block.txs.len(), 3);

    let r = t.nodes(json!({})).await;
    assert_eq!(r["status"], "OK");
    assert_eq!(r["height"], 1);
    assert_eq!(r["target_height"], 1);
    assert_eq!(r["block_hash"], hex::encode(block.hash));
    assert_eq!(r["hardfork"], 21);
    assert_eq!(r["snode_revision"], 0);
    assert!(r.get("unchanged").is_none(), "only present when polling");
    let states = r["service_node_states"].as_array().unwrap();
    assert_eq!(states.len(), 3);
    let key1 = node_key(1);
    let n = states
        .iter()
        .find(|n| n["service_node_pubkey"] == hex::encode(key1.public().0))
        .unwrap();
    assert_eq!(n["pubkey_ed25519"], hex::encode(key1.public().0));
    assert_eq!(n["pubkey_x25519"], hex::encode(key1.to_x25519().public()));
    assert_eq!(n["public_ip"], "10.0.0.1");
    assert_eq!(n["storage_port"], 22021);
    assert_eq!(n["storage_lmq_port"], 22020);
    assert_eq!(n["quorumnet_port"], 22025);
    assert_eq!(n["active"], true);
    assert_eq!(n["funded"], true);
    assert_eq!(n["requested_unlock_height"], 0);
    assert_eq!(n["registration_height"], 1);
    assert_eq!(n["state_height"], 1);
    assert_eq!(n["earned_downtime_blocks"], 4);
    assert_eq!(n["staking_requirement"], 100 * SESH);
    assert_eq!(n["total_contributed"], 100 * SESH);
    assert_eq!(
        n["operator_fee"], 100_000,
        "1000 bps = 10% = 100000 millionths"
    );
    assert_eq!(n["operator_address"], addr(1).to_string());
    assert_eq!(
        n["contributors"],
        json!([{"amount": 100 * SESH, "address": addr(1).to_string()}])
    );
    assert_eq!(n["last_uptime_proof"], 0);
    // Three nodes make one swarm (fewer than the minimum of 5 still get swarm 0).
    assert_eq!(n["swarm_id"], 0);
    assert_eq!(n["swarm"], "0");
    assert!(n.get("service_node_version").is_none(), "no proof yet");

    // The aliases answer the same.
    let alias = t.ok("get_n_service_nodes", json!({})).await;
    assert_eq!(alias["service_node_states"].as_array().unwrap().len(), 3);
    t.stop().await;
}

#[tokio::test]
async fn fields_select_node_and_top_level_keys() {
    let t = TestRegistry::start().await;
    t.register(&[1, 2]).await;
    t.produce();

    // List form: only the named keys, at both levels.
    let r = t
        .nodes(json!({"fields": ["service_node_pubkey", "swarm_id", "height"]}))
        .await;
    assert_eq!(keys(&r), set(&["status", "height", "service_node_states"]));
    for n in r["service_node_states"].as_array().unwrap() {
        assert_eq!(keys(n), set(&["service_node_pubkey", "swarm_id"]));
    }

    // The storage server's request: the deprecated dict form.
    let ss_fields = json!({
        "service_node_pubkey": true, "swarm_id": true, "storage_port": true, "public_ip": true,
        "height": true, "block_hash": true, "hardfork": true, "snode_revision": true,
        "funded": true, "pubkey_x25519": true, "pubkey_ed25519": true, "storage_lmq_port": true
    });
    let r = t
        .nodes(json!({"fields": ss_fields, "active_only": false}))
        .await;
    assert_eq!(
        keys(&r),
        set(&[
            "status",
            "height",
            "block_hash",
            "hardfork",
            "snode_revision",
            "service_node_states"
        ])
    );
    let n = &r["service_node_states"][0];
    assert_eq!(
        keys(n),
        set(&[
            "service_node_pubkey",
            "swarm_id",
            "storage_port",
            "public_ip",
            "funded",
            "pubkey_x25519",
            "pubkey_ed25519",
            "storage_lmq_port"
        ])
    );

    // "all" minus some.
    let r = t
        .nodes(json!({"fields": ["all", "-funded", "-height"]}))
        .await;
    assert!(r.get("height").is_none());
    assert!(r.get("block_hash").is_some());
    let n = &r["service_node_states"][0];
    assert!(n.get("funded").is_none());
    assert!(n.get("active").is_some());

    // No fields (or an empty list) means all.
    let all = t.nodes(json!({"fields": []})).await;
    assert!(all["service_node_states"][0].get("contributors").is_some());

    // Selecting nodes by key.
    let k2 = hex::encode(node_key(2).public().0);
    let r = t
        .nodes(json!({"service_node_pubkeys": [k2.clone()], "fields": ["service_node_pubkey"]}))
        .await;
    assert_eq!(
        r["service_node_states"],
        json!([{"service_node_pubkey": k2}])
    );

    t.rejected("get_service_nodes", json!({"fields": 3}), "invalid_params")
        .await;
    t.stop().await;
}

#[tokio::test]
async fn poll_block_hash_limit_and_active_only() {
    let t = TestRegistry::start().await;
    t.register(&[1, 2, 3, 4, 5, 6]).await;
    let b = t.produce();
    let top = hex::encode(b.hash);

    let r = t
        .nodes(json!({"poll_block_hash": top, "fields": {"block_hash": true, "height": true}}))
        .await;
    assert_eq!(
        r,
        json!({"status": "OK", "unchanged": true, "height": 1, "block_hash": top})
    );
    // Without requesting block_hash it is still not sent when unchanged.
    let r = t
        .nodes(json!({"poll_block_hash": top, "fields": ["swarm_id"]}))
        .await;
    assert_eq!(r, json!({"status": "OK", "unchanged": true}));

    // A stale hash: the full answer, with unchanged = false and the new block_hash.
    let r = t
        .nodes(json!({"poll_block_hash": "00".repeat(32), "fields": ["swarm_id"]}))
        .await;
    assert_eq!(r["unchanged"], false);
    assert_eq!(r["block_hash"], top);
    assert_eq!(r["service_node_states"].as_array().unwrap().len(), 6);

    // Once the chain moves on, the old hash no longer matches.
    let b2 = t.produce();
    let r = t.nodes(json!({"poll_block_hash": top})).await;
    assert_eq!(r["unchanged"], false);
    assert_eq!(r["block_hash"], hex::encode(b2.hash));

    // limit: a random subset of that size; negative: everything, shuffled.
    let r = t.nodes(json!({"limit": 2})).await;
    let picked = r["service_node_states"].as_array().unwrap();
    assert_eq!(picked.len(), 2);
    assert_ne!(
        picked[0]["service_node_pubkey"],
        picked[1]["service_node_pubkey"]
    );
    assert_eq!(
        t.nodes(json!({"limit": -1})).await["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        t.nodes(json!({"limit": 100})).await["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    // Everyone is active here; active_only keeps them all (decommissioned nodes are
    // excluded: see the votes tests).
    let r = t.nodes(json!({"active_only": true})).await;
    assert_eq!(r["service_node_states"].as_array().unwrap().len(), 6);
    t.stop().await;
}

#[tokio::test]
async fn uptime_proofs_update_the_node() {
    let t = TestRegistry::start().await;
    t.register(&[1]).await;
    t.produce();
    let now = t.now_secs();
    let signed = proof(1, now).sign(&node_key(1));
    let r = t
        .ok(
            "submit_uptime_proof",
            serde_json::to_value(&signed).unwrap(),
        )
        .await;
    assert_eq!(r["status"], "OK");
    assert_eq!(r["height"], 2);
    t.produce();
    let n = t.nodes(json!({})).await["service_node_states"][0].clone();
    assert_eq!(n["last_uptime_proof"], now);
    assert_eq!(n["public_ip"], "10.1.0.1");
    assert_eq!(n["storage_port"], 23021);
    assert_eq!(n["storage_lmq_port"], 23020);
    assert_eq!(n["quorumnet_port"], 23025);
    assert_eq!(n["service_node_version"], json!([11, 0, 6]));
    assert_eq!(n["storage_server_version"], json!([2, 8, 0]));

    // Too soon after the previous one (minimum interval 30 s).
    let again = proof(1, now + 10).sign(&node_key(1));
    let e = t
        .rejected(
            "submit_uptime_proof",
            serde_json::to_value(&again).unwrap(),
            "proof_too_soon",
        )
        .await;
    assert!(e["message"].as_str().unwrap().contains("too soon"), "{e}");
    // Fine after it.
    t.clock.advance(std::time::Duration::from_secs(40));
    let later = proof(1, now + 40).sign(&node_key(1));
    t.ok("submit_uptime_proof", serde_json::to_value(&later).unwrap())
        .await;
    t.stop().await;
}

#[tokio::test]
async fn info_height_blocks_and_quorums() {
    let t = TestRegistry::start().await;
    t.register(&[1, 2, 3, 4, 5]).await;
    let b1 = t.produce();
    let info = t.ok("get_info", json!({})).await;
    assert_eq!(info["height"], 2, "oxend's get_info height counts blocks");
    assert_eq!(info["top_block_hash"], hex::encode(b1.hash));
    assert_eq!(info["service_node_count"], 5);
    assert_eq!(info["active_service_node_count"], 5);
    assert_eq!(info["swarm_count"], 1);
    assert_eq!(info["nettype"], "testnet-under-test");
    let h = t.ok("get_height", json!({})).await;
    assert_eq!(
        h,
        json!({"status": "OK", "height": 2, "hash": hex::encode(b1.hash)})
    );
    let sr = t.ok("get_staking_requirement", json!({})).await;
    assert_eq!(sr["staking_requirement"], 100 * SESH);

    let blk = t.ok("get_block", json!({"height": 1})).await["block"].clone();
    assert_eq!(blk["hash"], hex::encode(b1.hash));
    assert_eq!(blk["txs"].as_array().unwrap().len(), 5);
    assert_eq!(blk["txs"][0]["tx"]["type"], "register");
    let genesis = t.ok("get_block", json!({"height": 0})).await["block"].clone();
    assert_eq!(genesis["txs"][0]["tx"]["type"], "genesis");
    assert_eq!(
        genesis["txs"][0]["tx"]["body"]["params"]["network"],
        "testnet-under-test"
    );
    t.rejected("get_block", json!({"height": 99}), "invalid_params")
        .await;

    // The testing quorum of the top block: 3 validators, the other 2 tested.
    let q = t.ok("get_quorum_state", json!({})).await;
    let quorum = &q["quorums"][0];
    assert_eq!(quorum["height"], 1);
    assert_eq!(quorum["quorum_type"], 0);
    let v = quorum["quorum"]["validators"].as_array().unwrap();
    let w = quorum["quorum"]["workers"].as_array().unwrap();
    assert_eq!((v.len(), w.len()), (3, 2));
    let all: BTreeSet<&str> = v.iter().chain(w).map(|k| k.as_str().unwrap()).collect();
    assert_eq!(all.len(), 5);
    let range = t
        .ok(
            "get_quorum_state",
            json!({"start_height": 0, "end_height": 1}),
        )
        .await;
    assert_eq!(range["quorums"].as_array().unwrap().len(), 2);
    let pulse = t.ok("get_quorum_state", json!({"quorum_type": 3})).await;
    assert_eq!(pulse["quorums"], json!([]));

    let earn = t.ok("get_accrued_batched_earnings", json!({})).await;
    assert_eq!(
        earn["balances"],
        json!({}),
        "nobody is payable in their first block"
    );
    t.produce();
    let earn = t
        .ok(
            "get_accrued_batched_earnings",
            json!({"addresses": [addr(1).to_string()]}),
        )
        .await;
    assert_eq!(
        earn["balances"][addr(1).to_string()],
        2 * SESH,
        "10 SESH shared by 5 nodes"
    );
    t.stop().await;
}

#[tokio::test]
async fn envelope_errors_have_json_rpc_shape_and_statuses() {
    let t = TestRegistry::start().await;
    let (status, v) = t.call("no_such_method", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], -32601);
    assert_eq!(v["id"], 7);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_method")
    );

    let (status, v) = t.post("{not json").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], -32700);
    assert_eq!(v["id"], Value::Null);

    let (status, v) = t.post("[1, 2]").await;
    assert_eq!(status, 200, "a batch answers 200 with one response each");
    assert_eq!(v[0]["error"]["code"], -32600);

    let (status, v) = t
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"get_height","params":[1]}"#)
        .await;
    assert_eq!((status, v["error"]["code"].clone()), (400, json!(-32602)));

    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"get_height"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#;
    let (status, v) = t.post(batch).await;
    assert_eq!(status, 200);
    assert_eq!(v[0]["result"]["height"], 1);
    assert_eq!(v[1]["error"]["code"], -32601);

    let e = t
        .rejected(
            "register_service_node",
            json!({"pubkey_ed25519": "zz"}),
            "invalid_params",
        )
        .await;
    assert_eq!(e["code"], -32602);

    let mut c = session_rt::http::HttpConnection::connect(t.addr, false)
        .await
        .unwrap();
    let r = c.request("GET", "/json_rpc", &[], "").await.unwrap();
    assert_eq!(r.status, 405);
    let r = c.post("/other", "{}").await.unwrap();
    assert_eq!(r.status, 404);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/json_rpc")
    );
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let r = c.post("/json_rpc", big).await.unwrap();
    assert_eq!(r.status, 413);
    t.stop().await;
}
