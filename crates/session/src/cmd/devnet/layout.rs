//! What a devnet directory holds, and the configuration files written into it.
//!
//! ```text
//! DIR/devnet.toml            the devnet's own settings (network name, ports, block time)
//! DIR/devnet.pid             pid of the running supervisor (`session devnet`)
//! DIR/network.toml           what clients need to bootstrap (documented in the file)
//! DIR/registry/registry.toml the registry's config; registry.db (the chain); registry.log; pid
//! DIR/nodes/NN/node.toml     node NN's config; key_ed25519, cert/key.pem, storage.db,
//!                            node.log, pid, pubkey (hex), desired ("running"/"stopped")
//! DIR/community/sogs.toml    the community server's config; data/ (key_x25519, sogs.db),
//!                            sogs.log, pid
//! DIR/files/files.toml       the file server's config; data/ (key_x25519, files.db,
//!                            files/), files.log, pid
//! ```
//!
//! Ports: the registry listens on `base_port`, the file server on `base_port − 1`, the
//! community server on `base_port + 1`, node `K` on `base_port + 2K` (HTTPS storage RPC)
//! and announces `base_port + 2K + 1` as its OxenMQ port.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// Milliseconds between registry blocks in a devnet: swarms form within seconds.
pub const BLOCK_INTERVAL_MS: u64 = 1000;

/// Most nodes a devnet holds (ports must stay below 65536 for any base port we accept).
pub const MAX_NODES: usize = 999;

/// `DIR/devnet.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetSettings {
    /// Network name (the registry's `chain.network`).
    pub network: String,
    /// The registry's port; node K uses `base_port + 2K` and `+ 2K + 1`.
    pub base_port: u16,
    /// Milliseconds between blocks.
    pub block_interval_ms: u64,
}

impl DevnetSettings {
    /// The registry's JSON-RPC URL.
    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}/json_rpc", self.base_port)
    }

    /// The community server's (HTTP) port.
    pub fn community_port(&self) -> u16 {
        port_at(self.base_port, 1)
    }

    /// The community server's base URL (what join URLs start with).
    pub fn community_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.community_port())
    }

    /// The file server's (HTTP) port: `base_port − 1` (a base port below 2 is refused by
    /// [`DevnetSettings::check_base_port`]).
    pub fn files_port(&self) -> u16 {
        self.base_port.saturating_sub(1)
    }

    /// The file server's URL (the `url` of `[file_server]` in network.toml).
    pub fn files_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.files_port())
    }

    /// Checks that the base port leaves room for the file server below it.
    pub fn check_base_port(&self) -> anyhow::Result<()> {
        if self.base_port < 2 {
            bail!(
                "base port {} is too low: the file server listens on base_port − 1; use a \
                 base port of at least 2 (e.g. --base-port {})",
                self.base_port,
                crate::cmd::devnet::DEFAULT_BASE_PORT
            );
        }
        Ok(())
    }

    /// Node `k`'s storage (HTTPS) port.
    pub fn node_port(&self, k: usize) -> u16 {
        port_at(self.base_port, 2 * k)
    }

    /// Node `k`'s announced OxenMQ port.
    pub fn node_omq_port(&self, k: usize) -> u16 {
        port_at(self.base_port, 2 * k + 1)
    }

    /// Checks that `nodes` nodes fit in the port range (and the file server below it).
    pub fn check_capacity(&self, nodes: usize) -> anyhow::Result<()> {
        self.check_base_port()?;
        if nodes > MAX_NODES || usize::from(self.base_port) + 2 * nodes + 1 > 65535 {
            bail!(
                "{nodes} nodes need ports {}–{}, beyond 65535: use a lower --base-port",
                self.base_port,
                usize::from(self.base_port) + 2 * nodes + 1
            );
        }
        Ok(())
    }
}

fn port_at(base: u16, offset: usize) -> u16 {
    u16::try_from(usize::from(base) + offset).unwrap_or(u16::MAX)
}

/// Paths inside a devnet directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The devnet directory.
    pub dir: PathBuf,
}

