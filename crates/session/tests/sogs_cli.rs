#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

//! `session sogs …` end to end with the real binary: init, the admin commands on the
//! database, and a running server's API and web pages.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::{Running, command, fails, json, ok};

mod support;

/// A parsed join URL: `http(s)://host[:port]/token?public_key=<64 lowercase hex>`, checked
/// against the client library's parser too.
#[derive(Debug, PartialEq)]
struct JoinUrl {
    base: String,
    token: String,
    pubkey: String,
}

fn parse_join_url(url: &str) -> JoinUrl {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("not http(s): {url}"));
    let (host, path) = rest.split_once('/').expect("path");
    assert!(!host.is_empty(), "{url}");
    let (token, query) = path.split_once('?').expect("query");
    assert!(
        !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{url}"
    );
    let pubkey = query.strip_prefix("public_key=").expect("public_key");
    assert_eq!(pubkey.len(), 64, "{url}");
    assert!(
        pubkey
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{url}"
    );
    // And as Session clients parse it (libsession's rules, in session-client).
    let client = session_client::community::parse_join_url(url)
        .unwrap_or_else(|e| panic!("Session clients would refuse {url}: {e}"));
    assert_eq!(client.room, token.to_lowercase(), "{url}");
    assert_eq!(hex::encode(client.pubkey), pubkey, "{url}");
    JoinUrl {
        base: url[..url.len() - path.len() - 1].to_owned(),
        token: token.to_owned(),
        pubkey: pubkey.to_owned(),
    }
}

/// The join URLs in a text (whitespace-separated words starting with http).
fn join_urls_in(text: &str) -> Vec<JoinUrl> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http") && w.contains("?public_key="))
        .map(parse_join_url)
        .collect()
}

fn init(dir: &Path, base_url: &str) -> (PathBuf, String) {
    let cfg = dir.join("sogs.toml");
    let c = cfg.to_str().unwrap();
    let out = ok(&["sogs", "init", "--config", c, "--base-url", base_url]);
    let pubkey = out
        .lines()
        .find_map(|l| l.strip_prefix("Server public key: "))
        .unwrap_or_else(|| panic!("no public key in:\n{out}"))
        .to_owned();
    assert!(out.contains("session sogs add-room"), "{out}");
    assert!(out.contains("session sogs run"), "{out}");
    (cfg, pubkey)
}

fn sid(prefix: &str, fill: &str) -> String {
    format!("{prefix}{}", fill.repeat(32))
}

#[test]
fn init_writes_a_config_and_a_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, pubkey) = init(dir.path(), "http://sogs.test.example:8080");
    assert_eq!(pubkey.len(), 64);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("base_url = \"http://sogs.test.example:8080\""),
        "{text}"
    );
    let key = dir.path().join("sogs-data").join("key_x25519");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }
    // A second init keeps the file and the key.
    let c = cfg.to_str().unwrap();
    let again = json(&["sogs", "init", "--config", c]);
    assert_eq!(again["config_created"], false);
    assert_eq!(again["key_created"], false);
    assert_eq!(again["public_key"], pubkey.as_str());
    // …but refuses to "change" it with flags.
    let err = fails(&["sogs", "init", "--config", c, "--listen", "0.0.0.0:80"]);
    assert!(err.contains("exists already"), "{err}");
    // A bad base URL is refused before anything is written.
    let other = dir.path().join("other.toml");
    let err = fails(&[
        "sogs",
        "init",
        "--config",
        other.to_str().unwrap(),
        "--base-url",
        "sogs.example.org",
    ]);
    assert!(err.contains("http://"), "{err}");
    assert!(!other.exists());
}

