//! `safequiz seed` (issue 23): a synthetic record written through the flusher's insert, with
//! every question counter folded by the time the command ends; a campaign that already has
//! participants is refused and left as it was.

use safequiz_domain::scope::Scope;
use safequiz_sql::{DatabaseSettings, Store};
use safequiz_testapp::{CAMPAIGN, RedisServer};

use crate::{safequiz, texts};

const ATTEMPTS: usize = 900;

#[tokio::test]
async fn a_seeded_record_has_its_question_counters_folded_and_a_second_seed_is_refused() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("seed.sqlite").display());
    let attempts = ATTEMPTS.to_string();
    let args = [
        "seed",
        "--campaign",
        CAMPAIGN,
        "--participants",
        "300",
        "--attempts",
        attempts.as_str(),
        "--days",
        "3",
        // Small batches: several folds, some beside the writers.
        "--batch-rows",
        "50",
        // One writer: the batches are written in the order they are made.
        "--writers",
        "1",
    ];
    let env = [
        ("SAFEQUIZ_REDIS_URL", redis.url()),
        ("SAFEQUIZ_DATABASE_URL", url.clone()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let seeded = safequiz(&args, &env);

    let (out, err) = texts(&seeded);
    assert!(seeded.status.success(), "{out}{err}");
    let store = Store::connect_lazy(&DatabaseSettings {
        url: url.clone().into(),
        max_connections: 2,
    })
    .expect("the record opens");
    let rows = store.attempts(CAMPAIGN).await.expect("the attempts");
    assert_eq!(rows.len(), ATTEMPTS);
    assert_eq!(
        store.questions_pending(CAMPAIGN).await.expect("pending"),
        0,
        "every batch folded before the command ends"
    );
    let first = rows.iter().map(|a| a.day).min().expect("a first day");
    let last = rows.iter().map(|a| a.day).max().expect("a last day");
    let drawn: u64 = store
        .question_stats(CAMPAIGN, &Scope::WholeCampaign, first, last)
        .await
        .expect("the question analysis")
        .iter()
        .map(|stat| stat.drawn)
        .sum();
    let questions: usize = rows
        .iter()
        .map(|a| a.questions.matches("\"id\"").count())
        .sum();
    assert_eq!(drawn, questions as u64, "each answer counted once");
    assert_eq!(store.check_rollups(CAMPAIGN).await.expect("a check"), []);
    // Written as a campaign records them: day after day.
    let Store::Sqlite(pool) = &store else {
        unreachable!("an SQLite record")
    };
    let written: Vec<i32> = sqlx::query_scalar("SELECT day FROM attempts ORDER BY rowid")
        .fetch_all(pool)
        .await
        .expect("the days in the order written");
    assert!(written.is_sorted(), "attempts written day after day");
    assert_eq!((written[0], written[ATTEMPTS - 1]), (first, last));

    let again = safequiz(&args, &env);

    let (out, err) = texts(&again);
    assert!(!again.status.success(), "{out}{err}");
    assert!(err.contains("already has 300 participants"), "{err}");
    assert_eq!(
        store.attempts(CAMPAIGN).await.expect("the attempts").len(),
        ATTEMPTS,
        "nothing written"
    );
}

#[test]
fn more_days_than_the_seed_keeps_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("seed.sqlite");
    let url = format!("sqlite://{}", file.display());
    let refused = safequiz(
        &[
            "seed",
            "--campaign",
            CAMPAIGN,
            "--participants",
            "10",
            "--attempts",
            "10",
            "--days",
            "300",
        ],
        &[
            ("SAFEQUIZ_DATABASE_URL", url.as_str()),
            ("RUST_LOG", "warn"),
        ],
    );
    let (out, err) = texts(&refused);
    assert!(!refused.status.success(), "{out}{err}");
    assert!(err.contains("--days is at most 256"), "{err}");
    assert!(!file.exists(), "no record was opened");
}
