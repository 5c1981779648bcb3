//! Storage-node formats that are not requests: the message hash (storage-node §5.1), the
//! node-to-node bulk transfer format `sn.data` (§5.7) and monitor notifications (§2.15).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use session_bt::{RawDict, Value as Bt};
use session_crypto::hash::blake2b;

use crate::error::WireError;

/// An account as the storage node sees it: one network prefix byte and 32 key bytes.
/// Unlike `session_crypto::AccountId` any prefix byte is allowed (nodes store for any
/// prefix; the same key under two prefixes is two accounts).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoragePubkey {
    /// The network prefix byte (`0x05` Session ID, `0x03` group, …).
    pub prefix: u8,
    /// The 32 key bytes.
    pub key: [u8; 32],
}

impl StoragePubkey {
    /// From the 33 prefixed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let bad = || {
            WireError::bad_field(
                "account",
                "pubkey",
                format!("{} bytes, not 33", bytes.len()),
            )
        };
        let (&prefix, key) = bytes.split_first().ok_or_else(bad)?;
        let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
        Ok(Self { prefix, key })
    }

    /// From 66 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, WireError> {
        let mut bytes = [0u8; 33];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| {
            WireError::bad_field("account", "pubkey", format!("not 66 hex characters: {e}"))
        })?;
        Self::from_bytes(&bytes)
    }

    /// The 33 prefixed bytes.
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = self.prefix;
        out[1..].copy_from_slice(&self.key);
        out
    }

    /// 66 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The same account as a typed `AccountId`, if its prefix is one `session_crypto`
    /// knows (`00`, `03`, `05`, `07`, `15`, `25`).
    pub fn to_account_id(&self) -> Option<session_crypto::AccountId> {
        session_crypto::AccountId::from_bytes(&self.to_bytes()).ok()
    }
}

impl fmt::Display for StoragePubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for StoragePubkey {
    type Err = WireError;

    fn from_str(text: &str) -> Result<Self, WireError> {
        Self::from_hex(text)
    }
}

impl fmt::Debug for StoragePubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoragePubkey({})", self.to_hex())
    }
}

impl From<session_crypto::AccountId> for StoragePubkey {
    fn from(id: session_crypto::AccountId) -> Self {
        Self {
            prefix: id.prefix().byte(),
            key: *id.key(),
        }
    }
}

/// The namespace as it appears in hashes and signed strings: `""` for namespace 0,
/// otherwise the signed decimal (`"-10"`, `"42"`).
pub fn namespace_str(namespace: i16) -> String {
    if namespace == 0 {
        String::new()
    } else {
        namespace.to_string()
    }
}

/// BLAKE2b-256 of `prefix || key || namespace_str || data` (storage-node §5.1).
pub fn message_hash_digest(pubkey: &StoragePubkey, namespace: i16, data: &[u8]) -> [u8; 32] {
    blake2b::<32>(&[
        &[pubkey.prefix],
        &pubkey.key,
        namespace_str(namespace).as_bytes(),
        data,
    ])
}

/// The message hash: unpadded standard base64 of [`message_hash_digest`], always 43
/// characters. Timestamps and expiries are not hashed.
pub fn message_hash(pubkey: &StoragePubkey, namespace: i16, data: &[u8]) -> String {
    STANDARD_NO_PAD.encode(message_hash_digest(pubkey, namespace, data))
}

