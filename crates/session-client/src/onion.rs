//! Onion request construction and reply decoding (client-protocol §8.3–§8.4,
//! storage-node §7), pure.
//!
//! For a path `H1 (guard) … Hn` and a destination:
//!
//! * **a service node `D`**: the innermost layer, encrypted to `D`, is
//!   `u32le(len) ‖ {"method","params"} ‖ {"headers":""}`; `Hn` is told to relay it to `D`
//!   (`{"destination": D_ed25519, "ephemeral_key", "enc_type"}`). `D` answers HTTP 200
//!   with base64 (or `{"result": base64}`) of `{"status", "body"}` encrypted with the
//!   innermost key ([`decode_snode_reply`]).
//! * **a server** ([`ServerTarget`]): the innermost blob is the v4 request encrypted to
//!   the server's X25519 key; `Hn` is told to proxy it (`{"host", "target":
//!   "/oxen/v4/lsrpc", "port", "protocol", "method": "POST", "ephemeral_key",
//!   "enc_type"}`) and returns the server's raw answer: the encrypted v4 response
//!   ([`decode_server_reply`]).
//!
//! Every outer layer `Hi` (i < n) only names the next hop. The guard gets
//! `u32le(len) ‖ blob ‖ {"ephemeral_key", "enc_type"}` on `POST /onion_req/v2`. Each
//! layer uses a fresh ephemeral X25519 key.
//!
//! Errors on the way back are plaintext HTTP statuses; [`next_node_not_found`] reads
//! the one that names an unknown hop.

use serde::Serialize;
use serde_json::{Value, json};
use session_crypto::onion::{EncType, HopKey, client_encrypt};
use session_wire::onion::{
    EntryMetadata, FinalHopControl, Protocol, ProxyControl, RelayControl, V4_TARGET, V4Response,
    decode_response_text, encode_frame, parse_snode_response, parse_v4_response,
};

use crate::directory::Snode;
use crate::error::{ClientError, Result};

/// The HTTP path of onion requests on a node's storage port.
pub const ONION_ENDPOINT: &str = "/onion_req/v2";

/// A server reached through the onion (community server, file server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    /// Host name or IP the exit node connects to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `http` or `https`.
    pub protocol: Protocol,
    /// The server's X25519 public key (the innermost layer is encrypted to it).
    pub x25519: [u8; 32],
}

/// A request ready to send to the guard.
#[derive(Debug, Clone)]
pub struct BuiltRequest {
    /// The body of `POST /onion_req/v2` to the guard.
    pub guard_body: Vec<u8>,
    /// The key of the innermost layer: it decrypts the destination's reply.
    pub reply_key: HopKey,
}

/// A storage node's answer through the onion.
#[derive(Debug, Clone, PartialEq)]
pub struct SnodeReply {
    /// The storage RPC status (200, 421, 401 …).
    pub status: u16,
    /// The body: JSON when it parses as JSON, otherwise the text as a JSON string.
    pub body: Value,
}

/// The JSON body of a storage RPC: `{"method", "params"}`.
pub fn rpc_body(method: &str, params: Value) -> Vec<u8> {
    json!({"method": method, "params": params})
        .to_string()
        .into_bytes()
}

/// Wraps `blob` (encrypted with ephemeral key `eph`) in one layer per hop, the last hop
/// getting `exit_control`, and frames the result for the guard.
fn wrap<C: Serialize>(
    hops: &[Snode],
    enc: EncType,
    exit_control: &C,
    blob: Vec<u8>,
) -> Result<Vec<u8>> {
    let Some((exit, inner)) = hops.split_last() else {
        return Err(ClientError::BadInput {
            what: "onion path",
            reason: "a path needs at least one hop".into(),
        });
    };
    let layer = client_encrypt(enc, &exit.x25519, &encode_frame(&blob, exit_control)?)?;
    let (mut blob, mut eph, mut next) = (layer.ciphertext, layer.ephemeral_public, exit.ed25519);
    for hop in inner.iter().rev() {
        let control = RelayControl {
            destination: next,
            ephemeral_key: eph,
            enc_type: enc.into(),
        };
        let layer = client_encrypt(enc, &hop.x25519, &encode_frame(&blob, &control)?)?;
        (blob, eph, next) = (layer.ciphertext, layer.ephemeral_public, hop.ed25519);
    }
    let entry = EntryMetadata {
        ephemeral_key: eph,
        enc_type: Some(enc.into()),
        hop_no: None,
    };
    Ok(encode_frame(&blob, &entry)?)
}

