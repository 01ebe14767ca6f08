//! An organizer's exclusion takes a participant's results off the live unit totals, every
//! individual board and their ranks within the board writer's pass, attempts they make while
//! excluded count nowhere, and the undo puts back exactly what a record without the exclusion
//! holds (issue 21; `safequiz_redis::exclusions`). Reconcile, which compares Redis with the
//! record less its excluded participants, stays clean at every step.

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use safequiz_domain::board::UnitTotals;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_testapp::{
    CAMPAIGN, Participant, TestApp, Topology, on_both_topologies, status_and_json,
};
use serde_json::{Value, json};

/// A campaign morning, Beijing time.
fn morning() -> Timestamp {
    "2026-06-03T09:00:00+08:00".parse().expect("an instant")
}

/// Starts an attempt and submits it with `right` questions answered correctly.
async fn play(app: &TestApp, who: &Participant, right: usize) -> Value {
    let (status, attempt) = app.start_attempt(who).await;
    assert_eq!(status, 201, "{attempt}");
    let questions = attempt["questions"].as_array().expect("questions");
    let mut answers = serde_json::Map::new();
    for (index, question) in questions.iter().enumerate() {
        let keys = if index < right {
            app.correct_keys(question)
        } else {
            app.wrong_keys(question)
        };
        answers.insert(index.to_string(), json!(keys));
    }
    let id = attempt["attempt_id"].as_str().expect("an id");
    let (status, result) = app
        .submit(who, id, Some(&json!({ "answers": answers })))
        .await;
    assert_eq!(status, 200, "{result}");
    result
}

/// The units whose totals the test follows: the whole campaign, Beijing, its Dongcheng
/// district, and Hebei.
const FOLLOWED: [&str; 4] = [WHOLE_CAMPAIGN, "110000", "110101", "130000"];

async fn totals(app: &TestApp) -> Vec<UnitTotals> {
    app.state
        .hot
        .unit_totals(CAMPAIGN, app.state.shards, &FOLLOWED)
        .await
        .expect("unit totals")
}

/// The participant ids on the campaign's board and on Dongcheng's, best first.
async fn boards(app: &TestApp) -> (Vec<u64>, Vec<u64>) {
    let ids = |unit| async move {
        app.state
            .hot
            .top_participants(CAMPAIGN, app.state.shards, unit, 100)
            .await
            .expect("a board")
            .into_iter()
            .map(|entry| entry.participant)
            .collect::<Vec<u64>>()
    };
    (ids(None).await, ids(Some("110101")).await)
}

/// `who` leads the campaign's board and Dongcheng's.
async fn leads_both_boards(app: &TestApp, who: &Participant) {
    let (campaign_board, district_board) = boards(app).await;
    assert_eq!(campaign_board.first(), Some(&who.id), "{campaign_board:?}");
    assert_eq!(district_board.first(), Some(&who.id), "{district_board:?}");
}

