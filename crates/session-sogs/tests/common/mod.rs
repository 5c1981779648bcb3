//! Shared helpers of the HTTP conformance tests: a server per store backend on a
//! port-0 listener with a mock clock, users signing with blind15 keys, and request
//! helpers (plain, signed, raw).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use session_crypto::sogs_auth::{SogsAuthMode, SogsRequest, sign_request, sogs_account_id};
use session_crypto::{AccountId, Ed25519Keypair, X25519Keypair};
use session_rt::http::{HttpConnection, HttpReply};
use session_rt::{Clock, MockClock, ShutdownTrigger};
use session_sogs::server::{Sogs, SogsSettings, serve};
use session_sogs::store::testing::{TestStore, stores};
use session_sogs::store::{ModeratorChange, NewRoom, Retention, RoomDefaults, Scope, SogsStore};

/// The mock clock's start: 2023-11-14 22:13:20 UTC.
pub const START_MS: u64 = 1_700_000_000_000;

/// A running server over one backend.
pub struct Server {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    pub addr: SocketAddr,
    pub clock: MockClock,
    pub store: Arc<dyn SogsStore>,
    pub pk: [u8; 32],
    pub trigger: ShutdownTrigger,
    pub task: tokio::task::JoinHandle<Result<(), session_rt::RtError>>,
    _store: TestStore,
}

/// A client identity.
pub struct User {
    pub keys: Ed25519Keypair,
    pub mode: SogsAuthMode,
}

impl User {
    /// A blind15-signing user.
    pub fn new() -> Self {
        Self {
            keys: Ed25519Keypair::generate().unwrap(),
            mode: SogsAuthMode::Blind15,
        }
    }

    /// A user signing with its plain Ed25519 key (`00`).
    pub fn unblinded() -> Self {
        Self {
            keys: Ed25519Keypair::generate().unwrap(),
            mode: SogsAuthMode::Unblinded,
        }
    }

    /// Its id on `srv`.
    pub fn id(&self, srv: &Server) -> AccountId {
        sogs_account_id(&self.keys, self.mode, &srv.pk)
    }

    /// Its id on `srv` as hex.
    pub fn hex(&self, srv: &Server) -> String {
        self.id(srv).to_hex()
    }
}

/// The signed form of a request path: percent-decoded path, raw query.
pub fn decode_path(raw: &str) -> String {
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let b = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let mut s = String::from_utf8(out).unwrap();
    if !query.is_empty() {
        s.push('?');
        s.push_str(query);
    }
    s
}

/// One server per backend with default settings, each with room `lobby`.
pub async fn servers() -> Vec<Server> {
    servers_with(SogsSettings::default).await
}

/// One server per backend with the given settings, each with room `lobby`.
pub async fn servers_with(settings: impl Fn() -> SogsSettings) -> Vec<Server> {
    let mut out = Vec::new();
    for ts in stores(Retention::default()) {
        out.push(start_on(ts, settings()).await);
    }
    out
}

/// A server on a fresh store of the same backend as `like`.
pub async fn another(like: &Server, settings: SogsSettings) -> Server {
    let ts = stores(Retention::default())
        .into_iter()
        .find(|t| t.backend == like.backend)
        .unwrap();
    start_on(ts, settings).await
}

