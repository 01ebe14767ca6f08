//! Organizer reports on SQLite and on PostgreSQL, over a small record written through the
//! flusher's insert path: sums checked against figures computed by hand, scopes that never see
//! a neighbour's rows, every filter, and day ranges.
//!
//! The record (campaign `c1`, days D-1 to D2):
//!
//! ```text
//! 130000 河北省 ── 130100 石家庄市 ── 130102 长安区: p1 张三, p2 李四, p7 周九 (no attempt)
//!              │                  └─ 130104 桥西区: p3 王五, p8 吴_十
//!              └─ 130200 唐山市 ──── 130203 路北区: p4 赵六
//! 110000 北京市 ── 110101 东城区: p5 钱七
//! CE 中央企业 ──── CE001 某集团: p6 孙八
//! ```
//!
//! Questions: `qa` (single, key A), `qb` (multiple, key A+C), `qc` (true/false, key F), shown in
//! shuffled option orders; answers are written below in the bank's order.

use futures_util::TryStreamExt;
use safequiz_domain::bank::Choices;
use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN};
use safequiz_domain::score::is_full_marks;
use safequiz_sql::Store;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
use safequiz_sql::reports::{
    DayFigures, ParticipantCursor, ParticipantFilter, ParticipantSummary, ReportError, UnitFigure,
    WrongAnswer,
};
use safequiz_sql::units::UnitRecord;
use safequiz_testkit::{Database, on_both};
use tempfile::TempDir;

const C: &str = "c1";
const D0: i32 = 20_614;
const D1: i32 = D0 + 1;
const D2: i32 = D0 + 2;

/// The scope `text` names.
fn named(text: &str) -> Scope {
    Scope::parse(text).expect("a scope")
}

/// A migrated store holding the record above; the folder holds the SQLite file.
async fn store_with_record(database: Database) -> (Store, TempDir) {
    let (store, dir) = safequiz_testkit::fresh_store(database).await;
    store.sync_units(C, &units()).await.expect("units");
    // Another campaign with the same units and a participant, which no report of c1 may see.
    store.sync_units("c2", &units()).await.expect("units");
    let mut rows: Vec<RecordRow> = participants()
        .into_iter()
        .map(RecordRow::Participant)
        .collect();
    rows.extend(attempts().into_iter().map(RecordRow::Attempt));
    let mut other = participant(1, "张三", "138****1234", "130102");
    other.campaign_id = "c2".to_owned();
    rows.push(RecordRow::Participant(other));
    store.insert_batch(&rows).await.expect("insert");
    store.fold_all_questions().await.expect("the question fold");
    (store, dir)
}

fn units() -> Vec<UnitRecord> {
    let unit =
        |id: &str, parent: Option<&str>, name: &str, kind: &str, entry: &str, depth| UnitRecord {
            unit_id: id.to_owned(),
            parent_id: parent.map(str::to_owned),
            name: name.to_owned(),
            kind: kind.to_owned(),
            entry_id: entry.to_owned(),
            depth,
        };
    vec![
        unit("130000", None, "河北省", "province", "region", 0),
        unit("130100", Some("130000"), "石家庄市", "city", "region", 1),
        unit("130102", Some("130100"), "长安区", "county", "region", 2),
        unit("130104", Some("130100"), "桥西区", "county", "region", 2),
        unit("130200", Some("130000"), "唐山市", "city", "region", 1),
        unit("130203", Some("130200"), "路北区", "county", "region", 2),
        unit("110000", None, "北京市", "province", "region", 0),
        unit("110101", Some("110000"), "东城区", "county", "region", 1),
        unit("CE", None, "中央企业", "group", "enterprise", 0),
        unit("CE001", Some("CE"), "某集团", "enterprise", "enterprise", 1),
    ]
}

fn participant(id: i64, name: &str, phone: &str, unit: &str) -> ParticipantRow {
    ParticipantRow {
        campaign_id: C.to_owned(),
        participant_id: id,
        name: name.to_owned(),
        phone_masked: phone.to_owned(),
        phone_hash: format!("{id:064x}"),
        unit_id: unit.to_owned(),
        registered_at_ms: 1_780_000_000_000 + id,
        consent: None,
        phone_sealed: None,
    }
}

