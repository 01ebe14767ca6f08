//! Faults of the dependencies (issue 17 item 7; docs/operations.md "Faults"): Redis unreachable
//! for 10 s (requests fail fast with `503` and `Retry-After`, `/readyz` says so, full recovery
//! without a restart), and the database refusing writes (results wait in the streams, `/readyz`
//! says so, nothing lost once it is writable again). The replica-kill and SIGTERM faults need the
//! binary: `crates/safequiz/tests/it/faults.rs`.

use std::time::{Duration, Instant};

use safequiz_testapp::{CAMPAIGN, Database, TestApp, eventually, on_both, status_and_json};
use serde_json::json;

use super::{DURING, at};

/// How long Redis stays cut.
const OUTAGE: Duration = Duration::from_secs(10);

/// The bound on any request's duration while Redis is cut: `redis.wait_secs` is 2, and a cut
/// connection fails at once, so nothing may hang.
const FAIL_FAST: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cut_for_ten_seconds_fails_fast_with_503_then_recovers_without_a_restart() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .redis_proxy()
        .spawn()
        .await;
    let proxy = app.redis_proxy.as_ref().expect("a Redis proxy");
    let me = app.register("张三", "13812345678", "110101").await;
    let (status, attempt) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let first = app.correct_keys(&attempt["questions"][0]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (status, body) = app.save_answer(&me, &id, 0, &first).await;
    assert_eq!(status, 204, "{body}");
    let second = app.correct_keys(&attempt["questions"][1]);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();

    proxy.cut();
    let cut_at = Instant::now();
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    let me_path = format!("/api/v1/campaigns/{CAMPAIGN}/me");
    while cut_at.elapsed() < OUTAGE {
        let requests: [(&str, reqwest::RequestBuilder); 4] = [
            (
                "save",
                app.client
                    .put(format!("{}/api/v1/attempts/{id}/answers/1", app.address))
                    .bearer_auth(&me.token)
                    .json(&json!({"choices": second})),
            ),
            (
                "me",
                app.client
                    .get(format!("{}{me_path}", app.address))
                    .bearer_auth(&me.token),
            ),
            (
                "register",
                app.client
                    .post(format!(
                        "{}/api/v1/campaigns/{CAMPAIGN}/participants",
                        app.address
                    ))
                    .json(&json!({"name": "李四", "phone": "13900001111",
                        "unit_id": "110101", "consent": true})),
            ),
            ("readyz", app.client.get(format!("{}/readyz", app.address))),
        ];
        for (what, request) in requests {
            let sent = Instant::now();
            let response = request.send().await.expect("the service answers");
            let took = sent.elapsed();
            slowest = slowest.max(took);
            assert!(
                took < FAIL_FAST,
                "{what} took {took:?} while Redis was cut: requests must fail fast"
            );
            assert!(
                response.headers().contains_key("Retry-After"),
                "{what}: a 503 says when to try again"
            );
            let (status, body) = status_and_json(response).await;
            assert_eq!(status, 503, "{what}: {body}");
            assert_eq!(body["error"], "not_ready", "{what}: {body}");
            if what == "readyz" {
                assert!(
                    body["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("Redis")),
                    "/readyz names Redis: {body}"
                );
            }
            answered += 1;
        }
    }
    proxy.restore();
    let restored_at = Instant::now();

    // Full recovery without a restart: the save refused during the outage now succeeds.
    eventually(
        "the save succeeds once Redis is back",
        Duration::from_secs(30),
        || async {
            let (status, _) = app.save_answer(&me, &id, 1, &second).await;
            (status == 204).then_some(())
        },
    )
    .await;
    let recovered = restored_at.elapsed();
    // Each pooled connection reconnects on its own, so the submit may meet one still coming
    // back (a 503 that says to retry, as a page does); a submit is idempotent.
    let result = eventually(
        "the submit succeeds once its connection is back",
        Duration::from_secs(30),
        || async {
            let (status, result) = app.submit(&me, &id, None).await;
            match status {
                200 => Some(result),
                503 => None,
                other => panic!("submit answered {other}: {result}"),
            }
        },
    )
    .await;
    assert_eq!(
        result["correct_count"], 2,
        "the answer saved before the outage and the one after both count: {result}"
    );
    // Each pooled connection reconnects on its own: readiness (its own Redis calls) may answer
    // 503 for a moment after the save's connection is back, then must turn ready.
    eventually(
        "/readyz turns ready once Redis is back",
        Duration::from_secs(30),
        || async {
            let (status, _) = status_and_json(app.get("/readyz").await).await;
            (status == 200).then_some(())
        },
    )
    .await;
    eprintln!(
        "Redis cut {OUTAGE:?}: {answered} requests answered 503, the slowest in {slowest:?}; \
         recovered {recovered:?} after the restore"
    );
}

on_both!(a_database_refusing_writes_keeps_results_in_the_streams_and_loses_nothing);
async fn a_database_refusing_writes_keeps_results_in_the_streams_and_loses_nothing(
    database: Database,
) {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .database(database)
        .spawn()
        .await;
    let mut refusal = Refusal::begin(&app, database).await;

    // The hot path does not need SQL: registration, attempts and submits are served.
    let results = app.play(700_000_000, 12, &["110101", "120101"], 4).await;
    let ids: Vec<String> = results
        .iter()
        .map(|result| result["attempt_id"].as_str().expect("an id").to_owned())
        .collect();

    let noticed = Instant::now();
    let ready = eventually(
        "/readyz reports the database refusing writes",
        Duration::from_secs(30),
        || async {
            let (status, body) = status_and_json(app.get("/readyz").await).await;
            (status == 200 && body["database"] == "refusing_writes").then_some(body)
        },
    )
    .await;
    let noticed = noticed.elapsed();
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(ready["flush"]["failing_since"].is_string(), "{ready}");
    let waiting = ready["flush"]["pending"].as_u64().unwrap_or_default()
        + ready["flush"]["undelivered"].as_u64().unwrap_or_default();
    assert!(waiting > 0, "the results wait in the streams: {ready}");
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("safequiz_flush_failing 1"),
        "the metric says so"
    );
    assert_eq!(
        missing(&app, &ids).await.len(),
        ids.len(),
        "nothing reached SQL"
    );

    refusal.end().await;
    let restored = Instant::now();
    eventually(
        "every result reaches SQL once it is writable",
        Duration::from_secs(60),
        || async { missing(&app, &ids).await.is_empty().then_some(()) },
    )
    .await;
    let flushed = restored.elapsed();
    let (status, ready) = status_and_json(app.get("/readyz").await).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    // Nothing went to the dead-letter stream: an unavailable database is never the rows' fault.
    let dead = app.get("/metrics").await.text().await.expect("text");
    assert!(
        !dead
            .lines()
            .any(|line| line.starts_with("safequiz_dead_letters{") && !line.ends_with(" 0")),
        "no dead letters: {dead}"
    );
    eprintln!(
        "{database:?} refusing writes: /readyz said so after {noticed:?}; {} results in SQL \
         {flushed:?} after it was writable again",
        ids.len()
    );
}

