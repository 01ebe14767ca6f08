//! Integration tests of the SQL record against a real SQLite file.
#![cfg(test)]

mod record;
