//! Recovery: rebuilding hot state from the SQL record, and proving Redis and SQL agree.
//!
//! `safequiz leaderboards rebuild` and `safequiz reconcile` call these. Both read the whole
//! campaign from SQL into memory: fine for hundreds of thousands of attempts; a national
//! campaign's full history would want a streaming read, which these functions can grow into.
//!
//! No rule is spelled here: full marks are `safequiz_domain::score`'s, totals and the board
//! order `safequiz_domain::board`'s, the questions column `safequiz_sql::record::StoredQuestion`'s
//! and the hot state's encodings `safequiz_redis::restore`'s.

use std::collections::{BTreeMap, HashMap};

use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_domain::board::{Finish, ParticipantTotals, UnitTotals};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::OptionOrder;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_domain::score::is_full_marks;
use safequiz_domain::units::UnitIx;
use safequiz_redis::attempts::{AttemptId, AttemptResult, NewAttempt};
use safequiz_redis::restore::{Restored, RestoredAttempt, RestoredParticipant, RestoredPerson};
use safequiz_sql::record::{AttemptRow, StoredQuestion};

use crate::http::AppState;
use crate::http::health::flush_lag;

/// Why a recovery command stopped.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] safequiz_redis::RedisError),
    /// SQL failed.
    #[error(transparent)]
    Store(#[from] safequiz_sql::StoreError),
    /// The streams still hold results SQL does not have; rebuilding now would lose them.
    #[error(
        "{0} stream entries are not yet in SQL; run `safequiz flush` (or let the service's flusher catch up) first"
    )]
    Unflushed(u64),
    /// A row of the record cannot be turned back into hot state.
    #[error("the record cannot be rebuilt: {0}")]
    Record(String),
}

/// Rewrites the campaign's hot state from SQL: registrations, participants with every final
/// attempt, unit roll-ups and individual boards. Refuses while results wait in the streams.
pub async fn rebuild(state: &AppState, campaign: &Campaign) -> Result<Restored, RecoveryError> {
    let lag = flush_lag(state).await?;
    if lag.pending + lag.undelivered > 0 {
        return Err(RecoveryError::Unflushed(lag.pending + lag.undelivered));
    }
    let people: Vec<RestoredPerson> = state
        .store
        .participants(&campaign.id)
        .await?
        .into_iter()
        .map(|row| RestoredPerson {
            participant: row.participant_id as u64,
            phone_hash: row.phone_hash,
            name: row.name,
            phone_masked: row.phone_masked,
            unit: row.unit_id,
            registered_ms: row.registered_at_ms,
        })
        .collect();
    let mut by_participant: BTreeMap<u64, Vec<AttemptRow>> = BTreeMap::new();
    for row in state.store.attempts(&campaign.id).await? {
        by_participant
            .entry(row.participant_id as u64)
            .or_default()
            .push(row);
    }
    let mut participants = Vec::with_capacity(by_participant.len());
    for (participant, rows) in by_participant {
        let unit = &rows[0].unit_id;
        let ix = campaign.units.find(unit).ok_or_else(|| {
            RecoveryError::Record(format!(
                "unit {unit} of participant {participant} is not configured"
            ))
        })?;
        let path = campaign
            .units
            .path(ix)
            .into_iter()
            .map(|ix| campaign.units.get(ix).id.clone())
            .collect();
        let mut attempts = rows
            .iter()
            .map(|row| restored_attempt(campaign, row))
            .collect::<Result<Vec<_>, _>>()?;
        attempts.sort_by_key(|attempt| attempt.number);
        participants.push(RestoredParticipant {
            participant,
            path,
            attempts,
        });
    }
    let units: Vec<&str> = campaign
        .units
        .units()
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    state
        .hot
        .clear_derived(&campaign.id, state.shards, &units)
        .await?;
    Ok(state
        .hot
        .restore(&campaign.id, state.shards, &people, &participants)
        .await?)
}

fn restored_attempt(
    campaign: &Campaign,
    row: &AttemptRow,
) -> Result<RestoredAttempt, RecoveryError> {
    let bad = |what: &str| RecoveryError::Record(format!("attempt {}: {what}", row.attempt_id));
    let id = AttemptId::parse(&row.attempt_id).ok_or_else(|| bad("the id is malformed"))?;
    let questions = StoredQuestion::decode_all(&row.questions)
        .map_err(|_| bad("the questions are not valid JSON"))?;
    let deadline = jiff::Timestamp::from_millisecond(row.deadline_ms)
        .map_err(|_| bad("the deadline is out of range"))?;
    let accepts_until_ms = campaign.accepts_until(deadline).as_millisecond();
    let mut attempt = NewAttempt::new(
        row.day,
        row.started_at_ms,
        row.deadline_ms,
        accepts_until_ms,
    );
    let mut answers = Vec::with_capacity(questions.len());
    for question in &questions {
        let order = OptionOrder::from_slice(&question.order)
            .ok_or_else(|| bad("an option order is not a permutation"))?;
        // A question removed from the banks since keeps its record; its kind only shapes how
        // later saves are checked, and a final attempt takes none.
        let kind = campaign
            .pool
            .find(&question.id)
            .map_or(QuestionKind::Single, |q| q.kind);
        attempt.push(&question.id, kind, order, Choices::from_bits(question.key));
        answers.push(Choices::from_bits(question.chosen));
    }
    Ok(RestoredAttempt {
        number: id.number,
        attempt,
        answers,
        result: AttemptResult {
            points: row.points as u32,
            correct: row.correct as u32,
            finished_ms: row.finished_at_ms,
            time_used_ms: row.time_used_ms,
            auto_submitted: row.auto_submitted,
        },
    })
}

