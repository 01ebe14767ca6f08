//! Rebuilding hot state from the SQL record after Redis was lost, and the reads that prove Redis
//! and SQL agree.
//!
//! The caller reads SQL and passes plain data; this module encodes it exactly as the scripts
//! would have (participant hashes with every final attempt, the phone index, the shards' unit
//! totals and individual boards), so the service continues as if Redis had never been lost:
//! reviews, day counters, totals, ranks. Attempts that were open when Redis was lost are gone
//! (they never reached SQL); with AOF `everysec`, that is at most about a second of starts.
//!
//! A restore runs in named steps, one per thing it writes: `restore_people` (people and phone
//! indexes), `raise_sequences` (participant counters), `restore_participant` (a participant's
//! hash and board entries) and `restore_unit_totals`. The encodings are not spelled here: the
//! attempt fields are `attempts`' and the board order is `safequiz_domain::board`'s.

use std::collections::{BTreeMap, HashMap};

use redis::{AsyncCommands, Cmd};
use safequiz_domain::bank::Choices;
use safequiz_domain::board::{BoardMember, Finish, ParticipantTotals, UnitTotals};
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_domain::score::is_full_marks;

use crate::attempts::{AttemptResult, NewAttempt, encode_answers};
use crate::boards::{PACKED_FIELDS, pack};
use crate::connection::{Connection, ShardPipelines};
use crate::keys::{Shard, ShardKeys};
use crate::{HotState, RedisError};

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

/// Each shard's part of every unit's totals, as the restore adds them up.
type ShardTotals = BTreeMap<(Shard, String), UnitTotals>;

/// Commands queued on one connection and sent a chunk at a time, so a restore of millions of
/// fields neither holds them all in memory nor pays a round trip per command. Each command names
/// its shard, so that on a cluster a chunk goes out as one pipeline per shard.
struct Batch {
    connection: Connection,
    commands: ShardPipelines,
}

impl Batch {
    fn new(connection: Connection) -> Batch {
        Batch {
            connection,
            commands: ShardPipelines::new(),
        }
    }

    /// Queues `command`, whose keys are all `shard`'s.
    fn add(&mut self, shard: Shard, command: Cmd) {
        self.commands.add(shard, command);
    }

    /// Sends the pipeline once a chunk is full.
    async fn queued(&mut self) -> Result<(), RedisError> {
        if self.commands.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    /// Sends whatever is queued.
    async fn send(&mut self) -> Result<(), RedisError> {
        let commands = std::mem::take(&mut self.commands);
        let _: Vec<redis::Value> = commands.query(&self.connection).await?;
        Ok(())
    }
}

/// What a participant's hash gets from their final attempts.
struct ParticipantHash {
    /// Every attempt's fields and the totals, as `HSET` pairs.
    fields: Vec<(String, String)>,
    /// The totals that place them on their boards.
    totals: ParticipantTotals,
    /// The highest attempt number.
    sequence: u32,
    /// The day of the latest start, and the starts on that day.
    last_day: Option<(i32, u32)>,
}

impl ParticipantHash {
    /// The fields of each final attempt exactly as the start script and finalize wrote them,
    /// and the participant's totals; attempts in ascending number.
    fn of(attempts: &[RestoredAttempt]) -> ParticipantHash {
        let mut fields = Vec::with_capacity(6 * attempts.len() + 4);
        let mut totals = ParticipantTotals::default();
        let mut sequence = 0;
        let mut last_day: Option<(i32, u32)> = None;
        for restored in attempts {
            let n = restored.number;
            let attempt = &restored.attempt;
            let result = restored.result;
            fields.extend([
                (format!("{n}:t"), attempt.times().encode()),
                (format!("{n}:q"), attempt.encoded_questions().to_owned()),
                (format!("{n}:k"), attempt.encoded_key().to_owned()),
                (format!("{n}:v"), attempt.encoded_kinds().to_owned()),
                (format!("{n}:a"), encode_answers(&restored.answers)),
                (format!("{n}:r"), result.encode()),
            ]);
            totals.add(
                result.points,
                Finish {
                    finished_ms: result.finished_ms,
                    time_used_ms: result.time_used_ms,
                },
            );
            sequence = sequence.max(n);
            last_day = match last_day {
                Some((day, starts)) if day == attempt.day => Some((day, starts + 1)),
                Some((day, starts)) if day > attempt.day => Some((day, starts)),
                _ => Some((attempt.day, 1)),
            };
        }
        fields.extend([
            ("pts".to_owned(), totals.points.to_string()),
            ("ms".to_owned(), totals.time_used_ms.to_string()),
            ("att".to_owned(), totals.attempts.to_string()),
            ("last".to_owned(), totals.last_finished_ms.to_string()),
        ]);
        ParticipantHash {
            fields,
            totals,
            sequence,
            last_day,
        }
    }
}

/// Adds a participant's final attempts to their shard's totals of the whole campaign and of
/// every unit on their path, as finalize does one attempt at a time.
fn count_in_units(totals: &mut ShardTotals, shard: Shard, participant: &RestoredParticipant) {
    if participant.attempts.is_empty() {
        return;
    }
    let units = std::iter::once(WHOLE_CAMPAIGN).chain(participant.path.iter().map(String::as_str));
    for unit in units {
        let unit_totals = totals.entry((shard, unit.to_owned())).or_default();
        for (index, restored) in participant.attempts.iter().enumerate() {
            let questions = u32::try_from(restored.answers.len()).unwrap_or(u32::MAX);
            unit_totals.add_attempt(
                restored.result.points,
                is_full_marks(restored.result.correct, questions),
                index == 0,
            );
        }
    }
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
        let mut batch = Batch::new(self.connection().await?);
        restore_people(&mut batch, campaign, shards, people).await?;
        raise_sequences(&mut batch.connection, campaign, shards, people).await?;
        let mut totals = ShardTotals::new();
        for participant in participants {
            restore_participant(&mut batch, campaign, shards, participant).await?;
            let shard = Shard::of_participant(participant.participant, shards);
            count_in_units(&mut totals, shard, participant);
        }
        restore_unit_totals(&mut batch, campaign, &totals).await?;
        batch.send().await?;
        Ok(Restored {
            people: people.len(),
            participants: participants
                .iter()
                .filter(|p| !p.attempts.is_empty())
                .count(),
            attempts: participants.iter().map(|p| p.attempts.len()).sum(),
        })
    }

