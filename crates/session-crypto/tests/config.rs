//! Config messages (client-protocol §6): every vector in config.json, the push pipeline in
//! both directions, strict parsing, signatures, and property round trips.
// Helpers outside #[test] fns unwrap too; a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use session_crypto::config::message::prune;
use session_crypto::config::{
    ConfigDict, ConfigDomain, ConfigMessage, ConfigScalar, ConfigValue, DiffOp, ENCRYPT_OVERHEAD,
    MAX_CONFIG_MESSAGE_SIZE, config_diff, config_nonce, decode_pushed, decrypt, encode_for_push,
    encrypt, message_hash, pad_prefix, padded_size, sign_config_message, verify_config_signature,
};
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_crypto::error::CryptoError;

fn arr32(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap()
}

fn set(items: &[ConfigScalar]) -> ConfigValue {
    ConfigValue::Set(items.iter().cloned().collect())
}

fn dict(pairs: Vec<(&str, ConfigValue)>) -> ConfigDict {
    pairs
        .into_iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v))
        .collect()
}

// ─────────────────────────────────── vectors ───────────────────────────────────

#[test]
fn config_encrypt_vector() {
    let v = common::vector("config", "config_encrypt");
    let msg = v.input_hex("message_hex");
    assert_eq!(msg, v.input_str("message_ascii").as_bytes());
    let key_base = arr32(&v.input_hex("key_base"));
    let domain = v.input_str("domain");

    let ct = encrypt(&msg, &key_base, domain).unwrap();
    assert_eq!(ct, v.expected_hex("ciphertext"));
    assert_eq!(ct.len(), msg.len() + ENCRYPT_OVERHEAD);
    // The nonce is appended, and depends only on the plaintext and domain.
    assert_eq!(ct[ct.len() - 24..], v.expected_hex("nonce")[..]);
    assert_eq!(
        config_nonce(&msg, domain).unwrap().to_vec(),
        v.expected_hex("nonce")
    );
    assert_eq!(
        config_nonce(&msg, "test-suite2").unwrap().to_vec(),
        v.expected_hex("nonce_with_domain_test-suite2")
    );
    let mut other_key = key_base;
    other_key[0] ^= 1;
    let ct2 = encrypt(&msg, &other_key, domain).unwrap();
    assert_eq!(
        ct2[ct2.len() - 24..],
        v.expected_hex("nonce_with_other_key_same_domain")[..]
    );
    assert_ne!(ct2, ct);

    assert_eq!(decrypt(&ct, &key_base, domain).unwrap(), msg);
    assert!(matches!(
        decrypt(&ct, &other_key, domain),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        decrypt(&ct, &key_base, "test-suite2"),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    let mut tampered = ct.clone();
    tampered[3] ^= 0x40;
    assert!(matches!(
        decrypt(&tampered, &key_base, domain),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn padded_size_vector() {
    let v = common::vector("config", "config_padded_size.part1");
    let cases = v.input["cases"].as_array().unwrap();
    let expected = v.expected["padded_size"].as_array().unwrap();
    assert_eq!(cases.len(), expected.len());
    for (case, exp) in cases.iter().zip(expected) {
        let size = case[0].as_u64().unwrap() as usize;
        let overhead = case[1].as_u64().unwrap() as usize;
        assert_eq!(
            padded_size(size, overhead),
            exp.as_u64().unwrap() as usize,
            "padded_size({size}, {overhead})"
        );
    }
    // Prefix padding puts the zeros in front.
    let padded = pad_prefix(b"d1:ae", 40);
    assert_eq!(padded.len(), 216);
    assert!(padded[..211].iter().all(|b| *b == 0));
    assert_eq!(&padded[211..], b"d1:ae");
}

fn seqno10_data() -> ConfigDict {
    dict(vec![
        (
            "bar",
            ConfigValue::Dict(dict(vec![
                ("", set(&[42.into(), "a".into(), "b".into()])),
                ("asdf", 123.into()),
                ("xyz", "abc".into()),
            ])),
        ),
        ("foo", 123.into()),
    ])
}

#[test]
fn serialize_and_hash_vector() {
    let v = common::vector("config", "config_message.serialize_and_hash.seqno10");
    assert_eq!(v.input["seqno"].as_i64(), Some(10));
    let mut m = ConfigMessage::new();
    m.seqno = 10;
    m.data = seqno10_data();
    m.diff = config_diff(&ConfigDict::new(), &m.data);
    let serialized = m.serialize();
    assert_eq!(serialized, v.expected_hex("serialized"));
    assert_eq!(m.hash().to_vec(), v.expected_hex("hash"));
    assert_eq!(message_hash(&serialized).to_vec(), v.expected_hex("hash"));

    // Parses back to the same message and hash.
    let parsed = ConfigMessage::parse(&serialized, None).unwrap();
    assert_eq!(parsed.message, m);
    assert_eq!(parsed.hash.to_vec(), v.expected_hex("hash"));
    assert_eq!(parsed.message.serialize(), serialized);
}

#[test]
fn signature_vector() {
    let v = common::vector("config", "config_message.signature");
    let kp =
        Ed25519Keypair::from_seed(Ed25519Seed::from_bytes(&v.input_hex("ed25519_sk_64")).unwrap());
    let unsigned = v.input_hex("unsigned_message_hex");
    let signed = sign_config_message(&unsigned, &kp).unwrap();
    assert_eq!(signed, v.expected_hex("signed_message_hex"));
    let portion = v.expected_hex("signed_portion_hex");
    assert_eq!(portion, unsigned[..unsigned.len() - 1]);
    assert_eq!(kp.sign(&portion).to_vec(), v.expected_hex("signature"));
    verify_config_signature(&signed, &kp.public()).unwrap();

    // The same through the message type: parse, sign, verify on parse.
    let mut m = ConfigMessage::parse(&unsigned, None).unwrap().message;
    assert_eq!(m.sign(&kp), signed);
    assert_eq!(m.signature.unwrap().to_vec(), v.expected_hex("signature"));
    assert_eq!(m.serialize(), signed);
    let parsed = ConfigMessage::parse(&signed, Some(&kp.public())).unwrap();
    assert_eq!(parsed.message, m);
    assert_eq!(parsed.hash, message_hash(&signed));

    // Bad signatures: another key, a flipped bit, a missing signature.
    let other = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        ConfigMessage::parse(&signed, Some(&other.public())),
        Err(CryptoError::BadSignature { .. })
    ));
    let mut tampered = signed.clone();
    let n = tampered.len();
    tampered[n - 10] ^= 1;
    assert!(matches!(
        verify_config_signature(&tampered, &kp.public()),
        Err(CryptoError::BadSignature { .. })
    ));
    assert!(matches!(
        ConfigMessage::parse(&unsigned, Some(&kp.public())),
        Err(CryptoError::BadSignature { .. })
    ));
    // Signing twice is refused.
    assert!(matches!(
        sign_config_message(&signed, &kp),
        Err(CryptoError::Malformed { .. })
    ));
}

#[test]
fn bt_encoding_vector() {
    let v = common::vector("config", "config_data.bt_encoding.scalars_and_set");
    let int3 = ConfigValue::from(v.input["scalar_int_3"].as_i64().unwrap());
    assert_eq!(int3.encode(), v.expected_str("scalar_int_3_bt").as_bytes());
    let hi = ConfigValue::from(v.input_str("scalar_str_hi"));
    assert_eq!(hi.encode(), v.expected_str("scalar_str_hi_bt").as_bytes());
    let m42 = ConfigValue::from(v.input["scalar_int_minus42"].as_i64().unwrap());
    assert_eq!(
        m42.encode(),
        v.expected_str("scalar_int_minus42_bt").as_bytes()
    );
    let items: BTreeSet<ConfigScalar> = v.input["set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| match x.as_i64() {
            Some(i) => ConfigScalar::Int(i),
            None => ConfigScalar::from(x.as_str().unwrap()),
        })
        .collect();
    let encoded = ConfigValue::Set(items).encode();
    assert_eq!(encoded, v.expected_str("set_bt").as_bytes());
    assert_eq!(encoded, v.expected_hex("set_hex"));
}

#[test]
fn user_profile_push_vector() {
    let v = common::vector("config", "user_profile.push_seqno1");
    let seed = Ed25519Seed::from_hex(v.input_str("ed25519_seed")).unwrap();
    assert_eq!(v.input_str("domain"), ConfigDomain::UserProfile.as_str());
    let plaintext = v.input_hex("plaintext");

    // The empty seqno-0 message and its hash.
    let empty = ConfigMessage::new();
    assert_eq!(empty.serialize(), v.input_hex("empty_seqno0_message_hex"));
    assert_eq!(
        empty.serialize(),
        v.input_str("empty_seqno0_message_ascii").as_bytes()
    );
    let empty_hash = empty.hash();
    assert_eq!(empty_hash.to_vec(), v.input_hex("empty_seqno0_hash"));

    // The seqno-1 message, rebuilt from its parts, serializes to the vector's plaintext.
    let data = dict(vec![
        ("+", 9.into()),
        ("n", "Kallie".into()),
        ("p", "http://example.org/omg-pic-123.bmp".into()),
        ("q", "secret78901234567890123456789012".into()),
    ]);
    let mut m = ConfigMessage::new();
    m.seqno = 1;
    m.diff = config_diff(&ConfigDict::new(), &data);
    m.data = data;
    m.lagged_diffs.insert((0, empty_hash), BTreeMap::new());
    assert_eq!(m.serialize(), plaintext);
    let parsed = ConfigMessage::parse(&plaintext, None).unwrap();
    assert_eq!(parsed.message, m);
    assert_eq!(parsed.message.diff.get(&b"n"[..]), Some(&DiffOp::Assigned));

    // Pad + encrypt with the account seed.
    let padded = pad_prefix(&plaintext, ENCRYPT_OVERHEAD);
    assert_eq!(
        padded.len(),
        v.expected["padded_plaintext_len"].as_u64().unwrap() as usize
    );
    let pushed = encode_for_push(&plaintext, seed.as_bytes(), ConfigDomain::UserProfile).unwrap();
    assert_eq!(pushed, v.expected_hex("encrypted_inner"));
    assert_eq!(
        pushed.len(),
        v.expected["encrypted_len"].as_u64().unwrap() as usize
    );

    // And back, trying a wrong key first.
    let wrong = [0u8; 32];
    let decoded = decode_pushed(
        &pushed,
        [&wrong, seed.as_bytes()],
        ConfigDomain::UserProfile,
    )
    .unwrap();
    assert_eq!(decoded.serialized, plaintext);
    assert_eq!(decoded.key_index, 1);
    assert!(matches!(
        decode_pushed(&pushed, [seed.as_bytes()], ConfigDomain::Contacts),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        decode_pushed(&pushed, [&wrong], ConfigDomain::UserProfile),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

// ───────────────────────────── push pipeline details ─────────────────────────────

/// Encrypts a raw (already padded or not) body the way a pusher would.
fn push_raw(body: &[u8], key: &[u8; 32], domain: ConfigDomain) -> Vec<u8> {
    encrypt(body, key, domain.as_str()).unwrap()
}

#[test]
fn compressed_configs_are_decompressed() {
    let key = [5u8; 32];
    let mut m = ConfigMessage::new();
    m.seqno = 3;
    let long = "x".repeat(3000);
    m.data = dict(vec![("n", long.as_str().into())]);
    let serialized = m.serialize();
    let mut body = b"z".to_vec();
    body.extend(ruzstd::encoding::compress_to_vec(
        &serialized[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    assert!(body.len() < serialized.len());
    let ct = push_raw(
        &pad_prefix(&body, ENCRYPT_OVERHEAD),
        &key,
        ConfigDomain::Contacts,
    );
    let decoded = decode_pushed(&ct, [&key], ConfigDomain::Contacts).unwrap();
    assert_eq!(decoded.serialized, serialized);

    // Garbage after 'z' is rejected, as is zstd data that does not hold a dict.
    let ct = push_raw(b"zgarbage", &key, ConfigDomain::Contacts);
    assert!(matches!(
        decode_pushed(&ct, [&key], ConfigDomain::Contacts),
        Err(CryptoError::Malformed { .. })
    ));
    let mut not_dict = b"z".to_vec();
    not_dict.extend(ruzstd::encoding::compress_to_vec(
        &b"l1:ae"[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    let ct = push_raw(&not_dict, &key, ConfigDomain::Contacts);
    assert!(matches!(
        decode_pushed(&ct, [&key], ConfigDomain::Contacts),
        Err(CryptoError::Malformed { .. })
    ));
}

#[test]
fn tampered_padding_and_bad_bodies() {
    let key = [6u8; 32];
    let serialized = ConfigMessage::new().serialize();
    // Padding that is not zeros leaves a body that does not start with 'd'.
    let mut padded = pad_prefix(&serialized, ENCRYPT_OVERHEAD);
    padded[0] = 0x01;
    let ct = push_raw(&padded, &key, ConfigDomain::UserGroups);
    let err = decode_pushed(&ct, [&key], ConfigDomain::UserGroups).unwrap_err();
    assert!(
        matches!(&err, CryptoError::Malformed { reason, .. } if reason.contains("0x01")),
        "{err}"
    );
    // Altering the ciphertext's padding region fails authentication.
    let mut ct = encode_for_push(&serialized, &key, ConfigDomain::UserGroups).unwrap();
    ct[0] ^= 1;
    assert!(matches!(
        decode_pushed(&ct, [&key], ConfigDomain::UserGroups),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    // All zeros, multipart, and too-short inputs.
    for (body, what) in [(&[0u8; 50][..], "no data"), (b"m1:x", "multipart")] {
        let ct = push_raw(body, &key, ConfigDomain::UserGroups);
        let err = decode_pushed(&ct, [&key], ConfigDomain::UserGroups).unwrap_err();
        assert!(
            matches!(err, CryptoError::Malformed { .. }),
            "{what}: {err}"
        );
    }
    assert!(matches!(
        decode_pushed(&[0u8; 10], [&key], ConfigDomain::UserGroups),
        Err(CryptoError::InvalidLength { got: 10, .. })
    ));
}

#[test]
fn oversize_push_is_refused() {
    let key = [1u8; 32];
    let big = vec![b'd'; MAX_CONFIG_MESSAGE_SIZE];
    assert!(matches!(
        encode_for_push(&big, &key, ConfigDomain::Contacts),
        Err(CryptoError::InvalidLength {
            what: "encrypted config message",
            ..
        })
    ));
    // Just under the limit is fine: 76800 − 40 bytes pad to exactly 76800.
    let ok = vec![b'd'; MAX_CONFIG_MESSAGE_SIZE - ENCRYPT_OVERHEAD];
    assert_eq!(
        encode_for_push(&ok, &key, ConfigDomain::Contacts)
            .unwrap()
            .len(),
        MAX_CONFIG_MESSAGE_SIZE
    );
}

#[test]
fn signed_group_config_round_trip() {
    let group = Ed25519Keypair::generate().unwrap();
    let enc_key = [0x42u8; 32];
    let mut m = ConfigMessage::new();
    m.seqno = 7;
    m.data = dict(vec![
        ("n", "Group name".into()),
        ("c", 1_700_000_000.into()),
    ]);
    m.diff = config_diff(&ConfigDict::new(), &m.data);
    let signed = m.sign(&group);
    let pushed = encode_for_push(&signed, &enc_key, ConfigDomain::GroupInfo).unwrap();
    assert_eq!(pushed.len() % 256, 0);
    let decoded = decode_pushed(&pushed, [&enc_key], ConfigDomain::GroupInfo).unwrap();
    let parsed = ConfigMessage::parse(&decoded.serialized, Some(&group.public())).unwrap();
    assert_eq!(parsed.message, m);
    assert!(ConfigDomain::GroupInfo.is_signed());
    assert!(!ConfigDomain::UserProfile.is_signed());
    // A member that was given an unsigned copy rejects it.
    let unsigned = m.serialize_unsigned();
    assert!(matches!(
        ConfigMessage::parse(&unsigned, Some(&group.public())),
        Err(CryptoError::BadSignature { .. })
    ));
}

#[test]
fn lagged_diff_window() {
    let mut m = ConfigMessage::new();
    m.seqno = 10;
    for s in [4, 5, 6, 9] {
        m.lagged_diffs.insert((s, [s as u8; 32]), BTreeMap::new());
    }
    // 4 and 5 are outside (10 − 5, 10) and are not serialized.
    let parsed = ConfigMessage::parse(&m.serialize(), None).unwrap().message;
    let kept: Vec<i64> = parsed.lagged_diffs.keys().map(|(s, _)| *s).collect();
    assert_eq!(kept, vec![6, 9]);
    // Old rows in the input are dropped on parse; unsorted rows are rejected.
    let h = "0".repeat(32);
    let input = format!("d1:#i10e1:&de1:<lli1e32:{h}deeli7e32:{h}deee1:=dee");
    let parsed = ConfigMessage::parse(input.as_bytes(), None).unwrap();
    assert_eq!(parsed.message.lagged_diffs.len(), 1);
    let unsorted = format!("d1:#i10e1:&de1:<lli8e32:{h}deeli7e32:{h}deee1:=dee");
    assert!(matches!(
        ConfigMessage::parse(unsorted.as_bytes(), None),
        Err(CryptoError::Malformed { .. })
    ));
}

// ───────────────────────────────── properties ─────────────────────────────────

fn arb_scalar() -> impl Strategy<Value = ConfigScalar> {
    prop_oneof![
        any::<i64>().prop_map(ConfigScalar::Int),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(ConfigScalar::Bytes),
    ]
}

fn arb_value() -> impl Strategy<Value = ConfigValue> {
    let leaf = prop_oneof![
        arb_scalar().prop_map(ConfigValue::Scalar),
        proptest::collection::btree_set(arb_scalar(), 0..5).prop_map(ConfigValue::Set),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..4), inner, 0..4)
            .prop_map(ConfigValue::Dict)
    })
}

fn arb_dict() -> impl Strategy<Value = ConfigDict> {
    proptest::collection::btree_map(
        proptest::collection::vec(any::<u8>(), 0..4),
        arb_value(),
        0..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn encrypt_decrypt_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 0..600),
        key in any::<[u8; 32]>(),
        domain in "[a-zA-Z:]{1,24}",
    ) {
        let ct = encrypt(&plaintext, &key, &domain).unwrap();
        prop_assert_eq!(ct.len(), plaintext.len() + ENCRYPT_OVERHEAD);
        prop_assert_eq!(decrypt(&ct, &key, &domain).unwrap(), plaintext.clone());
        // Deterministic.
        prop_assert_eq!(encrypt(&plaintext, &key, &domain).unwrap(), ct);
    }

    #[test]
    fn message_serialize_parse_round_trip(old in arb_dict(), new in arb_dict(), seqno in 1i64..1000) {
        let mut m = ConfigMessage::new();
        m.seqno = seqno;
        m.diff = config_diff(&old, &new);
        m.data = new;
        prune(&mut m.data);
        m.lagged_diffs.insert((seqno - 1, [7; 32]), config_diff(&ConfigDict::new(), &old));
        let bytes = m.serialize();
        let parsed = ConfigMessage::parse(&bytes, None).unwrap();
        prop_assert_eq!(&parsed.message, &m);
        prop_assert_eq!(parsed.message.serialize(), bytes.clone());
        prop_assert_eq!(parsed.hash, message_hash(&bytes));
        // And through the whole push pipeline.
        let key = [9u8; 32];
        let pushed = encode_for_push(&bytes, &key, ConfigDomain::Contacts).unwrap();
        prop_assert_eq!(decode_pushed(&pushed, [&key], ConfigDomain::Contacts).unwrap().serialized, bytes);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = ConfigMessage::parse(&bytes, None);
        let mut with_prefix = b"d1:#i1e1:&d".to_vec();
        with_prefix.extend_from_slice(&bytes);
        let _ = ConfigMessage::parse(&with_prefix, None);
    }
}
