//! The organizer reports over the SQL record: scope on every endpoint, participant search, an
//! attempt's detail, figures, the question analysis, headcounts and exports. Every test whose
//! answer comes from SQL runs on SQLite and on PostgreSQL; the scope and session checks, decided
//! before any SQL (the store's own scope tests cover both databases), run on SQLite only.

use std::collections::HashMap;
use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use reqwest::Method;
use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN};
use safequiz_server::export::{DAILY_SERIES, Layout, PARTICIPANTS, UNIT_FIGURES};
use safequiz_sql::reports::ParticipantFilter;
use safequiz_testapp::{
    CAMPAIGN, Database, Participant, TestApp, eventually, on_both, status_and_json,
};
use serde_json::{Value, json};

const API: &str = "/api/v1/organizer";

/// The city of 长安区 (130102) and 桥西区 (130104).
const CITY: &str = "130100";
const COUNTY: &str = "130102";
const NEIGHBOUR: &str = "130104";

async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    status_and_json(app.request(Method::GET, path, Some(token), None).await).await
}

/// `POST /organizer/headcounts` with a raw CSV body.
async fn upload(app: &TestApp, token: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{API}/headcounts", app.address))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("an answer");
    status_and_json(response).await
}

async fn put_headcount(app: &TestApp, token: &str, unit: &str, body: Value) -> (u16, Value) {
    let path = format!("{API}/units/{unit}/headcount");
    status_and_json(
        app.request(Method::PUT, &path, Some(token), Some(&body))
            .await,
    )
    .await
}

/// Registers and plays one attempt, answering the first `right` questions correctly and the
/// rest wrongly; returns the participant and the submit's result (with the review).
async fn play_as(
    app: &TestApp,
    name: &str,
    phone: &str,
    unit: &str,
    right: usize,
) -> (Participant, Value) {
    let me = app.register(name, phone, unit).await;
    let (status, attempt) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let answers: serde_json::Map<String, Value> = attempt["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .enumerate()
        .map(|(index, question)| {
            let keys = if index < right {
                app.correct_keys(question)
            } else {
                app.wrong_keys(question)
            };
            (index.to_string(), json!(keys))
        })
        .collect();
    let (status, result) = app
        .submit(&me, &id, Some(&json!({ "answers": answers })))
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["score"], right, "{result}");
    (me, result)
}

/// Waits until the record holds `participants` participants and `attempts` attempts.
async fn wait_for_record(app: &TestApp, participants: i64, attempts: i64) {
    let filter = ParticipantFilter::default();
    eventually(
        "the flusher has written the participants and attempts",
        Duration::from_secs(20),
        || async {
            let page = app
                .state
                .store
                .participants_page(CAMPAIGN, &Scope::WholeCampaign, &filter, 1000, None)
                .await
                .ok()?;
            let written: i64 = page.items.iter().map(|row| row.attempts).sum();
            (page.total == participants && written == attempts).then_some(())
        },
    )
    .await;
}

