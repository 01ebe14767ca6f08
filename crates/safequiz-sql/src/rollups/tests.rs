//! Unit tests of what a batch adds to the roll-ups: the previous-day counters against a brute
//! force over generated days, and each counter's meaning on small cases.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use safequiz_domain::scope::WHOLE_CAMPAIGN;

use super::increments::{
    Answer, DayCounts, Increments, NO_PREVIOUS_DAY, answers, increments, levels,
};
use crate::record::AttemptRow;

const CAMPAIGN: &str = WHOLE_CAMPAIGN;

/// A deterministic generator (SplitMix64): the cases are the same on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn attempt(participant: i64, n: u32, unit: &str, day: i32, points: i32) -> AttemptRow {
    AttemptRow {
        campaign_id: "c".to_owned(),
        attempt_id: format!("{participant}-{n}"),
        participant_id: participant,
        unit_id: unit.to_owned(),
        day,
        started_at_ms: i64::from(day) * 86_400_000,
        deadline_ms: i64::from(day) * 86_400_000 + 150_000,
        finished_at_ms: i64::from(day) * 86_400_000 + 60_000 + i64::from(n),
        time_used_ms: 60_000,
        points,
        correct: points,
        auto_submitted: false,
        full_marks: points == 2,
        questions: r#"[{"chosen":1,"id":"qa","key":1,"order":[0,1]},{"chosen":2,"id":"qb","key":1,"order":[1,0]}]"#.to_owned(),
    }
}

fn paths() -> HashMap<String, Vec<String>> {
    HashMap::from([
        (
            "leaf".to_owned(),
            vec!["leaf".to_owned(), "root".to_owned()],
        ),
        ("root".to_owned(), vec!["root".to_owned()]),
    ])
}

/// Adds `more` to `total` as the database's upserts do.
fn merge(total: &mut Increments, more: Increments) {
    for (key, counts) in more.unit_days {
        let row = total.unit_days.entry(key).or_default();
        row.participants += counts.participants;
        row.attempts += counts.attempts;
        row.points += counts.points;
        row.full_marks += counts.full_marks;
    }
}

/// Participants of `level` active in `from..=to` as the roll-ups answer it.
fn counted(rows: &BTreeMap<(String, i32, i32), DayCounts>, level: &str, from: i32, to: i32) -> i64 {
    rows.iter()
        .filter(|((unit, day, prev), _)| unit == level && (from..=to).contains(day) && *prev < from)
        .map(|(_, counts)| counts.participants)
        .sum()
}

#[test]
fn previous_day_counters_give_every_periods_distinct_participants_whatever_the_arrival_order() {
    for seed in 0..200 {
        let mut rng = Seeded(seed);
        let days = 1 + rng.below(8) as i32;
        let participants = 1 + rng.below(6) as i64;
        // Every (participant, day) pair that will have an attempt, with its attempts' count.
        let mut active: Vec<(i64, i32)> = Vec::new();
        for participant in 0..participants {
            for day in 0..days {
                if rng.below(2) == 0 {
                    for _ in 0..=rng.below(2) {
                        active.push((participant, day));
                    }
                }
            }
        }
        // Shuffled, then cut into batches: days arrive out of order and in any grouping.
        for i in (1..active.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            active.swap(i, j);
        }
        let mut total = Increments::default();
        let mut known: HashMap<i64, BTreeSet<i32>> = HashMap::new();
        let mut next_attempt = 0;
        let mut rest = active.as_slice();
        while !rest.is_empty() {
            let size = 1 + rng.below(rest.len() as u64) as usize;
            let (batch, later) = rest.split_at(size);
            rest = later;
            let rows: Vec<AttemptRow> = batch
                .iter()
                .map(|&(participant, day)| {
                    next_attempt += 1;
                    attempt(participant, next_attempt, "leaf", day, 1)
                })
                .collect();
            let refs: Vec<&AttemptRow> = rows.iter().collect();
            merge(&mut total, increments(CAMPAIGN, &refs, &known, &paths()));
            for &(participant, day) in batch {
                known.entry(participant).or_default().insert(day);
            }
        }

        for from in 0..days {
            for to in from..days {
                let expected = active
                    .iter()
                    .filter(|(_, day)| (from..=to).contains(day))
                    .map(|(participant, _)| participant)
                    .collect::<BTreeSet<_>>()
                    .len() as i64;
                for level in ["leaf", "root", CAMPAIGN] {
                    assert_eq!(
                        counted(&total.unit_days, level, from, to),
                        expected,
                        "seed {seed}, level {level}, days {from}..={to}"
                    );
                }
            }
        }
        let attempts: i64 = total
            .unit_days
            .iter()
            .filter(|((unit, _, _), _)| unit == CAMPAIGN)
            .map(|(_, counts)| counts.attempts)
            .sum();
        assert_eq!(
            attempts,
            active.len() as i64,
            "seed {seed}: every attempt once"
        );
    }
}

