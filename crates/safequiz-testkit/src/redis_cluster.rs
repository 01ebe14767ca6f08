//! A real Redis Cluster on loopback: three primaries and three replicas, AOF on, a short
//! `cluster-node-timeout` so that a failover takes about a second, killed on drop.
//!
//! The cluster is made by Redis's own tools (`redis-server --cluster-enabled yes`, then
//! `redis-cli --cluster create`); nothing here routes commands. Tests reach it through the
//! clients' cluster support with [`RedisCluster::seed_urls`].

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::redis_server::{spawn, wait_until_ready};

/// How long a primary may be silent before the others fail it over. Redis's default is 15 s;
/// a test wants the switch in about a second.
const NODE_TIMEOUT_MS: u32 = 1000;

/// Primaries in the cluster; each has one replica.
const PRIMARIES: usize = 3;

/// One node of a [`RedisCluster`].
struct Node {
    port: u16,
    child: Child,
}

/// A running 3-primary, 3-replica Redis Cluster owned by a test. Shared by reference: a test
/// may kill a node while its service keeps using the cluster.
pub struct RedisCluster {
    nodes: Mutex<Vec<Node>>,
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts six nodes, joins them into a cluster with one replica per primary, and waits until
    /// every node reports `cluster_state:ok` and every slot is served.
    ///
    /// Panics with the fix when `redis-server` or `redis-cli` is not installed.
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().expect("a temporary folder can be created");
        let mut nodes = Vec::with_capacity(2 * PRIMARIES);
        while nodes.len() < 2 * PRIMARIES {
            let port = cluster_port();
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("a node folder can be created");
            let mut child = spawn(
                port,
                &node_dir,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &NODE_TIMEOUT_MS.to_string(),
                    // A replica's first full sync starts at once: the default waits 5 s for
                    // more replicas, and until it is done a replica holds nothing to fail over
                    // with.
                    "--repl-diskless-sync-delay",
                    "0",
                ],
            );
            if wait_until_ready(&mut child, port, Duration::from_secs(10)) {
                nodes.push(Node { port, child });
            } else {
                // The port (or its bus port) was taken between choosing and binding it.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let cluster = RedisCluster {
            nodes: Mutex::new(nodes),
            _dir: dir,
        };
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|error| {
                panic!("cannot run redis-cli ({error}); the README's test command installs it")
            });
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        cluster.wait_until_healthy(Duration::from_secs(30));
        cluster
    }

    /// The seed nodes as a comma-separated list of URLs (`redis://127.0.0.1:P1,redis://…`), the
    /// form `redis.url` takes with `redis.cluster = true`.
    pub fn seed_urls(&self) -> String {
        self.ports()
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The ports of every node still running.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes().iter().map(|node| node.port).collect()
    }

    fn nodes(&self) -> MutexGuard<'_, Vec<Node>> {
        // A panic while holding the list leaves it whole (nothing is half-removed).
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ports of the nodes that are primaries now, as the cluster itself says.
    pub fn primaries(&self) -> Vec<u16> {
        self.ports()
            .into_iter()
            .filter(|port| role(*port).as_deref() == Some("master"))
            .collect()
    }

    /// Kills the node on `port` with SIGKILL, as a crash would, and forgets it.
    pub fn kill(&self, port: u16) {
        let node = {
            let mut nodes = self.nodes();
            let ix = nodes.iter().position(|node| node.port == port);
            ix.map(|ix| nodes.remove(ix))
        };
        if let Some(mut node) = node {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// Waits until three running nodes are primaries, every running node says
    /// `cluster_state:ok` with all 16,384 slots served, and every running replica has finished
    /// its sync with its primary (after [`RedisCluster::kill`] of a primary: until its replica
    /// took over), panicking after `within`.
    pub fn wait_until_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let healthy = self.primaries().len() == PRIMARIES
                && self.ports().into_iter().all(|port| {
                    let info = redis_cli(port, &["cluster", "info"]).unwrap_or_default();
                    let replication = redis_cli(port, &["info", "replication"]).unwrap_or_default();
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384")
                        && (replication.contains("role:master")
                            || (replication.contains("master_link_status:up")
                                && replication.contains("master_sync_in_progress:0")))
                });
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster on {:?} did not become healthy within {within:?}",
                self.ports()
            );
            // Gossip between processes, not a condition this process can await: polled.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl RedisCluster {
    /// Waits until every replica has received everything its primary has written so far
    /// (replication is asynchronous), panicking after `within`. A test that kills a primary to
    /// check a failover, not the loss window, calls this first.
    pub fn wait_until_replicated(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let replicated = self.primaries().into_iter().all(|port| {
                let info = redis_cli(port, &["info", "replication"]).unwrap_or_default();
                replicas_caught_up(&info)
            });
            if replicated {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the replicas of {:?} did not catch up within {within:?}",
                self.primaries()
            );
            // Replication between processes, not a condition this process can await: polled.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether a primary's `INFO replication` shows at least one replica, each at the primary's
/// offset (`slaveN:ip=…,port=…,state=online,offset=O,lag=…` against `master_repl_offset:O`).
fn replicas_caught_up(info: &str) -> bool {
    let field = |line: &str, name: &str| {
        line.split(',')
            .find_map(|pair| pair.strip_prefix(name))
            .map(str::to_owned)
    };
    let Some(offset) = info
        .lines()
        .find_map(|line| line.strip_prefix("master_repl_offset:"))
        .map(str::trim)
    else {
        return false;
    };
    let replicas: Vec<&str> = info
        .lines()
        .filter(|line| line.starts_with("slave") && line.contains(":ip="))
        .collect();
    !replicas.is_empty()
        && replicas.iter().all(|line| {
            field(line, "state=").as_deref() == Some("online")
                && field(line, "offset=").as_deref() == Some(offset)
        })
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in self.nodes().iter_mut() {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

/// A free port whose cluster bus port (port + 10000) is also free.
fn cluster_port() -> u16 {
    loop {
        let port = crate::free_port();
        if port <= u16::MAX - 10_000
            && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
}

/// The role (`master` or `slave`) the node on `port` reports.
fn role(port: u16) -> Option<String> {
    let reply = redis_cli(port, &["role"])?;
    reply.lines().next().map(str::to_owned)
}

/// What `redis-cli -p PORT ARGS…` prints, or `None` when it fails.
fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
