//! Fair play in the record, on SQLite and PostgreSQL: observations become flags by the rules,
//! flags list within a scope, and an exclusion leaves a participant's attempts out of every
//! roll-up (and its undo puts them back) with the roll-ups equal to a rebuild throughout.

use safequiz_domain::scope::Scope;
use safequiz_sql::fair_play::{Kind, Observation};
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow, StoredQuestion};
use safequiz_sql::units::UnitRecord;
use safequiz_testkit::{Database, on_both};

const C: &str = "fp";

fn units() -> Vec<UnitRecord> {
    let unit = |id: &str, parent: Option<&str>, kind: &str, depth: i32| UnitRecord {
        unit_id: id.to_owned(),
        parent_id: parent.map(str::to_owned),
        name: format!("单位{id}"),
        kind: kind.to_owned(),
        entry_id: "region".to_owned(),
        depth,
    };
    vec![
        unit("R", None, "province", 0),
        unit("R1", Some("R"), "county", 1),
        unit("R2", Some("R"), "county", 1),
    ]
}

fn observation(participant: i64, unit: &str, kind: Kind, at_ms: i64, device: &str) -> Observation {
    Observation {
        campaign_id: C.to_owned(),
        participant_id: participant,
        unit_id: unit.to_owned(),
        kind: kind as i32,
        at_ms,
        attempt: i32::from(kind != Kind::Register),
        device: device.to_owned(),
        net: format!("10.0.{participant}.0/24"),
        page: 1,
    }
}

fn rows(participant: i64, unit: &str) -> Vec<RecordRow> {
    let questions = StoredQuestion::encode_all(&[StoredQuestion {
        chosen: 1,
        id: "q1".to_owned(),
        key: 1,
        order: vec![0, 1],
    }]);
    vec![
        RecordRow::Participant(ParticipantRow {
            campaign_id: C.to_owned(),
            participant_id: participant,
            name: "测试者".to_owned(),
            phone_masked: "138****0000".to_owned(),
            phone_hash: format!("{participant:032x}"),
            unit_id: unit.to_owned(),
            registered_at_ms: 1_000,
            consent: None,
            phone_sealed: None,
        }),
        RecordRow::Attempt(AttemptRow {
            campaign_id: C.to_owned(),
            attempt_id: format!("{participant}-1"),
            participant_id: participant,
            unit_id: unit.to_owned(),
            day: 20_600,
            started_at_ms: 2_000,
            deadline_ms: 152_000,
            finished_at_ms: 12_000,
            time_used_ms: 10_000,
            points: 1,
            correct: 1,
            auto_submitted: false,
            full_marks: true,
            questions,
        }),
    ]
}

async fn flags_exclusion_and_rollups(database: Database) {
    let (store, _dir) = safequiz_testkit::fresh_store(database).await;
    store.sync_units(C, &units()).await.expect("units");
    // Six accounts on one device (three per county) and one on its own, starting with page.
    let mut observations = Vec::new();
    for p in 1..=7_i64 {
        let unit = if p % 2 == 0 { "R2" } else { "R1" };
        let device = if p <= 6 {
            "d".repeat(32)
        } else {
            "e".repeat(32)
        };
        observations.push(observation(p, unit, Kind::Start, 1_000 * p, &device));
    }
    store
        .insert_observations(&observations)
        .await
        .expect("insert");
    let touched = store.everything_observed(C).await.expect("touched");
    store
        .compute_flags(C, &touched, 10_000)
        .await
        .expect("flags");
    let flags = store.flags(C).await.expect("flags");
    let flagged: Vec<i64> = flags
        .iter()
        .filter(|f| f.reason == "shared_device")
        .map(|f| f.participant_id)
        .collect();
    assert_eq!(flagged, vec![1, 2, 3, 4, 5, 6]);
    // Computing again changes nothing but the evidence's time.
    store
        .compute_flags(C, &touched, 20_000)
        .await
        .expect("flags");
    assert_eq!(store.flags(C).await.expect("flags").len(), flags.len());

    // Within a county's scope, that county's flagged participants only.
    let page = store
        .flagged_page(C, &Scope::Unit("R2".to_owned()), i64::MIN, 50)
        .await
        .expect("page");
    let ids: Vec<i64> = page.iter().map(|p| p.participant_id).collect();
    assert_eq!(ids, vec![2, 4, 6]);

    // Exclusion: the record's figures leave participant 2 out, the undo brings them back.
    let mut batch = Vec::new();
    for p in 1..=7_i64 {
        batch.extend(rows(p, if p % 2 == 0 { "R2" } else { "R1" }));
    }
    store.insert_batch(&batch).await.expect("rows");
    // Participant 2 also answered on two later days, recorded out of order (the flusher then
    // moved their day chain), and participant 4 on one of them: the exclusion's subtraction
    // must leave exactly what a rebuild without 2 makes.
    for (who, number, day) in [(2_i64, 3, 20_605), (2, 4, 20_603), (4, 2, 20_605)] {
        let mut more = rows(who, "R2");
        if let RecordRow::Attempt(a) = &mut more[1] {
            a.attempt_id = format!("{who}-{number}");
            a.day = day;
        }
        store.insert_batch(&more).await.expect("rows");
    }
    assert_eq!(store.check_rollups(C).await.expect("check"), vec![]);
    let shares = store
        .flagged_shares(C, &["R1".to_owned(), "R2".to_owned()])
        .await
        .expect("shares");
    assert_eq!(
        shares
            .iter()
            .map(|s| (s.participants, s.flagged))
            .collect::<Vec<_>>(),
        vec![(4, 3), (3, 3)]
    );
    let attempts_of = |page: &[safequiz_sql::fair_play::FlaggedParticipant], p: i64| {
        page.iter()
            .find(|x| x.participant_id == p)
            .map(|x| x.attempts)
    };
    assert!(
        store
            .exclude_participant(C, 2, "同一设备", "organizer:t", 5)
            .await
            .expect("exclude")
    );
    assert!(
        !store
            .exclude_participant(C, 2, "again", "organizer:t", 6)
            .await
            .expect("exclude")
    );
    let page = store
        .flagged_page(C, &Scope::WholeCampaign, i64::MIN, 50)
        .await
        .expect("page");
    assert_eq!(attempts_of(&page, 2), Some(0));
    assert_eq!(attempts_of(&page, 4), Some(2));
    assert_eq!(store.check_rollups(C).await.expect("check"), vec![]);
    // A later attempt of the excluded participant is recorded but not counted.
    let mut later = rows(2, "R2");
    if let RecordRow::Attempt(a) = &mut later[1] {
        a.attempt_id = "2-2".to_owned();
        a.day = 20_601;
    }
    store.insert_batch(&later).await.expect("rows");
    assert_eq!(store.check_rollups(C).await.expect("check"), vec![]);
    assert!(
        store
            .undo_exclusion(C, 2, "复核", "organizer:t", 7)
            .await
            .expect("undo")
    );
    assert!(
        !store
            .undo_exclusion(C, 2, "复核", "organizer:t", 8)
            .await
            .expect("undo")
    );
    let page = store
        .flagged_page(C, &Scope::WholeCampaign, i64::MIN, 50)
        .await
        .expect("page");
    assert_eq!(attempts_of(&page, 2), Some(4));
    assert_eq!(store.check_rollups(C).await.expect("check"), vec![]);
    assert!(store.exclusion(C, 2).await.expect("read").is_none());
}

on_both!(flags_exclusion_and_rollups);
