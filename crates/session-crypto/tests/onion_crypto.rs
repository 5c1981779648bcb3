//! Onion hop-crypto vectors (onion.json: `hop_decrypt`, `encrypt_sizes.grumpy_cat`, the
//! crypto half of `parser_request_blob.aes_gcm`), round trips for both AEADs and
//! refusals of tampered and truncated blobs.

// Helpers outside `#[test]` functions (here and in `common`) are test code too; clippy.toml's
// allow-*-in-tests settings only cover `#[test]` functions and `#[cfg(test)]` modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use proptest::prelude::*;
use session_crypto::error::CryptoError;
use session_crypto::onion::{
    EncType, HopKey, client_encrypt, client_encrypt_with, derive_hop_key, node_decrypt,
};
use session_crypto::x25519::{X25519Keypair, X25519SecretKey};

fn arr32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap()
}

fn keypair(v: &common::Vector, sec: &str, public: &str) -> X25519Keypair {
    let kp = X25519Keypair::from_secret(X25519SecretKey::from_slice(&v.input_hex(sec)).unwrap());
    assert_eq!(
        kp.public().to_vec(),
        v.input_hex(public),
        "{}: {public}",
        v.id
    );
    kp
}

#[test]
fn hop_decrypt_vector() {
    let v = common::vector("onion", "hop_decrypt");
    let client = keypair(&v, "client_eph_sec_a", "client_eph_pub_A");
    let node = keypair(&v, "node_sec_b", "node_pub_B");
    let plaintext = v.expected_hex("plaintext_hex");
    assert_eq!(plaintext, v.expected_str("plaintext_ascii").as_bytes());

    let shared = node.diffie_hellman(client.public()).unwrap();
    assert_eq!(shared.to_vec(), v.expected_hex("shared_secret"));
    assert_eq!(
        derive_hop_key(EncType::AesGcm, &shared, client.public(), node.public()).to_vec(),
        v.expected_hex("aes_gcm_key")
    );
    assert_eq!(
        derive_hop_key(EncType::XChaCha20, &shared, client.public(), node.public()).to_vec(),
        v.expected_hex("xchacha_key")
    );

    for (enc, field) in [
        (EncType::AesGcm, "enc_aes_gcm"),
        (EncType::XChaCha20, "enc_xchacha20"),
    ] {
        let blob = v.input_hex(field);
        assert_eq!(blob.len(), plaintext.len() + enc.overhead());
        // The node decrypts with its key and the client's ephemeral key…
        let layer = node_decrypt(enc, &node, client.public(), &blob).unwrap();
        assert_eq!(layer.plaintext, plaintext);
        // …and the client with its ephemeral key (same key, both directions).
        let ck = HopKey::for_client(enc, &client, node.public()).unwrap();
        assert_eq!(ck.decrypt(&blob).unwrap(), plaintext);
        // Re-encrypting with the blob's own nonce reproduces it exactly.
        let nonce = &blob[..enc.nonce_len()];
        assert_eq!(ck.encrypt_with_nonce(&plaintext, nonce).unwrap(), blob);
        let again = client_encrypt_with(enc, &client, node.public(), &plaintext, nonce).unwrap();
        assert_eq!(again.ciphertext, blob);
        assert_eq!(&again.ephemeral_public, client.public());
        // The reply goes back under the same key.
        let reply = layer.key.encrypt(b"reply").unwrap();
        assert_eq!(ck.decrypt(&reply).unwrap(), b"reply");
    }

    let must_fail = v.expected["must_fail"].as_array().unwrap();
    assert_eq!(must_fail.len(), 4);
    for case in must_fail {
        let enc: EncType = case["cipher"].as_str().unwrap().parse().unwrap();
        let ct = hex::decode(case["ciphertext"].as_str().unwrap()).unwrap();
        let err = node_decrypt(enc, &node, client.public(), &ct).unwrap_err();
        assert!(
            matches!(err, CryptoError::DecryptionFailed { .. }),
            "{}: {err:?}",
            case["change"]
        );
        let ck = HopKey::for_client(enc, &client, node.public()).unwrap();
        assert!(matches!(
            ck.decrypt(&ct),
            Err(CryptoError::DecryptionFailed { .. })
        ));
    }
}

