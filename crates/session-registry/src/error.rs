//! The one error type of `session-registry`, and the one place where errors become
//! JSON-RPC error objects and HTTP statuses ([`RegistryError::rpc_code`],
//! [`RegistryError::http_status`], [`RegistryError::to_rpc_error`]).
//!
//! HTTP status by class: 400 for anything the client got wrong (unparsable body,
//! malformed request or parameters, a rejected transaction or vote), 404 for an unknown
//! method or path, 405 for a non-POST request, 413 for an oversized body, 500 for
//! server-side failures. The body is always a JSON-RPC 2.0 response whose `error` holds
//! `code`, a human-readable `message` and `data.kind`, a stable machine-readable name.
//! Every transaction and vote rejection has code −32000.

use serde_json::{Value, json};
use thiserror::Error;

/// Everything that can go wrong in the registry.
#[derive(Debug, Error)]
pub enum RegistryError {
    // ── request envelope ────────────────────────────────────────────────────────────
    /// The body is not JSON.
    #[error("parse error: {0}")]
    ParseError(String),
    /// The JSON is not a JSON-RPC request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No such RPC method.
    #[error("method not found: {0}")]
    MethodNotFound(String),
    /// A parameter is missing or malformed.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The HTTP request body is too large.
    #[error("request body too large (limit {limit} bytes)")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such HTTP path.
    #[error("no route for {method} {path}; JSON-RPC is served on POST /json_rpc")]
    RouteNotFound {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// Only POST is served.
    #[error("method {0} not allowed; use POST")]
    MethodNotAllowed(String),

    // ── transaction validation: signatures and keys ────────────────────────────────
    /// A required signature is absent.
    #[error("{what} is not signed")]
    MissingSignature {
        /// What needed a signature.
        what: &'static str,
    },
    /// A signature does not verify.
    #[error("bad signature on {what}")]
    BadSignature {
        /// What was signed.
        what: &'static str,
    },
    /// A key is not a valid public key.
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// Which key.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The X25519 key is not the one derived from the Ed25519 key.
    #[error("pubkey_x25519 {x25519} is not the X25519 form of pubkey_ed25519 {ed25519}")]
    KeyMismatch {
        /// The Ed25519 key.
        ed25519: String,
        /// The given X25519 key.
        x25519: String,
    },
    /// A node with this key is already registered (or a registration is pending).
    #[error("service node {pubkey} is already registered")]
    DuplicateKey {
        /// The key.
        pubkey: String,
    },

    // ── transaction validation: stakes ──────────────────────────────────────────────
    /// A registration without contributors.
    #[error("a registration needs at least one contributor (the operator)")]
    NoContributors,
    /// More contributors than allowed.
    #[error("too many contributors: {count} (at most {max})")]
    TooManyContributors {
        /// How many were given.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// The same address contributes twice.
    #[error("contributor {address} appears more than once")]
    DuplicateContributor {
        /// The address.
        address: String,
    },
    /// Contributions sum to less than the staking requirement.
    #[error("under-staked: contributions total {total}, the staking requirement is {required}")]
    UnderStaked {
        /// Sum of contributions.
        total: u128,
        /// The requirement.
        required: u64,
    },
    /// Contributions sum to more than the staking requirement.
    #[error(
        "over-staked: contributions total {total}, the staking requirement is exactly {required}"
    )]
    OverStaked {
        /// Sum of contributions.
        total: u128,
        /// The requirement.
        required: u64,
    },
    /// The operator's stake is below 25% of the requirement.
    #[error("operator stake {amount} is below the minimum {minimum} (25% of the requirement)")]
    OperatorStakeTooSmall {
        /// The operator's stake.
        amount: u64,
        /// The minimum.
        minimum: u64,
    },
    /// A contributor's stake is below the minimum for its position.
    #[error("contribution #{index} of {amount} is below the minimum {minimum} for that position")]
    ContributionTooSmall {
        /// Position in the list (0 = operator).
        index: usize,
        /// The stake.
        amount: u64,
        /// The minimum.
        minimum: u64,
    },
    /// Operator fee above 100%.
    #[error("operator fee {fee} exceeds 10000 basis points")]
    FeeTooHigh {
        /// The fee in basis points.
        fee: u32,
    },
    /// An address that cannot be announced.
    #[error("invalid IP address {ip}: {reason}")]
    InvalidIp {
        /// The address.
        ip: String,
        /// Why.
        reason: &'static str,
    },
    /// A zero or out-of-range port.
    #[error("invalid {what}: {value}")]
    InvalidPort {
        /// Which port.
        what: &'static str,
        /// The value.
        value: i64,
    },

