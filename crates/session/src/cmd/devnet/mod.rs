//! `session devnet`: a whole Session network on one machine.
//!
//! `session devnet` starts the registry, a community server (with a room, `lobby`), a
//! file server (attachments) and N service nodes as child processes of this same binary,
//! each with its own directory and ports under `--dir`; the nodes stake and register
//! themselves. It shows progress until the swarms have formed, prints the nodes, writes
//! `DIR/network.toml` for clients (with the file server's `[file_server]` table), and
//! runs until Ctrl-C. Running it again on the same directory resumes the same network
//! (same keys, same chain, same stored files).
//!
//! The drill commands (`status`, `stop-node`, `start-node`, `add-nodes`) act on a running
//! devnet through files under DIR: the supervisor reconciles the processes with each
//! node's `desired` file and picks up new node directories (see [`supervisor`]). Without
//! a running supervisor they edit the desired state, which applies at the next start.
//!
//! Modules: [`layout`] (directory and config files), [`process`] (signals, watchdog),
//! [`status`] (registry view, table, JSON, network.toml), [`supervisor`].

pub mod layout;
pub mod process;
pub mod status;
pub mod supervisor;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use layout::{Desired, DevnetSettings, Layout};

/// The registry's port in a devnet made without `--base-port`.
pub const DEFAULT_BASE_PORT: u16 = 22100;

/// Options of `session devnet` (and the directory of its subcommands).
#[derive(Debug, Args)]
#[command(
    after_help = "Files under DIR: devnet.toml (settings), network.toml (for clients), \
registry/ (chain, registry.log), community/ (sogs.toml, data/, sogs.log), files/ (files.toml, \
data/, files.log), nodes/NN/ (key, database, node.log, desired state).\n\
Ports: the registry on --base-port, the file server on base-1, the community server on base+1, \
node K on base+2K (HTTPS) and base+2K+1 (OxenMQ).\n\n\
Examples:\n  session devnet                         # 14 nodes (two swarms) in ./devnet\n  \
session devnet --dir /tmp/dn --nodes 7  # one swarm\n  \
session devnet status                  # the live table, from the registry\n  \
session devnet stop-node 3             # drill: stop node 3 (start-node 3 brings it back)"
)]
pub struct DevnetArgs {
    /// Directory of the devnet: configs, keys, chain, databases, logs. Reused (resumed)
    /// if it already holds a devnet.
    #[arg(long, global = true, default_value = "devnet", value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of service nodes of a new devnet (7 nodes make one swarm) [default: 14].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=999))]
    pub nodes: Option<u16>,
    /// Base port of a new devnet: the registry listens there, the file server on base-1,
    /// the community server on base+1, node K on base+2K and base+2K+1 (all on
    /// 127.0.0.1) [default: 22100].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1024..))]
    pub base_port: Option<u16>,
    /// Network name of a new devnet (written into its genesis block) [default: devnet].
    #[arg(long)]
    pub network: Option<String>,
    /// Milliseconds between registry blocks of a new devnet [default: 1000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..))]
    pub block_interval_ms: Option<u64>,
    /// Seconds to wait for the swarms to form before giving up (and stopping).
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    #[command(subcommand)]
    pub command: Option<DevnetCommand>,
}

/// Commands acting on a devnet.
#[derive(Debug, Subcommand)]
pub enum DevnetCommand {
    /// Show the nodes (key, address, swarm, state) from the registry and the local
    /// processes; with --json one object with the nodes and the swarms.
    Status,
    /// Stop node K (a drill: the registry keeps it until its quorum decommissions it).
    StopNode {
        /// Node number (as in the status table).
        node: usize,
    },
    /// Start node K again after `stop-node`.
    StartNode {
        /// Node number (as in the status table).
        node: usize,
    },
    /// Add N nodes; they register themselves and join swarms at a following block.
    AddNodes {
        /// How many nodes to add.
        #[arg(value_parser = clap::value_parser!(u16).range(1..=999))]
        count: u16,
    },
    /// Internal: run a registry or node as a child of the supervisor (exits when the
    /// supervisor does).
    #[command(hide = true)]
    Child {
        /// `registry run --config …`, `sogs run --config …`, `files run --config …` or
        /// `node run --config …`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
        args: Vec<String>,
    },
}

