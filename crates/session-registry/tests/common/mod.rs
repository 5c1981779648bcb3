//! Test harness: a real registry (HTTP on 127.0.0.1:0, SQLite in a temp dir, mock clock,
//! blocks produced explicitly) and helpers to make signed transactions.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use session_crypto::{Ed25519Keypair, Ed25519Seed};
use session_registry::block::Block;
use session_registry::proof::UptimeProof;
use session_registry::store::BlockStore;
use session_registry::store::memory::MemoryStore;
use session_registry::store::sqlite::SqliteStore;
use session_registry::tx::{Contribution, Registration};
use session_registry::types::Address;
use session_registry::{ChainParams, Registry};
use session_rt::http::HttpConnection;
use session_rt::{MockClock, ShutdownTrigger};

/// The fixed start of virtual time (2023-11-14T22:13:20Z).
pub const T0: u64 = 1_700_000_000_000;
/// One SESH in atomic units.
pub const SESH: u64 = 1_000_000_000;

/// Small, fast chain parameters for tests.
pub fn test_params() -> ChainParams {
    ChainParams {
        network: "testnet-under-test".into(),
        staking_requirement: 100 * SESH,
        unlock_blocks: 3,
        quorum_size: 3,
        votes_needed: 2,
        vote_lifetime_blocks: 10,
        initial_credit_blocks: 4,
        max_credit_blocks: 20,
        decommission_min_credit_blocks: 2,
        credit_blocks_per_block: 2,
        block_reward: 10 * SESH,
        payable_after_blocks: 1,
        uptime_proof_min_interval_secs: 30,
        ..ChainParams::default()
    }
}

/// A node key from a one-byte seed.
pub fn node_key(i: u8) -> Ed25519Keypair {
    let mut seed = [i; 32];
    seed[0] = 0xA5;
    Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed))
}

/// A contributor address.
pub fn addr(i: u8) -> Address {
    Address([i; 20])
}

/// A signed solo registration (the operator stakes everything) for node `i`.
pub fn solo_registration(i: u8, p: &ChainParams) -> Registration {
    let key = node_key(i);
    Registration::new(
        &key,
        Ipv4Addr::new(10, 0, 0, i),
        (22021, 22020, 22025),
        1000,
        vec![Contribution {
            address: addr(i),
            amount: p.staking_requirement,
        }],
    )
    .signed(&key)
}

/// A valid uptime proof for node `i` at unix time `t`.
pub fn proof(i: u8, t: u64) -> UptimeProof {
    UptimeProof {
        pubkey_ed25519: node_key(i).public().0,
        public_ip: Ipv4Addr::new(10, 1, 0, i),
        l2_height: None,
        lokinet_version: None,
        quorumnet_port: 23025,
        storage_https_port: 23021,
        storage_omq_port: 23020,
        storage_server_version: [2, 8, 0],
        timestamp: t,
        version: [11, 0, 6],
    }
}

/// A running registry.
pub struct TestRegistry {
    pub addr: SocketAddr,
    pub clock: MockClock,
    pub reg: Registry,
    pub dir: PathBuf,
    pub params: ChainParams,
    trigger: Option<ShutdownTrigger>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestRegistry {
    /// A registry with [`test_params`] in a fresh temp dir.
    pub async fn start() -> Self {
        Self::start_with(test_params()).await
    }

    /// A registry with `params` in a fresh temp dir.
    pub async fn start_with(params: ChainParams) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let mut r = Self::start_in(dir, params, MockClock::new(T0)).await;
        r._tmp = Some(tmp);
        r
    }

    /// A registry on the SQLite chain in `dir` (created if needed).
    pub async fn start_in(dir: PathBuf, params: ChainParams, clock: MockClock) -> Self {
        let store: Arc<dyn BlockStore> = Arc::new(SqliteStore::open(&dir).unwrap());
        let reg =
            Registry::with_store(store, &params, clock.shared(), 2000, Duration::from_secs(5))
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let r2 = reg.clone();
        let task = tokio::spawn(async move {
            r2.serve(listener, shutdown).await.unwrap();
        });
        Self {
            addr,
            clock,
            reg,
            dir,
            params,
            trigger: Some(trigger),
            task: Some(task),
            _tmp: None,
        }
    }

    /// Raw JSON-RPC call: (HTTP status, whole response).
    pub async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        self.post(&body.to_string()).await
    }

    /// POSTs raw text to /json_rpc.
    pub async fn post(&self, body: &str) -> (u16, Value) {
        let mut c = HttpConnection::connect(self.addr, false).await.unwrap();
        let r = c.post("/json_rpc", body.to_owned()).await.unwrap();
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    /// A call that must succeed; returns `result`.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, v) = self.call(method, params).await;
        assert_eq!(status, 200, "{method}: {v}");
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], 7);
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// A call that must fail with HTTP 400 and error kind `kind`; returns the error.
    pub async fn rejected(&self, method: &str, params: Value, kind: &str) -> Value {
        let (status, v) = self.call(method, params).await;
        assert_eq!(v["error"]["data"]["kind"], kind, "{method}: {v}");
        assert_eq!(status, 400, "{method}: {v}");
        assert!(v.get("result").is_none());
        v["error"].clone()
    }

    /// Produces a block now.
    pub fn produce(&self) -> Block {
        self.reg.produce_block().unwrap()
    }

    /// Advances the clock by `secs` and produces a block.
    pub fn produce_after(&self, secs: u64) -> Block {
        self.clock.advance(Duration::from_secs(secs));
        self.produce()
    }

    /// Unix seconds on the mock clock.
    pub fn now_secs(&self) -> u64 {
        use session_rt::Clock;
        self.clock.now_ms() / 1000
    }

    /// Registers solo nodes `ids` over RPC (no block).
    pub async fn register(&self, ids: &[u8]) {
        for &i in ids {
            let r = solo_registration(i, &self.params);
            self.ok("register_service_node", serde_json::to_value(&r).unwrap())
                .await;
        }
    }

    /// `get_service_nodes` with `params`.
    pub async fn nodes(&self, params: Value) -> Value {
        self.ok("get_service_nodes", params).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(t) = self.trigger.take() {
            t.trigger();
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .unwrap()
                .unwrap();
        }
    }
}

/// (validators, workers) of the testing quorum at `height`, as node numbers (1..=60).
pub async fn quorum_ids(t: &TestRegistry, height: u64) -> (Vec<u8>, Vec<u8>) {
    let q = t
        .ok("get_quorum_state", json!({"start_height": height}))
        .await;
    let to_ids = |list: &Value| -> Vec<u8> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (1..=60u8)
                    .find(|&i| hex::encode(node_key(i).public().0) == k.as_str().unwrap())
                    .unwrap()
            })
            .collect()
    };
    let qq = &q["quorums"][0]["quorum"];
    (to_ids(&qq["validators"]), to_ids(&qq["workers"]))
}

/// The `get_service_nodes` entry of node `i` (all fields), if listed.
pub async fn node_entry(t: &TestRegistry, i: u8) -> Option<Value> {
    let k = hex::encode(node_key(i).public().0);
    let r = t.nodes(json!({"service_node_pubkeys": [k]})).await;
    r["service_node_states"]
        .as_array()
        .unwrap()
        .first()
        .cloned()
}

/// An in-process registry on a memory store (no HTTP), for property tests.
pub fn memory_registry(params: &ChainParams, clock: &MockClock) -> Registry {
    Registry::with_store(
        Arc::new(MemoryStore::new()),
        params,
        clock.shared(),
        2000,
        Duration::from_secs(1),
    )
    .unwrap()
}
