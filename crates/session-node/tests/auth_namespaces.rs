//! Namespace rules and authentication: Session IDs with `pubkey_ed25519`, groups (03)
//! with the admin key or a subaccount token, revocation, and the known-answer vectors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use common::*;
use serde_json::{Value, json};

fn hexd(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn message_hashes_match_storage_vectors() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let now = node.now();
    let mut checked = 0;
    for v in load("storage") {
        let id = v.id.as_str();
        if !id.contains("message_hash") {
            continue;
        }
        let pubkey = v.input["pubkey"].as_str().unwrap();
        let ns = v.input["namespace"].as_i64().unwrap() as i16;
        let data = match v.input.get("data") {
            Some(d) => hexd(d),
            None => unb64(v.input["data_b64"].as_str().unwrap()),
        };
        let want = v.expected["hash"].as_str().unwrap();
        // Independent formula and the node agree with the vector.
        assert_eq!(expected_hash(pubkey, ns, &data), want, "{id}");
        let h = session_node::types::message_hash(
            &session_node::types::UserPubkey::from_hex(pubkey).unwrap(),
            session_node::types::Namespace(ns),
            &data,
        );
        assert_eq!(h, want, "{id}");
        if ns % 10 == 0 {
            let r = c
                .rpc("store", plain_store(pubkey, ns, now, 60_000, &data))
                .await;
            assert_eq!(r.status, 200, "{id}: {}", r.text);
            assert_eq!(r.json["hash"], want, "{id}");
        }
        checked += 1;
    }
    assert!(checked >= 4);
    node.stop().await;
}

#[tokio::test]
async fn request_signature_vectors() {
    // The vectors' signatures are what our User helper produces, and the node accepts
    // the retrieve one at the vector's timestamp.
    for v in load("storage") {
        let id = v.id.as_str();
        if !id.starts_with("derived.request_signature.") {
            continue;
        }
        let seed: [u8; 32] = hexd(&v.input["ed25519_seed"]).try_into().unwrap();
        let u = User::from_seed(seed);
        assert_eq!(u.ed_hex(), v.input["ed25519_pubkey"], "{id}");
        assert_eq!(u.session_id(), v.input["session_id"], "{id}");
        let signed = v.input["signed_ascii"].as_str().unwrap();
        assert_eq!(
            u.sign(signed.as_bytes()),
            v.expected["signature_b64"],
            "{id}"
        );
    }
    let v = vector("storage", "derived.request_signature.retrieve_ns0");
    let node = TestNode::start_with(Opts {
        clock: session_rt::MockClock::new(1_700_000_000_000),
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let r = c
        .rpc(
            "retrieve",
            json!({"pubkey": v.input["session_id"], "pubkey_ed25519": v.input["ed25519_pubkey"],
                   "timestamp": 1_700_000_000_000u64, "signature": v.expected["signature_b64"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    node.stop().await;
}

#[tokio::test]
async fn auth_error_vectors() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(20);
    let now = node.now();
    let sig = u.sign(format!("delete_all{now}").as_bytes());

    // auth_error.delete_all_without_ed25519: absent or wrong pubkey_ed25519.
    let want = vector("storage", "auth_error.delete_all_without_ed25519");
    let (code, msg) = (
        want.expected["reply"][0].as_str().unwrap(),
        want.expected["reply"][1].as_str().unwrap(),
    );
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status.to_string().as_str(), r.text.as_str()),
        (code, msg)
    );
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": User::new(21).ed_hex(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status.to_string().as_str(), r.text.as_str()),
        (code, msg)
    );
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // auth_error.pubkey_ed25519_non05
    let want = vector("storage", "auth_error.pubkey_ed25519_non05");
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.id_with_prefix("03"), "pubkey_ed25519": u.ed_hex(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(
        r.status.to_string(),
        want.expected["reply"][0].as_str().unwrap()
    );
    assert_eq!(r.text, want.expected["reply"][1].as_str().unwrap());

    // auth_error.retrieve_unauthenticated
    let want = vector("storage", "auth_error.retrieve_unauthenticated");
    for params in [
        json!({"pubkey": u.session_id()}),
        json!({"pubkey": u.session_id(), "namespace": 0}),
    ] {
        let r = c.rpc("retrieve", params).await;
        assert_eq!(
            r.status.to_string(),
            want.expected["reply"][0].as_str().unwrap()
        );
        assert_eq!(r.text, want.expected["reply"][1].as_str().unwrap());
    }
    node.stop().await;
}

#[tokio::test]
async fn namespace_rules() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(22);
    let sid = u.session_id();
    let now = node.now();

    // Private namespace: signature required, then accepted.
    let r = c
        .rpc("store", plain_store(&sid, 3, now, 60_000, b"c"))
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "store: signature required to store to namespace 3")
    );
    let r = c.rpc("store", u.store(3, now, 60_000, b"c")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Signature by another key.
    let mut p = u.store(3, now, 60_000, b"d");
    p["signature"] = json!(User::new(23).sign(format!("store3{now}").as_bytes()));
    let r = c.rpc("store", p).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "store signature verification failed")
    );

    // Public inbox: a (well-formed) bad signature is ignored.
    let mut p = plain_store(&sid, 10, now, 60_000, b"inbox");
    p["signature"] = json!(b64(&[9u8; 64]));
    let r = c.rpc("store", p).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Public outbox −1: authenticated store, single message, unauthenticated retrieve.
    let r = c
        .rpc("store", plain_store(&sid, -1, now, 60_000, b"p1"))
        .await;
    assert_eq!(r.status, 401);
    c.rpc("store", u.store(-1, now, 60_000, b"p1")).await;
    let r2 = c.rpc("store", u.store(-1, now, 60_000, b"p2")).await;
    let r = c
        .rpc("retrieve", json!({"pubkey": sid, "namespace": -1}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let msgs = r.json["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["hash"], r2.json["hash"]);

    // −10 (legacy closed groups): anyone stores, anyone retrieves.
    c.rpc("store", plain_store(&sid, -10, now, 60_000, b"legacy"))
        .await;
    let r = c
        .rpc("retrieve", json!({"pubkey": sid, "namespace": -10}))
        .await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);

    // Other namespaces need a signature to retrieve.
    for ns in [0, 3, 10, -11] {
        let r = c
            .rpc("retrieve", json!({"pubkey": sid, "namespace": ns}))
            .await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (401, "retrieve: request signature required"),
            "ns {ns}"
        );
    }
    // TTL limits: 14 days max in public inboxes, 30 days elsewhere, 10 s min.
    let day = 86_400_000u64;
    let r = c
        .rpc("store", plain_store(&sid, 0, now, 14 * day + 1, b"t"))
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (403, "Provided expiry/TTL is not valid.")
    );
    let r = c
        .rpc("store", plain_store(&sid, 0, now, 14 * day, b"t"))
        .await;
    assert_eq!(r.status, 200);
    let r = c.rpc("store", u.store(3, now, 30 * day, b"t")).await;
    assert_eq!(r.status, 200);
    let r = c.rpc("store", u.store(3, now, 30 * day + 1, b"t2")).await;
    assert_eq!(r.status, 403);
    let r = c.rpc("store", plain_store(&sid, 0, now, 9_999, b"t")).await;
    assert_eq!(r.status, 403);
    node.stop().await;
}