/// Runs `session devnet …`.
pub fn run(args: DevnetArgs, json_out: bool) -> anyhow::Result<()> {
    match args.command {
        None => {
            let network = args.network.clone().unwrap_or_else(|| "devnet".to_owned());
            if network.trim().is_empty() {
                bail!("--network must not be empty");
            }
            let opts = supervisor::RunOptions {
                dir: args.dir.clone(),
                nodes: args.nodes.map_or(14, usize::from),
                nodes_given: args.nodes.is_some(),
                settings: DevnetSettings {
                    network,
                    base_port: args.base_port.unwrap_or(DEFAULT_BASE_PORT),
                    block_interval_ms: args.block_interval_ms.unwrap_or(layout::BLOCK_INTERVAL_MS),
                },
                settings_given: args.network.is_some()
                    || args.base_port.is_some()
                    || args.block_interval_ms.is_some(),
                timeout: Duration::from_secs(args.timeout),
                json: json_out,
            };
            supervisor::run(&opts)
        }
        Some(DevnetCommand::Status) => status_cmd(&args.dir, json_out),
        Some(DevnetCommand::StopNode { node }) => {
            set_node(&args.dir, node, Desired::Stopped, json_out)
        }
        Some(DevnetCommand::StartNode { node }) => {
            set_node(&args.dir, node, Desired::Running, json_out)
        }
        Some(DevnetCommand::AddNodes { count }) => {
            add_nodes(&args.dir, usize::from(count), json_out)
        }
        Some(DevnetCommand::Child { args }) => child(args),
    }
}

/// The programs a supervised child may run.
#[derive(Debug, Parser)]
#[command(name = "session devnet child")]
struct ChildCli {
    #[command(subcommand)]
    program: ChildProgram,
}

#[derive(Debug, Subcommand)]
enum ChildProgram {
    #[command(subcommand)]
    Node(super::node::NodeCommand),
    #[command(subcommand)]
    Registry(super::registry::RegistryCommand),
    #[command(subcommand)]
    Sogs(super::sogs::SogsCommand),
    #[command(subcommand)]
    Files(super::files::FilesCommand),
}

