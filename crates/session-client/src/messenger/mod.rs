//! [`Messenger`]: one account talking to others over the network — the message codec
//! ([`crate::message`]), the local store ([`crate::store`]) and onion requests to
//! swarms ([`OnionClient`]) tied together (client-protocol §3, §9).
//!
//! * [`send`](Messenger::send_text): a text (with the profile and the conversation's
//!   disappearing setting) is stored in the recipient's swarm, namespace 0, then its sync
//!   copy in our own swarm; only then is it kept locally (a send that fails leaves
//!   nothing behind, and says why).
//! * [`fetch`](Messenger::fetch) (one-shot) and [`spawn_poller`](Messenger::spawn_poller)
//!   (steady background polling): signed `retrieve` of each namespace the account uses,
//!   continuing after the last hash seen; every message is opened and checked (a message
//!   that fails is counted by reason and dropped, never shown), de-duplicated, applied to
//!   the store, and announced on [`Messenger::subscribe`].
//! * Message requests ([`accept_request`](Messenger::accept_request)), unsend and
//!   delete-for-me, disappearing messages (after-send TTLs; after-read timers started on
//!   read and pushed to the swarm with `expire … shorten`), read receipts (if enabled),
//!   and Session names ([`resolve_recipient`](Messenger::resolve_recipient)).
//!
//! Time is the network's ([`OnionClient::network_now_ms`]): signatures, sent timestamps
//! and expiries all use it, so a test on a mock clock drives disappearing messages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use session_crypto::{AccountId, AccountKeys, IdPrefix};
use tokio::sync::broadcast;

use crate::error::{ClientError, Result};
use crate::message::{Expiry, Profile};
use crate::store::{ClientStore, RejectReason, StoredMessage};
use crate::{OnionClient, Snode};

mod attach;
mod poller;
mod receive;
pub mod rpc;
mod send;
mod sns;

pub use poller::PollerHandle;
pub use receive::PollReport;
pub use send::Sent;

/// The namespaces a one-to-one account polls: its messages (0). Config namespaces
/// (§6) are not used by this client.
pub const POLLED_NAMESPACES: &[i16] = &[crate::message::DM_NAMESPACE];

/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_CAPACITY: usize = 1024;

/// What a user chose about their account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessengerSettings {
    /// The profile sent with every visible message and request acceptance.
    pub profile: Option<Profile>,
    /// Whether to tell senders that their messages were read (off by default, as in
    /// Session).
    pub read_receipts: bool,
}

/// Something that happened, for live views ([`Messenger::subscribe`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new message was stored: received, or sent from this or another device.
    Message(StoredMessage),
    /// Messages disappeared: unsent by their author, deleted here, or expired.
    Deleted {
        /// The messages as they were.
        messages: Vec<StoredMessage>,
        /// Why: `"unsent"`, `"deleted"` or `"expired"`.
        why: &'static str,
    },
    /// The peer read our messages sent at these times (a read receipt).
    PeerRead {
        /// Who read them.
        peer: AccountId,
        /// The sent timestamps of the messages read.
        sent_ms: Vec<u64>,
    },
    /// The peer accepted our message request.
    RequestAccepted {
        /// Who accepted.
        peer: AccountId,
    },
    /// The disappearing-messages setting of a conversation changed.
    DisappearingChanged {
        /// The conversation.
        peer: AccountId,
        /// The new setting (`None`: off).
        setting: Option<Expiry>,
    },
    /// A polled message was dropped (bad signature, not for us, garbage).
    Rejected {
        /// The category it is counted under.
        reason: RejectReason,
        /// What exactly was wrong (safe to show: no content).
        detail: String,
    },
    /// A background poll failed (the poller keeps going, with back-off).
    PollFailed(String),
}

/// One account on the network. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Messenger {
    inner: Arc<Inner>,
}

struct Inner {
    keys: AccountKeys,
    me: AccountId,
    client: OnionClient,
    store: Arc<dyn ClientStore>,
    settings: Mutex<MessengerSettings>,
    events: broadcast::Sender<Event>,
    /// The last sent timestamp used, so that two messages sent in one millisecond
    /// still get distinct (sender, sent_ms) identities.
    last_sent_ms: AtomicU64,
    /// One poll at a time (the background poller and a one-shot fetch may race).
    poll_lock: tokio::sync::Mutex<()>,
    /// The swarm member polled: kept until it fails or leaves the swarm, because last
    /// hashes are only meaningful at the node that gave them.
    poll_node: Mutex<Option<Snode>>,
}

