//! Onion-request framing (storage-node §7, client-protocol §8.3–8.4): everything about
//! onion requests except the cryptography, which lives in `session_crypto::onion`.
//!
//! * the layer frame `u32le(len) || ciphertext || JSON` ([`parse_frame`], [`encode_frame`]);
//! * the control JSON a hop finds after decrypting ([`Control`] and its parts, with the
//!   exact wire field names), and the entry metadata sent to the guard ([`EntryMetadata`]);
//! * the proxy target filter ([`is_allowed_proxy_target`]);
//! * v4 request/response bodies `l<len>:<json>[<len>:<body>]e`;
//! * the storage node's (v3-style) JSON response and its base64 / `{"result": …}` wrapper;
//! * the node-to-node relay dict of `sn.onion_request` ([`RelayRequest`]);
//! * what a hop does with a layer, as a pure function ([`hop`]).

pub mod hop;

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use session_bt::{RawDict, Value as Bt};

use crate::error::WireError;
use crate::hexkey;

/// Largest onion request, v4 body or response this crate parses or builds: 10 MiB, the
/// limit of HTTPS bodies and OxenMQ messages (storage-node §7.7).
pub const MAX_ONION_SIZE: usize = 10 * 1024 * 1024;

/// Hops beyond this many are refused by a relaying node (storage-node §7.1).
pub const MAX_HOPS: i64 = 15;

/// The target of v4 onion requests to servers.
pub const V4_TARGET: &str = "/oxen/v4/lsrpc";

/// The legacy v3 proxy target.
pub const V3_TARGET: &str = "/loki/v3/lsrpc";

// ---------------------------------------------------------------------------------------
// Layer frame
// ---------------------------------------------------------------------------------------

/// One parsed onion layer: `u32le(len) || payload || JSON object`.
#[derive(Debug, Clone, PartialEq)]
pub struct OnionFrame<'a> {
    /// The `len` bytes after the prefix (a ciphertext for the next hop, or a request body).
    pub payload: &'a [u8],
    /// The exact JSON text after the payload.
    pub control_json: &'a [u8],
    /// That JSON, parsed (always an object).
    pub control: Map<String, Value>,
}

impl OnionFrame<'_> {
    /// Deserializes the control JSON into one of this module's typed structs.
    pub fn control_as<T: DeserializeOwned>(&self) -> Result<T, WireError> {
        serde_json::from_value(Value::Object(self.control.clone()))
            .map_err(WireError::json("onion control"))
    }

    /// Dispatches on the control keys (storage-node §7.2), see [`Control::from_object`].
    pub fn classify(&self) -> Result<Control, WireError> {
        Control::from_object(&self.control)
    }
}

/// Parses `u32le(len) || payload || JSON`, the body of an entry request, a decrypted layer
/// and a v4 request POSTed to a server. Rejects input over [`MAX_ONION_SIZE`], fewer than
/// four bytes, a length past the end, and a trailer that is not one JSON object.
pub fn parse_frame(input: &[u8]) -> Result<OnionFrame<'_>, WireError> {
    const WHAT: &str = "onion frame";
    if input.len() > MAX_ONION_SIZE {
        return Err(WireError::TooLarge {
            what: WHAT,
            size: input.len(),
            max: MAX_ONION_SIZE,
        });
    }
    let Some((prefix, rest)) = input.split_first_chunk::<4>() else {
        return Err(WireError::Truncated {
            what: WHAT,
            needed: 4,
            available: input.len(),
        });
    };
    let declared = u32::from_le_bytes(*prefix);
    let len = usize::try_from(declared).unwrap_or(usize::MAX);
    if len > rest.len() {
        return Err(WireError::LengthOutOfBounds {
            what: WHAT,
            declared: u64::from(declared),
            available: rest.len(),
        });
    }
    let (payload, control_json) = rest.split_at(len);
    let control = match serde_json::from_slice::<Value>(control_json)
        .map_err(WireError::json("onion frame control"))?
    {
        Value::Object(map) => map,
        _ => {
            return Err(WireError::NotJsonObject {
                what: "onion frame control",
            });
        }
    };
    Ok(OnionFrame {
        payload,
        control_json,
        control,
    })
}

