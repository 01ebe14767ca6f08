//! The SQL record under faults, on SQLite and on PostgreSQL, and (on SQLite) with a Redis
//! Cluster for hot state: nothing submitted is missing, and nothing is there twice.

use std::collections::HashMap;
use std::time::Duration;

use safequiz_server::recovery;
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_testapp::{CAMPAIGN, Database, TestApp, Topology, eventually, on_both_topologies};
use serde_json::Value;
use sqlx::Connection;

const UNITS: [&str; 6] = ["110101", "110102", "130102", "130203", "660100", "CE001"];

/// Scores by attempt id, as the API returned them.
fn scores(results: &[Value]) -> HashMap<String, i64> {
    results
        .iter()
        .map(|r| {
            (
                r["attempt_id"].as_str().expect("id").to_owned(),
                r["score"].as_i64().expect("score"),
            )
        })
        .collect()
}

async fn assert_recorded(app: &TestApp, expected: &HashMap<String, i64>) {
    let rows = eventually(
        "every attempt reaches SQL",
        Duration::from_secs(60),
        || async {
            let rows = app.state.store.attempts(CAMPAIGN).await.ok()?;
            (rows.len() >= expected.len()).then_some(rows)
        },
    )
    .await;
    assert_eq!(
        rows.len(),
        expected.len(),
        "no attempt is recorded twice or invented"
    );
    for row in &rows {
        assert_eq!(
            Some(&i64::from(row.points)),
            expected.get(&row.attempt_id),
            "attempt {}",
            row.attempt_id
        );
    }
}

async fn reconciled(app: &TestApp) {
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let differences = eventually("Redis and SQL agree", Duration::from_secs(30), || async {
        let differences = recovery::reconcile(&app.state, &campaign).await.ok()?;
        differences.is_empty().then_some(differences)
    })
    .await;
    assert!(differences.is_empty());
}

/// Makes SQL unavailable until the returned guard is released.
enum Outage {
    Sqlite(sqlx::SqliteConnection),
    Postgres,
}

async fn stop_sql(app: &TestApp) -> Outage {
    match &app.sql_proxy {
        Some(proxy) => {
            proxy.cut();
            Outage::Postgres
        }
        None => {
            // An exclusive transaction on the file: every other writer gets SQLITE_BUSY.
            let mut connection = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("the SQLite file opens");
            sqlx::raw_sql("BEGIN EXCLUSIVE")
                .execute(&mut connection)
                .await
                .expect("an exclusive lock");
            Outage::Sqlite(connection)
        }
    }
}

async fn restart_sql(app: &TestApp, outage: Outage) {
    match outage {
        Outage::Postgres => app.sql_proxy.as_ref().expect("a proxy").restore(),
        Outage::Sqlite(mut connection) => {
            sqlx::raw_sql("ROLLBACK")
                .execute(&mut connection)
                .await
                .expect("the lock is released");
        }
    }
}

async fn results_submitted_while_sql_is_down_are_all_recorded_when_it_returns(
    database: Database,
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .database(database)
        .spawn()
        .await;
    // The service migrates as it starts; wait for it so the outage hits inserts, not the schema.
    eventually("the schema exists", Duration::from_secs(30), || async {
        app.state.store.attempts(CAMPAIGN).await.ok()
    })
    .await;
    let before = app.play(10_000, 50, &UNITS, 10).await;
    assert_recorded(&app, &scores(&before)).await;

    let outage = stop_sql(&app).await;
    let during = app.play(20_000, 450, &UNITS, 15).await;
    let (status, ready) = app.get_json("/readyz").await;
    if database == Database::Postgres {
        assert_eq!(status, 503, "readiness reports the database down: {ready}");
    } else {
        // A locked SQLite file still answers reads; the results wait in the streams.
        assert_eq!(status, 200, "{ready}");
        let waiting = ready["flush"]["pending"].as_u64().expect("pending")
            + ready["flush"]["undelivered"].as_u64().expect("undelivered");
        assert!(
            waiting > 0,
            "the streams hold what SQL cannot take: {ready}"
        );
        let rows = app
            .state
            .store
            .attempts(CAMPAIGN)
            .await
            .expect("reads work");
        assert_eq!(rows.len(), 50, "nothing was written during the outage");
    }
    restart_sql(&app, outage).await;

    let mut expected = scores(&before);
    expected.extend(scores(&during));
    assert_eq!(expected.len(), 500);
    assert_recorded(&app, &expected).await;
    reconciled(&app).await;
}

