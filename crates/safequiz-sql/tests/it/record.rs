//! Inserts are idempotent and all or nothing, on SQLite and on PostgreSQL: a batch written twice
//! leaves the record as written once, and a row the database refuses writes nothing of its batch.
//! Attempts recorded before a column existed get it from its migration.

use std::path::Path;

use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN};
use safequiz_domain::score::is_full_marks;
use safequiz_sql::record::{AttemptRow, Inserted, ParticipantRow, RecordRow, StoredQuestion};
use safequiz_sql::{DatabaseSettings, Store};
use safequiz_testkit::{Database, PostgresCluster, fresh_store, on_both};
use secrecy::SecretString;
use sqlx::migrate::Migrator;
use tempfile::TempDir;

fn participant(id: i64) -> ParticipantRow {
    ParticipantRow {
        campaign_id: "c1".to_owned(),
        participant_id: id,
        name: "张三".to_owned(),
        phone_masked: "138****5678".to_owned(),
        phone_hash: format!("{id:032x}"),
        unit_id: "110101".to_owned(),
        registered_at_ms: 1_780_000_000_000 + id,
        consent: None,
        phone_sealed: None,
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
        full_marks: participant % 3 == 0,
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

/// Migrates a new, empty database up to and including `version` only.
async fn store_migrated_to(database: Database, version: i64) -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (url, folder) = match database {
        Database::Sqlite => (
            format!("sqlite://{}", dir.path().join("r.sqlite").display()),
            "sqlite",
        ),
        Database::Postgres => (PostgresCluster::get().fresh_database().await, "postgres"),
    };
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(url),
        max_connections: 2,
    })
    .expect("a store");
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let migrator = Migrator::new(migrations).await.expect("the migrations");
    match &store {
        Store::Sqlite(pool) => migrator.run_to(version, pool).await,
        Store::Postgres(pool) => migrator.run_to(version, pool).await,
    }
    .expect("the early migrations run");
    (store, dir)
}

async fn attempts_recorded_before_full_marks_existed_are_backfilled_by_the_rule(
    database: Database,
) {
    let (store, _dir) = store_migrated_to(database, 3).await;
    let two = r#"[{"id": "a", "key": 1, "order": [0, 1], "chosen": 1}, {"id": "b", "key": 2, "order": [1, 0], "chosen": 1}]"#;
    // Attempt id, correct answers, questions; and whether the domain's rule gives full marks.
    let cases = [
        ("1-1", 2_i32, two, true, "every question correct"),
        ("1-2", 1, two, false, "one of two correct"),
        ("1-3", 0, two, false, "none correct"),
        ("1-4", 0, "[]", false, "no questions is never full marks"),
    ];
    macro_rules! insert {
        ($questions:literal) => {
            concat!(
                "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, ",
                "started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, ",
                "auto_submitted, questions) VALUES ($1, $2, 1, 'u', 1, 0, 0, 0, 0, 0, $3, $4, ",
                $questions,
                ")"
            )
        };
    }
    for (attempt_id, correct, questions, _, _) in cases {
        match &store {
            Store::Sqlite(pool) => sqlx::query(insert!("$5"))
                .bind("c1")
                .bind(attempt_id)
                .bind(correct)
                .bind(false)
                .bind(questions)
                .execute(pool)
                .await
                .map(drop),
            Store::Postgres(pool) => sqlx::query(insert!("$5::jsonb"))
                .bind("c1")
                .bind(attempt_id)
                .bind(correct)
                .bind(false)
                .bind(questions)
                .execute(pool)
                .await
                .map(drop),
        }
        .expect("an attempt of the old schema");
    }

    store
        .migrate()
        .await
        .expect("the full_marks migration runs");

    let recorded = store.attempts("c1").await.expect("read");
    assert_eq!(recorded.len(), cases.len());
    for ((attempt_id, correct, questions, full, why), row) in cases.into_iter().zip(recorded) {
        assert_eq!(row.attempt_id, attempt_id);
        let count = StoredQuestion::decode_all(questions).expect("JSON").len() as u32;
        assert_eq!(
            full,
            is_full_marks(correct as u32, count),
            "the case agrees with the rule: {why}"
        );
        assert_eq!(row.full_marks, full, "{why}");
    }
}

on_both!(attempts_recorded_before_full_marks_existed_are_backfilled_by_the_rule);

