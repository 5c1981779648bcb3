//! Building one-to-one messages (client-protocol §3.1, §9): an [`Outgoing`] payload
//! becomes a `Content` protobuf, which is padded, signed, sealed to the recipient, put in
//! an `Envelope` and a `WebSocketMessage` — the bytes a swarm stores in namespace 0.
//!
//! ```text
//! Outgoing ──content()──▶ Content ──encrypt_for_recipient──▶ sealed box
//!          ──wrap_1o1(box, sent_ms, decoy proSig)──▶ SealedMessage.data   (first byte 0x08)
//! ```
//!
//! What goes where (field numbers in §3.4):
//!
//! | variant | `Content` fields |
//! |---|---|
//! | [`Outgoing::Text`] | `dataMessage{body, profile?, profileKey?}`, `expirationType`, `expirationTimer`, `sigTimestamp` |
//! | [`Outgoing::Sync`] | `dataMessage{body, syncTarget}`, `expirationType`, `expirationTimer`, `sigTimestamp` |
//! | [`Outgoing::ExpiryUpdate`] | `dataMessage{flags = EXPIRATION_TIMER_UPDATE, syncTarget?}`, `expirationType`, `expirationTimer`, `sigTimestamp` |
//! | [`Outgoing::ReadReceipt`] | `receiptMessage{type = READ, timestamp[]}`, `sigTimestamp` |
//! | [`Outgoing::Unsend`] | `unsendRequest{timestamp, author}`, `sigTimestamp` |
//! | [`Outgoing::AcceptRequest`] | `messageRequestResponse{isApproved = true, profile?, profileKey?}`, `sigTimestamp` |
//!
//! Messages that can disappear always carry `expirationType` and `expirationTimer`
//! (`UNKNOWN` and 0 when the setting is off), as current clients send them; control
//! messages (receipts, unsend, request acceptance) never disappear and carry neither.
//! `sigTimestamp` is always the sent time, equal to the envelope `timestamp`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use session_crypto::curve::{reduce64, scalarmult_base_noclamp};
use session_crypto::hash::blake2b;
use session_crypto::random::random_array;
use session_crypto::session_protocol::{
    encrypt_for_recipient, encrypt_for_recipient_deterministic,
};
use session_crypto::{AccountId, AccountKeys, CryptoError};
use session_wire::message::{encode_content, wrap_1o1};
use session_wire::proto::session::{
    Content, DataMessage, MessageRequestResponse, ReceiptMessage, UnsendRequest, data_message,
    receipt_message,
};
use session_wire::storage::{StoragePubkey, message_hash};
use thiserror::Error;

use super::fields::{DM_NAMESPACE, Expiry, MAX_BODY_CHARS, Profile, ttl_ms};
use crate::attachments::Attachment;

/// Why a message could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OutgoingError {
    /// The sent timestamp is 0 (clients refuse to build such a message).
    #[error("the sent timestamp must be positive")]
    ZeroTimestamp,
    /// A text message with an empty body.
    #[error("a message needs text or an attachment")]
    EmptyBody,
    /// The body is longer than a non-Pro sender may send.
    #[error("body has {chars} characters, more than the {max} allowed")]
    BodyTooLong {
        /// Unicode code points in the body.
        chars: usize,
        /// The limit ([`MAX_BODY_CHARS`]).
        max: usize,
    },
    /// A disappearing setting with a zero timer (use `None` for "off").
    #[error("a disappearing-message timer must be non-zero")]
    ZeroExpiryTimer,
    /// A read receipt without timestamps, or with a zero timestamp.
    #[error("a read receipt needs at least one non-zero timestamp")]
    EmptyReceipt,
    /// An unsend request for timestamp 0.
    #[error("an unsend request needs the target's non-zero sent timestamp")]
    ZeroUnsendTimestamp,
    /// Signing or sealing failed (e.g. the recipient is not a `05` Session ID).
    #[error("sealing failed: {0}")]
    Crypto(#[from] CryptoError),
}

