//! The question fold: the question counters of flushed attempts, added after the flush.
//!
//! An attempt's 5 questions add about 16 `question_counts` rows (each question at every level
//! of its unit), more than everything else a flush writes together (docs/performance.md). So
//! the flush ([`Questions::Fold`](super::write::Questions)) writes one `question_pending` row per
//! batch and campaign instead, naming the attempts it counted, in the same transaction as the
//! attempts: a batch is pending exactly when its attempts are recorded and counted in every other
//! roll-up. [`Store::fold_questions`] then takes the oldest pending batches, reads their
//! attempts' answers from `attempts`, adds them to the counters and deletes the batches, in one
//! transaction: each batch is folded exactly once, and a failed fold changes nothing.
//!
//! Folding many batches at once meets a cell of the upper levels (a province, the whole
//! campaign) once per fold instead of once per batch, and the fold runs beside the flusher, not
//! in its transaction, so on PostgreSQL the two use two cores. Until a batch is folded, the
//! question analysis does not count it and says how many attempts wait
//! ([`Store::questions_pending`]).
//!
//! Every writer of `question_counts` holds [`lock_fold`]: the fold, a rebuild (which drops its
//! campaign's pending batches, the raw rows holding them), an exclusion (which folds its
//! campaign's pending batches first, so that it subtracts only what was added) and its undo.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::ATTEMPT_COLUMNS;
use super::write::{Malformed, count_questions, select_in, unit_paths};
use crate::record::AttemptRow;
use crate::statement::{SqlType, Statement, Transaction, json_rows};
use crate::{Store, StoreError};

/// Pending batches one fold takes at most: about 16,000 attempts at the shipped batch size.
pub const FOLD_BATCHES: i64 = 32;

/// Attempts one fold takes at most, in whole batches (at least one): about a second of
/// PostgreSQL on this 2-core machine, so that a backlog (a peak, a seed's larger batches) is
/// folded in transactions of a bounded length rather than ever larger ones.
pub const FOLD_ATTEMPTS: i64 = 16_000;

/// What a fold added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// Pending batches folded.
    pub batches: u64,
    /// Their attempts.
    pub attempts: u64,
    /// Whether the fold stopped at one of its bounds with batches left, so more may wait.
    pub more: bool,
}

impl Folded {
    /// Counts `other`'s batches and attempts with these.
    fn add(&mut self, other: Folded) {
        self.batches += other.batches;
        self.attempts += other.attempts;
    }
}

/// Makes every other writer of the question counters wait until this transaction ends. On
/// PostgreSQL, a transaction-scoped advisory lock, taken again at no cost; SQLite has one writer
/// at a time anyway. No holder of it waits for a campaign's roll-up lock, so the order campaign
/// lock, then this one, never deadlocks.
pub(crate) async fn lock_fold(tx: &mut Transaction) -> Result<(), StoreError> {
    if let Transaction::Postgres(_) = tx {
        Statement::new(
            "SELECT pg_advisory_xact_lock(hashtextextended('safequiz question fold', 0))",
        )
        .execute_in(tx)
        .await?;
    }
    Ok(())
}

/// Queues `attempts` (counted in the other roll-ups by this transaction) for the fold.
pub(crate) async fn queue(
    tx: &mut Transaction,
    campaign_id: &str,
    attempts: &[&AttemptRow],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = attempts.iter().map(|a| a.attempt_id.as_str()).collect();
    Statement::new(
        "INSERT INTO question_pending (campaign_id, attempts, attempt_ids) VALUES ($1, $2, $3)",
    )
    .bind(campaign_id)
    .bind(i32::try_from(ids.len()).unwrap_or(i32::MAX))
    .bind(json_rows(&ids))
    .execute_in(tx)
    .await?;
    Ok(())
}

/// A pending batch.
#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    campaign_id: String,
    attempts: i32,
    attempt_ids: String,
}

#[derive(Serialize)]
struct IdRow {
    i: i64,
}

#[derive(Serialize)]
struct AttemptIdRow<'a> {
    a: &'a str,
}