/// Builds an onion request over `hops` to storage node `dest`; `rpc` is the storage
/// RPC JSON (see [`rpc_body`]).
pub fn build_snode_request(
    hops: &[Snode],
    dest: &Snode,
    enc: EncType,
    rpc: &[u8],
) -> Result<BuiltRequest> {
    let inner = client_encrypt(
        enc,
        &dest.x25519,
        &encode_frame(rpc, &FinalHopControl::default())?,
    )?;
    let exit = RelayControl {
        destination: dest.ed25519,
        ephemeral_key: inner.ephemeral_public,
        enc_type: enc.into(),
    };
    Ok(BuiltRequest {
        guard_body: wrap(hops, enc, &exit, inner.ciphertext)?,
        reply_key: inner.key,
    })
}

/// Builds an onion request over `hops` to a server; `v4_body` is the v4 request
/// (`session_wire::onion::encode_v4_request`).
pub fn build_server_request(
    hops: &[Snode],
    server: &ServerTarget,
    enc: EncType,
    v4_body: &[u8],
) -> Result<BuiltRequest> {
    let inner = client_encrypt(enc, &server.x25519, v4_body)?;
    let exit = ProxyControl {
        host: server.host.clone(),
        target: V4_TARGET.into(),
        port: server.port,
        protocol: server.protocol,
        method: Some("POST".into()),
        ephemeral_key: Some(inner.ephemeral_public),
        enc_type: Some(enc.into()),
    };
    Ok(BuiltRequest {
        guard_body: wrap(hops, enc, &exit, inner.ciphertext)?,
        reply_key: inner.key,
    })
}

fn bad_reply(what: &'static str) -> impl Fn(&dyn std::fmt::Display) -> ClientError {
    move |e| ClientError::BadReply {
        what,
        reason: e.to_string(),
    }
}

/// Decodes a destination node's HTTP-200 answer: base64 (bare or in `{"result"}`) →
/// decrypt with the innermost key (XChaCha20 falling back to AES-GCM) → `{"status",
/// "body"}`. A reply that does not decrypt (tampered, or from the wrong node) is
/// [`ClientError::BadReply`].
pub fn decode_snode_reply(key: &HopKey, http_body: &[u8]) -> Result<SnodeReply> {
    let what = "onion reply from the destination node";
    let bad = bad_reply(what);
    let ciphertext = decode_response_text(http_body).map_err(|e| bad(&e))?;
    let plain = key.decrypt_reply(&ciphertext).map_err(|e| bad(&e))?;
    let r = parse_snode_response(&plain).map_err(|e| bad(&e))?;
    let body = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body));
    Ok(SnodeReply {
        status: r.status,
        body,
    })
}

/// Decodes a server's answer relayed by the exit node: the raw encrypted v4 response
/// (base64 of it is accepted too) → decrypt → `l<json><body>e`.
pub fn decode_server_reply(key: &HopKey, http_body: &[u8]) -> Result<V4Response> {
    let bad = bad_reply("onion reply from the server");
    let plain = match key.decrypt_reply(http_body) {
        Ok(p) => p,
        Err(raw_err) => decode_response_text(http_body)
            .ok()
            .and_then(|ct| key.decrypt_reply(&ct).ok())
            .ok_or_else(|| bad(&raw_err))?,
    };
    parse_v4_response(&plain).map_err(|e| bad(&e))
}