/// A one-to-one message to send (client-protocol §3, §9). See the module docs for the
/// protobuf fields each variant fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A visible text message with the sender's profile, as clients send to a contact.
    Text {
        /// The text (at most [`MAX_BODY_CHARS`] code points; empty only with
        /// attachments).
        body: String,
        /// Files, already uploaded (`DataMessage.attachments`).
        attachments: Vec<Attachment>,
        /// The sender's profile (name, picture), sent with every visible message.
        profile: Option<Profile>,
        /// The conversation's disappearing setting, if on.
        expiry: Option<Expiry>,
    },
    /// The copy of a sent text message that goes to the sender's own swarm so their other
    /// devices see it (`DataMessage.syncTarget` = the real recipient; no profile, like
    /// desktop's sync messages). Seal it to oneself; see [`Outgoing::sync_copy`].
    Sync {
        /// The conversation the message was sent to.
        target: AccountId,
        /// The text.
        body: String,
        /// The original's attachments.
        attachments: Vec<Attachment>,
        /// The disappearing setting of the original.
        expiry: Option<Expiry>,
    },
    /// Announces a change of the conversation's disappearing setting
    /// (`DataMessage.flags = EXPIRATION_TIMER_UPDATE`; the new setting is in the Content's
    /// expiration fields, `None` = turned off).
    ExpiryUpdate {
        /// The new setting.
        expiry: Option<Expiry>,
        /// Set on the copy for one's own swarm: the conversation it applies to.
        sync_target: Option<AccountId>,
    },
    /// Tells the sender of these messages that they were read (§9 "Read receipts"; only
    /// if the user enabled read receipts).
    ReadReceipt {
        /// The sent timestamps (ms) of the messages read.
        timestamps: Vec<u64>,
    },
    /// Deletes a message for everyone (§9 "Unsend"): sent to the conversation and to one's
    /// own swarm. The sender also deletes the stored copies by hash
    /// ([`SealedMessage::hash`]).
    Unsend {
        /// The author of the message to delete (oneself in a one-to-one conversation).
        author: AccountId,
        /// The sent timestamp (ms) of the message to delete.
        sent_ms: u64,
    },
    /// Accepts a message request (§9 "Message requests"), with one's profile.
    AcceptRequest {
        /// The sender's profile.
        profile: Option<Profile>,
    },
}

/// One sealed message, ready for the `store` RPC.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedMessage {
    /// Whose swarm to store it in: the recipient, or oneself for a sync copy.
    pub destination: AccountId,
    /// The namespace: always [`DM_NAMESPACE`] (0).
    pub namespace: i16,
    /// The TTL in ms (14 days, or the after-send timer; §9).
    pub ttl_ms: u64,
    /// The sent timestamp in ms: the envelope `timestamp` and `Content.sigTimestamp`. The
    /// recipient identifies the message by it (quotes, receipts, unsend).
    pub sent_ms: u64,
    /// The raw swarm payload: the serialized `WebSocketMessage`. The `store` RPC wants it
    /// base64-encoded in `data` ([`SealedMessage::data_base64`]); encoding is the caller's
    /// job.
    pub data: Vec<u8>,
    /// The message hash the storage node will assign (storage-node §5.1), for a later
    /// `delete` (unsend) or to recognise the message in `retrieve` results.
    pub hash: String,
}

impl std::fmt::Debug for SealedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedMessage")
            .field("destination", &self.destination)
            .field("namespace", &self.namespace)
            .field("ttl_ms", &self.ttl_ms)
            .field("sent_ms", &self.sent_ms)
            .field("data_len", &self.data.len())
            .field("hash", &self.hash)
            .finish()
    }
}

impl SealedMessage {
    /// [`SealedMessage::data`] as standard padded base64, the `data` of a `store` request.
    pub fn data_base64(&self) -> String {
        STANDARD.encode(&self.data)
    }

    /// The absolute expiry in ms (`sent_ms + ttl_ms`), for a `store` with `expiry`.
    pub fn expiry_ms(&self) -> u64 {
        self.sent_ms.saturating_add(self.ttl_ms)
    }
}

fn check_expiry(expiry: Option<&Expiry>) -> Result<(), OutgoingError> {
    match expiry {
        Some(e) if e.seconds == 0 => Err(OutgoingError::ZeroExpiryTimer),
        _ => Ok(()),
    }
}

fn check_body(body: &str, attachments: &[Attachment]) -> Result<(), OutgoingError> {
    if body.is_empty() && attachments.is_empty() {
        return Err(OutgoingError::EmptyBody);
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(OutgoingError::BodyTooLong {
            chars,
            max: MAX_BODY_CHARS,
        });
    }
    Ok(())
}

/// `DataMessage.body`: absent for an attachment-only message, as clients send it.
fn some_text(body: &str) -> Option<String> {
    (!body.is_empty()).then(|| body.to_owned())
}

/// `Content` with `sigTimestamp` and, for messages that can disappear, the expiration
/// fields.
fn base_content(sent_ms: u64, disappearing: Option<Option<&Expiry>>) -> Content {
    let mut content = Content {
        sig_timestamp: Some(sent_ms),
        ..Content::default()
    };
    if let Some(expiry) = disappearing {
        let (kind, timer) = Expiry::to_proto(expiry);
        content.expiration_type = Some(kind);
        content.expiration_timer = Some(timer);
    }
    content
}