/// Every difference between the campaign's hot state and its SQL record, one line each; empty
/// when they agree.
pub async fn reconcile(
    state: &AppState,
    campaign: &Campaign,
) -> Result<Vec<String>, RecoveryError> {
    let mut differences = Vec::new();
    let lag = flush_lag(state).await?;
    if lag.pending + lag.undelivered > 0 {
        differences.push(format!(
            "streams: {} entries not yet flushed to SQL ({} pending, {} unread)",
            lag.pending + lag.undelivered,
            lag.pending,
            lag.undelivered
        ));
    }
    let people = state.store.participants(&campaign.id).await?;
    let redis_people = state.hot.people_count(&campaign.id, state.shards).await?;
    if redis_people != people.len() as u64 {
        differences.push(format!(
            "participants: redis={redis_people} sql={}",
            people.len()
        ));
    }

    let attempts = state.store.attempts(&campaign.id).await?;
    let mut per_participant: BTreeMap<u64, Sums> = BTreeMap::new();
    for row in &attempts {
        let Some(unit) = campaign.units.find(&row.unit_id) else {
            differences.push(format!(
                "attempt {}: unit {} is not configured",
                row.attempt_id, row.unit_id
            ));
            continue;
        };
        let sums = per_participant
            .entry(row.participant_id as u64)
            .or_default();
        sums.add(row);
        sums.unit = Some(unit);
    }
    differences.extend(unit_differences(state, campaign, &per_participant).await?);
    differences.extend(participant_differences(state, campaign, &per_participant).await?);
    Ok(differences)
}

/// What the record says one participant's final attempts add up to.
#[derive(Default, Clone, Copy)]
struct Sums {
    /// The totals that place them on the boards.
    totals: ParticipantTotals,
    /// What they add to each unit on their path.
    units: UnitTotals,
    /// Their unit (of their last row read).
    unit: Option<UnitIx>,
}

impl Sums {
    fn add(&mut self, row: &AttemptRow) {
        let questions = StoredQuestion::decode_all(&row.questions).map_or(0, |q| q.len());
        let points = row.points as u32;
        self.units.add_attempt(
            points,
            is_full_marks(
                row.correct as u32,
                u32::try_from(questions).unwrap_or(u32::MAX),
            ),
            self.totals.attempts == 0,
        );
        self.totals.add(
            points,
            Finish {
                finished_ms: row.finished_at_ms,
                time_used_ms: row.time_used_ms,
            },
        );
    }
}

/// Every unit's totals in Redis against the sums of the record.
async fn unit_differences(
    state: &AppState,
    campaign: &Campaign,
    per_participant: &BTreeMap<u64, Sums>,
) -> Result<Vec<String>, RecoveryError> {
    let mut units: HashMap<String, UnitTotals> = HashMap::new();
    for sums in per_participant.values() {
        let path = sums
            .unit
            .map(|ix| campaign.units.path(ix))
            .unwrap_or_default();
        let mut ids: Vec<String> = vec![WHOLE_CAMPAIGN.to_owned()];
        ids.extend(path.into_iter().map(|u| campaign.units.get(u).id.clone()));
        for id in ids {
            let figures = units.entry(id).or_default();
            *figures = figures.merge(sums.units);
        }
    }
    let mut ids: Vec<&str> = vec![WHOLE_CAMPAIGN];
    ids.extend(campaign.units.units().iter().map(|u| u.id.as_str()));
    let redis_totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &ids)
        .await?;
    let mut differences = Vec::new();
    for (id, redis) in ids.iter().zip(redis_totals) {
        let sql = units.get(*id).copied().unwrap_or_default();
        let figures = |t: UnitTotals| [t.points, t.attempts, t.participants, t.full_marks];
        for (name, (r, s)) in ["points", "attempts", "participants", "full_marks"]
            .iter()
            .zip(figures(redis).into_iter().zip(figures(sql)))
        {
            if r != s {
                differences.push(format!("unit {id}: {name} redis={r} sql={s}"));
            }
        }
    }
    Ok(differences)
}

/// Every participant's totals and campaign board score in Redis against the record.
async fn participant_differences(
    state: &AppState,
    campaign: &Campaign,
    per_participant: &BTreeMap<u64, Sums>,
) -> Result<Vec<String>, RecoveryError> {
    let ids: Vec<u64> = per_participant.keys().copied().collect();
    let standings = state
        .hot
        .standings(&campaign.id, state.shards, &ids)
        .await?;
    let members: Vec<(u64, i64)> = per_participant
        .iter()
        .map(|(id, sums)| (*id, sums.totals.last_finished_ms))
        .collect();
    let scores = state
        .hot
        .board_scores(&campaign.id, state.shards, &members)
        .await?;
    let shown = |t: &ParticipantTotals| (t.points, t.time_used_ms, t.attempts, t.last_finished_ms);
    let mut differences = Vec::new();
    for (((id, sums), standing), score) in per_participant.iter().zip(standings).zip(scores) {
        if standing != sums.totals {
            differences.push(format!(
                "participant {id}: (points, time used ms, attempts, last finish) redis={:?} sql={:?}",
                shown(&standing),
                shown(&sums.totals)
            ));
        }
        let expected = sums.totals.score().to_redis_score();
        if score != Some(expected) {
            differences.push(format!(
                "participant {id}: campaign board score redis={score:?} sql={expected}"
            ));
        }
    }
    Ok(differences)
}
