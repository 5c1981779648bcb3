//! The network as the registry sees it, joined with the local processes: the status
//! table, its JSON form, and `network.toml`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::layout::{self, Desired, DevnetSettings, Layout};
use super::process;

/// The swarm id of a node in no swarm (oxend, the registry).
pub const UNASSIGNED_SWARM: u64 = u64::MAX;

/// Calls a registry JSON-RPC method on 127.0.0.1:`port` (3 s timeout).
pub async fn rpc(port: u16, method: &str, params: Value) -> anyhow::Result<Value> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let call = async {
        let mut c = session_rt::http::HttpConnection::connect(addr, false).await?;
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let reply = c.post("/json_rpc", body.to_string()).await?;
        anyhow::Ok(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(3), call)
        .await
        .map_err(|_| anyhow::anyhow!("the registry at {addr} did not answer within 3 s"))??;
    let v: Value = serde_json::from_slice(&reply.body)
        .with_context(|| format!("the registry at {addr} sent invalid JSON"))?;
    if let Some(err) = v.get("error") {
        bail!("registry error from {method}: {err}");
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("registry reply to {method} without a result"))
}

/// One node as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainNode {
    /// Ed25519 key, hex.
    pub pubkey: String,
    /// X25519 key, hex.
    pub pubkey_x25519: String,
    /// `ip:port` of the storage server.
    pub address: String,
    /// Swarm id ([`UNASSIGNED_SWARM`] when none).
    pub swarm_id: u64,
    /// Active (not decommissioned).
    pub active: bool,
}

/// What the registry says about the network.
#[derive(Debug, Clone, Default)]
pub struct ChainView {
    /// Top block height.
    pub height: u64,
    /// Every registered node, by Ed25519 key.
    pub nodes: BTreeMap<String, ChainNode>,
}

/// Parses a `get_service_nodes` result.
pub fn parse_service_nodes(result: &Value) -> ChainView {
    let mut view = ChainView {
        height: result["height"].as_u64().unwrap_or(0),
        nodes: BTreeMap::new(),
    };
    for n in result["service_node_states"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(pk) = n["pubkey_ed25519"]
            .as_str()
            .or_else(|| n["service_node_pubkey"].as_str())
        else {
            continue;
        };
        let node = ChainNode {
            pubkey: pk.to_owned(),
            pubkey_x25519: n["pubkey_x25519"].as_str().unwrap_or_default().to_owned(),
            address: format!(
                "{}:{}",
                n["public_ip"].as_str().unwrap_or("?"),
                n["storage_port"].as_u64().unwrap_or(0)
            ),
            swarm_id: n["swarm_id"].as_u64().unwrap_or(UNASSIGNED_SWARM),
            active: n["active"].as_bool().unwrap_or(false),
        };
        view.nodes.insert(node.pubkey.clone(), node);
    }
    view
}

/// Fetches the registry's view.
pub async fn fetch_chain(port: u16) -> anyhow::Result<ChainView> {
    let fields = json!([
        "height",
        "pubkey_ed25519",
        "pubkey_x25519",
        "public_ip",
        "storage_port",
        "swarm_id",
        "active"
    ]);
    let r = rpc(port, "get_service_nodes", json!({"fields": fields})).await?;
    Ok(parse_service_nodes(&r))
}

/// A node's state in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Active and in a swarm.
    Active,
    /// Active, waiting for the next block to give it a swarm.
    Joining,
    /// Running, not (yet) registered.
    Registering,
    /// Decommissioned by the testing quorum.
    Decommissioned,
    /// Stopped on purpose (`stop-node`); the registry may still list it.
    Stopped,
    /// Should run but does not answer on its port.
    Unreachable,
    /// Not in this devnet's directory (registered by someone else).
    External,
}

impl NodeState {
    /// The word shown in the table and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Active => "active",
            NodeState::Joining => "joining",
            NodeState::Registering => "registering",
            NodeState::Decommissioned => "decommissioned",
            NodeState::Stopped => "stopped",
            NodeState::Unreachable => "unreachable",
            NodeState::External => "external",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Node number in the devnet (None: a node not started by this devnet).
    pub index: Option<usize>,
    /// Ed25519 key, hex.
    pub pubkey: String,
    /// X25519 key, hex (empty until registered).
    pub pubkey_x25519: String,
    /// `ip:port`.
    pub address: String,
    /// Swarm id ([`UNASSIGNED_SWARM`] when none).
    pub swarm_id: u64,
    /// State.
    pub state: NodeState,
    /// Local process id, if running.
    pub pid: Option<u32>,
}

