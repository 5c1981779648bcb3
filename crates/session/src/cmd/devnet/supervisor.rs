//! The supervisor (`session devnet`): starts the registry, the community server, the
//! file server and the nodes as child processes, waits for the swarms to form, then
//! reconciles the processes with the desired state under DIR (per-node `desired` files,
//! new node directories) until Ctrl-C/SIGTERM, and stops everything.
//!
//! Children run `session devnet child {registry|sogs|files|node} run --config …`: the
//! ordinary `registry run` / `sogs run` / `files run` / `node run` code plus a watchdog
//! on stdin, a pipe the supervisor holds open. If the supervisor dies, even by SIGKILL,
//! the pipe closes and every child shuts itself down (SIGTERM to itself, exit after a
//! grace period): no orphans. Pid files
//! (`pid`) let a later start find and stop leftovers anyway, and let the drill commands
//! see what runs. Children get their own process group, so a terminal's Ctrl-C reaches
//! the supervisor only, which stops the nodes before the registry.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::layout::{self, Desired, DevnetSettings, Layout};
use super::process;
use super::status::{self, NodeState};

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often the supervisor looks at its children and the desired state.
const TICK: Duration = Duration::from_millis(200);
/// Lines of a child's log shown when it dies.
const TAIL_LINES: usize = 15;

/// Which program a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Registry,
    Community,
    Files,
    Node(usize),
}

/// One supervised child.
#[derive(Debug)]
struct Proc {
    kind: Kind,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// When SIGTERM was sent.
    stopping: Option<Instant>,
    started: Option<Instant>,
    /// Consecutive quick crashes (for the restart back-off).
    crashes: u32,
    /// Not before this instant (back-off after a crash or a busy port).
    next_start: Instant,
}

impl Proc {
    fn new(kind: Kind, dir: PathBuf, port: u16) -> Self {
        Self {
            kind,
            dir,
            port,
            child: None,
            stopping: None,
            started: None,
            crashes: 0,
            next_start: Instant::now(),
        }
    }

    fn name(&self) -> String {
        match self.kind {
            Kind::Registry => "registry".to_owned(),
            Kind::Community => "community server".to_owned(),
            Kind::Files => "file server".to_owned(),
            Kind::Node(k) => format!("node {}", layout::node_name(k)),
        }
    }

