//! The node directory (client-protocol §8.1): the service nodes a client knows, where
//! they came from, and which of them misbehaved.
//!
//! * [`Snode`]: one node's keys, storage address and swarm.
//! * The request bodies and answer parsers of the node-list sources: the registry's
//!   `get_n_service_nodes` JSON-RPC ([`registry_request_body`]), a node's
//!   `oxend_request` → `get_service_nodes` ([`oxend_request_params`]) and a node's
//!   `get_swarm` / 421 answer ([`parse_swarm`]). Unusable entries (IP `0.0.0.0` or
//!   empty, port 0, bad keys) are dropped, as desktop does.
//! * [`accept_intersection`]: lists fetched from several nodes are merged by keeping
//!   the nodes all of them name, so one lying node cannot inject nodes of its choice.
//! * [`NodeDirectory`]: the pool itself, with failure counting (a node is dropped after
//!   [`NODE_FAILURE_LIMIT`] failures, or at once when a hop reports it unknown) and a
//!   memory of dropped nodes so a refresh does not bring them straight back.
//!
//! Everything here is pure; the fetching lives in the client.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

use crate::error::{ClientError, Result};
use crate::rng::Rng;

/// Failures after which a node is dropped from the directory.
pub const NODE_FAILURE_LIMIT: u32 = 3;

/// A service node as the client knows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Snode {
    /// Ed25519 public key (names the node in relay controls).
    pub ed25519: [u8; 32],
    /// X25519 public key (onion layers are encrypted to it).
    pub x25519: [u8; 32],
    /// Storage (HTTPS) address.
    pub addr: SocketAddr,
    /// Swarm id (`u64::MAX` = no swarm).
    pub swarm_id: u64,
}

impl Snode {
    /// The Ed25519 key as hex.
    pub fn ed25519_hex(&self) -> String {
        hex::encode(self.ed25519)
    }
}

impl fmt::Debug for Snode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public keys are public; the short prefix keeps logs readable.
        write!(f, "Snode({}… @ {})", &self.ed25519_hex()[..12], self.addr)
    }
}

/// The node fields requested from registries and nodes.
fn wanted_fields() -> Value {
    json!({
        "public_ip": true,
        "storage_port": true,
        "pubkey_x25519": true,
        "pubkey_ed25519": true,
        "swarm_id": true,
    })
}

/// The JSON-RPC body asking a registry (or seed node) for the active nodes.
pub fn registry_request_body() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "get_n_service_nodes",
        "params": {"active_only": true, "fields": wanted_fields()},
    })
}

/// The params of the storage RPC `oxend_request` asking a node for the active nodes.
pub fn oxend_request_params() -> Value {
    json!({
        "endpoint": "get_service_nodes",
        "params": {"active_only": true, "fields": wanted_fields()},
    })
}

fn hex32(v: Option<&Value>) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(v?.as_str()?, &mut out).ok()?;
    Some(out)
}

fn port(v: Option<&Value>) -> Option<u16> {
    let v = v?;
    let n = v
        .as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
    u16::try_from(n).ok().filter(|p| *p != 0)
}

fn usable_ip(v: Option<&Value>) -> Option<IpAddr> {
    let ip: IpAddr = v?.as_str()?.parse().ok()?;
    (!ip.is_unspecified()).then_some(ip)
}

/// One `service_node_states` entry, or `None` when it lacks contact info or keys.
fn node_from_state(v: &Value) -> Option<Snode> {
    Some(Snode {
        ed25519: hex32(v.get("pubkey_ed25519"))?,
        x25519: hex32(v.get("pubkey_x25519"))?,
        addr: SocketAddr::new(usable_ip(v.get("public_ip"))?, port(v.get("storage_port"))?),
        swarm_id: v
            .get("swarm_id")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
    })
}

/// Parses a `get_service_nodes` result (`{"service_node_states": [...]}`); the whole
/// JSON-RPC answer (`{"result": {...}}`) is accepted too. Unusable entries are dropped.
pub fn parse_service_node_states(answer: &Value) -> Result<Vec<Snode>> {
    let result = answer.get("result").unwrap_or(answer);
    let states = result
        .get("service_node_states")
        .and_then(Value::as_array)
        .ok_or_else(|| ClientError::BadReply {
            what: "node list",
            reason: match answer.get("error") {
                Some(e) => format!("error {e}"),
                None => "no service_node_states array".into(),
            },
        })?;
    Ok(states.iter().filter_map(node_from_state).collect())
}