/// The Ed25519 key named by a `… Next node not found: <hex>` error body.
pub fn next_node_not_found(body: &str) -> Option<[u8; 32]> {
    const MARK: &str = "Next node not found: ";
    let start = body.find(MARK)? + MARK.len();
    let hex_key = body.get(start..start + 64)?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key).ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use session_crypto::X25519Keypair;
    use session_crypto::onion::node_decrypt;
    use session_wire::onion::{
        Control, V4RequestInfo, V4ResponseInfo, encode_response_text, encode_snode_response,
        encode_v4_request, encode_v4_response, parse_frame, parse_v4_request,
    };

    use super::*;

    struct FakeNode {
        keys: X25519Keypair,
        snode: Snode,
    }

    fn fake(i: u8) -> FakeNode {
        let keys = X25519Keypair::generate().unwrap();
        let snode = Snode {
            ed25519: [i; 32],
            x25519: *keys.public(),
            addr: format!("10.0.{i}.1:443").parse().unwrap(),
            swarm_id: 0,
        };
        FakeNode { keys, snode }
    }

    fn enc_of(map: &serde_json::Map<String, Value>) -> EncType {
        EncType::parse(map["enc_type"].as_str().unwrap()).unwrap()
    }

    /// What a node sees after decrypting one layer.
    struct Peeled {
        payload: Vec<u8>,
        control: Control,
        key: HopKey,
        /// The control JSON text.
        control_text: String,
        /// The whole plaintext, lossily as text (to search for leaks).
        plain_text: String,
    }

    fn peel(node: &FakeNode, eph: [u8; 32], enc: EncType, blob: &[u8]) -> Peeled {
        let layer = node_decrypt(enc, &node.keys, &eph, blob).unwrap();
        let frame = parse_frame(&layer.plaintext).unwrap();
        Peeled {
            payload: frame.payload.to_vec(),
            control: frame.classify().unwrap(),
            control_text: String::from_utf8_lossy(frame.control_json).into_owned(),
            plain_text: String::from_utf8_lossy(&layer.plaintext).into_owned(),
            key: layer.key,
        }
    }

    fn entry(body: &[u8]) -> (Vec<u8>, [u8; 32], EncType) {
        let f = parse_frame(body).unwrap();
        let meta: EntryMetadata = f.control_as().unwrap();
        assert_eq!(meta.hop_no, None);
        assert_eq!(f.control.len(), 2, "only ephemeral_key and enc_type");
        (f.payload.to_vec(), meta.ephemeral_key, enc_of(&f.control))
    }

    /// Peels the layers of `hops`, checking that no hop sees `secret` and that only
    /// the exit's control names `exit_only` (the destination); returns the exit's view.
    fn peel_path(
        hops: &[FakeNode],
        body: &[u8],
        enc: EncType,
        secret: &str,
        exit_only: &str,
    ) -> Peeled {
        let (mut blob, mut eph, got) = entry(body);
        assert_eq!(got, enc);
        for (i, node) in hops.iter().enumerate() {
            let p = peel(node, eph, enc, &blob);
            assert!(!p.plain_text.contains(secret), "hop {i} saw the request");
            if i + 1 == hops.len() {
                assert!(p.control_text.contains(exit_only), "{}", p.control_text);
                return p;
            }
            assert!(
                !p.control_text.contains(exit_only),
                "hop {i} saw the destination"
            );
            let Control::Relay(r) = p.control else {
                panic!("hop {i} is not told to relay: {}", p.control_text)
            };
            assert_eq!(
                r.destination,
                hops[i + 1].snode.ed25519,
                "hop {i} relays to the next hop"
            );
            assert_eq!(r.enc_type, enc.into());
            (blob, eph) = (p.payload, r.ephemeral_key);
        }
        panic!("empty path")
    }

    #[test]
    fn snode_request_peels_hop_by_hop() {
        for enc in [EncType::XChaCha20, EncType::AesGcm] {
            let hops: Vec<FakeNode> = (1..=3).map(fake).collect();
            let dest = fake(9);
            let path: Vec<Snode> = hops.iter().map(|h| h.snode.clone()).collect();
            let rpc = rpc_body("retrieve", json!({"pubkey": "05secret"}));
            let built = build_snode_request(&path, &dest.snode, enc, &rpc).unwrap();
            let dest_hex = dest.snode.ed25519_hex();
            let exit = peel_path(&hops, &built.guard_body, enc, "05secret", &dest_hex);
            let Control::Relay(r) = exit.control else {
                panic!("exit must relay")
            };
            assert_eq!(r.destination, dest.snode.ed25519);
            // The destination finds the RPC and {"headers":""}.
            let d = peel(&dest, r.ephemeral_key, enc, &exit.payload);
            assert_eq!(d.payload, rpc);
            assert_eq!(d.control_text, r#"{"headers":""}"#);
            assert!(matches!(d.control, Control::FinalDestination(_)));
            // Its reply decodes with the client's key, bare or wrapped.
            let reply = d
                .key
                .encrypt(&encode_snode_response(421, r#"{"swarm":"1","t":5}"#))
                .unwrap();
            let b64 = encode_response_text(&reply);
            let got = decode_snode_reply(&built.reply_key, b64.as_bytes()).unwrap();
            assert_eq!(got.status, 421);
            assert_eq!(got.body["t"], 5);
            let wrapped = json!({"result": b64}).to_string();
            assert_eq!(
                decode_snode_reply(&built.reply_key, wrapped.as_bytes()).unwrap(),
                got
            );
            // A text body stays text.
            let reply = d
                .key
                .encrypt(&encode_snode_response(400, "no method x"))
                .unwrap();
            let got = decode_snode_reply(&built.reply_key, encode_response_text(&reply).as_bytes())
                .unwrap();
            assert_eq!(got.body, Value::String("no method x".into()));
        }
    }

    /// A request to `dest` over `hops` and the destination's reply key.
    fn delivered(hops: &[FakeNode], dest: &FakeNode, enc: EncType) -> (BuiltRequest, HopKey) {
        let path: Vec<Snode> = hops.iter().map(|h| h.snode.clone()).collect();
        let built = build_snode_request(&path, &dest.snode, enc, b"{}").unwrap();
        let exit = peel_path(
            hops,
            &built.guard_body,
            enc,
            "never-present-marker",
            &dest.snode.ed25519_hex(),
        );
        let Control::Relay(r) = exit.control else {
            panic!("exit must relay")
        };
        let d = peel(dest, r.ephemeral_key, enc, &exit.payload);
        (built, d.key)
    }

    #[test]
    fn tampered_or_foreign_replies_are_rejected() {
        let hops: Vec<FakeNode> = (1..=3).map(fake).collect();
        let dest = fake(9);
        let (built, key) = delivered(&hops, &dest, EncType::XChaCha20);
        let mut reply = key.encrypt(&encode_snode_response(200, "{}")).unwrap();
        let last = reply.len() - 1;
        reply[last] ^= 1;
        let e = decode_snode_reply(&built.reply_key, encode_response_text(&reply).as_bytes())
            .unwrap_err();
        assert!(matches!(e, ClientError::BadReply { .. }), "{e}");
        assert!(e.is_path_failure());
        // A reply made for another key.
        let foreign = client_encrypt(
            EncType::XChaCha20,
            hops[2].keys.public(),
            b"{\"status\":200}",
        )
        .unwrap();
        assert!(
            decode_snode_reply(
                &built.reply_key,
                encode_response_text(&foreign.ciphertext).as_bytes()
            )
            .is_err()
        );
        assert!(decode_snode_reply(&built.reply_key, b"not base64!").is_err());
        assert!(decode_snode_reply(&built.reply_key, b"").is_err());
        // A decryptable reply that is not a status object.
        let junk = key.encrypt(b"[1,2]").unwrap();
        assert!(
            decode_snode_reply(&built.reply_key, encode_response_text(&junk).as_bytes()).is_err()
        );
    }

    #[test]
    fn aes_gcm_reply_to_an_xchacha_request_is_accepted() {
        // libsession's fallback for legacy servers (session_crypto does the retry).
        let hops: Vec<FakeNode> = (1..=2).map(fake).collect();
        let dest = fake(9);
        let (built, key) = delivered(&hops, &dest, EncType::XChaCha20);
        let eph = *key.client_pub();
        let gcm = HopKey::for_node(EncType::AesGcm, &dest.keys, &eph).unwrap();
        let reply = gcm
            .encrypt(&encode_snode_response(200, "{\"t\":1}"))
            .unwrap();
        let got =
            decode_snode_reply(&built.reply_key, encode_response_text(&reply).as_bytes()).unwrap();
        assert_eq!(got.status, 200);
    }

    #[test]
    fn server_request_reaches_the_server_through_the_exit() {
        for enc in [EncType::XChaCha20, EncType::AesGcm] {
            let hops: Vec<FakeNode> = (1..=3).map(fake).collect();
            let server = X25519Keypair::generate().unwrap();
            let target = ServerTarget {
                host: "files.example".into(),
                port: 8443,
                protocol: Protocol::Https,
                x25519: *server.public(),
            };
            let path: Vec<Snode> = hops.iter().map(|h| h.snode.clone()).collect();
            let info = V4RequestInfo {
                method: "GET".into(),
                endpoint: "/room/secret/messages".into(),
                headers: Default::default(),
            };
            let v4 = encode_v4_request(&info, Some(b"body"));
            let built = build_server_request(&path, &target, enc, &v4).unwrap();
            let exit = peel_path(
                &hops,
                &built.guard_body,
                enc,
                "/room/secret",
                "files.example",
            );
            let Control::Proxy(p) = exit.control else {
                panic!("exit must proxy")
            };
            assert_eq!(
                (p.host.as_str(), p.port, p.target.as_str()),
                ("files.example", 8443, V4_TARGET)
            );
            assert_eq!(p.protocol, Protocol::Https);
            assert_eq!(p.method.as_deref(), Some("POST"));
            assert_eq!(p.enc_type, Some(enc.into()));
            // The server decrypts the blob with the key the control names.
            let layer =
                node_decrypt(enc, &server, &p.ephemeral_key.unwrap(), &exit.payload).unwrap();
            let req = parse_v4_request(&layer.plaintext).unwrap();
            assert_eq!(req.info, info);
            assert_eq!(req.body.as_deref(), Some(&b"body"[..]));
            let resp_info = V4ResponseInfo {
                code: 201,
                headers: Default::default(),
            };
            let resp = layer
                .key
                .encrypt(&encode_v4_response(&resp_info, Some(b"ok")))
                .unwrap();
            let got = decode_server_reply(&built.reply_key, &resp).unwrap();
            assert_eq!(got.info.code, 201);
            assert_eq!(got.body.as_deref(), Some(&b"ok"[..]));
            let again =
                decode_server_reply(&built.reply_key, encode_response_text(&resp).as_bytes())
                    .unwrap();
            assert_eq!(again, got);
            let mut bad = resp.clone();
            bad[5] ^= 0x40;
            assert!(decode_server_reply(&built.reply_key, &bad).is_err());
        }
    }

    #[test]
    fn single_hop_and_empty_paths() {
        let hop = fake(1);
        let dest = fake(2);
        let (built, _) = delivered(std::slice::from_ref(&hop), &dest, EncType::AesGcm);
        assert!(!built.guard_body.is_empty());
        let e = build_snode_request(&[], &dest.snode, EncType::AesGcm, b"{}").unwrap_err();
        assert!(matches!(e, ClientError::BadInput { .. }));
    }

    #[test]
    fn next_node_not_found_bodies() {
        let k = [0xab; 32];
        let body = format!("502 Bad Gateway\n\nNext node not found: {}", hex::encode(k));
        assert_eq!(next_node_not_found(&body), Some(k));
        assert_eq!(
            next_node_not_found(&format!("Next node not found: {}", hex::encode(k))),
            Some(k)
        );
        assert_eq!(next_node_not_found("Next node not found: abc"), None);
        assert_eq!(next_node_not_found("Invalid ciphertext"), None);
    }
}
