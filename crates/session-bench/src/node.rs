//! The `node` scenario: a real storage node (HTTPS by default, SQLite in a temporary
//! directory) in this process, driven over loopback by concurrent clients, next to the
//! raw SQLite rate with the same schema and pragmas, all in the same run. One JSON line
//! per measurement:
//!
//! * `{"bench":"node","op":"sqlite_insert",…,"msgs_per_s"}` — raw inserts of 1 KiB
//!   messages, `tx_size` per transaction (what the node's group commit does at best),
//!   final WAL checkpoint included;
//! * `{"bench":"node","op":"sqlite_select",…}` — the retrieve query, raw;
//! * `{"bench":"node","op":"store",…,"msgs_per_s","p50_us","p99_us"}` — `store` RPCs;
//! * `{"bench":"node","op":"retrieve_signed",…}` — signed `retrieve` RPCs (each request
//!   signed by the client at send time, verified by the node; one 1 KiB message back);
//! * `{"bench":"node","op":"store_swarm","replication":1|7,…}` — `store` RPCs on a
//!   whole in-process network (registry + nodes over plain HTTP, SQLite each): one node
//!   alone, then a swarm of 7 where every store is forwarded to the 6 other members
//!   before the reply; clients are spread over the members.
//!
//! The load generator shares the machine (and, here, the process) with the node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use rusqlite::params;
use serde_json::{Value, json};
use session_crypto::{Ed25519Keypair, Ed25519Seed};
use session_node::store::sqlite::{DB_FILE, open_connection};
use session_node::{NodeBuilder, NodeConfig};
use session_rt::http::HttpConnection;

/// Options of the `node` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds per HTTP measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Use plain HTTP instead of HTTPS.
    #[arg(long)]
    plain: bool,
    /// Rows per transaction in the raw SQLite insert measurement.
    #[arg(long, default_value_t = 100)]
    tx_size: usize,
    /// Raw SQLite rows to insert.
    #[arg(long, default_value_t = 200_000)]
    sqlite_rows: usize,
    /// Accounts used by the retrieve measurement.
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Run only measurements whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn selected(args: &Args, op: &str) -> bool {
    args.only.as_deref().is_none_or(|o| op.contains(o))
}

/// Deterministic, unique 1 KiB-ish payloads.
fn payload(size: usize, worker: usize, i: u64) -> Vec<u8> {
    let mut d = vec![0u8; size.max(16)];
    d[..8].copy_from_slice(&(worker as u64).to_le_bytes());
    d[8..16].copy_from_slice(&i.to_le_bytes());
    for (j, b) in d[16..].iter_mut().enumerate() {
        *b = (j as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
    d
}

fn user(n: u64) -> (Ed25519Keypair, String) {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0x5e;
    let kp = Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed));
    let sid = format!("05{}", hex::encode(kp.to_x25519().public()));
    (kp, sid)
}

