//! All hot state of safequiz lives behind this crate.
//!
//! Only this crate talks to Redis and builds Redis keys ([`keys`]). The participant hot path is one
//! Lua script per state change ([`attempts`]: start, save, submit, read; [`participants`]:
//! register), with every key of one participant carrying the hash tag of that participant's shard,
//! so the same code runs on one Redis and on Redis Cluster (docs/design.md §2.4). Finalize updates
//! the participant's totals, the shard's unit roll-ups and individual boards, and appends to the
//! shard's stream in the same script; [`boards`] merges the shards' partials on read.
//!
//! One Redis or a Redis Cluster is a setting (`redis.cluster`), not a code path: `connection.rs`
//! wraps redis-rs's single-node and cluster connections in one `ConnectionLike`, and sends a read
//! or write over several shards as one pipeline per shard (a cluster pipeline stays in one slot).
//! Scripts are sent by hash and, on `NOSCRIPT`, with their text (`scripts.rs`), so a promoted
//! replica needs nothing loaded. [`placement`] says which primary holds each shard.
//!
//! Group commit (`batch.rs`, issue 16): most of what an attempt script costs Redis is paid per
//! call (reading, parsing and answering the request, invoking the script, the prelude's setup),
//! not in its data work. So each handle sends its attempt operations (start, save, submit,
//! read) through one queue per target, one Redis or, on a cluster, one shard (a script's keys
//! must share a slot): an operation goes at once, as its own script, when no call of its target
//! is in flight, and the operations that arrive meanwhile go together in one batch script call
//! once it answers. Low load sees no added latency; high load forms batches and pays the
//! per-call cost once per batch. On a cluster, batches form only among concurrent operations of
//! one handle for one shard, so fewer shards per primary make bigger batches.
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

pub mod archive;
pub mod attempts;
mod batch;
pub mod board_writer;
pub mod boards;
mod connection;
pub mod exclusions;
pub use connection::Connection;
pub mod keys;
pub mod limits;
pub mod observations;
pub mod participants;
pub mod placement;
pub mod practice;
pub mod privacy;
pub mod restore;
mod scripts;
pub mod streams;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;

/// How to reach Redis; the `[redis]` section of the service configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`, or with [`RedisSettings::cluster`] one or more seed nodes of a
    /// Redis Cluster, comma-separated (`redis://10.0.0.5:6379,redis://10.0.0.6:6379`); may carry
    /// a password, so it is kept secret and never logged.
    pub url: SecretString,
    /// Whether `url` names a Redis Cluster (its seed nodes) rather than one Redis. Written
    /// `true`/`false`, or as an environment variable also `1`/`0`, `yes`/`no`, `on`/`off`.
    #[serde(default, deserialize_with = "switch")]
    pub cluster: bool,
    /// Multiplexed connections per handle, that is per thread serving requests (see
    /// [`HotState::with_own_connections`]); each carries many requests at once. On a cluster,
    /// each is a cluster connection holding one multiplexed connection per node.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Seconds a connection attempt or a reply may take before the request fails. On a cluster
    /// this bounds a whole request, its redirections and retries during a failover included.
    #[serde(default = "default_wait_secs")]
    pub wait_secs: u64,
    /// Whether finalize writes each attempt's stream entry packed into one field (the
    /// default), or as the named fields of the releases before the packing: `false` only while
    /// such a release still reads the streams during a rolling upgrade (docs/operations.md,
    /// "Schema upgrades"). This release reads both.
    #[serde(default = "default_packed_entries", deserialize_with = "switch")]
    pub packed_entries: bool,
}

impl RedisSettings {
    /// The URLs in `url`: one for a single node, the seed nodes for a cluster.
    pub fn urls(&self) -> Vec<&str> {
        self.url
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect()
    }
}

/// A switch as operators write it: a boolean, `1`/`0`, or `true`, `yes`, `on` and their
/// opposites in any case (`SAFEQUIZ_REDIS_CLUSTER=1`).
fn switch<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Switch;

    impl serde::de::Visitor<'_> for Switch {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("true or false (or 1/0, yes/no, on/off)")
        }

        fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<bool, E> {
            match value {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(
                    serde::de::Unexpected::Unsigned(value),
                    &self,
                )),
            }
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<bool, E> {
            match u64::try_from(value) {
                Ok(value) => self.visit_u64(value),
                Err(_) => Err(E::invalid_value(
                    serde::de::Unexpected::Signed(value),
                    &self,
                )),
            }
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<bool, E> {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" | "" => Ok(false),
                _ => Err(E::invalid_value(serde::de::Unexpected::Str(value), &self)),
            }
        }
    }

    deserializer.deserialize_any(Switch)
}

fn default_connections() -> usize {
    1
}

fn default_wait_secs() -> u64 {
    2
}

fn default_packed_entries() -> bool {
    true
}

