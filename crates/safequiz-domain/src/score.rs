//! Scoring: all-or-nothing per question, points per correct answer.
//!
//! A single-choice or true/false question is correct when exactly its one key is chosen; a
//! multiple-choice question only when the chosen set equals the correct set (a missing or an extra
//! option scores nothing). An unanswered question is wrong.

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
    /// Whether every question was answered correctly.
    pub fn is_full_marks(&self) -> bool {
        self.questions > 0 && self.correct == self.questions
    }
}

/// Scores an attempt from `(correct answer, chosen)` pairs, one per question.
pub fn score(
    points_per_question: u32,
    answers: impl IntoIterator<Item = (Choices, Choices)>,
) -> Score {
    let mut score = Score::default();
    for (answer, chosen) in answers {
        score.questions += 1;
        score.correct += u32::from(is_correct(answer, chosen));
    }
    score.points = score.correct * points_per_question;
    score.max_points = score.questions * points_per_question;
    score
}

#[cfg(test)]
mod tests;
