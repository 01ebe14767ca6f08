//! The test kit's Redis Cluster: it starts whole, serves every slot, and fails over on its own.

use std::time::Duration;

use safequiz_testkit::RedisCluster;

#[test]
fn a_killed_primary_is_replaced_by_its_replica_and_every_slot_is_served_again() {
    let cluster = RedisCluster::start();
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "three primaries: {primaries:?}");
    assert_eq!(cluster.seed_urls().split(',').count(), 6);

    cluster.kill(primaries[0]);
    cluster.wait_until_healthy(Duration::from_secs(30));

    let now = cluster.primaries();
    assert_eq!(
        now.len(),
        3,
        "a replica took the killed primary's place: {now:?}"
    );
    assert!(!now.contains(&primaries[0]));
}