/// Raw SQLite with the node's schema and pragmas: inserts in transactions of
/// `tx_size`, then the retrieve query.
fn sqlite_raw(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = open_connection(&dir.path().join(DB_FILE), Some(u64::MAX / 2), true)?;
    let owners = 1_000usize;
    for o in 0..owners {
        let mut pk = [0u8; 32];
        pk[..8].copy_from_slice(&(o as u64).to_le_bytes());
        conn.execute(
            "INSERT INTO owners (pubkey, type) VALUES (?1, 5)",
            params![&pk[..]],
        )?;
    }
    let rows = args.sqlite_rows;
    let data = payload(args.size, 0, 0);
    let ts = now_ms() as i64;
    let start = Instant::now();
    let mut i = 0usize;
    while i < rows {
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
                 VALUES (?1, ?2, 0, ?3, ?4, ?5) ON CONFLICT(hash) DO NOTHING",
            )?;
            for _ in 0..args.tx_size.max(1) {
                if i >= rows {
                    break;
                }
                let hash = format!("{i:043}");
                let owner = (i % owners) as i64 + 1;
                stmt.execute(params![hash, owner, ts, ts + 3_600_000, data])?;
                i += 1;
            }
        }
        tx.commit()?;
    }
    // The node checkpoints on a separate thread; here the checkpoint is part of the
    // measured time so the figure is the full cost of getting rows into the database.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let secs = start.elapsed().as_secs_f64();
    if selected(args, "sqlite_insert") {
        println!(
            "{}",
            json!({"bench": "node", "op": "sqlite_insert", "bytes": args.size, "rows": rows,
                   "tx_size": args.tx_size, "checkpoint_included": true,
                   "msgs_per_s": round1(rows as f64 / secs)})
        );
    }
    if selected(args, "sqlite_select") {
        let per_owner = rows / owners;
        let mut stmt = conn.prepare_cached(
            "SELECT hash, timestamp, expiry, data FROM messages
             WHERE owner = ?1 AND namespace = 0 AND id > ?2 AND expiry > ?3 ORDER BY id LIMIT ?4",
        )?;
        let n = 50_000usize;
        let start = Instant::now();
        let mut got = 0usize;
        for q in 0..n {
            let owner = (q % owners) as i64 + 1;
            // Skip to the last message of the owner, like a poll with last_hash.
            let after = ((per_owner.saturating_sub(1)) * owners) as i64;
            let mut r = stmt.query(params![owner, after, ts, 10])?;
            while let Some(row) = r.next()? {
                let d: Vec<u8> = row.get(3)?;
                got += d.len().min(1);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({"bench": "node", "op": "sqlite_select", "queries": n, "rows_returned": got,
                   "queries_per_s": round1(n as f64 / secs)})
        );
    }
    Ok(())
}

struct Outcome {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

/// Runs `clients` workers against the node for `seconds`; each worker calls `make` to
/// build its i-th request body and expects status 200.
async fn drive<F>(
    addrs: &[std::net::SocketAddr],
    tls: bool,
    clients: usize,
    seconds: f64,
    make: F,
) -> anyhow::Result<(Outcome, f64)>
where
    F: Fn(usize, u64) -> String + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let addr = addrs[i % addrs.len()];
        conns.push(HttpConnection::connect(addr, tls).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, mut c) in conns.into_iter().enumerate() {
        let make = make.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                ok: 0,
                errors: 0,
                latencies_us: Vec::with_capacity(100_000),
            };
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = make(w, i);
                i += 1;
                let t = Instant::now();
                match c.post("/storage_rpc/v1", body).await {
                    Ok(r) if r.status == 200 => {
                        out.ok += 1;
                        out.latencies_us
                            .push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    _ => out.errors += 1,
                }
            }
            out
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Outcome {
        ok: 0,
        errors: 0,
        latencies_us: Vec::new(),
    };
    for t in tasks {
        let o = t.await?;
        all.ok += o.ok;
        all.errors += o.errors;
        all.latencies_us.extend(o.latencies_us);
    }
    let secs = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    Ok((all, secs))
}

fn report(op: &str, args: &Args, tls: bool, o: &Outcome, secs: f64, extra: Value) {
    let mut line = json!({
        "bench": "node",
        "op": op,
        "transport": if tls { "https" } else { "http" },
        "clients": args.clients,
        "bytes": args.size,
        "requests": o.ok,
        "errors": o.errors,
        "seconds": round1(secs),
        "msgs_per_s": round1(o.ok as f64 / secs),
        "p50_us": percentile(&o.latencies_us, 0.50),
        "p99_us": percentile(&o.latencies_us, 0.99),
    });
    if let (Value::Object(l), Value::Object(e)) = (&mut line, extra) {
        l.extend(e);
    }
    println!("{line}");
}

