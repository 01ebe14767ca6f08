//! The practice room over HTTP: reviewed at once, listed in the day's history, absent from every
//! board, total, stream, record row, organizer figure and export; and free for Redis once ended.

use std::time::Duration;

use redis::AsyncCommands;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::StreamEntry;
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_testapp::{CAMPAIGN, Participant, TestApp, eventually};
use serde_json::{Value, json};

use super::at;

const PRACTICE: &str = "/api/v1/campaigns/safety-month/practice";

async fn flush_all(app: &TestApp) {
    let options = FlusherOptions {
        consumer: "practice-test".to_owned(),
        batch_rows: 500,
        idle: Duration::from_millis(10),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    while flush_once(&app.state, &options).await.expect("flush") > 0 {}
}

/// Starts a practice attempt and submits it with every answer right; returns the result.
async fn practice_once(app: &TestApp, me: &Participant) -> Value {
    let response = app
        .request(reqwest::Method::POST, PRACTICE, Some(&me.token), None)
        .await;
    let (status, open) = safequiz_testapp::status_and_json(response).await;
    assert_eq!(status, 201, "{open}");
    assert!(open.get("answers").is_none() && !open.to_string().contains("correct_choices"));
    let answers: Vec<Vec<String>> = open["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .map(|question| app.correct_keys(question))
        .collect();
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("{PRACTICE}/submit"),
            Some(&me.token),
            Some(&json!({ "answers": answers })),
        )
        .await;
    let (status, result) = safequiz_testapp::status_and_json(response).await;
    assert_eq!(status, 200, "{result}");
    result
}

/// Every entry of every shard's stream.
async fn stream_entries(app: &TestApp) -> Vec<StreamEntry> {
    let mut all = Vec::new();
    for shard in Shard::all(4) {
        let entries = app
            .state
            .hot
            .stream_entries(CAMPAIGN, shard)
            .await
            .expect("XRANGE");
        all.extend(entries);
    }
    all
}

#[tokio::test]
async fn practice_is_reviewed_at_once_and_counted_nowhere() {
    let app = TestApp::builder().shards(4).flusher(false).spawn().await;
    let practising = app.register("练习者", "13700000001", "110101").await;
    let competing = app.register("参赛者", "13700000002", "110101").await;

    for round in 1..=3 {
        let result = practice_once(&app, &practising).await;
        assert_eq!(result["practice"], true);
        assert_eq!(
            result["score"], result["max_score"],
            "round {round}: {result}"
        );
        let review = result["review"].as_array().expect("review");
        assert_eq!(review.len(), 5);
        for item in review {
            assert_eq!(item["correct"], true, "{item}");
            assert!(!item["correct_choices"].as_array().expect("keys").is_empty());
            assert!(
                item["explanation"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty())
            );
        }
    }
    let (status, room) = app.get_as(&practising, PRACTICE).await;
    assert_eq!(status, 200, "{room}");
    assert_eq!(
        room["history"].as_array().expect("history").len(),
        3,
        "{room}"
    );
    assert_eq!(room["history"][0]["score"], 5);
    assert!(room["open"].is_null());
    // Nothing open: a second submit finds nothing.
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("{PRACTICE}/submit"),
            Some(&practising.token),
            Some(&json!({ "answers": [] })),
        )
        .await;
    assert_eq!(response.status(), 404);

    let (status, attempt) = app.start_attempt(&competing).await;
    assert_eq!(status, 201);
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    let right = app.correct_keys(&attempt["questions"][0]);
    let (status, real) = app
        .submit(&competing, &id, Some(&json!({ "answers": { "0": right } })))
        .await;
    assert_eq!(status, 200, "{real}");
    assert_eq!(real["score"], 1);

    // Streams: two registrations and the one real attempt, nothing of practice.
    let entries = stream_entries(&app).await;
    let attempts: Vec<&StreamEntry> = entries
        .iter()
        .filter(|entry| entry.get("type") == Some("attempt"))
        .collect();
    assert_eq!(attempts.len(), 1, "{entries:?}");
    assert_eq!(
        attempts[0].get("attempt"),
        Some(id.as_str()),
        "{attempts:?}"
    );

    // Standing and boards.
    let me_path = format!("/api/v1/campaigns/{CAMPAIGN}/me");
    let (_, standing) = app.get_as(&practising, &me_path).await;
    assert_eq!(
        (standing["attempts"].as_i64(), standing["points"].as_i64()),
        (Some(0), Some(0)),
        "{standing}"
    );
    app.boards_caught_up().await;
    let (_, board) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?limit=50"
        ))
        .await;
    let board_text = board.to_string();
    assert!(
        !board_text.contains(&format!("\"participant_id\":{}", practising.id)),
        "{board}"
    );
    let (_, units) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000"
        ))
        .await;
    let dongcheng = units["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["unit_id"] == "110101")
        .expect("东城区");
    assert_eq!(
        (dongcheng["attempts"].as_i64(), dongcheng["points"].as_i64()),
        (Some(1), Some(1))
    );

    // The record, the organizer's figures and the export.
    flush_all(&app).await;
    let rows = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempt_id, id);
    let organizer = app.organizer(WHOLE_CAMPAIGN, "practice-admin").await;
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/v1/organizer/figures",
            Some(&organizer),
            None,
        )
        .await;
    let (status, figures) = safequiz_testapp::status_and_json(response).await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(
        (
            figures["total"]["attempts"].as_i64(),
            figures["total"]["points"].as_i64()
        ),
        (Some(1), Some(1)),
        "{figures}"
    );
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/v1/organizer/exports/participants.csv",
            Some(&organizer),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let csv = response.text().await.expect("CSV");
    let practising_line = csv
        .lines()
        .find(|line| line.contains("练*者") || line.contains("练习者"))
        .unwrap_or_else(|| panic!("the practising participant is listed as registered: {csv}"));
    let competing_line = csv
        .lines()
        .find(|line| line.contains("参*者") || line.contains("参赛者"))
        .expect("the competing participant");
    assert_ne!(
        practising_line.split(',').filter(|f| *f == "0").count(),
        0,
        "{practising_line}"
    );
    assert!(competing_line.contains(",1,"), "{competing_line}");
}