impl Outgoing {
    /// The disappearing setting this message carries (and whose TTL it is stored with).
    pub fn expiry(&self) -> Option<&Expiry> {
        match self {
            Self::Text { expiry, .. } | Self::Sync { expiry, .. } => expiry.as_ref(),
            Self::ExpiryUpdate { expiry, .. } => expiry.as_ref(),
            Self::ReadReceipt { .. } | Self::Unsend { .. } | Self::AcceptRequest { .. } => None,
        }
    }

    /// The TTL to store this message with (§9): the after-send timer of an after-send
    /// message (clamped to 10 s … 14 days), otherwise 14 days.
    pub fn ttl_ms(&self) -> u64 {
        ttl_ms(self.expiry())
    }

    /// The copy to store in the sender's own swarm, as clients do for multi-device sync:
    /// a text becomes a [`Outgoing::Sync`] naming `recipient` (without the profile), an
    /// expiry update gets `sync_target`, an unsend is sent as is. Read receipts and request
    /// acceptances are not synced this way (their state travels in config messages, §6),
    /// and a sync copy is not synced again: those give `None`.
    pub fn sync_copy(&self, recipient: &AccountId) -> Option<Self> {
        match self {
            Self::Text {
                body,
                attachments,
                expiry,
                ..
            } => Some(Self::Sync {
                target: *recipient,
                body: body.clone(),
                attachments: attachments.clone(),
                expiry: *expiry,
            }),
            Self::ExpiryUpdate {
                expiry,
                sync_target: None,
            } => Some(Self::ExpiryUpdate {
                expiry: *expiry,
                sync_target: Some(*recipient),
            }),
            Self::Unsend { .. } => Some(self.clone()),
            Self::Sync { .. }
            | Self::ExpiryUpdate { .. }
            | Self::ReadReceipt { .. }
            | Self::AcceptRequest { .. } => None,
        }
    }

    /// The `Content` protobuf of this message sent at `sent_ms` (see the module docs).
    ///
    /// # Errors
    /// [`OutgoingError`] for a zero timestamp, an empty or too long body, a zero timer, an
    /// empty receipt or a zero unsend target.
    pub fn content(&self, sent_ms: u64) -> Result<Content, OutgoingError> {
        if sent_ms == 0 {
            return Err(OutgoingError::ZeroTimestamp);
        }
        check_expiry(self.expiry())?;
        let content = match self {
            Self::Text {
                body,
                attachments,
                profile,
                expiry,
            } => {
                check_body(body, attachments)?;
                let (profile, profile_key) = profile
                    .as_ref()
                    .and_then(Profile::to_proto)
                    .map_or((None, None), |(p, k)| (Some(p), k));
                Content {
                    data_message: Some(DataMessage {
                        body: some_text(body),
                        attachments: attachments.iter().map(Attachment::to_proto).collect(),
                        profile,
                        profile_key,
                        ..DataMessage::default()
                    }),
                    ..base_content(sent_ms, Some(expiry.as_ref()))
                }
            }
            Self::Sync {
                target,
                body,
                attachments,
                expiry,
            } => {
                check_body(body, attachments)?;
                Content {
                    data_message: Some(DataMessage {
                        body: some_text(body),
                        attachments: attachments.iter().map(Attachment::to_proto).collect(),
                        sync_target: Some(target.to_hex()),
                        ..DataMessage::default()
                    }),
                    ..base_content(sent_ms, Some(expiry.as_ref()))
                }
            }
            Self::ExpiryUpdate {
                expiry,
                sync_target,
            } => Content {
                data_message: Some(DataMessage {
                    flags: Some(data_message::Flags::ExpirationTimerUpdate as u32),
                    sync_target: sync_target.map(|t| t.to_hex()),
                    ..DataMessage::default()
                }),
                ..base_content(sent_ms, Some(expiry.as_ref()))
            },
            Self::ReadReceipt { timestamps } => {
                if timestamps.is_empty() || timestamps.contains(&0) {
                    return Err(OutgoingError::EmptyReceipt);
                }
                Content {
                    receipt_message: Some(ReceiptMessage {
                        r#type: receipt_message::Type::Read as i32,
                        timestamp: timestamps.clone(),
                    }),
                    ..base_content(sent_ms, None)
                }
            }
            Self::Unsend {
                author,
                sent_ms: target_ms,
            } => {
                if *target_ms == 0 {
                    return Err(OutgoingError::ZeroUnsendTimestamp);
                }
                Content {
                    unsend_request: Some(UnsendRequest {
                        timestamp: *target_ms,
                        author: author.to_hex(),
                    }),
                    ..base_content(sent_ms, None)
                }
            }
            Self::AcceptRequest { profile } => {
                let (profile, profile_key) = profile
                    .as_ref()
                    .and_then(Profile::to_proto)
                    .map_or((None, None), |(p, k)| (Some(p), k));
                Content {
                    message_request_response: Some(MessageRequestResponse {
                        is_approved: true,
                        profile_key,
                        profile,
                    }),
                    ..base_content(sent_ms, None)
                }
            }
        };
        Ok(content)
    }

