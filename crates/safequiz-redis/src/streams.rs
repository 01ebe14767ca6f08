//! The shard streams as the flusher reads them, and the one definition of what an entry holds
//! ([`decode`] into a [`StreamRecord`]).
//!
//! Entries are written by the scripts (`register.lua`, finalize in `attempt_prelude.lua`) and read
//! here with a plain `XRANGE`, without blocking, so pooled connections (with their response
//! timeout) serve; the flusher polls every few hundred milliseconds.
//!
//! # The flusher's position
//!
//! Each shard's stream is written to SQL by one flusher at a time, from a position of its own:
//! - **A lease per shard** (`{c:s}:flush:lease`, `lease.lua`) names the flusher that holds it;
//!   it runs out `claim_idle_secs` after its holder last took it, so a flusher that stopped
//!   leaves its shards to the others then.
//! - **A cursor per shard** (`{c:s}:flush:cursor`) is the id of the last entry whose row is
//!   committed. The holder reads past it ([`HotState::flush_read`]), commits the rows, and only
//!   then moves it ([`HotState::flush_move`], `lease_move.lua`, which refuses a flusher whose
//!   lease has passed). A flusher that dies between the commit and the move leaves the cursor
//!   behind its rows: the next holder writes them again, which changes nothing (attempt and
//!   participant ids are primary keys, and the roll-ups count only rows new to SQL).
//! - **Refusals** (`{c:s}:flush:refused`): a row SQL refuses for its data keeps the cursor
//!   before its entry; each refusal is counted, and after `max_deliveries` the entry is copied
//!   to the dead-letter stream with the reason ([`HotState::dead_letter`]) and passed.
//! - **Shares** (`{flushers}:alive`, `flushers.lua`): every pass, a flusher says that it runs
//!   and counts those running; it holds at most its share of the shards (all shards divided
//!   among them, rounded up) and gives back the rest (`lease_give.lua`), so a flusher that
//!   joins finds shards to take within a pass, and a national deployment's flushers divide the
//!   shards among them.
//!
//! Why not a consumer group, as before: `XREADGROUP` and `XACK` record every entry in the
//! group's pending list and append both to the AOF, 5.6-6.4 µs of Redis CPU and 212 AOF bytes
//! an entry against 1.5-1.7 µs and none for the `XRANGE` and the cursor (docs/performance.md,
//! "The flusher by position"). A group also shares one shard's entries among flushers, which
//! the lease replaces by shards shared among flushers.
//!
//! An upgrade from the consumer group finds no cursor and starts at each stream's first entry:
//! the entries the stream still holds are written again, which changes nothing. The `flusher`
//! group is then left unread on the streams. During a rolling upgrade old and new flushers may
//! run together: each trims a stream only below what it has written itself (and the board writer
//! has applied), so whatever one trims is in SQL, whichever wrote it.
//!
//! # Entry format
//!
//! Every entry has a `type` field, except a packed attempt entry, whose one field names its
//! type; the fields are plain text, numbers in decimal, instants in Unix ms. Readers look fields
//! up by name, so the order written does not matter and a field added later is ignored by older
//! readers.
//!
//! `type=participant`, written by `register.lua` when a participant is created: `person`,
//! which packs six tab-separated values (a name holds no tab): the participant id, the name,
//! the masked phone (`138****5678`), the hex of the keyed phone hash, the unit registered with
//! and the instant (an entry written before the packing carries them as fields of their own,
//! `participant`, `name`, `phone_masked`, `phone_hash`, `unit`, `registered`, and is still
//! read); when the campaign has a notice, `consent` (the notice version consented to at that
//! instant) and for a child under 14 `guardian` (the name of the guardian who consented); when
//! the campaign has prizes, `phone_sealed` (the phone number sealed for the winners'
//! notification, issue 19).
//!
//! An attempt, written by finalize in `attempt_prelude.lua` in the same script that updates the
//! totals, is one field, `attempt`, holding six parts joined by tabs (no part holds a tab):
//! the attempt id (`<participant>-<n>`), `values`, `questions`, `key` and `answers` (encoded as
//! in the attempt's hash, see [`crate::attempts::EncodedQuestions`]) and `path` (the unit ids
//! from the entry's root to the participant's unit, comma-separated). Each reader parses five
//! values of an `XRANGE` reply per entry, not the seventeen of named fields, at about 0.35 µs
//! each in redis-rs, and `XADD` takes two arguments, not fourteen (docs/performance.md,
//! "Replies and entries packed"). The entries of releases before the packing, still written
//! while `redis.packed_entries` is off for a rolling upgrade, carry `type=attempt` and the
//! same six as named fields (`attempt`, `values`, `questions`, `key`, `answers`, `path`);
//! [`StreamEntry::get`] reads both alike. `values`
//! packs 16 comma-separated values, in this order (every field of an entry is an argument that
//! Redis takes, stores, appends to the AOF and returns to each reader: docs/performance.md):
//! `unit` (the participant's), `day` (calendar day number of the start), `started`,
//! `deadline`, `finished` (for an automatic submission, the deadline), `time_used` (ms),
//! `points`, `correct`, `auto` (`1` when the server submitted it, else `0`), `attempts` (the
//! participant's final attempts including this one); then for the board writer
//! (`board_writer`, which reads them with [`board_record`]) `total_points`, `total_time` and
//! `last` (the participant's totals after this attempt, which make their board score and
//! member), `previous_last` (`last` before it, `0` before their first final attempt),
//! `unit_points` (under a `best` or `last` policy the change of the participant's counted
//! points, what their units add instead of `points`; empty under `sum`) and `excluded` (`1`
//! while an organizer excludes the participant's results: the board writer applies nothing of
//! it; else empty). An entry written before the packing (an upgrade's leftovers) carries the
//! same names as fields of their own, plus `participant`; both readers still take it.
//!
//! `type=exclusion` and `type=inclusion`, written by `exclusion.lua` when an organizer excludes
//! a participant's results or undoes it (`exclusions`): `participant`, `at` (instant),
//! `path`, and the participant's totals at that instant, `attempts`, `total_points`,
//! `total_time`, `full_marks` (full-mark attempts) and `last`. Only the board writer reads
//! them; the flusher passes them without a row (the record wrote the decision first).

