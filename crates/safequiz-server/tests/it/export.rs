//! Exports checked cell by cell against the SQL record, as CSV and as XLSX, on SQLite and on
//! PostgreSQL: Chinese names, codes that must stay text (a leading zero, an 18-digit credit
//! code), names that try formula injection, and a scope that exports only its own subtree.

use std::collections::HashMap;
use std::io::BufReader;

use calamine::{Data, Reader, Xlsx};
use futures_util::StreamExt;
use jiff::Timestamp;
use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;
use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN};
use safequiz_domain::score::is_full_marks;
use safequiz_server::export::{self, Cell, DAILY_SERIES, Layout, PARTICIPANTS, Row, UNIT_FIGURES};
use safequiz_sql::Store;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
use safequiz_sql::reports::ParticipantFilter;
use safequiz_sql::units::UnitRecord;
use safequiz_testapp::{Database, on_both};
use tempfile::TempDir;

const C: &str = "c1";
const D0: i32 = 20_614;
/// 2026-06-10 08:00 in Beijing.
const MORNING_MS: i64 = 1_781_049_600_000;

const PROVINCE: &str = "0100";
const COUNTY: &str = "010101";
const CREDIT_CODE: &str = "911100001234567890";

const INJECTION: &str = r#"=HYPERLINK("http://evil.example","点我")"#;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("the zone")
}

async fn store_with_record(database: Database) -> (Store, TempDir) {
    let (store, dir) = safequiz_testapp::fresh_store(database).await;
    let unit = |id: &str, parent: Option<&str>, name: &str, entry: &str, depth| UnitRecord {
        unit_id: id.to_owned(),
        parent_id: parent.map(str::to_owned),
        name: name.to_owned(),
        kind: "unit".to_owned(),
        entry_id: entry.to_owned(),
        depth,
    };
    store
        .sync_units(
            C,
            &[
                unit(PROVINCE, None, "测试省", "region", 0),
                unit(COUNTY, Some(PROVINCE), "甲县", "region", 1),
                unit(CREDIT_CODE, None, "某某集团有限公司", "enterprise", 0),
            ],
        )
        .await
        .expect("units");
    store
        .set_headcounts(
            C,
            &Scope::WholeCampaign,
            &[(PROVINCE, Some(8)), (CREDIT_CODE, Some(3))],
        )
        .await
        .expect("headcounts");

    let participant = |id: i64, name: &str, phone: &str, unit: &str| {
        RecordRow::Participant(ParticipantRow {
            campaign_id: C.to_owned(),
            participant_id: id,
            name: name.to_owned(),
            phone_masked: phone.to_owned(),
            phone_hash: format!("{id:064x}"),
            unit_id: unit.to_owned(),
            registered_at_ms: MORNING_MS - 86_400_000 + id * 61_001,
            consent: None,
            phone_sealed: None,
        })
    };
    let attempt = |id: i64, n: i64, unit: &str, day: i32, correct: i32, used_ms: i64| {
        let started_at_ms = MORNING_MS + i64::from(day - D0) * 86_400_000 + id * 1_000_003 + n;
        RecordRow::Attempt(AttemptRow {
            campaign_id: C.to_owned(),
            attempt_id: format!("{id}-{n}"),
            participant_id: id,
            unit_id: unit.to_owned(),
            day,
            started_at_ms,
            deadline_ms: started_at_ms + 150_000,
            finished_at_ms: started_at_ms + used_ms,
            time_used_ms: used_ms,
            points: correct,
            correct,
            auto_submitted: false,
            // Both questions below.
            full_marks: is_full_marks(correct as u32, 2),
            questions: concat!(
                r#"[{"id": "q1", "order": [0, 1], "key": 1, "chosen": 1}, "#,
                r#"{"id": "q2", "order": [1, 0], "key": 2, "chosen": 2}]"#
            )
            .to_owned(),
        })
    };
    let rows = vec![
        participant(1, "张三", "138****1234", COUNTY),
        participant(2, INJECTION, "139****0000", COUNTY),
        participant(3, "-李四", "137****5678", CREDIT_CODE),
        participant(4, "@王五", "136****0001", PROVINCE),
        participant(5, "欧阳,娜娜", "135****2222", CREDIT_CODE),
        participant(6, "0123", "134****3333", COUNTY),
        participant(7, "+赵六", "133****4444", COUNTY),
        attempt(1, 1, COUNTY, D0, 2, 61_234),
        attempt(1, 2, COUNTY, D0 + 1, 1, 30_500),
        attempt(2, 1, COUNTY, D0, 2, 99_999),
        attempt(3, 1, CREDIT_CODE, D0, 0, 150_000),
        attempt(4, 1, PROVINCE, D0 + 1, 2, 12_001),
        attempt(5, 1, CREDIT_CODE, D0 + 1, 1, 45_000),
        attempt(6, 1, COUNTY, D0, 2, 61_234),
    ];
    store.insert_batch(&rows).await.expect("insert");
    (store, dir)
}

