//! Community message bodies (client-protocol §4.4, community-server §6.2), pure.
//!
//! * **Posting**: the `data` of `POST /room/{t}/message` is the 160-padded `Content`
//!   protobuf (`dataMessage{body, timestamp, profile}` and `sigTimestamp`); the
//!   `signature` is the poster's Ed25519 signature over exactly those padded bytes,
//!   made with the blinded key when the server uses blinded ids (otherwise the plain
//!   key). [`build_post`].
//! * **Reading**: [`read_message`] turns one message object of a room listing into a
//!   [`CommunityMessage`]: the signature is checked against the poster's key (the key
//!   in a `15`/`25` id; for an old `05` poster, both Ed25519 keys its X25519 key maps
//!   to), then the padding is removed and the `Content` decoded (a serialized
//!   `Envelope` holding the `Content` is accepted too, as libsession does). A
//!   message that fails is kept with [`MessageStatus::BadSignature`] or
//!   [`MessageStatus::Malformed`] and no text.
//! * **DMs**: [`dm_content`] is the padded `Content` that goes inside a blinded DM.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};
use session_crypto::blinding::BlindedKeypair;
use session_crypto::curve::xed25519_pubkey;
use session_crypto::ed25519::verify;
use session_crypto::session_protocol::{pad_message, unpad_message};
use session_crypto::sogs_auth::SogsAuthMode;
use session_crypto::{AccountId, Ed25519Keypair, IdPrefix};
use session_wire::message::{decode_content, decode_envelope, encode_content};
use session_wire::proto::session::{Content, DataMessage, LokiProfile};

use crate::attachments::Attachment;
use crate::error::{ClientError, Result};
use crate::message::MAX_BODY_CHARS;
use crate::store::{CommunityMessage, CommunityReaction, MessageStatus};

/// Base64 as servers may send it: standard alphabet, padding optional.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes lenient base64.
pub(crate) fn b64(text: &str) -> Option<Vec<u8>> {
    LENIENT_B64.decode(text.trim()).ok()
}

/// Checks a text before it is sent: non-empty, at most [`MAX_BODY_CHARS`] characters.
///
/// # Errors
/// [`ClientError::BadInput`].
pub fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(ClientError::BadInput {
            what: "message",
            reason: "it is empty; write some text".into(),
        });
    }
    let chars = text.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ClientError::BadInput {
            what: "message",
            reason: format!("it has {chars} characters, more than the {MAX_BODY_CHARS} allowed"),
        });
    }
    Ok(())
}

/// The padded `Content` of a text message sent at `sent_ms` with an optional display
/// name.
pub fn text_content(text: &str, display_name: Option<&str>, sent_ms: u64) -> Vec<u8> {
    post_content(text, &[], display_name, sent_ms)
}

/// The padded `Content` of a post with files (room files, in plaintext) and an optional
/// text.
pub fn post_content(
    text: &str,
    attachments: &[Attachment],
    display_name: Option<&str>,
    sent_ms: u64,
) -> Vec<u8> {
    let content = Content {
        data_message: Some(DataMessage {
            body: (!text.is_empty()).then(|| text.to_owned()),
            attachments: attachments.iter().map(Attachment::to_proto).collect(),
            timestamp: Some(sent_ms),
            profile: display_name.map(|n| LokiProfile {
                display_name: Some(n.to_owned()),
                ..LokiProfile::default()
            }),
            ..DataMessage::default()
        }),
        sig_timestamp: Some(sent_ms),
        ..Content::default()
    };
    pad_message(&encode_content(&content))
}

/// The same padded `Content`, for a DM.
pub fn dm_content(text: &str, display_name: Option<&str>, sent_ms: u64) -> Vec<u8> {
    text_content(text, display_name, sent_ms)
}

