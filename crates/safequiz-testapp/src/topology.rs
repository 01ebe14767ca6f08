//! The Redis a `TestApp` runs on: one redis-server or a 3-primary Redis Cluster, and a raw
//! connection to either for tests that read keys the service does not expose.
//!
//! The service reaches both through its own configuration (`redis.url`, `redis.cluster`), so a
//! test body written once checks both ([`on_both_topologies!`](crate::on_both_topologies)).

use safequiz_testkit::{RedisCluster, RedisServer};

/// Which Redis a test app runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// One redis-server, as by default.
    #[default]
    Single,
    /// A Redis Cluster of 3 primaries and 3 replicas, reached through its seed nodes.
    Cluster,
}

/// Turns `async fn $body(topology: Topology)` into two tests, `$body::on_one_redis` and
/// `$body::on_a_redis_cluster`, so that one body checks both topologies (`use
/// safequiz_testapp::on_both_topologies;`).
#[macro_export]
macro_rules! on_both_topologies {
    ($body:ident) => {
        mod $body {
            #[tokio::test]
            async fn on_one_redis() {
                super::$body($crate::Topology::Single).await;
            }

            #[tokio::test]
            async fn on_a_redis_cluster() {
                super::$body($crate::Topology::Cluster).await;
            }
        }
    };
}

/// The Redis of a running test app.
pub enum TestRedis {
    /// One redis-server.
    Single(RedisServer),
    /// A Redis Cluster.
    Cluster(RedisCluster),
}

impl TestRedis {
    /// Starts the Redis `topology` names.
    pub fn start(topology: Topology) -> TestRedis {
        match topology {
            Topology::Single => TestRedis::Single(RedisServer::start()),
            Topology::Cluster => TestRedis::Cluster(RedisCluster::start()),
        }
    }

    /// `redis.url` as the service is given it: the server's URL, or the cluster's seed nodes.
    pub fn url(&self) -> String {
        match self {
            TestRedis::Single(server) => server.url(),
            TestRedis::Cluster(cluster) => cluster.seed_urls(),
        }
    }

    /// Whether this is a cluster (`redis.cluster`).
    pub fn is_cluster(&self) -> bool {
        matches!(self, TestRedis::Cluster(_))
    }

    /// The cluster; panics on a single redis-server.
    pub fn cluster(&self) -> &RedisCluster {
        match self {
            TestRedis::Cluster(cluster) => cluster,
            TestRedis::Single(_) => panic!("this test app runs on one redis-server"),
        }
    }

    /// Stops Redis now, every node of a cluster (to test behaviour while Redis is down).
    pub fn stop(&mut self) {
        match self {
            TestRedis::Single(server) => server.stop(),
            TestRedis::Cluster(cluster) => {
                for port in cluster.ports() {
                    cluster.kill(port);
                }
            }
        }
    }

    /// A connection of the test's own, outside the service: on a cluster it routes each
    /// command by its key (`KEYS` and `FLUSHALL` go to every primary).
    pub async fn connection(&self) -> RawConnection {
        match self {
            TestRedis::Single(server) => RawConnection::open(&[server.url().as_str()], false).await,
            TestRedis::Cluster(cluster) => {
                let seeds = cluster.seed_urls();
                RawConnection::open(&seeds.split(',').collect::<Vec<_>>(), true).await
            }
        }
        .expect("the test's Redis answers")
    }
}

/// A raw connection to a test app's Redis, one node or a cluster: the service's own
/// connection type, opened apart from the service.
pub type RawConnection = safequiz_redis::Connection;
