//! Rebuilding a campaign's roll-ups from its raw rows, and checking them against a rebuild.

use std::fmt;

use super::fold::{drop_pending_in, fold_campaign_in};
use super::write::{Questions, add_attempts, lock_campaign};
use crate::record::AttemptRow;
use crate::statement::{Statement, Transaction};
use crate::{Backend, Store, StoreError};

/// The roll-up tables a campaign's rebuild empties and fills again, each with the condition that
/// selects the campaign's rows (`$1`, the campaign): `question_counts` has no campaign column,
/// its unit keys belong to one campaign.
const TABLES: [(&str, &str); 4] = [
    ("unit_days", "campaign_id = $1"),
    (
        "question_counts",
        "unit_key IN (SELECT id FROM rollup_keys WHERE campaign_id = $1 AND kind = 'unit')",
    ),
    ("participant_totals", "campaign_id = $1"),
    ("participant_days", "campaign_id = $1"),
];

/// Participants whose attempts a rebuild reads and counts at once.
const PARTICIPANTS_PER_STEP: i64 = 2_000;

/// What a rebuild counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Registered participants.
    pub participants: u64,
    /// Attempts.
    pub attempts: u64,
}

/// The columns of an attempt row, its questions as text on either database.
pub(crate) const ATTEMPT_COLUMNS: &str = "campaign_id, attempt_id, participant_id, unit_id, day, \
     started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, auto_submitted, \
     full_marks, CAST(questions AS TEXT) AS questions";

/// Empties `campaign_id`'s roll-ups and counts every recorded registration and attempt again,
/// in `tx`, holding the roll-up lock so that no flusher adds to them meanwhile.
pub(crate) async fn rebuild_in(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<Rebuilt, StoreError> {
    lock_campaign(tx, campaign_id).await?;
    drop_pending_in(tx, campaign_id).await?;
    for (table, of_campaign) in TABLES {
        Statement::new(&format!("DELETE FROM {table} WHERE {of_campaign}"))
            .bind(campaign_id)
            .execute_in(tx)
            .await?;
    }
    let participants = Statement::new(
        "INSERT INTO participant_totals (campaign_id, participant_id, unit_id, name, \
         phone_masked, registered_at_ms, registered, attempts, points, full_marks, time_used_ms, \
         last_finished_at_ms) \
         SELECT campaign_id, participant_id, unit_id, name, phone_masked, registered_at_ms, TRUE, \
         0, 0, 0, 0, CAST(NULL AS BIGINT) FROM participants WHERE campaign_id = $1",
    )
    .bind(campaign_id)
    .execute_in(tx)
    .await?;
    // Step by participant: each step holds every attempt of its participants, so their days
    // are counted from nothing, as if each participant's attempts arrived in one batch.
    let mut attempts = 0;
    let mut after = i64::MIN;
    loop {
        let ids: Vec<i64> = Statement::new(
            "SELECT DISTINCT participant_id FROM attempts WHERE campaign_id = $1 \
             AND participant_id > $2 AND participant_id NOT IN (SELECT x.participant_id FROM \
             exclusions x WHERE x.campaign_id = $1 AND x.undone_at_ms IS NULL) \
             ORDER BY participant_id LIMIT $3",
        )
        .bind(campaign_id)
        .bind(after)
        .bind(PARTICIPANTS_PER_STEP)
        .fetch_scalars_in(tx)
        .await?;
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            break;
        };
        let rows: Vec<AttemptRow> = Statement::new(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 \
             AND participant_id >= $2 AND participant_id <= $3 AND participant_id NOT IN \
             (SELECT x.participant_id FROM exclusions x WHERE x.campaign_id = $1 \
             AND x.undone_at_ms IS NULL)"
        ))
        .bind(campaign_id)
        .bind(first)
        .bind(last)
        .fetch_all_in(tx)
        .await?;
        let refs: Vec<&AttemptRow> = rows.iter().collect();
        add_attempts(tx, campaign_id, &refs, Questions::Now).await?;
        attempts += rows.len() as u64;
        after = last;
    }
    Ok(Rebuilt {
        participants,
        attempts,
    })
}

/// A roll-up row that differs from what a rebuild computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupDifference {
    /// What was compared: `unit_days`, `unit_days participants`, `question_counts`,
    /// `participant_totals` or `participant_days`.
    pub table: &'static str,
    /// Which row: its key columns.
    pub key: String,
    /// The recorded values, `None` when the row is missing.
    pub recorded: Option<String>,
    /// The values a rebuild computes, `None` when the row should not exist.
    pub expected: Option<String>,
}

