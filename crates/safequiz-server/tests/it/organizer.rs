//! The organizer back office: accounts, sessions, login limits and subtree scope; the live
//! figures and the login limits on one Redis and on a Redis Cluster.

use reqwest::Method;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_testapp::{TestApp, Topology, on_both_topologies, status_and_json};
use serde_json::{Value, json};

async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    status_and_json(app.request(Method::GET, path, Some(token), None).await).await
}

#[tokio::test]
async fn a_one_time_password_must_be_replaced_before_any_figure() {
    let app = TestApp::spawn().await;
    let one_time = app.add_organizer("130102", "changan").await;
    let (status, body) = app.organizer_login("changan", &one_time).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["must_change_password"], true);
    assert_eq!(body["organizer"]["unit_name"], "长安区");
    let token = body["token"].as_str().expect("a token");

    let (status, body) = get_as(&app, token, "/api/v1/organizer/progress").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("password_change_required"))
    );
    let (status, body) = get_as(&app, token, "/api/v1/organizer/me").await;
    assert_eq!(
        (status, body["must_change_password"].as_bool()),
        (200, Some(true))
    );

    // A weak password changes nothing; a good one ends the old session and issues a new one.
    let change = |new: &str| json!({"current_password": one_time, "new_password": new});
    let (status, body) = status_and_json(
        app.request(
            Method::PUT,
            "/api/v1/organizer/password",
            Some(token),
            Some(&change("short")),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_password"))
    );
    let (status, body) = status_and_json(
        app.request(
            Method::PUT,
            "/api/v1/organizer/password",
            Some(token),
            Some(&change("changan2026anquan")),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["token"].as_str().expect("a new token");
    let (status, _) = get_as(&app, token, "/api/v1/organizer/me").await;
    assert_eq!(status, 401, "the session before the change has ended");
    let (status, body) = get_as(&app, fresh, "/api/v1/organizer/progress").await;
    assert_eq!((status, body["unit_id"].as_str()), (200, Some("130102")));

    // The one-time password no longer logs in; the new one does.
    assert_eq!(app.organizer_login("changan", &one_time).await.0, 401);
    assert_eq!(
        app.organizer_login("changan", "changan2026anquan").await.0,
        200
    );
}

#[tokio::test]
async fn a_county_organizer_reads_its_county_and_nothing_around_it() {
    let app = TestApp::spawn().await;
    let county = app.organizer("130102", "changan").await;
    let path = |unit: &str| format!("/api/v1/organizer/progress?unit={unit}");

    let (status, own) = get_as(&app, &county, &path("130102")).await;
    assert_eq!(status, 200, "{own}");
    for (unit, why) in [
        ("130104", "the neighbour county"),
        ("130100", "its own city"),
        ("130000", "its province"),
        ("110101", "another province's county"),
        (WHOLE_CAMPAIGN, "the whole campaign"),
    ] {
        let (status, body) = get_as(&app, &county, &path(unit)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("out_of_scope")),
            "{why}: {body}"
        );
    }
    let (status, body) = get_as(&app, &county, &path("999999")).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    // A province organizer reaches down to the county, and a national one everywhere.
    // The path runs from the organizer's own unit down, for the pages' breadcrumbs.
    let steps = |body: &serde_json::Value| -> Vec<String> {
        body["path"]
            .as_array()
            .expect("a path")
            .iter()
            .map(|step| step["unit_id"].as_str().expect("an id").to_owned())
            .collect()
    };
    assert_eq!(steps(&own), ["130102"]);
    let province = app.organizer("130000", "hebei").await;
    let (status, body) = get_as(&app, &province, &path("130102")).await;
    assert_eq!(status, 200);
    assert_eq!(steps(&body), ["130000", "130100", "130102"]);
    assert_eq!(body["path"][1]["name"], "石家庄市");
    assert_eq!(get_as(&app, &province, &path("110101")).await.0, 403);
    let national = app.organizer(WHOLE_CAMPAIGN, "quanguo").await;
    let (status, body) = get_as(&app, &national, "/api/v1/organizer/progress").await;
    assert_eq!(
        (status, body["unit_id"].as_str()),
        (200, Some(WHOLE_CAMPAIGN))
    );
    assert_eq!(steps(&body), [WHOLE_CAMPAIGN]);
    let (_, body) = get_as(&app, &national, &path("130100")).await;
    assert_eq!(steps(&body), [WHOLE_CAMPAIGN, "130000", "130100"]);
}

on_both_topologies!(progress_follows_attempts_in_the_subtree_as_they_finish);
async fn progress_follows_attempts_in_the_subtree_as_they_finish(topology: Topology) {
    let app = TestApp::builder().topology(topology).spawn().await;
    let city = app.organizer("130100", "shijiazhuang").await;
    let path = "/api/v1/organizer/progress?unit=130100&sort=attempts";
    let (_, before) = get_as(&app, &city, path).await;
    assert_eq!(before["totals"]["attempts"], 0);
    assert!(
        before["not_started"]
            .as_array()
            .expect("a list")
            .contains(&json!("长安区"))
    );

    // Two attempts in 长安区, one in 桥西区, one outside the city.
    let results = app
        .play(7_000, 4, &["130102", "130104", "130102", "110101"], 4)
        .await;
    let points_inside: i64 = results[..3]
        .iter()
        .map(|r| r["score"].as_i64().expect("a score"))
        .sum();
    let (status, after) = get_as(&app, &city, path).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["totals"]["attempts"], 3, "{after}");
    assert_eq!(after["totals"]["participants"], 3);
    assert_eq!(after["totals"]["points"], points_inside);
    let items = after["items"].as_array().expect("children");
    assert_eq!(items[0]["unit_id"], "130102", "sorted by attempts: {after}");
    assert_eq!(items[0]["attempts"], 2);
    assert_eq!(items[1]["unit_id"], "130104");
    assert_eq!(items[1]["attempts"], 1);
    let not_started = after["not_started"].as_array().expect("a list");
    assert!(!not_started.contains(&json!("长安区")));
    assert!(not_started.contains(&json!("新华区")), "{after}");
}

