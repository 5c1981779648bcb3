//! Groups v2 (client-protocol §5): every vector in groups.json except the multi-encrypt one
//! (tests/multi_encrypt.rs), keys messages for random member sets, group messages,
//! subaccounts, control-message signatures and the kicked-member message — with the
//! specific error of every rejection path.
// Helpers outside #[test] fns unwrap too; a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use proptest::prelude::*;
use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::aead::{xchacha20poly1305_decrypt, xchacha20poly1305_encrypt};
use session_crypto::ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed};
use session_crypto::error::CryptoError;
use session_crypto::groups::keys::KeysMessage;
use session_crypto::groups::{
    AdminAction, GROUP_MESSAGE_MAX_PLAINTEXT, GroupEncKey, GroupKey, InfoChangeType,
    KEYS_ENTRY_MULTIPLE, MemberChangeType, RevokeAction, SubaccountAuth, SubaccountFlags,
    SubaccountRequest, SubaccountToken, admin_key, decrypt_group_message, encrypt_group_message,
    encrypt_group_message_with_nonce, group_id, key_seed_hash, kicked_message,
    make_subaccount_auth, make_subaccount_token, open_kicked_message, parse_keys_message, rekey,
    rekey_key_and_nonce, sign_admin_action, sign_revoke, subaccount_blinding_factor,
    subaccount_mask_key, subaccount_sign, supplemental_keys_message, verify_admin_action,
    verify_group_subaccount, verify_revoke, verify_subaccount_auth,
};
use session_crypto::keys::AccountKeys;
use session_crypto::multi_encrypt::{
    deterministic_random_bytes, encrypt_for_multiple_simple_ed25519,
};

fn keypair(seed_hex: &str) -> Ed25519Keypair {
    Ed25519Keypair::from_seed(Ed25519Seed::from_hex(seed_hex).unwrap())
}

fn session_id(kp: &Ed25519Keypair) -> AccountId {
    AccountId::new(IdPrefix::Standard, *kp.to_x25519().public())
}

fn full(msg: KeysMessage) -> session_crypto::groups::FullKeysMessage {
    match msg {
        KeysMessage::Full(f) => f,
        other => panic!("expected a full keys message, got {other:?}"),
    }
}

/// Closes an open dict by signing it with `group` the way keys messages are signed.
fn sign_dict(mut open: Vec<u8>, group: &Ed25519Keypair) -> Vec<u8> {
    let sig = group.sign(&open);
    open.extend_from_slice(b"1:~64:");
    open.extend_from_slice(&sig);
    open.push(b'e');
    open
}

// ─────────────────────────────────── vectors ───────────────────────────────────

#[test]
fn subaccount_auth_vector() {
    let v = common::vector("groups", "subaccount_auth");
    let group = keypair(v.input_str("group_ed25519_seed"));
    let member = keypair(v.input_str("member_ed25519_seed"));
    let member_id = session_id(&member);
    assert_eq!(member_id.to_hex(), v.input_str("member_session_id"));
    let flags = SubaccountFlags::member(
        v.input["write"].as_bool().unwrap(),
        v.input["delete"].as_bool().unwrap(),
    );
    assert_eq!(flags.bits(), 0x03);

    assert_eq!(
        subaccount_mask_key(group.seed()).to_vec(),
        v.expected_hex("subaccount_mask_key")
    );
    let k = subaccount_blinding_factor(group.seed(), &group.public(), member_id.key());
    assert_eq!(k.to_bytes().to_vec(), v.expected_hex("blinding_factor_k"));

    let auth = make_subaccount_auth(&group, &member_id, flags).unwrap();
    assert_eq!(auth.as_bytes().to_vec(), v.expected_hex("auth_data"));
    let token = make_subaccount_token(&group, &member_id, flags).unwrap();
    assert_eq!(
        token.as_bytes().to_vec(),
        v.expected_hex("subaccount_token")
    );
    assert_eq!(token.to_base64(), v.expected_str("subaccount_token_b64"));
    assert_eq!(
        SubaccountToken::from_base64(v.expected_str("subaccount_token_b64")).unwrap(),
        token
    );

    verify_subaccount_auth(&group.public(), &member, &auth, SubaccountFlags::WRITE).unwrap();

    let msg = v.input_hex("message_to_sign_hex");
    assert_eq!(msg, v.input_str("message_to_sign_ascii").as_bytes());
    let signed = subaccount_sign(&member, &auth, &msg).unwrap();
    assert_eq!(signed.token, token);
    assert_eq!(
        signed.admin_signature.to_vec(),
        v.expected_hex("subaccount_sig")
    );
    assert_eq!(signed.signature.to_vec(), v.expected_hex("signature"));
    let (t64, a64, s64) = signed.to_base64();
    assert_eq!(t64, v.expected_str("subaccount_token_b64"));
    assert_eq!(a64, v.expected_str("subaccount_sig_b64"));
    assert_eq!(s64, v.expected_str("signature_b64"));

    // The service node's view.
    let got = verify_group_subaccount(
        &group.public(),
        token.as_bytes(),
        &signed.admin_signature,
        &signed.signature,
        &msg,
        SubaccountFlags::READ,
    )
    .unwrap();
    assert_eq!(got, flags);
    // And it is a plain Ed25519 signature under kT.
    token.pubkey().verify(&msg, &signed.signature).unwrap();
}

