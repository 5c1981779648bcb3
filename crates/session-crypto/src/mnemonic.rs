//! Recovery passwords (client-protocol §2): the 1626-word English list of the
//! Monero/Electrum family (not BIP-39), three words per little-endian 32-bit group, and a
//! CRC-32 checksum word that repeats one of the data words.
//!
//! * 16 bytes (a legacy seed) ↔ 12 data words + 1 checksum word;
//! * 32 bytes (a full Ed25519 seed) ↔ 24 data words + 1 checksum word.
//!
//! Decoding is lenient in the ways Session clients are: only the first three letters of each
//! word matter (ASCII case-insensitive), so typos after the prefix and prefix-only input
//! decode; the checksum word may be left out. Everything else is rejected with a
//! [`MnemonicError`] that tells the user what to fix. Error messages name words by position,
//! never by their text, because a recovery password must not end up in logs.

use std::collections::HashMap;
use std::sync::LazyLock;

use thiserror::Error;
use zeroize::Zeroizing;

use crate::ed25519::Ed25519Seed;

/// Number of words in the English list.
pub const WORDLIST_LEN: usize = 1626;
/// Number of leading characters that identify an English word.
pub const PREFIX_LEN: usize = 3;

/// The English list, one lowercase word per line in index order (`abbey` … `zoom`).
const ENGLISH_TEXT: &str = include_str!("mnemonic_english.txt");

/// Checks at compile time that the embedded list has [`WORDLIST_LEN`] lines, each of at
/// least [`PREFIX_LEN`] lowercase ASCII letters, and ends with a newline.
const fn wordlist_is_well_formed(text: &str) -> bool {
    let b = text.as_bytes();
    let mut lines = 0;
    let mut len = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            if len < PREFIX_LEN {
                return false;
            }
            lines += 1;
            len = 0;
        } else if b[i].is_ascii_lowercase() {
            len += 1;
        } else {
            return false;
        }
        i += 1;
    }
    len == 0 && lines == WORDLIST_LEN
}

const _: () = assert!(
    wordlist_is_well_formed(ENGLISH_TEXT),
    "mnemonic_english.txt must hold 1626 lowercase words of 3+ letters, one per line"
);

/// The parsed word list and its prefix index.
struct WordList {
    words: Vec<&'static str>,
    by_prefix: HashMap<[u8; PREFIX_LEN], u16>,
}

static ENGLISH: LazyLock<WordList> = LazyLock::new(|| {
    let words: Vec<&'static str> = ENGLISH_TEXT.lines().collect();
    let by_prefix = words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some((prefix_key(w)?, u16::try_from(i).ok()?)))
        .collect();
    WordList { words, by_prefix }
});

/// The 1626 English words in index order.
pub fn english_words() -> &'static [&'static str] {
    &ENGLISH.words
}

/// The lookup key of a word: its first [`PREFIX_LEN`] characters, ASCII lower-cased.
/// Words shorter than the prefix or with a non-ASCII character in it match nothing in the
/// English list (every English word is at least three ASCII letters long).
fn prefix_key(word: &str) -> Option<[u8; PREFIX_LEN]> {
    let bytes = word.as_bytes();
    if bytes.len() < PREFIX_LEN {
        return None;
    }
    let mut key = [0u8; PREFIX_LEN];
    for (k, b) in key.iter_mut().zip(bytes) {
        if !b.is_ascii() {
            return None;
        }
        *k = b.to_ascii_lowercase();
    }
    Some(key)
}

/// Why a recovery password could not be encoded or decoded. Messages address the person
/// typing the words; none contains a word of the password.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MnemonicError {
    /// The bytes to encode have a length that recovery words cannot represent.
    #[error("cannot write {got} bytes as recovery words: expected {expected}")]
    InvalidByteLength {
        /// The length given.
        got: usize,
        /// The accepted lengths, in words.
        expected: &'static str,
    },
    /// The recovery password has a number of words that no seed length produces.
    #[error(
        "the recovery password has {got} words, but it must have {expected} — \
         check for missing or extra words"
    )]
    WrongWordCount {
        /// The number of words found.
        got: usize,
        /// The accepted counts, in words.
        expected: &'static str,
    },
    /// A word matches no word of the English list (by its first three letters).
    #[error(
        "word {position} of {count} is not in the recovery word list — check its spelling \
         (the first three letters must be right)"
    )]
    UnknownWord {
        /// 1-based position of the word.
        position: usize,
        /// Number of words in the password.
        count: usize,
    },
    /// The checksum (last) word is a known word but not the one the other words require.
    #[error("the last word (checksum) does not match — check the words for typos")]
    ChecksumMismatch,
    /// Three known words that do not encode a 32-bit value (e.g. `abbey abbey zoom`), which
    /// no seed produces.
    #[error(
        "words {first} to {last} do not form a valid group — check them for typos or a \
         changed word order"
    )]
    InvalidWordGroup {
        /// 1-based position of the first word of the group.
        first: usize,
        /// 1-based position of the last word of the group.
        last: usize,
    },
}

