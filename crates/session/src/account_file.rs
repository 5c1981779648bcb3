//! The account key file in the data directory.
//!
//! `account.json` holds the account seed (hex) and is created with mode 0600 inside a
//! mode-0700 directory, written to a temporary file first and renamed into place so that
//! a crash never leaves half a key ([`crate::private_file`]). It is never overwritten.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use session_crypto::{AccountKeys, Ed25519Seed};
use zeroize::Zeroizing;

/// File name of the key file inside the data directory.
pub const FILE_NAME: &str = "account.json";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    /// The 32-byte Ed25519 seed, hex.
    seed: String,
}

/// The platform's data directory for Session (e.g. `~/.local/share/session`).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("session")
}

/// Path of the key file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Loads the account from `data_dir`.
pub fn load(data_dir: &Path) -> anyhow::Result<AccountKeys> {
    let file = path(data_dir);
    let text = match fs::read_to_string(&file) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no account in {}: create one with `session account new` or restore one with \
             `session account restore`",
            data_dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let parsed: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid account file", file.display()))?;
    if parsed.version != 1 {
        bail!(
            "{} has version {}, this build reads version 1",
            file.display(),
            parsed.version
        );
    }
    let seed = Ed25519Seed::from_hex(&parsed.seed)
        .with_context(|| format!("{} holds an invalid seed", file.display()))?;
    Ok(AccountKeys::from_seed(seed))
}

/// Saves a new account into `data_dir`; refuses if one is already there.
pub fn save_new(data_dir: &Path, keys: &AccountKeys) -> anyhow::Result<PathBuf> {
    let file = path(data_dir);
    if file.exists() {
        let existing = load(data_dir)
            .map(|k| k.session_id().to_string())
            .unwrap_or_else(|_| "unreadable".into());
        bail!(
            "{} already holds an account (Session ID {existing}); it is never overwritten. \
             Use another --data-dir, or move that file away first",
            data_dir.display()
        );
    }
    let body = Zeroizing::new(
        serde_json::to_string_pretty(&KeyFile {
            version: 1,
            seed: hex::encode(keys.seed().as_bytes()),
        })
        .context("serialising the account file")?,
    );
    crate::private_file::write_atomic(data_dir, FILE_NAME, &[body.as_bytes(), b"\n"])
}
