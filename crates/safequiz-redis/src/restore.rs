//! Rebuilding hot state from the SQL record after Redis was lost, and the reads that prove Redis
//! and SQL agree.
//!
//! The caller reads SQL in batches of participants and passes plain sums; this module encodes
//! them exactly as the scripts would have left them once the flusher had forgotten every final
//! attempt (`archive`): each participant's hash with their totals (`pts ms att last`), `seq` (the
//! highest attempt number) and the day counter (`day dn`); the people and phone indexes; the
//! shards' unit totals and individual boards. A final attempt's own fields are not written: it
//! is in SQL, where a review reads it. So the service continues as if Redis had never been lost:
//! reviews, the daily limit, totals, ranks. A participant whose results an organizer excluded
//! (`exclusions`) gets their hash, marked, and nothing on the boards or in the unit totals. Attempts that were open when Redis was lost are gone
//! (they never reached SQL); with AOF `everysec`, that is at most about a second of starts.
//!
//! A restore is a [`Restorer`] fed batch by batch: `add_people` (people and phone indexes),
//! `add_participants` (hashes and board entries, one pipelined read of the counters Redis
//! already holds per batch), then `finish` (participant counters and the unit totals, which
//! it adds up over the batches in a map of units × shards). Memory holds one batch, never the
//! campaign. The encodings are not spelled here: the board order is
//! `safequiz_domain::board`'s, the packed totals `boards`'.

use std::collections::{BTreeMap, HashMap};

use redis::{AsyncCommands, Cmd};
use safequiz_domain::board::{
    BoardMember, Finish, IndividualBoards, ParticipantTotals, UnitTotals,
};
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_domain::score::{Candidate, Counted};

use crate::boards::{PACKED_FIELDS, pack};
use crate::connection::{Connection, ShardPipelines, Slot};
use crate::exclusions::Exclusion;
use crate::keys::{self, Shard, ShardKeys};
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

/// A final attempt from the record: what it adds to its participant's hash and boards.
#[derive(Clone, Copy, Debug)]
pub struct RestoredAttempt {
    /// Its number among the participant's attempts.
    pub number: u32,
    /// Calendar day number of its start.
    pub day: i32,
    /// Points earned.
    pub points: u32,
    /// Every question answered correctly.
    pub full_marks: bool,
    /// When it ended and the time it counts.
    pub finish: Finish,
}

/// A participant's final attempts summed, and the units their points count for: everything the
/// hot state keeps of them once their attempts are in SQL.
#[derive(Clone, Debug)]
pub struct RestoredParticipant {
    /// The participant id.
    pub participant: u64,
    /// Unit ids from the root to the participant's unit.
    pub path: Vec<String>,
    /// The totals that place them on their boards.
    pub totals: ParticipantTotals,
    /// What they add to every unit on their path.
    pub units: UnitTotals,
    /// The highest attempt number.
    pub sequence: u32,
    /// The day of the latest start, and the starts on that day.
    pub last_day: Option<(i32, u32)>,
    /// The campaign's counted policy (`Counted::Sum` unless [`RestoredParticipant::counting`]).
    pub counted: Counted,
    /// Under `best` or `last`, the attempt counted so far.
    pub kept: Candidate,
    /// The organizer's exclusion in force (`exclusions`): their hash is marked and keeps its
    /// totals, but they are on no board and in no unit's totals.
    pub excluded: Option<Exclusion>,
}

impl RestoredParticipant {
    /// A participant with no attempts yet.
    pub fn new(participant: u64, path: Vec<String>) -> RestoredParticipant {
        RestoredParticipant {
            participant,
            path,
            totals: ParticipantTotals::default(),
            units: UnitTotals::default(),
            sequence: 0,
            last_day: None,
            counted: Counted::Sum,
            kept: Candidate::default(),
            excluded: None,
        }
    }

    /// The same participant, excluded by `exclusion` (`None`: counted).
    pub fn excluded(mut self, exclusion: Option<Exclusion>) -> RestoredParticipant {
        self.excluded = exclusion;
        self
    }

    /// The same participant counted by `counted` (`safequiz_domain::score::Counted`): under
    /// `best` or `last` their totals' points and time are the counted attempt's, and so are the
    /// points they add to their units (as finalize's `unit_points` makes them).
    pub fn counting(mut self, counted: Counted) -> RestoredParticipant {
        self.counted = counted;
        self
    }

    /// Counts one final attempt, as finalize did; attempts may come in any order.
    pub fn add(&mut self, attempt: RestoredAttempt) {
        if self.counted != Counted::Sum {
            self.add_counted(attempt);
            return;
        }
        self.units.add_attempt(
            attempt.points,
            attempt.full_marks,
            self.totals.attempts == 0,
        );
        self.totals.add(attempt.points, attempt.finish);
        self.count_start(attempt);
    }

