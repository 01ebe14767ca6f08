//! Work beyond the request: the sweeper today; the flusher and the leaderboard broadcaster join
//! it. Each worker is a loop that selects on the one shutdown signal and finishes its batch.

pub mod sweeper;
