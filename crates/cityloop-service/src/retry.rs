//! Retrying a write across a database failover, only where a retry cannot write twice.
//!
//! When the connection to PostgreSQL drops (the leader died, Patroni is promoting a
//! standby), a write's commit may or may not have happened: its answer was lost. The
//! store reports that as [`StoreError::Unavailable`]. A write that carries an idempotency
//! key stored in its own transaction (the Open311 `Idempotency-Key` or the key derived
//! from `device_id`, the staff API's `Idempotency-Key`) is retried here until the new
//! leader answers: if the first attempt committed, the retry finds its key and answers
//! with the first result; if not, the retry writes it. A write without a key is never
//! retried: the caller gets a 503 and decides (it may have been written once, never
//! twice). The pool reconnects by itself (sqlx tests each connection before use), so the
//! retry only has to wait.

use std::time::Duration;

use cityloop_store::StoreError;
use tokio::time::Instant;

/// How long an idempotent write keeps retrying by default: longer than a Patroni failover
/// with the settings in docs/OPERATIONS.md (about 10–15 s), shorter than the 30 s request
/// timeout, so the client gets the answer or a 503 rather than a 408.
pub const DEFAULT_WRITE_RETRY: Duration = Duration::from_secs(20);

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// The retry state of one write.
#[derive(Debug)]
pub(crate) struct Retry {
    until: Instant,
    pause: Duration,
    attempts: u32,
}

impl Retry {
    /// A retry budget of `window` from now.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            until: Instant::now() + window,
            pause: FIRST_PAUSE,
            attempts: 0,
        }
    }

    /// After a failed attempt: true (having waited) when `err` is a lost connection and
    /// the budget allows another attempt; false when the error must be answered.
    pub(crate) async fn again(&mut self, err: &StoreError) -> bool {
        let StoreError::Unavailable(why) = err else {
            return false;
        };
        let now = Instant::now();
        if now + self.pause >= self.until {
            tracing::warn!(error = %why, attempts = self.attempts + 1, "database still unavailable; giving up on an idempotent write");
            return false;
        }
        self.attempts += 1;
        tracing::warn!(error = %why, attempt = self.attempts, "database unavailable; retrying an idempotent write");
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_lost_connection_is_retried_and_only_within_the_window() {
        let mut r = Retry::new(Duration::from_millis(300));
        assert!(!r.again(&StoreError::Conflict("x".into())).await);
        assert!(!r.again(&StoreError::NotFound("x".into())).await);
        let mut n = 0;
        while r.again(&StoreError::Unavailable("gone".into())).await {
            n += 1;
            assert!(n < 20, "the window must end the retries");
        }
        assert!(n >= 2, "a few retries fit in 300 ms, got {n}");
    }
}
