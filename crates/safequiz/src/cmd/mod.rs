//! One module per subcommand.

pub mod audit;
pub mod bank;
pub mod config;
pub mod flush;
pub mod leaderboards;
pub mod organizer;
pub mod prizes;
pub mod purge;
pub mod reconcile;
pub mod seed;
pub mod serve;
pub mod units;