    fn program(&self) -> &'static str {
        match self.kind {
            Kind::Registry => "registry",
            Kind::Community => "sogs",
            Kind::Files => "files",
            Kind::Node(_) => "node",
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.join(format!("{}.toml", self.program()))
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.program()))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    fn spawn(&mut self, exe: &Path) -> anyhow::Result<()> {
        let log_path = self.log();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let _ = writeln!(
            log,
            "{} {} at unix time {} ====",
            process::START_MARKER,
            self.name(),
            unix_now()
        );
        let err_log = log
            .try_clone()
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut cmd = Command::new(exe);
        cmd.args(["devnet", "child", self.program(), "run", "--config"])
            .arg(layout::path_str(&self.config()))
            .current_dir(&self.dir)
            // Plain text logs: the log files are not terminals.
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log));
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {} ({})", self.name(), exe.display()))?;
        layout::write_atomic(&self.pid_file(), &format!("{}\n", child.id()))?;
        self.child = Some(child);
        self.stopping = None;
        self.started = Some(Instant::now());
        Ok(())
    }

    /// Checks whether the child exited; forgets it if so.
    fn poll(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.stopping = None;
        let _ = std::fs::remove_file(self.pid_file());
        Some(status)
    }

    /// Sends SIGTERM once (SIGKILL where there are no signals).
    fn request_stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        if let Some(child) = self.child.as_mut() {
            if !process::terminate(child.id()) {
                let _ = child.kill();
            }
            self.stopping = Some(Instant::now());
        }
    }

    /// Kills the child if it ignored SIGTERM for longer than the grace period.
    fn enforce_stop(&mut self) {
        if let (Some(since), Some(child)) = (self.stopping, self.child.as_mut())
            && since.elapsed() > STOP_GRACE
        {
            let _ = child.kill();
        }
    }

    fn tail(&self) -> String {
        process::log_tail(&self.log(), TAIL_LINES)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Output: through the progress bar while it is shown. With `--json`, stdout carries
/// JSON only and the running commentary goes to stderr.
#[derive(Debug, Default)]
struct Ui {
    bar: Option<ProgressBar>,
    json: bool,
}

impl Ui {
    fn say(&self, text: &str) {
        if self.json {
            return self.warn(text);
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
        let _ = std::io::stdout().flush();
    }

    fn warn(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

/// Options of a supervisor run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The devnet directory.
    pub dir: PathBuf,
    /// Nodes of a new devnet.
    pub nodes: usize,
    /// Whether `--nodes` was given.
    pub nodes_given: bool,
    /// Settings of a new devnet.
    pub settings: DevnetSettings,
    /// Whether `--base-port`/`--network`/`--block-interval-ms` were given.
    pub settings_given: bool,
    /// Seconds to wait for the swarms to form.
    pub timeout: Duration,
    /// Print JSON instead of the table once formed.
    pub json: bool,
}

/// Removes `devnet.pid` when the supervisor ends.
#[derive(Debug)]
struct PidGuard(PathBuf);

impl Drop for PidGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The pid of the supervisor running on this directory, if any.
pub fn running_supervisor(layout: &Layout) -> Option<u32> {
    layout::read_pid(&layout.supervisor_pid_file())
        .filter(|pid| *pid != std::process::id() && process::alive_and_ours(*pid, "devnet"))
}

/// Stops children left behind by a supervisor that died without cleaning up.
fn reap_stale(layout: &Layout, ui: &Ui) -> anyhow::Result<()> {
    let mut dirs = vec![
        (layout.registry_dir(), "registry.toml"),
        (layout.community_dir(), "sogs.toml"),
        (layout.files_dir(), "files.toml"),
    ];
    for k in layout.node_numbers()? {
        dirs.push((layout.node_dir(k), "node.toml"));
    }
    for (dir, cfg) in dirs {
        let pid_file = dir.join("pid");
        if let Some(pid) = layout::read_pid(&pid_file)
            && process::alive_and_ours(pid, &layout::path_str(&dir.join(cfg)))
        {
            ui.say(&format!(
                "stopping pid {pid} left over from an earlier run ({})",
                dir.display()
            ));
            process::stop_foreign(pid, STOP_GRACE);
        }
        let _ = std::fs::remove_file(pid_file);
    }
    Ok(())
}

/// Runs the devnet until Ctrl-C / SIGTERM.
pub fn run(opts: &RunOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let layout = Layout::new(&opts.dir);
    let ui = Ui {
        bar: None,
        json: opts.json,
    };
    if let Some(pid) = running_supervisor(&layout) {
        bail!(
            "a devnet is already running in {} (pid {pid}); stop it with Ctrl-C in its terminal or `kill {pid}`, or use another --dir",
            opts.dir.display()
        );
    }
    let existing = layout.load_settings()?;
    let resumed = existing.is_some();
    let settings = match existing {
        Some(s) => {
            if opts.settings_given && s != opts.settings {
                ui.warn(&format!(
                    "note: resuming the devnet in {} with its own settings (network {:?}, base port {}, {} ms blocks); --network/--base-port/--block-interval-ms apply to new devnets only",
                    opts.dir.display(),
                    s.network,
                    s.base_port,
                    s.block_interval_ms
                ));
            }
            s
        }
        None => {
            opts.settings.check_capacity(opts.nodes)?;
            opts.settings.clone()
        }
    };
    settings.check_base_port()?;
    layout::create(&layout, &settings)?;
    std::fs::write(
        layout.supervisor_pid_file(),
        format!("{}\n", std::process::id()),
    )
    .with_context(|| format!("cannot write {}", layout.supervisor_pid_file().display()))?;
    let _pid_guard = PidGuard(layout.supervisor_pid_file());
    reap_stale(&layout, &ui)?;

    // A new devnet, or one whose creation was interrupted before its first node.
    if !resumed || layout.node_numbers()?.is_empty() {
        for k in 1..=opts.nodes {
            layout::create_node(&layout, &settings, k)?;
        }
    }
    let nodes = layout.node_numbers()?;
    if resumed && opts.nodes_given && nodes.len() != opts.nodes {
        ui.warn(&format!(
            "note: resuming the devnet in {} with its {} nodes (--nodes {} applies to new devnets; grow it with `session devnet add-nodes N`)",
            opts.dir.display(),
            nodes.len(),
            opts.nodes
        ));
    }
    layout::write_registry_config(&layout, &settings)?;
    layout::write_community_config(&layout, &settings)?;
    let community = layout::prepare_community(&layout)
        .context("cannot prepare the devnet's community server")?;
    layout::write_files_config(&layout, &settings)?;
    let files =
        layout::prepare_files(&layout).context("cannot prepare the devnet's file server")?;
    for &k in &nodes {
        layout::write_node_config(&layout, &settings, k)?;
    }
    check_ports(&layout, &settings, &nodes)?;

    let exe = std::env::current_exe().context("cannot find the session executable")?;
    let community_dir = layout.community_dir();
    let settings_community_port = settings.community_port();
    let files_proc = Proc::new(Kind::Files, layout.files_dir(), settings.files_port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let mut sup = Supervisor {
            exe,
            layout,
            settings,
            registry: Proc::new(Kind::Registry, PathBuf::new(), 0),
            community: Proc::new(Kind::Community, community_dir, settings_community_port),
            files: files_proc,
            file_server: files,
            nodes: Vec::new(),
            ui,
            opts: opts.clone(),
        };
        sup.registry = Proc::new(
            Kind::Registry,
            sup.layout.registry_dir(),
            sup.settings.base_port,
        );
        let (trigger, shutdown) = session_rt::shutdown::channel();
        tokio::spawn(async move {
            let _ = session_rt::shutdown::termination_signal().await;
            trigger.trigger();
        });
        let result = sup.supervise(&shutdown, started, resumed, &community).await;
        sup.stop_all().await;
        result
    })
}

/// Fails with every busy port, naming its owner and how to pick others.
fn check_ports(layout: &Layout, s: &DevnetSettings, nodes: &[usize]) -> anyhow::Result<()> {
    let mut busy = Vec::new();
    if process::port_in_use(s.base_port) {
        busy.push(format!("{} (registry)", s.base_port));
    }
    if process::port_in_use(s.community_port()) {
        busy.push(format!("{} (community server)", s.community_port()));
    }
    if process::port_in_use(s.files_port()) {
        busy.push(format!("{} (file server)", s.files_port()));
    }
    for &k in nodes {
        if layout::read_desired(&layout.node_dir(k)) == Desired::Running
            && process::port_in_use(s.node_port(k))
        {
            busy.push(format!(
                "{} (node {})",
                s.node_port(k),
                layout::node_name(k)
            ));
        }
    }
    if busy.is_empty() {
        return Ok(());
    }
    bail!(
        "port(s) already in use on 127.0.0.1: {}.\n\
         Another devnet or program listens there (`ss -ltnp` shows which). Stop it, or create a \
         new devnet elsewhere with other ports, e.g. `session devnet --dir {}-2 --base-port {}`.",
        busy.join(", "),
        layout.dir.display(),
        u32::from(s.base_port) + 1000
    )
}

#[derive(Debug)]
struct Supervisor {
    exe: PathBuf,
    layout: Layout,
    settings: DevnetSettings,
    registry: Proc,
    community: Proc,
    files: Proc,
    /// What clients need to reach the file server (for network.toml).
    file_server: layout::FileServerInfo,
    nodes: Vec<Proc>,
    ui: Ui,
    opts: RunOptions,
}

/// What a reconcile pass found.
#[derive(Debug, Default)]
struct Events {
    /// Children that exited without being asked to: (name, status, log tail, log path).
    crashed: Vec<(String, String, String, PathBuf)>,
}

impl Supervisor {
    async fn supervise(
        &mut self,
        shutdown: &session_rt::Shutdown,
        started: Instant,
        resumed: bool,
        community: &layout::Community,
    ) -> anyhow::Result<()> {
        // 1. The registry, the community server and the file server.
        self.registry.spawn(&self.exe)?;
        self.community.spawn(&self.exe)?;
        self.files.spawn(&self.exe)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let info = loop {
            if shutdown.is_triggered() {
                return Ok(());
            }
            if let Some(status) = self.registry.poll() {
                bail!(
                    "the registry exited at start ({status}). Last lines of {}:\n{}",
                    self.registry.log().display(),
                    self.registry.tail()
                );
            }
            if let Ok(info) = status::rpc(self.settings.base_port, "get_info", json!({})).await {
                break info;
            }
            if Instant::now() > deadline {
                bail!(
                    "the registry did not answer on port {} within 15 s. Last lines of {}:\n{}",
                    self.settings.base_port,
                    self.registry.log().display(),
                    self.registry.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let genesis = status::rpc(self.settings.base_port, "get_block", json!({"height": 0}))
            .await
            .ok()
            .and_then(|b| b["block"]["hash"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let hardfork = info["hard_fork"].as_u64().unwrap_or(0);
        self.ui.say(&format!(
            "{} devnet {:?} in {}: registry on {} (height {}), log {}",
            if resumed { "resuming" } else { "created" },
            self.settings.network,
            self.layout.dir.display(),
            self.settings.registry_url(),
            info["height"].as_u64().unwrap_or(0),
            self.registry.log().display()
        ));

        // 2. The nodes.
        self.discover_nodes()?;
        let wanted = self.running_wanted();
        self.ui.say(&format!(
            "starting {} nodes (logs: {}/NN/node.log)",
            wanted,
            self.layout.nodes_dir().display()
        ));
        self.reconcile(false);

        // 3. Wait for the swarms.
        let bar = ProgressBar::new(wanted as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed:>3} {bar:20} {pos}/{len} nodes in swarms, {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        self.ui.bar = Some(bar.clone());
        let deadline = Instant::now() + self.opts.timeout;
        let mut last_print = Instant::now();
        let rows = loop {
            if shutdown.is_triggered() {
                bar.finish_and_clear();
                self.ui.bar = None;
                return Ok(());
            }
            let ev = self.reconcile(false);
            if let Some((name, st, tail, log)) = ev.crashed.into_iter().next() {
                bar.finish_and_clear();
                self.ui.bar = None;
                bail!(
                    "{name} exited while the devnet was starting ({st}). Last lines of {}:\n{tail}",
                    log.display()
                );
            }
            let (rows, chain) = self.rows().await;
            let wanted = self.running_wanted();
            let in_swarm = rows
                .iter()
                .filter(|r| r.index.is_some() && r.state == NodeState::Active)
                .count();
            let registered = rows
                .iter()
                .filter(|r| r.index.is_some() && r.pid.is_some())
                .count();
            let msg = match &chain {
                Ok(c) => format!(
                    "height {}, {} registered",
                    c.height,
                    rows.iter()
                        .filter(|r| r.index.is_some() && c.nodes.contains_key(&r.pubkey))
                        .count()
                ),
                Err(e) => format!("registry: {e}"),
            };
            bar.set_length(wanted as u64);
            bar.set_position(in_swarm as u64);
            bar.set_message(msg.clone());
            if bar.is_hidden() && last_print.elapsed() > Duration::from_secs(5) {
                last_print = Instant::now();
                self.ui.say(&format!(
                    "waiting for swarms: {in_swarm}/{wanted} nodes in swarms, {registered} running, {msg}"
                ));
            }
            if wanted > 0 && in_swarm == wanted {
                break rows;
            }
            if Instant::now() > deadline {
                bar.finish_and_clear();
                self.ui.bar = None;
                let late: Vec<&status::Row> = rows
                    .iter()
                    .filter(|r| {
                        r.index.is_some()
                            && r.state != NodeState::Active
                            && r.state != NodeState::Stopped
                    })
                    .collect();
                let mut text = format!(
                    "the swarms did not form within {} s: {} of {wanted} nodes are not in a swarm ({}).",
                    self.opts.timeout.as_secs(),
                    late.len(),
                    late.iter()
                        .map(|r| format!(
                            "node {} {}",
                            r.index.map(layout::node_name).unwrap_or_default(),
                            r.state.as_str()
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(k) = late.first().and_then(|r| r.index) {
                    let log = self.layout.node_dir(k).join("node.log");
                    text.push_str(&format!(
                        "\nLast lines of {}:\n{}",
                        log.display(),
                        process::log_tail(&log, TAIL_LINES)
                    ));
                }
                text.push_str("Give it longer with --timeout SECS.");
                bail!(text);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        bar.finish_and_clear();
        self.ui.bar = None;
        let swarms = status::swarms(&rows);
        let elapsed = started.elapsed();
        if let Err(e) = status::write_network_file(
            &self.layout,
            &self.settings,
            &genesis,
            hardfork,
            Some(&self.file_server),
            &rows,
        ) {
            self.ui.warn(&format!("warning: {e:#}"));
        }
        if self.opts.json {
            let v =
                status::status_json(&self.settings, Some(std::process::id()), None, None, &rows);
            crate::ui::print_json(&json!({
                "event": "swarms_formed",
                "seconds": elapsed.as_secs_f64(),
                "network_file": layout::path_str(&self.layout.network_file()),
                "community": {
                    "url": self.settings.community_url(),
                    "public_key": community.public_key,
                    "rooms": community.rooms.iter()
                        .map(|(token, url)| json!({"token": token, "join_url": url}))
                        .collect::<Vec<_>>(),
                },
                "file_server": {
                    "url": self.file_server.url,
                    "public_key": self.file_server.public_key,
                },
                "status": v,
            }));
        } else {
            self.ui.say(&format!(
                "swarms formed: {} nodes in {} swarm{} after {:.1} s\n",
                rows.iter().filter(|r| r.state == NodeState::Active).count(),
                swarms.len(),
                if swarms.len() == 1 { "" } else { "s" },
                elapsed.as_secs_f64()
            ));
            self.ui.say(&status::table(&rows));
            if let Some((token, url)) = community.rooms.first() {
                if let Ok(qr) = crate::ui::qr_code(url) {
                    self.ui.say(&qr);
                }
                self.ui.say(&format!(
                    "community server: {} (web page with every room's join link and QR code)\n\
                     join room {token:?}: {url}\n\
                     e.g.  session community join '{url}' --direct\n\
                     admin: session sogs rooms --config {cfg}   (also add-room, add-moderators, ban, …)\n",
                    self.settings.community_url(),
                    cfg = self.layout.community_dir().join("sogs.toml").display(),
                ));
            }
            self.ui.say(&format!(
                "file server: {} (attachments; its onion key is in network.toml)\n",
                self.file_server.url
            ));
            self.ui.say(&format!(
                "network file: {}\n\
                 logs:         {}/registry.log, {}/sogs.log, {}/files.log, {}/NN/node.log\n\
                 drills:       session devnet --dir {d} status | stop-node K | start-node K | add-nodes N\n\
                 Ctrl-C stops the devnet; `session devnet --dir {d}` resumes it.",
                self.layout.network_file().display(),
                self.layout.registry_dir().display(),
                self.layout.community_dir().display(),
                self.layout.files_dir().display(),
                self.layout.nodes_dir().display(),
                d = self.layout.dir.display()
            ));
        }

        // 4. Keep it running.
        let mut last_network = String::new();
        let mut last_refresh = Instant::now();
        while !shutdown.is_triggered() {
            let ev = self.reconcile(true);
            for (name, st, tail, log) in ev.crashed {
                self.ui.warn(&format!(
                    "{name} exited unexpectedly ({st}); restarting it. Last lines of {}:\n{tail}",
                    log.display()
                ));
            }
            if last_refresh.elapsed() > Duration::from_secs(2) {
                last_refresh = Instant::now();
                let (rows, chain) = self.rows().await;
                if chain.is_ok() {
                    let key: String = rows
                        .iter()
                        .map(|r| format!("{}:{}:{};", r.pubkey, r.swarm_id, r.address))
                        .collect();
                    if key != last_network {
                        last_network = key;
                        if let Err(e) = status::write_network_file(
                            &self.layout,
                            &self.settings,
                            &genesis,
                            hardfork,
                            Some(&self.file_server),
                            &rows,
                        ) {
                            self.ui.warn(&format!("warning: {e:#}"));
                        }
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = shutdown.wait() => {}
            }
        }
        self.ui.say("stopping the devnet…");
        Ok(())
    }

    /// The rows of the status table, and the registry's view (or why it is missing).
    async fn rows(&self) -> (Vec<status::Row>, anyhow::Result<status::ChainView>) {
        let chain = status::fetch_chain(self.settings.base_port).await;
        let local = status::local_nodes(&self.layout, &self.settings, true).unwrap_or_default();
        let empty = status::ChainView::default();
        let rows = status::rows(&local, chain.as_ref().unwrap_or(&empty));
        (rows, chain)
    }

    fn running_wanted(&self) -> usize {
        self.nodes
            .iter()
            .filter(|p| match p.kind {
                Kind::Node(k) => layout::read_desired(&self.layout.node_dir(k)) == Desired::Running,
                Kind::Registry | Kind::Community | Kind::Files => false,
            })
            .count()
    }

    /// Picks up node directories created since the last look (`add-nodes`).
    fn discover_nodes(&mut self) -> anyhow::Result<()> {
        for k in self.layout.node_numbers()? {
            if !self.nodes.iter().any(|p| p.kind == Kind::Node(k)) {
                self.nodes.push(Proc::new(
                    Kind::Node(k),
                    self.layout.node_dir(k),
                    self.settings.node_port(k),
                ));
            }
        }
        Ok(())
    }

    /// One pass: reap exits, start what should run, stop what should not.
    fn reconcile(&mut self, restart_crashed: bool) -> Events {
        let mut ev = Events::default();
        if let Err(e) = self.discover_nodes() {
            self.ui.warn(&format!("warning: {e:#}"));
        }
        let mut procs: Vec<&mut Proc> = [&mut self.registry, &mut self.community, &mut self.files]
            .into_iter()
            .chain(self.nodes.iter_mut())
            .collect();
        for p in &mut procs {
            let was_stopping = p.stopping.is_some();
            if let Some(st) = p.poll()
                && !was_stopping
            {
                let quick = p
                    .started
                    .is_some_and(|s| s.elapsed() < Duration::from_secs(60));
                p.crashes = if quick { p.crashes + 1 } else { 1 };
                let backoff = Duration::from_secs(1u64 << p.crashes.min(5));
                p.next_start = Instant::now() + backoff;
                ev.crashed
                    .push((p.name(), st.to_string(), p.tail(), p.log()));
            }
            let desired = match p.kind {
                Kind::Registry | Kind::Community | Kind::Files => Desired::Running,
                Kind::Node(_) => layout::read_desired(&p.dir),
            };
            match desired {
                Desired::Stopped => {
                    p.request_stop();
                    p.enforce_stop();
                }
                Desired::Running => {
                    if p.child.is_some() || Instant::now() < p.next_start {
                        continue;
                    }
                    if p.crashes > 0 && !restart_crashed {
                        continue;
                    }
                    if process::port_in_use(p.port) {
                        p.next_start = Instant::now() + Duration::from_secs(10);
                        self.ui.warn(&format!(
                            "cannot start {}: port {} is in use by another program; retrying in 10 s",
                            p.name(),
                            p.port
                        ));
                        continue;
                    }
                    if let Err(e) = p.spawn(&self.exe) {
                        p.next_start = Instant::now() + Duration::from_secs(10);
                        self.ui.warn(&format!("cannot start {}: {e:#}", p.name()));
                    }
                }
            }
        }
        ev
    }

    /// Stops the nodes, then the registry: SIGTERM, wait, SIGKILL after the grace period.
    async fn stop_all(&mut self) {
        for group in [true, false] {
            let procs: Vec<&mut Proc> = if group {
                self.nodes.iter_mut().collect()
            } else {
                vec![&mut self.community, &mut self.files, &mut self.registry]
            };
            let mut procs = procs;
            for p in &mut procs {
                p.request_stop();
            }
            loop {
                let mut left = 0;
                for p in &mut procs {
                    p.poll();
                    p.enforce_stop();
                    if p.child.is_some() {
                        left += 1;
                    }
                }
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.ui.say(
            "devnet stopped: every node, the community and file servers and the registry exited.",
        );
    }
}
