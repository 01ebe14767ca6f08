//! Where a campaign's shards live on a Redis Cluster: which primary owns each shard's hash slot.
//!
//! Every key of shard `s` of campaign `c` carries the hash tag `{c:s}` (see `keys`), so the whole
//! shard lives in one hash slot, on one primary; the shard count decides how many primaries a
//! campaign's writes can use. Placement is read from the cluster itself (`CLUSTER KEYSLOT` for
//! each shard's tag, `CLUSTER SLOTS` for the owners), so it follows resharding and failovers and
//! no slot rule is written here. It only reads: nothing here moves a slot.

use std::collections::{BTreeMap, BTreeSet};

use redis::Value;

use crate::keys::{Shard, ShardKeys};
use crate::{HotState, RedisError};

/// Where one campaign's shards live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Primaries in the cluster (1 on a single Redis).
    pub primaries: usize,
    /// The primary serving each shard (`host:port`; on a single Redis, `single node`), by shard
    /// number.
    pub shard_primaries: Vec<String>,
}

/// What [`Placement`] names the one node of a single Redis.
const SINGLE_NODE: &str = "single node";

impl Placement {
    /// How many of the campaign's shards each primary serves.
    pub fn shards_per_primary(&self) -> BTreeMap<&str, u16> {
        let mut counts = BTreeMap::new();
        for primary in &self.shard_primaries {
            *counts.entry(primary.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// Whether the campaign's shards use more than one primary, or the cluster has only one.
    pub fn is_spread(&self) -> bool {
        self.primaries <= 1 || self.shards_per_primary().len() > 1
    }

    /// What an operator should read when the shards all live on one of several primaries.
    pub fn warning(&self, campaign: &str) -> Option<String> {
        if self.is_spread() {
            return None;
        }
        let node = self
            .shard_primaries
            .first()
            .map_or("one node", String::as_str);
        Some(format!(
            "campaign {campaign}: all {} shard(s) live on one primary ({node}) of the cluster's \
             {}, which takes every write of the campaign; raise hot.shards before the campaign \
             opens (docs/operations.md)",
            self.shard_primaries.len(),
            self.primaries
        ))
    }
}

impl HotState {
    /// Where the `shards` shards of `campaign` live: on a single Redis, all on the one node; on
    /// a cluster, on the primaries that own their slots now. One round trip.
    #[tracing::instrument(skip_all, fields(campaign, shards))]
    pub async fn placement(&self, campaign: &str, shards: u16) -> Result<Placement, RedisError> {
        if !self.is_cluster() {
            return Ok(Placement {
                primaries: 1,
                shard_primaries: Shard::all(shards).map(|_| SINGLE_NODE.to_owned()).collect(),
            });
        }
        // Keyless commands: the cluster client sends the pipeline to any one node.
        let mut pipeline = redis::pipe();
        pipeline.cmd("CLUSTER").arg("SLOTS");
        for shard in Shard::all(shards) {
            pipeline
                .cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(ShardKeys::new(campaign, shard).stream());
        }
        let mut connection = self.connection().await?;
        let mut replies: Vec<Value> = pipeline.query_async(&mut connection).await?;
        let slots: Vec<u16> = replies
            .split_off(1)
            .into_iter()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()
            .map_err(|error| RedisError::Reply(format!("CLUSTER KEYSLOT: {error}")))?;
        let owners = SlotOwners::parse(replies.pop().unwrap_or(Value::Nil))?;
        Ok(Placement {
            primaries: owners.primaries(),
            shard_primaries: slots
                .into_iter()
                .map(|slot| owners.owner(slot).unwrap_or("no primary").to_owned())
                .collect(),
        })
    }
}

/// The slot ranges of a cluster and the primary (`host:port`) serving each.
struct SlotOwners {
    ranges: Vec<(u16, u16, String)>,
}

impl SlotOwners {
    /// Reads a `CLUSTER SLOTS` reply: `[start, end, [host, port, id, …], replicas…]` per range.
    fn parse(reply: Value) -> Result<SlotOwners, RedisError> {
        let malformed = || RedisError::Reply("malformed CLUSTER SLOTS reply".to_owned());
        let ranges: Vec<Vec<Value>> = redis::from_redis_value(reply).map_err(|_| malformed())?;
        let mut owners = Vec::with_capacity(ranges.len());
        for range in ranges {
            let [start, end, primary, ..] = range.as_slice() else {
                return Err(malformed());
            };
            let node: Vec<Value> =
                redis::from_redis_value(primary.clone()).map_err(|_| malformed())?;
            let [host, port, ..] = node.as_slice() else {
                return Err(malformed());
            };
            let number = |value: &Value| redis::from_redis_value::<u16>(value.clone());
            let host: String = redis::from_redis_value(host.clone()).map_err(|_| malformed())?;
            owners.push((
                number(start).map_err(|_| malformed())?,
                number(end).map_err(|_| malformed())?,
                format!("{host}:{}", number(port).map_err(|_| malformed())?),
            ));
        }
        Ok(SlotOwners { ranges: owners })
    }

    /// The primary serving `slot`, if any does.
    fn owner(&self, slot: u16) -> Option<&str> {
        self.ranges
            .iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, node)| node.as_str())
    }

    /// How many distinct primaries serve slots.
    fn primaries(&self) -> usize {
        self.ranges
            .iter()
            .map(|(_, _, node)| node.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }
}
