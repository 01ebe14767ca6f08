//! The draw against a brute-force reference, the list file, the seed and the stream.
//!
//! The reference states each rule as "which orderings of the candidates are fair": every
//! permutation of the candidates is enumerated, the fair ones kept (full marks first, ranking
//! order with ties in any order, the eligible first for a lottery), and the outcome each gives is
//! collected. The draw must give one of those outcomes for every seed, and over many seeds every
//! one of them, about equally often. Small value ranges make every tie shape at a boundary common.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;

fn entry(participant: u64, points: i64, time: i64, finish: i64, full: bool) -> Eligible {
    Eligible {
        participant,
        points,
        time_used_ms: time,
        last_finished_ms: finish,
        full_marks: full,
    }
}

/// An outcome: each winner's participant id with their award, sorted.
type Outcome = BTreeSet<(u64, String)>;

fn outcome(winners: &PrizeWinners) -> Outcome {
    winners
        .winners
        .iter()
        .map(|winner| (winner.participant, winner.award.clone()))
        .collect()
}

/// Every permutation of `items`.
fn permutations(items: &[Eligible]) -> Vec<Vec<Eligible>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

/// Points, time and finish: what a fair ordering must not invert.
fn merit(entry: &Eligible) -> (i64, i64, i64) {
    (-entry.points, entry.time_used_ms, entry.last_finished_ms)
}

fn by_merit(order: &[Eligible]) -> bool {
    order
        .windows(2)
        .all(|pair| merit(&pair[0]) <= merit(&pair[1]))
}

/// The outcomes the rule allows for `prize` among `candidates`, by brute force.
fn reference(prize: &Prize, candidates: &[Eligible]) -> BTreeSet<Outcome> {
    let mut outcomes = BTreeSet::new();
    for order in permutations(candidates) {
        let chosen: Option<Vec<(u64, String)>> = match &prize.rule {
            PrizeRule::FullMarksThenRank { count } => {
                let full = order.iter().take_while(|e| e.full_marks).count();
                let fair = order[full..].iter().all(|e| !e.full_marks) && by_merit(&order[full..]);
                fair.then(|| {
                    order
                        .iter()
                        .take(*count as usize)
                        .map(|e| (e.participant, prize.name.clone()))
                        .collect()
                })
            }
            PrizeRule::RankTiers { tiers } => by_merit(&order).then(|| {
                let mut names = tiers
                    .iter()
                    .flat_map(|tier| std::iter::repeat_n(tier.name.clone(), tier.count as usize));
                order
                    .iter()
                    .map_while(|e| names.next().map(|name| (e.participant, name)))
                    .collect()
            }),
            PrizeRule::Lottery { count, min_points } => {
                let eligible = order.iter().take_while(|e| e.points > *min_points).count();
                let fair = order[eligible..].iter().all(|e| e.points <= *min_points);
                fair.then(|| {
                    order[..eligible]
                        .iter()
                        .take(*count as usize)
                        .map(|e| (e.participant, prize.name.clone()))
                        .collect()
                })
            }
        };
        if let Some(chosen) = chosen {
            outcomes.insert(chosen.into_iter().collect());
        }
    }
    outcomes
}

/// A small list with few distinct values, so ties of every shape are common.
fn random_list(rng: &mut StdRng) -> EligibleList {
    let size = rng.random_range(0..=7u64);
    let entries = (0..size)
        .map(|id| {
            let points = rng.random_range(0..=3i64) * 10;
            entry(
                id + 1,
                points,
                rng.random_range(1..=2),
                rng.random_range(1..=2),
                points == 30 && rng.random_bool(0.8),
            )
        })
        .collect();
    EligibleList::new(entries).expect("distinct ids")
}

