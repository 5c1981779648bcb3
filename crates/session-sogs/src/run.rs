//! Running a configured community server: open the store, load (or create) the server
//! key, build the API merged with the web pages, run the periodic cleanup, serve until
//! shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_sogs::run::RunError> {
//! use session_sogs::config::SogsConfig;
//! use session_sogs::run::SogsServer;
//! let config = SogsConfig::load(std::path::Path::new("sogs.toml"))?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
//!     session_sogs::run::RunError::Listen(config.listen.to_string(), e)
//! })?;
//! let server = SogsServer::open(&config, listener.local_addr().ok())?;
//! for (room, url) in server.join_urls()? {
//!     println!("{}: {url}", room.token);
//! }
//! server.serve(listener, session_rt::Shutdown::never()).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use session_crypto::{AccountId, X25519Keypair};
use session_rt::{Clock, Shutdown, SystemClock};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{self, ConfigError, SogsConfig};
use crate::jobs;
use crate::server::filter::{Alphabet, PostFilter, Verdict, WordFilter};
use crate::server::{Sogs, SogsSettings};
use crate::store::{Room, SogsStore, StoreError};
use crate::web::{self, WebSettings};

/// Why the server cannot start or stopped with an error.
#[derive(Debug, Error)]
pub enum RunError {
    /// The configuration or the key file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {0}: {1} (is another process using that port?)")]
    Listen(String, std::io::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(#[from] session_rt::RtError),
}

/// Loads the server's X25519 key from `path` (32 raw bytes, PySOGS's `key_x25519`), or
/// creates a fresh one there (mode 0600, directory created as needed) if the file does
/// not exist. Returns the key and whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(X25519Keypair, bool), ConfigError> {
    session_rt::server_key::load_or_create(path, "which changes every join URL").map_err(|e| {
        ConfigError::Key {
            path: e.path,
            reason: e.reason,
        }
    })
}

/// Opens the store the configuration names (creating the data directory and an empty
/// database as needed).
pub fn open_store(config: &SogsConfig) -> Result<Arc<dyn SogsStore>, StoreError> {
    crate::store::open_database(
        config.database_url().as_deref(),
        &config.data_dir(),
        config.retention(),
    )
}

/// The content filter the configuration asks for (`None`: no filter configured): a
/// [`WordFilter`] for `profanity_filter` (words from `profanity_words` and the
/// `profanity_custom` file) and one for `alphabet_filters`, each silent or refusing as
/// its `*_silent` key says.
pub fn build_filter(config: &SogsConfig) -> Result<Option<Arc<dyn PostFilter>>, ConfigError> {
    let m = &config.messages;
    let mut filters = Vec::new();
    if m.profanity_filter {
        let mut words: Vec<String> = m
            .profanity_words
            .iter()
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        if let Some(path) = config.profanity_custom_path() {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                origin: config_origin(config),
                key: "messages.profanity_custom",
                reason: format!("cannot read {}: {e}", path.display()),
            })?;
            words.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        filters.push(WordFilter {
            words,
            alphabets: Vec::new(),
            silent: m.profanity_silent,
            filter_mods: m.filter_mods,
        });
    }
    if !m.alphabet_filters.is_empty() {
        filters.push(WordFilter {
            words: Vec::new(),
            alphabets: m
                .alphabet_filters
                .iter()
                .map(|a| match a {
                    config::Alphabet::Arabic => Alphabet::Arabic,
                    config::Alphabet::Persian => Alphabet::Persian,
                    config::Alphabet::Cyrillic => Alphabet::Cyrillic,
                })
                .collect(),
            silent: m.alphabet_silent,
            filter_mods: m.filter_mods,
        });
    }
    Ok(match filters.len() {
        0 => None,
        1 => filters.pop().map(|f| Arc::new(f) as Arc<dyn PostFilter>),
        _ => Some(Arc::new(AllFilters(filters))),
    })
}

