//! The `e2e` scenario: one-to-one messaging between two accounts on loopback, through
//! the whole client library — [`Messenger::send_text`] (seal, onion `store` to the
//! recipient's swarm and the sync copy to our own, SQLite store) on one side, the
//! background poller ([`Messenger::spawn_poller`]: onion `retrieve`, open, check,
//! de-duplicate, SQLite store, event) on the other. Each account has its own
//! [`OnionClient`] (its own paths) and its own SQLite store in a temp dir.
//!
//! The network is a running devnet (`--network DIR/network.toml`, as `session devnet`
//! writes it: real processes, HTTPS, system clock), or else an in-process
//! [`TestNetwork`] (registry and `--nodes` nodes over plain HTTP in this process, so
//! nodes and clients share the cores). The test network's clock is a mock clock; the
//! scenario moves it along with the real clock (every 10 ms), so timestamps, signature
//! windows and the nodes' periodic jobs behave as on a real network.
//!
//! After a warm-up (directory, paths and swarms known to both clients, a few messages
//! each way so that the conversation is accepted), one JSON line per measurement:
//!
//! * `{"bench":"e2e","op":"latency",…}` — the receiver polls every `--poll-ms`; the
//!   sender sends `--messages` texts one at a time, each with a unique body. A
//!   message's latency runs from just before `send_text` to the moment the receiver's
//!   [`Event::Message`] with that body is announced (p50/p90/p99/max). `send_p50_ms` and
//!   `send_p99_ms` are the `send_text` calls alone (both `store`s through the onion and
//!   the local store); `fetch_p50_ms` is one idle poll of the receiver (a `retrieve`
//!   through the onion that finds nothing), measured before the poller starts. With a
//!   poll taking F ms and a pause of P ms between polls, a message waits on average
//!   about (F + P) / 2 for the next poll to start after it is stored, then F for that
//!   poll. `target_p50_ms` is the target for the p50 on loopback.
//! * `{"bench":"e2e","op":"throughput",…}` — `--concurrency` tasks send at once for
//!   `--seconds` (or until `--messages` texts were sent in all). The tasks share
//!   `--senders` sender accounts round-robin; the default, 1, is one device sending
//!   many messages at once, sharing one `Messenger` (its onion paths, its store, its
//!   timestamp counter), which is what a single client can push. More sender accounts
//!   (each with its own `OnionClient` and store) are more users writing to one
//!   recipient. `sent_per_s` is successful sends over the sending time;
//!   `received_per_s` is texts the receiver announced over the time from the start to
//!   the last arrival (waiting up to `--drain-secs` after the last send); `lost` is sent
//!   but not received (it must be 0). When some are lost, `lost_in_swarm` says where
//!   they are: every member of the receiver's swarm is asked directly (each paged with
//!   its own last hash) which of them it holds — held by all members means they were
//!   stored and the poller skipped them.
//!
//! Events are timestamped by a task that only reads the receiver's event stream; a
//! subscriber that fell behind would be counted in `events_lagged` (its messages would
//! show up as lost).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use session_client::store::SqliteStore;
use session_client::{Event, Messenger, MessengerSettings, NetworkConfig, OnionClient};
use session_crypto::AccountKeys;
use session_testkit::TestNetwork;
use tokio::sync::mpsc;

use crate::measure::round1;

/// Options of the `e2e` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A running devnet's network file (`session devnet` writes DIR/network.toml);
    /// without it, an in-process test network is started.
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    /// Nodes of the in-process network (ignored with --network).
    #[arg(long, default_value_t = 12)]
    nodes: usize,
    /// Messages of the latency measurement, one at a time; also the total of the
    /// throughput measurement when --seconds is not given.
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Pause of the receiver's poller between polls, in ms.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// Concurrent sending tasks in the throughput measurement.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Sender accounts the sending tasks share (round-robin) in the throughput
    /// measurement; 1 = one Messenger shared by all tasks.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Send for this many seconds in the throughput measurement (instead of
    /// --messages texts).
    #[arg(long)]
    seconds: Option<f64>,
    /// How long to wait for the last messages to arrive after sending stopped.
    #[arg(long, default_value_t = 10.0)]
    drain_secs: f64,
}

/// How long the latency measurement waits for one message before counting it lost.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The target for the p50 send→receive latency on loopback, in ms.
const TARGET_P50_MS: f64 = 50.0;

/// The network the clients talk to.
enum Network {
    /// An in-process test network, and the task moving its mock clock.
    InProcess {
        net: TestNetwork,
        ticker: tokio::task::JoinHandle<()>,
    },
    /// A running devnet, from its network file.
    Devnet(NetworkConfig),
}

