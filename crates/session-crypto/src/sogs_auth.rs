//! Community-server (SOGS) request authentication: the four `X-SOGS-*` headers
//! (client-protocol §4.4, community-server §3).
//!
//! The signed message is
//! `server_pk(32) || nonce(16) || ascii(timestamp) || METHOD || path[?query] [|| BLAKE2b-512(body)]`
//! (the body hash only for a non-empty body), signed with the plain Ed25519 key (`00`
//! prefix), the blind15 key (`15`) or the blind25 key (`25`). Blinded signatures are
//! ordinary Ed25519 signatures under the blinded key, so one verifier serves all three.
//!
//! The client side is [`sign_request`] (random nonce) and [`sign_request_with_nonce`]
//! (deterministic). The server side is [`parse_auth_headers`], which checks the header
//! values in PySOGS's order and exposes the timestamp, nonce and id so that the server
//! can check its time window, bans and nonce replay, then [`ParsedSogsAuth::verify`].
//! Failures are [`SogsAuthError`]s whose `Display` is PySOGS's exact reply text; the
//! status codes (400 for every parse error, 401 for [`SogsAuthError::SignatureFailed`])
//! are the server's to assign.

use std::fmt;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use thiserror::Error;

use crate::account_id::{AccountId, IdPrefix};
use crate::blinding::{BlindedKeypair, Blinding, NonceStyle, is_valid_ed25519_point};
use crate::curve::ed25519_pk_to_x25519;
use crate::ed25519::{Ed25519Keypair, verify};
use crate::error::Result;
use crate::hash::blake2b;

/// Header carrying the signer's id (`00`/`15`/`25` + 64 hex characters).
pub const HEADER_PUBKEY: &str = "X-SOGS-Pubkey";
/// Header carrying the unix timestamp in seconds (decimal).
pub const HEADER_TIMESTAMP: &str = "X-SOGS-Timestamp";
/// Header carrying the 16-byte request nonce (base64 or hex).
pub const HEADER_NONCE: &str = "X-SOGS-Nonce";
/// Header carrying the 64-byte signature (base64 or hex).
pub const HEADER_SIGNATURE: &str = "X-SOGS-Signature";
/// Length of the request nonce.
pub const NONCE_LEN: usize = 16;

/// Which key signs a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SogsAuthMode {
    /// The plain Ed25519 key, `X-SOGS-Pubkey: 00…` (servers that do not require blinding).
    Unblinded,
    /// The blind15 key, `15…`, signed with the desktop/PySOGS nonce derivation (what
    /// current clients send; any nonce derivation verifies the same).
    Blind15,
    /// The blind25 key, `25…` (libsession; not accepted by PySOGS 0.3.x).
    Blind25,
}

/// The method, path and body of the request being signed or verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SogsRequest<'a> {
    /// The HTTP method exactly as sent, e.g. `"GET"`.
    pub method: &'a str,
    /// The URL-decoded path, followed by `?` and the raw query string when the query is
    /// non-empty (never a bare `?`), e.g. `/room/r/messages/recent?limit=25`.
    pub path: &'a str,
    /// The exact body bytes (empty: no body hash is signed).
    pub body: &'a [u8],
}

/// The four header values of a signed request, as the client sends them: the id in
/// hex, the timestamp in decimal, nonce and signature in padded standard base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SogsAuthHeaders {
    /// `X-SOGS-Pubkey`.
    pub pubkey: String,
    /// `X-SOGS-Timestamp`.
    pub timestamp: String,
    /// `X-SOGS-Nonce`.
    pub nonce: String,
    /// `X-SOGS-Signature`.
    pub signature: String,
}

impl SogsAuthHeaders {
    /// `(header name, value)` pairs, ready to add to a request.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_PUBKEY, &self.pubkey),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_NONCE, &self.nonce),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// The same values as the server-side input of [`parse_auth_headers`].
    pub fn values(&self) -> SogsAuthHeaderValues<'_> {
        SogsAuthHeaderValues {
            pubkey: Some(&self.pubkey),
            timestamp: Some(&self.timestamp),
            nonce: Some(&self.nonce),
            signature: Some(&self.signature),
        }
    }
}

/// The byte string that is signed (see the module documentation). `timestamp` is the
/// header's text, used byte for byte.
pub fn signed_message(
    server_pk: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    timestamp: &str,
    request: &SogsRequest<'_>,
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(
        32 + NONCE_LEN + timestamp.len() + request.method.len() + request.path.len() + 64,
    );
    msg.extend_from_slice(server_pk);
    msg.extend_from_slice(nonce);
    msg.extend_from_slice(timestamp.as_bytes());
    msg.extend_from_slice(request.method.as_bytes());
    msg.extend_from_slice(request.path.as_bytes());
    if !request.body.is_empty() {
        msg.extend_from_slice(&blake2b::<64>(&[request.body]));
    }
    msg
}

