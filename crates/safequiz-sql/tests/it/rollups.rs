//! Every report equals a brute-force recomputation from the raw rows, on SQLite and on
//! PostgreSQL, over generated records: many participants over a unit tree (and a unit the
//! tree does not have), several days, several attempts a day, questions answered every way,
//! written in shuffled batches (days flushed out of order), with duplicates within and across
//! batches, registrations after their attempts, and batches written concurrently. Then the
//! roll-ups are checked and rebuilt, and a unit is moved to another parent.
//!
//! The brute force here is written from the rules, not from the store's code: distinct
//! participants by set, sums by iteration, the question tally as the reports computed it from
//! every attempt's JSON before there were roll-ups.

use std::collections::{BTreeMap, BTreeSet};

use safequiz_domain::bank::{Choices, MAX_OPTIONS};
use safequiz_domain::draw::OptionOrder;
use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN};
use safequiz_domain::score::{self, Counted, is_full_marks};
use safequiz_sql::Store;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow, StoredQuestion};
use safequiz_sql::reports::{
    COUNT_LIMIT, DayFigures, ParticipantCursor, ParticipantFilter, ParticipantSummary,
    QuestionStat, UnitFigure, WrongAnswer,
};
use safequiz_sql::rollups::{FOLD_ATTEMPTS, FOLD_BATCHES, Folded};
use safequiz_sql::units::UnitRecord;
use safequiz_testkit::{Database, on_both};
use tempfile::TempDir;

const C: &str = "c1";
const D0: i32 = 20_600;
const DAYS: i32 = 6;

/// A deterministic generator (SplitMix64): the record is the same on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

fn unit(id: &str, parent: Option<&str>, kind: &str, depth: i32) -> UnitRecord {
    UnitRecord {
        unit_id: id.to_owned(),
        parent_id: parent.map(str::to_owned),
        name: format!("单位{id}"),
        kind: kind.to_owned(),
        entry_id: if id.starts_with('E') {
            "enterprise"
        } else {
            "region"
        }
        .to_owned(),
        depth,
    }
}

/// Two entries: a province with cities and counties, and an enterprise group.
fn tree() -> Vec<UnitRecord> {
    vec![
        unit("R", None, "province", 0),
        unit("R1", Some("R"), "city", 1),
        unit("R11", Some("R1"), "county", 2),
        unit("R12", Some("R1"), "county", 2),
        unit("R2", Some("R"), "city", 1),
        unit("R21", Some("R2"), "county", 2),
        unit("R22", Some("R2"), "county", 2),
        unit("E", None, "group", 0),
        unit("E1", Some("E"), "enterprise", 1),
        unit("E2", Some("E"), "enterprise", 1),
    ]
}

/// Units participants register with: every leaf, a city, and a unit the table does not have.
const HOMES: [&str; 8] = ["R11", "R12", "R21", "R22", "E1", "E2", "R2", "gone"];

/// The bank: (question, options, key over the bank's order).
const BANK: [(&str, usize, u8); 4] = [
    ("qa", 4, 0b0001),
    ("qb", 4, 0b0101),
    ("qc", 2, 0b0010),
    ("qd", 3, 0b0100),
];

struct Record {
    units: Vec<UnitRecord>,
    /// Every participant, registered or not.
    participants: Vec<ParticipantRow>,
    attempts: Vec<AttemptRow>,
}

/// Participants whose registration is never written (their attempts are): figures count
/// them, searches do not list them.
fn unregistered(participant: i64) -> bool {
    participant % 29 == 0
}

fn generate(seed: u64) -> Record {
    let mut rng = Seeded(seed);
    let mut participants = Vec::new();
    let mut attempts = Vec::new();
    for id in 1..=90_i64 {
        let home = HOMES[rng.below(HOMES.len())];
        let name = ["张三", "李四", "王五", "赵六", "吴_十"][rng.below(5)];
        participants.push(ParticipantRow {
            campaign_id: C.to_owned(),
            participant_id: id,
            name: format!("{name}{id}"),
            phone_masked: format!("13{}****{:04}", rng.below(10), rng.below(10_000)),
            phone_hash: format!("{id:064x}"),
            unit_id: home.to_owned(),
            registered_at_ms: 1_780_000_000_000 + id,
            consent: None,
            phone_sealed: None,
        });
        // One in ten never answers; the rest answer on some days, up to three times a day.
        if rng.below(10) == 0 {
            continue;
        }
        let mut n = 0;
        for day in D0..D0 + DAYS {
            if rng.below(3) != 0 {
                continue;
            }
            for _ in 0..=rng.below(3) {
                n += 1;
                attempts.push(play(&mut rng, id, n, home, day));
            }
        }
    }
    Record {
        units: tree(),
        participants,
        attempts,
    }
}

