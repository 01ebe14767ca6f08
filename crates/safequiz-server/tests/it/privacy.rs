//! Personal information (issue 20): the notice and the consent registration requires and records,
//! a participant's view of what is held, and the deletion of a registration, which keeps every
//! total, board and `reconcile` exact; and that no public endpoint or page shows a full name or
//! phone number.

use std::time::Duration;

use reqwest::Method;
use safequiz_server::recovery::{self, RecoveryOptions};
use safequiz_server::workers::flusher::{FlusherOptions, flush_once};
use safequiz_testapp::{
    CAMPAIGN, Database, Participant, TestApp, eventually, on_both, status_and_json,
};
use serde_json::{Value, json};

use super::{DURING, at};

const REGISTER: &str = "/api/v1/campaigns/safety-month/participants";

/// The notice version of the shipped campaign.
const VERSION: &str = "2026-2";

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    status_and_json(app.request(Method::POST, path, token, Some(body)).await).await
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    status_and_json(app.request(Method::GET, path, token, None).await).await
}

/// Copies every stream entry to SQL, as the service's flusher would.
async fn flush_all(app: &TestApp) {
    let options = FlusherOptions {
        consumer: "privacy-test".to_owned(),
        batch_rows: 50,
        idle: Duration::from_millis(5),
        claim_idle: Duration::from_secs(60),
        max_deliveries: 5,
    };
    while flush_once(&app.state, &options).await.expect("flush") > 0 {}
}

/// Registers with consent and plays one attempt, the first question right.
async fn register_and_play(app: &TestApp, name: &str, phone: &str, unit: &str) -> Participant {
    let me = app.register(name, phone, unit).await;
    let (status, attempt) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let right = app.correct_keys(&attempt["questions"][0]);
    let body = json!({ "answers": { "0": right } });
    let (status, result) = app.submit(&me, &id, Some(&body)).await;
    assert_eq!(status, 200, "{result}");
    me
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn registration_requires_the_notice_consent_and_records_it() {
    let app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    let (status, notice) = get(&app, "/api/v1/campaigns/safety-month/notice", None).await;
    assert_eq!(status, 200, "{notice}");
    assert_eq!(notice["notice"]["version"], VERSION);
    assert_eq!(notice["notice"]["under_14"], "guardian");
    assert!(
        notice["notice"]["processor"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );

    let adult = json!({"name": "赵六", "phone": "13900000001", "unit_id": "110101"});
    let (status, body) = post(&app, REGISTER, None, &adult).await;
    assert_eq!((status, error(&body)), (422, "consent_required"), "{body}");
    let mut stale = adult.clone();
    stale["consent"] = json!(true);
    stale["notice_version"] = json!("2025-9");
    let (status, body) = post(&app, REGISTER, None, &stale).await;
    assert_eq!((status, error(&body)), (422, "consent_required"), "{body}");

    let mut child = json!({"name": "小明", "phone": "13900000002", "unit_id": "110101",
        "consent": true, "notice_version": VERSION, "under_14": true});
    let (status, body) = post(&app, REGISTER, None, &child).await;
    assert_eq!(
        (status, error(&body)),
        (422, "guardian_consent_required"),
        "{body}"
    );
    child["guardian_name"] = json!("王监护");
    let (status, body) = post(&app, REGISTER, None, &child).await;
    assert_eq!(
        (status, error(&body)),
        (422, "guardian_consent_required"),
        "the guardian's own consent is needed: {body}"
    );
    child["guardian_consent"] = json!(true);
    let (status, child_body) = post(&app, REGISTER, None, &child).await;
    assert_eq!(status, 201, "{child_body}");

    // Nothing was registered by the refusals: the adult is new now.
    let mut consented = adult.clone();
    consented["consent"] = json!(true);
    consented["notice_version"] = json!(VERSION);
    let (status, adult_body) = post(&app, REGISTER, None, &consented).await;
    assert_eq!(status, 201, "{adult_body}");

    let id = |body: &Value| body["participant_id"].as_i64().expect("an id");
    for (body, guardian) in [(&child_body, Some("王监护")), (&adult_body, None)] {
        let held = eventually(
            "the flusher recorded the registration",
            Duration::from_secs(20),
            || async {
                app.state
                    .store
                    .participant_privacy(CAMPAIGN, id(body))
                    .await
                    .ok()
                    .flatten()
            },
        )
        .await;
        assert_eq!(held.consent_version.as_deref(), Some(VERSION));
        assert_eq!(held.consented_at_ms, Some(at(DURING).as_millisecond()));
        assert_eq!(held.guardian_name.as_deref(), guardian);
        // The shipped campaign has prizes: the number is kept, sealed, for the winners.
        assert_eq!(held.phone_kept, 1);
    }
    // The participant's own view.
    let token = child_body["token"].as_str().expect("a token");
    let (status, held) = get(
        &app,
        "/api/v1/campaigns/safety-month/me/privacy",
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["name"], "小明");
    assert_eq!(held["phone_masked"], "139****0002");
    assert_eq!(held["consent_version"], VERSION);
    assert_eq!(held["guardian_name"], "王监护");
    assert_eq!(held["retain_until"], "2027-12-31");
    assert_eq!(held["phone_kept"], true);
    let (status, _) = get(&app, "/api/v1/campaigns/safety-month/me/privacy", None).await;
    assert_eq!(status, 401, "only with the participant's token");
}

/// What the public boards show: the unit board of the campaign's roots and the individual board
/// of the campaign and of one county.
async fn boards(app: &TestApp) -> (Value, Value, Value) {
    let units = get(
        app,
        "/api/v1/campaigns/safety-month/leaderboards/units?parent=110000",
        None,
    )
    .await
    .1;
    let people = get(
        app,
        "/api/v1/campaigns/safety-month/leaderboards/participants?limit=50",
        None,
    )
    .await
    .1;
    let county = get(
        app,
        "/api/v1/campaigns/safety-month/leaderboards/participants?unit=110101&limit=50",
        None,
    )
    .await
    .1;
    (
        units["items"].clone(),
        people["items"].clone(),
        county["items"].clone(),
    )
}

/// A board's rows without the names: what must not change when a name goes.
fn without_names(items: &Value) -> Vec<Value> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let mut item = item.clone();
            if let Some(item) = item.as_object_mut() {
                item.remove("name_masked");
            }
            item
        })
        .collect()
}

