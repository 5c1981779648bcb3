//! What a message says about an attachment: the `AttachmentPointer` (client-protocol
//! §3.4) and the download URL inside it (community-server spec §11.1).

use std::fmt;

use serde::{Deserialize, Serialize};
use session_wire::proto::session::AttachmentPointer;

use crate::community::ServerUrl;
use crate::error::{ClientError, Result};

/// One attachment of a message, as the sender described it. The key decrypts the blob
/// at `url`; `digest` (SHA-256 of the blob) and `size` (of the plaintext) let the
/// receiver check what it downloaded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where the encrypted blob is: `http://host[:port]/file/<id>` with an optional
    /// fragment (`#p=<server key>`, `d` for the streaming format).
    pub url: String,
    /// `AttachmentPointer.id`: the numeric file id (0 when the id is not numeric).
    pub id: u64,
    /// The decryption key: 32 bytes (streaming format) or 64 (legacy AES-CBC + HMAC);
    /// empty for a community file, which is stored in plaintext.
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// SHA-256 of the encrypted blob, when the sender gave it.
    #[serde(default, with = "opt_hex_bytes")]
    pub digest: Option<Vec<u8>>,
    /// The plaintext size in bytes.
    pub size: u64,
    /// MIME type, e.g. `image/jpeg`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The file name the sender gave.
    #[serde(default)]
    pub file_name: Option<String>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("content_type", &self.content_type)
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

impl Attachment {
    /// The protobuf pointer.
    pub fn to_proto(&self) -> AttachmentPointer {
        AttachmentPointer {
            id: self.id,
            content_type: self.content_type.clone(),
            key: Some(self.key.clone()),
            size: Some(u32::try_from(self.size).unwrap_or(u32::MAX)),
            digest: self.digest.clone(),
            file_name: self.file_name.clone(),
            url: Some(self.url.clone()),
            ..AttachmentPointer::default()
        }
    }

    /// Reads a received pointer; `None` for one without a URL (nothing to download).
    /// Community files have no key.
    pub fn from_proto(p: &AttachmentPointer) -> Option<Self> {
        let url = p.url.clone().filter(|u| !u.is_empty())?;
        let key = p.key.clone().unwrap_or_default();
        Some(Self {
            url,
            id: p.id,
            key,
            digest: p.digest.clone().filter(|d| !d.is_empty()),
            size: u64::from(p.size.unwrap_or(0)),
            content_type: p.content_type.clone().filter(|c| !c.is_empty()),
            file_name: p.file_name.clone().filter(|n| !n.is_empty()),
        })
    }

    /// A name to save it under: the sender's file name without any directory part (so a
    /// hostile name cannot escape the target directory), else `attachment`.
    pub fn safe_file_name(&self) -> String {
        let name = self
            .file_name
            .as_deref()
            .and_then(|n| n.rsplit(['/', '\\']).next())
            .map(str::trim)
            .unwrap_or("");
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        if name.is_empty() || name == "." || name == ".." {
            "attachment".to_owned()
        } else {
            name
        }
    }
}

/// A parsed download URL (libsession `parse_download_url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadUrl {
    /// The server.
    pub server: ServerUrl,
    /// The file id (a decimal number, or a 44-character content hash).
    pub file_id: String,
    /// `#p=<hex>`: the server's X25519 onion key, for servers other than the default.
    pub server_key: Option<[u8; 32]>,
    /// `d`: the blob is in the streaming ("S") format.
    pub stream: bool,
}