fn config_origin(config: &SogsConfig) -> String {
    config
        .origin
        .as_ref()
        .map_or_else(|| "sogs.toml".to_owned(), |p| p.display().to_string())
}

/// Several filters: a refusal by any refuses, else a silent verdict by any hides.
#[derive(Debug)]
struct AllFilters(Vec<WordFilter>);

impl PostFilter for AllFilters {
    fn check(&self, room: &str, author: &AccountId, moderator: bool, data: &[u8]) -> Verdict {
        let mut verdict = Verdict::Allow;
        for f in &self.0 {
            match f.check(room, author, moderator, data) {
                Verdict::Allow => {}
                Verdict::Silent => verdict = Verdict::Silent,
                reject @ Verdict::Reject(_) => return reject,
            }
        }
        verdict
    }
}

/// A community server ready to serve: store open, key loaded, settings resolved.
#[derive(Debug)]
pub struct SogsServer {
    state: Sogs,
    clock: Arc<dyn Clock>,
    web: WebSettings,
    cleanup_interval: Duration,
    key_created: bool,
}

impl SogsServer {
    /// Prepares the server of `config` with the system clock. `bound` is the address the
    /// listener is bound to (used for join URLs when `base_url` is not configured).
    pub fn open(config: &SogsConfig, bound: Option<SocketAddr>) -> Result<Self, RunError> {
        Self::open_with_clock(config, bound, SystemClock::shared())
    }

    /// [`SogsServer::open`] with an injected clock.
    pub fn open_with_clock(
        config: &SogsConfig,
        bound: Option<SocketAddr>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RunError> {
        let filter = build_filter(config)?;
        let (key, key_created) = load_or_create_key(&config.key_path())?;
        let store = open_store(config)?;
        let settings = SogsSettings {
            auth: config.auth_policy(),
            rate_limit: config.rate_limit(),
            max_upload: config.files.max_size,
            filter,
        };
        let state = Sogs::new(store, Arc::clone(&clock), key, settings);
        let web = WebSettings {
            base_url: config.base_url_for(bound.unwrap_or(config.listen)),
            show_index: config.web.show_index,
            show_recent: config.web.show_recent,
        };
        Ok(Self {
            state,
            clock,
            web,
            cleanup_interval: jobs::CLEANUP_INTERVAL,
            key_created,
        })
    }

    /// Changes the cleanup period (tests).
    pub fn with_cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval;
        self
    }

    /// The server state (store, key, settings).
    pub fn state(&self) -> &Sogs {
        &self.state
    }

    /// The server's X25519 public key, as join URLs carry it.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.state.public_key())
    }

    /// Whether the key file was created by [`SogsServer::open`].
    pub fn key_created(&self) -> bool {
        self.key_created
    }

    /// The base of join URLs.
    pub fn base_url(&self) -> &str {
        &self.web.base_url
    }

    /// A room's join URL.
    pub fn join_url(&self, token: &str) -> String {
        web::join_url(&self.web.base_url, token, self.state.public_key())
    }

    /// Every room with its join URL.
    pub fn join_urls(&self) -> Result<Vec<(Room, String)>, StoreError> {
        Ok(self
            .state
            .store()
            .rooms()?
            .into_iter()
            .map(|r| {
                let url = self.join_url(&r.token);
                (r, url)
            })
            .collect())
    }

    /// The HTTP app: the API merged with the web pages.
    pub fn app(&self) -> Router {
        crate::server::router(self.state.clone())
            .merge(web::router(self.state.clone(), self.web.clone()))
    }

    /// Serves on `listener` with the cleanup running until `shutdown` fires, then drains
    /// in-flight requests and stops the cleanup.
    pub async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> Result<(), RunError> {
        let addr = listener.local_addr().ok();
        tracing::info!(
            ?addr,
            server_pubkey = %self.public_key_hex(),
            base_url = %self.web.base_url,
            "community server listening"
        );
        let cleanup = tokio::spawn(jobs::cleanup_loop(
            Arc::clone(self.state.store()),
            Arc::clone(&self.clock),
            self.cleanup_interval,
            shutdown.clone(),
        ));
        session_rt::http::serve_with_job(listener, self.app(), shutdown, cleanup, "cleanup")
            .await?;
        Ok(())
    }
}

