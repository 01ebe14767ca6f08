//! Integration tests of the hot state against a real redis-server: every Lua script through its
//! Rust wrapper (start, save, submit, read, register, rank), the streams' entry format, a
//! property test that the scripts' finalize and the domain's rules give equal results, and the
//! same calls on a real Redis Cluster, through a failover (`cluster`).
//!
//! Each test starts its own redis-server or cluster (`safequiz-testkit`), so tests run in
//! parallel and share nothing. Time is passed in, as the server's clock passes it: nothing here
//! waits but the cluster's failover, polled.
#![cfg(test)]

mod batch;
mod board_writer;
mod cluster;
mod finalize;
mod practice;
mod rank;
mod read;
mod reads;
mod register;
mod save;
mod start;
mod streams;
mod submit;

use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_domain::board::IndividualBoards;
use safequiz_domain::draw::OptionOrder;
use safequiz_redis::attempts::{Actor, AttemptRecord, ChoiceArg, NewAttempt, StartOutcome};
use safequiz_redis::{HotState, RedisSettings};
use safequiz_testkit::RedisServer;
use secrecy::SecretString;

/// The campaign id of the tests that need one.
const CAMPAIGN: &str = "hot-test";

/// Shards of the campaign (hot-state tests use 4).
const SHARDS: u16 = 4;

/// An instant during the campaign, Unix ms (2026-06-09).
const T0: i64 = 1_781_000_000_000;

/// A day, ms.
const DAY_MS: i64 = 86_400_000;

/// The time limit of an attempt, ms.
const LIMIT_MS: i64 = 150_000;

/// The grace after the deadline, ms.
const GRACE_MS: i64 = 10_000;

/// Calendar day number of [`T0`].
const DAY: i32 = 20_613;

/// A unit path from a region down to a county.
const PATH: [&str; 2] = ["110000", "110101"];

/// A redis-server of the test's own and a handle to it.
fn hot_state() -> (RedisServer, HotState) {
    let redis = RedisServer::start();
    let hot = hot_on(&redis.url(), false);
    (redis, hot)
}

/// A handle to the Redis at `url`, or to the cluster whose seed nodes `url` lists.
fn hot_on(url: &str, cluster: bool) -> HotState {
    handle(url, cluster, true)
}

/// A handle to the Redis at `url` whose finalize writes attempt entries packed or not
/// (`RedisSettings::packed_entries`).
fn handle(url: &str, cluster: bool, packed_entries: bool) -> HotState {
    HotState::connect(&RedisSettings {
        url: SecretString::from(url.to_owned()),
        cluster,
        connections: 1,
        wait_secs: 2,
        packed_entries,
    })
    .expect("a Redis URL from the testkit parses")
}

/// One section of `INFO` of the Redis node on `port`.
async fn info(port: u16, section: &str) -> String {
    let mut connection = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .expect("a URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the node answers");
    redis::cmd("INFO")
        .arg(section)
        .query_async(&mut connection)
        .await
        .expect("INFO")
}

/// A raw connection, for reading keys the wrappers do not expose.
async fn raw(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .expect("a Redis URL from the testkit parses")
        .get_multiplexed_async_connection()
        .await
        .expect("the test's redis-server answers")
}

/// Participant `participant` of the test campaign in `PATH`, one point per correct answer.
fn actor(participant: u64) -> Actor<'static> {
    Actor {
        campaign: CAMPAIGN,
        shards: SHARDS,
        participant,
        path: &PATH,
        scoring: safequiz_domain::score::Scoring::uniform(1),
    }
}

/// One drawn question as the start handler encodes it.
#[derive(Clone, Debug)]
struct Drawn {
    id: String,
    kind: QuestionKind,
    order: OptionOrder,
    key: Choices,
}

impl Drawn {
    fn new(id: &str, kind: QuestionKind, order: &[u8], keys: &str) -> Drawn {
        Drawn {
            id: id.to_owned(),
            kind,
            order: OptionOrder::from_slice(order).expect("a permutation"),
            key: Choices::parse_keys(keys, kind, order.len()).expect("valid keys"),
        }
    }
}