/// A request to one report endpoint.
struct Endpoint {
    method: Method,
    path: String,
    json: Option<Value>,
    csv: Option<Vec<u8>>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every report endpoint asked about `unit`.
fn endpoints(unit: &str) -> Vec<Endpoint> {
    let get = |path: String| Endpoint {
        method: Method::GET,
        path: format!("{API}{path}"),
        json: None,
        csv: None,
    };
    let mut all = vec![
        get(format!("/participants?unit={unit}")),
        get(format!("/figures?unit={unit}")),
        get(format!("/daily?unit={unit}")),
        get(format!("/questions?unit={unit}")),
        Endpoint {
            method: Method::PUT,
            path: format!("{API}/units/{unit}/headcount"),
            json: Some(json!({"headcount": 5})),
            csv: None,
        },
        Endpoint {
            method: Method::POST,
            path: format!("{API}/headcounts"),
            json: None,
            csv: Some(format!("单位代码,应参与人数\n{unit},5\n").into_bytes()),
        },
    ];
    for report in ["participants", "units", "daily"] {
        for format in ["csv", "xlsx"] {
            all.push(get(format!("/exports/{report}.{format}?unit={unit}")));
        }
    }
    all
}

async fn send(app: &TestApp, token: &str, endpoint: &Endpoint) -> (u16, Value) {
    let mut request = app
        .client
        .request(
            endpoint.method.clone(),
            format!("{}{}", app.address, endpoint.path),
        )
        .bearer_auth(token);
    if let Some(json) = &endpoint.json {
        request = request.json(json);
    }
    if let Some(csv) = &endpoint.csv {
        request = request.header("content-type", "text/csv").body(csv.clone());
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_county_organizer_is_refused_every_report_outside_its_county() {
    let app = TestApp::spawn().await;
    let county = app.organizer(COUNTY, "changan").await;
    for (unit, why) in [
        (NEIGHBOUR, "the neighbour county"),
        (CITY, "its own city"),
        (WHOLE_CAMPAIGN, "the whole campaign"),
    ] {
        for endpoint in endpoints(unit) {
            let (status, body) = send(&app, &county, &endpoint).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (403, Some("out_of_scope")),
                "{why}: {endpoint}: {body}"
            );
        }
    }
    // Its own county reads; its own headcount is the city's to set.
    for endpoint in endpoints(COUNTY) {
        let (status, body) = send(&app, &county, &endpoint).await;
        let expected = if endpoint.method == Method::GET {
            200
        } else {
            403
        };
        assert_eq!(status, expected, "{endpoint}: {body}");
    }
    // The city sets its counties' headcounts.
    let city = app.organizer(CITY, "shijiazhuang").await;
    for endpoint in endpoints(COUNTY) {
        let (status, body) = send(&app, &city, &endpoint).await;
        assert_eq!(status, 200, "{endpoint}: {body}");
    }

    // A participant of the neighbour county is as invisible as one that does not exist.
    let (inside, _) = play_as(&app, "甲", "13800000001", COUNTY, 1).await;
    let (outside, _) = play_as(&app, "乙", "13800000002", NEIGHBOUR, 1).await;
    wait_for_record(&app, 2, 2).await;
    let detail = |id: u64| format!("{API}/participants/{id}/attempts");
    assert_eq!(get_as(&app, &county, &detail(inside.id)).await.0, 200);
    for id in [outside.id, 999_999] {
        let (status, body) = get_as(&app, &county, &detail(id)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{body}"
        );
    }
    assert_eq!(get_as(&app, &city, &detail(outside.id)).await.0, 200);
}

#[tokio::test]
async fn forged_and_expired_sessions_are_refused_by_every_report() {
    let app = TestApp::builder()
        .clock_at(super::at(super::DURING))
        .spawn()
        .await;
    let token = app.organizer(CITY, "shijiazhuang").await;
    let mut all = endpoints(COUNTY);
    all.push(Endpoint {
        method: Method::GET,
        path: format!("{API}/participants/1/attempts"),
        json: None,
        csv: None,
    });
    let forged = token.replacen("o2.k1.1.", "o2.k1.2.", 1);
    assert_ne!(forged, token, "the token names account 1");
    for endpoint in &all {
        let (status, body) = send(&app, &forged, endpoint).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized")),
            "forged: {endpoint}"
        );
    }
    // Past the session's lifetime (12 hours by default).
    app.clock.advance(jiff::SignedDuration::from_hours(13));
    for endpoint in &all {
        let (status, body) = send(&app, &token, endpoint).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized")),
            "expired: {endpoint}"
        );
    }
}