impl fmt::Display for RollupDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |values: &Option<String>| values.clone().unwrap_or_else(|| "missing".to_owned());
        write!(
            f,
            "roll-up {} {}: recorded {}, from the raw rows {}",
            self.table,
            self.key,
            show(&self.recorded),
            show(&self.expected)
        )
    }
}

/// One comparison: a query over a roll-up table, by key, of what must equal a rebuild's.
struct Comparison {
    table: &'static str,
    /// `SELECT <key text> AS key, <values text> AS value FROM {table} WHERE campaign_id = $1
    /// ...`, with `{table}` standing for the table or its copy.
    select: &'static str,
    /// The select on PostgreSQL, where its layout differs.
    postgres: Option<&'static str>,
    source: &'static str,
}

/// What the check compares: sums that do not depend on the order the attempts arrived in.
/// `unit_days` keeps a day's attempts in whichever `prev_day` row was current when they came,
/// so its sums are compared per day, and its participants per (day, previous day). A figure of
/// zero equals no row: an exclusion subtracts a participant's attempts (`remove_participant`)
/// and may leave rows that add up to nothing where a rebuild writes none.
const COMPARISONS: [Comparison; 5] = [
    Comparison {
        table: "unit_days",
        source: "unit_days",
        postgres: None,
        select: "SELECT unit_id || ' day ' || CAST(day AS TEXT) AS key, \
                 'attempts ' || CAST(SUM(attempts) AS TEXT) || ', points ' || \
                 CAST(SUM(points) AS TEXT) || ', full marks ' || CAST(SUM(full_marks) AS TEXT) \
                 AS value FROM {table} WHERE campaign_id = $1 GROUP BY unit_id, day \
                 HAVING SUM(attempts) <> 0 OR SUM(points) <> 0 OR SUM(full_marks) <> 0",
    },
    Comparison {
        table: "unit_days participants",
        source: "unit_days",
        postgres: None,
        select: "SELECT unit_id || ' day ' || CAST(day AS TEXT) || ' after ' || \
                 CAST(prev_day AS TEXT) AS key, CAST(SUM(participants) AS TEXT) AS value \
                 FROM {table} WHERE campaign_id = $1 GROUP BY unit_id, day, prev_day \
                 HAVING SUM(participants) <> 0",
    },
    Comparison {
        table: "question_counts",
        source: "question_counts",
        select: "SELECT u.name || ' day ' || CAST(q.day AS TEXT) || ' ' || k.name || \
                 ' chosen ' || CAST(q.chosen AS TEXT) || ' correct ' || \
                 CAST(CAST(q.correct AS INTEGER) AS TEXT) AS key, \
                 CAST(q.answers AS TEXT) || ' of ' || CAST(q.options AS TEXT) || ' options' \
                 AS value FROM {table} q JOIN rollup_keys u ON u.id = q.unit_key \
                 JOIN rollup_keys k ON k.id = q.question_key WHERE u.campaign_id = $1 \
                 AND q.answers <> 0",
        // The same rows, a cell's days spread out of its running total.
        postgres: Some(
            "SELECT u.name || ' day ' || CAST(d.day AS TEXT) || ' ' || k.name || \
             ' chosen ' || CAST(q.chosen AS TEXT) || ' correct ' || \
             CAST(CAST(q.correct AS INTEGER) AS TEXT) AS key, \
             CAST(d.answers AS TEXT) || ' of ' || CAST(q.options AS TEXT) || ' options' \
             AS value FROM {table} q CROSS JOIN LATERAL (SELECT i AS day, \
             q.answers[i] - COALESCE(q.answers[i - 1], 0) AS answers \
             FROM generate_subscripts(q.answers, 1) AS i) AS d \
             JOIN rollup_keys u ON u.id = q.unit_key \
             JOIN rollup_keys k ON k.id = q.question_key WHERE u.campaign_id = $1 \
             AND d.answers <> 0",
        ),
    },
    Comparison {
        table: "participant_totals",
        source: "participant_totals",
        postgres: None,
        select: "SELECT CAST(participant_id AS TEXT) AS key, unit_id || ' ' || name || ' ' || \
                 phone_masked || ' ' || CAST(registered_at_ms AS TEXT) || ' ' || \
                 CAST(CAST(registered AS INTEGER) AS TEXT) || ': ' || \
                 CAST(attempts AS TEXT) || ' attempts, ' || CAST(points AS TEXT) || ' points, ' || \
                 CAST(full_marks AS TEXT) || ' full, ' || CAST(time_used_ms AS TEXT) || ' ms, last ' || \
                 COALESCE(CAST(last_finished_at_ms AS TEXT), '-') AS value \
                 FROM {table} WHERE campaign_id = $1",
    },
    Comparison {
        table: "participant_days",
        source: "participant_days",
        postgres: None,
        select: "SELECT CAST(participant_id AS TEXT) || ' day ' || CAST(day AS TEXT) AS key, \
                 unit_id || ': ' || CAST(attempts AS TEXT) || ' attempts, ' || \
                 CAST(points AS TEXT) || ' points, ' || CAST(full_marks AS TEXT) || ' full, ' || \
                 CAST(time_used_ms AS TEXT) || ' ms, last ' || CAST(last_finished_at_ms AS TEXT) \
                 || ', registered ' || CAST(CAST(registered AS INTEGER) AS TEXT) \
                 AS value FROM {table} WHERE campaign_id = $1",
    },
];

