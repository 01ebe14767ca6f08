//! The record's rows and their idempotent insert.
//!
//! The flusher hands a batch of rows decoded from the Redis streams; [`Store::insert_batch`]
//! writes them in one transaction with `ON CONFLICT DO NOTHING`, so a batch delivered twice (a
//! flusher that died before acknowledging, two flushers racing) changes nothing the second time.
//!
//! A batch is written with a few multi-row statements rather than one per row: every statement
//! costs a round trip to the server (PostgreSQL) or to the connection's worker thread (SQLite),
//! and per-row statements made up most of a flush on PostgreSQL. A row the database refuses
//! still fails its whole batch, and the flusher then retries the rows one by one.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder, Sqlite};

use crate::rollups::{self, ATTEMPT_COLUMNS};
use crate::statement::{Statement, Transaction, sqlite_chunks};
use crate::{Store, StoreError};

#[cfg(test)]
mod tests;

/// One question of a finalized attempt, as the `attempts.questions` JSON column keeps it: this
/// type is the one owner of that column's format, which the flusher writes and the reports and
/// recovery read.
///
/// `order` is the bank's option indices in display order (`order[shown] = original`); `key` and
/// `chosen` are bit sets over display positions, bit 0 is the option shown first (`chosen` 0: not
/// answered).
///
/// The fields are declared in the order the JSON text has always spelled them (alphabetical, as
/// `serde_json::json!` wrote them before this type existed), so rows written before and after it
/// read alike on SQLite, which keeps the text as written. PostgreSQL keeps `jsonb` in its own
/// key order either way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQuestion {
    /// Bit set of the options chosen, over display positions; 0 when not answered.
    pub chosen: u8,
    /// The question's id in the banks.
    pub id: String,
    /// Bit set of the correct options, over display positions.
    pub key: u8,
    /// The bank's option indices in display order.
    pub order: Vec<u8>,
}

impl StoredQuestion {
    /// The JSON text of an attempt's questions, in display order: `[{"chosen", "id", "key",
    /// "order"}]`.
    pub fn encode_all(questions: &[StoredQuestion]) -> String {
        serde_json::to_string(questions)
            .expect("a list of plain structs of strings and integers always serializes")
    }

    /// The questions of an attempt from the column's JSON text (keys in any order, as
    /// PostgreSQL's `jsonb` prints them).
    pub fn decode_all(json: &str) -> Result<Vec<StoredQuestion>, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The JSON text of an attempt's questions; see [`StoredQuestion`].
pub fn encode_all(questions: &[StoredQuestion]) -> String {
    StoredQuestion::encode_all(questions)
}

/// The questions of an attempt from the column's JSON text; see [`StoredQuestion`].
pub fn decode_all(json: &str) -> Result<Vec<StoredQuestion>, serde_json::Error> {
    StoredQuestion::decode_all(json)
}

/// A registration, as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
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
    /// The consent given at registration (issue 20), `None` for a campaign without a notice or
    /// a row recorded before consent existed. Written by the insert; not read back by the
    /// record's bulk reads (see [`Store::participant_privacy`] for a person's own view).
    #[sqlx(skip)]
    pub consent: Option<Consent>,
    /// The phone number sealed for the winners' notification (issue 19), for a campaign with
    /// prizes: opaque text the service opens with its phone key, never a number. Written by
    /// the insert; read only by [`Store::prize_winners`] for the winners' export.
    #[sqlx(skip)]
    pub phone_sealed: Option<String>,
}

/// The consent a participant gave at registration: which version of the campaign's notice, when,
/// and for a child under 14 the guardian who consented (PIPL arts. 14, 31).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consent {
    /// The notice's `version` from the campaign file.
    pub notice_version: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The guardian's name when the participant said they were under 14.
    pub guardian_name: Option<String>,
}

