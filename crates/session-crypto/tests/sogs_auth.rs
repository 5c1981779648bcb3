//! SOGS request-authentication vectors (sogs_auth.json) and the server-side verifier:
//! header values, signed message, signatures, BLAKE2b parameter handling, and every
//! refusal the server maps to a status code.

// Helpers outside `#[test]` functions (here and in `common`) are test code too; clippy.toml's
// allow-*-in-tests settings only cover `#[test]` functions and `#[cfg(test)]` modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use session_crypto::account_id::{AccountId, IdPrefix};
use session_crypto::blinding::BlindedKeypair;
use session_crypto::ed25519::{Ed25519Keypair, Ed25519Seed};
use session_crypto::hash::Blake2b;
use session_crypto::keys::AccountKeys;
use session_crypto::sogs_auth::{
    HEADER_NONCE, HEADER_PUBKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, SogsAuthError,
    SogsAuthHeaderValues, SogsAuthHeaders, SogsAuthMode, SogsAuthPolicy, SogsRequest,
    decode_hex_or_b64, parse_auth_headers, sign_request, sign_request_with_nonce, signed_message,
    sogs_account_id, verify_request,
};

const ALLOW_ALL: SogsAuthPolicy = SogsAuthPolicy {
    require_blinding: false,
    accept_blind25: true,
};

struct Case {
    v: common::Vector,
    keys: Ed25519Keypair,
    server: [u8; 32],
    nonce: [u8; 16],
    ts: u64,
    body: Vec<u8>,
}

impl Case {
    fn load(id: &str) -> Self {
        let v = common::vector("sogs_auth", id);
        let keys = Ed25519Keypair::from_seed(
            Ed25519Seed::from_bytes(&v.input_hex("ed25519_seed")).unwrap(),
        );
        assert_eq!(keys.public().0.to_vec(), v.input_hex("ed25519_pubkey"));
        let server = v.input_hex("server_pk").try_into().unwrap();
        let nonce: [u8; 16] = v.input_hex("nonce").try_into().unwrap();
        assert_eq!(STANDARD.encode(nonce), v.input_str("nonce_b64"));
        let ts = v.input_str("timestamp").parse().unwrap();
        let body = if v.input.get("body_hex").is_some() {
            let b = v.input_hex("body_hex");
            assert_eq!(b, v.input_str("body_utf8").as_bytes());
            b
        } else {
            Vec::new()
        };
        Self {
            v,
            keys,
            server,
            nonce,
            ts,
            body,
        }
    }

    fn request(&self) -> SogsRequest<'_> {
        SogsRequest {
            method: self.v.input_str("method"),
            path: self.v.input_str("path"),
            body: &self.body,
        }
    }

    fn check(&self, mode: SogsAuthMode) -> SogsAuthHeaders {
        let v = &self.v;
        let msg = signed_message(
            &self.server,
            &self.nonce,
            v.input_str("timestamp"),
            &self.request(),
        );
        assert_eq!(msg, v.expected_hex("signed_message"), "{}", v.id);
        assert_eq!(
            msg.len() as u64,
            v.expected["signed_message_len"].as_u64().unwrap()
        );
        let h = sign_request_with_nonce(
            &self.keys,
            mode,
            &self.server,
            &self.request(),
            self.ts,
            &self.nonce,
        );
        assert_eq!(h.pubkey, v.expected_str("X-SOGS-Pubkey"), "{}", v.id);
        assert_eq!(h.timestamp, v.expected_str("X-SOGS-Timestamp"));
        assert_eq!(h.nonce, v.expected_str("X-SOGS-Nonce"));
        assert_eq!(h.signature, v.expected_str("X-SOGS-Signature"), "{}", v.id);
        assert_eq!(
            STANDARD.decode(&h.signature).unwrap(),
            v.expected_hex("signature_hex")
        );
        assert_eq!(
            sogs_account_id(&self.keys, mode, &self.server).to_hex(),
            h.pubkey
        );
        // The server accepts it and reports the parsed values.
        let parsed = verify_request(&h.values(), &ALLOW_ALL, &self.server, &self.request())
            .unwrap()
            .unwrap();
        assert_eq!(parsed.timestamp(), self.ts as i64);
        assert_eq!(parsed.nonce(), &self.nonce);
        assert_eq!(parsed.account_id().to_hex(), h.pubkey);
        h
    }
}

