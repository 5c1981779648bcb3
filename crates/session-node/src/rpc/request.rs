//! Client requests and their parsing from JSON `params`, field by field in the
//! reference's order so that the first error reported is the reference's (spec §2).

use serde_json::{Map, Value};

use super::params::{Params, decode_base64, is_base64};
use crate::error::{NodeError, Result};
use crate::limits::{BATCH_MAX, MAX_MESSAGE_BODY, MAX_SUBACCOUNT_TOKENS};
use crate::types::{
    Namespace, NsSelector, SUBACCOUNT_TOKEN_LEN, SignedSubaccount, SubaccountToken, UserPubkey,
    is_valid_message_hash,
};

/// The client methods, by wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Store,
    Retrieve,
    Delete,
    DeleteAll,
    DeleteBefore,
    ExpireAll,
    Expire,
    GetExpiries,
    GetSwarm,
    Info,
    OxendRequest,
    RevokeSubaccount,
    UnrevokeSubaccount,
    Batch,
    Sequence,
    IfElse,
}

impl Method {
    /// Looks a method up by its wire name (aliases included).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "store" => Self::Store,
            "retrieve" => Self::Retrieve,
            "delete" => Self::Delete,
            "delete_all" => Self::DeleteAll,
            "delete_before" => Self::DeleteBefore,
            "expire_all" => Self::ExpireAll,
            "expire" => Self::Expire,
            "get_expiries" => Self::GetExpiries,
            "get_swarm" | "get_snodes_for_pubkey" => Self::GetSwarm,
            "info" => Self::Info,
            "oxend_request" => Self::OxendRequest,
            "revoke_subaccount" => Self::RevokeSubaccount,
            "unrevoke_subaccount" => Self::UnrevokeSubaccount,
            "batch" => Self::Batch,
            "sequence" => Self::Sequence,
            "ifelse" => Self::IfElse,
            _ => return None,
        })
    }

    /// The method's wire name (the canonical one for aliases).
    pub fn name(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Retrieve => "retrieve",
            Self::Delete => "delete",
            Self::DeleteAll => "delete_all",
            Self::DeleteBefore => "delete_before",
            Self::ExpireAll => "expire_all",
            Self::Expire => "expire",
            Self::GetExpiries => "get_expiries",
            Self::GetSwarm => "get_swarm",
            Self::Info => "info",
            Self::OxendRequest => "oxend_request",
            Self::RevokeSubaccount => "revoke_subaccount",
            Self::UnrevokeSubaccount => "unrevoke_subaccount",
            Self::Batch => "batch",
            Self::Sequence => "sequence",
            Self::IfElse => "ifelse",
        }
    }

    /// Whether the method is recursive (storage-node §2.3): a write every member of the
    /// owning swarm applies, so the entry node forwards it to its swarm peers.
    pub fn is_recursive(self) -> bool {
        matches!(
            self,
            Self::Store
                | Self::Delete
                | Self::DeleteAll
                | Self::DeleteBefore
                | Self::Expire
                | Self::ExpireAll
                | Self::RevokeSubaccount
                | Self::UnrevokeSubaccount
        )
    }

    fn is_meta(self) -> bool {
        matches!(self, Self::Batch | Self::Sequence | Self::IfElse)
    }
}

/// Request authentication: the signature, the optional Ed25519 key of a 05 account and
/// an optional subaccount.
#[derive(Clone, Debug)]
pub struct Auth {
    /// The request signature.
    pub signature: [u8; 64],
    /// For 05 accounts: the Ed25519 key behind the X25519 Session ID.
    pub pubkey_ed25519: Option<[u8; 32]>,
    /// Subaccount token and owner signature.
    pub subaccount: Option<SignedSubaccount>,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub pubkey: UserPubkey,
    pub namespace: Namespace,
    pub timestamp: i64,
    pub expiry: i64,
    pub data: Vec<u8>,
    pub auth: Option<Auth>,
    pub sig_timestamp: i64,
}

