//! The local settings file in the data directory: `settings.json`, what the user chose
//! about how this account presents itself (display name) and behaves (read receipts).
//!
//! Like `account.json` it is mode 0600, written to a temporary file first and renamed
//! into place (a crash never leaves half a file). Unlike the key file it is rewritten
//! whenever a setting changes. Keys this version does not know are refused, with an
//! error naming the file, so that a typo never silently turns a setting off.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use session_client::MessengerSettings;
use session_client::message::Profile;

/// File name of the settings file inside the data directory.
pub const FILE_NAME: &str = "settings.json";

/// The longest display name, in characters (as Session clients limit it).
pub const MAX_NAME_CHARS: usize = 100;

/// The local settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The name sent with every message (none: only the Session ID is seen).
    pub display_name: Option<String>,
    /// Whether senders are told that their messages were read (off by default).
    pub read_receipts: bool,
}

/// The file: a version and the settings (spelled out: serde's `flatten` cannot refuse
/// unknown keys).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default)]
    read_receipts: bool,
}

impl Settings {
    /// The messenger's settings: the display name becomes the profile sent with messages.
    pub fn messenger(&self) -> MessengerSettings {
        MessengerSettings {
            profile: self.display_name.clone().map(Profile::named),
            read_receipts: self.read_receipts,
        }
    }
}

/// Path of the settings file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Checks a display name: 1 to [`MAX_NAME_CHARS`] characters, no control characters,
/// not only spaces. Returns it trimmed.
pub fn check_name(name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    if name.is_empty() {
        bail!("the display name is empty; give a name, or use --clear-name to remove it");
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        bail!("the display name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed");
    }
    if name.chars().any(char::is_control) {
        bail!("the display name contains control characters (tabs, line breaks …); remove them");
    }
    Ok(name.to_owned())
}

/// Loads the settings from `data_dir` (defaults when there is no file yet).
pub fn load(data_dir: &Path) -> anyhow::Result<Settings> {
    let file = path(data_dir);
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let parsed: SettingsFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid settings file (fix or remove the offending key, or delete the \
             file and set your settings again with `session profile`)",
            file.display()
        )
    })?;
    if parsed.version != 1 {
        bail!(
            "{} has version {}, this build reads version 1",
            file.display(),
            parsed.version
        );
    }
    if let Some(name) = &parsed.display_name {
        check_name(name).with_context(|| format!("{}: display_name", file.display()))?;
    }
    Ok(Settings {
        display_name: parsed.display_name,
        read_receipts: parsed.read_receipts,
    })
}

/// Saves the settings into `data_dir` (mode 0600, atomically).
pub fn save(data_dir: &Path, settings: &Settings) -> anyhow::Result<PathBuf> {
    let mut body = serde_json::to_string_pretty(&SettingsFile {
        version: 1,
        display_name: settings.display_name.clone(),
        read_receipts: settings.read_receipts,
    })
    .context("serialising the settings")?;
    body.push('\n');
    crate::private_file::write_atomic(data_dir, FILE_NAME, &[body.as_bytes()])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn round_trip_defaults_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Settings::default());
        let s = Settings {
            display_name: Some("Alice".into()),
            read_receipts: true,
        };
        let file = save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path()).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            s.messenger().profile.unwrap().display_name.as_deref(),
            Some("Alice")
        );
        fs::write(&file, r#"{"version":1,"read_reciepts":true}"#).unwrap();
        let e = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(
            e.contains("read_reciepts") && e.contains("settings.json"),
            "{e}"
        );
        fs::write(&file, r#"{"version":2}"#).unwrap();
        assert!(load(dir.path()).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  Bob ").unwrap(), "Bob");
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_name(&"é".repeat(100)).is_ok());
    }
}