use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId};
use redis::{AsyncCommands, Value};

use safequiz_domain::board::{BoardScore, Finish};

use crate::attempts::{AttemptId, EncodedQuestions, FinalQuestion};
use crate::connection::Connection;
use crate::keys::{FLUSHERS as FLUSHERS_KEY, Shard, ShardKeys};
use crate::scripts::{FLUSHERS, LEASE, LEASE_GIVE, LEASE_MOVE};
use crate::{HotState, RedisError};

/// Where a consumer's next entries came from (the fair-play observations' group reader,
/// `observations`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Its own, delivered before and never acknowledged.
    Pending,
    /// Another consumer's, held unacknowledged too long.
    Claimed,
    /// Never delivered before.
    New,
}

/// One stream entry: its id and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// The stream id (`<ms>-<seq>`).
    pub id: String,
    /// Field-value pairs, in the order written.
    pub fields: Vec<(String, String)>,
}

impl StreamEntry {
    /// An entry with id `id` and these field-value pairs (tests, tools).
    pub fn with_fields(id: &str, fields: &[(&str, &str)]) -> StreamEntry {
        StreamEntry {
            id: id.to_owned(),
            fields: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    /// The value of `field`; of a packed attempt entry, the part that field names (its `type`
    /// is `attempt`), and its other fields as written (a dead letter's `reason`).
    pub fn get(&self, field: &str) -> Option<&str> {
        let named = |name: &str| {
            self.fields
                .iter()
                .find(|(written, _)| written == name)
                .map(|(_, value)| value.as_str())
        };
        // An attempt id holds no tab: an `attempt` field that does is a packed entry.
        match named("attempt").filter(|attempt| attempt.contains('\t')) {
            Some(_) if field == "type" => Some("attempt"),
            Some(packed) => match PACKED_ATTEMPT.iter().position(|name| *name == field) {
                Some(part) => packed.split('\t').nth(part),
                None => named(field),
            },
            None => named(field),
        }
    }

    fn field(&self, field: &'static str) -> Result<&str, EntryError> {
        self.get(field).ok_or(EntryError::Missing(field))
    }

    fn number<T: std::str::FromStr>(&self, field: &'static str) -> Result<T, EntryError> {
        self.field(field)?
            .parse()
            .map_err(|_| EntryError::Malformed(field))
    }
}

/// The parts of a packed attempt entry's one field, `attempt`, in order, joined by tabs; each
/// is the named field of the same name (see the entry format above). A part added later goes
/// at the end, where this release ignores it.
const PACKED_ATTEMPT: [&str; 6] = ["attempt", "values", "questions", "key", "answers", "path"];

/// What one stream entry records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamRecord<'a> {
    /// A participant was created.
    Participant(ParticipantEntry<'a>),
    /// An attempt was finalized.
    Attempt(AttemptEntry<'a>),
    /// An organizer excluded a participant's results (`excluded: true`) or undid that: for the
    /// board writer; the record wrote it first (`exclusions`).
    Exclusion {
        /// The participant.
        participant: u64,
        /// Excluded (`type=exclusion`) or counted again (`type=inclusion`).
        excluded: bool,
    },
}

/// A `type=participant` entry: a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantEntry<'a> {
    /// The participant id.
    pub participant: u64,
    /// The name as registered.
    pub name: &'a str,
    /// The masked phone.
    pub phone_masked: &'a str,
    /// Hex of the keyed phone hash.
    pub phone_hash: &'a str,
    /// The unit registered with.
    pub unit: &'a str,
    /// When, Unix ms.
    pub registered_ms: i64,
    /// The notice version consented to, if the campaign asked (issue 20).
    pub consent: Option<&'a str>,
    /// The guardian who consented for a child under 14.
    pub guardian: Option<&'a str>,
    /// The phone number sealed for the winners' notification (issue 19), when the campaign
    /// has prizes; opaque here.
    pub phone_sealed: Option<&'a str>,
}

/// An attempt entry (packed, or `type=attempt` with named fields): a finalized attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptEntry<'a> {
    /// The attempt.
    pub attempt: AttemptId,
    /// Its participant.
    pub participant: u64,
    /// The participant's unit.
    pub unit: &'a str,
    /// Calendar day number of the start.
    pub day: i32,
    /// Start, Unix ms.
    pub started_ms: i64,
    /// Deadline, Unix ms.
    pub deadline_ms: i64,
    /// When it finished and the time it counts.
    pub finish: Finish,
    /// Points earned.
    pub points: u32,
    /// Questions answered correctly.
    pub correct: u32,
    /// Whether the server submitted it because time ran out.
    pub auto_submitted: bool,
    /// The questions in display order, with key and choice.
    pub questions: Vec<FinalQuestion<'a>>,
    /// The participant's final attempts, this one included.
    pub attempts: u32,
}

/// Why a stream entry does not decode; the flusher moves such an entry to the dead letters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A field the entry's type needs is absent.
    #[error("the field {0} is missing")]
    Missing(&'static str),
    /// A field that must be a number, or an attempt id, is not.
    #[error("the field {0} is malformed")]
    Malformed(&'static str),
    /// The questions, key and answers do not decode together.
    #[error("the questions, key and answers do not decode")]
    Questions,
    /// The `type` is not one this version knows.
    #[error("unknown entry type {0:?}")]
    UnknownType(String),
}

/// What a stream entry records, read by the format above.
pub fn decode(entry: &StreamEntry) -> Result<StreamRecord<'_>, EntryError> {
    let text = |field| entry.field(field);
    match text("type")? {
        "participant" => {
            let mut person = match entry.get("person") {
                Some(packed) => ParticipantEntry::packed(packed)?,
                None => ParticipantEntry::named(entry)?,
            };
            person.consent = entry.get("consent");
            person.guardian = entry.get("guardian");
            person.phone_sealed = entry.get("phone_sealed");
            Ok(StreamRecord::Participant(person))
        }
        "attempt" => {
            let questions =
                EncodedQuestions::new(text("questions")?, text("key")?, text("answers")?);
            let attempt =
                AttemptId::parse(text("attempt")?).ok_or(EntryError::Malformed("attempt"))?;
            let values = AttemptValues::read(entry).ok_or(EntryError::Malformed("values"))?;
            let participant = match values.packed {
                true => attempt.participant,
                false => entry.number("participant")?,
            };
            let figures = Figures::read(&values)?;
            Ok(StreamRecord::Attempt(AttemptEntry {
                attempt,
                participant,
                unit: figures.unit,
                day: figures.day,
                started_ms: figures.started_ms,
                deadline_ms: figures.deadline_ms,
                finish: figures.finish,
                points: figures.points,
                correct: figures.correct,
                auto_submitted: figures.auto_submitted,
                questions: questions.decode_final().ok_or(EntryError::Questions)?,
                attempts: figures.attempts,
            }))
        }
        kind @ ("exclusion" | "inclusion") => Ok(StreamRecord::Exclusion {
            participant: entry.number("participant")?,
            excluded: kind == "exclusion",
        }),
        other => Err(EntryError::UnknownType(other.to_owned())),
    }
}

/// The figures of an attempt entry the flusher records: packed in its `values` field, or in
/// fields of their own in an entry written before the packing (still read, so that entries
/// left in a stream by the previous version are flushed after an upgrade).
struct Figures<'a> {
    unit: &'a str,
    day: i32,
    started_ms: i64,
    deadline_ms: i64,
    finish: Finish,
    points: u32,
    correct: u32,
    auto_submitted: bool,
    attempts: u32,
}

