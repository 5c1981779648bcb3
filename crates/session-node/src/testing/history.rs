//! A validator's memory of one worker's test results, and the verdict rules of the
//! testing quorum (network-governance §3.3), as pure functions of the inputs.

use session_registry::tx::NewState;

/// Failure reason bits (oxend's values).
pub mod reason {
    /// The uptime proof is too old.
    pub const UPTIME: u16 = 0x01;
    /// Failing reachability / storage tests for too long.
    pub const STORAGE: u16 = 0x08;
}

/// The test results one validator has seen for one worker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerHistory {
    /// Start of the current run of failures (ms), `None` while passing.
    pub failing_since: Option<u64>,
    /// Last failure (ms).
    pub last_failure: Option<u64>,
    /// Last pass (ms).
    pub last_pass: Option<u64>,
    /// When this validator first tested the worker (ms): the start of its grace
    /// period for a first uptime proof.
    pub first_seen: Option<u64>,
}

impl PeerHistory {
    /// Records one test result at `now`.
    pub fn record(&mut self, passed: bool, now: u64) {
        self.first_seen.get_or_insert(now);
        if passed {
            self.last_pass = Some(now);
            self.failing_since = None;
        } else {
            self.last_failure = Some(now);
            self.failing_since.get_or_insert(now);
        }
    }

    /// Whether the last result was a pass.
    pub fn passing(&self) -> bool {
        self.failing_since.is_none() && self.last_pass.is_some()
    }

    /// Whether the worker has been failing continuously for at least `threshold_ms`.
    pub fn failing_for(&self, threshold_ms: u64, now: u64) -> bool {
        self.failing_since
            .is_some_and(|since| now.saturating_sub(since) >= threshold_ms)
    }
}

/// What the registry says about a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerState {
    /// Active (not decommissioned).
    pub active: bool,
    /// Its `last_uptime_proof` (unix seconds; 0 = none).
    pub last_uptime_proof: u64,
    /// Its `earned_downtime_blocks` (credit).
    pub credit: i64,
}

/// The registry's timing rules, from its `get_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Uptime proof validity, seconds.
    pub proof_validity_secs: u64,
    /// Continuous failure needed for a vote, seconds.
    pub failure_threshold_secs: u64,
    /// Credit (blocks) needed for a decommission rather than a deregistration.
    pub decommission_min_credit: i64,
}

/// A validator's verdict on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to vote.
    Nothing,
    /// Vote for this state change, with these reason bits.
    Vote(NewState, u16),
}

