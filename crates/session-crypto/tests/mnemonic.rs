//! Recovery-password vectors (mnemonic.json) and rejection cases (client-protocol §2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

// The shared loader fails a test by panicking on a missing or malformed vector.
mod common;

use session_crypto::CryptoError;
use session_crypto::ed25519::Ed25519Seed;
use session_crypto::keys::AccountKeys;
use session_crypto::mnemonic::{
    self, MnemonicError, decode, decode_any, encode, encode_with, english_words, group_value,
    seed_to_words, words_to_seed,
};

const AMAZE: &str =
    "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed";

#[test]
fn word_list_matches_the_vector_file() {
    let text = std::fs::read_to_string(common::path("mnemonic-english-words.txt")).unwrap();
    let file: Vec<&str> = text.lines().collect();
    assert_eq!(english_words(), &file[..]);
    assert_eq!(english_words().len(), mnemonic::WORDLIST_LEN);
}

#[test]
fn encode_16_bytes_with_checksum() {
    for id in [
        "mnemonic.english.00010203.16",
        "mnemonic.english.00000000.16",
    ] {
        let v = common::vector("mnemonic", id);
        assert_eq!(v.input_str("language"), "english");
        assert_eq!(v.input["checksum"], true);
        let bytes = v.input_hex("bytes");
        let words = encode(&bytes).unwrap();
        assert_eq!(&*words, v.expected_str("words"), "{id}");
        assert_eq!(
            &*encode_with(&bytes, true).unwrap(),
            v.expected_str("words")
        );
        assert_eq!(&decode(&words).unwrap()[..], &bytes[..], "{id}");
        // Without the checksum word the same bytes come back too.
        let twelve: Vec<&str> = words.split(' ').take(12).collect();
        assert_eq!(&decode(&twelve.join(" ")).unwrap()[..], &bytes[..]);
    }
}

#[test]
fn encode_64_bytes_without_checksum_pins_list_order() {
    let v = common::vector("mnemonic", "mnemonic.english.sha512_48words");
    assert_eq!(v.input["checksum"], false);
    let bytes = v.input_hex("bytes");
    assert_eq!(
        bytes,
        session_crypto::hash::sha512(&[b"libsession-util mnemonic test vector"]).to_vec()
    );
    let words = encode_with(&bytes, false).unwrap();
    assert_eq!(&*words, v.expected_str("words"));
    assert_eq!(&decode_any(&words).unwrap()[..], &bytes[..]);
    // 48 words is not a recovery password.
    assert_eq!(
        decode(&words).unwrap_err(),
        MnemonicError::WrongWordCount {
            got: 48,
            expected: "13 (or 12 without the last word), or 25 (or 24) for a long password",
        }
    );
    // 64 bytes is not a seed length.
    assert!(matches!(
        encode(&bytes),
        Err(MnemonicError::InvalidByteLength { got: 64, .. })
    ));
}

#[test]
fn prefix_typos_and_case_are_accepted() {
    let v = common::vector("mnemonic", "mnemonic.accept.prefix_and_typos");
    let bytes = v.expected_hex("bytes");
    for key in ["words_typo", "words_prefix", "words_checksum_typo"] {
        let phrase = v.input_str(key);
        assert_eq!(&decode(phrase).unwrap()[..], &bytes[..], "{key}");
    }
    // ASCII case folding and any whitespace between words.
    let shouting = AMAZE.to_uppercase().replace(' ', " \t\n ");
    assert_eq!(&decode(&shouting).unwrap()[..], &bytes[..]);
    let mixed =
        "AmAzE bUfFeT cake entrance symptoms tiger lamb maze nestle python dusted faxed Faxed";
    assert_eq!(&decode(mixed).unwrap()[..], &bytes[..]);
    assert_eq!(&decode(&format!("  {AMAZE}  ")).unwrap()[..], &bytes[..]);
}

#[test]
fn rejections_from_the_vectors() {
    let v = common::vector("mnemonic", "mnemonic.reject");
    for key in ["wrong_checksum", "transposed", "altered_word"] {
        assert_eq!(v.expected_str(key), "checksum_error");
        assert_eq!(
            decode(v.input_str(key)).unwrap_err(),
            MnemonicError::ChecksumMismatch,
            "{key}"
        );
    }
    assert_eq!(v.expected_str("unknown_word"), "unknown_word_error");
    assert_eq!(
        decode(v.input_str("unknown_word")).unwrap_err(),
        MnemonicError::UnknownWord {
            position: 13,
            count: 13
        }
    );

    // "abbey abbey zoom" → 4296298500, which does not fit in 32 bits.
    let overflow = v.input_str("overflow_triplet");
    assert_eq!(
        v.expected_str("overflow_triplet"),
        "invalid (value 4296298500 > 2^32-1)"
    );
    let idx = |w: &str| english_words().iter().position(|x| *x == w).unwrap() as u16;
    assert_eq!(
        group_value(idx("abbey"), idx("abbey"), idx("zoom")),
        4_296_298_500
    );
    assert_eq!(
        decode_any(overflow).unwrap_err(),
        MnemonicError::InvalidWordGroup { first: 1, last: 3 }
    );
    // The same group inside a 12-word password is rejected by the strict decoder, at
    // the right position.
    let twelve = format!("{} abbey abbey zoom", "abbey ".repeat(9).trim_end());
    assert_eq!(
        decode(&twelve).unwrap_err(),
        MnemonicError::InvalidWordGroup {
            first: 10,
            last: 12
        }
    );
    // A 3-word phrase is not a recovery password at all.
    assert!(matches!(
        decode(overflow),
        Err(MnemonicError::WrongWordCount { got: 3, .. })
    ));
}