/// Runs `sql` (no parameters) on either database.
async fn execute(store: &Store, sql: &'static str) {
    match store {
        Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// The participant-days marked registered, by participant and day.
async fn registered_days(store: &Store) -> Vec<(i64, i32)> {
    let sql = "SELECT participant_id, day FROM participant_days WHERE registered \
               ORDER BY participant_id, day";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
    }
    .expect("the day rows")
}

/// Roll-ups written before migrations 0015 to 0017, the same rows on both databases: question
/// counters as a row per day (with a day missing in the middle of a cell's days), and day
/// rows of a registered participant and of one whose registration never came.
async fn rollups_of_version_14(database: Database) -> (Store, TempDir) {
    let (store, dir) = store_migrated_to(database, 14).await;
    for sql in [
        "INSERT INTO rollup_keys (id, campaign_id, kind, name) VALUES \
         (1, 'c1', 'unit', '*'), (2, 'c1', 'unit', '110101'), \
         (3, 'c1', 'question', 'qa'), (4, 'c1', 'question', 'qb')",
        // unit, day, question, chosen, correct, options, answers
        "INSERT INTO question_counts VALUES \
         (1, 20454, 3, 1, TRUE, 4, 3), (1, 20456, 3, 1, TRUE, 4, 2), (1, 20457, 3, 1, TRUE, 4, 1), \
         (1, 20455, 3, 2, FALSE, 4, 4), (1, 20457, 3, 0, FALSE, 4, 1), \
         (1, 20456, 4, 5, FALSE, 3, 2), (1, 20457, 4, 1, TRUE, 3, 6), \
         (2, 20454, 3, 1, TRUE, 4, 1), (2, 20457, 4, 5, FALSE, 3, 1), (2, 20457, 4, 1, TRUE, 3, 0)",
        "INSERT INTO participant_totals (campaign_id, participant_id, unit_id, name, \
         phone_masked, registered_at_ms, registered, attempts, points, full_marks, time_used_ms, \
         last_finished_at_ms) VALUES \
         ('c1', 1, '110101', '张三', '138****5678', 1, TRUE, 2, 8, 1, 100, 5), \
         ('c1', 2, '110101', '', '', 0, FALSE, 1, 3, 0, 50, 5)",
        "INSERT INTO participant_days (campaign_id, participant_id, day, unit_id, attempts, \
         points, full_marks, time_used_ms, last_finished_at_ms) VALUES \
         ('c1', 1, 20454, '110101', 1, 5, 1, 50, 4), ('c1', 1, 20456, '110101', 1, 3, 0, 50, 5), \
         ('c1', 2, 20456, '110101', 1, 3, 0, 50, 5)",
    ] {
        execute(&store, sql).await;
    }
    store.migrate().await.expect("the later migrations run");
    (store, dir)
}

#[tokio::test]
async fn roll_ups_of_an_earlier_schema_read_the_same_after_the_migrations() {
    let (postgres, _pg_dir) = rollups_of_version_14(Database::Postgres).await;
    let (sqlite, _sqlite_dir) = rollups_of_version_14(Database::Sqlite).await;

    // PostgreSQL made a cell of each question's answer, its running total in one array by day
    // number (the missing day carries the total before it); SQLite kept its rows per day, and
    // its analysis adds them up: both read the same for any scope and period.
    let cell: String = match &postgres {
        Store::Postgres(pool) => sqlx::query_scalar(
            "SELECT CAST(answers AS TEXT) FROM question_counts \
             WHERE unit_key = 1 AND question_key = 3 AND chosen = 1 AND correct",
        )
        .fetch_one(pool)
        .await
        .expect("the cell"),
        Store::Sqlite(_) => unreachable!("a PostgreSQL store"),
    };
    assert_eq!(cell, "[20454:20457]={3,3,5,6}");
    for scope in [WHOLE_CAMPAIGN, "110101"] {
        for (from, to) in [
            (20454, 20457),
            (20455, 20456),
            (20457, 20457),
            (20456, 20470),
            (20400, 20454),
            (20458, 20470),
        ] {
            let scope = Scope::parse(scope).expect("a scope");
            let read = postgres
                .question_stats("c1", &scope, from, to)
                .await
                .expect("PostgreSQL's analysis");
            let expected = sqlite
                .question_stats("c1", &scope, from, to)
                .await
                .expect("SQLite's analysis");
            assert_eq!(read, expected, "{scope} over {from}..={to}");
            if (from, to) == (20454, 20457) {
                assert!(
                    !read.is_empty(),
                    "{scope} has answers over the whole period"
                );
            }
        }
    }

    // The day rows learned whether their participant is registered, on both databases.
    for store in [&postgres, &sqlite] {
        assert_eq!(registered_days(store).await, vec![(1, 20454), (1, 20456)]);
    }
}