async fn participants_are_found_by_name_phone_unit_day_and_points(database: Database) {
    let app = TestApp::builder()
        .database(database)
        .clock_at(super::at(super::DURING))
        .spawn()
        .await;
    let city = app.organizer(CITY, "shijiazhuang").await;
    play_as(&app, "张三", "13800001111", COUNTY, 5).await;
    play_as(&app, "张四", "13800002222", COUNTY, 2).await;
    play_as(&app, "李四", "13800003333", NEIGHBOUR, 3).await;
    app.register("王五", "13800004444", COUNTY).await;
    play_as(&app, "赵六", "13800005555", "110101", 4).await;
    wait_for_record(&app, 5, 4).await;

    let names = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["name"].as_str().expect("a name").to_owned())
            .collect()
    };
    let cases = [
        (
            "",
            vec!["张三", "李四", "张四", "王五"],
            "the city, best first",
        ),
        ("&name=张", vec!["张三", "张四"], "a part of the name"),
        ("&phone=1111", vec!["张三"], "the phone's last digits"),
        (&format!("&unit={NEIGHBOUR}")[..], vec!["李四"], "a county"),
        ("&min_points=3", vec!["张三", "李四"], "at least 3 points"),
        ("&max_points=2", vec!["张四", "王五"], "at most 2 points"),
        (
            "&day=2026-06-10",
            vec!["张三", "李四", "张四"],
            "who played that day",
        ),
        ("&day=2026-06-11", vec![], "nobody played the next day"),
        (
            "&name=&phone=&day=",
            vec!["张三", "李四", "张四", "王五"],
            "empty form fields",
        ),
    ];
    for (filter, expected, why) in cases {
        let path = format!("{API}/participants?per_page=100{filter}");
        let (status, body) = get_as(&app, &city, &path).await;
        assert_eq!(status, 200, "{why}: {body}");
        assert_eq!(names(&body), expected, "{why}");
        assert_eq!(body["total"], expected.len(), "{why}");
    }

    let (_, first_two) = get_as(&app, &city, &format!("{API}/participants?per_page=2")).await;
    assert_eq!(names(&first_two), ["张三", "李四"]);
    let next = first_two["next"]
        .as_str()
        .expect("a cursor to the next page");
    let (_, page) = get_as(
        &app,
        &city,
        &format!("{API}/participants?per_page=2&after={next}"),
    )
    .await;
    assert_eq!(names(&page), ["张四", "王五"], "the page after the cursor");
    assert_eq!(
        (
            &page["total"],
            &page["more_than_total"],
            &page["per_page"],
            &page["next"]
        ),
        (&json!(4), &json!(false), &json!(2), &json!(null)),
        "the last page names no next page"
    );
    let (_, first) = get_as(&app, &city, &format!("{API}/participants?per_page=1")).await;
    let zhang = &first["items"][0];
    assert_eq!(zhang["phone_masked"], "138****1111");
    assert_eq!(zhang["unit_name"], "长安区");
    let path: Vec<&str> = zhang["unit_path"]
        .as_array()
        .expect("a path")
        .iter()
        .map(|unit| unit["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(path, ["河北省", "石家庄市", "长安区"]);
    assert_eq!(
        (&zhang["points"], &zhang["attempts"]),
        (&json!(5), &json!(1))
    );
    assert_eq!(zhang["full_marks"], 1);

    for (bad, why) in [
        ("per_page=101", "more than 100 a page"),
        ("page=2", "pages are asked for by cursor"),
        ("after=2.x.7", "a cursor that is not one"),
        ("day=6/10", "not a date"),
        ("phone=12345", "more than the 4 visible digits"),
        ("min_points=x", "not a number"),
        ("sort=name", "an unknown parameter"),
    ] {
        let (status, body) = get_as(&app, &city, &format!("{API}/participants?{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_request")),
            "{why}"
        );
    }
}