/// One attempt of three questions of the bank, shown shuffled, answered at random.
fn play(rng: &mut Seeded, participant: i64, n: u32, unit: &str, day: i32) -> AttemptRow {
    let mut picks: Vec<usize> = (0..BANK.len()).collect();
    rng.shuffle(&mut picks);
    let mut questions = Vec::new();
    let mut correct = 0;
    for &pick in &picks[..3] {
        let (id, options, key) = BANK[pick];
        let mut order: Vec<u8> = (0..options as u8).collect();
        rng.shuffle(&mut order);
        let order_type = OptionOrder::from_slice(&order).expect("a permutation");
        let key_shown = order_type.shown(Choices::from_bits(key));
        // Unanswered, the key, or any set.
        let chosen_shown = match rng.below(4) {
            0 => Choices::NONE,
            1 => key_shown,
            _ => Choices::from_bits((rng.next() % (1 << options)) as u8),
        };
        if score::is_correct(key_shown, chosen_shown) {
            correct += 1;
        }
        questions.push(StoredQuestion {
            chosen: chosen_shown.bits(),
            id: id.to_owned(),
            key: key_shown.bits(),
            order,
        });
    }
    let started_at_ms = i64::from(day) * 86_400_000 + participant * 1_000 + i64::from(n);
    let used = 10_000 + rng.below(140_000) as i64;
    AttemptRow {
        campaign_id: C.to_owned(),
        attempt_id: format!("{participant}-{n}"),
        participant_id: participant,
        unit_id: unit.to_owned(),
        day,
        started_at_ms,
        deadline_ms: started_at_ms + 150_000,
        finished_at_ms: started_at_ms + used,
        time_used_ms: used,
        points: correct,
        correct,
        auto_submitted: used > 140_000,
        full_marks: is_full_marks(correct as u32, 3),
        questions: StoredQuestion::encode_all(&questions),
    }
}

/// The record's rows in shuffled batches, some rows twice in a batch and some batches twice.
fn batches(record: &Record, rng: &mut Seeded) -> Vec<Vec<RecordRow>> {
    let mut rows: Vec<RecordRow> = record
        .participants
        .iter()
        .filter(|p| !unregistered(p.participant_id))
        .cloned()
        .map(RecordRow::Participant)
        .chain(record.attempts.iter().cloned().map(RecordRow::Attempt))
        .collect();
    rng.shuffle(&mut rows);
    let mut batches = Vec::new();
    while !rows.is_empty() {
        let size = (1 + rng.below(60)).min(rows.len());
        let mut batch: Vec<RecordRow> = rows.drain(..size).collect();
        if rng.below(3) == 0 {
            let again = batch[rng.below(batch.len())].clone();
            batch.push(again);
        }
        batches.push(batch);
        if rng.below(4) == 0 {
            batches.push(batches[rng.below(batches.len())].clone());
        }
    }
    batches
}

/// A fresh store with the units of `generate(seed)`, that record, and its rows in the shuffled
/// batches of `shuffle` (written by no one yet).
async fn prepared(
    database: Database,
    seed: u64,
    shuffle: u64,
) -> (Store, TempDir, Record, Vec<Vec<RecordRow>>) {
    let (store, dir) = safequiz_testkit::fresh_store(database).await;
    let record = generate(seed);
    store.sync_units(C, &record.units).await.expect("units");
    let batches = batches(&record, &mut Seeded(shuffle));
    (store, dir, record, batches)
}

/// The units of `scope`'s subtree in `units` (`None`: every unit, known or not).
fn subtree(units: &[UnitRecord], scope: &Scope) -> Option<BTreeSet<String>> {
    let root = scope.unit_id()?;
    let parent: BTreeMap<&str, Option<&str>> = units
        .iter()
        .map(|u| (u.unit_id.as_str(), u.parent_id.as_deref()))
        .collect();
    Some(
        parent
            .keys()
            .filter(|&&unit| {
                let mut at = Some(unit);
                while let Some(current) = at {
                    if current == root {
                        return true;
                    }
                    at = parent.get(current).copied().flatten();
                }
                false
            })
            .map(|unit| (*unit).to_owned())
            .collect(),
    )
}

fn in_scope(units: &Option<BTreeSet<String>>, unit: &str) -> bool {
    units.as_ref().is_none_or(|units| units.contains(unit))
}

fn figures_of<'a>(attempts: impl Iterator<Item = &'a AttemptRow>) -> (i64, i64, i64, i64) {
    let mut participants = BTreeSet::new();
    let (mut count, mut points, mut full) = (0, 0, 0);
    for attempt in attempts {
        participants.insert(attempt.participant_id);
        count += 1;
        points += i64::from(attempt.points);
        full += i64::from(attempt.full_marks);
    }
    (participants.len() as i64, count, points, full)
}

fn scoped<'a>(
    record: &'a Record,
    scope: &Scope,
    from: i32,
    to: i32,
) -> impl Iterator<Item = &'a AttemptRow> + use<'a> {
    let units = subtree(&record.units, scope);
    record
        .attempts
        .iter()
        .filter(move |a| in_scope(&units, &a.unit_id) && (from..=to).contains(&a.day))
}

