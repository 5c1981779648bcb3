//! Attachment vectors (attachments.json) and behaviour: streaming "S" sizes, keys and exact
//! ciphertexts for both key derivations, legacy padding, file-server ids; round trips of both
//! formats; every rejection path with its specific error; and a libsodium cross-check of the
//! streaming format.
#![allow(unsafe_code)]
// clippy.toml's allow-*-in-tests covers #[test] functions only, not helpers (nor the shared
// `common` loader).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use libsodium_sys as ffi;
use proptest::prelude::*;
use serde_json::Value;
use session_crypto::CryptoError;
use session_crypto::attachments::{
    AttachmentError, AttachmentKey, Domain, KeyDerivation, LEGACY_MAX_SIZE, LegacyKey,
    MAX_REGULAR_ENCRYPTED_SIZE, MAX_REGULAR_SIZE, STREAM_ENCRYPTED_CHUNK_SIZE, STREAM_PREFIX_LEN,
    StreamDecryptor, StreamEncryptor, StreamKey, decrypt_stream, decrypted_max_size,
    derive_stream_key, encrypt_stream, encrypt_stream_with, encrypted_size, file_server_content_id,
    legacy_decrypt, legacy_encrypt, legacy_encrypt_with, legacy_padded_size,
};
use session_crypto::hash::sha256;
use session_crypto::secretstream::{PushStream, Tag};

/// The vectors' seed: hex `0123456789abcdef` repeated.
const SEED: [u8; 32] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
];

/// The vectors' test data: byte i = (i·7) mod 256.
fn vector_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

// ───────────────────────────── vectors ─────────────────────────────