async fn an_attempt_shows_each_question_as_the_participant_saw_it(database: Database) {
    let app = TestApp::builder().database(database).spawn().await;
    let county = app.organizer(COUNTY, "changan").await;
    let (me, result) = play_as(&app, "张三", "13800001111", COUNTY, 3).await;
    wait_for_record(&app, 1, 1).await;

    let path = format!("{API}/participants/{}/attempts", me.id);
    let (status, body) = get_as(&app, &county, &path).await;
    assert_eq!(status, 200, "{body}");
    let attempts = body["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt["attempt_id"], result["attempt_id"]);
    assert_eq!(attempt["score"], 3);
    assert_eq!(attempt["correct_count"], 3);
    assert_eq!(attempt["auto_submitted"], false);
    assert_eq!(attempt["time_used_ms"], result["time_used_ms"]);
    assert_eq!(attempt["finished_at"], result["finished_at"]);
    let questions = attempt["questions"].as_array().expect("questions");
    let review = result["review"].as_array().expect("the review");
    assert_eq!(questions.len(), review.len());
    for (shown, seen) in questions.iter().zip(review) {
        for field in [
            "index",
            "id",
            "kind",
            "stem",
            "options",
            "choices",
            "correct_choices",
            "correct",
            "explanation",
            "source",
        ] {
            assert_eq!(shown[field], seen[field], "{field} of {}", seen["id"]);
        }
    }
}

async fn figures_count_what_was_played_with_today_beside_yesterday(database: Database) {
    let app = TestApp::builder()
        .database(database)
        .clock_at(super::at(super::DURING))
        .spawn()
        .await;
    let first = app
        .play(1_000, 4, &[COUNTY, COUNTY, COUNTY, NEIGHBOUR], 4)
        .await;
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let second = app.play(2_000, 2, &[COUNTY], 2).await;
    wait_for_record(&app, 6, 6).await;
    let points = |results: &[Value]| -> i64 {
        results
            .iter()
            .map(|r| r["score"].as_i64().expect("a score"))
            .sum()
    };
    let all_points = points(&first) + points(&second);

    let city = app.organizer(CITY, "shijiazhuang").await;
    let (status, body) = get_as(&app, &city, &format!("{API}/figures?sort=attempts")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["from"], &body["to"]),
        (&json!("2026-01-01"), &json!("2026-06-11")),
        "the window up to today by default"
    );
    let total = &body["total"];
    assert_eq!(total["unit_id"], CITY);
    assert_eq!(total["name"], "石家庄市");
    assert_eq!(
        (&total["participants"], &total["attempts"], &total["points"]),
        (&json!(6), &json!(6), &json!(all_points))
    );
    assert_eq!(total["full_marks"], 0);
    assert_eq!(
        total["avg_score"].as_f64(),
        Some(((all_points as f64 / 6.0) * 100.0).round() / 100.0)
    );
    let children = body["children"].as_array().expect("children");
    assert_eq!(children[0]["unit_id"], COUNTY, "sorted by attempts");
    assert_eq!(children[0]["attempts"], 5);
    assert_eq!(children[1]["unit_id"], NEIGHBOUR);
    assert_eq!(children[1]["participants"], 1);
    assert!(
        body["not_started"]
            .as_array()
            .expect("names")
            .contains(&json!("新华区"))
    );
    assert_eq!(
        (&body["today"]["date"], &body["today"]["attempts"]),
        (&json!("2026-06-11"), &json!(2))
    );
    assert_eq!(
        (&body["yesterday"]["date"], &body["yesterday"]["attempts"]),
        (&json!("2026-06-10"), &json!(4))
    );
    assert_eq!(body["today"]["points"], points(&second));

    let one_day = format!("{API}/figures?from=2026-06-10&to=2026-06-10");
    let (_, body) = get_as(&app, &city, &one_day).await;
    assert_eq!(body["total"]["attempts"], 4);

    let series = format!("{API}/daily?from=2026-06-09&to=2026-06-12");
    let (status, body) = get_as(&app, &city, &series).await;
    assert_eq!(status, 200, "{body}");
    let days: Vec<(&str, i64)> = body["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|d| {
            (
                d["date"].as_str().expect("a date"),
                d["attempts"].as_i64().expect("attempts"),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-06-09", 0),
            ("2026-06-10", 4),
            ("2026-06-11", 2),
            ("2026-06-12", 0)
        ]
    );

    for bad in [
        "from=2026-06-11&to=2026-06-10",
        "from=2025-01-01&to=2026-06-10",
    ] {
        let (status, body) = get_as(&app, &city, &format!("{API}/figures?{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_request")),
            "{bad}"
        );
    }
}

