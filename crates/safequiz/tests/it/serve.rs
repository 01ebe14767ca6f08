//! `safequiz serve` as an operator starts it: environment shortcuts, real Redis (one node, or a
//! Redis Cluster by configuration alone), SQLite file.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use safequiz_server::catalogue::Catalogue;
use safequiz_testapp::{
    CAMPAIGN, RedisCluster, RedisServer, correct_keys, eventually, free_port, shipped_catalogue,
    status_and_json, wrong_keys,
};
use serde_json::{Value, json};

#[tokio::test]
async fn serve_answers_healthz_and_readyz_then_stops_on_sigterm() {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let database_url = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_safequiz"))
        .args(["serve", "--config", "config"])
        .current_dir(safequiz_testapp::repo_root())
        .env("SAFEQUIZ_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("SAFEQUIZ_REDIS_URL", redis.url())
        .env("SAFEQUIZ_DATABASE_URL", &database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    let health = eventually(
        "the service answers /healthz",
        Duration::from_secs(20),
        || async {
            client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        },
    )
    .await;
    let body: serde_json::Value = health.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
    // Ready once Redis and SQLite answer and the record is migrated, a moment after start.
    eventually(
        "readyz answers 200 (Redis and SQLite reachable, the record prepared)",
        Duration::from_secs(20),
        || async {
            client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        },
    )
    .await;
    assert!(
        data.path().join("quiz.sqlite").exists(),
        "the SQLite file is created"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = eventually(
        "the service exits after SIGTERM",
        Duration::from_secs(20),
        || {
            let exited = child.try_wait().expect("wait works");
            async move { exited }
        },
    )
    .await;
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
}

#[test]
fn serve_refuses_to_start_in_production_with_the_default_secret() {
    let output = super::safequiz(
        &["serve"],
        &[
            ("SAFEQUIZ_ENV", "production"),
            ("SAFEQUIZ_HTTP_ADDR", "127.0.0.1:0"),
        ],
    );
    let (_, stderr) = super::texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("production refuses the default secret"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_to_start_in_production_with_a_clock_offset() {
    let output = super::safequiz(
        &["serve"],
        &[
            ("SAFEQUIZ_ENV", "production"),
            ("SAFEQUIZ_HTTP_ADDR", "127.0.0.1:0"),
            (
                "SAFEQUIZ_SECRET",
                "a-long-random-production-secret-0123456789",
            ),
            ("SAFEQUIZ__CLOCK__OFFSET_SECS", "86400"),
        ],
    );
    let (_, stderr) = super::texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("clock.offset_secs")
            && stderr.contains("production refuses a clock offset"),
        "{stderr}"
    );
}

/// A `safequiz serve` process on a free port with a fresh SQLite file; killed when dropped.
struct Served {
    child: Child,
    base: String,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

impl Served {
    /// Starts the binary with the shortcut variables `redis` (Redis URL and cluster switch) and
    /// waits until `/readyz` answers 200.
    async fn start(redis: &[(&str, &str)]) -> Served {
        let data = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let database_url = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
        let child = Command::new(env!("CARGO_BIN_EXE_safequiz"))
            .args(["serve", "--config", "config"])
            .current_dir(safequiz_testapp::repo_root())
            .env("SAFEQUIZ_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .envs(redis.iter().copied())
            .env("SAFEQUIZ_DATABASE_URL", &database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let served = Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _data: data,
        };
        eventually("readyz answers 200", Duration::from_secs(30), || async {
            served
                .client
                .get(format!("{}/readyz", served.base))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        })
        .await;
        served
    }

    /// Sends `method path` with an optional token and body; the status and JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        status_and_json(request.send().await.expect("the service answers")).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Six participants in four units play one attempt each, participant `i` answering exactly `i`
/// questions rightly (so points, and with them every rank, are fixed), then come back for a
/// second attempt, a resubmit, their standing and the boards. Returns every answer with what
/// varies from run to run (tokens, instants, the questions drawn) left out.
async fn participant_journey(served: &Served, catalogue: &Catalogue) -> Vec<(String, u16, Value)> {
    let units = ["110101", "110102", "130102", "CE001"];
    let names = ["张三", "李四", "王五", "赵六", "钱七", "孙八"];
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..6usize {
        let (status, body) = served
            .call(
                post.clone(),
                &format!("/api/v1/campaigns/{CAMPAIGN}/participants"),
                None,
                Some(&json!({"name": names[i], "phone": format!("1380000000{i}"),
                    "unit_id": units[i % units.len()], "consent": true})),
            )
            .await;
        let token = body["token"].as_str().unwrap_or_default().to_owned();
        seen.push((
            "register".to_owned(),
            status,
            body["participant_id"].clone(),
        ));
        let (status, attempt) = served
            .call(
                post.clone(),
                &format!("/api/v1/campaigns/{CAMPAIGN}/attempts"),
                Some(&token),
                None,
            )
            .await;
        seen.push((
            "start".to_owned(),
            status,
            attempt["questions"].as_array().map(Vec::len).into(),
        ));
        let id = attempt["attempt_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let questions = attempt["questions"].as_array().cloned().unwrap_or_default();
        let answers: serde_json::Map<String, Value> = questions
            .iter()
            .enumerate()
            .map(|(index, question)| {
                let keys = if index < i {
                    correct_keys(catalogue, question)
                } else {
                    wrong_keys(catalogue, question)
                };
                (index.to_string(), json!(keys))
            })
            .collect();
        let body = json!({ "answers": answers });
        for step in ["submit", "submit again"] {
            let (status, result) = served
                .call(
                    post.clone(),
                    &format!("/api/v1/attempts/{id}/submit"),
                    Some(&token),
                    Some(&body),
                )
                .await;
            seen.push((
                step.to_owned(),
                status,
                json!([result["score"], result["correct_count"]]),
            ));
        }
        let (status, refused) = served
            .call(
                post.clone(),
                &format!("/api/v1/campaigns/{CAMPAIGN}/attempts"),
                Some(&token),
                None,
            )
            .await;
        seen.push(("second start".to_owned(), status, refused["error"].clone()));
        tokens.push(token);
    }
    // Other participants' ranks, unit figures and boards follow the board writer's pass.
    eventually(
        "the board writer has applied every attempt",
        Duration::from_secs(10),
        || async {
            let (_, ready) = served.call(get.clone(), "/readyz", None, None).await;
            (ready["boards"]["unapplied"] == 0).then_some(())
        },
    )
    .await;
    for token in &tokens {
        let (status, me) = served
            .call(
                get.clone(),
                &format!("/api/v1/campaigns/{CAMPAIGN}/me"),
                Some(token),
                None,
            )
            .await;
        seen.push((
            "me".to_owned(),
            status,
            json!([me["points"], me["attempts"], me["ranks"]]),
        ));
    }
    for (name, path) in [
        ("regions", "leaderboards/units?parent=region"),
        ("Beijing", "leaderboards/units?parent=110000"),
        (
            "enterprises",
            "leaderboards/units?parent=enterprise&sort=participants",
        ),
        ("everyone", "leaderboards/participants"),
        // The shipped national campaign keeps its national individual board only.
        ("the best five", "leaderboards/participants?limit=5"),
    ] {
        let (status, board) = served
            .call(
                get.clone(),
                &format!("/api/v1/campaigns/{CAMPAIGN}/{path}"),
                None,
                None,
            )
            .await;
        let items: Vec<Value> = board["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                json!([
                    item["rank"],
                    item["unit_id"],
                    item["points"],
                    item["participants"],
                    item["attempts"],
                    item["full_marks"],
                    item["name_masked"]
                ])
            })
            .collect();
        seen.push((name.to_owned(), status, json!([board["totals"], items])));
    }
    seen
}

#[tokio::test]
async fn the_participant_api_on_a_redis_cluster_by_environment_alone_answers_as_on_one_node() {
    let catalogue = shipped_catalogue();
    let single = RedisServer::start();
    let cluster = RedisCluster::start();
    let seeds: Vec<String> = cluster
        .ports()
        .iter()
        .take(2)
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect();
    let seeds = seeds.join(",");

    let on_one_node = {
        let served = Served::start(&[("SAFEQUIZ_REDIS_URL", &single.url())]).await;
        participant_journey(&served, &catalogue).await
    };
    let served = Served::start(&[
        ("SAFEQUIZ_REDIS_URL", &seeds),
        ("SAFEQUIZ_REDIS_CLUSTER", "1"),
    ])
    .await;
    let on_a_cluster = participant_journey(&served, &catalogue).await;
    let (status, ready) = served
        .call(reqwest::Method::GET, "/readyz", None, None)
        .await;

    assert_eq!(
        on_a_cluster.len(),
        on_one_node.len(),
        "the same requests on both"
    );
    for (cluster, single) in on_a_cluster.iter().zip(&on_one_node) {
        assert_eq!(
            cluster, single,
            "the same answer on a cluster as on one node"
        );
    }
    let steps: Vec<(&str, u16)> = on_one_node
        .iter()
        .map(|(step, status, _)| (step.as_str(), *status))
        .collect();
    assert!(steps.contains(&("second start", 409)), "{steps:?}");
    assert!(
        steps
            .iter()
            .all(|(_, status)| *status < 400 || *status == 409),
        "{steps:?}"
    );
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.get("placement").is_none(),
        "the shipped 4 shards spread over the 3 primaries: {ready}"
    );
}
