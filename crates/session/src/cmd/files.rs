//! `session files …`: run and inspect a file server (attachments; community-server spec
//! §11).
//!
//! `session files init` writes a starter `files.toml` and the server key;
//! `session files run` serves until Ctrl-C and prints the `[file_server]` table clients
//! put in their `network.toml` (see `crates/session-files/files.example.toml`). `info`,
//! `stats` and `purge` work directly on the server's database, whether or not the
//! server is running.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use session_files::FilesConfig;
use session_files::config::{DEFAULT_LISTEN, check_public_url, network_toml_snippet};
use session_files::run::{FilesServer, load_or_create_key, open_store};
use session_files::store::FileStore;
use session_rt::Clock as _;

use crate::ui;

/// The configuration file the commands use when `--config` is not given.
const DEFAULT_CONFIG: &str = "files.toml";

/// `session files …`.
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Write a starter configuration and the server key, then print what to do next.
    Init(InitArgs),
    /// Run the file server (uploads, downloads, /session_version, onion requests,
    /// expiry) until Ctrl-C or SIGTERM; prints the [file_server] table for clients'
    /// network.toml.
    #[command(
        after_help = "Clients find the server through the [file_server] table of \
their network.toml (url and pubkey_x25519), which this command prints at start.\n\n\
Examples:\n  \
session files run                          # ./files.toml\n  \
session files run --config /etc/session/files.toml --listen 0.0.0.0:80"
    )]
    Run(RunArgs),
    /// Show a stored file's size, upload time and expiry.
    Info(InfoArgs),
    /// Count the stored files, their bytes and the recorded version checks.
    Stats(ConfigArg),
    /// Delete expired files now (the running server does it every 15 s).
    Purge(ConfigArg),
}

/// `--config FILE`, shared by every subcommand.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (TOML; see `session files init`).
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = DEFAULT_CONFIG,
        env = "SESSION_FILES_CONFIG"
    )]
    config: PathBuf,
}

/// Options of `session files init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The listen address to write, e.g. 0.0.0.0:80 [default: 127.0.0.1:4243].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The data directory to write, relative to the configuration file [default:
    /// files-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address clients reach the server at, e.g. https://files.example.org (written
    /// as public_url; without it, the listen address).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

/// Options of `session files run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Listen here instead of the configured address (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", env = "SESSION_FILES_LISTEN")]
    listen: Option<SocketAddr>,
    /// Log filter instead of the configured one, e.g. "debug" (RUST_LOG wins).
    #[arg(long, value_name = "FILTER", env = "SESSION_FILES_LOG")]
    log: Option<String>,
}

/// Options of `session files info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The file id: the decimal number or the 44-character id of the upload (the last
    /// part of its URL, …/file/ID).
    id: String,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs a `session files` command.
pub fn run(command: FilesCommand, json: bool) -> anyhow::Result<()> {
    match command {
        FilesCommand::Init(a) => init(&a, json),
        FilesCommand::Run(a) => run_server(&a, json),
        FilesCommand::Info(a) => info(&a, json),
        FilesCommand::Stats(a) => stats(&a.config, json),
        FilesCommand::Purge(a) => purge(&a.config, json),
    }
}

fn load_config(path: &Path) -> anyhow::Result<FilesConfig> {
    if !path.exists() {
        bail!(
            "no configuration file {}: create one with `session files init --config {}` (or \
             give the right file with --config)",
            path.display(),
            path.display()
        );
    }
    Ok(FilesConfig::load(path)?)
}

fn now() -> f64 {
    session_rt::SystemClock.now_secs()
}

/// The store of an existing configuration (the commands never create a server key).
fn open(path: &Path) -> anyhow::Result<(FilesConfig, Arc<FileStore>)> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    Ok((config, store))
}

