//! Roll-ups and boards equal the sums and the order of what the API returned, at every level;
//! boards are shared snapshots with caching headers, computed once per interval however many
//! requests ask for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use safequiz_testapp::{CAMPAIGN, Participant, TestApp, Topology, eventually, on_both_topologies};
use serde_json::{Value, json};

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Figures {
    points: u64,
    attempts: u64,
    participants: u64,
    full_marks: u64,
}

struct Finished {
    participant: u64,
    points: i64,
    time_used_ms: i64,
    finished_at: jiff::Timestamp,
    unit: String,
}

/// Leaves under a few provinces (with and without a city level) and some enterprises.
fn leaves(app: &TestApp) -> Vec<String> {
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign");
    let tree = &campaign.units;
    let mut leaves = Vec::new();
    for root in ["110000", "130000", "650000", "660000"] {
        let root = tree.find(root).expect("a province");
        let mut under: Vec<String> = tree
            .units()
            .iter()
            .enumerate()
            .filter(|(_, unit)| unit.children.is_empty())
            .filter_map(|(index, unit)| {
                let ix = tree.find(&unit.id)?;
                (tree.is_within(ix, root) && index % 7 == 0).then(|| unit.id.clone())
            })
            .collect();
        under.truncate(6);
        leaves.extend(under);
    }
    leaves.extend(["CE001", "CE002", "CE050"].map(str::to_owned));
    leaves
}

