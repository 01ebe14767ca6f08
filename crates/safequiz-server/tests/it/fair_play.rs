//! Fair play (issue 21; docs/fair-play.md): the scripted crowd is flagged and ordinary people
//! are not, the organizers' review lists flags in scope with their evidence, and an exclusion and
//! its undo are audited.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_testapp::{CAMPAIGN, TestApp, eventually, status_and_json};
use serde_json::{Value, json};

#[path = "../../../safequiz-loadgen/src/crowd_plan.rs"]
#[allow(dead_code)]
mod crowd_plan;

use crowd_plan::{Group, Person, Step};

/// Midnight of a campaign day, Beijing time.
fn midnight() -> Timestamp {
    "2026-06-02T00:00:00+08:00".parse().expect("an instant")
}

/// A request as the page (or a script) sends it: device, client address, page token.
async fn send(
    app: &TestApp,
    person: &Person,
    page: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .header("X-Device", &person.device)
        .header("X-Forwarded-For", &person.address);
    if person.page {
        request = request.header("X-Page", page);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    status_and_json(request.send().await.expect("the server answers")).await
}

/// Plays `people` through the service in time order on the manual clock; returns their
/// participant ids and tokens.
async fn play_crowd(app: &TestApp, people: &[Person], units: &[&str]) -> Vec<(u64, String)> {
    let response = app.get("/api/v1/campaigns").await;
    let page = response
        .headers()
        .get("x-page-token")
        .and_then(|v| v.to_str().ok())
        .expect("the campaign list issues a page token")
        .to_owned();
    let mut tokens: HashMap<usize, (u64, String)> = HashMap::new();
    let mut attempts: HashMap<usize, Value> = HashMap::new();
    for (i, at, step) in crowd_plan::timeline(people) {
        app.clock
            .set(midnight() + jiff::SignedDuration::from_millis(at));
        let person = &people[i];
        match step {
            Step::Register => {
                let (status, body) = send(
                    app,
                    person,
                    &page,
                    Method::POST,
                    &format!("/api/v1/campaigns/{CAMPAIGN}/participants"),
                    None,
                    Some(json!({"name": "测试者", "phone": person.phone,
                                "unit_id": units[i % units.len()], "consent": true})),
                )
                .await;
                assert!(status == 201, "{status} {body}");
                tokens.insert(
                    i,
                    (
                        body["participant_id"].as_u64().expect("an id"),
                        body["token"].as_str().expect("a token").to_owned(),
                    ),
                );
            }
            Step::Start => {
                let (status, body) = send(
                    app,
                    person,
                    &page,
                    Method::POST,
                    &format!("/api/v1/campaigns/{CAMPAIGN}/attempts"),
                    Some(&tokens[&i].1),
                    None,
                )
                .await;
                assert_eq!(status, 201, "{body}");
                attempts.insert(i, body);
            }
            Step::Save(n) => {
                let attempt = &attempts[&i];
                let key = attempt["questions"][n]["options"][0]["key"].clone();
                let (status, body) = send(
                    app,
                    person,
                    &page,
                    Method::PUT,
                    &format!(
                        "/api/v1/attempts/{}/answers/{n}",
                        attempt["attempt_id"].as_str().expect("an id")
                    ),
                    Some(&tokens[&i].1),
                    Some(json!({ "choices": [key] })),
                )
                .await;
                assert_eq!(status, 204, "{body}");
            }
            Step::Submit => {
                let (status, body) = send(
                    app,
                    person,
                    &page,
                    Method::POST,
                    &format!(
                        "/api/v1/attempts/{}/submit",
                        attempts[&i]["attempt_id"].as_str().expect("an id")
                    ),
                    Some(&tokens[&i].1),
                    None,
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
        }
    }
    (0..people.len()).map(|i| tokens[&i].clone()).collect()
}

/// Waits until every observation of `expected` is in the record, then computes every signal of
/// the campaign (the worker computes what each pass touched; this is the same, once, over all).
async fn settle(app: &TestApp, expected: i64) {
    let store = app.state.store.clone();
    eventually("every observation written", Duration::from_secs(30), || {
        let store = store.clone();
        async move { (store.observation_count(CAMPAIGN).await.ok()? == expected).then_some(()) }
    })
    .await;
    let touched = store
        .everything_observed(CAMPAIGN)
        .await
        .expect("observations");
    store
        .compute_flags(CAMPAIGN, &touched, app.clock.now().as_millisecond())
        .await
        .expect("flags computed");
}

/// The share of each group flagged for any reason.
async fn shares(app: &TestApp, people: &[Person], ids: &[u64]) -> BTreeMap<Group, f64> {
    let flagged: BTreeSet<i64> = app
        .state
        .store
        .flags(CAMPAIGN)
        .await
        .expect("flags")
        .into_iter()
        .map(|f| f.participant_id)
        .collect();
    let mut counts: BTreeMap<Group, (usize, usize)> = BTreeMap::new();
    for (person, id) in people.iter().zip(ids) {
        let entry = counts.entry(person.group).or_default();
        entry.0 += 1;
        if flagged.contains(&(*id as i64)) {
            entry.1 += 1;
        }
    }
    counts
        .into_iter()
        .map(|(group, (all, flagged))| (group, flagged as f64 / all as f64))
        .collect()
}

async fn crowd_app() -> TestApp {
    TestApp::builder()
        .clock_at(midnight())
        .trusted_proxies(&["127.0.0.1"])
        .campaigns(|campaign| campaign.fair_play = true)
        .spawn()
        .await
}

#[tokio::test]
async fn the_scripted_crowd_is_flagged_and_ordinary_people_are_not() {
    let app = crowd_app().await;
    let people = crowd_plan::crowd(
        21,
        crowd_plan::Sizes {
            scripted: 40,
            factory: 60,
            scattered: 60,
            meeting: 40,
        },
        5,
        3_900_000_000,
    );
    let played = play_crowd(&app, &people, &["110101", "130102"]).await;
    let ids: Vec<u64> = played.iter().map(|(id, _)| *id).collect();
    let steps: usize = people.iter().map(|p| p.steps.len()).sum();
    settle(&app, steps as i64).await;
    let shares = shares(&app, &people, &ids).await;
    eprintln!("flagged shares: {shares:?}");
    for (group, share) in &shares {
        assert!(
            group.meets(*share),
            "{}: {share} flagged, target {}",
            group.name(),
            group.target()
        );
    }
    // Each scripted account has its reasons, with evidence.
    let flags = app.state.store.flags(CAMPAIGN).await.expect("flags");
    let first = ids[0] as i64;
    let reasons: BTreeSet<&str> = flags
        .iter()
        .filter(|f| f.participant_id == first)
        .map(|f| f.reason.as_str())
        .collect();
    for reason in [
        "shared_device",
        "device_burst",
        "no_page_load",
        "network_burst",
    ] {
        assert!(
            reasons.contains(reason),
            "{reason} missing from {reasons:?}"
        );
    }
}

/// A replica whose flusher runs elsewhere only ships its observations to Redis; the fair-play
/// worker of a flusher's process (`safequiz flush`) writes them and computes their signals, and
/// the shipments leave Redis once written.
#[tokio::test]
async fn a_replica_without_a_flusher_ships_observations_for_the_flushers_worker() {
    let app = TestApp::builder()
        .clock_at(midnight())
        .trusted_proxies(&["127.0.0.1"])
        .flusher(false)
        .campaigns(|campaign| campaign.fair_play = true)
        .spawn()
        .await;
    let people = crowd_plan::crowd(
        3,
        crowd_plan::Sizes {
            scripted: 4,
            factory: 0,
            scattered: 0,
            meeting: 0,
        },
        5,
        3_920_000_000,
    );
    let played = play_crowd(&app, &people, &["110101"]).await;
    let steps: usize = people.iter().map(|p| p.steps.len()).sum();
    let (hot, store) = (app.state.hot.clone(), app.state.store.clone());
    eventually(
        "the replica ships its observations",
        Duration::from_secs(30),
        || {
            let hot = hot.clone();
            async move { (hot.observations_waiting().await.ok()? > 0).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        store.observation_count(CAMPAIGN).await.expect("a count"),
        0,
        "a replica that only serves writes no observation itself"
    );

    let worker = std::sync::Arc::new(tokio::sync::Mutex::new(
        safequiz_server::workers::fair_play::SignalWorker::new("flush-process".to_owned()),
    ));
    let state = app.state.clone();
    eventually(
        "the worker writes every observation",
        Duration::from_secs(30),
        || {
            let (state, store, worker) = (state.clone(), store.clone(), worker.clone());
            async move {
                worker.lock().await.pass(&state, true).await.ok()?;
                (store.observation_count(CAMPAIGN).await.ok()? == steps as i64).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        hot.observations_waiting().await.expect("a length"),
        0,
        "written shipments are deleted"
    );
    let flags = store.flags(CAMPAIGN).await.expect("flags");
    for (id, _) in &played {
        assert!(
            flags
                .iter()
                .any(|f| f.participant_id == *id as i64 && f.reason == "no_page_load"),
            "scripted account {id} flagged for starting without the page: {flags:?}"
        );
    }
}

#[tokio::test]
async fn organizers_review_flags_in_scope_and_exclusions_are_audited() {
    let app = crowd_app().await;
    // Six scripted accounts on one device, half in each province; two ordinary people.
    let people = crowd_plan::crowd(
        7,
        crowd_plan::Sizes {
            scripted: 6,
            factory: 0,
            scattered: 2,
            meeting: 0,
        },
        5,
        3_910_000_000,
    );
    let played = play_crowd(&app, &people, &["110101", "130102"]).await;
    let ids: Vec<u64> = played.iter().map(|(id, _)| *id).collect();
    let steps: usize = people.iter().map(|p| p.steps.len()).sum();
    settle(&app, steps as i64).await;
    let hebei = app.organizer("130000", "hebei").await;
    let (status, body) = status_and_json(
        app.request(Method::GET, "/api/v1/organizer/flags", Some(&hebei), None)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<u64> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["participant_id"].as_u64().expect("an id"))
        .collect();
    // Only Hebei's scripted accounts (every other one: units alternate), never Beijing's.
    let mut expected: Vec<u64> = ids[..6].iter().copied().skip(1).step_by(2).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "{body}");
    let first = &body["items"][0];
    assert!(
        first["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .any(|f| f["reason"] == "shared_device" && f["evidence"]["participants"] == 6),
        "{first}"
    );
    // The level above sees each child unit's share.
    let units = body["units"].as_array().expect("units");
    assert!(!units.is_empty(), "{body}");

    // Out of scope: Beijing's participant cannot be excluded by Hebei.
    let path = |id: u64| format!("/api/v1/organizer/participants/{id}/exclusion");
    let reason = json!({"reason": "同一设备批量答题"});
    let (status, body) = status_and_json(
        app.request(Method::POST, &path(ids[0]), Some(&hebei), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // In scope: excluded once, refused twice, undone once; the figures leave the participant
    // out exactly while excluded.
    let counted = |listing: &Value| {
        listing["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|p| p["participant_id"] == ids[1])
            .map(|p| p["attempts"].as_i64().expect("attempts"))
    };
    let flags_page = || async {
        status_and_json(
            app.request(Method::GET, "/api/v1/organizer/flags", Some(&hebei), None)
                .await,
        )
        .await
        .1
    };
    eventually(
        "the attempt is recorded",
        Duration::from_secs(30),
        || async { (counted(&flags_page().await) == Some(1)).then_some(()) },
    )
    .await;
    let (status, body) = status_and_json(
        app.request(Method::POST, &path(ids[1]), Some(&hebei), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = status_and_json(
        app.request(Method::POST, &path(ids[1]), Some(&hebei), Some(&reason))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("already_excluded"))
    );
    let (status, body) = status_and_json(
        app.request(
            Method::POST,
            &path(ids[1]),
            Some(&hebei),
            Some(&json!({"reason": " "})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_reason"))
    );
    let (_, listed) = status_and_json(
        app.request(Method::GET, "/api/v1/organizer/flags", Some(&hebei), None)
            .await,
    )
    .await;
    assert_eq!(counted(&listed), Some(0), "{listed}");
    // Reconcile (Redis against the raw rows) stays clean: the rows are kept.
    app.record_caught_up().await;
    app.boards_caught_up().await;
    let campaign = app
        .catalogue
        .campaign(CAMPAIGN)
        .expect("the campaign")
        .clone();
    let differences = safequiz_server::recovery::reconcile(&app.state, &campaign)
        .await
        .expect("reconcile");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "reconcile after an exclusion"
    );
    // The participant still sees their own results, and why they no longer count.
    let (status, me) = status_and_json(
        app.request(
            Method::GET,
            &format!("/api/v1/campaigns/{CAMPAIGN}/me"),
            Some(&played[1].1),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["attempts"], 1, "{me}");
    assert_eq!(
        me["exclusion"]["message"], "成绩已被组织单位排除（原因：同一设备批量答题）",
        "{me}"
    );
    assert_eq!(
        app.state
            .store
            .check_rollups(CAMPAIGN)
            .await
            .expect("check"),
        vec![]
    );
    let excluded = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["participant_id"] == ids[1])
        .expect("the excluded participant is listed");
    assert_eq!(
        excluded["exclusion"]["reason"], "同一设备批量答题",
        "{listed}"
    );
    let undo = json!({"reason": "复核后确认为本人答题"});
    let (status, body) = status_and_json(
        app.request(Method::DELETE, &path(ids[1]), Some(&hebei), Some(&undo))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(counted(&flags_page().await), Some(1));
    assert_eq!(
        app.state
            .store
            .check_rollups(CAMPAIGN)
            .await
            .expect("check"),
        vec![]
    );
    assert!(
        app.state
            .store
            .exclusion(CAMPAIGN, ids[1] as i64)
            .await
            .expect("read")
            .is_none()
    );
    let trail = app
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
    let actions: Vec<&str> = trail.iter().map(|row| row.action.as_str()).collect();
    assert!(actions.contains(&"exclusion"), "{actions:?}");
    assert!(actions.contains(&"exclusion_undone"), "{actions:?}");
}

#[tokio::test]
async fn hidden_rankings_answer_404_while_organizer_figures_stay() {
    let app = TestApp::builder()
        .public_rankings(safequiz_domain::campaign::PublicRankings {
            units: false,
            individuals: false,
        })
        .spawn()
        .await;
    app.play(930_000_000, 2, &["110101"], 2).await;
    for path in [
        "leaderboards/units?parent=region",
        "leaderboards/participants",
        "leaderboards/stream?board=units&parent=region",
        "leaderboards/stream?board=participants",
    ] {
        let (status, body) = app
            .get_json(&format!("/api/v1/campaigns/{CAMPAIGN}/{path}"))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("rankings_hidden")),
            "{path}: {body}"
        );
    }
    let me = app.register("测试者", "13930000000", "110101").await;
    let (status, body) = app
        .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["points"].as_i64().is_some(), "{body}");
    assert!(
        body["ranks"]
            .as_array()
            .expect("ranks")
            .iter()
            .all(|rank| rank["rank"].is_null()),
        "{body}"
    );
    // Organizers still see the figures.
    let national = app.organizer(WHOLE_CAMPAIGN, "national").await;
    let (status, body) = status_and_json(
        app.request(
            Method::GET,
            "/api/v1/organizer/progress",
            Some(&national),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn shown_rankings_are_served() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_campaign_file_spells_the_rankings_switch() {
    let text =
        std::fs::read_to_string(safequiz_testapp::config_dir().join("campaigns/safety-month.toml"))
            .expect("the shipped campaign");
    let shipped = safequiz_domain::campaign::parse_campaign_file(&text).expect("parses");
    assert_eq!(
        shipped.public_rankings,
        safequiz_domain::campaign::PublicRankings::default()
    );
    let hidden = text.replacen(
        "# public_rankings = { units = false, individuals = false }",
        "public_rankings = { units = false }",
        1,
    );
    let file = safequiz_domain::campaign::parse_campaign_file(&hidden).expect("parses");
    assert!(!file.public_rankings.units && file.public_rankings.individuals);
}