impl Layout {
    /// The layout of `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// `DIR/devnet.toml`.
    pub fn settings_file(&self) -> PathBuf {
        self.dir.join("devnet.toml")
    }

    /// `DIR/devnet.pid`.
    pub fn supervisor_pid_file(&self) -> PathBuf {
        self.dir.join("devnet.pid")
    }

    /// `DIR/network.toml`.
    pub fn network_file(&self) -> PathBuf {
        self.dir.join("network.toml")
    }

    /// `DIR/registry`.
    pub fn registry_dir(&self) -> PathBuf {
        self.dir.join("registry")
    }

    /// `DIR/community`.
    pub fn community_dir(&self) -> PathBuf {
        self.dir.join("community")
    }

    /// `DIR/files`.
    pub fn files_dir(&self) -> PathBuf {
        self.dir.join("files")
    }

    /// `DIR/nodes`.
    pub fn nodes_dir(&self) -> PathBuf {
        self.dir.join("nodes")
    }

    /// `DIR/nodes/NN`.
    pub fn node_dir(&self, k: usize) -> PathBuf {
        self.nodes_dir().join(node_name(k))
    }

    /// Reads `DIR/devnet.toml`; `None` when the directory is not a devnet (yet).
    pub fn load_settings(&self) -> anyhow::Result<Option<DevnetSettings>> {
        let path = self.settings_file();
        if !path.exists() {
            return Ok(None);
        }
        let s: DevnetSettings = session_rt::config::load_toml(&path).with_context(|| {
            format!(
                "{} is damaged; fix it or start a new devnet with another --dir",
                path.display()
            )
        })?;
        Ok(Some(s))
    }

    /// Like [`Layout::load_settings`], with an error telling how to create a devnet.
    pub fn require_settings(&self) -> anyhow::Result<DevnetSettings> {
        self.load_settings()?.ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not a devnet (no devnet.toml); create one with `session devnet --dir {}`",
                self.dir.display(),
                self.dir.display()
            )
        })
    }

    /// The node numbers present (directories with a `node.toml`), ascending.
    pub fn node_numbers(&self) -> anyhow::Result<Vec<usize>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(self.nodes_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context(format!("cannot list {}", self.nodes_dir().display())),
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(k) = name.to_str().and_then(|s| s.parse::<usize>().ok()) else {
                continue;
            };
            if k >= 1 && entry.path().join("node.toml").exists() {
                out.push(k);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Checks that node `k` exists.
    pub fn require_node(&self, k: usize) -> anyhow::Result<()> {
        let nodes = self.node_numbers()?;
        if nodes.contains(&k) {
            return Ok(());
        }
        let have = match (nodes.first(), nodes.last()) {
            (Some(a), Some(b)) => format!("it has nodes {a}–{b}"),
            _ => "it has no nodes".to_owned(),
        };
        bail!(
            "no node {k} in the devnet at {} ({have}); add nodes with `session devnet add-nodes N`",
            self.dir.display()
        )
    }
}

/// The directory name of node `k`: two digits at least (`03`).
pub fn node_name(k: usize) -> String {
    format!("{k:02}")
}

/// What a node process should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    /// Keep it running (restart it if it exits).
    Running,
    /// Keep it stopped.
    Stopped,
}

/// Reads `dir/desired` (missing: running).
pub fn read_desired(dir: &Path) -> Desired {
    match fs::read_to_string(dir.join("desired")) {
        Ok(s) if s.trim() == "stopped" => Desired::Stopped,
        _ => Desired::Running,
    }
}

/// Writes `dir/desired` atomically.
pub fn write_desired(dir: &Path, d: Desired) -> anyhow::Result<()> {
    let text = match d {
        Desired::Running => "running\n",
        Desired::Stopped => "stopped\n",
    };
    write_atomic(&dir.join("desired"), text)
}

