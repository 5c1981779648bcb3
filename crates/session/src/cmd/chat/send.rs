//! `session send` (a text to a Session ID or @name), `session unsend` (delete one of
//! your messages for everyone) and `session delete` (delete a message on this device).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use super::format::{self, peer_label, short_id};
use super::{Env, NetArgs, files, find_hash, open, resolve_peer};
use crate::ui;
use session_client::attachments::max_file_size;

/// Options of `session send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Who to write to: a Session ID (66 hex characters, 05…), a Session name (@name),
    /// or the start of the Session ID of one of your conversations.
    #[arg(value_name = "TO")]
    to: String,
    /// The message (the words are joined with spaces; `-` reads it from standard input).
    /// Put options before it: everything after TO is the text. With --file it is the
    /// file's caption and may be left out.
    #[arg(
        value_name = "TEXT",
        required_unless_present = "file",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    text: Vec<String>,
    /// Attach this file (at most 9,956,278 bytes: what fits in one 10 MB upload once
    /// encrypted). It is encrypted here and uploaded to the network's file server through
    /// an onion path; only the recipient gets the key.
    #[arg(long, short = 'f', value_name = "PATH")]
    file: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session unsend`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// The message's hash, or its first characters (at least 6), as `session read`
    /// shows it.
    #[arg(value_name = "HASH")]
    hash: String,
    #[command(flatten)]
    net: NetArgs,
}

/// Options of `session delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The message's hash, or its first characters (at least 6), as `session read`
    /// shows it.
    #[arg(value_name = "HASH")]
    hash: String,
}

fn message_text(words: &[String]) -> anyhow::Result<String> {
    if let [only] = words
        && only == "-"
    {
        let mut body = String::new();
        std::io::stdin()
            .read_to_string(&mut body)
            .context("reading the message from standard input")?;
        let body = body.trim_end_matches(['\n', '\r']).to_owned();
        anyhow::ensure!(
            !body.trim().is_empty(),
            "standard input held no message to send"
        );
        return Ok(body);
    }
    let body = words.join(" ");
    anyhow::ensure!(
        !body.trim().is_empty(),
        "the message is empty; write some text"
    );
    Ok(body)
}

/// `session send`.
pub async fn send(args: SendArgs, env: Env<'_>) -> anyhow::Result<()> {
    let file = args
        .file
        .as_deref()
        .map(|p| files::read_file_to_send(p, max_file_size()))
        .transpose()?;
    let body = match (&file, args.text.is_empty()) {
        (Some(_), true) => String::new(),
        _ => message_text(&args.text)?,
    };
    let m = open(env, Some(&args.net))?;
    let to = resolve_peer(&m, &args.to).await?;
    let sent = match &file {
        None => m.send_text(&to, &body).await,
        Some(f) => {
            let bar = files::TransferBar::new(env.json);
            let sent = m.send_file(&to, f, &body, &mut |p| bar.update(p)).await;
            bar.finish();
            sent
        }
    }
    .with_context(|| format!("cannot send to {}", args.to.trim()))?;
    let hash = sent.message.server_hash.clone();
    if env.json {
        ui::print_json(&json!({
            "to": to.to_hex(),
            "sent_ms": sent.message.sent_ms,
            "hash": hash,
            "recipient_hash": sent.recipient_hash,
            "synced": sent.synced,
            "attachments": sent.message.attachments.iter().map(files::attachment_json)
                .collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let label = match args.to.trim().strip_prefix('@') {
        Some(name) => format!("@{name} ({})", short_id(&to)),
        None => peer_label(&m, &to),
    };
    println!(
        "Sent to {label} · hash {}",
        hash.as_deref().unwrap_or(&sent.recipient_hash)
    );
    for a in &sent.message.attachments {
        println!(
            "  {} · encrypted, on {}",
            files::attachment_label(a),
            a.url.split('#').next().unwrap_or_default()
        );
    }
    if !sent.synced {
        eprintln!(
            "note: the copy for your other devices could not be stored (the message was \
             delivered)"
        );
    }
    Ok(())
}

/// `session unsend`.
pub async fn unsend(args: HashArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, Some(&args.net))?;
    let hash = find_hash(m.store().as_ref(), &args.hash)?;
    let msg = m.unsend(&hash).await.context("cannot unsend")?;
    if env.json {
        ui::print_json(&json!({
            "hash": hash,
            "conversation": msg.conversation.to_hex(),
            "sent_ms": msg.sent_ms,
        }));
    } else {
        println!(
            "Unsent your message to {} (“{}”): deleted for everyone",
            peer_label(&m, &msg.conversation),
            format::preview(&msg.body, 40)
        );
    }
    Ok(())
}

/// `session delete`.
pub fn delete(args: DeleteArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, None)?;
    let hash = find_hash(m.store().as_ref(), &args.hash)?;
    let msg = m.delete_for_me(&hash).context("cannot delete")?;
    if env.json {
        ui::print_json(&json!({
            "hash": hash,
            "conversation": msg.conversation.to_hex(),
            "sent_ms": msg.sent_ms,
        }));
    } else {
        println!(
            "Deleted on this device: “{}” in the conversation with {} (others keep their \
             copies)",
            format::preview(&msg.body, 40),
            peer_label(&m, &msg.conversation)
        );
    }
    Ok(())
}
