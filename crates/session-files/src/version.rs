//! `GET /session_version` (community-server spec §11.1): the newest Session release per
//! platform, and the optional `X-FS-*` authentication of that request (§4.3, client
//! protocol §4.6).
//!
//! The reference server fetches the releases from GitHub every 30 minutes; this one
//! has no network access of its own, so the operator configures them
//! (`[session_version.<platform>]` in `files.toml`, see [`SessionVersions`]). A platform
//! without a configured release answers 502, as the reference does when it has no data.
//!
//! Authentication: `X-FS-Pubkey` (`07` + the account's version-blinded Ed25519 key, 66
//! hex or base64), `X-FS-Timestamp` (Unix seconds, within ±24 h of the server's clock,
//! else 425) and `X-FS-Signature` (64 bytes, hex or base64) over
//! `TIMESTAMP ‖ METHOD ‖ PATH [‖ "?" ‖ QUERY] [‖ BLAKE2b-512(body)]`, the timestamp as
//! sent. No header at all: anonymous. Some but not all: 400. A bad key or malformed
//! value: 400. A signature that does not verify: 401. The server only counts verified
//! checks ([`crate::FileStore::record_version_check`]); the answer is the same either way.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use session_crypto::sogs_auth::decode_hex_or_b64;

/// The platforms `/session_version` knows.
pub const PLATFORMS: [&str; 3] = ["desktop", "android", "ios"];

/// How far `X-FS-Timestamp` may be from the server's clock, in seconds.
pub const MAX_CLOCK_SKEW: f64 = 24.0 * 3600.0;

/// A downloadable file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// File name, e.g. `session-desktop-linux-x86_64-1.16.2.AppImage`.
    pub name: String,
    /// Where to download it (`http://` or `https://`).
    pub url: String,
}

/// A pre-release or alpha release of a platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The version, `x.y.z`.
    pub version: String,
    /// Release title.
    pub name: Option<String>,
    /// Release notes.
    pub notes: Option<String>,
    /// Its files.
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// What `/session_version?platform=P` answers for one platform: the stable release and
/// optionally a pre-release (always included as `"prerelease"`) and an alpha release
/// (the answer for `release_channel=alpha`; stable without one).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformRelease {
    /// The stable version, `x.y.z`.
    pub version: String,
    /// Release title.
    pub name: Option<String>,
    /// Release notes.
    pub notes: Option<String>,
    /// Its files.
    #[serde(default)]
    pub assets: Vec<Asset>,
    /// The newest pre-release.
    pub prerelease: Option<Release>,
    /// The newest alpha release.
    pub alpha: Option<Release>,
}

/// The configured releases of every platform.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionVersions {
    /// `session-desktop`.
    pub desktop: Option<PlatformRelease>,
    /// `session-android`.
    pub android: Option<PlatformRelease>,
    /// `session-ios`.
    pub ios: Option<PlatformRelease>,
}

/// The release channel asked for with `release_channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `stable` (also the default and any unknown value, as the reference treats them).
    Stable,
    /// `prerelease`.
    Prerelease,
    /// `alpha`.
    Alpha,
}

impl Channel {
    /// Parses the query value; absent, empty and unknown values are stable.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("prerelease") => Self::Prerelease,
            Some("alpha") => Self::Alpha,
            _ => Self::Stable,
        }
    }

    /// The name recorded with a check.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Prerelease => "prerelease",
            Self::Alpha => "alpha",
        }
    }
}

impl SessionVersions {
    /// The release of `platform` (one of [`PLATFORMS`]), if configured.
    pub fn platform(&self, platform: &str) -> Option<&PlatformRelease> {
        match platform {
            "desktop" => self.desktop.as_ref(),
            "android" => self.android.as_ref(),
            "ios" => self.ios.as_ref(),
            _ => None,
        }
    }

    /// Checks every version and asset URL; the error names the key
    /// (`session_version.desktop.prerelease.version`) and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (platform, release) in [
            ("desktop", &self.desktop),
            ("android", &self.android),
            ("ios", &self.ios),
        ] {
            let Some(r) = release else { continue };
            let base = format!("session_version.{platform}");
            check_release(&base, &r.version, &r.assets)?;
            if let Some(p) = &r.prerelease {
                check_release(&format!("{base}.prerelease"), &p.version, &p.assets)?;
            }
            if let Some(a) = &r.alpha {
                check_release(&format!("{base}.alpha"), &a.version, &a.assets)?;
            }
        }
        Ok(())
    }
}

