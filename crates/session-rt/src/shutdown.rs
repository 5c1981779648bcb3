//! Graceful shutdown: a cloneable [`Shutdown`] signal every long-running task watches,
//! the [`ShutdownTrigger`] that fires it, and Ctrl-C / SIGTERM handling for binaries.

use tokio::sync::watch;

/// Fires the shutdown signal. Dropping the trigger also counts as a shutdown request, so
/// a test that forgets its trigger never leaves servers running.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A shutdown signal; cheap to clone, one per task that must stop.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// A new trigger and the signal it fires.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Asks every holder of the signal to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Another signal fired by this trigger.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }
}

impl Shutdown {
    /// A signal that never fires (for tools and tests that stop by dropping tasks).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive forever so the receiver never sees "closed".
        std::mem::forget(tx);
        Self { rx }
    }

    /// Whether shutdown has been requested.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow() || self.rx.has_changed().is_err()
    }

    /// Completes once shutdown is requested (or the trigger is dropped).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the trigger was dropped: treat it as a shutdown request.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM; returns the signal's name.
pub async fn termination_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
    }
}

/// Fires `trigger` when the process receives Ctrl-C or SIGTERM. Spawn this next to the
/// servers of a binary.
pub async fn trigger_on_signal(trigger: ShutdownTrigger) {
    match termination_signal().await {
        Ok(name) => tracing::info!("{name} received, shutting down"),
        Err(e) => tracing::warn!("cannot listen for termination signals ({e}); shutting down"),
    }
    trigger.trigger();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn trigger_wakes_all_clones() {
        let (trigger, shutdown) = channel();
        let other = shutdown.clone();
        assert!(!shutdown.is_triggered());
        let waiter = tokio::spawn(async move { other.wait().await });
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn dropping_the_trigger_shuts_down() {
        let (trigger, shutdown) = channel();
        drop(trigger);
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .unwrap();
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn never_does_not_fire() {
        let s = Shutdown::never();
        assert!(!s.is_triggered());
        assert!(
            tokio::time::timeout(Duration::from_millis(5), s.wait())
                .await
                .is_err()
        );
    }
}
