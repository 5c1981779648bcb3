//! Attachment encryption (client-protocol §7, community-server §11.2): the two formats a
//! file-server blob can have, and the file server's content-hash ids.
//!
//! * **Legacy** (no `#d` URL fragment): random 64-byte key = AES-256 key ‖ HMAC-SHA256 key,
//!   random 16-byte IV; the plaintext is zero-padded to the desktop size buckets
//!   ([`legacy_padded_size`]), then `blob = IV ‖ AES-256-CBC-PKCS#7(padded) ‖
//!   HMAC-SHA256(mac_key, IV ‖ ct)`. The pointer carries the key, `digest = SHA-256(blob)` and
//!   the real size; the receiver checks digest and MAC, decrypts and truncates.
//! * **Deterministic streaming "S"** (`#d`): `'S' ‖ header(24) ‖ secretstream chunks`, where
//!   header and key come from a BLAKE2b-448 of the uploader's seed and the content
//!   ([`KeyDerivation`]), the plaintext stream is `0x00…0x00 0x01 ‖ data` cut into 32 KiB
//!   chunks (each + 17 bytes), the last chunk tagged FINAL, and the padding chosen so that the
//!   total size is one of a few buckets ([`encrypted_size`]). Same uploader + same content +
//!   same domain → identical blob, so the file server can de-duplicate.
//!
//! Large downloads can be decrypted incrementally with [`StreamDecryptor`] (at most one chunk
//! is buffered), and large uploads encrypted with [`StreamKeyHasher`] + [`StreamEncryptor`]
//! in two passes over the file.

use std::fmt;

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CryptoError;
use crate::hash::{Blake2b, hmac_sha256, hmac_sha256_verify, sha256};
use crate::random::random_array;
use crate::secretstream::{self, PullStream, PushStream, Tag};

/// Why an attachment could not be encrypted or decrypted. None of the messages contains key
/// material or plaintext.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AttachmentError {
    /// The plaintext or blob is larger than the format (or the caller) allows.
    #[error("attachment of {size} bytes is larger than the maximum of {max} bytes")]
    TooLarge {
        /// The size found (plaintext for encryption, blob for decryption).
        size: usize,
        /// The limit that applied.
        max: usize,
    },
    /// A key had the wrong length.
    #[error("attachment key: expected {expected} bytes, got {got}")]
    InvalidKeyLength {
        /// The key length the format needs.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The first byte of a blob names no known encryption format.
    #[error("unknown attachment encryption format 0x{tag:02x} (expected 0x53 'S')")]
    UnknownFormat {
        /// The first byte of the blob.
        tag: u8,
    },
    /// Nothing in the blob authenticates under this key: the key is wrong, or the start of
    /// the blob (for legacy blobs without a digest to check: any part) was altered.
    #[error("attachment does not decrypt with this key: wrong key, or corrupted data")]
    WrongKeyOrCorrupt,
    /// A later chunk of a streaming blob does not authenticate although the earlier ones did,
    /// so the key is right and the blob was altered.
    #[error("attachment chunk {chunk} was altered (earlier chunks decrypted with this key)")]
    Tampered {
        /// 0-based index of the chunk that failed.
        chunk: usize,
    },
    /// A legacy blob's SHA-256 differs from the digest in the attachment pointer: it is not
    /// the blob the sender uploaded (altered, truncated or substituted).
    #[error("attachment digest mismatch: the downloaded blob is not the one the sender described")]
    DigestMismatch,
    /// The data ended before the stream did (no FINAL chunk, or a cut-off last chunk): the
    /// download was truncated.
    #[error("attachment data ended early after {received} bytes: the download was truncated")]
    Truncated {
        /// Encrypted bytes received in total.
        received: usize,
    },
    /// Bytes follow the chunk tagged FINAL.
    #[error("attachment has data after its final chunk (chunk {chunk})")]
    TrailingData {
        /// 0-based index of the FINAL chunk.
        chunk: usize,
    },
    /// The decrypted stream does not start with `0x00…0x00 0x01` padding.
    #[error("invalid attachment padding: {reason}")]
    InvalidPadding {
        /// What was wrong.
        reason: &'static str,
    },
    /// The blob authenticates (or is too short to try) but is not laid out as its format
    /// requires.
    #[error("malformed attachment: {reason}")]
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// A streaming encryptor was given a different amount of data than it was told to
    /// expect.
    #[error("attachment encryptor expected {declared} bytes of data but was given {given}")]
    LengthMismatch {
        /// The length declared when the encryptor was created.
        declared: usize,
        /// The length actually supplied (so far).
        given: usize,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

type Result<T, E = AttachmentError> = std::result::Result<T, E>;

fn rng_error(_: CryptoError) -> AttachmentError {
    AttachmentError::Rng
}

// ───────────────────────────── legacy AES-CBC + HMAC ─────────────────────────────

/// Largest legacy attachment plaintext, and the cap of the padded size
/// (`MAX_ATTACHMENT_FILESIZE_BYTES`).
pub const LEGACY_MAX_SIZE: usize = 10_000_000;
/// Legacy key length: AES-256 key (32) ‖ HMAC-SHA256 key (32).
pub const LEGACY_KEY_LEN: usize = 64;
/// Legacy IV length (prefix of the blob).
pub const LEGACY_IV_LEN: usize = 16;
/// Legacy MAC length (suffix of the blob).
pub const LEGACY_MAC_LEN: usize = 32;
/// Smallest padded size of a legacy attachment.
pub const LEGACY_MIN_PADDED_SIZE: usize = 541;
/// Largest legacy blob: IV + CBC of a [`LEGACY_MAX_SIZE`] padded plaintext + MAC.
pub const LEGACY_MAX_BLOB_SIZE: usize =
    LEGACY_IV_LEN + (LEGACY_MAX_SIZE / 16 + 1) * 16 + LEGACY_MAC_LEN;

/// The padded size of a legacy attachment of `len` bytes (desktop `addAttachmentPadding`):
/// `max(541, ⌊1.05^⌈ln len / ln 1.05⌉⌋)`, capped at [`LEGACY_MAX_SIZE`] for plaintexts that
/// fit. (Double-precision arithmetic as in JavaScript; 1.05^k is never within 10⁻⁸ of an
/// integer in the range used, so the result is exact.)
pub fn legacy_padded_size(len: usize) -> usize {
    let bucket = if len == 0 {
        // ln 0 = −∞ → 1.05^−∞ = 0
        0
    } else {
        let k = ((len as f64).ln() / 1.05f64.ln()).ceil();
        // `as` saturates; the `max(len)` guards against any rounding below `len`.
        (1.05f64.powf(k).floor() as usize).max(len)
    };
    let padded = bucket.max(LEGACY_MIN_PADDED_SIZE);
    if padded > LEGACY_MAX_SIZE && len <= LEGACY_MAX_SIZE {
        LEGACY_MAX_SIZE
    } else {
        padded
    }
}

/// A legacy 64-byte attachment key (`AttachmentPointer.key`): AES-256 key ‖ HMAC-SHA256
/// key. Wiped when dropped; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LegacyKey([u8; LEGACY_KEY_LEN]);

impl fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyKey(..)")
    }
}

