//! The network file a client joins a network with (`network.toml`, as `session devnet`
//! writes it), plus the client's own optional settings in a `[client]` table.
//!
//! ```toml
//! network = "devnet"
//! registry_urls = ["http://127.0.0.1:22100/json_rpc"]
//! genesis_hash = "…"            # optional
//! hardfork = 21                 # optional
//! storage_https = true          # nodes speak TLS (default true)
//! block_interval_ms = 2000      # optional
//!
//! [file_server]                 # optional; where attachments are uploaded
//! url = "http://127.0.0.1:22099"
//! pubkey_x25519 = "…"           # the server's onion key, 64 hex
//!
//! [client]                      # optional; every key has a default
//! enc_type = "xchacha20"        # or "aes-gcm"
//! paths = 2
//! path_hops = 3
//!
//! [[nodes]]                     # optional fallback seeds
//! pubkey_ed25519 = "…"
//! pubkey_x25519 = "…"
//! address = "127.0.0.1:22101"
//! swarm_id = 0
//! ```
//!
//! Keys this version does not know are *not* an error (a newer `session devnet` may
//! write more): they are listed in [`NetworkConfig::ignored_keys`] and logged, so a
//! typo is still visible. Malformed values are errors naming the file and the key.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Deserializer};
use session_crypto::onion::EncType;

use crate::directory::Snode;
use crate::error::{ClientError, Result};

/// The parsed network file.
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkConfig {
    /// Name of the network (the registry's `chain.network`).
    pub network: String,
    /// Registry JSON-RPC endpoints, tried in order.
    #[serde(default)]
    pub registry_urls: Vec<String>,
    /// Hash of block 0 (hex), if the file names it.
    #[serde(default)]
    pub genesis_hash: Option<String>,
    /// The registry's hard fork, if the file names it.
    #[serde(default)]
    pub hardfork: Option<u64>,
    /// Whether nodes serve the storage RPC and onion requests over TLS (default true).
    #[serde(default = "yes")]
    pub storage_https: bool,
    /// Milliseconds between registry blocks, if the file names it.
    #[serde(default)]
    pub block_interval_ms: Option<u64>,
    /// Fallback seed nodes, used when no registry answers.
    #[serde(default)]
    pub nodes: Vec<SeedNode>,
    /// The file server attachments are uploaded to, if the network has one.
    #[serde(default)]
    pub file_server: Option<FileServerSettings>,
    /// The client's own settings.
    #[serde(default)]
    pub client: ClientSettings,
    /// Keys of the file this version did not understand (ignored).
    #[serde(skip)]
    pub ignored_keys: Vec<String>,
}

/// One `[[nodes]]` entry of the network file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SeedNode {
    /// Ed25519 public key, 64 hex.
    pub pubkey_ed25519: String,
    /// X25519 public key, 64 hex.
    pub pubkey_x25519: String,
    /// Storage address `ip:port`.
    pub address: String,
    /// Swarm id (decimal).
    #[serde(default)]
    pub swarm_id: u64,
}

/// The `[file_server]` table: the server attachments go to (community-server spec §11).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServerSettings {
    /// Its base URL, `http://host:port` (the exit node connects there).
    pub url: String,
    /// Its X25519 onion key, 64 hex.
    pub pubkey_x25519: String,
}

impl FileServerSettings {
    /// The parsed base URL and onion key; the error starts with the bad key's name.
    pub fn parse(&self) -> std::result::Result<(HttpUrl, [u8; 32]), String> {
        let url = self
            .url
            .parse::<HttpUrl>()
            .map_err(|e| format!("url: {e}"))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&self.pubkey_x25519, &mut key).map_err(|_| {
            format!(
                "pubkey_x25519: {:?} is not 64 hex characters",
                self.pubkey_x25519
            )
        })?;
        Ok((url, key))
    }
}

/// Client-side settings (`[client]` table); every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    /// Onion layer encryption: `"xchacha20"` (default, as libsession) or `"aes-gcm"`
    /// (as desktop).
    #[serde(deserialize_with = "enc_type")]
    pub enc_type: EncType,
    /// Onion paths kept ready (each with its own guard); default 2.
    pub paths: usize,
    /// Hops per path, guard included (default 3); the destination is beyond them.
    pub path_hops: usize,
    /// Below this many usable nodes the directory is refreshed (default 12).
    pub min_pool: usize,
    /// How often the node list is refreshed from nodes, in seconds (default 7200).
    pub refresh_interval_secs: u64,
    /// Limit for connecting to a node and for a guard's test, in ms (default 5000).
    pub connect_timeout_ms: u64,
    /// Limit for a whole onion request, in ms (default 30000).
    pub request_timeout_ms: u64,
    /// Attempts (over different paths) before a request fails (default 3).
    pub attempts: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            enc_type: EncType::XChaCha20,
            paths: 2,
            path_hops: 3,
            min_pool: 12,
            refresh_interval_secs: 7200,
            connect_timeout_ms: 5000,
            request_timeout_ms: 30_000,
            attempts: 3,
        }
    }
}

