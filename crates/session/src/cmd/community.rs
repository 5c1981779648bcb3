//! `session community …`: join communities (rooms on community servers), read and post,
//! react, delete, and DM people of a room by their blinded id, through
//! [`session_client::CommunityClient`].
//!
//! The joined rooms, their messages and the DMs live in `client.db` in the data
//! directory. A server is reached the way it was joined: through an onion path of the
//! network in `--network` (the default, as Session clients do), or directly over HTTP
//! with `join --direct` (a local server, tests; the server then sees your IP address).
//!
//! A ROOM argument is a room token (`lobby`) or, when several joined servers have a
//! room of that name, `server/token` (`http://127.0.0.1:8080/lobby`, or without the
//! scheme).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use session_client::community::{JoinUrl, PollReport, RoomInfo, Route};
use session_client::store::{
    ClientStore, Community, CommunityDmRecord, CommunityMessage, DmDirection, MessageStatus,
    SqliteStore,
};
use session_client::{ClientError, CommunityClient, OnionClient};
use session_crypto::AccountId;

use session_client::attachments::MAX_UPLOAD;

use super::chat::files;
use super::chat::format::{short_id, table, utc_time};
use super::chat::{NetArgs, load_network};
use crate::{account_file, profile_file, ui};

/// `session community …`.
#[derive(Debug, Subcommand)]
pub enum CommunityCommand {
    /// Join a room by its URL (`https://host/token?public_key=…`, as the room's web page
    /// or QR code gives it).
    Join(JoinArgs),
    /// List the rooms you joined.
    List,
    /// Leave a room: forget it and its messages on this device.
    Leave(RoomArgs),
    /// Fetch new messages of a room, then show the newest ones (time, author, text,
    /// reactions).
    Read(ReadArgs),
    /// Post a message to a room, with files if you like (room files are not encrypted:
    /// everyone who can read the room can download them).
    Post(PostArgs),
    /// Save a file posted in a room: downloads it and checks its size against the post.
    Save(SaveArgs),
    /// Add (or with --remove, take back) a reaction to a message.
    React(ReactArgs),
    /// Delete one of your messages (or any, as a moderator) for everyone.
    Delete(DeleteArgs),
    /// Send a direct message to someone of a room, by their blinded id (15…) as `read`
    /// shows it.
    Dm(DmArgs),
    /// Fetch and show your direct messages with the people of a room's server.
    Inbox(InboxArgs),
}

/// Options of `session community join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The join URL: `http(s)://host[:port]/token?public_key=<server key>`.
    url: String,
    /// Talk to the server directly over HTTP instead of through onion paths (for a
    /// server on this machine or in tests; the server sees your IP address).
    #[arg(long)]
    direct: bool,
    /// Also print the room's join URL as a QR code.
    #[arg(long)]
    qr: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// A room (token, or server/token).
#[derive(Debug, Args)]
pub struct RoomArgs {
    /// The room: its token, or `server/token` when several servers have one by that
    /// name.
    #[arg(value_name = "ROOM")]
    room: String,
}

/// Options of `session community read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The room: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// How many of the newest messages to show.
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Don't fetch first: show what is on this device.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community post`.
#[derive(Debug, Args)]
pub struct PostArgs {
    /// The room: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// The message (the words are joined with spaces); with --file, an optional
    /// caption.
    #[arg(
        value_name = "TEXT",
        required_unless_present = "file",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    text: Vec<String>,
    /// Attach this file (at most 10 MB; repeat for several). It is uploaded to the room
    /// as it is: room files are readable by everyone in the room.
    #[arg(long, short = 'f', value_name = "PATH")]
    file: Vec<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The room: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// The message id, as `read` shows it (`#12`).
    #[arg(value_name = "MESSAGE_ID")]
    id: String,
    #[command(flatten)]
    to: files::SaveTo,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community react`.
#[derive(Debug, Args)]
pub struct ReactArgs {
    /// The room: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// The message id, as `read` shows it (`#12`).
    #[arg(value_name = "MESSAGE_ID")]
    id: String,
    /// The reaction, e.g. 👍.
    #[arg(value_name = "EMOJI")]
    emoji: String,
    /// Take your reaction back instead.
    #[arg(long)]
    remove: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The room: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// The message id, as `read` shows it (`#12`).
    #[arg(value_name = "MESSAGE_ID")]
    id: String,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community dm`.
#[derive(Debug, Args)]
pub struct DmArgs {
    /// The room whose server relays the message: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// The recipient's blinded id on that server (66 hex characters, 15…).
    #[arg(value_name = "BLINDED_ID")]
    to: String,
    /// The message (the words are joined with spaces).
    #[arg(
        value_name = "TEXT",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    text: Vec<String>,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session community inbox`.
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// A room of the server: its token, or `server/token`.
    #[arg(value_name = "ROOM")]
    room: String,
    /// How many of the newest DMs to show.
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Don't fetch first: show what is on this device.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Where a command runs.
#[derive(Clone, Copy)]
struct Env<'a> {
    data_dir: &'a Path,
    json: bool,
}

