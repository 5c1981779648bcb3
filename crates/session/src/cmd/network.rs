//! `session network`: how this machine reaches a Session network. `status` joins the
//! network described by a `network.toml` (as `session devnet` writes it), builds onion
//! paths, sends a few storage RPCs (`info`) through them to random nodes, and shows the
//! node directory, each path (guard → middle → exit), the round trips and the clock
//! offset measured from the nodes' answers.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::{Value, json};
use session_client::{EncType, NetworkConfig, OnionClient, Snode};

/// `session network …`.
#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Join the network, build onion paths and test them: nodes known, each path's hops,
    /// round trips of requests through them, and the clock offset.
    Status(StatusArgs),
}

/// Options of `session network status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The network file (`session devnet` writes it as DIR/network.toml).
    #[arg(long, env = "SESSION_NETWORK", default_value = "devnet/network.toml")]
    network: PathBuf,
    /// Onion layer cipher: xchacha20 (libsession's default) or aes-gcm (desktop's).
    #[arg(long)]
    enc: Option<String>,
    /// Requests to send through the paths, each to a random node.
    #[arg(long, default_value_t = 4)]
    requests: usize,
}

/// Runs a `network` command.
pub fn run(cmd: NetworkCommand, json_out: bool) -> anyhow::Result<()> {
    let NetworkCommand::Status(args) = cmd;
    let mut config = NetworkConfig::load(&args.network).with_context(|| {
        format!(
            "cannot use the network file {} (start a devnet with `session devnet`, or pass \
             --network FILE)",
            args.network.display()
        )
    })?;
    if let Some(enc) = &args.enc {
        config.client.enc_type = EncType::parse(enc)
            .map_err(|_| anyhow::anyhow!("--enc {enc:?}: use xchacha20 or aes-gcm"))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(status(config, args.requests))?;
    if json_out {
        crate::ui::print_json(&report);
    } else {
        print_table(&report);
    }
    let failed = report["requests"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["status"] != 200));
    anyhow::ensure!(
        !failed,
        "some requests through the onion paths failed (see above)"
    );
    Ok(())
}

fn node_json(n: &Snode) -> Value {
    json!({"pubkey_ed25519": hex::encode(n.ed25519), "address": n.addr.to_string()})
}

async fn status(config: NetworkConfig, requests: usize) -> anyhow::Result<Value> {
    let name = config.network.clone();
    let enc = config.client.enc_type;
    let client = OnionClient::with_system_clock(config);
    client
        .bootstrap()
        .await
        .context("cannot reach the network's registries or nodes")?;
    client
        .ensure_paths()
        .await
        .context("cannot build onion paths")?;
    let nodes = client.nodes();
    let mut rng = session_client::rng::Rng::from_entropy();
    let mut results = Vec::with_capacity(requests);
    for _ in 0..requests {
        let Some(dest) = nodes.get(rng.below(nodes.len())) else {
            break;
        };
        let start = Instant::now();
        let outcome = client.snode_request(dest, "info", json!({})).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        results.push(match outcome {
            Ok(r) => json!({"destination": node_json(dest), "status": r.status,
                            "version": r.body["version"], "ms": (ms * 10.0).round() / 10.0}),
            Err(e) => json!({"destination": node_json(dest), "status": Value::Null,
                             "error": e.to_string(), "ms": (ms * 10.0).round() / 10.0}),
        });
    }
    let paths: Vec<Value> = client
        .paths()
        .iter()
        .map(|p| Value::Array(p.hops().iter().map(node_json).collect()))
        .collect();
    Ok(json!({
        "network": name,
        "enc_type": enc.as_str(),
        "nodes_known": nodes.len(),
        "paths": paths,
        "requests": results,
        "clock_offset_ms": client.clock_offset_ms(),
    }))
}

fn short_node(v: &Value) -> String {
    let key = v["pubkey_ed25519"].as_str().unwrap_or("");
    format!(
        "{} {}",
        key.get(..8).unwrap_or(key),
        v["address"].as_str().unwrap_or("?")
    )
}

fn print_table(r: &Value) {
    let paths = r["paths"].as_array().cloned().unwrap_or_default();
    println!(
        "Network {}: {} nodes known, {} onion path{} ({})",
        r["network"].as_str().unwrap_or("?"),
        r["nodes_known"],
        paths.len(),
        if paths.len() == 1 { "" } else { "s" },
        r["enc_type"].as_str().unwrap_or("?"),
    );
    println!();
    println!("{:<6}{:<30}{:<30}EXIT", "PATH", "GUARD", "MIDDLE");
    for (i, p) in paths.iter().enumerate() {
        let hops: Vec<String> = p
            .as_array()
            .map(|h| h.iter().map(short_node).collect())
            .unwrap_or_default();
        let hop = |k: usize| hops.get(k).cloned().unwrap_or_default();
        println!("{:<6}{:<30}{:<30}{}", i + 1, hop(0), hop(1), hop(2));
    }
    println!();
    println!(
        "{:<9}{:<30}{:<8}ROUND TRIP",
        "REQUEST", "DESTINATION", "STATUS"
    );
    for (i, q) in r["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let status = match (&q["status"], q["error"].as_str()) {
            (Value::Number(n), _) => n.to_string(),
            (_, Some(e)) => format!("failed: {e}"),
            _ => "?".into(),
        };
        println!(
            "{:<9}{:<30}{:<8}{} ms",
            i + 1,
            short_node(&q["destination"]),
            status,
            q["ms"]
        );
    }
    println!();
    println!(
        "Clock offset from the nodes: {:+} ms",
        r["clock_offset_ms"].as_i64().unwrap_or(0)
    );
}