fn participants() -> Vec<ParticipantRow> {
    vec![
        participant(1, "张三", "138****1234", "130102"),
        participant(2, "李四", "139****5678", "130102"),
        participant(3, "王五", "137****1234", "130104"),
        participant(4, "赵六", "136****0000", "130203"),
        participant(5, "钱七", "135****4321", "110101"),
        participant(6, "孙八", "131****1111", "CE001"),
        participant(7, "周九", "132****2222", "130102"),
        participant(8, "吴_十", "133****3333", "130104"),
    ]
}

/// One drawn question: its id, the bank's option indices in display order, and the key and
/// the choice over the bank's order.
struct Q {
    id: &'static str,
    order: &'static [u8],
    key: &'static [u8],
    chosen: &'static [u8],
}

const fn q(id: &'static str, order: &'static [u8], key: &'static [u8], chosen: &'static [u8]) -> Q {
    Q {
        id,
        order,
        key,
        chosen,
    }
}

const QA: (&str, &[u8]) = ("qa", &[0]);
const QB: (&str, &[u8]) = ("qb", &[0, 2]);
const QC: (&str, &[u8]) = ("qc", &[1]);

impl Q {
    /// A set over the bank's order as the flusher stores it: bits over display positions.
    fn shown(&self, original: &[u8]) -> u8 {
        original.iter().fold(0, |bits, option| {
            let position = self
                .order
                .iter()
                .position(|o| o == option)
                .expect("the option is shown");
            bits | 1 << position
        })
    }

    fn correct(&self) -> bool {
        !self.chosen.is_empty() && self.shown(self.chosen) == self.shown(self.key)
    }
}

fn attempt(
    participant: i64,
    n: u32,
    unit: &str,
    day: i32,
    used_ms: i64,
    questions: &[Q],
) -> AttemptRow {
    let json: Vec<String> = questions
        .iter()
        .map(|q| {
            format!(
                r#"{{"id": "{}", "order": {:?}, "key": {}, "chosen": {}}}"#,
                q.id,
                q.order,
                q.shown(q.key),
                q.shown(q.chosen)
            )
        })
        .collect();
    let correct = questions.iter().filter(|q| q.correct()).count() as i32;
    let started_at_ms = i64::from(day) * 86_400_000 + participant * 1_000 + i64::from(n);
    AttemptRow {
        campaign_id: C.to_owned(),
        attempt_id: format!("{participant}-{n}"),
        participant_id: participant,
        unit_id: unit.to_owned(),
        day,
        started_at_ms,
        deadline_ms: started_at_ms + 150_000,
        finished_at_ms: started_at_ms + used_ms,
        time_used_ms: used_ms,
        points: correct,
        correct,
        auto_submitted: used_ms == 150_000,
        full_marks: is_full_marks(correct as u32, questions.len() as u32),
        questions: format!("[{}]", json.join(", ")),
    }
}