fn random_prize(rng: &mut StdRng, name: &str) -> Prize {
    let rule = match rng.random_range(0..3) {
        0 => PrizeRule::FullMarksThenRank {
            count: rng.random_range(0..=5),
        },
        1 => PrizeRule::RankTiers {
            tiers: (0..rng.random_range(1..=3))
                .map(|tier| Tier {
                    name: format!("{name}-tier{tier}"),
                    count: rng.random_range(0..=3),
                })
                .collect(),
        },
        _ => PrizeRule::Lottery {
            count: rng.random_range(0..=5),
            min_points: rng.random_range(0..=3) * 10 - 5 + rng.random_range(0..=1) * 5,
        },
    };
    Prize {
        name: name.to_owned(),
        rule,
        exclude_earlier_winners: rng.random_bool(0.5),
    }
}

#[test]
fn every_draw_is_an_outcome_the_reference_allows() {
    let mut rng = StdRng::seed_from_u64(19);
    for case in 0..600 {
        let list = random_list(&mut rng);
        let prizes: Vec<Prize> = (0..rng.random_range(1..=3))
            .map(|index| random_prize(&mut rng, &format!("p{index}")))
            .collect();
        let seed = seed("c", &format!("case {case}"), &[0; 32]);
        let drawn = draw(&list, &prizes, seed);
        assert_eq!(drawn.len(), prizes.len());
        let mut earlier: BTreeSet<u64> = BTreeSet::new();
        for (prize, winners) in prizes.iter().zip(&drawn) {
            let candidates: Vec<Eligible> = list
                .entries()
                .iter()
                .filter(|e| !(prize.exclude_earlier_winners && earlier.contains(&e.participant)))
                .copied()
                .collect();
            let allowed = reference(prize, &candidates);
            assert!(
                allowed.contains(&outcome(winners)),
                "case {case}: {winners} is not among {allowed:?}\nlist {list:?}\nprize {prize:?}"
            );
            for winner in &winners.winners {
                let listed = &list.entries()[winner.rank as usize - 1];
                assert_eq!(listed.participant, winner.participant, "rank is the list's");
            }
            earlier.extend(winners.winners.iter().map(|winner| winner.participant));
        }
    }
}

/// Each case: every outcome the reference allows comes out of the draw, about equally often.
fn assert_fair(list: &EligibleList, prize: Prize) {
    let allowed = reference(&prize, list.entries());
    let runs = 3000;
    let mut seen: BTreeMap<Outcome, u32> = BTreeMap::new();
    for run in 0..runs {
        let drawn = draw(
            list,
            std::slice::from_ref(&prize),
            seed("c", &run.to_string(), &[1; 32]),
        );
        *seen.entry(outcome(&drawn[0])).or_default() += 1;
    }
    let outcomes: BTreeSet<Outcome> = seen.keys().cloned().collect();
    assert_eq!(outcomes, allowed, "{prize:?}");
    let expected = runs as f64 / allowed.len() as f64;
    for (outcome, count) in &seen {
        assert!(
            (f64::from(*count) - expected).abs() < expected * 0.2,
            "{outcome:?} came {count} times of {runs}, expected about {expected}"
        );
    }
}

/// More full marks than places: the places are drawn among them.
#[test]
fn more_full_marks_than_places_draws_among_them() {
    let list = EligibleList::new(vec![
        entry(1, 30, 5, 1, true),
        entry(2, 30, 6, 1, true),
        entry(3, 30, 7, 1, true),
        entry(4, 30, 8, 1, true),
        entry(5, 20, 1, 1, false),
    ])
    .expect("list");
    assert_fair(
        &list,
        Prize {
            name: "优胜奖".into(),
            rule: PrizeRule::FullMarksThenRank { count: 2 },
            exclude_earlier_winners: false,
        },
    );
}