fn check_release(key: &str, version: &str, assets: &[Asset]) -> Result<(), (String, String)> {
    if !valid_version(version) {
        return Err((
            format!("{key}.version"),
            format!("{version:?} is not a version like \"1.16.2\" (numbers separated by dots)"),
        ));
    }
    for (i, a) in assets.iter().enumerate() {
        if a.name.trim().is_empty() {
            return Err((
                format!("{key}.assets[{i}].name"),
                "must not be empty".into(),
            ));
        }
        if !(a.url.starts_with("https://") || a.url.starts_with("http://")) {
            return Err((
                format!("{key}.assets[{i}].url"),
                format!("{:?} must start with https:// or http://", a.url),
            ));
        }
    }
    Ok(())
}

/// `x.y` to `w.x.y.z`, each a decimal number.
fn valid_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn release_fields(
    out: &mut Map<String, Value>,
    version: &str,
    name: Option<&String>,
    notes: Option<&String>,
    assets: &[Asset],
) {
    out.insert("result".into(), json!(version));
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        out.insert("name".into(), json!(n));
    }
    if let Some(n) = notes.filter(|n| !n.is_empty()) {
        out.insert("notes".into(), json!(n));
    }
    if !assets.is_empty() {
        let list: Vec<Value> = assets
            .iter()
            .map(|a| json!({"name": a.name, "url": a.url}))
            .collect();
        out.insert("assets".into(), Value::Array(list));
    }
}

/// The JSON answer for `release` on `channel`, `updated` being when the data was
/// loaded: `{"status_code": 200, "updated", "result", "name"?, "notes"?, "assets"?,
/// "prerelease"?: {"result", "updated", "name"?, "notes"?, "assets"?}}`.
pub fn response_json(release: &PlatformRelease, channel: Channel, updated: f64) -> Value {
    let mut out = Map::new();
    out.insert("status_code".into(), json!(200));
    out.insert("updated".into(), json!(updated));
    match (&release.alpha, channel) {
        (Some(a), Channel::Alpha) => {
            release_fields(
                &mut out,
                &a.version,
                a.name.as_ref(),
                a.notes.as_ref(),
                &a.assets,
            );
        }
        _ => release_fields(
            &mut out,
            &release.version,
            release.name.as_ref(),
            release.notes.as_ref(),
            &release.assets,
        ),
    }
    if let Some(p) = &release.prerelease {
        let mut pre = Map::new();
        release_fields(
            &mut pre,
            &p.version,
            p.name.as_ref(),
            p.notes.as_ref(),
            &p.assets,
        );
        pre.insert("updated".into(), json!(updated));
        out.insert("prerelease".into(), Value::Object(pre));
    }
    Value::Object(out)
}

/// Why `X-FS-*` authentication failed: the HTTP status and the reason (sent as
/// `text/plain`, as the reference does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// 400, 401 or 425.
    pub status: u16,
    /// What was wrong.
    pub reason: &'static str,
}

fn refuse(status: u16, reason: &'static str) -> AuthError {
    AuthError { status, reason }
}

/// The three `X-FS-*` header values as sent (`None` when absent or empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct FsAuthHeaders<'a> {
    /// `X-FS-Pubkey`.
    pub pubkey: Option<&'a str>,
    /// `X-FS-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-FS-Signature`.
    pub signature: Option<&'a str>,
}

