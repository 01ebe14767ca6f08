//! The cheap reads of issue 22 against the computations they replace: `my_standing` (the
//! participant's hash, then one `ZRANK` per board) equals `standing` plus the per-board
//! `rank.lua` ranks and the domain's order counted by brute force, both before the board writer
//! has run (every rank counted against the new score) and after; `top_participants` (one
//! `ZRANGE`, then the names per shard) equals the domain's order with each participant's own
//! name and unit. On generated plays heavy in ties (so `rank.lua`'s binary search over a tie
//! runs), on one node and on a Redis Cluster.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use safequiz_domain::board::{BoardMember, BoardScore, Placing};
use safequiz_redis::HotState;
use safequiz_redis::attempts::{Actor, ReadOutcome, SubmitOutcome};
use safequiz_redis::participants::{RegisterOutcome, Registration};
use safequiz_testkit::{RedisCluster, RedisServer};

use crate::{
    CAMPAIGN, DAY, GRACE_MS, LIMIT_MS, PATH, SHARDS, T0, choice, five_questions, hot_on,
    new_attempt, start_new,
};

/// Another branch of the unit tree.
const OTHER_PATH: [&str; 2] = ["130000", "130102"];

/// Participants generated.
const PEOPLE: u32 = 400;

/// One generated participant after their play.
struct Played {
    id: u64,
    name: String,
    path: &'static [&'static str; 2],
    /// Their place, once they have a final attempt.
    placing: Option<Placing>,
}

/// A keyed phone hash from a number, spread over the shards.
fn phone_hash(n: u32) -> [u8; 16] {
    let mut hash = [0u8; 16];
    // The high bits folded down, so the shard (the low bits) does not follow n's own.
    let mixed = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    hash[..8].copy_from_slice(&(mixed ^ (mixed >> 29)).to_be_bytes());
    hash[8..12].copy_from_slice(&n.to_be_bytes());
    hash
}

/// Registers and plays `PEOPLE` participants: three in four get the same points and time (about
/// 75 tied per shard, more than the script's short scan and its last window together, so its
/// binary search runs), one in eight a short tie of their own, pairs share the finish instant
/// (ties broken by id), some run out of time, and every 17th never plays.
async fn play_all(hot: &HotState) -> Vec<Played> {
    let keys = ["B", "AC", "T", "D", "F"];
    let mut rng = StdRng::seed_from_u64(22);
    let mut played = Vec::new();
    for n in 0..PEOPLE {
        let path = if n % 3 == 0 { &OTHER_PATH } else { &PATH };
        let name = format!("参赛者{n}");
        let outcome = hot
            .register(&Registration {
                campaign: CAMPAIGN,
                shards: SHARDS,
                phone_hash: &phone_hash(n),
                name: &name,
                phone_masked: "138****5678",
                unit: path[1],
                now_ms: T0,
            })
            .await
            .expect("Redis runs the register script");
        let RegisterOutcome::Created { participant, .. } = outcome else {
            panic!("a new phone creates a participant, got {outcome:?}");
        };
        let mut me = Played {
            id: participant,
            name,
            path,
            placing: None,
        };
        if n % 17 == 0 {
            played.push(me);
            continue;
        }
        let actor = Actor {
            campaign: CAMPAIGN,
            shards: SHARDS,
            participant,
            path,
            scoring: safequiz_domain::score::Scoring::uniform(1),
        };
        let started = T0 + i64::from(n / 2) * 1_000;
        let (right, after) = if n % 4 != 0 {
            (5, Some(60_000))
        } else if n % 8 == 0 {
            // A short tie: about 12 per shard.
            (3, Some(77_000))
        } else {
            let after = rng
                .random_bool(0.7)
                .then(|| rng.random_range(5..140) * 1_000);
            (rng.random_range(0..=5usize), after)
        };
        start_new(
            hot,
            &actor,
            1,
            &new_attempt(DAY, started, &five_questions()),
        )
        .await;
        let answers: Vec<_> = keys
            .iter()
            .take(right)
            .enumerate()
            .map(|(index, keys)| (index as u32, choice(keys)))
            .collect();
        let (time_used_ms, finished_ms) = match after {
            Some(after) => {
                let outcome = hot
                    .submit(&actor, 1, &answers, started + after)
                    .await
                    .expect("submit");
                assert!(matches!(outcome, SubmitOutcome::Final(_)), "{outcome:?}");
                (after, started + after)
            }
            None => {
                for (index, choice) in answers {
                    hot.save(&actor, 1, index, choice, started + 1_000)
                        .await
                        .expect("save");
                }
                let outcome = hot
                    .read(&actor, 1, started + LIMIT_MS + GRACE_MS + 1)
                    .await
                    .expect("read");
                assert!(matches!(outcome, ReadOutcome::Final(_)), "{outcome:?}");
                (LIMIT_MS, started + LIMIT_MS)
            }
        };
        me.placing = Some(Placing {
            score: BoardScore {
                points: right as i64,
                time_used_ms,
            },
            member: BoardMember {
                last_finished_ms: finished_ms,
                participant,
            },
        });
        played.push(me);
    }
    played
}