fn starter_config(args: &InitArgs) -> String {
    let data_dir = args
        .data_dir
        .as_ref()
        .map_or_else(|| "files-data".to_owned(), |d| d.display().to_string());
    let listen = args.listen.unwrap_or(DEFAULT_LISTEN).to_string();
    let public_url = match &args.public_url {
        Some(url) => format!("public_url = {}\n", ui::toml_string(url)),
        None => "# public_url = \"https://files.example.org\"\n".to_owned(),
    };
    format!(
        "# Session file server configuration. Every key is optional; see files.example.toml\n\
         # in the session-files crate for all of them and their defaults.\n\n\
         # Database, stored files and server key (key_x25519: the server's onion key, keep\n\
         # it safe). Relative to this file.\n\
         data_dir = {data_dir}\n\n\
         # HTTP listener: loopback behind a reverse proxy, or 0.0.0.0:80 to serve directly.\n\
         listen = {listen}\n\n\
         # The address clients reach this server at (no path). Default: http:// + listen.\n\
         {public_url}\n\
         # Largest upload in bytes, and how long uploads are kept (\"21d\", \"3 weeks\", …).\n\
         max_file_size = 10000000\n\
         file_expiry = \"21d\"\n\n\
         # true: random numeric ids (every client understands them); false: content ids\n\
         # (identical uploads stored once, POST /file/ID/extend available).\n\
         backwards_compat_ids = true\n\n\
         # What GET /session_version?platform=… answers; a platform left out answers 502.\n\
         # [session_version.desktop]\n\
         # version = \"1.16.2\"\n\
         # assets = [{{ name = \"…\", url = \"https://…\" }}]\n",
        data_dir = ui::toml_string(&data_dir),
        listen = ui::toml_string(&listen),
    )
}

fn init(args: &InitArgs, json: bool) -> anyhow::Result<()> {
    let path = &args.config.config;
    if let Some(url) = &args.public_url {
        check_public_url(url).map_err(|r| anyhow::anyhow!("--public-url: {r}"))?;
    }
    let wrote = ui::write_starter_config(
        path,
        &[
            ("--public-url", args.public_url.is_some()),
            ("--listen", args.listen.is_some()),
            ("--data-dir", args.data_dir.is_some()),
        ],
        || starter_config(args),
    )?;
    let config = FilesConfig::load(path)?;
    let (key, key_created) = load_or_create_key(&config.key_path())?;
    open_store(&config)?;
    let pubkey = hex::encode(key.public());
    let url = config.public_url_for(config.listen);
    let cfg = path.display().to_string();
    if json {
        ui::print_json(&json!({
            "config": cfg,
            "config_created": wrote,
            "data_dir": config.data_dir().display().to_string(),
            "key_file": config.key_path().display().to_string(),
            "key_created": key_created,
            "public_key": pubkey,
            "url": url,
            "network_toml": network_toml_snippet(&url, key.public()),
        }));
        return Ok(());
    }
    if wrote {
        println!("Wrote {cfg}");
    } else {
        println!("{cfg} exists; left as it is");
    }
    println!(
        "{} the server key {}",
        if key_created { "Created" } else { "Kept" },
        config.key_path().display()
    );
    println!("Server public key (X25519): {pubkey}");
    println!("Database: {}", config.data_dir().join("files.db").display());
    println!();
    println!("Next:");
    let c = ui::shell_quote(&cfg);
    let mut step = 1;
    if config.public_url.is_none() {
        println!("  {step}. Set public_url in {cfg} to the address clients reach this server at.");
        step += 1;
    }
    println!(
        "  {step}. List the current Session releases under [session_version.*] for /session_version."
    );
    step += 1;
    println!("  {step}. Start the server:   session files run --config {c}");
    step += 1;
    if config.public_url.is_none() && config.listen.port() == 0 {
        println!(
            "  {step}. Give clients the [file_server] table `session files run` prints for their network.toml."
        );
        return Ok(());
    }
    println!("  {step}. Give clients this table for their network.toml:");
    println!();
    for line in network_toml_snippet(&url, key.public()).lines() {
        println!("     {line}");
    }
    Ok(())
}

