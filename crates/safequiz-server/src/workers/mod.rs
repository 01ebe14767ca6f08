//! Work beyond the request: the sweeper (automatic submission), the flusher (streams to SQL), the
//! board writer (streams to the individual boards) and the leaderboard broadcaster (live boards).
//! Each worker is a loop that selects on the one shutdown signal and finishes its batch.

pub mod boards;
pub mod broadcaster;
pub mod fair_play;
pub mod flusher;
pub mod sweeper;