#[tokio::test]
async fn results_submitted_while_sqlite_is_down_are_all_recorded_when_it_returns() {
    results_submitted_while_sql_is_down_are_all_recorded_when_it_returns(
        Database::Sqlite,
        Topology::Single,
    )
    .await;
}

#[tokio::test]
async fn results_submitted_on_a_redis_cluster_while_sqlite_is_down_are_all_recorded_when_it_returns()
 {
    results_submitted_while_sql_is_down_are_all_recorded_when_it_returns(
        Database::Sqlite,
        Topology::Cluster,
    )
    .await;
}

#[tokio::test]
async fn results_submitted_while_postgres_is_down_are_all_recorded_when_it_returns() {
    results_submitted_while_sql_is_down_are_all_recorded_when_it_returns(
        Database::Postgres,
        Topology::Single,
    )
    .await;
}

async fn two_flushers_write_every_row_once(database: Database) {
    let app = TestApp::builder()
        .shards(4)
        .database(database)
        .flusher(false)
        .spawn()
        .await;
    app.state.store.migrate().await.expect("migrations");
    let results = app.play(30_000, 150, &UNITS, 15).await;
    let options = |name: &str| FlusherOptions {
        consumer: name.to_owned(),
        batch_rows: 7,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(60),
        max_deliveries: 5,
    };
    let (a, b) = (options("a"), options("b"));
    let drain = |options: FlusherOptions| {
        let state = app.state.clone();
        async move {
            let mut total = 0;
            loop {
                match flush_once(&state, &options).await.expect("flush") {
                    0 => return total,
                    n => total += n,
                }
            }
        }
    };

    let (by_a, by_b) = tokio::join!(drain(a), drain(b));

    assert_eq!(
        by_a + by_b,
        300,
        "150 registrations and 150 attempts, each delivered once"
    );
    assert_recorded(&app, &scores(&results)).await;
    assert_eq!(
        app.state
            .store
            .participant_count(CAMPAIGN)
            .await
            .expect("SQL"),
        150
    );
    reconciled(&app).await;
}

#[tokio::test]
async fn two_flushers_on_sqlite_write_every_row_once() {
    two_flushers_write_every_row_once(Database::Sqlite).await;
}

#[tokio::test]
async fn two_flushers_on_postgres_write_every_row_once() {
    two_flushers_write_every_row_once(Database::Postgres).await;
}

/// Everything a participant or the public can read about the campaign, minus the clock.
async fn snapshot(app: &TestApp, people: &[safequiz_testapp::Participant]) -> Vec<Value> {
    let mut views = Vec::new();
    for parent in [
        "region",
        "enterprise",
        "110000",
        "130000",
        "130100",
        "660000",
    ] {
        for sort in ["points", "participants", "attempts"] {
            let (_, board) = app
                .get_json(&format!(
                    "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent={parent}&sort={sort}"
                ))
                .await;
            views.push(board);
        }
    }
    for unit in ["", "&unit=110000", "&unit=130102", "&unit=CE001"] {
        let (_, board) = app
            .get_json(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?limit=100{unit}"
            ))
            .await;
        views.push(board);
    }
    for me in people {
        let (_, mut standing) = app
            .get_as(me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
            .await;
        standing["server_time"] = Value::Null;
        views.push(standing);
        let (_, mut review) = app
            .get_as(me, &format!("/api/v1/attempts/{}-1", me.id))
            .await;
        review["server_time"] = Value::Null;
        views.push(review);
    }
    views
}

