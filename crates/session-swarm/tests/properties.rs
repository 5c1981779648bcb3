#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Property tests: the swarm assignment keeps every node in exactly one swarm, leaves no
//! undersized swarm while several exist, is deterministic, and replaying blocks from
//! genesis (or from a snapshot, or through the other API) gives the incremental result;
//! nearest-swarm lookups return real swarms, honour the wrap-around and tie rule, and agree
//! with the swarm ranges; the obligations quorum is well formed.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use session_swarm::{
    SwarmChanges, SwarmId, SwarmIds, SwarmMap, SwarmParams, assign_swarms,
    assignment_from_swarm_map, calc_swarm_changes, obligations_quorum, swarm_map_from_assignment,
};

const MIN: usize = 5;

/// A random network: swarms (random or midpoint ids, 1..=12 members), unassigned nodes,
/// and a seed. Node keys are distinct `u32`s spread over the swarms at random.
fn network() -> impl Strategy<Value = (SwarmMap<u32>, Vec<u32>, u64)> {
    (
        prop::collection::vec((any::<u64>(), 1usize..=12), 0..30),
        any::<bool>(),
        0usize..30,
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(swarms, random_ids, n_unassigned, shuffle_seed, seed)| {
            let mut ids: Vec<SwarmId> = Vec::new();
            for (raw, _) in &swarms {
                let id = if random_ids {
                    SwarmId(raw % (SwarmId::MAX_ID + 1))
                } else {
                    session_swarm::new_swarm_id(ids.iter().copied()).unwrap()
                };
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            let total: usize = swarms.iter().map(|s| s.1).sum::<usize>() + n_unassigned;
            // A key permutation derived from shuffle_seed (keys are distinct).
            let mut keys: Vec<u32> = (0..total as u32).collect();
            let mut rng = session_swarm::rng::Mt19937_64::new(shuffle_seed);
            session_swarm::rng::shuffle_portable(&mut keys, &mut rng);
            let mut it = keys.into_iter();
            let mut map = SwarmMap::new();
            for (id, (_, size)) in ids.iter().zip(&swarms) {
                map.insert(*id, it.by_ref().take(*size).collect());
            }
            let unassigned: Vec<u32> = it.collect();
            (map, unassigned, seed)
        })
}

fn all_nodes(map: &SwarmMap<u32>, unassigned: &[u32]) -> BTreeSet<u32> {
    map.values().flatten().chain(unassigned).copied().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_node_ends_in_exactly_one_swarm((map, unassigned, seed) in network()) {
        let out = calc_swarm_changes(&map, &unassigned, seed).unwrap();
        let listed: Vec<u32> = out.values().flatten().copied().collect();
        let distinct: BTreeSet<u32> = listed.iter().copied().collect();
        prop_assert_eq!(listed.len(), distinct.len(), "a node is in two swarms");
        prop_assert_eq!(distinct, all_nodes(&map, &unassigned));
        prop_assert!(!out.contains_key(&SwarmId::UNASSIGNED));
        prop_assert!(out.values().all(|m| !m.is_empty()));
    }

    #[test]
    fn no_undersized_swarm_while_several_exist((map, unassigned, seed) in network()) {
        let out = calc_swarm_changes(&map, &unassigned, seed).unwrap();
        let total = all_nodes(&map, &unassigned).len();
        if out.len() > 1 {
            prop_assert!(out.values().all(|m| m.len() >= MIN), "{:?}", out);
        }
        if total >= MIN {
            prop_assert!(out.values().all(|m| m.len() >= MIN));
        }
        if total > 0 {
            prop_assert!(!out.is_empty());
        }
        // No new swarm is left to create: the excess is below the creation threshold.
        let excess: usize = out.values().map(|m| m.len().saturating_sub(MIN)).sum();
        prop_assert!(excess < 7 + 2 * out.len());
    }

    #[test]
    fn same_inputs_same_output((map, unassigned, seed) in network()) {
        let a = calc_swarm_changes(&map, &unassigned, seed).unwrap();
        let b = calc_swarm_changes(&map, &unassigned, seed).unwrap();
        prop_assert_eq!(&a, &b);
        // Member order in the input does not matter (it is sorted, as oxend's is).
        let mut reversed = map.clone();
        for m in reversed.values_mut() {
            m.reverse();
        }
        let mut un_rev = unassigned.clone();
        un_rev.reverse();
        prop_assert_eq!(calc_swarm_changes(&reversed, &un_rev, seed).unwrap(), a);
    }

    #[test]
    fn diff_applied_to_old_gives_new((map, unassigned, seed) in network()) {
        let out = calc_swarm_changes(&map, &unassigned, seed).unwrap();
        let changes = SwarmChanges::between(&map, &out).unwrap();
        let mut assignment = assignment_from_swarm_map(&map);
        for k in &unassigned {
            assignment.insert(*k, SwarmId::UNASSIGNED);
        }
        for m in &changes.moves {
            prop_assert_eq!(assignment.get(&m.node).and_then(|id| id.assigned()), m.from);
            match m.to {
                Some(to) => assignment.insert(m.node, to),
                None => assignment.remove(&m.node),
            };
        }
        prop_assert_eq!(assignment, assignment_from_swarm_map(&out));
        let old_ids: BTreeSet<SwarmId> = map.keys().copied().collect();
        let new_ids: BTreeSet<SwarmId> = out.keys().copied().collect();
        prop_assert_eq!(&changes.created, &new_ids.difference(&old_ids).copied().collect());
        prop_assert_eq!(&changes.dissolved, &old_ids.difference(&new_ids).copied().collect());
        for (id, joined) in &changes.joined {
            prop_assert!(joined.iter().all(|k| out[id].contains(k)));
        }
        for (id, left) in &changes.left {
            prop_assert!(left.iter().all(|k| !out.get(id).is_some_and(|m| m.contains(k))));
        }
    }
}

/// One block of registry events.
#[derive(Clone, Debug)]
struct Block {
    joins: usize,
    leaves: Vec<prop::sample::Index>,
    resets: Vec<prop::sample::Index>,
    seed: u64,
}

fn blocks() -> impl Strategy<Value = Vec<Block>> {
    prop::collection::vec(
        (
            0usize..12,
            prop::collection::vec(any::<prop::sample::Index>(), 0..4),
            prop::collection::vec(any::<prop::sample::Index>(), 0..2),
            any::<u64>(),
        )
            .prop_map(|(joins, leaves, resets, seed)| Block {
                joins,
                leaves,
                resets,
                seed,
            }),
        1..25,
    )
}

/// The concrete events of each block, resolved against the node set the registry has at
/// that point (so both replays see exactly the same joins / leaves / resets).
#[derive(Clone, Debug, Default)]
struct Events {
    joins: Vec<u32>,
    leaves: Vec<u32>,
    resets: Vec<u32>,
    seed: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The registry processes blocks one at a time (node-centric API) and records the
    /// events; a node replaying from genesis through the swarm-map API, and another
    /// restoring the mid-chain snapshot and replaying the rest, end with the same swarms.
    #[test]
    fn replay_from_genesis_equals_incremental(plan in blocks()) {
        let params = SwarmParams::default();
        let mut nodes: BTreeMap<u32, SwarmId> = BTreeMap::new();
        let mut next_key = 0u32;
        let mut events: Vec<Events> = Vec::new();
        let mut snapshot: Option<(usize, BTreeMap<u32, SwarmId>)> = None;
        for (i, block) in plan.iter().enumerate() {
            let mut ev = Events { seed: block.seed, ..Default::default() };
            for idx in &block.leaves {
                let present: Vec<u32> = nodes.keys().copied().collect();
                if present.is_empty() { break; }
                let k = present[idx.index(present.len())];
                nodes.remove(&k);
                ev.leaves.push(k);
            }
            for idx in &block.resets {
                let present: Vec<u32> = nodes.keys().copied().collect();
                if present.is_empty() { break; }
                let k = present[idx.index(present.len())];
                nodes.insert(k, SwarmId::UNASSIGNED);
                ev.resets.push(k);
            }
            for _ in 0..block.joins {
                nodes.insert(next_key, SwarmId::UNASSIGNED);
                ev.joins.push(next_key);
                next_key += 1;
            }
            // oxend only runs the assignment when the active set changed.
            if !(ev.joins.is_empty() && ev.leaves.is_empty() && ev.resets.is_empty()) {
                nodes = assign_swarms(&params, &nodes, block.seed).unwrap();
            }
            events.push(ev);
            prop_assert!(nodes.values().all(|id| !id.is_unassigned()));
            if i == plan.len() / 2 {
                snapshot = Some((i + 1, nodes.clone()));
            }
        }

        // Replay from genesis with swarm maps (the output of one block, with leavers
        // removed and resets moved to the unassigned list, is the next block's input).
        let replay = |start: SwarmMap<u32>, evs: &[Events]| -> SwarmMap<u32> {
            let mut swarms = start;
            for ev in evs {
                if ev.joins.is_empty() && ev.leaves.is_empty() && ev.resets.is_empty() {
                    continue;
                }
                let gone: BTreeSet<u32> = ev.leaves.iter().chain(&ev.resets).copied().collect();
                for m in swarms.values_mut() {
                    m.retain(|k| !gone.contains(k));
                }
                swarms.retain(|_, m| !m.is_empty());
                let unassigned: Vec<u32> = ev.resets.iter().chain(&ev.joins).copied().collect();
                swarms = calc_swarm_changes(&swarms, &unassigned, ev.seed).unwrap();
            }
            swarms
        };
        let replayed = replay(SwarmMap::new(), &events);
        prop_assert_eq!(assignment_from_swarm_map(&replayed), nodes.clone());

        if let Some((from, snap)) = snapshot {
            let (start, unassigned) = swarm_map_from_assignment(&snap);
            prop_assert!(unassigned.is_empty());
            let resumed = replay(start, &events[from..]);
            prop_assert_eq!(assignment_from_swarm_map(&resumed), nodes.clone());
        }

        // And the final state satisfies the invariants.
        let (fin, _) = swarm_map_from_assignment(&nodes);
        if fin.len() > 1 {
            prop_assert!(fin.values().all(|m| m.len() >= MIN));
        }
    }
}

// ---- nearest swarm ---------------------------------------------------------------------

fn swarm_ids() -> impl Strategy<Value = Vec<SwarmId>> {
    prop::collection::vec(
        prop_oneof![
            any::<u64>().prop_map(|v| v % (SwarmId::MAX_ID + 1)),
            0u64..64,
            (SwarmId::MAX_ID - 64)..=SwarmId::MAX_ID,
        ]
        .prop_map(SwarmId),
        1..20,
    )
}

fn space() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0u64..128, (u64::MAX - 128)..=u64::MAX]
}

