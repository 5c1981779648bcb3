//! The community server's HTTP API (community-server spec §5): PySOGS's endpoints,
//! status codes and JSON shapes, with `X-SOGS-*` request authentication (§3).
//!
//! [`Sogs`] is the shared state (store, clock, server key, settings); [`router`] builds
//! the axum app and [`serve`] runs it on a bound listener until shutdown.
//!
//! * `auth.rs`: the request extractor that checks the `X-SOGS-*` headers in PySOGS's
//!   order (parse → time window → ban → nonce → signature → touch).
//! * `error.rs`: [`ApiError`], the one place errors become status codes and bodies.
//! * `json.rs`: the room-info and message JSON shapes (§6).
//! * `params.rs`: Session IDs in paths, typed JSON fields, `05` → blinded mapping.
//! * `rooms.rs`, `messages.rs`, `permissions.rs`, `files.rs`, `users.rs`, `dms.rs`: the
//!   handlers of §5.2–§5.6.
//! * `batch.rs`: `/batch` and `/sequence` (sub-requests run as the outer user).
//! * `onion.rs`: the v4 and deprecated v3 onion-request entries (§5.7).
//! * [`filter`]: the content-filter hook and the [`filter::WordFilter`] implementation.
//!
//! Store calls are synchronous (see [`crate::store`]); handlers run them in
//! `spawn_blocking`.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use session_crypto::X25519Keypair;
use session_crypto::sogs_auth::SogsAuthPolicy;
use session_rt::http::ServeOptions;
use session_rt::{Clock, Shutdown};
use tokio::net::TcpListener;

use crate::store::SogsStore;

mod auth;
mod batch;
mod dms;
mod error;
mod files;
pub mod filter;
mod json;
mod messages;
mod onion;
mod params;
mod permissions;
mod rooms;
mod users;

pub use auth::Caller;
pub use error::ApiError;

/// The post rate limit (§5.3): at most `posts` messages per `interval` seconds per room
/// for non-admins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// How many posts are allowed within the interval (PySOGS: 5).
    pub posts: usize,
    /// The interval, in seconds (PySOGS: 16).
    pub interval: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            posts: 5,
            interval: 16.0,
        }
    }
}

/// The default upload size limit (PySOGS's `files.max_size`): 10,000,000 bytes.
pub const DEFAULT_MAX_UPLOAD: usize = 10_000_000;

/// Server settings that change HTTP behaviour.
#[derive(Clone, Debug)]
pub struct SogsSettings {
    /// Which `X-SOGS-Pubkey` prefixes are accepted (`require_blinding` also decides the
    /// `blind` capability).
    pub auth: SogsAuthPolicy,
    /// The post rate limit.
    pub rate_limit: RateLimit,
    /// The largest room file upload, in bytes (bigger → 413).
    pub max_upload: usize,
    /// The content filter every post and edit passes (`None`: everything is allowed).
    pub filter: Option<Arc<dyn filter::PostFilter>>,
}

impl Default for SogsSettings {
    fn default() -> Self {
        Self {
            auth: SogsAuthPolicy::default(),
            rate_limit: RateLimit::default(),
            max_upload: DEFAULT_MAX_UPLOAD,
            filter: None,
        }
    }
}

struct Inner {
    store: Arc<dyn SogsStore>,
    clock: Arc<dyn Clock>,
    key: X25519Keypair,
    settings: SogsSettings,
}

/// The community server's shared state; cheap to clone.
#[derive(Clone)]
pub struct Sogs {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sogs")
            .field("store", &self.inner.store)
            .field("server_pubkey", &hex::encode(self.inner.key.public()))
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Sogs {
    /// A server over `store`, reading time from `clock`, identified by the X25519 key
    /// pair `key` (whose public key every client signs over and blinds with).
    pub fn new(
        store: Arc<dyn SogsStore>,
        clock: Arc<dyn Clock>,
        key: X25519Keypair,
        settings: SogsSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                key,
                settings,
            }),
        }
    }

    /// The server's X25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.inner.key.public()
    }

    /// The settings.
    pub fn settings(&self) -> &SogsSettings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SogsStore> {
        &self.inner.store
    }

    /// The current time in Unix seconds (the store's unit).
    pub fn now(&self) -> f64 {
        self.inner.clock.now_secs()
    }

    /// Runs a store operation off the async runtime.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SogsStore) -> Result<T, ApiError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || crate::store::blocking_section(|| f(store.as_ref())))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
    }
}

