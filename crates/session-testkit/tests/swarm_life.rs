//! Swarm life on a whole network over loopback (storage-node §5.6–5.7, §6.4, §8):
//! replication of client writes with the retry queue, hand-over when a swarm is created
//! or dissolved (and erasure of records a node no longer owns), decommission and
//! recommission by quorum votes, storage tests against a node that drops data, and
//! forged node-to-node requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use session_node::peer::{
    Command, PUBKEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signing_message,
};
use session_node::store::MessageStore;
use session_node::types::UserPubkey;
use session_registry::ChainParams;
use session_rt::http::HttpConnection;
use session_swarm::SwarmId;
use session_testkit::faults::DroppingStore;
use session_testkit::{TestAccount, TestNetwork, TestNode, fast_governance_params};

const TTL: u64 = 3_600_000;

/// Stores `data` for `account` through `node`; returns the HTTP status and body.
async fn store(
    node: &TestNode,
    account: &TestAccount,
    ns: i16,
    now: u64,
    data: &[u8],
) -> (u16, Value) {
    node.rpc("store", account.store(ns, now, TTL, data))
        .await
        .unwrap()
}

/// The hashes `node` returns for `account`'s namespace `ns`.
async fn hashes_on(node: &TestNode, account: &TestAccount, ns: i16, now: u64) -> BTreeSet<String> {
    let (status, body) = node
        .rpc("retrieve", account.retrieve(ns, now))
        .await
        .unwrap();
    assert_eq!(status, 200, "node {}: {body}", node.index());
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hash"].as_str().unwrap().to_owned())
        .collect()
}

/// How many records of `account` `node` holds (any namespace), read from its store.
async fn held(node: &TestNode, account: &TestAccount, now: u64) -> usize {
    let owner = UserPubkey::new(5, account.x25519());
    node.store()
        .dump_owner(&owner, now as i64)
        .await
        .unwrap()
        .len()
}

