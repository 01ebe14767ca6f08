//! A real PostgreSQL for tests: one throwaway cluster per test process, a fresh database per
//! test.
//!
//! The cluster is made with Debian's `initdb` (as root, through `runuser -u postgres`, since
//! PostgreSQL refuses to run as root) in a temporary folder, listens on a free loopback port,
//! and runs without durability (`fsync=off`): a test's database is thrown away anyway. A small
//! shell watcher stops the server and deletes the folder when the test process is gone, so no
//! cluster outlives its tests even when they panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// The process's cluster.
pub struct PostgresCluster {
    port: u16,
}

static CLUSTER: OnceLock<PostgresCluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

impl PostgresCluster {
    /// The process's cluster, started on first use.
    ///
    /// Panics with the fix when PostgreSQL is not installed.
    pub fn get() -> &'static PostgresCluster {
        CLUSTER.get_or_init(start)
    }

    /// A new, empty database on the cluster; returns its URL.
    pub async fn fresh_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("test_{}_{n}", std::process::id());
        let mut connection = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("the test cluster accepts connections");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("a test database can be created");
        self.url(&name)
    }

    /// The URL of database `name` on the cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn binaries() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); the README's test command installs it")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program args...`, as the postgres user when we are root.
fn as_postgres(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

#[expect(
    clippy::zombie_processes,
    reason = "the watcher outlives the call by design: it stops the cluster when the process exits"
)]
fn start() -> PostgresCluster {
    let bin = binaries();
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("safequiz-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder for the test cluster");
    if root {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown runs");
        assert!(
            status.success(),
            "cannot give the cluster folder to postgres"
        );
    }
    let data = dir.join("data");
    let output = as_postgres(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ])
        .output()
        .expect("initdb runs");
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for _ in 0..5 {
        let port = crate::free_port();
        // The watcher: runs postgres, and stops it and removes the folder once this test
        // process has exited (its /proc entry is gone).
        let script = format!(
            "{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200 >{dir}/log 2>&1 & pg=$!; \
             while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            postgres = bin.join("postgres").display(),
            data = data.display(),
            dir = dir.display(),
            parent = std::process::id(),
        );
        as_postgres(Path::new("sh"), root)
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watcher starts");
        if wait_until_ready(port, Duration::from_secs(20)) {
            return PostgresCluster { port };
        }
    }
    panic!(
        "PostgreSQL did not start; see {}",
        dir.join("log").display()
    );
}

fn wait_until_ready(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let ready = Command::new(binaries().join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ready {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
