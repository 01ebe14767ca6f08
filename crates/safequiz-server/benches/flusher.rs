//! Rows per second the flusher copies from the shard streams to SQL, on SQLite and PostgreSQL.
//!
//! Run with `cargo bench -p safequiz-server --bench flusher`; options after `--`: `--rows N`
//! (finalized attempts per run, 20000 by default), `--runs N` (3), and `sqlite` or `postgres`
//! to measure one database only.
//!
//! Setup starts a redis-server and, for PostgreSQL, the testkit's throwaway cluster (which runs
//! with `fsync=off`, so commits are cheaper than on a durable server). With
//! `FLUSHER_BENCH_POSTGRES=postgres://user@host:port` the fresh databases are made on that
//! server instead, for instance one started with `pg_stat_statements` to see what each
//! statement of a flush costs. The streams are filled
//! the real way: one participant per attempt, each started, answered and submitted through the
//! attempt scripts, spread over the shipped number of shards. Their content is saved with `DUMP`
//! and put back with `RESTORE` before each run, so every run drains the same entries into a
//! fresh database. A run times what `safequiz flush` does once the record is prepared:
//! `flush_once` with the shipped `[flusher]` options, pass after pass, until every entry is
//! written and acknowledged. The rows written are then inserted again with `insert_batch` alone
//! into another fresh database, prepared as the flusher prepares it (migrated, units synced, so
//! the roll-ups count every level of the tree), which separates the SQL share from the Redis
//! share. Each run also times the question fold of what the flush queued (`question fold`,
//! attempts per second), and, on a third fresh database, the flush with the fold running beside
//! it as in a flusher process, until every entry is written and every batch folded (`flush with
//! the fold beside`: the rate the two sustain together).
//!
//! This is a measurement, not a test: it prints medians with the range and checks only that
//! every attempt arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::organization::UnitPath;
use safequiz_redis::HotState;
use safequiz_redis::attempts::{Actor, ChoiceArg, NewAttempt, StartOutcome, SubmitOutcome};
use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_server::catalogue::Catalogue;
use safequiz_server::clock::Clock;
use safequiz_server::config::{self, Settings};
use safequiz_server::http::AppState;
use safequiz_server::http::attempts::unit_path;
use safequiz_server::startup::{build_state, flusher_options};
use safequiz_server::workers::flusher::{FlusherOptions, flush_once, prepare_record};
use safequiz_server::workers::questions;
use safequiz_sql::record::RecordRow;
use safequiz_testapp::{CAMPAIGN, PostgresCluster, RedisServer};
use secrecy::SecretString;
use tempfile::TempDir;

/// Attempts started and submitted at once while filling the streams.
const FILL_CONCURRENCY: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Database {
    Sqlite,
    Postgres,
}

impl Database {
    fn name(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }

    /// A fresh, empty database; the folder holds an SQLite file and must outlive its use.
    async fn fresh(self, folder: &TempDir, run: usize) -> String {
        match self {
            Database::Sqlite => format!(
                "sqlite://{}",
                folder.path().join(format!("run-{run}.sqlite")).display()
            ),
            Database::Postgres => match std::env::var("FLUSHER_BENCH_POSTGRES") {
                Ok(server) => fresh_database_on(&server).await,
                Err(_) => PostgresCluster::get().fresh_database().await,
            },
        }
    }

    fn uses_testkit_cluster(self) -> bool {
        self == Database::Postgres && std::env::var_os("FLUSHER_BENCH_POSTGRES").is_none()
    }
}

/// A new, empty database on the PostgreSQL server at `server` (a URL without a database name).
async fn fresh_database_on(server: &str) -> String {
    use sqlx::Connection;
    static DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = DATABASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("flusher_bench_{}_{n}", std::process::id());
    let server = server.trim_end_matches('/');
    let mut connection = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("the PostgreSQL server of FLUSHER_BENCH_POSTGRES accepts connections");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("a database can be created on FLUSHER_BENCH_POSTGRES");
    format!("{server}/{name}")
}

