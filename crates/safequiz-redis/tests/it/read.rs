//! `read.lua` and the deadline index: an attempt is open until its grace ends, then final.

use safequiz_redis::attempts::{Actor, AttemptId, DueAttempt, ReadOutcome};
use safequiz_redis::keys::Shard;

use crate::{
    CAMPAIGN, DAY, GRACE_MS, LIMIT_MS, PATH, SHARDS, T0, actor, five_questions, hot_state,
    new_attempt, start_new,
};

#[tokio::test]
async fn a_read_after_the_grace_finalizes_the_attempt_as_the_sweeper_would() {
    let (_redis, hot) = hot_state();
    let me = actor(31);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let accepts_until = T0 + LIMIT_MS + GRACE_MS;
    let shard = Shard::of_participant(31, SHARDS);

    let due_at_the_end = hot
        .due_attempts(CAMPAIGN, shard, accepts_until, 10)
        .await
        .expect("ZRANGE");
    let due_after = hot
        .due_attempts(CAMPAIGN, shard, accepts_until + 1, 10)
        .await
        .expect("ZRANGE");
    let open = hot.read(&me, 1, accepts_until).await.expect("read");
    let closed = hot.read(&me, 1, accepts_until + 1).await.expect("read");
    let due_once_final = hot
        .due_attempts(CAMPAIGN, shard, accepts_until + 1, 10)
        .await
        .expect("ZRANGE");
    let missing = hot.read(&me, 2, accepts_until + 1).await.expect("read");

    assert_eq!(
        due_at_the_end,
        vec![],
        "answers still count at accepts-until"
    );
    assert_eq!(
        due_after,
        vec![DueAttempt {
            id: AttemptId {
                participant: 31,
                number: 1
            },
            unit: PATH[1].to_owned(),
        }]
    );
    let ReadOutcome::Open(open) = open else {
        panic!("open until the grace ends, got {open:?}");
    };
    assert!(open.questions().all(|q| q.expect("decodes").key.is_none()));
    let ReadOutcome::Final(closed) = closed else {
        panic!("final once the grace ended, got {closed:?}");
    };
    assert!(
        closed
            .questions()
            .all(|q| q.expect("decodes").key.is_some())
    );
    let result = closed.result.expect("a result");
    assert!(result.auto_submitted);
    assert_eq!(
        (result.finished_ms, result.time_used_ms),
        (T0 + LIMIT_MS, LIMIT_MS)
    );
    assert_eq!(
        due_once_final,
        vec![],
        "a final attempt leaves the deadline index"
    );
    assert!(matches!(missing, ReadOutcome::Missing), "{missing:?}");
}

#[tokio::test]
async fn the_own_unit_is_the_last_of_a_path_of_any_depth() {
    let (_redis, hot) = hot_state();
    let accepts_until = T0 + LIMIT_MS + GRACE_MS;
    let paths: [&[&str]; 3] = [
        &["100000"],
        &["110000", "110101"],
        &["120000", "120100", "120101"],
    ];
    for (participant, path) in (41..).zip(paths) {
        let me = Actor {
            path,
            ..actor(participant)
        };
        start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
        let shard = Shard::of_participant(participant, SHARDS);
        let due = hot
            .due_attempts(CAMPAIGN, shard, accepts_until + 1, 10)
            .await
            .expect("ZRANGE");
        let own = path.last().expect("a unit").to_string();
        assert!(
            due.iter()
                .any(|d| d.id.participant == participant && d.unit == own),
            "the deadline index names {own} for {path:?}: {due:?}"
        );
        // The read after the grace finalizes it: the attempt entry's unit is the own unit too.
        hot.read(&me, 1, accepts_until + 1).await.expect("read");
        let entries = hot.stream_entries(CAMPAIGN, shard).await.expect("XRANGE");
        let attempt = format!("{participant}-1");
        let values = entries
            .into_iter()
            .find(|entry| entry.get("attempt") == Some(attempt.as_str()))
            .and_then(|entry| entry.get("values").map(str::to_owned))
            .expect("the attempt's entry");
        assert_eq!(values.split(',').next(), Some(own.as_str()), "{path:?}");
    }
}