/// The number of an attempt among its participant's (1 for the first) from its id,
/// `<participant>-<n>`; 0 for an id without one.
pub(crate) fn attempt_number(attempt_id: &str) -> u32 {
    attempt_id
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// A finalized attempt, as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
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
    /// Every question answered correctly, by the domain's rule
    /// (`safequiz_domain::score::is_full_marks`); reports count these.
    pub full_marks: bool,
    /// JSON: the questions in display order with their option order, key and choice (see
    /// [`StoredQuestion`]).
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
    ///
    /// Several processes may migrate at once (every `serve` and `flush` does at start).
    /// PostgreSQL serializes them with sqlx's advisory lock. SQLite has no such lock: two
    /// migrators both read the list of applied migrations, and the second to take the write
    /// lock fails on a table the first just made. Each migration commits with its record, so
    /// running again then finds it applied; SQLite retries a few times.
    ///
    /// Then builds the roll-ups of campaigns recorded before they existed (see `rollups`): a
    /// one-time cost, proportional to the record, at the first start after the upgrade.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => {
                let mut tries = 0;
                loop {
                    match sqlx::migrate!("./migrations/sqlite").run(pool).await {
                        Ok(()) => break,
                        Err(_) if tries < 5 => {
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
            }
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        self.build_pending_rollups().await
    }

    /// Writes `rows` in one transaction; rows already present are left as they are.
    ///
    /// The attempts actually inserted (not those already present, nor a second copy in the
    /// batch) are added to the roll-ups in the same transaction (see `rollups`), and every
    /// registration to the participant totals, so the figures the reports read are exactly as
    /// durable as the rows and count each attempt once. Their question counters are queued in
    /// the same transaction for the question fold ([`Store::fold_questions`]), which adds them
    /// a moment later.
    ///
    /// All or nothing: when the database refuses one row, no row of the batch is written.
    #[tracing::instrument(skip_all, fields(rows = rows.len()))]
    pub async fn insert_batch(&self, rows: &[RecordRow]) -> Result<Inserted, StoreError> {
        let mut participants = Vec::new();
        let mut attempts = Vec::new();
        for row in rows {
            match row {
                RecordRow::Participant(p) => participants.push(p),
                RecordRow::Attempt(a) => attempts.push(a),
            }
        }
        let mut inserted = Inserted::default();
        let mut tx = self.begin_write().await?;
        let mut new_keys: HashSet<AttemptKey> = HashSet::new();
        match &mut tx {
            Transaction::Sqlite(tx) => {
                for chunk in sqlite_chunks(participants.len()) {
                    inserted.participants +=
                        insert_sqlite_participants(tx, &participants[chunk]).await?;
                }
                for chunk in sqlite_chunks(attempts.len()) {
                    new_keys.extend(insert_sqlite_attempts(tx, &attempts[chunk]).await?);
                }
            }
            Transaction::Postgres(tx) => {
                if !participants.is_empty() {
                    inserted.participants +=
                        insert_postgres_participants(tx, &participants).await?;
                }
                if !attempts.is_empty() {
                    new_keys.extend(insert_postgres_attempts(tx, &attempts).await?);
                }
            }
        }
        inserted.attempts = new_keys.len() as u64;
        // Every campaign's roll-up lock before any roll-up row: a flusher holding a lock never
        // waits for a row another flusher holds while waiting for that lock. In one order, so
        // two batches of several campaigns do not wait for each other either.
        let campaigns: BTreeSet<&str> = participants
            .iter()
            .map(|p| p.campaign_id.as_str())
            .chain(attempts.iter().map(|a| a.campaign_id.as_str()))
            .collect();
        for campaign_id in campaigns {
            rollups::lock_campaign(&mut tx, campaign_id).await?;
        }
        rollups::add_registrations(&mut tx, &participants).await?;
        // The new attempts by campaign; a second copy of one in the batch is not new.
        let mut new: BTreeMap<&str, Vec<&AttemptRow>> = BTreeMap::new();
        for attempt in attempts {
            let key = AttemptKey {
                campaign_id: attempt.campaign_id.clone(),
                attempt_id: attempt.attempt_id.clone(),
            };
            if new_keys.remove(&key) {
                new.entry(&attempt.campaign_id).or_default().push(attempt);
            }
        }
        for (campaign_id, attempts) in new {
            // An excluded participant's attempts are recorded but not counted (fair play: the
            // exclusion's rebuild holds the same lock, so either order counts them once or not).
            let attempts =
                crate::fair_play::without_excluded(&mut tx, campaign_id, attempts).await?;
            rollups::add_attempts(&mut tx, campaign_id, &attempts, rollups::Questions::Fold)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Every attempt of a campaign, by attempt id (tests, reconcile).
    pub async fn attempts(&self, campaign_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = Statement::new(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 ORDER BY attempt_id"
        ))
        .bind(campaign_id)
        .fetch_all(self)
        .await?;
        Ok(rows)
    }

    /// Every participant of a campaign, by id (rebuild, reconcile).
    pub async fn participants(&self, campaign_id: &str) -> Result<Vec<ParticipantRow>, StoreError> {
        let rows = Statement::new(
            "SELECT campaign_id, participant_id, name, phone_masked, phone_hash, unit_id, \
             registered_at_ms FROM participants WHERE campaign_id = $1 ORDER BY participant_id",
        )
        .bind(campaign_id)
        .fetch_all(self)
        .await?;
        Ok(rows)
    }

    /// How many participants of a campaign the record holds.
    pub async fn participant_count(&self, campaign_id: &str) -> Result<i64, StoreError> {
        let count = Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM participants WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_scalar(self)
        .await?;
        Ok(count)
    }
}

/// Which attempt a row is: what an insert returns for each row it wrote.
#[derive(Clone, Debug, PartialEq, Eq, Hash, sqlx::FromRow)]
struct AttemptKey {
    campaign_id: String,
    attempt_id: String,
}

async fn insert_sqlite_participants(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    rows: &[&ParticipantRow],
) -> Result<u64, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO participants (campaign_id, participant_id, name, phone_masked, phone_hash, \
         unit_id, registered_at_ms, consent_version, consented_at_ms, under_14, guardian_name, \
         phone_sealed) ",
    );
    query.push_values(rows, |mut values, p| {
        let consent = p.consent.as_ref();
        values
            .push_bind(&p.campaign_id)
            .push_bind(p.participant_id)
            .push_bind(&p.name)
            .push_bind(&p.phone_masked)
            .push_bind(&p.phone_hash)
            .push_bind(&p.unit_id)
            .push_bind(p.registered_at_ms)
            .push_bind(consent.map(|c| c.notice_version.as_str()))
            .push_bind(consent.map(|c| c.at_ms))
            .push_bind(i32::from(
                consent.is_some_and(|c| c.guardian_name.is_some()),
            ))
            .push_bind(consent.and_then(|c| c.guardian_name.as_deref()))
            .push_bind(p.phone_sealed.as_deref());
    });
    query.push(" ON CONFLICT DO NOTHING");
    Ok(query.build().execute(&mut **tx).await?.rows_affected())
}