#[derive(Clone, Debug)]
pub struct Retrieve {
    pub pubkey: UserPubkey,
    pub namespace: Namespace,
    pub last_hash: Option<String>,
    pub max_count: Option<i64>,
    pub max_size: Option<i64>,
    /// `Some((auth, timestamp))` when signature checking is active.
    pub auth: Option<(Auth, i64)>,
}

#[derive(Clone, Debug)]
pub struct Delete {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub messages: Vec<String>,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub struct DeleteAll {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub namespace: NsSelector,
    pub timestamp: i64,
}

#[derive(Clone, Debug)]
pub struct DeleteBefore {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub namespace: NsSelector,
    pub before: i64,
}

#[derive(Clone, Debug)]
pub struct ExpireAll {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub namespace: NsSelector,
    pub expiry: i64,
}

#[derive(Clone, Debug)]
pub struct Expire {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub messages: Vec<String>,
    pub expiry: Vec<i64>,
    pub shorten: bool,
    pub extend: bool,
}

#[derive(Clone, Debug)]
pub struct GetExpiries {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub messages: Vec<String>,
    pub timestamp: i64,
}

#[derive(Clone, Debug)]
pub struct Revocation {
    pub pubkey: UserPubkey,
    pub auth: Auth,
    pub tokens: Vec<SubaccountToken>,
    pub timestamp: i64,
}

/// An `ifelse` condition (all given bounds must hold).
#[derive(Clone, Debug, Default)]
pub struct Condition {
    pub height_at_least: Option<i64>,
    pub height_before: Option<i64>,
    pub hf_at_least: Option<[i64; 2]>,
    pub hf_before: Option<[i64; 2]>,
    pub v_at_least: Option<[i64; 3]>,
    pub v_before: Option<[i64; 3]>,
}

#[derive(Clone, Debug)]
pub struct IfElse {
    pub condition: Condition,
    pub then: Option<Request>,
    pub otherwise: Option<Request>,
}

/// The registry (oxend) endpoints a client may reach through `oxend_request`
/// (storage-node §2.13): only these two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OxendEndpoint {
    /// `get_service_nodes`: the node list (clients refresh their directory with it).
    GetServiceNodes,
    /// `ons_resolve`: a Session name lookup.
    OnsResolve,
}

impl OxendEndpoint {
    /// The endpoint's name, which is also the registry's JSON-RPC method.
    pub fn name(self) -> &'static str {
        match self {
            Self::GetServiceNodes => "get_service_nodes",
            Self::OnsResolve => "ons_resolve",
        }
    }
}

/// An `oxend_request`: the endpoint and its params object.
#[derive(Clone, Debug)]
pub struct OxendCall {
    /// Which endpoint.
    pub endpoint: OxendEndpoint,
    /// Its params (an empty object when absent).
    pub params: Value,
}

/// A parsed client request.
#[derive(Clone, Debug)]
pub enum Request {
    Store(Store),
    Retrieve(Retrieve),
    Delete(Delete),
    DeleteAll(DeleteAll),
    DeleteBefore(DeleteBefore),
    ExpireAll(ExpireAll),
    Expire(Expire),
    GetExpiries(GetExpiries),
    GetSwarm(UserPubkey),
    Info,
    OxendRequest(OxendCall),
    Revoke(Revocation),
    Unrevoke(Revocation),
    Batch(Vec<Request>),
    Sequence(Vec<Request>),
    IfElse(Box<IfElse>),
    /// A recursive method with the client's original params, which are forwarded
    /// verbatim to the swarm peers (so the client signature verifies there too).
    Recursive(Box<RecursiveRequest>),
}

/// A recursive (swarm-wide) request: the parsed request plus what forwarding needs.
#[derive(Clone, Debug)]
pub struct RecursiveRequest {
    /// The method.
    pub method: Method,
    /// The account the write is for.
    pub account: UserPubkey,
    /// The client's params object, as received.
    pub params: Map<String, Value>,
    /// The parsed request (never itself `Recursive`).
    pub inner: Request,
}

