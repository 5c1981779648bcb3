//! In-memory backend for fast tests: the same semantics as [`super::SqliteStore`],
//! nothing kept after drop. Collections are small in tests, so most look-ups scan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use session_crypto::AccountId;

use super::{
    ClientStore, Community, CommunityDmRecord, CommunityMessage, CommunityReaction,
    CommunityUpdate, Contact, Conversation, ConversationKind, Cursor, Direction, DmDirection,
    Expiry, Inserted, MessageId, NewCommunity, NewMessage, RejectReason, RejectedCounts, Result,
    StoredMessage, check_community_message, check_hash, check_i64, check_ms, check_new,
    check_opt_i64, expiry_when_read, initial_expiry, lock, sort_conversations,
};

#[derive(Debug, Clone)]
struct Server {
    pubkey: [u8; 32],
    direct: bool,
    blinded: Option<bool>,
    inbox_since: u64,
    outbox_since: u64,
}

#[derive(Debug, Clone)]
struct Room {
    name: String,
    info_updates: u64,
    seqno: u64,
    joined_ms: u64,
}

#[derive(Debug, Clone)]
struct Row {
    msg: StoredMessage,
    /// A tombstone: kept only so that a re-polled copy counts as a duplicate.
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Conv {
    accepted: bool,
    created_ms: u64,
    disappearing: Option<Expiry>,
}

#[derive(Debug, Default)]
struct Inner {
    last_id: i64,
    /// Every message and tombstone by id.
    messages: BTreeMap<i64, Row>,
    conversations: BTreeMap<AccountId, Conv>,
    contacts: BTreeMap<AccountId, Contact>,
    poll: BTreeMap<(AccountId, [u8; 32], i16), String>,
    /// Unsent `(author, sent_ms)` → when the unsend arrived.
    unsent: BTreeMap<(AccountId, u64), u64>,
    rejected: RejectedCounts,
    servers: BTreeMap<String, Server>,
    rooms: BTreeMap<(String, String), Room>,
    community_messages: BTreeMap<(String, String, u64), CommunityMessage>,
    /// `(server, outgoing, id)` → DM.
    dms: BTreeMap<(String, bool, u64), CommunityDmRecord>,
}

impl Inner {
    fn community_of(&self, base_url: &str, token: &str) -> Option<Community> {
        let server = self.servers.get(base_url)?;
        let room = self.rooms.get(&(base_url.to_owned(), token.to_owned()))?;
        Some(Community {
            base_url: base_url.to_owned(),
            pubkey: server.pubkey,
            direct: server.direct,
            blinded: server.blinded,
            token: token.to_owned(),
            name: room.name.clone(),
            info_updates: room.info_updates,
            seqno: room.seqno,
            inbox_since: server.inbox_since,
            outbox_since: server.outbox_since,
            joined_ms: room.joined_ms,
        })
    }

    fn live(&self, id: MessageId) -> Option<&Row> {
        self.messages.get(&id.0).filter(|r| !r.deleted)
    }

    fn live_in<'a>(&'a self, peer: &'a AccountId) -> impl Iterator<Item = &'a Row> + 'a {
        self.messages
            .values()
            .filter(move |r| !r.deleted && r.msg.conversation == *peer)
    }

    /// Turns a message into a tombstone; returns it as it was.
    fn tombstone(&mut self, id: i64) -> Option<StoredMessage> {
        let row = self.messages.get_mut(&id)?;
        if row.deleted {
            return None;
        }
        let was = row.msg.clone();
        row.deleted = true;
        row.msg.body.clear();
        row.msg.attachments.clear();
        row.msg.expires_at_ms = None;
        Some(was)
    }

    fn conversation(&self, peer: &AccountId, c: &Conv) -> Conversation {
        let last_message = self
            .live_in(peer)
            .max_by_key(|r| r.msg.cursor())
            .map(|r| r.msg.clone());
        let unread = self.live_in(peer).filter(|r| !r.msg.read).count() as u64;
        Conversation {
            peer: *peer,
            display_name: self
                .contacts
                .get(peer)
                .and_then(|ct| ct.display_name.clone()),
            accepted: c.accepted,
            unread,
            last_message,
            disappearing: c.disappearing,
            created_ms: c.created_ms,
        }
    }

