//! What the edge refuses and how it names a request: every report and export refuses a date
//! outside 1900-01-01..=9999-12-31 or not spelled `YYYY-MM-DD` with `400` and the JSON envelope
//! (the XLSX export once answered `500`), and every response carries its request id in
//! `X-Request-Id`, repeated in every error body; a trusted proxy's id is kept. A client too slow
//! to send its request's head is answered `408` and cut.

use reqwest::Method;
use safequiz_testapp::{TestApp, status_and_json};
use serde_json::{Value, json};

const API: &str = "/api/v1/organizer";

/// The X-Request-Id of a response, its status and JSON body.
async fn answer(response: reqwest::Response) -> (Option<String>, u16, Value) {
    let id = response
        .headers()
        .get("x-request-id")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    let (status, body) = status_and_json(response).await;
    (id, status, body)
}

#[tokio::test]
async fn every_report_and_export_refuses_bad_dates_with_a_400_envelope() {
    let app = TestApp::builder()
        .clock_at(super::at(super::DURING))
        .spawn()
        .await;
    let token = app.organizer("130100", "city").await;
    let bad_dates = [
        ("0026-06-01", "日期应在 1900-01-01 至 9999-12-31 之间"),
        ("1899-12-30", "日期应在 1900-01-01 至 9999-12-31 之间"),
        ("0001-01-01", "日期应在 1900-01-01 至 9999-12-31 之间"),
        ("-009999-01-01", "日期格式应为 YYYY-MM-DD"),
        ("%2B010000-01-01", "日期格式应为 YYYY-MM-DD"),
        ("2026-02-30", "日期格式应为 YYYY-MM-DD"),
        ("2026-06-01%0A2026-06-02", "日期格式应为 YYYY-MM-DD"),
    ];
    let mut period = vec![
        "/figures".to_owned(),
        "/daily".to_owned(),
        "/questions".to_owned(),
    ];
    for report in ["units", "daily"] {
        for format in ["csv", "xlsx"] {
            period.push(format!("/exports/{report}.{format}"));
        }
    }
    let mut asked = Vec::new();
    for path in &period {
        for (date, _) in &bad_dates {
            asked.push((format!("{API}{path}?from={date}&to=2026-06-10"), "from"));
            asked.push((format!("{API}{path}?from=2026-06-01&to={date}"), "to"));
        }
    }
    for path in [
        "/participants",
        "/exports/participants.csv",
        "/exports/participants.xlsx",
    ] {
        for (date, _) in &bad_dates {
            asked.push((format!("{API}{path}?day={date}"), "day"));
        }
    }
    for (path, field) in &asked {
        let response = app.request(Method::GET, path, Some(&token), None).await;
        let (id, status, body) = answer(response).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "bad_request", "{path}: {body}");
        let message = body["message"].as_str().expect("a message");
        assert!(message.starts_with(&format!("{field}: ")), "{path}: {body}");
        assert!(
            bad_dates.iter().any(|(_, why)| message.ends_with(why)),
            "{path}: {body}"
        );
        assert_eq!(body["request_id"].as_str(), id.as_deref(), "{path}: {body}");
    }
    // The two bounds themselves are days a report can cover, in every format.
    for path in [
        "/exports/daily.xlsx?from=1900-01-01&to=1900-01-10",
        "/exports/daily.xlsx?from=9999-12-22&to=9999-12-31",
        "/exports/daily.csv?from=1900-01-01&to=1900-01-10",
        "/daily?from=9999-12-22&to=9999-12-31",
    ] {
        let response = app
            .request(Method::GET, &format!("{API}{path}"), Some(&token), None)
            .await;
        assert_eq!(response.status(), 200, "{path}");
    }
    // From after to is still the period rule's 400.
    let (_, status, body) = answer(
        app.request(
            Method::GET,
            &format!("{API}/daily?from=2026-06-10&to=2026-06-01"),
            Some(&token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("bad_request")),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_names_its_request_and_every_error_body_repeats_it() {
    let app = TestApp::spawn().await;
    let mut seen = Vec::new();
    for (method, path, body) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/no/such/page", None),
        (Method::GET, "/api/v1/organizer/me", None),
        (
            Method::POST,
            "/api/v1/organizer/login",
            Some(json!({"username": "nobody", "password": "x", "extra": 1})),
        ),
        (
            Method::POST,
            "/api/v1/organizer/login",
            Some(json!({"username": "nobody\nINFO forged", "password": "wrong"})),
        ),
    ] {
        let (id, status, body) = answer(app.request(method, path, None, body.as_ref()).await).await;
        let id = id.unwrap_or_else(|| panic!("{path} has no X-Request-Id"));
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        if status >= 400 {
            assert!(body["error"].is_string(), "{path}: {body}");
            assert_eq!(body["request_id"], id.as_str(), "{path}: {body}");
        }
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every request has its own id");

    // From a client that is not a trusted proxy, its id is not believed.
    let response = app
        .client
        .get(format!("{}/api/v1/organizer/me", app.address))
        .header("x-request-id", "edge-1234")
        .send()
        .await
        .expect("an answer");
    let (id, _, body) = answer(response).await;
    assert_ne!(id.as_deref(), Some("edge-1234"));
    assert_eq!(body["request_id"].as_str(), id.as_deref());
}

#[tokio::test]
async fn a_trusted_proxy_keeps_its_request_id_when_it_is_sane() {
    let app = TestApp::builder()
        .trusted_proxies(&["127.0.0.1", "::1"])
        .spawn()
        .await;
    let ask = |sent: &'static str| {
        let request = app
            .client
            .get(format!("{}/api/v1/organizer/me", app.address))
            .header("x-request-id", sent);
        async move { answer(request.send().await.expect("an answer")).await }
    };
    let (id, status, body) = ask("0d9c1f0e-5b7a-4c1e-9e39-1d2c3b4a5f60").await;
    assert_eq!(status, 401);
    assert_eq!(id.as_deref(), Some("0d9c1f0e-5b7a-4c1e-9e39-1d2c3b4a5f60"));
    assert_eq!(body["request_id"], "0d9c1f0e-5b7a-4c1e-9e39-1d2c3b4a5f60");
    for odd in [
        "a b",
        "x\"y",
        "a/b",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ] {
        let (id, _, body) = ask(odd).await;
        let id = id.expect("an id");
        assert_ne!(id, odd);
        assert_eq!(id.len(), 32, "a new one instead of {odd:?}");
        assert_eq!(body["request_id"], id.as_str());
    }
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_answered_408_and_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    // A head without its final blank line: the server waits for the rest, up to
    // `http.client_request_timeout_ms` (5 s shipped), then answers and closes.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: quiz\r\nX-Slow: 1\r\n")
        .await
        .expect("writes");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection")
    .expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "not before the timeout: {:?}",
        started.elapsed()
    );
}