/// The keys of the test's Redis and the memory they take, one `MEMORY USAGE` each; the
/// registration limits' counters (`{limits}`, and a phone's in its shard, `reg:`), which expire
/// by their own windows while the test runs, are left out.
async fn key_memory(app: &TestApp) -> (usize, i64) {
    let mut connection = app.redis.connection().await;
    let keys: Vec<String> = connection.keys("*").await.expect("KEYS");
    let keys: Vec<String> = keys
        .into_iter()
        .filter(|key| {
            !key.starts_with("{limits}") && !key.starts_with("{login}") && !key.contains("}:reg:")
        })
        .collect();
    let mut bytes = 0;
    for key in &keys {
        let usage: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("MEMORY USAGE");
        bytes += usage.unwrap_or(0);
    }
    (keys.len(), bytes)
}

async fn used_memory(app: &TestApp) -> i64 {
    let mut connection = app.redis.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut connection)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("used_memory")
}

/// 10,000 practice attempts (most submitted, one per participant left open) leave Redis as
/// they found it once the open ones' grace and the day have passed. The clock stands 10 s before
/// midnight, so the day's history and counters expire 10 s after their last write, and the open
/// attempts 1 s after their 10 s limit and 2 s grace.
#[tokio::test]
async fn ten_thousand_ended_practice_attempts_cost_redis_nothing() {
    let app = TestApp::builder()
        .shards(4)
        .flusher(false)
        .sweeper(false)
        .time_limit_secs(10)
        .clock_at(at("2026-12-10T23:59:50+08:00"))
        // 400 requests per participant: the per-participant request limit is not under test.
        .settings(|settings| settings.limits.participant_requests = 0)
        .spawn()
        .await;
    let phones: Vec<String> = (0..50).map(|i| format!("137{:08}", 10_000 + i)).collect();
    let people: Vec<Participant> = futures_util::future::join_all(
        phones
            .iter()
            .map(|phone| app.register("练习者", phone, "110101")),
    )
    .await;
    // The scripts loaded, and the state of a Redis with 50 registrations measured.
    let warm = practice_once(&app, &people[0]).await;
    assert_eq!(warm["status"], "final");
    eventually(
        "the warm-up practice has expired",
        Duration::from_secs(60),
        || async {
            let mut connection = app.redis.connection().await;
            let keys: Vec<String> = connection.keys("*:x*").await.ok()?;
            keys.is_empty().then_some(())
        },
    )
    .await;
    let before = key_memory(&app).await;
    let used_before = used_memory(&app).await;

    let started = std::time::Instant::now();
    let plays = people.iter().map(|me| {
        let app = &app;
        async move {
            for _ in 0..199 {
                practice_once(app, me).await;
            }
            // The 200th is left open: it must expire by itself.
            let response = app
                .request(reqwest::Method::POST, PRACTICE, Some(&me.token), None)
                .await;
            assert_eq!(response.status(), 201);
        }
    });
    futures_util::future::join_all(plays).await;
    let elapsed = started.elapsed();
    let during = key_memory(&app).await;
    assert!(
        during.0 >= before.0 + 50 * 3,
        "open attempts, counters and histories: {during:?}"
    );

    eventually(
        "every practice key has expired",
        Duration::from_secs(60),
        || async {
            let mut connection = app.redis.connection().await;
            let keys: Vec<String> = connection.keys("*:x*").await.ok()?;
            keys.is_empty().then_some(())
        },
    )
    .await;
    let after = key_memory(&app).await;
    let used_after = used_memory(&app).await;
    println!(
        "10,000 practice attempts in {elapsed:?}; keys and MEMORY USAGE before {before:?}, at the \
         peak {during:?}, after {after:?}; used_memory before {used_before}, after {used_after}"
    );
    assert_eq!(after, before);
    assert!(
        (used_after - used_before).abs() < 256 * 1024,
        "used_memory {used_before} → {used_after}"
    );
}
