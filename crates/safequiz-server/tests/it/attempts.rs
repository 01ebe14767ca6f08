//! The attempt over HTTP: start, resume, save, change, submit, idempotence, concurrency, time.
//! Scoring, idempotence and concurrency run on one Redis and on a Redis Cluster.

use std::collections::HashSet;

use jiff::SignedDuration;
use safequiz_testapp::{CAMPAIGN, Participant, TestApp, Topology, on_both_topologies};
use serde_json::{Value, json};

use super::{DURING, at};

async fn app() -> TestApp {
    app_on(Topology::Single).await
}

async fn app_on(topology: Topology) -> TestApp {
    TestApp::builder()
        .topology(topology)
        .shards(4)
        .clock_at(at(DURING))
        .sweeper(false)
        .spawn()
        .await
}

fn attempt_id(attempt: &Value) -> String {
    attempt["attempt_id"]
        .as_str()
        .expect("an attempt id")
        .to_owned()
}

fn save_ticket(attempt: &Value) -> String {
    attempt["save_ticket"]
        .as_str()
        .expect("an open attempt's save ticket")
        .to_owned()
}

on_both_topologies!(saves_with_the_save_ticket_count_as_saves_without_it);
async fn saves_with_the_save_ticket_count_as_saves_without_it(topology: Topology) {
    let app = app_on(topology).await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let ticket = save_ticket(&attempt);
    let keys = |question: usize, right: bool| {
        let question = &attempt["questions"][question];
        if right {
            app.correct_keys(question)
        } else {
            app.wrong_keys(question)
        }
    };
    let (wrong, right) = (keys(0, false), keys(0, true));
    for (index, chosen) in [
        (0, &wrong),
        (0, &right),
        (1, &keys(1, true)),
        (2, &keys(2, false)),
    ] {
        let chosen: Vec<&str> = chosen.iter().map(String::as_str).collect();
        let (status, body) = app
            .save_answer_with_ticket(&me, &id, index, &chosen, &ticket)
            .await;
        assert_eq!(status, 204, "saved with the ticket: {body}");
    }
    let (_, resumed) = app.start_attempt(&me).await;
    assert_eq!(
        resumed["answers"],
        json!({ "0": right, "1": keys(1, true), "2": keys(2, false) }),
        "the latest answers are kept"
    );
    assert_eq!(
        save_ticket(&resumed),
        ticket,
        "a resume gives the same ticket"
    );
    let (status, result) = app.submit(&me, &id, None).await;
    assert_eq!((status, &result["score"]), (200, &json!(2)));

    let (status, body) = app
        .save_answer_with_ticket(&me, &id, 3, &["A"], &ticket)
        .await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("attempt_closed")),
        "a final attempt takes no answer, ticket or not"
    );
}

