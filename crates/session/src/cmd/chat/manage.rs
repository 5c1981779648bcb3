//! Changing conversations and settings: `session accept` / `decline` (message
//! requests), `session disappearing` (a conversation's timer) and `session profile`
//! (the local settings file).

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde_json::json;
use session_client::message::Expiry;

use super::format::{self, peer_label, plural};
use super::{Env, NetArgs, open, resolve_peer};
use crate::{account_file, profile_file, ui};

/// The peer of `session accept` / `session decline`.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// Who: a Session ID, @name, or the start of the Session ID (as `session requests`
    /// shows it).
    #[arg(value_name = "PEER")]
    peer: String,
    #[command(flatten)]
    net: NetArgs,
}

/// When messages disappear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// They don't.
    Off,
    /// A fixed time after they are sent.
    AfterSend,
    /// A fixed time after the recipient reads them.
    AfterRead,
}

/// Options of `session disappearing`.
#[derive(Debug, Args)]
pub struct DisappearingArgs {
    /// The conversation: a Session ID, @name, or the start of the Session ID.
    #[arg(value_name = "PEER")]
    peer: String,
    /// off, after-send or after-read.
    #[arg(value_enum, value_name = "MODE")]
    mode: Mode,
    /// The timer: e.g. 30s, 5m, 1h, 1d, 2w, 1h30m [default: 1d].
    #[arg(long, value_name = "DURATION")]
    after: Option<String>,
    #[command(flatten)]
    net: NetArgs,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Options of `session profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Set the display name sent with your messages (up to 100 characters).
    #[arg(long, value_name = "NAME", conflicts_with = "clear_name")]
    name: Option<String>,
    /// Remove the display name (people then see only your Session ID).
    #[arg(long)]
    clear_name: bool,
    /// Tell senders when you have read their messages.
    #[arg(long, value_enum, value_name = "on|off")]
    read_receipts: Option<OnOff>,
}

/// Whether resolving `text` may need the network (a Session name).
fn needs_network(text: &str) -> bool {
    !text.trim().bytes().all(|b| b.is_ascii_hexdigit())
}

/// The conversation with `peer`, or an error pointing at `session requests`.
fn request(
    m: &session_client::Messenger,
    peer: &session_crypto::AccountId,
) -> anyhow::Result<session_client::store::Conversation> {
    match m.store().conversation(peer)? {
        Some(c) => Ok(c),
        None => bail!(
            "there is no message request from {} on this device; `session requests` lists them",
            peer_label(m, peer)
        ),
    }
}

/// `session accept`.
pub async fn accept(args: PeerArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, Some(&args.net))?;
    let peer = resolve_peer(&m, &args.peer).await?;
    let conv = request(&m, &peer)?;
    if conv.accepted {
        if env.json {
            ui::print_json(&json!({"peer": peer.to_hex(), "accepted": true, "already": true}));
        } else {
            println!(
                "{} is already in your inbox (not a message request).",
                peer_label(&m, &peer)
            );
        }
        return Ok(());
    }
    m.accept_request(&peer)
        .await
        .context("the request is accepted here, but the sender could not be told")?;
    if env.json {
        ui::print_json(&json!({"peer": peer.to_hex(), "accepted": true, "already": false}));
    } else {
        println!(
            "Accepted {}: the conversation is in your inbox and they were told.",
            peer_label(&m, &peer)
        );
    }
    Ok(())
}

/// `session decline`.
pub async fn decline(args: PeerArgs, env: Env<'_>) -> anyhow::Result<()> {
    let net = needs_network(&args.peer).then_some(&args.net);
    let m = open(env, net)?;
    let peer = resolve_peer(&m, &args.peer).await?;
    let conv = request(&m, &peer)?;
    if conv.accepted {
        bail!(
            "{} is not a message request but a conversation in your inbox; nothing was \
             deleted",
            peer_label(&m, &peer)
        );
    }
    let label = peer_label(&m, &peer);
    let n = m.decline_request(&peer)?;
    if env.json {
        ui::print_json(&json!({"peer": peer.to_hex(), "deleted_messages": n}));
    } else {
        println!(
            "Declined {label}: the request and its {} were deleted on this device.",
            plural(n as u64, "message", "messages")
        );
    }
    Ok(())
}

/// The default timer: one day.
const DEFAULT_TIMER_SECS: u32 = 86_400;

/// `session disappearing`.
pub async fn disappearing(args: DisappearingArgs, env: Env<'_>) -> anyhow::Result<()> {
    let seconds = match &args.after {
        Some(text) => format::parse_duration(text)?,
        None => DEFAULT_TIMER_SECS,
    };
    let setting = match args.mode {
        Mode::Off if args.after.is_some() => {
            bail!("--after goes with after-send or after-read, not with off")
        }
        Mode::Off => None,
        Mode::AfterSend => Some(Expiry::after_send(seconds)),
        Mode::AfterRead => Some(Expiry::after_read(seconds)),
    };
    let m = open(env, Some(&args.net))?;
    let peer = resolve_peer(&m, &args.peer).await?;
    m.set_disappearing(&peer, setting)
        .await
        .context("the setting is kept here, but the other side could not be told")?;
    if env.json {
        ui::print_json(&json!({
            "peer": peer.to_hex(),
            "disappearing": format::expiry_json(setting),
        }));
        return Ok(());
    }
    let label = peer_label(&m, &peer);
    match setting {
        None => println!("Disappearing messages are off in the conversation with {label}."),
        Some(e) => println!(
            "Messages to and from {label} now disappear {} after they are {} (from now on; \
             they were told).",
            format::duration(u64::from(e.seconds)),
            if args.mode == Mode::AfterSend {
                "sent"
            } else {
                "read"
            }
        ),
    }
    Ok(())
}

/// `session profile`.
pub fn profile(args: &ProfileArgs, env: Env<'_>) -> anyhow::Result<()> {
    let mut settings = profile_file::load(env.data_dir)?;
    let before = settings.clone();
    if let Some(name) = &args.name {
        settings.display_name = Some(profile_file::check_name(name)?);
    }
    if args.clear_name {
        settings.display_name = None;
    }
    if let Some(rr) = args.read_receipts {
        settings.read_receipts = rr == OnOff::On;
    }
    let changed = settings != before;
    if changed {
        profile_file::save(env.data_dir, &settings)?;
    }
    // The account is shown if there is one; settings may be chosen before it exists.
    let sid = account_file::load(env.data_dir)
        .ok()
        .map(|k| k.session_id().to_hex());
    if env.json {
        ui::print_json(&json!({
            "display_name": settings.display_name,
            "read_receipts": settings.read_receipts,
            "session_id": sid,
            "changed": changed,
            "settings_file": profile_file::path(env.data_dir).display().to_string(),
        }));
        return Ok(());
    }
    if changed {
        println!("Saved.");
    }
    println!(
        "Display name   {}",
        settings
            .display_name
            .as_deref()
            .unwrap_or("(none: people see your Session ID)")
    );
    println!(
        "Read receipts  {}",
        if settings.read_receipts { "on" } else { "off" }
    );
    if let Some(sid) = sid {
        println!("Session ID     {sid}");
    }
    Ok(())
}
