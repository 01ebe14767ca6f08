//! The board order and its Redis encoding: tables, and properties over seeded random placings.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::{
    BoardMember, BoardScore, Finish, IndividualBoards, POINT_WEIGHT, ParticipantTotals, Placing,
    UnitTotals,
};

#[test]
fn board_scores_are_written_and_read_back_exactly() {
    let cases = [
        (0, 0, 0, "nothing yet"),
        (0, 1, 1, "no points, one millisecond"),
        (1, 0, -POINT_WEIGHT, "a point in no time"),
        (
            5,
            150_000,
            150_000 - 5 * POINT_WEIGHT,
            "a perfect attempt of 150 s",
        ),
        (
            3,
            POINT_WEIGHT - 1,
            -2 * POINT_WEIGHT - 1,
            "the longest time a point can outweigh",
        ),
        (
            899_999,
            7,
            7 - 899_999 * POINT_WEIGHT,
            "the most points exact in an f64",
        ),
    ];
    for (points, time_used_ms, expected, why) in cases {
        let score = BoardScore {
            points,
            time_used_ms,
        };
        assert_eq!(score.to_redis_score(), expected, "{why}");
        assert_eq!(BoardScore::from_redis_score(expected), score, "{why}");
    }
}

#[test]
fn board_members_are_fixed_width_digits_and_nothing_else_parses() {
    let member = BoardMember {
        last_finished_ms: 1_781_000_000_123,
        participant: 42,
    };
    assert_eq!(member.encode(), "1781000000123000000000042");
    assert_eq!(BoardMember::parse(&member.encode()), Some(member));
    let early = BoardMember {
        last_finished_ms: 5,
        participant: 999_999_999_999,
    };
    assert_eq!(early.encode(), "0000000000005999999999999");
    assert_eq!(BoardMember::parse(&early.encode()), Some(early));
    for (bad, why) in [
        ("", "empty"),
        ("178100000012300000000004", "one digit short"),
        ("17810000001230000000000420", "one digit too many"),
        ("178100000012300000000004x", "not a digit"),
        ("-781000000123000000000042", "a sign"),
    ] {
        assert_eq!(BoardMember::parse(bad), None, "{why}");
    }
}

#[test]
fn the_published_order_is_points_then_time_then_last_finish_then_id() {
    let placing = |points, time_used_ms, last_finished_ms, participant| Placing {
        score: BoardScore {
            points,
            time_used_ms,
        },
        member: BoardMember {
            last_finished_ms,
            participant,
        },
    };
    let cases = [
        (
            placing(5, 900, 9, 9),
            placing(4, 1, 1, 1),
            "more points first",
        ),
        (
            placing(5, 100, 9, 9),
            placing(5, 101, 1, 1),
            "then less time",
        ),
        (
            placing(5, 100, 1, 9),
            placing(5, 100, 2, 1),
            "then the earlier last finish",
        ),
        (
            placing(5, 100, 1, 1),
            placing(5, 100, 1, 2),
            "then the smaller id",
        ),
    ];
    for (better, worse, why) in cases {
        assert!(better < worse, "{why}");
        let redis = |p: &Placing| (p.score.to_redis_score(), p.member.encode());
        assert!(redis(&better) < redis(&worse), "Redis agrees: {why}");
    }
}

#[test]
fn a_submit_counts_time_up_to_the_deadline_and_an_automatic_one_all_of_it() {
    let cases = [
        (
            Finish::submitted(1_000, 151_000, 61_000),
            61_000,
            60_000,
            "a submit in time",
        ),
        (
            Finish::submitted(1_000, 151_000, 153_000),
            153_000,
            150_000,
            "a submit in the grace counts only up to the deadline",
        ),
        (
            Finish::automatic(1_000, 151_000),
            151_000,
            150_000,
            "time ran out",
        ),
    ];
    for (finish, finished_ms, time_used_ms, why) in cases {
        assert_eq!(
            finish,
            Finish {
                finished_ms,
                time_used_ms
            },
            "{why}"
        );
    }
}

