//! The participant pages in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/run.mjs`) against this real service and Redis. Screenshots land in
//! `tests/artifacts/browser/`.

use safequiz_testapp::{TestApp, repo_root};

async fn run_scenario(app: &TestApp, scenario: &str) {
    run_scenario_with(app, scenario, &[]).await;
}

/// Runs `node run.mjs <scenario> <base-url> <args...>`; fails with the script's output.
async fn run_scenario_with(app: &TestApp, scenario: &str, args: &[&str]) {
    let dir = repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; the README's test command runs `npm ci` in tests/browser"
    );
    // Awaited asynchronously, so this runtime keeps serving the page's requests meanwhile.
    let output = tokio::process::Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(scenario)
        .arg(&app.address)
        .args(args)
        .output()
        .await
        .expect("node runs (the README's test command installs it)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_participant_registers_answers_changes_submits_and_watches_the_ranking_move() {
    let app = TestApp::builder().shards(4).spawn().await;
    run_scenario(&app, "journey").await;
}

#[tokio::test]
async fn a_reload_in_the_middle_of_an_attempt_keeps_the_answers_and_the_time() {
    let app = TestApp::builder().shards(4).spawn().await;
    run_scenario(&app, "reload").await;
}

#[tokio::test]
async fn an_attempt_left_alone_is_submitted_at_the_deadline_and_shows_the_result() {
    let app = TestApp::builder()
        .shards(4)
        .time_limit_secs(10)
        .spawn()
        .await;
    run_scenario(&app, "timeout").await;
}

#[tokio::test]
async fn an_organizer_logs_in_watches_the_subtree_move_live_and_downloads_spreadsheets() {
    // The in-process flusher (on by default) copies finished attempts to SQL, where the
    // reports and exports read them.
    let app = TestApp::builder().shards(4).spawn().await;
    let province = app.add_organizer("130000", "hebei").await;
    let county = app.add_organizer("130102", "changan").await;
    run_scenario_with(&app, "organizer", &["hebei", &province, "changan", &county]).await;
}

/// Runs a scenario like [`run_scenario_with`] and returns what it printed.
async fn scenario_output(app: &TestApp, scenario: &str, args: &[&str]) -> String {
    let dir = repo_root().join("tests/browser");
    let output = tokio::process::Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(scenario)
        .arg(&app.address)
        .args(args)
        .output()
        .await
        .expect("node runs (the README's test command installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_participant_practises_then_competes_then_sees_the_prize_won() {
    use safequiz_domain::prizes::{self, EligibleList};
    use safequiz_sql::prizes::DrawRow;
    use safequiz_testapp::{CAMPAIGN, eventually};

    let app = TestApp::builder().shards(4).spawn().await;
    let me = app.register("李四", "13800002222", "110101").await;
    let id = me.id.to_string();
    let printed = scenario_output(&app, "practice", &[&me.token, &id, "李*"]).await;
    let attempt = printed
        .lines()
        .find_map(|line| line.strip_prefix("attempt #/result/"))
        .unwrap_or_else(|| panic!("the scenario names the attempt: {printed}"))
        .trim()
        .to_owned();

    // Practice reached nothing: the record holds the one real attempt.
    let eligible = eventually(
        "the real attempt is recorded",
        std::time::Duration::from_secs(30),
        || async {
            let eligible = app.state.store.eligible_participants(CAMPAIGN).await.ok()?;
            (eligible.len() == 1).then_some(eligible)
        },
    )
    .await;
    let rows = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(rows.len(), 1, "practice attempts are never recorded");

    // The draw as `safequiz prizes draw` runs it (crates/safequiz/src/cmd/prizes.rs).
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign");
    let list = EligibleList::new(eligible).expect("list");
    let digest = prizes::list_digest(list.to_csv().as_bytes());
    let seed = prizes::seed(CAMPAIGN, "browser test", &digest);
    let winners = prizes::draw(&list, &campaign.prizes, seed);
    app.state
        .store
        .record_draw(
            &DrawRow {
                campaign_id: CAMPAIGN.to_owned(),
                seed_from: "browser test".to_owned(),
                list_digest: prizes::hex(&digest),
                seed: prizes::hex(&seed),
                eligible: 1,
                drawn_at_ms: app.clock.now().as_millisecond(),
            },
            &winners,
        )
        .await
        .expect("the draw is stored");
    scenario_output(&app, "winner", &[&me.token, &id, "李*", &attempt]).await;
}

#[tokio::test]
async fn every_participant_page_passes_axe_and_fits_a_phone_at_large_text() {
    use safequiz_domain::prizes::{self, EligibleList};
    use safequiz_sql::prizes::DrawRow;
    use safequiz_testapp::{CAMPAIGN, eventually};

    // Someone else has played and the prizes are drawn, so the winners page lists them.
    let app = TestApp::builder().shards(4).spawn().await;
    app.play(800_004_444, 1, &["110101"], 1).await;
    let eligible = eventually(
        "the attempt is recorded",
        std::time::Duration::from_secs(30),
        || async {
            let eligible = app.state.store.eligible_participants(CAMPAIGN).await.ok()?;
            (eligible.len() == 1).then_some(eligible)
        },
    )
    .await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign");
    let list = EligibleList::new(eligible).expect("list");
    let digest = prizes::list_digest(list.to_csv().as_bytes());
    let seed = prizes::seed(CAMPAIGN, "accessibility test", &digest);
    let winners = prizes::draw(&list, &campaign.prizes, seed);
    app.state
        .store
        .record_draw(
            &DrawRow {
                campaign_id: CAMPAIGN.to_owned(),
                seed_from: "accessibility test".to_owned(),
                list_digest: prizes::hex(&digest),
                seed: prizes::hex(&seed),
                eligible: 1,
                drawn_at_ms: app.clock.now().as_millisecond(),
            },
            &winners,
        )
        .await
        .expect("the draw is stored");
    run_scenario(&app, "accessibility").await;
}
