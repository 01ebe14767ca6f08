//! A real Redis Cluster on loopback: three primaries and three replicas, AOF on, a short
//! `cluster-node-timeout` so that a failover takes about a second, killed on drop.
//!
//! The cluster is made by Redis's own tools (`redis-server --cluster-enabled yes`, then
//! `redis-cli --cluster create`); nothing here routes commands. Tests reach it through the
//! clients' cluster support with [`RedisCluster::seed_urls`].

use std::process::{Child, Command, Stdio};
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

/// A running 3-primary, 3-replica Redis Cluster owned by a test.
pub struct RedisCluster {
    nodes: Vec<Node>,
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
                    // A replica takes over however long ago it last heard its primary: with a
                    // one-second node timeout the default factor (10) refuses the failover when
                    // the kill comes soon after a (re)sync.
                    "--cluster-replica-validity-factor",
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
        let cluster = RedisCluster { nodes, _dir: dir };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
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
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// The ports of the nodes that are primaries now, as the cluster itself says.
    pub fn primaries(&self) -> Vec<u16> {
        self.ports()
            .into_iter()
            .filter(|port| role(*port).as_deref() == Some("master"))
            .collect()
    }

    /// Kills the node on `port` with SIGKILL, as a crash would, and forgets it.
    pub fn kill(&mut self, port: u16) {
        if let Some(ix) = self.nodes.iter().position(|node| node.port == port) {
            let mut node = self.nodes.remove(ix);
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// Waits until three running nodes are primaries and every running node says
    /// `cluster_state:ok` with all 16,384 slots served (after [`RedisCluster::kill`] of a
    /// primary: until its replica took over), panicking after `within`.
    pub fn wait_until_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let healthy = self.primaries().len() == PRIMARIES
                && self.nodes.iter().all(|node| {
                    let info = redis_cli(node.port, &["cluster", "info"]).unwrap_or_default();
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
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

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
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
