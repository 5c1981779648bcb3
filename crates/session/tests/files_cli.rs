#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

//! `session files …` end to end with the real binary: init, a running server (uploads,
//! downloads, `/session_version`, the printed `[file_server]` table as clients parse
//! it), the database commands while it runs, SIGTERM, clear errors; and the file server
//! of `session devnet` (`file_server_runs_in_the_devnet`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use session_rt::http::{HttpConnection, HttpReply};
use support::{Running, command, fails, json, ok};

mod support;

/// One HTTP request to `addr` over a fresh connection.
fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> HttpReply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = HttpConnection::connect(addr, false).await.unwrap();
        c.request(method, path, &[], body.to_vec()).await.unwrap()
    })
}

fn json_of(r: &HttpReply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// The `[file_server]` table as a client's network.toml parser reads it: (url, key).
fn client_file_server(table: &str) -> (String, [u8; 32]) {
    let text =
        format!("network = \"test\"\nregistry_urls = [\"http://127.0.0.1:1/json_rpc\"]\n{table}");
    let cfg = session_client::NetworkConfig::parse(&text, "network.toml")
        .unwrap_or_else(|e| panic!("clients refuse the table: {e}\n{table}"));
    let fs = cfg.file_server.expect("a [file_server] table");
    let (_, key) = fs.parse().unwrap();
    (fs.url, key)
}

fn init(dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let cfg = dir.join("files.toml");
    let mut args = vec!["files", "init", "--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = ok(&args);
    let pubkey = out
        .lines()
        .find_map(|l| l.strip_prefix("Server public key (X25519): "))
        .unwrap_or_else(|| panic!("no public key in:\n{out}"))
        .to_owned();
    assert!(out.contains("session files run"), "{out}");
    (cfg, pubkey)
}

#[test]
fn init_writes_a_config_and_a_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, pubkey) = init(
        dir.path(),
        &[
            "--public-url",
            "https://files.test.example",
            "--listen",
            "0.0.0.0:8080",
            "--data-dir",
            "store",
        ],
    );
    assert_eq!(pubkey.len(), 64);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("public_url = \"https://files.test.example\"")
            && text.contains("listen = \"0.0.0.0:8080\"")
            && text.contains("data_dir = \"store\""),
        "{text}"
    );
    // What init writes is what the server reads.
    let config = session_files::FilesConfig::load(&cfg).unwrap();
    assert_eq!(config.data_dir(), dir.path().join("store"));
    let key = dir.path().join("store").join("key_x25519");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }
    assert!(dir.path().join("store").join("files.db").exists());

    // The printed table is what clients parse.
    let out = ok(&["files", "init", "--config", cfg.to_str().unwrap()]);
    assert!(out.contains("exists; left as it is"), "{out}");
    let table: String = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("# The file server"))
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let (url, key_bytes) = client_file_server(&table);
    assert_eq!(url, "https://files.test.example");
    assert_eq!(hex::encode(key_bytes), pubkey);

    // Again with --json: the key is kept.
    let v = json(&["files", "init", "--config", cfg.to_str().unwrap()]);
    assert_eq!(v["public_key"], pubkey.as_str());
    assert_eq!(v["key_created"], false);
    assert_eq!(v["config_created"], false);
    assert_eq!(v["url"], "https://files.test.example");

    // Options with an existing file are refused; a bad URL is refused.
    let err = fails(&[
        "files",
        "init",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:1",
    ]);
    assert!(err.contains("exists already"), "{err}");
    let other = dir.path().join("other.toml");
    let err = fails(&[
        "files",
        "init",
        "--config",
        other.to_str().unwrap(),
        "--public-url",
        "https://x.example/files",
    ]);
    assert!(err.contains("--public-url"), "{err}");
    assert!(!other.exists());
}

