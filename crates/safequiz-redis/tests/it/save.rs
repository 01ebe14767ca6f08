//! `save.lua`: an answer is saved only when it is valid and in time.

use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_redis::attempts::{AttemptRecord, ReadOutcome, SaveOutcome};

use crate::{
    DAY, GRACE_MS, LIMIT_MS, T0, actor, choice, five_questions, hot_state, new_attempt, start_new,
};

fn answers(record: &AttemptRecord) -> Vec<Choices> {
    record
        .questions()
        .map(|question| question.expect("the attempt decodes").answer)
        .collect()
}

fn keys(text: &str, kind: QuestionKind, options: usize) -> Choices {
    Choices::parse_keys(text, kind, options).expect("valid keys")
}

#[tokio::test]
async fn valid_answers_are_saved_and_a_later_one_replaces_an_earlier_one() {
    let (_redis, hot) = hot_state();
    let me = actor(11);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let cases = [
        (0, "A", "a single choice"),
        (0, "D", "another single choice replaces it"),
        (1, "ABCDE", "every option of a multiple choice"),
        (2, "F", "false"),
        (4, "T", "true"),
        (3, "C", "a single choice"),
        (3, "", "nothing, which clears the answer"),
    ];

    for (index, keys, why) in cases {
        let outcome = hot
            .save(&me, 1, index, choice(keys), T0 + 1_000)
            .await
            .expect("Redis runs the save script");
        assert_eq!(outcome, SaveOutcome::Saved, "{why}");
    }

    let ReadOutcome::Open(record) = hot.read(&me, 1, T0 + 2_000).await.expect("read") else {
        panic!("the attempt is still open");
    };
    use QuestionKind::{Multiple, Single, TrueFalse};
    assert_eq!(
        answers(&record),
        vec![
            keys("D", Single, 4),
            keys("ABCDE", Multiple, 5),
            keys("F", TrueFalse, 2),
            Choices::NONE,
            keys("T", TrueFalse, 2),
        ]
    );
}

#[tokio::test]
async fn answers_a_question_cannot_take_are_refused_and_change_nothing() {
    let (_redis, hot) = hot_state();
    let me = actor(12);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let cases = [
        (1, 0, "E", SaveOutcome::BadChoice, "a fifth option of four"),
        (
            1,
            0,
            "AB",
            SaveOutcome::BadChoice,
            "two options of a single choice",
        ),
        (
            1,
            0,
            "T",
            SaveOutcome::BadChoice,
            "true for a single choice",
        ),
        (1, 1, "F", SaveOutcome::BadChoice, "a sixth option of five"),
        (1, 2, "A", SaveOutcome::BadChoice, "a letter for true/false"),
        (1, 2, "TF", SaveOutcome::BadChoice, "both true and false"),
        (1, 5, "A", SaveOutcome::BadIndex, "a sixth question of five"),
        (2, 0, "A", SaveOutcome::Missing, "an attempt never started"),
    ];

    for (number, index, keys, expected, why) in cases {
        let outcome = hot
            .save(&me, number, index, choice(keys), T0 + 1_000)
            .await
            .expect("Redis runs the save script");
        assert_eq!(outcome, expected, "{why}");
    }

    let ReadOutcome::Open(record) = hot.read(&me, 1, T0 + 2_000).await.expect("read") else {
        panic!("the attempt is still open");
    };
    assert_eq!(answers(&record), vec![Choices::NONE; 5]);
}

#[tokio::test]
async fn an_answer_counts_until_the_grace_ends_and_then_the_attempt_closes() {
    let (_redis, hot) = hot_state();
    let me = actor(13);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let accepts_until = T0 + LIMIT_MS + GRACE_MS;

    let last_moment = hot
        .save(&me, 1, 0, choice("B"), accepts_until)
        .await
        .expect("save");
    let too_late = hot
        .save(&me, 1, 2, choice("T"), accepts_until + 1)
        .await
        .expect("save");
    let after_final = hot
        .save(&me, 1, 2, choice("T"), accepts_until + 2)
        .await
        .expect("save");

    assert_eq!(last_moment, SaveOutcome::Saved);
    assert_eq!(too_late, SaveOutcome::Closed);
    assert_eq!(after_final, SaveOutcome::Closed);
    let ReadOutcome::Final(record) = hot.read(&me, 1, accepts_until + 3).await.expect("read")
    else {
        panic!("a save after the grace finalizes the attempt");
    };
    let result = record.result.expect("a result");
    assert!(result.auto_submitted);
    assert_eq!(
        (result.correct, result.points),
        (1, 1),
        "the answer saved in the grace counts, the late one does not"
    );
}