/// Runs the server of `config` on `listener` until `shutdown` fires, logging the join
/// URL of every room at start.
pub async fn run(
    config: &SogsConfig,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let server = SogsServer::open(config, listener.local_addr().ok())?;
    for (room, url) in server.join_urls()? {
        tracing::info!(room = %room.token, "join URL: {url}");
    }
    server.serve(listener, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use session_crypto::IdPrefix;
    use session_wire::proto::session::{Content, DataMessage};
    use tower::ServiceExt as _;

    fn post(text: &str) -> Vec<u8> {
        let content = Content {
            data_message: Some(DataMessage {
                body: Some(text.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut data = session_wire::message::encode_content(&content);
        data.push(0x80);
        data
    }

    fn config(dir: &Path, text: &str) -> SogsConfig {
        let path = dir.join("sogs.toml");
        std::fs::write(&path, text).unwrap();
        SogsConfig::load(&path).unwrap()
    }

    #[test]
    fn filters_follow_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let author = AccountId::new(IdPrefix::Blinded15, [1; 32]);
        assert!(build_filter(&config(dir.path(), "")).unwrap().is_none());

        std::fs::write(dir.path().join("words.txt"), "# comment\nfrobnicate\n\n").unwrap();
        let f = build_filter(&config(
            dir.path(),
            "[messages]\nprofanity_filter = true\nprofanity_silent = false\n\
             profanity_words = [\"darn\"]\nprofanity_custom = \"words.txt\"\n\
             alphabet_filters = [\"cyrillic\"]",
        ))
        .unwrap()
        .unwrap();
        let check = |text: &str, moderator: bool| f.check("r", &author, moderator, &post(text));
        assert_eq!(check("hello there", false), Verdict::Allow);
        assert!(matches!(check("oh DARN it", false), Verdict::Reject(_)));
        assert!(matches!(check("frobnicate", false), Verdict::Reject(_)));
        // Alphabet filters are silent by default.
        assert_eq!(check("привет", false), Verdict::Silent);
        // Moderators are spared unless filter_mods.
        assert_eq!(check("darn", true), Verdict::Allow);

        let missing = config(
            dir.path(),
            "[messages]\nprofanity_filter = true\nprofanity_custom = \"nope.txt\"",
        );
        let e = build_filter(&missing).unwrap_err().to_string();
        assert!(
            e.contains("profanity_custom") && e.contains("nope.txt"),
            "{e}"
        );
    }

    async fn get(app: &Router, path: &str) -> (StatusCode, String) {
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_app_serves_api_and_web_pages() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), "base_url = \"https://sogs.example.org\"");
        let server = SogsServer::open(&cfg, None).unwrap();
        assert!(server.key_created());
        server
            .state()
            .store()
            .create_room(
                &crate::store::NewRoom {
                    token: "lobby".into(),
                    name: "Lobby".into(),
                    description: None,
                    defaults: crate::store::RoomDefaults::default(),
                },
                1.0,
            )
            .unwrap();
        let urls = server.join_urls().unwrap();
        assert_eq!(
            urls[0].1,
            format!(
                "https://sogs.example.org/lobby?public_key={}",
                server.public_key_hex()
            )
        );
        let app = server.app();
        let (status, body) = get(&app, "/capabilities").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = get(&app, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("/r/lobby/"), "{body}");
        let (status, body) = get(&app, "/r/lobby/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&urls[0].1), "{body}");
        let (status, _) = get(&app, "/r/lobby").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        let (status, _) = get(&app, "/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn serve_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), "");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let task = tokio::spawn({
            let cfg = cfg.clone();
            async move { run(&cfg, listener, shutdown).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