impl std::fmt::Debug for Messenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messenger")
            .field("account", &self.inner.me)
            .finish_non_exhaustive()
    }
}

impl Messenger {
    /// The account `keys` on the network of `client`, keeping its data in `store`.
    pub fn new(
        keys: AccountKeys,
        client: OnionClient,
        store: Arc<dyn ClientStore>,
        settings: MessengerSettings,
    ) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let me = keys.session_id();
        Self {
            inner: Arc::new(Inner {
                keys,
                me,
                client,
                store,
                settings: Mutex::new(settings),
                events,
                last_sent_ms: AtomicU64::new(0),
                poll_lock: tokio::sync::Mutex::new(()),
                poll_node: Mutex::new(None),
            }),
        }
    }

    /// This account's Session ID.
    pub fn session_id(&self) -> AccountId {
        self.inner.me
    }

    /// The account's keys.
    pub fn keys(&self) -> &AccountKeys {
        &self.inner.keys
    }

    /// The local store.
    pub fn store(&self) -> &Arc<dyn ClientStore> {
        &self.inner.store
    }

    /// The network client.
    pub fn client(&self) -> &OnionClient {
        &self.inner.client
    }

    /// The current settings.
    pub fn settings(&self) -> MessengerSettings {
        crate::store::lock(&self.inner.settings).clone()
    }

    /// Replaces the settings (profile, read receipts).
    pub fn set_settings(&self, settings: MessengerSettings) {
        *crate::store::lock(&self.inner.settings) = settings;
    }

    /// A stream of [`Event`]s from now on. A subscriber that falls more than 1024
    /// events behind gets `RecvError::Lagged` and misses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: Event) {
        // No subscriber is fine: events are for live views only.
        let _ = self.inner.events.send(event);
    }

    /// The swarm member this account currently polls (`None` before the first poll,
    /// or after it failed).
    pub fn polled_node(&self) -> Option<Snode> {
        crate::store::lock(&self.inner.poll_node).clone()
    }

    /// The network's time now (ms).
    pub fn now_ms(&self) -> u64 {
        self.inner.client.network_now_ms()
    }

    /// A sent timestamp for a new message: the network time, but strictly after the
    /// previous one this messenger handed out.
    fn next_sent_ms(&self) -> u64 {
        let now = self.now_ms();
        let mut prev = self.inner.last_sent_ms.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev.saturating_add(1));
            match self.inner.last_sent_ms.compare_exchange_weak(
                prev,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    /// Resolves what a user typed as a recipient: `@name` or anything that fits a
    /// Session name goes through [`Messenger::resolve_name`]; anything longer than a
    /// name can be (a Session ID is 66 characters) must be a Session ID.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] for an id of the wrong form or prefix;
    /// [`ClientError::Name`] when a name does not resolve.
    pub async fn resolve_recipient(&self, text: &str) -> Result<AccountId> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            return self.resolve_name(name).await;
        }
        if text.len() > session_crypto::ons::SESSION_NAME_MAX {
            return parse_session_id(text);
        }
        self.resolve_name(text).await
    }
}

/// Parses a Session ID (`05` + 64 hex), with an error that says what to pass.
///
/// # Errors
/// [`ClientError::BadInput`].
pub fn parse_session_id(text: &str) -> Result<AccountId> {
    AccountId::parse_session_id(text.trim()).map_err(|e| ClientError::BadInput {
        what: "Session ID",
        reason: format!(
            "{e}; a Session ID is 66 hex characters starting with 05 (or use @name for a \
             registered Session name)"
        ),
    })
}

/// Checks that `id` can receive one-to-one messages (a `05` Session ID, not a blinded
/// or group id).
///
/// # Errors
/// [`ClientError::BadInput`].
fn check_recipient(id: &AccountId) -> Result<AccountId> {
    if id.prefix() == IdPrefix::Standard {
        Ok(*id)
    } else {
        Err(ClientError::BadInput {
            what: "recipient",
            reason: format!(
                "{id} is not a Session ID (05…); one-to-one messages go to Session IDs only"
            ),
        })
    }
}