#[test]
fn totals_add_points_and_time_and_keep_the_latest_finish() {
    let mut totals = ParticipantTotals::default();
    totals.add(4, Finish::submitted(0, 150_000, 90_000));
    totals.add(5, Finish::automatic(1_000, 151_000));
    totals.add(2, Finish::submitted(500, 150_500, 60_000));
    assert_eq!(
        totals,
        ParticipantTotals {
            points: 11,
            time_used_ms: 90_000 + 150_000 + 59_500,
            attempts: 3,
            last_finished_ms: 151_000,
        }
    );
    assert_eq!(
        totals.placing(7).member.encode(),
        "0000000151000000000000007"
    );
    assert_eq!(totals.score().to_redis_score(), 299_500 - 11 * POINT_WEIGHT);

    let mut unit = UnitTotals::default();
    unit.add_attempt(5, true, true);
    unit.add_attempt(3, false, false);
    unit.add_attempt(0, false, true);
    let expected = UnitTotals {
        points: 8,
        attempts: 3,
        participants: 2,
        full_marks: 1,
    };
    assert_eq!(unit, expected);
    assert_eq!(
        unit.merge(unit),
        UnitTotals {
            points: 16,
            attempts: 6,
            participants: 4,
            full_marks: 2
        }
    );
}

/// A placing within the bounds the module documents.
fn placing() -> impl Strategy<Value = Placing> {
    // Small ranges as well as the whole range, so equal points, times and finishes (the ties
    // the later keys break) are common.
    let points = prop_oneof![0i64..4, 0i64..900_000];
    let time = prop_oneof![0i64..4, 0i64..POINT_WEIGHT];
    let finish = prop_oneof![0i64..4, 0i64..10_000_000_000_000];
    let participant = prop_oneof![0u64..4, 0u64..1_000_000_000_000];
    (points, time, finish, participant).prop_map(
        |(points, time_used_ms, last_finished_ms, participant)| Placing {
            score: BoardScore {
                points,
                time_used_ms,
            },
            member: BoardMember {
                last_finished_ms,
                participant,
            },
        },
    )
}

fn seeded(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(14),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(seeded(2_000))]

    #[test]
    fn redis_orders_encoded_placings_in_the_published_order(a in placing(), b in placing()) {
        let redis = |p: &Placing| (p.score.to_redis_score(), p.member.encode());
        prop_assert_eq!(redis(&a).cmp(&redis(&b)), a.cmp(&b));
    }

    #[test]
    fn encoded_placings_read_back_as_they_were(a in placing()) {
        prop_assert_eq!(BoardScore::from_redis_score(a.score.to_redis_score()), a.score);
        prop_assert_eq!(BoardMember::parse(&a.member.encode()), Some(a.member));
        // Redis replies with scores as f64: exact within the documented bounds.
        let score = a.score.to_redis_score();
        prop_assert_eq!(score as f64 as i64, score);
    }
}

#[test]
fn individual_boards_keep_the_first_levels_of_a_path() {
    let path = ["110000", "110100", "110101"];
    let every = IndividualBoards::EVERY_LEVEL;
    assert_eq!(every.kept(&path), &path[..]);
    assert!(every.keeps(3) && every.keeps(40));
    let national = IndividualBoards::down_to(0);
    assert!(national.kept(&path).is_empty());
    assert!(!national.keeps(1));
    let provinces = IndividualBoards::down_to(1);
    assert_eq!(provinces.kept(&path), &path[..1]);
    assert!(provinces.keeps(1) && !provinces.keeps(2));
    assert_eq!(
        provinces
            .kept_units("110000,110100,110101".split(','))
            .collect::<Vec<_>>(),
        ["110000"]
    );
    assert_eq!(IndividualBoards::down_to(5).kept(&path), &path[..]);
}
