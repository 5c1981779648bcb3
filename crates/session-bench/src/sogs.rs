//! The `sogs` scenario: a community server (SQLite in a temporary directory, or the
//! PostgreSQL database of `--database-url`) in this process, driven over loopback HTTP by
//! blind15-signed clients, as Session clients drive it. One JSON line per measurement:
//!
//! * `{"bench":"sogs","op":"poll",…}` — only pollers: each repeats the main poll
//!   `GET /room/{t}/messages/since/{seqno}?t=r&reactors=5`, signed with a fresh nonce
//!   (so every request does the server's full authentication: user lookup, nonce
//!   insert, signature check, `last_active` and room-activity updates), keeping the
//!   highest seqno it has seen;
//! * `{"bench":"sogs","op":"batch_poll",…}` — the same pollers, each cycle one signed
//!   `POST /batch` as desktop clients send it (capabilities, pollInfo, messages since,
//!   inbox since);
//! * `{"bench":"sogs","op":"mixed",…,"polls_per_s","posts_per_s",…}` — pollers and
//!   posters at once: posters `POST /room/{t}/message` (signed; posters are room
//!   admins, so PySOGS's 5-posts-per-16-s limit does not cap the load), pollers see
//!   their posts. Figures per kind and in total.
//!
//! `requests` counts 2xx answers (304 included); `errors` everything else. The load
//! generator (signing included) shares the machine, and the process, with the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::{Value, json};
use session_crypto::blinding::BlindedKeypair;
use session_crypto::sogs_auth::{SogsRequest, signed_message};
use session_crypto::{Ed25519Keypair, Ed25519Seed, X25519Keypair};
use session_rt::http::HttpConnection;
use session_rt::{Clock as _, SystemClock};
use session_sogs::server::{Sogs, SogsSettings, serve};
use session_sogs::store::{
    ModeratorChange, NewPost, NewRoom, Retention, RoomDefaults, Scope, SogsStore, open_database,
};

use crate::measure::round1;

/// The room every client uses.
const ROOM: &str = "bench";

/// Options of the `sogs` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent polling clients (one connection each).
    #[arg(long, default_value_t = 64)]
    pollers: usize,
    /// Concurrent posting clients in the mixed measurement.
    #[arg(long, default_value_t = 4)]
    posters: usize,
    /// Size of each posted message body, in bytes (before base64).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Messages in the room before measuring.
    #[arg(long, default_value_t = 1_000)]
    prefill: usize,
    /// Store on this PostgreSQL database (`postgres://…`) instead of a temporary SQLite
    /// file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Run only these measurements (comma-separated: poll, batch_poll, mixed).
    #[arg(long, value_name = "NAMES")]
    only: Option<String>,
}

/// Nonces are this process's start time and a counter: unique across every user and
/// measurement of a run (the server refuses a nonce seen within a day, from anyone).
static NONCES: AtomicU64 = AtomicU64::new(0);

/// One simulated Session user: its blinded key for this server.
struct User {
    blinded: BlindedKeypair,
    id_hex: String,
    worker: u64,
}

impl User {
    fn new(n: u64, server_pk: &[u8; 32]) -> Self {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed[31] = 0x50;
        let keys = Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed));
        let blinded = BlindedKeypair::blind15(&keys, server_pk);
        let id_hex = blinded.account_id().to_hex();
        Self {
            blinded,
            id_hex,
            worker: n,
        }
    }

    /// The four `X-SOGS-*` headers for one request, with a nonce never used before
    /// (without asking the OS for randomness each time).
    fn sign(&self, server_pk: &[u8; 32], method: &str, path: &str, body: &[u8]) -> Headers {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&RUN_START_NS.get_or_init(run_start_ns).to_le_bytes());
        nonce[8..].copy_from_slice(&NONCES.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let ts = unix_secs().to_string();
        let request = SogsRequest { method, path, body };
        let msg = signed_message(server_pk, &nonce, &ts, &request);
        let sig = self.blinded.sign(&msg);
        let b64 = base64::engine::general_purpose::STANDARD;
        [
            ("X-SOGS-Pubkey", self.id_hex.clone()),
            ("X-SOGS-Timestamp", ts),
            ("X-SOGS-Nonce", b64.encode(nonce)),
            ("X-SOGS-Signature", b64.encode(sig)),
        ]
    }
}

