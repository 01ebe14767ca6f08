//! The fair-play worker: once a second, writes this replica's buffered observations to SQL and
//! recomputes the signals of the devices, networks and participants they touched
//! (`safequiz_sql::fair_play`; docs/fair-play.md).
//!
//! What a pass touched is looked at again on the next pass too: another replica may commit
//! observations of the same device a moment later, and its own pass may have run before ours
//! committed, so the second look sees both. A device or network whose day is large is computed
//! again only as often as its last read allows (`safequiz_sql::fair_play::GroupSchedule`: at
//! most about 2,000 rows a second per group, a minute at most), so a carrier's network does not
//! make every pass read its whole day. A batch that cannot be written is kept and retried (up to
//! `http::fair_play::MAX_BUFFERED` rows); observations never delay a participant.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use safequiz_sql::fair_play::{GroupSchedule, Observation, Touched};
use tokio::sync::watch;

use crate::http::AppState;
use crate::http::fair_play::MAX_BUFFERED;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Runs a pass every [`INTERVAL`] until `shutdown` turns true, then one more.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Vec<Observation> = Vec::new();
    let mut previous: BTreeMap<String, Touched> = BTreeMap::new();
    let mut schedules: BTreeMap<String, GroupSchedule> = BTreeMap::new();
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => *shutdown.borrow(),
            _ = shutdown.changed() => true,
        };
        // The record's tables exist once the flusher (or its stand-in) has migrated it.
        if state.record_ready.load(Ordering::Acquire) {
            match pass(
                &state,
                &mut pending,
                std::mem::take(&mut previous),
                &mut schedules,
                stopping,
            )
            .await
            {
                Ok(touched) => previous = touched,
                Err(error) => {
                    tracing::warn!(error = %error, "fair-play pass failed; retrying next pass");
                }
            }
        }
        if stopping {
            break;
        }
    }
}

/// One pass: writes what is buffered (with `pending`, a failed pass's rows), then computes the
/// signals of what it and `previous` touched, and of the groups `schedules` held back that are
/// now due (the others wait in it; with `drain`, as the service stops, none waits). Returns
/// what this pass touched.
pub async fn pass(
    state: &AppState,
    pending: &mut Vec<Observation>,
    previous: BTreeMap<String, Touched>,
    schedules: &mut BTreeMap<String, GroupSchedule>,
    drain: bool,
) -> Result<BTreeMap<String, Touched>, safequiz_sql::StoreError> {
    pending.extend(state.fair_play.take());
    if pending.len() > MAX_BUFFERED {
        let dropped = pending.len() - MAX_BUFFERED;
        pending.drain(..dropped);
        tracing::warn!(
            dropped,
            "fair-play observations dropped while the database was away"
        );
    }
    let mut touched: BTreeMap<String, Touched> = BTreeMap::new();
    for observation in pending.iter() {
        touched
            .entry(observation.campaign_id.clone())
            .or_default()
            .add(observation);
    }
    state.store.insert_observations(pending).await?;
    pending.clear();
    let mut work = touched.clone();
    for (campaign, seen) in previous {
        work.entry(campaign).or_default().merge(seen);
    }
    for campaign in schedules.keys() {
        work.entry(campaign.clone()).or_default();
    }
    let now = state.clock.now().as_millisecond();
    for (campaign, seen) in work {
        let schedule = schedules.entry(campaign.clone()).or_default();
        state
            .store
            .compute_scheduled(&campaign, schedule, seen, now, drain)
            .await?;
        if schedule.is_idle() {
            schedules.remove(&campaign);
        }
    }
    Ok(touched)
}

/// Writes and computes everything buffered now, twice so that the second look happens at once
/// (tests: the signals of what was observed so far, without waiting for the ticker or for a
/// busy group's turn).
pub async fn settle(state: &AppState) -> Result<(), safequiz_sql::StoreError> {
    let mut pending = Vec::new();
    let touched = pass(
        state,
        &mut pending,
        BTreeMap::new(),
        &mut BTreeMap::new(),
        true,
    )
    .await?;
    pass(state, &mut pending, touched, &mut BTreeMap::new(), true).await?;
    Ok(())
}
