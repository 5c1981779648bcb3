//! The JSON shapes of community-server spec §6: room info (§6.1), messages (§6.2) and
//! their reactions (§6.3). Bytes are standard padded base64; times are float seconds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::store::{Message, Permissions, Pin, Reaction, Room, RoomModerator, UpdateKind};

/// A room-info object for a caller with `perms`.
pub(crate) fn room_info(
    room: &Room,
    perms: &Permissions,
    mods: &[RoomModerator],
    pins: &[Pin],
    active_users_cutoff: i64,
) -> Value {
    let mut o = Map::new();
    o.insert("token".into(), json!(room.token));
    o.insert("name".into(), json!(room.name));
    if let Some(d) = &room.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("info_updates".into(), json!(room.info_updates));
    o.insert("message_sequence".into(), json!(room.message_sequence));
    o.insert("created".into(), json!(room.created));
    o.insert("active_users".into(), json!(room.active_users));
    o.insert("active_users_cutoff".into(), json!(active_users_cutoff));
    if let Some(image) = room.image_id {
        o.insert("image_id".into(), json!(image));
    }
    if !pins.is_empty() {
        let pins: Vec<Value> = pins
            .iter()
            .map(|p| json!({"id": p.id, "pinned_at": p.pinned_at, "pinned_by": p.pinned_by.to_hex()}))
            .collect();
        o.insert("pinned_messages".into(), Value::Array(pins));
    }
    let list = |admin: bool, visible: bool| -> Vec<String> {
        let mut ids: Vec<String> = mods
            .iter()
            .filter(|m| m.admin == admin && m.visible == visible)
            .map(|m| m.session_id.to_hex())
            .collect();
        ids.sort();
        ids
    };
    o.insert("moderators".into(), json!(list(false, true)));
    o.insert("admins".into(), json!(list(true, true)));
    if perms.moderator {
        let hidden_mods = list(false, false);
        if !hidden_mods.is_empty() {
            o.insert("hidden_moderators".into(), json!(hidden_mods));
        }
        let hidden_admins = list(true, false);
        if !hidden_admins.is_empty() {
            o.insert("hidden_admins".into(), json!(hidden_admins));
        }
    }
    o.insert("read".into(), json!(perms.read));
    o.insert("write".into(), json!(perms.write));
    o.insert("upload".into(), json!(perms.upload));
    add_moderation_flags(&mut o, room, perms);
    Value::Object(o)
}

/// `moderator` + `default_*`, `admin`, `global_moderator`, `global_admin` as they apply
/// (room info and `pollInfo`).
pub(crate) fn add_moderation_flags(o: &mut Map<String, Value>, room: &Room, perms: &Permissions) {
    if perms.moderator {
        o.insert("moderator".into(), json!(true));
        o.insert("default_read".into(), json!(room.defaults.read));
        o.insert("default_accessible".into(), json!(room.defaults.accessible));
        o.insert("default_write".into(), json!(room.defaults.write));
        o.insert("default_upload".into(), json!(room.defaults.upload));
    }
    if perms.admin {
        o.insert("admin".into(), json!(true));
    }
    if perms.global_moderator {
        o.insert("global_moderator".into(), json!(true));
    }
    if perms.global_admin {
        o.insert("global_admin".into(), json!(true));
    }
}

/// The reactions object (§6.3); `reactors` lists are omitted when `with_reactors` is
/// false (`reactors=0`).
pub(crate) fn reactions(list: &[Reaction], with_reactors: bool) -> Value {
    let mut o = Map::new();
    for r in list {
        let mut e = Map::new();
        e.insert("index".into(), json!(r.index));
        e.insert("count".into(), json!(r.count));
        if with_reactors {
            let ids: Vec<String> = r.reactors.iter().map(|a| a.to_hex()).collect();
            e.insert("reactors".into(), json!(ids));
        }
        if r.you {
            e.insert("you".into(), json!(true));
        }
        o.insert(r.reaction.clone(), Value::Object(e));
    }
    Value::Object(o)
}

/// A full message object (or a deletion tombstone for a deleted one).
pub(crate) fn message(m: &Message, with_reactors: bool) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("session_id".into(), json!(m.session_id.to_hex()));
    o.insert("posted".into(), json!(m.posted));
    o.insert("seqno".into(), json!(m.seqno));
    if let Some(edited) = m.edited {
        o.insert("edited".into(), json!(edited));
    }
    match (&m.data, &m.signature) {
        (Some(data), Some(sig)) => {
            o.insert("data".into(), json!(STANDARD.encode(data)));
            o.insert("signature".into(), json!(STANDARD.encode(sig)));
            o.insert("reactions".into(), reactions(&m.reactions, with_reactors));
        }
        _ => {
            o.insert("deleted".into(), json!(true));
            o.insert("data".into(), Value::Null);
        }
    }
    if m.is_whisper() {
        o.insert("whisper".into(), json!(true));
        o.insert("whisper_mods".into(), json!(m.whisper_mods));
        if let Some(to) = &m.whisper_to {
            o.insert("whisper_to".into(), json!(to.to_hex()));
        }
    }
    Value::Object(o)
}

/// A message as `/messages/since/{since}` returns it.
pub(crate) fn update(m: &Message, since: i64, with_reactors: bool) -> Value {
    match m.update_kind(since) {
        UpdateKind::ReactionsOnly => json!({
            "id": m.id,
            "seqno": m.seqno,
            "reactions": reactions(&m.reactions, with_reactors),
        }),
        UpdateKind::Full | UpdateKind::Deleted => message(m, with_reactors),
    }
}