fn required<T>(name: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| NodeError::invalid(format!("Required field '{name}' missing")))
}

/// `pubkey` with its alias `pubKey`: exactly one must be given.
fn aliased<'a>(p: &Params<'a>) -> Result<(Option<&'a str>, Option<&'a str>)> {
    // Field order: "pubKey" sorts before "pubkey".
    let alt = p.str("pubKey")?;
    let main = p.str("pubkey")?;
    Ok((main, alt))
}

fn exactly_one_pubkey<'a>(main: Option<&'a str>, alt: Option<&'a str>) -> Result<&'a str> {
    match (main, alt) {
        (Some(_), Some(_)) => Err(NodeError::invalid(
            "Cannot specify both 'pubkey' and 'pubKey'",
        )),
        (Some(pk), None) | (None, Some(pk)) => Ok(pk),
        (None, None) => Err(NodeError::invalid("Required field 'pubkey' missing")),
    }
}

fn load_pk(pk: Option<&str>) -> Result<UserPubkey> {
    let pk = required("pubkey", pk)?;
    UserPubkey::from_hex(pk)
        .ok_or_else(|| NodeError::invalid("Pubkey must be 66 hex digits (33 bytes) long"))
}

fn parse_sig(sig: &str, what: &str) -> Result<[u8; 64]> {
    let ok_shape = is_base64(sig) && (sig.len() == 86 || (sig.len() == 88 && sig.ends_with("==")));
    ok_shape
        .then(|| decode_base64(sig))
        .flatten()
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            NodeError::invalid(format!("{what}: expected base64 encoded Ed25519 signature"))
        })
}

/// The authentication fields of a signed request, read in the reference's order
/// (`pubkey`, `pubkey_ed25519`, `signature`, `subaccount`, `subaccount_sig`) so that a
/// wrongly typed field is reported exactly where the reference reports it.
struct AuthFields<'a> {
    pk: Option<&'a str>,
    pk_ed: Option<&'a str>,
    sig: Option<&'a str>,
    sub: Option<&'a str>,
    sub_sig: Option<&'a str>,
}

impl<'a> AuthFields<'a> {
    fn read(p: &Params<'a>) -> Result<Self> {
        Ok(Self {
            pk: p.str("pubkey")?,
            pk_ed: p.str("pubkey_ed25519")?,
            sig: p.str("signature")?,
            sub: p.str("subaccount")?,
            sub_sig: p.str("subaccount_sig")?,
        })
    }

    /// The reference's `load_pk_signature` followed by its subaccount loading.
    fn load(self) -> Result<(UserPubkey, Auth)> {
        let (pubkey, mut auth) = load_pk_signature(self.pk, self.pk_ed, self.sig)?;
        load_subaccount(&mut auth, self.sub, self.sub_sig)?;
        Ok((pubkey, auth))
    }
}

/// The reference's `load_pk_signature`: parses the pubkey, requires `signature`, checks
/// `pubkey_ed25519` (05 accounts only) and the signature's encoding.
fn load_pk_signature(
    pk: Option<&str>,
    pk_ed: Option<&str>,
    sig: Option<&str>,
) -> Result<(UserPubkey, Auth)> {
    let pubkey = load_pk(pk)?;
    let sig = required("signature", sig)?;
    let pubkey_ed25519 = match pk_ed {
        None => None,
        Some(ed) => {
            if pubkey.prefix() != 0x05 {
                return Err(NodeError::invalid(
                    "pubkey_ed25519 is only permitted for 05[...] pubkeys",
                ));
            }
            if ed.len() == 64 {
                let b = hex::decode(ed)
                    .map_err(|_| NodeError::invalid("invalid pubkey_ed25519: value is not hex"))?;
                Some(
                    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| {
                        NodeError::invalid("invalid pubkey_ed25519: value is not hex")
                    })?,
                )
            } else if ed.len() == 32 {
                let mut k = [0u8; 32];
                k.copy_from_slice(ed.as_bytes());
                Some(k)
            } else {
                return Err(NodeError::invalid(
                    "Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey",
                ));
            }
        }
    };
    let signature = parse_sig(sig, "invalid signature")?;
    Ok((
        pubkey,
        Auth {
            signature,
            pubkey_ed25519,
            subaccount: None,
        },
    ))
}