/// What the record says about a participant, computed here from the raw rows.
struct Expected {
    id: i64,
    name: String,
    phone: String,
    unit_id: String,
    unit_name: String,
    attempts: i64,
    points: i64,
    full_marks: i64,
    time_used_ms: i64,
    last_finished_ms: Option<i64>,
    registered_ms: i64,
}

/// The participants of `scope` (the whole campaign, or one unit without children) in export
/// order, from the record's own readers.
async fn expected(store: &Store, scope: Option<&str>) -> Vec<Expected> {
    let units: HashMap<String, String> = store
        .units(C)
        .await
        .expect("units")
        .into_iter()
        .map(|u| (u.unit_id, u.name))
        .collect();
    let attempts = store.attempts(C).await.expect("attempts");
    let mut rows: Vec<Expected> = store
        .participants(C)
        .await
        .expect("participants")
        .into_iter()
        .filter(|p| scope.is_none_or(|unit| p.unit_id == unit))
        .map(|p| {
            let mine: Vec<&AttemptRow> = attempts
                .iter()
                .filter(|a| a.participant_id == p.participant_id)
                .collect();
            let questions = |a: &AttemptRow| {
                serde_json::from_str::<Vec<serde_json::Value>>(&a.questions)
                    .expect("questions")
                    .len() as i32
            };
            Expected {
                id: p.participant_id,
                unit_name: units[&p.unit_id].clone(),
                name: p.name,
                phone: p.phone_masked,
                unit_id: p.unit_id,
                attempts: mine.len() as i64,
                points: mine.iter().map(|a| i64::from(a.points)).sum(),
                full_marks: mine.iter().filter(|a| a.correct == questions(a)).count() as i64,
                time_used_ms: mine.iter().map(|a| a.time_used_ms).sum(),
                last_finished_ms: mine.iter().map(|a| a.finished_at_ms).max(),
                registered_ms: p.registered_at_ms,
            }
        })
        .collect();
    rows.sort_by_key(|e| (-e.points, e.time_used_ms, e.id));
    rows
}

fn local(ms: i64) -> DateTime {
    shanghai().to_datetime(Timestamp::from_millisecond(ms).expect("an instant"))
}