#[test]
fn unblinded_no_body() {
    let c = Case::load("sogs_auth.unblinded.no_body");
    let h = c.check(SogsAuthMode::Unblinded);
    let parsed = parse_auth_headers(&h.values(), &ALLOW_ALL)
        .unwrap()
        .unwrap();
    assert!(!parsed.is_blinded());
    assert_eq!(
        parsed.session_id().to_string(),
        c.v.expected_str("session_id")
    );
    assert_eq!(
        AccountKeys::from_seed(c.keys.seed().clone()).session_id(),
        parsed.session_id()
    );
}

#[test]
fn unblinded_with_body() {
    let c = Case::load("sogs_auth.unblinded.with_body");
    assert_eq!(
        session_crypto::hash::blake2b::<64>(&[&c.body]).to_vec(),
        c.v.expected_hex("body_hash_blake2b_512")
    );
    let h = c.check(SogsAuthMode::Unblinded);
    let parsed = parse_auth_headers(&h.values(), &ALLOW_ALL)
        .unwrap()
        .unwrap();
    assert_eq!(
        parsed.session_id().to_string(),
        c.v.expected_str("session_id")
    );
    // Without the body, or with another body, the signature fails.
    for body in [&b""[..], b"hello"] {
        let req = SogsRequest {
            body,
            ..c.request()
        };
        assert_eq!(
            parsed.verify(&c.server, &req),
            Err(SogsAuthError::SignatureFailed)
        );
    }
}

#[test]
fn blinded15_no_body() {
    let c = Case::load("sogs_auth.blinded15.no_body");
    let h = c.check(SogsAuthMode::Blind15);
    let parsed = parse_auth_headers(&h.values(), &SogsAuthPolicy::default())
        .unwrap()
        .unwrap();
    assert!(parsed.is_blinded());
    assert_eq!(parsed.session_id(), parsed.account_id());
    assert_eq!(parsed.account_id().prefix(), IdPrefix::Blinded15);
    // libsession's nonce gives another signature that the server accepts just as well.
    let b15 = BlindedKeypair::blind15(&c.keys, &c.server);
    let msg = signed_message(&c.server, &c.nonce, &h.timestamp, &c.request());
    let lib_sig = b15.sign(&msg);
    assert_ne!(STANDARD.encode(lib_sig), h.signature);
    let lib_headers = SogsAuthHeaders {
        signature: STANDARD.encode(lib_sig),
        ..h.clone()
    };
    verify_request(
        &lib_headers.values(),
        &SogsAuthPolicy::default(),
        &c.server,
        &c.request(),
    )
    .unwrap()
    .unwrap();
}