#[test]
fn streaming_encrypted_size_part1() {
    let v = common::vector("attachments", "streaming_encrypted_size.part1");
    let sizes = v.input["plaintext_sizes"].as_array().unwrap();
    let expected = v.expected["encrypted_sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), expected.len());
    for (n, e) in sizes.iter().zip(expected) {
        let n = n.as_u64().unwrap() as usize;
        let e = e.as_u64().unwrap() as usize;
        assert_eq!(encrypted_size(n), Some(e), "encrypted_size({n})");
        // And the encryption really has that size (the description: encrypting twice gives
        // identical output and key).
        let a = encrypt_stream(
            &SEED,
            &vector_data(n),
            Domain::Attachment,
            KeyDerivation::default(),
            false,
        )
        .unwrap();
        let b = encrypt_stream(
            &SEED,
            &vector_data(n),
            Domain::Attachment,
            KeyDerivation::default(),
            false,
        )
        .unwrap();
        assert_eq!(a.blob.len(), e);
        assert_eq!(a.blob, b.blob);
        assert_eq!(a.key, b.key);
    }
    // The sizes listed in the spec (client-protocol §7.2).
    assert_eq!(encrypted_size(33_333), Some(36_864));
    assert_eq!(
        encrypted_size(MAX_REGULAR_SIZE),
        Some(MAX_REGULAR_ENCRYPTED_SIZE)
    );
}

fn check_deterministic_vector(id: &str, kdf: KeyDerivation) {
    let v = common::vector("attachments", id);
    assert_eq!(hex::decode(v.input_str("seed")).unwrap(), SEED);
    let results = v.expected["results"].as_object().unwrap();
    assert_eq!(results.len(), 6, "{id}: unexpected number of results");
    for (name, r) in results {
        let (len, domain) = match name.strip_suffix("_profile_pic") {
            Some(len) => (len, Domain::ProfilePicture),
            None => (name.as_str(), Domain::Attachment),
        };
        let len: usize = len.parse().unwrap();
        let data = vector_data(len);
        let enc = encrypt_stream(&SEED, &data, domain, kdf, false).unwrap();
        let field = |k: &str| {
            r[k].as_str()
                .unwrap_or_else(|| panic!("{id}/{name}: no {k}"))
        };
        assert_eq!(
            hex::encode(enc.key.as_bytes()),
            field("key"),
            "{id}/{name}: key"
        );
        assert_eq!(
            hex::encode(sha256(&[&enc.blob])),
            field("sha256"),
            "{id}/{name}: sha256"
        );
        if let Some(Value::Number(n)) = r.get("encrypted_len") {
            assert_eq!(enc.blob.len() as u64, n.as_u64().unwrap(), "{id}/{name}");
        }
        if r.get("first25_hex").is_some() {
            assert_eq!(
                hex::encode(&enc.blob[..25]),
                field("first25_hex"),
                "{id}/{name}"
            );
        }
        // The key is the same whichever way it is derived.
        assert_eq!(derive_stream_key(&SEED, &data, domain, kdf).key(), &enc.key);
        // And the blob decrypts, with our decoder and with libsodium.
        assert_eq!(decrypt_stream(&enc.blob, &enc.key, false).unwrap(), data);
        assert_eq!(sodium_decrypt_stream(&enc.blob, enc.key.as_bytes()), data);
    }
    let full = v.expected_hex("empty_full_hex");
    let enc = encrypt_stream(&SEED, &[], Domain::Attachment, kdf, false).unwrap();
    assert_eq!(enc.blob, full, "{id}: empty_full_hex");
    assert!(decrypt_stream(&full, &enc.key, false).unwrap().is_empty());
}

#[test]
fn deterministic_encrypt_v1_domainbyte_key() {
    check_deterministic_vector(
        "derived.deterministic_encrypt.v1_domainbyte_key",
        KeyDerivation::V1DomainKey,
    );
}

#[test]
fn deterministic_encrypt_v2_seed_key_personal() {
    check_deterministic_vector(
        "derived.deterministic_encrypt.v2_seed_key_personal",
        KeyDerivation::V2Personalised,
    );
}

#[test]
fn file_id_content_hash_hello() {
    let v = common::vector("attachments", "derived.file_id.content_hash.hello");
    let data = v.input_hex("data_hex");
    assert_eq!(data, v.input_str("data_ascii").as_bytes());
    assert_eq!(
        v.input_hex("salt_hex"),
        session_crypto::attachments::FILE_ID_SALT
    );
    let id = file_server_content_id(&data);
    assert_eq!(id, v.expected_str("file_id"));
    assert_eq!(id.len(), 44);
}

#[test]
fn legacy_attachment_padding_part1() {
    let v = common::vector("attachments", "derived.legacy_attachment_padding.part1");
    let sizes = v.input["plaintext_sizes"].as_array().unwrap();
    let expected = v.expected["padded_sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), expected.len());
    for (n, e) in sizes.iter().zip(expected) {
        let n = n.as_u64().unwrap() as usize;
        assert_eq!(legacy_padded_size(n) as u64, e.as_u64().unwrap(), "n = {n}");
    }
}

// ───────────────────────────── libsodium cross-check ─────────────────────────────

/// Decrypts an "S" blob with libsodium's `crypto_secretstream_xchacha20poly1305_pull`,
/// following §7.2 literally: 32 785-byte chunks, FINAL last, padding `0…0 1` stripped.
fn sodium_decrypt_stream(blob: &[u8], key: &[u8; 32]) -> Vec<u8> {
    // SAFETY: sodium_init may be called any number of times.
    assert!(unsafe { ffi::sodium_init() } >= 0);
    assert_eq!(blob[0], b'S');
    let mut st = ffi::crypto_secretstream_xchacha20poly1305_state {
        k: [0; 32],
        nonce: [0; 12],
        _pad: [0; 8],
    };
    // SAFETY: header is 24 bytes (blob[1..25]), key 32 bytes.
    let rc = unsafe {
        ffi::crypto_secretstream_xchacha20poly1305_init_pull(
            &mut st,
            blob[1..STREAM_PREFIX_LEN].as_ptr(),
            key.as_ptr(),
        )
    };
    assert_eq!(rc, 0);
    let mut stream = Vec::new();
    let chunks: Vec<&[u8]> = blob[STREAM_PREFIX_LEN..]
        .chunks(STREAM_ENCRYPTED_CHUNK_SIZE)
        .collect();
    for (i, c) in chunks.iter().enumerate() {
        let mut m = vec![0u8; c.len() - 17];
        let mut mlen = 0u64;
        let mut tag = 0u8;
        // SAFETY: m has clen - ABYTES bytes; no associated data.
        let rc = unsafe {
            ffi::crypto_secretstream_xchacha20poly1305_pull(
                &mut st,
                m.as_mut_ptr(),
                &mut mlen,
                &mut tag,
                c.as_ptr(),
                c.len() as _,
                std::ptr::null(),
                0,
            )
        };
        assert_eq!(rc, 0, "libsodium rejected chunk {i}");
        let final_expected = i + 1 == chunks.len();
        assert_eq!(tag == 3, final_expected, "FINAL tag placement at chunk {i}");
        stream.extend_from_slice(&m[..mlen as usize]);
    }
    let start = stream.iter().position(|&b| b != 0).unwrap();
    assert_eq!(stream[start], 1);
    stream.split_off(start + 1)
}

// ───────────────────────────── streaming: behaviour ─────────────────────────────

fn stream_key(header: u8, key: u8) -> StreamKey {
    StreamKey::from_parts([header; 24], AttachmentKey::from_bytes(&[key; 32]).unwrap())
}

/// Builds an "S" blob chunk by chunk with arbitrary plaintexts and tags.
fn craft(key: &StreamKey, chunks: &[(&[u8], Tag)]) -> Vec<u8> {
    let mut out = vec![b'S'];
    out.extend_from_slice(key.header());
    let mut push = PushStream::with_header(key.key().as_bytes(), key.header());
    for (m, tag) in chunks {
        push.push_into(m, &[], *tag, &mut out).unwrap();
    }
    out
}

/// A 3-chunk blob (about 70 kB of data) for the tamper tests.
fn three_chunk_blob() -> (Vec<u8>, AttachmentKey, Vec<u8>) {
    let data = vector_data(70_000);
    let enc = encrypt_stream(
        &SEED,
        &data,
        Domain::Attachment,
        KeyDerivation::default(),
        false,
    )
    .unwrap();
    assert_eq!(
        (enc.blob.len() - STREAM_PREFIX_LEN).div_ceil(STREAM_ENCRYPTED_CHUNK_SIZE),
        3
    );
    (enc.blob, enc.key, data)
}

#[test]
fn wrong_key_is_wrong_key() {
    let (blob, key, _) = three_chunk_blob();
    let mut k = *key.as_bytes();
    k[0] ^= 1;
    let wrong = AttachmentKey::from_bytes(&k).unwrap();
    assert_eq!(
        decrypt_stream(&blob, &wrong, false),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
    // Also for a one-chunk blob, which is decrypted only at `finish`.
    let small = encrypt_stream(
        &SEED,
        b"hi",
        Domain::Attachment,
        KeyDerivation::V1DomainKey,
        false,
    )
    .unwrap();
    assert_eq!(
        decrypt_stream(&small.blob, &wrong, false),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
}

#[test]
fn bit_flips_in_header_chunks_and_tags() {
    let (blob, key, _) = three_chunk_blob();
    let chunk_start = |i: usize| STREAM_PREFIX_LEN + i * STREAM_ENCRYPTED_CHUNK_SIZE;
    let flip = |pos: usize| {
        let mut b = blob.clone();
        b[pos] ^= 0x04;
        decrypt_stream(&b, &key, false)
    };
    // Header: every chunk key changes, so the first chunk fails.
    assert_eq!(flip(1), Err(AttachmentError::WrongKeyOrCorrupt));
    assert_eq!(flip(24), Err(AttachmentError::WrongKeyOrCorrupt));
    // First chunk: indistinguishable from a wrong key.
    assert_eq!(
        flip(chunk_start(0) + 100),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
    // Later chunks: tag byte, body, MAC.
    for i in 1..3 {
        assert_eq!(
            flip(chunk_start(i)),
            Err(AttachmentError::Tampered { chunk: i })
        );
        assert_eq!(
            flip(chunk_start(i) + 7),
            Err(AttachmentError::Tampered { chunk: i })
        );
    }
    assert_eq!(
        flip(blob.len() - 1),
        Err(AttachmentError::Tampered { chunk: 2 })
    );
    // Format byte.
    assert_eq!(
        flip(0),
        Err(AttachmentError::UnknownFormat { tag: b'S' ^ 0x04 })
    );
    // Swapped chunks.
    let mut swapped = blob.clone();
    let (a, b) = (chunk_start(0), chunk_start(1));
    let first: Vec<u8> = swapped[a..b].to_vec();
    let second: Vec<u8> = swapped[b..b + STREAM_ENCRYPTED_CHUNK_SIZE].to_vec();
    swapped[a..b].copy_from_slice(&second);
    swapped[b..b + STREAM_ENCRYPTED_CHUNK_SIZE].copy_from_slice(&first);
    assert_eq!(
        decrypt_stream(&swapped, &key, false),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
}

#[test]
fn truncated_downloads() {
    let (blob, key, _) = three_chunk_blob();
    let cut = |len: usize| decrypt_stream(&blob[..len], &key, false);
    for len in [
        0,
        1,
        STREAM_PREFIX_LEN - 1,
        STREAM_PREFIX_LEN,
        STREAM_PREFIX_LEN + 10,
        STREAM_PREFIX_LEN + STREAM_ENCRYPTED_CHUNK_SIZE,
        STREAM_PREFIX_LEN + STREAM_ENCRYPTED_CHUNK_SIZE + 17,
        STREAM_PREFIX_LEN + 2 * STREAM_ENCRYPTED_CHUNK_SIZE,
        STREAM_PREFIX_LEN + 2 * STREAM_ENCRYPTED_CHUNK_SIZE + 100,
        blob.len() - 1,
    ] {
        assert_eq!(
            cut(len),
            Err(AttachmentError::Truncated { received: len }),
            "cut at {len}"
        );
    }
    // A one-chunk blob cut anywhere.
    let small = encrypt_stream(
        &SEED,
        &[1, 2, 3],
        Domain::Attachment,
        KeyDerivation::default(),
        false,
    )
    .unwrap();
    for len in [30, 100, 4000, 4095] {
        assert_eq!(
            decrypt_stream(&small.blob[..len], &small.key, false),
            Err(AttachmentError::Truncated { received: len })
        );
    }
}

#[test]
fn missing_final_and_data_after_final() {
    let key = stream_key(1, 2);
    let ak = key.key().clone();
    // Last chunk tagged MESSAGE.
    let no_final = craft(&key, &[(b"\x01data", Tag::Message)]);
    assert_eq!(
        decrypt_stream(&no_final, &ak, false),
        Err(AttachmentError::Truncated {
            received: no_final.len()
        })
    );
    // Full first chunk, nothing after it, no FINAL.
    let full = vec![0u8; 32_768];
    let cut = craft(&key, &[(&full, Tag::Message)]);
    assert_eq!(
        decrypt_stream(&cut, &ak, false),
        Err(AttachmentError::Truncated {
            received: cut.len()
        })
    );
    // A full-size chunk tagged FINAL followed by more chunks.
    let early = craft(&key, &[(&full, Tag::Final), (b"\x01b", Tag::Final)]);
    assert_eq!(
        decrypt_stream(&early, &ak, false),
        Err(AttachmentError::TrailingData { chunk: 0 })
    );
    // Bytes appended to a real blob (whose short last chunk then fails as a whole).
    for (len, chunks) in [(3usize, 1usize), (40_000, 2)] {
        let data = vector_data(len);
        let enc = encrypt_stream(
            &SEED,
            &data,
            Domain::Attachment,
            KeyDerivation::default(),
            false,
        )
        .unwrap();
        for extra in [1usize, 17, 1000] {
            let mut junk = enc.blob.clone();
            junk.extend(std::iter::repeat_n(0x33, extra));
            assert_eq!(
                decrypt_stream(&junk, &enc.key, false),
                Err(AttachmentError::TrailingData { chunk: chunks - 1 }),
                "{len} bytes + {extra} junk"
            );
        }
    }
    // PUSH and REKEY tags in the middle are fine; the data carries on.
    let mixed = craft(
        &key,
        &[
            (&full, Tag::Push),
            (&full, Tag::Rekey),
            (b"\x01z", Tag::Final),
        ],
    );
    assert_eq!(decrypt_stream(&mixed, &ak, false).unwrap(), b"z");
}

#[test]
fn padding_rules() {
    let key = stream_key(3, 4);
    let ak = key.key().clone();
    // Padding spread over several chunks, data starting mid-chunk.
    let pad = vec![0u8; 32_768];
    let mut second = vec![0u8; 10];
    second.extend_from_slice(b"\x01payload");
    let ok = craft(&key, &[(&pad, Tag::Message), (&second, Tag::Final)]);
    assert_eq!(decrypt_stream(&ok, &ak, false).unwrap(), b"payload");
    // Anything other than 0x00/0x01 before the data.
    let bad = craft(&key, &[(b"\x00\x00\x02data", Tag::Final)]);
    assert!(matches!(
        decrypt_stream(&bad, &ak, false),
        Err(AttachmentError::InvalidPadding { .. })
    ));
    // The padding never ends.
    let endless = craft(&key, &[(&[0u8; 100], Tag::Final)]);
    assert!(matches!(
        decrypt_stream(&endless, &ak, false),
        Err(AttachmentError::InvalidPadding { .. })
    ));
    // A 0x01 in the data after the padding is data.
    let ones = craft(&key, &[(b"\x01\x01\x00\x01", Tag::Final)]);
    assert_eq!(decrypt_stream(&ones, &ak, false).unwrap(), b"\x01\x00\x01");
}

#[test]
fn undefined_chunk_tag_is_malformed() {
    // libsodium lets a producer push any tag byte; such a chunk authenticates but is refused.
    let key = stream_key(5, 6);
    let mut blob = vec![b'S'];
    blob.extend_from_slice(key.header());
    // SAFETY: sodium_init may be called any number of times.
    assert!(unsafe { ffi::sodium_init() } >= 0);
    let mut st = ffi::crypto_secretstream_xchacha20poly1305_state {
        k: [0; 32],
        nonce: [0; 12],
        _pad: [0; 8],
    };
    // Re-create libsodium's push state from the header (init_pull computes the same state).
    // SAFETY: 24-byte header, 32-byte key.
    unsafe {
        ffi::crypto_secretstream_xchacha20poly1305_init_pull(
            &mut st,
            key.header().as_ptr(),
            key.key().as_bytes().as_ptr(),
        )
    };
    let m = b"\x01x";
    let mut c = vec![0u8; m.len() + 17];
    // SAFETY: c has mlen + ABYTES bytes.
    unsafe {
        ffi::crypto_secretstream_xchacha20poly1305_push(
            &mut st,
            c.as_mut_ptr(),
            std::ptr::null_mut(),
            m.as_ptr(),
            m.len() as _,
            std::ptr::null(),
            0,
            0x42,
        )
    };
    blob.extend_from_slice(&c);
    assert!(matches!(
        decrypt_stream(&blob, key.key(), false),
        Err(AttachmentError::Malformed { .. })
    ));
}

#[test]
fn errors_are_sticky_and_convert() {
    let (blob, key, _) = three_chunk_blob();
    let mut bad = blob.clone();
    bad[STREAM_PREFIX_LEN + STREAM_ENCRYPTED_CHUNK_SIZE + 5] ^= 1;
    let mut dec = StreamDecryptor::new(&key, false);
    let mut out = Vec::new();
    let err = dec.update(&bad, &mut out).unwrap_err();
    assert_eq!(err, AttachmentError::Tampered { chunk: 1 });
    assert_eq!(dec.update(b"more", &mut out), Err(err.clone()));
    assert_eq!(dec.finish(&mut out), Err(err.clone()));
    let as_crypto: CryptoError = err.into();
    assert!(matches!(
        as_crypto,
        CryptoError::Attachment(AttachmentError::Tampered { .. })
    ));
}

#[test]
fn oversize_is_refused() {
    // Encryption: one byte over the regular limit needs allow_large.
    let big = vec![0x5au8; MAX_REGULAR_SIZE + 1];
    assert_eq!(
        encrypt_stream(
            &SEED,
            &big,
            Domain::Attachment,
            KeyDerivation::default(),
            false
        )
        .unwrap_err(),
        AttachmentError::TooLarge {
            size: MAX_REGULAR_SIZE + 1,
            max: MAX_REGULAR_SIZE
        }
    );
    let key = stream_key(7, 8);
    assert!(matches!(
        StreamEncryptor::new(&key, MAX_REGULAR_SIZE + 1, false),
        Err(AttachmentError::TooLarge { .. })
    ));
    let large = StreamEncryptor::new(&key, MAX_REGULAR_SIZE + 1, true).unwrap();
    assert!(large.encrypted_len() > MAX_REGULAR_ENCRYPTED_SIZE);
    // Decryption: the blob size is checked before any work, and the incremental decryptor
    // stops as soon as too much has arrived.
    let blob = vec![b'S'; MAX_REGULAR_ENCRYPTED_SIZE + 1];
    assert_eq!(
        decrypt_stream(&blob, key.key(), false),
        Err(AttachmentError::TooLarge {
            size: MAX_REGULAR_ENCRYPTED_SIZE + 1,
            max: MAX_REGULAR_ENCRYPTED_SIZE
        })
    );
    // Legacy.
    let too_big = vec![0u8; LEGACY_MAX_SIZE + 1];
    assert!(matches!(
        legacy_encrypt(&too_big, true),
        Err(AttachmentError::TooLarge { .. })
    ));
    let lk = LegacyKey::from_bytes(&[1u8; 64]).unwrap();
    assert!(matches!(
        legacy_decrypt(&vec![0u8; 10_000_128], &lk, None, None),
        Err(AttachmentError::TooLarge { .. })
    ));
}

/// The largest regular attachment: exactly 10 223 616 bytes, decrypted incrementally in
/// uneven pieces (the one 10 MB case of the suite).
#[test]
fn max_regular_size_round_trip() {
    let data: Vec<u8> = (0..MAX_REGULAR_SIZE).map(|i| (i % 251) as u8).collect();
    let enc = encrypt_stream(
        &SEED,
        &data,
        Domain::Attachment,
        KeyDerivation::default(),
        false,
    )
    .unwrap();
    assert_eq!(enc.blob.len(), MAX_REGULAR_ENCRYPTED_SIZE);
    let mut dec = StreamDecryptor::new(&enc.key, false);
    let mut out = Vec::with_capacity(data.len());
    for piece in enc.blob.chunks(1_000_003) {
        dec.update(piece, &mut out).unwrap();
    }
    // The last chunk is short, so it is decrypted by `finish`.
    assert!(!dec.is_complete());
    dec.finish(&mut out).unwrap();
    assert!(out == data);
}

#[test]
fn incremental_encryptor_length_checks() {
    let key = stream_key(9, 9);
    let mut enc = StreamEncryptor::new(&key, 10, false).unwrap();
    let mut out = Vec::new();
    enc.update(b"12345", &mut out).unwrap();
    assert_eq!(
        enc.update(b"123456", &mut out),
        Err(AttachmentError::LengthMismatch {
            declared: 10,
            given: 11
        })
    );
    assert_eq!(
        enc.finish(&mut out),
        Err(AttachmentError::LengthMismatch {
            declared: 10,
            given: 5
        })
    );
    assert!(matches!(
        AttachmentKey::from_bytes(&[0u8; 31]),
        Err(AttachmentError::InvalidKeyLength {
            expected: 32,
            got: 31
        })
    ));
}

#[test]
fn random_stream_key_round_trips_and_differs() {
    let k1 = StreamKey::random().unwrap();
    let k2 = StreamKey::random().unwrap();
    assert_ne!(k1.key(), k2.key());
    let a = encrypt_stream_with(&k1, b"same", false).unwrap();
    let b = encrypt_stream_with(&k2, b"same", false).unwrap();
    assert_ne!(a.blob, b.blob);
    assert_eq!(decrypt_stream(&a.blob, &a.key, false).unwrap(), b"same");
    assert_eq!(decrypt_stream(&b.blob, &b.key, false).unwrap(), b"same");
    assert!(format!("{k1:?} {:?}", a.key).find("..").is_some());
}

// ───────────────────────────── legacy: behaviour ─────────────────────────────

#[test]
fn legacy_layout_and_rejections() {
    let key = LegacyKey::from_bytes(&(0..64).collect::<Vec<u8>>()).unwrap();
    let iv = [0x11u8; 16];
    let enc = legacy_encrypt_with(b"hello attachment", &key, &iv, true).unwrap();
    // IV prefix, padded to 541 → 544 bytes of CBC, MAC suffix, digest of the blob.
    assert_eq!(&enc.blob[..16], &iv);
    assert_eq!(enc.blob.len(), 16 + 544 + 32);
    assert_eq!(enc.digest, sha256(&[&enc.blob]));
    assert_eq!(enc.size, 16);
    let ok = legacy_decrypt(&enc.blob, &key, Some(&enc.digest), Some(enc.size)).unwrap();
    assert_eq!(ok, b"hello attachment");
    // Without the size the zero padding stays; a size beyond the data keeps it all.
    assert_eq!(
        legacy_decrypt(&enc.blob, &key, None, None).unwrap().len(),
        541
    );
    assert_eq!(
        legacy_decrypt(&enc.blob, &key, None, Some(10_000))
            .unwrap()
            .len(),
        541
    );
    // Unpadded (link previews): 16 bytes → 32 bytes of CBC.
    let unpadded = legacy_encrypt_with(b"hello attachment", &key, &iv, false).unwrap();
    assert_eq!(unpadded.blob.len(), 16 + 32 + 32);

    // Wrong key: MAC fails (digest still matches).
    let mut other = *key.as_bytes();
    other[40] ^= 1;
    let wrong_mac_key = LegacyKey::from_bytes(&other).unwrap();
    assert_eq!(
        legacy_decrypt(&enc.blob, &wrong_mac_key, Some(&enc.digest), None),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
    // Altered blob: the digest catches it first; without a digest, the MAC.
    let mut altered = enc.blob.clone();
    altered[100] ^= 1;
    assert_eq!(
        legacy_decrypt(&altered, &key, Some(&enc.digest), None),
        Err(AttachmentError::DigestMismatch)
    );
    assert_eq!(
        legacy_decrypt(&altered, &key, None, None),
        Err(AttachmentError::WrongKeyOrCorrupt)
    );
    // Wrong digest on an intact blob.
    let mut digest = enc.digest;
    digest[0] ^= 1;
    assert_eq!(
        legacy_decrypt(&enc.blob, &key, Some(&digest), None),
        Err(AttachmentError::DigestMismatch)
    );
    // Truncated / mis-sized blobs.
    for len in [0, 63, enc.blob.len() - 1, enc.blob.len() - 16] {
        let r = legacy_decrypt(&enc.blob[..len], &key, None, None);
        assert!(
            matches!(
                r,
                Err(AttachmentError::Malformed { .. } | AttachmentError::WrongKeyOrCorrupt)
            ),
            "len {len}: {r:?}"
        );
    }
    assert_eq!(
        legacy_decrypt(
            &enc.blob[..enc.blob.len() - 16],
            &key,
            Some(&enc.digest),
            None
        ),
        Err(AttachmentError::DigestMismatch)
    );
    // Valid MAC over a ciphertext whose PKCS#7 padding is bad.
    let mut forged = enc.blob[..enc.blob.len() - 32].to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0xff;
    let mac = session_crypto::hash::hmac_sha256(&key.as_bytes()[32..], &[&forged]);
    forged.extend_from_slice(&mac);
    assert!(matches!(
        legacy_decrypt(&forged, &key, None, None),
        Err(AttachmentError::Malformed { .. })
    ));
    assert!(matches!(
        LegacyKey::from_bytes(&[0u8; 32]),
        Err(AttachmentError::InvalidKeyLength {
            expected: 64,
            got: 32
        })
    ));
    assert_eq!(format!("{key:?}"), "LegacyKey(..)");
}

#[test]
fn legacy_max_size() {
    let data = vec![0xa5u8; LEGACY_MAX_SIZE];
    let enc = legacy_encrypt(&data, true).unwrap();
    assert_eq!(enc.blob.len(), 16 + LEGACY_MAX_SIZE + 16 + 32);
    let out = legacy_decrypt(&enc.blob, &enc.key, Some(&enc.digest), Some(enc.size)).unwrap();
    assert!(out == data);
}

// ───────────────────────────── property tests ─────────────────────────────

fn domain_strategy() -> impl Strategy<Value = Domain> {
    prop_oneof![Just(Domain::Attachment), Just(Domain::ProfilePicture)]
}

fn kdf_strategy() -> impl Strategy<Value = KeyDerivation> {
    prop_oneof![
        Just(KeyDerivation::V1DomainKey),
        Just(KeyDerivation::V2Personalised)
    ]
}

/// Sizes that exercise one, two and several chunks and the padding bucket edges.
fn len_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..5000, 32_700usize..32_800, 60_000usize..140_000,]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn stream_round_trip(
        seed in any::<[u8; 32]>(),
        len in len_strategy(),
        fill in any::<u8>(),
        domain in domain_strategy(),
        kdf in kdf_strategy(),
        cuts in prop::collection::vec(1usize..50_000, 0..6),
    ) {
        let data: Vec<u8> = (0..len).map(|i| fill.wrapping_add((i / 3) as u8)).collect();
        let enc = encrypt_stream(&seed, &data, domain, kdf, false).unwrap();
        prop_assert_eq!(Some(enc.blob.len()), encrypted_size(len));
        prop_assert!(decrypted_max_size(enc.blob.len()).unwrap() >= len);
        // Deterministic.
        let again = encrypt_stream(&seed, &data, domain, kdf, false).unwrap();
        prop_assert_eq!(&again.blob, &enc.blob);
        // One shot.
        prop_assert_eq!(decrypt_stream(&enc.blob, &enc.key, false).unwrap(), data.clone());
        // Incremental, cut at random places.
        let mut dec = StreamDecryptor::new(&enc.key, false);
        let mut out = Vec::new();
        let mut rest: &[u8] = &enc.blob;
        for c in cuts {
            let (a, b) = rest.split_at(c.min(rest.len()));
            dec.update(a, &mut out).unwrap();
            rest = b;
        }
        dec.update(rest, &mut out).unwrap();
        dec.finish(&mut out).unwrap();
        prop_assert_eq!(&out, &data);
        // Incremental encryption in pieces gives the same blob.
        let key = derive_stream_key(&seed, &data, domain, kdf);
        let mut inc = StreamEncryptor::new(&key, data.len(), false).unwrap();
        let mut blob = Vec::new();
        for piece in data.chunks(7_777) {
            inc.update(piece, &mut blob).unwrap();
        }
        inc.finish(&mut blob).unwrap();
        prop_assert_eq!(&blob, &enc.blob);
    }

    #[test]
    fn stream_decrypt_never_panics(
        key in any::<[u8; 32]>(),
        blob in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut blob = blob;
        if let Some(b) = blob.first_mut() {
            *b = b'S';
        }
        let key = AttachmentKey::from_bytes(&key).unwrap();
        prop_assert!(decrypt_stream(&blob, &key, false).is_err());
    }

    #[test]
    fn legacy_round_trip(
        len in prop_oneof![0usize..2000, 5000usize..40_000],
        fill in any::<u8>(),
        pad in any::<bool>(),
    ) {
        let data: Vec<u8> = (0..len).map(|i| fill ^ (i as u8)).collect();
        let enc = legacy_encrypt(&data, pad).unwrap();
        let expected_padded = if pad { legacy_padded_size(len) } else { len };
        prop_assert_eq!(enc.blob.len(), 16 + (expected_padded / 16 + 1) * 16 + 32);
        prop_assert_eq!(enc.size, len);
        let out = legacy_decrypt(&enc.blob, &enc.key, Some(&enc.digest), Some(enc.size)).unwrap();
        prop_assert_eq!(out, data);
    }
}
