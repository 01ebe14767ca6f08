//! The safequiz HTTP service: configuration, startup, routes and background workers.
//!
//! Only this crate knows HTTP. Handlers parse input into domain types, ask `safequiz-domain` for
//! the decision, then make one call into `safequiz-redis` (hot state) or `safequiz-sql` (record).
//! The service keeps no state about a participant between requests (docs/design.md §2.1).
//!
//! Dependency rule: depends on `safequiz-domain`, `safequiz-redis` and `safequiz-sql`; only the
//! `safequiz` binary and the test app (`safequiz-testapp`) depend on it.
//!
//! Types to read first: [`config::Settings`] and [`catalogue::Catalogue`] (what a start loads),
//! [`startup::Application`] (build, bind, run until shutdown), and `http/routes.rs` (the whole API
//! in one table).

pub mod accounts;
pub mod auth;
pub mod catalogue;
pub mod certificate;
pub mod clock;
pub mod config;
pub mod export;
pub mod http;
pub mod metrics;
pub mod recovery;
pub mod startup;
pub mod telemetry;
pub mod totp;
pub mod workers;