impl<'a> Figures<'a> {
    /// The ten values the flusher reads (the module's documentation names each).
    fn read(values: &AttemptValues<'a>) -> Result<Figures<'a>, EntryError> {
        let unit = values.text("unit")?;
        if values.packed && unit.is_empty() {
            return Err(values.fault("unit", false));
        }
        Ok(Figures {
            unit,
            day: values.figure("day")?,
            started_ms: values.figure("started")?,
            deadline_ms: values.figure("deadline")?,
            finish: Finish {
                finished_ms: values.figure("finished")?,
                time_used_ms: values.figure("time_used")?,
            },
            points: values.figure("points")?,
            correct: values.figure("correct")?,
            auto_submitted: values.figure::<u8>("auto")? == 1,
            attempts: values.figure("attempts")?,
        })
    }
}

/// A registration's fixed fields: packed in its `person` field, or in fields of their own in an
/// entry written before the packing. The record-only fields are read by name either way.
impl<'a> ParticipantEntry<'a> {
    fn packed(person: &'a str) -> Result<ParticipantEntry<'a>, EntryError> {
        const MALFORMED: EntryError = EntryError::Malformed("person");
        let mut parts = person.split('\t');
        let mut next = || parts.next().ok_or(MALFORMED);
        let entry = ParticipantEntry {
            participant: next()?.parse().map_err(|_| MALFORMED)?,
            name: next()?,
            phone_masked: next()?,
            phone_hash: next()?,
            unit: next()?,
            registered_ms: next()?.parse().map_err(|_| MALFORMED)?,
            consent: None,
            guardian: None,
            phone_sealed: None,
        };
        if parts.next().is_some() {
            return Err(MALFORMED);
        }
        Ok(entry)
    }

    fn named(entry: &'a StreamEntry) -> Result<ParticipantEntry<'a>, EntryError> {
        Ok(ParticipantEntry {
            participant: entry.number("participant")?,
            name: entry.field("name")?,
            phone_masked: entry.field("phone_masked")?,
            phone_hash: entry.field("phone_hash")?,
            unit: entry.field("unit")?,
            registered_ms: entry.number("registered")?,
            consent: None,
            guardian: None,
            phone_sealed: None,
        })
    }
}

/// How many comma-separated values an attempt entry's `values` field holds.
const PACKED_VALUES: usize = 16;

/// The names of the values an attempt entry's `values` field packs, in the packed order; an
/// entry written before the packing has them as fields of their own.
pub const PACKED_NAMES: [&str; PACKED_VALUES] = [
    "unit",
    "day",
    "started",
    "deadline",
    "finished",
    "time_used",
    "points",
    "correct",
    "auto",
    "attempts",
    "total_points",
    "total_time",
    "last",
    "previous_last",
    "unit_points",
    "excluded",
];

/// What an entry changes on the individual boards and the unit totals, as the board writer
/// reads it (`board_writer`). The rules that turn it into board members and totals are the
/// writer's; this is only the entry's fields, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardRecord<'a> {
    /// Nothing: a registration, an attempt of a participant whose results are excluded, an
    /// exclusion of a participant without final attempts, a type this version does not know.
    Nothing,
    /// An attempt entry without the board fields (written before they existed, its totals
    /// applied by the finalize of that version) or with one that does not read: counted and
    /// passed, left to `leaderboards rebuild`.
    Incomplete,
    /// A final attempt of a counted participant.
    Attempt(BoardAttempt<'a>),
    /// An organizer excluded a participant's results (`excluded: true`) or undid that.
    Exclusion(BoardExclusion<'a>),
}

/// An attempt entry's board fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardAttempt<'a> {
    /// The participant.
    pub participant: u64,
    /// Their unit path, root first, comma-separated.
    pub path: &'a str,
    /// Their totals after this attempt, which make their board score.
    pub totals: BoardScore,
    /// When their last final attempt finished, after this one (the member's instant).
    pub last_ms: i64,
    /// The same before this attempt; 0 before their first.
    pub previous_last_ms: i64,
    /// What their units' points change by: the attempt's points, or under `best` or `last`
    /// the change of the participant's counted points (`unit_points`).
    pub unit_points: i64,
    /// Whether it is the participant's first final attempt.
    pub first: bool,
    /// Whether every question was answered right.
    pub full_marks: bool,
}

/// An exclusion or inclusion entry's fields (`exclusion.lua`): the participant's totals at
/// that instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardExclusion<'a> {
    /// The participant.
    pub participant: u64,
    /// Their unit path, root first, comma-separated.
    pub path: &'a str,
    /// `type=exclusion` (true) or `type=inclusion`.
    pub excluded: bool,
    /// Their final attempts (never 0: such an entry is [`BoardRecord::Nothing`]).
    pub attempts: i64,
    /// Their board score.
    pub totals: BoardScore,
    /// Their full-mark attempts.
    pub full_marks: i64,
    /// When their last final attempt finished.
    pub last_ms: i64,
}

/// What stream entry `entry` changes on the boards and unit totals.
pub fn board_record(entry: &StreamEntry) -> BoardRecord<'_> {
    match entry.get("type") {
        Some("attempt") => board_attempt(entry).unwrap_or(BoardRecord::Incomplete),
        Some(kind @ ("exclusion" | "inclusion")) => {
            board_exclusion(entry, kind == "exclusion").unwrap_or(BoardRecord::Incomplete)
        }
        _ => BoardRecord::Nothing,
    }
}

fn board_attempt(entry: &StreamEntry) -> Option<BoardRecord<'_>> {
    let values = AttemptValues::read(entry)?;
    let value = |name: &str| values.present(name);
    let number = |name: &str| value(name)?.parse::<i64>().ok();
    if value("excluded").is_some() {
        return Some(BoardRecord::Nothing);
    }
    let participant = match entry.get("attempt").and_then(AttemptId::parse) {
        Some(attempt) => attempt.participant,
        None => entry.get("participant")?.parse().ok()?,
    };
    let questions = entry.get("key").map_or(0, str::len);
    let correct = number("correct")?;
    Some(BoardRecord::Attempt(BoardAttempt {
        participant,
        path: entry.get("path")?,
        totals: BoardScore {
            points: number("total_points")?,
            time_used_ms: number("total_time")?,
        },
        last_ms: number("last")?,
        previous_last_ms: number("previous_last")?,
        unit_points: match value("unit_points") {
            Some(change) => change.parse().ok()?,
            None => number("points")?,
        },
        first: value("attempts") == Some("1"),
        full_marks: questions > 0 && usize::try_from(correct).ok() == Some(questions),
    }))
}

