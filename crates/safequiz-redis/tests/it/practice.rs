//! The practice scripts: a practice attempt is created, resumed, capped per day, scored with
//! every answer and deleted, and touches no key of a real attempt.

use redis::AsyncCommands;
use safequiz_redis::practice::{PracticeActor, PracticeStart, PracticeSubmit};

use super::{
    CAMPAIGN, DAY, DAY_MS, GRACE_MS, LIMIT_MS, SHARDS, T0, choice, five_questions, hot_state,
    new_attempt, raw,
};

fn practice_actor(participant: u64) -> PracticeActor<'static> {
    PracticeActor {
        campaign: CAMPAIGN,
        shards: SHARDS,
        participant,
    }
}

#[tokio::test]
async fn practice_is_capped_scored_deleted_and_touches_nothing_else() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    let me = practice_actor(7);
    let attempt = new_attempt(DAY, T0, &five_questions());
    let created = hot
        .practice_start(&me, Some(2), &attempt, DAY_MS)
        .await
        .expect("start");
    let PracticeStart::Created(open) = created else {
        panic!("expected a new practice attempt, got {created:?}");
    };
    assert_eq!(open.questions, attempt.encoded_questions());
    assert_eq!(open.started_today, 1);
    // A second start resumes the same questions.
    let later = new_attempt(DAY, T0 + 1_000, &five_questions()[..3]);
    let resumed = hot
        .practice_start(&me, Some(2), &later, DAY_MS)
        .await
        .expect("resume");
    assert!(
        matches!(&resumed, PracticeStart::Resumed(o) if o.questions == open.questions),
        "{resumed:?}"
    );
    let ttl: i64 = connection.pttl(me.attempt_key()).await.expect("PTTL");
    assert!(
        ttl > LIMIT_MS && ttl <= LIMIT_MS + GRACE_MS + 1_000,
        "expires after its grace: {ttl}"
    );

    // Wrong count, then an option a question does not have, then a second option of a single.
    let answers: Vec<_> = ["B", "AC", "T", "D", "F"]
        .iter()
        .map(|keys| choice(keys))
        .collect();
    let short = hot
        .practice_submit(&me, T0 + 5_000, DAY, DAY_MS, 1, &answers[..4])
        .await
        .expect("submit");
    assert_eq!(short, PracticeSubmit::Invalid(None));
    let mut bad = answers.clone();
    bad[0] = choice("AB");
    let refused = hot
        .practice_submit(&me, T0 + 5_000, DAY, DAY_MS, 1, &bad)
        .await
        .expect("submit");
    assert_eq!(refused, PracticeSubmit::Invalid(Some(0)));

    let mut mixed = answers.clone();
    mixed[3] = choice("A");
    let done = hot
        .practice_submit(&me, T0 + 5_000, DAY, DAY_MS, 2, &mixed)
        .await
        .expect("submit");
    let PracticeSubmit::Done(result) = done else {
        panic!("expected a result, got {done:?}");
    };
    assert_eq!(
        (result.correct, result.points, result.time_used_ms),
        (4, 8, 5_000)
    );
    assert_eq!(result.key, attempt.encoded_key());
    let exists: bool = connection.exists(me.attempt_key()).await.expect("EXISTS");
    assert!(!exists, "a submitted practice attempt is deleted at once");
    assert_eq!(
        hot.practice_submit(&me, T0 + 6_000, DAY, DAY_MS, 1, &answers)
            .await
            .expect("submit"),
        PracticeSubmit::Gone
    );
    let history = hot.practice_history(&me, DAY).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].correct, history[0].questions, history[0].points),
        (4, 5, 8)
    );

    // The second of two a day, submitted after its grace: deleted, unscored; then the cap.
    let second = new_attempt(DAY, T0 + 10_000, &five_questions());
    assert!(matches!(
        hot.practice_start(&me, Some(2), &second, DAY_MS)
            .await
            .expect("start"),
        PracticeStart::Created(_)
    ));
    let late = T0 + 10_000 + LIMIT_MS + GRACE_MS + 1;
    assert_eq!(
        hot.practice_submit(&me, late, DAY, DAY_MS, 1, &answers)
            .await
            .expect("submit"),
        PracticeSubmit::Late
    );
    let third = new_attempt(DAY, late, &five_questions());
    assert_eq!(
        hot.practice_start(&me, Some(2), &third, DAY_MS)
            .await
            .expect("start"),
        PracticeStart::DailyLimitReached
    );
    // Unlimited, and the next day's count is its own.
    assert!(matches!(
        hot.practice_start(&me, None, &third, DAY_MS)
            .await
            .expect("start"),
        PracticeStart::Created(_)
    ));
    let tomorrow = new_attempt(DAY + 1, T0 + DAY_MS, &five_questions());
    assert!(matches!(
        hot.practice_start(&me, Some(2), &tomorrow, DAY_MS)
            .await
            .expect("start"),
        PracticeStart::Resumed(_) | PracticeStart::Created(_)
    ));

    // Only practice keys exist: no participant hash, deadlines, stream or totals.
    let keys: Vec<String> = connection.keys("*").await.expect("KEYS");
    assert!(!keys.is_empty());
    for key in &keys {
        assert!(
            key.contains(":x:") || key.contains(":xn:") || key.contains(":xh:"),
            "practice wrote {key}"
        );
    }
}

/// On a Redis Cluster the practice scripts run unchanged: each participant's practice keys share
/// the shard's slot, and shards spread over the primaries.
#[tokio::test]
async fn practice_runs_on_a_cluster() {
    let cluster = safequiz_testkit::RedisCluster::start();
    let hot = super::hot_on(&cluster.seed_urls(), true);
    let answers: Vec<_> = ["B", "AC", "T", "D", "F"]
        .iter()
        .map(|keys| choice(keys))
        .collect();
    for participant in 1..=8u64 {
        let me = practice_actor(participant);
        let attempt = new_attempt(DAY, T0, &five_questions());
        assert!(matches!(
            hot.practice_start(&me, None, &attempt, DAY_MS)
                .await
                .expect("start"),
            PracticeStart::Created(_)
        ));
        let done = hot
            .practice_submit(&me, T0 + 1_000, DAY, DAY_MS, 1, &answers)
            .await
            .expect("submit");
        assert!(
            matches!(&done, PracticeSubmit::Done(result) if result.correct == 5),
            "{done:?}"
        );
        assert_eq!(
            hot.practice_history(&me, DAY).await.expect("history").len(),
            1
        );
    }
}