/// Runs a `session community` command.
pub fn run(command: CommunityCommand, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let env = Env { data_dir, json };
    match command {
        CommunityCommand::List => return list(env),
        CommunityCommand::Leave(a) => return leave(&a, env),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match command {
            CommunityCommand::Join(a) => join(a, env).await,
            CommunityCommand::Read(a) => read(a, env).await,
            CommunityCommand::Post(a) => post(a, env).await,
            CommunityCommand::Save(a) => save(a, env).await,
            CommunityCommand::React(a) => react(a, env).await,
            CommunityCommand::Delete(a) => delete(a, env).await,
            CommunityCommand::Dm(a) => dm(a, env).await,
            CommunityCommand::Inbox(a) => inbox(a, env).await,
            CommunityCommand::List | CommunityCommand::Leave(_) => Ok(()),
        }
    })
}

fn open_store(env: Env<'_>) -> anyhow::Result<Arc<dyn ClientStore>> {
    let store = SqliteStore::open(env.data_dir).context("opening the local message store")?;
    Ok(Arc::new(store))
}

fn route(direct: bool, net: &NetArgs) -> anyhow::Result<Route> {
    if direct {
        return Ok(Route::Direct);
    }
    let config = load_network(net)?;
    Ok(Route::Onion(OnionClient::with_system_clock(config)))
}

/// The account's client for a joined room's server.
fn client_for(
    env: Env<'_>,
    store: Arc<dyn ClientStore>,
    community: &Community,
    net: &NetArgs,
) -> anyhow::Result<CommunityClient> {
    let keys = account_file::load(env.data_dir)?;
    let name = profile_file::load(env.data_dir)?.display_name;
    let route = route(community.direct, net)?;
    Ok(CommunityClient::for_community(
        keys,
        community,
        route,
        store,
        session_rt::SystemClock::shared(),
    )?
    .with_display_name(name))
}