fn attempts() -> Vec<AttemptRow> {
    let (a, b, c) = (QA, QB, QC);
    vec![
        // A1: p1 on D0, both correct.
        attempt(
            1,
            1,
            "130102",
            D0,
            30_000,
            &[
                q(a.0, &[1, 0, 2, 3], a.1, &[0]),
                q(b.0, &[0, 1, 2, 3], b.1, &[0, 2]),
            ],
        ),
        // A2: p1 on D1, one correct.
        attempt(
            1,
            2,
            "130102",
            D1,
            50_000,
            &[q(a.0, &[0, 1, 2, 3], a.1, &[1]), q(c.0, &[1, 0], c.1, &[1])],
        ),
        // A3: p2 on D0, none correct.
        attempt(
            2,
            1,
            "130102",
            D0,
            100_000,
            &[
                q(a.0, &[2, 3, 0, 1], a.1, &[2]),
                q(b.0, &[3, 2, 1, 0], b.1, &[0]),
            ],
        ),
        // A4: p3 on D0, submitted by the server: qa unanswered, qc wrong.
        attempt(
            3,
            1,
            "130104",
            D0,
            150_000,
            &[q(a.0, &[3, 1, 0, 2], a.1, &[]), q(c.0, &[0, 1], c.1, &[0])],
        ),
        // A5: p4 on D1, both correct.
        attempt(
            4,
            1,
            "130203",
            D1,
            20_000,
            &[
                q(a.0, &[0, 2, 1, 3], a.1, &[0]),
                q(b.0, &[2, 0, 3, 1], b.1, &[2, 0]),
            ],
        ),
        // A6: p5 (Beijing) on D0, both correct.
        attempt(
            5,
            1,
            "110101",
            D0,
            40_000,
            &[q(a.0, &[3, 2, 1, 0], a.1, &[0]), q(c.0, &[1, 0], c.1, &[1])],
        ),
        // A7: p6 (enterprise) on D2, none correct.
        attempt(
            6,
            1,
            "CE001",
            D2,
            60_000,
            &[
                q(a.0, &[1, 2, 3, 0], a.1, &[1]),
                q(b.0, &[0, 1, 2, 3], b.1, &[0, 1]),
            ],
        ),
        // A8: p2 on D2, both correct.
        attempt(
            2,
            2,
            "130102",
            D2,
            45_000,
            &[
                q(a.0, &[0, 1, 3, 2], a.1, &[0]),
                q(b.0, &[1, 3, 0, 2], b.1, &[0, 2]),
            ],
        ),
        // A9: p8 on D1, one correct.
        attempt(
            8,
            1,
            "130104",
            D1,
            70_000,
            &[
                q(a.0, &[1, 0, 3, 2], a.1, &[1]),
                q(b.0, &[2, 1, 0, 3], b.1, &[0, 2]),
            ],
        ),
        // A10: p3 on D-1, before the usual ranges, both correct.
        attempt(
            3,
            2,
            "130104",
            D0 - 1,
            10_000,
            &[q(a.0, &[0, 1, 2, 3], a.1, &[0]), q(c.0, &[1, 0], c.1, &[1])],
        ),
    ]
}

async fn ids(store: &Store, scope: &str, filter: &ParticipantFilter) -> Vec<i64> {
    let page = store
        .participants_page(C, &named(scope), filter, 100, None)
        .await
        .expect("a page");
    assert_eq!(
        page.total,
        page.items.len() as i64,
        "the count matches the rows"
    );
    assert!(
        !page.more_than_total && page.next.is_none(),
        "one page holds them all"
    );
    page.items.iter().map(|p| p.participant_id).collect()
}

async fn participants_are_listed_best_first_with_their_totals(database: Database) {
    let (store, _dir) = store_with_record(database).await;

    let page = store
        .participants_page(
            C,
            &named(WHOLE_CAMPAIGN),
            &ParticipantFilter::default(),
            100,
            None,
        )
        .await
        .expect("a page");
    let rows = page.items;

    assert_eq!(page.total, 8);
    let order: Vec<i64> = rows.iter().map(|p| p.participant_id).collect();
    assert_eq!(order, [1, 4, 5, 2, 3, 8, 7, 6], "points desc, time asc, id");
    let p1 = &rows[0];
    let a2_finished = i64::from(D1) * 86_400_000 + 1_000 + 2 + 50_000;
    assert_eq!(
        *p1,
        ParticipantSummary {
            participant_id: 1,
            name: "张三".to_owned(),
            phone_masked: "138****1234".to_owned(),
            unit_id: "130102".to_owned(),
            unit_name: "长安区".to_owned(),
            registered_at_ms: 1_780_000_000_001,
            attempts: 2,
            points: 3,
            full_marks: 1,
            time_used_ms: 80_000,
            last_finished_at_ms: Some(a2_finished),
        }
    );
    let p3 = rows.iter().find(|p| p.participant_id == 3).expect("p3");
    assert_eq!(
        (p3.attempts, p3.points, p3.full_marks, p3.time_used_ms),
        (2, 2, 1, 160_000),
        "an automatic submission counts like any attempt"
    );
    let p7 = rows.iter().find(|p| p.participant_id == 7).expect("p7");
    assert_eq!(
        (
            p7.attempts,
            p7.points,
            p7.full_marks,
            p7.time_used_ms,
            p7.last_finished_at_ms
        ),
        (0, 0, 0, 0, None),
        "a participant without attempts is listed with zeros"
    );
}
on_both!(participants_are_listed_best_first_with_their_totals);

