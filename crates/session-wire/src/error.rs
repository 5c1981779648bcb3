//! The one error type of this crate.

use session_bt::BtError;
use thiserror::Error;

/// Why bytes or text could not be encoded or decoded. Every variant names the structure
/// being read (`what`) so a log line says where the input went wrong.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The input ended before the structure was complete.
    #[error("{what}: truncated: needed {needed} bytes, only {available} available")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes needed at this point.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// A length prefix points past the end of the input.
    #[error("{what}: length prefix {declared} exceeds the {available} bytes that follow")]
    LengthOutOfBounds {
        /// The structure being read.
        what: &'static str,
        /// The declared length.
        declared: u64,
        /// Bytes actually available after the prefix.
        available: usize,
    },
    /// The input is larger than the protocol allows.
    #[error("{what}: {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The structure being read or built.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes left over after a complete structure.
    #[error("{what}: {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// The structure being read.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// Text that is not valid JSON (or not valid UTF-8 JSON).
    #[error("{what}: invalid JSON: {reason}")]
    InvalidJson {
        /// The structure being read.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// Valid JSON of the wrong type where an object was required.
    #[error("{what}: expected a JSON object")]
    NotJsonObject {
        /// The structure being read.
        what: &'static str,
    },
    /// A required field is absent.
    #[error("{what}: missing field `{field}`")]
    MissingField {
        /// The structure being read.
        what: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A field is present but its value is unusable.
    #[error("{what}: bad field `{field}`: {reason}")]
    BadField {
        /// The structure being read.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Text that is not valid base64.
    #[error("{what}: invalid base64: {reason}")]
    BadBase64 {
        /// The structure being read.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// Malformed bencode.
    #[error("{what}: {source}")]
    Bencode {
        /// The structure being read.
        what: &'static str,
        /// The bencode error (with its byte offset).
        #[source]
        source: BtError,
    },
    /// Bencode that is well-formed but has the wrong shape (types or element counts).
    #[error("{what}: expected {expected}")]
    WrongShape {
        /// The structure being read.
        what: &'static str,
        /// The shape that was required.
        expected: &'static str,
    },
    /// Malformed protobuf.
    #[error("{what}: invalid protobuf: {reason}")]
    Protobuf {
        /// The message being decoded.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// A format version byte this crate does not understand.
    #[error("{what}: unsupported version byte 0x{version:02x}")]
    UnsupportedVersion {
        /// The structure being read.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// An onion `enc_type` name that is not one of the accepted spellings.
    #[error("unknown onion enc_type {0:?}")]
    UnknownEncType(String),
}

impl WireError {
    /// Wraps a bencode error with the name of the structure being read.
    pub(crate) fn bt(what: &'static str) -> impl FnOnce(BtError) -> Self {
        move |source| Self::Bencode { what, source }
    }

    /// Wraps a JSON error with the name of the structure being read.
    pub(crate) fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |e| Self::InvalidJson {
            what,
            reason: e.to_string(),
        }
    }

    /// Wraps a protobuf error with the name of the message being decoded.
    pub(crate) fn proto(what: &'static str) -> impl FnOnce(prost::DecodeError) -> Self {
        move |e| Self::Protobuf {
            what,
            reason: e.to_string(),
        }
    }

    /// Wraps a base64 error with the name of the structure being read.
    pub(crate) fn b64(what: &'static str) -> impl FnOnce(base64::DecodeError) -> Self {
        move |e| Self::BadBase64 {
            what,
            reason: e.to_string(),
        }
    }

    /// A [`WireError::BadField`].
    pub(crate) fn bad_field(
        what: &'static str,
        field: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::BadField {
            what,
            field,
            reason: reason.into(),
        }
    }
}
