//! `rank.lua` and the board reads: ranks and top lists merged over shards follow the published
//! order, ties included.

use safequiz_domain::board::{BoardMember, BoardScore, Placing};
use safequiz_redis::attempts::{Actor, ChoiceArg, ReadOutcome, SubmitOutcome};

use crate::{
    CAMPAIGN, DAY, GRACE_MS, LIMIT_MS, PATH, SHARDS, T0, actor, choice, five_questions, hot_state,
    new_attempt, start_new,
};

/// Another branch of the unit tree.
const OTHER_PATH: [&str; 2] = ["130000", "130102"];

fn all_right() -> Vec<(u32, ChoiceArg)> {
    ["B", "AC", "T", "D", "F"]
        .iter()
        .enumerate()
        .map(|(index, keys)| (index as u32, choice(keys)))
        .collect()
}

/// One attempt of `me` started at `started`: `right` of the five answers right, then a submit
/// at `started + after_ms`, or left to run out when `after_ms` is `None`.
async fn play(
    hot: &safequiz_redis::HotState,
    me: &Actor<'_>,
    started: i64,
    right: usize,
    after_ms: Option<i64>,
) {
    start_new(hot, me, 1, &new_attempt(DAY, started, &five_questions())).await;
    let answers: Vec<_> = all_right().into_iter().take(right).collect();
    match after_ms {
        Some(after) => {
            let outcome = hot
                .submit(me, 1, &answers, started + after)
                .await
                .expect("submit");
            assert!(matches!(outcome, SubmitOutcome::Final(_)), "{outcome:?}");
        }
        None => {
            for (index, choice) in answers {
                hot.save(me, 1, index, choice, started + 1_000)
                    .await
                    .expect("save");
            }
            let outcome = hot
                .read(me, 1, started + LIMIT_MS + GRACE_MS + 1)
                .await
                .expect("read");
            assert!(matches!(outcome, ReadOutcome::Final(_)), "{outcome:?}");
        }
    }
}

#[tokio::test]
async fn ranks_and_top_lists_follow_the_published_order_over_all_shards() {
    let (_redis, hot) = hot_state();
    let other = |participant| Actor {
        path: &OTHER_PATH,
        ..actor(participant)
    };
    // Ids 1 to 6 fall in shards 1, 2, 3, 0, 1, 2.
    play(&hot, &actor(1), T0, 5, Some(60_000)).await;
    play(&hot, &actor(2), T0 + 5_000, 5, Some(60_000)).await; // Same score, later finish.
    play(&hot, &actor(3), T0, 5, Some(30_000)).await; // Less time.
    play(&hot, &other(4), T0, 3, Some(10_000)).await; // Fewer points.
    play(&hot, &other(5), T0, 2, None).await; // Ran out of time.
    play(&hot, &actor(6), T0, 5, Some(60_000)).await; // Ties with 1 but for the id.
    let published = [3, 1, 6, 2, 4, 5];
    crate::catch_up_boards(&hot, CAMPAIGN, SHARDS).await;

    let top = hot
        .top_participants(CAMPAIGN, SHARDS, None, 100)
        .await
        .expect("ZRANGE");
    let top_three = hot
        .top_participants(CAMPAIGN, SHARDS, None, 3)
        .await
        .expect("ZRANGE");
    let unit_board = hot
        .top_participants(CAMPAIGN, SHARDS, Some(PATH[0]), 100)
        .await
        .expect("ZRANGE");

    let order: Vec<u64> = top.iter().map(|entry| entry.participant).collect();
    assert_eq!(order, published);
    let placings: Vec<Placing> = top
        .iter()
        .map(|entry| Placing {
            score: BoardScore {
                points: entry.points,
                time_used_ms: entry.time_used_ms,
            },
            member: BoardMember {
                last_finished_ms: entry.last_finished_ms,
                participant: entry.participant,
            },
        })
        .collect();
    assert!(
        placings.is_sorted(),
        "the board reads back in the domain's order"
    );
    assert_eq!(
        (top[0].points, top[0].time_used_ms, top[0].last_finished_ms),
        (5, 30_000, T0 + 30_000)
    );
    assert_eq!(
        (top[5].points, top[5].time_used_ms, top[5].last_finished_ms),
        (2, LIMIT_MS, T0 + LIMIT_MS)
    );
    let top_three: Vec<u64> = top_three.iter().map(|entry| entry.participant).collect();
    assert_eq!(top_three, published[..3]);
    let unit_order: Vec<u64> = unit_board.iter().map(|entry| entry.participant).collect();
    assert_eq!(
        unit_order,
        [3, 1, 6, 2],
        "a unit's board holds its subtree only"
    );

    for (place, participant) in published.iter().enumerate() {
        let standing = hot
            .standing(CAMPAIGN, SHARDS, *participant)
            .await
            .expect("standing");
        let own_unit = if *participant == 4 || *participant == 5 {
            OTHER_PATH[1]
        } else {
            PATH[1]
        };
        let ranks = hot
            .ranks(CAMPAIGN, *participant, &standing, &[None, Some(own_unit)])
            .await
            .expect("rank script");
        let in_unit = match participant {
            4 => 1,
            5 => 2,
            _ => place as u64 + 1,
        };
        assert_eq!(
            ranks,
            vec![place as u64 + 1, in_unit],
            "participant {participant}"
        );
    }
}
