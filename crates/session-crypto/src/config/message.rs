//! The config message format (client-protocol §6.2): a canonical bt-dict
//! `{"#": seqno, "&": data, "<": lagged diffs, "=": diff, ["~": signature]}`.
//!
//! * Data values are integers, byte strings, sets of those, or nested dicts. Sets are
//!   encoded as lists sorted with integers (ascending) before strings (bytewise ascending),
//!   without duplicates; empty sets and dicts are never encoded (they are pruned).
//! * Lagged diffs are `[seqno, hash32, diff]` rows for the previous `lag − 1` seqnos, sorted
//!   by (seqno, hash).
//! * A diff maps keys to `""` (scalar set or changed), `"-"` (scalar removed), a sub-diff
//!   (dict changes) or `[[added…], [removed…]]` (set changes).
//! * Unknown top-level keys are kept and re-encoded in place; any key before `"#"` or after
//!   `"~"` makes the message unparseable.
//! * A signature, when present, is the last entry and covers the encoding up to but
//!   excluding `1:~64:<sig>e` — the closing `e` of the dict is not signed.
//! * The message hash is the unkeyed BLAKE2b-32 of the plaintext serialization.

use std::collections::{BTreeMap, BTreeSet};

use session_bt::{RawDict, Value};

use crate::ed25519::{Ed25519Keypair, Ed25519PublicKey, SIGNATURE_LEN};
use crate::error::{CryptoError, Result, to_array};

/// How many seqnos back a message carries diffs for (seqnos `> seqno − lag` and `< seqno`).
pub const DEFAULT_LAG: i64 = 5;

const WHAT: &str = "config message";

/// A scalar config value. The derived ordering — every integer before every byte string,
/// integers numerically, strings bytewise — is the canonical set order.
///
/// `Debug` shows integers but only the length of byte strings: configs hold secrets (group
/// seeds, profile-picture keys).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigScalar {
    /// A signed 64-bit integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for ConfigScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(i) => write!(f, "Int({i})"),
            Self::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
        }
    }
}

impl ConfigScalar {
    /// The bt value.
    pub fn to_bt(&self) -> Value {
        match self {
            Self::Int(i) => Value::Int(*i),
            Self::Bytes(b) => Value::Bytes(b.clone()),
        }
    }

    fn from_bt(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(Self::Int(*i)),
            Value::Bytes(b) => Some(Self::Bytes(b.clone())),
            _ => None,
        }
    }
}