/// Builds `u32le(len) || payload || control_json` from raw JSON text (not validated; use
/// [`encode_frame`] to serialize a typed control). Fails if the result would exceed
/// [`MAX_ONION_SIZE`].
pub fn encode_frame_raw(payload: &[u8], control_json: &[u8]) -> Result<Vec<u8>, WireError> {
    let size = 4 + payload.len() + control_json.len();
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| size <= MAX_ONION_SIZE);
    let Some(len) = len else {
        return Err(WireError::TooLarge {
            what: "onion frame",
            size,
            max: MAX_ONION_SIZE,
        });
    };
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(control_json);
    Ok(out)
}

/// Builds `u32le(len) || payload || JSON(control)`. `control` must serialize to a JSON
/// object (all the control types here do).
pub fn encode_frame<T: Serialize>(payload: &[u8], control: &T) -> Result<Vec<u8>, WireError> {
    let value = serde_json::to_value(control).map_err(WireError::json("onion control"))?;
    if !value.is_object() {
        return Err(WireError::NotJsonObject {
            what: "onion control",
        });
    }
    encode_frame_raw(payload, value.to_string().as_bytes())
}

// ---------------------------------------------------------------------------------------
// Control JSON
// ---------------------------------------------------------------------------------------

/// The AEAD of an onion layer, named by the `enc_type` field (storage-node §7.1, §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncType {
    /// AES-256-GCM (`"aes-gcm"` or `"gcm"`); the default when `enc_type` is absent.
    #[default]
    AesGcm,
    /// XChaCha20-Poly1305 (`"xchacha20"` or `"xchacha20-poly1305"`).
    XChaCha20,
    /// Legacy AES-256-CBC (`"aes-cbc"` or `"cbc"`).
    AesCbc,
}

impl EncType {
    /// Parses any accepted spelling.
    pub fn parse(name: &str) -> Result<Self, WireError> {
        match name {
            "aes-gcm" | "gcm" => Ok(Self::AesGcm),
            "xchacha20" | "xchacha20-poly1305" => Ok(Self::XChaCha20),
            "aes-cbc" | "cbc" => Ok(Self::AesCbc),
            other => Err(WireError::UnknownEncType(other.chars().take(64).collect())),
        }
    }

    /// The canonical spelling clients send.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AesGcm => "aes-gcm",
            Self::XChaCha20 => "xchacha20",
            Self::AesCbc => "aes-cbc",
        }
    }

    /// The matching `session_crypto` cipher, or `None` for legacy AES-CBC (which the
    /// crypto crate does not implement).
    pub fn to_crypto(self) -> Option<session_crypto::onion::EncType> {
        match self {
            Self::AesGcm => Some(session_crypto::onion::EncType::AesGcm),
            Self::XChaCha20 => Some(session_crypto::onion::EncType::XChaCha20),
            Self::AesCbc => None,
        }
    }
}

impl From<session_crypto::onion::EncType> for EncType {
    fn from(enc: session_crypto::onion::EncType) -> Self {
        match enc {
            session_crypto::onion::EncType::AesGcm => Self::AesGcm,
            session_crypto::onion::EncType::XChaCha20 => Self::XChaCha20,
        }
    }
}

impl fmt::Display for EncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EncType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EncType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The scheme a proxying node uses to reach a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `"http"`.
    Http,
    /// `"https"` (the default).
    #[default]
    Https,
}

/// Metadata sent with the entry request to the guard (`POST /onion_req/v2` or QUIC
/// `onion_req`): `{"ephemeral_key", "enc_type"?, "hop_no"?}`. Also the metadata of a v4
/// request POSTed to a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMetadata {
    /// The client's ephemeral X25519 public key for this layer (64 hex on the wire).
    #[serde(with = "hexkey::required")]
    pub ephemeral_key: [u8; 32],
    /// The layer's AEAD; absent means AES-GCM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc_type: Option<EncType>,
    /// Starting hop counter (optional; clients may start above 0 to hide their position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_no: Option<i64>,
}

/// Control of the last layer for a storage node: `{"headers": …}` (clients send `""`),
/// optionally `"json"` and `"base64"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalHopControl {
    /// Any value; only its presence matters. Clients send `""`.
    #[serde(default)]
    pub headers: Value,
    /// Embed a JSON response body as a JSON value instead of a string (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub json: bool,
    /// Base64-encode the encrypted response (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub base64: bool,
}