impl PartialEq for LegacyKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for LegacyKey {}

impl LegacyKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`AttachmentError::Rng`] if the system random number generator fails.
    pub fn generate() -> Result<Self> {
        Ok(Self(random_array().map_err(rng_error)?))
    }

    /// From the 64 bytes of `AttachmentPointer.key`.
    ///
    /// # Errors
    /// [`AttachmentError::InvalidKeyLength`] unless `bytes` has 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; LEGACY_KEY_LEN] =
            bytes
                .try_into()
                .map_err(|_| AttachmentError::InvalidKeyLength {
                    expected: LEGACY_KEY_LEN,
                    got: bytes.len(),
                })?;
        Ok(Self(arr))
    }

    /// The 64 key bytes, as they go into `AttachmentPointer.key`.
    pub fn as_bytes(&self) -> &[u8; LEGACY_KEY_LEN] {
        &self.0
    }

    fn aes_key(&self) -> &[u8; 32] {
        self.0.first_chunk::<32>().unwrap_or(&[0u8; 32])
    }

    fn mac_key(&self) -> &[u8] {
        &self.0[32..]
    }
}

/// The result of a legacy encryption: what to upload and what to put in the pointer.
#[derive(Clone, Debug)]
pub struct LegacyEncrypted {
    /// `IV ‖ ciphertext ‖ MAC`: the bytes to upload.
    pub blob: Vec<u8>,
    /// The key (`AttachmentPointer.key`).
    pub key: LegacyKey,
    /// SHA-256 of `blob` (`AttachmentPointer.digest`).
    pub digest: [u8; 32],
    /// The unpadded plaintext length (`AttachmentPointer.size`).
    pub size: usize,
}

/// Encrypts an attachment in the legacy format with a random key and IV. `pad` applies the
/// desktop size buckets (file attachments); unpadded encryption is what clients use for
/// link previews and quote thumbnails.
///
/// # Errors
/// [`AttachmentError::TooLarge`] for plaintexts over [`LEGACY_MAX_SIZE`];
/// [`AttachmentError::Rng`] if the random number generator fails.
pub fn legacy_encrypt(plaintext: &[u8], pad: bool) -> Result<LegacyEncrypted> {
    let key = LegacyKey::generate()?;
    let iv = random_array::<LEGACY_IV_LEN>().map_err(rng_error)?;
    legacy_encrypt_with(plaintext, &key, &iv, pad)
}

