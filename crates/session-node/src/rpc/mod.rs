//! The client storage RPC (storage-node spec §2): `{"method", "params"}` in, a status
//! and a JSON or text body out. Parsing, signature checks and response signing run
//! inline on the calling task (tens of microseconds); database writes are awaited
//! without blocking a runtime thread.
//!
//! Recursive methods answer in the swarm shape `{"swarm": {<node>: result}, "t", "hf"}`.
//! The entry node validates and applies the write, then (with a [`Forwarder`]) forwards
//! the client's original request to every other member of the owning swarm and adds
//! their results (storage-node §2.3, §5.6). Unlike the reference, which forwards before
//! applying, a request this node rejects is never forwarded.

pub mod params;
pub mod request;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use session_rt::Clock;

use crate::auth::{KeyCache, verify_request};
use crate::error::{NodeError, Result};
use crate::identity::NodeIdentity;
use crate::limits::{
    RETRIEVE_MAX_SIZE, SIGNATURE_TOLERANCE_FORWARDED_MS, SIGNATURE_TOLERANCE_MS,
    STORE_TOLERANCE_MS, TTL_MAX_PRIVATE_MS, TTL_MAX_PUBLIC_MS, TTL_MIN_MS,
};
use crate::network::{NetworkView, Swarm, SwarmLookup};
use crate::registry::RegistryClient;
use crate::store::{ExpireMode, MessageStore, NewMessage, RetrieveLimits, read_failure};
use crate::swarm::Forwarder;
use crate::types::{Namespace, NsSelector, UserPubkey, access, message_hash};
use params::encode_base64;
use request::{
    Auth, Condition, Delete, DeleteAll, DeleteBefore, Expire, ExpireAll, GetExpiries, IfElse,
    Method, OxendCall, RecursiveRequest, Request, Retrieve, Revocation, Store,
};
use session_wire::request_sig::{self, ExpireMode as SignedExpireMode, NamespaceScope};

/// The storage-server version this node speaks (reported by `info` and `ifelse`).
pub const STORAGE_VERSION: [u16; 3] = [2, 8, 0];

/// A reply body.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcBody {
    /// `application/json`.
    Json(Value),
    /// `text/plain`.
    Text(String),
}

/// A status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcResponse {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: RpcBody,
}

impl RpcResponse {
    /// A JSON reply.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: RpcBody::Json(body),
        }
    }

    /// A text reply.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: RpcBody::Text(body.into()),
        }
    }

    /// The `{"code", "body"}` form used inside `batch`/`sequence`/`ifelse` results.
    fn as_subresult(&self) -> Value {
        let body = match &self.body {
            RpcBody::Json(v) => v.clone(),
            RpcBody::Text(s) => Value::String(s.clone()),
        };
        json!({"code": self.status, "body": body})
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where a request comes from, which decides the time windows and whether a
/// recursive write is forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A client: the normal windows; recursive writes are forwarded to the swarm.
    Client,
    /// Forwarded by a swarm peer (`sn.storage_cc`): 70 s signature windows (§10.9).
    Forwarded,
    /// Delivered from a peer's retry queue: the client's signature must still verify,
    /// but its timestamp may be as old as the queue keeps forwards (30 days), except for
    /// `delete_all`/`expire_all`, whose effect depends on when they are applied and
    /// which therefore keep the 70 s window (a late retry is refused and dropped).
    Retried,
}

impl Origin {
    /// The signature-timestamp tolerance for requests whose effect does not depend on
    /// when they are applied.
    fn sig_tolerance(self) -> i64 {
        match self {
            Self::Client => SIGNATURE_TOLERANCE_MS,
            Self::Forwarded => SIGNATURE_TOLERANCE_FORWARDED_MS,
            Self::Retried => i64::try_from(crate::swarm::backoff::GIVE_UP_AFTER_MS)
                .unwrap_or(i64::MAX)
                .saturating_add(SIGNATURE_TOLERANCE_FORWARDED_MS),
        }
    }

    /// The tolerance of `delete_all` and `expire_all`.
    fn relative_tolerance(self) -> i64 {
        match self {
            Self::Client => SIGNATURE_TOLERANCE_MS,
            Self::Forwarded | Self::Retried => SIGNATURE_TOLERANCE_FORWARDED_MS,
        }
    }
}