impl From<i64> for ConfigScalar {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<&str> for ConfigScalar {
    fn from(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for ConfigScalar {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

/// A config data dict: byte-string keys in ascending order.
pub type ConfigDict = BTreeMap<Vec<u8>, ConfigValue>;

/// One value in a config's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    /// An integer or byte string.
    Scalar(ConfigScalar),
    /// A set of scalars.
    Set(BTreeSet<ConfigScalar>),
    /// A nested dict.
    Dict(ConfigDict),
}

impl ConfigValue {
    /// The canonical bt value, with empty nested sets/dicts pruned (an entirely empty set or
    /// dict still encodes as an empty list/dict).
    pub fn to_bt(&self) -> Value {
        match self {
            Self::Scalar(s) => s.to_bt(),
            Self::Set(set) => Value::List(set.iter().map(ConfigScalar::to_bt).collect()),
            Self::Dict(d) => dict_to_bt(d),
        }
    }

    /// The canonical bt encoding (see [`ConfigValue::to_bt`]).
    pub fn encode(&self) -> Vec<u8> {
        self.to_bt().encode()
    }

    fn is_prunable(&self) -> bool {
        match self {
            Self::Scalar(_) => false,
            Self::Set(s) => s.is_empty(),
            Self::Dict(d) => d.values().all(Self::is_prunable),
        }
    }
}

impl From<i64> for ConfigValue {
    fn from(i: i64) -> Self {
        Self::Scalar(ConfigScalar::Int(i))
    }
}

impl From<&str> for ConfigValue {
    fn from(s: &str) -> Self {
        Self::Scalar(s.into())
    }
}

impl From<&[u8]> for ConfigValue {
    fn from(b: &[u8]) -> Self {
        Self::Scalar(b.into())
    }
}

fn dict_to_bt(d: &ConfigDict) -> Value {
    Value::Dict(
        d.iter()
            .filter(|(_, v)| !v.is_prunable())
            .map(|(k, v)| (k.clone(), v.to_bt()))
            .collect(),
    )
}

/// Removes empty sets and dicts (recursively, including dicts that become empty).
pub fn prune(data: &mut ConfigDict) {
    data.retain(|_, v| {
        if let ConfigValue::Dict(d) = v {
            prune(d);
        }
        !v.is_prunable()
    });
}

/// One change in a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffOp {
    /// `""`: a scalar was set or changed (the value is in the message's data).
    Assigned,
    /// `"-"`: a scalar was removed.
    Removed,
    /// `[[added…], [removed…]]`: elements added to / removed from a set.
    SetChange {
        /// Elements added.
        added: BTreeSet<ConfigScalar>,
        /// Elements removed.
        removed: BTreeSet<ConfigScalar>,
    },
    /// Changes inside a nested dict.
    Dict(ConfigDiff),
}

/// A diff: the changes one config update made, keyed like the data.
pub type ConfigDiff = BTreeMap<Vec<u8>, DiffOp>;

fn diff_to_bt(diff: &ConfigDiff) -> Value {
    Value::Dict(
        diff.iter()
            .map(|(k, op)| {
                let v = match op {
                    DiffOp::Assigned => Value::Bytes(Vec::new()),
                    DiffOp::Removed => Value::Bytes(b"-".to_vec()),
                    DiffOp::SetChange { added, removed } => Value::List(vec![
                        Value::List(added.iter().map(ConfigScalar::to_bt).collect()),
                        Value::List(removed.iter().map(ConfigScalar::to_bt).collect()),
                    ]),
                    DiffOp::Dict(sub) => diff_to_bt(sub),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// The diff that turns `old` into `new`, exactly as libsession computes it (after pruning
/// both): new or re-typed keys are `""` / a full sub-diff / all elements added; removed keys
/// are `"-"` / a sub-diff removing everything / all elements removed.
pub fn config_diff(old: &ConfigDict, new: &ConfigDict) -> ConfigDiff {
    let mut old = old.clone();
    let mut new = new.clone();
    prune(&mut old);
    prune(&mut new);
    diff_dicts(&old, &new)
}

fn diff_added(v: &ConfigValue) -> DiffOp {
    match v {
        ConfigValue::Scalar(_) => DiffOp::Assigned,
        ConfigValue::Set(s) => DiffOp::SetChange {
            added: s.clone(),
            removed: BTreeSet::new(),
        },
        ConfigValue::Dict(d) => DiffOp::Dict(diff_dicts(&ConfigDict::new(), d)),
    }
}

fn diff_removed(v: &ConfigValue) -> DiffOp {
    match v {
        ConfigValue::Scalar(_) => DiffOp::Removed,
        ConfigValue::Set(s) => DiffOp::SetChange {
            added: BTreeSet::new(),
            removed: s.clone(),
        },
        ConfigValue::Dict(d) => DiffOp::Dict(diff_dicts(d, &ConfigDict::new())),
    }
}

fn diff_dicts(old: &ConfigDict, new: &ConfigDict) -> ConfigDiff {
    let mut out = ConfigDiff::new();
    let keys: BTreeSet<&Vec<u8>> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let op = match (old.get(key), new.get(key)) {
            (None, Some(n)) => Some(diff_added(n)),
            (Some(o), None) => Some(diff_removed(o)),
            (Some(ConfigValue::Scalar(o)), Some(ConfigValue::Scalar(n))) => {
                (o != n).then_some(DiffOp::Assigned)
            }
            (Some(ConfigValue::Dict(o)), Some(ConfigValue::Dict(n))) => {
                let sub = diff_dicts(o, n);
                (!sub.is_empty()).then_some(DiffOp::Dict(sub))
            }
            (Some(ConfigValue::Set(o)), Some(ConfigValue::Set(n))) => {
                let added: BTreeSet<_> = n.difference(o).cloned().collect();
                let removed: BTreeSet<_> = o.difference(n).cloned().collect();
                (!added.is_empty() || !removed.is_empty())
                    .then_some(DiffOp::SetChange { added, removed })
            }
            // The type changed: treated as a new value.
            (Some(_), Some(n)) => Some(diff_added(n)),
            (None, None) => None,
        };
        if let Some(op) = op {
            out.insert(key.clone(), op);
        }
    }
    out
}

/// A (seqno, message hash) pair; lagged diffs and merges order by it.
pub type SeqnoHash = (i64, [u8; 32]);

/// The unkeyed BLAKE2b-32 of a serialized (plaintext) config message: its identity in
/// lagged diffs and merges.
pub fn message_hash(serialized: &[u8]) -> [u8; 32] {
    crate::hash::blake2b::<32>(&[serialized])
}

/// A config message. Its `Debug` output shows only the shape (seqno, sizes), never data.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigMessage {
    /// The sequence number.
    pub seqno: i64,
    /// The data (`"&"`).
    pub data: ConfigDict,
    /// Diffs of earlier messages (`"<"`); only those with `seqno − lag < s < seqno` are
    /// serialized.
    pub lagged_diffs: BTreeMap<SeqnoHash, ConfigDiff>,
    /// This message's own diff (`"="`).
    pub diff: ConfigDiff,
    /// The lag window (normally [`DEFAULT_LAG`]).
    pub lag: i64,
    /// The `"~"` signature serialized after everything else, if any. It is whatever was
    /// parsed or last produced by [`ConfigMessage::sign`]: changing any other field makes it
    /// stale (sign again).
    pub signature: Option<[u8; SIGNATURE_LEN]>,
    unknown: BTreeMap<Vec<u8>, Value>,
}

impl std::fmt::Debug for ConfigMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigMessage")
            .field("seqno", &self.seqno)
            .field("data_keys", &self.data.len())
            .field("lagged_diffs", &self.lagged_diffs.len())
            .field("diff_keys", &self.diff.len())
            .field("lag", &self.lag)
            .field("signed", &self.signature.is_some())
            .field("unknown_keys", &self.unknown.len())
            .finish()
    }
}

impl Default for ConfigMessage {
    fn default() -> Self {
        Self::new()
    }
}

/// A parsed config message and the hash of the bytes it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedConfigMessage {
    /// The message.
    pub message: ConfigMessage,
    /// [`message_hash`] of the input.
    pub hash: [u8; 32],
}

fn malformed(reason: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

impl ConfigMessage {
    /// The empty seqno-0 message every config starts from.
    pub fn new() -> Self {
        Self {
            seqno: 0,
            data: ConfigDict::new(),
            lagged_diffs: BTreeMap::new(),
            diff: ConfigDiff::new(),
            lag: DEFAULT_LAG,
            signature: None,
            unknown: BTreeMap::new(),
        }
    }

    /// Unknown top-level entries kept from parsing (re-encoded in place).
    pub fn unknown_entries(&self) -> &BTreeMap<Vec<u8>, Value> {
        &self.unknown
    }

    fn outer_dict(&self) -> BTreeMap<Vec<u8>, Value> {
        let mut outer = self.unknown.clone();
        outer.insert(b"#".to_vec(), Value::Int(self.seqno));
        outer.insert(b"&".to_vec(), dict_to_bt(&self.data));
        let low = self.seqno.saturating_sub(self.lag);
        let lags = self
            .lagged_diffs
            .iter()
            .filter(|((s, _), _)| *s > low && *s < self.seqno)
            .map(|((s, hash), diff)| {
                Value::List(vec![
                    Value::Int(*s),
                    Value::Bytes(hash.to_vec()),
                    diff_to_bt(diff),
                ])
            })
            .collect();
        outer.insert(b"<".to_vec(), Value::List(lags));
        outer.insert(b"=".to_vec(), diff_to_bt(&self.diff));
        outer
    }

    /// The canonical encoding without any signature.
    pub fn serialize_unsigned(&self) -> Vec<u8> {
        Value::Dict(self.outer_dict()).encode()
    }

    /// The canonical encoding, with [`ConfigMessage::signature`] appended if set.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = self.serialize_unsigned();
        if let Some(sig) = &self.signature {
            out.pop();
            append_signature(&mut out, sig);
        }
        out
    }

    /// Signs the unsigned encoding with `signer`, stores the signature and returns the
    /// signed encoding.
    pub fn sign(&mut self, signer: &Ed25519Keypair) -> Vec<u8> {
        let mut out = self.serialize_unsigned();
        out.pop();
        let sig = signer.sign(&out);
        append_signature(&mut out, &sig);
        self.signature = Some(sig);
        out
    }

    /// [`message_hash`] of [`ConfigMessage::serialize`].
    pub fn hash(&self) -> [u8; 32] {
        message_hash(&self.serialize())
    }

    /// Parses strictly with the [`DEFAULT_LAG`]; see [`ConfigMessage::parse_with_lag`].
    pub fn parse(
        serialized: &[u8],
        verify_with: Option<&Ed25519PublicKey>,
    ) -> Result<ParsedConfigMessage> {
        Self::parse_with_lag(serialized, verify_with, DEFAULT_LAG)
    }

    /// Parses a serialized config message strictly: canonical bencode, `"#"` first, `"&"`
    /// present, data/set/diff rules as in the module docs, lagged diffs sorted and older
    /// than `seqno` (rows `≤ seqno − lag` are dropped), a 64-byte `"~"` last if present.
    ///
    /// With `verify_with`, the signature is required and must verify under that key
    /// ([`CryptoError::BadSignature`] otherwise).
    pub fn parse_with_lag(
        serialized: &[u8],
        verify_with: Option<&Ed25519PublicKey>,
        lag: i64,
    ) -> Result<ParsedConfigMessage> {
        if lag < 1 {
            return Err(malformed(format!("lag must be at least 1, got {lag}")));
        }
        let dict = RawDict::parse(serialized).map_err(|e| malformed(e.to_string()))?;
        let entries = dict.entries();
        match entries.first() {
            Some(e) if e.key == b"#" => {}
            _ => return Err(malformed("first key must be \"#\"")),
        }
        let mut msg = Self::new();
        msg.lag = lag;
        let mut has_data = false;
        for entry in entries {
            let bad = |e: session_bt::BtError| {
                malformed(format!("{:?}: {e}", entry.key.escape_ascii().to_string()))
            };
            match entry.key {
                b"#" => msg.seqno = entry.as_int().map_err(bad)?,
                b"&" => {
                    let v = entry.decode().map_err(bad)?;
                    let d = v
                        .as_dict()
                        .ok_or_else(|| malformed("\"&\" is not a dict"))?;
                    msg.data = parse_data_dict(d, true)?;
                    has_data = true;
                }
                b"<" => {
                    let v = entry.decode().map_err(bad)?;
                    msg.lagged_diffs = parse_lagged(&v, msg.seqno, lag)?;
                }
                b"=" => {
                    let v = entry.decode().map_err(bad)?;
                    let d = v
                        .as_dict()
                        .ok_or_else(|| malformed("\"=\" is not a dict"))?;
                    msg.diff = parse_diff(d)?;
                }
                b"~" => {
                    let sig = entry.as_bytes().map_err(bad)?;
                    msg.signature = Some(to_array("config message signature", sig)?);
                }
                key if key > &b"~"[..] => {
                    return Err(malformed("keys after \"~\" are not allowed"));
                }
                key => {
                    msg.unknown
                        .insert(key.to_vec(), entry.decode().map_err(bad)?);
                }
            }
        }
        if !has_data {
            return Err(malformed("\"&\" data dict not found"));
        }
        if let Some(pk) = verify_with {
            verify_config_signature(serialized, pk)?;
        }
        Ok(ParsedConfigMessage {
            message: msg,
            hash: message_hash(serialized),
        })
    }
}

fn append_signature(out: &mut Vec<u8>, sig: &[u8; SIGNATURE_LEN]) {
    session_bt::encode_bytes(b"~", out);
    session_bt::encode_bytes(sig, out);
    out.push(b'e');
}

fn parse_data_dict(d: &BTreeMap<Vec<u8>, Value>, top_level: bool) -> Result<ConfigDict> {
    if !top_level && d.is_empty() {
        return Err(malformed("data contains an empty (unpruned) dict"));
    }
    d.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Int(i) => ConfigValue::Scalar(ConfigScalar::Int(*i)),
                Value::Bytes(b) => ConfigValue::Scalar(ConfigScalar::Bytes(b.clone())),
                Value::Dict(sub) => ConfigValue::Dict(parse_data_dict(sub, false)?),
                Value::List(items) => {
                    if items.is_empty() {
                        return Err(malformed("data contains an empty (unpruned) set"));
                    }
                    ConfigValue::Set(parse_sorted_set(items, "data set")?)
                }
            };
            Ok((k.clone(), value))
        })
        .collect()
}

