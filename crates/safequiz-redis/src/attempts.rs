//! Attempts in hot state: start (or resume), save an answer, submit, read, and the sweeper's
//! view of attempts whose time has run out.
//!
//! Each call is one Lua script (see `lua/`), so concurrent requests from any replica serialize in
//! Redis: 24 simultaneous starts make one attempt, 8 simultaneous submits count once. The
//! server's clock is passed in (`now_ms`); Redis's own clock is never used.
//!
//! How an attempt is spelled in the participant's hash (and in its stream entry) is `encoding`'s:
//! the start's arguments are encoded there and records and entries decoded there.

use std::fmt;

use jiff::Timestamp;
use rand::Rng;
use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::{OptionOrder, draw};
use safequiz_domain::score::Scoring;

use crate::keys::{Shard, ShardKeys};
use crate::scripts::{AttemptScripts, Call, Formatted, Lua, attempt_scripts};
use crate::{HotState, RedisError};

mod encoding;

pub(crate) use encoding::Times;
/// The stored answers' encoding: the scripts write it; tests spell hashes with it.
#[cfg(test)]
pub(crate) use encoding::encode_answers;
pub use encoding::{EncodedQuestions, FinalQuestion, StoredQuestion};

/// An attempt's public id: `<participant>-<n>`, its participant's n-th attempt.
///
/// The id names the participant and so the shard; nothing needs looking up to find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptId {
    /// The participant whose attempt it is.
    pub participant: u64,
    /// 1 for the participant's first attempt, and so on.
    pub number: u32,
}

impl AttemptId {
    /// Parses `<participant>-<n>`; anything else is not an attempt id.
    pub fn parse(text: &str) -> Option<AttemptId> {
        let (participant, number) = text.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(participant) || !digits(number) {
            return None;
        }
        Some(AttemptId {
            participant: participant.parse().ok()?,
            number: number.parse().ok().filter(|&n| n > 0)?,
        })
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.participant, self.number)
    }
}

/// Who an attempt script acts for, and where their finalized attempts roll up.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    /// The campaign id.
    pub campaign: &'a str,
    /// The campaign's shard count.
    pub shards: u16,
    /// The participant.
    pub participant: u64,
    /// Unit ids from the entry's root down to the participant's own unit.
    pub path: &'a [&'a str],
    /// The campaign's scoring: points by kind, the counted attempts and the cap over the
    /// campaign (`Campaign::scoring`; `Scoring::uniform(1)` is the national rule).
    pub scoring: Scoring,
}

impl Actor<'_> {
    /// The shard the participant's keys are in.
    fn shard(&self) -> Shard {
        Shard::of_participant(self.participant, self.shards)
    }

    fn invocation<'s>(&self, script: &'s Lua, now_ms: i64) -> Call<'s> {
        let keys = ShardKeys::new(self.campaign, self.shard());
        let mut invocation = script.call();
        invocation
            .key(keys.participant_key(self.participant))
            .key(keys.deadlines_key())
            .key(keys.stream_key());
        invocation
            .arg(now_ms)
            .arg(Formatted(self.scoring.script_arg()))
            .arg(self.participant)
            .arg(Formatted(Joined(self.path)));
        invocation
    }
}

/// Unit ids joined by ",": the path argument of the attempt scripts.
struct Joined<'a>(&'a [&'a str]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut units = self.0.iter();
        if let Some(first) = units.next() {
            f.write_str(first)?;
        }
        for unit in units {
            f.write_str(",")?;
            f.write_str(unit)?;
        }
        Ok(())
    }
}

/// A freshly drawn attempt, encoded for the start script.
#[derive(Clone, Debug)]
pub struct NewAttempt {
    /// Calendar day number of the start (see `safequiz_domain::calendar::day_number`).
    pub day: i32,
    /// Start instant, Unix ms.
    pub started_ms: i64,
    /// Deadline, Unix ms.
    pub deadline_ms: i64,
    /// Last instant answers and submits count (deadline + grace), Unix ms.
    pub accepts_until_ms: i64,
    questions: String,
    key: String,
    kinds: String,
}