async fn a_scope_sees_its_subtree_and_never_a_neighbour(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let all = ParticipantFilter::default();

    let cases: [(&str, &[i64], &str); 6] = [
        (
            "130000",
            &[1, 4, 2, 3, 8, 7],
            "a province sees its cities and counties",
        ),
        ("130100", &[1, 2, 3, 8, 7], "a city sees its counties only"),
        (
            "130102",
            &[1, 2, 7],
            "a county never sees the neighbouring county",
        ),
        (
            "130104",
            &[3, 8],
            "the neighbouring county sees only its own",
        ),
        ("110000", &[5], "another province sees only its own"),
        ("unknown", &[], "an unknown unit sees nobody"),
    ];
    for (scope, expected, why) in cases {
        assert_eq!(ids(&store, scope, &all).await, expected, "{why}");
    }
}
on_both!(a_scope_sees_its_subtree_and_never_a_neighbour);

async fn filters_narrow_the_list(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let filter = |f: fn(&mut ParticipantFilter)| {
        let mut filter = ParticipantFilter::default();
        f(&mut filter);
        filter
    };

    let cases: Vec<(&str, ParticipantFilter, Vec<i64>, &str)> = vec![
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.name = Some("张".into())),
            vec![1],
            "a part of the name",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.name = Some("_".into())),
            vec![8],
            "an underscore is literal",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.name = Some("%".into())),
            vec![],
            "a percent sign is literal",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.phone_suffix = Some("1234".into())),
            vec![1, 3],
            "phone suffix",
        ),
        (
            "130100",
            filter(|f| f.phone_suffix = Some("1234".into())),
            vec![1, 3],
            "suffix in scope",
        ),
        (
            "110000",
            filter(|f| f.phone_suffix = Some("1234".into())),
            vec![],
            "suffix, other scope",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.phone_suffix = Some("138".into())),
            vec![],
            "only the end of the phone",
        ),
        (
            "130000",
            filter(|f| f.unit_id = Some("130100".into())),
            vec![1, 2, 3, 8, 7],
            "a unit's subtree",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.unit_id = Some("130104".into())),
            vec![3, 8],
            "a county of the campaign",
        ),
        (
            "130104",
            filter(|f| f.unit_id = Some("130100".into())),
            vec![],
            "an ancestor of the scope",
        ),
        (
            "110000",
            filter(|f| f.unit_id = Some("130102".into())),
            vec![],
            "a unit of a neighbour",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.min_points = Some(2)),
            vec![1, 4, 5, 2, 3],
            "at least 2 points",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.max_points = Some(1)),
            vec![8, 7, 6],
            "at most 1 point",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| {
                f.min_points = Some(1);
                f.max_points = Some(2)
            }),
            vec![4, 5, 2, 3, 8],
            "between",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.day = Some(D0)),
            vec![1, 5, 2, 3],
            "those who answered on day D0",
        ),
        (
            "130100",
            filter(|f| f.day = Some(D0)),
            vec![1, 2, 3],
            "day D0 within the city",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| {
                f.day = Some(D1);
                f.min_points = Some(2)
            }),
            vec![4],
            "day D1 with 2 points that day",
        ),
        (
            WHOLE_CAMPAIGN,
            filter(|f| f.day = Some(D2 + 1)),
            vec![],
            "a day without attempts",
        ),
    ];
    for (scope, filter, expected, why) in cases {
        assert_eq!(ids(&store, scope, &filter).await, expected, "{why}");
    }
}
on_both!(filters_narrow_the_list);

async fn a_day_filter_counts_that_days_attempts_only(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let filter = ParticipantFilter {
        day: Some(D0),
        ..ParticipantFilter::default()
    };

    let rows = store
        .participants_page(C, &named(WHOLE_CAMPAIGN), &filter, 100, None)
        .await
        .expect("a page")
        .items;

    let p1 = &rows[0];
    assert_eq!(p1.participant_id, 1);
    assert_eq!(
        (p1.attempts, p1.points, p1.full_marks, p1.time_used_ms),
        (1, 2, 1, 30_000),
        "only A1 of day D0, not A2 of day D1"
    );
}
on_both!(a_day_filter_counts_that_days_attempts_only);