    // ── transaction validation: node state ──────────────────────────────────────────
    /// The node is not registered.
    #[error("unknown service node {pubkey}")]
    UnknownNode {
        /// The key.
        pubkey: String,
    },
    /// An unlock was already requested.
    #[error("service node {pubkey} already requested an unlock (at height {unlock_height})")]
    AlreadyUnlocking {
        /// The key.
        pubkey: String,
        /// When it unlocks.
        unlock_height: u64,
    },
    /// A malformed uptime proof.
    #[error("malformed uptime proof: {0}")]
    MalformedProof(String),
    /// An uptime proof older than the tolerance.
    #[error("uptime proof expired: timestamp {timestamp} is more than {tolerance} s before {now}")]
    ProofExpired {
        /// Proof time (unix s).
        timestamp: u64,
        /// Current time (unix s).
        now: u64,
        /// Tolerance in seconds.
        tolerance: u64,
    },
    /// An uptime proof from the future.
    #[error(
        "uptime proof from the future: timestamp {timestamp} is more than {tolerance} s after {now}"
    )]
    ProofFromFuture {
        /// Proof time (unix s).
        timestamp: u64,
        /// Current time (unix s).
        now: u64,
        /// Tolerance in seconds.
        tolerance: u64,
    },
    /// A proof too soon after the previous one.
    #[error("uptime proof too soon: last accepted at {last}, next allowed from {next_allowed}")]
    ProofTooSoon {
        /// Previous proof time (unix s).
        last: u64,
        /// Earliest next time (unix s).
        next_allowed: u64,
    },

    // ── votes ──────────────────────────────────────────────────────────────────────
    /// No quorum is known for that height (in the future, or older than the vote lifetime).
    #[error(
        "no testing quorum for height {height} (current height {tip}, votes live {lifetime} blocks)"
    )]
    UnknownQuorum {
        /// Quorum height.
        height: u64,
        /// Current top height.
        tip: u64,
        /// Vote lifetime.
        lifetime: u64,
    },
    /// The voter is not a validator of that quorum.
    #[error("{voter} is not a validator of the testing quorum at height {height}")]
    NotQuorumMember {
        /// The voter's key.
        voter: String,
        /// Quorum height.
        height: u64,
    },
    /// The node is not tested by that quorum.
    #[error("{worker} is not tested by the quorum at height {height}")]
    NotTested {
        /// The worker's key.
        worker: String,
        /// Quorum height.
        height: u64,
    },
    /// The state change does not apply to the node's current state.
    #[error("cannot {change} service node {pubkey}: {reason}")]
    InvalidStateChange {
        /// The change.
        change: &'static str,
        /// The node.
        pubkey: String,
        /// Why.
        reason: String,
    },
    /// A state-change transaction without enough valid votes.
    #[error("state change has {got} distinct validator votes, {needed} needed")]
    NotEnoughVotes {
        /// Valid distinct votes.
        got: usize,
        /// Needed.
        needed: u32,
    },

    // ── names ──────────────────────────────────────────────────────────────────────
    /// The name breaks the naming rules.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// The value is not a valid encrypted record for the name and type.
    #[error("invalid record value: {0}")]
    InvalidOnsValue(String),
    /// Unsupported record type.
    #[error("unsupported record type {0}")]
    UnsupportedOnsType(String),
    /// The name is registered and has not expired.
    #[error("name is already registered (record type {ons_type})")]
    NameTaken {
        /// Record type.
        ons_type: u16,
    },
    /// No record for that name.
    #[error("no such name (record type {ons_type})")]
    NameNotFound {
        /// Record type.
        ons_type: u16,
    },
    /// Renewal of a record type that never expires.
    #[error("names of record type {ons_type} never expire and cannot be renewed")]
    NameNeverExpires {
        /// Record type.
        ons_type: u16,
    },
    /// The identical transaction is already waiting for the next block.
    #[error("transaction {txid} is already pending")]
    AlreadyPending {
        /// Its id.
        txid: String,
    },
    /// An update that changes nothing.
    #[error("an update must change the value, the owner or the backup owner")]
    EmptyUpdate,

    // ── chain and server ───────────────────────────────────────────────────────────
    /// A genesis transaction outside the genesis block (or a genesis block without one).
    #[error("genesis transaction out of place at height {height}")]
    MisplacedGenesis {
        /// Height.
        height: u64,
    },
    /// The configuration's chain parameters differ from the stored chain's.
    #[error(
        "{key} is {config} in the configuration but {chain} in the stored chain's genesis; \
         restore the value or start a new data directory"
    )]
    ChainMismatch {
        /// The parameter.
        key: String,
        /// Configured value.
        config: String,
        /// Stored value.
        chain: String,
    },
    /// The stored chain does not replay.
    #[error("stored chain is corrupt at height {height}: {reason}")]
    CorruptChain {
        /// Height of the bad block.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// A configuration file is invalid.
    #[error("invalid configuration {origin}: {reason}")]
    Config {
        /// File or other origin.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A runtime helper failed (config loading, files, HTTP).
    #[error(transparent)]
    Rt(#[from] session_rt::RtError),
    /// The database failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An I/O operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Anything else that is the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with [`RegistryError`].
pub type Result<T> = std::result::Result<T, RegistryError>;

/// JSON-RPC 2.0 reserved codes.
pub mod codes {
    /// Invalid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Server-side failure.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// A transaction or vote was rejected by validation.
    pub const REJECTED: i64 = -32000;
}

impl RegistryError {
    /// A stable, machine-readable name for the error (`error.data.kind`).
    pub fn kind(&self) -> &'static str {
        use RegistryError as E;
        match self {
            E::ParseError(_) => "parse_error",
            E::InvalidRequest(_) => "invalid_request",
            E::MethodNotFound(_) => "method_not_found",
            E::InvalidParams(_) => "invalid_params",
            E::BodyTooLarge { .. } => "body_too_large",
            E::RouteNotFound { .. } => "route_not_found",
            E::MethodNotAllowed(_) => "method_not_allowed",
            E::MissingSignature { .. } => "missing_signature",
            E::BadSignature { .. } => "bad_signature",
            E::InvalidKey { .. } => "invalid_key",
            E::KeyMismatch { .. } => "key_mismatch",
            E::DuplicateKey { .. } => "duplicate_key",
            E::NoContributors => "no_contributors",
            E::TooManyContributors { .. } => "too_many_contributors",
            E::DuplicateContributor { .. } => "duplicate_contributor",
            E::UnderStaked { .. } => "under_staked",
            E::OverStaked { .. } => "over_staked",
            E::OperatorStakeTooSmall { .. } => "operator_stake_too_small",
            E::ContributionTooSmall { .. } => "contribution_too_small",
            E::FeeTooHigh { .. } => "fee_too_high",
            E::InvalidIp { .. } => "invalid_ip",
            E::InvalidPort { .. } => "invalid_port",
            E::UnknownNode { .. } => "unknown_node",
            E::AlreadyUnlocking { .. } => "already_unlocking",
            E::MalformedProof(_) => "malformed_proof",
            E::ProofExpired { .. } => "proof_expired",
            E::ProofFromFuture { .. } => "proof_from_future",
            E::ProofTooSoon { .. } => "proof_too_soon",
            E::UnknownQuorum { .. } => "unknown_quorum",
            E::NotQuorumMember { .. } => "not_quorum_member",
            E::NotTested { .. } => "not_tested",
            E::InvalidStateChange { .. } => "invalid_state_change",
            E::NotEnoughVotes { .. } => "not_enough_votes",
            E::InvalidName(_) => "invalid_name",
            E::InvalidOnsValue(_) => "invalid_ons_value",
            E::UnsupportedOnsType(_) => "unsupported_ons_type",
            E::NameTaken { .. } => "name_taken",
            E::NameNotFound { .. } => "name_not_found",
            E::NameNeverExpires { .. } => "name_never_expires",
            E::AlreadyPending { .. } => "already_pending",
            E::EmptyUpdate => "empty_update",
            E::MisplacedGenesis { .. } => "misplaced_genesis",
            E::ChainMismatch { .. } => "chain_mismatch",
            E::CorruptChain { .. } => "corrupt_chain",
            E::Config { .. } => "config",
            E::Rt(_) => "runtime",
            E::Sqlite(_) => "database",
            E::Io { .. } => "io",
            E::Internal(_) => "internal",
        }
    }

    /// Whether this is a validation rejection of a transaction or vote (nothing changed).
    pub fn is_rejection(&self) -> bool {
        self.rpc_code() == codes::REJECTED
    }

    /// The JSON-RPC error code.
    pub fn rpc_code(&self) -> i64 {
        use RegistryError as E;
        match self {
            E::ParseError(_) | E::BodyTooLarge { .. } => codes::PARSE_ERROR,
            E::InvalidRequest(_) | E::MethodNotAllowed(_) => codes::INVALID_REQUEST,
            E::MethodNotFound(_) | E::RouteNotFound { .. } => codes::METHOD_NOT_FOUND,
            E::InvalidParams(_) => codes::INVALID_PARAMS,
            E::MisplacedGenesis { .. }
            | E::ChainMismatch { .. }
            | E::CorruptChain { .. }
            | E::Config { .. }
            | E::Rt(_)
            | E::Sqlite(_)
            | E::Io { .. }
            | E::Internal(_) => codes::INTERNAL_ERROR,
            _ => codes::REJECTED,
        }
    }

    /// The HTTP status of a response carrying this error.
    pub fn http_status(&self) -> u16 {
        use RegistryError as E;
        match self {
            E::MethodNotFound(_) | E::RouteNotFound { .. } => 404,
            E::MethodNotAllowed(_) => 405,
            E::BodyTooLarge { .. } => 413,
            _ if self.rpc_code() == codes::INTERNAL_ERROR => 500,
            _ => 400,
        }
    }

    /// The JSON-RPC `error` object.
    pub fn to_rpc_error(&self) -> Value {
        json!({
            "code": self.rpc_code(),
            "message": self.to_string(),
            "data": {"kind": self.kind()},
        })
    }
}

impl From<session_crypto::CryptoError> for RegistryError {
    fn from(e: session_crypto::CryptoError) -> Self {
        Self::Internal(format!("cryptography: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_statuses() {
        assert_eq!(RegistryError::ParseError("x".into()).http_status(), 400);
        assert_eq!(RegistryError::MethodNotFound("x".into()).http_status(), 404);
        assert_eq!(RegistryError::Internal("x".into()).http_status(), 500);
        let e = RegistryError::UnknownNode {
            pubkey: "ab".into(),
        };
        assert_eq!((e.http_status(), e.rpc_code()), (400, codes::REJECTED));
        assert!(e.is_rejection());
        let j = e.to_rpc_error();
        assert_eq!(j["data"]["kind"], "unknown_node");
        assert!(
            j["message"]
                .as_str()
                .unwrap()
                .contains("unknown service node")
        );
    }
}