#[test]
fn mnemonic_to_session_id() {
    let v = common::vector("mnemonic", "derived.mnemonic_to_session_id.01234567");
    let phrase = v.input_str("words");
    assert_eq!(&decode(phrase).unwrap()[..], &v.expected_hex("seed16")[..]);
    let seed = words_to_seed(phrase).unwrap();
    assert_eq!(seed.as_bytes().to_vec(), v.expected_hex("ed25519_seed32"));
    let keys = AccountKeys::from_seed(seed.clone());
    assert_eq!(
        keys.ed25519_public().0.to_vec(),
        v.expected_hex("ed25519_pubkey")
    );
    assert_eq!(keys.session_id().to_string(), v.expected_str("session_id"));
    // And back: a legacy seed gives the 13 words.
    assert_eq!(&*seed_to_words(&seed), phrase);
}

#[test]
fn seed_conversions() {
    let full = Ed25519Seed::from_array(std::array::from_fn(|i| i as u8 + 1));
    let words = seed_to_words(&full);
    assert_eq!(words.split(' ').count(), 25);
    assert_eq!(words_to_seed(&words).unwrap(), full);
    // Dropping the checksum word still works.
    let without: Vec<&str> = words.split(' ').take(24).collect();
    assert_eq!(words_to_seed(&without.join(" ")).unwrap(), full);

    let legacy = Ed25519Seed::from_bytes(&[0xa5; 16]).unwrap();
    let words = seed_to_words(&legacy);
    assert_eq!(words.split(' ').count(), 13);
    assert_eq!(words_to_seed(&words).unwrap(), legacy);
}

#[test]
fn every_rejection_is_typed() {
    // Empty, too few, one short of a group, too many.
    for (phrase, got) in [
        ("", 0),
        ("abbey", 1),
        ("abbey abbey", 2),
        (&*"abbey ".repeat(11), 11),
        (&*"abbey ".repeat(14), 14),
        (&*"abbey ".repeat(26), 26),
    ] {
        assert!(
            matches!(decode(phrase), Err(MnemonicError::WrongWordCount { got: g, .. }) if g == got),
            "{got} words"
        );
    }
    for (phrase, got) in [
        ("", 0),
        ("abbey abbey", 2),
        ("abbey abbey abbey abbey abbey", 5),
    ] {
        assert!(matches!(
            decode_any(phrase),
            Err(MnemonicError::WrongWordCount { got: g, .. }) if g == got
        ));
    }
    // Unknown words: the first one is reported, by position.
    let cases = [
        (
            "zzzzz buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed",
            1,
        ),
        (
            "amaze bu cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed",
            2,
        ),
        (
            "amaze buffet cake éntrance symptoms tiger lamb maze nestle python dusted faxed",
            4,
        ),
        (
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted 123ab",
            12,
        ),
    ];
    for (phrase, position) in cases {
        let count = phrase.split_whitespace().count();
        assert_eq!(
            decode(phrase).unwrap_err(),
            MnemonicError::UnknownWord { position, count },
            "{phrase}"
        );
    }
    // Encoding lengths.
    for len in [0usize, 1, 15, 17, 31, 33, 64] {
        assert!(matches!(
            encode(&vec![0u8; len]),
            Err(MnemonicError::InvalidByteLength { got, .. }) if got == len
        ));
    }
    for len in [0usize, 1, 3, 5, 18] {
        assert!(matches!(
            encode_with(&vec![0u8; len], false),
            Err(MnemonicError::InvalidByteLength { got, .. }) if got == len
        ));
    }
}

#[test]
fn messages_tell_the_user_what_to_fix_without_leaking_words() {
    let unknown =
        "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed zzzzz";
    let msg = decode(unknown).unwrap_err().to_string();
    assert!(msg.contains("word 13 of 13"), "{msg}");
    assert!(!msg.contains("zzzzz") && !msg.contains("amaze"), "{msg}");

    let bad_checksum =
        "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed amaze";
    let err = decode(bad_checksum).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the last word (checksum) does not match — check the words for typos"
    );

    let err = decode_any("abbey abbey zoom").unwrap_err().to_string();
    assert!(err.contains("words 1 to 3"), "{err}");
    let err = decode("abbey abbey").unwrap_err().to_string();
    assert!(err.contains("2 words") && err.contains("13"), "{err}");

    // The crate error wraps it transparently.
    let crate_err: CryptoError = MnemonicError::ChecksumMismatch.into();
    assert_eq!(
        crate_err.to_string(),
        MnemonicError::ChecksumMismatch.to_string()
    );
    assert!(matches!(
        crate_err,
        CryptoError::Mnemonic(MnemonicError::ChecksumMismatch)
    ));
}