/// Local facts about node `k` needed to compute its row.
#[derive(Debug, Clone)]
pub struct LocalNode {
    /// Node number.
    pub index: usize,
    /// Ed25519 key, hex.
    pub pubkey: String,
    /// Storage port.
    pub port: u16,
    /// Desired state.
    pub desired: Desired,
    /// Pid from the pid file, if the process is alive.
    pub pid: Option<u32>,
    /// Whether its port accepts connections.
    pub reachable: bool,
}

/// Reads the local facts of every node of the devnet (probing ports when `probe`).
pub fn local_nodes(
    layout: &Layout,
    s: &DevnetSettings,
    probe: bool,
) -> anyhow::Result<Vec<LocalNode>> {
    let mut out = Vec::new();
    for k in layout.node_numbers()? {
        let dir = layout.node_dir(k);
        let pid = layout::read_pid(&dir.join("pid")).filter(|p| process::alive(*p));
        let port = s.node_port(k);
        out.push(LocalNode {
            index: k,
            pubkey: layout::node_pubkey(layout, k).unwrap_or_default(),
            port,
            desired: layout::read_desired(&dir),
            pid,
            reachable: probe
                && pid.is_some()
                && process::reachable(port, Duration::from_millis(300)),
        });
    }
    Ok(out)
}

/// Joins the local nodes with the registry's view.
pub fn rows(local: &[LocalNode], chain: &ChainView) -> Vec<Row> {
    let mut rows = Vec::new();
    for l in local {
        let c = chain.nodes.get(&l.pubkey);
        let state = if l.desired == Desired::Stopped && l.pid.is_none() {
            NodeState::Stopped
        } else if l.pid.is_none() || !l.reachable {
            NodeState::Unreachable
        } else {
            match c {
                None => NodeState::Registering,
                Some(c) if !c.active => NodeState::Decommissioned,
                Some(c) if c.swarm_id == UNASSIGNED_SWARM => NodeState::Joining,
                Some(_) => NodeState::Active,
            }
        };
        rows.push(Row {
            index: Some(l.index),
            pubkey: l.pubkey.clone(),
            pubkey_x25519: c.map(|c| c.pubkey_x25519.clone()).unwrap_or_default(),
            address: c
                .map(|c| c.address.clone())
                .unwrap_or_else(|| format!("127.0.0.1:{}", l.port)),
            swarm_id: c.map_or(UNASSIGNED_SWARM, |c| c.swarm_id),
            state,
            pid: l.pid,
        });
    }
    for (pk, c) in &chain.nodes {
        if local.iter().any(|l| &l.pubkey == pk) {
            continue;
        }
        rows.push(Row {
            index: None,
            pubkey: pk.clone(),
            pubkey_x25519: c.pubkey_x25519.clone(),
            address: c.address.clone(),
            swarm_id: c.swarm_id,
            state: if c.active {
                NodeState::External
            } else {
                NodeState::Decommissioned
            },
            pid: None,
        });
    }
    rows
}

/// The swarms of active nodes: id → node numbers (or short keys of external nodes).
pub fn swarms(rows: &[Row]) -> BTreeMap<u64, Vec<&Row>> {
    let mut m: BTreeMap<u64, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if r.swarm_id != UNASSIGNED_SWARM {
            m.entry(r.swarm_id).or_default().push(r);
        }
    }
    m
}

/// `aabbccdd…eeff`: enough of a key to tell nodes apart.
pub fn short_key(hex: &str) -> String {
    if hex.len() < 16 {
        return hex.to_owned();
    }
    format!("{}…{}", &hex[..8], &hex[hex.len() - 4..])
}

fn swarm_label(id: u64) -> String {
    if id == UNASSIGNED_SWARM {
        "-".to_owned()
    } else {
        format!("{id:016x}")
    }
}

