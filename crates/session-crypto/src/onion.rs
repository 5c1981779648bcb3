//! Onion-request hop cryptography (client-protocol §8.3–§8.4, storage-node §7.3–§7.4).
//!
//! Each layer is encrypted by the client with a fresh ephemeral X25519 key pair `(e, E)`
//! to a node's X25519 key `X`; the node decrypts with its secret `x` and the client's
//! `E`, and the final destination encrypts its reply with the same key. With
//! `S = X25519(e, X) = X25519(x, E)`:
//!
//! * [`EncType::AesGcm`] (the default when `enc_type` is absent; wire names `aes-gcm`,
//!   `gcm`): key `HMAC-SHA256(key = "LOKI", S)`, output `iv(12) || ct || tag(16)`.
//! * [`EncType::XChaCha20`] (`xchacha20`, `xchacha20-poly1305`): key
//!   `BLAKE2b-256(S || E || X)` — the client's key first, the node's second, in both
//!   directions — output `nonce(24) || ct || tag(16)`.
//!
//! The framing around the ciphertext (`u32le(len) || blob || JSON`) lives in
//! `session-wire`.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::aead::{
    GCM_NONCE_LEN, TAG_LEN, XCHACHA_NONCE_LEN, aes256gcm_decrypt, aes256gcm_encrypt,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::error::{CryptoError, Result, to_array};
use crate::hash::{blake2b, hmac_sha256};
use crate::x25519::X25519Keypair;

/// HMAC key of the AES-GCM hop key derivation.
pub const AES_GCM_HMAC_KEY: &[u8] = b"LOKI";

/// The AEAD of one onion layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EncType {
    /// AES-256-GCM (desktop; the default when a request names none).
    #[default]
    AesGcm,
    /// XChaCha20-Poly1305-IETF (libsession's default).
    XChaCha20,
}

impl EncType {
    /// The canonical wire name: `"aes-gcm"` or `"xchacha20"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AesGcm => "aes-gcm",
            Self::XChaCha20 => "xchacha20",
        }
    }

    /// Parses a wire name: `aes-gcm`, `gcm`, `xchacha20` or `xchacha20-poly1305`
    /// (exact, lower case). Legacy `aes-cbc` is not supported.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "aes-gcm" | "gcm" => Ok(Self::AesGcm),
            "xchacha20" | "xchacha20-poly1305" => Ok(Self::XChaCha20),
            other => Err(CryptoError::Malformed {
                what: "onion enc_type",
                reason: format!(
                    "unknown encryption type {other:?} (expected aes-gcm, gcm, xchacha20 or \
                     xchacha20-poly1305)"
                ),
            }),
        }
    }

    /// Length of the IV/nonce that starts every blob: 12 or 24.
    pub fn nonce_len(self) -> usize {
        match self {
            Self::AesGcm => GCM_NONCE_LEN,
            Self::XChaCha20 => XCHACHA_NONCE_LEN,
        }
    }

    /// Bytes added to the plaintext: nonce plus 16-byte tag (28 or 40).
    pub fn overhead(self) -> usize {
        self.nonce_len() + TAG_LEN
    }

    /// What a blob of this type is called in errors.
    fn blob_what(self) -> &'static str {
        match self {
            Self::AesGcm => "onion layer (aes-gcm)",
            Self::XChaCha20 => "onion layer (xchacha20)",
        }
    }
}

impl FromStr for EncType {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for EncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The symmetric key of one layer from the X25519 shared secret `S` and the two public
/// keys (client's ephemeral key first, node's key second — whichever side computes it).
pub fn derive_hop_key(
    enc: EncType,
    shared_secret: &[u8; 32],
    client_pub: &[u8; 32],
    node_pub: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(match enc {
        EncType::AesGcm => hmac_sha256(AES_GCM_HMAC_KEY, &[shared_secret]),
        EncType::XChaCha20 => blake2b::<32>(&[shared_secret, client_pub, node_pub]),
    })
}

/// The key material of one onion layer, held by the client (to encrypt the request and
/// decrypt the reply) or by the node (to decrypt the request and encrypt the reply).
/// Secrets are zeroized on drop and never printed.
#[derive(Clone)]
pub struct HopKey {
    enc: EncType,
    shared: Zeroizing<[u8; 32]>,
    client_pub: [u8; 32],
    node_pub: [u8; 32],
}

impl fmt::Debug for HopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HopKey")
            .field("enc", &self.enc)
            .field("client_pub", &hex::encode(self.client_pub))
            .field("node_pub", &hex::encode(self.node_pub))
            .finish_non_exhaustive()
    }
}

