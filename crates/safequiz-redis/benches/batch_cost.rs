//! What group commit saves Redis: the Redis CPU of whole attempts (start, 5 saves, submit) sent
//! one at a time and 32 at a time through the same `HotState`, against an otherwise idle
//! redis-server (AOF on, from `safequiz-testkit`).
//!
//! `cargo bench -p safequiz-redis --bench batch_cost` prints, per run, Redis's CPU per start, save,
//! submit and attempt (`/proc`), the part spent inside scripts (`INFO commandstats`), and the
//! board writer's passes over the attempts' entries afterwards, per attempt. The
//! runs alternate, alone and batched, twice; compare within one invocation. The ceiling run of
//! the load kit (`loadtest/run`) measures the same code under load (docs/performance.md, "Group
//! commit").

use futures_util::future::join_all;
use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_domain::board::IndividualBoards;
use safequiz_domain::draw::OptionOrder;
use safequiz_redis::attempts::{Actor, ChoiceArg, NewAttempt};
use safequiz_redis::keys::Shard;
use safequiz_redis::{HotState, RedisSettings};
use safequiz_testkit::RedisServer;
use secrecy::SecretString;

/// Participants per run.
const PEOPLE: u64 = 20_000;
/// The campaign's hot shards.
const SHARDS: u16 = 4;
/// Operations sent at once in a batched run.
const BATCH: usize = 32;
/// An instant during a campaign (2026-06-09), ms, and its day number.
const T0: i64 = 1_781_000_000_000;
const DAY: i32 = 20_613;
/// A unit path from a region down to a county.
const PATH: &[&str] = &["110000", "110101"];

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(measure());
}

async fn measure() {
    let redis = RedisServer::start();
    let hot = &HotState::connect(&RedisSettings {
        url: SecretString::from(redis.url()),
        cluster: false,
        connections: 1,
        wait_secs: 5,
        packed_entries: true,
    })
    .expect("a Redis URL from the testkit parses");
    let mut admin = redis::Client::open(redis.url())
        .expect("a URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the node answers");
    let attempt = five_question_attempt();
    let runs = [
        ("alone", 1),
        ("batched", BATCH),
        ("alone", 1),
        ("batched", BATCH),
    ];
    for (run, (label, batch)) in runs.into_iter().enumerate() {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut admin)
            .await
            .expect("RESETSTAT");
        // A campaign per run, so that every run starts, saves and submits fresh attempts.
        let campaign = format!("cost-{run}");
        let actor = |participant: u64| Actor {
            campaign: &campaign,
            shards: SHARDS,
            participant,
            path: PATH,
            scoring: safequiz_domain::score::Scoring::uniform(1),
        };
        let ids: Vec<u64> = (1..=PEOPLE).collect();
        let cpu = redis_cpu_us(&mut admin).await;
        for chunk in ids.chunks(batch) {
            join_all(chunk.iter().map(|p| {
                let actor = actor(*p);
                let attempt = &attempt;
                async move { hot.start(&actor, 1, attempt).await }
            }))
            .await;
        }
        let starts = redis_cpu_us(&mut admin).await - cpu;
        let cpu = redis_cpu_us(&mut admin).await;
        for index in 0..5 {
            for chunk in ids.chunks(batch) {
                join_all(chunk.iter().map(|p| {
                    let actor = actor(*p);
                    async move { hot.save(&actor, 1, index, choice("B"), T0 + 1_000).await }
                }))
                .await;
            }
        }
        let saves = redis_cpu_us(&mut admin).await - cpu;
        let cpu = redis_cpu_us(&mut admin).await;
        for chunk in ids.chunks(batch) {
            join_all(chunk.iter().map(|p| {
                let actor = actor(*p);
                async move {
                    hot.submit(&actor, 1, &[(1, choice("AC"))], T0 + 2_000)
                        .await
                }
            }))
            .await;
        }
        let submits = redis_cpu_us(&mut admin).await - cpu;
        let inside = script_usec(&mut admin).await;
        // The board writer's passes over the attempt entries the submits appended, as the
        // service's writer makes them (`workers::boards`: up to 500 entries a pass).
        let cpu = redis_cpu_us(&mut admin).await;
        let own = own_cpu_us();
        for shard in Shard::all(SHARDS) {
            loop {
                let pass = hot
                    .write_boards(
                        &campaign,
                        IndividualBoards::EVERY_LEVEL,
                        shard,
                        "bench",
                        500,
                        5_000,
                    )
                    .await
                    .expect("a board pass");
                if pass.entries == 0 {
                    break;
                }
            }
        }
        let writer = own_cpu_us() - own;
        let boards = redis_cpu_us(&mut admin).await - cpu;
        let people = PEOPLE as f64;
        println!(
            "{label:8} batch {batch:3}: start {:6.1} µs, save {:6.1} µs, submit {:6.1} µs, \
             attempt {:6.1} µs; in scripts {:6.1} µs/attempt; board writer {:5.1} µs/attempt \
             (the writer's own process {:5.1})",
            starts as f64 / people,
            saves as f64 / (5.0 * people),
            submits as f64 / people,
            (starts + saves + submits) as f64 / people,
            inside / people,
            boards as f64 / people,
            writer as f64 / people,
        );
    }
}

/// Five questions of every kind, shuffled, as the start handler encodes them.
fn five_question_attempt() -> NewAttempt {
    use QuestionKind::{Multiple, Single, TrueFalse};
    let deadline = T0 + 150_000;
    let mut attempt = NewAttempt::new(DAY, T0, deadline, deadline + 10_000);
    let questions: [(&str, QuestionKind, &[u8], &str); 5] = [
        ("s-001", Single, &[2, 0, 3, 1], "B"),
        ("m-002", Multiple, &[4, 1, 0, 3, 2], "AC"),
        ("t-003", TrueFalse, &[0, 1], "T"),
        ("s-004", Single, &[0, 1, 2, 3], "D"),
        ("t-005", TrueFalse, &[0, 1], "F"),
    ];
    for (id, kind, order, keys) in questions {
        let key = Choices::parse_keys(keys, kind, order.len()).expect("valid keys");
        let order = OptionOrder::from_slice(order).expect("a permutation");
        attempt.push(id, kind, order, key);
    }
    attempt
}

/// The choice argument for option keys such as `"AC"` or `"T"`.
fn choice(keys: &str) -> ChoiceArg {
    let keys: Vec<String> = keys.chars().map(String::from).collect();
    ChoiceArg::parse(keys.iter().map(String::as_str)).expect("no key repeats")
}

/// redis-server's CPU time so far (user + system), µs, from `/proc`.
async fn redis_cpu_us(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(admin)
        .await
        .expect("INFO");
    let pid = info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .expect("a pid")
        .trim()
        .to_owned();
    process_cpu_us(&pid)
}

/// This process's CPU time so far (user + system), µs: the client's side of the board writer.
fn own_cpu_us() -> u64 {
    process_cpu_us("self")
}

/// A process's CPU time so far (user + system), µs, from `/proc/<pid>/stat`.
fn process_cpu_us(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks * 10_000
}

/// µs spent inside script calls (`EVALSHA` and `EVAL`) since the last reset.
async fn script_usec(admin: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(admin)
        .await
        .expect("INFO");
    info.lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            let usec = line.split_once(",usec=")?.1;
            usec.split(',').next()?.parse::<f64>().ok()
        })
        .sum()
}
