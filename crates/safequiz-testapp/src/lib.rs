//! The whole safequiz service in a test: [`TestApp`] runs the real server on port 0 with its own
//! redis-server (or Redis Cluster, [`Topology`]) and SQL record, with typed helpers for the
//! participant journey.
//!
//! Dependency rule: dev-only; the one test crate that depends on `safequiz-server`. It re-exports
//! `safequiz-testkit` (the servers), so a service test needs this crate alone.

mod app;
mod topology;

pub use app::{
    CAMPAIGN, ORG_CAMPAIGN, Participant, TestApp, TestAppBuilder, correct_keys, shipped_catalogue,
    status_and_json, wrong_keys,
};
pub use safequiz_testkit::*;
pub use topology::{RawConnection, TestRedis, Topology};
