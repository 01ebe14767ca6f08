//! Hot state on a real Redis Cluster (3 primaries, 3 replicas): the same calls read the same as
//! on one node, scripts survive a failover to a replica that never loaded them, and placement
//! says where the shards live.

use std::collections::BTreeMap;
use std::time::Duration;

use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_redis::HotState;
use safequiz_redis::attempts::{ReadOutcome, SaveOutcome, SubmitOutcome};
use safequiz_redis::boards::{BoardEntry, Standing, UnitTotals};
use safequiz_redis::keys::Shard;
use safequiz_redis::participants::{RegisterOutcome, Registration};
use safequiz_testkit::{RedisCluster, RedisServer, eventually};

use crate::{
    CAMPAIGN, DAY, PATH, SHARDS, T0, actor, choice, five_questions, hot_on, new_attempt, start_new,
};

/// A keyed phone hash made from a number (the service derives it with an HMAC).
fn phone_hash(n: u8) -> [u8; 16] {
    let mut hash = [0u8; 16];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = n.wrapping_mul(37).wrapping_add(i as u8 * 11);
    }
    hash
}

/// Registers participant `n` (a phone of its own) in `PATH`; returns their id.
async fn register(hot: &HotState, n: u8) -> u64 {
    let hash = phone_hash(n);
    let outcome = hot
        .register(&Registration {
            campaign: CAMPAIGN,
            shards: SHARDS,
            phone_hash: &hash,
            name: "测试者",
            phone_masked: "138****5678",
            unit: PATH[1],
            now_ms: T0,
        })
        .await
        .expect("Redis runs the register script");
    match outcome {
        RegisterOutcome::Created { participant, .. } => participant,
        other => panic!("a new phone creates a participant, got {other:?}"),
    }
}

/// Everything the service reads back after some plays, to compare two topologies.
#[derive(Debug, PartialEq)]
struct Reads {
    participants: Vec<u64>,
    totals: Vec<UnitTotals>,
    top: Vec<BoardEntry>,
    standings: Vec<Standing>,
    ranks: Vec<Vec<u64>>,
    people: u64,
    board_scores: Vec<Option<i64>>,
    stream_entries: Vec<usize>,
}

/// Registers 12 participants, plays one attempt each with `n mod 6` right answers (submitted
/// after `n` seconds), and reads everything back.
async fn play_and_read(hot: &HotState) -> Reads {
    let keys = ["B", "AC", "T", "D", "F"];
    let mut participants = Vec::new();
    for n in 0..12u8 {
        let participant = register(hot, n).await;
        let me = actor(participant);
        let started = T0 + i64::from(n) * 1_000;
        start_new(hot, &me, 1, &new_attempt(DAY, started, &five_questions())).await;
        let answers: Vec<_> = keys
            .iter()
            .take(usize::from(n % 6))
            .enumerate()
            .map(|(index, keys)| (index as u32, choice(keys)))
            .collect();
        let outcome = hot
            .submit(&me, 1, &answers, started + 5_000 + i64::from(n) * 1_000)
            .await
            .expect("Redis runs the submit script");
        assert!(matches!(outcome, SubmitOutcome::Final(_)), "{outcome:?}");
        participants.push(participant);
    }
    crate::catch_up_boards(hot, CAMPAIGN, SHARDS).await;
    let totals = hot
        .unit_totals(CAMPAIGN, SHARDS, &[WHOLE_CAMPAIGN, PATH[0], PATH[1]])
        .await
        .expect("totals");
    let top = hot
        .top_participants(CAMPAIGN, SHARDS, Some(PATH[1]), 10)
        .await
        .expect("top list");
    let mut standings = Vec::new();
    let mut ranks = Vec::new();
    for participant in &participants {
        let standing = hot
            .standing(CAMPAIGN, SHARDS, *participant)
            .await
            .expect("standing");
        ranks.push(
            hot.ranks(
                CAMPAIGN,
                *participant,
                &standing,
                &[None, Some(PATH[0]), Some(PATH[1])],
            )
            .await
            .expect("ranks"),
        );
        standings.push(standing);
    }
    let people = hot.people_count(CAMPAIGN, SHARDS).await.expect("people");
    let members: Vec<(u64, i64)> = participants
        .iter()
        .zip(&standings)
        .map(|(participant, standing)| (*participant, standing.last_finished_ms))
        .collect();
    let board_scores = hot
        .board_scores(CAMPAIGN, &members)
        .await
        .expect("board scores");
    let mut stream_entries = Vec::new();
    for shard in Shard::all(SHARDS) {
        let entries = hot
            .stream_entries(CAMPAIGN, shard)
            .await
            .expect("stream entries");
        stream_entries.push(entries.len());
    }
    Reads {
        participants,
        totals,
        top,
        standings,
        ranks,
        people,
        board_scores,
        stream_entries,
    }
}

