//! Swarm ids (network-governance §2, storage-node §6.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A swarm id: a point in the 64-bit swarm space (network-governance §2).
///
/// [`SwarmId::UNASSIGNED`] (`u64::MAX`) is the chain's sentinel for "in no swarm"
/// (newly active, recommissioned and decommissioned nodes); real swarm ids are
/// `0..=SwarmId::MAX_ID`. Serialised as the bare `u64` (as oxend's `swarm_id` field).
///
/// `Display` prints 16 zero-padded lowercase hex digits; `{:x}` prints the unpadded hex
/// of the storage server's `swarm` field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SwarmId(pub u64);

impl SwarmId {
    /// `UNASSIGNED_SWARM_ID = u64::MAX`: not in any swarm (network-governance §2, §8.3).
    pub const UNASSIGNED: SwarmId = SwarmId(u64::MAX);

    /// `MAX_ID = u64::MAX − 1`: the largest id a real swarm can have (network-governance §2).
    pub const MAX_ID: u64 = u64::MAX - 1;

    /// Whether this is the [`SwarmId::UNASSIGNED`] sentinel.
    pub fn is_unassigned(self) -> bool {
        self == Self::UNASSIGNED
    }

    /// `Some(self)` for a real swarm, `None` for the sentinel.
    pub fn assigned(self) -> Option<SwarmId> {
        (!self.is_unassigned()).then_some(self)
    }
}

impl fmt::Debug for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unassigned() {
            f.write_str("SwarmId(UNASSIGNED)")
        } else {
            write!(f, "SwarmId({:016x})", self.0)
        }
    }
}

impl fmt::Display for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::LowerHex for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl From<u64> for SwarmId {
    fn from(v: u64) -> Self {
        SwarmId(v)
    }
}

impl From<SwarmId> for u64 {
    fn from(v: SwarmId) -> Self {
        v.0
    }
}
