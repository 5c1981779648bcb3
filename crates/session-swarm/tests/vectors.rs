#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Known-answer vectors: governance.json (`derived.swarm.*`, `rng.*`, `derived.rng.*`,
//! `derived.quorum.*`), storage.json (`swarm_space.*`, `derived.swarm_space.*`,
//! `swarm_selection.*`) and the libstdc++ cross-check vectors (`derived.cxx.*`).

mod common;

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use common::*;
use session_swarm::cxx_sort;
use session_swarm::rng::{Mt19937_64, seed_seq_generate, shuffle_portable, uniform_portable};
use session_swarm::{
    NodePubkey, QuorumType, SwarmChanges, SwarmId, SwarmIds, SwarmParams, assign_swarms,
    calc_swarm_changes, new_swarm_id, obligations_quorum, shuffled_index_list,
    swarm_space_of_bytes,
};

// ---- RNG -------------------------------------------------------------------------------

#[test]
fn mt19937_64_default_seed_10000th_output() {
    let v = vector("rng.mt19937_64.default_seed");
    let mut rng = Mt19937_64::new(dec_u64(&v.input["seed"]));
    assert_eq!(dec_u64(&v.input["seed"]), Mt19937_64::DEFAULT_SEED);
    let index = num(&v.input["output_index"]);
    rng.discard(index - 1);
    assert_eq!(rng.next_u64(), dec_u64(&v.expected["output"]));
}

#[test]
fn seed_seq_generate_matches_cppreference() {
    let v = vector("rng.seed_seq.generate");
    let words: Vec<u32> = nums(&v.input["seed_words"])
        .iter()
        .map(|&w| w as u32)
        .collect();
    let out = seed_seq_generate(&words, num(&v.input["count"]) as usize);
    let expected: Vec<u32> = nums(&v.expected["words"])
        .iter()
        .map(|&w| w as u32)
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn uniform_portable_seed42() {
    let v = vector("derived.rng.uniform_portable.seed42");
    let mut rng = Mt19937_64::new(dec_u64(&v.input["seed"]));
    let n = NonZeroU64::new(num(&v.input["n"])).unwrap();
    let draws: Vec<u64> = (0..num(&v.input["draws"]))
        .map(|_| uniform_portable(&mut rng, n))
        .collect();
    assert_eq!(draws, nums(&v.expected["values"]));
}

#[test]
fn seed_seq_and_mt_match_libstdcxx() {
    for v in vectors_with_prefix("derived.cxx.seed_seq_mt.") {
        let words: Vec<u32> = nums(&v.input["seed_words"])
            .iter()
            .map(|&w| w as u32)
            .collect();
        let expected10: Vec<u32> = nums(&v.expected["generate10"])
            .iter()
            .map(|&w| w as u32)
            .collect();
        assert_eq!(seed_seq_generate(&words, 10), expected10, "{}", v.id);
        let outs: Vec<u64> = v.expected["mt_outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(dec_u64)
            .collect();
        let mut rng = Mt19937_64::from_seed_seq(&words);
        let mut got: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        rng.discard(1000);
        got.push(rng.next_u64());
        assert_eq!(got, outs, "{}", v.id);
    }
}

#[test]
fn std_sort_tie_order_matches_libstdcxx() {
    for v in vectors_with_prefix("derived.cxx.std_sort.") {
        if v.input["depth_limit_zero"].as_bool().unwrap() {
            continue; // covered by the unit tests of cxx_sort (needs the internal entry point)
        }
        let mut items: Vec<(u64, u64)> = nums(&v.input["sizes"])
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u64, s))
            .collect();
        cxx_sort::sort_by(&mut items, |a, b| a.1 < b.1);
        let order: Vec<u64> = items.iter().map(|e| e.0).collect();
        assert_eq!(order, nums(&v.expected["order"]), "{}", v.id);
    }
}

#[test]
fn shuffle_portable_is_the_documented_fisher_yates() {
    // for i = 1..n: j = uniform(i + 1); swap(i, j) — replayed by hand.
    let mut a: Vec<u32> = (0..20).collect();
    shuffle_portable(&mut a, &mut Mt19937_64::new(7));
    let mut b: Vec<u32> = (0..20).collect();
    let mut rng = Mt19937_64::new(7);
    for i in 1..b.len() {
        let j = uniform_portable(&mut rng, NonZeroU64::new(i as u64 + 1).unwrap()) as usize;
        b.swap(i, j);
    }
    assert_eq!(a, b);
}

// ---- swarm space and selection ---------------------------------------------------------