    /// How many participants each shard's people index holds, summed.
    pub async fn people_count(&self, campaign: &str, shards: u16) -> Result<u64, RedisError> {
        let mut pipelines = ShardPipelines::new();
        for shard in Shard::all(shards) {
            pipelines.add(shard, Cmd::hlen(ShardKeys::new(campaign, shard).people()));
        }
        let connection = self.connection().await?;
        let counts: Vec<u64> = pipelines.query(&connection).await?;
        Ok(counts.iter().sum())
    }

    /// The campaign board's score of each `(participant, last finish ms)`, `None` when absent.
    pub async fn board_scores(
        &self,
        campaign: &str,
        shards: u16,
        members: &[(u64, i64)],
    ) -> Result<Vec<Option<i64>>, RedisError> {
        let connection = self.connection().await?;
        let mut scores = Vec::with_capacity(members.len());
        for chunk in members.chunks(CHUNK) {
            let mut pipelines = ShardPipelines::new();
            for (participant, last) in chunk {
                let shard = Shard::of_participant(*participant, shards);
                let member = BoardMember {
                    last_finished_ms: *last,
                    participant: *participant,
                };
                pipelines.add(
                    shard,
                    Cmd::zscore(ShardKeys::new(campaign, shard).board(None), member.encode()),
                );
            }
            let replies: Vec<Option<f64>> = pipelines.query(&connection).await?;
            // Scores are integers below 2^53, exact in f64.
            scores.extend(replies.into_iter().map(|score| score.map(|s| s as i64)));
        }
        Ok(scores)
    }

    /// Every participant's totals as their hash holds them, pipelined (reconcile).
    pub async fn standings(
        &self,
        campaign: &str,
        shards: u16,
        participants: &[u64],
    ) -> Result<Vec<ParticipantTotals>, RedisError> {
        let connection = self.connection().await?;
        let mut standings = Vec::with_capacity(participants.len());
        for chunk in participants.chunks(CHUNK) {
            let mut pipelines = ShardPipelines::new();
            for participant in chunk {
                let shard = Shard::of_participant(*participant, shards);
                let mut command = redis::cmd("HMGET");
                command
                    .arg(ShardKeys::new(campaign, shard).participant(*participant))
                    .arg(&["pts", "ms", "att", "last"]);
                pipelines.add(shard, command);
            }
            type Fields = (Option<i64>, Option<i64>, Option<u32>, Option<i64>);
            let replies: Vec<Fields> = pipelines.query(&connection).await?;
            standings.extend(replies.into_iter().map(|(p, m, a, l)| ParticipantTotals {
                points: p.unwrap_or(0),
                time_used_ms: m.unwrap_or(0),
                attempts: a.unwrap_or(0),
                last_finished_ms: l.unwrap_or(0),
            }));
        }
        Ok(standings)
    }
}

