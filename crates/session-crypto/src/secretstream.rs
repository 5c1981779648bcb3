//! libsodium's `crypto_secretstream_xchacha20poly1305`, byte for byte (client-protocol §7.2,
//! §12 item 15), built from the IETF ChaCha20 and Poly1305 primitives.
//!
//! A stream is keyed by a 32-byte key and a 24-byte header: the state key is
//! `HChaCha20(key, header[0..16])`, the 12-byte ChaCha20 nonce is `counter(u32le) || inonce`
//! with the counter starting at 1 and `inonce = header[16..24]`. Each message becomes
//! `tag_byte || ciphertext || mac(16)` (17 bytes of overhead), where, exactly as libsodium
//! does it:
//!
//! * the Poly1305 key is ChaCha20 block 0;
//! * the tag byte is encrypted with the first byte of block 1, and the MAC covers that whole
//!   64-byte encrypted block (not just the tag byte);
//! * the message is encrypted from block 2 on;
//! * the MAC input is `ad || pad16(ad) || block1 || ciphertext || zeros(len % 16) ||
//!   u64le(ad_len) || u64le(64 + len)` — libsodium's second pad is `len mod 16` zero bytes, not
//!   the usual `pad16`, and a compatible implementation must copy that;
//! * afterwards the first 8 MAC bytes are XORed into `inonce`, the counter is incremented,
//!   and the state is re-keyed when the tag has the `REKEY` bit or the counter wraps to 0.
//!
//! (A third-party Rust crate got these details wrong and cannot talk to libsodium; the tests
//! of this module run differentially against libsodium itself.)

use std::fmt;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::{ChaCha20, R20, hchacha};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result};
use crate::random::random_array;

/// Stream key length (`crypto_secretstream_xchacha20poly1305_KEYBYTES`).
pub const KEY_LEN: usize = 32;
/// Stream header length (`crypto_secretstream_xchacha20poly1305_HEADERBYTES`).
pub const HEADER_LEN: usize = 24;
/// Bytes each message grows by: 1 tag byte + 16 MAC bytes
/// (`crypto_secretstream_xchacha20poly1305_ABYTES`).
pub const ABYTES: usize = 17;
/// The longest message one push may carry
/// (`crypto_secretstream_xchacha20poly1305_MESSAGEBYTES_MAX` on 64-bit platforms):
/// 64 × (2³² − 2) bytes, the ChaCha20 block counter's range after blocks 0 and 1.
pub const MESSAGE_MAX: u64 = 64 * ((1u64 << 32) - 2);

const MAC_LEN: usize = 16;
const INONCE_LEN: usize = 8;
const COUNTER_LEN: usize = 4;
const TAG_BIT_REKEY: u8 = 0x02;
const ZEROS: [u8; 16] = [0u8; 16];

/// The tag carried (encrypted and authenticated) by every message of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// `TAG_MESSAGE` (0): an ordinary message.
    Message,
    /// `TAG_PUSH` (1): the end of a set of messages, not of the stream.
    Push,
    /// `TAG_REKEY` (2): both sides re-key after this message.
    Rekey,
    /// `TAG_FINAL` (3 = PUSH | REKEY): the last message of the stream.
    Final,
}

impl Tag {
    /// The tag's byte value as libsodium writes it.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Message => 0,
            Self::Push => 1,
            Self::Rekey => 2,
            Self::Final => 3,
        }
    }

    /// Parses a tag byte; `None` for values libsodium defines no tag for.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Message),
            1 => Some(Self::Push),
            2 => Some(Self::Rekey),
            3 => Some(Self::Final),
            _ => None,
        }
    }
}

/// The 44 secret bytes of libsodium's `crypto_secretstream_xchacha20poly1305_state`
/// (its 8 padding bytes carry nothing).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct State {
    k: [u8; 32],
    /// `counter(4, little-endian) || inonce(8)`.
    nonce: [u8; 12],
}

impl State {
    /// `init_push` / `init_pull` with a given header.
    fn new(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        let mut input = [0u8; 16];
        input.copy_from_slice(&header[..16]);
        let mut subkey = hchacha::<R20>(key.into(), (&input).into());
        let mut k = [0u8; 32];
        k.copy_from_slice(&subkey);
        subkey.as_mut_slice().zeroize();
        let mut nonce = [0u8; 12];
        nonce[COUNTER_LEN..].copy_from_slice(&header[16..]);
        let mut state = Self { k, nonce };
        state.reset_counter();
        state
    }

    fn reset_counter(&mut self) {
        self.nonce[..COUNTER_LEN].copy_from_slice(&1u32.to_le_bytes());
    }

