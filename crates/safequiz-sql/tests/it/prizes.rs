//! The prize tables on SQLite and PostgreSQL: the eligible list read from the totals, a draw
//! stored once and never replaced, and the winners read back for the pages and the export.

use safequiz_domain::prizes::{EligibleList, PrizeWinners, Winner};
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
    let list =
        EligibleList::new(store.eligible_participants("c1").await.expect("read")).expect("a list");
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
