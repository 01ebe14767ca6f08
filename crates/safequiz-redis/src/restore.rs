//! Rebuilding hot state from the SQL record after Redis was lost, and the reads that prove Redis
//! and SQL agree.
//!
//! The caller reads SQL and passes plain data; this module encodes it exactly as the scripts
//! would have (participant hashes with every final attempt, the phone index, the shards' unit
//! totals and individual boards), so the service continues as if Redis had never been lost:
//! reviews, day counters, totals, ranks. Attempts that were open when Redis was lost are gone
//! (they never reached SQL); with AOF `everysec`, that is at most about a second of starts.

use std::collections::{BTreeMap, HashMap};

use redis::AsyncCommands;
use safequiz_domain::bank::Choices;

use crate::attempts::{AttemptResult, NewAttempt};
use crate::boards::{PACKED_FIELDS, pack};
use crate::keys::{Shard, ShardKeys};
use crate::{HotState, RedisError};

/// Board scores weigh one point as this many milliseconds (see the prelude).
const POINT_WEIGHT: i64 = 10_000_000_000;

/// Commands per pipeline while restoring.
const CHUNK: usize = 2_000;

/// A registration from the record.
#[derive(Clone, Debug)]
pub struct RestoredPerson {
    /// The participant id.
    pub participant: u64,
    /// Hex of the keyed phone hash.
    pub phone_hash: String,
    /// The name as registered.
    pub name: String,
    /// The masked phone.
    pub phone_masked: String,
    /// The unit.
    pub unit: String,
    /// Unix ms.
    pub registered_ms: i64,
}

/// A final attempt from the record.
#[derive(Clone, Debug)]
pub struct RestoredAttempt {
    /// Its number among the participant's attempts.
    pub number: u32,
    /// Day, times and questions, encoded as at the start.
    pub attempt: NewAttempt,
    /// The chosen options per question, over display positions.
    pub answers: Vec<Choices>,
    /// How it ended.
    pub result: AttemptResult,
}

/// A participant with their final attempts, and the units their points count for.
#[derive(Clone, Debug)]
pub struct RestoredParticipant {
    /// The participant id.
    pub participant: u64,
    /// Unit ids from the root to the participant's unit.
    pub path: Vec<String>,
    /// Their final attempts.
    pub attempts: Vec<RestoredAttempt>,
}

/// What a restore wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Participants registered.
    pub people: usize,
    /// Participants with totals.
    pub participants: usize,
    /// Final attempts.
    pub attempts: usize,
}

#[derive(Default)]
struct Totals {
    points: u64,
    attempts: u64,
    participants: u64,
    full_marks: u64,
}

