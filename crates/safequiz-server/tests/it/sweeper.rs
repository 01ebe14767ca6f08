//! Automatic submission: the server's clock closes an attempt, not the client (the sweeper on
//! one Redis and on a Redis Cluster).

use std::time::Duration;

use jiff::SignedDuration;
use safequiz_testapp::{CAMPAIGN, TestApp, Topology, eventually, on_both_topologies};
use serde_json::Value;

use super::{DURING, at};

on_both_topologies!(
    an_abandoned_attempt_is_submitted_with_its_saved_answers_without_any_client_call
);
async fn an_abandoned_attempt_is_submitted_with_its_saved_answers_without_any_client_call(
    topology: Topology,
) {
    let app = TestApp::builder()
        .topology(topology)
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

/// More due attempts than one sweep batch (`BATCH` = 256 in `workers::sweeper`).
const MORE_THAN_A_BATCH: usize = 257;

/// A central enterprise the test removes from the unit files.
const REMOVED_UNIT: &str = "CE015";

#[tokio::test]
async fn a_sweep_returns_when_a_full_batch_is_stuck_on_a_unit_removed_from_the_configuration() {
    let app = TestApp::builder()
        .shards(1)
        .clock_at(at(DURING))
        .sweeper(false)
        .spawn()
        .await;
    // The first attempt to expire belongs to a unit that stays configured; the 256 after it
    // belong to a unit the restarted service no longer knows, so the sweep's first batch
    // finalizes one attempt and every later batch is full and finalizes none.
    let kept = app.register("王五", "13900000000", "110101").await;
    let (status, _) = app.start_attempt(&kept).await;
    assert_eq!(status, 201, "the kept unit's attempt starts");
    app.clock.advance(SignedDuration::from_secs(1));
    for n in 1..MORE_THAN_A_BATCH {
        let gone = app
            .register("赵六", &format!("139{n:08}"), REMOVED_UNIT)
            .await;
        let (status, _) = app.start_attempt(&gone).await;
        assert_eq!(status, 201, "attempt {n} in the removed unit starts");
    }
    app.clock.advance(SignedDuration::from_secs(200));
    let restarted = state_without_unit(&app, REMOVED_UNIT);

    let swept = tokio::time::timeout(
        Duration::from_secs(10),
        safequiz_server::workers::sweeper::sweep_once(&restarted),
    )
    .await
    .expect("a sweep stops once a batch finalizes nothing")
    .expect("Redis answers");

    assert_eq!(swept, 1, "only the kept unit's attempt can be finalized");
    let (_, standing) = app
        .get_as(&kept, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(standing["attempts"], 1, "the kept unit's attempt is final");
    let restored = tokio::time::timeout(
        Duration::from_secs(10),
        safequiz_server::workers::sweeper::sweep_once(&app.state),
    )
    .await
    .expect("a sweep over servable attempts returns")
    .expect("Redis answers");
    assert_eq!(
        restored,
        MORE_THAN_A_BATCH - 1,
        "the removed unit's attempts stay indexed until the unit is configured again"
    );
}

/// The service's state as a replica restarted with `unit` deleted from its unit file would have
/// it: the same Redis, SQL and clock, and a catalogue loaded from the edited files.
fn state_without_unit(app: &TestApp, unit: &str) -> safequiz_server::http::AppState {
    let shipped = safequiz_testapp::config_dir();
    let edited = tempfile::tempdir().expect("a temporary folder can be created");
    let units = edited.path().join("units");
    std::fs::create_dir(&units).expect("the units folder can be created");
    for entry in std::fs::read_dir(shipped.join("units")).expect("the shipped units folder") {
        let path = entry.expect("a unit file").path();
        let text = std::fs::read_to_string(&path).expect("a unit file reads");
        let kept: String = text
            .lines()
            .filter(|line| line.split('\t').next() != Some(unit))
            .map(|line| format!("{line}\n"))
            .collect();
        let name = path.file_name().expect("a file name");
        std::fs::write(units.join(name), kept).expect("the edited unit file is written");
    }
    let loaded = safequiz_server::config::load(&shipped).expect("the shipped configuration loads");
    let catalogue = safequiz_server::catalogue::Catalogue::load(
        edited.path(),
        &loaded.banks_dir(),
        &loaded.campaigns_dir(),
    )
    .expect("the edited catalogue loads");
    let campaign = catalogue.campaign(CAMPAIGN).expect("the shipped campaign");
    assert!(
        campaign.units.find(unit).is_none(),
        "the unit is gone from the edited configuration"
    );
    safequiz_server::http::AppState {
        catalogue: std::sync::Arc::new(catalogue),
        ..app.state.clone()
    }
}
