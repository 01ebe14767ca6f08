//! The audit trail and a person's information in the record, on SQLite and on PostgreSQL: the
//! trail reads back in order and the database itself refuses to change or delete a row; a
//! purge empties every name and phone hash and keeps the rows, the roll-ups and the trail.

use futures_util::TryStreamExt;
use safequiz_sql::Store;
use safequiz_sql::audit::{AuditEntry, AuditQuery};
use safequiz_sql::record::{AttemptRow, Consent, ParticipantRow, RecordRow};
use safequiz_testkit::{Database, fresh_store, on_both};

fn entry(at_ms: i64, action: &str) -> AuditEntry {
    AuditEntry {
        at_ms,
        campaign_id: "c1".to_owned(),
        actor: "organizer:national".to_owned(),
        action: action.to_owned(),
        scope: safequiz_domain::scope::WHOLE_CAMPAIGN.to_owned(),
        detail: "units.csv rows=3".to_owned(),
        address: "10.0.0.7".to_owned(),
        outcome: "ok".to_owned(),
    }
}

/// Runs `sql` directly on the store's pool, as an operator with the service's credentials could.
async fn raw(store: &Store, sql: &'static str) -> Result<u64, sqlx::Error> {
    match store {
        Store::Sqlite(pool) => Ok(sqlx::query(sql).execute(pool).await?.rows_affected()),
        Store::Postgres(pool) => Ok(sqlx::query(sql).execute(pool).await?.rows_affected()),
    }
}

async fn the_trail_is_append_only_in_the_database(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    let first = store
        .append_audit(&entry(1_000, "login"))
        .await
        .expect("appended");
    let second = safequiz_sql::audit::append(&store, &entry(2_000, "export"))
        .await
        .expect("appended");
    let mut other = entry(2_500, "login");
    other.campaign_id = "c2".to_owned();
    store.append_audit(&other).await.expect("appended");
    assert!(second > first);

    let all = AuditQuery {
        campaign_id: Some("c1"),
        from_ms: 0,
        to_ms: 10_000,
    };
    let page = store.audit_page(&all, None, 1).await.expect("a page");
    assert_eq!(page.len(), 1);
    assert_eq!(
        (page[0].audit_id, page[0].action.as_str()),
        (second, "export"),
        "newest first"
    );
    let next = store
        .audit_page(&all, Some(page[0].audit_id), 10)
        .await
        .expect("the next page");
    assert_eq!(next.iter().map(|r| r.audit_id).collect::<Vec<_>>(), [first]);
    let streamed: Vec<_> = store.audit_stream(&all).try_collect().await.expect("rows");
    assert_eq!(
        streamed.iter().map(|r| r.audit_id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(streamed[1].address, "10.0.0.7");
    let period = AuditQuery {
        campaign_id: None,
        from_ms: 1_500,
        to_ms: 3_000,
    };
    let streamed: Vec<_> = store
        .audit_stream(&period)
        .try_collect()
        .await
        .expect("rows");
    assert_eq!(streamed.len(), 2, "every campaign, the period only");

    for sql in [
        "UPDATE audit_log SET outcome = 'forged'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'export'",
    ] {
        let refused = raw(&store, sql).await;
        assert!(refused.is_err(), "{sql} was allowed: {refused:?}");
    }
    if database == Database::Postgres {
        assert!(raw(&store, "TRUNCATE audit_log").await.is_err(), "TRUNCATE");
    }
    let kept: Vec<_> = store.audit_stream(&all).try_collect().await.expect("rows");
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|row| row.outcome == "ok"));
}
on_both!(the_trail_is_append_only_in_the_database);

fn person(id: i64, guardian: Option<&str>) -> ParticipantRow {
    ParticipantRow {
        campaign_id: "c1".to_owned(),
        participant_id: id,
        name: "周九九".to_owned(),
        phone_masked: "138****0000".to_owned(),
        phone_hash: format!("{id:032x}"),
        unit_id: "110101".to_owned(),
        registered_at_ms: 1_780_000_000_000 + id,
        consent: Some(Consent {
            notice_version: "v1".to_owned(),
            at_ms: 1_780_000_000_000 + id,
            guardian_name: guardian.map(str::to_owned),
        }),
        phone_sealed: Some(format!("1.sealed-{id}")),
    }
}