/// The value `x` that three word indices encode:
/// `w1 + N·((N − w1 + w2) mod N) + N²·((N − w2 + w3) mod N)` with `N` = 1626.
/// Valid groups give `x < 2^32`; larger values (up to about 4.3·10^9) mean the words were
/// not produced by an encoder. Indices must be below 1626.
pub fn group_value(w1: u16, w2: u16, w3: u16) -> u64 {
    let n = WORDLIST_LEN as u64;
    let (w1, w2, w3) = (u64::from(w1) % n, u64::from(w2) % n, u64::from(w3) % n);
    w1 + n * ((n - w1 + w2) % n) + n * n * ((n - w2 + w3) % n)
}

/// Indices of the data words for `bytes` (a multiple of 4 long).
fn data_indices(bytes: &[u8]) -> Zeroizing<Vec<u16>> {
    let n = WORDLIST_LEN as u32;
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() / 4 * 3));
    for chunk in bytes.chunks_exact(4) {
        let x = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let w1 = x % n;
        let w2 = (x / n + w1) % n;
        let w3 = (x / n / n + w2) % n;
        // All three are below 1626 and fit in u16.
        out.extend([w1 as u16, w2 as u16, w3 as u16]);
    }
    out
}

/// Index (into `data`) of the word the checksum word repeats: CRC-32 (zlib) over the
/// three-letter prefixes of the data words, modulo the number of data words.
fn checksum_position(data: &[u16]) -> usize {
    let words = english_words();
    let mut prefixes = Zeroizing::new(Vec::with_capacity(data.len() * PREFIX_LEN));
    for &i in data {
        let w = words[usize::from(i)].as_bytes();
        prefixes.extend_from_slice(&w[..PREFIX_LEN.min(w.len())]);
    }
    let crc = crc32fast::hash(&prefixes);
    // `data` is never empty here; the modulus keeps the result in range.
    crc as usize % data.len().max(1)
}

/// Joins word indices into one space-separated phrase without leaving partial copies
/// behind (the buffer is sized exactly before writing).
fn join_words(indices: &[u16]) -> Zeroizing<String> {
    let words = english_words();
    let len = indices
        .iter()
        .map(|&i| words[usize::from(i)].len())
        .sum::<usize>()
        + indices.len().saturating_sub(1);
    let mut out = Zeroizing::new(String::with_capacity(len));
    for (k, &i) in indices.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(words[usize::from(i)]);
    }
    out
}

/// Encodes any non-empty multiple of 4 bytes as words: 3 words per 4 bytes, plus (with
/// `checksum`) the checksum word. Session uses [`encode`]; this general form exists for
/// the upstream vectors (e.g. 64 bytes → 48 words without checksum).
///
/// # Errors
/// [`MnemonicError::InvalidByteLength`] if `bytes` is empty or not a multiple of 4 long.
pub fn encode_with(bytes: &[u8], checksum: bool) -> Result<Zeroizing<String>, MnemonicError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return Err(MnemonicError::InvalidByteLength {
            got: bytes.len(),
            expected: "a non-empty multiple of 4",
        });
    }
    let mut indices = data_indices(bytes);
    if checksum {
        let c = indices[checksum_position(&indices)];
        indices.push(c);
    }
    Ok(join_words(&indices))
}

/// Encodes a 16-byte legacy seed (13 words) or a 32-byte seed (25 words), checksum word
/// included.
///
/// # Errors
/// [`MnemonicError::InvalidByteLength`] for any other length.
pub fn encode(bytes: &[u8]) -> Result<Zeroizing<String>, MnemonicError> {
    if bytes.len() != 16 && bytes.len() != 32 {
        return Err(MnemonicError::InvalidByteLength {
            got: bytes.len(),
            expected: "16 or 32",
        });
    }
    encode_with(bytes, true)
}

/// Decodes a recovery password of 12 or 13 words (16 bytes) or 24 or 25 words (32 bytes);
/// with 13 or 25 words the last one is the checksum. Words are separated by any
/// whitespace and matched by their first three letters, ignoring ASCII case.
///
/// # Errors
/// In this order: [`MnemonicError::WrongWordCount`], [`MnemonicError::UnknownWord`] (the
/// first unknown word), [`MnemonicError::ChecksumMismatch`],
/// [`MnemonicError::InvalidWordGroup`].
pub fn decode(phrase: &str) -> Result<Zeroizing<Vec<u8>>, MnemonicError> {
    let count = phrase.split_whitespace().count();
    if !matches!(count, 12 | 13 | 24 | 25) {
        return Err(MnemonicError::WrongWordCount {
            got: count,
            expected: "13 (or 12 without the last word), or 25 (or 24) for a long password",
        });
    }
    decode_any(phrase)
}

