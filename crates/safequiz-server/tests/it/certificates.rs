//! Scoring shapes and study-hour certificates (issue 18): a campaign with points by kind, the
//! best (or last) attempt counted and a cap on attempts over the campaign; the certificate's
//! window, threshold, PDF and verification; recovery of such a campaign from SQL.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use safequiz_domain::certificate::Certificate;
use safequiz_domain::score::{Counted, KindPoints, Scoring};
use safequiz_server::recovery;
use safequiz_testapp::{CAMPAIGN, Participant, TestApp, eventually};
use serde_json::{Value, json};

use super::{DURING, at};

/// The close of the adjusted campaign: a day after [`DURING`].
const CLOSES: &str = "2026-06-11T00:00:00+08:00";

/// The shipped campaign as a sector test: 20 points a question (5 questions: out of 100),
/// `counted`, at most 2 attempts in all, 3 a day, and a certificate from 60 points.
async fn sector_app(counted: Counted) -> TestApp {
    TestApp::builder()
        .clock_at(at(DURING))
        .campaigns(move |campaign| {
            campaign.closes_at = at(CLOSES);
            campaign.attempts_per_day = 3;
            campaign.scoring = Scoring {
                points: KindPoints::uniform(20),
                counted,
                attempts_total: Some(2),
            };
            campaign.certificate = Some(Certificate {
                min_score: 60,
                hours: 4,
                available_days: 15,
            });
        })
        .spawn()
        .await
}

/// Plays one attempt answering the first `right` questions rightly and the others wrongly;
/// returns the result.
async fn attempt(app: &TestApp, me: &Participant, right: usize) -> Value {
    let (status, attempt) = app.start_attempt(me).await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
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
    app.clock.advance(SignedDuration::from_secs(30));
    let (status, result) = app
        .submit(me, &id, Some(&json!({ "answers": answers })))
        .await;
    assert_eq!(status, 200, "{result}");
    result
}

/// The certificate status once the record holds `score` for `me`.
async fn status_with_score(app: &TestApp, me: &Participant, score: i64) -> Value {
    eventually(
        "the flusher has written the attempts",
        Duration::from_secs(10),
        || async {
            let (status, body) = app
                .get_as(me, &format!("/api/v1/campaigns/{CAMPAIGN}/certificate"))
                .await;
            assert_eq!(status, 200, "{body}");
            (body["score"] == score).then_some(body)
        },
    )
    .await
}

/// The PDF download: status, and the body as bytes or the error JSON.
async fn download(app: &TestApp, me: &Participant) -> (u16, Vec<u8>) {
    let response = app
        .client
        .get(format!(
            "{}/api/v1/campaigns/{CAMPAIGN}/certificate.pdf",
            app.address
        ))
        .bearer_auth(&me.token)
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("a body").to_vec())
}

fn error_code(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).expect("an error body");
    value["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_best_of_two_campaign_scores_by_kind_caps_attempts_and_certifies_in_its_window() {
    let app = sector_app(Counted::Best).await;
    let good = app.register("张三丰", "13800000001", "110101").await;
    let weak = app.register("李四", "13800000002", "110101").await;

    let first = attempt(&app, &good, 5).await;
    assert_eq!(
        (&first["score"], &first["max_score"]),
        (&json!(100), &json!(100)),
        "20 points a question, out of 100"
    );
    let second = attempt(&app, &good, 1).await;
    assert_eq!(second["score"], 20);
    // A third attempt on the same day (3 allowed a day) is past the campaign's 2.
    let (status, refused) = app.start_attempt(&good).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("total_limit_reached")),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|text| text.contains("共 2 次")),
        "{refused}"
    );
    attempt(&app, &weak, 2).await;

    // Before the close: nothing, whatever the score.
    let before = status_with_score(&app, &good, 100).await;
    assert_eq!(
        (&before["available"], &before["reason"]),
        (&json!(false), &json!("certificate_not_yet_available"))
    );
    let (status, body) = download(&app, &good).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "certificate_not_yet_available".to_owned())
    );

    // From the close: the best attempt (100, not the last 20) counts.
    app.clock.set(at(CLOSES));
    let open = status_with_score(&app, &good, 100).await;
    assert_eq!(open["available"], true, "{open}");
    let serial = open["serial"].as_str().expect("a serial").to_owned();
    let (status, pdf) = download(&app, &good).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
    // The weak participant's last attempt may still be on its way to the record.
    let weak_status = status_with_score(&app, &weak, 40).await;
    assert_eq!(weak_status["serial"], Value::Null);
    let (status, body) = download(&app, &weak).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "certificate_below_threshold".to_owned()),
        "40 points are below 60"
    );

    // The serial verifies, with the name masked; an edited one is not found.
    let (status, verified) = app
        .get_json(&format!("/api/v1/certificates/{serial}"))
        .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(
        (
            &verified["name"],
            &verified["score"],
            &verified["hours"],
            &verified["organization"]
        ),
        (&json!("张*丰"), &json!(100), &json!(4), &json!("东城区")),
        "{verified}"
    );
    let page = app.get(&format!("/verify/{serial}")).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("真实有效") && html.contains("张*丰") && html.contains("100 分"));
    let forged = edited(&serial);
    let swapped = serial.replacen(&format!(".{}.", good.id), &format!(".{}.", weak.id), 1);
    for bad in [forged.as_str(), swapped.as_str(), "safety-month.1.00", "x"] {
        let (status, body) = app.get_json(&format!("/api/v1/certificates/{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{bad}"
        );
        let page = app.get(&format!("/verify/{bad}")).await;
        let html = page.text().await.expect("a page");
        assert!(
            html.contains("未找到该证书") && !html.contains("真实有效"),
            "{bad}"
        );
    }

    // The window's last millisecond, then past it; the serial stays verifiable.
    let until = Timestamp::from_millisecond(at(CLOSES).as_millisecond() + 15 * 86_400_000 - 1)
        .expect("an instant");
    app.clock.set(until);
    assert_eq!(download(&app, &good).await.0, 200);
    app.clock.advance(SignedDuration::from_millis(1));
    let (status, body) = download(&app, &good).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "certificate_expired".to_owned())
    );
    let (status, _) = app
        .get_json(&format!("/api/v1/certificates/{serial}"))
        .await;
    assert_eq!(status, 200, "an issued certificate stays verifiable");
}

