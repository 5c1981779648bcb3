//! Group keys messages (namespace 12, client-protocol §5.2): a plain bt-dict signed by the
//! group key — not a config message.
//!
//! A full rekey to generation `G` over members `M_1 … M_n` (all of them, admins included):
//!
//! * `H2 = BLAKE2b-32(group_seed, key = "SessionGroupKeySeed")`;
//! * `H1 = BLAKE2b-56(hex(M_1) || … || hex(M_n) || ascii(G) || H2, key = "SessionGroupKeyGen")`
//!   with the members as 66-character lowercase hex in sorted order; the new key is
//!   `H1[0..32]` and the message nonce `H1[32..56]`, so racing admins produce identical
//!   messages;
//! * `{"#": nonce, "G": G, "K": admin entry, "k": [member entries…, junk…], "~": sig}` where
//!   the admin entry encrypts the key under `BLAKE2b-32(group_seed, key =
//!   "SessionGroupKeyAdminKey")`, the member entries are [multi-recipient](crate::multi_encrypt)
//!   encryptions from the group's X25519 key with domain `SessionGroupKeyMemberKey`, and the
//!   list is padded with 48-byte junk entries from libsodium's deterministic RNG, seeded by
//!   `BLAKE2b-32(H1 || group_sk64, key = "SessionGroupJunkMembers")`, to a multiple of 75.
//!
//! A supplemental message gives existing keys to new members without a rekey:
//! `{"#": nonce, "+": [entries…], "G": max generation, "~": sig}`, each entry encrypting the
//! bt-list of `{g, k, t}` dicts.

use std::fmt;

use session_bt::{RawDict, Value};
use zeroize::Zeroizing;

use super::{GroupEncKey, GroupKey, admin_key, key_seed_hash, member_x25519, sorted_members};
use crate::account_id::AccountId;
use crate::aead::{
    TAG_LEN, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, Ed25519Seed, SIGNATURE_LEN};
use crate::error::{CryptoError, Result, to_array};
use crate::multi_encrypt::{
    InvalidRecipients, decrypt_for_multiple, deterministic_random_bytes, encrypt_for_multiple,
};

/// Member key lists are padded with junk entries to a multiple of this.
pub const KEYS_ENTRY_MULTIPLE: usize = 75;

/// Every `K` and `k` entry: an encrypted 32-byte key plus the 16-byte tag.
pub const KEY_ENTRY_LEN: usize = 32 + TAG_LEN;

/// Smallest possible supplemental entry: an encrypted `d1:gi0e1:k32:…1:ti0ee` plus the tag.
const MIN_SUPPLEMENTAL_ENTRY_LEN: usize = 52 + TAG_LEN;

const KEY_GEN_HASH_KEY: &[u8] = b"SessionGroupKeyGen";
const MEMBER_KEY_DOMAIN: &[u8] = b"SessionGroupKeyMemberKey";
const JUNK_SEED_HASH_KEY: &[u8] = b"SessionGroupJunkMembers";
const WHAT: &str = "group keys message";