/// Everyone's standing and ranks by `my_standing`, checked against the reference and the
/// domain; the top lists checked against the domain. Returns what it read, to compare topologies.
async fn check_reads(hot: &HotState) -> Vec<(u64, Vec<u64>)> {
    let played = play_all(hot).await;
    // Before the board writer's pass every board is empty: each participant is counted, by
    // their new score, against nobody.
    let before_writer = check_standings(hot, &played, false).await;
    assert!(
        before_writer
            .iter()
            .all(|(_, ranks)| ranks.iter().all(|r| *r == 1))
    );
    crate::catch_up_boards(hot, CAMPAIGN, SHARDS).await;
    let read = check_standings(hot, &played, true).await;
    check_tops(hot, &played).await;
    check_counts_behind_the_writer(hot, &played).await;
    read
}

/// One more final attempt for `me`: `right` answers right, submitted `after` ms after
/// `started`, as their attempt `number`, on `day`.
async fn play_again(
    hot: &HotState,
    me: &Played,
    number: u32,
    day: i32,
    started: i64,
    right: usize,
    after: i64,
) {
    let actor = Actor {
        campaign: CAMPAIGN,
        shards: SHARDS,
        participant: me.id,
        path: me.path,
        scoring: safequiz_domain::score::Scoring::uniform(1),
    };
    start_new(
        hot,
        &actor,
        1,
        &new_attempt(day, started, &five_questions()),
    )
    .await;
    let answers: Vec<_> = ["B", "AC", "T", "D", "F"]
        .iter()
        .take(right)
        .enumerate()
        .map(|(index, keys)| (index as u32, choice(keys)))
        .collect();
    let outcome = hot
        .submit(&actor, number, &answers, started + after)
        .await
        .expect("submit");
    assert!(matches!(outcome, SubmitOutcome::Final(_)), "{outcome:?}");
}

/// Right after a submit, before the writer's pass, `my_standing` counts the new score on boards
/// that hold everyone else: its ranks must be those the boards give once the writer has passed.
/// One case per way of counting: the newest member of a tie of hundreds (read from the end),
/// the oldest member of that tie (past the ties read: `rank.lua`), a short tie, an attempt that
/// adds no points (the boards still hold the member of the attempt before, which sorts before
/// the new one and must not be counted), and one that moves ahead of everyone.
async fn check_counts_behind_the_writer(hot: &HotState, played: &[Played]) {
    let idle: Vec<&Played> = played.iter().filter(|p| p.placing.is_none()).collect();
    let in_the_big_tie: Vec<&Played> = played
        .iter()
        .filter(|p| {
            p.placing.is_some_and(|placing| {
                placing.score.points == 5 && placing.score.time_used_ms == 60_000
            })
        })
        .collect();
    let late = T0 + 3 * crate::DAY_MS;
    let cases: [(&str, &Played, u32, i32, i64, usize, i64); 5] = [
        ("newest of a large tie", idle[0], 1, DAY, late, 5, 60_000),
        (
            "oldest of a large tie",
            idle[1],
            1,
            DAY,
            T0 - 600_000,
            5,
            60_000,
        ),
        ("a short tie", idle[2], 1, DAY, late + 1_000, 3, 77_000),
        (
            "no points added",
            in_the_big_tie[0],
            2,
            DAY + 1,
            late + 2_000,
            0,
            30_000,
        ),
        (
            "ahead of everyone",
            in_the_big_tie[1],
            2,
            DAY + 1,
            late + 3_000,
            5,
            20_000,
        ),
    ];
    for (case, me, number, day, started, right, after) in cases {
        play_again(hot, me, number, day, started, right, after).await;
        let boards: Vec<Option<&str>> = std::iter::once(None)
            .chain(me.path.iter().copied().map(Some))
            .collect();
        let (_, counted) = crate::my_standing(hot, me.id, &boards).await;
        crate::catch_up_boards(hot, CAMPAIGN, SHARDS).await;
        let (_, ranked) = crate::my_standing(hot, me.id, &boards).await;
        assert_eq!(
            counted, ranked,
            "{case}: counted before the writer, ranked after"
        );
    }
}

