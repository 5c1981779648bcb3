//! HTTP(S) server scaffolding and a lean HTTP/1.1 client.
//!
//! [`serve`] runs an axum [`Router`] on an already-bound [`TcpListener`] (tests bind port
//! 0), optionally behind TLS, until a [`Shutdown`] signal fires; it then stops accepting,
//! lets every in-flight request finish (bounded by [`ServeOptions::drain_timeout`]) and
//! returns. Each request carries the peer address as axum's `ConnectInfo<SocketAddr>`.
//!
//! [`HttpConnection`] is one keep-alive HTTP/1.1 connection (plain or TLS) for tests,
//! benchmarks and node-to-node calls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
pub use tokio_rustls::TlsAcceptor;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use crate::error::RtError;
use crate::shutdown::Shutdown;

/// Tunables of [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long in-flight requests may run after shutdown is requested.
    pub drain_timeout: Duration,
    /// Maximum time for a client to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Maximum time for a client to send a request's headers.
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves plain HTTP like [`serve`] while `job`, a periodic task of the same server
/// stopped by the same shutdown (e.g. an expiry sweep), runs beside it; waits for the
/// job after the server has stopped. `job_name` names it in the log if it panicked.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with_job<T>(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    job: tokio::task::JoinHandle<T>,
    job_name: &str,
) -> Result<(), RtError> {
    let served = serve(listener, app, None, shutdown, ServeOptions::default()).await;
    if let Err(e) = job.await {
        tracing::warn!("the {job_name} task ended abnormally: {e}");
    }
    served
}

/// Serves `app` on `listener` (TLS if `tls` is given) until `shutdown` fires, then
/// drains in-flight requests and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
    opts: ServeOptions,
) -> Result<(), RtError> {
    let graceful = GracefulShutdown::new();
    let local = listener.local_addr().ok();
    tracing::debug!(?local, tls = tls.is_some(), "HTTP server accepting");
    loop {
        tokio::select! {
            biased;
            () = shutdown.wait() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Typically EMFILE: back off briefly instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let watcher = graceful.watcher();
                let app = app.clone();
                let tls = tls.clone();
                let opts = opts.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        let mut app = app.clone();
                        async move { app.call(req).await }
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(opts.header_read_timeout)
                        .keep_alive(true);
                    let result = match tls {
                        Some(acceptor) => {
                            let hs = tokio::time::timeout(
                                opts.tls_handshake_timeout,
                                acceptor.accept(stream),
                            )
                            .await;
                            match hs {
                                Ok(Ok(tls_stream)) => {
                                    let conn = builder.serve_connection(TokioIo::new(tls_stream), svc);
                                    watcher.watch(conn).await
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!("TLS handshake failed: {e}");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            }
                        }
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            watcher.watch(conn).await
                        }
                    };
                    if let Err(e) = result {
                        tracing::trace!("connection ended with an error: {e}");
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::debug!(?local, "HTTP server draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(opts.drain_timeout) => {
            tracing::warn!("drain timeout reached; abandoning remaining connections");
        }
    }
    Ok(())
}

/// A response read by [`HttpConnection`].
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl HttpReply {
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One keep-alive HTTP/1.1 connection, plain or TLS. TLS connections accept any server
/// certificate: service nodes use self-signed certificates that Session clients do not
/// validate (the node is authenticated by its Ed25519 signatures instead).
#[derive(Debug)]
pub struct HttpConnection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// How [`HttpConnection::connect_to`] secures a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP.
    Plain,
    /// TLS accepting any certificate (service nodes' self-signed certificates).
    AnyCertificate,
    /// TLS validated against the system's CA bundle and the host name.
    Verified,
}

impl HttpConnection {
    /// Connects to `addr`, over TLS when `tls` is set (any certificate accepted).
    pub async fn connect(addr: SocketAddr, tls: bool) -> Result<Self, RtError> {
        let mode = if tls {
            TlsMode::AnyCertificate
        } else {
            TlsMode::Plain
        };
        let stream = TcpStream::connect(addr).await.map_err(|e| RtError::Http {
            reason: format!("connect to {addr}: {e}"),
        })?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        Self::over(stream, &addr.to_string(), name, mode).await
    }

    /// Connects to `host:port` (a DNS name or an IP address), as `mode` says. The
    /// `Host` header names the host, with the port unless it is the scheme's default.
    pub async fn connect_to(host: &str, port: u16, mode: TlsMode) -> Result<Self, RtError> {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| RtError::Http {
                reason: format!("connect to {host}:{port}: {e}"),
            })?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
            RtError::Http {
                reason: format!("{host:?} is not a valid host name: {e}"),
            }
        })?;
        let default_port = if mode == TlsMode::Plain { 80 } else { 443 };
        let authority = if port == default_port {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        Self::over(stream, &authority, name, mode).await
    }

    async fn over(
        stream: TcpStream,
        authority: &str,
        name: rustls::pki_types::ServerName<'static>,
        mode: TlsMode,
    ) -> Result<Self, RtError> {
        let _ = stream.set_nodelay(true);
        let host = HeaderValue::from_str(authority).map_err(|e| RtError::Http {
            reason: e.to_string(),
        })?;
        let config = match mode {
            TlsMode::Plain => None,
            TlsMode::AnyCertificate => Some(crate::tls::insecure_client_config()?),
            TlsMode::Verified => Some(crate::tls::verified_client_config()?),
        };
        let sender = match config {
            Some(config) => {
                let tls_stream = TlsConnector::from(config)
                    .connect(name, stream)
                    .await
                    .map_err(|e| RtError::Http {
                        reason: format!("TLS handshake with {authority}: {e}"),
                    })?;
                Self::handshake(TokioIo::new(tls_stream)).await?
            }
            None => Self::handshake(TokioIo::new(stream)).await?,
        };
        Ok(Self { sender, host })
    }

    async fn handshake<T>(
        io: T,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, RtError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| RtError::Http {
                reason: format!("HTTP handshake: {e}"),
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<HttpReply, RtError> {
        let bad = |e: &dyn std::fmt::Display| RtError::Http {
            reason: e.to_string(),
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(body.into()))
            .map_err(|e| bad(&e))?;
        let h = req.headers_mut();
        h.insert(hyper::header::HOST, self.host.clone());
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(&e))?,
                HeaderValue::from_str(v).map_err(|e| bad(&e))?,
            );
        }
        self.sender.ready().await.map_err(|e| bad(&e))?;
        let resp = self.sender.send_request(req).await.map_err(|e| bad(&e))?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| bad(&e))?.to_bytes();
        Ok(HttpReply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// `POST path` with a JSON (or any) body.
    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> Result<HttpReply, RtError> {
        self.request("POST", path, &[("content-type", "application/json")], body)
            .await
    }
}

