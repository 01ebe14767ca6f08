//! Excluding a participant's results from the live unit totals and individual boards, and
//! undoing it (issue 21; docs/fair-play.md).
//!
//! The record decides (`safequiz_sql::fair_play`); this is the hot state following it. One
//! script in the participant's shard (`exclusion.lua`) marks their hash (`x`, `xr`) and appends
//! an `exclusion` or `inclusion` entry to the shard's stream with their totals as they are at
//! that instant. The board writer, which applies the shard's entries in order, takes those
//! totals off the units of the path and the participant's member off their boards, or puts them
//! back (`board_writer`); finalize marks every attempt entry of an excluded
//! participant `excluded`, and the writer applies nothing of those. So the boards and totals
//! equal those of a record without the excluded participants once the writer's pass is done,
//! and an undo gives back exactly what was there, attempts made meanwhile included.
//!
//! Marking is idempotent: excluding an excluded participant (or including an included one)
//! changes nothing and appends nothing, so the service can repeat it after the record's
//! decision, whatever happened in between. `me` reads the mark with the standing
//! (`boards::Standing::excluded_ms`) and the reason with [`HotState::exclusion_reason`]; the
//! flusher reads past both entry kinds (`streams`).

use redis::AsyncCommands;

use crate::keys::{Shard, ShardKeys};
use crate::scripts::EXCLUSION;
use crate::{HotState, RedisError};

/// An exclusion in force, as the hot state marks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// When the organizer excluded the results, Unix ms.
    pub at_ms: i64,
    /// Their reason.
    pub reason: String,
}

impl HotState {
    /// Marks `participant`, whose unit path (root first) is `path`, excluded with `exclusion`,
    /// or counted again with `None`. Returns whether anything changed (`false`: already so).
    pub async fn set_exclusion(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        path: &[&str],
        exclusion: Option<&Exclusion>,
    ) -> Result<bool, RedisError> {
        let keys = ShardKeys::new(campaign, Shard::of_participant(participant, shards));
        let mut call = EXCLUSION.call();
        call.key(keys.participant(participant)).key(keys.stream());
        match exclusion {
            Some(exclusion) => call
                .arg("exclude")
                .arg(exclusion.at_ms)
                .arg(&exclusion.reason),
            None => call.arg("include").arg(0).arg(""),
        };
        call.arg(participant).arg(path.join(","));
        let mut connection = self.connection().await?;
        let changed: i64 = call.invoke(&mut connection).await?;
        Ok(changed == 1)
    }

    /// The reason of `participant`'s exclusion in force, if any.
    pub async fn exclusion_reason(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
    ) -> Result<Option<String>, RedisError> {
        let key = ShardKeys::new(campaign, Shard::of_participant(participant, shards))
            .participant(participant);
        let mut connection = self.connection().await?;
        Ok(connection.hget(key, "xr").await?)
    }
}
