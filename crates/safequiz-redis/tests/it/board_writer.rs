//! The board writer (`board_writer`): it applies each shard's stream to the individual boards in
//! order, a replay of entries already applied changes nothing, one writer at a time holds a
//! shard until its lease ends, the stream keeps every entry it has not applied, and an entry
//! without board fields is counted and passed; and `my_standing` against boards the writer has
//! not yet brought up to date (plain counts, and `rank.lua` for a tie on the score).

use std::time::Duration;

use safequiz_domain::board::{BoardMember, BoardScore, IndividualBoards, Placing};

const EVERY_LEVEL: IndividualBoards = IndividualBoards::EVERY_LEVEL;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_redis::HotState;
use safequiz_redis::attempts::{ReadOutcome, SubmitOutcome};
use safequiz_redis::keys::{self, Shard, ShardKeys};
use safequiz_redis::streams::{PACKED_NAMES, decode};
use safequiz_testkit::RedisServer;
use safequiz_testkit::eventually;

use crate::{
    CAMPAIGN, DAY, DAY_MS, GRACE_MS, LIMIT_MS, PATH, SHARDS, T0, actor, catch_up_boards, choice,
    five_questions, handle, hot_state, new_attempt, raw, start_new,
};

/// Every board the test campaign's participants are on, member and score, best first.
async fn boards(connection: &mut redis::aio::MultiplexedConnection) -> Vec<Vec<(String, i64)>> {
    let mut read = Vec::new();
    for board in [None, Some(PATH[0]), Some(PATH[1])] {
        let rows: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(keys::board(CAMPAIGN, board))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(connection)
            .await
            .expect("ZRANGE");
        read.push(rows.into_iter().map(|(m, s)| (m, s as i64)).collect());
    }
    read
}

/// Participant `participant` plays one attempt on day `day` (0 or 1) with `right` right
/// answers, submitted after `after_ms`.
async fn play(hot: &HotState, participant: u64, day: i64, right: usize, after_ms: i64) {
    let me = actor(participant);
    let started = T0 + day * DAY_MS;
    start_new(
        hot,
        &me,
        1,
        &new_attempt(DAY + day as i32, started, &five_questions()),
    )
    .await;
    let answers: Vec<_> = ["B", "AC", "T", "D", "F"]
        .iter()
        .take(right)
        .enumerate()
        .map(|(index, keys)| (index as u32, choice(keys)))
        .collect();
    let outcome = hot
        .submit(&me, 1 + day as u32, &answers, started + after_ms)
        .await
        .expect("submit");
    assert!(matches!(outcome, SubmitOutcome::Final(_)), "{outcome:?}");
}

/// Participant `participant` starts an attempt on day `day`, answers `right` questions right,
/// and lets the time run out: finalized by a late read, so it counts the whole time limit.
async fn run_out(hot: &HotState, participant: u64, day: i64, right: usize, number: u32) {
    let me = actor(participant);
    let started = T0 + day * DAY_MS;
    start_new(
        hot,
        &me,
        1,
        &new_attempt(DAY + day as i32, started, &five_questions()),
    )
    .await;
    for (index, keys) in ["B", "AC", "T", "D", "F"].iter().take(right).enumerate() {
        hot.save(&me, number, index as u32, choice(keys), started + 1_000)
            .await
            .expect("save");
    }
    let outcome = hot
        .read(&me, number, started + LIMIT_MS + GRACE_MS + 1)
        .await
        .expect("read");
    assert!(matches!(outcome, ReadOutcome::Final(_)), "{outcome:?}");
}