    fn mark_read(&mut self, id: i64, now_ms: u64) -> Option<StoredMessage> {
        let row = self.messages.get_mut(&id)?;
        if row.deleted || row.msg.read || row.msg.direction != Direction::Incoming {
            return None;
        }
        row.msg.read = true;
        row.msg.expires_at_ms = expiry_when_read(row.msg.expiry, row.msg.expires_at_ms, now_ms);
        Some(row.msg.clone())
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ClientStore for MemoryStore {
    fn insert_message(&self, msg: &NewMessage) -> Result<Inserted> {
        check_new(msg)?;
        let mut g = lock(&self.inner);
        if g.unsent.contains_key(&(msg.sender, msg.sent_ms)) {
            return Ok(Inserted::Unsent);
        }
        if let Some(h) = &msg.server_hash
            && g.messages
                .values()
                .any(|r| r.msg.server_hash.as_deref() == Some(h))
        {
            return Ok(Inserted::Duplicate);
        }
        if let Some(row) = g.messages.values_mut().find(|r| {
            r.msg.conversation == msg.conversation
                && r.msg.sender == msg.sender
                && r.msg.sent_ms == msg.sent_ms
        }) {
            if row.msg.server_hash.is_none() {
                row.msg.server_hash.clone_from(&msg.server_hash);
            }
            return Ok(Inserted::Duplicate);
        }
        if !g.conversations.contains_key(&msg.conversation) {
            let accepted = msg.direction == Direction::Outgoing
                || g.contacts
                    .get(&msg.conversation)
                    .is_some_and(|c| c.approved);
            g.conversations.insert(
                msg.conversation,
                Conv {
                    accepted,
                    created_ms: msg.received_ms,
                    disappearing: None,
                },
            );
        }
        g.last_id += 1;
        let id = MessageId(g.last_id);
        let stored = StoredMessage {
            id,
            conversation: msg.conversation,
            direction: msg.direction,
            sender: msg.sender,
            sent_ms: msg.sent_ms,
            received_ms: msg.received_ms,
            server_hash: msg.server_hash.clone(),
            body: msg.body.clone(),
            read: msg.direction == Direction::Outgoing,
            peer_read: false,
            expiry: msg.expiry,
            expires_at_ms: initial_expiry(msg),
            attachments: msg.attachments.clone(),
        };
        g.messages.insert(
            id.0,
            Row {
                msg: stored,
                deleted: false,
            },
        );
        Ok(Inserted::New(id))
    }

    fn set_server_hash(&self, id: MessageId, hash: &str) -> Result<bool> {
        check_hash(hash)?;
        let mut g = lock(&self.inner);
        if g.messages
            .iter()
            .any(|(k, r)| *k != id.0 && r.msg.server_hash.as_deref() == Some(hash))
        {
            return Err(super::StoreError::Invalid {
                what: "server hash",
                reason: format!("{hash} belongs to another message"),
            });
        }
        match g.messages.get_mut(&id.0) {
            Some(r) if !r.deleted => {
                r.msg.server_hash = Some(hash.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        Ok(lock(&self.inner).live(id).map(|r| r.msg.clone()))
    }

    fn message_by_hash(&self, hash: &str) -> Result<Option<StoredMessage>> {
        let g = lock(&self.inner);
        Ok(g.messages
            .values()
            .find(|r| !r.deleted && r.msg.server_hash.as_deref() == Some(hash))
            .map(|r| r.msg.clone()))
    }

    fn messages_by_hash_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<StoredMessage>> {
        let g = lock(&self.inner);
        Ok(g.messages
            .values()
            .filter(|r| {
                !r.deleted
                    && r.msg
                        .server_hash
                        .as_deref()
                        .is_some_and(|h| h.starts_with(prefix))
            })
            .take(limit)
            .map(|r| r.msg.clone())
            .collect())
    }

    fn history(
        &self,
        peer: &AccountId,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>> {
        let g = lock(&self.inner);
        let mut all: Vec<StoredMessage> = g
            .live_in(peer)
            .filter(|r| before.is_none_or(|c| r.msg.cursor() < c))
            .map(|r| r.msg.clone())
            .collect();
        all.sort_by_key(StoredMessage::cursor);
        let skip = all.len().saturating_sub(limit);
        Ok(all.split_off(skip))
    }

    fn mark_read(
        &self,
        peer: &AccountId,
        up_to_sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>> {
        let mut g = lock(&self.inner);
        let mut ids: Vec<(Cursor, i64)> = g
            .live_in(peer)
            .filter(|r| {
                r.msg.direction == Direction::Incoming
                    && !r.msg.read
                    && r.msg.sent_ms <= up_to_sent_ms
            })
            .map(|r| (r.msg.cursor(), r.msg.id.0))
            .collect();
        ids.sort();
        Ok(ids
            .into_iter()
            .filter_map(|(_, id)| g.mark_read(id, now_ms))
            .collect())
    }

    fn mark_message_read(&self, id: MessageId, now_ms: u64) -> Result<Option<StoredMessage>> {
        Ok(lock(&self.inner).mark_read(id.0, now_ms))
    }

    fn apply_read_receipt(&self, peer: &AccountId, sent_ms: &[u64]) -> Result<usize> {
        let wanted: BTreeSet<u64> = sent_ms.iter().copied().collect();
        let mut g = lock(&self.inner);
        let mut n = 0;
        for r in g.messages.values_mut() {
            if !r.deleted
                && r.msg.conversation == *peer
                && r.msg.direction == Direction::Outgoing
                && !r.msg.peer_read
                && wanted.contains(&r.msg.sent_ms)
            {
                r.msg.peer_read = true;
                n += 1;
            }
        }
        Ok(n)
    }

    fn set_expiry(&self, id: MessageId, expires_at_ms: Option<u64>) -> Result<bool> {
        if let Some(t) = expires_at_ms {
            check_ms("expiry time", t)?;
        }
        let mut g = lock(&self.inner);
        match g.messages.get_mut(&id.0) {
            Some(r) if !r.deleted => {
                r.msg.expires_at_ms = expires_at_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_for_me(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        Ok(lock(&self.inner).tombstone(id.0))
    }

    fn apply_unsend(
        &self,
        author: &AccountId,
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>> {
        check_ms("sent time", sent_ms)?;
        check_ms("current time", now_ms)?;
        let mut g = lock(&self.inner);
        g.unsent.insert((*author, sent_ms), now_ms);
        let ids: Vec<i64> = g
            .messages
            .iter()
            .filter(|(_, r)| !r.deleted && r.msg.sender == *author && r.msg.sent_ms == sent_ms)
            .map(|(k, _)| *k)
            .collect();
        Ok(ids.into_iter().filter_map(|id| g.tombstone(id)).collect())
    }

    fn delete_expired(&self, now_ms: u64) -> Result<Vec<StoredMessage>> {
        let mut g = lock(&self.inner);
        let ids: Vec<i64> = g
            .messages
            .iter()
            .filter(|(_, r)| !r.deleted && r.msg.expires_at_ms.is_some_and(|t| t <= now_ms))
            .map(|(k, _)| *k)
            .collect();
        Ok(ids.into_iter().filter_map(|id| g.tombstone(id)).collect())
    }

    fn forget_deleted(&self, before_ms: u64) -> Result<usize> {
        let mut g = lock(&self.inner);
        let before = g.messages.len() + g.unsent.len();
        g.messages
            .retain(|_, r| !(r.deleted && r.msg.received_ms < before_ms));
        g.unsent.retain(|_, at| *at >= before_ms);
        Ok(before - g.messages.len() - g.unsent.len())
    }

    fn conversations(&self, kind: ConversationKind) -> Result<Vec<Conversation>> {
        let g = lock(&self.inner);
        let accepted = kind == ConversationKind::Accepted;
        let mut list: Vec<Conversation> = g
            .conversations
            .iter()
            .filter(|(_, c)| c.accepted == accepted)
            .map(|(peer, c)| g.conversation(peer, c))
            .collect();
        sort_conversations(&mut list);
        Ok(list)
    }

    fn conversation(&self, peer: &AccountId) -> Result<Option<Conversation>> {
        let g = lock(&self.inner);
        Ok(g.conversations.get(peer).map(|c| g.conversation(peer, c)))
    }

    fn open_conversation(&self, peer: &AccountId, now_ms: u64) -> Result<bool> {
        check_ms("current time", now_ms)?;
        let mut g = lock(&self.inner);
        if g.conversations.contains_key(peer) {
            return Ok(false);
        }
        g.conversations.insert(
            *peer,
            Conv {
                accepted: true,
                created_ms: now_ms,
                disappearing: None,
            },
        );
        Ok(true)
    }

    fn accept_request(&self, peer: &AccountId) -> Result<bool> {
        let mut g = lock(&self.inner);
        let Some(c) = g.conversations.get_mut(peer) else {
            return Ok(false);
        };
        c.accepted = true;
        g.contacts
            .entry(*peer)
            .or_insert_with(|| Contact::new(*peer))
            .approved = true;
        Ok(true)
    }

    fn delete_conversation(&self, peer: &AccountId) -> Result<usize> {
        let mut g = lock(&self.inner);
        g.conversations.remove(peer);
        let ids: Vec<i64> = g.live_in(peer).map(|r| r.msg.id.0).collect();
        Ok(ids.into_iter().filter_map(|id| g.tombstone(id)).count())
    }

    fn set_disappearing(&self, peer: &AccountId, setting: Option<Expiry>) -> Result<bool> {
        let mut g = lock(&self.inner);
        match g.conversations.get_mut(peer) {
            Some(c) => {
                c.disappearing = setting;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn disappearing(&self, peer: &AccountId) -> Result<Option<Expiry>> {
        Ok(lock(&self.inner)
            .conversations
            .get(peer)
            .and_then(|c| c.disappearing))
    }

    fn upsert_contact(&self, contact: &Contact) -> Result<()> {
        lock(&self.inner)
            .contacts
            .insert(contact.session_id, contact.clone());
        Ok(())
    }

    fn contact(&self, id: &AccountId) -> Result<Option<Contact>> {
        Ok(lock(&self.inner).contacts.get(id).cloned())
    }

    fn contacts(&self) -> Result<Vec<Contact>> {
        Ok(lock(&self.inner).contacts.values().cloned().collect())
    }

    fn last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
    ) -> Result<Option<String>> {
        Ok(lock(&self.inner)
            .poll
            .get(&(*account, *node, namespace))
            .cloned())
    }

    fn set_last_hash(
        &self,
        account: &AccountId,
        node: &[u8; 32],
        namespace: i16,
        hash: &str,
    ) -> Result<()> {
        check_hash(hash)?;
        lock(&self.inner)
            .poll
            .insert((*account, *node, namespace), hash.to_owned());
        Ok(())
    }

    fn record_rejected(&self, reason: RejectReason) -> Result<u64> {
        let mut g = lock(&self.inner);
        let n = g.rejected.get_mut(reason);
        *n = n.saturating_add(1);
        Ok(*n)
    }

    fn rejected_counts(&self) -> Result<RejectedCounts> {
        Ok(lock(&self.inner).rejected)
    }

    fn join_community(&self, room: &NewCommunity, now_ms: u64) -> Result<bool> {
        check_ms("join time", now_ms)?;
        check_i64("info_updates", room.info_updates)?;
        let mut g = lock(&self.inner);
        let server = g
            .servers
            .entry(room.base_url.clone())
            .or_insert_with(|| Server {
                pubkey: room.pubkey,
                direct: room.direct,
                blinded: room.blinded,
                inbox_since: 0,
                outbox_since: 0,
            });
        if server.pubkey != room.pubkey {
            server.pubkey = room.pubkey;
            server.inbox_since = 0;
            server.outbox_since = 0;
            server.blinded = None;
        }
        server.direct = room.direct;
        if room.blinded.is_some() {
            server.blinded = room.blinded;
        }
        let key = (room.base_url.clone(), room.token.clone());
        if let Some(r) = g.rooms.get_mut(&key) {
            r.name.clone_from(&room.name);
            return Ok(false);
        }
        g.rooms.insert(
            key,
            Room {
                name: room.name.clone(),
                info_updates: room.info_updates,
                seqno: 0,
                joined_ms: now_ms,
            },
        );
        Ok(true)
    }

    fn communities(&self) -> Result<Vec<Community>> {
        let g = lock(&self.inner);
        Ok(g.rooms
            .keys()
            .filter_map(|(b, t)| g.community_of(b, t))
            .collect())
    }

    fn community(&self, base_url: &str, token: &str) -> Result<Option<Community>> {
        Ok(lock(&self.inner).community_of(base_url, token))
    }

    fn leave_community(&self, base_url: &str, token: &str) -> Result<bool> {
        let mut g = lock(&self.inner);
        if g.rooms
            .remove(&(base_url.to_owned(), token.to_owned()))
            .is_none()
        {
            return Ok(false);
        }
        g.community_messages
            .retain(|(b, t, _), _| !(b == base_url && t == token));
        if !g.rooms.keys().any(|(b, _)| b == base_url) {
            g.servers.remove(base_url);
            g.dms.retain(|(b, _, _), _| b != base_url);
        }
        Ok(true)
    }

    fn update_community(
        &self,
        base_url: &str,
        token: &str,
        update: &CommunityUpdate,
    ) -> Result<bool> {
        check_opt_i64(&[
            ("info_updates", update.info_updates),
            ("seqno", update.seqno),
        ])?;
        let mut g = lock(&self.inner);
        let Some(r) = g.rooms.get_mut(&(base_url.to_owned(), token.to_owned())) else {
            return Ok(false);
        };
        if let Some(n) = &update.name {
            r.name.clone_from(n);
        }
        if let Some(v) = update.info_updates {
            r.info_updates = v;
        }
        if let Some(v) = update.seqno {
            r.seqno = v;
        }
        Ok(true)
    }

    fn set_community_blinded(&self, base_url: &str, blinded: bool) -> Result<bool> {
        let mut g = lock(&self.inner);
        Ok(g.servers
            .get_mut(base_url)
            .map(|s| s.blinded = Some(blinded))
            .is_some())
    }

    fn set_community_dm_cursors(
        &self,
        base_url: &str,
        inbox_since: Option<u64>,
        outbox_since: Option<u64>,
    ) -> Result<bool> {
        check_opt_i64(&[("inbox id", inbox_since), ("outbox id", outbox_since)])?;
        let mut g = lock(&self.inner);
        let Some(s) = g.servers.get_mut(base_url) else {
            return Ok(false);
        };
        if let Some(v) = inbox_since {
            s.inbox_since = v;
        }
        if let Some(v) = outbox_since {
            s.outbox_since = v;
        }
        Ok(true)
    }

    fn save_community_message(&self, msg: &CommunityMessage) -> Result<()> {
        check_community_message(msg)?;
        let mut g = lock(&self.inner);
        if g.rooms
            .contains_key(&(msg.base_url.clone(), msg.room.clone()))
        {
            g.community_messages.insert(
                (msg.base_url.clone(), msg.room.clone(), msg.id),
                msg.clone(),
            );
        }
        Ok(())
    }

    fn set_community_reactions(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
        seqno: u64,
        reactions: &[CommunityReaction],
    ) -> Result<bool> {
        check_i64("seqno", seqno)?;
        let mut g = lock(&self.inner);
        match g
            .community_messages
            .get_mut(&(base_url.to_owned(), token.to_owned(), id))
        {
            Some(m) => {
                m.seqno = seqno;
                m.reactions = reactions.to_vec();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn community_message(
        &self,
        base_url: &str,
        token: &str,
        id: u64,
    ) -> Result<Option<CommunityMessage>> {
        Ok(lock(&self.inner)
            .community_messages
            .get(&(base_url.to_owned(), token.to_owned(), id))
            .cloned())
    }

    fn community_messages(
        &self,
        base_url: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<CommunityMessage>> {
        let g = lock(&self.inner);
        let mut out: Vec<CommunityMessage> = g
            .community_messages
            .values()
            .rev()
            .filter(|m| m.base_url == base_url && m.room == token && !m.deleted)
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        Ok(out)
    }

    fn save_community_dm(&self, dm: &CommunityDmRecord) -> Result<bool> {
        check_ms("posted time", dm.posted_ms)?;
        check_i64("DM id", dm.id)?;
        let mut g = lock(&self.inner);
        if !g.servers.contains_key(&dm.base_url) {
            return Ok(false);
        }
        let key = (
            dm.base_url.clone(),
            dm.direction == DmDirection::Outbox,
            dm.id,
        );
        if g.dms.contains_key(&key) {
            return Ok(false);
        }
        g.dms.insert(key, dm.clone());
        Ok(true)
    }

    fn community_dms(&self, base_url: &str, limit: usize) -> Result<Vec<CommunityDmRecord>> {
        let g = lock(&self.inner);
        let mut all: Vec<&CommunityDmRecord> =
            g.dms.values().filter(|d| d.base_url == base_url).collect();
        all.sort_by_key(|d| (d.posted_ms, d.direction == DmDirection::Outbox, d.id));
        let skip = all.len().saturating_sub(limit);
        Ok(all.into_iter().skip(skip).cloned().collect())
    }
}
