//! Recovery rebuilds, from the SQL record, exactly the hot state the scripts built: key by key,
//! field by field, score by score.
//!
//! `record.rs` checks what participants and the public see across a rebuild; this checks the
//! Redis keys themselves, after attempts on two days, in several units and shards, submitted by
//! participants, by a late read and by the sweeper, on one Redis and on a Redis Cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use safequiz_server::recovery;
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_server::workers::sweeper::sweep_once;
use safequiz_testapp::{
    CAMPAIGN, Participant, RawConnection, TestApp, Topology, on_both_topologies,
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

/// Every key of the campaign that recovery rebuilds: participant hashes (every field but
/// `open`, which only says no attempt is open and which a rebuild leaves unset), the people and
/// phone indexes and the participant counters, the unit totals and every board. The streams are
/// the record's source, not its copy, and are left out.
async fn snapshot(app: &TestApp) -> BTreeMap<String, Stored> {
    let mut connection = connection(app).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{CAMPAIGN}:*"))
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    let mut snapshot = BTreeMap::new();
    for key in keys {
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
    let options = FlusherOptions {
        consumer: "recovery-test".to_owned(),
        batch_rows: 50,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(60),
        max_deliveries: 5,
    };
    while flush_once(&app.state, &options).await.expect("flush") > 0 {}
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    assert_eq!(
        recovery::reconcile(&app.state, &campaign)
            .await
            .expect("reconcile"),
        Vec::<String>::new()
    );
    let before = snapshot(&app).await;

    let () = redis::cmd("FLUSHALL")
        .query_async(&mut connection(&app).await)
        .await
        .expect("FLUSHALL");
    let restored = recovery::rebuild(&app.state, &campaign)
        .await
        .expect("rebuild");
    let after = snapshot(&app).await;

    assert_eq!(
        (restored.people, restored.participants, restored.attempts),
        (17, 16, 25)
    );
    // The snapshot is not vacuous: both days, both kinds of ending, every shard.
    let hashes: Vec<&BTreeMap<String, String>> = before
        .iter()
        .filter(|(key, _)| key.contains("}:p:"))
        .filter_map(|(_, stored)| match stored {
            Stored::Hash(fields) => Some(fields),
            _ => None,
        })
        .collect();
    assert_eq!(hashes.len(), 16);
    assert_eq!(hashes.iter().filter(|f| f.contains_key("2:r")).count(), 9);
    let results: Vec<&String> = hashes
        .iter()
        .flat_map(|fields| ["1:r", "2:r"].into_iter().filter_map(|f| fields.get(f)))
        .collect();
    assert!(results.iter().any(|r| r.ends_with(",1")), "automatic ones");
    assert!(results.iter().any(|r| r.ends_with(",0")), "submitted ones");
    for shard in 0..4 {
        assert!(before.contains_key(&format!("{{{CAMPAIGN}:{shard}}}:totals")));
        assert!(before.contains_key(&format!("{{{CAMPAIGN}:{shard}}}:board:*")));
    }
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same keys"
    );
    for (key, stored) in &before {
        assert_eq!(after.get(key), Some(stored), "key {key}");
    }
}
