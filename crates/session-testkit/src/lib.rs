//! An in-process Session network for tests (the "testing" layer): a real registry
//! (SQLite in a temp dir, JSON-RPC on 127.0.0.1, port 0) and N real service nodes
//! (each with its own data dir, SQLite store and HTTP listener on 127.0.0.1, port 0,
//! following the registry with `register = true`), all on one [`MockClock`].
//!
//! Nothing happens behind the test's back: blocks are produced only by
//! [`TestNetwork::produce_block`], and [`TestNetwork::sync`] makes every running node
//! poll the registry at once (waiting, bounded, only for a node's own background task
//! where one must catch up, e.g. a registration at start-up).
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_testkit::TestkitError> {
//! let mut net = session_testkit::TestNetwork::start(14).await?;
//! assert_eq!(net.registry_swarms().len(), 2);
//! net.add_nodes(7).await?;
//! net.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod faults;
pub mod onion;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use session_crypto::{Ed25519Keypair, Ed25519Seed};
use session_node::config::{RegistrySettings, RegistryUrl, StoreBackend};
use session_node::registry::{FollowerStatus, RegistryFollower};
use session_node::store::MessageStore;
use session_node::swarm::{Forwarder, HandOver};
use session_node::testing::{RoundReport, Tester};
use session_node::{NodeBuilder, NodeConfig, NodeError};
use session_registry::block::Block;
use session_registry::store::sqlite::SqliteStore;
use session_registry::{ChainParams, Registry, RegistryError};
use session_rt::http::HttpConnection;
use session_rt::{Clock, MockClock, ShutdownTrigger};
use session_swarm::{SwarmId, SwarmIds};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The fixed start of virtual time (2023-11-14T22:13:20Z).
pub const T0: u64 = 1_700_000_000_000;
/// Virtual time between two blocks.
pub const BLOCK_INTERVAL_MS: u64 = 2_000;
/// How often the nodes' background pollers wake (virtual time; tests use
/// [`TestNetwork::sync`] instead of waiting for them).
pub const POLL_INTERVAL_MS: u64 = 1_000;
/// The longest a bounded wait for a background task may take before the test fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// What can go wrong while running a test network.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The registry failed.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// A node failed.
    #[error("node: {0}")]
    Node(#[from] NodeError),
    /// The runtime helpers failed (e.g. an HTTP request).
    #[error("runtime: {0}")]
    Rt(#[from] session_rt::RtError),
    /// A socket or temp-dir operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A background task did not catch up in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// A node index that does not exist, or a node in the wrong state.
    #[error("node {index}: {reason}")]
    BadNode {
        /// The index.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A background task panicked or was cancelled.
    #[error("task failed: {0}")]
    Task(String),
}

/// Shorthand.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}

/// Small, fast chain parameters (a 100 SESH stake, short timers).
pub fn test_chain_params() -> ChainParams {
    ChainParams {
        network: "testkit".into(),
        staking_requirement: 100_000_000_000,
        ..ChainParams::default()
    }
}

/// [`test_chain_params`] with governance timers short enough to watch a node fail and
/// recover in a few dozen blocks: proofs every 10 s (5 s minimum spacing), valid 25 s,
/// so a node failing its tests for 15 s is voted out.
pub fn fast_governance_params() -> ChainParams {
    ChainParams {
        uptime_proof_min_interval_secs: 5,
        uptime_proof_validity_secs: 25,
        ..test_chain_params()
    }
}

/// One service node of a [`TestNetwork`].
#[derive(Debug)]
pub struct TestNode {
    index: usize,
    data_dir: PathBuf,
    addr: SocketAddr,
    pubkey: [u8; 32],
    follower: Arc<RegistryFollower>,
    forwarder: Arc<Forwarder>,
    handover: Arc<HandOver>,
    tester: Arc<Tester>,
    store: Arc<dyn MessageStore>,
    running: Option<(ShutdownTrigger, JoinHandle<Result<(), NodeError>>)>,
}

impl TestNode {
    /// Position in the network (0-based, in order of addition).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The node's Ed25519 public key.
    pub fn pubkey(&self) -> [u8; 32] {
        self.pubkey
    }

    /// The node's Ed25519 public key, hex.
    pub fn pubkey_hex(&self) -> String {
        hex::encode(self.pubkey)
    }

    /// The HTTP address (plain HTTP: `tls = false`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data directory (node key, `storage.db`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether the node is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The node's registry follower (its view, status and `refresh`).
    pub fn follower(&self) -> &Arc<RegistryFollower> {
        &self.follower
    }

    /// The forwarder of client writes (and its retry queue).
    pub fn forwarder(&self) -> &Arc<Forwarder> {
        &self.forwarder
    }

    /// The swarm hand-over runner.
    pub fn handover(&self) -> &Arc<HandOver> {
        &self.handover
    }

    /// The peer tester.
    pub fn tester(&self) -> &Arc<Tester> {
        &self.tester
    }

    /// The node's message store (in-process access).
    pub fn store(&self) -> &Arc<dyn MessageStore> {
        &self.store
    }

    /// The follower's status.
    pub fn status(&self) -> FollowerStatus {
        self.follower.status()
    }

    /// POSTs a storage RPC `{method, params}` to the node; returns the HTTP status and
    /// the JSON body (`Value::String` of the text when the body is not JSON).
    pub async fn rpc(&self, method: &str, params: Value) -> Result<(u16, Value)> {
        let mut conn = HttpConnection::connect(self.addr, false).await?;
        let body = json!({"method": method, "params": params}).to_string();
        let r = conn.post("/storage_rpc/v1", body).await?;
        let v = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()));
        Ok((r.status, v))
    }

    /// `get_swarm` for `pubkey` (66 hex characters).
    pub async fn get_swarm(&self, pubkey: &str) -> Result<(u16, Value)> {
        self.rpc("get_swarm", json!({"pubkey": pubkey})).await
    }
}

/// A test account: a Session ID (`05` + X25519) with its Ed25519 key, and signed
/// storage requests.
#[derive(Debug, Clone)]
pub struct TestAccount {
    ed: Ed25519Keypair,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl TestAccount {
    /// The account with a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            ed: Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed)),
        }
    }

    /// The account whose seed is `n` repeated.
    pub fn new(n: u8) -> Self {
        Self::from_seed([n; 32])
    }

    /// The X25519 key (the 32 bytes after the `05` prefix, which pick the swarm).
    pub fn x25519(&self) -> [u8; 32] {
        *self.ed.to_x25519().public()
    }

    /// `05` + X25519 public key, hex.
    pub fn session_id(&self) -> String {
        format!("05{}", hex::encode(self.x25519()))
    }

    /// Signed `store` params (storage-node §2.4, §3.2: signature over
    /// `"store" ‖ namespace (omitted when 0) ‖ timestamp`).
    pub fn store(&self, namespace: i16, timestamp_ms: u64, ttl_ms: u64, data: &[u8]) -> Value {
        let ns = if namespace == 0 {
            String::new()
        } else {
            namespace.to_string()
        };
        let sig = self.ed.sign(format!("store{ns}{timestamp_ms}").as_bytes());
        json!({
            "pubkey": self.session_id(),
            "pubkey_ed25519": hex::encode(self.ed.public().0),
            "namespace": namespace,
            "timestamp": timestamp_ms,
            "ttl": ttl_ms,
            "data": b64(data),
            "signature": b64(&sig),
        })
    }

    /// Signed `delete` params (signature over `"delete" ‖ hash ‖ hash …`, no timestamp).
    pub fn delete(&self, hashes: &[&str], _now_ms: u64) -> Value {
        let mut msg = b"delete".to_vec();
        for h in hashes {
            msg.extend_from_slice(h.as_bytes());
        }
        let sig = self.ed.sign(&msg);
        json!({
            "pubkey": self.session_id(),
            "pubkey_ed25519": hex::encode(self.ed.public().0),
            "messages": hashes,
            "signature": b64(&sig),
        })
    }

    /// Signed `retrieve` params (signature over `"retrieve" ‖ namespace ‖ timestamp`).
    pub fn retrieve(&self, namespace: i16, timestamp_ms: u64) -> Value {
        let ns = if namespace == 0 {
            String::new()
        } else {
            namespace.to_string()
        };
        let sig = self
            .ed
            .sign(format!("retrieve{ns}{timestamp_ms}").as_bytes());
        json!({
            "pubkey": self.session_id(),
            "pubkey_ed25519": hex::encode(self.ed.public().0),
            "namespace": namespace,
            "timestamp": timestamp_ms,
            "signature": b64(&sig),
        })
    }
}