/// Inserts `rows`; the keys of those it wrote (not those already present).
async fn insert_sqlite_attempts(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    rows: &[&AttemptRow],
) -> Result<Vec<AttemptKey>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
         started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
         auto_submitted, full_marks, questions) ",
    );
    query.push_values(rows, |mut values, a| {
        values
            .push_bind(&a.campaign_id)
            .push_bind(&a.attempt_id)
            .push_bind(a.participant_id)
            .push_bind(&a.unit_id)
            .push_bind(a.day)
            .push_bind(a.started_at_ms)
            .push_bind(a.deadline_ms)
            .push_bind(a.finished_at_ms)
            .push_bind(a.time_used_ms)
            .push_bind(a.points)
            .push_bind(a.correct)
            .push_bind(a.auto_submitted)
            .push_bind(a.full_marks)
            .push_bind(&a.questions);
    });
    query.push(" ON CONFLICT DO NOTHING RETURNING campaign_id, attempt_id");
    Ok(query.build_query_as().fetch_all(&mut **tx).await?)
}

// PostgreSQL takes a whole batch in one statement: one array per column, turned back into rows
// by `UNNEST`. The text never changes with the batch size, so it is prepared once per
// connection, and there is no limit on the number of rows (binds are 12 or 14 arrays).
// `ON CONFLICT DO NOTHING` also skips a row that appears twice in the same batch.

