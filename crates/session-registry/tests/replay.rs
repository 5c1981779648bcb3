#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The chain is append-only and replayable: a restart (or a replay into another store)
//! rebuilds exactly the same state and block hashes; changed parameters and tampered
//! blocks are refused.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use session_crypto::ons;
use session_registry::chain::replay;
use session_registry::store::BlockStore;
use session_registry::store::memory::MemoryStore;
use session_registry::store::sqlite::{DB_FILE, SqliteStore};
use session_registry::tx::{NewState, UnlockRequest, Vote, ons_update_hash};
use session_registry::{ChainParams, Registry, RegistryError};
use session_rt::MockClock;

/// Builds a history with every kind of transaction; returns the block hashes.
async fn build_history(t: &TestRegistry) -> Vec<[u8; 32]> {
    t.register(&[1, 2, 3, 4, 5, 6, 7, 8]).await;
    t.produce_after(2);
    for i in 1..=8u8 {
        let p = proof(i, t.now_secs()).sign(&node_key(i));
        t.ok("submit_uptime_proof", serde_json::to_value(&p).unwrap())
            .await;
    }
    let owner = node_key(30);
    let v = ons::encrypt_value("eve", &[5u8; 33]).unwrap();
    let h = ons_update_hash(Some(&v), Some(&owner.public().0), None, &[0; 32]);
    t.ok(
        "ons_buy_mapping",
        json!({"type": 0, "name": "eve", "encrypted_value": hex::encode(&v),
               "owner": hex::encode(owner.public().0), "signature": hex::encode(owner.sign(&h))}),
    )
    .await;
    t.produce_after(2);
    let (validators, workers) = quorum_ids(t, 2).await;
    for &v in &validators[..2] {
        let vote = Vote::signed(
            &node_key(v),
            2,
            node_key(workers[0]).public().0,
            0,
            NewState::Decommission,
            1,
        );
        t.ok("submit_vote", serde_json::to_value(&vote).unwrap())
            .await;
    }
    let u = UnlockRequest::signed(&node_key(validators[2]), 1);
    t.ok("request_stake_unlock", serde_json::to_value(&u).unwrap())
        .await;
    for _ in 0..6 {
        t.produce_after(2);
    }
    let st = t.reg.state();
    assert_eq!(st.nodes.len(), 7, "one unlocked node left");
    assert_eq!(st.nodes.values().filter(|n| !n.is_active()).count(), 1);
    (0..=st.height)
        .map(|h| t.reg.block(h).unwrap().unwrap().hash)
        .collect()
}

#[tokio::test]
async fn restart_and_replay_rebuild_the_same_state_and_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let t = TestRegistry::start_in(dir.clone(), test_params(), MockClock::new(T0)).await;
    let hashes = build_history(&t).await;
    let state = t.reg.state();
    t.stop().await;

    // Restart on the same directory (at a later time): identical state and chain.
    let later = MockClock::new(T0 + 3_600_000);
    let t = TestRegistry::start_in(dir.clone(), test_params(), later).await;
    assert_eq!(t.reg.state(), state);
    for (h, hash) in hashes.iter().enumerate() {
        assert_eq!(
            &t.reg.block(h as u64).unwrap().unwrap().hash,
            hash,
            "height {h}"
        );
    }
    let r = t.nodes(json!({"fields": ["block_hash", "height"], "poll_block_hash": hex::encode(hashes[hashes.len() - 1])})).await;
    assert_eq!(
        r["unchanged"], true,
        "a node polling across the restart sees no change"
    );

    // The chain continues where it stopped.
    let next = t.produce();
    assert_eq!(next.height, hashes.len() as u64);
    assert_eq!(next.prev_hash, hashes[hashes.len() - 1]);
    let after_restart = t.reg.state();
    t.stop().await;

    // Replaying the stored blocks from genesis, as a pure function and into another store.
    let store = SqliteStore::open(&dir).unwrap();
    let blocks = store.blocks(0, 10_000).unwrap();
    assert_eq!(blocks.len() as u64, after_restart.height + 1);
    let replayed = replay(blocks.iter().cloned().map(Ok)).unwrap();
    assert_eq!(&replayed, after_restart.as_ref());
    let mem = Arc::new(MemoryStore::new());
    for b in &blocks {
        mem.append(b).unwrap();
    }
    let copy = Registry::with_store(
        mem,
        &test_params(),
        MockClock::new(0).shared(),
        2000,
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(copy.state(), after_restart);
}

#[tokio::test]
async fn changed_chain_parameters_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = TestRegistry::start_in(tmp.path().to_owned(), test_params(), MockClock::new(T0)).await;
    t.produce();
    t.stop().await;
    let other = ChainParams {
        unlock_blocks: 99,
        ..test_params()
    };
    let store = Arc::new(SqliteStore::open(tmp.path()).unwrap());
    let e = Registry::with_store(
        store,
        &other,
        MockClock::new(T0).shared(),
        2000,
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(matches!(e, RegistryError::ChainMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("chain.unlock_blocks") && msg.contains("99") && msg.contains('3'),
        "{msg}"
    );
}

#[tokio::test]
async fn tampered_blocks_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let t = TestRegistry::start_in(tmp.path().to_owned(), test_params(), MockClock::new(T0)).await;
    t.register(&[1, 2]).await;
    t.produce();
    t.produce();
    t.stop().await;
    let db = tmp.path().join(DB_FILE);
    let open = || {
        let store = Arc::new(SqliteStore::open(tmp.path()).unwrap());
        Registry::with_store(
            store,
            &test_params(),
            MockClock::new(T0).shared(),
            2000,
            Duration::from_secs(1),
        )
    };
    assert!(open().is_ok());

    // A changed transaction body no longer hashes to its id.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE txs SET body = CAST(replace(CAST(body AS TEXT), '10.0.0.1', '10.0.0.9') AS BLOB) WHERE height = 1",
            [],
        )
        .unwrap();
    }
    let e = open().unwrap_err();
    assert!(
        matches!(e, RegistryError::CorruptChain { height: 1, .. }),
        "{e}"
    );

    // A consistent txid but a changed block timestamp breaks the block hash.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("UPDATE txs SET body = CAST(replace(CAST(body AS TEXT), '10.0.0.9', '10.0.0.1') AS BLOB) WHERE height = 1", [])
            .unwrap();
        assert!(open().is_ok());
        c.execute(
            "UPDATE blocks SET timestamp_ms = timestamp_ms + 1 WHERE height = 2",
            [],
        )
        .unwrap();
    }
    let e = open().unwrap_err();
    assert!(
        matches!(e, RegistryError::CorruptChain { height: 2, .. }),
        "{e}"
    );
}
