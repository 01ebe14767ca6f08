//! The participant pages in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/run.mjs`) against this real service and Redis. Screenshots land in
//! `tests/artifacts/browser/`.

use safequiz_domain::score::Counted;
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

/// Once the one participant who played is recorded, draws the prizes as `safequiz prizes draw`
/// does (crates/safequiz/src/cmd/prizes.rs), seeded from `seed_from`, and stores the draw.
async fn draw_the_prizes(app: &TestApp, seed_from: &str) {
    use safequiz_domain::prizes::{self, EligibleList};
    use safequiz_sql::prizes::DrawRow;
    use safequiz_testapp::{CAMPAIGN, eventually};

    let eligible = eventually(
        "the attempt is recorded",
        std::time::Duration::from_secs(30),
        || async {
            let eligible = app
                .state
                .store
                .eligible_participants(CAMPAIGN, Counted::Sum)
                .await
                .ok()?;
            (eligible.len() == 1).then_some(eligible)
        },
    )
    .await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign");
    let list = EligibleList::new(eligible).expect("list");
    let digest = prizes::list_digest(list.to_csv().as_bytes());
    let seed = prizes::seed(CAMPAIGN, seed_from, &digest);
    let winners = prizes::draw(&list, &campaign.prizes, seed);
    app.state
        .store
        .record_draw(
            &DrawRow {
                campaign_id: CAMPAIGN.to_owned(),
                seed_from: seed_from.to_owned(),
                list_digest: prizes::hex(&digest),
                seed: prizes::hex(&seed),
                eligible: 1,
                drawn_at_ms: app.clock.now().as_millisecond(),
            },
            &winners,
        )
        .await
        .expect("the draw is stored");
}

#[tokio::test]
async fn a_participant_practises_then_competes_then_sees_the_prize_won() {
    use safequiz_testapp::CAMPAIGN;

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

    // Practice reached nothing: the record holds the one real attempt, which the draw finds.
    draw_the_prizes(&app, "browser test").await;
    let rows = app.state.store.attempts(CAMPAIGN).await.expect("SQL");
    assert_eq!(rows.len(), 1, "practice attempts are never recorded");
    scenario_output(&app, "winner", &[&me.token, &id, "李*", &attempt]).await;
}

#[tokio::test]
async fn every_participant_page_passes_axe_and_fits_a_phone_at_large_text() {
    // Someone else has played and the prizes are drawn, so the winners page lists them.
    let app = TestApp::builder().shards(4).spawn().await;
    app.play(800_004_444, 1, &["110101"], 1).await;
    draw_the_prizes(&app, "accessibility test").await;
    run_scenario(&app, "accessibility").await;
}

/// The sector journey of issue 18 on the shipped water campaign (`sector` in run.mjs): an
/// organization registered on the participant page, a participant finding it and answering
/// under the campaign's policy, an administrator's application approved by the province's
/// organizer, their export, and after the close the study-hour certificate verified through
/// its QR code. The scenario asks this test, one line each on its standard output, for the
/// answer key (question id → the texts of its right options) and for the clock to move into
/// the certificate's download window; each is answered on its standard input. As the real quiz
/// ran (answers from June 5, the close on June 30, certificates for 15 days), the participant
/// registers weeks before the window's day, so their phone's token has expired by then.
#[tokio::test]
async fn the_sector_journey_from_organization_registration_to_a_verified_certificate() {
    use safequiz_domain::scope::Scope;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::at;

    const WATER: &str = "water-six-mechanisms";
    // Three and a half weeks before the shipped campaign's close (2027-07-01).
    let journey = at("2027-06-05T09:00:00+08:00");
    let app = TestApp::builder().shards(4).clock_at(journey).spawn().await;
    let campaign = app
        .catalogue
        .campaign(WATER)
        .expect("the water campaign is shipped");
    assert!(campaign.opens_at < journey && journey < campaign.closes_at);
    let certificate = campaign
        .certificate
        .expect("the water campaign grants certificates");
    // Nine days after the close: inside the download window, past the token's validity.
    let (opens, until) = certificate.window(campaign.closes_at);
    let in_window = opens
        .checked_add(jiff::SignedDuration::from_hours(9 * 24 + 1))
        .expect("an instant");
    assert!(in_window < until);
    let token_expiry = journey
        .checked_add(app.state.token_ttl)
        .expect("an instant");
    assert!(token_expiry < in_window, "the scenario re-registers");
    let answer_key: serde_json::Map<String, serde_json::Value> = campaign
        .pool
        .questions()
        .iter()
        .map(|question| {
            let right: Vec<&str> = question
                .options
                .iter()
                .enumerate()
                .filter(|(i, _)| question.answer.contains(*i))
                .map(|(_, text)| text.as_str())
                .collect();
            (question.id.clone(), serde_json::json!(right))
        })
        .collect();

    // The organizer of 山西省, the level above the county the organization registers in.
    let one_time = safequiz_server::accounts::one_time_password();
    let hash = safequiz_server::accounts::hash_password(&one_time).expect("a hash");
    app.state
        .store
        .add_organizer(&safequiz_sql::organizers::NewOrganizer {
            campaign_id: WATER,
            scope: &Scope::parse("140000").expect("a unit"),
            username: "shanxi-water",
            password_hash: &hash,
            created_at_ms: app.clock.now().as_millisecond(),
        })
        .await
        .expect("the account is added");

    let dir = repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/jsqr").exists(),
        "jsqr is not installed; the README's test command runs `npm ci` in tests/browser"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("run.mjs"))
        .args(["sector", &app.address, "shanxi-water", &one_time])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (the README's test command installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    while let Some(line) = lines.next_line().await.expect("the scenario's output") {
        printed.push_str(&line);
        printed.push('\n');
        let reply = match line.strip_prefix("@test ") {
            None => continue,
            Some("answer-key") => serde_json::Value::Object(answer_key.clone()).to_string(),
            Some("certificate-window") => {
                app.clock.set(in_window);
                "ok".to_owned()
            }
            Some(other) => panic!("the scenario asked for {other}\n{printed}"),
        };
        stdin
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .expect("the scenario reads its answers");
    }
    drop(stdin);
    let status = child.wait().await.expect("the scenario ends");
    let errors = errors.await.expect("stderr is read");
    assert!(status.success(), "{printed}{errors}");
}
