//! `submit.lua`: all-or-nothing answers, scoring, the grace, and idempotence.

use safequiz_redis::attempts::{AttemptRecord, ReadOutcome, SubmitOutcome};
use safequiz_redis::keys::Shard;

use crate::{
    CAMPAIGN, DAY, GRACE_MS, LIMIT_MS, SHARDS, T0, actor, choice, five_questions, hot_state,
    new_attempt, start_new,
};

fn final_record(outcome: SubmitOutcome) -> AttemptRecord {
    match outcome {
        SubmitOutcome::Final(record) => record,
        other => panic!("expected a final attempt, got {other:?}"),
    }
}

#[tokio::test]
async fn a_submit_scores_all_or_nothing_and_a_second_submit_changes_nothing() {
    let (_redis, hot) = hot_state();
    let me = actor(21);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    // Keys B, AC, T, D, F: right, one option missing, right, unanswered, right.
    let answers = [
        (0, choice("B")),
        (1, choice("A")),
        (2, choice("T")),
        (4, choice("F")),
    ];
    let all_right = [
        (0, choice("B")),
        (1, choice("AC")),
        (2, choice("T")),
        (3, choice("D")),
        (4, choice("F")),
    ];

    let first = final_record(
        hot.submit(&me, 1, &answers, T0 + 60_000)
            .await
            .expect("submit"),
    );
    let second = final_record(
        hot.submit(&me, 1, &all_right, T0 + 70_000)
            .await
            .expect("submit"),
    );

    let result = first.result.expect("a result");
    assert_eq!((result.correct, result.points), (3, 3));
    assert_eq!(
        (result.finished_ms, result.time_used_ms),
        (T0 + 60_000, 60_000)
    );
    assert!(!result.auto_submitted);
    assert!(
        first.questions().all(|q| q.expect("decodes").key.is_some()),
        "a final attempt shows its key"
    );
    assert_eq!(second.result, first.result, "the second submit is ignored");
    let answers_of = |record: &AttemptRecord| -> Vec<_> {
        record
            .questions()
            .map(|q| q.expect("decodes").answer)
            .collect()
    };
    assert_eq!(answers_of(&second), answers_of(&first));
    let standing = hot.standing(CAMPAIGN, SHARDS, 21).await.expect("standing");
    assert_eq!(
        (standing.attempts, standing.points, standing.open),
        (1, 3, None)
    );
    let entries = hot
        .stream_entries(CAMPAIGN, Shard::of_participant(21, SHARDS))
        .await
        .expect("XRANGE");
    assert_eq!(entries.len(), 1, "the attempt is recorded once");
}

#[tokio::test]
async fn a_submit_with_an_invalid_answer_saves_nothing_and_finalizes_nothing() {
    let (_redis, hot) = hot_state();
    let me = actor(22);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;

    let bad_choice = hot
        .submit(&me, 1, &[(0, choice("B")), (3, choice("AB"))], T0 + 1_000)
        .await
        .expect("submit");
    let bad_index = hot
        .submit(&me, 1, &[(0, choice("B")), (7, choice("A"))], T0 + 1_000)
        .await
        .expect("submit");
    let missing = hot.submit(&me, 2, &[], T0 + 1_000).await.expect("submit");

    assert!(
        matches!(bad_choice, SubmitOutcome::BadChoice(3)),
        "{bad_choice:?}"
    );
    assert!(
        matches!(bad_index, SubmitOutcome::BadIndex(7)),
        "{bad_index:?}"
    );
    assert!(matches!(missing, SubmitOutcome::Missing), "{missing:?}");
    let ReadOutcome::Open(record) = hot.read(&me, 1, T0 + 2_000).await.expect("read") else {
        panic!("a refused submit leaves the attempt open");
    };
    assert!(
        record
            .questions()
            .all(|q| q.expect("decodes").answer.is_empty()),
        "not even the valid answer of a refused submit is saved"
    );
}

#[tokio::test]
async fn a_submit_in_the_grace_counts_time_only_up_to_the_deadline() {
    let (_redis, hot) = hot_state();
    let me = actor(23);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let in_grace = T0 + LIMIT_MS + GRACE_MS / 2;

    let record = final_record(
        hot.submit(&me, 1, &[(2, choice("T"))], in_grace)
            .await
            .expect("submit"),
    );

    let result = record.result.expect("a result");
    assert!(!result.auto_submitted, "the participant submitted it");
    assert_eq!(
        (result.finished_ms, result.time_used_ms),
        (in_grace, LIMIT_MS)
    );
    assert_eq!(result.correct, 1, "the answer sent in the grace counts");
}

#[tokio::test]
async fn a_submit_after_the_grace_closes_the_attempt_without_the_answers_sent() {
    let (_redis, hot) = hot_state();
    let me = actor(24);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    hot.save(&me, 1, 0, choice("B"), T0 + 1_000)
        .await
        .expect("save");
    let too_late = T0 + LIMIT_MS + GRACE_MS + 1;

    let outcome = hot
        .submit(&me, 1, &[(2, choice("T"))], too_late)
        .await
        .expect("submit");

    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    let ReadOutcome::Final(record) = hot.read(&me, 1, too_late + 1).await.expect("read") else {
        panic!("the late submit finalized the attempt");
    };
    let result = record.result.expect("a result");
    assert!(result.auto_submitted);
    assert_eq!(
        (result.correct, result.finished_ms, result.time_used_ms),
        (1, T0 + LIMIT_MS, LIMIT_MS),
        "only the answer saved in time counts"
    );
}