/// The JSON body of `POST /room/{t}/message`: `{"data", "signature"}`, plus
/// `"files"` (the room file ids, so the server keeps them as long as the post) when
/// there are attachments.
pub fn build_post(
    keys: &Ed25519Keypair,
    mode: SogsAuthMode,
    server_pk: &[u8; 32],
    (text, attachments): (&str, &[Attachment]),
    display_name: Option<&str>,
    sent_ms: u64,
) -> Value {
    let data = post_content(text, attachments, display_name, sent_ms);
    let sig = sign_data(keys, mode, server_pk, &data);
    let mut body = json!({
        "data": STANDARD.encode(&data),
        "signature": STANDARD.encode(sig),
    });
    if !attachments.is_empty() {
        body["files"] = attachments.iter().map(|a| a.id).collect();
    }
    body
}

/// Signs message data as the poster: blinded key, or the plain key when unblinded.
pub fn sign_data(
    keys: &Ed25519Keypair,
    mode: SogsAuthMode,
    server_pk: &[u8; 32],
    data: &[u8],
) -> [u8; 64] {
    match mode {
        SogsAuthMode::Unblinded => keys.sign(data),
        SogsAuthMode::Blind15 => BlindedKeypair::blind15(keys, server_pk).sign(data),
        SogsAuthMode::Blind25 => BlindedKeypair::blind25(keys, server_pk).sign(data),
    }
}

/// Whether `sig` over `data` verifies for the poster `sender`.
pub fn verify_post(sender: &AccountId, data: &[u8], sig: &[u8]) -> bool {
    match sender.prefix() {
        IdPrefix::Standard => {
            // An X25519 key maps to two Ed25519 keys (sign unknown): try both.
            let Ok(abs) = xed25519_pubkey(sender.key()) else {
                return false;
            };
            let mut neg = abs;
            neg[31] ^= 0x80;
            verify(&abs, data, sig).is_ok() || verify(&neg, data, sig).is_ok()
        }
        IdPrefix::Unblinded | IdPrefix::Blinded15 | IdPrefix::Blinded25 => {
            verify(sender.key(), data, sig).is_ok()
        }
        IdPrefix::Group | IdPrefix::VersionBlinded => false,
    }
}

/// What a decoded `Content` says: text, display name, sender's timestamp.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedText {
    /// `dataMessage.body` (empty if none).
    pub body: String,
    /// `dataMessage.profile.displayName`.
    pub display_name: Option<String>,
    /// `sigTimestamp`, else `dataMessage.timestamp`.
    pub sent_ms: Option<u64>,
    /// `dataMessage.attachments` that can be downloaded.
    pub attachments: Vec<Attachment>,
}

