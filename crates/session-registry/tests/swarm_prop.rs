#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test
//! Property: after any sequence of registrations and exits, every active node is in
//! exactly one swarm, no swarm is below the minimum size unless it is the only one, and
//! replaying the chain from genesis gives the same state.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use session_registry::chain::replay;
use session_registry::state::UNASSIGNED_SWARM;
use session_registry::store::BlockStore;
use session_registry::store::memory::MemoryStore;
use session_registry::tx::{Tx, UnlockRequest};
use session_registry::{Registry, State};
use session_rt::MockClock;

const MAX_NODES: u8 = 60;

#[derive(Debug, Clone)]
enum Op {
    /// Register this many new nodes.
    Register(u8),
    /// Ask the n-th registered (still present, not yet leaving) node to leave.
    Exit(usize),
    /// Produce this many extra blocks.
    Blocks(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..12).prop_map(Op::Register),
        2 => (0usize..64).prop_map(Op::Exit),
        1 => (1u8..4).prop_map(Op::Blocks),
    ]
}

fn check(st: &State) -> Result<(), TestCaseError> {
    let mut swarms: BTreeMap<u64, BTreeSet<_>> = BTreeMap::new();
    for n in st.nodes.values() {
        prop_assert!(n.is_active());
        prop_assert_ne!(n.swarm_id, UNASSIGNED_SWARM, "active node without a swarm");
        prop_assert!(
            swarms
                .entry(n.swarm_id)
                .or_default()
                .insert(n.pubkey_ed25519)
        );
    }
    let members: usize = swarms.values().map(BTreeSet::len).sum();
    prop_assert_eq!(
        members,
        st.nodes.len(),
        "each active node in exactly one swarm"
    );
    if swarms.len() > 1 {
        for (id, m) in &swarms {
            prop_assert!(m.len() >= 5, "swarm {:x} has {} members", id, m.len());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_active_node_is_in_exactly_one_swarm(ops in prop::collection::vec(op(), 1..14)) {
        let params = test_params();
        let clock = MockClock::new(T0);
        let store = Arc::new(MemoryStore::new());
        let reg = Registry::with_store(store.clone(), &params, clock.shared(), 2000, Duration::from_secs(1)).unwrap();
        let mut next_id = 1u8;
        let mut present: Vec<u8> = Vec::new();
        for op in ops {
            match op {
                Op::Register(k) => {
                    for _ in 0..k {
                        if next_id > MAX_NODES {
                            break;
                        }
                        reg.submit(Tx::Register(solo_registration(next_id, &params))).unwrap();
                        present.push(next_id);
                        next_id += 1;
                    }
                }
                Op::Exit(i) if !present.is_empty() => {
                    let id = present.remove(i % present.len());
                    let pk = node_key(id).public().0;
                    let h = reg.state().nodes.iter().find(|(k, _)| k.0 == pk).map(|(_, n)| n.registration_height).unwrap();
                    reg.submit(Tx::Unlock(UnlockRequest::signed(&node_key(id), h))).unwrap();
                }
                Op::Exit(_) => {}
                Op::Blocks(k) => {
                    for _ in 1..k {
                        clock.advance(Duration::from_secs(2));
                        reg.produce_block().unwrap();
                        check(&reg.state())?;
                    }
                }
            }
            clock.advance(Duration::from_secs(2));
            reg.produce_block().unwrap();
            check(&reg.state())?;
        }
        // Let every pending exit complete.
        for _ in 0..=params.unlock_blocks {
            reg.produce_block().unwrap();
            check(&reg.state())?;
        }
        let expected: BTreeSet<[u8; 32]> = present.iter().map(|&i| node_key(i).public().0).collect();
        let actual: BTreeSet<[u8; 32]> = reg.state().nodes.keys().map(|k| k.0).collect();
        prop_assert_eq!(actual, expected);
        let replayed = replay(store.blocks(0, usize::MAX).unwrap().into_iter().map(Ok)).unwrap();
        let final_state = reg.state();
        prop_assert_eq!(&replayed, final_state.as_ref());
    }
}

#[test]
fn seven_nodes_in_one_block_form_swarm_zero_and_fourteen_split_in_two() {
    let params = test_params();
    let clock = MockClock::new(T0);
    let reg = memory_registry(&params, &clock);
    for i in 1..=7 {
        reg.submit(Tx::Register(solo_registration(i, &params)))
            .unwrap();
    }
    reg.produce_block().unwrap();
    let st = reg.state();
    assert!(
        st.nodes.values().all(|n| n.swarm_id == 0),
        "governance vector n7: one swarm, id 0"
    );
    for i in 8..=14 {
        reg.submit(Tx::Register(solo_registration(i, &params)))
            .unwrap();
    }
    reg.produce_block().unwrap();
    let ids: BTreeSet<u64> = reg.state().nodes.values().map(|n| n.swarm_id).collect();
    // #swarms = 1 + (14 − 7)/7 = 2: swarm 0 and the second id of the sequence.
    assert_eq!(ids, BTreeSet::from([0, 0x7fff_ffff_ffff_ffff]));
}
