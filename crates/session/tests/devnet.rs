//! `session devnet` end to end, with the real binary: a 7-node devnet (one swarm) forms,
//! writes network.toml, answers `status --json`, survives a stop-node/start-node drill,
//! stops every child on SIGINT, resumes on the same directory with the same keys and
//! chain, and leaves no orphan when the supervisor itself is SIGKILLed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
#![cfg(unix)] // signals and /proc

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const NODES: usize = 7;

/// Kills the devnet on drop, so a failing test leaves nothing behind (the children
/// notice their supervisor's death on their own).
struct Devnet {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Devnet {
    fn start(dir: &Path, base_port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_session"))
            .args(["devnet", "--nodes", &NODES.to_string(), "--timeout", "50"])
            .arg("--base-port")
            .arg(base_port.to_string())
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("devnet: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits (bounded) for a line starting with `prefix`.
    fn wait_for(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => {
                    let status = self.child.try_wait().unwrap();
                    panic!("no {prefix:?} line within {limit:?} ({e}); devnet status {status:?}");
                }
            }
        }
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "the devnet did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn session(args: &[&str], dir: &Path) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--dir", dir.to_str().unwrap()]);
    run(&all)
}

/// Runs `session` with exactly `args`.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_session"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(dir: &Path) -> Value {
    let (ok, out, err) = session(&["--json", "devnet", "status"], dir);
    assert!(ok, "status failed: {err}");
    serde_json::from_str(out.trim()).unwrap()
}

