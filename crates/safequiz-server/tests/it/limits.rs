//! Request limits (`[limits]`, `http::limits`): registrations per client address and per phone
//! counted in Redis, so two replicas on one Redis share them; a participant's requests per
//! window; live streams per replica. Each refusal is `429 rate_limited` (or `503
//! too_many_streams`) with `Retry-After` and the JSON envelope, and writes nothing.

use std::time::Duration;

use safequiz_testapp::{
    CAMPAIGN, TestApp, Topology, eventually, on_both_topologies, status_and_json,
};
use serde_json::{Value, json};

use super::{DURING, at};

/// Registers from the client `address` (sent as `X-Forwarded-For`; the apps trust 127.0.0.1).
async fn register_from(
    app: &TestApp,
    address: &str,
    name: &str,
    phone: &str,
) -> (u16, Option<String>, Value) {
    let response = app
        .client
        .post(format!(
            "{}/api/v1/campaigns/{CAMPAIGN}/participants",
            app.address
        ))
        .header("X-Forwarded-For", address)
        .json(&json!({"name": name, "phone": phone, "unit_id": "110101", "consent": true}))
        .send()
        .await
        .expect("the service answers");
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (status, body) = status_and_json(response).await;
    (status, retry_after, body)
}

/// Asserts a `429 rate_limited` with a `Retry-After` within `window_secs` and the envelope.
fn assert_rate_limited(answer: &(u16, Option<String>, Value), window_secs: u64, why: &str) {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, 429, "{why}: {body}");
    assert_eq!(body["error"], "rate_limited", "{why}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["request_id"].is_string(), "{why}: {body}");
    let secs: u64 = retry_after
        .as_deref()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{why}: a numeric Retry-After, got {retry_after:?}"));
    assert!(
        (1..=window_secs).contains(&secs),
        "{why}: Retry-After {secs} is within the window of {window_secs} s"
    );
}

#[tokio::test]
async fn registrations_per_address_are_counted_across_replicas_and_refused_without_a_write() {
    let first = TestApp::builder()
        .clock_at(at(DURING))
        .trusted_proxies(&["127.0.0.1"])
        .settings(|settings| settings.limits.registrations_per_address = 3)
        .spawn()
        .await;
    // A second replica on the first one's Redis.
    let shared_redis = first.redis.url();
    let second = TestApp::builder()
        .clock_at(at(DURING))
        .trusted_proxies(&["127.0.0.1"])
        .settings(move |settings| {
            settings.limits.registrations_per_address = 3;
            settings.redis.url = shared_redis.into();
        })
        .spawn()
        .await;
    let office = "203.0.113.7";

    for (app, phone) in [
        (&first, "13800000001"),
        (&second, "13800000002"),
        (&first, "13800000003"),
    ] {
        let (status, _, body) = register_from(app, office, "张三", phone).await;
        assert_eq!(status, 201, "{body}");
    }
    let refused = register_from(&second, office, "李四", "13800000004").await;
    assert_rate_limited(
        &refused,
        60,
        "the fourth from one address, on the other replica",
    );

    // Another address has its own allowance, and the refused registration wrote nothing: the
    // same phone and name are new (201), not found again (200).
    let (status, _, body) = register_from(&first, "198.51.100.9", "李四", "13800000004").await;
    assert_eq!(
        status, 201,
        "nothing was written by the refused one: {body}"
    );
}

on_both_topologies!(one_phone_is_limited_whatever_the_address);
async fn one_phone_is_limited_whatever_the_address(topology: Topology) {
    let app = TestApp::builder()
        .topology(topology)
        .clock_at(at(DURING))
        .trusted_proxies(&["127.0.0.1"])
        .settings(|settings| {
            settings.limits.registrations_per_phone = 2;
            settings.limits.phone_window_secs = 600;
        })
        .spawn()
        .await;
    let phone = "13911112222";
    for (address, expected) in [("192.0.2.1", 201), ("192.0.2.2", 200)] {
        let (status, _, body) = register_from(&app, address, "王五", phone).await;
        assert_eq!(status, expected, "{body}");
    }
    let refused = register_from(&app, "192.0.2.3", "王五", phone).await;
    assert_rate_limited(&refused, 600, "a third registration of one phone");
    assert!(
        refused.2["message"]
            .as_str()
            .is_some_and(|m| m.contains("手机号")),
        "the message names the phone limit: {}",
        refused.2
    );
    let (status, _, body) = register_from(&app, "192.0.2.3", "赵六", "13911113333").await;
    assert_eq!(status, 201, "another phone from the same address: {body}");
}

#[tokio::test]
async fn a_participant_s_requests_are_limited_per_window_and_others_are_not() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .settings(|settings| settings.limits.participant_requests = 5)
        .spawn()
        .await;
    let busy = app.register("张三", "13812340001", "110101").await;
    let calm = app.register("李四", "13812340002", "110101").await;
    let me = format!("/api/v1/campaigns/{CAMPAIGN}/me");

    for _ in 0..5 {
        let (status, body) = app.get_as(&busy, &me).await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app
        .request(reqwest::Method::GET, &me, Some(&busy.token), None)
        .await;
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (status, body) = status_and_json(response).await;
    assert_rate_limited(&(status, retry_after, body), 60, "the sixth request");
    // Every route behind the token counts: a start is refused too, and starts nothing.
    let (status, body) = app.start_attempt(&busy).await;
    assert_eq!(status, 429, "{body}");

    let (status, body) = app.start_attempt(&calm).await;
    assert_eq!(status, 201, "another participant is not limited: {body}");
    let (status, body) = app.get_as(&calm, &me).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["today"]["attempts_started"], 1,
        "the calm participant's start counted: {body}"
    );
}

#[tokio::test]
async fn live_streams_beyond_the_replica_s_cap_answer_503_until_one_closes() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .settings(|settings| settings.limits.live_streams_per_replica = 1)
        .spawn()
        .await;
    let url = format!(
        "{}/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?board=participants",
        app.address
    );
    // A client of its own, so that closing it closes the stream's connection.
    let watcher = reqwest::Client::new();
    let open = watcher.get(&url).send().await.expect("the stream opens");
    assert_eq!(open.status(), 200);

    let refused = app.client.get(&url).send().await.expect("an answer");
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused
            .headers()
            .get("Retry-After")
            .and_then(|value| value.to_str().ok()),
        Some("10")
    );
    let (_, body) = status_and_json(refused).await;
    assert_eq!(body["error"], "too_many_streams", "{body}");
    assert_eq!(app.state.limits.open_streams(), 1);

    drop(open);
    drop(watcher);
    // The service learns of the close when a write fails: the second keep-alive (15 s each)
    // after it at the latest, later on a loaded machine.
    eventually(
        "the closed stream's place is free again",
        Duration::from_secs(60),
        || async { (app.state.limits.open_streams() == 0).then_some(()) },
    )
    .await;
    let again = app.client.get(&url).send().await.expect("the stream opens");
    assert_eq!(again.status(), 200);
}

#[test]
fn the_shipped_limits_are_generous_per_address_and_tight_per_phone() {
    let loaded = safequiz_server::config::load(&safequiz_testapp::config_dir())
        .expect("the shipped configuration loads");
    let limits = &loaded.settings.limits;
    // A whole enterprise behind one NAT registering within a minute at nine o'clock.
    assert!(limits.registrations_per_address * 60 / limits.address_window_secs >= 1_000);
    assert!(limits.registrations_per_phone <= 50);
    // A participant answering one question a second stays far below the limit.
    assert!(limits.participant_requests / limits.participant_window_secs >= 5);
}
