//! The exact byte strings clients sign for storage RPC requests (storage-node §3.2,
//! client-protocol §8.5). Signing them is `session_crypto::ed25519`; nodes rebuild the same
//! strings to verify. Numbers are decimal ASCII (milliseconds, except monitor `t` in
//! seconds); namespace 0 contributes the empty string; hashes are their base64 strings in
//! request order; subaccount tokens are their raw 36 bytes.

use crate::storage::{StoragePubkey, namespace_str};

/// A namespace argument of `delete_all`, `delete_before` and `expire_all`, which also
/// accept every namespace at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceScope {
    /// One namespace.
    One(i16),
    /// `"all"`.
    All,
}

impl NamespaceScope {
    /// The signed form: `""` for namespace 0, `"all"`, or the decimal namespace.
    pub fn signed_str(self) -> String {
        match self {
            Self::One(ns) => namespace_str(ns),
            Self::All => "all".to_owned(),
        }
    }
}

/// The optional marker of an `expire` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpireMode {
    /// Set the expiry as given (no marker).
    #[default]
    Set,
    /// Only shorten (`"shorten"`).
    Shorten,
    /// Only extend (`"extend"`).
    Extend,
}

impl ExpireMode {
    /// The signed marker.
    pub fn marker(self) -> &'static str {
        match self {
            Self::Set => "",
            Self::Shorten => "shorten",
            Self::Extend => "extend",
        }
    }
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn with_hashes(mut out: Vec<u8>, hashes: &[&str]) -> Vec<u8> {
    for h in hashes {
        out.extend_from_slice(h.as_bytes());
    }
    out
}

/// `"retrieve" || ns_str || timestamp`.
pub fn retrieve(namespace: i16, timestamp_ms: u64) -> Vec<u8> {
    concat(&[
        b"retrieve",
        namespace_str(namespace).as_bytes(),
        timestamp_ms.to_string().as_bytes(),
    ])
}

/// `"store" || ns_str || sig_timestamp` (only checked for non-public-inbox namespaces).
pub fn store(namespace: i16, sig_timestamp_ms: u64) -> Vec<u8> {
    concat(&[
        b"store",
        namespace_str(namespace).as_bytes(),
        sig_timestamp_ms.to_string().as_bytes(),
    ])
}

/// `"delete" || hash…` (no timestamp).
pub fn delete(hashes: &[&str]) -> Vec<u8> {
    with_hashes(b"delete".to_vec(), hashes)
}

/// `"delete_all" || ns_str || timestamp`.
pub fn delete_all(scope: NamespaceScope, timestamp_ms: u64) -> Vec<u8> {
    concat(&[
        b"delete_all",
        scope.signed_str().as_bytes(),
        timestamp_ms.to_string().as_bytes(),
    ])
}

/// `"delete_before" || ns_str || before`.
pub fn delete_before(scope: NamespaceScope, before_ms: u64) -> Vec<u8> {
    concat(&[
        b"delete_before",
        scope.signed_str().as_bytes(),
        before_ms.to_string().as_bytes(),
    ])
}

/// `"expire_all" || ns_str || expiry`.
pub fn expire_all(scope: NamespaceScope, expiry_ms: u64) -> Vec<u8> {
    concat(&[
        b"expire_all",
        scope.signed_str().as_bytes(),
        expiry_ms.to_string().as_bytes(),
    ])
}

/// `"expire" || ("shorten"|"extend"|"") || expiry… || hash…`: one expiry for all hashes,
/// or (newer nodes) one per hash, all expiries before all hashes.
pub fn expire(mode: ExpireMode, expiries_ms: &[u64], hashes: &[&str]) -> Vec<u8> {
    let mut out = b"expire".to_vec();
    out.extend_from_slice(mode.marker().as_bytes());
    for e in expiries_ms {
        out.extend_from_slice(e.to_string().as_bytes());
    }
    with_hashes(out, hashes)
}

/// `"get_expiries" || timestamp || hash…`.
pub fn get_expiries(timestamp_ms: u64, hashes: &[&str]) -> Vec<u8> {
    with_hashes(
        concat(&[b"get_expiries", timestamp_ms.to_string().as_bytes()]),
        hashes,
    )
}

fn with_tokens(method: &[u8], timestamp_ms: u64, tokens: &[[u8; 36]]) -> Vec<u8> {
    let mut out = concat(&[method, timestamp_ms.to_string().as_bytes()]);
    for t in tokens {
        out.extend_from_slice(t);
    }
    out
}

/// `"revoke_subaccount" || timestamp || token…` (raw 36-byte tokens).
pub fn revoke_subaccount(timestamp_ms: u64, tokens: &[[u8; 36]]) -> Vec<u8> {
    with_tokens(b"revoke_subaccount", timestamp_ms, tokens)
}

/// `"unrevoke_subaccount" || timestamp || token…` (raw 36-byte tokens).
pub fn unrevoke_subaccount(timestamp_ms: u64, tokens: &[[u8; 36]]) -> Vec<u8> {
    with_tokens(b"unrevoke_subaccount", timestamp_ms, tokens)
}

/// `"MONITOR" || account hex (66) || t (seconds) || "0"|"1" || namespaces joined by ","`
/// (storage-node §2.15). For a Session ID the account is the `05` id even though the
/// request carries the Ed25519 key.
pub fn monitor(
    account: &StoragePubkey,
    timestamp_s: u64,
    with_data: bool,
    namespaces: &[i16],
) -> Vec<u8> {
    let joined = namespaces
        .iter()
        .map(i16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    concat(&[
        b"MONITOR",
        account.to_hex().as_bytes(),
        timestamp_s.to_string().as_bytes(),
        if with_data { b"1" } else { b"0" },
        joined.as_bytes(),
    ])
}