impl NewAttempt {
    /// An attempt with no questions yet.
    pub fn new(day: i32, started_ms: i64, deadline_ms: i64, accepts_until_ms: i64) -> NewAttempt {
        NewAttempt {
            day,
            started_ms,
            deadline_ms,
            accepts_until_ms,
            questions: String::with_capacity(64),
            key: String::with_capacity(8),
            kinds: String::with_capacity(16),
        }
    }

    /// The attempt a start at `now` draws: its calendar day, deadline and grace by the campaign's
    /// rules, and the questions `rng` draws from the campaign's pool (docs/design.md §3). The
    /// start handler and the benchmarks that play it call this, so a start is built one way.
    pub fn draw<R: Rng + ?Sized>(campaign: &Campaign, now: Timestamp, rng: &mut R) -> NewAttempt {
        let deadline = campaign.deadline(now);
        let mut attempt = NewAttempt::new(
            calendar::day_number(campaign.day_of(now)),
            now.as_millisecond(),
            deadline.as_millisecond(),
            campaign.accepts_until(deadline).as_millisecond(),
        );
        for drawn in draw(&campaign.pool, &campaign.plan, rng) {
            let question = campaign
                .pool
                .get(drawn.question)
                .expect("draw yields indices into the pool it was given");
            attempt.push(
                &question.id,
                question.kind,
                drawn.options,
                drawn.options.shown(question.answer),
            );
        }
        attempt
    }

    /// Appends a question in display position `self.len()`: its id, the display order of its
    /// options and its correct options as a set over display positions.
    pub fn push(&mut self, id: &str, kind: QuestionKind, order: OptionOrder, key: Choices) {
        encoding::push_question(&mut self.questions, id, order);
        self.key.push(encoding::encode_choices(key));
        encoding::push_kind(&mut self.kinds, kind, order.as_slice().len());
    }

    /// The questions as stored: `id/order` joined by `,`.
    pub fn encoded_questions(&self) -> &str {
        &self.questions
    }

    /// The correct options as stored, one character per question.
    pub fn encoded_key(&self) -> &str {
        &self.key
    }

    /// Kind and option count per question, two characters each.
    pub fn encoded_kinds(&self) -> &str {
        &self.kinds
    }
}

/// How a finalized attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    /// Points earned.
    pub points: u32,
    /// Questions answered correctly.
    pub correct: u32,
    /// When it was submitted (for an automatic submission, its deadline), Unix ms.
    pub finished_ms: i64,
    /// Time counted: from the start to the submit, at most the time limit.
    pub time_used_ms: i64,
    /// Whether the server submitted it because time ran out.
    pub auto_submitted: bool,
}

/// An attempt as stored: when it runs, what was drawn, what was answered, and (once final) the
/// key and the result.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// The attempt's id.
    pub id: AttemptId,
    /// Calendar day number of its start.
    pub day: i32,
    /// Start, Unix ms.
    pub started_ms: i64,
    /// Deadline, Unix ms.
    pub deadline_ms: i64,
    /// Last instant answers count, Unix ms.
    pub accepts_until_ms: i64,
    questions: String,
    answers: String,
    key: String,
    /// Each question's kind and option count (`n:v`); empty for an attempt read from the
    /// record, where nothing needs it.
    kinds: String,
    /// The result, once final.
    pub result: Option<AttemptResult>,
}

impl AttemptRecord {
    /// The drawn questions in display order; `None` for an entry that does not decode (a record
    /// written by another version).
    pub fn questions(&self) -> impl Iterator<Item = Option<StoredQuestion<'_>>> + '_ {
        EncodedQuestions::new(&self.questions, &self.key, &self.answers).decode()
    }