    /// [`RestoredParticipant::add`] under `best` or `last`: the attempt kept is the one
    /// `Counted::prefers` picks, whatever order the attempts come in.
    fn add_counted(&mut self, attempt: RestoredAttempt) {
        let candidate = Candidate {
            number: attempt.number,
            points: attempt.points,
            time_used_ms: attempt.finish.time_used_ms,
        };
        let first = self.totals.attempts == 0;
        self.units.add_attempt(0, attempt.full_marks, first);
        if first || self.counted.prefers(candidate, self.kept) {
            self.kept = candidate;
            self.totals.points = i64::from(candidate.points);
            self.totals.time_used_ms = candidate.time_used_ms;
            self.units.points = u64::from(candidate.points);
        }
        self.totals.attempts += 1;
        self.totals.last_finished_ms = self.totals.last_finished_ms.max(attempt.finish.finished_ms);
        self.count_start(attempt);
    }

    /// The attempt's start counted in `seq` and the day's starts.
    fn count_start(&mut self, attempt: RestoredAttempt) {
        self.sequence = self.sequence.max(attempt.number);
        self.last_day = match self.last_day {
            Some((day, starts)) if day == attempt.day => Some((day, starts + 1)),
            Some((day, starts)) if day > attempt.day => Some((day, starts)),
            _ => Some((attempt.day, 1)),
        };
    }
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
    /// Queues `command`, whose keys are all in `slot` (a shard's or a board's).
    fn add(&mut self, slot: impl Into<Slot>, command: Cmd) {
        self.commands.add(slot, command);
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

/// A restore in progress; see the module documentation. Never run one while the service takes
/// traffic: totals are written whole, not added.
pub struct Restorer {
    campaign: String,
    shards: u16,
    /// The individual boards the campaign keeps.
    kept: IndividualBoards,
    batch: Batch,
    /// The highest participant id restored in each shard, over `shards`.
    sequences: HashMap<Shard, u64>,
    totals: ShardTotals,
    restored: Restored,
}

impl HotState {
    /// Deletes the shards' unit totals and the individual boards of the campaign and of every
    /// unit in `units`: the derived state a restore rewrites whole. The board writers' cursors
    /// stay: entries after them are applied on top of the restored boards.
    pub async fn clear_derived(
        &self,
        campaign: &str,
        shards: u16,
        units: &[&str],
    ) -> Result<(), RedisError> {
        let connection = self.connection().await?;
        let mut batch = ShardPipelines::new();
        for shard in Shard::all(shards) {
            batch.add(shard, Cmd::del(ShardKeys::new(campaign, shard).totals()));
        }
        let boards = std::iter::once(None).chain(units.iter().map(|unit| Some(*unit)));
        for board in boards {
            let key = keys::board(campaign, board);
            batch.add(Slot::Board(key.clone()), Cmd::del(key));
            if batch.len() >= CHUNK {
                let _: Vec<i64> = std::mem::take(&mut batch).query(&connection).await?;
            }
        }
        let _: Vec<i64> = batch.query(&connection).await?;
        Ok(())
    }

    /// Starts a restore of `campaign`, whose `kept` individual boards it fills; run
    /// [`HotState::clear_derived`] first.
    pub async fn restorer(
        &self,
        campaign: &str,
        shards: u16,
        kept: IndividualBoards,
    ) -> Result<Restorer, RedisError> {
        Ok(Restorer {
            campaign: campaign.to_owned(),
            shards,
            kept,
            batch: Batch {
                connection: self.connection().await?,
                commands: ShardPipelines::new(),
            },
            sequences: HashMap::new(),
            totals: ShardTotals::new(),
            restored: Restored::default(),
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
        members: &[(u64, i64)],
    ) -> Result<Vec<Option<i64>>, RedisError> {
        let entries: Vec<BoardEntry<'_>> = members
            .iter()
            .map(|(participant, last)| BoardEntry {
                unit: None,
                member: BoardMember {
                    last_finished_ms: *last,
                    participant: *participant,
                },
            })
            .collect();
        self.entry_scores(campaign, &entries).await
    }

    /// The score of each entry on its board (the board of the entry's unit), `None` when the
    /// board does not hold the member.
    pub async fn entry_scores(
        &self,
        campaign: &str,
        entries: &[BoardEntry<'_>],
    ) -> Result<Vec<Option<i64>>, RedisError> {
        let connection = self.connection().await?;
        let mut scores = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(CHUNK) {
            let mut pipelines = ShardPipelines::new();
            for entry in chunk {
                let key = keys::board(campaign, entry.unit);
                pipelines.add(
                    Slot::Board(key.clone()),
                    Cmd::zscore(key, entry.member.encode()),
                );
            }
            let replies: Vec<Option<f64>> = pipelines.query(&connection).await?;
            // Scores are integers below 2^53, exact in f64.
            scores.extend(replies.into_iter().map(|score| score.map(|s| s as i64)));
        }
        Ok(scores)
    }

    /// How many members each unit's board holds (`None`: the campaign's board).
    pub async fn board_sizes(
        &self,
        campaign: &str,
        boards: &[Option<&str>],
    ) -> Result<Vec<u64>, RedisError> {
        let connection = self.connection().await?;
        let mut sizes = Vec::with_capacity(boards.len());
        for chunk in boards.chunks(CHUNK) {
            let mut pipelines = ShardPipelines::new();
            for unit in chunk {
                let key = keys::board(campaign, *unit);
                pipelines.add(Slot::Board(key.clone()), Cmd::zcard(key));
            }
            let replies: Vec<u64> = pipelines.query(&connection).await?;
            sizes.extend(replies);
        }
        Ok(sizes)
    }

    /// Every participant's totals as their hash holds them, and whether it is marked excluded
    /// (`exclusions`), pipelined (reconcile).
    pub async fn standings(
        &self,
        campaign: &str,
        shards: u16,
        participants: &[u64],
    ) -> Result<Vec<(ParticipantTotals, bool)>, RedisError> {
        let connection = self.connection().await?;
        let mut standings = Vec::with_capacity(participants.len());
        for chunk in participants.chunks(CHUNK) {
            let mut pipelines = ShardPipelines::new();
            for participant in chunk {
                let shard = Shard::of_participant(*participant, shards);
                let mut command = redis::cmd("HMGET");
                command
                    .arg(ShardKeys::new(campaign, shard).participant(*participant))
                    .arg(&["pts", "ms", "att", "last", "x"]);
                pipelines.add(shard, command);
            }
            type Fields = (
                Option<i64>,
                Option<i64>,
                Option<u32>,
                Option<i64>,
                Option<i64>,
            );
            let replies: Vec<Fields> = pipelines.query(&connection).await?;
            standings.extend(replies.into_iter().map(|(p, m, a, l, x)| {
                let totals = ParticipantTotals {
                    points: p.unwrap_or(0),
                    time_used_ms: m.unwrap_or(0),
                    attempts: a.unwrap_or(0),
                    last_finished_ms: l.unwrap_or(0),
                };
                (totals, x.is_some())
            }));
        }
        Ok(standings)
    }
}

/// A member of one individual board: the campaign's (`unit` `None`) or a unit's.
#[derive(Clone, Copy, Debug)]
pub struct BoardEntry<'a> {
    /// The board's unit; `None`: the campaign's board.
    pub unit: Option<&'a str>,
    /// The member.
    pub member: BoardMember,
}

impl Restorer {
    /// Writes the people index and the phone index of `people`: what registration finds a
    /// returning phone by.
    pub async fn add_people(&mut self, people: &[RestoredPerson]) -> Result<(), RedisError> {
        for person in people {
            let shard = Shard::of_participant(person.participant, self.shards);
            let keys = ShardKeys::new(&self.campaign, shard);
            // A person who deleted their registration, or a purged campaign, has no phone hash
            // left in the record (issue 20, `privacy`): no phone index entry, an anonymous row.
            if !person.phone_hash.is_empty() {
                self.batch.add(
                    shard,
                    Cmd::hset(keys.phones(), &person.phone_hash, person.participant),
                );
            }
            self.batch.add(
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
            // Ids are `n × shards + shard` (see `register.lua`).
            let sequence = self.sequences.entry(shard).or_default();
            *sequence = (*sequence).max(person.participant / u64::from(self.shards.max(1)));
            self.batch.queued().await?;
        }
        self.restored.people += people.len();
        Ok(())
    }

    /// Writes each participant's hash (totals, `seq`, the day counter) and their entries on the
    /// campaign's board and their units' boards, and counts them in their shard's unit totals.
    ///
    /// Counters of starts are never lowered: Redis may hold later starts than SQL (a rebuild
    /// over a Redis that was not lost), so the counters it holds are read first, in one
    /// pipelined read for the whole slice.
    pub async fn add_participants(
        &mut self,
        participants: &[RestoredParticipant],
    ) -> Result<(), RedisError> {
        let played: Vec<&RestoredParticipant> = participants
            .iter()
            .filter(|p| p.totals.attempts > 0 || p.excluded.is_some())
            .collect();
        for chunk in played.chunks(CHUNK) {
            let mut reads = ShardPipelines::new();
            for participant in chunk {
                let shard = Shard::of_participant(participant.participant, self.shards);
                let mut command = redis::cmd("HMGET");
                command
                    .arg(ShardKeys::new(&self.campaign, shard).participant(participant.participant))
                    .arg(&["seq", "day"]);
                reads.add(shard, command);
            }
            let existing: Vec<(Option<u32>, Option<i32>)> =
                reads.query(&self.batch.connection).await?;
            for (participant, existing) in chunk.iter().zip(existing) {
                self.add_participant(participant, existing).await?;
            }
        }
        self.restored.participants += played.iter().filter(|p| p.totals.attempts > 0).count();
        self.restored.attempts += played
            .iter()
            .map(|p| p.totals.attempts as usize)
            .sum::<usize>();
        Ok(())
    }

    /// One participant's hash and board entries, given the `seq` and `day` their hash holds.
    async fn add_participant(
        &mut self,
        participant: &RestoredParticipant,
        (existing_sequence, existing_day): (Option<u32>, Option<i32>),
    ) -> Result<(), RedisError> {
        let shard = Shard::of_participant(participant.participant, self.shards);
        let keys = ShardKeys::new(&self.campaign, shard);
        let totals = participant.totals;
        let mut fields = vec![
            ("pts", totals.points.to_string()),
            ("ms", totals.time_used_ms.to_string()),
            ("att", totals.attempts.to_string()),
            ("last", totals.last_finished_ms.to_string()),
        ];
        if existing_sequence.is_none_or(|existing| existing < participant.sequence) {
            fields.push(("seq", participant.sequence.to_string()));
        }
        if let Some((day, starts)) = participant.last_day
            && existing_day.is_none_or(|existing| existing < day)
        {
            fields.push(("day", day.to_string()));
            fields.push(("dn", starts.to_string()));
        }
        // Full-mark attempts, as finalize counts them (what an exclusion takes off the units).
        if participant.units.full_marks > 0 {
            fields.push(("fm", participant.units.full_marks.to_string()));
        }
        if let Some(exclusion) = &participant.excluded {
            fields.push(("x", exclusion.at_ms.to_string()));
            fields.push(("xr", exclusion.reason.clone()));
        }
        self.batch.add(
            shard,
            Cmd::hset_multiple(keys.participant(participant.participant), &fields),
        );
        if participant.excluded.is_some() || participant.totals.attempts == 0 {
            return self.batch.queued().await;
        }
        let score = totals.score().to_redis_score();
        let member = totals.member(participant.participant).encode();
        let path = self.kept.kept(&participant.path);
        let boards = std::iter::once(None).chain(path.iter().map(|u| Some(u.as_str())));
        for board in boards {
            let key = keys::board(&self.campaign, board);
            self.batch
                .add(Slot::Board(key.clone()), Cmd::zadd(key, &member, score));
        }
        let units =
            std::iter::once(WHOLE_CAMPAIGN).chain(participant.path.iter().map(String::as_str));
        for unit in units {
            let unit_totals = self.totals.entry((shard, unit.to_owned())).or_default();
            *unit_totals = unit_totals.merge(participant.units);
        }
        self.batch.queued().await
    }

    /// Raises the participant counters, writes each shard's unit totals and sends whatever is
    /// still queued; what the whole restore wrote.
    pub async fn finish(mut self) -> Result<Restored, RedisError> {
        self.batch.send().await?;
        raise_sequences(&mut self.batch.connection, &self.campaign, &self.sequences).await?;
        for ((shard, unit), unit_totals) in &self.totals {
            self.batch.add(
                *shard,
                Cmd::hset_multiple(
                    ShardKeys::new(&self.campaign, *shard).totals(),
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
            self.batch.queued().await?;
        }
        self.batch.send().await?;
        Ok(self.restored)
    }
}

/// Raises each shard's participant counter to the highest id restored, so registration never
/// hands out an id again. A counter is never lowered: Redis may know later registrations.
async fn raise_sequences(
    connection: &mut Connection,
    campaign: &str,
    sequences: &HashMap<Shard, u64>,
) -> Result<(), RedisError> {
    for (shard, sequence) in sequences {
        let key = ShardKeys::new(campaign, *shard).sequence();
        let current: Option<u64> = connection.get(&key).await?;
        if current.is_none_or(|current| current < *sequence) {
            let _: () = connection.set(&key, sequence).await?;
        }
    }
    Ok(())
}
