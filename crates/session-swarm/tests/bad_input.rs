#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Bad input gives a typed [`SwarmError`] that says what was wrong — never a panic — and
//! the edge cases of the algorithm behave as documented.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use session_swarm::node::{Ed25519PublicKey, assignment_input, group_by_swarm};
use session_swarm::{
    NodeRecord, NodeState, SwarmChanges, SwarmError, SwarmId, SwarmIds, SwarmMap, SwarmParams,
    X25519PublicKey, calc_swarm_changes, calc_swarm_changes_with, nearest_swarm, new_swarm_id,
    obligations_quorum, swarm_space_of_bytes,
};

fn map(entries: &[(u64, &[u32])]) -> SwarmMap<u32> {
    entries
        .iter()
        .map(|(id, m)| (SwarmId(*id), m.to_vec()))
        .collect()
}

#[test]
fn empty_swarm_list_is_an_error() {
    assert_eq!(nearest_swarm(&[], 42), Err(SwarmError::NoSwarms));
    assert_eq!(SwarmIds::new([]), Err(SwarmError::NoSwarms));
    assert!(
        SwarmError::NoSwarms
            .to_string()
            .contains("at least one swarm")
    );
}

#[test]
fn sentinel_is_not_a_swarm() {
    let err = nearest_swarm(&[SwarmId(5), SwarmId::UNASSIGNED], 1).unwrap_err();
    assert!(matches!(err, SwarmError::UnassignedSentinel { .. }));
    assert!(err.to_string().contains("u64::MAX"), "{err}");

    let bad = map(&[(u64::MAX, &[1, 2, 3, 4, 5])]);
    let err = calc_swarm_changes(&bad, &[], 0).unwrap_err();
    assert!(matches!(err, SwarmError::UnassignedSentinel { .. }));
    assert!(
        err.to_string()
            .contains("unassigned nodes are passed separately"),
        "{err}"
    );

    assert!(matches!(
        new_swarm_id([SwarmId(0), SwarmId::UNASSIGNED]),
        Err(SwarmError::UnassignedSentinel { .. })
    ));
    assert!(matches!(
        SwarmChanges::between(&bad, &SwarmMap::new()),
        Err(SwarmError::UnassignedSentinel { .. })
    ));
}

#[test]
fn duplicate_nodes_are_errors() {
    let cases: Vec<(SwarmMap<u32>, Vec<u32>)> = vec![
        (map(&[(0, &[1, 2, 3, 4, 5]), (9, &[5, 6, 7, 8, 9])]), vec![]),
        (map(&[(0, &[1, 2, 2, 4, 5])]), vec![]),
        (map(&[(0, &[1, 2, 3, 4, 5])]), vec![3]),
        (SwarmMap::new(), vec![7, 8, 7]),
    ];
    for (swarms, unassigned) in cases {
        let err = calc_swarm_changes(&swarms, &unassigned, 1).unwrap_err();
        match &err {
            SwarmError::DuplicateNode { node, .. } => {
                assert!(["5", "2", "3", "7"].contains(&node.as_str()), "{err}")
            }
            other => panic!("expected DuplicateNode, got {other:?}"),
        }
        assert!(err.to_string().contains("more than once"));
    }
    let err = obligations_quorum(&[0; 32], &[1u32, 2, 3], &[3]).unwrap_err();
    assert!(matches!(err, SwarmError::DuplicateNode { .. }));
    let err = obligations_quorum(&[0; 32], &[1u32, 1], &[]).unwrap_err();
    assert!(matches!(err, SwarmError::DuplicateNode { .. }));
}

#[test]
fn empty_swarm_in_a_map_is_an_error() {
    let err = calc_swarm_changes(&map(&[(3, &[])]), &[1], 0).unwrap_err();
    assert_eq!(err, SwarmError::EmptySwarm(SwarmId(3)));
    assert!(
        err.to_string().contains("0000000000000003 has no members"),
        "{err}"
    );
}

#[test]
fn invalid_params_are_errors() {
    let bad = [
        SwarmParams {
            min_swarm_size: 0,
            ..SwarmParams::default()
        },
        SwarmParams {
            ideal_swarm_size: 4,
            ..SwarmParams::default()
        },
        SwarmParams {
            ideal_swarm_size: usize::MAX,
            ..SwarmParams::default()
        },
        SwarmParams {
            ideal_swarm_margin: usize::MAX,
            ..SwarmParams::default()
        },
    ];
    for p in bad {
        let err = calc_swarm_changes_with(&p, &SwarmMap::<u32>::new(), &[1], 0).unwrap_err();
        assert!(matches!(err, SwarmError::InvalidParams(_)), "{p:?}: {err}");
    }
    // Other sizes work and keep the invariants.
    let p = SwarmParams {
        min_swarm_size: 3,
        ideal_swarm_size: 4,
        ideal_swarm_margin: 0,
    };
    let nodes: Vec<u32> = (0..40).collect();
    let out = calc_swarm_changes_with(&p, &SwarmMap::new(), &nodes, 9).unwrap();
    assert!(out.len() > 1);
    assert!(out.values().all(|m| m.len() >= 3));
    assert_eq!(out.values().map(Vec::len).sum::<usize>(), 40);
}

