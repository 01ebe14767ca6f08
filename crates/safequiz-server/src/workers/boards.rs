//! The board writer: moves finalized attempts onto the unit totals and the individual boards, a
//! pass every 100 ms, and at once for a participant asking their rank.
//!
//! Every replica runs one for every campaign and shard (`safequiz_redis::board_writer`); a lease
//! per shard makes one replica apply each shard's stream, in stream order, and another take over
//! within the lease (5 s) when it stops. A pass that read a full batch goes again at once, so
//! a backlog drains at Redis speed; the last pass runs after the stop signal, so a graceful
//! stop leaves the boards caught up. A pass that applied entries trims the stream below both its
//! cursor and the flusher's position (`trim_flushed`), as the flusher does after its batches.
//!
//! `GET .../me` right after a submit finds the participant's new member on none of their
//! boards until the next pass; rather than count their new score against every board (two
//! `ZCOUNT`s per board, and `rank.lua` on a tie, `boards::my_standing`), it asks this replica's
//! writer to apply the shard now ([`BoardWriter::catch_up`]) and then reads exact ranks with one
//! `ZRANK` per board. Passes of one shard never overlap in a replica (one lock per campaign and
//! shard), so the timer's pass and the ones `me` asks for share the work; a shard another
//! replica holds is not applied here, and `me` counts instead.

use std::collections::HashMap;
use std::time::Duration;

use safequiz_redis::keys::Shard;
use safequiz_redis::{HotState, RedisError};
use tokio::sync::{Mutex, watch};

use crate::http::AppState;

/// Stream entries applied per shard per round trip.
const BATCH: usize = 512;

/// How long a shard stays with the writer that last held it, unless renewed.
const LEASE_MS: u64 = 5_000;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// This replica's board writer: its name (the lease's holder) and one lock per campaign and
/// shard.
#[derive(Debug)]
pub struct BoardWriter {
    name: String,
    passes: HashMap<(String, Shard), Mutex<()>>,
}

impl BoardWriter {
    /// The writer named `name` for `campaigns`, each of `shards` shards.
    pub fn new<'a>(
        name: String,
        campaigns: impl IntoIterator<Item = &'a str>,
        shards: u16,
    ) -> BoardWriter {
        let passes = campaigns
            .into_iter()
            .flat_map(|campaign| {
                Shard::all(shards).map(move |shard| ((campaign.to_owned(), shard), Mutex::new(())))
            })
            .collect();
        BoardWriter { name, passes }
    }

    /// Applies everything after the shard's cursor if this replica holds the shard (taking it
    /// when free), waiting for a pass of the same shard already running; returns the attempts
    /// applied and whether this replica holds the shard.
    pub async fn catch_up(
        &self,
        hot: &HotState,
        campaign: &str,
        shard: Shard,
    ) -> Result<(usize, bool), RedisError> {
        let _one_at_a_time = match self.passes.get(&(campaign.to_owned(), shard)) {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut applied = 0;
        loop {
            let pass = hot
                .write_boards(campaign, shard, &self.name, BATCH, LEASE_MS)
                .await?;
            applied += pass.applied;
            if pass.skipped > 0 {
                tracing::warn!(campaign = %campaign, %shard, entries = pass.skipped,
                    "attempt entries without board fields skipped; run leaderboards rebuild");
            }
            if pass.entries > 0 {
                // Entries every flusher was done with waited for this pass: trim them now
                // rather than at the flusher's next batch, which may be long in coming.
                hot.trim_flushed(campaign, shard).await?;
            }
            if !pass.holder || pass.entries < BATCH {
                return Ok((applied, pass.holder));
            }
        }
    }
}

/// Runs passes every [`INTERVAL`] until `shutdown` turns true, then one more.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => *shutdown.borrow(),
            _ = shutdown.changed() => true,
        };
        if let Err(error) = write_once(&state).await {
            // Redis down: the next pass retries from the cursor; nothing is lost.
            tracing::warn!(error = %error, "board writer pass failed; retrying next pass");
        }
        if stopping {
            break;
        }
    }
}

/// One pass of this replica's writer over every campaign and shard: applies what each shard it
/// holds has after its cursor. Returns the attempts applied.
pub async fn write_once(state: &AppState) -> Result<usize, RedisError> {
    let mut applied = 0;
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            let (count, _) = state
                .board_writer
                .catch_up(&state.hot, &campaign.id, shard)
                .await?;
            applied += count;
        }
    }
    Ok(applied)
}
