//! Counters held in Redis so that every replica agrees on a limit: failed organizer logins, and
//! registrations per client address and per phone (`count_hits`).
//!
//! A counter's window starts at its first hit and lasts the given seconds (`EXPIRE ... NX`
//! leaves a running window alone), so a burst is capped per window and the counter vanishes by
//! itself.

use crate::{HotState, RedisError};

impl HotState {
    /// Counts one hit under each of `counters` (key, window seconds) and returns each count in
    /// its window: one pipeline (`INCR`, `EXPIRE ... NX` per key), one round trip. The keys must
    /// share a slot (`keys::registration_hits` puts them in `{limits}`). How long a window has
    /// left is asked apart ([`HotState::window_left_ms`]), only for a refusal.
    #[tracing::instrument(skip_all)]
    pub async fn count_hits(&self, counters: &[(String, u64)]) -> Result<Vec<u64>, RedisError> {
        // Not a MULTI: a transaction cut by a cluster failover comes back as an aborted EXEC the
        // service cannot tell from a bug (a 500); a plain pipeline's errors are the connection's
        // and the cluster's own (a 503). A counter whose EXPIRE was lost gets it on its next
        // hit (`NX`).
        let mut pipeline = redis::pipe();
        for (key, window_secs) in counters {
            pipeline.incr(key, 1);
            pipeline
                .cmd("EXPIRE")
                .arg(key)
                .arg(*window_secs)
                .arg("NX")
                .ignore();
        }
        let mut connection = self.connection().await?;
        let hits: Vec<i64> = pipeline.query_async(&mut connection).await?;
        Ok(hits
            .into_iter()
            .map(|hits| u64::try_from(hits).unwrap_or_default())
            .collect())
    }

    /// Milliseconds until the window of counter `key` (of `window_secs`) ends and it is gone.
    #[tracing::instrument(skip_all)]
    pub async fn window_left_ms(&self, key: &str, window_secs: u64) -> Result<u64, RedisError> {
        let mut connection = self.connection().await?;
        let left: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await?;
        // -1 (no expiry) cannot follow `EXPIRE NX`, -2 is a window just ended: read anything
        // odd as a whole window.
        Ok(u64::try_from(left)
            .ok()
            .filter(|ms| *ms > 0)
            .unwrap_or(window_secs * 1000))
    }

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
