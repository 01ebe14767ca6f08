//! Recovery rebuilds, from the SQL record, exactly the hot state the scripts built once the
//! flusher forgot the final attempts: key by key, field by field, score by score.
//!
//! `record.rs` checks what participants and the public see across a rebuild; this checks the
//! Redis keys themselves, after attempts on several days, in several units and shards,
//! submitted by participants, by a late read and by the sweeper, on one Redis and on a Redis
//! Cluster, on SQLite and PostgreSQL, read in batches small enough that many run; and that
//! reconcile finds a difference in the last batch as surely as in the first.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use safequiz_domain::board::{BoardMember, BoardScore};
use safequiz_server::recovery::{self, RecoveryOptions};
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_server::workers::sweeper::sweep_once;
use safequiz_testapp::{
    CAMPAIGN, Database, Participant, RawConnection, TestApp, Topology, on_both, on_both_topologies,
};
use serde_json::json;

use super::{DURING, at};

const UNITS: [&str; 6] = ["110101", "110102", "130102", "130203", "660100", "CE001"];

/// The value of one Redis key, in a form that compares exactly.
#[derive(Debug, PartialEq, Eq)]
enum Stored {
    Hash(BTreeMap<String, String>),
    /// Members with their scores as Redis prints them, in Redis's order.
    SortedSet(Vec<(String, String)>),
    Text(String),
}

/// Whether a participant hash's field is one of a final attempt's own (`<n>:<letter>`), which
/// the flusher forgets once the attempt is in SQL and a rebuild does not write back.
fn is_attempt_field(field: &str) -> bool {
    field.split_once(':').is_some_and(|(number, letter)| {
        number.bytes().all(|b| b.is_ascii_digit()) && letter.len() == 1
    })
}

/// Every key of the campaign that recovery rebuilds: participant hashes (every field but
/// `open`, which only says no attempt is open and which a rebuild leaves unset, and the final
/// attempts' own fields, see [`is_attempt_field`]), the people and phone indexes and the
/// participant counters, the unit totals and every board. The streams are the record's source,
/// not its copy, and are left out.
async fn snapshot(app: &TestApp) -> BTreeMap<String, Stored> {
    let mut snapshot = snapshot_with_attempts(app).await;
    for stored in snapshot.values_mut() {
        if let Stored::Hash(fields) = stored {
            fields.retain(|field, _| !is_attempt_field(field));
        }
    }
    snapshot
}

/// [`snapshot`] with the attempts' own fields, if Redis holds any.
async fn snapshot_with_attempts(app: &TestApp) -> BTreeMap<String, Stored> {
    let mut connection = connection(app).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{CAMPAIGN}:*"))
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    let mut snapshot = BTreeMap::new();
    // The board writer's and the flusher's cursors and leases and the totals marker are their
    // bookkeeping, and the phones' registration counters a limit's passing window: not state a
    // rebuild writes.
    let state = keys.into_iter().filter(|key| {
        !key.ends_with(":boards:cursor")
            && !key.ends_with(":boards:lease")
            && !key.contains("}:flush:")
            && !key.ends_with(":totals:applied")
            && !key.contains("}:reg:")
    });
    for key in state {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("TYPE");
        let stored = match kind.as_str() {
            "hash" => {
                let mut fields: BTreeMap<String, String> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .expect("HGETALL");
                if key.contains("}:p:") {
                    fields.remove("open");
                    // The previous attempt's finish matters only until the board writer's
                    // pass; a rebuild writes boards that already hold the last one.
                    fields.remove("pl");
                }
                Stored::Hash(fields)
            }
            "zset" => Stored::SortedSet(
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut connection)
                    .await
                    .expect("ZRANGE"),
            ),
            "string" => Stored::Text(
                redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .expect("GET"),
            ),
            "stream" => continue,
            other => panic!("key {key} has an unexpected type {other}"),
        };
        snapshot.insert(key, stored);
    }
    snapshot
}

async fn connection(app: &TestApp) -> RawConnection {
    app.redis.connection().await
}

/// Sets the clock `offset` after `day`'s start.
fn at_offset(app: &TestApp, day: jiff::Timestamp, offset: SignedDuration) {
    app.clock.set(day + offset);
}

