#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! SNS/ONS names: register → `ons_resolve` answers like oxend → the client decrypts the
//! Session ID with `session_crypto::ons`; updates, renewals and expiry.

mod common;

use common::*;
use serde_json::{Value, json};
use session_crypto::ons;
use session_crypto::{AccountKeys, Ed25519Keypair, Ed25519Seed};
use session_registry::ChainParams;
use session_registry::tx::{ons_renew_hash, ons_update_hash};

fn buy_params(owner: &Ed25519Keypair, name: &str, stored: &[u8]) -> Value {
    let h = ons_update_hash(Some(stored), Some(&owner.public().0), None, &[0; 32]);
    json!({
        "type": "session",
        "name": name,
        "encrypted_value": hex::encode(stored),
        "owner": hex::encode(owner.public().0),
        "signature": hex::encode(owner.sign(&h)),
    })
}

async fn resolve(t: &TestRegistry, name: &str) -> Value {
    t.ok(
        "ons_resolve",
        json!({"type": 0, "name_hash": ons::name_hash_base64(name)}),
    )
    .await
}

fn account(i: u8) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_array([i; 32]))
}

#[tokio::test]
async fn register_resolve_decrypt_gives_the_session_id() {
    let t = TestRegistry::start().await;
    let alice = account(1);
    let owner = account(2);
    let sid = alice.session_id();
    // The client encrypts under the (mixed-case) name; everything is lower-cased.
    let stored = ons::encrypt_value("alice", &sid.to_bytes()).unwrap();
    let r = t
        .ok(
            "ons_buy_mapping",
            buy_params(owner.ed25519(), "Alice", &stored),
        )
        .await;
    assert_eq!(r["status"], "OK");
    assert_eq!(
        resolve(&t, "alice").await,
        json!({}),
        "not before the block"
    );
    t.produce();

    let r = resolve(&t, "ALICE").await;
    assert_eq!(
        r.as_object().unwrap().len(),
        2,
        "only encrypted_value and nonce: {r}"
    );
    let ct = hex::decode(r["encrypted_value"].as_str().unwrap()).unwrap();
    let nonce: [u8; 24] = hex::decode(r["nonce"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(ct.len(), 33 + 16);
    let got = ons::decrypt_session_id("Alice", &ct, &nonce).unwrap();
    assert_eq!(got, sid);
    assert!(ons::decrypt_session_id("bob", &ct, &nonce).is_err());
    // The hash may be given as hex too; an unknown name resolves to nothing.
    let hexed = t
        .ok(
            "ons_resolve",
            json!({"type": 0, "name_hash": hex::encode(ons::name_hash("alice"))}),
        )
        .await;
    assert_eq!(hexed, r);
    assert_eq!(resolve(&t, "nobody").await, json!({}));
    t.rejected(
        "ons_resolve",
        json!({"type": 0, "name_hash": "abc"}),
        "invalid_params",
    )
    .await;

    // The name is taken now (case-insensitively).
    let other = ons::encrypt_value("alice", &account(3).session_id().to_bytes()).unwrap();
    let e = t
        .rejected(
            "ons_buy_mapping",
            buy_params(account(3).ed25519(), "aLiCe", &other),
            "name_taken",
        )
        .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );

    // The chain stores only the hash, never the name.
    let block = t.ok("get_block", json!({"height": 1})).await.to_string();
    assert!(!block.to_lowercase().contains("alice"));
    t.stop().await;
}

#[tokio::test]
async fn the_jagerman_vector_resolves_byte_for_byte() {
    // governance.json `ons.jagerman`: the stored value is ciphertext ‖ nonce.
    let t = TestRegistry::start().await;
    let ct = "d9bca6752665f2254ec7522f98aa5f2dfb13c9fa1ad1e39cd3d7a89a0df04719e348da537bc310a53e3b59ca24639b9b42";
    let nonce = "73e8243f3fadd471be36c6df3d62f863f9bb3a9d1cc696c0";
    let stored = hex::decode(format!("{ct}{nonce}")).unwrap();
    t.ok(
        "ons_buy_mapping",
        buy_params(&node_key(40), "jagerman", &stored),
    )
    .await;
    t.produce();
    let r = t
        .ok(
            "ons_resolve",
            json!({"type": 0, "name_hash": "yB7mbm2q1MaczqNZCYguH+71z5jooEMeXA0sncfni+g="}),
        )
        .await;
    assert_eq!(r, json!({"encrypted_value": ct, "nonce": nonce}));
    let n: [u8; 24] = hex::decode(nonce).unwrap().try_into().unwrap();
    assert_eq!(
        ons::decrypt_session_id("jagerman", &hex::decode(ct).unwrap(), &n)
            .unwrap()
            .to_hex(),
        "05fb466d312e1666ad1c84c4ee55b7e034151c0e366a313d95d11436a5f36e1e75"
    );
    t.stop().await;
}

#[tokio::test]
async fn owners_update_and_renew_names_that_expire() {
    let params = ChainParams {
        ons_session_lifetime_blocks: 5,
        ..test_params()
    };
    let t = TestRegistry::start_with(params).await;
    let owner = account(2);
    let stranger = account(9);
    let v1 = ons::encrypt_value("carol", &account(1).session_id().to_bytes()).unwrap();
    t.ok("ons_buy_mapping", buy_params(owner.ed25519(), "carol", &v1))
        .await;
    let buy_block = t.produce();
    let buy_txid = buy_block.txs[0].txid;

    // Update the value: signed by the owner over value ‖ prev_txid.
    let v2 = ons::encrypt_value("carol", &account(3).session_id().to_bytes()).unwrap();
    let update = |key: &Ed25519Keypair, prev: [u8; 32]| {
        let h = ons_update_hash(Some(&v2), None, None, &prev);
        json!({"type": 0, "name": "carol", "encrypted_value": hex::encode(&v2),
               "signature": hex::encode(key.sign(&h))})
    };
    t.rejected(
        "ons_update_mapping",
        update(stranger.ed25519(), buy_txid),
        "bad_signature",
    )
    .await;
    t.rejected(
        "ons_update_mapping",
        update(owner.ed25519(), [7; 32]),
        "bad_signature",
    )
    .await;
    t.rejected(
        "ons_update_mapping",
        json!({"type": 0, "name": "carol", "signature": "00".repeat(64)}),
        "empty_update",
    )
    .await;
    t.ok("ons_update_mapping", update(owner.ed25519(), buy_txid))
        .await;
    let upd_block = t.produce();
    let r = resolve(&t, "carol").await;
    let ct = hex::decode(r["encrypted_value"].as_str().unwrap()).unwrap();
    let nonce: [u8; 24] = hex::decode(r["nonce"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        ons::decrypt_session_id("carol", &ct, &nonce).unwrap(),
        account(3).session_id()
    );

    // Registered at height 1 with a 5-block lifetime: resolves through height 5.
    for _ in 0..3 {
        t.produce();
    }
    assert_eq!(t.reg.state().height, 5);
    assert_ne!(resolve(&t, "carol").await, json!({}));
    t.produce();
    assert_eq!(resolve(&t, "carol").await, json!({}), "expired at height 6");

    // The owner renews: one more lifetime from now; it resolves again.
    let renew_txid = upd_block.txs[0].txid;
    let h = ons_renew_hash(0, &ons::name_hash("carol"), &renew_txid);
    let renew =
        json!({"type": 0, "name": "carol", "signature": hex::encode(owner.ed25519().sign(&h))});
    let bad =
        json!({"type": 0, "name": "carol", "signature": hex::encode(stranger.ed25519().sign(&h))});
    t.rejected("ons_renew_mapping", bad, "bad_signature").await;
    t.ok("ons_renew_mapping", renew).await;
    t.produce();
    assert_ne!(resolve(&t, "carol").await, json!({}));
    t.stop().await;
}

#[tokio::test]
async fn session_names_never_expire_by_default() {
    let t = TestRegistry::start().await;
    let owner = account(2);
    let v = ons::encrypt_value("dave", &account(1).session_id().to_bytes()).unwrap();
    t.ok("ons_buy_mapping", buy_params(owner.ed25519(), "dave", &v))
        .await;
    let b = t.produce();
    let h = ons_renew_hash(0, &ons::name_hash("dave"), &b.txs[0].txid);
    let e = t
        .rejected(
            "ons_renew_mapping",
            json!({"type": 0, "name_hash": ons::name_hash_base64("dave"), "signature": hex::encode(owner.ed25519().sign(&h))}),
            "name_never_expires",
        )
        .await;
    assert!(e["message"].as_str().unwrap().contains("never expire"));
    for _ in 0..20 {
        t.produce();
    }
    assert_ne!(resolve(&t, "dave").await, json!({}));
    t.stop().await;
}