impl HotState {
    /// Deletes the shards' unit totals and the individual boards of the campaign and of every
    /// unit in `units`: the derived state a restore rewrites whole.
    pub async fn clear_derived(
        &self,
        campaign: &str,
        shards: u16,
        units: &[&str],
    ) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        for shard in Shard::all(shards) {
            let keys = ShardKeys::new(campaign, shard);
            let mut doomed = vec![keys.totals(), keys.board(None)];
            doomed.extend(units.iter().map(|unit| keys.board(Some(unit))));
            for chunk in doomed.chunks(CHUNK) {
                let _: i64 = connection.del(chunk).await?;
            }
        }
        Ok(())
    }

    /// Writes registrations, participants with their final attempts, the shards' unit totals
    /// and individual boards. Run [`HotState::clear_derived`] first, and never while the service
    /// takes traffic: totals are written whole, not added.
    pub async fn restore(
        &self,
        campaign: &str,
        shards: u16,
        people: &[RestoredPerson],
        participants: &[RestoredParticipant],
    ) -> Result<Restored, RedisError> {
        let mut connection = self.connection().await?;
        let mut commands = redis::pipe();
        let mut queued = 0;
        let mut sequences: HashMap<Shard, u64> = HashMap::new();
        for person in people {
            let shard = Shard::of_participant(person.participant, shards);
            let keys = ShardKeys::new(campaign, shard);
            commands
                .hset(keys.phones(), &person.phone_hash, person.participant)
                .ignore()
                .hset(
                    keys.people(),
                    person.participant,
                    format!(
                        "{}\t{}\t{}\t{}",
                        person.name, person.phone_masked, person.unit, person.registered_ms
                    ),
                )
                .ignore();
            let sequence = sequences.entry(shard).or_default();
            *sequence = (*sequence).max(person.participant / u64::from(shards.max(1)));
            queued += 2;
            if queued >= CHUNK {
                commands.query_async::<()>(&mut connection).await?;
                commands.clear();
                queued = 0;
            }
        }
        for (shard, sequence) in &sequences {
            let key = ShardKeys::new(campaign, *shard).sequence();
            let current: Option<u64> = connection.get(&key).await?;
            if current.is_none_or(|current| current < *sequence) {
                let _: () = connection.set(&key, sequence).await?;
            }
        }

        let mut totals: BTreeMap<(Shard, String), Totals> = BTreeMap::new();
        let mut attempts_written = 0;
        for participant in participants {
            let shard = Shard::of_participant(participant.participant, shards);
            let keys = ShardKeys::new(campaign, shard);
            let key = keys.participant(participant.participant);
            let mut fields: Vec<(String, String)> = Vec::new();
            let (mut points, mut time_used, mut last, mut sequence) = (0i64, 0i64, 0i64, 0u32);
            let mut last_day = None;
            let mut starts_that_day = 0;
            for restored in &participant.attempts {
                let n = restored.number;
                let attempt = &restored.attempt;
                let result = restored.result;
                fields.push((
                    format!("{n}:t"),
                    format!(
                        "{},{},{},{}",
                        attempt.day,
                        attempt.started_ms,
                        attempt.deadline_ms,
                        attempt.accepts_until_ms
                    ),
                ));
                fields.push((format!("{n}:q"), attempt.encoded_questions().to_owned()));
                fields.push((format!("{n}:k"), attempt.encoded_key().to_owned()));
                fields.push((format!("{n}:v"), attempt.encoded_kinds().to_owned()));
                fields.push((
                    format!("{n}:a"),
                    restored
                        .answers
                        .iter()
                        .map(|choices| char::from(b'0' + choices.bits()))
                        .collect(),
                ));
                fields.push((
                    format!("{n}:r"),
                    format!(
                        "{},{},{},{},{}",
                        result.points,
                        result.correct,
                        result.finished_ms,
                        result.time_used_ms,
                        u8::from(result.auto_submitted)
                    ),
                ));
                points += i64::from(result.points);
                time_used += result.time_used_ms;
                last = last.max(result.finished_ms);
                sequence = sequence.max(n);
                match last_day {
                    Some(day) if day == attempt.day => starts_that_day += 1,
                    Some(day) if day > attempt.day => {}
                    _ => {
                        last_day = Some(attempt.day);
                        starts_that_day = 1;
                    }
                }
                let full = result.correct as usize == restored.answers.len();
                let mut units = vec!["*".to_owned()];
                units.extend(participant.path.iter().cloned());
                for unit in units {
                    let unit_totals = totals.entry((shard, unit)).or_default();
                    unit_totals.points += u64::from(result.points);
                    unit_totals.attempts += 1;
                    unit_totals.full_marks += u64::from(full);
                }
                attempts_written += 1;
            }
            if participant.attempts.is_empty() {
                continue;
            }
            let mut units = vec!["*".to_owned()];
            units.extend(participant.path.iter().cloned());
            for unit in &units {
                totals
                    .entry((shard, unit.clone()))
                    .or_default()
                    .participants += 1;
            }
            let attempts = participant.attempts.len();
            fields.extend([
                ("pts".to_owned(), points.to_string()),
                ("ms".to_owned(), time_used.to_string()),
                ("att".to_owned(), attempts.to_string()),
                ("last".to_owned(), last.to_string()),
            ]);
            // Counters of starts are never lowered: Redis may hold later starts than SQL.
            let existing: (Option<u32>, Option<i32>) = redis::cmd("HMGET")
                .arg(&key)
                .arg("seq")
                .arg("day")
                .query_async::<(Option<u32>, Option<i32>)>(&mut connection)
                .await?;
            if existing.0.is_none_or(|seq| seq < sequence) {
                fields.push(("seq".to_owned(), sequence.to_string()));
            }
            if let Some(day) = last_day
                && existing.1.is_none_or(|existing| existing < day)
            {
                fields.push(("day".to_owned(), day.to_string()));
                fields.push(("dn".to_owned(), starts_that_day.to_string()));
            }
            commands.hset_multiple(&key, &fields).ignore();
            let score = time_used - points * POINT_WEIGHT;
            let member = format!("{last:013}{:012}", participant.participant);
            commands.zadd(keys.board(None), &member, score).ignore();
            for unit in &participant.path {
                commands
                    .zadd(keys.board(Some(unit)), &member, score)
                    .ignore();
            }
            queued += 2 + participant.path.len();
            if queued >= CHUNK {
                commands.query_async::<()>(&mut connection).await?;
                commands.clear();
                queued = 0;
            }
        }
        for ((shard, unit), unit_totals) in &totals {
            let key = ShardKeys::new(campaign, *shard).totals();
            commands
                .hset_multiple(
                    key,
                    &[
                        (
                            format!("{unit}:{}", PACKED_FIELDS[0]),
                            pack(unit_totals.attempts, unit_totals.points),
                        ),
                        (
                            format!("{unit}:{}", PACKED_FIELDS[1]),
                            pack(unit_totals.participants, unit_totals.full_marks),
                        ),
                    ],
                )
                .ignore();
            queued += 1;
            if queued >= CHUNK {
                commands.query_async::<()>(&mut connection).await?;
                commands.clear();
                queued = 0;
            }
        }
        if queued > 0 {
            commands.query_async::<()>(&mut connection).await?;
        }
        Ok(Restored {
            people: people.len(),
            participants: participants
                .iter()
                .filter(|p| !p.attempts.is_empty())
                .count(),
            attempts: attempts_written,
        })
    }

    /// How many participants each shard's people index holds, summed.
    pub async fn people_count(&self, campaign: &str, shards: u16) -> Result<u64, RedisError> {
        let mut pipeline = redis::pipe();
        for shard in Shard::all(shards) {
            pipeline.hlen(ShardKeys::new(campaign, shard).people());
        }
        let mut connection = self.connection().await?;
        let counts: Vec<u64> = pipeline.query_async(&mut connection).await?;
        Ok(counts.iter().sum())
    }

    /// The campaign board's score of each `(participant, last finish ms)`, `None` when absent.
    pub async fn board_scores(
        &self,
        campaign: &str,
        shards: u16,
        members: &[(u64, i64)],
    ) -> Result<Vec<Option<i64>>, RedisError> {
        let mut connection = self.connection().await?;
        let mut scores = Vec::with_capacity(members.len());
        for chunk in members.chunks(CHUNK) {
            let mut pipeline = redis::pipe();
            for (participant, last) in chunk {
                let keys = ShardKeys::new(campaign, Shard::of_participant(*participant, shards));
                pipeline.zscore(keys.board(None), format!("{last:013}{participant:012}"));
            }
            let replies: Vec<Option<f64>> = pipeline.query_async(&mut connection).await?;
            // Scores are integers below 2^53, exact in f64.
            scores.extend(replies.into_iter().map(|score| score.map(|s| s as i64)));
        }
        Ok(scores)
    }

    /// Every participant's standing, pipelined (reconcile).
    pub async fn standings(
        &self,
        campaign: &str,
        shards: u16,
        participants: &[u64],
    ) -> Result<Vec<(i64, i64, u32, i64)>, RedisError> {
        let mut connection = self.connection().await?;
        let mut standings = Vec::with_capacity(participants.len());
        for chunk in participants.chunks(CHUNK) {
            let mut pipeline = redis::pipe();
            for participant in chunk {
                let keys = ShardKeys::new(campaign, Shard::of_participant(*participant, shards));
                pipeline
                    .cmd("HMGET")
                    .arg(keys.participant(*participant))
                    .arg(&["pts", "ms", "att", "last"]);
            }
            type Fields = (Option<i64>, Option<i64>, Option<u32>, Option<i64>);
            let replies: Vec<Fields> = pipeline.query_async(&mut connection).await?;
            standings.extend(replies.into_iter().map(|(p, m, a, l)| {
                (
                    p.unwrap_or(0),
                    m.unwrap_or(0),
                    a.unwrap_or(0),
                    l.unwrap_or(0),
                )
            }));
        }
        Ok(standings)
    }
}