/// Whether `text` has the shape of a message hash: exactly 43 characters of the standard
/// base64 alphabet (storage-node §2.1).
pub fn is_valid_message_hash(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

// ---------------------------------------------------------------------------------------
// Bulk transfer (sn.data)
// ---------------------------------------------------------------------------------------

/// Version byte of the bt-based bulk format.
pub const BULK_VERSION: u8 = 0x01;

/// Batches are cut so that no batch exceeds this many bytes (storage-node §5.7).
pub const BULK_BATCH_LIMIT: usize = 9_000_000;

/// Largest bulk payload [`parse_bulk`] accepts: 10 MiB, the OxenMQ message limit.
pub const MAX_BULK_SIZE: usize = 10 * 1024 * 1024;

/// One message in a bulk transfer: bt list `[pubkey33, hash, timestamp, expiry, data]`
/// plus, since storage server 2.11.3, `namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkMessage {
    /// The owning account.
    pub pubkey: StoragePubkey,
    /// The message hash string as stored (normally 43 base64 characters; kept as bytes
    /// because the format does not constrain it).
    pub hash: Vec<u8>,
    /// Store timestamp, ms.
    pub timestamp_ms: i64,
    /// Expiry, ms.
    pub expiry_ms: i64,
    /// The message data.
    pub data: Vec<u8>,
    /// The namespace (6-element items); `None` for the 5-element pre-2.11.3 items, which
    /// receivers file under namespace 0.
    pub namespace: Option<i16>,
}

impl BulkMessage {
    /// The namespace to store under (0 for old 5-element items).
    pub fn namespace_or_default(&self) -> i16 {
        self.namespace.unwrap_or(0)
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(b'l');
        session_bt::encode_bytes(&self.pubkey.to_bytes(), out);
        session_bt::encode_bytes(&self.hash, out);
        session_bt::encode_int(self.timestamp_ms, out);
        session_bt::encode_int(self.expiry_ms, out);
        session_bt::encode_bytes(&self.data, out);
        if let Some(ns) = self.namespace {
            session_bt::encode_int(i64::from(ns), out);
        }
        out.push(b'e');
    }

    /// Bytes this item takes inside a batch.
    fn encoded_len(&self) -> usize {
        fn digits(n: u64) -> usize {
            n.checked_ilog10().map_or(1, |d| d as usize + 1)
        }
        fn str_len(len: usize) -> usize {
            digits(len as u64) + 1 + len
        }
        fn int_len(i: i64) -> usize {
            2 + usize::from(i < 0) + digits(i.unsigned_abs())
        }
        2 + str_len(33)
            + str_len(self.hash.len())
            + int_len(self.timestamp_ms)
            + int_len(self.expiry_ms)
            + str_len(self.data.len())
            + self.namespace.map_or(0, |ns| int_len(i64::from(ns)))
    }
}

/// Serializes messages into `sn.data` payloads (`0x01` + bt list of items), starting a new
/// batch whenever the next item would push the current one past [`BULK_BATCH_LIMIT`]
/// bytes. Always returns at least one batch (an empty list for no messages).
pub fn serialize_bulk(messages: &[BulkMessage]) -> Vec<Vec<u8>> {
    serialize_bulk_with_limit(messages, BULK_BATCH_LIMIT)
}

/// [`serialize_bulk`] with an explicit batch size limit. An item too large for any batch
/// gets a batch of its own.
pub fn serialize_bulk_with_limit(messages: &[BulkMessage], limit: usize) -> Vec<Vec<u8>> {
    let mut batches = Vec::new();
    let mut current = vec![BULK_VERSION, b'l'];
    let mut items = 0usize;
    for m in messages {
        let len = m.encoded_len();
        // `+ 1` for the list's closing 'e'.
        if items > 0 && current.len() + len + 1 > limit {
            current.push(b'e');
            batches.push(std::mem::replace(&mut current, vec![BULK_VERSION, b'l']));
            items = 0;
        }
        m.encode_into(&mut current);
        items += 1;
    }
    current.push(b'e');
    batches.push(current);
    batches
}

