//! `http(s)://host[:port][/path]` URLs of JSON-RPC endpoints: a node's registry, a
//! client's registries. Parsed strictly (no user info, no fragment, a port in
//! 1–65535); a missing path means `/json_rpc`, where registries answer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// The path a URL without one gets.
pub const DEFAULT_PATH: &str = "/json_rpc";

/// A parsed `http(s)://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https` (self-signed certificates are accepted, as between service nodes).
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (default 80 / 443 by scheme).
    pub port: u16,
    /// Path and query, starting with `/` (default [`DEFAULT_PATH`]).
    pub path: String,
}

impl FromStr for HttpUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("URL {text:?}: {why}");
        let (tls, rest) = if let Some(r) = text.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, DEFAULT_PATH),
        };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
                match after {
                    "" => (h, None),
                    p => (
                        h,
                        Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
                    ),
                }
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        if host.is_empty() || host.contains(['@', '/']) || host.chars().any(char::is_whitespace) {
            return Err(bad("bad host"));
        }
        let port = match port {
            None if tls => 443,
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("bad port"))?,
        };
        if path.chars().any(|c| c.is_whitespace() || c == '#') {
            return Err(bad("bad path"));
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Checks a server's public base URL, as operators write it in a config file:
/// `http(s)://host[:port]` with an optional trailing `/` and nothing else. `no_path`
/// finishes the error for a URL with a path, query, fragment or user info (an example
/// and why clients need it bare).
///
/// # Errors
/// What is wrong with `url`.
pub fn check_base_url(url: &str, no_path: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(format!("{url:?} has no host after the scheme"));
    }
    if authority.contains(['/', '?', '#', ' ', '@']) {
        return Err(format!(
            "{url:?}: give only scheme, host and port ({no_path})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_and_prints() {
        let u: HttpUrl = "https://[::1]:8443/json_rpc?x=1".parse().unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "::1", 8443, "/json_rpc?x=1")
        );
        assert_eq!(u.to_string(), "https://[::1]:8443/json_rpc?x=1");
        let u: HttpUrl = "http://seed1.example".parse().unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, DEFAULT_PATH));
        let u: HttpUrl = "https://[::1]/rpc".parse().unwrap();
        assert_eq!(u.to_string(), "https://[::1]:443/rpc");
    }

    #[test]
    fn refuses_what_is_not_a_plain_endpoint() {
        for bad in [
            "seed1",
            "ftp://x",
            "http://",
            "http://:5/",
            "http://a:b/",
            "http://a:0/",
            "http://a:70000/",
            "http://u@h/",
            "http://[::1/",
            "http://[::1]x/",
            "http://h/a b",
            "http://h/#frag",
        ] {
            let e = bad.parse::<HttpUrl>().unwrap_err();
            assert!(e.starts_with("URL "), "{bad}: {e}");
        }
    }
}
