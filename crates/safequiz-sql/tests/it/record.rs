//! Inserts are idempotent and all or nothing, on SQLite and on PostgreSQL: a batch written twice
//! leaves the record as written once, and a row the database refuses writes nothing of its batch.

use safequiz_sql::record::{AttemptRow, Inserted, ParticipantRow, RecordRow};
use safequiz_testkit::{Database, fresh_store};

fn participant(id: i64) -> ParticipantRow {
    ParticipantRow {
        campaign_id: "c1".to_owned(),
        participant_id: id,
        name: "张三".to_owned(),
        phone_masked: "138****5678".to_owned(),
        phone_hash: format!("{id:032x}"),
        unit_id: "110101".to_owned(),
        registered_at_ms: 1_780_000_000_000 + id,
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
        points: 4,
        correct: 4,
        auto_submitted: participant % 2 == 0,
        // Spelled as PostgreSQL prints `jsonb`, so both databases read back the same text.
        questions: r#"[{"id": "ap-001", "key": 2, "order": [1, 0, 2, 3], "chosen": 2}]"#.to_owned(),
    }
}

/// Participants `ids` and one attempt each, interleaved as a stream delivers them.
fn rows(ids: impl IntoIterator<Item = i64>) -> Vec<RecordRow> {
    ids.into_iter()
        .flat_map(|id| {
            [
                RecordRow::Participant(participant(id)),
                RecordRow::Attempt(attempt(id)),
            ]
        })
        .collect()
}

async fn a_batch_written_twice_is_recorded_once(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    store.migrate().await.expect("migrating again is harmless");

    let first = store.insert_batch(&rows([5])).await.expect("insert");
    let second = store.insert_batch(&rows([5])).await.expect("insert again");

    assert_eq!(
        first,
        Inserted {
            participants: 1,
            attempts: 1
        }
    );
    assert_eq!(second, Inserted::default(), "nothing new the second time");
    assert_eq!(store.attempts("c1").await.expect("read"), vec![attempt(5)]);
    assert_eq!(
        store.participants("c1").await.expect("read"),
        vec![participant(5)]
    );
}

#[tokio::test]
async fn a_batch_written_twice_is_recorded_once_on_sqlite() {
    a_batch_written_twice_is_recorded_once(Database::Sqlite).await;
}

#[tokio::test]
async fn a_batch_written_twice_is_recorded_once_on_postgres() {
    a_batch_written_twice_is_recorded_once(Database::Postgres).await;
}

async fn a_large_batch_writes_only_its_new_rows_once(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    store
        .insert_batch(&rows(1..=50))
        .await
        .expect("an earlier batch");
    // 250 of each kind, more than one statement takes; the first 50 are already written, and
    // participant 60 comes twice (a redelivered entry within one batch).
    let mut batch = rows(1..=250);
    batch.extend(rows([60]));

    let inserted = store.insert_batch(&batch).await.expect("insert");

    assert_eq!(
        inserted,
        Inserted {
            participants: 200,
            attempts: 200
        }
    );
    let attempts = store.attempts("c1").await.expect("read");
    let mut expected: Vec<AttemptRow> = (1..=250).map(attempt).collect();
    expected.sort_by(|a, b| a.attempt_id.cmp(&b.attempt_id));
    assert_eq!(attempts, expected);
    let participants = store.participants("c1").await.expect("read");
    assert_eq!(participants, (1..=250).map(participant).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_large_batch_writes_only_its_new_rows_once_on_sqlite() {
    a_large_batch_writes_only_its_new_rows_once(Database::Sqlite).await;
}

#[tokio::test]
async fn a_large_batch_writes_only_its_new_rows_once_on_postgres() {
    a_large_batch_writes_only_its_new_rows_once(Database::Postgres).await;
}

#[tokio::test]
async fn a_row_postgres_refuses_fails_its_whole_batch_as_a_data_error() {
    let (store, _dir) = fresh_store(Database::Postgres).await;
    let mut batch = rows(1..=3);
    let mut broken = attempt(4);
    broken.questions = "not JSON".to_owned();
    batch.push(RecordRow::Attempt(broken));

    let error = store
        .insert_batch(&batch)
        .await
        .expect_err("the database refuses the batch");

    assert!(error.is_data_error(), "{error}");
    assert_eq!(store.attempts("c1").await.expect("read"), Vec::new());
    assert_eq!(store.participant_count("c1").await.expect("count"), 0);
    let inserted = store
        .insert_batch(&batch[..6])
        .await
        .expect("the other rows alone are accepted");
    assert_eq!(
        inserted,
        Inserted {
            participants: 3,
            attempts: 3
        }
    );
}
