//! Multi-recipient encryption (client-protocol §5.7): the `encrypt_for_multiple` vector
//! (groups.json), the multi-encrypt seeds (identity.json), round trips, padding, error
//! paths, and a libsodium cross-check of the key derivation and the deterministic RNG.
#![allow(unsafe_code)]
// Helpers outside #[test] fns unwrap too; a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use libsodium_sys as sodium;
use proptest::prelude::*;
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_crypto::error::CryptoError;
use session_crypto::multi_encrypt::{
    InvalidRecipients, MULTI_ENCRYPT_OVERHEAD, MultiEncrypted, decrypt_for_multiple,
    decrypt_for_multiple_simple, decrypt_for_multiple_simple_ed25519, deterministic_random_bytes,
    encrypt_for_multiple, encrypt_for_multiple_simple, encrypt_for_multiple_simple_deterministic,
    encrypt_for_multiple_simple_ed25519, recipient_key, sender_key,
};
use session_crypto::x25519::X25519Keypair;

fn keypair(seed_hex: &str) -> Ed25519Keypair {
    Ed25519Keypair::from_seed(Ed25519Seed::from_hex(seed_hex).unwrap())
}

fn arr24(v: &[u8]) -> [u8; 24] {
    v.try_into().unwrap()
}

struct Fixture {
    sender: X25519Keypair,
    recipients: Vec<X25519Keypair>,
    messages: Vec<Vec<u8>>,
    nonce: [u8; 24],
    domain: Vec<u8>,
}

