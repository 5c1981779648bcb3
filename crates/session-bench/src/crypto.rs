//! The `crypto` scenario: each operation of the protocol's hot paths, ours next to
//! libsodium's, measured in the same run. One JSON line per operation:
//! `{"bench":"crypto","op":…,"bytes":…,"ours_ops_per_s":…,"libsodium_ops_per_s":…,"ratio":…}`
//! where `ratio` = ours / libsodium (≥ 1 means we are faster).

use std::time::Duration;

use serde_json::json;
use session_crypto::blinding::{BlindedKeypair, NonceStyle, blind15_factor};
use session_crypto::hash::{blake2b, hmac_sha256};
use session_crypto::onion::{self, EncType};
use session_crypto::{Ed25519Keypair, X25519Keypair, ed25519, sealed_box};

use crate::measure::{ops_per_sec, round1};
use crate::sodium;

/// Options of the `crypto` scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to spend on each side of each operation.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Message size in bytes for seal/open/sign/verify and the onion hop.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Run only operations whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

struct Bench {
    budget: Duration,
    size: usize,
    only: Option<String>,
}

impl Bench {
    fn pair<A, B>(&self, op: &str, ours: impl FnMut() -> A, theirs: impl FnMut() -> B) {
        if self.only.as_deref().is_some_and(|o| !op.contains(o)) {
            return;
        }
        let ours = ops_per_sec(self.budget, ours);
        let theirs = ops_per_sec(self.budget, theirs);
        println!(
            "{}",
            json!({
                "bench": "crypto",
                "op": op,
                "bytes": self.size,
                "ours_ops_per_s": round1(ours),
                "libsodium_ops_per_s": round1(theirs),
                "ratio": (ours / theirs * 1000.0).round() / 1000.0,
            })
        );
    }
}