#[test]
fn swarm_space_vectors() {
    let mut ids: Vec<&Vector> = vectors_with_prefix("swarm_space.");
    ids.extend(vectors_with_prefix("derived.swarm_space."));
    assert!(ids.len() >= 7);
    for v in ids {
        let pubkey = hex_bytes(&v.input["pubkey"]);
        let space = swarm_space_of_bytes(&pubkey).unwrap();
        assert_eq!(space, dec_u64(&v.expected["swarm_space"]), "{}", v.id);
        assert_eq!(
            format!("{space:016x}"),
            v.expected["swarm_space_hex"].as_str().unwrap(),
            "{}",
            v.id
        );
        // Through the typed account id too, where the prefix is one the crypto crate knows.
        if let Ok(acct) = session_crypto::AccountId::from_bytes(&pubkey) {
            assert_eq!(session_swarm::account_swarm_space(&acct), space, "{}", v.id);
        }
        // The raw 32-byte key maps the same way (the prefix is ignored).
        assert_eq!(swarm_space_of_bytes(&pubkey[1..]).unwrap(), space);
    }
}

#[test]
fn swarm_selection_vectors() {
    for v in vectors_with_prefix("swarm_selection.") {
        let ids: Vec<SwarmId> = v.input["swarm_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| SwarmId(dec_u64(x)))
            .collect();
        let table = SwarmIds::new(ids.iter().copied()).unwrap();
        let cases = v.expected["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let pubkey = hex_bytes(&case["pubkey"]);
            let space = swarm_space_of_bytes(&pubkey).unwrap();
            assert_eq!(space, hex_u64(case["swarm_space_hex"].as_str().unwrap()));
            let want = SwarmId(dec_u64(&case["expected_swarm_id"]));
            assert_eq!(table.nearest(space), want, "{} space {space:x}", v.id);
            assert_eq!(session_swarm::nearest_swarm(&ids, space).unwrap(), want);
            let acct = session_crypto::AccountId::from_bytes(&pubkey).unwrap();
            assert_eq!(table.for_account(&acct), want);
            // The owned range agrees.
            let ranges = table.range_of(want).unwrap();
            assert!(
                ranges.iter().any(|r| r.contains(&space)),
                "{} {space:x}",
                v.id
            );
        }
    }
}

// ---- swarm assignment ------------------------------------------------------------------

#[test]
fn new_swarm_id_sequence() {
    let v = vector("derived.swarm.new_swarm_id_sequence");
    let mut ids: Vec<SwarmId> = v.input["initial_swarm_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| SwarmId(hex_u64(x.as_str().unwrap())))
        .collect();
    for want in v.expected["sequence_hex"].as_array().unwrap() {
        let id = new_swarm_id(ids.iter().copied()).unwrap();
        assert_eq!(format!("{id}"), want.as_str().unwrap());
        ids.push(id);
    }
}

#[test]
fn calc_swarm_changes_vectors() {
    for v in vectors_with_prefix("derived.swarm.calc_swarm_changes.") {
        let n = num(&v.input["node_count"]);
        let seed = dec_u64(&v.input["seed"]);
        let unassigned: Vec<NodePubkey> = (1..=n).map(key).collect();
        let out = calc_swarm_changes(&BTreeMap::new(), &unassigned, seed).unwrap();
        assert_eq!(
            as_numbers(&out),
            as_numbers(&swarm_map(&v.expected["swarms"])),
            "{}",
            v.id
        );
        // Exact member order too (insertion order).
        assert_eq!(out, swarm_map(&v.expected["swarms"]), "{}", v.id);

        // The node-centric entry point agrees.
        let nodes: BTreeMap<NodePubkey, SwarmId> = unassigned
            .iter()
            .map(|k| (*k, SwarmId::UNASSIGNED))
            .collect();
        let assigned = assign_swarms(&SwarmParams::default(), &nodes, seed).unwrap();
        assert_eq!(assigned, session_swarm::assignment_from_swarm_map(&out));

        // Steady-state invariant from oxen-core's unit tests.
        let swarms = out.len() as u64;
        assert_eq!(swarms, 1 + n.saturating_sub(7) / 7, "{}", v.id);
        let excess: u64 = out.values().map(|m| m.len() as u64 - 5).sum();
        assert_eq!(excess, 2 * swarms + n % 7, "{}", v.id);
    }
}

#[test]
fn calc_swarm_changes_matches_libstdcxx_reference() {
    let all = vectors_with_prefix("derived.cxx.calc_swarm_changes.");
    assert!(all.len() >= 40);
    let mut big = 0;
    for v in all {
        let swarms = swarm_map(&v.input["swarms"]);
        let unassigned: Vec<NodePubkey> =
            nums(&v.input["unassigned"]).into_iter().map(key).collect();
        let seed = dec_u64(&v.input["seed"]);
        let out = calc_swarm_changes(&swarms, &unassigned, seed).unwrap();
        assert_eq!(
            as_numbers(&out),
            as_numbers(&swarm_map(&v.expected["swarms"])),
            "{}",
            v.id
        );
        if swarms.len() > 16 {
            big += 1;
        }
        // The diff accounts for every move.
        let changes = SwarmChanges::between(&swarms, &out).unwrap();
        for m in &changes.moves {
            assert_ne!(m.from, m.to);
        }
    }
    assert!(
        big >= 20,
        "the reference set must exercise introsort (> 16 swarms)"
    );
}

#[test]
fn block_chains_match_libstdcxx_reference() {
    for v in vectors_with_prefix("derived.cxx.swarm_chain.") {
        let mut nodes: BTreeMap<NodePubkey, SwarmId> = BTreeMap::new();
        for block in v.input["blocks"].as_array().unwrap() {
            for k in nums(&block["leaves"]) {
                assert!(nodes.remove(&key(k)).is_some());
            }
            for k in nums(&block["resets"]) {
                nodes.insert(key(k), SwarmId::UNASSIGNED);
            }
            for k in nums(&block["joins"]) {
                nodes.insert(key(k), SwarmId::UNASSIGNED);
            }
            nodes =
                assign_swarms(&SwarmParams::default(), &nodes, dec_u64(&block["seed"])).unwrap();
        }
        let (fin, unassigned) = session_swarm::swarm_map_from_assignment(&nodes);
        assert!(unassigned.is_empty());
        assert_eq!(
            as_numbers(&fin),
            as_numbers(&swarm_map(&v.expected["swarms"])),
            "{}",
            v.id
        );
    }
}

// ---- quorum ----------------------------------------------------------------------------

#[test]
fn obligations_quorum_full_shuffle() {
    let v = vector("derived.quorum.obligations.full_shuffle");
    let hash: [u8; 32] = hex_bytes(&v.input["block_hash"]).try_into().unwrap();
    assert_eq!(num(&v.input["quorum_type"]), QuorumType::Obligations as u64);
    let list_size = num(&v.input["list_size"]) as usize;
    let active = num(&v.input["active"]) as usize;
    let validators = num(&v.input["validators"]) as usize;
    let expected: Vec<usize> = nums(&v.expected["shuffled_indices"])
        .iter()
        .map(|&i| i as usize)
        .collect();

    let indices = shuffled_index_list(
        list_size,
        &hash,
        QuorumType::Obligations,
        validators,
        active,
    );
    assert_eq!(indices, expected);

    // The same through the quorum builder, with real keys: active node i = key(i).
    let active_nodes: Vec<NodePubkey> = (0..active as u64).map(key).collect();
    let q = obligations_quorum(&hash, &active_nodes, &[]).unwrap();
    let as_idx = |v: &[NodePubkey]| v.iter().map(|k| key_num(k) as usize).collect::<Vec<_>>();
    assert_eq!(as_idx(&q.validators), expected[..validators].to_vec());
    let workers = num(&v.expected["worker_count"]) as usize;
    assert_eq!(q.workers.len(), workers);
    assert_eq!(
        as_idx(&q.workers),
        expected[validators..validators + workers].to_vec()
    );
}

#[test]
fn mainnet_scale_genesis_satisfies_the_oxen_core_invariant() {
    // oxen-core tests/unit_tests/service_nodes_swarm.cpp: with no deregistrations,
    // #swarms = 1 + max(N − 7, 0)/7 and total excess = 2·#swarms + N mod 7.
    for (n, seed) in [(2000u64, 0xdead_beef_u64), (701, 3)] {
        let unassigned: Vec<NodePubkey> = (1..=n).map(key).collect();
        let out = calc_swarm_changes(&BTreeMap::new(), &unassigned, seed).unwrap();
        let swarms = out.len() as u64;
        assert_eq!(swarms, 1 + (n - 7) / 7, "n = {n}");
        let excess: u64 = out.values().map(|m| m.len() as u64 - 5).sum();
        assert_eq!(excess, 2 * swarms + n % 7, "n = {n}");
        assert_eq!(out.values().map(Vec::len).sum::<usize>() as u64, n);
    }
}
