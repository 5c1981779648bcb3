//! The overviews: `session inbox` (accepted conversations), `session requests` (message
//! requests) and `session fetch` (one poll, what arrived).

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use session_client::store::{Conversation, ConversationKind, RejectedCounts};
use session_client::{Messenger, PollReport};
use session_crypto::AccountId;

use super::format::{self, ago, message_json, peer_label, plural, preview};
use super::{Env, NetArgs, open, refresh};
use crate::ui;

/// Options of `session inbox`.
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Don't fetch new messages first: show what is on this device.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session requests`.
#[derive(Debug, Args)]
pub struct RequestsArgs {
    /// Don't fetch new messages first: show what is on this device.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    net: NetArgs,
}

/// How many characters of a message the overviews show.
const PREVIEW: usize = 40;

fn last_message_cell(m: &Messenger, c: &Conversation, now: u64) -> String {
    match &c.last_message {
        Some(msg) => format!(
            "{} · {}: {}",
            ago(now, msg.sent_ms),
            format::author(m, msg),
            preview(&msg.body, PREVIEW)
        ),
        None => format!("{} · no messages", ago(now, c.created_ms)),
    }
}

fn conversation_json(m: &Messenger, c: &Conversation) -> Value {
    json!({
        "peer": c.peer.to_hex(),
        "name": format::name_of(m, &c.peer),
        "accepted": c.accepted,
        "unread": c.unread,
        "last_message": c.last_message.as_ref().map(|msg| message_json(m, msg)),
        "last_activity_ms": c.last_activity_ms(),
        "disappearing": format::expiry_json(c.disappearing),
    })
}

fn rejected_line(r: &RejectedCounts) -> Option<String> {
    if r.total() == 0 {
        return None;
    }
    let mut parts = Vec::new();
    for (n, what) in [
        (r.bad_signature, "bad signature"),
        (r.not_for_us, "not for this account"),
        (r.malformed, "malformed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    Some(format!(
        "{} dropped as invalid ({}) — never shown",
        plural(r.total(), "message was", "messages were"),
        parts.join(", ")
    ))
}

fn rejected_json(r: &RejectedCounts) -> Value {
    json!({
        "bad_signature": r.bad_signature,
        "not_for_us": r.not_for_us,
        "malformed": r.malformed,
    })
}

/// `session inbox`.
pub async fn inbox(args: InboxArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, (!args.offline).then_some(&args.net))?;
    if !args.offline {
        refresh(&m).await;
    }
    let list = m.store().conversations(ConversationKind::Accepted)?;
    if env.json {
        ui::print_json(&Value::Array(
            list.iter().map(|c| conversation_json(&m, c)).collect(),
        ));
        return Ok(());
    }
    let now = m.now_ms();
    if list.is_empty() {
        println!(
            "No conversations yet. Start one with `session send <Session ID or @name> <text>`."
        );
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|c| {
                vec![
                    peer_label(&m, &c.peer),
                    if c.unread > 0 {
                        c.unread.to_string()
                    } else {
                        String::new()
                    },
                    last_message_cell(&m, c, now),
                    format::expiry_label(c.disappearing),
                ]
            })
            .collect();
        println!(
            "{}",
            format::table(&["PEER", "UNREAD", "LAST MESSAGE", "DISAPPEARING"], &rows)
        );
    }
    let requests = m.store().conversations(ConversationKind::Requests)?.len();
    if requests > 0 {
        println!(
            "\n{} — `session requests`",
            plural(requests as u64, "message request", "message requests")
        );
    }
    if let Some(line) = rejected_line(&m.store().rejected_counts()?) {
        println!("\n{line}");
    }
    Ok(())
}

/// How many messages of a request the first-message lookup reads at most.
const REQUEST_HISTORY: usize = 10_000;

/// `session requests`.
pub async fn requests(args: RequestsArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, (!args.offline).then_some(&args.net))?;
    if !args.offline {
        refresh(&m).await;
    }
    let list = m.store().conversations(ConversationKind::Requests)?;
    let mut entries = Vec::with_capacity(list.len());
    for c in &list {
        let history = m.store().history(&c.peer, None, REQUEST_HISTORY)?;
        entries.push((c, history));
    }
    if env.json {
        let out = entries
            .iter()
            .map(|(c, history)| {
                let mut v = conversation_json(&m, c);
                v["messages"] = json!(history.len());
                v["first_message"] = history
                    .first()
                    .map_or(Value::Null, |msg| message_json(&m, msg));
                v
            })
            .collect();
        ui::print_json(&Value::Array(out));
        return Ok(());
    }
    if entries.is_empty() {
        println!("No message requests.");
        return Ok(());
    }
    let now = m.now_ms();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(c, history)| {
            vec![
                peer_label(&m, &c.peer),
                c.peer.to_hex(),
                history.len().to_string(),
                history.first().map_or_else(String::new, |msg| {
                    format!(
                        "{} · {}",
                        ago(now, msg.sent_ms),
                        preview(&msg.body, PREVIEW)
                    )
                }),
            ]
        })
        .collect();
    println!(
        "{}",
        format::table(&["FROM", "SESSION ID", "MESSAGES", "FIRST MESSAGE"], &rows)
    );
    println!(
        "\n`session read <id>` shows a request, `session accept <id>` accepts it, `session \
         decline <id>` deletes it (the start of the id is enough)."
    );
    Ok(())
}

/// `session fetch`.
pub async fn fetch(args: FetchArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, Some(&args.net))?;
    let report: PollReport = m
        .fetch()
        .await
        .context("cannot fetch messages from your swarm")?;
    let mut per_peer: BTreeMap<AccountId, u64> = BTreeMap::new();
    for msg in &report.new_messages {
        *per_peer.entry(msg.conversation).or_default() += 1;
    }
    let is_request = |peer: &AccountId| {
        m.store()
            .conversation(peer)
            .ok()
            .flatten()
            .is_some_and(|c| !c.accepted)
    };
    if env.json {
        let conversations: Vec<Value> = per_peer
            .iter()
            .map(|(peer, n)| {
                json!({
                    "peer": peer.to_hex(),
                    "name": format::name_of(&m, peer),
                    "new": n,
                    "request": is_request(peer),
                })
            })
            .collect();
        ui::print_json(&json!({
            "retrieved": report.retrieved,
            "new_messages": report.new_messages.len(),
            "conversations": conversations,
            "duplicates": report.duplicates,
            "control": report.control,
            "expired": report.expired,
            "rejected": rejected_json(&report.rejected),
        }));
        return Ok(());
    }
    if per_peer.is_empty() {
        println!("No new messages.");
    } else {
        let parts: Vec<String> = per_peer
            .iter()
            .map(|(peer, n)| {
                format!(
                    "{} {n}{}",
                    peer_label(&m, peer),
                    if is_request(peer) { " (request)" } else { "" }
                )
            })
            .collect();
        println!(
            "{}: {}",
            plural(
                report.new_messages.len() as u64,
                "new message",
                "new messages"
            ),
            parts.join(", ")
        );
    }
    if report.expired > 0 {
        println!(
            "{} disappeared (timer ran out)",
            plural(report.expired as u64, "message", "messages")
        );
    }
    if let Some(line) = rejected_line(&report.rejected) {
        println!("{line}");
    }
    Ok(())
}