#[test]
fn blind25_signs_and_verifies() {
    let c = Case::load("sogs_auth.blinded15.no_body");
    let h = sign_request_with_nonce(
        &c.keys,
        SogsAuthMode::Blind25,
        &c.server,
        &c.request(),
        c.ts,
        &c.nonce,
    );
    assert!(h.pubkey.starts_with("25"));
    assert_eq!(
        h.pubkey,
        BlindedKeypair::blind25(&c.keys, &c.server)
            .account_id()
            .to_hex()
    );
    let parsed = verify_request(
        &h.values(),
        &SogsAuthPolicy::default(),
        &c.server,
        &c.request(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(parsed.account_id().prefix(), IdPrefix::Blinded25);
    // A server that only accepts 15 refuses it.
    let only15 = SogsAuthPolicy {
        accept_blind25: false,
        ..SogsAuthPolicy::default()
    };
    let err = parse_auth_headers(&h.values(), &only15).unwrap_err();
    assert_eq!(
        err,
        SogsAuthError::WrongPrefix {
            found: 0x25,
            expected: "00- or 15-"
        }
    );
    assert_eq!(
        err.to_string(),
        "Invalid authentication: X-SOGS-Pubkey must be 00- or 15- prefixed"
    );
}

#[test]
fn blake2b_pysogs_keyed_salt_person() {
    let v = common::vector("sogs_auth", "blake2b.pysogs.keyed_salt_person_512");
    assert_eq!(
        v.input_hex("salt_hex"),
        v.input_str("salt_ascii").as_bytes()
    );
    assert_eq!(
        v.input_hex("person_hex"),
        v.input_str("person_ascii").as_bytes()
    );
    let mut h = Blake2b::with_params(
        64,
        &v.input_hex("key"),
        &v.input_hex("salt_hex"),
        &v.input_hex("person_hex"),
    )
    .unwrap();
    h.update(&v.input_hex("data"));
    assert_eq!(h.finalize(), v.expected_hex("digest"));
}

#[test]
fn blake2b_pysogs_unkeyed_salt_person() {
    let v = common::vector("sogs_auth", "blake2b.pysogs.unkeyed_salt_person_512");
    let data = v.input_hex("data");
    let mut h = Blake2b::with_params(
        64,
        &[],
        &v.input_hex("salt_hex"),
        &v.input_hex("person_hex"),
    )
    .unwrap();
    // Incremental input gives the same digest as one update.
    for chunk in data.chunks(7) {
        h.update(chunk);
    }
    assert_eq!(h.finalize(), v.expected_hex("digest"));
}

#[test]
fn header_pairs_and_encodings() {
    let c = Case::load("sogs_auth.blinded15.no_body");
    let h = sign_request_with_nonce(
        &c.keys,
        SogsAuthMode::Blind15,
        &c.server,
        &c.request(),
        c.ts,
        &c.nonce,
    );
    let names: Vec<_> = h.pairs().iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            HEADER_PUBKEY,
            HEADER_TIMESTAMP,
            HEADER_NONCE,
            HEADER_SIGNATURE
        ]
    );
    // The server also accepts hex nonce/signature, base64 pubkey, and unpadded base64.
    let sig_hex = hex::encode(STANDARD.decode(&h.signature).unwrap());
    let nonce_hex = hex::encode(c.nonce);
    let pk_b64 = STANDARD.encode(hex::decode(&h.pubkey).unwrap());
    let nonce_unpadded = h.nonce.trim_end_matches('=').to_owned();
    for (pk, nonce, sig) in [
        (h.pubkey.as_str(), nonce_hex.as_str(), sig_hex.as_str()),
        (
            pk_b64.as_str(),
            nonce_unpadded.as_str(),
            h.signature.as_str(),
        ),
        (
            h.pubkey.to_uppercase().as_str(),
            h.nonce.as_str(),
            h.signature.trim_end_matches('='),
        ),
    ] {
        let values = SogsAuthHeaderValues {
            pubkey: Some(pk),
            timestamp: Some(&h.timestamp),
            nonce: Some(nonce),
            signature: Some(sig),
        };
        let p = verify_request(&values, &SogsAuthPolicy::default(), &c.server, &c.request())
            .unwrap()
            .unwrap();
        assert_eq!(p.nonce(), &c.nonce);
    }
    assert_eq!(decode_hex_or_b64::<16>(&h.nonce), Some(c.nonce));
}

#[test]
fn random_nonce_signing() {
    let c = Case::load("sogs_auth.blinded15.no_body");
    let a = sign_request(
        &c.keys,
        SogsAuthMode::Blind15,
        &c.server,
        &c.request(),
        c.ts,
    )
    .unwrap();
    let b = sign_request(
        &c.keys,
        SogsAuthMode::Blind15,
        &c.server,
        &c.request(),
        c.ts,
    )
    .unwrap();
    assert_ne!(a.nonce, b.nonce);
    for h in [&a, &b] {
        verify_request(
            &h.values(),
            &SogsAuthPolicy::default(),
            &c.server,
            &c.request(),
        )
        .unwrap()
        .unwrap();
    }
}

/// Valid blind15 headers for the vector request, to be broken one way at a time.
fn good() -> (Case, SogsAuthHeaders) {
    let c = Case::load("sogs_auth.blinded15.no_body");
    let h = sign_request_with_nonce(
        &c.keys,
        SogsAuthMode::Blind15,
        &c.server,
        &c.request(),
        c.ts,
        &c.nonce,
    );
    (c, h)
}

fn parse_err(values: &SogsAuthHeaderValues<'_>, policy: &SogsAuthPolicy) -> SogsAuthError {
    parse_auth_headers(values, policy).unwrap_err()
}