fn yes() -> bool {
    true
}

fn enc_type<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<EncType, D::Error> {
    let name = String::deserialize(d)?;
    EncType::parse(&name).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown enc_type {name:?} (expected \"xchacha20\" or \"aes-gcm\")"
        ))
    })
}

pub use session_rt::url::HttpUrl;

impl NetworkConfig {
    /// A configuration for `network` with these registry URLs and default settings
    /// (TLS on; set [`NetworkConfig::storage_https`] to false for plain-HTTP test nodes).
    pub fn new(network: impl Into<String>, registry_urls: Vec<String>) -> Self {
        Self {
            network: network.into(),
            registry_urls,
            genesis_hash: None,
            hardfork: None,
            storage_https: true,
            block_interval_ms: None,
            nodes: Vec::new(),
            file_server: None,
            client: ClientSettings::default(),
            ignored_keys: Vec::new(),
        }
    }

    /// Reads and validates the network file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ClientError::Config {
            file: path.display().to_string(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates network-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let err = |reason: String| ClientError::Config {
            file: origin.to_owned(),
            reason,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| err(e.to_string()))?;
        let mut ignored = Vec::new();
        let mut cfg: Self = serde_ignored::deserialize(de, |p| ignored.push(p.to_string()))
            .map_err(|e| err(e.to_string()))?;
        for key in &ignored {
            tracing::warn!(file = origin, key = %key, "unknown key in the network file (ignored)");
        }
        cfg.ignored_keys = ignored;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.network.trim().is_empty() {
            return Err("network: must not be empty".into());
        }
        for (i, url) in self.registry_urls.iter().enumerate() {
            url.parse::<HttpUrl>()
                .map_err(|e| format!("registry_urls[{i}]: {e}"))?;
        }
        for (i, n) in self.nodes.iter().enumerate() {
            n.to_snode().map_err(|e| format!("nodes[{i}].{e}"))?;
        }
        if let Some(fs) = &self.file_server {
            fs.parse().map_err(|e| format!("file_server.{e}"))?;
        }
        if self.registry_urls.is_empty() && self.nodes.is_empty() {
            return Err(
                "registry_urls: no registry URL and no [[nodes]]: the client has \
                        nowhere to bootstrap from"
                    .into(),
            );
        }
        let c = &self.client;
        let checks = [
            ("client.paths", c.paths >= 1, "must be at least 1"),
            (
                "client.path_hops",
                (1..=8).contains(&c.path_hops),
                "must be 1 to 8",
            ),
            ("client.attempts", c.attempts >= 1, "must be at least 1"),
            (
                "client.connect_timeout_ms",
                c.connect_timeout_ms > 0,
                "must be positive",
            ),
            (
                "client.request_timeout_ms",
                c.request_timeout_ms > 0,
                "must be positive",
            ),
        ];
        match checks.iter().find(|(_, ok, _)| !ok) {
            Some((key, _, why)) => Err(format!("{key}: {why}")),
            None => Ok(()),
        }
    }

    /// The registry URLs, parsed (invalid ones, which [`NetworkConfig::validate`]
    /// rejects, are skipped).
    pub fn registry_endpoints(&self) -> Vec<HttpUrl> {
        self.registry_urls
            .iter()
            .filter_map(|u| u.parse::<HttpUrl>().ok())
            .collect()
    }

    /// The `[[nodes]]` as directory entries (invalid ones skipped).
    pub fn seed_nodes(&self) -> Vec<Snode> {
        self.nodes
            .iter()
            .filter_map(|n| n.to_snode().ok())
            .collect()
    }
}

