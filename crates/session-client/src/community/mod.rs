//! Communities: rooms on community servers (SOGS), as Session clients use them
//! (community-server §3–§6, client-protocol §4).
//!
//! * [`url`]: join URLs (`{base}/{token}?public_key=…`) and server addresses.
//! * [`api`]: one signed request to a server, directly or through an onion path.
//! * [`message`]: the message bodies: building a post, reading and verifying one.
//! * [`CommunityClient`]: one account on one server — join a room, poll (one signed
//!   `/batch` for capabilities, room info, new messages and DMs), post, react,
//!   delete, and DM a blinded id; what it learns goes into the local store
//!   ([`crate::store::ClientStore`]'s community methods).
//!
//! Every request is signed with the account's blind15 key for that server, so the
//! server never learns the Account ID — unless the server does not advertise the
//! `blind` capability, in which case the plain key (`00`) is used, as desktop does.
//! Each request gets a fresh random nonce.
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_client::ClientError> {
//! use std::sync::Arc;
//! use session_client::community::{CommunityClient, JoinUrl, Route};
//! use session_client::store::MemoryStore;
//! use session_crypto::AccountKeys;
//! let url: JoinUrl = "http://127.0.0.1:8080/lobby?public_key=\
//!     a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238".parse()?;
//! let client = CommunityClient::new(
//!     AccountKeys::generate()?,
//!     url.server.clone(),
//!     url.pubkey,
//!     Route::Direct,
//!     Arc::new(MemoryStore::new()),
//!     session_rt::SystemClock::shared(),
//! );
//! client.join(&url.room).await?;
//! client.post(&url.room, "hello").await?;
//! client.poll().await?;
//! for m in client.messages(&url.room, 20)? {
//!     println!("{}: {}", m.sender, m.body);
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::blinding::BlindedKeypair;
use session_crypto::community_dm::{decrypt_inbox, decrypt_outbox, encrypt_for_blinded_recipient};
use session_crypto::sogs_auth::SogsAuthMode;
use session_crypto::{AccountId, AccountKeys, IdPrefix};
use session_rt::Clock;

use crate::attachments::{Attachment, MAX_UPLOAD, NewFile, Progress, Stage};
use crate::error::{ClientError, Result};
use crate::store::{
    ClientStore, Community, CommunityDmRecord, CommunityMessage, CommunityUpdate, DmDirection,
    MessageStatus, NewCommunity,
};

pub mod api;
pub mod message;
pub mod url;

pub use api::{ApiReply, ApiRequest, Route};
pub use message::ListedMessage;
pub use url::{JoinUrl, ServerUrl, canonical_room, parse_join_url};

/// Messages asked for per listing (the server's default and clients' page size).
const PAGE: usize = 100;
/// Pages of `/messages/since` fetched per room and poll at most.
const MAX_PAGES: usize = 20;
/// DMs asked for per listing.
const DM_PAGE: usize = 100;

/// A room's info (community-server §6.1), the fields this client uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomInfo {
    /// The token, as the server stores it.
    pub token: String,
    /// The display name.
    pub name: String,
    /// The description, if any.
    pub description: Option<String>,
    /// Bumped on every change of name, description, image, pins or moderators.
    pub info_updates: u64,
    /// The room's message sequence counter.
    pub message_sequence: u64,
    /// Users active recently.
    pub active_users: u64,
    /// Whether this account may read.
    pub read: bool,
    /// Whether this account may post.
    pub write: bool,
    /// Whether this account may upload files.
    pub upload: bool,
    /// Visible moderators.
    pub moderators: Vec<String>,
    /// Visible admins.
    pub admins: Vec<String>,
}

impl RoomInfo {
    /// Reads a room-info object.
    ///
    /// # Errors
    /// [`ClientError::BadReply`] without a `token` or `name`.
    pub fn from_json(v: &Value) -> Result<Self> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let num = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let bad = |what: &str| ClientError::BadReply {
            what: "room info",
            reason: format!("no {what}"),
        };
        Ok(Self {
            token: text("token").ok_or_else(|| bad("token"))?,
            name: text("name").ok_or_else(|| bad("name"))?,
            description: text("description"),
            info_updates: num("info_updates"),
            message_sequence: num("message_sequence"),
            active_users: num("active_users"),
            read: flag("read"),
            write: flag("write"),
            upload: flag("upload"),
            moderators: strings(v, "moderators"),
            admins: strings(v, "admins"),
        })
    }
}