#[test]
fn missing_headers() {
    let (_, h) = good();
    let none = SogsAuthHeaderValues::default();
    assert_eq!(
        parse_auth_headers(&none, &SogsAuthPolicy::default()),
        Ok(None)
    );
    // Empty values count as absent.
    let empty = SogsAuthHeaderValues {
        pubkey: Some(""),
        timestamp: Some(""),
        nonce: None,
        signature: Some(""),
    };
    assert_eq!(
        parse_auth_headers(&empty, &SogsAuthPolicy::default()),
        Ok(None)
    );
    let mut v = h.values();
    v.nonce = None;
    assert_eq!(
        parse_err(&v, &SogsAuthPolicy::default()),
        SogsAuthError::MissingHeaders { missing: 1 }
    );
    v.signature = Some("");
    v.timestamp = None;
    let err = parse_err(&v, &SogsAuthPolicy::default());
    assert_eq!(err, SogsAuthError::MissingHeaders { missing: 3 });
    assert_eq!(
        err.to_string(),
        "Invalid authentication headers: missing 3/4 required X-SOGS-* headers"
    );
}

#[test]
fn bad_pubkey_values() {
    let (c, h) = good();
    let policy = SogsAuthPolicy::default();
    // Undecodable: wrong length, not hex, truncated.
    for pk in [&h.pubkey[..64], &"zz".repeat(33), "15"] {
        let v = SogsAuthHeaderValues {
            pubkey: Some(pk),
            ..h.values()
        };
        assert_eq!(
            parse_err(&v, &policy),
            SogsAuthError::PubkeyUndecodable,
            "{pk}"
        );
    }
    // Wrong prefix: a 05 Session ID, a 03 group id, 07.
    for prefix in ["05", "03", "07"] {
        let pk = format!("{prefix}{}", &h.pubkey[2..]);
        let v = SogsAuthHeaderValues {
            pubkey: Some(&pk),
            ..h.values()
        };
        assert!(matches!(
            parse_err(&v, &policy),
            SogsAuthError::WrongPrefix { found, .. } if format!("{found:02x}") == prefix
        ));
    }
    // Not a valid point: the identity, a small-order point, a non-point.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for key in [identity, [0u8; 32], [0xff; 32]] {
        let pk = AccountId::new(IdPrefix::Blinded15, key).to_hex();
        let v = SogsAuthHeaderValues {
            pubkey: Some(&pk),
            ..h.values()
        };
        assert_eq!(parse_err(&v, &policy), SogsAuthError::InvalidPubkey);
    }
    // 00 on a server that requires blinding.
    let unblinded = sign_request_with_nonce(
        &c.keys,
        SogsAuthMode::Unblinded,
        &c.server,
        &c.request(),
        c.ts,
        &c.nonce,
    );
    assert_eq!(
        parse_err(&unblinded.values(), &policy),
        SogsAuthError::BlindingRequired
    );
}

#[test]
fn bad_nonce_signature_timestamp_values() {
    let (_, h) = good();
    let policy = SogsAuthPolicy::default();
    let long_nonce = STANDARD.encode([1u8; 17]);
    for nonce in [
        "",
        "abc",
        "zz",
        long_nonce.as_str(),
        &"g".repeat(32),
        "!!!!!!!!!!!!!!!!!!!!!!!!",
    ] {
        if nonce.is_empty() {
            continue;
        }
        let v = SogsAuthHeaderValues {
            nonce: Some(nonce),
            ..h.values()
        };
        assert_eq!(
            parse_err(&v, &policy),
            SogsAuthError::NonceUndecodable,
            "{nonce}"
        );
    }
    for sig in [&h.signature[..80], &"00".repeat(63), &"x".repeat(88)] {
        let v = SogsAuthHeaderValues {
            signature: Some(sig),
            ..h.values()
        };
        assert_eq!(parse_err(&v, &policy), SogsAuthError::SignatureUndecodable);
    }
    for ts in ["now", "1.5", "0x10", "1_000", "--1"] {
        let v = SogsAuthHeaderValues {
            timestamp: Some(ts),
            ..h.values()
        };
        assert_eq!(
            parse_err(&v, &policy),
            SogsAuthError::TimestampInvalid,
            "{ts}"
        );
    }
    // Out-of-range integers saturate (the server's window check then refuses them).
    let v = SogsAuthHeaderValues {
        timestamp: Some("16424721030000000000000"),
        ..h.values()
    };
    let parsed = parse_auth_headers(&v, &policy).unwrap().unwrap();
    assert_eq!(parsed.timestamp(), i64::MAX);
}

