//! The flusher copies every registration and finalized attempt to SQL, once, from the streams of
//! one Redis or of every primary of a Redis Cluster.

use std::time::Duration;

use safequiz_redis::keys::Shard;
use safequiz_server::workers::flusher::{FlusherOptions, Pass, flush_pass};
use safequiz_testapp::{CAMPAIGN, Database, TestApp, Topology, eventually, on_both_topologies};
use serde_json::Value;

on_both_topologies!(every_finalized_attempt_reaches_sql_once_with_the_score_the_api_returned);
async fn every_finalized_attempt_reaches_sql_once_with_the_score_the_api_returned(
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .spawn()
        .await;
    let mut submitted = Vec::new();
    for n in 0..20u64 {
        let me = app
            .register("测试者", &format!("137{n:08}"), "110101")
            .await;
        let (_, attempt) = app.start_attempt(&me).await;
        let id = attempt["attempt_id"].as_str().expect("id").to_owned();
        let keys = app.correct_keys(&attempt["questions"][0]);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        app.save_answer(&me, &id, 0, &keys).await;
        let (_, result) = app.submit(&me, &id, None).await;
        submitted.push((id, result));
    }

    let rows = eventually(
        "the flusher writes 20 attempts",
        Duration::from_secs(15),
        || async {
            let rows = app.state.store.attempts(CAMPAIGN).await.ok()?;
            (rows.len() == submitted.len()).then_some(rows)
        },
    )
    .await;

    for (id, result) in &submitted {
        let row = rows
            .iter()
            .find(|row| &row.attempt_id == id)
            .expect("the attempt is in SQL");
        assert_eq!(
            i64::from(row.points),
            result["score"].as_i64().expect("score")
        );
        assert_eq!(
            row.time_used_ms,
            result["time_used_ms"].as_i64().expect("time")
        );
        assert_eq!(row.unit_id, "110101");
        assert!(!row.auto_submitted);
        let questions: Value = serde_json::from_str(&row.questions).expect("JSON");
        assert_eq!(questions.as_array().map(Vec::len), Some(5));
        assert_eq!(
            questions[0]["key"], questions[0]["chosen"],
            "question 0 was answered right"
        );
    }
    assert_eq!(
        app.state
            .store
            .participant_count(CAMPAIGN)
            .await
            .expect("SQL"),
        20
    );

    // A pass over acknowledged streams finds nothing, and a redelivered batch changes nothing.
    let options = safequiz_server::workers::flusher::FlusherOptions {
        consumer: "second".to_owned(),
        batch_rows: 500,
        idle: Duration::from_millis(10),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    let again = safequiz_server::workers::flusher::flush_once(&app.state, &options)
        .await
        .expect("flush");
    assert_eq!(again, 0, "every entry was acknowledged");
    let rows_again = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(rows_again, rows);

    // Nothing is left behind: no lag, and the streams are trimmed to at most one entry each.
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["flush"]["pending"], 0, "{ready}");
    assert_eq!(ready["flush"]["undelivered"], 0, "{ready}");
    assert_eq!(
        ready["flush"]["oldest_unflushed_age_ms"],
        Value::Null,
        "{ready}"
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("safequiz_flush_pending_entries 0"),
        "{metrics}"
    );
    assert!(metrics.contains("safequiz_redis_up 1"), "{metrics}");
    // The board writer trims too, once its pass is done with what the flusher acknowledged.
    app.boards_caught_up().await;
    eventually(
        "the streams are trimmed to at most one entry each",
        Duration::from_secs(10),
        || async {
            let mut left = 0;
            for shard in safequiz_redis::keys::Shard::all(4) {
                left += app
                    .state
                    .hot
                    .stream_entries(CAMPAIGN, shard)
                    .await
                    .expect("XRANGE")
                    .len();
            }
            (left <= 4).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_record_holds_every_configured_unit_and_a_second_sync_changes_nothing() {
    let app = TestApp::builder().shards(4).spawn().await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();

    let units = eventually("the units are synced", Duration::from_secs(15), || async {
        let units = app.state.store.units(CAMPAIGN).await.ok()?;
        (units.len() == campaign.units.len()).then_some(units)
    })
    .await;

    let dongcheng = units
        .iter()
        .find(|u| u.unit_id == "110101")
        .expect("东城区");
    assert_eq!(dongcheng.name, "东城区");
    assert_eq!(dongcheng.parent_id.as_deref(), Some("110000"));
    assert_eq!(
        (dongcheng.kind.as_str(), dongcheng.entry_id.as_str()),
        ("county", "region")
    );
    let enterprise = units
        .iter()
        .find(|u| u.unit_id == "CE001")
        .expect("an enterprise");
    assert_eq!(
        (enterprise.entry_id.as_str(), enterprise.depth),
        ("enterprise", 0)
    );
    safequiz_server::workers::flusher::prepare_record(&app.state)
        .await
        .expect("a second sync is harmless");
    assert_eq!(app.state.store.units(CAMPAIGN).await.expect("SQL"), units);
}

/// Submits one attempt for a new participant of phone `phone`.
async fn one_attempt(app: &TestApp, phone: &str) {
    let me = app.register("测试者", phone, "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    app.submit(&me, &id, None).await;
}

/// Waits until the question fold has counted every recorded attempt.
async fn all_folded(app: &TestApp, what: &str) {
    eventually(what, Duration::from_secs(15), || async {
        let pending = app.state.store.questions_pending(CAMPAIGN).await.ok()?;
        (pending == 0).then_some(())
    })
    .await;
}

/// On PostgreSQL, where the fold runs beside the flush on another core (on SQLite it keeps its
/// interval: one writer at a time).
#[tokio::test]
async fn a_recorded_batch_wakes_the_question_fold_at_once() {
    let app = TestApp::builder()
        .database(Database::Postgres)
        .flusher(false)
        .spawn()
        .await;
    let options = safequiz_server::workers::flusher::FlusherOptions {
        consumer: "test".to_owned(),
        batch_rows: 500,
        idle: Duration::from_millis(10),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    // A fold worker whose interval outlasts the test: only a wake-up makes it fold again.
    let state = safequiz_server::http::AppState {
        fold_wanted: std::sync::Arc::new(tokio::sync::Notify::new()),
        ..app.state.clone()
    };
    one_attempt(&app, "13700000001").await;
    let flushed = safequiz_server::workers::flusher::flush_once(&state, &options)
        .await
        .expect("flush");
    assert_eq!(flushed, 2, "the registration and the attempt");
    assert_eq!(
        app.state
            .store
            .questions_pending(CAMPAIGN)
            .await
            .expect("SQL"),
        1,
        "the batch waits for the fold"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(safequiz_server::workers::questions::run_every(
        state.clone(),
        stopped,
        Duration::from_secs(3600),
    ));
    // Its first pass folds what waited; then it waits for the hour or a wake-up.
    all_folded(&app, "the worker's first fold").await;

    one_attempt(&app, "13700000002").await;
    let flushed = safequiz_server::workers::flusher::flush_once(&state, &options)
        .await
        .expect("flush");
    assert_eq!(flushed, 2, "the registration and the attempt");
    all_folded(&app, "the fold woken by the recorded batch").await;

    stop.send(true).expect("the worker runs");
    worker.await.expect("the worker stops");
}

fn options(batch_rows: usize) -> FlusherOptions {
    FlusherOptions {
        consumer: "test".to_owned(),
        batch_rows,
        idle: Duration::from_millis(10),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    }
}

/// Plays one attempt of `who` (one stream entry in their shard).
async fn play(app: &TestApp, who: &safequiz_testapp::Participant) {
    let (_, attempt) = app.start_attempt(who).await;
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    app.submit(who, &id, None).await;
}

/// The flusher goes again at once only after a pass in which some shard filled its batch: a
/// pass whose entries over all shards add up to a batch, but which filled none, waits for
/// larger batches.
#[tokio::test]
async fn a_pass_is_full_only_when_some_shard_filled_its_batch() {
    let app = TestApp::builder().shards(4).flusher(false).spawn().await;
    // Twelve participants over 4 shards: some shard holds three of them.
    let mut by_shard: Vec<Vec<safequiz_testapp::Participant>> =
        (0..4).map(|_| Vec::new()).collect();
    for n in 0..12 {
        let me = app
            .register("测试者", &format!("1370000{n:04}"), "110101")
            .await;
        by_shard[usize::from(Shard::of_participant(me.id, 4).0)].push(me);
    }
    assert_eq!(
        flush_pass(&app.state, &options(100))
            .await
            .expect("flush")
            .entries,
        12
    );
    let crowded = by_shard
        .iter()
        .position(|s| s.len() >= 3)
        .expect("pigeonholes");
    let other = (0..4)
        .find(|&s| s != crowded && !by_shard[s].is_empty())
        .expect("twelve registrations did not all land in one shard");

    play(&app, &by_shard[crowded][0]).await;
    play(&app, &by_shard[other][0]).await;
    assert_eq!(
        flush_pass(&app.state, &options(2)).await.expect("flush"),
        Pass {
            entries: 2,
            full: false
        },
        "two attempts in two shards fill no batch of 2"
    );

    play(&app, &by_shard[crowded][1]).await;
    play(&app, &by_shard[crowded][2]).await;
    assert_eq!(
        flush_pass(&app.state, &options(2)).await.expect("flush"),
        Pass {
            entries: 2,
            full: true
        },
        "two attempts in one shard fill its batch of 2"
    );
    assert_eq!(
        flush_pass(&app.state, &options(2)).await.expect("flush"),
        Pass::default()
    );
}
