//! Testing-quorum selection (network-governance §3.2, §8.8).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{Result, SwarmError};
use crate::rng::{Mt19937_64, shuffle_portable};

/// `STATE_CHANGE_QUORUM_SIZE`: validators of an obligations quorum.
pub const OBLIGATIONS_QUORUM_SIZE: usize = 10;
/// `STATE_CHANGE_MIN_NODES_TO_TEST`: nodes tested per block, at least.
pub const MIN_NODES_TO_TEST: usize = 50;
/// `STATE_CHANGE_NTH_OF_THE_NETWORK_TO_TEST`: or this fraction of the network (1/100).
pub const NTH_OF_THE_NETWORK_TO_TEST: usize = 100;
/// Votes needed for an obligations-quorum state change (7 of 10).
pub const OBLIGATIONS_VOTES_NEEDED: usize = 7;

/// Quorum types; the discriminant is the first `seed_seq` word (network-governance §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuorumType {
    /// The testing ("obligations") quorum.
    Obligations = 0,
    /// The checkpointing quorum.
    Checkpointing = 1,
    /// The blink quorum.
    Blink = 2,
    /// The pulse (block production) quorum.
    Pulse = 3,
}

/// The HF16+ quorum RNG (network-governance §3.2): `mt19937_64` seeded through
/// `std::seed_seq` over the 9 `u32` words `[type, h[0..4] LE, h[4..8] LE, …, h[28..32] LE]`.
pub fn quorum_rng(block_hash: &[u8; 32], quorum_type: QuorumType) -> Mt19937_64 {
    let mut words = [0u32; 9];
    words[0] = quorum_type as u32;
    for (w, chunk) in words[1..].iter_mut().zip(block_hash.chunks_exact(4)) {
        let mut b = [0u8; 4];
        b.copy_from_slice(chunk);
        *w = u32::from_le_bytes(b);
    }
    Mt19937_64::from_seed_seq(&words)
}

/// oxend's `generate_shuffled_service_node_index_list` (network-governance §3.2): the
/// indices `0..list_size` shuffled with [`quorum_rng`].
///
/// When `0 < sublist_size < list_size` and `0 < sublist_up_to < list_size`, the first
/// `sublist_size` results are drawn only from `[0, sublist_up_to)`: a copy of the RNG is
/// taken, `[0, sublist_up_to)` is shuffled with the original, then
/// `[sublist_size, list_size)` with the copy (both from the same state). Otherwise one
/// full shuffle. (`sublist_size > sublist_up_to` cannot be honoured; oxend asserts
/// against it, here it is clamped to `sublist_up_to`.)
pub fn shuffled_index_list(
    list_size: usize,
    block_hash: &[u8; 32],
    quorum_type: QuorumType,
    sublist_size: usize,
    sublist_up_to: usize,
) -> Vec<usize> {
    let mut result: Vec<usize> = (0..list_size).collect();
    let mut rng = quorum_rng(block_hash, quorum_type);
    if (0 < sublist_size && sublist_size < list_size)
        && (0 < sublist_up_to && sublist_up_to < list_size)
    {
        let sublist_size = sublist_size.min(sublist_up_to);
        let mut rng_copy = rng.clone();
        shuffle_portable(&mut result[..sublist_up_to], &mut rng);
        shuffle_portable(&mut result[sublist_size..], &mut rng_copy);
    } else {
        shuffle_portable(&mut result, &mut rng);
    }
    result
}

/// How many nodes an obligations quorum tests (network-governance §3.2):
/// `min(total − validators, max(50, (total − validators) / 100))`.
pub fn obligations_worker_count(total: usize, validators: usize) -> usize {
    let remaining = total.saturating_sub(validators);
    remaining.min(MIN_NODES_TO_TEST.max(remaining / NTH_OF_THE_NETWORK_TO_TEST))
}

/// An obligations (testing) quorum: who votes and who is tested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObligationsQuorum<K> {
    /// The validators (all active nodes), in quorum order.
    pub validators: Vec<K>,
    /// The nodes tested this block ("workers"; active or decommissioned), in order.
    pub workers: Vec<K>,
}

/// The obligations quorum of the block with hash `block_hash` (network-governance §3.2):
/// list = active ++ decommissioned, each sorted ascending (pubkey byte order);
/// `validators = min(#active, 10)`, drawn only from the active part
/// ([`shuffled_index_list`] with `sublist_up_to = #active`); then
/// [`obligations_worker_count`] tested nodes.
///
/// The lists may be given in any order; they are sorted here. Errors: a node twice
/// (within a list or in both).
pub fn obligations_quorum<K: Clone + Ord + fmt::Debug>(
    block_hash: &[u8; 32],
    active: &[K],
    decommissioned: &[K],
) -> Result<ObligationsQuorum<K>> {
    let mut seen = BTreeSet::new();
    for k in active.iter().chain(decommissioned) {
        if !seen.insert(k) {
            return Err(SwarmError::DuplicateNode {
                node: format!("{k:?}"),
                context: "among the active and decommissioned nodes",
            });
        }
    }
    let mut list: Vec<K> = active.to_vec();
    list.sort();
    let mut decomm: Vec<K> = decommissioned.to_vec();
    decomm.sort();
    list.extend(decomm);

    let total = list.len();
    let validators = active.len().min(OBLIGATIONS_QUORUM_SIZE);
    let indices = shuffled_index_list(
        total,
        block_hash,
        QuorumType::Obligations,
        validators,
        active.len(),
    );
    let workers = obligations_worker_count(total, validators);
    let pick = |range: &[usize]| -> Vec<K> {
        range.iter().filter_map(|&i| list.get(i).cloned()).collect()
    };
    Ok(ObligationsQuorum {
        validators: pick(&indices[..validators]),
        workers: pick(&indices[validators..validators + workers]),
    })
}
