//! Reading one-to-one messages from one's swarm (client-protocol §3.2, §9): the stored
//! bytes are unwrapped (`WebSocketMessage` → `Envelope`), the sealed box is opened with
//! one's own key, the sender's signature is checked, the padding removed and the
//! `Content` classified into an [`Incoming`] message.
//!
//! Anything that fails a check is a [`Rejected`] error — never content — so the caller
//! can drop and count it ([`Rejected::label`]). The checks, in order:
//!
//! 1. a v2 payload (`00 02…`, §3.3) is recognised and rejected as not supported;
//! 2. `WebSocketMessage` of type `REQUEST` with a `body`, decoding to an `Envelope` with
//!    `content` (old-client variants accepted; the envelope `type` is ignored, §3.2);
//! 3. the box opens with our X25519 key (else [`Rejected::NotForUs`]) and the Ed25519
//!    signature over `P || A || our X25519 key` verifies (else [`Rejected::BadSignature`]);
//! 4. the unpadded plaintext is a `Content` protobuf;
//! 5. `Content.sigTimestamp` (signed), when present and non-zero, equals the envelope
//!    `timestamp` (not signed) — desktop drops mismatches (`shouldProcessContentMessage`);
//! 6. a `DataMessage.syncTarget` is only accepted from ourselves, an `UnsendRequest` only
//!    from the author it names, and `DataMessage.flags` may only be
//!    `EXPIRATION_TIMER_UPDATE` — as desktop does.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use session_crypto::session_protocol::decrypt_incoming;
use session_crypto::{AccountId, AccountKeys, CryptoError, Ed25519PublicKey};
use session_wire::message::{decode_content, unwrap_1o1};
use session_wire::proto::session::{
    Content, DataMessage, MessageRequestResponse, ReceiptMessage, UnsendRequest, data_message,
    receipt_message,
};
use thiserror::Error;

use super::fields::{Expiry, Profile};
use crate::attachments::Attachment;

/// Why a stored message was dropped. Nothing of a rejected message may be shown.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// A "v2" DM (payload starting `00 02`, client-protocol §3.3), which this client does
    /// not read.
    #[error("v2 (PFS) message: not supported")]
    V2Unsupported,
    /// The bytes are not a usable `WebSocketMessage` / `Envelope` (or not base64).
    #[error("bad wrapping: {0}")]
    BadWrapper(String),
    /// The sealed box is shorter than the 144-byte minimum.
    #[error("ciphertext of {len} bytes is too short")]
    TooShort {
        /// The ciphertext length.
        len: usize,
    },
    /// The box does not open with our key: sealed to someone else, or altered.
    #[error("not sealed to us (or altered)")]
    NotForUs,
    /// The sender's signature (or the sender key inside the box) is invalid.
    #[error("sender signature does not verify")]
    BadSignature,
    /// The decrypted plaintext is not a `Content` protobuf.
    #[error("bad Content protobuf: {0}")]
    BadContent(String),
    /// The envelope has no sent timestamp.
    #[error("no sent timestamp")]
    NoTimestamp,
    /// The signed `Content.sigTimestamp` differs from the envelope `timestamp`.
    #[error("envelope timestamp {envelope_ms} differs from the signed timestamp {signed_ms}")]
    TimestampMismatch {
        /// `Envelope.timestamp`.
        envelope_ms: u64,
        /// `Content.sigTimestamp`.
        signed_ms: u64,
    },
    /// A sync message (`syncTarget` set) from someone other than ourselves.
    #[error("sync message from {sender}, not from us")]
    ForeignSync {
        /// Who sent it.
        sender: AccountId,
    },
    /// An unsend request for a message the sender did not write.
    #[error("unsend request for author {author:?} sent by someone else")]
    UnsendNotByAuthor {
        /// The `UnsendRequest.author` as received.
        author: String,
    },
    /// A field has a value clients never send (unknown flags, a bad `syncTarget`, a zero
    /// unsend timestamp).
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

impl Rejected {
    /// A short stable name for counters and logs (`"bad_signature"`, `"not_for_us"`, …).
    pub fn label(&self) -> &'static str {
        match self {
            Self::V2Unsupported => "v2_unsupported",
            Self::BadWrapper(_) => "bad_wrapper",
            Self::TooShort { .. } => "too_short",
            Self::NotForUs => "not_for_us",
            Self::BadSignature => "bad_signature",
            Self::BadContent(_) => "bad_content",
            Self::NoTimestamp => "no_timestamp",
            Self::TimestampMismatch { .. } => "timestamp_mismatch",
            Self::ForeignSync { .. } => "foreign_sync",
            Self::UnsendNotByAuthor { .. } => "unsend_not_by_author",
            Self::Invalid(_) => "invalid",
        }
    }

    fn from_crypto(e: &CryptoError, len: usize) -> Self {
        match e {
            CryptoError::InvalidLength { .. } => Self::TooShort { len },
            CryptoError::BadSignature { .. } | CryptoError::InvalidPublicKey { .. } => {
                Self::BadSignature
            }
            _ => Self::NotForUs,
        }
    }
}

