//! `session devnet` end to end, with the real binary: a 7-node devnet (one swarm) forms,
//! writes network.toml, answers `status --json`, survives a stop-node/start-node drill,
//! stops every child on SIGINT, resumes on the same directory with the same keys and
//! chain, and leaves no orphan when the supervisor itself is SIGKILLed. On the formed
//! devnet, two accounts use the chat commands (`chat_flow`): message requests, replies,
//! Session names, unsend, `chat` on piped input, `watch`, and bad inputs; the community
//! server's lobby (`community_flow`); files sent and saved through the file server
//! (`attachments::attachments_flow`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
#![cfg(unix)] // signals and /proc

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

#[path = "devnet/attachments.rs"]
mod attachments;
mod support;

use support::Running;

const NODES: usize = 7;

/// Starts `session devnet` on `dir` (killed on drop, so a failing test leaves nothing
/// behind: the children notice their supervisor's death on their own).
fn start_devnet(dir: &Path, base_port: u16) -> Running {
    let base = base_port.to_string();
    let nodes = NODES.to_string();
    let args = [
        "devnet",
        "--nodes",
        &nodes,
        "--timeout",
        "50",
        "--base-port",
        &base,
        "--dir",
        dir.to_str().unwrap(),
    ];
    Running::spawn(support::command(&args), "devnet")
}

fn session(args: &[&str], dir: &Path) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--dir", dir.to_str().unwrap()]);
    run(&all)
}

/// Runs `session` with exactly `args`.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = support::session(args);
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