#[tokio::test]
async fn my_standing_counts_a_new_score_against_boards_not_yet_updated() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    // Day 0: 1-3 finish in time, 4 and 5 run out of time with 2 points (a tie on the score).
    for participant in 1..=3 {
        play(&hot, participant, 0, participant as usize, 20_000).await;
    }
    run_out(&hot, 4, 0, 2, 1).await;
    run_out(&hot, 5, 0, 2, 1).await;
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    // Day 1, not yet on the boards: 1 and 2 play again; 6 runs out of time with 2 points, the
    // score 4 and 5 hold, so only the member orders them.
    play(&hot, 1, 1, 5, 10_000).await;
    play(&hot, 2, 1, 0, 50_000).await;
    run_out(&hot, 6, 1, 2, 1).await;

    let board_keys = [None, Some(PATH[0]), Some(PATH[1])];
    for participant in [1, 2, 6] {
        let standing = hot
            .standing(CAMPAIGN, SHARDS, participant)
            .await
            .expect("standing");
        let mine = Placing {
            score: BoardScore {
                points: standing.points,
                time_used_ms: standing.time_used_ms,
            },
            member: BoardMember {
                last_finished_ms: standing.last_finished_ms,
                participant,
            },
        };
        // Counted against the boards as they are: everyone else's applied entries, never the
        // participant's own previous one, which the writer's pass replaces (participant 2's
        // attempt added no points, so that one sorts before the new score).
        let mut expected = Vec::new();
        for board in boards(&mut connection).await {
            let before = board
                .iter()
                .filter(|(member, score)| {
                    let other = Placing {
                        score: BoardScore::from_redis_score(*score),
                        member: BoardMember::parse(member).expect("a member"),
                    };
                    other.member.participant != participant && other < mine
                })
                .count() as u64;
            expected.push(before + 1);
        }
        let (_, ranks) = crate::my_standing(&hot, participant, &board_keys).await;
        assert_eq!(ranks, expected, "participant {participant}");
    }
    // Once the writer has passed, ranks are the domain's: 1 (6 points in 30 s) first.
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    let (_, ranks) = crate::my_standing(&hot, 1, &board_keys).await;
    assert_eq!(ranks, vec![1; 3]);
    let (_, ranks) = crate::my_standing(&hot, 6, &board_keys).await;
    // 6 ties 4 and 5 on the score and finished a day later: after 1, 3, 2 (2 points in 70 s),
    // 4 and 5.
    assert_eq!(ranks, vec![6; 3]);
}

#[tokio::test]
async fn the_boards_hold_each_participants_latest_totals_and_a_replay_changes_nothing() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    for participant in 1..=3 {
        play(&hot, participant, 0, participant as usize, 20_000).await;
    }
    // A first pass applies day 0; day 1's attempts then move each member.
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    for participant in 1..=3 {
        play(&hot, participant, 1, 5 - participant as usize, 10_000).await;
    }
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    let applied = boards(&mut connection).await;
    for board in &applied {
        assert_eq!(board.len(), 3, "one member per participant: {board:?}");
    }
    // Totals after both days: 1+4, 2+3 and 3+2 points; 30 s each; the later finish breaks the
    // tie, and participants 1-3 finished day 1 at the same instant, so the id decides.
    let order: Vec<u64> = applied[0]
        .iter()
        .map(|(member, _)| member[13..].parse().expect("an id"))
        .collect();
    assert_eq!(order, [1, 2, 3]);
    for (member, score) in &applied[0] {
        assert_eq!(*score, 30_000 - 5 * 10_000_000_000, "{member}");
        assert!(member.starts_with(&format!("{:013}", T0 + DAY_MS + 10_000)));
    }

    let units = [WHOLE_CAMPAIGN, PATH[0], PATH[1]];
    let totals = hot
        .unit_totals(CAMPAIGN, SHARDS, &units)
        .await
        .expect("totals");
    assert_eq!(
        (totals[0].attempts, totals[0].participants, totals[0].points),
        (6, 3, 15)
    );
    assert_eq!(totals[2], totals[0], "one county holds everyone");

    // A writer that died before moving its cursors: everything is applied again, in order, and
    // the totals, applied in the same script as their marker, are not added twice.
    for shard in Shard::all(SHARDS) {
        let _: () = redis::cmd("DEL")
            .arg(ShardKeys::new(CAMPAIGN, shard).board_cursor())
            .query_async(&mut connection)
            .await
            .expect("DEL");
    }
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    assert_eq!(boards(&mut connection).await, applied);
    let again = hot
        .unit_totals(CAMPAIGN, SHARDS, &units)
        .await
        .expect("totals");
    assert_eq!(again, totals);
}

#[tokio::test]
async fn one_writer_holds_a_shard_until_its_lease_ends() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    // Participant 1 is in shard 1.
    let shard = Shard::of_participant(1, SHARDS);
    let first = hot
        .write_boards(CAMPAIGN, EVERY_LEVEL, shard, "a", 100, 300)
        .await
        .expect("pass");
    assert!(first.holder, "a free shard goes to the first writer");
    play(&hot, 1, 0, 5, 20_000).await;

    let refused = hot
        .write_boards(CAMPAIGN, EVERY_LEVEL, shard, "b", 100, 300)
        .await
        .expect("pass");
    assert_eq!(
        refused.entries, 0,
        "another writer holds the shard: {refused:?}"
    );
    assert!(!refused.holder);
    assert!(boards(&mut connection).await[0].is_empty());

    // Writer a never comes back: b takes the shard once a's lease ends, and applies the entry.
    let taken = eventually("b holds the shard", Duration::from_secs(5), || async {
        let pass = hot
            .write_boards(CAMPAIGN, EVERY_LEVEL, shard, "b", 100, 300)
            .await
            .expect("pass");
        pass.holder.then_some(pass)
    })
    .await;
    assert_eq!((taken.entries, taken.applied), (1, 1), "{taken:?}");
    assert_eq!(boards(&mut connection).await[0].len(), 1);
}

