//! Assembling and running a node: identity, TLS certificate, message store, network
//! view, the expiry sweeper and the HTTP(S) server, on a bound listener until a
//! shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use session_rt::http::{ServeOptions, TlsAcceptor, serve, tls_acceptor};
use session_rt::{Clock, Shutdown, SystemClock};
use tokio::net::TcpListener;

use crate::config::{NodeConfig, StoreBackend};
use crate::error::{NodeError, Result};
use crate::identity::NodeIdentity;
use crate::limits::{EXPIRY_SWEEP_MS, RateLimiter};
use crate::network::{NetworkView, SingleNodeNetwork, SnodeInfo};
use crate::onion::{OnionRelay, ServerProxy};
use crate::peer::PeerClient;
use crate::registry::{Announce, RegistryClient, RegistryFollower, RegistryNetwork};
use crate::rpc::Rpc;
use crate::server::{ServerState, router};
use crate::store::MessageStore;
use crate::store::memory::MemoryStore;
use crate::store::sqlite::SqliteStore;
use crate::swarm::{ForwardQueue, Forwarder, HandOver, MemoryForwardQueue, SqliteForwardQueue};
use crate::testing::Tester;

/// Builds a [`Node`] from a configuration, with optional injected parts (tests inject a
/// mock clock, a memory store or a custom network view).
#[derive(Debug)]
pub struct NodeBuilder {
    config: NodeConfig,
    clock: Arc<dyn Clock>,
    network: Option<Arc<dyn NetworkView>>,
    store: Option<Arc<dyn MessageStore>>,
}

impl NodeBuilder {
    /// A builder for `config` on the system clock.
    pub fn new(config: NodeConfig) -> Self {
        Self {
            config,
            clock: SystemClock::shared(),
            network: None,
            store: None,
        }
    }

    /// Uses `clock` for every time decision (timestamps, TTLs, sweeps, rate limits).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `network` instead of the one-node network (or the registry view when the
    /// configuration has a `[registry]` table: an injected view wins).
    pub fn network(mut self, network: Arc<dyn NetworkView>) -> Self {
        self.network = Some(network);
        self
    }

    /// Uses `store` instead of the configured backend.
    pub fn store(mut self, store: Arc<dyn MessageStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Opens the data directory (key, certificate, database) for a node that will
    /// serve on `listener`.
    pub fn build(self, listener: &TcpListener) -> Result<Node> {
        let cfg = self.config;
        session_rt::fs::ensure_dir(&cfg.data_dir)?;
        let identity = Arc::new(NodeIdentity::load_or_generate(&cfg.data_dir)?);
        let local = listener.local_addr().map_err(|e| NodeError::Io {
            what: "read the listener address".into(),
            source: e,
        })?;
        let tls = if cfg.tls {
            let names = vec![cfg.public_ip.to_string(), "localhost".to_owned()];
            Some(tls_acceptor(session_rt::tls::load_or_generate(
                &cfg.data_dir,
                &names,
            )?))
        } else {
            None
        };
        let store: Arc<dyn MessageStore> = match self.store {
            Some(s) => s,
            None => match cfg.store {
                StoreBackend::Sqlite => {
                    Arc::new(SqliteStore::open(&cfg.data_dir, cfg.max_db_size)?)
                }
                StoreBackend::Memory => Arc::new(MemoryStore::with_size_limit(cfg.max_db_size)),
            },
        };
        let mut follower = None;
        let mut registry_view = None;
        let network: Arc<dyn NetworkView> = match (self.network, &cfg.registry) {
            (Some(n), _) => n,
            (None, Some(settings)) => {
                let view = Arc::new(RegistryNetwork::new(identity.ed25519_public()));
                registry_view = Some(view.clone());
                follower = Some(Arc::new(RegistryFollower::new(
                    settings.clone(),
                    view.clone(),
                    identity.clone(),
                    self.clock.clone(),
                    Announce {
                        public_ip: cfg.public_ip,
                        https_port: local.port(),
                        omq_port: cfg.omq_port,
                    },
                    cfg.uptime_proof_interval_secs,
                )));
                view
            }
            (None, None) => Arc::new(
                SingleNodeNetwork::new(SnodeInfo {
                    pubkey_ed25519: identity.ed25519_public(),
                    pubkey_x25519: identity.x25519_public(),
                    pubkey_legacy: identity.legacy_public(),
                    ip: cfg.public_ip,
                    https_port: local.port(),
                    omq_port: cfg.omq_port,
                })
                .with_hardfork((cfg.hardfork[0], cfg.hardfork[1])),
            ),
        };
        // Swarm life: forwarding, hand-over and peer tests need the registry's view.
        let peers = Arc::new(PeerClient::new(
            identity.clone(),
            self.clock.clone(),
            cfg.tls,
        ));
        let queue: Arc<dyn ForwardQueue> = match cfg.store {
            StoreBackend::Sqlite => Arc::new(SqliteForwardQueue::open(&cfg.data_dir)?),
            StoreBackend::Memory => Arc::new(MemoryForwardQueue::new()),
        };
        let forwarder = Arc::new(Forwarder::new(
            peers.clone(),
            queue,
            network.clone(),
            self.clock.clone(),
        ));
        let mut handover = None;
        let mut tester = None;
        if let (Some(f), Some(view), Some(settings)) = (&follower, &registry_view, &cfg.registry) {
            let h = Arc::new(HandOver::new(
                identity.ed25519_public(),
                store.clone(),
                peers.clone(),
                self.clock.clone(),
            ));
            f.set_handover(h.clone());
            handover = Some(h);
            tester = Some(Arc::new(Tester::new(
                identity.clone(),
                peers.clone(),
                RegistryClient::new(settings.url.clone()),
                view.clone(),
                self.clock.clone(),
            )));
        }
        let mut rpc = Rpc::new(store, network, identity, self.clock.clone())
            .with_forwarder(forwarder.clone());
        if let Some(settings) = &cfg.registry {
            rpc = rpc.with_oxend(Arc::new(RegistryClient::new(settings.url.clone())));
        }
        let onion = OnionRelay::new(rpc.clone(), peers, Arc::new(ServerProxy::default()));
        let state = Arc::new(ServerState {
            rpc,
            limiter: RateLimiter::new(cfg.rate_limit(), self.clock.clone()),
            force_start: cfg.force_start,
            cors_any: cfg.cors_any,
            onion,
        });
        Ok(Node {
            state,
            follower,
            forwarder,
            handover,
            tester,
            peer_testing: cfg.peer_testing,
            tls,
            clock: self.clock,
            local,
            drain_timeout: Duration::from_secs(cfg.drain_timeout_secs),
        })
    }
}

/// A node ready to serve.
pub struct Node {
    state: Arc<ServerState>,
    follower: Option<Arc<RegistryFollower>>,
    forwarder: Arc<Forwarder>,
    handover: Option<Arc<HandOver>>,
    tester: Option<Arc<Tester>>,
    peer_testing: bool,
    tls: Option<TlsAcceptor>,
    clock: Arc<dyn Clock>,
    local: SocketAddr,
    drain_timeout: Duration,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("local", &self.local)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// The RPC engine (in-process access for tests and tools).
    pub fn rpc(&self) -> &Rpc {
        &self.state.rpc
    }

