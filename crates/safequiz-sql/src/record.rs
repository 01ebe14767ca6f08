//! The record's rows and their idempotent insert.
//!
//! The flusher hands a batch of rows decoded from the Redis streams; [`Store::insert_batch`]
//! writes them in one transaction with `ON CONFLICT DO NOTHING`, so a batch delivered twice (a
//! flusher that died before acknowledging, two flushers racing) changes nothing the second time.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::{Store, StoreError};

/// A registration, as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantRow {
    /// The campaign.
    pub campaign_id: String,
    /// The participant id (unique within the campaign).
    pub participant_id: i64,
    /// The name as registered.
    pub name: String,
    /// `138****5678`.
    pub phone_masked: String,
    /// Hex of the keyed phone hash.
    pub phone_hash: String,
    /// The unit registered with.
    pub unit_id: String,
    /// Unix ms.
    pub registered_at_ms: i64,
}

/// A finalized attempt, as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    /// The campaign.
    pub campaign_id: String,
    /// `<participant>-<n>`.
    pub attempt_id: String,
    /// The participant.
    pub participant_id: i64,
    /// The participant's unit.
    pub unit_id: String,
    /// Calendar day number of the start in the campaign's zone.
    pub day: i32,
    /// Unix ms.
    pub started_at_ms: i64,
    /// Unix ms.
    pub deadline_ms: i64,
    /// Unix ms (for an automatic submission, the deadline).
    pub finished_at_ms: i64,
    /// Time counted, ms.
    pub time_used_ms: i64,
    /// Points earned.
    pub points: i32,
    /// Questions answered correctly.
    pub correct: i32,
    /// Submitted by the server when time ran out.
    pub auto_submitted: bool,
    /// JSON: the questions in display order with their option order, key and choice.
    pub questions: String,
}

/// One row of a flush batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordRow {
    /// A registration.
    Participant(ParticipantRow),
    /// A finalized attempt.
    Attempt(AttemptRow),
}

/// How many rows of a batch were new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// New participants.
    pub participants: u64,
    /// New attempts.
    pub attempts: u64,
}

impl Store {
    /// Brings the schema up to date (`migrations/sqlite` or `migrations/postgres`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Writes `rows` in one transaction; rows already present are left as they are.
    #[tracing::instrument(skip_all, fields(rows = rows.len()))]
    pub async fn insert_batch(&self, rows: &[RecordRow]) -> Result<Inserted, StoreError> {
        let mut inserted = Inserted::default();
        match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for row in rows {
                    insert_sqlite(&mut tx, row, &mut inserted).await?;
                }
                tx.commit().await?;
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for row in rows {
                    insert_postgres(&mut tx, row, &mut inserted).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(inserted)
    }

    /// Every attempt of a campaign, by attempt id (tests, reconcile).
    pub async fn attempts(&self, campaign_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        type Raw = (
            String,
            String,
            i64,
            String,
            i32,
            i64,
            i64,
            i64,
            i64,
            i32,
            i32,
            bool,
            String,
        );
        macro_rules! columns {
            () => {
                "campaign_id, attempt_id, participant_id, unit_id, day, started_at_ms, \
                 deadline_ms, finished_at_ms, time_used_ms, points, correct, auto_submitted"
            };
        }
        let raw: Vec<Raw> = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    columns!(),
                    ", questions FROM attempts WHERE campaign_id = ? ORDER BY attempt_id"
                ))
                .bind(campaign_id)
                .fetch_all(pool)
                .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    columns!(),
                    ", questions::text FROM attempts WHERE campaign_id = $1 ORDER BY attempt_id"
                ))
                .bind(campaign_id)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(raw
            .into_iter()
            .map(|r| AttemptRow {
                campaign_id: r.0,
                attempt_id: r.1,
                participant_id: r.2,
                unit_id: r.3,
                day: r.4,
                started_at_ms: r.5,
                deadline_ms: r.6,
                finished_at_ms: r.7,
                time_used_ms: r.8,
                points: r.9,
                correct: r.10,
                auto_submitted: r.11,
                questions: r.12,
            })
            .collect())
    }

    /// Every participant of a campaign, by id (rebuild, reconcile).
    pub async fn participants(&self, campaign_id: &str) -> Result<Vec<ParticipantRow>, StoreError> {
        type Raw = (String, i64, String, String, String, String, i64);
        macro_rules! select {
            ($placeholder:literal) => {
                concat!(
                    "SELECT campaign_id, participant_id, name, phone_masked, phone_hash, unit_id, \
                     registered_at_ms FROM participants WHERE campaign_id = ",
                    $placeholder,
                    " ORDER BY participant_id"
                )
            };
        }
        let raw: Vec<Raw> = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(select!("?"))
                    .bind(campaign_id)
                    .fetch_all(pool)
                    .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as(select!("$1"))
                    .bind(campaign_id)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(raw
            .into_iter()
            .map(|r| ParticipantRow {
                campaign_id: r.0,
                participant_id: r.1,
                name: r.2,
                phone_masked: r.3,
                phone_hash: r.4,
                unit_id: r.5,
                registered_at_ms: r.6,
            })
            .collect())
    }

    /// How many participants of a campaign the record holds.
    pub async fn participant_count(&self, campaign_id: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as("SELECT COUNT(*) FROM participants WHERE campaign_id = ?")
                    .bind(campaign_id)
                    .fetch_one(pool)
                    .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as("SELECT COUNT(*) FROM participants WHERE campaign_id = $1")
                    .bind(campaign_id)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(count)
    }
}

