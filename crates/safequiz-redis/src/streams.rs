//! The shard streams as the flusher reads them: one consumer group, `flusher`, per stream.
//!
//! Entries are written by the scripts (`register.lua`, finalize in `attempt_prelude.lua`) and read
//! here with `XREADGROUP` without blocking, so pooled connections (with their response timeout)
//! serve; the flusher polls every few hundred milliseconds. An entry is acknowledged only after
//! its row is committed to SQL, so a flusher that dies leaves it pending, to be read again.

use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Value};

use crate::keys::{Shard, ShardKeys};
use crate::{HotState, RedisError};

/// The consumer group every flusher joins.
pub const GROUP: &str = "flusher";

/// One stream entry: its id and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// The stream id (`<ms>-<seq>`).
    pub id: String,
    /// Field-value pairs, in the order written.
    pub fields: Vec<(String, String)>,
}

impl StreamEntry {
    /// The value of `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.as_str())
    }
}

impl HotState {
    /// Creates the flusher group on a shard's stream (and the stream) unless it exists.
    pub async fn ensure_group(&self, campaign: &str, shard: Shard) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let created: Result<(), redis::RedisError> = connection
            .xgroup_create_mkstream(ShardKeys::new(campaign, shard).stream(), GROUP, "0")
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Up to `count` entries for `consumer`: its own pending ones (delivered before, never
    /// acknowledged) when `pending`, else new ones.
    pub async fn read_group(
        &self,
        campaign: &str,
        shard: Shard,
        consumer: &str,
        count: usize,
        pending: bool,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        let options = StreamReadOptions::default()
            .group(GROUP, consumer)
            .count(count);
        let key = ShardKeys::new(campaign, shard).stream();
        let start = if pending { "0" } else { ">" };
        let reply: Option<StreamReadReply> = connection
            .xread_options(&[&key], &[start], &options)
            .await?;
        let mut entries = Vec::new();
        for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
            for entry in stream.ids {
                let mut fields = Vec::with_capacity(entry.map.len());
                // Field order does not matter to readers; they look fields up by name.
                for (name, value) in entry.map {
                    if let Value::BulkString(bytes) = value {
                        fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                    }
                }
                entries.push(StreamEntry {
                    id: entry.id,
                    fields,
                });
            }
        }
        Ok(entries)
    }

    /// Acknowledges `ids` on a shard's stream: their rows are committed.
    pub async fn ack(
        &self,
        campaign: &str,
        shard: Shard,
        ids: &[String],
    ) -> Result<(), RedisError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection().await?;
        let _: i64 = connection
            .xack(ShardKeys::new(campaign, shard).stream(), GROUP, ids)
            .await?;
        Ok(())
    }

    /// Moves an entry no reader can use to the shard's dead-letter stream (with the reason) and
    /// acknowledges it, so it stops blocking the stream but is kept for an operator.
    pub async fn dead_letter(
        &self,
        campaign: &str,
        shard: Shard,
        entry: &StreamEntry,
        reason: &str,
    ) -> Result<(), RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut fields: Vec<(&str, &str)> = vec![("source_id", &entry.id), ("reason", reason)];
        fields.extend(entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut connection = self.connection().await?;
        let _: String = connection.xadd(keys.dead_letters(), "*", &fields).await?;
        self.ack(campaign, shard, std::slice::from_ref(&entry.id))
            .await
    }
}
