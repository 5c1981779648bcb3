#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Bad transactions and votes are rejected with a clear, typed error and change nothing:
//! a registry fed every bad transaction ends up with exactly the state and block hash of
//! a twin that never saw them.

mod common;

use std::net::Ipv4Addr;

use common::*;
use serde_json::{Value, json};
use session_crypto::ons;
use session_registry::proof::SignedProof;
use session_registry::tx::{Contribution, NewState, Registration, UnlockRequest, Vote};
use session_registry::types::{HexBytes, Key32, Sig64};

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn reg_with(i: u8, contributors: Vec<(u8, u64)>, sign_with: Option<u8>) -> Registration {
    let key = node_key(i);
    let r = Registration::new(
        &key,
        Ipv4Addr::new(10, 0, 0, i),
        (22021, 22020, 22025),
        500,
        contributors
            .into_iter()
            .map(|(a, amount)| Contribution {
                address: addr(a),
                amount,
            })
            .collect(),
    );
    match sign_with {
        Some(k) => r.signed(&node_key(k)),
        None => r,
    }
}

#[tokio::test]
async fn every_bad_transaction_is_rejected_and_changes_nothing() {
    let a = TestRegistry::start().await;
    let b = TestRegistry::start().await;
    let p = a.params.clone();
    let req = p.staking_requirement;
    for t in [&a, &b] {
        t.register(&[1, 2, 3, 4, 5, 6]).await;
        t.produce();
    }
    assert_eq!(a.reg.state(), b.reg.state(), "twins start identical");
    let before = a.reg.state();
    let now = a.now_secs();

    // ── registrations ──────────────────────────────────────────────────────────────
    let mut cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "register_service_node",
            to_json(&reg_with(7, vec![(7, req)], Some(8))),
            "bad_signature",
            "bad signature on registration",
        ),
        (
            "register_service_node",
            to_json(&reg_with(7, vec![(7, req)], None)),
            "missing_signature",
            "registration is not signed",
        ),
        (
            "register_service_node",
            to_json(&reg_with(7, vec![(7, req / 2)], Some(7))),
            "under_staked",
            "under-staked",
        ),
        (
            "register_service_node",
            to_json(&reg_with(7, vec![(7, req), (8, 1)], Some(7))),
            "over_staked",
            "over-staked",
        ),
        (
            "register_service_node",
            to_json(&reg_with(
                7,
                vec![(7, req / 5), (8, req - req / 5)],
                Some(7),
            )),
            "operator_stake_too_small",
            "25%",
        ),
        (
            "register_service_node",
            to_json(&reg_with(
                7,
                vec![(7, req / 4), (8, req / 20), (9, req - req / 4 - req / 20)],
                Some(7),
            )),
            "contribution_too_small",
            "contribution #1",
        ),
        (
            "register_service_node",
            to_json(&reg_with(7, vec![(7, req / 2), (7, req / 2)], Some(7))),
            "duplicate_contributor",
            "more than once",
        ),
        (
            "register_service_node",
            to_json(&reg_with(1, vec![(1, req)], Some(1))),
            "duplicate_key",
            "already registered",
        ),
    ];
    // Eleven contributors (30 + 10 × 7 SESH).
    let mut eleven = vec![(7u8, 30 * SESH)];
    eleven.extend((20..30u8).map(|i| (i, 7 * SESH)));
    cases.push((
        "register_service_node",
        to_json(&reg_with(7, eleven, Some(7))),
        "too_many_contributors",
        "too many contributors: 11 (at most 10)",
    ));
    let mut mismatch = reg_with(7, vec![(7, req)], None);
    mismatch.pubkey_x25519 = Key32(*node_key(8).to_x25519().public());
    cases.push((
        "register_service_node",
        to_json(&mismatch.signed(&node_key(7))),
        "key_mismatch",
        "not the X25519 form",
    ));
    let mut fee = reg_with(7, vec![(7, req)], None);
    fee.operator_fee = 10_001;
    cases.push((
        "register_service_node",
        to_json(&fee.signed(&node_key(7))),
        "fee_too_high",
        "10000",
    ));
    let mut ip = reg_with(7, vec![(7, req)], None);
    ip.public_ip = Ipv4Addr::UNSPECIFIED;
    cases.push((
        "register_service_node",
        to_json(&ip.signed(&node_key(7))),
        "invalid_ip",
        "0.0.0.0",
    ));

    // ── unlock requests ────────────────────────────────────────────────────────────
    cases.push((
        "request_stake_unlock",
        to_json(&UnlockRequest::signed(&node_key(9), 1)),
        "unknown_node",
        "unknown service node",
    ));
    cases.push((
        "request_stake_unlock",
        to_json(&UnlockRequest::signed(&node_key(1), 7)),
        "bad_signature",
        "unlock request",
    ));

    // ── uptime proofs ──────────────────────────────────────────────────────────────
    let proof_case = |sp: SignedProof, kind: &'static str, text: &'static str| {
        ("submit_uptime_proof", to_json(&sp), kind, text)
    };
    cases.push(proof_case(
        proof(1, now - 301).sign(&node_key(1)),
        "proof_expired",
        "expired",
    ));
    cases.push(proof_case(
        proof(1, now + 301).sign(&node_key(1)),
        "proof_from_future",
        "future",
    ));
    cases.push(proof_case(
        proof(9, now).sign(&node_key(9)),
        "unknown_node",
        "unknown service node",
    ));
    let mut forged = proof(1, now).sign(&node_key(1));
    forged.ed_sig = Some(Sig64(node_key(2).sign(b"whatever")));
    cases.push(proof_case(forged, "bad_signature", "uptime proof"));
    cases.push(proof_case(
        SignedProof {
            proof: HexBytes(b"i1e".to_vec()),
            ed_sig: None,
        },
        "malformed_proof",
        "bencoded dict",
    ));

    // ── votes ──────────────────────────────────────────────────────────────────────
    let (validators, workers) = quorum_ids(&a, 1).await;
    assert_eq!((validators.len(), workers.len()), (3, 3));
    let (v0, w0) = (validators[0], workers[0]);
    let vote = |voter: u8, worker: u8, index: u32, height: u64| {
        to_json(&Vote::signed(
            &node_key(voter),
            height,
            node_key(worker).public().0,
            index,
            NewState::Decommission,
            1,
        ))
    };
    cases.push((
        "submit_vote",
        vote(v0, 9, 0, 1),
        "unknown_node",
        "unknown service node",
    ));
    cases.push((
        "submit_vote",
        vote(workers[1], w0, 0, 1),
        "not_quorum_member",
        "is not a validator",
    ));
    cases.push((
        "submit_vote",
        vote(v0, w0, 1, 1),
        "bad_signature",
        "bad signature on vote",
    ));
    cases.push((
        "submit_vote",
        vote(v0, w0, 0, 99),
        "unknown_quorum",
        "no testing quorum for height 99",
    ));
    cases.push((
        "submit_vote",
        vote(v0, validators[1], 0, 1),
        "not_tested",
        "is not tested",
    ));
    cases.push((
        "submit_vote",
        to_json(&Vote {
            signature: None,
            ..serde_json::from_value(vote(v0, w0, 0, 1)).unwrap()
        }),
        "missing_signature",
        "vote is not signed",
    ));
    // Credit rule: an active node with credit ≥ the minimum is decommissioned, not deregistered.
    let dereg = to_json(&Vote::signed(
        &node_key(v0),
        1,
        node_key(w0).public().0,
        0,
        NewState::Deregister,
        1,
    ));
    cases.push((
        "submit_vote",
        dereg,
        "invalid_state_change",
        "vote decommission",
    ));
    let recomm = to_json(&Vote::signed(
        &node_key(v0),
        1,
        node_key(w0).public().0,
        0,
        NewState::Recommission,
        0,
    ));
    cases.push((
        "submit_vote",
        recomm,
        "invalid_state_change",
        "not decommissioned",
    ));

    // ── names ──────────────────────────────────────────────────────────────────────
    let owner = node_key(50);
    let sid = "05".to_owned() + &"ab".repeat(32);
    let sid_bytes = hex::decode(&sid).unwrap();
    let buy = |name: &str, value: Vec<u8>, signed: bool| {
        let sig = ons_sig(&owner, &value, signed);
        json!({"type": 0, "name": name, "encrypted_value": hex::encode(&value),
               "owner": hex::encode(owner.public().0), "signature": sig})
    };
    let good_value = ons::encrypt_value("alice", &sid_bytes).unwrap();
    cases.push((
        "ons_buy_mapping",
        buy(
            "-bad-",
            ons::encrypt_value("-bad-", &sid_bytes).unwrap(),
            true,
        ),
        "invalid_name",
        "hyphen",
    ));
    cases.push((
        "ons_buy_mapping",
        buy(
            "has space",
            ons::encrypt_value("has space", &sid_bytes).unwrap(),
            true,
        ),
        "invalid_name",
        "only a-z",
    ));
    cases.push((
        "ons_buy_mapping",
        buy(
            &"x".repeat(65),
            ons::encrypt_value(&"x".repeat(65), &sid_bytes).unwrap(),
            true,
        ),
        "invalid_name",
        "64",
    ));
    cases.push((
        "ons_buy_mapping",
        buy("bob", good_value.clone(), true),
        "invalid_ons_value",
        "does not decrypt",
    ));
    cases.push((
        "ons_buy_mapping",
        buy("alice", good_value[..40].to_vec(), true),
        "invalid_ons_value",
        "40 bytes",
    ));
    let not_session = ons::encrypt_value("alice", &[0x15; 33]).unwrap();
    cases.push((
        "ons_buy_mapping",
        buy("alice", not_session, true),
        "invalid_ons_value",
        "does not decrypt",
    ));
    cases.push((
        "ons_buy_mapping",
        buy("alice", good_value.clone(), false),
        "missing_signature",
        "not signed",
    ));
    let mut wrong_owner = buy("alice", good_value.clone(), true);
    wrong_owner["owner"] = json!(hex::encode(node_key(51).public().0));
    cases.push(("ons_buy_mapping", wrong_owner, "bad_signature", "owner"));
    cases.push(("ons_buy_mapping", json!({"type": 7, "name": "alice", "encrypted_value": hex::encode(&good_value), "owner": hex::encode(owner.public().0)}), "unsupported_ons_type", "7"));
    cases.push((
        "ons_renew_mapping",
        json!({"type": 0, "name": "nobody", "signature": "00".repeat(64)}),
        "name_not_found",
        "no such name",
    ));

    for (method, params, kind, text) in cases {
        let e = a.rejected(method, params, kind).await;
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains(text),
            "{method}/{kind}: message {msg:?} lacks {text:?}"
        );
        assert_eq!(e["code"], -32000, "{method}/{kind}");
        assert_eq!(
            a.reg.mempool_len(),
            0,
            "{method}/{kind} left something in the mempool"
        );
        assert_eq!(a.reg.state(), before, "{method}/{kind} changed the state");
    }

    // The next blocks of the twins are identical: same hash, same state.
    let ba = a.produce();
    let bb = b.produce();
    assert!(ba.txs.is_empty());
    assert_eq!(ba.hash, bb.hash);
    assert_eq!(a.reg.state(), b.reg.state());
    a.stop().await;
    b.stop().await;
}

