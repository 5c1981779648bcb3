//! The chain's swarm assignment, `calc_swarm_changes` of oxend `service_node_swarm.cpp`
//! (network-governance §2, §8.1–§8.4; storage-node §6.1).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::num::NonZeroU64;

use crate::cxx_sort;
use crate::error::{Result, SwarmError};
use crate::id::SwarmId;
use crate::rng::{Mt19937_64, uniform_portable};

/// `FILL_SWARM_LOWER_PERCENTILE`: new nodes go to swarms up to this size percentile.
pub const FILL_SWARM_LOWER_PERCENTILE: usize = 25;
/// `STEALING_SWARM_UPPER_PERCENTILE`: Robin Hood steals from swarms above this percentile.
pub const STEALING_SWARM_UPPER_PERCENTILE: usize = 75;
/// `DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE`: members of a dissolved swarm go to
/// the smallest swarms.
pub const DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE: usize = 0;

/// A swarm map: swarm id → members in order (oxend's `swarm_snode_map_t`). Swarm maps
/// given to this crate never contain [`SwarmId::UNASSIGNED`], a node twice, or a swarm
/// without members.
pub type SwarmMap<K> = BTreeMap<SwarmId, Vec<K>>;

/// The swarm-size constants of network-governance §2 (`service_node_rules.h`).
///
/// `min_swarm_size` is both `MIN_SWARM_SIZE` and `EXCESS_BASE`; `ideal_swarm_size` is
/// both `IDEAL_SWARM_SIZE` and `NEW_SWARM_SIZE` (they are equal on the chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwarmParams {
    /// `MIN_SWARM_SIZE` = `EXCESS_BASE` (5): smaller swarms are filled or dissolved.
    pub min_swarm_size: usize,
    /// `IDEAL_SWARM_SIZE` = `NEW_SWARM_SIZE` (7): the size of a newly created swarm.
    pub ideal_swarm_size: usize,
    /// `IDEAL_SWARM_MARGIN` (2): excess left per existing swarm before a new one is made.
    pub ideal_swarm_margin: usize,
}

impl Default for SwarmParams {
    fn default() -> Self {
        Self {
            min_swarm_size: 5,
            ideal_swarm_size: 7,
            ideal_swarm_margin: 2,
        }
    }
}

/// Upper bound on the size parameters (keeps every sum far from overflow).
const MAX_PARAM: usize = 1 << 20;

impl SwarmParams {
    /// Checks the parameters can drive the algorithm: `1 ≤ min_swarm_size ≤
    /// ideal_swarm_size` (otherwise new-swarm creation never terminates or creates
    /// swarms that are immediately dissolved), all ≤ 2^20.
    pub fn validate(&self) -> Result<()> {
        if self.min_swarm_size == 0 {
            return Err(SwarmError::InvalidParams(
                "min_swarm_size must be at least 1".into(),
            ));
        }
        if self.ideal_swarm_size < self.min_swarm_size {
            return Err(SwarmError::InvalidParams(format!(
                "ideal_swarm_size ({}) must be at least min_swarm_size ({})",
                self.ideal_swarm_size, self.min_swarm_size
            )));
        }
        if self.ideal_swarm_size > MAX_PARAM || self.ideal_swarm_margin > MAX_PARAM {
            return Err(SwarmError::InvalidParams(format!(
                "sizes must be at most {MAX_PARAM}"
            )));
        }
        Ok(())
    }
}

/// `calc_swarm_changes` with the chain's parameters ([`SwarmParams::default`]).
///
/// See [`calc_swarm_changes_with`].
pub fn calc_swarm_changes<K: Clone + Ord + fmt::Debug>(
    current: &SwarmMap<K>,
    unassigned: &[K],
    seed: u64,
) -> Result<SwarmMap<K>> {
    calc_swarm_changes_with(&SwarmParams::default(), current, unassigned, seed)
}

