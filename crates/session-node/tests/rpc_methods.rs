//! Every client method against the real HTTPS server (SQLite in a temp dir, mock clock).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn store_and_signed_retrieve() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let alice = User::new(1);
    let now = node.now();

    let r = c
        .rpc(
            "store",
            plain_store(&alice.session_id(), 0, now, 60_000, b"hello"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    let hash = expected_hash(&alice.session_id(), 0, b"hello");
    assert_eq!(r.json["hash"], hash);
    assert_eq!(r.json["t"], now);
    assert_eq!(r.json["hf"], json!([19, 4]));
    let m = mine(&node, &r);
    assert_eq!(m["hash"], hash);
    assert_eq!(m["expiry"], now + 60_000);
    assert_eq!(m["t"], now);
    assert!(m.get("already").is_none());
    node.verify_node_sig(hash.as_bytes(), m["signature"].as_str().unwrap());
    assert_eq!(m["signature"].as_str().unwrap().len(), 88, "padded base64");

    // Same message again: already, expiry extended only if later.
    let r = c
        .rpc(
            "store",
            plain_store(&alice.session_id(), 0, now, 50_000, b"hello"),
        )
        .await;
    assert_eq!(mine(&node, &r)["already"], true);
    assert_eq!(mine(&node, &r)["expiry"], now + 60_000);
    let r = c
        .rpc(
            "store",
            plain_store(&alice.session_id(), 0, now, 90_000, b"hello"),
        )
        .await;
    assert_eq!(mine(&node, &r)["already"], true);
    assert_eq!(mine(&node, &r)["expiry"], now + 90_000);

    c.rpc(
        "store",
        plain_store(&alice.session_id(), 0, now + 1, 60_000, b"second"),
    )
    .await;
    let r = c.rpc("retrieve", alice.retrieve(0, now)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let msgs = r.json["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["hash"], hash);
    assert_eq!(msgs[0]["timestamp"], now);
    assert_eq!(
        msgs[0]["expiration"],
        now + 90_000,
        "the reference's key is `expiration`"
    );
    assert!(msgs[0].get("expiry").is_none());
    assert_eq!(unb64(msgs[0]["data"].as_str().unwrap()), b"hello");
    assert_eq!(unb64(msgs[1]["data"].as_str().unwrap()), b"second");
    assert_eq!(r.json["more"], false);
    assert_eq!(r.json["t"], now);
    assert_eq!(r.json["hf"], json!([19, 4]));

    // last_hash continues after that message; lastHash alias too.
    let mut p = alice.retrieve(0, now);
    p["last_hash"] = json!(hash);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);
    let mut p = alice.retrieve(0, now);
    p["lastHash"] = json!(hash);
    p["max_count"] = json!(1);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["more"], false);
    let mut p = alice.retrieve(0, now);
    p["max_count"] = json!(1);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.json["more"], true);
    node.stop().await;
}

#[tokio::test]
async fn timestamp_and_ttl_as_strings_and_expiry_field() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let now = node.now();
    let pk = User::new(2).session_id();
    let r = c
        .rpc(
            "store",
            json!({"pubKey": pk, "timestamp": now.to_string(), "ttl": "20000", "data": b64(b"s")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["expiry"], now + 20_000);
    let r = c
        .rpc(
            "store",
            json!({"pubkey": pk, "timestamp": now, "expiry": now + 30_000, "data": b64(b"e")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["expiry"], now + 30_000);
    node.stop().await;
}

#[tokio::test]
async fn retrieve_size_limits() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(3);
    let now = node.now();
    let data = vec![7u8; 60_000];
    for i in 0..30u8 {
        let mut d = data.clone();
        d[0] = i;
        let r = c
            .rpc("store", plain_store(&u.session_id(), 0, now, 60_000, &d))
            .await;
        assert_eq!(r.status, 200);
    }
    // Default budget: 7,800,000 / 5 = 1,560,000; each costs 100 + 43 + 80,000 = 80,143.
    let r = c.rpc("retrieve", u.retrieve(0, now)).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 19);
    assert_eq!(r.json["more"], true);
    let mut p = u.retrieve(0, now);
    p["max_size"] = json!(-1);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 30);
    assert_eq!(r.json["more"], false);
    let mut p = u.retrieve(0, now);
    p["max_size"] = json!(100);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(
        r.json["messages"].as_array().unwrap().len(),
        1,
        "at least one"
    );
    let mut p = u.retrieve(0, now);
    p["max_count"] = json!(0);
    p["max_size"] = json!(0);
    let r = c.rpc("retrieve", p).await;
    assert_eq!(
        r.json["messages"].as_array().unwrap().len(),
        19,
        "0 means unset"
    );
    node.stop().await;
}

