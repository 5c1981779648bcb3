//! Everything the messenger writes to swarms: texts (with their sync copies), request
//! acceptances, unsends, disappearing-setting changes, read receipts, and the `delete`
//! and `expire` requests on our own swarm that go with them.

use std::collections::BTreeMap;

use session_crypto::AccountId;

use super::{Event, Messenger, rpc};
use crate::attachments::Attachment;
use crate::error::{ClientError, Result};
use crate::message::{Expiry, ExpiryMode, Outgoing, SealedMessage};
use crate::store::{Direction, Inserted, NewMessage, StoredMessage};

/// A text that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message as stored locally (its `server_hash` is the copy in our own swarm,
    /// the one an unsend deletes).
    pub message: StoredMessage,
    /// The hash of the copy in the recipient's swarm.
    pub recipient_hash: String,
    /// Whether the sync copy reached our own swarm (our other devices see it); a
    /// failure there does not fail the send.
    pub synced: bool,
}

impl Messenger {
    /// Stores one sealed message in its destination's swarm and checks the hash.
    pub(super) async fn deposit(&self, sealed: &SealedMessage) -> Result<()> {
        let reply = self
            .client()
            .swarm_request(
                &sealed.destination.to_hex(),
                "store",
                rpc::store_params(sealed),
            )
            .await?;
        let body = rpc::expect_ok("store", reply)?;
        rpc::check_stored(&body, sealed)
    }

    /// Stores the copies of one message: the first (to the recipient) must succeed;
    /// the others (sync copies) are attempted at the same time and reported.
    async fn deposit_all(&self, sealed: &[SealedMessage]) -> Result<bool> {
        let Some((first, rest)) = sealed.split_first() else {
            return Ok(true);
        };
        let sync = async {
            let mut all = true;
            for s in rest {
                if let Err(e) = self.deposit(s).await {
                    tracing::warn!(error = %e, "the copy for our own swarm was not stored");
                    all = false;
                }
            }
            all
        };
        let (main, synced) = tokio::join!(self.deposit(first), sync);
        main?;
        Ok(synced)
    }

    /// Sends a text to `to` (a Session ID; see [`Messenger::resolve_recipient`] for
    /// names): stored in `to`'s swarm with our profile and the conversation's
    /// disappearing setting, its sync copy in our own swarm, then kept locally.
    /// Writing to someone accepts the conversation (replying to a message request
    /// first sends the acceptance).
    ///
    /// # Errors
    /// [`ClientError::Message`] for an empty or too long text; network errors and
    /// [`ClientError::Rpc`] if the recipient's swarm did not take it (then nothing is
    /// kept locally).
    pub async fn send_text(&self, to: &AccountId, body: &str) -> Result<Sent> {
        self.send_visible(to, body, Vec::new()).await
    }

    /// [`Messenger::send_text`] with attachments (already uploaded; the text may then
    /// be empty).
    pub(super) async fn send_visible(
        &self,
        to: &AccountId,
        body: &str,
        attachments: Vec<Attachment>,
    ) -> Result<Sent> {
        let to = super::check_recipient(to)?;
        let me = self.session_id();
        // Replying to a message request accepts it, as Session clients do.
        if self.store().conversation(&to)?.is_some_and(|c| !c.accepted) {
            self.accept_request(&to).await?;
        }
        let expiry = self.store().disappearing(&to)?;
        let outgoing = Outgoing::Text {
            body: body.to_owned(),
            attachments: attachments.clone(),
            profile: self.settings().profile,
            expiry,
        };
        let sent_ms = self.next_sent_ms();
        let sealed = outgoing.seal_with_sync(self.keys(), &to, sent_ms)?;
        let recipient_hash = sealed.first().map(|s| s.hash.clone()).unwrap_or_default();
        // Our own swarm's copy: the sync copy, or (Note to Self) the message itself.
        let own_hash = sealed
            .iter()
            .find(|s| s.destination == me)
            .map(|s| s.hash.clone());
        let synced = self.deposit_all(&sealed).await?;
        let now = self.now_ms();
        let new = NewMessage {
            conversation: to,
            direction: Direction::Outgoing,
            sender: me,
            sent_ms,
            received_ms: now,
            server_hash: own_hash.clone(),
            body: body.to_owned(),
            attachments,
            expiry,
        };
        let message = match self.store().insert_message(&new)? {
            Inserted::New(id) => self.store().message(id)?,
            // The poller saw our sync copy first.
            Inserted::Duplicate | Inserted::Unsent => match &own_hash {
                Some(h) => self.store().message_by_hash(h)?,
                None => None,
            },
        }
        .ok_or_else(|| {
            ClientError::NotFound("the sent message vanished from the local store".into())
        })?;
        self.approve(&to)?;
        // An after-read message is read by its sender at once: shorten our copy too.
        if let (Some(e), Some(h)) = (expiry, &own_hash)
            && e.mode == ExpiryMode::AfterRead
            && let Some(at) = message.expires_at_ms
        {
            self.shorten(&[h.as_str()], at).await;
        }
        self.emit(Event::Message(message.clone()));
        Ok(Sent {
            message,
            recipient_hash,
            synced,
        })
    }

