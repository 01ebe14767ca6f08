//! Every error leaves as JSON `{"error", "message"}`, never as plain text.

use safequiz_testkit::TestApp;

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_404() {
    let app = TestApp::spawn().await;
    let cases = [
        ("GET", "/nope", "unknown path"),
        ("GET", "/api/v1/../../etc/passwd", "path traversal"),
        ("POST", "/healthz", "wrong method on a known path"),
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
