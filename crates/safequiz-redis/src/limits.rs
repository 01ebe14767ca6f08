//! Counters of failed logins, for rate limiting organizer logins across every replica.
//!
//! A counter's window starts at its first failure and lasts the given seconds (`EXPIRE ... NX`
//! leaves a running window alone), so a burst of guesses is capped per window and the counter
//! vanishes by itself.

use crate::{HotState, RedisError};

impl HotState {
    /// The failures counted under each of `keys` in their current windows (0 when none).
    #[tracing::instrument(skip_all)]
    pub async fn failures(&self, keys: &[String]) -> Result<Vec<u64>, RedisError> {
        let mut connection = self.connection().await?;
        let counts: Vec<Option<u64>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut connection)
            .await?;
        Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Counts one failure under each of `keys`; a window lasts `window_secs` from its first.
    #[tracing::instrument(skip_all)]
    pub async fn count_failure(&self, keys: &[String], window_secs: u64) -> Result<(), RedisError> {
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for key in keys {
            pipeline.incr(key, 1).ignore();
            pipeline
                .cmd("EXPIRE")
                .arg(key)
                .arg(window_secs)
                .arg("NX")
                .ignore();
        }
        let mut connection = self.connection().await?;
        let () = pipeline.query_async(&mut connection).await?;
        Ok(())
    }

    /// Forgets the failures counted under `key` (after a successful login).
    #[tracing::instrument(skip_all)]
    pub async fn clear_failures(&self, key: &str) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut connection)
            .await?;
        Ok(())
    }
}
