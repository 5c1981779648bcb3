//! Identity vectors (identity.json): seeds, key pairs, X25519 conversion, Session IDs,
//! XEd25519 pubkeys, group ids, and the BLAKE2b primitive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::curve::xed25519_pubkey;
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_crypto::keys::AccountKeys;

#[test]
fn seed_to_session_id() {
    let v = common::vector("identity", "identity.seed_to_session_id.01234567");
    let keys =
        AccountKeys::from_seed(Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap());
    assert_eq!(
        keys.ed25519_public().0.to_vec(),
        v.expected_hex("ed25519_pubkey")
    );
    assert_eq!(
        keys.ed25519().secret_key_64().to_vec(),
        v.expected_hex("ed25519_secret_key_64")
    );
    assert_eq!(
        keys.x25519().public().to_vec(),
        v.expected_hex("x25519_pubkey")
    );
    assert_eq!(
        keys.x25519().secret().as_bytes().to_vec(),
        v.expected_hex("x25519_secret")
    );
    assert_eq!(keys.session_id().to_string(), v.expected_str("session_id"));
    // The 16-byte form of the same seed gives the same account.
    let short = Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")[..16]).unwrap();
    assert_eq!(
        AccountKeys::from_seed(short).session_id(),
        keys.session_id()
    );
}

#[test]
fn seed_keypair_and_signature() {
    let v = common::vector("identity", "ed25519.seed_keypair.4cb76fdc");
    let kp =
        Ed25519Keypair::from_seed(Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap());
    assert_eq!(kp.public().0.to_vec(), v.expected_hex("ed25519_pubkey"));
    assert_eq!(
        kp.secret_key_64().to_vec(),
        v.expected_hex("ed25519_secret_key_64")
    );
    let sig = kp.sign(&v.input_hex("message_hex"));
    assert_eq!(sig.to_vec(), v.expected_hex("signature_of_message"));
    kp.public()
        .verify(&v.input_hex("message_hex"), &sig)
        .unwrap();
}

#[test]
fn ed_sk_to_x_sk() {
    let v = common::vector("identity", "curve25519.ed_sk_to_x_sk.4cb76fdc");
    let seed = Ed25519Seed::from_bytes(&v.input_hex("ed25519_secret_key_64")).unwrap();
    let kp = Ed25519Keypair::from_seed(seed);
    assert_eq!(
        kp.to_x25519().secret().as_bytes().to_vec(),
        v.expected_hex("x25519_secret")
    );
}

#[test]
fn xed25519_pubkeys() {
    let v = common::vector("identity", "xed25519.pubkey_conversion");
    for i in ["1", "2"] {
        let kp = Ed25519Keypair::from_seed(
            Ed25519Seed::from_bytes(&v.input_hex(&format!("ed25519_seed_{i}"))).unwrap(),
        );
        assert_eq!(
            kp.public().0.to_vec(),
            v.expected_hex(&format!("ed25519_pubkey_{i}"))
        );
        let x = kp.public().to_x25519().unwrap();
        assert_eq!(x.to_vec(), v.expected_hex(&format!("x25519_pub_{i}")));
        assert_eq!(
            xed25519_pubkey(&x).unwrap().to_vec(),
            v.expected_hex(&format!("xed25519_pubkey_from_x25519_pub_{i}"))
        );
    }
}

fn hex_list(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn multi_encrypt_seeds_to_x25519() {
    let v = common::vector("identity", "x25519_pubkeys.multi_encrypt_seeds");
    let seeds = hex_list(&v.input, "ed25519_seeds");
    let expected = hex_list(&v.expected, "x25519_pubkeys");
    assert_eq!(seeds.len(), expected.len());
    for (seed, x) in seeds.iter().zip(&expected) {
        let keys = AccountKeys::from_seed(Ed25519Seed::from_hex(seed).unwrap());
        assert_eq!(&hex::encode(keys.x25519().public()), x);
    }
}

#[test]
fn group_test_seeds_to_session_ids() {
    let v = common::vector("identity", "session_ids.group_test_seeds");
    let seeds = hex_list(&v.input, "ed25519_seeds");
    let expected = hex_list(&v.expected, "session_ids");
    assert_eq!(seeds.len(), expected.len());
    for (seed, sid) in seeds.iter().zip(&expected) {
        let keys = AccountKeys::from_seed(Ed25519Seed::from_hex(seed).unwrap());
        assert_eq!(&keys.session_id().to_string(), sid);
    }
}

#[test]
fn group_id_is_03_plus_ed25519() {
    let v = common::vector("identity", "group_id.from_group_seed");
    let kp = Ed25519Keypair::from_seed(
        Ed25519Seed::from_hex(v.input_str("group_ed25519_seed")).unwrap(),
    );
    assert_eq!(
        kp.public().0.to_vec(),
        v.expected_hex("group_ed25519_pubkey")
    );
    let id = AccountId::new(IdPrefix::Group, kp.public().0);
    assert_eq!(id.to_string(), v.expected_str("group_id"));
}

#[test]
fn blake2b_plain_and_keyed() {
    use session_crypto::hash::{Blake2b, blake2b, blake2b_keyed};
    let v = common::vector("identity", "blake2b_hash");
    let msg = v.input_hex("message_hex");
    let key = v.input_hex("key_hex");
    assert_eq!(
        blake2b::<32>(&[&msg]).to_vec(),
        v.expected_hex("blake2b_32")
    );
    assert_eq!(
        blake2b::<64>(&[&msg]).to_vec(),
        v.expected_hex("blake2b_64")
    );
    assert_eq!(
        blake2b_keyed::<32>(&key, &[&msg]).to_vec(),
        v.expected_hex("blake2b_32_keyed")
    );
    assert_eq!(
        blake2b_keyed::<64>(&key, &[&msg]).to_vec(),
        v.expected_hex("blake2b_64_keyed")
    );
    let mut h = Blake2b::keyed(64, &key).unwrap();
    h.update(&msg[..4]).update(&msg[4..]);
    assert_eq!(h.finalize(), v.expected_hex("blake2b_64_keyed"));
}

#[test]
fn account_id_prefixes() {
    let v = common::vector("identity", "identity.seed_to_session_id.01234567");
    let id = AccountId::parse_session_id(v.expected_str("session_id")).unwrap();
    assert_eq!(id.prefix(), IdPrefix::Standard);
}

#[test]
fn keccak256_abi_selectors_and_event_topics() {
    use session_crypto::hash::keccak256;
    let v = common::vector("governance", "abi.function_selectors");
    for (sig, sel) in hex_list(&v.input, "signatures")
        .iter()
        .zip(hex_list(&v.expected, "selectors"))
    {
        assert_eq!(
            hex::encode(&keccak256(&[sig.as_bytes()])[..4]),
            sel,
            "{sig}"
        );
    }
    let v = common::vector("governance", "derived.abi.event_topics.consumed");
    let sigs = hex_list(&v.input, "event_signatures");
    let topics = hex_list(&v.expected, "topic0");
    assert_eq!(sigs.len(), topics.len());
    for (sig, topic) in sigs.iter().zip(topics) {
        assert_eq!(hex::encode(keccak256(&[sig.as_bytes()])), topic, "{sig}");
    }
}