fn parse_token(s: &str) -> Option<SubaccountToken> {
    let bytes = if s.len() == SUBACCOUNT_TOKEN_LEN * 4 / 3 && is_base64(s) {
        decode_base64(s)?
    } else if s.len() == SUBACCOUNT_TOKEN_LEN * 2 {
        hex::decode(s).ok()?
    } else {
        return None;
    };
    <[u8; SUBACCOUNT_TOKEN_LEN]>::try_from(bytes.as_slice())
        .ok()
        .map(SubaccountToken)
}

/// The reference's `load_subaccount` (an empty `subaccount` means none).
fn load_subaccount(auth: &mut Auth, sub: Option<&str>, sub_sig: Option<&str>) -> Result<()> {
    let Some(sub) = sub.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let sub_sig = sub_sig.ok_or_else(|| {
        NodeError::invalid("invalid subaccount: subaccount_sig is required when using subaccount")
    })?;
    let token = parse_token(sub).ok_or_else(|| {
        NodeError::invalid("invalid subaccount: expected base64 or hex-encoded subaccount token")
    })?;
    let signature = parse_sig(sub_sig, "invalid subaccount signature")?;
    auth.subaccount = Some(SignedSubaccount { token, signature });
    Ok(())
}

fn hash_list(messages: Option<Vec<String>>, validate: bool) -> Result<Vec<String>> {
    let messages = required("messages", messages)?;
    if messages.is_empty() {
        return Err(NodeError::invalid(
            "messages does not contain any message hashes",
        ));
    }
    if validate && let Some(bad) = messages.iter().find(|m| !is_valid_message_hash(m)) {
        return Err(NodeError::invalid(format!("invalid message hash: {bad}")));
    }
    Ok(messages)
}

fn tokens(list: Vec<String>, what: &str) -> Result<Vec<SubaccountToken>> {
    list.iter()
        .map(|s| {
            parse_token(s).ok_or_else(|| {
                NodeError::invalid(format!(
                    "invalid {what}: expected base64 or hex-encoded subaccount tag"
                ))
            })
        })
        .collect()
}

fn parse_store(p: Params<'_>) -> Result<Store> {
    let data = p.str("data")?;
    let expiry = p.timestamp("expiry")?;
    let ns = p.namespace("namespace")?;
    let (pk, pk_alt) = aliased(&p)?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let sig_ts = p.timestamp("sig_timestamp")?;
    let sig = p.str("signature")?;
    let sub = p.str("subaccount")?;
    let sub_sig = p.str("subaccount_sig")?;
    let timestamp = p.stringified_i64("timestamp")?;
    let ttl = p.stringified_u64("ttl")?;

    let timestamp = required("timestamp", timestamp)?;
    let expiry = match (expiry, ttl) {
        (Some(_), Some(_)) => {
            return Err(NodeError::invalid("Cannot specify both 'expiry' and 'ttl'"));
        }
        (Some(e), None) => e,
        (None, Some(ttl)) => timestamp.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        (None, None) => {
            return Err(NodeError::invalid(
                "Required field 'expiry' or 'ttl' missing",
            ));
        }
    };
    let pk = exactly_one_pubkey(pk, pk_alt)?;
    let namespace = ns.unwrap_or_default();
    let (pubkey, auth, sig_timestamp) = if sig.is_some() {
        let (pubkey, mut auth) = load_pk_signature(Some(pk), pk_ed, sig)?;
        load_subaccount(&mut auth, sub, sub_sig)?;
        (pubkey, Some(auth), sig_ts.unwrap_or(timestamp))
    } else {
        (load_pk(Some(pk))?, None, timestamp)
    };
    let data = required("data", data)?;
    if !is_base64(data) {
        return Err(NodeError::invalid(
            "Invalid 'data' value: not base64 encoded",
        ));
    }
    if data.len() > MAX_MESSAGE_BODY / 3 * 4 {
        return Err(NodeError::invalid(format!(
            "Message body exceeds maximum allowed length of {MAX_MESSAGE_BODY} bytes"
        )));
    }
    let data = decode_base64(data)
        .ok_or_else(|| NodeError::invalid("Invalid 'data' value: not base64 encoded"))?;
    Ok(Store {
        pubkey,
        namespace,
        timestamp,
        expiry,
        data,
        auth,
        sig_timestamp,
    })
}