/// The people index and the phone index: what registration finds a returning phone by.
async fn restore_people(
    batch: &mut Batch,
    campaign: &str,
    shards: u16,
    people: &[RestoredPerson],
) -> Result<(), RedisError> {
    for person in people {
        let shard = Shard::of_participant(person.participant, shards);
        let keys = ShardKeys::new(campaign, shard);
        batch.add(
            shard,
            Cmd::hset(keys.phones(), &person.phone_hash, person.participant),
        );
        batch.add(
            shard,
            Cmd::hset(
                keys.people(),
                person.participant,
                format!(
                    "{}\t{}\t{}\t{}",
                    person.name, person.phone_masked, person.unit, person.registered_ms
                ),
            ),
        );
        batch.queued().await?;
    }
    Ok(())
}

/// Raises each shard's participant counter to the highest id restored, so registration never
/// hands out an id again. A counter is never lowered: Redis may know later registrations.
async fn raise_sequences(
    connection: &mut Connection,
    campaign: &str,
    shards: u16,
    people: &[RestoredPerson],
) -> Result<(), RedisError> {
    let mut sequences: HashMap<Shard, u64> = HashMap::new();
    for person in people {
        let shard = Shard::of_participant(person.participant, shards);
        let sequence = sequences.entry(shard).or_default();
        // Ids are `n × shards + shard` (see `register.lua`).
        *sequence = (*sequence).max(person.participant / u64::from(shards.max(1)));
    }
    for (shard, sequence) in &sequences {
        let key = ShardKeys::new(campaign, *shard).sequence();
        let current: Option<u64> = connection.get(&key).await?;
        if current.is_none_or(|current| current < *sequence) {
            let _: () = connection.set(&key, sequence).await?;
        }
    }
    Ok(())
}

/// A participant's hash (every final attempt, the totals, the day counter) and their entries
/// on the campaign's board and their units' boards.
async fn restore_participant(
    batch: &mut Batch,
    campaign: &str,
    shards: u16,
    participant: &RestoredParticipant,
) -> Result<(), RedisError> {
    if participant.attempts.is_empty() {
        return Ok(());
    }
    let shard = Shard::of_participant(participant.participant, shards);
    let keys = ShardKeys::new(campaign, shard);
    let key = keys.participant(participant.participant);
    let ParticipantHash {
        mut fields,
        totals,
        sequence,
        last_day,
    } = ParticipantHash::of(&participant.attempts);
    // Counters of starts are never lowered: Redis may hold later starts than SQL.
    let (existing_sequence, existing_day): (Option<u32>, Option<i32>) = redis::cmd("HMGET")
        .arg(&key)
        .arg("seq")
        .arg("day")
        .query_async(&mut batch.connection)
        .await?;
    if existing_sequence.is_none_or(|existing| existing < sequence) {
        fields.push(("seq".to_owned(), sequence.to_string()));
    }
    if let Some((day, starts)) = last_day
        && existing_day.is_none_or(|existing| existing < day)
    {
        fields.push(("day".to_owned(), day.to_string()));
        fields.push(("dn".to_owned(), starts.to_string()));
    }
    batch.add(shard, Cmd::hset_multiple(&key, &fields));
    let score = totals.score().to_redis_score();
    let member = totals.member(participant.participant).encode();
    batch.add(shard, Cmd::zadd(keys.board(None), &member, score));
    for unit in &participant.path {
        batch.add(shard, Cmd::zadd(keys.board(Some(unit)), &member, score));
    }
    batch.queued().await
}

/// Each shard's unit totals, written whole in the packed fields finalize increments.
async fn restore_unit_totals(
    batch: &mut Batch,
    campaign: &str,
    totals: &ShardTotals,
) -> Result<(), RedisError> {
    for ((shard, unit), unit_totals) in totals {
        batch.add(
            *shard,
            Cmd::hset_multiple(
                ShardKeys::new(campaign, *shard).totals(),
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
            ),
        );
        batch.queued().await?;
    }
    Ok(())
}