type Headers = [(&'static str, String); 4];

static RUN_START_NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

fn run_start_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn selected(args: &Args, op: &str) -> bool {
    args.only
        .as_deref()
        .is_none_or(|o| o.split(',').any(|name| name.trim() == op))
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// What one kind of client achieved.
#[derive(Default)]
struct Outcome {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    /// The first error seen, for the report.
    first_error: Option<String>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn record(&mut self, started: Instant, status: u16, body: &[u8]) {
        if (200..300).contains(&status) || status == 304 {
            self.ok += 1;
            self.latencies_us
                .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        } else {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error = Some(format!(
                    "{status} {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ));
            }
        }
    }

    fn fields(&mut self, secs: f64) -> Value {
        self.latencies_us.sort_unstable();
        json!({
            "requests": self.ok,
            "errors": self.errors,
            "req_per_s": round1(self.ok as f64 / secs),
            "p50_us": percentile(&self.latencies_us, 0.50),
            "p99_us": percentile(&self.latencies_us, 0.99),
            "first_error": self.first_error,
        })
    }
}

/// The kinds of client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Poll,
    BatchPoll,
    Post,
}

/// One client loop until `stop`.
async fn client(
    addr: SocketAddr,
    server_pk: [u8; 32],
    user: User,
    kind: Kind,
    size: usize,
    start_seqno: i64,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Outcome> {
    let mut conn = HttpConnection::connect(addr, false).await?;
    let mut out = Outcome::default();
    let mut seqno = start_seqno;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let (method, path, body, json_body) = match kind {
            Kind::Poll => (
                "GET",
                format!("/room/{ROOM}/messages/since/{seqno}?t=r&reactors=5"),
                Vec::new(),
                false,
            ),
            Kind::BatchPoll => {
                let batch = json!([
                    {"method": "GET", "path": "/capabilities"},
                    {"method": "GET", "path": format!("/room/{ROOM}/pollInfo/0")},
                    {"method": "GET",
                     "path": format!("/room/{ROOM}/messages/since/{seqno}?t=r&reactors=5")},
                    {"method": "GET", "path": "/inbox/since/0"},
                ]);
                (
                    "POST",
                    "/batch".to_owned(),
                    batch.to_string().into_bytes(),
                    true,
                )
            }
            Kind::Post => {
                let mut data = vec![0u8; size.max(16)];
                data[..8].copy_from_slice(&user.worker.to_le_bytes());
                data[8..16].copy_from_slice(&i.to_le_bytes());
                let signature = user.blinded.sign(&data);
                let b64 = base64::engine::general_purpose::STANDARD;
                let post = json!({"data": b64.encode(&data), "signature": b64.encode(signature)});
                (
                    "POST",
                    format!("/room/{ROOM}/message"),
                    post.to_string().into_bytes(),
                    true,
                )
            }
        };
        let headers = user.sign(&server_pk, method, &path, &body);
        let mut pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if json_body {
            pairs.push(("Content-Type", "application/json"));
        }
        let started = Instant::now();
        let reply = conn.request(method, &path, &pairs, body).await?;
        out.record(started, reply.status, &reply.body);
        if reply.status == 200 {
            match kind {
                Kind::Poll => seqno = seqno.max(max_seqno(&reply.body)),
                Kind::BatchPoll => {
                    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                    if let Some(msgs) = v.get(2).and_then(|r| r.get("body")) {
                        seqno = seqno.max(max_seqno(msgs.to_string().as_bytes()));
                    }
                }
                Kind::Post => {}
            }
        }
    }
    Ok(out)
}

/// The largest `seqno` in a JSON array of messages (0 if none).
fn max_seqno(body: &[u8]) -> i64 {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("seqno").and_then(Value::as_i64))
        .max()
        .unwrap_or(0)
}

/// Runs `pollers` clients of `poll_kind` and `posters` posters for `seconds`.
async fn measure(
    args: &Args,
    addr: SocketAddr,
    server_pk: [u8; 32],
    store: &Arc<dyn SogsStore>,
    poll_kind: Kind,
    posters: usize,
) -> anyhow::Result<(Outcome, Outcome, f64)> {
    let head = store
        .room(ROOM)?
        .context("bench room vanished")?
        .message_sequence;
    let stop = Arc::new(AtomicBool::new(false));
    let mut polls = Vec::new();
    for p in 0..args.pollers {
        let user = User::new(1_000 + p as u64, &server_pk);
        polls.push(tokio::spawn(client(
            addr,
            server_pk,
            user,
            poll_kind,
            args.size,
            head,
            stop.clone(),
        )));
    }
    let mut posts = Vec::new();
    for p in 0..posters {
        let user = User::new(p as u64, &server_pk);
        posts.push(tokio::spawn(client(
            addr,
            server_pk,
            user,
            Kind::Post,
            args.size,
            head,
            stop.clone(),
        )));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut poll_out, mut post_out) = (Outcome::default(), Outcome::default());
    for t in polls {
        poll_out.merge(t.await??);
    }
    for t in posts {
        post_out.merge(t.await??);
    }
    Ok((poll_out, post_out, start.elapsed().as_secs_f64()))
}

fn report(op: &str, args: &Args, backend: &str, extra: Value) {
    let mut line = json!({
        "bench": "sogs",
        "op": op,
        "store": backend,
        "pollers": args.pollers,
        "transport": "http",
        "auth": "blind15",
    });
    if let (Value::Object(l), Value::Object(e)) = (&mut line, extra) {
        l.extend(e);
    }
    println!("{line}");
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = open_database(
        args.database_url.as_deref(),
        dir.path(),
        Retention::default(),
    )
    .context("opening the bench store")?;
    let backend = if args.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let key = X25519Keypair::generate()?;
    let server_pk = *key.public();
    let now = SystemClock.now_secs();
    store.create_room(
        &NewRoom {
            token: ROOM.into(),
            name: "Bench".into(),
            description: Some("session-bench sogs".into()),
            defaults: RoomDefaults::default(),
        },
        now,
    )?;
    // Posters are room admins (no post rate limit); one of them prefills the room.
    for p in 0..args.posters.max(1) {
        let id = User::new(p as u64, &server_pk).blinded.account_id();
        store.set_moderator(
            Scope::Room(ROOM),
            &id,
            &ModeratorChange {
                admin: Some(true),
                ..ModeratorChange::default()
            },
            now,
        )?;
    }
    let author = User::new(0, &server_pk).blinded.account_id();
    for i in 0..args.prefill {
        store.post_message(
            ROOM,
            &NewPost {
                author,
                data: vec![(i % 251) as u8; args.size.max(16)],
                signature: [0; 64],
                whisper_to: None,
                whisper_mods: false,
                files: Vec::new(),
                filtered: false,
            },
            now,
        )?;
    }

    let sogs = Sogs::new(
        store.clone(),
        SystemClock::shared(),
        key,
        SogsSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let server = tokio::spawn(serve(sogs, listener, shutdown));

    if selected(&args, "poll") {
        let (mut polls, _, secs) = measure(&args, addr, server_pk, &store, Kind::Poll, 0).await?;
        report("poll", &args, backend, polls.fields(secs));
    }
    if selected(&args, "batch_poll") {
        let (mut polls, _, secs) =
            measure(&args, addr, server_pk, &store, Kind::BatchPoll, 0).await?;
        report("batch_poll", &args, backend, polls.fields(secs));
    }
    if selected(&args, "mixed") {
        let (mut polls, mut posts, secs) =
            measure(&args, addr, server_pk, &store, Kind::Poll, args.posters).await?;
        let total = polls.ok + posts.ok;
        report(
            "mixed",
            &args,
            backend,
            json!({
                "posters": args.posters,
                "bytes": args.size,
                "seconds": round1(secs),
                "req_per_s": round1(total as f64 / secs),
                "poll": polls.fields(secs),
                "post": posts.fields(secs),
            }),
        );
    }

    trigger.trigger();
    server.await??;
    Ok(())
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}