/// The id a key pair presents to a server in `mode` (the `X-SOGS-Pubkey` value):
/// `00 || A`, or the blind15/blind25 id.
pub fn sogs_account_id(
    keys: &Ed25519Keypair,
    mode: SogsAuthMode,
    server_pk: &[u8; 32],
) -> AccountId {
    match mode {
        SogsAuthMode::Unblinded => AccountId::new(IdPrefix::Unblinded, keys.public().0),
        SogsAuthMode::Blind15 => BlindedKeypair::blind15(keys, server_pk).account_id(),
        SogsAuthMode::Blind25 => BlindedKeypair::blind25(keys, server_pk).account_id(),
    }
}

/// Signs a request with a fresh random nonce. `timestamp` is the current unix time in
/// seconds (network-offset corrected by the caller).
pub fn sign_request(
    keys: &Ed25519Keypair,
    mode: SogsAuthMode,
    server_pk: &[u8; 32],
    request: &SogsRequest<'_>,
    timestamp: u64,
) -> Result<SogsAuthHeaders> {
    let nonce = crate::random::random_array::<NONCE_LEN>()?;
    Ok(sign_request_with_nonce(
        keys, mode, server_pk, request, timestamp, &nonce,
    ))
}

/// Signs a request with the given nonce (deterministic twin of [`sign_request`]).
pub fn sign_request_with_nonce(
    keys: &Ed25519Keypair,
    mode: SogsAuthMode,
    server_pk: &[u8; 32],
    request: &SogsRequest<'_>,
    timestamp: u64,
    nonce: &[u8; NONCE_LEN],
) -> SogsAuthHeaders {
    let ts = timestamp.to_string();
    let msg = signed_message(server_pk, nonce, &ts, request);
    let (id, sig) = match mode {
        SogsAuthMode::Unblinded => (
            AccountId::new(IdPrefix::Unblinded, keys.public().0),
            keys.sign(&msg),
        ),
        SogsAuthMode::Blind15 | SogsAuthMode::Blind25 => {
            let blinding = if mode == SogsAuthMode::Blind15 {
                Blinding::Blind15
            } else {
                Blinding::Blind25
            };
            let b = BlindedKeypair::new(blinding, keys, server_pk);
            (b.account_id(), b.sign_with_style(NonceStyle::Desktop, &msg))
        }
    };
    SogsAuthHeaders {
        pubkey: id.to_hex(),
        timestamp: ts,
        nonce: STANDARD.encode(nonce),
        signature: STANDARD.encode(sig),
    }
}

/// Why a request's `X-SOGS-*` authentication was refused. `Display` gives PySOGS's
/// reply text; every variant but [`SogsAuthError::SignatureFailed`] (401) is a 400.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SogsAuthError {
    /// Some but not all of the four headers were present (and non-empty).
    #[error("Invalid authentication headers: missing {missing}/4 required X-SOGS-* headers")]
    MissingHeaders {
        /// How many of the four are missing (1 to 3).
        missing: u8,
    },
    /// `X-SOGS-Pubkey` is not 33 bytes of hex or base64.
    #[error("Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id")]
    PubkeyUndecodable,
    /// `X-SOGS-Pubkey` has a prefix the policy does not accept.
    #[error("Invalid authentication: X-SOGS-Pubkey must be {expected} prefixed")]
    WrongPrefix {
        /// The prefix byte found.
        found: u8,
        /// The accepted prefixes, in PySOGS's words (e.g. `00- or 15-`).
        expected: &'static str,
    },
    /// The key in `X-SOGS-Pubkey` is not a valid Ed25519 point (libsodium
    /// `crypto_core_ed25519_is_valid_point`).
    #[error("Invalid authentication: given X-SOGS-Pubkey is not a valid Ed25519 pubkey")]
    InvalidPubkey,
    /// An unblinded (`00`) key was used on a server that requires blinded ids.
    #[error("Invalid authentication: this server requires the use of blinded ids")]
    BlindingRequired,
    /// `X-SOGS-Nonce` is not 16 bytes of hex or base64.
    #[error("Invalid authentication: X-SOGS-Nonce must be 16 bytes (encoded as base64 or hex)")]
    NonceUndecodable,
    /// `X-SOGS-Signature` is not 64 bytes of hex or base64.
    #[error("Invalid authentication: X-SOGS-Signature is not base64[88]")]
    SignatureUndecodable,
    /// `X-SOGS-Timestamp` is not a decimal integer.
    #[error("Invalid authentication: X-SOGS-Timestamp is not a valid timestamp")]
    TimestampInvalid,
    /// The signature does not verify under the given key for this request.
    #[error("Invalid authentication: X-SOGS-Signature verification failed")]
    SignatureFailed,
}