/// Parses a `get_swarm` answer or a 421 body: `{"swarm": "<hex id>", "snodes": [{ip,
/// port_https, pubkey_ed25519, pubkey_x25519, …}]}`. Returns the swarm id and its
/// members (unusable entries dropped).
pub fn parse_swarm(body: &Value) -> Result<(u64, Vec<Snode>)> {
    let bad = |reason: &str| ClientError::BadReply {
        what: "swarm list",
        reason: reason.to_owned(),
    };
    let id = body
        .get("swarm")
        .and_then(Value::as_str)
        .map(|s| u64::from_str_radix(s, 16))
        .transpose()
        .map_err(|_| bad("\"swarm\" is not a hex id"))?
        .unwrap_or(u64::MAX);
    let snodes = body
        .get("snodes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no snodes array"))?;
    let members = snodes
        .iter()
        .filter_map(|s| {
            let port = port(s.get("port_https")).or_else(|| port(s.get("port")))?;
            Some(Snode {
                ed25519: hex32(s.get("pubkey_ed25519"))?,
                x25519: hex32(s.get("pubkey_x25519"))?,
                addr: SocketAddr::new(usable_ip(s.get("ip"))?, port),
                swarm_id: id,
            })
        })
        .collect();
    Ok((id, members))
}

/// The nodes every list names (compared by Ed25519 key; the entry of the first list
/// is kept), or `None` when the lists disagree too much: the intersection must hold at
/// least `min(min_pool, shortest list)` nodes and at least one. Requiring the shortest
/// list's size on a small network means all sources must agree there.
pub fn accept_intersection(lists: &[Vec<Snode>], min_pool: usize) -> Option<Vec<Snode>> {
    let (first, rest) = lists.split_first()?;
    let common: Vec<Snode> = first
        .iter()
        .filter(|n| {
            rest.iter()
                .all(|l| l.iter().any(|m| m.ed25519 == n.ed25519))
        })
        .cloned()
        .collect();
    let shortest = lists.iter().map(Vec::len).min().unwrap_or(0);
    (!common.is_empty() && common.len() >= min_pool.min(shortest)).then_some(common)
}

/// The client's pool of service nodes.
#[derive(Debug, Clone, Default)]
pub struct NodeDirectory {
    nodes: BTreeMap<[u8; 32], Snode>,
    failures: HashMap<[u8; 32], u32>,
    /// Dropped nodes and when (ms); kept out of refreshes until `ban_ms` has passed.
    dropped: HashMap<[u8; 32], u64>,
    refreshed_at_ms: Option<u64>,
}

