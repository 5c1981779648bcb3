//! Property tests: round trips of recovery words, sealed boxes, one-to-one message
//! encryption and message padding, plus "never panics, always a typed error" on garbage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use proptest::prelude::*;
use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::ed25519::Ed25519Seed;
use session_crypto::keys::AccountKeys;
use session_crypto::mnemonic::{
    self, MnemonicError, decode, decode_any, encode, encode_with, english_words, seed_to_words,
    words_to_seed,
};
use session_crypto::sealed_box;
use session_crypto::session_protocol::{
    decrypt_incoming, encrypt_for_recipient, encrypt_for_recipient_deterministic,
    legacy_padded_len, open_signed, pad_message, pad_message_legacy, padded_len, seal_signed,
    seal_signed_deterministic, unpad_message,
};
use session_crypto::x25519::{X25519Keypair, X25519SecretKey};
use session_crypto::{CryptoError, Result};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn seed_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 32),
    ]
}

/// Rewrites a word the way a person might type it: changed case and/or anything after
/// the three-letter prefix replaced.
fn mangle(word: &str, upper: bool, tail: &str) -> String {
    let mut w = format!("{}{tail}", &word[..3]);
    if upper {
        w = w.to_uppercase();
    }
    w
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mnemonic_round_trip(bytes in seed_bytes()) {
        let words = encode(&bytes).unwrap();
        let n = words.split(' ').count();
        prop_assert_eq!(n, bytes.len() / 4 * 3 + 1);
        prop_assert_eq!(&decode(&words).unwrap()[..], &bytes[..]);
        // Dropping the checksum word is accepted too.
        let data: Vec<&str> = words.split(' ').take(n - 1).collect();
        prop_assert_eq!(&decode(&data.join(" ")).unwrap()[..], &bytes[..]);
    }

    #[test]
    fn mnemonic_round_trip_any_multiple_of_four(
        bytes in proptest::collection::vec(any::<u8>(), 1..40usize).prop_map(|mut v| {
            v.truncate(v.len() / 4 * 4);
            if v.is_empty() { v = vec![0; 4]; }
            v
        }),
        checksum in any::<bool>(),
    ) {
        let words = encode_with(&bytes, checksum).unwrap();
        prop_assert_eq!(&decode_any(&words).unwrap()[..], &bytes[..]);
    }

    #[test]
    fn mnemonic_accepts_prefix_typos(
        bytes in seed_bytes(),
        upper in proptest::collection::vec(any::<bool>(), 25),
        tails in proptest::collection::vec("[a-z]{0,6}", 25),
    ) {
        let words = encode(&bytes).unwrap();
        let typed: Vec<String> = words
            .split(' ')
            .enumerate()
            .map(|(i, w)| mangle(w, upper[i], &tails[i]))
            .collect();
        prop_assert_eq!(&decode(&typed.join("  ")).unwrap()[..], &bytes[..]);
    }

    #[test]
    fn mnemonic_detects_a_changed_word(
        bytes in seed_bytes(),
        at in any::<proptest::sample::Index>(),
        replacement in 0usize..mnemonic::WORDLIST_LEN,
    ) {
        let words = encode(&bytes).unwrap();
        let mut list: Vec<&str> = words.split(' ').collect();
        let i = at.index(list.len());
        let new = english_words()[replacement];
        prop_assume!(list[i] != new);
        list[i] = new;
        // A changed word is either caught, or (rarely: the checksum is one of the data
        // words) decodes to different bytes; it never decodes to the original.
        match decode(&list.join(" ")) {
            Ok(out) => prop_assert_ne!(&out[..], &bytes[..]),
            Err(e) => prop_assert!(
                matches!(
                    e,
                    MnemonicError::ChecksumMismatch | MnemonicError::InvalidWordGroup { .. }
                ),
                "{:?}",
                e
            ),
        }
    }

    #[test]
    fn mnemonic_garbage_is_a_typed_error(phrase in "\\PC{0,200}") {
        // Any text: never a panic; an error is always one of the documented kinds.
        if let Err(e) = decode(&phrase) {
            let _ = e.to_string();
        }
        if let Err(e) = decode_any(&phrase) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn seed_words_round_trip(seed in any::<[u8; 32]>(), legacy in any::<bool>()) {
        let seed = if legacy {
            Ed25519Seed::from_bytes(&seed[..16]).unwrap()
        } else {
            Ed25519Seed::from_array(seed)
        };
        let words = seed_to_words(&seed);
        let expected = if seed.legacy16().is_some() { 13 } else { 25 };
        prop_assert_eq!(words.split(' ').count(), expected);
        prop_assert_eq!(words_to_seed(&words).unwrap(), seed);
    }

    #[test]
    fn pad_unpad_round_trip(content in proptest::collection::vec(any::<u8>(), 0..700)) {
        let p = pad_message(&content);
        prop_assert_eq!(p.len(), padded_len(content.len()));
        prop_assert_eq!(p.len() % 160, 0);
        prop_assert!(p.len() > content.len());
        prop_assert_eq!(unpad_message(&p), &content[..]);

        let l = pad_message_legacy(&content);
        prop_assert_eq!(l.len(), legacy_padded_len(content.len()));
        prop_assert_eq!(l.len() % 160, 159);
        prop_assert_eq!(unpad_message(&l), &content[..]);
    }

    #[test]
    fn unpad_is_total(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let out = unpad_message(&data);
        prop_assert!(data.starts_with(out));
        if out.len() < data.len() {
            prop_assert_eq!(data[out.len()], 0x80);
            prop_assert!(data[out.len() + 1..].iter().all(|b| *b == 0));
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn seal_open_round_trip(
        sk in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        let kp = X25519Keypair::from_secret(X25519SecretKey::from_array(sk));
        let ct = sealed_box::seal(kp.public(), &msg).unwrap();
        prop_assert_eq!(ct.len(), msg.len() + sealed_box::SEAL_OVERHEAD);
        prop_assert_eq!(sealed_box::open(&kp, &ct).unwrap(), msg.clone());

        let eph = sealed_box::box_seed_keypair(&sk);
        let det = sealed_box::seal_with_ephemeral(&eph, kp.public(), &msg).unwrap();
        prop_assert_eq!(&det, &sealed_box::seal_with_ephemeral(&eph, kp.public(), &msg).unwrap());
        prop_assert_eq!(sealed_box::open(&kp, &det).unwrap(), msg);
    }

    #[test]
    fn open_garbage_is_a_typed_error(
        sk in any::<[u8; 32]>(),
        junk in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let kp = X25519Keypair::from_secret(X25519SecretKey::from_array(sk));
        let err = sealed_box::open(&kp, &junk).unwrap_err();
        prop_assert!(matches!(
            err,
            CryptoError::InvalidLength { .. }
                | CryptoError::WeakSharedSecret { .. }
                | CryptoError::DecryptionFailed { .. }
        ), "{:?}", err);
    }

    #[test]
    fn one_to_one_round_trip(
        a_seed in any::<[u8; 32]>(),
        b_seed in any::<[u8; 16]>(),
        content in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        let alice = AccountKeys::from_seed(Ed25519Seed::from_array(a_seed));
        let bob = AccountKeys::from_seed(Ed25519Seed::from_bytes(&b_seed).unwrap());
        let to_bob = bob.session_id();

        let check = |ct: Result<Vec<u8>>, padded: bool| -> std::result::Result<(), TestCaseError> {
            let ct = ct.unwrap();
            let msg = decrypt_incoming(&bob, &ct).unwrap();
            prop_assert_eq!(msg.sender_id, alice.session_id());
            prop_assert_eq!(msg.sender_ed25519, alice.ed25519_public());
            if padded {
                prop_assert_eq!(&msg.content, &content);
                prop_assert_eq!(open_signed(&bob, &ct).unwrap().content, pad_message(&content));
            } else {
                prop_assert_eq!(open_signed(&bob, &ct).unwrap().content, content.clone());
            }
            // Nobody else can read it, not even the sender.
            let err = decrypt_incoming(&alice, &ct).unwrap_err();
            prop_assert!(matches!(err, CryptoError::DecryptionFailed { .. }), "{:?}", err);
            Ok(())
        };
        check(encrypt_for_recipient(&alice, &to_bob, &content), true)?;
        check(encrypt_for_recipient_deterministic(&alice, &to_bob, &content), true)?;
        check(seal_signed(&alice, &to_bob, &content), false)?;
        check(seal_signed_deterministic(&alice, &to_bob, &content), false)?;
        prop_assert_eq!(
            seal_signed_deterministic(&alice, &to_bob, &content).unwrap(),
            seal_signed_deterministic(&alice, &to_bob, &content).unwrap()
        );
    }

    #[test]
    fn decrypt_garbage_is_a_typed_error(
        seed in any::<[u8; 32]>(),
        junk in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let me = AccountKeys::from_seed(Ed25519Seed::from_array(seed));
        let err = decrypt_incoming(&me, &junk).unwrap_err();
        prop_assert!(matches!(
            err,
            CryptoError::InvalidLength { .. }
                | CryptoError::WeakSharedSecret { .. }
                | CryptoError::DecryptionFailed { .. }
        ), "{:?}", err);
    }

    #[test]
    fn only_session_ids_are_recipients(key in any::<[u8; 32]>(), prefix in 0usize..5) {
        let prefix = [
            IdPrefix::Unblinded,
            IdPrefix::Group,
            IdPrefix::VersionBlinded,
            IdPrefix::Blinded15,
            IdPrefix::Blinded25,
        ][prefix];
        let me = AccountKeys::from_seed(Ed25519Seed::from_array(key));
        let err = encrypt_for_recipient(&me, &AccountId::new(prefix, key), b"x").unwrap_err();
        prop_assert!(matches!(err, CryptoError::WrongIdPrefix { .. }), "{:?}", err);
    }
}