/// An attempt entry's 16 values by name ([`PACKED_NAMES`]): packed in its `values` field, or
/// in fields of their own in an entry written before the packing. The one reader of that layout,
/// for the flusher ([`decode`]) and the board writer ([`board_record`]).
struct AttemptValues<'a> {
    values: [Option<&'a str>; PACKED_VALUES],
    /// Whether they came packed.
    packed: bool,
}

impl<'a> AttemptValues<'a> {
    /// `None` when a packed field does not hold exactly 16 values.
    fn read(entry: &'a StreamEntry) -> Option<AttemptValues<'a>> {
        let mut values = [None; PACKED_VALUES];
        let packed = entry.get("values");
        match packed {
            Some(packed) => {
                let mut parts = packed.split(',');
                for value in &mut values {
                    *value = Some(parts.next()?);
                }
                if parts.next().is_some() {
                    return None;
                }
            }
            None => {
                for (value, name) in values.iter_mut().zip(PACKED_NAMES) {
                    *value = entry.get(name);
                }
            }
        }
        Some(AttemptValues {
            values,
            packed: packed.is_some(),
        })
    }

    /// The value named `name`, empty or not; `None` when a named entry lacks it.
    fn get(&self, name: &str) -> Option<&'a str> {
        let index = PACKED_NAMES.iter().position(|known| *known == name)?;
        self.values[index]
    }

    /// The value named `name` for the flusher: present, empty or not.
    fn text(&self, name: &'static str) -> Result<&'a str, EntryError> {
        self.get(name).ok_or_else(|| self.fault(name, true))
    }

    /// The value named `name` as a number, for the flusher.
    fn figure<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, EntryError> {
        self.text(name)?
            .parse()
            .map_err(|_| self.fault(name, false))
    }

    /// What is wrong with value `name`: a packed entry's fault is its `values` field's, a named
    /// entry's the field's own, missing or malformed.
    fn fault(&self, name: &'static str, missing: bool) -> EntryError {
        match (self.packed, missing) {
            (true, _) => EntryError::Malformed("values"),
            (false, true) => EntryError::Missing(name),
            (false, false) => EntryError::Malformed(name),
        }
    }

    /// The value named `name` unless it is absent or empty (the board fields' absent value).
    fn present(&self, name: &str) -> Option<&'a str> {
        self.get(name).filter(|text| !text.is_empty())
    }
}