/// The decision of §3.3: failing active workers are decommissioned (deregistered
/// without enough credit); decommissioned workers that pass are recommissioned, and
/// deregistered once their credit is negative. A worker this validator has never
/// tested is judged on its uptime proof alone and never recommissioned.
///
/// An active worker's proof age counts at the earliest from when this validator first
/// tested it (§3.3: each validator judges from its own view, and voting starts only
/// after a full validity period), so a node that just registered — or a validator that
/// just started — does not vote a node out before it could send a first proof. A
/// decommissioned worker needs a fresh proof of its own to come back.
pub fn verdict(h: &PeerHistory, w: &WorkerState, rules: &Rules, now_ms: u64) -> Verdict {
    let now_s = now_ms / 1000;
    let mut reasons = 0u16;
    let grace_from = if w.active {
        h.first_seen.map_or(0, |ms| ms / 1000)
    } else {
        0
    };
    let proof_at = w.last_uptime_proof.max(grace_from);
    if now_s.saturating_sub(proof_at) > rules.proof_validity_secs {
        reasons |= reason::UPTIME;
    }
    if h.failing_for(rules.failure_threshold_secs.saturating_mul(1000), now_ms) {
        reasons |= reason::STORAGE;
    }
    match (reasons != 0, w.active) {
        (true, true) if w.credit >= rules.decommission_min_credit => {
            Verdict::Vote(NewState::Decommission, reasons)
        }
        (true, true) => Verdict::Vote(NewState::Deregister, reasons),
        (true, false) if w.credit < 0 => Verdict::Vote(NewState::Deregister, reasons),
        (true, false) => Verdict::Nothing,
        (false, false) if h.passing() => Verdict::Vote(NewState::Recommission, 0),
        (false, _) => Verdict::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        proof_validity_secs: 125,
        failure_threshold_secs: 65,
        decommission_min_credit: 60,
    };
    const NOW: u64 = 1_700_000_000_000;

    fn worker(active: bool, proof_age_s: u64, credit: i64) -> WorkerState {
        WorkerState {
            active,
            last_uptime_proof: NOW / 1000 - proof_age_s,
            credit,
        }
    }

    #[test]
    fn history_tracks_runs_of_failures() {
        let mut h = PeerHistory::default();
        assert!(!h.passing());
        h.record(false, 1_000);
        h.record(false, 5_000);
        assert_eq!(h.failing_since, Some(1_000));
        assert!(h.failing_for(4_000, 5_000));
        assert!(!h.failing_for(4_001, 5_000));
        h.record(true, 6_000);
        assert!(h.passing());
        assert!(!h.failing_for(0, 6_000));
        h.record(false, 7_000);
        assert_eq!(h.failing_since, Some(7_000));
        assert_eq!(h.last_pass, Some(6_000));
    }

    #[test]
    fn verdicts_follow_the_quorum_rules() {
        let mut failing = PeerHistory::default();
        failing.record(false, NOW - 70_000);
        failing.record(false, NOW);
        let mut briefly_failing = PeerHistory::default();
        briefly_failing.record(false, NOW - 10_000);
        let mut passing = PeerHistory::default();
        passing.record(true, NOW);

        // Healthy active node: nothing.
        assert_eq!(
            verdict(&passing, &worker(true, 10, 100), &RULES, NOW),
            Verdict::Nothing
        );
        // Failing too briefly: nothing yet.
        assert_eq!(
            verdict(&briefly_failing, &worker(true, 10, 100), &RULES, NOW),
            Verdict::Nothing
        );
        // Failing for the threshold: decommission, or deregister without credit.
        assert_eq!(
            verdict(&failing, &worker(true, 10, 100), &RULES, NOW),
            Verdict::Vote(NewState::Decommission, reason::STORAGE)
        );
        assert_eq!(
            verdict(&failing, &worker(true, 10, 59), &RULES, NOW),
            Verdict::Vote(NewState::Deregister, reason::STORAGE)
        );
        // A stale uptime proof alone fails an active node (tested for a while)…
        let mut long_known = PeerHistory::default();
        long_known.record(true, NOW - 200_000);
        long_known.record(true, NOW);
        assert_eq!(
            verdict(&long_known, &worker(true, 126, 100), &RULES, NOW),
            Verdict::Vote(NewState::Decommission, reason::UPTIME)
        );
        // …but not one first seen less than a validity period ago: a new node that has
        // not sent its first proof yet, or a validator that just started.
        let new_node = WorkerState {
            active: true,
            last_uptime_proof: 0,
            credit: 100,
        };
        assert_eq!(verdict(&passing, &new_node, &RULES, NOW), Verdict::Nothing);
        assert_eq!(
            verdict(&passing, &new_node, &RULES, NOW + 126_000),
            Verdict::Vote(NewState::Decommission, reason::UPTIME)
        );
        let mut failing_long = PeerHistory::default();
        failing_long.record(false, NOW - 200_000);
        failing_long.record(false, NOW);
        assert_eq!(
            verdict(&failing_long, &worker(true, 200, 100), &RULES, NOW),
            Verdict::Vote(NewState::Decommission, reason::UPTIME | reason::STORAGE)
        );
        // Decommissioned: recommission once it passes with a fresh proof; abstain while
        // it fails with credit left; deregister when the credit is gone.
        assert_eq!(
            verdict(&passing, &worker(false, 5, 10), &RULES, NOW),
            Verdict::Vote(NewState::Recommission, 0)
        );
        assert_eq!(
            verdict(&passing, &worker(false, 500, 10), &RULES, NOW),
            Verdict::Nothing
        );
        assert_eq!(
            verdict(&failing, &worker(false, 5, 10), &RULES, NOW),
            Verdict::Nothing
        );
        assert_eq!(
            verdict(&failing, &worker(false, 5, -1), &RULES, NOW),
            Verdict::Vote(NewState::Deregister, reason::STORAGE)
        );
        // Never tested: no recommission on hearsay.
        assert_eq!(
            verdict(&PeerHistory::default(), &worker(false, 5, 10), &RULES, NOW),
            Verdict::Nothing
        );
    }
}
