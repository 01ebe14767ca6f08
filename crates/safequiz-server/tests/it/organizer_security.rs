//! Organizer accountability and logins at 等保 level 3 (issue 20): the audit row of every
//! audited action, read back by the organizer of the whole campaign and changed by no route;
//! account lockout, idle logout, password expiry and the TOTP second factor.

use jiff::SignedDuration;
use reqwest::Method;
use safequiz_server::totp;
use safequiz_testapp::{CAMPAIGN, TestApp, status_and_json};
use serde_json::{Value, json};

use super::{DURING, at};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    status_and_json(app.request(method, path, Some(token), body).await).await
}

async fn login(app: &TestApp, username: &str, password: &str, code: Option<&str>) -> (u16, Value) {
    let mut body = json!({"username": username, "password": password});
    if let Some(code) = code {
        body["totp_code"] = json!(code);
    }
    status_and_json(
        app.request(Method::POST, "/api/v1/organizer/login", None, Some(&body))
            .await,
    )
    .await
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

const PASSWORD: &str = "anquan2026yue";

#[tokio::test]
async fn every_audited_action_writes_a_row_that_no_route_changes() {
    let app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    let participant = app.register("孙八两", "13500000001", "130102").await;
    let (status, attempt) = app.start_attempt(&participant).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    app.submit(&participant, &id, None).await;

    let national = app
        .organizer(safequiz_domain::scope::WHOLE_CAMPAIGN, "national")
        .await;
    let county = app.organizer("130102", "changan").await;
    let (status, _) = login(&app, "changan", "wrong-password", None).await;
    assert_eq!(status, 401);
    let (status, _) = login(&app, "nobody", "wrong-password", None).await;
    assert_eq!(status, 401);

    // A participant's attempts (once the record has them), a headcount, exports.
    let attempts = format!("/api/v1/organizer/participants/{}/attempts", participant.id);
    safequiz_testapp::eventually(
        "the record has the attempt",
        std::time::Duration::from_secs(20),
        || async {
            let (status, _) = send(&app, Method::GET, &attempts, &county, None).await;
            (status == 200).then_some(())
        },
    )
    .await;
    let (status, body) = send(
        &app,
        Method::PUT,
        "/api/v1/organizer/units/130102/headcount",
        &national,
        Some(&json!({"headcount": 1200})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .request(
            Method::GET,
            "/api/v1/organizer/exports/participants.csv",
            Some(&county),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let _ = response.bytes().await.expect("the file");
    let response = app
        .request(
            Method::GET,
            "/api/v1/organizer/exports/units.csv",
            Some(&national),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let _ = response.bytes().await.expect("the file");
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/v1/organizer/logout",
        &county,
        None,
    )
    .await;
    assert_eq!(status, 204);

    // Only the organizer of the whole campaign reads the trail.
    let (status, body) = send(&app, Method::GET, "/api/v1/organizer/audit", &county, None).await;
    assert_eq!(status, 401, "logged out: {body}");
    let (_, body) = login(&app, "changan", PASSWORD, None).await;
    let county = body["token"].as_str().expect("a token").to_owned();
    let (status, body) = send(&app, Method::GET, "/api/v1/organizer/audit", &county, None).await;
    assert_eq!((status, error(&body)), (403, "out_of_scope"), "{body}");
    let (status, page) = send(
        &app,
        Method::GET,
        "/api/v1/organizer/audit?per_page=200",
        &national,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let rows = page["rows"].as_array().expect("rows").clone();
    let has = |actor: &str, action: &str, outcome: &str, detail: &str| {
        rows.iter().any(|row| {
            row["actor"] == actor
                && row["action"] == action
                && row["outcome"] == outcome
                && row["detail"].as_str().is_some_and(|d| d.contains(detail))
        })
    };
    assert!(has("organizer:national", "login", "ok", ""), "{page}");
    assert!(
        has("organizer:changan", "login", "bad_password", ""),
        "{page}"
    );
    assert!(
        has("organizer:national", "password_change", "ok", ""),
        "{page}"
    );
    assert!(
        has(
            "organizer:changan",
            "view_attempts",
            "ok",
            &format!("participant={}", participant.id)
        ),
        "{page}"
    );
    assert!(
        has("organizer:national", "headcount", "ok", "130102=1200"),
        "{page}"
    );
    assert!(
        has(
            "organizer:changan",
            "export",
            "ok",
            "participants.csv rows=1"
        ),
        "{page}"
    );
    assert!(
        has("organizer:national", "export", "ok", "units.csv"),
        "{page}"
    );
    assert!(has("organizer:changan", "logout", "ok", ""), "{page}");
    assert!(
        rows.iter().all(|row| row["campaign_id"] == CAMPAIGN),
        "only this campaign's rows: the unknown username's row has none"
    );
    assert!(
        rows.iter()
            .all(|row| !row.to_string().contains("孙八两")
                && !row.to_string().contains("13500000001")),
        "no name or phone in the trail"
    );
    // No route edits or deletes a row.
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::POST] {
        let (status, _) = send(
            &app,
            method.clone(),
            "/api/v1/organizer/audit",
            &national,
            Some(&json!({})),
        )
        .await;
        assert!(status == 404 || status == 405, "{method} answers {status}");
        let id = rows[0]["audit_id"].as_i64().expect("an id");
        let (status, _) = send(
            &app,
            method.clone(),
            &format!("/api/v1/organizer/audit/{id}"),
            &national,
            Some(&json!({})),
        )
        .await;
        assert!(
            status == 404 || status == 405,
            "{method} of a row answers {status}"
        );
    }
    let (_, again) = send(
        &app,
        Method::GET,
        "/api/v1/organizer/audit?per_page=200",
        &national,
        None,
    )
    .await;
    let again = again["rows"].as_array().expect("rows").clone();
    assert_eq!(
        &again[again.len() - rows.len()..],
        &rows[..],
        "the rows read before are unchanged"
    );
}

#[tokio::test]
async fn an_account_locks_after_repeated_failures_and_unlocks_after_the_lockout() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .settings(|settings| {
            settings.auth.organizer_lockout_failures = 3;
            settings.auth.organizer_lockout_minutes = 30;
        })
        .spawn()
        .await;
    let one_time = app.add_organizer("130102", "changan").await;
    for _ in 0..3 {
        let (status, body) = login(&app, "changan", "wrong-password", None).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = login(&app, "changan", &one_time, None).await;
    assert_eq!(
        (status, error(&body)),
        (403, "account_locked"),
        "locked, whatever the password: {body}"
    );
    app.clock.advance(SignedDuration::from_mins(29));
    let (status, body) = login(&app, "changan", &one_time, None).await;
    assert_eq!((status, error(&body)), (403, "account_locked"), "{body}");
    app.clock.advance(SignedDuration::from_mins(2));
    let (status, body) = login(&app, "changan", &one_time, None).await;
    assert_eq!(status, 200, "unlocked after 30 minutes: {body}");
    // A success starts the count again: two failures do not lock.
    for _ in 0..2 {
        assert_eq!(login(&app, "changan", "wrong-password", None).await.0, 401);
    }
    assert_eq!(login(&app, "changan", &one_time, None).await.0, 200);
}

#[tokio::test]
async fn an_idle_session_ends_and_a_background_poll_does_not_keep_it() {
    let app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    let token = app.organizer("130102", "changan").await;
    let progress = "/api/v1/organizer/progress";
    app.clock.advance(SignedDuration::from_mins(20));
    assert_eq!(send(&app, Method::GET, progress, &token, None).await.0, 200);
    // The page's poll every few seconds is not the person's activity.
    app.clock.advance(SignedDuration::from_mins(20));
    let response = app
        .client
        .get(format!("{}{progress}", app.address))
        .bearer_auth(&token)
        .header("X-Background", "1")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200, "20 minutes idle");
    app.clock.advance(SignedDuration::from_mins(11));
    let (status, body) = send(&app, Method::GET, progress, &token, None).await;
    assert_eq!(
        status, 401,
        "31 minutes since the last request of the person: {body}"
    );
    // Ended for good, even if activity came now.
    let (status, _) = send(&app, Method::GET, "/api/v1/organizer/me", &token, None).await;
    assert_eq!(status, 401);
    let (status, body) = login(&app, "changan", PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_expired_password_must_be_changed_first() {
    let app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    app.organizer("130102", "changan").await;
    app.clock.advance(SignedDuration::from_hours(24 * 91));
    let (status, body) = login(&app, "changan", PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_expired"], true);
    let token = body["token"].as_str().expect("a token").to_owned();
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/v1/organizer/progress",
        &token,
        None,
    )
    .await;
    assert_eq!((status, error(&body)), (403, "password_expired"), "{body}");
    let (status, body) = send(
        &app,
        Method::PUT,
        "/api/v1/organizer/password",
        &token,
        Some(&json!({"current_password": PASSWORD, "new_password": "xinmima2026nian"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token");
    assert_eq!(
        send(&app, Method::GET, "/api/v1/organizer/progress", token, None)
            .await
            .0,
        200
    );
}

/// The current code of the account's enrolled secret at the app's clock, `steps` away.
async fn code(app: &TestApp, organizer: i64, steps: i64) -> String {
    let security = app
        .state
        .store
        .login_security(organizer)
        .await
        .expect("read")
        .expect("the account");
    let secret = totp::from_hex(&security.totp_secret.expect("a secret")).expect("hex");
    let step = totp::step_of(app.clock.now().as_second()) + steps;
    format!("{:06}", totp::hotp(&secret, step as u64, totp::DIGITS))
}

#[tokio::test]
async fn a_second_factor_is_enrolled_required_and_used_once() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .settings(|settings| settings.auth.organizer_totp_required = true)
        .spawn()
        .await;
    let token = app.organizer("130102", "changan").await;
    let organizer = app
        .state
        .store
        .organizer_by_username("changan")
        .await
        .expect("read")
        .expect("the account")
        .organizer_id;
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/v1/organizer/progress",
        &token,
        None,
    )
    .await;
    assert_eq!(
        (status, error(&body)),
        (403, "totp_enrollment_required"),
        "{body}"
    );

    let (status, enrolment) =
        send(&app, Method::POST, "/api/v1/organizer/totp", &token, None).await;
    assert_eq!(status, 200, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().expect("a URI");
    assert!(
        uri.starts_with("otpauth://totp/safequiz:changan?secret="),
        "{uri}"
    );
    assert!(uri.contains(enrolment["secret"].as_str().expect("a secret")));
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/organizer/totp/confirm",
        &token,
        Some(&json!({"code": "000000"})),
    )
    .await;
    assert_eq!((status, error(&body)), (422, "invalid_totp"), "{body}");
    let first = code(&app, organizer, 0).await;
    let (status, confirmed) = send(
        &app,
        Method::POST,
        "/api/v1/organizer/totp/confirm",
        &token,
        Some(&json!({"code": first})),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        send(
            &app,
            Method::GET,
            "/api/v1/organizer/progress",
            &token,
            None
        )
        .await
        .0,
        200
    );

    // Logging in now needs a code, each code once.
    let (status, body) = login(&app, "changan", PASSWORD, None).await;
    assert_eq!((status, error(&body)), (403, "totp_required"), "{body}");
    let (status, _) = login(&app, "changan", PASSWORD, Some(&first)).await;
    assert_eq!(status, 401, "the code used at enrolment is spent");
    let (status, _) = login(&app, "changan", PASSWORD, Some("123456")).await;
    assert_eq!(status, 401, "a wrong code");
    app.clock.advance(SignedDuration::from_secs(30));
    let next = code(&app, organizer, 0).await;
    let (status, body) = login(&app, "changan", PASSWORD, Some(&next)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = login(&app, "changan", PASSWORD, Some(&next)).await;
    assert_eq!(status, 401, "a replayed code");
    let (status, body) = login(&app, "changan", PASSWORD, Some(&recovery[3])).await;
    assert_eq!(status, 200, "a recovery code: {body}");
    let (status, _) = login(&app, "changan", PASSWORD, Some(&recovery[3])).await;
    assert_eq!(status, 401, "a recovery code works once");
    let stored = app
        .state
        .store
        .unused_recovery_codes(organizer)
        .await
        .expect("read");
    assert_eq!(stored.len(), 9);
    assert!(
        stored.iter().all(|hash| hash.starts_with("$argon2id$")),
        "kept only as argon2id hashes"
    );
}
