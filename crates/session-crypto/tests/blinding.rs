//! Blinding vectors (blinding.json): blind15/blind25 ids and key pairs, blinded
//! signatures with both nonce styles, the 07 version-blinded key, and the blinded-DM
//! layout size; plus property tests and bad-input tests.

// Helpers outside `#[test]` functions (here and in `common`) are test code too; clippy.toml's
// allow-*-in-tests settings only cover `#[test]` functions and `#[cfg(test)]` modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use proptest::prelude::*;
use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::blinding::{
    BlindedKeypair, Blinding, NonceStyle, blind15_abs, blind15_factor, blind15_ids, blind25_id,
    blinded_id_from_ed25519, is_valid_ed25519_point, session_id_matches_blinded_id,
    version_blinded_id, version_blinded_keypair, version_sign, version_sign_request,
    version_signed_message,
};
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed, verify};
use session_crypto::error::CryptoError;
use session_crypto::keys::AccountKeys;

fn arr32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap()
}

fn keys_from_hex_sk(v: &common::Vector, field: &str) -> Ed25519Keypair {
    Ed25519Keypair::from_seed(Ed25519Seed::from_bytes(&v.input_hex(field)).unwrap())
}

#[test]
fn blind25_ids_from_session_ids() {
    let v = common::vector("blinding", "blind25_id");
    let sid1: AccountId = v.input_str("session_id_1").parse().unwrap();
    let sid2: AccountId = v.input_str("session_id_2").parse().unwrap();
    let a = arr32(&v.input_hex("server_pk_A"));
    let b = arr32(&v.input_hex("server_pk_B"));
    for (sid, server, key) in [
        (&sid1, &a, "blind25_sid1_serverA"),
        (&sid1, &b, "blind25_sid1_serverB"),
        (&sid2, &a, "blind25_sid2_serverA"),
    ] {
        let id = blind25_id(sid, server).unwrap();
        assert_eq!(id.to_string(), v.expected_str(key), "{key}");
        assert!(session_id_matches_blinded_id(sid, &id, server).unwrap());
    }
    // The id for one server does not match on another.
    let id = blind25_id(&sid1, &a).unwrap();
    assert!(!session_id_matches_blinded_id(&sid1, &id, &b).unwrap());
    assert!(!session_id_matches_blinded_id(&sid2, &id, &a).unwrap());
}

#[test]
fn blind15_ids_from_session_ids() {
    let v = common::vector("blinding", "blind15_id");
    let server = arr32(&v.input_hex("server_pk_A"));
    for (n, sid_key) in [(1, "session_id_1"), (2, "session_id_2")] {
        let sid: AccountId = v.input_str(sid_key).parse().unwrap();
        let [pos, neg] = blind15_ids(&sid, &server).unwrap();
        assert_eq!(
            pos.to_string(),
            v.expected_str(&format!("blind15_sid{n}_serverA_positive"))
        );
        assert_eq!(
            neg.to_string(),
            v.expected_str(&format!("blind15_sid{n}_serverA_negative"))
        );
        assert!(session_id_matches_blinded_id(&sid, &pos, &server).unwrap());
        assert!(session_id_matches_blinded_id(&sid, &neg, &server).unwrap());
        // PySOGS's sign-cleared form is the same for both candidates.
        assert_eq!(blind15_abs(&pos), blind15_abs(&neg));
        assert_eq!(blind15_abs(&pos).key()[31] & 0x80, 0);
        assert!([pos, neg].contains(&blind15_abs(&pos)));
        let mut other = [0u8; 32];
        other[0] = 1;
        assert!(!session_id_matches_blinded_id(&sid, &pos, &other).unwrap());
    }
}

