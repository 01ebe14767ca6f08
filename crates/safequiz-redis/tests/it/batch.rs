//! Group commit (`src/batch.rs`): attempt operations sent concurrently through one handle share
//! script calls, and answer and write exactly what they would one at a time.
//!
//! The property test plays generated operations (starts, saves, submits, reads of several
//! participants, some twice in one batch, late reads that finalize, resubmits) one at a time on
//! one redis-server and in concurrent rounds (each round one batch) on another, or on a Redis
//! Cluster, and requires the same replies and the same participants' hashes, deadline indexes,
//! unit totals, boards and stream entries. Two more tests count the script calls
//! (`INFO commandstats`) and check that one operation's error answers that operation only.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use safequiz_redis::attempts::{Actor, ChoiceArg, ReadOutcome, SaveOutcome, StartOutcome};
use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_redis::{Connection, HotState};
use safequiz_testkit::{RedisCluster, RedisServer};

use crate::{DAY, DAY_MS, T0, choice, five_questions, hot_on, new_attempt};

/// The unit paths participants are drawn from.
const PATHS: [&[&str]; 3] = [&["110000", "110101"], &["110000", "110102"], &["130000"]];

/// Instants within a day: at the start, during the attempt, between the deadline (150 s) and
/// the end of the grace (160 s), and after it.
const MOMENTS: [i64; 5] = [0, 30_000, 100_000, 155_000, 200_000];

/// Option keys a save or submit sends; some fit no question (bad choices), "" clears.
const CHOICES: [&str; 8] = ["A", "B", "AC", "D", "T", "F", "", "E"];

/// One generated operation.
#[derive(Clone, Debug)]
enum Op {
    Start {
        who: usize,
        day: i64,
        moment: usize,
    },
    Save {
        who: usize,
        number: u32,
        index: u32,
        choice: usize,
        day: i64,
        moment: usize,
    },
    Submit {
        who: usize,
        number: u32,
        answers: Vec<(u32, usize)>,
        day: i64,
        moment: usize,
    },
    Read {
        who: usize,
        number: u32,
        day: i64,
        moment: usize,
    },
}

#[derive(Clone, Debug)]
struct Scenario {
    shards: u16,
    /// Participant `i` has id `i + 1` and path `PATHS[paths[i]]`.
    paths: Vec<usize>,
    ops: Vec<Op>,
    /// How many operations each concurrent round carries, in turn (the last repeats).
    rounds: Vec<usize>,
}

