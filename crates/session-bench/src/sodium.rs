//! The libsodium side of the crypto benchmark: the same operations through libsodium's C
//! API, so both are measured in the same run on the same machine.
#![allow(unsafe_code)]

use libsodium_sys as ffi;

/// Initialises libsodium; must be called before anything else here.
pub fn init() -> anyhow::Result<()> {
    // SAFETY: sodium_init is safe to call any number of times.
    if unsafe { ffi::sodium_init() } < 0 {
        anyhow::bail!("libsodium failed to initialise");
    }
    Ok(())
}

/// `crypto_sign_seed_keypair`: returns (pk, sk64).
pub fn sign_keypair(seed: &[u8; 32]) -> ([u8; 32], [u8; 64]) {
    let mut pk = [0u8; 32];
    let mut sk = [0u8; 64];
    // SAFETY: buffers have the sizes libsodium documents.
    unsafe { ffi::crypto_sign_seed_keypair(pk.as_mut_ptr(), sk.as_mut_ptr(), seed.as_ptr()) };
    (pk, sk)
}

/// `crypto_sign_detached`.
pub fn sign(sk: &[u8; 64], msg: &[u8]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    // SAFETY: sizes as documented; siglen may be null.
    unsafe {
        ffi::crypto_sign_detached(
            sig.as_mut_ptr(),
            std::ptr::null_mut(),
            msg.as_ptr(),
            msg.len() as u64,
            sk.as_ptr(),
        )
    };
    sig
}

/// `crypto_sign_verify_detached`.
pub fn verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    // SAFETY: sizes as documented.
    unsafe {
        ffi::crypto_sign_verify_detached(sig.as_ptr(), msg.as_ptr(), msg.len() as u64, pk.as_ptr())
            == 0
    }
}

/// `crypto_box_seal`.
pub fn seal(msg: &[u8], pk: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0u8; msg.len() + 48];
    // SAFETY: out has msg.len() + crypto_box_SEALBYTES bytes.
    unsafe {
        ffi::crypto_box_seal(
            out.as_mut_ptr(),
            msg.as_ptr(),
            msg.len() as u64,
            pk.as_ptr(),
        )
    };
    out
}

/// `crypto_box_seal_open`.
pub fn seal_open(ct: &[u8], pk: &[u8; 32], sk: &[u8; 32]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; ct.len().checked_sub(48)?];
    // SAFETY: out has ct.len() - crypto_box_SEALBYTES bytes.
    let rc = unsafe {
        ffi::crypto_box_seal_open(
            out.as_mut_ptr(),
            ct.as_ptr(),
            ct.len() as u64,
            pk.as_ptr(),
            sk.as_ptr(),
        )
    };
    (rc == 0).then_some(out)
}

/// `crypto_scalarmult` (X25519).
pub fn x25519(sk: &[u8; 32], pk: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: 32-byte buffers.
    unsafe { ffi::crypto_scalarmult(out.as_mut_ptr(), sk.as_ptr(), pk.as_ptr()) };
    out
}

/// `crypto_scalarmult_base`.
pub fn x25519_base(sk: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: 32-byte buffers.
    unsafe { ffi::crypto_scalarmult_base(out.as_mut_ptr(), sk.as_ptr()) };
    out
}

/// `crypto_generichash` (BLAKE2b-32, unkeyed) over the concatenation of parts.
pub fn blake2b32(parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut state = std::mem::MaybeUninit::<ffi::crypto_generichash_state>::uninit();
    // SAFETY: the state is initialised by _init before use; sizes as documented.
    unsafe {
        ffi::crypto_generichash_init(state.as_mut_ptr(), std::ptr::null(), 0, 32);
        for p in parts {
            ffi::crypto_generichash_update(state.as_mut_ptr(), p.as_ptr(), p.len() as u64);
        }
        ffi::crypto_generichash_final(state.as_mut_ptr(), out.as_mut_ptr(), 32);
    }
    out
}

/// `crypto_auth_hmacsha256` with a key of any length (the onion "LOKI" key).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut state = std::mem::MaybeUninit::<ffi::crypto_auth_hmacsha256_state>::uninit();
    // SAFETY: the state is initialised by _init before use.
    unsafe {
        ffi::crypto_auth_hmacsha256_init(state.as_mut_ptr(), key.as_ptr(), key.len());
        ffi::crypto_auth_hmacsha256_update(state.as_mut_ptr(), msg.as_ptr(), msg.len() as u64);
        ffi::crypto_auth_hmacsha256_final(state.as_mut_ptr(), out.as_mut_ptr());
    }
    out
}

