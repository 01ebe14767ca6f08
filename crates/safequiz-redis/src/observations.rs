//! The stream that carries fair-play observations from the service replicas to the fair-play
//! worker (docs/fair-play.md): each replica ships its buffer of packed lines (the format is
//! `safequiz_sql::fair_play::wire`'s) as one entry a second, so observing costs a request no
//! Redis call; the worker, which runs beside the flusher (in `safequiz flush`, or in a replica
//! whose flusher is on), reads entries through its consumer group, writes them to SQL,
//! computes the signals, then acknowledges and deletes them.
//!
//! The stream is capped at [`MAX_ENTRIES`] (approximately): if no worker runs, the oldest
//! observations go, which only weakens a signal; results never depend on them.

use redis::AsyncCommands;
use redis::streams::StreamMaxlen;

use crate::keys::OBSERVATIONS;
use crate::streams::StreamEntry;
use crate::{HotState, RedisError};

/// The consumer group of the fair-play workers.
pub const GROUP: &str = "fair-play";

/// About how many entries the stream keeps at most: an hour of shipments from 100 replicas at
/// one a second would be 360,000; a day of a few replicas with no worker stays under it.
pub const MAX_ENTRIES: usize = 100_000;

/// One shipped buffer: its stream id and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipment {
    /// The stream id.
    pub id: String,
    /// Packed observation lines.
    pub text: String,
}

impl HotState {
    /// Ships one buffer of packed observation lines as one entry.
    pub async fn ship_observations(&self, lines: &[u8]) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let cap = StreamMaxlen::Approx(MAX_ENTRIES);
        let _: String = connection
            .xadd_maxlen(OBSERVATIONS, cap, "*", &[("o", lines)])
            .await?;
        Ok(())
    }

    /// Creates the workers' group (and the stream) unless it exists.
    pub async fn ensure_observation_group(&self) -> Result<(), RedisError> {
        self.create_group(OBSERVATIONS, GROUP).await
    }

    /// Up to `count` shipments for `consumer`, in the order of [`HotState::next_as`]: its own
    /// pending ones, else those another worker has held for `min_idle_ms` or more (one that
    /// stopped mid-pass), else new ones.
    pub async fn next_observations(
        &self,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<Shipment>, RedisError> {
        let (entries, _) = self
            .next_as(OBSERVATIONS, GROUP, consumer, min_idle_ms, count)
            .await?;
        Ok(entries.into_iter().map(shipment_of).collect())
    }

    /// Acknowledges and deletes `ids`: their observations are in SQL.
    pub async fn done_with_observations(&self, ids: &[String]) -> Result<(), RedisError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        pipeline
            .xack(OBSERVATIONS, GROUP, ids)
            .ignore()
            .xdel(OBSERVATIONS, ids)
            .ignore();
        let mut connection = self.connection().await?;
        let () = pipeline.query_async(&mut connection).await?;
        Ok(())
    }

    /// How many shipments wait in the stream (read or not): 0 when it does not exist.
    pub async fn observations_waiting(&self) -> Result<u64, RedisError> {
        let mut connection = self.connection().await?;
        Ok(connection.xlen(OBSERVATIONS).await?)
    }
}

fn shipment_of(entry: StreamEntry) -> Shipment {
    let text = match entry.fields.into_iter().find(|(name, _)| name == "o") {
        Some((_, text)) => text,
        None => {
            tracing::warn!(
                shipment = %entry.id,
                "a fair-play shipment without its lines; skipped"
            );
            String::new()
        }
    };
    Shipment { id: entry.id, text }
}
