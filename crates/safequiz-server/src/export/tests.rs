//! The CSV rules cell by cell, chunking, and XLSX sheets past the row limit.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use futures_util::StreamExt;
use jiff::civil::date;

use super::*;

fn csv_line(row: &[Cell]) -> String {
    let mut out = Vec::new();
    write_csv_row(&mut out, row);
    String::from_utf8(out).expect("CSV is UTF-8")
}

#[test]
fn csv_cells_follow_the_rules_for_excel_and_wps() {
    let text = |t: &str| Cell::Text(t.to_owned());
    let code = |c: &str| Cell::Code(c.to_owned());
    let cases: Vec<(Cell, &str, &str)> = vec![
        (text("张三"), "张三", "Chinese text as is"),
        (text("a,b"), r#""a,b""#, "a comma is quoted"),
        (text(r#"say "hi""#), r#""say ""hi""""#, "quotes are doubled"),
        (
            text("two\nlines"),
            "\"two\nlines\"",
            "a line break is quoted",
        ),
        (text("=1+1"), "'=1+1", "a formula is neutralized"),
        (
            text("+8613800000000"),
            "'+8613800000000",
            "a plus sign is neutralized",
        ),
        (text("-5"), "'-5", "a minus sign is neutralized"),
        (text("@SUM(A1)"), "'@SUM(A1)", "an at sign is neutralized"),
        (text("\tcmd"), "'\tcmd", "a tab is neutralized"),
        (
            text(r#"=HYPERLINK("http://x","点我")"#),
            r#""'=HYPERLINK(""http://x"",""点我"")""#,
            "neutralized and quoted",
        ),
        (
            text("13812345678"),
            r#""=""13812345678""""#,
            "11 digits stay text",
        ),
        (text("0123"), r#""=""0123""""#, "a leading zero stays"),
        (
            text("12345"),
            "12345",
            "a short number in text is left alone",
        ),
        (text("0"), "0", "a lone zero is left alone"),
        (text(""), "", "empty text"),
        (
            code("110101"),
            r#""=""110101""""#,
            "a digit code stays text",
        ),
        (
            code("911100001234567890"),
            r#""=""911100001234567890""""#,
            "an 18-digit credit code is never in scientific notation",
        ),
        (
            code("007"),
            r#""=""007""""#,
            "a code keeps its leading zeros",
        ),
        (
            code("1E5"),
            r#""=""1E5""""#,
            "a code Excel would read as 100000",
        ),
        (
            code("2026-06"),
            r#""=""2026-06""""#,
            "a code Excel would read as a date",
        ),
        (
            code("-1"),
            r#""=""-1""""#,
            "a literal in a formula computes nothing",
        ),
        (
            code("91350100M000100Y43"),
            "91350100M000100Y43",
            "a code with letters is text",
        ),
        (code("138****1234"), "138****1234", "a masked phone is text"),
        (code("CE001"), "CE001", "a letter code"),
        (
            code("=cmd|' /C calc'!A0"),
            "'=cmd|' /C calc'!A0",
            "a code is neutralized too",
        ),
        (Cell::Integer(-5), "-5", "numbers are never prefixed"),
        (
            Cell::Integer(1_234_567),
            "1234567",
            "no thousands separator",
        ),
        (Cell::Decimal(80.1234, 3), "80.123", "decimal places"),
        (Cell::Decimal(2.0 / 3.0, 2), "0.67", "rounded"),
        (Cell::Decimal(f64::NAN, 2), "", "not a number is empty"),
        (
            Cell::Percent(0.4),
            "40.00%",
            "a percentage Excel reads as 0.4",
        ),
        (
            Cell::DateTime(date(2026, 6, 10).at(9, 5, 7, 0)),
            "2026-06-10 09:05:07",
            "a local time",
        ),
        (Cell::Date(date(2026, 6, 10)), "2026-06-10", "a date"),
        (Cell::Empty, "", "nothing"),
    ];
    for (cell, expected, why) in cases {
        assert_eq!(csv_line(&[cell]), format!("{expected}\r\n"), "{why}");
    }
    assert_eq!(
        csv_line(&[Cell::Integer(1), Cell::Empty, Cell::Text("x".into())]),
        "1,,x\r\n",
        "fields are separated by commas, lines end in CRLF"
    );
}

#[test]
fn day_numbers_are_dates_and_instants_local_times() {
    let shanghai = TimeZone::get("Asia/Shanghai").expect("the zone");
    let day = safequiz_domain::calendar::day_number(date(2026, 6, 10));

    assert_eq!(day, 20_614);
    assert_eq!(Cell::day(day), Cell::Date(date(2026, 6, 10)));
    assert_eq!(Cell::day(i32::MAX), Cell::Empty, "out of range");
    assert_eq!(
        Cell::local_time(1_781_053_507_000, &shanghai),
        Cell::DateTime(date(2026, 6, 10).at(9, 5, 7, 0)),
        "01:05:07 UTC is 09:05:07 in Beijing"
    );
}

fn numbered_rows(count: usize) -> Vec<Result<Row, std::io::Error>> {
    (0..count)
        .map(|n| {
            Ok(vec![
                Cell::Integer(n as i64),
                Cell::Text(format!("参与者{n:05}，来自某某单位")),
                Cell::Code(format!("{n:018}")),
            ])
        })
        .collect()
}

const NUMBERED: Layout = Layout {
    sheet: "测试",
    headers: &["编号", "姓名", "代码"],
};

#[tokio::test]
async fn csv_chunks_carry_the_bom_and_header_then_about_64_kib_each() {
    let rows = numbered_rows(5_000);
    let mut expected = b"\xEF\xBB\xBF".to_vec();
    write_csv_header(&mut expected, NUMBERED);
    for row in &rows {
        write_csv_row(&mut expected, row.as_ref().expect("a row"));
    }

    let chunks: Vec<Bytes> = csv_chunks(NUMBERED, futures_util::stream::iter(rows))
        .map(|chunk| chunk.expect("no error"))
        .collect()
        .await;

    assert!(chunks.len() > 3, "{} chunks", chunks.len());
    let (last, full) = chunks.split_last().expect("chunks");
    for chunk in full {
        assert!(
            (CHUNK_BYTES..CHUNK_BYTES + 200).contains(&chunk.len()),
            "a chunk is sent once it reaches 64 KiB: {}",
            chunk.len()
        );
    }
    assert!(!last.is_empty() && last.len() < CHUNK_BYTES + 200);
    assert_eq!(chunks.concat(), expected, "nothing lost, nothing reordered");
    assert!(expected.starts_with("\u{FEFF}编号,姓名,代码\r\n".as_bytes()));
}

#[tokio::test]
async fn an_empty_table_is_the_header_alone() {
    let rows = futures_util::stream::iter(Vec::<Result<Row, std::io::Error>>::new());

    let chunks: Vec<_> = csv_chunks(NUMBERED, rows).collect().await;

    assert_eq!(chunks.len(), 1);
    let chunk = chunks[0].as_ref().expect("the header");
    assert_eq!(chunk.as_ref(), "\u{FEFF}编号,姓名,代码\r\n".as_bytes());
}

#[tokio::test]
async fn an_error_ends_the_csv_stream_with_that_error() {
    let mut rows = numbered_rows(3);
    rows.push(Err(std::io::Error::other("the database went away")));
    rows.extend(numbered_rows(3));

    let chunks: Vec<_> = csv_chunks(NUMBERED, futures_util::stream::iter(rows))
        .collect()
        .await;

    assert_eq!(chunks.len(), 1, "the error, and nothing after it");
    assert!(chunks[0].is_err(), "no partial file passes for a whole one");
}

#[test]
fn rows_past_a_sheets_limit_continue_on_another_sheet_with_the_header() {
    let mut out = Cursor::new(Vec::new());

    let written = write_sheets(NUMBERED, numbered_rows(7), &mut out, 3).expect("written");

    assert_eq!(written, 7);
    out.set_position(0);
    let mut workbook: Xlsx<_> = Xlsx::new(out).expect("a workbook");
    assert_eq!(workbook.sheet_names(), ["测试", "测试2", "测试3"]);
    let mut ids = Vec::new();
    for name in ["测试", "测试2", "测试3"] {
        let range = workbook.worksheet_range(name).expect("a sheet");
        let mut rows = range.rows();
        let header: Vec<String> = rows
            .next()
            .expect("a header")
            .iter()
            .map(|cell| cell.to_string())
            .collect();
        assert_eq!(header, ["编号", "姓名", "代码"], "sheet {name}");
        for row in rows {
            ids.push(row[0].clone());
            assert_eq!(
                row[2],
                Data::String(format!("{:018}", ids.len() - 1)),
                "a code stays text"
            );
        }
    }
    assert_eq!(
        ids,
        (0..7).map(|n| Data::Float(n as f64)).collect::<Vec<_>>(),
        "every row once, in order"
    );
}

#[tokio::test]
async fn a_failing_row_stops_the_spreadsheet_with_its_error() {
    let mut rows = numbered_rows(3);
    rows.push(Err(std::io::Error::other("the database went away")));

    let written = xlsx_file(NUMBERED, futures_util::stream::iter(rows)).await;

    assert!(matches!(written, Err(ExportError::Rows(_))), "{written:?}");
}