fn malformed(reason: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

/// `H1` of a rekey, split into the new group key and the message nonce (see the module
/// docs). `members` need not be sorted; duplicates are ignored; all must be `05` ids.
pub fn rekey_key_and_nonce(
    group_seed: &Ed25519Seed,
    members: &[AccountId],
    generation: i64,
) -> Result<(GroupEncKey, [u8; XCHACHA_NONCE_LEN])> {
    let members = sorted_members(members)?;
    let h1 = h1(group_seed, &members, generation)?;
    Ok(split_h1(&h1))
}

fn check_generation(generation: i64) -> Result<()> {
    if generation < 0 {
        return Err(malformed(format!("negative generation {generation}")));
    }
    Ok(())
}

fn h1(
    group_seed: &Ed25519Seed,
    sorted: &[AccountId],
    generation: i64,
) -> Result<Zeroizing<[u8; 56]>> {
    check_generation(generation)?;
    let hexes: Vec<String> = sorted.iter().map(AccountId::to_hex).collect();
    let gen_text = generation.to_string();
    let h2 = key_seed_hash(group_seed);
    let mut parts: Vec<&[u8]> = hexes.iter().map(String::as_bytes).collect();
    parts.push(gen_text.as_bytes());
    parts.push(&h2[..]);
    Ok(Zeroizing::new(crate::hash::blake2b_keyed::<56>(
        KEY_GEN_HASH_KEY,
        &parts,
    )))
}

fn split_h1(h1: &[u8; 56]) -> (GroupEncKey, [u8; XCHACHA_NONCE_LEN]) {
    let mut key = [0u8; 32];
    key.copy_from_slice(&h1[..32]);
    let mut nonce = [0u8; XCHACHA_NONCE_LEN];
    nonce.copy_from_slice(&h1[32..]);
    (GroupEncKey::from_array(key), nonce)
}

/// The result of a rekey: the signed keys message to store in namespace 12 and the new key.
#[derive(Clone, Debug)]
pub struct Rekey {
    /// The new generation.
    pub generation: i64,
    /// The new group encryption key.
    pub key: GroupEncKey,
    /// The signed keys message.
    pub message: Vec<u8>,
}

/// Builds the keys message of a full rekey to `generation` for `members` (every member,
/// admins included; `05` ids). Members whose key is a small-order point get no entry (but
/// still count in the derivation), as in libsession.
pub fn rekey(group: &Ed25519Keypair, members: &[AccountId], generation: i64) -> Result<Rekey> {
    let members = sorted_members(members)?;
    let h1 = h1(group.seed(), &members, generation)?;
    let (key, nonce) = split_h1(&h1);

    let admin_entry =
        xchacha20poly1305_encrypt(&admin_key(group.seed()), &nonce, &[], key.as_bytes());
    let member_xs = members
        .iter()
        .map(member_x25519)
        .collect::<Result<Vec<_>>>()?;
    let mut entries = encrypt_for_multiple(
        &[&key.as_bytes()[..]],
        &member_xs,
        &nonce,
        &group.to_x25519(),
        MEMBER_KEY_DOMAIN,
        InvalidRecipients::Skip,
    )?;
    let junk_count =
        (KEYS_ENTRY_MULTIPLE - entries.len() % KEYS_ENTRY_MULTIPLE) % KEYS_ENTRY_MULTIPLE;
    if junk_count > 0 {
        let seed = Zeroizing::new(crate::hash::blake2b_keyed::<32>(
            JUNK_SEED_HASH_KEY,
            &[&h1[..], &group.secret_key_64()[..]],
        ));
        let mut junk = vec![0u8; junk_count * KEY_ENTRY_LEN];
        deterministic_random_bytes(&seed, &mut junk)?;
        entries.extend(junk.chunks(KEY_ENTRY_LEN).map(<[u8]>::to_vec));
    }

    let mut out = Vec::with_capacity(100 + entries.len() * (KEY_ENTRY_LEN + 3));
    out.push(b'd');
    session_bt::encode_bytes(b"#", &mut out);
    session_bt::encode_bytes(&nonce, &mut out);
    session_bt::encode_bytes(b"G", &mut out);
    session_bt::encode_int(generation, &mut out);
    session_bt::encode_bytes(b"K", &mut out);
    session_bt::encode_bytes(&admin_entry, &mut out);
    session_bt::encode_bytes(b"k", &mut out);
    out.push(b'l');
    for e in &entries {
        session_bt::encode_bytes(e, &mut out);
    }
    out.push(b'e');
    append_signature(&mut out, group);
    Ok(Rekey {
        generation,
        key,
        message: out,
    })
}

/// Signs everything so far (an open dict) and closes it with `1:~64:<sig>e`.
fn append_signature(out: &mut Vec<u8>, group: &Ed25519Keypair) {
    let sig = group.sign(out);
    session_bt::encode_bytes(b"~", out);
    session_bt::encode_bytes(&sig, out);
    out.push(b'e');
}

/// Builds a supplemental keys message giving `keys` (normally every key the admin holds)
/// to `members` (`05` ids; sorted and de-duplicated here). Fails if no member has a valid
/// key or `keys` is empty.
pub fn supplemental_keys_message(
    group: &Ed25519Keypair,
    members: &[AccountId],
    keys: &[GroupKey],
) -> Result<Vec<u8>> {
    let members = sorted_members(members)?;
    let mut keys: Vec<&GroupKey> = keys.iter().collect();
    keys.sort_by(|a, b| {
        (a.generation, a.timestamp_ms, a.key.as_bytes()).cmp(&(
            b.generation,
            b.timestamp_ms,
            b.key.as_bytes(),
        ))
    });
    let Some(max_gen) = keys.last().map(|k| k.generation) else {
        return Err(CryptoError::InvalidLength {
            what: "supplemental keys",
            expected: "at least one key",
            got: 0,
        });
    };
    let supp = Zeroizing::new(
        Value::List(
            keys.iter()
                .map(|k| {
                    Value::Dict(
                        [
                            (b"g".to_vec(), Value::Int(k.generation)),
                            (b"k".to_vec(), Value::Bytes(k.key.as_bytes().to_vec())),
                            (b"t".to_vec(), Value::Int(k.timestamp_ms)),
                        ]
                        .into_iter()
                        .collect(),
                    )
                })
                .collect(),
        )
        .encode(),
    );

    let hexes: Vec<String> = members.iter().map(AccountId::to_hex).collect();
    let h2 = key_seed_hash(group.seed());
    let mut parts: Vec<&[u8]> = hexes.iter().map(String::as_bytes).collect();
    parts.push(&supp[..]);
    parts.push(&h2[..]);
    let nonce = crate::hash::blake2b_keyed::<XCHACHA_NONCE_LEN>(KEY_GEN_HASH_KEY, &parts);

    let member_xs = members
        .iter()
        .map(member_x25519)
        .collect::<Result<Vec<_>>>()?;
    let entries = encrypt_for_multiple(
        &[&supp[..]],
        &member_xs,
        &nonce,
        &group.to_x25519(),
        MEMBER_KEY_DOMAIN,
        InvalidRecipients::Skip,
    )?;
    if entries.is_empty() {
        return Err(CryptoError::InvalidLength {
            what: "supplemental key recipients with valid keys",
            expected: "at least one",
            got: 0,
        });
    }

    let mut out = Vec::new();
    out.push(b'd');
    session_bt::encode_bytes(b"#", &mut out);
    session_bt::encode_bytes(&nonce, &mut out);
    session_bt::encode_bytes(b"+", &mut out);
    out.push(b'l');
    for e in &entries {
        session_bt::encode_bytes(e, &mut out);
    }
    out.push(b'e');
    session_bt::encode_bytes(b"G", &mut out);
    session_bt::encode_int(max_gen, &mut out);
    append_signature(&mut out, group);
    Ok(out)
}

/// A parsed, signature-checked keys message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeysMessage {
    /// A full rekey.
    Full(FullKeysMessage),
    /// A supplemental message for newly added members.
    Supplemental(SupplementalKeysMessage),
}