/// Fewer full marks: all of them, then by rank, the tie at the last place drawn; a tie that
/// fits whole and one after the boundary are not drawn from.
#[test]
fn full_marks_then_rank_draws_only_the_tie_at_the_boundary() {
    let list = EligibleList::new(vec![
        entry(1, 30, 5, 1, true),
        entry(2, 20, 5, 1, false),
        entry(3, 20, 5, 1, false),
        entry(4, 10, 5, 1, false),
        entry(5, 10, 5, 1, false),
        entry(6, 10, 5, 1, false),
        entry(7, 0, 5, 1, false),
        entry(8, 0, 5, 1, false),
    ])
    .expect("list");
    let prize = |count| Prize {
        name: "优胜奖".into(),
        rule: PrizeRule::FullMarksThenRank { count },
        exclude_earlier_winners: false,
    };
    // Boundary inside the 10-point group: 3 choose 1.
    assert_fair(&list, prize(4));
    // Boundary exactly at a group's end: one outcome.
    assert_fair(&list, prize(3));
    // More places than people: everyone.
    assert_fair(&list, prize(20));
}

/// Equal points but different time or finish are not ties: the published order decides.
#[test]
fn only_equal_points_time_and_finish_tie() {
    let list = EligibleList::new(vec![
        entry(1, 20, 5, 2, false),
        entry(2, 20, 5, 1, false),
        entry(3, 20, 4, 9, false),
    ])
    .expect("list");
    let drawn = draw(
        &list,
        &[Prize {
            name: "奖".into(),
            rule: PrizeRule::FullMarksThenRank { count: 2 },
            exclude_earlier_winners: false,
        }],
        [7; 32],
    );
    let ids: Vec<u64> = drawn[0].winners.iter().map(|w| w.participant).collect();
    assert_eq!(ids, vec![3, 2]);
}

/// A tie across a tier boundary, one across two boundaries, and one at the last place.
#[test]
fn tiers_draw_the_ties_at_their_boundaries() {
    let list = EligibleList::new(vec![
        entry(1, 30, 5, 1, true),
        entry(2, 20, 5, 1, false),
        entry(3, 20, 5, 1, false),
        entry(4, 20, 5, 1, false),
        entry(5, 10, 5, 1, false),
        entry(6, 10, 5, 1, false),
    ])
    .expect("list");
    let tiers = |counts: &[u32]| Prize {
        name: "名次奖".into(),
        rule: PrizeRule::RankTiers {
            tiers: counts
                .iter()
                .enumerate()
                .map(|(index, count)| Tier {
                    name: ["一等奖", "二等奖", "三等奖"][index].into(),
                    count: *count,
                })
                .collect(),
        },
        exclude_earlier_winners: false,
    };
    assert_fair(&list, tiers(&[2, 2, 1]));
    assert_fair(&list, tiers(&[2, 1, 1]));
    assert_fair(&list, tiers(&[1, 3, 2]));
}

/// "Above 50" is strictly above: 50 itself is not eligible.
#[test]
fn lottery_is_strictly_above_the_threshold() {
    let list = EligibleList::new(vec![
        entry(1, 60, 5, 1, false),
        entry(2, 50, 5, 1, false),
        entry(3, 51, 9, 1, false),
        entry(4, 90, 5, 1, false),
    ])
    .expect("list");
    let prize = |count| Prize {
        name: "参与奖".into(),
        rule: PrizeRule::Lottery {
            count,
            min_points: 50,
        },
        exclude_earlier_winners: false,
    };
    assert_fair(&list, prize(2));
    let everyone = draw(&list, &[prize(10)], [0; 32]);
    let ids: BTreeSet<u64> = everyone[0].winners.iter().map(|w| w.participant).collect();
    assert_eq!(ids, BTreeSet::from([1, 3, 4]));
}

