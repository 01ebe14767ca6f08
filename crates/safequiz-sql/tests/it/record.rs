//! Inserts are idempotent: a batch written twice leaves the record as written once.

use safequiz_sql::record::{AttemptRow, Inserted, ParticipantRow, RecordRow};
use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;

fn rows() -> Vec<RecordRow> {
    vec![
        RecordRow::Participant(ParticipantRow {
            campaign_id: "c1".to_owned(),
            participant_id: 5,
            name: "张三".to_owned(),
            phone_masked: "138****5678".to_owned(),
            phone_hash: "00ff".to_owned(),
            unit_id: "110101".to_owned(),
            registered_at_ms: 1_780_000_000_000,
        }),
        RecordRow::Attempt(AttemptRow {
            campaign_id: "c1".to_owned(),
            attempt_id: "5-1".to_owned(),
            participant_id: 5,
            unit_id: "110101".to_owned(),
            day: 20_614,
            started_at_ms: 1_780_000_001_000,
            deadline_ms: 1_780_000_151_000,
            finished_at_ms: 1_780_000_061_000,
            time_used_ms: 60_000,
            points: 4,
            correct: 4,
            auto_submitted: false,
            questions: r#"[{"id":"ap-001","order":[1,0,2,3],"key":2,"chosen":2}]"#.to_owned(),
        }),
    ]
}

#[tokio::test]
async fn a_batch_written_twice_is_recorded_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(format!(
            "sqlite://{}",
            dir.path().join("r.sqlite").display()
        )),
        max_connections: 2,
    })
    .expect("a store");
    store.migrate().await.expect("migrations run");
    store.migrate().await.expect("migrating again is harmless");

    let first = store.insert_batch(&rows()).await.expect("insert");
    let second = store.insert_batch(&rows()).await.expect("insert again");

    assert_eq!(
        first,
        Inserted {
            participants: 1,
            attempts: 1
        }
    );
    assert_eq!(second, Inserted::default(), "nothing new the second time");
    let attempts = store.attempts("c1").await.expect("read");
    let RecordRow::Attempt(expected) = &rows()[1] else {
        unreachable!("the second row is an attempt")
    };
    assert_eq!(attempts, vec![expected.clone()]);
    assert_eq!(store.participant_count("c1").await.expect("count"), 1);
}
