//! The `onion` scenario: onion requests through real nodes on loopback (an in-process
//! network: registry + nodes over plain HTTP), next to the raw per-hop crypto measured
//! in the same run. One JSON line per measurement:
//!
//! * `{"bench":"onion","op":"hop_crypto",…}` — what one hop must compute per layer,
//!   on one core: X25519 with the layer's ephemeral key, the key derivation and the
//!   AEAD open of a 3-hop guard layer (`node_decrypt`), and the same plus parsing the
//!   plaintext and deciding the step (`peel`), for both ciphers;
//! * `{"bench":"onion","op":"latency","hops":0..3,…}` — one client, one request at a
//!   time, `info` at a destination node behind `hops` relaying nodes (0 = the
//!   destination is its own guard); `added_us_per_hop` on the 3-hop line is
//!   (p50(3) − p50(0)) / 3;
//! * `{"bench":"onion","op":"throughput","hops":3,…}` — many clients at once, from a
//!   separate load process (`session-bench onion-load`), so that the nodes' CPU time
//!   can be read apart from the clients': `layers_per_node_cpu_s` is every layer peeled
//!   (hops + 1 per request) per CPU-second the nodes used, and `vs_crypto_limit`
//!   divides it by the `peel` rate: the fraction of the hop-crypto limit a node reaches
//!   with everything else it does (HTTP in and out, framing, relaying, the
//!   destination's RPC). `requests_per_s` is the path's throughput on this machine,
//!   clients included.
//!
//! Requests are built before the clock starts (a pool, replayed: the relay keeps no
//! replay state), so the client's own encryption does not compete with the nodes for
//! the cores; the client does not decrypt the replies either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use session_crypto::X25519Keypair;
use session_crypto::onion::{EncType, client_encrypt, node_decrypt};
use session_rt::http::HttpConnection;
use session_testkit::TestNetwork;
use session_testkit::onion::{OnionHop, build_onion, final_layer};
use session_wire::onion::hop::{Layer, peel};
use session_wire::onion::{RelayControl, encode_frame};

use crate::measure::{ops_per_sec, round1};

/// Options of the `onion` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Concurrent clients in the throughput measurement.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Layer cipher: aes-gcm or xchacha20.
    #[arg(long, default_value = "xchacha20")]
    enc: String,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A guard layer of a 3-hop request as the guard receives it (the size matters for
/// the AEAD), addressed to `node`.
fn guard_layer(node: &X25519Keypair, enc: EncType) -> anyhow::Result<Layer> {
    let mut plaintext = final_layer("info", json!({}));
    for _ in 0..3 {
        let l = client_encrypt(enc, node.public(), &plaintext)?;
        let control = RelayControl {
            destination: [1; 32],
            ephemeral_key: l.ephemeral_public,
            enc_type: enc.into(),
        };
        plaintext = encode_frame(&l.ciphertext, &control)?;
    }
    let l = client_encrypt(enc, node.public(), &plaintext)?;
    Ok(Layer {
        ciphertext: l.ciphertext,
        ephemeral_key: l.ephemeral_public,
        enc_type: enc.into(),
        hop_no: 0,
    })
}

/// Peels per second of one core; prints the crypto lines and returns the `peel` rate.
fn hop_crypto(enc: EncType, budget: Duration) -> anyhow::Result<f64> {
    let node = X25519Keypair::generate()?;
    let layer = guard_layer(&node, enc)?;
    let decrypt = ops_per_sec(budget, || {
        node_decrypt(enc, &node, &layer.ephemeral_key, &layer.ciphertext).is_ok()
    });
    let peeled = ops_per_sec(budget, || peel(&node, &layer).is_ok());
    anyhow::ensure!(
        peel(&node, &layer).is_ok(),
        "the benchmark layer does not peel"
    );
    println!(
        "{}",
        json!({"bench": "onion", "op": "hop_crypto", "enc": enc.as_str(),
               "layer_bytes": layer.ciphertext.len(),
               "node_decrypt_per_s": round1(decrypt), "peel_per_s": round1(peeled),
               "peel_us": round1(1e6 / peeled)})
    );
    Ok(peeled)
}

/// `count` prebuilt requests for `info` at the last target.
fn pool(targets: &[OnionHop], enc: EncType, count: usize) -> anyhow::Result<Arc<Vec<Vec<u8>>>> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(build_onion(targets, final_layer("info", json!({})), enc, |_, _| {})?.body);
    }
    Ok(Arc::new(out))
}

struct Run {
    ok: u64,
    errors: u64,
    secs: f64,
    latencies_us: Vec<u32>,
}