/// How participant `n` plays on a day: the answers given, and how the attempt ends.
async fn play(app: &TestApp, me: &Participant, n: usize, day: jiff::Timestamp) -> String {
    let seconds = |s: i64| SignedDuration::from_secs(s);
    at_offset(app, day, seconds(3 * n as i64));
    let (status, attempt) = app.start_attempt(me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    // Some right, some wrong, some unanswered: every fifth participant answers all rightly.
    for index in 0..5 {
        let question = &attempt["questions"][index];
        let keys = match (n + index) % 5 {
            _ if n.is_multiple_of(5) => app.correct_keys(question),
            0 | 3 => app.wrong_keys(question),
            4 => continue,
            _ => app.correct_keys(question),
        };
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (status, body) = app.save_answer(me, &id, index, &keys).await;
        assert_eq!(status, 204, "{body}");
    }
    id
}

/// Ends the attempts of a day: participants `n % 4 == 1` submit (some with an answer in the
/// submit), `n % 4 == 3` are read after their time ran out, and the sweeper closes the rest.
async fn finish(app: &TestApp, players: &[(usize, &Participant, String)], day: jiff::Timestamp) {
    for (n, me, id) in players {
        if n % 4 == 1 {
            at_offset(app, day, SignedDuration::from_secs(60 + 2 * *n as i64));
            let body = json!({ "answers": { "4": [] } });
            let body = (n % 8 == 1).then_some(&body);
            let (status, result) = app.submit(me, id, body).await;
            assert_eq!(status, 200, "{result}");
        }
    }
    at_offset(app, day, SignedDuration::from_secs(400));
    for (n, me, id) in players {
        if n % 4 == 3 {
            let (_, read) = app.get_as(me, &format!("/api/v1/attempts/{id}")).await;
            assert_eq!(read["status"], "final", "{read}");
        }
    }
    let swept = sweep_once(&app.state).await.expect("sweep");
    let left = players.iter().filter(|(n, _, _)| n % 2 == 0).count();
    assert_eq!(swept, left, "the sweeper closes every attempt left open");
}

on_both_topologies!(a_rebuild_from_the_record_writes_every_key_the_scripts_wrote);
async fn a_rebuild_from_the_record_writes_every_key_the_scripts_wrote(topology: Topology) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .clock_at(at(DURING))
        .sweeper(false)
        .flusher(false)
        .spawn()
        .await;
    let first_day = at(DURING);
    let second_day = first_day + SignedDuration::from_hours(24);
    let mut people = Vec::new();
    for n in 0..16 {
        let me = app
            .register("重建者", &format!("1880000{n:04}"), UNITS[n % UNITS.len()])
            .await;
        people.push(me);
    }
    // Registered, never played: in the people index only.
    app.register("旁观者", "18899999999", UNITS[0]).await;

    for (day, players) in [(first_day, 0..16), (second_day, 0..9)] {
        let mut started = Vec::new();
        for n in players {
            let id = play(&app, &people[n], n, day).await;
            started.push((n, &people[n], id));
        }
        finish(&app, &started, day).await;
    }
    flush_all(&app).await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    assert_eq!(
        reconcile_in_batches(&app, &campaign, 3).await,
        Vec::<String>::new()
    );
    let before = snapshot(&app).await;

    flush_redis(&app).await;
    // Batches of 3 of the 17 registrations: six batches, the last one short.
    let restored = recovery::rebuild_with(&app.state, &campaign, batches(3))
        .await
        .expect("rebuild");
    // A rebuild writes no final attempt's own fields: they are in SQL, where reviews read them.
    for (key, stored) in snapshot_with_attempts(&app).await {
        if let Stored::Hash(fields) = stored
            && key.contains("}:p:")
        {
            assert!(
                !fields.keys().any(|field| is_attempt_field(field)),
                "{key}: {fields:?}"
            );
        }
    }
    let after = snapshot(&app).await;

    assert_eq!(
        (restored.people, restored.participants, restored.attempts),
        (17, 16, 25)
    );
    // The snapshot is not vacuous: both days, every shard, the counters the rules read.
    let hashes: Vec<&BTreeMap<String, String>> = before
        .iter()
        .filter(|(key, _)| key.contains("}:p:"))
        .filter_map(|(_, stored)| match stored {
            Stored::Hash(fields) => Some(fields),
            _ => None,
        })
        .collect();
    assert_eq!(hashes.len(), 16);
    let twice = |field: &str| {
        hashes
            .iter()
            .filter(|f| f.get(field).map(String::as_str) == Some("2"))
            .count()
    };
    assert_eq!((twice("att"), twice("seq")), (9, 9));
    for fields in &hashes {
        for field in ["pts", "ms", "att", "last", "seq", "day", "dn"] {
            assert!(fields.contains_key(field), "{field} in {fields:?}");
        }
    }
    for shard in 0..4 {
        assert!(before.contains_key(&format!("{{{CAMPAIGN}:{shard}}}:totals")));
    }
    assert!(before.contains_key(&format!("{{{CAMPAIGN}:board:*}}")));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same keys"
    );
    for (key, stored) in &before {
        assert_eq!(after.get(key), Some(stored), "key {key}");
    }

    // The rules that read the rebuilt counters: who played today may not start again; who did
    // not starts their next attempt, numbered after the last one in the record.
    at_offset(&app, second_day, SignedDuration::from_hours(2));
    let (status, body) = app.start_attempt(&people[0]).await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("daily_limit_reached")),
        "{body}"
    );
    let (status, body) = app.start_attempt(&people[12]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["attempt_id"], json!(format!("{}-2", people[12].id)));
}

