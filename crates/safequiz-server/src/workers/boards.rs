//! The board writer: moves finalized attempts onto the individual boards, a pass every 100 ms.
//!
//! Every replica runs one for every campaign and shard (`safequiz_redis::board_writer`); a lease
//! per shard makes one replica apply each shard's stream, in stream order, and another take over
//! within the lease (5 s) when it stops. A pass that read a full batch goes again at once, so
//! a backlog drains at Redis speed; the last pass runs after the stop signal, so a graceful
//! stop leaves the boards caught up. A pass that applied entries trims the stream below both its
//! cursor and the flusher's position (`trim_flushed`), as the flusher does after its batches.

use std::time::Duration;

use safequiz_redis::RedisError;
use safequiz_redis::keys::Shard;
use tokio::sync::watch;

use crate::http::AppState;

/// Stream entries applied per shard per round trip.
const BATCH: usize = 512;

/// How long a shard stays with the writer that last held it, unless renewed.
const LEASE_MS: u64 = 5_000;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Runs passes every [`INTERVAL`] as `writer` until `shutdown` turns true, then one more.
pub async fn run(state: AppState, writer: String, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => *shutdown.borrow(),
            _ = shutdown.changed() => true,
        };
        if let Err(error) = write_once(&state, &writer).await {
            // Redis down: the next pass retries from the cursor; nothing is lost.
            tracing::warn!(error = %error, "board writer pass failed; retrying next pass");
        }
        if stopping {
            break;
        }
    }
}

/// One pass of `writer` over every campaign and shard: applies what each shard it holds has
/// after its cursor. Returns the attempts applied.
pub async fn write_once(state: &AppState, writer: &str) -> Result<usize, RedisError> {
    let mut applied = 0;
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            loop {
                let pass = state
                    .hot
                    .write_boards(
                        &campaign.id,
                        campaign.individual_boards,
                        shard,
                        writer,
                        BATCH,
                        LEASE_MS,
                    )
                    .await?;
                applied += pass.applied;
                if pass.entries > 0 {
                    // Entries every flusher was done with waited for this pass: trim them now
                    // rather than at the flusher's next batch, which may be long in coming.
                    state.hot.trim_flushed(&campaign.id, shard).await?;
                }
                if pass.skipped > 0 {
                    tracing::warn!(campaign = %campaign.id, %shard, entries = pass.skipped,
                        "attempt entries without board fields skipped; run leaderboards rebuild");
                }
                if !pass.holder || pass.entries < BATCH {
                    break;
                }
            }
        }
    }
    Ok(applied)
}