/// The table: node, key, address, swarm, state.
pub fn table(rows: &[Row]) -> String {
    let mut lines = vec![[
        "NODE".to_owned(),
        "ED25519 KEY".to_owned(),
        "ADDRESS".to_owned(),
        "SWARM".to_owned(),
        "STATE".to_owned(),
    ]];
    for r in rows {
        lines.push([
            r.index.map_or_else(|| "-".to_owned(), layout::node_name),
            short_key(&r.pubkey),
            r.address.clone(),
            swarm_label(r.swarm_id),
            r.state.as_str().to_owned(),
        ]);
    }
    let mut widths = [0usize; 5];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (i, (cell, w)) in l.iter().zip(widths).enumerate() {
            if i + 1 == l.len() {
                line.push_str(cell);
            } else {
                let pad = w - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The JSON form of the status: one object with the nodes and the swarms.
pub fn status_json(
    s: &DevnetSettings,
    running: Option<u32>,
    height: Option<u64>,
    registry_error: Option<String>,
    rows: &[Row],
) -> Value {
    let nodes: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "node": r.index,
                "pubkey_ed25519": r.pubkey,
                "pubkey_x25519": r.pubkey_x25519,
                "address": r.address,
                "swarm_id": (r.swarm_id != UNASSIGNED_SWARM).then_some(r.swarm_id),
                "swarm": (r.swarm_id != UNASSIGNED_SWARM).then(|| format!("{:016x}", r.swarm_id)),
                "state": r.state.as_str(),
                "pid": r.pid,
            })
        })
        .collect();
    let swarms: Vec<Value> = swarms(rows)
        .into_iter()
        .map(|(id, members)| {
            json!({
                "swarm_id": id,
                "swarm": format!("{id:016x}"),
                "nodes": members.iter().map(|r| r.pubkey.clone()).collect::<Vec<_>>(),
                "node_numbers": members.iter().filter_map(|r| r.index).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "network": s.network,
        "registry_url": s.registry_url(),
        "community_url": s.community_url(),
        "file_server_url": s.files_url(),
        "supervisor_pid": running,
        "running": running.is_some(),
        "height": height,
        "registry_error": registry_error,
        "nodes": nodes,
        "swarms": swarms,
    })
}

/// Writes `DIR/network.toml`: what a client needs to join this network (with the
/// `[file_server]` table when `file_server` is given).
pub fn write_network_file(
    layout: &Layout,
    s: &DevnetSettings,
    genesis_hash: &str,
    hardfork: u64,
    file_server: Option<&layout::FileServerInfo>,
    rows: &[Row],
) -> anyhow::Result<()> {
    let mut t = String::new();
    let _ = write!(
        t,
        "# How a client joins this Session devnet. Written by `session devnet` when the swarms\n\
         # have formed (and again when it restarts); clients read it, nothing else edits it.\n\
         \n\
         # Name of the network (the registry's chain.network). A client must not mix nodes or\n\
         # data of different networks.\n\
         network = {network:?}\n\
         \n\
         # Registry JSON-RPC endpoints (POST, oxend-compatible). Clients bootstrap with\n\
         # `get_n_service_nodes` / `get_service_nodes` here, as from mainnet's seed nodes, and\n\
         # resolve Session names with `ons_resolve`. Try them in order.\n\
         registry_urls = [{url:?}]\n\
         \n\
         # Hash of block 0 (hex). It identifies this chain: a devnet re-created in a new\n\
         # directory has another, so a client can tell its cached node list is stale.\n\
         genesis_hash = {genesis_hash:?}\n\
         \n\
         # Hard fork the registry reports (decides which storage RPC features nodes offer).\n\
         hardfork = {hardfork}\n\
         \n\
         # Service nodes serve the storage RPC over HTTPS (POST /storage_rpc/v1 and onion\n\
         # requests) with self-signed certificates: clients do not validate them, nodes are\n\
         # authenticated by their Ed25519 keys.\n\
         storage_https = true\n\
         \n\
         # Milliseconds between registry blocks (how fast the node list can change).\n\
         block_interval_ms = {bi}\n",
        network = s.network,
        url = s.registry_url(),
        bi = s.block_interval_ms,
    );
    if let Some(fs) = file_server {
        let _ = write!(
            t,
            "\n\
             # The devnet's file server, where clients upload attachments (plain HTTP, or onion\n\
             # requests encrypted to its X25519 key): its URL and its onion key (64 hex).\n\
             [file_server]\n\
             url = {:?}\n\
             pubkey_x25519 = {:?}\n",
            fs.url, fs.public_key
        );
    }
    let _ = write!(
        t,
        "\n\
         # The nodes known when this file was written: a fallback bootstrap list if every\n\
         # registry is unreachable. Always refresh from a registry (or from nodes) before\n\
         # relying on swarm membership. Each: Ed25519 and X25519 keys (hex), storage address\n\
         # (ip:port, HTTPS) and swarm id (decimal; as `swarm_id` in get_service_nodes).\n"
    );
    for r in rows {
        if r.swarm_id == UNASSIGNED_SWARM || r.pubkey_x25519.is_empty() {
            continue;
        }
        let _ = write!(
            t,
            "\n[[nodes]]\npubkey_ed25519 = {:?}\npubkey_x25519 = {:?}\naddress = {:?}\nswarm_id = {}\n",
            r.pubkey, r.pubkey_x25519, r.address, r.swarm_id
        );
    }
    layout::write_atomic(&layout.network_file(), &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(k: usize, desired: Desired, pid: Option<u32>, reachable: bool) -> LocalNode {
        LocalNode {
            index: k,
            pubkey: format!("{k:02}").repeat(32),
            port: 22100 + 2 * k as u16,
            desired,
            pid,
            reachable,
        }
    }

    #[test]
    fn rows_join_local_and_chain() {
        let result = json!({
            "height": 12,
            "service_node_states": [
                {"pubkey_ed25519": "01".repeat(32), "pubkey_x25519": "aa".repeat(32),
                 "public_ip": "127.0.0.1", "storage_port": 22102, "swarm_id": 5, "active": true},
                {"pubkey_ed25519": "02".repeat(32), "pubkey_x25519": "bb".repeat(32),
                 "public_ip": "127.0.0.1", "storage_port": 22104, "swarm_id": 5, "active": true},
                {"pubkey_ed25519": "03".repeat(32), "pubkey_x25519": "cc".repeat(32),
                 "public_ip": "127.0.0.1", "storage_port": 22106,
                 "swarm_id": u64::MAX, "active": true},
                {"pubkey_ed25519": "ff".repeat(32), "pubkey_x25519": "dd".repeat(32),
                 "public_ip": "10.0.0.1", "storage_port": 1, "swarm_id": 9, "active": true},
            ]
        });
        let chain = parse_service_nodes(&result);
        assert_eq!(chain.height, 12);
        let local = vec![
            local(1, Desired::Running, Some(10), true),
            local(2, Desired::Stopped, None, false),
            local(3, Desired::Running, Some(11), true),
            local(4, Desired::Running, Some(12), true),
            local(5, Desired::Running, None, false),
        ];
        let rows = rows(&local, &chain);
        let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(
            states,
            [
                "active",
                "stopped",
                "joining",
                "registering",
                "unreachable",
                "external"
            ]
        );
        let t = table(&rows);
        assert!(t.starts_with("NODE  ED25519 KEY"), "{t}");
        assert!(
            t.contains("01    01010101…0101  127.0.0.1:22102  0000000000000005  active"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 7);
        let s = DevnetSettings {
            network: "devnet".into(),
            base_port: 22100,
            block_interval_ms: 1000,
        };
        let j = status_json(&s, Some(1), Some(12), None, &rows);
        assert_eq!(j["nodes"].as_array().unwrap().len(), 6);
        assert_eq!(j["swarms"].as_array().unwrap().len(), 2);
        assert_eq!(j["swarms"][0]["node_numbers"], json!([1, 2]));
        assert_eq!(j["nodes"][1]["state"], "stopped");

        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let fs = layout::FileServerInfo {
            url: s.files_url(),
            public_key: "ab".repeat(32),
        };
        write_network_file(&layout, &s, &"00".repeat(32), 21, Some(&fs), &rows).unwrap();
        let text = std::fs::read_to_string(layout.network_file()).unwrap();
        assert!(text.contains("registry_urls = [\"http://127.0.0.1:22100/json_rpc\"]"));
        assert_eq!(text.matches("[[nodes]]").count(), 3, "{text}");
        assert!(
            text.contains(&format!(
                "[file_server]\nurl = \"http://127.0.0.1:22099\"\npubkey_x25519 = \"{}\"\n",
                "ab".repeat(32)
            )),
            "{text}"
        );
        // What clients read.
        let cfg = session_client::NetworkConfig::load(&layout.network_file()).unwrap();
        let fs = cfg.file_server.unwrap();
        assert_eq!(fs.url, "http://127.0.0.1:22099");
        assert_eq!(fs.parse().unwrap().1, [0xab; 32]);
        assert_eq!(cfg.nodes.len(), 3);
        assert_eq!(j["file_server_url"], "http://127.0.0.1:22099");
    }
}