async fn http_measurements(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls = !args.plain;
    let cfg = NodeConfig {
        data_dir: dir.path().to_owned(),
        listen: listener.local_addr()?,
        tls,
        rate_limit_per_second: 0,
        max_db_size: u64::MAX / 2,
        log: "warn".into(),
        ..NodeConfig::default()
    };
    let node = NodeBuilder::new(cfg).build(&listener)?;
    let addr = node.local_addr();
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let server = tokio::spawn(node.run(listener, shutdown));
    let size = args.size;

    if selected(args, "store") {
        let accounts: Arc<Vec<String>> = Arc::new((0..1024u64).map(|n| user(n).1).collect());
        let acc = accounts.clone();
        let (o, secs) = drive(&[addr], tls, args.clients, args.seconds, move |w, i| {
            let sid = &acc[(w * 7 + i as usize) % acc.len()];
            json!({"method": "store", "params": {
                "pubkey": sid, "timestamp": now_ms(), "ttl": 3_600_000,
                "data": b64(&payload(size, w, i)),
            }})
            .to_string()
        })
        .await?;
        report("store", args, tls, &o, secs, json!({"namespace": 0}));
    }

    if selected(args, "retrieve") {
        // Each account holds 5 messages; a poll asks for what follows the 4th (1 message).
        let n = args.accounts.max(1);
        let mut users = Vec::with_capacity(n);
        let mut c = HttpConnection::connect(addr, tls).await?;
        for a in 0..n {
            let (kp, sid) = user(10_000 + a as u64);
            let mut last = String::new();
            for i in 0..5u64 {
                let body = json!({"method": "store", "params": {
                    "pubkey": sid, "timestamp": now_ms(), "ttl": 3_600_000,
                    "data": b64(&payload(size, a, i)),
                }})
                .to_string();
                let r = c.post("/storage_rpc/v1", body).await?;
                anyhow::ensure!(r.status == 200, "prefill store failed: {}", r.text());
                if i == 3 {
                    let v: Value = serde_json::from_slice(&r.body)?;
                    last = v["hash"].as_str().context("no hash")?.to_owned();
                }
            }
            users.push((kp, sid, last));
        }
        let users = Arc::new(users);
        let u2 = users.clone();
        let (o, secs) = drive(&[addr], tls, args.clients, args.seconds, move |w, i| {
            let (kp, sid, last) = &u2[(w * 13 + i as usize) % u2.len()];
            let ts = now_ms();
            let sig = kp.sign(format!("retrieve{ts}").as_bytes());
            json!({"method": "retrieve", "params": {
                "pubkey": sid, "pubkey_ed25519": hex::encode(kp.public().as_bytes()),
                "timestamp": ts, "signature": b64(&sig), "last_hash": last,
            }})
            .to_string()
        })
        .await?;
        report(
            "retrieve_signed",
            args,
            tls,
            &o,
            secs,
            json!({"accounts": n, "messages_per_reply": 1}),
        );
    }

    trigger.trigger();
    server.await??;
    Ok(())
}

/// `store` throughput on a lone node and on a swarm of 7 (replication factor 7), both
/// in-process networks over plain HTTP, measured in the same run.
async fn swarm_measurements(args: &Args) -> anyhow::Result<()> {
    let size = args.size;
    for n in [1usize, 7] {
        let net = session_testkit::TestNetwork::start(n).await?;
        anyhow::ensure!(net.registry_swarms().len() == 1, "expected one swarm");
        // The network runs on a virtual clock: requests carry its time.
        let now = net.now_ms();
        let addrs: Vec<std::net::SocketAddr> = net.nodes().iter().map(|n| n.addr()).collect();
        let accounts: Arc<Vec<String>> = Arc::new((0..1024u64).map(|n| user(n).1).collect());
        let (o, secs) = drive(&addrs, false, args.clients, args.seconds, move |w, i| {
            let sid = &accounts[(w * 7 + i as usize) % accounts.len()];
            json!({"method": "store", "params": {
                "pubkey": sid, "timestamp": now, "ttl": 3_600_000,
                "data": b64(&payload(size, w, i)),
            }})
            .to_string()
        })
        .await?;
        report(
            "store_swarm",
            args,
            false,
            &o,
            secs,
            json!({"replication": n, "namespace": 0}),
        );
        net.shutdown().await?;
    }
    Ok(())
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    if selected(&args, "sqlite") {
        sqlite_raw(&args)?;
    }
    if selected(&args, "store") || selected(&args, "retrieve") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(http_measurements(&args))?;
    }
    if selected(&args, "store_swarm") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(swarm_measurements(&args))?;
    }
    Ok(())
}