// On a Redis Cluster too: every read merges shards that live on different primaries.
on_both_topologies!(roll_ups_and_boards_equal_the_sums_and_order_of_the_results);
async fn roll_ups_and_boards_equal_the_sums_and_order_of_the_results(topology: Topology) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .spawn()
        .await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let tree = &campaign.units;
    let leaves = leaves(&app);
    let mut rng = StdRng::seed_from_u64(7);
    let mut results = Vec::new();
    let mut people: Vec<(Participant, String)> = Vec::new();
    for n in 0..240u64 {
        let unit = leaves[rng.random_range(0..leaves.len())].clone();
        let phone = format!("137{:08}", n);
        let participant = app.register("测试者", &phone, &unit).await;
        people.push((participant, unit));
    }
    for (participant, unit) in &people {
        let (status, attempt) = app.start_attempt(participant).await;
        assert_eq!(status, 201, "{attempt}");
        let mut answers = serde_json::Map::new();
        for (index, question) in attempt["questions"]
            .as_array()
            .expect("q")
            .iter()
            .enumerate()
        {
            let keys = if rng.random_bool(0.6) {
                app.correct_keys(question)
            } else {
                app.wrong_keys(question)
            };
            answers.insert(index.to_string(), json!(keys));
        }
        let id = attempt["attempt_id"].as_str().expect("id");
        let (status, result) = app
            .submit(participant, id, Some(&json!({ "answers": answers })))
            .await;
        assert_eq!(status, 200, "{result}");
        results.push(Finished {
            participant: participant.id,
            points: result["score"].as_i64().expect("score"),
            time_used_ms: result["time_used_ms"].as_i64().expect("time"),
            finished_at: result["finished_at"]
                .as_str()
                .expect("at")
                .parse()
                .expect("instant"),
            unit: unit.clone(),
        });
    }

    // Unit figures and boards follow the board writer's pass.
    app.boards_caught_up().await;
    let mut expected: HashMap<String, Figures> = HashMap::new();
    for result in &results {
        let ix = tree.find(&result.unit).expect("unit");
        for ancestor in tree.ancestors(ix) {
            let figures = expected.entry(tree.get(ancestor).id.clone()).or_default();
            figures.points += result.points as u64;
            figures.attempts += 1;
            figures.participants += 1;
            figures.full_marks += u64::from(result.points == 5);
        }
    }

    let mut parents = vec!["region".to_owned(), "enterprise".to_owned()];
    parents.extend(
        expected
            .keys()
            .filter(|id| {
                tree.find(id)
                    .is_some_and(|ix| !tree.get(ix).children.is_empty())
            })
            .cloned(),
    );
    let mut checked = 0;
    for parent in &parents {
        let (status, board) = app
            .get_json(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent={parent}"
            ))
            .await;
        assert_eq!(status, 200, "{board}");
        let items = board["items"].as_array().expect("items");
        let mut previous = u64::MAX;
        for item in items {
            let id = item["unit_id"].as_str().expect("id");
            let want = expected.get(id).copied().unwrap_or_default();
            let got = Figures {
                points: item["points"].as_u64().expect("points"),
                attempts: item["attempts"].as_u64().expect("attempts"),
                participants: item["participants"].as_u64().expect("participants"),
                full_marks: item["full_marks"].as_u64().expect("full marks"),
            };
            assert_eq!(got, want, "unit {id} under {parent}");
            assert!(got.points <= previous, "sorted by points under {parent}");
            previous = got.points;
            checked += 1;
        }
    }
    assert!(checked > 50, "checked {checked} units");

    // The individual board, campaign-wide and per unit: the published total order.
    results.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(a.time_used_ms.cmp(&b.time_used_ms))
            .then(a.finished_at.cmp(&b.finished_at))
            .then(a.participant.cmp(&b.participant))
    });
    for unit in [None, Some("130000"), Some(leaves[0].as_str())] {
        let query = unit.map_or(String::new(), |u| format!("&unit={u}"));
        let (status, board) = app
            .get_json(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?limit=50{query}"
            ))
            .await;
        assert_eq!(status, 200, "{board}");
        let want: Vec<(i64, i64, &str)> = results
            .iter()
            .filter(|r| {
                unit.is_none_or(|u| {
                    tree.is_within(
                        tree.find(&r.unit).expect("unit"),
                        tree.find(u).expect("unit"),
                    )
                })
            })
            .take(50)
            .map(|r| (r.points, r.time_used_ms, r.unit.as_str()))
            .collect();
        let got: Vec<(i64, i64, &str)> = board["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                assert_eq!(item["name_masked"], "测*者");
                assert!(!item.to_string().contains("137"), "no phone number");
                (
                    item["points"].as_i64().expect("points"),
                    item["time_used_ms"].as_i64().expect("time"),
                    item["unit_id"].as_str().expect("unit"),
                )
            })
            .collect();
        assert_eq!(got, want, "board of {unit:?}");
    }

    // My rank at every level equals my position in the full order of that level.
    for (participant, unit) in people.iter().step_by(3) {
        let (_, me) = app
            .get_as(participant, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
            .await;
        let ranks = me["ranks"].as_array().expect("ranks");
        let ix = tree.find(unit).expect("unit");
        let mut levels: Vec<Option<String>> = vec![None];
        levels.extend(
            tree.path(ix)
                .into_iter()
                .map(|a| Some(tree.get(a).id.clone())),
        );
        assert_eq!(ranks.len(), levels.len());
        for (rank, level) in ranks.iter().zip(&levels) {
            let position = results
                .iter()
                .filter(|r| {
                    level.as_ref().is_none_or(|l| {
                        tree.is_within(
                            tree.find(&r.unit).expect("unit"),
                            tree.find(l).expect("unit"),
                        )
                    })
                })
                .position(|r| r.participant == participant.id)
                .expect("the participant is on the board");
            assert_eq!(rank["rank"], json!(position + 1), "level {level:?}: {me}");
        }
    }
    let _: Value = Value::Null;
}

/// The value of the response header `name`.
fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name]
        .to_str()
        .expect("a text header")
        .to_owned()
}

/// `GET path` with `If-None-Match: etag`: the status, the `ETag` and the body.
async fn revalidate(app: &TestApp, path: &str, etag: &str) -> (u16, String, bytes::Bytes) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("the test server answers");
    let (status, tag) = (response.status().as_u16(), header(&response, "etag"));
    (status, tag, response.bytes().await.expect("a body"))
}

/// Polls `path` with `If-None-Match: etag` until it answers a new board; its tag and body.
async fn changed_board(app: &TestApp, what: &str, path: &str, etag: &str) -> (String, Value) {
    eventually(
        &format!("{what} shows the finished attempts"),
        Duration::from_secs(10),
        || async {
            let (status, tag, body) = revalidate(app, path, etag).await;
            (status == 200).then(|| {
                let board: Value = serde_json::from_slice(&body).expect("JSON");
                (tag, board)
            })
        },
    )
    .await
}

