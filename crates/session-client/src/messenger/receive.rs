//! Polling: signed `retrieve` of our own swarm after the last hash seen, and applying
//! each message to the store. One member of the swarm is polled (pinned until it fails
//! or leaves the swarm) and last hashes are kept per member: members store concurrent
//! messages in different orders, so a hash learnt from one would make another skip
//! messages (the e2e benchmark lost up to 3% under concurrent sends before this). A message that fails to open is counted by reason
//! ([`RejectReason`]) and dropped; it never reaches the store nor an event, and it
//! never stops the poll.

use session_crypto::AccountId;

use super::rpc::{self, Retrieved};
use super::{Event, Messenger, POLLED_NAMESPACES};
use crate::Snode;
use crate::attachments::Attachment;
use crate::error::{ClientError, Result};
use crate::message::{Incoming, IncomingKind, Profile, Rejected, open_base64};
use crate::onion::SnodeReply;
use crate::rng::Rng;
use crate::store::{
    Contact, Direction, Inserted, NewMessage, RejectReason, RejectedCounts, StoredMessage,
};

/// How many swarm members one poll tries before it fails.
const POLL_ATTEMPTS: usize = 3;

/// What one poll found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages the swarm returned.
    pub retrieved: usize,
    /// New visible messages stored (received, or sent from another device).
    pub new_messages: Vec<StoredMessage>,
    /// Messages already known (or unsent before they arrived).
    pub duplicates: usize,
    /// Control messages applied: read receipts, unsends, acceptances, disappearing
    /// settings, and valid kinds this client does not show.
    pub control: usize,
    /// Messages dropped, by reason.
    pub rejected: RejectedCounts,
    /// Messages that disappeared locally because their timer ran out.
    pub expired: usize,
}

/// The counter a rejection goes under: forged or broken signatures, boxes we cannot
/// open, and everything else that is not a valid Session message.
pub fn reject_reason(r: &Rejected) -> RejectReason {
    match r {
        Rejected::BadSignature => RejectReason::BadSignature,
        Rejected::NotForUs => RejectReason::NotForUs,
        Rejected::V2Unsupported
        | Rejected::BadWrapper(_)
        | Rejected::TooShort { .. }
        | Rejected::BadContent(_)
        | Rejected::NoTimestamp
        | Rejected::TimestampMismatch { .. }
        | Rejected::ForeignSync { .. }
        | Rejected::UnsendNotByAuthor { .. }
        | Rejected::Invalid(_) => RejectReason::Malformed,
    }
}

impl Messenger {
    /// Polls every namespace the account uses once (following `more` up to
    /// [`rpc::MAX_PAGES_PER_POLL`] pages), applies what arrived, and deletes what
    /// expired. One poll runs at a time.
    ///
    /// # Errors
    /// Network errors, [`crate::ClientError::Rpc`] if the swarm refused the
    /// retrieve, store errors. Bad messages are not errors: see
    /// [`PollReport::rejected`].
    pub async fn fetch(&self) -> Result<PollReport> {
        let _one_at_a_time = self.inner.poll_lock.lock().await;
        let mut report = PollReport::default();
        for &ns in POLLED_NAMESPACES {
            self.poll_namespace(ns, &mut report).await?;
        }
        report.expired = self.delete_expired()?.len();
        Ok(report)
    }

    /// The swarm member to poll: the pinned one, else a random member not in `failed`
    /// (then pinned).
    async fn poll_node(&self, failed: &[[u8; 32]]) -> Result<Snode> {
        if let Some(n) = crate::store::lock(&self.inner.poll_node).clone() {
            return Ok(n);
        }
        let members: Vec<Snode> = self
            .client()
            .get_swarm(&self.session_id().to_hex())
            .await?
            .into_iter()
            .filter(|m| !failed.contains(&m.ed25519))
            .collect();
        let pick = Rng::from_entropy().below(members.len());
        let node = members
            .get(pick)
            .cloned()
            .ok_or_else(|| ClientError::Swarm {
                account: "own".into(),
                reason: format!(
                    "no member of our swarm is left to poll ({} failed just now)",
                    failed.len()
                ),
            })?;
        *crate::store::lock(&self.inner.poll_node) = Some(node.clone());
        Ok(node)
    }