impl Default for FinalHopControl {
    /// `{"headers": ""}`, what clients send.
    fn default() -> Self {
        Self {
            headers: Value::String(String::new()),
            json: false,
            base64: true,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

fn default_port() -> u16 {
    443
}

/// Control asking a node to proxy the whole decrypted layer to an HTTP(S) server:
/// `{"host", "target", "port", "protocol", "method"?, "ephemeral_key"?, "enc_type"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyControl {
    /// The server's host name or IP.
    pub host: String,
    /// The path, e.g. [`V4_TARGET`]; see [`is_allowed_proxy_target`].
    pub target: String,
    /// TCP port (default 443).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `http` or `https` (default https; nothing else is allowed).
    #[serde(default)]
    pub protocol: Protocol,
    /// HTTP method (clients send `"POST"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Ephemeral key for the server's own decryption of the payload.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hexkey::optional"
    )]
    pub ephemeral_key: Option<[u8; 32]>,
    /// AEAD for the server's own decryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc_type: Option<EncType>,
}

/// Control asking a node to relay the payload to the next node:
/// `{"destination", "ephemeral_key", "enc_type"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayControl {
    /// The next node's Ed25519 public key (64 hex on the wire).
    #[serde(with = "hexkey::required")]
    pub destination: [u8; 32],
    /// The ephemeral X25519 key of the next layer.
    #[serde(with = "hexkey::required")]
    pub ephemeral_key: [u8; 32],
    /// The next layer's AEAD (default AES-GCM).
    #[serde(default)]
    pub enc_type: EncType,
}

/// What a node must do with a decrypted layer (storage-node §7.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// `"headers"` present: this node is the destination; the payload is a storage RPC
    /// request.
    FinalDestination(FinalHopControl),
    /// `"host"` present: proxy to a server.
    Proxy(ProxyControl),
    /// Otherwise: relay to `destination`.
    Relay(RelayControl),
}

impl Control {
    /// Dispatches a control object: `"headers"` → final destination, else `"host"` →
    /// proxy, else relay. Required fields (`target` for proxies; `destination` and
    /// `ephemeral_key` for relays) are reported as [`WireError::MissingField`]; badly typed
    /// values as [`WireError::InvalidJson`].
    pub fn from_object(map: &Map<String, Value>) -> Result<Self, WireError> {
        fn typed<T: DeserializeOwned>(
            map: &Map<String, Value>,
            what: &'static str,
            required: &[&'static str],
        ) -> Result<T, WireError> {
            if let Some(field) = required.iter().find(|f| !map.contains_key(**f)) {
                return Err(WireError::MissingField { what, field });
            }
            serde_json::from_value(Value::Object(map.clone())).map_err(WireError::json(what))
        }
        if map.contains_key("headers") {
            typed(map, "onion final-hop control", &[]).map(Self::FinalDestination)
        } else if map.contains_key("host") {
            typed(map, "onion proxy control", &["target"]).map(Self::Proxy)
        } else {
            typed(
                map,
                "onion relay control",
                &["destination", "ephemeral_key"],
            )
            .map(Self::Relay)
        }
    }

    /// The control as a JSON object.
    pub fn to_json(&self) -> Value {
        let v = match self {
            Self::FinalDestination(c) => serde_json::to_value(c),
            Self::Proxy(c) => serde_json::to_value(c),
            Self::Relay(c) => serde_json::to_value(c),
        };
        // These types only contain strings, integers, booleans and JSON values.
        v.unwrap_or(Value::Null)
    }
}

/// The proxy target filter of storage-node §7.2: the target must start with `/loki/` or
/// `/oxen/`, end with `/lsrpc` and contain no `?`. Other targets get an encrypted 400
/// "Invalid url".
pub fn is_allowed_proxy_target(target: &str) -> bool {
    (target.starts_with("/loki/") || target.starts_with("/oxen/"))
        && target.ends_with("/lsrpc")
        && !target.contains('?')
}

// ---------------------------------------------------------------------------------------
// v4 requests and responses
// ---------------------------------------------------------------------------------------

/// The JSON part of a v4 request: `{"method", "endpoint", "headers"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4RequestInfo {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Path and query on the server, e.g. `"/room/x/messages/since/5"`.
    pub endpoint: String,
    /// Request headers (absent on the wire means none).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A parsed v4 request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Request {
    /// The request line and headers.
    pub info: V4RequestInfo,
    /// The request body, if one was sent (may be binary).
    pub body: Option<Vec<u8>>,
}