fn op(people: usize) -> impl Strategy<Value = Op> {
    let who = 0..people;
    let number = 1u32..=3;
    let day = 0i64..3;
    let moment = 0..MOMENTS.len();
    prop_oneof![
        2 => (who.clone(), day.clone(), moment.clone())
            .prop_map(|(who, day, moment)| Op::Start { who, day, moment }),
        4 => (who.clone(), number.clone(), 0u32..=5, 0..CHOICES.len(), day.clone(), moment.clone())
            .prop_map(|(who, number, index, choice, day, moment)| Op::Save {
                who, number, index, choice, day, moment,
            }),
        2 => (
            who.clone(),
            number.clone(),
            prop::collection::vec((0u32..=5, 0..CHOICES.len()), 0..=3),
            day.clone(),
            moment.clone(),
        )
            .prop_map(|(who, number, answers, day, moment)| Op::Submit {
                who, number, answers, day, moment,
            }),
        2 => (who, number, day, moment)
            .prop_map(|(who, number, day, moment)| Op::Read { who, number, day, moment }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1u16..=3, 2usize..=5).prop_flat_map(|(shards, people)| {
        (
            prop::collection::vec(0..PATHS.len(), people),
            prop::collection::vec(op(people), 1..=80),
            prop::collection::vec(1usize..=40, 1..=6),
        )
            .prop_map(move |(paths, ops, rounds)| Scenario {
                shards,
                paths,
                ops,
                rounds,
            })
    })
}

fn instant(day: i64, moment: usize) -> i64 {
    T0 + day * DAY_MS + MOMENTS[moment]
}

/// Runs one operation; returns its outcome as text, to compare.
async fn play(hot: &HotState, campaign: &str, scenario: &Scenario, op: &Op) -> String {
    let who = match op {
        Op::Start { who, .. }
        | Op::Save { who, .. }
        | Op::Submit { who, .. }
        | Op::Read { who, .. } => *who,
    };
    let actor = Actor {
        campaign,
        shards: scenario.shards,
        participant: who as u64 + 1,
        path: PATHS[scenario.paths[who]],
        scoring: safequiz_domain::score::Scoring::uniform(2),
    };
    let outcome = match op {
        Op::Start { day, moment, .. } => {
            let at = instant(*day, *moment);
            let attempt = new_attempt(DAY + *day as i32, at, &five_questions());
            hot.start(&actor, 1, &attempt)
                .await
                .map(|o| format!("{o:?}"))
        }
        Op::Save {
            number,
            index,
            choice: keys,
            day,
            moment,
            ..
        } => hot
            .save(
                &actor,
                *number,
                *index,
                choice(CHOICES[*keys]),
                instant(*day, *moment),
            )
            .await
            .map(|o| format!("{o:?}")),
        Op::Submit {
            number,
            answers,
            day,
            moment,
            ..
        } => {
            let answers: Vec<(u32, ChoiceArg)> = answers
                .iter()
                .map(|(index, keys)| (*index, choice(CHOICES[*keys])))
                .collect();
            hot.submit(&actor, *number, &answers, instant(*day, *moment))
                .await
                .map(|o| format!("{o:?}"))
        }
        Op::Read {
            number,
            day,
            moment,
            ..
        } => hot
            .read(&actor, *number, instant(*day, *moment))
            .await
            .map(|o| format!("{o:?}")),
    };
    outcome.unwrap_or_else(|error| format!("error: {error}"))
}

/// Everything the operations can have written, by key: the participants' hashes, and per shard
/// the deadline index, the unit totals, every board and the stream entries (their fields; the
/// entry ids are instants).
async fn dump(
    connection: &Connection,
    campaign: &str,
    scenario: &Scenario,
) -> BTreeMap<String, Vec<String>> {
    let connection = &mut connection.clone();
    let mut dump = BTreeMap::new();
    let hash = |mut pairs: Vec<(String, String)>| {
        pairs.sort();
        pairs
            .into_iter()
            .map(|(field, value)| format!("{field}={value}"))
            .collect::<Vec<_>>()
    };
    for participant in 1..=scenario.paths.len() as u64 {
        let key = ShardKeys::new(
            campaign,
            Shard::of_participant(participant, scenario.shards),
        )
        .participant(participant);
        let pairs: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(connection)
            .await
            .expect("HGETALL");
        dump.insert(key, hash(pairs));
    }
    for shard in Shard::all(scenario.shards) {
        let keys = ShardKeys::new(campaign, shard);
        let pairs: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(keys.totals())
            .query_async(connection)
            .await
            .expect("HGETALL");
        dump.insert(keys.totals(), hash(pairs));
        for key in [keys.deadlines()] {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(connection)
                .await
                .expect("ZRANGE");
            dump.insert(key, members);
        }
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(keys.stream())
            .arg("-")
            .arg("+")
            .query_async(connection)
            .await
            .expect("XRANGE");
        dump.insert(
            keys.stream(),
            entries
                .into_iter()
                .map(|(_, fields)| fields.join(" "))
                .collect(),
        );
    }
    dump
}

/// Script calls (`EVALSHA` and `EVAL`) the Redis on `port` has run.
async fn script_calls(port: u16) -> u64 {
    let info = crate::info(port, "commandstats").await;
    info.lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            let calls = line.split_once("calls=")?.1;
            calls.split(',').next()?.parse::<u64>().ok()
        })
        .sum()
}

