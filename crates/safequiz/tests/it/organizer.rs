//! `safequiz organizer`: accounts made on the command line log in to the running service.

use safequiz_testapp::TestApp;

fn safequiz(app: &TestApp, args: &[&str]) -> std::process::Output {
    let redis = app.redis.url();
    crate::safequiz(
        args,
        &[
            ("SAFEQUIZ_REDIS_URL", redis.as_str()),
            ("SAFEQUIZ_DATABASE_URL", app.database_url.as_str()),
            ("RUST_LOG", "warn"),
        ],
    )
}

/// The one-time password a successful `add` or `reset-password` printed, alone on stdout.
fn printed_password(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn an_account_added_on_the_command_line_logs_in_once_with_its_password() {
    let app = TestApp::spawn().await;
    let added = safequiz(
        &app,
        &[
            "organizer",
            "add",
            "--campaign",
            "safety-month",
            "--unit",
            "130102",
            "--username",
            "changan",
            "--config",
            "config",
        ],
    );
    let password = printed_password(added);
    assert_eq!(
        password.chars().count(),
        14,
        "only the password is on stdout"
    );
    let (status, body) = app.organizer_login("changan", &password).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organizer"]["unit_name"], "长安区");
    assert_eq!(body["must_change_password"], true);

    // The same username again, or an unknown unit, is refused and adds nothing.
    let again = safequiz(
        &app,
        &[
            "organizer",
            "add",
            "--campaign",
            "safety-month",
            "--unit",
            "130104",
            "--username",
            "changan",
            "--config",
            "config",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"));
    let unknown = safequiz(
        &app,
        &[
            "organizer",
            "add",
            "--campaign",
            "safety-month",
            "--unit",
            "999999",
            "--username",
            "nobody",
            "--config",
            "config",
        ],
    );
    assert!(!unknown.status.success());

    // A reset gives a new one-time password and ends the sessions of the old one.
    let token = body["token"].as_str().expect("a token").to_owned();
    let reset = safequiz(
        &app,
        &[
            "organizer",
            "reset-password",
            "--campaign",
            "safety-month",
            "--username",
            "changan",
            "--config",
            "config",
        ],
    );
    let fresh = printed_password(reset);
    let me = app
        .request(
            reqwest::Method::GET,
            "/api/v1/organizer/me",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(me.status(), 401);
    assert_eq!(app.organizer_login("changan", &password).await.0, 401);
    assert_eq!(app.organizer_login("changan", &fresh).await.0, 200);

    let listed = safequiz(
        &app,
        &[
            "organizer",
            "list",
            "--campaign",
            "safety-month",
            "--config",
            "config",
        ],
    );
    let listed = String::from_utf8(listed.stdout).expect("UTF-8");
    assert!(listed.starts_with("changan\t130102"), "{listed}");
    assert_eq!(listed.lines().count(), 1, "{listed}");
}