    /// How many questions the attempt has.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether the attempt has no question (never true of a stored attempt).
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// A final attempt read back from the durable record after hot state forgot it (see
    /// [`crate::archive`]): the same record the scripts returned before, so the service renders
    /// it with the same code. `questions` are in display order, each with its id, option order,
    /// key and the options chosen.
    pub fn archived<'q>(
        id: AttemptId,
        day: i32,
        started_ms: i64,
        deadline_ms: i64,
        result: AttemptResult,
        questions: impl IntoIterator<Item = FinalQuestion<'q>>,
    ) -> AttemptRecord {
        let mut text = String::with_capacity(64);
        let mut key = String::with_capacity(8);
        let mut answers = String::with_capacity(8);
        for question in questions {
            encoding::push_question(&mut text, question.id, question.order);
            key.push(encoding::encode_choices(question.key));
            answers.push(encoding::encode_choices(question.chosen));
        }
        AttemptRecord {
            id,
            day,
            started_ms,
            deadline_ms,
            // Not kept by the record, and never read of a final attempt.
            accepts_until_ms: deadline_ms,
            questions: text,
            answers,
            key,
            kinds: String::new(),
            result: Some(result),
        }
    }

    /// The record a script replied (`record` in `attempt_prelude.lua`), its texts moved in.
    fn parse(participant: u64, reply: Vec<String>) -> Result<AttemptRecord, RedisError> {
        let malformed = |reply: &dyn std::fmt::Debug| {
            RedisError::Reply(format!("malformed attempt record: {reply:?}"))
        };
        let [
            status,
            number,
            times,
            questions,
            answers,
            kinds,
            key,
            result,
        ] = <[String; 8]>::try_from(reply).map_err(|reply| malformed(&reply))?;
        let fields = || {
            let times = Times::parse(&times)?;
            let result = if result.is_empty() {
                None
            } else {
                Some(AttemptResult::parse(&result)?)
            };
            Some((times, result, number.parse().ok()?))
        };
        let Some((times, result, number)) = fields() else {
            return Err(malformed(&[
                &status, &number, &times, &questions, &answers, &kinds, &key, &result,
            ]));
        };
        Ok(AttemptRecord {
            id: AttemptId {
                participant,
                number,
            },
            day: times.day,
            started_ms: times.started_ms,
            deadline_ms: times.deadline_ms,
            accepts_until_ms: times.accepts_until_ms,
            questions,
            answers,
            key,
            kinds,
            result,
        })
    }

    /// The attempt's save-ticket fields, `<accepts-until ms>.<kinds>`: what a save needs to
    /// know of the attempt to be checked without reading it ([`SaveTicket`]).
    pub fn save_ticket_fields(&self) -> String {
        format!("{}.{}", self.accepts_until_ms, self.kinds)
    }
}

/// What a verified save ticket says of an open attempt: when it stops taking answers and each
/// question's kind and option count (`n:v`), so that a save can be checked without reading the
/// attempt and written with [`HotState::save_listed`]. The caller verifies the ticket's MAC
/// (it binds these to the campaign, participant and attempt); this reads its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveTicket<'t> {
    /// The last instant answers count, Unix ms.
    pub accepts_until_ms: i64,
    kinds: &'t str,
}

impl<'t> SaveTicket<'t> {
    /// Reads [`AttemptRecord::save_ticket_fields`]; `None` when they do not parse.
    pub fn parse(fields: &'t str) -> Option<SaveTicket<'t>> {
        let (accepts, kinds) = fields.split_once('.')?;
        Some(SaveTicket {
            accepts_until_ms: accepts.parse().ok()?,
            kinds,
        })
    }

    /// The answer `choice` makes for question `index` (0-based), encoded as the scripts store
    /// it (the bit set of the chosen options); `None` when the attempt has no such question or
    /// the question no such options, or takes only one. The same rule as `choice` in
    /// `attempt_prelude.lua`, which checks a save sent without a ticket; a test plays both.
    pub fn answer(&self, index: u32, choice: ChoiceArg) -> Option<u8> {
        let at = usize::try_from(index).ok()?.checked_mul(2)?;
        let &[kind, count] = self.kinds.as_bytes().get(at..at + 2)? else {
            return None;
        };
        let count = count.checked_sub(b'0')?;
        let bits = if kind == b't' {
            choice.true_false
        } else {
            choice.letters
        };
        if bits < 0 || bits >= 1i16.checked_shl(count.into())? {
            return None;
        }
        if kind != b'm' && bits & (bits - 1) != 0 {
            return None;
        }
        u8::try_from(bits).ok()
    }
}

/// A participant's choice for one question, as the scripts check it.
///
/// The same keys mean different options by kind (`F` is the sixth option of a choice question
/// but "false" of a true/false one), and only the stored attempt knows each question's kind, so
/// both readings go to the script, which picks by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChoiceArg {
    /// The set the keys name as letters `A`-`F`, or -1 when a key is not such a letter.
    pub letters: i16,
    /// The set the keys name as `T`/`F`, or -1 when a key is neither.
    pub true_false: i16,
}