/// Runs the scenario.
pub fn run(args: Args) -> anyhow::Result<()> {
    sodium::init()?;
    let bench = Bench {
        budget: Duration::from_secs_f64(args.seconds.max(0.05)),
        size: args.size,
        only: args.only,
    };
    let msg = vec![0x5au8; args.size];

    // Sealed box (1:1 messages).
    let recipient = X25519Keypair::generate()?;
    let rpk = *recipient.public();
    let rsk = *recipient.secret().as_bytes();
    bench.pair(
        "seal",
        || sealed_box::seal(&rpk, &msg),
        || sodium::seal(&msg, &rpk),
    );
    let sealed = sealed_box::seal(&rpk, &msg)?;
    anyhow::ensure!(sodium::seal_open(&sealed, &rpk, &rsk).as_deref() == Some(&msg[..]));
    bench.pair(
        "open",
        || sealed_box::open(&recipient, &sealed),
        || sodium::seal_open(&sealed, &rpk, &rsk),
    );

    // Ed25519.
    let signer = Ed25519Keypair::generate()?;
    let (spk, ssk) = sodium::sign_keypair(signer.seed().as_bytes());
    anyhow::ensure!(
        spk == signer.public().0,
        "libsodium and we disagree on the public key"
    );
    bench.pair("sign", || signer.sign(&msg), || sodium::sign(&ssk, &msg));
    let sig = signer.sign(&msg);
    bench.pair(
        "verify",
        || ed25519::verify(&spk, &msg, &sig),
        || sodium::verify(&spk, &msg, &sig),
    );

    // Onion hop crypto, both encryption types: the client side (fresh ephemeral key,
    // DH, key derivation, AEAD) and the node side (DH, key derivation, AEAD open).
    let node = X25519Keypair::generate()?;
    let npk = *node.public();
    let nsk = *node.secret().as_bytes();
    bench.pair(
        "onion_hop_encrypt_xchacha20",
        || onion::client_encrypt(EncType::XChaCha20, &npk, &msg),
        || {
            let esk: [u8; 32] = sodium::random();
            let epk = sodium::x25519_base(&esk);
            let shared = sodium::x25519(&esk, &npk);
            let key = sodium::blake2b32(&[&shared, &epk, &npk]);
            let nonce: [u8; 24] = sodium::random();
            sodium::xchacha_encrypt(&key, &nonce, &msg)
        },
    );
    let layer = onion::client_encrypt(EncType::XChaCha20, &npk, &msg)?;
    let (nonce, body) = layer.ciphertext.split_at(24);
    let nonce: [u8; 24] = nonce.try_into()?;
    let epk = layer.ephemeral_public;
    bench.pair(
        "onion_hop_decrypt_xchacha20",
        || onion::node_decrypt(EncType::XChaCha20, &node, &epk, &layer.ciphertext),
        || {
            let shared = sodium::x25519(&nsk, &epk);
            let key = sodium::blake2b32(&[&shared, &epk, &npk]);
            sodium::xchacha_decrypt(&key, &nonce, body)
        },
    );
    // Cross-check: libsodium derives the same key and opens our layer.
    let shared = sodium::x25519(&nsk, &epk);
    anyhow::ensure!(
        blake2b::<32>(&[&shared, &epk, &npk]) == sodium::blake2b32(&[&shared, &epk, &npk])
    );
    anyhow::ensure!(
        sodium::xchacha_decrypt(&sodium::blake2b32(&[&shared, &epk, &npk]), &nonce, body).is_some(),
        "libsodium cannot open our onion layer"
    );

    if sodium::aes_gcm_available() {
        bench.pair(
            "onion_hop_encrypt_aes_gcm",
            || onion::client_encrypt(EncType::AesGcm, &npk, &msg),
            || {
                let esk: [u8; 32] = sodium::random();
                let _epk = sodium::x25519_base(&esk);
                let shared = sodium::x25519(&esk, &npk);
                let key = sodium::hmac_sha256(b"LOKI", &shared);
                let iv: [u8; 12] = sodium::random();
                sodium::aes_gcm_encrypt(&key, &iv, &msg)
            },
        );
        let layer = onion::client_encrypt(EncType::AesGcm, &npk, &msg)?;
        let (iv, body) = layer.ciphertext.split_at(12);
        let iv: [u8; 12] = iv.try_into()?;
        let epk = layer.ephemeral_public;
        let shared = sodium::x25519(&nsk, &epk);
        anyhow::ensure!(hmac_sha256(b"LOKI", &[&shared]) == sodium::hmac_sha256(b"LOKI", &shared));
        anyhow::ensure!(
            sodium::aes_gcm_decrypt(&sodium::hmac_sha256(b"LOKI", &shared), &iv, body).is_some(),
            "libsodium cannot open our AES-GCM onion layer"
        );
        bench.pair(
            "onion_hop_decrypt_aes_gcm",
            || onion::node_decrypt(EncType::AesGcm, &node, &epk, &layer.ciphertext),
            || {
                let shared = sodium::x25519(&nsk, &epk);
                let key = sodium::hmac_sha256(b"LOKI", &shared);
                sodium::aes_gcm_decrypt(&key, &iv, body)
            },
        );
    } else {
        eprintln!("libsodium's AES-256-GCM needs AES-NI, absent here: skipping aes_gcm ops");
    }

    // blind15 community request signing (libsession's nonce), both sides with the
    // blinded key precomputed once per server as a client does.
    let server_pk = [0x42u8; 32];
    let blinded = BlindedKeypair::blind15(&signer, &server_pk);
    let k = blind15_factor(&server_pk).to_bytes();
    let a = signer.scalar().to_bytes();
    let (ka, big_ka) = sodium::blind(&k, &a);
    anyhow::ensure!(
        big_ka == blinded.public_key().0,
        "libsodium and we disagree on kA"
    );
    let sk64 = signer.secret_key_64();
    let h_rh: [u8; 32] = session_crypto::hash::sha512(&[&sk64[..]])[32..].try_into()?;
    let request = b"server-pubkey-32-bytes||nonce16||1700000000GET/room/lobby/messages/recent";
    anyhow::ensure!(
        blinded.sign_with_style(NonceStyle::Libsession, request)
            == sodium::blind15_sign(&ka, &big_ka, &h_rh, request),
        "libsodium and we disagree on a blind15 signature"
    );
    bench.pair(
        "blind15_sign",
        || blinded.sign_with_style(NonceStyle::Libsession, request),
        || sodium::blind15_sign(&ka, &big_ka, &h_rh, request),
    );
    Ok(())
}
