//! The file server's configuration file, `files.toml`.
//!
//! Typed TOML: every key is optional and defaults to the reference server's value
//! (session-file-server's `config.py`) where it has one; an unknown key is an error
//! naming it (so a typo never silently falls back to a default).
//! `files.example.toml` next to this crate's manifest documents every key.
//!
//! Relative paths: `data_dir` is relative to the directory of the configuration file;
//! `key_file` is relative to `data_dir`.
//!
//! Durations (`file_expiry`, `max_ttl`) are seconds, as a number or as a string with a
//! unit: `"21d"`, `"3 weeks"`, `"36h"`, `"90m"`, `"45s"` ([`parse_duration`]).
//!
//! Decisions where the reference has no equivalent:
//! * `listen` (default `127.0.0.1:4243`) is the HTTP listener; behind a reverse proxy
//!   keep it on loopback. `public_url` is the address clients reach the server at (what
//!   `session files run` prints for `network.toml`); default `http://` + the listen
//!   address.
//! * `max_file_size` defaults to 10,000,000 bytes, the size clients assume (the
//!   reference's own default is 6,000,000).
//! * `[session_version.<platform>]`: the reference fetches releases from GitHub; here
//!   the operator lists them (no configured release → 502, as the reference answers
//!   without data).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use thiserror::Error;

use crate::server::{FileSettings, THREE_WEEKS};
use crate::version::SessionVersions;

/// The default listen address: loopback, next to the community server's 4242.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4243);

/// The default largest upload: what Session clients assume.
pub const DEFAULT_MAX_FILE_SIZE: usize = 10_000_000;

/// The longest lifetime a duration may give: ten years.
pub const MAX_DURATION: f64 = 3650.0 * 86_400.0;

/// What is wrong with a configuration or the files it names.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read or is not valid TOML for this schema (unknown keys
    /// included).
    #[error("{0}")]
    Parse(#[from] session_rt::RtError),
    /// A value is out of range or malformed.
    #[error("{origin}: {key}: {reason}")]
    Invalid {
        /// The configuration file.
        origin: String,
        /// The key, e.g. `file_expiry` or `session_version.ios.version`.
        key: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The server key file is unusable.
    #[error("key file {path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A duration in seconds, written as a number of seconds or as a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds or a duration such as \"21d\" or \"3 weeks\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                // Any realistic duration is far below 2^53 s.
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_duration(v).map(Seconds).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `"21d"`, `"3 weeks"`, `"1.5h"`, `"90"` (seconds) …: a number and an optional
/// unit among s/sec/second(s), m/min/minute(s), h/hour(s), d/day(s), w/week(s).
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as \"21d\" or \"3 weeks\""))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 7.0 * 86_400.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use s, m, h, d or w, e.g. \"21d\")"
            ));
        }
    };
    Ok(value * factor)
}

/// The whole `files.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Directory of the database (`files.db`), the stored files (`files/`) and the key
    /// file, relative to the configuration file's directory. Default: `files-data`.
    pub data_dir: PathBuf,
    /// The server's X25519 secret key (onion requests are encrypted to it): 32 raw
    /// bytes (the reference's `key_x25519` format), relative to `data_dir`, created
    /// (mode 0600) if absent. Default: `key_x25519`.
    pub key_file: PathBuf,
    /// HTTP listen address (port 0 picks a free port). Default: `127.0.0.1:4243`.
    pub listen: SocketAddr,
    /// The URL clients reach the server at, `http(s)://host[:port]` (no path).
    /// Absent: `http://{listen}`.
    pub public_url: Option<String>,
    /// Log filter (`tracing` directive) unless `RUST_LOG` is set. Default: `info`.
    pub log: String,
    /// Largest accepted upload in bytes (bigger → 413). Default: 10000000.
    pub max_file_size: usize,
    /// Lifetime of an upload without `X-FS-TTL`. Default: 3 weeks.
    pub file_expiry: Seconds,
    /// Largest lifetime `X-FS-TTL` may ask for; absent: the header is ignored.
    pub max_ttl: Option<Seconds>,
    /// `true`: random numeric ids (what every client can use). `false`: content ids
    /// (44 characters, identical uploads stored once, `/file/{id}/extend` available).
    /// Default: true.
    pub backwards_compat_ids: bool,
    /// `[session_version.<platform>]`: what `/session_version` answers.
    pub session_version: SessionVersions,
    /// Where the file was loaded from (not a key; set by [`FilesConfig::load`]).
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("files-data"),
            key_file: PathBuf::from("key_x25519"),
            listen: DEFAULT_LISTEN,
            public_url: None,
            log: "info".to_owned(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            file_expiry: Seconds(THREE_WEEKS),
            max_ttl: None,
            backwards_compat_ids: true,
            session_version: SessionVersions::default(),
            origin: None,
        }
    }
}

