//! Production as an operator meets it: unsafe settings refused at start, each naming its key,
//! secret rotation settings checked, Redis without AOF refused, and log lines (JSON in
//! production, text elsewhere) that a login with a newline in its username cannot forge; and
//! the slow-client timeout, a setting.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use safequiz_testapp::{RedisServer, eventually, free_port};
use serde_json::{Value, json};

use super::{safequiz, texts};

const SECRET: &str = "a-long-random-production-secret-0123456789";

/// `config check` in production with the shipped files, a long secret and `env`: its exit code
/// and standard error.
fn production_check(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut all = vec![("SAFEQUIZ_ENV", "production"), ("SAFEQUIZ_SECRET", SECRET)];
    all.extend_from_slice(env);
    let output = safequiz(&["config", "check"], &all);
    (output.status.code(), texts(&output).1)
}

#[test]
fn production_refuses_an_sqlite_file_under_a_temporary_folder() {
    let proxies = ("SAFEQUIZ__HTTP__TRUSTED_PROXIES", "[\"10.0.0.1\"]");
    for url in [
        "sqlite:///tmp/safequiz.sqlite",
        "sqlite:///var/tmp/quiz/safequiz.sqlite",
        "sqlite:///dev/shm/safequiz.sqlite",
    ] {
        let (code, stderr) = production_check(&[("SAFEQUIZ_DATABASE_URL", url), proxies]);
        assert_eq!(code, Some(1), "{url}: {stderr}");
        assert!(
            stderr.contains("key `database.url`")
                && stderr.contains("production refuses an SQLite file under the temporary folder"),
            "{url}: {stderr}"
        );
    }
    let (code, stderr) = production_check(&[
        (
            "SAFEQUIZ_DATABASE_URL",
            "sqlite:///var/lib/safequiz/safequiz.sqlite",
        ),
        proxies,
    ]);
    assert_eq!(code, Some(0), "persistent storage is accepted: {stderr}");
    // Locally a temporary file is fine (tests and demos).
    let local = safequiz(
        &["config", "check"],
        &[("SAFEQUIZ_DATABASE_URL", "sqlite:///tmp/safequiz.sqlite")],
    );
    assert!(local.status.success(), "{}", texts(&local).1);
}

#[test]
fn production_refuses_a_public_address_without_trusted_proxies() {
    // The shipped production.toml listens on 0.0.0.0:8080.
    let (code, stderr) = production_check(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("key `http.trusted_proxies`")
            && stderr.contains("while http.addr `0.0.0.0:8080` is public"),
        "{stderr}"
    );
    for addr in ["203.0.113.7:8080", "[::]:8080"] {
        let (code, stderr) = production_check(&[("SAFEQUIZ_HTTP_ADDR", addr)]);
        assert_eq!(code, Some(1), "{addr}: {stderr}");
    }
    for (why, env) in [
        (
            "proxies listed",
            vec![("SAFEQUIZ__HTTP__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]")],
        ),
        ("loopback", vec![("SAFEQUIZ_HTTP_ADDR", "127.0.0.1:8080")]),
        ("private", vec![("SAFEQUIZ_HTTP_ADDR", "10.1.2.3:8080")]),
    ] {
        let (code, stderr) = production_check(&env);
        assert_eq!(code, Some(0), "{why}: {stderr}");
    }
}

