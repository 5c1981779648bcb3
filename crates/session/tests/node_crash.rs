//! Crash safety of the real `session node run` process: SIGKILL it in the middle of a
//! stream of stores, restart it on the same data directory, and check that every store
//! it acknowledged is there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use session_crypto::{Ed25519Keypair, Ed25519Seed};
use session_rt::http::HttpConnection;

/// Kills the child on drop, so a failing test never leaves a node behind.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data_dir: &Path) -> (NodeProcess, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session"))
        .args([
            "node",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = NodeProcess(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    // "session node listening on https://127.0.0.1:PORT (pubkey …)"
    let addr = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .unwrap();
    (guard, addr)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

struct User(Ed25519Keypair);

impl User {
    fn session_id(&self) -> String {
        format!("05{}", hex::encode(self.0.to_x25519().public()))
    }
}

async fn rpc(c: &mut HttpConnection, method: &str, params: Value) -> Option<(u16, Value)> {
    let body = json!({"method": method, "params": params}).to_string();
    let r = c.post("/storage_rpc/v1", body).await.ok()?;
    Some((
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_stores_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let users: Vec<User> = (1..=4u8)
        .map(|n| User(Ed25519Keypair::from_seed(Ed25519Seed::from_array([n; 32]))))
        .collect();
    let (mut node, addr) = start(dir.path());

    let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for (k, u) in users.iter().enumerate() {
        let sid = u.session_id();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            let Ok(mut c) = HttpConnection::connect(addr, true).await else {
                return;
            };
            for i in 0u32.. {
                let data = format!("user {k} message {i} {}", "x".repeat(200));
                let params = json!({"pubkey": sid, "timestamp": now_ms(), "ttl": 3_600_000,
                                    "data": b64(data.as_bytes())});
                match rpc(&mut c, "store", params).await {
                    Some((200, body)) => {
                        let h = body["hash"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().push((k, h));
                    }
                    // The process died mid-request: that store was never acknowledged.
                    _ => return,
                }
            }
        }));
    }
    // Let a few hundred stores through, then pull the plug.
    for _ in 0..2_000 {
        if acked.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.0.kill().unwrap(); // SIGKILL
    node.0.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} stores were acknowledged",
        acked.len()
    );
    eprintln!("{} stores acknowledged before SIGKILL", acked.len());

    let (_node, addr) = start(dir.path());
    let mut c = HttpConnection::connect(addr, true).await.unwrap();
    for (k, u) in users.iter().enumerate() {
        let ts = now_ms();
        let params = json!({
            "pubkey": u.session_id(),
            "pubkey_ed25519": hex::encode(u.0.public().as_bytes()),
            "timestamp": ts,
            "max_size": -1,
            "signature": b64(&u.0.sign(format!("retrieve{ts}").as_bytes())),
        });
        let (status, body) = rpc(&mut c, "retrieve", params).await.unwrap();
        assert_eq!(status, 200);
        let stored: std::collections::HashSet<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["hash"].as_str().unwrap())
            .collect();
        for (_, h) in acked.iter().filter(|(kk, _)| *kk == k) {
            assert!(
                stored.contains(h.as_str()),
                "acknowledged message {h} of user {k} was lost"
            );
        }
    }
}
