//! The scripts' finalize (Lua, the hot path) against the domain's rules (Rust, the one home of
//! scoring, full marks, the time counted, the totals and the board order), over generated
//! attempts: the two must give equal results, so they cannot drift apart.
//!
//! Each case plays generated participants through the real scripts on a real redis-server
//! (start, saves, then a submit in time, a submit too late, or a read after the grace), computes
//! the same attempts with `safequiz_domain::score` and `safequiz_domain::board`, and compares:
//! (scoring policies generated too: the national one number, or points by kind with `sum`,
//! `best` or `last` counted, issue 18)
//! every attempt's points, correct answers, finish and time used; the stream entries; the
//! participants' totals; the unit totals; every board's scores, members and order; the ranks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_domain::board::{Finish, ParticipantTotals, Placing, UnitTotals};
use safequiz_domain::draw::OptionOrder;
use safequiz_domain::score::{Counted, KindPoints, Scoring};
use safequiz_redis::HotState;
use safequiz_redis::attempts::{
    Actor, AttemptId, AttemptRecord, ChoiceArg, NewAttempt, ReadOutcome, SaveOutcome, StartOutcome,
    SubmitOutcome,
};
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::{StreamRecord, decode};

use safequiz_domain::scope::WHOLE_CAMPAIGN;

use crate::{DAY, DAY_MS, GRACE_MS, LIMIT_MS, T0, hot_state, raw};

/// The unit paths participants are drawn from: two counties of one region, a region alone, and
/// an enterprise.
const PATHS: [&[&str]; 4] = [
    &["110000", "110101"],
    &["110000", "110102"],
    &["130000"],
    &["CE001"],
];

/// Every unit of [`PATHS`].
const UNITS: [&str; 5] = ["110000", "110101", "110102", "130000", "CE001"];

/// How a generated question is answered.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Never.
    Unanswered,
    /// With a save while the attempt is open.
    Saved(Choices),
    /// With the submit (lost when the submit comes too late or never).
    Sent(Choices),
}

#[derive(Clone, Debug)]
struct Question {
    kind: QuestionKind,
    order: OptionOrder,
    key: Choices,
    answer: Answer,
}

/// How a generated attempt ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Submitted this long after the start (at most the time limit and the grace).
    Submit(i64),
    /// Submitted this long after the grace ended: too late, finalized automatically.
    SubmitLate(i64),
    /// Never submitted: read this long after the grace ended, as the sweeper does.
    ReadLate(i64),
}

#[derive(Clone, Debug)]
struct AttemptPlan {
    /// Start, ms after midnight of its day.
    start_ms: i64,
    questions: Vec<Question>,
    ending: Ending,
}

#[derive(Clone, Debug)]
struct ParticipantPlan {
    path: &'static [&'static str],
    /// One attempt a day, on consecutive days.
    attempts: Vec<AttemptPlan>,
}

#[derive(Clone, Debug)]
struct Scenario {
    shards: u16,
    scoring: Scoring,
    /// Participant `i` has id `i + 1`.
    participants: Vec<ParticipantPlan>,
}

/// A set of options a question of `kind` with `options` options can take; never empty.
fn some_choice(kind: QuestionKind, options: usize) -> BoxedStrategy<Choices> {
    match kind {
        QuestionKind::Multiple => (1u8..(1 << options)).prop_map(Choices::from_bits).boxed(),
        _ => (0..options)
            .prop_map(|index| Choices::NONE.with(index))
            .boxed(),
    }
}

fn question() -> impl Strategy<Value = Question> {
    let kind = prop_oneof![
        Just(QuestionKind::Single),
        Just(QuestionKind::Multiple),
        Just(QuestionKind::TrueFalse),
    ];
    (kind, 2usize..=6).prop_flat_map(|(kind, options)| {
        let options = if kind == QuestionKind::TrueFalse {
            2
        } else {
            options
        };
        let order = Just((0..options as u8).collect::<Vec<u8>>()).prop_shuffle();
        // Right answers are common, so full marks are too.
        let pick = prop_oneof![
            1 => Just(None),
            2 => Just(Some(None)),
            2 => some_choice(kind, options).prop_map(|choice| Some(Some(choice))),
        ];
        (order, some_choice(kind, options), pick, any::<bool>()).prop_map(
            move |(order, key, pick, saved)| {
                let answer = match pick {
                    None => Answer::Unanswered,
                    Some(choice) => {
                        let choice = choice.unwrap_or(key);
                        if saved {
                            Answer::Saved(choice)
                        } else {
                            Answer::Sent(choice)
                        }
                    }
                };
                Question {
                    kind,
                    order: OptionOrder::from_slice(&order).expect("a shuffle is a permutation"),
                    key,
                    answer,
                }
            },
        )
    })
}