#[test]
fn other_lookups() {
    let ids = SwarmIds::new([SwarmId(1), SwarmId(9)]).unwrap();
    assert_eq!(
        ids.range_of(SwarmId(2)),
        Err(SwarmError::UnknownSwarm(SwarmId(2)))
    );
    assert_eq!(
        swarm_space_of_bytes(&[0u8; 31]),
        Err(SwarmError::BadKeyLength(31))
    );
    assert_eq!(
        swarm_space_of_bytes(&[0u8; 34]),
        Err(SwarmError::BadKeyLength(34))
    );
    assert!(
        SwarmError::BadKeyLength(31)
            .to_string()
            .contains("got 31 bytes")
    );
    // A prefix the crypto crate does not know still maps (storage-node §3.1: any prefix).
    let mut ff = vec![0xffu8];
    ff.extend([0u8; 31]);
    ff.push(1);
    assert_eq!(swarm_space_of_bytes(&ff), Ok(1));
}

// ---- edge cases of the algorithm -------------------------------------------------------

#[test]
fn nothing_in_nothing_out() {
    assert_eq!(
        calc_swarm_changes(&SwarmMap::<u32>::new(), &[], 0),
        Ok(SwarmMap::new())
    );
}

#[test]
fn first_node_creates_swarm_zero() {
    let out = calc_swarm_changes(&SwarmMap::new(), &[42u32], 0).unwrap();
    assert_eq!(out, map(&[(0, &[42])]));
}

#[test]
fn tiny_network_keeps_one_swarm() {
    // Documented deviation: two swarms of 2 nodes. oxend would dissolve one, merge into the
    // other, then erase that one too (and throw); here the merged swarm stays.
    let out = calc_swarm_changes(
        &map(&[(0, &[1, 2]), (0x7fff_ffff_ffff_ffff, &[3, 4])]),
        &[],
        5,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let (id, members) = out.iter().next().unwrap();
    assert_eq!(*id, SwarmId(0x7fff_ffff_ffff_ffff));
    let mut m = members.clone();
    m.sort();
    assert_eq!(m, vec![1, 2, 3, 4]);
}

#[test]
fn robin_hood_fills_a_starving_swarm() {
    // Swarm A has 3 members, B has 10: B's excess (5) covers A's deficit (2).
    let before = map(&[
        (0, &[1, 2, 3]),
        (1 << 62, &[10, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
    ]);
    let out = calc_swarm_changes(&before, &[], 77).unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.values().all(|m| m.len() >= 5));
    let changes = SwarmChanges::between(&before, &out).unwrap();
    assert_eq!(changes.joined[&SwarmId(0)].len(), 2);
    assert_eq!(changes.left[&SwarmId(1 << 62)].len(), 2);
    assert!(changes.created.is_empty() && changes.dissolved.is_empty());
}

#[test]
fn hopeless_swarm_is_dissolved() {
    // A has 2 members, B and C 6 each: not enough excess, so A is dissolved.
    let before = map(&[
        (0, &[1, 2]),
        (1 << 62, &[10, 11, 12, 13, 14, 15]),
        (1 << 63, &[20, 21, 22, 23, 24, 25]),
    ]);
    let out = calc_swarm_changes(&before, &[], 3).unwrap();
    assert_eq!(
        out.keys().copied().collect::<Vec<_>>(),
        vec![SwarmId(1 << 62), SwarmId(1 << 63)]
    );
    let changes = SwarmChanges::between(&before, &out).unwrap();
    assert_eq!(
        changes.dissolved.iter().copied().collect::<Vec<_>>(),
        vec![SwarmId(0)]
    );
    assert_eq!(changes.moves.len(), 2);
    assert!(
        changes
            .moves
            .iter()
            .all(|m| m.from == Some(SwarmId(0)) && m.to.is_some())
    );
}

#[test]
fn node_leaving_the_network_shows_in_the_diff() {
    let old: BTreeMap<u32, SwarmId> = [(1, SwarmId(0)), (2, SwarmId(0))].into();
    let new: BTreeMap<u32, SwarmId> = [(2, SwarmId(0)), (3, SwarmId::UNASSIGNED)].into();
    let c = SwarmChanges::between_assignments(&old, &new);
    assert_eq!(c.moves.len(), 1);
    assert_eq!(c.moves[0].node, 1);
    assert_eq!(c.moves[0].to, None);
    assert!(c.created.is_empty() && c.dissolved.is_empty());
    assert!(SwarmChanges::between_assignments(&new, &new).is_empty());
}

// ---- node records ----------------------------------------------------------------------

fn record(n: u8, state: NodeState, swarm: SwarmId) -> NodeRecord {
    NodeRecord {
        pubkey_ed25519: Ed25519PublicKey([n; 32]),
        pubkey_x25519: X25519PublicKey([n ^ 0xff; 32]),
        public_ip: Ipv4Addr::new(10, 0, 0, n),
        https_port: 22021,
        omq_port: 22020,
        swarm_id: swarm,
        state,
    }
}

#[test]
fn node_record_rules() {
    let decomm_in_swarm = record(1, NodeState::Decommissioned, SwarmId(0));
    assert!(matches!(
        decomm_in_swarm.validate(),
        Err(SwarmError::UnassignedSentinel { .. })
    ));
    let err = assignment_input(&[decomm_in_swarm]).unwrap_err();
    assert!(err.to_string().contains("not active"), "{err}");

    let dup = [
        record(1, NodeState::Active, SwarmId(0)),
        record(1, NodeState::Active, SwarmId(0)),
    ];
    assert!(matches!(
        assignment_input(&dup),
        Err(SwarmError::DuplicateNode { .. })
    ));

    let records = [
        record(3, NodeState::Active, SwarmId(7)),
        record(1, NodeState::Active, SwarmId::UNASSIGNED),
        record(2, NodeState::Decommissioned, SwarmId::UNASSIGNED),
        record(4, NodeState::AwaitingContributions, SwarmId::UNASSIGNED),
        record(5, NodeState::Active, SwarmId(7)),
    ];
    let input = assignment_input(&records).unwrap();
    assert_eq!(input.len(), 3);
    assert_eq!(input[&Ed25519PublicKey([1; 32])], SwarmId::UNASSIGNED);
    let groups = group_by_swarm(&records);
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[&SwarmId(7)]
            .iter()
            .map(|r| r.pubkey_ed25519.0[0])
            .collect::<Vec<_>>(),
        [3, 5]
    );
    assert_eq!(records[2].swarm(), None);
}

#[test]
fn node_record_serde() {
    let r = record(9, NodeState::Active, SwarmId(u64::MAX - 1));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["pubkey_ed25519"], hex::encode([9u8; 32]));
    assert_eq!(json["pubkey_x25519"], hex::encode([9u8 ^ 0xff; 32]));
    assert_eq!(json["swarm_id"], serde_json::json!(u64::MAX - 1));
    assert_eq!(json["state"], "active");
    assert_eq!(json["public_ip"], "10.0.0.9");
    let back: NodeRecord = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, r);

    let mut bad = json.clone();
    bad["pubkey_x25519"] = "abcd".into();
    let err = serde_json::from_value::<NodeRecord>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("64 hex characters"), "{err}");
    let mut extra = json;
    extra["surprise"] = 1.into();
    assert!(serde_json::from_value::<NodeRecord>(extra).is_err());
}

