//! Scoring: all-or-nothing per question, points per correct answer by the question's kind, full
//! marks, and which attempts count toward a participant's totals (docs/design.md §3.4).
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

use std::fmt;

use crate::bank::{Choices, QuestionKind};
use crate::board::{Finish, ParticipantTotals};

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

/// Points per correct answer, by the question's kind (`[points]` of a campaign file; without
/// it, `points_per_question` for every kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindPoints {
    /// A single-choice question.
    pub single: u32,
    /// A multiple-choice question.
    pub multiple: u32,
    /// A true/false question.
    pub judge: u32,
}

impl KindPoints {
    /// The same points for every kind.
    pub fn uniform(points: u32) -> KindPoints {
        KindPoints {
            single: points,
            multiple: points,
            judge: points,
        }
    }

    /// The points a correct answer to a question of `kind` earns.
    pub fn of(&self, kind: QuestionKind) -> u32 {
        match kind {
            QuestionKind::Single => self.single,
            QuestionKind::Multiple => self.multiple,
            QuestionKind::TrueFalse => self.judge,
        }
    }

    /// The one value every kind earns, when they all earn the same.
    pub fn as_uniform(&self) -> Option<u32> {
        (self.single == self.multiple && self.multiple == self.judge).then_some(self.single)
    }
}

/// Which final attempts make a participant's totals (the `counted` key of a campaign file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Counted {
    /// Every attempt's points and time are added (the national contest: daily points summed).
    #[default]
    Sum,
    /// The attempt with the most points; between equal points, the one that used less time
    /// (the earlier one on a full tie).
    Best,
    /// The participant's latest final attempt.
    Last,
}

impl Counted {
    /// The name used in campaign files and in the scripts' argument.
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Sum => "sum",
            Counted::Best => "best",
            Counted::Last => "last",
        }
    }

    /// Reads a campaign file's `counted`.
    pub fn parse(text: &str) -> Option<Counted> {
        match text {
            "sum" => Some(Counted::Sum),
            "best" => Some(Counted::Best),
            "last" => Some(Counted::Last),
            _ => None,
        }
    }
}

/// One final attempt as the counted policy compares it: its number among the participant's
/// attempts (the order they started, and so the order they became final), points and time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidate {
    /// 1 for the participant's first attempt, and so on.
    pub number: u32,
    /// Points earned.
    pub points: u32,
    /// Time counted, ms.
    pub time_used_ms: i64,
}

impl Counted {
    /// Whether `new` replaces `current` as the attempt counted, whichever order the two come in
    /// (recovery reads attempts in no particular order): `Best` prefers more points, then less
    /// time, then the earlier attempt; `Last` the later attempt. The same choice as
    /// [`Scoring::count`] makes in start order. `Sum` counts every attempt: never called for it.
    pub fn prefers(self, new: Candidate, current: Candidate) -> bool {
        match self {
            Counted::Sum | Counted::Last => new.number > current.number,
            Counted::Best => {
                (new.points, current.time_used_ms, current.number)
                    > (current.points, new.time_used_ms, new.number)
            }
        }
    }
}

/// A campaign's scoring policy: points per kind, the counted attempts and the cap on attempts
/// over the whole campaign. The hot path receives it as one script argument
/// ([`Scoring::script_arg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scoring {
    /// Points per correct answer by kind.
    pub points: KindPoints,
    /// Which attempts make the totals.
    pub counted: Counted,
    /// Attempts a participant may start over the whole campaign; `None`: no cap beyond the
    /// daily one.
    pub attempts_total: Option<u32>,
}

impl Scoring {
    /// Today's national rule: `points` for every correct answer, every attempt summed, no cap.
    pub fn uniform(points: u32) -> Scoring {
        Scoring {
            points: KindPoints::uniform(points),
            counted: Counted::Sum,
            attempts_total: None,
        }
    }

