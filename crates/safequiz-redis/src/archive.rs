//! Forgetting flushed attempts: what keeps Redis memory bounded per participant, not per attempt.
//!
//! An attempt lives in its participant's hash while it is open and until the flusher has
//! committed its row to SQL; then [`HotState::forget_flushed`] removes its fields (`n:t n:q n:k
//! n:v n:a n:r`), one `forget.lua` call per shard and batch. The hash keeps the totals, the day
//! counter, `seq` and the open attempt, and the boards keep their entries, so every rule still
//! reads hot state alone: the daily limit (`day`, `dn`), resume (`open`), ranks (totals and
//! boards). Only an attempt that is final and not open is forgotten.
//!
//! A later read or submit of a forgotten attempt answers `archived` (its fields are gone but its
//! number is at most `seq`); the service then reads the row from SQL and answers exactly what it
//! answered before. A save answers `closed`, as for any final attempt. SQL is read only there: an
//! attempt is forgotten only after it is final and flushed, never on the hot path of an attempt
//! in play (docs/design.md §2.5).

use std::collections::BTreeMap;

use crate::attempts::AttemptId;
use crate::keys::{Shard, ShardKeys};
use crate::scripts::FORGET;
use crate::{HotState, RedisError};

impl HotState {
    /// Removes the fields of `attempts`, all of participants in `shard`, from their
    /// participants' hashes; each only when it is final and not the open attempt. Call it only
    /// once their rows are committed to SQL. Returns how many were removed.
    #[tracing::instrument(skip_all, fields(shard = %shard, attempts = attempts.len()))]
    pub async fn forget_flushed(
        &self,
        campaign: &str,
        shard: Shard,
        attempts: &[AttemptId],
    ) -> Result<u64, RedisError> {
        let mut by_participant: BTreeMap<u64, String> = BTreeMap::new();
        for attempt in attempts {
            let numbers = by_participant.entry(attempt.participant).or_default();
            if !numbers.is_empty() {
                numbers.push(',');
            }
            numbers.push_str(&attempt.number.to_string());
        }
        if by_participant.is_empty() {
            return Ok(0);
        }
        let keys = ShardKeys::new(campaign, shard);
        let mut call = FORGET.call();
        for (participant, numbers) in &by_participant {
            call.key(keys.participant(*participant)).arg(numbers);
        }
        let mut connection = self.connection().await?;
        Ok(call.invoke(&mut connection).await?)
    }
}
