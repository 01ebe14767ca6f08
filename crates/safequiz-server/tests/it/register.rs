//! Registration: one participant per phone, found again by phone and name, input checked; the
//! finding and the keys on one Redis and on a Redis Cluster.

use redis::AsyncCommands;
use safequiz_testapp::{CAMPAIGN, TestApp, Topology, on_both_topologies};
use serde_json::json;

use super::{DURING, at};

async fn register(app: &TestApp, name: &str, phone: &str, unit: &str) -> (u16, serde_json::Value) {
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/campaigns/{CAMPAIGN}/participants"),
            None,
            Some(&json!({"name": name, "phone": phone, "unit_id": unit, "consent": true})),
        )
        .await;
    safequiz_testapp::status_and_json(response).await
}

on_both_topologies!(the_same_phone_and_name_find_the_same_participant_with_a_fresh_token);
async fn the_same_phone_and_name_find_the_same_participant_with_a_fresh_token(topology: Topology) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;

    let (first_status, first) = register(&app, "张三", "13812345678", "110101").await;
    let (again_status, again) = register(&app, " 张三 ", "+86 138-1234-5678", "120101").await;

    assert_eq!(first_status, 201, "{first}");
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(first["participant_id"], again["participant_id"]);
    assert_eq!(again["unit_id"], "110101", "the first unit is kept");
    let token = again["token"].as_str().expect("a token");
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/campaigns/{CAMPAIGN}/me"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(response.status(), 200, "the new token works");
}

#[tokio::test]
async fn the_same_phone_with_another_name_is_refused() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;
    register(&app, "张三", "13812345678", "110101").await;

    let (status, body) = register(&app, "李四", "13812345678", "110101").await;

    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "phone_taken");
}

#[tokio::test]
async fn invalid_names_phones_and_units_are_422_and_register_nothing() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;
    let cases = [
        ("", "13812345678", "110101", "invalid_name", "an empty name"),
        (
            "张3",
            "13812345678",
            "110101",
            "invalid_name",
            "a digit in the name",
        ),
        (
            "张三",
            "1381234567",
            "110101",
            "invalid_phone",
            "ten digits",
        ),
        (
            "张三",
            "12812345678",
            "110101",
            "invalid_phone",
            "not a mobile prefix",
        ),
        (
            "张三",
            "13812345678",
            "999999",
            "invalid_unit",
            "an unknown unit",
        ),
        (
            "张三",
            "13812345678",
            "110000",
            "invalid_unit",
            "a province, not a leaf",
        ),
    ];
    for (name, phone, unit, code, why) in cases {
        let (status, body) = register(&app, name, phone, unit).await;
        assert_eq!(status, 422, "{why}: {body}");
        assert_eq!(body["error"], code, "{why}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}"
        );
    }

    let (status, _) = register(&app, "张三", "13812345678", "110101").await;
    assert_eq!(
        status, 201,
        "none of the refused attempts registered the phone"
    );
}

on_both_topologies!(the_phone_number_never_reaches_redis_in_clear);
async fn the_phone_number_never_reaches_redis_in_clear(topology: Topology) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;
    register(&app, "张三", "13812345678", "110101").await;

    let mut connection = app.redis.connection().await;
    let keys: Vec<String> = connection.keys("*").await.expect("KEYS");
    assert!(!keys.is_empty());
    let mut dump = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("TYPE");
        let values: Vec<String> = match kind.as_str() {
            "hash" => connection
                .hgetall::<_, Vec<String>>(&key)
                .await
                .expect("HGETALL"),
            "stream" => {
                let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut connection)
                    .await
                    .expect("XRANGE");
                entries.into_iter().flat_map(|(_, fields)| fields).collect()
            }
            "string" => vec![connection.get(&key).await.expect("GET")],
            "zset" => connection
                .zrange::<_, Vec<String>>(&key, 0, -1)
                .await
                .expect("ZRANGE"),
            other => panic!("unexpected key type {other} for {key}"),
        };
        dump.push_str(&key);
        dump.push_str(&values.join(" "));
    }
    assert!(!dump.contains("13812345678"), "the clear number is stored");
    assert!(dump.contains("138****5678"), "the masked number is stored");
}
