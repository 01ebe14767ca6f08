//! The practice room (练功房): attempts that are reviewed at once and never counted.
//!
//! A practice attempt never touches what a real attempt does (the participant's hash, the
//! deadlines index, the totals, the boards, the stream): it is one hash of its own, created by
//! `lua/practice_start.lua` with an expiry one second after its grace ends, and deleted by
//! `lua/practice_submit.lua`, which scores it and appends one short line to the day's history.
//! So an ended practice attempt costs Redis nothing; what a participant's practice keeps is
//! bounded per participant and day: a counter and a history of at most [`HISTORY_KEPT`] lines,
//! both expiring at the end of the campaign's calendar day.
//!
//! Keys (all in the participant's shard slot `{c:s}`, so both scripts run on a cluster; spelled
//! in `keys`, `ShardKeys::practice_*`):
//! - `{c:s}:x:<participant>`: the open practice attempt (`t`, `q`, `k`, `v` as in the scripts);
//! - `{c:s}:xn:<participant>:<day>`: practice attempts started that day;
//! - `{c:s}:xh:<participant>:<day>`: that day's finished practice, newest first.

use redis::AsyncCommands;

use crate::attempts::{ChoiceArg, NewAttempt};
use crate::keys::{Shard, ShardKeys};
use crate::scripts::{PRACTICE_START, PRACTICE_SUBMIT};
use crate::{HotState, RedisError};

/// History lines kept per participant and day.
pub const HISTORY_KEPT: usize = 20;

/// Whose practice, and where its keys are.
#[derive(Clone, Copy, Debug)]
pub struct PracticeActor<'a> {
    /// The campaign id.
    pub campaign: &'a str,
    /// The campaign's shard count.
    pub shards: u16,
    /// The participant.
    pub participant: u64,
}

impl PracticeActor<'_> {
    fn keys(&self) -> ShardKeys<'_> {
        ShardKeys::new(
            self.campaign,
            Shard::of_participant(self.participant, self.shards),
        )
    }

    /// The open practice attempt's hash.
    pub fn attempt_key(&self) -> String {
        self.keys().practice_attempt(self.participant)
    }

    /// The counter of practice attempts started on `day`.
    pub fn count_key(&self, day: i32) -> String {
        self.keys().practice_count(self.participant, day)
    }

    /// The history of `day`.
    pub fn history_key(&self, day: i32) -> String {
        self.keys().practice_history(self.participant, day)
    }
}

/// An open practice attempt as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenPractice {
    /// Start, Unix ms.
    pub started_ms: i64,
    /// Deadline, Unix ms.
    pub deadline_ms: i64,
    /// Last instant a submit counts, Unix ms.
    pub accepts_until_ms: i64,
    /// The questions as stored (`id/order` joined by `,`).
    pub questions: String,
    /// Practice attempts started today, this one included.
    pub started_today: u32,
}

/// What a practice start did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PracticeStart {
    /// A new practice attempt.
    Created(OpenPractice),
    /// The open one, unchanged.
    Resumed(OpenPractice),
    /// Today's cap is reached.
    DailyLimitReached,
}

/// A scored practice attempt, for the review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PracticeResult {
    /// The questions (`id/order` joined by `,`), the key and the answers, as stored.
    pub questions: String,
    /// The key, one character per question.
    pub key: String,
    /// The answers, one character per question.
    pub answers: String,
    /// Correct answers.
    pub correct: u32,
    /// Points it would have earned.
    pub points: u32,
    /// Time used, ms.
    pub time_used_ms: i64,
    /// When it was submitted, Unix ms.
    pub finished_ms: i64,
}

/// What a practice submit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PracticeSubmit {
    /// Scored, recorded in the day's history and deleted.
    Done(PracticeResult),
    /// No open practice attempt (never started, submitted already, or expired).
    Gone,
    /// Submitted after the grace: deleted unscored.
    Late,
    /// The answer to question `index` (0-based) is not one of its options, or the count of
    /// answers is wrong (`None`).
    Invalid(Option<usize>),
}

/// One finished practice attempt of the day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PracticeLine {
    /// Start, Unix ms.
    pub started_ms: i64,
    /// Submit, Unix ms.
    pub finished_ms: i64,
    /// Time used, ms.
    pub time_used_ms: i64,
    /// Correct answers.
    pub correct: u32,
    /// Questions.
    pub questions: u32,
    /// Points it would have earned.
    pub points: u32,
}

impl PracticeLine {
    fn parse(line: &str) -> Option<PracticeLine> {
        let mut fields = line.split(',');
        let mut next = || fields.next()?.parse::<i64>().ok();
        Some(PracticeLine {
            started_ms: next()?,
            finished_ms: next()?,
            time_used_ms: next()?,
            correct: u32::try_from(next()?).ok()?,
            questions: u32::try_from(next()?).ok()?,
            points: u32::try_from(next()?).ok()?,
        })
    }
}

fn unexpected(script: &str, reply: &[String]) -> RedisError {
    RedisError::Reply(format!(
        "unexpected reply of the {script} script: {reply:?}"
    ))
}

