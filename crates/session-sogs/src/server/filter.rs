//! Hook points for content filtering (community-server spec §9.1 `profanity_filter`,
//! `alphabet_filters`): every post and edit passes through the server's
//! [`PostFilter`] before it is stored.

use std::fmt;

use session_crypto::AccountId;

/// What a filter decided about a post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Store and distribute it.
    Allow,
    /// Store it with `filtered = true`: the poster sees it (with `"filtered": true`),
    /// nobody else does.
    Silent,
    /// Refuse it (406 with the reason).
    Reject(String),
}

/// A content filter: sees the room, the author and the raw (padded protobuf) post.
pub trait PostFilter: Send + Sync + fmt::Debug {
    /// Decides about one post or edit. `moderator` tells whether the author moderates
    /// the room (filters usually spare moderators).
    fn check(&self, room: &str, author: &AccountId, moderator: bool, data: &[u8]) -> Verdict;
}
