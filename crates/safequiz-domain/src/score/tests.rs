//! Scoring and full marks, table-driven.

use super::{is_correct, score};
use crate::bank::{Choices, QuestionKind};

fn keys(text: &str, kind: QuestionKind) -> Choices {
    Choices::parse_keys(
        text,
        kind,
        if kind == QuestionKind::TrueFalse {
            2
        } else {
            6
        },
    )
    .expect("valid keys")
}

#[test]
fn every_kind_scores_all_or_nothing() {
    use QuestionKind::{Multiple, Single, TrueFalse};
    let cases = [
        (Single, "B", "B", true, "the right option"),
        (Single, "B", "C", false, "a wrong option"),
        (Single, "B", "", false, "unanswered"),
        (Multiple, "ACD", "ACD", true, "exactly the right set"),
        (Multiple, "ACD", "AC", false, "one option missing"),
        (Multiple, "ACD", "ABCD", false, "one option too many"),
        (Multiple, "ACD", "", false, "unanswered"),
        (TrueFalse, "T", "T", true, "true judged true"),
        (TrueFalse, "F", "T", false, "false judged true"),
        (TrueFalse, "F", "F", true, "false judged false"),
    ];
    for (kind, answer, chosen, expected, why) in cases {
        assert_eq!(
            is_correct(keys(answer, kind), keys(chosen, kind)),
            expected,
            "{kind:?}: {why}"
        );
    }
}

#[test]
fn an_attempt_scores_points_per_correct_answer() {
    use QuestionKind::{Multiple, Single, TrueFalse};
    let answers = [
        (keys("A", Single), keys("A", Single)),
        (keys("BC", Multiple), keys("B", Multiple)),
        (keys("T", TrueFalse), keys("T", TrueFalse)),
        (keys("D", Single), Choices::NONE),
        (keys("F", TrueFalse), keys("F", TrueFalse)),
    ];
    let result = score(2, answers);
    assert_eq!(result.correct, 3);
    assert_eq!(result.points, 6);
    assert_eq!(result.max_points, 10);
    assert!(!result.is_full_marks());

    let perfect = score(1, [(keys("A", Single), keys("A", Single))]);
    assert!(perfect.is_full_marks());
    assert!(
        !score(1, []).is_full_marks(),
        "an empty attempt is not full marks"
    );
}

#[test]
fn full_marks_need_questions_and_every_one_correct() {
    use super::{Score, is_full_marks};
    let cases = [
        (5, 5, true, "every question correct"),
        (4, 5, false, "one wrong"),
        (0, 5, false, "none correct"),
        (0, 0, false, "an empty attempt"),
    ];
    for (correct, questions, expected, why) in cases {
        assert_eq!(is_full_marks(correct, questions), expected, "{why}");
        assert_eq!(
            Score::new(2, correct, questions).is_full_marks(),
            expected,
            "{why}"
        );
    }
    assert_eq!(
        Score::new(2, 4, 5),
        Score {
            correct: 4,
            questions: 5,
            points: 8,
            max_points: 10
        }
    );
}

mod policies {
    use crate::bank::QuestionKind::{self, Multiple, Single, TrueFalse};
    use crate::board::{Finish, ParticipantTotals};
    use crate::score::{Counted, KindPoints, Scoring};

    use super::keys;

    fn scoring(counted: Counted) -> Scoring {
        Scoring {
            points: KindPoints {
                single: 4,
                multiple: 6,
                judge: 2,
            },
            counted,
            attempts_total: Some(3),
        }
    }

    #[test]
    fn points_by_kind_sum_the_right_answers_and_the_maximum() {
        let scoring = scoring(Counted::Sum);
        let triple = |kind: QuestionKind, answer: &str, chosen: &str| {
            (kind, keys(answer, kind), keys(chosen, kind))
        };
        let score = scoring.score([
            triple(Single, "B", "B"),
            triple(Multiple, "AC", "AC"),
            triple(Multiple, "AC", "A"),
            triple(TrueFalse, "T", "T"),
            triple(TrueFalse, "F", ""),
        ]);
        assert_eq!(
            (
                score.correct,
                score.questions,
                score.points,
                score.max_points
            ),
            (3, 5, 4 + 6 + 2, 4 + 6 + 6 + 2 + 2)
        );
        assert_eq!(scoring.max_points([Single, Multiple, TrueFalse]), 12);
        // 25 single-choice questions at 4 points: a score out of 100.
        assert_eq!(
            Scoring::uniform(4).max_points(std::iter::repeat_n(Single, 25)),
            100
        );
    }

