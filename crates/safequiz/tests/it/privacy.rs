//! `safequiz purge` and `safequiz audit export` (issue 20): a dry run changes nothing, a purge
//! before the retention date is refused unless forced with a reason, a purge removes every name
//! and phone hash from SQL and Redis and keeps the results and the audit trail, which the export
//! prints as CSV.

use std::time::Duration;

use safequiz_testapp::{CAMPAIGN, TestApp, eventually};

use crate::texts;

fn safequiz(app: &TestApp, args: &[&str]) -> std::process::Output {
    let redis = app.redis.url();
    crate::safequiz(
        args,
        &[
            ("SAFEQUIZ_REDIS_URL", redis.as_str()),
            ("SAFEQUIZ_DATABASE_URL", app.database_url.as_str()),
            ("RUST_LOG", "warn"),
            ("USER", "operator"),
        ],
    )
}

#[tokio::test]
async fn a_purge_is_previewed_refused_early_and_forced_with_a_reason() {
    let app = TestApp::spawn().await;
    app.play(1_000, 3, &["110101", "130102"], 3).await;
    eventually(
        "the flusher wrote everything",
        Duration::from_secs(20),
        || async {
            let count = app.state.store.participant_count(CAMPAIGN).await.ok()?;
            let attempts = app.state.store.attempts(CAMPAIGN).await.ok()?;
            (count == 3 && attempts.len() == 3).then_some(())
        },
    )
    .await;
    // The binary runs while this test's runtime (and the service on it) is blocked: nothing
    // of the service's may be mid-transaction then.
    app.record_caught_up().await;
    let named = || async {
        app.state
            .store
            .participants(CAMPAIGN)
            .await
            .expect("rows")
            .iter()
            .filter(|p| !p.name.is_empty() || !p.phone_hash.is_empty())
            .count()
    };

    let dry = safequiz(&app, &["purge", "--campaign", CAMPAIGN, "--dry-run"]);
    let (out, err) = texts(&dry);
    assert!(dry.status.success(), "{out}{err}");
    assert!(
        out.contains("names and phone hashes of 3 participant(s)"),
        "{out}"
    );
    assert!(
        out.contains("3 phone index entries, names of 3 people entries"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing changed"), "{out}");
    assert_eq!(named().await, 3, "a dry run changes nothing");

    let early = safequiz(&app, &["purge", "--campaign", CAMPAIGN]);
    let (out, err) = texts(&early);
    assert_eq!(early.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("refused"), "{err}");
    let no_reason = safequiz(&app, &["purge", "--campaign", CAMPAIGN, "--force"]);
    assert_eq!(no_reason.status.code(), Some(2), "--force needs --reason");
    assert_eq!(named().await, 3, "refusals change nothing");

    let forced = safequiz(
        &app,
        &[
            "purge",
            "--campaign",
            CAMPAIGN,
            "--force",
            "--reason",
            "组织单位书面要求提前删除",
        ],
    );
    let (out, err) = texts(&forced);
    assert!(forced.status.success(), "{out}{err}");
    assert_eq!(named().await, 0, "no name or phone hash left in SQL");
    let hot = app
        .state
        .hot
        .purge_people(CAMPAIGN, app.state.shards, true)
        .await
        .expect("count");
    assert_eq!((hot.phones, hot.named_people), (0, 0), "none left in Redis");
    assert_eq!(
        app.state
            .store
            .attempts(CAMPAIGN)
            .await
            .expect("attempts")
            .len(),
        3,
        "results stay"
    );
    assert!(
        app.state
            .store
            .check_rollups(CAMPAIGN)
            .await
            .expect("check")
            .is_empty()
    );

    let export = safequiz(
        &app,
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01",
            "--to",
            "2100-12-31",
        ],
    );
    let (csv, err) = texts(&export);
    assert!(export.status.success(), "{err}");
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel and WPS");
    let purge = csv
        .lines()
        .find(|line| line.contains("\"purge\""))
        .unwrap_or_else(|| panic!("a purge row: {csv}"));
    assert!(purge.contains("\"cli:operator\""), "{purge}");
    assert!(purge.contains("组织单位书面要求提前删除"), "{purge}");
    assert!(purge.contains("participants=3"), "{purge}");
}
