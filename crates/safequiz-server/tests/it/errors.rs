//! Every error leaves as JSON `{"error", "message"}`, never as plain text.

use safequiz_testapp::TestApp;

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_404() {
    let app = TestApp::spawn().await;
    let cases = [
        ("GET", "/nope", "unknown path"),
        ("GET", "/api/v1/../../etc/passwd", "path traversal"),
        ("POST", "/healthz", "wrong method on a known path"),
        (
            "GET",
            "/api/v1/attempts/1-1/answers/0",
            "GET on the save route",
        ),
        ("PUT", "/api/v1/attempts/1-1", "PUT on the read route"),
        (
            "GET",
            "/api/v1/attempts/1-1/submit",
            "GET on the submit route",
        ),
        (
            "DELETE",
            "/api/v1/campaigns/safety-month/attempts",
            "DELETE on the start route",
        ),
        ("GET", "/%FF%FE", "invalid UTF-8 in the path"),
    ];
    for (method, path, why) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("valid method");
        let response = app
            .client
            .request(method, format!("{}{path}", app.address))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 404, "{why}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("application/json")),
            "{why}: JSON content type"
        );
        let body: serde_json::Value = response.json().await.expect("JSON body");
        assert_eq!(body["error"], "not_found", "{why}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}: a message"
        );
    }
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_json_4xx_and_change_nothing() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(super::at(super::DURING))
        .sweeper(false)
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    let register = "/api/v1/campaigns/safety-month/participants".to_owned();
    let answer = format!("/api/v1/attempts/{id}/answers/0");
    let submit = format!("/api/v1/attempts/{id}/submit");
    let negative = format!("/api/v1/attempts/{id}/answers/-1");
    let huge = format!("{{\"choices\": [\"{}\"]}}", "A".repeat(3 * 1024 * 1024));
    let cases: Vec<(&str, &str, &str, &str, u16, &str, &str)> = vec![
        (
            "POST",
            &register,
            "application/json",
            "{\"name\": ",
            400,
            "bad_request",
            "truncated JSON",
        ),
        (
            "POST",
            &register,
            "application/json",
            "[]",
            400,
            "bad_request",
            "an array",
        ),
        (
            "POST",
            &register,
            "text/plain",
            "{}",
            400,
            "bad_request",
            "not JSON",
        ),
        (
            "POST",
            &register,
            "application/json",
            "{\"name\":\"张三\",\"phone\":\"13812345678\",\"unit_id\":\"110101\",\"admin\":true}",
            400,
            "bad_request",
            "an unknown field",
        ),
        (
            "POST",
            &register,
            "application/json",
            "{\"name\":1,\"phone\":\"13812345678\",\"unit_id\":\"110101\"}",
            400,
            "bad_request",
            "a number for a name",
        ),
        (
            "PUT",
            &answer,
            "application/json",
            "{\"choices\": \"A\"}",
            400,
            "bad_request",
            "a string for a list",
        ),
        (
            "PUT",
            &answer,
            "text/plain",
            "{\"choices\": [\"A\"]}",
            400,
            "bad_request",
            "an answer that is not JSON by its content type",
        ),
        (
            "PUT",
            &answer,
            "",
            "{\"choices\": [\"A\"]}",
            400,
            "bad_request",
            "an answer without a content type (or body)",
        ),
        (
            "PUT",
            &answer,
            "application/json",
            "{\"choices\": [\"A\"], \"extra\": 1}",
            400,
            "bad_request",
            "an answer with an unknown field",
        ),
        (
            "PUT",
            &answer,
            "application/json",
            &huge,
            413,
            "payload_too_large",
            "a 3 MB answer",
        ),
        (
            "POST",
            &submit,
            "application/json",
            &huge,
            413,
            "payload_too_large",
            "a 3 MB submit",
        ),
        (
            "POST",
            &submit,
            "application/json",
            "{\"answers\": {\"0\": [\"A\"]",
            400,
            "bad_request",
            "a truncated submit",
        ),
        (
            "POST",
            &submit,
            "application/json",
            "{\"answers\": {\"x\": [\"A\"]}}",
            422,
            "invalid_index",
            "a submit index that is not a number",
        ),
        (
            "PUT",
            &negative,
            "application/json",
            "{\"choices\": []}",
            400,
            "bad_request",
            "a negative index",
        ),
        (
            "GET",
            "/api/v1/campaigns/safety-month/leaderboards/participants?limit=abc",
            "",
            "",
            400,
            "bad_request",
            "a limit that is not a number",
        ),
        (
            "GET",
            "/api/v1/campaigns/safety-month/leaderboards/participants?limit=0",
            "",
            "",
            400,
            "bad_request",
            "a zero limit",
        ),
        (
            "GET",
            "/api/v1/campaigns/safety-month/leaderboards/units?parent=110000&sort=name",
            "",
            "",
            400,
            "bad_request",
            "an unknown sort",
        ),
        (
            "GET",
            "/api/v1/campaigns/safety-month/leaderboards/units",
            "",
            "",
            400,
            "bad_request",
            "no parent",
        ),
        (
            "GET",
            "/api/v1/campaigns/nope/units",
            "",
            "",
            404,
            "not_found",
            "an unknown campaign",
        ),
        (
            "GET",
            "/api/v1/campaigns/safety-month/units?parent=nope",
            "",
            "",
            404,
            "not_found",
            "an unknown unit",
        ),
    ];
    for (method, path, content_type, body, status, code, why) in cases {
        let mut request = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}", app.address),
            )
            .bearer_auth(&me.token);
        if !content_type.is_empty() {
            request = request
                .header("content-type", content_type)
                .body(body.to_owned());
        }
        let response = request.send().await.expect("answers");
        assert_eq!(response.status().as_u16(), status, "{why}");
        let body: serde_json::Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["error"], code, "{why}: {body}");
    }

    let (_, read) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(
        read["status"], "open",
        "no malformed request finalized the attempt"
    );
    assert_eq!(read["answers"], serde_json::json!({}), "or saved an answer");
}

/// The codes in the first table of `docs/api.md`'s "Errors" section.
fn documented_codes() -> std::collections::BTreeSet<String> {
    let api = std::fs::read_to_string(safequiz_testapp::repo_root().join("docs/api.md"))
        .expect("docs/api.md is readable");
    let section = api
        .split("\n## Errors\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/api.md has an Errors section");
    section
        .lines()
        .filter(|line| line.starts_with("| 4") || line.starts_with("| 5"))
        .filter_map(|line| line.split('|').nth(2))
        .flat_map(|codes| {
            codes
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_exists() {
    let documented = documented_codes();
    let codes: std::collections::BTreeSet<String> = safequiz_server::http::error::ApiError::CODES
        .iter()
        .map(|&code| code.to_owned())
        .collect();
    assert_eq!(
        documented, codes,
        "ApiError::CODES and the table in docs/api.md differ"
    );
}
