//! Encrypting an attachment before upload and checking + decrypting it after download
//! (client-protocol §7): new attachments use the deterministic streaming format; both
//! it and the legacy AES-CBC + HMAC format are read.

use session_crypto::attachments::{
    self as fmt, AttachmentError, AttachmentKey, Domain, KeyDerivation, LegacyKey, StreamDecryptor,
    StreamEncryptor, StreamKeyHasher,
};
use session_crypto::hash::sha256;

use super::pointer::Attachment;
use super::{Progress, Stage};

/// Plaintext is fed to the cipher in pieces of this size so progress can be shown.
const PIECE: usize = 1 << 20;

/// An encrypted attachment: what to upload and what goes in the pointer.
#[derive(Clone)]
pub struct Encrypted {
    /// The blob to upload.
    pub blob: Vec<u8>,
    /// The key for the pointer (32 bytes: streaming format).
    pub key: Vec<u8>,
    /// SHA-256 of `blob`.
    pub digest: [u8; 32],
    /// The plaintext size.
    pub size: u64,
}

impl std::fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encrypted")
            .field("blob_len", &self.blob.len())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The encrypted size of `len` plaintext bytes in the streaming format (`None` if the
/// format cannot hold that much).
pub fn encrypted_size(len: usize) -> Option<usize> {
    fmt::encrypted_size(len)
}

/// Encrypts `data` in the deterministic streaming format with a key derived from the
/// sender's `seed` and the content (libsession's current `Encryptor`), reporting
/// progress in `Stage::Encrypting`.
///
/// # Errors
/// [`AttachmentError::TooLarge`] beyond the format's regular maximum.
pub fn encrypt(
    seed: &[u8; 32],
    data: &[u8],
    progress: &mut dyn FnMut(Progress),
) -> Result<Encrypted, AttachmentError> {
    let total = data.len() as u64;
    let mut hasher = StreamKeyHasher::new(seed, Domain::Attachment, KeyDerivation::default());
    for piece in data.chunks(PIECE) {
        hasher.update(piece);
    }
    let key = hasher.finish();
    let mut enc = StreamEncryptor::new(&key, data.len(), false)?;
    let mut blob = Vec::with_capacity(enc.encrypted_len());
    let mut done = 0u64;
    progress(Progress::new(Stage::Encrypting, 0, total));
    for piece in data.chunks(PIECE) {
        enc.update(piece, &mut blob)?;
        done += piece.len() as u64;
        progress(Progress::new(Stage::Encrypting, done, total));
    }
    enc.finish(&mut blob)?;
    let digest = sha256(&[&blob]);
    Ok(Encrypted {
        key: key.key().as_bytes().to_vec(),
        blob,
        digest,
        size: total,
    })
}

/// Checks a downloaded `blob` against `pointer` and decrypts it: the digest (when the
/// pointer has one) first, then the format named by the key length (32: streaming,
/// 64: legacy), then the plaintext size. Reports progress in `Stage::Decrypting`.
///
/// # Errors
/// [`AttachmentError::DigestMismatch`] for a blob that is not the one described,
/// [`AttachmentError::WrongKeyOrCorrupt`]/[`AttachmentError::Tampered`] for a wrong key
/// or altered data, [`AttachmentError::Truncated`] for a cut-off download,
/// [`AttachmentError::Malformed`] when the size differs from the pointer's.
pub fn decrypt(
    blob: &[u8],
    pointer: &Attachment,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, AttachmentError> {
    let digest = match &pointer.digest {
        Some(d) => {
            let d: [u8; 32] = d
                .as_slice()
                .try_into()
                .map_err(|_| AttachmentError::Malformed {
                    reason: "the pointer's digest is not 32 bytes",
                })?;
            if sha256(&[blob]) != d {
                return Err(AttachmentError::DigestMismatch);
            }
            Some(d)
        }
        None => None,
    };
    let size = usize::try_from(pointer.size).unwrap_or(usize::MAX);
    let total = blob.len() as u64;
    progress(Progress::new(Stage::Decrypting, 0, total));
    let out = match pointer.key.len() {
        32 => {
            let key = AttachmentKey::from_bytes(&pointer.key)?;
            let mut dec = StreamDecryptor::new(&key, false);
            let mut out = Vec::with_capacity(size.min(fmt::MAX_REGULAR_SIZE));
            let mut done = 0u64;
            for piece in blob.chunks(PIECE) {
                dec.update(piece, &mut out)?;
                done += piece.len() as u64;
                progress(Progress::new(Stage::Decrypting, done, total));
            }
            dec.finish(&mut out)?;
            out
        }
        64 => {
            let key = LegacyKey::from_bytes(&pointer.key)?;
            let out = fmt::legacy_decrypt(blob, &key, digest.as_ref(), Some(size))?;
            progress(Progress::new(Stage::Decrypting, total, total));
            out
        }
        got => {
            return Err(AttachmentError::InvalidKeyLength { expected: 32, got });
        }
    };
    // A legacy pointer without a size (0) keeps the padded data, as desktop does.
    if out.len() != size && !(pointer.key.len() == 64 && size == 0) {
        return Err(AttachmentError::Malformed {
            reason: "the decrypted size differs from the size the sender gave",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    fn pointer(e: &Encrypted) -> Attachment {
        Attachment {
            url: "http://h/file/1#d".into(),
            id: 1,
            key: e.key.clone(),
            digest: Some(e.digest.to_vec()),
            size: e.size,
            content_type: None,
            file_name: None,
        }
    }

    #[test]
    fn stream_round_trip_with_progress_and_every_failure() {
        let seed = [3u8; 32];
        let data: Vec<u8> = (0..(PIECE + 12_345)).map(|i| (i % 251) as u8).collect();
        let mut seen = Vec::new();
        let e = encrypt(&seed, &data, &mut |p| seen.push(p)).unwrap();
        assert_eq!(e.blob.len(), encrypted_size(data.len()).unwrap());
        assert_eq!(e.blob[0], b'S');
        assert_eq!(seen.last().unwrap().done, data.len() as u64);
        // Deterministic: the same sender and content give the same blob.
        assert_eq!(encrypt(&seed, &data, &mut |_| {}).unwrap().blob, e.blob);
        let p = pointer(&e);
        assert_eq!(decrypt(&e.blob, &p, &mut |_| {}).unwrap(), data);

        // Tampered blob: the digest catches it first; without a digest the MAC does.
        let mut bad = e.blob.clone();
        bad[40_000] ^= 1;
        assert_eq!(
            decrypt(&bad, &p, &mut |_| {}).unwrap_err(),
            AttachmentError::DigestMismatch
        );
        let mut no_digest = p.clone();
        no_digest.digest = None;
        assert!(matches!(
            decrypt(&bad, &no_digest, &mut |_| {}).unwrap_err(),
            AttachmentError::Tampered { .. }
        ));
        // Truncated download.
        let cut = &e.blob[..e.blob.len() - 100];
        assert!(matches!(
            decrypt(cut, &no_digest, &mut |_| {}).unwrap_err(),
            AttachmentError::Truncated { .. }
        ));
        // Wrong key.
        let mut wrong = no_digest.clone();
        wrong.key = vec![9; 32];
        assert_eq!(
            decrypt(&e.blob, &wrong, &mut |_| {}).unwrap_err(),
            AttachmentError::WrongKeyOrCorrupt
        );
        // A size that differs from the content.
        let mut lying = p.clone();
        lying.size += 1;
        assert!(matches!(
            decrypt(&e.blob, &lying, &mut |_| {}).unwrap_err(),
            AttachmentError::Malformed { .. }
        ));
        // A key of neither length.
        let mut odd = p;
        odd.key = vec![1; 16];
        assert!(matches!(
            decrypt(&e.blob, &odd, &mut |_| {}).unwrap_err(),
            AttachmentError::InvalidKeyLength { .. }
        ));
    }

    #[test]
    fn empty_and_legacy_attachments_decrypt() {
        let e = encrypt(&[1; 32], b"", &mut |_| {}).unwrap();
        assert_eq!(e.size, 0);
        assert!(
            decrypt(&e.blob, &pointer(&e), &mut |_| {})
                .unwrap()
                .is_empty()
        );

        let data = b"a legacy attachment".to_vec();
        let l = fmt::legacy_encrypt(&data, true).unwrap();
        let p = Attachment {
            url: "http://h/file/2".into(),
            id: 2,
            key: l.key.as_bytes().to_vec(),
            digest: Some(l.digest.to_vec()),
            size: l.size as u64,
            content_type: None,
            file_name: None,
        };
        assert_eq!(decrypt(&l.blob, &p, &mut |_| {}).unwrap(), data);
        let mut bad = l.blob.clone();
        bad[20] ^= 1;
        assert_eq!(
            decrypt(&bad, &p, &mut |_| {}).unwrap_err(),
            AttachmentError::DigestMismatch
        );
    }
}