fn item_of<'a>(board: &'a Value, unit: &str) -> Option<&'a Value> {
    board["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["unit_id"] == unit)
}

#[tokio::test]
async fn boards_carry_a_tag_and_answer_304_until_they_change_then_200_with_a_new_tag() {
    let app = TestApp::builder().shards(4).spawn().await;
    let units = format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000");
    let people = format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?unit=110000");
    let mut tags = Vec::new();
    for path in [&units, &people] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), "public, max-age=1");
        let etag = header(&response, "etag");
        assert!(
            etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
            "a strong tag: {etag}"
        );
        let (status, again, body) = revalidate(&app, path, &etag).await;
        assert_eq!(status, 304, "{path}");
        assert_eq!(again, etag, "a 304 names the snapshot");
        assert!(body.is_empty(), "a 304 has no body");
        tags.push(etag);
    }

    let results = app.play(81_000, 3, &["110101"], 3).await;
    let points: u64 = results
        .iter()
        .map(|result| result["score"].as_u64().expect("score"))
        .sum();

    let (etag, board) = changed_board(&app, "the unit board", &units, &tags[0]).await;
    assert_ne!(etag, tags[0]);
    let dongcheng = item_of(&board, "110101").expect("东城区");
    assert_eq!(dongcheng["attempts"], 3);
    assert_eq!(dongcheng["points"], json!(points));
    let (status, _, body) = revalidate(&app, &units, &etag).await;
    assert_eq!((status, body.len()), (304, 0), "the new tag revalidates");

    let (etag, board) = changed_board(&app, "the individual board", &people, &tags[1]).await;
    assert_ne!(etag, tags[1]);
    assert_eq!(board["items"].as_array().expect("items").len(), 3);
}

#[tokio::test]
async fn concurrent_requests_for_a_cold_board_cause_one_computation_whatever_their_spelling() {
    let app = TestApp::builder().shards(4).spawn().await;
    app.play(82_000, 4, &["130102", "130104"], 4).await;
    let interval = app.state.boards.interval();
    let spellings = [
        "units?parent=130000",
        "units?parent=130000&sort=points",
        "units?sort=points&parent=130000",
    ];
    let before = app.state.boards.computations();

    let paths: Vec<String> = (0..48)
        .map(|n| {
            format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/{}",
                spellings[n % spellings.len()]
            )
        })
        .collect();

    let started = Instant::now();
    let requests = paths.iter().map(|path| app.get(path));
    let responses = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed();

    let computations = app.state.boards.computations() - before;
    // One computation per interval at most: exactly one when the requests took less than an
    // interval, as they do unless the machine stalls.
    let allowed = 1 + (elapsed.as_millis() / interval.as_millis()) as u64;
    assert!(
        computations >= 1 && computations <= allowed,
        "{computations} computations for 48 requests in {elapsed:?}"
    );
    let mut bodies = Vec::new();
    let mut tags = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        tags.push(header(&response, "etag"));
        bodies.push(response.bytes().await.expect("a body"));
    }
    if computations == 1 {
        assert!(tags.iter().all(|tag| *tag == tags[0]), "one snapshot");
        assert!(
            bodies.iter().all(|body| *body == bodies[0]),
            "the same bytes"
        );
    }
    let board: Value = serde_json::from_slice(&bodies[0]).expect("JSON");
    assert_eq!(board["totals"]["attempts"], 4);

    // Another sort is another board; a bad query is still refused and computes nothing.
    let before = app.state.boards.computations();
    let (status, board) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=130000&sort=attempts"
        ))
        .await;
    assert_eq!((status, board["sort"].as_str()), (200, Some("attempts")));
    for (query, status) in [
        ("units?parent=nowhere", 404),
        ("units?parent=130000&sort=name", 400),
        ("participants?limit=0", 400),
        ("participants?limit=101", 400),
        ("participants?unit=nowhere", 404),
    ] {
        let response = app
            .get(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/{query}"
            ))
            .await;
        assert_eq!(response.status().as_u16(), status, "{query}");
    }
    assert_eq!(app.state.boards.computations() - before, 1);
}

