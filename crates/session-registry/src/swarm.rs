//! The one call into the swarm assignment algorithm (`session-swarm`'s port of oxend's
//! `calc_swarm_changes`, network-governance §2): active nodes in ascending key order with
//! their current swarm ids (`UNASSIGNED` for new and recommissioned nodes), seeded with
//! the first 8 bytes of the block hash (little-endian). Decommissioned nodes are not
//! inputs and keep `UNASSIGNED`.

use std::collections::BTreeMap;

use session_swarm::{SwarmId, SwarmParams, assign_swarms, swarm_seed};

use crate::error::{RegistryError, Result};
use crate::state::{NodeRecord, UNASSIGNED_SWARM};
use crate::types::Key32;

/// Re-runs the swarm assignment over the active nodes of `nodes` and writes the new swarm
/// ids back. Returns how many nodes changed swarm.
pub fn reassign(nodes: &mut BTreeMap<Key32, NodeRecord>, block_hash: &[u8; 32]) -> Result<usize> {
    let input: BTreeMap<Key32, SwarmId> = nodes
        .values()
        .filter(|n| n.is_active())
        .map(|n| (n.pubkey_ed25519, SwarmId(n.swarm_id)))
        .collect();
    let output = assign_swarms(&SwarmParams::default(), &input, swarm_seed(block_hash))
        .map_err(|e| RegistryError::Internal(format!("swarm assignment: {e}")))?;
    let mut changed = 0;
    for (pk, node) in nodes.iter_mut() {
        if !node.is_active() {
            node.swarm_id = UNASSIGNED_SWARM;
            continue;
        }
        let new = output.get(pk).map_or(UNASSIGNED_SWARM, |id| id.0);
        if new != node.swarm_id {
            node.swarm_id = new;
            changed += 1;
        }
    }
    Ok(changed)
}