    fn cipher(&self) -> ChaCha20 {
        ChaCha20::new((&self.k).into(), (&self.nonce).into())
    }

    /// `crypto_secretstream_xchacha20poly1305_rekey`: `k || inonce` are replaced by their
    /// encryption under the current key and nonce, and the counter restarts at 1.
    fn rekey(&mut self) {
        let mut buf = [0u8; 32 + INONCE_LEN];
        buf[..32].copy_from_slice(&self.k);
        buf[32..].copy_from_slice(&self.nonce[COUNTER_LEN..]);
        self.cipher().apply_keystream(&mut buf);
        self.k.copy_from_slice(&buf[..32]);
        self.nonce[COUNTER_LEN..].copy_from_slice(&buf[32..]);
        buf.zeroize();
        self.reset_counter();
    }

    /// The state update after every message: mix the MAC into `inonce`, bump the counter,
    /// and re-key on `REKEY` or counter wrap-around.
    fn advance(&mut self, mac: &[u8; MAC_LEN], tag_byte: u8) {
        for (n, m) in self.nonce[COUNTER_LEN..].iter_mut().zip(&mac[..INONCE_LEN]) {
            *n ^= m;
        }
        let mut counter = [0u8; COUNTER_LEN];
        counter.copy_from_slice(&self.nonce[..COUNTER_LEN]);
        let next = u32::from_le_bytes(counter).wrapping_add(1);
        self.nonce[..COUNTER_LEN].copy_from_slice(&next.to_le_bytes());
        if tag_byte & TAG_BIT_REKEY != 0 || next == 0 {
            self.rekey();
        }
    }

    /// Keystream block 0 as the Poly1305 key; returns the cipher positioned at block 1.
    fn start(&self) -> (ChaCha20, Mac) {
        let mut cipher = self.cipher();
        let mut block = [0u8; 64];
        cipher.apply_keystream(&mut block);
        let mac = Mac::new(&block[..32]);
        block.zeroize();
        (cipher, mac)
    }
}

/// Poly1305 over input fed in arbitrary pieces (libsodium's `crypto_onetimeauth` state):
/// whole 16-byte blocks go straight through; a final partial block gets Poly1305's own
/// `0x01` padding.
struct Mac {
    poly: Poly1305,
    buf: [u8; 16],
    used: usize,
}

impl Mac {
    fn new(key: &[u8]) -> Self {
        let mut k = [0u8; 32];
        k.copy_from_slice(&key[..32]);
        let poly = Poly1305::new((&k).into());
        k.zeroize();
        Self {
            poly,
            buf: [0u8; 16],
            used: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        if self.used > 0 {
            let take = (16 - self.used).min(data.len());
            self.buf[self.used..self.used + take].copy_from_slice(&data[..take]);
            self.used += take;
            data = &data[take..];
            if self.used < 16 {
                return;
            }
            let block = self.buf;
            self.poly
                .update(poly1305::Block::cast_slice_from_core(&[block]));
            self.used = 0;
        }
        let (blocks, rest) = poly1305::Block::slice_as_chunks(data);
        self.poly.update(blocks);
        self.buf[..rest.len()].copy_from_slice(rest);
        self.used = rest.len();
    }

    fn finish(mut self) -> [u8; MAC_LEN] {
        let tail = self.buf;
        let used = self.used;
        self.buf.zeroize();
        self.poly.compute_unpadded(&tail[..used]).into()
    }
}

/// Computes the MAC of one message; `block1` is the encrypted tag block.
fn message_mac(mut mac: Mac, ad: &[u8], block1: &[u8; 64], ciphertext: &[u8]) -> [u8; MAC_LEN] {
    mac.update(ad);
    mac.update(&ZEROS[..(16 - ad.len() % 16) % 16]);
    mac.update(block1);
    mac.update(ciphertext);
    // libsodium pads with `(0x10 - 64 + mlen) & 0xf` zero bytes, i.e. `mlen mod 16`.
    mac.update(&ZEROS[..ciphertext.len() % 16]);
    mac.update(&(ad.len() as u64).to_le_bytes());
    mac.update(&((64 + ciphertext.len()) as u64).to_le_bytes());
    mac.finish()
}

fn check_message_len(len: usize) -> Result<()> {
    if len as u64 > MESSAGE_MAX {
        return Err(CryptoError::InvalidLength {
            what: "secretstream message",
            expected: "at most 274877906816",
            got: len,
        });
    }
    Ok(())
}

/// The sending side of a stream (`crypto_secretstream_xchacha20poly1305_init_push` /
/// `_push`). The state is wiped when dropped.
#[derive(Clone)]
pub struct PushStream {
    state: State,
}

impl fmt::Debug for PushStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushStream").finish_non_exhaustive()
    }
}

