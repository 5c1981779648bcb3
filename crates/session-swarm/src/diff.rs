//! What changed between two swarm assignments: the input of a node's reaction to a new
//! block (storage-node §6.4) and of the registry's bookkeeping.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::assign::{SwarmMap, assignment_from_swarm_map, check_swarm_map};
use crate::error::Result;
use crate::id::SwarmId;

/// One node whose swarm changed. `None` = in no swarm (not active, unassigned,
/// decommissioned or gone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMove<K> {
    /// The node.
    pub node: K,
    /// Its swarm before.
    pub from: Option<SwarmId>,
    /// Its swarm after.
    pub to: Option<SwarmId>,
}

/// The difference between two swarm assignments (storage-node §6.4: new members, new
/// swarms, dissolved swarms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmChanges<K> {
    /// Swarms that have members now and had none before.
    pub created: BTreeSet<SwarmId>,
    /// Swarms that had members before and have none now.
    pub dissolved: BTreeSet<SwarmId>,
    /// Per swarm (existing after), the nodes that became members (ascending key).
    pub joined: BTreeMap<SwarmId, Vec<K>>,
    /// Per swarm (existing before), the nodes that stopped being members (ascending key).
    pub left: BTreeMap<SwarmId, Vec<K>>,
    /// Every node whose swarm changed, ascending key.
    pub moves: Vec<NodeMove<K>>,
}

impl<K> SwarmChanges<K> {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.created.is_empty() && self.dissolved.is_empty()
    }
}

impl<K: Clone + Ord> SwarmChanges<K> {
    /// The changes from `old` to `new`, each mapping a node to its swarm id;
    /// [`SwarmId::UNASSIGNED`] and absence both mean "in no swarm".
    pub fn between_assignments(
        old: &BTreeMap<K, SwarmId>,
        new: &BTreeMap<K, SwarmId>,
    ) -> SwarmChanges<K> {
        let swarm_set = |m: &BTreeMap<K, SwarmId>| -> BTreeSet<SwarmId> {
            m.values().filter_map(|id| id.assigned()).collect()
        };
        let old_swarms = swarm_set(old);
        let new_swarms = swarm_set(new);

        let nodes: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
        let mut joined: BTreeMap<SwarmId, Vec<K>> = BTreeMap::new();
        let mut left: BTreeMap<SwarmId, Vec<K>> = BTreeMap::new();
        let mut moves = Vec::new();
        for node in nodes {
            let from = old.get(node).and_then(|id| id.assigned());
            let to = new.get(node).and_then(|id| id.assigned());
            if from == to {
                continue;
            }
            if let Some(f) = from {
                left.entry(f).or_default().push(node.clone());
            }
            if let Some(t) = to {
                joined.entry(t).or_default().push(node.clone());
            }
            moves.push(NodeMove {
                node: node.clone(),
                from,
                to,
            });
        }
        SwarmChanges {
            created: new_swarms.difference(&old_swarms).copied().collect(),
            dissolved: old_swarms.difference(&new_swarms).copied().collect(),
            joined,
            left,
            moves,
        }
    }
}

impl<K: Clone + Ord + fmt::Debug> SwarmChanges<K> {
    /// The changes from swarm map `old` to swarm map `new` (for example the input and
    /// output of [`crate::calc_swarm_changes`]). Nodes only in `new` joined from no swarm;
    /// nodes only in `old` left to no swarm. Both maps must be valid
    /// ([`crate::check_swarm_map`]).
    pub fn between(old: &SwarmMap<K>, new: &SwarmMap<K>) -> Result<SwarmChanges<K>> {
        check_swarm_map(old)?;
        check_swarm_map(new)?;
        Ok(Self::between_assignments(
            &assignment_from_swarm_map(old),
            &assignment_from_swarm_map(new),
        ))
    }
}
