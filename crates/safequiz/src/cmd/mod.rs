//! One module per subcommand.

pub mod bank;
pub mod config;
pub mod serve;
pub mod units;
