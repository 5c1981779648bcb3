//! The protobuf layers around a Session message (client-protocol §3.1 steps 6–7, §3.2,
//! §5.4, §6.6): `Content` inside the (encrypted) payload, `Envelope` around the
//! ciphertext, and the `WebSocketMessage` wrapper that is the swarm payload.
//!
//! Building follows what current clients send byte for byte; unwrapping is lenient and
//! accepts what old clients sent (`verb "PUT"`, `path "/api/v1/message"`, a random
//! `requestId`, `source ""`, no `proSig`).

use prost::Message;

use crate::error::WireError;
use crate::proto::session::{Content, Envelope, envelope};
use crate::proto::websocket::{WebSocketMessage, WebSocketRequestMessage, web_socket_message};

/// `sourceDevice` of every envelope current clients build.
pub const SOURCE_DEVICE: u32 = 1;

/// Envelope `timestamp` of the transitional config wrapping (client-protocol §6.6).
pub const LEGACY_CONFIG_TIMESTAMP: u64 = 1;

/// The `Envelope` of a 1:1 message (client-protocol §3.1 step 6): type `SESSION_MESSAGE`,
/// `sourceDevice` 1, the sent time in ms, the sealed-box `ciphertext` and, if given, the
/// 64-byte `proSig` (a Pro signature or a decoy). `source` is left unset.
pub fn session_envelope(
    ciphertext: &[u8],
    timestamp_ms: u64,
    pro_sig: Option<&[u8; 64]>,
) -> Envelope {
    Envelope {
        r#type: envelope::Type::SessionMessage as i32,
        source: None,
        timestamp: timestamp_ms,
        source_device: Some(SOURCE_DEVICE),
        content: Some(ciphertext.to_vec()),
        server_timestamp: None,
        pro_sig: pro_sig.map(|s| s.to_vec()),
    }
}

/// The `Envelope` of a groups-v2 message (client-protocol §5.4): type
/// `CLOSED_GROUP_MESSAGE`, `sourceDevice` 1, the sent time in ms, the plain serialized
/// `Content` (neither padded nor encrypted — the group encryption wraps the whole
/// envelope) and an optional `proSig`.
pub fn group_envelope(content: &[u8], timestamp_ms: u64, pro_sig: Option<&[u8; 64]>) -> Envelope {
    Envelope {
        r#type: envelope::Type::ClosedGroupMessage as i32,
        source: None,
        timestamp: timestamp_ms,
        source_device: Some(SOURCE_DEVICE),
        content: Some(content.to_vec()),
        server_timestamp: None,
        pro_sig: pro_sig.map(|s| s.to_vec()),
    }
}

/// Serializes an envelope.
pub fn encode_envelope(envelope: &Envelope) -> Vec<u8> {
    envelope.encode_to_vec()
}

/// Wraps serialized envelope bytes the way current clients do (client-protocol §3.1
/// step 7): `WebSocketMessage{type REQUEST, request{verb "", path "", body, requestId 0}}`.
/// The result is the swarm payload (its first byte is `0x08`).
pub fn wrap_websocket(envelope_bytes: &[u8]) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some(String::new()),
            path: Some(String::new()),
            body: Some(envelope_bytes.to_vec()),
            request_id: Some(0),
            headers: Vec::new(),
        }),
        response: None,
    }
    .encode_to_vec()
}

/// The complete swarm payload of a 1:1 message: [`session_envelope`] inside
/// [`wrap_websocket`].
pub fn wrap_1o1(ciphertext: &[u8], timestamp_ms: u64, pro_sig: Option<&[u8; 64]>) -> Vec<u8> {
    wrap_websocket(&encode_envelope(&session_envelope(
        ciphertext,
        timestamp_ms,
        pro_sig,
    )))
}