/// The HTTP API as an axum router: every endpoint of §5, `/batch` and `/sequence`,
/// and the onion-request entries `/oxen/v4/lsrpc`, `/oxen/v3/lsrpc`, `/loki/v3/lsrpc`.
pub fn router(state: Sogs) -> Router {
    let api = api_routes(state.clone());
    let batch_state = batch::BatchState {
        sogs: state.clone(),
        api: api.clone(),
    };
    let app = api.merge(
        Router::new()
            .route("/batch", post(batch::batch))
            .route("/sequence", post(batch::sequence))
            .with_state(batch_state),
    );
    onion::with_onion(app, state)
}

/// Every endpoint except `/batch`, `/sequence` and the onion entries (what batch
/// sub-requests can reach).
fn api_routes(state: Sogs) -> Router {
    use axum::routing::delete;
    Router::new()
        .route("/capabilities", get(rooms::capabilities))
        .route("/rooms", get(rooms::rooms))
        .route("/room/{token}", get(rooms::room).put(rooms::update_room))
        .route(
            "/room/{token}/pollInfo/{info_updates}",
            get(rooms::poll_info),
        )
        .route("/room/{token}/permissions", get(permissions::list))
        .route(
            "/room/{token}/permissions/{sid}",
            get(permissions::get_one).post(permissions::set),
        )
        .route(
            "/room/{token}/futurePermissions",
            get(permissions::future_list),
        )
        .route(
            "/room/{token}/futurePermissions/{sid}",
            get(permissions::future_one).post(permissions::schedule),
        )
        .route("/room/{token}/messages/since/{seqno}", get(messages::since))
        .route("/room/{token}/messages/recent", get(messages::recent))
        .route("/room/{token}/messages/before/{id}", get(messages::before))
        .route("/room/{token}/message", post(messages::post_message))
        .route(
            "/room/{token}/message/{id}",
            get(messages::get_message)
                .put(messages::edit_message)
                .delete(messages::delete_message),
        )
        .route(
            "/room/{token}/reaction/{id}/{*reaction}",
            put(messages::add_reaction).delete(messages::remove_reaction),
        )
        .route(
            "/room/{token}/reactions/{id}",
            delete(messages::clear_reactions),
        )
        .route(
            "/room/{token}/reactions/{id}/{*reaction}",
            delete(messages::clear_reaction),
        )
        .route(
            "/room/{token}/reactors/{id}/{*reaction}",
            get(messages::reactors_list),
        )
        .route("/room/{token}/pin/{id}", post(messages::pin))
        .route("/room/{token}/unpin/all", post(messages::unpin_all))
        .route("/room/{token}/unpin/{id}", post(messages::unpin))
        .route("/room/{token}/file", post(files::upload))
        .route("/room/{token}/file/{id}", get(files::download))
        .route(
            "/room/{token}/file/{id}/{*name}",
            get(files::download_named),
        )
        .route("/room/{token}/all/{sid}", delete(users::delete_all_in_room))
        .route("/rooms/all/{sid}", delete(users::delete_all_everywhere))
        .route("/user/{sid}/moderator", post(users::moderator))
        .route("/user/{sid}/ban", post(users::ban))
        .route("/user/{sid}/unban", post(users::unban))
        .route("/inbox", get(dms::inbox).delete(dms::clear))
        .route("/outbox", get(dms::outbox))
        .route("/inbox/since/{id}", get(dms::inbox_since))
        .route("/outbox/since/{id}", get(dms::outbox_since))
        .route("/inbox/{sid}", post(dms::send))
        .fallback(error::not_found)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` fires, then drains in-flight requests.
pub async fn serve(
    state: Sogs,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), session_rt::RtError> {
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "community server listening");
    session_rt::http::serve(
        listener,
        router(state),
        None,
        shutdown,
        ServeOptions::default(),
    )
    .await
}
