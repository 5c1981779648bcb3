//! Talking to a file server (community-server spec §11.1): `POST /file` with the
//! encrypted blob, `GET /file/<id>` to fetch one, through an onion path (or directly,
//! for local servers and benchmarks).

use serde_json::Value;

use super::pointer::DownloadUrl;
use super::{Progress, Stage};
use crate::community::ServerUrl;
use crate::community::api::{self, ApiReply, ApiRequest, Route};
use crate::config::FileServerSettings;
use crate::error::{ClientError, Result};

/// Largest upload the reference file server and clients accept (10,000,000 bytes).
pub const MAX_UPLOAD: usize = 10_000_000;

/// A stored upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    /// The file id (decimal, or a 44-character content hash).
    pub id: String,
    /// When the server will delete it (Unix seconds), if it said.
    pub expires: Option<f64>,
}

/// A file server and how to reach it.
#[derive(Debug, Clone)]
pub struct FileServerClient {
    server: ServerUrl,
    key: [u8; 32],
    route: Route,
}

impl FileServerClient {
    /// The server at `server` with X25519 onion key `key`, reached over `route`.
    pub fn new(server: ServerUrl, key: [u8; 32], route: Route) -> Self {
        Self { server, key, route }
    }

    /// The server a network file names in `[file_server]`.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a malformed table.
    pub fn from_settings(settings: &FileServerSettings, route: Route) -> Result<Self> {
        let bad = |reason: String| ClientError::Config {
            file: "network file".into(),
            reason: format!("file_server.{reason}"),
        };
        let (url, key) = settings.parse().map_err(bad)?;
        let server = ServerUrl::parse(&format!(
            "{}://{}:{}",
            if url.tls { "https" } else { "http" },
            url.host,
            url.port
        ))
        .map_err(|e| bad(format!("url: {e}")))?;
        Ok(Self::new(server, key, route))
    }

    /// The server for a download URL: its own `#p=` key, else `known`'s key when it
    /// is the same server.
    ///
    /// # Errors
    /// [`ClientError::FileServer`] when the URL names a server whose key is unknown.
    pub fn for_download(
        url: &DownloadUrl,
        known: Option<&FileServerClient>,
        route: Route,
    ) -> Result<Self> {
        let key = match (url.server_key, known) {
            (Some(k), _) => k,
            (None, Some(k)) if k.server == url.server => k.key,
            _ => {
                return Err(ClientError::FileServer {
                    server: url.server.base_url(),
                    reason: "its onion key is unknown (the attachment URL has no #p= key and \
                             it is not the file server in the network file)"
                        .into(),
                });
            }
        };
        Ok(Self::new(url.server.clone(), key, route))
    }

    /// The server's base URL.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The server's X25519 onion key.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The URL to put in an attachment pointer for file `id` (with the server's key,
    /// and `d` for the streaming format).
    pub fn download_url(&self, id: &str, stream: bool) -> DownloadUrl {
        DownloadUrl {
            server: self.server.clone(),
            file_id: id.to_owned(),
            server_key: Some(self.key),
            stream,
        }
    }

    fn refused(&self, reason: String) -> ClientError {
        ClientError::FileServer {
            server: self.server.base_url(),
            reason,
        }
    }

    /// Uploads `blob` (already encrypted: the server stores it as it is).
    ///
    /// # Errors
    /// [`ClientError::FileServer`] for a blob over [`MAX_UPLOAD`] (checked before
    /// sending) or a refusal; network errors.
    pub async fn upload(
        &self,
        blob: Vec<u8>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Uploaded> {
        let total = blob.len() as u64;
        if blob.len() > MAX_UPLOAD {
            return Err(self.refused(format!(
                "the encrypted file is {total} bytes; file servers take at most {MAX_UPLOAD}"
            )));
        }
        progress(Progress::new(Stage::Uploading, 0, total));
        let req = ApiRequest {
            method: "POST",
            path: "/file".into(),
            query: String::new(),
            body: Some((blob, "application/octet-stream")),
        };
        let reply = api::send(&self.route, &self.server, &self.key, &req, None).await?;
        match reply.status {
            200 | 201 => {}
            413 => {
                return Err(self.refused(format!(
                    "refused the upload of {total} bytes as too large (HTTP 413)"
                )));
            }
            s => return Err(self.refused(format!("refused the upload: {}", describe(s, &reply)))),
        }
        let v: Value = reply.json()?;
        let id = match v.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(ClientError::BadReply {
                    what: "file server upload reply",
                    reason: format!("no \"id\" in {v}"),
                });
            }
        };
        progress(Progress::new(Stage::Uploading, total, total));
        Ok(Uploaded {
            id,
            expires: v.get("expires").and_then(Value::as_f64),
        })
    }

    /// Downloads file `id`.
    ///
    /// # Errors
    /// [`ClientError::FileServer`] when the file is gone (expired) or refused; network
    /// errors.
    pub async fn download(&self, id: &str, progress: &mut dyn FnMut(Progress)) -> Result<Vec<u8>> {
        progress(Progress::new(Stage::Downloading, 0, 0));
        let req = ApiRequest {
            method: "GET",
            path: format!("/file/{id}"),
            query: String::new(),
            body: None,
        };
        let reply = api::send(&self.route, &self.server, &self.key, &req, None).await?;
        match reply.status {
            200 => {
                let n = reply.body.len() as u64;
                progress(Progress::new(Stage::Downloading, n, n));
                Ok(reply.body)
            }
            404 => Err(self.refused(format!(
                "file {id} is not there: it expired (files live about three weeks) or was \
                 never uploaded"
            ))),
            s => Err(self.refused(format!(
                "refused the download of file {id}: {}",
                describe(s, &reply)
            ))),
        }
    }
}

fn describe(status: u16, reply: &ApiReply) -> String {
    let text = reply.text();
    if text.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", text.trim())
    }
}
