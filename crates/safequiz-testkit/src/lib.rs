//! Test helpers that start real servers: redis-server on a free loopback port, a throwaway
//! PostgreSQL cluster, a TCP proxy that can cut a connection, and (feature `sql`) a fresh,
//! migrated SQL store.
//!
//! Nothing here mocks Redis or SQL. Every helper owns what it starts and stops it on drop, so a
//! failing test leaves no process behind. Waiting is done by polling a condition with a deadline
//! ([`eventually`]), never by sleeping a fixed time.
//!
//! Dependency rule: dev-only, and below every safequiz crate but `safequiz-sql` (only with the
//! `sql` feature), so that `safequiz-redis` and `safequiz-sql` test against real servers without
//! compiling the service. The whole service in a test is `safequiz-testapp`'s `TestApp`.

mod poll;
mod postgres;
mod proxy;
mod redis_cluster;
mod redis_server;
#[cfg(feature = "sql")]
mod store;

use std::path::PathBuf;

pub use poll::eventually;
pub use postgres::PostgresCluster;
pub use proxy::TcpProxy;
pub use redis_cluster::RedisCluster;
pub use redis_server::RedisServer;
#[cfg(feature = "sql")]
pub use store::fresh_store;

/// Which SQL database a test records into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Database {
    /// A fresh SQLite file in a temporary folder.
    #[default]
    Sqlite,
    /// A fresh database on the process's throwaway PostgreSQL cluster.
    Postgres,
}

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