/// A full rekey message.
#[derive(Clone, PartialEq, Eq)]
pub struct FullKeysMessage {
    group_pk: Ed25519PublicKey,
    /// The shared nonce.
    pub nonce: [u8; XCHACHA_NONCE_LEN],
    /// The generation of the key it carries.
    pub generation: i64,
    /// The admin entry (`K`).
    pub admin_entry: [u8; KEY_ENTRY_LEN],
    /// The member entries and junk (`k`).
    pub member_entries: Vec<[u8; KEY_ENTRY_LEN]>,
}

impl fmt::Debug for FullKeysMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FullKeysMessage")
            .field("group_pk", &self.group_pk)
            .field("generation", &self.generation)
            .field("entries", &self.member_entries.len())
            .finish_non_exhaustive()
    }
}

/// A supplemental keys message.
#[derive(Clone, PartialEq, Eq)]
pub struct SupplementalKeysMessage {
    group_pk: Ed25519PublicKey,
    /// The shared nonce.
    pub nonce: [u8; XCHACHA_NONCE_LEN],
    /// The highest generation among the keys it carries (`G`).
    pub max_generation: i64,
    /// The encrypted key lists (`+`).
    pub entries: Vec<Vec<u8>>,
}

impl fmt::Debug for SupplementalKeysMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupplementalKeysMessage")
            .field("group_pk", &self.group_pk)
            .field("max_generation", &self.max_generation)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Parses a keys message strictly and verifies its `~` signature against `group_pk`.