/// Scalars in strictly ascending canonical order (ints before strings, no duplicates).
fn parse_sorted_set(items: &[Value], what: &str) -> Result<BTreeSet<ConfigScalar>> {
    let mut out = BTreeSet::new();
    let mut last: Option<ConfigScalar> = None;
    for item in items {
        let s = ConfigScalar::from_bt(item)
            .ok_or_else(|| malformed(format!("{what} contains a non-scalar element")))?;
        if last.as_ref().is_some_and(|l| *l >= s) {
            return Err(malformed(format!(
                "{what} is unsorted or has duplicates (ints must precede strings)"
            )));
        }
        last = Some(s.clone());
        out.insert(s);
    }
    Ok(out)
}

fn parse_diff(d: &BTreeMap<Vec<u8>, Value>) -> Result<ConfigDiff> {
    d.iter()
        .map(|(k, v)| {
            let op = match v {
                Value::Bytes(b) if b.is_empty() => DiffOp::Assigned,
                Value::Bytes(b) if b == b"-" => DiffOp::Removed,
                Value::Bytes(_) => return Err(malformed("diff scalar must be \"\" or \"-\"")),
                Value::List(pair) => {
                    let [Value::List(added), Value::List(removed)] = pair.as_slice() else {
                        return Err(malformed("diff set change must be [[added], [removed]]"));
                    };
                    DiffOp::SetChange {
                        added: parse_sorted_set(added, "diff set additions")?,
                        removed: parse_sorted_set(removed, "diff set removals")?,
                    }
                }
                Value::Dict(sub) => DiffOp::Dict(parse_diff(sub)?),
                Value::Int(_) => return Err(malformed("diff contains an integer")),
            };
            Ok((k.clone(), op))
        })
        .collect()
}

