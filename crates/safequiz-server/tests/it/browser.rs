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