fn child(args: Vec<String>) -> anyhow::Result<()> {
    let cli = ChildCli::try_parse_from(std::iter::once("session".to_owned()).chain(args))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    process::watch_parent(Duration::from_secs(15));
    match cli.program {
        ChildProgram::Node(c) => super::node::run(c),
        ChildProgram::Registry(c) => super::registry::run(c),
        ChildProgram::Sogs(c) => super::sogs::run(c, false),
        ChildProgram::Files(c) => super::files::run(c, false),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn status_cmd(dir: &Path, json_out: bool) -> anyhow::Result<()> {
    let layout = Layout::new(dir);
    let s = layout.require_settings()?;
    let running = supervisor::running_supervisor(&layout);
    let local = status::local_nodes(&layout, &s, true)?;
    let chain = runtime()?.block_on(status::fetch_chain(s.base_port));
    let (view, err) = match chain {
        Ok(c) => (c, None),
        Err(e) => (status::ChainView::default(), Some(format!("{e:#}"))),
    };
    let rows = status::rows(&local, &view);
    let height = err.is_none().then_some(view.height);
    if json_out {
        crate::ui::print_json(&status::status_json(&s, running, height, err, &rows));
        return Ok(());
    }
    match running {
        Some(pid) => println!(
            "devnet {:?} in {} — supervisor pid {pid}, registry {}",
            s.network,
            dir.display(),
            s.registry_url()
        ),
        None => println!(
            "devnet {:?} in {} — NOT RUNNING (start it with `session devnet --dir {}`)",
            s.network,
            dir.display(),
            dir.display()
        ),
    }
    println!(
        "community server {}, file server {}",
        s.community_url(),
        s.files_url()
    );
    match (&err, height) {
        (Some(e), _) => println!("registry unreachable: {e}"),
        (None, Some(h)) => {
            let swarms = status::swarms(&rows);
            println!(
                "height {h}, {} node{}, {} swarm{}",
                rows.len(),
                plural(rows.len()),
                swarms.len(),
                plural(swarms.len())
            );
        }
        (None, None) => {}
    }
    println!();
    print!("{}", status::table(&rows));
    Ok(())
}

/// Polls `done` every 100 ms for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node_pid(layout: &Layout, k: usize) -> Option<u32> {
    layout::read_pid(&layout.node_dir(k).join("pid")).filter(|p| process::alive(*p))
}

fn set_node(dir: &Path, k: usize, desired: Desired, json_out: bool) -> anyhow::Result<()> {
    let layout = Layout::new(dir);
    let s = layout.require_settings()?;
    layout.require_node(k)?;
    layout::write_desired(&layout.node_dir(k), desired)?;
    let name = layout::node_name(k);
    let log = layout.node_dir(k).join("node.log");
    let Some(_) = supervisor::running_supervisor(&layout) else {
        let what = if desired == Desired::Stopped {
            "stay stopped"
        } else {
            "start"
        };
        if json_out {
            crate::ui::print_json(
                &json!({"node": k, "desired": desired_str(desired), "running": false}),
            );
        } else {
            println!(
                "the devnet in {} is not running: node {name} will {what} when it does (`session devnet --dir {}`)",
                dir.display(),
                dir.display()
            );
        }
        return Ok(());
    };
    let ok = match desired {
        Desired::Stopped => wait_until(Duration::from_secs(20), || node_pid(&layout, k).is_none()),
        Desired::Running => wait_until(Duration::from_secs(20), || {
            node_pid(&layout, k).is_some()
                && process::reachable(s.node_port(k), Duration::from_millis(300))
        }),
    };
    if !ok {
        bail!(
            "node {name} did not {} within 20 s; see {}:\n{}",
            if desired == Desired::Stopped {
                "stop"
            } else {
                "start"
            },
            log.display(),
            process::log_tail(&log, 15)
        );
    }
    if json_out {
        crate::ui::print_json(&json!({
            "node": k,
            "desired": desired_str(desired),
            "pid": node_pid(&layout, k),
            "port": s.node_port(k),
        }));
    } else if desired == Desired::Stopped {
        println!(
            "node {name} stopped. The registry still lists it; if it stays down its testing quorum decommissions it. `session devnet start-node {k}` brings it back."
        );
    } else {
        println!(
            "node {name} running on 127.0.0.1:{} (pid {}), log {}",
            s.node_port(k),
            node_pid(&layout, k).unwrap_or(0),
            log.display()
        );
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn desired_str(d: Desired) -> &'static str {
    match d {
        Desired::Running => "running",
        Desired::Stopped => "stopped",
    }
}

fn add_nodes(dir: &Path, count: usize, json_out: bool) -> anyhow::Result<()> {
    let layout = Layout::new(dir);
    let s = layout.require_settings()?;
    let existing = layout.node_numbers()?;
    let mut k = existing.last().copied().unwrap_or(0) + 1;
    s.check_capacity(k + count - 1)?;
    let mut added = Vec::new();
    while added.len() < count {
        s.check_capacity(k)?;
        if layout::create_node(&layout, &s, k)? {
            added.push(k);
        }
        k += 1;
    }
    let running = supervisor::running_supervisor(&layout).is_some();
    if running {
        let ok = wait_until(Duration::from_secs(30), || {
            added.iter().all(|&k| {
                node_pid(&layout, k).is_some()
                    && process::reachable(s.node_port(k), Duration::from_millis(300))
            })
        });
        if !ok {
            bail!(
                "the new nodes did not all start within 30 s; see their logs in {}",
                layout.nodes_dir().display()
            );
        }
    }
    if json_out {
        let nodes: Vec<_> = added
            .iter()
            .map(|&k| {
                json!({
                    "node": k,
                    "pubkey_ed25519": layout::node_pubkey(&layout, k),
                    "port": s.node_port(k),
                    "pid": node_pid(&layout, k),
                })
            })
            .collect();
        crate::ui::print_json(&json!({"added": nodes, "running": running}));
        return Ok(());
    }
    for &k in &added {
        println!(
            "node {} {} 127.0.0.1:{} log {}",
            layout::node_name(k),
            status::short_key(&layout::node_pubkey(&layout, k).unwrap_or_default()),
            s.node_port(k),
            layout.node_dir(k).join("node.log").display()
        );
    }
    if running {
        println!(
            "added {} node(s); they register and join swarms within a few blocks (watch `session devnet --dir {} status`).",
            added.len(),
            dir.display()
        );
    } else {
        println!(
            "added {} node(s); the devnet is not running: they start with it (`session devnet --dir {}`).",
            added.len(),
            dir.display()
        );
    }
    Ok(())
}