#[test]
fn a_running_server_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("files.toml");
    std::fs::write(
        &cfg,
        "backwards_compat_ids = false\nmax_ttl = \"30d\"\n\
         [session_version.android]\nversion = \"1.27.1\"\nname = \"Session 1.27.1\"\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let mut server = Running::spawn(
        command(&[
            "files",
            "run",
            "--config",
            c,
            "--listen",
            "127.0.0.1:0",
            "--log",
            "warn",
        ]),
        "child",
    );
    let first = server.until(
        "session files listening on http://",
        Duration::from_secs(30),
    );
    let addr: SocketAddr = first
        .last()
        .unwrap()
        .strip_prefix("session files listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let rest = server.drain(Duration::from_millis(500));
    let pubkey = rest
        .iter()
        .find_map(|l| l.strip_prefix("server public key: "))
        .unwrap_or_else(|| panic!("no key line: {rest:?}"))
        .to_owned();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("created a new server key")),
        "{rest:?}"
    );
    let table: String = rest
        .iter()
        .skip_while(|l| !l.starts_with("# The file server"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (url, key) = client_file_server(&table);
    assert_eq!(url, format!("http://{addr}"));
    assert_eq!(hex::encode(key), pubkey);

    // Upload (content id: identical bytes once), download, info, TTL, extend.
    let r = call(addr, "POST", "/file", b"attachment ciphertext");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = json_of(&r)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        session_crypto::attachments::file_server_content_id(b"attachment ciphertext")
    );
    assert_eq!(
        json_of(&call(addr, "POST", "/file", b"attachment ciphertext"))["id"],
        id.as_str()
    );
    let r = call(addr, "GET", &format!("/file/{id}"), b"");
    assert_eq!(&r.body[..], b"attachment ciphertext");
    let r = call(addr, "POST", &format!("/file/{id}/extend"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(addr, "GET", "/file/12345", b"").status, 404);

    // /session_version: configured, not configured, unknown.
    let r = call(addr, "GET", "/session_version?platform=android", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(
        (v["result"].as_str(), v["name"].as_str()),
        (Some("1.27.1"), Some("Session 1.27.1"))
    );
    assert_eq!(
        call(addr, "GET", "/session_version?platform=ios", b"").status,
        502
    );
    assert_eq!(
        call(addr, "GET", "/session_version?platform=tv", b"").status,
        404
    );

    // The database commands work while it runs.
    let info = json(&["files", "info", &id, "--config", c]);
    assert_eq!(info["size"], 21);
    assert!(info["path"].as_str().unwrap().ends_with(&id), "{info}");
    let text = ok(&[
        "files",
        "info",
        &format!("http://{addr}/file/{id}"),
        "--config",
        c,
    ]);
    assert!(text.contains("21 bytes"), "{text}");
    let err = fails(&[
        "files",
        "info",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "--config",
        c,
    ]);
    assert!(err.contains("no file"), "{err}");
    let err = fails(&["files", "info", "../files.db", "--config", c]);
    assert!(err.contains("not a file id"), "{err}");
    let stats = json(&["files", "stats", "--config", c]);
    assert_eq!(
        (stats["files"].as_u64(), stats["bytes"].as_u64()),
        (Some(1), Some(21))
    );
    assert_eq!(json(&["files", "purge", "--config", c])["purged"], 0);

    // SIGTERM stops it cleanly.
    #[cfg(unix)]
    {
        server.signal(nix::sys::signal::Signal::SIGTERM);
        let status = server.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{status:?}");
    }
    // Restarted: same key, same files.
    let mut again = Running::spawn(
        command(&[
            "--json",
            "files",
            "run",
            "--config",
            c,
            "--listen",
            "127.0.0.1:0",
        ]),
        "child",
    );
    let line = again.until("{", Duration::from_secs(30));
    let v: Value = serde_json::from_str(line.last().unwrap()).unwrap();
    assert_eq!(v["public_key"], pubkey.as_str());
    assert_eq!(v["key_created"], false);
    let addr: SocketAddr = v["listening"]
        .as_str()
        .unwrap()
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        &call(addr, "GET", &format!("/file/{id}"), b"").body[..],
        b"attachment ciphertext"
    );
}

#[test]
fn mistakes_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let m = missing.to_str().unwrap();
    for cmd in ["run", "stats", "purge"] {
        let err = fails(&["files", cmd, "--config", m]);
        assert!(
            err.contains("nope.toml") && err.contains("session files init"),
            "{cmd}: {err}"
        );
    }
    let cfg = dir.path().join("files.toml");
    std::fs::write(&cfg, "max_file_sise = 5\n").unwrap();
    let err = fails(&["files", "stats", "--config", cfg.to_str().unwrap()]);
    assert!(
        err.contains("max_file_sise") && err.contains("files.toml"),
        "{err}"
    );
    std::fs::write(&cfg, "file_expiry = \"3 fortnights\"\n").unwrap();
    let err = fails(&["files", "run", "--config", cfg.to_str().unwrap()]);
    assert!(err.contains("fortnights"), "{err}");
    // A busy port.
    let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = busy.local_addr().unwrap().port();
    std::fs::write(&cfg, "").unwrap();
    let listen = format!("127.0.0.1:{port}");
    let err = fails(&[
        "files",
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    assert!(err.contains(&listen), "{err}");
    // Help names every command.
    let help = ok(&["files", "--help"]);
    for cmd in ["init", "run", "info", "stats", "purge"] {
        assert!(help.contains(cmd), "{help}");
    }
}

// ---- the devnet's file server -------------------------------------------------------

/// `session devnet` runs a file server as a supervised child: it is in network.toml (as
/// clients parse it), reachable over plain HTTP on base−1, stores under
/// DIR/files/data, shows in `status`, and stops with the devnet.
#[cfg(unix)]
#[test]
fn file_server_runs_in_the_devnet() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn");
    let base = support::free_base_port(20_000, 1);
    let mut dn = Running::spawn(
        command(&[
            "devnet",
            "--nodes",
            "1",
            "--timeout",
            "60",
            "--base-port",
            &base.to_string(),
            "--dir",
            dir.to_str().unwrap(),
        ]),
        "child",
    );
    dn.until("swarms formed", Duration::from_secs(60));
    let summary = dn.until("file server: ", Duration::from_secs(10));
    assert!(
        summary
            .last()
            .unwrap()
            .starts_with(&format!("file server: http://127.0.0.1:{}", base - 1)),
        "{summary:?}"
    );

    let net = std::fs::read_to_string(dir.join("network.toml")).unwrap();
    let cfg = session_client::NetworkConfig::parse(&net, "network.toml").unwrap();
    let fs = cfg.file_server.expect("[file_server] in network.toml");
    assert_eq!(fs.url, format!("http://127.0.0.1:{}", base - 1));
    let (_, key) = fs.parse().unwrap();
    let files_toml = dir.join("files/files.toml");
    let config = session_files::FilesConfig::load(&files_toml).unwrap();
    let (own_key, created) = session_files::load_or_create_key(&config.key_path()).unwrap();
    assert!(!created);
    assert_eq!(&key, own_key.public());

    let addr: SocketAddr = format!("127.0.0.1:{}", base - 1).parse().unwrap();
    let r = call(addr, "POST", "/file", b"devnet attachment");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = json_of(&r)["id"].as_str().unwrap().to_owned();
    let r = call(addr, "GET", &format!("/file/{id}"), b"");
    assert_eq!(&r.body[..], b"devnet attachment");
    let stored = dir
        .join("files/data/files")
        .join(format!("{:03}", id.parse::<u64>().unwrap() % 1000))
        .join(&id);
    assert_eq!(std::fs::read(stored).unwrap(), b"devnet attachment");
    let stats = json(&["files", "stats", "--config", files_toml.to_str().unwrap()]);
    assert_eq!(stats["files"], 1);

    let st = json(&["devnet", "status", "--dir", dir.to_str().unwrap()]);
    assert_eq!(st["file_server_url"], fs.url.as_str());
    let pid: i32 = std::fs::read_to_string(dir.join("files/pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    dn.signal(nix::sys::signal::Signal::SIGINT);
    let status = dn.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    assert!(!dir.join("files/pid").exists());
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
        "the file server outlived the devnet"
    );
}
