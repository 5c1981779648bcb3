#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! What each hop of an onion path learns, read from the nodes' own logs.
//!
//! Every node logs at TRACE level into one captured buffer, each line tagged with the
//! node's `node{id=…}` span. A client stores a message through guard → middle → exit →
//! destination. Then: the guard's lines never name the destination nor hold the
//! message; the middle's lines never hold the client's address nor the destination;
//! the exit's lines never hold the client's address; and no line of any node holds the
//! message body, its base64 form or a layer key. The positive half is checked too —
//! each hop does log its neighbours — so the negative checks are not vacuous.
//!
//! (One test per file: the capture is the process-wide tracing subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use session_crypto::onion::EncType;
use session_testkit::onion::{build_onion, final_layer, send_onion};
use session_testkit::{TestAccount, TestNetwork};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn short(key: &[u8; 32]) -> String {
    hex::encode(&key[..4])
}

/// The lines logged inside node `key`'s request span.
fn lines_of(all: &[String], key: &[u8; 32]) -> Vec<String> {
    let tag = format!("node{{id={}}}", short(key));
    all.iter().filter(|l| l.contains(&tag)).cloned().collect()
}

/// The part of a line after the span tag of its own node (so a node's own id in the
/// tag does not count as "seeing" it).
fn message_part(line: &str) -> &str {
    line.split_once("}: ").map_or(line, |(_, rest)| rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hop_sees_only_its_neighbours() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let net = TestNetwork::start(7).await.unwrap();
    let account = TestAccount::new(41);
    let swarm = net.swarm_of_key(&account.x25519()).unwrap();
    let dest_index = net.nodes_in(swarm)[0];
    let path: Vec<usize> = (0..7).filter(|&i| i != dest_index).take(3).collect();
    let (guard, middle, exit, dest) = (
        net.hop(path[0]).unwrap(),
        net.hop(path[1]).unwrap(),
        net.hop(path[2]).unwrap(),
        net.hop(dest_index).unwrap(),
    );

    let secret = b"metadata-probe: the plaintext no hop may log";
    let params = account.store(0, net.now_ms(), 60_000, secret);
    let onion = build_onion(
        &[guard, middle, exit, dest],
        final_layer("store", params),
        EncType::XChaCha20,
        |_, _| {},
    )
    .unwrap();
    let reply = send_onion(guard.addr, onion.body.clone()).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    net.shutdown().await.unwrap();

    let all = capture.lines();
    let (g, m, x, d) = (
        lines_of(&all, &guard.ed25519),
        lines_of(&all, &middle.ed25519),
        lines_of(&all, &exit.ed25519),
        lines_of(&all, &dest.ed25519),
    );
    for (name, lines) in [("guard", &g), ("middle", &m), ("exit", &x), ("dest", &d)] {
        assert!(!lines.is_empty(), "the {name} logged nothing: {all:#?}");
    }

    // The client's address as the guard logged it.
    let client: Vec<String> = g
        .iter()
        .filter_map(|l| l.split("from=client ").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        .collect();
    assert!(
        !client.is_empty(),
        "the guard did not log its client: {g:#?}"
    );
    let client = &client[0];

    let contains =
        |lines: &[String], needle: &str| lines.iter().any(|l| message_part(l).contains(needle));
    // Positive: each hop knows its neighbours.
    assert!(contains(&g, &short(&middle.ed25519)), "{g:#?}");
    assert!(contains(&m, "from=hop "), "{m:#?}");
    assert!(contains(&m, &short(&exit.ed25519)), "{m:#?}");
    assert!(contains(&x, "from=hop "), "{x:#?}");
    assert!(contains(&x, &short(&dest.ed25519)), "{x:#?}");
    // Negative: nothing beyond them.
    assert!(
        !contains(&g, &short(&dest.ed25519)),
        "guard saw the destination"
    );
    assert!(!contains(&g, &short(&exit.ed25519)), "guard saw the exit");
    assert!(!contains(&m, client), "middle saw the client");
    assert!(
        !contains(&m, &short(&guard.ed25519)),
        "middle learnt the guard's key"
    );
    assert!(
        !contains(&m, &short(&dest.ed25519)),
        "middle saw the destination"
    );
    assert!(!contains(&x, client), "exit saw the client");
    assert!(!contains(&x, &short(&guard.ed25519)), "exit saw the guard");

    // No node, on the path or not, logs a body or a layer key.
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret_text = String::from_utf8_lossy(secret).into_owned();
    let mut forbidden = vec![
        secret_text,
        b64.encode(secret),
        hex::encode(&secret[..16]),
        b64.encode(&onion.body[4..40]),
        hex::encode(&onion.body[4..20]),
    ];
    for key in &onion.keys {
        forbidden.push(hex::encode(key.client_pub()));
    }
    for line in &all {
        for f in &forbidden {
            assert!(!line.contains(f.as_str()), "logged {f:?}: {line}");
        }
    }
}
