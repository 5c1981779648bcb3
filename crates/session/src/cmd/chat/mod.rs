//! The chat commands (`session send`, `inbox`, `read`, `chat`, …): one account, the
//! one in `--data-dir`, talking to others over the network of `--network`, through
//! [`session_client::Messenger`]. Its local data (conversations, messages, poll state)
//! is `client.db` in the data directory; its settings are `settings.json`
//! ([`crate::profile_file`]).
//!
//! Where is what:
//! * this file: the command list, the shared setup (account, network, store → a
//!   [`Messenger`]) and how a peer or a message hash the user typed is found;
//! * `format.rs`: how ids, times, durations, messages and conversations are shown (text
//!   and JSON);
//! * `send.rs`: `send`, `unsend`, `delete`;
//! * `inbox.rs`: `inbox`, `requests`, `fetch`;
//! * `read.rs`: `read`;
//! * `manage.rs`: `accept`, `decline`, `disappearing`, `profile`;
//! * `live.rs`: `watch` and `chat` (the background poller).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use session_client::store::{ClientStore, ConversationKind, SqliteStore};
use session_client::{ClientError, Messenger, NetworkConfig, OnionClient};
use session_crypto::AccountId;

use crate::{account_file, profile_file};

pub mod files;
pub mod format;
mod inbox;
mod live;
mod manage;
mod read;
mod send;

/// The chat commands (flattened into the top-level command list).
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Send a message to a Session ID or a Session name (@name).
    Send(send::SendArgs),
    /// Fetch new messages, then list your conversations: unread counts, last message,
    /// disappearing setting.
    Inbox(inbox::InboxArgs),
    /// Fetch new messages, then show a conversation (oldest first) and mark it read.
    Read(read::ReadArgs),
    /// Chat interactively: shows the last messages, sends each line you type, and
    /// prints new messages as they arrive (`/quit` or end of input to leave).
    Chat(live::ChatArgs),
    /// List message requests: conversations started by people you have not accepted.
    Requests(inbox::RequestsArgs),
    /// Accept a message request: the conversation moves to your inbox and the sender is
    /// told (with your display name).
    Accept(manage::PeerArgs),
    /// Decline a message request: the conversation and its messages are deleted on this
    /// device (the sender is not told).
    Decline(manage::PeerArgs),
    /// Save a file someone sent you: downloads it through an onion path, checks it
    /// against the message (digest, size) and decrypts it.
    Save(files::SaveArgs),
    /// Delete one of your messages for everyone (the recipient's copy disappears too).
    Unsend(send::HashArgs),
    /// Delete a message on this device only.
    Delete(send::DeleteArgs),
    /// Set a conversation's disappearing messages: off, after send or after read.
    Disappearing(manage::DisappearingArgs),
    /// Poll for messages and print everything that happens as it happens, one line per
    /// event (Ctrl-C to stop).
    Watch(live::WatchArgs),
    /// Poll once and print what arrived (for scripts and cron).
    Fetch(inbox::FetchArgs),
    /// Show or change your local settings: the display name sent with your messages,
    /// read receipts.
    Profile(manage::ProfileArgs),
}

/// Which network to use (every command that talks to the network takes it).
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// The network file (`session devnet` writes it as DIR/network.toml).
    #[arg(
        long,
        env = "SESSION_NETWORK",
        default_value = "devnet/network.toml",
        value_name = "FILE"
    )]
    pub network: PathBuf,
}

/// Where a command runs: the data directory and the output mode.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The data directory (account, client.db, settings.json).
    pub data_dir: &'a Path,
    /// `--json`: machine-readable output.
    pub json: bool,
}

/// Runs a chat command.
pub fn run(cmd: ChatCommand, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let env = Env { data_dir, json };
    if let ChatCommand::Profile(args) = &cmd {
        // Local only: no runtime, no network.
        return manage::profile(args, env);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match cmd {
            ChatCommand::Send(a) => send::send(a, env).await,
            ChatCommand::Inbox(a) => inbox::inbox(a, env).await,
            ChatCommand::Read(a) => read::read(a, env).await,
            ChatCommand::Chat(a) => live::chat(a, env).await,
            ChatCommand::Requests(a) => inbox::requests(a, env).await,
            ChatCommand::Accept(a) => manage::accept(a, env).await,
            ChatCommand::Decline(a) => manage::decline(a, env).await,
            ChatCommand::Save(a) => files::save(a, env).await,
            ChatCommand::Unsend(a) => send::unsend(a, env).await,
            ChatCommand::Delete(a) => send::delete(a, env),
            ChatCommand::Disappearing(a) => manage::disappearing(a, env).await,
            ChatCommand::Watch(a) => live::watch(a, env).await,
            ChatCommand::Fetch(a) => inbox::fetch(a, env).await,
            ChatCommand::Profile(a) => manage::profile(&a, env),
        }
    })
}