async fn pages_follow_each_other_by_cursor_in_the_same_order(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let all = ParticipantFilter::default();
    for scope in [WHOLE_CAMPAIGN, "130000"] {
        let everyone: Vec<i64> = ids(&store, scope, &all).await;
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;

        loop {
            let page = store
                .participants_page(C, &named(scope), &all, 3, after.as_ref())
                .await
                .expect("a page");
            assert_eq!(
                page.total,
                everyone.len() as i64,
                "every page counts them all"
            );
            seen.extend(page.items.iter().map(|p| p.participant_id));
            pages += 1;
            match page.next {
                Some(next) => {
                    assert_eq!(page.items.len(), 3, "a page before the last is full");
                    assert_eq!(
                        ParticipantCursor::parse(&next.encode()),
                        Some(next),
                        "the cursor's text form reads back"
                    );
                    after = Some(next);
                }
                None => break,
            }
        }

        assert_eq!(seen, everyone, "scope {scope}: the pages cut the one order");
        assert_eq!(pages, everyone.len().div_ceil(3), "scope {scope}");
    }
    let last = store
        .participants_page(C, &named(WHOLE_CAMPAIGN), &all, 100, None)
        .await
        .expect("a page")
        .items
        .pop()
        .expect("someone");
    let past = store
        .participants_page(
            C,
            &named(WHOLE_CAMPAIGN),
            &all,
            3,
            Some(&ParticipantCursor::after(&last)),
        )
        .await
        .expect("a page past the end");
    assert_eq!(
        (past.items.len(), past.next),
        (0, None),
        "a page past the end is empty"
    );
}
on_both!(pages_follow_each_other_by_cursor_in_the_same_order);

async fn the_stream_yields_the_same_rows_as_the_pages(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    for (scope, filter) in [
        (WHOLE_CAMPAIGN, ParticipantFilter::default()),
        ("130100", ParticipantFilter::default()),
        (
            "130000",
            ParticipantFilter {
                day: Some(D1),
                ..ParticipantFilter::default()
            },
        ),
    ] {
        let page = store
            .participants_page(C, &named(scope), &filter, 1_000, None)
            .await
            .expect("a page")
            .items;

        let streamed: Vec<ParticipantSummary> = store
            .participant_stream(C, &named(scope), &filter)
            .try_collect()
            .await
            .expect("the stream");

        assert_eq!(streamed, page, "scope {scope}");
    }
}
on_both!(the_stream_yields_the_same_rows_as_the_pages);

async fn a_participants_attempts_show_answers_in_the_banks_order(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let set = |options: &[usize]| options.iter().fold(Choices::NONE, |s, &o| s.with(o));

    let attempts = store
        .participant_attempts(C, &named("130100"), 1)
        .await
        .expect("attempts")
        .expect("p1 is within the city");

    assert_eq!(
        attempts
            .iter()
            .map(|a| a.attempt_id.as_str())
            .collect::<Vec<_>>(),
        ["1-1", "1-2"],
        "in the order they started"
    );
    let a2 = &attempts[1];
    assert_eq!(
        (a2.day, a2.points, a2.correct, a2.auto_submitted),
        (D1, 1, 1, false)
    );
    let answers: Vec<(&str, Choices, Choices, bool)> = a2
        .answers
        .iter()
        .map(|a| (a.question_id.as_str(), a.key, a.chosen, a.correct))
        .collect();
    assert_eq!(
        answers,
        [
            ("qa", set(&[0]), set(&[1]), false),
            ("qc", set(&[1]), set(&[1]), true),
        ]
    );
    assert_eq!(a2.answers[1].option_order, [1, 0]);
    let a1 = &attempts[0];
    assert_eq!(
        (a1.answers[0].key, a1.answers[0].chosen),
        (set(&[0]), set(&[0])),
        "shown second, original first"
    );

    let p3 = store
        .participant_attempts(C, &named(WHOLE_CAMPAIGN), 3)
        .await
        .expect("attempts")
        .expect("p3");
    assert!(p3[1].auto_submitted, "A4 was submitted by the server");
    assert_eq!(p3[1].answers[0].chosen, Choices::NONE, "qa unanswered");
    assert!(!p3[1].answers[0].correct);

    for (scope, participant, why) in [
        ("110000", 1, "a participant of a neighbour"),
        ("130102", 3, "a participant of the neighbouring county"),
        (WHOLE_CAMPAIGN, 99, "no such participant"),
    ] {
        let found = store
            .participant_attempts(C, &named(scope), participant)
            .await
            .expect("a lookup");
        assert_eq!(found, None, "{why}");
    }
    let none = store
        .participant_attempts(C, &named("130102"), 7)
        .await
        .expect("a lookup");
    assert_eq!(none, Some(vec![]), "registered without attempts");
}
on_both!(a_participants_attempts_show_answers_in_the_banks_order);