/// The JSON part of a v4 response: `{"code": int, "headers": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4ResponseInfo {
    /// HTTP status code.
    pub code: u16,
    /// Response headers (absent on the wire means none).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A parsed v4 response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Response {
    /// Status and headers.
    pub info: V4ResponseInfo,
    /// The response body, if one was sent.
    pub body: Option<Vec<u8>>,
}

fn headers_json(headers: &BTreeMap<String, String>) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn v4_list(json: &[u8], body: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + body.map_or(0, <[u8]>::len) + 24);
    out.push(b'l');
    session_bt::encode_bytes(json, &mut out);
    if let Some(b) = body {
        session_bt::encode_bytes(b, &mut out);
    }
    out.push(b'e');
    out
}

/// Builds a v4 request body (client-protocol §8.4): `l<len>:<json>[<len>:<body>]e`.
pub fn encode_v4_request(info: &V4RequestInfo, body: Option<&[u8]>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("method".into(), Value::String(info.method.clone()));
    m.insert("endpoint".into(), Value::String(info.endpoint.clone()));
    m.insert("headers".into(), headers_json(&info.headers));
    v4_list(Value::Object(m).to_string().as_bytes(), body)
}

/// Builds a v4 response body: `l<len>:{"code","headers"}<len>:<body>e` (body optional).
pub fn encode_v4_response(info: &V4ResponseInfo, body: Option<&[u8]>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("code".into(), Value::from(info.code));
    m.insert("headers".into(), headers_json(&info.headers));
    v4_list(Value::Object(m).to_string().as_bytes(), body)
}

/// The JSON object and the optional body of a v4 list.
type V4Parts = (Map<String, Value>, Option<Vec<u8>>);

/// Splits a v4 body into its JSON object and optional body.
fn parse_v4_list(input: &[u8], what: &'static str) -> Result<V4Parts, WireError> {
    if input.len() > MAX_ONION_SIZE {
        return Err(WireError::TooLarge {
            what,
            size: input.len(),
            max: MAX_ONION_SIZE,
        });
    }
    const SHAPE: &str = "a bencoded list of one or two strings";
    let Bt::List(items) = session_bt::decode(input).map_err(WireError::bt(what))? else {
        return Err(WireError::WrongShape {
            what,
            expected: SHAPE,
        });
    };
    let mut items = items.into_iter();
    let (Some(Bt::Bytes(json)), body, None) = (items.next(), items.next(), items.next()) else {
        return Err(WireError::WrongShape {
            what,
            expected: SHAPE,
        });
    };
    let body = match body {
        None => None,
        Some(Bt::Bytes(b)) => Some(b),
        Some(_) => {
            return Err(WireError::WrongShape {
                what,
                expected: SHAPE,
            });
        }
    };
    match serde_json::from_slice::<Value>(&json).map_err(WireError::json(what))? {
        Value::Object(map) => Ok((map, body)),
        _ => Err(WireError::NotJsonObject { what }),
    }
}

