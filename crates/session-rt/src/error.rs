//! The one error type of `session-rt`.

use std::path::Path;

use thiserror::Error;

/// Everything that can go wrong in the runtime helpers.
#[derive(Debug, Error)]
pub enum RtError {
    /// A file-system operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A configuration file is invalid.
    #[error("invalid configuration {origin}: {reason}")]
    Config {
        /// The file (or other origin) of the configuration.
        origin: String,
        /// What is wrong, with the offending key where known.
        reason: String,
    },
    /// TLS setup failed (certificate generation, loading or configuration).
    #[error("TLS: {reason}")]
    Tls {
        /// What went wrong.
        reason: String,
    },
    /// An HTTP client operation failed.
    #[error("HTTP: {reason}")]
    Http {
        /// What went wrong.
        reason: String,
    },
}

impl RtError {
    /// An I/O error on `path`.
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.display().to_string(),
            source,
        }
    }
}