impl HopKey {
    /// The client's view: its ephemeral key pair and the node's X25519 public key.
    /// Fails with [`CryptoError::WeakSharedSecret`] for a small-order node key.
    pub fn for_client(
        enc: EncType,
        ephemeral: &X25519Keypair,
        node_pub: &[u8; 32],
    ) -> Result<Self> {
        let shared = Zeroizing::new(ephemeral.diffie_hellman(node_pub)?);
        Ok(Self {
            enc,
            shared,
            client_pub: *ephemeral.public(),
            node_pub: *node_pub,
        })
    }

    /// The node's view: its X25519 key pair and the client's ephemeral public key (the
    /// `ephemeral_key` of the request). Fails with [`CryptoError::WeakSharedSecret`] for
    /// a small-order client key.
    pub fn for_node(enc: EncType, node: &X25519Keypair, client_pub: &[u8; 32]) -> Result<Self> {
        let shared = Zeroizing::new(node.diffie_hellman(client_pub)?);
        Ok(Self {
            enc,
            shared,
            client_pub: *client_pub,
            node_pub: *node.public(),
        })
    }

    /// The AEAD of this layer.
    pub fn enc_type(&self) -> EncType {
        self.enc
    }

    /// The client's ephemeral public key of this layer.
    pub fn client_pub(&self) -> &[u8; 32] {
        &self.client_pub
    }

    /// The node's X25519 public key of this layer.
    pub fn node_pub(&self) -> &[u8; 32] {
        &self.node_pub
    }

    fn key_for(&self, enc: EncType) -> Zeroizing<[u8; 32]> {
        derive_hop_key(enc, &self.shared, &self.client_pub, &self.node_pub)
    }

    /// Encrypts with a fresh random IV/nonce.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; XCHACHA_NONCE_LEN];
        let nonce = &mut nonce[..self.enc.nonce_len()];
        crate::random::fill_random(nonce)?;
        self.encrypt_with_nonce(plaintext, nonce)
    }

    /// Encrypts with the given IV/nonce (12 bytes for AES-GCM, 24 for XChaCha20):
    /// the deterministic twin of [`HopKey::encrypt`]. Output `nonce || ct || tag`.
    pub fn encrypt_with_nonce(&self, plaintext: &[u8], nonce: &[u8]) -> Result<Vec<u8>> {
        let key = self.key_for(self.enc);
        let mut out = Vec::with_capacity(plaintext.len() + self.enc.overhead());
        match self.enc {
            EncType::AesGcm => {
                let iv: [u8; GCM_NONCE_LEN] = to_array("onion AES-GCM IV", nonce)?;
                out.extend_from_slice(&iv);
                out.extend_from_slice(&aes256gcm_encrypt(&key, &iv, plaintext));
            }
            EncType::XChaCha20 => {
                let n: [u8; XCHACHA_NONCE_LEN] = to_array("onion XChaCha20 nonce", nonce)?;
                out.extend_from_slice(&n);
                out.extend_from_slice(&xchacha20poly1305_encrypt(&key, &n, &[], plaintext));
            }
        }
        Ok(out)
    }

    /// Decrypts `nonce || ct || tag`. A blob shorter than the overhead is
    /// [`CryptoError::InvalidLength`]; a wrong key or altered byte is
    /// [`CryptoError::DecryptionFailed`].
    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>> {
        decrypt_as(self.enc, &self.key_for(self.enc), blob)
    }

    /// Decrypts a reply the way libsession does: with this layer's AEAD, and if that is
    /// XChaCha20 and fails, again as AES-GCM (legacy servers answer with AES-GCM).
    pub fn decrypt_reply(&self, blob: &[u8]) -> Result<Vec<u8>> {
        match self.decrypt(blob) {
            Err(first) if self.enc == EncType::XChaCha20 => {
                decrypt_as(EncType::AesGcm, &self.key_for(EncType::AesGcm), blob).map_err(|_| first)
            }
            other => other,
        }
    }
}