#[test]
fn a_day_between_two_known_days_moves_the_later_days_participant() {
    let known = HashMap::from([(7, BTreeSet::from([10, 14]))]);
    let row = attempt(7, 3, "leaf", 12, 2);

    let added = increments(CAMPAIGN, &[&row], &known, &paths());

    let leaf = |day, prev| {
        added
            .unit_days
            .get(&("leaf".to_owned(), day, prev))
            .copied()
    };
    assert_eq!(
        leaf(12, 10),
        Some(DayCounts {
            participants: 1,
            attempts: 1,
            points: 2,
            full_marks: 1,
        }),
        "day 12 follows day 10"
    );
    assert_eq!(
        leaf(14, 10).map(|c| c.participants),
        Some(-1),
        "day 14 no longer follows day 10"
    );
    assert_eq!(
        leaf(14, 12).map(|c| c.participants),
        Some(1),
        "it follows day 12"
    );
    assert_eq!(
        added.unit_days.len(),
        3 * 3,
        "three rows at each of three levels"
    );
}

#[test]
fn a_second_attempt_on_a_known_day_adds_figures_but_no_participant() {
    let known = HashMap::from([(7, BTreeSet::from([10]))]);
    let row = attempt(7, 2, "leaf", 10, 1);

    let added = increments(CAMPAIGN, &[&row], &known, &paths());

    assert_eq!(
        added
            .unit_days
            .get(&(CAMPAIGN.to_owned(), 10, NO_PREVIOUS_DAY)),
        Some(&DayCounts {
            participants: 0,
            attempts: 1,
            points: 1,
            full_marks: 0,
        })
    );
    let totals = &added.participant_totals[&7];
    assert_eq!(
        (totals.attempts, totals.points, totals.time_used_ms),
        (1, 1, 60_000)
    );
}

#[test]
fn a_unit_outside_the_unit_table_counts_for_the_whole_campaign_only() {
    let row = attempt(7, 1, "gone", 10, 1);

    let added = increments(CAMPAIGN, &[&row], &HashMap::new(), &paths());

    let units: BTreeSet<&str> = added
        .unit_days
        .keys()
        .map(|(unit, _, _)| unit.as_str())
        .collect();
    assert_eq!(units, BTreeSet::from([CAMPAIGN]));
}

#[test]
fn answers_are_counted_over_the_banks_option_order() {
    // qa shown in bank order, option A chosen and keyed; qb shown reversed, the second shown
    // (the bank's A) chosen while the key is the first shown (the bank's B).
    let row = attempt(7, 1, "leaf", 10, 1);

    let read = answers(&row).expect("the questions decode");

    let answer = |id: &str, chosen, correct| Answer {
        question_id: id.to_owned(),
        chosen,
        correct,
        options: 2,
    };
    assert_eq!(
        read,
        [answer("qa", 0b01, true), answer("qb", 0b01, false)],
        "qb: the bank's A, wrong"
    );
    assert_eq!(
        levels(CAMPAIGN, "leaf", &paths()),
        ["leaf", "root", CAMPAIGN],
        "each answer counts at three levels"
    );
}

#[test]
fn an_attempt_with_a_question_that_does_not_decode_is_refused_whole_as_data() {
    let mut row = attempt(7, 1, "leaf", 10, 1);
    row.questions =
        r#"[{"chosen":1,"id":"qa","key":1,"order":[0,1]},{"id":"qb","order":[1,1],"key":1,"chosen":1}]"#
            .to_owned();

    let refused = answers(&row);

    let error = refused.expect_err("qb's order is not a permutation");
    assert!(error.is_data_error(), "{error}");
}
