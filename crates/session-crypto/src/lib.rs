//! All of Session's cryptography, and the only crate of the project that touches curve,
//! AEAD and hash implementations. Everything here is pure: bytes in, bytes out — no
//! sockets, files or clocks (randomness comes from the OS generator, and every
//! randomised function has a deterministic variant for tests).
//!
//! The byte-level reference is `specs/client-protocol.md`; section numbers in the module
//! docs point there.

// Primitives.
pub mod aead;
pub mod curve;
pub mod ed25519;
pub mod error;
pub mod hash;
pub mod random;
pub mod x25519;

// Identity.
pub mod account_id;
pub mod keys;
pub mod mnemonic;

// One-to-one messages.
pub mod sealed_box;
pub mod session_protocol;

// Communities and blinding.
pub mod blinding;
pub mod community_dm;
pub mod sogs_auth;

// Onion requests.
pub mod onion;

// Groups and config.
pub mod config;
pub mod groups;
pub mod multi_encrypt;

// Attachments and names.
pub mod attachments;
pub mod ons;
pub mod secretstream;

pub use account_id::{AccountId, IdPrefix};
pub use ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed};
pub use error::{CryptoError, Result};
pub use keys::AccountKeys;
pub use x25519::{X25519Keypair, X25519SecretKey};