#[tokio::test]
async fn the_same_plays_read_the_same_on_one_node_and_on_a_cluster() {
    let single = RedisServer::start();
    let cluster = RedisCluster::start();

    let on_one_node = play_and_read(&hot_on(&single.url(), false)).await;
    let on_a_cluster = play_and_read(&hot_on(&cluster.seed_urls(), true)).await;

    assert_eq!(
        on_a_cluster, on_one_node,
        "registrations, scripts, totals, boards, ranks and streams agree on both topologies"
    );
    assert!(
        on_one_node
            .stream_entries
            .iter()
            .filter(|n| **n > 0)
            .count()
            > 1,
        "the plays span several shards: {:?}",
        on_one_node.stream_entries
    );
    assert_eq!(on_one_node.people, 12);
}

/// Cached scripts of the node on `port` (`INFO memory`'s `number_of_cached_scripts`).
async fn cached_scripts(port: u16) -> u64 {
    let info = crate::info(port, "memory").await;
    info.lines()
        .find_map(|line| line.strip_prefix("number_of_cached_scripts:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("INFO memory counts cached scripts")
}

/// The port of `host:port`.
fn port_of(node: &str) -> u16 {
    node.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .expect("a host:port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_promoted_by_a_failover_runs_the_scripts_it_never_loaded() {
    let cluster = RedisCluster::start();
    let hot = hot_on(&cluster.seed_urls(), true);
    let participant = register(&hot, 1).await;
    let me = actor(participant);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let shard = usize::from(Shard::of_participant(participant, SHARDS).0);
    let before = hot.placement(CAMPAIGN, SHARDS).await.expect("placement");
    let old_primary = port_of(&before.shard_primaries[shard]);

    tokio::task::block_in_place(|| cluster.wait_until_replicated(Duration::from_secs(10)));
    cluster.kill(old_primary);
    tokio::task::block_in_place(|| cluster.wait_until_healthy(Duration::from_secs(30)));
    let after = eventually(
        "the client sees the promoted replica",
        Duration::from_secs(10),
        || async {
            hot.placement(CAMPAIGN, SHARDS)
                .await
                .ok()
                .filter(|placement| {
                    placement.shard_primaries[shard] != before.shard_primaries[shard]
                })
        },
    )
    .await;
    let new_primary = port_of(&after.shard_primaries[shard]);
    assert_eq!(
        cached_scripts(new_primary).await,
        0,
        "the promoted replica never loaded a script (scripts are not replicated)"
    );
    let saved = eventually(
        "a save reaches the promoted replica",
        Duration::from_secs(10),
        || async {
            match hot.save(&me, 1, 0, choice("B"), T0 + 2_000).await {
                Ok(outcome) => Some(outcome),
                Err(error) => {
                    assert!(error.is_unavailable(), "only a switch error: {error}");
                    None
                }
            }
        },
    )
    .await;
    let submitted = hot
        .submit(&me, 1, &[(1, choice("AC"))], T0 + 3_000)
        .await
        .expect("the submit script runs on the new primary");

    assert_eq!(saved, SaveOutcome::Saved);
    let SubmitOutcome::Final(record) = submitted else {
        panic!("the attempt is final, got {submitted:?}");
    };
    assert_eq!(
        record.result.map(|result| result.correct),
        Some(2),
        "the attempt started before the failover kept its questions and counts both answers"
    );
    assert!(
        cached_scripts(new_primary).await >= 2,
        "EVAL left the scripts in its cache"
    );
    let read = hot.read(&me, 1, T0 + 4_000).await.expect("read");
    assert!(matches!(read, ReadOutcome::Final(_)), "{read:?}");
}

#[tokio::test]
async fn placement_says_when_every_shard_of_a_campaign_lives_on_one_primary() {
    let cluster = RedisCluster::start();
    let single = RedisServer::start();
    let hot = hot_on(&cluster.seed_urls(), true);

    let one_shard = hot.placement(CAMPAIGN, 1).await.expect("placement");
    let sixteen = hot.placement(CAMPAIGN, 16).await.expect("placement");
    let on_one_node = hot_on(&single.url(), false)
        .placement(CAMPAIGN, 1)
        .await
        .expect("placement");

    assert_eq!(one_shard.primaries, 3);
    assert!(!one_shard.is_spread(), "{one_shard:?}");
    let warning = one_shard.warning(CAMPAIGN).expect("a warning");
    assert!(warning.contains("raise hot.shards"), "{warning}");
    assert!(sixteen.is_spread(), "{sixteen:?}");
    assert_eq!(sixteen.warning(CAMPAIGN), None);
    let per_primary: BTreeMap<&str, u16> = sixteen.shards_per_primary();
    assert_eq!(per_primary.values().sum::<u16>(), 16);
    let primaries: Vec<String> = cluster
        .primaries()
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    assert!(
        per_primary
            .keys()
            .all(|node| primaries.iter().any(|p| p == node)),
        "every shard is on a primary the cluster names: {per_primary:?} {primaries:?}"
    );
    assert!(
        on_one_node.is_spread(),
        "one Redis has nothing to spread over"
    );
}