#[test]
fn admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, pubkey) = init(dir.path(), "http://sogs.test.example:8080");
    let c = cfg.to_str().unwrap();

    // add-room prints the room, its join URL and a QR code.
    let out = ok(&[
        "sogs",
        "add-room",
        "lobby",
        "--name",
        "The Lobby",
        "--description",
        r"First line\nsecond line",
        "--config",
        c,
    ]);
    let urls = join_urls_in(&out);
    assert_eq!(
        urls,
        vec![JoinUrl {
            base: "http://sogs.test.example:8080".into(),
            token: "lobby".into(),
            pubkey: pubkey.clone(),
        }],
        "{out}"
    );
    assert!(out.contains("The Lobby"), "{out}");
    assert!(out.contains('█') || out.contains('▀'), "QR code: {out}");
    let news = json(&["sogs", "add-room", "news", "--perms", "ra", "--config", c]);
    assert_eq!(news["token"], "news");
    assert_eq!(news["name"], "news");
    assert_eq!(news["default_permissions"]["write"], false);
    assert_eq!(
        parse_join_url(news["join_url"].as_str().unwrap()).token,
        "news"
    );

    // Bad input says what to fix.
    let err = fails(&["sogs", "add-room", "LOBBY", "--config", c]);
    assert!(err.contains("exists already"), "{err}");
    let err = fails(&["sogs", "add-room", "bad token!", "--config", c]);
    assert!(err.contains("not allowed"), "{err}");
    let err = fails(&["sogs", "add-room", "x", "--perms", "rwz", "--config", c]);
    assert!(err.contains("rwua"), "{err}");
    let err = fails(&["sogs", "update-room", "nope", "--name", "x", "--config", c]);
    assert!(err.contains("no room") && err.contains("nope"), "{err}");
    let err = fails(&["sogs", "update-room", "lobby", "--config", c]);
    assert!(err.contains("nothing to change"), "{err}");

    // rooms: table and JSON.
    let table = ok(&["sogs", "rooms", "--config", c]);
    assert!(
        table.contains("TOKEN") && table.contains("lobby"),
        "{table}"
    );
    assert!(
        table.contains("The Lobby") && table.contains("news"),
        "{table}"
    );
    let verbose = ok(&["sogs", "rooms", "-v", "--config", c]);
    assert!(verbose.contains("second line"), "{verbose}");
    assert_eq!(join_urls_in(&verbose).len(), 2, "{verbose}");
    let rooms = json(&["sogs", "rooms", "--config", c]);
    let list = rooms["rooms"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["token"], "lobby");
    assert_eq!(list[0]["description"], "First line\nsecond line");

    // update-room.
    let upd = json(&[
        "sogs",
        "update-room",
        "news",
        "--name",
        "News",
        "--add-perms",
        "w",
        "--config",
        c,
    ]);
    assert_eq!(upd["name"], "News");
    assert_eq!(upd["default_permissions"]["write"], true);

    // Moderators: a Session ID (mapped to its blinded ids) as room admin, a blinded id
    // as hidden global moderator.
    let alice = session_crypto::AccountKeys::generate()
        .unwrap()
        .session_id()
        .to_hex();
    let bob = sid("15", "cd");
    let out = ok(&[
        "sogs",
        "add-moderators",
        &alice,
        "--rooms",
        "lobby",
        "--admin",
        "--config",
        c,
    ]);
    assert!(out.contains("admin of room lobby"), "{out}");
    ok(&[
        "sogs",
        "add-moderators",
        &bob,
        "--rooms",
        "+",
        "--config",
        c,
    ]);
    let mods = json(&["sogs", "moderators", "--config", c]);
    let global = mods["global"].as_array().unwrap();
    assert_eq!(global.len(), 1, "{mods}");
    assert_eq!(global[0]["session_id"], bob.as_str());
    assert_eq!(global[0]["visible"], false);
    let lobby = mods["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["token"] == "lobby")
        .unwrap();
    let lobby_mods = lobby["moderators"].as_array().unwrap();
    assert_eq!(
        lobby_mods.len(),
        2,
        "both blinded candidates of a 05 id: {mods}"
    );
    for m in lobby_mods {
        assert!(m["session_id"].as_str().unwrap().starts_with("15"));
        assert_eq!(m["admin"], true);
        assert_eq!(m["visible"], true);
    }
    let text = ok(&["sogs", "moderators", "--config", c]);
    assert!(text.contains(&bob) && text.contains("admin"), "{text}");
    ok(&[
        "sogs",
        "remove-moderators",
        &alice,
        "--rooms",
        "*",
        "--config",
        c,
    ]);
    ok(&[
        "sogs",
        "remove-moderators",
        &bob,
        "--rooms",
        "+",
        "--config",
        c,
    ]);
    let mods = json(&["sogs", "moderators", "--config", c]);
    assert!(mods["global"].as_array().unwrap().is_empty(), "{mods}");
    assert!(
        mods["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["moderators"].as_array().unwrap().is_empty()),
        "{mods}"
    );
    let err = fails(&[
        "sogs",
        "add-moderators",
        "99abc",
        "--rooms",
        "lobby",
        "--config",
        c,
    ]);
    assert!(err.contains("not a user id"), "{err}");
    let err = fails(&[
        "sogs",
        "add-moderators",
        &bob,
        "--rooms",
        "lobby",
        "*",
        "--config",
        c,
    ]);
    assert!(err.contains("stand alone"), "{err}");
    // 05 + 64 hex that is no curve point.
    let err = fails(&[
        "sogs",
        "add-moderators",
        &sid("05", "ab"),
        "--rooms",
        "lobby",
        "--config",
        c,
    ]);
    assert!(err.contains("not a valid Session ID"), "{err}");

    // Bans: timed room ban listed with its end, then lifted; a global ban.
    let carol = sid("15", "ef");
    let out = ok(&[
        "sogs",
        "ban",
        &carol,
        "--rooms",
        "lobby",
        "--timeout",
        "3600",
        "--config",
        c,
    ]);
    assert!(out.contains("Banned") && out.contains("until"), "{out}");
    let bans = json(&["sogs", "bans", "--config", c]);
    let list = bans["bans"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{bans}");
    assert_eq!(list[0]["room"], "lobby");
    assert_eq!(list[0]["session_id"], carol.as_str());
    assert!(list[0]["until"].as_f64().is_some(), "{bans}");
    ok(&["sogs", "unban", &carol, "--rooms", "lobby", "--config", c]);
    let bans = json(&["sogs", "bans", "--config", c]);
    assert!(bans["bans"].as_array().unwrap().is_empty(), "{bans}");
    ok(&["sogs", "ban", &carol, "--global", "--config", c]);
    ok(&["sogs", "unban", &carol, "--rooms", "+", "--config", c]);
    let err = fails(&["sogs", "ban", &carol, "--config", c]);
    assert!(err.contains("--rooms") || err.contains("--global"), "{err}");
    let err = fails(&[
        "sogs",
        "ban",
        &carol,
        "--global",
        "--timeout",
        "-5",
        "--config",
        c,
    ]);
    assert!(err.contains("timeout"), "{err}");

    // Per-user and default permissions.
    let p = json(&[
        "sogs",
        "perms",
        "--rooms",
        "lobby",
        "--users",
        &carol,
        "--remove-perms",
        "w",
        "--config",
        c,
    ]);
    assert_eq!(p["changes"][0]["overrides"]["write"], false, "{p}");
    let shown = json(&["sogs", "perms", "--rooms", "lobby", "--config", c]);
    assert_eq!(shown["rooms"][0]["users"][0]["session_id"], carol.as_str());
    let p = json(&[
        "sogs",
        "perms",
        "--rooms",
        "*",
        "--remove-perms",
        "u",
        "--config",
        c,
    ]);
    assert!(
        p["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["default_permissions"]["upload"] == false),
        "{p}"
    );

    // delete-room refuses without a terminal or --yes.
    let err = fails(&["sogs", "delete-room", "news", "--config", c]);
    assert!(err.contains("--yes"), "{err}");
    ok(&["sogs", "delete-room", "news", "--yes", "--config", c]);
    let rooms = json(&["sogs", "rooms", "--config", c]);
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 1);

    // join-url.
    let url = ok(&["sogs", "join-url", "lobby", "--no-qr", "--config", c]);
    assert_eq!(parse_join_url(url.trim()).pubkey, pubkey);
}

#[test]
fn configuration_errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let err = fails(&["sogs", "rooms", "--config", missing.to_str().unwrap()]);
    assert!(err.contains("session sogs init"), "{err}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "base_ulr = \"http://a.example\"\n").unwrap();
    let err = fails(&["sogs", "rooms", "--config", bad.to_str().unwrap()]);
    assert!(err.contains("base_ulr"), "{err}");
    std::fs::write(&bad, "[files]\nexpiry = -3\n").unwrap();
    let err = fails(&["sogs", "run", "--config", bad.to_str().unwrap()]);
    assert!(err.contains("files.expiry"), "{err}");
    // A key file of the wrong size is refused, not replaced.
    let cfg = dir.path().join("sogs.toml");
    std::fs::write(&cfg, "data_dir = \"d\"\n").unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d").join("key_x25519"), b"short").unwrap();
    let err = fails(&["sogs", "rooms", "--config", cfg.to_str().unwrap()]);
    assert!(err.contains("32 raw bytes"), "{err}");
    // --help documents the commands.
    let help = ok(&["sogs", "--help"]);
    for cmd in [
        "init",
        "run",
        "add-room",
        "rooms",
        "delete-room",
        "add-moderators",
        "ban",
        "unban",
        "perms",
    ] {
        assert!(help.contains(cmd), "{cmd}: {help}");
    }
    let help = ok(&["sogs", "add-moderators", "--help"]);
    assert!(help.contains("'+'") && help.contains("--admin"), "{help}");
}

// ---- a running server ----

/// A `session sogs run` child (killed on drop), its address and its first lines.
struct Server {
    run: Running,
    addr: SocketAddr,
    lines: Vec<String>,
}

fn start_server(cfg: &Path) -> Server {
    let mut run = Running::spawn(
        command(&[
            "sogs",
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--log",
            "warn",
        ]),
        "sogs",
    );
    // The first line has the address; the room lines follow at once.
    let prefix = "session sogs listening on http://";
    let mut lines = run.until(prefix, Duration::from_secs(30));
    let addr = lines
        .last()
        .and_then(|l| l.strip_prefix(prefix))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address announced: {lines:?}"));
    lines.extend(run.drain(Duration::from_millis(200)));
    Server { run, addr, lines }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain HTTP/1.1 GET (`Connection: close`, body read to the end).
fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[test]
fn running_server_serves_the_api_and_the_web_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, pubkey) = init(dir.path(), "http://sogs.test.example:8080");
    let c = cfg.to_str().unwrap();
    ok(&[
        "sogs",
        "add-room",
        "lobby",
        "--name",
        "Lobby <&> \"quoted\"",
        "--description",
        "Say hello",
        "--config",
        c,
    ]);
    ok(&["sogs", "add-room", "secret", "--perms", "a", "--config", c]);

    let server = start_server(&cfg);
    let out = server.lines.join("\n");
    assert!(out.contains(&pubkey), "{out}");
    let urls = join_urls_in(&out);
    assert_eq!(urls.len(), 2, "{out}");
    assert!(urls.iter().all(|u| u.pubkey == pubkey), "{out}");

    // The API is there.
    let caps = get(server.addr, "/capabilities");
    assert_eq!(caps.status, 200);
    let caps: Value = serde_json::from_slice(&caps.body).unwrap();
    assert!(
        caps["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "sogs"),
        "{caps}"
    );

    // The index lists public rooms only, escaped.
    let index = get(server.addr, "/");
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = index.text();
    assert!(
        html.contains("Lobby &lt;&amp;&gt; &quot;quoted&quot;"),
        "{html}"
    );
    assert!(html.contains("href=\"/r/lobby/\""), "{html}");
    assert!(!html.contains("/r/secret/"), "{html}");

    // The room page: redirect, join URL, inline QR code.
    let redirect = get(server.addr, "/r/lobby");
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("/r/lobby/"));
    let page = get(server.addr, "/r/lobby/");
    assert_eq!(page.status, 200);
    let html = page.text();
    let url = format!("http://sogs.test.example:8080/lobby?public_key={pubkey}");
    assert!(html.contains(&format!(">{url}</pre>")), "{html}");
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("Say hello"), "{html}");
    assert_eq!(get(server.addr, "/r/secret/").status, 403);
    assert_eq!(get(server.addr, "/r/nope/").status, 404);

    // The PNG QR code is 512×512.
    let png = get(server.addr, "/r/lobby/invite.png");
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png.body[12..16], b"IHDR");
    let width = u32::from_be_bytes(png.body[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png.body[20..24].try_into().unwrap());
    assert_eq!((width, height), (512, 512));

    // Admin commands work while the server runs; it sees the change at once.
    ok(&[
        "sogs",
        "add-room",
        "later",
        "--name",
        "Added Later",
        "--config",
        c,
    ]);
    assert!(get(server.addr, "/").text().contains("Added Later"));
    let rooms: Value = serde_json::from_slice(&get(server.addr, "/rooms").body).unwrap();
    assert_eq!(rooms.as_array().unwrap().len(), 3, "{rooms}");

    // SIGTERM stops it cleanly.
    #[cfg(unix)]
    {
        let mut server = server;
        server.run.signal(nix::sys::signal::Signal::SIGTERM);
        let status = server.run.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn index_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sogs.toml");
    std::fs::write(&cfg, "[web]\nshow_index = false\nshow_recent = false\n").unwrap();
    let c = cfg.to_str().unwrap();
    ok(&["sogs", "add-room", "lobby", "--config", c]);
    let server = start_server(&cfg);
    assert_eq!(get(server.addr, "/").status, 403);
    let page = get(server.addr, "/r/lobby/");
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("Recent messages"));
    // Without base_url, join URLs use the bound address.
    let base = format!("http://{}/lobby?public_key=", server.addr);
    assert!(page.text().contains(&base), "{}", page.text());
}

#[test]
fn empty_server_front_page_says_how_to_add_a_room() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = init(dir.path(), "http://sogs.test.example");
    let server = start_server(&cfg);
    let html = get(server.addr, "/").text();
    assert!(html.contains("no rooms yet"), "{html}");
    assert!(html.contains("session sogs add-room"), "{html}");
    assert!(
        server.lines.iter().any(|l| l.contains("no rooms yet")),
        "{:?}",
        server.lines
    );
}
