//! Fair play's two workers (docs/fair-play.md).
//!
//! The **shipper** runs in every service replica: once a second it ships the replica's buffer
//! of observations (`http::fair_play::FairPlay`, packed lines) to Redis as one stream entry
//! (`safequiz_redis::observations`). A shipment Redis refuses is kept and sent with the next
//! one, up to `http::fair_play::MAX_BUFFERED_BYTES`, beyond which the oldest lines are dropped;
//! observations never delay a participant.
//!
//! The **signal worker** runs beside the flusher, in `safequiz flush` or in a replica whose
//! flusher is on, so that writing observations and computing signals (SQL work that grows with
//! a busy network's day) never takes CPU from the requests of a replica that only serves: once
//! a second it reads shipments through its consumer group, writes their observations to SQL,
//! acknowledges and deletes them, and recomputes the signals of the devices, networks and
//! participants they touched (`safequiz_sql::fair_play`). A shipment whose pass fails stays
//! pending and is read again; one written but not acknowledged (the worker stopped in between)
//! is written twice, which at worst counts a request twice in a signal, never in a result.
//!
//! What a pass touched is looked at again on the next pass too: another worker may commit
//! observations of the same device a moment later, and its own pass may have run before ours
//! committed, so the second look sees both. A device or network whose day is large is computed
//! again only as often as its last read allows (`safequiz_sql::fair_play::GroupSchedule`: at
//! most about 2,000 rows a second per group, a minute at most), so a carrier's network does not
//! make every pass read its whole day.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use safequiz_sql::fair_play::{GroupSchedule, Observation, Touched, wire};
use tokio::sync::watch;

use crate::http::AppState;
use crate::http::fair_play::MAX_BUFFERED_BYTES;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Shipments a signal worker reads in one pass (each is one replica's second).
pub const SHIPMENTS_PER_PASS: usize = 32;

/// A shipment another worker has held this long without acknowledging it is taken over.
pub const CLAIM_IDLE_MS: u64 = 30_000;

/// What a pass can fail on.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] safequiz_redis::RedisError),
    /// SQL failed; the shipments stay pending.
    #[error(transparent)]
    Store(#[from] safequiz_sql::StoreError),
}

/// Ships every [`INTERVAL`], and with `consumer` (this process's name in the workers' group)
/// also writes and computes, until `shutdown` turns true, then once more.
pub async fn run(state: AppState, consumer: Option<String>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shipper = Shipper::default();
    let mut signals = consumer.map(SignalWorker::new);
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => *shutdown.borrow(),
            _ = shutdown.changed() => true,
        };
        if let Err(error) = shipper.ship(&state).await {
            tracing::warn!(error = %error, "fair-play shipment failed; retrying next pass");
        }
        if let Some(worker) = signals.as_mut()
            && let Err(error) = worker.pass(&state, stopping).await
        {
            tracing::warn!(error = %error, "fair-play pass failed; retrying next pass");
        }
        if stopping {
            break;
        }
    }
}

/// A replica's shipper: the lines not shipped yet, and a spare buffer to swap with the
/// replica's.
#[derive(Default)]
pub struct Shipper {
    unsent: Vec<u8>,
    spare: Vec<u8>,
}

impl Shipper {
    /// Ships what the replica buffered since the last call, with what a failed call kept.
    pub async fn ship(&mut self, state: &AppState) -> Result<(), safequiz_redis::RedisError> {
        state.fair_play.take_into(&mut self.spare);
        if self.unsent.is_empty() {
            std::mem::swap(&mut self.unsent, &mut self.spare);
        } else {
            self.unsent.extend_from_slice(&self.spare);
            drop_oldest_lines(&mut self.unsent, MAX_BUFFERED_BYTES);
        }
        if self.unsent.is_empty() {
            return Ok(());
        }
        state.hot.ship_observations(&self.unsent).await?;
        self.unsent.clear();
        Ok(())
    }
}

/// Keeps the newest whole lines of `lines` that fit in `max` bytes.
fn drop_oldest_lines(lines: &mut Vec<u8>, max: usize) {
    if lines.len() <= max {
        return;
    }
    let cut = lines.len() - max;
    let end = lines[cut..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(lines.len(), |at| cut + at + 1);
    lines.drain(..end);
    tracing::warn!(
        dropped_bytes = end,
        "fair-play observations dropped while Redis was away"
    );
}

/// A signal worker's state between passes.
pub struct SignalWorker {
    consumer: String,
    group_ready: bool,
    previous: BTreeMap<String, Touched>,
    schedules: BTreeMap<String, GroupSchedule>,
}

impl SignalWorker {
    /// A worker named `consumer` in the workers' group.
    pub fn new(consumer: String) -> SignalWorker {
        SignalWorker {
            consumer,
            group_ready: false,
            previous: BTreeMap::new(),
            schedules: BTreeMap::new(),
        }
    }

    /// One pass, once the record is migrated: writes the shipments waiting (its own pending
    /// ones first, then a stopped worker's, then new ones), then computes the signals of what
    /// they and the previous pass touched, and of the groups held back that are now due (with
    /// `drain`, as the process stops, of every group held back).
    pub async fn pass(&mut self, state: &AppState, drain: bool) -> Result<(), PassError> {
        // The record's tables exist once the flusher (or its stand-in) has migrated it.
        if !state.record_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if !self.group_ready {
            state.hot.ensure_observation_group().await?;
            self.group_ready = true;
        }
        let hot = &state.hot;
        let shipments = hot
            .next_observations(&self.consumer, CLAIM_IDLE_MS, SHIPMENTS_PER_PASS)
            .await?;
        let mut observations: Vec<Observation> = Vec::new();
        for shipment in &shipments {
            let (read, malformed) = wire::read(&shipment.text);
            if malformed > 0 {
                tracing::warn!(
                    shipment = %shipment.id,
                    malformed,
                    "malformed fair-play observations skipped"
                );
            }
            observations.extend(read);
        }
        let mut touched: BTreeMap<String, Touched> = BTreeMap::new();
        for observation in &observations {
            touched
                .entry(observation.campaign_id.clone())
                .or_default()
                .add(observation);
        }
        state.store.insert_observations(&observations).await?;
        let ids: Vec<String> = shipments.into_iter().map(|s| s.id).collect();
        hot.done_with_observations(&ids).await?;

        let mut work = touched.clone();
        for (campaign, seen) in std::mem::take(&mut self.previous) {
            work.entry(campaign).or_default().merge(seen);
        }
        for campaign in self.schedules.keys() {
            work.entry(campaign.clone()).or_default();
        }
        let now = state.clock.now().as_millisecond();
        for (campaign, seen) in work {
            let schedule = self.schedules.entry(campaign.clone()).or_default();
            state
                .store
                .compute_scheduled(&campaign, schedule, seen, now, drain)
                .await?;
            if schedule.is_idle() {
                self.schedules.remove(&campaign);
            }
        }
        self.previous = touched;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::drop_oldest_lines;

    #[test]
    fn only_whole_lines_are_kept_when_the_unsent_lines_outgrow_their_bound() {
        let mut lines = b"aaaa\nbbbb\ncccc\n".to_vec();
        drop_oldest_lines(&mut lines, 15);
        assert_eq!(
            lines, b"aaaa\nbbbb\ncccc\n",
            "within the bound, nothing goes"
        );
        drop_oldest_lines(&mut lines, 12);
        assert_eq!(
            lines, b"bbbb\ncccc\n",
            "the first line, cut into, goes whole"
        );
        drop_oldest_lines(&mut lines, 3);
        assert_eq!(lines, b"", "no whole line fits");
    }
}