/// Everyone's standing and ranks by `my_standing`, against the reference and, once the boards
/// are `caught_up`, the domain.
async fn check_standings(
    hot: &HotState,
    played: &[Played],
    caught_up: bool,
) -> Vec<(u64, Vec<u64>)> {
    let on = |board: Option<&str>, other: &Played| board.is_none_or(|u| other.path.contains(&u));
    let mut read = Vec::new();
    for me in played {
        let boards: Vec<Option<&str>> = std::iter::once(None)
            .chain(me.path.iter().copied().map(Some))
            .collect();
        let (standing, ranks) = crate::my_standing(hot, me.id, &boards).await;
        let reference = hot.standing(CAMPAIGN, SHARDS, me.id).await.expect("HMGET");
        assert_eq!(standing, reference, "participant {}", me.id);
        let Some(placing) = me.placing else {
            assert_eq!(standing.attempts, 0);
            assert!(ranks.is_empty(), "no rank before a final attempt");
            continue;
        };
        let per_board = hot
            .ranks(CAMPAIGN, me.id, &reference, &boards)
            .await
            .expect("rank script");
        assert_eq!(
            ranks, per_board,
            "participant {}: the per-board ranks",
            me.id
        );
        let counted: Vec<u64> = boards
            .iter()
            .map(|board| {
                played
                    .iter()
                    .filter(|other| on(*board, other))
                    .filter_map(|other| other.placing)
                    .filter(|other| *other < placing)
                    .count() as u64
                    + 1
            })
            .collect();
        if caught_up {
            assert_eq!(ranks, counted, "participant {}: the domain's order", me.id);
        }
        read.push((me.id, ranks));
    }
    read
}

/// The top lists against the domain's order, names and units included.
async fn check_tops(hot: &HotState, played: &[Played]) {
    let on = |board: Option<&str>, other: &Played| board.is_none_or(|u| other.path.contains(&u));
    for (board, limit) in [
        (None, 100),
        (None, 7),
        (Some(PATH[1]), 30),
        (Some(OTHER_PATH[0]), 1),
    ] {
        let mut expected: Vec<(Placing, &Played)> = played
            .iter()
            .filter(|other| on(board, other))
            .filter_map(|other| Some((other.placing?, other)))
            .collect();
        expected.sort_by_key(|(placing, _)| *placing);
        expected.truncate(limit);
        let top = hot
            .top_participants(CAMPAIGN, SHARDS, board, limit)
            .await
            .expect("top script");
        let got: Vec<(u64, i64, i64, i64, &str, &str)> = top
            .iter()
            .map(|e| {
                let row = (e.participant, e.points, e.time_used_ms, e.last_finished_ms);
                (row.0, row.1, row.2, row.3, e.name.as_str(), e.unit.as_str())
            })
            .collect();
        let want: Vec<(u64, i64, i64, i64, &str, &str)> = expected
            .iter()
            .map(|(placing, who)| {
                (
                    who.id,
                    placing.score.points,
                    placing.score.time_used_ms,
                    placing.member.last_finished_ms,
                    who.name.as_str(),
                    who.path[1],
                )
            })
            .collect();
        assert_eq!(got, want, "board {board:?}, limit {limit}");
    }
}

#[tokio::test]
async fn my_standing_and_top_lists_equal_the_per_board_reads_and_the_domain_on_both_topologies() {
    let single = RedisServer::start();
    let cluster = RedisCluster::start();
    let on_one_node = check_reads(&hot_on(&single.url(), false)).await;
    let on_a_cluster = check_reads(&hot_on(&cluster.seed_urls(), true)).await;
    assert_eq!(on_a_cluster, on_one_node);
    assert!(on_one_node.len() > 350, "{} ranked", on_one_node.len());
}