/// Finds a joined room from what the user typed (see the module documentation).
fn find_room(store: &dyn ClientStore, text: &str) -> anyhow::Result<Community> {
    let text = text.trim().trim_end_matches('/');
    let joined = store.communities()?;
    let (server, token) = match text.rsplit_once('/') {
        Some((s, t)) => (Some(s.to_ascii_lowercase()), t.to_ascii_lowercase()),
        None => (None, text.to_ascii_lowercase()),
    };
    let matches: Vec<&Community> = joined
        .iter()
        .filter(|c| c.token == token)
        .filter(|c| match &server {
            None => true,
            Some(s) => {
                let bare = c
                    .base_url
                    .split_once("://")
                    .map_or(c.base_url.as_str(), |(_, rest)| rest);
                c.base_url == *s || bare == s.as_str()
            }
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let known = if joined.is_empty() {
                "you have not joined any room yet".to_owned()
            } else {
                format!(
                    "joined: {}",
                    joined
                        .iter()
                        .map(|c| format!("{}/{}", c.base_url, c.token))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            bail!(
                "no joined room {text:?} ({known}); join it first with `session community join URL`"
            )
        }
        many => bail!(
            "{text:?} names rooms on several servers ({}); write it as server/token",
            many.iter()
                .map(|c| format!("{}/{}", c.base_url, c.token))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A server's refusal in words people can act on.
fn explain(e: ClientError) -> anyhow::Error {
    let hint = match &e {
        ClientError::Community { status: 403, .. } => {
            Some("you lack the permission for that in this room (or you are banned)")
        }
        ClientError::Community { status: 404, .. } => Some("no such room, message or user there"),
        ClientError::Community { status: 429, .. } => {
            Some("you are posting too fast; wait a few seconds")
        }
        ClientError::Community { status: 425, .. } => {
            Some("the server's clock and yours disagree by more than a day")
        }
        _ => None,
    };
    let err = anyhow::Error::new(e);
    match hint {
        Some(h) => err.context(h),
        None => err,
    }
}

fn parse_id(text: &str) -> anyhow::Result<u64> {
    text.trim()
        .trim_start_matches('#')
        .parse()
        .with_context(|| format!("{text:?} is not a message id (a number, as `read` shows it)"))
}

fn words(text: &[String]) -> anyhow::Result<String> {
    let body = text.join(" ");
    anyhow::ensure!(
        !body.trim().is_empty(),
        "the message is empty; write some text"
    );
    Ok(body)
}

fn community_json(c: &Community) -> Value {
    json!({
        "server": c.base_url,
        "room": c.token,
        "name": c.name,
        "route": if c.direct { "direct" } else { "onion" },
        "server_pubkey": hex::encode(c.pubkey),
        "url": format!("{}/{}?public_key={}", c.base_url, c.token, hex::encode(c.pubkey)),
        "seqno": c.seqno,
    })
}

fn reactions_text(m: &CommunityMessage) -> String {
    m.reactions
        .iter()
        .map(|r| format!("{}{}{}", r.emoji, r.count, if r.you { "*" } else { "" }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn author(m: &CommunityMessage, me: &AccountId) -> String {
    if m.sender == *me {
        return "you".into();
    }
    match &m.display_name {
        Some(n) if m.status == MessageStatus::Valid => format!("{n} ({})", short_id(&m.sender)),
        _ => short_id(&m.sender),
    }
}

fn message_json(m: &CommunityMessage, me: &AccountId) -> Value {
    json!({
        "id": m.id,
        "seqno": m.seqno,
        "sender": m.sender.to_hex(),
        "you": m.sender == *me,
        "display_name": m.display_name,
        "posted_ms": m.posted_ms,
        "sent_ms": m.sent_ms,
        "edited_ms": m.edited_ms,
        "body": m.body,
        "status": m.status.as_str(),
        "reactions": m.reactions.iter().map(|r| json!({
            "emoji": r.emoji, "count": r.count, "you": r.you, "reactors": r.reactors,
        })).collect::<Vec<_>>(),
        "attachments": m.attachments.iter().map(files::attachment_json).collect::<Vec<_>>(),
    })
}

fn message_line(m: &CommunityMessage, me: &AccountId) -> String {
    let edited = if m.edited_ms.is_some() {
        " (edited)"
    } else {
        ""
    };
    let text = match m.status {
        MessageStatus::Valid => {
            let mut parts: Vec<String> = Vec::new();
            if !m.body.is_empty() {
                parts.push(m.body.clone());
            }
            parts.extend(m.attachments.iter().map(files::attachment_label));
            parts.join("  ")
        }
        MessageStatus::BadSignature => {
            "⚠ the signature does not verify: someone altered this message (not shown)".into()
        }
        MessageStatus::Malformed => "⚠ unreadable message".into(),
    };
    let reactions = reactions_text(m);
    let reactions = if reactions.is_empty() {
        String::new()
    } else {
        format!("   [{reactions}]")
    };
    format!(
        "#{} {} {}: {text}{edited}{reactions}",
        m.id,
        utc_time(m.posted_ms),
        author(m, me)
    )
}

fn dm_json(d: &CommunityDmRecord) -> Value {
    json!({
        "id": d.id,
        "direction": match d.direction { DmDirection::Inbox => "in", DmDirection::Outbox => "out" },
        "peer": d.peer.to_hex(),
        "sender_session_id": d.sender_session_id.map(|s| s.to_hex()),
        "display_name": d.display_name,
        "posted_ms": d.posted_ms,
        "body": d.body,
        "status": d.status.as_str(),
    })
}

fn dm_line(d: &CommunityDmRecord) -> String {
    let text = if d.status == MessageStatus::Valid {
        d.body.clone()
    } else {
        "⚠ unreadable message".into()
    };
    match d.direction {
        DmDirection::Outbox => format!(
            "{} you → {}: {text}",
            utc_time(d.posted_ms),
            short_id(&d.peer)
        ),
        DmDirection::Inbox => {
            let who = match (&d.display_name, &d.sender_session_id) {
                (Some(n), Some(s)) => format!("{n} ({})", short_id(s)),
                (None, Some(s)) => short_id(s),
                _ => short_id(&d.peer),
            };
            format!(
                "{} {who} (as {}): {text}",
                utc_time(d.posted_ms),
                short_id(&d.peer)
            )
        }
    }
}

fn warn_poll(report: &PollReport) {
    for e in &report.errors {
        eprintln!("warning: {e}");
    }
}

/// Polls; a failure is a warning (what is stored is shown anyway).
async fn refresh(client: &CommunityClient) {
    match client.poll().await {
        Ok(r) => warn_poll(&r),
        Err(e) => eprintln!(
            "warning: could not fetch from {} ({e}); showing what is on this device",
            client.base_url()
        ),
    }
}

// ---- the commands ----

async fn join(args: JoinArgs, env: Env<'_>) -> anyhow::Result<()> {
    let url: JoinUrl = args.url.parse()?;
    let keys = account_file::load(env.data_dir)?;
    let name = profile_file::load(env.data_dir)?.display_name;
    let store = open_store(env)?;
    let route = route(args.direct, &args.net)?;
    let client = CommunityClient::new(
        keys,
        url.server.clone(),
        url.pubkey,
        route,
        Arc::clone(&store),
        session_rt::SystemClock::shared(),
    )
    .with_display_name(name);
    let (community, info): (Community, RoomInfo) = client
        .join(&url.room)
        .await
        .map_err(explain)
        .with_context(|| format!("cannot join {}", url))?;
    // Fetch the recent messages now, so that `read` has something to show at once.
    let report = client.poll().await.ok();
    let canonical = url.to_string();
    if env.json {
        let mut out = community_json(&community);
        out["blinded_id"] = json!(client.own_id().to_hex());
        out["description"] = json!(info.description);
        out["active_users"] = json!(info.active_users);
        out["write"] = json!(info.write);
        out["new_messages"] = json!(report.map_or(0, |r| r.new_messages));
        ui::print_json(&out);
        return Ok(());
    }
    println!(
        "Joined {} ({}) on {} · {} active users · reached {}",
        info.name,
        community.token,
        community.base_url,
        info.active_users,
        if community.direct {
            "directly"
        } else {
            "through onion paths"
        }
    );
    if let Some(d) = &info.description {
        println!("{d}");
    }
    println!("Your id in this community: {}", client.own_id().to_hex());
    if !info.write {
        println!("(read-only: you may not post here)");
    }
    println!("Join URL: {canonical}");
    if args.qr {
        println!("{}", ui::qr_code(&canonical)?);
    }
    println!(
        "`session community read {}` shows the messages.",
        community.token
    );
    Ok(())
}

fn list(env: Env<'_>) -> anyhow::Result<()> {
    let store = open_store(env)?;
    let rooms = store.communities()?;
    if env.json {
        ui::print_json(&Value::Array(rooms.iter().map(community_json).collect()));
        return Ok(());
    }
    if rooms.is_empty() {
        println!("No rooms joined; `session community join URL` joins one.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = rooms
        .iter()
        .map(|c| {
            vec![
                c.token.clone(),
                c.name.clone(),
                c.base_url.clone(),
                if c.direct { "direct" } else { "onion" }.into(),
            ]
        })
        .collect();
    println!("{}", table(&["ROOM", "NAME", "SERVER", "ROUTE"], &rows));
    Ok(())
}

fn leave(args: &RoomArgs, env: Env<'_>) -> anyhow::Result<()> {
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    store.leave_community(&c.base_url, &c.token)?;
    if env.json {
        ui::print_json(&json!({"left": true, "server": c.base_url, "room": c.token}));
    } else {
        println!(
            "Left {} ({}) on {}: its messages are deleted on this device.",
            c.name, c.token, c.base_url
        );
    }
    Ok(())
}

async fn read(args: ReadArgs, env: Env<'_>) -> anyhow::Result<()> {
    if args.limit == 0 {
        bail!("--limit 0 shows nothing; give at least 1");
    }
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, Arc::clone(&store), &c, &args.net)?;
    if !args.offline {
        refresh(&client).await;
    }
    let me = client.own_id();
    let msgs = client.messages(&c.token, args.limit)?;
    if env.json {
        ui::print_json(&Value::Array(
            msgs.iter().map(|m| message_json(m, &me)).collect(),
        ));
        return Ok(());
    }
    let c = store.community(&c.base_url, &c.token)?.unwrap_or(c);
    println!("{} ({}) on {} · times in UTC", c.name, c.token, c.base_url);
    if msgs.is_empty() {
        println!("No messages.");
    }
    for m in &msgs {
        println!("{}", message_line(m, &me));
    }
    Ok(())
}

async fn post(args: PostArgs, env: Env<'_>) -> anyhow::Result<()> {
    let new_files = args
        .file
        .iter()
        .map(|p| files::read_file_to_send(p, MAX_UPLOAD))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = if new_files.is_empty() || !args.text.is_empty() {
        words(&args.text)?
    } else {
        String::new()
    };
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, store, &c, &args.net)?;
    let bar = files::TransferBar::new(env.json);
    let posted = client
        .post_files(&c.token, &text, &new_files, &mut |p| bar.update(p))
        .await;
    bar.finish();
    let m = posted
        .map_err(explain)
        .with_context(|| format!("cannot post to {}", c.token))?;
    if env.json {
        ui::print_json(&message_json(&m, &client.own_id()));
    } else {
        println!("Posted to {} as #{}", c.token, m.id);
    }
    Ok(())
}

async fn save(args: SaveArgs, env: Env<'_>) -> anyhow::Result<()> {
    let id = parse_id(&args.id)?;
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, Arc::clone(&store), &c, &args.net)?;
    let Some(msg) = store.community_message(&c.base_url, &c.token, id)? else {
        bail!(
            "no message #{id} of {} on this device; `session community read {}` fetches \
             and lists them",
            c.token,
            c.token
        );
    };
    let (index, pointer, target) = args.to.pick(&msg.attachments)?;
    let bar = files::TransferBar::new(env.json);
    let fetched = client.fetch_file(&msg, index, &mut |p| bar.update(p)).await;
    bar.finish();
    args.to.write(
        &target,
        pointer,
        fetched.map_err(explain),
        env.json,
        json!({ "room": c.token, "id": id }),
    )
}

async fn react(args: ReactArgs, env: Env<'_>) -> anyhow::Result<()> {
    let id = parse_id(&args.id)?;
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, store, &c, &args.net)?;
    let changed = client
        .react(&c.token, id, args.emoji.trim(), !args.remove)
        .await
        .map_err(explain)
        .context("cannot react")?;
    if env.json {
        ui::print_json(&json!({
            "id": id, "emoji": args.emoji.trim(), "removed": args.remove, "changed": changed,
        }));
    } else {
        let what = match (args.remove, changed) {
            (false, true) => "Reacted",
            (false, false) => "You had already reacted",
            (true, true) => "Removed your reaction",
            (true, false) => "You had not reacted",
        };
        println!("{what} {} on #{id}", args.emoji.trim());
    }
    Ok(())
}

async fn delete(args: DeleteArgs, env: Env<'_>) -> anyhow::Result<()> {
    let id = parse_id(&args.id)?;
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, store, &c, &args.net)?;
    client
        .delete(&c.token, id)
        .await
        .map_err(explain)
        .with_context(|| format!("cannot delete #{id}"))?;
    if env.json {
        ui::print_json(&json!({"id": id, "deleted": true}));
    } else {
        println!("Deleted #{id} in {} for everyone", c.token);
    }
    Ok(())
}

async fn dm(args: DmArgs, env: Env<'_>) -> anyhow::Result<()> {
    let text = words(&args.text)?;
    let to: AccountId = args.to.trim().parse().with_context(|| {
        format!(
            "{:?} is not a blinded id (66 hex characters starting with 15, as `session \
             community read` shows with --json)",
            args.to
        )
    })?;
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, store, &c, &args.net)?;
    let sent = client
        .send_dm(&to, &text)
        .await
        .map_err(explain)
        .with_context(|| format!("cannot send the DM to {}", short_id(&to)))?;
    if env.json {
        ui::print_json(&dm_json(&sent));
    } else {
        println!("Sent to {} via {}", short_id(&to), c.base_url);
    }
    Ok(())
}

async fn inbox(args: InboxArgs, env: Env<'_>) -> anyhow::Result<()> {
    if args.limit == 0 {
        bail!("--limit 0 shows nothing; give at least 1");
    }
    let store = open_store(env)?;
    let c = find_room(store.as_ref(), &args.room)?;
    let client = client_for(env, store, &c, &args.net)?;
    if !args.offline {
        refresh(&client).await;
    }
    let dms = client.dms(args.limit)?;
    if env.json {
        ui::print_json(&Value::Array(dms.iter().map(dm_json).collect()));
        return Ok(());
    }
    println!(
        "Direct messages via {} · your id there {} · times in UTC",
        c.base_url,
        client.own_id().to_hex()
    );
    if dms.is_empty() {
        println!("No messages.");
    }
    for d in &dms {
        println!("{}", dm_line(d));
    }
    Ok(())
}