async fn me(app: &TestApp, who: &Participant) -> Value {
    let (status, me) = app
        .get_as(who, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(status, 200, "{me}");
    me
}

async fn reconciled(app: &TestApp, when: &str) {
    app.record_caught_up().await;
    app.boards_caught_up().await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let differences = safequiz_server::recovery::reconcile(&app.state, &campaign)
        .await
        .expect("reconcile");
    assert_eq!(differences, Vec::<String>::new(), "reconcile {when}");
}

/// `totals` less one full-mark attempt of 5 points by one participant, on every followed unit
/// but Hebei's.
fn without_one_full_mark_attempt(totals: &[UnitTotals]) -> Vec<UnitTotals> {
    totals
        .iter()
        .zip(FOLLOWED)
        .map(|(t, unit)| {
            if unit == "130000" {
                *t
            } else {
                UnitTotals {
                    points: t.points - 5,
                    attempts: t.attempts - 1,
                    participants: t.participants - 1,
                    full_marks: t.full_marks - 1,
                }
            }
        })
        .collect()
}

on_both_topologies!(
    an_exclusion_takes_a_participant_off_every_live_board_and_an_undo_puts_them_back
);
async fn an_exclusion_takes_a_participant_off_every_live_board_and_an_undo_puts_them_back(
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .clock_at(morning())
        .spawn()
        .await;
    // The one to exclude answers everything right in Dongcheng; others score less, in
    // Dongcheng, another Beijing district and Hebei.
    let cheat = app.register("刷分者", "13700000001", "110101").await;
    let mut others = Vec::new();
    for (n, unit) in ["110101", "110102", "130102", "110101"].iter().enumerate() {
        let phone = format!("1370000001{n}");
        others.push(app.register("参赛者", &phone, unit).await);
    }
    assert_eq!(play(&app, &cheat, 5).await["score"], 5);
    for (n, who) in others.iter().enumerate() {
        play(&app, who, n % 4).await;
    }
    reconciled(&app, "before any exclusion").await;
    let before = totals(&app).await;
    leads_both_boards(&app, &cheat).await;
    assert_eq!(me(&app, &cheat).await["ranks"][0]["rank"], 1);

    // Excluded: off both boards and out of every total on the path, within the writer's pass.
    let beijing = app.organizer("110000", "beijing").await;
    let path = format!("/api/v1/organizer/participants/{}/exclusion", cheat.id);
    let reason = json!({"reason": "同一设备批量答题"});
    let (status, body) = status_and_json(
        app.request(Method::POST, &path, Some(&beijing), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    reconciled(&app, "after the exclusion").await;
    let excluded = totals(&app).await;
    assert_eq!(excluded, without_one_full_mark_attempt(&before));
    let (campaign_board, district_board) = boards(&app).await;
    assert!(!campaign_board.contains(&cheat.id), "{campaign_board:?}");
    assert!(!district_board.contains(&cheat.id), "{district_board:?}");
    assert_eq!(campaign_board.len(), others.len());
    // The next best now leads, and the excluded participant sees their results, no rank and
    // why, read from the hot state.
    let leader = others
        .iter()
        .find(|who| who.id == campaign_board[0])
        .expect("the leader is one of the others");
    assert_eq!(me(&app, leader).await["ranks"][0]["rank"], 1);
    let mine = me(&app, &cheat).await;
    assert_eq!(mine["attempts"], 1, "{mine}");
    assert!(
        mine["ranks"]
            .as_array()
            .expect("ranks")
            .iter()
            .all(|rank| rank["rank"].is_null()),
        "{mine}"
    );
    assert_eq!(
        mine["exclusion"]["message"], "成绩已被组织单位排除（原因：同一设备批量答题）",
        "{mine}"
    );
    // Excluding again is refused and changes nothing.
    let (status, body) = status_and_json(
        app.request(Method::POST, &path, Some(&beijing), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("already_excluded"))
    );

    // An attempt while excluded is the participant's own (their totals count it) but no
    // board's or unit's.
    app.clock.advance(SignedDuration::from_hours(24));
    assert_eq!(play(&app, &cheat, 5).await["score"], 5);
    reconciled(&app, "after an attempt while excluded").await;
    assert_eq!(totals(&app).await, excluded);
    assert!(!boards(&app).await.0.contains(&cheat.id));
    assert_eq!(me(&app, &cheat).await["attempts"], 2);
    // Redis lost and rebuilt from the record: the mark, the totals and the full-mark count the
    // undo needs come back, and still nothing on the boards.
    app.record_caught_up().await;
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut app.redis.connection().await)
        .await
        .expect("FLUSHALL");
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    safequiz_server::recovery::rebuild(&app.state, &campaign)
        .await
        .expect("rebuild");
    reconciled(&app, "after a rebuild while excluded").await;
    assert_eq!(totals(&app).await, excluded);
    assert!(!me(&app, &cheat).await["exclusion"].is_null());

    // Undone (a day later, by a colleague: the first session has expired): both attempts
    // count everywhere, as if the exclusion had never been.
    let colleague = app.organizer("110000", "beijing-2").await;
    let (status, body) = status_and_json(
        app.request(Method::DELETE, &path, Some(&colleague), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    reconciled(&app, "after the undo").await;
    let second_attempt = before
        .iter()
        .zip(FOLLOWED)
        .map(|(b, unit)| {
            if unit == "130000" {
                *b
            } else {
                UnitTotals {
                    points: b.points + 5,
                    attempts: b.attempts + 1,
                    full_marks: b.full_marks + 1,
                    ..*b
                }
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(totals(&app).await, second_attempt);
    leads_both_boards(&app, &cheat).await;
    let mine = me(&app, &cheat).await;
    assert_eq!(mine["points"], 10, "{mine}");
    assert_eq!(mine["ranks"][0]["rank"], 1, "{mine}");
    assert!(mine["exclusion"].is_null(), "{mine}");
}
