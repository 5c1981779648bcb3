//! Community join URLs (community-server §5.9): `{base}/{token}?public_key={key}`,
//! pure parsing and formatting.
//!
//! The rules, as Session clients apply them:
//! * the scheme is `http://` or `https://` (none given: `http://`); the host is
//!   lower-cased and must contain a dot and be at least 4 characters (so `localhost`
//!   is refused; `127.0.0.1` and dotted names are fine); an optional `:port`;
//! * the path is `/{token}` or `/r/{token}` (the web viewer's form), nothing more; the
//!   token is 1–64 of `[A-Za-z0-9_-]`, lower-cased (tokens are case-insensitive);
//! * the query carries `public_key=` with the server's X25519 key as 64 hex, 52
//!   base32z or 43–44 base64 characters (other query parameters are ignored);
//! * no user info, no fragment.
//!
//! [`JoinUrl::to_string`] gives the canonical form with the key in hex.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use session_wire::onion::Protocol;

use crate::error::{ClientError, Result};
use crate::onion::ServerTarget;

/// The longest room token.
pub const MAX_TOKEN_LEN: usize = 64;

/// A community server's address: scheme, host and port. Its canonical text form
/// ([`ServerUrl::base_url`]) names the server in the local store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    /// `https` rather than `http`.
    pub tls: bool,
    /// Host name or IPv4 address, lower case.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ServerUrl {
    /// The scheme's default port.
    fn default_port(tls: bool) -> u16 {
        if tls { 443 } else { 80 }
    }

    /// `http(s)://host[:port]`, the port only when it is not the scheme's default.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.port == Self::default_port(self.tls) {
            format!("{scheme}://{}", self.host)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    /// Parses a base URL (`http(s)://host[:port]`, an optional trailing `/`), e.g. as
    /// the store keeps it.
    ///
    /// # Errors
    /// [`ClientError::BadInput`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let (server, path) = split_server(text)?;
        if !path.is_empty() && path != "/" {
            return Err(bad(text, "a server address has no path"));
        }
        Ok(server)
    }

    /// Where an onion path's exit node sends requests for this server.
    pub fn target(&self, x25519: [u8; 32]) -> ServerTarget {
        ServerTarget {
            host: self.host.clone(),
            port: self.port,
            protocol: if self.tls {
                Protocol::Https
            } else {
                Protocol::Http
            },
            x25519,
        }
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base_url())
    }
}

/// A parsed join URL: the server, the room token and the server's X25519 key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JoinUrl {
    /// The server.
    pub server: ServerUrl,
    /// The room token, lower case.
    pub room: String,
    /// The server's X25519 public key.
    pub pubkey: [u8; 32],
}

impl JoinUrl {
    /// The canonical join URL of a room: `{base}/{token}?public_key={hex}`.
    pub fn new(server: ServerUrl, room: &str, pubkey: [u8; 32]) -> Result<Self> {
        let room = canonical_room(room)?;
        Ok(Self {
            server,
            room,
            pubkey,
        })
    }
}

impl fmt::Display for JoinUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}?public_key={}",
            self.server.base_url(),
            self.room,
            hex::encode(self.pubkey)
        )
    }
}

impl FromStr for JoinUrl {
    type Err = ClientError;

    fn from_str(text: &str) -> Result<Self> {
        parse_join_url(text)
    }
}

fn bad(text: &str, reason: &str) -> ClientError {
    ClientError::BadInput {
        what: "community URL",
        reason: format!("{text:?}: {reason}"),
    }
}

/// Checks a room token and returns it lower-cased.
///
/// # Errors
/// [`ClientError::BadInput`] if it is empty, too long or has characters other than
/// `[A-Za-z0-9_-]`.
pub fn canonical_room(token: &str) -> Result<String> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ClientError::BadInput {
            what: "room token",
            reason: format!("{token:?} must be 1 to {MAX_TOKEN_LEN} characters"),
        });
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ClientError::BadInput {
            what: "room token",
            reason: format!("{token:?} may only hold letters, digits, '_' and '-'"),
        });
    }
    Ok(token.to_ascii_lowercase())
}