impl Network {
    async fn start(args: &Args) -> anyhow::Result<Self> {
        if let Some(path) = &args.network {
            let cfg = NetworkConfig::load(path)
                .with_context(|| format!("loading the network file {}", path.display()))?;
            return Ok(Self::Devnet(cfg));
        }
        let net = TestNetwork::start(args.nodes).await?;
        // Virtual time follows real time from here on.
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
        Ok(Self::InProcess { net, ticker })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::InProcess { .. } => "in-process",
            Self::Devnet(_) => "devnet",
        }
    }

    fn description(&self, args: &Args) -> serde_json::Value {
        match self {
            Self::InProcess { net, .. } => json!({"network": "in-process",
                "nodes": net.nodes().len(), "transport": "http"}),
            Self::Devnet(cfg) => json!({"network": "devnet",
                "network_file": args.network.as_deref().map(Path::display).map(|d| d.to_string()),
                "transport": if cfg.storage_https { "https" } else { "http" }}),
        }
    }

    /// A new client with its own paths.
    fn client(&self) -> OnionClient {
        match self {
            Self::InProcess { net, .. } => {
                let mut cfg = NetworkConfig::new("testkit", vec![net.registry_url()]);
                cfg.storage_https = false;
                OnionClient::new(cfg, net.clock().shared())
            }
            Self::Devnet(cfg) => OnionClient::with_system_clock(cfg.clone()),
        }
    }

    async fn shutdown(self) -> anyhow::Result<()> {
        if let Self::InProcess { net, ticker } = self {
            ticker.abort();
            net.shutdown().await?;
        }
        Ok(())
    }
}

/// A new account with its own client and SQLite store under `dir`.
async fn account(network: &Network, dir: &Path) -> anyhow::Result<Messenger> {
    let keys = AccountKeys::generate()?;
    let store = Arc::new(SqliteStore::open(dir)?);
    let client = network.client();
    client.ensure_paths().await?;
    let me = keys.session_id().to_hex();
    client.get_swarm(&me).await?;
    Ok(Messenger::new(
        keys,
        client,
        store,
        MessengerSettings::default(),
    ))
}