fn run_server(args: &RunArgs, json: bool) -> anyhow::Result<()> {
    let mut config = load_config(&args.config.config)?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(l) = &args.log {
        config.log = l.clone();
    }
    session_rt::logging::init(&config.log);
    let listen = config.listen;
    super::serve::run_until_signal("session-files", listen, |listener, shutdown| async move {
        let bound = listener.local_addr().ok();
        let server = FilesServer::open(&config)?;
        let addr = bound.map_or_else(|| listen.to_string(), |a| a.to_string());
        let url = config.public_url_for(bound.unwrap_or(listen));
        let snippet = server.network_toml(&url);
        if json {
            ui::print_json(&json!({
                "listening": format!("http://{addr}"),
                "public_key": server.public_key_hex(),
                "url": url,
                "key_created": server.key_created(),
                "network_toml": snippet,
            }));
        } else {
            super::serve::announce(&format!("session files listening on http://{addr}"));
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "server public key: {}", server.public_key_hex());
            if server.key_created() {
                let _ = writeln!(
                    out,
                    "created a new server key at {} (back it up: clients know the server by it)",
                    config.key_path().display()
                );
            }
            let _ = writeln!(out, "clients' network.toml:\n");
            let _ = write!(out, "{snippet}");
            let _ = out.flush();
        }
        let versions = &config.session_version;
        if versions.desktop.is_none() && versions.android.is_none() && versions.ios.is_none() {
            eprintln!(
                "note: no [session_version.*] release in {}: /session_version answers 502",
                config.origin_name()
            );
        }
        server.serve(listener, shutdown).await?;
        Ok(())
    })
}

fn info(args: &InfoArgs, json: bool) -> anyhow::Result<()> {
    let (_, store) = open(&args.config.config)?;
    let id = args.id.trim();
    let id = id.rsplit('/').next().unwrap_or(id);
    let id = id.split('#').next().unwrap_or(id);
    if session_files::store::id_kind(id).is_none() {
        bail!(
            "{id:?} is not a file id (a decimal number below 2^53 or 44 URL-safe base64 \
             characters)"
        );
    }
    let now = now();
    let Some(info) = store.info(id, now)? else {
        bail!("no file {id} (never uploaded, expired or purged)");
    };
    if json {
        ui::print_json(&json!({
            "id": info.id,
            "size": info.size,
            "uploaded": info.uploaded,
            "expires": info.expires,
            "path": store.file_path(&info.id).display().to_string(),
        }));
        return Ok(());
    }
    let date = |t: f64| session_rt::time::UtcTime::from_unix_f64(t).http_date();
    println!("file {}", info.id);
    println!("  size:      {} bytes", info.size);
    println!("  uploaded:  {}", date(info.uploaded));
    println!(
        "  expires:   {} (in {})",
        date(info.expires),
        super::chat::format::duration((info.expires - now).max(0.0) as u64)
    );
    println!("  stored at: {}", store.file_path(&info.id).display());
    Ok(())
}

fn stats(config: &Path, json: bool) -> anyhow::Result<()> {
    let (_, store) = open(config)?;
    let s = store.stats(now())?;
    if json {
        ui::print_json(&json!({
            "files": s.files,
            "bytes": s.bytes,
            "expired": s.expired,
            "version_checks": s.version_checks,
            "version_check_accounts": s.version_check_accounts,
        }));
        return Ok(());
    }
    println!("files:           {} ({} bytes)", s.files, s.bytes);
    println!("expired:         {} (deleted by the next purge)", s.expired);
    println!(
        "version checks:  {} authenticated, by {} account(s)",
        s.version_checks, s.version_check_accounts
    );
    Ok(())
}

fn purge(config: &Path, json: bool) -> anyhow::Result<()> {
    let (_, store) = open(config)?;
    let n = store.purge(now())?;
    if json {
        ui::print_json(&json!({"purged": n}));
    } else {
        println!("purged {n} expired file(s)");
    }
    Ok(())
}