    /// Polls one namespace at the pinned member; if that member fails or has left the
    /// swarm (421), at another (up to [`POLL_ATTEMPTS`] members, never one that just
    /// failed: the network may still list a stopped node).
    async fn poll_namespace(&self, ns: i16, report: &mut PollReport) -> Result<()> {
        let mut failed = Vec::new();
        loop {
            let node = self.poll_node(&failed).await?;
            let err = match self.poll_at(&node, ns, report).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let moved = matches!(err, ClientError::Rpc { status: 421, .. });
            if moved || err.is_path_failure() || matches!(err, ClientError::Exhausted { .. }) {
                *crate::store::lock(&self.inner.poll_node) = None;
                self.client().forget_swarm(&self.session_id().to_hex());
                failed.push(node.ed25519);
                if failed.len() < POLL_ATTEMPTS {
                    tracing::debug!(error = %err, "polling another swarm member");
                    continue;
                }
            }
            return Err(err);
        }
    }

    async fn retrieve(&self, node: &Snode, ns: i16, last: Option<&str>) -> Result<SnodeReply> {
        let params = rpc::retrieve_params(self.keys(), ns, self.now_ms(), last);
        self.client().snode_request(node, "retrieve", params).await
    }

    /// Reads `ns` at `node` after the last hash seen there, page by page.
    async fn poll_at(&self, node: &Snode, ns: i16, report: &mut PollReport) -> Result<()> {
        let me = self.session_id();
        for _ in 0..rpc::MAX_PAGES_PER_POLL {
            let last = self.store().last_hash(&me, &node.ed25519, ns)?;
            let mut reply = self.retrieve(node, ns, last.as_deref()).await?;
            if reply.status == 400 && last.is_some() {
                // A last hash the node refuses (damaged store, other format): start
                // over; duplicates are recognised.
                tracing::warn!(body = %reply.body, "the node refused our last hash; polling from the start");
                reply = self.retrieve(node, ns, None).await?;
            }
            let page = rpc::parse_retrieve(&rpc::expect_ok("retrieve", reply)?)?;
            report.retrieved += page.messages.len();
            for _ in 0..page.unusable {
                self.reject(
                    RejectReason::Malformed,
                    "retrieve entry without a hash or data".into(),
                    report,
                )?;
            }
            for m in &page.messages {
                self.process(m, report).await?;
            }
            if let Some(last) = page.messages.last() {
                self.store()
                    .set_last_hash(&me, &node.ed25519, ns, &last.hash)?;
            }
            if !page.more || page.messages.is_empty() {
                break;
            }
        }
        Ok(())
    }

    fn reject(&self, reason: RejectReason, detail: String, report: &mut PollReport) -> Result<()> {
        tracing::warn!(reason = reason.as_str(), %detail, "dropped a polled message");
        self.store().record_rejected(reason)?;
        *report.rejected.get_mut(reason) += 1;
        self.emit(Event::Rejected { reason, detail });
        Ok(())
    }

