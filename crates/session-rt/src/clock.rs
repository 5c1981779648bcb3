//! Injected time. Services never read the system clock directly: they hold an
//! `Arc<dyn Clock>`, which is a [`SystemClock`] in production and a [`MockClock`] in tests,
//! where TTLs, timestamp windows and periodic jobs run in virtual time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A boxed future that completes when a clock reaches a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time (milliseconds since the Unix epoch) and of timers that
/// follow that time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Seconds since the Unix epoch, with the milliseconds as the fraction (the unit the
    /// community and file servers store and send).
    fn now_secs(&self) -> f64 {
        // Milliseconds since 1970 fit an f64 exactly for the next few hundred millennia.
        #[allow(clippy::cast_precision_loss)]
        let ms = self.now_ms() as f64;
        ms / 1000.0
    }

    /// A future that completes once `now_ms() >= deadline_ms`.
    fn sleep_until_ms(&self, deadline_ms: u64) -> Sleep;

    /// A future that completes after `d` has elapsed on this clock.
    fn sleep(&self, d: Duration) -> Sleep {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.sleep_until_ms(self.now_ms().saturating_add(ms))
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// A shareable system clock.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn sleep_until_ms(&self, deadline_ms: u64) -> Sleep {
        let now = self.now_ms();
        let wait = Duration::from_millis(deadline_ms.saturating_sub(now));
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when a test moves it. Sleepers wake as soon as the virtual
/// time passes their deadline.
#[derive(Debug, Clone)]
pub struct MockClock {
    tx: Arc<watch::Sender<u64>>,
}

impl MockClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        let (tx, _rx) = watch::channel(start_ms);
        Self { tx: Arc::new(tx) }
    }

    /// A clock standing at the current system time (handy when a test talks to code
    /// that checks timestamps against its own clock).
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.tx.send_modify(|t| *t = t.saturating_add(ms));
    }

    /// Sets the clock to `ms` (may move backwards, like a real clock being corrected).
    pub fn set_ms(&self, ms: u64) {
        self.tx.send_replace(ms);
    }

    /// This clock as a shareable trait object (clones share the same time).
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Clock for MockClock {
    fn now_ms(&self) -> u64 {
        *self.tx.borrow()
    }

    fn sleep_until_ms(&self, deadline_ms: u64) -> Sleep {
        let mut rx = self.tx.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, then every change. It only
            // fails if the sender is gone, in which case time can never reach the
            // deadline: sleep forever like a timer that never fires.
            if rx.wait_for(|now| *now >= deadline_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_plausible() {
        // After 2020-01-01 and in milliseconds.
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }

    #[tokio::test]
    async fn mock_sleep_wakes_on_advance() {
        let clock = MockClock::new(1_000);
        let shared = clock.shared();
        let sleeper = tokio::spawn(shared.sleep(Duration::from_secs(10)));
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shared.now_ms(), 11_000);
    }

    #[tokio::test]
    async fn past_deadline_is_immediate() {
        let clock = MockClock::new(50);
        tokio::time::timeout(Duration::from_secs(5), clock.sleep_until_ms(10))
            .await
            .unwrap();
    }
}