/// Which ids a server accepts in `X-SOGS-Pubkey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SogsAuthPolicy {
    /// Reject `00` (unblinded) keys ([`SogsAuthError::BlindingRequired`]); PySOGS's
    /// `require_blind_keys`, default `true`.
    pub require_blinding: bool,
    /// Accept `25` (blind25) keys besides `15`; default `true`.
    pub accept_blind25: bool,
}

impl Default for SogsAuthPolicy {
    fn default() -> Self {
        Self {
            require_blinding: true,
            accept_blind25: true,
        }
    }
}

/// The four header values as received (`None` or empty = absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SogsAuthHeaderValues<'a> {
    /// `X-SOGS-Pubkey`.
    pub pubkey: Option<&'a str>,
    /// `X-SOGS-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-SOGS-Nonce`.
    pub nonce: Option<&'a str>,
    /// `X-SOGS-Signature`.
    pub signature: Option<&'a str>,
}

/// Authentication headers that decoded correctly; the signature is not yet checked.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedSogsAuth {
    id: AccountId,
    session_id: AccountId,
    timestamp: i64,
    timestamp_text: String,
    nonce: [u8; NONCE_LEN],
    signature: [u8; 64],
}

impl fmt::Debug for ParsedSogsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedSogsAuth")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl ParsedSogsAuth {
    /// The id from `X-SOGS-Pubkey` as given: `00`, `15` or `25` + the Ed25519 key that
    /// signed.
    pub fn account_id(&self) -> AccountId {
        self.id
    }

    /// The user's id on this server as PySOGS records it: `05` + X25519 key for an
    /// unblinded (`00`) key, otherwise the blinded id unchanged (exact sign).
    pub fn session_id(&self) -> AccountId {
        self.session_id
    }

    /// Whether the key is blinded (`15` or `25`).
    pub fn is_blinded(&self) -> bool {
        self.id.prefix() != IdPrefix::Unblinded
    }

    /// The timestamp, in unix seconds (the server checks its ±24 h window).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The decoded 16-byte nonce (the server rejects reuse).
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The decoded 64-byte signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Verifies the signature over this request (see [`signed_message`]) for the server
    /// with X25519 key `server_pk`.
    pub fn verify(
        &self,
        server_pk: &[u8; 32],
        request: &SogsRequest<'_>,
    ) -> Result<(), SogsAuthError> {
        let msg = signed_message(server_pk, &self.nonce, &self.timestamp_text, request);
        verify(self.id.key(), &msg, &self.signature).map_err(|_| SogsAuthError::SignatureFailed)
    }
}