impl ChoiceArg {
    /// Reads option keys (each one character); `None` when a key repeats.
    pub fn parse<'k>(keys: impl IntoIterator<Item = &'k str>) -> Option<ChoiceArg> {
        let mut letters: i16 = 0;
        let mut true_false: i16 = 0;
        for key in keys {
            let mut chars = key.chars();
            let (Some(key), None) = (chars.next(), chars.next()) else {
                letters = -1;
                true_false = -1;
                continue;
            };
            let letter = match key {
                'A'..='F' => Some(1i16 << (key as u8 - b'A')),
                _ => None,
            };
            let judgement = match key {
                'T' => Some(1i16),
                'F' => Some(2i16),
                _ => None,
            };
            for (set, bit) in [(&mut letters, letter), (&mut true_false, judgement)] {
                match bit {
                    Some(_) if *set < 0 => {}
                    Some(bit) if *set & bit != 0 => return None,
                    Some(bit) => *set |= bit,
                    None => *set = -1,
                }
            }
        }
        Some(ChoiceArg {
            letters,
            true_false,
        })
    }
}

/// What a start did.
#[derive(Clone, Debug)]
pub enum StartOutcome {
    /// A new attempt.
    Created(AttemptRecord),
    /// Today's attempt was still open; here it is again.
    Resumed(AttemptRecord),
    /// Today's attempts are used up.
    DailyLimitReached,
    /// The attempts allowed over the whole campaign (`attempts_total`) are used up.
    TotalLimitReached,
}

/// What saving an answer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Saved.
    Saved,
    /// No such attempt of this participant.
    Missing,
    /// The attempt is final, or its time (with grace) has run out (it is final now).
    Closed,
    /// The attempt has no question at that index.
    BadIndex,
    /// The question has no such options, or takes only one.
    BadChoice,
}

/// What a submit did.
#[derive(Clone, Debug)]
pub enum SubmitOutcome {
    /// Final (now, or already before: submits are idempotent).
    Final(AttemptRecord),
    /// No such attempt of this participant.
    Missing,
    /// The attempt was final, is in SQL and its fields have left the participant's hash (see
    /// [`crate::archive`]): the result is the record's row, unchanged.
    Archived,
    /// Time (with grace) had run out: the attempt is final now with the answers saved before,
    /// and the answers sent with this submit were not counted.
    Closed,
    /// An answer names a question index the attempt does not have.
    BadIndex(u32),
    /// An answer names options its question does not have.
    BadChoice(u32),
}

/// What reading an attempt found.
#[derive(Clone, Debug)]
pub enum ReadOutcome {
    /// Still running.
    Open(AttemptRecord),
    /// Final (possibly just now, because its time had run out).
    Final(AttemptRecord),
    /// Final, in SQL, and forgotten by hot state (see [`crate::archive`]): read the record.
    Archived,
    /// No such attempt of this participant.
    Missing,
}

/// An open attempt whose grace has ended, as the deadline index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueAttempt {
    /// The attempt.
    pub id: AttemptId,
    /// Its participant's unit, to find where it rolls up.
    pub unit: String,
}