struct Options {
    rows: usize,
    runs: usize,
    databases: Vec<Database>,
}

fn options() -> Options {
    let mut options = Options {
        rows: 20_000,
        runs: 3,
        databases: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|value| value.parse().ok())
                .filter(|&value| value > 0)
                .unwrap_or_else(|| panic!("{name} takes a positive number"))
        };
        match arg.as_str() {
            "--rows" => options.rows = number("--rows"),
            "--runs" => options.runs = number("--runs"),
            "sqlite" => options.databases.push(Database::Sqlite),
            "postgres" => options.databases.push(Database::Postgres),
            // `cargo bench` passes `--bench` to every benchmark binary.
            "--bench" => {}
            other => panic!("unknown argument `{other}`; see the file's documentation"),
        }
    }
    if options.databases.is_empty() {
        options.databases = vec![Database::Sqlite, Database::Postgres];
    }
    options
}

fn main() {
    let options = options();
    let loaded = config::load(&safequiz_testapp::config_dir()).expect("the shipped settings load");
    let catalogue = Arc::new(
        Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
            .expect("the shipped banks and campaigns load"),
    );
    if options
        .databases
        .iter()
        .any(|database| database.uses_testkit_cluster())
    {
        // Started before the runtime: starting it blocks while the cluster comes up.
        PostgresCluster::get();
    }
    let redis = RedisServer::start();
    let mut settings = loaded.settings.clone();
    settings.redis.url = SecretString::from(redis.url());
    // The same runtime as `safequiz flush`, and like its flusher the measurement runs as a task
    // on the runtime's workers rather than on the thread that blocks on it.
    let runtime = tokio::runtime::Runtime::new().expect("an async runtime");
    let measurement = runtime.spawn(measure(options, settings, catalogue));
    runtime
        .block_on(measurement)
        .expect("the measurement finishes");
}

async fn measure(options: Options, settings: Settings, catalogue: Arc<Catalogue>) {
    let campaign = catalogue
        .campaign(CAMPAIGN)
        .expect("the shipped campaign")
        .clone();
    let hot = HotState::connect(&settings.redis).expect("a Redis URL from the testkit parses");
    let flusher = flusher_options(&settings);
    println!(
        "flusher: {} finalized attempts per run over {} shards, batch_rows = {}, {} runs per \
         database",
        options.rows, settings.hot.shards, flusher.batch_rows, options.runs
    );

    let started = Instant::now();
    fill(&hot, &campaign, settings.hot.shards, options.rows).await;
    let elapsed = started.elapsed();
    println!(
        "filled the streams in {:.2} s through the start and submit scripts ({:.0} attempts/s)",
        elapsed.as_secs_f64(),
        options.rows as f64 / elapsed.as_secs_f64()
    );
    let redis_url = secrecy::ExposeSecret::expose_secret(&settings.redis.url).to_owned();
    let snapshot = Snapshot::take(&redis_url, &campaign.id, settings.hot.shards).await;

    for &database in &options.databases {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let mut flush_rates = Vec::new();
        let mut fold_rates = Vec::new();
        let mut both_rates = Vec::new();
        let mut insert_rates = Vec::new();
        for run in 0..options.runs {
            snapshot.restore().await;
            let mut settings = settings.clone();
            settings.database.url = SecretString::from(database.fresh(&folder, 3 * run).await);
            let state = build_state(&settings, catalogue.clone(), Clock::system())
                .expect("the state builds");
            prepare_record(&state)
                .await
                .expect("the fresh database migrates");

            let started = Instant::now();
            flush_all(&state, &flusher, options.rows).await;
            let elapsed = started.elapsed();
            let rows = state
                .store
                .attempts(&campaign.id)
                .await
                .expect("the record reads");
            assert_eq!(rows.len(), options.rows, "every attempt reached SQL once");
            flush_rates.push(rate(options.rows, elapsed));

            let started = Instant::now();
            let folded = state
                .store
                .fold_all_questions()
                .await
                .expect("the question fold");
            fold_rates.push(rate(options.rows, started.elapsed()));
            assert_eq!(
                folded.attempts, options.rows as u64,
                "every attempt folded once"
            );

            snapshot.restore().await;
            settings.database.url = SecretString::from(database.fresh(&folder, 3 * run + 1).await);
            let state = build_state(&settings, catalogue.clone(), Clock::system())
                .expect("the state builds");
            prepare_record(&state)
                .await
                .expect("the fresh database migrates");
            let elapsed = flush_with_fold(&state, &flusher, options.rows).await;
            both_rates.push(rate(options.rows, elapsed));

            let rows: Vec<RecordRow> = rows.into_iter().map(RecordRow::Attempt).collect();
            settings.database.url = SecretString::from(database.fresh(&folder, 3 * run + 2).await);
            let elapsed =
                insert_only(&settings, catalogue.clone(), &rows, flusher.batch_rows).await;
            insert_rates.push(rate(rows.len(), elapsed));
        }
        report(database, "flush_once", &flush_rates);
        report(database, "question fold", &fold_rates);
        report(database, "flush with the fold beside", &both_rates);
        report(database, "insert_batch only", &insert_rates);
    }
}

