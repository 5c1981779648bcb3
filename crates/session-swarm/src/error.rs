//! The crate's one error type.

use crate::SwarmId;

/// Everything that can be wrong with the input of this crate's functions.
///
/// Every function is total: bad input gives one of these, never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwarmError {
    /// A pubkey → swarm lookup was asked of an empty swarm list (storage-node §6.2 needs
    /// at least one swarm).
    #[error("no swarms: mapping a pubkey to a swarm needs at least one swarm id")]
    NoSwarms,

    /// The `UNASSIGNED` sentinel (`u64::MAX`) was used where a real swarm id is required
    /// (network-governance §2, §8.3): as a key of a swarm map, in a swarm id list, or on a
    /// node that cannot be in a swarm.
    #[error("the UNASSIGNED sentinel swarm id (u64::MAX) cannot be used {context}")]
    UnassignedSentinel {
        /// Where it was found.
        context: &'static str,
    },

    /// The same node key appears more than once in the input.
    #[error("node {node} appears more than once {context}")]
    DuplicateNode {
        /// The key, as its `Debug` form.
        node: String,
        /// Where the duplicate was found.
        context: &'static str,
    },

    /// A swarm map holds a swarm without members. Swarm maps are built from the nodes'
    /// swarm ids, so a swarm exists only while it has at least one member.
    #[error("swarm {0} has no members; a swarm map only lists swarms with members")]
    EmptySwarm(SwarmId),

    /// A swarm id that is not one of the known swarms.
    #[error("swarm {0} is not one of the known swarms")]
    UnknownSwarm(SwarmId),

    /// A key of the wrong length was given where a 32-byte key (or a 33-byte prefixed
    /// account id) was expected.
    #[error("a pubkey must be 32 key bytes or 33 bytes (prefix + key), got {0} bytes")]
    BadKeyLength(usize),

    /// The swarm-size parameters cannot drive the algorithm (it would not terminate or
    /// would overflow).
    #[error("invalid swarm parameters: {0}")]
    InvalidParams(String),

    /// `new_swarm_id` produced an id that is already taken: the id space is exhausted
    /// (this needs ~2^63 swarms; oxend logs it as a bug and drops the new swarm's nodes,
    /// this crate refuses instead).
    #[error("no free swarm id: the midpoint of the largest gap ({0}) is already a swarm")]
    SwarmIdSpaceExhausted(SwarmId),

    /// An internal invariant of the algorithm did not hold (a bug in this crate, reported
    /// instead of panicking).
    #[error("internal error in the swarm algorithm: {0}")]
    Internal(&'static str),
}

/// `Result` with [`SwarmError`].
pub type Result<T> = std::result::Result<T, SwarmError>;