/// A registry and its nodes, in process.
#[derive(Debug)]
pub struct TestNetwork {
    clock: MockClock,
    registry: Registry,
    registry_addr: SocketAddr,
    registry_run: Option<(ShutdownTrigger, JoinHandle<Result<(), RegistryError>>)>,
    nodes: Vec<TestNode>,
    proof_interval_secs: u64,
    root: tempfile::TempDir,
}

impl TestNetwork {
    /// A registry with [`test_chain_params`] and `n` registered, synced nodes.
    pub async fn start(n: usize) -> Result<Self> {
        Self::start_with(test_chain_params(), n).await
    }

    /// A registry with `params` and `n` registered, synced nodes.
    pub async fn start_with(params: ChainParams, n: usize) -> Result<Self> {
        let root = tempfile::tempdir().map_err(io("create a temp dir"))?;
        let clock = MockClock::new(T0);
        let reg_dir = root.path().join("registry");
        session_rt::fs::ensure_dir(&reg_dir)?;
        let store = Arc::new(SqliteStore::open(&reg_dir)?);
        let registry = Registry::with_store(
            store,
            &params,
            clock.shared(),
            BLOCK_INTERVAL_MS,
            Duration::from_secs(5),
        )?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(io("bind the registry"))?;
        let registry_addr = listener.local_addr().map_err(io("registry address"))?;
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let r = registry.clone();
        let task = tokio::spawn(async move { r.serve(listener, shutdown).await });
        let mut net = Self {
            clock,
            registry,
            registry_addr,
            registry_run: Some((trigger, task)),
            nodes: Vec::new(),
            proof_interval_secs: params.uptime_proof_frequency_secs(),
            root,
        };
        if n > 0 {
            net.add_nodes(n).await?;
        }
        Ok(net)
    }