#[tokio::test]
async fn forged_expired_and_ended_sessions_are_refused() {
    let app = TestApp::builder()
        .clock_at("2026-06-10T09:00:00+08:00".parse().expect("an instant"))
        .spawn()
        .await;
    let token = app.organizer("130102", "changan").await;
    let me = "/api/v1/organizer/me";
    assert_eq!(get_as(&app, &token, me).await.0, 200);

    // Altered: another account id under the same MAC.
    let forged = token.replacen("o2.k1.1.", "o2.k1.2.", 1);
    assert_ne!(forged, token);
    assert_eq!(get_as(&app, &forged, me).await.0, 401);
    // A participant token is not a session.
    let participant = app.register("张三", "13800000001", "130102").await;
    assert_eq!(get_as(&app, &participant.token, me).await.0, 401);
    // No token at all.
    assert_eq!(status_and_json(app.get(me).await).await.0, 401);

    // Past its lifetime (12 hours by default).
    app.clock.advance(jiff::SignedDuration::from_hours(13));
    let (status, body) = get_as(&app, &token, me).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );

    // Logout ends every session of the account at once.
    let (_, body) = app.organizer_login("changan", "anquan2026yue").await;
    let first = body["token"].as_str().expect("a token").to_owned();
    let (_, body) = app.organizer_login("changan", "anquan2026yue").await;
    let second = body["token"].as_str().expect("a token").to_owned();
    let response = app
        .request(Method::POST, "/api/v1/organizer/logout", Some(&first), None)
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(get_as(&app, &first, me).await.0, 401);
    assert_eq!(get_as(&app, &second, me).await.0, 401);
}