#[test]
fn grumpy_cat_sizes_and_direction() {
    let v = common::vector("onion", "encrypt_sizes.grumpy_cat");
    let alice = keypair(&v, "alice_sec", "alice_pub");
    let bob = keypair(&v, "bob_sec", "bob_pub");
    let plaintext = v.input_hex("plaintext_hex");
    assert_eq!(plaintext, v.input_str("plaintext_ascii").as_bytes());

    let shared = alice.diffie_hellman(bob.public()).unwrap();
    assert_eq!(shared.to_vec(), v.expected_hex("shared_secret"));
    assert_eq!(
        derive_hop_key(EncType::AesGcm, &shared, alice.public(), bob.public()).to_vec(),
        v.expected_hex("aes_gcm_key")
    );
    assert_eq!(
        derive_hop_key(EncType::XChaCha20, &shared, alice.public(), bob.public()).to_vec(),
        v.expected_hex("xchacha_key_alice_client_bob_server")
    );

    for (enc, size_key) in [
        (EncType::AesGcm, "aes_gcm_len"),
        (EncType::XChaCha20, "xchacha20_len"),
    ] {
        let want = v.expected[size_key].as_u64().unwrap() as usize;
        let layer = client_encrypt_with(
            enc,
            &alice,
            bob.public(),
            &plaintext,
            &vec![3u8; enc.nonce_len()],
        )
        .unwrap();
        assert_eq!(layer.ciphertext.len(), want, "{enc}");
        let random = client_encrypt(enc, bob.public(), &plaintext).unwrap();
        assert_eq!(random.ciphertext.len(), want);

        // Alice as client, Bob as server: works.
        let at_bob = node_decrypt(enc, &bob, alice.public(), &layer.ciphertext).unwrap();
        assert_eq!(at_bob.plaintext, plaintext);
        // Bob's reply decrypts for Alice-the-client.
        let reply = at_bob.key.encrypt(&plaintext).unwrap();
        assert_eq!(reply.len(), want);
        assert_eq!(layer.key.decrypt(&reply).unwrap(), plaintext);

        // Client↔client and server↔server: XChaCha keys differ (key order), AES-GCM keys
        // are symmetric and still agree.
        let bob_as_client = HopKey::for_client(enc, &bob, alice.public()).unwrap();
        let alice_as_server = HopKey::for_node(enc, &alice, bob.public()).unwrap();
        match enc {
            EncType::XChaCha20 => {
                assert!(matches!(
                    bob_as_client.decrypt(&layer.ciphertext),
                    Err(CryptoError::DecryptionFailed { .. })
                ));
                assert!(matches!(
                    alice_as_server.decrypt(&reply),
                    Err(CryptoError::DecryptionFailed { .. })
                ));
            }
            EncType::AesGcm => {
                assert_eq!(bob_as_client.decrypt(&layer.ciphertext).unwrap(), plaintext);
            }
        }
    }
    // Legacy AES-CBC (48 bytes here) is not an enc_type this crate speaks.
    assert_eq!(v.expected["aes_cbc_len"].as_u64(), Some(48));
    assert!(matches!(
        EncType::parse("aes-cbc"),
        Err(CryptoError::Malformed { .. })
    ));
}