    /// The node's identity.
    pub fn identity(&self) -> &Arc<NodeIdentity> {
        self.state.rpc.identity()
    }

    /// The registry follower, when the node follows a registry.
    pub fn follower(&self) -> Option<&Arc<RegistryFollower>> {
        self.follower.as_ref()
    }

    /// The forwarder of client writes to swarm peers (and its retry queue).
    pub fn forwarder(&self) -> &Arc<Forwarder> {
        &self.forwarder
    }

    /// The swarm hand-over runner, when the node follows a registry.
    pub fn handover(&self) -> Option<&Arc<HandOver>> {
        self.handover.as_ref()
    }

    /// The peer tester, when the node follows a registry (it runs a round on each block
    /// only with `peer_testing`; otherwise the owner calls [`Tester::run_round`]).
    pub fn tester(&self) -> Option<&Arc<Tester>> {
        self.tester.as_ref()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether the node serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves on `listener` until `shutdown` fires; in-flight requests (and their
    /// database writes) finish before this returns.
    pub async fn run(self, listener: TcpListener, shutdown: Shutdown) -> Result<()> {
        tracing::info!(
            addr = %self.local,
            tls = self.tls.is_some(),
            pubkey = %self.identity().ed25519_hex(),
            "storage node listening"
        );
        let sweeper = tokio::spawn(sweep_expired(
            self.state.rpc.store().clone(),
            self.clock.clone(),
            shutdown.clone(),
        ));
        let mut tasks = vec![tokio::spawn(self.forwarder.clone().run(shutdown.clone()))];
        if let Some(h) = &self.handover {
            tasks.push(tokio::spawn(h.clone().run(shutdown.clone())));
        }
        if let (Some(t), Some(f), true) = (&self.tester, &self.follower, self.peer_testing) {
            tasks.push(tokio::spawn(t.clone().run(f.subscribe(), shutdown.clone())));
        }
        let follower = self
            .follower
            .clone()
            .map(|f| tokio::spawn(f.run(shutdown.clone())));
        let opts = ServeOptions {
            drain_timeout: self.drain_timeout,
            ..ServeOptions::default()
        };
        let result = serve(
            listener,
            router(self.state.clone()),
            self.tls,
            shutdown,
            opts,
        )
        .await;
        sweeper.abort();
        let _ = sweeper.await;
        if let Some(f) = follower {
            f.abort();
            let _ = f.await;
        }
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        tracing::info!("storage node stopped");
        result.map_err(NodeError::from)
    }
}

/// Deletes expired messages at start-up and then every 10 s of `clock` time.
async fn sweep_expired(store: Arc<dyn MessageStore>, clock: Arc<dyn Clock>, shutdown: Shutdown) {
    loop {
        let now = clock.now_ms();
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        match store.delete_expired(at).await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "expired messages removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!("expiry sweep failed: {e}"),
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = clock.sleep_until_ms(now.saturating_add(EXPIRY_SWEEP_MS)) => {}
        }
    }
}
