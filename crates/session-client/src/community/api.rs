//! One HTTP exchange with a community server, signed with `X-SOGS-*` headers
//! (community-server §3), over either route: directly (plain HTTP(S) to the server) or
//! as a v4 onion request through an [`OnionClient`] path (§5.7).
//!
//! Paths are given **decoded** (an emoji reaction as the emoji itself) with a raw query
//! string: that is what is signed. On the wire the path is percent-encoded (anything
//! but unreserved characters and `/`), which the server decodes back before checking
//! the signature.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use session_crypto::Ed25519Keypair;
use session_crypto::sogs_auth::{SogsAuthMode, SogsRequest, sign_request};
use session_rt::http::{HttpConnection, TlsMode};
use session_wire::onion::V4RequestInfo;

use crate::client::OnionClient;
use crate::error::{ClientError, Result};

use super::url::ServerUrl;

/// How long a direct exchange may take.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Error bodies are cut to this many characters.
const ERROR_CHARS: usize = 200;

/// How a community server is reached.
#[derive(Clone, Debug)]
pub enum Route {
    /// Plain HTTP(S) straight to the server (local servers, tests; the server sees the
    /// client's IP address).
    Direct,
    /// v4 onion requests through a path of service nodes (what Session clients do).
    Onion(OnionClient),
}

impl Route {
    /// `"direct"` or `"onion"`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Onion(_) => "onion",
        }
    }
}

/// A request to a community server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The decoded path (UTF-8), starting with `/`.
    pub path: String,
    /// The raw query string without `?` (empty: none).
    pub query: String,
    /// The body and its content type.
    pub body: Option<(Vec<u8>, &'static str)>,
}

impl ApiRequest {
    /// A `GET`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }

    /// A `DELETE`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new("DELETE", path)
    }

    /// A `method` request without a body.
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        let path = path.into();
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (path, String::new()),
        };
        Self {
            method,
            path,
            query,
            body: None,
        }
    }

    /// A `method` request with a JSON body.
    pub fn json(method: &'static str, path: impl Into<String>, body: &Value) -> Self {
        Self {
            body: Some((body.to_string().into_bytes(), "application/json")),
            ..Self::new(method, path)
        }
    }

    /// The text that is signed: the decoded path, then `?` and the query if any.
    pub fn signed_path(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The path as sent: percent-encoded, then `?` and the query if any.
    pub fn wire_path(&self) -> String {
        let mut out = percent_encode_path(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }
}

/// A community server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiReply {
    /// The HTTP status.
    pub status: u16,
    /// The content type, if given.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiReply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON.
    ///
    /// # Errors
    /// [`ClientError::BadReply`] if it is not JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::BadReply {
            what: "community server answer",
            reason: format!("not JSON ({e}): {}", short_text(&self.body)),
        })
    }

    /// The body as (lossy, shortened) text, for error messages.
    pub fn text(&self) -> String {
        short_text(&self.body)
    }
}

/// Up to [`ERROR_CHARS`] characters of a body, HTML tags removed.
pub(crate) fn short_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(if c.is_control() { ' ' } else { c }),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() > ERROR_CHARS {
        let cut: String = joined.chars().take(ERROR_CHARS).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// Percent-encodes a path: every byte but unreserved characters (`A-Z a-z 0-9 - . _
/// ~`), `/` and a few sub-delimiters that are safe in a path.
pub fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signing identity and server of an [`ApiRequest`].
#[derive(Clone, Copy)]
pub(crate) struct Signer<'a> {
    /// The account's Ed25519 keys.
    pub keys: &'a Ed25519Keypair,
    /// Blinded or not.
    pub mode: SogsAuthMode,
    /// The server's X25519 key.
    pub server_pk: &'a [u8; 32],
    /// The current (network) time, unix seconds.
    pub now_secs: u64,
}

/// Sends `req` to `server` over `route`, signed by `signer` (anonymous when `None`).
pub(crate) async fn send(
    route: &Route,
    server: &ServerUrl,
    server_pk: &[u8; 32],
    req: &ApiRequest,
    signer: Option<Signer<'_>>,
) -> Result<ApiReply> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    if let Some((_, ct)) = &req.body {
        headers.insert("Content-Type".into(), (*ct).into());
    }
    if let Some(s) = signer {
        let path = req.signed_path();
        let body = req.body.as_ref().map_or(&[][..], |(b, _)| b.as_slice());
        let signed = sign_request(
            s.keys,
            s.mode,
            s.server_pk,
            &SogsRequest {
                method: req.method,
                path: &path,
                body,
            },
            s.now_secs,
        )?;
        for (k, v) in signed.pairs() {
            headers.insert(k.into(), v.to_owned());
        }
    }
    match route {
        Route::Direct => send_direct(server, req, &headers).await,
        Route::Onion(client) => {
            let info = V4RequestInfo {
                method: req.method.into(),
                endpoint: req.wire_path(),
                headers,
            };
            let body = req.body.as_ref().map(|(b, _)| b.as_slice());
            let target = server.target(*server_pk);
            let reply = client.server_request(&target, &info, body).await?;
            Ok(ApiReply {
                status: reply.info.code,
                content_type: reply
                    .info
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone()),
                body: reply.body.unwrap_or_default(),
            })
        }
    }
}

async fn send_direct(
    server: &ServerUrl,
    req: &ApiRequest,
    headers: &BTreeMap<String, String>,
) -> Result<ApiReply> {
    let target = server.base_url();
    let mode = if server.tls {
        TlsMode::Verified
    } else {
        TlsMode::Plain
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = req
        .body
        .as_ref()
        .map(|(b, _)| b.clone())
        .unwrap_or_default();
    let wire = req.wire_path();
    let exchange = async {
        let mut conn = HttpConnection::connect_to(&server.host, server.port, mode).await?;
        conn.request(req.method, &wire, &pairs, body).await
    };
    match tokio::time::timeout(DIRECT_TIMEOUT, exchange).await {
        Ok(Ok(r)) => Ok(ApiReply {
            status: r.status,
            content_type: r.header("content-type").map(str::to_owned),
            body: r.body.to_vec(),
        }),
        Ok(Err(e)) => Err(ClientError::Http {
            target,
            reason: e.to_string(),
        }),
        Err(_) => Err(ClientError::Timeout {
            target,
            ms: u64::try_from(DIRECT_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_signed_decoded_and_sent_encoded() {
        let r = ApiRequest::new("PUT", "/room/r/reaction/5/🍆");
        assert_eq!(r.signed_path(), "/room/r/reaction/5/🍆");
        assert_eq!(r.wire_path(), "/room/r/reaction/5/%F0%9F%8D%86");
        let q = ApiRequest::get("/room/r/messages/since/3?t=r&reactors=5");
        assert_eq!(q.path, "/room/r/messages/since/3");
        assert_eq!(q.signed_path(), "/room/r/messages/since/3?t=r&reactors=5");
        assert_eq!(q.wire_path(), q.signed_path());
        assert_eq!(percent_encode_path("/a b/%"), "/a%20b/%25");
    }

    #[test]
    fn error_text_is_short_and_tagless() {
        assert_eq!(
            short_text(b"<html><h1>Not Found</h1>\n<p>nope</p></html>"),
            "Not Found nope"
        );
        assert!(short_text(&[b'x'; 500]).chars().count() <= ERROR_CHARS + 1);
    }
}