/// The attempts of `ids` the SQL record does not hold.
async fn missing(app: &TestApp, ids: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    for id in ids {
        let (participant, number) = id.split_once('-').expect("pid-n");
        let row = app
            .state
            .store
            .archived_attempt(
                CAMPAIGN,
                participant.parse().expect("a participant id"),
                number.parse().expect("a number"),
            )
            .await;
        // While SQL refuses, a read may fail too (SQLite locked): count it as missing.
        if !matches!(row, Ok(Some(_))) {
            missing.push(id.clone());
        }
    }
    missing
}

/// The database refusing the service's writes, until [`Refusal::end`].
///
/// PostgreSQL: `ALTER DATABASE ... SET default_transaction_read_only = on`, then every other
/// session of the database terminated, so the service's new connections are read-only (as
/// after a failover to a standby, or an operator's emergency switch). SQLite: another process
/// holds the file's write lock (`BEGIN EXCLUSIVE`), as a backup tool or a stuck writer would, so
/// every write of the service times out as busy.
enum Refusal {
    Postgres(sqlx::PgConnection, String),
    Sqlite(sqlx::SqliteConnection),
}

impl Refusal {
    async fn begin(app: &TestApp, database: Database) -> Refusal {
        use sqlx::Connection;
        match database {
            Database::Postgres => {
                let mut admin = sqlx::PgConnection::connect(&app.database_url)
                    .await
                    .expect("an admin session");
                let name: String = sqlx::query_scalar("SELECT current_database()")
                    .fetch_one(&mut admin)
                    .await
                    .expect("the database's name");
                set_read_only(&mut admin, &name, true).await;
                Refusal::Postgres(admin, name)
            }
            Database::Sqlite => {
                let mut holder = sqlx::SqliteConnection::connect(&app.database_url)
                    .await
                    .expect("a second writer");
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut holder)
                    .await
                    .expect("the write lock");
                Refusal::Sqlite(holder)
            }
        }
    }

    async fn end(&mut self) {
        match self {
            Refusal::Postgres(admin, name) => set_read_only(admin, name, false).await,
            Refusal::Sqlite(holder) => {
                sqlx::query("ROLLBACK")
                    .execute(holder)
                    .await
                    .expect("the lock is released");
            }
        }
    }
}

/// Sets `default_transaction_read_only` of the database `name` and ends its other sessions,
/// so that the service's pool reconnects under the new setting.
async fn set_read_only(admin: &mut sqlx::PgConnection, name: &str, on: bool) {
    let value = if on { "on" } else { "off" };
    // The name is the test's own database (`current_database()`), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{name}\" SET default_transaction_read_only = {value}"
    )))
    .execute(&mut *admin)
    .await
    .expect("the setting changes");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut *admin)
    .await
    .expect("the other sessions end");
}
