//! The community server's configuration file, `sogs.toml` (community-server spec §9.1).
//!
//! Typed TOML: every key is optional and defaults to PySOGS's value; an unknown key is an
//! error naming it (so a typo never silently falls back to a default). The sections
//! follow PySOGS's `sogs.ini` where it has one (`[files]`, `[rooms]`,
//! `[direct_messages]`, `[users]`, `[messages]`, `[web]`), so migrating a PySOGS
//! configuration is a matter of renaming a few keys. `sogs.example.toml` next to this
//! crate's manifest documents every key.
//!
//! Relative paths: `data_dir` is relative to the directory of the configuration file;
//! `key_file` and a relative `sqlite://` database are relative to `data_dir`.
//!
//! Decisions where PySOGS has no equivalent:
//! * `listen` (default `127.0.0.1:4242`, PySOGS's proxied port): the HTTP listener.
//!   Behind a TLS-terminating reverse proxy, keep it on loopback.
//! * `base_url` is optional: without it, join URLs use `http://` + the bound listen
//!   address (fine on a LAN, useless on the Internet; `session sogs init` writes one).
//! * `[users] accept_blind25` (default **false**): 25-blinded ids (libsession's newer
//!   scheme) are refused like in PySOGS 0.3.x. Current Session clients sign community
//!   requests with 15-blinded keys; accepting `25` keys would give the same person a
//!   second, unrelated identity on the server (moderators naming a user by `05` id only
//!   reach the `15` one), so it stays an explicit opt-in.
//! * `[messages] rate_limit_posts` / `rate_limit_interval`: PySOGS's hard-coded 5 posts
//!   per 16 s, made configurable.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use session_crypto::sogs_auth::SogsAuthPolicy;
use thiserror::Error;

use crate::server::{DEFAULT_MAX_UPLOAD, RateLimit};
use crate::store::{DAY, Retention};

/// The default listen address: loopback, PySOGS's proxied port.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 4242);

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
        /// The key, e.g. `files.expiry`.
        key: &'static str,
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

/// The whole `sogs.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SogsConfig {
    /// Directory of the database (`sogs.db`) and the key file, relative to the
    /// configuration file's directory. Default: `sogs-data`.
    pub data_dir: PathBuf,
    /// `sqlite:///path/to/sogs.db` or `postgresql://user@host/db`. Absent: `sogs.db` in
    /// `data_dir`.
    pub database_url: Option<String>,
    /// The server's X25519 secret key: 32 raw bytes (PySOGS's `key_x25519` format),
    /// relative to `data_dir`, created (mode 0600) if absent. Default: `key_x25519`.
    pub key_file: PathBuf,
    /// HTTP listen address (port 0 picks a free port). Default: `127.0.0.1:4242`.
    pub listen: SocketAddr,
    /// The public URL clients reach the server at, `http(s)://host[:port]` (no path):
    /// join URLs are `{base_url}/{token}?public_key={hex}`. Absent: `http://{listen}`.
    pub base_url: Option<String>,
    /// Log filter (`tracing` directive) unless `RUST_LOG` is set. Default: `info`.
    pub log: String,
    /// `[users]`.
    pub users: UsersConfig,
    /// `[messages]`.
    pub messages: MessagesConfig,
    /// `[files]`.
    pub files: FilesConfig,
    /// `[rooms]`.
    pub rooms: RoomsConfig,
    /// `[direct_messages]`.
    pub direct_messages: DirectMessagesConfig,
    /// `[web]`.
    pub web: WebConfig,
    /// Where the file was loaded from (not a key; set by [`SogsConfig::load`]).
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

impl Default for SogsConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("sogs-data"),
            database_url: None,
            key_file: PathBuf::from("key_x25519"),
            listen: DEFAULT_LISTEN,
            base_url: None,
            log: "info".to_owned(),
            users: UsersConfig::default(),
            messages: MessagesConfig::default(),
            files: FilesConfig::default(),
            rooms: RoomsConfig::default(),
            direct_messages: DirectMessagesConfig::default(),
            web: WebConfig::default(),
            origin: None,
        }
    }
}