/// Plays one attempt of `who` with the first `right` questions answered rightly, the rest
/// wrongly; returns the submit's result.
async fn play_with(app: &TestApp, who: &Participant, right: usize) -> Value {
    let (status, attempt) = app.start_attempt(who).await;
    assert_eq!(status, 201, "{attempt}");
    let mut answers = serde_json::Map::new();
    for (index, question) in attempt["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .enumerate()
    {
        let keys = if index < right {
            app.correct_keys(question)
        } else {
            app.wrong_keys(question)
        };
        answers.insert(index.to_string(), json!(keys));
    }
    let id = attempt["attempt_id"].as_str().expect("id");
    let (status, result) = app
        .submit(who, id, Some(&json!({ "answers": answers })))
        .await;
    assert_eq!(status, 200, "{result}");
    result
}

/// The ranks `GET /me` shows `who`, campaign first.
async fn my_ranks(app: &TestApp, who: &Participant) -> Vec<Value> {
    let (status, me) = app
        .get_as(who, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(status, 200, "{me}");
    me["ranks"]
        .as_array()
        .expect("ranks")
        .iter()
        .map(|rank| rank["rank"].clone())
        .collect()
}

// The result page asks `me` right after a submit: its rank counts that attempt at once (against
// the boards as the board writer left them), while other participants' ranks and the public
// boards, shared snapshots, show it within one interval and the writer's pass.
on_both_topologies!(
    a_finished_attempt_is_in_my_standing_at_once_and_on_every_board_within_the_interval
);
async fn a_finished_attempt_is_in_my_standing_at_once_and_on_every_board_within_the_interval(
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
        .shards(4)
        .spawn()
        .await;
    let interval = app.state.boards.interval();
    let first = app.register("王小明", "13900000001", "110101").await;
    let second = app.register("李四光", "13900000002", "110101").await;
    assert_eq!(
        my_ranks(&app, &first).await,
        vec![Value::Null; 3],
        "no rank yet"
    );

    let slow = play_with(&app, &first, 2).await;
    assert_eq!(my_ranks(&app, &first).await, vec![json!(1); 3]);
    // The boards are now snapshots holding the first attempt only.
    let people = format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?unit=110101");
    let units = format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000");
    eventually(
        "the board shows the first attempt",
        interval * 4,
        || async {
            let (_, board) = app.get_json(&people).await;
            (board["items"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    )
    .await;

    let fast = play_with(&app, &second, 5).await;
    let submitted = Instant::now();
    assert!(fast["score"].as_i64() > slow["score"].as_i64());
    // Their own new score counts at once; the other's rank follows the board writer's pass.
    assert_eq!(my_ranks(&app, &second).await, vec![json!(1); 3], "at once");
    eventually("the first participant is second", interval * 4, || async {
        (my_ranks(&app, &first).await == vec![json!(2); 3]).then_some(())
    })
    .await;

    let names = eventually(
        "the individual board shows both attempts",
        interval * 4,
        || async {
            let (_, board) = app.get_json(&people).await;
            let items = board["items"].as_array().expect("items").clone();
            (items.len() == 2).then_some(items)
        },
    )
    .await;
    let seen_after = submitted.elapsed();
    let shown: Vec<(&str, &Value)> = names
        .iter()
        .map(|item| (item["name_masked"].as_str().expect("name"), &item["points"]))
        .collect();
    assert_eq!(
        shown,
        vec![("李*光", &fast["score"]), ("王*明", &slow["score"])],
        "best first, each with their own name"
    );
    let (_, board) = app.get_json(&units).await;
    let dongcheng = item_of(&board, "110101").expect("东城区");
    assert_eq!(dongcheng["attempts"], 2);
    assert_eq!(
        dongcheng["points"].as_i64(),
        Some(fast["score"].as_i64().expect("score") + slow["score"].as_i64().expect("score"))
    );
    // One interval for the snapshot to expire, and a margin for the poll and a slow machine.
    assert!(
        seen_after <= interval + Duration::from_millis(1_000),
        "seen {seen_after:?} after the submit, the interval is {interval:?}"
    );
}

// A campaign may keep individual boards down to a level only (`individual_board_levels`, the
// memory of issue 15): the writer, `me`, the public boards, the rebuild and the reconcile all
// follow it, while the unit totals stay at every level.
#[tokio::test]
async fn a_campaign_keeping_fewer_board_levels_ranks_down_to_them_and_reconciles() {
    use safequiz_domain::board::IndividualBoards;
    let app = TestApp::builder()
        .shards(2)
        .campaigns(|campaign| campaign.individual_boards = IndividualBoards::down_to(1))
        .spawn()
        .await;
    let campaign = app.catalogue.campaign(CAMPAIGN).expect("campaign").clone();
    let (_, list) = app.get_json("/api/v1/campaigns").await;
    assert_eq!(
        list["items"][0]["public_rankings"]["individual_levels"], 1,
        "{list}"
    );
    let first = app.register("王小明", "13900000011", "110101").await;
    let second = app.register("李四光", "13900000012", "110101").await;
    play_with(&app, &first, 2).await;
    play_with(&app, &second, 5).await;
    // National and province only: 东城区 (the second level) keeps no board.
    assert_eq!(my_ranks(&app, &second).await, vec![json!(1); 2]);
    app.boards_caught_up().await;
    assert_eq!(my_ranks(&app, &first).await, vec![json!(2); 2]);
    let (status, board) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?unit=110000"
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    assert_eq!(board["items"].as_array().map(Vec::len), Some(2), "{board}");
    for path in [
        "leaderboards/participants?unit=110101",
        "leaderboards/stream?board=participants&unit=110101",
    ] {
        let (status, body) = app
            .get_json(&format!("/api/v1/campaigns/{CAMPAIGN}/{path}"))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("board_not_kept")),
            "{path}: {body}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, units) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000"
        ))
        .await;
    assert_eq!(
        item_of(&units, "110101").expect("东城区")["participants"],
        2,
        "unit totals stay at every level: {units}"
    );
    let mut redis = app.redis.connection().await;
    let county: u64 = redis::cmd("ZCARD")
        .arg(safequiz_redis::keys::board(CAMPAIGN, Some("110101")))
        .query_async(&mut redis)
        .await
        .expect("ZCARD");
    assert_eq!(county, 0, "no board below the levels kept");
    eventually(
        "the record holds both attempts and reconciles",
        Duration::from_secs(10),
        || async {
            safequiz_server::recovery::reconcile(&app.state, &campaign)
                .await
                .ok()
                .filter(Vec::is_empty)
        },
    )
    .await;
    safequiz_server::recovery::rebuild(&app.state, &campaign)
        .await
        .expect("rebuilds");
    let differences = safequiz_server::recovery::reconcile(&app.state, &campaign)
        .await
        .expect("reconciles");
    assert!(differences.is_empty(), "{differences:?}");
    assert_eq!(my_ranks(&app, &first).await, vec![json!(2); 2], "rebuilt");
}

// The national campaign as shipped keeps its national board only: `me` shows one rank, the
// national board lists everyone, a province's individual board is not kept.
#[tokio::test]
async fn the_shipped_national_campaign_ranks_individuals_nationally_only() {
    let app = TestApp::builder().shipped_board_levels().spawn().await;
    let (_, list) = app.get_json("/api/v1/campaigns").await;
    let national = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["id"] == CAMPAIGN)
        .expect("the national campaign");
    assert_eq!(national["public_rankings"]["individual_levels"], 0);
    let who = app.register("王小明", "13900000021", "110101").await;
    play_with(&app, &who, 3).await;
    assert_eq!(my_ranks(&app, &who).await, vec![json!(1)], "national only");
    app.boards_caught_up().await;
    let (status, board) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants"
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    assert_eq!(board["items"].as_array().map(Vec::len), Some(1), "{board}");
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants?unit=110000"
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("board_not_kept"))
    );
}
