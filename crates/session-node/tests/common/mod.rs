//! Test harness: a real node (HTTPS on 127.0.0.1:0, SQLite in a temp dir, mock clock)
//! and a small client with signing helpers.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use session_crypto::{Ed25519Keypair, Ed25519Seed};
use session_node::network::NetworkView;
use session_node::store::{MessageStore, StoreFutureExt};
use session_node::{NodeBuilder, NodeConfig};
use session_rt::http::HttpConnection;
use session_rt::{MockClock, ShutdownTrigger};
/// The shared known-answer vectors (`load(domain)`, `vector(domain, id)`).
pub use session_testvectors::*;

/// The fixed start of virtual time (2023-11-14T22:13:20Z).
pub const T0: u64 = 1_700_000_000_000;

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
        .unwrap()
}

/// Options of a test node.
pub struct Opts {
    pub data_dir: Option<PathBuf>,
    pub clock: MockClock,
    pub tls: bool,
    pub rate_limit: u32,
    pub max_db_size: u64,
    pub network: Option<Arc<dyn NetworkView>>,
    pub hardfork: [u8; 2],
    pub memory: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            data_dir: None,
            clock: MockClock::new(T0),
            tls: true,
            rate_limit: 0,
            max_db_size: 1 << 30,
            network: None,
            hardfork: [19, 4],
            memory: false,
        }
    }
}

/// A running node.
pub struct TestNode {
    pub addr: SocketAddr,
    pub tls: bool,
    pub clock: MockClock,
    pub store: Arc<dyn MessageStore>,
    pub node_pubkey: [u8; 32],
    pub data_dir: PathBuf,
    trigger: Option<ShutdownTrigger>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestNode {
    pub async fn start() -> Self {
        Self::start_with(Opts::default()).await
    }

    pub async fn start_with(opts: Opts) -> Self {
        let (tmp, data_dir) = match opts.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_owned();
                (Some(t), p)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = NodeConfig {
            data_dir: data_dir.clone(),
            listen: listener.local_addr().unwrap(),
            tls: opts.tls,
            rate_limit_per_second: opts.rate_limit,
            rate_limit_burst: opts.rate_limit.saturating_mul(2),
            max_db_size: opts.max_db_size,
            hardfork: opts.hardfork,
            store: if opts.memory {
                session_node::config::StoreBackend::Memory
            } else {
                session_node::config::StoreBackend::Sqlite
            },
            drain_timeout_secs: 5,
            ..NodeConfig::default()
        };
        let mut b = NodeBuilder::new(config).clock(opts.clock.shared());
        if let Some(n) = opts.network {
            b = b.network(n);
        }
        let node = b.build(&listener).unwrap();
        let addr = node.local_addr();
        let store = node.rpc().store().clone();
        let node_pubkey = node.identity().ed25519_public();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let task = tokio::spawn(async move {
            node.run(listener, shutdown).await.unwrap();
        });
        Self {
            addr,
            tls: opts.tls,
            clock: opts.clock,
            store,
            node_pubkey,
            data_dir,
            trigger: Some(trigger),
            task: Some(task),
            _tmp: tmp,
        }
    }

    pub async fn client(&self) -> Client {
        Client {
            conn: HttpConnection::connect(self.addr, self.tls).await.unwrap(),
        }
    }

    pub fn now(&self) -> u64 {
        use session_rt::Clock;
        self.clock.now_ms()
    }

    pub fn count(&self) -> usize {
        self.store.message_count().wait().unwrap()
    }

    /// Stops the node and waits for it (in-flight requests drain).
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(t) = self.trigger.take() {
            t.trigger();
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self._tmp.take()
    }

    /// Verifies a node signature over `msg`.
    pub fn verify_node_sig(&self, msg: &[u8], sig_b64: &str) {
        session_crypto::ed25519::verify(&self.node_pubkey, msg, &unb64(sig_b64))
            .expect("node signature verifies");
    }

    pub fn node_hex(&self) -> String {
        hex::encode(self.node_pubkey)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// A reply: status and either parsed JSON or text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub text: String,
    pub content_type: String,
}

pub struct Client {
    pub conn: HttpConnection,
}

impl Client {
    pub async fn raw(&mut self, body: impl Into<bytes::Bytes>) -> Reply {
        let r = self.conn.post("/storage_rpc/v1", body).await.unwrap();
        let text = r.text();
        Reply {
            status: r.status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            content_type: r.header("content-type").unwrap_or("").to_owned(),
            text,
        }
    }

    pub async fn rpc(&mut self, method: &str, params: Value) -> Reply {
        let body = json!({"method": method, "params": params}).to_string();
        self.raw(body).await
    }
}

/// A Session account (05 + X25519) with its Ed25519 key.
#[derive(Clone)]
pub struct User {
    pub ed: Ed25519Keypair,
}

impl User {
    pub fn new(n: u8) -> Self {
        Self {
            ed: Ed25519Keypair::from_seed(Ed25519Seed::from_array([n; 32])),
        }
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            ed: Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed)),
        }
    }

    /// `05` + X25519 public key.
    pub fn session_id(&self) -> String {
        format!("05{}", hex::encode(self.ed.to_x25519().public()))
    }

    pub fn ed_hex(&self) -> String {
        hex::encode(self.ed.public().as_bytes())
    }

    /// The Ed25519 key under another prefix (03 groups, or raw-key accounts).
    pub fn id_with_prefix(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.ed_hex())
    }

    pub fn sign(&self, msg: &[u8]) -> String {
        b64(&self.ed.sign(msg))
    }

    /// Signed retrieve params for this user's Session ID.
    pub fn retrieve(&self, ns: i16, ts: u64) -> Value {
        let ns_str = if ns == 0 {
            String::new()
        } else {
            ns.to_string()
        };
        json!({
            "pubkey": self.session_id(),
            "pubkey_ed25519": self.ed_hex(),
            "namespace": ns,
            "timestamp": ts,
            "signature": self.sign(format!("retrieve{ns_str}{ts}").as_bytes()),
        })
    }

    /// Signed store params for this user's Session ID.
    pub fn store(&self, ns: i16, ts: u64, ttl: u64, data: &[u8]) -> Value {
        let ns_str = if ns == 0 {
            String::new()
        } else {
            ns.to_string()
        };
        json!({
            "pubkey": self.session_id(),
            "pubkey_ed25519": self.ed_hex(),
            "namespace": ns,
            "timestamp": ts,
            "ttl": ttl,
            "data": b64(data),
            "signature": self.sign(format!("store{ns_str}{ts}").as_bytes()),
        })
    }
}

/// Unsigned store params (public inbox).
pub fn plain_store(pubkey: &str, ns: i16, ts: u64, ttl: u64, data: &[u8]) -> Value {
    json!({"pubkey": pubkey, "namespace": ns, "timestamp": ts, "ttl": ttl, "data": b64(data)})
}

/// The expected hash (spec §5.1), computed independently of the node's code.
pub fn expected_hash(pubkey_hex: &str, ns: i16, data: &[u8]) -> String {
    let pk = hex::decode(pubkey_hex).unwrap();
    let ns_str = if ns == 0 {
        String::new()
    } else {
        ns.to_string()
    };
    let d: [u8; 32] = session_crypto::hash::blake2b::<32>(&[&pk, ns_str.as_bytes(), data]);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
}

/// The swarm entry of this node in a recursive response.
pub fn mine<'a>(node: &TestNode, r: &'a Reply) -> &'a Value {
    &r.json["swarm"][node.node_hex()]
}