/// `[users]`: which keys may authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// Refuse unblinded (`00`) keys and advertise the `blind` capability. Default: true.
    pub require_blind_keys: bool,
    /// Also accept 25-blinded (`25`) keys. Default: false (see the module docs).
    pub accept_blind25: bool,
}

impl Default for UsersConfig {
    fn default() -> Self {
        Self {
            require_blind_keys: true,
            accept_blind25: false,
        }
    }
}

/// `[messages]`: history, rate limit, content filters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagesConfig {
    /// Days to keep the replaced versions of edited and deleted messages. Default: 30.
    pub history_prune_threshold: f64,
    /// Posts allowed per `rate_limit_interval` per room for non-moderators. Default: 5.
    pub rate_limit_posts: usize,
    /// Seconds of the rate-limit window. Default: 16.
    pub rate_limit_interval: f64,
    /// Refuse (or hide, see `profanity_silent`) posts containing a listed word.
    /// Default: false.
    pub profanity_filter: bool,
    /// Hide filtered posts from everyone but their author instead of refusing them.
    /// Default: true.
    pub profanity_silent: bool,
    /// The filtered words (case-insensitive, whole words). Default: none.
    pub profanity_words: Vec<String>,
    /// A file with more filtered words, one per line, relative to the configuration
    /// file (PySOGS's `profanity_custom`). Default: none.
    pub profanity_custom: Option<PathBuf>,
    /// Scripts whose letters are filtered: any of `arabic`, `persian`, `cyrillic`.
    /// Default: none.
    pub alphabet_filters: Vec<Alphabet>,
    /// Hide posts caught by an alphabet filter instead of refusing them. Default: true.
    pub alphabet_silent: bool,
    /// Apply the filters to moderators too. Default: false.
    pub filter_mods: bool,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self {
            history_prune_threshold: 30.0,
            rate_limit_posts: 5,
            rate_limit_interval: 16.0,
            profanity_filter: false,
            profanity_silent: true,
            profanity_words: Vec::new(),
            profanity_custom: None,
            alphabet_filters: Vec::new(),
            alphabet_silent: true,
            filter_mods: false,
        }
    }
}

/// A script an alphabet filter blocks (PySOGS's `alphabet_filters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// Arabic letters.
    Arabic,
    /// Persian letters (Arabic script plus Persian extensions).
    Persian,
    /// Cyrillic letters.
    Cyrillic,
}

/// `[files]`: room file uploads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest upload in bytes (bigger → 413). Default: 10000000.
    pub max_size: usize,
    /// Days an attachment lives once attached to a post; 0 = forever. Default: 15.
    pub expiry: f64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_UPLOAD,
            expiry: 15.0,
        }
    }
}

/// `[rooms]`: activity counting.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// Days of the "active users" window. Default: 7.
    pub active_threshold: f64,
    /// Days room activity is kept at all. Default: 60.
    pub active_prune_threshold: f64,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            active_threshold: 7.0,
            active_prune_threshold: 60.0,
        }
    }
}

/// `[direct_messages]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectMessagesConfig {
    /// Days a blinded DM waits in the inbox. Default: 15.
    pub expiry: f64,
}

impl Default for DirectMessagesConfig {
    fn default() -> Self {
        Self { expiry: 15.0 }
    }
}

/// `[web]`: the HTML front page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the room directory at `/` (else 403). Default: true.
    pub show_index: bool,
    /// Show the newest messages on room pages. Default: true.
    pub show_recent: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            show_index: true,
            show_recent: true,
        }
    }
}

/// The longest lifetime a day count may give (about 30 years; the store caps durations
/// below 1e9 s).
const MAX_DAYS: f64 = 10_000.0;

impl SogsConfig {
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