    /// Builds, signs and seals this message from `sender` to `recipient` (a `05` Session
    /// ID; oneself for a sync copy), sent at `sent_ms` (network time): the swarm payload
    /// with namespace 0, the TTL and the message hash. Uses a random ephemeral key and a
    /// random decoy `proSig`, as current clients do (§3.1 steps 5–6).
    ///
    /// # Errors
    /// As [`Outgoing::content`]; [`OutgoingError::Crypto`] if `recipient` is not a `05`
    /// id, its key is unusable, or the random generator fails.
    pub fn seal(
        &self,
        sender: &AccountKeys,
        recipient: &AccountId,
        sent_ms: u64,
    ) -> Result<SealedMessage, OutgoingError> {
        let content = encode_content(&self.content(sent_ms)?);
        let ciphertext = encrypt_for_recipient(sender, recipient, &content)?;
        let decoy = random_decoy_pro_sig()?;
        Ok(self.finish(recipient, sent_ms, &ciphertext, &decoy))
    }

    /// The deterministic twin of [`Outgoing::seal`] (tests and reproducible fixtures only):
    /// the sealed box uses Session's deterministic ephemeral key
    /// (`encrypt_for_recipient_deterministic`) and the decoy `proSig` is derived from the
    /// ciphertext, so equal inputs give equal bytes.
    ///
    /// # Errors
    /// As [`Outgoing::seal`].
    pub fn seal_deterministic(
        &self,
        sender: &AccountKeys,
        recipient: &AccountId,
        sent_ms: u64,
    ) -> Result<SealedMessage, OutgoingError> {
        let content = encode_content(&self.content(sent_ms)?);
        let ciphertext = encrypt_for_recipient_deterministic(sender, recipient, &content)?;
        let decoy = decoy_pro_sig(
            &blake2b::<64>(&[b"decoy proSig r", &ciphertext]),
            &blake2b::<64>(&[b"decoy proSig s", &ciphertext]),
        );
        Ok(self.finish(recipient, sent_ms, &ciphertext, &decoy))
    }

    /// [`Outgoing::seal`] for `recipient`, followed by the [`Outgoing::sync_copy`] sealed
    /// to the sender's own swarm when there is one (and the recipient is not oneself —
    /// Note to Self needs no copy). Store each in its `destination`'s swarm.
    ///
    /// # Errors
    /// As [`Outgoing::seal`].
    pub fn seal_with_sync(
        &self,
        sender: &AccountKeys,
        recipient: &AccountId,
        sent_ms: u64,
    ) -> Result<Vec<SealedMessage>, OutgoingError> {
        let own = sender.session_id();
        let mut out = vec![self.seal(sender, recipient, sent_ms)?];
        if *recipient != own
            && let Some(copy) = self.sync_copy(recipient)
        {
            out.push(copy.seal(sender, &own, sent_ms)?);
        }
        Ok(out)
    }

    fn finish(
        &self,
        destination: &AccountId,
        sent_ms: u64,
        ciphertext: &[u8],
        decoy: &[u8; 64],
    ) -> SealedMessage {
        let data = wrap_1o1(ciphertext, sent_ms, Some(decoy));
        let hash = message_hash(&StoragePubkey::from(*destination), DM_NAMESPACE, &data);
        SealedMessage {
            destination: *destination,
            namespace: DM_NAMESPACE,
            ttl_ms: self.ttl_ms(),
            sent_ms,
            data,
            hash,
        }
    }
}

/// A decoy Pro signature (§3.1 step 6): `R = r·B` for a scalar `r` and a second scalar
/// `s`, both reduced from 64 bytes — validly encoded, verifying against nothing.
fn decoy_pro_sig(r_wide: &[u8; 64], s_wide: &[u8; 64]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&scalarmult_base_noclamp(&reduce64(r_wide)));
    sig[32..].copy_from_slice(&reduce64(s_wide).to_bytes());
    sig
}