#[test]
fn earlier_winners_are_excluded_only_when_asked() {
    let list = EligibleList::new(
        (1..=4)
            .map(|id| entry(id, 100 - id as i64, 1, 1, false))
            .collect(),
    )
    .expect("list");
    let prizes = |exclude| {
        vec![
            Prize {
                name: "一".into(),
                rule: PrizeRule::FullMarksThenRank { count: 2 },
                exclude_earlier_winners: false,
            },
            Prize {
                name: "二".into(),
                rule: PrizeRule::FullMarksThenRank { count: 2 },
                exclude_earlier_winners: exclude,
            },
        ]
    };
    let ids = |drawn: &PrizeWinners| {
        drawn
            .winners
            .iter()
            .map(|w| w.participant)
            .collect::<Vec<_>>()
    };
    let excluded = draw(&list, &prizes(true), [0; 32]);
    assert_eq!(ids(&excluded[1]), vec![3, 4]);
    let again = draw(&list, &prizes(false), [0; 32]);
    assert_eq!(ids(&again[1]), vec![1, 2]);
}

#[test]
fn the_list_file_round_trips_and_refuses_edits() {
    let list = EligibleList::new(vec![
        entry(7, 20, 5, 1, false),
        entry(3, 30, 5, 1, true),
        entry(9, 20, 5, 1, false),
    ])
    .expect("list");
    let text = list.to_csv();
    assert_eq!(
        text,
        format!("{LIST_HEADER}\n1,3,30,5,1,1\n2,7,20,5,1,0\n3,9,20,5,1,0\n")
    );
    assert_eq!(EligibleList::parse_csv(&text), Ok(list));
    // Swapped lines, a raised score and a duplicate are refused by the order check.
    for edited in [
        format!("{LIST_HEADER}\n1,7,20,5,1,0\n2,3,30,5,1,1\n3,9,20,5,1,0\n"),
        format!("{LIST_HEADER}\n1,3,30,5,1,1\n2,7,20,5,1,0\n3,9,40,5,1,0\n"),
        format!("{LIST_HEADER}\n1,3,30,5,1,1\n2,7,20,5,1,0\n3,7,20,5,1,0\n"),
        format!("{LIST_HEADER}\n1,3,30,5,1,1\n3,7,20,5,1,0\n"),
        "rank,id\n".to_owned(),
    ] {
        assert!(EligibleList::parse_csv(&edited).is_err(), "{edited}");
    }
}

/// The construction is fixed: these values are what any implementation of docs/prizes.md must
/// give, so a change to the stream or the seed fails here rather than silently in an audit.
#[test]
fn the_seed_and_stream_are_fixed() {
    assert_eq!(
        hex(&list_digest(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let seed = seed("demo", "2026-06-30 福彩3D 123", &list_digest(b""));
    let mut manual = Sha256::new();
    manual.update(b"safequiz-prizes-v1");
    for field in [
        &b"demo"[..],
        "2026-06-30 福彩3D 123".as_bytes(),
        &list_digest(b""),
    ] {
        manual.update((field.len() as u64).to_be_bytes());
        manual.update(field);
    }
    assert_eq!(seed, <[u8; 32]>::from(manual.finalize()));
    let mut stream = Stream::new(seed);
    let mut block = Sha256::new();
    block.update(seed);
    block.update(0u64.to_be_bytes());
    let block: [u8; 32] = block.finalize().into();
    let first = u64::from_be_bytes(block[..8].try_into().expect("8 bytes"));
    assert_eq!(stream.next_u64(), first);
    for _ in 0..3 {
        stream.next_u64();
    }
    let mut second = Sha256::new();
    second.update(seed);
    second.update(1u64.to_be_bytes());
    let second: [u8; 32] = second.finalize().into();
    assert_eq!(
        stream.next_u64(),
        u64::from_be_bytes(second[..8].try_into().expect("8 bytes"))
    );
}

#[test]
fn below_is_uniform_and_in_range() {
    let mut stream = Stream::new([3; 32]);
    let mut counts = [0u32; 6];
    for _ in 0..60_000 {
        counts[stream.below(6) as usize] += 1;
    }
    for count in counts {
        assert!((9_500..10_500).contains(&count), "{counts:?}");
    }
}
