//! The leaderboard broadcaster: one poller per distinct live board, shared by all its viewers.
//!
//! A big screen in every county office watching the same province board costs one Redis read
//! per second, not one per screen: the first subscriber to a board starts a poller that
//! recomputes it every second and publishes it on a `watch` channel when it changed; the poller
//! stops when its last subscriber has gone. A `watch` channel holds only the latest value, so a
//! slow viewer skips intermediate boards instead of queueing them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Live boards by key (campaign, board kind and its query).
pub struct Broadcaster {
    channels: Mutex<HashMap<String, watch::Sender<Arc<str>>>>,
    interval: Duration,
}

impl Broadcaster {
    /// A broadcaster whose pollers recompute boards every `interval`.
    pub fn new(interval: Duration) -> Broadcaster {
        Broadcaster {
            channels: Mutex::new(HashMap::new()),
            interval,
        }
    }

    /// Subscribes to the board `key`, starting its poller (with `compute`, and `initial` as the
    /// first value) when nobody watches it yet.
    pub fn subscribe<F, Fut>(
        self: &Arc<Self>,
        key: String,
        initial: String,
        compute: F,
    ) -> watch::Receiver<Arc<str>>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Option<String>> + Send,
    {
        // The lock is held for map operations only, never across an await.
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = channels.get(&key) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(Arc::<str>::from(initial));
        channels.insert(key.clone(), sender.clone());
        drop(channels);
        let hub = Arc::clone(self);
        tokio::spawn(async move { hub.poll(key, sender, compute).await });
        receiver
    }

    async fn poll<F, Fut>(&self, key: String, sender: watch::Sender<Arc<str>>, compute: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        loop {
            tokio::time::sleep(self.interval).await;
            {
                let mut channels = self
                    .channels
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // Checked under the lock that `subscribe` takes, so no viewer can join a
                // channel that is being removed.
                if sender.receiver_count() == 0 {
                    channels.remove(&key);
                    return;
                }
            }
            // A failed read (Redis down) keeps the last board on screen; the next tick retries.
            if let Some(board) = compute().await
                && **sender.borrow() != *board
            {
                sender.send_replace(Arc::from(board));
            }
        }
    }

    /// How many boards are being polled (tests).
    pub fn live_boards(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