    fn origin_name(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| "sogs.toml".to_owned(), |p| p.display().to_string())
    }

    fn invalid(&self, key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin_name(),
            key,
            reason: reason.into(),
        }
    }

    /// Checks values serde cannot: URL shapes and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.base_url {
            check_base_url(url).map_err(|r| self.invalid("base_url", r))?;
        }
        if let Some(url) = &self.database_url {
            let ok = url.starts_with("sqlite://")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://");
            if !ok {
                return Err(self.invalid(
                    "database_url",
                    format!(
                        "{url:?} is neither sqlite:///path/to/sogs.db nor \
                         postgresql://user@host/dbname (leave it out for sogs.db in data_dir)"
                    ),
                ));
            }
        }
        let days = [
            ("files.expiry", self.files.expiry, true),
            (
                "messages.history_prune_threshold",
                self.messages.history_prune_threshold,
                false,
            ),
            ("rooms.active_threshold", self.rooms.active_threshold, false),
            (
                "rooms.active_prune_threshold",
                self.rooms.active_prune_threshold,
                false,
            ),
            ("direct_messages.expiry", self.direct_messages.expiry, false),
        ];
        for (key, value, zero_ok) in days {
            let ok = value.is_finite()
                && value <= MAX_DAYS
                && (value > 0.0 || (zero_ok && value == 0.0));
            if !ok {
                let low = if zero_ok {
                    "0 (never)"
                } else {
                    "a positive number"
                };
                return Err(self.invalid(
                    key,
                    format!("{value} days: give {low} up to {MAX_DAYS} days"),
                ));
            }
        }
        if self.rooms.active_prune_threshold < self.rooms.active_threshold {
            return Err(self.invalid(
                "rooms.active_prune_threshold",
                format!(
                    "{} days is shorter than rooms.active_threshold ({} days): activity must \
                     be kept at least as long as it is counted",
                    self.rooms.active_prune_threshold, self.rooms.active_threshold
                ),
            ));
        }
        if self.messages.rate_limit_posts == 0 {
            return Err(self.invalid(
                "messages.rate_limit_posts",
                "0 would forbid every post; give at least 1",
            ));
        }
        let interval = self.messages.rate_limit_interval;
        if !(interval.is_finite() && interval > 0.0 && interval <= 86_400.0) {
            return Err(self.invalid(
                "messages.rate_limit_interval",
                format!("{interval} s: give a number of seconds in (0, 86400]"),
            ));
        }
        if self.files.max_size == 0 {
            return Err(self.invalid(
                "files.max_size",
                "0 would refuse every upload; give a size in bytes",
            ));
        }
        if self.messages.profanity_filter
            && self.messages.profanity_words.is_empty()
            && self.messages.profanity_custom.is_none()
        {
            return Err(self.invalid(
                "messages.profanity_filter",
                "the filter is on but has no words: list them in messages.profanity_words \
                 or point messages.profanity_custom at a file with one word per line",
            ));
        }
        Ok(())
    }

    /// The directory relative paths of the configuration are resolved against: the
    /// configuration file's directory (empty, i.e. the working directory, for parsed
    /// text and a file name without a directory).
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

    /// The database URL with a relative `sqlite://` path resolved against the data
    /// directory (`sqlite:///abs/path` stays as it is).
    pub fn database_url(&self) -> Option<String> {
        let url = self.database_url.as_ref()?;
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.starts_with('/') => {
                Some(format!("sqlite://{}", self.data_dir().join(path).display()))
            }
            _ => Some(url.clone()),
        }
    }

    /// The custom profanity word file, resolved.
    pub fn profanity_custom_path(&self) -> Option<PathBuf> {
        self.messages
            .profanity_custom
            .as_ref()
            .map(|p| self.base_dir().join(p))
    }

    /// The store's retention periods.
    pub fn retention(&self) -> Retention {
        Retention {
            attached_file: (self.files.expiry > 0.0).then_some(self.files.expiry * DAY),
            direct_message: self.direct_messages.expiry * DAY,
            history: self.messages.history_prune_threshold * DAY,
            active_window: self.rooms.active_threshold * DAY,
            activity_kept: self.rooms.active_prune_threshold * DAY,
            ..Retention::default()
        }
    }

    /// The authentication policy.
    pub fn auth_policy(&self) -> SogsAuthPolicy {
        SogsAuthPolicy {
            require_blinding: self.users.require_blind_keys,
            accept_blind25: self.users.accept_blind25,
        }
    }

    /// The post rate limit.
    pub fn rate_limit(&self) -> RateLimit {
        RateLimit {
            posts: self.messages.rate_limit_posts,
            interval: self.messages.rate_limit_interval,
        }
    }

    /// The base URL of join links: the configured one, else `http://{addr}` for the
    /// address the server is (or would be) listening on — with an unspecified address
    /// (`0.0.0.0`, `::`) replaced by loopback. Never ends with `/`.
    pub fn base_url_for(&self, addr: SocketAddr) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let mut addr = addr;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
                }
                format!("http://{addr}")
            }
        }
    }
}

