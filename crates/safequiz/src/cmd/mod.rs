//! One module per subcommand.

pub mod bank;
pub mod config;
pub mod flush;
pub mod leaderboards;
pub mod organizer;
pub mod reconcile;
pub mod seed;
pub mod serve;
pub mod units;
