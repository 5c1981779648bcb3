//! How the chat commands show things: shortened ids and hashes, times (UTC) and
//! durations, peers with their display names, messages and disappearing settings — as
//! compact text for people and as JSON for scripts.

use anyhow::bail;
use serde_json::{Value, json};
use session_client::Messenger;
use session_client::message::{Expiry, ExpiryMode};
use session_client::store::{Direction, StoredMessage};
use session_crypto::AccountId;

/// How many characters of a hash the text output shows (enough to find it again: the
/// commands that take a hash accept its start).
pub const SHORT_HASH: usize = 10;

/// A Session ID shortened for display: `05ab12…ef34`.
pub fn short_id(id: &AccountId) -> String {
    let hex = id.to_hex();
    match (hex.get(..6), hex.get(hex.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) => format!("{head}…{tail}"),
        _ => hex,
    }
}

/// The start of a message hash, as text output shows it.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..SHORT_HASH).unwrap_or(hash)
}

/// The display name a peer chose, if we know it.
pub fn name_of(m: &Messenger, id: &AccountId) -> Option<String> {
    m.store()
        .contact(id)
        .ok()
        .flatten()
        .and_then(|c| c.display_name)
        .filter(|n| !n.is_empty())
}

/// A peer for people: `Alice (05ab12…ef34)`, `05ab12…ef34`, or `Note to Self`.
pub fn peer_label(m: &Messenger, id: &AccountId) -> String {
    if *id == m.session_id() {
        return "Note to Self".into();
    }
    match name_of(m, id) {
        Some(name) => format!("{name} ({})", short_id(id)),
        None => short_id(id),
    }
}

/// Who wrote a message: `you`, the sender's name, or their shortened id.
pub fn author(m: &Messenger, msg: &StoredMessage) -> String {
    if msg.direction == Direction::Outgoing {
        return "you".into();
    }
    name_of(m, &msg.sender).unwrap_or_else(|| short_id(&msg.sender))
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the epoch.
pub fn utc_time(ms: u64) -> String {
    session_rt::time::UtcTime::from_unix(i64::try_from(ms / 1000).unwrap_or(i64::MAX)).minutes()
}

/// How long ago `ms` was at `now_ms`: `just now`, `5m ago`, `3h ago`, `2d ago`, or the
/// date for anything older than a week.
pub fn ago(now_ms: u64, ms: u64) -> String {
    let secs = now_ms.saturating_sub(ms) / 1000;
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..604_800 => format!("{}d ago", secs / 86_400),
        _ => utc_time(ms).get(..10).unwrap_or_default().to_owned(),
    }
}

/// A duration, compactly: `45s`, `5m`, `1h30m`, `1d`, `2w`, `1d12h`.
pub fn duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let units = [
        (604_800, "w"),
        (86_400, "d"),
        (3600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    let mut left = secs;
    let mut out = String::new();
    let mut parts = 0;
    for (size, unit) in units {
        if left >= size && parts < 2 {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
            parts += 1;
        } else if parts > 0 {
            // Only adjacent units: "1d12h", never "1d5s".
            parts = 2;
        }
    }
    out
}

/// Parses a duration like `30s`, `5m`, `1h`, `1d`, `2w`, `1h30m` or a bare number of
/// seconds, into seconds (at least 1, at most what a timer holds).
pub fn parse_duration(text: &str) -> anyhow::Result<u32> {
    let bad = |why: &str| {
        anyhow::anyhow!(
            "{text:?} is not a duration ({why}); write e.g. 30s, 5m, 1h, 1d, 2w or 1h30m"
        )
    };
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut saw_unit = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let size: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad(&format!("unknown unit {c:?}"))),
        };
        if number.is_empty() {
            return Err(bad("a unit without a number"));
        }
        let n: u64 = number.parse().map_err(|_| bad("number too large"))?;
        total = total.saturating_add(n.saturating_mul(size));
        number.clear();
        saw_unit = true;
    }
    if !number.is_empty() {
        if saw_unit {
            return Err(bad("a number without a unit at the end"));
        }
        total = number.parse().map_err(|_| bad("number too large"))?;
    }
    if total == 0 {
        bail!("a disappearing timer must be at least 1 second; use `off` to turn it off");
    }
    u32::try_from(total).map_err(|_| bad("longer than 136 years"))
}

/// A disappearing setting for people: `off`, `after send, 1d`, `after read, 5m`.
pub fn expiry_label(e: Option<Expiry>) -> String {
    match e {
        None => "off".into(),
        Some(e) => format!("{}, {}", mode_label(e.mode), duration(u64::from(e.seconds))),
    }
}

fn mode_label(mode: ExpiryMode) -> &'static str {
    match mode {
        ExpiryMode::AfterSend => "after send",
        ExpiryMode::AfterRead => "after read",
    }
}