/// Decodes any number of words that is a non-empty multiple of 3 (no checksum) or one
/// more than that (the last word is the checksum), with the same matching rules and
/// rejections as [`decode`].
///
/// # Errors
/// As [`decode`], with [`MnemonicError::WrongWordCount`] for counts of the form 3k+2 and
/// for fewer than 3 words.
pub fn decode_any(phrase: &str) -> Result<Zeroizing<Vec<u8>>, MnemonicError> {
    let count = phrase.split_whitespace().count();
    if count < 3 || count % 3 == 2 {
        return Err(MnemonicError::WrongWordCount {
            got: count,
            expected: "a multiple of 3, or one more with a checksum word",
        });
    }
    let list = &*ENGLISH;
    let mut indices = Zeroizing::new(Vec::with_capacity(count));
    for (k, word) in phrase.split_whitespace().enumerate() {
        let index = prefix_key(word)
            .and_then(|key| list.by_prefix.get(&key).copied())
            .ok_or(MnemonicError::UnknownWord {
                position: k + 1,
                count,
            })?;
        indices.push(index);
    }

    let data_len = count - count % 3;
    let data = &indices[..data_len];
    if count % 3 == 1 {
        let expected = data[checksum_position(data)];
        if indices[data_len] != expected {
            return Err(MnemonicError::ChecksumMismatch);
        }
    }

    let mut out = Zeroizing::new(Vec::with_capacity(data_len / 3 * 4));
    for (g, group) in data.chunks_exact(3).enumerate() {
        let x = group_value(group[0], group[1], group[2]);
        // `x mod N == w1` holds by construction; only the 32-bit range needs checking.
        let x = u32::try_from(x).map_err(|_| MnemonicError::InvalidWordGroup {
            first: g * 3 + 1,
            last: g * 3 + 3,
        })?;
        out.extend_from_slice(&x.to_le_bytes());
    }
    Ok(out)
}

/// Recovery words for an account seed: a legacy seed (last 16 bytes zero) gives 13 words,
/// any other seed 25.
pub fn seed_to_words(seed: &Ed25519Seed) -> Zeroizing<String> {
    let bytes: &[u8] = match seed.legacy16() {
        Some(_) => &seed.as_bytes()[..16],
        None => seed.as_bytes(),
    };
    // 16 and 32 bytes are always encodable.
    encode_with(bytes, true).unwrap_or_default()
}

/// The account seed a recovery password stands for: 12/13 words give a 16-byte legacy seed
/// (right-padded with 16 zero bytes), 24/25 words a full 32-byte seed.
///
/// # Errors
/// Every rejection of [`decode`].
pub fn words_to_seed(phrase: &str) -> Result<Ed25519Seed, MnemonicError> {
    let bytes = decode(phrase)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    seed[..bytes.len()].copy_from_slice(&bytes);
    Ok(Ed25519Seed::from_array(*seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_unique_prefixes() {
        let words = english_words();
        assert_eq!(words.len(), WORDLIST_LEN);
        assert_eq!(words[0], "abbey");
        assert_eq!(words[WORDLIST_LEN - 1], "zoom");
        assert_eq!(ENGLISH.by_prefix.len(), WORDLIST_LEN);
    }

    #[test]
    fn group_value_bounds() {
        assert_eq!(group_value(0, 0, 1625), 4_296_298_500);
        assert_eq!(group_value(0, 0, 0), 0);
        for x in [0u32, 1, 1625, 1626, 0xdead_beef, u32::MAX] {
            let w = data_indices(&x.to_le_bytes());
            assert_eq!(group_value(w[0], w[1], w[2]), u64::from(x));
        }
    }

    #[test]
    fn prefix_key_rules() {
        assert_eq!(prefix_key("AbBeY"), Some(*b"abb"));
        assert_eq!(prefix_key("ab"), None);
        assert_eq!(prefix_key("äbbey"), None);
    }

    #[test]
    fn seed_round_trip() {
        let legacy = Ed25519Seed::from_bytes(&[7u8; 16]).unwrap();
        let words = seed_to_words(&legacy);
        assert_eq!(words.split(' ').count(), 13);
        assert_eq!(words_to_seed(&words).unwrap(), legacy);
        let full = Ed25519Seed::from_array([9u8; 32]);
        let words = seed_to_words(&full);
        assert_eq!(words.split(' ').count(), 25);
        assert_eq!(words_to_seed(&words).unwrap(), full);
    }
}
