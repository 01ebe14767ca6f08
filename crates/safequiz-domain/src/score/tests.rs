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
