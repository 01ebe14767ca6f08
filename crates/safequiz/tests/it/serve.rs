//! `safequiz serve` as an operator starts it: environment shortcuts, real Redis, SQLite file.

use std::process::{Command, Stdio};
use std::time::Duration;

use safequiz_testapp::{RedisServer, eventually, free_port};

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