/// Why Redis could not be used.
#[derive(Clone, Debug, thiserror::Error)]
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
    /// Whether Redis is unreachable (refused, dropped, timed out) or a cluster is between two
    /// topologies (a failover, slots moving) rather than misused: the request may succeed when
    /// retried a moment later.
    pub fn is_unavailable(&self) -> bool {
        use redis::{ErrorKind, ServerErrorKind};
        match self {
            RedisError::Command(error) => {
                error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_timeout()
                    || matches!(
                        error.kind(),
                        // The cluster client follows redirections and waits out these replies
                        // itself; one still reaching us means the switch outlasted its retries.
                        ErrorKind::ClusterConnectionNotFound
                            | ErrorKind::Server(
                                ServerErrorKind::Moved
                                    | ServerErrorKind::Ask
                                    | ServerErrorKind::TryAgain
                                    | ServerErrorKind::ClusterDown
                                    | ServerErrorKind::MasterDown
                                    | ServerErrorKind::ReadOnly
                                    | ServerErrorKind::BusyLoading
                            )
                    )
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
/// With `redis.cluster`, each connection is a Redis Cluster connection: redis-rs's cluster
/// client holds one multiplexed connection per node, sends each command to the primary that
/// owns its key's slot, follows `MOVED`/`ASK` and refreshes its slot map by itself after a
/// failover. The scripts and keys are the same on both.
///
/// A connection's I/O runs as a task on the runtime that opened it. A request on another
/// thread would hand its command over and be woken from there, a cross-thread wake-up that
/// costs more CPU than the rest of the Redis call; so each thread that serves requests (each
/// actix-web worker) takes its own handle with [`HotState::with_own_connections`].
#[derive(Clone)]
pub struct HotState {
    settings: Arc<ConnectSettings>,
    connections: Arc<Connections>,
    /// The group commit of this handle's attempt operations (`batch.rs`).
    batches: Arc<batch::Batches>,
}

pub(crate) struct ConnectSettings {
    target: Target,
    per_handle: usize,
    /// `RedisSettings::packed_entries`: which attempt scripts this handle runs.
    pub(crate) packed_entries: bool,
}

/// What a connection is opened to.
enum Target {
    Single {
        client: redis::Client,
        config: ConnectionManagerConfig,
    },
    Cluster(ClusterClient),
}

pub(crate) struct Connections {
    slots: Vec<OnceCell<Connection>>,
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

/// Shortest and longest pause of the cluster client before it retries a request during a
/// failover (redis-rs waits 1.28 s at least by default, most of a request's time budget).
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (50, 400);

impl HotState {
    /// Prepares the connections; they are opened lazily, so this succeeds while Redis is down
    /// and requests fail until it is back.
    pub fn connect(settings: &RedisSettings) -> Result<HotState, RedisError> {
        let timeout = Duration::from_secs(settings.wait_secs.max(1));
        let target = if settings.cluster {
            let client = ClusterClient::builder(settings.urls())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .overall_response_timeout(Some(timeout))
                .min_retry_wait(CLUSTER_RETRY_WAIT_MS.0)
                .max_retry_wait(CLUSTER_RETRY_WAIT_MS.1)
                .build()
                .map_err(RedisError::Url)?;
            Target::Cluster(client)
        } else {
            let client =
                redis::Client::open(settings.url.expose_secret()).map_err(RedisError::Url)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            Target::Single { client, config }
        };
        Ok(HotState {
            settings: Arc::new(ConnectSettings {
                target,
                per_handle: settings.connections,
                packed_entries: settings.packed_entries,
            }),
            connections: Connections::new(settings.connections),
            batches: Arc::default(),
        })
    }

    /// A handle to the same Redis with connections of its own, opened on first use by the
    /// thread that uses it: one per request-serving thread.
    pub fn with_own_connections(&self) -> HotState {
        HotState {
            settings: Arc::clone(&self.settings),
            connections: Connections::new(self.settings.per_handle),
            batches: Arc::default(),
        }
    }

    /// Whether this handle reaches a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.settings.target, Target::Cluster(_))
    }

    /// The next connection in turn, opening it on first use.
    pub(crate) async fn connection(&self) -> Result<Connection, RedisError> {
        open_connection(&self.settings, &self.connections).await
    }

    /// Checks that Redis answers: one `PING` round trip (on a cluster, to every primary).
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }
}

/// The next connection of `connections` in turn, opening it on first use; the batch drivers
/// use it without holding the handle (which holds their queues).
pub(crate) async fn open_connection(
    settings: &ConnectSettings,
    connections: &Connections,
) -> Result<Connection, RedisError> {
    let Connections { slots, next } = connections;
    let slot = &slots[next.fetch_add(1, Ordering::Relaxed) % slots.len()];
    let connection = slot
        .get_or_try_init(|| async {
            match &settings.target {
                Target::Single { client, config } => {
                    ConnectionManager::new_with_config(client.clone(), config.clone())
                        .await
                        .map(Connection::Single)
                }
                Target::Cluster(client) => {
                    client.get_async_connection().await.map(Connection::Cluster)
                }
            }
        })
        .await?;
    Ok(connection.clone())
}

#[cfg(test)]
mod tests;
