//! The values a one-to-one message carries besides its payload: the sender's profile
//! (client-protocol §3.4 `LokiProfile`, §9 "profiles") and the disappearing-message
//! setting (§3.4 `Content.expirationType` / `expirationTimer`, §9), with their protobuf
//! encodings, plus the storage constants (§3.1 step 8, §9 TTLs).

use std::fmt;

use session_wire::proto::session::{LokiProfile, content::ExpirationType};

/// The namespace one-to-one messages (and their sync copies) are stored in (§3.1 step 8).
pub const DM_NAMESPACE: i16 = 0;

/// TTL of ordinary content messages: 14 days in ms (§9 "TTLs").
pub const DEFAULT_TTL_MS: u64 = 14 * 24 * 60 * 60 * 1000;

/// The smallest TTL a storage node accepts (storage-node §2, "TTL must be ≥ 10 s").
pub const MIN_TTL_MS: u64 = 10_000;

/// The longest visible-message body a non-Pro sender may send, in Unicode code points
/// (§9 "Character limits: 2000 (10 000 with Pro)").
pub const MAX_BODY_CHARS: usize = 2000;

/// The sender's public profile as clients attach it to visible messages and to a
/// message-request acceptance: `LokiProfile{displayName, profilePicture, lastProfileUpdateSeconds}`
/// plus the picture's key in the enclosing message's `profileKey` (§3.4, §9).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The display name (`LokiProfile.displayName`); `None` or empty is not sent.
    pub display_name: Option<String>,
    /// The profile picture, if any (`LokiProfile.profilePicture` + `profileKey`).
    pub picture: Option<ProfilePicture>,
    /// When the profile last changed, in seconds since the epoch
    /// (`LokiProfile.lastProfileUpdateSeconds`); receivers use it to ignore stale profiles.
    pub updated_at_s: Option<u64>,
}

/// Where to download a profile picture and the key to decrypt it with.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfilePicture {
    /// The file-server URL (`LokiProfile.profilePicture`), without a key fragment.
    pub url: String,
    /// The picture's encryption key (`profileKey`, 32 bytes in practice).
    pub key: Vec<u8>,
}

impl fmt::Debug for ProfilePicture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfilePicture")
            .field("url", &self.url)
            .field("key_len", &self.key.len())
            .finish()
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("display_name", &self.display_name)
            .field("picture", &self.picture)
            .field("updated_at_s", &self.updated_at_s)
            .finish()
    }
}

impl Profile {
    /// A profile with only a display name.
    pub fn named(display_name: impl Into<String>) -> Self {
        Self {
            display_name: Some(display_name.into()),
            ..Self::default()
        }
    }

    /// Whether there is nothing to send: no (non-empty) name and no (complete) picture.
    pub fn is_empty(&self) -> bool {
        self.name().is_none() && self.complete_picture().is_none()
    }

    fn name(&self) -> Option<&str> {
        self.display_name.as_deref().filter(|n| !n.is_empty())
    }

    fn complete_picture(&self) -> Option<&ProfilePicture> {
        self.picture
            .as_ref()
            .filter(|p| !p.url.is_empty() && !p.key.is_empty())
    }

    /// The protobuf form as clients send it: `(profile, profileKey)`. Nothing when the
    /// profile is empty; the name only when non-empty; the picture URL and its key only
    /// when both are present; `lastProfileUpdateSeconds` when known.
    pub fn to_proto(&self) -> Option<(LokiProfile, Option<Vec<u8>>)> {
        if self.is_empty() {
            return None;
        }
        let picture = self.complete_picture();
        Some((
            LokiProfile {
                display_name: self.name().map(str::to_owned),
                profile_picture: picture.map(|p| p.url.clone()),
                last_profile_update_seconds: self.updated_at_s,
            },
            picture.map(|p| p.key.clone()),
        ))
    }