///
/// Structure is checked before the signature, the same for admins and members: the nonce
/// is 24 bytes; a full message has a non-negative `G`, a 48-byte `K` and a `k` list of
/// 48-byte entries ([`CryptoError::InvalidLength`] otherwise) whose count is a multiple of
/// 75 ([`CryptoError::Malformed`]); a supplemental one has `+` entries of at least 68 bytes
/// and a `G`. The signature must be the last entry ([`CryptoError::BadSignature`]).
pub fn parse_keys_message(bytes: &[u8], group_pk: &Ed25519PublicKey) -> Result<KeysMessage> {
    let dict = RawDict::parse(bytes).map_err(|e| malformed(e.to_string()))?;
    let field = |key: &'static str| {
        dict.get(key.as_bytes())
            .ok_or_else(|| malformed(format!("missing \"{key}\"")))
    };
    let bytes_of = |key: &'static str| -> Result<&[u8]> {
        field(key)?
            .as_bytes()
            .map_err(|e| malformed(format!("\"{key}\": {e}")))
    };
    let int_of = |key: &'static str| -> Result<i64> {
        field(key)?
            .as_int()
            .map_err(|e| malformed(format!("\"{key}\": {e}")))
    };
    let list_of = |key: &'static str| -> Result<Vec<Value>> {
        match field(key)?.decode() {
            Ok(Value::List(items)) => Ok(items),
            Ok(_) => Err(malformed(format!("\"{key}\" is not a list"))),
            Err(e) => Err(malformed(format!("\"{key}\": {e}"))),
        }
    };
    let nonce = to_array::<XCHACHA_NONCE_LEN>("group keys message nonce", bytes_of("#")?)?;

    let msg = if dict.get(b"+").is_some() {
        if dict.get(b"K").is_some() || dict.get(b"k").is_some() {
            return Err(malformed(
                "both supplemental (\"+\") and full (\"K\"/\"k\") keys",
            ));
        }
        let entries = list_of("+")?
            .into_iter()
            .map(|item| match item {
                Value::Bytes(b) if b.len() >= MIN_SUPPLEMENTAL_ENTRY_LEN => Ok(b),
                Value::Bytes(b) => Err(CryptoError::InvalidLength {
                    what: "supplemental keys entry",
                    expected: "at least 68",
                    got: b.len(),
                }),
                _ => Err(malformed("a \"+\" entry is not a byte string")),
            })
            .collect::<Result<Vec<_>>>()?;
        let max_generation = int_of("G")?;
        check_generation(max_generation)?;
        KeysMessage::Supplemental(SupplementalKeysMessage {
            group_pk: *group_pk,
            nonce,
            max_generation,
            entries,
        })
    } else {
        let generation = int_of("G")?;
        check_generation(generation)?;
        let admin_entry =
            to_array::<KEY_ENTRY_LEN>("group keys message admin entry", bytes_of("K")?)?;
        let member_entries = list_of("k")?
            .into_iter()
            .map(|item| match item {
                Value::Bytes(b) => to_array::<KEY_ENTRY_LEN>("group keys message member entry", &b),
                _ => Err(malformed("a \"k\" entry is not a byte string")),
            })
            .collect::<Result<Vec<_>>>()?;
        if member_entries.len() % KEYS_ENTRY_MULTIPLE != 0 {
            return Err(malformed(format!(
                "{} member entries is not a multiple of {KEYS_ENTRY_MULTIPLE} (missing junk padding?)",
                member_entries.len()
            )));
        }
        KeysMessage::Full(FullKeysMessage {
            group_pk: *group_pk,
            nonce,
            generation,
            admin_entry,
            member_entries,
        })
    };

    let sig = dict
        .entries()
        .last()
        .filter(|e| e.key == b"~")
        .ok_or(CryptoError::BadSignature {
            what: "group keys message has no \"~\" signature as its last entry",
        })?
        .as_bytes()
        .map_err(|e| malformed(format!("signature: {e}")))?;
    let sig = to_array::<SIGNATURE_LEN>("group keys message signature", sig)?;
    group_pk
        .verify(dict.prefix_before(b"~").unwrap_or_default(), &sig)
        .map_err(|_| CryptoError::BadSignature {
            what: "group keys message signature",
        })?;
    Ok(msg)
}

