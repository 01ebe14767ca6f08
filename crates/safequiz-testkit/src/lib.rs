//! Test helpers that start real servers: redis-server on a free loopback port, a fresh SQLite
//! file, and the whole safequiz service through [`TestApp`].
//!
//! Nothing here mocks Redis or SQL. Every helper owns what it starts and stops it on drop, so a
//! failing test leaves no process behind. Waiting is done by polling a condition with a deadline
//! ([`eventually`]), never by sleeping a fixed time.
//!
//! Dependency rule: dev-only; depends on `safequiz-server` and may be used by any crate's tests.

mod app;
mod poll;
mod postgres;
mod proxy;
mod redis_server;
mod store;

use std::path::PathBuf;

pub use app::{CAMPAIGN, Database, Participant, TestApp, TestAppBuilder, status_and_json};
pub use poll::eventually;
pub use postgres::PostgresCluster;
pub use proxy::TcpProxy;
pub use redis_server::RedisServer;
pub use store::fresh_store;

/// Turns `async fn $body(database: Database)` into two tests, `$body::on_sqlite` and
/// `$body::on_postgres`, so that one body checks both databases (`use
/// safequiz_testkit::on_both;`).
#[macro_export]
macro_rules! on_both {
    ($body:ident) => {
        mod $body {
            #[tokio::test]
            async fn on_sqlite() {
                super::$body($crate::Database::Sqlite).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::$body($crate::Database::Postgres).await;
            }
        }
    };
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's shipped configuration folder (`config/`).
pub fn config_dir() -> PathBuf {
    repo_root().join("config")
}

/// A free TCP port on 127.0.0.1 at the time of the call.
///
/// Another process may take it before the caller binds it; helpers that start servers on it
/// retry with a new port when that happens.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("the loopback interface accepts a bind to port 0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}