    /// Marks the contact approved (we wrote to them or accepted them).
    fn approve(&self, peer: &AccountId) -> Result<()> {
        if *peer == self.session_id() {
            return Ok(());
        }
        let mut c = self
            .store()
            .contact(peer)?
            .unwrap_or_else(|| crate::store::Contact::new(*peer));
        if !c.approved {
            c.approved = true;
            self.store().upsert_contact(&c)?;
        }
        Ok(())
    }

    /// Accepts the message request from `peer`: the conversation moves to the inbox and
    /// `peer` gets a `MessageRequestResponse` with our profile.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] if there is no conversation with `peer`; network errors
    /// if the acceptance could not be delivered (the conversation stays accepted here).
    pub async fn accept_request(&self, peer: &AccountId) -> Result<()> {
        if !self.store().accept_request(peer)? {
            return Err(ClientError::NotFound(format!(
                "no message request from {peer}; `session requests` lists them"
            )));
        }
        let msg = Outgoing::AcceptRequest {
            profile: self.settings().profile,
        };
        let sealed = msg.seal(self.keys(), peer, self.next_sent_ms())?;
        self.deposit(&sealed).await
    }

    /// Declines (deletes) the conversation with `peer` on this device; returns how many
    /// messages went with it. Nothing is sent.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] if there is no such conversation.
    pub fn decline_request(&self, peer: &AccountId) -> Result<usize> {
        if self.store().conversation(peer)?.is_none() {
            return Err(ClientError::NotFound(format!(
                "no conversation with {peer}"
            )));
        }
        Ok(self.store().delete_conversation(peer)?)
    }

    /// Finds a local message by its server hash.
    fn by_hash(&self, hash: &str) -> Result<StoredMessage> {
        self.store().message_by_hash(hash)?.ok_or_else(|| {
            ClientError::NotFound(format!(
                "no message with hash {hash} on this device; `session read <id>` shows the \
                 hashes"
            ))
        })
    }

    /// Deletes one of our messages for everyone: an `UnsendRequest` goes to the
    /// conversation and to our own swarm (our other devices), our swarm's copy is
    /// deleted with `delete`, and the message is deleted here. The recipient deletes its
    /// copy (locally and in its swarm) when it polls the request.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown hash; [`ClientError::NotAllowed`] for a
    /// message someone else wrote (use [`Messenger::delete_for_me`]); network errors if
    /// the request could not be delivered (then nothing is deleted).
    pub async fn unsend(&self, hash: &str) -> Result<StoredMessage> {
        let msg = self.by_hash(hash)?;
        if msg.direction != Direction::Outgoing {
            return Err(ClientError::NotAllowed(format!(
                "message {hash} was written by {}; only its author can unsend it (delete it \
                 on this device instead: `session delete <hash>`)",
                msg.sender
            )));
        }
        let me = self.session_id();
        let request = Outgoing::Unsend {
            author: me,
            sent_ms: msg.sent_ms,
        };
        let sealed = request.seal_with_sync(self.keys(), &msg.conversation, self.next_sent_ms())?;
        self.deposit_all(&sealed).await?;
        self.delete_from_swarm(&[hash]).await?;
        let now = self.now_ms();
        let gone = self.store().apply_unsend(&me, msg.sent_ms, now)?;
        self.emit(Event::Deleted {
            messages: gone,
            why: "unsent",
        });
        Ok(msg)
    }

    /// Deletes a message on this device only (the swarms and the peer keep theirs).
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown hash.
    pub fn delete_for_me(&self, hash: &str) -> Result<StoredMessage> {
        let msg = self.by_hash(hash)?;
        let gone = self.store().delete_for_me(msg.id)?;
        self.emit(Event::Deleted {
            messages: gone.into_iter().collect(),
            why: "deleted",
        });
        Ok(msg)
    }

