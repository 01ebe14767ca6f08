//! The durable record of safequiz: the only crate with SQL.
//!
//! A [`Store`] is either an embedded SQLite file (the default) or PostgreSQL (production); both
//! are reached through sqlx. Results reach SQL from the Redis streams through the flusher, never
//! from the request hot path.
//!
//! Dependency rule: depends on `safequiz-domain` only among safequiz crates; never on
//! `safequiz-redis` or the server.
//!
//! Types to read first: [`DatabaseSettings`] and [`Store`]; `statement` for how every query
//! runs on either database, [`record::StoredQuestion`] for the record's question JSON, and
//! [`rollups`] for the figures the organizer reports read, written with the rows they count.

/// Runs `$body` with `$pool` bound to the store's pool, whichever database it is; the body is
/// written once and compiled for each. Statements go through [`statement::Statement`], which
/// uses this; a transaction (`$pool.begin()`) is opened inside it.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}

// First, so that its `on_tx!` is known to the modules below.
#[macro_use]
mod statement;

pub mod archive;
pub mod audit;
pub mod fair_play;
pub mod logins;
pub mod organizations;
pub mod organizers;
pub mod privacy;
pub mod prizes;
pub mod record;
pub mod recovery;
pub mod reports;
pub mod rollups;
pub mod units;

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// How to reach the database; the `[database]` section of the service configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (created if missing) or `postgres://user:password@host/db`; secret
    /// because it may carry a password.
    pub url: SecretString,
    /// Connections in the pool.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

fn default_max_connections() -> u32 {
    8
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if it names one we support.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("the database URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    /// sqlx failed: bad URL, unreachable server, failed query.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An attempt's row is not what the flusher writes (its questions do not decode), so its
    /// roll-ups cannot be counted; retrying the same row can never succeed.
    #[error("attempt {attempt_id} has malformed questions: {problem}")]
    Record {
        /// The attempt.
        attempt_id: String,
        /// What is wrong.
        problem: String,
    },
}

impl StoreError {
    /// Whether the error is about this row's data (a constraint or a value the schema refuses),
    /// so retrying the same row can never succeed; every other error (unreachable server,
    /// locked file, pool timeout) is about the database being unavailable and worth a retry.
    pub fn is_data_error(&self) -> bool {
        if matches!(self, StoreError::Record { .. }) {
            return true;
        }
        let StoreError::Sql(sqlx::Error::Database(error)) = self else {
            return false;
        };
        let code = error.code().unwrap_or_default();
        match error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
            Some(_) => code.starts_with("22") || code.starts_with("23"),
            // SQLite: SQLITE_CONSTRAINT (19) and its extended codes (n * 256 + 19), and
            // SQLITE_MISMATCH (20). SQLITE_BUSY and SQLITE_LOCKED are availability, not data.
            None => code
                .parse::<u32>()
                .is_ok_and(|code| code & 0xff == 19 || code == 20),
        }
    }
}

/// The durable record, on SQLite or PostgreSQL; cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    /// An SQLite file, in WAL mode.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

/// The page cache of each SQLite connection, in SQLite's units (negative: KiB): 64 MiB instead
/// of SQLite's 2 MiB, so that the flusher's batches find the pages of the record's indexes and
/// roll-ups in memory instead of reading them back from the file at every transaction. Only
/// pages a connection touched take memory.
const SQLITE_CACHE_SIZE: &str = "-65536";

impl Store {
    /// Opens a lazily connecting pool for `settings.url`.
    ///
    /// An SQLite file is created if missing, in WAL mode with `synchronous = NORMAL`: safe
    /// against process crashes, and writers do not block readers.
    pub fn connect_lazy(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let url = settings.url.expose_secret();
        let acquire = Duration::from_secs(5);
        match Backend::of_url(url).ok_or(StoreError::UnsupportedUrl)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .pragma("cache_size", SQLITE_CACHE_SIZE)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(acquire)
                    .connect_lazy_with(options);
                Ok(Store::Sqlite(pool))
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(acquire)
                    .connect_lazy_with(options);
                Ok(Store::Postgres(pool))
            }
        }
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers a trivial query.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), StoreError> {
        statement::Statement::new("SELECT 1").execute(self).await?;
        Ok(())
    }
}
