//! A server's long-term X25519 key file (`key_x25519`: 32 raw bytes, mode 0600), as the
//! community server and the file server keep it: loaded if present, created otherwise.

use std::path::Path;

use session_crypto::{X25519Keypair, X25519SecretKey};

/// Why a key file could not be used; `reason` says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    /// The key file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server key {}: {}", self.path, self.reason)
    }
}

impl std::error::Error for KeyFileError {}

/// Loads the X25519 key at `path`, or creates one (and its directory) with mode 0600 if
/// the file does not exist. Returns the key and whether it was created. `new_key_means`
/// tells an operator what replacing the key would cost (e.g. "which changes every join
/// URL"); it ends the error for a malformed file.
///
/// # Errors
/// A file that is not 32 bytes, or one that cannot be read or written.
pub fn load_or_create(
    path: &Path,
    new_key_means: &str,
) -> Result<(X25519Keypair, bool), KeyFileError> {
    let key_err = |reason: String| KeyFileError {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let secret = X25519SecretKey::from_slice(&bytes).map_err(|_| {
                key_err(format!(
                    "has {} bytes; a server key is exactly 32 raw bytes (the key_x25519 \
                     format). Restore the right file, or move it aside to start with a new \
                     key ({new_key_means})",
                    bytes.len()
                ))
            })?;
            warn_if_readable_by_others(path);
            Ok((X25519Keypair::from_secret(secret), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::fs::ensure_dir(dir).map_err(|e| key_err(e.to_string()))?;
            }
            let secret = X25519SecretKey::generate()
                .map_err(|e| key_err(format!("cannot generate: {e}")))?;
            crate::fs::write_private(path, secret.as_bytes())
                .map_err(|e| key_err(e.to_string()))?;
            tracing::info!(path = %path.display(), "created a new server key");
            Ok((X25519Keypair::from_secret(secret), true))
        }
        Err(e) => Err(key_err(format!("cannot read it: {e}"))),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the server key is readable by other users; run: chmod 600 {}",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn created_once_then_loaded_and_bad_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key_x25519");
        let (k1, created) = load_or_create(&path, "x").unwrap();
        assert!(created);
        let (k2, created) = load_or_create(&path, "x").unwrap();
        assert!(!created);
        assert_eq!(k1.public(), k2.public());
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        let e = load_or_create(&path, "which changes every join URL").unwrap_err();
        assert!(e.reason.contains("has 5 bytes"), "{e}");
        assert!(
            e.to_string().ends_with("(which changes every join URL)"),
            "{e}"
        );
    }
}