/// Verifies `X-FS-*` authentication of a request `method path_and_query` with `body` at
/// server time `now`: `Ok(None)` for an anonymous request, `Ok(Some(id))` with the
/// `07…` id (lower-case hex) for a verified one.
pub fn verify_fs_auth(
    headers: FsAuthHeaders<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: f64,
) -> Result<Option<String>, AuthError> {
    let (pk, ts, sig) = match (headers.pubkey, headers.timestamp, headers.signature) {
        (None, None, None) => return Ok(None),
        (Some(p), Some(t), Some(s)) => (p, t, s),
        _ => {
            return Err(refuse(
                400,
                "Invalid authentication: one or more X-FS-* auth headers is missing",
            ));
        }
    };
    let pk = decode_hex_or_b64::<33>(pk).ok_or(refuse(
        400,
        "Invalid authentication: X-FS-Pubkey is not a valid 66-hex digit id",
    ))?;
    if pk[0] != 0x07 {
        return Err(refuse(
            400,
            "Invalid authentication: X-FS-Pubkey must be 07- prefixed",
        ));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&pk[1..]);
    let sig = decode_hex_or_b64::<64>(sig).ok_or(refuse(
        400,
        "Invalid authentication: X-FS-Signature is not base64[86]",
    ))?;
    let ts_value: i64 = ts.trim().parse().map_err(|_| {
        refuse(
            400,
            "Invalid authentication: X-FS-Timestamp is not a valid timestamp",
        )
    })?;
    // i64 → f64 loses precision only beyond 2^53 s, far outside the window anyway.
    let ts_secs = ts_value as f64;
    if (ts_secs - now).abs() > MAX_CLOCK_SKEW {
        return Err(refuse(
            425,
            "Invalid authentication: X-FS-Timestamp is too far from current time",
        ));
    }
    let mut message = Vec::with_capacity(ts.len() + method.len() + path_and_query.len() + 64);
    message.extend_from_slice(ts.as_bytes());
    message.extend_from_slice(method.as_bytes());
    message.extend_from_slice(path_and_query.as_bytes());
    if !body.is_empty() {
        message.extend_from_slice(&session_crypto::hash::blake2b::<64>(&[body]));
    }
    match session_crypto::ed25519::verify(&key, &message, &sig) {
        Ok(()) => Ok(Some(hex::encode(pk))),
        Err(session_crypto::CryptoError::BadSignature { .. }) => Err(refuse(
            401,
            "Invalid authentication: X-FS-Signature verification failed",
        )),
        Err(_) => Err(refuse(
            400,
            "Invalid authentication: given X-FS-Pubkey is not a valid Ed25519 pubkey",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;

    fn release() -> PlatformRelease {
        PlatformRelease {
            version: "1.16.2".into(),
            name: Some("Session 1.16.2".into()),
            notes: None,
            assets: vec![Asset {
                name: "a.AppImage".into(),
                url: "https://example.org/a".into(),
            }],
            prerelease: Some(Release {
                version: "1.17.0".into(),
                name: None,
                notes: Some("beta".into()),
                assets: Vec::new(),
            }),
            alpha: Some(Release {
                version: "1.18.0".into(),
                name: None,
                notes: None,
                assets: Vec::new(),
            }),
        }
    }

    #[test]
    fn answers_per_channel() {
        let r = release();
        let v = response_json(&r, Channel::Stable, 5.5);
        assert_eq!(
            v,
            json!({
                "status_code": 200, "updated": 5.5, "result": "1.16.2",
                "name": "Session 1.16.2",
                "assets": [{"name": "a.AppImage", "url": "https://example.org/a"}],
                "prerelease": {"result": "1.17.0", "notes": "beta", "updated": 5.5},
            })
        );
        assert_eq!(response_json(&r, Channel::Alpha, 1.0)["result"], "1.18.0");
        assert_eq!(
            response_json(&r, Channel::Prerelease, 1.0)["result"],
            "1.16.2"
        );
        let plain = PlatformRelease {
            alpha: None,
            prerelease: None,
            ..r
        };
        let v = response_json(&plain, Channel::Alpha, 1.0);
        assert_eq!(v["result"], "1.16.2");
        assert!(v.get("prerelease").is_none());
        assert_eq!(Channel::parse(None), Channel::Stable);
        assert_eq!(Channel::parse(Some("nightly")), Channel::Stable);
        assert_eq!(Channel::parse(Some("alpha")).as_str(), "alpha");
    }

    #[test]
    fn versions_are_checked() {
        for good in ["1.16.2", "1.2", "2.0.0.1"] {
            assert!(valid_version(good), "{good}");
        }
        for bad in ["", "1", "v1.2.3", "1..2", "1.2.3-beta", "1.2.3.4.5"] {
            assert!(!valid_version(bad), "{bad}");
        }
        let mut v = SessionVersions {
            ios: Some(release()),
            ..SessionVersions::default()
        };
        assert!(v.validate().is_ok());
        if let Some(r) = v.ios.as_mut() {
            r.assets[0].url = "ftp://x".into();
        }
        assert_eq!(
            v.validate().unwrap_err().0,
            "session_version.ios.assets[0].url"
        );
    }
}