#[tokio::test]
async fn delete_and_required() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(4);
    let now = node.now();
    let mut hashes = Vec::new();
    for d in [b"a", b"b", b"c"] {
        let r = c
            .rpc("store", plain_store(&u.session_id(), 0, now, 60_000, d))
            .await;
        hashes.push(r.json["hash"].as_str().unwrap().to_owned());
    }
    let req = vec![hashes[2].clone(), hashes[0].clone()];
    let sig = u.sign(format!("delete{}{}", req[0], req[1]).as_bytes());
    let r = c
        .rpc(
            "delete",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": req, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = mine(&node, &r);
    let mut deleted = req.clone();
    deleted.sort();
    assert_eq!(m["deleted"], json!(deleted));
    let signed = format!(
        "{}{}{}{}{}",
        u.session_id(),
        req[0],
        req[1],
        deleted[0],
        deleted[1]
    );
    node.verify_node_sig(signed.as_bytes(), m["signature"].as_str().unwrap());
    assert_eq!(node.count(), 1);

    // required + nothing deleted → 404; a single hash may be given as a string.
    let sig = u.sign(format!("delete{}", hashes[0]).as_bytes());
    let r = c
        .rpc(
            "delete",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": hashes[0],
                   "signature": sig, "required": true}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(mine(&node, &r)["deleted"], json!([]));

    // Wrong signature: 401 with the reference's text.
    let r = c
        .rpc(
            "delete",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": [hashes[1]], "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "delete_msgs signature verification failed")
    );
    assert_eq!(node.count(), 1);
    node.stop().await;
}

#[tokio::test]
async fn delete_all_single_and_all_namespaces() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(5);
    let now = node.now();
    let mut by_ns = std::collections::BTreeMap::new();
    for (ns, d) in [(0i16, "x"), (0, "y"), (2, "z"), (-10, "w")] {
        let r = c.rpc("store", u.store(ns, now, 60_000, d.as_bytes())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        by_ns
            .entry(ns)
            .or_insert_with(Vec::new)
            .push(r.json["hash"].as_str().unwrap().to_owned());
    }
    let sig = u.sign(format!("delete_all{now}").as_bytes());
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut want = by_ns[&0].clone();
    want.sort();
    assert_eq!(mine(&node, &r)["deleted"], json!(want));
    node.verify_node_sig(
        format!("{}{now}{}{}", u.session_id(), want[0], want[1]).as_bytes(),
        mine(&node, &r)["signature"].as_str().unwrap(),
    );

    let sig = u.sign(format!("delete_allall{now}").as_bytes());
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "timestamp": now,
                   "namespace": "all", "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &mine(&node, &r)["deleted"];
    assert_eq!(d["2"], json!(by_ns[&2]));
    assert_eq!(d["-10"], json!(by_ns[&-10]));
    let mut all: Vec<String> = by_ns[&2].iter().chain(&by_ns[&-10]).cloned().collect();
    all.sort();
    node.verify_node_sig(
        format!("{}{now}{}{}", u.session_id(), all[0], all[1]).as_bytes(),
        mine(&node, &r)["signature"].as_str().unwrap(),
    );
    assert_eq!(node.count(), 0);

    // Timestamp window ±60 s (406).
    let old = now - 61_000;
    let sig = u.sign(format!("delete_all{old}").as_bytes());
    let r = c
        .rpc(
            "delete_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "timestamp": old, "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (406, "delete_all timestamp too far from current time")
    );
    node.stop().await;
}

#[tokio::test]
async fn delete_before() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(6);
    let now = node.now();
    let r1 = c
        .rpc(
            "store",
            plain_store(&u.session_id(), 0, now - 5_000, 60_000, b"old"),
        )
        .await;
    c.rpc(
        "store",
        plain_store(&u.session_id(), 0, now, 60_000, b"new"),
    )
    .await;
    let before = now - 1_000;
    let sig = u.sign(format!("delete_before{before}").as_bytes());
    let r = c
        .rpc(
            "delete_before",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "before": before, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["deleted"], json!([r1.json["hash"]]));
    node.verify_node_sig(
        format!(
            "{}{before}{}",
            u.session_id(),
            r1.json["hash"].as_str().unwrap()
        )
        .as_bytes(),
        mine(&node, &r)["signature"].as_str().unwrap(),
    );
    // Too far in the future → 401 (quirk: not 406).
    let before = now + 61_000;
    let sig = u.sign(format!("delete_beforeall{before}").as_bytes());
    let r = c
        .rpc(
            "delete_before",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "before": before,
                   "namespace": "all", "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "delete_before timestamp too far in the future")
    );
    assert_eq!(node.count(), 1);
    node.stop().await;
}