/// Most differences reported per comparison.
const MAX_DIFFERENCES: i64 = 20;

/// A compared row.
#[derive(sqlx::FromRow)]
struct Compared {
    side: String,
    key: String,
    value: String,
}

impl Store {
    /// Recomputes `campaign_id`'s roll-ups (unit and question figures, participant totals) from
    /// the recorded registrations and attempts, in one transaction: what `leaderboards rebuild`
    /// runs, and what a unit tree change or an upgrade from a record without roll-ups needs.
    ///
    /// Flushers wait while it runs (their inserts go on; their roll-ups wait for the lock), and
    /// add their attempts once it commits: nothing is counted twice or lost. It reads every
    /// attempt of the campaign, a few thousand participants at a time.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id))]
    pub async fn rebuild_rollups(&self, campaign_id: &str) -> Result<Rebuilt, StoreError> {
        let mut tx = self.begin_write().await?;
        let rebuilt = rebuild_in(&mut tx, campaign_id).await?;
        tx.commit().await?;
        Ok(rebuilt)
    }

    /// Compares `campaign_id`'s roll-ups with what [`Store::rebuild_rollups`] would make of the
    /// raw rows, and lists every difference (at most 20 per table); empty when they agree.
    ///
    /// It rebuilds inside a transaction that it then rolls back, so it changes nothing, and
    /// flushers wait for it as for a rebuild.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id))]
    pub async fn check_rollups(
        &self,
        campaign_id: &str,
    ) -> Result<Vec<RollupDifference>, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_campaign(&mut tx, campaign_id).await?;
        // The counters as they will be once the campaign's pending batches are folded.
        fold_campaign_in(&mut tx, campaign_id).await?;
        for (source, of_campaign) in TABLES {
            // Made empty, then filled: PostgreSQL takes no parameters in `CREATE TABLE AS`.
            Statement::new(&format!(
                "CREATE TEMPORARY TABLE recorded_{source} AS SELECT * FROM {source} WHERE 1 = 0"
            ))
            .execute_in(&mut tx)
            .await?;
            Statement::new(&format!(
                "INSERT INTO recorded_{source} SELECT * FROM {source} WHERE {of_campaign}"
            ))
            .bind(campaign_id)
            .execute_in(&mut tx)
            .await?;
        }
        rebuild_in(&mut tx, campaign_id).await?;
        let mut differences = Vec::new();
        for comparison in &COMPARISONS {
            let select = match (tx.backend(), comparison.postgres) {
                (Backend::Postgres, Some(select)) => select,
                _ => comparison.select,
            };
            let recorded = select.replace("{table}", &format!("recorded_{}", comparison.source));
            let expected = select.replace("{table}", comparison.source);
            let rows: Vec<Compared> = Statement::new(&format!(
                "SELECT * FROM (SELECT 'recorded' AS side, key, value FROM \
                 ({recorded} EXCEPT {expected}) AS d ORDER BY key LIMIT $2) AS r \
                 UNION ALL SELECT * FROM (SELECT 'expected' AS side, key, value FROM \
                 ({expected} EXCEPT {recorded}) AS d ORDER BY key LIMIT $2) AS e"
            ))
            .bind(campaign_id)
            .bind(MAX_DIFFERENCES)
            .fetch_all_in(&mut tx)
            .await?;
            let mut found: Vec<RollupDifference> = Vec::new();
            for row in rows {
                let position = found.iter().position(|d| d.key == row.key);
                let difference = match position {
                    Some(index) => &mut found[index],
                    None => {
                        found.push(RollupDifference {
                            table: comparison.table,
                            key: row.key.clone(),
                            recorded: None,
                            expected: None,
                        });
                        found.last_mut().expect("just pushed")
                    }
                };
                if row.side == "recorded" {
                    difference.recorded = Some(row.value);
                } else {
                    difference.expected = Some(row.value);
                }
            }
            found.sort_by(|a, b| a.key.cmp(&b.key));
            differences.extend(found);
        }
        // Dropped without a commit: the rebuild and the copies are rolled back.
        drop(tx);
        Ok(differences)
    }
}