/// The storage RPC engine: store, network view, identity and clock.
#[derive(Debug, Clone)]
pub struct Rpc {
    store: Arc<dyn MessageStore>,
    network: Arc<dyn NetworkView>,
    identity: Arc<NodeIdentity>,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyCache>,
    forwarder: Option<Arc<Forwarder>>,
    oxend: Option<Arc<RegistryClient>>,
}

fn now_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now_ms()).unwrap_or(i64::MAX)
}

/// A request timestamp (parsed from a JSON unsigned integer, so never negative) as the
/// unsigned milliseconds of the signed strings.
fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn scope(ns: NsSelector) -> NamespaceScope {
    match ns {
        NsSelector::One(n) => NamespaceScope::One(n.0),
        NsSelector::All => NamespaceScope::All,
    }
}

fn sorted_hashes(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

impl Rpc {
    /// An engine over the given parts.
    pub fn new(
        store: Arc<dyn MessageStore>,
        network: Arc<dyn NetworkView>,
        identity: Arc<NodeIdentity>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            network,
            identity,
            clock,
            keys: Arc::default(),
            forwarder: None,
            oxend: None,
        }
    }

    /// Answers `oxend_request` by forwarding to this registry (the reference forwards to
    /// its oxend). Without one, `oxend_request` fails with 502.
    pub fn with_oxend(mut self, registry: Arc<RegistryClient>) -> Self {
        self.oxend = Some(registry);
        self
    }

    /// Forwards recursive client writes to swarm peers through `forwarder`.
    pub fn with_forwarder(mut self, forwarder: Arc<Forwarder>) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// The forwarder, when the node replicates.
    pub fn forwarder(&self) -> Option<&Arc<Forwarder>> {
        self.forwarder.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MessageStore> {
        &self.store
    }

    /// The network view.
    pub fn network(&self) -> &Arc<dyn NetworkView> {
        &self.network
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The node identity.
    pub fn identity(&self) -> &Arc<NodeIdentity> {
        &self.identity
    }

    /// Handles a raw JSON request body.
    pub async fn handle_body(&self, body: &[u8]) -> RpcResponse {
        let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
            // Valid JSON that is not an object has no `method` either.
            return match serde_json::from_slice::<Value>(body) {
                Ok(_) => NodeError::NoMethodField.to_response(),
                Err(_) => NodeError::InvalidJson.to_response(),
            };
        };
        let Some(Value::String(method)) = obj.get("method") else {
            return NodeError::NoMethodField.to_response();
        };
        let Some(Value::Object(params)) = obj.get("params") else {
            return NodeError::NoParamsField.to_response();
        };
        self.handle(method, params).await
    }

    /// Handles one method call.
    pub async fn handle(&self, method: &str, params: &Map<String, Value>) -> RpcResponse {
        let Some(m) = Method::from_name(method) else {
            return NodeError::UnknownMethod(method.to_owned()).to_response();
        };
        let result = match request::parse_method(m, params) {
            Ok(req) => self.process(req, Origin::Client).await,
            Err(e) => Err(e),
        };
        Self::finish(method, result)
    }

    /// Handles a write forwarded by a swarm peer (`sn.storage_cc`): only recursive
    /// methods, applied here and not forwarded again.
    pub async fn handle_forwarded(
        &self,
        method: &str,
        params: &Map<String, Value>,
        retried: bool,
    ) -> RpcResponse {
        let Some(m) = Method::from_name(method) else {
            return NodeError::UnknownMethod(method.to_owned()).to_response();
        };
        if !m.is_recursive() {
            return NodeError::invalid(format!("{method} is not a swarm method")).to_response();
        }
        let origin = if retried {
            Origin::Retried
        } else {
            Origin::Forwarded
        };
        let result = match request::parse_method(m, params) {
            Ok(req) => self.process(req, origin).await,
            Err(e) => Err(e),
        };
        Self::finish(method, result)
    }

    fn finish(method: &str, result: Result<RpcResponse>) -> RpcResponse {
        match result {
            Ok(r) => r,
            Err(e) => {
                if e.status() >= 500 {
                    tracing::warn!(method, "request failed: {e}");
                }
                e.to_response()
            }
        }
    }

    /// Processes a parsed request (boxed: `batch`/`ifelse` recurse into it).
    fn process(
        &self,
        req: Request,
        origin: Origin,
    ) -> Pin<Box<dyn Future<Output = Result<RpcResponse>> + Send + '_>> {
        Box::pin(async move {
            match req {
                Request::Recursive(r) => self.recursive(*r, origin).await,
                Request::Store(r) => self.store_msg(r, origin).await,
                Request::Retrieve(r) => self.retrieve(r).await,
                Request::Delete(r) => self.delete(r).await,
                Request::DeleteAll(r) => self.delete_all(r, origin).await,
                Request::DeleteBefore(r) => self.delete_before(r).await,
                Request::ExpireAll(r) => self.expire_all(r, origin).await,
                Request::Expire(r) => self.expire(r).await,
                Request::GetExpiries(r) => self.get_expiries(r).await,
                Request::GetSwarm(pk) => Ok(self.get_swarm(&pk)),
                Request::Info => Ok(self.info()),
                Request::OxendRequest(call) => self.oxend_request(call).await,
                Request::Revoke(r) => self.revoke(r, origin).await,
                Request::Unrevoke(r) => self.unrevoke(r, origin).await,
                Request::Batch(reqs) => Ok(self.batch(reqs, false).await),
                Request::Sequence(reqs) => Ok(self.batch(reqs, true).await),
                Request::IfElse(r) => Ok(self.ifelse(*r).await),
            }
        })
    }

    async fn sub_process(&self, req: Request) -> RpcResponse {
        self.process(req, Origin::Client)
            .await
            .unwrap_or_else(|e| e.to_response())
    }

    // ── shared pieces ──────────────────────────────────────────────────────────────

    fn hf_json(&self) -> Value {
        let (maj, min) = self.network.hardfork();
        json!([maj, min])
    }

    fn add_misc(&self, obj: &mut Map<String, Value>, now: i64) {
        obj.insert("t".into(), json!(now));
        obj.insert("hf".into(), self.hf_json());
    }

    /// 421 (or 500 with no swarms) unless this node's swarm owns `pk`.
    fn check_swarm(&self, pk: &UserPubkey) -> Result<()> {
        match self.network.lookup(pk) {
            SwarmLookup::Ours { .. } => Ok(()),
            SwarmLookup::Elsewhere(swarm) => {
                let mut body = Swarm::to_json(Some(&swarm));
                if let Value::Object(o) = &mut body {
                    self.add_misc(o, now_ms(&*self.clock));
                }
                Err(NodeError::WrongSwarm(body))
            }
            SwarmLookup::Unknown => Err(NodeError::NoSwarms),
        }
    }

    async fn verify(
        &self,
        pk: &UserPubkey,
        auth: &Auth,
        required: u8,
        skip_revoke: bool,
        message: &[u8],
        failure: &'static str,
    ) -> Result<()> {
        if verify_request(
            &*self.store,
            &self.keys,
            pk,
            auth,
            required,
            skip_revoke,
            message,
        )
        .await?
        {
            Ok(())
        } else {
            Err(NodeError::SignatureFailed(failure))
        }
    }

    fn check_window(ts: i64, now: i64, tolerance: i64, failure: &'static str) -> Result<()> {
        if ts < now.saturating_sub(tolerance) || ts > now.saturating_add(tolerance) {
            Err(NodeError::TimestampOutOfWindow(failure))
        } else {
            Ok(())
        }
    }

    fn sign_b64(&self, parts: &[&[u8]]) -> Value {
        let msg: Vec<u8> = parts.concat();
        Value::String(encode_base64(&self.identity.sign(&msg)))
    }

    /// Wraps this node's result of a recursive request in the swarm shape; 200 unless
    /// every member failed. Forwarding to swarm peers will add their entries here.
    fn swarm_reply(
        &self,
        mine: Map<String, Value>,
        top: Map<String, Value>,
        now: i64,
    ) -> RpcResponse {
        let any_ok = !mine.contains_key("failed");
        let mut swarm = Map::new();
        swarm.insert(self.identity.ed25519_hex(), Value::Object(mine));
        let mut body = top;
        body.insert("swarm".into(), Value::Object(swarm));
        self.add_misc(&mut body, now);
        RpcResponse::json(if any_ok { 200 } else { 500 }, Value::Object(body))
    }

    /// `deleted`/`updated` results: a sorted list for one namespace, a per-namespace dict
    /// for "all"; the node signature covers `prefix parts` + all hashes sorted.
    fn affected(
        &self,
        mine: &mut Map<String, Value>,
        key: &str,
        ns: NsSelector,
        mut affected: Vec<(Namespace, String)>,
        sig_prefix: &[&[u8]],
    ) {
        affected.sort_by(|a, b| a.1.cmp(&b.1));
        let mut parts: Vec<&[u8]> = sig_prefix.to_vec();
        parts.extend(affected.iter().map(|(_, h)| h.as_bytes()));
        mine.insert("signature".into(), self.sign_b64(&parts));
        let value = match ns {
            NsSelector::One(_) => json!(affected.into_iter().map(|(_, h)| h).collect::<Vec<_>>()),
            NsSelector::All => {
                let mut per_ns: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (n, h) in affected {
                    per_ns.entry(n.0.to_string()).or_default().push(h);
                }
                json!(per_ns)
            }
        };
        mine.insert(key.into(), value);
    }

    // ── methods ────────────────────────────────────────────────────────────────────

    async fn store_msg(&self, req: Store, origin: Origin) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let ns = req.namespace;
        let public_in = ns.is_public_inbox();
        let ttl = req.expiry.saturating_sub(req.timestamp);
        let max_ttl = if public_in {
            TTL_MAX_PUBLIC_MS
        } else {
            TTL_MAX_PRIVATE_MS
        };
        if !(TTL_MIN_MS..=max_ttl).contains(&ttl) {
            return Err(NodeError::InvalidTtl);
        }
        let now = now_ms(&*self.clock);
        if req.timestamp > now.saturating_add(STORE_TOLERANCE_MS)
            || req.expiry < now.saturating_sub(STORE_TOLERANCE_MS)
        {
            return Err(NodeError::TimestampOutOfWindow(
                "Timestamp error: check your clock",
            ));
        }
        if !public_in {
            let Some(auth) = &req.auth else {
                return Err(NodeError::SignatureRequired(format!(
                    "store: signature required to store to namespace {ns}"
                )));
            };
            Self::check_window(
                req.sig_timestamp,
                now,
                origin.sig_tolerance(),
                "store signature timestamp too far from current time",
            )?;
            let mut required = access::WRITE;
            if ns.is_public_outbox() {
                required |= access::DELETE;
            }
            let msg = request_sig::store(ns.0, ms(req.sig_timestamp));
            self.verify(
                &req.pubkey,
                auth,
                required,
                false,
                &msg,
                "store signature verification failed",
            )
            .await?;
        }

        let hash = message_hash(&req.pubkey, ns, &req.data);
        let outcome = self
            .store
            .store(
                NewMessage {
                    pubkey: req.pubkey,
                    hash: hash.clone(),
                    namespace: ns,
                    timestamp: req.timestamp,
                    expiry: req.expiry,
                    data: req.data,
                },
                ns.is_public_outbox(),
            )
            .await;
        let mut mine = Map::new();
        let mut top = Map::new();
        match outcome {
            Ok(o) => {
                mine.insert("hash".into(), json!(hash));
                mine.insert("signature".into(), self.sign_b64(&[hash.as_bytes()]));
                if !matches!(o, crate::store::StoreOutcome::New) {
                    mine.insert("already".into(), json!(true));
                }
                mine.insert("expiry".into(), json!(o.resulting_expiry(req.expiry)));
                top.insert("hash".into(), json!(hash));
            }
            Err(e) => {
                if matches!(e, NodeError::DatabaseFull) {
                    tracing::warn!("store failed: database is full");
                } else {
                    tracing::error!(owner = %req.pubkey.redacted(), "store failed: {e}");
                    mine.insert("reason".into(), json!("database error"));
                }
                mine.insert("failed".into(), json!(true));
                mine.insert("query_failure".into(), json!(true));
            }
        }
        // Deprecated copy of the time inside the entry node's own result.
        mine.insert("t".into(), json!(now));
        Ok(self.swarm_reply(mine, top, now))
    }

    async fn retrieve(&self, req: Retrieve) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        let ns = req.namespace;
        match &req.auth {
            None if !ns.is_noauth_retrieve() => {
                return Err(NodeError::SignatureRequired(
                    "retrieve: request signature required".into(),
                ));
            }
            None => {}
            Some((auth, ts)) => {
                Self::check_window(
                    *ts,
                    now,
                    SIGNATURE_TOLERANCE_MS,
                    "retrieve timestamp too far from current time",
                )?;
                let msg = request_sig::retrieve(ns.0, ms(*ts));
                self.verify(
                    &req.pubkey,
                    auth,
                    access::READ,
                    ns.is_unrevocable(),
                    &msg,
                    "retrieve signature verification failed",
                )
                .await?;
            }
        }
        // 0 means unset; neither given means 1/5 of the maximum.
        let max_count = req.max_count.filter(|c| *c != 0);
        let mut max_size = req.max_size.filter(|s| *s != 0);
        if max_count.is_none() && max_size.is_none() {
            max_size = Some(-5);
        }
        let max_size = match max_size {
            Some(s) if s < 0 => RETRIEVE_MAX_SIZE / s.saturating_neg(),
            Some(s) if s <= RETRIEVE_MAX_SIZE => s,
            _ => RETRIEVE_MAX_SIZE,
        };
        // A negative count means "no count limit" (the reference passes it through).
        let max_count = max_count.and_then(|c| usize::try_from(c).ok());
        let got = self
            .store
            .retrieve(
                &req.pubkey,
                ns,
                req.last_hash.as_deref(),
                RetrieveLimits {
                    max_count,
                    max_size,
                },
                now,
            )
            .await
            .map_err(read_failure(&req.pubkey))?;
        let messages: Vec<Value> = got
            .messages
            .into_iter()
            .map(|m| {
                json!({
                    "hash": m.hash,
                    "timestamp": m.timestamp,
                    "expiration": m.expiry,
                    "data": encode_base64(&m.data),
                })
            })
            .collect();
        let mut body = Map::new();
        body.insert("messages".into(), Value::Array(messages));
        body.insert("more".into(), json!(got.more));
        self.add_misc(&mut body, now);
        Ok(RpcResponse::json(200, Value::Object(body)))
    }

    async fn delete(&self, req: Delete) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let msg = request_sig::delete(&str_refs(&req.messages));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::DELETE,
            false,
            &msg,
            "delete_msgs signature verification failed",
        )
        .await?;
        let now = now_ms(&*self.clock);
        let deleted = sorted_hashes(
            self.store
                .delete_by_hash(&req.pubkey, &req.messages)
                .await?,
        );
        let pk_hex = req.pubkey.to_hex();
        let mut parts: Vec<&[u8]> = vec![pk_hex.as_bytes()];
        parts.extend(req.messages.iter().map(|h| h.as_bytes()));
        parts.extend(deleted.iter().map(|h| h.as_bytes()));
        let mut mine = Map::new();
        mine.insert("signature".into(), self.sign_b64(&parts));
        let deleted_any = !deleted.is_empty();
        mine.insert("deleted".into(), json!(deleted));
        let mut reply = self.swarm_reply(mine, Map::new(), now);
        if req.required && reply.status == 200 && !deleted_any {
            reply.status = 404;
        }
        Ok(reply)
    }

    async fn delete_all(&self, req: DeleteAll, origin: Origin) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        let tol = origin.relative_tolerance();
        Self::check_window(
            req.timestamp,
            now,
            tol,
            "delete_all timestamp too far from current time",
        )?;
        let msg = request_sig::delete_all(scope(req.namespace), ms(req.timestamp));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::DELETE,
            false,
            &msg,
            "delete_all signature verification failed",
        )
        .await?;
        let deleted = self.store.delete_all(&req.pubkey, req.namespace).await?;
        let mut mine = Map::new();
        let pk_hex = req.pubkey.to_hex();
        let ts = req.timestamp.to_string();
        self.affected(
            &mut mine,
            "deleted",
            req.namespace,
            deleted,
            &[pk_hex.as_bytes(), ts.as_bytes()],
        );
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    async fn delete_before(&self, req: DeleteBefore) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        if req.before > now.saturating_add(SIGNATURE_TOLERANCE_MS) {
            return Err(NodeError::TimestampUnauthorized(
                "delete_before timestamp too far in the future",
            ));
        }
        let msg = request_sig::delete_before(scope(req.namespace), ms(req.before));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::DELETE,
            false,
            &msg,
            "delete_before signature verification failed",
        )
        .await?;
        let deleted = self
            .store
            .delete_before(&req.pubkey, req.namespace, req.before)
            .await?;
        let mut mine = Map::new();
        let pk_hex = req.pubkey.to_hex();
        let before = req.before.to_string();
        self.affected(
            &mut mine,
            "deleted",
            req.namespace,
            deleted,
            &[pk_hex.as_bytes(), before.as_bytes()],
        );
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    async fn expire_all(&self, req: ExpireAll, origin: Origin) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        let tol = origin.relative_tolerance();
        if req.expiry < now.saturating_sub(tol) {
            return Err(NodeError::TimestampOutOfWindow(
                "expire_all timestamp should be >= current time",
            ));
        }
        let msg = request_sig::expire_all(scope(req.namespace), ms(req.expiry));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::DELETE,
            false,
            &msg,
            "expire_all signature verification failed",
        )
        .await?;
        let updated = self
            .store
            .shorten_all(&req.pubkey, req.namespace, req.expiry)
            .await?;
        let mut mine = Map::new();
        let pk_hex = req.pubkey.to_hex();
        let exp = req.expiry.to_string();
        self.affected(
            &mut mine,
            "updated",
            req.namespace,
            updated,
            &[pk_hex.as_bytes(), exp.as_bytes()],
        );
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    async fn expire(&self, req: Expire) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let multi = req.expiry.len() > 1;
        if multi && self.network.hardfork() < (19, 4) {
            return Err(NodeError::Forbidden(
                "expire: multiple expiries require network hardfork 19.4",
            ));
        }
        let now = now_ms(&*self.clock);
        // Applied expiries are capped; the signature covers the requested ones.
        let mut applied = Vec::with_capacity(req.expiry.len());
        for &e in &req.expiry {
            if e < now.saturating_sub(SIGNATURE_TOLERANCE_MS) {
                return Err(NodeError::TimestampUnauthorized(
                    "expire: timestamp should be >= current time",
                ));
            }
            applied.push(e.min(now.saturating_add(TTL_MAX_PRIVATE_MS)));
        }
        let mode = if req.shorten {
            SignedExpireMode::Shorten
        } else if req.extend {
            SignedExpireMode::Extend
        } else {
            SignedExpireMode::Set
        };
        let expiries: Vec<u64> = req.expiry.iter().map(|&e| ms(e)).collect();
        let msg = request_sig::expire(mode, &expiries, &str_refs(&req.messages));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::WRITE,
            false,
            &msg,
            "expire: signature verification failed",
        )
        .await?;
        let mut extend_only = req.extend;
        if let Some(sub) = &req.auth.subaccount
            && !sub.token.has(access::DELETE)
        {
            if req.shorten {
                return Err(NodeError::BadRequest(
                    "expire: shorten parameter cannot be used with this subaccount token (missing delete access)",
                ));
            }
            extend_only = true;
        }
        let mode = if extend_only {
            ExpireMode::ExtendOnly
        } else if req.shorten {
            ExpireMode::ShortenOnly
        } else {
            ExpireMode::Any
        };
        let updates: Vec<(String, i64)> = req
            .messages
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), if multi { applied[i] } else { applied[0] }))
            .collect();
        let mut updated = self
            .store
            .update_expiries(&req.pubkey, &updates, mode)
            .await?;
        updated.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unchanged = BTreeMap::new();
        if req.extend || req.shorten {
            let rest: Vec<String> = req
                .messages
                .iter()
                .filter(|m| !updated.iter().any(|(h, _)| h == *m))
                .cloned()
                .collect();
            if !rest.is_empty() {
                unchanged = self.store.get_expiries(&req.pubkey, &rest).await?;
            }
        }
        let updated_exp: Vec<i64> = if multi {
            updated.iter().map(|(_, e)| *e).collect()
        } else {
            vec![applied[0]]
        };
        let pk_hex = req.pubkey.to_hex();
        let mut sig_msg = pk_hex.into_bytes();
        for e in &updated_exp {
            sig_msg.extend_from_slice(e.to_string().as_bytes());
        }
        for h in &req.messages {
            sig_msg.extend_from_slice(h.as_bytes());
        }
        for (h, _) in &updated {
            sig_msg.extend_from_slice(h.as_bytes());
        }
        for (h, e) in &unchanged {
            sig_msg.extend_from_slice(h.as_bytes());
            sig_msg.extend_from_slice(e.to_string().as_bytes());
        }
        let mut mine = Map::new();
        mine.insert(
            "expiry".into(),
            if multi {
                json!(updated_exp)
            } else {
                json!(applied[0])
            },
        );
        mine.insert(
            "updated".into(),
            json!(updated.into_iter().map(|(h, _)| h).collect::<Vec<_>>()),
        );
        if req.shorten || req.extend {
            mine.insert("unchanged".into(), json!(unchanged));
        }
        mine.insert("signature".into(), self.sign_b64(&[&sig_msg]));
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    async fn get_expiries(&self, req: GetExpiries) -> Result<RpcResponse> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        Self::check_window(
            req.timestamp,
            now,
            SIGNATURE_TOLERANCE_MS,
            "get_expiries timestamp too far from current time",
        )?;
        let msg = request_sig::get_expiries(ms(req.timestamp), &str_refs(&req.messages));
        self.verify(
            &req.pubkey,
            &req.auth,
            access::READ,
            false,
            &msg,
            "get_expiries signature verification failed",
        )
        .await?;
        let expiries = self.store.get_expiries(&req.pubkey, &req.messages).await?;
        Ok(RpcResponse::json(200, json!({"expiries": expiries})))
    }

    async fn revocation(
        &self,
        req: &Revocation,
        method: &'static str,
        failure: &'static str,
        origin: Origin,
    ) -> Result<i64> {
        self.check_swarm(&req.pubkey)?;
        let now = now_ms(&*self.clock);
        let window_failure = if method == "revoke_subaccount" {
            "revoke_subaccount timestamp too far from current time"
        } else {
            "unrevoke_subaccount timestamp too far from current time"
        };
        Self::check_window(req.timestamp, now, origin.sig_tolerance(), window_failure)?;
        let tokens: Vec<[u8; 36]> = req.tokens.iter().map(|t| t.0).collect();
        let msg = if method == "revoke_subaccount" {
            request_sig::revoke_subaccount(ms(req.timestamp), &tokens)
        } else {
            request_sig::unrevoke_subaccount(ms(req.timestamp), &tokens)
        };
        // The account owner only: subaccounts are never accepted here.
        let owner_auth = Auth {
            subaccount: None,
            ..req.auth.clone()
        };
        self.verify(&req.pubkey, &owner_auth, 0, false, &msg, failure)
            .await?;
        Ok(now)
    }

    fn revocation_sig(&self, req: &Revocation) -> Value {
        let pk_hex = req.pubkey.to_hex();
        let ts = req.timestamp.to_string();
        let mut parts: Vec<&[u8]> = vec![pk_hex.as_bytes(), ts.as_bytes()];
        parts.extend(req.tokens.iter().map(|t| t.0.as_slice()));
        self.sign_b64(&parts)
    }

    async fn revoke(&self, req: Revocation, origin: Origin) -> Result<RpcResponse> {
        let now = self
            .revocation(
                &req,
                "revoke_subaccount",
                "revoke_subaccount signature verification failed",
                origin,
            )
            .await?;
        self.store
            .revoke_subaccounts(&req.pubkey, &req.tokens, now)
            .await?;
        let mut mine = Map::new();
        mine.insert("signature".into(), self.revocation_sig(&req));
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    async fn unrevoke(&self, req: Revocation, origin: Origin) -> Result<RpcResponse> {
        let now = self
            .revocation(
                &req,
                "unrevoke_subaccount",
                "unrevoke_subaccount signature verification failed",
                origin,
            )
            .await?;
        let count = self
            .store
            .unrevoke_subaccounts(&req.pubkey, &req.tokens)
            .await?;
        let mut mine = Map::new();
        mine.insert("count".into(), json!(count));
        mine.insert("signature".into(), self.revocation_sig(&req));
        Ok(self.swarm_reply(mine, Map::new(), now))
    }

    /// A recursive write: applied here, then — for a client request this node accepted
    /// — forwarded to the other members of the owning swarm, whose results join this
    /// node's under `"swarm"`. 200 when any member succeeded, else 500.
    async fn recursive(&self, req: RecursiveRequest, origin: Origin) -> Result<RpcResponse> {
        let RecursiveRequest {
            method,
            account,
            params,
            inner,
        } = req;
        let mut reply = self.process(inner, origin).await?;
        let Some(forwarder) = &self.forwarder else {
            return Ok(reply);
        };
        if origin != Origin::Client {
            return Ok(reply);
        }
        let RpcBody::Json(Value::Object(body)) = &mut reply.body else {
            return Ok(reply);
        };
        let SwarmLookup::Ours { peers } = self.network.lookup(&account) else {
            return Ok(reply);
        };
        if peers.is_empty() {
            return Ok(reply);
        }
        let entries = forwarder
            .forward(method.name(), &account, &params, &peers)
            .await;
        let Some(Value::Object(swarm)) = body.get_mut("swarm") else {
            return Ok(reply);
        };
        for (key, entry) in entries {
            swarm.insert(key, entry);
        }
        let any_ok = swarm
            .values()
            .any(|e| e.get("failed").is_none_or(|f| f != &Value::Bool(true)));
        // Keep a method-specific status (delete's 404) when this node succeeded.
        if any_ok && reply.status == 500 {
            reply.status = 200;
        }
        Ok(reply)
    }

    fn get_swarm(&self, pk: &UserPubkey) -> RpcResponse {
        let swarm = self.network.swarm_for(pk);
        let mut body = Swarm::to_json(swarm.as_ref());
        if let Value::Object(o) = &mut body {
            self.add_misc(o, now_ms(&*self.clock));
        }
        RpcResponse::json(200, body)
    }

    fn info(&self) -> RpcResponse {
        let now = now_ms(&*self.clock);
        let mut body = Map::new();
        body.insert("version".into(), json!(STORAGE_VERSION));
        body.insert("timestamp".into(), json!(now));
        self.add_misc(&mut body, now);
        RpcResponse::json(200, Value::Object(body))
    }

    /// `oxend_request` (storage-node §2.13): the registry's answer as `{"result", "t",
    /// "hf"}`. The registry refusing the params is the client's error (400); the registry
    /// being unreachable is 502.
    async fn oxend_request(&self, call: OxendCall) -> Result<RpcResponse> {
        let Some(registry) = &self.oxend else {
            return Err(NodeError::OxendUnavailable(
                "this node follows no registry".into(),
            ));
        };
        let result = match registry.call(call.endpoint.name(), call.params).await {
            Ok(v) => v,
            Err(NodeError::Registry {
                kind: Some(kind),
                reason,
                ..
            }) => {
                return Err(NodeError::invalid(format!(
                    "oxend_request {}: {kind}: {reason}",
                    call.endpoint.name()
                )));
            }
            Err(e) => return Err(NodeError::OxendUnavailable(e.to_string())),
        };
        let now = now_ms(&*self.clock);
        let mut body = Map::new();
        body.insert("result".into(), result);
        self.add_misc(&mut body, now);
        Ok(RpcResponse::json(200, Value::Object(body)))
    }

    async fn batch(&self, reqs: Vec<Request>, sequence: bool) -> RpcResponse {
        let mut results = Vec::with_capacity(reqs.len());
        for r in reqs {
            let res = self.sub_process(r).await;
            let stop = sequence && !res.is_success();
            results.push(res.as_subresult());
            if stop {
                break;
            }
        }
        RpcResponse::json(200, json!({"results": results}))
    }

    fn condition_holds(&self, c: &Condition) -> bool {
        let (maj, min) = self.network.hardfork();
        let hf = [i64::from(maj), i64::from(min)];
        let v = STORAGE_VERSION.map(i64::from);
        let height = i64::try_from(self.network.height()).unwrap_or(i64::MAX);
        c.hf_at_least.is_none_or(|x| hf >= x)
            && c.hf_before.is_none_or(|x| hf < x)
            && c.v_at_least.is_none_or(|x| v >= x)
            && c.v_before.is_none_or(|x| v < x)
            && c.height_at_least.is_none_or(|x| height >= x)
            && c.height_before.is_none_or(|x| height < x)
    }

    async fn ifelse(&self, req: IfElse) -> RpcResponse {
        let cond = self.condition_holds(&req.condition);
        let mut body = Map::new();
        body.insert("hf".into(), self.hf_json());
        body.insert("v".into(), json!(STORAGE_VERSION));
        body.insert("height".into(), json!(self.network.height()));
        body.insert("condition".into(), json!(cond));
        let branch = if cond { req.then } else { req.otherwise };
        if let Some(r) = branch {
            body.insert("result".into(), self.sub_process(r).await.as_subresult());
        }
        RpcResponse::json(200, Value::Object(body))
    }
}
