//! The leaderboard broadcaster: one poller per streamed board, refreshing the board's shared
//! snapshot so that its live viewers see every change.
//!
//! A big screen in every county office watching the same province board costs one computation
//! per interval, not one per screen, and not one more for the plain GETs of that board: the
//! poller asks [`Snapshots`] for the board when its snapshot goes stale, which computes it unless
//! a GET did so meanwhile, and the snapshot's `watch` channel wakes the viewers when the body
//! changed. The first viewer of a board starts its poller; the poller stops once the board has
//! no viewer left. A `watch` channel holds only the latest value, so a slow viewer skips
//! intermediate boards instead of queueing them. This module must not compute boards itself:
//! the computation is the caller's, the same one plain GETs use.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::http::error::ApiError;
use crate::http::snapshots::{Snapshot, Snapshots};

/// The pollers of streamed boards, over the snapshots plain GETs read.
pub struct Broadcaster<K> {
    snapshots: Arc<Snapshots<K>>,
    /// Boards with a running poller.
    polled: Mutex<HashSet<K>>,
}

impl<K> Broadcaster<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// A broadcaster refreshing boards of `snapshots`, at its interval.
    pub fn new(snapshots: Arc<Snapshots<K>>) -> Broadcaster<K> {
        Broadcaster {
            snapshots,
            polled: Mutex::new(HashSet::new()),
        }
    }

    /// Follows the board `key`: a receiver of its snapshots, with a poller (computing with
    /// `compute`) started when nobody watched the board yet.
    pub fn follow<F, Fut>(
        self: &Arc<Self>,
        key: K,
        compute: F,
    ) -> watch::Receiver<Option<Arc<Snapshot>>>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, ApiError>> + Send,
    {
        // Subscribing under the lock the poller takes to stop, so no viewer can join a board
        // whose poller is stopping.
        let mut polled = self.lock();
        let receiver = self.snapshots.subscribe(&key);
        if polled.insert(key.clone()) {
            let hub = Arc::clone(self);
            tokio::spawn(async move { hub.poll(key, compute).await });
        }
        receiver
    }

    async fn poll<F, Fut>(&self, key: K, compute: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let interval = self.snapshots.interval();
        // The first pass finds the snapshot the viewer was just sent, and sleeps until it goes
        // stale.
        let mut wake = Instant::now();
        loop {
            tokio::time::sleep_until(wake).await;
            {
                let mut polled = self.lock();
                if self.snapshots.viewers(&key) == 0 {
                    polled.remove(&key);
                    return;
                }
            }
            // Wake when the snapshot goes stale. A failed read (Redis down) keeps the last board
            // on screen and is retried an interval later, as is a board that took longer than
            // the interval to compute.
            let outcome = self.snapshots.get(&key, &compute).await;
            let now = Instant::now();
            wake = match outcome {
                Ok(snapshot) if snapshot.computed_at() + interval > now => {
                    snapshot.computed_at() + interval
                }
                Ok(_) | Err(_) => now + interval,
            };
        }
    }

    /// How many boards are being polled (tests).
    pub fn live_boards(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<K>> {
        self.polled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