/// The deterministic twin of [`legacy_encrypt`]: the same with a given key and IV.
///
/// # Errors
/// [`AttachmentError::TooLarge`] for plaintexts over [`LEGACY_MAX_SIZE`].
pub fn legacy_encrypt_with(
    plaintext: &[u8],
    key: &LegacyKey,
    iv: &[u8; LEGACY_IV_LEN],
    pad: bool,
) -> Result<LegacyEncrypted> {
    if plaintext.len() > LEGACY_MAX_SIZE {
        return Err(AttachmentError::TooLarge {
            size: plaintext.len(),
            max: LEGACY_MAX_SIZE,
        });
    }
    let padded_len = if pad {
        legacy_padded_size(plaintext.len())
    } else {
        plaintext.len()
    };
    // PKCS#7 always adds 1..=16 bytes.
    let ct_len = (padded_len / 16 + 1) * 16;
    let mut blob = Vec::with_capacity(LEGACY_IV_LEN + ct_len + LEGACY_MAC_LEN);
    blob.extend_from_slice(iv);
    blob.extend_from_slice(plaintext);
    blob.resize(LEGACY_IV_LEN + ct_len, 0);
    let encryptor = cbc::Encryptor::<Aes256>::new(key.aes_key().into(), iv.into());
    if encryptor
        .encrypt_padded::<Pkcs7>(&mut blob[LEGACY_IV_LEN..], padded_len)
        .is_err()
    {
        // The buffer is sized for the padding above, so this cannot happen.
        return Err(AttachmentError::Malformed {
            reason: "CBC buffer too small for PKCS#7 padding",
        });
    }
    let mac = hmac_sha256(key.mac_key(), &[&blob]);
    blob.extend_from_slice(&mac);
    let digest = sha256(&[&blob]);
    Ok(LegacyEncrypted {
        blob,
        key: key.clone(),
        digest,
        size: plaintext.len(),
    })
}

/// Decrypts a legacy attachment blob.
///
/// Checks, in this order: the blob's length and layout; `digest` (SHA-256 of the blob, from
/// the pointer) if given — checked first so that an altered or truncated download is told
/// apart from a wrong key; the HMAC; the CBC padding. The result is truncated to `size` (the
/// pointer's unpadded length) if given; like the desktop client, a `size` larger than the
/// decrypted data leaves the data whole.
///
/// # Errors
/// [`AttachmentError::TooLarge`] for blobs over [`LEGACY_MAX_BLOB_SIZE`];
/// [`AttachmentError::Malformed`] if the length cannot be `IV ‖ CBC ‖ MAC`;
/// [`AttachmentError::DigestMismatch`]; [`AttachmentError::WrongKeyOrCorrupt`] if the MAC does
/// not verify; [`AttachmentError::Malformed`] for bad PKCS#7 padding under a valid MAC.
pub fn legacy_decrypt(
    blob: &[u8],
    key: &LegacyKey,
    digest: Option<&[u8; 32]>,
    size: Option<usize>,
) -> Result<Vec<u8>> {
    if blob.len() > LEGACY_MAX_BLOB_SIZE {
        return Err(AttachmentError::TooLarge {
            size: blob.len(),
            max: LEGACY_MAX_BLOB_SIZE,
        });
    }
    let min = LEGACY_IV_LEN + 16 + LEGACY_MAC_LEN;
    if blob.len() < min || !(blob.len() - LEGACY_IV_LEN - LEGACY_MAC_LEN).is_multiple_of(16) {
        return Err(AttachmentError::Malformed {
            reason: "a legacy blob is IV(16) ‖ whole AES blocks ‖ MAC(32)",
        });
    }
    if let Some(expected) = digest
        && !bool::from(sha256(&[blob]).ct_eq(expected))
    {
        return Err(AttachmentError::DigestMismatch);
    }
    let (body, mac) = blob.split_at(blob.len() - LEGACY_MAC_LEN);
    if !hmac_sha256_verify(key.mac_key(), &[body], mac) {
        return Err(AttachmentError::WrongKeyOrCorrupt);
    }
    let (iv, ct) = body.split_at(LEGACY_IV_LEN);
    let mut iv_arr = [0u8; LEGACY_IV_LEN];
    iv_arr.copy_from_slice(iv);
    let mut buf = ct.to_vec();
    let decryptor = cbc::Decryptor::<Aes256>::new(key.aes_key().into(), (&iv_arr).into());
    let plain_len = decryptor
        .decrypt_padded::<Pkcs7>(&mut buf)
        .map_err(|_| AttachmentError::Malformed {
            reason: "invalid PKCS#7 padding under a valid MAC",
        })?
        .len();
    buf.truncate(plain_len);
    if let Some(size) = size {
        buf.truncate(size);
    }
    Ok(buf)
}

// ───────────────────────────── deterministic streaming "S" ─────────────────────────────

/// The format byte of streaming blobs (`'S'`).
pub const STREAM_FORMAT_TAG: u8 = b'S';
/// Secretstream header length (derived nonce).
pub const STREAM_HEADER_LEN: usize = secretstream::HEADER_LEN;
/// `'S'` + header.
pub const STREAM_PREFIX_LEN: usize = 1 + STREAM_HEADER_LEN;
/// Plaintext bytes per chunk.
pub const STREAM_CHUNK_SIZE: usize = 32_768;
/// Bytes each chunk grows by (tag + MAC).
pub const STREAM_CHUNK_OVERHEAD: usize = secretstream::ABYTES;
/// Size of a full encrypted chunk.
pub const STREAM_ENCRYPTED_CHUNK_SIZE: usize = STREAM_CHUNK_SIZE + STREAM_CHUNK_OVERHEAD;
/// Largest plaintext accepted without `allow_large` (libsession `MAX_REGULAR_SIZE`): the
/// largest whose encryption is no bigger than that of a 10,000,000-byte file.
pub const MAX_REGULAR_SIZE: usize = 10_218_286;
/// `encrypted_size(MAX_REGULAR_SIZE)`: the largest blob accepted without `allow_large`.
pub const MAX_REGULAR_ENCRYPTED_SIZE: usize = 10_223_616;

