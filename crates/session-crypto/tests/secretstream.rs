//! `crypto_secretstream_xchacha20poly1305` against libsodium itself: identical bytes for the
//! same header, ours → libsodium and libsodium → ours over random sizes, tags and associated
//! data, explicit re-keying, and the failure cases.
#![allow(unsafe_code)]
// clippy.toml's allow-*-in-tests covers #[test] functions only, not helpers (nor the shared
// `common` loader).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use libsodium_sys as ffi;
use proptest::prelude::*;
use session_crypto::CryptoError;
use session_crypto::secretstream::{ABYTES, HEADER_LEN, KEY_LEN, PullStream, PushStream, Tag};

fn init() {
    // SAFETY: sodium_init may be called any number of times, from any thread.
    assert!(unsafe { ffi::sodium_init() } >= 0);
}

/// libsodium's state, wrapped so the tests read like the Rust API.
struct Sodium(ffi::crypto_secretstream_xchacha20poly1305_state);

impl Sodium {
    fn init_push(key: &[u8; KEY_LEN]) -> (Self, [u8; HEADER_LEN]) {
        init();
        let mut st = Self(ffi::crypto_secretstream_xchacha20poly1305_state {
            k: [0; 32],
            nonce: [0; 12],
            _pad: [0; 8],
        });
        let mut header = [0u8; HEADER_LEN];
        // SAFETY: header has HEADERBYTES bytes, key KEYBYTES; the state is a valid struct.
        let rc = unsafe {
            ffi::crypto_secretstream_xchacha20poly1305_init_push(
                &mut st.0,
                header.as_mut_ptr(),
                key.as_ptr(),
            )
        };
        assert_eq!(rc, 0);
        (st, header)
    }

    fn init_pull(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        init();
        let mut st = Self(ffi::crypto_secretstream_xchacha20poly1305_state {
            k: [0; 32],
            nonce: [0; 12],
            _pad: [0; 8],
        });
        // SAFETY: sizes as documented.
        let rc = unsafe {
            ffi::crypto_secretstream_xchacha20poly1305_init_pull(
                &mut st.0,
                header.as_ptr(),
                key.as_ptr(),
            )
        };
        assert_eq!(rc, 0);
        st
    }

    fn push(&mut self, m: &[u8], ad: &[u8], tag: u8) -> Vec<u8> {
        let mut c = vec![0u8; m.len() + ABYTES];
        let mut clen = 0u64;
        // SAFETY: c has mlen + ABYTES bytes; m and ad are valid for their lengths.
        let rc = unsafe {
            ffi::crypto_secretstream_xchacha20poly1305_push(
                &mut self.0,
                c.as_mut_ptr(),
                &mut clen,
                m.as_ptr(),
                m.len() as _,
                if ad.is_empty() {
                    std::ptr::null()
                } else {
                    ad.as_ptr()
                },
                ad.len() as _,
                tag,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(clen as usize, c.len());
        c
    }

    fn pull(&mut self, c: &[u8], ad: &[u8]) -> Option<(Vec<u8>, u8)> {
        let mut m = vec![0u8; c.len().saturating_sub(ABYTES)];
        let mut mlen = 0u64;
        let mut tag = 0xffu8;
        // SAFETY: m has clen - ABYTES bytes (libsodium checks clen >= ABYTES first).
        let rc = unsafe {
            ffi::crypto_secretstream_xchacha20poly1305_pull(
                &mut self.0,
                m.as_mut_ptr(),
                &mut mlen,
                &mut tag,
                c.as_ptr(),
                c.len() as _,
                if ad.is_empty() {
                    std::ptr::null()
                } else {
                    ad.as_ptr()
                },
                ad.len() as _,
            )
        };
        (rc == 0).then(|| {
            m.truncate(mlen as usize);
            (m, tag)
        })
    }

    fn rekey(&mut self) {
        // SAFETY: a valid, initialised state.
        unsafe { ffi::crypto_secretstream_xchacha20poly1305_rekey(&mut self.0) };
    }
}

fn tag_strategy() -> impl Strategy<Value = Tag> {
    prop_oneof![
        4 => Just(Tag::Message),
        1 => Just(Tag::Push),
        1 => Just(Tag::Rekey),
        1 => Just(Tag::Final),
    ]
}

/// Message sizes around the interesting boundaries (16-byte Poly1305 blocks, 64-byte ChaCha
/// blocks), plus a few larger ones.
fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..=70,
        70usize..2000,
        Just(32768usize),
        32700usize..32800
    ]
}