fn expected_figure(record: &Record, unit: &UnitRecord, from: i32, to: i32) -> UnitFigure {
    let (participants, attempts, points, full_marks) =
        figures_of(scoped(record, &Scope::unit(&unit.unit_id), from, to));
    UnitFigure {
        unit_id: unit.unit_id.clone(),
        name: unit.name.clone(),
        kind: unit.kind.clone(),
        headcount: None,
        participants,
        attempts,
        points,
        full_marks,
    }
}

fn scopes(record: &Record) -> Vec<Scope> {
    let mut scopes = vec![Scope::WholeCampaign, Scope::unit("gone")];
    scopes.extend(record.units.iter().map(|u| Scope::unit(&u.unit_id)));
    scopes
}

/// The question tally of the attempts, as the reports made it from the JSON before roll-ups.
fn expected_questions<'a>(attempts: impl Iterator<Item = &'a AttemptRow>) -> Vec<QuestionStat> {
    struct Tally {
        drawn: u64,
        answered: u64,
        correct: u64,
        option_counts: [u64; MAX_OPTIONS],
        options: usize,
        wrong: BTreeMap<u8, u64>,
    }
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for attempt in attempts {
        for question in StoredQuestion::decode_all(&attempt.questions).expect("questions") {
            let order = OptionOrder::from_slice(&question.order).expect("an order");
            let tally = tallies.entry(question.id.clone()).or_insert(Tally {
                drawn: 0,
                answered: 0,
                correct: 0,
                option_counts: [0; MAX_OPTIONS],
                options: 0,
                wrong: BTreeMap::new(),
            });
            tally.drawn += 1;
            tally.options = tally.options.max(question.order.len());
            let shown = Choices::from_bits(question.chosen);
            if shown.is_empty() {
                continue;
            }
            tally.answered += 1;
            let chosen = order.original(shown);
            for option in chosen.indices() {
                tally.option_counts[option] += 1;
            }
            if score::is_correct(Choices::from_bits(question.key), shown) {
                tally.correct += 1;
            } else {
                *tally.wrong.entry(chosen.bits()).or_default() += 1;
            }
        }
    }
    tallies
        .into_iter()
        .map(|(question_id, tally)| {
            let most = tally.wrong.values().copied().max();
            QuestionStat {
                question_id,
                drawn: tally.drawn,
                answered: tally.answered,
                correct: tally.correct,
                option_counts: tally.option_counts[..tally.options].to_vec(),
                most_chosen_wrong: most.map(|count| WrongAnswer {
                    chosen: Choices::from_bits(
                        *tally
                            .wrong
                            .iter()
                            .find(|(_, c)| **c == count)
                            .expect("the maximum is there")
                            .0,
                    ),
                    count,
                }),
            }
        })
        .collect()
}

/// The participants a search lists, best first, from the rows.
fn expected_people(
    record: &Record,
    scope: &Scope,
    filter: &ParticipantFilter,
) -> Vec<ParticipantSummary> {
    let units = subtree(&record.units, scope);
    let names: BTreeMap<&str, &str> = record
        .units
        .iter()
        .map(|u| (u.unit_id.as_str(), u.name.as_str()))
        .collect();
    let mut people: Vec<ParticipantSummary> = record
        .participants
        .iter()
        .filter(|p| in_scope(&units, &p.unit_id) && !unregistered(p.participant_id))
        .filter(|p| {
            filter
                .name
                .as_ref()
                .is_none_or(|n| p.name.contains(n.as_str()))
        })
        .filter_map(|p| {
            let mine: Vec<&AttemptRow> = record
                .attempts
                .iter()
                .filter(|a| a.participant_id == p.participant_id)
                .filter(|a| filter.day.is_none_or(|day| a.day == day))
                .collect();
            if filter.day.is_some() && mine.is_empty() {
                return None;
            }
            Some(ParticipantSummary {
                participant_id: p.participant_id,
                name: p.name.clone(),
                phone_masked: p.phone_masked.clone(),
                unit_id: p.unit_id.clone(),
                unit_name: names.get(p.unit_id.as_str()).unwrap_or(&"").to_string(),
                registered_at_ms: p.registered_at_ms,
                attempts: mine.len() as i64,
                points: mine.iter().map(|a| i64::from(a.points)).sum(),
                full_marks: mine.iter().map(|a| i64::from(a.full_marks)).sum(),
                time_used_ms: mine.iter().map(|a| a.time_used_ms).sum(),
                last_finished_at_ms: mine.iter().map(|a| a.finished_at_ms).max(),
            })
        })
        .filter(|p| filter.min_points.is_none_or(|min| p.points >= min))
        .collect();
    people.sort_by_key(|p| (-p.points, p.time_used_ms, p.participant_id));
    people
}

/// Every page of a search, by cursor.
async fn searched(
    store: &Store,
    scope: &Scope,
    filter: &ParticipantFilter,
) -> Vec<ParticipantSummary> {
    let mut listed = Vec::new();
    let mut after: Option<ParticipantCursor> = None;
    loop {
        let page = store
            .participants_page(C, scope, filter, 7, after.as_ref())
            .await
            .expect("a page");
        let expected_total = expected_people_count(page.total, page.more_than_total);
        listed.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => {
                assert_eq!(expected_total, listed.len() as i64, "{scope}: the count");
                return listed;
            }
        }
    }
}