impl FilesConfig {
    /// Loads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Self = session_rt::config::load_toml(path)?;
        cfg.origin = Some(path.to_owned());
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and checks TOML text (`origin` names it in errors; relative paths are then
    /// relative to the working directory).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: Self = session_rt::config::parse_toml(text, origin)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration file's name for messages.
    pub fn origin_name(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| "files.toml".to_owned(), |p| p.display().to_string())
    }

    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin_name(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Checks values serde cannot: ranges, URL shapes, versions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_file_size == 0 {
            return Err(self.invalid(
                "max_file_size",
                "0 would refuse every upload; give a size in bytes (clients assume 10000000)",
            ));
        }
        let mut durations = vec![("file_expiry", self.file_expiry.0)];
        if let Some(max) = self.max_ttl {
            durations.push(("max_ttl", max.0));
        }
        for (key, value) in durations {
            if !(value.is_finite() && value > 0.0 && value <= MAX_DURATION) {
                return Err(self.invalid(
                    key,
                    format!("{value} s: give a positive duration up to 3650 days, e.g. \"21d\""),
                ));
            }
        }
        if let Some(url) = &self.public_url {
            check_public_url(url).map_err(|r| self.invalid("public_url", r))?;
        }
        self.session_version
            .validate()
            .map_err(|(key, reason)| self.invalid(key, reason))?;
        Ok(())
    }

    /// The directory relative paths are resolved against: the configuration file's
    /// directory (the working directory for parsed text).
    pub fn base_dir(&self) -> PathBuf {
        match self.origin.as_ref().and_then(|p| p.parent()) {
            Some(dir) => dir.to_owned(),
            None => PathBuf::new(),
        }
    }

    /// The data directory, resolved.
    pub fn data_dir(&self) -> PathBuf {
        self.base_dir().join(&self.data_dir)
    }

    /// The key file, resolved.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir().join(&self.key_file)
    }

    /// The server's tunables.
    pub fn settings(&self) -> FileSettings {
        FileSettings {
            max_file_size: self.max_file_size,
            default_ttl: self.file_expiry.0,
            max_ttl: self.max_ttl.map(|s| s.0),
            backwards_compat_ids: self.backwards_compat_ids,
            versions: self.session_version.clone(),
        }
    }

    /// The URL clients use: the configured `public_url`, else `http://{addr}` for the
    /// address the server is (or would be) listening on, an unspecified address
    /// (`0.0.0.0`, `::`) replaced by loopback. Never ends with `/`.
    pub fn public_url_for(&self, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let mut addr = addr;
                if addr.ip().is_unspecified() {
                    addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
                }
                format!("http://{addr}")
            }
        }
    }
}

/// Checks a public URL: `http(s)://host[:port]`, an optional trailing `/`, nothing else
/// (clients append `/file/{id}`).
pub fn check_public_url(url: &str) -> Result<(), String> {
    session_rt::url::check_base_url(
        url,
        "e.g. https://files.example.org; clients append /file/ID themselves",
    )
}