/// A disappearing setting for scripts: `null` or `{mode, seconds}` (mode `after-send`
/// or `after-read`).
pub fn expiry_json(e: Option<Expiry>) -> Value {
    match e {
        None => Value::Null,
        Some(e) => json!({
            "mode": match e.mode {
                ExpiryMode::AfterSend => "after-send",
                ExpiryMode::AfterRead => "after-read",
            },
            "seconds": e.seconds,
        }),
    }
}

/// One line of a message body: line breaks become spaces, cut at `max` characters.
pub fn preview(body: &str, max: usize) -> String {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A message for scripts (full hash, ids, times in ms).
pub fn message_json(m: &Messenger, msg: &StoredMessage) -> Value {
    json!({
        "hash": msg.server_hash,
        "conversation": msg.conversation.to_hex(),
        "direction": match msg.direction {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        },
        "from": msg.sender.to_hex(),
        "from_name": if msg.direction == Direction::Outgoing {
            m.settings().profile.and_then(|p| p.display_name)
        } else {
            name_of(m, &msg.sender)
        },
        "sent_ms": msg.sent_ms,
        "received_ms": msg.received_ms,
        "body": msg.body,
        "read": msg.read,
        "peer_read": msg.peer_read,
        "expiry": expiry_json(msg.expiry),
        "expires_at_ms": msg.expires_at_ms,
        "attachments": msg.attachments.iter().map(super::files::attachment_json)
            .collect::<Vec<_>>(),
    })
}

/// A message for people: `2025-01-02 13:04  Bob: hello  · 1a2b3c4d5e ✓✓ ⏱ 23h59m`.
/// Continuation lines of a multi-line body are indented under the text.
pub fn message_line(m: &Messenger, msg: &StoredMessage, now_ms: u64) -> String {
    let head = format!("{}  {}: ", utc_time(msg.sent_ms), author(m, msg));
    let indent = " ".repeat(head.chars().count());
    let mut body = msg.body.replace('\n', &format!("\n{indent}"));
    for a in &msg.attachments {
        if !body.is_empty() {
            body.push_str(&format!("\n{indent}"));
        }
        body.push_str(&super::files::attachment_label(a));
    }
    let mut line = format!("{head}{body}");
    if let Some(h) = &msg.server_hash {
        line.push_str(&format!("  · {}", short_hash(h)));
    }
    if msg.direction == Direction::Outgoing && msg.peer_read {
        line.push_str(" ✓✓");
    }
    if let Some(at) = msg.expires_at_ms {
        line.push_str(&format!(
            " ⏱ {}",
            duration(at.saturating_sub(now_ms) / 1000)
        ));
    } else if let Some(e) = msg.expiry {
        // An after-read timer that has not started.
        line.push_str(&format!(" ⏱ {} after read", duration(u64::from(e.seconds))));
    }
    line
}

/// A plain text table: a header row and rows, columns padded to their widest cell
/// (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cols {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `1 message` / `2 messages`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("5m").unwrap(), 300);
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("1d").unwrap(), 86_400);
        assert_eq!(parse_duration("2W").unwrap(), 1_209_600);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("90").unwrap(), 90);
        for bad in ["", "0", "0s", "5x", "h", "1h5", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(300), "5m");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(86_400), "1d");
        assert_eq!(duration(86_399), "23h59m");
        assert_eq!(duration(86_405), "1d");
        assert_eq!(duration(1_209_600), "2w");
    }

    #[test]
    fn times_and_ids() {
        assert_eq!(utc_time(0), "1970-01-01 00:00");
        assert_eq!(utc_time(1_709_210_096_000), "2024-02-29 12:34");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(ago(100_000, 99_000), "just now");
        assert_eq!(ago(4_000_000, 0), "1h ago");
        assert_eq!(ago(1_000_000_000, 0), "1970-01-01");
        let id = AccountId::parse_session_id(&format!("05{}", "ab".repeat(30) + "cdef")).unwrap();
        assert_eq!(short_id(&id), "05abab…cdef");
        assert_eq!(short_hash("0123456789abcdef"), "0123456789");
        assert_eq!(short_hash("abc"), "abc");
    }

    #[test]
    fn previews_and_tables() {
        assert_eq!(preview("a\nb", 10), "a b");
        assert_eq!(preview("abcdef", 4), "abc…");
        let t = table(
            &["A", "BB", "C"],
            &[vec!["long cell".into(), "x".into(), "end".into()]],
        );
        assert_eq!(t, "A          BB  C\nlong cell  x   end");
        assert_eq!(plural(1u64, "message", "messages"), "1 message");
        assert_eq!(plural(2u64, "message", "messages"), "2 messages");
        assert_eq!(
            expiry_label(Some(Expiry::after_send(86_400))),
            "after send, 1d"
        );
        assert_eq!(expiry_label(None), "off");
        assert_eq!(
            expiry_json(Some(Expiry::after_read(5)))["mode"],
            "after-read"
        );
    }
}