#[tokio::test]
async fn the_stream_keeps_every_entry_the_board_writer_has_not_applied() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    let shard = Shard::of_participant(1, SHARDS);
    play(&hot, 1, 0, 5, 20_000).await;
    play(&hot, 1, 1, 3, 20_000).await;
    // The flusher has written both entries and moved its cursor past them.
    let cursor = hot
        .flush_hold(CAMPAIGN, shard, "flusher", 30_000)
        .await
        .expect("lease")
        .expect("the shard is free");
    let entries = hot
        .flush_read(CAMPAIGN, shard, &cursor, 10)
        .await
        .expect("XRANGE");
    assert_eq!(entries.len(), 2);
    assert!(
        hot.flush_move(CAMPAIGN, shard, "flusher", &entries[1].id)
            .await
            .expect("move")
    );

    assert_eq!(hot.trim_flushed(CAMPAIGN, shard).await.expect("trim"), 0);
    catch_up_boards(&hot, CAMPAIGN, SHARDS).await;
    // Trimming keeps the entry at the cursor and deletes what is before it.
    assert_eq!(hot.trim_flushed(CAMPAIGN, shard).await.expect("trim"), 1);
    let left: u64 = redis::cmd("XLEN")
        .arg(ShardKeys::new(CAMPAIGN, shard).stream())
        .query_async(&mut connection)
        .await
        .expect("XLEN");
    assert_eq!(left, 1);
}

#[tokio::test]
async fn an_entry_without_board_fields_is_counted_and_passed() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    let shard = Shard(0);
    let stream = ShardKeys::new(CAMPAIGN, shard).stream();
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg(&["type", "attempt", "attempt", "4-1", "participant", "4"])
        .query_async(&mut connection)
        .await
        .expect("XADD");
    let pass = hot
        .write_boards(CAMPAIGN, EVERY_LEVEL, shard, "a", 100, 1_000)
        .await
        .expect("pass");
    assert_eq!((pass.entries, pass.applied, pass.skipped), (1, 0, 1));
    let again = hot
        .write_boards(CAMPAIGN, EVERY_LEVEL, shard, "a", 100, 1_000)
        .await
        .expect("pass");
    assert_eq!(again.entries, 0, "the cursor moved past it");
}

#[tokio::test]
async fn attempt_entries_of_every_format_are_applied_alike() {
    // The same attempts into three Redis: as this version writes them (one packed field); with
    // `packed_entries` off (named fields, `values` packed: the release before); and each value as
    // a field of its own (the releases before that), copied from the first.
    let (redis, hot) = hot_state();
    let named_redis = RedisServer::start();
    let named_hot = handle(&named_redis.url(), false, false);
    let (old_redis, old_hot) = hot_state();
    let mut connection = raw(&redis).await;
    let mut named_connection = raw(&named_redis).await;
    let mut old_connection = raw(&old_redis).await;
    for hot in [&hot, &named_hot] {
        play(hot, 1, 0, 3, 20_000).await;
        play(hot, 1, 1, 5, 10_000).await;
        play(hot, 2, 0, 4, 30_000).await;
    }
    let mut copied = 0;
    for shard in Shard::all(SHARDS) {
        let packed = hot.stream_entries(CAMPAIGN, shard).await.expect("XRANGE");
        let named = named_hot
            .stream_entries(CAMPAIGN, shard)
            .await
            .expect("XRANGE");
        assert_eq!(packed.len(), named.len());
        for (packed, named) in packed.into_iter().zip(named) {
            assert_eq!(packed.fields.len(), 1, "one field: {packed:?}");
            assert_eq!(named.get("type"), Some("attempt"), "{named:?}");
            assert_eq!(named.fields.len(), 7, "{named:?}");
            assert_eq!(decode(&packed), decode(&named));
            let mut oldest: Vec<String> = ["type", "attempt"].map(str::to_owned).to_vec();
            for name in ["attempt", "questions", "key", "answers", "path"] {
                let value = packed.get(name).expect("every part");
                oldest.extend([name.to_owned(), value.to_owned()]);
            }
            let attempt = packed.get("attempt").expect("an id");
            let participant = attempt.split('-').next().expect("an id");
            oldest.extend(["participant".to_owned(), participant.to_owned()]);
            let values: Vec<&str> = packed.get("values").expect("values").split(',').collect();
            assert_eq!(values.len(), PACKED_NAMES.len(), "{values:?}");
            for (name, value) in PACKED_NAMES.iter().zip(values) {
                if !value.is_empty() {
                    oldest.extend([(*name).to_owned(), value.to_owned()]);
                }
            }
            copied += 1;
            let _: String = redis::cmd("XADD")
                .arg(ShardKeys::new(CAMPAIGN, shard).stream())
                .arg("*")
                .arg(&oldest)
                .query_async(&mut old_connection)
                .await
                .expect("XADD");
        }
    }
    assert_eq!(copied, 3, "every attempt has its entry");

    for hot in [&hot, &named_hot, &old_hot] {
        catch_up_boards(hot, CAMPAIGN, SHARDS).await;
    }
    let boards_now = boards(&mut connection).await;
    assert_eq!(boards_now[0].len(), 2, "{boards_now:?}");
    assert_eq!(boards(&mut named_connection).await, boards_now);
    assert_eq!(boards(&mut old_connection).await, boards_now);
    let units = [WHOLE_CAMPAIGN, PATH[0], PATH[1]];
    let totals = hot
        .unit_totals(CAMPAIGN, SHARDS, &units)
        .await
        .expect("totals");
    assert_eq!(totals[0].attempts, 3, "{totals:?}");
    for other in [&named_hot, &old_hot] {
        assert_eq!(
            other
                .unit_totals(CAMPAIGN, SHARDS, &units)
                .await
                .expect("totals"),
            totals
        );
    }
}