impl SeedNode {
    /// This entry as a directory node; the error starts with the bad key's name.
    pub fn to_snode(&self) -> std::result::Result<Snode, String> {
        let key = |name: &str, hex_key: &str| -> std::result::Result<[u8; 32], String> {
            let mut out = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut out)
                .map_err(|_| format!("{name}: {hex_key:?} is not 64 hex characters"))?;
            Ok(out)
        };
        let addr: SocketAddr = self
            .address
            .parse()
            .map_err(|_| format!("address: {:?} is not ip:port", self.address))?;
        Ok(Snode {
            ed25519: key("pubkey_ed25519", &self.pubkey_ed25519)?,
            x25519: key("pubkey_x25519", &self.pubkey_x25519)?,
            addr,
            swarm_id: self.swarm_id,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    const DEVNET: &str = r#"
# comment
network = "devnet"
registry_urls = ["http://127.0.0.1:22100/json_rpc"]
genesis_hash = "0000000000000000000000000000000000000000000000000000000000000000"
hardfork = 21
storage_https = true
block_interval_ms = 2000

[[nodes]]
pubkey_ed25519 = "1111111111111111111111111111111111111111111111111111111111111111"
pubkey_x25519 = "2222222222222222222222222222222222222222222222222222222222222222"
address = "127.0.0.1:22101"
swarm_id = 42
"#;

    #[test]
    fn parses_the_devnet_file_with_defaults() {
        let c = NetworkConfig::parse(DEVNET, "network.toml").unwrap();
        assert_eq!(c.network, "devnet");
        assert_eq!(c.hardfork, Some(21));
        assert!(c.storage_https);
        assert_eq!(c.client, ClientSettings::default());
        assert_eq!(c.client.enc_type, EncType::XChaCha20);
        assert!(c.ignored_keys.is_empty());
        let seeds = c.seed_nodes();
        assert_eq!(seeds.len(), 1);
        assert_eq!(seeds[0].swarm_id, 42);
        assert_eq!(seeds[0].ed25519, [0x11; 32]);
        let urls = c.registry_endpoints();
        assert_eq!(
            urls[0],
            HttpUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 22100,
                path: "/json_rpc".into()
            }
        );
    }

    #[test]
    fn client_settings_and_unknown_keys() {
        let text =
            format!("{DEVNET}\n[client]\nenc_type = \"aes-gcm\"\npaths = 3\nfuture_key = 1\n");
        let c = NetworkConfig::parse(&text, "n.toml").unwrap();
        assert_eq!(c.client.enc_type, EncType::AesGcm);
        assert_eq!(c.client.paths, 3);
        assert_eq!(c.client.path_hops, 3);
        assert_eq!(c.ignored_keys, vec!["client.future_key".to_string()]);
        let c = NetworkConfig::parse(
            "network = \"x\"\nregistry_urls = [\"https://a\"]\nnew = 2",
            "n",
        )
        .unwrap();
        assert_eq!(c.ignored_keys, vec!["new".to_string()]);
        assert_eq!(c.registry_endpoints()[0].port, 443);
    }

    fn error_of(text: &str) -> String {
        NetworkConfig::parse(text, "net.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = error_of("registry_urls = [\"http://a/\"]");
        assert!(e.contains("net.toml") && e.contains("network"), "{e}");
        let e = error_of("network = \"x\"\nregistry_urls = [\"ftp://a/\"]");
        assert!(e.contains("registry_urls[0]"), "{e}");
        let e = error_of("network = \"x\"\nregistry_urls = [\"http://a:0/\"]");
        assert!(e.contains("registry_urls[0]"), "{e}");
        let e = error_of("network = \"x\"");
        assert!(e.contains("nowhere to bootstrap"), "{e}");
        let e = error_of(&DEVNET.replace("127.0.0.1:22101", "localhost"));
        assert!(e.contains("nodes[0].address"), "{e}");
        let e = error_of(&DEVNET.replace("\"2222", "\"zz22"));
        assert!(e.contains("nodes[0].pubkey_x25519"), "{e}");
        let e = error_of(&format!("{DEVNET}\n[client]\nenc_type = \"aes-cbc\""));
        assert!(e.contains("enc_type") && e.contains("aes-cbc"), "{e}");
        let e = error_of(&format!("{DEVNET}\n[client]\npaths = 0"));
        assert!(e.contains("client.paths"), "{e}");
        let e = error_of(&format!("{DEVNET}\n[client]\npath_hops = \"3\""));
        assert!(e.contains("path_hops"), "{e}");
        let e = error_of("network = ");
        assert!(e.contains("net.toml"), "{e}");
    }

    #[test]
    fn load_reports_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = NetworkConfig::load(&dir.path().join("network.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("network.toml") && e.contains("cannot read"),
            "{e}"
        );
        std::fs::write(dir.path().join("network.toml"), DEVNET).unwrap();
        assert!(NetworkConfig::load(&dir.path().join("network.toml")).is_ok());
    }
}
