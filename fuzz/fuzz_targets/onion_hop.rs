//! One onion hop on hostile bytes (`session_wire::onion::hop`): an entry body, a relayed
//! dict, or — to get past the AEAD — arbitrary plaintext encrypted to the hop's key.
//! Nothing may panic; an accepted relay always advances the hop counter within the
//! limit, and an accepted proxy target always passes the URL filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_crypto::onion::{EncType, client_encrypt_with};
use session_crypto::{X25519Keypair, X25519SecretKey};
use session_wire::onion::hop::{Layer, Step, parse_entry, parse_relayed, peel};
use session_wire::onion::{MAX_HOPS, is_allowed_proxy_target};

fn check(node: &X25519Keypair, layer: &Layer) {
    match peel(node, layer) {
        Ok(Step::Relay { forward, .. }) => {
            assert_eq!(forward.hop_no, layer.hop_no + 1);
            assert!(forward.hop_no <= MAX_HOPS);
        }
        Ok(Step::Proxy { control, .. }) => assert!(is_allowed_proxy_target(&control.target)),
        Ok(Step::Final { .. }) | Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let node = X25519Keypair::from_secret(X25519SecretKey::from_array([7; 32]));
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(layer) = parse_entry(rest) {
                check(&node, &layer);
            }
        }
        1 => {
            if let Ok(layer) = parse_relayed(rest) {
                check(&node, &layer);
            }
        }
        m => {
            let enc = if m == 2 {
                EncType::AesGcm
            } else {
                EncType::XChaCha20
            };
            let ephemeral = X25519Keypair::from_secret(X25519SecretKey::from_array([9; 32]));
            let nonce = [3u8; 24];
            let Ok(l) = client_encrypt_with(
                enc,
                &ephemeral,
                node.public(),
                rest,
                &nonce[..enc.nonce_len()],
            ) else {
                return;
            };
            let hop_no = i64::from(rest.first().copied().unwrap_or(0) % 20);
            let layer = Layer {
                ciphertext: l.ciphertext,
                ephemeral_key: l.ephemeral_public,
                enc_type: enc.into(),
                hop_no,
            };
            check(&node, &layer);
        }
    }
});