async fn question_analysis_counts_draws_right_answers_and_the_most_chosen_wrong_option(
    database: Database,
) {
    let app = TestApp::builder().database(database).spawn().await;
    let county = app.organizer(COUNTY, "changan").await;
    let mut reviews = Vec::new();
    for (i, right) in [4, 2, 0].into_iter().enumerate() {
        let phone = format!("1380000000{i}");
        reviews.push(play_as(&app, "测试者", &phone, COUNTY, right).await.1);
    }
    wait_for_record(&app, 3, 3).await;
    // The question counters follow the flush by a fold beside the flusher.
    eventually(
        "the question fold has counted the flushed attempts",
        Duration::from_secs(20),
        || async {
            let pending = app.state.store.questions_pending(CAMPAIGN).await.ok()?;
            (pending == 0).then_some(())
        },
    )
    .await;

    // What the analysis must say, from the reviews the participants got: per question, draws,
    // right answers, and each wrong answer as option texts.
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("the campaign");
    let mut expected: HashMap<String, (u64, u64, Vec<Vec<String>>)> = HashMap::new();
    for review in reviews
        .iter()
        .flat_map(|r| r["review"].as_array().expect("a review"))
    {
        let id = review["id"].as_str().expect("an id").to_owned();
        let entry = expected.entry(id).or_default();
        entry.0 += 1;
        if review["correct"] == true {
            entry.1 += 1;
        } else {
            let chosen: Vec<String> = review["options"]
                .as_array()
                .expect("options")
                .iter()
                .filter(|option| {
                    review["choices"]
                        .as_array()
                        .expect("keys")
                        .contains(&option["key"])
                })
                .map(|option| option["text"].as_str().expect("text").to_owned())
                .collect();
            entry.2.push(chosen);
        }
    }

    let (status, body) = get_as(&app, &county, &format!("{API}/questions")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pending_attempts"], 0, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), expected.len());
    let shares: Vec<f64> = items
        .iter()
        .map(|item| item["share_correct"].as_f64().expect("a share"))
        .collect();
    assert!(shares.is_sorted(), "the worst first: {shares:?}");
    for item in items {
        let id = item["question_id"].as_str().expect("an id");
        let (drawn, correct, wrong) = &expected[id];
        assert_eq!(item["drawn"], *drawn, "{id}");
        assert_eq!(
            item["answered"], *drawn,
            "every question was answered: {id}"
        );
        assert_eq!(item["correct"], *correct, "{id}");
        let question = campaign.pool.find(id).expect("in the bank");
        assert_eq!(item["stem"], question.stem.as_str());
        match wrong.first() {
            None => assert_eq!(item["most_chosen_wrong"], Value::Null, "{id}"),
            Some(texts) if wrong.len() == 1 => {
                // Keys and texts follow the bank's option order, whatever order the
                // participant saw.
                let mut indices: Vec<usize> = texts
                    .iter()
                    .map(|text| {
                        question
                            .options
                            .iter()
                            .position(|o| o == text)
                            .expect("an option of the bank")
                    })
                    .collect();
                indices.sort_unstable();
                let keys: Vec<String> = indices
                    .iter()
                    .map(|&i| question.kind.option_key(i).to_string())
                    .collect();
                let texts: Vec<&str> = indices
                    .iter()
                    .map(|&i| question.options[i].as_str())
                    .collect();
                let most = &item["most_chosen_wrong"];
                assert_eq!(most["choices"], json!(keys), "{id}");
                assert_eq!(most["texts"], json!(texts), "{id}");
                assert_eq!(most["count"], 1);
            }
            Some(_) => assert!(item["most_chosen_wrong"]["count"].as_u64() >= Some(1)),
        }
    }
}

async fn a_headcount_set_by_the_city_gives_its_county_a_participation_rate(database: Database) {
    let app = TestApp::builder().database(database).spawn().await;
    let city = app.organizer(CITY, "shijiazhuang").await;
    let (status, body) = put_headcount(&app, &city, COUNTY, json!({"headcount": 4})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"unit_id": COUNTY, "name": "长安区", "headcount": 4})
    );
    app.play(3_000, 2, &[COUNTY], 2).await;
    wait_for_record(&app, 2, 2).await;

    let county = |body: &Value| -> Value {
        body["children"]
            .as_array()
            .expect("children")
            .iter()
            .find(|child| child["unit_id"] == COUNTY)
            .expect("the county")
            .clone()
    };
    let (_, body) = get_as(
        &app,
        &city,
        &format!("{API}/figures?sort=participation_rate"),
    )
    .await;
    let changan = county(&body);
    assert_eq!(
        (&changan["headcount"], &changan["participation_rate"]),
        (&json!(4), &json!(0.5))
    );
    assert_eq!(
        body["children"][0]["unit_id"], COUNTY,
        "ranked first by rate"
    );
    assert_eq!(county(&body)["participants"], 2);

    for (value, status, code) in [
        (json!({"headcount": -1}), 422, "invalid_headcount"),
        (json!({"headcount": "many"}), 400, "bad_request"),
        (json!({}), 400, "bad_request"),
    ] {
        let (got, body) = put_headcount(&app, &city, COUNTY, value.clone()).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{value}"
        );
    }
    let (status, _) = put_headcount(&app, &city, COUNTY, json!({"headcount": null})).await;
    assert_eq!(status, 200);
    let (_, body) = get_as(&app, &city, &format!("{API}/figures")).await;
    let changan = county(&body);
    assert_eq!(
        (&changan["headcount"], &changan["participation_rate"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        put_headcount(&app, &city, "999999", json!({"headcount": 1}))
            .await
            .0,
        404
    );
}

async fn a_headcount_upload_writes_every_row_or_none(database: Database) {
    let app = TestApp::builder().database(database).spawn().await;
    let city = app.organizer(CITY, "shijiazhuang").await;
    let headcounts = || async {
        let (_, body) = get_as(&app, &city, &format!("{API}/figures")).await;
        body["children"]
            .as_array()
            .expect("children")
            .iter()
            .filter(|child| !child["headcount"].is_null())
            .map(|child| {
                (
                    child["unit_id"].as_str().expect("an id").to_owned(),
                    child["headcount"].as_i64().expect("a number"),
                )
            })
            .collect::<Vec<_>>()
    };

    // UTF-8 with a BOM, one bad number and one unknown unit: nothing is written.
    let bad =
        "\u{feff}单位代码,应参与人数\r\n130102,100\r\n130104,一百\r\n999999,5\r\n130105,7\r\n";
    let (status, body) = upload(&app, &city, bad.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_headcount")),
        "{body}"
    );
    let rows: Vec<u64> = body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["row"].as_u64().expect("a number"))
        .collect();
    assert_eq!(rows, [3], "the unreadable number first: {body}");
    let unknown = "单位代码,应参与人数\n130102,100\n999999,5\n";
    let (status, body) = upload(&app, &city, unknown.as_bytes().to_vec()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["rows"][0]["row"], 3);
    assert_eq!(headcounts().await, []);

    // A unit of another city refuses the whole table.
    let outside = "130102,100\n130202,5\n";
    let (status, body) = upload(&app, &city, outside.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("out_of_scope")),
        "{body}"
    );
    assert_eq!(headcounts().await, []);

    // GB18030, as Excel on a Chinese Windows saves CSV.
    let text = "单位代码,应参与人数\r\n130102,100\r\n130104,\"1,500\"\r\n130105,\r\n";
    let (gb18030, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gb18030).is_err(), "really not UTF-8");
    let (status, body) = upload(&app, &city, gb18030.into_owned()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"updated": 2, "skipped": [4]}));
    assert_eq!(
        headcounts().await,
        [("130102".to_owned(), 100), ("130104".to_owned(), 1500)]
    );
}