/// Reads a pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes `text` to `path` through a temporary file and a rename, so readers never see
/// half a file.
pub fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates the devnet directory and `devnet.toml` if needed. Refuses a directory that
/// exists, is not empty and is not a devnet.
pub fn create(layout: &Layout, settings: &DevnetSettings) -> anyhow::Result<()> {
    let dir = &layout.dir;
    if dir.exists() {
        let non_empty = fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some();
        if non_empty && !layout.settings_file().exists() {
            bail!(
                "{} exists and is not a devnet directory (no devnet.toml); pick another --dir or empty it",
                dir.display()
            );
        }
    }
    fs::create_dir_all(layout.nodes_dir())
        .with_context(|| format!("cannot create {}", layout.nodes_dir().display()))?;
    fs::create_dir_all(layout.registry_dir())
        .with_context(|| format!("cannot create {}", layout.registry_dir().display()))?;
    fs::create_dir_all(layout.community_dir())
        .with_context(|| format!("cannot create {}", layout.community_dir().display()))?;
    fs::create_dir_all(layout.files_dir())
        .with_context(|| format!("cannot create {}", layout.files_dir().display()))?;
    if !layout.settings_file().exists() {
        let text = format!(
            "# Settings of this devnet, fixed when it was created (`session devnet`).\n\
             # Network name (the registry's chain.network).\n\
             network = {network:?}\n\
             # The registry's port; the file server listens on base_port - 1, the community\n\
             # server on base_port + 1; node K serves HTTPS on base_port + 2K and announces\n\
             # base_port + 2K + 1 as its OxenMQ port.\n\
             base_port = {base}\n\
             # Milliseconds between registry blocks.\n\
             block_interval_ms = {bi}\n",
            network = settings.network,
            base = settings.base_port,
            bi = settings.block_interval_ms,
        );
        write_atomic(&layout.settings_file(), &text)?;
    }
    write_registry_config(layout, settings)
}

/// Writes `DIR/registry/registry.toml` (always: it holds no state of its own).
pub fn write_registry_config(layout: &Layout, s: &DevnetSettings) -> anyhow::Result<()> {
    let dir = layout.registry_dir();
    let text = format!(
        "# Written by `session devnet` (rewritten at every start; edit devnet.toml instead).\n\
         data_dir = {data:?}\n\
         listen = \"127.0.0.1:{port}\"\n\
         store = \"sqlite\"\n\
         block_interval_ms = {bi}\n\
         drain_timeout_secs = 5\n\
         log = \"info\"\n\
         \n\
         [chain]\n\
         network = {network:?}\n",
        data = path_str(&dir),
        port = s.base_port,
        bi = s.block_interval_ms,
        network = s.network,
    );
    write_atomic(&dir.join("registry.toml"), &text)
}

/// The room a new devnet's community server starts with.
pub const COMMUNITY_ROOM: &str = "lobby";

/// Writes `DIR/community/sogs.toml` (always: it holds no state of its own).
pub fn write_community_config(layout: &Layout, s: &DevnetSettings) -> anyhow::Result<()> {
    let dir = layout.community_dir();
    let text = format!(
        "# The devnet's community server (written by `session devnet`; rewritten at every start).\n\
         data_dir = {data:?}\n\
         listen = \"127.0.0.1:{port}\"\n\
         base_url = {url:?}\n\
         log = \"info\"\n",
        data = path_str(&dir.join("data")),
        port = s.community_port(),
        url = s.community_url(),
    );
    write_atomic(&dir.join("sogs.toml"), &text)
}

/// The community server of a devnet, as clients join it.
#[derive(Debug, Clone)]
pub struct Community {
    /// The server's X25519 public key (hex).
    pub public_key: String,
    /// Each room's token and join URL.
    pub rooms: Vec<(String, String)>,
}