#[test]
fn rekey_gen0_vector() {
    let v = common::vector("groups", "derived.group_key_rekey_gen0");
    let group = keypair(v.input_str("group_ed25519_seed"));
    let members: Vec<AccountId> = v.input["member_session_ids_sorted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().parse().unwrap())
        .collect();
    let generation = v.input["generation"].as_i64().unwrap();

    assert_eq!(
        key_seed_hash(group.seed()).to_vec(),
        v.expected_hex("H2_SessionGroupKeySeed")
    );
    assert_eq!(
        admin_key(group.seed()).to_vec(),
        v.expected_hex("admin_key_SessionGroupKeyAdminKey")
    );
    assert_eq!(
        subaccount_mask_key(group.seed()).to_vec(),
        v.expected_hex("subaccount_mask")
    );
    // Member order does not matter: the derivation sorts.
    let reversed: Vec<AccountId> = members.iter().rev().copied().collect();
    let (key, nonce) = rekey_key_and_nonce(group.seed(), &reversed, generation).unwrap();
    assert_eq!(key.as_bytes().to_vec(), v.expected_hex("group_enc_key"));
    assert_eq!(nonce.to_vec(), v.expected_hex("keys_msg_nonce"));
    assert_eq!(
        [&key.as_bytes()[..], &nonce[..]].concat(),
        v.expected_hex("H1_56")
    );

    let r = rekey(&group, &reversed, generation).unwrap();
    assert_eq!(r.generation, 0);
    assert_eq!(r.key, key);
    // Deterministic, junk included.
    assert_eq!(
        rekey(&group, &members, generation).unwrap().message,
        r.message
    );

    let parsed = full(parse_keys_message(&r.message, &group.public()).unwrap());
    assert_eq!(parsed.generation, 0);
    assert_eq!(parsed.nonce.to_vec(), v.expected_hex("keys_msg_nonce"));
    assert_eq!(
        parsed.admin_entry.to_vec(),
        v.expected_hex("K_admin_encrypted_key")
    );
    assert_eq!(parsed.member_entries.len(), KEYS_ENTRY_MULTIPLE);
    for (i, m) in members.iter().enumerate() {
        let expected = hex::decode(
            v.expected["member_encrypted_keys"][m.to_hex()]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(parsed.member_entries[i].to_vec(), expected, "member {m}");
    }
    // The junk is libsodium's deterministic RNG seeded by BLAKE2b-32(H1 || sk64, key = "SessionGroupJunkMembers").
    let h1 = v.expected_hex("H1_56");
    let seed = session_crypto::hash::blake2b_keyed::<32>(
        b"SessionGroupJunkMembers",
        &[&h1, &group.secret_key_64()[..]],
    );
    let mut junk = vec![0u8; 73 * 48];
    deterministic_random_bytes(&seed, &mut junk).unwrap();
    let got_junk: Vec<u8> = parsed.member_entries[2..].concat();
    assert_eq!(got_junk, junk);
    // The layout is the canonical dict with the signature over everything before "1:~".
    let prefix_len = r.message.len() - 1 - 6 - 64;
    group
        .public()
        .verify(
            &r.message[..prefix_len],
            &r.message[prefix_len + 6..prefix_len + 70],
        )
        .unwrap();
    assert!(r.message.starts_with(b"d1:#24:"));

    // The admin decrypts K; the member from the subaccount vector decrypts its entry.
    let admin_got = parsed.decrypt_as_admin(group.seed(), 1234).unwrap();
    assert_eq!(admin_got.key, key);
    assert_eq!((admin_got.generation, admin_got.timestamp_ms), (0, 1234));
    let member = keypair("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    assert_eq!(session_id(&member), members[0]);
    assert_eq!(parsed.decrypt_as_member(&member, 1234).unwrap().key, key);
    let outsider = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        parsed.decrypt_as_member(&outsider, 1234),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn group_message_fixture_vector() {
    let v = common::vector("groups", "derived.group_message_decrypt_fixture");
    let group_pk = Ed25519PublicKey::from_hex(v.input_str("group_ed25519_pubkey")).unwrap();
    let key: [u8; 32] = v.input_hex("group_enc_key").try_into().unwrap();
    let nonce: [u8; 24] = v.input_hex("nonce").try_into().unwrap();
    let sender = keypair(v.input_str("sender_ed25519_seed"));
    let plaintext = v.input_str("plaintext_ascii").as_bytes();
    assert_eq!(v.input["compress"].as_bool(), Some(false));
    assert_eq!(v.input["padding"].as_u64(), Some(256));

    let ct = encrypt_group_message_with_nonce(&sender, &group_pk, &key, plaintext, false, &nonce)
        .unwrap();
    assert_eq!(ct, v.expected_hex("ciphertext"));
    assert_eq!(
        ct.len() as u64,
        v.expected["ciphertext_len"].as_u64().unwrap()
    );
    let inner = xchacha20poly1305_decrypt(&key, &nonce, &[], &ct[24..], "t").unwrap();
    assert_eq!(inner, v.expected_hex("inner_bt_dict_hex"));

    let wrong = [9u8; 32];
    let got = decrypt_group_message([&wrong, &key], &group_pk, &ct).unwrap();
    assert_eq!(
        got.sender.to_hex(),
        v.expected_str("decrypted_sender_session_id")
    );
    assert_eq!(
        got.plaintext,
        v.expected_str("decrypted_plaintext_ascii").as_bytes()
    );
    assert_eq!(got.sender_ed25519, sender.public());
    assert_eq!(got.key_index, 1);
    // Compressing this tiny message would not make it smaller, so the output is the same.
    assert_eq!(
        encrypt_group_message_with_nonce(&sender, &group_pk, &key, plaintext, true, &nonce)
            .unwrap(),
        ct
    );
}

// ───────────────────────────────── keys messages ─────────────────────────────────

#[test]
fn keys_message_rejections() {
    let group = Ed25519Keypair::generate().unwrap();
    let nonce = [1u8; 24];
    let build = |generation: &str, k_len: usize, entry_len: usize, count: usize| {
        let mut d = b"d1:#24:".to_vec();
        d.extend_from_slice(&nonce);
        d.extend_from_slice(format!("1:Gi{generation}e1:K{k_len}:").as_bytes());
        d.extend(vec![7u8; k_len]);
        d.extend_from_slice(b"1:kl");
        for _ in 0..count {
            d.extend_from_slice(format!("{entry_len}:").as_bytes());
            d.extend(vec![8u8; entry_len]);
        }
        d.push(b'e');
        sign_dict(d, &group)
    };
    let pk = group.public();
    // A well-formed message with only junk parses; nobody's entry is in it.
    let ok = full(parse_keys_message(&build("3", 48, 48, 75), &pk).unwrap());
    assert_eq!(ok.generation, 3);
    assert!(matches!(
        ok.decrypt_as_member(&Ed25519Keypair::generate().unwrap(), 0),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        ok.decrypt_as_admin(group.seed(), 0),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        parse_keys_message(&build("3", 48, 47, 75), &pk),
        Err(CryptoError::InvalidLength {
            what: "group keys message member entry",
            got: 47,
            ..
        })
    ));
    assert!(matches!(
        parse_keys_message(&build("3", 49, 48, 75), &pk),
        Err(CryptoError::InvalidLength {
            what: "group keys message admin entry",
            got: 49,
            ..
        })
    ));
    for count in [74, 76, 1] {
        assert!(
            matches!(
                parse_keys_message(&build("3", 48, 48, count), &pk),
                Err(CryptoError::Malformed { ref reason, .. }) if reason.contains("multiple of 75")
            ),
            "{count}"
        );
    }
    assert!(matches!(
        parse_keys_message(&build("-1", 48, 48, 75), &pk),
        Err(CryptoError::Malformed { .. })
    ));
    // Signature problems: another group's key, a flipped bit, no signature at all.
    let good = build("3", 48, 48, 75);
    assert!(matches!(
        parse_keys_message(&good, &Ed25519Keypair::generate().unwrap().public()),
        Err(CryptoError::BadSignature { .. })
    ));
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 5] ^= 0x10;
    assert!(matches!(
        parse_keys_message(&flipped, &pk),
        Err(CryptoError::BadSignature { .. })
    ));
    let mut flipped = good.clone();
    flipped[50] ^= 0x10; // inside K
    assert!(matches!(
        parse_keys_message(&flipped, &pk),
        Err(CryptoError::BadSignature { .. })
    ));
    let unsigned = &good[..good.len() - 71];
    let mut unsigned = unsigned.to_vec();
    unsigned.push(b'e');
    assert!(matches!(
        parse_keys_message(&unsigned, &pk),
        Err(CryptoError::BadSignature { .. })
    ));
    // Not bencode / missing fields.
    assert!(matches!(
        parse_keys_message(b"not bencode", &pk),
        Err(CryptoError::Malformed { .. })
    ));
    assert!(matches!(
        parse_keys_message(&sign_dict(b"d1:#3:abc".to_vec(), &group), &pk),
        Err(CryptoError::InvalidLength { got: 3, .. })
    ));
}

#[test]
fn supplemental_keys_for_new_members() {
    let group = Ed25519Keypair::generate().unwrap();
    let old_member = Ed25519Keypair::generate().unwrap();
    let r0 = rekey(&group, &[session_id(&old_member)], 0).unwrap();
    let r1 = rekey(&group, &[session_id(&old_member)], 1).unwrap();
    assert_ne!(r0.key, r1.key);
    let keys = vec![
        GroupKey {
            generation: 1,
            key: r1.key.clone(),
            timestamp_ms: 2000,
        },
        GroupKey {
            generation: 0,
            key: r0.key.clone(),
            timestamp_ms: 1000,
        },
    ];
    let newbie = Ed25519Keypair::generate().unwrap();
    let other_newbie = Ed25519Keypair::generate().unwrap();
    let msg = supplemental_keys_message(
        &group,
        &[session_id(&newbie), session_id(&other_newbie)],
        &keys,
    )
    .unwrap();
    let parsed = match parse_keys_message(&msg, &group.public()).unwrap() {
        KeysMessage::Supplemental(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(parsed.max_generation, 1);
    assert_eq!(parsed.entries.len(), 2);
    for m in [&newbie, &other_newbie] {
        let got = parsed.decrypt_as_member(m).unwrap();
        // Sorted by generation.
        assert_eq!(got, vec![keys[1].clone(), keys[0].clone()]);
    }
    assert!(matches!(
        parsed.decrypt_as_member(&old_member),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    // Deterministic.
    assert_eq!(
        supplemental_keys_message(
            &group,
            &[session_id(&other_newbie), session_id(&newbie)],
            &keys
        )
        .unwrap(),
        msg
    );
    // Invalid inputs.
    assert!(matches!(
        supplemental_keys_message(&group, &[session_id(&newbie)], &[]),
        Err(CryptoError::InvalidLength { .. })
    ));
    assert!(matches!(
        supplemental_keys_message(&group, &[group_id(&group.public())], &keys),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    let mut short = b"d1:#24:".to_vec();
    short.extend_from_slice(&[0; 24]);
    short.extend_from_slice(b"1:+l3:abce1:Gi0e");
    assert!(matches!(
        parse_keys_message(&sign_dict(short, &group), &group.public()),
        Err(CryptoError::InvalidLength {
            what: "supplemental keys entry",
            got: 3,
            ..
        })
    ));
}

#[test]
fn rekey_rejects_non_session_ids_and_negative_generations() {
    let group = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        rekey(&group, &[group_id(&group.public())], 0),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert!(matches!(
        rekey(&group, &[], -1),
        Err(CryptoError::Malformed { .. })
    ));
    // No members: an empty list (0 is a multiple of 75), the admin still gets the key.
    let r = rekey(&group, &[], 0).unwrap();
    let parsed = full(parse_keys_message(&r.message, &group.public()).unwrap());
    assert!(parsed.member_entries.is_empty());
    assert_eq!(parsed.decrypt_as_admin(group.seed(), 0).unwrap().key, r.key);
}

// ───────────────────────────────── group messages ─────────────────────────────────

/// Re-encrypts the inner dict of `ct` after `edit`, as a key holder could.
fn reencrypt(ct: &[u8], key: &[u8; 32], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let nonce: [u8; 24] = ct[..24].try_into().unwrap();
    let mut inner = xchacha20poly1305_decrypt(key, &nonce, &[], &ct[24..], "t").unwrap();
    edit(&mut inner);
    [
        &nonce[..],
        &xchacha20poly1305_encrypt(key, &nonce, &[], &inner),
    ]
    .concat()
}

#[test]
fn group_message_rejections() {
    let group = Ed25519Keypair::generate().unwrap();
    let sender = AccountKeys::generate().unwrap();
    let key = [3u8; 32];
    let ct =
        encrypt_group_message(sender.ed25519(), &group.public(), &key, b"hello", false).unwrap();
    assert_eq!(ct.len() % 256, 0);
    let got = decrypt_group_message([&key], &group.public(), &ct).unwrap();
    assert_eq!(got.sender, sender.session_id());

    // Wrong keys / no keys.
    assert!(matches!(
        decrypt_group_message([&[4u8; 32]], &group.public(), &ct),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        decrypt_group_message(std::iter::empty(), &group.public(), &ct),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    let mut flipped = ct.clone();
    flipped[100] ^= 1;
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &flipped),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &ct[..39]),
        Err(CryptoError::InvalidLength { got: 39, .. })
    ));
    // Replayed into another group: the signature covers the group key.
    assert!(matches!(
        decrypt_group_message([&key], &Ed25519Keypair::generate().unwrap().public(), &ct),
        Err(CryptoError::BadSignature { .. })
    ));
    // A bad sender signature (the last byte of "s").
    let bad_sig = reencrypt(&ct, &key, |inner| {
        let end = inner.iter().rposition(|b| *b != 0).unwrap();
        inner[end - 1] ^= 1;
    });
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &bad_sig),
        Err(CryptoError::BadSignature { .. })
    ));
    // Tampered padding: a non-zero byte after the dict.
    let bad_pad = reencrypt(&ct, &key, |inner| {
        let n = inner.len();
        inner[n - 3] = 0x55;
    });
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &bad_pad),
        Err(CryptoError::Malformed { .. })
    ));
    // An unsupported version.
    let v2 = reencrypt(&ct, &key, |inner| {
        assert_eq!(&inner[..6], b"d0:i1e");
        inner[4] = b'2';
    });
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &v2),
        Err(CryptoError::Malformed { ref reason, .. }) if reason.contains("version 2")
    ));
    // Size limits.
    assert!(matches!(
        encrypt_group_message(
            sender.ed25519(),
            &group.public(),
            &key,
            &vec![1; GROUP_MESSAGE_MAX_PLAINTEXT + 1],
            false
        ),
        Err(CryptoError::InvalidLength { got: 1_000_001, .. })
    ));
    assert!(matches!(
        encrypt_group_message(sender.ed25519(), &group.public(), &key, b"", false),
        Err(CryptoError::InvalidLength { got: 0, .. })
    ));
}

