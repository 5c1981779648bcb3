//! One-to-one message vectors (session_protocol.json) and bad-input handling
//! (client-protocol §3.1–§3.2). The protobuf layers of the `legacy_*` vectors are checked in
//! session-wire; here a minimal field walker digs out the sealed box so that its crypto
//! layer (box, signature, padding, deterministic re-encryption) is checked byte for byte.

// Helpers outside `#[test]` functions may fail the test by panicking too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::ed25519::Ed25519Seed;
use session_crypto::keys::AccountKeys;
use session_crypto::sealed_box;
use session_crypto::session_protocol::{
    MIN_CIPHERTEXT_LEN, decrypt_incoming, encrypt_for_recipient,
    encrypt_for_recipient_deterministic, legacy_padded_len, open_signed, open_signed_with,
    pad_message, pad_message_legacy, padded_len, seal_signed, seal_signed_deterministic,
    unpad_message,
};
use session_crypto::{CryptoError, Ed25519PublicKey};

// ---------------------------------------------------------------------------------------
// A minimal protobuf field walker (test-only; the real codec lives in session-wire).

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return out;
        }
    }
    panic!("varint too long");
}

fn fields(buf: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos);
        let field = match key & 7 {
            0 => Field::Varint(varint(buf, &mut pos)),
            2 => {
                let len = varint(buf, &mut pos) as usize;
                pos += len;
                Field::Bytes(&buf[pos - len..pos])
            }
            w => panic!("unexpected wire type {w}"),
        };
        out.push((key >> 3, field));
    }
    assert_eq!(pos, buf.len());
    out
}

