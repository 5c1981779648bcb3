//! TTL and expiry in virtual time, restarts, the database size cap, graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

/// Polls `f` (a few ms apart, for at most ~10 s on a loaded machine) until it holds;
/// the sweeper runs on its own task.
async fn eventually(mut f: impl FnMut() -> bool) {
    for _ in 0..5_000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition never held");
}

#[tokio::test]
async fn ttl_and_sweep_in_virtual_time() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(70);
    let now = node.now();
    c.rpc(
        "store",
        plain_store(&u.session_id(), 0, now, 10_000, b"short"),
    )
    .await;
    c.rpc(
        "store",
        plain_store(&u.session_id(), 0, now, 3_600_000, b"long"),
    )
    .await;
    assert_eq!(node.count(), 2);

    // 10 s later the short message is expired: never returned, then swept.
    node.clock.advance(Duration::from_millis(10_000));
    let t = node.now();
    let r = c.rpc("retrieve", u.retrieve(0, t)).await;
    let msgs = r.json["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(unb64(msgs[0]["data"].as_str().unwrap()), b"long");
    eventually(|| node.count() == 1).await;

    // An hour later everything is gone, including the owner.
    node.clock.advance(Duration::from_secs(3_600));
    eventually(|| node.count() == 0).await;
    assert_eq!(node.store.owner_count().await.unwrap(), 0);
    node.stop().await;
}

#[tokio::test]
async fn restart_keeps_every_acknowledged_message_and_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let clock = session_rt::MockClock::new(T0);
    let node = TestNode::start_with(Opts {
        data_dir: Some(dir.path().to_owned()),
        clock: clock.clone(),
        ..Opts::default()
    })
    .await;
    let key = node.node_pubkey;
    let mut c = node.client().await;
    let u = User::new(71);
    let now = node.now();
    let mut hashes = Vec::new();
    for i in 0..50u32 {
        let r = c
            .rpc(
                "store",
                plain_store(&u.session_id(), 0, now, 600_000, &i.to_be_bytes()),
            )
            .await;
        assert_eq!(r.status, 200);
        hashes.push(r.json["hash"].clone());
    }
    node.stop().await;

    let node = TestNode::start_with(Opts {
        data_dir: Some(dir.path().to_owned()),
        clock,
        ..Opts::default()
    })
    .await;
    assert_eq!(node.node_pubkey, key, "the node key is kept");
    let mut c = node.client().await;
    let mut p = u.retrieve(0, now);
    p["max_count"] = json!(1000);
    let r = c.rpc("retrieve", p).await;
    let got: Vec<_> = r.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hash"].clone())
        .collect();
    assert_eq!(got, hashes, "same messages, same order");
    node.stop().await;
}

#[tokio::test]
async fn database_full_is_a_query_failure() {
    let node = TestNode::start_with(Opts {
        max_db_size: 600_000,
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let u = User::new(72);
    let now = node.now();
    let mut full = None;
    for i in 0..40u8 {
        let mut data = vec![i; 76_800];
        data[1] = 0xfe;
        let r = c
            .rpc(
                "store",
                plain_store(&u.session_id(), 0, now, 600_000, &data),
            )
            .await;
        if r.status != 200 {
            full = Some(r);
            break;
        }
    }
    let r = full.expect("the cap was reached");
    assert_eq!(r.status, 500, "every swarm member failed");
    let m = mine(&node, &r);
    assert_eq!(m["failed"], true);
    assert_eq!(m["query_failure"], true);
    assert!(r.json.get("hash").is_none());
    assert_eq!(r.json["t"], now);
    // Reads still work; deleting makes room again.
    let r = c.rpc("retrieve", u.retrieve(0, now)).await;
    assert_eq!(r.status, 200);
    let sig = u.sign(format!("delete_all{now}").as_bytes());
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .rpc(
            "store",
            plain_store(&u.session_id(), 0, now, 600_000, b"fits"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    node.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_stores() {
    let node = TestNode::start().await;
    let u = User::new(73);
    let now = node.now();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(node.client().await);
    }
    // Launch concurrent stores, then shut down while they are in flight: every store
    // that got a 200 is in the database after the node stops.
    let mut tasks = Vec::new();
    for (k, mut c) in clients.into_iter().enumerate() {
        let sid = u.session_id();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..25u32 {
                let data = format!("{k}-{i}");
                let r = match c
                    .conn
                    .post(
                        "/storage_rpc/v1",
                        json!({"method": "store", "params": plain_store(&sid, 0, now, 60_000, data.as_bytes())})
                            .to_string(),
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(_) => break,
                };
                if r.status != 200 {
                    break;
                }
                acked.push(data);
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let store = node.store.clone();
    let _dir = node.stop().await;
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let r = store
        .retrieve(
            &session_node::types::UserPubkey::from_hex(&u.session_id()).unwrap(),
            session_node::types::Namespace(0),
            None,
            session_node::store::RetrieveLimits {
                max_count: None,
                max_size: i64::MAX,
            },
            0,
        )
        .await
        .unwrap();
    let stored: std::collections::HashSet<Vec<u8>> =
        r.messages.into_iter().map(|m| m.data).collect();
    for a in &acked {
        assert!(stored.contains(a.as_bytes()), "acknowledged {a} is stored");
    }
}