fn board_exclusion(entry: &StreamEntry, excluded: bool) -> Option<BoardRecord<'_>> {
    let number = |name: &str| entry.get(name)?.parse::<i64>().ok();
    let attempts = number("attempts")?;
    if attempts == 0 {
        return Some(BoardRecord::Nothing);
    }
    Some(BoardRecord::Exclusion(BoardExclusion {
        participant: entry.get("participant")?.parse().ok()?,
        path: entry.get("path")?,
        excluded,
        attempts,
        totals: BoardScore {
            points: number("total_points")?,
            time_used_ms: number("total_time")?,
        },
        full_marks: number("full_marks")?,
        last_ms: number("last")?,
    }))
}

/// How far the flusher is behind on a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushLag {
    /// Entries not yet written to SQL in shards a flusher holds: waiting for its next batch.
    pub pending: u64,
    /// Entries not yet written to SQL in shards no flusher holds: none runs, or one stopped
    /// and its lease has not run out yet.
    pub undelivered: u64,
    /// Age of the oldest entry not yet written to SQL, ms; `None` when all are written.
    pub oldest_age_ms: Option<i64>,
}

impl FlushLag {
    /// The lag of several streams together: counts add, the oldest age is the largest.
    pub fn merge(self, other: FlushLag) -> FlushLag {
        FlushLag {
            pending: self.pending + other.pending,
            undelivered: self.undelivered + other.undelivered,
            oldest_age_ms: self.oldest_age_ms.max(other.oldest_age_ms),
        }
    }
}

fn entry_of(entry: StreamId) -> StreamEntry {
    // Field order does not matter to readers; they look fields up by name.
    let fields = entry
        .map
        .into_iter()
        .filter_map(|(name, value)| Some((name, text(value)?)))
        .collect();
    StreamEntry {
        id: entry.id,
        fields,
    }
}

/// The entries of an `XREADGROUP` reply, their texts moved out of it: read in place rather than
/// through redis-rs's `StreamReadReply`, which puts every entry's fields in a map of its own and
/// copies each value again (the flusher reads every entry of the streams; docs/performance.md,
/// "Stream entries read in place"). An entry deleted while pending has no fields. Both
/// protocols' shapes: streams as an array of (key, entries) pairs (RESP2) or a map (RESP3).
fn read_entries(reply: Value) -> Result<Vec<StreamEntry>, RedisError> {
    let malformed = || RedisError::Reply("malformed XREADGROUP reply".to_owned());
    let streams: Vec<Value> = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop().ok_or_else(malformed),
                _ => Err(malformed()),
            })
            .collect::<Result<_, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => return Err(malformed()),
    };
    let mut read = Vec::new();
    for entries in streams {
        let Value::Array(entries) = entries else {
            return Err(malformed());
        };
        read_into(entries, &mut read)?;
    }
    Ok(read)
}

/// Up to `count` entries of stream `key` after entry `after` (`0-0`: from the first), oldest
/// first: one plain `XRANGE`. How the board writer and the flusher read past their cursors.
pub(crate) async fn entries_after(
    connection: &mut Connection,
    key: &str,
    after: &str,
    count: usize,
) -> Result<Vec<StreamEntry>, RedisError> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(key)
        .arg(format!("({after}"))
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .query_async(connection)
        .await?;
    range_entries(reply)
}

/// The entries of an `XRANGE` reply (an array of entries), their texts moved out of it as
/// [`read_entries`] does.
fn range_entries(reply: Value) -> Result<Vec<StreamEntry>, RedisError> {
    let mut read = Vec::new();
    match reply {
        Value::Nil => {}
        Value::Array(entries) => read_into(entries, &mut read)?,
        _ => return Err(RedisError::Reply("malformed XRANGE reply".to_owned())),
    }
    Ok(read)
}

/// Appends the entries of one stream's part of a reply (each `[id, [field, value, ...]]`, or
/// `[id, nil]` for an entry deleted while pending) to `read`.
fn read_into(entries: Vec<Value>, read: &mut Vec<StreamEntry>) -> Result<(), RedisError> {
    let malformed = || RedisError::Reply("malformed stream entry".to_owned());
    read.reserve(entries.len());
    for entry in entries {
        let Value::Array(entry) = entry else {
            return Err(malformed());
        };
        let mut parts = entry.into_iter();
        let id = parts.next().and_then(text).ok_or_else(malformed)?;
        let fields = match parts.next() {
            Some(Value::Array(values)) => {
                let mut fields = Vec::with_capacity(values.len() / 2);
                let mut values = values.into_iter();
                while let (Some(name), Some(value)) = (values.next(), values.next()) {
                    fields.push((
                        text(name).ok_or_else(malformed)?,
                        text(value).ok_or_else(malformed)?,
                    ));
                }
                fields
            }
            Some(Value::Nil) | None => Vec::new(),
            Some(_) => return Err(malformed()),
        };
        read.push(StreamEntry { id, fields });
    }
    Ok(())
}

/// A bulk string as text, moved when it is UTF-8 (it always is: the scripts write text); the
/// one conversion of a stream value, for every reply that carries entries.
fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(
            String::from_utf8(bytes)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        ),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// Whether stream id `a` (`<ms>-<seq>`) comes before `b`.
pub(crate) fn stream_id_less(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    parse(a) < parse(b)
}