/// `serial` with its last hex digit changed, so it differs in exactly one place.
fn edited(serial: &str) -> String {
    let (head, last) = serial.split_at(serial.len() - 1);
    let other = if last == "0" { "1" } else { "0" };
    format!("{head}{other}")
}

#[tokio::test]
async fn recovery_of_best_and_last_campaigns_rebuilds_the_counted_totals() {
    for counted in [Counted::Best, Counted::Last] {
        let app = sector_app(counted).await;
        let mut people = Vec::new();
        for (i, (first, second)) in [(5, 1), (2, 4), (3, 3), (0, 5)].into_iter().enumerate() {
            let me = app
                .register(
                    "测试者",
                    &format!("1390000000{i}"),
                    ["110101", "110102"][i % 2],
                )
                .await;
            attempt(&app, &me, first).await;
            attempt(&app, &me, second).await;
            people.push(me);
        }
        app.boards_caught_up().await;
        let campaign = app
            .catalogue
            .campaign(CAMPAIGN)
            .expect("the campaign")
            .clone();
        let expected = match counted {
            Counted::Best => [100, 80, 60, 100],
            _ => [20, 80, 60, 100],
        };
        for (me, points) in people.iter().zip(expected) {
            let (status, body) = app
                .get_as(me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["points"], points, "{counted:?}: {body}");
        }
        // The unit totals count each participant's counted points.
        let (status, units) = app
            .get_json(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=110000"
            ))
            .await;
        assert_eq!(status, 200, "{units}");
        assert_eq!(
            units["totals"]["points"],
            expected.iter().sum::<i64>(),
            "{counted:?}: {units}"
        );
        eventually(
            "the record holds every attempt",
            Duration::from_secs(10),
            || async {
                recovery::reconcile(&app.state, &campaign)
                    .await
                    .ok()
                    .filter(Vec::is_empty)
            },
        )
        .await;
        // The organizer's export shows each participant's counted score as 总分 (issue 18).
        let national = app
            .organizer(
                safequiz_domain::scope::WHOLE_CAMPAIGN,
                &format!("national-{}", counted.as_str()),
            )
            .await;
        let csv = app
            .request(
                reqwest::Method::GET,
                "/api/v1/organizer/exports/participants.csv",
                Some(&national),
                None,
            )
            .await
            .text()
            .await
            .expect("a CSV");
        let mut lines = csv.trim_start_matches('\u{feff}').lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
        let (id, total, attempts) = (column("参与者编号"), column("总分"), column("参与次数"));
        let exported: std::collections::HashMap<u64, (i64, i64)> = lines
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                let number = |at: usize| cells[at].parse::<i64>().expect("a number");
                (number(id) as u64, (number(total), number(attempts)))
            })
            .collect();
        for (me, points) in people.iter().zip(expected) {
            assert_eq!(
                exported.get(&me.id),
                Some(&(points, 2)),
                "{counted:?}: 总分 is the counted score, both attempts counted: {csv}"
            );
        }
        recovery::rebuild(&app.state, &campaign)
            .await
            .expect("rebuilds");
        let differences = recovery::reconcile(&app.state, &campaign)
            .await
            .expect("reconciles");
        assert!(differences.is_empty(), "{counted:?}: {differences:?}");
        for (me, points) in people.iter().zip(expected) {
            let (_, body) = app
                .get_as(me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
                .await;
            assert_eq!(body["points"], points, "{counted:?} rebuilt: {body}");
        }
    }
}
