//! The `files` scenario: attachment uploads and downloads to a file server, through
//! a 3-hop onion path next to a direct HTTP exchange measured in the same run.
//!
//! An in-process network (registry and `--nodes` nodes over plain HTTP on loopback,
//! its mock clock following real time) and an in-process file server (SQLite metadata,
//! blobs on disk in a temp dir) share this process with one client. For each size in
//! `--sizes`, the file is encrypted once (streaming format, as `session send --file`
//! does) and then, `--rounds` times per route, uploaded (`POST /file`) and downloaded
//! (`GET /file/<id>`, checked and decrypted). One JSON line per measurement:
//!
//! * `{"bench":"files","op":"encrypt"|"decrypt","size":…,"mb_per_s":…}` — the client's
//!   own crypto, for scale;
//! * `{"bench":"files","op":"upload"|"download","route":"direct"|"onion","size":…,
//!   "mb_per_s":…,"p50_ms":…,"max_ms":…}` — `mb_per_s` is the size (of the encrypted
//!   blob for uploads, of the plaintext for downloads, which includes decryption) over
//!   the median round time, in 10^6 bytes per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use session_client::attachments::{Attachment, FileServerClient, crypt, max_file_size};
use session_client::community::{Route, ServerUrl};
use session_client::{NetworkConfig, OnionClient};
use session_crypto::X25519Keypair;
use session_files::{FileServer, FileSettings, FileStore};
use session_testkit::TestNetwork;

use crate::measure::round1;

/// Options of the `files` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Nodes of the in-process network (at least 9: swarms need enough members).
    #[arg(long, default_value_t = 9)]
    nodes: usize,
    /// File sizes in bytes, comma-separated (`max` = the largest attachment).
    #[arg(long, value_delimiter = ',', default_value = "1048576,max")]
    sizes: Vec<String>,
    /// Uploads and downloads per size and route.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

fn parse_size(text: &str) -> anyhow::Result<usize> {
    if text == "max" {
        return Ok(max_file_size());
    }
    let n: usize = text
        .parse()
        .with_context(|| format!("--sizes: {text:?} is not a number of bytes or `max`"))?;
    anyhow::ensure!(
        n <= max_file_size(),
        "--sizes: {n} is over the largest attachment ({} bytes)",
        max_file_size()
    );
    Ok(n)
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let sizes = args
        .sizes
        .iter()
        .map(|s| parse_size(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(&args, &sizes))
}

fn median_and_max(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() - 1])
}

fn mb_per_s(bytes: usize, ms: f64) -> f64 {
    round1(bytes as f64 / 1e6 / (ms / 1000.0))
}

async fn bench(args: &Args, sizes: &[usize]) -> anyhow::Result<()> {
    let net = TestNetwork::start(args.nodes).await?;
    let clock = net.clock().clone();
    let (t0, start) = (net.now_ms(), Instant::now());
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            clock.set_ms(t0.saturating_add(elapsed));
        }
    });

    let dir = tempfile::tempdir()?;
    let store = Arc::new(FileStore::open(dir.path())?);
    let keypair = Arc::new(X25519Keypair::generate()?);
    let key = *keypair.public();
    let state = FileServer::new(
        store,
        net.clock().shared(),
        keypair,
        FileSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = ServerUrl::parse(&format!("http://{}", listener.local_addr()?))?;
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let serving = tokio::spawn(session_files::serve(state, listener, shutdown));

    let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
    cfg.storage_https = false;
    cfg.client.request_timeout_ms = 60_000;
    let client = OnionClient::new(cfg, net.clock().shared());
    client.ensure_paths().await?;
    let routes = [
        (
            "direct",
            FileServerClient::new(server.clone(), key, Route::Direct),
        ),
        (
            "onion",
            FileServerClient::new(server.clone(), key, Route::Onion(client.clone())),
        ),
    ];

    let seed = [7u8; 32];
    for &size in sizes {
        let data: Vec<u8> = (0..size)
            .map(|i| (i.wrapping_mul(31) % 251) as u8)
            .collect();
        let t = Instant::now();
        let enc = crypt::encrypt(&seed, &data, &mut |_| {})?;
        let enc_ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{}",
            json!({"bench": "files", "op": "encrypt", "size": size,
                   "mb_per_s": mb_per_s(size, enc_ms)})
        );
        let pointer = |id: &str| Attachment {
            url: routes[0].1.download_url(id, true).to_string(),
            id: 0,
            key: enc.key.clone(),
            digest: Some(enc.digest.to_vec()),
            size: size as u64,
            content_type: None,
            file_name: None,
        };
        let t = Instant::now();
        crypt::decrypt(&enc.blob, &pointer("0"), &mut |_| {})?;
        let dec_ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{}",
            json!({"bench": "files", "op": "decrypt", "size": size,
                   "mb_per_s": mb_per_s(size, dec_ms)})
        );
        for (name, fs) in &routes {
            let (mut up, mut down) = (Vec::new(), Vec::new());
            for _ in 0..args.rounds {
                let t = Instant::now();
                let uploaded = fs.upload(enc.blob.clone(), &mut |_| {}).await?;
                up.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = Instant::now();
                let blob = fs.download(&uploaded.id, &mut |_| {}).await?;
                let plain = crypt::decrypt(&blob, &pointer(&uploaded.id), &mut |_| {})?;
                down.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(plain == data, "the {name} download differs from the upload");
            }
            for (op, times, bytes) in [("upload", up, enc.blob.len()), ("download", down, size)] {
                let (p50, max) = median_and_max(times);
                println!(
                    "{}",
                    json!({"bench": "files", "op": op, "route": name, "size": size,
                           "rounds": args.rounds, "mb_per_s": mb_per_s(bytes, p50),
                           "p50_ms": round1(p50), "max_ms": round1(max),
                           "nodes": args.nodes, "hops": if *name == "onion" { 3 } else { 0 }})
                );
            }
        }
    }
    drop(trigger);
    serving.await??;
    ticker.abort();
    net.shutdown().await?;
    Ok(())
}
