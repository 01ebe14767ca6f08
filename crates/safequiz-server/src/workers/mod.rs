//! Work beyond the request: the sweeper (automatic submission), the flusher (streams to SQL) with
//! the question fold beside it (question counters after the flush), the board writer (streams to
//! the individual boards), fair play's shipper and signal worker, and the leaderboard broadcaster
//! (live boards).
//! Each worker is a loop that selects on the one shutdown signal and finishes its batch.

pub mod boards;
pub mod broadcaster;
pub mod fair_play;
pub mod flusher;
pub mod questions;
pub mod sweeper;