on_both_topologies!(logins_are_limited_per_username_whatever_the_password);
async fn logins_are_limited_per_username_whatever_the_password(topology: Topology) {
    let app = TestApp::builder().topology(topology).spawn().await;
    let password = app.add_organizer("130102", "changan").await;
    for _ in 0..5 {
        let (status, body) = app.organizer_login("changan", "guessing-123").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    let response = app
        .request(
            Method::POST,
            "/api/v1/organizer/login",
            None,
            Some(&json!({"username": "changan", "password": password})),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("900")
    );
    let (_, body) = status_and_json(response).await;
    assert_eq!(body["error"], "too_many_attempts");
    // Another account is not locked out by it.
    let other = app.add_organizer("130104", "qiaoxi").await;
    assert_eq!(app.organizer_login("qiaoxi", &other).await.0, 200);
    // An unknown username answers like a wrong password.
    let (status, body) = app.organizer_login("nobody", "whatever-123").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
}

/// Logs in as `username` with a wrong password, claiming to come from `x_forwarded_for` when
/// given; the status and body.
async fn wrong_login(app: &TestApp, username: &str, x_forwarded_for: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/api/v1/organizer/login", app.address))
        .json(&json!({"username": username, "password": "guessing-123"}));
    if let Some(address) = x_forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    status_and_json(request.send().await.expect("an answer")).await
}

/// Fails `MAX_FAILURES_PER_ADDRESS` (30) logins at once, each with its own username (so the
/// per-username limit never applies) and the forwarded address `x_forwarded_for(i)`.
async fn fail_thirty_logins(app: &TestApp, x_forwarded_for: impl Fn(usize) -> String) {
    let logins = (0..30).map(|i| {
        let address = x_forwarded_for(i);
        async move { wrong_login(app, &format!("guesser{i}"), Some(&address)).await }
    });
    for (status, body) in futures_util::future::join_all(logins).await {
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized"))
        );
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_the_per_address_limit() {
    let app = TestApp::spawn().await;
    let password = app.add_organizer("130102", "changan").await;
    fail_thirty_logins(&app, |i| format!("198.51.100.{i}")).await;

    // No proxy is trusted, so every login above counted under the peer, 127.0.0.1.
    let (status, body) = wrong_login(&app, "guesser30", Some("198.51.100.30")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let (status, _) = wrong_login(&app, "guesser31", None).await;
    assert_eq!(status, 429, "without the header too");
    assert_eq!(
        app.organizer_login("changan", &password).await.0,
        429,
        "the address is refused whatever the password"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart() {
    let app = TestApp::builder()
        .trusted_proxies(&["127.0.0.1"])
        .spawn()
        .await;
    let password = app.add_organizer("130102", "changan").await;
    // Every request comes from 127.0.0.1, the trusted proxy; these name one client.
    fail_thirty_logins(&app, |_| "203.0.113.7".to_owned()).await;

    let (status, body) = wrong_login(&app, "guesser30", Some("203.0.113.7")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let (status, _) = wrong_login(&app, "guesser31", Some("198.51.100.1, 203.0.113.7")).await;
    assert_eq!(
        status, 429,
        "an address written left of the client's own changes nothing"
    );
    let (status, _) = wrong_login(&app, "guesser32", Some("203.0.113.8")).await;
    assert_eq!(
        status, 401,
        "another client behind the proxy is counted apart"
    );
    let (status, _) = wrong_login(&app, "guesser33", None).await;
    assert_eq!(status, 401, "nor the proxy itself");
    let (status, _) = status_and_json(
        app.client
            .post(format!("{}/api/v1/organizer/login", app.address))
            .header("forwarded", "for=203.0.113.9")
            .json(&json!({"username": "changan", "password": password}))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 200, "a client named by Forwarded logs in");
}

/// Logs `changan` in with `x-forwarded-proto: https`; whether the cookie came back `Secure`.
async fn cookie_is_secure(app: &TestApp) -> bool {
    let response = app
        .client
        .post(format!("{}/api/v1/organizer/login", app.address))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "changan", "password": "anquan2026yue"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .contains("Secure")
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https_and_only_then() {
    let direct = TestApp::spawn().await;
    direct.organizer("130102", "changan").await;
    assert!(
        !cookie_is_secure(&direct).await,
        "a client's own X-Forwarded-Proto is not believed"
    );
    let proxied = TestApp::builder()
        .trusted_proxies(&["127.0.0.1"])
        .spawn()
        .await;
    proxied.organizer("130102", "changan").await;
    assert!(
        cookie_is_secure(&proxied).await,
        "behind a trusted TLS-terminating proxy the cookie is Secure"
    );
}

#[tokio::test]
async fn the_session_cookie_authenticates_reads_and_guarded_changes() {
    let app = TestApp::spawn().await;
    app.organizer("130102", "changan").await;
    let response = app
        .request(
            Method::POST,
            "/api/v1/organizer/login",
            None,
            Some(&json!({"username": "changan", "password": "anquan2026yue"})),
        )
        .await;
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    assert!(set_cookie.starts_with("sq_org="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();

    // A request carrying only the cookie, and `x-requested-with` when `guarded`.
    let by_cookie = |method: Method, path: &str, guarded: bool| {
        let mut request = app
            .client
            .request(method, format!("{}{path}", app.address))
            .header("cookie", &cookie);
        if guarded {
            request = request.header("x-requested-with", "safequiz");
        }
        async move { request.send().await.expect("an answer").status() }
    };
    assert_eq!(
        by_cookie(Method::GET, "/api/v1/organizer/me", false).await,
        200
    );
    // A change by cookie alone (what a cross-site form could send) is refused, and ends nothing.
    assert_eq!(
        by_cookie(Method::POST, "/api/v1/organizer/logout", false).await,
        400
    );
    assert_eq!(
        by_cookie(Method::POST, "/api/v1/organizer/logout", true).await,
        204
    );
    let after = by_cookie(Method::GET, "/api/v1/organizer/me", false).await;
    assert_eq!(after, 401);
}
