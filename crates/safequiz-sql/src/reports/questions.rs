//! The question analysis: how each question drawn in a scope and period fared, from the
//! scope's `question_counts` roll-up rows (on PostgreSQL one per question and answer given,
//! holding its running total by day; on SQLite one per day, question and answer given), keyed
//! by `rollup_keys`.

use std::collections::BTreeMap;

use safequiz_domain::bank::{Choices, MAX_OPTIONS};
use safequiz_domain::scope::Scope;

use super::{ReportError, check_days, for_campaign};
use crate::statement::Statement;
use crate::{Backend, Store};

/// A wrong answer and how often it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongAnswer {
    /// The options chosen, over the bank's option order (one option for a single-choice or
    /// true/false question, where index 0 is `T`; possibly several for a multiple choice).
    pub chosen: Choices,
    /// How many answers chose exactly this set.
    pub count: u64,
}

/// How one question fared in the attempts of a scope and day range.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionStat {
    /// The question's id in the banks.
    pub question_id: String,
    /// Times it was drawn in a finalized attempt.
    pub drawn: u64,
    /// Times something was chosen.
    pub answered: u64,
    /// Times it was answered correctly.
    pub correct: u64,
    /// Times each option was chosen (alone or with others), indexed by the bank's option order.
    pub option_counts: Vec<u64>,
    /// The wrong answer given most often (ties: the smallest option set); `None` when no one
    /// answered it wrongly. An unanswered question is not a wrong answer here.
    pub most_chosen_wrong: Option<WrongAnswer>,
}

impl QuestionStat {
    /// Correct answers per draw (an unanswered draw counts as not correct); 0 when never drawn.
    pub fn share_correct(&self) -> f64 {
        if self.drawn == 0 {
            0.0
        } else {
            self.correct as f64 / self.drawn as f64
        }
    }
}

/// How often one answer was given to a question in the period.
#[derive(sqlx::FromRow)]
struct AnswerRow {
    question_id: String,
    /// The options chosen, over the bank's order; 0 when not answered.
    chosen: i32,
    correct: bool,
    options: i32,
    /// Times given in the period.
    answers: i64,
}

/// A question's totals while its answers are added up.
struct QuestionTally {
    drawn: u64,
    answered: u64,
    correct: u64,
    option_counts: [u64; MAX_OPTIONS],
    options: usize,
    /// Wrong answers by their option set: the index is the set's bits over the bank's order.
    wrong: [u64; 1 << MAX_OPTIONS],
}

impl QuestionTally {
    fn new() -> QuestionTally {
        QuestionTally {
            drawn: 0,
            answered: 0,
            correct: 0,
            option_counts: [0; MAX_OPTIONS],
            options: 0,
            wrong: [0; 1 << MAX_OPTIONS],
        }
    }

    /// Counts `row.answers` draws of the question answered as `row` says.
    fn add(&mut self, row: &AnswerRow) {
        let count = u64::try_from(row.answers).unwrap_or(0);
        let chosen = Choices::from_bits(u8::try_from(row.chosen).unwrap_or(0));
        self.drawn += count;
        self.options = self
            .options
            .max(usize::try_from(row.options).unwrap_or(0).min(MAX_OPTIONS));
        if chosen.is_empty() {
            return;
        }
        self.answered += count;
        for option in chosen.indices() {
            self.option_counts[option] += count;
        }
        if row.correct {
            self.correct += count;
        } else {
            self.wrong[usize::from(chosen.bits())] += count;
        }
    }

    fn stat(self, question_id: String) -> QuestionStat {
        // The largest count; among equal counts the first, i.e. the smallest set.
        let most_chosen_wrong = self
            .wrong
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .fold(None::<WrongAnswer>, |best, (bits, &count)| match best {
                Some(best) if best.count >= count => Some(best),
                _ => Some(WrongAnswer {
                    chosen: Choices::from_bits(bits as u8),
                    count,
                }),
            });
        QuestionStat {
            question_id,
            drawn: self.drawn,
            answered: self.answered,
            correct: self.correct,
            option_counts: self.option_counts[..self.options].to_vec(),
            most_chosen_wrong,
        }
    }
}

impl Store {
    /// How each question drawn in `scope` from `from_day` to `to_day` fared: draws, answers,
    /// correct answers, choices per option and the most frequent wrong answer, all over the
    /// bank's option order so they match the question as the bank spells it. By question id.
    ///
    /// It reads one row per question and distinct answer of the scope (on SQLite, per day too):
    /// its size depends on the questions (and days), not on the number of attempts.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn question_stats(
        &self,
        campaign_id: &str,
        scope: &Scope,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<QuestionStat>, ReportError> {
        check_days(from_day, to_day)?;
        let mut st = for_campaign(campaign_id);
        st.push("SELECT k.name AS question_id, c.chosen, c.correct, c.options, c.answers FROM (");
        let scope_key = |st: &mut Statement| {
            st.push(
                " q.unit_key = (SELECT id FROM rollup_keys WHERE campaign_id = $1 \
                 AND kind = 'unit' AND name = ",
            )
            .push_bind(scope.as_str())
            .push(")");
        };
        match self.backend() {
            // A row per answer given, its running total by day number: the total at the
            // period's last day less the total before its first (an element outside the array
            // is NULL: before the cell's first day the total is 0, after its last day it is
            // the last).
            Backend::Postgres => {
                st.push(
                    "SELECT q.question_key, q.chosen, q.correct, q.options, \
                     COALESCE(q.answers[LEAST(",
                )
                .push_bind(to_day)
                .push(
                    ", array_upper(q.answers, 1))], 0) \
                     - COALESCE(q.answers[LEAST(",
                )
                .push_bind(from_day.saturating_sub(1))
                .push(", array_upper(q.answers, 1))], 0) AS answers FROM question_counts q WHERE");
                scope_key(&mut st);
            }
            // A row per day and answer given, added up for the period.
            Backend::Sqlite => {
                st.push(
                    "SELECT q.question_key, q.chosen, q.correct, \
                     CAST(MAX(q.options) AS INTEGER) AS options, \
                     CAST(SUM(q.answers) AS BIGINT) AS answers FROM question_counts q \
                     WHERE q.day >= ",
                )
                .push_bind(from_day)
                .push(" AND q.day <= ")
                .push_bind(to_day)
                .push(" AND");
                scope_key(&mut st);
                st.push(" GROUP BY q.question_key, q.chosen, q.correct");
            }
        }
        // An answer not given in the period (or whose attempts were all excluded) is no row.
        st.push(") AS c JOIN rollup_keys k ON k.id = c.question_key WHERE c.answers <> 0");
        let rows: Vec<AnswerRow> = st.fetch_all(self).await?;
        let mut tallies: BTreeMap<String, QuestionTally> = BTreeMap::new();
        for row in &rows {
            if !tallies.contains_key(&row.question_id) {
                tallies.insert(row.question_id.clone(), QuestionTally::new());
            }
            tallies
                .get_mut(&row.question_id)
                .expect("the tally was inserted just above")
                .add(row);
        }
        Ok(tallies
            .into_iter()
            .map(|(question_id, tally)| tally.stat(question_id))
            .collect())
    }
}