fn check_blind_sign(id: &str) {
    let v = common::vector("blinding", id);
    let keys = keys_from_hex_sk(&v, "ed25519_sk_64");
    let server = arr32(&v.input_hex("server_pk"));
    let msg = v.input_hex("message_hex");
    assert_eq!(msg, v.input_str("message_ascii").as_bytes());

    let b25 = BlindedKeypair::blind25(&keys, &server);
    assert_eq!(b25.account_id().to_string(), v.expected_str("blind25_id"));
    let sig25 = b25.sign(&msg);
    assert_eq!(sig25.to_vec(), v.expected_hex("blind25_sig"));
    verify(b25.public_key().as_bytes(), &msg, &sig25).unwrap();
    // blind25 has a single nonce derivation.
    assert_eq!(b25.sign_with_style(NonceStyle::Desktop, &msg), sig25);

    let b15 = BlindedKeypair::blind15(&keys, &server);
    assert_eq!(
        b15.account_id().to_string(),
        v.expected_str("blind15_pubkey_from_keypair")
    );
    let sig15 = b15.sign(&msg);
    assert_eq!(sig15.to_vec(), v.expected_hex("blind15_sig"));
    verify(b15.public_key().as_bytes(), &msg, &sig15).unwrap();
    // The desktop nonce gives another signature that verifies just as well.
    let desk = b15.sign_with_style(NonceStyle::Desktop, &msg);
    assert_ne!(desk, sig15);
    verify(b15.public_key().as_bytes(), &msg, &desk).unwrap();

    // The real ids are among the ids computed from the Session ID alone.
    let sid = AccountKeys::from_seed(keys.seed().clone()).session_id();
    assert!(
        blind15_ids(&sid, &server)
            .unwrap()
            .contains(&b15.account_id())
    );
    assert_eq!(blind25_id(&sid, &server).unwrap(), b25.account_id());
    for (blinding, kp) in [(Blinding::Blind15, &b15), (Blinding::Blind25, &b25)] {
        assert_eq!(
            blinded_id_from_ed25519(blinding, &keys.public(), &server).unwrap(),
            kp.account_id()
        );
    }
}

#[test]
fn blind_sign_0() {
    check_blind_sign("blind_sign.0");
}

#[test]
fn blind_sign_1() {
    check_blind_sign("blind_sign.1");
}

#[test]
fn version_blinding_keypair_and_signature() {
    let v = common::vector("blinding", "version_blinding.keypair_and_sig");
    let keys = keys_from_hex_sk(&v, "ed25519_sk_64");
    let ts = v.input["timestamp"].as_u64().unwrap();
    let platform = v.input_str("platform");
    let blinded = version_blinded_keypair(keys.seed());
    assert_eq!(
        blinded.seed().as_bytes().to_vec(),
        v.expected_hex("blinded_seed")
    );
    assert_eq!(
        blinded.public().0.to_vec(),
        v.expected_hex("blinded_pubkey")
    );
    assert_eq!(
        blinded.secret_key_64().to_vec(),
        v.expected_hex("blinded_sk_64")
    );
    let id = version_blinded_id(keys.seed());
    assert_eq!(id.prefix(), IdPrefix::VersionBlinded);
    assert_eq!(id.to_string(), v.expected_str("header_pubkey"));

    let path = format!("/session_version?platform={platform}");
    let msg = version_signed_message(ts, "GET", &path, &[]);
    assert_eq!(msg, v.expected_hex("signed_message_hex"));
    assert_eq!(msg, v.expected_str("signed_message_ascii").as_bytes());
    let sig = version_sign(keys.seed(), platform, ts);
    assert_eq!(sig.to_vec(), v.expected_hex("signature"));
    assert_eq!(
        version_sign_request(keys.seed(), ts, "GET", &path, &[]),
        sig
    );
    blinded.public().verify(&msg, &sig).unwrap();

    // With a body, its BLAKE2b-512 is appended (what session-file-server verifies).
    let with_body = version_signed_message(ts, "POST", "/x", b"body");
    assert_eq!(with_body.len(), 10 + 4 + 2 + 64);
    let sig = version_sign_request(keys.seed(), ts, "POST", "/x", b"body");
    blinded.public().verify(&with_body, &sig).unwrap();
}

#[test]
fn derived_blind15_factor() {
    let v = common::vector("blinding", "derived.blind15.factor.server_6a32c7b4");
    let k = blind15_factor(&arr32(&v.input_hex("server_pk")));
    assert_eq!(k.as_bytes().to_vec(), v.expected_hex("k"));
}

#[test]
fn pysogs_blind15_from_seed() {
    for n in 1..=14 {
        let id = format!("sogs.blind15_from_seed.{n:02}");
        let v = common::vector("blinding", &id);
        let seed = Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap();
        let server = arr32(&v.input_hex("server_pk"));
        let keys = AccountKeys::from_seed(seed.clone());
        assert_eq!(
            keys.session_id().to_string(),
            v.expected_str("session_id"),
            "{id}"
        );
        let b15 = BlindedKeypair::from_seed(Blinding::Blind15, &seed, &server);
        let expected: AccountId = v.expected_str("blinded_id_15").parse().unwrap();
        assert_eq!(b15.account_id(), expected, "{id}");
        assert!(
            blind15_ids(&keys.session_id(), &server)
                .unwrap()
                .contains(&expected)
        );
        assert!(session_id_matches_blinded_id(&keys.session_id(), &expected, &server).unwrap());
    }
}

