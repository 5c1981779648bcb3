//! Hash functions and MACs: BLAKE2b with a runtime output length (keyed, salted and
//! personalised exactly like libsodium's `crypto_generichash*`), SHA-256/512 and
//! HMAC-SHA256.

use blake2::Blake2bVarCore;
use blake2::digest::block_api::{Block, BlockSizeUser, UpdateCore, VariableOutputCore};
use blake2::digest::block_buffer::LazyBuffer;
use hmac::{KeyInit, Mac};
use sha2::Digest;

use crate::error::{CryptoError, Result};

type Blake2bBlockSize = <Blake2bVarCore as BlockSizeUser>::BlockSize;

/// Incremental BLAKE2b with any output length from 1 to 64 bytes, an optional key
/// (1–64 bytes), and optional 16-byte salt and personalisation (shorter ones are
/// zero-padded, as libsodium does).
#[derive(Clone)]
pub struct Blake2b {
    core: Blake2bVarCore,
    buffer: LazyBuffer<Blake2bBlockSize>,
    out_len: usize,
}

impl std::fmt::Debug for Blake2b {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blake2b")
            .field("out_len", &self.out_len)
            .finish_non_exhaustive()
    }
}

impl Blake2b {
    /// Unkeyed BLAKE2b with `out_len` bytes of output.
    pub fn new(out_len: usize) -> Result<Self> {
        Self::with_params(out_len, &[], &[], &[])
    }

    /// Keyed BLAKE2b (libsodium `crypto_generichash` with a key). An empty key means
    /// unkeyed, as in libsodium.
    pub fn keyed(out_len: usize, key: &[u8]) -> Result<Self> {
        Self::with_params(out_len, key, &[], &[])
    }

    /// BLAKE2b with key, salt and personalisation (libsodium
    /// `crypto_generichash_blake2b_salt_personal`).
    pub fn with_params(out_len: usize, key: &[u8], salt: &[u8], personal: &[u8]) -> Result<Self> {
        if out_len == 0 || out_len > 64 {
            return Err(CryptoError::InvalidLength {
                what: "BLAKE2b output",
                expected: "1 to 64",
                got: out_len,
            });
        }
        if key.len() > 64 {
            return Err(CryptoError::InvalidLength {
                what: "BLAKE2b key",
                expected: "at most 64",
                got: key.len(),
            });
        }
        if salt.len() > 16 || personal.len() > 16 {
            return Err(CryptoError::InvalidLength {
                what: "BLAKE2b salt/personalisation",
                expected: "at most 16",
                got: salt.len().max(personal.len()),
            });
        }
        let core = Blake2bVarCore::new_with_params(salt, personal, key.len(), out_len);
        let buffer = if key.is_empty() {
            LazyBuffer::default()
        } else {
            let mut block = Block::<Blake2bVarCore>::default();
            block[..key.len()].copy_from_slice(key);
            LazyBuffer::new(&block)
        };
        Ok(Self {
            core,
            buffer,
            out_len,
        })
    }

    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        let core = &mut self.core;
        self.buffer
            .digest_blocks(data, |blocks| core.update_blocks(blocks));
        self
    }

    /// Finishes and returns the `out_len`-byte digest.
    pub fn finalize(mut self) -> Vec<u8> {
        let mut full = Default::default();
        self.core
            .finalize_variable_core(&mut self.buffer, &mut full);
        full[..self.out_len].to_vec()
    }

    /// Finishes into a fixed-size array; `N` must equal the output length given at
    /// construction.
    pub fn finalize_array<const N: usize>(mut self) -> [u8; N] {
        let mut full = Default::default();
        self.core
            .finalize_variable_core(&mut self.buffer, &mut full);
        let mut out = [0u8; N];
        out.copy_from_slice(&full[..N.min(self.out_len)]);
        out
    }
}

/// Unkeyed BLAKE2b-N over the concatenation of `parts`.
pub fn blake2b<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    blake2b_keyed::<N>(&[], parts)
}

/// BLAKE2b-N keyed with `key` (at most 64 bytes; empty = unkeyed) over the
/// concatenation of `parts`.
///
/// # Panics
/// Never for `N` in 1..=64 and keys of at most 64 bytes, which every caller in this
/// project uses (all keys are compile-time constants or 32-byte secrets).
pub fn blake2b_keyed<const N: usize>(key: &[u8], parts: &[&[u8]]) -> [u8; N] {
    const { assert!(N >= 1 && N <= 64, "BLAKE2b output must be 1..=64 bytes") };
    let mut key_block = [0u8; 64];
    let key = &key[..key.len().min(64)];
    key_block[..key.len()].copy_from_slice(key);
    let core = Blake2bVarCore::new_with_params(&[], &[], key.len(), N);
    let mut h = Blake2b {
        core,
        buffer: if key.is_empty() {
            LazyBuffer::default()
        } else {
            let mut block = Block::<Blake2bVarCore>::default();
            block[..key.len()].copy_from_slice(key);
            LazyBuffer::new(&block)
        },
        out_len: N,
    };
    for p in parts {
        h.update(p);
    }
    h.finalize_array::<N>()
}

/// SHA-512 over the concatenation of `parts`.
pub fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = sha2::Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Keccak-256 (the original Keccak padding, as Ethereum and oxend use it — not SHA3-256)
/// over the concatenation of `parts`. oxend signs uptime proofs and quorum votes over it.
pub fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sha3::Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA256 of the concatenation of `parts` under `key` (any length).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of every length, so `new_from_slice` cannot fail.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Verifies an HMAC-SHA256 tag in constant time.
pub fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let expected = hmac_sha256(key, parts);
    tag.len() == 32 && bool::from(expected.ct_eq(tag))
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC's key-length check only fails for fixed-key MACs; SHA-256 HMAC has none.
    unreachable!("HMAC-SHA256 accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_parameters() {
        assert!(Blake2b::new(0).is_err());
        assert!(Blake2b::new(65).is_err());
        assert!(Blake2b::keyed(32, &[0u8; 65]).is_err());
        assert!(Blake2b::with_params(32, &[], &[0u8; 17], &[]).is_err());
    }

    #[test]
    fn keccak256_known_answers() {
        let h = |parts: &[&[u8]]| hex::encode(keccak256(parts));
        assert_eq!(
            h(&[b""]),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            h(&[b"a", b"bc"]),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        // One full 136-byte rate block: the padding must go into a second block.
        assert_ne!(h(&[&[0x61; 136]]), h(&[&[0x61; 135]]));
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut h = Blake2b::keyed(32, b"key").unwrap();
        for chunk in data.chunks(7) {
            h.update(chunk);
        }
        assert_eq!(h.finalize(), blake2b_keyed::<32>(b"key", &[&data]).to_vec());
    }
}
