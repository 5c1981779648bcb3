//! Hand-built onion requests for relay tests: every layer is visible and can be damaged
//! on purpose, which a real client never allows. The client library
//! (`session-client`) builds the same bytes for real use.

use std::net::SocketAddr;

use serde_json::json;
use session_crypto::onion::{EncType, HopKey, client_encrypt};
use session_crypto::{Ed25519PublicKey, X25519Keypair};
use session_rt::http::{HttpConnection, HttpReply};
use session_wire::onion::{FinalHopControl, RelayControl, encode_frame, encode_frame_raw};

use crate::{Result, TestNetwork, TestkitError};

/// A node as a layer target: its keys and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnionHop {
    /// Ed25519 public key (names the hop in the previous layer).
    pub ed25519: [u8; 32],
    /// X25519 public key (the layer is encrypted to it).
    pub x25519: [u8; 32],
    /// Its HTTP address.
    pub addr: SocketAddr,
}

impl TestNetwork {
    /// Node `i` as an onion hop.
    pub fn hop(&self, i: usize) -> Result<OnionHop> {
        let node = self.node(i)?;
        let x25519 = Ed25519PublicKey(node.pubkey())
            .to_x25519()
            .map_err(|e| TestkitError::Task(format!("node {i} key: {e}")))?;
        Ok(OnionHop {
            ed25519: node.pubkey(),
            x25519,
            addr: node.addr(),
        })
    }
}

/// A built onion request: the guard's body and the key of every layer (the last one
/// decrypts a destination node's reply).
#[derive(Debug, Clone)]
pub struct BuiltOnion {
    /// `u32le(N) ‖ guard layer ‖ {"ephemeral_key", "enc_type"}`.
    pub body: Vec<u8>,
    /// One key per target, guard first.
    pub keys: Vec<HopKey>,
}

/// The plaintext of a destination node's layer: a storage RPC request and
/// `{"headers": ""}`.
pub fn final_layer(method: &str, params: serde_json::Value) -> Vec<u8> {
    let request = json!({"method": method, "params": params}).to_string();
    encode_frame(request.as_bytes(), &FinalHopControl::default()).unwrap_or_default()
}

/// Wraps `inner` (the plaintext of the last target's layer) for `targets` (guard first),
/// each layer naming the next target. `tamper(k, ciphertext)` may change the
/// ciphertext of layer `k` (0 = the guard's) before it is framed.
pub fn build_onion(
    targets: &[OnionHop],
    inner: Vec<u8>,
    enc: EncType,
    mut tamper: impl FnMut(usize, &mut Vec<u8>),
) -> Result<BuiltOnion> {
    let fail = |e: &dyn std::fmt::Display| TestkitError::Task(format!("build an onion: {e}"));
    let mut plaintext = inner;
    let mut keys = Vec::with_capacity(targets.len());
    let mut next: Option<(&OnionHop, [u8; 32])> = None;
    for (k, target) in targets.iter().enumerate().rev() {
        if let Some((hop, ephemeral)) = next {
            let control = RelayControl {
                destination: hop.ed25519,
                ephemeral_key: ephemeral,
                enc_type: enc.into(),
            };
            plaintext = encode_frame(&plaintext, &control).map_err(|e| fail(&e))?;
        }
        let layer = client_encrypt(enc, &target.x25519, &plaintext).map_err(|e| fail(&e))?;
        let mut ct = layer.ciphertext;
        tamper(k, &mut ct);
        plaintext = ct;
        keys.push(layer.key);
        next = Some((target, layer.ephemeral_public));
    }
    keys.reverse();
    let Some((_, ephemeral)) = next else {
        return Err(fail(&"no targets"));
    };
    let meta = json!({"ephemeral_key": hex::encode(ephemeral), "enc_type": enc.as_str()});
    let body = encode_frame_raw(&plaintext, meta.to_string().as_bytes()).map_err(|e| fail(&e))?;
    Ok(BuiltOnion { body, keys })
}

/// A server answering v4 onion requests (`session_rt::lsrpc`) for `app`, on
/// 127.0.0.1:0 with a fresh X25519 key: its address, the key, and the trigger that
/// stops it.
pub async fn serve_v4(
    app: axum::Router,
) -> Result<(SocketAddr, X25519Keypair, session_rt::ShutdownTrigger)> {
    let keypair =
        X25519Keypair::generate().map_err(|e| TestkitError::Task(format!("server key: {e}")))?;
    let app = session_rt::lsrpc::with_lsrpc(app, std::sync::Arc::new(keypair.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(crate::io("bind a v4 server"))?;
    let addr = listener
        .local_addr()
        .map_err(crate::io("v4 server address"))?;
    let (trigger, shutdown) = session_rt::shutdown::channel();
    tokio::spawn(session_rt::http::serve(
        listener,
        app,
        None,
        shutdown,
        session_rt::http::ServeOptions::default(),
    ));
    Ok((addr, keypair, trigger))
}

/// POSTs `body` to the guard's `/onion_req/v2`.
pub async fn send_onion(guard: SocketAddr, body: Vec<u8>) -> Result<HttpReply> {
    let mut conn = HttpConnection::connect(guard, false).await?;
    Ok(conn
        .request(
            "POST",
            "/onion_req/v2",
            &[("content-type", "application/octet-stream")],
            body,
        )
        .await?)
}