fn parse_retrieve(p: Params<'_>) -> Result<Retrieve> {
    let last_hash_alt = p.str("lastHash")?;
    let last_hash = p.str("last_hash")?;
    let max_count = p.int("max_count")?;
    let max_size = p.int("max_size")?;
    let ns = p.namespace("namespace")?;
    let (pk, pk_alt) = aliased(&p)?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let sig = p.str("signature")?;
    let sub = p.str("subaccount")?;
    let sub_sig = p.str("subaccount_sig")?;
    let ts = p.timestamp("timestamp")?;

    let pk = exactly_one_pubkey(pk, pk_alt)?;
    // Signature checking is active when any auth field is given. (The reference code
    // also activates it for an explicit namespace that needs auth, which would answer
    // 400 "Required field 'signature' missing"; the upstream-asserted reply for an
    // unsigned retrieve of namespace 0 is 401 "retrieve: request signature required",
    // which `Rpc::retrieve` gives for every unsigned request to such a namespace.)
    let check = pk_ed.is_some() || sig.is_some() || ts.is_some();
    let (pubkey, auth) = if check {
        let (pubkey, mut auth) = load_pk_signature(Some(pk), pk_ed, sig)?;
        load_subaccount(&mut auth, sub, sub_sig)?;
        let ts = required("timestamp", ts)?;
        (pubkey, Some((auth, ts)))
    } else {
        (load_pk(Some(pk))?, None)
    };
    let last_hash = match (last_hash, last_hash_alt) {
        (Some(_), Some(_)) => {
            return Err(NodeError::invalid(
                "Cannot specify both 'last_hash' and 'lastHash'",
            ));
        }
        (a, b) => a.or(b),
    };
    let last_hash = match last_hash {
        None | Some("") => None,
        Some(h) if h.len() == 43 => {
            if !is_base64(h) {
                return Err(NodeError::invalid("Invalid last_hash: not base64"));
            }
            Some(h.to_owned())
        }
        Some(_) => {
            return Err(NodeError::invalid(
                "Invalid last_hash: expected base64 (43 chars)",
            ));
        }
    };
    Ok(Retrieve {
        pubkey,
        namespace: ns.unwrap_or_default(),
        last_hash,
        max_count,
        max_size,
        auth,
    })
}

fn parse_delete(p: Params<'_>) -> Result<Delete> {
    let messages = p.str_array("messages")?;
    let pk = p.str("pubkey")?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let req = p.bool("required")?;
    let sig = p.str("signature")?;
    let sub = p.str("subaccount")?;
    let sub_sig = p.str("subaccount_sig")?;
    let (pubkey, mut auth) = load_pk_signature(pk, pk_ed, sig)?;
    load_subaccount(&mut auth, sub, sub_sig)?;
    let messages = hash_list(messages, true)?;
    Ok(Delete {
        pubkey,
        auth,
        messages,
        required: req.unwrap_or(false),
    })
}

fn parse_delete_all(p: Params<'_>) -> Result<DeleteAll> {
    let ns = p.namespace_or_all("namespace")?;
    let auth_fields = AuthFields::read(&p)?;
    let ts = p.timestamp("timestamp")?;
    let (pubkey, auth) = auth_fields.load()?;
    let timestamp = required("timestamp", ts)?;
    Ok(DeleteAll {
        pubkey,
        auth,
        namespace: ns.unwrap_or(NsSelector::One(Namespace::DEFAULT)),
        timestamp,
    })
}