/// Unpads and decodes a `Content` (or an `Envelope` holding one).
pub fn decode_text(padded: &[u8]) -> Option<DecodedText> {
    let bytes = unpad_message(padded);
    let content = match decode_content(bytes) {
        Ok(c) if !content_is_empty(&c) => c,
        _ => {
            let env = decode_envelope(bytes).ok()?;
            decode_content(unpad_message(env.content.as_deref()?)).ok()?
        }
    };
    let dm = content.data_message.as_ref();
    Some(DecodedText {
        body: dm.and_then(|d| d.body.clone()).unwrap_or_default(),
        display_name: dm
            .and_then(|d| d.profile.as_ref())
            .and_then(|p| p.display_name.clone())
            .filter(|n| !n.is_empty()),
        sent_ms: content
            .sig_timestamp
            .filter(|&t| t != 0)
            .or_else(|| dm.and_then(|d| d.timestamp)),
        attachments: dm
            .map(|d| {
                d.attachments
                    .iter()
                    .filter_map(Attachment::from_proto)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn content_is_empty(c: &Content) -> bool {
    *c == Content::default()
}

fn secs_to_ms(v: &Value) -> Option<u64> {
    let f = v.as_f64()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    // Unix seconds as float → ms; the float range is checked above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((f * 1000.0).round() as u64)
}

/// Reads a reactions object (community-server §6.3) into a list in the server's
/// `index` order.
pub fn read_reactions(v: Option<&Value>) -> Vec<CommunityReaction> {
    let Some(obj) = v.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut list: Vec<(u64, CommunityReaction)> = obj
        .iter()
        .map(|(emoji, r)| {
            let index = r.get("index").and_then(Value::as_u64).unwrap_or(u64::MAX);
            (
                index,
                CommunityReaction {
                    emoji: emoji.clone(),
                    count: r.get("count").and_then(Value::as_u64).unwrap_or(0),
                    you: r.get("you").and_then(Value::as_bool).unwrap_or(false),
                    reactors: r
                        .get("reactors")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.emoji.cmp(&b.1.emoji)));
    list.into_iter().map(|(_, r)| r).collect()
}

/// One entry of a room listing, as [`read_message`] classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListedMessage {
    /// A whole message (new, edited or deleted).
    Full(CommunityMessage),
    /// Only its reactions changed (`{"id", "seqno", "reactions"}`).
    Reactions {
        /// The message id.
        id: u64,
        /// Its new seqno.
        seqno: u64,
        /// Its reactions now.
        reactions: Vec<CommunityReaction>,
    },
}

impl ListedMessage {
    /// The seqno of the entry.
    pub fn seqno(&self) -> u64 {
        match self {
            Self::Full(m) => m.seqno,
            Self::Reactions { seqno, .. } => *seqno,
        }
    }
}

/// Reads one message object of a room listing (see the module documentation).
///
/// # Errors
/// [`ClientError::BadReply`] if it lacks an `id` or `seqno`, or a full message lacks a
/// usable `session_id` or `posted` time.
pub fn read_message(base_url: &str, room: &str, v: &Value) -> Result<ListedMessage> {
    let bad = |reason: &str| ClientError::BadReply {
        what: "community message",
        reason: reason.to_owned(),
    };
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no id"))?;
    let seqno = v
        .get("seqno")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no seqno"))?;
    let Some(sender) = v.get("session_id").and_then(Value::as_str) else {
        return Ok(ListedMessage::Reactions {
            id,
            seqno,
            reactions: read_reactions(v.get("reactions")),
        });
    };
    let sender: AccountId = sender
        .parse()
        .map_err(|e| bad(&format!("bad session_id {sender:?}: {e}")))?;
    let posted_ms = v
        .get("posted")
        .and_then(secs_to_ms)
        .ok_or_else(|| bad("no posted time"))?;
    let mut msg = CommunityMessage {
        base_url: base_url.to_owned(),
        room: room.to_owned(),
        id,
        seqno,
        sender,
        posted_ms,
        edited_ms: v.get("edited").and_then(secs_to_ms),
        sent_ms: None,
        body: String::new(),
        display_name: None,
        status: MessageStatus::Valid,
        deleted: false,
        reactions: read_reactions(v.get("reactions")),
        attachments: Vec::new(),
    };
    let data = v.get("data").and_then(Value::as_str);
    if v.get("deleted").and_then(Value::as_bool) == Some(true) || data.is_none() {
        msg.deleted = true;
        return Ok(ListedMessage::Full(msg));
    }
    let data = data.and_then(b64);
    let sig = v.get("signature").and_then(Value::as_str).and_then(b64);
    let (Some(data), Some(sig)) = (data, sig) else {
        msg.status = MessageStatus::Malformed;
        return Ok(ListedMessage::Full(msg));
    };
    if !verify_post(&sender, &data, &sig) {
        msg.status = MessageStatus::BadSignature;
        return Ok(ListedMessage::Full(msg));
    }
    match decode_text(&data) {
        Some(t) => {
            msg.body = t.body;
            msg.display_name = t.display_name;
            msg.sent_ms = t.sent_ms;
            msg.attachments = t.attachments;
        }
        None => msg.status = MessageStatus::Malformed,
    }
    Ok(ListedMessage::Full(msg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use session_crypto::sogs_auth::sogs_account_id;

    use super::*;

    const PK: [u8; 32] = [9; 32];

    fn listed(keys: &Ed25519Keypair, mode: SogsAuthMode, post: &Value) -> Value {
        json!({
            "id": 7,
            "session_id": sogs_account_id(keys, mode, &PK).to_hex(),
            "posted": 1_700_000_000.25,
            "seqno": 12,
            "data": post["data"],
            "signature": post["signature"],
            "reactions": {
                "👍": {"index": 1, "count": 1, "reactors": []},
                "❤️": {"index": 0, "count": 2, "reactors": ["15ab"], "you": true},
            },
        })
    }

    #[test]
    fn posts_round_trip_and_tampering_is_flagged() {
        let keys = Ed25519Keypair::generate().unwrap();
        let post = build_post(
            &keys,
            SogsAuthMode::Blind15,
            &PK,
            ("hello room", &[]),
            Some("Alice"),
            1_700_000_000_123,
        );
        let data = b64(post["data"].as_str().unwrap()).unwrap();
        assert_eq!(data.len() % 160, 0);
        let v = listed(&keys, SogsAuthMode::Blind15, &post);
        let ListedMessage::Full(m) = read_message("http://a.b", "r", &v).unwrap() else {
            panic!("full message expected");
        };
        assert_eq!(m.status, MessageStatus::Valid);
        assert_eq!(m.body, "hello room");
        assert_eq!(m.display_name.as_deref(), Some("Alice"));
        assert_eq!(m.sent_ms, Some(1_700_000_000_123));
        assert_eq!(m.posted_ms, 1_700_000_000_250);
        assert_eq!(
            m.reactions
                .iter()
                .map(|r| r.emoji.as_str())
                .collect::<Vec<_>>(),
            ["❤️", "👍"]
        );
        assert!(m.reactions[0].you);

        // Another text under the same signature.
        let mut tampered = v.clone();
        let other = text_content("hello r00m", Some("Alice"), 1_700_000_000_123);
        tampered["data"] = json!(STANDARD.encode(other));
        let ListedMessage::Full(t) = read_message("http://a.b", "r", &tampered).unwrap() else {
            panic!();
        };
        assert_eq!(t.status, MessageStatus::BadSignature);
        assert!(t.body.is_empty());

        // Someone else's id on the same message.
        let mut forged = v;
        let mallory = Ed25519Keypair::generate().unwrap();
        forged["session_id"] =
            json!(sogs_account_id(&mallory, SogsAuthMode::Blind15, &PK).to_hex());
        let ListedMessage::Full(f) = read_message("http://a.b", "r", &forged).unwrap() else {
            panic!();
        };
        assert_eq!(f.status, MessageStatus::BadSignature);
    }

    #[test]
    fn unblinded_and_05_posters_verify() {
        let keys = Ed25519Keypair::generate().unwrap();
        let post = build_post(&keys, SogsAuthMode::Unblinded, &PK, ("hi", &[]), None, 5);
        let mut v = listed(&keys, SogsAuthMode::Unblinded, &post);
        // PySOGS lists an unblinded poster by its Session ID.
        let x = session_crypto::curve::ed25519_pk_to_x25519(keys.public().as_bytes()).unwrap();
        v["session_id"] = json!(AccountId::new(IdPrefix::Standard, x).to_hex());
        let ListedMessage::Full(m) = read_message("http://a.b", "r", &v).unwrap() else {
            panic!();
        };
        assert_eq!((m.status, m.body.as_str()), (MessageStatus::Valid, "hi"));
    }

    #[test]
    fn deletions_reaction_updates_and_garbage() {
        let sid = format!("15{}", "ab".repeat(32));
        let del = json!({"id": 1, "session_id": sid, "posted": 1.0, "seqno": 3,
                         "edited": 2.0, "deleted": true, "data": null});
        let ListedMessage::Full(d) = read_message("u", "r", &del).unwrap() else {
            panic!();
        };
        assert!(d.deleted);
        assert_eq!(d.edited_ms, Some(2_000));
        let react = json!({"id": 1, "seqno": 4, "reactions": {"🔥": {"index": 0, "count": 3}}});
        match read_message("u", "r", &react).unwrap() {
            ListedMessage::Reactions {
                id,
                seqno,
                reactions,
            } => {
                assert_eq!((id, seqno, reactions[0].count), (1, 4, 3));
            }
            other => panic!("{other:?}"),
        }
        let garbage = json!({"id": 2, "session_id": sid, "posted": 1.0, "seqno": 5,
                             "data": "!!!", "signature": "AAAA"});
        let ListedMessage::Full(g) = read_message("u", "r", &garbage).unwrap() else {
            panic!();
        };
        assert_eq!(g.status, MessageStatus::Malformed);
        assert!(read_message("u", "r", &json!({"seqno": 1})).is_err());
    }
}