/// Recovery reading `participants` participants at a time.
fn batches(participants: i64) -> RecoveryOptions {
    RecoveryOptions {
        participants_per_batch: participants,
    }
}

/// Copies every stream entry to SQL, as the service's flusher would.
async fn flush_all(app: &TestApp) {
    let options = FlusherOptions {
        consumer: "recovery-test".to_owned(),
        batch_rows: 50,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(60),
        max_deliveries: 5,
    };
    while flush_once(&app.state, &options).await.expect("flush") > 0 {}
    app.boards_caught_up().await;
}

/// Loses every key, as a Redis restarted without its files would.
async fn flush_redis(app: &TestApp) {
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut connection(app).await)
        .await
        .expect("FLUSHALL");
}

/// Every difference reconcile finds reading `participants` participants at a time.
async fn reconcile_in_batches(
    app: &TestApp,
    campaign: &safequiz_domain::campaign::Campaign,
    participants: i64,
) -> Vec<String> {
    let mut differences = Vec::new();
    let found = recovery::reconcile_with(&app.state, campaign, batches(participants), &mut |d| {
        differences.push(d)
    })
    .await
    .expect("reconcile");
    assert_eq!(found, differences.len() as u64);
    differences
}

/// 30 participants in every unit of `UNITS`, playing on three days (all on the first, every
/// second one on the second, every third one on the third: 55 attempts), ended in every way,
/// all flushed to SQL.
async fn played_campaign(database: Database) -> TestApp {
    let app = TestApp::builder()
        .database(database)
        .shards(4)
        .clock_at(at(DURING))
        .sweeper(false)
        .flusher(false)
        .spawn()
        .await;
    let mut people = Vec::new();
    for n in 0..30 {
        let me = app
            .register("批次者", &format!("1770000{n:04}"), UNITS[n % UNITS.len()])
            .await;
        people.push(me);
    }
    let first_day = at(DURING);
    for (day, every) in [(0, 1), (1, 2), (2, 3)] {
        let day = first_day + SignedDuration::from_hours(24 * day);
        let mut started = Vec::new();
        for n in (0..30).filter(|n| n % every == 0) {
            let id = play(&app, &people[n], n, day).await;
            started.push((n, &people[n], id));
        }
        finish(&app, &started, day).await;
    }
    flush_all(&app).await;
    app
}

