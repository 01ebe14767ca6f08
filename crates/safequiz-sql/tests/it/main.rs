//! Integration tests of the SQL record against a real SQLite file and a real PostgreSQL.
#![cfg(test)]

mod fair_play;
mod organizers;
mod privacy;
mod prizes;
mod record;
mod reports;
mod rollups;
mod units;