#[test]
fn compressed_group_messages_and_bombs() {
    let group = Ed25519Keypair::generate().unwrap();
    let sender = Ed25519Keypair::generate().unwrap();
    let key = [7u8; 32];
    let big = b"abcdefgh".repeat(10_000);
    let ct = encrypt_group_message(&sender, &group.public(), &key, &big, true).unwrap();
    assert!(ct.len() < 2_000, "compressed to {}", ct.len());
    assert_eq!(
        decrypt_group_message([&key], &group.public(), &ct)
            .unwrap()
            .plaintext,
        big
    );
    // Exactly the maximum plaintext is allowed (compressed, it is small).
    let max = vec![0u8; GROUP_MESSAGE_MAX_PLAINTEXT];
    let ct = encrypt_group_message(&sender, &group.public(), &key, &max, true).unwrap();
    assert_eq!(
        decrypt_group_message([&key], &group.public(), &ct)
            .unwrap()
            .plaintext
            .len(),
        GROUP_MESSAGE_MAX_PLAINTEXT
    );
    // A validly signed `z` that inflates past 1,000,000 bytes is refused.
    let z = ruzstd::encoding::compress_to_vec(
        &vec![0u8; GROUP_MESSAGE_MAX_PLAINTEXT + 1][..],
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    let sig = sender.sign(&[&z[..], group.public().as_bytes()].concat());
    let mut dict = b"d0:i1e1:a32:".to_vec();
    dict.extend_from_slice(sender.public().as_bytes());
    dict.extend_from_slice(b"1:s64:");
    dict.extend_from_slice(&sig);
    dict.extend_from_slice(format!("1:z{}:", z.len()).as_bytes());
    dict.extend_from_slice(&z);
    dict.push(b'e');
    let nonce = [0u8; 24];
    let bomb = [
        &nonce[..],
        &xchacha20poly1305_encrypt(&key, &nonce, &[], &dict),
    ]
    .concat();
    assert!(matches!(
        decrypt_group_message([&key], &group.public(), &bomb),
        Err(CryptoError::Malformed { ref reason, .. }) if reason.contains("1000000")
    ));
}

// ───────────────────────────────── subaccounts ─────────────────────────────────

#[test]
fn subaccount_rejections() {
    let group = Ed25519Keypair::generate().unwrap();
    let member = Ed25519Keypair::generate().unwrap();
    let id = session_id(&member);
    let auth = make_subaccount_auth(&group, &id, SubaccountFlags::member(true, false)).unwrap();
    let pk = group.public();

    // Forged auth data: altered k, another group's signature, a wrong prefix, missing flags.
    let mut forged = *auth.as_bytes();
    forged[10] ^= 1;
    let forged = SubaccountAuth::from_slice(&forged).unwrap();
    assert!(matches!(
        verify_subaccount_auth(&pk, &member, &forged, SubaccountFlags::NONE),
        Err(CryptoError::BadSignature { .. })
    ));
    let other_group = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        verify_subaccount_auth(&other_group.public(), &member, &auth, SubaccountFlags::NONE),
        Err(CryptoError::BadSignature { .. })
    ));
    let other_member = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        verify_subaccount_auth(&pk, &other_member, &auth, SubaccountFlags::NONE),
        Err(CryptoError::BadSignature { .. })
    ));
    let mut wrong_prefix = *auth.as_bytes();
    wrong_prefix[0] = 0x05;
    assert!(matches!(
        verify_subaccount_auth(
            &pk,
            &member,
            &SubaccountAuth::from_slice(&wrong_prefix).unwrap(),
            SubaccountFlags::NONE
        ),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert!(matches!(
        verify_subaccount_auth(&pk, &member, &auth, SubaccountFlags::DELETE),
        Err(CryptoError::SubaccountPermission {
            have: 0x03,
            need: 0x05
        })
    ));
    assert!(matches!(
        SubaccountAuth::from_slice(&[0; 99]),
        Err(CryptoError::InvalidLength { got: 99, .. })
    ));

    // The service node's checks.
    let msg = b"delete_all1700000000000";
    let signed = subaccount_sign(&member, &auth, msg).unwrap();
    let req = SubaccountRequest {
        token: signed.token.as_bytes(),
        admin_signature: &signed.admin_signature,
        signature: &signed.signature,
        message: msg,
    };
    assert_eq!(
        req.verify(0x03, &pk, SubaccountFlags::WRITE, &[]).unwrap(),
        SubaccountFlags::member(true, false)
    );
    assert!(matches!(
        req.verify(0x03, &pk, SubaccountFlags::DELETE, &[]),
        Err(CryptoError::SubaccountPermission {
            have: 0x03,
            need: 0x04
        })
    ));
    assert!(matches!(
        req.verify(0x03, &pk, SubaccountFlags::READ, &[signed.token]),
        Err(CryptoError::SubaccountRevoked)
    ));
    let other_token =
        make_subaccount_token(&group, &session_id(&other_member), SubaccountFlags::READ).unwrap();
    assert!(
        req.verify(0x03, &pk, SubaccountFlags::READ, &[other_token])
            .is_ok()
    );
    assert!(matches!(
        req.verify(0x05, &pk, SubaccountFlags::READ, &[]),
        Err(CryptoError::WrongIdPrefix { .. })
    ));
    assert!(matches!(
        req.verify(0x03, &other_group.public(), SubaccountFlags::READ, &[]),
        Err(CryptoError::BadSignature {
            what: "subaccount token owner signature"
        })
    ));
    // Escalating the flags in the token breaks the owner's signature.
    let mut escalated = *signed.token.as_bytes();
    escalated[1] |= SubaccountFlags::DELETE.bits();
    assert!(matches!(
        verify_group_subaccount(
            &pk,
            &escalated,
            &signed.admin_signature,
            &signed.signature,
            msg,
            SubaccountFlags::DELETE
        ),
        Err(CryptoError::BadSignature {
            what: "subaccount token owner signature"
        })
    ));
    // A request signed for another message, or by someone else.
    assert!(matches!(
        verify_group_subaccount(
            &pk,
            signed.token.as_bytes(),
            &signed.admin_signature,
            &signed.signature,
            b"other",
            SubaccountFlags::READ
        ),
        Err(CryptoError::BadSignature {
            what: "subaccount request signature"
        })
    ));
    let impostor = subaccount_sign(&other_member, &auth, msg).unwrap();
    assert!(matches!(
        verify_group_subaccount(
            &pk,
            impostor.token.as_bytes(),
            &impostor.admin_signature,
            &impostor.signature,
            msg,
            SubaccountFlags::READ
        ),
        Err(CryptoError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_group_subaccount(
            &pk,
            &signed.token.as_bytes()[..35],
            &signed.admin_signature,
            &signed.signature,
            msg,
            SubaccountFlags::READ
        ),
        Err(CryptoError::InvalidLength { got: 35, .. })
    ));
    // The any-prefix flag lets a token work for another prefix of the same key.
    let any = make_subaccount_auth(
        &group,
        &id,
        SubaccountFlags::READ | SubaccountFlags::ANY_PREFIX,
    )
    .unwrap();
    let s = subaccount_sign(&member, &any, msg).unwrap();
    let req = SubaccountRequest {
        token: s.token.as_bytes(),
        admin_signature: &s.admin_signature,
        signature: &s.signature,
        message: msg,
    };
    assert!(req.verify(0x05, &pk, SubaccountFlags::READ, &[]).is_ok());
}

#[test]
fn revoke_signatures() {
    let group = Ed25519Keypair::generate().unwrap();
    let member = Ed25519Keypair::generate().unwrap();
    let token = make_subaccount_token(
        &group,
        &session_id(&member),
        SubaccountFlags::member(true, false),
    )
    .unwrap();
    let bytes = RevokeAction::Revoke.signed_bytes(1_700_000_000_000, &[token]);
    assert_eq!(&bytes[..30], b"revoke_subaccount1700000000000");
    assert_eq!(&bytes[30..], token.as_bytes());
    assert!(
        RevokeAction::Unrevoke
            .signed_bytes(5, &[])
            .starts_with(b"unrevoke_subaccount5")
    );
    let sig = sign_revoke(&group, RevokeAction::Revoke, 1_700_000_000_000, &[token]);
    verify_revoke(
        &group.public(),
        RevokeAction::Revoke,
        1_700_000_000_000,
        &[token],
        &sig,
    )
    .unwrap();
    assert!(matches!(
        verify_revoke(
            &group.public(),
            RevokeAction::Unrevoke,
            1_700_000_000_000,
            &[token],
            &sig
        ),
        Err(CryptoError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_revoke(
            &group.public(),
            RevokeAction::Revoke,
            1_700_000_000_001,
            &[token],
            &sig
        ),
        Err(CryptoError::BadSignature { .. })
    ));
}

// ────────────────────────────── control messages ──────────────────────────────

#[test]
fn admin_signature_strings() {
    let group = Ed25519Keypair::generate().unwrap();
    let invitee: AccountId = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
        .parse()
        .unwrap();
    let ids = vec![invitee.to_hex(), "05aa".to_string()];
    let hashes = vec!["hash1".to_string(), "hash2".to_string()];
    let ts = 1_700_000_000_123u64;
    let cases: Vec<(AdminAction<'_>, String)> = vec![
        (
            AdminAction::Invite { invitee: &invitee },
            format!("INVITE{}{ts}", invitee.to_hex()),
        ),
        (
            AdminAction::InfoChange(InfoChangeType::DisappearingMessages),
            format!("INFO_CHANGE3{ts}"),
        ),
        (
            AdminAction::InfoChange(InfoChangeType::Name),
            format!("INFO_CHANGE1{ts}"),
        ),
        (
            AdminAction::MemberChange(MemberChangeType::Removed),
            format!("MEMBER_CHANGE2{ts}"),
        ),
        (
            AdminAction::DeleteContent {
                member_ids: &ids,
                message_hashes: &hashes,
            },
            format!("DELETE_CONTENT{ts}{}05aahash1hash2", invitee.to_hex()),
        ),
    ];
    for (action, expected) in &cases {
        assert_eq!(action.signed_bytes(ts), expected.as_bytes());
        let sig = sign_admin_action(&group, action, ts);
        assert_eq!(sig, group.sign(expected.as_bytes()));
        verify_admin_action(&group.public(), action, ts, &sig).unwrap();
        assert!(matches!(
            verify_admin_action(&group.public(), action, ts + 1, &sig),
            Err(CryptoError::BadSignature { .. })
        ));
        assert!(matches!(
            verify_admin_action(&group.public(), action, ts, &sig[..63]),
            Err(CryptoError::InvalidLength { got: 63, .. })
        ));
    }
    let other = AdminAction::MemberChange(MemberChangeType::Added);
    let sig = sign_admin_action(&group, &cases[3].0, ts);
    assert!(matches!(
        verify_admin_action(&group.public(), &other, ts, &sig),
        Err(CryptoError::BadSignature { .. })
    ));
    let _ = MemberChangeType::Promoted;
    let _ = InfoChangeType::Avatar;
}

#[test]
fn kicked_member_message() {
    let group = Ed25519Keypair::generate().unwrap();
    let kicked: Vec<Ed25519Keypair> = (0..3)
        .map(|_| Ed25519Keypair::generate().unwrap())
        .collect();
    let ids: Vec<AccountId> = kicked.iter().map(session_id).collect();
    let msg = kicked_message(&group, &ids, 42).unwrap();
    for m in &kicked {
        assert_eq!(open_kicked_message(m, &group.public(), &msg).unwrap(), 42);
    }
    let stayed = Ed25519Keypair::generate().unwrap();
    assert!(matches!(
        open_kicked_message(&stayed, &group.public(), &msg),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        open_kicked_message(
            &kicked[0],
            &Ed25519Keypair::generate().unwrap().public(),
            &msg
        ),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    // An entry that names someone else, or no number, is malformed.
    let me = *kicked[0].to_x25519().public();
    for body in [
        [&[0u8; 32][..], &b"7"[..]].concat(),
        me.to_vec(),
        [&me[..], &b"x1"[..]].concat(),
        [&me[..], &b"01"[..]].concat(),
    ] {
        let enc = encrypt_for_multiple_simple_ed25519(
            &[body.as_slice()],
            &[me],
            &group,
            b"SessionGroupKickedMessage",
            0,
        )
        .unwrap();
        assert!(matches!(
            open_kicked_message(&kicked[0], &group.public(), &enc),
            Err(CryptoError::Malformed { .. })
        ));
    }
}

// ───────────────────────────────── properties ─────────────────────────────────

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn keys_message_for_random_member_sets(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 0..12),
        generation in 0i64..1000,
        ts in any::<i64>(),
    ) {
        let group = Ed25519Keypair::generate().unwrap();
        let members: Vec<Ed25519Keypair> = seeds.iter().map(|s| Ed25519Keypair::from_seed(Ed25519Seed::from_array(*s))).collect();
        let ids: Vec<AccountId> = members.iter().map(session_id).collect();
        let r = rekey(&group, &ids, generation).unwrap();
        let parsed = full(parse_keys_message(&r.message, &group.public()).unwrap());
        prop_assert_eq!(parsed.generation, generation);
        prop_assert_eq!(parsed.member_entries.len() % KEYS_ENTRY_MULTIPLE, 0);
        let admin = parsed.decrypt_as_admin(group.seed(), ts).unwrap();
        prop_assert_eq!(&admin.key, &r.key);
        prop_assert_eq!(admin.timestamp_ms, ts);
        for m in &members {
            let got = parsed.decrypt_as_member(m, ts).unwrap();
            prop_assert_eq!(&got.key, &r.key);
            prop_assert_eq!(got.generation, generation);
        }
        let outsider = Ed25519Keypair::generate().unwrap();
        let is_failure = matches!(parsed.decrypt_as_member(&outsider, ts), Err(CryptoError::DecryptionFailed { .. }));
        prop_assert!(is_failure);
        // The same members in any order give the same message.
        let mut shuffled = ids.clone();
        shuffled.reverse();
        prop_assert_eq!(rekey(&group, &shuffled, generation).unwrap().message, r.message);
    }

    #[test]
    fn group_message_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 1..3000),
        repeat in 1usize..4,
        compress in any::<bool>(),
        keys in proptest::collection::vec(any::<[u8; 32]>(), 1..4),
        pick in any::<prop::sample::Index>(),
    ) {
        let group = Ed25519Keypair::generate().unwrap();
        let sender = AccountKeys::generate().unwrap();
        let plaintext = plaintext.repeat(repeat);
        let which = pick.index(keys.len());
        let enc = GroupEncKey::from_array(keys[which]);
        let ct = encrypt_group_message(sender.ed25519(), &group.public(), enc.as_bytes(), &plaintext, compress).unwrap();
        prop_assert_eq!(ct.len() % 256, 0);
        let got = decrypt_group_message(keys.iter(), &group.public(), &ct).unwrap();
        // The first key that matches (keys may repeat) decrypts it.
        let first = keys.iter().position(|k| *k == keys[which]).unwrap();
        prop_assert_eq!(got.key_index, first);
        prop_assert_eq!(got.plaintext, plaintext);
        prop_assert_eq!(got.sender, sender.session_id());
    }

    #[test]
    fn subaccount_sign_verify(
        member_seed in any::<[u8; 32]>(),
        write in any::<bool>(),
        delete in any::<bool>(),
        message in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let group = Ed25519Keypair::generate().unwrap();
        let member = Ed25519Keypair::from_seed(Ed25519Seed::from_array(member_seed));
        let flags = SubaccountFlags::member(write, delete);
        let auth = make_subaccount_auth(&group, &session_id(&member), flags).unwrap();
        verify_subaccount_auth(&group.public(), &member, &auth, SubaccountFlags::READ).unwrap();
        let s = subaccount_sign(&member, &auth, &message).unwrap();
        prop_assert_eq!(s.token, make_subaccount_token(&group, &session_id(&member), flags).unwrap());
        s.token.pubkey().verify(&message, &s.signature).unwrap();
        let got = verify_group_subaccount(&group.public(), s.token.as_bytes(), &s.admin_signature, &s.signature, &message, SubaccountFlags::READ).unwrap();
        prop_assert_eq!(got, flags);
        let need_delete = verify_group_subaccount(&group.public(), s.token.as_bytes(), &s.admin_signature, &s.signature, &message, SubaccountFlags::DELETE);
        prop_assert_eq!(need_delete.is_ok(), delete);
    }
}
