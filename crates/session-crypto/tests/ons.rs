//! ONS / SNS vectors (the `ons.*` vectors of governance.json) and behaviour: name hashes,
//! value keys and decryption, name rules, round trips, rejections, and libsodium
//! cross-checks of every primitive (BLAKE2b, XChaCha20-Poly1305, Argon2id `crypto_pwhash`,
//! `crypto_secretbox`).
#![allow(unsafe_code)]
// clippy.toml's allow-*-in-tests covers #[test] functions only, not helpers (nor the shared
// `common` loader).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use libsodium_sys as ffi;
use proptest::prelude::*;
use session_crypto::CryptoError;
use session_crypto::ons::{
    LEGACY_SESSION_STORED_LEN, OnsType, decrypt_session_id, decrypt_stored_session_id,
    decrypt_stored_value, decrypt_value, encrypt_value, encrypt_value_with_nonce, is_valid_name,
    legacy_decrypt_value, legacy_encrypt_value, legacy_value_key, name_hash, name_hash_base64,
    name_hash_to_base64, parse_name_hash, validate_name, value_key,
};

fn nonce24(bytes: &[u8]) -> [u8; 24] {
    bytes.try_into().unwrap()
}

// ───────────────────────────── vectors ─────────────────────────────

#[test]
fn ons_jagerman() {
    let v = common::vector("governance", "ons.jagerman");
    let name = v.input_str("name");
    assert_eq!(v.input["type"].as_u64(), Some(0));
    let hash = name_hash(name);
    assert_eq!(hash.to_vec(), v.expected_hex("name_hash"));
    assert_eq!(name_hash_base64(name), v.expected_str("name_hash_b64"));
    // The request the client sends carries the same canonical base64.
    let req = &v.input["ons_resolve_request"];
    assert_eq!(req["type"].as_u64(), Some(0));
    assert_eq!(
        req["name_hash"].as_str(),
        Some(v.expected_str("name_hash_b64"))
    );
    assert_eq!(
        parse_name_hash(v.expected_str("name_hash_b64")).unwrap(),
        hash
    );
    assert_eq!(parse_name_hash(&hex::encode(hash)).unwrap(), hash);

    assert_eq!(value_key(name).to_vec(), v.expected_hex("key"));
    let ct = v.input_hex("encrypted_value");
    let nonce = nonce24(&v.input_hex("nonce"));
    let plain = decrypt_value(name, &ct, &nonce).unwrap();
    assert_eq!(plain, v.expected_hex("plaintext"));
    // The plaintext already is the full Session ID (05 prefix included).
    let id = decrypt_session_id(name, &ct, &nonce).unwrap();
    assert_eq!(id.to_string(), v.expected_str("session_id"));
    // Names are case-insensitive.
    assert_eq!(decrypt_session_id("JagerMan", &ct, &nonce).unwrap(), id);
    // The registry's stored form is ciphertext ‖ nonce (73 bytes).
    let mut stored = ct.clone();
    stored.extend_from_slice(&nonce);
    assert_eq!(stored.len(), 73);
    assert_eq!(decrypt_stored_session_id(name, &stored).unwrap(), id);
    // Re-encrypting with the same nonce gives the published ciphertext.
    assert_eq!(encrypt_value_with_nonce(name, &plain, &nonce), stored);
}

#[test]
fn ons_decrypt_test() {
    let v = common::vector("governance", "ons.decrypt.test");
    let name = v.input_str("name");
    assert_eq!(value_key(name).to_vec(), v.expected_hex("key"));
    let ct = v.input_hex("ciphertext");
    let nonce = nonce24(&v.input_hex("nonce"));
    let id = decrypt_session_id(name, &ct, &nonce).unwrap();
    assert_eq!(id.to_string(), v.expected_str("session_id"));
}

fn check_names_valid(id: &str, ty: OnsType) {
    let v = common::vector("governance", id);
    assert_eq!(v.expected["valid"].as_bool(), Some(true));
    let names = v.input["names"].as_array().unwrap();
    assert!(!names.is_empty());
    for n in names {
        let n = n.as_str().unwrap();
        let lower = validate_name(ty, n).unwrap_or_else(|e| panic!("{id}: {n:?} rejected: {e}"));
        assert_eq!(lower, n.to_ascii_lowercase());
    }
}

#[test]
fn ons_name_validity_session_allowed() {
    let v = common::vector("governance", "ons.name_validity.session_allowed");
    assert_eq!(v.input_str("type"), "session");
    check_names_valid("ons.name_validity.session_allowed", OnsType::Session);
    // Session and wallet names share the rules.
    check_names_valid("ons.name_validity.session_allowed", OnsType::Wallet);
}

