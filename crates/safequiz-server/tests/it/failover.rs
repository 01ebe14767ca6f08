//! A Redis Cluster failover under a steady load: one primary is killed with SIGKILL, its replica
//! is promoted, and the service goes on by itself. Requests during the switch answer 503 with
//! `Retry-After`, never 500; every submit acknowledged more than AOF `everysec` plus replication
//! lag before the kill is in SQL. The figures it prints are the ones in docs/operations.md.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_server::http::health::flush_lag;
use safequiz_testapp::{CAMPAIGN, TestApp, Topology, eventually, status_and_json};
use serde_json::{Value, json};

/// Acknowledged writes older than this at the kill must survive it: AOF `everysec` and
/// asynchronous replication each lose at most about a second (docs/operations.md).
const SAFE_AGE: Duration = Duration::from_millis(1_000);

/// Concurrent participants playing at any moment.
const PLAYERS: usize = 8;

/// Units the players register in.
const UNITS: [&str; 4] = ["110101", "110102", "130102", "CE001"];

/// One HTTP answer of the load.
#[derive(Clone, Debug)]
struct Answer {
    /// `register`, `start` or `submit`.
    step: &'static str,
    status: u16,
    code: String,
    retry_after: Option<String>,
    at: Instant,
}

/// A submit the service acknowledged with 200.
#[derive(Clone, Debug)]
struct Acknowledged {
    attempt: String,
    score: i64,
    at: Instant,
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    answers: Vec<Answer>,
    acknowledged: Vec<Acknowledged>,
}

/// Sends one request of the journey and records its answer.
async fn step(
    app: &TestApp,
    seen: &tokio::sync::Mutex<Seen>,
    step: &'static str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let response = app.request(method, path, token, body).await;
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (status, body) = status_and_json(response).await;
    let at = Instant::now();
    seen.lock().await.answers.push(Answer {
        step,
        status,
        code: body["error"].as_str().unwrap_or_default().to_owned(),
        retry_after,
        at,
    });
    (status, body)
}

/// One participant's journey: register, start, answer the first question rightly, submit. Stops
/// at the first refusal (a 503 during the switch): the next journey is a new participant.
async fn journey(app: &TestApp, seen: &tokio::sync::Mutex<Seen>, n: usize) {
    let post = reqwest::Method::POST;
    let phone = format!("135{n:08}");
    let (status, registered) = step(
        app,
        seen,
        "register",
        post.clone(),
        &format!("/api/v1/campaigns/{CAMPAIGN}/participants"),
        None,
        Some(&json!({"name": "测试者", "phone": phone, "unit_id": UNITS[n % UNITS.len()], "consent": true})),
    )
    .await;
    if status != 200 && status != 201 {
        return;
    }
    let token = registered["token"].as_str().expect("a token").to_owned();
    let (status, attempt) = step(
        app,
        seen,
        "start",
        post.clone(),
        &format!("/api/v1/campaigns/{CAMPAIGN}/attempts"),
        Some(&token),
        None,
    )
    .await;
    if status != 201 && status != 200 {
        return;
    }
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let right = app.correct_keys(&attempt["questions"][0]);
    let body = json!({ "answers": { "0": right } });
    let (status, result) = step(
        app,
        seen,
        "submit",
        post,
        &format!("/api/v1/attempts/{id}/submit"),
        Some(&token),
        Some(&body),
    )
    .await;
    if status == 200 {
        let at = Instant::now();
        seen.lock().await.acknowledged.push(Acknowledged {
            attempt: id,
            score: result["score"].as_i64().expect("a score"),
            at,
        });
    }
}

