//! Automatic submission: the server's clock closes an attempt, not the client.

use std::time::Duration;

use jiff::SignedDuration;
use safequiz_testapp::{CAMPAIGN, TestApp, eventually};
use serde_json::Value;

use super::{DURING, at};

#[tokio::test]
async fn an_abandoned_attempt_is_submitted_with_its_saved_answers_without_any_client_call() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    for index in 0..2 {
        let keys = app.correct_keys(&attempt["questions"][index]);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        app.save_answer(&me, &id, index, &keys).await;
    }

    app.clock.advance(SignedDuration::from_millis(152_001));

    // Only reads that never finalize: the participant's standing and the public board.
    let standing: Value = eventually(
        "the sweeper finalizes the attempt",
        Duration::from_secs(10),
        || async {
            let (_, standing) = app
                .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
                .await;
            (standing["attempts"] == 1).then_some(standing)
        },
    )
    .await;
    assert_eq!(standing["points"], 2, "scored from the saved answers");
    assert_eq!(standing["time_used_ms"], 150_000);
    assert_eq!(standing["today"]["open_attempt_id"], Value::Null);

    let (_, result) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(result["status"], "final");
    assert_eq!(result["auto_submitted"], true);
    assert_eq!(result["score"], 2);
}

#[tokio::test]
async fn an_attempt_within_its_grace_is_left_alone_and_sweeps_are_idempotent() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .sweeper(false)
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();

    app.clock.advance(SignedDuration::from_millis(152_000));
    let swept = safequiz_server::workers::sweeper::sweep_once(&app.state)
        .await
        .expect("Redis answers");
    assert_eq!(
        swept, 0,
        "the last instant of the grace still belongs to the participant"
    );

    app.clock.advance(SignedDuration::from_millis(1));
    let sweeps = (0..4).map(|_| safequiz_server::workers::sweeper::sweep_once(&app.state));
    let swept: usize = futures_util::future::join_all(sweeps)
        .await
        .into_iter()
        .map(|count| count.expect("Redis answers"))
        .sum();
    assert!(swept >= 1, "some sweep finalized it");

    let (_, standing) = app
        .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(
        standing["attempts"], 1,
        "four concurrent sweeps count it once"
    );
    let (_, result) = app.get_as(&me, &format!("/api/v1/attempts/{id}")).await;
    assert_eq!(result["auto_submitted"], true);
}