async fn insert_sqlite(
    tx: &mut Transaction<'_, Sqlite>,
    row: &RecordRow,
    inserted: &mut Inserted,
) -> Result<(), StoreError> {
    match row {
        RecordRow::Participant(p) => {
            let done = sqlx::query(
                "INSERT INTO participants (campaign_id, participant_id, name, phone_masked, \
                 phone_hash, unit_id, registered_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&p.campaign_id)
            .bind(p.participant_id)
            .bind(&p.name)
            .bind(&p.phone_masked)
            .bind(&p.phone_hash)
            .bind(&p.unit_id)
            .bind(p.registered_at_ms)
            .execute(&mut **tx)
            .await?;
            inserted.participants += done.rows_affected();
        }
        RecordRow::Attempt(a) => {
            let done = sqlx::query(
                "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
                 started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
                 auto_submitted, questions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&a.campaign_id)
            .bind(&a.attempt_id)
            .bind(a.participant_id)
            .bind(&a.unit_id)
            .bind(a.day)
            .bind(a.started_at_ms)
            .bind(a.deadline_ms)
            .bind(a.finished_at_ms)
            .bind(a.time_used_ms)
            .bind(a.points)
            .bind(a.correct)
            .bind(a.auto_submitted)
            .bind(&a.questions)
            .execute(&mut **tx)
            .await?;
            inserted.attempts += done.rows_affected();
        }
    }
    Ok(())
}

async fn insert_postgres(
    tx: &mut Transaction<'_, Postgres>,
    row: &RecordRow,
    inserted: &mut Inserted,
) -> Result<(), StoreError> {
    match row {
        RecordRow::Participant(p) => {
            let done = sqlx::query(
                "INSERT INTO participants (campaign_id, participant_id, name, phone_masked, \
                 phone_hash, unit_id, registered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&p.campaign_id)
            .bind(p.participant_id)
            .bind(&p.name)
            .bind(&p.phone_masked)
            .bind(&p.phone_hash)
            .bind(&p.unit_id)
            .bind(p.registered_at_ms)
            .execute(&mut **tx)
            .await?;
            inserted.participants += done.rows_affected();
        }
        RecordRow::Attempt(a) => {
            let done = sqlx::query(
                "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
                 started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
                 auto_submitted, questions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13::jsonb) ON CONFLICT DO NOTHING",
            )
            .bind(&a.campaign_id)
            .bind(&a.attempt_id)
            .bind(a.participant_id)
            .bind(&a.unit_id)
            .bind(a.day)
            .bind(a.started_at_ms)
            .bind(a.deadline_ms)
            .bind(a.finished_at_ms)
            .bind(a.time_used_ms)
            .bind(a.points)
            .bind(a.correct)
            .bind(a.auto_submitted)
            .bind(&a.questions)
            .execute(&mut **tx)
            .await?;
            inserted.attempts += done.rows_affected();
        }
    }
    Ok(())
}