/// Keep-alive connections to many peers, a few idle ones kept per address: a stream of
/// requests to the same node costs one (TLS) handshake, not one per request.
///
/// A pooled connection the peer closed meanwhile fails at once; the request is then
/// sent once more on a fresh connection. Callers bound the whole exchange with their
/// own timeout (and [`ConnectionPool::forget`] the address when it fires: the
/// connection may be wedged).
#[derive(Debug)]
pub struct ConnectionPool {
    tls: bool,
    per_peer: usize,
    connect_timeout: Option<Duration>,
    idle: std::sync::Mutex<std::collections::HashMap<SocketAddr, Vec<HttpConnection>>>,
}

impl ConnectionPool {
    /// A pool speaking TLS (any certificate accepted) when `tls` is set, keeping at most
    /// `per_peer` idle connections per address.
    pub fn new(tls: bool, per_peer: usize) -> Self {
        Self {
            tls,
            per_peer,
            connect_timeout: None,
            idle: std::sync::Mutex::default(),
        }
    }

    /// Gives up a new connection (TCP and TLS handshake) after `limit`.
    pub fn with_connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = Some(limit);
        self
    }

    /// Whether connections use TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    fn idle(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<SocketAddr, Vec<HttpConnection>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops every idle connection to `addr` (after a failure).
    pub fn forget(&self, addr: SocketAddr) {
        self.idle().remove(&addr);
    }

    fn give_back(&self, addr: SocketAddr, conn: HttpConnection) {
        let mut idle = self.idle();
        let list = idle.entry(addr).or_default();
        if list.len() < self.per_peer {
            list.push(conn);
        }
    }

    async fn connect(&self, addr: SocketAddr) -> Result<HttpConnection, RtError> {
        let connecting = HttpConnection::connect(addr, self.tls);
        match self.connect_timeout {
            None => connecting.await,
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .unwrap_or_else(|_| {
                    Err(RtError::Http {
                        reason: format!("connect to {addr}: timed out after {limit:?}"),
                    })
                }),
        }
    }

    /// Sends one request to `addr` on an idle connection, or a fresh one.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<HttpReply, RtError> {
        let pooled = self.idle().get_mut(&addr).and_then(Vec::pop);
        if let Some(mut conn) = pooled {
            if let Ok(reply) = conn.request(method, path, headers, body.clone()).await {
                self.give_back(addr, conn);
                return Ok(reply);
            }
            self.forget(addr);
        }
        let mut conn = self.connect(addr).await?;
        match conn.request(method, path, headers, body).await {
            Ok(reply) => {
                self.give_back(addr, conn);
                Ok(reply)
            }
            Err(e) => {
                self.forget(addr);
                Err(e)
            }
        }
    }
}

/// An `Arc`-shared TLS acceptor from a rustls server configuration.
pub fn tls_acceptor(config: Arc<rustls::ServerConfig>) -> TlsAcceptor {
    TlsAcceptor::from(config)
}
