//! Roll-ups and boards equal the sums and the order of what the API returned, at every level.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use safequiz_testapp::{CAMPAIGN, Participant, TestApp};
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

#[tokio::test]
async fn roll_ups_and_boards_equal_the_sums_and_order_of_the_results() {
    let app = TestApp::builder().shards(4).spawn().await;
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
    for (participant, unit) in people.iter().step_by(37) {
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