fn day(day: i32, participants: i64, attempts: i64, points: i64, full_marks: i64) -> DayFigures {
    DayFigures {
        day,
        participants,
        attempts,
        points,
        full_marks,
    }
}

async fn the_daily_series_has_every_day_of_the_range(database: Database) {
    let (store, _dir) = store_with_record(database).await;

    let campaign = store
        .daily_series(C, &named(WHOLE_CAMPAIGN), D0 - 1, D2 + 1)
        .await
        .expect("a series");
    let city = store
        .daily_series(C, &named("130100"), D0 - 1, D2 + 1)
        .await
        .expect("a series");
    let one_day = store
        .daily_series(C, &named("130000"), D1, D1)
        .await
        .expect("a series");

    assert_eq!(
        campaign,
        [
            day(D0 - 1, 1, 1, 2, 1),
            day(D0, 4, 4, 4, 2),
            day(D1, 3, 3, 4, 1),
            day(D2, 2, 2, 2, 1),
            day(D2 + 1, 0, 0, 0, 0),
        ]
    );
    assert_eq!(
        city,
        [
            day(D0 - 1, 1, 1, 2, 1),
            day(D0, 3, 3, 2, 1),
            day(D1, 2, 2, 2, 0),
            day(D2, 1, 1, 2, 1),
            day(D2 + 1, 0, 0, 0, 0),
        ]
    );
    assert_eq!(one_day, [day(D1, 3, 3, 4, 1)]);
}
on_both!(the_daily_series_has_every_day_of_the_range);

async fn day_ranges_must_be_ordered_and_bounded(database: Database) {
    let (store, _dir) = store_with_record(database).await;

    let backwards = store.daily_series(C, &named(WHOLE_CAMPAIGN), D1, D0).await;
    let too_long = store.unit_figures(C, &named(WHOLE_CAMPAIGN), 0, 366).await;
    let longest = store.daily_series(C, &named(WHOLE_CAMPAIGN), 0, 365).await;

    assert!(matches!(backwards, Err(ReportError::DayRange { .. })));
    assert!(matches!(too_long, Err(ReportError::DayRange { .. })));
    assert_eq!(longest.expect("366 days are allowed").len(), 366);
}
on_both!(day_ranges_must_be_ordered_and_bounded);

fn figure(
    unit: &str,
    name: &str,
    headcount: Option<i64>,
    p: i64,
    a: i64,
    pts: i64,
    full: i64,
) -> UnitFigure {
    UnitFigure {
        unit_id: unit.to_owned(),
        name: name.to_owned(),
        kind: String::new(),
        headcount,
        participants: p,
        attempts: a,
        points: pts,
        full_marks: full,
    }
}

/// The figure without its kind, which the cases do not spell.
fn kindless(mut figure: UnitFigure) -> UnitFigure {
    figure.kind = String::new();
    figure
}