/// `text` without `prefix`, compared case-insensitively (ASCII).
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Splits `scheme://host[:port]` from the rest (path and query, possibly empty).
fn split_server(text: &str) -> Result<(ServerUrl, &str)> {
    let trimmed = text.trim();
    if trimmed.contains('#') {
        return Err(bad(text, "a fragment ('#…') is not allowed"));
    }
    let (tls, rest) = if let Some(r) = strip_prefix_ci(trimmed, "https://") {
        (true, r)
    } else if let Some(r) = strip_prefix_ci(trimmed, "http://") {
        (false, r)
    } else if trimmed.contains("://") {
        return Err(bad(text, "the scheme must be http:// or https://"));
    } else {
        (false, trimmed)
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad(text, "user names in the address are not allowed"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(text, "the port must be a number from 1 to 65535"))?;
            (h, port)
        }
        None => (authority, ServerUrl::default_port(tls)),
    };
    let host = host.to_ascii_lowercase();
    if host.len() < 4 || !host.contains('.') {
        return Err(bad(
            text,
            "the host must be a dotted name or IPv4 address of at least 4 characters \
             (e.g. 127.0.0.1 rather than localhost)",
        ));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        || host.starts_with('.')
        || host.ends_with('.')
        || host.contains("..")
    {
        return Err(bad(text, "the host is not a valid host name"));
    }
    Ok((ServerUrl { tls, host, port }, after))
}

/// Parses a join URL (see the module documentation).
///
/// # Errors
/// [`ClientError::BadInput`] saying what is wrong.
pub fn parse_join_url(text: &str) -> Result<JoinUrl> {
    let (server, rest) = split_server(text)?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    };
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let token = match segments.as_slice() {
        [t] => *t,
        ["r", t] => *t,
        _ => {
            return Err(bad(
                text,
                "the path must be /{room} or /r/{room} with no further parts",
            ));
        }
    };
    if token.is_empty() {
        return Err(bad(text, "no room token in the path"));
    }
    let room = canonical_room(token).map_err(|e| bad(text, &e.to_string()))?;
    let key = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("public_key"))
        .map(|(_, v)| v)
        .ok_or_else(|| bad(text, "missing ?public_key=<server key>"))?;
    let pubkey = parse_server_key(key).ok_or_else(|| {
        bad(
            text,
            "public_key must be the server's key as 64 hex, 52 base32z or 43-44 base64 \
             characters",
        )
    })?;
    Ok(JoinUrl {
        server,
        room,
        pubkey,
    })
}

/// A server key in hex (64), base32z (52) or base64 (43–44, standard or URL-safe
/// alphabet; `%3D` accepted for `=`).
pub fn parse_server_key(text: &str) -> Option<[u8; 32]> {
    let text = text.replace("%3D", "=").replace("%3d", "=");
    let mut out = [0u8; 32];
    match text.len() {
        64 => hex::decode_to_slice(&text, &mut out).ok().map(|()| out),
        52 => base32z_decode(&text),
        43 | 44 => {
            const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent);
            let std = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
            let url = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
            let bytes = std.decode(&text).or_else(|_| url.decode(&text)).ok()?;
            bytes.try_into().ok()
        }
        _ => None,
    }
}

/// The z-base-32 alphabet.
const BASE32Z: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Decodes 52 z-base-32 characters into 32 bytes (the 4 spare bits must be zero).
fn base32z_decode(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0usize);
    for c in text.bytes() {
        let c = c.to_ascii_lowercase();
        let v = BASE32Z.iter().position(|&a| a == c)?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = u8::try_from((acc >> bits) & 0xff).ok()?;
            n += 1;
        }
        acc &= (1 << bits) - 1;
    }
    (n == 32 && acc == 0).then_some(out)
}

