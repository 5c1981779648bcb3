//! `session read`: a conversation's history, oldest first, then marked read (which
//! starts after-read timers and, if enabled, tells the peer).

use anyhow::bail;
use clap::Args;
use serde_json::Value;
use session_client::Messenger;
use session_client::store::{Direction, StoredMessage};
use session_crypto::AccountId;

use super::format::{self, message_json, message_line, peer_label};
use super::{Env, NetArgs, open, refresh, resolve_peer};
use crate::ui;

/// Options of `session read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The conversation: a Session ID, @name, or the start of the Session ID (as
    /// `session inbox` shows it).
    #[arg(value_name = "PEER")]
    peer: String,
    /// How many of the newest messages to show.
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Don't fetch new messages first: show what is on this device.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Prints messages for people, with a marker before the first unread one.
pub fn print_history(m: &Messenger, history: &[StoredMessage]) {
    let now = m.now_ms();
    let mut marked = false;
    for msg in history {
        if !marked && msg.direction == Direction::Incoming && !msg.read {
            println!("── new ──");
            marked = true;
        }
        println!("{}", message_line(m, msg, now));
    }
}

/// The conversation with `peer`, or an error that says how to start one.
fn conversation(
    m: &Messenger,
    peer: &AccountId,
) -> anyhow::Result<session_client::store::Conversation> {
    match m.store().conversation(peer)? {
        Some(c) => Ok(c),
        None => bail!(
            "no conversation with {} on this device; `session send {} <text>` starts one",
            peer_label(m, peer),
            peer.to_hex()
        ),
    }
}

/// `session read`.
pub async fn read(args: ReadArgs, env: Env<'_>) -> anyhow::Result<()> {
    if args.limit == 0 {
        bail!("--limit 0 shows nothing; give at least 1");
    }
    let m = open(env, (!args.offline).then_some(&args.net))?;
    // Fetch first: a new conversation's id prefix is known only after it.
    if !args.offline {
        refresh(&m).await;
    }
    let peer = resolve_peer(&m, &args.peer).await?;
    let conv = conversation(&m, &peer)?;
    // One more than asked: whether there are older messages than those shown.
    let mut history = m
        .store()
        .history(&peer, None, args.limit.saturating_add(1))?;
    let older = history.len() > args.limit;
    if older {
        history.remove(0);
    }
    if env.json {
        ui::print_json(&Value::Array(
            history.iter().map(|msg| message_json(&m, msg)).collect(),
        ));
    } else {
        println!(
            "{} · disappearing: {} · times in UTC",
            peer_label(&m, &peer),
            format::expiry_label(conv.disappearing)
        );
        if older {
            println!("(the last {} messages; --limit N shows more)", args.limit);
        }
        if history.is_empty() {
            println!("No messages.");
        }
        print_history(&m, &history);
        if history.iter().any(|msg| !msg.attachments.is_empty()) {
            println!("\n📎 `session save HASH [PATH]` downloads and decrypts a file.");
        }
        if !conv.accepted {
            println!(
                "\nThis is a message request: `session accept {0}` accepts it, `session \
                 decline {0}` deletes it. Replying accepts it too.",
                peer.to_hex()
            );
        }
    }
    // A request stays unread until accepted: no read receipt goes to a stranger.
    if conv.accepted {
        m.mark_read(&peer).await?;
    }
    Ok(())
}