/// Decodes the four header values in PySOGS's order (pubkey, prefix, point, policy,
/// nonce, signature, timestamp). Returns `Ok(None)` when all four are absent (an
/// anonymous request). The signature is *not* checked: the server first applies its
/// time window, ban and nonce-replay rules, then calls [`ParsedSogsAuth::verify`].
pub fn parse_auth_headers(
    values: &SogsAuthHeaderValues<'_>,
    policy: &SogsAuthPolicy,
) -> Result<Option<ParsedSogsAuth>, SogsAuthError> {
    fn present(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty())
    }
    let (pk, ts, nonce, sig) = (
        present(values.pubkey),
        present(values.timestamp),
        present(values.nonce),
        present(values.signature),
    );
    let missing = [pk, ts, nonce, sig].iter().filter(|v| v.is_none()).count();
    let (Some(pk), Some(ts), Some(nonce), Some(sig)) = (pk, ts, nonce, sig) else {
        if missing == 4 {
            return Ok(None);
        }
        return Err(SogsAuthError::MissingHeaders {
            // At most 3 here.
            missing: u8::try_from(missing).unwrap_or(3),
        });
    };

    let pk_bytes: [u8; 33] = decode_hex_or_b64(pk).ok_or(SogsAuthError::PubkeyUndecodable)?;
    let expected = if policy.accept_blind25 {
        "00-, 15- or 25-"
    } else {
        "00- or 15-"
    };
    let prefix = match pk_bytes[0] {
        0x00 => IdPrefix::Unblinded,
        0x15 => IdPrefix::Blinded15,
        0x25 if policy.accept_blind25 => IdPrefix::Blinded25,
        found => return Err(SogsAuthError::WrongPrefix { found, expected }),
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(&pk_bytes[1..]);
    if !is_valid_ed25519_point(&key) {
        return Err(SogsAuthError::InvalidPubkey);
    }
    let id = AccountId::new(prefix, key);
    let session_id = if prefix == IdPrefix::Unblinded {
        if policy.require_blinding {
            return Err(SogsAuthError::BlindingRequired);
        }
        let x = ed25519_pk_to_x25519(&key).map_err(|_| SogsAuthError::InvalidPubkey)?;
        AccountId::new(IdPrefix::Standard, x)
    } else {
        id
    };

    let nonce: [u8; NONCE_LEN] = decode_hex_or_b64(nonce).ok_or(SogsAuthError::NonceUndecodable)?;
    let signature: [u8; 64] = decode_hex_or_b64(sig).ok_or(SogsAuthError::SignatureUndecodable)?;
    let timestamp = parse_timestamp(ts).ok_or(SogsAuthError::TimestampInvalid)?;

    Ok(Some(ParsedSogsAuth {
        id,
        session_id,
        timestamp,
        timestamp_text: ts.to_owned(),
        nonce,
        signature,
    }))
}

/// [`parse_auth_headers`] then [`ParsedSogsAuth::verify`], for callers that have no
/// checks to make in between (time window and nonce replay are still the caller's).
pub fn verify_request(
    values: &SogsAuthHeaderValues<'_>,
    policy: &SogsAuthPolicy,
    server_pk: &[u8; 32],
    request: &SogsRequest<'_>,
) -> Result<Option<ParsedSogsAuth>, SogsAuthError> {
    let Some(parsed) = parse_auth_headers(values, policy)? else {
        return Ok(None);
    };
    parsed.verify(server_pk, request)?;
    Ok(Some(parsed))
}

/// A decimal integer as Python's `int()` reads a header: optional surrounding
/// whitespace, optional sign, ASCII digits (no `_` separators are accepted here). Values
/// beyond the `i64` range saturate, so that they fail the server's time window (425) as
/// they do in PySOGS rather than being a parse error.
fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        t.parse()
            .unwrap_or(if negative { i64::MIN } else { i64::MAX }),
    )
}

/// Standard-alphabet base64 with optional padding and lenient trailing bits, as
/// Python's `base64.b64decode(validate=True)` after PySOGS re-pads the input.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// PySOGS `decode_hex_or_b64(value, N)`: exactly `2N` characters are hex; otherwise a
/// length from `ceil(4N/3)` to `4·ceil(N/3)` is base64 that must decode to `N` bytes.
pub fn decode_hex_or_b64<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() == 2 * N {
        let mut out = [0u8; N];
        return hex::decode_to_slice(text, &mut out).ok().map(|()| out);
    }
    let b64_unpadded = (N * 4).div_ceil(3);
    let b64_padded = N.div_ceil(3) * 4;
    if !(b64_unpadded..=b64_padded).contains(&text.len()) {
        return None;
    }
    let bytes = LENIENT_B64.decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_or_b64_lengths() {
        let bytes = [0xabu8; 16];
        let hex_text = hex::encode(bytes);
        assert_eq!(decode_hex_or_b64::<16>(&hex_text), Some(bytes));
        let b64 = STANDARD.encode(bytes);
        assert_eq!(b64.len(), 24);
        assert_eq!(decode_hex_or_b64::<16>(&b64), Some(bytes));
        assert_eq!(
            decode_hex_or_b64::<16>(b64.trim_end_matches('=')),
            Some(bytes)
        );
        assert_eq!(decode_hex_or_b64::<16>(&b64[..20]), None);
        assert_eq!(decode_hex_or_b64::<16>(&"zz".repeat(16)), None);
        assert_eq!(decode_hex_or_b64::<15>(&b64), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1642472103"), Some(1_642_472_103));
        assert_eq!(parse_timestamp(" -5 "), Some(-5));
        assert_eq!(parse_timestamp("1e9"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(parse_timestamp("-"), None);
        assert_eq!(parse_timestamp("99999999999999999999"), Some(i64::MAX));
        assert_eq!(parse_timestamp("-99999999999999999999"), Some(i64::MIN));
        assert_eq!(parse_timestamp("+-5"), None);
    }
}