/// What a received message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingKind {
    /// A visible message (`DataMessage` without `syncTarget`): its text (possibly empty
    /// when the message only has attachments, a quote, … — see [`Incoming::content`]) and
    /// the sender's profile if attached. From ourselves it is a Note-to-Self message.
    Text {
        /// `DataMessage.body` (empty if absent).
        body: String,
        /// `DataMessage.attachments` that can be downloaded.
        attachments: Vec<Attachment>,
        /// `DataMessage.profile` + `profileKey`.
        profile: Option<Profile>,
    },
    /// A copy of a message we sent from another device (`DataMessage.syncTarget`; only
    /// accepted from ourselves).
    Sync {
        /// The conversation it was sent to.
        target: AccountId,
        /// `DataMessage.body` (empty if absent).
        body: String,
        /// `DataMessage.attachments` that can be downloaded.
        attachments: Vec<Attachment>,
    },
    /// The conversation's disappearing setting changed
    /// (`DataMessage.flags = EXPIRATION_TIMER_UPDATE`); the new setting is
    /// [`Incoming::expiry`] (`None` = turned off).
    ExpiryUpdate {
        /// Set when this is our own device's sync copy: the conversation it applies to.
        sync_target: Option<AccountId>,
    },
    /// The sender read our messages with these sent timestamps (`ReceiptMessage` READ).
    ReadReceipt {
        /// Sent timestamps (ms) of the messages read.
        timestamps: Vec<u64>,
    },
    /// Delete the message `author` sent at `sent_ms` (`UnsendRequest`; the author is
    /// always the sender).
    Unsend {
        /// The author of the message to delete (equals [`Incoming::sender`]).
        author: AccountId,
        /// The sent timestamp (ms) of the message to delete.
        sent_ms: u64,
    },
    /// The sender accepted our message request (`MessageRequestResponse{isApproved}`),
    /// with their profile if attached.
    RequestAccepted {
        /// `MessageRequestResponse.profile` + `profileKey`.
        profile: Option<Profile>,
    },
    /// A valid message of a kind this codec does not handle (typing, calls, reactions,
    /// group updates, legacy config…); the caller may inspect [`Incoming::content`].
    Unsupported(&'static str),
}

impl IncomingKind {
    /// A short name of the kind (`"text"`, `"sync"`, …), safe to log.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Sync { .. } => "sync",
            Self::ExpiryUpdate { .. } => "expiry_update",
            Self::ReadReceipt { .. } => "read_receipt",
            Self::Unsend { .. } => "unsend",
            Self::RequestAccepted { .. } => "request_accepted",
            Self::Unsupported(what) => what,
        }
    }
}

/// A decrypted, signature-checked one-to-one message.
#[derive(Clone, PartialEq)]
pub struct Incoming {
    /// The sender's Session ID (from the signing key inside the box, not from the
    /// envelope).
    pub sender: AccountId,
    /// The sender's Ed25519 key.
    pub sender_ed25519: Ed25519PublicKey,
    /// The sent timestamp (ms): the envelope `timestamp`, checked against the signed
    /// `sigTimestamp` when present. Messages are identified by (sender, sent_ms).
    pub sent_ms: u64,
    /// The disappearing setting the message carries (`Content.expirationType` +
    /// `expirationTimer`). For [`ExpiryMode::AfterRead`](super::ExpiryMode::AfterRead) the
    /// reader starts the countdown when the message is read (and shortens the swarm copy
    /// with the `expire` RPC); for after-send it runs from `sent_ms`.
    pub expiry: Option<Expiry>,
    /// What the message is.
    pub kind: IncomingKind,
    /// The whole decoded `Content`, for fields this codec does not interpret.
    pub content: Content,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("sender", &self.sender)
            .field("sent_ms", &self.sent_ms)
            .field("expiry", &self.expiry)
            .field("kind", &self.kind.label())
            .finish_non_exhaustive()
    }
}

/// Opens a message stored in our swarm's namespace 0: the raw bytes of a `retrieve`
/// result's `data` after base64 decoding (see [`open_base64`]). See the module docs for
/// the checks.
///
/// # Errors
/// A [`Rejected`] saying why the message must be dropped.
pub fn open(own: &AccountKeys, stored: &[u8]) -> Result<Incoming, Rejected> {
    if stored.starts_with(&[0x00, 0x02]) {
        return Err(Rejected::V2Unsupported);
    }
    let unwrapped = unwrap_1o1(stored).map_err(|e| Rejected::BadWrapper(e.to_string()))?;
    let envelope = unwrapped.envelope;
    let ciphertext = envelope.content.as_deref().unwrap_or_default();
    let msg = decrypt_incoming(own, ciphertext)
        .map_err(|e| Rejected::from_crypto(&e, ciphertext.len()))?;
    let content = decode_content(&msg.content).map_err(|e| Rejected::BadContent(e.to_string()))?;

    let signed = content.sig_timestamp.filter(|&t| t != 0);
    let sent_ms = match (envelope.timestamp, signed) {
        (0, None) => return Err(Rejected::NoTimestamp),
        (0, Some(s)) => s,
        (e, Some(s)) if e != s => {
            return Err(Rejected::TimestampMismatch {
                envelope_ms: e,
                signed_ms: s,
            });
        }
        (e, _) => e,
    };

    let own_id = own.session_id();
    let kind = classify(&content, &msg.sender_id, &own_id)?;
    Ok(Incoming {
        sender: msg.sender_id,
        sender_ed25519: msg.sender_ed25519,
        sent_ms,
        expiry: Expiry::from_proto(content.expiration_type, content.expiration_timer),
        kind,
        content,
    })
}

