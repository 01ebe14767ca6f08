//! The connection to Redis, one node or a Redis Cluster, and pipelines that keep to hash slots.
//!
//! [`Connection`] is either redis-rs's single-node `ConnectionManager` or its cluster connection
//! (`cluster-async`: it follows `MOVED` and `ASK`, refreshes its slot map after a failover and
//! reconnects by itself). Both are `ConnectionLike`, so every command and script call in this
//! crate is written once for both. Nothing here routes a command to a node.
//!
//! A cluster pipeline must stay within one hash slot, and every key of one shard carries the
//! shard's hash tag (see `keys`), as does each individual board, so [`ShardPipelines`] groups a
//! read or write that spans shards or boards by [`Slot`]: one pipeline on a single node (as
//! before), one pipeline per slot sent concurrently on a cluster. It must not be used for keys
//! outside the shards and boards.

use std::collections::HashMap;

use futures_util::future::try_join_all;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, Value};

use crate::keys::Shard;

/// One connection to hot state: a single Redis node, or a Redis Cluster. Cheap to clone; clones
/// share the underlying connections.
#[derive(Clone)]
pub enum Connection {
    /// A single node, through a manager that reconnects by itself.
    Single(ConnectionManager),
    /// A cluster, through redis-rs's cluster client.
    Cluster(ClusterConnection),
}

impl Connection {
    /// Opens a connection of its own to one node (`urls[0]`) or, with `cluster`, to the cluster
    /// those seed nodes belong to: for tools and tests that read keys beside a [`crate::HotState`].
    pub async fn open(urls: &[&str], cluster: bool) -> RedisResult<Connection> {
        if cluster {
            let client = redis::cluster::ClusterClient::new(urls.to_vec())?;
            Ok(Connection::Cluster(client.get_async_connection().await?))
        } else {
            let url = urls.first().copied().unwrap_or_default();
            let client = redis::Client::open(url)?;
            Ok(Connection::Single(ConnectionManager::new(client).await?))
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The hash slot a command's keys share: one shard's, or one individual board's (named by its
/// key, see `keys::board`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// Every key of one shard.
    Shard(Shard),
    /// One individual board.
    Board(String),
}

impl From<Shard> for Slot {
    fn from(shard: Shard) -> Slot {
        Slot::Shard(shard)
    }
}

/// Commands over several shards or boards, each naming the slot whose keys it touches, sent as
/// few pipelines as the topology allows; replies come back in the order the commands were added.
#[derive(Default)]
pub(crate) struct ShardPipelines {
    commands: Vec<(Slot, Cmd)>,
}

impl ShardPipelines {
    /// No commands yet.
    pub(crate) fn new() -> ShardPipelines {
        ShardPipelines::default()
    }

    /// Adds `command`, whose keys are all in `slot` (a shard's or a board's).
    pub(crate) fn add(&mut self, slot: impl Into<Slot>, command: Cmd) -> &mut ShardPipelines {
        self.commands.push((slot.into(), command));
        self
    }

    /// Commands added.
    pub(crate) fn len(&self) -> usize {
        self.commands.len()
    }

    /// Sends every command and returns each reply, converted, in the order they were added.
    ///
    /// On a single node this is one pipeline, one round trip. On a cluster each slot's commands
    /// are one pipeline, and the pipelines run concurrently (one round trip to each primary in
    /// parallel). A server error in any reply fails the whole call, as a pipeline does.
    pub(crate) async fn query<T: FromRedisValue>(
        self,
        connection: &Connection,
    ) -> RedisResult<Vec<T>> {
        if self.commands.is_empty() {
            return Ok(Vec::new());
        }
        let replies = match connection {
            Connection::Single(_) => {
                let mut pipeline = redis::pipe();
                for (_, command) in self.commands {
                    pipeline.add_command(command);
                }
                let replies: Vec<Value> = pipeline.query_async(&mut connection.clone()).await?;
                replies
            }
            Connection::Cluster(_) => self.query_per_shard(connection).await?,
        };
        replies
            .into_iter()
            .map(|value| Ok(redis::from_redis_value(value)?))
            .collect()
    }

    /// One pipeline per slot, concurrently; the replies put back in the order added.
    async fn query_per_shard(self, connection: &Connection) -> RedisResult<Vec<Value>> {
        let count = self.commands.len();
        // Groups in first-use order; a board writer's pass may name thousands of boards.
        let mut by_slot: HashMap<Slot, usize> = HashMap::new();
        let mut groups: Vec<(Pipeline, Vec<usize>)> = Vec::new();
        for (position, (slot, command)) in self.commands.into_iter().enumerate() {
            let group = *by_slot.entry(slot).or_insert_with(|| {
                groups.push((redis::pipe(), Vec::new()));
                groups.len() - 1
            });
            let (pipeline, positions) = &mut groups[group];
            pipeline.add_command(command);
            positions.push(position);
        }
        let sent = groups.iter().map(|(pipeline, _)| {
            let mut connection = connection.clone();
            async move { pipeline.query_async::<Vec<Value>>(&mut connection).await }
        });
        let answered = try_join_all(sent).await?;
        let mut replies = vec![Value::Nil; count];
        for ((_, positions), values) in groups.iter().zip(answered) {
            for (position, value) in positions.iter().zip(values) {
                replies[*position] = value;
            }
        }
        Ok(replies)
    }
}