/// Domain separation of deterministic keys: the same file sent as an attachment and set as
/// a profile picture gets unrelated keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A file sent to someone (`0x00`, personalisation `SessionAttachmnt`).
    Attachment,
    /// A profile picture (`0x01`, personalisation `Session_Prof_Pic`).
    ProfilePicture,
}

impl Domain {
    /// The v1 key byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Attachment => 0x00,
            Self::ProfilePicture => 0x01,
        }
    }

    /// The v2 BLAKE2b personalisation.
    pub fn personalisation(self) -> &'static [u8; 16] {
        match self {
            Self::Attachment => b"SessionAttachmnt",
            Self::ProfilePicture => b"Session_Prof_Pic",
        }
    }
}

/// The two ways libsession has derived `nonce(24) ‖ key(32)`. Only the key travels and
/// decryption does not depend on it; it only matters for de-duplication (one uploader should
/// stick to one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyDerivation {
    /// Older libsession `encrypt()`: `BLAKE2b-56(seed ‖ data, key = domain byte)`.
    V1DomainKey,
    /// Current libsession `Encryptor`: `BLAKE2b-56(data, key = seed, pers = domain
    /// personalisation)`.
    #[default]
    V2Personalised,
}

/// A streaming-format attachment key (`AttachmentPointer.key`, 32 bytes). Wiped when
/// dropped; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AttachmentKey([u8; 32]);

impl fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachmentKey(..)")
    }
}

impl PartialEq for AttachmentKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for AttachmentKey {}

impl AttachmentKey {
    /// From the 32 bytes of `AttachmentPointer.key`.
    ///
    /// # Errors
    /// [`AttachmentError::InvalidKeyLength`] unless `bytes` has 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AttachmentError::InvalidKeyLength {
                expected: 32,
                got: bytes.len(),
            })?;
        Ok(Self(arr))
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The derived (or random) secretstream header and key of one streaming encryption.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamKey {
    header: [u8; STREAM_HEADER_LEN],
    key: AttachmentKey,
}

impl fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamKey").finish_non_exhaustive()
    }
}

impl Drop for StreamKey {
    fn drop(&mut self) {
        self.header.zeroize();
    }
}

impl StreamKey {
    /// From a header (the nonce) and a key.
    pub fn from_parts(header: [u8; STREAM_HEADER_LEN], key: AttachmentKey) -> Self {
        Self { header, key }
    }

    /// A random header and key, for non-deterministic encryption (no de-duplication).
    ///
    /// # Errors
    /// [`AttachmentError::Rng`] if the random number generator fails.
    pub fn random() -> Result<Self> {
        Ok(Self {
            header: random_array().map_err(rng_error)?,
            key: AttachmentKey(random_array().map_err(rng_error)?),
        })
    }

    /// The secretstream header (written after the `'S'`).
    pub fn header(&self) -> &[u8; STREAM_HEADER_LEN] {
        &self.header
    }

    /// The key that goes into the attachment pointer.
    pub fn key(&self) -> &AttachmentKey {
        &self.key
    }
}

fn blake2b_56(key: &[u8], personal: &[u8]) -> Blake2b {
    match Blake2b::with_params(56, key, &[], personal) {
        Ok(h) => h,
        // 56-byte output, a 1- or 32-byte key and a 16-byte personalisation are always valid.
        Err(_) => unreachable!("constant BLAKE2b parameters are valid"),
    }
}

/// Incremental derivation of a deterministic [`StreamKey`] from the uploader's seed and the
/// content (phase 1 of a two-pass file encryption).
#[derive(Clone)]
pub struct StreamKeyHasher {
    hasher: Blake2b,
    hashed: usize,
}

impl fmt::Debug for StreamKeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamKeyHasher")
            .field("hashed", &self.hashed)
            .finish_non_exhaustive()
    }
}

impl StreamKeyHasher {
    /// Starts the hash for `seed` (the uploader's 32-byte Ed25519 seed is recommended; any
    /// 32 secret bytes work) in `domain`, using derivation `kdf`.
    pub fn new(seed: &[u8; 32], domain: Domain, kdf: KeyDerivation) -> Self {
        let hasher = match kdf {
            KeyDerivation::V1DomainKey => {
                let mut h = blake2b_56(&[domain.byte()], &[]);
                h.update(seed);
                h
            }
            KeyDerivation::V2Personalised => blake2b_56(seed, domain.personalisation()),
        };
        Self { hasher, hashed: 0 }
    }

    /// Feeds content.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.hasher.update(data);
        self.hashed = self.hashed.saturating_add(data.len());
        self
    }

    /// The number of content bytes fed so far (the length to give [`StreamEncryptor::new`]).
    pub fn hashed_len(&self) -> usize {
        self.hashed
    }

    /// Finishes: `header = out[0..24]`, `key = out[24..56]`.
    pub fn finish(self) -> StreamKey {
        let mut out = self.hasher.finalize_array::<56>();
        let mut header = [0u8; STREAM_HEADER_LEN];
        header.copy_from_slice(&out[..STREAM_HEADER_LEN]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&out[STREAM_HEADER_LEN..]);
        out.zeroize();
        StreamKey {
            header,
            key: AttachmentKey(key),
        }
    }
}

