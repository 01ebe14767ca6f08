//! Liveness and readiness through real HTTP, and the shard placement `/readyz` reports on a Redis
//! Cluster.

use std::time::Duration;

use safequiz_testapp::{CAMPAIGN, TestApp, Topology, eventually};

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
    let response = eventually(
        "readyz reports Redis down",
        Duration::from_secs(10),
        || async {
            let response = app.get("/readyz").await;
            (response.status() == 503).then_some(response)
        },
    )
    .await;
    assert!(
        response.headers().contains_key("Retry-After"),
        "a 503 says when to try again"
    );
    let body = response
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

#[tokio::test]
async fn readyz_on_a_redis_cluster_warns_when_every_shard_lives_on_one_primary() {
    let spread = TestApp::builder()
        .topology(Topology::Cluster)
        .shards(4)
        .spawn()
        .await;
    let crowded = TestApp::builder()
        .topology(Topology::Cluster)
        .shards(1)
        .spawn()
        .await;

    let (spread_status, spread_body) = spread.get_json("/readyz").await;
    let (crowded_status, crowded_body) = crowded.get_json("/readyz").await;

    assert_eq!(spread_status, 200, "{spread_body}");
    assert!(
        spread_body.get("placement").is_none(),
        "4 shards of the shipped campaign use every primary: {spread_body}"
    );
    assert_eq!(crowded_status, 200, "still ready: {crowded_body}");
    let warnings = crowded_body["placement"]
        .as_array()
        .expect("a placement warning");
    assert_eq!(
        warnings.len(),
        crowded.catalogue.campaigns.len(),
        "one warning per shipped campaign: {crowded_body}"
    );
    let warning = warnings
        .iter()
        .filter_map(|warning| warning.as_str())
        .find(|warning| warning.contains(CAMPAIGN))
        .expect("a warning names the campaign");
    assert!(warning.contains("raise hot.shards"), "{warning}");
}
