//! The node's identity: an Ed25519 key generated on first start and kept in the data
//! directory (file mode 0600), and the X25519 key derived from it. The Ed25519 key signs
//! every per-node result; its public half is also the legacy key of new registrations.

use std::fmt;
use std::path::Path;

use session_crypto::{Ed25519Keypair, Ed25519Seed, X25519Keypair};
use zeroize::Zeroizing;

use crate::error::{NodeError, Result};

/// File name of the node key (64 hex characters of Ed25519 seed) in the data directory.
pub const KEY_FILE: &str = "key_ed25519";

/// The node's keys.
#[derive(Clone)]
pub struct NodeIdentity {
    ed25519: Ed25519Keypair,
    x25519: X25519Keypair,
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("pubkey_ed25519", &self.ed25519_hex())
            .finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// From a seed.
    pub fn from_seed(seed: Ed25519Seed) -> Self {
        let ed25519 = Ed25519Keypair::from_seed(seed);
        let x25519 = ed25519.to_x25519();
        Self { ed25519, x25519 }
    }

    /// A fresh random identity (tests).
    pub fn generate() -> Result<Self> {
        let seed = Ed25519Seed::generate().map_err(|e| NodeError::Internal(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    /// Loads `dir/key_ed25519`, creating it (mode 0600) with a new random key on first
    /// start.
    pub fn load_or_generate(dir: &Path) -> Result<Self> {
        let path = dir.join(KEY_FILE);
        if path.exists() {
            let text = Zeroizing::new(
                std::fs::read_to_string(&path)
                    .map_err(|e| session_rt::RtError::io("read", &path, e))?,
            );
            let seed = Ed25519Seed::from_hex(text.trim()).map_err(|e| NodeError::KeyFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            return Ok(Self::from_seed(seed));
        }
        let id = Self::generate()?;
        let hex_seed = Zeroizing::new(hex::encode(id.ed25519.seed().as_bytes()));
        session_rt::fs::write_private(&path, hex_seed.as_bytes())?;
        tracing::info!(pubkey = %id.ed25519_hex(), "generated a new node key");
        Ok(id)
    }

    /// The Ed25519 public key.
    pub fn ed25519_public(&self) -> [u8; 32] {
        *self.ed25519.public().as_bytes()
    }

    /// The Ed25519 public key in hex (the key of this node's entry in swarm results).
    pub fn ed25519_hex(&self) -> String {
        hex::encode(self.ed25519_public())
    }

    /// The X25519 public key.
    pub fn x25519_public(&self) -> [u8; 32] {
        *self.x25519.public()
    }

    /// The legacy public key (equal to the Ed25519 key for new registrations).
    pub fn legacy_public(&self) -> [u8; 32] {
        self.ed25519_public()
    }

    /// The Ed25519 key pair (signs registry transactions and uptime proofs).
    pub(crate) fn ed25519_keypair(&self) -> &Ed25519Keypair {
        &self.ed25519
    }

    /// The X25519 key pair (decrypts onion layers addressed to this node).
    pub fn x25519_keypair(&self) -> &X25519Keypair {
        &self.x25519
    }

    /// Signs `message` with the node's Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.ed25519.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = NodeIdentity::load_or_generate(dir.path()).unwrap();
        let b = NodeIdentity::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.ed25519_public(), b.ed25519_public());
        assert_eq!(a.x25519_public(), b.x25519_public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // X25519 is derived from the Ed25519 key.
        let x = session_crypto::curve::ed25519_pk_to_x25519(&a.ed25519_public()).unwrap();
        assert_eq!(x, a.x25519_public());
        assert!(!format!("{a:?}").contains(&hex::encode(a.ed25519.seed().as_bytes())));
    }

    #[test]
    fn corrupt_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        assert!(matches!(
            NodeIdentity::load_or_generate(dir.path()),
            Err(NodeError::KeyFile { .. })
        ));
    }
}