impl PushStream {
    /// Starts a stream with a random header, as libsodium's `init_push` does; the header
    /// must reach the receiver (it is not secret).
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the system random number generator fails.
    pub fn new(key: &[u8; KEY_LEN]) -> Result<(Self, [u8; HEADER_LEN])> {
        let header = random_array::<HEADER_LEN>()?;
        Ok((Self::with_header(key, &header), header))
    }

    /// Starts a stream with a caller-chosen header (the deterministic twin of [`Self::new`];
    /// Session's deterministic attachments use a derived header). Never reuse a header with
    /// the same key for different data.
    pub fn with_header(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Encrypts one message with associated data `ad` (may be empty) and returns
    /// `tag_byte || ciphertext || mac`, [`ABYTES`] longer than `message`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidLength`] if `message` is longer than [`MESSAGE_MAX`].
    pub fn push(&mut self, message: &[u8], ad: &[u8], tag: Tag) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(message.len() + ABYTES);
        self.push_into(message, ad, tag, &mut out)?;
        Ok(out)
    }

    /// Like [`Self::push`] but appends the encrypted message to `out`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidLength`] if `message` is longer than [`MESSAGE_MAX`]; `out` and
    /// the stream are then unchanged.
    pub fn push_into(
        &mut self,
        message: &[u8],
        ad: &[u8],
        tag: Tag,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        check_message_len(message.len())?;
        let tag_byte = tag.to_byte();
        let (mut cipher, mac) = self.state.start();
        let mut block1 = [0u8; 64];
        block1[0] = tag_byte;
        cipher.apply_keystream(&mut block1);
        let start = out.len();
        out.reserve(message.len() + ABYTES);
        out.push(block1[0]);
        out.extend_from_slice(message);
        if cipher.try_apply_keystream(&mut out[start + 1..]).is_err() {
            // Unreachable after the length check; leave `out` as it was.
            out.truncate(start);
            return Err(CryptoError::InvalidLength {
                what: "secretstream message",
                expected: "at most 274877906816",
                got: message.len(),
            });
        }
        let tag16 = message_mac(mac, ad, &block1, &out[start + 1..]);
        out.extend_from_slice(&tag16);
        self.state.advance(&tag16, tag_byte);
        Ok(())
    }

    /// Forces a re-key of the sending state
    /// (`crypto_secretstream_xchacha20poly1305_rekey`); the receiver must do the same at the
    /// same point.
    pub fn rekey(&mut self) {
        self.state.rekey();
    }
}

/// The receiving side of a stream (`crypto_secretstream_xchacha20poly1305_init_pull` /
/// `_pull`). The state is wiped when dropped.
#[derive(Clone)]
pub struct PullStream {
    state: State,
}

impl fmt::Debug for PullStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullStream").finish_non_exhaustive()
    }
}

