//! Blinded community DMs: the layout vector (blinding.json), inbox/outbox round trips
//! for blind15 and blind25, cross-checks of the key agreement, and refusals.

// Helpers outside `#[test]` functions (here and in `common`) are test code too; clippy.toml's
// allow-*-in-tests settings only cover `#[test]` functions and `#[cfg(test)]` modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use proptest::prelude::*;
use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::aead::xchacha20poly1305_encrypt;
use session_crypto::blinding::{BlindedKeypair, Blinding, blind15_ids};
use session_crypto::community_dm::{
    DmRole, OVERHEAD, VERSION, decrypt_community_dm, decrypt_inbox, decrypt_outbox,
    encrypt_for_blinded_recipient, encrypt_for_blinded_recipient_with_nonce,
};
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_crypto::error::CryptoError;
use session_crypto::hash::blake2b;
use session_crypto::keys::AccountKeys;

const SERVER: [u8; 32] = [
    0x1d, 0x7e, 0x7f, 0x92, 0xb1, 0xed, 0x36, 0x43, 0x85, 0x5c, 0x98, 0xec, 0xac, 0x02, 0xfc, 0x72,
    0x74, 0x03, 0x3a, 0x34, 0x67, 0x65, 0x3f, 0x04, 0x7d, 0x6e, 0x43, 0x35, 0x40, 0xc0, 0x3f, 0x17,
];

fn account(seed_byte: u8) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_array([seed_byte; 32]))
}

/// The sender of libsession's encryption test (seed 0123…cdef + 16 zeros), and a
/// recipient with a negative Ed25519 key (so the blind15 sign matters).
fn parties() -> (AccountKeys, AccountKeys) {
    let v = common::vector(
        "blinding",
        "derived.blind_ids.session_encrypt_keys.01234567",
    );
    let alice =
        AccountKeys::from_seed(Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap());
    let bob = (1u8..)
        .map(account)
        .find(|k| k.ed25519_public().0[31] & 0x80 != 0)
        .unwrap();
    (alice, bob)
}

fn blinded(keys: &AccountKeys, blinding: Blinding) -> BlindedKeypair {
    BlindedKeypair::new(blinding, keys.ed25519(), &SERVER)
}

#[test]
fn layout_size_vector() {
    let v = common::vector("blinding", "derived.blinded_dm.layout_size");
    let len = v.input["message_len"].as_u64().unwrap() as usize;
    let want = v.expected["ciphertext_len"].as_u64().unwrap() as usize;
    let (alice, bob) = parties();
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let to = blinded(&bob, blinding).account_id();
        let blob =
            encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &to, &vec![7u8; len]).unwrap();
        assert_eq!(blob.len(), want);
        assert_eq!(blob.len(), len + OVERHEAD);
        assert_eq!(blob[0], VERSION);
    }
}

#[test]
fn deterministic_layout_and_key_agreement() {
    // Rebuild the blob by hand from the spec's formulas and compare byte for byte.
    let (alice, bob) = parties();
    let nonce = [0x5au8; 24];
    let msg = b"hello bob";
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let ka = blinded(&alice, blinding);
        let jb = blinded(&bob, blinding);
        let blob = encrypt_for_blinded_recipient_with_nonce(
            alice.ed25519(),
            &SERVER,
            &jb.account_id(),
            msg,
            &nonce,
        )
        .unwrap();
        // Shared point from the recipient's side: [b]·kA for blind15 (single blinding),
        // [j'·b]·kA for blind25 (j' = Bob's blind25 factor with the sign of his key).
        let shared = match blinding {
            Blinding::Blind15 => curve_mul(&bob.ed25519().scalar(), ka.public_key().as_bytes()),
            Blinding::Blind25 => {
                let mut k =
                    session_crypto::blinding::blind25_factor(bob.x25519().public(), &SERVER);
                if bob.ed25519_public().0[31] & 0x80 != 0 {
                    k = -k;
                }
                curve_mul(&(k * bob.ed25519().scalar()), ka.public_key().as_bytes())
            }
        };
        let key = blake2b::<32>(&[
            &shared,
            ka.public_key().as_bytes(),
            jb.public_key().as_bytes(),
        ]);
        let mut inner = msg.to_vec();
        inner.extend_from_slice(alice.ed25519_public().as_bytes());
        let mut expected = vec![0u8];
        expected.extend(xchacha20poly1305_encrypt(&key, &nonce, &[], &inner));
        expected.extend_from_slice(&nonce);
        assert_eq!(blob, expected, "{blinding:?}");
        assert_eq!(&blob[blob.len() - 24..], &nonce);
    }
}