async fn insert_postgres_participants(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[&ParticipantRow],
) -> Result<u64, StoreError> {
    let column = |f: fn(&ParticipantRow) -> &str| rows.iter().map(|p| f(p)).collect::<Vec<_>>();
    let done = sqlx::query(
        "INSERT INTO participants (campaign_id, participant_id, name, phone_masked, phone_hash, \
         unit_id, registered_at_ms, consent_version, consented_at_ms, under_14, guardian_name, \
         phone_sealed) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[], $8::text[], $9::int8[], $10::int4[], $11::text[], \
         $12::text[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(column(|p| &p.campaign_id))
    .bind(rows.iter().map(|p| p.participant_id).collect::<Vec<_>>())
    .bind(column(|p| &p.name))
    .bind(column(|p| &p.phone_masked))
    .bind(column(|p| &p.phone_hash))
    .bind(column(|p| &p.unit_id))
    .bind(rows.iter().map(|p| p.registered_at_ms).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|p| p.consent.as_ref().map(|c| c.notice_version.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|p| p.consent.as_ref().map(|c| c.at_ms))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|p| {
                i32::from(
                    p.consent
                        .as_ref()
                        .is_some_and(|c| c.guardian_name.is_some()),
                )
            })
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|p| p.consent.as_ref().and_then(|c| c.guardian_name.as_deref()))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|p| p.phone_sealed.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Inserts `rows`; the keys of those it wrote (not those already present).
async fn insert_postgres_attempts(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[&AttemptRow],
) -> Result<Vec<AttemptKey>, StoreError> {
    let text = |f: fn(&AttemptRow) -> &str| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
    let int8 = |f: fn(&AttemptRow) -> i64| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
    let int4 = |f: fn(&AttemptRow) -> i32| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
    let flag = |f: fn(&AttemptRow) -> bool| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
    let done = sqlx::query_as(
        "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
         started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
         auto_submitted, full_marks, questions) \
         SELECT campaign_id, attempt_id, participant_id, unit_id, day, started_at_ms, \
         deadline_ms, finished_at_ms, time_used_ms, points, correct, auto_submitted, \
         full_marks, questions::jsonb \
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::int4[], $6::int8[], \
         $7::int8[], $8::int8[], $9::int8[], $10::int4[], $11::int4[], $12::bool[], \
         $13::bool[], $14::text[]) \
         AS batch (campaign_id, attempt_id, participant_id, unit_id, day, started_at_ms, \
         deadline_ms, finished_at_ms, time_used_ms, points, correct, auto_submitted, \
         full_marks, questions) \
         ON CONFLICT DO NOTHING RETURNING campaign_id, attempt_id",
    )
    .bind(text(|a| &a.campaign_id))
    .bind(text(|a| &a.attempt_id))
    .bind(int8(|a| a.participant_id))
    .bind(text(|a| &a.unit_id))
    .bind(int4(|a| a.day))
    .bind(int8(|a| a.started_at_ms))
    .bind(int8(|a| a.deadline_ms))
    .bind(int8(|a| a.finished_at_ms))
    .bind(int8(|a| a.time_used_ms))
    .bind(int4(|a| a.points))
    .bind(int4(|a| a.correct))
    .bind(flag(|a| a.auto_submitted))
    .bind(flag(|a| a.full_marks))
    .bind(text(|a| &a.questions))
    .fetch_all(&mut **tx)
    .await?;
    Ok(done)
}