/// Starts a server on `ts` (room `lobby`, named "The Lobby", description "hello").
pub async fn start_on(ts: TestStore, settings: SogsSettings) -> Server {
    let store = Arc::clone(&ts.store);
    let clock = MockClock::new(START_MS);
    let key = X25519Keypair::generate().unwrap();
    let pk = *key.public();
    let now = START_MS as f64 / 1000.0;
    store
        .create_room(
            &NewRoom {
                token: "lobby".into(),
                name: "The Lobby".into(),
                description: Some("hello".into()),
                defaults: RoomDefaults::default(),
            },
            now,
        )
        .unwrap();
    let sogs = Sogs::new(Arc::clone(&store), clock.shared(), key, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = session_rt::shutdown::channel();
    let task = tokio::spawn(serve(sogs, listener, shutdown));
    Server {
        backend: ts.backend,
        addr,
        clock,
        store,
        pk,
        trigger,
        task,
        _store: ts,
    }
}

/// The body as JSON (`null` if it is not).
pub fn json_of(r: &HttpReply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

impl Server {
    pub fn now(&self) -> f64 {
        self.clock.now_ms() as f64 / 1000.0
    }

    pub fn ts(&self) -> u64 {
        self.clock.now_ms() / 1000
    }

    pub fn add_room(&self, token: &str, defaults: RoomDefaults) {
        self.store
            .create_room(
                &NewRoom {
                    token: token.into(),
                    name: token.into(),
                    description: None,
                    defaults,
                },
                self.now(),
            )
            .unwrap();
    }

    /// Makes `user` a visible moderator (or admin) of `room`.
    pub fn make_mod(&self, user: &User, room: &str, admin: bool) {
        self.set_mod(user, Scope::Room(room), admin, true);
    }

    /// Makes `user` a global moderator (or admin).
    pub fn make_global_mod(&self, user: &User, admin: bool) {
        self.set_mod(user, Scope::Global, admin, false);
    }

    fn set_mod(&self, user: &User, scope: Scope<'_>, admin: bool, visible: bool) {
        self.store
            .set_moderator(
                scope,
                &user.id(self),
                &ModeratorChange {
                    moderator: Some(true),
                    admin: Some(admin),
                    visible: Some(visible),
                },
                self.now(),
            )
            .unwrap();
    }

    /// Creates the user's row (as its first request would).
    pub fn ensure(&self, user: &User) {
        self.store.ensure_user(&user.id(self), self.now()).unwrap();
    }

    /// Signed `X-SOGS-*` headers for a request.
    pub fn headers(
        &self,
        user: &User,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Vec<(String, String)> {
        let signed = decode_path(path);
        let h = sign_request(
            &user.keys,
            user.mode,
            &self.pk,
            &SogsRequest {
                method,
                path: &signed,
                body,
            },
            self.ts(),
        )
        .unwrap();
        h.pairs()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Sends a request with exactly these headers (plus a JSON content type when there
    /// is a body and none is given).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> HttpReply {
        let mut conn = HttpConnection::connect(self.addr, false).await.unwrap();
        let mut h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !body.is_empty()
            && !h
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            h.push(("content-type", "application/json"));
        }
        conn.request(method, path, &h, body.to_vec()).await.unwrap()
    }

    /// A request signed by `user` (anonymous if `None`), with extra headers.
    pub async fn call_with(
        &self,
        user: Option<&User>,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> HttpReply {
        let mut headers = match user {
            Some(u) => self.headers(u, method, path, body),
            None => Vec::new(),
        };
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.raw(method, path, &headers, body).await
    }

    /// A request signed by `user` (anonymous if `None`).
    pub async fn call(
        &self,
        user: Option<&User>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> HttpReply {
        self.call_with(user, method, path, &[], body).await
    }

    /// `GET` → (status, JSON).
    pub async fn get(&self, user: Option<&User>, path: &str) -> (u16, Value) {
        let r = self.call(user, "GET", path, b"").await;
        (r.status, json_of(&r))
    }

    /// A JSON request → (status, JSON).
    pub async fn send(
        &self,
        user: Option<&User>,
        method: &str,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let r = self
            .call(user, method, path, body.to_string().as_bytes())
            .await;
        (r.status, json_of(&r))
    }

    /// Posts `text` to `lobby`.
    pub async fn post_msg(&self, user: &User, text: &[u8]) -> (u16, Value) {
        self.post_to(user, "lobby", text).await
    }

    /// Posts `text` to `room`.
    pub async fn post_to(&self, user: &User, room: &str, text: &[u8]) -> (u16, Value) {
        self.send(
            Some(user),
            "POST",
            &format!("/room/{room}/message"),
            &json!({"data": STANDARD.encode(text), "signature": STANDARD.encode([7u8; 64])}),
        )
        .await
    }
}