fn typed_json<T: DeserializeOwned>(
    map: Map<String, Value>,
    what: &'static str,
    required: &[&'static str],
) -> Result<T, WireError> {
    if let Some(field) = required.iter().find(|f| !map.contains_key(**f)) {
        return Err(WireError::MissingField { what, field });
    }
    serde_json::from_value(Value::Object(map)).map_err(WireError::json(what))
}

/// Parses a v4 request body. Rejects input over [`MAX_ONION_SIZE`], anything but a
/// canonical bencoded list of one or two strings, and a first string that is not a JSON
/// object with string `method` and `endpoint` (and, if present, string-valued `headers`).
pub fn parse_v4_request(input: &[u8]) -> Result<V4Request, WireError> {
    const WHAT: &str = "v4 request";
    let (map, body) = parse_v4_list(input, WHAT)?;
    let info = typed_json(map, WHAT, &["method", "endpoint"])?;
    Ok(V4Request { info, body })
}

/// Parses a (decrypted) v4 response body; see [`parse_v4_request`] for what is rejected.
/// `code` is required.
pub fn parse_v4_response(input: &[u8]) -> Result<V4Response, WireError> {
    const WHAT: &str = "v4 response";
    let (map, body) = parse_v4_list(input, WHAT)?;
    let info = typed_json(map, WHAT, &["code"])?;
    Ok(V4Response { info, body })
}

// ---------------------------------------------------------------------------------------
// Storage-node (v3-style) responses
// ---------------------------------------------------------------------------------------

/// A storage node's decrypted onion response: `{"status_code"|"status": int, "body":
/// string, "headers"?}` (storage-node §7.4).
#[derive(Debug, Clone, PartialEq)]
pub struct SnodeResponse {
    /// HTTP-style status.
    pub status: u16,
    /// The body text: the storage RPC JSON for a node destination. A body embedded as a
    /// JSON value (`"json": true`) is given back serialized.
    pub body: String,
    /// Headers, if the responder sent any.
    pub headers: Option<Map<String, Value>>,
}

/// Parses a decrypted storage-node response. `status_code` wins over `status`; one of
/// them is required; a missing `body` reads as empty.
pub fn parse_snode_response(plaintext: &[u8]) -> Result<SnodeResponse, WireError> {
    const WHAT: &str = "snode response";
    if plaintext.len() > MAX_ONION_SIZE {
        return Err(WireError::TooLarge {
            what: WHAT,
            size: plaintext.len(),
            max: MAX_ONION_SIZE,
        });
    }
    let Value::Object(mut map) =
        serde_json::from_slice::<Value>(plaintext).map_err(WireError::json(WHAT))?
    else {
        return Err(WireError::NotJsonObject { what: WHAT });
    };
    let (field, status) = match map.remove("status_code") {
        Some(v) => ("status_code", v),
        None => match map.remove("status") {
            Some(v) => ("status", v),
            None => {
                return Err(WireError::MissingField {
                    what: WHAT,
                    field: "status",
                });
            }
        },
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| {
            WireError::bad_field(WHAT, field, format!("{status} is not a status code"))
        })?;
    let body = match map.remove("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    let headers = match map.remove("headers") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => Some(h),
        Some(_) => return Err(WireError::bad_field(WHAT, "headers", "not an object")),
    };
    Ok(SnodeResponse {
        status,
        body,
        headers,
    })
}

/// Builds the plaintext a destination node encrypts: `{"body": <string>, "status": code}`.
pub fn encode_snode_response(status: u16, body: &str) -> Vec<u8> {
    encode_snode_response_value(status, Value::String(body.to_owned()))
}

/// Like [`encode_snode_response`] but with the body embedded as a JSON value (what a node
/// sends when the request's control had `"json": true`).
pub fn encode_snode_response_value(status: u16, body: Value) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("body".into(), body);
    m.insert("status".into(), Value::from(status));
    Value::Object(m).to_string().into_bytes()
}

/// Base64 that accepts padded and unpadded input.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes the text a guard returns for an onion request to a storage node: base64 of
/// the encrypted response, either bare or inside `{"result": "<base64>"}` (surrounding
/// whitespace ignored). Returns the ciphertext.
pub fn decode_response_text(text: &[u8]) -> Result<Vec<u8>, WireError> {
    const WHAT: &str = "onion response";
    if text.len() > MAX_ONION_SIZE {
        return Err(WireError::TooLarge {
            what: WHAT,
            size: text.len(),
            max: MAX_ONION_SIZE,
        });
    }
    let trimmed = text.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        let Value::Object(map) =
            serde_json::from_slice::<Value>(trimmed).map_err(WireError::json(WHAT))?
        else {
            return Err(WireError::NotJsonObject { what: WHAT });
        };
        match map.get("result") {
            Some(Value::String(b64)) => {
                LENIENT_B64.decode(b64.trim()).map_err(WireError::b64(WHAT))
            }
            Some(_) => Err(WireError::bad_field(WHAT, "result", "not a string")),
            None => Err(WireError::MissingField {
                what: WHAT,
                field: "result",
            }),
        }
    } else {
        LENIENT_B64.decode(trimmed).map_err(WireError::b64(WHAT))
    }
}