fn node(st: &Value, k: u64) -> &Value {
    st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == k)
        .unwrap_or_else(|| panic!("no node {k} in {st}"))
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purpose: /proc/PID/stat says "Z".
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Every process of the devnet: the registry and the nodes (from the pid files).
fn child_pids(dir: &Path) -> Vec<u32> {
    let mut files = vec![dir.join("registry/pid")];
    for e in std::fs::read_dir(dir.join("nodes")).unwrap() {
        files.push(e.unwrap().path().join("pid"));
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn assert_all_exit(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|p| alive(*p)) {
        let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
        assert!(Instant::now() < deadline, "orphans still alive: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A base port whose whole range (registry + 7 nodes × 2) is free right now.
fn free_base_port() -> u16 {
    let seed = std::process::id() as u16;
    for i in 0..200u16 {
        let base = 30_000 + (seed.wrapping_add(i.wrapping_mul(97)) % 3000) * 10;
        let free = (0..=2 * NODES as u16 + 1)
            .all(|o| TcpListener::bind((Ipv4Addr::LOCALHOST, base + o)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

#[test]
fn devnet_forms_drills_stops_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn");
    let base = free_base_port();

    // Start: the swarm forms.
    let mut dn = Devnet::start(&dir, base);
    let formed = dn.wait_for("swarms formed", Duration::from_secs(50));
    assert!(formed.contains("7 nodes in 1 swarm"), "{formed}");

    // network.toml: the registry URL and the nodes.
    let net = std::fs::read_to_string(dir.join("network.toml")).unwrap();
    assert!(
        net.contains(&format!(
            "registry_urls = [\"http://127.0.0.1:{base}/json_rpc\"]"
        )),
        "{net}"
    );
    assert!(net.contains("network = \"devnet\""), "{net}");
    assert_eq!(net.matches("[[nodes]]").count(), NODES, "{net}");

    // status --json: every node active, one swarm.
    let st = status(&dir);
    assert_eq!(st["running"], true);
    let nodes = st["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), NODES, "{st}");
    assert!(nodes.iter().all(|n| n["state"] == "active"), "{st}");
    assert_eq!(st["swarms"].as_array().unwrap().len(), 1, "{st}");
    let mut keys: Vec<String> = nodes
        .iter()
        .map(|n| n["pubkey_ed25519"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    let (ok, table, _) = session(&["devnet", "status"], &dir);
    assert!(ok);
    assert!(table.contains("ED25519 KEY"), "{table}");

    // A client reaches the devnet through onion paths: real node processes, HTTPS,
    // both layer ciphers.
    let net_file = dir.join("network.toml");
    let net_file = net_file.to_str().unwrap();
    for enc in ["xchacha20", "aes-gcm"] {
        let (ok, out, err) = run(&[
            "--json",
            "network",
            "status",
            "--network",
            net_file,
            "--enc",
            enc,
        ]);
        assert!(ok, "network status ({enc}): {out}{err}");
        let report: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(report["nodes_known"], NODES, "{report}");
        let paths = report["paths"].as_array().unwrap();
        assert!(!paths.is_empty(), "{report}");
        assert!(
            paths.iter().all(|p| p.as_array().unwrap().len() == 3),
            "{report}"
        );
        let requests = report["requests"].as_array().unwrap();
        assert!(!requests.is_empty(), "{report}");
        assert!(requests.iter().all(|r| r["status"] == 200), "{report}");
    }
    let (ok, _, err) = run(&["network", "status", "--network", "/nonexistent"]);
    assert!(!ok && err.contains("session devnet"), "{err}");

    // Drill: stop node 2, then start it again.
    let pid2 = node(&st, 2)["pid"].as_u64().unwrap() as u32;
    let (ok, out, err) = session(&["devnet", "stop-node", "2"], &dir);
    assert!(ok, "stop-node: {out}{err}");
    assert!(!alive(pid2), "node 2 still runs");
    let st = status(&dir);
    assert_eq!(node(&st, 2)["state"], "stopped", "{st}");
    let (ok, out, err) = session(&["devnet", "start-node", "2"], &dir);
    assert!(ok, "start-node: {out}{err}");
    let st = status(&dir);
    assert_ne!(node(&st, 2)["state"], "stopped", "{st}");
    assert_ne!(node(&st, 2)["state"], "unreachable", "{st}");
    let (ok, _, err) = session(&["devnet", "stop-node", "99"], &dir);
    assert!(!ok && err.contains("no node 99"), "{err}");

    // Ctrl-C: everything stops, nothing is left behind.
    let height = {
        let s = status(&dir);
        s["height"].as_u64().unwrap()
    };
    let pids = child_pids(&dir);
    assert_eq!(pids.len(), NODES + 1, "{pids:?}");
    dn.signal(Signal::SIGINT);
    let st = dn.wait_exit(Duration::from_secs(30));
    assert!(st.success(), "devnet exit status {st}");
    assert_all_exit(&pids, Duration::from_secs(5));
    assert!(child_pids(&dir).is_empty(), "pid files left behind");
    let s = status(&dir);
    assert_eq!(s["running"], false);
    drop(dn);

    // Resume: same keys, same chain (height not lower).
    let mut dn = Devnet::start(&dir, base);
    dn.wait_for("swarms formed", Duration::from_secs(50));
    let st = status(&dir);
    let mut keys2: Vec<String> = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pubkey_ed25519"].as_str().unwrap().to_owned())
        .collect();
    keys2.sort();
    assert_eq!(keys, keys2);
    assert!(st["height"].as_u64().unwrap() >= height, "{st}");

    // SIGKILL the supervisor: its children notice and exit on their own.
    let pids = child_pids(&dir);
    assert_eq!(pids.len(), NODES + 1, "{pids:?}");
    dn.signal(Signal::SIGKILL);
    dn.wait_exit(Duration::from_secs(5));
    assert_all_exit(&pids, Duration::from_secs(25));
}

#[test]
fn foreign_directory_and_busy_port_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let (ok, _, err) = session(&["devnet", "--nodes", "1"], tmp.path());
    assert!(!ok);
    assert!(err.contains("not a devnet directory"), "{err}");

    let (ok, _, err) = session(&["devnet", "status"], &tmp.path().join("none"));
    assert!(!ok);
    assert!(err.contains("is not a devnet"), "{err}");

    let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tmp.path().join("dn");
    let (ok, _, err) = session(
        &["devnet", "--nodes", "1", "--base-port", &port.to_string()],
        &dir,
    );
    assert!(!ok);
    assert!(
        err.contains(&format!("{port} (registry)")) && err.contains("--base-port"),
        "{err}"
    );

    // A node that dies at start: the devnet stops and shows the end of its log.
    drop(busy);
    std::fs::write(dir.join("nodes/01/key_ed25519"), "not a key").unwrap();
    let (ok, _, err) = session(&["devnet", "--timeout", "30"], &dir);
    assert!(!ok);
    assert!(
        err.contains("node 01 exited while the devnet was starting")
            && err.contains("nodes/01/node.log")
            && err.contains("key_ed25519"),
        "{err}"
    );
    assert!(child_pids(&dir).is_empty(), "pid files left behind");
}