#[derive(Debug, Clone)]
struct Msg {
    data: Vec<u8>,
    ad: Vec<u8>,
    tag: Tag,
    /// Re-key both sides explicitly after this message.
    rekey_after: bool,
}

fn msgs_strategy() -> impl Strategy<Value = Vec<Msg>> {
    prop::collection::vec(
        (
            size_strategy(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..40),
            tag_strategy(),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(len, fill, ad, tag, rekey_after)| Msg {
                data: (0..len)
                    .map(|i| fill.wrapping_add((i * 31) as u8))
                    .collect(),
                ad,
                tag,
                rekey_after,
            }),
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Same key and header: our bytes equal libsodium's, and each side decrypts the other.
    #[test]
    fn identical_to_libsodium(key in any::<[u8; 32]>(), msgs in msgs_strategy()) {
        let (mut sodium_tx, header) = Sodium::init_push(&key);
        let mut ours_tx = PushStream::with_header(&key, &header);
        let mut sodium_rx = Sodium::init_pull(&key, &header);
        let mut ours_rx = PullStream::new(&key, &header);
        for m in &msgs {
            let theirs = sodium_tx.push(&m.data, &m.ad, m.tag.to_byte());
            let ours = ours_tx.push(&m.data, &m.ad, m.tag).unwrap();
            prop_assert_eq!(&ours, &theirs);
            // ours → libsodium
            let (plain, tag) = sodium_rx.pull(&ours, &m.ad).expect("libsodium rejected our chunk");
            prop_assert_eq!(&plain, &m.data);
            prop_assert_eq!(tag, m.tag.to_byte());
            // libsodium → ours
            let (plain, tag) = ours_rx.pull(&theirs, &m.ad).unwrap();
            prop_assert_eq!(&plain, &m.data);
            prop_assert_eq!(tag, m.tag);
            if m.rekey_after {
                sodium_tx.rekey();
                ours_tx.rekey();
                sodium_rx.rekey();
                ours_rx.rekey();
            }
        }
    }

    /// Our random-header stream (PushStream::new) is read by libsodium.
    #[test]
    fn ours_random_header_to_libsodium(key in any::<[u8; 32]>(), msgs in msgs_strategy()) {
        let (mut tx, header) = PushStream::new(&key).unwrap();
        let mut rx = Sodium::init_pull(&key, &header);
        for m in &msgs {
            let c = tx.push(&m.data, &m.ad, m.tag).unwrap();
            let (plain, tag) = rx.pull(&c, &m.ad).expect("libsodium rejected our chunk");
            prop_assert_eq!(plain, m.data.clone());
            prop_assert_eq!(tag, m.tag.to_byte());
        }
    }

    /// A single flipped bit anywhere in a chunk (tag byte, body or MAC) is rejected by us
    /// and by libsodium, and our state is left as it was.
    #[test]
    fn bit_flips_rejected(
        key in any::<[u8; 32]>(),
        data in prop::collection::vec(any::<u8>(), 0..300),
        pos in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (mut tx, header) = PushStream::new(&key).unwrap();
        let c = tx.push(&data, b"", Tag::Final).unwrap();
        let mut bad = c.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        let mut rx = PullStream::new(&key, &header);
        let rejected = matches!(rx.pull(&bad, b""), Err(CryptoError::DecryptionFailed { .. }));
        prop_assert!(rejected);
        prop_assert!(Sodium::init_pull(&key, &header).pull(&bad, b"").is_none());
        // The good chunk still decrypts with the same state.
        prop_assert_eq!(rx.pull(&c, b"").unwrap(), (data, Tag::Final));
    }
}

#[test]
fn header_bit_flip_and_wrong_key_rejected() {
    let key = [9u8; 32];
    let (mut tx, header) = PushStream::new(&key).unwrap();
    let c = tx.push(b"attachment bytes", &[], Tag::Final).unwrap();
    for i in 0..HEADER_LEN {
        let mut h = header;
        h[i] ^= 0x10;
        assert!(matches!(
            PullStream::new(&key, &h).pull(&c, &[]),
            Err(CryptoError::DecryptionFailed { .. })
        ));
    }
    let mut wrong = key;
    wrong[31] ^= 1;
    assert!(matches!(
        PullStream::new(&wrong, &header).pull(&c, &[]),
        Err(CryptoError::DecryptionFailed { .. })
    ));
}

#[test]
fn reordered_dropped_and_truncated_chunks_rejected() {
    let key = [4u8; 32];
    let (mut tx, header) = PushStream::new(&key).unwrap();
    let c1 = tx.push(b"one", &[], Tag::Message).unwrap();
    let c2 = tx.push(b"two", &[], Tag::Message).unwrap();
    let c3 = tx.push(b"three", &[], Tag::Final).unwrap();

    // Out of order / a chunk missing.
    let mut rx = PullStream::new(&key, &header);
    assert!(rx.pull(&c2, &[]).is_err());
    assert!(rx.pull(&c3, &[]).is_err());
    assert_eq!(rx.pull(&c1, &[]).unwrap(), (b"one".to_vec(), Tag::Message));
    assert!(rx.pull(&c3, &[]).is_err());
    assert_eq!(rx.pull(&c2, &[]).unwrap(), (b"two".to_vec(), Tag::Message));
    // Replayed chunk.
    assert!(rx.pull(&c2, &[]).is_err());
    // Truncated chunk, then a chunk too short to hold tag and MAC.
    assert!(matches!(
        rx.pull(&c3[..c3.len() - 1], &[]),
        Err(CryptoError::DecryptionFailed { .. })
    ));
    assert!(matches!(
        rx.pull(&c3[..ABYTES - 1], &[]),
        Err(CryptoError::InvalidLength { .. })
    ));
    // Different associated data.
    assert!(rx.pull(&c3, b"x").is_err());
    assert_eq!(rx.pull(&c3, &[]).unwrap(), (b"three".to_vec(), Tag::Final));
}

/// A message that authenticates but carries an undefined tag byte (libsodium lets a caller
/// push any byte) is refused rather than passed on.
#[test]
fn undefined_tag_byte_refused() {
    let key = [6u8; 32];
    let (mut tx, header) = Sodium::init_push(&key);
    let c = tx.push(b"odd", &[], 0x80);
    let mut rx = PullStream::new(&key, &header);
    assert!(matches!(
        rx.pull(&c, &[]),
        Err(CryptoError::Malformed { .. })
    ));
}

/// A 1 MiB message (64 ChaCha blocks × 256) in both directions.
#[test]
fn large_message_both_ways() {
    let key = [0x42u8; 32];
    let data: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let (mut sodium_tx, header) = Sodium::init_push(&key);
    let mut ours_tx = PushStream::with_header(&key, &header);
    let theirs = sodium_tx.push(&data, b"ad", Tag::Final.to_byte());
    let ours = ours_tx.push(&data, b"ad", Tag::Final).unwrap();
    assert!(ours == theirs, "1 MiB chunk differs from libsodium's");
    let (plain, tag) = PullStream::new(&key, &header).pull(&theirs, b"ad").unwrap();
    assert!(plain == data);
    assert_eq!(tag, Tag::Final);
}