#[tokio::test]
async fn expire_extend_shorten_and_multi() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(7);
    let now = node.now();
    let mut hs = Vec::new();
    for d in [b"1", b"2"] {
        let r = c
            .rpc("store", plain_store(&u.session_id(), 0, now, 100_000, d))
            .await;
        hs.push(r.json["hash"].as_str().unwrap().to_owned());
    }
    // Plain expire sets both.
    let exp = now + 200_000;
    let sig = u.sign(format!("expire{exp}{}{}", hs[0], hs[1]).as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": hs,
                   "expiry": exp, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = mine(&node, &r);
    let mut sorted = hs.clone();
    sorted.sort();
    assert_eq!(m["updated"], json!(sorted));
    assert_eq!(m["expiry"], exp);
    assert!(m.get("unchanged").is_none());
    node.verify_node_sig(
        format!(
            "{}{exp}{}{}{}{}",
            u.session_id(),
            hs[0],
            hs[1],
            sorted[0],
            sorted[1]
        )
        .as_bytes(),
        m["signature"].as_str().unwrap(),
    );

    // Shorten only: one already shorter stays unchanged.
    let exp_short = now + 150_000;
    let sig = u.sign(format!("expireshorten{exp_short}{}", hs[0]).as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": [hs[0]],
                   "expiry": exp_short, "shorten": true, "signature": sig}),
        )
        .await;
    assert_eq!(mine(&node, &r)["updated"], json!([hs[0]]));
    let exp_ext = now + 120_000;
    let sig = u.sign(format!("expireextend{exp_ext}{}{}", hs[0], hs[1]).as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": hs,
                   "expiry": exp_ext, "extend": true, "signature": sig}),
        )
        .await;
    let m = mine(&node, &r);
    assert_eq!(m["updated"], json!([]));
    let mut unchanged = serde_json::Map::new();
    unchanged.insert(hs[0].clone(), json!(exp_short));
    unchanged.insert(hs[1].clone(), json!(exp));
    assert_eq!(m["unchanged"], Value::Object(unchanged));
    let (a, b) = if hs[0] < hs[1] { (0, 1) } else { (1, 0) };
    let unchanged_exp = [exp_short, exp];
    node.verify_node_sig(
        format!(
            "{}{exp_ext}{}{}{}{}{}{}",
            u.session_id(),
            hs[0],
            hs[1],
            hs[a],
            unchanged_exp[a],
            hs[b],
            unchanged_exp[b]
        )
        .as_bytes(),
        m["signature"].as_str().unwrap(),
    );

    // Multiple expiries; capped at now + 30 d but signed as requested.
    let far = now + 40 * 86_400_000;
    let e0 = now + 300_000;
    let sig = u.sign(format!("expire{e0}{far}{}{}", hs[0], hs[1]).as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": hs,
                   "expiry": [e0, far], "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = mine(&node, &r);
    let capped = now + 30 * 86_400_000;
    let exp_by_hash = [(hs[0].clone(), e0), (hs[1].clone(), capped)];
    let mut sorted_pairs = exp_by_hash.to_vec();
    sorted_pairs.sort();
    assert_eq!(
        m["expiry"],
        json!(sorted_pairs.iter().map(|p| p.1).collect::<Vec<_>>())
    );
    node.verify_node_sig(
        format!(
            "{}{}{}{}{}{}{}",
            u.session_id(),
            sorted_pairs[0].1,
            sorted_pairs[1].1,
            hs[0],
            hs[1],
            sorted_pairs[0].0,
            sorted_pairs[1].0
        )
        .as_bytes(),
        m["signature"].as_str().unwrap(),
    );

    // get_expiries sees the result.
    let sig = u.sign(format!("get_expiries{now}{}{}", hs[0], hs[1]).as_bytes());
    let r = c
        .rpc(
            "get_expiries",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": hs,
                   "timestamp": now, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["expiries"][&hs[0]], e0);
    assert_eq!(r.json["expiries"][&hs[1]], capped);
    assert!(r.json.get("t").is_none(), "get_expiries has no t/hf");

    // An expiry in the past → 401.
    let past = now - 61_000;
    let sig = u.sign(format!("expire{past}{}", hs[0]).as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": [hs[0]],
                   "expiry": past, "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "expire: timestamp should be >= current time")
    );
    node.stop().await;
}