    /// Reads a received `(profile, profileKey)` pair leniently: an empty name is no name, a
    /// picture needs both a non-empty URL and a non-empty key. `None` if nothing usable.
    pub fn from_proto(profile: Option<&LokiProfile>, profile_key: Option<&[u8]>) -> Option<Self> {
        let profile = profile?;
        let display_name = profile
            .display_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let picture = match (profile.profile_picture.as_deref(), profile_key) {
            (Some(url), Some(key)) if !url.is_empty() && !key.is_empty() => Some(ProfilePicture {
                url: url.to_owned(),
                key: key.to_vec(),
            }),
            _ => None,
        };
        let out = Self {
            display_name,
            picture,
            updated_at_s: profile.last_profile_update_seconds,
        };
        (!out.is_empty()).then_some(out)
    }
}

/// When a disappearing message starts its countdown (`Content.expirationType`, §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpiryMode {
    /// `DELETE_AFTER_READ` (1): the countdown starts when the recipient reads it; the
    /// message is stored with the normal TTL and the reader shortens its swarm expiry with
    /// the `expire` RPC (§9).
    AfterRead,
    /// `DELETE_AFTER_SEND` (2): the countdown starts when sent; the message is stored with
    /// TTL = the timer (§9).
    AfterSend,
}

impl ExpiryMode {
    /// The numeric protobuf value (1 after-read, 2 after-send), as stored locally.
    pub fn wire(self) -> u8 {
        match self {
            Self::AfterRead => 1,
            Self::AfterSend => 2,
        }
    }

    /// From the numeric protobuf value; `None` for 0 (`UNKNOWN`, no expiry) and
    /// unknown values.
    pub fn from_wire(v: u64) -> Option<Self> {
        match v {
            1 => Some(Self::AfterRead),
            2 => Some(Self::AfterSend),
            _ => None,
        }
    }

    /// The `Content.expirationType` value.
    pub fn proto(self) -> ExpirationType {
        match self {
            Self::AfterRead => ExpirationType::DeleteAfterRead,
            Self::AfterSend => ExpirationType::DeleteAfterSend,
        }
    }
}

/// A disappearing-message setting: mode and timer (§9 "Disappearing messages").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// After read or after send.
    pub mode: ExpiryMode,
    /// The timer in seconds (`Content.expirationTimer`); must be non-zero.
    pub seconds: u32,
}

impl Expiry {
    /// Delete `seconds` after the message is read.
    pub fn after_read(seconds: u32) -> Self {
        Self {
            mode: ExpiryMode::AfterRead,
            seconds,
        }
    }

    /// Delete `seconds` after the message is sent.
    pub fn after_send(seconds: u32) -> Self {
        Self {
            mode: ExpiryMode::AfterSend,
            seconds,
        }
    }

    /// The timer in milliseconds.
    pub fn millis(&self) -> u64 {
        u64::from(self.seconds) * 1000
    }

    /// When a timer started at `start_ms` runs out, capped at `i64::MAX` (what SQLite
    /// and the storage RPC hold).
    pub fn expires_at(&self, start_ms: u64) -> u64 {
        start_ms
            .saturating_add(self.millis())
            .min(i64::MAX.unsigned_abs())
    }

    /// The `(expirationType, expirationTimer)` pair current clients put on every message
    /// that can disappear: `(UNKNOWN, 0)` when the setting is off.
    pub fn to_proto(expiry: Option<&Self>) -> (i32, u32) {
        match expiry {
            Some(e) => (e.mode.proto() as i32, e.seconds),
            None => (ExpirationType::Unknown as i32, 0),
        }
    }

    /// Reads `Content.expirationType` / `expirationTimer`: a known mode with a non-zero
    /// timer is a setting; `UNKNOWN`, an unknown value, a missing field or a zero timer
    /// mean "does not disappear".
    pub fn from_proto(expiration_type: Option<i32>, expiration_timer: Option<u32>) -> Option<Self> {
        let seconds = expiration_timer.filter(|&s| s > 0)?;
        let mode = match ExpirationType::try_from(expiration_type?).ok()? {
            ExpirationType::DeleteAfterRead => ExpiryMode::AfterRead,
            ExpirationType::DeleteAfterSend => ExpiryMode::AfterSend,
            ExpirationType::Unknown => return None,
        };
        Some(Self { mode, seconds })
    }
}