/// Prepares the community server's data before it starts: its key, its database, and
/// the room [`COMMUNITY_ROOM`] when there is no room at all (a new devnet).
pub fn prepare_community(layout: &Layout) -> anyhow::Result<Community> {
    let config_path = layout.community_dir().join("sogs.toml");
    let config = session_sogs::config::SogsConfig::load(&config_path)?;
    let (key, _) = session_sogs::run::load_or_create_key(&config.key_path())?;
    let store = session_sogs::run::open_store(&config)?;
    if store.rooms()?.is_empty() {
        let now = session_rt::Clock::now_secs(&session_rt::SystemClock);
        store.create_room(
            &session_sogs::store::NewRoom {
                token: COMMUNITY_ROOM.into(),
                name: "Lobby".into(),
                description: Some("The devnet's first community room.".into()),
                defaults: session_sogs::store::RoomDefaults::default(),
            },
            now,
        )?;
    }
    let public_key = hex::encode(key.public());
    let base = config.base_url.clone().unwrap_or_default();
    let rooms = store
        .rooms()?
        .into_iter()
        .map(|r| {
            let url = format!("{base}/{}?public_key={public_key}", r.token);
            (r.token, url)
        })
        .collect();
    Ok(Community { public_key, rooms })
}

/// Writes `DIR/files/files.toml` (always: it holds no state of its own). The file
/// server keeps the reference's defaults (numeric ids, 3 weeks, 10 MB, `X-FS-TTL`
/// ignored) and has no `/session_version` data (it answers 502).
pub fn write_files_config(layout: &Layout, s: &DevnetSettings) -> anyhow::Result<()> {
    let dir = layout.files_dir();
    let text = format!(
        "# The devnet's file server (written by `session devnet`; rewritten at every start).\n\
         data_dir = {data:?}\n\
         listen = \"127.0.0.1:{port}\"\n\
         public_url = {url:?}\n\
         log = \"info\"\n",
        data = path_str(&dir.join("data")),
        port = s.files_port(),
        url = s.files_url(),
    );
    write_atomic(&dir.join("files.toml"), &text)
}

/// The file server of a devnet, as clients reach it.
#[derive(Debug, Clone)]
pub struct FileServerInfo {
    /// Its URL.
    pub url: String,
    /// Its X25519 public key (hex).
    pub public_key: String,
}

/// Prepares the file server's data before it starts (its key and its database), and
/// returns what clients need to reach it.
pub fn prepare_files(layout: &Layout) -> anyhow::Result<FileServerInfo> {
    let config_path = layout.files_dir().join("files.toml");
    let config = session_files::FilesConfig::load(&config_path)?;
    let (key, _) = session_files::load_or_create_key(&config.key_path())?;
    session_files::run::open_store(&config)?;
    Ok(FileServerInfo {
        url: config.public_url_for(config.listen),
        public_key: hex::encode(key.public()),
    })
}

/// Creates node `k` (directory, key, config, `desired = running`) unless it exists; the
/// directory is claimed with `create_dir`, so concurrent `add-nodes` never share one.
/// Returns `false` if the directory was already taken.
pub fn create_node(layout: &Layout, s: &DevnetSettings, k: usize) -> anyhow::Result<bool> {
    let dir = layout.node_dir(k);
    match fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            if dir.join("node.toml").exists() {
                return Ok(false);
            }
            // A creation interrupted half-way: finish it (the key, if any, is kept).
        }
        Err(e) => return Err(e).context(format!("cannot create {}", dir.display())),
    }
    let identity = session_node::identity::NodeIdentity::load_or_generate(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the key of node {k}: {e}"))?;
    write_atomic(
        &dir.join("pubkey"),
        &format!("{}\n", identity.ed25519_hex()),
    )?;
    if !dir.join("desired").exists() {
        write_desired(&dir, Desired::Running)?;
    }
    write_node_config(layout, s, k)?;
    Ok(true)
}