/// The `[file_server]` table of a client's `network.toml` for a server at `url` with
/// X25519 public key `pubkey` (with a comment line saying what it is).
pub fn network_toml_snippet(url: &str, pubkey: &[u8; 32]) -> String {
    format!(
        "# The file server attachments are uploaded to (its URL and X25519 onion key).\n\
         [file_server]\n\
         url = {url:?}\n\
         pubkey_x25519 = \"{}\"\n",
        hex::encode(pubkey)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = FilesConfig::parse("", "t").unwrap();
        assert_eq!(c, FilesConfig::default());
        assert_eq!(c.settings(), FileSettings::default());
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert!(c.backwards_compat_ids);
    }

    #[test]
    fn the_example_parses_and_differs_only_where_it_says() {
        let text = include_str!("../files.example.toml");
        let c = FilesConfig::parse(text, "files.example.toml").unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://files.example.org"));
        let s = c.settings();
        assert_eq!(s.max_file_size, DEFAULT_MAX_FILE_SIZE);
        assert_eq!(s.default_ttl, THREE_WEEKS);
        assert_eq!(s.max_ttl, None);
        assert!(s.backwards_compat_ids);
        let desktop = c.session_version.desktop.as_ref().unwrap();
        assert_eq!(desktop.version, "1.16.2");
        assert!(c.session_version.android.is_some());
        assert!(c.session_version.ios.is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("21d").unwrap(), THREE_WEEKS);
        assert_eq!(parse_duration("3 weeks").unwrap(), THREE_WEEKS);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400.0);
        assert_eq!(parse_duration("90").unwrap(), 90.0);
        assert_eq!(parse_duration(" 2 Minutes ").unwrap(), 120.0);
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("d").is_err());
        let c = FilesConfig::parse("file_expiry = \"14d\"\nmax_ttl = 2592000", "t").unwrap();
        assert_eq!(c.settings().default_ttl, 14.0 * 86_400.0);
        assert_eq!(c.settings().max_ttl, Some(2_592_000.0));
        let c = FilesConfig::parse("file_expiry = 3600.5", "t").unwrap();
        assert_eq!(c.file_expiry, Seconds(3600.5));
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            ("max_file_sise = 5", "max_file_sise"),
            (
                "[session_version.desktop]\nversion = \"1.2.3\"\nnote = \"x\"",
                "note",
            ),
            ("[session_version.windows]\nversion = \"1.2.3\"", "windows"),
            (
                "[session_version.ios]\nversion = \"1.2.3\"\nassets = [{name = \"a\", link = \"b\"}]",
                "link",
            ),
        ] {
            let e = FilesConfig::parse(text, "files.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("files.toml"), "{text}: {e}");
        }
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        for (text, key) in [
            ("max_file_size = 0", "max_file_size"),
            ("file_expiry = 0", "file_expiry"),
            ("file_expiry = \"-3d\"", "file_expiry"),
            ("max_ttl = \"5000d\"", "max_ttl"),
            ("public_url = \"ftp://x.y\"", "public_url"),
            ("public_url = \"https://x.y/files\"", "public_url"),
            (
                "[session_version.android]\nversion = \"v1.2.3\"",
                "session_version.android.version",
            ),
            (
                "[session_version.desktop]\nversion = \"1.2.3\"\n\
                 [session_version.desktop.prerelease]\nversion = \"beta\"",
                "session_version.desktop.prerelease.version",
            ),
        ] {
            let e = FilesConfig::parse(text, "files.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("files.toml"), "{text}: {e}");
        }
        assert!(FilesConfig::parse("listen = \"localhost\"", "t").is_err());
    }

    #[test]
    fn paths_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("files.toml");
        std::fs::write(&path, "data_dir = \"d\"\nkey_file = \"k\"").unwrap();
        let c = FilesConfig::load(&path).unwrap();
        assert_eq!(c.data_dir(), dir.path().join("d"));
        assert_eq!(c.key_path(), dir.path().join("d").join("k"));
        let addr: SocketAddr = "0.0.0.0:5555".parse().unwrap();
        assert_eq!(c.public_url_for(addr), "http://127.0.0.1:5555");
        let c = FilesConfig::parse("public_url = \"https://f.example/\"", "t").unwrap();
        assert_eq!(c.public_url_for(addr), "https://f.example");
        let snippet = network_toml_snippet("http://127.0.0.1:1", &[0xab; 32]);
        assert!(snippet.contains("[file_server]\nurl = \"http://127.0.0.1:1\"\n"));
        assert!(snippet.contains(&format!("pubkey_x25519 = \"{}\"", "ab".repeat(32))));
    }
}