fn key_from_plaintext(plain: &[u8]) -> Result<GroupEncKey> {
    let key = Zeroizing::new(to_array::<32>("decrypted group key", plain)?);
    Ok(GroupEncKey::from_array(*key))
}

impl FullKeysMessage {
    /// The group key this message was verified against.
    pub fn group_pk(&self) -> &Ed25519PublicKey {
        &self.group_pk
    }

    /// Decrypts the admin entry with the group seed. `timestamp_ms` is the time the swarm
    /// stored the message.
    pub fn decrypt_as_admin(
        &self,
        group_seed: &Ed25519Seed,
        timestamp_ms: i64,
    ) -> Result<GroupKey> {
        let plain = Zeroizing::new(xchacha20poly1305_decrypt(
            &admin_key(group_seed),
            &self.nonce,
            &[],
            &self.admin_entry,
            "group keys message admin entry",
        )?);
        Ok(GroupKey {
            generation: self.generation,
            key: key_from_plaintext(&plain)?,
            timestamp_ms,
        })
    }

    /// Finds and decrypts this member's entry by trying every one;
    /// [`CryptoError::DecryptionFailed`] if none is for `member` (not a member, or removed).
    pub fn decrypt_as_member(
        &self,
        member: &Ed25519Keypair,
        timestamp_ms: i64,
    ) -> Result<GroupKey> {
        let group_x = self.group_pk.to_x25519()?;
        let plain = Zeroizing::new(decrypt_for_multiple(
            self.member_entries.iter().map(|e| &e[..]),
            &self.nonce,
            &member.to_x25519(),
            &group_x,
            MEMBER_KEY_DOMAIN,
        )?);
        Ok(GroupKey {
            generation: self.generation,
            key: key_from_plaintext(&plain)?,
            timestamp_ms,
        })
    }
}

impl SupplementalKeysMessage {
    /// The group key this message was verified against.
    pub fn group_pk(&self) -> &Ed25519PublicKey {
        &self.group_pk
    }

    /// Finds and decrypts this member's entry and returns the keys it lists;
    /// [`CryptoError::DecryptionFailed`] if no entry is for `member`.
    pub fn decrypt_as_member(&self, member: &Ed25519Keypair) -> Result<Vec<GroupKey>> {
        let group_x = self.group_pk.to_x25519()?;
        let plain = Zeroizing::new(decrypt_for_multiple(
            self.entries.iter().map(Vec::as_slice),
            &self.nonce,
            &member.to_x25519(),
            &group_x,
            MEMBER_KEY_DOMAIN,
        )?);
        let list =
            session_bt::decode(&plain).map_err(|e| malformed(format!("supplemental keys: {e}")))?;
        let items = list
            .as_list()
            .ok_or_else(|| malformed("supplemental keys are not a list"))?;
        items
            .iter()
            .map(|item| {
                let generation = item
                    .get(b"g")
                    .and_then(Value::as_int)
                    .ok_or_else(|| malformed("supplemental key without integer \"g\""))?;
                check_generation(generation)?;
                let key = item
                    .get(b"k")
                    .and_then(Value::as_bytes)
                    .ok_or_else(|| malformed("supplemental key without \"k\""))?;
                let timestamp_ms = item
                    .get(b"t")
                    .and_then(Value::as_int)
                    .ok_or_else(|| malformed("supplemental key without integer \"t\""))?;
                Ok(GroupKey {
                    generation,
                    key: key_from_plaintext(key)?,
                    timestamp_ms,
                })
            })
            .collect()
    }
}