/// Writes `DIR/nodes/NN/node.toml`.
pub fn write_node_config(layout: &Layout, s: &DevnetSettings, k: usize) -> anyhow::Result<()> {
    let dir = layout.node_dir(k);
    let text = format!(
        "# Node {name} of the devnet (written by `session devnet`; rewritten at every start).\n\
         data_dir = {data:?}\n\
         listen = \"127.0.0.1:{port}\"\n\
         public_ip = \"127.0.0.1\"\n\
         omq_port = {omq}\n\
         store = \"sqlite\"\n\
         # Every client and node of a one-machine devnet shares 127.0.0.1: no per-IP limit.\n\
         rate_limit_per_second = 0\n\
         drain_timeout_secs = 5\n\
         log = \"info\"\n\
         \n\
         [registry]\n\
         url = {url:?}\n\
         poll_interval_ms = {poll}\n\
         register = true\n",
        name = node_name(k),
        data = path_str(&dir),
        port = s.node_port(k),
        omq = s.node_omq_port(k),
        url = s.registry_url(),
        poll = s.block_interval_ms.clamp(250, 1000),
    );
    write_atomic(&dir.join("node.toml"), &text)
}

/// Node `k`'s Ed25519 public key (hex), from `pubkey`.
pub fn node_pubkey(layout: &Layout, k: usize) -> Option<String> {
    let text = fs::read_to_string(layout.node_dir(k).join("pubkey")).ok()?;
    let t = text.trim();
    (t.len() == 64).then(|| t.to_owned())
}

/// A path as a string for a TOML file (absolute when possible, so the children do not
/// depend on their working directory).
pub fn path_str(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DevnetSettings {
        DevnetSettings {
            network: "devnet".into(),
            base_port: 22100,
            block_interval_ms: 1000,
        }
    }

    #[test]
    fn generated_configs_parse() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(&tmp.path().join("dn"));
        create(&layout, &settings()).unwrap();
        assert!(create_node(&layout, &settings(), 3).unwrap());
        assert!(!create_node(&layout, &settings(), 3).unwrap());
        assert_eq!(layout.node_numbers().unwrap(), vec![3]);
        assert_eq!(layout.load_settings().unwrap(), Some(settings()));
        let reg =
            session_registry::RegistryConfig::load(&layout.registry_dir().join("registry.toml"))
                .unwrap();
        assert_eq!(reg.listen.port(), 22100);
        assert_eq!(reg.block_interval_ms, 1000);
        write_files_config(&layout, &settings()).unwrap();
        let files = prepare_files(&layout).unwrap();
        assert_eq!(files.url, "http://127.0.0.1:22099");
        assert_eq!(files.public_key.len(), 64);
        assert!(layout.files_dir().join("data/key_x25519").exists());
        assert!(layout.files_dir().join("data/files.db").exists());
        let cfg = session_files::FilesConfig::load(&layout.files_dir().join("files.toml")).unwrap();
        assert_eq!(cfg.listen.port(), 22099);
        assert_eq!(prepare_files(&layout).unwrap().public_key, files.public_key);
        let node = session_node::NodeConfig::load(&layout.node_dir(3).join("node.toml")).unwrap();
        assert_eq!(node.listen.port(), 22106);
        assert_eq!(node.omq_port, 22107);
        assert_eq!(node_pubkey(&layout, 3).unwrap().len(), 64);
        assert_eq!(read_desired(&layout.node_dir(3)), Desired::Running);
        write_desired(&layout.node_dir(3), Desired::Stopped).unwrap();
        assert_eq!(read_desired(&layout.node_dir(3)), Desired::Stopped);
        assert!(layout.require_node(4).is_err());
    }

    #[test]
    fn a_foreign_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.txt"), "x").unwrap();
        let e = create(&Layout::new(tmp.path()), &settings()).unwrap_err();
        assert!(e.to_string().contains("not a devnet"), "{e}");
    }

    #[test]
    fn capacity() {
        assert!(settings().check_capacity(50).is_ok());
        let high = DevnetSettings {
            base_port: 65500,
            ..settings()
        };
        assert!(high.check_capacity(50).is_err());
        let low = DevnetSettings {
            base_port: 1,
            ..settings()
        };
        let e = low.check_capacity(1).unwrap_err().to_string();
        assert!(e.contains("base_port − 1"), "{e}");
        assert!(low.check_base_port().is_err());
        assert_eq!(settings().files_port(), 22099);
        assert_eq!(settings().files_url(), "http://127.0.0.1:22099");
    }
}