/// The participant's requests (one call each) and the sweeper's list. A request's span is at
/// `debug` level, so that under the default `info` filter it costs nothing: at `info` its fields
/// are formatted and its bookkeeping done on every request, logged or not (about 0.7 µs a span,
/// docs/performance.md, "Spans off the hot path"). The participant is not among its fields: the
/// service's log lines name it already (`participant`), and a JSON line must not hold a key twice.
impl HotState {
    /// Starts today's attempt with the questions of `attempt`, or resumes the open one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start(
        &self,
        actor: &Actor<'_>,
        attempts_per_day: u32,
        attempt: &NewAttempt,
    ) -> Result<StartOutcome, RedisError> {
        let mut invocation = actor.invocation(&self.attempt_scripts().start, attempt.started_ms);
        invocation
            .arg(attempt.day)
            .arg(attempts_per_day)
            .arg(attempt.started_ms)
            .arg(attempt.deadline_ms)
            .arg(attempt.accepts_until_ms)
            .arg(&attempt.questions)
            .arg(&attempt.key)
            .arg(&attempt.kinds)
            .arg(actor.scoring.attempts_total.unwrap_or(0));
        let reply = self.invoke(actor, invocation).await?;
        match reply.first().map(String::as_str) {
            Some("created") => Ok(StartOutcome::Created(AttemptRecord::parse(
                actor.participant,
                reply,
            )?)),
            Some("resumed") => Ok(StartOutcome::Resumed(AttemptRecord::parse(
                actor.participant,
                reply,
            )?)),
            Some("limit") => Ok(StartOutcome::DailyLimitReached),
            Some("total_limit") => Ok(StartOutcome::TotalLimitReached),
            _ => Err(unexpected("start", &reply)),
        }
    }

    /// Saves the answer to question `index` (0-based) of attempt `number`.
    #[tracing::instrument(level = "debug", skip_all, fields(attempt.number = number))]
    pub async fn save(
        &self,
        actor: &Actor<'_>,
        number: u32,
        index: u32,
        choice: ChoiceArg,
        now_ms: i64,
    ) -> Result<SaveOutcome, RedisError> {
        let mut invocation = actor.invocation(&self.attempt_scripts().save, now_ms);
        invocation
            .arg(number)
            .arg(index)
            .arg(choice.letters)
            .arg(choice.true_false);
        let reply = self.invoke(actor, invocation).await?;
        match reply.first().map(String::as_str) {
            Some("saved") => Ok(SaveOutcome::Saved),
            Some("missing") => Ok(SaveOutcome::Missing),
            Some("closed") => Ok(SaveOutcome::Closed),
            Some("bad_index") => Ok(SaveOutcome::BadIndex),
            Some("bad_choice") => Ok(SaveOutcome::BadChoice),
            _ => Err(unexpected("save", &reply)),
        }
    }

    /// Saves the answer `bits` (the bit set of the chosen options, checked by the caller against
    /// the question's kind and option count) to question `index` of attempt `number`, with one
    /// plain `LSET` of the attempt's answers list and no script: for a save whose ticket the
    /// caller has verified, deadline included (docs/design.md, "Save tickets").
    ///
    /// `LSET` fails on a missing list, which is every attempt that is not open (final, never
    /// started, or started before answers lists existed): then nothing is written and this
    /// answers `false`, and the caller runs [`HotState::save`], which tells those apart.
    #[tracing::instrument(level = "debug", skip_all, fields(attempt.number = number))]
    pub async fn save_listed(
        &self,
        actor: &Actor<'_>,
        number: u32,
        index: u32,
        bits: u8,
    ) -> Result<bool, RedisError> {
        let key =
            ShardKeys::new(actor.campaign, actor.shard()).answers_key(actor.participant, number);
        let mut connection = self.connection().await?;
        let answer = [b'0' + bits];
        let reply: Result<(), redis::RedisError> = redis::cmd("LSET")
            .arg(key)
            .arg(index)
            .arg(&answer[..])
            .query_async(&mut connection)
            .await;
        match reply {
            Ok(()) => Ok(true),
            Err(error) if error.code() == Some("ERR") => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Saves `answers` (question index, choice), all or none, then finalizes attempt `number`.
    #[tracing::instrument(level = "debug", skip_all, fields(attempt.number = number))]
    pub async fn submit(
        &self,
        actor: &Actor<'_>,
        number: u32,
        answers: &[(u32, ChoiceArg)],
        now_ms: i64,
    ) -> Result<SubmitOutcome, RedisError> {
        let mut invocation = actor.invocation(&self.attempt_scripts().submit, now_ms);
        invocation.arg(number).arg(answers.len());
        for (index, choice) in answers {
            invocation
                .arg(*index)
                .arg(choice.letters)
                .arg(choice.true_false);
        }
        let reply = self.invoke(actor, invocation).await?;
        let index = || reply.get(1).and_then(|i| i.parse().ok()).unwrap_or(0);
        match reply.first().map(String::as_str) {
            Some("final") => Ok(SubmitOutcome::Final(AttemptRecord::parse(
                actor.participant,
                reply,
            )?)),
            Some("missing") => Ok(SubmitOutcome::Missing),
            Some("archived") => Ok(SubmitOutcome::Archived),
            Some("closed") => Ok(SubmitOutcome::Closed),
            Some("bad_index") => Ok(SubmitOutcome::BadIndex(index())),
            Some("bad_choice") => Ok(SubmitOutcome::BadChoice(index())),
            _ => Err(unexpected("submit", &reply)),
        }
    }

    /// Reads attempt `number`, finalizing it first (automatically submitted) when its grace has
    /// ended; the sweeper finalizes through this too.
    #[tracing::instrument(level = "debug", skip_all, fields(attempt.number = number))]
    pub async fn read(
        &self,
        actor: &Actor<'_>,
        number: u32,
        now_ms: i64,
    ) -> Result<ReadOutcome, RedisError> {
        let mut invocation = actor.invocation(&self.attempt_scripts().read, now_ms);
        invocation.arg(number);
        let reply = self.invoke(actor, invocation).await?;
        match reply.first().map(String::as_str) {
            Some("open") => Ok(ReadOutcome::Open(AttemptRecord::parse(
                actor.participant,
                reply,
            )?)),
            Some("final") => Ok(ReadOutcome::Final(AttemptRecord::parse(
                actor.participant,
                reply,
            )?)),
            Some("missing") => Ok(ReadOutcome::Missing),
            Some("archived") => Ok(ReadOutcome::Archived),
            _ => Err(unexpected("read", &reply)),
        }
    }

    /// Up to `limit` open attempts of one shard whose grace ended before `now_ms`, oldest
    /// first: the sweeper's work list. (At `accepts_until` itself an answer still counts.)
    #[tracing::instrument(skip_all, fields(shard = %shard))]
    pub async fn due_attempts(
        &self,
        campaign: &str,
        shard: Shard,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueAttempt>, RedisError> {
        let mut connection = self.connection().await?;
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(ShardKeys::new(campaign, shard).deadlines())
            .arg("-inf")
            .arg(format!("({now_ms}"))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut connection)
            .await?;
        Ok(members
            .iter()
            .filter_map(|member| {
                let (id, unit) = member.split_once(' ')?;
                Some(DueAttempt {
                    id: AttemptId::parse(id)?,
                    unit: unit.to_owned(),
                })
            })
            .collect())
    }

    /// The attempt scripts of this handle's entry format (`RedisSettings::packed_entries`).
    fn attempt_scripts(&self) -> &'static AttemptScripts {
        attempt_scripts(self.settings.packed_entries)
    }

    /// Runs an attempt operation's script call through this handle's group commit
    /// (`batch.rs`): alone when nothing of its target is in flight, else with the operations
    /// that arrived meanwhile, in one script call.
    async fn invoke(
        &self,
        actor: &Actor<'_>,
        invocation: Call<'static>,
    ) -> Result<Vec<String>, RedisError> {
        let target = self.is_cluster().then(|| (actor.campaign, actor.shard()));
        self.batches
            .run(invocation, target, &self.settings, &self.connections)
            .await
    }
}

fn unexpected(script: &str, reply: &[String]) -> RedisError {
    RedisError::Reply(format!(
        "unexpected reply of the {script} script: {reply:?}"
    ))
}

#[cfg(test)]
mod tests;