/// Milliseconds from `from` to `to`, negative when `to` is earlier.
fn ms_between(from: Instant, to: Instant) -> i64 {
    if to >= from {
        to.duration_since(from).as_millis() as i64
    } else {
        -(from.duration_since(to).as_millis() as i64)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_fails_over_and_every_older_submit_is_recorded() {
    let app = Arc::new(
        TestApp::builder()
            .topology(Topology::Cluster)
            .shards(4)
            .spawn()
            .await,
    );
    let placement = app
        .state
        .hot
        .placement(CAMPAIGN, 4)
        .await
        .expect("placement");
    let busiest = placement
        .shards_per_primary()
        .into_iter()
        .max_by_key(|(_, shards)| *shards)
        .map(|(node, _)| node.to_owned())
        .expect("a primary holds shards");
    let victim: u16 = busiest
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .expect("host:port");
    let seen = Arc::new(tokio::sync::Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let load_started = Instant::now();
    let players: Vec<_> = (0..PLAYERS)
        .map(|_| {
            let (app, seen, stop, next) = (app.clone(), seen.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    journey(&app, &seen, next.fetch_add(1, Ordering::Relaxed)).await;
                }
            })
        })
        .collect();

    // A steady load first, long enough for submits older than the safe age at the kill.
    eventually(
        "the load runs steadily",
        Duration::from_secs(60),
        || async {
            let acknowledged = seen.lock().await.acknowledged.len();
            (load_started.elapsed() >= 2 * SAFE_AGE && acknowledged >= 40).then_some(())
        },
    )
    .await;
    let killed_at = Instant::now();
    app.redis.cluster().kill(victim);
    tokio::task::block_in_place(|| {
        app.redis
            .cluster()
            .wait_until_healthy(Duration::from_secs(30))
    });
    let healthy_at = Instant::now();
    // The service goes on by itself: journeys complete again, with no restart.
    eventually(
        "submits are acknowledged again after the failover",
        Duration::from_secs(60),
        || async {
            let seen = seen.lock().await;
            let after = seen
                .acknowledged
                .iter()
                .filter(|a| a.at > healthy_at)
                .count();
            (after >= 40).then_some(())
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for player in players {
        player.await.expect("a player finishes");
    }
    let load_ended = Instant::now();
    eventually(
        "the flusher has written every entry",
        Duration::from_secs(60),
        || async {
            let lag = flush_lag(&app.state).await.ok()?;
            (lag.pending == 0 && lag.undelivered == 0).then_some(())
        },
    )
    .await;
    let recorded: HashMap<String, i64> = app
        .state
        .store
        .attempts(CAMPAIGN)
        .await
        .expect("the record reads")
        .into_iter()
        .map(|row| (row.attempt_id, i64::from(row.points)))
        .collect();

    let seen = seen.lock().await;
    let not_in_sql: Vec<&Acknowledged> = seen
        .acknowledged
        .iter()
        .filter(|a| recorded.get(&a.attempt) != Some(&a.score))
        .collect();
    let not_in_redis = not_in_redis(&app, &seen.acknowledged).await;
    let refused: Vec<&Answer> = seen.answers.iter().filter(|a| a.status >= 300).collect();
    let mut refusals: BTreeMap<(u16, &str, &str), usize> = BTreeMap::new();
    for answer in &refused {
        *refusals
            .entry((answer.status, answer.step, answer.code.as_str()))
            .or_default() += 1;
    }
    let before_kill = |a: &&Acknowledged| a.at <= killed_at;
    let count_before_kill =
        |lost: &[&Acknowledged]| lost.iter().filter(|a| a.at <= killed_at).count();
    let oldest = |lost: &[&Acknowledged]| lost.iter().map(|a| ms_between(a.at, killed_at)).max();
    let unavailable: Vec<i64> = refused
        .iter()
        .filter(|a| a.status == 503)
        .map(|a| ms_between(killed_at, a.at))
        .collect();
    let served_during_switch = seen
        .answers
        .iter()
        .filter(|a| a.at > killed_at && a.at <= healthy_at && a.status < 300)
        .count();
    eprintln!(
        "failover figures: load {} ms, {} journeys by {PLAYERS} players, {} submits acknowledged \
         ({} before the kill); kill to a healthy cluster {} ms; {served_during_switch} answers \
         2xx in between; refused {refusals:?}, the 503s from {:?} to {:?} ms after the kill; \
         acknowledged submits not in SQL: {} ({} before the kill, the oldest {:?} ms before it); \
         acknowledged submits not in Redis: {} ({} before the kill, the oldest {:?} ms before it)",
        ms_between(load_started, load_ended),
        next.load(Ordering::Relaxed),
        seen.acknowledged.len(),
        seen.acknowledged.iter().filter(before_kill).count(),
        ms_between(killed_at, healthy_at),
        unavailable.iter().min(),
        unavailable.iter().max(),
        not_in_sql.len(),
        count_before_kill(&not_in_sql),
        oldest(&not_in_sql),
        not_in_redis.len(),
        count_before_kill(&not_in_redis),
        oldest(&not_in_redis),
    );

    for answer in &refused {
        assert!(
            answer.at >= killed_at,
            "nothing is refused before the kill: {answer:?}"
        );
        assert_ne!(
            answer.status, 500,
            "a failover never answers 500: {answer:?}"
        );
        if answer.status == 503 {
            assert_eq!(answer.code, "not_ready", "{answer:?}");
            assert!(
                answer.retry_after.is_some(),
                "a 503 says when to retry: {answer:?}"
            );
        }
    }
    for (lost, place) in [(&not_in_sql, "SQL"), (&not_in_redis, "Redis")] {
        for acknowledged in lost.iter() {
            assert!(
                killed_at.saturating_duration_since(acknowledged.at) <= SAFE_AGE,
                "a submit acknowledged {} ms before the kill is missing from {place}",
                ms_between(acknowledged.at, killed_at)
            );
        }
    }
    assert!(
        seen.acknowledged
            .iter()
            .filter(|a| a.at > healthy_at)
            .count()
            >= 40,
        "the service recovered without a restart"
    );
}

/// The acknowledged submits whose result the hot state no longer holds (the participant's hash
/// lacks the attempt's `<n>:r` field, and its totals count fewer than `n` final attempts: once
/// flushed, an attempt's own fields leave Redis and only the totals keep it), as read through
/// the cluster after the failover.
async fn not_in_redis<'a>(
    app: &TestApp,
    acknowledged: &'a [Acknowledged],
) -> Vec<&'a Acknowledged> {
    let mut connection = app.redis.connection().await;
    let mut missing = Vec::new();
    for submit in acknowledged {
        let (participant, number) = submit
            .attempt
            .split_once('-')
            .expect("an attempt id is <participant>-<n>");
        let participant: u64 = participant.parse().expect("a participant id");
        let key = ShardKeys::new(CAMPAIGN, Shard::of_participant(participant, 4))
            .participant(participant);
        let (result, finals): (Option<String>, Option<u32>) = redis::cmd("HMGET")
            .arg(key)
            .arg(format!("{number}:r"))
            .arg("att")
            .query_async(&mut connection)
            .await
            .expect("HMGET");
        let number: u32 = number.parse().expect("an attempt number");
        if result.is_none() && finals.is_none_or(|finals| finals < number) {
            missing.push(submit);
        }
    }
    missing
}