#[test]
fn forged_and_replayed_signatures_fail() {
    let (c, h) = good();
    let policy = SogsAuthPolicy::default();
    let check = |values: &SogsAuthHeaderValues<'_>, server: &[u8; 32], req: &SogsRequest<'_>| {
        verify_request(values, &policy, server, req)
    };
    // Wrong server key.
    let mut other_server = c.server;
    other_server[0] ^= 1;
    assert_eq!(
        check(&h.values(), &other_server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
    // The same headers replayed on another path, method or body.
    for req in [
        SogsRequest {
            path: "/room/the-best-room/messages/recent?limit=26",
            ..c.request()
        },
        SogsRequest {
            method: "POST",
            ..c.request()
        },
        SogsRequest {
            body: b"x",
            ..c.request()
        },
    ] {
        assert_eq!(
            check(&h.values(), &c.server, &req),
            Err(SogsAuthError::SignatureFailed)
        );
    }
    // Another timestamp or nonce than the one signed.
    let later = (c.ts + 1).to_string();
    let v = SogsAuthHeaderValues {
        timestamp: Some(&later),
        ..h.values()
    };
    assert_eq!(
        check(&v, &c.server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
    // "+1642472103" parses to the same integer but is not the signed text.
    let plus = format!("+{}", c.ts);
    let v = SogsAuthHeaderValues {
        timestamp: Some(&plus),
        ..h.values()
    };
    assert_eq!(
        check(&v, &c.server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
    let other_nonce = STANDARD.encode([7u8; 16]);
    let v = SogsAuthHeaderValues {
        nonce: Some(&other_nonce),
        ..h.values()
    };
    assert_eq!(
        check(&v, &c.server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
    // Flipped bits in the signature.
    let sig = STANDARD.decode(&h.signature).unwrap();
    for bit in [0usize, 77, 255, 256, 300, 511] {
        let mut bad = sig.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let bad = STANDARD.encode(bad);
        let v = SogsAuthHeaderValues {
            signature: Some(&bad),
            ..h.values()
        };
        assert_eq!(
            check(&v, &c.server, &c.request()),
            Err(SogsAuthError::SignatureFailed),
            "bit {bit}"
        );
    }
    // The signature presented under the other blind15 sign candidate, or under the
    // unblinded key, does not verify.
    let mut flipped = hex::decode(&h.pubkey).unwrap();
    flipped[32] ^= 0x80;
    let flipped = hex::encode(flipped);
    let v = SogsAuthHeaderValues {
        pubkey: Some(&flipped),
        ..h.values()
    };
    assert_eq!(
        check(&v, &c.server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
    let unblinded = AccountId::new(IdPrefix::Unblinded, c.keys.public().0).to_hex();
    let v = SogsAuthHeaderValues {
        pubkey: Some(&unblinded),
        ..h.values()
    };
    assert_eq!(
        verify_request(&v, &ALLOW_ALL, &c.server, &c.request()),
        Err(SogsAuthError::SignatureFailed)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sign_verify_round_trip(
        seed in any::<[u8; 32]>(),
        server in any::<[u8; 32]>(),
        nonce in any::<[u8; 16]>(),
        ts in 0u64..4_000_000_000,
        mode_ix in 0usize..3,
        path in "/[a-z0-9/?=&]{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let keys = Ed25519Keypair::from_seed(Ed25519Seed::from_array(seed));
        let mode = [SogsAuthMode::Unblinded, SogsAuthMode::Blind15, SogsAuthMode::Blind25][mode_ix];
        let req = SogsRequest { method: "POST", path: &path, body: &body };
        let h = sign_request_with_nonce(&keys, mode, &server, &req, ts, &nonce);
        let parsed = verify_request(&h.values(), &ALLOW_ALL, &server, &req).unwrap().unwrap();
        prop_assert_eq!(parsed.timestamp(), ts as i64);
        prop_assert_eq!(parsed.nonce(), &nonce);
        prop_assert_eq!(parsed.account_id(), sogs_account_id(&keys, mode, &server));
        let other = SogsRequest { method: "PUT", ..req };
        prop_assert_eq!(
            verify_request(&h.values(), &ALLOW_ALL, &server, &other),
            Err(SogsAuthError::SignatureFailed)
        );
    }

    #[test]
    fn parser_never_panics(
        pk in ".{0,80}", ts in ".{0,30}", nonce in ".{0,40}", sig in ".{0,140}",
    ) {
        let v = SogsAuthHeaderValues {
            pubkey: Some(&pk), timestamp: Some(&ts), nonce: Some(&nonce), signature: Some(&sig),
        };
        let _ = parse_auth_headers(&v, &ALLOW_ALL);
    }
}