fn parse_delete_before(p: Params<'_>) -> Result<DeleteBefore> {
    let before = p.timestamp("before")?;
    let ns = p.namespace_or_all("namespace")?;
    let auth_fields = AuthFields::read(&p)?;
    let (pubkey, auth) = auth_fields.load()?;
    let before = required("before", before)?;
    Ok(DeleteBefore {
        pubkey,
        auth,
        namespace: ns.unwrap_or(NsSelector::One(Namespace::DEFAULT)),
        before,
    })
}

fn parse_expire_all(p: Params<'_>) -> Result<ExpireAll> {
    let expiry = p.timestamp("expiry")?;
    let ns = p.namespace_or_all("namespace")?;
    let auth_fields = AuthFields::read(&p)?;
    let (pubkey, auth) = auth_fields.load()?;
    let expiry = required("expiry", expiry)?;
    Ok(ExpireAll {
        pubkey,
        auth,
        namespace: ns.unwrap_or(NsSelector::One(Namespace::DEFAULT)),
        expiry,
    })
}

fn parse_expire(p: Params<'_>) -> Result<Expire> {
    let expiry = p.timestamp_array("expiry")?;
    let extend = p.bool("extend")?;
    let messages = p.str_array("messages")?;
    let pk = p.str("pubkey")?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let shorten = p.bool("shorten")?;
    let sig = p.str("signature")?;
    let sub = p.str("subaccount")?;
    let sub_sig = p.str("subaccount_sig")?;
    let (pubkey, mut auth) = load_pk_signature(pk, pk_ed, sig)?;
    load_subaccount(&mut auth, sub, sub_sig)?;
    let expiry = required("expiry", expiry)?;
    if expiry.is_empty() {
        return Err(NodeError::invalid(
            "'expiry' does not contain any expiration timestamps",
        ));
    }
    let shorten = shorten.unwrap_or(false);
    let extend = extend.unwrap_or(false);
    if shorten && extend {
        return Err(NodeError::invalid(
            "cannot specify both 'shorten' and 'extend'",
        ));
    }
    let messages = required("messages", messages)?;
    if messages.is_empty() {
        return Err(NodeError::invalid(
            "messages does not contain any message hashes",
        ));
    }
    if expiry.len() > 1 && expiry.len() != messages.len() {
        return Err(NodeError::invalid(
            "'expiry' must be a single expiry, or the same length as 'messages'",
        ));
    }
    let messages = hash_list(Some(messages), true)?;
    Ok(Expire {
        pubkey,
        auth,
        messages,
        expiry,
        shorten,
        extend,
    })
}

fn parse_get_expiries(p: Params<'_>) -> Result<GetExpiries> {
    let messages = p.str_array("messages")?;
    let auth_fields = AuthFields::read(&p)?;
    let ts = p.timestamp("timestamp")?;
    let (pubkey, auth) = auth_fields.load()?;
    let timestamp = required("timestamp", ts)?;
    // v2.8.0 does not check the hashes' format here.
    let messages = hash_list(messages, false)?;
    Ok(GetExpiries {
        pubkey,
        auth,
        messages,
        timestamp,
    })
}

fn parse_revoke(p: Params<'_>) -> Result<Revocation> {
    let pk = p.str("pubkey")?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let revoke = p.str_array("revoke")?;
    let sig = p.str("signature")?;
    let ts = p.timestamp("timestamp")?;
    let (pubkey, auth) = load_pk_signature(pk, pk_ed, sig)?;
    let revoke = required("revoke", revoke)?;
    if revoke.len() > MAX_SUBACCOUNT_TOKENS {
        return Err(NodeError::invalid(format!(
            "invalid revoke: cannot revoke more than {MAX_SUBACCOUNT_TOKENS} subaccounts at once"
        )));
    }
    let tokens = tokens(revoke, "revoke")?;
    let timestamp = required("timestamp", ts)?;
    Ok(Revocation {
        pubkey,
        auth,
        tokens,
        timestamp,
    })
}