fn attempt(participant: i64) -> AttemptRow {
    AttemptRow {
        campaign_id: "c1".to_owned(),
        attempt_id: format!("{participant}-1"),
        participant_id: participant,
        unit_id: "110101".to_owned(),
        day: 20_614,
        started_at_ms: 1_780_000_001_000,
        deadline_ms: 1_780_000_151_000,
        finished_at_ms: 1_780_000_061_000,
        time_used_ms: 60_000,
        points: 1,
        correct: 1,
        auto_submitted: false,
        full_marks: false,
        questions: r#"[{"chosen":1,"id":"q1","key":1,"order":[0,1,2,3]}]"#.to_owned(),
    }
}

async fn a_purge_empties_names_and_keeps_rows_rollups_and_the_trail(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    store
        .insert_batch(&[
            RecordRow::Participant(person(1, None)),
            RecordRow::Participant(person(2, Some("吴监护"))),
            RecordRow::Participant(person(3, None)),
            RecordRow::Attempt(attempt(1)),
            RecordRow::Attempt(attempt(2)),
        ])
        .await
        .expect("inserted");
    store
        .append_audit(&entry(1_000, "export"))
        .await
        .expect("appended");
    // Fair-play observations of participants 1 and 3 (device token, network).
    let observed = |participant: i64| safequiz_sql::fair_play::Observation {
        campaign_id: "c1".to_owned(),
        participant_id: participant,
        unit_id: "110101".to_owned(),
        kind: 1,
        at_ms: 1_500,
        attempt: 1,
        device: format!("device-{participant}"),
        net: "10.1.2.0/24".to_owned(),
        page: 1,
    };
    store
        .insert_observations(&[observed(1), observed(3)])
        .await
        .expect("observed");
    assert_eq!(store.observation_count("c1").await.expect("count"), 2);
    // One person deleted their registration before.
    assert!(
        store
            .erase_participant(&person(3, None), 5_000)
            .await
            .expect("erased")
    );
    assert!(
        !store
            .erase_participant(&person(3, None), 6_000)
            .await
            .expect("again"),
        "once"
    );
    let held = store
        .participant_privacy("c1", 2)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(held.guardian_name.as_deref(), Some("吴监护"));
    assert_eq!(held.consent_version.as_deref(), Some("v1"));
    assert_eq!(
        held.phone_kept, 1,
        "the sealed phone is held until the purge"
    );
    let deleted = store
        .participant_privacy("c1", 3)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(deleted.phone_kept, 0, "a deletion empties the sealed phone");
    assert_eq!(
        store.observation_count("c1").await.expect("count"),
        1,
        "a deletion removes that person's observations, not others'"
    );

    let preview = store.purge_preview("c1").await.expect("preview");
    assert_eq!(
        (
            preview.participants,
            preview.guardians,
            preview.already_erased
        ),
        (2, 1, 1)
    );
    let unchanged = store.participants("c1").await.expect("rows");
    assert!(
        unchanged.iter().filter(|p| p.name == "周九九").count() == 2,
        "a preview changes nothing"
    );

    let purged = store.purge_campaign("c1", 9_000).await.expect("purged");
    assert_eq!(purged, preview);
    let rows = store.participants("c1").await.expect("rows");
    assert_eq!(rows.len(), 3, "the rows stay");
    assert!(
        rows.iter()
            .all(|p| p.name.is_empty() && p.phone_masked.is_empty() && p.phone_hash.is_empty()),
        "{rows:?}"
    );
    let held = store
        .participant_privacy("c1", 2)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(held.guardian_name, None);
    assert_eq!(held.phone_kept, 0, "a purge empties the sealed phone");
    assert_eq!(held.erased_at_ms, Some(9_000));
    assert_eq!(held.attempts, 1, "attempts stay");
    assert_eq!(store.attempts("c1").await.expect("attempts").len(), 2);
    assert!(
        store.check_rollups("c1").await.expect("check").is_empty(),
        "roll-ups agree"
    );
    assert_eq!(
        store.observation_count("c1").await.expect("count"),
        0,
        "a purge removes the campaign's observations"
    );
    let again = store.purge_campaign("c1", 10_000).await.expect("again");
    assert_eq!(again.participants, 0, "nothing left to purge");
    let trail: Vec<_> = store
        .audit_stream(&AuditQuery {
            campaign_id: Some("c1"),
            from_ms: 0,
            to_ms: i64::MAX,
        })
        .try_collect()
        .await
        .expect("rows");
    assert_eq!(trail.len(), 1, "the trail is kept");
}
on_both!(a_purge_empties_names_and_keeps_rows_rollups_and_the_trail);