/// The TTL to store a message with (§9 "TTLs"): the after-send timer for an after-send
/// message, otherwise 14 days; clamped to what a storage node accepts in namespace 0
/// (10 s … 14 days).
pub fn ttl_ms(expiry: Option<&Expiry>) -> u64 {
    match expiry {
        Some(e) if e.mode == ExpiryMode::AfterSend && e.seconds > 0 => {
            e.millis().clamp(MIN_TTL_MS, DEFAULT_TTL_MS)
        }
        _ => DEFAULT_TTL_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rules() {
        assert_eq!(DEFAULT_TTL_MS, 1_209_600_000);
        assert_eq!(ttl_ms(None), DEFAULT_TTL_MS);
        assert_eq!(ttl_ms(Some(&Expiry::after_read(60))), DEFAULT_TTL_MS);
        assert_eq!(ttl_ms(Some(&Expiry::after_send(3600))), 3_600_000);
        assert_eq!(ttl_ms(Some(&Expiry::after_send(1))), MIN_TTL_MS);
        assert_eq!(
            ttl_ms(Some(&Expiry::after_send(30 * 86_400))),
            DEFAULT_TTL_MS
        );
    }

    #[test]
    fn expiry_proto_values() {
        assert_eq!(Expiry::to_proto(None), (0, 0));
        assert_eq!(Expiry::to_proto(Some(&Expiry::after_read(5))), (1, 5));
        assert_eq!(Expiry::to_proto(Some(&Expiry::after_send(7))), (2, 7));
        assert_eq!(
            Expiry::from_proto(Some(1), Some(5)),
            Some(Expiry::after_read(5))
        );
        assert_eq!(
            Expiry::from_proto(Some(2), Some(7)),
            Some(Expiry::after_send(7))
        );
        assert_eq!(Expiry::from_proto(Some(0), Some(7)), None);
        assert_eq!(Expiry::from_proto(Some(2), Some(0)), None);
        assert_eq!(Expiry::from_proto(Some(9), Some(7)), None);
        assert_eq!(Expiry::from_proto(None, Some(7)), None);
        assert_eq!(Expiry::from_proto(Some(1), None), None);
    }

    #[test]
    fn profile_proto_rules() {
        assert!(Profile::default().to_proto().is_none());
        assert!(Profile::named("").to_proto().is_none());
        let (p, key) = Profile::named("Alice").to_proto().unwrap();
        assert_eq!(p.display_name.as_deref(), Some("Alice"));
        assert_eq!(p.profile_picture, None);
        assert_eq!(key, None);
        // A picture without a key is not sent.
        let half = Profile {
            display_name: Some("A".into()),
            picture: Some(ProfilePicture {
                url: "http://x/1".into(),
                key: vec![],
            }),
            updated_at_s: Some(5),
        };
        let (p, key) = half.to_proto().unwrap();
        assert_eq!(p.profile_picture, None);
        assert_eq!(key, None);
        assert_eq!(p.last_profile_update_seconds, Some(5));
        // Round trip of a full profile.
        let full = Profile {
            display_name: Some("Alice".into()),
            picture: Some(ProfilePicture {
                url: "http://filev2.getsession.org/file/123".into(),
                key: vec![7; 32],
            }),
            updated_at_s: Some(1_700_000_000),
        };
        let (p, key) = full.to_proto().unwrap();
        assert_eq!(Profile::from_proto(Some(&p), key.as_deref()), Some(full));
        assert!(!format!("{:?}", Profile::default()).is_empty());
        assert_eq!(Profile::from_proto(None, None), None);
    }
}