    /// The scripts' spelling (`ARGV[2]` of `attempt_prelude.lua`): the plain number of points when
    /// every kind earns the same and attempts are summed (so the national campaign's scripts
    /// parse one number, as before), else `single,multiple,judge,counted`. Written where it is
    /// used (every attempt request sends it), with no text of its own.
    pub fn script_arg(&self) -> impl fmt::Display + use<> {
        ScriptArg(*self)
    }

    /// Scores an attempt from `(kind, correct answer, chosen)` triples, one per question.
    pub fn score(
        &self,
        answers: impl IntoIterator<Item = (QuestionKind, Choices, Choices)>,
    ) -> Score {
        let mut result = Score::default();
        for (kind, answer, chosen) in answers {
            let points = self.points.of(kind);
            result.questions += 1;
            result.max_points += points;
            if is_correct(answer, chosen) {
                result.correct += 1;
                result.points += points;
            }
        }
        result
    }

    /// The most points an attempt of these question kinds can earn.
    pub fn max_points(&self, kinds: impl IntoIterator<Item = QuestionKind>) -> u32 {
        kinds.into_iter().map(|kind| self.points.of(kind)).sum()
    }

    /// A participant's totals from their final attempts `(number, points, finish)` in any
    /// order: what [`Scoring::count`] makes of them in start order. Recovery and the
    /// certificate read attempts from SQL in no particular order.
    pub fn totals_of(
        &self,
        attempts: impl IntoIterator<Item = (u32, u32, Finish)>,
    ) -> ParticipantTotals {
        let mut totals = ParticipantTotals::default();
        let mut kept: Option<Candidate> = None;
        for (number, points, finish) in attempts {
            if self.counted == Counted::Sum {
                totals.add(points, finish);
                continue;
            }
            let candidate = Candidate {
                number,
                points,
                time_used_ms: finish.time_used_ms,
            };
            if kept.is_none_or(|current| self.counted.prefers(candidate, current)) {
                kept = Some(candidate);
                totals.points = i64::from(points);
                totals.time_used_ms = finish.time_used_ms;
            }
            totals.attempts += 1;
            totals.last_finished_ms = totals.last_finished_ms.max(finish.finished_ms);
        }
        totals
    }

    /// Counts one more final attempt (`points`, `finish`) into a participant's `totals` by the
    /// counted policy. `attempts` and the last finish always grow; the points and time become
    /// the sum (`Sum`), the better of the counted and this attempt (`Best`: more points, then
    /// less time; the first attempt always counts), or this attempt's (`Last`).
    ///
    /// Attempts must be counted in the order they were started (which, one open attempt at a
    /// time, is the order they became final): `Last` and `Best`'s tie keep the earlier one.
    pub fn count(&self, totals: &mut ParticipantTotals, points: u32, finish: Finish) {
        let points_i = i64::from(points);
        match self.counted {
            Counted::Sum => {
                totals.points += points_i;
                totals.time_used_ms += finish.time_used_ms;
            }
            Counted::Best => {
                if totals.attempts == 0
                    || points_i > totals.points
                    || (points_i == totals.points && finish.time_used_ms < totals.time_used_ms)
                {
                    totals.points = points_i;
                    totals.time_used_ms = finish.time_used_ms;
                }
            }
            Counted::Last => {
                totals.points = points_i;
                totals.time_used_ms = finish.time_used_ms;
            }
        }
        totals.attempts += 1;
        totals.last_finished_ms = totals.last_finished_ms.max(finish.finished_ms);
    }
}

/// [`Scoring::script_arg`]'s text.
struct ScriptArg(Scoring);

impl fmt::Display for ScriptArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scoring = &self.0;
        match (scoring.points.as_uniform(), scoring.counted) {
            (Some(points), Counted::Sum) => write!(f, "{points}"),
            _ => write!(
                f,
                "{},{},{},{}",
                scoring.points.single,
                scoring.points.multiple,
                scoring.points.judge,
                scoring.counted.as_str()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