/// Script calls over the nodes on `ports`.
async fn script_calls_on(ports: &[u16]) -> u64 {
    let mut sum = 0;
    for port in ports {
        sum += script_calls(*port).await;
    }
    sum
}

/// Plays `scenario` one operation at a time on `one_at_a_time` and in concurrent rounds on
/// `batched`, and compares replies and writes.
async fn check(
    one_at_a_time: (&HotState, &Connection),
    batched: (&HotState, &Connection, &[u16]),
    campaign: &str,
    scenario: &Scenario,
) -> Result<(), TestCaseError> {
    let (hot, connection) = one_at_a_time;
    let mut expected = Vec::new();
    for op in &scenario.ops {
        expected.push(play(hot, campaign, scenario, op).await);
    }
    let expected_writes = dump(connection, campaign, scenario).await;

    let (hot, connection, ports) = batched;
    let calls_before = script_calls_on(ports).await;
    let mut replies = Vec::new();
    let mut rest = scenario.ops.as_slice();
    let mut round = 0;
    while !rest.is_empty() {
        let size = scenario.rounds[round.min(scenario.rounds.len() - 1)].min(rest.len());
        round += 1;
        let (now, later) = rest.split_at(size);
        rest = later;
        // Each round's calls are queued, in order, before the driver runs: one batch.
        let plays: Vec<Pin<Box<dyn Future<Output = String> + '_>>> = now
            .iter()
            .map(|op| Box::pin(play(hot, campaign, scenario, op)) as Pin<Box<_>>)
            .collect();
        replies.extend(join_all(plays).await);
    }
    let calls = script_calls_on(ports).await - calls_before;

    for (index, (reply, expected)) in replies.iter().zip(&expected).enumerate() {
        prop_assert_eq!(
            reply,
            expected,
            "operation {}: {:?}",
            index,
            scenario.ops[index]
        );
    }
    let writes = dump(connection, campaign, scenario).await;
    prop_assert_eq!(writes, expected_writes);
    // A round's operations share calls: at most one call per round and shard, and one more
    // per script a node did not know yet (NOSCRIPT, then EVAL).
    let bound = round as u64 * u64::from(scenario.shards) + 2 * u64::from(scenario.shards) + 4;
    prop_assert!(
        calls <= bound,
        "{} script calls for {} operations in {} rounds",
        calls,
        scenario.ops.len(),
        round
    );
    Ok(())
}

fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    })
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn batched_operations_answer_and_write_what_they_do_one_at_a_time() {
    let alone = RedisServer::start();
    let together = RedisServer::start();
    let runtime = current_thread();
    let case = AtomicU32::new(0);
    let (hot_alone, hot_together, read_alone, read_together) = runtime.block_on(async {
        (
            hot_on(&alone.url(), false),
            hot_on(&together.url(), false),
            Connection::open(&[&alone.url()], false)
                .await
                .expect("a connection"),
            Connection::open(&[&together.url()], false)
                .await
                .expect("a connection"),
        )
    });

    let outcome = runner(48, 1_616).run(&scenario(), |scenario| {
        let campaign = format!("batch-{}", case.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(check(
            (&hot_alone, &read_alone),
            (&hot_together, &read_together, &[together.port()]),
            &campaign,
            &scenario,
        ))
    });

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn batched_operations_on_a_cluster_answer_and_write_what_they_do_one_at_a_time() {
    let alone = RedisServer::start();
    let cluster = RedisCluster::start();
    let runtime = current_thread();
    let case = AtomicU32::new(0);
    let primaries = cluster.primaries();
    let (hot_alone, hot_together, read_alone, read_together) = runtime.block_on(async {
        let seeds = cluster.seed_urls();
        let seeds: Vec<&str> = seeds.split(',').collect();
        (
            hot_on(&alone.url(), false),
            hot_on(&cluster.seed_urls(), true),
            Connection::open(&[&alone.url()], false)
                .await
                .expect("a connection"),
            Connection::open(&seeds, true).await.expect("a connection"),
        )
    });

    let outcome = runner(12, 1_717).run(&scenario(), |scenario| {
        let campaign = format!("batch-{}", case.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(check(
            (&hot_alone, &read_alone),
            (&hot_together, &read_together, &primaries),
            &campaign,
            &scenario,
        ))
    });

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// The handle and the ports of the primaries of one Redis or of a cluster.
struct Topology {
    _single: Option<RedisServer>,
    _cluster: Option<RedisCluster>,
    hot: HotState,
    primaries: Vec<u16>,
}

impl Topology {
    /// A connection of the test's own to the topology's primaries, to read or damage keys.
    async fn connection(&self) -> Connection {
        let urls: Vec<String> = self
            .primaries
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        Connection::open(&urls, self.primaries.len() > 1)
            .await
            .expect("a connection")
    }
}

fn topologies() -> [Topology; 2] {
    let single = RedisServer::start();
    let cluster = RedisCluster::start();
    [
        Topology {
            hot: hot_on(&single.url(), false),
            primaries: vec![single.port()],
            _single: Some(single),
            _cluster: None,
        },
        Topology {
            hot: hot_on(&cluster.seed_urls(), true),
            primaries: cluster.primaries(),
            _single: None,
            _cluster: Some(cluster),
        },
    ]
}

const PATH: &[&str] = &["110000", "110101"];

fn actor(campaign: &str, shards: u16, participant: u64) -> Actor<'_> {
    Actor {
        campaign,
        shards,
        participant,
        path: PATH,
        scoring: safequiz_domain::score::Scoring::uniform(1),
    }
}

#[tokio::test]
async fn concurrent_operations_of_one_handle_share_script_calls() {
    for topology in topologies() {
        let hot = &topology.hot;
        let shards = 4;
        let attempt = new_attempt(DAY, T0, &five_questions());

        let before = script_calls_on(&topology.primaries).await;
        let starts = join_all((1..=64).map(|p| {
            let attempt = &attempt;
            async move { hot.start(&actor("shared", shards, p), 1, attempt).await }
        }))
        .await;
        let start_calls = script_calls_on(&topology.primaries).await - before;

        let before = script_calls_on(&topology.primaries).await;
        let saves = join_all((1..=64).map(|p| async move {
            hot.save(&actor("shared", shards, p), 1, 0, choice("B"), T0 + 1_000)
                .await
        }))
        .await;
        let save_calls = script_calls_on(&topology.primaries).await - before;

        for start in starts {
            assert!(
                matches!(start, Ok(StartOutcome::Created(_))),
                "every start creates an attempt: {start:?}"
            );
        }
        for save in saves {
            assert_eq!(save.expect("Redis runs the saves"), SaveOutcome::Saved);
        }
        // One call per shard, each after a NOSCRIPT the first time for the starts; a handful
        // at most, where 64 calls went before.
        assert!(
            start_calls <= 2 * u64::from(shards),
            "64 starts took {start_calls} script calls"
        );
        assert!(
            save_calls <= u64::from(shards),
            "64 saves took {save_calls} script calls"
        );
        for p in 1..=64 {
            let read = hot
                .read(&actor("shared", shards, p), 1, T0 + 2_000)
                .await
                .expect("read");
            let ReadOutcome::Open(record) = read else {
                panic!("the attempt is open: {read:?}");
            };
            assert!(
                record.questions().next().flatten().expect("decodes").answer == choice_set("B"),
                "participant {p}'s save was written"
            );
        }
    }
}

/// The set of options the keys name for the first question of `five_questions`.
fn choice_set(keys: &str) -> safequiz_domain::bank::Choices {
    safequiz_domain::bank::Choices::parse_keys(keys, safequiz_domain::bank::QuestionKind::Single, 4)
        .expect("valid keys")
}

#[tokio::test]
async fn an_operation_that_fails_in_a_batch_fails_alone() {
    for topology in topologies() {
        let hot = &topology.hot;
        // One shard, so that every operation goes into one batch on both topologies.
        let shards = 1;
        let attempt = new_attempt(DAY, T0, &five_questions());
        for p in 1..=5 {
            hot.start(&actor("failing", shards, p), 1, &attempt)
                .await
                .expect("start");
        }
        // Participant 3's hash becomes a string: the script's HMGET on it raises WRONGTYPE.
        let mut connection = topology.connection().await;
        let broken = ShardKeys::new("failing", Shard(0)).participant(3);
        let _: () = redis::cmd("SET")
            .arg(&broken)
            .arg("not a hash")
            .query_async(&mut connection)
            .await
            .expect("SET");

        let before = script_calls_on(&topology.primaries).await;
        let saves = join_all((1..=5).map(|p| async move {
            hot.save(&actor("failing", shards, p), 1, 0, choice("B"), T0 + 1_000)
                .await
        }))
        .await;
        let calls = script_calls_on(&topology.primaries).await - before;

        // One call, and an EVAL after NOSCRIPT when the node has not run the batch script yet.
        assert!(calls <= 2, "the five saves went in one call: {calls} calls");
        for (index, save) in saves.into_iter().enumerate() {
            if index == 2 {
                let error = save.expect_err("participant 3's save fails");
                assert!(
                    error.to_string().contains("WRONGTYPE"),
                    "the error Redis raised: {error}"
                );
                assert!(!error.is_unavailable(), "a misuse, not an outage: {error}");
            } else {
                assert_eq!(save.expect("the others are saved"), SaveOutcome::Saved);
            }
        }
        let read = hot
            .read(&actor("failing", shards, 4), 1, T0 + 2_000)
            .await
            .expect("read");
        let ReadOutcome::Open(record) = read else {
            panic!("open: {read:?}");
        };
        assert_eq!(
            record.questions().next().flatten().expect("decodes").answer,
            choice_set("B"),
            "the save after the failing one was written"
        );
    }
}

#[tokio::test]
async fn a_deferred_write_that_fails_is_answered_and_keeps_the_finalizes_own_writes() {
    for topology in topologies() {
        let hot = &topology.hot;
        let shards = 1;
        let path: &[&str] = &["110000", "110101"];
        let who = |p: u64| Actor {
            campaign: "refusing",
            shards,
            participant: p,
            path,
            scoring: safequiz_domain::score::Scoring::uniform(1),
        };
        let attempt = new_attempt(DAY, T0, &five_questions());
        for p in 1..=6 {
            hot.start(&who(p), 1, &attempt).await.expect("start");
        }
        let mut connection = topology.connection().await;
        let keys = ShardKeys::new("refusing", Shard(0));
        // The deadline index becomes a string: the deferred ZREM to it raises WRONGTYPE.
        let _: () = redis::cmd("SET")
            .arg(keys.deadlines())
            .arg("not a sorted set")
            .query_async(&mut connection)
            .await
            .expect("SET");

        let submits = join_all([1, 3, 2, 5, 4, 6].map(|p| {
            let actor = who(p);
            async move { hot.submit(&actor, 1, &[], T0 + 2_000).await }
        }))
        .await;
        assert!(
            submits.iter().all(Result::is_err),
            "the refused write is answered to every operation of its call: {submits:?}"
        );

        // Each finalize's own writes stay, as they would in a script of its own: every attempt
        // is in the stream.
        let entries: u64 = redis::cmd("XLEN")
            .arg(keys.stream())
            .query_async(&mut connection)
            .await
            .expect("XLEN");
        assert_eq!(entries, 6, "every submitted attempt is in the stream");
    }
}