/// Every process of the devnet: the registry, the community server, the file server and
/// the nodes (from the pid files).
fn child_pids(dir: &Path) -> Vec<u32> {
    let mut files = vec![
        dir.join("registry/pid"),
        dir.join("community/pid"),
        dir.join("files/pid"),
    ];
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

#[test]
fn devnet_forms_drills_stops_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn");
    let base = support::free_base_port(10_000, NODES as u16);

    // Start: the swarm forms.
    let mut dn = start_devnet(&dir, base);
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
    assert!(
        net.contains(&format!(
            "[file_server]\nurl = \"http://127.0.0.1:{}\"",
            base - 1
        )),
        "{net}"
    );

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

    // Two accounts chat over the devnet (shares its startup).
    chat_flow(&tmp.path().join("chat"), Path::new(net_file));

    // The devnet's community server: its lobby, joined and used through onion paths.
    community_flow(&dir, &tmp.path().join("community"), Path::new(net_file));

    // Files between two accounts through the devnet's file server.
    attachments::attachments_flow(&dir, &tmp.path().join("attach"), Path::new(net_file));

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
    assert_eq!(pids.len(), NODES + 3, "{pids:?}");
    dn.signal(Signal::SIGINT);
    let st = dn.wait_exit(Duration::from_secs(30));
    assert!(st.success(), "devnet exit status {st}");
    assert_all_exit(&pids, Duration::from_secs(5));
    assert!(child_pids(&dir).is_empty(), "pid files left behind");
    let s = status(&dir);
    assert_eq!(s["running"], false);
    drop(dn);

    // Resume: same keys, same chain (height not lower).
    let mut dn = start_devnet(&dir, base);
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
    assert_eq!(pids.len(), NODES + 3, "{pids:?}");
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

/// One account of the chat flow: its data directory and the network file.
struct User {
    dir: PathBuf,
    network: PathBuf,
    id: String,
}

impl User {
    fn new(dir: PathBuf, network: &Path) -> Self {
        let mut u = Self {
            dir,
            network: network.to_owned(),
            id: String::new(),
        };
        let out = u.json(&["account", "new"]);
        u.id = out["session_id"].as_str().unwrap().to_owned();
        assert_eq!(u.id.len(), 66, "{out}");
        u
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_session"));
        c.arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .env("SESSION_NETWORK", &self.network)
            .env_remove("SESSION_DATA_DIR");
        c
    }

    /// Runs `session --data-dir DIR args…`: (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed with `--json` and parses its output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend(args);
        let (ok, out, err) = self.run(&all);
        assert!(ok, "session {all:?} failed: {out}{err}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{all:?}: {e}: {out}"))
    }

    /// Runs a command that must fail; returns its error output.
    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "session {args:?} should have failed: {out}");
        assert!(err.starts_with("error: "), "{err}");
        err
    }

    /// `read --json PEER`, retried (bounded) until `done` holds of the messages.
    fn read_until(&self, peer: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ok, out, err) = self.run(&["--json", "read", peer]);
            if ok {
                let list: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
                if done(&list) {
                    return list;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 30 s (last: {out}{err})"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn bodies(list: &[Value]) -> Vec<&str> {
    list.iter().map(|m| m["body"].as_str().unwrap()).collect()
}

fn chat_flow(dir: &Path, network: &Path) {
    let t0 = Instant::now();
    let a = User::new(dir.join("a"), network);
    let b = User::new(dir.join("b"), network);

    // A chooses a display name; it travels with her messages.
    let p = a.json(&["profile", "--name", "Alice"]);
    assert_eq!(p["display_name"], "Alice");
    assert_eq!(p["session_id"], a.id.as_str());

    // A writes to B: a message request on B's side.
    let sent = a.json(&["send", &b.id, "hello", "Bob"]);
    assert_eq!(sent["to"], b.id.as_str());
    let first_hash = sent["hash"].as_str().unwrap().to_owned();
    assert!(
        !first_hash.is_empty() && sent["recipient_hash"].is_string(),
        "{sent}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let request = loop {
        let list = b.json(&["requests"]);
        if let Some(r) = list.as_array().unwrap().first() {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "no message request reached B");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(request["peer"], a.id.as_str(), "{request}");
    assert_eq!(request["name"], "Alice", "{request}");
    assert_eq!(request["first_message"]["body"], "hello Bob", "{request}");
    assert_eq!(request["accepted"], false);
    let (ok, inbox, err) = b.run(&["inbox", "--offline"]);
    assert!(ok && inbox.contains("1 message request"), "{inbox}{err}");

    // B accepts (with the start of A's id, as the tables show it) and reads.
    let acc = b.json(&["accept", &a.id[..10]]);
    assert_eq!(acc["peer"], a.id.as_str());
    assert!(
        b.json(&["requests", "--offline"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let history = b.json(&["read", &a.id]);
    let history = history.as_array().unwrap();
    assert_eq!(bodies(history), ["hello Bob"]);
    assert_eq!(history[0]["direction"], "incoming");
    assert_eq!(
        history[0]["hash"].as_str().unwrap().len(),
        43,
        "full hashes"
    );
    let inbox = b.json(&["inbox", "--offline"]);
    assert_eq!(inbox[0]["peer"], a.id.as_str(), "{inbox}");
    assert_eq!(inbox[0]["unread"], 0, "read marks read: {inbox}");

    // B replies; A sees it.
    b.json(&["send", &a.id, "hi Alice"]);
    let list = a.read_until(&b.id, "B's reply at A", |l| bodies(l).contains(&"hi Alice"));
    let reply_hash = list.iter().find(|m| m["body"] == "hi Alice").unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, text, err) = a.run(&["read", "--offline", &b.id]);
    assert!(
        ok && text.contains("you: hello Bob") && text.contains("hi Alice"),
        "{text}{err}"
    );

    // A registers a Session name; B writes to it.
    let name = format!("alice-{}", std::process::id());
    let reg = a.json(&["name", "register", &name, "--wait", "40"]);
    assert_eq!(reg["session_id"], a.id.as_str(), "{reg}");
    let res = b.json(&["name", "resolve", &format!("@{name}")]);
    assert_eq!(res["session_id"], a.id.as_str(), "{res}");
    let err = b.fails(&["name", "register", &name]);
    assert!(
        err.contains("someone else") && err.contains("another name"),
        "{err}"
    );
    let by_name = b.json(&["send", &format!("@{name}"), "by", "name"]);
    assert_eq!(by_name["to"], a.id.as_str(), "{by_name}");

    // A unsends a message: it disappears at B too.
    let doomed = a.json(&["send", &b.id, "to be unsent"]);
    let doomed_hash = doomed["hash"].as_str().unwrap().to_owned();
    b.read_until(&a.id, "the doomed message at B", |l| {
        bodies(l).contains(&"to be unsent")
    });
    let un = a.json(&["unsend", &doomed_hash[..12]]);
    assert_eq!(
        un["hash"],
        doomed_hash.as_str(),
        "a hash prefix finds it: {un}"
    );
    b.read_until(&a.id, "the unsend at B", |l| {
        !bodies(l).contains(&"to be unsent")
    });
    // Only the author may unsend.
    let err = a.fails(&["unsend", &reply_hash]);
    assert!(err.contains("only its author"), "{err}");

    // `session watch` sees what arrives; `session chat` sends what is piped into it.
    // (A fetches first, so that the next message is the chat's.)
    let fetched = a.json(&["fetch"]);
    assert!(fetched["new_messages"].is_u64(), "{fetched}");
    let watch = a
        .command(&["--json", "watch", "--count", "1", "--timeout", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut chat = b
        .command(&["chat", &a.id[..10], "--history", "5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    chat.stdin
        .take()
        .unwrap()
        .write_all(b"from chat\n\n/quit\nnever sent\n")
        .unwrap();
    let out = chat.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chat: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("you: from chat"), "{text}");
    let out = watch.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "watch: {lines}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let msg = events.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(msg["message"]["body"], "from chat", "{lines}");
    assert_eq!(msg["message"]["from"], b.id.as_str());
    let list = a.read_until(&b.id, "the chat line at A", |l| {
        bodies(l).contains(&"from chat")
    });
    assert!(!bodies(&list).contains(&"never sent"));

    // Bad inputs are refused with a hint.
    let bad_id = format!("05{}", "zz".repeat(32));
    let err = b.fails(&["send", &bad_id, "x"]);
    assert!(
        err.contains("Session ID") && err.contains("66 hex"),
        "{err}"
    );
    let err = b.fails(&["send", &format!("@nobody-{}", std::process::id()), "x"]);
    assert!(err.contains("no such name"), "{err}");
    let err = b.fails(&["disappearing", &a.id, "off", "--after", "5m"]);
    assert!(err.contains("--after"), "{err}");
    let err = User {
        dir: dir.join("nobody"),
        network: network.to_owned(),
        id: String::new(),
    }
    .fails(&["inbox"]);
    assert!(err.contains("session account new"), "{err}");
    eprintln!("chat flow: {:?}", t0.elapsed());
}

/// The community server `session devnet` runs: its join URL from `session sogs
/// join-url`, then two accounts join the lobby through onion paths of the devnet, post,
/// and read each other's posts; the operator's room table counts them.
fn community_flow(devnet: &Path, dir: &Path, network: &Path) {
    let config = devnet.join("community/sogs.toml");
    let config = config.to_str().unwrap();
    let (ok, out, err) = run(&["--json", "sogs", "join-url", "lobby", "--config", config]);
    assert!(ok, "join-url: {out}{err}");
    let url: Value = serde_json::from_str(out.trim()).unwrap();
    let url = url["join_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.contains("/lobby?public_key="), "{url}");

    let alice = User::new(dir.join("alice"), network);
    let bob = User::new(dir.join("bob"), network);
    for u in [&alice, &bob] {
        let joined = u.json(&["community", "join", &url]);
        assert!(joined.to_string().contains("lobby"), "{joined}");
    }
    alice.json(&["community", "post", "lobby", "hello from alice"]);
    bob.json(&["community", "post", "lobby", "hi alice, bob here"]);
    for u in [&alice, &bob] {
        let msgs = u.json(&["community", "read", "lobby"]);
        let bodies: Vec<&str> = msgs
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "valid")
            .filter_map(|m| m["body"].as_str())
            .collect();
        assert!(bodies.contains(&"hello from alice"), "{msgs}");
        assert!(bodies.contains(&"hi alice, bob here"), "{msgs}");
    }
    let (ok, out, err) = run(&["--json", "sogs", "rooms", "--config", config]);
    assert!(ok, "sogs rooms: {out}{err}");
    assert!(out.contains("lobby"), "{out}");
}