#[tokio::test]
async fn retrieval_by_another_accounts_key_is_refused() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let alice = User::new(24);
    let mallory = User::new(25);
    let now = node.now();
    c.rpc(
        "store",
        plain_store(&alice.session_id(), 0, now, 60_000, b"secret"),
    )
    .await;
    // Mallory signs with her key, claiming it is Alice's Ed25519 key.
    let mut p = mallory.retrieve(0, now);
    p["pubkey"] = json!(alice.session_id());
    let r = c.rpc("retrieve", p).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "retrieve signature verification failed")
    );
    // Or without pubkey_ed25519.
    let mut p = mallory.retrieve(0, now);
    p["pubkey"] = json!(alice.session_id());
    p.as_object_mut().unwrap().remove("pubkey_ed25519");
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.status, 401);
    // Alice's own signature over another namespace does not work for ns 0.
    let mut p = alice.retrieve(0, now);
    p["signature"] = json!(alice.sign(format!("retrieve3{now}").as_bytes()));
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.status, 401);
    node.stop().await;
}

#[tokio::test]
async fn signature_timestamps_must_be_recent() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(26);
    let now = node.now();
    for ts in [now - 61_000, now + 61_000] {
        let r = c.rpc("retrieve", u.retrieve(0, ts)).await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (406, "retrieve timestamp too far from current time")
        );
    }
    for ts in [now - 59_000, now + 59_000] {
        let r = c.rpc("retrieve", u.retrieve(0, ts)).await;
        assert_eq!(r.status, 200);
    }
    // store: message timestamp ≤ now + 10 s, expiry ≥ now − 10 s, sig_timestamp ±60 s.
    let r = c
        .rpc(
            "store",
            plain_store(&u.session_id(), 0, now + 10_001, 60_000, b"f"),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (406, "Timestamp error: check your clock")
    );
    let r = c
        .rpc(
            "store",
            plain_store(&u.session_id(), 0, now - 100_000, 20_000, b"f"),
        )
        .await;
    assert_eq!(r.status, 406);
    let mut p = u.store(3, now, 60_000, b"x");
    let sts = now - 61_000;
    p["sig_timestamp"] = json!(sts);
    p["signature"] = json!(u.sign(format!("store3{sts}").as_bytes()));
    let r = c.rpc("store", p).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (406, "store signature timestamp too far from current time")
    );
    // A separate sig_timestamp within the window is what gets signed.
    let mut p = u.store(3, now, 60_000, b"x");
    let sts = now - 30_000;
    p["sig_timestamp"] = json!(sts);
    p["signature"] = json!(u.sign(format!("store3{sts}").as_bytes()));
    let r = c.rpc("store", p).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(node.count(), 1);
    node.stop().await;
}

