//! The live views, on the background poller ([`Messenger::spawn_poller`]) and the event
//! stream ([`Messenger::subscribe`]): `session watch` (every event, one line each) and
//! `session chat` (one conversation: send what is typed, show what arrives).

use std::collections::HashSet;
use std::io::{BufRead as _, IsTerminal as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};
use session_client::store::{Direction, MessageId, StoredMessage};
use session_client::{Event, Messenger};
use session_crypto::AccountId;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::format::{self, message_json, message_line, peer_label, plural, preview};
use super::read::print_history;
use super::{Env, NetArgs, open, refresh, resolve_peer};
use crate::ui;

/// Options of `session watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Milliseconds between polls (failed polls back off up to a minute).
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(100..))]
    interval_ms: u64,
    /// Exit after N new messages (fails if --timeout ends the watch first).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Exit after SECS seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Who to chat with: a Session ID, @name, or the start of the Session ID of one of
    /// your conversations.
    #[arg(value_name = "PEER")]
    peer: String,
    /// How many earlier messages to show first.
    #[arg(long, default_value_t = 20, value_name = "N")]
    history: usize,
    /// Milliseconds between polls for new messages.
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(100..))]
    interval_ms: u64,
    #[command(flatten)]
    net: NetArgs,
}

/// Whether the conversation with `peer` is a message request.
fn is_request(m: &Messenger, peer: &AccountId) -> bool {
    m.store()
        .conversation(peer)
        .ok()
        .flatten()
        .is_some_and(|c| !c.accepted)
}

/// One event for people, as lines.
fn event_line(m: &Messenger, ev: &Event) -> Vec<String> {
    let now = m.now_ms();
    match ev {
        Event::Message(msg) => {
            let tag = if is_request(m, &msg.conversation) {
                " [message request]"
            } else {
                ""
            };
            let line = match msg.direction {
                Direction::Incoming => format!(
                    "{}  {}: {}{tag}",
                    format::utc_time(msg.sent_ms),
                    peer_label(m, &msg.sender),
                    msg.body
                ),
                Direction::Outgoing => format!(
                    "{}  you → {}: {}",
                    format::utc_time(msg.sent_ms),
                    peer_label(m, &msg.conversation),
                    msg.body
                ),
            };
            let hash = msg
                .server_hash
                .as_deref()
                .map(|h| format!("  · {}", format::short_hash(h)))
                .unwrap_or_default();
            vec![format!("{line}{hash}")]
        }
        Event::Deleted { messages, why } => messages
            .iter()
            .map(|msg| {
                format!(
                    "✗ {why}: “{}” (by {}, conversation with {})",
                    preview(&msg.body, 40),
                    format::author(m, msg),
                    peer_label(m, &msg.conversation)
                )
            })
            .collect(),
        Event::PeerRead { peer, sent_ms } => vec![format!(
            "✓✓ {} read {}",
            peer_label(m, peer),
            plural(
                sent_ms.len() as u64,
                "message of yours",
                "messages of yours"
            )
        )],
        Event::RequestAccepted { peer } => vec![format!(
            "{} accepted your message request",
            peer_label(m, peer)
        )],
        Event::DisappearingChanged { peer, setting } => vec![format!(
            "⏱ disappearing messages with {}: {}",
            peer_label(m, peer),
            format::expiry_label(*setting)
        )],
        Event::Rejected { reason, detail } => vec![format!(
            "⚠ dropped an invalid message ({}): {detail}",
            reason.as_str()
        )],
        Event::PollFailed(e) => vec![format!(
            "⚠ poll failed, retrying: {e} (at {})",
            format::utc_time(now)
        )],
    }
}

