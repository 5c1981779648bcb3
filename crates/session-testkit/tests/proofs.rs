//! Uptime proofs on schedule (network-governance §3.1): one right after a node is
//! listed, then every `uptime_proof_interval_secs` (60 by default) of clock time, each
//! landing in the registry's ledger.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::time::Duration;

use session_testkit::TestNetwork;

#[tokio::test]
async fn proofs_follow_the_interval() {
    let net = TestNetwork::start(5).await.unwrap();
    // Listed at the registration block; the sync after it sent the first proofs.
    assert!(net.nodes().iter().all(|n| n.status().proofs_sent == 1));
    net.advance_block().await.unwrap();
    let first: Vec<u64> = net
        .registry()
        .state()
        .nodes
        .values()
        .map(|n| n.last_uptime_proof)
        .collect();
    assert!(first.iter().all(|&t| t > 0), "{first:?}");

    // Half an interval later: nothing due.
    net.clock().advance(Duration::from_secs(30));
    net.advance_block().await.unwrap();
    assert!(net.nodes().iter().all(|n| n.status().proofs_sent == 1));

    // A full interval after the first proof: every node sends its second.
    net.clock().advance(Duration::from_secs(30));
    net.advance_block().await.unwrap();
    assert!(net.nodes().iter().all(|n| n.status().proofs_sent == 2));
    net.advance_block().await.unwrap();
    let st = net.registry().state();
    for (n, before) in st.nodes.values().zip(&first) {
        assert!(
            n.last_uptime_proof >= before + 60,
            "{} vs {before}",
            n.last_uptime_proof
        );
    }
    net.shutdown().await.unwrap();
}