#[test]
fn swarm_id_formatting() {
    assert_eq!(
        format!("{}", SwarmId(0x3fff_ffff_ffff_ffff)),
        "3fffffffffffffff"
    );
    assert_eq!(format!("{}", SwarmId(1)), "0000000000000001");
    assert_eq!(format!("{:x}", SwarmId(1)), "1");
    assert_eq!(format!("{:?}", SwarmId::UNASSIGNED), "SwarmId(UNASSIGNED)");
    assert_eq!(SwarmId::UNASSIGNED.assigned(), None);
    assert_eq!(SwarmId(3).assigned(), Some(SwarmId(3)));
}

// ---- arbitrary garbage never panics ----------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_swarm_maps_never_panic(
        raw in prop::collection::vec(
            (prop_oneof![Just(u64::MAX), Just(0u64), any::<u64>()],
             prop::collection::vec(0u32..40, 0..12)),
            0..8),
        unassigned in prop::collection::vec(0u32..40, 0..10),
        seed in any::<u64>(),
        min in 0usize..9,
        ideal in 0usize..12,
        margin in 0usize..4,
    ) {
        let swarms: SwarmMap<u32> = raw.into_iter().map(|(id, m)| (SwarmId(id), m)).collect();
        let params = SwarmParams { min_swarm_size: min, ideal_swarm_size: ideal, ideal_swarm_margin: margin };
        let _ = calc_swarm_changes_with(&params, &swarms, &unassigned, seed);
        let _ = calc_swarm_changes(&swarms, &unassigned, seed);
        let _ = SwarmChanges::between(&swarms, &swarms);
        let ids: Vec<SwarmId> = swarms.keys().copied().collect();
        let _ = nearest_swarm(&ids, seed);
        let _ = new_swarm_id(ids.iter().copied());
        let _ = obligations_quorum(&[7; 32], &unassigned, &[]);
    }

    #[test]
    fn new_swarm_id_never_collides(ids in prop::collection::vec(0u64..=SwarmId::MAX_ID, 0..40)) {
        let ids: Vec<SwarmId> = ids.into_iter().map(SwarmId).collect();
        let new = new_swarm_id(ids.iter().copied()).unwrap();
        prop_assert!(!ids.contains(&new));
        prop_assert!(!new.is_unassigned());
    }
}