/// `crypto_aead_xchacha20poly1305_ietf_encrypt` (no AD); returns ct || tag.
pub fn xchacha_encrypt(key: &[u8; 32], nonce: &[u8; 24], msg: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; msg.len() + 16];
    let mut out_len = 0u64;
    // SAFETY: out has msg.len() + ABYTES bytes.
    unsafe {
        ffi::crypto_aead_xchacha20poly1305_ietf_encrypt(
            out.as_mut_ptr(),
            &mut out_len,
            msg.as_ptr(),
            msg.len() as u64,
            std::ptr::null(),
            0,
            std::ptr::null(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    out
}

/// `crypto_aead_xchacha20poly1305_ietf_decrypt` (no AD).
pub fn xchacha_decrypt(key: &[u8; 32], nonce: &[u8; 24], ct: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; ct.len().checked_sub(16)?];
    let mut out_len = 0u64;
    // SAFETY: out has ct.len() - ABYTES bytes.
    let rc = unsafe {
        ffi::crypto_aead_xchacha20poly1305_ietf_decrypt(
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

/// Whether libsodium's AES-256-GCM is usable on this CPU (it needs AES-NI).
pub fn aes_gcm_available() -> bool {
    // SAFETY: no arguments.
    unsafe { ffi::crypto_aead_aes256gcm_is_available() == 1 }
}

/// `crypto_aead_aes256gcm_encrypt` (no AD); returns ct || tag.
pub fn aes_gcm_encrypt(key: &[u8; 32], nonce: &[u8; 12], msg: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; msg.len() + 16];
    let mut out_len = 0u64;
    // SAFETY: out has msg.len() + ABYTES bytes; only called when available.
    unsafe {
        ffi::crypto_aead_aes256gcm_encrypt(
            out.as_mut_ptr(),
            &mut out_len,
            msg.as_ptr(),
            msg.len() as u64,
            std::ptr::null(),
            0,
            std::ptr::null(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    out
}

/// `crypto_aead_aes256gcm_decrypt` (no AD).
pub fn aes_gcm_decrypt(key: &[u8; 32], nonce: &[u8; 12], ct: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; ct.len().checked_sub(16)?];
    let mut out_len = 0u64;
    // SAFETY: out has ct.len() - ABYTES bytes; only called when available.
    let rc = unsafe {
        ffi::crypto_aead_aes256gcm_decrypt(
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

/// `randombytes_buf`.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // SAFETY: writes exactly N bytes.
    unsafe { ffi::randombytes_buf(out.as_mut_ptr().cast(), N) };
    out
}

/// blind15 signing with libsodium's primitives, as libsession does it, given the blinded
/// scalar `ka`, blinded key `kA` and nonce key `H_rh` (both sides of the benchmark
/// precompute these once per server):
/// `r = reduce(SHA-512(H_rh || kA || M))`, `S = r + reduce(SHA-512(R || kA || M))·ka`.
pub fn blind15_sign(ka: &[u8; 32], big_ka: &[u8; 32], h_rh: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    let mut r_wide = [0u8; 64];
    let mut r = [0u8; 32];
    let mut big_r = [0u8; 32];
    let mut h_wide = [0u8; 64];
    let mut h = [0u8; 32];
    let mut hka = [0u8; 32];
    let mut s = [0u8; 32];
    // SAFETY: every buffer has the size the called function documents; the hash state is
    // initialised by _init before use.
    unsafe {
        let mut st = std::mem::MaybeUninit::<ffi::crypto_hash_sha512_state>::uninit();
        ffi::crypto_hash_sha512_init(st.as_mut_ptr());
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), h_rh.as_ptr(), 32);
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), big_ka.as_ptr(), 32);
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), msg.as_ptr(), msg.len() as u64);
        ffi::crypto_hash_sha512_final(st.as_mut_ptr(), r_wide.as_mut_ptr());
        ffi::crypto_core_ed25519_scalar_reduce(r.as_mut_ptr(), r_wide.as_ptr());
        ffi::crypto_scalarmult_ed25519_base_noclamp(big_r.as_mut_ptr(), r.as_ptr());
        ffi::crypto_hash_sha512_init(st.as_mut_ptr());
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), big_r.as_ptr(), 32);
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), big_ka.as_ptr(), 32);
        ffi::crypto_hash_sha512_update(st.as_mut_ptr(), msg.as_ptr(), msg.len() as u64);
        ffi::crypto_hash_sha512_final(st.as_mut_ptr(), h_wide.as_mut_ptr());
        ffi::crypto_core_ed25519_scalar_reduce(h.as_mut_ptr(), h_wide.as_ptr());
        ffi::crypto_core_ed25519_scalar_mul(hka.as_mut_ptr(), h.as_ptr(), ka.as_ptr());
        ffi::crypto_core_ed25519_scalar_add(s.as_mut_ptr(), r.as_ptr(), hka.as_ptr());
    }
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(&s);
    sig
}

/// `crypto_core_ed25519_scalar_mul` then `crypto_scalarmult_ed25519_base_noclamp`:
/// the blinded scalar `ka = k·a` and key `kA`.
pub fn blind(k: &[u8; 32], a: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let mut ka = [0u8; 32];
    let mut big_ka = [0u8; 32];
    // SAFETY: 32-byte buffers.
    unsafe {
        ffi::crypto_core_ed25519_scalar_mul(ka.as_mut_ptr(), k.as_ptr(), a.as_ptr());
        ffi::crypto_scalarmult_ed25519_base_noclamp(big_ka.as_mut_ptr(), ka.as_ptr());
    }
    (ka, big_ka)
}