fn parse_unrevoke(p: Params<'_>) -> Result<Revocation> {
    let pk = p.str("pubkey")?;
    let pk_ed = p.str("pubkey_ed25519")?;
    let sig = p.str("signature")?;
    let ts = p.timestamp("timestamp")?;
    let unrevoke = p.str_array("unrevoke")?;
    let (pubkey, auth) = load_pk_signature(pk, pk_ed, sig)?;
    let timestamp = required("timestamp", ts)?;
    let unrevoke = required("unrevoke", unrevoke)?;
    let tokens = tokens(unrevoke, "unrevoke")?;
    Ok(Revocation {
        pubkey,
        auth,
        tokens,
        timestamp,
    })
}

fn parse_get_swarm(p: Params<'_>) -> Result<UserPubkey> {
    let (pk, pk_alt) = aliased(&p)?;
    let pk = exactly_one_pubkey(pk, pk_alt)?;
    UserPubkey::from_hex(pk)
        .ok_or_else(|| NodeError::invalid("Pubkey must be 66 hex digits/33 bytes long"))
}

fn parse_subrequests(p: Params<'_>) -> Result<Vec<Request>> {
    let reqs = match p.get("requests") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(NodeError::invalid(
                "Invalid batch request: no valid \"requests\" field",
            ));
        }
    };
    if reqs.len() > BATCH_MAX {
        return Err(NodeError::invalid(
            "Invalid batch request: subrequest limit exceeded",
        ));
    }
    reqs.iter()
        .map(|r| {
            let Value::Object(r) = r else {
                return Err(NodeError::invalid(
                    "Invalid batch request: requests must be objects",
                ));
            };
            let (Some(Value::String(method)), Some(Value::Object(params))) =
                (r.get("method"), r.get("params"))
            else {
                return Err(NodeError::invalid(
                    "Invalid batch request: subrequests must have method/params keys",
                ));
            };
            let m = Method::from_name(method).ok_or_else(|| {
                NodeError::invalid(format!(
                    "Invalid batch subrequest: invalid method \"{method}\""
                ))
            })?;
            if m.is_meta() {
                return Err(NodeError::invalid(
                    "Invalid batch subrequest: subrequests may not contain meta-requests",
                ));
            }
            parse_method(m, params)
        })
        .collect()
}

fn fixed<const N: usize>(v: Option<Vec<i64>>) -> Option<[i64; N]> {
    let v = v.filter(|v| !v.is_empty())?;
    let mut out = [0i64; N];
    for (i, x) in v.into_iter().take(N).enumerate() {
        out[i] = x;
    }
    Some(out)
}

fn parse_ifelse_branch(p: &Params<'_>, key: &str) -> Result<Option<Request>> {
    let Some(v) = p.get(key) else {
        return Ok(None);
    };
    let Value::Object(o) = v else {
        return Err(NodeError::invalid(format!(
            "Invalid ifelse request: {key} must be an object"
        )));
    };
    let (Some(Value::String(method)), Some(Value::Object(params))) =
        (o.get("method"), o.get("params"))
    else {
        return Err(NodeError::invalid(format!(
            "Invalid ifelse request: {key} must have method/params keys"
        )));
    };
    let m = Method::from_name(method)
        .ok_or_else(|| NodeError::invalid(format!("Invalid ifelse request method \"{key}\"")))?;
    parse_method(m, params).map(Some)
}