fn decrypt_as(enc: EncType, key: &[u8; 32], blob: &[u8]) -> Result<Vec<u8>> {
    let what = enc.blob_what();
    if blob.len() < enc.overhead() {
        return Err(CryptoError::InvalidLength {
            what,
            expected: match enc {
                EncType::AesGcm => "at least 28",
                EncType::XChaCha20 => "at least 40",
            },
            got: blob.len(),
        });
    }
    let (nonce, ct) = blob.split_at(enc.nonce_len());
    match enc {
        EncType::AesGcm => aes256gcm_decrypt(key, &to_array(what, nonce)?, ct, what),
        EncType::XChaCha20 => {
            xchacha20poly1305_decrypt(key, &to_array(what, nonce)?, &[], ct, what)
        }
    }
}

/// One layer as the client built it: the blob to send, the ephemeral public key to put
/// beside it (`ephemeral_key`), and the key to decrypt the reply with.
#[derive(Clone, Debug)]
pub struct ClientLayer {
    /// `nonce || ct || tag`.
    pub ciphertext: Vec<u8>,
    /// The ephemeral X25519 public key of this layer.
    pub ephemeral_public: [u8; 32],
    /// The layer key (decrypts the destination's reply for the innermost layer).
    pub key: HopKey,
}

/// Encrypts one layer to a node's X25519 key with a fresh ephemeral key pair and nonce.
pub fn client_encrypt(enc: EncType, node_pub: &[u8; 32], plaintext: &[u8]) -> Result<ClientLayer> {
    let ephemeral = X25519Keypair::generate()?;
    let key = HopKey::for_client(enc, &ephemeral, node_pub)?;
    let ciphertext = key.encrypt(plaintext)?;
    Ok(ClientLayer {
        ciphertext,
        ephemeral_public: *ephemeral.public(),
        key,
    })
}

/// Deterministic twin of [`client_encrypt`]: the ephemeral key pair and the nonce (12
/// or 24 bytes) are given.
pub fn client_encrypt_with(
    enc: EncType,
    ephemeral: &X25519Keypair,
    node_pub: &[u8; 32],
    plaintext: &[u8],
    nonce: &[u8],
) -> Result<ClientLayer> {
    let key = HopKey::for_client(enc, ephemeral, node_pub)?;
    let ciphertext = key.encrypt_with_nonce(plaintext, nonce)?;
    Ok(ClientLayer {
        ciphertext,
        ephemeral_public: *ephemeral.public(),
        key,
    })
}

/// One layer as a node decrypted it: the plaintext and the key for the reply.
#[derive(Clone)]
pub struct NodeLayer {
    /// The decrypted layer (`u32le(len) || blob || JSON`, or a final request body).
    pub plaintext: Vec<u8>,
    /// The layer key; [`HopKey::encrypt`] with it makes the reply.
    pub key: HopKey,
}

impl fmt::Debug for NodeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeLayer")
            .field("plaintext_len", &self.plaintext.len())
            .field("key", &self.key)
            .finish()
    }
}

/// Decrypts one layer at a node: its X25519 key pair, the client's ephemeral public key
/// and the blob.
pub fn node_decrypt(
    enc: EncType,
    node: &X25519Keypair,
    client_pub: &[u8; 32],
    blob: &[u8],
) -> Result<NodeLayer> {
    let key = HopKey::for_node(enc, node, client_pub)?;
    let plaintext = key.decrypt(blob)?;
    Ok(NodeLayer { plaintext, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (name, enc) in [
            ("aes-gcm", EncType::AesGcm),
            ("gcm", EncType::AesGcm),
            ("xchacha20", EncType::XChaCha20),
            ("xchacha20-poly1305", EncType::XChaCha20),
        ] {
            assert_eq!(name.parse::<EncType>().unwrap(), enc);
        }
        assert_eq!(EncType::default(), EncType::AesGcm);
        assert_eq!(EncType::XChaCha20.to_string(), "xchacha20");
        assert!(matches!(
            EncType::parse("aes-cbc"),
            Err(CryptoError::Malformed { .. })
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let a = X25519Keypair::generate().unwrap();
        let b = X25519Keypair::generate().unwrap();
        let k = HopKey::for_client(EncType::XChaCha20, &a, b.public()).unwrap();
        let shared = a.diffie_hellman(b.public()).unwrap();
        assert!(!format!("{k:?}").contains(&hex::encode(shared)));
    }
}