#[test]
fn a_secret_rotation_needs_its_three_settings_and_the_phone_secret() {
    let proxies = ("SAFEQUIZ__HTTP__TRUSTED_PROXIES", "[\"10.0.0.1\"]");
    let old = "the-secret-before-the-rotation-0123456789";
    let complete = [
        proxies,
        ("SAFEQUIZ__AUTH__KEY_ID", "k2"),
        ("SAFEQUIZ__AUTH__PREVIOUS_SECRET", old),
        ("SAFEQUIZ__AUTH__PREVIOUS_KEY_ID", "k1"),
        (
            "SAFEQUIZ__AUTH__PREVIOUS_VALID_UNTIL",
            "2026-07-01T00:00:00+08:00",
        ),
        ("SAFEQUIZ__AUTH__PHONE_SECRET", old),
    ];
    let (code, stderr) = production_check(&complete);
    assert_eq!(code, Some(0), "{stderr}");
    let after_the_window = [
        proxies,
        ("SAFEQUIZ__AUTH__KEY_ID", "k2"),
        ("SAFEQUIZ__AUTH__PHONE_SECRET", old),
    ];
    let (code, stderr) = production_check(&after_the_window);
    assert_eq!(code, Some(0), "{stderr}");
    let summary = safequiz(
        &["config", "check"],
        &[
            &[("SAFEQUIZ_ENV", "production"), ("SAFEQUIZ_SECRET", SECRET)],
            &complete[..],
        ]
        .concat(),
    );
    let (stdout, _) = texts(&summary);
    assert!(
        stdout.contains(
            "auth.key_id=k2 auth.previous_key_id=k1 auth.previous_valid_until=2026-06-30T16:00:00Z"
        ) && !stdout.contains(old)
            && !stdout.contains(SECRET),
        "{stdout}"
    );

    let without = |key: &str| -> Vec<(&str, &str)> {
        complete
            .iter()
            .copied()
            .filter(|(k, _)| *k != key)
            .collect()
    };
    for (env, expected) in [
        (
            without("SAFEQUIZ__AUTH__PHONE_SECRET"),
            "must be set during a rotation, to the secret the registered phones were hashed",
        ),
        (
            without("SAFEQUIZ__AUTH__PREVIOUS_VALID_UNTIL"),
            "a rotation needs all of auth.previous_secret, auth.previous_key_id and auth.previous_valid_until",
        ),
        (
            [&complete[..], &[("SAFEQUIZ__AUTH__PREVIOUS_KEY_ID", "k2")]].concat(),
            "and differ from auth.key_id",
        ),
        (
            [
                &complete[..],
                &[("SAFEQUIZ__AUTH__PREVIOUS_VALID_UNTIL", "next week")],
            ]
            .concat(),
            "`next week` is not an instant",
        ),
        (
            [&complete[..], &[("SAFEQUIZ__AUTH__KEY_ID", "k.2")]].concat(),
            "key `auth.key_id`",
        ),
        (
            // After the window: the previous_* settings are gone, the phone secret must stay.
            vec![proxies, ("SAFEQUIZ__AUTH__KEY_ID", "k2")],
            "must stay set after a rotation (auth.key_id is k2, not k1)",
        ),
    ] {
        let (code, stderr) = production_check(&env);
        assert_eq!(code, Some(1), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

/// `safequiz serve` with `env`, its standard error going to `log`.
fn serve(env: &[(&str, &str)], log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_safequiz"));
    command
        .args(["serve", "--config", "config"])
        .current_dir(safequiz_testapp::repo_root());
    for (key, _) in std::env::vars() {
        if key.starts_with("SAFEQUIZ") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(File::create(log).expect("a log file"))
        .spawn()
        .expect("the binary starts")
}

/// Stops `child` with SIGTERM and waits for it.
async fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    eventually("the service exits", Duration::from_secs(20), || {
        let exited = child.try_wait().expect("wait works");
        async move { exited }
    })
    .await;
}

/// A folder for the record that is not under a temporary folder (production refuses those).
fn record_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a folder under target/")
}

#[tokio::test]
async fn production_refuses_to_start_on_a_redis_without_aof() {
    let redis = RedisServer::start();
    let mut connection = redis::Client::open(redis.url())
        .expect("URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query_async(&mut connection)
        .await
        .expect("CONFIG SET");
    let data = record_dir();
    let log = data.path().join("serve.log");
    let database_url = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let env = [
        ("SAFEQUIZ_ENV", "production"),
        ("SAFEQUIZ_SECRET", SECRET),
        ("SAFEQUIZ_HTTP_ADDR", addr.as_str()),
        ("SAFEQUIZ_DATABASE_URL", database_url.as_str()),
    ];
    let redis_url = redis.url();
    let mut child = serve(
        &[&env[..], &[("SAFEQUIZ_REDIS_URL", &redis_url)]].concat(),
        &log,
    );
    let exit = eventually("serve refuses and exits", Duration::from_secs(20), || {
        let exited = child.try_wait().expect("wait works");
        async move { exited }
    })
    .await;
    let stderr = std::fs::read_to_string(&log).expect("the log");
    assert_eq!(exit.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: production refuses to start: Redis redis://127.0.0.1:")
            && stderr.contains("runs without AOF (appendonly no)"),
        "{stderr}"
    );

    // With AOF back on, the same settings start.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query_async(&mut connection)
        .await
        .expect("CONFIG SET");
    let child = serve(
        &[&env[..], &[("SAFEQUIZ_REDIS_URL", &redis_url)]].concat(),
        &log,
    );
    let client = reqwest::Client::new();
    eventually("readyz answers 200", Duration::from_secs(30), || async {
        client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    stop(child).await;
}

/// Starts the service in `environment`, sends a login whose username holds a forged log line,
/// and returns the lines it logged and the request id it answered with.
async fn login_with_a_newline(environment: &str) -> (Vec<String>, String) {
    let redis = RedisServer::start();
    let data = record_dir();
    let log = data.path().join("serve.log");
    let database_url = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let redis_url = redis.url();
    let child = serve(
        &[
            ("SAFEQUIZ_ENV", environment),
            ("SAFEQUIZ_SECRET", SECRET),
            ("SAFEQUIZ_HTTP_ADDR", &addr),
            ("SAFEQUIZ_DATABASE_URL", &database_url),
            ("SAFEQUIZ_REDIS_URL", &redis_url),
            ("RUST_LOG", "info"),
        ],
        &log,
    );
    let client = reqwest::Client::new();
    eventually("readyz answers 200", Duration::from_secs(30), || async {
        client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    let response = client
        .post(format!("http://{addr}/api/v1/organizer/login"))
        .json(&json!({
            "username": "admin\n2026-06-01T08:00:00Z  INFO organizer logged in",
            "password": "wrong password"
        }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 401);
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    stop(child).await;
    let text = std::fs::read_to_string(&log).expect("the log");
    (text.lines().map(str::to_owned).collect(), id)
}

#[tokio::test]
async fn a_login_with_a_newline_forges_no_line_in_production_json() {
    let (lines, id) = login_with_a_newline("production").await;
    let events: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}")))
        .collect();
    let refused: Vec<&Value> = events
        .iter()
        .filter(|event| event["message"] == "organizer login refused")
        .collect();
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert_eq!(refused[0]["request_id"], id.as_str(), "{}", refused[0]);
    assert_eq!(refused[0]["client.address"], "127.0.0.1", "{}", refused[0]);
    assert!(
        !lines.iter().any(|line| line.contains("admin")),
        "the username is not logged: {lines:#?}"
    );
    assert!(
        !events
            .iter()
            .any(|event| event["message"] == "organizer logged in"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_login_with_a_newline_forges_no_line_in_local_text() {
    let (lines, id) = login_with_a_newline("local").await;
    let refused: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("organizer login refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert!(
        refused[0].ends_with(&format!(" request_id={id}")),
        "{}",
        refused[0]
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("admin") || line.contains("organizer logged in")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|line| line.starts_with("20")),
        "every line starts with its timestamp: {lines:#?}"
    );
}

#[tokio::test]
async fn the_slow_client_timeout_is_a_setting() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let redis = RedisServer::start();
    let data = record_dir();
    let log = data.path().join("serve.log");
    let database_url = format!("sqlite://{}", data.path().join("quiz.sqlite").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let redis_url = redis.url();
    let child = serve(
        &[
            ("SAFEQUIZ_HTTP_ADDR", &addr),
            ("SAFEQUIZ_DATABASE_URL", &database_url),
            ("SAFEQUIZ_REDIS_URL", &redis_url),
            ("SAFEQUIZ__HTTP__CLIENT_REQUEST_TIMEOUT_MS", "300"),
        ],
        &log,
    );
    let client = reqwest::Client::new();
    eventually("healthz answers 200", Duration::from_secs(30), || async {
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: quiz\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    // The shipped 5 s would not answer within 3 s.
    tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut answer))
        .await
        .expect("cut within 3 s, not after the shipped 5 s")
        .expect("reads");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    stop(child).await;
}
