//! Retrying statements that failed for transient reasons.
//!
//! A lost connection, a deadlock or a lock-wait timeout says nothing about
//! the statement itself: the same statement is tried again after a growing
//! pause. The pool drops the broken connection (it pings before handing one
//! out), so the next attempt runs on a fresh session.

use std::future::Future;
use std::time::Duration;

use crate::error::{ErrorClass, TidbError, classify};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total (at least 1).
    pub max_attempts: u32,
    /// Pause after the first failure; doubled after each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Runs `op` until it succeeds, fails with an error that is not
/// retryable (returned at once, classified), or has failed
/// `policy.max_attempts` times ([`TidbError::RetriesExhausted`]).
pub async fn with_retry<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, TidbError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    let mut backoff = policy.backoff;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if classify(&err) == ErrorClass::Retryable => {
                if attempt >= policy.max_attempts.max(1) {
                    return Err(TidbError::RetriesExhausted {
                        what: what.to_string(),
                        attempts: attempt,
                        source: err,
                    });
                }
                tracing::warn!(what, attempt, ?backoff, error = %err, "transient error, retrying");
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
                attempt += 1;
            }
            Err(err) => return Err(TidbError::sql(what, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn io_err() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone"))
    }

    #[tokio::test]
    async fn retries_transient_then_succeeds() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(1),
        };
        let result = with_retry(policy, "x", || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(io_err()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.ok(), Some(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_stops_on_fatal() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(1),
        };
        let result: Result<(), _> = with_retry(policy, "x", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(io_err()) }
        })
        .await;
        assert!(matches!(
            result,
            Err(TidbError::RetriesExhausted { attempts: 3, .. })
        ));
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = with_retry(policy, "x", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(sqlx::Error::Protocol("bad".into())) }
        })
        .await;
        assert!(matches!(
            result,
            Err(TidbError::Sql {
                class: ErrorClass::Fatal,
                ..
            })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