    /// The shared mock clock.
    pub fn clock(&self) -> &MockClock {
        &self.clock
    }

    /// Current virtual time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The registry (in-process access: state, submit, produce).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry's JSON-RPC URL.
    pub fn registry_url(&self) -> String {
        format!("http://{}/json_rpc", self.registry_addr)
    }

    /// The nodes (running or stopped), in order of addition.
    pub fn nodes(&self) -> &[TestNode] {
        &self.nodes
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> Result<&TestNode> {
        self.nodes.get(i).ok_or(TestkitError::BadNode {
            index: i,
            reason: "no such node",
        })
    }

    fn node_config(&self, data_dir: &Path, listen: SocketAddr, index: usize) -> NodeConfig {
        NodeConfig {
            data_dir: data_dir.to_owned(),
            listen,
            tls: false,
            public_ip: Ipv4Addr::LOCALHOST,
            omq_port: u16::try_from(20_000 + index % 40_000).unwrap_or(20_000),
            store: StoreBackend::Sqlite,
            rate_limit_per_second: 0,
            drain_timeout_secs: 5,
            uptime_proof_interval_secs: self.proof_interval_secs,
            // Tests run the testing rounds themselves (`run_tests`).
            peer_testing: false,
            registry: Some(RegistrySettings {
                url: RegistryUrl {
                    tls: false,
                    host: self.registry_addr.ip().to_string(),
                    port: self.registry_addr.port(),
                    path: "/json_rpc".into(),
                },
                poll_interval_ms: POLL_INTERVAL_MS,
                register: true,
            }),
            ..NodeConfig::default()
        }
    }

    /// Builds node `index` on `listener` (on `store` when given) and spawns it.
    fn spawn_node(
        &self,
        index: usize,
        data_dir: &Path,
        listener: TcpListener,
        store: Option<Arc<dyn MessageStore>>,
    ) -> Result<TestNode> {
        let addr = listener.local_addr().map_err(io("node address"))?;
        let cfg = self.node_config(data_dir, addr, index);
        let mut builder = NodeBuilder::new(cfg).clock(self.clock.shared());
        if let Some(s) = store {
            builder = builder.store(s);
        }
        let node = builder.build(&listener)?;
        let missing = |reason| TestkitError::BadNode { index, reason };
        let follower = node
            .follower()
            .cloned()
            .ok_or(missing("built without a registry follower"))?;
        let handover = node
            .handover()
            .cloned()
            .ok_or(missing("built without a hand-over"))?;
        let tester = node
            .tester()
            .cloned()
            .ok_or(missing("built without a tester"))?;
        let forwarder = node.forwarder().clone();
        let store = node.rpc().store().clone();
        let pubkey = node.identity().ed25519_public();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let task = tokio::spawn(node.run(listener, shutdown));
        Ok(TestNode {
            index,
            data_dir: data_dir.to_owned(),
            addr,
            pubkey,
            follower,
            forwarder,
            handover,
            tester,
            store,
            running: Some((trigger, task)),
        })
    }

    /// Starts `k` new nodes, waits until each has submitted its registration, produces a
    /// block and syncs every node. Returns the new nodes' indices.
    pub async fn add_nodes(&mut self, k: usize) -> Result<Vec<usize>> {
        self.add_nodes_with(k, |_| None).await
    }

    /// [`TestNetwork::add_nodes`] where node *i* (0-based among the new ones) runs on
    /// `store(i)` when that is `Some` (a faulty store, for tests of misbehaving nodes).
    pub async fn add_nodes_with(
        &mut self,
        k: usize,
        store: impl Fn(usize) -> Option<Arc<dyn MessageStore>>,
    ) -> Result<Vec<usize>> {
        let first = self.nodes.len();
        for index in first..first + k {
            let dir = self.root.path().join(format!("node-{index}"));
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(io("bind a node"))?;
            let node = self.spawn_node(index, &dir, listener, store(index - first))?;
            self.nodes.push(node);
        }
        for node in &self.nodes[first..] {
            wait_status(node, "its registration", |s| {
                s.registration_submitted || s.listed
            })
            .await?;
        }
        self.produce_block().await?;
        self.sync().await?;
        Ok((first..first + k).collect())
    }

    /// Advances the clock by one block interval and produces a block.
    pub async fn produce_block(&self) -> Result<Block> {
        self.clock.advance(Duration::from_millis(BLOCK_INTERVAL_MS));
        let r = self.registry.clone();
        tokio::task::spawn_blocking(move || r.produce_block())
            .await
            .map_err(|e| TestkitError::Task(e.to_string()))?
            .map_err(TestkitError::from)
    }

    /// Makes every running node poll the registry now and waits until each has seen the
    /// top block.
    pub async fn sync(&self) -> Result<()> {
        let top = self.registry.state().top_hash.to_hex();
        let mut set = tokio::task::JoinSet::new();
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let f = node.follower.clone();
            set.spawn(async move { f.refresh().await });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| TestkitError::Task(e.to_string()))??;
        }
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            wait_status(node, "the top block", |s| {
                s.block_hash.as_deref() == Some(top.as_str())
            })
            .await?;
        }
        // The hand-overs the new node lists started.
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let mut rx = node.handover.subscribe();
            let done = rx.wait_for(|s| s.handled.as_deref() == Some(top.as_str()) && !s.busy);
            match tokio::time::timeout(WAIT_LIMIT, done).await {
                Ok(Ok(_)) => {}
                _ => {
                    return Err(TestkitError::Timeout(format!(
                        "node {} to hand over its records (status {:?})",
                        node.index,
                        node.handover.status()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Runs the testing round of the current block on every running node (validators
    /// test their workers and vote). Returns the validators' reports.
    pub async fn run_tests(&self) -> Result<Vec<RoundReport>> {
        let mut set = tokio::task::JoinSet::new();
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let t = node.tester.clone();
            set.spawn(async move { t.run_round().await });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            let report = r.map_err(|e| TestkitError::Task(e.to_string()))??;
            if report.validator {
                out.push(report);
            }
        }
        Ok(out)
    }

    /// Delivers every due forward in every running node's retry queue; returns how
    /// many were delivered.
    pub async fn retry_forwards(&self) -> usize {
        let mut n = 0;
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            n += node.forwarder.retry_due().await;
        }
        n
    }

    /// Produces a block and syncs every node.
    pub async fn advance_block(&self) -> Result<Block> {
        let b = self.produce_block().await?;
        self.sync().await?;
        Ok(b)
    }

    /// Stops node `i` (in-flight requests drain); its data dir is kept.
    pub async fn stop_node(&mut self, i: usize) -> Result<()> {
        let node = self.nodes.get_mut(i).ok_or(TestkitError::BadNode {
            index: i,
            reason: "no such node",
        })?;
        let (trigger, task) = node.running.take().ok_or(TestkitError::BadNode {
            index: i,
            reason: "not running",
        })?;
        trigger.trigger();
        task.await
            .map_err(|e| TestkitError::Task(e.to_string()))??;
        Ok(())
    }

    /// Restarts stopped node `i` on its data dir (same key), on its old port when free,
    /// and syncs it.
    pub async fn start_node(&mut self, i: usize) -> Result<()> {
        let old = self.node(i)?;
        if old.is_running() {
            return Err(TestkitError::BadNode {
                index: i,
                reason: "already running",
            });
        }
        let dir = old.data_dir.clone();
        let listener = match TcpListener::bind(old.addr).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(io("bind a node"))?,
        };
        let node = self.spawn_node(i, &dir, listener, None)?;
        node.follower.refresh().await?;
        self.nodes[i] = node;
        Ok(())
    }

    /// The registry's swarms: swarm id → member keys (ascending), active nodes only.
    pub fn registry_swarms(&self) -> BTreeMap<SwarmId, Vec<[u8; 32]>> {
        let st = self.registry.state();
        let mut out: BTreeMap<SwarmId, Vec<[u8; 32]>> = BTreeMap::new();
        for n in st.active_nodes() {
            if let Some(id) = SwarmId(n.swarm_id).assigned() {
                out.entry(id).or_default().push(n.pubkey_ed25519.0);
            }
        }
        for members in out.values_mut() {
            members.sort_unstable();
        }
        out
    }

    /// The swarm `key` (the 32 bytes after an account's prefix) maps to, by
    /// `session-swarm`'s mapping over the registry's swarms.
    pub fn swarm_of_key(&self, key: &[u8; 32]) -> Option<SwarmId> {
        SwarmIds::new(self.registry_swarms().into_keys())
            .ok()
            .map(|ids| ids.for_key(key))
    }

    /// Indices of the running nodes in swarm `id` (by the registry).
    pub fn nodes_in(&self, id: SwarmId) -> Vec<usize> {
        let members = self.registry_swarms().remove(&id).unwrap_or_default();
        self.nodes
            .iter()
            .filter(|n| n.is_running() && members.contains(&n.pubkey))
            .map(|n| n.index)
            .collect()
    }

    /// Stops every node, then the registry.
    pub async fn shutdown(mut self) -> Result<()> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_running() {
                self.stop_node(i).await?;
            }
        }
        if let Some((trigger, task)) = self.registry_run.take() {
            trigger.trigger();
            task.await
                .map_err(|e| TestkitError::Task(e.to_string()))??;
        }
        Ok(())
    }
}

/// Waits (bounded by [`WAIT_LIMIT`]) until `node`'s follower status satisfies `ok`.
async fn wait_status(
    node: &TestNode,
    what: &str,
    ok: impl Fn(&FollowerStatus) -> bool,
) -> Result<()> {
    let mut rx = node.follower.subscribe();
    match tokio::time::timeout(WAIT_LIMIT, rx.wait_for(|s| ok(s))).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(TestkitError::Timeout(format!(
            "node {} to report {what} (status {:?})",
            node.index,
            node.status()
        ))),
    }
}