fn bytes_field(buf: &[u8], number: u64) -> &[u8] {
    fields(buf)
        .into_iter()
        .find_map(|(n, f)| match f {
            Field::Bytes(b) if n == number => Some(b),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no bytes field {number}"))
}

fn varint_field(buf: &[u8], number: u64) -> u64 {
    fields(buf)
        .into_iter()
        .find_map(|(n, f)| match f {
            Field::Varint(v) if n == number => Some(v),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no varint field {number}"))
}

/// WebSocketMessage.request(2).body(3) → Envelope.content(8).
fn envelope_content(websocket_message: &[u8]) -> (&[u8], &[u8]) {
    assert_eq!(
        varint_field(websocket_message, 1),
        1,
        "WebSocketMessage.type"
    );
    let request = bytes_field(websocket_message, 2);
    let envelope = bytes_field(request, 3);
    assert_eq!(varint_field(envelope, 1), 6, "Envelope.type");
    (envelope, bytes_field(envelope, 8))
}

fn keys_from_hex(hex_seed: &str) -> AccountKeys {
    AccountKeys::from_seed(Ed25519Seed::from_hex(hex_seed).unwrap())
}

// ---------------------------------------------------------------------------------------
// Vectors.

#[test]
fn deterministic_encrypt_for_recipient_hello() {
    let v = common::vector(
        "session_protocol",
        "encrypt_for_recipient_deterministic.hello",
    );
    let sender = AccountKeys::from_seed(
        Ed25519Seed::from_bytes(&v.input_hex("sender_ed25519_sk_64")).unwrap(),
    );
    let recipient_id = AccountId::parse_session_id(v.input_str("recipient_session_id")).unwrap();
    let message = v.input_hex("message_hex");
    assert_eq!(message, v.input_str("message_ascii").as_bytes());

    let ct = seal_signed_deterministic(&sender, &recipient_id, &message).unwrap();
    assert_eq!(ct, v.expected_hex("ciphertext"));
    assert_eq!(
        ct.len() as u64,
        v.expected["ciphertext_len"].as_u64().unwrap()
    );

    let recipient = keys_from_hex(v.input_str("recipient_ed25519_seed"));
    assert_eq!(recipient.session_id(), recipient_id);
    for msg in [
        open_signed(&recipient, &ct).unwrap(),
        decrypt_incoming(&recipient, &ct).unwrap(),
    ] {
        assert_eq!(msg.content, v.expected_hex("decrypted_message_hex"));
        assert_eq!(
            msg.sender_ed25519.0.to_vec(),
            v.expected_hex("decrypted_sender_ed25519")
        );
        assert_eq!(
            msg.sender_id.to_string(),
            v.expected_str("decrypted_sender_session_id")
        );
    }

    // The randomised twin produces a different box of the same length that opens the same.
    let random = seal_signed(&sender, &recipient_id, &message).unwrap();
    assert_eq!(random.len(), ct.len());
    assert_ne!(random, ct);
    assert_eq!(open_signed(&recipient, &random).unwrap().content, message);
}

#[test]
fn legacy_wrap_crypto_layer_is_byte_exact() {
    let v = common::vector("session_protocol", "legacy_wrap.user_profile_empty_push");
    let keys = keys_from_hex(v.input_str("ed25519_seed"));
    let pushed = v.expected_hex("pushed_bytes");
    assert_eq!(
        pushed.len() as u64,
        v.expected["pushed_len"].as_u64().unwrap()
    );
    let (_, content) = envelope_content(&pushed);

    // Sealed to self, signed by self.
    let opened = open_signed(&keys, content).unwrap();
    assert_eq!(opened.sender_id, keys.session_id());
    assert_eq!(opened.sender_ed25519, keys.ed25519_public());
    // The plaintext is Content || 0x80: one marker byte, no zeros.
    assert_eq!(opened.content.last(), Some(&0x80));
    let unpadded = unpad_message(&opened.content);
    assert_eq!(unpadded.len(), opened.content.len() - 1);
    assert_eq!(decrypt_incoming(&keys, content).unwrap().content, unpadded);

    // Content.sharedConfigMessage(11) = {kind(1) = 1, seqno(2) = 0, data(3)}.
    let shared = bytes_field(unpadded, 11);
    assert_eq!(varint_field(shared, 1), 1);
    assert_eq!(varint_field(shared, 2), 0);
    assert_eq!(
        bytes_field(shared, 3),
        &v.expected_hex("inner_config_ciphertext")[..]
    );

    // Re-encrypting the same plaintext deterministically reproduces the exact box.
    let again = seal_signed_deterministic(&keys, &keys.session_id(), &opened.content).unwrap();
    assert_eq!(again, content);
}

#[test]
fn legacy_old_client_config_blob_crypto_layer() {
    let v = common::vector("session_protocol", "legacy_old_client_config_blob");
    assert_eq!(v.expected["must_unwrap"], true);
    let keys = keys_from_hex(v.input_str("ed25519_seed"));
    assert_eq!(
        keys.session_id().to_string(),
        v.expected_str("owner_session_id")
    );
    let blob = v.input_hex("blob");
    let request = bytes_field(&blob, 2);
    assert_eq!(
        bytes_field(request, 1),
        v.expected_str("request_verb").as_bytes()
    );
    assert_eq!(
        bytes_field(request, 2),
        v.expected_str("request_path").as_bytes()
    );
    let (envelope, content) = envelope_content(&blob);
    assert_eq!(
        varint_field(envelope, 5),
        v.expected["envelope_timestamp"].as_u64().unwrap()
    );

    let opened = open_signed(&keys, content).unwrap();
    assert_eq!(opened.sender_id, keys.session_id());
    let padded_len_expected = v.expected["padded_len"].as_u64().unwrap() as usize;
    let unpadded_len = v.expected["content_len_unpadded"].as_u64().unwrap() as usize;
    assert_eq!(opened.content.len(), padded_len_expected);

    let msg = decrypt_incoming(&keys, content).unwrap();
    assert_eq!(msg.content.len(), unpadded_len);
    assert_eq!(
        msg.sender_id.to_string(),
        v.expected_str("owner_session_id")
    );
    // The old client used the legacy padding rule; the new rule would differ.
    assert_eq!(legacy_padded_len(unpadded_len), padded_len_expected);
    assert_eq!(pad_message_legacy(&msg.content), opened.content);
    assert_ne!(padded_len(unpadded_len), padded_len_expected);

    let shared = bytes_field(&msg.content, 11);
    assert_eq!(
        varint_field(shared, 1),
        v.expected["sharedConfig_kind"].as_u64().unwrap()
    );
    assert_eq!(
        varint_field(shared, 2),
        v.expected["sharedConfig_seqno"].as_u64().unwrap()
    );
    assert_eq!(
        bytes_field(shared, 3).len() as u64,
        v.expected["sharedConfig_data_len"].as_u64().unwrap()
    );
}

#[test]
fn padding_length_vectors() {
    let mut checked = 0;
    for v in common::load("session_protocol")
        .into_iter()
        .filter(|v| v.id.starts_with("derived.padding_lengths"))
    {
        for len in v.input["content_lengths"].as_array().unwrap() {
            let len = len.as_u64().unwrap() as usize;
            let want = &v.expected["padded_lengths"][len.to_string()];
            let new = want["libsession_pad_message_len"].as_u64().unwrap() as usize;
            let legacy = want["legacy_desktop_pad_len"].as_u64().unwrap() as usize;
            assert_eq!(padded_len(len), new, "{}: {len}", v.id);
            assert_eq!(legacy_padded_len(len), legacy, "{}: {len}", v.id);
            let content = vec![0x11u8; len];
            let p = pad_message(&content);
            let l = pad_message_legacy(&content);
            assert_eq!((p.len(), l.len()), (new, legacy));
            assert_eq!(p[len], 0x80);
            assert!(p[len + 1..].iter().all(|b| *b == 0));
            assert_eq!(unpad_message(&p), &content[..]);
            assert_eq!(unpad_message(&l), &content[..]);
            checked += 1;
        }
    }
    // Make sure the named vector is there (the loader panics if it is missing).
    common::vector("session_protocol", "derived.padding_lengths.part1");
    assert!(checked >= 5);
}

// ---------------------------------------------------------------------------------------
// Behaviour and bad input.

fn alice_bob() -> (AccountKeys, AccountKeys) {
    (
        AccountKeys::from_seed(Ed25519Seed::from_array([0xa1; 32])),
        AccountKeys::from_seed(Ed25519Seed::from_bytes(&[0xb0; 16]).unwrap()),
    )
}

#[test]
fn encrypt_pads_and_decrypt_unpads() {
    let (alice, bob) = alice_bob();
    let ct = encrypt_for_recipient(&alice, &bob.session_id(), b"hello bob").unwrap();
    // 160 padded + 96 signature overhead + 48 box.
    assert_eq!(ct.len(), 160 + 96 + 48);
    let raw = open_signed(&bob, &ct).unwrap();
    assert_eq!(raw.content, pad_message(b"hello bob"));
    let msg = decrypt_incoming(&bob, &ct).unwrap();
    assert_eq!(msg.content, b"hello bob");
    assert_eq!(msg.sender_id, alice.session_id());

    let det = encrypt_for_recipient_deterministic(&alice, &bob.session_id(), b"hello bob").unwrap();
    assert_eq!(
        det,
        encrypt_for_recipient_deterministic(&alice, &bob.session_id(), b"hello bob").unwrap()
    );
    assert_eq!(decrypt_incoming(&bob, &det).unwrap().content, b"hello bob");

    // Unpadded plaintexts (as some senders do for non-DM payloads) pass through unchanged.
    let plain = seal_signed(&alice, &bob.session_id(), b"no padding\x00").unwrap();
    assert_eq!(
        decrypt_incoming(&bob, &plain).unwrap().content,
        b"no padding\x00"
    );
    // Empty content.
    let empty = encrypt_for_recipient(&alice, &bob.session_id(), b"").unwrap();
    assert_eq!(decrypt_incoming(&bob, &empty).unwrap().content, b"");
    let empty_raw = seal_signed(&alice, &bob.session_id(), b"").unwrap();
    assert_eq!(empty_raw.len(), MIN_CIPHERTEXT_LEN);
    assert_eq!(decrypt_incoming(&bob, &empty_raw).unwrap().content, b"");
}

#[test]
fn truncated_and_oversized_ciphertexts() {
    let (alice, bob) = alice_bob();
    let ct = encrypt_for_recipient(&alice, &bob.session_id(), b"x").unwrap();
    for len in [0, 1, 47, 48, 100, MIN_CIPHERTEXT_LEN - 1] {
        assert_eq!(
            decrypt_incoming(&bob, &ct[..len]).unwrap_err(),
            CryptoError::InvalidLength {
                what: "one-to-one message ciphertext",
                expected: "at least 144",
                got: len,
            }
        );
    }
    for len in [MIN_CIPHERTEXT_LEN, ct.len() - 1] {
        assert!(matches!(
            decrypt_incoming(&bob, &ct[..len]),
            Err(CryptoError::DecryptionFailed { .. })
        ));
    }
    let mut longer = ct.clone();
    longer.push(0);
    assert!(matches!(
        decrypt_incoming(&bob, &longer),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn every_bit_flip_is_rejected() {
    let (alice, bob) = alice_bob();
    let ct = seal_signed(&alice, &bob.session_id(), b"flip me").unwrap();
    for i in 0..ct.len() {
        for bit in [0u8, 3, 7] {
            let mut bad = ct.clone();
            bad[i] ^= 1 << bit;
            let err = decrypt_incoming(&bob, &bad).unwrap_err();
            assert!(
                matches!(err, CryptoError::DecryptionFailed { what: "sealed box" }),
                "byte {i} bit {bit}: {err:?}"
            );
        }
    }
}

#[test]
fn wrong_recipient_cannot_open() {
    let (alice, bob) = alice_bob();
    let carol = AccountKeys::from_seed(Ed25519Seed::from_array([0xc0; 32]));
    let ct = encrypt_for_recipient(&alice, &bob.session_id(), b"for bob").unwrap();
    assert!(matches!(
        decrypt_incoming(&carol, &ct),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        decrypt_incoming(&alice, &ct),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

/// Seals a hand-built inner plaintext `P || A || SIG` to `recipient`.
fn seal_inner(recipient: &AccountKeys, p: &[u8], a: &[u8; 32], sig: &[u8; 64]) -> Vec<u8> {
    let mut inner = p.to_vec();
    inner.extend_from_slice(a);
    inner.extend_from_slice(sig);
    sealed_box::seal(recipient.x25519().public(), &inner).unwrap()
}

#[test]
fn forged_and_misdirected_signatures() {
    let (alice, bob) = alice_bob();
    let mallory = AccountKeys::from_seed(Ed25519Seed::from_array([0x66; 32]));
    let p = pad_message(b"transfer everything");
    let y = bob.x25519().public();
    let a = alice.ed25519_public().0;
    let bad_sig = CryptoError::BadSignature {
        what: "sender signature of a one-to-one message",
    };

    // Mallory claims to be Alice: she signs with her own key but puts Alice's key in.
    let mut msg = p.clone();
    msg.extend_from_slice(&a);
    msg.extend_from_slice(y);
    let forged = seal_inner(&bob, &p, &a, &mallory.ed25519().sign(&msg));
    assert_eq!(decrypt_incoming(&bob, &forged).unwrap_err(), bad_sig);

    // A genuine signature by Alice for Carol, re-sealed to Bob (the recipient key is
    // signed, so forwarding is detected).
    let carol = AccountKeys::from_seed(Ed25519Seed::from_array([0xc0; 32]));
    let for_carol = encrypt_for_recipient(&alice, &carol.session_id(), b"hi carol").unwrap();
    let inner = open_signed(&carol, &for_carol).unwrap();
    let mut alice_sig_for_carol = inner.content.clone();
    alice_sig_for_carol.extend_from_slice(&a);
    alice_sig_for_carol.extend_from_slice(carol.x25519().public());
    let sig = alice.ed25519().sign(&alice_sig_for_carol);
    let forwarded = seal_inner(&bob, &inner.content, &a, &sig);
    assert_eq!(decrypt_incoming(&bob, &forwarded).unwrap_err(), bad_sig);

    // A tampered plaintext under a valid signature.
    let mut good = p.clone();
    good.extend_from_slice(&a);
    good.extend_from_slice(y);
    let sig = alice.ed25519().sign(&good);
    let mut tampered = p.clone();
    tampered[0] ^= 1;
    let ct = seal_inner(&bob, &tampered, &a, &sig);
    assert_eq!(decrypt_incoming(&bob, &ct).unwrap_err(), bad_sig);
    // ... and the untampered one opens.
    let ct = seal_inner(&bob, &p, &a, &sig);
    assert_eq!(
        decrypt_incoming(&bob, &ct).unwrap().content,
        b"transfer everything"
    );

    // An all-zero signature.
    let ct = seal_inner(&bob, &p, &a, &[0u8; 64]);
    assert_eq!(decrypt_incoming(&bob, &ct).unwrap_err(), bad_sig);
}

#[test]
fn invalid_sender_keys() {
    let (_, bob) = alice_bob();
    let p = pad_message(b"who am i");
    let invalid_key = CryptoError::InvalidPublicKey {
        what: "sender Ed25519 key of a one-to-one message",
    };
    // The identity point (small order), a non-point (y = 2) and all 0xff.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    for a in [identity, not_a_point, [0u8; 32]] {
        let ct = seal_inner(&bob, &p, &a, &[0x11; 64]);
        assert_eq!(
            decrypt_incoming(&bob, &ct).unwrap_err(),
            invalid_key,
            "{}",
            hex::encode(a)
        );
    }
}

#[test]
fn recipient_must_be_a_valid_session_id() {
    let (alice, bob) = alice_bob();
    let key = *bob.session_id().key();
    for prefix in [
        IdPrefix::Group,
        IdPrefix::Blinded15,
        IdPrefix::Blinded25,
        IdPrefix::Unblinded,
        IdPrefix::VersionBlinded,
    ] {
        let id = AccountId::new(prefix, key);
        for result in [
            encrypt_for_recipient(&alice, &id, b"x"),
            encrypt_for_recipient_deterministic(&alice, &id, b"x"),
            seal_signed(&alice, &id, b"x"),
            seal_signed_deterministic(&alice, &id, b"x"),
        ] {
            assert!(
                matches!(result, Err(CryptoError::WrongIdPrefix { ref found, .. }) if *found == format!("{:02x}", prefix.byte())),
                "{prefix:?}"
            );
        }
    }
    // A small-order X25519 key cannot be encrypted to.
    let zero = AccountId::new(IdPrefix::Standard, [0u8; 32]);
    assert!(matches!(
        encrypt_for_recipient(&alice, &zero, b"x"),
        Err(CryptoError::WeakSharedSecret { .. })
    ));
    // Text forms: bad hex, wrong prefix, wrong length.
    let text = bob.session_id().to_string();
    assert!(matches!(
        AccountId::parse_session_id(&format!("05{}", "zz".repeat(32))),
        Err(CryptoError::InvalidHex { .. })
    ));
    assert!(matches!(
        AccountId::parse_session_id(&format!("03{}", &text[2..])),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert!(matches!(
        AccountId::parse_session_id(&text[..64]),
        Err(CryptoError::InvalidLength { got: 64, .. })
    ));
    assert!(matches!(
        Ed25519PublicKey::from_hex("4cb7"),
        Err(CryptoError::InvalidLength { got: 2, .. })
    ));
}

#[test]
fn open_with_a_bare_x25519_keypair() {
    let (alice, bob) = alice_bob();
    let ct = seal_signed(&alice, &bob.session_id(), b"legacy group style").unwrap();
    let msg = open_signed_with(bob.x25519(), &ct).unwrap();
    assert_eq!(msg.content, b"legacy group style");
    assert_eq!(msg.sender_id, alice.session_id());
}
