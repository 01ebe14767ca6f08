//! Polling with a deadline: the only way tests wait.

use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `probe` until it returns `Some`, every 20 ms, for at most `within`.
///
/// Panics with `what` when the deadline passes, so a stuck condition fails the test with a
/// message instead of hanging it.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