/// oxend's `calc_swarm_changes` (network-governance §2), run once per block in which the
/// active set changed.
///
/// * `current`: the existing swarms. oxend builds this map from the pubkey-sorted active
///   list, so members are taken in ascending key order (they are sorted here; the order
///   is that of the steal pools and matters).
/// * `unassigned`: the nodes with [`SwarmId::UNASSIGNED`] (newly active or
///   recommissioned); assigned in ascending key order (sorted here).
/// * `seed`: [`crate::swarm_seed`] of the block hash.
///
/// Returns the new swarm map, members in insertion order. Steps: (0) if there is no swarm,
/// create swarm 0; (1) assign each new node to a random swarm among the smallest (25th
/// percentile), running new-swarm creation after each; (2) Robin Hood: fill swarms below
/// the minimum by stealing random nodes from swarms above the 75th percentile (stale size
/// list); (3) new-swarm creation from excess; (4) dissolve the lowest-id swarm below the
/// minimum and reassign its members to the smallest swarms, while more than one swarm
/// exists. Sorting by size uses [`crate::cxx_sort::sort_by`] (libstdc++ `std::sort`).
///
/// Errors: `UNASSIGNED` as a key of `current`, an empty swarm, a node listed twice,
/// invalid parameters.
///
/// Deviation: oxend checks "more than one swarm" only once before its dissolve loop, so
/// when a network shrinks below `min_swarm_size` nodes across several swarms it erases the
/// last swarm too (and then throws, or ends with no swarm). Here dissolution stops at one
/// swarm, which keeps every node assigned (storage-node §6.1 step 4 reads this way); in
/// every case where oxend completes with a swarm left the results are identical.
pub fn calc_swarm_changes_with<K: Clone + Ord + fmt::Debug>(
    params: &SwarmParams,
    current: &SwarmMap<K>,
    unassigned: &[K],
    seed: u64,
) -> Result<SwarmMap<K>> {
    params.validate()?;
    check_input(current, unassigned)?;

    // oxend builds its input from the pubkey-sorted node list: members and unassigned
    // nodes in ascending key order. Sorting here makes a previous output (insertion
    // order) a valid input too.
    let mut swarms = current.clone();
    for members in swarms.values_mut() {
        members.sort();
    }
    let mut unassigned = unassigned.to_vec();
    unassigned.sort();
    if swarms.is_empty() && unassigned.is_empty() {
        return Ok(swarms);
    }
    let mut rng = Mt19937_64::new(seed);
    let mut algo = Algo {
        swarms: &mut swarms,
        rng: &mut rng,
        params,
    };

    // 0. Ensure there is always one swarm.
    if algo.swarms.is_empty() {
        let id = new_swarm_id_of(algo.swarms);
        algo.swarms.insert(id, Vec::new());
    }
    // 1. Assign the new nodes.
    algo.assign(unassigned, FILL_SWARM_LOWER_PERCENTILE)?;
    // 2. Robin Hood.
    algo.robin_hood()?;
    // 3. New swarms from excess.
    algo.create_new_swarms_from_excess()?;
    // 4. Dissolve swarms below the minimum.
    algo.dissolve()?;
    Ok(swarms)
}

/// Node-centric entry point for a registry: `nodes` maps every *active* node to its
/// current swarm id ([`SwarmId::UNASSIGNED`] for newly active / recommissioned nodes;
/// decommissioned nodes must be left out). Builds the swarm map in ascending key order as
/// oxend does, runs [`calc_swarm_changes_with`], and returns every node's new swarm id.
pub fn assign_swarms<K: Clone + Ord + fmt::Debug>(
    params: &SwarmParams,
    nodes: &BTreeMap<K, SwarmId>,
    seed: u64,
) -> Result<BTreeMap<K, SwarmId>> {
    let (current, unassigned) = swarm_map_from_assignment(nodes);
    let new = calc_swarm_changes_with(params, &current, &unassigned, seed)?;
    Ok(assignment_from_swarm_map(&new))
}

