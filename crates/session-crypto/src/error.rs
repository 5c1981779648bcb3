//! The one error type of `session-crypto`. Every variant says what was wrong and with
//! which input; none carries secret material.

use thiserror::Error;

/// Everything that can go wrong in this crate.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// A byte string had the wrong length.
    #[error("{what}: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// What the bytes were meant to be.
        what: &'static str,
        /// The accepted length(s), in words.
        expected: &'static str,
        /// The length that was given.
        got: usize,
    },
    /// Text that should have been hex was not.
    #[error("{what}: not valid hex ({reason})")]
    InvalidHex {
        /// What the text was meant to be.
        what: &'static str,
        /// What the hex decoder said.
        reason: String,
    },
    /// Text that should have been base64 was not.
    #[error("{what}: not valid base64")]
    InvalidBase64 {
        /// What the text was meant to be.
        what: &'static str,
    },
    /// An account id had a prefix that is unknown or not allowed here.
    #[error("account id prefix {found:?} is not allowed here (expected {expected})")]
    WrongIdPrefix {
        /// The two hex characters found.
        found: String,
        /// The accepted prefixes, in words.
        expected: &'static str,
    },
    /// A public key is not a valid curve point (or is of small order).
    #[error("{what} is not a valid public key")]
    InvalidPublicKey {
        /// Which key.
        what: &'static str,
    },
    /// A signature did not verify.
    #[error("signature verification failed: {what}")]
    BadSignature {
        /// What was being verified.
        what: &'static str,
    },
    /// Authenticated decryption failed: wrong key, or the ciphertext was altered.
    #[error("decryption failed: {what}")]
    DecryptionFailed {
        /// What was being decrypted.
        what: &'static str,
    },
    /// A decrypted or decoded payload did not have the expected structure.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A Diffie-Hellman exchange produced the all-zero output (small-order peer key).
    #[error("key exchange with {what} produced a weak shared secret")]
    WeakSharedSecret {
        /// Which peer key.
        what: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// A recovery password (mnemonic) could not be encoded or decoded.
    #[error(transparent)]
    Mnemonic(#[from] crate::mnemonic::MnemonicError),
    /// An attachment could not be encrypted or decrypted; the inner error says why.
    #[error(transparent)]
    Attachment(#[from] crate::attachments::AttachmentError),
    /// A subaccount (group member) token lacks a permission the request needs.
    #[error("subaccount flags {have:#04x} do not include the required {need:#04x}")]
    SubaccountPermission {
        /// The token's flag byte.
        have: u8,
        /// The flags the request requires.
        need: u8,
    },
    /// A subaccount (group member) token has been revoked by the account owner.
    #[error("subaccount token has been revoked")]
    SubaccountRevoked,
    /// A community-server request's `X-SOGS-*` authentication was refused.
    #[error(transparent)]
    SogsAuth(#[from] crate::sogs_auth::SogsAuthError),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;

/// Checks that `bytes` has exactly `N` bytes and returns them as an array.
pub(crate) fn to_array<const N: usize>(what: &'static str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| CryptoError::InvalidLength {
        what,
        expected: const_len_text::<N>(),
        got: bytes.len(),
    })
}

/// Static text for the lengths we use, so error messages need no allocation.
const fn const_len_text<const N: usize>() -> &'static str {
    match N {
        12 => "12",
        16 => "16",
        24 => "24",
        32 => "32",
        33 => "33",
        36 => "36",
        48 => "48",
        64 => "64",
        100 => "100",
        _ => "a fixed number of",
    }
}

/// Decodes hex text into exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N]> {
    let bytes = hex::decode(text.trim()).map_err(|e| CryptoError::InvalidHex {
        what,
        reason: e.to_string(),
    })?;
    to_array(what, &bytes)
}