/// The value of `filename*=UTF-8''...` in a Content-Disposition, percent-decoded.
fn utf8_filename(disposition: &str) -> String {
    let encoded = disposition
        .split("filename*=UTF-8''")
        .nth(1)
        .expect("a filename* parameter")
        .split(';')
        .next()
        .expect("a value");
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).expect("hex digits");
            bytes.push(u8::from_str_radix(hex, 16).expect("a byte"));
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).expect("UTF-8")
}

async fn exports_download_with_the_cookie_as_csv_and_xlsx_with_the_same_rows(database: Database) {
    let app = TestApp::builder()
        .database(database)
        .clock_at(super::at(super::DURING))
        .spawn()
        .await;
    app.play(4_000, 3, &[COUNTY, COUNTY, NEIGHBOUR], 3).await;
    wait_for_record(&app, 3, 3).await;
    app.organizer(COUNTY, "changan").await;
    let login = app
        .request(
            Method::POST,
            &format!("{API}/login"),
            None,
            Some(&json!({"username": "changan", "password": "anquan2026yue"})),
        )
        .await;
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();

    let download = |path: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}{API}{path}", app.address))
                .header("cookie", cookie)
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 200, "{path}");
            let headers = response.headers().clone();
            let header = |name: &str| headers[name].to_str().expect("ASCII").to_owned();
            let (disposition, content_type) =
                (header("content-disposition"), header("content-type"));
            assert_eq!(header("cache-control"), "no-store");
            let body = response.bytes().await.expect("a body").to_vec();
            (disposition, content_type, body)
        }
    };
    let reports: [(&str, Layout, &str, &str, usize); 3] = [
        (
            "participants",
            PARTICIPANTS,
            "参与人员-长安区-2026-06-10",
            "participants-130102-2026-06-10",
            2,
        ),
        (
            "units",
            UNIT_FIGURES,
            "单位统计-长安区-2026-01-01至2026-06-10",
            "units-130102-2026-01-01_2026-06-10",
            1,
        ),
        (
            "daily",
            DAILY_SERIES,
            "每日统计-长安区-2026-06-10",
            "daily-130102-2026-06-10",
            1,
        ),
    ];
    for (report, layout, title, ascii, rows) in reports {
        let query = if report == "daily" {
            "?from=2026-06-10&to=2026-06-10"
        } else {
            ""
        };
        let (disposition, content_type, csv) =
            download(format!("/exports/{report}.csv{query}")).await;
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert_eq!(utf8_filename(&disposition), format!("{title}.csv"));
        assert!(
            disposition.contains(&format!("filename=\"{ascii}.csv\"")),
            "{disposition}"
        );
        assert_eq!(content_type, "text/csv; charset=utf-8");
        assert!(
            csv.starts_with(b"\xEF\xBB\xBF"),
            "{report}: the BOM Excel needs"
        );
        let text = std::str::from_utf8(&csv[3..]).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            layout.headers.join(","),
            "{report}: the header in Chinese"
        );
        // The unit figures end with the county's total row (a county has no children).
        assert_eq!(lines.len(), 1 + rows, "{report}: {text}");

        let (disposition, content_type, xlsx) =
            download(format!("/exports/{report}.xlsx{query}")).await;
        assert_eq!(utf8_filename(&disposition), format!("{title}.xlsx"));
        assert!(
            content_type.starts_with("application/vnd.openxmlformats"),
            "{content_type}"
        );
        let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).expect("an XLSX file");
        let range = workbook.worksheet_range(layout.sheet).expect("the sheet");
        let sheet: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
        assert_eq!(
            sheet.len(),
            lines.len(),
            "{report}: as many rows as the CSV"
        );
        let header: Vec<String> = sheet[0].iter().map(ToString::to_string).collect();
        assert_eq!(header, layout.headers, "{report}");
    }
    let (status, body) = status_and_json(
        app.client
            .get(format!("{}{API}/exports/participants.pdf", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

on_both!(participants_are_found_by_name_phone_unit_day_and_points);
on_both!(an_attempt_shows_each_question_as_the_participant_saw_it);
on_both!(figures_count_what_was_played_with_today_beside_yesterday);
on_both!(question_analysis_counts_draws_right_answers_and_the_most_chosen_wrong_option);
on_both!(a_headcount_set_by_the_city_gives_its_county_a_participation_rate);
on_both!(a_headcount_upload_writes_every_row_or_none);
on_both!(exports_download_with_the_cookie_as_csv_and_xlsx_with_the_same_rows);
