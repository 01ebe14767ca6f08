//! The participant pages are served by the binary itself: small, compressed, cacheable.

use safequiz_testkit::TestApp;

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

    let script = app
        .client
        .get(format!("{}/static/app.js", app.address))
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