/// Loads a network file, with an error that says how to get one.
pub fn load_network(net: &NetArgs) -> anyhow::Result<NetworkConfig> {
    NetworkConfig::load(&net.network).with_context(|| {
        format!(
            "cannot use the network file {} (start a devnet with `session devnet`, or pass \
             --network FILE / set SESSION_NETWORK)",
            net.network.display()
        )
    })
}

/// Opens the account of `env` as a [`Messenger`]: its keys (`account.json`), its
/// settings (`settings.json`), its store (`client.db`) and the network (`None`: offline,
/// nothing may be sent or fetched).
pub fn open(env: Env<'_>, net: Option<&NetArgs>) -> anyhow::Result<Messenger> {
    let keys = account_file::load(env.data_dir)?;
    let config = match net {
        Some(n) => load_network(n)?,
        None => NetworkConfig::new("offline", Vec::new()),
    };
    let settings = profile_file::load(env.data_dir)?;
    let store = SqliteStore::open(env.data_dir).context("opening the local message store")?;
    Ok(Messenger::new(
        keys,
        OnionClient::with_system_clock(config),
        Arc::new(store),
        settings.messenger(),
    ))
}

/// Fetches new messages before local data is shown. A failure does not stop the
/// command: it is reported on standard error and what is stored here is shown.
pub async fn refresh(m: &Messenger) {
    if let Err(e) = m.fetch().await {
        eprintln!(
            "warning: could not fetch new messages ({e}); showing what is on this device \
             (--offline skips fetching)"
        );
    }
}

/// Resolves what the user typed for a peer: `@name` (a Session name), a Session ID, the
/// start of the Session ID of one of your conversations (at least 4 hex characters, as
/// the inbox shows them), or a bare Session name.
pub async fn resolve_peer(m: &Messenger, text: &str) -> anyhow::Result<AccountId> {
    let text = text.trim();
    if text.is_empty() {
        bail!("no recipient given: pass a Session ID (66 hex characters, 05…) or @name");
    }
    if !text.starts_with('@') {
        let hex = text.bytes().all(|b| b.is_ascii_hexdigit());
        if hex && text.len() >= 4 && text.len() < 66 {
            let lower = text.to_ascii_lowercase();
            let matches = conversations_matching(m.store().as_ref(), &lower)?;
            match matches.as_slice() {
                [one] => return Ok(*one),
                [] => {}
                many => bail!(
                    "{text:?} matches {} of your conversations ({}); type more of the Session \
                     ID",
                    many.len(),
                    many.iter()
                        .map(format::short_id)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    }
    match m.resolve_recipient(text).await {
        Ok(id) => Ok(id),
        Err(e @ ClientError::Name { .. }) => {
            let hint = if text.bytes().all(|b| b.is_ascii_hexdigit()) {
                "if you meant a Session ID: it is 66 hex characters starting with 05"
            } else {
                "check the spelling, or ask them for their Session ID"
            };
            Err(anyhow::Error::new(e).context(format!("cannot find {text:?} ({hint})")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The peers of local conversations (accepted and requests) whose id starts with `prefix`.
fn conversations_matching(store: &dyn ClientStore, prefix: &str) -> anyhow::Result<Vec<AccountId>> {
    let mut out = Vec::new();
    for kind in [ConversationKind::Accepted, ConversationKind::Requests] {
        for c in store.conversations(kind)? {
            if c.peer.to_hex().starts_with(prefix) {
                out.push(c.peer);
            }
        }
    }
    Ok(out)
}

/// Finds the full server hash of a local message from what the user typed: the full
/// hash, or (at least 6 characters of) its start, as `session read` shows it.
pub fn find_hash(store: &dyn ClientStore, text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if text.is_empty() {
        bail!("no message hash given; `session read <id>` shows the hashes");
    }
    if store.message_by_hash(text)?.is_some() || text.len() < 6 {
        return Ok(text.to_owned());
    }
    let found = store.messages_by_hash_prefix(text, 2)?;
    match found.as_slice() {
        [one] => Ok(one.server_hash.clone().unwrap_or_default()),
        // Not found: the library says so (and how to find hashes).
        [] => Ok(text.to_owned()),
        _ => bail!(
            "{text:?} is the start of several message hashes; give more of it (`session read --json \
             <id>` shows full hashes)"
        ),
    }
}