/// One event for scripts: `{"event": …, "at_ms": …, …}`.
fn event_json(m: &Messenger, ev: &Event) -> Value {
    let at_ms = m.now_ms();
    match ev {
        Event::Message(msg) => json!({
            "event": "message",
            "at_ms": at_ms,
            "request": is_request(m, &msg.conversation),
            "message": message_json(m, msg),
        }),
        Event::Deleted { messages, why } => json!({
            "event": "deleted",
            "at_ms": at_ms,
            "why": why,
            "messages": messages.iter().map(|msg| message_json(m, msg)).collect::<Vec<_>>(),
        }),
        Event::PeerRead { peer, sent_ms } => json!({
            "event": "peer_read",
            "at_ms": at_ms,
            "peer": peer.to_hex(),
            "name": format::name_of(m, peer),
            "sent_ms": sent_ms,
        }),
        Event::RequestAccepted { peer } => json!({
            "event": "request_accepted",
            "at_ms": at_ms,
            "peer": peer.to_hex(),
            "name": format::name_of(m, peer),
        }),
        Event::DisappearingChanged { peer, setting } => json!({
            "event": "disappearing_changed",
            "at_ms": at_ms,
            "peer": peer.to_hex(),
            "disappearing": format::expiry_json(*setting),
        }),
        Event::Rejected { reason, detail } => json!({
            "event": "rejected",
            "at_ms": at_ms,
            "reason": reason.as_str(),
            "detail": detail,
        }),
        Event::PollFailed(e) => json!({
            "event": "poll_failed",
            "at_ms": at_ms,
            "error": e,
        }),
    }
}

/// Waits for `secs` seconds, or forever.
async fn deadline(secs: Option<u64>) {
    match secs {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => std::future::pending().await,
    }
}

/// `session watch`.
pub async fn watch(args: WatchArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, Some(&args.net))?;
    // Subscribe before the first poll: nothing it finds is missed.
    let mut events = m.subscribe();
    let poller = m.spawn_poller(Duration::from_millis(args.interval_ms));
    if !env.json {
        eprintln!(
            "Watching for messages to {} (Ctrl-C to stop)…",
            format::short_id(&m.session_id())
        );
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let timeout = deadline(args.timeout);
    tokio::pin!(timeout);
    let mut messages: u64 = 0;
    let outcome = loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if env.json {
                        ui::print_json(&event_json(&m, &ev));
                    } else {
                        for line in event_line(&m, &ev) {
                            println!("{line}");
                        }
                    }
                    if matches!(ev, Event::Message(_)) {
                        messages += 1;
                        if args.count.is_some_and(|c| messages >= c) {
                            break Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} events were missed (the output is too slow)");
                }
                Err(RecvError::Closed) => break Ok(()),
            },
            r = &mut ctrl_c => break r.context("waiting for Ctrl-C"),
            () = &mut timeout => break match args.count {
                Some(c) if messages < c => Err(anyhow::anyhow!(
                    "only {messages} of {c} messages arrived within {} s",
                    args.timeout.unwrap_or_default()
                )),
                _ => Ok(()),
            },
        }
    };
    poller.stop().await;
    outcome
}

/// What the stdin thread hands over.
type Line = std::io::Result<String>;

/// Reads standard input line by line on its own thread (a blocking read cannot be
/// cancelled; a thread that is still blocked when the chat ends simply ends with the
/// process).
fn stdin_lines() -> mpsc::Receiver<Line> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let stop = line.is_err();
            if tx.blocking_send(line).is_err() || stop {
                return;
            }
        }
    });
    rx
}

/// The live state of `session chat`.
struct ChatView {
    m: Messenger,
    peer: AccountId,
    /// Messages sent from this chat (already printed).
    sent: HashSet<MessageId>,
    /// Other conversations already announced.
    announced: HashSet<AccountId>,
}

impl ChatView {
    fn print_message(&self, msg: &StoredMessage) {
        println!("{}", message_line(&self.m, msg, self.m.now_ms()));
    }