fn curve_mul(s: &curve25519_dalek::scalar::Scalar, p: &[u8; 32]) -> [u8; 32] {
    session_crypto::curve::scalarmult_noclamp(s, p, "p").unwrap()
}

#[test]
fn inbox_and_outbox_round_trip() {
    let (alice, bob) = parties();
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let ka = blinded(&alice, blinding).account_id();
        let jb = blinded(&bob, blinding).account_id();
        let blob =
            encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &jb, b"hi there").unwrap();

        let inbox = decrypt_inbox(bob.ed25519(), &SERVER, &ka, &blob).unwrap();
        assert_eq!(inbox.message, b"hi there");
        assert_eq!(inbox.sender_session_id, alice.session_id());
        assert_eq!(inbox.sender_ed25519, alice.ed25519_public());
        assert_eq!(inbox.sender_blinded_id, ka);
        assert_eq!(inbox.role, DmRole::Inbox);

        let outbox = decrypt_outbox(alice.ed25519(), &SERVER, &jb, &blob).unwrap();
        assert_eq!(outbox.message, b"hi there");
        assert_eq!(outbox.sender_session_id, alice.session_id());
        assert_eq!(outbox.role, DmRole::Outbox);

        // The libsession-style entry point picks the role from the ids.
        let auto_in = decrypt_community_dm(bob.ed25519(), &SERVER, &ka, &jb, &blob).unwrap();
        assert_eq!(auto_in, inbox);
        let auto_out = decrypt_community_dm(alice.ed25519(), &SERVER, &ka, &jb, &blob).unwrap();
        assert_eq!(auto_out, outbox);

        // Debug output never shows the message.
        assert!(!format!("{inbox:?}").contains("hi there"));
    }
}

#[test]
fn blind15_negative_key_sender() {
    // Bob's Ed25519 key is negative, so his real blind15 id is the second ("negative")
    // candidate computed from his Session ID; his DMs still decrypt and verify.
    let (alice, bob) = parties();
    let kb = blinded(&bob, Blinding::Blind15).account_id();
    let ids = blind15_ids(&bob.session_id(), &SERVER).unwrap();
    assert_eq!(kb, ids[1]);
    let ja = blinded(&alice, Blinding::Blind15).account_id();
    let blob = encrypt_for_blinded_recipient(bob.ed25519(), &SERVER, &ja, b"x").unwrap();
    let dm = decrypt_inbox(alice.ed25519(), &SERVER, &kb, &blob).unwrap();
    assert_eq!(dm.sender_session_id, bob.session_id());
    // Presented under the other sign candidate, the key agreement no longer matches.
    assert!(matches!(
        decrypt_inbox(alice.ed25519(), &SERVER, &ids[0], &blob),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn refusals() {
    let (alice, bob) = parties();
    let carol = account(0x33);
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let ka = blinded(&alice, blinding).account_id();
        let jb = blinded(&bob, blinding).account_id();
        let blob = encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &jb, b"secret").unwrap();

        // Wrong version byte.
        let mut bad = blob.clone();
        bad[0] = 1;
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &SERVER, &ka, &bad),
            Err(CryptoError::Malformed {
                what: "community DM",
                ..
            })
        ));
        // Truncated blobs.
        for len in [0, 1, OVERHEAD - 1] {
            assert!(matches!(
                decrypt_inbox(bob.ed25519(), &SERVER, &ka, &blob[..len]),
                Err(CryptoError::InvalidLength { got, .. }) if got == len
            ));
        }
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &SERVER, &ka, &blob[..blob.len() - 1]),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        // Flipped bits anywhere after the version byte.
        for i in [1, 10, blob.len() - 25, blob.len() - 24, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    decrypt_inbox(bob.ed25519(), &SERVER, &ka, &bad),
                    Err(CryptoError::DecryptionFailed { .. })
                ),
                "byte {i}"
            );
        }
        // Wrong server key, wrong recipient, wrong claimed sender.
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &[0x42; 32], &ka, &blob),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        assert!(matches!(
            decrypt_inbox(carol.ed25519(), &SERVER, &ka, &blob),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        let kc = blinded(&carol, blinding).account_id();
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &SERVER, &kc, &blob),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        // Prefix rules: a Session ID, or mixed 15/25 ids.
        assert!(matches!(
            encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &bob.session_id(), b"x"),
            Err(CryptoError::WrongIdPrefix { .. })
        ));
        let other = blinded(
            &bob,
            if blinding == Blinding::Blind15 {
                Blinding::Blind25
            } else {
                Blinding::Blind15
            },
        )
        .account_id();
        assert!(matches!(
            decrypt_community_dm(bob.ed25519(), &SERVER, &ka, &other, &blob),
            Err(CryptoError::WrongIdPrefix { .. })
        ));
        // An invalid recipient point.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let bogus = AccountId::new(blinding.prefix(), identity);
        assert!(matches!(
            encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &bogus, b"x"),
            Err(CryptoError::InvalidPublicKey { .. })
        ));
    }
}

