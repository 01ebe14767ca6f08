//! The sweeper: submits the attempts whose client vanished, within seconds of deadline + grace.
//!
//! Every replica runs one (docs/design.md §2.6). Each pass reads every shard's deadline index for
//! attempts whose grace has ended and finalizes each with the read script, which is idempotent:
//! replicas sweeping the same attempt at once finalize it once, and a participant's own late
//! request that got there first leaves nothing to do.

use std::time::Duration;

use safequiz_domain::campaign::Campaign;
use safequiz_redis::RedisError;
use safequiz_redis::attempts::{Actor, ReadOutcome};
use safequiz_redis::keys::Shard;
use tokio::sync::watch;

use crate::http::AppState;

/// Most attempts read from one shard's index per round trip.
const BATCH: usize = 256;

/// Runs sweeps every `interval` until `shutdown` turns true.
pub async fn run(state: AppState, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        let started = std::time::Instant::now();
        let outcome = sweep_once(&state).await;
        // Lateness shows in `/metrics`: the last good pass's instant, each pass's duration, and
        // (polled apart, `crate::metrics`) how far past its grace the oldest open attempt is.
        let now_secs = state.clock.now().as_millisecond() as f64 / 1000.0;
        state
            .metrics
            .sweeper_pass(&outcome, started.elapsed(), now_secs);
        match outcome {
            Ok(0) => {}
            Ok(count) => tracing::info!(attempts = count, "sweep finalized expired attempts"),
            // Redis down: the next pass retries; nothing is lost, the index stays in Redis.
            Err(error) => tracing::warn!(error = %error, "sweep failed; retrying next pass"),
        }
    }
}

/// One pass over every campaign and shard at the clock's current instant; returns how many
/// attempts it finalized.
pub async fn sweep_once(state: &AppState) -> Result<usize, RedisError> {
    let mut finalized = 0;
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            finalized += sweep_shard(state, campaign, shard).await?;
        }
    }
    Ok(finalized)
}

async fn sweep_shard(
    state: &AppState,
    campaign: &Campaign,
    shard: Shard,
) -> Result<usize, RedisError> {
    let mut finalized = 0;
    loop {
        let now_ms = state.clock.now().as_millisecond();
        let due = state
            .hot
            .due_attempts(&campaign.id, shard, now_ms, BATCH)
            .await?;
        let mut batch_finalized = 0;
        for attempt in &due {
            // Organizations and 五进 groups carry their region in their id (issue 18).
            let Some(path) =
                safequiz_domain::organization::unit_path(&campaign.units, &attempt.unit)
            else {
                // The unit left the configuration mid-campaign; the attempt stays indexed and
                // is reported each pass until an operator restores the unit.
                tracing::error!(attempt.id = %attempt.id, unit.code = %attempt.unit,
                    "cannot finalize an attempt whose unit is no longer configured");
                continue;
            };
            let actor = Actor {
                campaign: &campaign.id,
                shards: state.shards,
                participant: attempt.id.participant,
                path: &path,
                scoring: campaign.scoring,
            };
            if let ReadOutcome::Final(_) = state.hot.read(&actor, attempt.id.number, now_ms).await?
            {
                batch_finalized += 1;
            }
        }
        finalized += batch_finalized;
        // A full batch may hide more behind it. A batch that finalized nothing left every entry
        // where it was, so the next one would read the same entries again: stop, or a full batch
        // of unservable entries would repeat forever and hold up shutdown.
        if due.len() < BATCH || batch_finalized == 0 {
            return Ok(finalized);
        }
    }
}
