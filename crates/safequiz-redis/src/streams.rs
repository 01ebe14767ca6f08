//! The shard streams as the flusher reads them: one consumer group, `flusher`, per stream.
//!
//! Entries are written by the scripts (`register.lua`, finalize in `attempt_prelude.lua`) and read
//! here with `XREADGROUP` without blocking, so pooled connections (with their response timeout)
//! serve; the flusher polls every few hundred milliseconds. An entry is acknowledged only after
//! its row is committed to SQL, so a flusher that dies leaves it pending, to be read again.

use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamInfoGroupsReply,
    StreamPendingCountReply, StreamPendingReply, StreamReadOptions, StreamReadReply,
};
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

/// How far the flusher is behind on a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushLag {
    /// Entries delivered to a flusher and not yet acknowledged.
    pub pending: u64,
    /// Entries no flusher has read yet (an estimate from the group's read counter).
    pub undelivered: u64,
    /// Age of the oldest entry not yet written to SQL, ms; `None` when all are written.
    pub oldest_age_ms: Option<i64>,
}

impl FlushLag {
    /// The lag of several streams together: counts add, the oldest age is the largest.
    pub fn merge(self, other: FlushLag) -> FlushLag {
        FlushLag {
            pending: self.pending + other.pending,
            undelivered: self.undelivered + other.undelivered,
            oldest_age_ms: self.oldest_age_ms.max(other.oldest_age_ms),
        }
    }
}

fn entry_of(entry: StreamId) -> StreamEntry {
    let mut fields = Vec::with_capacity(entry.map.len());
    // Field order does not matter to readers; they look fields up by name.
    for (name, value) in entry.map {
        if let Value::BulkString(bytes) = value {
            fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    StreamEntry {
        id: entry.id,
        fields,
    }
}

/// Whether stream id `a` (`<ms>-<seq>`) comes before `b`.
fn stream_id_less(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    parse(a) < parse(b)
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
        Ok(reply
            .map(|reply| reply.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|stream| stream.ids)
            .map(entry_of)
            .collect())
    }

    /// Claims for `consumer` up to `count` entries that another consumer has held unacknowledged
    /// for `min_idle_ms` or more (a flusher that died): `XAUTOCLAIM`.
    pub async fn claim_stale(
        &self,
        campaign: &str,
        shard: Shard,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<StreamEntry>, RedisError> {
        let mut connection = self.connection().await?;
        let reply: StreamAutoClaimReply = connection
            .xautoclaim_options(
                ShardKeys::new(campaign, shard).stream(),
                GROUP,
                consumer,
                min_idle_ms,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply.claimed.into_iter().map(entry_of).collect())
    }

    /// How many times each of `ids` has been delivered (0 for an id no longer pending).
    pub async fn deliveries(
        &self,
        campaign: &str,
        shard: Shard,
        ids: &[String],
    ) -> Result<Vec<usize>, RedisError> {
        let key = ShardKeys::new(campaign, shard).stream();
        let mut pipeline = redis::pipe();
        for id in ids {
            pipeline.xpending_count(&key, GROUP, id, id, 1);
        }
        let mut connection = self.connection().await?;
        let replies: Vec<StreamPendingCountReply> = pipeline.query_async(&mut connection).await?;
        Ok(replies
            .into_iter()
            .map(|reply| {
                reply
                    .ids
                    .first()
                    .map_or(0, |pending| pending.times_delivered)
            })
            .collect())
    }

    /// Deletes the entries every flusher is done with: those before both the oldest pending
    /// entry and the last delivered one. (Redis 7.0's `XTRIM` would delete unacknowledged
    /// entries too, so the bound is computed here.) Returns how many were deleted.
    pub async fn trim_flushed(&self, campaign: &str, shard: Shard) -> Result<u64, RedisError> {
        let key = ShardKeys::new(campaign, shard).stream();
        let mut connection = self.connection().await?;
        let groups: StreamInfoGroupsReply = connection.xinfo_groups(&key).await?;
        let Some(group) = groups.groups.iter().find(|group| group.name == GROUP) else {
            return Ok(0);
        };
        let pending: StreamPendingReply = connection.xpending(&key, GROUP).await?;
        let mut bound = group.last_delivered_id.clone();
        if let StreamPendingReply::Data(data) = &pending
            && stream_id_less(&data.start_id, &bound)
        {
            bound = data.start_id.clone();
        }
        if bound == "0-0" {
            return Ok(0);
        }
        let deleted: u64 = redis::cmd("XTRIM")
            .arg(&key)
            .arg("MINID")
            .arg(&bound)
            .query_async(&mut connection)
            .await?;
        Ok(deleted)
    }

    /// How far the flusher is behind on one shard's stream.
    pub async fn flush_lag(
        &self,
        campaign: &str,
        shard: Shard,
        now_ms: i64,
    ) -> Result<FlushLag, RedisError> {
        let key = ShardKeys::new(campaign, shard).stream();
        let mut connection = self.connection().await?;
        let exists: bool = connection.exists(&key).await?;
        if !exists {
            return Ok(FlushLag::default());
        }
        let groups: StreamInfoGroupsReply = connection.xinfo_groups(&key).await?;
        let group = groups.groups.into_iter().find(|group| group.name == GROUP);
        let (last_delivered, pending_count) = group.as_ref().map_or(("0-0".to_owned(), 0), |g| {
            (g.last_delivered_id.clone(), g.pending)
        });
        let pending: StreamPendingReply = if group.is_some() {
            connection.xpending(&key, GROUP).await?
        } else {
            StreamPendingReply::Empty
        };
        // The first entry never delivered to any flusher.
        let undelivered: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(&key)
            .arg(format!("({last_delivered}"))
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await?;
        let undelivered_count: u64 = if undelivered.is_empty() {
            0
        } else {
            let length: u64 = connection.xlen(&key).await?;
            let entries_read = group.and_then(|g| g.entries_read).unwrap_or(0) as u64;
            length.saturating_sub(entries_read).max(1)
        };
        let oldest = match (&pending, undelivered.first()) {
            (StreamPendingReply::Data(data), _) => Some(data.start_id.clone()),
            (_, Some((id, _))) => Some(id.clone()),
            (_, None) => None,
        };
        Ok(FlushLag {
            pending: pending_count as u64,
            undelivered: undelivered_count,
            oldest_age_ms: oldest
                .and_then(|id| id.split('-').next().and_then(|ms| ms.parse::<i64>().ok()))
                .map(|ms| (now_ms - ms).max(0)),
        })
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