#[tokio::test]
async fn a_ticket_does_not_stretch_the_time_and_a_forged_one_is_not_trusted() {
    let app = app().await;
    let other = app.register("赵六", "13900000002", "110101").await;
    let (_, theirs) = app.start_attempt(&other).await;
    // An attempt with a choice question (a draw of five true/false questions is possible).
    let mut found = None;
    for phone in 13_900_000_010u64..13_900_000_020 {
        let me = app.register("王五", &phone.to_string(), "110101").await;
        let (_, attempt) = app.start_attempt(&me).await;
        let choice_question = attempt["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .position(|q| {
                q["kind"] != "true_false" && q["options"].as_array().is_some_and(|o| o.len() < 6)
            });
        if let Some(index) = choice_question {
            found = Some((me, attempt, index));
            break;
        }
    }
    let (me, attempt, choice_question) = found.expect("a draw with a choice question");
    let id = attempt_id(&attempt);
    let ticket = save_ticket(&attempt);
    // The ticket's fields are when the attempt stops taking answers and each question's kind
    // and option count: a later instant, or more options, break its MAC.
    let (accepts, rest) = ticket.split_once('.').expect("fields");
    let accepts: i64 = accepts.parse().expect("accepts-until ms");
    let stretched = format!("{}.{rest}", accepts + 3_600_000);
    let (kinds, mac) = rest.split_once('.').expect("kinds and MAC");
    let six_options: String = kinds
        .chars()
        .enumerate()
        .map(|(i, c)| if i % 2 == 1 { '6' } else { c })
        .collect();
    let more_options = format!("{accepts}.{six_options}.{mac}");
    let options = attempt["questions"][choice_question]["options"]
        .as_array()
        .expect("options")
        .len();
    let beyond = ["A", "B", "C", "D", "E", "F"][options];

    let (status, body) = app
        .save_answer_with_ticket(&me, &id, choice_question, &[beyond], &more_options)
        .await;
    assert_eq!(
        (status, &body["error"]),
        (422, &json!("invalid_choice")),
        "an altered option count is not believed"
    );
    let theirs = save_ticket(&theirs);
    let first = app.correct_keys(&attempt["questions"][0]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (status, _) = app
        .save_answer_with_ticket(&me, &id, 0, &first, &theirs)
        .await;
    assert_eq!(
        status, 204,
        "another attempt's ticket is ignored, the save checked"
    );

    app.clock.advance(SignedDuration::from_millis(151_900));
    let right = app.correct_keys(&attempt["questions"][1]);
    let right: Vec<&str> = right.iter().map(String::as_str).collect();
    let (status, body) = app
        .save_answer_with_ticket(&me, &id, 1, &right, &ticket)
        .await;
    assert_eq!(status, 204, "within the grace, with the ticket: {body}");
    app.clock.advance(SignedDuration::from_millis(200));
    for (ticket, why) in [(&ticket, "the ticket"), (&stretched, "a stretched ticket")] {
        let (status, body) = app
            .save_answer_with_ticket(&me, &id, 2, &first, ticket)
            .await;
        assert_eq!(
            (status, &body["error"]),
            (409, &json!("attempt_closed")),
            "after the grace, with {why}"
        );
    }
    let (_, result) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(result["status"], "final", "the late save finalized it");
    assert_eq!(result["auto_submitted"], true);
    assert_eq!(
        result["review"][1]["choices"],
        json!(right),
        "the answer saved within the grace counts"
    );
    assert_eq!(
        result["review"][2]["choices"],
        json!([]),
        "the late one does not"
    );
}

#[tokio::test]
async fn a_start_draws_distinct_questions_without_answers_and_a_second_start_resumes() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;

    let (status, attempt) = app.start_attempt(&me).await;

    assert_eq!(status, 201, "{attempt}");
    assert_eq!(attempt["status"], "open");
    assert_eq!(attempt["started_at"], "2026-06-10T01:00:00Z");
    assert_eq!(
        attempt["deadline"], "2026-06-10T01:02:30Z",
        "150 s after the start"
    );
    assert_eq!(attempt["server_time"], "2026-06-10T01:00:00Z");
    let questions = attempt["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 5);
    let ids: HashSet<&str> = questions
        .iter()
        .map(|q| q["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 5, "no question twice");
    let text = attempt.to_string();
    for secret in ["correct", "explanation", "source", "answer\""] {
        assert!(
            !text.contains(secret),
            "an open attempt reveals `{secret}`: {text}"
        );
    }
    for question in questions {
        let keys: Vec<&str> = question["options"]
            .as_array()
            .expect("options")
            .iter()
            .map(|o| o["key"].as_str().expect("key"))
            .collect();
        let expected: Vec<&str> = if question["kind"] == "true_false" {
            vec!["T", "F"]
        } else {
            ["A", "B", "C", "D", "E", "F"][..keys.len()].to_vec()
        };
        assert_eq!(keys, expected, "display keys follow the display order");
    }

    app.clock.advance(SignedDuration::from_secs(40));
    let (status, resumed) = app.start_attempt(&me).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["attempt_id"], attempt["attempt_id"]);
    assert_eq!(
        resumed["questions"], attempt["questions"],
        "same questions, same order"
    );
    assert_eq!(
        resumed["deadline"], attempt["deadline"],
        "the deadline does not move"
    );
    assert_eq!(resumed["remaining_ms"], 110_000);
}

#[tokio::test]
async fn answers_are_saved_changed_and_shown_again_on_resume() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let first = &attempt["questions"][0];
    let wrong = app.wrong_keys(first);
    let right = app.correct_keys(first);

    let wrong_refs: Vec<&str> = wrong.iter().map(String::as_str).collect();
    let (status, _) = app.save_answer(&me, &id, 0, &wrong_refs).await;
    assert_eq!(status, 204);
    let right_refs: Vec<&str> = right.iter().map(String::as_str).collect();
    let (status, _) = app.save_answer(&me, &id, 0, &right_refs).await;
    assert_eq!(status, 204, "going back and changing an answer is allowed");

    let (_, resumed) = app.start_attempt(&me).await;
    assert_eq!(
        resumed["answers"],
        json!({ "0": right }),
        "the latest answer is kept"
    );
    let (_, read) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(read["answers"], json!({ "0": right }));
}

