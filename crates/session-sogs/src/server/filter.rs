//! Content filtering (community-server spec §9.1 `profanity_filter`,
//! `alphabet_filters`, `filter_mods`): every post and edit passes through the server's
//! [`PostFilter`] before it is stored. [`WordFilter`] is the built-in one: banned words
//! (case-insensitive, whole words) and alphabet filters (Arabic, Persian, Cyrillic
//! code points), applied to the message text and the sender's display name.
//!
//! A refused post is answered 429 (PySOGS's `PostRejected`); a silently filtered one is
//! stored with `filtered = true`, returned to its poster only. Edits cannot be stored
//! filtered, so any verdict other than [`Verdict::Allow`] refuses an edit.

use std::fmt;

use session_crypto::AccountId;
use session_crypto::session_protocol::unpad_message;
use session_wire::proto::session::DataMessage;

/// What a filter decided about a post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Store and distribute it.
    Allow,
    /// Store it with `filtered = true`: the poster sees it (with `"filtered": true`),
    /// nobody else does.
    Silent,
    /// Refuse it (429 with the reason).
    Reject(String),
}

/// A content filter: sees the room, the author and the raw (padded protobuf) post.
pub trait PostFilter: Send + Sync + fmt::Debug {
    /// Decides about one post or edit. `moderator` tells whether the author moderates
    /// the room (filters usually spare moderators).
    fn check(&self, room: &str, author: &AccountId, moderator: bool, data: &[u8]) -> Verdict;
}

/// A script whose letters an alphabet filter refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// The Arabic script blocks (Arabic, Supplement, Extended-A, Presentation Forms A
    /// and B).
    Arabic,
    /// Persian: the Arabic-script blocks Persian is written in (Arabic and the
    /// presentation forms).
    Persian,
    /// Cyrillic, Cyrillic Supplement, Extended-A/B/C.
    Cyrillic,
}

impl Alphabet {
    /// The alphabet named in `alphabet_filters` (`arabic`, `persian`, `cyrillic`,
    /// case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "arabic" => Some(Self::Arabic),
            "persian" => Some(Self::Persian),
            "cyrillic" => Some(Self::Cyrillic),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arabic => "arabic",
            Self::Persian => "persian",
            Self::Cyrillic => "cyrillic",
        }
    }

    fn ranges(self) -> &'static [(u32, u32)] {
        match self {
            Self::Arabic => &[
                (0x0600, 0x06FF),
                (0x0750, 0x077F),
                (0x08A0, 0x08FF),
                (0xFB50, 0xFDFF),
                (0xFE70, 0xFEFF),
            ],
            Self::Persian => &[(0x0600, 0x06FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
            Self::Cyrillic => &[
                (0x0400, 0x04FF),
                (0x0500, 0x052F),
                (0x1C80, 0x1C8F),
                (0x2DE0, 0x2DFF),
                (0xA640, 0xA69F),
            ],
        }
    }

    /// Whether `text` contains a code point of this alphabet.
    pub fn matches(self, text: &str) -> bool {
        text.chars().any(|c| {
            let c = u32::from(c);
            self.ranges()
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&c))
        })
    }
}

/// The built-in content filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WordFilter {
    /// Banned words or phrases, matched case-insensitively against whole words (a
    /// phrase matches the same words in a row).
    pub words: Vec<String>,
    /// Alphabets whose letters are refused.
    pub alphabets: Vec<Alphabet>,
    /// Filter silently ([`Verdict::Silent`]) instead of refusing ([`Verdict::Reject`]).
    pub silent: bool,
    /// Apply the filter to the room's moderators too.
    pub filter_mods: bool,
}

/// The lower-cased words (runs of letters and digits) of `text`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The `dataMessage` of a community post: its data is a padded `Content` protobuf
/// (`None` if it is anything else). The server never needs more of a post than this (the
/// filter, the web page).
pub fn decode_post(data: &[u8]) -> Option<DataMessage> {
    session_wire::message::decode_content(unpad_message(data))
        .ok()?
        .data_message
}

/// The texts of a post the filter looks at: `dataMessage.body` and
/// `dataMessage.profile.displayName` (none if the post is not a `Content`).
pub fn post_texts(data: &[u8]) -> Vec<String> {
    let Some(dm) = decode_post(data) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    out.extend(dm.body);
    out.extend(dm.profile.and_then(|p| p.display_name));
    out
}