async fn unit_figures_roll_children_up_over_their_subtrees(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    store
        .set_headcounts(
            C,
            &named("130000"),
            &[("130100", Some(10)), ("130000", Some(100))],
        )
        .await
        .expect("headcounts");

    let province = store
        .unit_figures(C, &named("130000"), D0, D2)
        .await
        .expect("figures");
    let campaign = store
        .unit_figures(C, &named(WHOLE_CAMPAIGN), D0, D2)
        .await
        .expect("figures");
    let county = store
        .unit_figures(C, &named("130104"), D0, D2)
        .await
        .expect("figures");
    let last_day = store
        .unit_figures(C, &named("130000"), D2, D2)
        .await
        .expect("figures");

    assert_eq!(province.total.kind, "province");
    assert_eq!(
        kindless(province.total.clone()),
        figure("130000", "河北省", Some(100), 5, 7, 8, 3)
    );
    assert_eq!(
        province
            .children
            .into_iter()
            .map(kindless)
            .collect::<Vec<_>>(),
        [
            figure("130100", "石家庄市", Some(10), 4, 6, 6, 2),
            figure("130200", "唐山市", None, 1, 1, 2, 1),
        ],
        "A10 of day D-1 is outside the range"
    );
    assert_eq!(
        kindless(campaign.total.clone()),
        figure(WHOLE_CAMPAIGN, "", None, 7, 9, 10, 4),
        "no headcount for the campaign unless every root has one"
    );
    assert_eq!(
        campaign
            .children
            .into_iter()
            .map(kindless)
            .collect::<Vec<_>>(),
        [
            figure("110000", "北京市", None, 1, 1, 2, 1),
            figure("130000", "河北省", Some(100), 5, 7, 8, 3),
            figure("CE", "中央企业", None, 1, 1, 0, 0),
        ]
    );
    assert!(county.children.is_empty(), "a leaf has no children");
    assert_eq!(
        kindless(county.total),
        figure("130104", "桥西区", None, 2, 2, 1, 0)
    );
    assert_eq!(
        last_day
            .children
            .into_iter()
            .map(kindless)
            .collect::<Vec<_>>(),
        [
            figure("130100", "石家庄市", Some(10), 1, 1, 2, 1),
            figure("130200", "唐山市", None, 0, 0, 0, 0),
        ],
        "a child without attempts is listed with zeros"
    );
}
on_both!(unit_figures_roll_children_up_over_their_subtrees);

#[test]
fn averages_and_rates_need_attempts_and_a_headcount() {
    let city = figure("130100", "石家庄市", Some(10), 4, 6, 6, 2);
    let unknown = figure("130200", "唐山市", None, 1, 1, 2, 1);
    let idle = figure("130300", "", Some(0), 0, 0, 0, 0);

    assert_eq!(city.average_points(), Some(1.0));
    assert_eq!(city.participation_rate(), Some(0.4));
    assert_eq!(unknown.participation_rate(), None, "no headcount");
    assert_eq!(idle.average_points(), None, "no attempts");
    assert_eq!(idle.participation_rate(), None, "a zero headcount");
}

async fn headcounts_are_set_all_or_nothing_within_the_scope(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let read = |scope: &'static str| {
        let store = store.clone();
        async move {
            store
                .headcounts(C, &named(scope))
                .await
                .expect("headcounts")
                .into_iter()
                .map(|u| (u.unit_id, u.headcount))
                .collect::<Vec<_>>()
        }
    };
    store
        .set_headcounts(
            C,
            &named("130100"),
            &[
                ("130102".to_owned(), Some(40)),
                ("130104".to_owned(), Some(60)),
            ],
        )
        .await
        .expect("counties of the city");

    let outside = store
        .set_headcounts(
            C,
            &named("130100"),
            &[
                ("130102", Some(1)),
                ("130203", Some(5)),
                ("nowhere", Some(5)),
            ],
        )
        .await;
    let negative = store
        .set_headcounts(C, &named("130100"), &[("130102", Some(-1))])
        .await;

    assert!(
        matches!(&outside, Err(ReportError::UnknownUnits(u)) if u == &["130203", "nowhere"]),
        "{outside:?}"
    );
    assert!(matches!(negative, Err(ReportError::NegativeHeadcount(_))));
    assert_eq!(
        read("130100").await,
        [
            ("130100".to_owned(), None),
            ("130102".to_owned(), Some(40)),
            ("130104".to_owned(), Some(60)),
        ],
        "nothing of a refused list is written; by depth, then id"
    );

    store
        .set_headcounts(
            C,
            &named(WHOLE_CAMPAIGN),
            &[("130104", None), ("CE001", Some(7))],
        )
        .await
        .expect("the whole campaign may set any unit");
    store
        .sync_units(C, &units())
        .await
        .expect("a sync at start");

    let campaign = read(WHOLE_CAMPAIGN).await;
    assert_eq!(campaign.len(), 10);
    assert!(campaign.contains(&("130104".to_owned(), None)), "cleared");
    assert!(
        campaign.contains(&("130102".to_owned(), Some(40))),
        "kept by a sync"
    );
    assert!(campaign.contains(&("CE001".to_owned(), Some(7))));
}
on_both!(headcounts_are_set_all_or_nothing_within_the_scope);

