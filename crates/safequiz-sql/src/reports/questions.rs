//! The question analysis: how each question drawn in a scope and period fared, tallied while
//! the attempts stream by.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use safequiz_domain::bank::{Choices, MAX_OPTIONS};
use safequiz_domain::scope::Scope;
use safequiz_domain::score;

use super::{ReportError, between_days, check_days, for_campaign, option_order};
use super::{stored_questions, visible_units, within};
use crate::Store;
use crate::record::StoredQuestion;

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

/// An attempt's questions as the record keeps them.
#[derive(sqlx::FromRow)]
struct AttemptQuestions {
    attempt_id: String,
    questions: String,
}

/// A question's running totals while attempts stream by.
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

    /// Counts one draw of the question in attempt `attempt_id`.
    fn add(&mut self, attempt_id: &str, question: &StoredQuestion) -> Result<(), ReportError> {
        let order = option_order(attempt_id, question)?;
        let key = Choices::from_bits(question.key);
        let shown = Choices::from_bits(question.chosen);
        self.drawn += 1;
        self.options = self.options.max(question.order.len().min(MAX_OPTIONS));
        if shown.is_empty() {
            return Ok(());
        }
        let chosen = order.original(shown);
        self.answered += 1;
        for option in chosen.indices() {
            self.option_counts[option] += 1;
        }
        if score::is_correct(key, shown) {
            self.correct += 1;
        } else {
            self.wrong[usize::from(chosen.bits())] += 1;
        }
        Ok(())
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
    /// The attempts are streamed and tallied as they come: memory grows with the number of
    /// distinct questions, not of attempts.
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
        let visible = visible_units(&mut st, scope, None);
        st.end_ctes().push(
            "SELECT a.attempt_id AS attempt_id, CAST(a.questions AS TEXT) AS questions \
             FROM attempts a WHERE a.campaign_id = $1",
        );
        within(&mut st, "a.unit_id", visible);
        between_days(&mut st, from_day, to_day);
        let mut rows = st.fetch::<AttemptQuestions>(self);
        let mut tallies: BTreeMap<String, QuestionTally> = BTreeMap::new();
        while let Some(row) = rows.try_next().await? {
            for question in stored_questions(&row.attempt_id, &row.questions)? {
                // Looked up by reference first: a question's id is copied once, not per draw.
                if !tallies.contains_key(&question.id) {
                    tallies.insert(question.id.clone(), QuestionTally::new());
                }
                tallies
                    .get_mut(&question.id)
                    .expect("the tally was inserted just above")
                    .add(&row.attempt_id, &question)?;
            }
        }
        Ok(tallies
            .into_iter()
            .map(|(question_id, tally)| tally.stat(question_id))
            .collect())
    }
}