fn parse_lagged(v: &Value, seqno: i64, lag: i64) -> Result<BTreeMap<SeqnoHash, ConfigDiff>> {
    let rows = v
        .as_list()
        .ok_or_else(|| malformed("lagged diffs \"<\" is not a list"))?;
    let mut out = BTreeMap::new();
    let mut last: Option<SeqnoHash> = None;
    let oldest_dropped = seqno.saturating_sub(lag);
    for row in rows {
        let row = row
            .as_list()
            .ok_or_else(|| malformed("lagged diff row is not a list"))?;
        let lag_seqno = row
            .first()
            .and_then(Value::as_int)
            .ok_or_else(|| malformed("lagged diff row must start with a seqno"))?;
        if lag_seqno >= seqno {
            return Err(malformed("lagged diff seqno is not older than the message"));
        }
        if lag_seqno <= oldest_dropped {
            continue; // too old to matter, dropped as libsession does
        }
        let [_, Value::Bytes(hash), Value::Dict(diff)] = row else {
            return Err(malformed(
                "lagged diff row must be [seqno, hash, diff dict]",
            ));
        };
        let hash: [u8; 32] = to_array("lagged diff hash", hash)?;
        let key = (lag_seqno, hash);
        if last.is_some_and(|l| l >= key) {
            return Err(malformed("lagged diff rows are unsorted or duplicated"));
        }
        last = Some(key);
        out.insert(key, parse_diff(diff)?);
    }
    Ok(out)
}

