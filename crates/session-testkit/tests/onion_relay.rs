#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! The onion relay of real nodes on loopback (storage-node §7), with hand-built layers:
//! a request through three hops reaches its destination with either cipher, and every
//! kind of damage — a flipped bit in any layer, a wrong key, a truncated or oversize
//! frame, an unknown next hop, a loop past the hop limit — gets its clean error. The
//! exit also proxies v4 requests to a server (`session_rt::lsrpc`).

use serde_json::Value;
use session_crypto::onion::EncType;
use session_testkit::onion::{OnionHop, build_onion, final_layer, send_onion, serve_v4};
use session_testkit::{TestAccount, TestNetwork};
use session_wire::onion::{decode_response_text, parse_snode_response};

/// A path of three hops, and a destination in the account's swarm.
fn path_and_destination(net: &TestNetwork, account: &TestAccount) -> (Vec<OnionHop>, OnionHop) {
    let swarm = net.swarm_of_key(&account.x25519()).unwrap();
    let dest = net.nodes_in(swarm)[0];
    let path = (0..net.nodes().len())
        .filter(|&i| i != dest)
        .take(3)
        .map(|i| net.hop(i).unwrap())
        .collect();
    (path, net.hop(dest).unwrap())
}

fn with_dest(path: &[OnionHop], dest: OnionHop) -> Vec<OnionHop> {
    let mut t = path.to_vec();
    t.push(dest);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hops_reach_the_destination_with_both_ciphers() {
    let net = TestNetwork::start(6).await.unwrap();
    let account = TestAccount::new(31);
    let (path, dest) = path_and_destination(&net, &account);
    for (i, enc) in [EncType::AesGcm, EncType::XChaCha20]
        .into_iter()
        .enumerate()
    {
        let data = format!("via the onion {i}");
        let params = account.store(0, net.now_ms(), 60_000, data.as_bytes());
        let onion = build_onion(
            &with_dest(&path, dest),
            final_layer("store", params),
            enc,
            |_, _| {},
        )
        .unwrap();
        let reply = send_onion(path[0].addr, onion.body).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let ct = decode_response_text(&reply.body).unwrap();
        let plain = onion.keys.last().unwrap().decrypt_reply(&ct).unwrap();
        let r = parse_snode_response(&plain).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body["hash"].is_string(), "{body}");
    }
    // Both messages are held by the destination (and, replicated, by its swarm).
    let members = net.nodes_in(net.swarm_of_key(&account.x25519()).unwrap());
    let other_member = members
        .iter()
        .find(|&&i| net.hop(i).unwrap() != dest)
        .unwrap();
    let (status, got) = net
        .node(*other_member)
        .unwrap()
        .rpc("retrieve", account.retrieve(0, net.now_ms()))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(got["messages"].as_array().unwrap().len(), 2, "{got}");
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_anywhere_gets_a_clean_error() {
    let net = TestNetwork::start(6).await.unwrap();
    let account = TestAccount::new(32);
    let (path, dest) = path_and_destination(&net, &account);
    let targets = with_dest(&path, dest);
    let request = || final_layer("retrieve", account.retrieve(0, net.now_ms()));

    // A flipped bit in the layer of hop k (guard, middle, exit, destination): that hop
    // cannot decrypt, answers 400 "Invalid ciphertext" in plain text, and the hops
    // before it pass the answer back unchanged.
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        for k in 0..targets.len() {
            for at in [0usize, 13, usize::MAX] {
                let onion = build_onion(&targets, request(), enc, |layer, ct| {
                    if layer == k {
                        let i = at.min(ct.len() - 1);
                        ct[i] ^= 0x20;
                    }
                })
                .unwrap();
                let reply = send_onion(path[0].addr, onion.body).await.unwrap();
                assert_eq!(
                    (reply.status, reply.text().as_str()),
                    (400, "Invalid ciphertext"),
                    "{enc} layer {k} byte {at}"
                );
            }
        }
    }

    // A layer encrypted to the wrong node: the hop that receives it cannot open it.
    let mut wrong = targets.clone();
    wrong[1].x25519 = targets[2].x25519;
    let onion = build_onion(&wrong, request(), EncType::XChaCha20, |_, _| {}).unwrap();
    let reply = send_onion(path[0].addr, onion.body).await.unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (400, "Invalid ciphertext")
    );

    // A next hop that no registry lists: 502 naming it, as clients expect.
    let mut unknown = targets.clone();
    unknown[2].ed25519 = [0x42; 32];
    let onion = build_onion(&unknown, request(), EncType::AesGcm, |_, _| {}).unwrap();
    let reply = send_onion(path[0].addr, onion.body).await.unwrap();
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.text(),
        format!("Next node not found: {}", hex::encode([0x42; 32]))
    );

    // Broken entry frames: cut short, a length past the end, bad metadata.
    let good = build_onion(&targets, request(), EncType::AesGcm, |_, _| {})
        .unwrap()
        .body;
    let mut past_end = good.clone();
    past_end[3] = 0x7f;
    let mut bad_json = good.clone();
    let last = bad_json.len() - 2;
    bad_json[last] = b'!';
    for (what, body) in [
        ("empty", vec![]),
        ("three bytes", good[..3].to_vec()),
        ("cut in the ciphertext", good[..good.len() / 2].to_vec()),
        ("length past the end", past_end),
        ("metadata not JSON", bad_json),
    ] {
        let reply = send_onion(path[0].addr, body).await.unwrap();
        assert_eq!(reply.status, 400, "{what}");
        assert!(
            reply.text().starts_with("Invalid onion request"),
            "{what}: {}",
            reply.text()
        );
    }

    // More than 10 MiB is refused from its Content-Length, before the body is read.
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(path[0].addr).await.unwrap();
        let head = format!(
            "POST /onion_req/v2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            10 * 1024 * 1024 + 1
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut out = vec![0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut out))
            .await
            .unwrap()
            .unwrap();
        let out = String::from_utf8_lossy(&out[..n]);
        assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    }

    // The destination layer decrypts but holds no frame: an encrypted 400.
    let onion = build_onion(
        &targets,
        b"not a frame".to_vec(),
        EncType::XChaCha20,
        |_, _| {},
    )
    .unwrap();
    let reply = send_onion(path[0].addr, onion.body).await.unwrap();
    assert_eq!(reply.status, 200);
    let plain = onion
        .keys
        .last()
        .unwrap()
        .decrypt_reply(&decode_response_text(&reply.body).unwrap())
        .unwrap();
    let r = parse_snode_response(&plain).unwrap();
    assert_eq!((r.status, r.body.as_str()), (400, "Invalid json"));

    // Every node still answers afterwards.
    let onion = build_onion(&targets, request(), EncType::AesGcm, |_, _| {}).unwrap();
    assert_eq!(
        send_onion(path[0].addr, onion.body).await.unwrap().status,
        200
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_stops_at_the_hop_limit() {
    let net = TestNetwork::start(5).await.unwrap();
    let (a, b) = (net.hop(0).unwrap(), net.hop(1).unwrap());
    let request = || final_layer("info", serde_json::json!({}));
    // 15 relays are allowed: 16 targets (guard + 14 relays + destination) work.
    let ok: Vec<OnionHop> = (0..16).map(|i| if i % 2 == 0 { a } else { b }).collect();
    let onion = build_onion(&ok, request(), EncType::XChaCha20, |_, _| {}).unwrap();
    let reply = send_onion(a.addr, onion.body).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    // One more hop is refused, in plain text, by the node that would relay it.
    let looped: Vec<OnionHop> = (0..17).map(|i| if i % 2 == 0 { a } else { b }).collect();
    let onion = build_onion(&looped, request(), EncType::XChaCha20, |_, _| {}).unwrap();
    let reply = send_onion(a.addr, onion.body).await.unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (400, "onion request max path length exceeded")
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_next_hop_is_named() {
    let mut net = TestNetwork::start(6).await.unwrap();
    let targets: Vec<OnionHop> = (0..4).map(|i| net.hop(i).unwrap()).collect();
    net.stop_node(2).await.unwrap();
    let onion = build_onion(
        &targets,
        final_layer("info", serde_json::json!({})),
        EncType::AesGcm,
        |_, _| {},
    )
    .unwrap();
    let reply = send_onion(targets[0].addr, onion.body).await.unwrap();
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.text(),
        format!(
            "Next node is unreachable: {}",
            hex::encode(targets[2].ed25519)
        )
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_proxies_v4_requests_to_servers() {
    use session_crypto::onion::client_encrypt;
    use session_wire::onion::{
        Protocol, ProxyControl, V4_TARGET, V4RequestInfo, encode_frame, encode_v4_request,
    };
    let net = TestNetwork::start(5).await.unwrap();
    let path: Vec<OnionHop> = (0..3).map(|i| net.hop(i).unwrap()).collect();
    let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hi" }));
    let (server, server_key, _stop) = serve_v4(app).await.unwrap();
    let request = encode_v4_request(
        &V4RequestInfo {
            method: "GET".into(),
            endpoint: "/hello".into(),
            headers: Default::default(),
        },
        None,
    );
    let control = |target: &str, port: u16, enc: EncType, ephemeral: [u8; 32]| ProxyControl {
        host: "127.0.0.1".into(),
        target: target.into(),
        port,
        protocol: Protocol::Http,
        method: Some("POST".into()),
        ephemeral_key: Some(ephemeral),
        enc_type: Some(enc.into()),
    };
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let layer = client_encrypt(enc, server_key.public(), &request).unwrap();
        let inner = encode_frame(
            &layer.ciphertext,
            &control(V4_TARGET, server.port(), enc, layer.ephemeral_public),
        )
        .unwrap();
        let onion = build_onion(&path, inner, enc, |_, _| {}).unwrap();
        let reply = send_onion(path[0].addr, onion.body).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let v4 = session_rt::lsrpc::open_response(&layer.key, &reply.body).unwrap();
        assert_eq!(v4.info.code, 200);
        assert_eq!(v4.body.as_deref(), Some(&b"hi"[..]));
    }

    // A target outside /oxen|/loki …/lsrpc: the exit answers an encrypted 400.
    let layer = client_encrypt(EncType::AesGcm, server_key.public(), &request).unwrap();
    let inner = encode_frame(
        &layer.ciphertext,
        &control(
            "/hello",
            server.port(),
            EncType::AesGcm,
            layer.ephemeral_public,
        ),
    )
    .unwrap();
    let onion = build_onion(&path, inner, EncType::AesGcm, |_, _| {}).unwrap();
    let reply = send_onion(path[0].addr, onion.body).await.unwrap();
    let plain = onion.keys[2]
        .decrypt_reply(&decode_response_text(&reply.body).unwrap())
        .unwrap();
    let r = parse_snode_response(&plain).unwrap();
    assert_eq!((r.status, r.body.as_str()), (400, "Invalid url"));

    // A server that is not listening: a plain 502 from the exit.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let inner = encode_frame(
        &layer.ciphertext,
        &control(V4_TARGET, closed, EncType::AesGcm, layer.ephemeral_public),
    )
    .unwrap();
    let onion = build_onion(&path, inner, EncType::AesGcm, |_, _| {}).unwrap();
    let reply = send_onion(path[0].addr, onion.body).await.unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (502, "Unable to reach server 127.0.0.1")
    );
    net.shutdown().await.unwrap();
}
