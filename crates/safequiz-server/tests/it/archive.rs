//! Hot state forgets an attempt once its row is in SQL (docs/design.md §2.5), and every rule
//! still holds afterwards: a review and a repeated submit answer the same body from SQL, the
//! daily limit, resume and a new day's start work on what Redis keeps, ranks do not move, and
//! reconcile finds nothing to report.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use safequiz_redis::attempts::AttemptId;
use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_sql::record::{AttemptRow, RecordRow};
use safequiz_testapp::{CAMPAIGN, Participant, TestApp, Topology, on_both_topologies};
use serde_json::{Value, json};

use super::{DURING, at};

const SHARDS: u16 = 4;

/// A service whose flusher the test runs itself, on a clock the test moves.
async fn spawn(topology: Topology) -> TestApp {
    TestApp::builder()
        .topology(topology)
        .shards(SHARDS)
        .flusher(false)
        .clock_at(at(DURING))
        .spawn()
        .await
}

/// Flushes until the streams are empty, as the flusher of a replica would.
async fn flush_all(app: &TestApp) {
    let options = FlusherOptions {
        consumer: "archive-test".to_owned(),
        batch_rows: 500,
        idle: Duration::from_millis(10),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    while flush_once(&app.state, &options).await.expect("flush") > 0 {}
}

/// The participant's hash in Redis.
async fn hash(app: &TestApp, participant: u64) -> BTreeMap<String, String> {
    let key = ShardKeys::new(CAMPAIGN, Shard::of_participant(participant, SHARDS))
        .participant(participant);
    let mut connection = app.redis.connection().await;
    redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut connection)
        .await
        .expect("HGETALL")
}

/// Open attempt `n`'s answers list (one element per question), empty once it is gone.
async fn answers_list(app: &TestApp, participant: u64, n: u32) -> Vec<String> {
    let key = ShardKeys::new(CAMPAIGN, Shard::of_participant(participant, SHARDS))
        .answers(participant, n);
    let mut connection = app.redis.connection().await;
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .expect("LRANGE")
}

/// The names of attempt `n`'s fields in a participant's hash.
fn attempt_fields(hash: &BTreeMap<String, String>, n: u32) -> Vec<&str> {
    let prefix = format!("{n}:");
    hash.keys()
        .map(String::as_str)
        .filter(|field| field.starts_with(&prefix))
        .collect()
}

/// A body without `server_time`, the one field that says when it was sent.
fn timeless(mut body: Value) -> Value {
    body.as_object_mut()
        .expect("a JSON object")
        .remove("server_time");
    body
}

