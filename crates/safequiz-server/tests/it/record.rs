//! The SQL record under faults, on SQLite and on PostgreSQL, and (on SQLite) with a Redis
//! Cluster for hot state: nothing submitted is missing, and nothing is there twice.

use std::collections::HashMap;
use std::time::Duration;

use safequiz_redis::streams::{StreamEntry, decode};
use safequiz_server::http::health::flush_lag;
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
    // Each flusher passes until nothing is left in any stream: a pass that writes nothing
    // means only that the other holds the shards with entries.
    let drain = |options: FlusherOptions| {
        let state = app.state.clone();
        async move {
            let mut total = 0;
            let until = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let passed = flush_once(&state, &options).await.expect("flush");
                total += passed;
                if passed == 0 {
                    let lag = flush_lag(&state).await.expect("the lag");
                    if lag.pending + lag.undelivered == 0 {
                        return total;
                    }
                    assert!(
                        std::time::Instant::now() < until,
                        "the flushers never finish"
                    );
                }
            }
        }
    };

    let (by_a, by_b) = tokio::join!(drain(a), drain(b));

    assert_eq!(
        by_a + by_b,
        300,
        "150 registrations and 150 attempts, each written once"
    );
    assert!(
        by_a > 0 && by_b > 0,
        "the two flushers share the shards: {by_a} and {by_b}"
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

/// Which flusher holds each shard's lease, over every campaign's shards.
async fn lease_holders(app: &TestApp) -> Vec<Option<String>> {
    let mut connection = app.redis.connection().await;
    let mut holders = Vec::new();
    for campaign in &app.catalogue.campaigns {
        for shard in 0..4 {
            let holder: Option<String> = redis::cmd("GET")
                .arg(format!("{{{}:{shard}}}:flush:lease", campaign.id))
                .query_async(&mut connection)
                .await
                .expect("GET");
            holders.push(holder);
        }
    }
    holders
}

fn held_by(holders: &[Option<String>], name: &str) -> usize {
    holders
        .iter()
        .filter(|holder| holder.as_deref() == Some(name))
        .count()
}

#[tokio::test]
async fn flushers_divide_the_shards_and_one_that_stops_gives_its_share_back() {
    let app = TestApp::builder().shards(4).flusher(false).spawn().await;
    app.state.store.migrate().await.expect("migrations");
    let options = |name: &str| FlusherOptions {
        consumer: name.to_owned(),
        batch_rows: 100,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    let (a, b) = (options("a"), options("b"));

    let shards = lease_holders(&app).await.len();
    assert!(shards >= 4, "four shards a campaign");

    // Alone, a holds every shard.
    flush_once(&app.state, &a).await.expect("flush");
    assert_eq!(held_by(&lease_holders(&app).await, "a"), shards);
    // b joins: its share is half the shards, but a holds them all until its next pass.
    flush_once(&app.state, &b).await.expect("flush");
    assert_eq!(held_by(&lease_holders(&app).await, "a"), shards);
    flush_once(&app.state, &a).await.expect("flush");
    let holders = lease_holders(&app).await;
    assert_eq!(
        held_by(&holders, "a"),
        shards / 2,
        "a gives back what is beyond its share: {holders:?}"
    );
    flush_once(&app.state, &b).await.expect("flush");
    let holders = lease_holders(&app).await;
    assert_eq!(
        (held_by(&holders, "a"), held_by(&holders, "b")),
        (shards / 2, shards / 2),
        "{holders:?}"
    );

    // b stops (SIGTERM): it drains, says it no longer runs and gives its shards back at once,
    // without waiting for its leases to run out; a's next pass takes them all.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(safequiz_server::workers::flusher::run(
        app.state.clone(),
        b,
        stopped,
    ));
    stop.send(true).expect("the flusher listens");
    running.await.expect("the flusher stops cleanly");
    assert_eq!(held_by(&lease_holders(&app).await, "b"), 0);
    flush_once(&app.state, &a).await.expect("flush");
    assert_eq!(held_by(&lease_holders(&app).await, "a"), shards);
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

on_both_topologies!(
    a_dead_flusher_s_shard_is_taken_when_its_lease_ends_and_unreadable_entries_are_dead_lettered
);
async fn a_dead_flusher_s_shard_is_taken_when_its_lease_ends_and_unreadable_entries_are_dead_lettered(
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
    // A flusher that took the shard, read everything and died before writing anything.
    let cursor = app
        .state
        .hot
        .flush_hold(CAMPAIGN, shard, "dead", 400)
        .await
        .expect("lease")
        .expect("the shard is free");
    let held = app
        .state
        .hot
        .flush_read(CAMPAIGN, shard, &cursor, 100)
        .await
        .expect("XRANGE");
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
        claim_idle: Duration::from_secs(30),
        max_deliveries: 5,
    };
    assert_eq!(
        flush_once(&app.state, &options).await.expect("flush"),
        0,
        "the dead flusher's lease still holds the shard"
    );
    let flushed = eventually(
        "the dead flusher's lease ends",
        Duration::from_secs(10),
        || async {
            let passed = flush_once(&app.state, &options).await.expect("flush");
            (passed > 0).then_some(passed)
        },
    )
    .await;

    assert_eq!(
        flushed, 21,
        "the 20 held entries were written and the broken one passed"
    );
    assert_eq!(flush_once(&app.state, &options).await.expect("flush"), 0);
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

/// Makes the test's SQLite record refuse attempt `id`'s row for its content, whatever batch it
/// comes in (a trigger); the connection that made it, to drop it with.
async fn refuse_attempt(app: &TestApp, id: &str) -> sqlx::SqliteConnection {
    let mut sql = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .expect("the SQLite file opens");
    // The id is one the test read from its own stream.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON attempts WHEN NEW.attempt_id = '{id}' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    )))
    .execute(&mut sql)
    .await
    .expect("the trigger");
    sql
}

/// A flusher that dead-letters a row at its third refusal.
fn refusing_options() -> FlusherOptions {
    FlusherOptions {
        consumer: "only".to_owned(),
        batch_rows: 100,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(30),
        max_deliveries: 3,
    }
}

#[tokio::test]
async fn a_row_sql_keeps_refusing_holds_its_shard_until_it_is_dead_lettered_and_loses_nothing() {
    let app = TestApp::builder().shards(1).flusher(false).spawn().await;
    app.state.store.migrate().await.expect("migrations");
    let results = app.play(60_000, 6, &UNITS, 3).await;
    let shard = safequiz_redis::keys::Shard(0);
    let entries = app
        .state
        .hot
        .stream_entries(CAMPAIGN, shard)
        .await
        .expect("XRANGE");
    // SQL refuses one attempt's row for its content, whatever batch it comes in.
    let refused = entries
        .iter()
        .find_map(|entry| entry.get("attempt"))
        .expect("an attempt entry")
        .to_owned();
    refuse_attempt(&app, &refused).await;
    let options = refusing_options();

    // Refused twice: the rows of the other entries are written, the cursor stays before the
    // refused one, and the lag says so.
    for refusals in 1..=2 {
        flush_once(&app.state, &options).await.expect("flush");
        let lag = flush_lag(&app.state).await.expect("the lag");
        assert!(
            lag.pending > 0,
            "refusal {refusals}: the entry waits, {lag:?}"
        );
        let dead: u64 = redis::cmd("XLEN")
            .arg(format!("{{{CAMPAIGN}:0}}:dead"))
            .query_async(&mut app.redis.connection().await)
            .await
            .expect("XLEN");
        assert_eq!(dead, 0, "refusal {refusals}: not dead-lettered yet");
    }
    let written = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(written.len(), 5, "every other attempt is written meanwhile");

    // The third refusal sets the entry aside, with the reason, and the shard moves on.
    flush_once(&app.state, &options).await.expect("flush");
    let lag = flush_lag(&app.state).await.expect("the lag");
    assert_eq!(lag.pending + lag.undelivered, 0, "{lag:?}");
    let dead: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{{{CAMPAIGN}:0}}:dead"))
        .arg("-")
        .arg("+")
        .query_async(&mut app.redis.connection().await)
        .await
        .expect("XRANGE");
    assert_eq!(dead.len(), 1, "{dead:?}");
    let letter = StreamEntry {
        id: dead[0].0.clone(),
        fields: dead[0]
            .1
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
    };
    assert_eq!(letter.get("attempt"), Some(refused.as_str()), "{dead:?}");
    assert!(decode(&letter).is_ok(), "the entry is whole: {dead:?}");
    assert!(
        dead[0]
            .1
            .iter()
            .any(|value| value.contains("refused by the test")),
        "{dead:?}"
    );

    // Every other result is recorded once; the refused one waits in the dead-letter stream,
    // whole, for an operator.
    let mut expected = scores(&results);
    assert!(
        expected.remove(&refused).is_some(),
        "the refused attempt was played"
    );
    assert_recorded(&app, &expected).await;
}

#[tokio::test]
async fn a_pass_writes_its_shards_together_and_a_refused_row_holds_back_only_its_own_shard() {
    let app = TestApp::builder().shards(4).flusher(false).spawn().await;
    app.state.store.migrate().await.expect("migrations");
    let results = app.play(61_000, 16, &UNITS, 4).await;
    // What each shard holds, before anything is written.
    let mut held = Vec::new();
    for shard in safequiz_redis::keys::Shard::all(4) {
        let entries = app
            .state
            .hot
            .stream_entries(CAMPAIGN, shard)
            .await
            .expect("XRANGE");
        held.push((shard, entries));
    }
    let attempts_in = |entries: &[StreamEntry]| {
        entries
            .iter()
            .filter_map(|entry| entry.get("attempt").map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(
        held.iter()
            .filter(|(_, entries)| !attempts_in(entries).is_empty())
            .count()
            >= 2,
        "the attempts spread over several shards"
    );
    // SQL refuses the first attempt of the first shard that has one, whatever batch it is in.
    let (refused_shard, refused_entries) = held
        .iter()
        .find(|(_, entries)| !attempts_in(entries).is_empty())
        .expect("a shard with attempts");
    let refused = attempts_in(refused_entries)[0].clone();
    let mut sql = refuse_attempt(&app, &refused).await;
    let options = refusing_options();

    // One pass: the whole batch is refused, so each shard is written alone. Every other
    // shard's entries are written and passed; the refused shard writes its other rows and
    // keeps its cursor before the refused entry.
    let passed = flush_once(&app.state, &options).await.expect("flush");
    let refused_at = refused_entries
        .iter()
        .position(|entry| entry.get("attempt") == Some(refused.as_str()))
        .expect("the refused entry");
    let total: usize = held.iter().map(|(_, entries)| entries.len()).sum();
    assert_eq!(
        passed,
        total - refused_entries.len() + refused_at,
        "every entry before the refused one and every other shard's entries are passed"
    );
    let written = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(
        written.len(),
        results.len() - 1,
        "every attempt but the refused one is written"
    );
    let left = app
        .state
        .hot
        .stream_entries(CAMPAIGN, *refused_shard)
        .await
        .expect("XRANGE");
    assert!(
        left.iter()
            .any(|entry| entry.id == refused_entries[refused_at].id),
        "the refused entry stays in its stream"
    );
    let lag = flush_lag(&app.state).await.expect("the lag");
    assert!(lag.pending > 0, "the refused entry waits: {lag:?}");

    // Once the trigger is gone, the next pass writes it and every row is there once.
    sqlx::raw_sql("DROP TRIGGER refuse_one")
        .execute(&mut sql)
        .await
        .expect("drop the trigger");
    flush_once(&app.state, &options).await.expect("flush");
    let lag = flush_lag(&app.state).await.expect("the lag");
    assert_eq!(lag.pending + lag.undelivered, 0, "{lag:?}");
    assert_recorded(&app, &scores(&results)).await;
    reconciled(&app).await;
}
