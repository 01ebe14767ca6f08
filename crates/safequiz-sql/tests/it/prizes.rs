//! The prize tables on SQLite and PostgreSQL: the eligible list read from the totals, a draw
//! stored once and never replaced, and the winners read back for the pages and the export.

use safequiz_domain::prizes::{EligibleList, PrizeWinners, Winner};
use safequiz_domain::score::Counted;
use safequiz_sql::prizes::{DrawRow, RecordDrawError};
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
use safequiz_testkit::{Database, fresh_store, on_both};

fn person(id: i64) -> ParticipantRow {
    ParticipantRow {
        campaign_id: "c1".to_owned(),
        participant_id: id,
        name: format!("选手{id}"),
        phone_masked: "138****0000".to_owned(),
        phone_hash: format!("{id:032x}"),
        unit_id: "110101".to_owned(),
        registered_at_ms: 1_780_000_000_000 + id,
        consent: None,
        phone_sealed: None,
    }
}

fn attempt(participant: i64, number: u32, points: i32, full_marks: bool) -> AttemptRow {
    AttemptRow {
        campaign_id: "c1".to_owned(),
        attempt_id: format!("{participant}-{number}"),
        participant_id: participant,
        unit_id: "110101".to_owned(),
        day: 20_614 + number as i32,
        started_at_ms: 1_780_000_001_000,
        deadline_ms: 1_780_000_151_000,
        finished_at_ms: 1_780_000_061_000 + i64::from(number),
        time_used_ms: 60_000,
        points,
        correct: points,
        auto_submitted: false,
        full_marks,
        questions: r#"[{"chosen":1,"id":"q1","key":1,"order":[0,1,2,3]}]"#.to_owned(),
    }
}

async fn a_draw_is_read_from_the_totals_stored_once_and_read_back(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    store
        .insert_batch(&[
            RecordRow::Participant(person(1)),
            RecordRow::Participant(person(2)),
            RecordRow::Participant(person(3)),
            // 1: two full-marks attempts; 2: one full marks and one not; 3: none.
            RecordRow::Attempt(attempt(1, 1, 5, true)),
            RecordRow::Attempt(attempt(1, 2, 5, true)),
            RecordRow::Attempt(attempt(2, 1, 5, true)),
            RecordRow::Attempt(attempt(2, 2, 3, false)),
        ])
        .await
        .expect("inserted");
    let list = EligibleList::new(
        store
            .eligible_participants("c1", Counted::Sum)
            .await
            .expect("read"),
    )
    .expect("a list");
    let entries: Vec<(u64, i64, bool, i64)> = list
        .entries()
        .iter()
        .map(|e| (e.participant, e.points, e.full_marks, e.last_finished_ms))
        .collect();
    assert_eq!(
        entries,
        [
            (1, 10, true, 1_780_000_061_002),
            (2, 8, false, 1_780_000_061_002)
        ],
        "only those with attempts; full marks means every attempt"
    );

    let drawn = vec![
        PrizeWinners {
            prize: "一".to_owned(),
            winners: vec![Winner {
                participant: 1,
                rank: 1,
                award: "一等奖".to_owned(),
            }],
        },
        PrizeWinners {
            prize: "二".to_owned(),
            winners: vec![Winner {
                participant: 2,
                rank: 2,
                award: "二".to_owned(),
            }],
        },
    ];
    let row = DrawRow {
        campaign_id: "c1".to_owned(),
        seed_from: "公开值".to_owned(),
        list_digest: "ab".repeat(32),
        seed: "cd".repeat(32),
        eligible: 2,
        drawn_at_ms: 1_790_000_000_000,
    };
    store.record_draw(&row, &drawn).await.expect("stored");
    assert_eq!(
        store.prize_draw("c1").await.expect("read"),
        Some(row.clone())
    );
    assert!(matches!(
        store.record_draw(&row, &[]).await,
        Err(RecordDrawError::AlreadyDrawn(_))
    ));
    let winners = store.prize_winners("c1").await.expect("read");
    let read: Vec<(i32, &str, &str, i64, i64, &str)> = winners
        .iter()
        .map(|w| {
            (
                w.prize_index,
                w.prize.as_str(),
                w.award.as_str(),
                w.participant_id,
                w.rank,
                w.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (0, "一", "一等奖", 1, 1, "选手1"),
            (1, "二", "二", 2, 2, "选手2")
        ]
    );
    let mine = store.participant_prizes("c1", 2).await.expect("read");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].award, "二");
    assert!(
        store
            .participant_prizes("c1", 3)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(store.prize_draw("c2").await.expect("read"), None);
}