/// Texts the receiver announced, with the moment each was announced.
struct Arrivals {
    rx: mpsc::UnboundedReceiver<(String, Instant)>,
    lagged: Arc<AtomicU64>,
    poll_failures: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Arrivals {
    /// Starts timestamping the incoming texts `m` announces.
    fn watch(m: &Messenger) -> Self {
        let mut events = m.subscribe();
        let (tx, rx) = mpsc::unbounded_channel();
        let lagged = Arc::new(AtomicU64::new(0));
        let poll_failures = Arc::new(AtomicU64::new(0));
        let (lag, failures) = (lagged.clone(), poll_failures.clone());
        let task = tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(Event::Message(msg))
                        if msg.direction == session_client::store::Direction::Incoming =>
                    {
                        if tx.send((msg.body, Instant::now())).is_err() {
                            return;
                        }
                    }
                    Ok(Event::PollFailed(_)) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        lag.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Self {
            rx,
            lagged,
            poll_failures,
            task,
        }
    }

    /// Waits until `body` arrives (other texts are skipped); `None` after `limit`.
    async fn wait_for(&mut self, body: &str, limit: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((b, at))) if b == body => return Some(at),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Microseconds as milliseconds with one decimal.
fn ms(us: u64) -> f64 {
    round1(us as f64 / 1000.0)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Both clients ready, the conversation accepted both ways, a few messages each way.
async fn warm_up(
    sender: &Messenger,
    receiver: &Messenger,
    arrivals: &mut Arrivals,
) -> anyhow::Result<()> {
    sender.fetch().await?;
    receiver.fetch().await?;
    let to = receiver.session_id();
    for i in 0..3 {
        let body = format!("warm-up {i}");
        sender.send_text(&to, &body).await?;
        // No poller yet: poll by hand until it is there.
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        loop {
            receiver.fetch().await?;
            if arrivals
                .wait_for(&body, Duration::from_millis(1))
                .await
                .is_some()
            {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "warm-up message {i} did not arrive within {MESSAGE_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // Replying accepts the sender's message request.
    receiver
        .send_text(&sender.session_id(), "warm-up reply")
        .await?;
    sender.fetch().await?;
    Ok(())
}

/// p50 of `n` idle polls of `m` (nothing new to fetch).
async fn idle_fetch_p50(m: &Messenger, n: usize) -> anyhow::Result<u64> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        m.fetch().await?;
        lat.push(micros(t.elapsed()));
    }
    lat.sort_unstable();
    Ok(percentile(&lat, 0.5))
}

async fn latency(
    args: &Args,
    network: &Network,
    sender: &Messenger,
    receiver: &Messenger,
    arrivals: &mut Arrivals,
) -> anyhow::Result<()> {
    let fetch_p50 = idle_fetch_p50(receiver, 20).await?;
    let poller = receiver.spawn_poller(Duration::from_millis(args.poll_ms));
    let to = receiver.session_id();
    let (mut e2e, mut send) = (Vec::new(), Vec::new());
    let (mut lost, mut send_errors) = (0usize, 0usize);
    let failures_before = arrivals.poll_failures.load(Ordering::Relaxed);
    for i in 0..args.messages {
        let body = format!("latency {i} of {}", args.messages);
        let t = Instant::now();
        match sender.send_text(&to, &body).await {
            Ok(_) => send.push(micros(t.elapsed())),
            Err(e) => {
                send_errors += 1;
                eprintln!("e2e: send {i} failed: {e}");
                continue;
            }
        }
        match arrivals.wait_for(&body, MESSAGE_TIMEOUT).await {
            Some(at) => e2e.push(micros(at.saturating_duration_since(t))),
            None => lost += 1,
        }
    }
    poller.stop().await;
    e2e.sort_unstable();
    send.sort_unstable();
    let p50 = ms(percentile(&e2e, 0.5));
    let mut line = json!({"bench": "e2e", "op": "latency",
        "messages": args.messages, "received": e2e.len(), "lost": lost,
        "send_errors": send_errors, "poll_ms": args.poll_ms,
        "p50_ms": p50, "p90_ms": ms(percentile(&e2e, 0.9)),
        "p99_ms": ms(percentile(&e2e, 0.99)), "max_ms": ms(e2e.last().copied().unwrap_or(0)),
        "send_p50_ms": ms(percentile(&send, 0.5)), "send_p99_ms": ms(percentile(&send, 0.99)),
        "fetch_p50_ms": ms(fetch_p50),
        "poll_failures": arrivals.poll_failures.load(Ordering::Relaxed) - failures_before,
        "events_lagged": arrivals.lagged.load(Ordering::Relaxed),
        "target_p50_ms": TARGET_P50_MS, "p50_ok": !e2e.is_empty() && p50 < TARGET_P50_MS});
    merge(&mut line, network.description(args));
    println!("{line}");
    Ok(())
}

/// What one sending task did.
#[derive(Default)]
struct Sends {
    bodies: Vec<String>,
    /// The hash of each body's copy in the recipient's swarm.
    hashes: Vec<String>,
    errors: usize,
    latencies_us: Vec<u64>,
}

async fn throughput(
    args: &Args,
    network: &Network,
    senders: &[Messenger],
    receiver: &Messenger,
    arrivals: &mut Arrivals,
) -> anyhow::Result<()> {
    let poller = receiver.spawn_poller(Duration::from_millis(args.poll_ms));
    let to = receiver.session_id();
    let failures_before = arrivals.poll_failures.load(Ordering::Relaxed);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let until = args.seconds.map(|s| start + Duration::from_secs_f64(s));
    let total = args.messages;
    let mut tasks = Vec::with_capacity(args.concurrency);
    for task in 0..args.concurrency.max(1) {
        let m = senders[task % senders.len()].clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Sends::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let more = match until {
                    Some(u) => Instant::now() < u,
                    None => i < total,
                };
                if !more {
                    return out;
                }
                let body = format!("throughput {i} (task {task})");
                let t = Instant::now();
                match m.send_text(&to, &body).await {
                    Ok(sent) => {
                        out.latencies_us.push(micros(t.elapsed()));
                        out.bodies.push(body);
                        out.hashes.push(sent.recipient_hash);
                    }
                    Err(e) => {
                        out.errors += 1;
                        eprintln!("e2e: throughput send {i} failed: {e}");
                    }
                }
            }
        }));
    }
    let mut sent = Sends::default();
    for t in tasks {
        let s = t.await?;
        sent.bodies.extend(s.bodies);
        sent.hashes.extend(s.hashes);
        sent.errors += s.errors;
        sent.latencies_us.extend(s.latencies_us);
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Everything sent, by body, until it arrives.
    let mut pending: HashSet<String> = sent.bodies.iter().cloned().collect();
    let mut last_arrival = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.drain_secs);
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, arrivals.rx.recv()).await {
            Ok(Some((body, at))) => {
                if pending.remove(&body) {
                    last_arrival = Some(last_arrival.map_or(at, |l: Instant| l.max(at)));
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    poller.stop().await;
    let lost_hashes: Vec<&str> = sent
        .bodies
        .iter()
        .zip(&sent.hashes)
        .filter(|(b, _)| pending.contains(*b))
        .map(|(_, h)| h.as_str())
        .collect();
    let census = if lost_hashes.is_empty() {
        serde_json::Value::Null
    } else {
        swarm_census(receiver, &lost_hashes).await
    };
    let received = sent.bodies.len() - pending.len();
    let recv_secs = last_arrival.map_or(0.0, |l| l.duration_since(start).as_secs_f64());
    sent.latencies_us.sort_unstable();
    let mut line = json!({"bench": "e2e", "op": "throughput",
        "concurrency": args.concurrency, "senders": senders.len(), "poll_ms": args.poll_ms,
        "mode": if args.seconds.is_some() { "seconds" } else { "messages" },
        "sent": sent.bodies.len(), "send_errors": sent.errors, "received": received,
        "lost": pending.len(), "all_received": pending.is_empty(),
        "lost_in_swarm": census,
        "send_secs": (send_secs * 100.0).round() / 100.0,
        "receive_secs": (recv_secs * 100.0).round() / 100.0,
        "sent_per_s": round1(sent.bodies.len() as f64 / send_secs.max(1e-9)),
        "received_per_s": round1(received as f64 / recv_secs.max(1e-9)),
        "send_p50_ms": ms(percentile(&sent.latencies_us, 0.5)),
        "send_p99_ms": ms(percentile(&sent.latencies_us, 0.99)),
        "poll_failures": arrivals.poll_failures.load(Ordering::Relaxed) - failures_before,
        "events_lagged": arrivals.lagged.load(Ordering::Relaxed)});
    merge(&mut line, network.description(args));
    println!("{line}");
    Ok(())
}

/// Where the lost messages are: asks every member of `m`'s swarm directly (all of its
/// messages, each node paged with its own last hash) which of `lost` it holds.
/// `{"members": n, "held_by_all": k, "held_by_none": j, "per_member": [...]}`: a lost
/// message the swarm holds was stored and never delivered by the poller.
async fn swarm_census(m: &Messenger, lost: &[&str]) -> serde_json::Value {
    use session_client::messenger::rpc;
    let me = m.session_id().to_hex();
    let members = match m.client().get_swarm(&me).await {
        Ok(members) => members,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let mut held = vec![0usize; lost.len()];
    let mut per_member = Vec::new();
    for node in &members {
        let mut have = HashSet::new();
        let mut last: Option<String> = None;
        let outcome: Result<(), session_client::ClientError> = async {
            for _ in 0..1000 {
                let params = rpc::retrieve_params(m.keys(), 0, m.now_ms(), last.as_deref());
                let reply = m.client().snode_request(node, "retrieve", params).await?;
                let page = rpc::parse_retrieve(&rpc::expect_ok("retrieve", reply)?)?;
                for r in &page.messages {
                    have.insert(r.hash.clone());
                }
                last = page.messages.last().map(|r| r.hash.clone()).or(last);
                if !page.more || page.messages.is_empty() {
                    break;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            per_member.push(json!({"error": e.to_string()}));
            continue;
        }
        let mut count = 0;
        for (i, h) in lost.iter().enumerate() {
            if have.contains(*h) {
                held[i] += 1;
                count += 1;
            }
        }
        per_member.push(json!(count));
    }
    json!({"members": members.len(),
           "held_by_all": held.iter().filter(|&&k| k == members.len()).count(),
           "held_by_none": held.iter().filter(|&&k| k == 0).count(),
           "per_member": per_member})
}

/// Adds the fields of `extra` (an object) to `line` (an object).
fn merge(line: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), extra) {
        l.extend(e);
    }
}

async fn measure(args: &Args, network: &Network, dir: &Path) -> anyhow::Result<()> {
    let receiver = account(network, &dir.join("receiver")).await?;
    let sender = account(network, &dir.join("sender")).await?;
    let mut arrivals = Arrivals::watch(&receiver);
    warm_up(&sender, &receiver, &mut arrivals)
        .await
        .with_context(|| format!("warm-up on the {} network", network.name()))?;
    latency(args, network, &sender, &receiver, &mut arrivals).await?;
    let mut senders = vec![sender];
    for k in 1..args.senders.max(1) {
        let extra = account(network, &dir.join(format!("sender{k}"))).await?;
        extra.fetch().await?;
        senders.push(extra);
    }
    throughput(args, network, &senders, &receiver, &mut arrivals).await
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let network = Network::start(&args).await?;
        let result = measure(&args, &network, dir.path()).await;
        network.shutdown().await?;
        result
    })
}