impl DownloadUrl {
    /// Parses `http(s)://host[:port]/file/<id>` (or the legacy `/files/<id>`) with an
    /// optional fragment of `&`-joined flags: `p=<64 hex>`, `d`, `sr=…` (ignored).
    ///
    /// # Errors
    /// [`ClientError::BadInput`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| ClientError::BadInput {
            what: "attachment URL",
            reason: format!("{text:?}: {why}"),
        };
        let (main, fragment) = match text.split_once('#') {
            Some((m, f)) => (m, Some(f)),
            None => (text, None),
        };
        let scheme_end = main
            .find("://")
            .ok_or_else(|| bad("no http:// or https://".into()))?;
        let path_start = main[scheme_end + 3..]
            .find('/')
            .map(|i| i + scheme_end + 3)
            .ok_or_else(|| bad("no /file/<id> path".into()))?;
        let server =
            ServerUrl::parse(&main[..path_start]).map_err(|e| bad(format!("server: {e}")))?;
        let path = &main[path_start..];
        let file_id = path
            .strip_prefix("/file/")
            .or_else(|| path.strip_prefix("/files/"))
            .ok_or_else(|| bad("the path is not /file/<id>".into()))?;
        let valid = !file_id.is_empty()
            && file_id.len() <= 64
            && file_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(bad("the file id must be letters, digits, - or _".into()));
        }
        let mut url = Self {
            server,
            file_id: file_id.to_owned(),
            server_key: None,
            stream: false,
        };
        for flag in fragment.into_iter().flat_map(|f| f.split('&')) {
            if flag == "d" {
                url.stream = true;
            } else if let Some(hex_key) = flag.strip_prefix("p=") {
                let mut key = [0u8; 32];
                hex::decode_to_slice(hex_key, &mut key)
                    .map_err(|_| bad("p= must be a 64-hex server key".into()))?;
                url.server_key = Some(key);
            }
            // `sr=` (Session Router) and flags of newer clients do not apply here.
        }
        Ok(url)
    }

    /// The path to `GET` on the server.
    pub fn path(&self) -> String {
        format!("/file/{}", self.file_id)
    }
}

impl fmt::Display for DownloadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/file/{}", self.server.base_url(), self.file_id)?;
        let mut flags = Vec::new();
        if let Some(k) = &self.server_key {
            flags.push(format!("p={}", hex::encode(k)));
        }
        if self.stream {
            flags.push("d".to_owned());
        }
        if !flags.is_empty() {
            write!(f, "#{}", flags.join("&"))?;
        }
        Ok(())
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

mod opt_hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| hex::decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn download_urls_parse_and_print() {
        let key = "da21e1d886c6fbaea313f75298bd64aab03a97ce985b46bb2dad9f2089c8ee59";
        let u = DownloadUrl::parse(&format!(
            "http://127.0.0.1:22099/file/123456#p={key}&d&sr=abc.sesh"
        ))
        .unwrap();
        assert_eq!(u.server.port, 22099);
        assert_eq!(u.file_id, "123456");
        assert!(u.stream);
        assert_eq!(hex::encode(u.server_key.unwrap()), key);
        assert_eq!(
            u.to_string(),
            format!("http://127.0.0.1:22099/file/123456#p={key}&d")
        );
        let plain = DownloadUrl::parse("http://filev2.getsession.org/files/42").unwrap();
        assert_eq!(plain.server.port, 80);
        assert!(!plain.stream && plain.server_key.is_none());
        assert_eq!(plain.path(), "/file/42");
        for bad in [
            "",
            "filev2.getsession.org/file/1",
            "http://h/room/x",
            "http://h/file/",
            "http://h/file/../etc",
            "http://h/file/1#p=zz",
        ] {
            assert!(DownloadUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pointers_round_trip_and_names_are_sanitised() {
        let a = Attachment {
            url: "http://h/file/1#d".into(),
            id: 1,
            key: vec![7; 32],
            digest: Some(vec![9; 32]),
            size: 5,
            content_type: Some("text/plain".into()),
            file_name: Some("../../etc/passwd".into()),
        };
        assert_eq!(Attachment::from_proto(&a.to_proto()).unwrap(), a);
        assert_eq!(a.safe_file_name(), "passwd");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Attachment>(&json).unwrap(), a);
        assert!(
            !format!("{a:?}").contains("0707"),
            "Debug must not print the key"
        );
        let mut b = a.clone();
        b.file_name = Some("..".into());
        assert_eq!(b.safe_file_name(), "attachment");
        let mut p = a.to_proto();
        p.url = None;
        assert!(Attachment::from_proto(&p).is_none());
        // A community file: no key, no digest.
        let mut p = a.to_proto();
        p.key = None;
        p.digest = None;
        let plain = Attachment::from_proto(&p).unwrap();
        assert!(plain.key.is_empty() && plain.digest.is_none());
    }
}