/// Groups a node → swarm assignment into a swarm map (members in ascending key order)
/// plus the list of unassigned nodes (ascending), as oxend builds its input.
pub fn swarm_map_from_assignment<K: Clone + Ord>(
    nodes: &BTreeMap<K, SwarmId>,
) -> (SwarmMap<K>, Vec<K>) {
    let mut current: SwarmMap<K> = BTreeMap::new();
    let mut unassigned = Vec::new();
    for (key, &id) in nodes {
        if id.is_unassigned() {
            unassigned.push(key.clone());
        } else {
            current.entry(id).or_default().push(key.clone());
        }
    }
    (current, unassigned)
}

/// Flattens a swarm map into node → swarm id (the "write back" of network-governance §2
/// step 5). A node listed twice keeps its last swarm; use only on valid maps.
pub fn assignment_from_swarm_map<K: Clone + Ord>(swarms: &SwarmMap<K>) -> BTreeMap<K, SwarmId> {
    swarms
        .iter()
        .flat_map(|(&id, members)| members.iter().map(move |k| (k.clone(), id)))
        .collect()
}

/// Checks a swarm map against the rules of
/// [`SwarmMap`]: no sentinel key, no empty swarm, no node twice.
pub fn check_swarm_map<K: Ord + fmt::Debug>(swarms: &SwarmMap<K>) -> Result<()> {
    check_input(swarms, &[])
}

fn check_input<K: Ord + fmt::Debug>(swarms: &SwarmMap<K>, unassigned: &[K]) -> Result<()> {
    if swarms.contains_key(&SwarmId::UNASSIGNED) {
        return Err(SwarmError::UnassignedSentinel {
            context: "as a swarm id in a swarm map (unassigned nodes are passed separately)",
        });
    }
    let mut seen = BTreeSet::new();
    for (&id, members) in swarms {
        if members.is_empty() {
            return Err(SwarmError::EmptySwarm(id));
        }
        for k in members {
            if !seen.insert(k) {
                return Err(SwarmError::DuplicateNode {
                    node: format!("{k:?}"),
                    context: "in the swarm map",
                });
            }
        }
    }
    for k in unassigned {
        if !seen.insert(k) {
            return Err(SwarmError::DuplicateNode {
                node: format!("{k:?}"),
                context: "among the swarm members and unassigned nodes",
            });
        }
    }
    Ok(())
}

/// oxend's `get_new_swarm_id` (network-governance §2, §8.3): for the existing ids, the
/// midpoint of the largest gap between consecutive ids (first maximal gap wins, strict
/// `>`), where the wrap-around gap `MAX_ID − last + first + 1` (`MAX_ID = 2^64 − 2`)
/// wins only if strictly larger; `gap start + gap/2`, wrapping modulo `MAX_ID + 1`.
/// No ids → 0. The sequence from nothing: 0, 7fff…, bfff…, 3fff…, 5fff…, 9fff….
///
/// `ids` may be unsorted or repeat ids. Errors: the sentinel among `ids`, or the new id
/// already taken (the id space is exhausted).
pub fn new_swarm_id<I: IntoIterator<Item = SwarmId>>(ids: I) -> Result<SwarmId> {
    let set: BTreeSet<SwarmId> = ids.into_iter().collect();
    if set.contains(&SwarmId::UNASSIGNED) {
        return Err(SwarmError::UnassignedSentinel {
            context: "as an existing swarm id",
        });
    }
    let sorted: Vec<SwarmId> = set.iter().copied().collect();
    let id = new_swarm_id_sorted(&sorted);
    if set.contains(&id) {
        return Err(SwarmError::SwarmIdSpaceExhausted(id));
    }
    Ok(id)
}

fn new_swarm_id_of<K>(swarms: &SwarmMap<K>) -> SwarmId {
    let ids: Vec<SwarmId> = swarms.keys().copied().collect();
    new_swarm_id_sorted(&ids)
}