/// What one [`CommunityClient::poll`] brought.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages not seen before.
    pub new_messages: usize,
    /// Known messages that changed (edited, deleted, reactions).
    pub changed_messages: usize,
    /// New messages that failed their checks (bad signature or undecodable).
    pub bad_messages: usize,
    /// DMs not seen before (both directions).
    pub new_dms: usize,
    /// What failed without failing the whole poll (a room refused, …).
    pub errors: Vec<String>,
    /// Whether the server answered one `/batch` (false: it has none, and each listing
    /// was a request of its own).
    pub batched: bool,
}

/// One sub-request's answer (from `/batch`, or a single request when the server has
/// no `/batch`).
#[derive(Clone, Debug)]
struct SubReply {
    code: u16,
    body: Value,
}

/// Which listing a poll sub-request is.
#[derive(Clone, Debug)]
enum Want {
    Capabilities,
    PollInfo(String),
    Messages { room: String, since: Option<u64> },
    Dms(DmDirection),
}

/// One account on one community server (see the module documentation).
#[derive(Debug)]
pub struct CommunityClient {
    keys: AccountKeys,
    server: ServerUrl,
    base_url: String,
    pubkey: [u8; 32],
    route: Route,
    store: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    display_name: Option<String>,
    mode: Mutex<Option<SogsAuthMode>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CommunityClient {
    /// A client for the server at `server` with X25519 key `pubkey`, reached over
    /// `route`, keeping what it learns in `store`. `clock` gives the time signatures
    /// carry on the direct route (the onion route uses the network's time).
    pub fn new(
        keys: AccountKeys,
        server: ServerUrl,
        pubkey: [u8; 32],
        route: Route,
        store: Arc<dyn ClientStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let base_url = server.base_url();
        // What the store knows about blinding (if this key is the one it knows).
        let mode = store.communities().ok().and_then(|list| {
            list.into_iter()
                .find(|c| c.base_url == base_url && c.pubkey == pubkey)
                .and_then(|c| c.blinded)
                .map(mode_of)
        });
        Self {
            keys,
            server,
            base_url,
            pubkey,
            route,
            store,
            clock,
            display_name: None,
            mode: Mutex::new(mode),
        }
    }

    /// A client for the server of a joined room, over `route`.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] if the stored base URL does not parse.
    pub fn for_community(
        keys: AccountKeys,
        community: &Community,
        route: Route,
        store: Arc<dyn ClientStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let server = ServerUrl::parse(&community.base_url)?;
        Ok(Self::new(
            keys,
            server,
            community.pubkey,
            route,
            store,
            clock,
        ))
    }

    /// Sends this display name with posts and DMs.
    #[must_use]
    pub fn with_display_name(mut self, name: Option<String>) -> Self {
        self.display_name = name.filter(|n| !n.trim().is_empty());
        self
    }

    /// The server's canonical base URL (its name in the store).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server's X25519 key.
    pub fn server_pubkey(&self) -> &[u8; 32] {
        &self.pubkey
    }

    /// The route requests take.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The local store.
    pub fn store(&self) -> &Arc<dyn ClientStore> {
        &self.store
    }

    /// This account's blind15 id on this server (what others see and DM).
    pub fn blinded_id(&self) -> AccountId {
        BlindedKeypair::blind15(self.keys.ed25519(), &self.pubkey).account_id()
    }

    /// The id this account signs with here: the blind15 id, or `05…` Session ID when
    /// the server does not use blinding (as the server lists such posters).
    pub fn own_id(&self) -> AccountId {
        match *lock(&self.mode) {
            Some(SogsAuthMode::Unblinded) => self.keys.session_id(),
            _ => self.blinded_id(),
        }
    }

    /// The join URL of a room on this server.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] for a bad token.
    pub fn join_url(&self, room: &str) -> Result<JoinUrl> {
        JoinUrl::new(self.server.clone(), room, self.pubkey)
    }

    /// The current time, ms: the network's time on the onion route, the clock's
    /// otherwise.
    pub fn now_ms(&self) -> u64 {
        match &self.route {
            Route::Direct => self.clock.now_ms(),
            Route::Onion(c) => c.network_now_ms(),
        }
    }

    fn set_mode(&self, capabilities: &[String]) {
        let blinded = capabilities.iter().any(|c| c == "blind");
        *lock(&self.mode) = Some(mode_of(blinded));
        // Remembered for joined rooms only (unknown servers: no-op).
        let _ = self.store.set_community_blinded(&self.base_url, blinded);
    }

    /// How requests are signed here, asking the server's capabilities once if unknown.
    ///
    /// # Errors
    /// As [`CommunityClient::capabilities`].
    pub async fn auth_mode(&self) -> Result<SogsAuthMode> {
        if let Some(m) = *lock(&self.mode) {
            return Ok(m);
        }
        self.capabilities().await?;
        Ok(lock(&self.mode).unwrap_or(SogsAuthMode::Blind15))
    }

    /// Sends a request signed by this account.
    ///
    /// # Errors
    /// Network errors; a refusal is an answer ([`ApiReply::status`]), not an error.
    pub async fn request(&self, req: &ApiRequest) -> Result<ApiReply> {
        let mode = self.auth_mode().await?;
        let signer = api::Signer {
            keys: self.keys.ed25519(),
            mode,
            server_pk: &self.pubkey,
            now_secs: self.now_ms() / 1000,
        };
        api::send(&self.route, &self.server, &self.pubkey, req, Some(signer)).await
    }

    /// Sends an unsigned request.
    ///
    /// # Errors
    /// Network errors.
    pub async fn request_anonymous(&self, req: &ApiRequest) -> Result<ApiReply> {
        api::send(&self.route, &self.server, &self.pubkey, req, None).await
    }

    /// A signed request that must succeed; its JSON answer.
    async fn call(&self, what: impl FnOnce() -> String, req: &ApiRequest) -> Result<Value> {
        let reply = self.request(req).await?;
        self.check(what, &reply)?;
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        reply.json()
    }

    fn check(&self, what: impl FnOnce() -> String, reply: &ApiReply) -> Result<()> {
        if reply.is_success() {
            return Ok(());
        }
        Err(ClientError::Community {
            server: self.base_url.clone(),
            what: what(),
            status: reply.status,
            body: reply.text(),
        })
    }

    /// The server's capabilities (`GET /capabilities`, unsigned); also decides how
    /// requests are signed.
    ///
    /// # Errors
    /// Network errors, a refusal, or an unreadable answer.
    pub async fn capabilities(&self) -> Result<Vec<String>> {
        let reply = self
            .request_anonymous(&ApiRequest::get("/capabilities"))
            .await?;
        self.check(|| "list its capabilities".into(), &reply)?;
        let caps = caps_of(&reply.json()?);
        self.set_mode(&caps);
        Ok(caps)
    }

    /// A room's info (`GET /room/{token}`, signed).
    ///
    /// # Errors
    /// A refusal (404: no such room or not accessible), network errors.
    pub async fn room_info(&self, room: &str) -> Result<RoomInfo> {
        let room = canonical_room(room)?;
        let v = self
            .call(
                || format!("show room {room:?}"),
                &ApiRequest::get(format!("/room/{room}")),
            )
            .await?;
        RoomInfo::from_json(&v)
    }

    /// Joins a room: asks the capabilities and the room's info, and remembers the room
    /// (and how to reach its server) in the store. Messages come with the next
    /// [`CommunityClient::poll`].
    ///
    /// # Errors
    /// A refusal (404: no such room), network errors, store errors.
    pub async fn join(&self, room: &str) -> Result<(Community, RoomInfo)> {
        let room = canonical_room(room)?;
        let caps = self.capabilities().await?;
        let info = self.room_info(&room).await?;
        self.store.join_community(
            &NewCommunity {
                base_url: self.base_url.clone(),
                pubkey: self.pubkey,
                direct: matches!(self.route, Route::Direct),
                blinded: Some(caps.iter().any(|c| c == "blind")),
                token: room.clone(),
                name: info.name.clone(),
                info_updates: info.info_updates,
            },
            self.now_ms(),
        )?;
        let community = self
            .store
            .community(&self.base_url, &room)?
            .ok_or_else(|| ClientError::NotFound(format!("room {room} vanished from the store")))?;
        Ok((community, info))
    }

    /// Forgets a joined room (nothing is sent to the server). False if not joined.
    ///
    /// # Errors
    /// Store errors.
    pub fn leave(&self, room: &str) -> Result<bool> {
        Ok(self.store.leave_community(&self.base_url, room)?)
    }

    /// The newest `limit` messages of a joined room in the store, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn messages(&self, room: &str, limit: usize) -> Result<Vec<CommunityMessage>> {
        Ok(self.store.community_messages(&self.base_url, room, limit)?)
    }