    /// Deletes messages from our own swarm.
    pub(super) async fn delete_from_swarm(&self, hashes: &[&str]) -> Result<()> {
        if hashes.is_empty() {
            return Ok(());
        }
        let me = self.session_id().to_hex();
        let reply = self
            .client()
            .swarm_request(&me, "delete", rpc::delete_params(self.keys(), hashes))
            .await?;
        rpc::expect_ok("delete", reply).map(|_| ())
    }

    /// Shortens messages of our own swarm to expire at `expiry_ms` (best effort: the
    /// local copy disappears on time anyway, and the swarm's TTL is the upper bound).
    pub(super) async fn shorten(&self, hashes: &[&str], expiry_ms: u64) {
        let me = self.session_id().to_hex();
        let params = rpc::expire_shorten_params(self.keys(), hashes, expiry_ms);
        let res = self.client().swarm_request(&me, "expire", params).await;
        if let Err(e) = res.and_then(|r| rpc::expect_ok("expire", r)) {
            tracing::warn!(error = %e, "could not shorten the swarm's copies");
        }
    }

    /// Sets the disappearing-messages setting of the conversation with `peer` (`None`:
    /// off) and tells `peer` (and our other devices) with an expiry-timer update. The
    /// setting applies to messages sent from now on.
    ///
    /// # Errors
    /// [`ClientError::Message`] for a zero timer; network errors if `peer` could not be
    /// told (the setting is kept here).
    pub async fn set_disappearing(&self, peer: &AccountId, setting: Option<Expiry>) -> Result<()> {
        let peer = super::check_recipient(peer)?;
        if setting.is_some_and(|e| e.seconds == 0) {
            return Err(crate::message::OutgoingError::ZeroExpiryTimer.into());
        }
        let now = self.now_ms();
        self.store().open_conversation(&peer, now)?;
        self.store().set_disappearing(&peer, setting)?;
        self.emit(Event::DisappearingChanged { peer, setting });
        let update = Outgoing::ExpiryUpdate {
            expiry: setting,
            sync_target: None,
        };
        let sealed = update.seal_with_sync(self.keys(), &peer, self.next_sent_ms())?;
        self.deposit_all(&sealed).await.map(|_| ())
    }

    /// Marks every unread message from `peer` read: after-read timers start (and our
    /// swarm's copies are shortened to match), and if read receipts are on and the
    /// conversation is accepted (not a request), `peer` is told which messages were
    /// read. Returns the messages that were unread.
    ///
    /// # Errors
    /// Store errors. Network failures (receipt, expire) are logged, not returned: the
    /// messages are read either way.
    pub async fn mark_read(&self, peer: &AccountId) -> Result<Vec<StoredMessage>> {
        let now = self.now_ms();
        let read = self.store().mark_read(peer, crate::store::MAX_MS, now)?;
        if read.is_empty() {
            return Ok(read);
        }
        // After-read timers: one `expire` per distinct expiry.
        let mut by_expiry: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
        for m in &read {
            if let (Some(at), Some(h), Some(e)) = (m.expires_at_ms, &m.server_hash, m.expiry)
                && e.mode == ExpiryMode::AfterRead
            {
                by_expiry.entry(at).or_default().push(h.as_str());
            }
        }
        for (at, hashes) in &by_expiry {
            self.shorten(hashes, *at).await;
        }
        // No receipts to strangers: only once the conversation is accepted.
        let accepted = self.store().conversation(peer)?.is_some_and(|c| c.accepted);
        if self.settings().read_receipts && accepted && *peer != self.session_id() {
            let receipt = Outgoing::ReadReceipt {
                timestamps: read.iter().map(|m| m.sent_ms).collect(),
            };
            match receipt.seal(self.keys(), peer, self.next_sent_ms()) {
                Ok(sealed) => {
                    if let Err(e) = self.deposit(&sealed).await {
                        tracing::warn!(error = %e, "the read receipt was not delivered");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot build the read receipt"),
            }
        }
        Ok(read)
    }

    /// Deletes the messages whose disappearing timer ran out (locally; the swarms drop
    /// their copies by TTL or `expire`). Returns them.
    ///
    /// # Errors
    /// Store errors.
    pub fn delete_expired(&self) -> Result<Vec<StoredMessage>> {
        let gone = self.store().delete_expired(self.now_ms())?;
        if !gone.is_empty() {
            self.emit(Event::Deleted {
                messages: gone.clone(),
                why: "expired",
            });
        }
        Ok(gone)
    }
}