/// Starts today's attempt, answers the first question rightly (saved) and the second wrongly
/// (sent with the submit), submits; returns the attempt id and the submit's body.
async fn play_one(app: &TestApp, me: &Participant) -> (String, Value) {
    let (status, attempt) = app.start_attempt(me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let right = app.correct_keys(&attempt["questions"][0]);
    let right: Vec<&str> = right.iter().map(String::as_str).collect();
    assert_eq!(app.save_answer(me, &id, 0, &right).await.0, 204);
    let wrong = app.wrong_keys(&attempt["questions"][1]);
    let body = json!({ "answers": { "1": wrong } });
    let (status, result) = app.submit(me, &id, Some(&body)).await;
    assert_eq!(status, 200, "{result}");
    (id, result)
}

on_both_topologies!(the_flusher_forgets_an_attempt_only_once_its_row_is_in_sql);
async fn the_flusher_forgets_an_attempt_only_once_its_row_is_in_sql(topology: Topology) {
    let app = spawn(topology).await;
    let me = app.register("测试者", "13700000001", "110101").await;
    play_one(&app, &me).await;
    let pid = i64::try_from(me.id).expect("an id SQL keeps");

    // Final but not yet in SQL: every field of the attempt stays in Redis.
    let before = hash(&app, me.id).await;
    assert_eq!(
        attempt_fields(&before, 1),
        ["1:a", "1:k", "1:q", "1:r", "1:t", "1:v"]
    );
    let row = app.state.store.archived_attempt(CAMPAIGN, pid, 1).await;
    assert!(row.expect("SQL").is_none(), "not flushed yet");

    // The next day's attempt stays open while attempt 1 is flushed.
    app.clock.advance(SignedDuration::from_hours(24));
    let (status, open) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{open}");
    flush_all(&app).await;

    let row = app.state.store.archived_attempt(CAMPAIGN, pid, 1).await;
    assert!(row.expect("SQL").is_some(), "the row is in SQL");
    let after = hash(&app, me.id).await;
    assert_eq!(attempt_fields(&after, 1), Vec::<&str>::new(), "{after:?}");
    assert_eq!(
        attempt_fields(&after, 2),
        ["2:k", "2:q", "2:t", "2:v"],
        "the open attempt is kept"
    );
    assert_eq!(
        answers_list(&app, me.id, 2).await.len(),
        5,
        "with its answers list"
    );
    assert!(
        answers_list(&app, me.id, 1).await.is_empty(),
        "the final attempt's list went when it was finalized"
    );
    for field in ["seq", "open", "day", "dn", "pts", "ms", "att", "last"] {
        assert!(after.contains_key(field), "{field} is kept: {after:?}");
    }
    assert_eq!(after["open"], "2");
    assert_eq!(after["seq"], "2");
    assert_eq!(after["pts"], before["pts"]);
    assert_eq!(after["last"], before["last"]);

    // Asked to forget the open attempt (never flushed, so never asked by the flusher), the
    // script refuses: only a final attempt leaves.
    let shard = Shard::of_participant(me.id, SHARDS);
    let open_id = AttemptId {
        participant: me.id,
        number: 2,
    };
    let forgotten = app
        .state
        .hot
        .forget_flushed(CAMPAIGN, shard, &[open_id])
        .await
        .expect("forget");
    assert_eq!(forgotten, 0);
    assert_eq!(attempt_fields(&hash(&app, me.id).await, 2).len(), 4);
    assert_eq!(answers_list(&app, me.id, 2).await.len(), 5);

    // Both attempts in one call, the script's way for a participant with several in a batch:
    // the first, already gone, is passed; the second, final now, leaves.
    let open_attempt = open["attempt_id"].as_str().expect("an attempt id");
    let (status, result) = app.submit(&me, open_attempt, None).await;
    assert_eq!(status, 200, "{result}");
    let first = AttemptId {
        participant: me.id,
        number: 1,
    };
    let forgotten = app
        .state
        .hot
        .forget_flushed(CAMPAIGN, shard, &[first, open_id])
        .await
        .expect("forget");
    assert_eq!(forgotten, 1);
    let after = hash(&app, me.id).await;
    assert_eq!(attempt_fields(&after, 2), Vec::<&str>::new(), "{after:?}");
    assert_eq!(after["open"], "0");
}

on_both_topologies!(a_review_and_a_resubmit_of_a_forgotten_attempt_answer_the_same_body);
async fn a_review_and_a_resubmit_of_a_forgotten_attempt_answer_the_same_body(topology: Topology) {
    let app = spawn(topology).await;
    let me = app.register("测试者", "13700000002", "CE001").await;
    let (id, submitted) = play_one(&app, &me).await;
    let review_path = format!("/api/v1/attempts/{id}");
    let (status, review) = app.get_as(&me, &review_path).await;
    assert_eq!(status, 200, "{review}");
    let saved_late = app.save_answer(&me, &id, 2, &["A"]).await;
    assert_eq!(saved_late.0, 409, "{saved_late:?}");

    flush_all(&app).await;
    assert_eq!(
        attempt_fields(&hash(&app, me.id).await, 1),
        Vec::<&str>::new()
    );

    let (status, review_after) = app.get_as(&me, &review_path).await;
    assert_eq!(status, 200, "{review_after}");
    assert_eq!(timeless(review_after), timeless(review.clone()));
    assert_eq!(timeless(review.clone()), timeless(submitted.clone()));
    let (status, resubmitted) = app.submit(&me, &id, None).await;
    assert_eq!(status, 200, "{resubmitted}");
    assert_eq!(timeless(resubmitted), timeless(submitted.clone()));
    // Answers sent with a repeated submit change nothing, as for any final attempt.
    let body = json!({ "answers": { "0": ["A"], "1": ["B"] } });
    let (status, resubmitted) = app.submit(&me, &id, Some(&body)).await;
    assert_eq!(status, 200, "{resubmitted}");
    assert_eq!(timeless(resubmitted), timeless(submitted));
    // A save is refused as before, and an attempt never started is still unknown.
    let saved_archived = app.save_answer(&me, &id, 2, &["A"]).await;
    assert_eq!(saved_archived.0, saved_late.0);
    assert_eq!(saved_archived.1["error"], saved_late.1["error"]);
    let never = format!("/api/v1/attempts/{}-2", me.id);
    assert_eq!(app.get_as(&me, &never).await.0, 404);
}

on_both_topologies!(the_daily_limit_resume_next_day_ranks_and_reconcile_hold_after_forgetting);
async fn the_daily_limit_resume_next_day_ranks_and_reconcile_hold_after_forgetting(
    topology: Topology,
) {
    let app = spawn(topology).await;
    let me = app.register("测试者", "13700000003", "130102").await;
    let other = app.register("对照者", "13700000004", "130102").await;
    let (first, _) = play_one(&app, &me).await;
    play_one(&app, &other).await;
    flush_all(&app).await;
    assert_eq!(
        attempt_fields(&hash(&app, me.id).await, 1),
        Vec::<&str>::new()
    );

    // Day 1: the day's attempt is used, though its fields are gone.
    let (status, refused) = app.start_attempt(&me).await;
    assert_eq!(
        refused["error"], "daily_limit_reached",
        "{status} {refused}"
    );

    // Day 2: a new attempt, numbered after the forgotten one, resumed until submitted.
    app.clock.advance(SignedDuration::from_hours(24));
    let (status, second) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["attempt_id"].as_str().expect("an id").to_owned();
    assert_eq!(second_id, format!("{}-2", me.id));
    assert_ne!(second_id, first);
    flush_all(&app).await;
    let (status, resumed) = app.start_attempt(&me).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["attempt_id"], second["attempt_id"]);
    assert_eq!(resumed["deadline"], second["deadline"]);
    let (status, _) = app.submit(&me, &second_id, None).await;
    assert_eq!(status, 200);
    flush_all(&app).await;
    let (_, refused) = app.start_attempt(&me).await;
    assert_eq!(refused["error"], "daily_limit_reached", "{refused}");

    // Day 3: an attempt the server closes at its deadline, read before and after forgetting.
    app.clock.advance(SignedDuration::from_hours(24));
    let (status, third) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{third}");
    let third_path = format!(
        "/api/v1/attempts/{}",
        third["attempt_id"].as_str().expect("id")
    );
    app.clock.advance(SignedDuration::from_secs(300));
    let (status, closed) = app.get_as(&me, &third_path).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["auto_submitted"], true, "{closed}");
    let me_path = format!("/api/v1/campaigns/{CAMPAIGN}/me");
    // Until the board writer's pass a rank may count the participant's previous entry.
    app.boards_caught_up().await;
    let (_, standing) = app.get_as(&me, &me_path).await;
    flush_all(&app).await;
    let kept = hash(&app, me.id).await;
    for n in 1..=3 {
        assert_eq!(attempt_fields(&kept, n), Vec::<&str>::new(), "{kept:?}");
    }
    let (_, closed_after) = app.get_as(&me, &third_path).await;
    assert_eq!(timeless(closed_after), timeless(closed));
    let (_, standing_after) = app.get_as(&me, &me_path).await;
    assert_eq!(timeless(standing_after), timeless(standing.clone()));
    assert_eq!(
        standing["ranks"].as_array().map(Vec::len),
        Some(4),
        "{standing}"
    );

    let campaign = app
        .catalogue
        .campaigns
        .iter()
        .find(|campaign| campaign.id == CAMPAIGN)
        .expect("the shipped campaign");
    app.boards_caught_up().await;
    let differences = safequiz_server::recovery::reconcile(&app.state, campaign)
        .await
        .expect("reconcile");
    assert_eq!(differences, Vec::<String>::new());
}

