//! [`OnionClient`]: the node directory, the onion paths and the requests that travel
//! over them, tied together.
//!
//! * **Directory upkeep.** The first request bootstraps the directory from the
//!   registry URLs of the network file (falling back to its `[[nodes]]`). It is
//!   refreshed from 3 random nodes (`oxend_request` → `get_service_nodes`, through the
//!   onion once paths exist), keeping the nodes all of them list, when it is older than
//!   `refresh_interval_secs` or has shrunk below `min_pool` since the last refresh;
//!   if the nodes disagree or fail, from the registries again.
//! * **Paths.** `paths` paths of `path_hops` hops are kept; each new path starts at a
//!   guard that first answers a plain `info` storage RPC (see [`crate::paths`] for the
//!   selection rules).
//! * **Failures and retries.** A request goes over a random path; when the path fails
//!   (the guard is unreachable or times out, a hop answers a plaintext error, the reply
//!   does not decrypt) the path and the nodes that can be blamed get a failure (the
//!   guard for connection errors; a node named in the error body; otherwise the
//!   non-guard hops, as desktop does), and the request is retried on another path (and,
//!   for swarm requests, another swarm member), up to `attempts` times. A node named by
//!   `Next node not found` is dropped at once. Three failures drop a path or a node;
//!   missing paths are rebuilt before the next attempt. A status from the destination
//!   itself (401, 406, 421 …) is an answer, not a failure, and is returned.
//! * **Network time.** Every storage RPC answer carrying `"t"` gives a sample of the
//!   offset between the network's clock and the client's; [`OnionClient::network_now_ms`]
//!   is the local clock plus the median of the recent samples (what signatures must be
//!   timestamped with).
//!
//! The client's clock is injected (a [`session_rt::MockClock`] in tests: nodes check
//! request timestamps against their own clock). Time limits on the network use real
//! timers (see [`crate::transport`]).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use session_crypto::onion::HopKey;
use session_rt::{Clock, SystemClock};
use session_wire::onion::{V4RequestInfo, V4Response, encode_v4_request};

use crate::config::{ClientSettings, HttpUrl, NetworkConfig};
use crate::directory::{
    NodeDirectory, Snode, accept_intersection, oxend_request_params, parse_service_node_states,
    parse_swarm, registry_request_body,
};
use crate::error::{ClientError, Result};
use crate::onion::{
    BuiltRequest, ONION_ENDPOINT, ServerTarget, SnodeReply, build_server_request,
    build_snode_request, decode_server_reply, decode_snode_reply, next_node_not_found, rpc_body,
};
use crate::paths::{OnionPath, PathSet, build_path, guard_candidates};
use crate::rng::Rng;
use crate::transport::Transport;

/// Nodes asked for their node list on a refresh.
const REFRESH_SOURCES: usize = 3;
/// Clock-offset samples kept.
const OFFSET_SAMPLES: usize = 8;
/// Guard candidates tested before path building gives up for now.
const MAX_GUARD_TESTS: usize = 8;
/// After a path build fell short (with some paths left), wait this long before trying
/// again, so a small network does not test guards on every request.
const BUILD_BACKOFF: Duration = Duration::from_secs(5);
/// 421 answers followed before a swarm request gives up.
const MAX_WRONG_SWARM: usize = 2;
/// Error bodies are cut to this many characters.
const ERROR_BODY_CHARS: usize = 200;

/// A Session client's onion-routing network layer. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct OnionClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    network: NetworkConfig,
    clock: Arc<dyn Clock>,
    transport: Transport,
    state: Mutex<State>,
    /// Serializes directory refreshes and path building.
    upkeep: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    directory: NodeDirectory,
    paths: PathSet,
    /// Account id (hex) → its swarm's members.
    swarms: HashMap<String, Vec<Snode>>,
    offsets: VecDeque<i64>,
    rng: Rng,
    /// Directory size right after the last refresh.
    pool_after_refresh: usize,
    /// When a path build last fell short.
    build_short_at: Option<Instant>,
}

/// Builds the guard body for a path and an optional destination node.
type BuildFn<'a> = dyn Fn(&[Snode], Option<&Snode>) -> Result<BuiltRequest> + Sync + 'a;
/// Decodes the destination's HTTP-200 answer with the innermost key.
type DecodeFn<'a, T> = dyn Fn(&HopKey, &[u8]) -> Result<T> + Sync + 'a;

/// What one attempt of a request loop came to.
enum Step<T> {
    /// Answered.
    Done(T),
    /// Failed; another attempt may succeed.
    Again,
    /// No path is left to try.
    Stop,
}

