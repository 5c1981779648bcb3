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
//! * `rooms.rs`, `messages.rs`: the handlers.
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
mod error;
pub mod filter;
mod json;
mod messages;
mod rooms;

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
        // Milliseconds since 1970 fit an f64 exactly for the next few hundred millennia.
        #[allow(clippy::cast_precision_loss)]
        let ms = self.inner.clock.now_ms() as f64;
        ms / 1000.0
    }

    /// Runs a store operation off the async runtime.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SogsStore) -> Result<T, ApiError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
    }
}

/// The HTTP API as an axum router.
pub fn router(state: Sogs) -> Router {
    Router::new()
        .route("/capabilities", get(rooms::capabilities))
        .route("/rooms", get(rooms::rooms))
        .route("/room/{token}", get(rooms::room))
        .route(
            "/room/{token}/pollInfo/{info_updates}",
            get(rooms::poll_info),
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
            axum::routing::delete(messages::clear_reactions),
        )
        .route(
            "/room/{token}/reactions/{id}/{*reaction}",
            axum::routing::delete(messages::clear_reaction),
        )
        .route(
            "/room/{token}/reactors/{id}/{*reaction}",
            get(messages::reactors_list),
        )
        .route("/room/{token}/pin/{id}", post(messages::pin))
        .route("/room/{token}/unpin/all", post(messages::unpin_all))
        .route("/room/{token}/unpin/{id}", post(messages::unpin))
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