impl WordFilter {
    /// Why `text` is refused, if it is.
    pub fn offence(&self, text: &str) -> Option<String> {
        if let Some(a) = self.alphabets.iter().find(|a| a.matches(text)) {
            return Some(format!("{} characters are not allowed", a.name()));
        }
        let have = words(text);
        for banned in &self.words {
            let want = words(banned);
            if !want.is_empty() && have.windows(want.len()).any(|w| w == want.as_slice()) {
                return Some("message contains a filtered word".to_owned());
            }
        }
        None
    }
}

impl PostFilter for WordFilter {
    fn check(&self, _room: &str, _author: &AccountId, moderator: bool, data: &[u8]) -> Verdict {
        if moderator && !self.filter_mods {
            return Verdict::Allow;
        }
        let reason = post_texts(data).iter().find_map(|t| self.offence(t));
        match reason {
            None => Verdict::Allow,
            Some(_) if self.silent => Verdict::Silent,
            Some(reason) => Verdict::Reject(format!("Post rejected: {reason}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_crypto::IdPrefix;
    use session_wire::proto::session::{Content, DataMessage, LokiProfile};

    fn post(body: Option<&str>, name: Option<&str>) -> Vec<u8> {
        let content = Content {
            data_message: Some(DataMessage {
                body: body.map(str::to_owned),
                profile: name.map(|n| LokiProfile {
                    display_name: Some(n.to_owned()),
                    ..LokiProfile::default()
                }),
                ..DataMessage::default()
            }),
            ..Content::default()
        };
        let mut bytes = session_wire::message::encode_content(&content);
        bytes.push(0x80);
        bytes.extend([0u8; 20]);
        bytes
    }

    fn author() -> AccountId {
        AccountId::new(IdPrefix::Blinded15, [1; 32])
    }

    fn filter() -> WordFilter {
        WordFilter {
            words: vec!["Darn".into(), "heck off".into()],
            alphabets: vec![Alphabet::Cyrillic],
            silent: false,
            filter_mods: false,
        }
    }

    #[test]
    fn texts_of_a_post() {
        assert_eq!(post_texts(&post(Some("hi"), Some("Al"))), ["hi", "Al"]);
        assert_eq!(post_texts(&post(None, None)), Vec::<String>::new());
        assert_eq!(post_texts(b"\xff\xff garbage"), Vec::<String>::new());
    }

    #[test]
    fn words_are_whole_and_case_insensitive() {
        let f = filter();
        let check = |body: &str| f.check("r", &author(), false, &post(Some(body), None));
        assert!(matches!(check("oh DARN it"), Verdict::Reject(_)));
        assert!(matches!(check("darn!"), Verdict::Reject(_)));
        assert_eq!(check("darnation"), Verdict::Allow);
        assert_eq!(check("undarn"), Verdict::Allow);
        assert!(matches!(check("just Heck   off."), Verdict::Reject(_)));
        assert_eq!(
            check("heck, off"),
            Verdict::Reject("Post rejected: message contains a filtered word".into())
        );
        assert_eq!(check("heck no off"), Verdict::Allow);
        assert_eq!(check("fine words"), Verdict::Allow);
        // The display name is checked too.
        assert!(matches!(
            f.check(
                "r",
                &author(),
                false,
                &post(Some("hello"), Some("Darn Guy"))
            ),
            Verdict::Reject(_)
        ));
    }

    #[test]
    fn alphabets() {
        let f = filter();
        let check = |body: &str| f.check("r", &author(), false, &post(Some(body), None));
        assert!(matches!(check("привет"), Verdict::Reject(_)));
        assert_eq!(check("مرحبا"), Verdict::Allow);
        assert!(Alphabet::Arabic.matches("مرحبا"));
        assert!(Alphabet::Persian.matches("سلام"));
        assert!(!Alphabet::Arabic.matches("hello"));
        assert_eq!(Alphabet::parse(" Cyrillic"), Some(Alphabet::Cyrillic));
        assert_eq!(Alphabet::parse("klingon"), None);
    }

    #[test]
    fn silent_and_moderators() {
        let mut f = filter();
        let bad = post(Some("darn"), None);
        assert_eq!(f.check("r", &author(), true, &bad), Verdict::Allow);
        f.filter_mods = true;
        assert!(matches!(
            f.check("r", &author(), true, &bad),
            Verdict::Reject(_)
        ));
        f.silent = true;
        assert_eq!(f.check("r", &author(), false, &bad), Verdict::Silent);
        assert_eq!(
            f.check("r", &author(), false, &post(Some("ok"), None)),
            Verdict::Allow
        );
    }
}
