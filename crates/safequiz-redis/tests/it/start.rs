//! `start.lua`: a new attempt, the resume of an open one, the day's allowance, and the
//! finalize of an attempt that ran out before the next start.

use safequiz_domain::bank::Choices;
use safequiz_redis::attempts::{AttemptId, ReadOutcome, StartOutcome};

use crate::{
    CAMPAIGN, DAY, DAY_MS, GRACE_MS, LIMIT_MS, SHARDS, T0, actor, five_questions, hot_state,
    new_attempt, start_new,
};

#[tokio::test]
async fn a_first_start_creates_an_attempt_and_a_second_start_resumes_it() {
    let (_redis, hot) = hot_state();
    let me = actor(7);
    let drawn = five_questions();

    let created = start_new(&hot, &me, 1, &new_attempt(DAY, T0, &drawn)).await;
    let mut other_draw = five_questions();
    other_draw.reverse();
    let again = hot
        .start(&me, 1, &new_attempt(DAY, T0 + 60_000, &other_draw))
        .await
        .expect("Redis runs the start script");

    assert_eq!(
        created.id,
        AttemptId {
            participant: 7,
            number: 1
        }
    );
    assert_eq!(
        (
            created.day,
            created.started_ms,
            created.deadline_ms,
            created.accepts_until_ms
        ),
        (DAY, T0, T0 + LIMIT_MS, T0 + LIMIT_MS + GRACE_MS)
    );
    let questions: Vec<_> = created
        .questions()
        .map(|question| question.expect("a fresh attempt decodes"))
        .collect();
    assert_eq!(questions.len(), drawn.len());
    for (stored, drawn) in questions.iter().zip(&drawn) {
        assert_eq!(stored.id, drawn.id);
        assert_eq!(stored.order, drawn.order);
        assert_eq!(stored.answer, Choices::NONE, "nothing is answered yet");
        assert_eq!(
            stored.key, None,
            "the key stays hidden while the attempt is open"
        );
    }
    let StartOutcome::Resumed(resumed) = again else {
        panic!("the open attempt is resumed, got {again:?}");
    };
    assert_eq!(resumed.id, created.id);
    assert_eq!(resumed.started_ms, T0, "a resume keeps the first start");
    let resumed_ids: Vec<_> = resumed
        .questions()
        .map(|question| question.expect("decodes").id.to_owned())
        .collect();
    let drawn_ids: Vec<_> = drawn.iter().map(|question| question.id.clone()).collect();
    assert_eq!(resumed_ids, drawn_ids, "a resume keeps the first draw");
    let standing = hot
        .standing(CAMPAIGN, SHARDS, 7)
        .await
        .expect("Redis answers");
    assert_eq!(
        (standing.open, standing.starts_that_day),
        (Some(1), 1),
        "a resume is not another start"
    );
}

#[tokio::test]
async fn starts_beyond_the_day_s_allowance_are_refused_until_the_next_day() {
    let (_redis, hot) = hot_state();
    let me = actor(8);
    let drawn = five_questions();
    for (n, started) in [(1, T0), (2, T0 + 200_000)] {
        let record = start_new(&hot, &me, 2, &new_attempt(DAY, started, &drawn)).await;
        assert_eq!(record.id.number, n);
        hot.submit(&me, n, &[], started + 30_000)
            .await
            .expect("Redis runs the submit script");
    }

    let third = hot
        .start(&me, 2, &new_attempt(DAY, T0 + 400_000, &drawn))
        .await
        .expect("Redis runs the start script");
    let tomorrow = hot
        .start(&me, 2, &new_attempt(DAY + 1, T0 + DAY_MS, &drawn))
        .await
        .expect("Redis runs the start script");

    assert!(
        matches!(third, StartOutcome::DailyLimitReached),
        "a third start on the same day is refused: {third:?}"
    );
    let StartOutcome::Created(tomorrow) = tomorrow else {
        panic!("the next day allows a start again, got {tomorrow:?}");
    };
    assert_eq!(tomorrow.id.number, 3);
    let standing = hot
        .standing(CAMPAIGN, SHARDS, 8)
        .await
        .expect("Redis answers");
    assert_eq!(
        (standing.last_start_day, standing.starts_that_day),
        (Some(DAY + 1), 1)
    );
}

#[tokio::test]
async fn a_start_after_the_open_attempt_ran_out_finalizes_it_and_starts_the_next() {
    let (_redis, hot) = hot_state();
    let me = actor(9);
    let drawn = five_questions();
    start_new(&hot, &me, 2, &new_attempt(DAY, T0, &drawn)).await;
    let accepts_until = T0 + LIMIT_MS + GRACE_MS;

    let at_the_end_of_grace = hot
        .start(&me, 2, &new_attempt(DAY, accepts_until, &drawn))
        .await
        .expect("Redis runs the start script");
    let after = start_new(&hot, &me, 2, &new_attempt(DAY, accepts_until + 1, &drawn)).await;

    assert!(
        matches!(at_the_end_of_grace, StartOutcome::Resumed(ref r) if r.id.number == 1),
        "an attempt is open until its grace ends: {at_the_end_of_grace:?}"
    );
    assert_eq!(after.id.number, 2);
    let first = hot
        .read(&me, 1, accepts_until + 2)
        .await
        .expect("Redis runs the read script");
    let ReadOutcome::Final(first) = first else {
        panic!("the first attempt was finalized by the start, got {first:?}");
    };
    let result = first.result.expect("a final attempt has a result");
    assert!(result.auto_submitted);
    assert_eq!(
        (result.finished_ms, result.time_used_ms),
        (T0 + LIMIT_MS, LIMIT_MS),
        "an automatic submission finishes at the deadline"
    );
}

#[tokio::test]
async fn starts_beyond_the_campaign_s_attempts_total_are_refused_on_any_day() {
    let (_redis, hot) = hot_state();
    let mut me = actor(9);
    me.scoring.attempts_total = Some(2);
    let drawn = five_questions();
    for (n, day) in [(1, 0), (2, 1)] {
        let started = T0 + i64::from(day) * DAY_MS;
        let record = start_new(&hot, &me, 5, &new_attempt(DAY + day, started, &drawn)).await;
        assert_eq!(record.id.number, n);
        hot.submit(&me, n, &[], started + 30_000)
            .await
            .expect("Redis runs the submit script");
    }
    for day in [1, 2] {
        let started = T0 + i64::from(day) * DAY_MS + 100_000;
        let third = hot
            .start(&me, 5, &new_attempt(DAY + day, started, &drawn))
            .await
            .expect("Redis runs the start script");
        assert!(
            matches!(third, StartOutcome::TotalLimitReached),
            "a third start of the campaign is refused, that day or later: {third:?}"
        );
    }
    // Without the cap the same participant could go on.
    me.scoring.attempts_total = None;
    let started = T0 + 2 * DAY_MS;
    let fourth = hot
        .start(&me, 5, &new_attempt(DAY + 2, started, &drawn))
        .await
        .expect("Redis runs the start script");
    assert!(matches!(fourth, StartOutcome::Created(_)), "{fourth:?}");
}