/// Derives the deterministic header and key for `data` in one call.
pub fn derive_stream_key(
    seed: &[u8; 32],
    data: &[u8],
    domain: Domain,
    kdf: KeyDerivation,
) -> StreamKey {
    let mut h = StreamKeyHasher::new(seed, domain, kdf);
    h.update(data);
    h.finish()
}

fn bit_floor(x: usize) -> usize {
    match x.checked_ilog2() {
        Some(b) => 1usize << b,
        None => 0,
    }
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// The number of padding bytes (`P ≥ 1`: `P − 1` zeros and a `0x01`) the streaming format
/// puts before `data_len` bytes of data (libsession `encrypted_padding`), or `None` if the
/// sizes overflow `usize`.
pub fn encrypted_padding(data_len: usize) -> Option<usize> {
    const MIN_PADDING: usize = 1;
    let chunks = div_ceil(data_len, STREAM_CHUNK_SIZE);
    let enc_size = data_len
        .checked_add(STREAM_PREFIX_LEN + MIN_PADDING)?
        .checked_add(chunks.checked_mul(STREAM_CHUNK_OVERHEAD)?)?;
    let factor = bit_floor(enc_size.max(131_072)) >> 5;
    let padded = enc_size.div_ceil(factor).checked_mul(factor)?;
    let padding = padded - enc_size + MIN_PADDING;
    // Every whole chunk of padding brings its own tag+MAC, counted as part of the padding.
    let mut implicit = (padding / STREAM_ENCRYPTED_CHUNK_SIZE) * STREAM_CHUNK_OVERHEAD;
    // And so does a remainder that spills past the data's last chunk.
    let free = chunks * STREAM_CHUNK_SIZE - data_len;
    if padding % STREAM_ENCRYPTED_CHUNK_SIZE > free {
        implicit += STREAM_CHUNK_OVERHEAD;
    }
    // Never negative or zero for any length (checked for every length up to 10.3 MB).
    padding.checked_sub(implicit).filter(|&p| p >= MIN_PADDING)
}

/// The exact size of the streaming encryption of `data_len` bytes (libsession
/// `encrypted_size`): 4096 for 0–4053 bytes, 8192 for 4054–8149, …, 10,223,616 for
/// [`MAX_REGULAR_SIZE`]. `None` if it overflows `usize`.
pub fn encrypted_size(data_len: usize) -> Option<usize> {
    let padded = data_len.checked_add(encrypted_padding(data_len)?)?;
    let tags = div_ceil(padded, STREAM_CHUNK_SIZE).checked_mul(STREAM_CHUNK_OVERHEAD)?;
    padded.checked_add(tags)?.checked_add(STREAM_PREFIX_LEN)
}

/// The largest plaintext a streaming blob of `encrypted_len` bytes can hold (libsession
/// `decrypted_max_size`; the real size is usually smaller because of the padding), or `None`
/// if the blob is too short to be one.
pub fn decrypted_max_size(encrypted_len: usize) -> Option<usize> {
    let body = encrypted_len.checked_sub(STREAM_PREFIX_LEN + 1)?;
    let overhead = div_ceil(body, STREAM_ENCRYPTED_CHUNK_SIZE) * STREAM_CHUNK_OVERHEAD;
    body.checked_sub(overhead)
}

/// Whether `total` is a size the streaming padding can produce (a multiple of
/// `bit_floor(max(total − 1, 131072)) / 32`, so a multiple of 4096 at least). Used only to
/// tell a truncated download from an altered one.
fn is_bucket_size(total: usize) -> bool {
    if total < 4096 {
        return false;
    }
    let factor = bit_floor((total - 1).max(131_072)) >> 5;
    total.is_multiple_of(factor)
}

fn check_plain_size(len: usize, allow_large: bool) -> Result<usize> {
    if len > MAX_REGULAR_SIZE && !allow_large {
        return Err(AttachmentError::TooLarge {
            size: len,
            max: MAX_REGULAR_SIZE,
        });
    }
    encrypted_size(len).ok_or(AttachmentError::TooLarge {
        size: len,
        max: MAX_REGULAR_SIZE,
    })
}

/// Incremental streaming encryption (phase 2 of a two-pass file encryption): created with
/// the key and the exact data length, fed the data in any pieces, it appends the blob to the
/// caller's buffer chunk by chunk (`'S'` and the header first).
pub struct StreamEncryptor {
    push: PushStream,
    header: [u8; STREAM_HEADER_LEN],
    started: bool,
    /// Plaintext of the chunk being assembled (≤ 32 KiB).
    chunk: Vec<u8>,
    /// Length of the whole plaintext stream, padding included.
    total: usize,
    /// Stream bytes already sealed into chunks.
    sealed: usize,
    padding: usize,
    declared: usize,
    given: usize,
    encrypted_len: usize,
    done: bool,
}

impl fmt::Debug for StreamEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("declared", &self.declared)
            .field("given", &self.given)
            .field("encrypted_len", &self.encrypted_len)
            .finish_non_exhaustive()
    }
}