#[tokio::test]
async fn a_campaign_that_keeps_fewer_levels_gets_no_board_below_them() {
    let (redis, hot) = hot_state();
    let mut connection = raw(&redis).await;
    for participant in 1..=3 {
        play(&hot, participant, 0, participant as usize, 20_000).await;
    }
    for shard in Shard::all(SHARDS) {
        let pass = hot
            .write_boards(
                CAMPAIGN,
                IndividualBoards::down_to(1),
                shard,
                "a",
                100,
                1_000,
            )
            .await
            .expect("pass");
        assert!(pass.holder);
    }
    let [campaign, first, second]: [Vec<(String, i64)>; 3] = boards(&mut connection)
        .await
        .try_into()
        .expect("three boards");
    assert_eq!(campaign.len(), 3, "the campaign's board holds everyone");
    assert_eq!(
        first, campaign,
        "the first level's board too, in the same order"
    );
    assert!(
        second.is_empty(),
        "the second level keeps no board: {second:?}"
    );
    let totals = hot
        .unit_totals(CAMPAIGN, SHARDS, &[WHOLE_CAMPAIGN, PATH[0], PATH[1]])
        .await
        .expect("totals");
    assert!(
        totals
            .iter()
            .all(|t| t.participants == 3 && t.attempts == 3),
        "unit totals are kept at every level whatever the boards: {totals:?}"
    );
}

#[tokio::test]
async fn totals_are_applied_only_by_the_lease_holder_from_the_marker_it_read() {
    let (redis, _hot) = hot_state();
    let mut connection = raw(&redis).await;
    let keys = ShardKeys::new(CAMPAIGN, Shard(0));
    let _: () = redis::pipe()
        .set(keys.board_lease(), "a")
        .ignore()
        .set(keys.totals_applied(), "5-0")
        .ignore()
        .query_async(&mut connection)
        .await
        .expect("SET");
    let script = redis::Script::new(include_str!("../../lua/board_apply.lua"));
    let mut apply = async |writer: &str, read: &str, last: &str| -> i64 {
        script
            .key(keys.board_lease())
            .key(keys.totals())
            .key(keys.totals_applied())
            .arg(writer)
            .arg(read)
            .arg(last)
            .arg("*:pa")
            .arg(7)
            .invoke_async(&mut connection)
            .await
            .expect("board_apply.lua")
    };
    assert_eq!(apply("b", "5-0", "6-0").await, 0, "b holds no lease");
    assert_eq!(
        apply("a", "4-0", "6-0").await,
        0,
        "the marker moved since a read it"
    );
    assert_eq!(apply("a", "5-0", "6-0").await, 1);
    let (total, marker): (Option<i64>, String) = redis::pipe()
        .hget(keys.totals(), "*:pa")
        .get(keys.totals_applied())
        .query_async(&mut connection)
        .await
        .expect("HGET");
    assert_eq!((total, marker.as_str()), (Some(7), "6-0"), "applied once");
}