fn expected_people_count(total: i64, more: bool) -> i64 {
    assert!(
        !more && total <= COUNT_LIMIT,
        "a small record is counted exactly"
    );
    total
}

/// Compares every report of the store with the brute force over `record`.
async fn assert_reports_equal_the_raw_rows(store: &Store, record: &Record, when: &str) {
    store.fold_all_questions().await.expect("the question fold");
    assert_eq!(store.questions_pending(C).await.expect("pending"), 0);
    let last = D0 + DAYS - 1;
    for scope in scopes(record) {
        for from in D0 - 1..=last {
            for to in from..=last + 1 {
                let figures = store
                    .unit_figures(C, &scope, from, to)
                    .await
                    .expect("figures");
                let (participants, attempts, points, full_marks) =
                    figures_of(scoped(record, &scope, from, to));
                assert_eq!(
                    (
                        figures.total.participants,
                        figures.total.attempts,
                        figures.total.points,
                        figures.total.full_marks
                    ),
                    (participants, attempts, points, full_marks),
                    "{when}: the total of {scope} over {from}..={to}"
                );
                let mut children: Vec<UnitFigure> = record
                    .units
                    .iter()
                    .filter(|u| u.parent_id.as_deref() == scope.unit_id())
                    .map(|u| expected_figure(record, u, from, to))
                    .collect();
                children.sort_by(|a, b| a.unit_id.cmp(&b.unit_id));
                assert_eq!(
                    figures.children, children,
                    "{when}: the children of {scope} over {from}..={to}"
                );
            }
        }
        let series = store
            .daily_series(C, &scope, D0 - 1, last + 1)
            .await
            .expect("a series");
        let expected: Vec<DayFigures> = (D0 - 1..=last + 1)
            .map(|day| {
                let (participants, attempts, points, full_marks) =
                    figures_of(scoped(record, &scope, day, day));
                DayFigures {
                    day,
                    participants,
                    attempts,
                    points,
                    full_marks,
                }
            })
            .collect();
        assert_eq!(series, expected, "{when}: the series of {scope}");
        for (from, to) in [(D0, last), (D0 + 1, D0 + 2), (last, last)] {
            let stats = store
                .question_stats(C, &scope, from, to)
                .await
                .expect("stats");
            assert_eq!(
                stats,
                expected_questions(scoped(record, &scope, from, to)),
                "{when}: the questions of {scope} over {from}..={to}"
            );
        }
        let mut filters = vec![
            ParticipantFilter::default(),
            ParticipantFilter {
                name: Some("_".to_owned()),
                ..ParticipantFilter::default()
            },
            ParticipantFilter {
                min_points: Some(2),
                ..ParticipantFilter::default()
            },
        ];
        filters.extend((D0..=last).map(|day| ParticipantFilter {
            day: Some(day),
            ..ParticipantFilter::default()
        }));
        for filter in filters {
            assert_eq!(
                searched(store, &scope, &filter).await,
                expected_people(record, &scope, &filter),
                "{when}: the search of {scope} with {filter:?}"
            );
        }
    }
}

/// Writes the batches in order, retrying a batch the database refused for another
/// transaction's sake (a PostgreSQL deadlock between two writers of the same rows), as the
/// flusher retries a batch.
async fn write(store: &Store, batches: &[Vec<RecordRow>]) {
    for batch in batches {
        let mut tries = 0;
        while let Err(error) = store.insert_batch(batch).await {
            tries += 1;
            assert!(tries < 5 && !error.is_data_error(), "a batch: {error}");
        }
    }
}

async fn reports_equal_a_brute_force_over_the_raw_rows(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 7, 11).await;
    // Another campaign with the same units, which no report of c1 may see.
    let mut other = batches[0].clone();
    for row in &mut other {
        match row {
            RecordRow::Participant(p) => p.campaign_id = "c2".to_owned(),
            RecordRow::Attempt(a) => a.campaign_id = "c2".to_owned(),
        }
    }
    store.sync_units("c2", &record.units).await.expect("units");
    store.insert_batch(&other).await.expect("another campaign");

    write(&store, &batches).await;

    assert_reports_equal_the_raw_rows(&store, &record, "written in batches").await;
    assert_eq!(
        store.check_rollups(C).await.expect("a check"),
        [],
        "the roll-ups equal a rebuild"
    );
    let rebuilt = store.rebuild_rollups(C).await.expect("a rebuild");
    let registered = record
        .participants
        .iter()
        .filter(|p| !unregistered(p.participant_id))
        .count();
    assert_eq!(
        (rebuilt.participants, rebuilt.attempts),
        (registered as u64, record.attempts.len() as u64)
    );
    assert_reports_equal_the_raw_rows(&store, &record, "rebuilt").await;
}
on_both!(reports_equal_a_brute_force_over_the_raw_rows);