impl HotState {
    /// Creates consumer group `group` on stream `key` (and the stream) unless it exists.
    pub(crate) async fn create_group(&self, key: &str, group: &str) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let created: Result<(), redis::RedisError> =
            connection.xgroup_create_mkstream(key, group, "0").await;
        match created {
            Ok(()) => Ok(()),
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Up to `count` entries of stream `key` for `consumer` of `group`: its own pending ones
    /// (delivered before, never acknowledged) when `pending`, else new ones.
    pub(crate) async fn read_as(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        count: usize,
        pending: bool,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        let start = if pending { "0" } else { ">" };
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(key)
            .arg(start)
            .query_async(&mut connection)
            .await?;
        read_entries(reply)
    }

    /// Claims for `consumer` up to `count` entries of stream `key` that another consumer of
    /// `group` has held unacknowledged for `min_idle_ms` or more: `XAUTOCLAIM`.
    pub(crate) async fn claim_as(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        let reply: StreamAutoClaimReply = connection
            .xautoclaim_options(
                key,
                group,
                consumer,
                min_idle_ms,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply.claimed.into_iter().map(entry_of).collect())
    }

    /// Up to `count` entries of stream `key` for `consumer` of `group`, in the order every
    /// consumer takes them: its own pending ones (delivered before, never acknowledged: a pass
    /// that failed), else those another consumer has held for `min_idle_ms` or more (one that
    /// stopped), else new ones.
    pub(crate) async fn next_as(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<(Vec<StreamEntry>, Source), RedisError> {
        let own = self.read_as(key, group, consumer, count, true).await?;
        if !own.is_empty() {
            return Ok((own, Source::Pending));
        }
        let claimed = self
            .claim_as(key, group, consumer, min_idle_ms, count)
            .await?;
        if !claimed.is_empty() {
            return Ok((claimed, Source::Claimed));
        }
        Ok((
            self.read_as(key, group, consumer, count, false).await?,
            Source::New,
        ))
    }

    /// Says that flusher `name` runs, and counts as running for `alive_ms` unless it says so
    /// again (`0`: it stops now); returns how many flushers run, itself included unless it
    /// stops. Redis's clock decides (`flushers.lua`).
    pub async fn flushers_running(&self, name: &str, alive_ms: u64) -> Result<usize, RedisError> {
        let mut call = FLUSHERS.call();
        call.key(FLUSHERS_KEY).arg(name).arg(alive_ms);
        let mut connection = self.connection().await?;
        Ok(call.invoke(&mut connection).await?)
    }

    /// Takes or extends flusher `name`'s lease on a shard for `lease_ms`; the id of the last
    /// entry written to SQL (`0-0` before any), or `None` when another flusher holds the shard.
    pub async fn flush_hold(
        &self,
        campaign: &str,
        shard: Shard,
        name: &str,
        lease_ms: u64,
    ) -> Result<Option<String>, RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut lease = LEASE.call();
        lease
            .key(keys.flush_lease())
            .key(keys.flush_cursor())
            .arg(name)
            .arg(lease_ms.max(1));
        let mut connection = self.connection().await?;
        let held: Option<(String,)> = lease.invoke(&mut connection).await?;
        Ok(held.map(|(cursor,)| cursor))
    }

    /// Up to `count` entries of a shard's stream after entry `after` (`0-0`: from the first),
    /// oldest first: one plain `XRANGE`.
    pub async fn flush_read(
        &self,
        campaign: &str,
        shard: Shard,
        after: &str,
        count: usize,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        entries_after(
            &mut connection,
            &ShardKeys::new(campaign, shard).stream(),
            after,
            count,
        )
        .await
    }

    /// Moves a shard's flush cursor to entry `last`, whose rows (and those of every entry
    /// before it) are committed, if flusher `name` still holds the shard; whether it moved.
    pub async fn flush_move(
        &self,
        campaign: &str,
        shard: Shard,
        name: &str,
        last: &str,
    ) -> Result<bool, RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut call = LEASE_MOVE.call();
        call.key(keys.flush_lease())
            .key(keys.flush_cursor())
            .arg(name)
            .arg(last);
        let mut connection = self.connection().await?;
        let moved: i64 = call.invoke(&mut connection).await?;
        Ok(moved == 1)
    }

    /// Gives back flusher `name`'s lease on a shard, if it holds it; whether it did.
    pub async fn flush_give(
        &self,
        campaign: &str,
        shard: Shard,
        name: &str,
    ) -> Result<bool, RedisError> {
        let mut call = LEASE_GIVE.call();
        call.key(ShardKeys::new(campaign, shard).flush_lease())
            .arg(name);
        let mut connection = self.connection().await?;
        let gave: i64 = call.invoke(&mut connection).await?;
        Ok(gave == 1)
    }

    /// Counts one more refusal by SQL of entry `id`'s row; how many there have been.
    pub async fn flush_refused(
        &self,
        campaign: &str,
        shard: Shard,
        id: &str,
    ) -> Result<u32, RedisError> {
        let mut connection = self.connection().await?;
        Ok(connection
            .hincr(ShardKeys::new(campaign, shard).flush_refusals(), id, 1)
            .await?)
    }