/// Encodes 32 bytes as 52 z-base-32 characters (for tests and display).
pub fn base32z_encode(bytes: &[u8; 32]) -> String {
    let mut out = String::with_capacity(52);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32Z[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32Z[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    const KEY_HEX: &str = "a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238";

    fn key() -> [u8; 32] {
        let mut k = [0u8; 32];
        hex::decode_to_slice(KEY_HEX, &mut k).unwrap();
        k
    }

    #[test]
    fn canonical_urls_round_trip() {
        let u: JoinUrl = format!("https://open.getsession.org/Session?public_key={KEY_HEX}")
            .parse()
            .unwrap();
        assert_eq!(u.server.base_url(), "https://open.getsession.org");
        assert_eq!((u.room.as_str(), u.pubkey), ("session", key()));
        assert_eq!(
            u.to_string(),
            format!("https://open.getsession.org/session?public_key={KEY_HEX}")
        );
        let ip: JoinUrl = format!("http://127.0.0.1:8080/r/Bench?public_key={KEY_HEX}")
            .parse()
            .unwrap();
        assert_eq!(ip.server.base_url(), "http://127.0.0.1:8080");
        assert_eq!(ip.server.port, 8080);
        assert_eq!(ip.room, "bench");
        let no_scheme: JoinUrl = format!("SOGS.Example.ORG/lobby?public_key={KEY_HEX}")
            .parse()
            .unwrap();
        assert_eq!(no_scheme.server.base_url(), "http://sogs.example.org");
        let default_port: JoinUrl = format!("http://sogs.example.org:80/x?public_key={KEY_HEX}")
            .parse()
            .unwrap();
        assert_eq!(default_port.server.base_url(), "http://sogs.example.org");
    }

    #[test]
    fn key_encodings() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(key());
        let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key());
        let z = base32z_encode(&key());
        assert_eq!(z.len(), 52);
        for k in [
            KEY_HEX.to_owned(),
            KEY_HEX.to_uppercase(),
            b64.clone(),
            b64.trim_end_matches('=').to_owned(),
            b64.replace('=', "%3D"),
            b64_url,
            z.clone(),
            z.to_uppercase(),
        ] {
            let u: JoinUrl = format!("https://a.bc/room?public_key={k}").parse().unwrap();
            assert_eq!(u.pubkey, key(), "{k}");
        }
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            format!("http://localhost:8080/room?public_key={KEY_HEX}"),
            format!("http://a.b/room?public_key={KEY_HEX}"),
            format!("http://x.org/room/extra?public_key={KEY_HEX}"),
            format!("http://x.org/r/room/extra?public_key={KEY_HEX}"),
            format!("http://x.org/?public_key={KEY_HEX}"),
            format!("http://x.org/bad.token?public_key={KEY_HEX}"),
            format!("http://x.org/{}?public_key={KEY_HEX}", "a".repeat(65)),
            "http://x.org/room".to_owned(),
            "http://x.org/room?public_key=abcd".to_owned(),
            format!("http://x.org/room?public_key={}", &KEY_HEX[1..]),
            format!("ftp://x.org/room?public_key={KEY_HEX}"),
            format!("http://x.org:0/room?public_key={KEY_HEX}"),
            format!("http://x.org:99999/room?public_key={KEY_HEX}"),
            format!("http://u@x.org/room?public_key={KEY_HEX}"),
            format!("http://x.org/room?public_key={KEY_HEX}#frag"),
        ] {
            assert!(bad.parse::<JoinUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn server_urls() {
        let s = ServerUrl::parse("HTTP://127.0.0.1:9000/").unwrap();
        assert_eq!(s.base_url(), "http://127.0.0.1:9000");
        assert!(ServerUrl::parse("http://127.0.0.1:9000/room").is_err());
        let t = s.target([1; 32]);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 9000));
    }
}
