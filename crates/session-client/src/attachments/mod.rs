//! Attachments (client-protocol §7): files are encrypted on this device, uploaded as
//! opaque blobs to a file server through an onion path, and described in the message
//! by an [`Attachment`] pointer (URL, key, digest, size, type, name); the receiver
//! downloads the blob, checks it against the pointer and decrypts it.
//!
//! * [`pointer`]: the pointer and its protobuf form, and the download URL.
//! * [`crypt`]: encryption (the deterministic streaming format) and checked decryption
//!   (streaming and legacy formats).
//! * [`transfer`]: the file server's `POST /file` and `GET /file/<id>`.
//!
//! [`upload`] and [`download`] put them together; the messenger uses them to send and
//! save files (`Messenger::send_file`, `Messenger::fetch_attachment`).

pub mod crypt;
pub mod pointer;
pub mod transfer;

pub use pointer::{Attachment, DownloadUrl};
pub use transfer::{FileServerClient, MAX_UPLOAD, Uploaded};

use crate::community::Route;
use crate::error::{ClientError, Result};

/// A step of moving an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Encrypting on this device.
    Encrypting,
    /// Sending the blob to the file server.
    Uploading,
    /// Fetching the blob.
    Downloading,
    /// Checking and decrypting it.
    Decrypting,
}

impl Stage {
    /// A word for progress displays.
    pub fn label(self) -> &'static str {
        match self {
            Self::Encrypting => "encrypting",
            Self::Uploading => "uploading",
            Self::Downloading => "downloading",
            Self::Decrypting => "decrypting",
        }
    }
}

/// How far a step is: `done` of `total` bytes (`total` 0: not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The step.
    pub stage: Stage,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all (0 if unknown).
    pub total: u64,
}

impl Progress {
    /// A progress report.
    pub fn new(stage: Stage, done: u64, total: u64) -> Self {
        Self { stage, done, total }
    }
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Its contents.
    pub data: Vec<u8>,
    /// The name to show the recipient.
    pub file_name: Option<String>,
    /// Its MIME type.
    pub content_type: Option<String>,
}

/// The largest file that fits in one upload once encrypted in the streaming format.
pub fn max_file_size() -> usize {
    // encrypted_size grows with the length: find the largest length that fits.
    let (mut lo, mut hi) = (0usize, MAX_UPLOAD);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match crypt::encrypted_size(mid) {
            Some(n) if n <= MAX_UPLOAD => lo = mid,
            _ => hi = mid - 1,
        }
    }
    lo
}

/// Encrypts `file` under a key derived from `seed` (the sender's Ed25519 seed) and its
/// content, uploads it to `server` and returns the pointer to send.
///
/// # Errors
/// [`ClientError::BadInput`] for a file over [`max_file_size`]; upload errors.
pub async fn upload(
    seed: &[u8; 32],
    file: &NewFile,
    server: &FileServerClient,
    progress: &mut dyn FnMut(Progress),
) -> Result<Attachment> {
    let max = max_file_size();
    if file.data.len() > max {
        return Err(ClientError::BadInput {
            what: "attachment",
            reason: format!(
                "the file is {} bytes; attachments can be at most {max} bytes ({:.1} MB)",
                file.data.len(),
                max as f64 / 1e6
            ),
        });
    }
    let enc = crypt::encrypt(seed, &file.data, progress)?;
    let uploaded = server.upload(enc.blob, progress).await?;
    Ok(Attachment {
        url: server.download_url(&uploaded.id, true).to_string(),
        id: uploaded.id.parse().unwrap_or(0),
        key: enc.key,
        digest: Some(enc.digest.to_vec()),
        size: enc.size,
        content_type: file.content_type.clone(),
        file_name: file.file_name.clone(),
    })
}

/// Downloads the blob `pointer` names, checks and decrypts it. `known` is the network's
/// file server (whose key applies to URLs without `#p=`).
///
/// # Errors
/// A bad URL, an unknown server key, download errors, and [`ClientError::Attachment`]
/// when the blob fails its checks (tampered, truncated, wrong key, wrong size).
pub async fn download(
    pointer: &Attachment,
    known: Option<&FileServerClient>,
    route: Route,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>> {
    let url = DownloadUrl::parse(&pointer.url)?;
    let server = FileServerClient::for_download(&url, known, route)?;
    let blob = server.download(&url.file_id, progress).await?;
    Ok(crypt::decrypt(&blob, pointer, progress)?)
}
