//! All hot state of safequiz lives behind this crate.
//!
//! Only this crate talks to Redis and builds Redis keys ([`keys`]). The participant hot path is
//! one Lua script per state change ([`attempts`]: start, save, submit, read; [`participants`]:
//! register), with every key of one participant carrying the hash tag of that participant's
//! shard, so the same code runs on one Redis and on Redis Cluster (DESIGN §2). Finalize updates
//! the participant's totals, the shard's unit roll-ups and individual boards, and appends to the
//! shard's stream in the same script; [`boards`] merges the shards' partials on read.
//!
//! Dependency rule: depends on `safequiz-domain` only among safequiz crates; never on
//! `safequiz-sql` or the server.
//!
//! Types to read first: [`RedisSettings`] (how to connect), [`HotState`] (the handle the server
//! holds), [`attempts::Actor`] (whom a script acts for) and the scripts in `lua/`.

pub mod attempts;
pub mod boards;
pub mod keys;
pub mod participants;
pub mod restore;
mod scripts;
pub mod streams;

use std::time::Duration;

use deadpool_redis::{Config, Pool, Runtime};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How to reach Redis; the `[redis]` section of the service configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; may carry a password, so it is kept secret and never logged.
    pub url: SecretString,
    /// Connections in the pool of each server process.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Seconds to wait for a free connection before a request fails.
    #[serde(default = "default_wait_secs")]
    pub wait_secs: u64,
}

fn default_pool_size() -> usize {
    32
}

fn default_wait_secs() -> u64 {
    2
}

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL or pool settings are unusable.
    #[error("cannot create the Redis pool: {0}")]
    Pool(#[from] deadpool_redis::CreatePoolError),
    /// No connection could be had from the pool.
    #[error("no Redis connection available: {0}")]
    Connection(#[from] deadpool_redis::PoolError),
    /// Redis answered with an error, or the connection broke.
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// A script answered something this version does not understand.
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
}

/// The handle to hot state that every request and worker shares; cheap to clone.
///
/// Its pooled connections keep redis-rs's default response timeout (500 ms), which suits the
/// hot path. Blocking stream reads (`XREADGROUP ... BLOCK`) must use a dedicated connection
/// without that timeout, or every idle read fails.
#[derive(Clone)]
pub struct HotState {
    pool: Pool,
}

impl HotState {
    /// Builds the connection pool; connections are opened lazily, so this succeeds while Redis is
    /// down and requests fail until it is back.
    pub fn connect(settings: &RedisSettings) -> Result<HotState, RedisError> {
        let mut config = Config::from_url(settings.url.expose_secret());
        let mut pool_config = deadpool_redis::PoolConfig::new(settings.pool_size);
        pool_config.timeouts.wait = Some(Duration::from_secs(settings.wait_secs));
        config.pool = Some(pool_config);
        let pool = config.create_pool(Some(Runtime::Tokio1))?;
        Ok(HotState { pool })
    }

    /// A pooled connection.
    pub(crate) async fn connection(&self) -> Result<deadpool_redis::Connection, RedisError> {
        Ok(self.pool.get().await?)
    }

    /// Checks that Redis answers: one `PING` round trip.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.pool.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }
}