    /// Forgets the refusals counted for entry `id`, now written or dead-lettered.
    pub async fn flush_forgive(
        &self,
        campaign: &str,
        shard: Shard,
        id: &str,
    ) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let _: i64 = connection
            .hdel(ShardKeys::new(campaign, shard).flush_refusals(), id)
            .await?;
        Ok(())
    }

    /// Deletes the entries the flusher and the board writer are both done with: those before
    /// the older of their cursors (see `board_writer`; nothing is trimmed before both have
    /// done an entry). Returns how many were deleted.
    pub async fn trim_flushed(&self, campaign: &str, shard: Shard) -> Result<u64, RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut connection = self.connection().await?;
        let (flushed, boards): (Option<String>, Option<String>) = redis::cmd("MGET")
            .arg(keys.flush_cursor())
            .arg(keys.board_cursor())
            .query_async(&mut connection)
            .await?;
        let (Some(flushed), Some(boards)) = (flushed, boards) else {
            return Ok(0);
        };
        let bound = if stream_id_less(&boards, &flushed) {
            boards
        } else {
            flushed
        };
        if bound == "0-0" {
            return Ok(0);
        }
        let deleted: u64 = redis::cmd("XTRIM")
            .arg(keys.stream())
            .arg("MINID")
            .arg(&bound)
            .query_async(&mut connection)
            .await?;
        Ok(deleted)
    }

    /// How far the flusher is behind on one shard's stream.
    pub async fn flush_lag(
        &self,
        campaign: &str,
        shard: Shard,
        now_ms: i64,
    ) -> Result<FlushLag, RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let key = keys.stream();
        let mut connection = self.connection().await?;
        let (cursor, held, length): (Option<String>, bool, u64) = redis::pipe()
            .get(keys.flush_cursor())
            .exists(keys.flush_lease())
            .xlen(&key)
            .query_async(&mut connection)
            .await?;
        let cursor = cursor.unwrap_or_else(|| "0-0".to_owned());
        let next: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(&key)
            .arg(format!("({cursor}"))
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await?;
        let Some((oldest, _)) = next.first() else {
            return Ok(FlushLag::default());
        };
        // The entries still in the stream up to the cursor (those the board writer has yet to
        // apply); past LAG_CAP of them the count errs on the high side.
        let done: Vec<Value> = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg(&cursor)
            .arg("COUNT")
            .arg(LAG_CAP)
            .query_async(&mut connection)
            .await?;
        let unflushed = length.saturating_sub(done.len() as u64).max(1);
        let oldest_age_ms = oldest
            .split('-')
            .next()
            .and_then(|ms| ms.parse::<i64>().ok())
            .map(|ms| (now_ms - ms).max(0));
        Ok(FlushLag {
            pending: if held { unflushed } else { 0 },
            undelivered: if held { 0 } else { unflushed },
            oldest_age_ms,
        })
    }

    /// Every entry of one shard's stream, oldest first (tests and the reconcile command).
    pub async fn stream_entries(
        &self,
        campaign: &str,
        shard: Shard,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(ShardKeys::new(campaign, shard).stream())
            .arg("-")
            .arg("+")
            .query_async(&mut connection)
            .await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| StreamEntry { id, fields })
            .collect())
    }

    /// Copies an entry no reader can use to the shard's dead-letter stream, with the reason,
    /// and forgets its refusals: the flusher then passes it, and an operator finds it there.
    pub async fn dead_letter(
        &self,
        campaign: &str,
        shard: Shard,
        entry: &StreamEntry,
        reason: &str,
    ) -> Result<(), RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut fields: Vec<(&str, &str)> = vec![("source_id", &entry.id), ("reason", reason)];
        fields.extend(entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut connection = self.connection().await?;
        let _: String = connection.xadd(keys.dead_letters(), "*", &fields).await?;
        self.flush_forgive(campaign, shard, &entry.id).await
    }
}