/// `get_new_swarm_id` over ascending, distinct ids none of which is the sentinel.
fn new_swarm_id_sorted(ids: &[SwarmId]) -> SwarmId {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return SwarmId(0);
    };
    let mut max_dist = 0u64;
    let mut best = 0usize;
    for (idx, pair) in ids.windows(2).enumerate() {
        let dist = pair[1].0.wrapping_sub(pair[0].0);
        if dist > max_dist {
            max_dist = dist;
            best = idx;
        }
    }
    // The wrap gap: 0 and MAX_ID count as one apart.
    let dist = SwarmId::MAX_ID
        .wrapping_sub(last.0)
        .wrapping_add(first.0)
        .wrapping_add(1);
    if dist > max_dist {
        max_dist = dist;
        best = ids.len() - 1;
    }
    let diff = max_dist / 2;
    let start = ids[best].0;
    let to_max = SwarmId::MAX_ID.wrapping_sub(start);
    if diff > to_max {
        SwarmId(diff - to_max - 1)
    } else {
        SwarmId(start + diff)
    }
}

/// One pool entry: a member of a swarm with excess, by swarm id and position.
#[derive(Clone, Copy)]
struct PoolEntry {
    swarm: SwarmId,
    index: usize,
}

struct Algo<'a, K> {
    swarms: &'a mut SwarmMap<K>,
    rng: &'a mut Mt19937_64,
    params: &'a SwarmParams,
}