    /// Handles one event: this conversation's are shown (incoming messages are marked
    /// read), others are announced once.
    async fn on_event(&mut self, ev: Event) {
        match &ev {
            Event::Message(msg) if msg.conversation == self.peer => {
                if self.sent.contains(&msg.id) {
                    return;
                }
                self.print_message(msg);
                if msg.direction == Direction::Incoming
                    && !is_request(&self.m, &self.peer)
                    && let Err(e) = self.m.mark_read(&self.peer).await
                {
                    eprintln!("warning: could not mark the message read: {e}");
                }
            }
            Event::Message(msg) if msg.direction == Direction::Incoming => {
                if self.announced.insert(msg.conversation) {
                    println!(
                        "· new message from {} — `session read {}`",
                        peer_label(&self.m, &msg.conversation),
                        msg.conversation.to_hex()
                    );
                }
            }
            Event::Message(_) => {}
            Event::Deleted { messages, why } => {
                let ours: Vec<StoredMessage> = messages
                    .iter()
                    .filter(|msg| msg.conversation == self.peer)
                    .cloned()
                    .collect();
                if !ours.is_empty() {
                    let shown = Event::Deleted {
                        messages: ours,
                        why,
                    };
                    for line in event_line(&self.m, &shown) {
                        println!("{line}");
                    }
                }
            }
            Event::PeerRead { peer, .. }
            | Event::RequestAccepted { peer }
            | Event::DisappearingChanged { peer, .. } => {
                if *peer == self.peer {
                    for line in event_line(&self.m, &ev) {
                        println!("{line}");
                    }
                }
            }
            // Shown by `session watch`; here they would only interrupt the conversation.
            Event::Rejected { .. } => {}
            Event::PollFailed(e) => eprintln!("warning: poll failed, retrying: {e}"),
        }
    }
}

/// `session chat`.
pub async fn chat(args: ChatArgs, env: Env<'_>) -> anyhow::Result<()> {
    if env.json {
        bail!(
            "`session chat` is interactive and has no JSON output; use `session watch --json` and `session send --json`"
        );
    }
    let m = open(env, Some(&args.net))?;
    refresh(&m).await;
    let peer = resolve_peer(&m, &args.peer).await?;
    let interactive = std::io::stdin().is_terminal();
    match m.store().conversation(&peer)? {
        Some(conv) => {
            println!(
                "{} · disappearing: {} · times in UTC",
                peer_label(&m, &peer),
                format::expiry_label(conv.disappearing)
            );
            if args.history > 0 {
                print_history(&m, &m.store().history(&peer, None, args.history)?);
            }
            if conv.accepted {
                m.mark_read(&peer).await?;
            } else {
                println!("(a message request: replying accepts it)");
            }
        }
        None => println!("New conversation with {}", peer_label(&m, &peer)),
    }
    if interactive {
        println!("Type a message and press Enter to send it; /quit (or Ctrl-D) leaves.");
    }
    let mut events = m.subscribe();
    let poller = m.spawn_poller(Duration::from_millis(args.interval_ms));
    let mut lines = stdin_lines();
    let mut view = ChatView {
        m: m.clone(),
        peer,
        sent: HashSet::new(),
        announced: HashSet::new(),
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failed = 0usize;
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            line = lines.recv() => match line {
                None => break Ok(()),
                Some(Err(e)) => break Err(anyhow::Error::new(e).context("reading standard input")),
                Some(Ok(line)) => {
                    let text = line.trim_end_matches('\r');
                    match text.trim() {
                        "" => continue,
                        "/quit" | "/exit" => break Ok(()),
                        "/help" => {
                            println!("Each line you type is sent. /quit leaves.");
                            continue;
                        }
                        _ => {}
                    }
                    match m.send_text(&peer, text).await {
                        Ok(sent) => {
                            view.sent.insert(sent.message.id);
                            view.print_message(&sent.message);
                        }
                        Err(e) => {
                            failed += 1;
                            eprintln!("not sent: {e}");
                        }
                    }
                }
            },
            ev = events.recv() => match ev {
                Ok(ev) => view.on_event(ev).await,
                Err(RecvError::Lagged(n)) => eprintln!("warning: {n} events were missed"),
                Err(RecvError::Closed) => break Ok(()),
            },
            r = &mut ctrl_c => break r.context("waiting for Ctrl-C"),
        }
    };
    poller.stop().await;
    outcome?;
    if failed > 0 {
        bail!(
            "{} could not be sent (see above)",
            plural(failed as u64, "message", "messages")
        );
    }
    Ok(())
}
