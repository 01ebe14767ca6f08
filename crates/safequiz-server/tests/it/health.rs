//! Liveness and readiness through real HTTP.

use std::time::Duration;

use safequiz_testapp::{TestApp, eventually};

#[tokio::test]
async fn healthz_answers_ok_with_the_server_time() {
    let at: jiff::Timestamp = "2026-06-01T01:00:00Z".parse().expect("valid instant");
    let app = TestApp::builder().clock_at(at).spawn().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body["status"], "ok");
    assert_eq!(
        body["server_time"], "2026-06-01T01:00:00Z",
        "the time comes from the injected clock"
    );
}

#[tokio::test]
async fn readyz_is_ok_while_redis_and_sql_answer_and_503_when_redis_stops() {
    let mut app = TestApp::spawn().await;

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body["redis"], "ok");
    assert_eq!(body["database"], "ok");

    app.redis.stop();
    let body = eventually(
        "readyz reports Redis down",
        Duration::from_secs(10),
        || async {
            let response = app.get("/readyz").await;
            (response.status() == 503).then_some(response)
        },
    )
    .await
    .json::<serde_json::Value>()
    .await
    .expect("JSON body");
    assert_eq!(body["error"], "not_ready");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Redis")),
        "{body}"
    );

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "liveness does not depend on Redis");
}
