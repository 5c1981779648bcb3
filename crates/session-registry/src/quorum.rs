//! The testing ("obligations") quorum of a block (network-governance §3.2, §8.8), with
//! the RNG and shuffle of `session-swarm`. The sizes come from the chain parameters
//! (`quorum_size` validators, at least `quorum_min_workers` tested nodes); with the
//! defaults (10 and 50) this is exactly oxend's quorum.

use std::collections::BTreeMap;

use session_swarm::{QuorumType, shuffled_index_list};

use crate::config::ChainParams;
use crate::state::{NodeRecord, Quorum};
use crate::types::Key32;

/// The obligations quorum of block `height` with hash `hash` over `nodes`: list = active
/// ++ decommissioned (each ascending by key), `validators = min(#active, quorum_size)`
/// drawn from the active part only, then `min(rest, max(quorum_min_workers, rest/100))`
/// tested nodes.
pub fn obligations(
    p: &ChainParams,
    height: u64,
    hash: &[u8; 32],
    nodes: &BTreeMap<Key32, NodeRecord>,
) -> Quorum {
    let mut list: Vec<Key32> = nodes
        .values()
        .filter(|n| n.is_active())
        .map(|n| n.pubkey_ed25519)
        .collect();
    let active = list.len();
    list.extend(
        nodes
            .values()
            .filter(|n| !n.is_active())
            .map(|n| n.pubkey_ed25519),
    );
    let total = list.len();
    let validators = active.min(p.quorum_size as usize);
    let indices = shuffled_index_list(total, hash, QuorumType::Obligations, validators, active);
    let rest = total - validators;
    let workers = rest.min((p.quorum_min_workers as usize).max(rest / 100));
    let pick = |ix: &[usize]| ix.iter().filter_map(|&i| list.get(i).copied()).collect();
    Quorum {
        height,
        validators: pick(indices.get(..validators).unwrap_or_default()),
        workers: pick(
            indices
                .get(validators..validators + workers)
                .unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `derived.quorum.obligations.full_shuffle` in governance.json: 20 active nodes.
    #[test]
    fn vector_full_shuffle() {
        let hash: [u8; 32] = std::array::from_fn(|i| i as u8);
        let idx = shuffled_index_list(20, &hash, QuorumType::Obligations, 10, 20);
        assert_eq!(
            idx,
            vec![
                11, 2, 15, 7, 1, 8, 5, 10, 9, 4, 0, 6, 16, 18, 14, 12, 3, 17, 13, 19
            ]
        );
    }
}
