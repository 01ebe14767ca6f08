//! The record read back for recovery (`leaderboards rebuild`, `reconcile`) in bounded batches.
//!
//! A campaign's record may hold tens of millions of attempts, more than a recovery command can
//! hold in memory. So recovery walks it in keyset batches of participants, in participant-id
//! order: [`Store::participant_batch`] (or [`Store::participant_ids`] when only the boundaries
//! matter) gives a batch of registrations after a cursor, and [`Store::attempt_summaries`]
//! streams the attempts of the participants in that batch's id range, one row at a time, so
//! the caller folds them into per-participant sums and drops the rows as it reads them. Both
//! use an index (`participants`' primary key, `attempts_by_participant`), so each batch costs
//! the same wherever it is in the campaign.
//!
//! An attempt row is read without its questions: recovery needs the sums, the day and the
//! attempt number, never the questions JSON, which is most of a row's bytes. Whether the
//! attempt had full marks is the `full_marks` column, written by the flusher with the domain's
//! rule (`safequiz_domain::score::is_full_marks`).

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::record::ParticipantRow;
use crate::statement::Statement;
use crate::{Store, StoreError};

/// One finalized attempt, as recovery needs it: its sums and when, without its questions.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptSummary {
    /// `<participant>-<n>`.
    pub attempt_id: String,
    /// The participant.
    pub participant_id: i64,
    /// The participant's unit.
    pub unit_id: String,
    /// Calendar day number of the start in the campaign's zone.
    pub day: i32,
    /// Unix ms (for an automatic submission, the deadline).
    pub finished_at_ms: i64,
    /// Time counted, ms.
    pub time_used_ms: i64,
    /// Points earned.
    pub points: i32,
    /// Every question answered correctly (the flusher's `is_full_marks`).
    pub full_marks: bool,
}

/// Which participant ids a batch covers: every id in `(after, upto]`, `upto` `None` for
/// every id after `after` (the last batch, which also takes attempts of ids above the last
/// registration, should the record hold any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    /// Ids strictly above this.
    pub after: i64,
    /// Ids up to and including this; `None`: no upper bound.
    pub upto: Option<i64>,
}

impl IdRange {
    /// The range of a batch that read `ids` (ascending) after `after`, asking for `limit`:
    /// a short batch is the last one and is open above.
    pub fn of_batch(after: i64, ids: &[i64], limit: i64) -> IdRange {
        let full = i64::try_from(ids.len()).unwrap_or(i64::MAX) >= limit;
        IdRange {
            after,
            upto: if full { ids.last().copied() } else { None },
        }
    }
}

impl Store {
    /// Up to `limit` registrations of `campaign_id` with ids above `after`, by id.
    pub async fn participant_batch(
        &self,
        campaign_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ParticipantRow>, StoreError> {
        let rows = Statement::new(
            "SELECT campaign_id, participant_id, name, phone_masked, phone_hash, unit_id, \
             registered_at_ms FROM participants WHERE campaign_id = $1 AND participant_id > $2 \
             ORDER BY participant_id LIMIT $3",
        )
        .bind(campaign_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self)
        .await?;
        Ok(rows)
    }

    /// Up to `limit` participant ids of `campaign_id` above `after`, ascending: a batch's
    /// boundaries when its registrations themselves are not needed.
    pub async fn participant_ids(
        &self,
        campaign_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = Statement::new(
            "SELECT participant_id FROM participants WHERE campaign_id = $1 \
             AND participant_id > $2 ORDER BY participant_id LIMIT $3",
        )
        .bind(campaign_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Every attempt of `campaign_id` whose participant id is in `range`, streamed: the rows
    /// are read as the caller consumes them, holding one pooled connection until the stream
    /// ends or is dropped.
    pub fn attempt_summaries<'a>(
        &'a self,
        campaign_id: &str,
        range: IdRange,
    ) -> BoxStream<'a, Result<AttemptSummary, StoreError>> {
        Statement::new(
            "SELECT attempt_id, participant_id, unit_id, day, finished_at_ms, time_used_ms, \
             points, full_marks FROM attempts WHERE campaign_id = $1 AND participant_id > $2 \
             AND participant_id <= $3",
        )
        .bind(campaign_id)
        .bind(range.after)
        .bind(range.upto.unwrap_or(i64::MAX))
        .fetch(self)
        .map(|row| row.map_err(StoreError::from))
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::IdRange;

    #[test]
    fn a_full_batch_ends_at_its_last_id_and_a_short_one_is_open_above() {
        assert_eq!(
            IdRange::of_batch(0, &[1, 5, 9], 3),
            IdRange {
                after: 0,
                upto: Some(9)
            }
        );
        assert_eq!(
            IdRange::of_batch(9, &[12], 3),
            IdRange {
                after: 9,
                upto: None
            }
        );
        assert_eq!(
            IdRange::of_batch(12, &[], 3),
            IdRange {
                after: 12,
                upto: None
            }
        );
    }
}
