#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! A node's life on the chain: testing-quorum votes decommission, recommission and
//! deregister it with oxend's credit arithmetic; an unlock request returns the stake;
//! rewards are split by fee and stake; blocks are produced by the clock.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use session_registry::tx::{Contribution, NewState, Registration, UnlockRequest, Vote};

async fn vote(
    t: &TestRegistry,
    voter: u8,
    height: u64,
    worker: u8,
    index: usize,
    state: NewState,
    reason: u16,
) -> Value {
    let v = Vote::signed(
        &node_key(voter),
        height,
        node_key(worker).public().0,
        index as u32,
        state,
        reason,
    );
    t.ok("submit_vote", serde_json::to_value(&v).unwrap()).await
}

#[tokio::test]
async fn quorum_votes_decommission_recommission_and_deregister() {
    let t = TestRegistry::start().await;
    t.register(&[1, 2, 3, 4, 5, 6, 7, 8]).await;
    t.produce(); // height 1

    // ── decommission ────────────────────────────────────────────────────────────────
    let (validators, workers) = quorum_ids(&t, 1).await;
    assert_eq!((validators.len(), workers.len()), (3, 5));
    let w = workers[2];
    let r = vote(&t, validators[0], 1, w, 2, NewState::Decommission, 0x01).await;
    assert_eq!(
        r,
        json!({"status": "OK", "votes": 1, "votes_needed": 2, "queued": false})
    );
    let r = vote(&t, validators[0], 1, w, 2, NewState::Decommission, 0x01).await;
    assert_eq!(r["votes"], 1, "a validator counts once");
    let r = vote(&t, validators[1], 1, w, 2, NewState::Decommission, 0x09).await;
    assert_eq!(r["queued"], true);
    assert_eq!(t.reg.mempool_len(), 1);
    t.produce(); // height 2: decommissioned
    let n = node_entry(&t, w).await.unwrap();
    assert_eq!(n["active"], false);
    assert_eq!(n["funded"], true);
    assert_eq!(n["swarm_id"], u64::MAX);
    assert_eq!(n["swarm"], "ffffffffffffffff");
    assert_eq!(n["state_height"], 2);
    assert_eq!(n["decommission_count"], 1);
    assert_eq!(n["last_decommission_reason_consensus_all"], 0x01);
    assert_eq!(n["last_decommission_reason_consensus_any"], 0x09);
    // Credit: 4 initial + (2−1)/2 up = 4, minus 0 blocks decommissioned.
    assert_eq!(n["earned_downtime_blocks"], 4);
    // A late third vote is accepted quietly.
    let r = vote(&t, validators[2], 1, w, 2, NewState::Decommission, 0x01).await;
    assert_eq!(
        (r["votes"].clone(), r["queued"].clone()),
        (json!(3), json!(true))
    );
    // active_only hides it; the full list keeps it.
    let active = t
        .nodes(json!({"active_only": true, "fields": ["service_node_pubkey"]}))
        .await;
    assert_eq!(active["service_node_states"].as_array().unwrap().len(), 7);
    assert_eq!(
        t.nodes(json!({})).await["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    // Swarms only hold active nodes.
    let s = t
        .nodes(json!({"active_only": true, "fields": ["swarm_id"]}))
        .await;
    assert!(
        s["service_node_states"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["swarm_id"] != u64::MAX)
    );

    t.produce();
    t.produce(); // height 4: credit 4 − (4 − 2) = 2
    assert_eq!(
        node_entry(&t, w).await.unwrap()["earned_downtime_blocks"],
        2
    );

    // ── recommission (votes from a quorum after the decommission) ───────────────────
    let (validators, workers) = quorum_ids(&t, 4).await;
    let wi = workers
        .iter()
        .position(|&x| x == w)
        .expect("decommissioned nodes are tested");
    assert!(!validators.contains(&w), "validators are active nodes");
    let stale = Vote::signed(
        &node_key(validators[0]),
        1,
        node_key(w).public().0,
        2,
        NewState::Recommission,
        0,
    );
    // The height-1 quorum predates the decommission (and its validators differ anyway).
    let (status, _) = t
        .call("submit_vote", serde_json::to_value(&stale).unwrap())
        .await;
    assert_eq!(status, 400);
    vote(&t, validators[0], 4, w, wi, NewState::Recommission, 0).await;
    let r = vote(&t, validators[1], 4, w, wi, NewState::Recommission, 0).await;
    assert_eq!(r["queued"], true);
    t.produce(); // height 5
    let n = node_entry(&t, w).await.unwrap();
    assert_eq!(n["active"], true);
    assert_ne!(
        n["swarm_id"],
        u64::MAX,
        "a recommissioned node gets a swarm again"
    );
    assert_eq!(n["state_height"], 5);
    // max(0, credit at decommission (4) − 2 × 3 blocks decommissioned) = 0.
    assert_eq!(n["earned_downtime_blocks"], 0);
    assert_eq!(
        n["last_uptime_proof"],
        t.now_secs(),
        "effective proof time = block time"
    );
    // …and may send a real proof at once (spacing counts from the last real proof).
    let p = proof(w, t.now_secs()).sign(&node_key(w));
    t.ok("submit_uptime_proof", serde_json::to_value(&p).unwrap())
        .await;

    // ── deregister (too little credit to be decommissioned) ─────────────────────────
    // Find a quorum in which it is tested while its credit is still below 2 (heights 5–8).
    let mut found = None;
    for h in 5..=8u64 {
        if t.reg.state().height < h {
            t.produce();
        }
        let (v, wk) = quorum_ids(&t, h).await;
        if let Some(i) = wk.iter().position(|&x| x == w) {
            found = Some((h, v, i));
            break;
        }
    }
    let (h, validators, wi) = found.expect("tested in one of four quorums");
    let decomm = Vote::signed(
        &node_key(validators[0]),
        h,
        node_key(w).public().0,
        wi as u32,
        NewState::Decommission,
        1,
    );
    let e = t
        .rejected(
            "submit_vote",
            serde_json::to_value(&decomm).unwrap(),
            "invalid_state_change",
        )
        .await;
    assert!(
        e["message"].as_str().unwrap().contains("vote deregister"),
        "{e}"
    );
    vote(&t, validators[0], h, w, wi, NewState::Deregister, 1).await;
    vote(&t, validators[1], h, w, wi, NewState::Deregister, 1).await;
    t.produce();
    assert!(
        node_entry(&t, w).await.is_none(),
        "deregistered nodes leave the list"
    );
    let info = t.ok("get_info", json!({})).await;
    assert_eq!(info["service_node_count"], 7);
    // A deregistered node's stake stays locked.
    let stake = t.reg.state().balances.get(&addr(w)).copied().unwrap_or(0);
    assert!(
        stake < 100 * SESH,
        "only rewards, no returned stake: {stake}"
    );
    t.stop().await;
}

#[tokio::test]
async fn unlock_returns_the_stake_after_the_delay() {
    let t = TestRegistry::start().await;
    t.register(&[1, 2]).await;
    t.produce(); // 1
    let u = UnlockRequest::signed(&node_key(1), 1);
    t.ok("request_stake_unlock", serde_json::to_value(&u).unwrap())
        .await;
    t.produce(); // 2: unlock at 2 + 3 = 5
    assert_eq!(
        node_entry(&t, 1).await.unwrap()["requested_unlock_height"],
        5
    );
    let earned_before = t.reg.state().balances.get(&addr(1)).copied().unwrap_or(0);
    t.produce();
    t.produce(); // 4
    assert!(node_entry(&t, 1).await.is_some());
    t.produce(); // 5: gone, stake returned
    assert!(node_entry(&t, 1).await.is_none());
    let st = t.reg.state();
    let bal = st.balances.get(&addr(1)).copied().unwrap();
    // Rewards at heights 3 and 4 (half of 10 SESH each) + the stake; none at 5.
    assert_eq!(bal, earned_before + 2 * 5 * SESH + 100 * SESH);
    // Node 2 is alone in its swarm now.
    let n2 = node_entry(&t, 2).await.unwrap();
    assert_eq!(n2["swarm_id"], 0);
    // The key can register again later.
    t.ok(
        "register_service_node",
        serde_json::to_value(solo_registration(1, &t.params)).unwrap(),
    )
    .await;
    t.produce();
    assert_eq!(node_entry(&t, 1).await.unwrap()["registration_height"], 6);
    t.stop().await;
}

#[tokio::test]
async fn rewards_are_split_by_fee_and_stake() {
    let t = TestRegistry::start().await;
    t.register(&[1]).await;
    let key = node_key(2);
    let r = Registration::new(
        &key,
        Ipv4Addr::new(10, 0, 0, 2),
        (1, 2, 3),
        2000,
        vec![
            Contribution {
                address: addr(2),
                amount: 60 * SESH,
            },
            Contribution {
                address: addr(3),
                amount: 40 * SESH,
            },
        ],
    )
    .signed(&key);
    t.ok("register_service_node", serde_json::to_value(&r).unwrap())
        .await;
    t.produce(); // 1: nobody payable yet
    t.produce(); // 2: 10 SESH, 5 each
    let e = t
        .ok(
            "get_accrued_batched_earnings",
            json!({"addresses": [addr(1).to_string(), addr(2).to_string(), addr(3).to_string()]}),
        )
        .await;
    // Node 2: 20% fee = 1 SESH; the other 4 SESH split 60/40.
    assert_eq!(e["balances"][addr(1).to_string()], 5 * SESH);
    assert_eq!(e["balances"][addr(2).to_string()], SESH + 24 * SESH / 10);
    assert_eq!(e["balances"][addr(3).to_string()], 16 * SESH / 10);
    assert_eq!(t.reg.state().total_rewards, 10 * SESH);
    t.stop().await;
}

#[tokio::test]
async fn the_clock_produces_blocks_and_ctrl_c_stops_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = session_rt::MockClock::new(T0);
    let store = std::sync::Arc::new(
        session_registry::store::sqlite::SqliteStore::open(tmp.path()).unwrap(),
    );
    let reg = session_registry::Registry::with_store(
        store,
        &test_params(),
        clock.shared(),
        2000,
        Duration::from_secs(5),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let mut tips = reg.subscribe();
    let task = tokio::spawn(reg.clone().run(listener, shutdown));
    for expected in 1..=3u64 {
        clock.advance(Duration::from_millis(2000));
        tokio::time::timeout(
            Duration::from_secs(10),
            tips.wait_for(|s| s.height >= expected),
        )
        .await
        .unwrap()
        .unwrap();
    }
    assert_eq!(reg.state().height, 3);
    assert_eq!(reg.state().timestamp_ms, T0 + 6000);
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