fn ons_sig(owner: &session_crypto::Ed25519Keypair, value: &[u8], signed: bool) -> Value {
    if !signed {
        return Value::Null;
    }
    let h =
        session_registry::tx::ons_update_hash(Some(value), Some(&owner.public().0), None, &[0; 32]);
    json!(hex::encode(owner.sign(&h)))
}

#[tokio::test]
async fn conflicts_with_pending_transactions_are_rejected() {
    let t = TestRegistry::start().await;
    let r = solo_registration(1, &t.params);
    t.ok("register_service_node", to_json(&r)).await;
    // The same registration again (identical bytes) and a re-signed duplicate.
    t.rejected("register_service_node", to_json(&r), "already_pending")
        .await;
    let mut dup = solo_registration(1, &t.params);
    dup.operator_fee = 0;
    t.rejected(
        "register_service_node",
        to_json(&dup.signed(&node_key(1))),
        "duplicate_key",
    )
    .await;
    assert_eq!(t.reg.mempool_len(), 1);
    let b = t.produce();
    assert_eq!(b.txs.len(), 1);

    // Unlocking twice: the second is rejected even while the first is pending.
    let u = UnlockRequest::signed(&node_key(1), 1);
    t.ok("request_stake_unlock", to_json(&u)).await;
    t.produce();
    t.rejected("request_stake_unlock", to_json(&u), "already_unlocking")
        .await;
    t.stop().await;
}

#[tokio::test]
async fn transactions_that_expire_before_the_block_are_dropped() {
    let t = TestRegistry::start().await;
    t.register(&[1]).await;
    t.produce();
    let now = t.now_secs();
    // Valid when submitted (290 s old, tolerance 300 s) …
    let p = proof(1, now - 290).sign(&node_key(1));
    t.ok("submit_uptime_proof", to_json(&p)).await;
    // … expired by the time the block is made.
    let b = t.produce_after(20);
    assert!(b.txs.is_empty(), "the stale proof must not enter the block");
    let n = t
        .nodes(json!({"fields": ["last_uptime_proof", "public_ip"]}))
        .await;
    assert_eq!(
        n["service_node_states"][0],
        json!({"last_uptime_proof": 0, "public_ip": "10.0.0.1"})
    );
    t.stop().await;
}