#[test]
fn ons_name_validity_lokinet_allowed() {
    let v = common::vector("governance", "ons.name_validity.lokinet_allowed");
    assert_eq!(v.input_str("type"), "lokinet");
    check_names_valid("ons.name_validity.lokinet_allowed", OnsType::Lokinet);
    // "The upstream test also accepts a 63-character hyphenated label".
    let label = format!("a-{}", "b".repeat(61));
    assert_eq!(label.len(), 63);
    assert!(is_valid_name(OnsType::Lokinet, &format!("{label}.loki")));
}

// ───────────────────────────── name rules ─────────────────────────────

#[test]
fn session_names_rejected() {
    let long = "a".repeat(65);
    for bad in [
        "",
        "-",
        "-hello",
        "hello-",
        "hel lo",
        "hello.loki",
        "héllo",
        "hello!",
        "😀",
        long.as_str(),
    ] {
        let r = validate_name(OnsType::Session, bad);
        assert!(
            matches!(
                r,
                Err(CryptoError::Malformed {
                    what: "ONS name",
                    ..
                })
            ),
            "{bad:?} accepted: {r:?}"
        );
    }
    assert!(is_valid_name(OnsType::Session, &"a".repeat(64)));
    assert!(is_valid_name(OnsType::Session, "_"));
    assert!(is_valid_name(OnsType::Session, "a-b"));
    assert!(is_valid_name(OnsType::Session, "a--b"));
}

#[test]
fn lokinet_names_rejected() {
    let no_hyphen_33 = format!("{}.loki", "a".repeat(33));
    let hyphen_64 = format!("a-{}.loki", "b".repeat(62));
    for bad in [
        "loki",
        ".loki",
        "a.lok",
        "a",
        "-a.loki",
        "a-.loki",
        "a_b.loki",
        "a.b.loki",
        "ab--cd.loki",
        "localhost.loki",
        "Loki.loki",
        "snode.loki",
        "héllo.loki",
        no_hyphen_33.as_str(),
        hyphen_64.as_str(),
    ] {
        assert!(!is_valid_name(OnsType::Lokinet, bad), "{bad:?} accepted");
    }
    assert!(is_valid_name(
        OnsType::Lokinet,
        &format!("{}.loki", "a".repeat(32))
    ));
    assert!(is_valid_name(OnsType::Lokinet, "xn--ab-cd.loki"));
    assert!(is_valid_name(OnsType::Lokinet, "a-b.loki"));
    assert!(is_valid_name(OnsType::Lokinet, "A.LOKI"));
}

// ───────────────────────────── behaviour ─────────────────────────────

