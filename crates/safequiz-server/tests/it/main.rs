//! Integration tests of the service over HTTP, against a real redis-server and SQLite file.
#![cfg(test)]

mod errors;
mod health;