/// A save's body is read in place (`extract::json_body`): keys and a ticket written with JSON
/// escapes, and any JSON content type, are read as the plain ones.
#[tokio::test]
async fn a_save_reads_escaped_keys_and_tickets_under_any_json_content_type() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let escaped = |text: &str| -> String {
        text.chars()
            .enumerate()
            .map(|(at, c)| {
                if at == 0 {
                    format!("\\u{:04X}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let mut saved = serde_json::Map::new();
    let cases = [
        (
            "application/json; charset=utf-8",
            Some(save_ticket(&attempt)),
        ),
        ("application/merge-patch+json", None),
        ("Application/JSON", Some(save_ticket(&attempt))),
    ];
    for (index, (content_type, ticket)) in cases.into_iter().enumerate() {
        let right = app.correct_keys(&attempt["questions"][index]);
        let choices: Vec<String> = right
            .iter()
            .map(|key| format!("\"{}\"", escaped(key)))
            .collect();
        let ticket = ticket
            .map(|ticket| format!(", \"ticket\": \"{}\"", escaped(&ticket)))
            .unwrap_or_default();
        let body = format!("{{\"choices\": [{}]{ticket}}}", choices.join(", "));
        let response = app
            .client
            .put(format!(
                "{}/api/v1/attempts/{id}/answers/{index}",
                app.address
            ))
            .bearer_auth(&me.token)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 204, "{content_type}: {body}");
        saved.insert(index.to_string(), json!(right));
    }
    let (_, read) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(read["answers"], Value::Object(saved));
    // Path segments are percent-decoded as before they were read in place.
    let encoded = id.replace('-', "%2D");
    let (status, again) = app
        .get_as(&me, &format!("/api/v1/attempts/{encoded}"))
        .await;
    assert_eq!((status, &again), (200, &read), "{encoded}");
}

/// Answers every question of `attempt`, the first `correct` ones rightly, in the submit body.
fn answers_body(app: &TestApp, attempt: &Value, correct: usize) -> Value {
    let mut answers = serde_json::Map::new();
    for (index, question) in attempt["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .enumerate()
    {
        let keys = if index < correct {
            app.correct_keys(question)
        } else {
            app.wrong_keys(question)
        };
        answers.insert(index.to_string(), json!(keys));
    }
    json!({ "answers": answers })
}

on_both_topologies!(a_submit_scores_all_or_nothing_and_every_later_read_gives_the_same_result);
async fn a_submit_scores_all_or_nothing_and_every_later_read_gives_the_same_result(
    topology: Topology,
) {
    let app = app_on(topology).await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    app.clock.advance(SignedDuration::from_millis(61_500));

    let (status, result) = app
        .submit(&me, &id, Some(&answers_body(&app, &attempt, 3)))
        .await;

    assert_eq!(status, 200, "{result}");
    assert_eq!(result["status"], "final");
    assert_eq!(result["score"], 3);
    assert_eq!(result["max_score"], 5);
    assert_eq!(result["time_used_ms"], 61_500);
    assert_eq!(result["auto_submitted"], false);
    let review = result["review"].as_array().expect("review");
    for (index, item) in review.iter().enumerate() {
        assert_eq!(item["correct"], index < 3, "question {index}");
        assert_eq!(
            item["correct_choices"],
            json!(app.correct_keys(&attempt["questions"][index]))
        );
        assert!(item["explanation"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(item["source"].as_str().is_some_and(|s| !s.is_empty()));
    }

    app.clock.advance(SignedDuration::from_secs(5));
    let (status, again) = app
        .submit(&me, &id, Some(&answers_body(&app, &attempt, 5)))
        .await;
    assert_eq!(status, 200);
    let (_, read) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    for later in [again, read] {
        let mut later = later;
        let mut first = result.clone();
        later["server_time"] = Value::Null;
        first["server_time"] = Value::Null;
        assert_eq!(later, first, "a final attempt never changes");
    }
    let (status, closed) = app.save_answer(&me, &id, 0, &["A"]).await;
    assert_eq!((status, &closed["error"]), (409, &json!("attempt_closed")));
}

on_both_topologies!(twenty_four_simultaneous_starts_make_one_attempt);
async fn twenty_four_simultaneous_starts_make_one_attempt(topology: Topology) {
    let app = app_on(topology).await;
    let me = app.register("王五", "13900000001", "110101").await;

    let starts = (0..24).map(|_| app.start_attempt(&me));
    let results = futures_util::future::join_all(starts).await;

    let created = results.iter().filter(|(status, _)| *status == 201).count();
    let resumed = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!((created, resumed), (1, 23));
    let ids: HashSet<String> = results.iter().map(|(_, body)| attempt_id(body)).collect();
    assert_eq!(ids.len(), 1, "every start names the same attempt");
}

on_both_topologies!(eight_simultaneous_submits_count_once);
async fn eight_simultaneous_submits_count_once(topology: Topology) {
    let app = app_on(topology).await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let body = answers_body(&app, &attempt, 4);

    let submits = (0..8).map(|_| app.submit(&me, &id, Some(&body)));
    let results = futures_util::future::join_all(submits).await;

    assert!(
        results
            .iter()
            .all(|(status, body)| *status == 200 && body["score"] == 4)
    );
    let (_, standing) = app
        .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(standing["attempts"], 1);
    assert_eq!(standing["points"], 4);
    // Unit figures follow the board writer's pass.
    app.boards_caught_up().await;
    let (_, board) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000"
        ))
        .await;
    let dongcheng = board["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["unit_id"] == "110101")
        .expect("东城区");
    assert_eq!(dongcheng["attempts"], 1);
    assert_eq!(dongcheng["points"], 4);
}

#[tokio::test]
async fn answers_count_within_the_grace_and_are_refused_after_it() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let right = app.correct_keys(&attempt["questions"][0]);
    let right: Vec<&str> = right.iter().map(String::as_str).collect();

    app.clock.advance(SignedDuration::from_millis(151_900));
    let (status, body) = app.save_answer(&me, &id, 0, &right).await;
    assert_eq!(
        status, 204,
        "1.9 s after the deadline is within the grace: {body}"
    );

    app.clock.advance(SignedDuration::from_millis(200));
    let (status, body) = app.save_answer(&me, &id, 1, &["A"]).await;
    assert_eq!((status, &body["error"]), (409, &json!("attempt_closed")));

    let (status, result) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(result["status"], "final");
    assert_eq!(result["auto_submitted"], true);
    assert_eq!(
        result["score"], 1,
        "the answer saved within the grace counts"
    );
    assert_eq!(
        result["time_used_ms"], 150_000,
        "time used is capped at the limit"
    );
}

#[tokio::test]
async fn a_submit_within_the_grace_counts_at_most_the_time_limit() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    app.clock.advance(SignedDuration::from_millis(151_000));

    let (status, result) = app.submit(&me, &attempt_id(&attempt), None).await;

    assert_eq!(status, 200, "{result}");
    assert_eq!(result["auto_submitted"], false);
    assert_eq!(result["time_used_ms"], 150_000);
}

#[tokio::test]
async fn a_late_submit_is_refused_and_the_attempt_is_final_with_what_was_saved() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    app.clock.advance(SignedDuration::from_secs(160));

    let (status, body) = app
        .submit(&me, &id, Some(&answers_body(&app, &attempt, 5)))
        .await;

    assert_eq!((status, &body["error"]), (409, &json!("attempt_closed")));
    let (_, result) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(result["score"], 0, "answers sent too late do not count");
    assert_eq!(result["auto_submitted"], true);
}

#[tokio::test]
async fn invalid_answers_are_422_and_change_nothing() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt_id(&attempt);
    let questions = attempt["questions"].as_array().expect("questions");
    let single = questions
        .iter()
        .position(|q| q["kind"] != "multiple")
        .unwrap_or(0);
    let option_count = questions[0]["options"].as_array().expect("options").len();
    let beyond = ["A", "B", "C", "D", "E", "F"]
        .get(option_count)
        .copied()
        .unwrap_or("G");

    let cases: Vec<(usize, Vec<&str>, &str, &str)> = vec![
        (5, vec!["A"], "invalid_index", "index 5 of five questions"),
        (99, vec!["A"], "invalid_index", "index 99"),
        (0, vec!["Z"], "invalid_choice", "an unknown key"),
        (0, vec!["AB"], "invalid_choice", "two letters in one key"),
        (0, vec!["A", "A"], "invalid_choice", "a repeated key"),
        (
            0,
            vec![beyond],
            "invalid_choice",
            "a key beyond the last option",
        ),
        (
            single,
            vec!["A", "B"],
            "invalid_choice",
            "two choices for a single answer",
        ),
    ];
    let ticket = save_ticket(&attempt);
    for (index, choices, code, why) in cases {
        let (status, body) = app.save_answer(&me, &id, index, &choices).await;
        assert_eq!(status, 422, "{why}: {body}");
        assert_eq!(body["error"], code, "{why}");
        let (status, body) = app
            .save_answer_with_ticket(&me, &id, index, &choices, &ticket)
            .await;
        assert_eq!(status, 422, "{why}, with the ticket: {body}");
        assert_eq!(body["error"], code, "{why}, with the ticket");
    }

    let mut body = answers_body(&app, &attempt, 5);
    body["answers"]["4"] = json!(["Z"]);
    let (status, error) = app.submit(&me, &id, Some(&body)).await;
    assert_eq!((status, &error["error"]), (422, &json!("invalid_choice")));

    let (_, read) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(
        read["status"], "open",
        "an invalid submit does not finalize"
    );
    assert_eq!(read["answers"], json!({}), "and saves none of its answers");
}

#[tokio::test]
async fn another_participants_attempt_is_not_found() {
    let app = app().await;
    let owner = app.register("王五", "13900000001", "110101").await;
    let other = app.register("赵六", "13900000002", "110101").await;
    let (_, attempt) = app.start_attempt(&owner).await;
    let id = attempt_id(&attempt);

    let (read, _) = app.get_as(&other, &format!("/api/v1/attempts/{id}")).await;
    let (save, _) = app.save_answer(&other, &id, 0, &["A"]).await;
    let (submit, _) = app.submit(&other, &id, None).await;
    let (unknown, _) = app.get_as(&owner, "/api/v1/attempts/12345-9").await;
    let (garbage, _) = app.get_as(&owner, "/api/v1/attempts/not-an-id").await;

    assert_eq!([read, save, submit, unknown, garbage], [404; 5]);
    let (_, mine) = app.get_as(&owner, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(mine["status"], "open", "the owner's attempt is untouched");
}

#[tokio::test]
async fn forged_altered_and_expired_tokens_are_401() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let altered = me
        .token
        .replacen(&format!(".{}.", me.id), &format!(".{}.", me.id + 1), 1);
    let forged = Participant {
        id: me.id,
        token: format!("1.{CAMPAIGN}.{}.110101.9999999999.AAAA", me.id),
    };
    let path = format!("/api/v1/campaigns/{CAMPAIGN}/attempts");
    for (token, why) in [
        (Some(altered.as_str()), "another participant's id"),
        (Some(forged.token.as_str()), "a made-up signature"),
        (Some("garbage"), "garbage"),
        (None, "no token"),
    ] {
        let response = app.request(reqwest::Method::POST, &path, token, None).await;
        assert_eq!(response.status(), 401, "{why}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["error"], "unauthorized", "{why}");
    }

    app.clock.advance(SignedDuration::from_hours(721));
    let (status, body) = app.start_attempt(&me).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("unauthorized")),
        "expired"
    );
}