fn local_text(ms: i64) -> String {
    local(ms).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Excel's serial number of a local time: days since 1899-12-30 and the fraction of the day.
fn excel_serial(at: DateTime) -> f64 {
    let days = (at.date() - date(1899, 12, 30)).get_days();
    let seconds =
        i32::from(at.hour()) * 3600 + i32::from(at.minute()) * 60 + i32::from(at.second());
    f64::from(days) + f64::from(seconds) / 86_400.0
}

/// How a CSV field keeps its text when Excel opens it.
#[derive(Debug, PartialEq, Eq)]
enum Kept {
    /// As is.
    Plain,
    /// As the formula `="..."`, whose value is the text.
    Formula,
    /// Behind a `'`, so that it is not a formula.
    Neutralized,
}

fn unwrap_field(field: &str) -> (String, Kept) {
    if let Some(inner) = field.strip_prefix("=\"").and_then(|f| f.strip_suffix('"')) {
        (inner.to_owned(), Kept::Formula)
    } else if let Some(rest) = field.strip_prefix('\'') {
        (rest.to_owned(), Kept::Neutralized)
    } else {
        (field.to_owned(), Kept::Plain)
    }
}

fn name_kept(name: &str) -> Kept {
    if name.starts_with(['=', '+', '-', '@']) {
        Kept::Neutralized
    } else if name == "0123" {
        Kept::Formula
    } else {
        Kept::Plain
    }
}

async fn csv_of<S, E>(layout: Layout, rows: S) -> Vec<csv::StringRecord>
where
    S: futures_util::Stream<Item = Result<Row, E>>,
    E: std::fmt::Debug,
{
    let bytes: Vec<u8> = export::csv_chunks(layout, rows)
        .map(|chunk| chunk.expect("a chunk").to_vec())
        .collect::<Vec<_>>()
        .await
        .concat();
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let body = text
        .strip_prefix('\u{FEFF}')
        .expect("a byte-order mark first");
    assert!(body.ends_with("\r\n"));
    assert_eq!(
        body.matches('\n').count(),
        body.matches("\r\n").count(),
        "every line ends in CRLF"
    );
    let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|record| record.expect("RFC 4180"))
        .collect();
    assert_eq!(
        records[0].iter().collect::<Vec<_>>(),
        layout.headers,
        "the header"
    );
    records
}

async fn sheet_of<S, E>(layout: Layout, rows: S) -> Vec<Vec<Data>>
where
    S: futures_util::Stream<Item = Result<Row, E>>,
    E: Into<export::BoxError>,
{
    let (file, _) = export::xlsx_file(layout, rows).await.expect("a workbook");
    let mut workbook: Xlsx<_> = Xlsx::new(BufReader::new(file)).expect("an XLSX file");
    assert_eq!(workbook.sheet_names(), [layout.sheet]);
    let range = workbook.worksheet_range(layout.sheet).expect("the sheet");
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    let header: Vec<Data> = layout
        .headers
        .iter()
        .map(|h| Data::String((*h).to_owned()))
        .collect();
    assert_eq!(rows[0], header, "the header");
    rows
}

fn participant_rows(
    store: &Store,
    scope: &str,
) -> impl futures_util::Stream<Item = Result<Row, safequiz_sql::StoreError>> + use<> {
    export::participant_rows(
        store.clone(),
        C.to_owned(),
        scope.parse().expect("a scope"),
        ParticipantFilter::default(),
        shanghai(),
    )
}

async fn the_participant_csv_matches_the_record_cell_by_cell(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let expected = expected(&store, None).await;

    let records = csv_of(PARTICIPANTS, participant_rows(&store, WHOLE_CAMPAIGN)).await;

    assert_eq!(
        records.len(),
        expected.len() + 1,
        "one line per participant"
    );
    for (record, e) in records[1..].iter().zip(&expected) {
        let field = |i: usize| record.get(i).expect("a field");
        let who = format!("participant {}", e.id);
        assert_eq!(field(0), e.id.to_string(), "{who}");
        assert_eq!(
            unwrap_field(field(1)),
            (e.name.clone(), name_kept(&e.name)),
            "{who}"
        );
        assert_eq!(
            unwrap_field(field(2)),
            (e.phone.clone(), Kept::Plain),
            "{who}"
        );
        assert_eq!(
            unwrap_field(field(3)),
            (e.unit_name.clone(), Kept::Plain),
            "{who}"
        );
        assert_eq!(
            unwrap_field(field(4)),
            (e.unit_id.clone(), Kept::Formula),
            "{who}: a digit code stays text, leading zeros and all 18 digits"
        );
        assert_eq!(field(5), e.attempts.to_string(), "{who}");
        assert_eq!(field(6), e.points.to_string(), "{who}");
        assert_eq!(field(7), e.full_marks.to_string(), "{who}");
        assert_eq!(
            field(8),
            format!("{:.3}", e.time_used_ms as f64 / 1000.0),
            "{who}"
        );
        assert_eq!(
            field(9),
            e.last_finished_ms.map(local_text).unwrap_or_default(),
            "{who}"
        );
        assert_eq!(field(10), local_text(e.registered_ms), "{who}");
    }
    assert_eq!(
        records[1..]
            .iter()
            .map(|r| r[0].to_owned())
            .collect::<Vec<_>>(),
        ["1", "4", "6", "2", "5", "7", "3"],
        "best first: points, then less time, then id"
    );
}