fn random_decoy_pro_sig() -> Result<[u8; 64], CryptoError> {
    Ok(decoy_pro_sig(&random_array()?, &random_array()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_wire::proto::session::content::ExpirationType;

    fn id(byte: u8) -> AccountId {
        AccountId::new(session_crypto::IdPrefix::Standard, [byte; 32])
    }

    #[test]
    fn text_content_fields() {
        let msg = Outgoing::Text {
            attachments: Vec::new(),
            body: "hi".into(),
            profile: Some(Profile::named("Alice")),
            expiry: Some(Expiry::after_send(60)),
        };
        let c = msg.content(1_700_000_000_123).unwrap();
        let dm = c.data_message.as_ref().unwrap();
        assert_eq!(dm.body.as_deref(), Some("hi"));
        assert_eq!(
            dm.profile.as_ref().unwrap().display_name.as_deref(),
            Some("Alice")
        );
        assert_eq!(dm.profile_key, None);
        assert_eq!(dm.sync_target, None);
        assert_eq!(dm.flags, None);
        assert_eq!(dm.timestamp, None);
        assert_eq!(c.sig_timestamp, Some(1_700_000_000_123));
        assert_eq!(
            c.expiration_type,
            Some(ExpirationType::DeleteAfterSend as i32)
        );
        assert_eq!(c.expiration_timer, Some(60));
        assert_eq!(msg.ttl_ms(), 60_000);
    }

    #[test]
    fn control_messages_do_not_disappear() {
        for msg in [
            Outgoing::ReadReceipt {
                timestamps: vec![1, 2],
            },
            Outgoing::Unsend {
                author: id(1),
                sent_ms: 5,
            },
            Outgoing::AcceptRequest { profile: None },
        ] {
            let c = msg.content(10).unwrap();
            assert_eq!(c.expiration_type, None);
            assert_eq!(c.expiration_timer, None);
            assert_eq!(c.sig_timestamp, Some(10));
            assert_eq!(msg.ttl_ms(), super::super::DEFAULT_TTL_MS);
        }
    }

    #[test]
    fn validation() {
        let text = |body: &str| Outgoing::Text {
            attachments: Vec::new(),
            body: body.into(),
            profile: None,
            expiry: None,
        };
        assert_eq!(text("x").content(0), Err(OutgoingError::ZeroTimestamp));
        assert_eq!(text("").content(1), Err(OutgoingError::EmptyBody));
        assert!(text(&"é".repeat(MAX_BODY_CHARS)).content(1).is_ok());
        assert_eq!(
            text(&"é".repeat(MAX_BODY_CHARS + 1)).content(1),
            Err(OutgoingError::BodyTooLong {
                chars: MAX_BODY_CHARS + 1,
                max: MAX_BODY_CHARS
            })
        );
        let zero = Outgoing::Text {
            attachments: Vec::new(),
            body: "x".into(),
            profile: None,
            expiry: Some(Expiry::after_read(0)),
        };
        assert_eq!(zero.content(1), Err(OutgoingError::ZeroExpiryTimer));
        assert_eq!(
            Outgoing::ReadReceipt { timestamps: vec![] }.content(1),
            Err(OutgoingError::EmptyReceipt)
        );
        assert_eq!(
            Outgoing::Unsend {
                author: id(1),
                sent_ms: 0
            }
            .content(1),
            Err(OutgoingError::ZeroUnsendTimestamp)
        );
    }

    #[test]
    fn sync_copies() {
        let bob = id(2);
        let text = Outgoing::Text {
            attachments: Vec::new(),
            body: "b".into(),
            profile: Some(Profile::named("A")),
            expiry: None,
        };
        assert_eq!(
            text.sync_copy(&bob),
            Some(Outgoing::Sync {
                attachments: Vec::new(),
                target: bob,
                body: "b".into(),
                expiry: None
            })
        );
        let upd = Outgoing::ExpiryUpdate {
            expiry: None,
            sync_target: None,
        };
        assert_eq!(
            upd.sync_copy(&bob),
            Some(Outgoing::ExpiryUpdate {
                expiry: None,
                sync_target: Some(bob)
            })
        );
        assert_eq!(
            Outgoing::ReadReceipt {
                timestamps: vec![1]
            }
            .sync_copy(&bob),
            None
        );
        assert_eq!(
            Outgoing::AcceptRequest { profile: None }.sync_copy(&bob),
            None
        );
    }

    #[test]
    fn decoy_is_a_valid_point_and_canonical_scalar() {
        let sig = random_decoy_pro_sig().unwrap();
        session_crypto::curve::decompress(sig[..32].try_into().unwrap(), "R").unwrap();
        // A reduced scalar is < L, so its top 4 bits are clear.
        assert_eq!(sig[63] & 0xf0, 0);
    }
}