#[tokio::test]
async fn multi_expiry_needs_hf_19_4() {
    let node = TestNode::start_with(Opts {
        hardfork: [19, 3],
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let u = User::new(8);
    let now = node.now();
    let h = expected_hash(&u.session_id(), 0, b"x");
    let e = now + 100_000;
    let sig = u.sign(format!("expire{e}{e}{h}{h}").as_bytes());
    let r = c
        .rpc(
            "expire",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "messages": [h, h],
                   "expiry": [e, e], "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json, Value::Null);
    node.stop().await;
}

#[tokio::test]
async fn expire_all_only_shortens() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let u = User::new(9);
    let now = node.now();
    let long = c
        .rpc("store", plain_store(&u.session_id(), 0, now, 500_000, b"l"))
        .await;
    c.rpc("store", plain_store(&u.session_id(), 0, now, 50_000, b"s"))
        .await;
    let exp = now + 100_000;
    let sig = u.sign(format!("expire_all{exp}").as_bytes());
    let r = c
        .rpc(
            "expire_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "expiry": exp, "signature": sig}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["updated"], json!([long.json["hash"]]));
    node.verify_node_sig(
        format!(
            "{}{exp}{}",
            u.session_id(),
            long.json["hash"].as_str().unwrap()
        )
        .as_bytes(),
        mine(&node, &r)["signature"].as_str().unwrap(),
    );
    let past = now - 61_000;
    let sig = u.sign(format!("expire_all{past}").as_bytes());
    let r = c
        .rpc(
            "expire_all",
            json!({"pubkey": u.session_id(), "pubkey_ed25519": u.ed_hex(), "expiry": past, "signature": sig}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (406, "expire_all timestamp should be >= current time")
    );
    node.stop().await;
}

#[tokio::test]
async fn info_get_swarm_batch_sequence_ifelse() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let now = node.now();
    let r = c.rpc("info", json!({})).await;
    assert_eq!(r.json["version"], json!([2, 8, 0]));
    assert_eq!(r.json["timestamp"], now);
    assert_eq!(r.json["t"], now);

    let u = User::new(10);
    let r = c
        .rpc("get_snodes_for_pubkey", json!({"pubkey": u.session_id()}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["swarm"], "0");
    let sn = &r.json["snodes"][0];
    assert_eq!(sn["pubkey_ed25519"], node.node_hex());
    assert_eq!(sn["pubkey_legacy"], node.node_hex());
    assert_eq!(sn["port"], node.addr.port().to_string());
    assert_eq!(sn["port_https"], node.addr.port());
    assert_eq!(sn["port_quic"], sn["port_omq"]);
    assert!(sn["address"].as_str().unwrap().ends_with(".snode"));
    let x = session_crypto::curve::ed25519_pk_to_x25519(&node.node_pubkey).unwrap();
    assert_eq!(sn["pubkey_x25519"], hex::encode(x));

    let r = c
        .rpc(
            "batch",
            json!({"requests": [
                {"method": "info", "params": {}},
                {"method": "store", "params": plain_store(&u.session_id(), 3, now, 60_000, b"x")},
                {"method": "store", "params": plain_store(&u.session_id(), 0, now, 60_000, b"y")},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = r.json["results"].as_array().unwrap();
    assert_eq!(res.len(), 3);
    assert_eq!(res[0]["code"], 200);
    assert_eq!(res[1]["code"], 401);
    assert_eq!(
        res[1]["body"],
        "store: signature required to store to namespace 3"
    );
    assert_eq!(res[2]["code"], 200);
    assert!(r.json.get("t").is_none());

    let r = c
        .rpc(
            "sequence",
            json!({"requests": [
                {"method": "info", "params": {}},
                {"method": "retrieve", "params": {"pubkey": u.session_id()}},
                {"method": "info", "params": {}},
            ]}),
        )
        .await;
    let res = r.json["results"].as_array().unwrap();
    assert_eq!(res.len(), 2, "sequence stops at the first failure");
    assert_eq!(res[1]["code"], 401);

    // Nested meta requests and unknown sub-methods are parse errors.
    let r = c
        .rpc(
            "batch",
            json!({"requests": [{"method": "batch", "params": {"requests": []}}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (
            400,
            "invalid request: Invalid batch subrequest: subrequests may not contain meta-requests"
        )
    );
    let r = c
        .rpc(
            "batch",
            json!({"requests": [{"method": "nope", "params": {}}]}),
        )
        .await;
    assert_eq!(
        r.text,
        "invalid request: Invalid batch subrequest: invalid method \"nope\""
    );
    let reqs: Vec<Value> = (0..21)
        .map(|_| json!({"method": "info", "params": {}}))
        .collect();
    let r = c.rpc("batch", json!({"requests": reqs})).await;
    assert_eq!(
        r.text,
        "invalid request: Invalid batch request: subrequest limit exceeded"
    );
    let r = c.rpc("batch", json!({"requests": []})).await;
    assert_eq!(
        r.text,
        "invalid request: Invalid batch request: no valid \"requests\" field"
    );

    let r = c
        .rpc(
            "ifelse",
            json!({"if": {"hf_at_least": [19, 4], "v_at_least": [2, 8]},
                   "then": {"method": "info", "params": {}},
                   "else": {"method": "get_swarm", "params": {"pubkey": u.session_id()}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["condition"], true);
    assert_eq!(r.json["v"], json!([2, 8, 0]));
    assert_eq!(r.json["hf"], json!([19, 4]));
    assert_eq!(r.json["height"], 0);
    assert_eq!(r.json["result"]["code"], 200);
    assert_eq!(r.json["result"]["body"]["version"], json!([2, 8, 0]));
    let r = c
        .rpc(
            "ifelse",
            json!({"if": {"hf_before": [19]}, "then": {"method": "info", "params": {}}}),
        )
        .await;
    assert_eq!(r.json["condition"], false);
    assert!(r.json.get("result").is_none());
    let r = c
        .rpc(
            "ifelse",
            json!({"if": {}, "then": {"method": "info", "params": {}}}),
        )
        .await;
    assert_eq!(
        r.text,
        "invalid request: Invalid ifelse request: must specify at least one \"if\" condition"
    );
    node.stop().await;
}

#[tokio::test]
async fn revoke_and_unrevoke_by_owner_only() {
    let node = TestNode::start().await;
    let mut c = node.client().await;
    let group = User::new(11);
    let gid = group.id_with_prefix("03");
    let now = node.now();
    let mut token = vec![0x03, 0x03, 0, 0];
    token.extend_from_slice(User::new(12).ed.public().as_bytes());
    let mut msg = format!("revoke_subaccount{now}").into_bytes();
    msg.extend_from_slice(&token);
    let r = c
        .rpc(
            "revoke_subaccount",
            json!({"pubkey": gid, "timestamp": now, "revoke": b64(&token), "signature": b64(&group.ed.sign(&msg))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        mine(&node, &r).get("count").is_none(),
        "revoke has no count (v2.8.0)"
    );
    let mut signed = format!("{gid}{now}").into_bytes();
    signed.extend_from_slice(&token);
    node.verify_node_sig(&signed, mine(&node, &r)["signature"].as_str().unwrap());

    // Unrevoke with the hex form; signed by someone else → 401.
    let mut msg = format!("unrevoke_subaccount{now}").into_bytes();
    msg.extend_from_slice(&token);
    let r = c
        .rpc(
            "unrevoke_subaccount",
            json!({"pubkey": gid, "timestamp": now, "unrevoke": [hex::encode(&token)],
                   "signature": b64(&User::new(12).ed.sign(&msg))}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "unrevoke_subaccount signature verification failed")
    );
    let r = c
        .rpc(
            "unrevoke_subaccount",
            json!({"pubkey": gid, "timestamp": now, "unrevoke": [hex::encode(&token)],
                   "signature": b64(&group.ed.sign(&msg))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(mine(&node, &r)["count"], 1);
    // Stale timestamp → 406.
    let old = now - 120_000;
    let r = c
        .rpc(
            "revoke_subaccount",
            json!({"pubkey": gid, "timestamp": old, "revoke": b64(&token), "signature": b64(&[0u8; 64])}),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (406, "revoke_subaccount timestamp too far from current time")
    );
    // More than 50 tokens → 400.
    let many: Vec<String> = (0..51).map(|_| b64(&token)).collect();
    let r = c
        .rpc(
            "revoke_subaccount",
            json!({"pubkey": gid, "timestamp": now, "revoke": many, "signature": b64(&[0u8; 64])}),
        )
        .await;
    assert_eq!(
        r.text,
        "invalid request: invalid revoke: cannot revoke more than 50 subaccounts at once"
    );
    node.stop().await;
}

#[tokio::test]
async fn memory_backend_serves_too() {
    let node = TestNode::start_with(Opts {
        memory: true,
        tls: false,
        ..Opts::default()
    })
    .await;
    let mut c = node.client().await;
    let u = User::new(13);
    let now = node.now();
    let r = c.rpc("store", u.store(5, now, 60_000, b"cfg")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c.rpc("retrieve", u.retrieve(5, now)).await;
    assert_eq!(r.json["messages"].as_array().unwrap().len(), 1);
    node.stop().await;
}
