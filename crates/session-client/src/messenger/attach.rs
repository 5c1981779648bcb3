//! Files in one-to-one messages: [`Messenger::send_file`] encrypts and uploads a file to
//! the network's file server and sends its pointer; [`Messenger::fetch_attachment`]
//! downloads and checks one that arrived.

use session_crypto::AccountId;

use super::{Messenger, Sent};
use crate::attachments::{self, FileServerClient, NewFile, Progress};
use crate::community::Route;
use crate::error::{ClientError, Result};
use crate::store::StoredMessage;

impl Messenger {
    /// The network's file server (`[file_server]` in the network file), reached through
    /// onion paths.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the network file names none.
    pub fn file_server(&self) -> Result<FileServerClient> {
        let settings = self
            .client()
            .network()
            .file_server
            .as_ref()
            .ok_or_else(|| ClientError::Config {
                file: "network file".into(),
                reason: "it has no [file_server] table, so attachments cannot be uploaded \
                         (a devnet writes one: is this network file from an older \
                         `session devnet`? restart it)"
                    .into(),
            })?;
        FileServerClient::from_settings(settings, Route::Onion(self.client().clone()))
    }

    /// Sends `file` to `to` with an optional caption: encrypts it (streaming format,
    /// key derived from our seed and the content), uploads it through an onion path and
    /// sends the message with its pointer, like [`Messenger::send_text`].
    ///
    /// # Errors
    /// [`ClientError::BadInput`] for a file too large to upload; upload and send errors
    /// (nothing is kept locally when either fails).
    pub async fn send_file(
        &self,
        to: &AccountId,
        file: &NewFile,
        caption: &str,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Sent> {
        super::check_recipient(to)?;
        let server = self.file_server()?;
        let seed = *self.keys().seed().as_bytes();
        let pointer = attachments::upload(&seed, file, &server, progress).await?;
        self.send_visible(to, caption, vec![pointer]).await
    }

    /// Downloads attachment `index` of `message` and returns its checked plaintext.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for a missing index; download errors;
    /// [`ClientError::Attachment`] when the blob fails its checks.
    pub async fn fetch_attachment(
        &self,
        message: &StoredMessage,
        index: usize,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Vec<u8>> {
        let pointer = message.attachments.get(index).ok_or_else(|| {
            ClientError::NotFound(format!(
                "the message has {} attachment(s); there is no number {}",
                message.attachments.len(),
                index + 1
            ))
        })?;
        let known = self.file_server().ok();
        let route = Route::Onion(self.client().clone());
        attachments::download(pointer, known.as_ref(), route, progress).await
    }
}
