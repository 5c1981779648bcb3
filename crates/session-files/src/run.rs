//! Running a configured file server: load (or create) the server key, open the store,
//! serve the API with the purge job until shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_files::run::RunError> {
//! use session_files::config::FilesConfig;
//! use session_files::run::FilesServer;
//! let config = FilesConfig::load(std::path::Path::new("files.toml"))?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
//!     session_files::run::RunError::Listen(config.listen.to_string(), e)
//! })?;
//! let server = FilesServer::open(&config)?;
//! println!("onion key {}", server.public_key_hex());
//! server.serve(listener, session_rt::Shutdown::never()).await?;
//! # Ok(()) }
//! ```
//!
//! For tests and embedding, [`FilesServer::spawn`] runs it in the background and
//! returns a [`RunningFiles`] handle (address, key, `stop`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use session_crypto::X25519Keypair;
use session_rt::{Clock, Shutdown, ShutdownTrigger, SystemClock};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, FilesConfig, network_toml_snippet};
use crate::server::{FileServer, PURGE_INTERVAL, purge_loop};
use crate::store::{FileStore, StoreError};

/// Why the server cannot start or stopped with an error.
#[derive(Debug, Error)]
pub enum RunError {
    /// The configuration or the key file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {0}: {1} (is another process using that port?)")]
    Listen(String, std::io::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(#[from] session_rt::RtError),
    /// The server task panicked or was cancelled.
    #[error("the file server task failed: {0}")]
    Task(String),
}

/// Loads the server's X25519 key from `path` (32 raw bytes, the reference's
/// `key_x25519`), or creates a fresh one there (mode 0600, directory created as needed)
/// if the file does not exist. Returns the key and whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(X25519Keypair, bool), ConfigError> {
    session_rt::server_key::load_or_create(path, "which every client must then be given").map_err(
        |e| ConfigError::Key {
            path: e.path,
            reason: e.reason,
        },
    )
}

/// Opens the store in the configuration's data directory (creating it as needed).
pub fn open_store(config: &FilesConfig) -> Result<Arc<FileStore>, StoreError> {
    Ok(Arc::new(FileStore::open(&config.data_dir())?))
}

/// A file server ready to serve: key loaded, store open, settings resolved.
#[derive(Debug)]
pub struct FilesServer {
    state: FileServer,
    clock: Arc<dyn Clock>,
    purge_interval: Duration,
    key_created: bool,
}

impl FilesServer {
    /// Prepares the server of `config` with the system clock.
    pub fn open(config: &FilesConfig) -> Result<Self, RunError> {
        Self::open_with_clock(config, SystemClock::shared())
    }

    /// [`FilesServer::open`] with an injected clock.
    pub fn open_with_clock(config: &FilesConfig, clock: Arc<dyn Clock>) -> Result<Self, RunError> {
        let (key, key_created) = load_or_create_key(&config.key_path())?;
        let store = open_store(config)?;
        let state = FileServer::new(store, Arc::clone(&clock), Arc::new(key), config.settings());
        Ok(Self {
            state,
            clock,
            purge_interval: PURGE_INTERVAL,
            key_created,
        })
    }

    /// Changes the purge period (tests).
    pub fn with_purge_interval(mut self, interval: Duration) -> Self {
        self.purge_interval = interval;
        self
    }

    /// The server state (store, key, settings).
    pub fn state(&self) -> &FileServer {
        &self.state
    }

    /// The server's X25519 public key (clients encrypt onion requests to it).
    pub fn public_key(&self) -> [u8; 32] {
        *self.state.public_key()
    }

    /// [`FilesServer::public_key`] as 64 hex characters (`pubkey_x25519` in
    /// `network.toml`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.state.public_key())
    }

    /// Whether the key file was created by [`FilesServer::open`].
    pub fn key_created(&self) -> bool {
        self.key_created
    }

    /// The `[file_server]` table of `network.toml` for clients reaching this server at
    /// `url`.
    pub fn network_toml(&self, url: &str) -> String {
        network_toml_snippet(url, self.state.public_key())
    }

    /// The HTTP app (API and onion entries).
    pub fn app(&self) -> Router {
        crate::server::router(self.state.clone())
    }

    /// Serves on `listener` with the purge job running until `shutdown` fires, then
    /// drains in-flight requests and stops the purge job.
    pub async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> Result<(), RunError> {
        let addr = listener.local_addr().ok();
        tracing::info!(
            ?addr,
            server_pubkey = %self.public_key_hex(),
            "file server listening"
        );
        let purge = tokio::spawn(purge_loop(
            Arc::clone(self.state.store()),
            Arc::clone(&self.clock),
            self.purge_interval,
            shutdown.clone(),
        ));
        session_rt::http::serve_with_job(listener, self.app(), shutdown, purge, "purge").await?;
        Ok(())
    }

    /// Serves on `listener` in a background task; the handle tells where and stops it.
    pub fn spawn(self, listener: TcpListener) -> Result<RunningFiles, RunError> {
        let addr = listener
            .local_addr()
            .map_err(|e| RunError::Listen("the listener".into(), e))?;
        let public_key = self.public_key();
        let (trigger, shutdown) = session_rt::shutdown::channel();
        let task = tokio::spawn(self.serve(listener, shutdown));
        Ok(RunningFiles {
            addr,
            public_key,
            trigger,
            task,
        })
    }
}

/// A file server serving in the background ([`FilesServer::spawn`]); dropping it stops
/// the server too (without waiting).
#[derive(Debug)]
pub struct RunningFiles {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its X25519 public key.
    pub public_key: [u8; 32],
    trigger: ShutdownTrigger,
    task: JoinHandle<Result<(), RunError>>,
}

impl RunningFiles {
    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for in-flight requests and the purge job.
    pub async fn stop(self) -> Result<(), RunError> {
        self.trigger.trigger();
        self.task.await.map_err(|e| RunError::Task(e.to_string()))?
    }
}

/// Runs the server of `config` on `listener` until `shutdown` fires.
pub async fn run(
    config: &FilesConfig,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    FilesServer::open(config)?.serve(listener, shutdown).await
}
