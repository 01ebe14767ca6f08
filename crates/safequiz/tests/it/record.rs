//! `safequiz flush`, `safequiz leaderboards rebuild` and `safequiz reconcile` as an operator runs
//! them, against the service's real Redis and database.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use safequiz_testapp::{CAMPAIGN, Database, TestApp, eventually};

use super::{safequiz, texts};

const UNITS: [&str; 4] = ["110101", "130102", "660100", "CE001"];

/// The environment pointing the binary at the test service's Redis and database.
fn environment(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("SAFEQUIZ_REDIS_URL", app.redis.url()),
        ("SAFEQUIZ_DATABASE_URL", app.database_url.clone()),
        ("SAFEQUIZ__HOT__SHARDS", "4".to_owned()),
        ("SAFEQUIZ__FLUSHER__BATCH_ROWS", "5".to_owned()),
        ("SAFEQUIZ__FLUSHER__BATCH_MAX_MS", "20".to_owned()),
        ("SAFEQUIZ__FLUSHER__CLAIM_IDLE_SECS", "1".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
}

fn start_flusher(app: &TestApp) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_safequiz"));
    command
        .args(["flush", "--config", "config"])
        .current_dir(safequiz_testapp::repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("SAFEQUIZ") {
            command.env_remove(key);
        }
    }
    for (key, value) in environment(app) {
        command.env(key, value);
    }
    command.spawn().expect("safequiz flush starts")
}

async fn a_flusher_killed_mid_run_loses_and_duplicates_nothing(database: Database) {
    // The binary's reconcile reads the shipped campaign, so the service keeps the same boards.
    let app = TestApp::builder()
        .shipped_board_levels()
        .shards(4)
        .database(database)
        .flusher(false)
        .spawn()
        .await;
    let results = app.play(50_000, 200, &UNITS, 20).await;
    let expected: HashMap<String, i64> = results
        .iter()
        .map(|r| {
            (
                r["attempt_id"].as_str().expect("id").to_owned(),
                r["score"].as_i64().expect("score"),
            )
        })
        .collect();

    let mut first = start_flusher(&app);
    eventually(
        "the first flusher writes some rows",
        Duration::from_secs(30),
        || async {
            let rows = app.state.store.attempts(CAMPAIGN).await.ok()?;
            (!rows.is_empty()).then_some(())
        },
    )
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("the killed flusher is reaped");
    let written = app.state.store.attempts(CAMPAIGN).await.expect("SQL").len();
    assert!(
        written < 200,
        "killed mid-run, after {written} of 200 attempts"
    );

    let mut second = start_flusher(&app);
    let rows = eventually(
        "a new flusher writes the rest",
        Duration::from_secs(60),
        || async {
            let rows = app.state.store.attempts(CAMPAIGN).await.ok()?;
            (rows.len() >= 200).then_some(rows)
        },
    )
    .await;
    // Stopped only once it has acknowledged everything, so that reconcile finds no backlog.
    eventually(
        "every entry is acknowledged",
        Duration::from_secs(30),
        || async {
            let lag = safequiz_server::http::health::flush_lag(&app.state)
                .await
                .ok()?;
            (lag.pending + lag.undelivered == 0).then_some(())
        },
    )
    .await;
    second.kill().expect("stop");
    let _ = second.wait();

    assert_eq!(rows.len(), 200);
    for row in &rows {
        assert_eq!(Some(&i64::from(row.points)), expected.get(&row.attempt_id));
    }
    assert_eq!(
        app.state
            .store
            .participant_count(CAMPAIGN)
            .await
            .expect("SQL"),
        200
    );

    // The operator's proof: reconcile agrees (exit 0), and after Redis is lost and rebuilt it
    // agrees again.
    let env = environment(&app);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reconcile = safequiz(&["reconcile", "--campaign", CAMPAIGN], &env);
    let (out, err) = texts(&reconcile);
    assert!(reconcile.status.success(), "{out}{err}");
    assert!(out.contains("Redis and SQL agree"), "{out}");

    let client = redis::Client::open(app.redis.url()).expect("URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .expect("FLUSHALL");
    let lost = safequiz(&["reconcile", "--campaign", CAMPAIGN], &env);
    let (out, _) = texts(&lost);
    assert_eq!(lost.status.code(), Some(1), "differences exit 1: {out}");
    assert!(out.contains("participants: redis=0 sql=200"), "{out}");

    let rebuild = safequiz(&["leaderboards", "rebuild", "--campaign", CAMPAIGN], &env);
    let (out, err) = texts(&rebuild);
    assert!(rebuild.status.success(), "{out}{err}");
    assert!(out.contains("200 final attempts"), "{out}");
    let agreed = safequiz(&["reconcile", "--campaign", CAMPAIGN], &env);
    assert!(agreed.status.success(), "{}", texts(&agreed).0);
}

// Multi-threaded: the test's own PostgreSQL proxy must keep forwarding while the test thread
// waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flusher_killed_mid_run_on_sqlite_loses_and_duplicates_nothing() {
    a_flusher_killed_mid_run_loses_and_duplicates_nothing(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flusher_killed_mid_run_on_postgres_loses_and_duplicates_nothing() {
    a_flusher_killed_mid_run_loses_and_duplicates_nothing(Database::Postgres).await;
}

#[test]
fn rebuild_names_an_unknown_campaign() {
    let output = safequiz(&["leaderboards", "rebuild", "--campaign", "nope"], &[]);
    let (_, err) = texts(&output);
    assert!(!output.status.success());
    assert!(err.contains("no campaign has id `nope`"), "{err}");
}

/// `safequiz flush` also runs the fair-play worker: the observations service replicas ship to
/// Redis are written to SQL by it and leave Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flush_process_writes_the_observations_replicas_ship() {
    let app = TestApp::builder()
        .shipped_board_levels()
        .shards(4)
        .flusher(false)
        .spawn()
        .await;
    let mut lines = Vec::new();
    for participant in [11, 12] {
        safequiz_sql::fair_play::wire::Line {
            campaign_id: CAMPAIGN,
            participant_id: participant,
            unit_id: "110101",
            kind: safequiz_sql::fair_play::Kind::Start,
            at_ms: 1_780_000_000_000,
            attempt: 1,
            device: "abcdefghijklmnopq",
            net: "10.9.8.0/24",
            page: false,
        }
        .append_to(&mut lines);
    }
    app.state
        .hot
        .ship_observations(&lines)
        .await
        .expect("shipped");

    let mut flusher = start_flusher(&app);
    eventually(
        "the flush process writes the shipped observations",
        Duration::from_secs(30),
        || async {
            let count = app.state.store.observation_count(CAMPAIGN).await.ok()?;
            let waiting = app.state.hot.observations_waiting().await.ok()?;
            (count == 2 && waiting == 0).then_some(())
        },
    )
    .await;
    flusher.kill().expect("stop");
    let _ = flusher.wait();
}
