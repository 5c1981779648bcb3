//! Canonical bencode ("bt"), as Session's formats use it: config messages, group keys and
//! messages, multi-recipient boxes, v4 onion requests, node-to-node data.
//!
//! Encoding is always canonical (dict keys in ascending byte order, shortest integer and
//! length forms). Decoding is strict: anything that is not the one canonical encoding of a
//! value is rejected with the byte offset of the problem, because signatures and hashes are
//! computed over encodings — accepting a second spelling of the same value would let two
//! parties disagree about what was signed.
//!
//! Besides the [`Value`] tree there is a zero-copy [`RawDict`] reader that yields each
//! entry's key and the exact bytes of its value, which is what signature checks over "the
//! encoding up to this key" need.

use std::collections::BTreeMap;

use thiserror::Error;

/// Deepest list/dict nesting accepted; deeper input is rejected instead of risking the stack.
pub const MAX_DEPTH: usize = 64;

/// A bencoded value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// A signed 64-bit integer (`i…e`).
    Int(i64),
    /// A byte string (`len:bytes`).
    Bytes(Vec<u8>),
    /// A list (`l…e`).
    List(Vec<Value>),
    /// A dictionary with byte-string keys, kept sorted (`d…e`).
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a byte string is not canonical bencode.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BtError {
    /// The input ended in the middle of a value.
    #[error("bencode truncated at byte {offset}")]
    Truncated {
        /// Where more input was needed.
        offset: usize,
    },
    /// A byte that cannot start or continue a value here.
    #[error("unexpected byte 0x{byte:02x} at byte {offset}")]
    UnexpectedByte {
        /// The offending byte.
        byte: u8,
        /// Its position.
        offset: usize,
    },
    /// An integer that is empty, has leading zeros, is `-0`, or does not fit in 64 bits.
    #[error("invalid or non-canonical integer at byte {offset}")]
    BadInteger {
        /// Where the integer starts.
        offset: usize,
    },
    /// A string length with leading zeros, or longer than the remaining input.
    #[error("invalid string length at byte {offset}")]
    BadLength {
        /// Where the length starts.
        offset: usize,
    },
    /// Dict keys out of order or repeated.
    #[error("dict keys not in strictly ascending order at byte {offset}")]
    UnsortedKeys {
        /// Where the offending key starts.
        offset: usize,
    },
    /// A dict key that is not a byte string.
    #[error("dict key is not a string at byte {offset}")]
    NonStringKey {
        /// Where the key starts.
        offset: usize,
    },
    /// Bytes left over after the value.
    #[error("{extra} trailing bytes after the value")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep {
        /// Where the limit was hit.
        offset: usize,
    },
    /// The value had a different type than the caller required.
    #[error("expected {expected}")]
    WrongType {
        /// What was expected.
        expected: &'static str,
    },
}

impl Value {
    /// A byte-string value.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(b.into())
    }

    /// An empty dict.
    pub fn dict() -> Self {
        Self::Dict(BTreeMap::new())
    }

    /// Canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(i) => encode_int(*i, out),
            Self::Bytes(b) => encode_bytes(b, out),
            Self::List(items) => {
                out.push(b'l');
                for v in items {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Self::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The bytes, if this is a string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Self::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a dict.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Self::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Dict lookup by key (`None` if not a dict or absent).
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.as_dict().and_then(|d| d.get(key))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Self::List(l)
    }
}

/// Appends `i<n>e`.
pub fn encode_int(i: i64, out: &mut Vec<u8>) {
    out.push(b'i');
    out.extend_from_slice(i.to_string().as_bytes());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one canonical value spanning all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, BtError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(BtError::TrailingBytes {
            extra: input.len() - used,
        });
    }
    Ok(value)
}

/// Decodes one canonical value at the start of `input`; returns it and the bytes used.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), BtError> {
    let mut p = Parser { input, pos: 0 };
    let v = p.value(0)?;
    Ok((v, p.pos))
}