#[test]
fn forged_sender_key_inside_is_refused() {
    // Carol encrypts to Bob correctly under her own blinded key but puts Alice's Ed25519
    // key inside: the key agreement works, the sender check must fail.
    let (alice, bob) = parties();
    let carol = account(0x44);
    let nonce = [9u8; 24];
    for blinding in [Blinding::Blind15, Blinding::Blind25] {
        let kc = blinded(&carol, blinding);
        let jb = blinded(&bob, blinding);
        let good = encrypt_for_blinded_recipient_with_nonce(
            carol.ed25519(),
            &SERVER,
            &jb.account_id(),
            b"msg",
            &nonce,
        )
        .unwrap();
        let dm = decrypt_inbox(bob.ed25519(), &SERVER, &kc.account_id(), &good).unwrap();
        // Recover the key from the outbox side and re-encrypt a forged inner payload.
        let shared = match blinding {
            Blinding::Blind15 => curve_mul(&carol.ed25519().scalar(), jb.public_key().as_bytes()),
            Blinding::Blind25 => {
                let mut k =
                    session_crypto::blinding::blind25_factor(carol.x25519().public(), &SERVER);
                if carol.ed25519_public().0[31] & 0x80 != 0 {
                    k = -k;
                }
                curve_mul(&(k * carol.ed25519().scalar()), jb.public_key().as_bytes())
            }
        };
        let key = blake2b::<32>(&[
            &shared,
            kc.public_key().as_bytes(),
            jb.public_key().as_bytes(),
        ]);
        let mut inner = dm.message.clone();
        inner.extend_from_slice(alice.ed25519_public().as_bytes());
        let mut forged = vec![0u8];
        forged.extend(xchacha20poly1305_encrypt(&key, &nonce, &[], &inner));
        forged.extend_from_slice(&nonce);
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &SERVER, &kc.account_id(), &forged),
            Err(CryptoError::Malformed {
                what: "community DM sender",
                ..
            })
        ));
        // An invalid Ed25519 key inside is refused as such.
        let mut inner = b"msg".to_vec();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        inner.extend_from_slice(&identity);
        let mut forged = vec![0u8];
        forged.extend(xchacha20poly1305_encrypt(&key, &nonce, &[], &inner));
        forged.extend_from_slice(&nonce);
        assert!(matches!(
            decrypt_inbox(bob.ed25519(), &SERVER, &kc.account_id(), &forged),
            Err(CryptoError::InvalidPublicKey { .. })
        ));
    }
}

#[test]
fn session_id_prefix_is_standard() {
    let (alice, bob) = parties();
    let jb = blinded(&bob, Blinding::Blind25).account_id();
    let ka = blinded(&alice, Blinding::Blind25).account_id();
    let blob = encrypt_for_blinded_recipient(alice.ed25519(), &SERVER, &jb, b"").unwrap();
    assert_eq!(blob.len(), OVERHEAD);
    let dm = decrypt_inbox(bob.ed25519(), &SERVER, &ka, &blob).unwrap();
    assert!(dm.message.is_empty());
    assert_eq!(dm.sender_session_id.prefix(), IdPrefix::Standard);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn dm_round_trip(
        a_seed in any::<[u8; 32]>(),
        b_seed in any::<[u8; 32]>(),
        server in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..300),
        use25 in any::<bool>(),
    ) {
        let blinding = if use25 { Blinding::Blind25 } else { Blinding::Blind15 };
        let a = Ed25519Keypair::from_seed(Ed25519Seed::from_array(a_seed));
        let b = Ed25519Keypair::from_seed(Ed25519Seed::from_array(b_seed));
        let ka = BlindedKeypair::new(blinding, &a, &server).account_id();
        let jb = BlindedKeypair::new(blinding, &b, &server).account_id();
        let blob = encrypt_for_blinded_recipient_with_nonce(&a, &server, &jb, &msg, &nonce).unwrap();
        prop_assert_eq!(blob.len(), msg.len() + OVERHEAD);
        let inbox = decrypt_inbox(&b, &server, &ka, &blob).unwrap();
        prop_assert_eq!(&inbox.message, &msg);
        prop_assert_eq!(inbox.sender_ed25519, a.public());
        let outbox = decrypt_outbox(&a, &server, &jb, &blob).unwrap();
        prop_assert_eq!(&outbox.message, &msg);
    }
}
