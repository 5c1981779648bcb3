//! The one error type of `session-client`. Every message says what went wrong, with
//! which input, and (where a user can act) what to do about it.

use thiserror::Error;

/// Everything that can go wrong in the client's network layer.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The network file (`network.toml`) is missing, unreadable or wrong.
    #[error("network file {file}: {reason}")]
    Config {
        /// The file (or other origin) of the configuration.
        file: String,
        /// What is wrong, naming the offending key.
        reason: String,
    },
    /// No node list could be had from any registry URL nor from the fallback nodes.
    #[error(
        "cannot get a list of service nodes: {reason}. Check that `registry_urls` in the \
         network file point at a running registry (or that its [[nodes]] are reachable)"
    )]
    Bootstrap {
        /// What each source answered.
        reason: String,
    },
    /// No registry answered a JSON-RPC request (or none is configured).
    #[error(
        "no registry answered: {reason}. Check that `registry_urls` in the network file \
         point at a running registry (is the network running? `session devnet`)"
    )]
    Registry {
        /// What each registry URL gave.
        reason: String,
    },
    /// The node directory holds too few usable nodes to build onion paths.
    #[error(
        "only {have} usable service nodes are known but {need} are needed to build onion \
         paths; the network may be too small or unreachable (try again, or lower \
         `paths`/`path_hops` in the [client] section of the network file)"
    )]
    NotEnoughNodes {
        /// Usable nodes known.
        have: usize,
        /// Nodes needed.
        need: usize,
    },
    /// No guard node answered its reachability test.
    #[error(
        "no guard node answered ({tested} tested; last error: {last}); check the network \
         connection"
    )]
    NoGuard {
        /// How many candidates were tested.
        tested: usize,
        /// The last candidate's error.
        last: String,
    },
    /// A connection or HTTP exchange with one node or registry failed.
    #[error("HTTP to {target}: {reason}")]
    Http {
        /// The address or URL.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// A node or registry did not answer in time.
    #[error("{target} did not answer within {ms} ms")]
    Timeout {
        /// The address or URL.
        target: String,
        /// The limit.
        ms: u64,
    },
    /// An onion path failed before the destination answered (a plaintext error from a
    /// hop, or an unreadable reply).
    #[error("onion path failed: HTTP {status}: {body}")]
    PathStatus {
        /// The HTTP status the guard returned.
        status: u16,
        /// The (plaintext, truncated) error body.
        body: String,
    },
    /// A server reached through the onion answered an HTTP error, or the exit node
    /// could not reach it (the path itself worked).
    #[error("server answered HTTP {status} through the onion: {body}")]
    ServerStatus {
        /// The status the exit node relayed.
        status: u16,
        /// The (plaintext, truncated) body.
        body: String,
    },
    /// Every attempt failed; the last error is kept.
    #[error(
        "the request failed on {attempts} attempt(s) over different onion paths; last \
         error: {last}"
    )]
    Exhausted {
        /// Attempts made.
        attempts: usize,
        /// The last attempt's error.
        last: Box<ClientError>,
    },
    /// The network does not know the destination node.
    #[error("the network does not know service node {ed25519}; refresh the node list")]
    UnknownDestination {
        /// The destination's Ed25519 key (hex).
        ed25519: String,
    },
    /// A reply could not be understood.
    #[error("unreadable {what}: {reason}")]
    BadReply {
        /// Which reply.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A caller passed something unusable (e.g. a malformed account id).
    #[error("invalid {what}: {reason}")]
    BadInput {
        /// Which input.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The swarm of an account could not be found (all members failed or answered 421
    /// too often).
    #[error("cannot reach the swarm of {account}: {reason}")]
    Swarm {
        /// The account (redacted).
        account: String,
        /// Why.
        reason: String,
    },
    /// Onion framing or a codec failed.
    #[error("wire format: {0}")]
    Wire(#[from] session_wire::WireError),
    /// Onion cryptography failed.
    #[error("onion crypto: {0}")]
    Crypto(#[from] session_crypto::CryptoError),
    /// The local store failed.
    #[error("local store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A message could not be built (empty or too long text, zero timer …).
    #[error("cannot send that message: {0}")]
    Message(#[from] crate::message::OutgoingError),
    /// A swarm node answered a storage RPC with an error status.
    #[error("{method} was refused by the swarm: HTTP {status}: {body}")]
    Rpc {
        /// The storage RPC.
        method: &'static str,
        /// The node's status.
        status: u16,
        /// The (truncated) answer.
        body: String,
    },
    /// A community server answered a request with an error status.
    #[error("the community server {server} refused to {what}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Community {
        /// The server's base URL.
        server: String,
        /// What was asked (e.g. "post to room lobby").
        what: String,
        /// The HTTP status.
        status: u16,
        /// The (shortened, plain-text) body.
        body: String,
    },
    /// The file server refused an upload or download, or the file is gone.
    #[error("file server {server}: {reason}")]
    FileServer {
        /// The server's base URL.
        server: String,
        /// What happened and what to do.
        reason: String,
    },
    /// A downloaded attachment failed its checks (digest, key, size), or a file could
    /// not be encrypted.
    #[error("attachment: {0}")]
    Attachment(#[from] session_crypto::attachments::AttachmentError),
    /// Something the caller named does not exist locally.
    #[error("{0}")]
    NotFound(String),
    /// The request is not allowed (e.g. unsending someone else's message).
    #[error("{0}")]
    NotAllowed(String),
    /// A Session name (SNS/ONS) could not be resolved to one Session ID.
    #[error("cannot resolve the name {name:?}: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// Why.
        reason: String,
    },
}

impl ClientError {
    /// Whether this error is the kind a retry on another path (or node) may cure:
    /// connection problems, timeouts, path errors and unreadable replies.
    pub fn is_path_failure(&self) -> bool {
        matches!(
            self,
            Self::Http { .. }
                | Self::Timeout { .. }
                | Self::PathStatus { .. }
                | Self::BadReply { .. }
        )
    }
}

/// Shorthand.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