async fn batches_written_at_once_by_two_flushers_count_each_attempt_once(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 21, 5).await;
    // Each flusher gets every batch, in its own order: every row is written twice, at once,
    // while the question fold folds what they have written so far.
    let mut reversed = batches.clone();
    reversed.reverse();
    let writing = std::sync::atomic::AtomicBool::new(true);
    let flushers = async {
        tokio::join!(write(&store, &batches), write(&store, &reversed));
        writing.store(false, std::sync::atomic::Ordering::Release);
    };
    let fold = async {
        let mut folded = 0;
        while writing.load(std::sync::atomic::Ordering::Acquire) {
            folded += store.fold_questions(2).await.expect("a fold").attempts;
            tokio::task::yield_now().await;
        }
        folded
    };

    let ((), folded) = tokio::join!(flushers, fold);

    assert!(folded > 0, "the fold ran while the flushers wrote");
    assert_reports_equal_the_raw_rows(&store, &record, "two flushers").await;
    assert_eq!(store.check_rollups(C).await.expect("a check"), []);
}
on_both!(batches_written_at_once_by_two_flushers_count_each_attempt_once);

async fn flushed_attempts_wait_for_the_question_fold_and_are_folded_once(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 9, 2).await;

    write(&store, &batches).await;

    let attempts = record.attempts.len() as i64;
    assert_eq!(
        store.questions_pending(C).await.expect("pending"),
        attempts,
        "each attempt queued once, whatever the copies in and across batches"
    );
    let scope = Scope::Unit(WHOLE_CAMPAIGN.to_owned());
    let before = store
        .question_stats(C, &scope, D0, D0 + DAYS)
        .await
        .expect("stats");
    assert_eq!(before, [], "nothing counted before the fold");
    let figures = store
        .unit_figures(C, &scope, D0, D0 + DAYS)
        .await
        .expect("figures");
    assert_eq!(
        figures.total.attempts, attempts,
        "the other roll-ups at once"
    );

    let first = store.fold_questions(1).await.expect("one batch");
    assert_eq!(first.batches, 1);
    assert_eq!(
        store.questions_pending(C).await.expect("pending"),
        attempts - first.attempts as i64
    );
    let drawn: u64 = store
        .question_stats(C, &scope, D0, D0 + DAYS)
        .await
        .expect("stats")
        .iter()
        .map(|stat| stat.drawn)
        .sum();
    assert_eq!(
        drawn,
        first.attempts * 3,
        "the folded batch's three answers each, once"
    );

    let rest = store.fold_all_questions().await.expect("the rest");
    assert_eq!(first.attempts + rest.attempts, attempts as u64);
    assert_eq!(
        store.fold_questions(32).await.expect("nothing"),
        Folded::default()
    );
    assert_reports_equal_the_raw_rows(&store, &record, "folded").await;
}
on_both!(flushed_attempts_wait_for_the_question_fold_and_are_folded_once);

async fn a_check_and_a_rebuild_count_the_pending_batches_once(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 13, 6).await;
    let (early, late) = batches.split_at(batches.len() / 2);
    write(&store, early).await;
    store.fold_all_questions().await.expect("a fold");
    write(&store, late).await;
    assert!(store.questions_pending(C).await.expect("pending") > 0);

    assert_eq!(store.check_rollups(C).await.expect("a check"), []);
    assert!(
        store.questions_pending(C).await.expect("pending") > 0,
        "a check changes nothing"
    );
    store.rebuild_rollups(C).await.expect("a rebuild");

    assert_eq!(
        store.questions_pending(C).await.expect("pending"),
        0,
        "the rebuild counted the pending attempts from the raw rows"
    );
    assert_reports_equal_the_raw_rows(&store, &record, "rebuilt with batches pending").await;
}
on_both!(a_check_and_a_rebuild_count_the_pending_batches_once);

async fn a_fold_takes_whole_batches_up_to_its_bound_of_attempts(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 17, 3).await;
    write(&store, &batches).await;
    // Each pending batch counted as 40% of the bound (the count only bounds a fold and says
    // what waits; the fold reads the attempts by their ids): two fit in a fold, three do not.
    let share = FOLD_ATTEMPTS * 2 / 5;
    run_sql(
        &store,
        &format!("UPDATE question_pending SET attempts = {share}"),
    )
    .await;
    let queued = store.questions_pending(C).await.expect("pending") / share;
    assert!(queued >= 3, "enough batches for the test: {queued}");

    let first = store.fold_questions(FOLD_BATCHES).await.expect("a fold");

    assert_eq!((first.batches, first.more), (2, true), "{first:?}");
    let (mut folds, mut last) = (1, first);
    while last.more {
        last = store.fold_questions(FOLD_BATCHES).await.expect("a fold");
        folds += 1;
    }
    assert_eq!(folds, (queued + 1) / 2, "two batches a fold, then the rest");
    assert_eq!(store.questions_pending(C).await.expect("pending"), 0);
    assert_reports_equal_the_raw_rows(&store, &record, "folded under the bound").await;
}
on_both!(a_fold_takes_whole_batches_up_to_its_bound_of_attempts);