    #[test]
    fn the_script_argument_is_one_number_for_the_national_rule() {
        assert_eq!(Scoring::uniform(1).script_arg().to_string(), "1");
        assert_eq!(scoring(Counted::Sum).script_arg().to_string(), "4,6,2,sum");
        let mut best = Scoring::uniform(4);
        best.counted = Counted::Best;
        assert_eq!(best.script_arg().to_string(), "4,4,4,best");
    }

    /// (points, time used, finished) of each attempt in order, and the totals each policy keeps.
    #[test]
    fn each_policy_counts_its_attempts() {
        let attempts = [
            (60, 30_000, 1_000),
            (80, 50_000, 2_000),
            (80, 40_000, 3_000),
            (40, 10_000, 4_000),
        ];
        let cases = [
            (Counted::Sum, (260, 130_000), "every attempt added"),
            (Counted::Best, (80, 40_000), "most points, then less time"),
            (
                Counted::Last,
                (40, 10_000),
                "the latest attempt, even if worse",
            ),
        ];
        for (counted, (points, time), why) in cases {
            let mut totals = ParticipantTotals::default();
            for (p, used, finished) in attempts {
                scoring(counted).count(
                    &mut totals,
                    p,
                    Finish {
                        finished_ms: finished,
                        time_used_ms: used,
                    },
                );
            }
            assert_eq!(
                totals,
                ParticipantTotals {
                    points,
                    time_used_ms: time,
                    attempts: 4,
                    last_finished_ms: 4_000
                },
                "{counted:?}: {why}"
            );
        }
    }

    #[test]
    fn best_counts_a_first_attempt_of_zero_points_and_keeps_the_earlier_on_a_full_tie() {
        let best = scoring(Counted::Best);
        let finish = |finished_ms, time_used_ms| Finish {
            finished_ms,
            time_used_ms,
        };
        let mut totals = ParticipantTotals::default();
        best.count(&mut totals, 0, finish(1_000, 9_000));
        assert_eq!((totals.points, totals.time_used_ms), (0, 9_000));
        best.count(&mut totals, 0, finish(2_000, 9_000));
        assert_eq!(
            (totals.points, totals.time_used_ms, totals.attempts),
            (0, 9_000, 2)
        );
        best.count(&mut totals, 0, finish(3_000, 8_000));
        assert_eq!((totals.points, totals.time_used_ms), (0, 8_000));
    }
}

mod any_order {
    use proptest::prelude::*;

    use crate::board::{Finish, ParticipantTotals};
    use crate::score::{Candidate, Counted, Scoring};

    proptest! {
        /// Recovery reads attempts in any order and keeps the one `prefers` picks; that is the
        /// attempt `count` keeps when they arrive in start order.
        #[test]
        fn prefers_picks_what_count_keeps_in_start_order(
            attempts in prop::collection::vec((0u32..4, prop_oneof![Just(5_000i64), 0i64..9]), 1..6),
            rotation in 0usize..6,
            best in any::<bool>(),
        ) {
            let counted = if best { Counted::Best } else { Counted::Last };
            let mut scoring = Scoring::uniform(1);
            scoring.counted = counted;
            let mut totals = ParticipantTotals::default();
            for (index, (points, time)) in attempts.iter().enumerate() {
                scoring.count(&mut totals, *points, Finish { finished_ms: index as i64, time_used_ms: *time });
            }
            let mut candidates: Vec<Candidate> = attempts
                .iter()
                .enumerate()
                .map(|(index, (points, time))| Candidate { number: index as u32 + 1, points: *points, time_used_ms: *time })
                .collect();
            let shift = rotation % candidates.len();
            candidates.rotate_left(shift);
            let mut kept = candidates[0];
            for candidate in &candidates[1..] {
                if counted.prefers(*candidate, kept) {
                    kept = *candidate;
                }
            }
            prop_assert_eq!((i64::from(kept.points), kept.time_used_ms), (totals.points, totals.time_used_ms));
            let shuffled = candidates.iter().map(|candidate| {
                (candidate.number, candidate.points, Finish {
                    finished_ms: i64::from(candidate.number) - 1,
                    time_used_ms: candidate.time_used_ms,
                })
            });
            prop_assert_eq!(scoring.totals_of(shuffled), totals);
        }
    }
}
