//! Value types of the storage protocol: account keys with any network prefix,
//! namespaces and their rules (spec §4), subaccount tokens (§3.3), and the message hash
//! (§5.1).

use std::fmt;

/// A storage account: one network-prefix byte (05 Session ID, 03 group, or any other)
/// and 32 key bytes. Unlike `session_crypto::AccountId`, every prefix byte is accepted,
/// as the reference server does; the same key under two prefixes is two accounts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserPubkey {
    prefix: u8,
    key: [u8; 32],
}

impl UserPubkey {
    /// From a prefix byte and key.
    pub fn new(prefix: u8, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }

    /// Parses 66 hex characters (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 66 {
            return None;
        }
        let bytes = hex::decode(text).ok()?;
        Self::from_bytes(&bytes)
    }

    /// From 33 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 33 {
            return None;
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..]);
        Some(Self {
            prefix: bytes[0],
            key,
        })
    }

    /// The network prefix byte.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The 32 key bytes.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The 66-character lowercase hex form (prefix included), as signed in node receipts.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(66);
        out.push_str(&hex::encode([self.prefix]));
        out.push_str(&hex::encode(self.key));
        out
    }

    /// A redacted form for logs (`05ab…ef`).
    pub fn redacted(&self) -> String {
        session_rt::redact::redact_id(&self.to_hex())
    }
}

impl fmt::Debug for UserPubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserPubkey({})", self.redacted())
    }
}

/// A message namespace (16-bit signed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Namespace(pub i16);

impl Namespace {
    /// The default namespace 0.
    pub const DEFAULT: Self = Self(0);

    /// The namespace's contribution to hashes and signatures: "" for 0, else decimal.
    pub fn sig_str(self) -> String {
        if self.0 == 0 {
            String::new()
        } else {
            self.0.to_string()
        }
    }

    /// `ns % 10 == 0`: anyone may store without a signature; max TTL 14 days.
    pub fn is_public_inbox(self) -> bool {
        self.0 % 10 == 0
    }

    /// `ns < 0 && -ns % 20 == 1`: holds one message; retrieve needs no auth.
    pub fn is_public_outbox(self) -> bool {
        self.0 < 0 && (-i32::from(self.0)) % 20 == 1
    }

    /// Namespaces that can be retrieved without a signature: −10 (legacy closed
    /// groups) and public outboxes.
    pub fn is_noauth_retrieve(self) -> bool {
        self.0 == -10 || self.is_public_outbox()
    }