impl StreamEncryptor {
    /// Prepares the encryption of exactly `data_len` bytes under `key`. Without
    /// `allow_large`, at most [`MAX_REGULAR_SIZE`] bytes (what onion requests can carry).
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`] if `data_len` is over the limit.
    pub fn new(key: &StreamKey, data_len: usize, allow_large: bool) -> Result<Self> {
        let encrypted_len = check_plain_size(data_len, allow_large)?;
        let padding = encrypted_padding(data_len).ok_or(AttachmentError::TooLarge {
            size: data_len,
            max: MAX_REGULAR_SIZE,
        })?;
        Ok(Self {
            push: PushStream::with_header(key.key.as_bytes(), &key.header),
            header: key.header,
            started: false,
            chunk: Vec::with_capacity(STREAM_CHUNK_SIZE.min(padding + data_len)),
            total: padding + data_len,
            sealed: 0,
            padding,
            declared: data_len,
            given: 0,
            encrypted_len,
            done: false,
        })
    }

    /// The size of the finished blob ([`encrypted_size`] of the data length).
    pub fn encrypted_len(&self) -> usize {
        self.encrypted_len
    }

    fn seal_if_complete(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let end = self.sealed + self.chunk.len();
        let tag = if end == self.total {
            Tag::Final
        } else if self.chunk.len() == STREAM_CHUNK_SIZE {
            Tag::Message
        } else {
            return Ok(());
        };
        self.push
            .push_into(&self.chunk, &[], tag, out)
            .map_err(|_| AttachmentError::TooLarge {
                size: self.chunk.len(),
                max: STREAM_CHUNK_SIZE,
            })?;
        self.sealed = end;
        self.chunk.clear();
        self.done = tag == Tag::Final;
        Ok(())
    }

    /// Emits `'S' ‖ header` and feeds the padding, once.
    fn start(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        out.push(STREAM_FORMAT_TAG);
        out.extend_from_slice(&self.header);
        let mut zeros = self.padding - 1;
        while zeros > 0 {
            let take = (STREAM_CHUNK_SIZE - self.chunk.len()).min(zeros);
            self.chunk.resize(self.chunk.len() + take, 0);
            zeros -= take;
            self.seal_if_complete(out)?;
        }
        self.chunk.push(0x01);
        self.seal_if_complete(out)
    }

    /// Encrypts the next piece of data, appending any completed chunks to `out`.
    ///
    /// # Errors
    /// [`AttachmentError::LengthMismatch`] if more data arrives than was declared.
    pub fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if data.len() > self.declared - self.given {
            return Err(AttachmentError::LengthMismatch {
                declared: self.declared,
                given: self.given.saturating_add(data.len()),
            });
        }
        self.start(out)?;
        self.given += data.len();
        while !data.is_empty() {
            let take = (STREAM_CHUNK_SIZE - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.seal_if_complete(out)?;
        }
        Ok(())
    }

    /// Finishes the blob (for empty data this writes the whole padding-only stream).
    ///
    /// # Errors
    /// [`AttachmentError::LengthMismatch`] if less data was given than declared.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.start(out)?;
        if self.given != self.declared || !self.done {
            return Err(AttachmentError::LengthMismatch {
                declared: self.declared,
                given: self.given,
            });
        }
        Ok(())
    }
}

/// A streaming-format blob and the key that decrypts it.
#[derive(Clone, Debug)]
pub struct StreamEncrypted {
    /// `'S' ‖ header ‖ chunks`: the bytes to upload.
    pub blob: Vec<u8>,
    /// The key (`AttachmentPointer.key`, or the profile-picture key in configs).
    pub key: AttachmentKey,
}

/// Encrypts `data` deterministically (libsession `attachment::encrypt`): the same `seed`,
/// `data`, `domain` and `kdf` always give the same blob and key.
///
/// # Errors
/// [`AttachmentError::TooLarge`] if `data` is over [`MAX_REGULAR_SIZE`] without
/// `allow_large`.
pub fn encrypt_stream(
    seed: &[u8; 32],
    data: &[u8],
    domain: Domain,
    kdf: KeyDerivation,
    allow_large: bool,
) -> Result<StreamEncrypted> {
    // Check the size before hashing a possibly huge input.
    check_plain_size(data.len(), allow_large)?;
    let key = derive_stream_key(seed, data, domain, kdf);
    encrypt_stream_with(&key, data, allow_large)
}

/// Encrypts `data` in the streaming format under a given header and key (the building block
/// of [`encrypt_stream`]; with [`StreamKey::random`] it gives non-deterministic encryption).
///
/// # Errors
/// [`AttachmentError::TooLarge`] if `data` is over [`MAX_REGULAR_SIZE`] without
/// `allow_large`.
pub fn encrypt_stream_with(
    key: &StreamKey,
    data: &[u8],
    allow_large: bool,
) -> Result<StreamEncrypted> {
    let mut enc = StreamEncryptor::new(key, data.len(), allow_large)?;
    let mut blob = Vec::with_capacity(enc.encrypted_len());
    enc.update(data, &mut blob)?;
    enc.finish(&mut blob)?;
    Ok(StreamEncrypted {
        blob,
        key: key.key.clone(),
    })
}

/// Decrypts a whole streaming blob (libsession `attachment::decrypt`).
///
/// # Errors
/// As [`StreamDecryptor::update`] and [`StreamDecryptor::finish`].
pub fn decrypt_stream(blob: &[u8], key: &AttachmentKey, allow_large: bool) -> Result<Vec<u8>> {
    if blob.len() > MAX_REGULAR_ENCRYPTED_SIZE && !allow_large {
        return Err(AttachmentError::TooLarge {
            size: blob.len(),
            max: MAX_REGULAR_ENCRYPTED_SIZE,
        });
    }
    let mut out = Vec::with_capacity(decrypted_max_size(blob.len()).unwrap_or(0));
    let mut dec = StreamDecryptor::new(key, allow_large);
    dec.update(blob, &mut out)?;
    dec.finish(&mut out)?;
    Ok(out)
}

/// Incremental decryption of a streaming blob: feed the download in pieces of any size and
/// get the plaintext as soon as each 32 KiB chunk is authenticated, so that a large file
/// never exists twice in memory. At most one encrypted chunk is buffered.
///
/// Output appended before an error comes from chunks that did authenticate, but the whole
/// attachment is not valid: discard it (and any file written from it) on error.
pub struct StreamDecryptor {
    key: AttachmentKey,
    allow_large: bool,
    pull: Option<PullStream>,
    prefix: Vec<u8>,
    chunk: Vec<u8>,
    chunk_index: usize,
    received: usize,
    depadded: bool,
    done: bool,
    failed: Option<AttachmentError>,
}

impl fmt::Debug for StreamDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecryptor")
            .field("received", &self.received)
            .field("chunk_index", &self.chunk_index)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl StreamDecryptor {
    /// Starts decrypting with `key`. Without `allow_large`, input beyond
    /// [`MAX_REGULAR_ENCRYPTED_SIZE`] bytes is refused as soon as it arrives.
    pub fn new(key: &AttachmentKey, allow_large: bool) -> Self {
        Self {
            key: key.clone(),
            allow_large,
            pull: None,
            prefix: Vec::with_capacity(STREAM_PREFIX_LEN),
            chunk: Vec::new(),
            chunk_index: 0,
            received: 0,
            depadded: false,
            done: false,
            failed: None,
        }
    }

    /// Whether the FINAL chunk has been decrypted (only [`Self::finish`] remains).
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// Encrypted bytes fed so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Feeds the next piece of the blob, appending newly decrypted plaintext to `out`.
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`], [`AttachmentError::UnknownFormat`],
    /// [`AttachmentError::WrongKeyOrCorrupt`], [`AttachmentError::Tampered`],
    /// [`AttachmentError::TrailingData`], [`AttachmentError::InvalidPadding`] or
    /// [`AttachmentError::Malformed`]; once an error is returned, every later call returns it
    /// again.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.update_inner(data, out);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn update_inner(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.done {
            return Err(AttachmentError::TrailingData {
                chunk: self.chunk_index - 1,
            });
        }
        self.received = self.received.saturating_add(data.len());
        if self.received > MAX_REGULAR_ENCRYPTED_SIZE && !self.allow_large {
            return Err(AttachmentError::TooLarge {
                size: self.received,
                max: MAX_REGULAR_ENCRYPTED_SIZE,
            });
        }
        if self.pull.is_none() {
            let take = (STREAM_PREFIX_LEN - self.prefix.len()).min(data.len());
            self.prefix.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(&tag) = self.prefix.first()
                && tag != STREAM_FORMAT_TAG
            {
                return Err(AttachmentError::UnknownFormat { tag });
            }
            if self.prefix.len() < STREAM_PREFIX_LEN {
                return Ok(());
            }
            let mut header = [0u8; STREAM_HEADER_LEN];
            header.copy_from_slice(&self.prefix[1..]);
            self.pull = Some(PullStream::new(self.key.as_bytes(), &header));
        }
        while !data.is_empty() {
            if self.done {
                return Err(AttachmentError::TrailingData {
                    chunk: self.chunk_index - 1,
                });
            }
            if self.chunk.is_empty() && data.len() >= STREAM_ENCRYPTED_CHUNK_SIZE {
                // A whole chunk in the input: decrypt it without copying.
                let (whole, rest) = data.split_at(STREAM_ENCRYPTED_CHUNK_SIZE);
                self.process(whole, false, out)?;
                data = rest;
                continue;
            }
            let take = (STREAM_ENCRYPTED_CHUNK_SIZE - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.chunk.len() == STREAM_ENCRYPTED_CHUNK_SIZE {
                let chunk = std::mem::take(&mut self.chunk);
                let r = self.process(&chunk, false, out);
                self.chunk = chunk;
                self.chunk.clear();
                r?;
            }
        }
        Ok(())
    }

    /// Ends the input: decrypts the last (short) chunk and checks that the stream ended
    /// properly.
    ///
    /// # Errors
    /// Any error of [`Self::update`], and [`AttachmentError::Truncated`] if the data stopped
    /// before the FINAL chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let truncated = AttachmentError::Truncated {
            received: self.received,
        };
        if self.pull.is_none() {
            return Err(truncated);
        }
        if !self.done {
            // A last chunk needs its tag, MAC and at least one byte.
            if self.chunk.len() <= STREAM_CHUNK_OVERHEAD {
                return Err(truncated);
            }
            let chunk = std::mem::take(&mut self.chunk);
            self.process(&chunk, true, out)?;
            if !self.done {
                return Err(truncated);
            }
        }
        if !self.depadded {
            return Err(AttachmentError::InvalidPadding {
                reason: "the stream ended inside the padding (no 0x01 byte)",
            });
        }
        Ok(())
    }

    /// Classifies a short last chunk that does not authenticate when the blob's length is not
    /// one the padding produces: if the blob cut back to the bucket size below ends in a
    /// valid FINAL chunk, bytes were appended; otherwise the download was cut short.
    fn short_last_chunk_failure(&self, chunk: &[u8]) -> AttachmentError {
        let received = self.received;
        let chunk_start = received - chunk.len();
        let factor = bit_floor(received.saturating_sub(1).max(131_072)) >> 5;
        let bucket_below = received - received % factor;
        if let Some(pull) = &self.pull
            && bucket_below > chunk_start + STREAM_CHUNK_OVERHEAD
        {
            let mut probe = pull.clone();
            let mut scratch = Vec::new();
            if let Ok(Tag::Final) =
                probe.pull_into(&chunk[..bucket_below - chunk_start], &[], &mut scratch)
            {
                return AttachmentError::TrailingData {
                    chunk: self.chunk_index,
                };
            }
        }
        AttachmentError::Truncated { received }
    }

    /// Authenticates, decrypts and de-pads one chunk.
    fn process(&mut self, chunk: &[u8], last_at_finish: bool, out: &mut Vec<u8>) -> Result<()> {
        let Some(pull) = self.pull.as_mut() else {
            return Err(AttachmentError::Truncated {
                received: self.received,
            });
        };
        let start = out.len();
        let tag = match pull.pull_into(chunk, &[], out) {
            Ok(tag) => tag,
            Err(CryptoError::DecryptionFailed { .. }) => {
                return Err(if last_at_finish && !is_bucket_size(self.received) {
                    self.short_last_chunk_failure(chunk)
                } else if self.chunk_index == 0 {
                    AttachmentError::WrongKeyOrCorrupt
                } else {
                    AttachmentError::Tampered {
                        chunk: self.chunk_index,
                    }
                });
            }
            Err(CryptoError::Malformed { .. }) => {
                return Err(AttachmentError::Malformed {
                    reason: "a chunk carries an undefined secretstream tag",
                });
            }
            Err(_) => {
                return Err(AttachmentError::Truncated {
                    received: self.received,
                });
            }
        };
        if !self.depadded {
            match out[start..].iter().position(|&b| b != 0) {
                None => out.truncate(start),
                Some(i) if out[start + i] == 0x01 => {
                    out.drain(start..=start + i);
                    self.depadded = true;
                }
                Some(_) => {
                    out.truncate(start);
                    return Err(AttachmentError::InvalidPadding {
                        reason: "a byte other than 0x00 or 0x01 before the data",
                    });
                }
            }
        }
        self.chunk_index += 1;
        self.done = tag == Tag::Final;
        Ok(())
    }
}