impl<K: Clone + Ord> Algo<'_, K> {
    fn uniform(&mut self, n: usize) -> Result<usize> {
        let n = NonZeroU64::new(n as u64)
            .ok_or(SwarmError::Internal("random pick from an empty range"))?;
        Ok(uniform_portable(self.rng, n) as usize)
    }

    /// `calc_swarm_sizes`: (id, size) in ascending id order, then libstdc++ `std::sort`
    /// by size.
    fn sorted_sizes(&self) -> Vec<(SwarmId, usize)> {
        let mut sizes: Vec<(SwarmId, usize)> =
            self.swarms.iter().map(|(&id, m)| (id, m.len())).collect();
        cxx_sort::sort_by(&mut sizes, |a, b| a.1 < b.1);
        sizes
    }

    /// `calc_excess`: Σ max(size − EXCESS_BASE, 0).
    fn excess(&self) -> usize {
        let base = self.params.min_swarm_size;
        self.swarms
            .values()
            .map(|m| m.len().saturating_sub(base))
            .sum()
    }

    /// `calc_threshold`: NEW_SWARM_SIZE + #swarms · IDEAL_SWARM_MARGIN.
    fn threshold(&self) -> usize {
        self.params.ideal_swarm_size.saturating_add(
            self.swarms
                .len()
                .saturating_mul(self.params.ideal_swarm_margin),
        )
    }

    /// `get_excess_pool(threshold)`: every member (map order, member order) of the swarms
    /// larger than `threshold`, and Σ (size − MIN_SWARM_SIZE) over those swarms.
    fn excess_pool(&self, threshold: usize) -> (Vec<PoolEntry>, usize) {
        let mut pool = Vec::new();
        let mut excess = 0usize;
        if threshold < self.params.min_swarm_size {
            return (pool, excess);
        }
        for (&swarm, members) in self.swarms.iter() {
            if members.len() > threshold {
                excess += members.len() - self.params.min_swarm_size;
                pool.extend((0..members.len()).map(|index| PoolEntry { swarm, index }));
            }
        }
        (pool, excess)
    }

    /// `pick_from_excess_pool` + `remove_excess_snode_from_swarm`.
    fn take_random_from_pool(&mut self, pool: &[PoolEntry]) -> Result<K> {
        let pick = self.uniform(pool.len())?;
        let entry = pool
            .get(pick)
            .ok_or(SwarmError::Internal("pool index out of range"))?;
        let members = self
            .swarms
            .get_mut(&entry.swarm)
            .ok_or(SwarmError::Internal("pool names a missing swarm"))?;
        if entry.index >= members.len() {
            return Err(SwarmError::Internal("pool names a missing member"));
        }
        Ok(members.remove(entry.index))
    }

    fn is_starving(&self) -> bool {
        self.swarms
            .values()
            .any(|m| m.len() < self.params.min_swarm_size)
    }

    /// `assign_snodes(nodes, percentile)`.
    fn assign(&mut self, nodes: Vec<K>, percentile: usize) -> Result<()> {
        for node in nodes {
            let sizes = self.sorted_sizes();
            let len = sizes.len();
            if len == 0 {
                return Err(SwarmError::Internal("no swarm to assign a node to"));
            }
            let pi = percentile * (len - 1) / 100;
            let pv = sizes[pi].1;
            let mut upper = len - 1;
            for (i, s) in sizes.iter().enumerate().skip(pi) {
                if s.1 > pv {
                    upper = i.saturating_sub(1);
                    break;
                }
            }
            let idx = self.uniform(upper + 1)?;
            let id = sizes[idx].0;
            self.swarms
                .get_mut(&id)
                .ok_or(SwarmError::Internal("sorted sizes name a missing swarm"))?
                .push(node);
            self.create_new_swarms_from_excess()?;
        }
        Ok(())
    }

    /// Step 2, the Robin Hood round, over a size list computed once (stale).
    fn robin_hood(&mut self) -> Result<()> {
        let min = self.params.min_swarm_size;
        let sizes = self.sorted_sizes();
        let len = sizes.len();
        if len == 0 {
            return Ok(());
        }
        let pi = STEALING_SWARM_UPPER_PERCENTILE * (len - 1) / 100;
        // −1 since only sizes strictly above the percentile value count (C++ size_t
        // arithmetic: a 0 wraps to SIZE_MAX).
        let threshold = min.max(sizes[pi].1.wrapping_sub(1));
        for &(poor, stale_size) in &sizes {
            if stale_size >= min {
                break;
            }
            let mut insufficient = false;
            loop {
                let (pool, excess) = self.excess_pool(threshold);
                let poor_len = self.swarms.get(&poor).map_or(0, Vec::len);
                let deficit = min.wrapping_sub(poor_len);
                if excess < deficit {
                    insufficient = true;
                    break;
                }
                let node = self.take_random_from_pool(&pool)?;
                let members = self
                    .swarms
                    .get_mut(&poor)
                    .ok_or(SwarmError::Internal("poor swarm vanished"))?;
                members.push(node);
                if members.len() >= min {
                    break;
                }
            }
            if insufficient {
                break;
            }
        }
        Ok(())
    }

    /// `create_new_swarm_from_excess`.
    fn create_new_swarms_from_excess(&mut self) -> Result<()> {
        if self.is_starving() {
            return Ok(());
        }
        while self.excess() >= self.threshold() {
            let mut new_members = Vec::with_capacity(self.params.ideal_swarm_size);
            while new_members.len() < self.params.ideal_swarm_size {
                let (pool, _) = self.excess_pool(self.params.min_swarm_size);
                if pool.is_empty() {
                    // oxend logs an error here and drops the nodes taken so far; the excess
                    // check above makes it unreachable.
                    return Err(SwarmError::Internal(
                        "excess pool ran dry while creating a swarm",
                    ));
                }
                new_members.push(self.take_random_from_pool(&pool)?);
            }
            let id = new_swarm_id_of(self.swarms);
            if self.swarms.contains_key(&id) {
                return Err(SwarmError::SwarmIdSpaceExhausted(id));
            }
            self.swarms.insert(id, new_members);
        }
        Ok(())
    }

    /// Step 4: dissolve the lowest-id swarm below the minimum, reassigning its members at
    /// the 0th percentile, while more than one swarm exists.
    fn dissolve(&mut self) -> Result<()> {
        let min = self.params.min_swarm_size;
        while self.swarms.len() > 1 {
            let Some(id) = self
                .swarms
                .iter()
                .find(|(_, m)| m.len() < min)
                .map(|(&id, _)| id)
            else {
                break;
            };
            let members = self.swarms.remove(&id).unwrap_or_default();
            self.assign(members, DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE)?;
        }
        Ok(())
    }
}