/// `clients` workers POST the pool's requests to the guard for `seconds`.
async fn drive(
    guard: std::net::SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Run> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(HttpConnection::connect(guard, false).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, mut c) in conns.into_iter().enumerate() {
        let (stop, requests) = (stop.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::with_capacity(50_000));
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let body = requests[i % requests.len()].clone();
                i += clients;
                let t = Instant::now();
                let headers = [("content-type", "application/octet-stream")];
                match c.request("POST", "/onion_req/v2", &headers, body).await {
                    Ok(r) if r.status == 200 => {
                        ok += 1;
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    _ => errors += 1,
                }
            }
            (ok, errors, lat)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut run = Run {
        ok: 0,
        errors: 0,
        secs: 0.0,
        latencies_us: Vec::new(),
    };
    for t in tasks {
        let (ok, errors, lat) = t.await?;
        run.ok += ok;
        run.errors += errors;
        run.latencies_us.extend(lat);
    }
    run.secs = start.elapsed().as_secs_f64();
    run.latencies_us.sort_unstable();
    Ok(run)
}

async fn network_measurements(args: &Args, enc: EncType, peel_rate: f64) -> anyhow::Result<()> {
    let net = TestNetwork::start(5).await?;
    let hops: Vec<OnionHop> = (0..4).map(|i| net.hop(i)).collect::<Result<_, _>>()?;
    let dest = hops[3];
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut p50 = [0u32; 4];
    for k in 0..=3usize {
        let mut targets: Vec<OnionHop> = hops[..k].to_vec();
        targets.push(dest);
        let requests = pool(&targets, enc, 256)?;
        let run = drive(targets[0].addr, requests, 1, args.seconds / 2.0).await?;
        p50[k] = percentile(&run.latencies_us, 0.5);
        let mut line = json!({"bench": "onion", "op": "latency", "enc": enc.as_str(),
            "hops": k, "transport": "http", "requests": run.ok, "errors": run.errors,
            "p50_us": p50[k], "p99_us": percentile(&run.latencies_us, 0.99)});
        if k == 3 {
            line["added_us_per_hop"] = json!(round1((f64::from(p50[3]) - f64::from(p50[0])) / 3.0));
        }
        println!("{line}");
    }
    let requests = pool(&hops, enc, 2048)?;
    let pool_file = tempfile::NamedTempFile::new()?;
    write_pool(pool_file.path(), &requests)?;
    let cpu_before = cpu_seconds()?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg("onion-load")
        .arg("--guard")
        .arg(hops[0].addr.to_string())
        .arg("--pool")
        .arg(pool_file.path())
        .arg("--clients")
        .arg(args.clients.to_string())
        .arg("--seconds")
        .arg(args.seconds.to_string());
    let load = tokio::task::spawn_blocking(move || command.output()).await??;
    let node_cpu = cpu_seconds()? - cpu_before;
    anyhow::ensure!(
        load.status.success(),
        "the load process failed: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&load.stdout)?;
    let ok = run["requests"].as_f64().unwrap_or(0.0);
    let secs = run["seconds"].as_f64().unwrap_or(1.0).max(1e-9);
    let layers = ok * 4.0;
    let per_cpu = layers / node_cpu.max(1e-9);
    println!(
        "{}",
        json!({"bench": "onion", "op": "throughput", "enc": enc.as_str(), "hops": 3,
               "transport": "http", "clients": args.clients, "cores": cores,
               "requests": run["requests"], "errors": run["errors"], "seconds": round1(secs),
               "requests_per_s": round1(ok / secs),
               "node_cpu_s": (node_cpu * 100.0).round() / 100.0,
               "layers_per_node_cpu_s": round1(per_cpu),
               "peel_per_s": round1(peel_rate),
               "vs_crypto_limit": (per_cpu / peel_rate * 100.0).round() / 100.0,
               "p50_us": run["p50_us"], "p99_us": run["p99_us"]})
    );
    net.shutdown().await?;
    Ok(())
}

/// CPU time (user + system) this process has used, in seconds.
fn cpu_seconds() -> anyhow::Result<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF)?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(secs(u.user_time()) + secs(u.system_time()))
}

/// Writes requests as `u32le(len) ‖ bytes`, one after another.
fn write_pool(path: &std::path::Path, requests: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for r in requests {
        out.extend_from_slice(&u32::try_from(r.len())?.to_le_bytes());
        out.extend_from_slice(r);
    }
    Ok(std::fs::write(path, out)?)
}

fn read_pool(path: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path)?;
    let mut rest = &bytes[..];
    let mut out = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        anyhow::ensure!(tail.len() >= len, "truncated request pool");
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    Ok(out)
}

/// Options of the load process of the throughput measurement (started by `onion`).
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The guard's address.
    #[arg(long)]
    guard: std::net::SocketAddr,
    /// The file of prebuilt requests.
    #[arg(long)]
    pool: std::path::PathBuf,
    /// Concurrent clients.
    #[arg(long)]
    clients: usize,
    /// Seconds to run.
    #[arg(long)]
    seconds: f64,
}

/// The load process: replays the pool against the guard and prints one JSON line.
pub fn load(args: LoadArgs) -> anyhow::Result<()> {
    let requests = Arc::new(read_pool(&args.pool)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let run = rt.block_on(drive(args.guard, requests, args.clients, args.seconds))?;
    println!(
        "{}",
        json!({"requests": run.ok, "errors": run.errors, "seconds": run.secs,
               "p50_us": percentile(&run.latencies_us, 0.5),
               "p99_us": percentile(&run.latencies_us, 0.99)})
    );
    Ok(())
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    let enc = EncType::parse(&args.enc)?;
    let budget = Duration::from_secs_f64((args.seconds / 2.0).max(0.2));
    let peel_rate = hop_crypto(enc, budget)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(network_measurements(&args, enc, peel_rate))
}