// ───────────────────────────── file-server ids ─────────────────────────────

/// BLAKE2b salt of content-hash file ids (`"SessionFileSvr\0\0"`).
pub const FILE_ID_SALT: &[u8; 16] = b"SessionFileSvr\0\0";

/// The file server's content-hash id of an upload (used when it runs without
/// `BACKWARDS_COMPAT_IDS`): URL-safe base64 of the 33-byte BLAKE2b of the content with salt
/// [`FILE_ID_SALT`] — 44 characters, identical for identical uploads.
pub fn file_server_content_id(content: &[u8]) -> String {
    let mut h = match Blake2b::with_params(33, &[], FILE_ID_SALT, &[]) {
        Ok(h) => h,
        Err(_) => unreachable!("constant BLAKE2b parameters are valid"),
    };
    h.update(content);
    URL_SAFE_NO_PAD.encode(h.finalize_array::<33>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_the_spec() {
        for (n, e) in [
            (0, 4096),
            (4053, 4096),
            (4054, 8192),
            (33_333, 36_864),
            (MAX_REGULAR_SIZE, MAX_REGULAR_ENCRYPTED_SIZE),
        ] {
            assert_eq!(encrypted_size(n), Some(e), "size {n}");
        }
        assert!(encrypted_size(MAX_REGULAR_SIZE + 1).unwrap() > MAX_REGULAR_ENCRYPTED_SIZE);
        assert_eq!(encrypted_size(usize::MAX), None);
        assert_eq!(decrypted_max_size(10), None);
    }

    #[test]
    fn bucket_sizes_are_recognised() {
        for n in (0..400_000).step_by(997).chain([MAX_REGULAR_SIZE]) {
            let e = encrypted_size(n).unwrap();
            assert!(is_bucket_size(e), "encrypted_size({n}) = {e}");
            assert!(!is_bucket_size(e - 1));
            assert!(decrypted_max_size(e).unwrap() >= n);
        }
    }

    #[test]
    fn legacy_padding_buckets() {
        assert_eq!(legacy_padded_size(0), 541);
        assert_eq!(legacy_padded_size(1), 541);
        assert_eq!(legacy_padded_size(542), 568);
        assert_eq!(legacy_padded_size(LEGACY_MAX_SIZE), LEGACY_MAX_SIZE);
        assert_eq!(legacy_padded_size(9_999_000), LEGACY_MAX_SIZE);
        for n in 1..20_000 {
            assert!(legacy_padded_size(n) >= n);
        }
    }
}