fn fixture() -> (common::Vector, Fixture) {
    let v = common::vector("groups", "encrypt_for_multiple");
    let sender = keypair(v.input_str("sender_ed25519_seed")).to_x25519();
    let recipients = v.input["recipient_ed25519_seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| keypair(s.as_str().unwrap()).to_x25519())
        .collect();
    let messages = v.input["per_recipient_messages_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| hex::decode(m.as_str().unwrap()).unwrap())
        .collect();
    let nonce = arr24(&v.input_hex("nonce"));
    let domain = v.input_hex("domain_hex");
    assert_eq!(domain, v.input_str("domain_ascii").as_bytes());
    (
        v,
        Fixture {
            sender,
            recipients,
            messages,
            nonce,
            domain,
        },
    )
}

#[test]
fn multi_encrypt_seed_pubkeys() {
    let v = common::vector("identity", "x25519_pubkeys.multi_encrypt_seeds");
    let seeds = v.input["ed25519_seeds"].as_array().unwrap();
    let expected = v.expected["x25519_pubkeys"].as_array().unwrap();
    assert_eq!(seeds.len(), expected.len());
    for (seed, pk) in seeds.iter().zip(expected) {
        let x = keypair(seed.as_str().unwrap()).to_x25519();
        assert_eq!(hex::encode(x.public()), pk.as_str().unwrap());
    }
}

#[test]
fn vector_per_recipient_ciphertexts() {
    let (v, f) = fixture();
    let recips: Vec<[u8; 32]> = f.recipients.iter().map(|r| *r.public()).collect();
    let msgs: Vec<&[u8]> = f.messages.iter().map(Vec::as_slice).collect();
    let cts = encrypt_for_multiple(
        &msgs,
        &recips,
        &f.nonce,
        &f.sender,
        &f.domain,
        InvalidRecipients::Reject,
    )
    .unwrap();
    let expected: Vec<String> = v.expected["per_recipient_ciphertexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cts.iter().map(hex::encode).collect::<Vec<_>>(), expected);
    // Each recipient finds its own message among all entries.
    for (r, m) in f.recipients.iter().zip(&f.messages) {
        let got = decrypt_for_multiple(
            cts.iter().map(Vec::as_slice),
            &f.nonce,
            r,
            f.sender.public(),
            &f.domain,
        )
        .unwrap();
        assert_eq!(&got, m);
    }
}

#[test]
fn vector_simple_encoding_and_non_recipients() {
    let (v, f) = fixture();
    let recips: Vec<[u8; 32]> = f.recipients.iter().map(|r| *r.public()).collect();
    let msgs: Vec<&[u8]> = f.messages.iter().map(Vec::as_slice).collect();
    let encoded = encrypt_for_multiple_simple_deterministic(
        &msgs, &recips, &f.sender, &f.domain, &f.nonce, 0, &[0; 32],
    )
    .unwrap();
    assert_eq!(encoded, v.expected_hex("simple_encoding"));

    for (r, m) in f.recipients.iter().zip(&f.messages) {
        assert_eq!(
            &decrypt_for_multiple_simple(&encoded, r, f.sender.public(), &f.domain).unwrap(),
            m
        );
        // A wrong domain fails.
        assert!(matches!(
            decrypt_for_multiple_simple(&encoded, r, f.sender.public(), b"test suitf"),
            Err(CryptoError::DecryptionFailed { .. })
        ));
    }
    // The fourth key from the upstream test is not a recipient.
    let outsider = keypair("0123456789abcdef333333333333333300000000000000000000000000000000");
    assert!(matches!(
        decrypt_for_multiple_simple(
            &encoded,
            &outsider.to_x25519(),
            f.sender.public(),
            &f.domain
        ),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    // The wrong sender key fails too.
    assert!(matches!(
        decrypt_for_multiple_simple(
            &encoded,
            &f.recipients[0],
            f.recipients[1].public(),
            &f.domain
        ),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn one_message_for_everyone_and_padding() {
    let (_, f) = fixture();
    let recips: Vec<[u8; 32]> = f.recipients.iter().map(|r| *r.public()).collect();
    let msg: &[u8] = b"the same for all";
    let encoded = encrypt_for_multiple_simple_deterministic(
        &[msg],
        &recips,
        &f.sender,
        &f.domain,
        &f.nonce,
        5,
        &[9; 32],
    )
    .unwrap();
    let decoded = MultiEncrypted::decode(&encoded).unwrap();
    assert_eq!(decoded.nonce, f.nonce);
    assert_eq!(decoded.entries.len(), 5);
    assert!(
        decoded
            .entries
            .iter()
            .all(|e| e.len() == msg.len() + MULTI_ENCRYPT_OVERHEAD)
    );
    assert_eq!(decoded.encode(), encoded);
    for r in &f.recipients {
        assert_eq!(
            decrypt_for_multiple_simple(&encoded, r, f.sender.public(), &f.domain).unwrap(),
            msg
        );
    }
    // Junk is deterministic in its seed, and differs with another seed.
    let again = encrypt_for_multiple_simple_deterministic(
        &[msg],
        &recips,
        &f.sender,
        &f.domain,
        &f.nonce,
        5,
        &[9; 32],
    )
    .unwrap();
    assert_eq!(again, encoded);
    let other = encrypt_for_multiple_simple_deterministic(
        &[msg],
        &recips,
        &f.sender,
        &f.domain,
        &f.nonce,
        5,
        &[8; 32],
    )
    .unwrap();
    assert_ne!(other, encoded);
    // An exact multiple gets no junk; pad 0/1 never pads.
    for pad in [0, 1, 3] {
        let e = encrypt_for_multiple_simple_deterministic(
            &[msg],
            &recips,
            &f.sender,
            &f.domain,
            &f.nonce,
            pad,
            &[9; 32],
        )
        .unwrap();
        assert_eq!(MultiEncrypted::decode(&e).unwrap().entries.len(), 3);
    }
    // The random variant pads the same way and still decrypts.
    let random = encrypt_for_multiple_simple(&[msg], &recips, &f.sender, &f.domain, 4).unwrap();
    assert_eq!(MultiEncrypted::decode(&random).unwrap().entries.len(), 4);
    assert_eq!(
        decrypt_for_multiple_simple(&random, &f.recipients[2], f.sender.public(), &f.domain)
            .unwrap(),
        msg
    );
}

#[test]
fn ed25519_convenience_forms() {
    let group = Ed25519Keypair::generate().unwrap();
    let member = Ed25519Keypair::generate().unwrap();
    let encoded = encrypt_for_multiple_simple_ed25519(
        &[b"hi"],
        &[*member.to_x25519().public()],
        &group,
        b"dom",
        0,
    )
    .unwrap();
    assert_eq!(
        decrypt_for_multiple_simple_ed25519(&encoded, &member, &group.public(), b"dom").unwrap(),
        b"hi"
    );
    let bad_sender = session_crypto::ed25519::Ed25519PublicKey([0; 32]);
    assert!(matches!(
        decrypt_for_multiple_simple_ed25519(&encoded, &member, &bad_sender, b"dom"),
        Err(CryptoError::InvalidPublicKey { .. })
    ));
}

#[test]
fn bad_inputs_have_specific_errors() {
    let (_, f) = fixture();
    let recips: Vec<[u8; 32]> = f.recipients.iter().map(|r| *r.public()).collect();
    assert!(matches!(
        encrypt_for_multiple(
            &[b"a", b"b"],
            &recips,
            &f.nonce,
            &f.sender,
            b"d",
            InvalidRecipients::Reject
        ),
        Err(CryptoError::InvalidLength {
            what: "multi-encrypt messages",
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        encrypt_for_multiple_simple(&[b"a"], &recips, &f.sender, &[b'x'; 65], 0),
        Err(CryptoError::InvalidLength { got: 65, .. })
    ));
    assert!(matches!(
        decrypt_for_multiple_simple(b"le", &f.recipients[0], f.sender.public(), b"d"),
        Err(CryptoError::Malformed { .. })
    ));
    assert!(matches!(
        decrypt_for_multiple_simple(b"d1:#2:ab1:elee", &f.recipients[0], f.sender.public(), b"d"),
        Err(CryptoError::InvalidLength { got: 2, .. })
    ));
    // Truncated entries (shorter than the tag) just do not decrypt.
    let enc = MultiEncrypted {
        nonce: f.nonce,
        entries: vec![vec![1, 2, 3]],
    }
    .encode();
    assert!(matches!(
        decrypt_for_multiple_simple(&enc, &f.recipients[0], f.sender.public(), b"d"),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

// ───────────────────────────── libsodium cross-check ─────────────────────────────

fn sodium_init() {
    // SAFETY: sodium_init has no preconditions and may be called repeatedly.
    assert!(unsafe { sodium::sodium_init() } >= 0);
}

fn sodium_deterministic(seed: &[u8; 32], len: usize) -> Vec<u8> {
    sodium_init();
    let mut out = vec![0u8; len];
    // SAFETY: `out` has `len` writable bytes and `seed` is randombytes_SEEDBYTES (32) long.
    unsafe { sodium::randombytes_buf_deterministic(out.as_mut_ptr().cast(), len, seed.as_ptr()) };
    out
}

/// The per-recipient key computed by libsodium calls, then the entry decrypted by libsodium.
fn sodium_multi_decrypt(
    recipient_sk: &[u8; 32],
    recipient_pk: &[u8; 32],
    sender_pk: &[u8; 32],
    domain: &[u8],
    nonce: &[u8; 24],
    ct: &[u8],
) -> Option<Vec<u8>> {
    sodium_init();
    let mut shared = [0u8; 32];
    // SAFETY: all buffers are 32 bytes as crypto_scalarmult requires.
    if unsafe {
        sodium::crypto_scalarmult(
            shared.as_mut_ptr(),
            recipient_sk.as_ptr(),
            sender_pk.as_ptr(),
        )
    } != 0
    {
        return None;
    }
    let input = [&shared[..], sender_pk, recipient_pk].concat();
    let mut key = [0u8; 32];
    // SAFETY: output 32 bytes, input/key lengths passed explicitly (key ≤ 64 bytes).
    let rc = unsafe {
        sodium::crypto_generichash(
            key.as_mut_ptr(),
            32,
            input.as_ptr(),
            input.len() as u64,
            domain.as_ptr(),
            domain.len(),
        )
    };
    assert_eq!(rc, 0);
    if ct.len() < 16 {
        return None;
    }
    let mut out = vec![0u8; ct.len() - 16];
    let mut out_len = 0u64;
    // SAFETY: `out` holds ct.len()-16 bytes; nonce 24 and key 32 bytes; no AD.
    let rc = unsafe {
        sodium::crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.as_mut_ptr(),
            &mut out_len,
            std::ptr::null_mut(),
            ct.as_ptr(),
            ct.len() as u64,
            std::ptr::null(),
            0,
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    (rc == 0).then_some(out)
}

#[test]
fn deterministic_rng_matches_libsodium() {
    for (seed, len) in [
        ([0u8; 32], 0usize),
        ([1; 32], 1),
        ([7; 32], 48 * 74),
        ([0xff; 32], 1000),
    ] {
        let mut ours = vec![0xaa; len];
        deterministic_random_bytes(&seed, &mut ours).unwrap();
        assert_eq!(ours, sodium_deterministic(&seed, len), "len {len}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn deterministic_rng_matches_libsodium_prop(seed in any::<[u8; 32]>(), len in 0usize..300) {
        let mut ours = vec![0u8; len];
        deterministic_random_bytes(&seed, &mut ours).unwrap();
        prop_assert_eq!(ours, sodium_deterministic(&seed, len));
    }

    #[test]
    fn round_trip_random_groups(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..6),
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
        nonce in any::<[u8; 24]>(),
        domain in proptest::collection::vec(any::<u8>(), 0..64),
        pad in 0usize..8,
    ) {
        let sender = X25519Keypair::generate().unwrap();
        let recipients: Vec<X25519Keypair> = seeds
            .iter()
            .map(|s| Ed25519Keypair::from_seed(Ed25519Seed::from_array(*s)).to_x25519())
            .collect();
        let pks: Vec<[u8; 32]> = recipients.iter().map(|r| *r.public()).collect();
        // One message per recipient (cycling through the generated ones).
        let per: Vec<&[u8]> = (0..pks.len()).map(|i| msgs[i % msgs.len()].as_slice()).collect();
        let encoded = encrypt_for_multiple_simple_deterministic(
            &per, &pks, &sender, &domain, &nonce, pad, &[3; 32],
        ).unwrap();
        let decoded = MultiEncrypted::decode(&encoded).unwrap();
        if pad > 1 {
            prop_assert_eq!(decoded.entries.len() % pad, 0);
        }
        for (i, r) in recipients.iter().enumerate() {
            // Duplicate recipients (same seed) find the first of their entries.
            let first = pks.iter().position(|p| p == r.public()).unwrap();
            let got = decrypt_for_multiple_simple(&encoded, r, sender.public(), &domain).unwrap();
            prop_assert_eq!(&got, &per[first].to_vec());
            // libsodium derives the same key and opens the same entry.
            let sk = *r.secret().as_bytes();
            let via_sodium = sodium_multi_decrypt(&sk, r.public(), sender.public(), &domain, &nonce, &decoded.entries[i]);
            prop_assert_eq!(via_sodium, Some(per[i].to_vec()));
            prop_assert_eq!(
                *sender_key(&sender, r.public(), &domain).unwrap(),
                *recipient_key(r, sender.public(), &domain).unwrap()
            );
        }
        let outsider = X25519Keypair::generate().unwrap();
        let is_failure = matches!(
            decrypt_for_multiple_simple(&encoded, &outsider, sender.public(), &domain),
            Err(CryptoError::DecryptionFailed { .. })
        );
        prop_assert!(is_failure);
    }
}