async fn the_participant_xlsx_matches_the_record_cell_by_cell(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let expected = expected(&store, None).await;

    let rows = sheet_of(PARTICIPANTS, participant_rows(&store, WHOLE_CAMPAIGN)).await;

    assert_eq!(rows.len(), expected.len() + 1, "one row per participant");
    let text = |t: &str| Data::String(t.to_owned());
    for (row, e) in rows[1..].iter().zip(&expected) {
        let who = format!("participant {}", e.id);
        assert_eq!(row[0], Data::Float(e.id as f64), "{who}");
        assert_eq!(
            row[1],
            text(&e.name),
            "{who}: strings need no neutralizing in XLSX"
        );
        assert_eq!(row[2], text(&e.phone), "{who}");
        assert_eq!(row[3], text(&e.unit_name), "{who}");
        assert_eq!(row[4], text(&e.unit_id), "{who}: a code is a string");
        assert_eq!(row[5], Data::Float(e.attempts as f64), "{who}");
        assert_eq!(row[6], Data::Float(e.points as f64), "{who}");
        assert_eq!(row[7], Data::Float(e.full_marks as f64), "{who}");
        assert_eq!(row[8], Data::Float(e.time_used_ms as f64 / 1000.0), "{who}");
        match (e.last_finished_ms, &row[9]) {
            (None, Data::Empty) => {}
            (Some(ms), Data::DateTime(at)) => {
                assert!(
                    (at.as_f64() - excel_serial(local(ms))).abs() < 1e-6,
                    "{who}"
                );
            }
            (wanted, found) => panic!("{who}: last finish {wanted:?}, found {found:?}"),
        }
        let Data::DateTime(registered) = &row[10] else {
            panic!("{who}: registration is a date and time: {:?}", row[10]);
        };
        assert!((registered.as_f64() - excel_serial(local(e.registered_ms))).abs() < 1e-6);
    }
}

async fn a_county_exports_only_its_own_participants(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let county = expected(&store, Some(COUNTY)).await;

    let records = csv_of(PARTICIPANTS, participant_rows(&store, COUNTY)).await;
    let rows = sheet_of(PARTICIPANTS, participant_rows(&store, COUNTY)).await;

    let ids: Vec<String> = county.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids, ["1", "6", "2", "7"]);
    assert_eq!(
        records[1..]
            .iter()
            .map(|r| r[0].to_owned())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        rows[1..]
            .iter()
            .map(|r| r[0].to_string())
            .collect::<Vec<_>>(),
        ids
    );
}