/// [`open`] for the base64 text of a `retrieve` result's `data` (padded or not).
///
/// # Errors
/// [`Rejected::BadWrapper`] if `data` is not base64; otherwise as [`open`].
pub fn open_base64(own: &AccountKeys, data: &str) -> Result<Incoming, Rejected> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT
        .decode(data.trim())
        .map_err(|e| Rejected::BadWrapper(format!("data is not base64: {e}")))?;
    open(own, &bytes)
}

/// Desktop's dispatch order: dataMessage, receipt, typing, data extraction, unsend, call,
/// request response.
fn classify(
    content: &Content,
    sender: &AccountId,
    own: &AccountId,
) -> Result<IncomingKind, Rejected> {
    if let Some(dm) = &content.data_message {
        return classify_data(dm, sender, own);
    }
    if let Some(receipt) = &content.receipt_message {
        return Ok(classify_receipt(receipt));
    }
    if content.typing_message.is_some() {
        return Ok(IncomingKind::Unsupported("typingMessage"));
    }
    if content.data_extraction_notification.is_some() {
        return Ok(IncomingKind::Unsupported("dataExtractionNotification"));
    }
    if let Some(unsend) = &content.unsend_request {
        return classify_unsend(unsend, sender);
    }
    if content.call_message.is_some() {
        return Ok(IncomingKind::Unsupported("callMessage"));
    }
    if let Some(response) = &content.message_request_response {
        return Ok(classify_request_response(response));
    }
    if content.shared_config_message.is_some() {
        return Ok(IncomingKind::Unsupported("sharedConfigMessage"));
    }
    Ok(IncomingKind::Unsupported("empty Content"))
}

fn classify_data(
    dm: &DataMessage,
    sender: &AccountId,
    own: &AccountId,
) -> Result<IncomingKind, Rejected> {
    if dm.group_update_message.is_some() {
        return Ok(IncomingKind::Unsupported("groupUpdateMessage"));
    }
    let timer_update = data_message::Flags::ExpirationTimerUpdate as u32;
    let flags = dm.flags.unwrap_or(0);
    if flags != 0 && flags != timer_update {
        return Err(Rejected::Invalid("unknown DataMessage flags"));
    }
    let sync_target = match dm.sync_target.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => {
            let target: AccountId = text
                .parse()
                .map_err(|_| Rejected::Invalid("syncTarget is not an account id"))?;
            if sender != own {
                return Err(Rejected::ForeignSync { sender: *sender });
            }
            Some(target)
        }
    };
    if flags == timer_update {
        return Ok(IncomingKind::ExpiryUpdate { sync_target });
    }
    if dm.reaction.is_some() {
        return Ok(IncomingKind::Unsupported("reaction"));
    }
    let body = dm.body.clone().unwrap_or_default();
    let attachments = dm
        .attachments
        .iter()
        .filter_map(Attachment::from_proto)
        .collect();
    Ok(match sync_target {
        Some(target) => IncomingKind::Sync {
            target,
            body,
            attachments,
        },
        None => IncomingKind::Text {
            body,
            attachments,
            profile: Profile::from_proto(dm.profile.as_ref(), dm.profile_key.as_deref()),
        },
    })
}

fn classify_receipt(receipt: &ReceiptMessage) -> IncomingKind {
    if receipt.r#type == receipt_message::Type::Read as i32 {
        IncomingKind::ReadReceipt {
            timestamps: receipt.timestamp.clone(),
        }
    } else {
        IncomingKind::Unsupported("delivery receipt")
    }
}

fn classify_unsend(unsend: &UnsendRequest, sender: &AccountId) -> Result<IncomingKind, Rejected> {
    let author: AccountId = match unsend.author.parse() {
        Ok(a) if a == *sender => a,
        _ => {
            return Err(Rejected::UnsendNotByAuthor {
                author: unsend.author.chars().take(80).collect(),
            });
        }
    };
    if unsend.timestamp == 0 {
        return Err(Rejected::Invalid("unsend request without a timestamp"));
    }
    Ok(IncomingKind::Unsend {
        author,
        sent_ms: unsend.timestamp,
    })
}

fn classify_request_response(response: &MessageRequestResponse) -> IncomingKind {
    if response.is_approved {
        IncomingKind::RequestAccepted {
            profile: Profile::from_proto(
                response.profile.as_ref(),
                response.profile_key.as_deref(),
            ),
        }
    } else {
        // Clients only ever send approvals; desktop ignores anything else.
        IncomingKind::Unsupported("messageRequestResponse without approval")
    }
}
