//! All hot state of safequiz lives behind this crate.
//!
//! Only this crate talks to Redis and builds Redis keys ([`keys`]). The participant hot path is one
//! Lua script per state change ([`attempts`]: start, save, submit, read; [`participants`]:
//! register), with every key of one participant carrying the hash tag of that participant's shard,
//! so the same code runs on one Redis and on Redis Cluster (docs/design.md §2.4). Finalize updates
//! the participant's totals, the shard's unit roll-ups and individual boards, and appends to the
//! shard's stream in the same script; [`boards`] merges the shards' partials on read.
//!
//! Each wire format here has one home: the attempt's fields in the participant's hash in
//! `attempts/encoding.rs` ([`attempts::EncodedQuestions`] and the encoders `NewAttempt` uses), the
//! stream entries in [`streams`] ([`streams::decode`] into a [`streams::StreamRecord`]), the keys in
//! [`keys`]. The rules the scripts apply are `safequiz_domain`'s (`score` for scoring and full
//! marks, `board` for the time counted, the totals and the board order); the Lua mirrors them for
//! speed, and `tests/it/finalize.rs` requires both to agree over generated attempts.
//!
//! Dependency rule: depends on `safequiz-domain` only among safequiz crates; never on
//! `safequiz-sql` or the server.
//!
//! Types to read first: [`RedisSettings`] (how to connect), [`HotState`] (the handle the server
//! holds), [`attempts::Actor`] (whom a script acts for) and the scripts in `lua/`.

pub mod attempts;
pub mod boards;
pub mod keys;
pub mod limits;
pub mod participants;
pub mod restore;
mod scripts;
pub mod streams;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;

/// How to reach Redis; the `[redis]` section of the service configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; may carry a password, so it is kept secret and never logged.
    pub url: SecretString,
    /// Multiplexed connections per handle, that is per thread serving requests (see
    /// [`HotState::with_own_connections`]); each carries many requests at once.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Seconds a connection attempt or a reply may take before the request fails.
    #[serde(default = "default_wait_secs")]
    pub wait_secs: u64,
}

fn default_connections() -> usize {
    1
}

fn default_wait_secs() -> u64 {
    2
}

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is unusable.
    #[error("invalid Redis URL: {0}")]
    Url(redis::RedisError),
    /// Redis answered with an error, or the connection broke or timed out.
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// A script answered something this version does not understand.
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
}

impl RedisError {
    /// Whether Redis is unreachable (refused, dropped, timed out) rather than misused: the
    /// request may succeed when retried.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RedisError::Command(error) => {
                error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_timeout()
            }
            RedisError::Url(_) | RedisError::Reply(_) => false,
        }
    }
}

/// The handle to hot state; cheap to clone, and clones share their connections.
///
/// It holds a few multiplexed connections (`redis.connections`), each opened on first use and
/// re-established by itself after a failure, and hands them out in turn. A multiplexed
/// connection carries many concurrent requests, so a request never waits for a free one and
/// never pays a health-check round trip (a classic pool's `PING` on checkout would double the
/// round trips of the hot path). Blocking reads are not used (the flusher polls), so the reply
/// timeout suits every caller.
///
/// A connection's I/O runs as a task on the runtime that opened it. A request on another
/// thread would hand its command over and be woken from there, a cross-thread wake-up that
/// costs more CPU than the rest of the Redis call; so each thread that serves requests (each
/// actix-web worker) takes its own handle with [`HotState::with_own_connections`].
#[derive(Clone)]
pub struct HotState {
    settings: Arc<ConnectSettings>,
    connections: Arc<Connections>,
}

struct ConnectSettings {
    client: redis::Client,
    config: ConnectionManagerConfig,
    per_handle: usize,
}

struct Connections {
    slots: Vec<OnceCell<ConnectionManager>>,
    next: AtomicUsize,
}

impl Connections {
    fn new(count: usize) -> Arc<Connections> {
        Arc::new(Connections {
            slots: (0..count.max(1)).map(|_| OnceCell::new()).collect(),
            next: AtomicUsize::new(0),
        })
    }
}

impl HotState {
    /// Prepares the connections; they are opened lazily, so this succeeds while Redis is down
    /// and requests fail until it is back.
    pub fn connect(settings: &RedisSettings) -> Result<HotState, RedisError> {
        let client = redis::Client::open(settings.url.expose_secret()).map_err(RedisError::Url)?;
        let timeout = Duration::from_secs(settings.wait_secs.max(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        Ok(HotState {
            settings: Arc::new(ConnectSettings {
                client,
                config,
                per_handle: settings.connections,
            }),
            connections: Connections::new(settings.connections),
        })
    }

    /// A handle to the same Redis with connections of its own, opened on first use by the
    /// thread that uses it: one per request-serving thread.
    pub fn with_own_connections(&self) -> HotState {
        HotState {
            settings: Arc::clone(&self.settings),
            connections: Connections::new(self.settings.per_handle),
        }
    }

    /// The next connection in turn, opening it on first use.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let Connections { slots, next } = &*self.connections;
        let slot = &slots[next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        let settings = &*self.settings;
        let manager = slot
            .get_or_try_init(|| {
                ConnectionManager::new_with_config(settings.client.clone(), settings.config.clone())
            })
            .await?;
        Ok(manager.clone())
    }

    /// Checks that Redis answers: one `PING` round trip.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }
}
