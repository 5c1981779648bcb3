//! `session sogs …`: run and administer a community server (SOGS).
//!
//! `session sogs init` writes a starter `sogs.toml` and the server key;
//! `session sogs run` serves the API and the web pages (see
//! `crates/session-sogs/sogs.example.toml`). The other commands administer rooms,
//! moderators, bans and permissions directly in the server's database, so they work
//! whether or not the server is running (SQLite serialises the writes; the running
//! server sees the changes at once). They follow PySOGS's command line (spec §9.2):
//! `--rooms` takes room tokens, `'*'` (every room) or `'+'` (server-wide); users are
//! `05…` Session IDs or `15…`/`25…` blinded IDs, a `05` ID being applied to the blinded
//! ID its owner has on this server.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use session_crypto::{AccountId, IdPrefix};
use session_rt::Clock as _;
use session_sogs::config::{SogsConfig, client_host_warning};
use session_sogs::run::{SogsServer, load_or_create_key};
use session_sogs::store::{
    ModeratorChange, NewRoom, PermissionChange, Room, RoomDefaults, RoomUpdate, Scope, Setting,
    SogsStore,
};

use crate::ui;

mod table;

/// The configuration file the commands use when `--config` is not given.
const DEFAULT_CONFIG: &str = "sogs.toml";

/// `session sogs …`.
#[derive(Debug, Subcommand)]
pub enum SogsCommand {
    /// Write a starter configuration and the server key, then print what to do next.
    Init(InitArgs),
    /// Run the community server (API, web pages with join links, periodic cleanup)
    /// until Ctrl-C or SIGTERM.
    Run(RunArgs),
    /// Create a room; prints its join URL and QR code.
    AddRoom(AddRoomArgs),
    /// List the rooms.
    Rooms(RoomsArgs),
    /// Print a room's join URL and QR code.
    JoinUrl(JoinUrlArgs),
    /// Change a room's name, description or default permissions.
    UpdateRoom(UpdateRoomArgs),
    /// Delete a room with all its messages and files.
    DeleteRoom(DeleteRoomArgs),
    /// Make users moderators (or admins) of rooms or of the whole server.
    #[command(after_help = "Examples:\n  \
        session sogs add-moderators 05… --rooms '+' --admin    server admin (hidden)\n  \
        session sogs add-moderators 15… --rooms lobby news      moderator of two rooms\n  \
        session sogs add-moderators 05… --rooms '*' --hidden    hidden moderator of every room")]
    AddModerators(AddModeratorsArgs),
    /// Take moderator (or only admin) rights away.
    RemoveModerators(RemoveModeratorsArgs),
    /// List the server's and the rooms' moderators and admins.
    Moderators(ModeratorsArgs),
    /// Ban users from rooms or from the whole server, optionally for a time.
    #[command(after_help = "Examples:\n  \
        session sogs ban 15… --rooms lobby --timeout 86400    one day in one room\n  \
        session sogs ban 05… --global                         everywhere, until unbanned")]
    Ban(BanArgs),
    /// Lift bans.
    Unban(BanScopeArgs),
    /// List the room bans (with their scheduled end).
    Bans(BansArgs),
    /// Show or change rooms' default permissions, or users' permissions in rooms.
    #[command(after_help = "Examples:\n  \
        session sogs perms --rooms news --remove-perms w               read-only room\n  \
        session sogs perms --rooms news --users 05… --add-perms w      …except for one user\n  \
        session sogs perms --rooms news --users 05… --clear-perms w    back to the default\n  \
        session sogs perms --rooms '*'                                 show everything")]
    Perms(PermsArgs),
}

/// `--config FILE`, shared by every subcommand.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (TOML; see `session sogs init`).
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = DEFAULT_CONFIG,
        env = "SESSION_SOGS_CONFIG"
    )]
    config: PathBuf,
}

/// Options of `session sogs init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The address clients reach the server at, e.g. https://sogs.example.org (written
    /// as base_url; without it, join URLs use the listen address).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The listen address to write, e.g. 0.0.0.0:80 [default: 127.0.0.1:4242].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The data directory to write, relative to the configuration file [default:
    /// sogs-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Options of `session sogs run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Listen here instead of the configured address (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", env = "SESSION_SOGS_LISTEN")]
    listen: Option<SocketAddr>,
    /// Log filter instead of the configured one, e.g. "debug" (RUST_LOG wins).
    #[arg(long, value_name = "FILTER", env = "SESSION_SOGS_LOG")]
    log: Option<String>,
}