fn parse_ifelse(p: Params<'_>) -> Result<IfElse> {
    let Some(Value::Object(cond)) = p.get("if") else {
        return Err(NodeError::invalid(
            "Invalid ifelse request: no valid \"if\" field",
        ));
    };
    let c = Params(cond);
    let condition = Condition {
        height_at_least: c.int("height_at_least")?,
        height_before: c.int("height_before")?,
        hf_at_least: fixed::<2>(c.int_array("hf_at_least")?),
        hf_before: fixed::<2>(c.int_array("hf_before")?),
        v_at_least: fixed::<3>(c.int_array("v_at_least")?),
        v_before: fixed::<3>(c.int_array("v_before")?),
    };
    if condition.height_at_least.is_none()
        && condition.height_before.is_none()
        && condition.hf_at_least.is_none()
        && condition.hf_before.is_none()
        && condition.v_at_least.is_none()
        && condition.v_before.is_none()
    {
        return Err(NodeError::invalid(
            "Invalid ifelse request: must specify at least one \"if\" condition",
        ));
    }
    let then = parse_ifelse_branch(&p, "then")?;
    let otherwise = parse_ifelse_branch(&p, "else")?;
    if then.is_none() && otherwise.is_none() {
        return Err(NodeError::invalid(
            "Invalid ifelse request: at least one of \"then\"/\"else\" required",
        ));
    }
    Ok(IfElse {
        condition,
        then,
        otherwise,
    })
}

fn parse_oxend_request(p: Params<'_>) -> Result<OxendCall> {
    let endpoint = match p.0.get("endpoint") {
        Some(Value::String(e)) => match e.as_str() {
            "get_service_nodes" => OxendEndpoint::GetServiceNodes,
            "ons_resolve" => OxendEndpoint::OnsResolve,
            other => {
                return Err(NodeError::invalid(format!(
                    "oxend_request: endpoint {other:?} is not allowed (only get_service_nodes \
                     and ons_resolve)"
                )));
            }
        },
        _ => {
            return Err(NodeError::invalid(
                "oxend_request: no string \"endpoint\" field",
            ));
        }
    };
    let params = match p.0.get("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        // bt requests carry the params as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(NodeError::invalid(
                    "oxend_request: \"params\" is not a JSON object",
                ));
            }
        },
        Some(_) => {
            return Err(NodeError::invalid(
                "oxend_request: \"params\" is not a JSON object",
            ));
        }
    };
    Ok(OxendCall { endpoint, params })
}

/// Parses the `params` of `method`.
pub fn parse_method(method: Method, params: &Map<String, Value>) -> Result<Request> {
    let inner = parse_plain(method, params)?;
    let account = match &inner {
        Request::Store(r) => r.pubkey,
        Request::Delete(r) => r.pubkey,
        Request::DeleteAll(r) => r.pubkey,
        Request::DeleteBefore(r) => r.pubkey,
        Request::ExpireAll(r) => r.pubkey,
        Request::Expire(r) => r.pubkey,
        Request::Revoke(r) | Request::Unrevoke(r) => r.pubkey,
        _ => return Ok(inner),
    };
    Ok(Request::Recursive(Box::new(RecursiveRequest {
        method,
        account,
        params: params.clone(),
        inner,
    })))
}

/// Parses one request without the [`Request::Recursive`] wrapper.
fn parse_plain(method: Method, params: &Map<String, Value>) -> Result<Request> {
    let p = Params(params);
    Ok(match method {
        Method::Store => Request::Store(parse_store(p)?),
        Method::Retrieve => Request::Retrieve(parse_retrieve(p)?),
        Method::Delete => Request::Delete(parse_delete(p)?),
        Method::DeleteAll => Request::DeleteAll(parse_delete_all(p)?),
        Method::DeleteBefore => Request::DeleteBefore(parse_delete_before(p)?),
        Method::ExpireAll => Request::ExpireAll(parse_expire_all(p)?),
        Method::Expire => Request::Expire(parse_expire(p)?),
        Method::GetExpiries => Request::GetExpiries(parse_get_expiries(p)?),
        Method::GetSwarm => Request::GetSwarm(parse_get_swarm(p)?),
        Method::Info => Request::Info,
        Method::OxendRequest => Request::OxendRequest(parse_oxend_request(p)?),
        Method::RevokeSubaccount => Request::Revoke(parse_revoke(p)?),
        Method::UnrevokeSubaccount => Request::Unrevoke(parse_unrevoke(p)?),
        Method::Batch => Request::Batch(parse_subrequests(p)?),
        Method::Sequence => Request::Sequence(parse_subrequests(p)?),
        Method::IfElse => Request::IfElse(Box::new(parse_ifelse(p)?)),
    })
}