/// Folds up to `limit` pending batches, oldest first, of `campaign_id` or of every campaign,
/// in `tx`.
async fn fold_in(
    tx: &mut Transaction,
    campaign_id: Option<&str>,
    limit: i64,
) -> Result<Folded, StoreError> {
    lock_fold(tx).await?;
    let pending: Vec<Pending> = match campaign_id {
        Some(campaign_id) => Statement::new(
            "SELECT id, campaign_id, attempts, attempt_ids FROM question_pending \
             WHERE campaign_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(campaign_id)
        .bind(limit),
        None => Statement::new(
            "SELECT id, campaign_id, attempts, attempt_ids FROM question_pending \
             ORDER BY id LIMIT $1",
        )
        .bind(limit),
    }
    .fetch_all_in(tx)
    .await?;
    if pending.is_empty() {
        return Ok(Folded::default());
    }
    let read = pending.len();
    let mut taken = 0;
    let mut attempts = 0;
    for batch in &pending {
        if taken > 0 && attempts + i64::from(batch.attempts) > FOLD_ATTEMPTS {
            break;
        }
        attempts += i64::from(batch.attempts);
        taken += 1;
    }
    let pending = &pending[..taken];
    let mut by_campaign: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for batch in pending {
        let ids: Vec<String> =
            serde_json::from_str(&batch.attempt_ids).map_err(|error| StoreError::Record {
                attempt_id: format!("pending batch {}", batch.id),
                problem: format!("its attempt ids do not decode: {error}"),
            })?;
        by_campaign
            .entry(batch.campaign_id.as_str())
            .or_default()
            .extend(ids);
    }
    let mut folded = Folded {
        batches: pending.len() as u64,
        attempts: 0,
        more: taken < read || read as i64 >= limit,
    };
    for (campaign_id, ids) in by_campaign {
        let keys: Vec<AttemptIdRow<'_>> = ids.iter().map(|a| AttemptIdRow { a }).collect();
        let attempts: Vec<AttemptRow> = select_in(
            tx,
            &format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 \
                 AND attempt_id IN (SELECT r.a FROM "
            ),
            campaign_id,
            ("a", SqlType::Text),
            &keys,
        )
        .await?;
        if attempts.len() != ids.len() {
            // Attempts are never deleted, so this is a bug; the ones found are still counted.
            tracing::error!(
                campaign.id = campaign_id,
                queued = ids.len(),
                found = attempts.len(),
                "the question fold found fewer recorded attempts than were queued"
            );
        }
        let units: BTreeSet<&str> = attempts.iter().map(|a| a.unit_id.as_str()).collect();
        let paths = unit_paths(tx, campaign_id, &units).await?;
        let refs: Vec<&AttemptRow> = attempts.iter().collect();
        // The flush built these rows itself; one that does not decode is logged and left out
        // rather than holding back every batch after it.
        count_questions(tx, campaign_id, &refs, &paths, 1, Malformed::LeaveOut).await?;
        folded.attempts += attempts.len() as u64;
    }
    let ids: Vec<IdRow> = pending.iter().map(|batch| IdRow { i: batch.id }).collect();
    let mut st = Statement::new("DELETE FROM question_pending WHERE id IN (SELECT r.i FROM ");
    st.push_json_rows(tx.backend(), "r", &[("i", SqlType::Int8)], json_rows(&ids))
        .push(")");
    st.execute_in(tx).await?;
    Ok(folded)
}

/// Folds every pending batch of `campaign_id` in `tx` (before an exclusion subtracts, or a
/// check compares).
pub(crate) async fn fold_campaign_in(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<Folded, StoreError> {
    let mut total = Folded::default();
    loop {
        let folded = fold_in(tx, Some(campaign_id), FOLD_BATCHES).await?;
        if folded.batches == 0 {
            return Ok(total);
        }
        total.add(folded);
    }
}

/// Drops `campaign_id`'s pending batches in `tx`: a rebuild counts their attempts from the raw
/// rows.
pub(crate) async fn drop_pending_in(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<(), StoreError> {
    lock_fold(tx).await?;
    Statement::new("DELETE FROM question_pending WHERE campaign_id = $1")
        .bind(campaign_id)
        .execute_in(tx)
        .await?;
    Ok(())
}

impl Store {
    /// Folds up to `max_batches` pending batches of flushed attempts into the question
    /// counters, oldest first, in one transaction (see the module's documentation); returns
    /// what it folded, nothing when no batch waits. Run by the question fold worker beside the
    /// flusher, and by `safequiz seed`.
    #[tracing::instrument(skip_all)]
    pub async fn fold_questions(&self, max_batches: i64) -> Result<Folded, StoreError> {
        // Read first, and take the write lock only when a batch waits: an idle fold every
        // second must not contend with other writers (on SQLite, another process's).
        let waiting: i64 = Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM question_pending LIMIT 1) AS w",
        )
        .fetch_scalar(self)
        .await?;
        if waiting == 0 {
            return Ok(Folded::default());
        }
        let mut tx = self.begin_write().await?;
        let folded = fold_in(&mut tx, None, max_batches.max(1)).await?;
        tx.commit().await?;
        Ok(folded)
    }

    /// Folds until no batch waits (tests, the end of a seed).
    pub async fn fold_all_questions(&self) -> Result<Folded, StoreError> {
        let mut total = Folded::default();
        loop {
            let folded = self.fold_questions(FOLD_BATCHES).await?;
            if folded.batches == 0 {
                return Ok(total);
            }
            total.add(folded);
        }
    }

    /// How many recorded attempts of `campaign_id` the question counters do not count yet.
    pub async fn questions_pending(&self, campaign_id: &str) -> Result<i64, StoreError> {
        Ok(Statement::new(
            "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM question_pending \
             WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_scalar(self)
        .await?)
    }
}