/// Options of `session sogs add-room`.
#[derive(Debug, Args)]
pub struct AddRoomArgs {
    /// The room token: 1 to 64 of A-Z a-z 0-9 _ - (the last part of the join URL;
    /// case-insensitive).
    token: String,
    /// Display name [default: the token].
    #[arg(long)]
    name: Option<String>,
    /// Description; `\n` is a line break, `\\` a backslash.
    #[arg(long)]
    description: Option<String>,
    /// Default permissions, a subset of `rwua`: r = read, w = write, u = upload
    /// files, a = accessible (room info visible without read). E.g. `ra` for a
    /// read-only announcements room.
    #[arg(long, value_name = "PERMS", default_value = "rwua")]
    perms: String,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs rooms`.
#[derive(Debug, Args)]
pub struct RoomsArgs {
    /// Also show descriptions, permissions, moderators and join URLs.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs join-url`.
#[derive(Debug, Args)]
pub struct JoinUrlArgs {
    /// The room token.
    token: String,
    /// Print only the URL, without the QR code.
    #[arg(long)]
    no_qr: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs update-room`.
#[derive(Debug, Args)]
pub struct UpdateRoomArgs {
    /// The room token.
    token: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// New description; `\n` is a line break, `\\` a backslash.
    #[arg(long, conflicts_with = "no_description")]
    description: Option<String>,
    /// Remove the description.
    #[arg(long)]
    no_description: bool,
    /// Default permissions to grant, a subset of `rwua`.
    #[arg(long, value_name = "PERMS")]
    add_perms: Option<String>,
    /// Default permissions to take away, a subset of `rwua`.
    #[arg(long, value_name = "PERMS")]
    remove_perms: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs delete-room`.
#[derive(Debug, Args)]
pub struct DeleteRoomArgs {
    /// The room token.
    token: String,
    /// Do not ask for confirmation (required when not run from a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Where a moderation command applies.
#[derive(Debug, Args)]
pub struct RoomsScopeArg {
    /// Room tokens, or '*' for every room, or '+' for the whole server (global
    /// moderators/bans).
    #[arg(long, short = 'r', num_args = 1.., value_name = "TOKEN", required = true)]
    rooms: Vec<String>,
}

/// Options of `session sogs add-moderators`.
#[derive(Debug, Args)]
pub struct AddModeratorsArgs {
    /// Session IDs (05…) or blinded IDs (15…, 25…).
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    #[command(flatten)]
    scope: RoomsScopeArg,
    /// Make them admins (admins also appoint moderators, pin and edit room info).
    #[arg(long)]
    admin: bool,
    /// List them publicly [default for rooms].
    #[arg(long, conflicts_with = "hidden")]
    visible: bool,
    /// Do not list them publicly [default for '+'].
    #[arg(long)]
    hidden: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs remove-moderators`.
#[derive(Debug, Args)]
pub struct RemoveModeratorsArgs {
    /// Session IDs (05…) or blinded IDs (15…, 25…).
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    #[command(flatten)]
    scope: RoomsScopeArg,
    /// Only take admin rights away (they stay moderators).
    #[arg(long)]
    admin_only: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs moderators`.
#[derive(Debug, Args)]
pub struct ModeratorsArgs {
    /// Only these rooms [default: every room].
    #[arg(long, short = 'r', num_args = 1.., value_name = "TOKEN")]
    rooms: Vec<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Users and where: shared by `ban` and `unban`.
#[derive(Debug, Args)]
pub struct BanScopeArgs {
    /// Session IDs (05…) or blinded IDs (15…, 25…).
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    /// Room tokens, or '*' for every room, or '+' for the whole server.
    #[arg(long, short = 'r', num_args = 1.., value_name = "TOKEN", required_unless_present = "global", conflicts_with = "global")]
    rooms: Vec<String>,
    /// Server-wide (same as --rooms '+').
    #[arg(long)]
    global: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs ban`.
#[derive(Debug, Args)]
pub struct BanArgs {
    #[command(flatten)]
    who: BanScopeArgs,
    /// Lift the ban automatically after this many seconds.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    timeout: Option<f64>,
}

/// Options of `session sogs bans`.
#[derive(Debug, Args)]
pub struct BansArgs {
    /// Only these rooms [default: every room].
    #[arg(long, short = 'r', num_args = 1.., value_name = "TOKEN")]
    rooms: Vec<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Options of `session sogs perms`.
#[derive(Debug, Args)]
pub struct PermsArgs {
    /// Room tokens or '*' for every room.
    #[arg(long, short = 'r', num_args = 1.., value_name = "TOKEN", required = true)]
    rooms: Vec<String>,
    /// Change these users' permissions instead of the room defaults (Session IDs 05…
    /// or blinded IDs 15…, 25…).
    #[arg(long, short = 'u', num_args = 1.., value_name = "ID")]
    users: Vec<String>,
    /// Permissions to grant, a subset of `rwua` (r = read, w = write, u = upload,
    /// a = accessible).
    #[arg(long, value_name = "PERMS")]
    add_perms: Option<String>,
    /// Permissions to take away, a subset of `rwua`.
    #[arg(long, value_name = "PERMS")]
    remove_perms: Option<String>,
    /// Per-user overrides to remove (back to the room default), a subset of `rwua`;
    /// needs --users.
    #[arg(long, value_name = "PERMS", requires = "users")]
    clear_perms: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs a `session sogs` command.
pub fn run(command: SogsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        SogsCommand::Init(a) => init(&a, json),
        SogsCommand::Run(a) => run_server(&a, json),
        SogsCommand::AddRoom(a) => add_room(&a, json),
        SogsCommand::Rooms(a) => rooms(&a, json),
        SogsCommand::JoinUrl(a) => join_url(&a, json),
        SogsCommand::UpdateRoom(a) => update_room(&a, json),
        SogsCommand::DeleteRoom(a) => delete_room(&a, json),
        SogsCommand::AddModerators(a) => add_moderators(&a, json),
        SogsCommand::RemoveModerators(a) => remove_moderators(&a, json),
        SogsCommand::Moderators(a) => moderators(&a, json),
        SogsCommand::Ban(a) => ban(&a, json),
        SogsCommand::Unban(a) => unban(&a, json),
        SogsCommand::Bans(a) => bans(&a, json),
        SogsCommand::Perms(a) => perms(&a, json),
    }
}

// ---- configuration and store ----

fn load_config(path: &Path) -> anyhow::Result<SogsConfig> {
    if !path.exists() {
        bail!(
            "no configuration file {}: create one with `session sogs init --config {}` (or \
             give the right file with --config)",
            path.display(),
            path.display()
        );
    }
    Ok(SogsConfig::load(path)?)
}

/// What the admin commands work on: the configuration, the store and the server key.
struct Admin {
    config: SogsConfig,
    store: Arc<dyn SogsStore>,
    pubkey: [u8; 32],
}

impl Admin {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let config = load_config(path)?;
        let (key, created) = load_or_create_key(&config.key_path())?;
        if created {
            eprintln!(
                "created the server key {} (keep it safe: it is the server's identity)",
                config.key_path().display()
            );
        }
        let store = session_sogs::run::open_store(&config)?;
        Ok(Self {
            config,
            store,
            pubkey: *key.public(),
        })
    }

    fn now() -> f64 {
        session_rt::SystemClock.now_secs()
    }

    fn base_url(&self) -> String {
        self.config.base_url_for(self.config.listen)
    }

    fn join_url(&self, token: &str) -> String {
        session_sogs::web::join_url(&self.base_url(), token, &self.pubkey)
    }

    /// Warnings about the join URLs this configuration produces.
    fn url_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.config.base_url.is_none() {
            w.push(format!(
                "base_url is not set in {}: join URLs use the listen address ({}); set \
                 base_url to the address clients reach this server at",
                self.config_name(),
                self.base_url()
            ));
        } else if let Some(warning) = client_host_warning(&self.base_url()) {
            w.push(warning);
        }
        if self.config.base_url.is_none() && self.config.listen.port() == 0 {
            w.push("the listen port is 0 (chosen at start), so this URL cannot work".into());
        }
        w
    }

    fn config_name(&self) -> String {
        self.config
            .origin
            .as_ref()
            .map_or_else(|| DEFAULT_CONFIG.to_owned(), |p| p.display().to_string())
    }

    fn room(&self, token: &str) -> anyhow::Result<Room> {
        self.store.room(token)?.ok_or_else(|| {
            anyhow::anyhow!("no room with token {token:?} (list them with `session sogs rooms`)")
        })
    }

    /// The rooms `--rooms` names (`'*'`: every room); `'+'` is refused here.
    fn rooms_named(&self, names: &[String]) -> anyhow::Result<Vec<Room>> {
        match parse_scope(names)? {
            RoomScope::Global => bail!("'+' (server-wide) does not apply here; give room tokens"),
            RoomScope::All => {
                let all = self.store.rooms()?;
                if all.is_empty() {
                    bail!(
                        "'*' means every room, but there are none yet (add one with `session sogs add-room`)"
                    );
                }
                Ok(all)
            }
            RoomScope::Rooms(tokens) => tokens.iter().map(|t| self.room(t)).collect(),
        }
    }

    /// The scope `--rooms` names: global, or rooms.
    fn scope(&self, names: &[String]) -> anyhow::Result<Option<Vec<Room>>> {
        match parse_scope(names)? {
            RoomScope::Global => Ok(None),
            _ => self.rooms_named(names).map(Some),
        }
    }

    /// The ids an action on `text` applies to (see [`resolve_user`]).
    fn users(&self, ids: &[String]) -> anyhow::Result<Vec<Target>> {
        ids.iter()
            .map(|text| {
                let id = parse_user_id(text)?;
                resolve_user(&id, &self.pubkey, self.store.as_ref(), &self.config)
            })
            .collect()
    }
}

/// Where a command applies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RoomScope {
    /// `'+'`: server-wide.
    Global,
    /// `'*'`: every room.
    All,
    /// These rooms.
    Rooms(Vec<String>),
}

fn parse_scope(names: &[String]) -> anyhow::Result<RoomScope> {
    match names {
        [] => bail!("give --rooms TOKEN…, or '*' for every room, or '+' for the whole server"),
        [one] if one == "+" => Ok(RoomScope::Global),
        [one] if one == "*" => Ok(RoomScope::All),
        many if many.iter().any(|n| n == "+" || n == "*") => {
            bail!("'+' and '*' stand alone: do not mix them with each other or with room tokens")
        }
        many => Ok(RoomScope::Rooms(many.to_vec())),
    }
}

/// Parses a user id as operators give it: `05`/`15`/`25` + 64 hex.
fn parse_user_id(text: &str) -> anyhow::Result<AccountId> {
    AccountId::parse_with(
        text,
        &[IdPrefix::Standard, IdPrefix::Blinded15, IdPrefix::Blinded25],
        "05 (Session ID), 15 or 25 (blinded ID)",
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{text:?} is not a user id ({e}): give a Session ID (05 + 64 hex) or a blinded \
             ID (15 or 25 + 64 hex)"
        )
    })
}

/// A user an action applies to: the id given and the ids acted on.
#[derive(Debug, Clone)]
struct Target {
    given: AccountId,
    ids: Vec<AccountId>,
    note: Option<String>,
}

impl Target {
    fn json(&self) -> Value {
        json!({
            "given": self.given.to_hex(),
            "applied_to": self.ids.iter().map(AccountId::to_hex).collect::<Vec<_>>(),
        })
    }
}

/// The ids an action on `id` applies to. Blinded ids as given. A `05` Session ID is
/// what its owner's clients never show the server: they authenticate with the 15-blinded
/// id, which is one of two candidates (the sign of the key is not in the Session ID). If
/// the server knows one of them, that one; otherwise both (only the owner can ever use
/// either). When blinding is not required, the `05` id itself too (unblinded logins).
fn resolve_user(
    id: &AccountId,
    server_pk: &[u8; 32],
    store: &dyn SogsStore,
    config: &SogsConfig,
) -> anyhow::Result<Target> {
    match id.prefix() {
        IdPrefix::Standard => {
            let candidates = session_crypto::blinding::blind15_ids(id, server_pk).map_err(|e| {
                anyhow::anyhow!(
                    "{id} is not a valid Session ID ({e}); check that it was copied \
                         completely"
                )
            })?;
            let mut known = Vec::new();
            for c in &candidates {
                if store.user(c)?.is_some() {
                    known.push(*c);
                }
            }
            let (mut ids, note) = if known.is_empty() {
                (
                    candidates.to_vec(),
                    Some(format!(
                        "{} has not used this server yet: applied to both blinded ids it may \
                         have here",
                        short_id(id)
                    )),
                )
            } else {
                (known, None)
            };
            if !config.users.require_blind_keys {
                ids.push(*id);
            }
            Ok(Target {
                given: *id,
                ids,
                note,
            })
        }
        IdPrefix::Blinded25 if !config.users.accept_blind25 => Ok(Target {
            given: *id,
            ids: vec![*id],
            note: Some(format!(
                "{} is a 25-blinded id, which cannot log in while [users] accept_blind25 is \
                 false",
                short_id(id)
            )),
        }),
        _ => Ok(Target {
            given: *id,
            ids: vec![*id],
            note: None,
        }),
    }
}

fn short_id(id: &AccountId) -> String {
    let hex = id.to_hex();
    match (hex.get(..8), hex.get(hex.len().saturating_sub(4)..)) {
        (Some(a), Some(b)) => format!("{a}…{b}"),
        _ => hex,
    }
}

/// Parses a permission set like `rwua`.
fn parse_perms(text: &str) -> anyhow::Result<[bool; 4]> {
    let mut set = [false; 4];
    for c in text.chars() {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'u' => 2,
            'a' => 3,
            _ => bail!(
                "{text:?}: {c:?} is not a permission; use letters of rwua (r = read, w = write, \
                 u = upload, a = accessible)"
            ),
        };
        set[i] = true;
    }
    Ok(set)
}

fn perms_text(d: &RoomDefaults) -> String {
    let mut s = String::new();
    for (on, c) in [
        (d.read, 'r'),
        (d.write, 'w'),
        (d.upload, 'u'),
        (d.accessible, 'a'),
    ] {
        s.push(if on { c } else { '-' });
    }
    s
}

fn perms_json(d: &RoomDefaults) -> Value {
    json!({"read": d.read, "write": d.write, "upload": d.upload, "accessible": d.accessible})
}

/// PySOGS's description escapes: `\n` → line break, `\\` → backslash.
fn unescape_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn room_json(room: &Room, url: &str) -> Value {
    json!({
        "token": room.token,
        "name": room.name,
        "description": room.description,
        "created": room.created,
        "message_sequence": room.message_sequence,
        "info_updates": room.info_updates,
        "active_users": room.active_users,
        "default_permissions": perms_json(&room.defaults),
        "join_url": url,
    })
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

// ---- init and run ----

fn starter_config(args: &InitArgs) -> String {
    let mut s = String::from(
        "# Session community server (SOGS) configuration. Every key is optional; see\n\
         # sogs.example.toml in the session-sogs crate for all of them and their defaults.\n\n\
         # Database and server key (key_x25519: the server's identity, keep it safe).\n\
         # Relative to this file.\n",
    );
    let data_dir = args
        .data_dir
        .as_ref()
        .map_or_else(|| "sogs-data".to_owned(), |d| d.display().to_string());
    s.push_str(&format!("data_dir = {}\n\n", ui::toml_string(&data_dir)));
    s.push_str(
        "# HTTP listener: loopback behind a TLS reverse proxy, or 0.0.0.0:80 to serve\n\
         # directly.\n",
    );
    let listen = args
        .listen
        .unwrap_or(session_sogs::config::DEFAULT_LISTEN)
        .to_string();
    s.push_str(&format!("listen = {}\n\n", ui::toml_string(&listen)));
    s.push_str(
        "# The address clients reach this server at (no path); join URLs are\n\
         # {base_url}/{room}?public_key={server key}. Session clients need a dotted host\n\
         # (an IP address or a domain name, not localhost).\n",
    );
    match &args.base_url {
        Some(url) => s.push_str(&format!("base_url = {}\n", ui::toml_string(url))),
        None => s.push_str("# base_url = \"https://sogs.example.org\"\n"),
    }
    s.push_str(
        "\n[web]\n# Room directory at / and recent messages on room pages.\n\
         show_index = true\nshow_recent = true\n",
    );
    s
}

fn init(args: &InitArgs, json: bool) -> anyhow::Result<()> {
    let path = &args.config.config;
    if let Some(url) = &args.base_url {
        session_sogs::config::check_base_url(url)
            .map_err(|r| anyhow::anyhow!("--base-url: {r}"))?;
    }
    let wrote = ui::write_starter_config(
        path,
        &[
            ("--base-url", args.base_url.is_some()),
            ("--listen", args.listen.is_some()),
            ("--data-dir", args.data_dir.is_some()),
        ],
        || starter_config(args),
    )?;
    let config = SogsConfig::load(path)?;
    let (key, key_created) = load_or_create_key(&config.key_path())?;
    let store = session_sogs::run::open_store(&config)?;
    let rooms = store.rooms()?.len();
    let pubkey = hex::encode(key.public());
    let cfg = path.display().to_string();
    if json {
        ui::print_json(&json!({
            "config": cfg,
            "config_created": wrote,
            "data_dir": config.data_dir().display().to_string(),
            "key_file": config.key_path().display().to_string(),
            "key_created": key_created,
            "public_key": pubkey,
            "rooms": rooms,
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
    println!("Server public key: {pubkey}");
    println!(
        "Database: {}",
        config
            .database_url()
            .unwrap_or_else(|| { config.data_dir().join("sogs.db").display().to_string() })
    );
    println!();
    println!("Next:");
    let c = ui::shell_quote(&cfg);
    let mut step = 1;
    if config.base_url.is_none() {
        println!("  {step}. Set base_url in {cfg} to the address clients reach this server at.");
        step += 1;
    }
    if rooms == 0 {
        println!(
            "  {step}. Add a room:          session sogs add-room lobby --name \"Lobby\" --config {c}"
        );
        step += 1;
    }
    println!(
        "  {step}. Make yourself admin:  session sogs add-moderators <your Session ID> --rooms '+' --admin --config {c}"
    );
    step += 1;
    println!("  {step}. Start the server:     session sogs run --config {c}");
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
    super::serve::run_until_signal("session-sogs", listen, |listener, shutdown| async move {
        let bound = listener.local_addr().ok();
        let server = SogsServer::open(&config, bound)?;
        let rooms = server.join_urls()?;
        let addr = bound.map_or_else(|| listen.to_string(), |a| a.to_string());
        if json {
            ui::print_json(&json!({
                "listening": format!("http://{addr}"),
                "public_key": server.public_key_hex(),
                "base_url": server.base_url(),
                "key_created": server.key_created(),
                "rooms": rooms.iter().map(|(r, u)| json!({
                    "token": r.token, "name": r.name, "join_url": u,
                })).collect::<Vec<_>>(),
            }));
        } else {
            super::serve::announce(&format!("session sogs listening on http://{addr}"));
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "server public key: {}", server.public_key_hex());
            if server.key_created() {
                let _ = writeln!(
                    out,
                    "created a new server key at {} (back it up: it is the server's identity)",
                    config.key_path().display()
                );
            }
            let _ = writeln!(out, "web page: {}/", server.base_url());
            if rooms.is_empty() {
                let _ = writeln!(
                    out,
                    "no rooms yet: add one with `session sogs add-room TOKEN --config {}`",
                    ui::shell_quote(&args.config.config.display().to_string())
                );
            }
            for (room, url) in &rooms {
                let _ = writeln!(out, "room {}: {url}", room.token);
            }
            let _ = out.flush();
        }
        if let Some(w) = client_host_warning(server.base_url()) {
            eprintln!("warning: {w}");
        }
        server.serve(listener, shutdown).await?;
        Ok(())
    })
}

// ---- rooms ----

fn add_room(args: &AddRoomArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let p = parse_perms(&args.perms)?;
    if p[2] && !p[1] {
        eprintln!("warning: upload without write has no effect (uploading needs write)");
    }
    let new = NewRoom {
        token: args.token.clone(),
        name: args.name.clone().unwrap_or_else(|| args.token.clone()),
        description: args
            .description
            .as_deref()
            .map(unescape_description)
            .filter(|d| !d.is_empty()),
        defaults: RoomDefaults {
            read: p[0],
            write: p[1],
            upload: p[2],
            accessible: p[3],
        },
    };
    let room = admin.store.create_room(&new, Admin::now())?;
    let url = admin.join_url(&room.token);
    let warnings = admin.url_warnings();
    if json {
        ui::print_json(&room_json(&room, &url));
        warn_all(&warnings);
        return Ok(());
    }
    println!("Created room {}", room.token);
    print_room_details(&room, &url);
    println!();
    println!("{}", ui::qr_code(&url)?);
    warn_all(&warnings);
    Ok(())
}

fn print_room_details(room: &Room, url: &str) {
    println!("  name:         {}", room.name);
    if let Some(d) = &room.description {
        let mut lines = d.lines();
        println!("  description:  {}", lines.next().unwrap_or_default());
        for l in lines {
            println!("                {l}");
        }
    }
    println!(
        "  permissions:  {} (default for everyone: r read, w write, u upload, a accessible)",
        perms_text(&room.defaults)
    );
    println!("  join URL:     {url}");
}

fn rooms(args: &RoomsArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = admin.store.rooms()?;
    let mut rows = Vec::new();
    for room in &rooms {
        let mods = admin.store.room_moderators(&room.token)?;
        let room_mods: Vec<_> = mods.iter().filter(|m| !m.global).collect();
        rows.push((room, room_mods.len(), mods));
    }
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(room, _, mods)| {
                let mut v = room_json(room, &admin.join_url(&room.token));
                v["moderators"] = mods
                    .iter()
                    .filter(|m| !m.global)
                    .map(|m| {
                        json!({"session_id": m.session_id.to_hex(), "admin": m.admin, "visible": m.visible})
                    })
                    .collect();
                v
            })
            .collect();
        ui::print_json(&json!({ "rooms": list }));
        return Ok(());
    }
    if rooms.is_empty() {
        println!(
            "No rooms yet. Add one with: session sogs add-room TOKEN --name NAME --config {}",
            ui::shell_quote(&args.config.config.display().to_string())
        );
        return Ok(());
    }
    let mut t = table::Table::new(&["TOKEN", "NAME", "SEQNO", "ACTIVE", "MODS", "PERMS"]);
    for (room, n_mods, _) in &rows {
        t.row(vec![
            room.token.clone(),
            room.name.clone(),
            room.message_sequence.to_string(),
            room.active_users.to_string(),
            n_mods.to_string(),
            perms_text(&room.defaults),
        ]);
    }
    print!("{}", t.render());
    if !args.verbose {
        println!(
            "(SEQNO counts posts, edits, deletions and reactions; ACTIVE: users seen in the \
             last {} days; -v for details)",
            admin.config.rooms.active_threshold
        );
        return Ok(());
    }
    for (room, _, mods) in &rows {
        println!();
        println!("{}", room.token);
        print_room_details(room, &admin.join_url(&room.token));
        println!("  created:      {}", utc(room.created));
        println!("  info updates: {}", room.info_updates);
        for m in mods.iter().filter(|m| !m.global) {
            println!(
                "  {}:    {}{}",
                if m.admin { "admin    " } else { "moderator" },
                m.session_id,
                if m.visible { "" } else { " (hidden)" }
            );
        }
    }
    Ok(())
}

fn join_url(args: &JoinUrlArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let room = admin.room(&args.token)?;
    let url = admin.join_url(&room.token);
    let warnings = admin.url_warnings();
    if json {
        ui::print_json(&json!({"token": room.token, "join_url": url}));
    } else if args.no_qr {
        println!("{url}");
    } else {
        println!("{url}");
        println!();
        println!("{}", ui::qr_code(&url)?);
    }
    warn_all(&warnings);
    Ok(())
}

fn update_room(args: &UpdateRoomArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let room = admin.room(&args.token)?;
    let mut update = RoomUpdate {
        name: args.name.clone(),
        ..RoomUpdate::default()
    };
    if args.no_description {
        update.description = Some(None);
    } else if let Some(d) = &args.description {
        let d = unescape_description(d);
        update.description = Some((!d.is_empty()).then_some(d));
    }
    apply_default_perms(
        &mut update,
        args.add_perms.as_deref(),
        args.remove_perms.as_deref(),
    )?;
    if update.is_empty() {
        bail!(
            "nothing to change: give --name, --description, --no-description, --add-perms or --remove-perms"
        );
    }
    let room = admin
        .store
        .update_room(&room.token, &update, Admin::now())?;
    let url = admin.join_url(&room.token);
    if json {
        ui::print_json(&room_json(&room, &url));
    } else {
        println!("Updated room {}", room.token);
        print_room_details(&room, &url);
    }
    Ok(())
}

/// Fills the default-permission fields of `update` from `--add-perms`/`--remove-perms`.
fn apply_default_perms(
    update: &mut RoomUpdate,
    add: Option<&str>,
    remove: Option<&str>,
) -> anyhow::Result<()> {
    let add = add.map(parse_perms).transpose()?.unwrap_or_default();
    let remove = remove.map(parse_perms).transpose()?.unwrap_or_default();
    if let Some(i) = (0..4).find(|&i| add[i] && remove[i]) {
        bail!(
            "{:?} is both added and removed",
            ["read", "write", "upload", "accessible"][i]
        );
    }
    let pick = |i: usize| {
        if add[i] {
            Some(true)
        } else if remove[i] {
            Some(false)
        } else {
            None
        }
    };
    update.default_read = pick(0);
    update.default_write = pick(1);
    update.default_upload = pick(2);
    update.default_accessible = pick(3);
    Ok(())
}

fn delete_room(args: &DeleteRoomArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let room = admin.room(&args.token)?;
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "refusing to delete room {} without confirmation: add --yes (stdin is not a \
                 terminal)",
                room.token
            );
        }
        eprint!(
            "Delete room {} ({}) with all its messages and files? This cannot be undone. \
             Type the token to confirm: ",
            room.token, room.name
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if answer.trim() != room.token {
            bail!("not confirmed; room {} kept", room.token);
        }
    }
    admin.store.delete_room(&room.token)?;
    if json {
        ui::print_json(&json!({"deleted": room.token}));
    } else {
        println!("Deleted room {}", room.token);
    }
    Ok(())
}

// ---- moderators ----

fn print_notes(targets: &[Target]) {
    for t in targets {
        if let Some(n) = &t.note {
            eprintln!("note: {n}");
        }
    }
}

fn scope_text(rooms: &Option<Vec<Room>>) -> String {
    match rooms {
        None => "the whole server".to_owned(),
        Some(r) => {
            let names: Vec<&str> = r.iter().map(|r| r.token.as_str()).collect();
            format!(
                "room{} {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )
        }
    }
}

fn scope_json(rooms: &Option<Vec<Room>>) -> Value {
    match rooms {
        None => json!("+"),
        Some(r) => json!(r.iter().map(|r| r.token.clone()).collect::<Vec<_>>()),
    }
}

fn set_moderators(
    admin: &Admin,
    rooms: &Option<Vec<Room>>,
    targets: &[Target],
    change: &ModeratorChange,
) -> anyhow::Result<()> {
    let now = Admin::now();
    for t in targets {
        for id in &t.ids {
            match rooms {
                None => {
                    admin.store.set_moderator(Scope::Global, id, change, now)?;
                }
                Some(rooms) => {
                    for r in rooms {
                        admin
                            .store
                            .set_moderator(Scope::Room(&r.token), id, change, now)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn add_moderators(args: &AddModeratorsArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = admin.scope(&args.scope.rooms)?;
    let targets = admin.users(&args.ids)?;
    let visible = if args.visible {
        true
    } else if args.hidden {
        false
    } else {
        rooms.is_some()
    };
    let change = ModeratorChange {
        moderator: Some(true),
        admin: args.admin.then_some(true),
        visible: Some(visible),
    };
    set_moderators(&admin, &rooms, &targets, &change)?;
    let role = if args.admin { "admin" } else { "moderator" };
    if json {
        ui::print_json(&json!({
            "role": role,
            "visible": visible,
            "rooms": scope_json(&rooms),
            "users": targets.iter().map(Target::json).collect::<Vec<_>>(),
        }));
    } else {
        for t in &targets {
            println!(
                "{} is now {} {role} of {}",
                t.given,
                if visible { "a visible" } else { "a hidden" },
                scope_text(&rooms)
            );
        }
    }
    print_notes(&targets);
    Ok(())
}

fn remove_moderators(args: &RemoveModeratorsArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = admin.scope(&args.scope.rooms)?;
    let targets = admin.users(&args.ids)?;
    let change = if args.admin_only {
        ModeratorChange {
            admin: Some(false),
            ..ModeratorChange::default()
        }
    } else {
        ModeratorChange {
            moderator: Some(false),
            ..ModeratorChange::default()
        }
    };
    set_moderators(&admin, &rooms, &targets, &change)?;
    let what = if args.admin_only {
        "admin"
    } else {
        "moderator"
    };
    if json {
        ui::print_json(&json!({
            "removed": what,
            "rooms": scope_json(&rooms),
            "users": targets.iter().map(Target::json).collect::<Vec<_>>(),
        }));
    } else {
        for t in &targets {
            println!("{} is no longer {what} of {}", t.given, scope_text(&rooms));
        }
    }
    print_notes(&targets);
    Ok(())
}

fn moderators(args: &ModeratorsArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = if args.rooms.is_empty() {
        admin.store.rooms()?
    } else {
        admin.rooms_named(&args.rooms)?
    };
    let global = admin.store.global_moderators()?;
    let mut per_room = Vec::new();
    for r in &rooms {
        let mods: Vec<_> = admin
            .store
            .room_moderators(&r.token)?
            .into_iter()
            .filter(|m| !m.global)
            .collect();
        per_room.push((r, mods));
    }
    if json {
        ui::print_json(&json!({
            "global": global.iter().map(|u| json!({
                "session_id": u.session_id.to_hex(), "admin": u.admin, "visible": u.visible_mod,
            })).collect::<Vec<_>>(),
            "rooms": per_room.iter().map(|(r, mods)| json!({
                "token": r.token,
                "moderators": mods.iter().map(|m| json!({
                    "session_id": m.session_id.to_hex(), "admin": m.admin, "visible": m.visible,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let mut t = table::Table::new(&["ROOM", "ROLE", "VISIBLE", "ID"]);
    for u in &global {
        t.row(vec![
            "+ (server)".into(),
            if u.admin { "admin" } else { "moderator" }.into(),
            yes_no(u.visible_mod).into(),
            u.session_id.to_hex(),
        ]);
    }
    for (r, mods) in &per_room {
        for m in mods {
            t.row(vec![
                r.token.clone(),
                if m.admin { "admin" } else { "moderator" }.into(),
                yes_no(m.visible).into(),
                m.session_id.to_hex(),
            ]);
        }
    }
    if t.is_empty() {
        println!(
            "No moderators yet. Add one with: session sogs add-moderators ID --rooms TOKEN|'+' [--admin]"
        );
    } else {
        print!("{}", t.render());
        println!("(server moderators and admins moderate every room)");
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

// ---- bans ----

fn ban_scope(admin: &Admin, who: &BanScopeArgs) -> anyhow::Result<Option<Vec<Room>>> {
    if who.global {
        Ok(None)
    } else {
        admin.scope(&who.rooms)
    }
}

fn ban(args: &BanArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.who.config.config)?;
    if let Some(t) = args.timeout
        && !(t.is_finite() && t > 0.0 && t < 1e9)
    {
        bail!("--timeout {t}: give a number of seconds above 0 (e.g. 86400 for a day)");
    }
    let rooms = ban_scope(&admin, &args.who)?;
    let targets = admin.users(&args.who.ids)?;
    let now = Admin::now();
    for t in &targets {
        for id in &t.ids {
            match &rooms {
                None => admin.store.ban(Scope::Global, id, args.timeout, now)?,
                Some(rooms) => {
                    for r in rooms {
                        admin
                            .store
                            .ban(Scope::Room(&r.token), id, args.timeout, now)?;
                    }
                }
            }
        }
    }
    let until = args.timeout.map(|t| now + t);
    if json {
        ui::print_json(&json!({
            "banned": targets.iter().map(Target::json).collect::<Vec<_>>(),
            "rooms": scope_json(&rooms),
            "until": until,
        }));
    } else {
        let when = until.map_or_else(String::new, |u| format!(" until {}", utc(u)));
        for t in &targets {
            println!("Banned {} from {}{when}", t.given, scope_text(&rooms));
        }
    }
    print_notes(&targets);
    Ok(())
}

fn unban(args: &BanScopeArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = ban_scope(&admin, args)?;
    let targets = admin.users(&args.ids)?;
    for t in &targets {
        for id in &t.ids {
            match &rooms {
                None => admin.store.unban(Scope::Global, id)?,
                Some(rooms) => {
                    for r in rooms {
                        admin.store.unban(Scope::Room(&r.token), id)?;
                    }
                }
            }
        }
    }
    if json {
        ui::print_json(&json!({
            "unbanned": targets.iter().map(Target::json).collect::<Vec<_>>(),
            "rooms": scope_json(&rooms),
        }));
    } else {
        for t in &targets {
            println!("Unbanned {} from {}", t.given, scope_text(&rooms));
        }
    }
    print_notes(&targets);
    Ok(())
}

fn bans(args: &BansArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = if args.rooms.is_empty() {
        admin.store.rooms()?
    } else {
        admin.rooms_named(&args.rooms)?
    };
    let mut list = Vec::new();
    for r in &rooms {
        let futures = admin.store.future_permissions(&r.token, None)?;
        for (id, ov) in admin.store.room_overrides(&r.token)? {
            if !ov.banned {
                continue;
            }
            let until = futures
                .iter()
                .filter(|f| f.session_id == id && f.banned == Some(false))
                .map(|f| f.at)
                .reduce(f64::min);
            list.push((r.token.clone(), id, until));
        }
    }
    if json {
        ui::print_json(&json!({
            "bans": list.iter().map(|(room, id, until)| json!({
                "room": room, "session_id": id.to_hex(), "until": until,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    if list.is_empty() {
        println!("No room bans.");
    } else {
        let mut t = table::Table::new(&["ROOM", "UNTIL", "ID"]);
        for (room, id, until) in &list {
            t.row(vec![
                room.clone(),
                until.map_or_else(|| "forever".to_owned(), utc),
                id.to_hex(),
            ]);
        }
        print!("{}", t.render());
    }
    println!("(server-wide bans are not listed; lift one with `session sogs unban ID --global`)");
    Ok(())
}

// ---- permissions ----

fn perms(args: &PermsArgs, json: bool) -> anyhow::Result<()> {
    let admin = Admin::open(&args.config.config)?;
    let rooms = admin.rooms_named(&args.rooms)?;
    let changing =
        args.add_perms.is_some() || args.remove_perms.is_some() || args.clear_perms.is_some();
    if !changing {
        return show_perms(&admin, &rooms, json);
    }
    let now = Admin::now();
    if args.users.is_empty() {
        let mut update = RoomUpdate::default();
        apply_default_perms(
            &mut update,
            args.add_perms.as_deref(),
            args.remove_perms.as_deref(),
        )?;
        let mut out = Vec::new();
        for r in &rooms {
            let room = admin.store.update_room(&r.token, &update, now)?;
            out.push(room);
        }
        if json {
            ui::print_json(&json!({
                "rooms": out.iter().map(|r| json!({
                    "token": r.token, "default_permissions": perms_json(&r.defaults),
                })).collect::<Vec<_>>(),
            }));
        } else {
            for r in &out {
                println!(
                    "Room {}: default permissions now {}",
                    r.token,
                    perms_text(&r.defaults)
                );
            }
        }
        return Ok(());
    }
    let add = args
        .add_perms
        .as_deref()
        .map(parse_perms)
        .transpose()?
        .unwrap_or_default();
    let remove = args
        .remove_perms
        .as_deref()
        .map(parse_perms)
        .transpose()?
        .unwrap_or_default();
    let clear = args
        .clear_perms
        .as_deref()
        .map(parse_perms)
        .transpose()?
        .unwrap_or_default();
    let setting = |i: usize| -> anyhow::Result<Setting> {
        match (add[i], remove[i], clear[i]) {
            (false, false, false) => Ok(Setting::Keep),
            (true, false, false) => Ok(Setting::Set(true)),
            (false, true, false) => Ok(Setting::Set(false)),
            (false, false, true) => Ok(Setting::Clear),
            _ => bail!(
                "{:?} is given to more than one of --add-perms, --remove-perms, --clear-perms",
                ["read", "write", "upload", "accessible"][i]
            ),
        }
    };
    let change = PermissionChange {
        read: setting(0)?,
        write: setting(1)?,
        upload: setting(2)?,
        accessible: setting(3)?,
        unschedule: true,
    };
    let targets = admin.users(&args.users)?;
    let mut out = Vec::new();
    for t in &targets {
        for id in &t.ids {
            for r in &rooms {
                let ov = admin.store.set_permissions(&r.token, id, &change, now)?;
                out.push((r.token.clone(), *id, ov));
            }
        }
    }
    if json {
        ui::print_json(&json!({
            "users": targets.iter().map(Target::json).collect::<Vec<_>>(),
            "changes": out.iter().map(|(room, id, ov)| json!({
                "room": room,
                "session_id": id.to_hex(),
                "overrides": ov.map(|o| overrides_json(&o)),
            })).collect::<Vec<_>>(),
        }));
    } else {
        for (room, id, ov) in &out {
            println!(
                "Room {room}: {} → {}",
                short_id(id),
                ov.map_or_else(|| "room defaults".to_owned(), |o| overrides_text(&o))
            );
        }
    }
    print_notes(&targets);
    Ok(())
}

fn overrides_json(o: &session_sogs::store::Overrides) -> Value {
    json!({
        "banned": o.banned, "read": o.read, "write": o.write, "upload": o.upload,
        "accessible": o.accessible, "moderator": o.moderator, "admin": o.admin,
    })
}

fn overrides_text(o: &session_sogs::store::Overrides) -> String {
    let mut parts = Vec::new();
    for (name, v) in [
        ("read", o.read),
        ("write", o.write),
        ("upload", o.upload),
        ("accessible", o.accessible),
    ] {
        if let Some(v) = v {
            parts.push(format!("{}{name}", if v { "+" } else { "-" }));
        }
    }
    if o.banned {
        parts.push("banned".into());
    }
    if o.admin {
        parts.push("admin".into());
    } else if o.moderator {
        parts.push("moderator".into());
    }
    if parts.is_empty() {
        "room defaults".into()
    } else {
        parts.join(" ")
    }
}

fn show_perms(admin: &Admin, rooms: &[Room], json: bool) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for r in rooms {
        let overrides: Vec<_> = admin
            .store
            .room_overrides(&r.token)?
            .into_iter()
            .filter(|(_, o)| {
                o.read.is_some()
                    || o.write.is_some()
                    || o.upload.is_some()
                    || o.accessible.is_some()
            })
            .collect();
        out.push((r, overrides));
    }
    if json {
        ui::print_json(&json!({
            "rooms": out.iter().map(|(r, ov)| json!({
                "token": r.token,
                "default_permissions": perms_json(&r.defaults),
                "users": ov.iter().map(|(id, o)| json!({
                    "session_id": id.to_hex(), "overrides": overrides_json(o),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for (r, ov) in &out {
        println!("Room {}: default {}", r.token, perms_text(&r.defaults));
        for (id, o) in ov {
            println!("  {}  {}", id, overrides_text(o));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds (`?` for a time that cannot be).
fn utc(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    format!(
        "{} UTC",
        session_rt::time::UtcTime::from_unix_f64(secs).seconds()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = |v: &[&str]| parse_scope(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["+"]).unwrap(), RoomScope::Global);
        assert_eq!(s(&["*"]).unwrap(), RoomScope::All);
        assert_eq!(
            s(&["a", "b"]).unwrap(),
            RoomScope::Rooms(vec!["a".into(), "b".into()])
        );
        assert!(s(&["a", "*"]).is_err());
        assert!(s(&["+", "*"]).is_err());
        assert!(s(&[]).is_err());
    }

    #[test]
    fn perms_and_descriptions() {
        assert_eq!(parse_perms("rwua").unwrap(), [true; 4]);
        assert_eq!(parse_perms("ra").unwrap(), [true, false, false, true]);
        assert_eq!(parse_perms("").unwrap(), [false; 4]);
        assert!(parse_perms("rx").is_err());
        assert_eq!(unescape_description(r"a\nb\\n\q\"), "a\nb\\n\\q\\");
    }

    #[test]
    fn user_ids() {
        let hex = "ab".repeat(32);
        assert!(parse_user_id(&format!("05{hex}")).is_ok());
        assert!(parse_user_id(&format!("15{hex}")).is_ok());
        assert!(parse_user_id(&format!("25{hex}")).is_ok());
        let e = parse_user_id(&format!("00{hex}")).unwrap_err().to_string();
        assert!(e.contains("Session ID"), "{e}");
        assert!(parse_user_id("05abc").is_err());
    }

    #[test]
    fn session_ids_map_to_blinded_ids() {
        let t = session_sogs::store::testing::sqlite(session_sogs::store::Retention::default());
        let cfg = SogsConfig::default();
        let server_pk = [7u8; 32];
        let keys = session_crypto::AccountKeys::generate().unwrap();
        let sid = keys.session_id();
        let target = resolve_user(&sid, &server_pk, t.store.as_ref(), &cfg).unwrap();
        assert_eq!(target.ids.len(), 2, "unknown user: both candidates");
        assert!(target.ids.iter().all(|i| i.prefix() == IdPrefix::Blinded15));
        assert!(target.note.is_some());
        // Once the user has logged in with one of them, only that one.
        t.store.ensure_user(&target.ids[1], 1.0).unwrap();
        let again = resolve_user(&sid, &server_pk, t.store.as_ref(), &cfg).unwrap();
        assert_eq!(again.ids, vec![target.ids[1]]);
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(1_700_000_000.0), "2023-11-14 22:13:20 UTC");
    }
}
