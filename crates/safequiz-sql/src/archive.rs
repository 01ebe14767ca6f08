//! Reading back one finalized attempt that hot state has forgotten.
//!
//! Once the flusher has committed an attempt's row, Redis drops the attempt's fields (see
//! `safequiz_redis::archive`), so a participant's review of an older attempt, or a repeated
//! submit of it, is answered from this row instead. It is one primary-key lookup, and only
//! attempts already flushed reach it: the hot path of an attempt in play never reads SQL.
//!
//! [`Store::recorded_points`] pages through a campaign's attempts by id, without their
//! questions: what the load kit's month scenario checks its millions of submits against in
//! bounded memory.

use crate::record::{AttemptRow, StoredQuestion};
use crate::rollups::ATTEMPT_COLUMNS;
use crate::statement::Statement;
use crate::{Store, StoreError};

/// A recorded attempt with its questions decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedAttempt {
    /// The row as recorded.
    pub row: AttemptRow,
    /// Its questions in display order (the row's `questions` JSON, decoded).
    pub questions: Vec<StoredQuestion>,
}

impl Store {
    /// Attempt `number` of `participant_id` in `campaign_id` (its id is `<participant>-<n>`),
    /// when the record has it. A row whose questions do not decode is an error, not `None`.
    #[tracing::instrument(skip(self))]
    pub async fn archived_attempt(
        &self,
        campaign_id: &str,
        participant_id: i64,
        number: u32,
    ) -> Result<Option<ArchivedAttempt>, StoreError> {
        let row: Option<AttemptRow> = Statement::new(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 AND attempt_id = $2 \
             AND participant_id = $3"
        ))
        .bind(campaign_id)
        .bind(format!("{participant_id}-{number}"))
        .bind(participant_id)
        .fetch_optional(self)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let questions =
            StoredQuestion::decode_all(&row.questions).map_err(|error| StoreError::Record {
                attempt_id: row.attempt_id.clone(),
                problem: error.to_string(),
            })?;
        Ok(Some(ArchivedAttempt { row, questions }))
    }

    /// Up to `limit` attempts of `campaign_id` with ids after `after` (text order, the primary
    /// key's), each as `(attempt id, points)`: pages of the whole record in bounded memory.
    pub async fn recorded_points(
        &self,
        campaign_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, i32)>, StoreError> {
        let rows: Vec<(String, i32)> = Statement::new(
            "SELECT attempt_id, points FROM attempts WHERE campaign_id = $1 AND attempt_id > $2 \
             ORDER BY attempt_id LIMIT $3",
        )
        .bind(campaign_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self)
        .await?;
        Ok(rows)
    }
}