on_both!(a_rebuild_in_small_batches_writes_what_one_batch_writes);
async fn a_rebuild_in_small_batches_writes_what_one_batch_writes(database: Database) {
    let app = played_campaign(database).await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    assert_eq!(
        reconcile_in_batches(&app, &campaign, 4).await,
        Vec::<String>::new()
    );
    let before = snapshot(&app).await;
    // 4 a batch: eight batches, the last one short; then all at once.
    for participants in [4, 1_000] {
        flush_redis(&app).await;
        let restored = recovery::rebuild_with(&app.state, &campaign, batches(participants))
            .await
            .expect("rebuild");
        assert_eq!(
            (restored.people, restored.participants, restored.attempts),
            (30, 30, 55)
        );
        let after = snapshot(&app).await;
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "the same keys in batches of {participants}"
        );
        for (key, stored) in &before {
            assert_eq!(
                after.get(key),
                Some(stored),
                "key {key}, batches of {participants}"
            );
        }
        for batch in [4, 7, 1_000] {
            assert_eq!(
                reconcile_in_batches(&app, &campaign, batch).await,
                Vec::<String>::new(),
                "rebuilt in batches of {participants}, compared in batches of {batch}"
            );
        }
    }
}

on_both!(reconcile_finds_differences_in_the_last_batch);
async fn reconcile_finds_differences_in_the_last_batch(database: Database) {
    let app = played_campaign(database).await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let people = app
        .state
        .store
        .participant_batch(CAMPAIGN, i64::MIN, 1_000)
        .await
        .expect("SQL");
    assert_eq!(people.len(), 30);
    // The highest id: with 4 a batch, the eighth and last batch.
    let last = people.last().expect("a participant");
    let id = last.participant_id as u64;
    let shard = id % 4;
    let unit = &last.unit_id;
    let mut connection = connection(&app).await;
    let hash = format!("{{{CAMPAIGN}:{shard}}}:p:{id}");
    let (points, time_used_ms, attempts, last_finished_ms): (i64, i64, u32, i64) =
        redis::cmd("HMGET")
            .arg(&hash)
            .arg(&["pts", "ms", "att", "last"])
            .query_async(&mut connection)
            .await
            .expect("HMGET");
    let unit_board = format!("{{{CAMPAIGN}:board:{unit}}}");
    let campaign_board = format!("{{{CAMPAIGN}:board:*}}");
    let mut members = Vec::new();
    for board in [&unit_board, &campaign_board] {
        let size: u64 = redis::cmd("ZCARD")
            .arg(board)
            .query_async(&mut connection)
            .await
            .expect("ZCARD");
        members.push(size);
    }
    let (unit_members, campaign_members) = (members[0], members[1]);
    let member = BoardMember {
        last_finished_ms,
        participant: id,
    }
    .encode();

    // A point too many in their hash, their entry gone from their unit's board, and a member
    // no participant has on the campaign's board.
    let (): () = redis::cmd("HINCRBY")
        .arg(&hash)
        .arg("pts")
        .arg(1)
        .query_async(&mut connection)
        .await
        .expect("HINCRBY");
    let removed: u64 = redis::cmd("ZREM")
        .arg(&unit_board)
        .arg(&member)
        .query_async(&mut connection)
        .await
        .expect("ZREM");
    assert_eq!(removed, 1);
    let added: u64 = redis::cmd("ZADD")
        .arg(&campaign_board)
        .arg(0)
        .arg("stray")
        .query_async(&mut connection)
        .await
        .expect("ZADD");
    assert_eq!(added, 1);

    let score = BoardScore {
        points,
        time_used_ms,
    }
    .to_redis_score();
    let mut expected = vec![
        format!(
            "participant {id}: (points, time used ms, attempts, last finish) redis={:?} sql={:?}",
            (points + 1, time_used_ms, attempts, last_finished_ms),
            (points, time_used_ms, attempts, last_finished_ms)
        ),
        format!("participant {id}: board of unit {unit} score redis=None sql={score}"),
        format!(
            "board {unit}: members redis={} sql={unit_members}",
            unit_members - 1
        ),
        format!(
            "board *: members redis={} sql={campaign_members}",
            campaign_members + 1
        ),
    ];
    expected.sort();
    for batch in [4, 1_000] {
        let mut differences = reconcile_in_batches(&app, &campaign, batch).await;
        differences.sort();
        assert_eq!(differences, expected, "batches of {batch}");
    }
}