#[test]
fn parser_request_blob_aes_gcm_decrypts() {
    let v = common::vector("onion", "parser_request_blob.aes_gcm");
    let node = keypair(&v, "node_x25519_sec", "node_x25519_pub");
    let client = X25519Keypair::from_secret(
        X25519SecretKey::from_slice(&v.input_hex("client_eph_sec")).unwrap(),
    );
    assert_eq!(client.public().to_vec(), v.expected_hex("remote_pubkey"));

    // Split the frame by hand: u32le(len) || ciphertext || JSON metadata.
    let blob = v.input_hex("blob");
    let len = u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize;
    assert_eq!(len as u64, v.expected["length_prefix"].as_u64().unwrap());
    let ct = &blob[4..4 + len];
    assert_eq!(ct, v.expected_hex("ciphertext"));
    let meta_text = std::str::from_utf8(&blob[4 + len..]).unwrap();
    assert_eq!(meta_text, v.expected_str("metadata_json"));
    let meta: serde_json::Value = serde_json::from_str(meta_text).unwrap();
    let enc = meta
        .get("enc_type")
        .and_then(|e| e.as_str())
        .map_or(Ok(EncType::default()), EncType::parse)
        .unwrap();
    assert_eq!(enc, EncType::AesGcm);
    let eph = arr32(&hex::decode(meta["ephemeral_key"].as_str().unwrap()).unwrap());
    assert_eq!(&eph, client.public());

    let shared = node.diffie_hellman(&eph).unwrap();
    assert_eq!(shared.to_vec(), v.expected_hex("shared_secret"));
    assert_eq!(
        derive_hop_key(enc, &shared, &eph, node.public()).to_vec(),
        v.expected_hex("aes_gcm_key")
    );
    let layer = node_decrypt(enc, &node, &eph, ct).unwrap();
    assert_eq!(layer.plaintext, v.expected_hex("payload_hex"));
    assert_eq!(layer.plaintext, v.expected_str("payload_ascii").as_bytes());

    // The reply to the same ephemeral key: 13-byte body → 41 bytes; the client reads it.
    let reply = layer.key.encrypt(b"Goodbye world").unwrap();
    assert_eq!(
        reply.len() as u64,
        v.expected["reply_len_for_13_byte_body"].as_u64().unwrap()
    );
    let ck = HopKey::for_client(enc, &client, node.public()).unwrap();
    assert_eq!(ck.decrypt(&reply).unwrap(), b"Goodbye world");
}