/// Encodes an encrypted response the way a destination node returns it by default
/// (padded standard base64).
pub fn encode_response_text(ciphertext: &[u8]) -> String {
    STANDARD.encode(ciphertext)
}

// ---------------------------------------------------------------------------------------
// Node-to-node relay
// ---------------------------------------------------------------------------------------

/// The single part of OxenMQ `sn.onion_request` (storage-node §7.1): bt dict
/// `{"data", "enc_type", "ephemeral_key", "hop_no"}` (sorted keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRequest {
    /// The ciphertext for the receiving node.
    pub data: Vec<u8>,
    /// Its AEAD.
    pub enc_type: EncType,
    /// The ephemeral X25519 key for the receiving node's layer (raw bytes here).
    pub ephemeral_key: [u8; 32],
    /// The hop counter as sent (see [`RelayRequest::effective_hop_no`]).
    pub hop_no: i64,
}

impl RelayRequest {
    /// Canonical bencoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 96);
        out.push(b'd');
        session_bt::encode_bytes(b"data", &mut out);
        session_bt::encode_bytes(&self.data, &mut out);
        session_bt::encode_bytes(b"enc_type", &mut out);
        session_bt::encode_bytes(self.enc_type.as_str().as_bytes(), &mut out);
        session_bt::encode_bytes(b"ephemeral_key", &mut out);
        session_bt::encode_bytes(&self.ephemeral_key, &mut out);
        session_bt::encode_bytes(b"hop_no", &mut out);
        session_bt::encode_int(self.hop_no, &mut out);
        out.push(b'e');
        out
    }

    /// Parses the dict. `data` and a 32-byte `ephemeral_key` are required; a missing
    /// `enc_type` means AES-GCM and a missing `hop_no` reads as 0. Unknown keys are
    /// ignored; non-canonical bencode is rejected.
    pub fn parse(input: &[u8]) -> Result<Self, WireError> {
        const WHAT: &str = "sn.onion_request";
        if input.len() > MAX_ONION_SIZE {
            return Err(WireError::TooLarge {
                what: WHAT,
                size: input.len(),
                max: MAX_ONION_SIZE,
            });
        }
        let dict = RawDict::parse(input).map_err(WireError::bt(WHAT))?;
        let bytes = |key: &'static str| -> Result<Option<&[u8]>, WireError> {
            dict.get(key.as_bytes())
                .map(|e| e.as_bytes().map_err(WireError::bt(WHAT)))
                .transpose()
        };
        let data = bytes("data")?.ok_or(WireError::MissingField {
            what: WHAT,
            field: "data",
        })?;
        let key = bytes("ephemeral_key")?.ok_or(WireError::MissingField {
            what: WHAT,
            field: "ephemeral_key",
        })?;
        let ephemeral_key: [u8; 32] = key.try_into().map_err(|_| {
            WireError::bad_field(
                WHAT,
                "ephemeral_key",
                format!("{} bytes, not 32", key.len()),
            )
        })?;
        let enc_type = match bytes("enc_type")? {
            None => EncType::AesGcm,
            Some(name) => EncType::parse(&String::from_utf8_lossy(name))?,
        };
        let hop_no = match dict.get(b"hop_no") {
            None => 0,
            Some(e) => e.as_int().map_err(WireError::bt(WHAT))?,
        };
        Ok(Self {
            data: data.to_vec(),
            enc_type,
            ephemeral_key,
            hop_no,
        })
    }

    /// The hop number a relaying node works with: values below 1 count as 1.
    pub fn effective_hop_no(&self) -> i64 {
        self.hop_no.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_type_spellings() {
        for (s, e) in [
            ("aes-gcm", EncType::AesGcm),
            ("gcm", EncType::AesGcm),
            ("xchacha20", EncType::XChaCha20),
            ("xchacha20-poly1305", EncType::XChaCha20),
            ("aes-cbc", EncType::AesCbc),
            ("cbc", EncType::AesCbc),
        ] {
            assert_eq!(EncType::parse(s).unwrap(), e);
        }
        assert!(matches!(
            EncType::parse("rot13"),
            Err(WireError::UnknownEncType(_))
        ));
    }

    #[test]
    fn final_hop_control_is_headers_empty() {
        let v = serde_json::to_string(&FinalHopControl::default()).unwrap();
        assert_eq!(v, r#"{"headers":""}"#);
    }
}