/// The transitional wrapping of a config push (client-protocol §6.6):
/// `Envelope{type SESSION_MESSAGE, timestamp 1, content}` (no `sourceDevice`) inside
/// [`wrap_websocket`]. `ciphertext` is the deterministic sealed box of the padded
/// `Content{sharedConfigMessage}`.
pub fn wrap_legacy_config(ciphertext: &[u8]) -> Vec<u8> {
    let env = Envelope {
        r#type: envelope::Type::SessionMessage as i32,
        source: None,
        timestamp: LEGACY_CONFIG_TIMESTAMP,
        source_device: None,
        content: Some(ciphertext.to_vec()),
        server_timestamp: None,
        pro_sig: None,
    };
    wrap_websocket(&encode_envelope(&env))
}

/// An unwrapped swarm payload: the envelope and the request metadata it came in (kept so
/// callers can tell old-client payloads apart if they care).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    /// The envelope; its `content` is guaranteed present.
    pub envelope: Envelope,
    /// `request.verb` (`""` today, `"PUT"` from old clients; `None` if absent).
    pub verb: Option<String>,
    /// `request.path` (`""` today, `"/api/v1/message"` from old clients).
    pub path: Option<String>,
    /// `request.requestId` (0 today, random from old clients).
    pub request_id: Option<u64>,
}

impl Unwrapped {
    /// The envelope's `content` bytes (the sealed box for 1:1 messages).
    pub fn content(&self) -> &[u8] {
        self.envelope.content.as_deref().unwrap_or_default()
    }
}

/// Decodes a `WebSocketMessage` and returns its request, whose `body` (the envelope
/// bytes) is guaranteed present. Accepts a missing `type` or `REQUEST`; rejects
/// `RESPONSE`/other types, a missing request and a missing body.
pub fn unwrap_websocket(payload: &[u8]) -> Result<WebSocketRequestMessage, WireError> {
    let wsm = WebSocketMessage::decode(payload).map_err(WireError::proto("WebSocketMessage"))?;
    if let Some(t) = wsm.r#type
        && t != web_socket_message::Type::Request as i32
    {
        return Err(WireError::bad_field(
            "WebSocketMessage",
            "type",
            format!("{t} is not REQUEST (1)"),
        ));
    }
    let request = wsm.request.ok_or(WireError::MissingField {
        what: "WebSocketMessage",
        field: "request",
    })?;
    if request.body.is_none() {
        return Err(WireError::MissingField {
            what: "WebSocketRequestMessage",
            field: "body",
        });
    }
    Ok(request)
}

/// Decodes a serialized `Envelope`, requiring `content`. The `type` is not checked
/// (receivers infer it from the namespace) and `source`, `sourceDevice` and `proSig` are
/// optional.
pub fn decode_envelope(bytes: &[u8]) -> Result<Envelope, WireError> {
    let env = Envelope::decode(bytes).map_err(WireError::proto("Envelope"))?;
    if env.content.is_none() {
        return Err(WireError::MissingField {
            what: "Envelope",
            field: "content",
        });
    }
    Ok(env)
}

/// Unwraps a 1:1 swarm payload (client-protocol §3.2): `WebSocketMessage` →
/// `request.body` → `Envelope` with `content`. Lenient towards old clients, see the
/// module docs.
pub fn unwrap_1o1(payload: &[u8]) -> Result<Unwrapped, WireError> {
    let request = unwrap_websocket(payload)?;
    Ok(Unwrapped {
        envelope: decode_envelope(request.body.as_deref().unwrap_or_default())?,
        verb: request.verb,
        path: request.path,
        request_id: request.request_id,
    })
}

/// Serializes a `Content`.
pub fn encode_content(content: &Content) -> Vec<u8> {
    content.encode_to_vec()
}

/// Decodes a serialized (already unpadded) `Content`.
pub fn decode_content(bytes: &[u8]) -> Result<Content, WireError> {
    Content::decode(bytes).map_err(WireError::proto("Content"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_wrapping_starts_with_type_request() {
        let payload = wrap_1o1(b"ct", 1234, None);
        assert_eq!(payload[0], 0x08);
        let un = unwrap_1o1(&payload).unwrap();
        assert_eq!(un.content(), b"ct");
        assert_eq!(un.envelope.timestamp, 1234);
        assert_eq!(un.envelope.source_device, Some(1));
        assert_eq!(un.verb.as_deref(), Some(""));
        assert_eq!(un.request_id, Some(0));
    }
}