/// Parses one `sn.data` payload. Requires the `0x01` version byte followed by exactly one
/// canonical bt list whose items are 5- or 6-element lists
/// `[33-byte pubkey, hash, timestamp, expiry, data(, namespace)]`.
pub fn parse_bulk(input: &[u8]) -> Result<Vec<BulkMessage>, WireError> {
    const WHAT: &str = "sn.data";
    const SHAPE: &str = "a list of [pubkey(33), hash, timestamp, expiry, data(, namespace)] lists";
    if input.len() > MAX_BULK_SIZE {
        return Err(WireError::TooLarge {
            what: WHAT,
            size: input.len(),
            max: MAX_BULK_SIZE,
        });
    }
    let Some((&version, rest)) = input.split_first() else {
        return Err(WireError::Truncated {
            what: WHAT,
            needed: 1,
            available: 0,
        });
    };
    if version != BULK_VERSION {
        return Err(WireError::UnsupportedVersion {
            what: WHAT,
            version,
        });
    }
    let Bt::List(items) = session_bt::decode(rest).map_err(WireError::bt(WHAT))? else {
        return Err(WireError::WrongShape {
            what: WHAT,
            expected: SHAPE,
        });
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Bt::List(fields) = item else {
            return Err(WireError::WrongShape {
                what: WHAT,
                expected: SHAPE,
            });
        };
        let mut fields = fields.into_iter();
        let (
            Some(Bt::Bytes(pubkey)),
            Some(Bt::Bytes(hash)),
            Some(Bt::Int(timestamp_ms)),
            Some(Bt::Int(expiry_ms)),
            Some(Bt::Bytes(data)),
            namespace,
            None,
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            return Err(WireError::WrongShape {
                what: WHAT,
                expected: SHAPE,
            });
        };
        let namespace = match namespace {
            None => None,
            Some(Bt::Int(ns)) => Some(i16::try_from(ns).map_err(|_| {
                WireError::bad_field(WHAT, "namespace", format!("{ns} is outside -32768..=32767"))
            })?),
            Some(_) => {
                return Err(WireError::WrongShape {
                    what: WHAT,
                    expected: SHAPE,
                });
            }
        };
        out.push(BulkMessage {
            pubkey: StoragePubkey::from_bytes(&pubkey)?,
            hash,
            timestamp_ms,
            expiry_ms,
            data,
            namespace,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Monitor notifications
// ---------------------------------------------------------------------------------------

/// Largest notification [`MonitorNotification::parse`] accepts (10 MiB).
pub const MAX_NOTIFICATION_SIZE: usize = 10 * 1024 * 1024;

/// A new-message notification to monitor subscribers (OxenMQ `notify.message`, QUIC
/// `notify`): bt dict `{"@": account, "h": hash, "n": namespace, "t": timestamp ms,
/// "z": expiry ms, "~": data (only if the subscriber asked for data)}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorNotification {
    /// The account (33 bytes on the wire).
    pub account: StoragePubkey,
    /// The message hash.
    pub hash: String,
    /// The namespace.
    pub namespace: i16,
    /// Store timestamp, ms.
    pub timestamp_ms: i64,
    /// Expiry, ms.
    pub expiry_ms: i64,
    /// The message data, if requested.
    pub data: Option<Vec<u8>>,
}

impl MonitorNotification {
    /// Canonical bencoding (keys `@ h n t z ~` in byte order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.data.as_ref().map_or(0, Vec::len));
        out.push(b'd');
        session_bt::encode_bytes(b"@", &mut out);
        session_bt::encode_bytes(&self.account.to_bytes(), &mut out);
        session_bt::encode_bytes(b"h", &mut out);
        session_bt::encode_bytes(self.hash.as_bytes(), &mut out);
        session_bt::encode_bytes(b"n", &mut out);
        session_bt::encode_int(i64::from(self.namespace), &mut out);
        session_bt::encode_bytes(b"t", &mut out);
        session_bt::encode_int(self.timestamp_ms, &mut out);
        session_bt::encode_bytes(b"z", &mut out);
        session_bt::encode_int(self.expiry_ms, &mut out);
        if let Some(data) = &self.data {
            session_bt::encode_bytes(b"~", &mut out);
            session_bt::encode_bytes(data, &mut out);
        }
        out.push(b'e');
        out
    }

    /// Parses a notification; every key but `~` is required, unknown keys are ignored.
    pub fn parse(input: &[u8]) -> Result<Self, WireError> {
        const WHAT: &str = "monitor notification";
        if input.len() > MAX_NOTIFICATION_SIZE {
            return Err(WireError::TooLarge {
                what: WHAT,
                size: input.len(),
                max: MAX_NOTIFICATION_SIZE,
            });
        }
        let dict = RawDict::parse(input).map_err(WireError::bt(WHAT))?;
        let entry = |field: &'static str| {
            dict.get(field.as_bytes())
                .ok_or(WireError::MissingField { what: WHAT, field })
        };
        let bytes = |field: &'static str| -> Result<&[u8], WireError> {
            entry(field)?.as_bytes().map_err(WireError::bt(WHAT))
        };
        let int = |field: &'static str| -> Result<i64, WireError> {
            entry(field)?.as_int().map_err(WireError::bt(WHAT))
        };
        let account = StoragePubkey::from_bytes(bytes("@")?)?;
        let hash = String::from_utf8(bytes("h")?.to_vec())
            .map_err(|_| WireError::bad_field(WHAT, "h", "not UTF-8"))?;
        let ns = int("n")?;
        let namespace = i16::try_from(ns).map_err(|_| {
            WireError::bad_field(WHAT, "n", format!("{ns} is outside -32768..=32767"))
        })?;
        let data = match dict.get(b"~") {
            None => None,
            Some(e) => Some(e.as_bytes().map_err(WireError::bt(WHAT))?.to_vec()),
        };
        Ok(Self {
            account,
            hash,
            namespace,
            timestamp_ms: int("t")?,
            expiry_ms: int("z")?,
            data,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Monitor subscriptions
// ---------------------------------------------------------------------------------------

/// The account a monitor subscription is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorAccount {
    /// `P`: a Session ID, given by its 32-byte Ed25519 key (the account is
    /// `05 || X25519(P)`).
    SessionEd25519([u8; 32]),
    /// `p`: any other account, by its 33 prefixed bytes.
    Prefixed(StoragePubkey),
}

/// Subaccount authentication of a monitor subscription (`T` token and `S` owner
/// signature of the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonitorSubaccount {
    /// `T`: the 36-byte subaccount token.
    pub token: [u8; 36],
    /// `S`: the account owner's signature over the token.
    pub signature: [u8; 64],
}

/// One monitor subscription (OxenMQ `monitor.messages`, QUIC `monitor`; storage-node
/// §2.15): bt dict `{P|p, S+T?, d?, n, s, t}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSubscription {
    /// `P` or `p`.
    pub account: MonitorAccount,
    /// `S` + `T`, for subaccount (group member) subscriptions.
    pub subaccount: Option<MonitorSubaccount>,
    /// `d`: include message data in notifications.
    pub with_data: bool,
    /// `n`: the namespaces, strictly ascending.
    pub namespaces: Vec<i16>,
    /// `s`: Ed25519 signature over [`MonitorSubscription::signed_message`].
    pub signature: [u8; 64],
    /// `t`: signature timestamp in **seconds** (bencode integers are signed 64-bit, so
    /// values above `i64::MAX` encode as `i64::MAX`).
    pub timestamp_s: u64,
}