async fn a_unit_moved_to_another_parent_takes_its_figures_along(database: Database) {
    let (store, _dir, mut record, batches) = prepared(database, 3, 8).await;
    write(&store, &batches).await;

    // County R12 moves from city R1 to city R2, and the unit `gone` appears under E.
    for unit in &mut record.units {
        if unit.unit_id == "R12" {
            unit.parent_id = Some("R2".to_owned());
        }
    }
    record.units.push(unit("gone", Some("E"), "enterprise", 1));
    store
        .sync_units(C, &record.units)
        .await
        .expect("a changed tree");

    assert_reports_equal_the_raw_rows(&store, &record, "after the move").await;
    assert_eq!(store.check_rollups(C).await.expect("a check"), []);
}
on_both!(a_unit_moved_to_another_parent_takes_its_figures_along);

async fn a_check_finds_roll_ups_that_differ_from_the_raw_rows(database: Database) {
    let (store, _dir, record, batches) = prepared(database, 4, 1).await;
    write(&store, &batches).await;
    // A row written behind the roll-ups' back: the raw rows now hold an attempt they miss.
    let extra = &record.attempts[0];
    let copy = "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
         started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
         auto_submitted, full_marks, questions) \
         SELECT campaign_id, 'extra', participant_id, unit_id, day, started_at_ms, deadline_ms, \
         finished_at_ms, time_used_ms, points, correct, auto_submitted, full_marks, questions \
         FROM attempts WHERE campaign_id = $1 AND attempt_id = $2";
    let written = match &store {
        Store::Sqlite(pool) => sqlx::query(copy)
            .bind(C)
            .bind(&extra.attempt_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()),
        Store::Postgres(pool) => sqlx::query(copy)
            .bind(C)
            .bind(&extra.attempt_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()),
    };
    assert_eq!(written.expect("a row written behind the roll-ups' back"), 1);

    let differences = store.check_rollups(C).await.expect("a check");

    let tables: BTreeSet<&str> = differences.iter().map(|d| d.table).collect();
    assert!(tables.contains("unit_days"), "{differences:#?}");
    assert!(tables.contains("participant_totals"), "{differences:#?}");
    assert!(
        differences.iter().any(|d| d
            .to_string()
            .contains(&format!("{} day {}", extra.unit_id, extra.day))),
        "{differences:#?}"
    );
    store.rebuild_rollups(C).await.expect("a rebuild");
    assert_eq!(
        store.check_rollups(C).await.expect("a check"),
        [],
        "repaired"
    );
}
on_both!(a_check_finds_roll_ups_that_differ_from_the_raw_rows);

/// Runs the migrations before roll-ups existed (up to `0004`) on `store`'s database.
async fn migrate_before_rollups(store: &Store, folder: &std::path::Path) {
    migrate_before(store, folder, "0005").await;
}

