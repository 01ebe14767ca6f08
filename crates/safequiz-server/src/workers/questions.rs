//! The question fold worker: adds the question counters of flushed attempts after the flush
//! (`safequiz_sql::rollups`, "fold"), beside every flusher.
//!
//! The flush queues each batch's attempts for the question counters in its own transaction,
//! which keeps the flush at a few rows per attempt; this worker folds the queued batches, up
//! to [`FOLD_BATCHES`] batches or `FOLD_ATTEMPTS` attempts per transaction: on PostgreSQL as
//! soon as this process's flusher has recorded a batch (`AppState::fold_wanted`), at once again
//! while a fold stops at one of those bounds, and otherwise every [`INTERVAL`] (on SQLite, whose
//! one writer the flush would lose to the fold more often; and for batches that another process
//! queued). While a fold runs, the batches flushed meanwhile wait and are taken
//! together by the next one, so folds grow with the load by themselves. Several folders (one
//! per flusher process) take turns on one lock, so each batch is folded once. A failed fold
//! changes nothing and is retried; the question analysis says how many attempts it does not
//! count yet.

use std::sync::atomic::Ordering;
use std::time::Duration;

use safequiz_sql::Backend;
use safequiz_sql::rollups::FOLD_BATCHES;
use tokio::sync::watch;

use crate::http::AppState;
use crate::workers::flusher::DRAIN_LIMIT;

/// Time between folds that found less than a full load, unless this process's flusher wakes
/// the fold sooner.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Folds until `shutdown` turns true, then folds what is left for at most [`DRAIN_LIMIT`].
pub async fn run(state: AppState, shutdown: watch::Receiver<bool>) {
    run_every(state, shutdown, INTERVAL).await;
}

/// [`run`], with `interval` instead of [`INTERVAL`] between folds that nothing woke.
pub async fn run_every(state: AppState, mut shutdown: watch::Receiver<bool>, interval: Duration) {
    // PostgreSQL folds beside the flush on another core. SQLite has one writer at a time, where
    // earlier and so smaller folds only take the write lock from the flush more often (the
    // flusher bench: the two together fell from 9,511 to 7,592 rows/s), so there the fold
    // keeps its interval.
    let woken = state.store.backend() == Backend::Postgres;
    loop {
        let wait = if state.record_ready.load(Ordering::Acquire) {
            match state.store.fold_questions(FOLD_BATCHES).await {
                Ok(folded) if folded.more => Duration::ZERO,
                Ok(_) => interval,
                Err(error) => {
                    tracing::warn!(error = %error, "question fold failed; the batches stay queued");
                    interval
                }
            }
        } else {
            // The flusher is still preparing the record (the table may not exist yet).
            interval
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.fold_wanted.notified(), if woken => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    if state.record_ready.load(Ordering::Acquire) {
        drain(&state).await;
    }
}

/// At a stop: folds until nothing waits, a fold fails or [`DRAIN_LIMIT`] has passed; what is
/// left stays queued for the next folder.
async fn drain(state: &AppState) {
    let until = tokio::time::Instant::now() + DRAIN_LIMIT;
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout_at(until, state.store.fold_questions(FOLD_BATCHES)).await {
            Ok(Ok(folded)) if folded.more => {}
            Ok(Ok(_)) => return,
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "stopping: the queued question batches stay for the next folder");
                return;
            }
            Err(_) => {
                tracing::warn!("stopping: the question fold took too long; the rest stays queued");
                return;
            }
        }
    }
}