struct Member {
    user: User,
    token: Vec<u8>,
    token_sig: String,
}

fn member(group: &User, n: u8, flags: u8) -> Member {
    let user = User::new(n);
    let mut token = vec![0x03, flags, 0, 0];
    token.extend_from_slice(user.ed.public().as_bytes());
    let token_sig = b64(&group.ed.sign(&token));
    Member {
        user,
        token,
        token_sig,
    }
}

fn group_params(gid: &str, m: &Member, signed: &str, extra: Value) -> Value {
    let mut p = json!({
        "pubkey": gid,
        "subaccount": b64(&m.token),
        "subaccount_sig": m.token_sig,
        "signature": m.user.sign(signed.as_bytes()),
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[tokio::test]
async fn groups_admin_and_subaccounts() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let group = User::new(30);
    let gid = group.id_with_prefix("03");
    let now = node.now();

    // Admin (group key) stores to GroupKeys (12).
    let r = c
        .rpc(
            "store",
            json!({"pubkey": gid, "namespace": 12, "timestamp": now, "ttl": 60_000, "data": b64(b"keys"),
                   "signature": group.sign(format!("store12{now}").as_bytes())}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A read|write member stores to GroupMessages (11) and reads GroupKeys.
    let rw = member(&group, 31, 0x03);
    let r = c
        .rpc(
            "store",
            group_params(
                &gid,
                &rw,
                &format!("store11{now}"),
                json!({"namespace": 11, "timestamp": now, "ttl": 60_000, "data": b64(b"hi")}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .rpc(
            "retrieve",
            group_params(
                &gid,
                &rw,
                &format!("retrieve12{now}"),
                json!({"namespace": 12, "timestamp": now}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);

    // Hex token form works too.
    let mut p = group_params(
        &gid,
        &rw,
        &format!("retrieve11{now}"),
        json!({"namespace": 11, "timestamp": now}),
    );
    p["subaccount"] = json!(hex::encode(&rw.token));
    assert_eq!(c.rpc("retrieve", p).await.status, 200);

    // Missing flag: read-only member cannot store; read|write cannot delete_all.
    let ro = member(&group, 32, 0x01);
    let r = c
        .rpc(
            "store",
            group_params(
                &gid,
                &ro,
                &format!("store11{now}"),
                json!({"namespace": 11, "timestamp": now, "ttl": 60_000, "data": b64(b"no")}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "store signature verification failed")
    );
    let r = c
        .rpc(
            "delete_all",
            group_params(
                &gid,
                &rw,
                &format!("delete_all11{now}"),
                json!({"namespace": 11, "timestamp": now}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "delete_all signature verification failed")
    );

    // Token not signed by the group.
    let mut forged = member(&group, 33, 0x07);
    forged.token_sig = b64(&forged.user.ed.sign(&forged.token));
    let r = c
        .rpc(
            "retrieve",
            group_params(
                &gid,
                &forged,
                &format!("retrieve11{now}"),
                json!({"namespace": 11, "timestamp": now}),
            ),
        )
        .await;
    assert_eq!(r.status, 401);

    // subaccount without subaccount_sig → 400.
    let mut p = group_params(
        &gid,
        &rw,
        &format!("retrieve11{now}"),
        json!({"namespace": 11, "timestamp": now}),
    );
    p.as_object_mut().unwrap().remove("subaccount_sig");
    let r = c.rpc("retrieve", p).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            "invalid request: invalid subaccount: subaccount_sig is required when using subaccount"
        )
    );

    // Revoke the member: refused, except in an unrevocable namespace (−11).
    c.rpc(
        "store",
        json!({"pubkey": gid, "namespace": -11, "timestamp": now, "ttl": 60_000, "data": b64(b"u"),
               "signature": group.sign(format!("store-11{now}").as_bytes())}),
    )
    .await;
    let mut msg = format!("revoke_subaccount{now}").into_bytes();
    msg.extend_from_slice(&rw.token);
    let r = c
        .rpc(
            "revoke_subaccount",
            json!({"pubkey": gid, "timestamp": now, "revoke": [b64(&rw.token)], "signature": b64(&group.ed.sign(&msg))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .rpc(
            "retrieve",
            group_params(
                &gid,
                &rw,
                &format!("retrieve11{now}"),
                json!({"namespace": 11, "timestamp": now}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "retrieve signature verification failed")
    );
    let before = node.count();
    let r = c
        .rpc(
            "store",
            group_params(&gid, &rw, &format!("store11{now}"),
                json!({"namespace": 11, "timestamp": now, "ttl": 60_000, "data": b64(b"after revoke")})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(node.count(), before, "a revoked subaccount stores nothing");
    let r = c
        .rpc(
            "retrieve",
            group_params(
                &gid,
                &rw,
                &format!("retrieve-11{now}"),
                json!({"namespace": -11, "timestamp": now}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "unrevocable namespace: {}", r.text);
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);

    // Revoke/unrevoke refuse subaccount signatures (the owner only).
    let mut msg = format!("unrevoke_subaccount{now}").into_bytes();
    msg.extend_from_slice(&rw.token);
    let mut p = group_params(
        &gid,
        &rw,
        "",
        json!({"timestamp": now, "unrevoke": [b64(&rw.token)]}),
    );
    p["signature"] = json!(b64(&rw.user.ed.sign(&msg)));
    let r = c.rpc("unrevoke_subaccount", p).await;
    assert_eq!(r.status, 401);
    node.stop().await;
}

#[tokio::test]
async fn groups_vector_subaccount_retrieve() {
    // groups.json subaccount_auth: a real libsession token, owner signature and member
    // signature of "retrieve9991693340111000".
    let v = vector("groups", "subaccount_auth");
    let seed: [u8; 32] = hexd(&v.input["group_ed25519_seed"]).try_into().unwrap();
    let group = User::from_seed(seed);
    let node = TestNode::start_with(Opts {
        clock: session_rt::MockClock::new(1_693_340_111_000),
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let r = c
        .rpc(
            "retrieve",
            json!({"pubkey": group.id_with_prefix("03"), "namespace": 999, "timestamp": 1_693_340_111_000u64,
                   "subaccount": v.expected["subaccount_token_b64"], "subaccount_sig": v.expected["subaccount_sig_b64"],
                   "signature": v.expected["signature_b64"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The token has read|write but not delete.
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": group.id_with_prefix("03"), "namespace": 999, "timestamp": 1_693_340_111_000u64,
                   "subaccount": v.expected["subaccount_token_b64"], "subaccount_sig": v.expected["subaccount_sig_b64"],
                   "signature": v.expected["signature_b64"]}),
        )
        .await;
    assert_eq!(r.status, 401);
    node.stop().await;
}

#[tokio::test]
async fn expire_by_write_only_subaccount_is_extend_only() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let group = User::new(40);
    let gid = group.id_with_prefix("03");
    let now = node.now();
    let r = c
        .rpc(
            "store",
            json!({"pubkey": gid, "namespace": 11, "timestamp": now, "ttl": 100_000, "data": b64(b"m"),
                   "signature": group.sign(format!("store11{now}").as_bytes())}),
        )
        .await;
    let h = r.json["hash"].as_str().unwrap().to_owned();
    let w = member(&group, 41, 0x03);
    let e = now + 50_000;
    let r = c
        .rpc(
            "expire",
            group_params(
                &gid,
                &w,
                &format!("expireshorten{e}{h}"),
                json!({"messages": [h], "expiry": e, "shorten": true}),
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        "expire: shorten parameter cannot be used with this subaccount token (missing delete access)"
    );
    // Without a mode the change is implicitly extend-only: shortening does nothing.
    let r = c
        .rpc(
            "expire",
            group_params(
                &gid,
                &w,
                &format!("expire{e}{h}"),
                json!({"messages": [h], "expiry": e}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["updated"], json!([]));
    let e2 = now + 200_000;
    let r = c
        .rpc(
            "expire",
            group_params(
                &gid,
                &w,
                &format!("expire{e2}{h}"),
                json!({"messages": [h], "expiry": e2}),
            ),
        )
        .await;
    assert_eq!(mine(&node, &r)["updated"], json!([h]));
    node.stop().await;
}
