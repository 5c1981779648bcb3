//! Pubkey → swarm space → swarm (storage-node §6.2, §6.3; network-governance §2
//! "Client-side mapping", §8.5).

use std::ops::RangeInclusive;

use session_crypto::AccountId;

use crate::error::{Result, SwarmError};
use crate::id::SwarmId;

/// The swarm-space position of a 32-byte key (storage-node §6.2): the XOR of its four
/// big-endian 8-byte words.
///
/// For a Session ID (`05…`) the key is the account's X25519 key; for a group (`03…`) and
/// every other prefix it is the Ed25519 key: in all cases the 32 bytes after the prefix.
pub fn swarm_space(key: &[u8; 32]) -> u64 {
    key.chunks_exact(8).fold(0u64, |acc, word| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        acc ^ u64::from_be_bytes(w)
    })
}

/// [`swarm_space`] of an account id's key (the prefix is ignored, storage-node §3.1, §6.2).
pub fn account_swarm_space(account: &AccountId) -> u64 {
    swarm_space(account.key())
}

/// [`swarm_space`] of raw bytes: either the 32 key bytes or 33 bytes of prefix + key
/// (any prefix byte, as the storage server accepts, storage-node §3.1).
pub fn swarm_space_of_bytes(bytes: &[u8]) -> Result<u64> {
    let key = match bytes.len() {
        32 => bytes,
        33 => &bytes[1..],
        n => return Err(SwarmError::BadKeyLength(n)),
    };
    let mut k = [0u8; 32];
    k.copy_from_slice(key);
    Ok(swarm_space(&k))
}

/// A validated, sorted, de-duplicated list of swarm ids, for pubkey → swarm lookups
/// (storage-node §6.2) and swarm ranges (§6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmIds {
    ids: Vec<SwarmId>,
}

impl SwarmIds {
    /// From any list of swarm ids (for example every node's `swarm_id`): sorted and
    /// de-duplicated. Errors: [`SwarmError::NoSwarms`] if empty,
    /// [`SwarmError::UnassignedSentinel`] if it holds `u64::MAX` (decommissioned nodes
    /// belong to no swarm and must be left out).
    pub fn new<I: IntoIterator<Item = SwarmId>>(ids: I) -> Result<Self> {
        let mut ids: Vec<SwarmId> = ids.into_iter().collect();
        if ids.iter().any(|id| id.is_unassigned()) {
            return Err(SwarmError::UnassignedSentinel {
                context: "in a list of swarm ids",
            });
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Err(SwarmError::NoSwarms);
        }
        Ok(Self { ids })
    }

    /// The ids, ascending.
    pub fn as_slice(&self) -> &[SwarmId] {
        &self.ids
    }

    /// How many swarms.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always `false` (the constructor refuses an empty list); present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is one of the swarms.
    pub fn contains(&self, id: SwarmId) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// The swarm owning swarm-space position `space` (storage-node §6.2): with one swarm,
    /// it; else `right` = first id ≥ `space` (wrapping to the first id), `left` = its
    /// predecessor (wrapping to the last id), distances modulo 2^64, and `right` only if
    /// strictly closer — ties go left, so a tie across the wrap goes to the largest id.
    pub fn nearest(&self, space: u64) -> SwarmId {
        let ids = &self.ids;
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            // Unreachable: the constructor refuses an empty list.
            return SwarmId::UNASSIGNED;
        };
        if ids.len() == 1 {
            return first;
        }
        let r = ids.partition_point(|id| id.0 < space);
        let right = ids.get(r).copied().unwrap_or(first);
        let left = if r == 0 || r == ids.len() {
            last
        } else {
            ids[r - 1]
        };
        let d_right = right.0.wrapping_sub(space);
        let d_left = space.wrapping_sub(left.0);
        if d_right < d_left { right } else { left }
    }

    /// The swarm owning a 32-byte key ([`swarm_space`] then [`SwarmIds::nearest`]).
    pub fn for_key(&self, key: &[u8; 32]) -> SwarmId {
        self.nearest(swarm_space(key))
    }

    /// The swarm owning an account (storage-node §6.2).
    pub fn for_account(&self, account: &AccountId) -> SwarmId {
        self.nearest(account_swarm_space(account))
    }

    /// The swarm-space positions swarm `id` owns (storage-node §6.3), derived from the
    /// §6.2 rule itself so that `nearest(x) == id` exactly when `x` is in one of the
    /// returned ranges (unlike the reference's FIXME'd overflowing sums). One range, or
    /// two when it wraps past `u64::MAX`; with a single swarm, the whole space.
    ///
    /// With predecessor `p` and successor `n` (cyclic), `D = id − p`, `D' = n − id`
    /// (mod 2^64), the range is `[p + ⌊D/2⌋ + 1, id + ⌊D'/2⌋]` (mod 2^64).
    pub fn range_of(&self, id: SwarmId) -> Result<Vec<RangeInclusive<u64>>> {
        let pos = self
            .ids
            .binary_search(&id)
            .map_err(|_| SwarmError::UnknownSwarm(id))?;
        if self.ids.len() == 1 {
            return Ok(vec![0..=u64::MAX]);
        }
        let count = self.ids.len();
        let pred = self.ids[(pos + count - 1) % count].0;
        let succ = self.ids[(pos + 1) % count].0;
        let d_low = id.0.wrapping_sub(pred);
        let d_high = succ.wrapping_sub(id.0);
        let lo = pred.wrapping_add(d_low / 2).wrapping_add(1);
        let hi = id.0.wrapping_add(d_high / 2);
        Ok(if lo <= hi {
            vec![lo..=hi]
        } else {
            vec![lo..=u64::MAX, 0..=hi]
        })
    }
}

/// One-shot [`SwarmIds::nearest`]: the swarm among `ids` owning swarm-space position
/// `space` (storage-node §6.2). `ids` may be unsorted and repeat ids.
pub fn nearest_swarm(ids: &[SwarmId], space: u64) -> Result<SwarmId> {
    Ok(SwarmIds::new(ids.iter().copied())?.nearest(space))
}
