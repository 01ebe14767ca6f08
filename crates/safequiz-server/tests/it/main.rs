//! Integration tests of the service over HTTP, against a real redis-server (or a Redis Cluster)
//! and a SQLite file or PostgreSQL database.
#![cfg(test)]

mod archive;
mod attempts;
mod browser;
mod certificates;
mod edge;
mod errors;
mod exclusions;
mod export;
mod failover;
mod fair_play;
mod faults;
mod flusher;
mod health;
mod leaderboards;
mod limits;
mod live;
mod metrics;
mod openapi;
mod organizations;
mod organizer;
mod organizer_reports;
mod organizer_security;
mod pages;
mod practice;
mod privacy;
mod record;
mod recovery;
mod register;
mod sweeper;

/// An instant from RFC 3339 text.
fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("a valid instant")
}

/// A time during the shipped campaign's window, in Beijing time.
const DURING: &str = "2026-06-10T09:00:00+08:00";
