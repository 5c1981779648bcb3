//! An account's full key set: Ed25519 key pair, its X25519 form, and the Session ID.

use std::fmt;

use crate::account_id::{AccountId, IdPrefix};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed};
use crate::error::Result;
use crate::x25519::X25519Keypair;

/// Everything derived from one account seed.
#[derive(Clone)]
pub struct AccountKeys {
    ed: Ed25519Keypair,
    x: X25519Keypair,
    session_id: AccountId,
}

impl fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKeys")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl AccountKeys {
    /// Derives all keys from a seed (client-protocol §1).
    pub fn from_seed(seed: Ed25519Seed) -> Self {
        let ed = Ed25519Keypair::from_seed(seed);
        let x = ed.to_x25519();
        let session_id = AccountId::new(IdPrefix::Standard, *x.public());
        Self { ed, x, session_id }
    }

    /// A new account, with a 16-byte seed so that it has a 13-word recovery password.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_seed(Ed25519Seed::generate_legacy16()?))
    }

    /// The seed.
    pub fn seed(&self) -> &Ed25519Seed {
        self.ed.seed()
    }

    /// The Ed25519 key pair.
    pub fn ed25519(&self) -> &Ed25519Keypair {
        &self.ed
    }

    /// The Ed25519 public key.
    pub fn ed25519_public(&self) -> Ed25519PublicKey {
        self.ed.public()
    }

    /// The X25519 key pair.
    pub fn x25519(&self) -> &X25519Keypair {
        &self.x
    }

    /// The Session ID (`05` + X25519 public key).
    pub fn session_id(&self) -> AccountId {
        self.session_id
    }
}