async fn question_stats_report_wrong_answers_in_the_banks_order(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let set = |options: &[usize]| options.iter().fold(Choices::NONE, |s, &o| s.with(o));

    let stats = store
        .question_stats(C, &named(WHOLE_CAMPAIGN), D0, D2)
        .await
        .expect("stats");
    let city = store
        .question_stats(C, &named("130100"), D0, D0)
        .await
        .expect("stats");

    let summary: Vec<_> = stats
        .iter()
        .map(|s| {
            (
                s.question_id.as_str(),
                s.drawn,
                s.answered,
                s.correct,
                s.option_counts.clone(),
                s.most_chosen_wrong,
            )
        })
        .collect();
    let wrong = |options: &[usize], count| {
        Some(WrongAnswer {
            chosen: set(options),
            count,
        })
    };
    assert_eq!(
        summary,
        [
            ("qa", 9, 8, 4, vec![4, 3, 1, 0], wrong(&[1], 3)),
            ("qb", 6, 6, 4, vec![6, 1, 4, 0], wrong(&[0], 1)),
            ("qc", 3, 3, 2, vec![1, 2], wrong(&[0], 1)),
        ],
        "qb's two wrong answers tie; the smaller set is reported"
    );
    assert!((stats[0].share_correct() - 4.0 / 9.0).abs() < 1e-12);

    // Day D0 in the city: A1 (p1), A3 (p2), A4 (p3).
    let summary: Vec<_> = city
        .iter()
        .map(|s| {
            (
                s.question_id.as_str(),
                s.drawn,
                s.answered,
                s.correct,
                s.most_chosen_wrong,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("qa", 3, 2, 1, wrong(&[2], 1)),
            ("qb", 2, 2, 1, wrong(&[0], 1)),
            ("qc", 1, 1, 0, wrong(&[0], 1)),
        ]
    );
}
on_both!(question_stats_report_wrong_answers_in_the_banks_order);

async fn full_marks_are_counted_as_the_record_marks_them(database: Database) {
    let (store, _dir) = safequiz_testkit::fresh_store(database).await;
    store.sync_units(C, &units()).await.expect("units");
    let (a, b) = (QA, QB);
    let questions = [
        q(a.0, &[0, 1, 2, 3], a.1, &[0]),
        q(b.0, &[0, 1, 2, 3], b.1, &[0, 2]),
    ];
    // The column, written by the flusher from the domain's rule, is what reports count: here it
    // is set against what the answers say, so a report deciding the rule again would disagree.
    let mut marked = attempt(1, 1, "130102", D0, 30_000, &questions[..1]);
    marked.correct = 0;
    marked.full_marks = true;
    let mut unmarked = attempt(1, 2, "130102", D0, 30_000, &questions);
    unmarked.full_marks = false;
    store
        .insert_batch(&[
            RecordRow::Participant(participant(1, "张三", "138****1234", "130102")),
            RecordRow::Attempt(marked),
            RecordRow::Attempt(unmarked),
        ])
        .await
        .expect("insert");
    let everything = named(WHOLE_CAMPAIGN);

    let daily = store
        .daily_series(C, &everything, D0, D0)
        .await
        .expect("series");
    let figures = store
        .unit_figures(C, &everything, D0, D0)
        .await
        .expect("figures");
    let page = store
        .participants_page(C, &everything, &ParticipantFilter::default(), 10, None)
        .await
        .expect("page")
        .items;

    assert_eq!(daily[0].full_marks, 1, "the daily series");
    assert_eq!(figures.total.full_marks, 1, "the scope's total");
    let hebei = figures
        .children
        .iter()
        .find(|c| c.unit_id == "130000")
        .expect("a root");
    assert_eq!(hebei.full_marks, 1, "a child's figures");
    assert_eq!(page[0].full_marks, 1, "a participant's totals");
}
on_both!(full_marks_are_counted_as_the_record_marks_them);
