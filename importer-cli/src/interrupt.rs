//! Stopping an import on request (Ctrl-C, SIGTERM) without losing work.
//!
//! The binary turns the first signal into [`Interrupt::trigger`]; the
//! pipeline then stops handing out chunks, lets the writers flush and the
//! checkpoint save what is durable, and the import returns
//! [`Interrupted`]. The next run resumes from the checkpoint. A second
//! signal is the binary's business: it exits at once.

use std::sync::Arc;

use tokio::sync::watch;

/// A one-shot stop request, cheap to clone and to poll.
#[derive(Debug, Clone)]
pub struct Interrupt {
    tx: Arc<watch::Sender<Option<&'static str>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Self::new()
    }
}

impl Interrupt {
    /// A request nobody has made yet.
    pub fn new() -> Self {
        Interrupt {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// Requests the stop; `reason` names it in messages (e.g. `"SIGINT"`).
    /// Later calls keep the first reason.
    pub fn trigger(&self, reason: &'static str) {
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, once requested.
    pub fn reason(&self) -> Option<&'static str> {
        *self.tx.borrow()
    }

    /// Waits for the request and returns its reason.
    pub async fn triggered(&self) -> &'static str {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(reason) = *rx.borrow_and_update() {
                return reason;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`, so this cannot happen; wait forever.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The import stopped because it was asked to; progress is saved.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted by {reason}: stopped after the chunks in flight, progress saved{where_}; \
     rerun the same command to resume"
)]
pub struct Interrupted {
    /// What asked (`SIGINT`, `SIGTERM`).
    pub reason: &'static str,
    /// ` in <checkpoint file>`, or empty when checkpoints are off.
    pub where_: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_sticks_and_waiters_wake() {
        let i = Interrupt::new();
        assert_eq!(i.reason(), None);
        let waiter = {
            let i = i.clone();
            tokio::spawn(async move { i.triggered().await })
        };
        i.trigger("SIGTERM");
        i.trigger("SIGINT");
        assert_eq!(i.reason(), Some("SIGTERM"));
        assert_eq!(waiter.await.ok(), Some("SIGTERM"));
        assert_eq!(i.triggered().await, "SIGTERM");
    }
}
