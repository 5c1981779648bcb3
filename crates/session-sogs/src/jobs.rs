//! Periodic cleanup (community-server spec §8): what PySOGS's mule does every 10 s.
//!
//! [`cleanup_loop`] calls [`SogsStore::cleanup`] at start and then every interval on the
//! injected clock, so tests drive it with a [`session_rt::MockClock`]. One run applies
//! due scheduled permission changes and unbans, deletes expired files, expired DMs,
//! expired request nonces, old edit history and old room activity, and recomputes every
//! room's active-user count. Runs that removed files or DMs or applied scheduled
//! changes are logged at `info` with their counts, the others (nothing, or only the
//! routine pruning of nonces, activity and history) at `debug`; a failing run is
//! logged at `warn` and retried at the next tick. The loop stops when the shutdown
//! signal fires (a run in progress finishes first: it is one transaction).

use std::sync::Arc;
use std::time::Duration;

use session_rt::{Clock, Shutdown};

use crate::store::{CleanupCounts, SogsStore};

/// PySOGS's cleanup period.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(10);

/// What a [`cleanup_loop`] did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupTotals {
    /// Successful runs.
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// The sum of every successful run's counts.
    pub counts: CleanupCounts,
}

fn add(total: &mut CleanupCounts, c: &CleanupCounts) {
    total.files += c.files;
    total.history += c.history;
    total.direct_messages += c.direct_messages;
    total.nonces += c.nonces;
    total.room_activity += c.room_activity;
    total.permission_changes += c.permission_changes;
    total.ban_changes += c.ban_changes;
}

fn is_quiet(c: &CleanupCounts) -> bool {
    *c == CleanupCounts::default()
}

/// Only the pruning that happens all the time on a busy server (used nonces, old room
/// activity, old edit history): logged at `debug` rather than `info`.
fn is_routine(c: &CleanupCounts) -> bool {
    c.files == 0 && c.direct_messages == 0 && c.permission_changes == 0 && c.ban_changes == 0
}

/// Runs one cleanup off the async runtime and logs what it did.
pub async fn cleanup_once(
    store: &Arc<dyn SogsStore>,
    clock: &Arc<dyn Clock>,
) -> Result<CleanupCounts, crate::store::StoreError> {
    let now = clock.now_secs();
    let store = Arc::clone(store);
    let counts =
        tokio::task::spawn_blocking(move || crate::store::blocking_section(|| store.cleanup(now)))
            .await
            .map_err(|e| crate::store::StoreError::Database {
                path: "cleanup".into(),
                detail: format!("the cleanup task failed: {e}"),
            })??;
    if is_quiet(&counts) {
        tracing::debug!("cleanup: nothing to do");
    } else if is_routine(&counts) {
        tracing::debug!(
            nonces = counts.nonces,
            room_activity = counts.room_activity,
            history = counts.history,
            "cleanup: pruned old nonces, activity and edit history"
        );
    } else {
        tracing::info!(
            files = counts.files,
            history = counts.history,
            direct_messages = counts.direct_messages,
            nonces = counts.nonces,
            room_activity = counts.room_activity,
            permission_changes = counts.permission_changes,
            ban_changes = counts.ban_changes,
            "cleanup: pruned expired data and applied scheduled changes"
        );
    }
    Ok(counts)
}

/// Cleans up now and then every `interval` of `clock` until `shutdown` fires; returns
/// what it did.
pub async fn cleanup_loop(
    store: Arc<dyn SogsStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    shutdown: Shutdown,
) -> CleanupTotals {
    let mut totals = CleanupTotals::default();
    loop {
        if shutdown.is_triggered() {
            break;
        }
        match cleanup_once(&store, &clock).await {
            Ok(c) => {
                totals.runs += 1;
                add(&mut totals.counts, &c);
            }
            Err(e) => {
                totals.failures += 1;
                tracing::warn!("cleanup failed (retrying in {interval:?}): {e}");
            }
        }
        tokio::select! {
            () = shutdown.wait() => break,
            () = clock.sleep(interval) => {}
        }
    }
    tracing::debug!(runs = totals.runs, "cleanup stopped");
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DAY, NewRoom, Retention, RoomDefaults, testing};
    use session_crypto::AccountId;
    use session_crypto::account_id::IdPrefix;
    use session_rt::MockClock;

    fn user(n: u8) -> AccountId {
        AccountId::new(IdPrefix::Blinded15, [n; 32])
    }

    /// Yields until `f` holds (the loop runs on the same runtime), with a deadline.
    async fn until(mut f: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not reached"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn runs_on_the_clock_and_stops_on_shutdown() {
        let t = testing::sqlite(Retention::default());
        let store = Arc::clone(&t.store);
        let start = 1_700_000_000_000u64;
        let clock = MockClock::new(start);
        let now = start as f64 / 1000.0;
        store
            .create_room(
                &NewRoom {
                    token: "lobby".into(),
                    name: "Lobby".into(),
                    description: None,
                    defaults: RoomDefaults::default(),
                },
                now,
            )
            .unwrap();
        store.ensure_user(&user(1), now).unwrap();
        store.ensure_user(&user(2), now).unwrap();
        store.record_activity("lobby", &user(1), now).unwrap();
        store.send_dm(&user(1), &user(2), b"hi", now).unwrap();

        let (trigger, shutdown) = session_rt::shutdown::channel();
        let task = tokio::spawn(cleanup_loop(
            Arc::clone(&store),
            clock.shared(),
            CLEANUP_INTERVAL,
            shutdown,
        ));
        // The first run happens at once and counts the active user.
        until(|| store.room("lobby").unwrap().unwrap().active_users == 1).await;

        // 16 days later (one tick of the clock): the DM has expired, the user is no
        // longer active.
        clock.advance(Duration::from_secs_f64(16.0 * DAY));
        until(|| store.room("lobby").unwrap().unwrap().active_users == 0).await;

        trigger.trigger();
        let totals = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        assert!(totals.runs >= 2, "{totals:?}");
        assert_eq!(totals.failures, 0);
        assert_eq!(totals.counts.direct_messages, 1, "{totals:?}");
    }

    #[tokio::test]
    async fn a_triggered_shutdown_means_no_run() {
        let t = testing::sqlite(Retention::default());
        let (trigger, shutdown) = session_rt::shutdown::channel();
        trigger.trigger();
        let totals = cleanup_loop(
            Arc::clone(&t.store),
            MockClock::new(0).shared(),
            CLEANUP_INTERVAL,
            shutdown,
        )
        .await;
        assert_eq!(totals, CleanupTotals::default());
    }
}