/// Runs the migrations numbered before `first_left_out` on `store`'s database.
async fn migrate_before(store: &Store, folder: &std::path::Path, first_left_out: &str) {
    let backend = match store {
        Store::Sqlite(_) => "sqlite",
        Store::Postgres(_) => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let old = folder.join("old-migrations");
    std::fs::create_dir_all(&old).expect("a folder for the old migrations");
    for entry in std::fs::read_dir(&source).expect("the migrations") {
        let path = entry.expect("a migration").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        if name.as_str() < first_left_out {
            std::fs::copy(&path, old.join(&name)).expect("a copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.as_path())
        .await
        .expect("the old migrations");
    match store {
        Store::Sqlite(pool) => migrator.run(pool).await,
        Store::Postgres(pool) => migrator.run(pool).await,
    }
    .expect("the old migrations run");
}

/// Writes `record` as the flusher wrote it before roll-ups existed: rows only.
async fn write_raw(store: &Store, record: &Record) {
    macro_rules! rows {
        ($pool:expr) => {{
            let pool = $pool;
            for unit in &record.units {
                sqlx::query(
                    "INSERT INTO units (campaign_id, unit_id, parent_id, name, kind, entry_id, \
                     depth) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(C)
                .bind(&unit.unit_id)
                .bind(&unit.parent_id)
                .bind(&unit.name)
                .bind(&unit.kind)
                .bind(&unit.entry_id)
                .bind(unit.depth)
                .execute(pool)
                .await
                .expect("a unit");
            }
            for p in record.participants.iter().filter(|p| !unregistered(p.participant_id)) {
                sqlx::query(
                    "INSERT INTO participants (campaign_id, participant_id, name, phone_masked, \
                     phone_hash, unit_id, registered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(C)
                .bind(p.participant_id)
                .bind(&p.name)
                .bind(&p.phone_masked)
                .bind(&p.phone_hash)
                .bind(&p.unit_id)
                .bind(p.registered_at_ms)
                .execute(pool)
                .await
                .expect("a participant");
            }
        }};
    }
    match store {
        Store::Sqlite(pool) => rows!(pool),
        Store::Postgres(pool) => rows!(pool),
    }
    // Attempts through the old columns; `questions` is text on SQLite and JSONB on PostgreSQL.
    for a in &record.attempts {
        let text = "INSERT INTO attempts (campaign_id, attempt_id, participant_id, unit_id, day, \
             started_at_ms, deadline_ms, finished_at_ms, time_used_ms, points, correct, \
             auto_submitted, full_marks, questions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CAST($14 AS {json}))";
        macro_rules! attempt {
            ($pool:expr, $json:expr) => {
                sqlx::query(sqlx::AssertSqlSafe(text.replace("{json}", $json)))
                    .bind(C)
                    .bind(&a.attempt_id)
                    .bind(a.participant_id)
                    .bind(&a.unit_id)
                    .bind(a.day)
                    .bind(a.started_at_ms)
                    .bind(a.deadline_ms)
                    .bind(a.finished_at_ms)
                    .bind(a.time_used_ms)
                    .bind(a.points)
                    .bind(a.correct)
                    .bind(a.auto_submitted)
                    .bind(a.full_marks)
                    .bind(&a.questions)
                    .execute($pool)
                    .await
                    .map(|_| ())
            };
        }
        match store {
            Store::Sqlite(pool) => attempt!(pool, "TEXT"),
            Store::Postgres(pool) => attempt!(pool, "JSONB"),
        }
        .expect("an attempt");
    }
}

async fn a_record_written_before_rollups_is_counted_at_the_first_start_after_the_upgrade(
    database: Database,
) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = match database {
        Database::Sqlite => format!("sqlite://{}", folder.path().join("old.sqlite").display()),
        Database::Postgres => {
            safequiz_testkit::PostgresCluster::get()
                .fresh_database()
                .await
        }
    };
    let store = Store::connect_lazy(&safequiz_sql::DatabaseSettings {
        url: secrecy::SecretString::from(url),
        max_connections: 2,
    })
    .expect("a store");
    migrate_before_rollups(&store, folder.path()).await;
    let record = generate(13);
    write_raw(&store, &record).await;

    // The first start after the upgrade: the new migration, then the units' sync.
    store.migrate().await.expect("the upgrade");
    store.sync_units(C, &record.units).await.expect("units");

    assert_reports_equal_the_raw_rows(&store, &record, "after the upgrade").await;
    assert_eq!(store.check_rollups(C).await.expect("a check"), []);
    store.migrate().await.expect("a second start");
    assert_eq!(
        store.check_rollups(C).await.expect("a check"),
        [],
        "a second start builds nothing twice"
    );
}
on_both!(a_record_written_before_rollups_is_counted_at_the_first_start_after_the_upgrade);

/// Runs `sql` (no parameters) on `store`'s database.
async fn run_sql(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()),
        Store::Postgres(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .expect("the statements run");
}

async fn question_counters_kept_by_text_keys_are_carried_over_to_numbered_keys(database: Database) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = match database {
        Database::Sqlite => format!("sqlite://{}", folder.path().join("old.sqlite").display()),
        Database::Postgres => {
            safequiz_testkit::PostgresCluster::get()
                .fresh_database()
                .await
        }
    };
    let store = Store::connect_lazy(&safequiz_sql::DatabaseSettings {
        url: secrecy::SecretString::from(url),
        max_connections: 2,
    })
    .expect("a store");
    // The counters as `0005_rollups` kept them, for two campaigns and two levels.
    migrate_before(&store, folder.path(), "0006").await;
    let day = D0;
    run_sql(
        &store,
        &format!(
            "INSERT INTO question_days (campaign_id, unit_id, day, question_id, chosen, correct, \
             options, answers) VALUES \
             ('c1', '*', {day}, 'qa', 1, TRUE, 4, 3), \
             ('c1', '*', {day}, 'qa', 2, FALSE, 4, 2), \
             ('c1', '*', {day}, 'qb', 0, FALSE, 2, 1), \
             ('c1', 'u1', {day}, 'qa', 2, FALSE, 4, 2), \
             ('c2', '*', {day}, 'qa', 4, FALSE, 3, 7)"
        ),
    )
    .await;

    store.migrate().await.expect("the upgrade");

    let stats = |campaign: &'static str, scope: Scope| {
        let store = store.clone();
        async move {
            store
                .question_stats(campaign, &scope, day, day)
                .await
                .expect("question stats")
        }
    };
    let qa_whole = QuestionStat {
        question_id: "qa".to_owned(),
        drawn: 5,
        answered: 5,
        correct: 3,
        option_counts: vec![3, 2, 0, 0],
        most_chosen_wrong: Some(WrongAnswer {
            chosen: Choices::from_bits(2),
            count: 2,
        }),
    };
    let qb_whole = QuestionStat {
        question_id: "qb".to_owned(),
        drawn: 1,
        answered: 0,
        correct: 0,
        option_counts: vec![0, 0],
        most_chosen_wrong: None,
    };
    assert_eq!(
        stats("c1", Scope::WholeCampaign).await,
        [qa_whole, qb_whole]
    );
    let qa_unit = QuestionStat {
        question_id: "qa".to_owned(),
        drawn: 2,
        answered: 2,
        correct: 0,
        option_counts: vec![0, 2, 0, 0],
        most_chosen_wrong: Some(WrongAnswer {
            chosen: Choices::from_bits(2),
            count: 2,
        }),
    };
    assert_eq!(stats("c1", Scope::unit("u1")).await, [qa_unit]);
    let qa_other = QuestionStat {
        question_id: "qa".to_owned(),
        drawn: 7,
        answered: 7,
        correct: 0,
        option_counts: vec![0, 0, 7],
        most_chosen_wrong: Some(WrongAnswer {
            chosen: Choices::from_bits(4),
            count: 7,
        }),
    };
    assert_eq!(stats("c2", Scope::WholeCampaign).await, [qa_other]);
}
on_both!(question_counters_kept_by_text_keys_are_carried_over_to_numbered_keys);

/// [`expected_people`] of `scope` (every day) when the campaign counts `counted`: a
/// participant's points and time are those of their best attempt (more points, then less time,
/// then the earlier) or of their last (the highest number), written from the rule of
/// docs/design.md §3.4, not from the store's code; attempts and full marks still count all.
fn expected_counted_people(
    record: &Record,
    scope: &Scope,
    counted: Counted,
) -> Vec<ParticipantSummary> {
    let number = |a: &AttemptRow| -> u32 {
        let (_, n) = a.attempt_id.rsplit_once('-').expect("an attempt id");
        n.parse().expect("an attempt number")
    };
    let mut people = expected_people(record, scope, &ParticipantFilter::default());
    for person in &mut people {
        let mine = record
            .attempts
            .iter()
            .filter(|a| a.participant_id == person.participant_id);
        let chosen = match counted {
            Counted::Sum => continue,
            Counted::Best => mine.max_by_key(|a| {
                (
                    a.points,
                    std::cmp::Reverse(a.time_used_ms),
                    std::cmp::Reverse(number(a)),
                )
            }),
            Counted::Last => mine.max_by_key(|a| number(a)),
        };
        if let Some(attempt) = chosen {
            person.points = i64::from(attempt.points);
            person.time_used_ms = attempt.time_used_ms;
        }
    }
    people.sort_by_key(|p| (-p.points, p.time_used_ms, p.participant_id));
    people
}

async fn assert_counted_people(store: &Store, record: &Record, counted: Counted, when: &str) {
    for scope in scopes(record) {
        assert_eq!(
            searched(store, &scope, &ParticipantFilter::default()).await,
            expected_counted_people(record, &scope, counted),
            "{when}: {scope}, counted {}",
            counted.as_str()
        );
    }
    assert_eq!(
        store.check_rollups(C).await.expect("a check"),
        [],
        "{when}: the roll-ups equal a rebuild"
    );
}

// Under `best` and `last` a participant's totals row holds the counted score (issue 18: the
// administrator's export and search show 总分 as the participant's score), whatever order the
// attempts reach the record in; a rebuild and a change of policy give the same.
async fn participant_totals_count_the_best_or_the_last_attempt(database: Database) {
    let (store, _dir) = safequiz_testkit::fresh_store(database).await;
    let record = generate(7);
    let mut rng = Seeded(13);
    store.sync_units(C, &record.units).await.expect("units");
    store
        .sync_counting(C, Counted::Best)
        .await
        .expect("the policy");
    write(&store, &batches(&record, &mut rng)).await;
    assert_counted_people(&store, &record, Counted::Best, "written in batches").await;
    store.rebuild_rollups(C).await.expect("a rebuild");
    assert_counted_people(&store, &record, Counted::Best, "rebuilt").await;
    for counted in [Counted::Last, Counted::Sum, Counted::Best] {
        store.sync_counting(C, counted).await.expect("the policy");
        assert_counted_people(&store, &record, counted, "after a change of policy").await;
    }
    // An exclusion takes a participant's counted score off and its undo counts it again.
    let who = record.attempts[0].participant_id;
    assert!(
        store
            .exclude_participant(C, who, "复核", "organizer:t", 5)
            .await
            .expect("exclude")
    );
    assert_eq!(store.check_rollups(C).await.expect("a check"), []);
    assert!(
        store
            .undo_exclusion(C, who, "复核", "organizer:t", 6)
            .await
            .expect("undo")
    );
    assert_counted_people(&store, &record, Counted::Best, "after an exclusion's undo").await;
    // A day's search lists that day's attempts summed, under every policy.
    let day = ParticipantFilter {
        day: Some(D0 + 1),
        ..ParticipantFilter::default()
    };
    assert_eq!(
        searched(&store, &Scope::WholeCampaign, &day).await,
        expected_people(&record, &Scope::WholeCampaign, &day)
    );
}
on_both!(participant_totals_count_the_best_or_the_last_attempt);