    /// `ns < 0 && -ns % 100 == 11`: retrieve allowed even with a revoked subaccount.
    pub fn is_unrevocable(self) -> bool {
        self.0 < 0 && (-i32::from(self.0)) % 100 == 11
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One namespace or all of them (`"all"` in `delete_all`, `delete_before`, `expire_all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsSelector {
    /// A single namespace.
    One(Namespace),
    /// Every namespace of the account.
    All,
}

impl NsSelector {
    /// The signature contribution: "" for 0, "all", or the decimal namespace.
    pub fn sig_str(self) -> String {
        match self {
            Self::One(ns) => ns.sig_str(),
            Self::All => "all".to_owned(),
        }
    }
}

/// Subaccount permission flags (token byte 1).
pub mod access {
    /// Read messages and expiries.
    pub const READ: u8 = 0x01;
    /// Store messages, extend expiries.
    pub const WRITE: u8 = 0x02;
    /// Delete messages, shorten expiries.
    pub const DELETE: u8 = 0x04;
    /// Valid for any network prefix of the same 32-byte key.
    pub const ANY_PREFIX: u8 = 0x08;
}

/// Length of a subaccount token.
pub const SUBACCOUNT_TOKEN_LEN: usize = 36;

/// A subaccount token: prefix(1) ‖ flags(1) ‖ reserved(2) ‖ subaccount Ed25519 key(32).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubaccountToken(pub [u8; SUBACCOUNT_TOKEN_LEN]);

impl SubaccountToken {
    /// The network prefix the token was issued for.
    pub fn prefix(&self) -> u8 {
        self.0[0]
    }

    /// The permission flags.
    pub fn flags(&self) -> u8 {
        self.0[1]
    }

    /// Whether every flag of `required` is set.
    pub fn has(&self, required: u8) -> bool {
        self.flags() & required == required
    }

    /// Whether the token may be used for an account with `prefix`.
    pub fn prefix_allowed(&self, prefix: u8) -> bool {
        self.prefix() == prefix || self.has(access::ANY_PREFIX)
    }

    /// The subaccount's Ed25519 public key.
    pub fn pubkey(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&self.0[4..]);
        pk
    }
}

impl fmt::Debug for SubaccountToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubaccountToken(flags={:#04x})", self.flags())
    }
}

/// A token with the account owner's signature over its 36 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedSubaccount {
    /// The token.
    pub token: SubaccountToken,
    /// The owner's Ed25519 signature over the token bytes.
    pub signature: [u8; 64],
}

/// The storage message hash (spec §5.1): unpadded standard base64 of
/// BLAKE2b-256(prefix ‖ key ‖ namespace decimal or "" ‖ data); 43 characters.
/// (`session_wire::storage::message_hash`, the one implementation.)
pub fn message_hash(pubkey: &UserPubkey, ns: Namespace, data: &[u8]) -> String {
    let account = session_wire::storage::StoragePubkey {
        prefix: pubkey.prefix(),
        key: *pubkey.key(),
    };
    session_wire::storage::message_hash(&account, ns.0, data)
}

/// Whether `hash` has the shape of a message hash: 43 base64 characters.
pub fn is_valid_message_hash(hash: &str) -> bool {
    hash.len() == 43 && crate::rpc::params::is_base64(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules() {
        for (ns, inbox, outbox, noauth, unrevocable) in [
            (0, true, false, false, false),
            (-10, true, false, true, false),
            (10, true, false, false, false),
            (-1230, true, false, false, false),
            (3, false, false, false, false),
            (-1, false, true, true, false),
            (-21, false, true, true, false),
            (-41, false, true, true, false),
            (-11, false, false, false, true),
            (-211, false, false, false, true),
            (-111, false, false, false, true),
            (-61, false, true, true, false),
            (-12311, false, false, false, true),
            (i16::MIN, false, false, false, false),
        ] {
            let n = Namespace(ns);
            assert_eq!(n.is_public_inbox(), inbox, "{ns} inbox");
            assert_eq!(n.is_public_outbox(), outbox, "{ns} outbox");
            assert_eq!(n.is_noauth_retrieve(), noauth, "{ns} noauth");
            assert_eq!(n.is_unrevocable(), unrevocable, "{ns} unrevocable");
        }
        assert_eq!(Namespace(0).sig_str(), "");
        assert_eq!(Namespace(-10).sig_str(), "-10");
        assert_eq!(NsSelector::All.sig_str(), "all");
    }

    #[test]
    fn pubkey_forms() {
        let hex_id = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
        let pk = UserPubkey::from_hex(hex_id).unwrap();
        assert_eq!(pk.prefix(), 5);
        assert_eq!(pk.to_hex(), hex_id);
        assert_eq!(UserPubkey::from_hex(&hex_id.to_uppercase()), Some(pk));
        assert!(UserPubkey::from_hex(&hex_id[2..]).is_none());
        assert!(UserPubkey::from_hex(&format!("{}zz", &hex_id[..64])).is_none());
        assert!(!format!("{pk:?}").contains("ad010eeb"));
        let ff = UserPubkey::from_hex(&format!("ff{}", &hex_id[2..])).unwrap();
        assert_eq!(ff.prefix(), 0xff);
    }

    #[test]
    fn token_flags() {
        let mut t = [0u8; 36];
        t[0] = 3;
        t[1] = access::READ | access::WRITE;
        let t = SubaccountToken(t);
        assert!(t.has(access::READ));
        assert!(t.has(access::READ | access::WRITE));
        assert!(!t.has(access::DELETE));
        assert!(t.prefix_allowed(3));
        assert!(!t.prefix_allowed(5));
        let mut any = t;
        any.0[1] |= access::ANY_PREFIX;
        assert!(any.prefix_allowed(5));
    }
}
