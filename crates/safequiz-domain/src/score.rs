//! Scoring: all-or-nothing per question, points per correct answer, and full marks.
//!
//! A single-choice or true/false question is correct when exactly its one key is chosen; a
//! multiple-choice question only when the chosen set equals the correct set (a missing or an extra
//! option scores nothing). An unanswered question is wrong. An attempt has full marks when it has
//! questions and every one is correct.
//!
//! This module is the one home of these rules. The hot path runs the same rules in Lua
//! (`finalize` in `crates/safequiz-redis/lua/attempt_prelude.lua`) for speed; a property test in
//! `crates/safequiz-redis/tests/it/` drives the scripts and these functions over the same
//! generated attempts and requires equal results. Recovery, the flusher (the record's
//! `full_marks`) and the reports call these functions.

use crate::bank::Choices;

/// Whether `chosen` answers a question whose correct options are `answer`.
pub fn is_correct(answer: Choices, chosen: Choices) -> bool {
    !chosen.is_empty() && chosen == answer
}

/// The result of scoring one attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Questions answered correctly.
    pub correct: u32,
    /// Questions in the attempt.
    pub questions: u32,
    /// Points earned: `correct × points_per_question`.
    pub points: u32,
    /// Points of a perfect attempt.
    pub max_points: u32,
}

impl Score {
    /// The score of an attempt of `questions` questions with `correct` of them answered
    /// correctly.
    pub fn new(points_per_question: u32, correct: u32, questions: u32) -> Score {
        Score {
            correct,
            questions,
            points: correct * points_per_question,
            max_points: questions * points_per_question,
        }
    }

    /// Whether every question was answered correctly.
    pub fn is_full_marks(&self) -> bool {
        is_full_marks(self.correct, self.questions)
    }
}

/// Whether an attempt of `questions` questions with `correct` correct answers has full marks:
/// it has questions and every one is correct (an empty attempt never has).
pub fn is_full_marks(correct: u32, questions: u32) -> bool {
    questions > 0 && correct == questions
}

/// Scores an attempt from `(correct answer, chosen)` pairs, one per question.
pub fn score(
    points_per_question: u32,
    answers: impl IntoIterator<Item = (Choices, Choices)>,
) -> Score {
    let (mut correct, mut questions) = (0, 0);
    for (answer, chosen) in answers {
        questions += 1;
        correct += u32::from(is_correct(answer, chosen));
    }
    Score::new(points_per_question, correct, questions)
}

#[cfg(test)]
mod tests;