/// What a request loop has tried so far.
#[derive(Default)]
struct Tries {
    /// Destinations that failed.
    failed: Vec<[u8; 32]>,
    /// Paths that failed.
    tried: Vec<u64>,
    /// Attempts sent.
    sent: usize,
    /// The last error.
    last: Option<ClientError>,
}

impl Tries {
    fn exhausted(self) -> ClientError {
        ClientError::Exhausted {
            attempts: self.sent,
            last: Box::new(
                self.last
                    .unwrap_or(ClientError::NotEnoughNodes { have: 0, need: 1 }),
            ),
        }
    }
}

/// Who a path failure is charged to (besides the path itself).
enum Blame {
    /// The guard (unreachable).
    Guard,
    /// Every hop after the guard (the failing hop is unknown).
    LaterHops,
    /// These nodes (named in the error).
    Nodes(Vec<[u8; 32]>),
}

fn truncate(text: &str) -> String {
    text.chars().take(ERROR_BODY_CHARS).collect()
}

fn check_account(account: &str) -> Result<()> {
    let ok = account.len() == 66 && account.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(ClientError::BadInput {
            what: "account id",
            reason: format!(
                "expected 66 hex characters, got {} characters",
                account.len()
            ),
        })
    }
}

impl OnionClient {
    /// A client for `network`, reading time from `clock`. Nothing is fetched until the
    /// first request (or [`OnionClient::bootstrap`]).
    pub fn new(network: NetworkConfig, clock: Arc<dyn Clock>) -> Self {
        let connect = Duration::from_millis(network.client.connect_timeout_ms);
        let transport = Transport::new(network.storage_https, connect);
        Self {
            inner: Arc::new(Inner {
                network,
                clock,
                transport,
                state: Mutex::new(State {
                    directory: NodeDirectory::new(),
                    paths: PathSet::new(),
                    swarms: HashMap::new(),
                    offsets: VecDeque::new(),
                    rng: Rng::from_entropy(),
                    pool_after_refresh: 0,
                    build_short_at: None,
                }),
                upkeep: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A client on the system clock.
    pub fn with_system_clock(network: NetworkConfig) -> Self {
        Self::new(network, SystemClock::shared())
    }

    /// The network file this client uses.
    pub fn network(&self) -> &NetworkConfig {
        &self.inner.network
    }

    fn settings(&self) -> &ClientSettings {
        &self.inner.network.client
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    fn ban_ms(&self) -> u64 {
        self.settings().refresh_interval_secs.saturating_mul(1000)
    }

    // -----------------------------------------------------------------------------
    // Introspection and network time
    // -----------------------------------------------------------------------------

    /// The nodes of the directory.
    pub fn nodes(&self) -> Vec<Snode> {
        self.state().directory.nodes()
    }

    /// The current onion paths (hops guard first, with their failure counts).
    pub fn paths(&self) -> Vec<OnionPath> {
        self.state().paths.paths().to_vec()
    }

    /// Failures counted against a node since its last success.
    pub fn node_failures(&self, ed25519: &[u8; 32]) -> u32 {
        self.state().directory.failures(ed25519)
    }

    /// The network clock minus the local one (ms): the median of recent samples, 0
    /// before any node answered.
    pub fn clock_offset_ms(&self) -> i64 {
        let mut v: Vec<i64> = self.state().offsets.iter().copied().collect();
        if v.is_empty() {
            return 0;
        }
        v.sort_unstable();
        v[v.len() / 2]
    }

    /// The network's time (ms): the local clock corrected by [`Self::clock_offset_ms`].
    /// Sign storage requests with it.
    pub fn network_now_ms(&self) -> u64 {
        self.now_ms().saturating_add_signed(self.clock_offset_ms())
    }

    fn sample_offset(&self, body: &Value) {
        let Some(t) = body.get("t").and_then(Value::as_u64) else {
            return;
        };
        let local = self.now_ms();
        let offset = i64::try_from(i128::from(t) - i128::from(local)).unwrap_or(0);
        let mut st = self.state();
        st.offsets.push_back(offset);
        while st.offsets.len() > OFFSET_SAMPLES {
            st.offsets.pop_front();
        }
    }

    // -----------------------------------------------------------------------------
    // Directory upkeep
    // -----------------------------------------------------------------------------

    /// Fills the directory from the registries (or the fallback nodes) now; returns
    /// the number of nodes.
    pub async fn bootstrap(&self) -> Result<usize> {
        let _upkeep = self.inner.upkeep.lock().await;
        self.bootstrap_locked().await
    }

    /// Refreshes the directory now (from nodes, else from the registries); returns
    /// the number of nodes.
    pub async fn refresh_nodes(&self) -> Result<usize> {
        let _upkeep = self.inner.upkeep.lock().await;
        self.refresh_locked().await
    }

    /// Bootstraps and builds paths as needed; fails only when no path can be had.
    pub async fn ensure_paths(&self) -> Result<()> {
        let _upkeep = self.inner.upkeep.lock().await;
        self.maintain_locked().await
    }

    fn install_nodes(&self, nodes: Vec<Snode>) -> usize {
        let now = self.now_ms();
        let ban = self.ban_ms();
        let mut st = self.state();
        st.directory.replace(nodes, now, ban);
        let State {
            directory, paths, ..
        } = &mut *st;
        paths.retain_known(|k| directory.contains(k));
        st.pool_after_refresh = st.directory.len();
        st.directory.len()
    }

    async fn bootstrap_locked(&self) -> Result<usize> {
        let nodes = self.fetch_from_registries().await?;
        let n = self.install_nodes(nodes);
        tracing::info!(nodes = n, "node directory bootstrapped");
        Ok(n)
    }

    async fn refresh_locked(&self) -> Result<usize> {
        let sources = {
            let mut st = self.state();
            let State { directory, rng, .. } = &mut *st;
            directory.random_nodes(REFRESH_SOURCES, &BTreeSet::new(), rng)
        };
        let via_onion = !self.state().paths.is_empty();
        let nodes = match self.fetch_from_nodes(&sources, via_onion).await {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::info!(error = %e, "refresh from nodes failed; asking the registries");
                self.fetch_from_registries().await?
            }
        };
        let n = self.install_nodes(nodes);
        tracing::debug!(nodes = n, "node directory refreshed");
        Ok(n)
    }

    async fn fetch_registry(&self, url: &HttpUrl) -> Result<Vec<Snode>> {
        let body = registry_request_body().to_string().into_bytes();
        let limit = Duration::from_millis(self.settings().request_timeout_ms);
        let r = self.inner.transport.post_url(url, body, limit).await?;
        if r.status != 200 {
            return Err(ClientError::Http {
                target: url.to_string(),
                reason: format!("HTTP {}: {}", r.status, truncate(&r.text())),
            });
        }
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| ClientError::BadReply {
            what: "registry answer",
            reason: e.to_string(),
        })?;
        parse_service_node_states(&v)
    }

    /// Sends one JSON-RPC request straight to the network's registries (not through
    /// the onion: for public transactions such as registering a name), trying each
    /// `registry_urls` entry in turn; returns the first JSON-RPC answer — its `result`
    /// or `error` object, as the registry sent it — and the URL that gave it.
    ///
    /// # Errors
    /// [`ClientError::Registry`] when the network file lists no registry or none of them
    /// gives a JSON-RPC answer (each one's failure is listed).
    pub async fn registry_call(&self, method: &str, params: Value) -> Result<(Value, HttpUrl)> {
        let urls = self.inner.network.registry_endpoints();
        if urls.is_empty() {
            return Err(ClientError::Registry {
                reason: "the network file lists no registry_urls".into(),
            });
        }
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            .to_string()
            .into_bytes();
        let limit = Duration::from_millis(self.settings().request_timeout_ms);
        let mut failures = Vec::new();
        for url in urls {
            match self
                .inner
                .transport
                .post_url(&url, body.clone(), limit)
                .await
            {
                Ok(r) => match serde_json::from_slice::<Value>(&r.body) {
                    Ok(v) if v.get("result").is_some() || v.get("error").is_some() => {
                        return Ok((v, url));
                    }
                    _ => failures.push(format!(
                        "{url}: HTTP {} with a body that is not a JSON-RPC answer",
                        r.status
                    )),
                },
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        Err(ClientError::Registry {
            reason: failures.join("; "),
        })
    }

    /// The registries in order, then the fallback `[[nodes]]` (asked for their lists
    /// directly, or used as they are when they do not answer).
    async fn fetch_from_registries(&self) -> Result<Vec<Snode>> {
        let mut errors = Vec::new();
        for url in self.inner.network.registry_endpoints() {
            match self.fetch_registry(&url).await {
                Ok(nodes) if !nodes.is_empty() => return Ok(nodes),
                Ok(_) => errors.push(format!("{url}: no usable nodes")),
                Err(e) => errors.push(format!("{url}: {e}")),
            }
        }
        let seeds = self.inner.network.seed_nodes();
        if seeds.is_empty() {
            return Err(ClientError::Bootstrap {
                reason: errors.join("; "),
            });
        }
        tracing::warn!(errors = %errors.join("; "), "no registry answered; using the network file's [[nodes]]");
        let sources: Vec<Snode> = seeds.iter().take(REFRESH_SOURCES).cloned().collect();
        Ok(self
            .fetch_from_nodes(&sources, false)
            .await
            .unwrap_or(seeds))
    }

    /// Asks each source for the node list (through the onion or directly) and keeps
    /// the intersection.
    async fn fetch_from_nodes(&self, sources: &[Snode], via_onion: bool) -> Result<Vec<Snode>> {
        let mut lists = Vec::new();
        let mut errors = Vec::new();
        for s in sources {
            let reply = if via_onion {
                self.upkeep_snode(s, "oxend_request", oxend_request_params())
                    .await
            } else {
                self.direct_rpc(s, "oxend_request", oxend_request_params())
                    .await
            };
            match reply {
                Ok(r) if r.status == 200 => match parse_service_node_states(&r.body) {
                    Ok(list) if !list.is_empty() => lists.push(list),
                    Ok(_) => errors.push(format!("{:?}: empty list", s)),
                    Err(e) => errors.push(format!("{s:?}: {e}")),
                },
                Ok(r) => errors.push(format!("{s:?}: status {}", r.status)),
                Err(e) => errors.push(format!("{s:?}: {e}")),
            }
        }
        if sources.is_empty() || lists.len() < sources.len() {
            return Err(ClientError::Bootstrap {
                reason: format!(
                    "{} of {} nodes gave their node list ({})",
                    lists.len(),
                    sources.len(),
                    errors.join("; ")
                ),
            });
        }
        accept_intersection(&lists, self.settings().min_pool).ok_or_else(|| {
            ClientError::Bootstrap {
                reason: format!("the node lists of {} nodes disagree", lists.len()),
            }
        })
    }

    /// A storage RPC sent straight to a node (guard tests, bootstrap from seeds).
    async fn direct_rpc(&self, node: &Snode, method: &str, params: Value) -> Result<SnodeReply> {
        let limit = Duration::from_millis(self.settings().connect_timeout_ms);
        let r = self
            .inner
            .transport
            .post(
                node.addr,
                "/storage_rpc/v1",
                rpc_body(method, params),
                limit,
            )
            .await?;
        let body = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()));
        self.sample_offset(&body);
        Ok(SnodeReply {
            status: r.status,
            body,
        })
    }

    // -----------------------------------------------------------------------------
    // Paths
    // -----------------------------------------------------------------------------

    /// Whether the directory must be filled or refreshed, or paths built.
    fn needs_maintenance(&self) -> bool {
        if self.needs_refresh() {
            return true;
        }
        let st = self.state();
        let backing_off = st
            .build_short_at
            .is_some_and(|t| t.elapsed() < BUILD_BACKOFF && !st.paths.is_empty());
        st.directory.is_empty() || (st.paths.len() < self.settings().paths && !backing_off)
    }

    async fn maintain(&self) -> Result<()> {
        let _upkeep = self.inner.upkeep.lock().await;
        if !self.needs_maintenance() {
            return Ok(());
        }
        self.maintain_locked().await
    }

    async fn maintain_locked(&self) -> Result<()> {
        if self.state().directory.is_empty() {
            self.bootstrap_locked().await?;
        } else if self.needs_refresh()
            && let Err(e) = self.refresh_locked().await
        {
            tracing::warn!(error = %e, "node directory refresh failed; keeping the old list");
            let now = self.now_ms();
            let mut st = self.state();
            st.directory.mark_refreshed(now);
            st.pool_after_refresh = st.directory.len();
        }
        self.build_paths_locked().await
    }

    /// Whether the directory is older than the refresh interval, or has shrunk below
    /// `min_pool` since the last refresh.
    fn needs_refresh(&self) -> bool {
        let s = self.settings();
        let now = self.now_ms();
        let st = self.state();
        let d = &st.directory;
        d.is_stale(now, s.refresh_interval_secs.saturating_mul(1000))
            || (d.len() < s.min_pool && d.len() < st.pool_after_refresh)
    }

    /// Builds paths until `paths` exist. Falling short is an error only without any
    /// path.
    async fn build_paths_locked(&self) -> Result<()> {
        let (want, hops) = (self.settings().paths, self.settings().path_hops);
        while self.state().paths.len() < want {
            if let Err(e) = self.build_one_path().await {
                let mut st = self.state();
                st.build_short_at = Some(Instant::now());
                if st.paths.is_empty() {
                    return Err(e);
                }
                tracing::warn!(error = %e, have = st.paths.len(), want, "fewer onion paths than configured");
                return Ok(());
            }
        }
        self.state().build_short_at = None;
        tracing::debug!(paths = want, hops, "onion paths ready");
        Ok(())
    }

    async fn build_one_path(&self) -> Result<()> {
        let hops = self.settings().path_hops;
        let (pool, candidates) = {
            let mut st = self.state();
            let pool = st.directory.nodes();
            let taken = st.paths.guards();
            let mut c = guard_candidates(&pool, &taken, &mut st.rng);
            // Prefer a guard no other path goes through.
            let in_use = st.paths.nodes_in_use();
            c.sort_by_key(|n| in_use.contains(&n.ed25519));
            (pool, c)
        };
        if pool.len() < hops {
            return Err(ClientError::NotEnoughNodes {
                have: pool.len(),
                need: hops,
            });
        }
        let guard = self.find_guard(candidates).await?;
        let mut st = self.state();
        let State {
            directory,
            paths,
            rng,
            ..
        } = &mut *st;
        let avoid = paths.nodes_in_use();
        let path = build_path(&guard, &directory.nodes(), hops, &avoid, rng)?;
        tracing::debug!(path = ?path, "onion path built");
        paths.add(path);
        Ok(())
    }

    /// The first candidate that answers `info`; failing candidates get a failure.
    async fn find_guard(&self, candidates: Vec<Snode>) -> Result<Snode> {
        let mut last = String::from("no candidate");
        let mut tested = 0;
        for cand in candidates.into_iter().take(MAX_GUARD_TESTS) {
            tested += 1;
            match self.direct_rpc(&cand, "info", json!({})).await {
                Ok(r) if r.status == 200 => return Ok(cand),
                Ok(r) => last = format!("{cand:?}: status {}", r.status),
                Err(e) => last = format!("{cand:?}: {e}"),
            }
            tracing::debug!(guard = ?cand, error = %last, "guard candidate failed its test");
            let now = self.now_ms();
            self.state().directory.record_failure(&cand.ed25519, now);
        }
        Err(ClientError::NoGuard { tested, last })
    }

    // -----------------------------------------------------------------------------
    // Failure accounting
    // -----------------------------------------------------------------------------

    fn drop_node_locked(st: &mut State, ed25519: &[u8; 32], now_ms: u64) {
        st.directory.drop_node(ed25519, now_ms);
        st.paths.drop_node(ed25519);
        for members in st.swarms.values_mut() {
            members.retain(|m| &m.ed25519 != ed25519);
        }
    }

    fn drop_node(&self, ed25519: &[u8; 32]) {
        let now = self.now_ms();
        tracing::info!(node = %hex::encode(&ed25519[..6]), "dropping a node the network does not know");
        Self::drop_node_locked(&mut self.state(), ed25519, now);
    }

    fn blame(&self, path: &OnionPath, who: Blame) {
        let now = self.now_ms();
        let nodes: Vec<[u8; 32]> = match who {
            Blame::Guard => path.hops().iter().take(1).map(|h| h.ed25519).collect(),
            Blame::LaterHops => path.hops().iter().skip(1).map(|h| h.ed25519).collect(),
            Blame::Nodes(v) => v,
        };
        if let Some(guard) = path.guard() {
            self.inner.transport.forget(guard.addr);
        }
        // A destination that failed by itself is not the path's fault.
        let path_at_fault = nodes.is_empty() || nodes.iter().any(|n| path.contains(n));
        let mut st = self.state();
        if path_at_fault && st.paths.record_failure(path.id()) {
            tracing::info!(
                path = path.id(),
                "onion path dropped after repeated failures"
            );
        }
        for n in nodes {
            if st.directory.record_failure(&n, now) {
                tracing::info!(node = %hex::encode(&n[..6]), "node dropped after repeated failures");
                Self::drop_node_locked(&mut st, &n, now);
            }
        }
    }

    fn on_success(&self, path: &OnionPath, dest: Option<&Snode>) {
        let mut st = self.state();
        st.paths.record_success(path.id());
        for n in path.hops().iter().chain(dest) {
            st.directory.record_success(&n.ed25519);
        }
    }

    /// Handles a plaintext (path-level) error status: drops a node the network does
    /// not know, otherwise charges the path and the nodes it can blame.
    ///
    /// For a server request (`dest` is `None`), an error that names no hop is the
    /// server's own answer or the exit's report that it cannot reach the server: the
    /// path worked, nothing is charged and the error is returned as it is.
    fn on_path_status(
        &self,
        path: &OnionPath,
        dest: Option<&Snode>,
        status: u16,
        body: &str,
    ) -> ClientError {
        let names_a_hop = path.hops().iter().any(|h| body.contains(&h.ed25519_hex()));
        if dest.is_none()
            && !names_a_hop
            && next_node_not_found(body).is_none()
            && !body.contains("Invalid ciphertext")
        {
            return ClientError::ServerStatus {
                status,
                body: truncate(body),
            };
        }
        if let Some(bad) = next_node_not_found(body) {
            self.drop_node(&bad);
            if dest.is_some_and(|d| d.ed25519 == bad) {
                return ClientError::UnknownDestination {
                    ed25519: hex::encode(bad),
                };
            }
        } else {
            let named: Vec<[u8; 32]> = path
                .hops()
                .iter()
                .chain(dest)
                .filter(|n| body.contains(&n.ed25519_hex()))
                .map(|n| n.ed25519)
                .collect();
            let who = if named.is_empty() {
                Blame::LaterHops
            } else {
                Blame::Nodes(named)
            };
            self.blame(path, who);
        }
        ClientError::PathStatus {
            status,
            body: truncate(body),
        }
    }

    // -----------------------------------------------------------------------------
    // Requests
    // -----------------------------------------------------------------------------

    /// One attempt over `path`.
    async fn attempt<T>(
        &self,
        path: &OnionPath,
        dest: Option<&Snode>,
        built: BuiltRequest,
        decode: &DecodeFn<'_, T>,
    ) -> Result<T> {
        let guard = path
            .guard()
            .ok_or(ClientError::NotEnoughNodes { have: 0, need: 1 })?;
        let limit = Duration::from_millis(self.settings().request_timeout_ms);
        let sent = self
            .inner
            .transport
            .post(guard.addr, ONION_ENDPOINT, built.guard_body, limit)
            .await;
        let reply = match sent {
            Ok(r) => r,
            Err(e) => {
                self.blame(path, Blame::Guard);
                return Err(e);
            }
        };
        if reply.status != 200 {
            return Err(self.on_path_status(path, dest, reply.status, &reply.text()));
        }
        match decode(&built.reply_key, &reply.body) {
            Ok(v) => {
                self.on_success(path, dest);
                Ok(v)
            }
            Err(e) => {
                self.blame(path, Blame::Nodes(Vec::new()));
                Err(e)
            }
        }
    }

    /// Picks a destination among `dests` (avoiding those that failed) and a path
    /// (avoiding tried ones).
    fn choose(
        &self,
        dests: &[Snode],
        failed: &[[u8; 32]],
        tried: &[u64],
    ) -> (Option<Snode>, Option<OnionPath>) {
        let mut st = self.state();
        let fresh: Vec<&Snode> = dests
            .iter()
            .filter(|d| !failed.contains(&d.ed25519))
            .collect();
        let dest = match fresh.len() {
            0 => dests.get(st.rng.below(dests.len())).cloned(),
            n => fresh.get(st.rng.below(n)).map(|d| (*d).clone()),
        };
        let State { paths, rng, .. } = &mut *st;
        let path = paths.pick(dest.as_ref().map(|d| &d.ed25519), tried, rng);
        (dest, path)
    }

    /// One attempt of a request loop: picks a destination among `dests` (none for a
    /// server) and an untried path, and sends.
    async fn step<T>(
        &self,
        dests: &[Snode],
        build: &BuildFn<'_>,
        decode: &DecodeFn<'_, T>,
        tries: &mut Tries,
    ) -> Result<Step<T>> {
        let (dest, path) = self.choose(dests, &tries.failed, &tries.tried);
        let Some(path) = path else {
            tries.last = Some(ClientError::NotEnoughNodes {
                have: self.state().directory.len(),
                need: self.settings().path_hops,
            });
            return Ok(Step::Stop);
        };
        let built = build(path.hops(), dest.as_ref())?;
        tries.sent += 1;
        match self.attempt(&path, dest.as_ref(), built, decode).await {
            Ok(v) => Ok(Step::Done(v)),
            Err(e) => {
                tracing::debug!(path = path.id(), error = %e, "onion attempt failed");
                tries.tried.push(path.id());
                if let Some(d) = &dest {
                    tries.failed.push(d.ed25519);
                }
                let unknown = matches!(e, ClientError::UnknownDestination { .. });
                if unknown && dests.iter().all(|d| tries.failed.contains(&d.ed25519)) {
                    return Err(e);
                }
                if matches!(e, ClientError::ServerStatus { .. }) {
                    return Err(e);
                }
                tries.last = Some(e);
                Ok(Step::Again)
            }
        }
    }

    /// The retry loop of every request: up to `attempts` attempts over different paths
    /// (and destinations among the interchangeable `dests`), rebuilding paths between
    /// attempts as needed.
    async fn run<T>(
        &self,
        dests: &[Snode],
        build: &BuildFn<'_>,
        decode: &DecodeFn<'_, T>,
    ) -> Result<T> {
        let mut tries = Tries::default();
        for _ in 0..self.settings().attempts {
            if self.needs_maintenance()
                && let Err(e) = self.maintain().await
                && self.state().paths.is_empty()
            {
                return Err(e);
            }
            match self.step(dests, build, decode, &mut tries).await? {
                Step::Done(v) => return Ok(v),
                Step::Again => {}
                Step::Stop => break,
            }
        }
        Err(tries.exhausted())
    }

    /// [`Self::run`] for the directory upkeep itself: the same loop over the existing
    /// paths, never rebuilding them (the upkeep is what rebuilds them).
    async fn run_in_upkeep<T>(
        &self,
        dests: &[Snode],
        build: &BuildFn<'_>,
        decode: &DecodeFn<'_, T>,
    ) -> Result<T> {
        let mut tries = Tries::default();
        for _ in 0..self.settings().attempts {
            match self.step(dests, build, decode, &mut tries).await? {
                Step::Done(v) => return Ok(v),
                Step::Again => {}
                Step::Stop => break,
            }
        }
        Err(tries.exhausted())
    }

    /// The storage RPC body and the builder of requests carrying it.
    fn snode_builder(
        &self,
        method: &str,
        params: Value,
    ) -> impl Fn(&[Snode], Option<&Snode>) -> Result<BuiltRequest> + Sync + use<> {
        let rpc = rpc_body(method, params);
        let enc = self.settings().enc_type;
        move |hops: &[Snode], dest: Option<&Snode>| {
            let dest = dest.ok_or(ClientError::BadInput {
                what: "destination",
                reason: "no node to send to".into(),
            })?;
            build_snode_request(hops, dest, enc, &rpc)
        }
    }

    /// A storage RPC through the onion to one of `dests`.
    async fn onion_snode(
        &self,
        dests: &[Snode],
        method: &str,
        params: Value,
    ) -> Result<SnodeReply> {
        let build = self.snode_builder(method, params);
        let reply = self.run(dests, &build, &decode_snode_reply).await?;
        self.sample_offset(&reply.body);
        Ok(reply)
    }

    /// [`Self::onion_snode`] for the directory upkeep.
    async fn upkeep_snode(&self, dest: &Snode, method: &str, params: Value) -> Result<SnodeReply> {
        let build = self.snode_builder(method, params);
        let reply = self
            .run_in_upkeep(std::slice::from_ref(dest), &build, &decode_snode_reply)
            .await?;
        self.sample_offset(&reply.body);
        Ok(reply)
    }

    /// Up to `k` distinct random nodes of the directory, preferring nodes that are not
    /// on a current path (bootstrapping and building paths first if needed):
    /// destinations for questions several nodes must agree on (names).
    pub async fn random_nodes(&self, k: usize) -> Result<Vec<Snode>> {
        if self.needs_maintenance() {
            self.maintain().await?;
        }
        let mut st = self.state();
        let State {
            directory,
            paths,
            rng,
            ..
        } = &mut *st;
        let mut picked = directory.random_nodes(k, &paths.nodes_in_use(), rng);
        if picked.len() < k {
            // A small network: nodes on paths are better than too few answers.
            let have: BTreeSet<[u8; 32]> = picked.iter().map(|n| n.ed25519).collect();
            picked.extend(directory.random_nodes(k - picked.len(), &have, rng));
        }
        Ok(picked)
    }

    /// Sends the storage RPC `{method, params}` to node `dest` through an onion path.
    /// The destination's own status (200, 401, 421 …) comes back in the reply;
    /// errors are for requests that did not reach it.
    pub async fn snode_request(
        &self,
        dest: &Snode,
        method: &str,
        params: Value,
    ) -> Result<SnodeReply> {
        self.onion_snode(std::slice::from_ref(dest), method, params)
            .await
    }

    /// The members of an account's swarm (`get_swarm` through the onion, asked of a
    /// random node; cached until a member fails or a 421 names another swarm).
    pub async fn get_swarm(&self, account: &str) -> Result<Vec<Snode>> {
        check_account(account)?;
        if let Some(m) = self.state().swarms.get(account).filter(|m| !m.is_empty()) {
            return Ok(m.clone());
        }
        if self.needs_maintenance() {
            self.maintain().await?;
        }
        let sources = {
            let mut st = self.state();
            let State {
                directory,
                paths,
                rng,
                ..
            } = &mut *st;
            directory.random_nodes(REFRESH_SOURCES, &paths.nodes_in_use(), rng)
        };
        let reply = self
            .onion_snode(&sources, "get_swarm", json!({ "pubkey": account }))
            .await?;
        let swarm_err = |reason: String| ClientError::Swarm {
            account: session_rt::redact::redact_id(account),
            reason,
        };
        if reply.status != 200 {
            return Err(swarm_err(format!(
                "get_swarm answered {}: {}",
                reply.status,
                truncate(&reply.body.to_string())
            )));
        }
        let (_, members) = parse_swarm(&reply.body)?;
        if members.is_empty() {
            return Err(swarm_err("no swarm members are listed".into()));
        }
        self.state()
            .swarms
            .insert(account.to_owned(), members.clone());
        Ok(members)
    }

    /// Forgets the cached members of `account`'s swarm: the next request for it asks
    /// the network again (after a member answered 421, or failed).
    pub fn forget_swarm(&self, account: &str) {
        self.state().swarms.remove(account);
    }

    /// Sends the storage RPC `{method, params}` to the swarm of `account` (66 hex):
    /// to a random member through the onion, another member (and path) on failure, and
    /// the swarm a 421 answer names.
    pub async fn swarm_request(
        &self,
        account: &str,
        method: &str,
        params: Value,
    ) -> Result<SnodeReply> {
        let mut members = self.get_swarm(account).await?;
        for _ in 0..=MAX_WRONG_SWARM {
            let reply = match self.onion_snode(&members, method, params.clone()).await {
                Ok(r) => r,
                Err(e) => {
                    self.state().swarms.remove(account);
                    return Err(e);
                }
            };
            if reply.status != 421 {
                return Ok(reply);
            }
            match parse_swarm(&reply.body) {
                Ok((_, new)) if !new.is_empty() => {
                    tracing::debug!(account = %session_rt::redact::redact_id(account), "421: following the new swarm");
                    self.state().swarms.insert(account.to_owned(), new.clone());
                    members = new;
                }
                _ => return Ok(reply),
            }
        }
        self.state().swarms.remove(account);
        Err(ClientError::Swarm {
            account: session_rt::redact::redact_id(account),
            reason: format!(
                "answered 421 (wrong swarm) {} times in a row",
                MAX_WRONG_SWARM + 1
            ),
        })
    }

    /// Sends a v4 request to a server through an onion path (the exit node proxies
    /// it to `server`'s `/oxen/v4/lsrpc`) and returns the server's v4 response.
    pub async fn server_request(
        &self,
        server: &ServerTarget,
        info: &V4RequestInfo,
        body: Option<&[u8]>,
    ) -> Result<V4Response> {
        let v4 = encode_v4_request(info, body);
        let enc = self.settings().enc_type;
        let build =
            |hops: &[Snode], _: Option<&Snode>| build_server_request(hops, server, enc, &v4);
        self.run(&[], &build, &decode_server_reply).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn request_futures_are_send() {
        let c = OnionClient::with_system_clock(NetworkConfig::new(
            "t",
            vec!["http://127.0.0.1:1/".into()],
        ));
        let node = crate::directory::tests::node(1, "127.0.0.1:1");
        assert_send(&c.snode_request(&node, "info", json!({})));
        assert_send(&c.swarm_request("05", "info", json!({})));
        let target = ServerTarget {
            host: "h".into(),
            port: 1,
            protocol: session_wire::onion::Protocol::Http,
            x25519: [1; 32],
        };
        let info = V4RequestInfo {
            method: "GET".into(),
            endpoint: "/".into(),
            headers: Default::default(),
        };
        assert_send(&c.server_request(&target, &info, None));
        assert_send(&c.ensure_paths());
        assert_send(&c.refresh_nodes());
    }

    #[test]
    fn account_ids_are_checked() {
        assert!(check_account(&format!("05{}", "ab".repeat(32))).is_ok());
        for bad in ["", "05", &"zz".repeat(33), &"ab".repeat(32)] {
            assert!(check_account(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clock_offset_is_the_median_of_samples() {
        let clock = session_rt::MockClock::new(1_000_000);
        let c = OnionClient::new(
            NetworkConfig::new("t", vec!["http://127.0.0.1:1/json_rpc".into()]),
            clock.shared(),
        );
        assert_eq!(c.clock_offset_ms(), 0);
        assert_eq!(c.network_now_ms(), 1_000_000);
        for t in [1_000_500u64, 999_000, 1_000_200] {
            c.sample_offset(&json!({ "t": t }));
        }
        c.sample_offset(&json!({"no": "t"}));
        assert_eq!(c.clock_offset_ms(), 200);
        assert_eq!(c.network_now_ms(), 1_000_200);
        for _ in 0..OFFSET_SAMPLES {
            c.sample_offset(&json!({ "t": 990_000 }));
        }
        assert_eq!(c.clock_offset_ms(), -10_000);
        assert_eq!(c.network_now_ms(), 990_000);
    }

    #[tokio::test]
    async fn unreachable_registries_give_a_helpful_error() {
        // Port 1 on loopback refuses connections.
        let c = OnionClient::with_system_clock(NetworkConfig::new(
            "t",
            vec!["http://127.0.0.1:1/json_rpc".into()],
        ));
        let e = c.bootstrap().await.unwrap_err().to_string();
        assert!(
            e.contains("registry_urls") && e.contains("127.0.0.1:1"),
            "{e}"
        );
        let e = c
            .snode_request(
                &crate::directory::tests::node(1, "127.0.0.1:1"),
                "info",
                json!({}),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Bootstrap { .. }), "{e}");
    }
}