async fn a_deletion_keeps_totals_boards_and_reconcile_exact(database: Database) {
    let app = TestApp::builder()
        .database(database)
        .clock_at(at(DURING))
        .spawn()
        .await;
    let deleted = register_and_play(&app, "张三丰", "13700000001", "110101").await;
    register_and_play(&app, "李四光", "13700000002", "110101").await;
    register_and_play(&app, "王五福", "13700000003", "130102").await;
    app.boards_caught_up().await;
    // The service's own flusher runs here: wait for it. A second flusher (`flush_all`) would
    // hold only its share of the shards, and leave the others' entries to the service's on its
    // own schedule, so the record could lack a registration when it is read below.
    app.record_caught_up().await;
    // Boards are snapshots refreshed every second: read them once they are settled.
    let before = eventually(
        "the boards show all three",
        Duration::from_secs(10),
        || async {
            let boards = boards(&app).await;
            (boards.1.as_array().map(Vec::len) == Some(3)).then_some(boards)
        },
    )
    .await;
    assert!(
        before.0.as_array().is_some_and(|units| !units.is_empty()),
        "the unit board: {}",
        before.0
    );
    assert_eq!(
        before.2.as_array().map(Vec::len),
        Some(2),
        "the county's board"
    );
    let deletion = format!("/api/v1/campaigns/{CAMPAIGN}/me/deletion");

    let (status, body) = post(
        &app,
        &deletion,
        Some(&deleted.token),
        &json!({"phone": "13700000002"}),
    )
    .await;
    assert_eq!(
        (status, error(&body)),
        (422, "confirmation_required"),
        "another phone does not confirm: {body}"
    );
    let (status, body) = post(
        &app,
        &deletion,
        Some(&deleted.token),
        &json!({"phone": "13700000001"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = post(
        &app,
        &deletion,
        Some(&deleted.token),
        &json!({"phone": "13700000001"}),
    )
    .await;
    assert_eq!(
        (status, error(&body)),
        (422, "confirmation_required"),
        "once"
    );

    // SQL: the row stays, anonymous, with its attempt.
    let held = app
        .state
        .store
        .participant_privacy(CAMPAIGN, deleted.id as i64)
        .await
        .expect("read")
        .expect("the row stays");
    assert_eq!((held.name.as_str(), held.phone_masked.as_str()), ("", ""));
    assert!(held.erased_at_ms.is_some());
    assert_eq!(held.phone_kept, 0, "the sealed number goes with the name");
    assert_eq!(held.attempts, 1, "the attempt stays as an anonymous row");
    let rows = app.state.store.participants(CAMPAIGN).await.expect("rows");
    assert_eq!(rows.len(), 3);
    let row = rows
        .iter()
        .find(|row| row.participant_id == deleted.id as i64)
        .expect("the row");
    assert_eq!((row.name.as_str(), row.phone_hash.as_str()), ("", ""));
    // Redis: no name, the person's own view shows nothing personal.
    let (status, mine) = get(
        &app,
        "/api/v1/campaigns/safety-month/me/privacy",
        Some(&deleted.token),
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(
        (mine["name"].as_str(), mine["phone_masked"].as_str()),
        (Some(""), Some(""))
    );

    // Every total and board is what it was; the row is on the boards without a name.
    let after = eventually(
        "the boards show the anonymous row",
        Duration::from_secs(10),
        || async {
            let boards = boards(&app).await;
            let anonymous = boards
                .1
                .as_array()?
                .iter()
                .any(|item| item["name_masked"] == "");
            anonymous.then_some(boards)
        },
    )
    .await;
    assert_eq!(after.0, before.0, "unit totals");
    assert_eq!(
        without_names(&after.1),
        without_names(&before.1),
        "the campaign's board"
    );
    assert_eq!(
        without_names(&after.2),
        without_names(&before.2),
        "the county's board"
    );

    let campaign = app
        .catalogue
        .campaign(CAMPAIGN)
        .expect("the campaign")
        .clone();
    let options = RecoveryOptions {
        participants_per_batch: 2,
    };
    let mut differences = Vec::new();
    recovery::reconcile_with(&app.state, &campaign, options, &mut |d| differences.push(d))
        .await
        .expect("reconcile");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "reconcile after the deletion"
    );
    assert!(
        app.state
            .store
            .check_rollups(CAMPAIGN)
            .await
            .expect("check")
            .is_empty(),
        "roll-ups"
    );
    // A rebuild from SQL gives the same, and no phone index entry for the anonymous row.
    recovery::rebuild_with(&app.state, &campaign, options)
        .await
        .expect("rebuild");
    let mut differences = Vec::new();
    recovery::reconcile_with(&app.state, &campaign, options, &mut |d| differences.push(d))
        .await
        .expect("reconcile");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "reconcile after a rebuild"
    );

    // The phone registers afresh, as a new participant.
    let again = app.register("张三丰", "13700000001", "110101").await;
    assert_ne!(again.id, deleted.id);

    // The audit trail has the deletion, without the name.
    let rows = app
        .state
        .store
        .audit_page(
            &safequiz_sql::audit::AuditQuery {
                campaign_id: Some(CAMPAIGN),
                from_ms: 0,
                to_ms: i64::MAX,
            },
            None,
            100,
        )
        .await
        .expect("the trail");
    let deletion = rows
        .iter()
        .find(|row| row.action == "self_deletion")
        .expect("a self_deletion row");
    assert_eq!(deletion.actor, format!("participant:{}", deleted.id));
    assert!(!deletion.detail.contains("张三丰"));
}
on_both!(a_deletion_keeps_totals_boards_and_reconcile_exact);

#[tokio::test]
async fn a_deletion_before_the_flush_leaves_no_name_in_sql() {
    let app = TestApp::builder()
        .clock_at(at(DURING))
        .flusher(false)
        .spawn()
        .await;
    let me = app.register("钱七七", "13600000001", "110101").await;
    let (status, body) = post(
        &app,
        &format!("/api/v1/campaigns/{CAMPAIGN}/me/deletion"),
        Some(&me.token),
        &json!({"phone": "13600000001"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // The registration's stream entry still carries the name: the flush must not bring it back.
    flush_all(&app).await;
    let rows = app.state.store.participants(CAMPAIGN).await.expect("rows");
    assert_eq!(rows.len(), 1, "recorded once");
    assert_eq!(
        (rows[0].name.as_str(), rows[0].phone_masked.as_str()),
        ("", "")
    );
    assert_eq!(
        app.state
            .store
            .participant_count(CAMPAIGN)
            .await
            .expect("count"),
        1
    );
    assert!(
        app.state
            .store
            .check_rollups(CAMPAIGN)
            .await
            .expect("check")
            .is_empty(),
        "the registration is counted once in the roll-ups"
    );
}

/// The public URLs of the service: every `GET` of the OpenAPI document without a security
/// requirement, placeholders filled, and the boards asked for each level.
async fn public_urls(app: &TestApp) -> Vec<String> {
    let (status, document) = get(app, "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let mut urls = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let Some(operation) = item.get("get") else {
            continue;
        };
        let secured = operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|schemes| {
                schemes
                    .iter()
                    .any(|s| s.as_object().is_some_and(|s| !s.is_empty()))
            });
        if secured {
            continue;
        }
        let path = path.replace("{cid}", CAMPAIGN);
        // A certificate's verification, asked with a serial whose MAC is wrong (the answer
        // for a real one is held to the masked name by `certificates::`).
        let path = path.replace("{serial}", &format!("{CAMPAIGN}.1.AAAAAAAAAAAAAAAA"));
        if path.contains("{file}") {
            for file in ["app.js", "app.css", "organizer.js", "organizer.css"] {
                urls.push(path.replace("{file}", file));
            }
            continue;
        }
        assert!(
            !path.contains('{'),
            "a public route with a placeholder this test does not fill: {path}"
        );
        urls.push(path);
    }
    for query in [
        "leaderboards/units?parent=region",
        "leaderboards/units?parent=110000",
        "leaderboards/units?parent=110100",
        "leaderboards/participants?limit=100",
        "leaderboards/participants?unit=110101&limit=100",
        "leaderboards/participants?unit=130102&limit=100",
        "units?entry=region",
        "units?parent=110100",
    ] {
        urls.push(format!("/api/v1/campaigns/{CAMPAIGN}/{query}"));
    }
    // The participant API without a token.
    for path in ["me", "me/privacy", "prizes/me"] {
        urls.push(format!("/api/v1/campaigns/{CAMPAIGN}/{path}"));
    }
    urls
}

#[tokio::test]
async fn no_public_endpoint_or_page_shows_a_full_name_or_phone() {
    let app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    let people = [
        ("欧阳振华", "13812345671", "110101"),
        ("李建国", "13812345672", "110101"),
        ("张伟", "13812345673", "130102"),
    ];
    for (name, phone, unit) in people {
        register_and_play(&app, name, phone, unit).await;
    }
    app.boards_caught_up().await;
    eventually(
        "the boards list everyone",
        Duration::from_secs(10),
        || async {
            let (_, board) = get(
                &app,
                &format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?limit=100"),
                None,
            )
            .await;
            (board["items"].as_array().map(Vec::len) == Some(3)).then_some(())
        },
    )
    .await;

    let urls = public_urls(&app).await;
    assert!(urls.len() >= 20, "{urls:?}");
    let mut board_seen = false;
    for url in &urls {
        let body = if url.ends_with("/leaderboards/stream") {
            // A live stream: its first event is the board.
            let mut response = app
                .client
                .get(format!("{}{url}", app.address))
                .send()
                .await
                .expect("an answer");
            let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
                .await
                .expect("a first event in time")
                .expect("a chunk")
                .unwrap_or_default();
            String::from_utf8_lossy(&chunk).into_owned()
        } else {
            app.get(url).await.text().await.expect("a body")
        };
        board_seen |= body.contains("李*国");
        for (name, phone, _) in people {
            assert!(!body.contains(name), "{url} shows the name {name}");
            assert!(!body.contains(phone), "{url} shows the phone {phone}");
            assert!(
                !body.contains(&phone[3..]),
                "{url} shows most of the phone {phone}"
            );
        }
    }
    assert!(board_seen, "the boards were read, with masked names");
}
