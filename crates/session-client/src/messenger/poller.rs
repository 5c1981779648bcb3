//! The steady background poller: [`Messenger::fetch`] every `interval`, backing off
//! (doubling, up to a minute) while polls fail, until stopped.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Event, Messenger};

/// The longest wait between failed polls.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A running background poller; stops when [`PollerHandle::stop`] is called or the
/// handle is dropped.
#[derive(Debug)]
pub struct PollerHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl PollerHandle {
    /// Stops the poller and waits for its task to end (a poll in progress is abandoned;
    /// what it already stored stays, and the next poll continues from there).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for PollerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Messenger {
    /// Starts polling in the background every `interval` (new messages arrive as
    /// [`Event`]s on [`Messenger::subscribe`]; a failed poll is announced as
    /// [`Event::PollFailed`] and retried after a growing pause). Needs a Tokio runtime.
    pub fn spawn_poller(&self, interval: Duration) -> PollerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut pause = interval;
            loop {
                let outcome = tokio::select! {
                    r = me.fetch() => r,
                    _ = stopped.changed() => return,
                };
                match outcome {
                    Ok(_) => pause = interval,
                    Err(e) => {
                        tracing::warn!(error = %e, "poll failed");
                        me.emit(Event::PollFailed(e.to_string()));
                        pause = (pause.max(Duration::from_millis(500)) * 2).min(MAX_BACKOFF);
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        PollerHandle {
            stop,
            task: Some(task),
        }
    }
}