/// The most entries [`HotState::flush_lag`] counts behind the flush cursor (those the board
/// writer has yet to apply), so that a lagging writer cannot make a lag probe read a whole
/// stream.
const LAG_CAP: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn a_read_reply_gives_its_entries_in_order_in_either_protocol() {
        let entries = || {
            Value::Array(vec![
                entry("1-0", &["type", "attempt", "attempt", "7-1"]),
                Value::Array(vec![bulk("1-1"), Value::Nil]),
                entry("2-0", &["type", "participant", "person", "名\t字"]),
            ])
        };
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("s"), entries()])]);
        let resp3 = Value::Map(vec![(bulk("s"), entries())]);
        for reply in [resp2, resp3] {
            let read = read_entries(reply).expect("a well-formed reply");
            let ids: Vec<&str> = read.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(ids, ["1-0", "1-1", "2-0"]);
            assert_eq!(read[0].get("attempt"), Some("7-1"));
            assert_eq!(read[0].fields.len(), 2);
            assert!(read[1].fields.is_empty(), "deleted while pending");
            assert_eq!(read[2].get("person"), Some("名\t字"));
        }
        assert!(read_entries(Value::Nil).expect("nothing new").is_empty());
    }

    fn stream_entry(fields: &[(&str, &str)]) -> StreamEntry {
        StreamEntry::with_fields("1-0", fields)
    }

    /// The parts of an attempt entry, with `values` as given.
    fn attempt_parts(values: &str) -> [(&'static str, &str); 6] {
        [
            ("attempt", "42-3"),
            ("values", values),
            ("questions", "q1/0123,q2/10"),
            ("key", "21"),
            ("answers", "21"),
            ("path", "p,c"),
        ]
    }

    /// An attempt entry as finalize writes it, packed, with `values` as given.
    fn attempt(values: &str) -> StreamEntry {
        let parts = attempt_parts(values);
        let packed: Vec<&str> = parts.iter().map(|(_, value)| *value).collect();
        stream_entry(&[("attempt", &packed.join("\t"))])
    }

    /// The same entry with named fields, as finalize wrote it before the packing (and still
    /// does with `redis.packed_entries` off).
    fn named_attempt(values: &str) -> StreamEntry {
        let mut fields = vec![("type", "attempt")];
        fields.extend(attempt_parts(values));
        stream_entry(&fields)
    }

    #[test]
    fn a_packed_attempt_entry_reads_as_its_named_fields_do() {
        let values = "c,9,1,2,3,4,2,2,0,3,12,900,3,2,,";
        let (packed, named) = (attempt(values), named_attempt(values));
        assert_eq!(packed.fields.len(), 1, "one field: {packed:?}");
        for field in [
            "type",
            "attempt",
            "values",
            "questions",
            "key",
            "answers",
            "path",
        ] {
            assert_eq!(packed.get(field), named.get(field), "{field}");
        }
        assert_eq!(packed.get("participant"), None);
        let record = decode(&packed).expect("a packed attempt decodes");
        assert_eq!(record, decode(&named).expect("a named attempt decodes"));
        let StreamRecord::Attempt(attempt) = record else {
            panic!("an attempt: {record:?}");
        };
        assert_eq!(
            (attempt.attempt.participant, attempt.attempt.number),
            (42, 3)
        );
        assert_eq!(
            (attempt.unit, attempt.points, attempt.attempts),
            ("c", 2, 3)
        );
        assert_eq!(board_record(&packed), board_record(&named));
        // A packed entry missing its last parts lacks those fields; an `attempt` field without a
        // tab is an attempt id, of an entry that must then say its type.
        let short = stream_entry(&[("attempt", "42-3\tc,9,1,2,3,4,2,2,0,3,12,900,3,2,,")]);
        assert_eq!(decode(&short), Err(EntryError::Missing("questions")));
        assert_eq!(board_record(&short), BoardRecord::Incomplete);
        let bare = stream_entry(&[("attempt", "42-3")]);
        assert_eq!(decode(&bare), Err(EntryError::Missing("type")));
        // A dead letter: the entry's field beside the flusher's own.
        let packed_value = packed.fields[0].1.clone();
        let letter = stream_entry(&[
            ("source_id", "1-0"),
            ("reason", "refused"),
            ("attempt", &packed_value),
        ]);
        assert_eq!(letter.get("attempt"), Some("42-3"));
        assert_eq!(letter.get("reason"), Some("refused"));
        assert_eq!(decode(&letter), decode(&named));
    }

    #[test]
    fn an_attempt_entry_gives_its_board_fields() {
        // Both questions right, the participant's third final attempt, summed points.
        let entry = attempt("c,9,1,2,3,4,2,2,0,3,12,900,3,2,,");
        let record = board_record(&entry);
        let expected = BoardAttempt {
            participant: 42,
            path: "p,c",
            totals: BoardScore {
                points: 12,
                time_used_ms: 900,
            },
            last_ms: 3,
            previous_last_ms: 2,
            unit_points: 2,
            first: false,
            full_marks: true,
        };
        assert_eq!(record, BoardRecord::Attempt(expected.clone()));
        // Under `best`, a worse first attempt and a negative change of the counted points.
        let entry = attempt("c,9,1,2,3,4,1,1,0,1,1,4,3,0,-1,");
        let record = board_record(&entry);
        let BoardRecord::Attempt(first) = record else {
            panic!("an attempt: {record:?}");
        };
        assert_eq!(
            (first.unit_points, first.first, first.full_marks),
            (-1, true, false)
        );
        assert_eq!(
            board_record(&attempt("c,9,1,2,3,4,2,2,0,3,12,900,3,2,,1")),
            BoardRecord::Nothing,
            "an excluded participant's attempt"
        );
        // The same values as fields of their own (written before `values` was packed).
        let mut named = named_attempt("");
        named.fields.retain(|(name, _)| name != "values");
        for (name, value) in PACKED_NAMES
            .iter()
            .zip("c,9,1,2,3,4,2,2,0,3,12,900,3,2,,".split(','))
        {
            named.fields.push(((*name).to_owned(), value.to_owned()));
        }
        assert_eq!(board_record(&named), BoardRecord::Attempt(expected));
    }

    #[test]
    fn an_entry_the_boards_cannot_read_is_incomplete_and_others_change_nothing() {
        for values in [
            "c,9,1,2,3,4,2,2,0,3",
            "c,9,1,2,3,4,2,2,0,3,12,900,3,2,,,",
            "c,9,1,2,3,4,2,2,0,3,x,900,3,2,,",
        ] {
            assert_eq!(
                board_record(&attempt(values)),
                BoardRecord::Incomplete,
                "{values}"
            );
        }
        let before_board_fields = stream_entry(&[("type", "attempt"), ("attempt", "4-1")]);
        assert_eq!(board_record(&before_board_fields), BoardRecord::Incomplete);
        let registration = stream_entry(&[("type", "participant"), ("person", "1\tA")]);
        assert_eq!(board_record(&registration), BoardRecord::Nothing);
        assert_eq!(
            board_record(&stream_entry(&[("type", "later")])),
            BoardRecord::Nothing
        );
    }

    #[test]
    fn an_exclusion_entry_gives_the_totals_it_takes_off() {
        let exclusion = |kind: &str, attempts: &str| {
            stream_entry(&[
                ("type", kind),
                ("participant", "7"),
                ("at", "10"),
                ("path", "p"),
                ("attempts", attempts),
                ("total_points", "9"),
                ("total_time", "300"),
                ("full_marks", "1"),
                ("last", "8"),
            ])
        };
        let expected = |excluded| {
            BoardRecord::Exclusion(BoardExclusion {
                participant: 7,
                path: "p",
                excluded,
                attempts: 2,
                totals: BoardScore {
                    points: 9,
                    time_used_ms: 300,
                },
                full_marks: 1,
                last_ms: 8,
            })
        };
        assert_eq!(board_record(&exclusion("exclusion", "2")), expected(true));
        assert_eq!(board_record(&exclusion("inclusion", "2")), expected(false));
        assert_eq!(
            board_record(&exclusion("exclusion", "0")),
            BoardRecord::Nothing,
            "no final attempt, nothing on the boards"
        );
    }

    #[test]
    fn a_malformed_read_reply_is_an_error() {
        for reply in [
            Value::Int(3),
            Value::Array(vec![Value::Array(vec![bulk("s")])]),
            Value::Array(vec![Value::Array(vec![bulk("s"), Value::Int(1)])]),
            Value::Array(vec![Value::Array(vec![
                bulk("s"),
                Value::Array(vec![Value::Array(vec![Value::Int(1), Value::Nil])]),
            ])]),
        ] {
            assert!(
                matches!(read_entries(reply.clone()), Err(RedisError::Reply(_))),
                "{reply:?}"
            );
        }
    }
}