on_both_topologies!(an_attempt_the_record_holds_otherwise_is_not_forgotten);
async fn an_attempt_the_record_holds_otherwise_is_not_forgotten(topology: Topology) {
    // After a failover that lost writes, Redis can finalize an attempt again while the record
    // already holds an earlier version of it. The flusher's insert keeps the record's row; Redis
    // keeps its own copy (which its totals and boards count), so a review shows what the boards
    // count, and reconcile reports the difference.
    let app = spawn(topology).await;
    let me = app.register("测试者", "13700000003", "110101").await;
    let other = app.register("测试者乙", "13700000004", "110101").await;
    play_one(&app, &me).await;
    play_one(&app, &other).await;
    let pid = i64::try_from(me.id).expect("an id SQL keeps");
    let unit = "110101".to_owned();
    let recorded_otherwise = AttemptRow {
        campaign_id: CAMPAIGN.to_owned(),
        attempt_id: format!("{pid}-1"),
        participant_id: pid,
        unit_id: unit,
        day: 1,
        started_at_ms: 1,
        deadline_ms: 2,
        finished_at_ms: 2,
        time_used_ms: 1,
        points: 0,
        correct: 0,
        auto_submitted: true,
        full_marks: false,
        questions: "[]".to_owned(),
    };
    app.state
        .store
        .insert_batch(&[RecordRow::Attempt(recorded_otherwise)])
        .await
        .expect("SQL takes the row");

    flush_all(&app).await;

    assert_eq!(
        attempt_fields(&hash(&app, me.id).await, 1),
        ["1:a", "1:k", "1:q", "1:r", "1:t", "1:v"],
        "the attempt the record holds otherwise stays in Redis"
    );
    assert_eq!(
        attempt_fields(&hash(&app, other.id).await, 1),
        Vec::<&str>::new(),
        "the batch's other attempt, new to the record, is forgotten"
    );
}