/// Five questions of every kind, shuffled; their keys over display positions are B, AC, T, D, F.
fn five_questions() -> Vec<Drawn> {
    use QuestionKind::{Multiple, Single, TrueFalse};
    vec![
        Drawn::new("s-001", Single, &[2, 0, 3, 1], "B"),
        Drawn::new("m-002", Multiple, &[4, 1, 0, 3, 2], "AC"),
        Drawn::new("t-003", TrueFalse, &[0, 1], "T"),
        Drawn::new("s-004", Single, &[0, 1, 2, 3], "D"),
        Drawn::new("t-005", TrueFalse, &[0, 1], "F"),
    ]
}

/// An attempt started at `started_ms` on `day` with `questions`, with the test time limit and
/// grace.
fn new_attempt(day: i32, started_ms: i64, questions: &[Drawn]) -> NewAttempt {
    let deadline = started_ms + LIMIT_MS;
    let mut attempt = NewAttempt::new(day, started_ms, deadline, deadline + GRACE_MS);
    for question in questions {
        attempt.push(&question.id, question.kind, question.order, question.key);
    }
    attempt
}

/// The choice argument for option keys such as `"AC"` or `"T"`.
fn choice(keys: &str) -> ChoiceArg {
    let keys: Vec<String> = keys.chars().map(String::from).collect();
    ChoiceArg::parse(keys.iter().map(String::as_str)).expect("no key repeats")
}

/// Starts an attempt that must be created, `per_day` attempts allowed a day.
async fn start_new(
    hot: &HotState,
    actor: &Actor<'_>,
    per_day: u32,
    attempt: &NewAttempt,
) -> AttemptRecord {
    match hot
        .start(actor, per_day, attempt)
        .await
        .expect("Redis runs the start script")
    {
        StartOutcome::Created(record) => record,
        other => panic!("expected a new attempt, got {other:?}"),
    }
}

/// Runs the board writer over every shard of `campaign` until it has applied everything the
/// streams hold, as the service's writer does every 100 ms (`board_writer`).
async fn catch_up_boards(hot: &HotState, campaign: &str, shards: u16) {
    for shard in safequiz_redis::keys::Shard::all(shards) {
        loop {
            let pass = hot
                .write_boards(
                    campaign,
                    IndividualBoards::EVERY_LEVEL,
                    shard,
                    "test-writer",
                    256,
                    10_000,
                )
                .await
                .expect("the board writer's pass");
            assert!(pass.holder, "the test's writer holds shard {shard}");
            assert_eq!(
                pass.skipped, 0,
                "every attempt entry carries its board fields"
            );
            if pass.entries < 256 {
                break;
            }
        }
    }
}

/// `my_standing` of `participant` on `boards` both ways it may read them: as right after their
/// latest finish (every board counted, no `ZRANK`) and long after it (`ZRANK` first, counts only
/// for boards the writer has not passed). The two must agree; the standing and ranks returned.
async fn my_standing(
    hot: &HotState,
    participant: u64,
    boards: &[Option<&str>],
) -> (safequiz_redis::boards::Standing, Vec<u64>) {
    // The instants are relative to the finish `my_standing` reads: any before it is "right
    // after" (a clock behind reads as recent), the largest is "long after".
    let (standing, counted) = hot
        .my_standing(CAMPAIGN, SHARDS, participant, boards, i64::MIN)
        .await
        .expect("my standing, counted");
    let (again, ranked) = hot
        .my_standing(CAMPAIGN, SHARDS, participant, boards, i64::MAX)
        .await
        .expect("my standing, ZRANK first");
    assert_eq!(standing, again, "participant {participant}");
    assert_eq!(
        counted, ranked,
        "participant {participant}: counted at once and ZRANK first agree"
    );
    (standing, counted)
}