    async fn process(&self, m: &Retrieved, report: &mut PollReport) -> Result<()> {
        if self.store().message_by_hash(&m.hash)?.is_some() {
            report.duplicates += 1;
            return Ok(());
        }
        let msg = match open_base64(self.keys(), &m.data) {
            Ok(msg) => msg,
            Err(r) => return self.reject(reject_reason(&r), r.to_string(), report),
        };
        let me = self.session_id();
        let from_me = msg.sender == me;
        match &msg.kind {
            IncomingKind::Text {
                body,
                attachments,
                profile,
            } => {
                if !from_me {
                    self.note_profile(&msg.sender, profile.as_ref(), false)?;
                    if self
                        .store()
                        .contact(&msg.sender)?
                        .is_some_and(|c| c.blocked)
                    {
                        report.control += 1;
                        return Ok(());
                    }
                }
                // From ourselves (another device) it is Note to Self.
                let (conversation, direction) = if from_me {
                    (me, Direction::Outgoing)
                } else {
                    (msg.sender, Direction::Incoming)
                };
                let visible = (body.as_str(), attachments.as_slice());
                self.keep(&msg, m, conversation, direction, visible, report)?;
            }
            IncomingKind::Sync {
                target,
                body,
                attachments,
            } => {
                let visible = (body.as_str(), attachments.as_slice());
                self.keep(&msg, m, *target, Direction::Outgoing, visible, report)?;
            }
            IncomingKind::ExpiryUpdate { sync_target } => {
                report.control += 1;
                let peer = if from_me {
                    sync_target.unwrap_or(me)
                } else {
                    msg.sender
                };
                if self.store().set_disappearing(&peer, msg.expiry)? {
                    self.emit(Event::DisappearingChanged {
                        peer,
                        setting: msg.expiry,
                    });
                }
            }
            IncomingKind::ReadReceipt { timestamps } => {
                report.control += 1;
                if !from_me {
                    // Announced even when the messages are gone here (expired).
                    self.store().apply_read_receipt(&msg.sender, timestamps)?;
                    self.emit(Event::PeerRead {
                        peer: msg.sender,
                        sent_ms: timestamps.clone(),
                    });
                }
            }
            IncomingKind::Unsend { author, sent_ms } => {
                report.control += 1;
                let gone = self.store().apply_unsend(author, *sent_ms, self.now_ms())?;
                let hashes: Vec<&str> = gone
                    .iter()
                    .filter_map(|g| g.server_hash.as_deref())
                    .collect();
                // Our swarm's copies go too (the author cannot delete them: only we can).
                if let Err(e) = self.delete_from_swarm(&hashes).await {
                    tracing::warn!(error = %e, "could not delete unsent messages from our swarm");
                }
                if !gone.is_empty() {
                    self.emit(Event::Deleted {
                        messages: gone,
                        why: "unsent",
                    });
                }
            }
            IncomingKind::RequestAccepted { profile } => {
                report.control += 1;
                if !from_me {
                    self.note_profile(&msg.sender, profile.as_ref(), true)?;
                    self.emit(Event::RequestAccepted { peer: msg.sender });
                }
            }
            IncomingKind::Unsupported(_) => report.control += 1,
        }
        Ok(())
    }

    /// Stores a visible message.
    fn keep(
        &self,
        msg: &Incoming,
        m: &Retrieved,
        conversation: AccountId,
        direction: Direction,
        (body, attachments): (&str, &[Attachment]),
        report: &mut PollReport,
    ) -> Result<()> {
        let new = NewMessage {
            conversation,
            direction,
            sender: msg.sender,
            sent_ms: msg.sent_ms,
            received_ms: self.now_ms(),
            server_hash: Some(m.hash.clone()),
            body: body.to_owned(),
            attachments: attachments.to_vec(),
            expiry: msg.expiry,
        };
        match self.store().insert_message(&new)? {
            Inserted::New(id) => {
                if let Some(stored) = self.store().message(id)? {
                    self.emit(Event::Message(stored.clone()));
                    report.new_messages.push(stored);
                }
            }
            Inserted::Duplicate | Inserted::Unsent => report.duplicates += 1,
        }
        Ok(())
    }

    /// Remembers a peer's profile (and, for an acceptance, that they approved us).
    fn note_profile(
        &self,
        peer: &AccountId,
        profile: Option<&Profile>,
        approved_me: bool,
    ) -> Result<()> {
        let old = self.store().contact(peer)?;
        let mut c = old.clone().unwrap_or_else(|| Contact::new(*peer));
        if let Some(p) = profile {
            if let Some(name) = p.display_name.as_ref().filter(|n| !n.is_empty()) {
                c.display_name = Some(name.clone());
            }
            if p.picture.is_some() {
                c.profile_pic = p.picture.clone();
            }
        }
        c.approved_me |= approved_me;
        if old.as_ref() != Some(&c) {
            self.store().upsert_contact(&c)?;
        }
        Ok(())
    }
}