async fn a_rebuild_after_redis_is_emptied_restores_every_board(
    database: Database,
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .database(database)
        .spawn()
        .await;
    let mut people = Vec::new();
    for (n, unit) in UNITS.iter().cycle().take(24).enumerate() {
        let me = app
            .register("回放者", &format!("1590000{n:04}"), unit)
            .await;
        let (_, attempt) = app.start_attempt(&me).await;
        let id = attempt["attempt_id"].as_str().expect("id").to_owned();
        for index in 0..(n % 6) {
            let keys = app.correct_keys(&attempt["questions"][index]);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            app.save_answer(&me, &id, index, &keys).await;
        }
        app.submit(&me, &id, None).await;
        people.push(me);
    }
    let results = app.play(40_000, 60, &UNITS, 10).await;
    let mut expected = scores(&results);
    expected.extend((0..24).map(|n| (format!("{}-1", people[n].id), (n % 6).min(5) as i64)));
    assert_recorded(&app, &expected).await;
    reconciled(&app).await;
    let before = snapshot(&app, &people).await;

    let mut connection = app.redis.connection().await;
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .expect("FLUSHALL");
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let restored = recovery::rebuild(&app.state, &campaign)
        .await
        .expect("rebuild");
    assert_eq!((restored.people, restored.attempts), (84, 84));
    // Boards are shared snapshots for up to a second: drop them, so the views below are read
    // from the rebuilt state, not from the snapshots taken before.
    app.state.boards.forget_all();

    let after = snapshot(&app, &people).await;
    assert_eq!(after.len(), before.len());
    for (after, before) in after.iter().zip(&before) {
        assert_eq!(after, before, "a view changed across the rebuild");
    }
    let differences = recovery::reconcile(&app.state, &campaign)
        .await
        .expect("reconcile");
    assert_eq!(differences, Vec::<String>::new());

    // Reconcile is not vacuous: a drifted total (3 more points, the low word of `pa`) is reported.
    let () = redis::cmd("HINCRBY")
        .arg(format!("{{{CAMPAIGN}:0}}:totals"))
        .arg("110000:pa")
        .arg(3)
        .query_async(&mut connection)
        .await
        .expect("HINCRBY");
    let differences = recovery::reconcile(&app.state, &campaign)
        .await
        .expect("reconcile");
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].starts_with("unit 110000: points"),
        "{differences:?}"
    );

    // A returning participant is still recognised, and today's attempt is still used.
    let again = app.register("回放者", "15900000000", UNITS[0]).await;
    assert_eq!(again.id, people[0].id);
    let (status, body) = app.start_attempt(&again).await;
    assert_eq!(
        (status, &body["error"]),
        (409, &serde_json::json!("daily_limit_reached"))
    );
}

#[tokio::test]
async fn a_rebuild_from_sqlite_after_redis_is_emptied_restores_every_board() {
    a_rebuild_after_redis_is_emptied_restores_every_board(Database::Sqlite, Topology::Single).await;
}

#[tokio::test]
async fn a_rebuild_from_postgres_after_redis_is_emptied_restores_every_board() {
    a_rebuild_after_redis_is_emptied_restores_every_board(Database::Postgres, Topology::Single)
        .await;
}

#[tokio::test]
async fn a_rebuild_from_sqlite_after_a_redis_cluster_is_emptied_restores_every_board() {
    a_rebuild_after_redis_is_emptied_restores_every_board(Database::Sqlite, Topology::Cluster)
        .await;
}

on_both_topologies!(entries_a_dead_flusher_held_are_claimed_and_unreadable_ones_dead_lettered);
async fn entries_a_dead_flusher_held_are_claimed_and_unreadable_ones_dead_lettered(
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(1)
        .flusher(false)
        .spawn()
        .await;
    app.state.store.migrate().await.expect("migrations");
    let results = app.play(60_000, 10, &UNITS, 5).await;
    let shard = safequiz_redis::keys::Shard(0);
    app.state
        .hot
        .ensure_group(CAMPAIGN, shard)
        .await
        .expect("group");
    // A flusher that read everything and died before writing or acknowledging anything.
    let held = app
        .state
        .hot
        .read_group(CAMPAIGN, shard, "dead", 100, false)
        .await
        .expect("XREADGROUP");
    assert_eq!(held.len(), 20);
    // An entry no version of the flusher can read.
    let mut connection = app.redis.connection().await;
    let _: String = redis::cmd("XADD")
        .arg(format!("{{{CAMPAIGN}:0}}:stream"))
        .arg("*")
        .arg("type")
        .arg("attempt")
        .arg("attempt")
        .arg("broken")
        .query_async(&mut connection)
        .await
        .expect("XADD");

    let options = FlusherOptions {
        consumer: "alive".to_owned(),
        batch_rows: 100,
        idle: Duration::from_millis(5),
        claim_idle: Duration::ZERO,
        max_deliveries: 5,
    };
    let mut flushed = 0;
    loop {
        match flush_once(&app.state, &options).await.expect("flush") {
            0 => break,
            n => flushed += n,
        }
    }

    assert_eq!(flushed, 20, "the 20 held entries were claimed and written");
    assert_recorded(&app, &scores(&results)).await;
    let dead: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{{{CAMPAIGN}:0}}:dead"))
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .expect("XRANGE");
    assert_eq!(dead.len(), 1, "the broken entry is kept for an operator");
    assert!(dead[0].1.contains(&"broken".to_owned()));
    assert!(dead[0].1.contains(&"reason".to_owned()));
    reconciled(&app).await;
}
