//! The web pages are served by the binary itself: small, compressed, cacheable.

use safequiz_testapp::TestApp;

#[tokio::test]
async fn the_pages_are_served_compressed_cacheable_and_small() {
    let app = TestApp::spawn().await;
    for path in ["/", "/c/safety-month", "/c/safety-month/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/html")),
            "{path}"
        );
        let html = response.text().await.expect("text");
        assert!(html.contains("lang=\"zh-CN\""), "{path}");
        assert!(
            !html.contains("{{version}}"),
            "the asset version is filled in"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external request"
        );
    }

    // The shell names its script with the release's version; under that URL it is cached for
    // good, under any other it is revalidated.
    let shell = app.get("/").await.text().await.expect("text");
    let url = shell
        .split('"')
        .find(|part| part.starts_with("/static/app.js?v="))
        .expect("the script's URL")
        .to_owned();
    let stale = app.get("/static/app.js?v=00000000").await;
    assert_eq!(stale.headers()["cache-control"], "no-cache");
    let script = app
        .client
        .get(format!("{}{url}", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("answers");
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-encoding"], "gzip");
    assert!(
        script.headers()["cache-control"]
            .to_str()
            .is_ok_and(|c| c.contains("immutable"))
    );
    let etag = script.headers()["etag"].clone();
    let again = app
        .client
        .get(format!("{}/static/app.js", app.address))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("answers");
    assert_eq!(
        again.status(),
        304,
        "a cached copy is revalidated without a body"
    );

    let bytes = safequiz_server::http::pages::first_page_bytes();
    assert!(
        bytes < 20 * 1024,
        "the first page (shell, script, stylesheet, gzip) is {bytes} bytes; keep it under 20 KiB for 2G networks"
    );
}

#[tokio::test]
async fn the_organizer_pages_are_served_unframeable_with_their_own_script() {
    let app = TestApp::spawn().await;
    for path in ["/organizer", "/organizer/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("default-src 'self'"), "{policy}");
        assert_eq!(headers["x-frame-options"], "DENY");
        let html = response.text().await.expect("text");
        assert!(html.contains("lang=\"zh-CN\""));
        assert!(html.contains("/static/organizer.js?v="));
        assert!(!html.contains("{{version}}"));
    }

    // Each page's script starts with the shared part, so a page still loads one script.
    let common = "var SQ = (function () {";
    for (path, own) in [
        ("/static/organizer.js", "function toLogin()"),
        ("/static/app.js", "function attemptPage()"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let script = response.text().await.expect("text");
        assert!(script.contains(common), "{path} carries common.js");
        assert!(script.contains(own), "{path} carries its page's script");
        assert!(
            !script.contains("\n// safequiz"),
            "{path} is served without its whole-line comments"
        );
    }
    let style = app.get("/static/organizer.css").await;
    assert_eq!(style.status(), 200);
    let style = style.text().await.expect("text");
    assert!(
        style.contains(".nav"),
        "the organizer stylesheet adds to the shared one"
    );
    assert!(
        style.contains("html.big") && !style.contains("/*"),
        "the shared stylesheet is there, served without its comments"
    );

    let unknown = app.get("/static/secrets.toml").await;
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.expect("a JSON error");
    assert_eq!(body["error"], "not_found");
}