impl MonitorSubscription {
    /// Canonical bencoding (keys `P S T d n p s t` in byte order; `d` only when set).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(b'd');
        let entry = |key: &[u8], value: &[u8], out: &mut Vec<u8>| {
            session_bt::encode_bytes(key, out);
            session_bt::encode_bytes(value, out);
        };
        if let MonitorAccount::SessionEd25519(pk) = &self.account {
            entry(b"P", pk, &mut out);
        }
        if let Some(sub) = &self.subaccount {
            entry(b"S", &sub.signature, &mut out);
            entry(b"T", &sub.token, &mut out);
        }
        if self.with_data {
            session_bt::encode_bytes(b"d", &mut out);
            session_bt::encode_int(1, &mut out);
        }
        session_bt::encode_bytes(b"n", &mut out);
        out.push(b'l');
        for ns in &self.namespaces {
            session_bt::encode_int(i64::from(*ns), &mut out);
        }
        out.push(b'e');
        if let MonitorAccount::Prefixed(pk) = &self.account {
            entry(b"p", &pk.to_bytes(), &mut out);
        }
        entry(b"s", &self.signature, &mut out);
        session_bt::encode_bytes(b"t", &mut out);
        session_bt::encode_int(
            i64::try_from(self.timestamp_s).unwrap_or(i64::MAX),
            &mut out,
        );
        out.push(b'e');
        out
    }

    /// Parses one subscription dict. Exactly one of `P` (32 bytes) / `p` (33 bytes); `S`
    /// (64 bytes) and `T` (36 bytes) together or not at all; `d` 0 or 1 (default 0); `n` a
    /// non-empty, strictly ascending list of namespaces; `s` 64 bytes; `t` a non-negative
    /// integer. Unknown keys are ignored.
    pub fn parse(input: &[u8]) -> Result<Self, WireError> {
        if input.len() > MAX_NOTIFICATION_SIZE {
            return Err(WireError::TooLarge {
                what: MONITOR_WHAT,
                size: input.len(),
                max: MAX_NOTIFICATION_SIZE,
            });
        }
        Self::from_value(&session_bt::decode(input).map_err(WireError::bt(MONITOR_WHAT))?)
    }

    /// Parses a monitor request body, which is one subscription dict or a list of them.
    /// The outer result fails only if the body is not bencode of that shape; each
    /// subscription then parses (or fails) on its own, as each gets its own reply.
    pub fn parse_request(input: &[u8]) -> Result<Vec<Result<Self, WireError>>, WireError> {
        if input.len() > MAX_NOTIFICATION_SIZE {
            return Err(WireError::TooLarge {
                what: MONITOR_WHAT,
                size: input.len(),
                max: MAX_NOTIFICATION_SIZE,
            });
        }
        match session_bt::decode(input).map_err(WireError::bt(MONITOR_WHAT))? {
            v @ Bt::Dict(_) => Ok(vec![Self::from_value(&v)]),
            Bt::List(items) => Ok(items.iter().map(Self::from_value).collect()),
            _ => Err(WireError::WrongShape {
                what: MONITOR_WHAT,
                expected: "a dict or a list of dicts",
            }),
        }
    }

    /// Reads one subscription from a decoded bt value.
    pub fn from_value(value: &Bt) -> Result<Self, WireError> {
        const WHAT: &str = MONITOR_WHAT;
        let Bt::Dict(dict) = value else {
            return Err(WireError::WrongShape {
                what: WHAT,
                expected: "a dict",
            });
        };
        let bytes = |field: &'static str| -> Result<Option<&[u8]>, WireError> {
            match dict.get(field.as_bytes()) {
                None => Ok(None),
                Some(Bt::Bytes(b)) => Ok(Some(b)),
                Some(_) => Err(WireError::bad_field(WHAT, field, "not a byte string")),
            }
        };
        fn fixed<const N: usize>(field: &'static str, b: &[u8]) -> Result<[u8; N], WireError> {
            b.try_into().map_err(|_| {
                WireError::bad_field(WHAT, field, format!("{} bytes, not {N}", b.len()))
            })
        }
        let int = |field: &'static str| -> Result<Option<i64>, WireError> {
            match dict.get(field.as_bytes()) {
                None => Ok(None),
                Some(Bt::Int(i)) => Ok(Some(*i)),
                Some(_) => Err(WireError::bad_field(WHAT, field, "not an integer")),
            }
        };
        let account = match (bytes("P")?, bytes("p")?) {
            (Some(pk), None) => MonitorAccount::SessionEd25519(fixed("P", pk)?),
            (None, Some(pk)) => MonitorAccount::Prefixed(StoragePubkey::from_bytes(pk)?),
            (Some(_), Some(_)) => {
                return Err(WireError::bad_field(
                    WHAT,
                    "P",
                    "P and p are mutually exclusive",
                ));
            }
            (None, None) => {
                return Err(WireError::MissingField {
                    what: WHAT,
                    field: "P",
                });
            }
        };
        let subaccount = match (bytes("S")?, bytes("T")?) {
            (Some(sig), Some(token)) => Some(MonitorSubaccount {
                token: fixed("T", token)?,
                signature: fixed("S", sig)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(WireError::MissingField {
                    what: WHAT,
                    field: "T",
                });
            }
            (None, Some(_)) => {
                return Err(WireError::MissingField {
                    what: WHAT,
                    field: "S",
                });
            }
        };
        let with_data = match int("d")? {
            None | Some(0) => false,
            Some(1) => true,
            Some(other) => {
                return Err(WireError::bad_field(
                    WHAT,
                    "d",
                    format!("{other} is not 0 or 1"),
                ));
            }
        };
        let Some(Bt::List(ns_list)) = dict.get(b"n".as_slice()) else {
            return match dict.get(b"n".as_slice()) {
                None => Err(WireError::MissingField {
                    what: WHAT,
                    field: "n",
                }),
                Some(_) => Err(WireError::bad_field(WHAT, "n", "not a list")),
            };
        };
        let mut namespaces = Vec::with_capacity(ns_list.len());
        for v in ns_list {
            let ns = v
                .as_int()
                .and_then(|i| i16::try_from(i).ok())
                .ok_or_else(|| WireError::bad_field(WHAT, "n", "not a list of namespaces"))?;
            if namespaces.last().is_some_and(|last| *last >= ns) {
                return Err(WireError::bad_field(
                    WHAT,
                    "n",
                    "namespaces not strictly ascending",
                ));
            }
            namespaces.push(ns);
        }
        if namespaces.is_empty() {
            return Err(WireError::bad_field(WHAT, "n", "no namespaces"));
        }
        let signature = fixed(
            "s",
            bytes("s")?.ok_or(WireError::MissingField {
                what: WHAT,
                field: "s",
            })?,
        )?;
        let t = int("t")?.ok_or(WireError::MissingField {
            what: WHAT,
            field: "t",
        })?;
        let timestamp_s = u64::try_from(t)
            .map_err(|_| WireError::bad_field(WHAT, "t", format!("{t} is negative")))?;
        Ok(Self {
            account,
            subaccount,
            with_data,
            namespaces,
            signature,
            timestamp_s,
        })
    }

    /// The account whose hex goes into the signed string: `p` as given, or for `P` the
    /// Session ID `05 || X25519(P)` (fails if `P` is not a valid Ed25519 point).
    pub fn signed_account(&self) -> Result<StoragePubkey, WireError> {
        match self.account {
            MonitorAccount::Prefixed(pk) => Ok(pk),
            MonitorAccount::SessionEd25519(ed) => {
                let key = session_crypto::Ed25519PublicKey(ed)
                    .to_x25519()
                    .map_err(|e| WireError::bad_field(MONITOR_WHAT, "P", e.to_string()))?;
                Ok(StoragePubkey { prefix: 0x05, key })
            }
        }
    }

    /// The bytes `s` signs: `"MONITOR" || account hex || t || d || namespaces joined by
    /// ","` (see [`crate::request_sig::monitor`]).
    pub fn signed_message(&self) -> Result<Vec<u8>, WireError> {
        Ok(crate::request_sig::monitor(
            &self.signed_account()?,
            self.timestamp_s,
            self.with_data,
            &self.namespaces,
        ))
    }
}

const MONITOR_WHAT: &str = "monitor subscription";