on_both!(a_draw_is_read_from_the_totals_stored_once_and_read_back);

/// `attempt` with its own time used.
fn timed(participant: i64, number: u32, points: i32, full_marks: bool, secs: i64) -> AttemptRow {
    AttemptRow {
        time_used_ms: secs * 1000,
        ..attempt(participant, number, points, full_marks)
    }
}

// Under `best` or `last` the list carries each participant's counted attempt, the order of the
// individual boards, not the sum of their attempts: a best-of-3 test scored out of 100 ranks
// 100 above 3 × 90, and full marks are the counted attempt's. Excluded participants are left
// out.
async fn under_best_or_last_the_list_carries_the_counted_attempt(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    store
        .insert_batch(&[
            RecordRow::Participant(person(1)),
            RecordRow::Participant(person(2)),
            RecordRow::Participant(person(3)),
            RecordRow::Participant(person(4)),
            // 1: 60, then full marks in 80 s, then full marks again in 70 s.
            RecordRow::Attempt(timed(1, 1, 60, false, 90)),
            RecordRow::Attempt(timed(1, 2, 100, true, 80)),
            RecordRow::Attempt(timed(1, 3, 100, true, 70)),
            // 2: three times 90; the second was the fastest.
            RecordRow::Attempt(timed(2, 1, 90, false, 100)),
            RecordRow::Attempt(timed(2, 2, 90, false, 50)),
            RecordRow::Attempt(timed(2, 3, 90, false, 60)),
            // 3: full marks, then worse.
            RecordRow::Attempt(timed(3, 1, 100, true, 40)),
            RecordRow::Attempt(timed(3, 2, 20, false, 30)),
            // 4: excluded by an organizer.
            RecordRow::Attempt(timed(4, 1, 100, true, 10)),
        ])
        .await
        .expect("inserted");
    assert!(
        store
            .exclude_participant("c1", 4, "代答", "organizer:test", 1_780_000_100_000)
            .await
            .expect("excluded")
    );
    let listed = |counted| {
        let store = &store;
        async move {
            let list = EligibleList::new(
                store
                    .eligible_participants("c1", counted)
                    .await
                    .expect("read"),
            )
            .expect("a list");
            list.entries()
                .iter()
                .map(|e| (e.participant, e.points, e.time_used_ms / 1000, e.full_marks))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(Counted::Best).await,
        [(3, 100, 40, true), (1, 100, 70, true), (2, 90, 50, false)],
        "best: the most points, then the least time"
    );
    assert_eq!(
        listed(Counted::Last).await,
        [(1, 100, 70, true), (2, 90, 60, false), (3, 20, 30, false)],
        "last: the latest attempt, even a worse one"
    );
    // Every entry's last finish is that of the participant's latest attempt, under any policy.
    let list = EligibleList::new(
        store
            .eligible_participants("c1", Counted::Best)
            .await
            .expect("read"),
    )
    .expect("a list");
    let last: Vec<(u64, i64)> = list
        .entries()
        .iter()
        .map(|e| (e.participant, e.last_finished_ms))
        .collect();
    assert_eq!(
        last,
        [
            (3, 1_780_000_061_002),
            (1, 1_780_000_061_003),
            (2, 1_780_000_061_003)
        ]
    );
}

on_both!(under_best_or_last_the_list_carries_the_counted_attempt);