    /// The newest `limit` DMs with this server's users in the store, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn dms(&self, limit: usize) -> Result<Vec<CommunityDmRecord>> {
        Ok(self.store.community_dms(&self.base_url, limit)?)
    }

    /// Polls every joined room of this server, and the DM inbox and outbox, with one
    /// signed `POST /batch` (falling back to one request each when the server has no
    /// `/batch`), and stores what changed.
    ///
    /// # Errors
    /// Network errors, a refused batch, store errors. A room the server refuses is
    /// reported in [`PollReport::errors`].
    pub async fn poll(&self) -> Result<PollReport> {
        let rooms: Vec<Community> = self
            .store
            .communities()?
            .into_iter()
            .filter(|c| c.base_url == self.base_url)
            .collect();
        let mode = self.auth_mode().await?;
        let blinded = mode != SogsAuthMode::Unblinded;
        let mut wants = vec![(Want::Capabilities, "/capabilities".to_owned())];
        for c in &rooms {
            let t = &c.token;
            wants.push((
                Want::PollInfo(t.clone()),
                format!("/room/{t}/pollInfo/{}", c.info_updates),
            ));
            let (since, path) = if c.seqno == 0 {
                (
                    None,
                    format!("/room/{t}/messages/recent?limit={PAGE}&reactors=5"),
                )
            } else {
                (
                    Some(c.seqno),
                    format!("/room/{t}/messages/since/{}?t=r&reactors=5", c.seqno),
                )
            };
            wants.push((
                Want::Messages {
                    room: t.clone(),
                    since,
                },
                path,
            ));
        }
        if blinded && let Some(first) = rooms.first() {
            for (dir, name, since) in [
                (DmDirection::Inbox, "inbox", first.inbox_since),
                (DmDirection::Outbox, "outbox", first.outbox_since),
            ] {
                let path = if since == 0 {
                    format!("/{name}?limit={DM_PAGE}")
                } else {
                    format!("/{name}/since/{since}?limit={DM_PAGE}")
                };
                wants.push((Want::Dms(dir), path));
            }
        }
        let paths: Vec<String> = wants.iter().map(|(_, p)| p.clone()).collect();
        let (replies, batched) = self.batch(&paths).await?;

        let mut report = PollReport {
            batched,
            ..PollReport::default()
        };
        for ((want, path), reply) in wants.iter().zip(replies) {
            if reply.code == 304 {
                continue;
            }
            if !(200..300).contains(&reply.code) {
                report.errors.push(format!(
                    "GET {path}: HTTP {}{}",
                    reply.code,
                    reply
                        .body
                        .as_str()
                        .and_then(message::b64)
                        .map(|b| format!(": {}", api::short_text(&b)))
                        .unwrap_or_default()
                ));
                continue;
            }
            match want {
                Want::Capabilities => self.set_mode(&caps_of(&reply.body)),
                Want::PollInfo(room) => self.apply_poll_info(room, &reply.body)?,
                Want::Messages { room, since } => {
                    let mut list = reply.body;
                    let mut since = *since;
                    for _ in 0..MAX_PAGES {
                        let n = self.apply_messages(room, &list, &mut report)?;
                        let Some(s) = since else { break };
                        if n < PAGE {
                            break;
                        }
                        // A full page: more may follow.
                        let next = self
                            .store
                            .community(&self.base_url, room)?
                            .map_or(s, |c| c.seqno);
                        if next <= s {
                            break;
                        }
                        since = Some(next);
                        list = self
                            .call(
                                || format!("list the messages of room {room:?}"),
                                &ApiRequest::get(format!(
                                    "/room/{room}/messages/since/{next}?t=r&reactors=5"
                                )),
                            )
                            .await?;
                    }
                }
                Want::Dms(dir) => self.apply_dms(*dir, &reply.body, &mut report)?,
            }
        }
        Ok(report)
    }

    /// Runs GET sub-requests as one `/batch`, or one by one if the server has none.
    /// Also says whether it was one `/batch`.
    async fn batch(&self, paths: &[String]) -> Result<(Vec<SubReply>, bool)> {
        let subs: Vec<Value> = paths
            .iter()
            .map(|p| json!({"method": "GET", "path": p}))
            .collect();
        let reply = self
            .request(&ApiRequest::json("POST", "/batch", &Value::Array(subs)))
            .await?;
        if reply.status == 404 || reply.status == 405 {
            let mut out = Vec::with_capacity(paths.len());
            for p in paths {
                let r = self.request(&ApiRequest::get(p.clone())).await?;
                let body = if r.body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&r.body)
                        .unwrap_or_else(|_| Value::String(STANDARD.encode(&r.body)))
                };
                out.push(SubReply {
                    code: r.status,
                    body,
                });
            }
            return Ok((out, false));
        }
        self.check(|| "answer a poll (/batch)".into(), &reply)?;
        let list = reply.json()?;
        let items = list.as_array().ok_or_else(|| ClientError::BadReply {
            what: "/batch answer",
            reason: "not a JSON array".into(),
        })?;
        if items.len() != paths.len() {
            return Err(ClientError::BadReply {
                what: "/batch answer",
                reason: format!("{} answers to {} requests", items.len(), paths.len()),
            });
        }
        let replies = items
            .iter()
            .map(|i| SubReply {
                code: i
                    .get("code")
                    .and_then(Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(500),
                body: i.get("body").cloned().unwrap_or(Value::Null),
            })
            .collect();
        Ok((replies, true))
    }

    fn apply_poll_info(&self, room: &str, v: &Value) -> Result<()> {
        let Some(details) = v.get("details") else {
            return Ok(());
        };
        let info = RoomInfo::from_json(details)?;
        self.store.update_community(
            &self.base_url,
            room,
            &CommunityUpdate {
                name: Some(info.name),
                info_updates: Some(info.info_updates),
                seqno: None,
            },
        )?;
        Ok(())
    }

    /// Stores a message listing; returns how many entries it had.
    fn apply_messages(&self, room: &str, list: &Value, report: &mut PollReport) -> Result<usize> {
        let Some(items) = list.as_array() else {
            report
                .errors
                .push(format!("room {room}: the message list is not a JSON array"));
            return Ok(0);
        };
        let Some(current) = self.store.community(&self.base_url, room)? else {
            return Ok(items.len());
        };
        let mut max_seqno = current.seqno;
        for item in items {
            let listed = match message::read_message(&self.base_url, room, item) {
                Ok(l) => l,
                Err(e) => {
                    report.errors.push(format!("room {room}: {e}"));
                    continue;
                }
            };
            max_seqno = max_seqno.max(listed.seqno());
            match listed {
                ListedMessage::Full(m) => {
                    let known = self.store.community_message(&self.base_url, room, m.id)?;
                    match &known {
                        Some(k) if k.seqno >= m.seqno => continue,
                        Some(_) => report.changed_messages += 1,
                        None if m.deleted => {}
                        None => {
                            report.new_messages += 1;
                            if m.status != MessageStatus::Valid {
                                report.bad_messages += 1;
                            }
                        }
                    }
                    self.store.save_community_message(&m)?;
                }
                ListedMessage::Reactions {
                    id,
                    seqno,
                    reactions,
                } => {
                    if self.store.set_community_reactions(
                        &self.base_url,
                        room,
                        id,
                        seqno,
                        &reactions,
                    )? {
                        report.changed_messages += 1;
                    }
                }
            }
        }
        if max_seqno > current.seqno {
            self.store.update_community(
                &self.base_url,
                room,
                &CommunityUpdate {
                    seqno: Some(max_seqno),
                    ..CommunityUpdate::default()
                },
            )?;
        }
        Ok(items.len())
    }

    fn apply_dms(&self, dir: DmDirection, list: &Value, report: &mut PollReport) -> Result<()> {
        let Some(items) = list.as_array() else {
            return Ok(());
        };
        let mut max_id = 0;
        for item in items {
            let Some(dm) = self.read_dm(dir, item) else {
                report.errors.push(format!("unreadable {dir:?} entry"));
                continue;
            };
            max_id = max_id.max(dm.id);
            if self.store.save_community_dm(&dm)? {
                report.new_dms += 1;
            }
        }
        if max_id > 0 {
            let (inbox, outbox) = match dir {
                DmDirection::Inbox => (Some(max_id), None),
                DmDirection::Outbox => (None, Some(max_id)),
            };
            self.store
                .set_community_dm_cursors(&self.base_url, inbox, outbox)?;
        }
        Ok(())
    }

    /// Reads (and decrypts) one `/inbox` or `/outbox` entry; `None` without an id,
    /// ids or time.
    fn read_dm(&self, dir: DmDirection, v: &Value) -> Option<CommunityDmRecord> {
        let id = v.get("id")?.as_u64()?;
        let posted = v.get("posted_at")?.as_f64()?;
        let sender: AccountId = v.get("sender")?.as_str()?.parse().ok()?;
        let recipient: AccountId = v.get("recipient")?.as_str()?.parse().ok()?;
        let posted_ms = if posted.is_finite() && posted >= 0.0 {
            // Unix seconds as float → ms.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let ms = (posted * 1000.0).round() as u64;
            ms
        } else {
            0
        };
        let peer = match dir {
            DmDirection::Inbox => sender,
            DmDirection::Outbox => recipient,
        };
        let mut rec = CommunityDmRecord {
            base_url: self.base_url.clone(),
            id,
            direction: dir,
            peer,
            sender_session_id: None,
            posted_ms,
            body: String::new(),
            display_name: None,
            status: MessageStatus::Malformed,
        };
        let Some(blob) = v
            .get("message")
            .and_then(Value::as_str)
            .and_then(message::b64)
        else {
            return Some(rec);
        };
        let me = self.keys.ed25519();
        let opened = match dir {
            DmDirection::Inbox => decrypt_inbox(me, &self.pubkey, &sender, &blob),
            DmDirection::Outbox => decrypt_outbox(me, &self.pubkey, &recipient, &blob),
        };
        let Ok(dm) = opened else {
            return Some(rec);
        };
        rec.sender_session_id = Some(dm.sender_session_id);
        if let Some(t) = message::decode_text(&dm.message) {
            rec.body = t.body;
            rec.display_name = t.display_name;
            rec.status = MessageStatus::Valid;
        }
        Some(rec)
    }

    /// Posts a text to a room (`POST /room/{t}/message`) and stores it.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] for an empty or too long text; a refusal (403: no
    /// write permission, 429: rate limited, 404: no such room), network errors.
    pub async fn post(&self, room: &str, text: &str) -> Result<CommunityMessage> {
        message::check_text(text)?;
        self.post_message(room, text, &[]).await
    }

    /// Uploads `files` to the room (`POST /room/{t}/file`, in plaintext: everyone who
    /// can read the room can read them, as with Session clients) and posts them with an
    /// optional caption; the server keeps the files as long as the post.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] for a file over [`MAX_UPLOAD`](crate::attachments::MAX_UPLOAD)
    /// or a too long caption; a refusal (403: no upload permission, 413: too large),
    /// network errors. Files uploaded before a failure expire within the hour.
    pub async fn post_files(
        &self,
        room: &str,
        text: &str,
        files: &[NewFile],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<CommunityMessage> {
        if !text.is_empty() {
            message::check_text(text)?;
        }
        if files.is_empty() {
            return self.post(room, text).await;
        }
        let room = canonical_room(room)?;
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            attachments.push(self.upload_file(&room, file, progress).await?);
        }
        self.post_message(&room, text, &attachments).await
    }

    /// Uploads one file to a room; the pointer to post.
    async fn upload_file(
        &self,
        room: &str,
        file: &NewFile,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Attachment> {
        let size = file.data.len();
        if size > MAX_UPLOAD {
            return Err(ClientError::BadInput {
                what: "attachment",
                reason: format!(
                    "the file is {size} bytes; community files can be at most {MAX_UPLOAD}"
                ),
            });
        }
        progress(Progress::new(Stage::Uploading, 0, size as u64));
        let req = ApiRequest {
            method: "POST",
            path: format!("/room/{room}/file"),
            query: String::new(),
            body: Some((file.data.clone(), "application/octet-stream")),
        };
        let v = self
            .call(|| format!("upload a file to room {room:?}"), &req)
            .await?;
        let id = v
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ClientError::BadReply {
                what: "room file upload reply",
                reason: format!("no integer \"id\" in {v}"),
            })?;
        progress(Progress::new(Stage::Uploading, size as u64, size as u64));
        Ok(Attachment {
            url: format!("{}/room/{room}/file/{id}", self.base_url),
            id,
            key: Vec::new(),
            digest: None,
            size: size as u64,
            content_type: file.content_type.clone(),
            file_name: file.file_name.clone(),
        })
    }

    /// Downloads attachment `index` of a room message (`GET /room/{t}/file/{id}` on
    /// this server) and checks its size against the post.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for a missing index; [`ClientError::BadInput`] for a
    /// pointer to another server or room; 404 when the file expired; a size that
    /// differs from the post.
    pub async fn fetch_file(
        &self,
        msg: &CommunityMessage,
        index: usize,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Vec<u8>> {
        let pointer = msg.attachments.get(index).ok_or_else(|| {
            ClientError::NotFound(format!(
                "the message has {} attachment(s); there is no number {}",
                msg.attachments.len(),
                index + 1
            ))
        })?;
        let prefix = format!("{}/room/{}/file/", self.base_url, msg.room);
        let id = pointer
            .url
            .strip_prefix(&prefix)
            .map(|rest| rest.split(['/', '#', '?']).next().unwrap_or_default())
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| ClientError::BadInput {
                what: "attachment URL",
                reason: format!(
                    "{:?} is not a file of room {:?} on {}",
                    pointer.url, msg.room, self.base_url
                ),
            })?;
        progress(Progress::new(Stage::Downloading, 0, pointer.size));
        let data = self
            .call_bytes(
                || format!("download file {id} of room {:?}", msg.room),
                &ApiRequest::get(format!("/room/{}/file/{id}", msg.room)),
            )
            .await?;
        progress(Progress::new(
            Stage::Downloading,
            data.len() as u64,
            pointer.size,
        ));
        if pointer.size != 0 && data.len() as u64 != pointer.size {
            return Err(ClientError::FileServer {
                server: self.base_url.clone(),
                reason: format!(
                    "file {id} has {} bytes but the post says {}: not the file that was posted",
                    data.len(),
                    pointer.size
                ),
            });
        }
        Ok(data)
    }

    /// A signed request that must succeed; its raw body.
    async fn call_bytes(&self, what: impl FnOnce() -> String, req: &ApiRequest) -> Result<Vec<u8>> {
        let reply = self.request(req).await?;
        self.check(what, &reply)?;
        Ok(reply.body)
    }

    /// Posts a message with text and/or (already uploaded) room files, and stores it.
    async fn post_message(
        &self,
        room: &str,
        text: &str,
        attachments: &[Attachment],
    ) -> Result<CommunityMessage> {
        let room = canonical_room(room)?;
        let mode = self.auth_mode().await?;
        let body = message::build_post(
            self.keys.ed25519(),
            mode,
            &self.pubkey,
            (text, attachments),
            self.display_name.as_deref(),
            self.now_ms(),
        );
        let v = self
            .call(
                || format!("post to room {room:?}"),
                &ApiRequest::json("POST", format!("/room/{room}/message"), &body),
            )
            .await?;
        match message::read_message(&self.base_url, &room, &v)? {
            ListedMessage::Full(m) => {
                self.store.save_community_message(&m)?;
                Ok(m)
            }
            ListedMessage::Reactions { .. } => Err(ClientError::BadReply {
                what: "posted message",
                reason: "the server did not return the message".into(),
            }),
        }
    }

    /// Adds (`add`) or removes this account's reaction `emoji` on message `id`
    /// (`PUT`/`DELETE /room/{t}/reaction/{id}/{emoji}`). Returns whether anything
    /// changed (false: already there / not there).
    ///
    /// # Errors
    /// A refusal (404: no such message, 400: not a valid reaction), network errors.
    pub async fn react(&self, room: &str, id: u64, emoji: &str, add: bool) -> Result<bool> {
        let room = canonical_room(room)?;
        if emoji.is_empty() || emoji.chars().count() > 12 {
            return Err(ClientError::BadInput {
                what: "reaction",
                reason: "give 1 to 12 characters, e.g. an emoji".into(),
            });
        }
        let path = format!("/room/{room}/reaction/{id}/{emoji}");
        let (req, key) = if add {
            (ApiRequest::json("PUT", path, &json!({})), "added")
        } else {
            (ApiRequest::delete(path), "removed")
        };
        let verb = if add { "add" } else { "remove" };
        let v = self
            .call(|| format!("{verb} the reaction on message {id}"), &req)
            .await?;
        Ok(v.get(key).and_then(Value::as_bool).unwrap_or(false))
    }

    /// Deletes a message for everyone (`DELETE /room/{t}/message/{id}`; one's own, or
    /// any as a moderator) and marks it deleted in the store.
    ///
    /// # Errors
    /// A refusal (403: not yours, 404: no such message), network errors.
    pub async fn delete(&self, room: &str, id: u64) -> Result<()> {
        let room = canonical_room(room)?;
        self.call(
            || format!("delete message {id}"),
            &ApiRequest::delete(format!("/room/{room}/message/{id}")),
        )
        .await?;
        if let Some(mut m) = self.store.community_message(&self.base_url, &room, id)? {
            m.deleted = true;
            m.body.clear();
            m.reactions.clear();
            self.store.save_community_message(&m)?;
        }
        Ok(())
    }

    /// Sends a DM to the blinded id `to` through this server's inbox
    /// (`POST /inbox/{id}`), encrypted so that only `to` can read it, and stores it.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] if `to` is not a `15`/`25` id or the text is empty;
    /// [`ClientError::NotAllowed`] on a server without blinding; a refusal (404: the
    /// recipient has never used this server), network errors.
    pub async fn send_dm(&self, to: &AccountId, text: &str) -> Result<CommunityDmRecord> {
        message::check_text(text)?;
        if !matches!(to.prefix(), IdPrefix::Blinded15 | IdPrefix::Blinded25) {
            return Err(ClientError::BadInput {
                what: "recipient",
                reason: format!(
                    "{to} is not a blinded id (15… or 25…); community DMs go to the id a \
                     user has on that server"
                ),
            });
        }
        if self.auth_mode().await? == SogsAuthMode::Unblinded {
            return Err(ClientError::NotAllowed(format!(
                "{} does not use blinded ids, so it has no DM inbox",
                self.base_url
            )));
        }
        let now = self.now_ms();
        let content = message::dm_content(text, self.display_name.as_deref(), now);
        let blob = encrypt_for_blinded_recipient(self.keys.ed25519(), &self.pubkey, to, &content)?;
        let v = self
            .call(
                || format!("deliver a DM to {to}"),
                &ApiRequest::json(
                    "POST",
                    format!("/inbox/{to}"),
                    &json!({"message": STANDARD.encode(blob)}),
                ),
            )
            .await?;
        let id = v
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ClientError::BadReply {
                what: "DM answer",
                reason: format!("no id in {v}"),
            })?;
        let posted_ms = v
            .get("posted_at")
            .and_then(Value::as_f64)
            .filter(|f| f.is_finite() && *f >= 0.0)
            // Unix seconds as float → ms.
            .map_or(now, |f| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ms = (f * 1000.0).round() as u64;
                ms
            });
        let rec = CommunityDmRecord {
            base_url: self.base_url.clone(),
            id,
            direction: DmDirection::Outbox,
            peer: *to,
            sender_session_id: Some(self.keys.session_id()),
            posted_ms,
            body: text.to_owned(),
            display_name: self.display_name.clone(),
            status: MessageStatus::Valid,
        };
        self.store.save_community_dm(&rec)?;
        Ok(rec)
    }
}

fn mode_of(blinded: bool) -> SogsAuthMode {
    if blinded {
        SogsAuthMode::Blind15
    } else {
        SogsAuthMode::Unblinded
    }
}

fn caps_of(v: &Value) -> Vec<String> {
    strings(v, "capabilities")
}

/// The strings of the array `v[key]` (none if it is missing or not an array).
fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