/// Brute force: the id at the smallest circular distance; a tie between the id reached
/// going down from `space` (left) and the one going up (right) goes left.
fn brute_force_nearest(ids: &[SwarmId], space: u64) -> SwarmId {
    ids.iter()
        .copied()
        .min_by_key(|id| {
            let down = space.wrapping_sub(id.0);
            let up = id.0.wrapping_sub(space);
            (down.min(up), u8::from(up < down), id.0)
        })
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nearest_is_a_real_swarm_and_the_closest(ids in swarm_ids(), x in space()) {
        let table = SwarmIds::new(ids.iter().copied()).unwrap();
        let got = table.nearest(x);
        prop_assert!(ids.contains(&got));
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() == 1 {
            prop_assert_eq!(got, distinct[0]);
        } else {
            prop_assert_eq!(got, brute_force_nearest(&distinct, x));
        }
    }

    #[test]
    fn wraparound_goes_to_first_or_last(ids in swarm_ids(), x in space()) {
        let table = SwarmIds::new(ids.iter().copied()).unwrap();
        let s = table.as_slice();
        let (first, last) = (s[0], s[s.len() - 1]);
        if x < first.0 || x > last.0 {
            let got = table.nearest(x);
            prop_assert!(got == first || got == last);
            // Exact tie across the wrap goes to the largest id.
            let up = first.0.wrapping_sub(x);
            let down = x.wrapping_sub(last.0);
            if s.len() > 1 && up == down {
                prop_assert_eq!(got, last);
            }
        }
    }

    #[test]
    fn ranges_partition_the_space_and_agree_with_nearest(ids in swarm_ids(), x in space()) {
        let table = SwarmIds::new(ids.iter().copied()).unwrap();
        let owner = table.nearest(x);
        let mut total: u128 = 0;
        for &id in table.as_slice() {
            let ranges = table.range_of(id).unwrap();
            prop_assert!(!ranges.is_empty());
            prop_assert!(ranges.len() <= 2);
            prop_assert_eq!(ranges.iter().any(|r| r.contains(&x)), id == owner);
            for r in &ranges {
                prop_assert!(r.start() <= r.end());
                total += u128::from(r.end() - r.start()) + 1;
                // Both ends belong to the swarm.
                prop_assert_eq!(table.nearest(*r.start()), id);
                prop_assert_eq!(table.nearest(*r.end()), id);
            }
        }
        prop_assert_eq!(total, 1u128 << 64);
    }
}

// ---- quorum ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn obligations_quorum_is_well_formed(
        hash in any::<[u8; 32]>(),
        n_active in 0usize..120,
        n_decomm in 0usize..40,
    ) {
        let active: Vec<u32> = (0..n_active as u32).collect();
        let decomm: Vec<u32> = (1000..1000 + n_decomm as u32).collect();
        let q = obligations_quorum(&hash, &active, &decomm).unwrap();
        prop_assert_eq!(q.validators.len(), n_active.min(10));
        prop_assert!(q.validators.iter().all(|v| active.contains(v)));
        let rest = n_active + n_decomm - q.validators.len();
        prop_assert_eq!(q.workers.len(), rest.min(50usize.max(rest / 100)));
        let all: BTreeSet<u32> = q.validators.iter().chain(&q.workers).copied().collect();
        prop_assert_eq!(all.len(), q.validators.len() + q.workers.len());
        // Deterministic, and independent of the input order.
        let mut rev = active.clone();
        rev.reverse();
        prop_assert_eq!(obligations_quorum(&hash, &rev, &decomm).unwrap(), q);
    }
}
