//! Faults of the running binary (issue 17 item 7; docs/operations.md "Faults"): a replica
//! `SIGKILL`ed under load while another serves, and a SIGTERM that finishes a slow in-flight
//! request and flushes every acknowledged result before the process exits. Real `safequiz serve`
//! processes on one redis-server and one SQLite file.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use safequiz_server::catalogue::Catalogue;
use safequiz_sql::{DatabaseSettings, Store};
use safequiz_testapp::{
    CAMPAIGN, RedisServer, correct_keys, eventually, free_port, shipped_catalogue, status_and_json,
};
use serde_json::{Value, json};

/// One `safequiz serve` process; killed (SIGKILL) when dropped if still running.
struct Replica {
    child: Child,
    base: String,
}

impl Replica {
    /// Starts the binary on a free port with `redis` and `database` and the extra variables
    /// `env`, and waits until `/readyz` answers 200.
    async fn start(redis: &str, database: &str, env: &[(&str, &str)]) -> Replica {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_safequiz"));
        command
            .args(["serve", "--config", "config"])
            .current_dir(safequiz_testapp::repo_root());
        for (key, _) in std::env::vars() {
            if key.starts_with("SAFEQUIZ") {
                command.env_remove(key);
            }
        }
        let child = command
            .env("SAFEQUIZ_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("SAFEQUIZ_REDIS_URL", redis)
            .env("SAFEQUIZ_DATABASE_URL", database)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let replica = Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        eventually("the replica is ready", Duration::from_secs(30), || async {
            client
                .get(format!("{}/readyz", replica.base))
                .send()
                .await
                .ok()
                .filter(|response| response.status() == 200)
        })
        .await;
        replica
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `method path` against `base` with an optional token and body: the status and JSON body, or
/// `None` when the connection fails (a killed replica).
async fn call(
    client: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.ok()?;
    Some(status_and_json(response).await)
}

/// Registers a participant through `base`; their id and token.
async fn register(client: &reqwest::Client, base: &str, phone: &str) -> Option<(u64, String)> {
    let body = json!({"name": "测试者", "phone": phone, "unit_id": "110101", "consent": true});
    let path = format!("/api/v1/campaigns/{CAMPAIGN}/participants");
    let (status, body) = call(
        client,
        base,
        reqwest::Method::POST,
        &path,
        None,
        Some(&body),
    )
    .await?;
    assert!(status == 201 || status == 200, "{status} {body}");
    Some((
        body["participant_id"].as_u64().expect("an id"),
        body["token"].as_str().expect("a token").to_owned(),
    ))
}

/// Starts (or resumes) today's attempt through `base`.
async fn start(client: &reqwest::Client, base: &str, token: &str) -> Option<(u16, Value)> {
    let path = format!("/api/v1/campaigns/{CAMPAIGN}/attempts");
    call(
        client,
        base,
        reqwest::Method::POST,
        &path,
        Some(token),
        None,
    )
    .await
}

/// One whole attempt through `base`: register, start, submit the first question right. The
/// attempt id once the submit answered 200.
async fn journey(
    client: &reqwest::Client,
    base: &str,
    catalogue: &Catalogue,
    phone: &str,
) -> Option<String> {
    let (_, token) = register(client, base, phone).await?;
    let (status, attempt) = start(client, base, &token).await?;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let right = correct_keys(catalogue, &attempt["questions"][0]);
    let body = json!({"answers": {"0": right}});
    let path = format!("/api/v1/attempts/{id}/submit");
    let (status, result) = call(
        client,
        base,
        reqwest::Method::POST,
        &path,
        Some(&token),
        Some(&body),
    )
    .await?;
    assert_eq!(status, 200, "an answered submit is final: {result}");
    Some(id)
}

/// The attempt ids (`pid-n`) of `submitted` that the SQL record does not hold.
async fn missing_in_sql(store: &Store, submitted: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    for id in submitted {
        let (participant, number) = id.split_once('-').expect("an attempt id is pid-n");
        let row = store
            .archived_attempt(
                CAMPAIGN,
                participant.parse().expect("a participant id"),
                number.parse().expect("an attempt number"),
            )
            .await
            .expect("the record answers");
        if row.is_none() {
            missing.push(id.clone());
        }
    }
    missing
}

fn sqlite_store(url: &str) -> Store {
    Store::connect_lazy(&DatabaseSettings {
        url: url.to_owned().into(),
        max_connections: 2,
    })
    .expect("the record opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_attempt_leaves_its_attempts_to_the_other_and_loses_nothing() {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    let mut doomed = Replica::start(&redis.url(), &database, &[]).await;
    let survivor = Replica::start(&redis.url(), &database, &[]).await;
    let catalogue = Arc::new(shipped_catalogue());
    let client = reqwest::Client::new();

    // Load on both replicas: whole attempts, round robin; a request to the killed one fails
    // and that journey is left (its participant is simply not counted).
    let submitted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bases = [doomed.base.clone(), survivor.base.clone()];
    let mut load = Vec::new();
    for worker in 0..4u64 {
        let (client, catalogue, submitted, stop, bases) = (
            client.clone(),
            Arc::clone(&catalogue),
            Arc::clone(&submitted),
            Arc::clone(&stop),
            bases.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let base = &bases[(n % 2) as usize];
                let phone = format!("139{:08}", worker * 1_000_000 + n);
                if let Some(id) = journey(&client, base, &catalogue, &phone).await {
                    submitted.lock().expect("not poisoned").push(id);
                }
                n += 1;
            }
        }));
    }

    // Participants mid-attempt on the replica about to die: started, first answer saved.
    let mut open = Vec::new();
    for i in 0..5 {
        let (_, token) = register(&client, &doomed.base, &format!("1370000000{i}"))
            .await
            .expect("the replica answers");
        let (status, attempt) = start(&client, &doomed.base, &token)
            .await
            .expect("the replica answers");
        assert_eq!(status, 201, "{attempt}");
        let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
        let right = correct_keys(&catalogue, &attempt["questions"][0]);
        let path = format!("/api/v1/attempts/{id}/answers/0");
        let (status, body) = call(
            &client,
            &doomed.base,
            reqwest::Method::PUT,
            &path,
            Some(&token),
            Some(&json!({"choices": right})),
        )
        .await
        .expect("the replica answers");
        assert_eq!(status, 204, "{body}");
        open.push((token, id, attempt));
    }
    eventually("the load has played", Duration::from_secs(30), || async {
        (submitted.lock().expect("not poisoned").len() >= 20).then_some(())
    })
    .await;

    doomed.child.kill().expect("SIGKILL is delivered");
    doomed.child.wait().expect("the killed replica is reaped");

    // Each open attempt is resumed on the survivor with its saved answer, finished there.
    for (token, id, attempt) in &open {
        let (status, resumed) = start(&client, &survivor.base, token)
            .await
            .expect("the survivor answers");
        assert_eq!(status, 200, "resumed, not a new attempt: {resumed}");
        assert_eq!(resumed["attempt_id"], id.as_str());
        let right = correct_keys(&catalogue, &attempt["questions"][1]);
        let path = format!("/api/v1/attempts/{id}/answers/1");
        let (status, body) = call(
            &client,
            &survivor.base,
            reqwest::Method::PUT,
            &path,
            Some(token),
            Some(&json!({"choices": right})),
        )
        .await
        .expect("the survivor answers");
        assert_eq!(status, 204, "{body}");
        let path = format!("/api/v1/attempts/{id}/submit");
        let (status, result) = call(
            &client,
            &survivor.base,
            reqwest::Method::POST,
            &path,
            Some(token),
            None,
        )
        .await
        .expect("the survivor answers");
        assert_eq!(status, 200, "{result}");
        assert_eq!(
            result["correct_count"], 2,
            "the answer saved on the killed replica counts: {result}"
        );
        submitted.lock().expect("not poisoned").push(id.clone());
    }
    let played_after_kill = submitted.lock().expect("not poisoned").len();
    eventually(
        "the load goes on through the survivor",
        Duration::from_secs(30),
        || async {
            (submitted.lock().expect("not poisoned").len() >= played_after_kill + 20).then_some(())
        },
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.expect("a load task ends cleanly");
    }

    // Zero loss: every submit answered 200 on either replica is in SQL, written by the
    // survivor's flusher (it takes the shards the killed one held when their leases run out,
    // flusher.claim_idle_secs after the kill).
    let submitted = submitted.lock().expect("not poisoned").clone();
    let store = sqlite_store(&database);
    let started = Instant::now();
    eventually(
        "every acknowledged submit is in SQL",
        Duration::from_secs(90),
        || async {
            missing_in_sql(&store, &submitted)
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await;
    eprintln!(
        "killed replica: {} submits acknowledged, all in SQL {:.1} s after the load stopped",
        submitted.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_a_slow_request_and_flushes_every_acknowledged_result() {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    // The flusher waits a minute between empty passes: what it writes before the process
    // exits is written by the drain at the stop.
    let mut replica = Replica::start(
        &redis.url(),
        &database,
        &[("SAFEQUIZ__FLUSHER__BATCH_MAX_MS", "60000")],
    )
    .await;
    let catalogue = shipped_catalogue();
    let client = reqwest::Client::new();
    let base = replica.base.clone();

    let mut submitted = Vec::new();
    for i in 0..20 {
        let id = journey(&client, &base, &catalogue, &format!("1360000{i:04}"))
            .await
            .expect("the replica answers");
        submitted.push(id);
    }
    let store = sqlite_store(&database);
    assert!(
        !missing_in_sql(&store, &submitted).await.is_empty(),
        "results wait unflushed (the flusher sleeps), so the drain at the stop is what writes them"
    );

    // A slow request: its head and half its body are sent, the rest only after SIGTERM. Its
    // own client, with a connection the server has already served (accepted, not in a backlog).
    let (token, attempt) = {
        let (_, token) = register(&client, &base, "13599990000")
            .await
            .expect("the replica answers");
        let (status, attempt) = start(&client, &base, &token).await.expect("answers");
        assert_eq!(status, 201, "{attempt}");
        (token, attempt)
    };
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let body = json!({"choices": correct_keys(&catalogue, &attempt["questions"][0])}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let (head, tail) = (head.to_owned(), tail.to_owned());
    let slow = reqwest::Client::new();
    let warm = slow
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("ok");
    assert_eq!(warm.status(), 200);
    let (sent_head, head_sent) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let chunks = futures_util::stream::unfold(
        (0, Some(sent_head), Some(released), head, tail),
        |(step, sent_head, released, head, tail)| async move {
            match step {
                0 => Some((
                    Ok::<_, std::io::Error>(head.clone()),
                    (1, sent_head, released, head, tail),
                )),
                1 => {
                    // Asked for the next chunk: the head and the first half are on the wire.
                    let _ = sent_head.expect("once").send(());
                    let _ = released.expect("once").await;
                    Some((Ok(tail.clone()), (2, None, None, head, tail)))
                }
                _ => None,
            }
        },
    );
    let request = slow
        .put(format!("{base}/api/v1/attempts/{id}/answers/0"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let in_flight = tokio::spawn(request);
    head_sent.await.expect("the body's first half is sent");

    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &replica.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    release.send(()).expect("the request still waits");
    let answer = in_flight
        .await
        .expect("the request task ends")
        .expect("the in-flight request is answered, not cut");
    assert_eq!(
        answer.status(),
        204,
        "the slow save completes after SIGTERM"
    );

    let exit = eventually(
        "the service exits after SIGTERM",
        Duration::from_secs(30),
        || {
            let exited = replica.child.try_wait().expect("wait works");
            async move { exited }
        },
    )
    .await;
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
    eprintln!(
        "SIGTERM: exited {:.2} s after the signal",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(
        missing_in_sql(&store, &submitted).await,
        Vec::<String>::new(),
        "every acknowledged submit is in SQL once the process has exited"
    );
}