/// Returns the length of the canonical value at the start of `input` without building it.
pub fn value_len(input: &[u8]) -> Result<usize, BtError> {
    let mut p = Parser { input, pos: 0 };
    p.skip(0)?;
    Ok(p.pos)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, BtError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(BtError::Truncated { offset: self.pos })
    }

    fn value(&mut self, depth: usize) -> Result<Value, BtError> {
        if depth > MAX_DEPTH {
            return Err(BtError::TooDeep { offset: self.pos });
        }
        match self.peek()? {
            b'i' => Ok(Value::Int(self.int()?)),
            b'0'..=b'9' => Ok(Value::Bytes(self.string()?.to_vec())),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut map = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.key()?.to_vec();
                    if last.as_ref().is_some_and(|l| *l >= key) {
                        return Err(BtError::UnsortedKeys { offset: key_at });
                    }
                    let v = self.value(depth + 1)?;
                    last = Some(key.clone());
                    map.insert(key, v);
                }
                self.pos += 1;
                Ok(Value::Dict(map))
            }
            byte => Err(BtError::UnexpectedByte {
                byte,
                offset: self.pos,
            }),
        }
    }

    /// Like `value` but only validates and advances.
    fn skip(&mut self, depth: usize) -> Result<(), BtError> {
        if depth > MAX_DEPTH {
            return Err(BtError::TooDeep { offset: self.pos });
        }
        match self.peek()? {
            b'i' => self.int().map(|_| ()),
            b'0'..=b'9' => self.string().map(|_| ()),
            b'l' => {
                self.pos += 1;
                while self.peek()? != b'e' {
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
                Ok(())
            }
            b'd' => {
                self.pos += 1;
                let mut last: Option<&[u8]> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.key()?;
                    if last.is_some_and(|l| l >= key) {
                        return Err(BtError::UnsortedKeys { offset: key_at });
                    }
                    last = Some(key);
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
                Ok(())
            }
            byte => Err(BtError::UnexpectedByte {
                byte,
                offset: self.pos,
            }),
        }
    }

    fn key(&mut self) -> Result<&'a [u8], BtError> {
        match self.peek()? {
            b'0'..=b'9' => self.string(),
            _ => Err(BtError::NonStringKey { offset: self.pos }),
        }
    }

    fn int(&mut self) -> Result<i64, BtError> {
        let start = self.pos;
        self.pos += 1; // 'i'
        let digits_start = self.pos;
        let end = self.input[digits_start..]
            .iter()
            .position(|b| *b == b'e')
            .map(|i| digits_start + i)
            .ok_or(BtError::Truncated {
                offset: self.input.len(),
            })?;
        let text = &self.input[digits_start..end];
        let (neg, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || digits.len() == 1)
            && !(neg && digits == b"0");
        if !canonical {
            return Err(BtError::BadInteger { offset: start });
        }
        let value = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(BtError::BadInteger { offset: start })?;
        self.pos = end + 1;
        Ok(value)
    }

    fn string(&mut self) -> Result<&'a [u8], BtError> {
        let start = self.pos;
        let colon = self.input[start..]
            .iter()
            .position(|b| *b == b':')
            .map(|i| start + i)
            .ok_or(BtError::Truncated {
                offset: self.input.len(),
            })?;
        let digits = &self.input[start..colon];
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits[0] == b'0' && digits.len() > 1)
            || digits.len() > 19
        {
            return Err(BtError::BadLength { offset: start });
        }
        // Checked: 19 digits overflow a 32-bit usize.
        let len = digits
            .iter()
            .try_fold(0usize, |acc, d| {
                acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
            })
            .ok_or(BtError::BadLength { offset: start })?;
        let body = colon + 1;
        if len > self.input.len() - body {
            return Err(BtError::BadLength { offset: start });
        }
        self.pos = body + len;
        Ok(&self.input[body..body + len])
    }
}

/// One entry of a dict read by [`RawDict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEntry<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The exact encoded bytes of the value.
    pub value: &'a [u8],
    /// Offset (within the dict's input) of the first byte of the key's encoding.
    pub key_offset: usize,
}

impl RawEntry<'_> {
    /// Decodes the value.
    pub fn decode(&self) -> Result<Value, BtError> {
        decode(self.value)
    }

    /// The value as a byte string.
    pub fn as_bytes(&self) -> Result<&[u8], BtError> {
        let mut p = Parser {
            input: self.value,
            pos: 0,
        };
        match p.peek()? {
            b'0'..=b'9' => p.string(),
            _ => Err(BtError::WrongType {
                expected: "a byte string",
            }),
        }
    }

    /// The value as an integer.
    pub fn as_int(&self) -> Result<i64, BtError> {
        let mut p = Parser {
            input: self.value,
            pos: 0,
        };
        match p.peek()? {
            b'i' => p.int(),
            _ => Err(BtError::WrongType {
                expected: "an integer",
            }),
        }
    }
}

/// A validated, canonical dict whose entries are read without copying.
#[derive(Debug, Clone)]
pub struct RawDict<'a> {
    input: &'a [u8],
    entries: Vec<RawEntry<'a>>,
}

