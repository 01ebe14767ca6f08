//! Organizer reports over the record: participants with their totals, per-day series, unit
//! figures, headcounts and question analysis, always limited to one organizer's scope.
//!
//! A scope ([`Scope`]) is the whole campaign or a unit, whose whole subtree is visible. The
//! figures, the series and the question analysis read the roll-ups (`rollups`) of the scope's
//! own key (its unit id, or the whole campaign's), which count the whole subtree: a few rows per
//! day whatever the number of attempts. Participants are read from `participant_totals` and
//! `participant_days`, limited to the units whose ancestors include the scope's unit
//! (`unit_ancestors`), so a row outside the scope can never be returned whatever the other
//! filters say. Deciding whether an organizer may ask for a scope is the server's job
//! (`Scope::check`); these functions trust the scope they are given.
//!
//! Statements are written once for both databases (see `statement`) except where PostgreSQL
//! reads differently: a lateral join per unit for participant pages, and the question counters'
//! running totals by day (`questions`). Full marks are the record's `full_marks` column, which
//! the flusher writes by the domain's rule: no report decides a rule again in SQL.
//!
//! One module per report: `participants` (search pages by cursor, export stream, a
//! participant's attempts), `daily` (the per-day series), `figures` (unit figures for the
//! statistics forms), `headcounts` (read and set) and `questions` (the question analysis).
//! Everything is read, nothing is written, except [`Store::set_headcounts`](crate::Store::set_headcounts). Nothing here holds
//! a whole campaign in memory: exports stream ([`Store::participant_stream`](crate::Store::participant_stream)).

mod daily;
mod figures;
mod headcounts;
mod participants;
mod questions;

pub use daily::DayFigures;
pub use figures::{UnitFigure, UnitFigures};
pub use headcounts::UnitHeadcount;
pub use participants::{
    AnswerDetail, AttemptDetail, COUNT_LIMIT, ParticipantCursor, ParticipantFilter,
    ParticipantPage, ParticipantSummary,
};
pub use questions::{QuestionStat, WrongAnswer};

use safequiz_domain::draw::OptionOrder;
use safequiz_domain::scope::Scope;

use crate::StoreError;
use crate::record::{self, StoredQuestion};
use crate::statement::Statement;

/// The longest day range a series, unit figures or question analysis may cover (a campaign runs
/// for a month; a year leaves room and keeps a response small).
pub const MAX_DAYS: i32 = 366;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `from` is after `to`, or the range is longer than [`MAX_DAYS`].
    #[error("the day range {from} to {to} is empty or longer than {MAX_DAYS} days")]
    DayRange {
        /// The first day asked for.
        from: i32,
        /// The last day asked for.
        to: i32,
    },
    /// Units that are not within the scope (or do not exist); nothing was written.
    #[error("units outside the scope or unknown: {}", .0.join(", "))]
    UnknownUnits(Vec<String>),
    /// A headcount below zero; nothing was written.
    #[error("the headcount of unit {0} is negative")]
    NegativeHeadcount(String),
    /// An attempt's questions are not what the flusher writes.
    #[error("attempt {attempt_id} has malformed questions: {problem}")]
    Record {
        /// The attempt.
        attempt_id: String,
        /// What is wrong.
        problem: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReportError {
    fn from(error: sqlx::Error) -> ReportError {
        ReportError::Store(StoreError::Sql(error))
    }
}

/// A statement whose `$1` is the campaign.
fn for_campaign(campaign_id: &str) -> Statement {
    Statement::default().bind(campaign_id)
}

/// Restricts `column` to the units of `scope`'s subtree (nothing for the whole campaign): the
/// units whose ancestors include the scope's unit. A unit missing from the `units` table has
/// no subtree, so it sees nothing.
fn within<'s>(statement: &'s mut Statement, column: &str, scope: &Scope) -> &'s mut Statement {
    if let Some(unit) = scope.unit_id() {
        statement
            .push(&format!(
                " AND {column} IN (SELECT s.unit_id FROM unit_ancestors s \
                 WHERE s.campaign_id = $1 AND s.ancestor_id = "
            ))
            .push_bind(unit)
            .push(")");
    }
    statement
}

fn check_days(from: i32, to: i32) -> Result<(), ReportError> {
    if from > to || i64::from(to) - i64::from(from) >= i64::from(MAX_DAYS) {
        return Err(ReportError::DayRange { from, to });
    }
    Ok(())
}

/// The questions of an attempt as the flusher stored them (see [`StoredQuestion`]).
fn stored_questions(attempt_id: &str, json: &str) -> Result<Vec<StoredQuestion>, ReportError> {
    record::decode_all(json).map_err(|error| ReportError::Record {
        attempt_id: attempt_id.to_owned(),
        problem: error.to_string(),
    })
}

fn option_order(attempt_id: &str, question: &StoredQuestion) -> Result<OptionOrder, ReportError> {
    OptionOrder::from_slice(&question.order).ok_or_else(|| ReportError::Record {
        attempt_id: attempt_id.to_owned(),
        problem: format!("the option order of {} is not a permutation", question.id),
    })
}

/// Attempts, points and full marks of a set of attempts, and how many participants made them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
struct Counts {
    participants: i64,
    attempts: i64,
    points: i64,
    full_marks: i64,
}

/// The common table expression `period`: the `unit_days` rows of days `$2`..=`$3` (the
/// statement's second and third parameters, bound here).
fn period(statement: Statement, from: i32, to: i32) -> Statement {
    let mut statement = statement.bind(from).bind(to);
    statement.push(
        "WITH period AS (SELECT unit_id, prev_day, participants, attempts, points, full_marks \
         FROM unit_days WHERE campaign_id = $1 AND day >= $2 AND day <= $3) ",
    );
    statement
}

/// The columns of [`Counts`] over `period` rows `r` of days `$2`..: participants whose
/// previous active day is before the period are those active in it, each counted once.
const COUNTS_COLUMNS: &str = "\
    CAST(COALESCE(SUM(CASE WHEN r.prev_day < $2 THEN r.participants ELSE 0 END), 0) AS BIGINT) \
    AS participants, \
    CAST(COALESCE(SUM(r.attempts), 0) AS BIGINT) AS attempts, \
    CAST(COALESCE(SUM(r.points), 0) AS BIGINT) AS points, \
    CAST(COALESCE(SUM(r.full_marks), 0) AS BIGINT) AS full_marks";