/// Flushes until `rows` entries are written and acknowledged.
async fn flush_all(state: &AppState, flusher: &FlusherOptions, rows: usize) {
    let mut flushed = 0;
    while flushed < rows {
        let done = flush_once(state, flusher).await.expect("a flush pass");
        assert!(done > 0, "the streams ran dry after {flushed} entries");
        flushed += done;
    }
}

/// What a flusher process does: the flusher, and beside it the question fold worker itself
/// (`workers::questions::run`, which on PostgreSQL folds as soon as the flusher has recorded a
/// batch, otherwise every second, and at once again while it finds a full load), stopped when the flush is done so that its stop folds the rest; until every entry is
/// written and every batch folded.
async fn flush_with_fold(state: &AppState, flusher: &FlusherOptions, rows: usize) -> Duration {
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let fold = tokio::spawn(questions::run(state.clone(), stopped));
    flush_all(state, flusher, rows).await;
    stop.send(true)
        .expect("the fold worker runs until told to stop");
    fold.await.expect("the fold worker stops");
    let elapsed = started.elapsed();
    let pending = state
        .store
        .questions_pending(CAMPAIGN)
        .await
        .expect("the queue reads");
    assert_eq!(pending, 0, "every attempt folded by the worker's stop");
    elapsed
}

/// Starts, answers and submits one attempt for each of participants `1..=rows`, so each
/// finalize appends one entry to its shard's stream.
async fn fill(hot: &HotState, campaign: &Campaign, shards: u16, rows: usize) {
    // Counties of the region tree and central enterprises alike: every leaf, in turn.
    let leaves: Vec<&str> = campaign
        .units
        .units()
        .iter()
        .filter(|unit| unit.children.is_empty())
        .map(|unit| unit.id.as_str())
        .collect();
    let paths: Vec<UnitPath<'_>> = leaves
        .iter()
        .map(|leaf| unit_path(campaign, leaf).expect("a leaf of the campaign's tree"))
        .collect();
    let now = campaign.opens_at + SignedDuration::from_hours(24 * 30);
    futures_util::stream::iter(1..=rows as u64)
        .map(|participant| {
            let path = &paths[participant as usize % paths.len()];
            play(hot, campaign, shards, participant, path, now)
        })
        .buffer_unordered(FILL_CONCURRENCY)
        .collect::<()>()
        .await;
}