impl NodeDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the pool with `nodes` (refreshed at `now_ms`), leaving out nodes
    /// dropped less than `ban_ms` ago. Failure counts of nodes still listed are kept.
    pub fn replace(&mut self, nodes: Vec<Snode>, now_ms: u64, ban_ms: u64) {
        self.dropped
            .retain(|_, at| now_ms.saturating_sub(*at) < ban_ms);
        self.nodes = nodes
            .into_iter()
            .filter(|n| !self.dropped.contains_key(&n.ed25519))
            .map(|n| (n.ed25519, n))
            .collect();
        self.failures.retain(|k, _| self.nodes.contains_key(k));
        self.refreshed_at_ms = Some(now_ms);
    }

    /// Number of usable nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All nodes (ordered by Ed25519 key).
    pub fn nodes(&self) -> Vec<Snode> {
        self.nodes.values().cloned().collect()
    }

    /// The node with this Ed25519 key.
    pub fn get(&self, ed25519: &[u8; 32]) -> Option<&Snode> {
        self.nodes.get(ed25519)
    }

    /// Whether the node is in the pool.
    pub fn contains(&self, ed25519: &[u8; 32]) -> bool {
        self.nodes.contains_key(ed25519)
    }

    /// When the pool was last replaced (ms on the client's clock).
    pub fn refreshed_at_ms(&self) -> Option<u64> {
        self.refreshed_at_ms
    }

    /// Records a refresh attempt at `now_ms` without changing the pool (a failed
    /// refresh is not retried before the next interval).
    pub fn mark_refreshed(&mut self, now_ms: u64) {
        self.refreshed_at_ms = Some(now_ms);
    }

    /// Whether the pool is older than `interval_ms` (or was never filled).
    pub fn is_stale(&self, now_ms: u64, interval_ms: u64) -> bool {
        self.refreshed_at_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= interval_ms)
    }

    /// Failures counted for a node since its last success.
    pub fn failures(&self, ed25519: &[u8; 32]) -> u32 {
        self.failures.get(ed25519).copied().unwrap_or(0)
    }

    /// Counts a failure; drops the node (returning true) at [`NODE_FAILURE_LIMIT`].
    pub fn record_failure(&mut self, ed25519: &[u8; 32], now_ms: u64) -> bool {
        let count = self.failures.entry(*ed25519).or_insert(0);
        *count += 1;
        if *count >= NODE_FAILURE_LIMIT {
            self.drop_node(ed25519, now_ms)
        } else {
            false
        }
    }

    /// Clears a node's failure count.
    pub fn record_success(&mut self, ed25519: &[u8; 32]) {
        self.failures.remove(ed25519);
    }

    /// Drops a node at once (e.g. "Next node not found"); true if it was in the pool.
    pub fn drop_node(&mut self, ed25519: &[u8; 32], now_ms: u64) -> bool {
        self.failures.remove(ed25519);
        self.dropped.insert(*ed25519, now_ms);
        self.nodes.remove(ed25519).is_some()
    }

    /// Whether a node was dropped (and not yet forgiven by a refresh after the ban).
    pub fn was_dropped(&self, ed25519: &[u8; 32]) -> bool {
        self.dropped.contains_key(ed25519)
    }

    /// Up to `k` distinct random nodes, none of them in `exclude`.
    pub fn random_nodes(
        &self,
        k: usize,
        exclude: &BTreeSet<[u8; 32]>,
        rng: &mut Rng,
    ) -> Vec<Snode> {
        let mut pool: Vec<Snode> = self
            .nodes
            .values()
            .filter(|n| !exclude.contains(&n.ed25519))
            .cloned()
            .collect();
        rng.shuffle(&mut pool);
        pool.truncate(k);
        pool
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    /// A fake node `i` at `ip:port`.
    pub(crate) fn node(i: u8, addr: &str) -> Snode {
        Snode {
            ed25519: [i; 32],
            x25519: [i.wrapping_add(100); 32],
            addr: addr.parse().unwrap(),
            swarm_id: u64::from(i) % 3,
        }
    }

    fn state(i: u8, ip: &str, port: u64) -> Value {
        json!({
            "public_ip": ip,
            "storage_port": port,
            "pubkey_ed25519": hex::encode([i; 32]),
            "pubkey_x25519": hex::encode([i + 100; 32]),
            "swarm_id": 7,
        })
    }

    #[test]
    fn registry_answer_drops_unusable_nodes() {
        let answer = json!({"jsonrpc": "2.0", "id": 0, "result": {"service_node_states": [
            state(1, "10.0.0.1", 22021),
            state(2, "0.0.0.0", 22021),
            state(3, "", 22021),
            state(4, "10.0.0.4", 0),
            {"public_ip": "10.0.0.5", "storage_port": 1, "pubkey_ed25519": "zz"},
        ]}});
        let nodes = parse_service_node_states(&answer).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].ed25519, [1; 32]);
        assert_eq!(nodes[0].x25519, [101; 32]);
        assert_eq!(nodes[0].addr, "10.0.0.1:22021".parse().unwrap());
        assert_eq!(nodes[0].swarm_id, 7);
        // The bare result works too; an error answer says so.
        assert_eq!(
            parse_service_node_states(&answer["result"]).unwrap().len(),
            1
        );
        let e = parse_service_node_states(&json!({"error": {"code": -1}})).unwrap_err();
        assert!(e.to_string().contains("error"), "{e}");
        let body = registry_request_body();
        assert_eq!(body["method"], "get_n_service_nodes");
        assert_eq!(body["params"]["fields"]["swarm_id"], true);
        assert_eq!(oxend_request_params()["endpoint"], "get_service_nodes");
    }

    #[test]
    fn swarm_answers() {
        let body = json!({"swarm": "1f", "snodes": [
            {"ip": "10.1.1.1", "port_https": 443, "port": "443",
             "pubkey_ed25519": hex::encode([1; 32]), "pubkey_x25519": hex::encode([2; 32])},
            {"ip": "10.1.1.2", "port": "444",
             "pubkey_ed25519": hex::encode([3; 32]), "pubkey_x25519": hex::encode([4; 32])},
            {"ip": "0.0.0.0", "port_https": 443,
             "pubkey_ed25519": hex::encode([5; 32]), "pubkey_x25519": hex::encode([6; 32])},
        ], "t": 1});
        let (id, members) = parse_swarm(&body).unwrap();
        assert_eq!(id, 0x1f);
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].addr.port(), 444);
        assert!(members.iter().all(|m| m.swarm_id == 0x1f));
        assert!(parse_swarm(&json!({"swarm": "xyz", "snodes": []})).is_err());
        assert!(parse_swarm(&json!({"swarm": "1"})).is_err());
    }

    #[test]
    fn intersection_needs_agreement() {
        let a: Vec<Snode> = (1..=5).map(|i| node(i, "10.0.0.1:1")).collect();
        let mut b = a.clone();
        b.pop();
        b.push(node(9, "10.0.0.9:1"));
        let common = accept_intersection(&[a.clone(), b.clone(), a.clone()], 3).unwrap();
        assert_eq!(common.len(), 4);
        assert!(common.iter().all(|n| n.ed25519 != [9; 32]));
        // A small network: everything must agree.
        assert!(accept_intersection(&[a.clone(), b.clone()], 12).is_none());
        assert_eq!(
            accept_intersection(&[a.clone(), a.clone()], 12)
                .unwrap()
                .len(),
            5
        );
        // A liar answering nothing in common is refused.
        let liar: Vec<Snode> = (20..25).map(|i| node(i, "10.0.0.2:1")).collect();
        assert!(accept_intersection(&[a, liar], 3).is_none());
        assert!(accept_intersection(&[], 3).is_none());
    }

    #[test]
    fn failures_drop_nodes_and_bans_survive_a_refresh() {
        let nodes: Vec<Snode> = (1..=4).map(|i| node(i, "10.0.0.1:1")).collect();
        let mut d = NodeDirectory::new();
        assert!(d.is_stale(0, 10));
        d.replace(nodes.clone(), 1_000, 500);
        assert!(!d.is_stale(1_005, 10));
        assert!(d.is_stale(1_010, 10));
        assert_eq!(d.len(), 4);
        assert!(!d.record_failure(&[1; 32], 1_000));
        assert!(!d.record_failure(&[1; 32], 1_000));
        d.record_success(&[1; 32]);
        assert_eq!(d.failures(&[1; 32]), 0);
        for _ in 0..2 {
            assert!(!d.record_failure(&[2; 32], 1_000));
        }
        assert!(d.record_failure(&[2; 32], 1_000));
        assert!(!d.contains(&[2; 32]));
        assert!(d.drop_node(&[3; 32], 1_100));
        assert!(!d.drop_node(&[3; 32], 1_100));
        assert_eq!(d.len(), 2);
        // A refresh within the ban keeps them out; a later one lets them back.
        d.replace(nodes.clone(), 1_200, 500);
        assert_eq!(d.len(), 2);
        assert!(d.was_dropped(&[2; 32]));
        d.replace(nodes, 1_700, 500);
        assert_eq!(d.len(), 4);
        let mut rng = Rng::seeded(1);
        let exclude: BTreeSet<[u8; 32]> = [[1; 32]].into();
        let picked = d.random_nodes(10, &exclude, &mut rng);
        assert_eq!(picked.len(), 3);
        assert!(picked.iter().all(|n| n.ed25519 != [1; 32]));
    }
}