#[test]
fn wrong_name_and_altered_values_fail() {
    let value =
        hex::decode("05fb466d312e1666ad1c84c4ee55b7e034151c0e366a313d95d11436a5f36e1e75").unwrap();
    let stored = encrypt_value("alice", &value).unwrap();
    assert_eq!(stored.len(), 33 + 40);
    assert_eq!(
        decrypt_stored_value(OnsType::Session, "ALICE", &stored).unwrap(),
        value
    );
    assert!(matches!(
        decrypt_stored_value(OnsType::Session, "alicf", &stored),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    for i in 0..stored.len() {
        let mut bad = stored.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(
                decrypt_stored_value(OnsType::Session, "alice", &bad),
                Err(CryptoError::DecryptionFailed { .. })
            ),
            "flip at {i} accepted"
        );
    }
    // Two encryptions of the same value differ (random nonce).
    assert_ne!(encrypt_value("alice", &value).unwrap(), stored);
    // A decrypted value that is not a Session ID is refused as one.
    let not_id = encrypt_value_with_nonce("bob", &[0x03; 33], &[7; 24]);
    assert!(matches!(
        decrypt_stored_session_id("bob", &not_id),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    let short = encrypt_value_with_nonce("bob", &[0x05; 32], &[7; 24]);
    assert!(matches!(
        decrypt_session_id("bob", &short[..short.len() - 24], &[7; 24]),
        Err(CryptoError::InvalidLength { .. })
    ));
}

#[test]
fn name_hash_parsing() {
    let h = name_hash("jagerman");
    let b64 = name_hash_to_base64(&h);
    assert_eq!(b64.len(), 44);
    assert_eq!(parse_name_hash(&b64).unwrap(), h);
    assert_eq!(parse_name_hash(b64.trim_end_matches('=')).unwrap(), h);
    assert_eq!(parse_name_hash(&hex::encode(h).to_uppercase()).unwrap(), h);
    assert!(matches!(
        parse_name_hash("abc"),
        Err(CryptoError::InvalidLength { got: 3, .. })
    ));
    assert!(matches!(
        parse_name_hash(&"!".repeat(44)),
        Err(CryptoError::InvalidBase64 { .. })
    ));
    assert!(matches!(
        parse_name_hash(&"zz".repeat(32)),
        Err(CryptoError::InvalidHex { .. })
    ));
    assert_eq!(name_hash("JAGERMAN"), h);
}

// ───────────────────────────── libsodium ─────────────────────────────

fn sodium_init() {
    // SAFETY: sodium_init may be called any number of times.
    assert!(unsafe { ffi::sodium_init() } >= 0);
}

fn sodium_generichash(data: &[u8], key: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: out has 32 bytes; data and key are valid for their lengths (key ≤ 64).
    let rc = unsafe {
        ffi::crypto_generichash(
            out.as_mut_ptr(),
            32,
            data.as_ptr(),
            data.len() as _,
            if key.is_empty() {
                std::ptr::null()
            } else {
                key.as_ptr()
            },
            key.len(),
        )
    };
    assert_eq!(rc, 0);
    out
}

fn sodium_xchacha_encrypt(key: &[u8; 32], nonce: &[u8; 24], m: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8; m.len() + 16];
    let mut clen = 0u64;
    // SAFETY: c has mlen + ABYTES bytes; no associated data; nsec must be null.
    let rc = unsafe {
        ffi::crypto_aead_xchacha20poly1305_ietf_encrypt(
            c.as_mut_ptr(),
            &mut clen,
            m.as_ptr(),
            m.len() as _,
            std::ptr::null(),
            0,
            std::ptr::null(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    assert_eq!(rc, 0);
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Name hash, value key and encryption against libsodium's primitives, and the round
    /// trip through our decryption.
    #[test]
    fn current_scheme_matches_libsodium(
        name in "[A-Za-z0-9_-]{1,64}",
        value in prop::collection::vec(any::<u8>(), 0..80),
        nonce in any::<[u8; 24]>(),
    ) {
        sodium_init();
        let lower = name.to_ascii_lowercase();
        let hash = sodium_generichash(lower.as_bytes(), &[]);
        prop_assert_eq!(name_hash(&name), hash);
        let key = sodium_generichash(lower.as_bytes(), &hash);
        prop_assert_eq!(*value_key(&name), key);
        let mut expected = sodium_xchacha_encrypt(&key, &nonce, &value);
        let ours = encrypt_value_with_nonce(&name, &value, &nonce);
        prop_assert_eq!(&ours[..ours.len() - 24], &expected[..]);
        prop_assert_eq!(&ours[ours.len() - 24..], &nonce[..]);
        prop_assert_eq!(decrypt_value(&lower, &expected, &nonce).unwrap(), value.clone());
        expected.extend_from_slice(&nonce);
        prop_assert_eq!(ours, expected);
    }
}

/// The legacy scheme: Argon2id key = libsodium `crypto_pwhash` (OPSLIMIT_MODERATE,
/// MEMLIMIT_MODERATE, ARGON2ID13, zero salt), box = `crypto_secretbox_easy` with a zero
/// nonce. One name only: each side needs 256 MiB and a fraction of a second.
#[test]
fn legacy_scheme_matches_libsodium() {
    sodium_init();
    let name = "Legacy_Name";
    let lower = name.to_ascii_lowercase();
    let mut sodium_key = [0u8; 32];
    // SAFETY: out has 32 bytes; the salt has crypto_pwhash_SALTBYTES (16) bytes.
    let rc = unsafe {
        ffi::crypto_pwhash(
            sodium_key.as_mut_ptr(),
            32,
            lower.as_ptr().cast(),
            lower.len() as _,
            [0u8; 16].as_ptr(),
            ffi::crypto_pwhash_OPSLIMIT_MODERATE as _,
            ffi::crypto_pwhash_MEMLIMIT_MODERATE as _,
            ffi::crypto_pwhash_ALG_ARGON2ID13 as _,
        )
    };
    assert_eq!(rc, 0);
    let ours = legacy_value_key(name).unwrap();
    assert_eq!(*ours, sodium_key);

    let value = [0x05u8; 33];
    let mut boxed = vec![0u8; 33 + 16];
    // SAFETY: boxed has mlen + MACBYTES bytes; 24-byte zero nonce; 32-byte key.
    let rc = unsafe {
        ffi::crypto_secretbox_easy(
            boxed.as_mut_ptr(),
            value.as_ptr(),
            value.len() as _,
            [0u8; 24].as_ptr(),
            sodium_key.as_ptr(),
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(boxed.len(), LEGACY_SESSION_STORED_LEN);
    assert_eq!(legacy_encrypt_value(name, &value).unwrap(), boxed);
    // A 49-byte Session record goes down the legacy path.
    assert_eq!(
        decrypt_stored_value(OnsType::Session, name, &boxed).unwrap(),
        value
    );
    let mut bad = boxed.clone();
    bad[20] ^= 1;
    assert!(matches!(
        legacy_decrypt_value(name, &bad),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        legacy_decrypt_value(name, &bad[..10]),
        Err(CryptoError::InvalidLength { .. })
    ));
}