#[test]
fn derived_session_encrypt_keys() {
    let v = common::vector(
        "blinding",
        "derived.blind_ids.session_encrypt_keys.01234567",
    );
    let seed = Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap();
    let server = arr32(&v.input_hex("server_pk"));
    let keys = AccountKeys::from_seed(seed);
    assert_eq!(
        keys.ed25519_public().0.to_vec(),
        v.expected_hex("ed25519_pubkey")
    );
    assert_eq!(
        keys.x25519().public().to_vec(),
        v.expected_hex("x25519_pubkey")
    );
    let b15 = BlindedKeypair::blind15(keys.ed25519(), &server);
    let b25 = BlindedKeypair::blind25(keys.ed25519(), &server);
    assert_eq!(
        b15.account_id().to_string(),
        v.expected_str("blinded_id_15")
    );
    assert_eq!(
        b25.account_id().to_string(),
        v.expected_str("blinded_id_25")
    );
    assert_eq!(
        blind25_id(&keys.session_id(), &server).unwrap(),
        b25.account_id()
    );
}

#[test]
fn wrong_prefixes_are_rejected() {
    let v = common::vector("blinding", "blind25_id");
    let sid: AccountId = v.input_str("session_id_1").parse().unwrap();
    let server = arr32(&v.input_hex("server_pk_A"));
    let not_sid = AccountId::new(IdPrefix::Blinded15, *sid.key());
    assert!(matches!(
        blind15_ids(&not_sid, &server),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert!(matches!(
        blind25_id(&not_sid, &server),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    // A blinded id must be 15 or 25.
    let group = AccountId::new(IdPrefix::Group, *sid.key());
    let err = session_id_matches_blinded_id(&sid, &group, &server).unwrap_err();
    assert!(matches!(err, CryptoError::WrongIdPrefix { ref found, .. } if found == "03"));
    assert!(matches!(
        Blinding::from_prefix(IdPrefix::Unblinded),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert_eq!(
        Blinding::from_prefix(IdPrefix::Blinded25).unwrap(),
        Blinding::Blind25
    );
}

#[test]
fn invalid_keys_are_rejected() {
    let server = [9u8; 32];
    // u = 0 is a small-order X25519 point: its XEd25519 form is of small order.
    let bad_sid = AccountId::new(IdPrefix::Standard, [0u8; 32]);
    assert!(matches!(
        blind15_ids(&bad_sid, &server),
        Err(CryptoError::InvalidPublicKey { .. })
    ));
    assert!(matches!(
        blind25_id(&bad_sid, &server),
        Err(CryptoError::InvalidPublicKey { .. })
    ));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(!is_valid_ed25519_point(&identity));
    let id_pk = session_crypto::ed25519::Ed25519PublicKey(identity);
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        assert!(matches!(
            blinded_id_from_ed25519(blinding, &id_pk, &server),
            Err(CryptoError::InvalidPublicKey { .. })
        ));
    }
}

#[test]
fn blinded_signature_fails_under_wrong_key_or_message() {
    let keys = Ed25519Keypair::from_seed(Ed25519Seed::from_array([5; 32]));
    let server = [0x11u8; 32];
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let b = BlindedKeypair::new(blinding, &keys, &server);
        let sig = b.sign(b"message");
        // Unblinded key, other server's blinded key, altered message, flipped bits.
        assert!(matches!(
            verify(keys.public().as_bytes(), b"message", &sig),
            Err(CryptoError::BadSignature { .. })
        ));
        let other = BlindedKeypair::new(blinding, &keys, &[0x12; 32]);
        assert!(matches!(
            verify(other.public_key().as_bytes(), b"message", &sig),
            Err(CryptoError::BadSignature { .. })
        ));
        assert!(matches!(
            b.public_key().verify(b"messagE", &sig),
            Err(CryptoError::BadSignature { .. })
        ));
        for bit in [0usize, 100, 255, 256, 400, 511] {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                b.public_key().verify(b"message", &bad).is_err(),
                "bit {bit}"
            );
        }
        assert!(matches!(
            b.public_key().verify(b"message", &sig[..63]),
            Err(CryptoError::InvalidLength { got: 63, .. })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn blinded_sign_verify_round_trip(
        seed in any::<[u8; 32]>(),
        server in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let keys = Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed));
        let sid = AccountKeys::from_seed(Ed25519Seed::from_array(seed)).session_id();
        for blinding in [Blinding::Blind15, Blinding::Blind25] {
            let b = BlindedKeypair::new(blinding, &keys, &server);
            for style in [NonceStyle::Libsession, NonceStyle::Desktop] {
                let sig = b.sign_with_style(style, &msg);
                prop_assert!(b.public_key().verify(&msg, &sig).is_ok());
            }
            prop_assert!(session_id_matches_blinded_id(&sid, &b.account_id(), &server).unwrap());
            prop_assert_eq!(
                blinded_id_from_ed25519(blinding, &keys.public(), &server).unwrap(),
                b.account_id()
            );
        }
    }
}