impl<'a> RawDict<'a> {
    /// Parses `input`, which must be exactly one canonical dict.
    pub fn parse(input: &'a [u8]) -> Result<Self, BtError> {
        let mut p = Parser { input, pos: 0 };
        match p.peek()? {
            b'd' => {}
            _ => return Err(BtError::WrongType { expected: "a dict" }),
        }
        p.pos = 1;
        let mut entries: Vec<RawEntry<'a>> = Vec::new();
        while p.peek()? != b'e' {
            let key_offset = p.pos;
            let key = p.key()?;
            if entries.last().is_some_and(|l| l.key >= key) {
                return Err(BtError::UnsortedKeys { offset: key_offset });
            }
            let value_start = p.pos;
            p.skip(1)?;
            entries.push(RawEntry {
                key,
                value: &input[value_start..p.pos],
                key_offset,
            });
        }
        p.pos += 1;
        if p.pos != input.len() {
            return Err(BtError::TrailingBytes {
                extra: input.len() - p.pos,
            });
        }
        Ok(Self { input, entries })
    }

    /// All entries in key order.
    pub fn entries(&self) -> &[RawEntry<'a>] {
        &self.entries
    }

    /// The entry for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&RawEntry<'a>> {
        self.entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The encoded bytes before `key`'s entry (the signed prefix of a signed dict whose
    /// signature sits under `key`).
    pub fn prefix_before(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.get(key).map(|e| &self.input[..e.key_offset])
    }

    /// The whole input.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.input
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(pairs: &[(&str, Value)]) -> Value {
        Value::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn encodes_canonically() {
        let v = d(&[
            ("b", Value::Int(-5)),
            ("a", Value::List(vec![Value::from("xy"), Value::Int(0)])),
        ]);
        assert_eq!(v.encode(), b"d1:al2:xyi0ee1:bi-5ee");
        assert_eq!(Value::Bytes(vec![]).encode(), b"0:");
        assert_eq!(Value::Int(i64::MIN).encode(), b"i-9223372036854775808e");
    }

    #[test]
    fn rejects_non_canonical() {
        let cases: &[(&[u8], &str)] = &[
            (b"i-0e", "negative zero"),
            (b"i03e", "leading zero"),
            (b"ie", "empty int"),
            (b"i1", "unterminated int"),
            (b"i9223372036854775808e", "int overflow"),
            (b"01:a", "length leading zero"),
            (b"5:ab", "length past end"),
            (b"d1:bi1e1:ai2ee", "unsorted keys"),
            (b"d1:ai1e1:ai2ee", "duplicate keys"),
            (b"di1ei2ee", "int key"),
            (b"l", "unterminated list"),
            (b"i1ei2e", "trailing bytes"),
            (b"x", "bad start byte"),
            (b"", "empty"),
            (b"99999999999999999999:", "huge length"),
        ];
        for (input, why) in cases {
            assert!(decode(input).is_err(), "{why} should be rejected");
            assert!(
                value_len(input).is_err() || *why == "trailing bytes",
                "{why}"
            );
        }
    }

    #[test]
    fn rejects_deep_nesting_without_overflow() {
        let mut input = vec![b'l'; 10_000];
        input.extend(vec![b'e'; 10_000]);
        assert!(matches!(decode(&input), Err(BtError::TooDeep { .. })));
    }

    #[test]
    fn raw_dict_prefix() {
        let input = b"d1:#i1e1:&de1:~3:sige";
        let raw = RawDict::parse(input).unwrap();
        assert_eq!(raw.prefix_before(b"~").unwrap(), b"d1:#i1e1:&de");
        assert_eq!(raw.get(b"~").unwrap().as_bytes().unwrap(), b"sig");
        assert_eq!(raw.get(b"#").unwrap().as_int().unwrap(), 1);
        assert!(raw.get(b"#").unwrap().as_bytes().is_err());
        assert!(RawDict::parse(b"li1ee").is_err());
        assert!(RawDict::parse(b"d1:ai1eex").is_err());
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..6),
                    inner,
                    0..6
                )
                .prop_map(Value::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(v in arb_value()) {
            let enc = v.encode();
            prop_assert_eq!(decode(&enc).unwrap(), v);
            prop_assert_eq!(value_len(&enc).unwrap(), enc.len());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Whatever decodes must re-encode to the same bytes (canonical = unique).
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(v.encode(), bytes);
            }
        }
    }
}
