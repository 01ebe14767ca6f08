//! A bare SQL record for tests of the `safequiz-sql` library and the export code, without a
//! service around it.

use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;
use tempfile::TempDir;

use crate::{Database, PostgresCluster};

/// A migrated, empty store on `database`: a new SQLite file, or a new database on the process's
/// PostgreSQL cluster. The folder holds the SQLite file and must live as long as the store.
pub async fn fresh_store(database: Database) -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = match database {
        Database::Sqlite => format!("sqlite://{}", dir.path().join("r.sqlite").display()),
        Database::Postgres => PostgresCluster::get().fresh_database().await,
    };
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(url),
        max_connections: 2,
    })
    .expect("a store");
    store.migrate().await.expect("migrations run");
    (store, dir)
}