/// Checks a base URL: `http(s)://host[:port]`, an optional trailing `/`, nothing else
/// (Session clients refuse join URLs with extra path components).
pub fn check_base_url(url: &str) -> Result<(), String> {
    session_rt::url::check_base_url(
        url,
        "e.g. https://sogs.example.org; Session clients reject join URLs with a path, and the \
         room token is appended as the path",
    )
}

/// Why Session clients would refuse a join URL with this base URL's host (libsession
/// wants a dotted host of at least 4 characters, so `localhost` fails), if they would.
pub fn client_host_warning(base_url: &str) -> Option<String> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))?;
    let authority = rest.trim_end_matches('/');
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    if host.contains('.') && host.len() >= 4 {
        None
    } else {
        Some(format!(
            "Session clients refuse join URLs whose host ({host:?}) has no dot or is shorter \
             than 4 characters; set base_url to an IP address or a dotted host name"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = SogsConfig::parse("", "t").unwrap();
        assert_eq!(c, SogsConfig::default());
        assert_eq!(c.retention(), Retention::default());
        assert_eq!(c.rate_limit(), RateLimit::default());
        let policy = c.auth_policy();
        assert!(policy.require_blinding);
        assert!(!policy.accept_blind25);
        assert!(c.web.show_index && c.web.show_recent);
        assert_eq!(c.listen, DEFAULT_LISTEN);
    }

    #[test]
    fn the_example_parses_and_differs_only_where_it_says() {
        let text = include_str!("../sogs.example.toml");
        let c = SogsConfig::parse(text, "sogs.example.toml").unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://sogs.example.org"));
        assert_eq!(c.retention(), Retention::default());
        assert_eq!(c.files.max_size, DEFAULT_MAX_UPLOAD);
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert!(c.users.require_blind_keys && !c.users.accept_blind25);
        assert!(!c.messages.profanity_filter);
        assert!(c.web.show_index && c.web.show_recent);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = SogsConfig::parse("base_ulr = \"http://a.b\"", "sogs.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("base_ulr"), "{e}");
        let e = SogsConfig::parse("[files]\nexpiri = 3", "sogs.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expiri"), "{e}");
        let e = SogsConfig::parse("[sogs]\nx = 1", "sogs.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sogs"), "{e}");
    }

    #[test]
    fn values_map_to_the_server_settings() {
        let c = SogsConfig::parse(
            "listen = \"0.0.0.0:0\"\n\
             [files]\nexpiry = 0\nmax_size = 1000\n\
             [direct_messages]\nexpiry = 2\n\
             [messages]\nhistory_prune_threshold = 1.5\nrate_limit_posts = 2\n\
             rate_limit_interval = 4\nalphabet_filters = [\"cyrillic\"]\n\
             [rooms]\nactive_threshold = 1\nactive_prune_threshold = 3\n\
             [users]\naccept_blind25 = true\nrequire_blind_keys = false",
            "t",
        )
        .unwrap();
        let r = c.retention();
        assert_eq!(r.attached_file, None);
        assert_eq!(r.direct_message, 2.0 * DAY);
        assert_eq!(r.history, 1.5 * DAY);
        assert_eq!(r.active_window, DAY);
        assert_eq!(r.activity_kept, 3.0 * DAY);
        assert_eq!(r.unattached_file, 3600.0);
        assert_eq!(c.rate_limit().posts, 2);
        assert_eq!(c.rate_limit().interval, 4.0);
        assert_eq!(c.messages.alphabet_filters, vec![Alphabet::Cyrillic]);
        assert!(c.auth_policy().accept_blind25);
        assert!(!c.auth_policy().require_blinding);
        // No base_url: the bound address, loopback for an unspecified one.
        let addr: SocketAddr = "0.0.0.0:5555".parse().unwrap();
        assert_eq!(c.base_url_for(addr), "http://127.0.0.1:5555");
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        for (text, key) in [
            ("base_url = \"ftp://x.y\"", "base_url"),
            ("base_url = \"https://x.y/sogs\"", "base_url"),
            ("base_url = \"https://\"", "base_url"),
            ("database_url = \"mysql://x\"", "database_url"),
            ("[files]\nexpiry = -1", "files.expiry"),
            ("[direct_messages]\nexpiry = 0", "direct_messages.expiry"),
            (
                "[rooms]\nactive_threshold = 10\nactive_prune_threshold = 5",
                "rooms.active_prune_threshold",
            ),
            (
                "[messages]\nrate_limit_posts = 0",
                "messages.rate_limit_posts",
            ),
            (
                "[messages]\nprofanity_filter = true",
                "messages.profanity_filter",
            ),
            ("[files]\nmax_size = 0", "files.max_size"),
        ] {
            let e = SogsConfig::parse(text, "sogs.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(SogsConfig::parse("[messages]\nalphabet_filters = [\"latin\"]", "t").is_err());
        assert!(SogsConfig::parse("listen = \"localhost\"", "t").is_err());
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("http://1.2.3.4:80").is_ok());
        assert!(check_base_url("https://sogs.example.org/").is_ok());
        assert!(check_base_url("https://[::1]:8080").is_ok());
        assert!(check_base_url("https://a.b/c").is_err());
        assert!(check_base_url("https://a.b?x").is_err());
        let c = SogsConfig::parse("base_url = \"https://a.example/\"", "t").unwrap();
        assert_eq!(
            c.base_url_for(DEFAULT_LISTEN),
            "https://a.example",
            "trailing slash dropped"
        );
        assert!(client_host_warning("http://localhost:4242").is_some());
        assert!(client_host_warning("http://127.0.0.1:4242").is_none());
        assert!(client_host_warning("https://sogs.example.org").is_none());
        assert!(client_host_warning("http://[::1]:80").is_some());
    }

    #[test]
    fn paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sogs.toml");
        std::fs::write(
            &path,
            "data_dir = \"d\"\ndatabase_url = \"sqlite://x.db\"\n\
             [messages]\nprofanity_custom = \"words.txt\"",
        )
        .unwrap();
        let c = SogsConfig::load(&path).unwrap();
        assert_eq!(c.data_dir(), dir.path().join("d"));
        assert_eq!(c.key_path(), dir.path().join("d").join("key_x25519"));
        assert_eq!(
            c.database_url().unwrap(),
            format!("sqlite://{}", dir.path().join("d").join("x.db").display())
        );
        assert_eq!(
            c.profanity_custom_path().unwrap(),
            dir.path().join("words.txt")
        );
        let abs = SogsConfig::parse("database_url = \"sqlite:///srv/sogs.db\"", "t").unwrap();
        assert_eq!(abs.database_url().unwrap(), "sqlite:///srv/sogs.db");
    }
}