/// Signs an already-encoded, unsigned config message (a canonical dict with no key at or
/// after `"~"`): signs everything but the closing `e` and returns
/// `… || "1:~64:" || sig || "e"`.
pub fn sign_config_message(unsigned: &[u8], signer: &Ed25519Keypair) -> Result<Vec<u8>> {
    let dict = RawDict::parse(unsigned).map_err(|e| malformed(e.to_string()))?;
    if dict.entries().iter().any(|e| e.key >= &b"~"[..]) {
        return Err(malformed(
            "message to sign already has a \"~\" (or later) key",
        ));
    }
    let mut out = unsigned[..unsigned.len() - 1].to_vec();
    let sig = signer.sign(&out);
    append_signature(&mut out, &sig);
    Ok(out)
}

/// Verifies the `"~"` signature of a signed config message (or any signed dict using the
/// same rule, like a group keys message): it must be the last entry, 64 bytes, and an
/// Ed25519 signature by `signer` over the encoding before `1:~`.
pub fn verify_config_signature(signed: &[u8], signer: &Ed25519PublicKey) -> Result<()> {
    let dict = RawDict::parse(signed).map_err(|e| malformed(e.to_string()))?;
    let Some(last) = dict.entries().last().filter(|e| e.key == b"~") else {
        return Err(CryptoError::BadSignature {
            what: "signed dict has no \"~\" signature as its last entry",
        });
    };
    let sig = last
        .as_bytes()
        .map_err(|e| malformed(format!("signature: {e}")))?;
    let sig: [u8; SIGNATURE_LEN] = to_array("config message signature", sig)?;
    let signed_part = dict.prefix_before(b"~").unwrap_or_default();
    signer.verify(signed_part, &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_set(items: &[ConfigScalar]) -> ConfigValue {
        ConfigValue::Set(items.iter().cloned().collect())
    }

    #[test]
    fn debug_hides_data() {
        let mut m = ConfigMessage::new();
        m.data
            .insert(b"K".to_vec(), ConfigValue::from("supersecretseed"));
        let text = format!("{m:?} {:?}", m.data);
        assert!(
            !text.contains("supersecret") && !text.contains("115, 117"),
            "{text}"
        );
    }

    #[test]
    fn empty_message_encoding() {
        assert_eq!(
            ConfigMessage::new().serialize(),
            b"d1:#i0e1:&de1:<le1:=dee".to_vec()
        );
    }

    #[test]
    fn prunes_empty_containers_when_encoding() {
        let mut m = ConfigMessage::new();
        m.data
            .insert(b"a".to_vec(), ConfigValue::Set(BTreeSet::new()));
        let mut inner = ConfigDict::new();
        inner.insert(b"x".to_vec(), ConfigValue::Dict(ConfigDict::new()));
        m.data.insert(b"b".to_vec(), ConfigValue::Dict(inner));
        m.data.insert(b"c".to_vec(), 1.into());
        assert_eq!(m.serialize(), b"d1:#i0e1:&d1:ci1ee1:<le1:=dee".to_vec());
    }

    #[test]
    fn rejects_non_canonical_data() {
        for bad in [
            &b"d1:&dee"[..],                 // "#" missing/first key
            b"d1:!i1e1:#i0e1:&dee",          // key before "#"
            b"d1:#i0ee",                     // no data
            b"d1:#i0e1:&d1:ad1:bdeeee",      // empty nested dict
            b"d1:#i0e1:&d1:aleee",           // empty set
            b"d1:#i0e1:&d1:ali2ei1eeee",     // unsorted set
            b"d1:#i0e1:&d1:al1:ai1eeee",     // string before int
            b"d1:#i0e1:&d1:ali1ei1eeee",     // duplicate
            b"d1:#i0e1:&d1:alleeee",         // non-scalar in set
            b"d1:#i0e1:&de1:=d1:a1:xee",     // bad diff scalar
            b"d1:#i0e1:&de1:=d1:ai1eee",     // int in diff
            b"d1:#i0e1:&de1:=d1:alleeee",    // set change without 2 lists
            b"d1:#i1e1:&de1:<li1eee",        // non-list row
            b"d1:#i1e1:&de1:<lli1eeee",      // lagged seqno not older
            b"d1:#i1e1:&de1:<lli0e1:xdeeee", // short hash
            b"d1:#i0e1:&de1:~3:abce",        // short signature
            b"d1:#i0e1:&de1:\x7fi1ee",       // key after "~"
        ] {
            assert!(
                ConfigMessage::parse(bad, None).is_err(),
                "{}",
                bad.escape_ascii()
            );
        }
    }

    #[test]
    fn unknown_keys_survive_in_place() {
        let input = b"d1:#i3e1:$i7e1:&d1:ai1ee1:<le1:=de1:}1:xe";
        let parsed = ConfigMessage::parse(input, None).unwrap();
        assert_eq!(parsed.message.unknown_entries().len(), 2);
        assert_eq!(parsed.message.serialize(), input.to_vec());
        assert_eq!(parsed.hash, message_hash(input));
    }

    #[test]
    fn diff_matches_libsession_rules() {
        let mut old = ConfigDict::new();
        old.insert(b"s".to_vec(), scalar_set(&[1.into(), "a".into()]));
        old.insert(b"x".to_vec(), 1.into());
        old.insert(b"t".to_vec(), 5.into());
        let mut new = ConfigDict::new();
        new.insert(b"s".to_vec(), scalar_set(&[2.into(), "a".into()]));
        new.insert(b"t".to_vec(), scalar_set(&[5.into()]));
        new.insert(b"y".to_vec(), "v".into());
        let d = config_diff(&old, &new);
        assert_eq!(
            diff_to_bt(&d).encode(),
            b"d1:slli2eeli1eee1:tlli5eelee1:x1:-1:y0:e".to_vec()
        );
    }
}