impl PullStream {
    /// Starts decrypting the stream that `header` began.
    pub fn new(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Authenticates and decrypts the next message (`tag_byte || ciphertext || mac`) with
    /// associated data `ad`; returns the plaintext and its tag.
    ///
    /// # Errors
    /// See [`Self::pull_into`].
    pub fn pull(&mut self, chunk: &[u8], ad: &[u8]) -> Result<(Vec<u8>, Tag)> {
        let mut out = Vec::with_capacity(chunk.len().saturating_sub(ABYTES));
        let tag = self.pull_into(chunk, ad, &mut out)?;
        Ok((out, tag))
    }

    /// Like [`Self::pull`] but appends the plaintext to `out` and returns the tag. On any
    /// error neither `out` nor the stream state changes (as in libsodium, a failed pull can
    /// be retried with the right data).
    ///
    /// # Errors
    /// * [`CryptoError::InvalidLength`] if `chunk` is shorter than [`ABYTES`] or its message
    ///   longer than [`MESSAGE_MAX`];
    /// * [`CryptoError::DecryptionFailed`] if the MAC does not verify (wrong key or header,
    ///   altered, reordered or truncated data, or different `ad`);
    /// * [`CryptoError::Malformed`] if the message authenticates but carries a tag byte
    ///   other than the four defined ones (libsodium would return the byte; no Session
    ///   producer writes one).
    pub fn pull_into(&mut self, chunk: &[u8], ad: &[u8], out: &mut Vec<u8>) -> Result<Tag> {
        if chunk.len() < ABYTES {
            return Err(CryptoError::InvalidLength {
                what: "secretstream message",
                expected: "at least 17",
                got: chunk.len(),
            });
        }
        let body_len = chunk.len() - ABYTES;
        check_message_len(body_len)?;
        let (mut cipher, mac) = self.state.start();
        let mut block1 = [0u8; 64];
        block1[0] = chunk[0];
        cipher.apply_keystream(&mut block1);
        let tag_byte = block1[0];
        block1[0] = chunk[0];
        let body = &chunk[1..1 + body_len];
        let expected = message_mac(mac, ad, &block1, body);
        block1.zeroize();
        let stored = &chunk[1 + body_len..];
        if !bool::from(expected.ct_eq(stored)) {
            return Err(CryptoError::DecryptionFailed {
                what: "secretstream message",
            });
        }
        let Some(tag) = Tag::from_byte(tag_byte) else {
            return Err(CryptoError::Malformed {
                what: "secretstream message",
                reason: format!("unknown tag byte 0x{tag_byte:02x}"),
            });
        };
        let start = out.len();
        out.extend_from_slice(body);
        if cipher.try_apply_keystream(&mut out[start..]).is_err() {
            out.truncate(start);
            return Err(CryptoError::InvalidLength {
                what: "secretstream message",
                expected: "at most 274877906816",
                got: body_len,
            });
        }
        self.state.advance(&expected, tag_byte);
        Ok(tag)
    }

    /// Forces a re-key of the receiving state, mirroring a [`PushStream::rekey`] by the
    /// sender.
    pub fn rekey(&mut self) {
        self.state.rekey();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_all_tags_and_ad() {
        let key = [3u8; 32];
        let header = [5u8; 24];
        let mut tx = PushStream::with_header(&key, &header);
        let mut rx = PullStream::new(&key, &header);
        let msgs: [(&[u8], Tag); 5] = [
            (b"", Tag::Message),
            (b"hello", Tag::Push),
            (&[7u8; 100], Tag::Rekey),
            (b"after rekey", Tag::Message),
            (b"bye", Tag::Final),
        ];
        for (m, tag) in msgs {
            let c = tx.push(m, b"ad", tag).unwrap();
            assert_eq!(c.len(), m.len() + ABYTES);
            let (p, t) = rx.pull(&c, b"ad").unwrap();
            assert_eq!((p.as_slice(), t), (m, tag));
        }
    }

    #[test]
    fn failed_pull_leaves_state_unchanged() {
        let key = [1u8; 32];
        let header = [2u8; 24];
        let mut tx = PushStream::with_header(&key, &header);
        let mut rx = PullStream::new(&key, &header);
        let c = tx.push(b"data", &[], Tag::Message).unwrap();
        let mut bad = c.clone();
        bad[3] ^= 1;
        let mut out = b"keep".to_vec();
        assert!(matches!(
            rx.pull_into(&bad, &[], &mut out),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        assert_eq!(out, b"keep");
        assert_eq!(rx.pull_into(&c, &[], &mut out).unwrap(), Tag::Message);
        assert_eq!(out, b"keepdata");
        assert!(matches!(
            rx.pull(&c[..16], &[]),
            Err(CryptoError::InvalidLength { .. })
        ));
    }

    /// libsodium re-keys when the 32-bit counter wraps to 0 (after 2³² − 1 messages, too many
    /// to push in a test): the re-key runs with the wrapped counter and restarts it at 1.
    #[test]
    fn counter_wrap_rekeys() {
        let mut s = State::new(&[8u8; 32], &[9u8; 24]);
        s.nonce[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mac = [0xa5u8; 16];
        let mut expected = s.clone();
        for (n, m) in expected.nonce[4..].iter_mut().zip(&mac[..8]) {
            *n ^= m;
        }
        expected.nonce[..4].copy_from_slice(&0u32.to_le_bytes());
        expected.rekey();
        s.advance(&mac, Tag::Message.to_byte());
        assert_eq!(s.k, expected.k);
        assert_eq!(s.nonce, expected.nonce);
        assert_eq!(&s.nonce[..4], &1u32.to_le_bytes());
        assert_ne!(s.k, State::new(&[8u8; 32], &[9u8; 24]).k);
        // Without wrap or REKEY the key stays.
        let mut t = State::new(&[8u8; 32], &[9u8; 24]);
        let k = t.k;
        t.advance(&mac, Tag::Push.to_byte());
        assert_eq!(t.k, k);
        assert_eq!(&t.nonce[..4], &2u32.to_le_bytes());
    }

    #[test]
    fn tag_bytes() {
        for t in [Tag::Message, Tag::Push, Tag::Rekey, Tag::Final] {
            assert_eq!(Tag::from_byte(t.to_byte()), Some(t));
        }
        assert_eq!(Tag::from_byte(4), None);
    }
}