#[test]
fn truncated_and_tampered_blobs() {
    let client = X25519Keypair::from_secret(X25519SecretKey::from_array([1; 32]));
    let node = X25519Keypair::from_secret(X25519SecretKey::from_array([2; 32]));
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let layer = client_encrypt(enc, node.public(), b"payload").unwrap();
        let blob = &layer.ciphertext;
        for len in [0, 1, enc.nonce_len(), enc.overhead() - 1] {
            assert!(matches!(
                node_decrypt(enc, &node, client.public(), &blob[..len]),
                Err(CryptoError::InvalidLength { got, .. }) if got == len
            ));
        }
        // Exactly the overhead: a valid-length blob of an empty message, but not this one.
        assert!(matches!(
            node_decrypt(enc, &node, &layer.ephemeral_public, &blob[..enc.overhead()]),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x80;
            assert!(matches!(
                node_decrypt(enc, &node, &layer.ephemeral_public, &bad),
                Err(CryptoError::DecryptionFailed { .. })
            ));
        }
        // Wrong node key, wrong ephemeral key, wrong AEAD.
        assert!(matches!(
            node_decrypt(enc, &client, &layer.ephemeral_public, blob),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        assert!(matches!(
            node_decrypt(enc, &node, client.public(), blob),
            Err(CryptoError::DecryptionFailed { .. })
        ));
        let other = if enc == EncType::AesGcm {
            EncType::XChaCha20
        } else {
            EncType::AesGcm
        };
        assert!(node_decrypt(other, &node, &layer.ephemeral_public, blob).is_err());
        // Wrong nonce length for the deterministic variant.
        assert!(matches!(
            layer.key.encrypt_with_nonce(b"x", &[0u8; 16]),
            Err(CryptoError::InvalidLength { got: 16, .. })
        ));
        // Small-order peer keys give a weak shared secret.
        assert!(matches!(
            HopKey::for_client(enc, &client, &[0u8; 32]),
            Err(CryptoError::WeakSharedSecret { .. })
        ));
        assert!(matches!(
            node_decrypt(enc, &node, &[0u8; 32], blob),
            Err(CryptoError::WeakSharedSecret { .. })
        ));
    }
}

#[test]
fn reply_fallback_to_aes_gcm() {
    // libsession: an XChaCha20 request whose reply does not decrypt as XChaCha20 is
    // retried as AES-GCM (legacy servers).
    let node = X25519Keypair::from_secret(X25519SecretKey::from_array([5; 32]));
    let layer = client_encrypt(EncType::XChaCha20, node.public(), b"req").unwrap();
    let at_node = node_decrypt(
        EncType::XChaCha20,
        &node,
        &layer.ephemeral_public,
        &layer.ciphertext,
    )
    .unwrap();
    let xchacha_reply = at_node.key.encrypt(b"new").unwrap();
    assert_eq!(layer.key.decrypt_reply(&xchacha_reply).unwrap(), b"new");
    let gcm_node = HopKey::for_node(EncType::AesGcm, &node, &layer.ephemeral_public).unwrap();
    let gcm_reply = gcm_node.encrypt(b"legacy").unwrap();
    assert!(layer.key.decrypt(&gcm_reply).is_err());
    assert_eq!(layer.key.decrypt_reply(&gcm_reply).unwrap(), b"legacy");
    // Garbage fails with the first (XChaCha20) error.
    assert!(matches!(
        layer.key.decrypt_reply(&[0u8; 60]),
        Err(CryptoError::DecryptionFailed { what }) if what.contains("xchacha20")
    ));
}

#[test]
fn enc_type_names() {
    for (name, enc) in [
        ("aes-gcm", EncType::AesGcm),
        ("gcm", EncType::AesGcm),
        ("xchacha20", EncType::XChaCha20),
        ("xchacha20-poly1305", EncType::XChaCha20),
    ] {
        assert_eq!(EncType::parse(name).unwrap(), enc);
        assert_eq!(EncType::parse(enc.as_str()).unwrap(), enc);
    }
    assert_eq!(EncType::default(), EncType::AesGcm);
    assert_eq!(EncType::AesGcm.overhead(), 28);
    assert_eq!(EncType::XChaCha20.overhead(), 40);
    for bad in ["", "AES-GCM", "cbc", "xchacha", "aes-gcm "] {
        assert!(matches!(
            EncType::parse(bad),
            Err(CryptoError::Malformed {
                what: "onion enc_type",
                ..
            })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn onion_round_trip(
        client_sec in any::<[u8; 32]>(),
        node_sec in any::<[u8; 32]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        reply in proptest::collection::vec(any::<u8>(), 0..128),
        xchacha in any::<bool>(),
        nonce in any::<[u8; 24]>(),
    ) {
        let enc = if xchacha { EncType::XChaCha20 } else { EncType::AesGcm };
        let client = X25519Keypair::from_secret(X25519SecretKey::from_array(client_sec));
        let node = X25519Keypair::from_secret(X25519SecretKey::from_array(node_sec));
        let layer = client_encrypt_with(enc, &client, node.public(), &plaintext, &nonce[..enc.nonce_len()]).unwrap();
        prop_assert_eq!(layer.ciphertext.len(), plaintext.len() + enc.overhead());
        let at_node = node_decrypt(enc, &node, &layer.ephemeral_public, &layer.ciphertext).unwrap();
        prop_assert_eq!(&at_node.plaintext, &plaintext);
        let back = at_node.key.encrypt(&reply).unwrap();
        prop_assert_eq!(layer.key.decrypt(&back).unwrap(), reply);
    }

    #[test]
    fn decrypt_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..100), xchacha in any::<bool>()) {
        let enc = if xchacha { EncType::XChaCha20 } else { EncType::AesGcm };
        let node = X25519Keypair::from_secret(X25519SecretKey::from_array([7; 32]));
        let client = X25519Keypair::from_secret(X25519SecretKey::from_array([8; 32]));
        prop_assert!(node_decrypt(enc, &node, client.public(), &blob).is_err());
    }
}