fn attempt() -> impl Strategy<Value = AttemptPlan> {
    // Round instants are common, so equal times and equal finishes (the ties) are too.
    let start = prop_oneof![Just(3_600_000i64), 0i64..43_200_000];
    let ending = prop_oneof![
        3 => prop_oneof![Just(60_000i64), 0..=LIMIT_MS + GRACE_MS].prop_map(Ending::Submit),
        1 => (1i64..3_600_000).prop_map(Ending::SubmitLate),
        2 => (1i64..3_600_000).prop_map(Ending::ReadLate),
    ];
    (start, prop::collection::vec(question(), 1..=6), ending).prop_map(
        |(start_ms, questions, ending)| AttemptPlan {
            start_ms,
            questions,
            ending,
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let participant =
        (0..PATHS.len(), prop::collection::vec(attempt(), 1..=3)).prop_map(|(path, attempts)| {
            ParticipantPlan {
                path: PATHS[path],
                attempts,
            }
        });
    let counted = prop_oneof![Just(Counted::Sum), Just(Counted::Best), Just(Counted::Last)];
    let scoring = prop_oneof![
        // The national shape: one number for every kind, summed.
        (1u32..=5).prop_map(Scoring::uniform),
        (
            1u32..=5,
            1u32..=5,
            1u32..=5,
            counted,
            prop::option::of(Just(3u32))
        )
            .prop_map(
                |(single, multiple, judge, counted, attempts_total)| Scoring {
                    points: KindPoints {
                        single,
                        multiple,
                        judge,
                    },
                    counted,
                    attempts_total,
                }
            ),
    ];
    (1u16..=4, scoring, prop::collection::vec(participant, 1..=6)).prop_map(
        |(shards, scoring, participants)| Scenario {
            shards,
            scoring,
            participants,
        },
    )
}

/// The choice argument the service sends for `choices` of a question of `kind`.
fn choice_arg(kind: QuestionKind, choices: Choices) -> ChoiceArg {
    let keys: Vec<String> = choices.keys(kind).chars().map(String::from).collect();
    ChoiceArg::parse(keys.iter().map(String::as_str)).expect("a set's keys never repeat")
}

/// What the domain says one attempt ends with.
struct Expected {
    chosen: Vec<Choices>,
    points: u32,
    correct: u32,
    full_marks: bool,
    finish: Finish,
    auto_submitted: bool,
}

fn expected(scoring: &Scoring, plan: &AttemptPlan, started: i64) -> Expected {
    let deadline = started + LIMIT_MS;
    let (finish, auto_submitted) = match plan.ending {
        Ending::Submit(after) => (Finish::submitted(started, deadline, started + after), false),
        Ending::SubmitLate(_) | Ending::ReadLate(_) => (Finish::automatic(started, deadline), true),
    };
    let chosen: Vec<Choices> = plan
        .questions
        .iter()
        .map(|question| match question.answer {
            Answer::Saved(choice) => choice,
            Answer::Sent(choice) if !auto_submitted => choice,
            Answer::Sent(_) | Answer::Unanswered => Choices::NONE,
        })
        .collect();
    let score = scoring.score(
        plan.questions
            .iter()
            .zip(chosen.iter().copied())
            .map(|(question, chosen)| (question.kind, question.key, chosen)),
    );
    Expected {
        chosen,
        points: score.points,
        correct: score.correct,
        full_marks: score.is_full_marks(),
        finish,
        auto_submitted,
    }
}

/// Plays one attempt through the scripts; returns its final record.
async fn play(
    hot: &HotState,
    actor: &Actor<'_>,
    number: u32,
    plan: &AttemptPlan,
    started: i64,
) -> Result<AttemptRecord, TestCaseError> {
    let deadline = started + LIMIT_MS;
    let accepts_until = deadline + GRACE_MS;
    let day = DAY + i32::try_from((started - T0) / DAY_MS).expect("a few days");
    let mut attempt = NewAttempt::new(day, started, deadline, accepts_until);
    for (index, question) in plan.questions.iter().enumerate() {
        attempt.push(
            &format!("q-{index}"),
            question.kind,
            question.order,
            question.key,
        );
    }
    let StartOutcome::Created(created) = hot.start(actor, 1, &attempt).await.expect("start") else {
        return Err(TestCaseError::fail("every attempt is the first of its day"));
    };
    prop_assert_eq!(created.id.number, number);
    let mut sent = Vec::new();
    for (index, question) in plan.questions.iter().enumerate() {
        let index = index as u32;
        match question.answer {
            Answer::Saved(choice) => {
                let saved = hot
                    .save(
                        actor,
                        number,
                        index,
                        choice_arg(question.kind, choice),
                        started + 1,
                    )
                    .await
                    .expect("save");
                prop_assert_eq!(saved, SaveOutcome::Saved);
            }
            Answer::Sent(choice) => sent.push((index, choice_arg(question.kind, choice))),
            Answer::Unanswered => {}
        }
    }
    let read_at = match plan.ending {
        Ending::Submit(after) => {
            let outcome = hot
                .submit(actor, number, &sent, started + after)
                .await
                .expect("submit");
            let SubmitOutcome::Final(record) = outcome else {
                return Err(TestCaseError::fail(format!(
                    "a submit in time: {outcome:?}"
                )));
            };
            return Ok(record);
        }
        Ending::SubmitLate(after) => {
            let outcome = hot
                .submit(actor, number, &sent, accepts_until + after)
                .await
                .expect("submit");
            prop_assert!(matches!(outcome, SubmitOutcome::Closed), "{:?}", outcome);
            accepts_until + after
        }
        Ending::ReadLate(after) => accepts_until + after,
    };
    match hot.read(actor, number, read_at).await.expect("read") {
        ReadOutcome::Final(record) => Ok(record),
        other => Err(TestCaseError::fail(format!(
            "final after the grace: {other:?}"
        ))),
    }
}

/// Plays a scenario in `campaign` and compares every result with the domain's.
async fn check(
    hot: &HotState,
    redis: &safequiz_testkit::RedisServer,
    campaign: &str,
    scenario: &Scenario,
) -> Result<(), TestCaseError> {
    let shards = scenario.shards;
    let scoring = scenario.scoring;
    let mut totals: BTreeMap<u64, ParticipantTotals> = BTreeMap::new();
    let mut units: BTreeMap<&str, UnitTotals> = BTreeMap::new();
    let mut entries_expected: BTreeMap<String, (Expected, Vec<Choices>, u32)> = BTreeMap::new();
    for (index, plan) in scenario.participants.iter().enumerate() {
        let participant = index as u64 + 1;
        let actor = Actor {
            campaign,
            shards,
            participant,
            path: plan.path,
            scoring,
        };
        for (day, attempt) in plan.attempts.iter().enumerate() {
            let number = day as u32 + 1;
            let started = T0 + day as i64 * DAY_MS + attempt.start_ms;
            let record = play(hot, &actor, number, attempt, started).await?;
            let expected = expected(&scoring, attempt, started);

            let result = record.result.expect("a final record has its result");
            prop_assert_eq!(
                (result.points, result.correct, result.auto_submitted),
                (expected.points, expected.correct, expected.auto_submitted),
                "attempt {}-{}",
                participant,
                number
            );
            prop_assert_eq!(
                Finish {
                    finished_ms: result.finished_ms,
                    time_used_ms: result.time_used_ms
                },
                expected.finish
            );
            let stored: Vec<_> = record.questions().map(|q| q.expect("decodes")).collect();
            let chosen: Vec<Choices> = stored.iter().map(|q| q.answer).collect();
            prop_assert_eq!(&chosen, &expected.chosen);
            let keys: Vec<Choices> = attempt.questions.iter().map(|q| q.key).collect();
            let shown: Vec<Option<Choices>> = stored.iter().map(|q| q.key).collect();
            prop_assert_eq!(shown, keys.iter().copied().map(Some).collect::<Vec<_>>());

            let own = totals.entry(participant).or_default();
            let first = own.attempts == 0;
            let before = own.points;
            scoring.count(own, expected.points, expected.finish);
            // A unit's points are its participants' counted points: the change of this
            // participant's (under `sum`, the attempt's points).
            let delta = own.points - before;
            for unit in std::iter::once(WHOLE_CAMPAIGN).chain(plan.path.iter().copied()) {
                let unit = units.entry(unit).or_default();
                unit.add_attempt(0, expected.full_marks, first);
                unit.points = u64::try_from(unit.points as i64 + delta).expect("never below 0");
            }
            let id = AttemptId {
                participant,
                number,
            }
            .to_string();
            entries_expected.insert(id, (expected, keys, own.attempts));
        }
    }

    // The stream entries: one per attempt, as finalize wrote them.
    let mut seen = 0;
    for shard in Shard::all(shards) {
        for entry in hot.stream_entries(campaign, shard).await.expect("XRANGE") {
            let Ok(StreamRecord::Attempt(attempt)) = decode(&entry) else {
                return Err(TestCaseError::fail(format!("an attempt entry: {entry:?}")));
            };
            let Some((expected, keys, attempts)) =
                entries_expected.get(&attempt.attempt.to_string())
            else {
                return Err(TestCaseError::fail(format!(
                    "an unknown attempt: {entry:?}"
                )));
            };
            prop_assert_eq!(
                (
                    attempt.points,
                    attempt.correct,
                    attempt.auto_submitted,
                    attempt.finish,
                    attempt.attempts
                ),
                (
                    expected.points,
                    expected.correct,
                    expected.auto_submitted,
                    expected.finish,
                    *attempts
                )
            );
            let entry_keys: Vec<Choices> = attempt.questions.iter().map(|q| q.key).collect();
            let entry_chosen: Vec<Choices> = attempt.questions.iter().map(|q| q.chosen).collect();
            prop_assert_eq!(&entry_keys, keys);
            prop_assert_eq!(&entry_chosen, &expected.chosen);
            seen += 1;
        }
    }
    prop_assert_eq!(seen, entries_expected.len(), "one entry per attempt");

    // The participants' totals.
    let ids: Vec<u64> = totals.keys().copied().collect();
    let standings = hot.standings(campaign, shards, &ids).await.expect("HMGET");
    prop_assert_eq!(
        standings,
        totals.values().map(|t| (*t, false)).collect::<Vec<_>>()
    );

    // The unit totals, the whole campaign's included, and the boards, once the board writer has
    // applied the streams.
    crate::catch_up_boards(hot, campaign, shards).await;
    let all_units: Vec<&str> = std::iter::once(WHOLE_CAMPAIGN).chain(UNITS).collect();
    let redis_units = hot
        .unit_totals(campaign, shards, &all_units)
        .await
        .expect("HMGET");
    for (unit, redis_totals) in all_units.iter().zip(redis_units) {
        prop_assert_eq!(
            redis_totals,
            units.get(unit).copied().unwrap_or_default(),
            "unit {}",
            unit
        );
    }

    // Every board: the scores and members the domain encodes, in Redis's order, which is the
    // domain's published order.
    let mut connection = raw(redis).await;
    let boards: Vec<Option<&str>> = std::iter::once(None).chain(UNITS.map(Some)).collect();
    for board in &boards {
        let on_board = |index: usize| match board {
            None => true,
            Some(unit) => scenario.participants[index].path.contains(unit),
        };
        {
            let key = safequiz_redis::keys::board(campaign, *board);
            let in_redis: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut connection)
                .await
                .expect("ZRANGE");
            let in_redis: Vec<(String, i64)> = in_redis
                .into_iter()
                .map(|(member, score)| (member, score as i64))
                .collect();
            let mut placings: Vec<Placing> = totals
                .iter()
                .filter(|(id, _)| on_board(**id as usize - 1))
                .map(|(id, own)| own.placing(*id))
                .collect();
            placings.sort();
            let expected: Vec<(String, i64)> = placings
                .iter()
                .map(|placing| (placing.member.encode(), placing.score.to_redis_score()))
                .collect();
            prop_assert_eq!(in_redis, expected, "board {}", key);
        }
        // Ranks over all shards count everyone placed before, by the domain's order.
        let everyone: Vec<Placing> = totals
            .iter()
            .filter(|(id, _)| on_board(**id as usize - 1))
            .map(|(id, own)| own.placing(*id))
            .collect();
        for placing in &everyone {
            let participant = placing.member.participant;
            let standing = hot
                .standing(campaign, shards, participant)
                .await
                .expect("HMGET");
            let ranks = hot
                .ranks(campaign, participant, &standing, &[*board])
                .await
                .expect("rank script");
            let before = everyone.iter().filter(|other| *other < placing).count() as u64;
            prop_assert_eq!(
                ranks,
                vec![before + 1],
                "participant {} on {:?}",
                participant,
                board
            );
        }
    }
    Ok(())
}

#[test]
fn finalize_in_lua_gives_what_the_domain_rules_give() {
    let (redis, hot) = hot_state();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut runner = TestRunner::new(Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(1_414),
        failure_persistence: None,
        ..Config::default()
    });
    let case = AtomicU32::new(0);

    let outcome = runner.run(&scenario(), |scenario| {
        // A campaign per case (and per shrinking step), so no case sees another's keys.
        let campaign = format!("finalize-{}", case.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(check(&hot, &redis, &campaign, &scenario))
    });

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