#[tokio::test]
async fn one_attempt_per_calendar_day_in_beijing_time() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at("2026-06-10T23:58:00+08:00"))
        .sweeper(false)
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    app.submit(&me, &attempt_id(&attempt), None).await;

    app.clock.set(at("2026-06-10T23:59:59+08:00"));
    let (status, body) = app.start_attempt(&me).await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("daily_limit_reached"))
    );
    assert_eq!(
        body["next_attempt_at"], "2026-06-10T16:00:00Z",
        "Beijing midnight"
    );
    let (_, standing) = app
        .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(standing["today"]["next_attempt_at"], "2026-06-10T16:00:00Z");

    app.clock.set(at("2026-06-11T00:00:00+08:00"));
    let (status, next) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "a new day allows a new attempt: {next}");
    assert_ne!(next["attempt_id"], attempt["attempt_id"]);
}

#[tokio::test]
async fn an_attempt_left_open_over_midnight_still_counts_for_the_day_it_started() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at("2026-06-10T23:59:00+08:00"))
        .sweeper(false)
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, first) = app.start_attempt(&me).await;

    app.clock.set(at("2026-06-11T00:00:30+08:00"));
    let (status, resumed) = app.start_attempt(&me).await;
    assert_eq!(
        (status, &resumed["attempt_id"]),
        (200, &first["attempt_id"])
    );

    app.clock.set(at("2026-06-11T00:05:00+08:00"));
    let (status, second) = app.start_attempt(&me).await;
    assert_eq!(
        status, 201,
        "the expired attempt is finalized and today's starts: {second}"
    );
    let (_, old) = app
        .get_as(&me, &format!("/api/v1/attempts/{}", attempt_id(&first)))
        .await;
    assert_eq!(old["status"], "final");
    assert_eq!(old["auto_submitted"], true);
}

#[tokio::test]
async fn no_attempt_starts_outside_the_campaign_window() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at("2025-12-31T23:59:59+08:00"))
        .sweeper(false)
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;

    let (status, body) = app.start_attempt(&me).await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("campaign_closed")),
        "before"
    );

    app.clock.set(at("2026-01-01T00:00:00+08:00"));
    let (status, _) = app.start_attempt(&me).await;
    assert_eq!(status, 201, "at the opening instant");

    app.clock.set(at("2027-07-01T00:00:00+08:00"));
    // The first token has expired by then; the same phone and name get a fresh one.
    let me = app.register("王五", "13900000001", "110101").await;
    let (status, body) = app.start_attempt(&me).await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("campaign_closed")),
        "after"
    );
}
