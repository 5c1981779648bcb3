//! The message framing of libquic's `BTRequestStream` as storage nodes use it
//! (storage-node §1.5): each message is a bencoded string whose content is a bt list —
//! `["C", id, endpoint, body]` for a command, `["R", id, body]` for a reply and
//! `["E", id, body]` for an error reply. On the wire: `<len>:l1:Ci<id>e<n>:<endpoint><m>:<body>e`.

use session_bt::Value as Bt;

use crate::error::WireError;

/// Largest message content (the bytes after `<len>:`): 10,000,000 bytes.
pub const MAX_QUIC_MESSAGE: usize = 10_000_000;

/// Most characters of the length prefix, including the `:`.
const MAX_PREFIX: usize = 9;

/// One stream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuicMessage {
    /// A request: `["C", id, endpoint, body]`.
    Command {
        /// Request id, echoed by the reply.
        id: i64,
        /// Endpoint name (a storage RPC method, `onion_req`, `monitor`, …).
        endpoint: Vec<u8>,
        /// Request body.
        body: Vec<u8>,
    },
    /// A successful reply: `["R", id, body]`.
    Reply {
        /// The request's id.
        id: i64,
        /// Reply body.
        body: Vec<u8>,
    },
    /// An error reply: `["E", id, body]`.
    Error {
        /// The request's id.
        id: i64,
        /// Error body, e.g. `"<code> <reason>\n\n<body>"`.
        body: Vec<u8>,
    },
}

impl QuicMessage {
    /// Encodes the message as a complete stream frame (`<len>:` + bt list).
    pub fn encode(&self) -> Vec<u8> {
        let mut inner = Vec::new();
        inner.push(b'l');
        let (tag, id, endpoint, body) = match self {
            Self::Command { id, endpoint, body } => (b"C", id, Some(endpoint), body),
            Self::Reply { id, body } => (b"R", id, None, body),
            Self::Error { id, body } => (b"E", id, None, body),
        };
        session_bt::encode_bytes(tag, &mut inner);
        session_bt::encode_int(*id, &mut inner);
        if let Some(ep) = endpoint {
            session_bt::encode_bytes(ep, &mut inner);
        }
        session_bt::encode_bytes(body, &mut inner);
        inner.push(b'e');
        let mut out = Vec::with_capacity(inner.len() + MAX_PREFIX);
        session_bt::encode_bytes(&inner, &mut out);
        out
    }

    /// The request id.
    pub fn id(&self) -> i64 {
        match self {
            Self::Command { id, .. } | Self::Reply { id, .. } | Self::Error { id, .. } => *id,
        }
    }

    /// Decodes the first frame of a stream buffer. Returns `Ok(None)` if `buf` holds only
    /// part of a frame, otherwise the message and the number of bytes it used.
    pub fn decode_stream(buf: &[u8]) -> Result<Option<(Self, usize)>, WireError> {
        const WHAT: &str = "quic frame";
        let window = &buf[..buf.len().min(MAX_PREFIX)];
        let Some(colon) = window.iter().position(|b| *b == b':') else {
            if window.iter().all(u8::is_ascii_digit) && window.len() < MAX_PREFIX {
                return Ok(None);
            }
            return Err(WireError::WrongShape {
                what: WHAT,
                expected: "a length prefix of at most 8 digits and ':'",
            });
        };
        let digits = &window[..colon];
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits[0] == b'0' && digits.len() > 1)
        {
            return Err(WireError::WrongShape {
                what: WHAT,
                expected: "a canonical decimal length prefix",
            });
        }
        let len = digits
            .iter()
            .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
        if len > MAX_QUIC_MESSAGE {
            return Err(WireError::TooLarge {
                what: WHAT,
                size: len,
                max: MAX_QUIC_MESSAGE,
            });
        }
        let start = colon + 1;
        if buf.len() - start < len {
            return Ok(None);
        }
        let msg = Self::decode_content(&buf[start..start + len])?;
        Ok(Some((msg, start + len)))
    }

    /// Decodes exactly one complete frame; trailing bytes and partial frames are errors.
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        match Self::decode_stream(frame)? {
            Some((msg, used)) if used == frame.len() => Ok(msg),
            Some((_, used)) => Err(WireError::TrailingBytes {
                what: "quic frame",
                extra: frame.len() - used,
            }),
            None => Err(WireError::Truncated {
                what: "quic frame",
                needed: frame.len() + 1,
                available: frame.len(),
            }),
        }
    }

    /// Decodes the bt list inside a frame (the bytes after `<len>:`).
    pub fn decode_content(content: &[u8]) -> Result<Self, WireError> {
        const WHAT: &str = "quic message";
        const SHAPE: &str = r#"["C", id, endpoint, body] or ["R"|"E", id, body]"#;
        let shape = || WireError::WrongShape {
            what: WHAT,
            expected: SHAPE,
        };
        let Bt::List(items) = session_bt::decode(content).map_err(WireError::bt(WHAT))? else {
            return Err(shape());
        };
        match items.as_slice() {
            [
                Bt::Bytes(tag),
                Bt::Int(id),
                Bt::Bytes(endpoint),
                Bt::Bytes(body),
            ] if tag.as_slice() == b"C" => Ok(Self::Command {
                id: *id,
                endpoint: endpoint.clone(),
                body: body.clone(),
            }),
            [Bt::Bytes(tag), Bt::Int(id), Bt::Bytes(body)] if tag.as_slice() == b"R" => {
                Ok(Self::Reply {
                    id: *id,
                    body: body.clone(),
                })
            }
            [Bt::Bytes(tag), Bt::Int(id), Bt::Bytes(body)] if tag.as_slice() == b"E" => {
                Ok(Self::Error {
                    id: *id,
                    body: body.clone(),
                })
            }
            _ => Err(shape()),
        }
    }
}