/// One attempt: drawn as the start handler draws it, every question answered with its first
/// option shown, submitted a minute later.
async fn play(
    hot: &HotState,
    campaign: &Campaign,
    shards: u16,
    participant: u64,
    path: &[&str],
    now: Timestamp,
) {
    let actor = Actor {
        campaign: &campaign.id,
        shards,
        participant,
        path,
        scoring: campaign.scoring,
    };
    let attempt = NewAttempt::draw(campaign, now, &mut rand::rng());
    let StartOutcome::Created(record) = hot
        .start(&actor, campaign.attempts_per_day, &attempt)
        .await
        .expect("Redis runs the start script")
    else {
        panic!("a fresh participant's first start creates an attempt");
    };
    // Every question answered with the first option shown.
    let answers: Vec<(u32, ChoiceArg)> = record
        .questions()
        .enumerate()
        .map(|(index, question)| {
            let question = question.expect("the start script stores what NewAttempt encoded");
            let kind = campaign
                .pool
                .find(question.id)
                .expect("a drawn question is in its pool")
                .kind;
            let key = kind.option_key(0).to_string();
            let choice = ChoiceArg::parse([key.as_str()]).expect("one key never repeats");
            (index as u32, choice)
        })
        .collect();
    let submitted = hot
        .submit(
            &actor,
            record.id.number,
            &answers,
            now.as_millisecond() + 60_000,
        )
        .await
        .expect("Redis runs the submit script");
    assert!(
        matches!(submitted, SubmitOutcome::Final(_)),
        "a submit within the time limit finalizes: {submitted:?}"
    );
}

/// The filled streams, to put back before each run (the flusher trims what it wrote), and the
/// keys where a run leaves the flusher's position, to clear.
struct Snapshot {
    connection: redis::aio::MultiplexedConnection,
    streams: Vec<(String, Vec<u8>)>,
    positions: Vec<String>,
}

impl Snapshot {
    async fn take(url: &str, campaign: &str, shards: u16) -> Snapshot {
        let client = redis::Client::open(url).expect("a Redis URL from the testkit parses");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis accepts a connection");
        let mut streams = Vec::new();
        let mut positions = Vec::new();
        for shard in Shard::all(shards) {
            let keys = ShardKeys::new(campaign, shard);
            positions.extend([
                keys.flush_cursor(),
                keys.flush_lease(),
                keys.flush_refusals(),
            ]);
            let key = keys.stream();
            let dump: Vec<u8> = redis::cmd("DUMP")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("DUMP of a filled stream");
            streams.push((key, dump));
        }
        Snapshot {
            connection,
            streams,
            positions,
        }
    }

    /// Puts the streams back as filled, every entry, with no flusher's position on them: the
    /// cursor a run leaves is past every entry, and the entries come back with their ids.
    async fn restore(&self) {
        let mut connection = self.connection.clone();
        let () = redis::cmd("DEL")
            .arg(&self.positions)
            .query_async(&mut connection)
            .await
            .expect("DEL of the flusher's position");
        for (key, dump) in &self.streams {
            let () = redis::cmd("RESTORE")
                .arg(key)
                .arg(0)
                .arg(dump)
                .arg("REPLACE")
                .query_async(&mut connection)
                .await
                .expect("RESTORE of a dumped stream");
        }
    }
}

/// Times `insert_batch` alone over `rows` in batches of `batch_rows`, into the fresh database of
/// `settings`, prepared as the flusher prepares it: migrated and its units synced, so that the
/// roll-ups count every level of each attempt's unit, as they do in `flush_once`.
async fn insert_only(
    settings: &Settings,
    catalogue: Arc<Catalogue>,
    rows: &[RecordRow],
    batch_rows: usize,
) -> Duration {
    let state = build_state(settings, catalogue, Clock::system()).expect("the state builds");
    prepare_record(&state)
        .await
        .expect("the fresh database migrates");
    let started = Instant::now();
    for batch in rows.chunks(batch_rows) {
        state
            .store
            .insert_batch(batch)
            .await
            .expect("insert a batch");
    }
    started.elapsed()
}

fn rate(rows: usize, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64()
}

/// Prints the median rate and the range of `rates` (rows/s).
fn report(database: Database, what: &str, rates: &[f64]) {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    println!(
        "{:<9} {:<18} median {:>8.0} rows/s   (min {:.0}, max {:.0}, {} runs)",
        database.name(),
        what,
        median,
        sorted[0],
        sorted[sorted.len() - 1],
        sorted.len()
    );
}
