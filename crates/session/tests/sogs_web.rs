#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

//! The community server's web pages in a real browser: headless Chromium renders the
//! room directory and a room page; the DOM must show the rooms and join URLs, and the
//! screenshot must be a full-size, non-blank picture.
//!
//! Needs `SESSION_TEST_CHROMIUM` (the browser binary; `scripts/test` sets it from
//! `scripts/chromium`); skipped with a message otherwise. Set
//! `SESSION_TEST_SCREENSHOT_DIR` to keep the screenshots.

use std::io::BufReader;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Running, command, ok};

mod support;

/// A `session sogs run` child (killed on drop) and its address.
struct Server {
    _run: Running,
    addr: SocketAddr,
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
    let prefix = "session sogs listening on http://";
    let first = run.wait_for(prefix, Duration::from_secs(30));
    let addr = first
        .strip_prefix(prefix)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {first:?}"));
    Server { _run: run, addr }
}

/// Posts two messages to the lobby directly in the database, as clients would send
/// them (padded `Content` protobuf).
fn post_messages(data_dir: &Path) {
    use session_sogs::store::{NewPost, Retention, SogsStore, SqliteStore};
    use session_wire::proto::session::{Content, DataMessage, LokiProfile};
    let store = SqliteStore::open(data_dir, Retention::default()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (i, (name, text)) in [
        ("Alice", "Welcome to the <lobby>!"),
        ("Bob", "Hi Alice. Nice QR code."),
    ]
    .into_iter()
    .enumerate()
    {
        let author = session_crypto::AccountId::new(
            session_crypto::IdPrefix::Blinded15,
            [u8::try_from(i).unwrap() + 1; 32],
        );
        store.ensure_user(&author, now).unwrap();
        let content = Content {
            data_message: Some(DataMessage {
                body: Some(text.into()),
                profile: Some(LokiProfile {
                    display_name: Some(name.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut data = session_wire::message::encode_content(&content);
        data.push(0x80);
        data.resize(data.len().div_ceil(160) * 160, 0);
        store
            .post_message(
                "lobby",
                &NewPost {
                    author,
                    data,
                    signature: [0; 64],
                    whisper_to: None,
                    whisper_mods: false,
                    files: Vec::new(),
                    filtered: false,
                },
                now + f64::from(u8::try_from(i).unwrap()),
            )
            .unwrap();
    }
}

/// Runs Chromium headless with `extra` arguments on `url`; returns its stdout.
fn chromium(browser: &str, profile: &Path, extra: &[String], url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {browser}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within 90 s: {}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap();
    assert!(
        status.success(),
        "chromium failed ({status:?}): {}",
        err.join().unwrap()
    );
    stdout
}

/// Decodes a PNG into (width, height, RGB pixels).
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap();
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let data = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let pixels = data
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (info.width, info.height, pixels)
}

fn check_screenshot(path: &Path, what: &str) -> (u32, u32) {
    assert!(path.exists(), "{what}: no screenshot written");
    let (w, h, pixels) = decode_png(path);
    assert_eq!((w, h), (1024, 768), "{what}: screenshot size");
    // Not blank: several colours, and a good share of pixels differ from the most
    // common one (the background).
    let mut counts = std::collections::HashMap::new();
    for p in &pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let background = counts.values().max().copied().unwrap_or(0);
    let other = pixels.len() - background;
    assert!(counts.len() > 8, "{what}: only {} colours", counts.len());
    assert!(
        other * 100 > pixels.len(),
        "{what}: only {other} of {} pixels differ from the background",
        pixels.len()
    );
    (w, h)
}

#[test]
fn front_page_renders_in_chromium() {
    let Ok(browser) = std::env::var("SESSION_TEST_CHROMIUM") else {
        eprintln!(
            "skipped: SESSION_TEST_CHROMIUM is not set (scripts/test sets it from \
             scripts/chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sogs.toml");
    let c = cfg.to_str().unwrap();
    ok(&[
        "sogs",
        "init",
        "--config",
        c,
        "--base-url",
        "https://sogs.example.org",
    ]);
    ok(&[
        "sogs",
        "add-room",
        "lobby",
        "--name",
        "The Lobby",
        "--description",
        r"Say hello & meet <everyone>.\nBe kind.",
        "--config",
        c,
    ]);
    ok(&[
        "sogs",
        "add-room",
        "rust-dev",
        "--name",
        "Rust Developers",
        "--description",
        "Building Session in Rust",
        "--config",
        c,
    ]);
    let pubkey = ok(&["--json", "sogs", "init", "--config", c]);
    let pubkey: serde_json::Value = serde_json::from_str(pubkey.trim()).unwrap();
    let pubkey = pubkey["public_key"].as_str().unwrap().to_owned();
    post_messages(&dir.path().join("sogs-data"));
    let server = start_server(&cfg);
    let base = format!("http://{}", server.addr);

    let keep = std::env::var_os("SESSION_TEST_SCREENSHOT_DIR").map(std::path::PathBuf::from);
    for (page, name, expect) in [
        (
            "/",
            "index",
            vec![
                "The Lobby".to_owned(),
                "Rust Developers".to_owned(),
                "Say hello &amp; meet &lt;everyone&gt;.".to_owned(),
                "href=\"/r/rust-dev/\"".to_owned(),
            ],
        ),
        (
            "/r/lobby/",
            "room",
            vec![
                "The Lobby".to_owned(),
                format!("https://sogs.example.org/lobby?public_key={pubkey}"),
                "<svg".to_owned(),
                "invite.png".to_owned(),
                "Recent messages".to_owned(),
                "Alice".to_owned(),
                "Welcome to the &lt;lobby&gt;!".to_owned(),
            ],
        ),
    ] {
        let url = format!("{base}{page}");
        let profile = dir.path().join(format!("profile-{name}"));
        let dom = chromium(&browser, &profile, &["--dump-dom".to_owned()], &url);
        for e in &expect {
            assert!(dom.contains(e.as_str()), "{page}: {e:?} not in DOM:\n{dom}");
        }
        let shot = dir.path().join(format!("{name}.png"));
        chromium(
            &browser,
            &profile,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1024,768".to_owned(),
            ],
            &url,
        );
        check_screenshot(&shot, page);
        if let Some(keep) = &keep {
            std::fs::create_dir_all(keep).unwrap();
            std::fs::copy(&shot, keep.join(format!("{name}.png"))).unwrap();
        }
    }
}