fn swarm_ok_count(body: &Value) -> usize {
    body["swarm"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e.get("failed").is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_every_member_and_missed_ones_are_retried() {
    let mut net = TestNetwork::start(7).await.unwrap();
    assert_eq!(net.registry_swarms().len(), 1);
    let alice = TestAccount::new(1);

    // One store through node 0: all seven members answer, and each returns it.
    let now = net.now_ms();
    let (status, body) = store(&net.nodes()[0], &alice, 0, now, b"to everyone").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(swarm_ok_count(&body), 7, "{body}");
    let hash = body["hash"].as_str().unwrap().to_owned();
    for node in net.nodes() {
        assert!(
            hashes_on(node, &alice, 0, now).await.contains(&hash),
            "node {} lacks the message",
            node.index()
        );
    }

    // A delete through node 3 reaches every member too.
    let (status, body) = net.nodes()[3]
        .rpc("delete", alice.delete(&[hash.as_str()], now))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(swarm_ok_count(&body), 7, "{body}");
    for node in net.nodes() {
        assert!(
            hashes_on(node, &alice, 0, now).await.is_empty(),
            "node {}",
            node.index()
        );
    }

    // Stop 2 of the 7 during a stream of stores (public and signed namespaces).
    let mut acked: Vec<(i16, String)> = Vec::new();
    for i in 0..30u32 {
        if i == 10 {
            net.stop_node(5).await.unwrap();
        }
        if i == 20 {
            net.stop_node(6).await.unwrap();
        }
        let ns = if i % 2 == 0 { 0 } else { 5 };
        let entry = (i % 5) as usize;
        let now = net.now_ms();
        let (status, body) = store(
            &net.nodes()[entry],
            &alice,
            ns,
            now,
            format!("m{i}").as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        acked.push((ns, body["hash"].as_str().unwrap().to_owned()));
        net.clock().advance(Duration::from_millis(100));
    }
    let queued: usize = net.nodes()[..5]
        .iter()
        .map(|n| n.forwarder().pending())
        .sum();
    assert_eq!(
        queued,
        20 + 10,
        "forwards to the stopped nodes wait in the queues"
    );

    check(&net, &alice, &acked, 0..5).await;

    // Restart both; once their retries fall due (and the signatures are minutes old),
    // the queues deliver everything in order.
    net.start_node(5).await.unwrap();
    net.start_node(6).await.unwrap();
    net.clock().advance(Duration::from_secs(120));
    net.retry_forwards().await;
    let redelivered: u64 = net
        .nodes()
        .iter()
        .map(|n| {
            n.forwarder()
                .stats()
                .redelivered
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert_eq!(redelivered, 30);
    assert_eq!(
        net.nodes()
            .iter()
            .map(|n| n.forwarder().pending())
            .sum::<usize>(),
        0
    );
    check(&net, &alice, &acked, 0..7).await;
    net.shutdown().await.unwrap();
}

/// Asserts that nodes `range` return every acknowledged message.
async fn check(
    net: &TestNetwork,
    alice: &TestAccount,
    acked: &[(i16, String)],
    range: std::ops::Range<usize>,
) {
    let now = net.now_ms();
    for i in range {
        let node = &net.nodes()[i];
        let mut have = hashes_on(node, alice, 0, now).await;
        have.extend(hashes_on(node, alice, 5, now).await);
        for (ns, h) in acked {
            assert!(have.contains(h), "node {i} lacks {h} (namespace {ns})");
        }
    }
}

/// Runs blocks (with syncs and testing rounds) until `done` holds, at most `max` blocks.
async fn run_until(
    net: &TestNetwork,
    max: usize,
    what: &str,
    done: impl Fn(&TestNetwork) -> bool,
) -> usize {
    for i in 0..max {
        if done(net) {
            return i;
        }
        net.advance_block().await.unwrap();
        net.run_tests().await.unwrap();
    }
    panic!("{what}: not reached after {max} blocks");
}

fn is_active(net: &TestNetwork, key: &[u8; 32]) -> bool {
    net.registry()
        .state()
        .nodes
        .values()
        .any(|n| &n.pubkey_ed25519.0 == key && n.is_active())
}

/// Stores one record for each of 24 accounts through the first nodes; returns the
/// hashes by account index.
async fn store_records(net: &TestNetwork, accounts: &[TestAccount]) -> BTreeMap<usize, String> {
    let mut stored = BTreeMap::new();
    for (i, a) in accounts.iter().enumerate() {
        let now = net.now_ms();
        let owner = net.swarm_of_key(&a.x25519()).unwrap();
        let members = net.nodes_in(owner);
        let entry = &net.nodes()[members[i % members.len()]];
        let (status, body) = store(entry, a, 0, now, format!("record {i}").as_bytes()).await;
        assert_eq!(status, 200, "{body}");
        stored.insert(i, body["hash"].as_str().unwrap().to_owned());
    }
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_move_to_a_new_swarm_and_leave_their_old_holders() {
    let mut net = TestNetwork::start(7).await.unwrap();
    let accounts: Vec<TestAccount> = (1..=24u8).map(TestAccount::new).collect();
    let stored = store_records(&net, &accounts).await;
    let first: SwarmId = *net.registry_swarms().keys().next().unwrap();

    // Seven more nodes: a second swarm takes over part of the key space.
    net.add_nodes(7).await.unwrap();
    let swarms = net.registry_swarms();
    assert_eq!(swarms.len(), 2, "{swarms:?}");
    let now = net.now_ms();
    let mut moved = 0;
    for (i, a) in accounts.iter().enumerate() {
        let owner = net.swarm_of_key(&a.x25519()).unwrap();
        moved += usize::from(owner != first);
        for node in net.nodes() {
            if swarms[&owner].contains(&node.pubkey()) {
                assert!(
                    hashes_on(node, a, 0, now).await.contains(&stored[&i]),
                    "record {i} missing on node {} of its swarm",
                    node.index()
                );
            } else {
                assert_eq!(
                    held(node, a, now).await,
                    0,
                    "node {} still holds record {i}",
                    node.index()
                );
            }
        }
    }
    assert!(moved > 0, "no record changed swarm");
    let erased: u64 = net
        .nodes()
        .iter()
        .map(|n| n.handover().status().erased)
        .sum();
    assert!(erased > 0);
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_voted_out_and_recommissioned_when_back() {
    // 7 of 10 validators, proofs valid 25 s, 15 s of failures before a vote.
    let mut net = TestNetwork::start_with(fast_governance_params(), 14)
        .await
        .unwrap();
    let victim = 3;
    let key = net.nodes()[victim].pubkey();
    net.stop_node(victim).await.unwrap();
    let blocks = run_until(&net, 100, "the stopped node decommissioned", |net| {
        !is_active(net, &key)
    })
    .await;
    // 15 s of failures = 7.5 blocks of 2 s: no earlier.
    assert!(blocks >= 7, "voted out after {blocks} blocks");
    let st = net.registry().state();
    let rec = st
        .nodes
        .values()
        .find(|n| n.pubkey_ed25519.0 == key)
        .unwrap();
    assert_eq!(
        rec.swarm_id,
        u64::MAX,
        "a decommissioned node leaves its swarm"
    );
    assert!(net.registry_swarms().values().all(|m| !m.contains(&key)));
    drop(st);

    net.start_node(victim).await.unwrap();
    run_until(&net, 100, "the restarted node recommissioned", |net| {
        is_active(net, &key)
    })
    .await;
    net.advance_block().await.unwrap();
    assert!(net.registry_swarms().values().any(|m| m.contains(&key)));
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dissolved_swarm_loses_no_record() {
    // A small quorum (3 of 4) so that the network can shrink below 11 active nodes and
    // still test the rest (with 10 validators, a network of 10 tests nobody).
    let params = ChainParams {
        quorum_size: 4,
        votes_needed: 3,
        ..fast_governance_params()
    };
    let mut net = TestNetwork::start_with(params, 7).await.unwrap();
    net.add_nodes(7).await.unwrap();
    let swarms = net.registry_swarms();
    assert_eq!(swarms.len(), 2, "{swarms:?}");
    let accounts: Vec<TestAccount> = (1..=24u8).map(TestAccount::new).collect();
    let stored = store_records(&net, &accounts).await;

    // Stop two members of one swarm and three of the other: once voted out, one swarm
    // is below 5 with nothing to steal, and dissolves into the other.
    let ids: Vec<SwarmId> = swarms.keys().copied().collect();
    let mut stopped = Vec::new();
    for (id, k) in [(ids[0], 2), (ids[1], 3)] {
        for i in net.nodes_in(id).into_iter().take(k) {
            net.stop_node(i).await.unwrap();
            stopped.push(net.nodes()[i].pubkey());
        }
    }
    run_until(&net, 150, "the stopped nodes voted out", |net| {
        stopped.iter().all(|k| !is_active(net, k))
    })
    .await;
    net.advance_block().await.unwrap();
    let swarms = net.registry_swarms();
    assert_eq!(swarms.len(), 1, "{swarms:?}");
    let now = net.now_ms();
    for (i, a) in accounts.iter().enumerate() {
        for node in net.nodes().iter().filter(|n| n.is_running()) {
            assert!(
                hashes_on(node, a, 0, now).await.contains(&stored[&i]),
                "record {i} lost on node {}",
                node.index()
            );
        }
    }
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_drops_data_fails_storage_tests_and_is_voted_out() {
    let mut net = TestNetwork::start_with(fast_governance_params(), 13)
        .await
        .unwrap();
    let bad = net
        .add_nodes_with(1, |_| {
            Some(Arc::new(DroppingStore::new()) as Arc<dyn MessageStore>)
        })
        .await
        .unwrap()[0];
    let key = net.nodes()[bad].pubkey();
    assert!(is_active(&net, &key));
    let blocks = run_until(&net, 150, "the data-dropping node decommissioned", |net| {
        !is_active(net, &key)
    })
    .await;
    assert!(
        blocks > 3,
        "voted out after {blocks} blocks: faster than the threshold allows"
    );
    // For failing its storage tests (0x08), not for its uptime proofs (0x01).
    let st = net.registry().state();
    let rec = st
        .nodes
        .values()
        .find(|n| n.pubkey_ed25519.0 == key)
        .unwrap();
    assert_eq!(rec.last_decommission_reason_all, 0x08);
    drop(st);
    // The honest nodes all stay active.
    for n in net.nodes() {
        if n.index() != bad {
            assert!(
                is_active(&net, &n.pubkey()),
                "node {} was voted out",
                n.index()
            );
        }
    }
    net.shutdown().await.unwrap();
}

/// POSTs a node-to-node request with the given headers.
async fn raw_peer_post(
    node: &TestNode,
    command: Command,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut conn = HttpConnection::connect(node.addr(), false).await.unwrap();
    let r = conn
        .request("POST", &command.path(), headers, body.to_vec())
        .await
        .unwrap();
    (r.status, r.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_node_requests_are_rejected_and_store_nothing() {
    let net = TestNetwork::start(5).await.unwrap();
    let target = &net.nodes()[0];
    let alice = TestAccount::new(9);
    let now = net.now_ms();
    let params = alice.store(0, now, TTL, b"forged");
    let body = json!({"method": "store", "params": params})
        .to_string()
        .into_bytes();
    let ts = now.to_string();

    let sign = |seed: [u8; 32], ts: i64, to: [u8; 32], body: &[u8]| {
        let kp = session_crypto::Ed25519Keypair::from_seed(
            session_crypto::Ed25519Seed::from_array(seed),
        );
        let sig = kp.sign(&signing_message(Command::StorageCc, &to, ts, body));
        (hex::encode(kp.public().0), base64_encode(&sig))
    };

    // 1. Not a registered node (a valid signature by an unknown key): 403.
    let (pk, sig) = sign([42; 32], now as i64, target.pubkey(), &body);
    let (status, text) = raw_peer_post(
        target,
        Command::StorageCc,
        &[
            (PUBKEY_HEADER, &pk),
            (TIMESTAMP_HEADER, &ts),
            (SIGNATURE_HEADER, &sig),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 403, "{text}");

    // 2. A registered node's key, but a signature over another body: 401.
    let peer_hex = net.nodes()[1].pubkey_hex();
    let (_, sig) = sign([42; 32], now as i64, target.pubkey(), b"something else");
    let (status, text) = raw_peer_post(
        target,
        Command::StorageCc,
        &[
            (PUBKEY_HEADER, &peer_hex),
            (TIMESTAMP_HEADER, &ts),
            (SIGNATURE_HEADER, &sig),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 401, "{text}");

    // 3. No headers at all: 401; a stale timestamp: 406; an unknown command: 404.
    let (status, _) = raw_peer_post(target, Command::StorageCc, &[], &body).await;
    assert_eq!(status, 401);
    let stale = (now - 3_600_000).to_string();
    let (pk, sig) = sign([42; 32], now as i64 - 3_600_000, target.pubkey(), &body);
    let (status, _) = raw_peer_post(
        target,
        Command::StorageCc,
        &[
            (PUBKEY_HEADER, &pk),
            (TIMESTAMP_HEADER, &stale),
            (SIGNATURE_HEADER, &sig),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 406);
    let mut conn = HttpConnection::connect(target.addr(), false).await.unwrap();
    let r = conn
        .request("POST", "/sn/v1/nonsense", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(r.status, 404);

    // 4. A forged bulk push (unknown node) is refused too.
    let (pk, sig) = {
        let kp = session_crypto::Ed25519Keypair::from_seed(
            session_crypto::Ed25519Seed::from_array([43; 32]),
        );
        let batch = b"\x01le";
        let s = kp.sign(&signing_message(
            Command::Data,
            &target.pubkey(),
            now as i64,
            batch,
        ));
        (hex::encode(kp.public().0), base64_encode(&s))
    };
    let (status, _) = raw_peer_post(
        target,
        Command::Data,
        &[
            (PUBKEY_HEADER, &pk),
            (TIMESTAMP_HEADER, &ts),
            (SIGNATURE_HEADER, &sig),
        ],
        b"\x01le",
    )
    .await;
    assert_eq!(status, 403);

    // Nothing was stored anywhere.
    for node in net.nodes() {
        assert!(
            hashes_on(node, &alice, 0, now).await.is_empty(),
            "node {}",
            node.index()
        );
    }
    net.shutdown().await.unwrap();
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