fn open_from(reply: &[String]) -> Option<OpenPractice> {
    let mut times = reply.get(1)?.split(',').map(str::parse::<i64>);
    Some(OpenPractice {
        started_ms: times.next()?.ok()?,
        deadline_ms: times.next()?.ok()?,
        accepts_until_ms: times.next()?.ok()?,
        questions: reply.get(2)?.clone(),
        started_today: reply.get(4)?.parse().ok()?,
    })
}

impl HotState {
    /// Starts a practice attempt with the questions of `attempt` (drawn by the caller from the
    /// practice pool), or resumes the open one. `cap` is the day's limit (`None`: unlimited);
    /// `day_left_ms` the time to the end of the campaign's day, when the count expires.
    pub async fn practice_start(
        &self,
        actor: &PracticeActor<'_>,
        cap: Option<u32>,
        attempt: &NewAttempt,
        day_left_ms: i64,
    ) -> Result<PracticeStart, RedisError> {
        let mut call = PRACTICE_START.call();
        call.key(actor.attempt_key())
            .key(actor.count_key(attempt.day));
        call.arg(attempt.started_ms)
            .arg(cap.unwrap_or(0))
            .arg(attempt.started_ms)
            .arg(attempt.deadline_ms)
            .arg(attempt.accepts_until_ms)
            .arg(attempt.encoded_questions())
            .arg(attempt.encoded_key())
            .arg(attempt.encoded_kinds())
            .arg(day_left_ms);
        let mut connection = self.connection().await?;
        let reply: Vec<String> = call.invoke(&mut connection).await?;
        match reply.first().map(String::as_str) {
            Some("created") => open_from(&reply)
                .map(PracticeStart::Created)
                .ok_or_else(|| unexpected("practice_start", &reply)),
            Some("resumed") => open_from(&reply)
                .map(PracticeStart::Resumed)
                .ok_or_else(|| unexpected("practice_start", &reply)),
            Some("limit") => Ok(PracticeStart::DailyLimitReached),
            _ => Err(unexpected("practice_start", &reply)),
        }
    }

    /// Scores the open practice attempt with `answers` (one per question, display order),
    /// records it in the history of `day` and deletes it.
    pub async fn practice_submit(
        &self,
        actor: &PracticeActor<'_>,
        now_ms: i64,
        day: i32,
        day_left_ms: i64,
        points_per_question: u32,
        answers: &[ChoiceArg],
    ) -> Result<PracticeSubmit, RedisError> {
        let mut call = PRACTICE_SUBMIT.call();
        call.key(actor.attempt_key()).key(actor.history_key(day));
        call.arg(now_ms)
            .arg(points_per_question)
            .arg(HISTORY_KEPT)
            .arg(day_left_ms);
        for answer in answers {
            call.arg(answer.letters).arg(answer.true_false);
        }
        let mut connection = self.connection().await?;
        let reply: Vec<String> = call.invoke(&mut connection).await?;
        let field = |index: usize| reply.get(index).cloned().unwrap_or_default();
        let number = |index: usize| reply.get(index).and_then(|text| text.parse::<i64>().ok());
        match reply.first().map(String::as_str) {
            Some("done") => {
                let (Some(correct), Some(points), Some(used), Some(finished)) =
                    (number(4), number(5), number(6), number(7))
                else {
                    return Err(unexpected("practice_submit", &reply));
                };
                Ok(PracticeSubmit::Done(PracticeResult {
                    questions: field(1),
                    key: field(2),
                    answers: field(3),
                    correct: correct as u32,
                    points: points as u32,
                    time_used_ms: used,
                    finished_ms: finished,
                }))
            }
            Some("gone") => Ok(PracticeSubmit::Gone),
            Some("late") => Ok(PracticeSubmit::Late),
            Some("invalid") => Ok(PracticeSubmit::Invalid(
                number(1)
                    .filter(|index| *index > 0)
                    .map(|index| index as usize - 1),
            )),
            _ => Err(unexpected("practice_submit", &reply)),
        }
    }

    /// The open practice attempt, if any (read-only; an expired one is not returned).
    pub async fn practice_open(
        &self,
        actor: &PracticeActor<'_>,
        now_ms: i64,
    ) -> Result<Option<OpenPractice>, RedisError> {
        let mut connection = self.connection().await?;
        let (times, questions): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(actor.attempt_key())
            .arg("t")
            .arg("q")
            .query_async(&mut connection)
            .await?;
        let (Some(times), Some(questions)) = (times, questions) else {
            return Ok(None);
        };
        let reply = vec![
            String::new(),
            times,
            questions,
            String::new(),
            "0".to_owned(),
        ];
        Ok(open_from(&reply).filter(|open| now_ms <= open.accepts_until_ms))
    }

    /// The finished practice attempts of `day`, newest first.
    pub async fn practice_history(
        &self,
        actor: &PracticeActor<'_>,
        day: i32,
    ) -> Result<Vec<PracticeLine>, RedisError> {
        let mut connection = self.connection().await?;
        let lines: Vec<String> = connection
            .lrange(actor.history_key(day), 0, HISTORY_KEPT as isize - 1)
            .await?;
        Ok(lines
            .iter()
            .filter_map(|line| PracticeLine::parse(line))
            .collect())
    }
}