async fn unit_figures_and_the_daily_series_export_their_figures(database: Database) {
    let (store, _dir) = store_with_record(database).await;
    let figures = store
        .unit_figures(C, &Scope::WholeCampaign, D0, D0 + 1)
        .await
        .expect("figures");
    let series = store
        .daily_series(C, &Scope::WholeCampaign, D0, D0 + 2)
        .await
        .expect("series");
    let ok =
        |rows: Vec<Row>| futures_util::stream::iter(rows.into_iter().map(Ok::<_, std::io::Error>));

    let unit_csv = csv_of(UNIT_FIGURES, ok(export::unit_figure_rows(&figures))).await;
    let unit_sheet = sheet_of(UNIT_FIGURES, ok(export::unit_figure_rows(&figures))).await;
    let day_csv = csv_of(DAILY_SERIES, ok(export::daily_rows(&series))).await;
    let day_sheet = sheet_of(DAILY_SERIES, ok(export::daily_rows(&series))).await;

    // The two roots by id (0100, then the group), then the campaign's total.
    let mut all = figures.children.clone();
    all.push(figures.total.clone());
    assert_eq!(unit_csv.len(), all.len() + 1);
    assert_eq!(unit_sheet.len(), all.len() + 1);
    for ((record, row), figure) in unit_csv[1..].iter().zip(&unit_sheet[1..]).zip(&all) {
        let who = format!("unit {}", figure.unit_id);
        let field = |i: usize| record.get(i).expect("a field");
        let is_total = figure.unit_id == WHOLE_CAMPAIGN;
        if is_total {
            assert_eq!((field(0), field(1)), ("", "合计"));
            assert_eq!(
                (&row[0], &row[1]),
                (&Data::Empty, &Data::String("合计".into()))
            );
        } else {
            assert_eq!(
                unwrap_field(field(0)),
                (figure.unit_id.clone(), Kept::Formula),
                "{who}"
            );
            assert_eq!(field(1), figure.name, "{who}");
            assert_eq!(row[0], Data::String(figure.unit_id.clone()), "{who}");
            assert_eq!(row[1], Data::String(figure.name.clone()), "{who}");
        }
        let numbers = [
            figure.participants,
            figure.attempts,
            figure.points,
            figure.full_marks,
        ];
        for (offset, number) in numbers.into_iter().enumerate() {
            assert_eq!(field(2 + offset), number.to_string(), "{who}");
            assert_eq!(row[2 + offset], Data::Float(number as f64), "{who}");
        }
        let average = figure.average_points().expect("every root has attempts");
        assert_eq!(field(6), format!("{average:.2}"), "{who}");
        assert_eq!(row[6], Data::Float(average), "{who}");
        let headcount = figure.headcount.expect("every root has a headcount");
        assert_eq!(field(7), headcount.to_string(), "{who}");
        assert_eq!(row[7], Data::Float(headcount as f64), "{who}");
        let rate = figure.participation_rate().expect("a rate");
        assert_eq!(field(8), format!("{:.2}%", rate * 100.0), "{who}");
        assert_eq!(row[8], Data::Float(rate), "{who}");
    }
    assert_eq!(
        (
            figures.total.participants,
            figures.total.attempts,
            figures.total.points
        ),
        (6, 7, 10),
        "participant 7 never answered"
    );
    assert_eq!(
        figures.total.headcount,
        Some(11),
        "the roots' headcounts summed"
    );

    assert_eq!(day_csv.len(), 4);
    assert_eq!(day_sheet.len(), 4);
    let dates = ["2026-06-10", "2026-06-11", "2026-06-12"];
    for (((record, row), day), text) in day_csv[1..]
        .iter()
        .zip(&day_sheet[1..])
        .zip(&series)
        .zip(dates)
    {
        assert_eq!(&record[0], text);
        let Data::DateTime(at) = &row[0] else {
            panic!("a date: {:?}", row[0]);
        };
        let midnight = DateTime::from(text.parse::<jiff::civil::Date>().expect("a date"));
        assert!((at.as_f64() - excel_serial(midnight)).abs() < 1e-9);
        let numbers = [day.participants, day.attempts, day.points, day.full_marks];
        for (offset, number) in numbers.into_iter().enumerate() {
            assert_eq!(record[1 + offset], number.to_string());
            assert_eq!(row[1 + offset], Data::Float(number as f64));
        }
    }
    assert_eq!(
        series.iter().map(|d| d.attempts).collect::<Vec<_>>(),
        [4, 3, 0],
        "a day without attempts is a row of zeros"
    );
}

#[test]
fn a_participant_row_has_a_cell_per_header() {
    assert_eq!(PARTICIPANTS.headers.len(), 11);
    let row = export::participant_row(
        safequiz_sql::reports::ParticipantSummary {
            participant_id: 1,
            name: "张三".into(),
            phone_masked: "138****1234".into(),
            unit_id: COUNTY.into(),
            unit_name: "甲县".into(),
            registered_at_ms: MORNING_MS,
            attempts: 0,
            points: 0,
            full_marks: 0,
            time_used_ms: 0,
            last_finished_at_ms: None,
        },
        &shanghai(),
    );
    assert_eq!(row.len(), PARTICIPANTS.headers.len());
    assert_eq!(row[9], Cell::Empty, "no attempt, no last finish");
}

on_both!(the_participant_csv_matches_the_record_cell_by_cell);
on_both!(the_participant_xlsx_matches_the_record_cell_by_cell);
on_both!(a_county_exports_only_its_own_participants);
on_both!(unit_figures_and_the_daily_series_export_their_figures);
