//! Work beyond the request: the sweeper (automatic submission) and the flusher (streams to SQL);
//! the leaderboard broadcaster joins them. Each worker is a loop that selects on the one shutdown
//! signal and finishes its batch.

pub mod flusher;
pub mod sweeper;
